//! The national outputs: one enum over the transports, sending one encoded frame and
//! reporting success only when the transport accepted it.
//!
//! [`Sink::start`] hands a frame to the transport and returns a [`Pending`] confirmation:
//! UDP (`send_to`) and TCP (`write_all`) are confirmed when `start` returns, an MQTT QoS 1
//! publish on the broker's PUBACK ([`PubackWait`]). The egress keeps a window of such
//! confirmations open, in order; [`Sink::send`] is `start` and wait.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A frame the transport took, and how its delivery is confirmed.
#[derive(Debug)]
pub enum Pending {
    /// Confirmed already: the datagram was sent or the bytes were written to the connection.
    Done,
    /// An MQTT QoS 1 publish awaiting its PUBACK.
    Puback(PubackWait),
}

impl Pending {
    /// Wait for the confirmation. Cancel-safe: an unfinished wait can be resumed.
    pub async fn confirm(&mut self) -> Result<(), TransportError> {
        match self {
            Pending::Done => Ok(()),
            Pending::Puback(w) => w.confirm().await,
        }
    }
}

/// A national output.
#[derive(Debug)]
pub enum Sink {
    /// UDP, one frame per datagram.
    Udp {
        /// The socket.
        sock: UdpSocket,
        /// Destination.
        target: SocketAddr,
    },
    /// TCP connection made on demand; dropped and remade after a failure.
    TcpClient {
        /// The national system's address.
        addr: SocketAddr,
        /// The current connection.
        conn: Mutex<Option<TcpStream>>,
    },
    /// TCP listener; frames go to every connected client.
    TcpServer {
        /// Bound address.
        local: SocketAddr,
        /// Connected clients.
        clients: Arc<Mutex<Vec<(SocketAddr, OwnedWriteHalf)>>>,
    },
    /// MQTT publisher at QoS 1.
    Mqtt(MqttSink),
}

impl Sink {
    /// Open the output described by `cfg` for one frame in flight at a time (see
    /// [`open_with_window`](Self::open_with_window)).
    pub async fn open(
        cfg: &OutputConfig,
        site: Nation,
        shutdown: CancellationToken,
    ) -> Result<Self, TransportError> {
        Self::open_with_window(cfg, site, 1, shutdown).await
    }

    /// Open the output described by `cfg`, sized for up to `window` unconfirmed frames (MQTT:
    /// publishes awaiting PUBACK). Spawns background tasks (TCP accept, MQTT event loop) that
    /// stop with `shutdown`.
    pub async fn open_with_window(
        cfg: &OutputConfig,
        site: Nation,
        window: usize,
        shutdown: CancellationToken,
    ) -> Result<Self, TransportError> {
        match cfg {
            OutputConfig::Udp(u) => {
                use socket2::{Domain, Protocol, Socket, Type};
                let bind = u
                    .bind
                    .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
                let e = |op| io_err(op, &bind);
                let domain = if bind.is_ipv4() {
                    Domain::IPV4
                } else {
                    Domain::IPV6
                };
                let sock =
                    Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(e("socket"))?;
                if u.target.ip().is_multicast() {
                    sock.set_multicast_ttl_v4(u.multicast_ttl.unwrap_or(1))
                        .map_err(e("multicast_ttl"))?;
                    sock.set_multicast_loop_v4(u.multicast_loop)
                        .map_err(e("multicast_loop"))?;
                    if let Some(i) = u.multicast_interface {
                        sock.set_multicast_if_v4(&i).map_err(e("multicast_if"))?;
                    }
                }
                sock.set_nonblocking(true).map_err(e("nonblocking"))?;
                sock.bind(&bind.into()).map_err(e("bind"))?;
                let sock = UdpSocket::from_std(sock.into()).map_err(e("register"))?;
                Ok(Sink::Udp {
                    sock,
                    target: u.target,
                })
            }
            OutputConfig::TcpClient { connect } => Ok(Sink::TcpClient {
                addr: *connect,
                conn: Mutex::new(None),
            }),
            OutputConfig::TcpServer { bind } => {
                let listener = TcpListener::bind(bind)
                    .await
                    .map_err(io_err("bind", &bind))?;
                let local = listener.local_addr().map_err(io_err("bind", &bind))?;
                let clients: Arc<Mutex<Vec<(SocketAddr, OwnedWriteHalf)>>> = Arc::default();
                let c = clients.clone();
                tokio::spawn(async move {
                    loop {
                        let acc = tokio::select! {
                            () = shutdown.cancelled() => return,
                            a = listener.accept() => a,
                        };
                        match acc {
                            Ok((stream, peer)) => {
                                let _ = stream.set_nodelay(true);
                                let (_r, w) = stream.into_split();
                                tracing::info!(%site, %peer, "national client connected to egress listener");
                                c.lock().await.push((peer, w));
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "egress accept failed");
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                });
                Ok(Sink::TcpServer { local, clients })
            }
            OutputConfig::Mqtt(m) => Ok(Sink::Mqtt(MqttSink::start(m, site, window, shutdown)?)),
        }
    }

    /// Bound local address of a TCP server sink (for tests using port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Sink::TcpServer { local, .. } => Some(*local),
            Sink::Udp { sock, .. } => sock.local_addr().ok(),
            _ => None,
        }
    }

