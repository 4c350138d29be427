//! GPS time: microseconds since 1980-01-06T00:00:00 on the GPS time scale.
//!
//! GPS time does not stop for leap seconds, so GPS = UTC + (leap seconds inserted since
//! 1980-01-06); that offset is 18 s since 2017-01-01. The table below is the IERS list; a new
//! leap second needs a new entry (none is announced as of 2026).

use chrono::{DateTime, Utc};

/// Unix time (s) of the GPS epoch 1980-01-06T00:00:00Z.
pub const GPS_EPOCH_UNIX_S: i64 = 315_964_800;

/// Largest GPS time a frame may carry (exclusive): 2^56 µs (about year 4264).
pub const GPS_US_LIMIT: u64 = 1 << 56;

/// UTC instants (Unix seconds) at which the GPS−UTC offset increased by one second; the
/// offset from that instant on is the 1-based index in this table.
pub const LEAP_SECONDS_UNIX: [i64; 18] = [
    362_793_600,   // 1981-07-01
    394_329_600,   // 1982-07-01
    425_865_600,   // 1983-07-01
    489_024_000,   // 1985-07-01
    567_993_600,   // 1988-01-01
    631_152_000,   // 1990-01-01
    662_688_000,   // 1991-01-01
    709_948_800,   // 1992-07-01
    741_484_800,   // 1993-07-01
    773_020_800,   // 1994-07-01
    820_454_400,   // 1996-01-01
    867_715_200,   // 1997-07-01
    915_148_800,   // 1999-01-01
    1_136_073_600, // 2006-01-01
    1_230_768_000, // 2009-01-01
    1_341_100_800, // 2012-07-01
    1_435_708_800, // 2015-07-01
    1_483_228_800, // 2017-01-01
];

/// GPS − UTC in seconds at the UTC instant `unix_s`.
pub fn leap_offset_at_utc(unix_s: i64) -> i64 {
    LEAP_SECONDS_UNIX.iter().filter(|&&t| t <= unix_s).count() as i64
}

/// GPS − UTC in seconds at the GPS instant `gps_s` (seconds since the GPS epoch).
///
/// (Inside an inserted leap second this returns the old offset; [`gps_us_to_utc`] handles
/// that second separately.)
pub fn leap_offset_at_gps(gps_s: i64) -> i64 {
    let mut off = 0;
    for (i, &t) in LEAP_SECONDS_UNIX.iter().enumerate() {
        let n = i as i64 + 1;
        if gps_s >= t - GPS_EPOCH_UNIX_S + n {
            off = n;
        }
    }
    off
}

/// UTC → GPS µs, rounded to the nearest microsecond. `None` before the GPS epoch or at/after
/// [`GPS_US_LIMIT`].
pub fn utc_to_gps_us(t: DateTime<Utc>) -> Option<u64> {
    let unix_s = t.timestamp();
    // Sub-second nanoseconds (may exceed 1e9 for a chrono leap second; rounding handles it).
    let ns = i64::from(t.timestamp_subsec_nanos());
    let rel_s = unix_s.checked_sub(GPS_EPOCH_UNIX_S)?;
    let gps_s = rel_s.checked_add(leap_offset_at_utc(unix_s))?;
    let us = gps_s
        .checked_mul(1_000_000)?
        .checked_add((ns + 500) / 1000)?;
    let us = u64::try_from(us).ok()?;
    (us < GPS_US_LIMIT).then_some(us)
}

