//! Your own network, from training to firmware: a 3-class accelerometer-window classifier
//! (still, walking, shaking) defined once in `targets/template/src/network.rs`, trained on
//! data this program synthesizes, quantized to int8 with the generic call, exported, and
//! run in the template firmware under QEMU with every logit compared with the host.
//!
//! ```sh
//! cargo run --release --example sensor -- [--out DIR] [--seed S] [--no-firmware]
//! ```
//!
//! It uses firmnet's public API only, as a user's program would. The network is
//! 96 → 32 (batch normalization, ReLU, dropout) → 16 (tanh) → 3; its int8 twin,
//! `Int8<Network>`, is what the compiler derives: the batch normalization folded into the
//! first dense layer, the ReLU fused into its clamp, dropout gone and tanh a 256-entry
//! table. The last line is
//! `RESULT task=sensor float_accuracy=… int8_accuracy=… outputs=… mismatches=0`
//! (`outputs`: the int8 logits compared bit for bit with the firmware's).
//!
//! The files it writes to `DIR` (default `out/sensor/`) — `model.fnet`, `model_int8.fnet`
//! and `inputs.bin` (the test windows the firmware classifies, little-endian `f32`) — are
//! what `targets/template` embeds (`MODEL_DIR=DIR cargo run --release` there); the
//! template's own `model/` folder holds them from a run with the default seed.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use firmnet::format;
use firmnet::host::{
    LrSchedule, RangeMethod, Regularization, Samples, Schedule, TrainConfig, Trainer, evaluate,
    evaluate_int8, quantize,
};
use firmnet::prelude::*;
use firmnet::quant::{Int8, QLayer};

#[path = "../targets/template/src/network.rs"]
mod network;

use network::{CLASSES, INPUTS, Network};

/// Accelerometer samples per window, at 50 Hz.
const STEPS: usize = INPUTS / 3;
/// Standard gravity, m/s².
const G: f32 = 9.81;
/// Test windows the firmware classifies.
const FIRMWARE_WINDOWS: usize = 300;
/// A QEMU run takes a second; past this the firmware is taken to hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// One window of class `class`: gravity along a random direction, plus the motion.
fn window(class: u16, rng: &mut Rng) -> [f32; INPUTS] {
    let unit = |rng: &mut Rng| {
        let v = [rng.normal(), rng.normal(), rng.normal()];
        let n = (v.iter().map(|x| x * x).sum::<f32>()).sqrt().max(1e-6);
        v.map(|x| x / n)
    };
    let (g, axis) = (unit(rng), unit(rng));
    let phase = rng.uniform(0.0, std::f32::consts::TAU);
    // Frequency (Hz), amplitude (m/s²) and noise (m/s²) of each activity; the ranges
    // overlap a little, so the task is not trivial.
    let (f, a, noise) = match class {
        0 => (0.0, 0.0, rng.uniform(0.05, 0.6)),
        1 => (rng.uniform(1.4, 2.6), rng.uniform(1.0, 4.5), 0.4),
        _ => (rng.uniform(3.0, 8.0), rng.uniform(3.0, 14.0), 1.0),
    };
    let mut x = [0.0; INPUTS];
    for t in 0..STEPS {
        let s = (std::f32::consts::TAU * f * t as f32 / 50.0 + phase).sin();
        for k in 0..3 {
            // Walking bounces along gravity; shaking goes along a random axis.
            let dir = if class == 1 { g[k] } else { axis[k] };
            x[3 * t + k] = G * g[k] + a * s * dir + noise * rng.normal();
        }
    }
    x
}

fn samples(n: usize, rng: &mut Rng) -> Samples<INPUTS> {
    let y: Vec<u16> = (0..n).map(|i| (i % CLASSES) as u16).collect();
    let x = y.iter().map(|&c| window(c, rng)).collect();
    Samples { x, y }
}

