//! Latency budgets along `depends_on`: how long each call may take, from the objectives
//! of the operations it serves and the time its caller was given.
//!
//! A call from `c` to `d` serves the objectives on the data `d`'s request path touches;
//! it may take at most the tightest of them, and never more than `c` itself was given
//! (an entry service is given the default). Within that, one attempt gets half, so a
//! retry fits; where the slowest operation behind `d` (its round trips, from the checks)
//! would not finish in half, the call gets the whole budget and no retry; where it would
//! not finish at all, every such call times out: a contradiction.

use crate::checks;
use crate::design::{About, Check, CheckStatus};
use crate::spec::Spec;
use std::collections::BTreeMap;

/// The budget of a service no objective covers, milliseconds.
pub const DEFAULT_BUDGET_MS: f64 = 1_000.0;

/// One call's budget.
#[derive(Clone, Debug, PartialEq)]
pub struct CallBudget {
    /// The most the call may take, retries included, ms.
    pub budget_ms: f64,
    /// Why: the objective or the caller's own budget that bounds it.
    pub from: String,
    /// Timeout per attempt, ms.
    pub timeout_ms: f64,
    /// Retries within the budget.
    pub retries: u32,
    /// The slowest operation behind the call: its least latency (ms), its name, and the
    /// index of its objective.
    pub slowest: Option<(f64, String, usize)>,
    /// The objective whose bound makes the budget, by index, directly or through the
    /// callers' budgets (where one does).
    pub bounded_by: Option<usize>,
}

/// The services' indices, every caller before what it calls (Kahn's order over
/// `depends_on`; the spec has no cycle).
fn callers_first(spec: &Spec) -> Vec<usize> {
    let at: BTreeMap<&str, usize> = spec
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.get_ref().as_str(), i))
        .collect();
    let mut callers_left = vec![0usize; spec.services.len()];
    for s in &spec.services {
        for d in &s.depends_on {
            if let Some(&j) = at.get(d.get_ref().as_str()) {
                callers_left[j] += 1;
            }
        }
    }
    let mut ready: Vec<usize> = (0..spec.services.len())
        .filter(|&i| callers_left[i] == 0)
        .rev()
        .collect();
    let mut order = Vec::with_capacity(spec.services.len());
    while let Some(i) = ready.pop() {
        order.push(i);
        for d in &spec.services[i].depends_on {
            if let Some(&j) = at.get(d.get_ref().as_str()) {
                callers_left[j] -= 1;
                if callers_left[j] == 0 {
                    ready.push(j);
                }
            }
        }
    }
    order
}

/// Per service: the tightest objective on its request path `(p99, index)` and the
/// slowest operation behind it `(floor, operation, index)`, callees first.
type Behind = (Option<(f64, usize)>, Option<(f64, String, usize)>);

fn behind(spec: &Spec, order: &[usize]) -> BTreeMap<String, Behind> {
    let floors: Vec<Option<f64>> = (0..spec.slos.len())
        .map(|i| checks::latency_floor(spec, i))
        .collect();
    let mut out: BTreeMap<String, Behind> = BTreeMap::new();
    for &i in order.iter().rev() {
        let s = &spec.services[i];
        let mut tightest: Option<(f64, usize)> = None;
        let mut slowest: Option<(f64, String, usize)> = None;
        for (j, slo) in spec.slos.iter().enumerate() {
            let touched = s
                .writes
                .iter()
                .chain(&s.reads)
                .any(|d| d.get_ref() == slo.data.get_ref());
            if !touched {
                continue;
            }
            let p99 = *slo.p99_ms.get_ref();
            if tightest.is_none_or(|(t, _)| p99 < t) {
                tightest = Some((p99, j));
            }
            if let Some(f) = floors[j]
                && slowest.as_ref().is_none_or(|(x, _, _)| f > *x)
            {
                slowest = Some((f, slo.operation.clone(), j));
            }
        }
        for d in &s.depends_on {
            if let Some((t, sl)) = out.get(d.get_ref()) {
                if let Some(t) = t
                    && tightest.is_none_or(|(x, _)| t.0 < x)
                {
                    tightest = Some(*t);
                }
                if let Some(sl) = sl
                    && slowest.as_ref().is_none_or(|(x, _, _)| sl.0 > *x)
                {
                    slowest = Some(sl.clone());
                }
            }
        }
        out.insert(s.name.get_ref().clone(), (tightest, slowest));
    }
    out
}

