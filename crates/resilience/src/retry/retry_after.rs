//! The `Retry-After` header (RFC 9110 §10.2.3): delta-seconds or an HTTP-date.

use std::time::{Duration, SystemTime};

/// A `Retry-After` value that is neither form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Retry-After {value:?} is neither delta-seconds nor an HTTP-date")]
pub struct RetryAfterError {
    /// The value as received.
    pub value: String,
}

/// How long `value` asks a client to wait, clamped to `max`: delta-seconds (digits
/// only), or an HTTP-date in any of the three forms a recipient must accept (IMF-fixdate,
/// RFC 850, asctime), measured from the wall-clock `now`; a date in the past is zero.
pub fn parse_retry_after(
    value: &str,
    now: SystemTime,
    max: Duration,
) -> Result<Duration, RetryAfterError> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        // Digits that overflow are a very long wait: the cap.
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        return Ok(Duration::from_secs(secs).min(max));
    }
    let at = httpdate::parse_http_date(v).map_err(|_| RetryAfterError {
        value: value.to_string(),
    })?;
    Ok(at.duration_since(now).unwrap_or(Duration::ZERO).min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_secs(3_600);

    fn at(text: &str) -> SystemTime {
        httpdate::parse_http_date(text).unwrap()
    }

    #[test]
    fn delta_seconds_are_read_and_clamped() {
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(
            parse_retry_after("120", now, MAX),
            Ok(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now, MAX), Ok(Duration::ZERO));
        assert_eq!(parse_retry_after("99999999", now, MAX), Ok(MAX));
        assert_eq!(
            parse_retry_after("184467440737095516160", now, MAX),
            Ok(MAX)
        );
    }

    #[test]
    fn http_dates_in_all_three_forms_count_from_now() {
        let now = at("Wed, 21 Oct 2015 07:27:30 GMT");
        for form in [
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
        ] {
            assert_eq!(
                parse_retry_after(form, now, MAX),
                Ok(Duration::from_secs(30)),
                "{form}"
            );
        }
        // In the past: retry now; far ahead: the cap.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now, MAX),
            Ok(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("Fri, 21 Oct 2016 07:00:00 GMT", now, MAX),
            Ok(MAX)
        );
    }

    #[test]
    fn anything_else_is_an_error() {
        let now = SystemTime::UNIX_EPOCH;
        for bad in [
            "",
            "-5",
            "1.5",
            "soon",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "12 s",
        ] {
            assert!(parse_retry_after(bad, now, MAX).is_err(), "{bad:?}");
        }
    }
}
