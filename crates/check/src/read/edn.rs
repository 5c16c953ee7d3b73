//! A small EDN parser: enough for Jepsen histories (maps, vectors, lists, sets,
//! keywords, strings, integers, floats, nil, booleans, symbols, tagged literals).

/// An EDN value.
#[derive(Clone, PartialEq, Debug)]
pub enum Edn {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// An integer (`N` suffix allowed).
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A keyword, without its leading colon.
    Keyword(String),
    /// A symbol.
    Symbol(String),
    /// `[...]`.
    Vector(Vec<Edn>),
    /// `(...)`.
    List(Vec<Edn>),
    /// `#{...}`.
    Set(Vec<Edn>),
    /// `{...}`, in source order.
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    /// The value under keyword `key` in a map.
    pub fn get(&self, key: &str) -> Option<&Edn> {
        match self {
            Edn::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Edn::Keyword(kw) if kw == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Parse exactly one EDN value from `text` (surrounding whitespace allowed).
/// Errors give the 1-based column.
pub fn parse(text: &str) -> Result<Edn, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
        depth: 0,
    };
    let value = p.value()?;
    p.skip_ws();
    if p.i < p.s.len() {
        return Err(format!(
            "unexpected `{}` after the value at column {}",
            p.s[p.i] as char,
            p.i + 1
        ));
    }
    Ok(value)
}

/// Deeper nesting than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';'
        )
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() {
            match self.s[self.i] {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => self.i += 1,
                b';' => {
                    while self.i < self.s.len() && self.s[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        if self.i >= self.s.len() {
            Err(format!("{what}: the line ends early (truncated?)"))
        } else {
            Err(format!("{what} at column {}", self.i + 1))
        }
    }

    /// One form. Every form nested in another — an element, a discarded `#_` form, a
    /// tagged one — counts towards the depth limit, so no input can run the stack out.
    fn value(&mut self) -> Result<Edn, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        let form = self.form();
        self.depth -= 1;
        form
    }

    fn form(&mut self) -> Result<Edn, String> {
        self.skip_ws();
        let Some(&b) = self.s.get(self.i) else {
            return self.err("expected a value");
        };
        match b {
            b'{' => {
                let open = self.i;
                let items = self.collection(b'}')?;
                if items.len() % 2 == 1 {
                    return Err(format!(
                        "map opened at column {} has a key without a value",
                        open + 1
                    ));
                }
                let mut items = items.into_iter();
                let mut entries = Vec::new();
                while let (Some(k), Some(v)) = (items.next(), items.next()) {
                    entries.push((k, v));
                }
                Ok(Edn::Map(entries))
            }
            b'[' => self.collection(b']').map(Edn::Vector),
            b'(' => self.collection(b')').map(Edn::List),
            b'"' => self.string(),
            b'#' => self.dispatch(),
            b':' => {
                self.i += 1;
                let word = self.token();
                if word.is_empty() {
                    return self.err("empty keyword");
                }
                Ok(Edn::Keyword(word))
            }
            b'}' | b']' | b')' => self.err(&format!("unexpected `{}`", b as char)),
            _ => self.atom(),
        }
    }

    fn collection(&mut self, close: u8) -> Result<Vec<Edn>, String> {
        let open = self.i;
        self.i += 1;
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            match self.s.get(self.i) {
                None => {
                    return Err(format!(
                        "`{}` opened at column {} is never closed (truncated?)",
                        self.s[open] as char,
                        open + 1
                    ));
                }
                Some(&c) if c == close => {
                    self.i += 1;
                    break;
                }
                Some(_) => items.push(self.value()?),
            }
        }
        Ok(items)
    }

    fn dispatch(&mut self) -> Result<Edn, String> {
        self.i += 1;
        match self.s.get(self.i) {
            Some(b'{') => self.collection(b'}').map(Edn::Set),
            Some(b'_') => {
                // `#_form` discards the next form.
                self.i += 1;
                self.value()?;
                self.value()
            }
            Some(c) if c.is_ascii_alphabetic() => {
                // A tagged literal such as `#inst "..."` or a record `#jepsen.history.Op{...}`:
                // keep the tagged form.
                self.token();
                self.value()
            }
            _ => self.err("unsupported `#` form"),
        }
    }

    fn token(&mut self) -> String {
        let start = self.i;
        while self.i < self.s.len() && !is_delimiter(self.s[self.i]) {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    fn string(&mut self) -> Result<Edn, String> {
        let open = self.i;
        self.i += 1;
        let mut out = Vec::new();
        while let Some(&b) = self.s.get(self.i) {
            self.i += 1;
            match b {
                b'"' => {
                    return String::from_utf8(out)
                        .map(Edn::Str)
                        .map_err(|_| format!("string at column {} is not UTF-8", open + 1));
                }
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else { break };
                    self.i += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        other => other,
                    });
                }
                other => out.push(other),
            }
        }
        Err(format!(
            "string opened at column {} is never closed (truncated?)",
            open + 1
        ))
    }

    fn atom(&mut self) -> Result<Edn, String> {
        let start = self.i;
        let word = self.token();
        if word.is_empty() {
            return self.err(&format!("unexpected `{}`", self.s[start] as char));
        }
        Ok(match word.as_str() {
            "nil" => Edn::Nil,
            "true" => Edn::Bool(true),
            "false" => Edn::Bool(false),
            _ => {
                let first = word.as_bytes()[0];
                let numeric = first.is_ascii_digit()
                    || ((first == b'-' || first == b'+')
                        && word.len() > 1
                        && word.as_bytes()[1].is_ascii_digit());
                if numeric {
                    let digits = word.trim_end_matches(['N', 'M']);
                    if let Ok(i) = digits.parse::<i64>() {
                        Edn::Int(i)
                    } else if let Ok(x) = digits.parse::<f64>() {
                        Edn::Float(x)
                    } else {
                        return Err(format!("`{word}` at column {} is not a number", start + 1));
                    }
                } else {
                    Edn::Symbol(word)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_jepsen_op_map() {
        let v =
            parse(r#"{:process 3, :type :invoke, :f :cas, :key "k1", :value [1 4], :time 12N}"#)
                .unwrap();
        assert_eq!(v.get("process"), Some(&Edn::Int(3)));
        assert_eq!(v.get("type"), Some(&Edn::Keyword("invoke".into())));
        assert_eq!(v.get("key"), Some(&Edn::Str("k1".into())));
        assert_eq!(
            v.get("value"),
            Some(&Edn::Vector(vec![Edn::Int(1), Edn::Int(4)]))
        );
        assert_eq!(v.get("time"), Some(&Edn::Int(12)));
        assert_eq!(v.get("missing"), None);
    }

    #[test]
    fn handles_tags_sets_comments_and_discards() {
        let v = parse("#jepsen.history.Op{:a #{1 2} ; comment\n :b #_ 7 8 :c -3.5 :d \"q\\\"x\"}")
            .unwrap();
        assert_eq!(v.get("a"), Some(&Edn::Set(vec![Edn::Int(1), Edn::Int(2)])));
        assert_eq!(v.get("b"), Some(&Edn::Int(8)));
        assert_eq!(v.get("c"), Some(&Edn::Float(-3.5)));
        assert_eq!(v.get("d"), Some(&Edn::Str("q\"x".into())));
    }

    #[test]
    fn errors_say_where() {
        assert!(
            parse("{:a 1")
                .unwrap_err()
                .contains("never closed (truncated?)")
        );
        assert!(parse("{:a}").unwrap_err().contains("key without a value"));
        assert!(parse("[1 2] 3").unwrap_err().contains("column 7"));
        assert!(parse("\"abc").unwrap_err().contains("never closed"));
        assert!(parse("").unwrap_err().contains("ends early"));
        assert!(parse(")").unwrap_err().contains("unexpected `)`"));
        assert!(parse(&"[".repeat(100)).unwrap_err().contains("too deep"));
        assert!(
            parse(&format!("{}]", "[".repeat(60))).is_err(),
            "unbalanced"
        );
        assert!(parse(&format!("{}{}", "[".repeat(60), "]".repeat(60))).is_ok());
    }

    #[test]
    fn no_chain_of_forms_runs_the_stack_out() {
        // 25,000 discards overflowed the stack before: every nested form counts now.
        for chain in ["#_ ", "#tag ", "#{", "{:a "] {
            let text = format!("{}1", chain.repeat(25_000));
            let err = parse(&text).unwrap_err();
            assert!(err.contains("nesting too deep"), "{chain}: {err}");
        }
        assert!(parse("12abc").unwrap_err().contains("not a number"));
    }
}
