//! Arithmetic that catches contradictions: availability of the request paths against
//! the target, quorums against the failures to survive, latency objectives against
//! round trips, residency against region failures; and the error budget.

use crate::availability::{self, FailureRates};
use crate::design::{About, Check, CheckStatus};
use crate::rules::replication::{Topology, leader_region, replica_regions, topology};
use crate::spec::{DataClass, FailureDomain, Freshness, Needs, OpKind, Service, Slo, Spec};
use std::collections::BTreeSet;

/// Round trip between two zones of one region, milliseconds.
pub const ZONE_RTT_MS: f64 = 2.0;
/// Replicas per data store.
pub const REPLICAS: u32 = 3;
const MINUTES_PER_MONTH: f64 = 30.0 * 24.0 * 60.0;

/// Minutes of unavailability `target` percent allows in a 30-day month.
pub fn error_budget_minutes(target: f64) -> f64 {
    (1.0 - target / 100.0) * MINUTES_PER_MONTH
}

fn percent(fraction: f64) -> String {
    format!("{:.4}%", fraction * 100.0)
}

/// Every check, in a fixed order.
pub fn run(spec: &Spec) -> Vec<Check> {
    let mut out = vec![error_budget(spec)];
    out.extend(availability(spec));
    for d in &spec.data {
        out.extend(residency(spec, d));
        out.extend(quorum(spec, d));
    }
    out.extend(latency(spec));
    out.extend(crate::rules::budgets::checks(spec));
    out
}

fn error_budget(spec: &Spec) -> Check {
    let target = *spec.system.availability.get_ref();
    Check {
        check: "error-budget",
        subject: "system".into(),
        status: CheckStatus::Ok,
        detail: format!(
            "{target}% allows {:.1} minutes of unavailability per 30-day month",
            error_budget_minutes(target)
        ),
        about: About::System,
    }
}

/// Each entry service (one nothing depends on) with everything it needs: up when all
/// of it is, with zone and region outages taking what they hold down together.
fn availability(spec: &Spec) -> Vec<Check> {
    let target = *spec.system.availability.get_ref();
    let rates = FailureRates::of(spec);
    let depended: BTreeSet<&str> = spec
        .services
        .iter()
        .flat_map(|s| s.depends_on.iter().map(|d| d.get_ref().as_str()))
        .collect();
    spec.services
        .iter()
        .filter(|s| !depended.contains(s.name.get_ref().as_str()))
        .map(|entry| {
            let (services, data) = closure(spec, entry);
            let mut parts = Vec::new();
            let mut shown = Vec::new();
            let alone = |part: &availability::Part| {
                percent(availability::all_up(spec, std::slice::from_ref(part), rates))
            };
            for s in &services {
                let part = availability::service_part(spec, s, rates);
                shown.push(format!("{} {}", s.name.get_ref(), alone(&part)));
                parts.push(part);
            }
            for d in &data {
                let part = availability::store_part(spec, d, rates);
                shown.push(format!("{} store {}", d.name.get_ref(), alone(&part)));
                parts.push(part);
            }
            let total = availability::all_up(spec, &parts, rates);
            let ok = total * 100.0 >= target;
            Check {
                check: "availability",
                subject: entry.name.get_ref().clone(),
                status: if ok { CheckStatus::Ok } else { CheckStatus::Contradiction },
                detail: format!(
                    "{} and what it needs ({}) together: {}, {} the {target}% target ({:.1} min/month against {:.1} allowed; \
                     {}; a region's outage takes everything in it down at once)",
                    entry.name.get_ref(),
                    shown.join(", "),
                    percent(total),
                    if ok { "meets" } else { "below" },
                    (1.0 - total) * MINUTES_PER_MONTH,
                    error_budget_minutes(target),
                    FailureRates::describe(spec),
                ),
                about: About::Service(entry.name.get_ref().clone()),
            }
        })
        .collect()
}

/// The availability (fraction) of the request path from `entry`, with `instead` in place
/// of the service of the same name (to try a change).
pub(crate) fn path_availability(spec: &Spec, entry: &Service, instead: Option<&Service>) -> f64 {
    let rates = FailureRates::of(spec);
    let (services, data) = closure(spec, entry);
    let mut parts: Vec<availability::Part> = services
        .iter()
        .map(|s| match instead {
            Some(other) if other.name.get_ref() == s.name.get_ref() => {
                availability::service_part(spec, other, rates)
            }
            _ => availability::service_part(spec, s, rates),
        })
        .collect();
    parts.extend(
        data.iter()
            .map(|d| availability::store_part(spec, d, rates)),
    );
    availability::all_up(spec, &parts, rates)
}

