//! The replay's NATS target for JSON Lines captures: JetStream publishes with `Nats-Msg-Id`,
//! at most [`NATS_WINDOW`] acknowledgements outstanding.

use std::collections::VecDeque;
use std::time::Duration;

use crate::options::NatsTarget;

/// Acknowledgements outstanding before the next publish waits for the oldest.
pub const NATS_WINDOW: usize = 256;

/// Connect (10 s at most) to `t` as `name`, with the user's own inbox prefix.
pub async fn connect_client(t: &NatsTarget, name: &str) -> Result<async_nats::Client, String> {
    connect_client_with(t, name, None).await
}

/// Where a connection's server errors (`-ERR`, e.g. a refused subscription: `Permissions
/// Violation for Subscription to …`) are kept: the first one.
pub type ServerErrors = std::sync::Arc<std::sync::Mutex<Option<String>>>;

/// [`connect_client`], keeping the server's first error in `errors` (a refused subscription is
/// only said asynchronously).
pub async fn connect_client_with(
    t: &NatsTarget,
    name: &str,
    errors: Option<ServerErrors>,
) -> Result<async_nats::Client, String> {
    let url = t.url.as_str();
    let mut opts = async_nats::ConnectOptions::new();
    if let (Some(u), Some(p)) = (&t.user, &t.password) {
        // The broker lets each user subscribe to its own inbox only (`_INBOX_<user>`):
        // JetStream acknowledgements come back there.
        opts = async_nats::ConnectOptions::with_user_and_password(u.clone(), p.clone())
            .custom_inbox_prefix(trilink_schema::inbox_prefix(u));
    }
    opts = opts.name(name);
    if let Some(ca) = &t.ca_file {
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some(errors) = errors {
        opts = opts.event_callback(move |ev| {
            let errors = errors.clone();
            async move {
                if let async_nats::Event::ServerError(e) = ev
                    && let Ok(mut first) = errors.lock()
                {
                    first.get_or_insert_with(|| e.to_string());
                }
            }
        });
    }
    tokio::time::timeout(Duration::from_secs(10), opts.connect(url))
        .await
        .map_err(|_| format!("connecting to NATS {url}: timed out after 10 s"))?
        .map_err(|e| format!("connecting to NATS {url}: {e}"))
}

/// A JetStream publisher.
pub struct NatsSink {
    pub(crate) js: async_nats::jetstream::Context,
    pub(crate) pending: VecDeque<async_nats::jetstream::context::PublishAckFuture>,
    pub(crate) failed: u64,
    /// Why the first publish failed (the server's or the client's words), for the summary.
    pub(crate) first_error: Option<String>,
}

impl std::fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSink")
            .field("pending", &self.pending.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl NatsSink {
    /// Connect (10 s at most) to `target`.
    pub async fn connect(target: Option<&NatsTarget>) -> Result<Self, String> {
        let t = target.ok_or_else(|| "a JSON Lines capture needs --nats URL".to_owned())?;
        let client = connect_client(t, "trilink-replay").await?;
        let js = match &t.js_domain {
            Some(d) => async_nats::jetstream::with_domain(client, d),
            None => async_nats::jetstream::new(client),
        };
        Ok(Self {
            js,
            pending: VecDeque::new(),
            failed: 0,
            first_error: None,
        })
    }

    /// Count a failed publish and keep the first reason.
    pub(crate) fn fail(&mut self, why: String) {
        self.failed += 1;
        self.first_error.get_or_insert(why);
    }

    /// Wait (at most `patience` in all) for the outstanding acknowledgements: the failures,
    /// and the first one's reason.
    pub async fn finish_with_reason(mut self, patience: Duration) -> (u64, Option<String>) {
        let deadline = tokio::time::Instant::now() + patience;
        let pending: Vec<_> = self.pending.drain(..).collect();
        for ack in pending {
            match tokio::time::timeout_at(deadline, ack).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => self.fail(format!("JetStream did not store it: {e}")),
                Err(_) => self.fail(format!(
                    "no JetStream acknowledgement within {:.1} s",
                    patience.as_secs_f64()
                )),
            }
        }
        (self.failed, self.first_error)
    }
}
