//! Streaming classification, on the host and in firmware, compared bit for bit: the int8
//! accelerometer classifier of `targets/template` on a continuous signal in which the
//! activity changes, run on the last 32 frames every 8 frames.
//!
//! ```sh
//! cargo run --release --example sensor_stream -- [--model DIR] [--out DIR] [--seed S] [--no-firmware]
//! ```
//!
//! The program synthesizes the signal — six stretches of 5 to 8 seconds, each one activity
//! (still, walking, shaking) with its own orientation and motion, drawn as
//! `examples/sensor.rs` draws its training windows — and writes it to `DIR/stream.bin`
//! (frames of 3 little-endian `f32`), next to a copy of the int8 model of `--model`
//! (default `targets/template/model/`, where `examples/sensor.rs` put it). It streams the
//! signal through the template's window type (`targets/template/src/window.rs`:
//! `firmnet::stream::Window`, each frame quantized once on arrival) into the int8
//! network, then builds the template's `stream` program with `MODEL_DIR=DIR`, runs it
//! under QEMU — where a timer interrupt plays the sensor and the frames reach the main loop
//! through a lock-free queue — and compares every logit of every hop with the host's.
//!
//! The last line is
//! `RESULT task=sensor_stream hops=… accuracy=… mixed=… outputs=… mismatches=0`:
//! `outputs`, the logits compared; `accuracy`, the share of windows lying within one
//! activity that the network classifies as that activity; `mixed`, the windows that
//! straddle a change of activity, left out of the accuracy. With the default seed the
//! signal is the template's own `model/stream.bin`, byte for byte.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use firmnet::format;
use firmnet::prelude::*;
use firmnet::quant::{Int8, QLayer, argmax_i8};

#[path = "common/activity.rs"]
mod activity;
#[path = "../targets/template/src/network.rs"]
mod network;
#[path = "common/template.rs"]
mod template;
#[path = "../targets/template/src/window.rs"]
mod window;

use activity::{Activity, RATE};
use network::{INPUTS, Network, OUTPUTS};
use window::{AXES, Frame, HOP, SensorWindow};

/// The activities of the signal, in order: every change between two of them occurs.
const PLAN: [u16; 6] = [0, 1, 2, 0, 2, 1];
/// Names of the classes.
const NAMES: [&str; OUTPUTS] = ["still", "walking", "shaking"];
/// Frames in a window.
const FRAMES: usize = INPUTS / AXES;
/// The seed of the template's `model/stream.bin`.
const DEFAULT_SEED: u64 = 1;

/// The signal: each activity of [`PLAN`] for 250 to 390 frames (5 to 7.8 s), and the
/// activity of every frame.
fn signal(seed: u64) -> (Vec<Frame>, Vec<u16>) {
    let mut rng = Rng::new(seed);
    let (mut frames, mut labels) = (Vec::new(), Vec::new());
    for class in PLAN {
        let len = 250 + rng.below(141) as usize;
        let activity = Activity::draw(class, &mut rng);
        for t in 0..len {
            frames.push(activity.sample(t, &mut rng));
            labels.push(class);
        }
    }
    (frames, labels)
}

struct Args {
    model: PathBuf,
    out: PathBuf,
    seed: u64,
    firmware: bool,
}

