//! Test fixtures (feature `testing`): valid example envelopes ([`sample`]) and the proptest
//! strategy of valid envelopes ([`strategy::envelope`]) for the tests, benches and examples of
//! every crate. Enabled only through dev-dependencies
//! (`trilink-schema = { workspace = true, features = ["testing"] }`); no production build
//! carries it.

pub mod sample;
pub mod strategy;
