//! Timestamps serialised as chrono's `Serialize` writes them, in one piece.
//!
//! chrono serialises a `DateTime` with `collect_str` of a formatter that writes the RFC 3339 text
//! in many small pieces, and `serde_json` escape-checks each piece on its own. Formatting the
//! same text first (`to_rfc3339_opts(AutoSi, true)` is chrono's `Serialize` format: the same
//! internal writer with the same arguments) and serialising it as one string is the same output
//! for every serializer (`collect_str`'s default is exactly `serialize_str` of the text).
//! Deserialisation is chrono's.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// `serialize_with` for a `DateTime<Utc>` field.
pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// `serialize_with` for an `Option<DateTime<Utc>>` field (as `Option`'s `Serialize` does it).
#[allow(clippy::ref_option)] // serde's `serialize_with` passes `&Option<T>`
pub(crate) fn serialize_opt<S: Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    struct One<'a>(&'a DateTime<Utc>);
    impl Serialize for One<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            serialize(self.0, s)
        }
    }
    match t {
        Some(t) => s.serialize_some(&One(t)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code
mod tests {
    use chrono::{DateTime, NaiveDate, TimeZone, Utc};
    use proptest::prelude::*;

    fn ours(t: &DateTime<Utc>) -> String {
        let mut out = Vec::new();
        super::serialize(t, &mut serde_json::Serializer::new(&mut out)).unwrap();
        String::from_utf8(out).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn same_text_as_chrono(
            secs in -8_200_000_000_000i64..8_200_000_000_000,
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000, 1_000_000_000u32..2_000_000_000],
            round in 0u8..4,
        ) {
            // Whole seconds, milli-, micro- and nanosecond fractions; years −259 000 … +261 000
            // (chrono's range is ±262 143), so far beyond 0..=9999.
            let nanos = match round {
                0 => nanos - nanos % 1_000_000_000,
                1 => nanos - nanos % 1_000_000,
                2 => nanos - nanos % 1_000,
                _ => nanos,
            };
            if let Some(t) = DateTime::<Utc>::from_timestamp(secs, nanos) {
                prop_assert_eq!(ours(&t), serde_json::to_string(&t).unwrap());
            }
        }
    }

    #[test]
    fn leap_second_and_extremes() {
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap();
        for t in [
            Utc.from_utc_datetime(&leap),
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::UNIX_EPOCH,
        ] {
            assert_eq!(ours(&t), serde_json::to_string(&t).unwrap());
        }
    }
}
