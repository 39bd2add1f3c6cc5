//! Your own network, from training to firmware: a 3-class accelerometer-window classifier
//! (still, walking, shaking) defined once in `targets/template/src/network.rs`, trained on
//! data this program synthesizes, quantized to int8 with the generic call, exported, and
//! run in the template firmware under QEMU with every logit compared with the host.
//!
//! ```sh
//! cargo run --release --features std --example sensor -- [--out DIR] [--seed S] [--no-firmware]
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

use std::path::PathBuf;
use std::process::ExitCode;

use firmnet::format;
use firmnet::host::{
    LrSchedule, RangeMethod, Samples, Schedule, TrainConfig, Trainer, evaluate, evaluate_int8,
    quantize,
};
use firmnet::prelude::*;
use firmnet::quant::{Int8, QLayer};

#[path = "common/activity.rs"]
mod activity;
#[path = "../targets/template/src/network.rs"]
mod network;
#[path = "common/template.rs"]
mod template;

use activity::Activity;
use network::{INPUTS, Network, OUTPUTS};

/// Test windows the firmware classifies.
const FIRMWARE_WINDOWS: usize = 300;

/// One window of class `class`: a freshly drawn activity, sample after sample.
fn window(class: u16, rng: &mut Rng) -> [f32; INPUTS] {
    let activity = Activity::draw(class, rng);
    let mut x = [0.0; INPUTS];
    for (t, frame) in x.chunks_exact_mut(3).enumerate() {
        frame.copy_from_slice(&activity.sample(t, rng));
    }
    x
}

fn samples(n: usize, rng: &mut Rng) -> Samples<INPUTS> {
    let y: Vec<u16> = (0..n).map(|i| (i % OUTPUTS) as u16).collect();
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
    let config = TrainConfig::default()
        .epochs(40)
        .schedule(LrSchedule {
            base: 3e-3,
            schedule: Schedule::Cosine { min_factor: 0.05 },
            warmup_epochs: 0,
        })
        .patience(10)
        .seed(args.seed);
    let fit = trainer.fit(&train, &val, &config, |r| println!("{r}"))?;
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
    let host: Vec<[i8; OUTPUTS]> = test.x[..FIRMWARE_WINDOWS]
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
        let (compared, mismatches, _) =
            template::firmware(&template::shipped(), "firmnet-template", &args.out, &host)?;
        (compared, mismatches)
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

fn main() -> ExitCode {
    template::exit_code(run())
}
