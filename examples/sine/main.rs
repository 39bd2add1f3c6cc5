//! The "hello world" of embedded machine learning, end to end: a 1 → 16 → 16 → 1 ReLU
//! network regresses `sin(x)` on `[0, 2π)` from noisy samples, is quantized to int8, and
//! runs in firmware under QEMU — a copy of `targets/template`, as a user would make it, with
//! this network in its `src/network.rs` — with every output compared with the host's.
//!
//! ```sh
//! cargo run --release --features std --example sine -- [--out DIR] [--seed S] [--no-firmware]
//! ```
//!
//! It uses firmnet's public API only. Training is the generic trainer with the mean squared
//! error ([`MeanSquaredError`]); the metrics are measured against the noiseless `sin(x)` on
//! test points the network never saw, for the float network and for its int8 twin (inputs
//! quantized, outputs dequantized, as the firmware computes them). The last line is
//! `RESULT task=sine float_mse=… int8_mse=… outputs=… mismatches=0`.
//!
//! Written to `DIR` (default `out/sine/`): `model.fnet`, `model_int8.fnet`, `inputs.bin`
//! (the test inputs the firmware runs, little-endian `f32`), and `firmware/`, the template
//! copy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use firmnet::format;
use firmnet::host::{
    LrSchedule, Metrics, RangeMethod, Samples, Schedule, TrainConfig, Trainer, evaluate_int8_with,
    evaluate_with, quantize,
};
use firmnet::loss::MeanSquaredError;
use firmnet::prelude::*;
use firmnet::quant::{Int8, QLayer};

#[path = "../common/template.rs"]
mod template;

mod network;

/// The network's source, which becomes the firmware copy's `src/network.rs`: the host and
/// the firmware compile the same text.
const NETWORK_RS: &str = include_str!("network.rs");

use network::{INPUTS, Network, OUTPUTS};

/// Standard deviation of the noise on the training targets.
const NOISE: f32 = 0.1;
/// Test inputs the firmware runs.
const FIRMWARE_INPUTS: usize = 500;

struct Args {
    out: PathBuf,
    seed: u64,
    firmware: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        out: PathBuf::from("out/sine"),
        seed: 1,
        firmware: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => args.out = it.next().ok_or("--out needs a directory")?.into(),
            "--seed" => {
                let v = it.next().ok_or("--seed needs a number")?;
                args.seed = v
                    .parse()
                    .map_err(|_| format!("--seed: {v:?} is not a number"))?;
            }
            "--no-firmware" => args.firmware = false,
            "-h" | "--help" => {
                println!("usage: sine [--out DIR] [--seed S] [--no-firmware]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

/// `n` points `x` uniform on `[0, 2π)` with targets `sin(x)` plus Gaussian noise of `noise`.
fn samples(n: usize, noise: f32, rng: &mut Rng) -> Samples<INPUTS, [f32; OUTPUTS]> {
    let x: Vec<[f32; 1]> = (0..n)
        .map(|_| [rng.uniform(0.0, std::f32::consts::TAU)])
        .collect();
    let y = x
        .iter()
        .map(|&[v]| [v.sin() + noise * rng.normal()])
        .collect();
    Samples { x, y }
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let mut rng = Rng::new(args.seed);
    // Noisy observations to train on; the function itself to validate and test against.
    let (train, val, test) = (
        samples(2_000, NOISE, &mut rng),
        samples(500, 0.0, &mut rng),
        samples(1_000, 0.0, &mut rng),
    );

    let mut net: Box<Network> = firmnet::boxed!(net![
        Dense::ZERO,
        Relu::DEFAULT,
        Dense::ZERO,
        Relu::DEFAULT,
        Dense::ZERO
    ]);
    net.init(Init::HeNormal, &mut Rng::new(args.seed + 1));
    let adam = Adam::boxed(AdamConfig::with_lr(1e-2));
    let mut trainer = Trainer::<_, _, 32, _>::with_loss(net, adam, MeanSquaredError, args.seed + 2);
    let config = TrainConfig::default()
        .epochs(150)
        .schedule(LrSchedule {
            base: 1e-2,
            schedule: Schedule::Cosine { min_factor: 0.02 },
            warmup_epochs: 0,
        })
        .patience(30)
        .seed(args.seed + 3);
    let fit = trainer.fit(&train, &val, &config, |r| {
        if r.epoch % 10 == 0 {
            println!("{r}");
        }
    })?;
    let float: Metrics = evaluate_with(&*trainer.net, &test, &MeanSquaredError);
    println!(
        "float network: test {float} (best epoch {} of {})",
        fit.best_epoch,
        fit.history.len()
    );

    let int8: Box<Int8<Network>> = quantize(&*trainer.net, &train.x, RangeMethod::MinMax)?;
    let quantized = evaluate_int8_with(&*int8, &test, &MeanSquaredError);
    println!("int8 network: test {quantized}");
    std::fs::create_dir_all(&args.out)?;
    let (model, model_int8) = (
        args.out.join("model.fnet"),
        args.out.join("model_int8.fnet"),
    );
    format::save_pair(&model, &*trainer.net, &model_int8, &*int8)?;
    let inputs: Vec<u8> = test.x[..FIRMWARE_INPUTS]
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    format::write_atomic(args.out.join("inputs.bin"), &inputs)?;

    // The host's int8 outputs for the inputs the firmware runs.
    let mut arena = Box::new(Scratch::<Int8<Network>>::ZERO);
    let host: Vec<[i8; OUTPUTS]> = test.x[..FIRMWARE_INPUTS]
        .iter()
        .map(|x| {
            let mut xq = [0i8; INPUTS];
            int8.input_params().quantize_slice(x, &mut xq);
            let mut y = [0i8; OUTPUTS];
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
        "RESULT task=sine float_mse={:.6} int8_mse={:.6} float_r2={:.4} int8_r2={:.4} outputs={compared} mismatches={mismatches}",
        float.mse.unwrap_or(f32::NAN),
        quantized.mse.unwrap_or(f32::NAN),
        float.r2.unwrap_or(f32::NAN),
        quantized.r2.unwrap_or(f32::NAN),
    );
    Ok(mismatches == 0)
}

/// Copies the template to `dir/firmware` with this network in its `src/network.rs`, builds
/// it with the model in `dir`, runs it under QEMU and compares its outputs with `host`'s:
/// `(outputs compared, mismatches)`.
fn firmware(
    dir: &Path,
    host: &[[i8; OUTPUTS]],
) -> Result<(usize, usize), Box<dyn std::error::Error>> {
    let copy = dir.canonicalize()?.join("firmware");
    template::copy_template(&copy)?;
    std::fs::write(copy.join("src/network.rs"), NETWORK_RS)?;
    let (compared, mismatches, _) = template::firmware(&copy, "firmnet-template", dir, host)?;
    Ok((compared, mismatches))
}

fn main() -> ExitCode {
    template::exit_code(run())
}
