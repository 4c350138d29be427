//! Deterministic message ids.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Nation;

/// Namespace for trilink message ids (UUID v5). Never change it: ids are compared across
/// versions and JetStream de-duplicates on them.
const NAMESPACE: Uuid = Uuid::from_u128(0x6c1e_7a3a_58f1_4f0e_9d2c_2b7e_a1d4_0c55);

/// A message id: a UUID v5 over `origin`, the originating national system and that system's
/// own message id.
///
/// The same national message retransmitted yields the same id (so JetStream's `Nats-Msg-Id`
/// de-duplication removes it); distinct national messages yield distinct ids as long as the
/// national id is unique within its system **forever** — adapters include a date or epoch in
/// the national id where the national sequence number wraps.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct MessageId(Uuid);

impl MessageId {
    /// Derive the id of a national message.
    pub fn derive(origin: Nation, national_system: &str, national_message_id: &str) -> Self {
        use sha1::Digest;
        // UUID v5 (RFC 9562 §5.5): SHA-1 over namespace ‖ name, where the name is each part
        // length-prefixed (u32 big-endian) so ("ab","c") and ("a","bc") never collide.
        // Hashed incrementally (no allocation) with the `sha1` crate, which uses the CPU's SHA
        // instructions when present; equal to `Uuid::new_v5` (tested below).
        let mut h = sha1::Sha1::new();
        h.update(NAMESPACE.as_bytes());
        for part in [origin.as_str(), national_system, national_message_id] {
            h.update((part.len() as u32).to_be_bytes());
            h.update(part.as_bytes());
        }
        let digest = h.finalize();
        let mut bytes = [0u8; 16];
        for (b, d) in bytes.iter_mut().zip(digest.iter()) {
            *b = *d;
        }
        bytes[6] = (bytes[6] & 0x0f) | 0x50; // version 5
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        Self(Uuid::from_bytes(bytes))
    }

    /// Wrap an existing UUID (e.g. read from a capture).
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The underlying UUID.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Uuid::encode_buffer();
        f.write_str(self.0.hyphenated().encode_lower(&mut buf))
    }
}

impl FromStr for MessageId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmission_gets_same_id() {
        let a = MessageId::derive(Nation::Jp, "jadgex", "20261121-42");
        let b = MessageId::derive(Nation::Jp, "jadgex", "20261121-42");
        assert_eq!(a, b);
    }

    #[test]
    fn any_part_changes_the_id() {
        let base = MessageId::derive(Nation::Jp, "jadgex", "42");
        assert_ne!(base, MessageId::derive(Nation::Kr, "jadgex", "42"));
        assert_ne!(base, MessageId::derive(Nation::Jp, "jadge", "42"));
        assert_ne!(base, MessageId::derive(Nation::Jp, "jadgex", "43"));
        // Boundary shifting must not collide.
        assert_ne!(
            MessageId::derive(Nation::Jp, "ab", "c"),
            MessageId::derive(Nation::Jp, "a", "bc")
        );
    }

    #[test]
    fn equals_uuid_v5_of_the_length_prefixed_name() {
        for (o, sys, nid) in [
            (Nation::Jp, "jadgex", "20261121-42"),
            (Nation::Us, "", ""),
            (Nation::Kr, "kamd-ops", "é한"),
        ] {
            let mut name = Vec::new();
            for part in [o.as_str(), sys, nid] {
                name.extend_from_slice(&(part.len() as u32).to_be_bytes());
                name.extend_from_slice(part.as_bytes());
            }
            assert_eq!(
                MessageId::derive(o, sys, nid).0,
                Uuid::new_v5(&NAMESPACE, &name)
            );
        }
    }

    #[test]
    fn display_parses_back() {
        let id = MessageId::derive(Nation::Us, "c2bmc", "1");
        assert_eq!(id.to_string().parse::<MessageId>().unwrap(), id);
        assert_eq!(id.as_uuid().get_version_num(), 5);
    }
}
