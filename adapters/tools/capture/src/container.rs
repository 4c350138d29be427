//! pcap / pcapng container parsing over an in-memory byte slice: yields link-layer frames
//! with their timestamps (UTC, nanoseconds) and the byte offset of their record.

use chrono::{DateTime, Utc};
use pcap_parser::pcapng::{Block, parse_block_be, parse_block_le};

use crate::error::{CaptureError, CaptureErrorKind};

/// The container formats this crate understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Legacy libpcap (either byte order, micro- or nanosecond timestamps).
    Pcap,
    /// pcapng.
    Pcapng,
    /// JSON Lines of common envelopes.
    Jsonl,
}

impl CaptureFormat {
    /// Recognise a capture from its first bytes; `None` for anything else.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        let magic = bytes.get(..4)?;
        match magic {
            [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x34, 0xcd, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xcd, 0x34] => Some(Self::Pcap),
            [0x0a, 0x0d, 0x0d, 0x0a] => Some(Self::Pcapng),
            [b'{', ..] => Some(Self::Jsonl),
            _ => None,
        }
    }

    /// As [`sniff`](Self::sniff), with a typed error naming `file` for anything else.
    pub fn detect(file: &str, bytes: &[u8]) -> Result<Self, CaptureError> {
        Self::sniff(bytes).ok_or_else(|| {
            CaptureError::new(
                file,
                0,
                CaptureErrorKind::UnknownFormat {
                    first_bytes: hex_prefix(bytes),
                },
            )
        })
    }
}

/// One link-layer frame from a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPacket<'a> {
    /// Byte offset of the record (pcap record header or pcapng block) in the file.
    pub offset: u64,
    /// Capture timestamp.
    pub timestamp: DateTime<Utc>,
    /// LINKTYPE_* of the interface.
    pub linktype: u32,
    /// Captured bytes (may be shorter than `orig_len` when a snap length cut it).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub orig_len: u32,
}

/// Largest record/block accepted (a larger declared length is corruption, not a packet).
const MAX_RECORD: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: u32,
    units_per_sec: u64,
    offset_secs: i64,
}

#[derive(Debug)]
enum State {
    Start,
    Pcap {
        big_endian: bool,
        nanos: bool,
        modified: bool,
        linktype: u32,
    },
    Pcapng {
        big_endian: bool,
        ifaces: Vec<Iface>,
        last_ts: DateTime<Utc>,
    },
    Done,
}

/// Iterator over the frames of a pcap or pcapng capture held in memory.
///
/// Fused: after the first error it returns `None`.
#[derive(Debug)]
pub struct PacketIter<'a> {
    file: String,
    data: &'a [u8],
    pos: usize,
    state: State,
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).fold(String::new(), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn rd_u32(b: &[u8], at: usize, be: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(s)
    } else {
        u32::from_le_bytes(s)
    })
}

fn rd_u16(b: &[u8], at: usize, be: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(s)
    } else {
        u16::from_le_bytes(s)
    })
}

/// Units per second from a pcapng `if_tsresol` value.
fn ts_units(tsresol: u8) -> Option<u64> {
    let exp = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 {
        10u64.checked_pow(exp)
    } else {
        1u64.checked_shl(exp).filter(|_| exp < 64)
    }
}

fn ts_from_units(units: u64, per_sec: u64, offset_secs: i64) -> Option<DateTime<Utc>> {
    if per_sec == 0 {
        return None;
    }
    let secs = units / per_sec;
    let frac = units % per_sec;
    let nanos = (u128::from(frac) * 1_000_000_000 / u128::from(per_sec)) as u32;
    let secs = i64::try_from(secs).ok()?.checked_add(offset_secs)?;
    DateTime::from_timestamp(secs, nanos)
}

impl<'a> PacketIter<'a> {
    /// Start iterating `data`, a pcap or pcapng file named `file` (for error messages).
    pub fn new(file: impl Into<String>, data: &'a [u8]) -> Self {
        Self {
            file: file.into(),
            data,
            pos: 0,
            state: State::Start,
        }
    }

    /// The file name given at construction.
    pub fn file(&self) -> &str {
        &self.file
    }

    fn err(&mut self, offset: usize, kind: CaptureErrorKind) -> CaptureError {
        self.state = State::Done;
        CaptureError::new(self.file.clone(), offset as u64, kind)
    }

    fn truncated(&mut self, offset: usize, what: &'static str, needed: usize) -> CaptureError {
        self.err(
            offset,
            CaptureErrorKind::Truncated {
                what,
                needed: needed as u64,
            },
        )
    }

    fn corrupt(&mut self, offset: usize, what: &'static str, detail: String) -> CaptureError {
        self.err(offset, CaptureErrorKind::Corrupt { what, detail })
    }

