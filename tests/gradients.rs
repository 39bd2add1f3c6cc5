//! Finite-difference gradient checks for every layer and for whole networks.

mod common;

use common::{check_layer, fill, rel_err};
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
    let e = check_layer(&mut layer, &batch::<11>(16), 17, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

#[test]
fn sigmoid() {
    let mut layer = Sigmoid::<[f32; 11]>::DEFAULT;
    let e = check_layer(&mut layer, &batch::<11>(18), 19, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
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
    let e = check_layer(&mut layer, &x, 25, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

type ThreeLayer = Net![
    Dense<10, 16>,
    BatchNorm<16>,
    LeakyRelu<[f32; 16]>,
    Dense<16, 12>,
    Tanh<[f32; 12]>,
    Dropout<[f32; 12]>,
    Dense<12, 5>
];

fn three_layer() -> ThreeLayer {
    let mut net: ThreeLayer = net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        LeakyRelu::new(0.1),
        Dense::ZERO,
        Tanh::DEFAULT,
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
        f64::from(softmax_cross_entropy(&y, &labels, &mut d).unwrap())
    };
    let mut cache = Box::new(<<ThreeLayer as Layer>::Cache<B> as Zero>::ZERO);
    let mut grad = Box::new(<<ThreeLayer as Layer>::Grad as Zero>::ZERO);
    let (mut y, mut d) = ([[0.0; 5]; B], [[0.0; 5]; B]);
    let mut c = ctx;
    net.forward_train(&x, &mut y, &mut cache, &mut c);
    softmax_cross_entropy(&y, &labels, &mut d).unwrap();
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
