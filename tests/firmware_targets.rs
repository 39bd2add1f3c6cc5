//! The Cortex-M0 firmware of `targets/qemu-cortex-m0` and the RISC-V firmware of
//! `targets/qemu-riscv32`, each run under QEMU, compute bit for bit what the host computes.
//!
//! Both firmware crates and this test run the very same code, `firmnet_demo::int8`
//! (`targets/common/src/int8.rs`): int8 dense layers built at run time and at compile time
//! (in flash), a three-layer int8 network, a small float network and its int8 twin
//! converted on the device by the generic conversion. For each target the test
//! 1. checks that its QEMU and its Rust target are installed, and fails with what to install
//!    if not (it never skips silently);
//! 2. builds the firmware with `cargo build --release` in its own folder, so its own
//!    `.cargo/config.toml` (target, linker scripts) applies, and with none of the outer
//!    build's settings (`RUSTFLAGS`, `CARGO_TARGET_DIR`, …);
//! 3. runs it under QEMU exactly as `cargo run` does (the runner line of that config file)
//!    and kills it after [`RUN_TIMEOUT`];
//! 4. parses its `label index value` lines (integers: int8 outputs, class indices and the
//!    bits of `f32` values) and requires every one of them to equal `int8_demo::run` on the
//!    host — no tolerance — and the same set of labels and indices on both sides;
//! 5. reads the stack high-water mark the firmware prints on stderr and requires that the
//!    stack stayed inside its region (on the Cortex-M0, that it never reached `.bss`).
//!
//! # Why the values can be equal
//! The int8 path is integer arithmetic: the reference kernel runs on the Cortex-M0 and on
//! RV32IMAC (neither has a faster path), and whichever kernel the host picks gives the same
//! bits. For the float values the host uses firmnet's reference kernels
//! ([`kernels::set_backend`]`(Backend::Reference)`), which sum in the order the targets do;
//! both targets compute in software floating point (no FPU), the host with SSE, and every
//! basic operation is correctly rounded in all three, with no fused multiply-add. `exp`,
//! `ln`, `sin`/`cos` come from the same portable `libm` code everywhere. The backend switch
//! is global to the process; both tests of this binary set the same value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use firmnet::kernels::{self, Backend};

// Each program that includes it uses a part of it.
#[allow(dead_code)]
mod qemu;
use qemu::{cargo_build, rustc};

use firmnet_demo::int8 as int8_demo;

/// A run takes well under a second; past this the firmware is taken to hang and QEMU is
/// killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The values a run reports, by `(label, index)`.
type Values = BTreeMap<(String, usize), i64>;

/// One firmware crate and what it needs.
struct Firmware {
    /// Its folder, relative to the repository root.
    dir: &'static str,
    /// Its binary (the package name).
    bin: &'static str,
    /// Its Rust target.
    target: &'static str,
    /// The emulator, as named by the runner in the firmware's `.cargo/config.toml`.
    qemu: &'static str,
    /// The Debian package that provides it.
    qemu_package: &'static str,
}

impl Firmware {
    fn dir(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(self.dir)
    }
}

const CORTEX_M0: Firmware = Firmware {
    dir: "targets/qemu-cortex-m0",
    bin: "firmnet-qemu-cortex-m0",
    target: "thumbv6m-none-eabi",
    qemu: "qemu-system-arm",
    qemu_package: "qemu-system-arm",
};

const RISCV32: Firmware = Firmware {
    dir: "targets/qemu-riscv32",
    bin: "firmnet-qemu-riscv32",
    target: "riscv32imac-unknown-none-elf",
    qemu: "qemu-system-riscv32",
    qemu_package: "qemu-system-misc",
};

#[test]
fn cortex_m0_under_qemu_matches_host() {
    check(&CORTEX_M0);
}

#[test]
fn riscv32_under_qemu_matches_host() {
    check(&RISCV32);
}

/// Builds, runs and compares one firmware (see the module docs).
fn check(fw: &Firmware) {
    require_tools(fw);
    let elf = build_firmware(fw);
    let (stdout, stderr) = run_firmware(fw, &elf);
    let firmware = parse_output(&stdout).unwrap_or_else(|e| {
        panic!(
            "{} output is not `label index value` lines ending in `done`: {e}\n--- output ---\n{stdout}",
            fw.bin
        )
    });
    let host = host_values();
    assert!(
        !host.is_empty(),
        "int8_demo::run reported no values on the host"
    );
    let mismatches = compare(&host, &firmware);
    assert!(
        mismatches.is_empty(),
        "{} and the host disagree on {} values (of {} on the host, {} on the firmware):\n{}",
        fw.bin,
        mismatches.len(),
        host.len(),
        firmware.len(),
        mismatches.join("\n")
    );

    let (used, size) = parse_stack(&stderr).unwrap_or_else(|| {
        panic!(
            "{} printed no `stack: USED of SIZE bytes used` line on stderr:\n{stderr}",
            fw.bin
        )
    });
    assert!(
        used < size,
        "{}: the stack used {used} of its {size} bytes: it reached the statics below it",
        fw.bin
    );
    println!(
        "{}: {} values bit-identical to the host; stack high-water mark {used} of {size} bytes",
        fw.bin,
        host.len()
    );
}

// ---------------------------------------------------------------------------------------
// Tools

