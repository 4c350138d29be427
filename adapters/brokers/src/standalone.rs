//! One nats-server on its own (not a link): for tests, examples and tools that need a single
//! broker with a config of their own (plain JetStream, user/password, TLS, accounts).
//!
//! It is started by the same [`ServerProcess`] as every server of a [`crate::Link`], from a
//! config file rendered from a template, on free loopback ports, and killed by PID when the
//! [`NatsServer`] is dropped. This is the only place besides the link that starts nats-server.

use std::path::Path;
use std::time::Duration;

use crate::launcher::{LaunchError, ServerProcess, find_server_bin, free_port, io};

/// How long [`NatsServer::start_with_config`] waits for the client port.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// A plain server with JetStream, anonymous, on loopback (template for
/// [`NatsServer::start_with_config`]).
pub const JETSTREAM_CONF: &str = "listen: 127.0.0.1:{{PORT}}\n\
     http: 127.0.0.1:{{HTTP}}\n\
     jetstream { store_dir: \"{{STORE}}\" }\n";

/// A running nats-server in a temporary directory; killed and reaped on drop.
#[derive(Debug)]
pub struct NatsServer {
    process: ServerProcess,
    // Dropped after `process` (fields drop in order): the server is gone before its files.
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// A plain JetStream server ([`JETSTREAM_CONF`]).
    pub fn start_jetstream() -> Result<Self, LaunchError> {
        Self::start_with_config(JETSTREAM_CONF)
    }

    /// A server from a config template: `{{PORT}}` (client port), `{{HTTP}}` (monitoring
    /// port), `{{STORE}}` (JetStream store directory) and `{{DIR}}` (the server's directory)
    /// are replaced. Returns once the client port accepts connections.
    pub fn start_with_config(template: &str) -> Result<Self, LaunchError> {
        let bin = find_server_bin()?;
        let dir = tempfile::tempdir().map_err(io("creating a server directory"))?;
        let port = free_port()?;
        let http = free_port()?;
        let text = template
            .replace("{{PORT}}", &port.to_string())
            .replace("{{HTTP}}", &http.to_string())
            .replace("{{STORE}}", &dir.path().join("js").display().to_string())
            .replace("{{DIR}}", &dir.path().display().to_string());
        let config = dir.path().join("server.conf");
        std::fs::write(&config, text).map_err(io(format!("writing {}", config.display())))?;
        let mut process = ServerProcess::new(
            "nats-server",
            &bin,
            config,
            dir.path().join("server.log"),
            port,
            http,
            None,
        );
        process.spawn()?;
        process.wait_listening(LISTEN_TIMEOUT)?;
        Ok(NatsServer { process, dir })
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.process.client_url()
    }

    /// Client port.
    pub fn port(&self) -> u16 {
        self.process.client_port()
    }

    /// Process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// The server's directory (config, log, JetStream store).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.process.log_text()
    }

    /// The process, to stop, kill or restart it or to ask its monitoring port.
    pub fn process_mut(&mut self) -> &mut ServerProcess {
        &mut self.process
    }
}
