//! Puts `memory.x` on the linker's search path, where cortex-m-rt's `link.x` includes it,
//! and, for the deployment firmware (`--features deploy`), finds the bundle it embeds.

use std::{env, fs, path::PathBuf};

use firmnet_demo::bundle;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), include_bytes!("memory.x")).expect("write memory.x to OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    // The deployment firmware (`--features deploy`, src/bin/fashion.rs) embeds these.
    bundle::find(
        "cortex-m0",
        &[
            "model.rs",
            "model_int8.fnet",
            "test_images.bin",
            "test_labels.bin",
        ],
    );
}
