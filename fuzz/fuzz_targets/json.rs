#![no_main]
// Fuzz target: see realtime::fuzzing::json_validator.
libfuzzer_sys::fuzz_target!(|data: &[u8]| realtime::fuzzing::json_validator(data));
