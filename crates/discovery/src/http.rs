//! Just enough HTTP/1.1 for etcd's JSON gateway and health checks: one request per
//! connection, the response read to its end within a deadline and a size bound, chunked
//! or not. The server's bytes are untrusted: a malformed response is an error, never a
//! panic.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The largest response believed.
const MAX_RESPONSE: u64 = 16 << 20;

/// What went wrong with one exchange.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// Connecting, writing or reading failed or timed out.
    Io(std::io::Error),
    /// The response was not HTTP, or too large.
    Malformed(String),
}

/// POST `body` (JSON) to `path` at `addr`; the status and the body.
pub(crate) fn post(
    addr: SocketAddr,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), HttpError> {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, &request, timeout)
}

/// GET `path` at `addr`; the status and the body.
pub(crate) fn get(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), HttpError> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    exchange(addr, &request, timeout)
}

fn exchange(
    addr: SocketAddr,
    request: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), HttpError> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout).map_err(HttpError::Io)?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(HttpError::Io)?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(HttpError::Io)?;
    stream
        .write_all(request.as_bytes())
        .map_err(HttpError::Io)?;
    let mut raw = Vec::new();
    (&mut stream)
        .take(MAX_RESPONSE + 1)
        .read_to_end(&mut raw)
        .map_err(HttpError::Io)?;
    if raw.len() as u64 > MAX_RESPONSE {
        return Err(HttpError::Malformed("a response over 16 MiB".into()));
    }
    parse(&raw)
}

/// The status and body of a whole response.
pub(crate) fn parse(raw: &[u8]) -> Result<(u16, Vec<u8>), HttpError> {
    let malformed = |what: &str| HttpError::Malformed(what.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| malformed("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| malformed("headers not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| {
            l.strip_prefix("HTTP/1.1 ")
                .or_else(|| l.strip_prefix("HTTP/1.0 "))
        })
        .and_then(|l| l.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| malformed("no status line"))?;
    let chunked = lines.any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = &raw[end + 4..];
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok((status, body))
}

/// The data of a chunked body (trailers dropped).
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, HttpError> {
    let malformed = |what: &str| HttpError::Malformed(what.to_string());
    let mut out = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| malformed("a chunk without its size line"))?;
        let size_text =
            std::str::from_utf8(&rest[..line_end]).map_err(|_| malformed("a chunk size"))?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| malformed("a chunk size"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size + 2 || &rest[size..size + 2] != b"\r\n" {
            return Err(malformed("a chunk shorter than its size"));
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_and_chunked_bodies() {
        let (status, body) = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!((status, body.as_slice()), (200, &b"{}"[..]));
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nTrailer: t\r\n\r\n";
        let (status, body) = parse(chunked).unwrap();
        assert_eq!((status, body.as_slice()), (404, &b"abcde"[..]));
    }

    #[test]
    fn malformed_responses_are_errors() {
        for bad in [
            &b""[..],
            b"HTTP/1.1 200 OK\r\n",
            b"SMTP 220\r\n\r\n",
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffff\r\nab\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
            let mut framed = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            framed.extend_from_slice(&bytes);
            let _ = parse(&framed);
        }
    }
}
