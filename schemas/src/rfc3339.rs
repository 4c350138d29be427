//! Timestamps serialised as chrono's `Serialize` writes them, in one piece.
//!
//! chrono serialises a `DateTime` with `collect_str` of a formatter that writes the RFC 3339 text
//! in many small pieces, and `serde_json` escape-checks each piece on its own. Formatting the
//! same text first (`to_rfc3339_opts(AutoSi, true)` is chrono's `Serialize` format: the same
//! internal writer with the same arguments) and serialising it as one string is the same output
//! for every serializer (`collect_str`'s default is exactly `serialize_str` of the text). The
//! common case (years 0..=9999, no leap second) is written without `fmt` at all, digit by
//! digit; proptests hold it byte-identical to chrono.
//!
//! Reading: chrono parses with its relaxed RFC 3339 parser (`Parsed`, many branches). The form we
//! write, `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, is read directly; anything else (other offsets, a
//! space or lower-case separator, a leap second, an invalid date, more digits) and every error
//! go to chrono's parser, so values and error texts are chrono's.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::de::{self, Deserializer};
use serde::{Serialize, Serializer};

/// `serialize_with` for a `DateTime<Utc>` field.
pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; CANONICAL_MAX];
    match write_canonical(t, &mut buf) {
        Some(text) => s.serialize_str(text),
        None => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS.fffffffffZ`, the longest text [`write_canonical`] writes.
const CANONICAL_MAX: usize = 30;

/// chrono's `to_rfc3339_opts(AutoSi, true)` for years 0..=9999 without a leap second, written
/// directly (chrono's writer goes through `fmt` piece by piece): no fraction for whole seconds,
/// else 3, 6 or 9 digits, the fewest that hold it. `None` for anything else (chrono writes it).
fn write_canonical<'a>(t: &DateTime<Utc>, buf: &'a mut [u8; CANONICAL_MAX]) -> Option<&'a str> {
    use chrono::{Datelike as _, Timelike as _};
    let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let (frac, digits) = match nanos {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (n / 1_000_000, 3),
        n if n % 1_000 == 0 => (n / 1_000, 6),
        n => (n, 9),
    };
    // Fields and separators, left to right; each number zero-padded to its width.
    let fields: [(u32, usize, u8); 6] = [
        (year, 4, b'-'),
        (t.month(), 2, b'-'),
        (t.day(), 2, b'T'),
        (t.hour(), 2, b':'),
        (t.minute(), 2, b':'),
        (t.second(), 2, if digits == 0 { b'Z' } else { b'.' }),
    ];
    let mut len = 0;
    let mut put = |mut value: u32, width: usize, then: u8| -> Option<()> {
        let digits_at = buf.get_mut(len..len + width)?;
        for d in digits_at.iter_mut().rev() {
            *d = b'0' + (value % 10) as u8;
            value /= 10;
        }
        *buf.get_mut(len + width)? = then;
        len += width + 1;
        Some(())
    };
    for (value, width, then) in fields {
        put(value, width, then)?;
    }
    if digits > 0 {
        put(frac, digits, b'Z')?;
    }
    std::str::from_utf8(buf.get(..len)?).ok()
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

/// `deserialize_with` for a `DateTime<Utc>` field (as chrono's `Deserialize`).
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    d.deserialize_str(TimeVisitor)
}

/// `deserialize_with` for an `Option<DateTime<Utc>>` field (as `Option`'s `Deserialize`).
pub(crate) fn deserialize_opt<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    d.deserialize_option(OptVisitor)
}

/// chrono's `DateTimeVisitor` with the direct path in front.
struct TimeVisitor;

impl de::Visitor<'_> for TimeVisitor {
    type Value = DateTime<Utc>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 formatted date and time string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<DateTime<Utc>, E> {
        match canonical(v) {
            Some(t) => Ok(t),
            None => v
                .parse::<DateTime<FixedOffset>>()
                .map(|t| t.with_timezone(&Utc))
                .map_err(E::custom),
        }
    }
}

/// serde's `OptionVisitor` for `Option<DateTime<Utc>>`.
struct OptVisitor;

impl<'de> de::Visitor<'de> for OptVisitor {
    type Value = Option<DateTime<Utc>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("option")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        deserialize(d).map(Some)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` with a valid date and time (no leap second), else `None`.
fn canonical(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let nanos = match b.len() {
        20 => 0,
        22..=30 if at(19, b'.') => {
            let digits = b.len() - 21;
            num(20..20 + digits)? * 10u32.pow(9 - u32::try_from(digits).ok()?)
        }
        _ => return None,
    };
    if !at(b.len() - 1, b'Z') || sec > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(Utc.from_utc_datetime(&date.and_hms_nano_opt(hour, min, sec, nanos)?))
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

    /// The time `secs`/`nanos` with its fraction cut to whole seconds, milli-, micro- or
    /// nanoseconds (`round` 0…3): ours and chrono's text when they differ, else `None`.
    fn ours_and_chronos(secs: i64, nanos: u32, round: u8) -> Option<(String, String)> {
        let nanos = match round {
            0 => nanos - nanos % 1_000_000_000,
            1 => nanos - nanos % 1_000_000,
            2 => nanos - nanos % 1_000,
            _ => nanos,
        };
        let t = DateTime::<Utc>::from_timestamp(secs, nanos)?;
        let (a, b) = (ours(&t), serde_json::to_string(&t).unwrap());
        (a != b).then_some((a, b))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn same_text_as_chrono(
            secs in -8_200_000_000_000i64..8_200_000_000_000,
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000, 1_000_000_000u32..2_000_000_000],
            round in 0u8..4,
        ) {
            // Years −259 000 … +261 000 (chrono's range is ±262 143), so far beyond 0..=9999.
            prop_assert_eq!(ours_and_chronos(secs, nanos, round), None);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Years 0..=9999, where the direct writer is used (the test above mostly draws years
        /// far outside it), every fraction length and leap seconds.
        #[test]
        fn same_text_as_chrono_in_four_digit_years(
            secs in -62_167_219_200i64..253_402_300_800,
            nanos in prop_oneof![0u32..1_000_000_000, 1_000_000_000u32..2_000_000_000],
            round in 0u8..4,
        ) {
            prop_assert_eq!(ours_and_chronos(secs, nanos, round), None);
        }
    }

    #[test]
    fn edges_write_as_chrono() {
        for (secs, nanos) in [
            (-62_167_219_200, 0),           // 0000-01-01T00:00:00Z
            (-62_167_219_201, 0),           // 1 BCE: chrono's signed form
            (253_402_300_799, 999_999_999), // 9999-12-31T23:59:59.999999999Z
            (253_402_300_800, 0),           // 10000-01-01: chrono's signed form
            (0, 1_000_000),
            (0, 1_000),
            (0, 1),
            (1_483_228_799, 1_500_000_000), // a leap second
        ] {
            let t = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap();
            assert_eq!(
                ours(&t),
                serde_json::to_string(&t).unwrap(),
                "{secs} {nanos}"
            );
        }
    }

    /// What chrono's `Deserialize` makes of `s`, and what ours does.
    fn both(s: &str) -> (Result<DateTime<Utc>, String>, Result<DateTime<Utc>, String>) {
        let json = serde_json::to_string(s).unwrap();
        let theirs = serde_json::from_str::<DateTime<Utc>>(&json).map_err(|e| e.to_string());
        let ours = super::deserialize(&mut serde_json::Deserializer::from_str(&json))
            .map_err(|e| e.to_string());
        (theirs, ours)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn reads_as_chrono(
            y in 0u32..10_000, mo in 0u32..14, d in 0u32..33,
            h in 0u32..26, mi in 0u32..62, s in 0u32..62,
            frac in "(\\.[0-9]{0,11})?",
            zone in prop_oneof![Just("Z"), Just("z"), Just("+00:00"), Just("+09:00"), Just("")],
            sep in prop_oneof![Just("T"), Just("t"), Just(" ")],
        ) {
            let text = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{frac}{zone}");
            let (theirs, ours) = both(&text);
            prop_assert_eq!(ours, theirs, "{}", text);
        }

        #[test]
        fn reads_what_it_writes(
            secs in -8_200_000_000_000i64..8_200_000_000_000,
            nanos in 0u32..1_000_000_000,
        ) {
            if let Some(t) = DateTime::<Utc>::from_timestamp(secs, nanos) {
                let text = t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
                let (theirs, ours) = both(&text);
                prop_assert_eq!(&ours, &theirs, "{}", text);
                prop_assert_eq!(ours, Ok(t));
            }
        }
    }

    #[test]
    fn odd_texts_read_as_chrono() {
        for text in [
            "",
            "Z",
            "2026-12-07T16:00:00",
            "2026-12-07T16:00:00.Z",
            "2026-02-30T00:00:00Z",
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2026-12-07T24:00:00Z",
            "+2026-12-07T16:00:00Z",
            "-0001-12-07T16:00:00Z",
            "2026-12-07T16:00:00Z ",
            " 2026-12-07T16:00:00Z",
            "2026-12-07T16:00:00.1234567891Z",
            "2026-1-07T16:00:00Z",
            "2026-12-07T16:00:00ZZ",
            "２026-12-07T16:00:00Z",
            "2026-12-07T16:00:00.+1Z",
        ] {
            let (theirs, ours) = both(text);
            assert_eq!(ours, theirs, "{text:?}");
        }
        // Not a string: chrono's error.
        let theirs = serde_json::from_str::<DateTime<Utc>>("5")
            .unwrap_err()
            .to_string();
        let ours = super::deserialize(&mut serde_json::Deserializer::from_str("5"))
            .unwrap_err()
            .to_string();
        assert_eq!(ours, theirs);
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
