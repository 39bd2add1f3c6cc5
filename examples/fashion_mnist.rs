//! The main job: train a convolutional network (or the MLP) on Fashion-MNIST on the host,
//! evaluate it on the test set, quantize it to int8.
//!
//! ```sh
//! cargo run --release --features charts,safetensors --example fashion_mnist -- [--model cnn|mlp]
//!     [--data DIR] [--out DIR] [--epochs N] [--seed S] [--name NAME] [--classes A,B,…]
//! ```
//!
//! `--data` takes any folder of MNIST-format IDX files of 28×28 images in 10 classes (MNIST
//! digits, Kuzushiji-MNIST …). The reports and the RESULT line name the data after
//! `--name` (default: `fashion-mnist` for Debian's Fashion-MNIST folder, else the folder's
//! name) and the classes after `--classes` (default: the clothing names for Fashion-MNIST,
//! else `0` … `9`).
//!
//! Two networks, both trained with Adam at batch 64, He initialization, a cosine
//! learning-rate schedule after one epoch of warm-up and early stopping on a validation
//! split held out of the training set; the test set is touched once, at the end:
//!
//! - `--model cnn` (the default): [`FashionCnn`], two blocks of 3×3 convolution, batch
//!   normalization, ReLU and 2×2 max-pooling (16 and 32 channels), then dropout 0.1, dense
//!   48 with batch normalization and ReLU, and dense 10 (80,794 parameters). It
//!   trains on pixels scaled to [0, 1] (`p/255`; batch normalization after the first
//!   convolution makes a mean shift needless, and black stays 0, the value the `Same`
//!   padding adds), every training image mirrored left–right with probability ½ (clothes
//!   are left–right symmetric) and shifted by up to one pixel each way. Writes to
//!   `out/fashion_mnist/cnn/` unless `--out` says otherwise; 25 epochs at most.
//! - `--model mlp`: [`FashionMlp`], 784-256-128-10 with batch normalization, ReLU and
//!   dropout, on pixels standardized per pixel with the training split's mean and standard
//!   deviation, without augmentation. Writes to `out/fashion_mnist/` (where `verify` looks)
//!   unless `--out` says otherwise; 20 epochs at most.
//!
//! The saved `model.fnet` has the input normalization folded into its first layer — the
//! CNN's `1/255` into its first convolution's weights, the MLP's per-pixel standardization
//! into its first dense layer — so it takes raw pixel values 0–255 (row-major 28×28; the
//! CNN reads them as a 28×28×1 map). The last line is machine-readable:
//! `RESULT dataset=fashion-mnist test_accuracy=… int8_test_accuracy=… epochs=… train_seconds=… samples_per_second=… model=cnn`.
//!
//! The trained network is then quantized to int8 with the generic conversion
//! (`firmnet::host::Calibration`, `firmnet::quant::Int8<…>`): batch normalization
//! folded, ReLU fused, dropout gone, weights per output channel, activation ranges
//! calibrated in one pass over 2,000 training images and chosen among min/max, the 99.99th
//! percentile and the MSE-optimal range by validation accuracy. `int8_test_accuracy` is
//! that network's, computed with integers only. It is saved next to the float network as
//! `model_int8.fnet` (the pair written so that they stay together); the MLP's is the file
//! the firmware embeds (`cargo run --release --features std --example verify`). The float
//! network is also written for PyTorch as `model.safetensors`, whose metadata
//! (`firmnet.input`) says that it takes raw pixel values 0–255 as `f32`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use firmnet::format;
use firmnet::format::safetensors::Export;
use firmnet::host::report::{self, ConfusionMatrix, Summary};
use firmnet::host::{Augment, Calibration, Evaluation, FitSummary, RangeMethod, evaluate_int8};
use firmnet::host::{
    Dataset, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, LrSchedule, Monitor, Normalizer,
    Regularization, Samples, Schedule, Split, TrainConfig, Trainer, evaluate,
};
use firmnet::models::{FASHION_CNN, FASHION_MLP, FashionCnn, FashionMlp};
use firmnet::prelude::*;
use firmnet::quant::convert::{Build, ToNet};
use firmnet::quant::{Int8, Owned, QLayer, QParams, Quantize};
use firmnet::spec::Describe;

const BATCH: usize = 64;
/// Classes of the data (the network's outputs).
const CLASSES: usize = 10;
/// Pixels per image.
const PIXELS: usize = 784;

/// What the saved MLP takes, stated in `model.safetensors`'s metadata.
const MLP_INPUT: &str = "784 raw pixel values 0-255 as f32, row-major 28x28 (not pixels/255): \
                         the input normalization is folded into the first layer";

