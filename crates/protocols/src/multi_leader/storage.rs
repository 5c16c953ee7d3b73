//! How a node keeps its own updates on disk, to resend them after a restart: one record
//! per update, and a reader that refuses a malformed one.

use super::*;

pub(super) fn own_key(seq: u64) -> Vec<u8> {
    crate::cluster::indexed_key(OWN_PREFIX, seq)
}

/// Stored form of one of this node's own updates.
pub(super) fn encode(u: &Update) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for x in [u.seq, u.key, u.stamp.wall] {
        out.extend_from_slice(&x.to_be_bytes());
    }
    out.extend_from_slice(&u.stamp.logical.to_be_bytes());
    let words: Vec<u64> = match &u.payload {
        Payload::Value(v) => vec![0, *v],
        Payload::Count(n) => vec![1, *n as u64],
        Payload::Elements(es) => [2, es.len() as u64]
            .into_iter()
            .chain(es.iter().copied())
            .collect(),
        Payload::CounterComponent { up, down } => vec![3, *up, *down],
        Payload::SetAdd { element, dot } => vec![4, *element, *dot],
        Payload::SetRemove { dots } => [5, dots.len() as u64]
            .into_iter()
            .chain(dots.iter().flat_map(|(n, c)| [u64::from(n.0), *c]))
            .collect(),
    };
    out.extend_from_slice(&(words.len() as u32).to_be_bytes());
    for w in words {
        out.extend_from_slice(&w.to_be_bytes());
    }
    for (node, count) in u.seen.iter() {
        out.extend_from_slice(&node.0.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
    }
    out
}

pub(super) fn decode(origin: NodeId, bytes: &[u8]) -> Option<Update> {
    let word = |i: usize| bytes.get(i..i + 8).and_then(dsys_node::decode_u64);
    let logical = u32::from_be_bytes(bytes.get(24..28)?.try_into().ok()?);
    let n = u32::from_be_bytes(bytes.get(28..32)?.try_into().ok()?) as usize;
    let words: Vec<u64> = (0..n).map(|i| word(32 + 8 * i)).collect::<Option<_>>()?;
    let payload = match words.as_slice() {
        [0, v] => Payload::Value(*v),
        [1, n] => Payload::Count(*n as i64),
        [2, len, es @ ..] if *len as usize == es.len() => Payload::Elements(es.to_vec()),
        [3, up, down] => Payload::CounterComponent {
            up: *up,
            down: *down,
        },
        [4, element, dot] => Payload::SetAdd {
            element: *element,
            dot: *dot,
        },
        [5, len, pairs @ ..] if 2 * *len as usize == pairs.len() => Payload::SetRemove {
            dots: pairs
                .chunks_exact(2)
                .map(|p| Some((NodeId(u32::try_from(p[0]).ok()?), p[1])))
                .collect::<Option<_>>()?,
        },
        _ => return None,
    };
    let rest = bytes.get(32 + 8 * n..)?;
    if rest.len() % 12 != 0 {
        return None;
    }
    let seen = rest
        .chunks_exact(12)
        .map(|c| {
            Some((
                NodeId(u32::from_be_bytes(c[..4].try_into().ok()?)),
                dsys_node::decode_u64(&c[4..])?,
            ))
        })
        .collect::<Option<VersionVector>>()?;
    Some(Update {
        origin,
        seq: word(0)?,
        key: word(8)?,
        payload,
        stamp: HlcTimestamp {
            wall: word(16)?,
            logical,
        },
        seen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(payload: Payload) -> Update {
        Update {
            origin: NodeId(2),
            seq: 7,
            key: 3,
            payload,
            stamp: HlcTimestamp {
                wall: 123,
                logical: 4,
            },
            seen: [(NodeId(0), 1), (NodeId(2), 5)].into_iter().collect(),
        }
    }

    #[test]
    fn stored_updates_decode_to_what_was_encoded() {
        for payload in [
            Payload::Value(9),
            Payload::Count(-12),
            Payload::Elements(vec![1, 5, 8]),
            Payload::Elements(Vec::new()),
            Payload::CounterComponent { up: 10, down: 3 },
            Payload::SetAdd {
                element: 44,
                dot: 2,
            },
            Payload::SetRemove {
                dots: vec![(NodeId(1), 3), (NodeId(4), 1)],
            },
            Payload::SetRemove { dots: Vec::new() },
        ] {
            let u = update(payload);
            assert_eq!(decode(NodeId(2), &encode(&u)), Some(u));
        }
    }

    #[test]
    fn malformed_stored_updates_are_rejected() {
        let bytes = encode(&update(Payload::Elements(vec![1, 2])));
        for cut in 0..bytes.len() {
            let truncated = &bytes[..cut];
            // A cut inside the version vector can still parse only at an entry boundary,
            // and then it is a different, shorter vector: never a panic.
            if let Some(u) = decode(NodeId(2), truncated) {
                assert!(u.seen.iter().count() < 2, "cut {cut}");
            }
        }
        let mut bad_tag = encode(&update(Payload::Value(1)));
        bad_tag[32..40].copy_from_slice(&9u64.to_be_bytes());
        assert_eq!(decode(NodeId(2), &bad_tag), None);
    }
}
