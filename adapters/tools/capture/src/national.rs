//! Where the national systems' traffic runs in trilink's generated captures: the ports
//! `trilink scenario` writes `national.pcapng` with, and the [`CaptureMap`] that decodes it
//! (also `trilink replay`'s map when a capture has none beside it).

use trilink_schema::Nation;

use crate::decode::{CaptureMap, Framing};
use crate::link::Transport;

/// JP adapter ingress port in generated captures (UDP).
pub const JP_PORT: u16 = 5500;
/// KR national broker port in generated captures (MQTT over TCP).
pub const KR_PORT: u16 = 1883;
/// US adapter ingress port in generated captures (SIMPLE over TCP).
pub const US_PORT: u16 = 5601;

/// The capture map of `national.pcapng` as `trilink scenario` writes it: JP UDP datagrams to
/// [`JP_PORT`], KR MQTT PUBLISHes to the broker on [`KR_PORT`], US SIMPLE on one TCP stream to
/// [`US_PORT`].
pub fn national_map() -> CaptureMap {
    CaptureMap::new()
        .with(Nation::Jp, Transport::Udp, JP_PORT, Framing::Datagram)
        .with(Nation::Kr, Transport::Tcp, KR_PORT, Framing::Mqtt)
        .with(Nation::Us, Transport::Tcp, US_PORT, Framing::Stream)
}

/// The text `trilink replay` shows for [`national_map`].
pub const NATIONAL_MAP_NAME: &str = "built-in (jp udp 5500, kr mqtt 1883, us tcp 5601)";
