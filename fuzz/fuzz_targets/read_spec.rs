//! Any bytes as a spec: parse, and design what parses. A panic or a hang is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(spec) = dsys_advisor::Spec::parse("fuzz.toml", text) {
        let design = dsys_advisor::design(&spec);
        let _ = dsys_advisor::render::text(&design);
    }
});
