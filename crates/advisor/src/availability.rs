//! Availability under failures that come together: an instance alone, every copy in one
//! zone, every copy in one region. A zone and a region are down for the share of the
//! year their outages last (outages per year x hours each / 8,760); a request path is up
//! when every service on it has an instance up and every store it touches has what its
//! replication needs (a majority for a consensus group, any copy otherwise).
//!
//! Region outages are what make parts fail together, so the path's availability is summed
//! over which regions are down (none, one, or two at a time: three at once is below the
//! figures' precision); given the regions, each part's zones and instances fail on their
//! own (zone outages shared between parts are not modelled).

use crate::rules::replication::{GROUP_IN_ZONES, LEARNER, topology};
use crate::spec::{DataClass, Needs, Service, Spec};

/// Hours in a year.
const HOURS_PER_YEAR: f64 = 8_760.0;

/// What fails and for how long: the spec's `[failures]` or the documented defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FailureRates {
    /// Share of the time one zone is down.
    pub zone_down: f64,
    /// Share of the time one region is down.
    pub region_down: f64,
    /// Availability of one store replica (fraction), its zone and region up.
    pub replica: f64,
}

impl FailureRates {
    /// The rates `spec` gives, or the defaults.
    pub fn of(spec: &Spec) -> FailureRates {
        let f = &spec.failures;
        FailureRates {
            zone_down: (f.zone_outages_per_year * f.zone_repair_hours / HOURS_PER_YEAR).min(1.0),
            region_down: (f.region_outages_per_year * f.region_repair_hours / HOURS_PER_YEAR)
                .min(1.0),
            replica: f.replica_availability / 100.0,
        }
    }

    /// The assumption in words, for a check's detail.
    pub fn describe(spec: &Spec) -> String {
        let f = &spec.failures;
        format!(
            "a zone down {} times a year for {} h, a region {} times a year for {} h, store replicas {}%",
            f.zone_outages_per_year,
            f.zone_repair_hours,
            f.region_outages_per_year,
            f.region_repair_hours,
            f.replica_availability
        )
    }
}

/// One part of a request path: where its copies are and how many must be up.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// Each copy: its region, and the chance it is up given its region is up (its zone
    /// and itself).
    pub copies: Vec<(String, f64)>,
    /// Copies that must be up.
    pub needed: usize,
}

/// A service: an instance per region, spread over the region's zones.
pub fn service_part(spec: &Spec, s: &Service, rates: FailureRates) -> Part {
    let instance = s.instance_availability.get_ref() / 100.0;
    let mut copies = Vec::new();
    for r in &s.regions {
        let zones = spec
            .region(r.get_ref())
            .map_or(1, |r| *r.zones.get_ref())
            .max(1);
        let instances = *s.instances.get_ref();
        // Instances round-robin over zones: a zone is empty of them only when it holds
        // none; one copy per zone stands for its instances.
        for z in 0..zones.min(instances) {
            let here = instances / zones + u32::from(z < instances % zones);
            let none_up = (1.0 - instance).powi(here as i32);
            copies.push((
                r.get_ref().clone(),
                (1.0 - rates.zone_down) * (1.0 - none_up),
            ));
        }
    }
    Part { copies, needed: 1 }
}

/// A data store: its copies as the design places them.
pub fn store_part(spec: &Spec, d: &DataClass, rates: FailureRates) -> Part {
    let replica = (1.0 - rates.zone_down) * rates.replica;
    let mut copies = Vec::new();
    for (region, role) in topology(spec, d).placement() {
        if role == LEARNER {
            continue;
        }
        let n = if role == GROUP_IN_ZONES { 3 } else { 1 };
        copies.extend((0..n).map(|_| (region.clone(), replica)));
    }
    // A lone copy stands for its region's zones, as the design's arithmetic assumes.
    if copies.len() == 1 {
        let region = copies[0].0.clone();
        copies = (0..3).map(|_| (region.clone(), replica)).collect();
    }
    let needed = if Needs::of(d).single_order() {
        copies.len() / 2 + 1
    } else {
        1
    };
    Part { copies, needed }
}

