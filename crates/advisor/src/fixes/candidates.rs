//! The changes that could resolve each kind of contradiction, smallest first, with what
//! each costs. [`super::fixes`] re-checks every one and keeps those that work.

use super::{Candidate, Edit};
use crate::checks::{self, REPLICAS};
use crate::design::{About, Check};
use crate::rules::replication::leader_region;
use crate::spec::{DataClass, FailureDomain, Name, OpKind, Spec};
use std::ops::Range;
use toml::Spanned;

/// The candidates for `check`, a contradiction.
pub(crate) fn for_check(spec: &Spec, check: &Check) -> Vec<Candidate> {
    match (&check.about, check.check) {
        (About::Data(name), "quorum") => spec
            .data_class(name)
            .map_or_else(Vec::new, |d| quorum(spec, d)),
        (About::Data(name), "residency") => spec
            .data_class(name)
            .map_or_else(Vec::new, |d| residency(spec, d)),
        (About::Slo(index), "latency") => latency(spec, *index),
        (About::Slo(index), "latency-budget") => latency_budget(spec, *index, &check.subject),
        (About::Service(name), "availability") => availability(spec, name),
        _ => Vec::new(),
    }
}

fn candidate(change: String, cost: String, edits: Vec<Edit>) -> Candidate {
    Candidate {
        change,
        cost,
        edits,
    }
}

/// A value the spec wrote, or absent (a default has the empty span at 0).
fn written<T>(value: &Spanned<T>) -> Option<Range<usize>> {
    let span = value.span();
    (span != (0..0)).then_some(span)
}

/// Set `key = value` in a table: replace the value where the spec wrote it, else add a
/// line after `anchor` (a field of the same table).
fn set(existing: Option<Range<usize>>, anchor: &Name, key: &str, value: String) -> Edit {
    match existing {
        Some(span) => Edit::Replace {
            start: span.start,
            end: span.end,
            text: value,
        },
        None => Edit::AddLine {
            after: anchor.span().start,
            text: format!("{key} = {value}"),
        },
    }
}

/// A region name not yet taken, from `base`.
fn fresh_region(spec: &Spec, base: &str) -> String {
    (1..)
        .map(|i| {
            if i == 1 {
                base.to_string()
            } else {
                format!("{base}-{i}")
            }
        })
        .find(|n| spec.region(n).is_none())
        .unwrap_or_else(|| base.to_string())
}

/// Edits that let `d` live in `regions` too, where it has a residency list.
fn allow(d: &DataClass, regions: &[String]) -> Vec<Edit> {
    let Some(last) = d.residency.last() else {
        return Vec::new();
    };
    let text: String = regions.iter().map(|r| format!(", \"{r}\"")).collect();
    vec![Edit::Replace {
        start: last.span().end,
        end: last.span().end,
        text,
    }]
}

/// Replace `tolerate` with `failures`.
fn tolerate(spec: &Spec, failures: &[FailureDomain]) -> Edit {
    let words: Vec<String> = failures
        .iter()
        .map(|f| {
            format!(
                "\"{}\"",
                match f {
                    FailureDomain::Zone => "zone",
                    FailureDomain::Region => "region",
                    FailureDomain::Partition => "partition",
                }
            )
        })
        .collect();
    let value = format!("[{}]", words.join(", "));
    match written(&spec.system.tolerate) {
        Some(span) => Edit::Replace {
            start: span.start,
            end: span.end,
            text: value,
        },
        None => Edit::AddLine {
            after: spec.system.availability.span().start,
            text: format!("tolerate = {value}"),
        },
    }
}

/// Survive a zone instead of a region.
fn zone_not_region(spec: &Spec, d: &DataClass) -> Candidate {
    let mut failures: Vec<FailureDomain> = spec
        .system
        .tolerate
        .get_ref()
        .iter()
        .copied()
        .filter(|f| *f != FailureDomain::Region)
        .collect();
    if !failures.contains(&FailureDomain::Zone) {
        failures.insert(0, FailureDomain::Zone);
    }
    candidate(
        "survive a zone loss, not a region loss (tolerate without \"region\")".into(),
        format!(
            "a region outage stops {} until the region is back: its downtime comes out of the error budget",
            d.name.get_ref()
        ),
        vec![tolerate(spec, &failures)],
    )
}

