//! Every loss against its textbook definition (computed naively in f64) and its gradient
//! against finite differences; then the generic trainer on regression and multi-label
//! tasks, with metrics and early stopping on a chosen metric.

use firmnet::host::{
    Monitor, Samples, Tally, Task, TrainConfig, TrainError, Trainer, evaluate_with,
};
use firmnet::loss::{BinaryCrossEntropy, Huber, Loss, MeanSquaredError, SoftmaxCrossEntropy};
use firmnet::prelude::*;
use firmnet::train::{TrainBuffers, gradients};

/// How far a loss may be from its f64 definition: rounding with libm's `exp`; with
/// `fast-math`, `exp`'s relative error of up to 2.5e-3 (`firmnet::math`), which moves
/// `ln Σ eˣ` by as much and each softmax or sigmoid value by up to twice that of itself.
const TOL: f64 = if cfg!(feature = "fast-math") {
    5e-3
} else {
    1e-5
};

const N: usize = 5;
const B: usize = 3;

fn outputs(seed: u64, scale: f32) -> [[f32; N]; B] {
    let mut rng = Rng::new(seed);
    core::array::from_fn(|_| core::array::from_fn(|_| scale * rng.normal()))
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The textbook per-sample losses, in f64, written independently of the library.
fn cross_entropy(x: &[f64], y: usize) -> f64 {
    let sum: f64 = x.iter().map(|v| v.exp()).sum();
    -(x[y].exp() / sum).ln()
}
fn squared(x: &[f64], t: &[f32]) -> f64 {
    x.iter()
        .zip(t)
        .map(|(a, &b)| (a - f64::from(b)).powi(2))
        .sum::<f64>()
        / x.len() as f64
}
fn huber(x: &[f64], t: &[f32], delta: f64) -> f64 {
    x.iter()
        .zip(t)
        .map(|(a, &b)| {
            let e = (a - f64::from(b)).abs();
            if e <= delta {
                0.5 * e * e
            } else {
                delta * (e - 0.5 * delta)
            }
        })
        .sum::<f64>()
        / x.len() as f64
}
fn binary(x: &[f64], t: &[f32]) -> f64 {
    x.iter()
        .zip(t)
        .map(|(&a, &b)| {
            let (p, b) = (sigmoid(a), f64::from(b));
            -(b * p.ln() + (1.0 - b) * (1.0 - p).ln())
        })
        .sum::<f64>()
        / x.len() as f64
}

/// Checks `loss` on a batch against `reference` (the mean of per-sample textbook losses):
/// the value, and every gradient entry against a central difference of the reference.
fn check<T: Loss<N>>(
    loss: &T,
    out: &[[f32; N]; B],
    targets: &[T::Target; B],
    reference: impl Fn(&[f64], &T::Target) -> f64,
) {
    let mut grad = [[0.0; N]; B];
    let value = loss.batch(out, targets, &mut grad).unwrap();
    let mean = |o: &[[f64; N]; B]| -> f64 {
        o.iter()
            .zip(targets)
            .map(|(x, t)| reference(x, t))
            .sum::<f64>()
            / B as f64
    };
    let o64: [[f64; N]; B] = out.map(|r| r.map(f64::from));
    let want = mean(&o64);
    assert!(
        (f64::from(value) - want).abs() <= TOL * want.abs().max(1.0),
        "value {value} against {want}"
    );
    let h = 1e-4;
    for i in 0..B {
        for c in 0..N {
            let (mut up, mut down) = (o64, o64);
            up[i][c] += h;
            down[i][c] -= h;
            let numeric = (mean(&up) - mean(&down)) / (2.0 * h);
            let analytic = f64::from(grad[i][c]);
            assert!(
                (analytic - numeric).abs() <= TOL / B as f64 + 1e-4 * numeric.abs(),
                "sample {i} output {c}: analytic {analytic}, numeric {numeric}"
            );
        }
    }
}

#[test]
fn softmax_cross_entropy_matches_its_definition_and_finite_differences() {
    let labels = [0u16, 4, 2];
    check(&SoftmaxCrossEntropy, &outputs(1, 2.0), &labels, |x, &y| {
        cross_entropy(x, usize::from(y))
    });
}

#[test]
fn mean_squared_error_matches_its_definition_and_finite_differences() {
    let targets = outputs(3, 1.0);
    check(&MeanSquaredError, &outputs(2, 1.0), &targets, |x, t| {
        squared(x, t)
    });
}

#[test]
fn huber_matches_its_definition_and_finite_differences_on_both_branches() {
    // Errors of scale 2 with δ = 0.7: both the quadratic and the linear branch occur.
    let out = outputs(4, 2.0);
    let targets = outputs(5, 0.5);
    let errors: Vec<f32> = out
        .as_flattened()
        .iter()
        .zip(targets.as_flattened())
        .map(|(a, b)| (a - b).abs())
        .collect();
    assert!(errors.iter().any(|&e| e < 0.6) && errors.iter().any(|&e| e > 0.8));
    let loss = Huber::new(0.7);
    check(&loss, &out, &targets, |x, t| huber(x, t, 0.7));
}

#[test]
fn binary_cross_entropy_matches_its_definition_and_finite_differences() {
    let mut rng = Rng::new(6);
    // Hard labels and soft ones.
    let targets: [[f32; N]; B] = core::array::from_fn(|i| {
        core::array::from_fn(|_| {
            if i == 2 {
                rng.uniform(0.0, 1.0)
            } else {
                rng.below(2) as f32
            }
        })
    });
    check(&BinaryCrossEntropy, &outputs(7, 3.0), &targets, |x, t| {
        binary(x, t)
    });
}

#[test]
fn fused_losses_stay_finite_where_the_naive_forms_overflow() {
    // e^1000 overflows and σ(±200) rounds to 0 or 1 in f32, so ln(σ) would be −∞.
    let x = [[1000.0, -1000.0, 0.0, 200.0, -200.0]];
    let mut g = [[0.0; N]];
    let ce = SoftmaxCrossEntropy.batch(&x, &[1], &mut g).unwrap();
    assert_eq!(ce, 2000.0);
    assert_eq!(g[0][0], 1.0);
    assert_eq!(g[0][1], -1.0);
    // Wrong with confidence 200 on outputs 3 and 4: 200 each, averaged over five.
    let t = [[1.0, 0.0, 1.0, 0.0, 1.0]];
    let bce = BinaryCrossEntropy.batch(&x, &t, &mut g).unwrap();
    let want = (0.0 + 0.0 + std::f32::consts::LN_2 + 200.0 + 200.0) / 5.0;
    assert!(
        f64::from((bce - want).abs()) < TOL.max(1e-4),
        "{bce} against {want}"
    );
    assert!(g[0].iter().all(|v| v.is_finite()));
}

#[test]
fn refused_targets_name_the_sample_and_the_value() {
    let out = [[0.0; N]; B];
    let mut g = [[0.0; N]; B];
    let e = SoftmaxCrossEntropy
        .batch(&out, &[0, 1, 9], &mut g)
        .unwrap_err();
    assert_eq!(
        e,
        Error::LabelOutOfRange {
            sample: 2,
            label: 9,
            classes: N
        }
    );
    let mut t = [[0.5; N]; B];
    t[1][3] = 1.5;
    let e = BinaryCrossEntropy.batch(&out, &t, &mut g).unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("1.5") && message.contains("output 3") && message.contains("sample 1"),
        "{message}"
    );
    let e = Huber::new(0.0).batch(&out, &t, &mut g).unwrap_err();
    assert!(e.to_string().contains("Huber"), "{e}");
}

