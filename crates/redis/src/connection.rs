//! One connection to Redis: blocking, every wait bounded by the timeout, RESP2 or RESP3.

use crate::deadline::TimedReader;
use crate::resp::{Limits, Reply, encode_command, read_reply};
use crate::{RedisError, protocol};
use std::collections::VecDeque;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// RESP2: what every Redis speaks; pub/sub messages arrive as arrays.
    Resp2,
    /// RESP3 (`HELLO 3`, Redis 6 and later): typed replies and out-of-band pushes.
    Resp3,
}

/// How to connect.
#[derive(Clone, Debug)]
pub struct Options {
    /// The longest wait for any one connect, read or write (not zero).
    pub timeout: Duration,
    /// The protocol to speak.
    pub protocol: Protocol,
    /// What the reader believes.
    pub limits: Limits,
    /// Pushes kept for [`Connection::take_pushes`] while waiting for replies; beyond this
    /// they are dropped and counted ([`Connection::pushes_dropped`]).
    pub max_pushes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_millis(500),
            protocol: Protocol::Resp2,
            limits: Limits::default(),
            max_pushes: 4096,
        }
    }
}

/// One connection.
#[derive(Debug)]
pub struct Connection {
    reader: BufReader<TimedReader>,
    writer: TcpStream,
    limits: Limits,
    protocol: Protocol,
    pushes: VecDeque<Reply>,
    max_pushes: usize,
    pushes_dropped: u64,
}

impl Connection {
    /// Connect to `addr`, and for RESP3 say `HELLO 3` (a server that cannot is an error).
    pub fn connect(addr: SocketAddr, options: &Options) -> Result<Connection, RedisError> {
        if options.timeout.is_zero() {
            return Err(protocol("a zero timeout would wait for ever"));
        }
        let stream = TcpStream::connect_timeout(&addr, options.timeout)?;
        stream.set_read_timeout(Some(options.timeout))?;
        stream.set_write_timeout(Some(options.timeout))?;
        stream.set_nodelay(true)?;
        let mut conn = Connection {
            reader: BufReader::new(TimedReader::new(stream.try_clone()?, Some(options.timeout))),
            writer: stream,
            limits: options.limits,
            protocol: options.protocol,
            pushes: VecDeque::new(),
            max_pushes: options.max_pushes,
            pushes_dropped: 0,
        };
        if options.protocol == Protocol::Resp3 {
            match conn.call(&[b"HELLO", b"3"]) {
                Ok(Reply::Map(_)) => {}
                Ok(other) => return Err(protocol(format!("HELLO 3 answered {other:?}"))),
                Err(RedisError::Server(e)) => {
                    return Err(protocol(format!("the server does not speak RESP3: {e}")));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(conn)
    }

    /// The protocol it speaks.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Send one command and read its reply; an error reply is [`RedisError::Server`].
    /// Pushes that arrive first are set aside ([`Connection::take_pushes`]).
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Reply, RedisError> {
        self.send(args)?;
        match self.reply()? {
            Reply::Error(e) => Err(RedisError::Server(e)),
            reply => Ok(reply),
        }
    }

    /// Send several commands in one write and read their replies in order; error replies
    /// stay in the list as [`Reply::Error`] (one failed command does not hide the rest).
    pub fn pipeline(&mut self, commands: &[&[&[u8]]]) -> Result<Vec<Reply>, RedisError> {
        let mut buf = Vec::new();
        for args in commands {
            encode_command(&mut buf, args);
        }
        self.writer.write_all(&buf)?;
        self.writer.flush()?;
        commands.iter().map(|_| self.reply()).collect()
    }

    /// Send one command without waiting for a reply (`SUBSCRIBE`, whose confirmations
    /// come as messages).
    pub fn send(&mut self, args: &[&[u8]]) -> Result<(), RedisError> {
        let mut buf = Vec::new();
        encode_command(&mut buf, args);
        self.writer.write_all(&buf)?;
        self.writer.flush()?;
        Ok(())
    }

    /// The next frame, pushes included (those set aside first): what a subscriber reads.
    pub fn receive(&mut self) -> Result<Reply, RedisError> {
        match self.pushes.pop_front() {
            Some(push) => Ok(push),
            None => read_reply(&mut self.reader, &self.limits),
        }
    }

    /// The pushes set aside while waiting for replies, oldest first.
    pub fn take_pushes(&mut self) -> Vec<Reply> {
        self.pushes.drain(..).collect()
    }

    /// Pushes dropped because more than `max_pushes` were waiting: whoever relies on
    /// them (an invalidation listener) must assume it missed some.
    pub fn pushes_dropped(&self) -> u64 {
        self.pushes_dropped
    }

    /// Wait at most `timeout` for the next frame (`None`: for ever; a subscriber's
    /// heartbeat decides how long silence may last).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), RedisError> {
        if timeout.is_some_and(|t| t.is_zero()) {
            return Err(protocol("a zero timeout would wait for ever"));
        }
        self.reader.get_mut().set_per_read(timeout)?;
        Ok(())
    }

    /// Read nothing past `deadline`, however the server paces its bytes (`None`: each
    /// read waits at most the timeout again). One deadline bounds a whole exchange — a
    /// script, its reload and the retry — where the timeout bounds each read.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) -> Result<(), RedisError> {
        self.reader.get_mut().set_deadline(deadline)?;
        Ok(())
    }

    /// Another handle on the socket: shutting it down from another thread ends a
    /// [`Connection::receive`] that waits there.
    pub fn try_clone_stream(&self) -> Result<TcpStream, RedisError> {
        Ok(self.writer.try_clone()?)
    }

    /// This connection's id on the server (`CLIENT ID`): what `CLIENT TRACKING ...
    /// REDIRECT` names.
    pub fn client_id(&mut self) -> Result<i64, RedisError> {
        match self.call(&[b"CLIENT", b"ID"])? {
            Reply::Integer(id) => Ok(id),
            other => Err(protocol(format!("CLIENT ID answered {other:?}"))),
        }
    }

    /// The next reply that is not a push.
    fn reply(&mut self) -> Result<Reply, RedisError> {
        loop {
            match read_reply(&mut self.reader, &self.limits)? {
                Reply::Push(items) => {
                    if self.pushes.len() >= self.max_pushes {
                        self.pushes_dropped += 1;
                    } else {
                        self.pushes.push_back(Reply::Push(items));
                    }
                }
                reply => return Ok(reply),
            }
        }
    }
}
