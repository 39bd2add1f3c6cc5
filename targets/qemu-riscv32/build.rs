//! Puts `memory.x` on the linker's search path, where `-Tmemory.x` (see `.cargo/config.toml`)
//! finds it; riscv-rt's `link.x` then uses its regions. For the deployment firmware
//! (`--features deploy`), finds the bundle it embeds.

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
        "riscv32",
        &[
            "model.rs",
            "model_int8.fnet",
            "test_images.bin",
            "test_labels.bin",
        ],
    );
    // The MLPerf Tiny models (`--features mlperf`): weight files and inputs.
    bundle::find_written_by(
        "mlperf",
        "out/mlperf_tiny",
        &["ad.fnet", "ad_inputs.bin", "kws.fnet", "kws_inputs.bin"],
        "Write it with `cargo run --release --example mlperf_tiny` at the repository root",
    );
}
