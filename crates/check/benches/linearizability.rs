//! Linearizability checking speed on one core.
//!
//! Run: `cargo bench -p dsys-check --bench linearizability`

use dsys_check::budget::Budget;
use dsys_check::linear;
use dsys_check::synth::{SynthConfig, kv_history};
use dsys_check::{History, ModelKind, Verdict};
use std::time::Duration;

fn main() {
    divan::main();
}

fn check(history: &History, model: ModelKind, budget: Option<Duration>) -> Verdict {
    linear::check(history, model, &mut Budget::new(budget, 4 << 30))
        .expect("fits the model")
        .verdict
}

/// The bar: 100,000 operations over 1,000 keys from 10 clients, under a second.
#[divan::bench(sample_count = 10)]
fn kv_100k_ops_1000_keys_10_clients(bencher: divan::Bencher) {
    let history = kv_history(SynthConfig {
        seed: 1,
        ops: 100_000,
        keys: 1_000,
        clients: 10,
        indeterminate: 0.01,
    });
    bencher
        .counter(divan::counter::ItemsCount::new(history.ops.len()))
        .bench(|| {
            assert_eq!(check(&history, ModelKind::Kv, None), Verdict::Pass);
        });
}

/// One hot key, a fifth of the operations indeterminate, 2,000 operations, by clients.
#[divan::bench(args = [10, 20], sample_count = 10)]
fn one_key_2000_ops_20pct_indeterminate(bencher: divan::Bencher, clients: u64) {
    let history = kv_history(SynthConfig {
        seed: 2,
        ops: 2_000,
        keys: 1,
        clients,
        indeterminate: 0.2,
    });
    bencher
        .counter(divan::counter::ItemsCount::new(history.ops.len()))
        .bench(|| {
            assert_eq!(check(&history, ModelKind::Kv, None), Verdict::Pass);
        });
}

/// One hot key with 50 concurrent clients: eager WGL does not finish (about 20
/// concurrent writes at every instant); this measures how long a 1 s budget takes to
/// stop it with *unknown*.
#[divan::bench(sample_count = 5)]
fn one_key_50_clients_budget_of_1s(bencher: divan::Bencher) {
    let history = kv_history(SynthConfig {
        seed: 2,
        ops: 2_000,
        keys: 1,
        clients: 50,
        indeterminate: 0.2,
    });
    bencher.bench(|| {
        assert_eq!(
            check(&history, ModelKind::Kv, Some(Duration::from_secs(1))),
            Verdict::Unknown
        );
    });
}

/// A history built to be infeasible (50 never-completing writes, all observed, read in
/// an impossible order): how long a 1 s budget takes to stop the search.
#[divan::bench(sample_count = 5)]
fn budget_of_1s_stops_an_infeasible_search(bencher: divan::Bencher) {
    let mut text = String::new();
    for p in 0..50 {
        text.push_str(&format!(
            "{{:process {p}, :type :invoke, :f :write, :value {p}}}\n"
        ));
    }
    for (i, v) in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
        .into_iter()
        .chain(10..50)
        .enumerate()
    {
        let p = 100 + i;
        text.push_str(&format!("{{:process {p}, :type :invoke, :f :read, :value nil}}\n{{:process {p}, :type :ok, :f :read, :value {v}}}\n"));
    }
    let history = dsys_check::read_history(&text, None).expect("valid EDN");
    bencher.bench(|| {
        assert_eq!(
            check(&history, ModelKind::Register, Some(Duration::from_secs(1))),
            Verdict::Unknown
        );
    });
}