/// Fails, saying what to install, unless the firmware's QEMU and Rust target are present.
fn require_tools(fw: &Firmware) {
    let qemu = fw.qemu;
    let install = format!(
        "install it with `apt-get install -y --no-install-recommends {}` (Debian/Ubuntu; the \
         package that provides `{qemu}` elsewhere)",
        fw.qemu_package
    );
    match Command::new(qemu).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "`{qemu} --version` failed ({}): {}\n{install}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => {
            panic!("`{qemu}` is not on PATH ({e}): this test runs the firmware under it; {install}")
        }
    }

    let rustc = rustc();
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(fw.dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{} --print sysroot`: {e}", rustc.display()));
    assert!(
        out.status.success(),
        "`{} --print sysroot` failed: {}",
        rustc.display(),
        out.status
    );
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let target_lib = sysroot.join("lib/rustlib").join(fw.target).join("lib");
    assert!(
        target_lib.is_dir(),
        "the Rust target {} is not installed for the toolchain at {} (no {}): \
         install it with `rustup target add {}`",
        fw.target,
        sysroot.display(),
        target_lib.display(),
        fw.target
    );
}

// ---------------------------------------------------------------------------------------
// Build

/// Builds the firmware with `cargo build --release` in its folder and returns the ELF's path.
fn build_firmware(fw: &Firmware) -> PathBuf {
    let elfs = cargo_build(&fw.dir(), &["--bin", fw.bin], &[]).unwrap_or_else(|e| panic!("{e}"));
    elfs.into_iter().next().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Run

/// The runner command of the firmware's `.cargo/config.toml`, split into words.
fn runner(fw: &Firmware) -> Vec<String> {
    qemu::runner(&fw.dir(), fw.qemu).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the firmware under QEMU with the runner's arguments and returns what it printed on
/// stdout and stderr. Fails if QEMU does not exit with status 0 within [`RUN_TIMEOUT`].
fn run_firmware(fw: &Firmware, elf: &Path) -> (String, String) {
    qemu::run_firmware(&runner(fw), elf, RUN_TIMEOUT).unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------------------------------
// Compare

/// Parses `label index value` lines (all integers after the label) followed by a final
/// `done`.
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
        let [label, index, value] = fields[..] else {
            return Err(bad("expected `label index value`"));
        };
        let index: usize = index
            .parse()
            .map_err(|_| bad("the index is not an unsigned integer"))?;
        let value: i64 = value
            .parse()
            .map_err(|_| bad("the value is not an integer"))?;
        if parsed.insert((label.to_string(), index), value).is_some() {
            return Err(bad("this label and index were already reported"));
        }
    }
    Ok(parsed)
}

/// The `USED` and `SIZE` of the firmware's `stack: USED of SIZE bytes used` line.
fn parse_stack(stderr: &str) -> Option<(usize, usize)> {
    let line = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("stack: "))?;
    let (used, rest) = line.split_once(" of ")?;
    let size = rest.strip_suffix(" bytes used")?;
    Some((used.parse().ok()?, size.parse().ok()?))
}

/// Runs the shared computation on the host with the reference kernels (see the module
/// docs).
fn host_values() -> Values {
    kernels::set_backend(Backend::Reference);
    let mut net = firmnet::boxed!(int8_demo::FLOAT_NET);
    let mut twin = firmnet::boxed!(int8_demo::TWIN);
    let mut workspace = int8_demo::Workspace {
        net: &mut net,
        twin: &mut twin,
    };
    let mut values = Values::new();
    let mut duplicates = Vec::new();
    int8_demo::run(&mut workspace, &mut |label, index, value| {
        assert!(
            !label.is_empty() && !label.contains(char::is_whitespace),
            "int8_demo label `{label}` must be one word: the firmware prints it as a field"
        );
        if values.insert((label.to_string(), index), value).is_some() {
            duplicates.push(format!("{label} {index}"));
        }
    })
    .unwrap_or_else(|e| panic!("int8_demo::run failed on the host: {e}"));
    assert!(
        duplicates.is_empty(),
        "int8_demo::run reported these twice: {}",
        duplicates.join(", ")
    );
    values
}

/// One line per disagreement: values missing on either side or not equal.
fn compare(host: &Values, firmware: &Values) -> Vec<String> {
    let mut mismatches = Vec::new();
    for ((label, index), &h) in host {
        match firmware.get(&(label.clone(), *index)) {
            None => mismatches.push(format!(
                "  {label} {index}: host {h}, missing on the firmware"
            )),
            Some(&f) if f != h => mismatches.push(format!(
                "  {label} {index}: host {h}, firmware {f}{}",
                as_f32(label, h, f)
            )),
            Some(_) => {}
        }
    }
    for ((label, index), f) in firmware {
        if !host.contains_key(&(label.clone(), *index)) {
            mismatches.push(format!(
                "  {label} {index}: firmware {f}, not computed by the host"
            ));
        }
    }
    mismatches
}

/// For values that are the bits of an `f32` (labels `f32_…`), the two values as floats.
fn as_f32(label: &str, host: i64, firmware: i64) -> String {
    let float = |v: i64| u32::try_from(v).map(|b| f32::from_bits(b).to_string());
    match (label.starts_with("f32_"), float(host), float(firmware)) {
        (true, Ok(h), Ok(f)) => format!(" (as f32: host {h}, firmware {f})"),
        _ => String::new(),
    }
}
