//! Per-flow TCP reassembly by sequence number (retransmissions dropped, out-of-order
//! segments buffered up to a bound, gaps reported rather than hidden).

use std::collections::HashMap;
use std::net::SocketAddr;

/// One direction of a TCP connection.
pub type FlowKey = (SocketAddr, SocketAddr);

/// In-order bytes released by the reassembler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpChunk {
    /// The bytes, contiguous with the previous chunk of the flow unless `lost_before > 0`.
    pub bytes: Vec<u8>,
    /// Bytes of the stream that were never captured just before this chunk (0 normally).
    pub lost_before: u64,
}

#[derive(Debug, Default)]
struct Flow {
    /// Next expected sequence number; `None` until the first SYN or data segment.
    next: Option<u32>,
    /// Out-of-order segments: (sequence number, bytes).
    pending: Vec<(u32, Vec<u8>)>,
    pending_bytes: usize,
}

/// `a - b` as a signed distance in sequence space.
fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl Flow {
    /// Release whatever is now contiguous at `next`, appending to `out`.
    fn drain_pending(&mut self, out: &mut Vec<u8>) {
        let Some(mut next) = self.next else { return };
        loop {
            let mut progressed = false;
            let mut i = 0;
            while i < self.pending.len() {
                let Some((seq, data)) = self.pending.get(i) else {
                    break;
                };
                let d = seq_diff(*seq, next);
                if d <= 0 {
                    let (seq, data) = self.pending.swap_remove(i);
                    self.pending_bytes -= data.len();
                    let skip = usize::try_from(-seq_diff(seq, next)).unwrap_or(usize::MAX);
                    if let Some(new) = data.get(skip..).filter(|n| !n.is_empty()) {
                        out.extend_from_slice(new);
                        next = next.wrapping_add(new.len() as u32);
                        progressed = true;
                    }
                    continue;
                }
                let _ = data;
                i += 1;
            }
            if !progressed {
                break;
            }
        }
        self.next = Some(next);
    }

    /// Give up on the hole before the earliest pending segment; returns the bytes skipped.
    fn skip_gap(&mut self) -> u64 {
        let Some(next) = self.next else { return 0 };
        let earliest = self
            .pending
            .iter()
            .map(|(s, _)| *s)
            .min_by_key(|s| seq_diff(*s, next));
        match earliest {
            Some(s) => {
                let lost = seq_diff(s, next).max(0) as u64;
                self.next = Some(s);
                lost
            }
            None => 0,
        }
    }
}

/// Reassembles every TCP flow of a capture.
#[derive(Debug)]
pub struct TcpReassembler {
    flows: HashMap<FlowKey, Flow>,
    max_pending: usize,
}

impl TcpReassembler {
    /// Default bound on out-of-order bytes buffered per flow (1 MiB).
    pub const DEFAULT_MAX_PENDING: usize = 1024 * 1024;

    /// A reassembler buffering at most `max_pending` out-of-order bytes per flow; when a
    /// flow exceeds it, the hole is given up and reported as `lost_before`.
    pub fn new(max_pending: usize) -> Self {
        Self {
            flows: HashMap::new(),
            max_pending,
        }
    }

    /// Feed one segment; returns in-order data released by it (if any).
    #[allow(clippy::too_many_arguments, clippy::fn_params_excessive_bools)]
    pub fn push(
        &mut self,
        key: FlowKey,
        seq: u32,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: &[u8],
    ) -> Option<TcpChunk> {
        if syn {
            // A (new) connection: forget any previous state of this 4-tuple.
            let flow = Flow {
                next: Some(seq.wrapping_add(1)),
                ..Flow::default()
            };
            self.flows.insert(key, flow);
            if payload.is_empty() {
                return None;
            }
        }
        let max_pending = self.max_pending;
        let flow = self.flows.entry(key).or_default();
        let data_seq = if syn { seq.wrapping_add(1) } else { seq };
        let mut out = Vec::new();
        let mut lost_before = 0;
        if !payload.is_empty() {
            let next = *flow.next.get_or_insert(data_seq);
            let d = seq_diff(data_seq, next);
            if d <= 0 {
                let skip = usize::try_from(-d).unwrap_or(usize::MAX);
                if let Some(new) = payload.get(skip..).filter(|n| !n.is_empty()) {
                    out.extend_from_slice(new);
                    flow.next = Some(next.wrapping_add(new.len() as u32));
                }
            } else {
                flow.pending.push((data_seq, payload.to_vec()));
                flow.pending_bytes += payload.len();
                if flow.pending_bytes > max_pending {
                    lost_before = flow.skip_gap();
                }
            }
            flow.drain_pending(&mut out);
        }
        // FIN/RST: nothing to do here; a segment reordered after the FIN is still accepted and
        // data held behind a hole is released by `flush` at the end of the capture.
        let _ = (fin, rst);
        (!out.is_empty()).then_some(TcpChunk {
            bytes: out,
            lost_before,
        })
    }

