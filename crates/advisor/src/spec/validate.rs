//! What only the whole spec shows, once its types are right: links that join a region to
//! itself or twice, cycles of dependencies, and what a data class or objective says
//! against itself (an invariant with a merge, two freshness bounds).

use super::{Freshness, Merge, Needs, Spec};
use dsys_diagnostic::Diagnostic;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

/// The whole-spec problems in `spec`, read from `text`.
pub fn validate(spec: &Spec, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut error = |span: Range<usize>, message: String, hint: &str| {
        out.push(Diagnostic::at(text, span, &message, hint));
    };
    let mut linked = BTreeSet::new();
    for l in &spec.links {
        let (a, b) = (l.between[0].get_ref(), l.between[1].get_ref());
        if a == b {
            error(
                l.between[1].span(),
                "a link joins two different regions".into(),
                "name two regions",
            );
        } else if !linked.insert((a.min(b), a.max(b))) {
            error(
                l.between[0].span(),
                format!("the link between {a} and {b} is given twice"),
                "keep one",
            );
        }
    }
    if let Some(cycle) = dependency_cycle(spec) {
        let at = spec.service(&cycle[0]).map_or(0..0, |s| s.name.span());
        error(
            at,
            format!(
                "services depend on each other in a cycle: {}",
                cycle.join(" -> ")
            ),
            "a request path must end: remove one of the dependencies",
        );
    }
    for s in &spec.services {
        for r in &s.regions {
            if spec.region(r.get_ref()).is_some_and(|r| r.witness) {
                error(
                    r.span(),
                    format!(
                        "service {} runs in {}, a witness region",
                        s.name.get_ref(),
                        r.get_ref()
                    ),
                    "a witness region holds consensus witnesses only: run services elsewhere",
                );
            }
        }
    }
    for d in &spec.data {
        let name = d.name.get_ref();
        if let Some(leader) = &d.leader
            && spec.region(leader.get_ref()).is_some()
            && !spec.home_regions(d).contains(leader.get_ref())
        {
            error(
                leader.span(),
                format!(
                    "{name} cannot have its leader in {}: it may not live there",
                    leader.get_ref()
                ),
                "name one of its residency regions, not a witness region",
            );
        }
        if let (Some(f), Some(ms)) = (&d.freshness, &d.max_staleness_ms) {
            error(
                ms.span(),
                format!(
                    "{name} gives both freshness = \"{}\" and max_staleness_ms = {}",
                    f.get_ref(),
                    ms.get_ref()
                ),
                "keep one: max_staleness_ms = N is freshness = \"bounded:N\"",
            );
        }
        if let (Some(invariant), Some(merge)) = (d.invariants.first(), &d.merge)
            && *merge.get_ref() != Merge::Reject
        {
            error(
                merge.span(),
                format!(
                    "{name} has the invariant \"{invariant}\" but merges concurrent writes (merge = \"{}\"): two sides of a partition could each keep it and together break it",
                    merge.get_ref().word()
                ),
                "drop merge (an invariant means merge = \"reject\"), or move the data the invariant is about into a data class of its own",
            );
        }
        if let (Some(f), Some(merge)) = (&d.freshness, &d.merge)
            && *f.get_ref() == Freshness::Linearizable
            && *merge.get_ref() != Merge::Reject
        {
            error(
                f.span(),
                format!(
                    "{name} asks for linearizable reads but merges concurrent writes (merge = \"{}\"): merged writes have no one latest value to read",
                    merge.get_ref().word()
                ),
                "use merge = \"reject\" for one order of writes, or a weaker freshness",
            );
        }
    }
    for slo in &spec.slos {
        let Some(f) = &slo.freshness else { continue };
        if slo.op == super::OpKind::Write {
            error(
                f.span(),
                format!(
                    "objective \"{}\" is a write: freshness is about reads",
                    slo.operation
                ),
                "drop freshness here; the data class's merge says how writes combine",
            );
        } else if *f.get_ref() == Freshness::Linearizable
            && let Some(d) = spec.data_class(slo.data.get_ref())
            && !Needs::of(d).single_order()
        {
            error(
                f.span(),
                format!(
                    "objective \"{}\" asks for linearizable reads of {}, whose concurrent writes are merged",
                    slo.operation,
                    d.name.get_ref()
                ),
                "give the data class merge = \"reject\", or a weaker freshness here",
            );
        }
    }
    out
}

/// A cycle in `depends_on`, as the names along it (first repeated at the end).
fn dependency_cycle(spec: &Spec) -> Option<Vec<String>> {
    let edges: BTreeMap<&str, Vec<&str>> = spec
        .services
        .iter()
        .map(|s| {
            (
                s.name.get_ref().as_str(),
                s.depends_on.iter().map(|d| d.get_ref().as_str()).collect(),
            )
        })
        .collect();
    // Depth-first search with an explicit path (and its nodes by position, so a step
    // costs a look-up, not a scan of a path thousands of services long).
    let mut done = BTreeSet::new();
    for &start in edges.keys() {
        if done.contains(start) {
            continue;
        }
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        let mut on_path: BTreeMap<&str, usize> = BTreeMap::from([(start, 0)]);
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            let children = edges.get(node).map_or(&[][..], Vec::as_slice);
            if let Some(&child) = children.get(*next) {
                *next += 1;
                if let Some(&i) = on_path.get(child) {
                    let mut cycle: Vec<String> =
                        path[i..].iter().map(|(n, _)| n.to_string()).collect();
                    cycle.push(child.to_string());
                    return Some(cycle);
                }
                if !done.contains(child) {
                    on_path.insert(child, path.len());
                    path.push((child, 0));
                }
            } else {
                done.insert(node);
                on_path.remove(node);
                path.pop();
            }
        }
    }
    None
}
