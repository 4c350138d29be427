//! Graceful shutdown: one [`CancellationToken`] cancelled by SIGINT or SIGTERM.
//!
//! Every task takes a child of the token; on cancellation it stops taking new work and
//! finishes (drains) what it has in flight within the process's drain timeout.

use std::time::Duration;

pub use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGINT (Ctrl-C) or SIGTERM. A second signal is left to the
/// default handler's successor: the spawned task exits after the first, so a second Ctrl-C
/// after a stuck drain is handled by [`force_exit_on_second_signal`] if the caller installs it.
pub fn signal_token() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let sig = wait_for_signal().await;
        tracing::info!(signal = sig, "shutdown requested; draining");
        t.cancel();
    });
    token
}

/// After `token` is cancelled, exit the process with status 130 if a second signal arrives or
/// the drain takes longer than `limit`.
pub fn force_exit_on_second_signal(token: CancellationToken, limit: Duration) {
    tokio::spawn(async move {
        token.cancelled().await;
        tokio::select! {
            sig = wait_for_signal() => {
                tracing::error!(signal = sig, "second signal during drain; exiting now");
            }
            () = tokio::time::sleep(limit) => {
                tracing::error!(?limit, "drain took too long; exiting now");
            }
        }
        std::process::exit(130);
    });
}

#[cfg(unix)]
async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    if let (Ok(mut term), Ok(mut int)) = (term, int) {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    } else {
        let _ = tokio::signal::ctrl_c().await;
        "ctrl-c"
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> &'static str {
    let _ = tokio::signal::ctrl_c().await;
    "ctrl-c"
}
