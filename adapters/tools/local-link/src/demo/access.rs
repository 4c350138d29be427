//! What a user needs to reach a running demo from another terminal: every NATS server with
//! its users and passwords, the national ports and topics, the metrics URL, the link file, and
//! ready-to-paste `trilink replay` / `trilink record` / `trilink view` commands.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use trilink_brokers::{Link, Role, Site};
use trilink_schema::Nation;

/// The demo's national ports and topics (all on 127.0.0.1).
#[derive(Debug, Clone, Copy)]
pub struct NationalPorts {
    /// adapter-jp's UDP ingress (JP national reports in).
    pub jp_in: u16,
    /// The JP stand-in's UDP port (adapter-jp delivers there).
    pub jp_out: u16,
    /// The KR national MQTT broker (adapter-kr reads `kr/warning/out`, writes `kr/warning/in`).
    pub kr_mqtt: u16,
    /// adapter-us's TCP ingress (US national reports in).
    pub us_in: u16,
    /// The US stand-in's TCP listener (adapter-us delivers there).
    pub us_out: u16,
}

/// The users shown per site, in order.
fn site_roles(site: Site) -> Vec<Role> {
    match site {
        Site::Hub => {
            let mut v = vec![Role::Adapter(Nation::Us), Role::Viewer(Nation::Us)];
            v.extend(Nation::ALL.map(Role::Relay));
            v.extend(Nation::ALL.map(|n| Role::Admin(Site::Hub, n)));
            v
        }
        Site::Jp => vec![
            Role::Adapter(Nation::Jp),
            Role::Viewer(Nation::Jp),
            Role::Admin(Site::Jp, Nation::Jp),
        ],
        Site::Kr => vec![
            Role::Adapter(Nation::Kr),
            Role::Viewer(Nation::Kr),
            Role::Admin(Site::Kr, Nation::Kr),
        ],
    }
}

/// Write each nation's viewer password into `<link dir>/viewer-<n>.pass` (mode 0600), for
/// the printed commands that take a password file (`trilink replay --dlq-password-file`,
/// `--view-password-file`, `trilink view --password-file`).
pub fn write_viewer_password_files(link: &Link) -> std::io::Result<BTreeMap<Nation, PathBuf>> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut files = BTreeMap::new();
    for n in Nation::ALL {
        let c = link
            .credentials(Role::Viewer(n))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let path = link.dir().join(format!("{}.pass", c.user));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        writeln!(f, "{}", c.password)?;
        files.insert(n, path);
    }
    Ok(files)
}

/// The access block the demo prints once the link is up. `link_file` is the written
/// `link.json` (same URLs and passwords, machine-readable); `metrics` the bound address of the
/// metrics endpoint, when there is one; `viewer_pass` the viewers' password files
/// ([`write_viewer_password_files`]; empty: the replay-with-watch command is not printed).
pub fn text(
    link: &Link,
    ports: NationalPorts,
    metrics: Option<SocketAddr>,
    link_file: Option<&Path>,
    viewer_pass: &BTreeMap<Nation, PathBuf>,
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "=== how to reach this demo (all on 127.0.0.1) ===");
    let _ = writeln!(o, "NATS servers and users (user / password):");
    for (site, label) in [
        (Site::Hub, "hub (US node, domain hub)"),
        (Site::Jp, "JP leaf (domain jp)"),
        (Site::Kr, "KR leaf (domain kr)"),
    ] {
        let urls = link.urls(site).join(",");
        let tls = if site == Site::Hub {
            format!("  TLS-only, CA {}", link.ca_file().display())
        } else {
            String::new()
        };
        let _ = writeln!(o, "  {label:<26} {urls}{tls}");
        for role in site_roles(site) {
            if let Ok(c) = link.credentials(role) {
                let _ = writeln!(o, "    {:<12} {}", c.user, c.password);
            }
        }
    }
    if let Some(f) = link_file {
        let _ = writeln!(o, "  the same, as JSON: {}", f.display());
    }
    let _ = writeln!(
        o,
        "national systems (what the adapters listen to and deliver to):"
    );
    let _ = writeln!(
        o,
        "  JP  in  udp://127.0.0.1:{}  (adapter-jp ingress)     out udp 127.0.0.1:{} (JP stand-in)",
        ports.jp_in, ports.jp_out
    );
    let _ = writeln!(
        o,
        "  KR  mqtt://127.0.0.1:{}  in topic {} (adapter-kr reads)  out topic {} (KR stand-in)",
        ports.kr_mqtt,
        trilink_kr::REPORT_TOPIC,
        trilink_kr::DELIVERY_TOPIC
    );
    let _ = writeln!(
        o,
        "  US  in  tcp://127.0.0.1:{}  (adapter-us ingress)     out tcp 127.0.0.1:{} (US stand-in)",
        ports.us_in, ports.us_out
    );
    match metrics {
        Some(a) => {
            let _ = writeln!(
                o,
                "metrics (relay and the three adapters): http://{a}/metrics  health http://{a}/healthz  http://{a}/readyz"
            );
        }
        None => {
            let _ = writeln!(o, "metrics: not served");
        }
    }
    let _ = writeln!(
        o,
        "replay a national capture into it (from the repository root; with --keep-running):"
    );
    let _ = writeln!(
        o,
        "  trilink replay adapters/tools/scenario/samples/single_launch/national.pcapng --jp udp://127.0.0.1:{} --kr mqtt://127.0.0.1:{} --us tcp://127.0.0.1:{} --speed 10",
        ports.jp_in, ports.kr_mqtt, ports.us_in
    );
    if let (Some(jp_pass), Some(kr_pass), Some(jp_leaf), Some(kr_leaf)) = (
        viewer_pass.get(&Nation::Jp),
        viewer_pass.get(&Nation::Kr),
        link.urls(Site::Jp).first(),
        link.urls(Site::Kr).first(),
    ) {
        let _ = writeln!(
            o,
            "replay JP's part, report what adapter-jp dead-lettered of it (exit 1 if anything) and serve KR's view meanwhile:\n  trilink replay adapters/tools/scenario/samples/single_launch/national.pcapng --nation jp --jp udp://127.0.0.1:{} --speed 10 --dlq-nats {jp_leaf} --dlq-password-file {} --view-listen 127.0.0.1:0 --view-nats {kr_leaf} --view-user viewer-kr --view-password-file {} --view-hold-s 0",
            ports.jp_in,
            jp_pass.display(),
            kr_pass.display()
        );
    }
    for (n, site) in [(Nation::Jp, Site::Jp), (Nation::Kr, Site::Kr)] {
        if let (Ok(c), Some(url)) = (
            link.credentials(Role::Adapter(n)),
            link.urls(site).first().cloned(),
        ) {
            let _ = writeln!(
                o,
                "replay {n} envelopes (JSON Lines, one origin at a time):\n  TRILINK_NATS_PASSWORD={} trilink replay adapters/tools/scenario/samples/single_launch/reports.jsonl --nation {n} --nats {url} --user {} --js-domain {} --speed 10",
                c.password,
                c.user,
                site.domain()
            );
        }
    }
    if let (Ok(c), Some(url)) = (
        link.credentials(Role::Viewer(Nation::Kr)),
        link.urls(Site::Kr).first().cloned(),
    ) {
        let _ = writeln!(
            o,
            "record what KR receives:\n  TRILINK_NATS_PASSWORD={} trilink record --subject 'tl.out.kr.>' --nats {url} --user {} --out kr.jsonl",
            c.password, c.user
        );
    }
    let _ = writeln!(o, "=== end ===");
    o
}
