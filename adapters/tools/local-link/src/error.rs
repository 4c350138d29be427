//! What can go wrong while a local link is started, used or stopped.

/// An error of the local link; its text says what was being done and why it failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Arguments that cannot work (a speed of zero, an unknown scenario, a bad policy).
    #[error("{0}")]
    Usage(String),
    /// A process, connection or component failed.
    #[error("{0}")]
    Failed(String),
    /// A broker (nats-server, mosquitto) could not be started.
    #[error(transparent)]
    Launch(#[from] trilink_brokers::LaunchError),
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl From<std::io::Error> for LinkError {
    fn from(source: std::io::Error) -> Self {
        Self::Io {
            what: "i/o".into(),
            source,
        }
    }
}

/// `LinkError::Failed(format!(…))`.
macro_rules! failed {
    ($($t:tt)*) => {
        $crate::error::LinkError::Failed(format!($($t)*))
    };
}
pub(crate) use failed;

/// The crate's result type.
pub type Result<T, E = LinkError> = std::result::Result<T, E>;
