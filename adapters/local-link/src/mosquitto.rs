//! The KR national system's own MQTT broker for a local link: a real `mosquitto` on a free
//! loopback port, killed by PID when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{LinkError, Result, failed};

/// A running mosquitto.
#[derive(Debug)]
pub struct Mosquitto {
    child: Child,
    port: u16,
}

/// The mosquitto binary: `MOSQUITTO_BIN`, PATH, or Debian's `/usr/sbin/mosquitto`.
pub fn find_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MOSQUITTO_BIN") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("mosquitto"))
        .find(|p| p.is_file())
}

impl Mosquitto {
    /// Start on a free port with a config written into `dir`; waits until it accepts.
    pub async fn start(dir: &Path) -> Result<Self> {
        let bin = find_bin().ok_or_else(|| {
            failed!(
                "mosquitto not found (install it: apt-get install mosquitto, or set MOSQUITTO_BIN)"
            )
        })?;
        let port = crate::harness::free_port()?;
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n"
            ),
        )?;
        let log = std::fs::File::create(dir.join("mosquitto.log"))?;
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|source| LinkError::Io {
                what: format!("starting {}", bin.display()),
                source,
            })?;
        let m = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(failed!(
                    "mosquitto did not listen on {port} within 10 s (see {}/mosquitto.log)",
                    dir.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(m)
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
