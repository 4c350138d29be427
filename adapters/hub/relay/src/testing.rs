//! Test kit (feature `testing`, for dev-dependencies only): the relay started in-process on a
//! tokio task, ready before it is handed over, stopped through its shutdown future. Used by
//! the relay's own live tests and by the integration tests (attack_insider); the local link
//! has its own `RelayRun` with restart support.
//!
//! Panics instead of returning errors: it is for tests.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{RelayConfig, RelayControl, RelayError};

/// A relay running on a tokio task.
#[derive(Debug)]
pub struct RelayTask {
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), RelayError>>,
    /// Its counters, readiness and reload switch.
    pub control: RelayControl,
}

impl RelayTask {
    /// Start the relay with `config` and the policy file `policy`; panics when it is not
    /// ready within `ready_within` (with the relay's error when it has already failed).
    pub async fn start(config: RelayConfig, policy: PathBuf, ready_within: Duration) -> Self {
        let (tx, rx) = oneshot::channel::<()>();
        let control = RelayControl::new();
        let c2 = control.clone();
        let handle = tokio::spawn(async move {
            crate::run_with_control(
                config,
                policy,
                async {
                    let _ = rx.await;
                },
                c2,
            )
            .await
        });
        if tokio::time::timeout(ready_within, control.ready())
            .await
            .is_err()
        {
            assert!(
                !handle.is_finished(),
                "relay failed to start: {:?}",
                handle.await
            );
            panic!("relay not ready after {ready_within:?}");
        }
        Self {
            stop: Some(tx),
            handle,
            control,
        }
    }

    /// Stop it and wait (at most `within`); panics when it does not stop in time or ended
    /// with an error.
    pub async fn stop_within(mut self, within: Duration) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let res = tokio::time::timeout(within, &mut self.handle)
            .await
            .expect("relay did not stop in time");
        res.expect("relay task panicked")
            .expect("relay ended with an error");
    }

    /// Kill it mid-stream: the task is aborted (its connections dropped, nothing drained), as
    /// a crash would.
    pub async fn abort(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }

    /// [`stop_within`](Self::stop_within) 10 s.
    pub async fn stop(self) {
        self.stop_within(Duration::from_secs(10)).await;
    }
}
