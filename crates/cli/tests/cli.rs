//! The `dsys` binary as a user meets it: output formats, replay, and bad input.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{dsys, stderr, stdout, temp};

/// Bad input: exit code 2, stderr opening with one line that names the problem (clap's
/// usage and tip may follow it), no panic, nothing on stdout.
fn assert_bad_input(args: &[&str], expected: &str) {
    assert_fails_with(args, 2, expected);
}

/// Exit `code`, stderr opening with an `error:` line, `expected` on stderr, no panic and
/// nothing on stdout.
fn assert_fails_with(args: &[&str], code: i32, expected: &str) {
    let o = dsys(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(
        err.contains(expected),
        "{args:?}: expected {expected:?} in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.stdout.is_empty(), "{args:?}: wrote to stdout");
}

#[test]
fn json_output_is_json_only_with_the_documented_fields() {
    let o = dsys(&[
        "simulate",
        "--protocol",
        "primary-async",
        "--nemesis",
        "halves",
        "--seed",
        "5",
        "--ops",
        "300",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&o)).expect("stdout is one JSON document");
    for key in [
        "seed",
        "trace_hash",
        "ops",
        "availability",
        "latency_ms",
        "messages",
        "msgs_per_op",
        "converged",
        "sim",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    for key in ["ok", "fail", "info"] {
        assert!(v["ops"][key].is_u64(), "ops.{key}");
    }
    for key in ["p50", "p99", "max"] {
        assert!(v["latency_ms"][key].is_number(), "latency_ms.{key}");
    }
    for key in ["sent", "delivered", "dropped"] {
        assert!(v["messages"][key].is_u64(), "messages.{key}");
    }
    for key in ["events", "wall_seconds", "deliveries_per_second"] {
        assert!(v["sim"][key].is_number(), "sim.{key}");
    }
    assert_eq!(v["seed"], 5);
    assert_eq!(v["trace_hash"].as_str().unwrap().len(), 16);
    assert_eq!(
        v["ops"]["ok"].as_u64().unwrap()
            + v["ops"]["fail"].as_u64().unwrap()
            + v["ops"]["info"].as_u64().unwrap(),
        300
    );
}

#[test]
fn the_same_flags_give_the_same_trace_hash() {
    let run = || {
        let o = dsys(&[
            "simulate",
            "--nemesis",
            "swarm",
            "--seed",
            "9",
            "--ops",
            "200",
            "--format",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        v["trace_hash"].as_str().unwrap().to_string()
    };
    assert_eq!(run(), run());
}

#[test]
fn replay_reproduces_the_trace_hash_and_history_byte_for_byte() {
    let (artifact, h1, h2) = (temp("run.json"), temp("h1.jsonl"), temp("h2.jsonl"));
    let o = dsys(&[
        "simulate",
        "--protocol",
        "single",
        "--set",
        "durability=buffered",
        "--nemesis",
        "swarm",
        "--seed",
        "21",
        "--format",
        "json",
        "--out",
        artifact.as_str(),
        "--history",
        h1.as_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let o = dsys(&[
        "replay",
        artifact.as_str(),
        "--format",
        "json",
        "--history",
        h2.as_str(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let second: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(first["trace_hash"], second["trace_hash"]);
    assert_eq!(first["ops"], second["ops"]);
    let (a, b) = (std::fs::read(&h1).unwrap(), std::fs::read(&h2).unwrap());
    assert!(!a.is_empty());
    assert_eq!(a, b, "history files differ");
}

#[test]
fn table_output_and_help() {
    let o = dsys(&["simulate", "--ops", "100"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("trace hash") && out.contains("availability"),
        "{out}"
    );
    let help = stdout(&dsys(&["simulate", "--help"]));
    assert!(
        help.contains("Examples:") && help.contains("dsys simulate --protocol"),
        "{help}"
    );
    let help = stdout(&dsys(&["replay", "--help"]));
    assert!(help.contains("Examples:"), "{help}");
}

#[test]
fn unknown_protocol() {
    assert_bad_input(
        &["simulate", "--protocol", "paxos"],
        "unknown protocol `paxos` (known: single, primary-async, leader-follower, multi-leader, leaderless, raft)",
    );
}

#[test]
fn unknown_or_ill_typed_set_keys() {
    assert_bad_input(
        &["simulate", "--set", "fencing=on"],
        "has no setting `fencing`",
    );
    assert_bad_input(
        &["simulate", "--set", "heartbeat=soon"],
        "--set heartbeat=soon: expected whole milliseconds",
    );
    assert_bad_input(
        &["simulate", "--set", "durability=perhaps"],
        "expected one of synced, buffered",
    );
    assert_bad_input(&["simulate", "--set", "heartbeat"], "expected key=value");
    assert_bad_input(
        &["simulate", "--protocol", "single", "--set", "heartbeat=10"],
        "protocol `single` has no setting `heartbeat`",
    );
}

#[test]
fn malformed_nemesis_specs() {
    assert_bad_input(&["simulate", "--nemesis", "halfs"], "unknown fault `halfs`");
    assert_bad_input(&["simulate", "--nemesis", "loss:1.5"], "probability");
    assert_bad_input(&["simulate", "--nemesis", "halves+"], "empty fault");
    assert_bad_input(
        &["simulate", "--nemesis", "delay:gauss:3"],
        "unknown latency distribution",
    );
    assert_bad_input(&["simulate", "--nemesis", "crash+crash"], "listed twice");
    assert_bad_input(
        &["simulate", "--nodes", "3", "--nemesis", "majority-ring"],
        "needs at least 4 nodes",
    );
}

#[test]
fn other_bad_flags() {
    assert_bad_input(
        &["simulate", "--nodes", "0"],
        "0 is out of range; expected a whole number from 1 to 1000",
    );
    assert_bad_input(&["simulate", "--nodes", "many"], "invalid value 'many'");
    assert_bad_input(
        &["simulate", "--latency", "uniform:5:1"],
        "MIN (5) is above MAX (1)",
    );
    assert_bad_input(&["simulate", "--mix", "1:2"], "READ:WRITE:CAS");
    assert_bad_input(&["simulate", "--key-dist", "zipf:-2"], "non-negative");
    assert_bad_input(
        &["simulate", "--timeout", "0"],
        "`0` has no unit: write 0ms or 0s",
    );
    assert_bad_input(&["simulate", "--timeout", "0ms"], "more than zero");
    assert_bad_input(
        &["simulate", "--nodez", "3"],
        "unexpected argument '--nodez'",
    );
    assert_bad_input(&["frobnicate"], "unrecognized subcommand");
}

#[test]
fn corrupt_truncated_or_foreign_artifacts() {
    let artifact = temp("good.json");
    let o = dsys(&[
        "simulate",
        "--ops",
        "50",
        "--nemesis",
        "crash-restart",
        "--out",
        artifact.as_str(),
    ]);
    assert!(o.status.success());
    let good = std::fs::read_to_string(&artifact).unwrap();
    let write = |name: &str, text: &str| {
        let p = temp(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let truncated = write("truncated.json", &good[..good.len() / 2]);
    assert_bad_input(&["replay", &truncated], "invalid or truncated JSON");
    let garbage = write("garbage.json", "\u{0}\u{1}not json at all");
    assert_bad_input(&["replay", &garbage], "not a run artifact");
    let foreign = write("foreign.json", r#"{"format": "jepsen", "version": 1}"#);
    assert_bad_input(&["replay", &foreign], "format is `jepsen`");
    let future = write(
        "future.json",
        &good.replacen("\"version\": 1", "\"version\": 99", 1),
    );
    assert_bad_input(&["replay", &future], "artifact version 99 is not supported");
    let no_seed = write("no-seed.json", &good.replacen("\"seed\":", "\"seeed\":", 1));
    assert_bad_input(&["replay", &no_seed], "unknown field `seeed`");
    let bad_protocol = write(
        "bad-protocol.json",
        &good.replacen("\"primary-async\"", "\"zab\"", 1),
    );
    assert_bad_input(&["replay", &bad_protocol], "unknown variant `zab`");
    let bad_nemesis = write(
        "bad-nemesis.json",
        &good.replacen("\"crash-restart\"", "\"crush\"", 1),
    );
    assert_bad_input(&["replay", &bad_nemesis], "unknown fault `crush`");
    let zero_nodes = write(
        "zero-nodes.json",
        &good.replacen("\"nodes\": 5", "\"nodes\": 0", 1),
    );
    assert_bad_input(&["replay", &zero_nodes], "nodes: must be between 1");
    let missing = temp("does-not-exist.json");
    // Not there at all: an I/O error, not bad input.
    assert_fails_with(&["replay", missing.as_str()], 5, "No such file");
}

#[test]
fn a_replay_that_diverges_exits_1() {
    let artifact = temp("diverge.json");
    assert!(
        dsys(&[
            "simulate",
            "--ops",
            "50",
            "--seed",
            "4",
            "--out",
            artifact.as_str()
        ])
        .status
        .success()
    );
    let text = std::fs::read_to_string(&artifact).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let hash = v["trace_hash"].as_str().unwrap();
    std::fs::write(&artifact, text.replace(hash, "0000000000000000")).unwrap();
    let o = dsys(&["replay", artifact.as_str()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: replay diverged: trace hash"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_artifact_whose_schedule_names_a_missing_node_is_rejected() {
    let artifact = temp("bad-schedule.json");
    assert!(
        dsys(&[
            "simulate",
            "--ops",
            "400",
            "--seed",
            "1",
            "--nemesis",
            "crash-restart",
            "--out",
            artifact.as_str()
        ])
        .status
        .success()
    );
    let text = std::fs::read_to_string(&artifact).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let schedule = v["realised_schedule"].as_array_mut().unwrap();
    assert!(
        !schedule.is_empty(),
        "seed 1 should crash something in 400 ops"
    );
    schedule[0]["action"]["node"] = serde_json::json!(9);
    std::fs::write(&artifact, serde_json::to_string(&v).unwrap()).unwrap();
    assert_bad_input(
        &["replay", artifact.as_str()],
        "names n9, outside the 5-node cluster",
    );
}

#[test]
fn a_scripted_schedule_is_followed_and_checked() {
    // Crash the `single` holder from 100 ms to 400 ms: requests time out meanwhile.
    let schedule = temp("schedule.json");
    std::fs::write(
        &schedule,
        r#"[{"at": 100000000, "action": {"action": "crash", "node": 0}},
            {"at": 400000000, "action": {"action": "restart", "node": 0}}]"#,
    )
    .unwrap();
    let s = schedule.as_str();
    let o = dsys(&[
        "simulate",
        "--protocol",
        "single",
        "--schedule",
        s,
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["faults"], 2);
    assert_eq!(v["crashes"], 1);
    assert!(v["ops"]["info"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["effective_nemesis"], "script of 2 actions");

    assert_bad_input(
        &["simulate", "--schedule", s, "--nemesis", "halves"],
        "use either --schedule or --nemesis",
    );
    let broken = temp("broken-schedule.json");
    std::fs::write(&broken, r#"[{"at": 5, "action": {"action": "explode"}}]"#).unwrap();
    assert_bad_input(
        &["simulate", "--schedule", broken.as_str()],
        "unknown variant `explode`",
    );
    let backwards = temp("backwards-schedule.json");
    std::fs::write(
        &backwards,
        r#"[{"at": 9, "action": {"action": "pause", "node": 1}}, {"at": 5, "action": {"action": "resume", "node": 1}}]"#,
    )
    .unwrap();
    assert_bad_input(
        &["simulate", "--schedule", backwards.as_str()],
        "comes before the previous action",
    );
}

#[test]
fn leader_follower_settings_are_checked() {
    assert_bad_input(
        &[
            "simulate",
            "--protocol",
            "leader-follower",
            "--set",
            "replication=quorum",
        ],
        "expected one of async, semi-sync, sync",
    );
    assert_bad_input(
        &[
            "simulate",
            "--protocol",
            "leader-follower",
            "--set",
            "replication=semi-sync",
            "--set",
            "acks=5",
        ],
        "--set acks=5: expected at most 4 (nodes - 1) for 5 nodes",
    );
    assert_bad_input(
        &[
            "simulate",
            "--protocol",
            "leader-follower",
            "--set",
            "fencing=maybe",
        ],
        "expected one of on, off",
    );
    assert_bad_input(
        &[
            "simulate",
            "--protocol",
            "leader-follower",
            "--set",
            "acks=0",
        ],
        "a whole number from 1 to 999",
    );
    let help = stdout(&dsys(&["simulate", "--help"]));
    for line in [
        "  leader-follower\n",
        "replication=async|semi-sync|sync",
        "fencing=on|off",
        "election-timeout=MS",
    ] {
        assert!(help.contains(line), "help lacks {line:?}");
    }
    let o = dsys(&[
        "simulate",
        "--protocol",
        "leader-follower",
        "--set",
        "replication=semi-sync",
        "--set",
        "acks=2",
        "--ops",
        "200",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn multi_leader_conflict_modes_are_checked() {
    assert_bad_input(
        &[
            "simulate",
            "--protocol",
            "multi-leader",
            "--set",
            "conflict=guess",
        ],
        "--set conflict=guess: expected one of lww, siblings, crdt",
    );
    assert_bad_input(
        &[
            "simulate",
            "--protocol",
            "raft",
            "--set",
            "rotate-every=300",
        ],
        "--set voters=0: expected from 1 to 4 with rotate-every: a membership change needs a node outside the voters",
    );
    assert_bad_input(
        &["simulate", "--protocol", "raft", "--set", "voters=6"],
        "--set voters=6: expected at most 5 (the number of nodes)",
    );
    assert_bad_input(
        &[
            "simulate",
            "--protocol",
            "raft",
            "--set",
            "snapshot-every=-1",
        ],
        "--set snapshot-every=-1: expected a whole number from 0 to 1000000",
    );
    assert_bad_input(
        &[
            "simulate",
            "--protocol",
            "leader-follower",
            "--workload",
            "counter",
        ],
        "protocol `leader-follower` keeps registers only; the counter workload needs --protocol multi-leader",
    );
    assert_bad_input(
        &[
            "simulate",
            "--protocol",
            "multi-leader",
            "--workload",
            "bag",
        ],
        "unknown workload `bag` (expected kv, counter or set)",
    );
    assert_bad_input(
        &[
            "simulate",
            "--protocol",
            "multi-leader",
            "--workload",
            "set",
            "--checks",
            "no-stale-reads",
        ],
        "check `no-stale-reads` does not apply to set histories",
    );
    assert_bad_input(
        &[
            "simulate",
            "--protocol",
            "multi-leader",
            "--set",
            "crdt=or-set",
        ],
        "--set crdt=or-set: expected auto unless conflict=crdt",
    );
    for (crdt, expected) in [
        (
            "crdt=or-set",
            "--set crdt=or-set: expected one of auto, lww-register, mv-register for the kv workload",
        ),
        (
            "crdt=pn-set",
            "--set crdt=pn-set: expected one of auto, g-counter, pn-counter, or-set, lww-register, mv-register",
        ),
    ] {
        let args = [
            "simulate",
            "--protocol",
            "multi-leader",
            "--set",
            "conflict=crdt",
            "--set",
            crdt,
        ];
        assert_bad_input(&args, expected);
    }
    // Every CRDT runs on its workload and loses nothing: a G-counter refuses decrements,
    // an MV-register keeps siblings.
    for (crdt, workload, check) in [
        ("g-counter", "counter", "no-lost-updates"),
        ("pn-counter", "counter", "no-lost-updates"),
        ("or-set", "set", "no-lost-updates"),
        ("lww-register", "kv", "converged"),
        ("mv-register", "kv", "no-lost-writes"),
    ] {
        let crdt_set = format!("crdt={crdt}");
        let o = dsys(&[
            "simulate",
            "--protocol",
            "multi-leader",
            "--set",
            "conflict=crdt",
            "--set",
            &crdt_set,
            "--workload",
            workload,
            "--nemesis",
            "halves",
            "--seed",
            "2",
            "--expect",
            check,
            "--format",
            "json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{crdt}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        if workload == "counter" {
            // Only decrements fail, and only on a G-counter.
            let refused = v["ops"]["fail"].as_u64().unwrap();
            assert_eq!(refused > 0, crdt == "g-counter", "{crdt}: {}", v["ops"]);
        }
        assert_eq!(
            v["protocol_metrics"].get("reads with siblings").is_some(),
            crdt == "mv-register",
            "{crdt}"
        );
    }
    for (conflict, exit) in [("crdt", Some(0)), ("lww", Some(1))] {
        let o = dsys(&[
            "simulate",
            "--protocol",
            "multi-leader",
            "--set",
            &format!("conflict={conflict}"),
            "--workload",
            "counter",
            "--nemesis",
            "halves",
            "--seed",
            "1",
            "--expect",
            "no-lost-updates",
        ]);
        assert_eq!(o.status.code(), exit, "{conflict}: {}", stderr(&o));
    }
    let o = dsys(&[
        "simulate",
        "--protocol",
        "multi-leader",
        "--nemesis",
        "halves",
        "--ops",
        "200",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        v["protocol_metrics"]["concurrent writes lost"].is_u64(),
        "{v}"
    );
}

#[test]
fn siblings_runs_are_judged_as_multi_value_registers() {
    for (protocol, settings) in [
        ("multi-leader", &["conflict=siblings"][..]),
        ("leaderless", &["versions=vector-clock", "sloppy=on"][..]),
    ] {
        let mut args = vec!["simulate", "--protocol", protocol];
        for s in settings {
            args.extend(["--set", s]);
        }
        args.extend(["--nemesis", "halves", "--seed", "3", "--format", "json"]);
        let o = dsys(&args);
        assert!(o.status.success(), "{protocol}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let checks = v["checks"].as_object().unwrap();
        assert!(!checks.contains_key("causal"), "{protocol}: {v}");
        for check in ["no-lost-writes", "converged"] {
            assert_eq!(checks[check]["result"], "pass", "{protocol} {check}: {v}");
        }
        assert!(
            v["protocol_metrics"]["reads with siblings"]
                .as_u64()
                .unwrap()
                > 0,
            "{protocol}: {v}"
        );
        assert_eq!(checks["linearizable"]["result"], "fail", "{protocol}: {v}");
    }
}

#[test]
fn leaderless_quorum_settings_are_checked() {
    let simulate = |sets: &[&'static str]| -> Vec<&'static str> {
        let mut args = vec!["simulate", "--protocol", "leaderless"];
        for s in sets {
            args.extend(["--set", s]);
        }
        args
    };
    assert_bad_input(
        &simulate(&["w=4"]),
        "--set w=4: expected at most n = 3: a quorum is a subset of the replicas",
    );
    assert_bad_input(
        &simulate(&["n=5", "r=6"]),
        "--set r=6: expected at most n = 5: a quorum is a subset of the replicas",
    );
    assert_bad_input(
        &simulate(&["r=0"]),
        "--set r=0: expected a whole number from 1 to 999",
    );
    assert_bad_input(
        &simulate(&["n=6"]),
        "--set n=6: expected at most 5 (the number of nodes)",
    );
    assert_bad_input(
        &simulate(&["versions=lamport"]),
        "--set versions=lamport: expected one of timestamp, vector-clock",
    );
    assert_bad_input(&simulate(&["sloppy=yes"]), "expected one of on, off");
    let help = stdout(&dsys(&["simulate", "--help"]));
    for line in [
        "  leaderless\n",
        "w=N",
        "sloppy=on|off",
        "versions=timestamp|vector-clock",
    ] {
        assert!(help.contains(line), "help lacks {line:?}");
    }
    let mut args = simulate(&["versions=vector-clock", "sloppy=on"]);
    args.extend(["--nemesis", "halves", "--ops", "300", "--format", "json"]);
    let o = dsys(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v["protocol_metrics"]["hints stored"].is_u64(), "{v}");
}
