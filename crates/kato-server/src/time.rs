//! Timestamps the way the reference prints them (pydantic: ISO-8601 UTC, microseconds, `Z`).

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::macros::format_description;

/// `2026-11-24T04:06:36.677031Z`.
pub(crate) fn iso_utc(at: SystemTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    OffsetDateTime::from(at)
        .format(&format)
        .expect("a system time formats as ISO-8601")
}

/// Python's `datetime.isoformat()` of a UTC time: `2026-11-24T04:06:36.677031+00:00`, the
/// fraction dropped when it is 0 (the reference's event and monitoring timestamps).
pub(crate) fn iso_utc_offset(at: SystemTime) -> String {
    format!("{}+00:00", iso_naive(at))
}

/// [`iso_utc_offset`] without the offset: the reference's "local" timestamps, for a server
/// that keeps UTC as its local time.
pub(crate) fn iso_naive(at: SystemTime) -> String {
    let at = OffsetDateTime::from(at);
    let seconds = at
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .expect("a system time formats as ISO-8601");
    match at.microsecond() {
        0 => seconds,
        micros => format!("{seconds}.{micros:06}"),
    }
}

/// Seconds since the epoch as a float (the reference's `time.time()`).
pub(crate) fn epoch_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn python_isoformat_drops_a_zero_fraction() {
        let at = UNIX_EPOCH + Duration::from_micros(1_795_493_196_677_031);
        assert_eq!(iso_utc_offset(at), "2026-11-24T04:06:36.677031+00:00");
        let whole = UNIX_EPOCH + Duration::from_secs(1_795_493_196);
        assert_eq!(iso_naive(whole), "2026-11-24T04:06:36");
    }

    #[test]
    fn microseconds_and_z() {
        let at = UNIX_EPOCH + Duration::from_micros(1_795_493_196_677_031);
        assert_eq!(iso_utc(at), "2026-11-24T04:06:36.677031Z");
    }
}
