//! The agent skill `skills/designing-distributed-systems/`: its shape (the Agent Skills
//! rules, every reference linked from SKILL.md with its trigger, every link resolving,
//! nothing orphaned, pictures at most 80 columns) and its claims (every `dsys` command in
//! it ends with the exit code the text states and prints the figures the text quotes
//! beside it; the annotations are described in `skill/runnable.rs`). The public validator
//! (`agentskills validate`, PyPI `skills-ref`) runs in `scripts/test.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and their helpers may panic

mod common;
use common::runnable::{self, Command, parse, squeeze};
use common::{dsys_in, stderr, stdout};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const NAME: &str = "designing-distributed-systems";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn skill() -> PathBuf {
    root().join("skills").join(NAME)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `dir`, as paths relative to the skill folder, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(skill()).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The frontmatter as (key, value) pairs and the body after it.
fn frontmatter(text: &str) -> (Vec<(String, String)>, &str) {
    let rest = text.strip_prefix("---\n").expect("SKILL.md opens with ---");
    let end = rest
        .find("\n---\n")
        .expect("the frontmatter closes with ---");
    let pairs = rest[..end]
        .lines()
        .map(|line| {
            assert!(
                !line.starts_with([' ', '\t']),
                "nested frontmatter is not allowed: {line:?}"
            );
            let (k, v) = line.split_once(':').expect("key: value");
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    (pairs, &rest[end + 5..])
}

#[test]
fn the_frontmatter_and_the_size_follow_the_agent_skills_rules() {
    let text = read(&skill().join("SKILL.md"));
    let (pairs, body) = frontmatter(&text);
    let keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["name", "description", "license"], "top-level keys");
    let name = &pairs[0].1;
    assert_eq!(name, NAME, "the name is the folder's");
    assert!(name.len() <= 64);
    assert!(
        name.split('-').all(|part| !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())),
        "lowercase letters, digits and single hyphens: {name}"
    );
    let description = &pairs[1].1;
    assert!(
        !description.is_empty() && description.chars().count() <= 1024,
        "description of {} characters",
        description.chars().count()
    );
    assert!(
        !description.contains(['<', '>']),
        "no < or > in the description"
    );
    for filler in [
        "comprehensive",
        "powerful",
        "seamless",
        "robust",
        "cutting-edge",
    ] {
        assert!(
            !description.to_lowercase().contains(filler),
            "filler in the description: {filler}"
        );
    }
    assert!(description.contains("Use when"), "says when to use it");
    assert!(!pairs[2].1.is_empty(), "a license");
    let lines = body.lines().count();
    assert!(lines < 500, "SKILL.md body: {lines} lines");
    // About 5,000 tokens: English prose runs near 0.75 words a token.
    let words = body.split_whitespace().count();
    assert!(words * 4 / 3 <= 5_000, "SKILL.md body: {words} words");
}

/// Relative link targets of `text`: `[..](target)`, without anchors and web addresses.
fn links(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(t, _)| t))
        .map(|t| t.split('#').next().unwrap_or_default().to_string())
        .filter(|t| !t.is_empty() && !t.contains("://"))
        .collect()
}

#[test]
fn every_reference_is_linked_with_its_trigger_every_link_resolves_and_nothing_is_orphaned() {
    let text = read(&skill().join("SKILL.md"));
    for reference in files(&skill().join("references")) {
        let target = reference.to_str().unwrap();
        let line = text
            .lines()
            .find(|l| l.contains(&format!("]({target})")))
            .unwrap_or_else(|| panic!("SKILL.md does not link {target}"));
        assert!(
            line.to_lowercase().contains("when"),
            "the link to {target} says when to read it: {line}"
        );
    }
    // Walk the links from SKILL.md; everything in the folder must be reached.
    let mut reached: BTreeSet<PathBuf> = BTreeSet::from([PathBuf::from("SKILL.md")]);
    let mut queue = vec![PathBuf::from("SKILL.md")];
    while let Some(page) = queue.pop() {
        let base = page.parent().unwrap_or(Path::new("")).to_path_buf();
        for target in links(&read(&skill().join(&page))) {
            let path = normalise(&base.join(&target));
            let full = skill().join(&path);
            assert!(full.exists(), "{}: broken link {target}", page.display());
            let found = if full.is_dir() {
                files(&full)
            } else {
                vec![path]
            };
            for f in found {
                if reached.insert(f.clone()) && f.extension().is_some_and(|e| e == "md") {
                    queue.push(f);
                }
            }
        }
    }
    let orphans: Vec<PathBuf> = files(&skill())
        .into_iter()
        .filter(|f| !reached.contains(f))
        .collect();
    assert!(orphans.is_empty(), "not linked from anywhere: {orphans:?}");
}

