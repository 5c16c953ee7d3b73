//! Every reader and check on arbitrary and mangled input: an error or a verdict, never a
//! panic. (The same entry point is fuzzed with libFuzzer: see `fuzz/` and
//! `scripts/fuzz.sh`.)

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_check::robustness::read_and_check;
use dsys_check::{InputFormat, ReadError, read_history};
use proptest::prelude::*;

const FORMATS: [InputFormat; 3] = [
    InputFormat::Dsys,
    InputFormat::JepsenEdn,
    InputFormat::JepsenLog,
];

/// Valid lines of each format, to mangle.
const SEEDS: [&str; 3] = [
    "{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"cas\",\"key\":3,\"value\":[1,2]}\n{\"index\":1,\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"cas\",\"key\":3,\"value\":[1,2],\"node\":0}\n",
    "{:process 3, :type :invoke, :f :write, :key \"k1\", :value 4}\n{:process 3, :type :ok, :f :write, :key \"k1\", :value 4}\n{:process :nemesis, :type :info, :f :start, :value #{1 2}}\n",
    "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\nINFO  jepsen.util - 3\t:info\t:cas\t:timed-out\nINFO  jepsen.util - 1\t:fail\t:read\t:timed-out\n",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400), format in 0usize..3) {
        read_and_check(&data, FORMATS[format]);
    }

    #[test]
    fn mangled_valid_histories_never_panic(
        seed in 0usize..3,
        cut in 0usize..400,
        insert_at in 0usize..400,
        insert in "[\\[\\]{}\":,#\\\\ \\t\\n0-9a-z-]{0,6}",
    ) {
        let mut text = SEEDS[seed].to_string();
        let at = insert_at.min(text.len());
        if text.is_char_boundary(at) {
            text.insert_str(at, &insert);
        }
        let cut = cut.min(text.len());
        if text.is_char_boundary(cut) {
            text.truncate(cut.max(1));
        }
        read_and_check(text.as_bytes(), FORMATS[seed]);
        // Errors name a line that exists.
        if let Err(ReadError::Syntax { line, .. }) = read_history(&text, Some(FORMATS[seed])) {
            prop_assert!(line >= 1 && line <= text.lines().count().max(1), "line {} of {}", line, text.lines().count());
        }
    }
}
