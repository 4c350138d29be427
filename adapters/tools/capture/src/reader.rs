//! From a capture file to [`CapturedMessage`]s: container parsing, link decoding and TCP
//! reassembly.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::container::PacketIter;
use crate::error::{CaptureError, CaptureErrorKind};
use crate::link::{Segment, SkipReason, Transport, decode_frame};
use crate::tcp::TcpReassembler;

/// One UDP datagram, or one in-order chunk of a reassembled TCP stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedMessage {
    /// Capture timestamp of the packet that carried (for TCP: completed) these bytes.
    pub timestamp: DateTime<Utc>,
    /// UDP or TCP.
    pub transport: Transport,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// Datagram payload, or stream bytes contiguous with the previous chunk of this flow.
    pub bytes: Bytes,
    /// TCP only: stream bytes that were never captured just before this chunk (a hole the
    /// reassembler gave up on). A stream decoder must resynchronise when this is non-zero.
    pub lost_before: u64,
    /// Byte offset in the file of the packet record that produced this message.
    pub offset: u64,
}

/// What the reader saw besides the messages it yielded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Link-layer frames read.
    pub packets: u64,
    /// UDP datagrams yielded.
    pub udp_datagrams: u64,
    /// TCP segments processed (with or without payload).
    pub tcp_segments: u64,
    /// In-order TCP chunks yielded.
    pub tcp_chunks: u64,
    /// TCP stream bytes lost in holes.
    pub tcp_bytes_lost: u64,
    /// Frames skipped, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
}

/// Reads a pcap/pcapng capture held in memory and yields [`CapturedMessage`]s in capture
/// order. Fused after the first error.
#[derive(Debug)]
pub struct CaptureReader<'a> {
    packets: PacketIter<'a>,
    tcp: TcpReassembler,
    queue: VecDeque<CapturedMessage>,
    stats: ReadStats,
    last: (DateTime<Utc>, u64),
    done: bool,
}

impl<'a> CaptureReader<'a> {
    /// Read `data`, the contents of the pcap or pcapng file `file` (used in errors).
    pub fn new(file: impl Into<String>, data: &'a [u8]) -> Self {
        Self::with_tcp_buffer(file, data, TcpReassembler::DEFAULT_MAX_PENDING)
    }

    /// As [`new`](Self::new), buffering at most `max_pending` out-of-order bytes per TCP flow.
    pub fn with_tcp_buffer(file: impl Into<String>, data: &'a [u8], max_pending: usize) -> Self {
        Self {
            packets: PacketIter::new(file, data),
            tcp: TcpReassembler::new(max_pending),
            queue: VecDeque::new(),
            stats: ReadStats::default(),
            last: (DateTime::UNIX_EPOCH, 0),
            done: false,
        }
    }

    /// Counters so far (complete once the iterator returned `None`).
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    fn skip(&mut self, reason: SkipReason, offset: u64) {
        tracing::trace!(
            file = self.packets.file(),
            offset,
            reason = reason.as_str(),
            "frame skipped"
        );
        *self.stats.skipped.entry(reason).or_insert(0) += 1;
    }

    fn step(&mut self) -> Result<bool, CaptureError> {
        let Some(pkt) = self.packets.next().transpose()? else {
            for ((src, dst), chunk) in self.tcp.flush() {
                self.stats.tcp_chunks += 1;
                self.stats.tcp_bytes_lost += chunk.lost_before;
                self.queue.push_back(CapturedMessage {
                    timestamp: self.last.0,
                    transport: Transport::Tcp,
                    src,
                    dst,
                    bytes: Bytes::from(chunk.bytes),
                    lost_before: chunk.lost_before,
                    offset: self.last.1,
                });
            }
            return Ok(false);
        };
        self.stats.packets += 1;
        self.last = (pkt.timestamp, pkt.offset);
        let seg = decode_frame(pkt.linktype, pkt.data)
            .map_err(|kind| CaptureError::new(self.packets.file().to_owned(), pkt.offset, kind))?;
        match seg {
            Err(reason) => self.skip(reason, pkt.offset),
            Ok(Segment::Udp { src, dst, payload }) => {
                self.stats.udp_datagrams += 1;
                self.queue.push_back(CapturedMessage {
                    timestamp: pkt.timestamp,
                    transport: Transport::Udp,
                    src,
                    dst,
                    bytes: Bytes::copy_from_slice(payload),
                    lost_before: 0,
                    offset: pkt.offset,
                });
            }
            Ok(Segment::Tcp {
                src,
                dst,
                seq,
                syn,
                fin,
                rst,
                payload,
            }) => {
                self.stats.tcp_segments += 1;
                if let Some(chunk) = self.tcp.push((src, dst), seq, syn, fin, rst, payload) {
                    self.stats.tcp_chunks += 1;
                    self.stats.tcp_bytes_lost += chunk.lost_before;
                    self.queue.push_back(CapturedMessage {
                        timestamp: pkt.timestamp,
                        transport: Transport::Tcp,
                        src,
                        dst,
                        bytes: Bytes::from(chunk.bytes),
                        lost_before: chunk.lost_before,
                        offset: pkt.offset,
                    });
                }
            }
        }
        Ok(true)
    }
}

impl Iterator for CaptureReader<'_> {
    type Item = Result<CapturedMessage, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(m) = self.queue.pop_front() {
                return Some(Ok(m));
            }
            if self.done {
                return None;
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(e) => {
                    self.done = true;
                    self.queue.clear();
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Read every message of an in-memory pcap/pcapng capture.
pub fn read_messages(
    file: &str,
    data: &[u8],
) -> Result<(Vec<CapturedMessage>, ReadStats), CaptureError> {
    let mut reader = CaptureReader::new(file, data);
    let msgs = reader.by_ref().collect::<Result<Vec<_>, _>>()?;
    Ok((msgs, reader.stats().clone()))
}

/// Read a whole capture file into memory (the only file I/O of the reading side).
pub fn read_file(path: &Path) -> Result<Vec<u8>, CaptureError> {
    std::fs::read(path)
        .map_err(|e| CaptureError::new(path.display().to_string(), 0, CaptureErrorKind::Io(e)))
}
