//! The configurations of a local link's relay and adapters: loopback ports, the link's
//! credentials and CA, egress journals inside the link's work directory.

use std::fmt::Write as _;

use trilink_brokers::{Link, Role};
use trilink_schema::Nation;

use crate::error::{Result, failed};

/// The routing policy the demo and the benchmark run unless told otherwise.
pub const DEFAULT_POLICY: &str =
    include_str!("../../../../broker-config/policies/default-trilateral.toml");

fn creds(link: &Link, role: Role) -> Result<trilink_brokers::Credentials> {
    link.credentials(role).map_err(|e| failed!("{e}"))
}

/// The demo's relay configuration: one connection per nation account at the hub (TLS).
pub fn relay_config(link: &Link) -> Result<trilink_relay::RelayConfig> {
    // The demo replays a scenario with observation times up to its length in the past
    // (time-consistent at any speed, `demo::play`): contributions must not go stale against
    // the relay's clock meanwhile.
    let mut text = String::from(
        "component = \"relay-1\"\nstatus_interval_s = 2\n[picture]\ndrop_after_s = 7200\n",
    );
    for n in Nation::ALL {
        let c = creds(link, Role::Relay(n))?;
        let url = c.urls.first().cloned().unwrap_or_default();
        let _ = write!(
            text,
            "[[account]]\nnation = \"{n}\"\nnats_url = \"{url}\"\nuser = \"{}\"\npassword = \"{}\"\n",
            c.user, c.password
        );
    }
    if let Some(url) = creds(link, Role::Relay(Nation::Us))?.urls.first() {
        let ca = toml::Value::String(link.ca_file().display().to_string());
        text = format!("nats_url = \"{url}\"\njs_domain = \"hub\"\ntls_ca = {ca}\n{text}");
    }
    trilink_relay::RelayConfig::from_toml_str(&text, "demo relay config")
        .map_err(|e| failed!("{e}"))
}

fn nats_section(link: &Link, nation: Nation, domain: &str) -> Result<String> {
    let c = creds(link, Role::Adapter(nation))?;
    let url = c.urls.first().cloned().unwrap_or_default();
    // On the hub itself the US adapter uses the local JetStream API ($JS.API), which is
    // what its permissions allow; leaf adapters address their own domain.
    let domain = if nation == Nation::Us {
        // The hub's client port is TLS-only.
        let ca = toml::Value::String(link.ca_file().display().to_string());
        format!("tls_ca = {ca}\n")
    } else {
        format!("js_domain = \"{domain}\"\n")
    };
    Ok(format!(
        "[nats]\nurl = \"{url}\"\nuser = \"{}\"\npassword = \"{}\"\n{domain}",
        c.user, c.password
    ))
}

const TELEMETRY: &str = "[telemetry]\nlog_format = \"text\"\nlog_filter = \"warn\"\n";

/// `state_dir = "<link dir>/state/adapter-<n>"`: the egress journal inside the work directory.
fn state_dir(link: &Link, nation: Nation) -> String {
    let dir = link.dir().join("state").join(format!("adapter-{nation}"));
    format!(
        "state_dir = {}\n",
        toml::Value::String(dir.display().to_string())
    )
}

fn parse_adapter(text: &str, name: &str) -> Result<trilink_runtime::adapter::AdapterConfig> {
    trilink_runtime::config::load_str(text, std::path::Path::new(name), std::iter::empty())
        .map_err(|e| failed!("{e}"))
}

/// The demo's adapter-jp configuration (see [`adapter_jp_toml`]).
pub fn adapter_jp(
    link: &Link,
    ingress: u16,
    national: u16,
) -> Result<trilink_runtime::adapter::AdapterConfig> {
    parse_adapter(
        &adapter_jp_toml(link, ingress, national)?,
        "demo adapter-jp config",
    )
}

/// The demo's adapter-jp config as TOML text (UDP in on `ingress`, UDP out to `national`).
pub fn adapter_jp_toml(link: &Link, ingress: u16, national: u16) -> Result<String> {
    Ok(format!(
        "[adapter]\nnation = \"jp\"\nheartbeat_interval_ms = 2000\n{TELEMETRY}{}\n[[ingress]]\ntype = \"udp\"\nbind = \"127.0.0.1:{ingress}\"\n\n[egress]\nstream = \"OUT_JP\"\ndurable = \"adapter-jp\"\njs_domain = \"hub\"\n{}[[egress.outputs]]\ntype = \"udp\"\ntarget = \"127.0.0.1:{national}\"\n",
        nats_section(link, Nation::Jp, "jp")?,
        state_dir(link, Nation::Jp)
    ))
}

/// The demo's adapter-kr configuration (see [`adapter_kr_toml`]).
pub fn adapter_kr(link: &Link, mqtt_port: u16) -> Result<trilink_runtime::adapter::AdapterConfig> {
    parse_adapter(&adapter_kr_toml(link, mqtt_port)?, "demo adapter-kr config")
}

/// The demo's adapter-kr config as TOML text (MQTT both ways on the KR broker at `mqtt_port`).
pub fn adapter_kr_toml(link: &Link, mqtt_port: u16) -> Result<String> {
    Ok(format!(
        "[adapter]\nnation = \"kr\"\nheartbeat_interval_ms = 2000\n{TELEMETRY}{}\n[[ingress]]\ntype = \"mqtt\"\nhost = \"127.0.0.1\"\nport = {mqtt_port}\nclient_id = \"trilink-kr-in\"\ntopic = \"kr/warning/out\"\n\n[egress]\nstream = \"OUT_KR\"\ndurable = \"adapter-kr\"\njs_domain = \"hub\"\n{}[[egress.outputs]]\ntype = \"mqtt\"\nhost = \"127.0.0.1\"\nport = {mqtt_port}\nclient_id = \"trilink-kr-out\"\ntopic = \"kr/warning/in\"\n",
        nats_section(link, Nation::Kr, "kr")?,
        state_dir(link, Nation::Kr)
    ))
}

/// The demo's adapter-us configuration (see [`adapter_us_toml`]).
pub fn adapter_us(
    link: &Link,
    ingress: u16,
    national: u16,
) -> Result<trilink_runtime::adapter::AdapterConfig> {
    parse_adapter(
        &adapter_us_toml(link, ingress, national)?,
        "demo adapter-us config",
    )
}

/// The demo's adapter-us config as TOML text (TCP in on `ingress`, TCP out to `national`).
pub fn adapter_us_toml(link: &Link, ingress: u16, national: u16) -> Result<String> {
    Ok(format!(
        "[adapter]\nnation = \"us\"\nheartbeat_interval_ms = 2000\n{TELEMETRY}{}\n[[ingress]]\ntype = \"tcp_server\"\nbind = \"127.0.0.1:{ingress}\"\n\n[egress]\nstream = \"OUT_US\"\ndurable = \"adapter-us\"\n{}[[egress.outputs]]\ntype = \"tcp_client\"\nconnect = \"127.0.0.1:{national}\"\n",
        nats_section(link, Nation::Us, "hub")?,
        state_dir(link, Nation::Us)
    ))
}
