//! Test fixtures (feature `testing`): valid example envelopes ([`sample`]), the proptest
//! strategy of valid envelopes ([`strategy::envelope`]) and the committed example and vector
//! files ([`files`]) for the tests, benches and examples of every crate. Enabled only through
//! dev-dependencies (`trilink-schema = { workspace = true, features = ["testing"] }`); no
//! production build carries it.

pub mod files;
pub mod sample;
pub mod strategy;

use crate::{Envelope, NationalCodec};

/// `env` translated by `codec` into its national frame and encoded: the bytes a national
/// system would send. Panics (with the codec's error) where the codec cannot carry `env`.
pub fn encode_national<C: NationalCodec>(codec: &C, env: &Envelope) -> Vec<u8> {
    let frame = codec
        .to_national(env)
        .unwrap_or_else(|e| panic!("to_national({}): {e}", env.message_id));
    let mut out = bytes::BytesMut::new();
    codec
        .encode(&frame, &mut out)
        .unwrap_or_else(|e| panic!("encode({}): {e}", env.message_id));
    out.to_vec()
}
