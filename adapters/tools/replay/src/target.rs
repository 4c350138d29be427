//! Where a replay sends each nation's national frames (`--jp`, `--kr`, `--us`), and where
//! `trilink record` listens for KR (`--kr-mqtt`).

use std::net::{SocketAddr, ToSocketAddrs};

/// Where a nation's national frames go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// UDP datagrams to an address.
    Udp(SocketAddr),
    /// A TCP stream to an address.
    Tcp(SocketAddr),
    /// MQTT PUBLISH on a broker; `None` topic = the captured one.
    Mqtt {
        /// Broker host.
        host: String,
        /// Broker port.
        port: u16,
        /// Topic override.
        topic: Option<String>,
    },
}

/// Parse `udp://H:P`, `tcp://H:P`, `mqtt://H:P[/topic]`.
pub fn parse_target(s: &str) -> Result<Target, String> {
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| format!("{s:?}: expected SCHEME://HOST:PORT (udp, tcp or mqtt)"))?;
    let resolve = |hp: &str| -> Result<SocketAddr, String> {
        hp.to_socket_addrs()
            .map_err(|e| format!("{s:?}: {hp:?} is not HOST:PORT ({e})"))?
            .next()
            .ok_or_else(|| format!("{s:?}: {hp:?} resolves to no address"))
    };
    match scheme {
        "udp" => resolve(rest).map(Target::Udp),
        "tcp" => resolve(rest).map(Target::Tcp),
        "mqtt" => {
            let (hp, topic) = match rest.split_once('/') {
                Some((hp, t)) if !t.is_empty() => (hp, Some(t.to_owned())),
                Some((hp, _)) => (hp, None),
                None => (rest, None),
            };
            let (host, port) = hp
                .rsplit_once(':')
                .ok_or_else(|| format!("{s:?}: expected mqtt://HOST:PORT[/TOPIC]"))?;
            let port = port
                .parse::<u16>()
                .map_err(|e| format!("{s:?}: bad port {port:?}: {e}"))?;
            if let Some(t) = &topic
                && t.contains(['+', '#'])
            {
                return Err(format!("{s:?}: a publish topic cannot contain + or #"));
            }
            Ok(Target::Mqtt {
                host: host.to_owned(),
                port,
                topic,
            })
        }
        other => Err(format!(
            "{s:?}: unknown scheme {other:?} (udp, tcp or mqtt)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("udp://127.0.0.1:5500").unwrap(),
            Target::Udp("127.0.0.1:5500".parse().unwrap())
        );
        assert_eq!(
            parse_target("tcp://127.0.0.1:5601").unwrap(),
            Target::Tcp("127.0.0.1:5601".parse().unwrap())
        );
        assert_eq!(
            parse_target("mqtt://127.0.0.1:1883/kr/warning/out").unwrap(),
            Target::Mqtt {
                host: "127.0.0.1".into(),
                port: 1883,
                topic: Some("kr/warning/out".into())
            }
        );
        assert_eq!(
            parse_target("mqtt://localhost:1883").unwrap(),
            Target::Mqtt {
                host: "localhost".into(),
                port: 1883,
                topic: None
            }
        );
        for bad in [
            "127.0.0.1:5500",
            "http://x:1",
            "udp://nope",
            "mqtt://h:99999",
            "mqtt://h:1/a/#",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }
}
