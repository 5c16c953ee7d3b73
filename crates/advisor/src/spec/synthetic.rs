//! Synthetic specs of any size, for the advisor's benchmarks and scale tests: `regions`
//! regions (all linked, 15 ms more per step apart), `services` services (each in two or
//! three regions, calling the next two, writing one data class and reading another) and
//! `data` data classes (the kinds in turn, each with one latency objective). The same
//! sizes give the same bytes; `crates/advisor/benches/large.toml` is `synthetic(100, 40, 5)`.

use super::format::KINDS;
use std::fmt::Write;

const ACCESS: [&str; 4] = [
    "[\"point\"]",
    "[\"range\"]",
    "[\"geo\"]",
    "[\"time-series\"]",
];

/// A valid spec of the given size, as TOML.
pub fn synthetic(services: usize, data: usize, regions: usize) -> String {
    let (data, regions) = (data.max(1), regions.max(1));
    let mut out = format!(
        "# {services} services, {data} data classes, {regions} regions: dsys_advisor::spec::synthetic({services}, {data}, {regions}).\n\n\
         [system]\nname = \"large\"\navailability = 99.95\ntolerate = [\"zone\", \"region\"]\n"
    );
    for r in 0..regions {
        let _ = write!(out, "\n[[region]]\nname = \"r{r}\"\nzones = 3\n");
    }
    for a in 0..regions {
        for b in a + 1..regions {
            let _ = write!(
                out,
                "\n[[link]]\nbetween = [\"r{a}\", \"r{b}\"]\nrtt_ms = {}\n",
                10 + 15 * (b - a)
            );
        }
    }
    for s in 0..services {
        let placed: Vec<String> = (0..2 + s % 2)
            .map(|k| format!("\"r{}\"", (s + k) % regions))
            .collect();
        let calls: Vec<String> = [s + 1, s + 2]
            .into_iter()
            .filter(|&d| d < services)
            .map(|d| format!("\"s{d}\""))
            .collect();
        let _ = write!(
            out,
            "\n[[service]]\nname = \"s{s}\"\nregions = [{}]\ninstances = 3\nrequests_per_sec = {}\n\
             depends_on = [{}]\nwrites = [\"d{}\"]\nreads = [\"d{}\"]\n",
            placed.join(", "),
            100 * (1 + s % 60),
            calls.join(", "),
            s % data,
            (s + 7) % data
        );
    }
    for d in 0..data {
        let _ = write!(
            out,
            "\n[[data]]\nname = \"d{d}\"\nkind = \"{}\"\nreads_per_sec = {}\nwrites_per_sec = {}\n\
             size_gb = {}\naccess = {}\n\n[[slo]]\noperation = \"op{d}\"\ndata = \"d{d}\"\n\
             op = \"{}\"\nregion = \"r{}\"\np99_ms = 500\n",
            KINDS[d % KINDS.len()],
            1000 * (1 + d % 5),
            50 * (1 + d % 7),
            100 * (d % 9),
            ACCESS[d % ACCESS.len()],
            if d % 2 == 0 { "write" } else { "read" },
            d % regions
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_specs_parse_and_the_benchmark_input_is_one() {
        for (s, d, r) in [(0, 1, 1), (3, 2, 2), (100, 40, 5), (1000, 40, 5)] {
            let text = synthetic(s, d, r);
            let spec =
                crate::Spec::parse("synthetic.toml", &text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (spec.services.len(), spec.data.len(), spec.regions.len()),
                (s, d, r)
            );
        }
        assert!(
            include_str!("../../benches/large.toml") == synthetic(100, 40, 5),
            "benches/large.toml is not synthetic(100, 40, 5): regenerate it"
        );
    }
}