/// What the saved CNN takes, stated in `model.safetensors`'s metadata.
const CNN_INPUT: &str = "28x28x1 raw pixel values 0-255 as f32, height x width x channels \
                         (row-major 28x28, not pixels/255): the input scaling 1/255 is folded \
                         into the first convolution";

/// Which network the job trains.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Model {
    Cnn,
    Mlp,
}

impl Model {
    fn name(self) -> &'static str {
        match self {
            Model::Cnn => "cnn",
            Model::Mlp => "mlp",
        }
    }
}

struct Args {
    model: Model,
    data: PathBuf,
    out: Option<PathBuf>,
    epochs: Option<usize>,
    seed: u64,
    name: String,
    classes: Vec<String>,
}

const USAGE: &str = "usage: fashion_mnist [--model cnn|mlp] [--data DIR] [--out DIR] [--epochs N] \
                     [--seed S] [--name NAME] [--classes A,B,…]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        model: Model::Cnn,
        data: PathBuf::from(FASHION_MNIST_DIR),
        out: None,
        epochs: None,
        seed: 1,
        name: String::new(),
        classes: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--model" => {
                args.model = match value("--model")?.as_str() {
                    "cnn" => Model::Cnn,
                    "mlp" => Model::Mlp,
                    other => return Err(format!("--model {other:?}: expected cnn or mlp")),
                }
            }
            "--data" => args.data = value("--data")?.into(),
            "--out" => args.out = Some(value("--out")?.into()),
            "--epochs" => {
                args.epochs = Some(
                    value("--epochs")?
                        .parse()
                        .map_err(|e| format!("--epochs: {e}"))?,
                )
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
            "-h" | "--help" => return Err(USAGE.into()),
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

/// The data of one run: the splits as the network trains on them (`train`, `val`,
/// `test`, normalized) and as the deployed network takes them (`raw_*`: pixels 0–255).
struct Data {
    train: Samples<PIXELS>,
    val: Samples<PIXELS>,
    test: Samples<PIXELS>,
    raw_train: Samples<PIXELS>,
    raw_val: Samples<PIXELS>,
    raw_test: Samples<PIXELS>,
}

impl Data {
    /// The splits, normalized by `normalize` for training.
    fn new(
        train: &Split,
        val: &Split,
        test: &Split,
        normalize: impl Fn(&Split, &str) -> Result<Samples<PIXELS>, Box<dyn std::error::Error>>,
    ) -> Result<Data, Box<dyn std::error::Error>> {
        Ok(Data {
            train: normalize(train, "training images")?,
            val: normalize(val, "validation images")?,
            test: normalize(test, "test images")?,
            raw_train: Samples::raw_from_split(train, "training images")?,
            raw_val: Samples::raw_from_split(val, "validation images")?,
            raw_test: Samples::raw_from_split(test, "test images")?,
        })
    }
}

/// How one network is trained and deployed.
struct Recipe<'a> {
    config: TrainConfig,
    /// The title of the learning curves.
    title: &'a str,
    /// What the saved network takes (`firmnet.input` in `model.safetensors`).
    input: &'a str,
}

