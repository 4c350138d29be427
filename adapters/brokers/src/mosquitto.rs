//! A real mosquitto (MQTT broker) on loopback: the KR national system's broker for `trilink
//! demo` and `trilink bench`, and the MQTT broker of every test. The only place that starts
//! mosquitto; killed by PID when the [`Mosquitto`] is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::launcher::{LaunchError, free_port, io, wait_port_blocking};

/// Environment variable naming the mosquitto binary.
pub const MOSQUITTO_BIN_ENV: &str = "MOSQUITTO_BIN";

/// How long the starts here wait for the listeners.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The mosquitto binary: `MOSQUITTO_BIN`, then `PATH`, then Debian's `/usr/sbin`.
pub fn find_mosquitto_bin() -> Result<PathBuf, LaunchError> {
    if let Some(p) = std::env::var_os(MOSQUITTO_BIN_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join("mosquitto"))
        .find(|p| p.is_file())
        .ok_or(LaunchError::MosquittoMissing)
}

/// A listener on `port` at 127.0.0.1 that accepts anonymous clients (a config fragment).
pub fn anonymous_listener(port: u16) -> String {
    format!("listener {port} 127.0.0.1\nallow_anonymous true\n")
}

/// A running mosquitto; killed and reaped on drop.
#[derive(Debug)]
pub struct Mosquitto {
    child: Option<Child>,
    ports: Vec<u16>,
    dir: PathBuf,
    // A temporary directory owned by this broker (see [`Mosquitto::spawn_temp`]), removed
    // after the process is gone.
    temp: Option<tempfile::TempDir>,
}

impl Mosquitto {
    /// Start mosquitto with the config `body` (its `listener` lines and their settings; `{{DIR}}`
    /// is replaced by `dir`) after `persistence false`, written to `<dir>/mosquitto.conf`; its output goes to
    /// `<dir>/mosquitto.log`. Does not wait: see [`Mosquitto::wait_listening`]. `ports` are
    /// the listener ports of `body`, the first one being [`Mosquitto::port`].
    pub fn spawn(dir: &Path, body: &str, ports: &[u16]) -> Result<Self, LaunchError> {
        Self::spawn_with(dir, "persistence false\n", body, ports)
    }

    fn spawn_with(
        dir: &Path,
        persistence: &str,
        body: &str,
        ports: &[u16],
    ) -> Result<Self, LaunchError> {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "{persistence}{}\n",
                body.replace("{{DIR}}", &dir.display().to_string())
            ),
        )
        .map_err(io(format!("writing {}", conf.display())))?;
        Ok(Mosquitto {
            child: Some(Self::exec(dir)?),
            ports: ports.to_vec(),
            dir: dir.to_owned(),
            temp: None,
        })
    }

    /// Run mosquitto on `<dir>/mosquitto.conf`, its output appended to `<dir>/mosquitto.log`.
    fn exec(dir: &Path) -> Result<Child, LaunchError> {
        let bin = find_mosquitto_bin()?;
        let conf = dir.join("mosquitto.conf");
        let log_path = dir.join("mosquitto.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io(format!("opening {}", log_path.display())))?;
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io(format!("starting {}", bin.display())))?;
        tracing::info!(pid = child.id(), "mosquitto started");
        Ok(child)
    }

    /// [`Mosquitto::spawn`] in a temporary directory of its own, removed on drop.
    pub fn spawn_temp(body: &str, ports: &[u16]) -> Result<Self, LaunchError> {
        let temp = tempfile::tempdir().map_err(io("creating a mosquitto directory"))?;
        let mut m = Self::spawn(temp.path(), body, ports)?;
        m.temp = Some(temp);
        Ok(m)
    }

    /// The demo's national broker: one anonymous listener on a free port, a deep queue for
    /// offline subscribers, config and log in `dir`; returns once it accepts connections.
    pub async fn start(dir: &Path) -> Result<Self, LaunchError> {
        Self::start_national(dir, "persistence false\n").await
    }

    /// [`Mosquitto::start`] with persistence: sessions, subscriptions and queued QoS 1
    /// messages are kept in `<dir>/mosquitto-data/` across a [`Mosquitto::restart`], as a
    /// national broker that must not lose warnings is configured.
    pub async fn start_persistent(dir: &Path) -> Result<Self, LaunchError> {
        let data = dir.join("mosquitto-data");
        std::fs::create_dir_all(&data).map_err(io(format!("creating {}", data.display())))?;
        // Started as root, mosquitto drops to the `mosquitto` user, which cannot write into
        // our (0700) directory: it would keep nothing. `user` has no effect for other users.
        let persistence = format!(
            "user root\npersistence true\npersistence_location {}/\nautosave_interval 1\n",
            data.display()
        );
        Self::start_national(dir, &persistence).await
    }

    async fn start_national(dir: &Path, persistence: &str) -> Result<Self, LaunchError> {
        let port = free_port()?;
        let body = format!("{}max_queued_messages 100000\n", anonymous_listener(port));
        let mut m = Self::spawn_with(dir, persistence, &body, &[port])?;
        m.wait_accepting().await?;
        Ok(m)
    }

    /// Stop the broker the way `systemctl restart` does (SIGTERM: a persistent broker writes
    /// its database on the way out; SIGKILL after 10 s), start it again on the same
    /// configuration and ports, and return once it accepts connections.
    pub async fn restart(&mut self) -> Result<(), LaunchError> {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.child = Some(Self::exec(&self.dir)?);
        self.wait_accepting().await
    }

    /// Wait until the first listener accepts TCP connections.
    async fn wait_accepting(&mut self) -> Result<(), LaunchError> {
        let (port, dir) = (self.port(), self.dir.clone());
        let deadline = Instant::now() + LISTEN_TIMEOUT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            self.check_alive()?;
            if Instant::now() > deadline {
                return Err(LaunchError::Timeout {
                    what: format!(
                        "mosquitto to listen on {port} (see {}/mosquitto.log)",
                        dir.display()
                    ),
                    after: LISTEN_TIMEOUT,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Wait (blocking the thread) until every listener port accepts TCP connections.
    pub fn wait_listening(&mut self) -> Result<(), LaunchError> {
        for port in self.ports.clone() {
            wait_port_blocking(port, LISTEN_TIMEOUT, "mosquitto", || self.check_alive())?;
        }
        Ok(())
    }

    fn check_alive(&mut self) -> Result<(), LaunchError> {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            self.child = None;
            return Err(LaunchError::Exited {
                server: "mosquitto".into(),
                status: status.to_string(),
                log: self.log_text(),
            });
        }
        Ok(())
    }

    /// The first listener port.
    pub fn port(&self) -> u16 {
        self.ports.first().copied().unwrap_or(0)
    }

    /// The broker's process id (0 once it has been reaped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The directory holding `mosquitto.conf` and `mosquitto.log`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/mosquitto.log` so far (empty if unreadable).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
