//! `docs/evidence.md` runs: every `dsys` command in it ends with the exit code it states
//! and prints the text it quotes (`# exit N`, `# => TEXT`; the grammar is in
//! `common/runnable.rs`). Run from a scratch directory that links `docs` and `specs`, so
//! the files the commands write (`--history split.jsonl`) land there and go with it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and their helpers may panic

mod common;

use common::runnable::{parse, run_blocks};
use common::temp;
use std::path::Path;

#[test]
fn every_command_on_the_evidence_page_ends_as_stated() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("docs/evidence.md")).unwrap();
    let page = parse(&text).unwrap_or_else(|e| panic!("docs/evidence.md: {e}"));
    let scratch = temp("evidence");
    let dir = scratch.path().parent().unwrap();
    for linked in ["docs", "specs"] {
        std::os::unix::fs::symlink(root.join(linked), dir.join(linked)).unwrap();
    }
    let ran = run_blocks("docs/evidence.md", &page, dir);
    println!("{ran} commands run from docs/evidence.md");
    assert!(ran >= 20, "{ran}");
}
