//! The replay's MQTT target (the KR national broker): PUBLISH at QoS 1 through the runtime's
//! [`MqttClient`], PUBACKs counted, and the instant each PUBLISH was written to the broker
//! connection kept for the summary.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use trilink_runtime::mqtt_client::{MqttClient, MqttClientError, MqttClientOptions};

/// A connected MQTT publisher.
#[derive(Debug)]
pub struct MqttSink {
    pub(crate) client: MqttClient,
    /// Topic override (`--kr mqtt://H:P/TOPIC`); `None`: the captured topic.
    pub(crate) topic: Option<String>,
    stop: CancellationToken,
}

impl MqttSink {
    /// Connect to `host:port` and wait up to 10 s for the CONNACK.
    pub async fn connect(
        host: &str,
        port: u16,
        topic: Option<String>,
    ) -> Result<Self, MqttClientError> {
        let stop = CancellationToken::new();
        let opts = MqttClientOptions::new(
            format!("trilink-replay-{}", std::process::id()),
            host.to_owned(),
            port,
        )
        .capacity(4_096)
        .record_writes();
        let (client, _incoming) = MqttClient::connect(opts, &stop, Duration::from_secs(10)).await?;
        Ok(Self {
            client,
            topic,
            stop,
        })
    }

    /// Wait up to `patience` for the outstanding PUBACKs and disconnect: how many never came,
    /// and when each PUBLISH was written to the connection.
    pub async fn finish(self, patience: Duration) -> (u64, Vec<Instant>) {
        let missing = self.client.wait_acked(patience).await;
        let writes = self.client.writes();
        // A broker that stopped answering does not hold the disconnect up.
        let _ = tokio::time::timeout(Duration::from_millis(500), self.client.disconnect()).await;
        self.stop.cancel();
        (missing, writes)
    }
}
