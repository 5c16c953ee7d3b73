//! The HTML timeline: self-contained, the witness highlighted, bounded in size.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_check::budget::Budget;
use dsys_check::report::{CheckName, run};
use dsys_check::synth::{SynthConfig, kv_history};
use dsys_check::timeline::render;
use dsys_check::{ModelKind, read_history};

#[test]
fn a_hundred_thousand_operations_fit_in_20_mb() {
    let history = kv_history(SynthConfig {
        seed: 9,
        ops: 100_000,
        keys: 1_000,
        clients: 10,
        indeterminate: 0.01,
    });
    let report = run(
        &history,
        ModelKind::Kv,
        &[CheckName::Linearizable],
        &mut Budget::unlimited(),
    )
    .unwrap();
    let html = render(&history, &report, "100k");
    println!("100,000 operations: {} bytes of HTML", html.len());
    assert!(html.len() < 20 << 20, "{} bytes", html.len());
    assert_eq!(
        html.matches("<rect class=\"read").count()
            + html.matches("<rect class=\"write").count()
            + html.matches("<rect class=\"cas").count(),
        history.ops.len()
    );
}

#[test]
fn the_witness_is_highlighted_and_the_file_is_self_contained() {
    let text = "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n\
                {:process :nemesis, :type :info, :f :start, :value nil}\n\
                {:process 0, :type :invoke, :f :write, :value 2}\n{:process 0, :type :ok, :f :write, :value 2}\n\
                {:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value 1}\n\
                {:process 2, :type :invoke, :f :write, :value 3}\n";
    let history = read_history(text, None).unwrap();
    let report = run(
        &history,
        ModelKind::Register,
        &[CheckName::Linearizable],
        &mut Budget::unlimited(),
    )
    .unwrap();
    let html = render(&history, &report, "stale <read>");
    assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
    assert!(
        html.contains("<title>stale &lt;read&gt;</title>"),
        "titles are escaped"
    );
    assert!(html.contains("Witness on the timeline"));
    // Three witness ops highlighted, in the witness lane and again in the key's lane.
    assert_eq!(html.matches(" witness\"").count(), 6);
    assert!(html.contains("p1 r 1"));
    // The never-completed write is drawn open-ended, the nemesis event as a fault marker.
    assert!(html.contains("class=\"write info\""));
    assert!(html.contains("<title>start</title>"));
    assert!(
        !html.contains("<script") && !html.contains("http"),
        "no scripts, no network"
    );
}