#[test]
fn one_generic_step_matches_the_classification_step() {
    type Mlp = Net![Dense<4, 6>, Tanh<[f32; 6]>, Dense<6, 3>];
    let mut a: Mlp = net![Dense::ZERO, Tanh::DEFAULT, Dense::ZERO];
    a.init(Init::GlorotUniform, &mut Rng::new(8));
    let mut b = a.clone();
    let x: [[f32; 4]; 4] =
        core::array::from_fn(|i| core::array::from_fn(|j| (i * 4 + j) as f32 / 8.0 - 1.0));
    let y = [0u16, 2, 1, 2];
    let (mut ba, mut bb) = (TrainBuffers::<Mlp, 4>::ZERO, TrainBuffers::<Mlp, 4>::ZERO);
    let stats =
        firmnet::train::classification_gradients(&mut a, &mut ba, &mut Context::new(0), &x, &y)
            .unwrap();
    let loss = gradients(
        &mut b,
        &mut bb,
        &mut Context::new(0),
        &SoftmaxCrossEntropy,
        &x,
        &y,
    )
    .unwrap();
    assert_eq!(stats.loss.to_bits(), loss.to_bits());
    for t in 0..Mlp::TENSORS {
        assert_eq!(ba.grad.tensor(t), bb.grad.tensor(t));
    }
}

