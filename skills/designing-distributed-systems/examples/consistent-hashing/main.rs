//! Consistent hashing: which cache node holds a user's session, and what moves when the
//! cluster grows or loses a node.
//!
//! ```text
//! cargo run -p dsys-partition --example consistent_hashing
//! ```
//!
//! 100,000 session keys on five nodes in three zones. Modulo hashing (`hash % N`) moves
//! most keys when a sixth node joins; AnchorHash moves the newcomer's share and nothing
//! else, and when a middle node dies it moves that node's keys only. Replicas land in
//! distinct zones. A ring with one point per node is badly unbalanced; a hundred points
//! per node fix it.

use dsys_partition::quality::{balance, moved};
use dsys_partition::{Anchor, Node, Nodes, PartitionError, Placement, Ring, key_hash};
use std::fmt::Write as _;

#[path = "../support/story.rs"]
mod story;

const KEYS: u64 = 100_000;

fn sessions() -> impl Iterator<Item = u64> + Clone {
    (0..KEYS).map(|i| key_hash(format!("session:{i}").as_bytes()))
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// What happened, as the example prints it.
fn narrative() -> Result<String, PartitionError> {
    let mut out = String::new();
    let five = Nodes::uniform(5, 3)?;
    let six = five.with(Node::new("node-5", "zone-2"))?;

    // Modulo hashing: the owner is the key's hash modulo the node count.
    let modulo_moved = sessions().filter(|k| k % 5 != k % 6).count() as f64 / KEYS as f64;
    let _ = writeln!(
        out,
        "modulo hashing, 5 -> 6 nodes: {} of the sessions move (a cold cache for them)",
        percent(modulo_moved)
    );

    // AnchorHash with room for growth: a join takes the newcomer's share only.
    let before = Anchor::new(five.clone(), 8)?;
    let mut after = before.clone();
    after.add(Node::new("node-5", "zone-2"))?;
    let _ = writeln!(
        out,
        "AnchorHash, 5 -> 6 nodes: {} move, the minimum is 1/6 = {}",
        percent(moved(&before, &after, sessions())),
        percent(1.0 / 6.0)
    );
    let mut failed = after.clone();
    failed.remove("node-2")?;
    let held = sessions()
        .filter(|&k| after.nodes().node(after.locate(k)).id == "node-2")
        .count() as f64
        / KEYS as f64;
    let _ = writeln!(
        out,
        "node-2 dies: {} move, exactly the {} it held",
        percent(moved(&after, &failed, sessions())),
        percent(held)
    );

    // Replicas on distinct zones, the owner first.
    let key = key_hash(b"session:42");
    let replicas: Vec<String> = after
        .replicas(key, 3)?
        .into_iter()
        .map(|i| {
            let node = after.nodes().node(i);
            format!("{} ({})", node.id, node.zone)
        })
        .collect();
    let _ = writeln!(
        out,
        "session:42 lives on {}: three zones",
        replicas.join(", ")
    );

    // Virtual nodes: balance of the most loaded node over the average.
    for vnodes in [1, 100] {
        let ring = Ring::new(six.clone(), vnodes)?;
        let _ = writeln!(
            out,
            "ring with {vnodes} point(s) per node: the busiest node holds {:.2}x the average",
            balance(&ring, sessions())
        );
    }
    Ok(out)
}

fn main() {
    story::tell(narrative());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figure after `prefix` on the line that starts with it, as a share.
    fn share(text: &str, prefix: &str) -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_default();
        let rest = &line[line.find(": ").map_or(0, |i| i + 2)..];
        let number = rest.split('%').next().unwrap_or_default();
        number.parse::<f64>().unwrap_or(f64::NAN) / 100.0
    }

    #[test]
    fn the_story_holds() {
        let text = narrative().expect("the example's node sets are valid");
        print!("{text}");
        assert!(share(&text, "modulo hashing") > 0.8, "{text}");
        let anchor = share(&text, "AnchorHash");
        assert!((anchor - 1.0 / 6.0).abs() < 0.01, "{text}");
        assert!(text.contains("three zones"), "{text}");
        assert!(text.contains("with 1 point(s)") && text.contains("with 100 point(s)"));
    }
}