    /// Send one national frame; `Ok` only when the transport accepted it.
    pub async fn send(&self, frame: &[u8]) -> Result<(), TransportError> {
        self.start(frame).await?.confirm().await
    }

    /// Hand one national frame to the transport: UDP and TCP send it before returning
    /// ([`Pending::Done`]); MQTT queues the PUBLISH and confirms on its PUBACK.
    pub async fn start(&self, frame: &[u8]) -> Result<Pending, TransportError> {
        if let Sink::Mqtt(m) = self {
            return m.start_publish(frame).await.map(Pending::Puback);
        }
        self.send_now(frame).await.map(|()| Pending::Done)
    }

    /// After a failed send: accept frames again (MQTT refuses new publishes after a failure
    /// until then, so that what failed is resent before anything newer). No-op otherwise.
    pub fn resume(&self) {
        if let Sink::Mqtt(m) = self {
            m.resume();
        }
    }

    async fn send_now(&self, frame: &[u8]) -> Result<(), TransportError> {
        match self {
            Sink::Udp { sock, target } => {
                sock.send_to(frame, target)
                    .await
                    .map_err(io_err("send", &target))?;
                Ok(())
            }
            Sink::TcpClient { addr, conn } => {
                let mut guard = conn.lock().await;
                if guard.is_none() {
                    let s = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
                        .await
                        .map_err(|_| {
                            TransportError::Timeout(
                                format!("connect {addr}"),
                                Duration::from_secs(2),
                            )
                        })?
                        .map_err(io_err("connect", &addr))?;
                    let _ = s.set_nodelay(true);
                    *guard = Some(s);
                }
                let Some(stream) = guard.as_mut() else {
                    return Err(TransportError::NoPeer(addr.to_string()));
                };
                if let Err(e) = stream.write_all(frame).await {
                    *guard = None;
                    return Err(io_err("send", &addr)(e));
                }
                Ok(())
            }
            Sink::TcpServer { local, clients } => {
                let mut list = clients.lock().await;
                let mut ok = 0_usize;
                let mut i = 0;
                while i < list.len() {
                    let failed = match list.get_mut(i) {
                        Some((_, w)) => w.write_all(frame).await.is_err(),
                        None => break,
                    };
                    if failed {
                        let (peer, _) = list.swap_remove(i);
                        tracing::info!(%peer, "national client dropped from egress listener");
                    } else {
                        ok += 1;
                        i += 1;
                    }
                }
                if ok == 0 {
                    return Err(TransportError::NoPeer(local.to_string()));
                }
                Ok(())
            }
            Sink::Mqtt(m) => m.send(frame).await,
        }
    }
}