/// A service's availability alone (fraction), under the spec's failures.
pub(crate) fn service_availability(spec: &Spec, s: &Service) -> f64 {
    let rates = FailureRates::of(spec);
    availability::all_up(spec, &[availability::service_part(spec, s, rates)], rates)
}

/// The services reachable from `entry` (itself first) and the data classes they touch.
pub(crate) fn closure<'a>(
    spec: &'a Spec,
    entry: &'a Service,
) -> (Vec<&'a Service>, Vec<&'a DataClass>) {
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    let mut stack = vec![entry];
    while let Some(s) = stack.pop() {
        if !seen.insert(s.name.get_ref().as_str()) {
            continue;
        }
        order.push(s);
        for dep in s.depends_on.iter().rev() {
            if let Some(d) = spec.service(dep.get_ref()) {
                stack.push(d);
            }
        }
    }
    let mut data_names = BTreeSet::new();
    let data = order
        .iter()
        .flat_map(|s| s.writes.iter().chain(&s.reads))
        .filter(|n| data_names.insert(n.get_ref().as_str()))
        .filter_map(|n| spec.data_class(n.get_ref()))
        .collect();
    (order, data)
}

/// Data pinned to one region cannot survive that region's loss.
fn residency(spec: &Spec, d: &DataClass) -> Option<Check> {
    let home = spec.home_regions(d);
    if !spec.tolerates(FailureDomain::Region) || home.len() != 1 {
        return None;
    }
    Some(Check {
        check: "residency",
        subject: d.name.get_ref().clone(),
        status: CheckStatus::Contradiction,
        detail: format!(
            "{} must stay in {} but the system must survive losing a region: with {} down it has no copy anywhere it may live",
            d.name.get_ref(),
            home[0],
            home[0]
        ),
        about: About::Data(d.name.get_ref().clone()),
    })
}

/// A consensus group's majority must survive the failures to tolerate.
fn quorum(spec: &Spec, d: &DataClass) -> Option<Check> {
    if !Needs::of(d).single_order() {
        return None;
    }
    let name = d.name.get_ref();
    let majority = REPLICAS / 2 + 1;
    let (status, detail) = if spec.tolerates(FailureDomain::Region) {
        let regions = replica_regions(spec, d);
        if regions.len() < REPLICAS as usize {
            let home = spec.home_regions(d);
            (
                CheckStatus::Contradiction,
                format!(
                    "{name} must survive losing a region, but it may live in {} region{} ({}): {REPLICAS} replicas put at least {} in one region, and losing it loses the majority of {majority}",
                    home.len(),
                    if home.len() == 1 { "" } else { "s" },
                    home.join(", "),
                    REPLICAS.div_ceil(home.len().max(1) as u32),
                ),
            )
        } else {
            (
                CheckStatus::Ok,
                format!(
                    "{REPLICAS} replicas in {}: any region can go and {majority} remain",
                    regions.join(", ")
                ),
            )
        }
    } else if spec.tolerates(FailureDomain::Zone) {
        let region = leader_region(spec, d);
        let zones = spec.region(&region).map_or(0, |r| *r.zones.get_ref());
        if zones < REPLICAS {
            (
                CheckStatus::Contradiction,
                format!(
                    "{name} must survive losing a zone, but {region} has {zones} zone{}: {REPLICAS} replicas put at least {} in one zone, and losing it loses the majority of {majority}",
                    if zones == 1 { "" } else { "s" },
                    REPLICAS.div_ceil(zones.max(1)),
                ),
            )
        } else {
            (
                CheckStatus::Ok,
                format!(
                    "{REPLICAS} replicas in {REPLICAS} zones of {region}: any zone can go and {majority} remain"
                ),
            )
        }
    } else {
        return None;
    };
    Some(Check {
        check: "quorum",
        subject: name.clone(),
        status,
        detail,
        about: About::Data(name.clone()),
    })
}

/// Each objective against the round trips its operation cannot avoid.
fn latency(spec: &Spec) -> Vec<Check> {
    let mut out = Vec::new();
    for (index, slo) in spec.slos.iter().enumerate() {
        let Some(d) = spec.data_class(slo.data.get_ref()) else {
            continue;
        };
        let region = slo.region.get_ref();
        let p99 = *slo.p99_ms.get_ref();
        let subject = format!(
            "{} ({} {} in {region})",
            slo.operation,
            op_name(slo.op),
            d.name.get_ref()
        );
        out.push(match floor(spec, slo, d) {
            Err(missing) => Check {
                check: "latency",
                subject,
                status: CheckStatus::Unknown,
                detail: format!("no rtt_ms given between {} and {}", missing.0, missing.1),
                about: About::Slo(index),
            },
            Ok((ms, how)) => Check {
                check: "latency",
                subject,
                status: if ms <= p99 {
                    CheckStatus::Ok
                } else {
                    CheckStatus::Contradiction
                },
                detail: format!(
                    "at least {ms:.0} ms ({how}) against a p99 objective of {p99:.0} ms{}",
                    if ms <= p99 {
                        ""
                    } else {
                        ": no tuning can meet it with this placement"
                    }
                ),
                about: About::Slo(index),
            },
        });
    }
    out
}