/// Every call's budget, by `(caller, callee)`.
pub fn call_budgets(spec: &Spec) -> BTreeMap<(String, String), CallBudget> {
    let order = callers_first(spec);
    let behind = behind(spec, &order);
    // What each service was given: the default for an entry, else the least of its
    // callers' budgets for it.
    let mut given: BTreeMap<&str, (f64, String, Option<usize>)> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for &i in &order {
        let c = &spec.services[i];
        let name = c.name.get_ref().as_str();
        let (mine, why_mine, origin) = given.get(name).cloned().unwrap_or((
            DEFAULT_BUDGET_MS,
            "the default for a request".into(),
            None,
        ));
        for d in &c.depends_on {
            let (tightest, slowest) = behind.get(d.get_ref()).cloned().unwrap_or_default();
            let (budget_ms, from, bounded_by) = match tightest {
                Some((p99, j)) if p99 < mine => (
                    p99,
                    format!("the objective \"{}\" behind it", spec.slos[j].operation),
                    Some(j),
                ),
                // Bounded by what the caller was given, and so by what bounded that.
                _ => (mine, why_mine.clone(), origin),
            };
            let floor = slowest.as_ref().map_or(0.0, |s| s.0);
            let (timeout_ms, retries) = if floor <= budget_ms / 2.0 {
                ((budget_ms / 2.0).floor().max(1.0), 1)
            } else {
                (budget_ms.floor().max(1.0), 0)
            };
            let callee = d.get_ref().as_str();
            let reason = format!("{name}'s timeout for it");
            match given.get(callee) {
                Some((ms, _, _)) if *ms <= timeout_ms => {}
                _ => {
                    given.insert(callee, (timeout_ms, reason, bounded_by));
                }
            }
            out.insert(
                (name.to_string(), callee.to_string()),
                CallBudget {
                    budget_ms,
                    from,
                    timeout_ms,
                    retries,
                    slowest,
                    bounded_by,
                },
            );
        }
    }
    out
}

/// A call whose budget is below the slowest operation behind it times out every time.
pub fn checks(spec: &Spec) -> Vec<Check> {
    call_budgets(spec)
        .into_iter()
        .filter_map(|((caller, callee), b)| {
            let (floor, operation, index) = b.slowest.clone()?;
            let ok = floor <= b.budget_ms;
            Some(Check {
                check: "latency-budget",
                subject: format!("{caller} -> {callee}"),
                status: if ok {
                    CheckStatus::Ok
                } else {
                    CheckStatus::Contradiction
                },
                detail: format!(
                    "{callee} may take {:.0} ms ({}); the slowest operation behind it, \"{operation}\", takes at least {floor:.0} ms{}",
                    b.budget_ms,
                    b.from,
                    if ok {
                        if b.retries == 0 {
                            ": no retry fits"
                        } else {
                            ""
                        }
                    } else {
                        ": every such call times out"
                    }
                ),
                about: About::Slo(b.bounded_by.unwrap_or(index)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::spec;

    /// api -> mid -> store: mid's own objective (50 ms) bounds what it may spend on
    /// store, whose write takes at least 82 ms from us.
    const CHAIN: &str = r#"
[[data]]
name = "fast"
kind = "catalog"

[[data]]
name = "slow"
kind = "money"

[[service]]
name = "api"
regions = ["us"]
depends_on = ["mid"]

[[service]]
name = "mid"
regions = ["us"]
depends_on = ["store"]
reads = ["fast"]

[[service]]
name = "store"
regions = ["us"]
writes = ["slow"]

[[slo]]
operation = "look"
data = "fast"
op = "read"
region = "us"
p99_ms = 50

[[slo]]
operation = "pay"
data = "slow"
op = "write"
region = "us"
p99_ms = 200

[[slo]]
operation = "pay in eu"
data = "slow"
op = "write"
region = "eu"
p99_ms = 100
"#;

    #[test]
    fn a_call_gets_the_tightest_objective_behind_it_and_half_for_a_retry() {
        let s = spec(CHAIN);
        let b = call_budgets(&s);
        let api_mid = &b[&("api".to_string(), "mid".to_string())];
        // Behind mid: "look" (50 ms) and the payments (100, 200 ms): 50 bounds it.
        assert_eq!((api_mid.budget_ms, api_mid.bounded_by), (50.0, Some(0)));
        // The slowest behind it, "pay" from us to the leader in eu: 82 ms: no retry fits,
        // and not even one attempt.
        assert_eq!(api_mid.slowest.as_ref().map(|s| s.0), Some(82.0));
        let c = checks(&s);
        assert_eq!(c.len(), 2);
        assert!(
            c.iter().all(|c| c.status == CheckStatus::Contradiction),
            "{c:?}"
        );
        // Both calls are bounded by "look", the second through mid's budget.
        assert!(c.iter().all(|c| c.about == About::Slo(0)), "{c:?}");
        assert!(
            c[0].detail
                .contains("\"pay\", takes at least 82 ms: every such call times out"),
            "{}",
            c[0].detail
        );
    }

    #[test]
    fn a_slow_operation_within_the_budget_gets_one_attempt_without_retry() {
        let s = spec(&CHAIN.replace("p99_ms = 50", "p99_ms = 120"));
        let b = call_budgets(&s);
        let api_mid = &b[&("api".to_string(), "mid".to_string())];
        assert_eq!(
            (api_mid.budget_ms, api_mid.timeout_ms, api_mid.retries),
            (100.0, 100.0, 0)
        );
        assert!(checks(&s).iter().all(|c| c.status == CheckStatus::Ok));
    }
}
