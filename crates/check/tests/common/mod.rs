//! Helpers shared by the check crate's integration tests.

use dsys_check::{History, read_history};

/// A one-key history from `P TYPE F VALUE` lines (Jepsen EDN fields), with times in ms
/// (line number * 1 ms).
pub fn history_of(lines: &str) -> History {
    let text: String = lines
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, l)| {
            let p: Vec<&str> = l.splitn(4, ' ').collect();
            format!(
                "{{:process {}, :type :{}, :f :{}, :value {}, :time {}}}\n",
                p[0],
                p[1],
                p[2],
                p[3],
                (i as u64 + 1) * 1_000_000
            )
        })
        .collect();
    match read_history(&text, None) {
        Ok(h) => h,
        Err(e) => panic!("bad test history: {e}"),
    }
}
