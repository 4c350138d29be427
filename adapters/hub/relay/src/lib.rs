//! # trilink-relay — the hub relay and the routing-policy engine
//!
//! The relay runs at the hub (the US node). For every message an adapter publishes on
//! `tl.in.<origin>.<kind>` it checks that the envelope's origin and kind match the subject it
//! arrived on (spoofing is dead-lettered), validates the envelope, checks the hop limit,
//! asks the routing policy which nations receive it, appends its provenance hop and
//! `relayed_at`, and publishes one copy per released destination on `tl.out.<dest>.<kind>`
//! (track updates: `tl.out.<dest>.track_update.<origin>.<track_id>`).
//!
//! - [`policy`]: the routing policy (TOML), its validation and the per-destination
//!   [`Decision`]. Pure.
//! - [`process`](process()): one input message → outputs, withheld destinations, or a reject.
//!   Pure (time is passed in). The live relay and the offline policy test both call it.
//! - [`picture`]: the common picture (issue 15): the correlator (`trilink-picture`) fed every
//!   accepted input, and each destination's view of each changed event as a `common_event`
//!   output on `tl.out.<dest>.common_event.us.<event id>`, routed by the same policy;
//!   [`picture::offline`]: the same picture built from a capture (per destination under a
//!   policy, or the hub's whole picture), with timelines and track-quality metrics, for
//!   `trilink picture` and `trilink policy test`. Pure.
//! - [`references`]: message id → origin of recently relayed messages, so that a nation can
//!   cancel, correct or reference only its own messages. Pure, bounded.
//! - [`matrix`]: the delivery matrix of a capture and expectation files (`trilink policy test`).
//! - [`live`]: the relay process on JetStream (tokio, async-nats): durable consumer on
//!   `tl.in.>`, outputs published with acknowledgements, input acknowledged only after every
//!   output is stored, dead letters on `tl.dlq.us`, SIGHUP policy reload, metrics.
//!
//! What this crate must **not** do: translate national formats (adapters), open national
//! transports, or make routing decisions anywhere but [`Policy::decide_for`]. The policy
//! engine and [`process`](process()) must stay free of I/O and of tokio.
//!
//! ## Routing policy format (TOML)
//!
//! ```toml
//! version = 1                      # format version, must be 1
//! name = "default-trilateral"      # shown in logs and policy-test output
//! echo_to_origin = false           # deliver a message back to its own origin? default false
//!
//! # Nations the hub delivers to and the modes each accepts. A nation without a table
//! # receives nothing (destination_not_configured).
//! [destinations.jp]
//! modes = ["real_world", "exercise", "test"]
//! [destinations.kr]
//! modes = ["real_world"]            # real-world only: never gets exercise or test traffic
//! [destinations.us]
//! modes = ["real_world", "exercise", "test"]
//!
//! # Rules, first match wins. Every filter is optional; an absent filter matches anything.
//! [[rule]]
//! name = "impact-outside-kr-area"
//! action = "deny"                   # "allow" or "deny"
//! destinations = ["kr"]
//! kinds = ["impact_prediction"]
//! # origins = ["jp"], modes = ["exercise"] are the other filters.
//!
//! [[rule]]
//! name = "share-all"
//! action = "allow"
//! area = { lat_min = 20.0, lat_max = 50.0, lon_min = 120.0, lon_max = 150.0 }
//! ```
//!
//! `area` matches when the payload's reference point (launch point, track position, impact
//! point, final point, corrected point — see `Payload::reference_point`) lies in the box,
//! bounds inclusive; `lon_min > lon_max` crosses the antimeridian; a message without a
//! reference point (cancel, status) never matches a rule with an area.
//!
//! The hub's own `common_event` (origin `us`) is routed like any kind (`kinds =
//! ["common_event"]` allows or denies the picture per destination), except that the origin
//! echo does not apply to it: the US receives its own view.
//!
//! Decision order for each destination (see [`policy`]): origin echo → releasability (hard
//! ceiling) → destination configured → mode accepted (hard) → rules in order → default deny.
//! Withhold reasons: `origin_echo`, `not_releasable`, `destination_not_configured`,
//! `mode_not_accepted`, `denied_by_rule` (with the rule name), `no_rule_matched`.
//!
//! Unknown keys, unknown nations/modes/kinds, empty lists, duplicate rule names and bad
//! boxes are errors naming the key (`rule[2].area.lat_min`).

#![forbid(unsafe_code)]

pub mod config;
pub mod events;
pub mod live;
pub mod matrix;
pub mod order;
pub mod picture;
pub mod pipeline;
pub mod policy;
mod process;
pub mod references;
#[cfg(feature = "testing")]
pub mod testing;
// Test fixtures: `trilink_schema::testing::sample` (the unit tests reach it as `crate::sample`).
#[cfg(test)]
use trilink_schema::testing::sample;

pub use live::{
    AccountConfig, RelayConfig, RelayControl, RelayError, RelayStats, run, run_with_control,
    run_with_sighup,
};
pub use matrix::{ExpectScope, Expectations, Matrix, MatrixError, RowKey, capture_body};
pub use policy::{Action, Area, Decision, Destination, Policy, PolicyError, Rule, WithholdReason};
pub use process::{
    Outcome, Output, Reject, RelayIdentity, output_msg_id, process, process_in_account,
    reject_codes,
};
pub use references::ReferenceBook;
