//! The `[[ingress]]` and `[[egress.outputs]]` tables and their checks.

#[allow(clippy::wildcard_imports)]
use super::*;

/// UDP receive socket.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct UdpInConfig {
    /// Local address to bind (`0.0.0.0:7000`; use the group's port for multicast).
    #[serde(deserialize_with = "socket_addr")]
    pub bind: SocketAddr,
    /// IPv4 multicast group to join.
    #[serde(default)]
    pub multicast_group: Option<Ipv4Addr>,
    /// Interface address for the multicast join (default `0.0.0.0`: the kernel chooses).
    #[serde(default)]
    pub multicast_interface: Option<Ipv4Addr>,
    /// Kernel receive buffer size in bytes.
    #[serde(default)]
    pub recv_buffer: Option<usize>,
}

/// UDP send socket.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct UdpOutConfig {
    /// Destination (unicast address or multicast group and port).
    #[serde(deserialize_with = "socket_addr")]
    pub target: SocketAddr,
    /// Local address to bind (default `0.0.0.0:0`).
    #[serde(default)]
    pub bind: Option<SocketAddr>,
    /// Multicast TTL (default 1).
    #[serde(default)]
    pub multicast_ttl: Option<u32>,
    /// Interface address for multicast sends.
    #[serde(default)]
    pub multicast_interface: Option<Ipv4Addr>,
    /// Whether multicast sends loop back to this host (default true, useful on one machine).
    #[serde(default = "yes")]
    pub multicast_loop: bool,
}

fn yes() -> bool {
    true
}

/// MQTT endpoint (the national system's broker).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    #[serde(default = "mqtt_port")]
    pub port: u16,
    /// Client id (must be unique on the broker; ingress and egress need different ids).
    pub client_id: String,
    /// Topic: the subscription filter for ingress, the publish topic for egress.
    pub topic: String,
    /// User name.
    #[serde(default)]
    pub username: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// Keep-alive in seconds.
    #[serde(default = "keep_alive")]
    pub keep_alive_s: u64,
    /// Persistent session (QoS 1 messages queued by the broker while disconnected).
    #[serde(default = "yes")]
    pub persistent_session: bool,
    /// MQTT over TLS (`[ingress.tls]`, `[egress.outputs.tls]`): trust anchors, optional client
    /// certificate, optional server name. When present the connection is TLS-only.
    #[serde(default)]
    pub tls: Option<ClientTlsConfig>,
}

fn mqtt_port() -> u16 {
    1883
}
fn keep_alive() -> u64 {
    30
}

/// Where national input comes from (`[[ingress]]` entries, tagged by `type`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum IngressConfig {
    /// UDP datagrams, exactly one frame each (a datagram with anything after its frame is
    /// dead-lettered whole).
    Udp(UdpInConfig),
    /// A TCP listener the national system connects to.
    TcpServer {
        /// Address to listen on.
        #[serde(deserialize_with = "socket_addr")]
        bind: SocketAddr,
    },
    /// A TCP connection the adapter makes to the national system (reconnects with backoff).
    TcpClient {
        /// Address to connect to.
        #[serde(deserialize_with = "socket_addr")]
        connect: SocketAddr,
    },
    /// An MQTT subscription (QoS 1).
    Mqtt(MqttConfig),
}

/// Where national output goes (`[[egress.outputs]]` entries, tagged by `type`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutputConfig {
    /// UDP datagrams, one frame each.
    Udp(UdpOutConfig),
    /// A TCP listener; frames go to every connected national client.
    TcpServer {
        /// Address to listen on.
        #[serde(deserialize_with = "socket_addr")]
        bind: SocketAddr,
    },
    /// A TCP connection to the national system (connected on demand).
    TcpClient {
        /// Address to connect to.
        #[serde(deserialize_with = "socket_addr")]
        connect: SocketAddr,
    },
    /// MQTT publish at QoS 1; a send succeeds on PUBACK.
    Mqtt(MqttConfig),
}

/// A socket address `IP:PORT`; the error quotes the value and says what is wrong with it (the
/// loader then names the field holding that value).
pub(crate) fn socket_addr<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.parse::<SocketAddr>().map_err(|_| {
        let why = match text.rsplit_once(':').map(|(_, p)| p.parse::<u64>()) {
            Some(Ok(p)) if p > 65_535 => format!("port {p} is out of range 1-65535"),
            Some(Ok(_)) => {
                "expected IP:PORT with a numeric IP (e.g. 0.0.0.0:7000, [::1]:7000)".to_owned()
            }
            _ => "expected IP:PORT (e.g. 0.0.0.0:7000)".to_owned(),
        };
        serde::de::Error::custom(format!("invalid socket address \"{text}\": {why}"))
    })
}

