//! Crash test: a process writing through write-behind is killed with SIGKILL at random
//! points, again and again, then restarted to drain. What it acknowledged is read from
//! its output *before* any restart. Afterwards every acknowledged write has reached the
//! source of truth (its key's applied version is at least the acknowledged one), the
//! sink was never handed an older version of a key after a newer one, and each version
//! took effect at most once.
//!
//! The child is this test binary, run again on the ignored test `child`. It writes to
//! eight keys and flushes every few writes; its sink is a second SQLite file that, as the
//! `Sink` contract asks, applies a version only if it is newer than the key's, and logs
//! every version it was handed (in the same transaction). A third of the rounds end by
//! SIGKILL at a random write; the others by the child aborting inside the sink, before
//! or after a batch commits (the two crash points a flush has).
//!
//! Budget: 12 kills and one drain, a few seconds in all.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_cache::behind::{Pending, Sink, WriteBehind};
use dsys_node::DetRng;
use rusqlite::{Connection, params};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

const KEYS: u64 = 8;
const KILLS: usize = 12;

/// Where a child dies inside the sink, besides being killed from outside.
#[derive(Clone, Copy, PartialEq)]
enum Abort {
    Never,
    /// In the middle of a batch, before it commits.
    BeforeCommit,
    /// After the batch commits, before the write-behind hears so.
    AfterCommit,
}

/// The source of truth: applies a version only if it is newer, and logs every version
/// it was handed.
struct Store(Mutex<Connection>, Abort, Mutex<DetRng>);

impl Store {
    fn open(path: &Path) -> Store {
        let c = Connection::open(path).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS current (key TEXT PRIMARY KEY, version INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS applied (key TEXT NOT NULL, version INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS handed (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, version INTEGER NOT NULL);",
        )
        .unwrap();
        Store(
            Mutex::new(c),
            Abort::Never,
            Mutex::new(DetRng::from_seed(0)),
        )
    }

    /// Abort the process (like SIGKILL: no destructors) at `at`, on about one batch in
    /// four.
    fn dying(mut self, at: Abort, seed: u64) -> Store {
        self.1 = at;
        self.2 = Mutex::new(DetRng::from_seed(seed));
        self
    }

    fn maybe_die(&self, at: Abort) {
        if self.1 == at && self.2.lock().unwrap().chance(0.25) {
            std::process::abort();
        }
    }
}

impl Sink for Store {
    type Error = rusqlite::Error;
    fn apply(&self, batch: &[Pending]) -> Result<(), rusqlite::Error> {
        let mut c = self.0.lock().unwrap();
        let tx = c.transaction()?;
        for p in batch {
            let v = p.version as i64;
            tx.execute(
                "INSERT INTO handed (key, version) VALUES (?1, ?2)",
                params![p.key, v],
            )?;
            let newer = tx.execute(
                "INSERT INTO current (key, version) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET version = excluded.version
                 WHERE excluded.version > current.version",
                params![p.key, v],
            )?;
            if newer == 1 {
                tx.execute(
                    "INSERT INTO applied (key, version) VALUES (?1, ?2)",
                    params![p.key, v],
                )?;
            }
        }
        self.maybe_die(Abort::BeforeCommit);
        tx.commit()?;
        self.maybe_die(Abort::AfterCommit);
        Ok(())
    }
}

/// The child: write and flush until killed, or drain and stop.
#[test]
#[ignore = "run by the crash test as its child process"]
fn child() {
    let dir = PathBuf::from(std::env::var("DSYS_BEHIND_DIR").unwrap());
    let seed: u64 = std::env::var("DSYS_BEHIND_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let abort = match std::env::var("DSYS_BEHIND_ABORT").as_deref() {
        Ok("before-commit") => Abort::BeforeCommit,
        Ok("after-commit") => Abort::AfterCommit,
        _ => Abort::Never,
    };
    let sink = Store::open(&dir.join("sink.db")).dying(abort, seed);
    let wb = WriteBehind::open(&dir.join("journal.db"), sink).unwrap();
    if std::env::var("DSYS_BEHIND_DRAIN").is_ok() {
        wb.drain().unwrap();
        println!("drained");
        return;
    }
    let mut rng = DetRng::from_seed(seed);
    let mut out = std::io::stdout();
    for i in 0u64.. {
        let key = format!("k{}", rng.below(KEYS));
        let version = wb.write(&key, &i.to_le_bytes()).unwrap();
        // Acknowledged: durable in the journal.
        writeln!(out, "\nack {key} {version}").unwrap();
        out.flush().unwrap();
        if rng.chance(0.2) {
            wb.flush().unwrap();
        }
    }
}

/// Run a child that drains the journal, then check the sink holds, for every key, at
/// least the version last acknowledged.
fn drain_and_check(dir: &Path, acked: &BTreeMap<String, u64>, round: usize) {
    let drained = child_command(dir)
        .env("DSYS_BEHIND_DRAIN", "1")
        .output()
        .unwrap();
    assert!(drained.status.success(), "round {round}: the drain failed");
    assert!(String::from_utf8_lossy(&drained.stdout).contains("drained"));
    let sink = Connection::open(dir.join("sink.db")).unwrap();
    let mut q = sink.prepare("SELECT key, version FROM current").unwrap();
    let current: BTreeMap<String, u64> = q
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
        .map(|row| row.map(|(k, v)| (k, v as u64)).unwrap())
        .collect();
    for (key, version) in acked {
        let applied = current.get(key).copied().unwrap_or(0);
        assert!(
            applied >= *version,
            "round {round}: {key} acknowledged at version {version}, the sink has {applied}"
        );
    }
}

/// The test's directory, removed when the test ends.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn child_command(dir: &Path) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("DSYS_BEHIND_DIR", dir)
    .stderr(Stdio::inherit());
    c
}