fn parse_args() -> Result<Args, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = Args {
        model: root.join("targets/template/model"),
        out: PathBuf::from("out/sensor_stream"),
        seed: DEFAULT_SEED,
        firmware: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |what: &str| it.next().ok_or(format!("{flag} needs {what}"));
        match flag.as_str() {
            "--model" => args.model = value("a folder")?.into(),
            "--out" => args.out = value("a folder")?.into(),
            "--seed" => {
                args.seed = value("a number")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--no-firmware" => args.firmware = false,
            "-h" | "--help" => {
                return Err(
                    "usage: sensor_stream [--model DIR] [--out DIR] [--seed S] [--no-firmware]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let (frames, labels) = signal(args.seed);
    println!(
        "signal: {} frames ({:.1} s at {RATE} Hz), activities {}",
        frames.len(),
        frames.len() as f32 / RATE,
        PLAN.map(|c| NAMES[usize::from(c)]).join(", ")
    );

    // The model, and the folder the firmware is built with: the signal and the model.
    let model_file = args.model.join("model_int8.fnet");
    let bytes = std::fs::read(&model_file)
        .map_err(|e| format!("cannot read {}: {e}", model_file.display()))?;
    let mut net: Box<Int8<Network>> = Box::new(Zero::ZERO);
    format::load(&bytes, &mut *net).map_err(|e| format!("{}: {e}", model_file.display()))?;
    std::fs::create_dir_all(&args.out)?;
    let stream: Vec<u8> = frames
        .iter()
        .flatten()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    format::write_atomic(args.out.join("stream.bin"), &stream)?;
    format::write_atomic(args.out.join("model_int8.fnet"), &bytes)?;
    println!(
        "wrote {} ({} bytes) and a copy of {}",
        args.out.join("stream.bin").display(),
        stream.len(),
        model_file.display()
    );
    if args.seed == DEFAULT_SEED {
        let shipped =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/template/model/stream.bin");
        if std::fs::read(&shipped).ok().as_deref() != Some(&stream[..]) {
            println!(
                "note: {} is not this signal; copy {} there",
                shipped.display(),
                args.out.join("stream.bin").display()
            );
        }
    }

    // The host streams the signal as the firmware does: frame by frame into the window.
    let mut window = SensorWindow::new();
    let mut scratch = Box::new(Scratch::<Int8<Network>>::ZERO);
    let params = net.input_params();
    let mut host: Vec<[i8; OUTPUTS]> = Vec::new();
    let (mut right, mut pure) = (0, 0);
    let mut per_segment = vec![(0, 0); PLAN.len()];
    let mut segment = 0;
    for (k, frame) in frames.iter().enumerate() {
        if k > 0 && labels[k] != labels[k - 1] {
            segment += 1;
        }
        let Some(x) = window.push_quantized(frame, params) else {
            continue;
        };
        let mut logits = [0i8; OUTPUTS];
        net.forward(x, &mut logits, &mut scratch);
        host.push(logits);
        // The window is frames k + 1 − FRAMES ..= k; it counts if one activity fills it.
        let seen = &labels[k + 1 - FRAMES..=k];
        if seen.iter().all(|&c| c == labels[k]) {
            let hit = argmax_i8(&logits) == usize::from(labels[k]);
            pure += 1;
            right += usize::from(hit);
            per_segment[segment].0 += usize::from(hit);
            per_segment[segment].1 += 1;
        }
    }
    for (i, (&class, (hit, n))) in PLAN.iter().zip(&per_segment).enumerate() {
        println!(
            "stretch {}: {:<8} {hit:>3} of {n:>3} windows classified {}",
            i + 1,
            NAMES[usize::from(class)],
            NAMES[usize::from(class)]
        );
    }
    let accuracy = right as f64 / pure.max(1) as f64;
    let mixed = host.len() - pure;
    println!(
        "host: {} hops (every {HOP} frames once {FRAMES} have arrived), accuracy {accuracy:.4} on the {pure} windows within one activity, {mixed} straddle a change",
        host.len()
    );

    let (compared, mismatches) = if args.firmware {
        let (compared, mismatches, stdout) =
            template::firmware(&template::shipped(), "stream", &args.out, &host)?;
        if let Some(summary) = stdout.lines().find(|l| l.starts_with("frames ")) {
            println!("firmware: {summary}");
        }
        (compared, mismatches)
    } else {
        println!("firmware skipped (--no-firmware)");
        (0, 0)
    };
    println!(
        "RESULT task=sensor_stream hops={} accuracy={accuracy:.4} mixed={mixed} outputs={compared} mismatches={mismatches}",
        host.len()
    );
    Ok(mismatches == 0)
}

fn main() -> ExitCode {
    template::exit_code(run())
}
