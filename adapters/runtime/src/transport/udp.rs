//! UDP ingress: the receive socket (reuse, multicast, buffer size), one frame per datagram,
//! and the kernel's drop counter for the socket.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Bind a UDP receive socket (address reuse, optional multicast join, buffer size).
pub fn bind_udp_in(cfg: &UdpInConfig) -> Result<UdpSocket, TransportError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr = cfg.bind;
    let e = |op| io_err(op, &addr);
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(e("socket"))?;
    if cfg.multicast_group.is_some() {
        sock.set_reuse_address(true).map_err(e("reuse_address"))?;
    }
    if let Some(n) = cfg.recv_buffer {
        sock.set_recv_buffer_size(n).map_err(e("recv_buffer"))?;
    }
    sock.set_nonblocking(true).map_err(e("nonblocking"))?;
    sock.bind(&addr.into()).map_err(e("bind"))?;
    if let Some(group) = cfg.multicast_group {
        let iface = cfg.multicast_interface.unwrap_or(Ipv4Addr::UNSPECIFIED);
        sock.join_multicast_v4(&group, &iface)
            .map_err(e("join_multicast"))?;
    }
    UdpSocket::from_std(sock.into()).map_err(e("register"))
}

/// Receive datagrams until `shutdown`; each is decoded with [`decode_message`] (one frame
/// per datagram).
pub async fn run_udp_in<C: NationalCodec>(
    sock: UdpSocket,
    codec: Arc<C>,
    label: Arc<str>,
    tx: InboundTx<C::Frame>,
    shutdown: CancellationToken,
) {
    let mut buf = vec![0_u8; 65_536];
    // Datagrams the kernel dropped because the socket buffer was full never reach recv: read
    // the socket's drop counter (/proc/net/udp{,6}) every second and count the difference.
    let inode = socket_inode(&sock);
    let mut drops_seen = inode.and_then(kernel_drops).unwrap_or(0);
    let mut drop_tick = tokio::time::interval(Duration::from_secs(1));
    drop_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let got = tokio::select! {
            () = shutdown.cancelled() => {
                count_kernel_drops(C::NATION, &label, inode, &mut drops_seen);
                return;
            }
            _ = drop_tick.tick() => {
                count_kernel_drops(C::NATION, &label, inode, &mut drops_seen);
                continue;
            }
            r = sock.recv_from(&mut buf) => r,
        };
        match got {
            Ok((n, _peer)) => {
                let received_at = Utc::now();
                events::received(C::NATION, &label, n);
                let msg = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                let item = decode_message(codec.as_ref(), &msg);
                if !forward(&tx, &label, received_at, [item]).await {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(transport = %label, error = %e, "udp receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn count_kernel_drops(site: Nation, label: &str, inode: Option<u64>, seen: &mut u64) {
    if let Some(now) = inode.and_then(kernel_drops)
        && now > *seen
    {
        events::udp_kernel_drops(site, label, now - *seen);
        *seen = now;
    }
}

/// The inode of a socket (what `/proc/net/udp` lists it by).
pub fn socket_inode(sock: &impl std::os::fd::AsRawFd) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(format!("/proc/self/fd/{}", sock.as_raw_fd()))
        .ok()
        .map(|m| m.ino())
}

/// The kernel's count of datagrams dropped on the UDP socket with `inode` (receive buffer
/// full), from `/proc/net/udp` and `/proc/net/udp6`; `None` when not found (not Linux).
pub fn kernel_drops(inode: u64) -> Option<u64> {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|text| udp_drops_in(&text, inode))
}

/// The `drops` column of the line of `/proc/net/udp` text whose inode is `inode`.
pub fn udp_drops_in(proc_net_udp: &str, inode: u64) -> Option<u64> {
    proc_net_udp.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        if cols.get(9)?.parse::<u64>().ok()? == inode {
            cols.get(12)?.parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod udp_drop_tests {
    use super::udp_drops_in;

    #[test]
    fn reads_the_drops_column_of_the_socket_by_inode() {
        let text = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:4E21 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 555001 2 0000000000000000 0
  124: 0100007F:4E22 00000000:0000 07 00000000:00002100 00:00000000 00000000     0        0 555002 2 0000000000000000 29328
";
        assert_eq!(udp_drops_in(text, 555_002), Some(29_328));
        assert_eq!(udp_drops_in(text, 555_001), Some(0));
        assert_eq!(udp_drops_in(text, 1), None);
        assert_eq!(udp_drops_in("garbage\nonly", 1), None);
    }
}