fn quorum(spec: &Spec, d: &DataClass) -> Vec<Candidate> {
    let name = d.name.get_ref();
    let mut out = Vec::new();
    if spec.tolerates(FailureDomain::Region) {
        let home = spec.home_regions(d);
        let unused: Vec<String> = spec
            .regions
            .iter()
            .map(|r| r.name.get_ref().clone())
            .filter(|r| !home.contains(r) && spec.region(r).is_some_and(|r| !r.witness))
            .collect();
        if !d.residency.is_empty() && !unused.is_empty() {
            let needed = (REPLICAS as usize)
                .saturating_sub(home.len())
                .min(unused.len());
            let mut nearest = unused.clone();
            let leader = leader_region(spec, d);
            nearest.sort_by(|a, b| {
                let rtt = |r: &String| spec.rtt_ms(&leader, r).unwrap_or(f64::INFINITY);
                rtt(a).total_cmp(&rtt(b)).then_with(|| a.cmp(b))
            });
            let added = &nearest[..needed];
            out.push(candidate(
                format!("let {name} live in {} too (residency)", added.join(", ")),
                format!("{name} is stored outside {}", home.join(", ")),
                allow(d, added),
            ));
        }
        let third = fresh_region(spec, "third-region");
        let mut edits = vec![Edit::Append {
            text: format!("[[region]]\nname = \"{third}\"\nzones = 3\n"),
        }];
        edits.extend(allow(d, std::slice::from_ref(&third)));
        out.push(candidate(
            format!("add a third region ({third}) for the replicas of {name}"),
            format!(
                "a region more to run, one replica of {name} in each of three; a write still waits for the nearer other region. Give its round trips ([[link]]) so the latency checks can use it"
            ),
            edits,
        ));
        let witness = fresh_region(spec, "witness");
        let mut edits = vec![Edit::Append {
            text: format!("[[region]]\nname = \"{witness}\"\nzones = 1\nwitness = true\n"),
        }];
        edits.extend(allow(d, std::slice::from_ref(&witness)));
        out.push(candidate(
            format!("add a witness in a third location ({witness}) for the group of {name}"),
            "one voting replica that keeps the log only: no reads, no services, a fraction of a region's cost; while a full region is down, each write waits for the witness".into(),
            edits,
        ));
        out.push(zone_not_region(spec, d));
    } else if spec.tolerates(FailureDomain::Zone) {
        let leader = leader_region(spec, d);
        if let Some(region) = spec.region(&leader) {
            out.push(candidate(
                format!("give {leader} {REPLICAS} zones"),
                format!("a zone more in {leader} for one replica of {name} in each of {REPLICAS}"),
                vec![Edit::Replace {
                    start: region.zones.span().start,
                    end: region.zones.span().end,
                    text: REPLICAS.to_string(),
                }],
            ));
        }
        let roomy: Vec<String> = spec
            .home_regions(d)
            .into_iter()
            .filter(|r| {
                *r != leader
                    && spec
                        .region(r)
                        .is_some_and(|r| *r.zones.get_ref() >= REPLICAS)
            })
            .collect();
        for other in roomy.iter().take(1) {
            let rtt = spec
                .rtt_ms(&leader, other)
                .map_or("the round trip".into(), |ms| format!("{ms:.0} ms"));
            out.push(candidate(
                format!("move the leader of {name} to {other}, which has {REPLICAS} zones or more"),
                format!("writes from {leader} pay {rtt} more to reach the leader"),
                vec![set(
                    d.leader.as_ref().map(|l| l.span()),
                    &d.name,
                    "leader",
                    format!("\"{other}\""),
                )],
            ));
        }
        let failures: Vec<FailureDomain> = spec
            .system
            .tolerate
            .get_ref()
            .iter()
            .copied()
            .filter(|f| *f != FailureDomain::Zone)
            .collect();
        out.push(candidate(
            "stop requiring that a zone loss be survived (tolerate without \"zone\")".into(),
            format!("a zone outage in {leader} can stop {name} until the zone is back"),
            vec![tolerate(spec, &failures)],
        ));
    }
    out
}