struct Args {
    out: PathBuf,
    seed: u64,
    firmware: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        out: PathBuf::from("out/sensor"),
        seed: 1,
        firmware: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--out" => args.out = it.next().ok_or("--out needs a folder")?.into(),
            "--seed" => {
                args.seed = it
                    .next()
                    .ok_or("--seed needs a number")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--no-firmware" => args.firmware = false,
            "-h" | "--help" => {
                return Err("usage: sensor [--out DIR] [--seed S] [--no-firmware]".into());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let mut rng = Rng::new(args.seed);
    let (train, val, test) = (
        samples(3_000, &mut rng),
        samples(600, &mut rng),
        samples(900, &mut rng),
    );

    // Train the network of src/network.rs.
    let mut net = firmnet::boxed!(net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dropout::new(0.1),
        Dense::ZERO,
        Tanh::DEFAULT,
        Dense::ZERO
    ]);
    net.init(Init::HeNormal, &mut Rng::new(args.seed + 1));
    let adam = Adam::<<Network as Layer>::Grad>::boxed(AdamConfig::DEFAULT);
    let mut trainer = Trainer::<Network, _, 32>::new(net, adam, args.seed + 2);
    let config = TrainConfig {
        epochs: 40,
        schedule: LrSchedule {
            base: 3e-3,
            schedule: Schedule::Cosine { min_factor: 0.05 },
            warmup_epochs: 0,
        },
        patience: Some(10),
        seed: args.seed,
        progress: false,
        regularization: Regularization::NONE,
    };
    let fit = trainer.fit(&train, &val, &config, |r| {
        println!(
            "epoch {:>2}  train loss {:.4}  val accuracy {:.4}",
            r.epoch, r.train_loss, r.val_accuracy
        );
    })?;
    let float = evaluate(&*trainer.net, &test);
    println!(
        "float network: test accuracy {:.4} (best epoch {})",
        float.accuracy, fit.best_epoch
    );

    // Quantize and deploy: one call for the int8 twin, one for the pair of files.
    let int8: Box<Int8<Network>> = quantize(&*trainer.net, &train.x[..1_000], RangeMethod::MinMax)?;
    std::fs::create_dir_all(&args.out)?;
    let (model, model_int8) = (
        args.out.join("model.fnet"),
        args.out.join("model_int8.fnet"),
    );
    format::save_pair(&model, &*trainer.net, &model_int8, &*int8)?;
    let inputs: Vec<u8> = test.x[..FIRMWARE_WINDOWS]
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    format::write_atomic(args.out.join("inputs.bin"), &inputs)?;
    let quantized = evaluate_int8(&*int8, &test);
    println!(
        "int8 network ({} bytes in flash): test accuracy {:.4}; wrote {}, {}, inputs.bin",
        std::fs::metadata(&model_int8)?.len(),
        quantized.accuracy,
        model.display(),
        model_int8.display()
    );

    // The host's int8 logits for the windows the firmware classifies.
    let mut arena = Scratch::<Int8<Network>>::ZERO;
    let host: Vec<[i8; CLASSES]> = test.x[..FIRMWARE_WINDOWS]
        .iter()
        .map(|x| {
            let mut xq = [0i8; INPUTS];
            int8.input_params().quantize_slice(x, &mut xq);
            let mut y = [0i8; CLASSES];
            int8.forward(&xq, &mut y, &mut arena);
            y
        })
        .collect();
    let (compared, mismatches) = if args.firmware {
        firmware(&args.out, &host)?
    } else {
        println!("firmware skipped (--no-firmware)");
        (0, 0)
    };
    println!(
        "RESULT task=sensor float_accuracy={:.4} int8_accuracy={:.4} outputs={compared} mismatches={mismatches}",
        float.accuracy, quantized.accuracy
    );
    Ok(mismatches == 0)
}

/// Builds `targets/template` with the model in `dir`, runs it under QEMU and compares its
/// logits with `host`'s: `(outputs compared, mismatches)`. A missing or extra line counts
/// as a mismatch.
fn firmware(
    dir: &Path,
    host: &[[i8; CLASSES]],
) -> Result<(usize, usize), Box<dyn std::error::Error>> {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/template");
    let dir = dir.canonicalize()?;
    println!(
        "building and running the firmware ({}) under QEMU",
        template.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["run", "--release", "--quiet"])
        .current_dir(&template)
        .env("MODEL_DIR", &dir)
        // The firmware's own configuration, not this program's.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo in {}: {e}", template.display()))?;
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            child.kill()?;
            return Err("the firmware did not finish in time".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().ok_or("no output")?, &mut stdout)?;
    if !status.success() {
        return Err(format!("the firmware failed ({status}):\n{stdout}").into());
    }
    let mut seen = vec![false; host.len()];
    let (mut compared, mut mismatches) = (0, 0);
    for line in stdout.lines().filter(|l| l.starts_with("logits ")) {
        let v: Vec<i64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|w| w.parse().ok())
            .collect();
        let Some((&i, logits)) = v.split_first() else {
            mismatches += 1;
            continue;
        };
        match (
            usize::try_from(i).ok().and_then(|i| host.get(i)),
            logits.len(),
        ) {
            (Some(want), CLASSES) if !seen[i as usize] => {
                seen[i as usize] = true;
                for (&got, &want) in logits.iter().zip(want) {
                    compared += 1;
                    mismatches += usize::from(got != i64::from(want));
                }
            }
            _ => mismatches += 1,
        }
    }
    mismatches += seen.iter().filter(|s| !**s).count();
    println!("firmware: {compared} int8 logits compared with the host, {mismatches} differ");
    Ok((compared, mismatches))
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