/// `a/b/../c` as `a/c`.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Every Markdown page of the skill, parsed.
fn pages() -> Vec<(PathBuf, runnable::Page)> {
    files(&skill())
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "md"))
        .map(|f| {
            let page = runnable::parse(&read(&skill().join(&f)))
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            (f, page)
        })
        .collect()
}

/// Every example program is a cargo example of some dsys crate, built with `test = true`,
/// so the test suite runs it (each holds a test of its own story). What the programs
/// share lives in `examples/support/`, included by them, not run on its own.
#[test]
fn every_example_program_is_a_cargo_example_the_suite_runs() {
    let manifests: Vec<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("Cargo.toml"))
        .filter(|p| p.exists())
        .map(|p| read(&p))
        .collect();
    let mut programs = 0;
    for file in files(&skill().join("examples")) {
        if file.extension().is_none_or(|e| e != "rs") || file.starts_with("examples/support") {
            continue;
        }
        programs += 1;
        let path = format!("path = \"../../skills/{NAME}/{}\"", file.display());
        let declared = manifests.iter().find_map(|m| {
            let at = m.find(&path)?;
            let entry = &m[m[..at].rfind("[[example]]")?..];
            Some(entry.split("\n\n").next().unwrap_or(entry).to_string())
        });
        let entry =
            declared.unwrap_or_else(|| panic!("{} is no crate's [[example]]", file.display()));
        assert!(
            entry.contains("test = true"),
            "{} is not run by the suite: {entry}",
            file.display()
        );
        let source = read(&skill().join(&file));
        assert!(
            source.contains("#[test]") || source.contains("test_example!"),
            "{}: no test",
            file.display()
        );
    }
    assert!(programs >= 5, "{programs} example programs");
}

/// The skill's script `name` with `args`, from the project root, on the dsys under test.
fn skill_script(name: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new("bash")
        .arg(skill().join("scripts").join(name))
        .args(args)
        .env("DSYS", env!("CARGO_BIN_EXE_dsys"))
        .current_dir(root())
        .output()
        .expect("run bash")
}

/// The conventions agents rely on: `--help` exits 0; each of `bad` exits 2 with a reason
/// on stderr that names the script.
fn assert_script_usage(name: &str, bad: &[&[&str]]) {
    assert_eq!(skill_script(name, &["--help"]).status.code(), Some(0));
    for args in bad {
        let o = skill_script(name, args);
        assert_eq!(o.status.code(), Some(2), "{name} {args:?}");
        assert!(stderr(&o).contains(&format!("{name}: ")), "{name} {args:?}");
    }
}

fn partition_script(args: &[&str]) -> std::process::Output {
    skill_script("simulate-network-partition", args)
}

