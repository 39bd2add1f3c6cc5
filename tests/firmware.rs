//! The Cortex-M4F firmware of `targets/qemu-cortex-m4`, run under QEMU, computes what the
//! host computes.
//!
//! The firmware and this test run the very same code, `firmnet_demo::training`
//! (`targets/common/src/training.rs`). The test
//! 1. checks that `qemu-system-arm` and the Rust target `thumbv7em-none-eabihf` are installed,
//!    and fails with what to install if not (it never skips silently);
//! 2. builds the firmware with `cargo build --release` in its own folder, so its own
//!    `.cargo/config.toml` (target, linker script, `target-cpu=cortex-m4`) applies, and with
//!    none of the outer build's settings (`RUSTFLAGS`, `CARGO_TARGET_DIR`, …);
//! 3. runs it under QEMU exactly as `cargo run` does (the runner line of that config file)
//!    and kills it after [`RUN_TIMEOUT`];
//! 4. parses its `label index 0xBITS` lines and compares them with `training::run` on the
//!    host.
//!
//! # The host computes with the reference kernels
//! The Cortex-M4F has no float SIMD, so firmnet's kernels run their scalar reference there.
//! The host would otherwise take the SIMD path, which sums in another order; the test calls
//! [`kernels::set_backend`]`(Backend::Reference)` first, so both sides run the same code.
//! The backend switch is global to the process; this file holds the only test of its binary.
//!
//! # Tolerance
//! Two values agree when their bits are equal, or when both are finite and
//! `|host − firmware| ≤ REL_TOL · max(|host|, |firmware|)` with [`REL_TOL`] = 1e-5, or
//! `|host − firmware| ≤ ABS_FLOOR` with [`ABS_FLOOR`] = 1e-6. The absolute floor is for
//! values near 0, which come from cancellation between terms of order 1 (sums, gradients):
//! there a relative difference measures the cancellation, not the error, while 1e-6 is
//! well below anything such a computation resolves. With the reference kernels and the
//! operations of IEEE 754 (no fused multiply-add on either side) the values are usually
//! bit-identical; the tolerance leaves room for library functions (`exp`, `ln`, …) that may
//! round differently on the two targets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use firmnet::kernels::{self, Backend};

// Each program that includes it uses a part of it.
#[allow(dead_code)]
mod qemu;
use qemu::{cargo_build, rustc};

use firmnet_demo::training as demo;

/// The firmware crate.
const FIRMWARE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/targets/qemu-cortex-m4");
/// Its Rust target.
const TARGET: &str = "thumbv7em-none-eabihf";
/// The emulator, as named by the runner in the firmware's `.cargo/config.toml`.
const QEMU: &str = "qemu-system-arm";
/// A run takes about 0.1 s; past this the firmware is taken to hang and QEMU is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest accepted relative difference between a host and a firmware value.
const REL_TOL: f64 = 1e-5;
/// Largest accepted absolute difference, for values near 0 (see the module docs).
const ABS_FLOOR: f64 = 1e-6;

/// The values a run reports, by `(label, index)`.
type Values = BTreeMap<(String, usize), f32>;

#[test]
fn firmware_under_qemu_matches_host() {
    require_tools();
    let elf = build_firmware();
    let stdout = run_firmware(&elf);
    let firmware = parse_output(&stdout).unwrap_or_else(|e| {
        panic!("firmware output is not `label index 0xBITS` lines ending in `done`: {e}\n--- output ---\n{stdout}")
    });
    let host = host_values();
    assert!(!host.is_empty(), "demo::run reported no values on the host");

    let mismatches = compare(&host, &firmware);
    assert!(
        mismatches.is_empty(),
        "firmware and host disagree on {} of {} values (tolerance: relative {REL_TOL:e}, absolute {ABS_FLOOR:e}):\n{}",
        mismatches.len(),
        host.keys()
            .chain(firmware.keys())
            .collect::<BTreeSet<_>>()
            .len(),
        mismatches.join("\n")
    );

    let identical = host
        .iter()
        .filter(|(k, v)| firmware[*k].to_bits() == v.to_bits())
        .count();
    let worst = host
        .iter()
        .map(|(k, &v)| relative_difference(v, firmware[k]))
        .fold(0.0, f64::max);
    println!(
        "{} values agree: {identical} bit-identical, largest relative difference {worst:e}",
        host.len()
    );
}

// ---------------------------------------------------------------------------------------
// Tools

