//! The program with the importer (feature `tflite`): see `main.rs`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use firmnet::format;
use firmnet::host::tflite::{Lowered, TfliteModel};
use firmnet::net::{Infer, Scratch};
use firmnet::quant::Borrowed;
use firmnet::tensor::{Tensor, Zero};
use object::{Object, ObjectSection, SectionKind};

use super::fixtures::{self, Model};
use super::qemu;

/// The networks' types, as the importer writes them (`--write-types`).
mod types {
    include!("../../tests/mlperf_tiny/models/ad.rs");
    include!("../../tests/mlperf_tiny/models/kws.rs");
    include!("../../tests/mlperf_tiny/models/ic.rs");
    include!("../../tests/mlperf_tiny/models/vww.rs");
}

type BoxError = Box<dyn std::error::Error>;

/// The repository.
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// A QEMU run takes seconds; past this the firmware is taken to hang and is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// The Cortex-M0's flash and RAM (micro:bit v1, `targets/qemu-cortex-m0/memory.x`).
const M0_FLASH: usize = 256 * 1024;
const M0_RAM: usize = 16 * 1024;

/// What differs between the four models.
struct Spec {
    model: Model,
    /// The type's name in `tests/mlperf_tiny/models/*.rs`.
    type_name: &'static str,
    /// Inputs run on the Cortex-M4F (the first of the 256).
    m4_inputs: usize,
    /// Inputs run on RISC-V; 0: not built for it.
    rv32_inputs: usize,
    /// The best published cycles per MAC of the model on a Cortex-M4 (MLPerf Tiny
    /// submissions' latency × clock ÷ MACs).
    published: f64,
}

const SPECS: [Spec; 4] = [
    Spec {
        model: Model::Ad,
        type_name: "Ad",
        m4_inputs: 256,
        rv32_inputs: 256,
        published: 1.84,
    },
    Spec {
        model: Model::Kws,
        type_name: "Kws",
        m4_inputs: 256,
        rv32_inputs: 256,
        published: 1.95,
    },
    Spec {
        model: Model::Ic,
        type_name: "Ic",
        m4_inputs: 256,
        rv32_inputs: 0,
        published: 1.58,
    },
    Spec {
        model: Model::Vww,
        type_name: "Vww",
        // 128 inputs of 27,648 bytes: 3.5 MB beside the weights and code in 4 MB of flash.
        m4_inputs: 128,
        rv32_inputs: 0,
        published: 1.42,
    },
];

/// One model on the host.
struct Host {
    macs: u64,
    /// The weight file.
    file: Vec<u8>,
    /// The outputs of the view of `file` on every input.
    outputs: Vec<Vec<i8>>,
    /// Of which different from TensorFlow Lite Micro's.
    tflm_mismatches: usize,
    /// Bytes of `Scratch<N>`.
    arena: usize,
    /// Bytes of the input and output tensors.
    io: usize,
}

/// One model on one device.
#[derive(Default)]
struct Device {
    /// Inputs run.
    inputs: usize,
    /// Inputs whose output differs from the host's (or is missing or malformed).
    mismatches: usize,
    /// Instructions of each inference, the markers' cost subtracted.
    instructions: Vec<u64>,
    /// Estimated Cortex-M4 cycles of each inference (the plugin's model of the Cortex-M4's
    /// timings), the markers' cost subtracted.
    cycles: Vec<u64>,
    /// The stack's high-water mark after the first inference.
    stack: usize,
    /// Bytes of executable sections.
    code: u64,
}

impl Device {
    fn first(&self) -> u64 {
        self.instructions.first().copied().unwrap_or(0)
    }

    fn spread(&self) -> String {
        let min = self.instructions.iter().min().copied().unwrap_or(0);
        let max = self.instructions.iter().max().copied().unwrap_or(0);
        if min == max {
            format!("the same on all {} inputs", self.instructions.len())
        } else {
            format!(
                "{min}–{max} over {} inputs ({:+.4}%)",
                self.instructions.len(),
                100.0 * (max - min) as f64 / min as f64
            )
        }
    }
}

pub fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn lowered(model: Model) -> Result<Lowered, BoxError> {
    let bytes = std::fs::read(model.tflite_path())
        .map_err(|e| format!("{}: {e}", model.tflite_path().display()))?;
    Ok(TfliteModel::parse(&bytes)
        .and_then(|m| m.lower())
        .map_err(|e| format!("{}: {e}", model.file()))?)
}

