//! Redis's wire protocol: commands out as arrays of bulk strings, replies in, RESP2 and
//! RESP3. The reader takes bytes from the network, so it believes nothing it has not
//! bounded: lengths, counts, nesting and line sizes are checked against [`Limits`] before
//! anything is allocated, a whole reply shares one budget of elements and bytes (so
//! nesting cannot multiply a bound), and a bulk string grows only as its bytes arrive.

use crate::{RedisError, protocol};
use std::io::{self, BufRead, Read, Write};

/// A reply. RESP3's sets arrive as [`Reply::Array`], verbatim strings as
/// [`Reply::Bulk`] (without their format prefix), blob errors as [`Reply::Error`];
/// attributes are read and dropped.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`.
    Simple(String),
    /// `-ERR ...` or a blob error.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// A bulk (or verbatim) string.
    Bulk(Vec<u8>),
    /// RESP2's null bulk string or array, RESP3's null.
    Nil,
    /// An array or a set.
    Array(Vec<Reply>),
    /// A map (RESP3), in the order the server sent it.
    Map(Vec<(Reply, Reply)>),
    /// `#t` / `#f` (RESP3).
    Boolean(bool),
    /// A double, as the server wrote it (RESP3; `inf`, `-inf` and `nan` included).
    Double(String),
    /// A big number, as the server wrote it (RESP3).
    BigNumber(String),
    /// An out-of-band push (RESP3): invalidations, pub/sub messages.
    Push(Vec<Reply>),
}

impl Reply {
    /// The bytes of a bulk or simple string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The integer of an integer reply, or of a string holding one (Lua scripts and
    /// `GET` answer numbers as strings).
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Reply::Integer(n) => Some(*n),
            Reply::Bulk(_) | Reply::Simple(_) => {
                std::str::from_utf8(self.as_bytes()?).ok()?.parse().ok()
            }
            _ => None,
        }
    }

    /// The items of an array, set or push.
    pub fn as_items(&self) -> Option<&[Reply]> {
        match self {
            Reply::Array(items) | Reply::Push(items) => Some(items),
            _ => None,
        }
    }
}

/// How much of a reply the reader will believe. The defaults take any value a cache
/// keeps (up to 64 MiB) and any reply this crate's users ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest bulk string.
    pub max_bulk: usize,
    /// The most elements in one reply, nested ones included.
    pub max_elements: usize,
    /// Aggregates within aggregates.
    pub max_depth: usize,
    /// The longest header or simple line.
    pub max_line: usize,
    /// The most bulk bytes in one reply.
    pub max_reply_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk: 64 << 20,
            max_elements: 1 << 20,
            max_depth: 8,
            max_line: 64 << 10,
            max_reply_bytes: 256 << 20,
        }
    }
}

/// Write one command, in one write (one packet, on a socket without Nagle's delay).
pub fn write_command(out: &mut impl Write, args: &[&[u8]]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    encode_command(&mut buf, args);
    out.write_all(&buf)?;
    out.flush()
}

/// Append one command's bytes to `buf` (pipelines put several in one write).
pub fn encode_command(buf: &mut Vec<u8>, args: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        buf.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        buf.extend_from_slice(arg);
        buf.extend_from_slice(b"\r\n");
    }
}

/// Read one reply (a push is a reply too: the caller sets it aside).
pub fn read_reply(input: &mut impl BufRead, limits: &Limits) -> Result<Reply, RedisError> {
    let mut budget = Budget {
        elements: limits.max_elements,
        bytes: limits.max_reply_bytes,
    };
    Reader {
        input,
        limits,
        budget: &mut budget,
    }
    .reply(0)
}

struct Budget {
    elements: usize,
    bytes: usize,
}

struct Reader<'a, R> {
    input: &'a mut R,
    limits: &'a Limits,
    budget: &'a mut Budget,
}

