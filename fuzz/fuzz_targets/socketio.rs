#![no_main]
// Fuzz target: see realtime::fuzzing::socketio.
libfuzzer_sys::fuzz_target!(|data: &[u8]| realtime::fuzzing::socketio(data));
