//! The dsys design advisor: a requirement spec in, a reasoned design out.
//!
//! ```
//! let text = r#"
//! [system]
//! name = "shop"
//! availability = 99.9
//! tolerate = ["zone"]
//!
//! [[region]]
//! name = "eu-west"
//! zones = 3
//!
//! [[data]]
//! name = "orders"
//! kind = "booking"
//! "#;
//! let spec = dsys_advisor::Spec::parse("shop.toml", text).unwrap();
//! let design = dsys_advisor::design(&spec);
//! let consistency = design.decisions.iter().find(|d| d.id == "orders/consistency").unwrap();
//! assert_eq!(consistency.choice, "linearizable");
//! assert_eq!(design.contradictions().count(), 0);
//! ```
//!
//! Every decision names the rule that made it ([`rules`]), the requirements that
//! triggered it, the alternatives it turned down and why, and, where one exists, a dsys
//! command that demonstrates the rule. The arithmetic checks ([`checks`]) report each
//! contradiction with its numbers.

pub mod architecture;
pub mod availability;
pub mod checks;
pub mod compare;
pub mod design;
pub mod fixes;
pub mod knowledge;
pub mod records;
pub mod render;
pub mod rules;
pub mod spec;
pub mod verify;

pub use design::{Check, CheckStatus, Decision, Design, Evidence, Rejected, Rule, Topic};
pub use dsys_diagnostic::{Diagnostic, FileError};
pub use spec::Spec;

/// The design for `spec`.
pub fn design(spec: &Spec) -> Design {
    let target = *spec.system.availability.get_ref();
    let checks = checks::run(spec);
    Design {
        system: spec.system.name.clone(),
        availability_target_percent: target,
        error_budget_minutes_per_month: checks::error_budget_minutes(target),
        decisions: rules::decide_all(spec),
        fixes: fixes::fixes(spec, &checks),
        checks,
    }
}
