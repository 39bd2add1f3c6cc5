//! Mechanics of the regularization tricks, on tiny networks and synthetic data: max-norm,
//! L1 with exact zeros, regularizing layers at inference, batch normalization's
//! inference-mode gradient, the activity penalty, FGSM and adversarial training,
//! ensembles, frozen layers, weight noise, augmentation and the hyperparameter search.

mod common;

use common::{fill, rel_err};
use firmnet::host::{
    Adversarial, Augment, Evaluation, LrSchedule, Regularization, Samples, TrainConfig, TrainError,
    Trainer, evaluate, evaluate_ensemble, evaluate_fgsm, fgsm_examples, grid_search,
};
use firmnet::layers::BatchNormGrad;
use firmnet::optim::{max_norm, perturb_weights};
use firmnet::prelude::*;
use firmnet::train::{
    Fgsm, TrainBuffers, adversarial_gradients, adversarial_step, classification_gradients, fgsm,
};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Inference on one sample.
fn infer<L: Layer>(net: &L, x: &L::Input) -> L::Output {
    let mut scratch: Box<Scratch<L>> = firmnet::boxed::zero();
    let mut y = L::Output::ZERO;
    net.forward(x, &mut y, &mut scratch);
    y
}

/// How far a mean softmax cross-entropy computed by firmnet may be from another form of
/// it: rounding with libm's `exp`; with `fast-math`, `exp`'s relative error of up to
/// 2.5e-3 (`firmnet::math`) moves `Σ eʸ`, or one `eʸ`, by that factor at most, so
/// `ln Σ eʸ` or `ln eʸ` by at most −ln(1 − 2.5e-3) < 2.51e-3, and the mean over samples
/// too.
const LOSS_TOL: f64 = if cfg!(feature = "fast-math") {
    2.51e-3 + 1e-5
} else {
    1e-5
};

/// Mean softmax cross-entropy of the deployed network (`forward`), in `f64`.
fn inference_loss<L, const C: usize>(net: &L, x: &[L::Input], labels: &[u16]) -> f64
where
    L: Layer<Output = [f32; C]>,
{
    let mut total = 0.0;
    for (xi, &y) in x.iter().zip(labels) {
        let out = infer(net, xi);
        let max = out
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let sum: f64 = out.iter().map(|&v| (f64::from(v) - max).exp()).sum();
        total += sum.ln() - (f64::from(out[usize::from(y)]) - max);
    }
    total / x.len() as f64
}

/// `Σ_b r_b · forward(x_b)` in `f64`: a scalar function of the deployed network.
fn projected<L, const C: usize>(net: &L, x: &[L::Input], r: &[[f32; C]]) -> f64
where
    L: Layer<Output = [f32; C]>,
{
    x.iter()
        .zip(r)
        .map(|(xi, ri)| {
            infer(net, xi)
                .iter()
                .zip(ri)
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum::<f64>()
        })
        .sum()
}

/// Every tensor of `p` as bit patterns, for exact comparisons (`-0.0 ≠ 0.0`, NaN = NaN).
fn bits<P: Params>(p: &P) -> Vec<Vec<u32>> {
    (0..P::TENSORS)
        .map(|i| p.tensor(i).iter().map(|v| v.to_bits()).collect())
        .collect()
}

fn slice_bits(s: &[f32]) -> Vec<u32> {
    s.iter().map(|v| v.to_bits()).collect()
}

/// L2 norms of every row of every weight matrix of `p` that is not frozen.
fn row_norms<P: Params>(p: &P) -> Vec<f64> {
    let mut norms = Vec::new();
    for i in 0..P::TENSORS {
        let info = P::info(i);
        if info.kind != ParamKind::Weight || P::frozen(i) {
            continue;
        }
        for row in p.tensor(i).chunks_exact(info.cols) {
            norms.push(
                row.iter()
                    .map(|&w| f64::from(w) * f64::from(w))
                    .sum::<f64>()
                    .sqrt(),
            );
        }
    }
    norms
}

/// A trainer configuration with a constant learning rate.
fn config(epochs: usize, lr: f32, seed: u64, regularization: Regularization) -> TrainConfig {
    TrainConfig {
        epochs,
        schedule: LrSchedule::constant(lr),
        patience: None,
        monitor: None,
        seed,
        progress: false,
        regularization,
    }
}

/// Two Gaussian blobs in 4 dimensions, labels alternating 0, 1.
fn blobs(n: usize, seed: u64) -> Samples<4> {
    let mut rng = Rng::new(seed);
    let direction = [1.0f32, 0.5, -0.5, 0.25];
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let label = (i % 2) as u16;
        let s = if label == 1 { 1.0 } else { -1.0 };
        x.push(core::array::from_fn(|j| {
            s * direction[j] + 0.5 * rng.normal()
        }));
        y.push(label);
    }
    Samples { x, y }
}

/// A batch of `B` samples of `N` values, normal with standard deviation `scale`.
fn batch<const N: usize, const B: usize>(seed: u64, scale: f32) -> [[f32; N]; B] {
    let mut x = [[0.0; N]; B];
    fill(x.as_flattened_mut(), seed, scale);
    x
}

/// Batch normalization with learned parameters and running statistics away from the
/// identity, so that its inference function is not trivial.
fn busy_batch_norm<const N: usize>(seed: u64) -> BatchNorm<N> {
    let mut bn = BatchNorm::<N>::DEFAULT;
    fill(&mut bn.gamma, seed, 1.0);
    fill(&mut bn.beta, seed + 1, 0.5);
    fill(&mut bn.running_mean, seed + 2, 0.5);
    fill(&mut bn.running_var, seed + 3, 1.0);
    bn.running_var.iter_mut().for_each(|v| *v = 0.3 + v.abs());
    bn
}

type Small = Net![Dense<4, 8>, Tanh<[f32; 8]>, Dense<8, 2>];
type SmallSgd = Sgd<<Small as Layer>::Grad>;

fn small(seed: u64) -> Small {
    let mut net: Small = net![Dense::ZERO, Tanh::DEFAULT, Dense::ZERO];
    net.init(Init::GlorotUniform, &mut Rng::new(seed));
    net
}

/// A small network with batch normalization, attacked and ensembled below.
type Attacked = Net![Dense<5, 6>, BatchNorm<6>, Tanh<[f32; 6]>, Dense<6, 3>];

fn attacked() -> Attacked {
    let mut net: Attacked = net![Dense::ZERO, busy_batch_norm(70), Tanh::DEFAULT, Dense::ZERO];
    net.init(Init::GlorotNormal, &mut Rng::new(71));
    fill(&mut net.first.bias, 72, 0.2);
    fill(&mut net.rest.rest.rest.bias, 73, 0.2);
    net
}

fn attacked_data(n: usize, seed: u64) -> Samples<5> {
    let mut x = vec![[0.0f32; 5]; n];
    fill(x.as_flattened_mut(), seed, 1.0);
    let y = (0..n).map(|i| (i % 3) as u16).collect();
    Samples { x, y }
}

// ---------------------------------------------------------------------------------------
// 1. Max-norm
// ---------------------------------------------------------------------------------------

type Constrained = Net![
    Dense<5, 4>,
    BatchNorm<4>,
    Relu<[f32; 4]>,
    Frozen<Dense<4, 4>>,
    Dense<4, 3>
];

