//! The component heartbeat every trilink process publishes: a `status` envelope on
//! `tl.status.<site>.<component>` (core NATS, best effort). One format for adapters and the
//! relay, so monitoring, the demo and the view read every component the same way.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use trilink_schema::{ComponentState, Envelope, Mode, Nation, Payload, Source, Status, Subject};

use crate::telemetry::events;

/// What one heartbeat says.
#[derive(Debug, Clone)]
pub struct Heartbeat<'a> {
    /// Site of the component (`tl.status.<site>.…`); the envelope's origin and only release.
    pub site: Nation,
    /// Component name (`adapter-jp`, `relay-1`).
    pub component: &'a str,
    /// A value unique to this process run (e.g. its start time), so that message ids of two
    /// runs never collide.
    pub boot: i64,
    /// Sequence number within the run.
    pub seq: u64,
    /// Ok / degraded / down.
    pub state: ComponentState,
    /// Time since the process started.
    pub uptime: Duration,
    /// Free text (counters, the reason for a degraded state).
    pub detail: String,
}

impl Heartbeat<'_> {
    /// The `status` envelope, stamped `now`.
    pub fn envelope(&self, now: DateTime<Utc>) -> Envelope {
        Envelope::new(
            self.site,
            Source {
                system: String::from("trilink"),
                sensor: self.component.to_owned(),
                national_message_id: format!("{}-{}-{}", self.component, self.boot, self.seq),
            },
            now,
            now,
            Mode::RealWorld,
            std::iter::once(self.site).collect(),
            Payload::Status(Status {
                component: self.component.to_owned(),
                state: self.state,
                uptime_s: self.uptime.as_secs_f64(),
                detail: self.detail.clone(),
            }),
        )
    }

    /// The subject it is published on.
    pub fn subject(&self) -> String {
        Subject::Status {
            site: self.site,
            component: self.component.to_owned(),
        }
        .to_string()
    }
}

/// Publish one heartbeat (best effort: a failure is logged, never fatal).
pub async fn publish(client: &async_nats::Client, hb: &Heartbeat<'_>) {
    let env = hb.envelope(Utc::now());
    match env.to_json() {
        Ok(body) => match client.publish(hb.subject(), Bytes::from(body)).await {
            Ok(()) => events::heartbeat(hb.site, hb.component),
            Err(e) => {
                tracing::warn!(error = %e, component = hb.component, "heartbeat publish failed");
            }
        },
        Err(e) => tracing::warn!(error = %e, "heartbeat serialization failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_is_a_valid_status_envelope_on_its_subject() {
        let hb = Heartbeat {
            site: Nation::Us,
            component: "relay-1",
            boot: 7,
            seq: 3,
            state: ComponentState::Degraded,
            uptime: Duration::from_secs(5),
            detail: "publish_errors=1".into(),
        };
        let now = Utc::now();
        let env = hb.envelope(now);
        env.validate(&trilink_schema::ValidationContext::at(now))
            .unwrap();
        assert_eq!(hb.subject(), "tl.status.us.relay-1");
        assert_eq!(env.source.national_message_id, "relay-1-7-3");
        let Payload::Status(s) = &env.payload else {
            panic!("not a status")
        };
        assert_eq!(s.state, ComponentState::Degraded);
        assert_eq!(s.detail, "publish_errors=1");
    }
}
