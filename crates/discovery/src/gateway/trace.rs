//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): the `traceparent` header
//! the gateway continues, or starts when a request comes without a valid one.
//!
//! `version-traceid-parentid-flags`, lower-case hex: `00-` then 32 digits of trace id,
//! 16 of parent (span) id, 2 of flags. An all-zero trace or parent id is invalid; so is
//! version `ff`. A version above `00` is read by its first four fields, as the
//! specification asks, and continued as `00`.

use std::fmt;

/// A position in a trace: the trace, and the span a request is sent from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace (16 bytes, not all zero).
    pub trace_id: u128,
    /// The span the request comes from (8 bytes, not zero).
    pub parent_id: u64,
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
}

fn hex<const N: usize>(s: &str) -> Option<u128> {
    (s.len() == N
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    .then(|| u128::from_str_radix(s, 16).ok())
    .flatten()
}

impl TraceParent {
    /// Parse a `traceparent` header value; `None` if it is not a valid one.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let mut parts = value.trim().split('-');
        let version = hex::<2>(parts.next()?)?;
        let trace_id = hex::<32>(parts.next()?)?;
        let parent_id = u64::try_from(hex::<16>(parts.next()?)?).ok()?;
        let flags = u8::try_from(hex::<2>(parts.next()?)?).ok()?;
        // Version 00 has exactly four fields; later versions may add more.
        let extra = parts.next().is_some();
        if version == 0xff || (version == 0 && extra) || trace_id == 0 || parent_id == 0 {
            return None;
        }
        Some(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// The same trace, continued from span `span_id` (the gateway's own).
    pub fn child(self, span_id: u64) -> TraceParent {
        TraceParent {
            parent_id: span_id.max(1),
            ..self
        }
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{:032x}-{:016x}-{:02x}",
            self.trace_id, self.parent_id, self.flags
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specification_examples_parse_and_print_back() {
        let v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let t = TraceParent::parse(v).unwrap();
        assert_eq!(t.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(t.parent_id, 0x00f067aa0ba902b7);
        assert_eq!(t.flags, 1);
        assert_eq!(t.to_string(), v);
        let child = t.child(0xabc);
        assert_eq!(
            child.to_string(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000abc-01"
        );
    }

    #[test]
    fn invalid_headers_are_refused() {
        for bad in [
            "",
            "00",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
        // A later version may carry more fields: read the four known ones.
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more";
        assert!(TraceParent::parse(later).is_some());
    }
}
