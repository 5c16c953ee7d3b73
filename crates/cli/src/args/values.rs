//! Value parsers and small value types shared by several commands.

use clap::ValueEnum;
use dsys_check::CheckName;
use std::time::Duration;

/// `--format` of the commands that print a report: text for people or JSON.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for people.
    #[value(alias = "table")]
    Text,
    /// One JSON object on stdout.
    Json,
}

/// A list of check names (`none` for no checks).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CheckList(pub Vec<CheckName>);

impl CheckList {
    /// Every name of every `--checks` given (repeated flags and commas alike).
    pub fn join(lists: &[CheckList]) -> Option<CheckList> {
        (!lists.is_empty()).then(|| CheckList(lists.iter().flat_map(|l| l.0.clone()).collect()))
    }
}

/// One `--checks` value: names separated by commas, or `none`.
pub fn parse_checks(s: &str) -> Result<CheckList, String> {
    if s == "none" {
        return Ok(CheckList(Vec::new()));
    }
    s.split(',')
        .map(|c| c.trim().parse::<CheckName>())
        .collect::<Result<Vec<_>, _>>()
        .map(CheckList)
}

/// A duration with its unit: `250us`, `500ms`, `10s`, `2m` (fractions allowed). A bare
/// number is refused: `--timeout 500` meant milliseconds in one place and seconds in
/// another, and a unit says which.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let units: [(&str, f64); 5] = [
        ("us", 1e-6),
        ("µs", 1e-6),
        ("ms", 1e-3),
        ("s", 1.0),
        ("m", 60.0),
    ];
    let Some((number, scale)) = units
        .iter()
        .find_map(|(unit, scale)| t.strip_suffix(unit).map(|n| (n, *scale)))
    else {
        return Err(match t.parse::<f64>() {
            Ok(_) => format!("`{s}` has no unit: write {t}ms or {t}s"),
            Err(_) => format!("`{s}`: expected a duration such as 500ms, 10s or 2m"),
        });
    };
    match number.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x * scale < 1e9 => {
            Ok(Duration::from_secs_f64(x * scale))
        }
        Ok(x) if x <= 0.0 => Err(format!("`{s}`: a duration must be more than zero")),
        _ => Err(format!(
            "`{s}`: expected a duration such as 500ms, 10s or 2m"
        )),
    }
}

/// A whole number in `min..=max`, with a clear word for negative numbers.
pub fn whole(s: &str, min: u64, max: u64) -> Result<u64, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!(
            "`{s}` is negative; expected a whole number from {min} to {max}"
        ));
    }
    match t.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) => Err(format!(
            "{n} is out of range; expected a whole number from {min} to {max}"
        )),
        Err(_) => Err(format!(
            "`{s}`: expected a whole number from {min} to {max}"
        )),
    }
}

/// A size in bytes: a whole number with an optional unit (`KiB`, `MiB`, `GiB`, `TiB`, or
/// `B`), e.g. `512MiB`; at least one byte, at most 1 TiB.
pub fn size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let units: [(&str, u64); 5] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ];
    let (number, scale) = units
        .iter()
        .find_map(|(unit, scale)| t.strip_suffix(unit).map(|n| (n.trim(), *scale)))
        .unwrap_or((t, 1));
    let bad = || format!("`{s}`: expected a size such as 512MiB or 2GiB (at most 1TiB)");
    let n: u64 = number.parse().map_err(|_| bad())?;
    match n.checked_mul(scale) {
        Some(bytes) if (1..=1 << 40).contains(&bytes) => Ok(bytes),
        _ => Err(bad()),
    }
}

/// Seeds: any whole number from 0.
pub fn seed(s: &str) -> Result<u64, String> {
    whole(s, 0, u64::MAX)
}

/// A count of at least one, at most `u32::MAX` (seeds per cell, threads).
pub fn positive(s: &str) -> Result<u64, String> {
    whole(s, 1, u64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units_and_refuse_nonsense() {
        assert_eq!(size("512MiB"), Ok(512 << 20));
        assert_eq!(size("2 GiB"), Ok(2 << 30));
        assert_eq!(size("1000"), Ok(1000));
        assert_eq!(size("7B"), Ok(7));
        for bad in ["0", "-1MiB", "2GB", "1.5GiB", "99999999999TiB", "2TiB", ""] {
            assert!(size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert!(
            parse_duration("500")
                .unwrap_err()
                .contains("no unit: write 500ms or 500s")
        );
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(
            parse_duration("-1s")
                .unwrap_err()
                .contains("more than zero")
        );
        assert!(
            parse_duration("fast")
                .unwrap_err()
                .contains("expected a duration")
        );
        assert!(parse_duration("1e12s").is_err());
    }

    #[test]
    fn negative_numbers_are_named() {
        assert!(whole("-1", 0, 9).unwrap_err().contains("negative"));
        assert!(whole("10", 0, 9).unwrap_err().contains("out of range"));
        assert_eq!(whole(" 7", 0, 9), Ok(7));
        assert!(positive("0").unwrap_err().contains("from 1"));
    }
}
