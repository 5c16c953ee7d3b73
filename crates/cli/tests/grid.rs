//! `dsys grid`: deterministic, pinned for a fixed seed set, and textbook-shaped.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{dsys, stderr, stdout};

/// Regenerate with `dsys grid --seeds 3 --format csv > crates/cli/tests/golden/grid-seeds-3.csv`
/// when a change to a protocol or the simulator is meant to move these figures.
const GOLDEN: &str = include_str!("golden/grid-seeds-3.csv");

#[test]
fn the_default_grid_is_pinned_for_a_fixed_seed_set() {
    let o = dsys(&["grid", "--seeds", "3", "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out, GOLDEN,
        "the grid changed; if intended, regenerate the golden file"
    );
    let again = stdout(&dsys(&["grid", "--seeds", "3", "--format", "csv"]));
    assert_eq!(out, again, "same arguments, same bytes");
}

/// The column of `config` under `nemesis`, from the JSON output.
fn cell<'a>(cells: &'a [serde_json::Value], config: &str, nemesis: &str) -> &'a serde_json::Value {
    cells
        .iter()
        .find(|c| c["config"] == config && c["nemesis"] == nemesis)
        .unwrap()
}

#[test]
fn the_grid_matches_the_textbook() {
    let o = dsys(&["grid", "--seeds", "10", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let cells: Vec<serde_json::Value> = serde_json::from_str(&stdout(&o)).unwrap();
    let f = |c: &serde_json::Value, k: &str| c[k].as_f64().unwrap();
    // One copy of the data: always linearizable, never stale.
    for nemesis in ["none", "halves", "crash-restart"] {
        let single = cell(&cells, "single", nemesis);
        assert_eq!(
            (f(single, "non_linearizable"), f(single, "stale_reads")),
            (0.0, 0.0),
            "single under {nemesis}"
        );
    }
    // Asynchronous follower reads are stale even without faults.
    assert!(f(cell(&cells, "primary-async", "none"), "stale_reads") > 0.0);
    // PA/EL vs PC/EC: under a partition, multi-leader stays fully available, synchronous
    // replication gives availability up; without faults sync pays in latency.
    let ml = cell(&cells, "multi-leader(conflict=lww)", "halves");
    let sync = cell(&cells, "leader-follower(replication=sync)", "halves");
    let asy = cell(&cells, "leader-follower(replication=async)", "halves");
    assert_eq!(f(ml, "availability"), 1.0);
    assert!(f(sync, "availability") < f(asy, "availability"));
    let (sync_calm, async_calm) = (
        cell(&cells, "leader-follower(replication=sync)", "none"),
        cell(&cells, "leader-follower(replication=async)", "none"),
    );
    assert!(f(sync_calm, "latency_p50_ms") > f(async_calm, "latency_p50_ms"));
    // Writes local to every node are fast, and last-writer-wins drops concurrent ones.
    assert!(f(ml, "latency_p50_ms") < f(asy, "latency_p50_ms"));
    assert!(f(ml, "concurrent_writes_lost") > 0.0);
    // Siblings keep what last-writer-wins drops, and hand it to readers to merge.
    let sib = cell(&cells, "multi-leader(conflict=siblings)", "halves");
    assert_eq!(f(sib, "availability"), 1.0);
    assert_eq!(f(sib, "concurrent_writes_lost"), 0.0);
    assert!(f(sib, "sibling_reads") > 0.0);
    assert_eq!(f(ml, "sibling_reads"), 0.0);
    // Async failover under a partition loses acknowledged writes; sync does not.
    assert!(f(asy, "lost_writes") > 0.0);
    assert_eq!(f(sync, "lost_writes"), 0.0);
    // Leaderless: overlapping quorums (W + R > N) read no stale values, with or without a
    // partition; W = R = 1 reads stale ones even without faults. A strict quorum gives
    // availability up under a partition, a sloppy one keeps it and pays in stale reads.
    let strict = "leaderless(n=3,w=2,r=2)";
    let sloppy = "leaderless(n=3,w=2,r=2,sloppy=on)";
    let one = "leaderless(n=3,w=1,r=1)";
    for nemesis in ["none", "halves"] {
        assert_eq!(f(cell(&cells, strict, nemesis), "stale_reads"), 0.0);
    }
    assert!(f(cell(&cells, one, "none"), "stale_reads") > 0.0);
    assert!(f(cell(&cells, strict, "halves"), "availability") < 0.95);
    assert_eq!(f(cell(&cells, sloppy, "halves"), "availability"), 1.0);
    assert!(f(cell(&cells, sloppy, "halves"), "stale_reads") > 0.0);
    // One replica acknowledging is faster than two.
    assert!(
        f(cell(&cells, one, "none"), "latency_p50_ms")
            < f(cell(&cells, strict, "none"), "latency_p50_ms")
    );
    // PBS: with W = R = 1 some reads right after a write are stale; overlapping quorums
    // are fresh at every delay.
    let fresh = |config: &str| -> Vec<f64> {
        cell(&cells, config, "none")["freshness"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["reads"].as_u64().unwrap() > 0)
            .map(|b| b["fresh"].as_f64().unwrap() / b["reads"].as_f64().unwrap())
            .collect()
    };
    assert!(fresh(one)[0] < 1.0);
    assert!(fresh(strict).iter().all(|p| *p == 1.0));
    // CP: Raft stays linearizable under every nemesis and pays in availability under a
    // partition; a lease answers reads without a round trip.
    for config in ["raft", "raft(reads=lease)"] {
        for nemesis in ["none", "halves", "crash-restart"] {
            let c = cell(&cells, config, nemesis);
            assert_eq!(f(c, "non_linearizable"), 0.0, "{config} under {nemesis}");
            assert_eq!(f(c, "lost_writes"), 0.0, "{config} under {nemesis}");
        }
        assert!(f(cell(&cells, config, "halves"), "availability") < f(ml, "availability"));
    }
    assert!(
        f(cell(&cells, "raft(reads=lease)", "none"), "latency_p50_ms")
            < f(cell(&cells, "raft", "none"), "latency_p50_ms")
    );
    // Every cell converged after the final heal.
    for c in &cells {
        assert_eq!(f(c, "not_converged"), 0.0, "{c}");
    }
}

#[test]
fn bad_grid_arguments() {
    let o = dsys(&["grid", "--protocols", "raft9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown protocol `raft9`"),
        "{}",
        stderr(&o)
    );
    let o = dsys(&[
        "grid",
        "--protocols",
        "leader-follower:replication=sometimes",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("expected one of async, semi-sync, sync"),
        "{}",
        stderr(&o)
    );
    let o = dsys(&["grid", "--nemeses", "none,halfs"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown fault `halfs`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_svg_plots_every_configuration_deterministically() {
    let o = dsys(&["grid", "--seeds", "2", "--format", "svg"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = stdout(&o);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for config in [
        "single",
        "primary-async",
        "leader-follower(replication=sync)",
        "multi-leader(conflict=lww)",
    ] {
        assert!(svg.contains(config), "missing {config}");
    }
    assert!(svg.contains("availability under halves") && !svg.contains("<script"));
    assert!(svg.contains("Staleness under none (PBS)") && svg.contains("<polyline"));
    assert_eq!(
        svg,
        stdout(&dsys(&["grid", "--seeds", "2", "--format", "svg"]))
    );
}

/// `dsys grid` with `extra` arguments on a small grid: three configurations, two nemeses.
fn small_grid(extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "grid",
        "--protocol",
        "single,leader-follower:replication=async,reads=any",
        "--protocol",
        "raft",
        "--nemesis",
        "none,halves",
        "--seeds",
        "5",
        "--seed-start",
        "7",
    ];
    args.extend_from_slice(extra);
    dsys(&args)
}

#[test]
fn four_shards_merged_are_byte_identical_to_one_run() {
    let parts: Vec<common::TempPath> = (1..=4)
        .map(|i| {
            let o = small_grid(&["--shard", &format!("{i}/4"), "-j", "1"]);
            assert!(o.status.success(), "{}", stderr(&o));
            let part = common::temp(&format!("part-{i}.json"));
            std::fs::write(part.path(), &o.stdout).unwrap();
            part
        })
        .collect();
    for format in ["text", "csv", "json", "svg"] {
        let whole = small_grid(&["--format", format]);
        assert!(whole.status.success(), "{}", stderr(&whole));
        let mut args = vec!["grid", "merge"];
        // Any order of the parts.
        args.extend(parts.iter().rev().map(|p| p.as_str()));
        args.extend(["--format", format]);
        let merged = dsys(&args);
        assert!(merged.status.success(), "{}", stderr(&merged));
        assert_eq!(stdout(&merged), stdout(&whole), "{format}");
    }
    // The seeds are 7..12, and -j does not change a byte.
    let csv = stdout(&small_grid(&["--format", "csv", "-j", "1"]));
    assert_eq!(csv, stdout(&small_grid(&["--format", "csv", "-j", "2"])));
    assert!(csv.lines().nth(1).unwrap().contains(",5,"), "{csv}");

    // Merging refuses what is not one whole grid.
    let merge = |paths: &[&str]| {
        let mut args = vec!["grid", "merge"];
        args.extend_from_slice(paths);
        dsys(&args)
    };
    let p: Vec<&str> = parts.iter().map(|p| p.as_str()).collect();
    let bad = |o: std::process::Output, expected: &str| {
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(expected), "{}", stderr(&o));
    };
    bad(merge(&[p[0], p[1], p[2]]), "missing shards: 4/4");
    bad(merge(&[p[0], p[1], p[2], p[2]]), "shard 3/4 given twice");
    let other = dsys(&[
        "grid",
        "--protocol",
        "single",
        "--nemesis",
        "none",
        "--shard",
        "4/4",
    ]);
    let other_part = common::temp("other.json");
    std::fs::write(other_part.path(), &other.stdout).unwrap();
    bad(
        merge(&[p[0], p[1], p[2], &other_part]),
        "belongs to another grid",
    );
    let csv_file = common::temp("grid.csv");
    std::fs::write(csv_file.path(), &csv).unwrap();
    bad(merge(&[&csv_file]), "not a grid part");
    let o = merge(&["/nonexistent/part.json"]);
    assert_eq!(o.status.code(), Some(5), "unreadable: an I/O error");
    let o = small_grid(&["--shard", "1/4", "--format", "csv"]);
    bad(o, "--shard prints a part");
}

#[test]
fn shard_auto_reads_the_schedulers_index() {
    let tiny = [
        "grid",
        "--protocol",
        "single",
        "--nemesis",
        "none",
        "--seeds",
        "4",
    ];
    let run = |env: &[(&str, &str)], extra: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dsys"));
        c.args(tiny).args(["--shard", "auto"]);
        c.args(extra)
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("SLURM_ARRAY_TASK_ID");
        c.env_remove("DSYS_SHARDS")
            .env_remove("SLURM_ARRAY_TASK_COUNT");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let k8s = run(&[("JOB_COMPLETION_INDEX", "1")], &["--shards", "2"]);
    assert!(k8s.status.success(), "{}", stderr(&k8s));
    let fixed = dsys(&[&tiny[..], &["--shard", "2/2"]].concat());
    assert_eq!(stdout(&k8s), stdout(&fixed));
    let slurm = run(
        &[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ],
        &[],
    );
    assert_eq!(stdout(&slurm), stdout(&fixed));
    let none = run(&[], &["--shards", "2"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID"));
    let out_of_range = run(&[("JOB_COMPLETION_INDEX", "2")], &["--shards", "2"]);
    assert_eq!(out_of_range.status.code(), Some(2));
}
