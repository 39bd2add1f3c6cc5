//! Runs a program of the firmware template (`targets/template`, or a user's copy of it)
//! under QEMU with a model folder of the host's and compares the `logits i v0 v1 …` lines
//! it prints with the host's int8 outputs, bit for bit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[path = "../../tests/qemu/mod.rs"]
// Each program that includes it uses a part of it.
#[allow(dead_code)]
mod qemu;

// Only the examples that copy the template use it.
#[allow(unused_imports)]
pub use qemu::copy_template;

/// A QEMU run takes a second; past this the firmware is taken to hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The template as shipped in this repository.
// The examples that build a copy of their own do not use it.
#[allow(dead_code)]
pub fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/template")
}

/// Builds the program `bin` of the template at `template` with the model in `dir`
/// (`MODEL_DIR`), runs it under QEMU and compares its `logits i v0 v1 …` lines with
/// `host[i]`: `(values compared, mismatches, everything the firmware printed)`. A missing,
/// extra or malformed line counts as a mismatch.
pub fn firmware<const C: usize>(
    template: &Path,
    bin: &str,
    dir: &Path,
    host: &[[i8; C]],
) -> Result<(usize, usize, String), Box<dyn std::error::Error>> {
    println!(
        "building and running the firmware ({}, program {bin}) under QEMU",
        template.display()
    );
    let elf = qemu::cargo_build(
        template,
        &["--bin", bin],
        &[("MODEL_DIR", &dir.canonicalize()?)],
    )?;
    let runner = qemu::runner(template, "qemu-system-arm")?;
    let (stdout, _) = qemu::run_firmware(&runner, &elf[0], RUN_TIMEOUT)?;
    let (compared, mismatches) = qemu::compare_logits(&stdout, host);
    println!("firmware: {compared} int8 outputs compared with the host, {mismatches} differ");
    Ok((compared, mismatches, stdout))
}

/// The exit status of an example's run: success if the firmware agreed with the host
/// (`Ok(true)`); otherwise failure, with the error printed.
pub fn exit_code(run: Result<bool, Box<dyn std::error::Error>>) -> ExitCode {
    match run {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