#[test]
fn max_norm_rescales_only_the_weight_rows_outside_the_ball() {
    let c = 1.0f32;
    let mut net: Constrained = net![
        Dense::ZERO,
        busy_batch_norm(1),
        Relu::DEFAULT,
        Frozen::new(Dense::ZERO),
        Dense::ZERO
    ];
    // Tensors: 0 W₁, 1 b₁, 2 γ, 3 β, 4 W₂ (frozen), 5 b₂ (frozen), 6 W₃, 7 b₃.
    for i in 0..Constrained::TENSORS {
        fill(net.tensor_mut(i), 10 + i as u64, 1.5);
    }
    // Rows inside the ball, and one exactly on its surface: all must stay bit for bit.
    net.first.weight[1] = [0.1, -0.2, 0.3, 0.05, 0.4];
    net.first.weight[3] = [0.0, -1.0, 0.0, 0.0, 0.0];
    net.rest.rest.rest.rest.weight[2] = [0.5, 0.5, 0.5, -0.49];
    let before = net.clone();

    let mut expected_rescaled = 0;
    for i in [0usize, 6] {
        let cols = Constrained::info(i).cols;
        for row in before.tensor(i).chunks_exact(cols) {
            let n = row
                .iter()
                .map(|&w| f64::from(w).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!((n - 1.0).abs() > 1e-4 || n == 1.0, "row too close to c");
            expected_rescaled += usize::from(n > f64::from(c));
        }
    }
    assert!(
        expected_rescaled >= 4,
        "the test needs rows outside the ball"
    );

    let rescaled = max_norm(&mut net, c);
    assert_eq!(rescaled, expected_rescaled);

    for i in [0usize, 6] {
        let cols = Constrained::info(i).cols;
        let old_rows = before.tensor(i).chunks_exact(cols);
        let new_rows = net.tensor(i).chunks_exact(cols);
        for (old, new) in old_rows.zip(new_rows) {
            let n_old = old
                .iter()
                .map(|&w| f64::from(w).powi(2))
                .sum::<f64>()
                .sqrt();
            let n_new = new
                .iter()
                .map(|&w| f64::from(w).powi(2))
                .sum::<f64>()
                .sqrt();
            if n_old > f64::from(c) {
                // Onto the sphere, along the same direction.
                assert!((n_new - f64::from(c)).abs() < 1e-6, "norm {n_new}");
                for (&o, &w) in old.iter().zip(new) {
                    let expect = f64::from(o) * f64::from(c) / n_old;
                    assert!((f64::from(w) - expect).abs() < 1e-6, "{w} vs {expect}");
                }
            } else {
                assert_eq!(slice_bits(old), slice_bits(new), "a row inside moved");
            }
        }
    }
    // Biases, batch normalization (learned and running) and frozen weights: untouched.
    let (b, a) = (bits(&before), bits(&net));
    for i in [1usize, 2, 3, 4, 5, 7] {
        assert_eq!(b[i], a[i], "tensor {i} ({:?})", Constrained::info(i));
    }
    assert!(
        row_norms(&before.rest.rest.rest.first.layer)
            .iter()
            .any(|&n| n > 1.0),
        "the frozen layer has rows outside the ball, and keeps them"
    );
    assert_eq!(statistics(&before), statistics(&net));
    // A second pass has nothing left to do.
    assert_eq!(max_norm(&mut net, c), 0);
}

#[test]
fn trainer_keeps_every_weight_row_inside_max_norm() {
    let (train, val) = (blobs(64, 1), blobs(16, 2));
    let c = 0.5f32;
    let run = |max: Option<f32>| -> (Small, f32) {
        let mut trainer = Trainer::<Small, SmallSgd, 8>::new(
            Box::new(small(3)),
            Sgd::boxed(SgdConfig::new(0.5)),
            4,
        );
        let reg = Regularization {
            max_norm: max,
            ..Regularization::NONE
        };
        let summary = trainer
            .fit(&train, &val, &config(3, 0.5, 5, reg), |_| {})
            .unwrap();
        let acc = summary.history.last().unwrap().val.accuracy.unwrap();
        (*trainer.net, acc)
    };
    let (free, _) = run(None);
    let (constrained, accuracy) = run(Some(c));
    // Without the constraint rows grow past c (so the constraint had work to do) ...
    assert!(
        row_norms(&free).iter().any(|&n| n > 1.5 * f64::from(c)),
        "{:?}",
        row_norms(&free)
    );
    // ... with it, none is outside after the last step.
    for n in row_norms(&constrained) {
        assert!(n <= f64::from(c) * (1.0 + 1e-5), "row norm {n} > {c}");
    }
    // And the constrained network still separates the blobs.
    assert!(accuracy >= 0.8, "validation accuracy {accuracy}");
}

// ---------------------------------------------------------------------------------------
// 2. L1 with exact zeros
// ---------------------------------------------------------------------------------------

#[test]
fn l1_subgradient_with_sgd_by_hand() {
    // α = 0.5, λ = 0.25: every value below is exact in binary.
    // (θ, g, θ')
    let cases: [(f32, f32, f32); 10] = [
        (1.0, 0.5, 0.625),   // θ > 0: g + λ = 0.75
        (-1.0, 0.5, -1.125), // θ < 0: g − λ = 0.25
        (0.0, 0.125, 0.0),   // θ = 0, |g| < λ: stays 0
        (0.0, -0.25, 0.0),   // θ = 0, |g| = λ: stays 0
        (0.0, 1.0, -0.375),  // θ = 0, g > λ: g − λ = 0.75
        (0.0, -1.0, 0.375),  // θ = 0, g < −λ: g + λ = −0.75
        (0.125, 0.5, 0.0),   // would cross to −0.25: lands on 0
        (-0.125, -0.5, 0.0), // would cross to 0.25: lands on 0
        (0.375, 0.5, 0.0),   // reaches 0 exactly
        (0.125, -0.5, 0.25), // g + λ = −0.25: moves away from 0
    ];
    let mut layer = Dense::<5, 2>::ZERO;
    let mut grad = Dense::<5, 2>::ZERO;
    for (k, &(theta, g, _)) in cases.iter().enumerate() {
        layer.weight[k / 5][k % 5] = theta;
        grad.weight[k / 5][k % 5] = g;
    }
    // Biases get no L1: with it, the first would end at 0.625 and the second stay at 0.
    layer.bias = [1.0, 0.0];
    grad.bias = [0.5, 0.125];
    let mut sgd = Sgd::<Dense<5, 2>>::new(SgdConfig {
        l1: 0.25,
        ..SgdConfig::new(0.5)
    });
    sgd.step(&mut layer, &mut grad).unwrap();
    for (k, &(theta, g, expect)) in cases.iter().enumerate() {
        let got = layer.weight[k / 5][k % 5];
        assert_eq!(got, expect, "θ = {theta}, g = {g}");
    }
    assert_eq!(layer.bias, [0.75, -0.0625]);
    assert_eq!(grad, Dense::ZERO, "the step consumes the gradient");

    // Values that are not exact in binary: α = 0.1, λ = 0.01.
    let mut layer = Dense::<2, 1>::ZERO;
    layer.weight = [[0.3, -0.3]];
    let mut grad = Dense::<2, 1>::ZERO;
    grad.weight = [[0.2, 0.2]];
    let mut sgd = Sgd::<Dense<2, 1>>::new(SgdConfig {
        l1: 0.01,
        ..SgdConfig::new(0.1)
    });
    sgd.step(&mut layer, &mut grad).unwrap();
    assert!((f64::from(layer.weight[0][0]) - 0.279).abs() < 1e-7);
    assert!((f64::from(layer.weight[0][1]) + 0.319).abs() < 1e-7);
}

#[test]
fn l1_zeros_survive_momentum() {
    // Momentum 0.9, α = 0.5, λ = 0.25. Step 1: θ = 0.125, g = 0.5 → v = 0.75, would land
    // on −0.25: lands on 0. Step 2: g = 0.125 ≤ λ at θ = 0 → subgradient 0, so the
    // velocity 0.675 alone would move θ to −0.3375; θ stays at 0.
    let mut layer = Dense::<1, 1>::ZERO;
    layer.weight = [[0.125]];
    let mut sgd = Sgd::<Dense<1, 1>>::new(SgdConfig {
        momentum: 0.9,
        l1: 0.25,
        ..SgdConfig::new(0.5)
    });
    let mut grad = Dense::<1, 1>::ZERO;
    grad.weight = [[0.5]];
    sgd.step(&mut layer, &mut grad).unwrap();
    assert_eq!(layer.weight, [[0.0]]);
    assert_eq!(sgd.velocity.weight, [[0.75]]);
    for _ in 0..5 {
        grad.weight = [[0.125]];
        sgd.step(&mut layer, &mut grad).unwrap();
        assert_eq!(layer.weight[0][0].to_bits(), 0.0f32.to_bits());
    }
}

#[test]
fn l1_with_adam_makes_exact_zeros_and_keeps_them() {
    type L = Dense<16, 2>;
    let mut start = L::ZERO;
    fill(start.weight.as_flattened_mut(), 40, 0.5);
    start.bias = [0.3, -0.3];
    assert!(start.weight.as_flattened().iter().all(|&w| w != 0.0));
    let target: [f32; 16] = core::array::from_fn(|j| if j % 2 == 0 { 2.0 } else { -2.0 });
    let lambda = 0.1f32;

    // Row 0: no data gradient, only L1 pressure. Row 1: pulled towards ±2 by the
    // gradient θ − t, so L1 moves its optimum to ±1.9 but not to 0.
    let mut net = start.clone();
    let mut adam = Adam::<L>::new(AdamConfig {
        l1: lambda,
        ..AdamConfig::with_lr(0.01)
    });
    let mut zero_since = [None::<usize>; 16];
    for step in 0..2000 {
        let mut grad = L::ZERO;
        for ((g, &w), &t) in grad.weight[1].iter_mut().zip(&net.weight[1]).zip(&target) {
            *g = w - t;
        }
        adam.step(&mut net, &mut grad).unwrap();
        for (j, since) in zero_since.iter_mut().enumerate() {
            let w = net.weight[0][j];
            match since {
                Some(s) => assert_eq!(w, 0.0, "weight {j} left 0 (reached at step {s})"),
                None if w == 0.0 => *since = Some(step),
                None => {}
            }
        }
    }
    assert!(
        zero_since.iter().all(Option::is_some),
        "not all at zero: {:?}",
        net.weight[0]
    );
    for (j, (&w, &t)) in net.weight[1].iter().zip(&target).enumerate() {
        let expect = t - lambda * t.signum();
        assert!((w - expect).abs() < 0.05, "weight {j}: {w} vs {expect}");
    }
    // No L1 on biases: a zero gradient leaves them bit for bit.
    assert_eq!(slice_bits(&net.bias), slice_bits(&start.bias));

    // The same pressure as a plain subgradient λ·sign(θ) with l1 = 0: the weights hover
    // around 0 and (almost surely) never hit it exactly.
    let mut net = start.clone();
    let mut adam = Adam::<L>::new(AdamConfig::with_lr(0.01));
    for _ in 0..600 {
        let mut grad = L::ZERO;
        for j in 0..16 {
            let w = net.weight[0][j];
            grad.weight[0][j] = if w > 0.0 {
                lambda
            } else if w < 0.0 {
                -lambda
            } else {
                0.0
            };
        }
        adam.step(&mut net, &mut grad).unwrap();
    }
    for (j, &w) in net.weight[0].iter().enumerate() {
        assert!(w != 0.0 && w.abs() < 0.2, "weight {j}: {w}");
    }
}

#[test]
fn l1_skips_biases_and_batch_norm() {
    // A zero gradient with L1 on: nothing that is not a weight matrix moves.
    let mut bn = busy_batch_norm::<3>(5);
    let before = bn.clone();
    let mut sgd = Sgd::<BatchNormGrad<3>>::new(SgdConfig {
        l1: 0.5,
        ..SgdConfig::new(0.5)
    });
    let mut zero = BatchNormGrad::<3>::ZERO;
    sgd.step(&mut bn, &mut zero).unwrap();
    assert_eq!(bits(&bn), bits(&before));
    let mut adam = Adam::<BatchNormGrad<3>>::new(AdamConfig {
        l1: 0.5,
        ..AdamConfig::with_lr(0.5)
    });
    adam.step(&mut bn, &mut zero).unwrap();
    assert_eq!(bits(&bn), bits(&before));
    // The same settings do move a weight matrix.
    let mut d = Dense::<2, 2>::ZERO;
    d.weight = [[1.0, -1.0], [0.5, 2.0]];
    d.bias = [1.0, -1.0];
    let mut adam = Adam::<Dense<2, 2>>::new(AdamConfig {
        l1: 0.5,
        ..AdamConfig::with_lr(0.5)
    });
    let mut zero = Dense::<2, 2>::ZERO;
    adam.step(&mut d, &mut zero).unwrap();
    assert_eq!(d.bias, [1.0, -1.0]);
    // First Adam step: θ − α·sign(g) with g = λ·sign(θ).
    let expect = [[0.5, -0.5], [0.0, 1.5]];
    for (row, erow) in d.weight.iter().zip(expect) {
        for (&w, e) in row.iter().zip(erow) {
            assert!((w - e).abs() < 1e-6, "{w} vs {e}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 3. Noise, dropout and the activity penalty are absent at inference
// ---------------------------------------------------------------------------------------

type Regularized = Net![
    Dense<6, 5>,
    GaussianNoise<[f32; 5]>,
    Dropout<[f32; 5]>,
    Tanh<[f32; 5]>,
    ActivityL1<[f32; 5]>,
    BatchNorm<5>,
    Dense<5, 3>
];
type Plain = Net![Dense<6, 5>, Tanh<[f32; 5]>, BatchNorm<5>, Dense<5, 3>];

fn regularized_pair() -> (Regularized, Plain) {
    let mut plain: Plain = net![Dense::ZERO, Tanh::DEFAULT, busy_batch_norm(20), Dense::ZERO];
    plain.init(Init::GlorotNormal, &mut Rng::new(21));
    fill(&mut plain.first.bias, 22, 0.3);
    fill(&mut plain.rest.rest.rest.bias, 23, 0.3);
    let reg: Regularized = net![
        plain.first.clone(),
        GaussianNoise::new(0.5),
        Dropout::new(0.5),
        Tanh::DEFAULT,
        ActivityL1::new(0.3),
        plain.rest.rest.first.clone(),
        plain.rest.rest.rest.clone()
    ];
    (reg, plain)
}

#[test]
fn regularizing_layers_are_the_identity_at_inference() {
    let (mut reg, mut plain) = regularized_pair();
    assert_eq!(Regularized::TENSORS, Plain::TENSORS);
    const B: usize = 4;
    let x: [[f32; 6]; B] = batch(24, 1.0);

    // forward: bit for bit the network without them.
    for xi in &x {
        assert_eq!(
            infer(&reg, xi).map(f32::to_bits),
            infer(&plain, xi).map(f32::to_bits)
        );
    }

    // forward_train under Context::inference: the same function, and nothing updated.
    let (reg0, plain0) = (reg.clone(), plain.clone());
    let mut rc: Box<<Regularized as Layer>::Cache<B>> = firmnet::boxed::zero();
    let mut pc: Box<<Plain as Layer>::Cache<B>> = firmnet::boxed::zero();
    let (mut ry, mut py) = ([[0.0f32; 3]; B], [[0.0f32; 3]; B]);
    let mut ctx = Context::inference();
    reg.forward_train(&x, &mut ry, &mut rc, &mut ctx);
    assert_eq!(
        ctx,
        Context::inference(),
        "inference draws no random numbers"
    );
    plain.forward_train(&x, &mut py, &mut pc, &mut Context::inference());
    assert_eq!(ry.as_flattened(), py.as_flattened());
    for (xi, yi) in x.iter().zip(&ry) {
        // Batched and single-sample kernels may round differently.
        for (&a, &b) in yi.iter().zip(&infer(&plain, xi)) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
    assert_eq!(reg, reg0, "running statistics changed at inference");
    assert_eq!(plain, plain0);

    // And its backward pass is that of the plain network: no dropout mask, no penalty.
    let r: [[f32; 3]; B] = batch(25, 1.0);
    let mut rg: Box<<Regularized as Layer>::Grad> = firmnet::boxed::zero();
    let mut pg: Box<<Plain as Layer>::Grad> = firmnet::boxed::zero();
    let (mut rdx, mut pdx) = ([[0.0f32; 6]; B], [[0.0f32; 6]; B]);
    reg.backward(&x, &ry, &r, Some(&mut rdx), &mut rc, &mut rg);
    plain.backward(&x, &py, &r, Some(&mut pdx), &mut pc, &mut pg);
    assert_eq!(rdx.as_flattened(), pdx.as_flattened());
    assert_eq!(bits(&*rg), bits(&*pg));

    // In training mode they are there: the outputs differ, and batch normalization moves
    // its running statistics.
    let mut ty = [[0.0f32; 3]; B];
    reg.forward_train(&x, &mut ty, &mut rc, &mut Context::new(26));
    assert_ne!(ty.as_flattened(), ry.as_flattened());
    assert_ne!(reg, reg0);
}

#[test]
fn each_regularizing_layer_acts_in_training_only() {
    const B: usize = 2;
    let x: [[f32; 8]; B] = batch(30, 1.0);
    let dy: [[f32; 8]; B] = batch(31, 1.0);

    let mut noise = GaussianNoise::<[f32; 8]>::new(0.5);
    let mut y = [[0.0f32; 8]; B];
    noise.forward_train(&x, &mut y, &mut (), &mut Context::inference());
    assert_eq!(y, x);
    noise.forward_train(&x, &mut y, &mut (), &mut Context::new(1));
    assert!(
        y.as_flattened()
            .iter()
            .zip(x.as_flattened())
            .all(|(a, b)| a != b)
    );

    let mut dropout = Dropout::<[f32; 8]>::new(0.5);
    let mut cache = None;
    let mut dx = [[0.0f32; 8]; B];
    dropout.forward_train(&x, &mut y, &mut cache, &mut Context::inference());
    assert_eq!(y, x);
    dropout.backward(&x, &y, &dy, Some(&mut dx), &mut cache, &mut ());
    assert_eq!(dx, dy);
    dropout.forward_train(&x, &mut y, &mut cache, &mut Context::new(2));
    assert!(y.as_flattened().contains(&0.0));
    dropout.backward(&x, &y, &dy, Some(&mut dx), &mut cache, &mut ());
    for (k, (&yk, &dk)) in y.as_flattened().iter().zip(dx.as_flattened()).enumerate() {
        // Dropped in the forward pass ⇔ no gradient back.
        assert_eq!(yk == 0.0, dk == 0.0, "element {k}");
    }

    let mut l1 = ActivityL1::<[f32; 8]>::new(0.5);
    let mut on = true;
    l1.forward_train(&x, &mut y, &mut on, &mut Context::inference());
    assert_eq!(y, x);
    l1.backward(&x, &y, &dy, Some(&mut dx), &mut on, &mut ());
    assert_eq!(dx, dy, "a penalty at inference");
    l1.forward_train(&x, &mut y, &mut on, &mut Context::new(3));
    assert_eq!(y, x, "the activity penalty never changes the forward pass");
    l1.backward(&x, &y, &dy, Some(&mut dx), &mut on, &mut ());
    assert_ne!(dx, dy, "no penalty in training");
}

// ---------------------------------------------------------------------------------------
// 4. Batch normalization's inference-mode backward
// ---------------------------------------------------------------------------------------

type WithBn = Net![Dense<4, 6>, BatchNorm<6>, Tanh<[f32; 6]>, Dense<6, 3>];

#[test]
fn batch_norm_inference_backward_is_the_gradient_of_forward() {
    let mut net: WithBn = net![Dense::ZERO, busy_batch_norm(40), Tanh::DEFAULT, Dense::ZERO];
    net.init(Init::GlorotNormal, &mut Rng::new(41));
    fill(&mut net.first.bias, 42, 0.2);
    const B: usize = 3;
    let x: [[f32; 4]; B] = batch(43, 1.0);
    let r: [[f32; 3]; B] = batch(44, 1.0);
    let before = net.clone();

    let mut cache: Box<<WithBn as Layer>::Cache<B>> = firmnet::boxed::zero();
    let mut grad: Box<<WithBn as Layer>::Grad> = firmnet::boxed::zero();
    let mut y = [[0.0f32; 3]; B];
    let mut dx = [[0.0f32; 4]; B];
    net.forward_train(&x, &mut y, &mut cache, &mut Context::inference());
    assert_eq!(
        net, before,
        "running statistics changed under Context::inference"
    );
    net.backward(&x, &y, &r, Some(&mut dx), &mut cache, &mut grad);

    // Central differences of J(x, θ) = Σ_b r_b · forward(x_b).
    let h = 1e-2f32;
    for b in 0..B {
        for i in 0..4 {
            let mut xp = x;
            xp[b][i] = x[b][i] + h;
            let jp = projected(&net, &xp, &r);
            xp[b][i] = x[b][i] - h;
            let jm = projected(&net, &xp, &r);
            let numeric = (jp - jm) / (2.0 * f64::from(h));
            let analytic = f64::from(dx[b][i]);
            let e = rel_err(analytic, numeric, 1e-2);
            assert!(
                e < 5e-3,
                "dx[{b}][{i}]: analytic {analytic}, numeric {numeric}"
            );
        }
    }
    for t in 0..WithBn::TENSORS {
        for k in 0..net.tensor(t).len() {
            let mut p = net.clone();
            let orig = p.tensor(t)[k];
            p.tensor_mut(t)[k] = orig + h;
            let jp = projected(&p, &x, &r);
            p.tensor_mut(t)[k] = orig - h;
            let jm = projected(&p, &x, &r);
            let numeric = (jp - jm) / (2.0 * f64::from(h));
            let analytic = f64::from(grad.tensor(t)[k]);
            let e = rel_err(analytic, numeric, 1e-2);
            assert!(
                e < 5e-3,
                "{:?}[{k}]: analytic {analytic}, numeric {numeric}",
                WithBn::info(t)
            );
        }
    }

    // The batch-statistics backward is a different function's gradient.
    let mut train_dx = [[0.0f32; 4]; B];
    let mut train_grad: Box<<WithBn as Layer>::Grad> = firmnet::boxed::zero();
    net.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
    net.backward(&x, &y, &r, Some(&mut train_dx), &mut cache, &mut train_grad);
    let diff = train_dx
        .as_flattened()
        .iter()
        .zip(dx.as_flattened())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        diff > 0.05,
        "training and inference input gradients agree ({diff})"
    );
}

#[test]
fn batch_norm_inference_backward_by_hand() {
    // With fixed statistics the layer is affine per feature: dx = γ/√(σ² + ε) · dy.
    let mut bn = BatchNorm::<2>::DEFAULT;
    bn.gamma = [2.0, -1.0];
    bn.beta = [0.5, 0.25];
    bn.running_mean = [1.0, -1.0];
    bn.running_var = [3.0, 0.25];
    bn.eps = 0.0;
    let x = [[1.0f32, 2.0], [-3.0, 0.0]];
    let dy = [[1.0f32, 1.0], [0.5, -2.0]];
    let mut y = [[0.0f32; 2]; 2];
    let mut cache = Zero::ZERO;
    bn.forward_train(&x, &mut y, &mut cache, &mut Context::inference());
    let mut dx = [[0.0f32; 2]; 2];
    let mut grad = BatchNormGrad::ZERO;
    bn.backward(&x, &y, &dy, Some(&mut dx), &mut cache, &mut grad);
    let k = [2.0 / 3.0f64.sqrt(), -1.0 / 0.5];
    for b in 0..2 {
        for j in 0..2 {
            let expect = k[j] * f64::from(dy[b][j]);
            assert!((f64::from(dx[b][j]) - expect).abs() < 1e-6, "dx[{b}][{j}]");
        }
    }
    // dγ = Σ dy·x̂ with x̂ = (x − μ)/σ; dβ = Σ dy.
    let xhat = |b: usize, j: usize| {
        (f64::from(x[b][j]) - f64::from(bn.running_mean[j])) / f64::from(bn.running_var[j]).sqrt()
    };
    for (j, (&dgamma, &dbeta)) in grad.gamma.iter().zip(&grad.beta).enumerate() {
        let dg = f64::from(dy[0][j]) * xhat(0, j) + f64::from(dy[1][j]) * xhat(1, j);
        assert!((f64::from(dgamma) - dg).abs() < 1e-6);
        assert_eq!(dbeta, dy[0][j] + dy[1][j]);
    }
}

// ---------------------------------------------------------------------------------------
// 5. The activity penalty's backward pass
// ---------------------------------------------------------------------------------------

#[test]
fn activity_l1_backward_by_hand() {
    let mut layer = ActivityL1::<[f32; 3]>::new(0.5);
    let h = [[1.0f32, 0.0, -2.0], [0.5, -0.5, 0.0]];
    let dy = [[0.1f32, 0.2, -0.3], [0.0, 1.0, -1.0]];
    let mut y = [[0.0f32; 3]; 2];
    let mut cache = false;
    layer.forward_train(&h, &mut y, &mut cache, &mut Context::new(0));
    assert_eq!(y, h);
    let mut dx = [[0.0f32; 3]; 2];
    layer.backward(&h, &y, &dy, Some(&mut dx), &mut cache, &mut ());
    // λ/B = 0.25; sign(0) = 0.
    let expect = [[0.35f64, 0.2, -0.55], [0.25, 0.75, -1.0]];
    for (got, want) in dx.as_flattened().iter().zip(expect.as_flattened()) {
        assert!((f64::from(*got) - want).abs() < 1e-7, "{got} vs {want}");
    }
    // λ·Σ|h|/B = 0.5·4/2.
    assert_eq!(layer.penalty(&h), 1.0);
    // Without dx nothing is written, and nothing panics.
    layer.backward(&h, &y, &dy, None, &mut cache, &mut ());
}

/// The layer whose output the activity penalty sees. With `fast-math`, `Tanh` is
/// micromath's approximation, known only to within 1.1e-3 (`firmnet::math`): a finite
/// difference of step 1e-3 over it is then known only to within 1.1e-3/1e-3 = 1.1 per
/// unit of downstream gradient, more than the gradients checked, so through `Tanh` the
/// check would test nothing. A `Dense` layer takes its place there (smooth and exact):
/// the penalty's gradient is the same code in both builds, and `Tanh`'s own gradient is
/// checked against its exact derivative in `tests/gradients.rs`.
#[cfg(not(feature = "fast-math"))]
type Hidden = Tanh<[f32; 4]>;
#[cfg(feature = "fast-math")]
type Hidden = Dense<4, 4>;

fn hidden() -> Hidden {
    #[cfg(not(feature = "fast-math"))]
    return Tanh::DEFAULT;
    #[cfg(feature = "fast-math")]
    return Dense::ZERO;
}

type Sparse = Net![Dense<3, 4>, Hidden, ActivityL1<[f32; 4]>, Dense<4, 2>];

#[test]
fn activity_l1_gradient_is_that_of_loss_plus_penalty() {
    let lambda = 0.5f32;
    let mut net: Sparse = net![Dense::ZERO, hidden(), ActivityL1::new(lambda), Dense::ZERO];
    net.init(Init::GlorotNormal, &mut Rng::new(50));
    fill(&mut net.first.bias, 51, 0.3);
    #[cfg(feature = "fast-math")]
    fill(&mut net.rest.first.bias, 55, 0.5);
    const B: usize = 2;
    let x: [[f32; 3]; B] = batch(52, 1.0);
    let r: [[f32; 2]; B] = batch(53, 1.0);

    // J = Σ r·out + λ·Σ|h|/B, with h the `Hidden` output that the penalty sees.
    let objective = |net: &Sparse, x: &[[f32; 3]; B]| -> (f64, f64) {
        let mut penalty = 0.0;
        let mut min_h = f64::INFINITY;
        for xi in x {
            let h = infer(&net.rest.first, &infer(&net.first, xi));
            for v in h {
                penalty += f64::from(v).abs();
                min_h = min_h.min(f64::from(v).abs());
            }
        }
        let j = projected(net, x, &r) + f64::from(lambda) * penalty / B as f64;
        (j, min_h)
    };
    let (_, min_h) = objective(&net, &x);
    assert!(min_h > 0.02, "an activation at the kink of |h|: {min_h}");

    let mut cache: Box<<Sparse as Layer>::Cache<B>> = firmnet::boxed::zero();
    let mut grad: Box<<Sparse as Layer>::Grad> = firmnet::boxed::zero();
    let mut y = [[0.0f32; 2]; B];
    let mut dx = [[0.0f32; 3]; B];
    net.forward_train(&x, &mut y, &mut cache, &mut Context::new(54));
    net.backward(&x, &y, &r, Some(&mut dx), &mut cache, &mut grad);

    let h = 1e-3f32;
    let mut penalty_matters = false;
    for b in 0..B {
        for i in 0..3 {
            let mut xp = x;
            xp[b][i] = x[b][i] + h;
            let jp = objective(&net, &xp).0;
            xp[b][i] = x[b][i] - h;
            let jm = objective(&net, &xp).0;
            let numeric = (jp - jm) / (2.0 * f64::from(h));
            let analytic = f64::from(dx[b][i]);
            assert!(
                rel_err(analytic, numeric, 1e-2) < 1e-2,
                "dx[{b}][{i}]: analytic {analytic}, numeric {numeric}"
            );
        }
    }
    for t in 0..Sparse::TENSORS {
        for k in 0..net.tensor(t).len() {
            let mut p = net.clone();
            let orig = p.tensor(t)[k];
            p.tensor_mut(t)[k] = orig + h;
            let jp = objective(&p, &x).0;
            p.tensor_mut(t)[k] = orig - h;
            let jm = objective(&p, &x).0;
            let numeric = (jp - jm) / (2.0 * f64::from(h));
            let analytic = f64::from(grad.tensor(t)[k]);
            assert!(
                rel_err(analytic, numeric, 1e-2) < 1e-2,
                "{:?}[{k}]: analytic {analytic}, numeric {numeric}",
                Sparse::info(t)
            );
            // Without the penalty the first layer's gradient would be visibly different.
            let without = projected(
                &{
                    let mut q = net.clone();
                    q.tensor_mut(t)[k] = orig + h;
                    q
                },
                &x,
                &r,
            ) - projected(
                &{
                    let mut q = net.clone();
                    q.tensor_mut(t)[k] = orig - h;
                    q
                },
                &x,
                &r,
            );
            let without = without / (2.0 * f64::from(h));
            penalty_matters |= (without - numeric).abs() > 0.05;
        }
    }
    assert!(
        penalty_matters,
        "λ too small for the test to see the penalty"
    );
}

// ---------------------------------------------------------------------------------------
// 6. FGSM and adversarial training
// ---------------------------------------------------------------------------------------

const FB: usize = 4;
const LABELS: [u16; FB] = [0, 1, 2, 1];

#[test]
fn fgsm_steps_by_epsilon_along_the_sign_of_the_input_gradient() {
    let mut net = attacked();
    let before = net.clone();
    let x: [[f32; 5]; FB] = batch(60, 1.0);
    let eps = 0.01f32;
    let mut buf = firmnet::boxed::zero::<TrainBuffers<Attacked, FB>>();
    let mut adv = [[0.0f32; 5]; FB];
    let mut ctx = Context::inference();
    let stats = fgsm(
        &mut net,
        &mut buf,
        &mut ctx,
        &x,
        &LABELS,
        &Fgsm::new(eps),
        &mut adv,
    )
    .unwrap();
    assert_eq!(net, before, "the attack changed the network");

    // The clean batch's statistics.
    let clean = inference_loss(&net, &x, &LABELS);
    assert!(
        (f64::from(stats.loss) - clean).abs() < LOSS_TOL,
        "{} vs {clean}",
        stats.loss
    );
    let correct = x
        .iter()
        .zip(LABELS)
        .filter(|(xi, y)| argmax(&infer(&net, xi)) == usize::from(*y))
        .count();
    assert_eq!(stats.correct, correct);

    // Every element moves by exactly ε, in the direction of the numerical gradient of the
    // deployed network's loss.
    let h = 1e-3f32;
    let mut l1_norm = 0.0;
    for b in 0..FB {
        for i in 0..5 {
            let mut xp = x;
            xp[b][i] = x[b][i] + h;
            let lp = inference_loss(&net, &xp, &LABELS);
            xp[b][i] = x[b][i] - h;
            let lm = inference_loss(&net, &xp, &LABELS);
            let numeric = (lp - lm) / (2.0 * f64::from(h));
            l1_norm += numeric.abs();
            assert!(
                numeric.abs() > 1e-4,
                "gradient [{b}][{i}] too small to have a sign"
            );
            let expect = if numeric > 0.0 {
                x[b][i] + eps
            } else {
                x[b][i] - eps
            };
            assert_eq!(adv[b][i], expect, "[{b}][{i}]: numeric gradient {numeric}");
            assert!((adv[b][i] - x[b][i]).abs() <= eps * (1.0 + 1e-4));
        }
    }
    // The loss goes up, by about ε·‖∇ₓJ‖₁ (first order).
    let attacked_loss = inference_loss(&net, &adv, &LABELS);
    let rise = attacked_loss - clean;
    let predicted = f64::from(eps) * l1_norm;
    assert!(rise > 0.0);
    assert!(
        (rise / predicted - 1.0).abs() < 0.1,
        "rise {rise}, predicted {predicted}"
    );
}

#[test]
fn fgsm_leaves_inputs_without_gradient_in_place() {
    // Input 4 feeds nothing: its gradient is exactly 0, so it must not move.
    let mut net = attacked();
    net.first.weight.iter_mut().for_each(|row| row[4] = 0.0);
    let x: [[f32; 5]; FB] = batch(66, 1.0);
    let mut buf = firmnet::boxed::zero::<TrainBuffers<Attacked, FB>>();
    let mut adv = [[0.0f32; 5]; FB];
    let attack = Fgsm::new(0.1);
    fgsm(
        &mut net,
        &mut buf,
        &mut Context::inference(),
        &x,
        &LABELS,
        &attack,
        &mut adv,
    )
    .unwrap();
    for (a, xi) in adv.iter().zip(&x) {
        assert_eq!(a[4], xi[4]);
        for i in 0..4 {
            assert!((a[i] - xi[i]).abs() > 0.09, "input {i} did not move");
        }
    }
}

#[test]
fn fgsm_clamps_into_the_valid_range() {
    let mut net = attacked();
    let mut x: [[f32; 5]; FB] = batch(61, 0.4);
    x.as_flattened_mut()
        .iter_mut()
        .for_each(|v| *v = (*v + 0.5).clamp(0.0, 1.0));
    x[0][0] = 0.0;
    x[1][1] = 1.0;
    let eps = 0.25f32;
    let mut buf = firmnet::boxed::zero::<TrainBuffers<Attacked, FB>>();
    let mut free = [[0.0f32; 5]; FB];
    let mut bounded = [[0.0f32; 5]; FB];
    fgsm(
        &mut net,
        &mut buf,
        &mut Context::inference(),
        &x,
        &LABELS,
        &Fgsm::new(eps),
        &mut free,
    )
    .unwrap();
    let attack = Fgsm::new(eps).within(0.0, 1.0);
    assert_eq!((attack.min, attack.max, attack.epsilon), (0.0, 1.0, eps));
    fgsm(
        &mut net,
        &mut buf,
        &mut Context::inference(),
        &x,
        &LABELS,
        &attack,
        &mut bounded,
    )
    .unwrap();
    let mut clamped = 0;
    for ((&xi, &f), &a) in x
        .as_flattened()
        .iter()
        .zip(free.as_flattened())
        .zip(bounded.as_flattened())
    {
        assert!((0.0..=1.0).contains(&a), "{a} outside [0, 1]");
        assert_eq!(a, f.clamp(0.0, 1.0));
        assert!((a - xi).abs() <= eps + 1e-6, "{xi} → {a}");
        clamped += usize::from(a != f);
    }
    assert!(clamped >= 2, "only {clamped} elements needed clamping");
}

#[test]
fn fgsm_adds_parameter_gradients_like_classification_gradients() {
    let x: [[f32; 5]; FB] = batch(62, 1.0);
    let mut prefill: Box<<Attacked as Layer>::Grad> = firmnet::boxed::zero();
    for t in 0..Attacked::TENSORS {
        fill(prefill.tensor_mut(t), 63 + t as u64, 1.0);
    }
    for ctx in [Context::inference(), Context::new(64)] {
        let (mut n1, mut n2, mut n3) = (attacked(), attacked(), attacked());
        let mut b1 = firmnet::boxed::zero::<TrainBuffers<Attacked, FB>>();
        let mut b2 = firmnet::boxed::zero::<TrainBuffers<Attacked, FB>>();
        let mut b3 = firmnet::boxed::zero::<TrainBuffers<Attacked, FB>>();
        for t in 0..Attacked::TENSORS {
            b1.grad.tensor_mut(t).copy_from_slice(prefill.tensor(t));
            b2.grad.tensor_mut(t).copy_from_slice(prefill.tensor(t));
        }
        let mut adv = [[0.0f32; 5]; FB];
        let (mut c1, mut c2, mut c3) = (ctx, ctx, ctx);
        let s1 = fgsm(
            &mut n1,
            &mut b1,
            &mut c1,
            &x,
            &LABELS,
            &Fgsm::new(0.1),
            &mut adv,
        )
        .unwrap();
        let s2 = classification_gradients(&mut n2, &mut b2, &mut c2, &x, &LABELS).unwrap();
        let s3 = classification_gradients(&mut n3, &mut b3, &mut c3, &x, &LABELS).unwrap();
        assert_eq!(s1, s2);
        assert_eq!(s2, s3);
        assert_eq!(bits(&b1.grad), bits(&b2.grad));
        assert_eq!(n1, n2, "the same running statistics");
        // Added, not overwritten.
        for t in 0..Attacked::TENSORS {
            for ((&g, &p), &pure) in b1
                .grad
                .tensor(t)
                .iter()
                .zip(prefill.tensor(t))
                .zip(b3.grad.tensor(t))
            {
                assert!((g - (p + pure)).abs() < 1e-6, "{g} ≠ {p} + {pure}");
            }
        }
    }
}

#[test]
fn evaluate_fgsm_at_zero_epsilon_is_evaluate() {
    let net = attacked();
    let data = attacked_data(11, 65); // a last batch of 3 of 4: padded
    let plain = evaluate(&net, &data);
    let zero = evaluate_fgsm::<Attacked, 5, 3, FB>(&net, &data, &Fgsm::new(0.0));
    assert_eq!(zero, plain);
    assert_eq!(zero.predictions.len(), 11);

    // With ε > 0 the examples are those of one sample at a time (the padding of the last
    // batch changes nothing), the labels are kept and the loss rises.
    let attack = Fgsm::new(0.05);
    let examples = fgsm_examples::<Attacked, 5, 3, FB>(&net, &data, &attack);
    assert_eq!(examples.y, data.y);
    assert_eq!(examples.len(), data.len());
    let single = fgsm_examples::<Attacked, 5, 3, 1>(&net, &data, &attack);
    assert_eq!(examples, single);
    for (a, x) in examples.x.iter().zip(&data.x) {
        for (&ai, &xi) in a.iter().zip(x) {
            assert!(ai == xi + 0.05 || ai == xi - 0.05, "{xi} → {ai}");
        }
    }
    let attacked_eval = evaluate_fgsm::<Attacked, 5, 3, FB>(&net, &data, &attack);
    assert_eq!(attacked_eval, evaluate(&net, &examples));
    assert!(attacked_eval.loss > plain.loss);
}

type Mlp = Net![Dense<5, 6>, Tanh<[f32; 6]>, Dense<6, 3>];

type MlpGrad = <Mlp as Layer>::Grad;

fn mlp() -> Mlp {
    let mut net: Mlp = net![Dense::ZERO, Tanh::DEFAULT, Dense::ZERO];
    net.init(Init::GlorotNormal, &mut Rng::new(80));
    net
}

/// Gradients of `J(x)` and the FGSM examples `x'`, then the gradients of `J(x')`.
fn clean_and_adversarial_gradients(
    x: &[[f32; 5]; FB],
    attack: &Fgsm,
) -> (Box<MlpGrad>, Box<MlpGrad>, [[f32; 5]; FB]) {
    let mut net = mlp();
    let mut adv = [[0.0f32; 5]; FB];
    let mut clean = firmnet::boxed::zero::<TrainBuffers<Mlp, FB>>();
    fgsm(
        &mut net,
        &mut clean,
        &mut Context::new(0),
        x,
        &LABELS,
        attack,
        &mut adv,
    )
    .unwrap();
    let mut on_adv = firmnet::boxed::zero::<TrainBuffers<Mlp, FB>>();
    classification_gradients(&mut net, &mut on_adv, &mut Context::new(0), &adv, &LABELS).unwrap();
    (Box::new(clean.grad), Box::new(on_adv.grad), adv)
}

#[test]
fn adversarial_gradients_mix_clean_and_fgsm_losses() {
    let x: [[f32; 5]; FB] = batch(81, 1.0);
    let attack = Fgsm::new(0.1);
    let (g_clean, g_adv, adv_ref) = clean_and_adversarial_gradients(&x, &attack);
    let weight = 0.25f32;

    let mut net = mlp();
    let mut buf = firmnet::boxed::zero::<TrainBuffers<Mlp, FB>>();
    let mut adv = [[0.0f32; 5]; FB];
    let stats = adversarial_gradients(
        &mut net,
        &mut buf,
        &mut Context::new(0),
        &x,
        &LABELS,
        &attack,
        weight,
        &mut adv,
    )
    .unwrap();
    assert_eq!(adv, adv_ref, "not the FGSM examples");
    let mut clean_buf = firmnet::boxed::zero::<TrainBuffers<Mlp, FB>>();
    let clean_stats = classification_gradients(
        &mut mlp(),
        &mut clean_buf,
        &mut Context::new(0),
        &x,
        &LABELS,
    )
    .unwrap();
    assert_eq!(stats, clean_stats, "not the clean batch's statistics");
    for t in 0..Mlp::TENSORS {
        for ((&g, &c), &a) in buf
            .grad
            .tensor(t)
            .iter()
            .zip(g_clean.tensor(t))
            .zip(g_adv.tensor(t))
        {
            let expect = weight * c + (1.0 - weight) * a;
            assert!(
                (g - expect).abs() < 1e-6 + 1e-5 * expect.abs(),
                "{g} vs {expect}"
            );
        }
    }

    // One adversarial step: SGD on exactly those gradients, clean statistics returned.
    let mut stepped = mlp();
    let mut sgd = Sgd::<<Mlp as Layer>::Grad>::new(SgdConfig::new(0.5));
    let mut buf = firmnet::boxed::zero::<TrainBuffers<Mlp, FB>>();
    let step_stats = adversarial_step(
        &mut stepped,
        &mut sgd,
        &mut buf,
        &mut Context::new(0),
        &x,
        &LABELS,
        &attack,
        weight,
        &mut adv,
    )
    .unwrap();
    assert_eq!(step_stats, clean_stats);
    let start = mlp();
    assert_ne!(stepped, start);
    for t in 0..Mlp::TENSORS {
        for (((&p, &p0), &c), &a) in stepped
            .tensor(t)
            .iter()
            .zip(start.tensor(t))
            .zip(g_clean.tensor(t))
            .zip(g_adv.tensor(t))
        {
            let expect = p0 - 0.5 * (weight * c + (1.0 - weight) * a);
            assert!((p - expect).abs() < 1e-6, "{p} vs {expect}");
        }
    }
    assert_eq!(bits(&buf.grad), bits(&<Mlp as Layer>::Grad::ZERO));
}

#[test]
fn adversarial_gradients_refuse_a_weight_outside_0_1() {
    // A weight of 0 would erase the attack direction (the sign of the weighted clean input
    // gradient), and a negative one would flip it: both are refused before any work.
    let x: [[f32; 5]; FB] = batch(82, 1.0);
    let attack = Fgsm::new(0.1);
    for weight in [0.0, -0.5, 1.5, f32::NAN] {
        let mut buf = firmnet::boxed::zero::<TrainBuffers<Mlp, FB>>();
        let mut adv = [[7.0f32; 5]; FB];
        let mut net = mlp();
        let r = adversarial_gradients(
            &mut net,
            &mut buf,
            &mut Context::new(0),
            &x,
            &LABELS,
            &attack,
            weight,
            &mut adv,
        );
        assert!(
            matches!(r, Err(Error::InvalidSetting { .. })),
            "weight {weight}: {r:?}"
        );
        assert_eq!(adv, [[7.0f32; 5]; FB], "weight {weight}: adv written");
        for t in 0..Mlp::TENSORS {
            assert!(buf.grad.tensor(t).iter().all(|&g| g == 0.0));
        }
    }
}

#[test]
fn trainer_runs_adversarial_training() {
    let (train, val) = (blobs(64, 90), blobs(16, 91));
    let run = |adversarial: Option<Adversarial>| -> (Small, f32) {
        let mut trainer = Trainer::<Small, SmallSgd, 8>::new(
            Box::new(small(92)),
            Sgd::boxed(SgdConfig::new(0.2)),
            93,
        );
        let reg = Regularization {
            adversarial,
            ..Regularization::NONE
        };
        let s = trainer
            .fit(&train, &val, &config(3, 0.2, 94, reg), |_| {})
            .unwrap();
        (
            *trainer.net,
            s.history.last().unwrap().val.accuracy.unwrap(),
        )
    };
    let (plain, _) = run(None);
    let (robust, accuracy) = run(Some(Adversarial {
        attack: Fgsm::new(0.2),
        weight: 0.5,
    }));
    assert_ne!(plain, robust);
    assert!(accuracy >= 0.8, "validation accuracy {accuracy}");
}

// ---------------------------------------------------------------------------------------
// 7. Ensembles
// ---------------------------------------------------------------------------------------

#[test]
fn an_ensemble_of_copies_is_the_network() {
    let net = attacked();
    let data = attacked_data(12, 100);
    let single = evaluate(&net, &data);
    let three = evaluate_ensemble(&[&net, &net, &net], &data).unwrap();
    assert_eq!(three.predictions, single.predictions);
    assert_eq!(three.accuracy, single.accuracy);
    assert!(
        f64::from((three.loss - single.loss).abs()) < LOSS_TOL,
        "{} vs {}",
        three.loss,
        single.loss
    );
    assert!(matches!(
        evaluate_ensemble::<Attacked, 5, 3>(&[], &data),
        Err(TrainError::Empty { .. })
    ));
}

#[test]
fn an_ensemble_averages_probabilities_by_hand() {
    // Members whose logits are log-probabilities: A = (0.5, 0.1, 0.4), B = (0.1, 0.5, 0.4).
    // The mean (0.3, 0.3, 0.4) picks class 2, which neither member picks. (Averaging the
    // logits instead would give p(2) = 0.4/(0.4 + 2·√0.05) = 0.472.)
    let member = |p: [f64; 3]| {
        let mut d = Dense::<1, 3>::ZERO;
        d.bias = p.map(|v| v.ln() as f32);
        d
    };
    let a = member([0.5, 0.1, 0.4]);
    let b = member([0.1, 0.5, 0.4]);
    let data = Samples::<1> {
        x: vec![[1.0], [-2.0]],
        y: vec![2, 0],
    };
    assert_eq!(evaluate(&a, &data).predictions, [0, 0]);
    assert_eq!(evaluate(&b, &data).predictions, [1, 1]);
    let e = evaluate_ensemble(&[&a, &b], &data).unwrap();
    assert_eq!(e.predictions, [2, 2]);
    assert_eq!(e.accuracy, 0.5);
    let expect = (-(0.4f64.ln()) - 0.3f64.ln()) / 2.0;
    assert!(
        (f64::from(e.loss) - expect).abs() < 1e-6,
        "{} vs {expect}",
        e.loss
    );
}

// ---------------------------------------------------------------------------------------
// 8. Frozen layers
// ---------------------------------------------------------------------------------------

type PartlyFrozen = Net![
    Dense<4, 6>,
    Tanh<[f32; 6]>,
    Frozen<Dense<6, 5>>,
    Frozen<BatchNorm<5>>,
    Tanh<[f32; 5]>,
    Dense<5, 3>
];
type Unfrozen = Net![
    Dense<4, 6>,
    Tanh<[f32; 6]>,
    Dense<6, 5>,
    BatchNorm<5>,
    Tanh<[f32; 5]>,
    Dense<5, 3>
];
type PfGrad = <PartlyFrozen as Layer>::Grad;
// Tensors: 0 W₁, 1 b₁, 2 W₂, 3 b₂, 4 γ, 5 β, 6 W₃, 7 b₃.
const FROZEN: [bool; 8] = [false, false, true, true, true, true, false, false];

fn partly_frozen() -> PartlyFrozen {
    let mut net: PartlyFrozen = net![
        Dense::ZERO,
        Tanh::DEFAULT,
        Frozen::new(Dense::ZERO),
        Frozen::new(busy_batch_norm(110)),
        Tanh::DEFAULT,
        Dense::ZERO
    ];
    net.init(Init::GlorotNormal, &mut Rng::new(111));
    fill(&mut net.rest.rest.first.layer.bias, 112, 0.3);
    net
}

fn unfreeze(net: &PartlyFrozen) -> Unfrozen {
    net![
        net.first.clone(),
        Tanh::DEFAULT,
        net.rest.rest.first.layer.clone(),
        net.rest.rest.rest.first.layer.clone(),
        Tanh::DEFAULT,
        net.rest.rest.rest.rest.rest.clone()
    ]
}

#[test]
fn frozen_is_reported_through_chains() {
    for (i, &f) in FROZEN.iter().enumerate() {
        assert_eq!(PartlyFrozen::frozen(i), f, "tensor {i}");
        assert!(!Unfrozen::frozen(i));
        assert!(<Frozen<Unfrozen>>::frozen(i));
        assert_eq!(PartlyFrozen::info(i), Unfrozen::info(i));
    }
    assert!(!<Dense<2, 2>>::frozen(1) && <Frozen<Dense<2, 2>>>::frozen(1));
    assert_eq!(PartlyFrozen::LAYERS, Unfrozen::LAYERS);
    assert_eq!(statistics(&partly_frozen()).len(), 2);
    assert!(std::panic::catch_unwind(|| PartlyFrozen::frozen(8)).is_err());
    assert!(std::panic::catch_unwind(|| <Frozen<Dense<2, 2>>>::frozen(2)).is_err());
}

/// Trains a [`PartlyFrozen`] network for a few steps and checks what must and must not
/// change; returns the optimizer for a look at its state.
fn train_partly_frozen<O: Optimizer<PfGrad>>(mut opt: O) -> O {
    let mut net = partly_frozen();
    let before = net.clone();
    const B: usize = 8;
    let mut buf = firmnet::boxed::zero::<TrainBuffers<PartlyFrozen, B>>();
    let mut ctx = Context::new(113);
    for step in 0..6 {
        let x: [[f32; 4]; B] = batch(120 + step, 1.0);
        let y: [u16; B] = core::array::from_fn(|i| (i % 3) as u16);
        classification_gradients(&mut net, &mut buf, &mut ctx, &x, &y).unwrap();
        for (t, &f) in FROZEN.iter().enumerate() {
            // Gradients of frozen tensors are computed (the layer is differentiable) ...
            assert!(
                buf.grad.tensor(t).iter().any(|&g| g != 0.0),
                "tensor {t} (frozen {f})"
            );
        }
        opt.step(&mut net, &mut buf.grad).unwrap();
        // ... and the step clears them with the others.
        assert_eq!(bits(&buf.grad), bits(&PfGrad::ZERO));
    }
    let (b, a) = (bits(&before), bits(&net));
    for (t, &f) in FROZEN.iter().enumerate() {
        if f {
            assert_eq!(b[t], a[t], "frozen tensor {t} changed");
        } else {
            assert_ne!(b[t], a[t], "tensor {t} did not train");
        }
    }
    assert_eq!(
        statistics(&before),
        statistics(&net),
        "frozen running statistics changed"
    );
    opt
}

#[test]
fn frozen_layers_do_not_train_with_adam() {
    let adam = train_partly_frozen(Adam::<PfGrad>::new(AdamConfig {
        l2: 1e-2,
        l1: 1e-2,
        weight_decay: 0.1,
        ..AdamConfig::with_lr(0.01)
    }));
    assert_eq!(adam.t, 6);
    for (t, &f) in FROZEN.iter().enumerate() {
        let m_zero = adam.m.tensor(t).iter().all(|&v| v == 0.0);
        let v_zero = adam.v.tensor(t).iter().all(|&v| v == 0.0);
        assert_eq!(m_zero, f, "first moment of tensor {t}");
        assert_eq!(v_zero, f, "second moment of tensor {t}");
    }
}

#[test]
fn frozen_layers_do_not_train_with_sgd_momentum() {
    let sgd = train_partly_frozen(Sgd::<PfGrad>::new(SgdConfig {
        momentum: 0.9,
        l2: 1e-2,
        l1: 1e-2,
        ..SgdConfig::new(0.1)
    }));
    for (t, &f) in FROZEN.iter().enumerate() {
        let zero = sgd.velocity.tensor(t).iter().all(|&v| v == 0.0);
        assert_eq!(zero, f, "velocity of tensor {t}");
    }
}

#[test]
fn gradients_flow_through_frozen_layers() {
    // In training mode the frozen network computes what the unfrozen one computes at
    // inference (batch normalization on running statistics), gradients included.
    let mut frozen = partly_frozen();
    let mut open = unfreeze(&frozen);
    const B: usize = 4;
    let x: [[f32; 4]; B] = batch(130, 1.0);
    let y = [0u16, 1, 2, 0];
    let mut fb = firmnet::boxed::zero::<TrainBuffers<PartlyFrozen, B>>();
    let mut ob = firmnet::boxed::zero::<TrainBuffers<Unfrozen, B>>();
    let fs =
        classification_gradients(&mut frozen, &mut fb, &mut Context::new(131), &x, &y).unwrap();
    let os =
        classification_gradients(&mut open, &mut ob, &mut Context::inference(), &x, &y).unwrap();
    assert_eq!(fs, os);
    assert_eq!(bits(&fb.grad), bits(&ob.grad));
    assert!(fb.grad.tensor(0).iter().any(|&g| g != 0.0));
    // The training-mode unfrozen network is a different function.
    let mut tb = firmnet::boxed::zero::<TrainBuffers<Unfrozen, B>>();
    let ts = classification_gradients(
        &mut unfreeze(&frozen),
        &mut tb,
        &mut Context::new(131),
        &x,
        &y,
    )
    .unwrap();
    assert_ne!(ts.loss, fs.loss);

    // One Adam step moves the first layer, through the frozen ones.
    let mut adam = Adam::<PfGrad>::new(AdamConfig::with_lr(0.01));
    let first = frozen.first.clone();
    adam.step(&mut frozen, &mut fb.grad).unwrap();
    assert_ne!(frozen.first, first);
}

#[test]
fn constraints_and_weight_noise_skip_frozen_layers() {
    let mut net = partly_frozen();
    let before = net.clone();
    assert!(max_norm(&mut net, 1e-3) > 0);
    perturb_weights(&mut net, 1.0, &mut Rng::new(140));
    let (b, a) = (bits(&before), bits(&net));
    for t in 0..PartlyFrozen::TENSORS {
        let trained_weight = PartlyFrozen::info(t).kind == ParamKind::Weight && !FROZEN[t];
        assert_eq!(b[t] != a[t], trained_weight, "tensor {t}");
    }
}

// ---------------------------------------------------------------------------------------
// 9. Weight noise in the trainer
// ---------------------------------------------------------------------------------------

#[test]
fn weight_noise_is_removed_after_each_gradient() {
    let (train, val) = (blobs(32, 150), blobs(8, 151));
    let run = |lr: f32, noise: f32| {
        let mut trainer = Trainer::<Small, SmallSgd, 8>::new(
            Box::new(small(152)),
            Sgd::boxed(SgdConfig::new(lr)),
            153,
        );
        let reg = Regularization {
            weight_noise: noise,
            ..Regularization::NONE
        };
        let s = trainer
            .fit(&train, &val, &config(2, lr, 154, reg), |_| {})
            .unwrap();
        (*trainer.net, s.history)
    };
    let start = small(152);
    // lr = 0: the noise never reaches the weights.
    let (still, noisy_history) = run(0.0, 1.0);
    assert_eq!(bits(&still), bits(&start));
    let (_, quiet_history) = run(0.0, 0.0);
    for (n, q) in noisy_history.iter().zip(&quiet_history) {
        // The training pass saw noisy weights; validation sees the clean ones.
        assert_ne!(n.train.loss, q.train.loss);
        assert_eq!(n.val.loss, q.val.loss);
        assert_eq!(n.val.accuracy.unwrap(), q.val.accuracy.unwrap());
    }
    // lr > 0: the gradients of the noisy network make a difference.
    let (noisy, _) = run(0.1, 1.0);
    let (quiet, _) = run(0.1, 0.0);
    assert_ne!(bits(&noisy), bits(&start));
    assert_ne!(bits(&noisy), bits(&quiet));
}

// ---------------------------------------------------------------------------------------
// 10. Augmentation in the trainer
// ---------------------------------------------------------------------------------------

type Img = Net![Dense<64, 16>, Relu<[f32; 16]>, Dense<16, 2>];
type ImgAdam = Adam<<Img as Layer>::Grad>;

/// 8×8 images of a vertical bar of 5 pixels, in column `col0` for class 0 and `col1` for
/// class 1, at a random height, with a little noise.
fn bars(n: usize, seed: u64, col0: usize, col1: usize) -> Samples<64> {
    let mut rng = Rng::new(seed);
    let mut x = vec![[0.0f32; 64]; n];
    let mut y = Vec::with_capacity(n);
    for (i, img) in x.iter_mut().enumerate() {
        let label = (i % 2) as u16;
        let col = if label == 0 { col0 } else { col1 };
        let top = rng.below(4) as usize;
        for r in top..top + 5 {
            img[r * 8 + col] = 1.0;
        }
        img.iter_mut().for_each(|v| *v += 0.05 * rng.normal());
        y.push(label);
    }
    Samples { x, y }
}

fn img_trainer() -> Trainer<Img, ImgAdam, 16> {
    let mut net: Img = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];
    net.init(Init::HeNormal, &mut Rng::new(160));
    Trainer::new(Box::new(net), Adam::boxed(AdamConfig::with_lr(0.01)), 161)
}

#[test]
fn augmentation_must_match_the_input_size() {
    let (train, val) = (bars(32, 162, 1, 6), bars(8, 163, 1, 6));
    let mut trainer = img_trainer();
    let before = trainer.net.clone();
    let augment = Augment {
        rows: 8,
        cols: 7,
        max_shift: 1,
        flip: false,
        fill: 0.0,
    };
    let reg = Regularization {
        augment: Some(augment),
        ..Regularization::NONE
    };
    let result = trainer.fit(&train, &val, &config(1, 0.01, 164, reg), |_| {});
    assert!(
        matches!(result, Err(TrainError::Config { .. })),
        "{result:?}"
    );
    assert_eq!(trainer.net, before);
    assert_eq!(trainer.epoch, 0);
}

#[test]
fn augmented_training_keeps_labels_and_learns() {
    // Bars in column 1 (class 0) and column 6 (class 1). Shifted by up to ±2 they stay in
    // columns −1..=3 and 4..=8: still separable. Validation uses columns 0 and 7 — shifts
    // the network only sees through augmentation.
    let train = bars(256, 170, 1, 6);
    let val = bars(64, 171, 0, 7);
    let augment = Augment {
        rows: 8,
        cols: 8,
        max_shift: 2,
        flip: false,
        fill: 0.0,
    };
    let run = |augment: Option<Augment>| {
        let mut trainer = img_trainer();
        let reg = Regularization {
            augment,
            ..Regularization::NONE
        };
        let s = trainer
            .fit(&train, &val, &config(6, 0.01, 172, reg), |_| {})
            .unwrap();
        (*trainer.net, *s.history.last().unwrap())
    };
    let (augmented, record) = run(Some(augment));
    let (plain, plain_record) = run(None);
    assert_ne!(augmented, plain);
    assert!(
        record.val.accuracy.unwrap() >= 0.95,
        "with augmentation: validation accuracy {}",
        record.val.accuracy.unwrap()
    );
    // The unshifted training images are learned as well.
    assert!(evaluate(&augmented, &train).accuracy >= 0.95);
    assert!(
        record.val.accuracy.unwrap() > plain_record.val.accuracy.unwrap(),
        "augmentation {} vs none {}",
        record.val.accuracy.unwrap(),
        plain_record.val.accuracy.unwrap()
    );
}

// ---------------------------------------------------------------------------------------
// 11. Hyperparameter search and sample sets
// ---------------------------------------------------------------------------------------

fn scored(accuracy: f32, loss: f32) -> Evaluation {
    Evaluation {
        loss,
        accuracy,
        predictions: Vec::new(),
    }
}

#[test]
fn grid_search_picks_the_best_validation_accuracy() {
    let scores = [(0.5, 1.0), (0.8, 0.6), (0.8, 0.4), (0.7, 0.1), (0.8, 0.4)];
    let candidates = ["a", "b", "c", "d", "e"];
    let mut calls = Vec::new();
    let search = grid_search(&candidates, |&p| {
        calls.push(p);
        let i = candidates.iter().position(|&c| c == p).unwrap();
        Ok::<_, String>(scored(scores[i].0, scores[i].1))
    })
    .unwrap()
    .unwrap();
    assert_eq!(calls, candidates);
    // Highest accuracy, ties broken by lower loss, then by order.
    assert_eq!(search.best, 2);
    assert_eq!(search.best().params, "c");
    assert_eq!(search.trials.len(), 5);
    for (trial, ((acc, loss), name)) in search.trials.iter().zip(scores.iter().zip(candidates)) {
        assert_eq!(
            (trial.val_accuracy, trial.val_loss, trial.params),
            (*acc, *loss, name)
        );
        assert!(trial.seconds >= 0.0);
    }

    // No candidates: no search.
    let none = grid_search(&[] as &[u8], |_| Ok::<_, ()>(scored(1.0, 0.0))).unwrap();
    assert!(none.is_none());

    // The first error stops the search.
    let mut tried = 0;
    let result = grid_search(&[1, 2, 3, 4], |&p| {
        tried += 1;
        if p >= 2 {
            Err(format!("failed on {p}"))
        } else {
            Ok(scored(0.9, 0.1))
        }
    });
    assert_eq!(result, Err("failed on 2".to_string()));
    assert_eq!(tried, 2);
}

#[test]
fn samples_concat_take_and_scale() {
    let a = Samples::<2> {
        x: vec![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
        y: vec![0, 1, 2],
    };
    let b = Samples::<2> {
        x: vec![[7.0, 8.0]],
        y: vec![3],
    };
    let ab = a.concat(&b);
    assert_eq!(ab.x, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]);
    assert_eq!(ab.y, [0, 1, 2, 3]);
    assert_eq!(b.concat(&a).y, [3, 0, 1, 2]);
    let empty = Samples::<2> {
        x: Vec::new(),
        y: Vec::new(),
    };
    assert_eq!(a.concat(&empty), a);
    assert!(empty.is_empty() && !a.is_empty());

    let first_two = ab.take(2);
    assert_eq!(first_two.x, [[1.0, 2.0], [3.0, 4.0]]);
    assert_eq!(first_two.y, [0, 1]);
    assert_eq!(ab.take(10), ab);
    assert_eq!(ab.take(0).len(), 0);

    let mut scaled = a.clone();
    scaled.scale(0.5);
    assert_eq!(scaled.x, [[0.5, 1.0], [1.5, 2.0], [2.5, 3.0]]);
    assert_eq!(scaled.y, a.y);
}

/// The bits of every tensor of `net` that is not learned (batch normalization's running
/// statistics), layer by layer.
fn statistics<N: firmnet::spec::Describe>(net: &N) -> Vec<Vec<u32>> {
    (0..N::LAYERS)
        .flat_map(|i| {
            let layer = net.layer(i).unwrap();
            let spec = layer.spec();
            (0..spec.tensors.len())
                .filter(|&t| !spec.tensors[t].learned)
                .map(|t| slice_bits(layer.tensor(t).unwrap().f32s().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect()
}
