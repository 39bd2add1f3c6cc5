//! Finite-difference gradient checks for every layer and for whole networks.

mod common;

use common::{check_layer, check_layer_within, fill, projection, rel_err};
use firmnet::prelude::*;

const B: usize = 4;

fn batch<const N: usize>(seed: u64) -> [[f32; N]; B] {
    let mut x = [[0.0; N]; B];
    fill(x.as_flattened_mut(), seed, 1.0);
    x
}

/// Inputs kept at least `margin` away from 0, where ReLU-like layers have a kink that a
/// finite difference of step `h < margin` would straddle.
fn batch_off_kink<const N: usize>(seed: u64, margin: f32) -> [[f32; N]; B] {
    let mut x = batch::<N>(seed);
    for v in x.as_flattened_mut() {
        if v.abs() < margin {
            *v = if *v < 0.0 { -margin } else { margin } * 2.0;
        }
    }
    x
}

/// How far `firmnet::math` may put `tanh` and `sigmoid` from their values: 1.1e-3 and 6e-4
/// (absolute) with `fast-math`; without it a few ulps, which the checks' relative
/// tolerances already cover.
const TANH_ERR: f64 = if cfg!(feature = "fast-math") {
    1.1e-3
} else {
    0.0
};
const SIGMOID_ERR: f64 = if cfg!(feature = "fast-math") {
    6e-4
} else {
    0.0
};

/// What a finite difference of step `h` may miss an activation's gradient by, per unit
/// of `|r_k|`, when the activation is computed to within `err`: `f(x ± h)` are each off
/// by up to `err`, so their difference quotient by up to `2·err/2h = err/h`; the backward
/// pass evaluates the exact derivative at the computed output, `1 − ỹ²` within
/// `|ỹ − y|·|ỹ + y| ≤ 2·err` of `1 − y²` (`slope_err = 2·err`), `ỹ(1 − ỹ)` within
/// `|ỹ − y|·|1 − ỹ − y| ≤ err` of `y(1 − y)` (`slope_err = err`).
fn activation_slack(err: f64, slope_err: f64, h: f32) -> f64 {
    err / f64::from(h) + slope_err
}

/// The input gradient of an elementwise activation against `r_k·f′(x_k)`, `f′` exact in
/// `f64`: within `|r_k|·(slope_err + 1e-6)`, the backward pass evaluating `f′` at the
/// computed output (see [`activation_slack`]) and rounding in `f32`. A check of the
/// gradient the layer computes that no finite difference of an approximation blurs.
fn check_exact_derivative<L: Layer, const B: usize>(
    layer: &mut L,
    x: &[L::Input; B],
    seed: u64,
    derivative: fn(f64) -> f64,
    slope_err: f64,
) {
    let r = projection::<L, B>(seed);
    let mut y: Box<[L::Output; B]> = Box::new(Zero::ZERO);
    let mut cache: Box<L::Cache<B>> = Box::new(Zero::ZERO);
    let mut grad: Box<L::Grad> = Box::new(Zero::ZERO);
    let mut dx: Box<[L::Input; B]> = Box::new(Zero::ZERO);
    let mut c = Context::new(seed);
    layer.forward_train(x, &mut y, &mut cache, &mut c);
    layer.backward(x, &y, &r, Some(&mut dx), &mut cache, &mut grad);
    let xs = L::Input::batch_slice(x);
    let rs = L::Output::batch_slice(&r);
    for (k, (&g, (&xk, &rk))) in L::Input::batch_slice(&dx)
        .iter()
        .zip(xs.iter().zip(rs))
        .enumerate()
    {
        let (g, rk) = (f64::from(g), f64::from(rk));
        let exact = rk * derivative(f64::from(xk));
        assert!(
            (g - exact).abs() <= rk.abs() * (slope_err + 1e-6),
            "input gradient [{k}]: {g}, exactly {exact}"
        );
    }
}

fn tanh_derivative(x: f64) -> f64 {
    1.0 - x.tanh().powi(2)
}

fn sigmoid_derivative(x: f64) -> f64 {
    let s = 1.0 / (1.0 + (-x).exp());
    s * (1.0 - s)
}

