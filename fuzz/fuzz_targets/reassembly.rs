#![no_main]
// Fuzz target: see realtime::fuzzing::reassembly.
libfuzzer_sys::fuzz_target!(|data: &[u8]| realtime::fuzzing::reassembly(data));
