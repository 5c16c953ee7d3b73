//! Problems in a configuration file (a requirement spec, a gateway configuration): each
//! with its file, line and column, what is wrong (naming the field), the line itself with
//! a caret, and a hint. Every problem in a file is reported at once.

use serde::Serialize;
use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::path::Path;

mod terminal;

pub use terminal::{shown, terminal_safe};

/// The most dsys reads of a configuration-like file (a requirement spec, a gateway
/// configuration, a fault schedule, a run artifact, a grid part): 64 MiB, hundreds of
/// times the largest real one. History files have their own limit (`dsys check
/// --max-input`).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Why a text file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadFileError {
    /// The operating system refused (missing, unreadable, a directory).
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        reason: String,
    },
    /// Larger than the limit: refused before it is all read.
    #[error("{path}: larger than {limit} bytes, the most dsys reads from such a file")]
    TooLarge {
        /// The file.
        path: String,
        /// The limit, bytes.
        limit: u64,
    },
    /// Not text.
    #[error("{path}: not UTF-8 text (byte {at})")]
    NotUtf8 {
        /// The file.
        path: String,
        /// Where the first bad byte is.
        at: usize,
    },
}

impl ReadFileError {
    /// Whether the file was read and found unusable (bad input), rather than not read.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, ReadFileError::Io { .. })
    }
}

/// Read a text file of at most `limit` bytes, never holding more than `limit + 1` of it:
/// `/dev/zero` or a terabyte is refused, not read.
pub fn read_text_file(path: &Path, limit: u64) -> Result<String, ReadFileError> {
    let origin = || path.display().to_string();
    let io = |e: std::io::Error| ReadFileError::Io {
        path: origin(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadFileError::TooLarge {
            path: origin(),
            limit,
        });
    }
    String::from_utf8(bytes).map_err(|e| ReadFileError::NotUtf8 {
        path: origin(),
        at: e.utf8_error().valid_up_to(),
    })
}

/// One problem in a file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// The line of the file it points at.
    pub snippet: String,
}

impl Diagnostic {
    /// A diagnostic at byte range `span` of `text`.
    pub fn at(text: &str, span: Range<usize>, message: &str, hint: &str) -> Self {
        let start = span.start.min(text.len());
        // Back off to a character boundary (a span never splits one, but be safe).
        let start = (0..=start)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        let before = &text[..start];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        Diagnostic {
            line: before.matches('\n').count() + 1,
            column: text[line_start..start].chars().count() + 1,
            message: message.to_string(),
            hint: hint.to_string(),
            snippet: snippet(text[line_start..line_end].trim_end_matches('\r')),
        }
    }

    /// A diagnostic from the TOML parser or the deserializer, for a spec.
    pub fn from_toml(text: &str, e: &toml::de::Error) -> Self {
        Diagnostic::from_toml_documented(text, e, "specs/README.md")
    }

    /// A diagnostic from the TOML parser or the deserializer, for a file whose fields
    /// `reference` documents (a path or a command).
    pub fn from_toml_documented(text: &str, e: &toml::de::Error, reference: &str) -> Self {
        let message = e.message().trim_end().to_string();
        let hint = if message.starts_with("unknown field") {
            format!("check the spelling; {reference} lists every field")
        } else if message.starts_with("missing field") {
            format!("add it; {reference} shows a commented example")
        } else if message.starts_with("invalid type") {
            format!(
                "numbers go unquoted, names in quotes, lists in [ ]; {reference} gives each field's type"
            )
        } else if message.starts_with("unknown variant") {
            "use one of the values listed".to_string()
        } else {
            "the file is not valid TOML here (https://toml.io/en/v1.0.0)".to_string()
        };
        Diagnostic::at(text, e.span().unwrap_or(0..0), &message, &hint)
    }
}

/// A file that cannot be used, with every problem found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
pub struct FileError {
    /// The file, as named on the command line.
    pub path: String,
    /// The problems, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for FileError {
    /// `path:line:column: message`, the line with a caret under the column, and the hint;
    /// one block per problem.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{}:{}:{}: {}", self.path, d.line, d.column, d.message)?;
            let gutter = d.line.to_string().len();
            writeln!(f, "{:gutter$} |", "")?;
            writeln!(f, "{} | {}", d.line, d.snippet)?;
            writeln!(f, "{:gutter$} | {:>col$}", "", "^", col = d.column)?;
            write!(f, "  hint: {}", d.hint)?;
        }
        Ok(())
    }
}

/// The line a diagnostic quotes, safe for a terminal: each control character becomes one
/// visible character (so the caret's column still lines up) and a very long line is cut.
fn snippet(line: &str) -> String {
    const MAX_CHARS: usize = 400;
    let mut out: String = line
        .chars()
        .take(MAX_CHARS)
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect();
    let rest = line.chars().count().saturating_sub(MAX_CHARS);
    if rest > 0 {
        out.push_str(&format!(" … ({rest} more characters)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_limit_is_refused_before_it_is_read() {
        let dir = std::env::temp_dir().join(format!("dsys-diag-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.toml");
        std::fs::write(&path, "x".repeat(100)).unwrap();
        assert_eq!(read_text_file(&path, 100).unwrap().len(), 100);
        assert!(matches!(
            read_text_file(&path, 99),
            Err(ReadFileError::TooLarge { limit: 99, .. })
        ));
        std::fs::write(&path, b"ok\xff").unwrap();
        assert!(matches!(
            read_text_file(&path, 100),
            Err(ReadFileError::NotUtf8 { at: 2, .. })
        ));
        let missing = read_text_file(&dir.join("none"), 100).unwrap_err();
        assert!(!missing.is_bad_input());
        // /dev/zero never ends: refused at the limit, in bounded memory.
        let zero = read_text_file(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert!(zero.is_bad_input(), "{zero}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn snippets_show_no_control_characters_and_keep_the_caret_column() {
        let text = "name = \"\x1b[31mred\tx\"\n";
        let d = Diagnostic::at(text, 8..9, "bad", "fix");
        assert!(!d.snippet.chars().any(char::is_control), "{:?}", d.snippet);
        assert_eq!(d.snippet.chars().count(), text.trim_end().chars().count());
        let long = format!("a = \"{}\"", "y".repeat(5_000));
        let d = Diagnostic::at(&long, 0..1, "bad", "fix");
        assert!(
            d.snippet.ends_with("(4606 more characters)"),
            "{}",
            d.snippet
        );
    }

    #[test]
    fn lines_and_columns_are_one_based_and_count_characters() {
        let text = "a = 1\nnamé = \"x\" # bad\n";
        let at = text.find("\"x\"").unwrap();
        let d = Diagnostic::at(text, at..at + 3, "bad", "fix it");
        assert_eq!((d.line, d.column), (2, 8));
        assert_eq!(d.snippet, "namé = \"x\" # bad");
        let e = FileError {
            path: "s.toml".into(),
            diagnostics: vec![d],
        };
        assert_eq!(
            e.to_string(),
            "s.toml:2:8: bad\n  |\n2 | namé = \"x\" # bad\n  |        ^\n  hint: fix it"
        );
    }

    #[test]
    fn spans_past_the_end_clamp() {
        let d = Diagnostic::at("x = 1", 99..100, "m", "h");
        assert_eq!((d.line, d.column), (1, 6));
        let d = Diagnostic::at("", 0..0, "m", "h");
        assert_eq!((d.line, d.column, d.snippet.as_str()), (1, 1, ""));
    }
}
