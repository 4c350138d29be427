//! A local three-nation link, piece by piece: the hub and both leaves with mTLS
//! ([`trilink_brokers::Link`]), the KR national MQTT broker ([`Mosquitto`]), the relay and the
//! adapters as tasks of this process, all on free loopback ports; stopped in order (components,
//! then mosquitto and the brokers, by PID).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use trilink_brokers::{Link, LinkOptions};
use trilink_schema::NationalCodec;

use crate::configs;
use crate::error::{Result, failed};
use crate::mosquitto::Mosquitto;

/// A free TCP port on loopback.
pub fn free_port() -> Result<u16> {
    trilink_brokers::free_port().map_err(|e| failed!("{e}"))
}

/// A free UDP port on loopback.
pub fn free_udp_port() -> Result<u16> {
    trilink_brokers::free_udp_port().map_err(|e| failed!("{e}"))
}

/// A relay started with [`LocalLink::start_relay_run`].
#[derive(Debug)]
pub struct RelayRun {
    stop: CancellationToken,
    finished: tokio::sync::oneshot::Receiver<()>,
}

impl RelayRun {
    /// Stop this relay and wait until it has (at most `within`); false when it did not stop
    /// in time.
    pub async fn stop(self, within: Duration) -> bool {
        self.stop.cancel();
        tokio::time::timeout(within, self.finished).await.is_ok()
    }
}

/// The running pieces of a local link.
#[derive(Debug)]
pub struct LocalLink {
    stop: CancellationToken,
    tasks: JoinSet<Result<()>>,
    mosquitto: Option<Mosquitto>,
    link: Link,
}

impl LocalLink {
    /// Start the hub and both leaves (streams created) on free loopback ports; components
    /// started later stop when `parent` is cancelled or at [`shutdown`](Self::shutdown).
    pub async fn start(parent: &CancellationToken) -> Result<Self> {
        let link = Link::start(LinkOptions::default())
            .await
            .map_err(|e| failed!("brokers: {e}"))?;
        Ok(Self {
            stop: parent.child_token(),
            tasks: JoinSet::new(),
            mosquitto: None,
            link,
        })
    }

    /// The brokers.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The link's work directory (configs, logs, journals).
    pub fn dir(&self) -> &Path {
        self.link.dir()
    }

    /// Cancelled when the components stop: stand-ins and probes can stop with it.
    pub fn stop_token(&self) -> &CancellationToken {
        &self.stop
    }

    /// Stop every nats-server of the link gracefully and start them again on the same
    /// configuration, data and ports; returns once each is healthy, the leaf links are up and
    /// every source is linked; returns how long that took (~40 s with nats-server 2.15.1: a
    /// restarted hub re-creates its source consumers on the leaves with a backoff). What is
    /// stored stays; each server's memory (and its Go heap) starts afresh. Connected clients
    /// reconnect on their own.
    pub async fn restart_servers(&mut self) -> Result<std::time::Duration> {
        let started = std::time::Instant::now();
        let ids = self.link.server_ids();
        for id in &ids {
            self.link
                .stop(*id)
                .map_err(|e| failed!("stopping {id}: {e}"))?;
        }
        self.link
            .restart_many(&ids)
            .await
            .map_err(|e| failed!("restarting the servers: {e}"))?;
        self.link
            .wait_leaf_links()
            .await
            .map_err(|e| failed!("leaf links after the restart: {e}"))?;
        // A restarted hub re-creates its source consumers on the leaves with a backoff: wait
        // (up to 2 min) until each has heard from its source again.
        loop {
            match self.link.wait_sources_linked().await {
                Ok(()) => return Ok(started.elapsed()),
                Err(e) if started.elapsed() >= std::time::Duration::from_secs(120) => {
                    return Err(failed!("sources after the restart: {e}"));
                }
                Err(_) => {}
            }
        }
    }

    /// Start the KR national MQTT broker (once); returns its port.
    pub async fn start_mosquitto(&mut self) -> Result<u16> {
        if let Some(m) = &self.mosquitto {
            return Ok(m.port());
        }
        let m = Mosquitto::start(self.link.dir()).await?;
        let port = m.port();
        self.mosquitto = Some(m);
        Ok(port)
    }

    /// The KR national broker, once started.
    pub fn mosquitto(&self) -> Option<&Mosquitto> {
        self.mosquitto.as_ref()
    }