    /// At the end of a capture: release data still held behind holes, flow by flow
    /// (sorted by flow key for a deterministic order).
    pub fn flush(&mut self) -> Vec<(FlowKey, TcpChunk)> {
        let mut keys: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, f)| !f.pending.is_empty())
            .map(|(k, _)| *k)
            .collect();
        keys.sort();
        let mut res = Vec::new();
        for key in keys {
            if let Some(flow) = self.flows.get_mut(&key) {
                while !flow.pending.is_empty() {
                    let lost_before = flow.skip_gap();
                    let mut out = Vec::new();
                    flow.drain_pending(&mut out);
                    if out.is_empty() {
                        break;
                    }
                    res.push((
                        key,
                        TcpChunk {
                            bytes: out,
                            lost_before,
                        },
                    ));
                }
            }
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FlowKey {
        (
            "10.0.0.1:1000".parse().unwrap(),
            "10.0.0.2:2000".parse().unwrap(),
        )
    }

    fn data(r: &mut TcpReassembler, seq: u32, p: &[u8]) -> Option<TcpChunk> {
        r.push(key(), seq, false, false, false, p)
    }

    fn bytes(c: Option<TcpChunk>) -> Vec<u8> {
        c.map(|c| c.bytes).unwrap_or_default()
    }

    #[test]
    fn in_order_after_syn() {
        let mut r = TcpReassembler::new(1024);
        assert!(r.push(key(), 99, true, false, false, &[]).is_none());
        assert_eq!(bytes(data(&mut r, 100, b"abc")), b"abc");
        assert_eq!(bytes(data(&mut r, 103, b"de")), b"de");
    }

    #[test]
    fn out_of_order_is_held_then_released_in_order() {
        let mut r = TcpReassembler::new(1024);
        r.push(key(), 99, true, false, false, &[]);
        assert!(data(&mut r, 106, b"ghi").is_none());
        assert!(data(&mut r, 103, b"def").is_none());
        assert_eq!(bytes(data(&mut r, 100, b"abc")), b"abcdefghi");
    }

    #[test]
    fn retransmissions_and_overlaps_are_trimmed() {
        let mut r = TcpReassembler::new(1024);
        r.push(key(), 99, true, false, false, &[]);
        assert_eq!(bytes(data(&mut r, 100, b"abcd")), b"abcd");
        assert!(data(&mut r, 100, b"abcd").is_none(), "full retransmission");
        assert_eq!(bytes(data(&mut r, 102, b"cdef")), b"ef", "partial overlap");
        // overlapping out-of-order segments
        assert!(data(&mut r, 108, b"ijkl").is_none());
        assert!(data(&mut r, 110, b"klmn").is_none());
        assert_eq!(bytes(data(&mut r, 106, b"gh")), b"ghijklmn");
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut r = TcpReassembler::new(1024);
        r.push(key(), u32::MAX - 2, true, false, false, &[]);
        assert_eq!(bytes(data(&mut r, u32::MAX - 1, b"ab")), b"ab");
        assert!(data(&mut r, 2, b"ef").is_none());
        assert_eq!(bytes(data(&mut r, 0, b"cd")), b"cdef");
    }

    #[test]
    fn mid_stream_start_without_syn() {
        let mut r = TcpReassembler::new(1024);
        assert_eq!(bytes(data(&mut r, 5000, b"xy")), b"xy");
        assert_eq!(bytes(data(&mut r, 5002, b"z")), b"z");
    }

    #[test]
    fn buffering_is_bounded_and_the_gap_is_reported() {
        let mut r = TcpReassembler::new(8);
        r.push(key(), 99, true, false, false, &[]);
        assert!(data(&mut r, 110, b"12345").is_none());
        // the hole 100..110 never arrives; exceeding the bound gives it up
        let c = data(&mut r, 115, b"6789").unwrap();
        assert_eq!(c.bytes, b"123456789");
        assert_eq!(c.lost_before, 10);
    }

    #[test]
    fn flush_releases_data_behind_a_hole() {
        let mut r = TcpReassembler::new(1024);
        r.push(key(), 99, true, false, false, &[]);
        assert_eq!(bytes(data(&mut r, 100, b"ab")), b"ab");
        assert!(data(&mut r, 105, b"fg").is_none());
        let out = r.flush();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1.bytes, b"fg");
        assert_eq!(out[0].1.lost_before, 3);
        assert!(r.flush().is_empty());
    }

    #[test]
    fn new_syn_resets_the_flow() {
        let mut r = TcpReassembler::new(1024);
        r.push(key(), 99, true, false, false, &[]);
        assert_eq!(bytes(data(&mut r, 100, b"ab")), b"ab");
        r.push(key(), 102, false, true, false, &[]);
        r.push(key(), 7000, true, false, false, &[]);
        assert_eq!(bytes(data(&mut r, 7001, b"new")), b"new");
    }
}
