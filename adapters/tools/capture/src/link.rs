//! Link, network and transport layer decoding of one captured frame (etherparse).

use std::net::{IpAddr, SocketAddr};

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};

use crate::error::CaptureErrorKind;

/// Link types this reader decodes.
pub(crate) mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const RAW_OPENBSD: u32 = 12;
    pub const RAW_BSD: u32 = 14;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// Transport protocol of a captured message.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// UDP datagram.
    Udp,
    /// Reassembled TCP stream data.
    Tcp,
}

/// A decoded transport segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment<'a> {
    Udp {
        src: SocketAddr,
        dst: SocketAddr,
        payload: &'a [u8],
    },
    Tcp {
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: &'a [u8],
    },
}

/// Why a frame carried nothing this reader uses (counted, not an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// Not IPv4/IPv6 (ARP, LLDP, …).
    NotIp,
    /// IP but neither UDP nor TCP (ICMP, …).
    NotUdpTcp,
    /// An IP fragment (reassembly of IP fragments is not supported).
    IpFragment,
    /// Headers do not parse or the frame was cut by the snap length.
    Malformed,
}

impl SkipReason {
    /// Snake-case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotIp => "not_ip",
            Self::NotUdpTcp => "not_udp_tcp",
            Self::IpFragment => "ip_fragment",
            Self::Malformed => "malformed",
        }
    }
}

pub(crate) fn decode_frame(
    linktype: u32,
    data: &[u8],
) -> Result<Result<Segment<'_>, SkipReason>, CaptureErrorKind> {
    use crate::link::linktype as lt;
    let sliced = match linktype {
        lt::ETHERNET => SlicedPacket::from_ethernet(data),
        lt::LINUX_SLL => {
            // 16-byte header; protocol type (an EtherType for IP) in the last two bytes.
            // (Decoded by hand: etherparse rejects the ARPHRD_LOOPBACK header type that
            // `-i any` captures of lo carry.)
            let (Some(proto), Some(rest)) = (data.get(14..16), data.get(16..)) else {
                return Ok(Err(SkipReason::Malformed));
            };
            let proto = u16::from_be_bytes(proto.try_into().unwrap_or([0, 0]));
            SlicedPacket::from_ether_type(EtherType(proto), rest)
        }
        lt::LINUX_SLL2 => {
            let (Some(proto), Some(rest)) = (data.get(..2), data.get(20..)) else {
                return Ok(Err(SkipReason::Malformed));
            };
            let proto = u16::from_be_bytes(proto.try_into().unwrap_or([0, 0]));
            SlicedPacket::from_ether_type(EtherType(proto), rest)
        }
        lt::RAW | lt::RAW_OPENBSD | lt::RAW_BSD | lt::IPV4 | lt::IPV6 => {
            SlicedPacket::from_ip(data)
        }
        lt::NULL | lt::LOOP => {
            let (Some(af), Some(rest)) = (data.get(..4), data.get(4..)) else {
                return Ok(Err(SkipReason::Malformed));
            };
            let af: [u8; 4] = af.try_into().unwrap_or([0; 4]);
            let family = if linktype == lt::LOOP {
                u32::from_be_bytes(af)
            } else {
                // host byte order of the capturing machine: accept either.
                let le = u32::from_le_bytes(af);
                if le < 256 { le } else { u32::from_be_bytes(af) }
            };
            match family {
                2 | 24 | 28 | 30 => SlicedPacket::from_ip(rest),
                _ => return Ok(Err(SkipReason::NotIp)),
            }
        }
        other => return Err(CaptureErrorKind::UnsupportedLinkType(other)),
    };
    let Ok(p) = sliced else {
        return Ok(Err(SkipReason::Malformed));
    };
    let (src_ip, dst_ip, fragmented): (IpAddr, IpAddr, bool) = match &p.net {
        Some(NetSlice::Ipv4(v4)) => (
            v4.header().source_addr().into(),
            v4.header().destination_addr().into(),
            v4.is_payload_fragmented(),
        ),
        Some(NetSlice::Ipv6(v6)) => (
            v6.header().source_addr().into(),
            v6.header().destination_addr().into(),
            v6.is_payload_fragmented(),
        ),
        _ => return Ok(Err(SkipReason::NotIp)),
    };
    if fragmented {
        return Ok(Err(SkipReason::IpFragment));
    }
    Ok(match p.transport {
        Some(TransportSlice::Udp(u)) => Ok(Segment::Udp {
            src: SocketAddr::new(src_ip, u.source_port()),
            dst: SocketAddr::new(dst_ip, u.destination_port()),
            payload: u.payload(),
        }),
        Some(TransportSlice::Tcp(t)) => Ok(Segment::Tcp {
            src: SocketAddr::new(src_ip, t.source_port()),
            dst: SocketAddr::new(dst_ip, t.destination_port()),
            seq: t.sequence_number(),
            syn: t.syn(),
            fin: t.fin(),
            rst: t.rst(),
            payload: t.payload(),
        }),
        _ => Err(SkipReason::NotUdpTcp),
    })
}