#[test]
fn the_partition_script_tells_the_textbook_outcomes_in_words_and_json() {
    let words = |args: &[&str], code: i32| {
        let o = partition_script(args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        let text = stdout(&o);
        assert!(text.lines().count() <= 12, "bounded output: {text}");
        text
    };
    let minority = |text: &str| {
        let line = text
            .lines()
            .find(|l| l.contains("(the minority)"))
            .unwrap_or_else(|| panic!("no minority side: {text}"));
        let ok = line
            .split("writes ")
            .nth(1)
            .and_then(|w| w.split(' ').next());
        ok.and_then(|n| n.parse::<u64>().ok()).expect("writes N ok")
    };
    // Asynchronous leader-follower: the cut-off leader keeps acknowledging; lost on heal.
    let text = words(
        &[
            "--protocol",
            "leader-follower",
            "--set",
            "replication=async",
        ],
        1,
    );
    assert!(text.contains("Acknowledged writes lost: YES"), "{text}");
    assert!(minority(&text) > 0, "{text}");
    // Raft: the minority side is refused; nothing is lost.
    let text = words(&["--protocol", "raft"], 0);
    assert!(text.contains("Acknowledged writes lost: none."), "{text}");
    assert_eq!(minority(&text), 0, "{text}");
    // A strict quorum whose keys have W homes on the majority side only: n=5, w=3.
    let strict = [
        "--protocol",
        "leaderless",
        "--set",
        "n=5",
        "--set",
        "w=3",
        "--set",
        "r=3",
    ];
    let text = words(&strict, 0);
    assert_eq!(
        minority(&text),
        0,
        "strict quorum: the minority side is unavailable: {text}"
    );
    // A sloppy quorum stays available on the minority side and serves stale reads.
    let sloppy = [
        "--protocol",
        "leaderless",
        "--set",
        "n=3",
        "--set",
        "w=2",
        "--set",
        "r=2",
    ];
    let text = words(&[&sloppy[..], &["--set", "sloppy=on"]].concat(), 1);
    assert!(minority(&text) > 0, "{text}");
    assert!(text.contains("Stale reads: YES"), "{text}");
    // The same verdict as JSON.
    let o = partition_script(&[&sloppy[..], &["--set", "sloppy=on", "--json"]].concat());
    assert_eq!(o.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(report["checks"]["no-stale-reads"]["result"], "fail");
    assert!(report["partitions"][0]["sides"][1]["writes"]["ok"].as_u64() > Some(0));
    // The conventions: help, and bad usage as exit 2 with a reason on stderr.
    assert_script_usage(
        "simulate-network-partition",
        &[
            &["--bogus"],
            &["--seed", "x"],
            &["--from", "5", "--to", "1"],
        ],
    );
}

/// The evals: at least 12 design questions, each tied to a spec whose `dsys design`
/// decisions are the expected answer (rule and choice, by decision id).
#[test]
fn every_eval_is_answered_by_the_design_of_its_spec() {
    let text = read(&skill().join("evals/evals.json"));
    let evals: serde_json::Value = serde_json::from_str(&text).expect("evals.json is JSON");
    assert_eq!(evals["skill_name"], NAME);
    let list = evals["evals"].as_array().expect("an evals array");
    assert!(list.len() >= 12, "{} evals", list.len());
    let mut designs: std::collections::BTreeMap<String, serde_json::Value> = Default::default();
    let mut ids = BTreeSet::new();
    for eval in list {
        let id = eval["id"].as_u64().expect("an integer id");
        assert!(ids.insert(id), "eval {id} twice");
        for field in ["prompt", "expected_output"] {
            assert!(
                eval[field].as_str().is_some_and(|t| !t.is_empty()),
                "eval {id}: {field}"
            );
        }
        let files = eval["files"].as_array().expect("files");
        let spec = files[0].as_str().expect("a spec path");
        let spec_path = normalise(&skill().join(spec));
        assert!(spec_path.exists(), "eval {id}: no {spec}");
        let design = designs.entry(spec.to_string()).or_insert_with(|| {
            let o = dsys_in(
                &root(),
                &["design", spec_path.to_str().unwrap(), "--format", "json"],
            );
            assert_eq!(o.status.code(), Some(0), "{spec}: {}", stderr(&o));
            serde_json::from_slice(&o.stdout).expect("design JSON")
        });
        let decisions = eval["decisions"].as_object().expect("decisions");
        assert!(!decisions.is_empty(), "eval {id}: nothing to check");
        for (decision, want) in decisions {
            let got = design["decisions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["id"] == decision.as_str())
                .unwrap_or_else(|| panic!("eval {id}: {spec} makes no decision {decision}"));
            assert_eq!(got["rule"]["id"], want["rule"], "eval {id}: {decision}");
            let choice = got["choice"].as_str().unwrap();
            let part = want["choice"].as_str().unwrap();
            assert!(
                choice.contains(part),
                "eval {id}: {decision} is {choice:?}, not {part:?}"
            );
        }
        println!(
            "eval {id:>2} {spec}: {} decisions as expected",
            decisions.len()
        );
    }
}

/// `diagrams/SPEC-architecture.txt` is what `dsys diagram specs/SPEC.toml --format ascii
/// --width 80` draws, byte for byte: a drawing dsys makes cannot drift from it.
#[test]
fn generated_diagrams_are_what_dsys_draws() {
    let mut generated = 0;
    for file in files(&skill().join("diagrams")) {
        let name = file.file_name().unwrap().to_str().unwrap();
        let Some(spec) = name.strip_suffix("-architecture.txt") else {
            continue;
        };
        let spec = format!("specs/{spec}.toml");
        let o = dsys_in(
            &root(),
            &["diagram", &spec, "--format", "ascii", "--width", "80"],
        );
        assert_eq!(o.status.code(), Some(0), "{spec}: {}", stderr(&o));
        assert_eq!(
            stdout(&o),
            read(&skill().join(&file)),
            "{} is not what dsys draws for {spec}: regenerate it",
            file.display()
        );
        generated += 1;
    }
    assert!(generated > 0, "no generated diagram");
}

#[test]
fn the_diagram_script_draws_what_dsys_draws_and_keeps_the_conventions() {
    let script = |args: &[&str]| skill_script("generate-architecture-diagram", args);
    let drawn = script(&["specs/ledger.toml"]);
    assert_eq!(drawn.status.code(), Some(0), "{}", stderr(&drawn));
    assert_eq!(
        stdout(&drawn),
        read(&skill().join("diagrams/ledger-architecture.txt"))
    );
    let json = script(&["specs/ledger.toml", "--json"]);
    let model: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert!(model["edges"].as_array().is_some_and(|e| !e.is_empty()));
    assert_eq!(script(&["no/such.toml"]).status.code(), Some(5));
    assert_script_usage(
        "generate-architecture-diagram",
        &[&[], &["specs/ledger.toml", "--format", "png"], &["a", "b"]],
    );
}

#[test]
fn pictures_are_at_most_80_columns() {
    let mut wide = Vec::new();
    for (file, page) in pages() {
        for (n, line) in &page.fenced {
            if line.chars().count() > 80 {
                wide.push(format!("{}:{n}", file.display()));
            }
        }
    }
    for file in files(&skill()) {
        if file.extension().is_some_and(|e| e == "txt") {
            for (i, line) in read(&skill().join(&file)).lines().enumerate() {
                if line.chars().count() > 80 {
                    wide.push(format!("{}:{}", file.display(), i + 1));
                }
            }
        }
    }
    assert!(wide.is_empty(), "lines over 80 columns: {wide:?}");
}

#[test]
fn every_command_ends_as_stated_and_prints_the_figures_quoted_beside_it() {
    let mut ran = 0;
    for (file, page) in pages() {
        ran += runnable::run_blocks(&file.display().to_string(), &page, &root());
    }
    println!("{ran} dsys commands run from the skill");
    assert!(ran > 0);
}

/// The annotation grammar of `common/runnable.rs`.
#[test]
fn a_block_with_its_figures_parses_and_bad_ones_say_where() {
    let page = parse(
        "# T\n\nLost **175** writes on **116 of 200** seeds, **not 3** more.\n\n```sh\ndsys simulate --protocol raft \\\n   --seed 1\n# exit 1: why\n# => linearizable PASS\n```\n",
    )
    .unwrap();
    assert_eq!(page.blocks.len(), 1);
    let b = &page.blocks[0];
    assert_eq!(b.figures, ["175", "116 of 200"]);
    assert_eq!(
        b.commands,
        [Command {
            args: ["simulate", "--protocol", "raft", "--seed", "1"]
                .map(String::from)
                .to_vec(),
            exit: 1,
            prints: vec!["linearizable PASS".into()],
            line: 6,
        }]
    );
    let err = |t: &str| parse(t).unwrap_err();
    assert!(err("**3** ms\n\n## Next\n").contains("no dsys block"));
    assert!(err("**3** ms\n").contains("no dsys block"));
    assert!(err("```sh\ndsys grid\n```\n").contains("no `# exit N`"));
    assert!(err("```sh\ncargo run\n```\n").contains("not a dsys command"));
    assert!(err("```sh\ndsys check \"a b\"\n# exit 0\n```\n").contains("plain words"));
    assert!(err("```sh\n# exit 0\n```\n").contains("before any command"));
    assert_eq!(squeeze(" a   b\n c "), "a b c");
}
