//! Where output goes and how it looks: stdout, files, colour, quiet and verbose.

use crate::args::{ColorChoice, GlobalArgs};
use crate::exit::{Exit, Failure};
use std::io::{IsTerminal, Write};
use std::path::Path;

/// How this invocation writes.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    /// Verdicts in colour on stdout.
    pub color: bool,
    /// No progress bars, no notes on stderr (errors still).
    pub quiet: bool,
    /// Notes on stderr: the options in force, timings.
    pub verbose: bool,
}

impl Output {
    /// From the global flags and the environment.
    pub fn new(global: &GlobalArgs) -> Self {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Output {
            color: wants_color(
                global.color,
                std::io::stdout().is_terminal(),
                env("NO_COLOR").is_some(),
                env("CLICOLOR_FORCE").is_some_and(|v| v != "0"),
            ),
            quiet: global.quiet,
            verbose: global.verbose && !global.quiet,
        }
    }

    /// A note for people on stderr, unless `--quiet`; with `--verbose` only if `detail`.
    pub fn note(&self, detail: bool, text: &str) {
        if !self.quiet && (self.verbose || !detail) {
            eprintln!("{text}");
        }
    }

    /// Write `text` to stdout, verdict words coloured if colour is on.
    pub fn print(&self, text: &str) -> Result<(), Failure> {
        let text = match self.color {
            true => color_verdicts(text),
            false => text.to_string(),
        };
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => Ok(()),
            // A closed pipe (`dsys ... | head`) is the reader's choice, not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(Failure::new(
                Exit::Io,
                format!("cannot write to stdout: {e}"),
            )),
        }
    }
}

/// `--color`: `always` and `never` are what they say; `auto` colours a terminal unless
/// `NO_COLOR` is set (no-color.org), and `CLICOLOR_FORCE` colours a pipe as well.
pub fn wants_color(choice: ColorChoice, terminal: bool, no_color: bool, force: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => !no_color && (terminal || force),
    }
}

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// Colour the verdict of each check line (`check-name   PASS ...`): the second word,
/// when the first is a check's name (lowercase letters and hyphens) and the second is
/// PASS, FAIL or UNKNOWN.
pub fn color_verdicts(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        out.push_str(&color_line(line).unwrap_or_else(|| line.to_string()));
    }
    out
}

fn color_line(line: &str) -> Option<String> {
    let name_end = line.find(' ')?;
    let name = &line[..name_end];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
        return None;
    }
    let verdict_at = name_end + line[name_end..].find(|c: char| c != ' ')?;
    let rest = &line[verdict_at..];
    let (word, code) = [("PASS", GREEN), ("FAIL", RED), ("UNKNOWN", YELLOW)]
        .into_iter()
        .find(|(w, _)| rest.starts_with(w))?;
    let after = &rest[word.len()..];
    if !(after.is_empty() || after.starts_with([' ', ':', '\n'])) {
        return None;
    }
    Some(format!("{}{code}{word}{RESET}{after}", &line[..verdict_at]))
}

/// Write a file the user asked for; failing is an I/O error (exit 5).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes)
        .map_err(|e| Failure::new(Exit::Io, format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_over_auto_but_not_over_always() {
        assert!(wants_color(ColorChoice::Auto, true, false, false));
        assert!(!wants_color(ColorChoice::Auto, true, true, false));
        assert!(!wants_color(ColorChoice::Auto, false, false, false));
        assert!(wants_color(ColorChoice::Auto, false, false, true));
        assert!(!wants_color(ColorChoice::Auto, false, true, true));
        assert!(wants_color(ColorChoice::Always, false, true, false));
        assert!(!wants_color(ColorChoice::Never, true, false, true));
    }

    #[test]
    fn only_verdict_words_in_check_lines_are_coloured() {
        let text = "linearizable           PASS (8 keys)\nno-lost-writes         FAIL\nnote: PASS here is prose\nconverged              UNKNOWN: budget\nx PASSED\n";
        let colored = color_verdicts(text);
        assert!(colored.contains(&format!("{GREEN}PASS{RESET} (8 keys)")));
        assert!(colored.contains(&format!("{RED}FAIL{RESET}\n")));
        assert!(colored.contains(&format!("{YELLOW}UNKNOWN{RESET}: budget")));
        assert!(colored.contains("note: PASS here is prose"));
        assert!(colored.contains("x PASSED"));
    }
}
