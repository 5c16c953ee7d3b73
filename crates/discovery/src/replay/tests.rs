use super::*;

fn row<'a>(rows: &'a [Row], policy: &str) -> &'a Row {
    rows.iter().find(|r| r.policy == policy).unwrap()
}

/// The published shape: round robin's p999 near 988 ms (it sends a tenth of the traffic
/// to the endpoint answering below a second), the two choices over peak EWMA within 20%
/// of 105 ms; least requests between.
#[test]
fn the_tower_replay_has_the_published_shape() {
    let e = Experiment::tower(1);
    let rows = run_all(&e);
    eprintln!("{}", table(&e, &rows));
    let p999 = |p| row(&rows, p).p999_ms;
    let (rr, lr, pe) = (
        p999("round-robin"),
        p999("least-requests"),
        p999("p2c-peak-ewma"),
    );
    assert!((950.0..1_000.0).contains(&rr), "round robin p999 {rr}");
    assert!(
        (84.0..=126.0).contains(&pe),
        "peak EWMA p999 {pe} not within 20% of 105"
    );
    assert!(pe < lr && lr < rr, "{pe} < {lr} < {rr}");
    assert!(
        rows.iter()
            .all(|r| r.requests == 50_000 && r.success == 1.0)
    );
}

/// The published shape: within 1 s, round robin near 95%, least loaded near 99%, peak
/// EWMA at least 99.9%.
#[test]
fn the_linkerd_replay_has_the_published_shape() {
    let e = Experiment::linkerd(1);
    let rows = run_all(&e);
    eprintln!("{}", table(&e, &rows));
    let ok = |p| row(&rows, p).success;
    let (rr, lr, pe) = (ok("round-robin"), ok("least-requests"), ok("p2c-peak-ewma"));
    assert!((0.94..0.97).contains(&rr), "round robin {rr}");
    assert!(lr > 0.98 && lr > rr, "least requests {lr}");
    assert!(pe >= 0.999, "peak EWMA {pe}");
}

#[test]
fn one_seed_one_table() {
    let e = Experiment {
        traffic: Traffic::Open {
            rate: 200,
            seconds: 20,
        },
        ..Experiment::linkerd(9)
    };
    assert_eq!(run_all(&e), run_all(&e));
    let other = Experiment {
        seed: 10,
        ..e.clone()
    };
    assert_ne!(run_all(&e), run_all(&other));
}