/// The least latency objective `index` can have (its operation's unavoidable round
/// trips), where the spec gives them.
pub(crate) fn latency_floor(spec: &Spec, index: usize) -> Option<f64> {
    let slo = spec.slos.get(index)?;
    let d = spec.data_class(slo.data.get_ref())?;
    floor(spec, slo, d).ok().map(|(ms, _)| ms)
}

/// The round trips `slo`'s operation on `d` cannot avoid, and how they add up.
fn floor(spec: &Spec, slo: &Slo, d: &DataClass) -> Result<(f64, String), Missing> {
    let region = slo.region.get_ref();
    let needs = Needs::of(d);
    let freshness = slo
        .freshness
        .as_ref()
        .map_or(needs.freshness, |f| *f.get_ref());
    // One leader per partition, a majority acknowledging each write, reads at the
    // leader (causal order and the writer's own writes).
    if let Topology::LeaderPerPartition { leader, followers } = topology(spec, d) {
        return match slo.op {
            OpKind::Write => {
                let replicas: Vec<String> =
                    std::iter::once(leader.clone()).chain(followers).collect();
                majority_floor(spec, region, &leader, &replicas)
            }
            OpKind::Read => {
                let ms = rtt(spec, region, &leader)?;
                Ok((
                    ms,
                    format!("read at the leader in {leader}, {ms:.0} ms away"),
                ))
            }
        };
    }
    match slo.op {
        OpKind::Write if needs.single_order() => consensus_floor(spec, d, region),
        OpKind::Read if freshness == Freshness::Linearizable => consensus_floor(spec, d, region),
        op => nearest_copy(spec, d, region, op),
    }
}

fn op_name(op: OpKind) -> &'static str {
    match op {
        OpKind::Read => "read",
        OpKind::Write => "write",
    }
}

type Missing = (String, String);

fn rtt(spec: &Spec, a: &str, b: &str) -> Result<f64, Missing> {
    spec.rtt_ms(a, b)
        .ok_or_else(|| (a.to_string(), b.to_string()))
}

/// A linearizable operation from `region`: to the leader, then one round trip from the
/// leader to the nearest other replica (a majority of three).
fn consensus_floor(spec: &Spec, d: &DataClass, region: &str) -> Result<(f64, String), Missing> {
    majority_floor(
        spec,
        region,
        &leader_region(spec, d),
        &replica_regions(spec, d),
    )
}

/// An operation that waits for a majority of `replicas` (the leader's first): the trip
/// to the leader, then the round trip from it to the nearest other replica.
fn majority_floor(
    spec: &Spec,
    region: &str,
    leader: &str,
    replicas: &[String],
) -> Result<(f64, String), Missing> {
    let to_leader = rtt(spec, region, leader)?;
    let (quorum_ms, quorum_how) = if replicas.len() > 1 {
        let mut nearest: Option<(f64, &str)> = None;
        for other in replicas.iter().filter(|r| *r != leader) {
            let ms = rtt(spec, leader, other)?;
            if nearest.is_none_or(|(best, _)| ms < best) {
                nearest = Some((ms, other));
            }
        }
        let (ms, other) = nearest.unwrap_or((0.0, ""));
        (
            ms,
            format!("a quorum round trip of {ms:.0} ms ({leader} - {other})"),
        )
    } else {
        (
            ZONE_RTT_MS,
            format!("a quorum round trip of {ZONE_RTT_MS:.0} ms between zones of {leader}"),
        )
    };
    let how = if to_leader > 0.0 {
        format!("{to_leader:.0} ms to the leader in {leader}, then {quorum_how}")
    } else {
        format!("leader in {leader}; {quorum_how}")
    };
    Ok((to_leader + quorum_ms, how))
}

