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
    bundle::find(
        "",
        &[
            "model.rs",
            "model_int8.fnet",
            "model_int8.rs",
            "model_float.fnet",
            "test_images.bin",
            "test_labels.bin",
            "finetune_train_images.bin",
            "finetune_train_labels.bin",
            "finetune_eval_images.bin",
            "finetune_eval_labels.bin",
        ],
    );
    // The CNN's fine-tuning (`--features finetune-cnn`): the int8 CNN and the same samples.
    bundle::find_for(
        "finetune-cnn",
        "",
        &[
            "cnn_int8.fnet",
            "finetune_train_images.bin",
            "finetune_train_labels.bin",
            "finetune_eval_images.bin",
            "finetune_eval_labels.bin",
        ],
    );
    // The MLPerf Tiny models (`--features mlperf`): weight files and inputs.
    bundle::find_written_by(
        "mlperf",
        "out/mlperf_tiny",
        &[
            "ad.fnet",
            "ad_inputs.bin",
            "kws.fnet",
            "kws_inputs.bin",
            "ic.fnet",
            "ic_inputs.bin",
            "vww.fnet",
            "vww_inputs.bin",
        ],
        "Write it with `cargo run --release --example mlperf_tiny` at the repository root",
    );
}
