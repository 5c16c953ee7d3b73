//! `single` and `primary-async`.

use super::{
    Configurable, DURABILITY, SettingError, SettingSpec, SettingValue, durability, heartbeat,
};
use crate::{PrimaryAsyncConfig, SingleConfig};

impl Configurable for SingleConfig {
    const PROTOCOL: &'static str = "single";
    const SETTINGS: &'static [SettingSpec] = &[DURABILITY];

    fn set(&mut self, key: &'static str, value: SettingValue<'_>) -> Result<(), SettingError> {
        if key == DURABILITY.key {
            self.durability = durability(value);
        }
        Ok(())
    }
}

const PRIMARY_HEARTBEAT: SettingSpec = heartbeat(
    "ms between the primary's rounds: it resends what each follower has not acknowledged (an empty round is the heartbeat)",
);

impl Configurable for PrimaryAsyncConfig {
    const PROTOCOL: &'static str = "primary-async";
    const SETTINGS: &'static [SettingSpec] = &[DURABILITY, PRIMARY_HEARTBEAT];

    fn set(&mut self, key: &'static str, value: SettingValue<'_>) -> Result<(), SettingError> {
        match key {
            "durability" => self.durability = durability(value),
            "heartbeat" => self.heartbeat = value.millis(),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::defaults_agree;
    use super::*;

    #[test]
    fn declared_defaults_are_the_defaults() {
        defaults_agree::<SingleConfig>();
        defaults_agree::<PrimaryAsyncConfig>();
    }
}
