//! The main job: train an MLP on Fashion-MNIST on the host, evaluate it on the test set.
//!
//! ```sh
//! cargo run --release --example fashion_mnist -- [--data DIR] [--out DIR] [--epochs N] [--seed S]
//! ```
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
//! embeds (`cargo run --release --example verify`).

use std::path::PathBuf;
use std::process::ExitCode;

use firmnet::format;
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

type Mlp = FashionMlp;

struct Args {
    data: PathBuf,
    out: PathBuf,
    epochs: usize,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: PathBuf::from(FASHION_MNIST_DIR),
        out: PathBuf::from("out/fashion_mnist"),
        epochs: 20,
        seed: 1,
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
            "-h" | "--help" => {
                return Err(
                    "usage: fashion_mnist [--data DIR] [--out DIR] [--epochs N] [--seed S]".into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let started = std::time::Instant::now();
    let data = Dataset::load_mnist_dir(&args.data, 10)?;
    let (train_split, val_split) = data.train.split_off(0.1, args.seed);
    let norm = Normalizer::fit(&train_split);
    let train = Samples::<784>::from_split(&train_split, &norm, "training images")?;
    let val = Samples::<784>::from_split(&val_split, &norm, "validation images")?;
    let test = Samples::<784>::from_split(&data.test, &norm, "test images")?;
    println!(
        "fashion-mnist: {} training, {} validation, {} test samples",
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
        seed: args.seed,
        progress: true,
        regularization: Regularization::NONE,
    };
    let summary = trainer.fit(&train, &val, &config, |r| {
        println!(
            "epoch {:>2}  lr {:.5}  train loss {:.4} acc {:.4}  val loss {:.4} acc {:.4}  {:.1} s  {:.0} samples/s",
            r.epoch,
            r.lr,
            r.train_loss,
            r.train_accuracy,
            r.val_loss,
            r.val_accuracy,
            r.train_seconds,
            r.samples_per_second
        );
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
    norm.fold_into(&mut deployed.first);
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
    report::write_csv(args.out.join("history.csv"), &summary.history)?;
    report::plot_learning_curves(
        args.out.join("learning_curves.png"),
        &summary.history,
        "Fashion-MNIST · MLP 784-256-128-10",
        Some(summary.best_epoch),
    )?;
    let matrix = ConfusionMatrix::from_predictions(10, &test.y, &result.predictions)?;
    matrix.plot_with_title(
        args.out.join("confusion_matrix.png"),
        &FASHION_MNIST_CLASSES,
        "Fashion-MNIST test set",
    )?;
    report::write_text(
        args.out.join("confusion_matrix.txt"),
        &matrix.table(&FASHION_MNIST_CLASSES).to_string(),
    )?;
    let run_summary = Summary::new(&summary, Some(&result))
        .with_max_epochs(config.epochs)
        .with_wall_time(started.elapsed());
    report::write_text(args.out.join("summary.txt"), &run_summary.to_string())?;
    println!("{}\n{run_summary}", matrix.table(&FASHION_MNIST_CLASSES));
    println!(
        "wrote {} (the network, taking raw pixels 0-255), {} (its int8 twin), history.csv, learning_curves.png, confusion_matrix.png/.txt, summary.txt",
        model.display(),
        model_int8.display()
    );
    println!(
        "RESULT dataset=fashion-mnist test_accuracy={:.4} int8_test_accuracy={:.4} epochs={} train_seconds={:.1} samples_per_second={:.0}",
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
