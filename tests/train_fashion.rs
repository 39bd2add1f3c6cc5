//! Training on real data: a short Fashion-MNIST run must reach a stated accuracy, and a
//! run resumed from a checkpoint must end with the weights of an uninterrupted one.
//!
//! Needs Debian's `dataset-fashion-mnist` (installed by `.ci/run`); without it the tests fail
//! with the message that says what to install.

use std::path::Path;

use firmnet::host::{Calibration, RangeMethod, evaluate_int8};
use firmnet::host::{
    Dataset, FASHION_MNIST_DIR, LrSchedule, Normalizer, Regularization, Samples, Schedule,
    TrainConfig, Trainer, evaluate,
};
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::prelude::*;
use firmnet::quant::QParams;

type Small = Net![
    Dense<784, 64>,
    BatchNorm<64>,
    Relu<[f32; 64]>,
    Dropout<[f32; 64]>,
    Dense<64, 10>
];

const SMALL: Small = net![
    Dense::ZERO,
    BatchNorm::DEFAULT,
    Relu::DEFAULT,
    Dropout::new(0.1),
    Dense::ZERO
];

type G = <Small as Layer>::Grad;

fn data() -> Dataset {
    Dataset::load_mnist_dir(Path::new(FASHION_MNIST_DIR), 10).unwrap_or_else(|e| panic!("{e}"))
}

fn trainer(seed: u64) -> Trainer<Small, Adam<G>, 32> {
    let mut net = firmnet::boxed!(SMALL);
    net.init(Init::HeNormal, &mut Rng::new(seed));
    Trainer::new(net, Adam::boxed(AdamConfig::DEFAULT), seed + 1)
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        schedule: LrSchedule {
            base: 2e-3,
            schedule: Schedule::Cosine { min_factor: 0.05 },
            warmup_epochs: 0,
        },
        patience: None,
        monitor: None,
        seed: 5,
        progress: false,
        regularization: Regularization::NONE,
    }
}

#[test]
fn short_fashion_mnist_run_reaches_84_percent() {
    let data = data();
    // 20 000 training samples, 2 000 for validation, 3 epochs: a few seconds in release.
    let (rest, val_split) = data.train.split_off(2_000.0 / 60_000.0, 3);
    let (_, train_split) = rest.split_off(20_000.0 / rest.len() as f64, 4);
    let norm = Normalizer::fit(&train_split);
    let train = Samples::<784>::from_split(&train_split, &norm, "train").unwrap();
    let val = Samples::<784>::from_split(&val_split, &norm, "val").unwrap();
    let test = Samples::<784>::from_split(&data.test, &norm, "test").unwrap();
    let mut t = trainer(1);
    let summary = t.fit(&train, &val, &config(3), |_| {}).unwrap();
    assert_eq!(summary.history.len(), 3);
    let first = summary.history[0];
    let last = summary.history[2];
    assert!(last.train.loss < first.train.loss, "{first:?} → {last:?}");
    let result = evaluate(&*t.net, &test);
    // A 784-64-10 network reaches about 0.85-0.86 here; published MLP baselines on the full
    // data are 0.87-0.88.
    assert!(result.accuracy >= 0.84, "test accuracy {}", result.accuracy);
    assert_eq!(result.predictions.len(), 10_000);
}

#[test]
fn resumed_run_matches_an_uninterrupted_one() {
    let data = data();
    let (rest, val_split) = data.train.split_off(500.0 / 60_000.0, 6);
    let (_, train_split) = rest.split_off(2_000.0 / rest.len() as f64, 7);
    let norm = Normalizer::fit(&train_split);
    let train = Samples::<784>::from_split(&train_split, &norm, "train").unwrap();
    let val = Samples::<784>::from_split(&val_split, &norm, "val").unwrap();

    let mut straight = trainer(8);
    straight.fit(&train, &val, &config(3), |_| {}).unwrap();

    let dir = std::env::temp_dir().join(format!("firmnet-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("checkpoint.fnet");
    let mut first = trainer(8);
    first
        .fit_until(&train, &val, &config(3), 1, |_| {})
        .unwrap();
    first.save_checkpoint(&path).unwrap();
    drop(first);

    // A fresh trainer with different weights and seed: everything comes from the file.
    let mut resumed = trainer(99);
    resumed.load_checkpoint(&path).unwrap();
    assert_eq!(resumed.epoch, 1);
    resumed.fit(&train, &val, &config(3), |_| {}).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(
        (resumed.epoch, resumed.step),
        (straight.epoch, straight.step)
    );
    assert_eq!(resumed.ctx, straight.ctx);
    for i in 0..Small::TENSORS {
        let (a, b) = (resumed.net.tensor(i), straight.net.tensor(i));
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "tensor {i} differs"
        );
    }
    // Every tensor, the running statistics included.
    assert_eq!(
        firmnet::format::save(&*resumed.net).unwrap(),
        firmnet::format::save(&*straight.net).unwrap()
    );
    assert_eq!(resumed.optimizer.t, straight.optimizer.t);
    for i in 0..G::TENSORS {
        assert_eq!(
            resumed.optimizer.m.tensor(i),
            straight.optimizer.m.tensor(i)
        );
        assert_eq!(
            resumed.optimizer.v.tensor(i),
            straight.optimizer.v.tensor(i)
        );
    }
}

/// The main MLP, trained briefly, loses at most one point of test accuracy to int8.
#[test]
fn int8_fashion_mlp_is_within_one_point_of_float() {
    let data = data();
    let (rest, val_split) = data.train.split_off(2_000.0 / 60_000.0, 9);
    let (_, train_split) = rest.split_off(20_000.0 / rest.len() as f64, 10);
    let norm = Normalizer::fit(&train_split);
    let train = Samples::<784>::from_split(&train_split, &norm, "train").unwrap();
    let val = Samples::<784>::from_split(&val_split, &norm, "val").unwrap();
    let mut net = firmnet::boxed!(FASHION_MLP);
    net.init(Init::HeNormal, &mut Rng::new(11));
    let adam = Adam::<<FashionMlp as Layer>::Grad>::boxed(AdamConfig::DEFAULT);
    let mut t = Trainer::<FashionMlp, _, 64>::new(net, adam, 12);
    t.fit(&train, &val, &config(2), |_| {}).unwrap();
    // Deployed form: normalization folded in, raw pixels in.
    let mut float = t.net.clone();
    norm.fold_into(&mut float.first).unwrap();
    let raw_train = Samples::<784>::raw_from_split(&train_split, "train").unwrap();
    let raw_test = Samples::<784>::raw_from_split(&data.test, "test").unwrap();
    let int8 = Calibration::record(&*float, &raw_train.take(1_000).x)
        .unwrap()
        .with_input(QParams::PIXELS)
        .quantize(&*float, RangeMethod::MinMax)
        .unwrap();
    let f = evaluate(&*float, &raw_test);
    let q = evaluate_int8(&*int8, &raw_test);
    assert!(f.accuracy > 0.8, "float {}", f.accuracy);
    assert!(
        (f.accuracy - q.accuracy).abs() <= 0.01,
        "float {} int8 {}",
        f.accuracy,
        q.accuracy
    );
    let same = f
        .predictions
        .iter()
        .zip(&q.predictions)
        .filter(|(a, b)| a == b)
        .count();
    assert!(same >= 9_700, "{same} of 10000 predictions agree");
}
