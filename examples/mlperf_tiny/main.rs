//! The four MLPerf Tiny int8 models (`tests/mlperf_tiny/`) imported, checked against
//! TensorFlow Lite Micro on the host, then run in firmware under QEMU: outputs compared bit
//! for bit, instructions per inference counted exactly, footprint measured.
//!
//! ```sh
//! cargo run --release --example mlperf_tiny [-- --write-types]
//! ```
//!
//! The importer is firmnet's feature `tflite`: built without it, this program runs itself
//! again through cargo with `--features tflite` (and says so). Then:
//!
//! 1. **Import.** Each `.tflite` file is lowered to firmnet's int8 layers
//!    (`firmnet::host::tflite`); the network's type is the committed
//!    `tests/mlperf_tiny/models/{ad,kws,ic,vww}.rs`, which `--write-types` writes again from
//!    the `.tflite` files (and stops: the program compiles those types in).
//! 2. **The host.** The network is saved as a weight file and borrowed back from the
//!    file's bytes (`firmnet::format::view`), as the firmware does; its outputs on all 256
//!    inputs of each model are compared with TensorFlow Lite Micro's
//!    (`tests/mlperf_tiny/reference/*.out`).
//! 3. **The bundle** (`out/mlperf_tiny/`): each weight file and the first inputs of each
//!    model (all 256, but 128 for VWW, whose inputs of 27,648 bytes must fit the
//!    Cortex-M4F's 4 MB of flash beside the weights), which the firmware embeds.
//! 4. **The devices.** `targets/qemu-cortex-m4` (`--features mlperf`: `mlperf_ad`,
//!    `mlperf_kws`, `mlperf_ic`, `mlperf_vww`) and `targets/qemu-riscv32` (AD and KWS),
//!    each run under QEMU with the instruction-counting plugin
//!    `targets/qemu-cortex-m4/tools/insnwin.c`: every output compared with the host's,
//!    the instructions of every inference counted (the markers' own cost subtracted).
//!    The Cortex-M0 (micro:bit: 256 KB flash, 16 KB RAM) is checked by size: weights
//!    against flash, arena and input/output against RAM.
//! 5. **The table**: per model its multiply-accumulates, mismatches on the host and on each
//!    device, instructions per inference and per MAC, the Cortex-M4 cycles per MAC the
//!    plugin estimates from the executed instructions (the Cortex-M4's documented timings on
//!    zero-wait-state memory), next to the best published cycles per MAC on a Cortex-M4, code, weight file and RAM (arena, input and output,
//!    stack) next to TensorFlow Lite Micro's arena. **Instructions are not cycles**: QEMU
//!    counts executed instructions exactly but models no timing (on a Cortex-M4 a load
//!    takes 1–2 cycles, SMLAD one), so instructions per MAC is a repeatable measure of the
//!    code, not a cycle count.
//!
//! The last line is `RESULT mlperf_tiny models=4 mismatches=… …`; the exit status is
//! non-zero if any output differs from TensorFlow Lite Micro's or the host's, or a firmware
//! fails.

use std::process::ExitCode;

#[cfg(feature = "tflite")]
#[path = "../../tests/common/mlperf.rs"]
mod fixtures;
#[cfg(feature = "tflite")]
#[path = "../../tests/qemu/mod.rs"]
#[allow(dead_code)]
mod qemu;
#[cfg(feature = "tflite")]
mod run;

#[cfg(feature = "tflite")]
fn main() -> ExitCode {
    run::main()
}

/// Without the importer: this program again, built with it.
#[cfg(not(feature = "tflite"))]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!(
        "mlperf_tiny imports .tflite files, which needs feature `tflite`: running `cargo run --release --features tflite --example mlperf_tiny -- {}`",
        args.join(" ")
    );
    let status = std::process::Command::new(cargo)
        .args([
            "run",
            "--release",
            "--features",
            "tflite",
            "--example",
            "mlperf_tiny",
            "--",
        ])
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status();
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(s.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}