fn residency(spec: &Spec, d: &DataClass) -> Vec<Candidate> {
    let name = d.name.get_ref();
    let home = spec.home_regions(d);
    let mut others: Vec<String> = spec
        .regions
        .iter()
        .filter(|r| !r.witness && !home.contains(r.name.get_ref()))
        .map(|r| r.name.get_ref().clone())
        .collect();
    let pinned = home.first().cloned().unwrap_or_default();
    others.sort_by(|a, b| {
        let rtt = |r: &String| spec.rtt_ms(&pinned, r).unwrap_or(f64::INFINITY);
        rtt(a).total_cmp(&rtt(b)).then_with(|| a.cmp(b))
    });
    let mut out = Vec::new();
    // Consensus needs three places for a majority to outlive a region; others need two.
    for count in [1, 2] {
        if others.len() >= count {
            let added = &others[..count];
            out.push(candidate(
                format!("let {name} live in {} too (residency)", added.join(", ")),
                format!("{name} is stored outside {pinned}"),
                allow(d, added),
            ));
        }
    }
    out.push(zone_not_region(spec, d));
    out
}

fn latency(spec: &Spec, index: usize) -> Vec<Candidate> {
    let Some(slo) = spec.slos.get(index) else {
        return Vec::new();
    };
    let Some(d) = spec.data_class(slo.data.get_ref()) else {
        return Vec::new();
    };
    let name = d.name.get_ref();
    let region = slo.region.get_ref();
    let objective = *slo.p99_ms.get_ref();
    let mut out = Vec::new();
    let needs = crate::spec::Needs::of(d);
    let leader = leader_region(spec, d);
    let home = spec.home_regions(d);
    if slo.op == OpKind::Write && needs.single_order() && home.contains(region) && leader != *region
    {
        out.push(candidate(
            format!(
                "put the leader of {name} in {region}, where \"{}\" is",
                slo.operation
            ),
            format!("writes from {leader} and elsewhere pay the round trip to {region} instead"),
            vec![set(
                d.leader.as_ref().map(|l| l.span()),
                &d.name,
                "leader",
                format!("\"{region}\""),
            )],
        ));
    }
    if slo.op == OpKind::Read && needs.single_order() {
        let lag = spec
            .rtt_ms(region, &leader)
            .map_or("the replication lag".into(), |ms| {
                format!("about {:.0} ms (half the round trip to {leader})", ms / 2.0)
            });
        out.push(candidate(
            format!(
                "let \"{}\" read a nearby replica (freshness = \"eventual\" on the objective)",
                slo.operation
            ),
            format!("these reads may miss writes of the last {lag}; writes keep their one order"),
            vec![Edit::AddLine {
                after: slo.p99_ms.span().start,
                text: "freshness = \"eventual\"".into(),
            }],
        ));
    }
    if !home.contains(region) && !d.residency.is_empty() {
        out.push(candidate(
            format!("let {name} live in {region} too (residency)"),
            format!("{name} is stored in {region}"),
            allow(d, std::slice::from_ref(region)),
        ));
    }
    if let Some(floor) = checks::latency_floor(spec, index) {
        let relaxed = floor.ceil().max(1.0);
        out.push(candidate(
            format!(
                "relax \"{}\" to p99 {relaxed:.0} ms, the least the round trips allow",
                slo.operation
            ),
            format!(
                "the objective loosens by {:.0} ms; {relaxed:.0} ms is a lower bound (queueing and service time come on top)",
                relaxed - objective
            ),
            vec![Edit::Replace {
                start: slo.p99_ms.span().start,
                end: slo.p99_ms.span().end,
                text: format!("{relaxed:.0}"),
            }],
        ));
    }
    out
}