/// GPS µs → UTC. `None` at/after [`GPS_US_LIMIT`].
///
/// A GPS instant inside an inserted leap second is returned as chrono's leap-second
/// representation (23:59:59 with a nanosecond field ≥ 1e9, printed `23:59:60.…`), so every
/// GPS microsecond maps to a distinct UTC instant and back.
pub fn gps_us_to_utc(gps_us: u64) -> Option<DateTime<Utc>> {
    if gps_us >= GPS_US_LIMIT {
        return None;
    }
    let us = i64::try_from(gps_us).ok()?;
    let gps_s = us.div_euclid(1_000_000);
    let sub_ns = (us.rem_euclid(1_000_000) * 1000) as u32;
    for (i, &t) in LEAP_SECONDS_UNIX.iter().enumerate() {
        // The inserted second before `t` has GPS seconds t - epoch + (i + 1) - 1.
        if gps_s == t - GPS_EPOCH_UNIX_S + i as i64 {
            return DateTime::from_timestamp(t - 1, 1_000_000_000 + sub_ns);
        }
    }
    let unix_s = gps_s - leap_offset_at_gps(gps_s) + GPS_EPOCH_UNIX_S;
    DateTime::from_timestamp(unix_s, sub_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn table_dates_are_right() {
        for (t, s) in LEAP_SECONDS_UNIX.iter().zip([
            "1981-07-01",
            "1982-07-01",
            "1983-07-01",
            "1985-07-01",
            "1988-01-01",
            "1990-01-01",
            "1991-01-01",
            "1992-07-01",
            "1993-07-01",
            "1994-07-01",
            "1996-01-01",
            "1997-07-01",
            "1999-01-01",
            "2006-01-01",
            "2009-01-01",
            "2012-07-01",
            "2015-07-01",
            "2017-01-01",
        ]) {
            assert_eq!(utc(&format!("{s}T00:00:00Z")).timestamp(), *t, "{s}");
        }
        assert_eq!(utc("1980-01-06T00:00:00Z").timestamp(), GPS_EPOCH_UNIX_S);
    }

    #[test]
    fn known_offsets() {
        assert_eq!(utc_to_gps_us(utc("1980-01-06T00:00:00Z")), Some(0));
        // 2026: GPS = UTC + 18 s.
        let t = utc("2026-11-21T00:00:00Z");
        let gps = utc_to_gps_us(t).unwrap();
        assert_eq!(
            gps as i64,
            (t.timestamp() - GPS_EPOCH_UNIX_S + 18) * 1_000_000
        );
        assert_eq!(gps_us_to_utc(gps), Some(t));
        // Just before and after the 2017 leap second.
        let before = utc("2016-12-31T23:59:59.5Z");
        let after = utc("2017-01-01T00:00:00.5Z");
        assert_eq!(
            utc_to_gps_us(after).unwrap() - utc_to_gps_us(before).unwrap(),
            2_000_000
        );
        assert_eq!(gps_us_to_utc(utc_to_gps_us(before).unwrap()), Some(before));
        assert_eq!(gps_us_to_utc(utc_to_gps_us(after).unwrap()), Some(after));
        assert_eq!(utc_to_gps_us(utc("1979-12-31T00:00:00Z")), None);
        assert!(gps_us_to_utc(GPS_US_LIMIT).is_none());
        assert!(gps_us_to_utc(GPS_US_LIMIT - 1).is_some());
    }

    #[test]
    fn leap_second_round_trips() {
        let leap = utc("2016-12-31T23:59:60.250Z");
        let gps = utc_to_gps_us(leap).unwrap();
        let before = utc_to_gps_us(utc("2016-12-31T23:59:59.250Z")).unwrap();
        let after = utc_to_gps_us(utc("2017-01-01T00:00:00.250Z")).unwrap();
        assert_eq!(gps - before, 1_000_000);
        assert_eq!(after - gps, 1_000_000);
        assert_eq!(gps_us_to_utc(gps), Some(leap));
        assert_eq!(gps_us_to_utc(after), Some(utc("2017-01-01T00:00:00.250Z")));
        // Every GPS second around each leap second maps back to itself.
        for (i, &t) in LEAP_SECONDS_UNIX.iter().enumerate() {
            let g = (t - GPS_EPOCH_UNIX_S + i as i64) as u64 * 1_000_000;
            for d in [0u64, 999_999, 1_000_000, 2_000_000] {
                let x = g - 1_000_000 + d;
                assert_eq!(utc_to_gps_us(gps_us_to_utc(x).unwrap()), Some(x), "{x}");
            }
        }
    }

    #[test]
    fn rounds_to_nearest_microsecond() {
        let t = utc("2026-01-01T00:00:00.0000005Z");
        let t0 = utc("2026-01-01T00:00:00Z");
        assert_eq!(utc_to_gps_us(t).unwrap(), utc_to_gps_us(t0).unwrap() + 1);
        let t = utc("2026-01-01T00:00:00.0000004Z");
        assert_eq!(utc_to_gps_us(t).unwrap(), utc_to_gps_us(t0).unwrap());
    }
}