impl<R: BufRead> Reader<'_, R> {
    fn line(&mut self) -> Result<Vec<u8>, RedisError> {
        let mut line = Vec::new();
        let read = (&mut *self.input)
            .take(self.limits.max_line as u64 + 2)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            return Err(RedisError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        if !line.ends_with(b"\r\n") {
            return Err(protocol("a line without CRLF, or too long"));
        }
        line.truncate(line.len() - 2);
        Ok(line)
    }

    /// A count or length: -1 (none) or 0..=max.
    fn length(&self, bytes: &[u8], max: usize) -> Result<Option<usize>, RedisError> {
        match number(bytes)? {
            -1 => Ok(None),
            n if n >= 0 && (n as u64) <= max as u64 => Ok(Some(n as usize)),
            n => Err(protocol(format!("length {n} out of bounds"))),
        }
    }

    fn take_elements(&mut self, n: usize) -> Result<(), RedisError> {
        self.budget.elements = self
            .budget
            .elements
            .checked_sub(n)
            .ok_or_else(|| protocol("more elements than one reply may hold"))?;
        Ok(())
    }

    fn bulk(&mut self, header: &[u8]) -> Result<Option<Vec<u8>>, RedisError> {
        let Some(n) = self.length(header, self.limits.max_bulk)? else {
            return Ok(None);
        };
        self.budget.bytes = self
            .budget
            .bytes
            .checked_sub(n)
            .ok_or_else(|| protocol("more bytes than one reply may hold"))?;
        // Grows as bytes arrive: a length the server does not deliver costs nothing.
        let mut body = Vec::new();
        (&mut *self.input)
            .take(n as u64 + 2)
            .read_to_end(&mut body)?;
        if body.len() < n + 2 {
            return Err(RedisError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        if !body.ends_with(b"\r\n") {
            return Err(protocol("a bulk string without its CRLF"));
        }
        body.truncate(n);
        Ok(Some(body))
    }

    fn items(&mut self, count: usize, depth: usize) -> Result<Vec<Reply>, RedisError> {
        self.take_elements(count)?;
        let mut items = Vec::new();
        for _ in 0..count {
            items.push(self.reply(depth + 1)?);
        }
        Ok(items)
    }

    fn aggregate(&mut self, header: &[u8], depth: usize) -> Result<Option<usize>, RedisError> {
        if depth >= self.limits.max_depth {
            return Err(protocol("aggregates nested too deep"));
        }
        self.length(header, self.limits.max_elements)
    }

    fn reply(&mut self, depth: usize) -> Result<Reply, RedisError> {
        let line = self.line()?;
        let (&kind, rest) = line
            .split_first()
            .ok_or_else(|| protocol("an empty line"))?;
        let text = || String::from_utf8_lossy(rest).into_owned();
        Ok(match kind {
            b'+' => Reply::Simple(text()),
            b'-' => Reply::Error(text()),
            b':' => Reply::Integer(number(rest)?),
            b'_' if rest.is_empty() => Reply::Nil,
            b'#' => match rest {
                b"t" => Reply::Boolean(true),
                b"f" => Reply::Boolean(false),
                _ => return Err(protocol("a boolean neither t nor f")),
            },
            b',' => Reply::Double(checked_text(rest, |c| {
                c.is_ascii_alphanumeric() || b"+-.".contains(&c)
            })?),
            b'(' => Reply::BigNumber(checked_text(rest, |c| {
                c.is_ascii_digit() || c == b'-' || c == b'+'
            })?),
            b'$' => self.bulk(rest)?.map_or(Reply::Nil, Reply::Bulk),
            b'!' => Reply::Error(
                String::from_utf8_lossy(&self.bulk(rest)?.unwrap_or_default()).into_owned(),
            ),
            b'=' => match self.bulk(rest)? {
                Some(body) if body.len() >= 4 && body[3] == b':' => Reply::Bulk(body[4..].to_vec()),
                _ => return Err(protocol("a verbatim string without its format")),
            },
            b'*' | b'~' => match self.aggregate(rest, depth)? {
                None => Reply::Nil,
                Some(n) => Reply::Array(self.items(n, depth)?),
            },
            b'>' => match self.aggregate(rest, depth)? {
                None => return Err(protocol("a null push")),
                Some(n) => Reply::Push(self.items(n, depth)?),
            },
            b'%' | b'|' => {
                let Some(n) = self.aggregate(rest, depth)? else {
                    return Err(protocol("a null map"));
                };
                let pairs = self.items(
                    n.checked_mul(2).ok_or_else(|| protocol("map too large"))?,
                    depth,
                )?;
                let mut map = Vec::new();
                let mut flat = pairs.into_iter();
                while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                    map.push((k, v));
                }
                if kind == b'|' {
                    // An attribute: metadata about the reply that follows; not kept. The
                    // reply counts one level deeper, so a chain of them is bounded too.
                    return self.reply(depth + 1);
                }
                Reply::Map(map)
            }
            other => return Err(protocol(format!("unknown reply type {:?}", other as char))),
        })
    }
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

fn checked_text(bytes: &[u8], allowed: impl Fn(u8) -> bool) -> Result<String, RedisError> {
    if bytes.is_empty() || !bytes.iter().all(|&c| allowed(c)) {
        return Err(protocol(format!(
            "not a number: {:?}",
            String::from_utf8_lossy(bytes)
        )));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
#[path = "resp_tests.rs"]
mod tests;
