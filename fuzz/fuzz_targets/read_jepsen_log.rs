//! Any bytes through the jepsen log reader, then every check: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    dsys_check::robustness::read_and_check(data, dsys_check::InputFormat::JepsenLog);
});