    fn mosquitto_port(&self) -> Result<u16> {
        self.mosquitto
            .as_ref()
            .map(Mosquitto::port)
            .ok_or_else(|| failed!("adapter-kr needs the KR broker: start mosquitto first"))
    }

    /// Start the relay in this process with `policy_text` (written to `<dir>/policy.toml`).
    pub fn start_relay(&mut self, policy_text: &str) -> Result<()> {
        let path = self.link.dir().join("policy.toml");
        std::fs::write(&path, policy_text).map_err(|source| crate::LinkError::Io {
            what: format!("writing {}", path.display()),
            source,
        })?;
        self.start_relay_with(path)
    }

    /// Start the relay in this process with the policy file `policy`.
    pub fn start_relay_with(&mut self, policy: PathBuf) -> Result<()> {
        let relay_cfg = configs::relay_config(&self.link)?;
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            trilink_relay::live::run(relay_cfg, policy, async move { stop.cancelled().await })
                .await
                .map_err(|e| failed!("relay: {e}"))
        });
        Ok(())
    }

    /// Start the relay with `policy_text` and its configuration changed by `tune`; unlike
    /// [`start_relay`](Self::start_relay) it can be stopped alone ([`RelayRun::stop`]), so
    /// that another relay (another configuration) can take over the same link.
    pub fn start_relay_run(
        &mut self,
        policy_text: &str,
        tune: impl FnOnce(&mut trilink_relay::RelayConfig),
    ) -> Result<RelayRun> {
        let path = self.link.dir().join("policy.toml");
        std::fs::write(&path, policy_text).map_err(|source| crate::LinkError::Io {
            what: format!("writing {}", path.display()),
            source,
        })?;
        let mut relay_cfg = configs::relay_config(&self.link)?;
        tune(&mut relay_cfg);
        let stop = self.stop.child_token();
        let (done, finished) = tokio::sync::oneshot::channel();
        let own = stop.clone();
        self.tasks.spawn(async move {
            let r = trilink_relay::live::run(relay_cfg, path, async move { own.cancelled().await })
                .await
                .map_err(|e| failed!("relay: {e}"));
            let _ = done.send(());
            r
        });
        Ok(RelayRun { stop, finished })
    }

    /// Start adapter-jp: UDP in on `ingress`, UDP out to `national`.
    pub fn start_adapter_jp(&mut self, ingress: u16, national: u16) -> Result<()> {
        let cfg = configs::adapter_jp(&self.link, ingress, national)?;
        self.spawn_adapter(cfg, trilink_jp::JpCodec);
        Ok(())
    }

    /// Start adapter-kr: MQTT both ways on the KR broker (start it first).
    pub fn start_adapter_kr(&mut self) -> Result<()> {
        let cfg = configs::adapter_kr(&self.link, self.mosquitto_port()?)?;
        self.spawn_adapter(cfg, trilink_kr::KrCodec);
        Ok(())
    }

    /// Start adapter-us: TCP in on `ingress`, TCP out to `national`.
    pub fn start_adapter_us(&mut self, ingress: u16, national: u16) -> Result<()> {
        let cfg = configs::adapter_us(&self.link, ingress, national)?;
        self.spawn_adapter(cfg, trilink_us::UsCodec::default());
        Ok(())
    }

    fn spawn_adapter<C>(&mut self, config: trilink_runtime::adapter::AdapterConfig, codec: C)
    where
        C: NationalCodec + Send + Sync + 'static,
    {
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            trilink_runtime::adapter::run(config, codec, stop)
                .await
                .map(drop)
                .map_err(|e| failed!("adapter-{}: {e}", C::NATION))
        });
    }

    /// Stop the relay and the adapters (waiting up to `within`, then aborting them), then
    /// mosquitto and the brokers. Returns what went wrong on the way, one line each.
    pub async fn shutdown(mut self, within: Duration) -> Vec<String> {
        self.stop.cancel();
        let mut warnings = Vec::new();
        let drained = tokio::time::timeout(within, async {
            while let Some(r) = self.tasks.join_next().await {
                match r {
                    Ok(Err(e)) => warnings.push(e.to_string()),
                    Err(e) => warnings.push(format!("task failed: {e}")),
                    Ok(Ok(())) => {}
                }
            }
        })
        .await;
        if drained.is_err() {
            warnings.push(format!(
                "some components did not stop within {} s; stopping them",
                within.as_secs()
            ));
            self.tasks.abort_all();
        }
        drop(self.mosquitto.take());
        let _ = self.link.shutdown();
        warnings
    }
}