/// A trained network, evaluated, with its deployment form.
struct Trained<L> {
    summary: FitSummary,
    /// The trained network on the (normalized) test set.
    result: Evaluation,
    /// The network with the input normalization folded in: it takes raw pixels.
    deployed: Box<L>,
    /// The deployed network on the raw test set.
    folded: Evaluation,
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let started = std::time::Instant::now();
    let dataset = Dataset::load_mnist_dir(&args.data, CLASSES)?;
    let (train_split, val_split) = dataset.train.split_off(0.1, args.seed);
    let out = args.out.clone().unwrap_or_else(|| match args.model {
        Model::Cnn => PathBuf::from("out/fashion_mnist/cnn"),
        Model::Mlp => PathBuf::from("out/fashion_mnist"),
    });
    std::fs::create_dir_all(&out)
        .map_err(|e| format!("cannot create the output folder {}: {e}", out.display()))?;
    match args.model {
        Model::Mlp => {
            // Per-pixel standardization fitted on the training split, folded into the first
            // dense layer afterwards.
            let norm = Normalizer::fit(&train_split);
            let data = Data::new(&train_split, &val_split, &dataset.test, |s, name| {
                Ok(Samples::from_split(s, &norm, name)?)
            })?;
            let config = TrainConfig {
                epochs: args.epochs.unwrap_or(20),
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
            let recipe = Recipe {
                config,
                title: "MLP 784-256-128-10",
                input: MLP_INPUT,
            };
            let mut net = firmnet::boxed!(FASHION_MLP);
            net.init(Init::HeNormal, &mut Rng::new(args.seed));
            let trained = train::<FashionMlp>(&args, &out, &data, &recipe, net, |net| {
                Ok(norm.fold_into(&mut net.first)?)
            })?;
            let (int8, int8_test) = int8(&*trained.deployed, &data, &trained.folded)?;
            let int8 = Some((&*int8, &int8_test));
            finish(&args, &out, &data, &recipe, &trained, int8, started)
        }
        Model::Cnn => {
            // Pixels scaled to [0, 1]: one factor, folded into the first convolution's
            // weights afterwards (exactly a scaling of its input, zero padding included).
            let scaled = |s: &Split, name: &str| -> Result<_, Box<dyn std::error::Error>> {
                let mut samples = Samples::raw_from_split(s, name)?;
                samples.scale(1.0 / 255.0);
                Ok(samples)
            };
            let data = Data::new(&train_split, &val_split, &dataset.test, scaled)?;
            let config = TrainConfig {
                epochs: args.epochs.unwrap_or(25),
                schedule: LrSchedule {
                    base: 2e-3,
                    schedule: Schedule::Cosine { min_factor: 0.01 },
                    warmup_epochs: 1,
                },
                patience: Some(5),
                // The validation loss, not the accuracy: under the cosine schedule the loss keeps
                // falling to the last epochs, while the accuracy on 6,000 images moves by
                // ±0.3 points from one epoch to the next, and its early peak stopped a run at
                // epoch 18 with epoch 13's weights (0.5 points below on the test set).
                monitor: Some(Monitor::Loss),
                seed: args.seed,
                progress: true,
                regularization: Regularization {
                    augment: Some(Augment {
                        rows: 28,
                        cols: 28,
                        max_shift: 1,
                        flip: true,
                        fill: 0.0,
                    }),
                    ..Regularization::NONE
                },
            };
            let recipe = Recipe {
                config,
                title: "CNN conv16-conv32-48-10",
                input: CNN_INPUT,
            };
            let mut net = firmnet::boxed!(FASHION_CNN);
            net.init(Init::HeNormal, &mut Rng::new(args.seed));
            let trained = train::<FashionCnn>(&args, &out, &data, &recipe, net, |net| {
                net.first
                    .weight_matrix_mut()
                    .iter_mut()
                    .for_each(|w| *w *= 1.0 / 255.0);
                Ok(())
            })?;
            let (int8, int8_test) = int8(&*trained.deployed, &data, &trained.folded)?;
            let int8 = Some((&*int8, &int8_test));
            finish(&args, &out, &data, &recipe, &trained, int8, started)
        }
    }
}

/// Trains `net` by `recipe`, evaluates it on the test set, folds the input normalization
/// into it with `fold` and checks the folded network on the raw test images.
fn train<L>(
    args: &Args,
    out: &Path,
    data: &Data,
    recipe: &Recipe,
    net: Box<L>,
    fold: impl FnOnce(&mut L) -> Result<(), Box<dyn std::error::Error>>,
) -> Result<Trained<L>, Box<dyn std::error::Error>>
where
    L: Layer<Output = [f32; CLASSES]> + Clone + Zero,
{
    println!(
        "{} ({}, {} parameters): {} training, {} validation, {} test samples",
        args.name,
        args.model.name(),
        L::count(),
        data.train.len(),
        data.val.len(),
        data.test.len()
    );
    let adam = Adam::<L::Grad>::boxed(AdamConfig::DEFAULT);
    let mut trainer = Trainer::<L, _, BATCH>::new(net, adam, args.seed.wrapping_add(1));
    let mut history = Vec::new();
    let summary = trainer.fit(&data.train, &data.val, &recipe.config, |r| {
        println!("{r}");
        // The log is rewritten after every epoch, so an interrupted run keeps its history.
        history.push(*r);
        if let Err(e) = report::write_csv(out.join("history.csv"), &history) {
            eprintln!("warning: {e}");
        }
    })?;
    let result = evaluate(&*trainer.net, &data.test);
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
    fold(&mut deployed)?;
    let folded = evaluate(&*deployed, &data.raw_test);
    let agree = folded
        .predictions
        .iter()
        .zip(&result.predictions)
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "folded network on raw pixels: test accuracy {:.4}, same prediction for {agree} of {} images",
        folded.accuracy,
        data.raw_test.len()
    );
    Ok(Trained {
        summary,
        result,
        deployed,
        folded,
    })
}

/// An int8 network and its evaluation on the test set.
type Quantized<L> = (Box<Int8<L>>, Evaluation);