type Regressor = Net![Dense<1, 16>, Tanh<[f32; 16]>, Dense<16, 16>, Tanh<[f32; 16]>, Dense<16, 1>];

fn regressor(seed: u64) -> Box<Regressor> {
    let mut net: Box<Regressor> = Box::new(net![
        Dense::ZERO,
        Tanh::DEFAULT,
        Dense::ZERO,
        Tanh::DEFAULT,
        Dense::ZERO
    ]);
    net.init(Init::GlorotUniform, &mut Rng::new(seed));
    net
}

/// `y = x²` on `[−1, 1]` with Gaussian noise: a task with a known noise floor.
fn parabola(n: usize, noise: f32, seed: u64) -> Samples<1, [f32; 1]> {
    let mut rng = Rng::new(seed);
    let x: Vec<[f32; 1]> = (0..n).map(|_| [rng.uniform(-1.0, 1.0)]).collect();
    let y = x
        .iter()
        .map(|&[v]| [v * v + noise * rng.normal()])
        .collect();
    Samples::new(x, y).unwrap()
}

#[test]
fn the_trainer_fits_a_regression_and_reports_its_metrics() {
    let (train, val) = (parabola(512, 0.05, 10), parabola(256, 0.05, 11));
    let adam = Box::new(Adam::new(AdamConfig::with_lr(1e-2)));
    let mut trainer = Trainer::<_, _, 32, _>::with_loss(regressor(12), adam, MeanSquaredError, 13);
    let config = TrainConfig::default().epochs(60).seed(14);
    let fit = trainer.fit(&train, &val, &config, |_| {}).unwrap();
    assert_eq!(fit.monitor, Monitor::Loss);
    let last = fit.history.last().unwrap();
    let m = evaluate_with(&*trainer.net, &val, &MeanSquaredError);
    assert_eq!(last.val, m);
    // The noise floor is σ² = 0.0025; the targets' variance about 0.09.
    assert!(m.mse.unwrap() < 0.005, "{m}");
    // R² = 1 − MSE/variance of the targets, the variance computed here independently.
    let mean = val.y.iter().map(|t| f64::from(t[0])).sum::<f64>() / val.len() as f64;
    let var = val
        .y
        .iter()
        .map(|t| (f64::from(t[0]) - mean).powi(2))
        .sum::<f64>()
        / val.len() as f64;
    let r2 = 1.0 - f64::from(m.mse.unwrap()) / var;
    assert!(
        (f64::from(m.r2.unwrap()) - r2).abs() < 1e-4,
        "{m} against r2={r2}"
    );
    assert!(r2 > 0.94, "{m}");
    assert!(m.accuracy.is_none());
    // MSE is the loss itself here (up to summation order).
    assert!((m.loss - m.mse.unwrap()).abs() < 1e-6);
    // The record's MAE is the plain mean of |error|, computed here independently.
    let mut scratch = Box::new(Scratch::<Regressor>::ZERO);
    let mut mae = 0.0f64;
    for (x, t) in val.x.iter().zip(&val.y) {
        let mut out = [0.0];
        trainer.net.forward(x, &mut out, &mut scratch);
        mae += f64::from((out[0] - t[0]).abs());
    }
    let mae = (mae / val.len() as f64) as f32;
    assert!(
        (m.mae.unwrap() - mae).abs() < 1e-6,
        "{} against {mae}",
        m.mae.unwrap()
    );
}

