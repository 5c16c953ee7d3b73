//! The conventions of cargo and ripgrep, pinned: full clap errors, one exit-code table
//! produced by real commands, colour that honours NO_COLOR, Ctrl-C that keeps what
//! finished, completions and a man page, a version with its commit.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{dsys, stderr, stdout, temp};
use std::process::{Command, Stdio};

const ESC: &str = "\x1b[";

fn dsys_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dsys"));
    c.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn clap_errors_name_the_missing_argument_and_the_possible_values() {
    let o = dsys(&["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("required arguments were not provided"),
        "{err}"
    );
    assert!(err.contains("<HISTORY>"), "{err}");
    assert!(err.contains("Usage: dsys check <HISTORY>"), "{err}");
    let o = dsys(&["check", "h.jsonl", "--format", "xml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("[possible values: text, json]"),
        "{}",
        stderr(&o)
    );
    // One spelling per value; the old one still accepted.
    let o = dsys(&["simulate", "--ops", "20", "--format", "table"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn numbers_and_durations_say_what_is_wrong() {
    let o = dsys(&["simulate", "--seed", "-1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`-1` is negative"), "{}", stderr(&o));
    for (args, expected) in [
        (vec!["grid", "--seeds", "0"], "0 is out of range"),
        (
            vec!["design", "x.toml", "--verify", "--seeds", "0"],
            "0 is out of range",
        ),
        (vec!["simulate", "--regions", "0"], "0 is out of range"),
        (vec!["simulate", "--regions", "6"], "6 regions for 5 nodes"),
        (
            vec!["simulate", "--timeout", "500"],
            "no unit: write 500ms or 500s",
        ),
        (
            vec!["check", "h.jsonl", "--timeout", "1"],
            "no unit: write 1ms or 1s",
        ),
    ] {
        let o = dsys(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(expected), "{args:?}: {}", stderr(&o));
    }
    let o = dsys(&[
        "simulate",
        "--ops",
        "50",
        "--timeout",
        "200ms",
        "--converge-deadline",
        "2s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn every_exit_code_of_the_table_comes_from_a_command() {
    let history = temp("h.jsonl");
    // 0: a run with a history written.
    let o = dsys(&[
        "simulate",
        "--protocol",
        "raft",
        "--nemesis",
        "swarm",
        "--seed",
        "3",
        "--ops",
        "3000",
        "--history",
        &history,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // 1: a violation (follower reads of asynchronous replication are stale).
    let o = dsys(&[
        "simulate",
        "--protocol",
        "primary-async",
        "--seed",
        "1",
        "--expect",
        "no-stale-reads",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // 2: bad input.
    assert_eq!(
        dsys(&["simulate", "--protocol", "paxos"]).status.code(),
        Some(2)
    );
    // 3: a budget ran out.
    let o = dsys(&["check", &history, "--timeout", "1us"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stdout(&o).contains("UNKNOWN"), "the verdict is printed");
    // 4: no convergence where it was expected.
    let o = dsys(&[
        "simulate",
        "--nemesis",
        "halves",
        "--seed",
        "1",
        "--converge-deadline",
        "1us",
        "--expect",
        "converged",
    ]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    // 5: a file could not be written; the verdict is still printed.
    let o = dsys(&["check", &history, "--html", "/nonexistent/dir/x.html"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("linearizable"),
        "verdict lost: {}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("cannot write /nonexistent/dir/x.html"));
    let o = dsys(&[
        "simulate",
        "--ops",
        "20",
        "--out",
        "/nonexistent/dir/run.json",
    ]);
    assert_eq!(o.status.code(), Some(5));
    assert!(stdout(&o).contains("trace hash"), "report lost");
    // 5 also for an input that cannot be read at all (2 is for one read and found bad).
    assert_eq!(
        dsys(&["check", "/nonexistent/h.jsonl"]).status.code(),
        Some(5)
    );
    // 70: a dsys bug, reported as such.
    let o = dsys_env(&["simulate"], &[("__DSYS_TEST_PANIC", "1")]);
    assert_eq!(o.status.code(), Some(70));
    assert!(stderr(&o).contains("this is a dsys bug"), "{}", stderr(&o));
    // 130: see ctrl_c_during_a_grid_keeps_what_finished.
}

#[test]
fn color_follows_the_flag_and_no_color() {
    let args = ["simulate", "--ops", "30", "--seed", "2"];
    let with = |extra: &[&str], env: &[(&str, &str)]| {
        let mut a = args.to_vec();
        a.extend_from_slice(extra);
        stdout(&dsys_env(&a, env))
    };
    // Not a terminal: no colour by default.
    assert!(!with(&[], &[]).contains(ESC));
    let forced = with(&[], &[("CLICOLOR_FORCE", "1")]);
    assert!(forced.contains("\x1b[32mPASS\x1b[0m"), "{forced}");
    // NO_COLOR wins over CLICOLOR_FORCE, not over an explicit --color always.
    assert!(!with(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).contains(ESC));
    assert!(with(&["--color", "always"], &[("NO_COLOR", "1")]).contains(ESC));
    assert!(!with(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]).contains(ESC));
    // JSON is never coloured.
    assert!(!with(&["--format", "json", "--color", "always"], &[]).contains(ESC));
}

#[test]
fn verbose_states_the_options_in_force_for_every_command_and_quiet_says_nothing() {
    let runs: [&[&str]; 4] = [
        &["simulate", "--ops", "30", "--seed", "2"],
        &[
            "grid",
            "--protocol",
            "single",
            "--nemesis",
            "none",
            "--seeds",
            "1",
        ],
        &["partition", "--keys", "1000"],
        &["design", "../../specs/chat.toml"],
    ];
    for args in runs {
        let command = args[0];
        let mut verbose = vec!["--verbose"];
        verbose.extend_from_slice(args);
        let o = dsys(&verbose);
        let err = stderr(&o);
        assert!(
            err.contains(&format!("dsys {command}: ")) && err.contains("finished in"),
            "{command}: {err}"
        );
        assert!(err.contains("(defaults: "), "{command}: {err}");
        let mut quiet = vec!["--quiet"];
        quiet.extend_from_slice(args);
        assert_eq!(stderr(&dsys(&quiet)), "", "{command} --quiet");
    }
    // The line names what was given, so the run can be repeated from the log.
    let err = stderr(&dsys(&["-v", "simulate", "--ops", "30", "--seed", "2"]));
    assert!(
        err.contains("--ops=30") && err.contains("--seed=2"),
        "{err}"
    );
}

#[test]
fn ctrl_c_during_a_grid_keeps_what_finished() {
    let file = temp("grid.csv");
    let child = Command::new(env!("CARGO_BIN_EXE_dsys"))
        .args(["grid", "--seeds", "100", "--format", "csv"])
        .stdout(std::fs::File::create(file.path()).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let some runs finish (the whole grid takes far longer than this).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).contains("interrupted:"), "{}", stderr(&o));
    let csv = std::fs::read_to_string(file.path()).unwrap();
    assert!(csv.starts_with("config,nemesis,seeds,"), "{csv}");
    let last = csv.trim_end().lines().last().unwrap();
    assert!(last.starts_with("# PARTIAL: interrupted after "), "{last}");
    assert!(last.contains(" of 3600 runs"), "{last}");
}

#[test]
fn completions_and_the_man_page_come_from_the_parser() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let o = dsys(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = stdout(&o);
        // Every shell's script knows the subcommands and their flags (fish spells a
        // long flag `-l nemesis`).
        assert!(
            script.contains("simulate") && script.contains("nemesis"),
            "{shell}"
        );
    }
    let man = stdout(&dsys(&["completions", "man"]));
    assert!(man.starts_with(".ie") || man.contains(".TH dsys"), "{man}");
    assert!(man.contains("simulate"));
    assert_eq!(dsys(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn the_version_names_its_commit() {
    let o = dsys(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    let v = stdout(&o);
    assert!(v.starts_with("dsys 0."), "{v}");
    assert!(v.contains('(') && v.trim_end().ends_with(')'), "{v}");
}

#[test]
fn witnesses_cite_lines_only_when_a_history_file_was_written() {
    let args = [
        "simulate",
        "--protocol",
        "raft",
        "--set",
        "reads=local",
        "--seed",
        "1",
        "--expect",
        "no-stale-reads",
    ];
    let o = dsys(&args);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("(events 363-364)") && !err.contains("lines"),
        "{err}"
    );
    let history = temp("h.jsonl");
    let mut with_file = args.to_vec();
    with_file.extend(["--history", &history]);
    let o = dsys(&with_file);
    let err = stderr(&o);
    assert!(
        err.contains("(lines 363-364)") && !err.contains("events"),
        "{err}"
    );
    // And line 363 of the file is the event cited.
    let text = std::fs::read_to_string(history.path()).unwrap();
    let line = text.lines().nth(362).unwrap();
    assert!(
        line.contains("\"index\":362") && line.contains("\"process\":3"),
        "{line}"
    );
}
