//! `trilink view`: a live common-picture view in the browser (issue 16).
//!
//! The view connects to one site as that nation's **read-only viewer** user (`viewer-<n>`,
//! whose broker permissions allow subscribing to `tl.out.<n>.>`, `tl.status.>`, its own site's
//! dead letters `tl.dlq.<n>` and its own inbox, and publishing nothing), keeps a [`Picture`] of
//! what it receives — national tracks, launch points, impact predictions with their error
//! ellipses, the hub's common events (fused track, launch point, impact ellipse, contributing
//! national tracks, history for the per-event time slider), per-component link health, its
//! site's dead-letter count and end-to-end latency — and serves it: a map page (static assets embedded in the binary,
//! vendored map library and Natural Earth data, no network at run time), `/api/picture`,
//! `/api/health` and live updates over server-sent events (`/api/events`).
//!
//! Exercise and test traffic is unmistakable on the page (a banner, its own colour, and a
//! `EXERCISE`/`TEST` label on every symbol); real-world traffic is never styled like it.
//!
//! What this crate must not do: publish anything on the link, show anything not released to
//! the viewing nation (the [`Picture`] refuses it even if the broker let it through), or fetch
//! anything from the network besides the link.
//!
//! The picture state ([`state`]) is sans-IO: messages and time are passed in. The server part
//! ([`server`]) is the only I/O. `testing` (feature `testing`, dev-dependencies only) is the
//! browser test kit.

#![forbid(unsafe_code)]

mod assets;
pub mod server;
pub mod state;
#[cfg(feature = "testing")]
pub mod testing;

pub use server::{RunningView, ViewConfig, ViewError, nation_of_viewer, run, start};
pub use state::{
    ContributorView, DeadLetterRow, EventFrame, EventView, FrameContributor, HealthRow,
    HealthSnapshot, LatencySummary, Picture, PictureSnapshot, Rejected, TrackView, Update,
};