#[test]
fn early_stopping_watches_the_chosen_metric_and_keeps_the_best_weights() {
    // A small, noisy training set: validation MAE bottoms out, then worsens.
    let (train, val) = (parabola(64, 0.3, 20), parabola(256, 0.0, 21));
    let adam = Box::new(Adam::new(AdamConfig::with_lr(3e-2)));
    let mut trainer = Trainer::<_, _, 8, _>::with_loss(regressor(22), adam, Huber::default(), 23);
    let config = TrainConfig::default()
        .epochs(200)
        .patience(8)
        .monitor(Monitor::Mae)
        .seed(24);
    let fit = trainer.fit(&train, &val, &config, |_| {}).unwrap();
    assert_eq!(fit.monitor, Monitor::Mae);
    let maes: Vec<f32> = fit.history.iter().map(|r| r.val.mae.unwrap()).collect();
    let best = maes
        .iter()
        .enumerate()
        .fold(0, |b, (i, &v)| if v < maes[b] { i } else { b });
    assert_eq!(fit.best_epoch, best + 1, "{maes:?}");
    assert!(fit.stopped_early && fit.history.len() == best + 1 + 8);
    // The network holds the best epoch's weights.
    let now = evaluate_with(&*trainer.net, &val, &Huber::default());
    assert_eq!(now.mae, Some(maes[best]));
}

#[test]
fn the_trainer_learns_independent_labels_with_binary_cross_entropy() {
    type Tagger = Net![Dense<2, 16>, Relu<[f32; 16]>, Dense<16, 3>];
    // Three labels of a point in the square: x > 0, y > 0, and x·y > 0.
    let data = |n: usize, seed: u64| {
        let mut rng = Rng::new(seed);
        let x: Vec<[f32; 2]> = (0..n)
            .map(|_| [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)])
            .collect();
        let on = |b: bool| if b { 1.0 } else { 0.0 };
        let y = x
            .iter()
            .map(|&[a, b]| [on(a > 0.0), on(b > 0.0), on(a * b > 0.0)])
            .collect();
        Samples::new(x, y).unwrap()
    };
    let (train, val) = (data(2048, 30), data(512, 31));
    let mut net: Box<Tagger> = Box::new(net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO]);
    net.init(Init::HeNormal, &mut Rng::new(32));
    let adam = Box::new(Adam::new(AdamConfig::with_lr(1e-2)));
    let mut trainer = Trainer::<_, _, 32, _>::with_loss(net, adam, BinaryCrossEntropy, 33);
    let fit = trainer
        .fit(&train, &val, &TrainConfig::default().epochs(30), |_| {})
        .unwrap();
    let m = evaluate_with(&*trainer.net, &val, &BinaryCrossEntropy);
    assert_eq!(fit.history.last().unwrap().val, m);
    assert!(m.accuracy.unwrap() > 0.95, "{m}");
    assert!(m.mse.is_none() && m.r2.is_none());
    // Label accuracy counted independently.
    let mut scratch = Box::new(Scratch::<Tagger>::ZERO);
    let mut right = 0;
    for (x, t) in val.x.iter().zip(&val.y) {
        let mut out = [0.0; 3];
        trainer.net.forward(x, &mut out, &mut scratch);
        right += out
            .iter()
            .zip(t)
            .filter(|(o, t)| (**o > 0.0) == (**t == 1.0))
            .count();
    }
    assert_eq!(
        m.accuracy.unwrap(),
        (right as f64 / (3 * val.len()) as f64) as f32
    );
}

#[test]
fn a_training_set_smaller_than_a_batch_says_so() {
    let (train, val) = (parabola(20, 0.0, 40), parabola(20, 0.0, 41));
    let adam = Box::new(Adam::new(AdamConfig::DEFAULT));
    let mut trainer = Trainer::<_, _, 32, _>::with_loss(regressor(42), adam, MeanSquaredError, 43);
    let e = trainer
        .fit(&train, &val, &TrainConfig::default(), |_| {})
        .unwrap_err();
    assert_eq!(
        e,
        TrainError::TooFew {
            samples: 20,
            batch: 32
        }
    );
    let message = e.to_string();
    assert!(
        message.contains("20 samples") && message.contains("batch of 32"),
        "{message}"
    );
    // A metric the task does not measure is refused before training.
    let config = TrainConfig::default()
        .patience(3)
        .monitor(Monitor::Accuracy);
    let train = parabola(64, 0.0, 44);
    let e = trainer.fit(&train, &val, &config, |_| {}).unwrap_err();
    assert!(e.to_string().contains("accuracy"), "{e}");
    assert_eq!(trainer.epoch, 0);
}

