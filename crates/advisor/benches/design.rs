//! `dsys design` on large specs, without `--verify`: parse and validate, decide, check,
//! render. The bar (issue 25): 100 services, 40 data classes and 5 regions under 50 ms;
//! and time growing with the number of services about linearly (`design_services`).
//!
//! cargo bench -p dsys-advisor --bench design

use dsys_advisor::spec::synthetic::synthetic;
use dsys_advisor::{Spec, design, render};

fn main() {
    divan::main();
}

/// 100 services, 40 data classes, 5 regions: `synthetic(100, 40, 5)`, as the CLI's
/// benchmark input `large.toml`.
const LARGE: &str = include_str!("large.toml");

fn design_and_render(text: &str) -> usize {
    let spec = Spec::parse("large.toml", divan::black_box(text)).expect("the spec parses");
    let d = design(&spec);
    render::text(&d).len() + d.decisions.len()
}

#[divan::bench]
fn design_100_services_40_data_5_regions(bencher: divan::Bencher) {
    bencher.bench(|| design_and_render(LARGE));
}

#[divan::bench]
fn parse_only(bencher: divan::Bencher) {
    bencher.bench(|| Spec::parse("large.toml", divan::black_box(LARGE)).map(|s| s.services.len()));
}

/// The same shape at 1,000 to 8,000 services: doubling the services should about double
/// the time.
#[divan::bench(args = [1_000, 2_000, 4_000, 8_000], sample_count = 10)]
fn design_services(bencher: divan::Bencher, services: usize) {
    let text = synthetic(services, 40, 5);
    bencher.bench(|| design_and_render(&text));
}

/// The arithmetic checks alone (availability under correlated outages, quorums, latency,
/// budgets along depends_on) at 1,000 to 8,000 services: they should grow linearly.
#[divan::bench(args = [1_000, 2_000, 4_000, 8_000], sample_count = 10)]
fn checks_services(bencher: divan::Bencher, services: usize) {
    let text = synthetic(services, 40, 5);
    let spec = Spec::parse("large.toml", &text).expect("the spec parses");
    bencher.bench(|| dsys_advisor::checks::run(divan::black_box(&spec)).len());
}
