//! `multi-leader`: conflict resolution, the CRDT, and what the keys hold.

use super::{
    Configurable, SettingError, SettingKind, SettingSpec, SettingValue, heartbeat, refuse,
};
use crate::MultiLeaderConfig;
use crate::multi_leader::{Conflict, CrdtChoice, DataKind};

const CONFLICT: SettingSpec = SettingSpec {
    key: "conflict",
    kind: SettingKind::Choice(&["lww", "siblings", "crdt"]),
    default: "lww",
    help: "concurrent updates of a key: last writer wins by hybrid logical clock; siblings (registers keep concurrent writes by version vector and reads return them all); or merged as CRDTs (counters: PN-counter, sets: OR-set, registers: LWW-register; choose with crdt=)",
};

const CRDT: SettingSpec = SettingSpec {
    key: "crdt",
    kind: SettingKind::Choice(&[
        "auto",
        "g-counter",
        "pn-counter",
        "or-set",
        "lww-register",
        "mv-register",
    ]),
    default: "auto",
    help: "with conflict=crdt, the CRDT each key holds; it must fit the workload (counter: g-counter, which refuses decrements, or pn-counter; set: or-set; kv: lww-register or mv-register, which keeps siblings); auto picks pn-counter, or-set or lww-register",
};

const MULTI_LEADER_HEARTBEAT: SettingSpec =
    heartbeat("ms between each node's resends of its writes that a peer has not acknowledged");

fn crdt_name(choice: CrdtChoice) -> &'static str {
    match choice {
        CrdtChoice::Auto => "auto",
        CrdtChoice::GrowOnlyCounter => "g-counter",
        CrdtChoice::PnCounter => "pn-counter",
        CrdtChoice::OrSet => "or-set",
        CrdtChoice::LwwRegister => "lww-register",
        CrdtChoice::MvRegister => "mv-register",
    }
}

impl Configurable for MultiLeaderConfig {
    const PROTOCOL: &'static str = "multi-leader";
    const SETTINGS: &'static [SettingSpec] = &[CONFLICT, CRDT, MULTI_LEADER_HEARTBEAT];

    fn set(&mut self, key: &'static str, value: SettingValue<'_>) -> Result<(), SettingError> {
        match key {
            "conflict" => {
                self.conflict = match value.word() {
                    "siblings" => Conflict::Siblings,
                    "crdt" => Conflict::Crdt,
                    _ => Conflict::Lww,
                }
            }
            "crdt" => {
                self.crdt = match value.word() {
                    "g-counter" => CrdtChoice::GrowOnlyCounter,
                    "pn-counter" => CrdtChoice::PnCounter,
                    "or-set" => CrdtChoice::OrSet,
                    "lww-register" => CrdtChoice::LwwRegister,
                    "mv-register" => CrdtChoice::MvRegister,
                    _ => CrdtChoice::Auto,
                };
                if self.crdt != CrdtChoice::Auto && self.conflict != Conflict::Crdt {
                    return Err(refuse(
                        CRDT.key,
                        value.word(),
                        "auto unless conflict=crdt (it chooses the CRDT that resolves conflicts)",
                    ));
                }
                // The multi-value register is what `siblings` keeps.
                if self.crdt == CrdtChoice::MvRegister {
                    self.conflict = Conflict::Siblings;
                }
            }
            "heartbeat" => self.heartbeat = value.millis(),
            _ => {}
        }
        Ok(())
    }
}

impl MultiLeaderConfig {
    /// Make the keys hold `data` (from the workload: registers, counters or sets),
    /// refusing a CRDT that does not fit it; a grow-only counter is a counter that
    /// refuses decrements.
    pub fn hold(&mut self, data: DataKind) -> Result<(), SettingError> {
        let (workload, fits): (&str, &[CrdtChoice]) = match data {
            DataKind::Register => (
                "kv",
                &[
                    CrdtChoice::Auto,
                    CrdtChoice::LwwRegister,
                    CrdtChoice::MvRegister,
                ],
            ),
            DataKind::Counter | DataKind::GrowOnlyCounter => (
                "counter",
                &[
                    CrdtChoice::Auto,
                    CrdtChoice::GrowOnlyCounter,
                    CrdtChoice::PnCounter,
                ],
            ),
            DataKind::Set => ("set", &[CrdtChoice::Auto, CrdtChoice::OrSet]),
        };
        if !fits.contains(&self.crdt) {
            let names: Vec<&str> = fits.iter().map(|c| crdt_name(*c)).collect();
            return Err(refuse(
                CRDT.key,
                crdt_name(self.crdt),
                format!("one of {} for the {workload} workload", names.join(", ")),
            ));
        }
        self.data = match data {
            DataKind::Counter if self.crdt == CrdtChoice::GrowOnlyCounter => {
                DataKind::GrowOnlyCounter
            }
            other => other,
        };
        Ok(())
    }

    /// Whether register reads return every sibling (a list) rather than one value.
    pub fn reads_siblings(&self) -> bool {
        self.conflict == Conflict::Siblings
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::defaults_agree;
    use super::*;

    fn configured(p: &[(&str, &str)]) -> Result<MultiLeaderConfig, SettingError> {
        let pairs: Vec<(String, String)> = p
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MultiLeaderConfig::configured(&pairs)
    }

    #[test]
    fn declared_defaults_are_the_defaults() {
        defaults_agree::<MultiLeaderConfig>();
    }

    #[test]
    fn the_crdt_must_come_with_conflict_crdt_and_fit_the_data() {
        let err = configured(&[("crdt", "or-set")]).unwrap_err().to_string();
        assert!(err.contains("auto unless conflict=crdt"), "{err}");
        let mut c = configured(&[("conflict", "crdt"), ("crdt", "g-counter")]).unwrap();
        let mut as_set = c;
        let err = as_set.hold(DataKind::Set).unwrap_err().to_string();
        assert_eq!(
            err,
            "--set crdt=g-counter: expected one of auto, or-set for the set workload"
        );
        c.hold(DataKind::Counter).unwrap();
        assert_eq!(c.data, DataKind::GrowOnlyCounter);
        let c = configured(&[("crdt", "mv-register"), ("conflict", "crdt")]).unwrap();
        assert!(c.reads_siblings());
    }
}
