//! Virtual-time compression on the default workload: how many virtual seconds the
//! simulator covers per real second when running `dsys simulate` with default flags.
//!
//! The counter counts *virtual milliseconds*, so divan's "item/s" column divided by 1000
//! is the compression factor (virtual seconds per wall second).
//!
//! Run: `cargo bench -p dsys-lab --bench default_workload`

use dsys_lab::{Protocol, Scenario};

fn main() {
    divan::main();
}

fn scenario(protocol: Protocol, nemesis: &str) -> Scenario {
    Scenario::builder(protocol)
        .nemesis(nemesis)
        .build()
        .expect("a valid scenario")
}

fn bench_scenario(bencher: divan::Bencher, scenario: Scenario) {
    // The virtual duration is a function of the seed and flags, so measure it once.
    let virtual_ms = scenario
        .run(&mut |_| {})
        .expect("runs")
        .outcome
        .virtual_end
        .as_nanos()
        / 1_000_000;
    bencher
        .counter(divan::counter::ItemsCount::new(virtual_ms))
        .bench(|| scenario.run(&mut |_| {}).expect("runs").outcome.trace_hash);
}

#[divan::bench(args = ["single", "primary-async"], sample_count = 50)]
fn default_flags(bencher: divan::Bencher, protocol: &str) {
    let protocol: Protocol = protocol.parse().expect("known protocol");
    bench_scenario(bencher, scenario(protocol, "none"));
}

#[divan::bench(args = ["single", "primary-async"], sample_count = 50)]
fn default_flags_swarm(bencher: divan::Bencher, protocol: &str) {
    let protocol: Protocol = protocol.parse().expect("known protocol");
    bench_scenario(bencher, scenario(protocol, "swarm"));
}
