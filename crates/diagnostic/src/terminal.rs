//! Text that came from outside (a file, a server, a command line) made safe to print on a
//! terminal: no control characters to move the cursor, recolour or retitle it, and no line
//! so long that it buries what follows.

/// The longest line [`terminal_safe`] lets through whole, in characters.
const MAX_LINE_CHARS: usize = 2_000;

/// `text` with control characters other than line breaks and tabs escaped (`\u{1b}`), and
/// each line longer than 2,000 characters cut, saying how much was left out.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(1 << 16));
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut kept = 0;
        for c in line.chars() {
            if kept == MAX_LINE_CHARS {
                break;
            }
            kept += 1;
            match c {
                '\t' => out.push('\t'),
                c if c.is_control() => out.extend(c.escape_unicode()),
                c => out.push(c),
            }
        }
        let rest = line.chars().count() - kept;
        if rest > 0 {
            out.push_str(&format!(" … ({rest} more characters)"));
        }
    }
    out
}

/// A piece of outside text quoted inside a message: every character a terminal or a reader
/// could stumble on escaped (control characters, quotes, backslashes), cut to `max`
/// characters with an ellipsis.
pub fn shown(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_escaped_and_lines_kept() {
        let hostile = "bad value \u{1b}]0;owned\u{7}\u{1b}[2J\r\nnext\tline";
        let safe = terminal_safe(hostile);
        assert!(
            !safe
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        );
        assert!(safe.contains("\\u{1b}]0;owned\\u{7}"), "{safe}");
        assert_eq!(safe.lines().count(), 2);
    }

    #[test]
    fn long_lines_are_cut_with_a_count() {
        let safe = terminal_safe(&format!("{}\nshort", "z".repeat(2_500)));
        let first = safe.lines().next().unwrap();
        assert!(first.ends_with("(500 more characters)"), "{first}");
        assert_eq!(safe.lines().nth(1), Some("short"));
    }

    #[test]
    fn shown_quotes_safely_and_cuts() {
        assert_eq!(shown("a\"b\u{1b}", 10), "a\\\"b\\u{1b}");
        assert_eq!(shown("abcdef", 3), "abc…");
    }
}