#[test]
fn acknowledged_writes_survive_sigkill_and_reach_the_sink_in_order() {
    let dir = std::env::temp_dir().join(format!("dsys-behind-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Removed however the test ends, failed assertions included.
    let _cleanup = Cleanup(dir.clone());
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = DetRng::from_seed(42);
    // Per key, the highest version acknowledged, read before any restart.
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    for round in 0..KILLS {
        // Killed from outside at a random write, or dying inside the sink before or
        // after a batch commits.
        let abort = ["never", "before-commit", "after-commit"][round % 3];
        let mut child = child_command(&dir)
            .env("DSYS_BEHIND_SEED", round.to_string())
            .env("DSYS_BEHIND_ABORT", abort)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let kill_after = 20 + rng.below(200);
        let mut seen = 0;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let Some(ack) = line.strip_prefix("ack ") else {
                continue;
            };
            let (key, version) = ack.split_once(' ').unwrap();
            let version: u64 = version.parse().unwrap();
            let best = acked.entry(key.to_string()).or_default();
            assert!(
                version > *best,
                "{key}: version {version} after {best}: versions went back"
            );
            *best = version;
            seen += 1;
            if seen == kill_after {
                break;
            }
        }
        // SIGKILL, mid-write or mid-flush: no destructor, no rollback but SQLite's own.
        child.kill().unwrap();
        child.wait().unwrap();
        // Recover (a drain), then nothing acknowledged before the crash may be missing:
        // checked now, before later writes could supersede a lost one.
        drain_and_check(&dir, &acked, round);
    }
    assert!(acked.values().sum::<u64>() > 100, "few writes: {acked:?}");
    let sink = Connection::open(dir.join("sink.db")).unwrap();
    // Handed in order per key (a re-delivery repeats a version, never goes back), and
    // each version took effect once.
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    let mut q = sink
        .prepare("SELECT key, version FROM handed ORDER BY seq")
        .unwrap();
    for row in q
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
    {
        let (k, v) = row.unwrap();
        let before = last.insert(k.clone(), v as u64).unwrap_or(0);
        assert!(v as u64 >= before, "{k}: handed version {v} after {before}");
    }
    let twice: i64 = sink
        .query_row(
            "SELECT count(*) FROM (SELECT key, version FROM applied GROUP BY key, version HAVING count(*) > 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(twice, 0, "a version took effect twice");
}
