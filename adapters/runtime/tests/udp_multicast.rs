//! UDP multicast: the ingress socket joins a group, the egress sink sends to it.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use trilink_runtime::transport::{OutputConfig, Sink, UdpInConfig, UdpOutConfig, bind_udp_in};
use trilink_schema::Nation;

#[tokio::test]
async fn multicast_sink_reaches_joined_receiver() {
    let port = common::free_udp_port();
    let group = Ipv4Addr::new(239, 255, 42, 7);
    let iface = std::env::var("TRILINK_TEST_MCAST_IF")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(Ipv4Addr::LOCALHOST);
    let rx = bind_udp_in(&UdpInConfig {
        bind: SocketAddr::from(([0, 0, 0, 0], port)),
        multicast_group: Some(group),
        multicast_interface: Some(iface),
        recv_buffer: None,
    })
    .unwrap();
    let token = trilink_runtime::CancellationToken::new();
    let sink = Sink::open(
        &OutputConfig::Udp(UdpOutConfig {
            target: SocketAddr::from((group, port)),
            bind: None,
            multicast_ttl: Some(0),
            multicast_interface: Some(iface),
            multicast_loop: true,
        }),
        Nation::Jp,
        token.clone(),
    )
    .await
    .unwrap();
    sink.send(b"hello group").await.unwrap();
    let mut buf = [0_u8; 64];
    let (n, _) = tokio::time::timeout(Duration::from_secs(3), rx.recv_from(&mut buf))
        .await
        .expect("multicast datagram not received")
        .unwrap();
    assert_eq!(&buf[..n], b"hello group");
    token.cancel();
}