/// The chance at least `k` of the copies are up, given the regions in `down` are down.
fn part_up(part: &Part, down: &[&str]) -> f64 {
    // Distribution of the number of copies up: a convolution, copy by copy.
    let mut up = vec![1.0];
    for (region, p) in &part.copies {
        let p = if down.contains(&region.as_str()) {
            0.0
        } else {
            *p
        };
        let mut next = vec![0.0; up.len() + 1];
        for (k, q) in up.iter().enumerate() {
            next[k] += q * (1.0 - p);
            next[k + 1] += q * p;
        }
        up = next;
    }
    up.iter().skip(part.needed).sum()
}

/// The chance every part is up at once, over which regions are down.
pub fn all_up(spec: &Spec, parts: &[Part], rates: FailureRates) -> f64 {
    let regions: Vec<&str> = spec
        .regions
        .iter()
        .map(|r| r.name.get_ref().as_str())
        .collect();
    let u = rates.region_down;
    let n = regions.len() as i32;
    let state = |down: &[&str]| -> f64 {
        let p = u.powi(down.len() as i32) * (1.0 - u).powi(n - down.len() as i32);
        p * parts
            .iter()
            .map(|part| part_up(part, down))
            .product::<f64>()
    };
    let mut total = state(&[]);
    for (i, a) in regions.iter().enumerate() {
        total += state(&[a]);
        for b in &regions[i + 1..] {
            total += state(&[a, b]);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::spec;

    fn rates(zone: f64, region: f64) -> FailureRates {
        FailureRates {
            zone_down: zone,
            region_down: region,
            replica: 0.999,
        }
    }

    #[test]
    fn independent_copies_match_the_binomial() {
        let part = Part {
            copies: vec![
                ("a".into(), 0.999),
                ("b".into(), 0.999),
                ("c".into(), 0.999),
            ],
            needed: 2,
        };
        // Two of three at 99.9%: 1 - 3p^2(1-p)... = 0.999997002.
        assert!((part_up(&part, &[]) - 0.999_997_002).abs() < 1e-12);
        assert!((part_up(&part, &["a"]) - 0.998_001).abs() < 1e-12);
        // One of two at 99%, and none needed.
        let pair = Part {
            copies: vec![("a".into(), 0.99), ("b".into(), 0.99)],
            needed: 1,
        };
        assert!((part_up(&pair, &[]) - 0.9999).abs() < 1e-12);
        assert_eq!(part_up(&Part { needed: 0, ..pair }, &["a", "b"]), 1.0);
    }

    #[test]
    fn a_region_outage_takes_every_part_there_at_once() {
        let s = spec("");
        // Two parts only in eu: correlated, the region's downtime counts once, not twice.
        let only_eu = Part {
            copies: vec![("eu".into(), 1.0)],
            needed: 1,
        };
        let r = rates(0.0, 0.01);
        let both = all_up(&s, &[only_eu.clone(), only_eu.clone()], r);
        assert!((both - 0.99).abs() < 1e-9, "{both}");
        // Spread over two regions, a part survives one of them.
        let spread = Part {
            copies: vec![("eu".into(), 1.0), ("us".into(), 1.0)],
            needed: 1,
        };
        let up = all_up(&s, &[spread], r);
        assert!((up - (1.0 - 0.0001)).abs() < 1e-9, "{up}");
    }

    #[test]
    fn instances_spread_over_zones_survive_a_zone() {
        let s = spec(
            "[[service]]\nname = \"api\"\nregions = [\"eu\"]\ninstances = 3\ninstance_availability = 99.0\n",
        );
        let part = service_part(&s, &s.services[0], rates(0.001, 0.0));
        // Three zones of eu, one instance each.
        assert_eq!(part.copies.len(), 3);
        assert!((part.copies[0].1 - 0.999 * 0.99).abs() < 1e-12);
    }
}
