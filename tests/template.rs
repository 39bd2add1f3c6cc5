//! The firmware template as a user gets it: `targets/template` copied out of this repository
//! (so no `.cargo/config.toml` of ours applies but its own), its `firmnet` dependency
//! pointed at this checkout, built and run under QEMU.
//!
//! - With the weight file it ships (`model/`, from `cargo run --release --features std --example sensor`),
//!   every window's logits equal the host's: the same file loaded into the same network
//!   type on the host, the same inputs quantized the same way.
//! - With that file damaged, the firmware refuses it at boot and says why, without
//!   `core::fmt`: `format error 4, …` (4 is `ErrorCode::Checksum`), exit status 1.
//!
//! Needs `rustup target add thumbv7em-none-eabihf` and `qemu-system-arm`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use firmnet::format::{self, ErrorCode};
use firmnet::net::{Infer, Scratch};
use firmnet::quant::{Int8, QLayer};

// Each program that includes it uses a part of it.
#[allow(dead_code)]
mod qemu;

#[path = "../targets/template/src/network.rs"]
mod network;

use network::{INPUTS, Network, OUTPUTS};

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// A copy of the template in a fresh folder, as a user would make it.
fn copy_template(name: &str) -> PathBuf {
    let dst = std::env::temp_dir().join(format!("firmnet-template-{name}-{}", std::process::id()));
    qemu::copy_template(&dst).unwrap_or_else(|e| panic!("{e}"));
    dst
}

/// Builds the copy at `dir` (its model from `model_dir`): the firmware and the QEMU command
/// that runs it.
fn build(dir: &Path, model_dir: &Path) -> (PathBuf, Vec<String>) {
    let elfs = qemu::cargo_build(
        dir,
        &["--bin", "firmnet-template"],
        &[("MODEL_DIR", model_dir)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let runner = qemu::runner(dir, "qemu-system-arm").unwrap_or_else(|e| panic!("{e}"));
    (elfs[0].clone(), runner)
}

/// The host's logits for every window of `inputs.bin`, from `model_int8.fnet`.
fn host_logits(model_dir: &Path) -> Vec<[i8; OUTPUTS]> {
    let bytes = std::fs::read(model_dir.join("model_int8.fnet")).expect("the template's model");
    let mut net: Box<Int8<Network>> = firmnet::boxed::zero();
    format::load(&bytes, &mut *net).unwrap_or_else(|e| panic!("the template's model: {e}"));
    let inputs = std::fs::read(model_dir.join("inputs.bin")).expect("the template's inputs");
    assert_eq!(
        inputs.len() % (4 * INPUTS),
        0,
        "inputs.bin is not whole windows"
    );
    let mut scratch = firmnet::boxed::zero::<Scratch<Int8<Network>>>();
    inputs
        .chunks_exact(4 * INPUTS)
        .map(|window| {
            let mut x = [0i8; INPUTS];
            for (q, v) in x.iter_mut().zip(window.chunks_exact(4)) {
                let v = f32::from_le_bytes(v.try_into().expect("4 bytes"));
                *q = net.input_params().quantize(v);
            }
            let mut logits = [0i8; OUTPUTS];
            net.forward(&x, &mut logits, &mut scratch);
            logits
        })
        .collect()
}

/// `logits i v0 v1 v2` lines.
fn firmware_logits(stdout: &str) -> Vec<[i8; OUTPUTS]> {
    let mut all = Vec::new();
    for line in stdout.lines().filter(|l| l.starts_with("logits ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            words.len(),
            2 + OUTPUTS,
            "not `logits i v0 v1 v2`: {line:?}"
        );
        assert_eq!(
            words[1],
            all.len().to_string(),
            "windows out of order: {line:?}"
        );
        let mut logits = [0i8; OUTPUTS];
        for (l, w) in logits.iter_mut().zip(&words[2..]) {
            *l = w.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"));
        }
        all.push(logits);
    }
    all
}

#[test]
fn a_copy_of_the_template_runs_the_shipped_model_as_the_host_does() {
    let dir = copy_template("model");
    let model_dir = dir.join("model");
    let (elf, runner) = build(&dir, &model_dir);
    let (stdout, _) =
        qemu::run_firmware(&runner, &elf, RUN_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let (device, host) = (firmware_logits(&stdout), host_logits(&model_dir));
    assert!(!host.is_empty(), "the shipped inputs.bin holds no window");
    assert_eq!(device.len(), host.len(), "windows classified:\n{stdout}");
    let differ = device.iter().zip(&host).filter(|(d, h)| d != h).count();
    assert_eq!(
        differ,
        0,
        "{differ} of {} windows' logits differ from the host's",
        host.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_copy_of_the_template_refuses_a_damaged_model_and_says_why() {
    let dir = copy_template("damaged");
    let damaged = dir.join("damaged");
    std::fs::create_dir_all(&damaged).expect("create a folder");
    let mut bytes = std::fs::read(dir.join("model/model_int8.fnet")).expect("the model");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    assert_eq!(
        format::File::parse(&bytes).map(|_| ()).unwrap_err().code(),
        ErrorCode::Checksum,
        "the damage must be a checksum failure for this test"
    );
    std::fs::write(damaged.join("model_int8.fnet"), &bytes).expect("write the damaged model");
    std::fs::copy(dir.join("model/inputs.bin"), damaged.join("inputs.bin")).expect("inputs");
    let (elf, runner) = build(&dir, &damaged);
    let (program, args) = runner.split_first().expect("a runner command");
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).arg(&elf);
    let (status, stdout, stderr) =
        qemu::run_with_timeout(cmd, RUN_TIMEOUT).unwrap_or_else(|e| panic!("cannot run QEMU: {e}"));
    let status = status.and_then(|s| s.code());
    assert_eq!(
        status,
        Some(1),
        "the firmware accepted a damaged file:\n{stdout}\n{stderr}"
    );
    let code = ErrorCode::Checksum as u8;
    assert!(
        stdout.contains(&format!("format error {code}, ")),
        "the firmware did not print the checksum error:\n{stdout}"
    );
    assert!(
        !stdout.contains("logits "),
        "it classified with a damaged file:\n{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
