//! What `--verbose` says about any command: every option in force (given or defaulted),
//! so a run can be repeated from the log alone (VOPR prints every option with the seed for
//! the same reason), and the wall time the command took.

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

/// Flags every command takes: not options of the run.
const GLOBAL: [&str; 3] = ["color", "quiet", "verbose"];

/// `dsys simulate: --protocol=raft --seed=1 (defaults: --nodes=5 ...)`: the options the
/// command line gave, then those left at their defaults, for the innermost subcommand of
/// `command` (the parser) as `matches` (what it parsed) holds them.
pub fn options_in_force(command: &Command, matches: &ArgMatches) -> String {
    let mut path = vec!["dsys".to_string()];
    let (mut c, mut m) = (command, matches);
    while let Some((name, sub)) = m.subcommand() {
        path.push(name.to_string());
        m = sub;
        match c.find_subcommand(name) {
            Some(found) => c = found,
            None => break,
        }
    }
    let (mut given, mut defaulted) = (Vec::new(), Vec::new());
    for arg in c.get_arguments() {
        let id = arg.get_id().as_str();
        if GLOBAL.contains(&id) {
            continue;
        }
        let Ok(Some(values)) = m.try_get_raw(id) else {
            continue;
        };
        let values: Vec<String> = values.map(|v| v.to_string_lossy().into_owned()).collect();
        let name = match arg.get_long() {
            Some(long) => format!("--{long}"),
            None => id.to_string(),
        };
        let option = format!("{name}={}", values.join(","));
        match m.value_source(id) {
            Some(ValueSource::DefaultValue) => defaulted.push(option),
            _ => given.push(option),
        }
    }
    let mut line = format!("{}: {}", path.join(" "), given.join(" "));
    if !defaulted.is_empty() {
        line.push_str(&format!(" (defaults: {})", defaulted.join(" ")));
    }
    line
}

/// `finished in 1.234 s wall`.
pub fn finished(seconds: f64) -> String {
    format!("finished in {seconds:.3} s wall")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use clap::CommandFactory;

    fn line(args: &[&str]) -> String {
        let command = Cli::command();
        options_in_force(
            &command,
            &command.clone().try_get_matches_from(args).unwrap(),
        )
    }

    #[test]
    fn given_options_come_first_then_the_defaults() {
        let l = line(&[
            "dsys",
            "-v",
            "simulate",
            "--protocol",
            "raft",
            "--seed",
            "7",
        ]);
        assert!(l.starts_with("dsys simulate: "), "{l}");
        let (given, defaults) = l.split_once(" (defaults: ").unwrap();
        assert!(
            given.contains("--protocol=raft") && given.contains("--seed=7"),
            "{l}"
        );
        assert!(defaults.contains("--nodes=5"), "{l}");
        assert!(!l.contains("verbose"), "{l}");
    }

    #[test]
    fn nested_subcommands_and_lists() {
        let l = line(&[
            "dsys",
            "grid",
            "--protocol",
            "raft,leaderless",
            "--seeds",
            "3",
        ]);
        assert!(l.contains("--protocol=raft,leaderless"), "{l}");
        assert!(l.contains("--seeds=3") && !l.contains("GridArgs"), "{l}");
    }
}