fn nonzero_port(key: &str, field: &str, addr: SocketAddr) -> Result<(), Invalid> {
    crate::check::port(&format!("{key}.{field}"), addr.port())
}

fn check_mqtt(key: &str, m: &MqttConfig) -> Result<(), Invalid> {
    crate::check::port(&format!("{key}.port"), m.port)?;
    if m.host.is_empty() {
        return Err(Invalid::new(format!("{key}.host"), "must not be empty"));
    }
    if m.client_id.is_empty() || m.client_id.len() > 23 {
        return Err(Invalid::new(
            format!("{key}.client_id"),
            "must be 1-23 characters (MQTT 3.1.1)",
        ));
    }
    if m.topic.is_empty() {
        return Err(Invalid::new(format!("{key}.topic"), "must not be empty"));
    }
    if m.keep_alive_s < 5 {
        return Err(Invalid::new(
            format!("{key}.keep_alive_s"),
            "must be at least 5",
        ));
    }
    if let Some(tls) = &m.tls {
        tls.validate(key, &m.host)?;
    }
    Ok(())
}

impl IngressConfig {
    /// Check values; `key` is this entry's path (`ingress[0]`).
    pub fn validate(&self, key: &str) -> Result<(), Invalid> {
        match self {
            IngressConfig::Udp(u) => {
                if let Some(g) = u.multicast_group
                    && !g.is_multicast()
                {
                    return Err(Invalid::new(
                        format!("{key}.multicast_group"),
                        format!("{g} is not an IPv4 multicast address"),
                    ));
                }
                nonzero_port(key, "bind", u.bind)
            }
            IngressConfig::Mqtt(m) => {
                check_mqtt(key, m)?;
                if m.topic.contains('+') && m.topic.contains('#') && !m.topic.ends_with('#') {
                    return Err(Invalid::new(format!("{key}.topic"), "`#` must be last"));
                }
                Ok(())
            }
            IngressConfig::TcpServer { bind } => nonzero_port(key, "bind", *bind),
            IngressConfig::TcpClient { connect } => nonzero_port(key, "connect", *connect),
        }
    }

    /// Label used in metrics and dead-letter headers.
    pub fn label(&self) -> String {
        match self {
            IngressConfig::Udp(u) => match u.multicast_group {
                Some(g) => format!("udp:{g}:{}", u.bind.port()),
                None => format!("udp:{}", u.bind),
            },
            IngressConfig::TcpServer { bind } => format!("tcp-server:{bind}"),
            IngressConfig::TcpClient { connect } => format!("tcp-client:{connect}"),
            IngressConfig::Mqtt(m) => format!("mqtt:{}", m.topic),
        }
    }
}

impl OutputConfig {
    /// Check values; `key` is this entry's path (`egress.outputs[0]`).
    pub fn validate(&self, key: &str) -> Result<(), Invalid> {
        match self {
            OutputConfig::Mqtt(m) => {
                check_mqtt(key, m)?;
                if m.topic.contains(['+', '#']) {
                    return Err(Invalid::new(
                        format!("{key}.topic"),
                        "a publish topic cannot contain wildcards",
                    ));
                }
                Ok(())
            }
            OutputConfig::Udp(u) => {
                if u.target.port() == 0 {
                    return Err(Invalid::new(format!("{key}.target"), "port must not be 0"));
                }
                Ok(())
            }
            OutputConfig::TcpServer { bind } => nonzero_port(key, "bind", *bind),
            OutputConfig::TcpClient { connect } => nonzero_port(key, "connect", *connect),
        }
    }

    /// Label used in metrics.
    pub fn label(&self) -> String {
        match self {
            OutputConfig::Udp(u) => format!("udp:{}", u.target),
            OutputConfig::TcpServer { bind } => format!("tcp-server:{bind}"),
            OutputConfig::TcpClient { connect } => format!("tcp-client:{connect}"),
            OutputConfig::Mqtt(m) => format!("mqtt:{}", m.topic),
        }
    }
}
