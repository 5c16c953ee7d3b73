//! Processes of their own for the integration tests: the test binary run again, asked to
//! run one ignored test (the child's part), killed when the test is done however it ends.

#![allow(dead_code)] // each test crate uses its own part
#![allow(clippy::unwrap_used)] // test support may panic

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Children, killed and reaped when dropped.
#[derive(Default)]
pub struct Children(pub Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Run the ignored test `test` of this binary as a child with `env`, its stdin a pipe
/// (closing it is the child's cue to stop in order); wait for the line that holds `ready`
/// and return the child and what follows `ready` on that line. The rest of its output is
/// read and dropped, so it never blocks on a full pipe or fails on a closed one.
pub fn spawn(test: &str, env: &[(&str, String)], ready: &str) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The harness may print "test NAME ... " on the same line first.
    let rest = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split_once(ready).map(|(_, rest)| rest.trim().to_string()))
        .unwrap_or_else(|| panic!("{test} ended without saying {ready:?}"));
    std::thread::spawn(move || lines.for_each(drop));
    (child, rest)
}