/// Other data: reads go to the nearest copy; writes to the nearest region that takes them.
fn nearest_copy(
    spec: &Spec,
    d: &DataClass,
    region: &str,
    op: OpKind,
) -> Result<(f64, String), Missing> {
    let candidates: Vec<String> = match op {
        OpKind::Read => match topology(spec, d) {
            // The voters and the learners; in one region, its zones.
            Topology::Consensus {
                regions,
                learners,
                witnesses,
            } => regions
                .into_iter()
                .filter(|r| !witnesses.contains(r))
                .chain(learners)
                .collect(),
            _ => spec.home_regions(d),
        },
        OpKind::Write => {
            let writers = crate::rules::replication::write_regions(spec, d);
            if writers.is_empty() {
                spec.home_regions(d)
            } else {
                writers.into_iter().collect()
            }
        }
    };
    let mut best: Option<(f64, String)> = None;
    for c in &candidates {
        let ms = rtt(spec, region, c)?;
        if best.as_ref().is_none_or(|(b, _)| ms < *b) {
            best = Some((ms, c.clone()));
        }
    }
    let (ms, at) = best.unwrap_or((0.0, region.to_string()));
    Ok((
        ms,
        if ms > 0.0 {
            format!("the nearest copy is in {at}, {ms:.0} ms away")
        } else {
            format!("served in {at}")
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::spec;

    #[test]
    fn the_formulas() {
        assert!((error_budget_minutes(99.9) - 43.2).abs() < 1e-9);
    }

    const LEDGER: &str = r#"
[[data]]
name = "ledger"
kind = "money"

[[service]]
name = "api"
regions = ["eu"]
instances = 1
instance_availability = 99.0
writes = ["ledger"]

[[slo]]
operation = "pay"
data = "ledger"
op = "write"
region = "us"
p99_ms = 50
"#;

    #[test]
    fn a_thin_service_misses_the_target_with_the_numbers() {
        let s = spec(LEDGER);
        let c = &availability(&s)[0];
        assert_eq!(c.status, CheckStatus::Contradiction);
        assert!(
            c.detail.starts_with("api and what it needs (api 98.9096%, ledger store 99.9537%) together: 98.8638%, below the 99.9% target"),
            "{}",
            c.detail
        );
    }

    #[test]
    fn a_write_objective_below_the_round_trip_to_the_leader_is_a_contradiction() {
        let s = spec(LEDGER);
        // The leader goes where the strictest write objective is: us. Then 0 + 2 ms.
        let c = &latency(&s)[0];
        assert_eq!(c.status, CheckStatus::Ok, "{}", c.detail);
        // A second, stricter objective in eu pulls the leader there; us pays 80 ms.
        let s = spec(&format!(
            "{LEDGER}\n[[slo]]\noperation = \"refund\"\ndata = \"ledger\"\nop = \"write\"\nregion = \"eu\"\np99_ms = 20\n"
        ));
        let c = &latency(&s)[0];
        assert_eq!(c.status, CheckStatus::Contradiction);
        assert_eq!(
            c.detail,
            "at least 82 ms (80 ms to the leader in eu, then a quorum round trip of 2 ms between zones of eu) against a p99 objective of 50 ms: no tuning can meet it with this placement"
        );
    }

    #[test]
    fn surviving_a_region_needs_three_regions_and_residency_allows_them() {
        let mut s = spec(LEDGER);
        s.system.tolerate = toml::Spanned::new(0..0, vec![FailureDomain::Region]);
        let c = quorum(&s, &s.data[0]).unwrap();
        assert_eq!(c.status, CheckStatus::Contradiction);
        assert!(
            c.detail.contains(
                "may live in 2 regions (eu, us): 3 replicas put at least 2 in one region"
            ),
            "{}",
            c.detail
        );
        let s2 =
            spec(&LEDGER.replace("kind = \"money\"", "kind = \"money\"\nresidency = [\"eu\"]"));
        let mut s2 = s2;
        s2.system.tolerate = toml::Spanned::new(0..0, vec![FailureDomain::Region]);
        assert_eq!(
            residency(&s2, &s2.data[0]).unwrap().status,
            CheckStatus::Contradiction
        );
    }

    #[test]
    fn surviving_a_zone_needs_three_zones() {
        let s = spec(
            &LEDGER
                .replace(
                    "[[data]]",
                    "[[region]]\nname = \"small\"\nzones = 2\n\n[[data]]",
                )
                .replace("region = \"us\"", "region = \"small\""),
        );
        // The leader follows the objective into `small`, which has two zones.
        let c = quorum(&s, &s.data[0]).unwrap();
        assert_eq!(c.status, CheckStatus::Contradiction, "{}", c.detail);
        assert!(c.detail.contains("small has 2 zones"));
        assert_eq!(latency(&s)[0].status, CheckStatus::Ok);
    }
}