#[test]
fn tally_of_a_classifier_counts_accuracy_not_regression() {
    let mut tally = Tally::<3>::new();
    for (out, label) in [
        ([0.1, 0.9, 0.0], 1u16),
        ([2.0, 0.0, 0.0], 2),
        ([0.0, 0.0, 1.0], 2),
    ] {
        Task::<3>::measure(&SoftmaxCrossEntropy, &out, &label, &mut tally).unwrap();
    }
    let m = tally.metrics();
    assert_eq!(m.accuracy, Some(2.0 / 3.0));
    assert!(m.mse.is_none() && m.mae.is_none() && m.r2.is_none());
    let want = [
        cross_entropy(&[0.1, 0.9, 0.0], 1),
        cross_entropy(&[2.0, 0.0, 0.0], 2),
        cross_entropy(&[0.0, 0.0, 1.0], 2),
    ]
    .iter()
    .sum::<f64>()
        / 3.0;
    assert!((f64::from(m.loss) - want).abs() < TOL.max(1e-6));
}

#[test]
fn a_regression_from_a_csv_table_with_its_normalization_folded_into_the_first_layer() {
    use firmnet::host::{Normalizer, Table};
    // Two features on scales a thousand and a thousandth apart, one target:
    // y = tanh(a/1000 − 2000·b), a in [0, 2000), b in [0, 0.001).
    let mut rng = Rng::new(50);
    let mut csv = String::from("a,b,y\n");
    for _ in 0..600 {
        let (a, b) = (rng.uniform(0.0, 2000.0), rng.uniform(0.0, 0.001));
        csv += &format!("{a},{b},{}\n", (a / 1000.0 - 2000.0 * b).tanh());
    }
    let table = Table::parse_csv(&csv, "features.csv").unwrap();
    let (train, val) = table.split_off(0.25, 51);
    let (mut train, mut val) = (
        train.regression::<2, 1, _>(&["y"]).unwrap(),
        val.regression::<2, 1, _>(&["y"]).unwrap(),
    );
    assert_eq!((train.len(), val.len()), (450, 150));
    let raw_val = val.clone();
    let norm = Normalizer::fit_features(&train.x).unwrap();
    norm.apply_rows(&mut train.x).unwrap();
    norm.apply_rows(&mut val.x).unwrap();
    type Small = Net![Dense<2, 8>, Tanh<[f32; 8]>, Dense<8, 1>];
    let mut net: Box<Small> = Box::new(net![Dense::ZERO, Tanh::DEFAULT, Dense::ZERO]);
    net.init(Init::GlorotUniform, &mut Rng::new(52));
    let adam = Box::new(Adam::new(AdamConfig::with_lr(2e-2)));
    let mut trainer = Trainer::<_, _, 16, _>::with_loss(net, adam, MeanSquaredError, 53);
    trainer
        .fit(&train, &val, &TrainConfig::default().epochs(40), |_| {})
        .unwrap();
    let normalized = evaluate_with(&*trainer.net, &val, &MeanSquaredError);
    assert!(normalized.r2.unwrap() > 0.95, "{normalized}");
    // Folded: the network takes the raw features and computes the same to rounding.
    let mut folded = trainer.net.clone();
    norm.fold_into(&mut folded.first).unwrap();
    let raw = evaluate_with(&*folded, &raw_val, &MeanSquaredError);
    assert!(
        (raw.mse.unwrap() - normalized.mse.unwrap()).abs() <= 1e-4 * normalized.mse.unwrap() + 1e-7,
        "raw {raw} against normalized {normalized}"
    );
    // A folded layer of the wrong width is refused, not mangled.
    let mut wrong = Dense::<3, 4>::ZERO;
    assert!(norm.fold_into(&mut wrong).is_err());
}
