//! Just enough of Redis's wire protocol (RESP2) for the distributed limiter: commands out
//! as arrays of bulk strings, replies in. The reply reader takes bytes from the network,
//! so it bounds what it will believe: lengths, nesting and line sizes are checked before
//! anything is allocated, and bad bytes are an error, never a panic.

use std::io::{self, BufRead, Write};

/// The longest bulk string accepted (the limiter's replies are a few bytes; this leaves
/// room for the script digest and error texts).
const MAX_BULK: usize = 1 << 20;
/// The most elements in one array reply.
const MAX_ARRAY: usize = 1 << 10;
/// Arrays within arrays.
const MAX_DEPTH: usize = 4;
/// The longest header or simple line.
const MAX_LINE: usize = 64 << 10;

/// A reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// What can go wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// Connecting, reading or writing failed, or timed out.
    #[error("redis i/o: {0}")]
    Io(#[from] io::Error),
    /// The bytes were not a RESP reply, or broke a bound.
    #[error("redis protocol: {0}")]
    Protocol(String),
    /// Redis answered with an error.
    #[error("redis error: {0}")]
    Server(String),
}

fn protocol(what: impl Into<String>) -> RedisError {
    RedisError::Protocol(what.into())
}

/// Write one command, in one write (one packet, on a socket without Nagle's delay).
pub(crate) fn write_command(out: &mut impl Write, args: &[&[u8]]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    write!(buf, "*{}\r\n", args.len())?;
    for arg in args {
        write!(buf, "${}\r\n", arg.len())?;
        buf.extend_from_slice(arg);
        buf.extend_from_slice(b"\r\n");
    }
    out.write_all(&buf)?;
    out.flush()
}

/// Read one reply.
pub(crate) fn read_reply(input: &mut impl BufRead) -> Result<Reply, RedisError> {
    read_at(input, 0)
}

fn read_line(input: &mut impl BufRead) -> Result<Vec<u8>, RedisError> {
    let mut line = Vec::new();
    let read = io::Read::take(&mut *input, MAX_LINE as u64 + 2).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Err(RedisError::Io(io::ErrorKind::UnexpectedEof.into()));
    }
    if !line.ends_with(b"\r\n") {
        return Err(protocol("a line without CRLF, or too long"));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn number(bytes: &[u8]) -> Result<i64, RedisError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            protocol(format!(
                "not a number: {:?}",
                String::from_utf8_lossy(bytes)
            ))
        })
}

/// A length prefix: -1 (none) or 0..=max.
fn length(bytes: &[u8], max: usize) -> Result<Option<usize>, RedisError> {
    match number(bytes)? {
        -1 => Ok(None),
        n if n >= 0 && (n as u64) <= max as u64 => Ok(Some(n as usize)),
        n => Err(protocol(format!("length {n} out of bounds"))),
    }
}

fn read_at(input: &mut impl BufRead, depth: usize) -> Result<Reply, RedisError> {
    let line = read_line(input)?;
    let (&kind, rest) = line
        .split_first()
        .ok_or_else(|| protocol("an empty line"))?;
    let text = || String::from_utf8_lossy(rest).into_owned();
    match kind {
        b'+' => Ok(Reply::Simple(text())),
        b'-' => Ok(Reply::Error(text())),
        b':' => Ok(Reply::Integer(number(rest)?)),
        b'$' => match length(rest, MAX_BULK)? {
            None => Ok(Reply::Bulk(None)),
            Some(n) => {
                let mut body = vec![0; n + 2];
                input.read_exact(&mut body)?;
                if !body.ends_with(b"\r\n") {
                    return Err(protocol("a bulk string without its CRLF"));
                }
                body.truncate(n);
                Ok(Reply::Bulk(Some(body)))
            }
        },
        b'*' => {
            if depth >= MAX_DEPTH {
                return Err(protocol("arrays nested too deep"));
            }
            match length(rest, MAX_ARRAY)? {
                None => Ok(Reply::Array(None)),
                Some(n) => (0..n)
                    .map(|_| read_at(input, depth + 1))
                    .collect::<Result<_, _>>()
                    .map(|items| Reply::Array(Some(items))),
            }
        }
        other => Err(protocol(format!("unknown reply type {:?}", other as char))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(bytes: &[u8]) -> Result<Reply, RedisError> {
        read_reply(&mut io::BufReader::new(bytes))
    }

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        write_command(&mut out, &[b"GET", b"k\r\n"]).unwrap();
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$3\r\nk\r\n\r\n");
    }

    #[test]
    fn replies_of_every_kind() {
        assert_eq!(parse(b"+OK\r\n").unwrap(), Reply::Simple("OK".into()));
        assert_eq!(
            parse(b"-NOSCRIPT x\r\n").unwrap(),
            Reply::Error("NOSCRIPT x".into())
        );
        assert_eq!(parse(b":-42\r\n").unwrap(), Reply::Integer(-42));
        assert_eq!(parse(b"$-1\r\n").unwrap(), Reply::Bulk(None));
        assert_eq!(
            parse(b"$4\r\na\r\nb\r\n").unwrap(),
            Reply::Bulk(Some(b"a\r\nb".to_vec()))
        );
        assert_eq!(
            parse(b"*2\r\n:1\r\n*1\r\n$0\r\n\r\n").unwrap(),
            Reply::Array(Some(vec![
                Reply::Integer(1),
                Reply::Array(Some(vec![Reply::Bulk(Some(Vec::new()))]))
            ]))
        );
    }

    #[test]
    fn bad_bytes_are_errors() {
        for bad in [
            &b""[..],
            b"+OK",
            b"+OK\n",
            b"\r\n",
            b"?x\r\n",
            b":12a\r\n",
            b"$-2\r\n",
            b"$99999999999\r\n",
            b"$3\r\nab\r\n",
            b"$2\r\nabcd",
            b"*-5\r\n",
            b"*2\r\n:1\r\n",
            b"*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
            b"*100000\r\n",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let long = [b"+".as_slice(), &vec![b'a'; MAX_LINE + 10], b"\r\n"].concat();
        assert!(parse(&long).is_err());
    }

    proptest! {
        /// Any bytes: a reply or an error, never a panic.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        /// Any bytes after a valid prefix: likewise.
        #[test]
        fn framed_garbage_parses_or_fails_cleanly(
            prefix in proptest::sample::select(vec!["*3\r\n", "$5\r\n", ":", "*1\r\n$", "+"]),
            bytes in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let _ = parse(&[prefix.as_bytes(), &bytes].concat());
        }
    }
}
