//! Reading a history file line by line within stated limits, so that no input — a
//! terabyte, `/dev/zero`, one endless line — takes more memory than the limits allow.

use super::ReadError;
use std::io::BufRead;

/// How much input a history reader takes before it stops with an error naming the limit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct InputLimits {
    /// The whole input, bytes.
    pub max_bytes: u64,
    /// One line, bytes (a history line is an event: a few hundred bytes).
    pub max_line_bytes: usize,
}

/// 1 GiB of history: several million events, and about as much memory again once read.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 1 << 30;
/// 1 MiB per line.
pub const MAX_LINE_BYTES: usize = 1 << 20;

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_bytes: DEFAULT_MAX_INPUT_BYTES,
            max_line_bytes: MAX_LINE_BYTES,
        }
    }
}

/// The lines of a reader, each with its 1-based number, within [`InputLimits`].
pub(crate) struct BoundedLines<R> {
    reader: R,
    limits: InputLimits,
    consumed: u64,
    line_no: usize,
    done: bool,
}

impl<R: BufRead> BoundedLines<R> {
    pub(crate) fn new(reader: R, limits: InputLimits) -> Self {
        BoundedLines {
            reader,
            limits,
            consumed: 0,
            line_no: 0,
            done: false,
        }
    }

    /// The next line without its `\n` (or `\r\n`), `None` at the end of input.
    fn next_line(&mut self) -> Result<Option<String>, ReadError> {
        let mut line: Vec<u8> = Vec::new();
        let mut saw_any = false;
        loop {
            let chunk = self
                .reader
                .fill_buf()
                .map_err(|e| ReadError::Io(e.to_string()))?;
            if chunk.is_empty() {
                break;
            }
            saw_any = true;
            let (take, ends) = match chunk.iter().position(|&b| b == b'\n') {
                Some(at) => (at + 1, true),
                None => (chunk.len(), false),
            };
            self.consumed += take as u64;
            if self.consumed > self.limits.max_bytes {
                return Err(ReadError::TooLarge {
                    limit: self.limits.max_bytes,
                });
            }
            if line.len() + take > self.limits.max_line_bytes + 1 {
                return Err(ReadError::LineTooLong {
                    line: self.line_no + 1,
                    limit: self.limits.max_line_bytes,
                });
            }
            line.extend_from_slice(&chunk[..take]);
            self.reader.consume(take);
            if ends {
                break;
            }
        }
        if !saw_any {
            return Ok(None);
        }
        self.line_no += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        String::from_utf8(line)
            .map(Some)
            .map_err(|e| ReadError::Syntax {
                line: self.line_no,
                message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
            })
    }
}

impl<R: BufRead> Iterator for BoundedLines<R> {
    type Item = Result<(usize, String), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_line() {
            Ok(Some(line)) => Some(Ok((self.line_no, line))),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Read};

    fn lines(text: &[u8], limits: InputLimits) -> Vec<Result<(usize, String), ReadError>> {
        BoundedLines::new(text, limits).collect()
    }

    #[test]
    fn splits_lines_and_drops_line_ends() {
        let got = lines(b"a\r\nb\n\nc", InputLimits::default());
        let got: Vec<(usize, String)> = got.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got,
            vec![
                (1, "a".to_string()),
                (2, "b".to_string()),
                (3, String::new()),
                (4, "c".to_string())
            ]
        );
    }

    #[test]
    fn an_endless_line_stops_at_the_line_limit() {
        // /dev/zero, in effect: no newline ever; memory stays within the limit.
        let zeros = BufReader::with_capacity(4096, std::io::repeat(0).take(1 << 30));
        let limits = InputLimits {
            max_line_bytes: 1 << 16,
            ..InputLimits::default()
        };
        let got: Vec<_> = BoundedLines::new(zeros, limits).collect();
        assert_eq!(
            got,
            vec![Err(ReadError::LineTooLong {
                line: 1,
                limit: 1 << 16
            })]
        );
    }

    #[test]
    fn too_much_input_stops_at_the_input_limit() {
        let many = BufReader::new(std::io::repeat(b'\n').take(10_000));
        let limits = InputLimits {
            max_bytes: 5_000,
            ..InputLimits::default()
        };
        let got: Vec<_> = BoundedLines::new(many, limits).collect();
        assert_eq!(got.len(), 5_001);
        assert_eq!(got.last(), Some(&Err(ReadError::TooLarge { limit: 5_000 })));
    }

    #[test]
    fn bad_utf8_names_its_line() {
        let got = lines(b"ok\n\xff\xfe\n", InputLimits::default());
        assert!(matches!(got[1], Err(ReadError::Syntax { line: 2, .. })));
        assert_eq!(got.len(), 2, "the reader stops at the first error");
    }
}
