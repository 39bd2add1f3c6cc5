//! The main job: train an MLP on Fashion-MNIST on the host, evaluate it on the test set.
//!
//! ```sh
//! cargo run --release --features charts,safetensors --example fashion_mnist -- [--data DIR] [--out DIR]
//!     [--epochs N] [--seed S] [--name NAME] [--classes A,B,…]
//! ```
//!
//! `--data` takes any folder of MNIST-format IDX files of 28×28 images in 10 classes (MNIST
//! digits, Kuzushiji-MNIST …). The reports and the RESULT line name the data after
//! `--name` (default: `fashion-mnist` for Debian's Fashion-MNIST folder, else the folder's
//! name) and the classes after `--classes` (default: the clothing names for Fashion-MNIST,
//! else `0` … `9`).
//!
//! 784-256-128-10 with batch normalization, ReLU and dropout, trained with Adam at batch 64,
//! a cosine learning-rate schedule and early stopping on a validation split held out of the
//! training set. The test set is touched once, at the end. The saved `model.fnet` has the input
//! normalization folded into its first layer: it takes raw pixel values 0–255. The last line
//! is machine-readable:
//! `RESULT dataset=fashion-mnist test_accuracy=… int8_test_accuracy=… epochs=… train_seconds=… samples_per_second=…`.
//!
//! The trained network is then quantized to int8 with the generic conversion
//! (`firmnet::host::Calibration`, `firmnet::quant::Int8<FashionMlp>`): batch normalization
//! folded, ReLU fused, dropout gone, weights per output channel, activation ranges
//! calibrated in one pass over 2,000 training images and chosen among min/max, the 99.99th
//! percentile and the MSE-optimal range by validation accuracy. `int8_test_accuracy` is
//! that network's, computed with integers only. It is saved next to the float network as
//! `model_int8.fnet` (the pair written so that they stay together), the file the firmware
//! embeds (`cargo run --release --features std --example verify`). The float network is also
//! written for PyTorch as `model.safetensors`, whose metadata (`firmnet.input`) says that it
//! takes raw pixel values 0–255 as `f32`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use firmnet::format;
use firmnet::format::safetensors::Export;
use firmnet::host::report::{self, ConfusionMatrix, Summary};
use firmnet::host::{Calibration, RangeMethod, evaluate_int8};
use firmnet::host::{
    Dataset, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, LrSchedule, Normalizer, Regularization,
    Samples, Schedule, TrainConfig, Trainer, evaluate,
};
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::prelude::*;
use firmnet::quant::QParams;

const BATCH: usize = 64;
/// Classes of the data (the network's outputs).
const CLASSES: usize = 10;

/// What the saved networks take, stated in `model.safetensors`'s metadata.
const INPUT: &str = "784 raw pixel values 0-255 as f32, row-major 28x28 (not pixels/255): \
                     the input normalization is folded into the first layer";

type Mlp = FashionMlp;

