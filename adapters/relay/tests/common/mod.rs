//! Test helpers: a real nats-server on a free loopback port, killed by PID on drop.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;

/// The nats-server binary: `NATS_SERVER_BIN`, else `nats-server` on PATH (Debian installs
/// it in /usr/sbin).
pub fn nats_server_bin() -> PathBuf {
    std::env::var_os("NATS_SERVER_BIN").map_or_else(|| PathBuf::from("nats-server"), PathBuf::from)
}

pub fn free_port() -> u16 {
    trilink_brokers::free_port().unwrap()
}

/// A running nats-server; killed and waited for on drop.
pub struct NatsServer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl NatsServer {
    /// Plain server with JetStream, no auth.
    pub fn start() -> Self {
        Self::start_with_config(None)
    }

    /// Server from a config text (`{{PORT}}` and `{{STORE}}` are substituted).
    pub fn start_with_config(config: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let store = dir.path().join("js");
        let mut cmd = Command::new(nats_server_bin());
        if let Some(text) = config {
            let text = text
                .replace("{{PORT}}", &port.to_string())
                .replace("{{STORE}}", &store.display().to_string());
            let path = dir.path().join("server.conf");
            std::fs::write(&path, text).unwrap();
            cmd.arg("-c").arg(&path);
        } else {
            cmd.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
                .arg(&store);
        }
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("nats-server must be installed (NATS_SERVER_BIN or /usr/bin/nats-server)");
        let s = Self { child, port, dir };
        s.wait_listening();
        s
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "nats-server did not listen on {}: {}",
            self.port,
            self.log()
        );
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One stored message, as read back from a stream.
#[derive(Debug, Clone)]
pub struct Stored {
    pub subject: String,
    pub msg_id: Option<String>,
    pub headers: Vec<(String, String)>,
    pub payload: bytes::Bytes,
}

impl Stored {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every message currently in `stream` (ordered consumer; stops after 500 ms of silence).
pub async fn read_stream(js: &jetstream::Context, stream: &str) -> Vec<Stored> {
    let s = js.get_stream(stream).await.unwrap();
    let expected = s.get_info().await.unwrap().state.messages;
    let mut out = Vec::new();
    if expected == 0 {
        return out;
    }
    let consumer = s
        .create_consumer(pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut msgs = consumer.messages().await.unwrap();
    while (out.len() as u64) < expected {
        match tokio::time::timeout(Duration::from_secs(2), msgs.next()).await {
            Ok(Some(Ok(m))) => {
                let headers = m
                    .headers
                    .as_ref()
                    .map(|h| {
                        h.iter()
                            .flat_map(|(k, vs)| {
                                vs.iter()
                                    .map(|v| (k.to_string(), v.as_str().to_owned()))
                                    .collect::<Vec<_>>()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let msg_id = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Msg-Id"))
                    .map(|v| v.as_str().to_owned());
                out.push(Stored {
                    subject: m.subject.to_string(),
                    msg_id,
                    headers,
                    payload: m.payload.clone(),
                });
            }
            _ => break,
        }
    }
    out
}

/// Wait until `cond` holds (polling every 20 ms) or panic after `secs`.
pub async fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
