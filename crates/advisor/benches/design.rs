//! `dsys design` on a spec of 100 components (`large.toml`: 5 regions, 60 services, 35
//! data classes), without `--verify`: parse and validate, decide, check, render. The bar
//! (issue 6) is under 100 ms.
//!
//! cargo bench -p dsys-advisor --bench design

use dsys_advisor::{Spec, design, render};

fn main() {
    divan::main();
}

/// 100 components: 5 regions, 60 services (each calling the next two, writing one data
/// class and reading another), 35 data classes, each with a latency objective.
const LARGE: &str = include_str!("large.toml");

#[divan::bench]
fn design_100_components(bencher: divan::Bencher) {
    let text = LARGE;
    bencher.bench(|| {
        let spec =
            Spec::parse("large.toml", divan::black_box(text)).expect("the generated spec parses");
        let d = design(&spec);
        render::text(&d).len() + d.decisions.len()
    });
}

#[divan::bench]
fn parse_only(bencher: divan::Bencher) {
    let text = LARGE;
    bencher.bench(|| Spec::parse("large.toml", divan::black_box(text)).map(|s| s.services.len()));
}