    fn start(&mut self) -> Result<(), CaptureError> {
        match CaptureFormat::sniff(self.data) {
            Some(CaptureFormat::Pcap) => self.start_pcap(),
            Some(CaptureFormat::Pcapng) => {
                self.state = State::Pcapng {
                    big_endian: false,
                    ifaces: Vec::new(),
                    last_ts: DateTime::UNIX_EPOCH,
                };
                Ok(())
            }
            _ if self.data.len() < 4 && !self.data.is_empty() => {
                Err(self.truncated(0, "capture magic number", 4 - self.data.len()))
            }
            _ => {
                let first_bytes = hex_prefix(self.data);
                Err(self.err(0, CaptureErrorKind::UnknownFormat { first_bytes }))
            }
        }
    }

    fn start_pcap(&mut self) -> Result<(), CaptureError> {
        let d = self.data;
        if d.len() < 24 {
            return Err(self.truncated(0, "pcap file header", 24 - d.len()));
        }
        let Some(magic) = rd_u32(d, 0, false) else {
            return Err(self.truncated(0, "pcap file header", 24));
        };
        let (big_endian, nanos, modified) = match magic {
            0xa1b2_c3d4 => (false, false, false),
            0xd4c3_b2a1 => (true, false, false),
            0xa1b2_3c4d => (false, true, false),
            0x4d3c_b2a1 => (true, true, false),
            0xa1b2_cd34 => (false, false, true),
            _ => (true, false, true),
        };
        let major = rd_u16(d, 4, big_endian).unwrap_or(0);
        if major != 2 {
            return Err(self.corrupt(
                4,
                "pcap file header",
                format!("version {major} (expected 2)"),
            ));
        }
        // The upper bits may carry FCS information; the link type is the low 16 bits.
        let linktype = rd_u32(d, 20, big_endian).unwrap_or(0) & 0xffff;
        self.pos = 24;
        self.state = State::Pcap {
            big_endian,
            nanos,
            modified,
            linktype,
        };
        Ok(())
    }