/// Fails, saying what to install, unless QEMU and the firmware's Rust target are present.
fn require_tools() {
    let install = "install it with `apt-get install -y --no-install-recommends qemu-system-arm` \
                   (Debian/Ubuntu; the package that provides `qemu-system-arm` elsewhere)";
    match Command::new(QEMU).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`{QEMU} --version` failed ({}): {}\n{install}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            panic!("`{QEMU}` is not on PATH ({e}): this test runs the firmware under it; {install}")
        }
    }

    let rustc = rustc();
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(FIRMWARE_DIR)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{} --print sysroot`: {e}", rustc.display()));
    assert!(
        out.status.success(),
        "`{} --print sysroot` failed: {}",
        rustc.display(),
        out.status
    );
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let target_lib = sysroot.join("lib/rustlib").join(TARGET).join("lib");
    assert!(
        target_lib.is_dir(),
        "the Rust target {TARGET} is not installed for the toolchain at {} (no {}): \
         install it with `rustup target add {TARGET}`",
        sysroot.display(),
        target_lib.display()
    );
}

// ---------------------------------------------------------------------------------------
// Build

/// Builds the firmware with `cargo build --release` in its folder and returns the ELF's path.
fn build_firmware() -> PathBuf {
    let elfs = cargo_build(
        Path::new(FIRMWARE_DIR),
        &["--bin", "firmnet-qemu-cortex-m4"],
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    elfs.into_iter().next().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Run

/// The runner command of the firmware's `.cargo/config.toml`, split into words.
fn runner() -> Vec<String> {
    qemu::runner(Path::new(FIRMWARE_DIR), QEMU).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the firmware under QEMU with the runner's arguments and returns what it printed.
/// Fails if QEMU does not exit with status 0 within [`RUN_TIMEOUT`].
fn run_firmware(elf: &Path) -> String {
    let (stdout, _) =
        qemu::run_firmware(&runner(), elf, RUN_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    stdout
}

// ---------------------------------------------------------------------------------------
// Compare

/// Parses `label index 0xBITS` lines followed by a final `done`.
fn parse_output(stdout: &str) -> Result<Values, String> {
    let lines: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let Some((&last, values)) = lines.split_last() else {
        return Err("no output".into());
    };
    if last != "done" {
        return Err(format!("the last line is `{last}`, not `done`"));
    }
    let mut parsed = Values::new();
    for (n, line) in values.iter().enumerate() {
        let bad = |why: &str| format!("line {}, `{line}`: {why}", n + 1);
        let fields: Vec<&str> = line.split_whitespace().collect();
        // The fourth field, the value in decimal, is for people reading the output.
        let (label, index, bits) = match fields[..] {
            [label, index, bits] | [label, index, bits, _] => (label, index, bits),
            _ => return Err(bad("expected `label index 0xBITS [decimal]`")),
        };
        let index: usize = index
            .parse()
            .map_err(|_| bad("the index is not an integer"))?;
        let bits = bits
            .strip_prefix("0x")
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .ok_or_else(|| bad("the value is not 0x followed by hex digits"))?;
        if parsed
            .insert((label.to_string(), index), f32::from_bits(bits))
            .is_some()
        {
            return Err(bad("this label and index were already reported"));
        }
    }
    Ok(parsed)
}

/// Runs the demo on the host with the reference kernels (see the module docs).
fn host_values() -> Values {
    kernels::set_backend(Backend::Reference);
    let mut net = firmnet::boxed!(demo::MLP);
    let mut adam = demo::Optimizer::boxed(demo::OPTIMIZER.config);
    let mut buf = firmnet::boxed::zero::<demo::Buffers>();
    let mut scratch = firmnet::boxed::zero::<demo::Arena>();
    let mut deployed = firmnet::boxed!(demo::SMALL);
    let mut workspace = demo::Workspace {
        net: &mut net,
        adam: &mut adam,
        buf: &mut buf,
        scratch: &mut scratch,
        deployed: &mut deployed,
    };
    let mut values = Values::new();
    let mut duplicates = Vec::new();
    demo::run(&mut workspace, &mut |label, index, value| {
        assert!(
            !label.is_empty() && !label.contains(char::is_whitespace),
            "demo label `{label}` must be one word: the firmware prints it as a field"
        );
        if values.insert((label.to_string(), index), value).is_some() {
            duplicates.push(format!("{label} {index}"));
        }
    })
    .unwrap_or_else(|e| panic!("the demo failed on the host: {e}"));
    assert!(
        duplicates.is_empty(),
        "demo::run reported these twice: {}",
        duplicates.join(", ")
    );
    values
}

/// One line per disagreement: values missing on either side or outside the tolerance.
fn compare(host: &Values, firmware: &Values) -> Vec<String> {
    let mut mismatches = Vec::new();
    for ((label, index), &h) in host {
        match firmware.get(&(label.clone(), *index)) {
            None => mismatches.push(format!("  {label} {index}: host {h:e}, missing on the firmware")),
            Some(&f) if !agree(h, f) => mismatches.push(format!(
                "  {label} {index}: host {h:e} ({:#010x}), firmware {f:e} ({:#010x}), relative difference {:.2e}",
                h.to_bits(),
                f.to_bits(),
                relative_difference(h, f)
            )),
            Some(_) => {}
        }
    }
    for ((label, index), f) in firmware {
        if !host.contains_key(&(label.clone(), *index)) {
            mismatches.push(format!(
                "  {label} {index}: firmware {f:e}, not computed by the host"
            ));
        }
    }
    mismatches
}

/// Whether a host and a firmware value agree within the tolerance of the module docs.
fn agree(host: f32, firmware: f32) -> bool {
    if host.to_bits() == firmware.to_bits() {
        return true; // also the same NaN or infinity
    }
    if !host.is_finite() || !firmware.is_finite() {
        return false;
    }
    let (h, f) = (f64::from(host), f64::from(firmware));
    let diff = (h - f).abs();
    diff <= REL_TOL * h.abs().max(f.abs()) || diff <= ABS_FLOOR
}

/// `|host − firmware| / max(|host|, |firmware|)`, 0 when both are 0.
fn relative_difference(host: f32, firmware: f32) -> f64 {
    let (h, f) = (f64::from(host), f64::from(firmware));
    let scale = h.abs().max(f.abs());
    if scale == 0.0 {
        0.0
    } else {
        (h - f).abs() / scale
    }
}