/// The int8 twin of the deployed network: calibrated on training images, the calibration
/// method chosen on validation images, the test set evaluated once.
fn int8<L>(
    deployed: &L,
    data: &Data,
    folded: &Evaluation,
) -> Result<Quantized<L>, Box<dyn std::error::Error>>
where
    L: Layer + Quantize + Clone + Zero,
    L::Layers: Build<Owned, Out: ToNet<Net: Describe + Zero>>,
    Int8<L>: QLayer<Output = [i8; CLASSES]>,
{
    // One calibration pass; the network takes raw pixels, quantized exactly as p − 128.
    let samples = data.raw_train.take(2_000).inputs::<L::Input>();
    let calibration = Calibration::record(deployed, &samples)?.with_input(QParams::PIXELS);
    let mut best = None;
    for method in [
        RangeMethod::MinMax,
        RangeMethod::Percentile(99.99),
        RangeMethod::Mse,
    ] {
        let q = calibration.quantize(deployed, method)?;
        let val = evaluate_int8(&*q, &data.raw_val);
        println!(
            "int8 calibration {method:?}: validation accuracy {:.4}",
            val.accuracy
        );
        if best.as_ref().is_none_or(|(acc, _, _)| val.accuracy > *acc) {
            best = Some((val.accuracy, method, q));
        }
    }
    let (_, method, int8) = best.ok_or("no calibration method")?;
    let test = evaluate_int8(&*int8, &data.raw_test);
    let same = test
        .predictions
        .iter()
        .zip(&folded.predictions)
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "int8 network ({method:?}): test accuracy {:.4} (float {:.4}), same prediction for {same} of {} images",
        test.accuracy,
        folded.accuracy,
        data.raw_test.len()
    );
    Ok((int8, test))
}

/// Writes the networks and the reports, and prints the RESULT line.
fn finish<L, Q>(
    args: &Args,
    out: &Path,
    data: &Data,
    recipe: &Recipe,
    trained: &Trained<L>,
    int8: Option<(&Q, &Evaluation)>,
    started: std::time::Instant,
) -> Result<(), Box<dyn std::error::Error>>
where
    L: Layer<Output = [f32; CLASSES]>,
    Q: QLayer<Output = [i8; CLASSES]> + Describe,
{
    let Trained {
        summary,
        result,
        deployed,
        ..
    } = trained;
    let model = out.join("model.fnet");
    let model_int8 = out.join("model_int8.fnet");
    let int8_accuracy = match int8 {
        Some((int8, test)) => {
            // The network and its int8 twin, for the firmware (`cargo run --release
            // --example verify`), written so that a killed run never leaves a new float
            // file beside an old int8 one: the int8 file records the float file's checksum.
            format::save_pair(&model, &**deployed, &model_int8, int8)?;
            format!("{:.4}", test.accuracy)
        }
        None => {
            // No int8 twin: an old one must not stay beside the new float network.
            match std::fs::remove_file(&model_int8) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
            format::save_file(&model, &**deployed)?;
            "none".to_string()
        }
    };
    // The same float network for PyTorch, saying in its metadata what it takes.
    let weights = out.join("model.safetensors");
    Export::new()
        .input(recipe.input)
        .to_file(&weights, &**deployed)?;
    report::write_csv(out.join("history.csv"), &summary.history)?;
    report::plot_learning_curves(
        out.join("learning_curves.png"),
        &summary.history,
        &format!("{} · {}", args.name, recipe.title),
        Some(summary.best_epoch),
    )?;
    let matrix = ConfusionMatrix::from_predictions(CLASSES, &data.test.y, &result.predictions)?;
    let classes: Vec<&str> = args.classes.iter().map(String::as_str).collect();
    matrix.plot_with_title(
        out.join("confusion_matrix.png"),
        &classes,
        &format!("{} test set", args.name),
    )?;
    report::write_text(
        out.join("confusion_matrix.txt"),
        &matrix.table(&classes).to_string(),
    )?;
    let run_summary = Summary::new(summary, Some(result))
        .with_max_epochs(recipe.config.epochs)
        .with_wall_time(started.elapsed());
    report::write_text(out.join("summary.txt"), &run_summary.to_string())?;
    println!("{}\n{run_summary}", matrix.table(&classes));
    println!(
        "wrote {} (the network, taking raw pixels 0-255){}, {} (for PyTorch), history.csv, learning_curves.png, confusion_matrix.png/.txt, summary.txt",
        model.display(),
        if int8.is_some() {
            format!(", {} (its int8 twin)", model_int8.display())
        } else {
            String::new()
        },
        weights.display()
    );
    let samples: f64 = summary
        .history
        .iter()
        .map(|r| r.samples_per_second * r.train_seconds)
        .sum();
    println!(
        "RESULT dataset={} test_accuracy={:.4} int8_test_accuracy={int8_accuracy} epochs={} train_seconds={:.1} samples_per_second={:.0} model={}",
        args.name,
        result.accuracy,
        summary.history.len(),
        summary.train_seconds,
        samples / summary.train_seconds,
        args.model.name()
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
