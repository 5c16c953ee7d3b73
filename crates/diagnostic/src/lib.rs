//! Problems in a configuration file (a requirement spec, a gateway configuration): each
//! with its file, line and column, what is wrong (naming the field), the line itself with
//! a caret, and a hint. Every problem in a file is reported at once.

use serde::Serialize;
use std::fmt;
use std::ops::Range;

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
            snippet: text[line_start..line_end]
                .trim_end_matches('\r')
                .to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