/// A call whose budget, bounded by objective `index`, is below the slowest operation
/// behind it: relax that objective to what the operation takes.
fn latency_budget(spec: &Spec, index: usize, call: &str) -> Vec<Candidate> {
    let Some((caller, callee)) = call.split_once(" -> ") else {
        return Vec::new();
    };
    let budgets = crate::rules::budgets::call_budgets(spec);
    let Some(b) = budgets.get(&(caller.to_string(), callee.to_string())) else {
        return Vec::new();
    };
    let (Some(bound), Some((floor, operation, _)), Some(slo)) =
        (b.bounded_by, &b.slowest, spec.slos.get(index))
    else {
        return Vec::new();
    };
    if bound != index {
        return Vec::new();
    }
    let relaxed = floor.ceil().max(1.0);
    vec![candidate(
        format!(
            "relax \"{}\" to p99 {relaxed:.0} ms, so {caller} can wait for \"{operation}\"",
            slo.operation
        ),
        format!(
            "\"{}\" loosens by {:.0} ms; {callee} gets one attempt and no retry",
            slo.operation,
            relaxed - slo.p99_ms.get_ref()
        ),
        vec![Edit::Replace {
            start: slo.p99_ms.span().start,
            end: slo.p99_ms.span().end,
            text: format!("{relaxed:.0}"),
        }],
    )]
}

fn availability(spec: &Spec, entry: &str) -> Vec<Candidate> {
    let Some(service) = spec.service(entry) else {
        return Vec::new();
    };
    let target = *spec.system.availability.get_ref();
    let mut out = Vec::new();
    let (services, _) = checks::closure(spec, service);
    let weakest = services.iter().min_by(|a, b| {
        checks::service_availability(spec, a).total_cmp(&checks::service_availability(spec, b))
    });
    if let Some(weakest) = weakest {
        let now = *weakest.instances.get_ref();
        // The fewest instances per region that bring the path to the target.
        let enough = (now + 1..=now.saturating_add(64)).find(|&n| {
            let mut more = (*weakest).clone();
            more.instances = Spanned::new(0..0, n);
            let total = checks::path_availability(spec, service, Some(&more));
            total * 100.0 >= target
        });
        if let Some(n) = enough {
            out.push(candidate(
                format!(
                    "run {n} instances of {} per region (now {now})",
                    weakest.name.get_ref()
                ),
                format!(
                    "{} more instance{} in each of {} region{}",
                    n - now,
                    if n - now == 1 { "" } else { "s" },
                    weakest.regions.len(),
                    if weakest.regions.len() == 1 { "" } else { "s" }
                ),
                vec![set(
                    written(&weakest.instances),
                    &weakest.name,
                    "instances",
                    n.to_string(),
                )],
            ));
        }
    }
    // A region's outage takes every instance there: the weakest service in one more
    // region (the nearest) survives it.
    if let Some(weakest) = weakest {
        let home: Vec<&str> = weakest
            .regions
            .iter()
            .map(|r| r.get_ref().as_str())
            .collect();
        let first = home.first().copied().unwrap_or_default();
        let mut others: Vec<&str> = spec
            .regions
            .iter()
            .filter(|r| !r.witness && !home.contains(&r.name.get_ref().as_str()))
            .map(|r| r.name.get_ref().as_str())
            .collect();
        others.sort_by(|a, b| {
            let rtt = |r: &str| spec.rtt_ms(first, r).unwrap_or(f64::INFINITY);
            rtt(a).total_cmp(&rtt(b)).then_with(|| a.cmp(b))
        });
        if let (Some(next), Some(last)) = (others.first(), weakest.regions.last()) {
            out.push(candidate(
                format!("run {} in {next} too", weakest.name.get_ref()),
                format!(
                    "{} instances more, in a region of their own: a region's outage no longer takes {} down",
                    weakest.instances.get_ref(),
                    weakest.name.get_ref()
                ),
                vec![Edit::Replace {
                    start: last.span().end,
                    end: last.span().end,
                    text: format!(", \"{next}\""),
                }],
            ));
        }
    }
    let reached = checks::path_availability(spec, service, None) * 100.0;
    // Three decimals, rounded down, so the relaxed target is met.
    let relaxed = (reached * 1000.0).floor() / 1000.0;
    if relaxed > 0.0 && relaxed < 100.0 {
        out.push(candidate(
            format!("relax the availability target to {relaxed}%"),
            format!(
                "{:.1} more minutes of downtime allowed per month ({:.1} instead of {:.1})",
                checks::error_budget_minutes(relaxed) - checks::error_budget_minutes(target),
                checks::error_budget_minutes(relaxed),
                checks::error_budget_minutes(target)
            ),
            vec![Edit::Replace {
                start: spec.system.availability.span().start,
                end: spec.system.availability.span().end,
                text: relaxed.to_string(),
            }],
        ));
    }
    out
}