struct Args {
    data: PathBuf,
    out: PathBuf,
    epochs: usize,
    seed: u64,
    name: String,
    classes: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: PathBuf::from(FASHION_MNIST_DIR),
        out: PathBuf::from("out/fashion_mnist"),
        epochs: 20,
        seed: 1,
        name: String::new(),
        classes: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--data" => args.data = value("--data")?.into(),
            "--out" => args.out = value("--out")?.into(),
            "--epochs" => {
                args.epochs = value("--epochs")?
                    .parse()
                    .map_err(|e| format!("--epochs: {e}"))?
            }
            "--seed" => {
                args.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--name" => args.name = value("--name")?,
            "--classes" => {
                args.classes = value("--classes")?
                    .split(',')
                    .map(|c| c.trim().to_string())
                    .collect();
                if args.classes.len() != CLASSES {
                    return Err(format!(
                        "--classes names {} classes; the network has {CLASSES}",
                        args.classes.len()
                    ));
                }
            }
            "-h" | "--help" => {
                return Err(
                    "usage: fashion_mnist [--data DIR] [--out DIR] [--epochs N] [--seed S] [--name NAME] [--classes A,B,…]".into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    // Fashion-MNIST's names only for Fashion-MNIST: other data gets its folder's name and
    // class numbers unless the flags say better.
    let fashion = args.data.canonicalize().ok() == Path::new(FASHION_MNIST_DIR).canonicalize().ok();
    if args.name.is_empty() {
        args.name = if fashion {
            "fashion-mnist".into()
        } else {
            args.data
                .file_name()
                .map_or("data".into(), |n| n.to_string_lossy().into_owned())
        };
    }
    if args.classes.is_empty() {
        args.classes = if fashion {
            FASHION_MNIST_CLASSES.map(String::from).to_vec()
        } else {
            (0..CLASSES).map(|c| c.to_string()).collect()
        };
    }
    Ok(args)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let started = std::time::Instant::now();
    let data = Dataset::load_mnist_dir(&args.data, CLASSES)?;
    let (train_split, val_split) = data.train.split_off(0.1, args.seed);
    let norm = Normalizer::fit(&train_split);
    let train = Samples::<784>::from_split(&train_split, &norm, "training images")?;
    let val = Samples::<784>::from_split(&val_split, &norm, "validation images")?;
    let test = Samples::<784>::from_split(&data.test, &norm, "test images")?;
    println!(
        "{}: {} training, {} validation, {} test samples",
        args.name,
        train.len(),
        val.len(),
        test.len()
    );

    let mut net = firmnet::boxed!(FASHION_MLP);
    net.init(Init::HeNormal, &mut Rng::new(args.seed));
    let adam = Adam::<<Mlp as Layer>::Grad>::boxed(AdamConfig::DEFAULT);
    let mut trainer = Trainer::<Mlp, _, BATCH>::new(net, adam, args.seed.wrapping_add(1));
    std::fs::create_dir_all(&args.out).map_err(|e| {
        format!(
            "cannot create the output folder {}: {e}",
            args.out.display()
        )
    })?;
    let mut history = Vec::new();
    let config = TrainConfig {
        epochs: args.epochs,
        schedule: LrSchedule {
            base: 2e-3,
            schedule: Schedule::Cosine { min_factor: 0.01 },
            warmup_epochs: 1,
        },
        patience: Some(5),
        monitor: None,
        seed: args.seed,
        progress: true,
        regularization: Regularization::NONE,
    };
    let summary = trainer.fit(&train, &val, &config, |r| {
        println!("{r}");
        // The log is rewritten after every epoch, so an interrupted run keeps its history.
        history.push(*r);
        if let Err(e) = report::write_csv(args.out.join("history.csv"), &history) {
            eprintln!("warning: {e}");
        }
    })?;
    let result = evaluate(&*trainer.net, &test);
    let samples: f64 = summary
        .history
        .iter()
        .map(|r| r.samples_per_second * r.train_seconds)
        .sum();
    println!(
        "best epoch {} of {}{}; test accuracy {:.4}, test loss {:.4}",
        summary.best_epoch,
        summary.history.len(),
        if summary.stopped_early {
            " (stopped early)"
        } else {
            ""
        },
        result.accuracy,
        result.loss
    );
    // The trained network (the best epoch's weights), with the input normalization folded
    // into its first layer so that it takes raw pixel values 0-255: the file is all a
    // deployment needs. It is checked on the raw test images before it is written.
    let mut deployed = trainer.net.clone();
    norm.fold_into(&mut deployed.first)?;
    let raw_test = Samples::<784>::raw_from_split(&data.test, "test images")?;
    let folded = evaluate(&*deployed, &raw_test);
    let agree = folded
        .predictions
        .iter()
        .zip(&result.predictions)
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "folded network on raw pixels: test accuracy {:.4}, same prediction for {agree} of {} images",
        folded.accuracy,
        raw_test.len()
    );
    // Int8: calibrated on training images, the calibration method chosen on validation
    // images, the test set evaluated once.
    let raw_train = Samples::<784>::raw_from_split(&train_split, "training images")?;
    let raw_val = Samples::<784>::raw_from_split(&val_split, "validation images")?;
    // One calibration pass; the network takes raw pixels, quantized exactly as p − 128.
    let calibration =
        Calibration::record(&*deployed, &raw_train.take(2_000).x)?.with_input(QParams::PIXELS);
    let mut best = None;
    for method in [
        RangeMethod::MinMax,
        RangeMethod::Percentile(99.99),
        RangeMethod::Mse,
    ] {
        let q = calibration.quantize(&*deployed, method)?;
        let val = evaluate_int8(&*q, &raw_val);
        println!(
            "int8 calibration {method:?}: validation accuracy {:.4}",
            val.accuracy
        );
        if best.as_ref().is_none_or(|(acc, _, _)| val.accuracy > *acc) {
            best = Some((val.accuracy, method, q));
        }
    }
    let (_, method, int8) = best.ok_or("no calibration method")?;
    let int8_test = evaluate_int8(&*int8, &raw_test);
    let same = int8_test
        .predictions
        .iter()
        .zip(&folded.predictions)
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "int8 network ({method:?}): test accuracy {:.4} (float {:.4}), same prediction for {same} of {} images",
        int8_test.accuracy,
        folded.accuracy,
        raw_test.len()
    );
    // The network and its int8 twin, for the firmware (`cargo run --release --example
    // verify`), written so that a killed run never leaves a new float file beside an old
    // int8 one: the int8 file records the float file's checksum.
    let model = args.out.join("model.fnet");
    let model_int8 = args.out.join("model_int8.fnet");
    format::save_pair(&model, &*deployed, &model_int8, &*int8)?;
    // The same float network for PyTorch, saying in its metadata what it takes.
    let weights = args.out.join("model.safetensors");
    Export::new().input(INPUT).to_file(&weights, &*deployed)?;
    report::write_csv(args.out.join("history.csv"), &summary.history)?;
    report::plot_learning_curves(
        args.out.join("learning_curves.png"),
        &summary.history,
        &format!("{} · MLP 784-256-128-10", args.name),
        Some(summary.best_epoch),
    )?;
    let matrix = ConfusionMatrix::from_predictions(CLASSES, &test.y, &result.predictions)?;
    let classes: Vec<&str> = args.classes.iter().map(String::as_str).collect();
    matrix.plot_with_title(
        args.out.join("confusion_matrix.png"),
        &classes,
        &format!("{} test set", args.name),
    )?;
    report::write_text(
        args.out.join("confusion_matrix.txt"),
        &matrix.table(&classes).to_string(),
    )?;
    let run_summary = Summary::new(&summary, Some(&result))
        .with_max_epochs(config.epochs)
        .with_wall_time(started.elapsed());
    report::write_text(args.out.join("summary.txt"), &run_summary.to_string())?;
    println!("{}\n{run_summary}", matrix.table(&classes));
    println!(
        "wrote {} (the network, taking raw pixels 0-255), {} (its int8 twin), {} (for PyTorch), history.csv, learning_curves.png, confusion_matrix.png/.txt, summary.txt",
        model.display(),
        model_int8.display(),
        weights.display()
    );
    println!(
        "RESULT dataset={} test_accuracy={:.4} int8_test_accuracy={:.4} epochs={} train_seconds={:.1} samples_per_second={:.0}",
        args.name,
        result.accuracy,
        int8_test.accuracy,
        summary.history.len(),
        summary.train_seconds,
        samples / summary.train_seconds
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
