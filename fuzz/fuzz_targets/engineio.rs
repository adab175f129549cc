#![no_main]
// Fuzz target: see realtime::fuzzing::engineio.
libfuzzer_sys::fuzz_target!(|data: &[u8]| realtime::fuzzing::engineio(data));
