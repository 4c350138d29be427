//! Test fixtures (feature `testing`): valid example envelopes ([`sample`]) for the tests,
//! benches and examples of every crate. Enabled only through dev-dependencies
//! (`trilink-schema = { workspace = true, features = ["testing"] }`); no production build
//! carries it.

pub mod sample;
