//! Tells the linker where `memory.x` is (where cortex-m-rt's `link.x` includes it) and the
//! program where its model is: `model/`, or the folder `MODEL_DIR` names. With the
//! `mps2-interrupts` feature, also provides the `device.x` cortex-m-rt then includes.
//!
//! The memory layout is passed to this package's own program only (`rustc-link-arg-bins`),
//! so firmware that uses the board support as a library brings its own `memory.x`.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let memory = out.join("memory");
    fs::create_dir_all(&memory).expect("create OUT_DIR/memory");
    fs::write(memory.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x");
    println!("cargo:rustc-link-arg-bins=-L{}", memory.display());
    println!("cargo:rerun-if-changed=memory.x");
    if env::var_os("CARGO_FEATURE_MPS2_INTERRUPTS").is_some() {
        // The handlers are named in `board::__INTERRUPTS` itself: nothing to provide.
        fs::write(out.join("device.x"), "/* board: the MPS2 interrupts */\n")
            .expect("write device.x");
        println!("cargo:rustc-link-search={}", out.display());
    }
    println!("cargo:rerun-if-env-changed=MODEL_DIR");
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    // A relative MODEL_DIR is the package folder's (where `cargo run` is typed), made
    // absolute: `include_bytes!` would read it from `src/`.
    let dir = env::var_os("MODEL_DIR").map_or_else(|| manifest.join("model"), |d| manifest.join(d));
    for file in ["model_int8.fnet", "inputs.bin", "stream.bin"] {
        println!("cargo:rerun-if-changed={}", dir.join(file).display());
    }
    println!("cargo:rustc-env=MODEL_DIR={}", dir.display());
}