    fn next_pcap(
        &mut self,
        big_endian: bool,
        nanos: bool,
        modified: bool,
        linktype: u32,
    ) -> Result<Option<RawPacket<'a>>, CaptureError> {
        let d = self.data;
        let at = self.pos;
        let rest = d.get(at..).unwrap_or_default();
        if rest.is_empty() {
            self.state = State::Done;
            return Ok(None);
        }
        let hdr = if modified { 24 } else { 16 };
        if rest.len() < hdr {
            return Err(self.truncated(at, "pcap record header", hdr - rest.len()));
        }
        let (Some(sec), Some(frac), Some(caplen), Some(origlen)) = (
            rd_u32(rest, 0, big_endian),
            rd_u32(rest, 4, big_endian),
            rd_u32(rest, 8, big_endian),
            rd_u32(rest, 12, big_endian),
        ) else {
            return Err(self.truncated(at, "pcap record header", hdr));
        };
        let caplen = caplen as usize;
        if caplen > MAX_RECORD {
            return Err(self.corrupt(
                at,
                "pcap record header",
                format!("captured length {caplen} exceeds {MAX_RECORD}"),
            ));
        }
        let per_sec: u32 = if nanos { 1_000_000_000 } else { 1_000_000 };
        if frac >= per_sec {
            return Err(self.corrupt(
                at,
                "pcap record header",
                format!("fractional timestamp {frac} is not below {per_sec}"),
            ));
        }
        let Some(data) = rest.get(hdr..hdr + caplen) else {
            let needed = hdr + caplen - rest.len();
            return Err(self.truncated(at, "pcap record data", needed));
        };
        let nanos_part = if nanos { frac } else { frac * 1000 };
        let Some(timestamp) = DateTime::from_timestamp(i64::from(sec), nanos_part) else {
            return Err(self.corrupt(at, "pcap record header", "timestamp out of range".into()));
        };
        self.pos = at + hdr + caplen;
        Ok(Some(RawPacket {
            offset: at as u64,
            timestamp,
            linktype,
            data,
            orig_len: origlen,
        }))
    }

    #[allow(clippy::too_many_lines)]
    fn next_pcapng(&mut self) -> Result<Option<RawPacket<'a>>, CaptureError> {
        const WHAT: &str = "pcapng block";
        loop {
            let d = self.data;
            let at = self.pos;
            let rest = d.get(at..).unwrap_or_default();
            if rest.is_empty() {
                self.state = State::Done;
                return Ok(None);
            }
            if rest.len() < 12 {
                return Err(self.truncated(at, "pcapng block header", 12 - rest.len()));
            }
            let State::Pcapng { big_endian, .. } = self.state else {
                return Ok(None);
            };
            let is_shb = rest.get(..4) == Some(&[0x0a, 0x0d, 0x0d, 0x0a]);
            let mut be = big_endian;
            if is_shb {
                be = match rest.get(8..12) {
                    Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                    Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                    _ => {
                        return Err(self.corrupt(
                            at,
                            "pcapng section header",
                            format!(
                                "byte-order magic {} is neither 1a2b3c4d nor 4d3c2b1a",
                                hex_prefix(rest.get(8..12).unwrap_or_default())
                            ),
                        ));
                    }
                };
            } else if at == 0 {
                let first_bytes = hex_prefix(rest);
                return Err(self.err(0, CaptureErrorKind::UnknownFormat { first_bytes }));
            }
            let block_type = rd_u32(rest, 0, be).unwrap_or(0);
            let len = rd_u32(rest, 4, be).unwrap_or(0) as usize;
            if len < 12 || !len.is_multiple_of(4) || len > MAX_RECORD {
                return Err(self.corrupt(
                    at,
                    WHAT,
                    format!("block type {block_type:#010x} declares length {len} (must be a multiple of 4, 12..={MAX_RECORD})"),
                ));
            }
            let Some(block) = rest.get(..len) else {
                return Err(self.truncated(at, WHAT, len - rest.len()));
            };
            let trailer = rd_u32(block, len - 4, be).unwrap_or(0) as usize;
            if trailer != len {
                return Err(self.corrupt(
                    at,
                    WHAT,
                    format!("block type {block_type:#010x}: trailing length {trailer} differs from leading length {len}"),
                ));
            }
            let parsed = if be {
                parse_block_be(block)
            } else {
                parse_block_le(block)
            };
            let parsed = match parsed {
                Ok((_, b)) => b,
                Err(e) => {
                    let detail = match e {
                        pcap_parser::nom::Err::Incomplete(_) => {
                            format!(
                                "block type {block_type:#010x}: contents overrun the block length"
                            )
                        }
                        pcap_parser::nom::Err::Error(e) | pcap_parser::nom::Err::Failure(e) => {
                            format!("block type {block_type:#010x}: {e}")
                        }
                    };
                    return Err(self.corrupt(at, WHAT, detail));
                }
            };
            self.pos = at + len;
            let State::Pcapng {
                big_endian,
                ifaces,
                last_ts,
            } = &mut self.state
            else {
                return Ok(None);
            };
            match parsed {
                Block::SectionHeader(_) => {
                    *big_endian = be;
                    ifaces.clear();
                }
                Block::InterfaceDescription(idb) => {
                    let Some(units_per_sec) = ts_units(idb.if_tsresol) else {
                        let r = idb.if_tsresol;
                        return Err(self.corrupt(
                            at,
                            "pcapng interface description",
                            format!("invalid if_tsresol {r:#04x}"),
                        ));
                    };
                    ifaces.push(Iface {
                        linktype: u32::from(idb.linktype.0 as u16),
                        units_per_sec,
                        offset_secs: idb.if_tsoffset,
                    });
                }
                Block::EnhancedPacket(epb) => {
                    let Some(iface) = ifaces.get(epb.if_id as usize).copied() else {
                        let id = epb.if_id;
                        return Err(self.corrupt(
                            at,
                            "pcapng enhanced packet",
                            format!("interface id {id} was not declared by an interface description block"),
                        ));
                    };
                    let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let Some(timestamp) =
                        ts_from_units(units, iface.units_per_sec, iface.offset_secs)
                    else {
                        return Err(self.corrupt(
                            at,
                            "pcapng enhanced packet",
                            "timestamp out of range".into(),
                        ));
                    };
                    *last_ts = timestamp;
                    let caplen = epb.caplen as usize;
                    let Some(data) = epb.data.get(..caplen) else {
                        return Err(self.corrupt(
                            at,
                            "pcapng enhanced packet",
                            format!("captured length {caplen} exceeds the block"),
                        ));
                    };
                    return Ok(Some(RawPacket {
                        offset: at as u64,
                        timestamp,
                        linktype: iface.linktype,
                        data,
                        orig_len: epb.origlen,
                    }));
                }
                Block::SimplePacket(spb) => {
                    let Some(iface) = ifaces.first().copied() else {
                        return Err(self.corrupt(
                            at,
                            "pcapng simple packet",
                            "no interface description block precedes it".into(),
                        ));
                    };
                    let n = (spb.origlen as usize).min(spb.data.len());
                    let data = spb.data.get(..n).unwrap_or_default();
                    return Ok(Some(RawPacket {
                        offset: at as u64,
                        timestamp: *last_ts,
                        linktype: iface.linktype,
                        data,
                        orig_len: spb.origlen,
                    }));
                }
                _ => {}
            }
        }
    }
}

impl<'a> Iterator for PacketIter<'a> {
    type Item = Result<RawPacket<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if matches!(self.state, State::Start)
            && let Err(e) = self.start()
        {
            return Some(Err(e));
        }
        let r = match self.state {
            State::Start | State::Done => return None,
            State::Pcap {
                big_endian,
                nanos,
                modified,
                linktype,
            } => self.next_pcap(big_endian, nanos, modified, linktype),
            State::Pcapng { .. } => self.next_pcapng(),
        };
        r.transpose()
    }
}