#[test]
fn dense() {
    let mut layer = Dense::<13, 9>::ZERO;
    layer.init(Init::GlorotNormal, &mut Rng::new(1));
    fill(&mut layer.bias, 2, 0.1);
    let e = check_layer(&mut layer, &batch::<13>(3), 4, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

#[test]
fn dense_wide_input() {
    // Sizes past one SIMD register with a remainder, as the kernels see in practice.
    let mut layer = Dense::<37, 19>::ZERO;
    layer.init(Init::HeNormal, &mut Rng::new(5));
    let e = check_layer(&mut layer, &batch::<37>(6), 7, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

#[test]
fn batch_norm() {
    let mut layer = BatchNorm::<7>::DEFAULT;
    fill(&mut layer.gamma, 8, 1.0);
    fill(&mut layer.beta, 9, 1.0);
    let e = check_layer(&mut layer, &batch::<7>(10), 11, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

#[test]
fn relu() {
    let mut layer = Relu::<[f32; 11]>::DEFAULT;
    let e = check_layer(&mut layer, &batch_off_kink::<11>(12, 0.05), 13, 1e-2);
    assert!(e < 1e-3, "worst relative error {e}");
}

#[test]
fn leaky_relu() {
    let mut layer = LeakyRelu::<[f32; 11]>::new(0.1);
    let e = check_layer(&mut layer, &batch_off_kink::<11>(14, 0.05), 15, 1e-2);
    assert!(e < 1e-3, "worst relative error {e}");
}

#[test]
fn tanh() {
    let mut layer = Tanh::<[f32; 11]>::DEFAULT;
    let x = batch::<11>(16);
    let slack = activation_slack(TANH_ERR, 2.0 * TANH_ERR, 1e-2);
    let e = check_layer_within(&mut layer, &x, 17, 1e-2, slack);
    assert!(e < 1e-2, "worst relative error {e}");
    check_exact_derivative(&mut layer, &x, 17, tanh_derivative, 2.0 * TANH_ERR);
}

#[test]
fn sigmoid() {
    let mut layer = Sigmoid::<[f32; 11]>::DEFAULT;
    let x = batch::<11>(18);
    let slack = activation_slack(SIGMOID_ERR, SIGMOID_ERR, 1e-2);
    let e = check_layer_within(&mut layer, &x, 19, 1e-2, slack);
    assert!(e < 1e-2, "worst relative error {e}");
    check_exact_derivative(&mut layer, &x, 19, sigmoid_derivative, SIGMOID_ERR);
}

#[test]
fn dropout() {
    // The mask is replayed from the cached random state, so the layer is a fixed linear map
    // for a given context and its gradient checks like any other.
    let mut layer = Dropout::<[f32; 23]>::new(0.3);
    let e = check_layer(&mut layer, &batch::<23>(20), 21, 1e-2);
    assert!(e < 1e-3, "worst relative error {e}");
}

#[test]
fn gaussian_noise() {
    let mut layer = GaussianNoise::<[f32; 23]>::new(0.5);
    let e = check_layer(&mut layer, &batch::<23>(22), 23, 1e-2);
    assert!(e < 1e-3, "worst relative error {e}");
}

#[test]
fn image_shaped_activation() {
    // Activations take any tensor shape: here channels × height × width.
    let mut layer = Tanh::<[[[f32; 3]; 4]; 2]>::DEFAULT;
    let mut x = [[[[0.0; 3]; 4]; 2]; B];
    fill(
        x.as_flattened_mut().as_flattened_mut().as_flattened_mut(),
        24,
        1.0,
    );
    let slack = activation_slack(TANH_ERR, 2.0 * TANH_ERR, 1e-2);
    let e = check_layer_within(&mut layer, &x, 25, 1e-2, slack);
    assert!(e < 1e-2, "worst relative error {e}");
    check_exact_derivative(&mut layer, &x, 25, tanh_derivative, 2.0 * TANH_ERR);
}

/// The network checks' second activation. With `fast-math`, `Tanh` is micromath's
/// approximation, known only to within 1.1e-3: a finite difference of step `h = 1e-2`
/// over it is then known only to within 1.1e-3/h = 0.11 per unit of each of the 48
/// activations' downstream gradient (see [`activation_slack`]), more than the gradients
/// checked, so through `Tanh` these checks would test nothing. A `GaussianNoise` takes its
/// place there (smooth, where a second kink would be straddled by the steps): the chain
/// rule through the network is the same code in both builds, and
/// `Tanh`'s own gradient is checked against its exact derivative in `tanh` and
/// `image_shaped_activation`.
#[cfg(not(feature = "fast-math"))]
type Squash = Tanh<[f32; 12]>;
#[cfg(feature = "fast-math")]
type Squash = GaussianNoise<[f32; 12]>;

fn squash() -> Squash {
    #[cfg(not(feature = "fast-math"))]
    return Tanh::DEFAULT;
    #[cfg(feature = "fast-math")]
    return GaussianNoise::new(0.1);
}

type ThreeLayer = Net![
    Dense<10, 16>,
    BatchNorm<16>,
    LeakyRelu<[f32; 16]>,
    Dense<16, 12>,
    Squash,
    Dropout<[f32; 12]>,
    Dense<12, 5>
];

fn three_layer() -> ThreeLayer {
    let mut net: ThreeLayer = net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        LeakyRelu::new(0.1),
        Dense::ZERO,
        squash(),
        Dropout::new(0.25),
        Dense::ZERO
    ];
    net.init(Init::ReluCompromise, &mut Rng::new(26));
    net
}

#[test]
fn three_layer_network_with_batch_norm() {
    let mut net = three_layer();
    let e = check_layer(&mut net, &batch::<10>(27), 28, 1e-2);
    assert!(e < 2e-2, "worst relative error {e}");
}

#[test]
fn softmax_cross_entropy_through_a_network() {
    // End to end: loss = mean cross-entropy of the network's logits.
    let mut net = three_layer();
    let x = batch::<10>(29);
    let labels: [u16; B] = [0, 3, 4, 1];
    let ctx = Context::new(30);
    let loss = |net: &mut ThreeLayer| -> f64 {
        let mut cache = Box::new(<<ThreeLayer as Layer>::Cache<B> as Zero>::ZERO);
        let (mut y, mut d) = ([[0.0; 5]; B], [[0.0; 5]; B]);
        let mut c = ctx;
        net.forward_train(&x, &mut y, &mut cache, &mut c);
        let loss = softmax_cross_entropy(&y, &labels, &mut d).unwrap();
        if FAST {
            exact_cross_entropy(&y, &labels).0
        } else {
            f64::from(loss)
        }
    };
    let mut cache = Box::new(<<ThreeLayer as Layer>::Cache<B> as Zero>::ZERO);
    let mut grad = Box::new(<<ThreeLayer as Layer>::Grad as Zero>::ZERO);
    let (mut y, mut d) = ([[0.0; 5]; B], [[0.0; 5]; B]);
    let mut c = ctx;
    net.forward_train(&x, &mut y, &mut cache, &mut c);
    softmax_cross_entropy(&y, &labels, &mut d).unwrap();
    if FAST {
        // With `fast-math` the loss's `exp` is micromath's, within 2.5e-3 relative
        // (`firmnet::math`): a finite difference of step 1e-2 over it is known only to
        // within 2·2.5e-3/2h = 0.25, more than the gradients checked. So the network's
        // backward pass is checked on the exact loss gradient against finite differences
        // of the exact loss, and the loss gradient it is given in training against the
        // exact one, by the bound: each `eʸ` within a factor 1 ± 2.5e-3, so each softmax
        // value within a factor (1 ± 2.5e-3)/(1 ∓ 2.5e-3), 5.02e-3 of itself (5.1e-3 with
        // rounding). The backward pass being linear in `d`, the two make the whole.
        let exact = exact_cross_entropy(&y, &labels).1;
        for (i, (row, want)) in d.iter().zip(&exact).enumerate() {
            for (c, (&got, &want)) in row.iter().zip(want).enumerate() {
                let p = want + f64::from(u8::from(usize::from(labels[i]) == c)) / B as f64;
                assert!(
                    (f64::from(got) - want).abs() <= 5.1e-3 * p,
                    "d[{i}][{c}]: {got}, exactly {want}"
                );
            }
        }
        d = exact.map(|row| row.map(|v| v as f32));
    }
    net.backward(&x, &y, &d, None, &mut cache, &mut grad);
    let h = 1e-2;
    for t in 0..ThreeLayer::TENSORS {
        for k in (0..net.tensor(t).len()).step_by(7) {
            let orig = net.tensor(t)[k];
            net.tensor_mut(t)[k] = orig + h;
            let lp = loss(&mut net);
            net.tensor_mut(t)[k] = orig - h;
            let lm = loss(&mut net);
            net.tensor_mut(t)[k] = orig;
            let numeric = (lp - lm) / (2.0 * f64::from(h));
            let analytic = f64::from(grad.tensor(t)[k]);
            let info = ThreeLayer::info(t);
            assert!(
                rel_err(analytic, numeric, 1e-3) < 2e-2,
                "layer {} {}[{k}]: analytic {analytic}, numeric {numeric}",
                info.layer,
                info.name
            );
        }
    }
}

/// Whether `firmnet::math` computes `exp`, `tanh` and `sigmoid` approximately.
const FAST: bool = cfg!(feature = "fast-math");

/// The mean softmax cross-entropy of logits `y` and its gradient, in `f64` with the exact
/// `exp`.
fn exact_cross_entropy(y: &[[f32; 5]; B], labels: &[u16; B]) -> (f64, [[f64; 5]; B]) {
    let mut loss = 0.0;
    let mut grad = [[0.0; 5]; B];
    for ((row, &label), g) in y.iter().zip(labels).zip(&mut grad) {
        let row = row.map(f64::from);
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
        let label = usize::from(label);
        loss += sum.ln() - (row[label] - max);
        for (c, (g, v)) in g.iter_mut().zip(row).enumerate() {
            let p = (v - max).exp() / sum;
            *g = (p - f64::from(u8::from(c == label))) / B as f64;
        }
    }
    (loss / B as f64, grad)
}
