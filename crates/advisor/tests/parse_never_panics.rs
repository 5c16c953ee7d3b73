//! Whatever the bytes, parsing answers with a spec or diagnostics, and designing a
//! parsed spec answers with a design: no panic, no hang. (The fuzz target
//! `read_spec` in `fuzz/` runs the same property coverage-guided: `scripts/fuzz.sh`.)

use dsys_advisor::{Spec, design};
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../../specs/checkout.toml");

/// Parse, design if it parsed, and render every way.
fn exercise(text: &str) {
    match Spec::parse("fuzz.toml", text) {
        Ok(spec) => {
            let d = design(&spec);
            let _ = dsys_advisor::render::text(&d);
            let _ = dsys_advisor::render::markdown(&d);
        }
        Err(e) => {
            assert!(!e.diagnostics.is_empty());
            for d in &e.diagnostics {
                assert!(d.line >= 1 && d.column >= 1);
            }
            let _ = e.to_string();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        exercise(&text);
    }

    /// The example with a slice cut out, or replaced by arbitrary text: near-valid specs
    /// reach the validator and the rules, not just the TOML parser.
    #[test]
    fn mutated_examples_never_panic(
        at in 0usize..EXAMPLE.len(),
        len in 0usize..40,
        insert in "[a-z0-9 =\\[\\]\"\\.\\-\n]{0,20}",
    ) {
        let start = (0..=at).rev().find(|&i| EXAMPLE.is_char_boundary(i)).unwrap_or(0);
        let end = (start + len).min(EXAMPLE.len());
        let end = (end..=EXAMPLE.len()).find(|&i| EXAMPLE.is_char_boundary(i)).unwrap_or(EXAMPLE.len());
        let text = format!("{}{insert}{}", &EXAMPLE[..start], &EXAMPLE[end..]);
        exercise(&text);
    }

    /// Numbers anywhere in range, including the extremes TOML allows.
    #[test]
    fn extreme_numbers_never_panic(
        instances in any::<u32>(),
        availability in prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY)],
        rate in prop_oneof![any::<f64>(), Just(1e308)],
    ) {
        let text = format!(
            "[system]\nname = \"x\"\navailability = 99.9\n\n[[region]]\nname = \"eu\"\nzones = 3\n\n\
             [[service]]\nname = \"s\"\nregions = [\"eu\"]\ninstances = {instances}\n\
             instance_availability = {availability:?}\nrequests_per_sec = {rate:?}\n"
        ).replace("NaN", "nan");
        exercise(&text);
    }
}

#[test]
fn the_example_mutated_here_parses_unmutated() {
    assert!(Spec::parse("checkout.toml", EXAMPLE).is_ok());
}