fn run() -> Result<bool, BoxError> {
    let started = Instant::now();
    let mut write_types = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--write-types" => write_types = true,
            "-h" | "--help" => {
                println!("usage: mlperf_tiny [--write-types]");
                return Ok(true);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if write_types {
        for spec in &SPECS {
            let path = fixtures::dir().join(format!("models/{}.rs", spec.model.name()));
            let text = lowered(spec.model)?.rust_type(spec.type_name);
            format::write_atomic(&path, text.as_bytes())?;
            println!("wrote {}", path.display());
        }
        println!("the types are compiled into this program: run it again to check them");
        return Ok(true);
    }

    // The host: every model's 256 inputs against TensorFlow Lite Micro.
    let out = Path::new(ROOT).join("out/mlperf_tiny");
    std::fs::create_dir_all(&out)?;
    let mut hosts = Vec::new();
    for spec in &SPECS {
        let low = lowered(spec.model)?;
        let host = match spec.model {
            Model::Ad => host::<types::Ad>(spec.model, &low, |b| {
                outputs(&format::view::<types::Ad<Borrowed<'_>>>(b)?, spec.model)
            })?,
            Model::Kws => host::<types::Kws>(spec.model, &low, |b| {
                outputs(&format::view::<types::Kws<Borrowed<'_>>>(b)?, spec.model)
            })?,
            Model::Ic => host::<types::Ic>(spec.model, &low, |b| {
                outputs(&format::view::<types::Ic<Borrowed<'_>>>(b)?, spec.model)
            })?,
            Model::Vww => host::<types::Vww>(spec.model, &low, |b| {
                outputs(&format::view::<types::Vww<Borrowed<'_>>>(b)?, spec.model)
            })?,
        };
        println!(
            "host {}: {} layers, {} MACs, weight file {} B; {} of {} outputs differ from TensorFlow Lite Micro's",
            spec.model.name(),
            low.layer_count(),
            host.macs,
            host.file.len(),
            host.tflm_mismatches,
            host.outputs.len()
        );
        // The bundle; unchanged files keep their time stamps, so cargo does not rebuild.
        let inputs: Vec<u8> = fixtures::inputs(spec.model)
            .iter()
            .take(spec.m4_inputs.max(spec.rv32_inputs))
            .flatten()
            .map(|&v| v as u8)
            .collect();
        let name = spec.model.name();
        for (file, bytes) in [
            (format!("{name}.fnet"), &host.file[..]),
            (format!("{name}_inputs.bin"), &inputs[..]),
        ] {
            if std::fs::read(out.join(&file)).ok().as_deref() != Some(bytes) {
                format::write_atomic(out.join(&file), bytes)?;
            }
        }
        hosts.push(host);
    }
    let bundle = out.canonicalize()?;
    println!("bundle: {}", bundle.display());

    // The Cortex-M4F: every model.
    let m4 = Path::new(ROOT).join("targets/qemu-cortex-m4");
    let plugin = qemu::build_insnwin()?;
    let m4_bins: Vec<String> = SPECS
        .iter()
        .map(|s| format!("mlperf_{}", s.model.name()))
        .collect();
    let m4_runs = devices(
        "cortex-m4",
        &m4,
        "qemu-system-arm",
        &m4_bins,
        &bundle,
        &plugin,
        &hosts,
        |s| s.m4_inputs,
    )?;
    // RISC-V: the models that run on it.
    let rv = Path::new(ROOT).join("targets/qemu-riscv32");
    let rv_bins: Vec<String> = SPECS
        .iter()
        .filter(|s| s.rv32_inputs > 0)
        .map(|s| format!("mlperf_{}", s.model.name()))
        .collect();
    let rv_runs = devices(
        "riscv32",
        &rv,
        "qemu-system-riscv32",
        &rv_bins,
        &bundle,
        &plugin,
        &hosts,
        |s| s.rv32_inputs,
    )?;

    // The Cortex-M0: by size.
    println!("\ncortex-m0 (micro:bit, {M0_FLASH} B flash, {M0_RAM} B RAM), by size:");
    for (spec, host) in SPECS.iter().zip(&hosts) {
        let ram = host.arena + host.io;
        let flash_fits = host.file.len() < M0_FLASH;
        let ram_fits = ram < M0_RAM;
        println!(
            "  {}: weight file {} B ({} flash{}), arena {} B + input/output {} B = {} B ({} RAM{}){}",
            spec.model.name(),
            host.file.len(),
            if flash_fits { "within" } else { "exceeds" },
            if flash_fits {
                String::new()
            } else {
                format!(" by {} B", host.file.len() - M0_FLASH)
            },
            host.arena,
            host.io,
            ram,
            if ram_fits { "within" } else { "exceeds" },
            if ram_fits {
                String::new()
            } else {
                format!(" by {} B before any stack", ram - M0_RAM)
            },
            if flash_fits && ram_fits {
                " — fits before code and stack"
            } else {
                " — does not fit"
            }
        );
    }

    // The table.
    let mut table = String::new();
    writeln!(
        table,
        "| model | MACs | host ≠ TFLM | M4 ≠ host | RV32 ≠ host | M4 instructions / inference | M4 instructions / MAC | M4 estimated cycles / MAC | best published cycles / MAC (M4) | RV32 instructions / MAC | M4 code B | weights B | RAM B = arena + in/out + stack | TFLM arena B |"
    )?;
    writeln!(
        table,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )?;
    let mut mismatches = 0;
    let mut keys = String::new();
    for (i, (spec, host)) in SPECS.iter().zip(&hosts).enumerate() {
        let m4 = &m4_runs[i];
        let rv = rv_runs.get(i).filter(|_| spec.rv32_inputs > 0);
        let per_mac = |d: &Device| d.first() as f64 / host.macs as f64;
        let cycles_per_mac =
            |d: &Device| d.cycles.first().copied().unwrap_or(0) as f64 / host.macs as f64;
        mismatches += host.tflm_mismatches + m4.mismatches + rv.map_or(0, |d| d.mismatches);
        writeln!(
            table,
            "| {} | {} | {}/{} | {}/{} | {} | {} | {:.3} | {:.3} | {:.2} | {} | {} | {} | {} = {} + {} + {} | {} |",
            spec.model.name().to_uppercase(),
            host.macs,
            host.tflm_mismatches,
            host.outputs.len(),
            m4.mismatches,
            m4.inputs,
            rv.map_or("—".into(), |d| format!("{}/{}", d.mismatches, d.inputs)),
            m4.first(),
            per_mac(m4),
            cycles_per_mac(m4),
            spec.published,
            rv.map_or("—".into(), |d| format!("{:.3}", per_mac(d))),
            m4.code,
            host.file.len(),
            host.arena + host.io + m4.stack,
            host.arena,
            host.io,
            m4.stack,
            fixtures::tflm_arena_bytes(spec.model),
        )?;
        let name = spec.model.name();
        write!(
            keys,
            " {name}_insn_per_mac={:.3} {name}_est_cycles_per_mac={:.3} {name}_insn={} {name}_ram={}",
            per_mac(m4),
            cycles_per_mac(m4),
            m4.first(),
            host.arena + host.io + m4.stack
        )?;
        if let Some(d) = rv {
            write!(keys, " {name}_rv32_insn_per_mac={:.3}", per_mac(d))?;
        }
    }
    println!("\n{table}");
    println!(
        "Instructions are not cycles: QEMU counts executed instructions exactly but models no timing; \
         on a Cortex-M4 a load takes 1–2 cycles and SMLAD one, so instructions per MAC measure the code, \
         next to published cycles per MAC. The estimated cycles charge each executed instruction the \
         Cortex-M4's documented timing (targets/qemu-cortex-m4/tools/insnwin.c: pipelined loads, taken \
         branches and their refill, multiplies, divides) on zero-wait-state memory; they ignore flash \
         wait states, bus contention and most register-dependency stalls."
    );
    for (i, spec) in SPECS.iter().enumerate() {
        println!(
            "{} instructions per inference: cortex-m4 {}{}",
            spec.model.name(),
            m4_runs[i].spread(),
            rv_runs
                .get(i)
                .filter(|_| spec.rv32_inputs > 0)
                .map_or(String::new(), |d| format!("; riscv32 {}", d.spread()))
        );
    }
    println!("wall time {:.1} s", started.elapsed().as_secs_f64());
    println!("RESULT mlperf_tiny models=4 mismatches={mismatches}{keys}");
    Ok(mismatches == 0)
}

/// Imports `model` into `N` (owned), saves the weight file, and runs `outputs` on a 4-byte
/// aligned copy of it (the view the firmware makes).
fn host<N>(
    model: Model,
    low: &Lowered,
    outputs: impl FnOnce(&[u8]) -> Result<(Vec<Vec<i8>>, usize, usize), BoxError>,
) -> Result<Host, BoxError>
where
    N: Infer + firmnet::spec::Describe + Zero,
{
    let net: Box<N> = low
        .network()
        .map_err(|e| format!("{}: {e}", model.name()))?;
    let file = format::save(&*net)?;
    let mut words = vec![0u32; file.len().div_ceil(4)];
    bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..file.len()].copy_from_slice(&file);
    let (outputs, arena, io) = outputs(&bytemuck::cast_slice::<u32, u8>(&words)[..file.len()])?;
    let reference = fixtures::reference_outputs(model);
    let tflm_mismatches = outputs
        .iter()
        .zip(&reference)
        .filter(|(a, b)| a != b)
        .count()
        + outputs.len().abs_diff(reference.len());
    Ok(Host {
        macs: low.macs(),
        file,
        outputs,
        tflm_mismatches,
        arena,
        io,
    })
}

/// The outputs of `net` on the model's 256 inputs, the bytes of its arena and of its input
/// and output.
fn outputs<N>(net: &N, model: Model) -> Result<(Vec<Vec<i8>>, usize, usize), BoxError>
where
    N: Infer<Input: Tensor<Elem = i8>, Output: Tensor<Elem = i8>>,
{
    let mut scratch = firmnet::boxed::zero::<Scratch<N>>();
    let mut x = firmnet::boxed::zero::<N::Input>();
    let mut y = firmnet::boxed::zero::<N::Output>();
    let mut all = Vec::new();
    for input in fixtures::inputs(model) {
        x.as_mut_slice().copy_from_slice(&input);
        net.forward(&x, &mut y, &mut scratch);
        all.push(y.as_slice().to_vec());
    }
    let io = std::mem::size_of::<N::Input>() + std::mem::size_of::<N::Output>();
    Ok((all, std::mem::size_of::<Scratch<N>>(), io))
}

/// Builds `bins` of the firmware crate at `dir` with `--features mlperf` from `bundle`,
/// runs each under the counting plugin and compares it with the host. One [`Device`] per
/// model in [`SPECS`] order; models without a program get an empty one.
#[allow(clippy::too_many_arguments)]
fn devices(
    target: &str,
    dir: &Path,
    qemu: &str,
    bins: &[String],
    bundle: &Path,
    plugin: &Path,
    hosts: &[Host],
    inputs: impl Fn(&Spec) -> usize,
) -> Result<Vec<Device>, BoxError> {
    println!("building the {target} firmware ({})", dir.display());
    let mut args = vec!["--features", "mlperf"];
    for bin in bins {
        args.extend(["--bin", bin.as_str()]);
    }
    let elfs = qemu::cargo_build(dir, &args, &[("FIRMNET_DEPLOY_DIR", bundle)])?;
    let runner = qemu::runner(dir, qemu)?;
    let mut runs = Vec::new();
    for (spec, host) in SPECS.iter().zip(hosts) {
        let bin = format!("mlperf_{}", spec.model.name());
        if !bins.contains(&bin) {
            runs.push(Device::default());
            continue;
        }
        let elf = elfs
            .iter()
            .find(|p| p.file_name().is_some_and(|f| *f == *bin))
            .ok_or_else(|| format!("the {target} build made no `{bin}`"))?;
        let t = Instant::now();
        let run = device(&runner, plugin, elf, &host.outputs, inputs(spec))?;
        println!(
            "{target} {}: {} inputs, {} outputs differ from the host's, {} instructions per inference, stack {} B ({:.1} s)",
            spec.model.name(),
            run.inputs,
            run.mismatches,
            run.first(),
            run.stack,
            t.elapsed().as_secs_f64()
        );
        runs.push(run);
    }
    Ok(runs)
}

/// Runs `elf` under `runner` with the counting plugin; compares its `out` lines with
/// `host` (the first `expected` inputs).
fn device(
    runner: &[String],
    plugin: &Path,
    elf: &Path,
    host: &[Vec<i8>],
    expected: usize,
) -> Result<Device, BoxError> {
    let bytes = std::fs::read(elf)?;
    let file = object::File::parse(&*bytes)?;
    let code = file
        .sections()
        .filter(|s| s.kind() == SectionKind::Text)
        .map(|s| s.size())
        .sum();
    let command = qemu::counting_runner(runner, plugin, elf)?;
    let (stdout, stderr) = qemu::run_firmware(&command, elf, RUN_TIMEOUT)?;

    let mut d = Device {
        inputs: expected,
        code,
        ..Device::default()
    };
    let mut seen = vec![false; expected];
    let mut count = None;
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["out", i, hex] => {
                let i: usize = i.parse()?;
                let got = decode(hex);
                match seen.get_mut(i) {
                    Some(s) if !*s => {
                        *s = true;
                        if got.as_deref() != Some(&host[i][..]) {
                            d.mismatches += 1;
                        }
                    }
                    _ => d.mismatches += 1,
                }
            }
            ["inferences", n] => count = Some(n.parse::<usize>()?),
            ["stack", n] => d.stack = n.parse()?,
            _ => {}
        }
    }
    d.mismatches += seen.iter().filter(|s| !**s).count();
    if count != Some(expected) {
        return Err(format!(
            "{} ran {count:?} inferences, {expected} expected",
            elf.display()
        )
        .into());
    }
    d.instructions = qemu::windows(&stderr)?;
    d.cycles = qemu::cycle_windows(&stderr);
    if d.instructions.len() != expected {
        return Err(format!(
            "the counting plugin reported {} windows for {expected} inferences",
            d.instructions.len()
        )
        .into());
    }
    Ok(d)
}

/// Two hex digits per byte, as `firmnet_demo::mlperf::report` writes them.
fn decode(hex: &str) -> Option<Vec<i8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(hex.get(i..i + 2)?, 16)
                .ok()
                .map(|b| b as i8)
        })
        .collect()
}
