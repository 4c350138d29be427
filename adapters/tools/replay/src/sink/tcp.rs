//! The replay's TCP target (US SIMPLE over TCP): a blocking std stream that reconnects
//! with backoff when the connection breaks (adapter-us restarted) and resends the frame whose
//! write failed, so no frame is lost across a reconnect.
//!
//! Before each write, a non-blocking peek notices a connection the peer has closed (EOF or
//! reset), so the frame goes to the new connection instead of into a dead socket's buffer.
//! What TCP cannot tell — a write the kernel accepted just as the peer went away — can still
//! be lost; the US format has no application-level acknowledgement.

use std::io::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::Notice;

/// First wait before a reconnect attempt; doubled per failed attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// Longest wait between two reconnect attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How long one frame waits for the target to come back before it is counted as failed
/// (later frames then try once each, without waiting, until the target is back).
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A reconnecting TCP sender.
pub struct TcpSink {
    addr: SocketAddr,
    notice: Notice,
    stream: Option<TcpStream>,
    reconnects: u64,
    /// The last reconnect wait ran out: try once per frame, without waiting.
    down: bool,
}

/// A blocked write (the peer stopped reading) returns after this long to look at stop
/// requests, then goes on.
const WRITE_SLICE: Duration = Duration::from_millis(100);

fn open(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    s.set_nodelay(true)?;
    s.set_write_timeout(Some(WRITE_SLICE))?;
    Ok(s)
}

/// Why a frame was not written whole.
enum WriteFailed {
    /// The connection broke.
    Io(std::io::Error),
    /// A stop request came while the peer was not reading.
    Stopped,
}

/// Write all of `frame`; a write that blocks (the peer stopped reading) is retried in
/// [`WRITE_SLICE`]s until it goes through or `stopped()`.
fn write_frame(
    s: &mut TcpStream,
    mut frame: &[u8],
    stopped: &dyn Fn() -> bool,
) -> Result<(), WriteFailed> {
    use std::io::ErrorKind;
    while !frame.is_empty() {
        match s.write(frame) {
            Ok(0) => return Err(WriteFailed::Io(ErrorKind::WriteZero.into())),
            Ok(n) => frame = frame.get(n..).unwrap_or_default(),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                if stopped() {
                    return Err(WriteFailed::Stopped);
                }
            }
            Err(e) => return Err(WriteFailed::Io(e)),
        }
    }
    Ok(())
}

/// Whether the peer has closed (or reset) the connection: a non-blocking peek sees EOF or an
/// error. Data from the peer (never expected) counts as alive.
fn peer_gone(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return true;
    }
    let mut b = [0_u8; 1];
    let gone = match s.peek(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    gone || s.set_nonblocking(false).is_err()
}

impl std::fmt::Debug for TcpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpSink")
            .field("addr", &self.addr)
            .field("reconnects", &self.reconnects)
            .field("down", &self.down)
            .finish_non_exhaustive()
    }
}

impl TcpSink {
    /// Wrap a connected stream (blocking); reconnections and write failures are told to
    /// `notice`.
    pub fn new(addr: SocketAddr, stream: TcpStream, notice: Notice) -> Self {
        if let Err(e) = stream.set_write_timeout(Some(WRITE_SLICE)) {
            notice(&format!(
                "tcp://{addr}: no write timeout ({e}); a stop request may wait for the peer"
            ));
        }
        Self {
            addr,
            notice,
            stream: Some(stream),
            reconnects: 0,
            down: false,
        }
    }

    /// Reconnections made so far.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Connect again, waiting with exponential backoff up to [`GIVE_UP_AFTER`] (none when the
    /// target is already known to be down) or until `stopped()`.
    fn reconnect(&mut self, stopped: &dyn Fn() -> bool) -> Result<(), String> {
        let deadline = Instant::now()
            + if self.down {
                Duration::ZERO
            } else {
                GIVE_UP_AFTER
            };
        let mut wait = FIRST_BACKOFF;
        loop {
            match open(self.addr) {
                Ok(s) => {
                    self.stream = Some(s);
                    self.reconnects += 1;
                    self.down = false;
                    (self.notice)(&format!(
                        "reconnected to tcp://{} (reconnect {})",
                        self.addr, self.reconnects
                    ));
                    return Ok(());
                }
                Err(e) => {
                    if stopped() || Instant::now() + wait > deadline {
                        self.down = true;
                        return Err(format!("tcp://{} unreachable: {e}", self.addr));
                    }
                    // in short naps, so that a stop request is seen at once
                    let until = Instant::now() + wait;
                    while Instant::now() < until && !stopped() {
                        std::thread::sleep(FIRST_BACKOFF.min(until - Instant::now()));
                    }
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Write one whole frame; on a broken connection reconnect and write it again.
    pub fn send(&mut self, frame: &[u8], stopped: &dyn Fn() -> bool) -> Result<(), String> {
        if self.stream.as_ref().is_some_and(peer_gone) {
            self.stream = None;
        }
        // Two writes at most: on the existing connection, then on a fresh one.
        for _ in 0..2 {
            if self.stream.is_none() {
                self.reconnect(stopped)?;
            }
            let Some(s) = self.stream.as_mut() else {
                continue;
            };
            match write_frame(s, frame, stopped) {
                Ok(()) => return Ok(()),
                Err(WriteFailed::Stopped) => return Err(super::INTERRUPTED.into()),
                Err(WriteFailed::Io(e)) => {
                    (self.notice)(&format!(
                        "tcp://{}: {e}; reconnecting to resend the frame",
                        self.addr
                    ));
                    self.stream = None;
                }
            }
        }
        Err(format!(
            "tcp://{}: the frame could not be written after a reconnect",
            self.addr
        ))
    }

    /// Close the sending side; `true` when that failed.
    pub fn finish(self) -> bool {
        self.stream
            .is_none_or(|s| s.shutdown(std::net::Shutdown::Write).is_err())
    }
}
