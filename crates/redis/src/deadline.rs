//! Reading a socket under a deadline as well as a per-read timeout: a server that sends a
//! reply a byte at a time, each byte just inside the timeout, cannot hold the caller past
//! the deadline.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The read half of a connection.
#[derive(Debug)]
pub(crate) struct TimedReader {
    stream: TcpStream,
    /// The longest wait for any one read (`None`: for ever).
    per_read: Option<Duration>,
    /// No read waits past this.
    deadline: Option<Instant>,
}

impl TimedReader {
    pub(crate) fn new(stream: TcpStream, per_read: Option<Duration>) -> Self {
        TimedReader {
            stream,
            per_read,
            deadline: None,
        }
    }

    /// Wait at most `per_read` for each read.
    pub(crate) fn set_per_read(&mut self, per_read: Option<Duration>) -> io::Result<()> {
        self.per_read = per_read;
        self.stream.set_read_timeout(per_read)
    }

    /// Read nothing past `deadline` (`None`: only the per-read timeout applies).
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        self.deadline = deadline;
        if deadline.is_none() {
            self.stream.set_read_timeout(self.per_read)?;
        }
        Ok(())
    }
}

impl Read for TimedReader {
    #[allow(clippy::disallowed_methods)] // a real socket's deadline is on the real clock
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the deadline passed before the reply was whole",
                ));
            }
            let wait = self.per_read.map_or(left, |p| p.min(left));
            self.stream.set_read_timeout(Some(wait))?;
        }
        self.stream.read(buf)
    }
}
