//! Generates `include/realtime.h` from the `extern "C"` surface with cbindgen.
//!
//! With `REALTIME_HEADER_CHECK=1` the checked-in header is compared instead of rewritten, and the build
//! fails when it is stale: `make test` uses this so a header that drifted from the code cannot land.
use std::{env, fs, path::PathBuf};

fn main() {
    let crate_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=include/realtime.h");
    println!("cargo:rerun-if-env-changed=REALTIME_HEADER_CHECK");

    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = match cbindgen::Builder::new().with_crate(&crate_dir).with_config(config).generate() {
        Ok(bindings) => bindings,
        Err(err) => panic!("cbindgen could not generate include/realtime.h: {err}"),
    };
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);

    let header = crate_dir.join("include").join("realtime.h");
    let current = fs::read(&header).unwrap_or_default();
    if current == fresh {
        return;
    }
    if env::var("REALTIME_HEADER_CHECK").map(|v| v == "1").unwrap_or(false) {
        panic!("include/realtime.h differs from the header generated from src/: run `make header` and commit it");
    }
    fs::create_dir_all(header.parent().expect("include dir")).expect("create include/");
    fs::write(&header, fresh).expect("write include/realtime.h");
}
