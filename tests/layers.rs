//! Behaviour of individual layers against hand-computed values and published definitions.

mod common;

use firmnet::layers::BatchNormCache;
use firmnet::prelude::*;

#[test]
fn batch_norm_uses_batch_statistics_in_training_and_running_ones_at_inference() {
    let mut bn = BatchNorm::<2>::DEFAULT;
    // Feature 0: 1, 2, 3, 4 → mean 2.5, biased variance 1.25, unbiased 5/3.
    // Feature 1: constant 7 → mean 7, variance 0.
    let x = [[1.0, 7.0], [2.0, 7.0], [3.0, 7.0], [4.0, 7.0]];
    let mut y = [[0.0; 2]; 4];
    let mut cache = BatchNormCache::ZERO;
    bn.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
    assert_eq!(cache.mean, [2.5, 7.0]);
    let s = (1.25f32 + 1e-5).sqrt();
    for (b, row) in y.iter().enumerate() {
        assert!((row[0] - (x[b][0] - 2.5) / s).abs() < 1e-6, "{row:?}");
        assert_eq!(row[1], 0.0);
    }
    // Normalized output: zero mean, unit (biased) variance up to ε.
    let mean: f32 = y.iter().map(|r| r[0]).sum::<f32>() / 4.0;
    let var: f32 = y.iter().map(|r| r[0] * r[0]).sum::<f32>() / 4.0;
    assert!(
        mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-4,
        "{mean} {var}"
    );
    // Running statistics moved 10 % of the way from (0, 1) to the batch's.
    assert!((bn.running_mean[0] - 0.25).abs() < 1e-7);
    assert!((bn.running_mean[1] - 0.7).abs() < 1e-6);
    assert!((bn.running_var[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-6);
    assert!((bn.running_var[1] - 0.9).abs() < 1e-6);
    // Inference normalizes with the running statistics, not the batch's.
    let mut out = [0.0; 2];
    bn.forward_with(&[1.0, 7.0], &mut out, &mut []);
    let expect0 = (1.0 - bn.running_mean[0]) / (bn.running_var[0] + 1e-5).sqrt();
    let expect1 = (7.0 - bn.running_mean[1]) / (bn.running_var[1] + 1e-5).sqrt();
    assert!((out[0] - expect0).abs() < 1e-6 && (out[1] - expect1).abs() < 1e-5);
}

#[test]
fn batch_norm_learned_scale_and_shift() {
    let mut bn = BatchNorm::<1>::DEFAULT;
    bn.gamma = [3.0];
    bn.beta = [-1.0];
    let x = [[0.0], [2.0]];
    let mut y = [[0.0]; 2];
    let mut cache = BatchNormCache::ZERO;
    bn.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
    // x̂ = ∓1/√(1 + 1e-5), y = 3·x̂ − 1.
    let xh = 1.0 / (1.0f32 + 1e-5).sqrt();
    assert!((y[0][0] - (-3.0 * xh - 1.0)).abs() < 1e-6);
    assert!((y[1][0] - (3.0 * xh - 1.0)).abs() < 1e-6);
}

const B: usize = 64;
const N: usize = 1000;

#[test]
fn dropout_keeps_the_expectation_and_is_off_at_inference() {
    let mut layer = Dropout::<[f32; N]>::new(0.3);
    let x = Box::new([[1.0f32; N]; B]);
    let mut y = Box::new(<[[f32; N]; B] as Zero>::ZERO);
    let mut ctx = Context::new(42);
    let mut cache = None;
    layer.forward_train(&x, &mut y, &mut cache, &mut ctx);
    let flat = y.as_flattened();
    let dropped = flat.iter().filter(|&&v| v == 0.0).count() as f64 / flat.len() as f64;
    let mean = flat.iter().map(|&v| f64::from(v)).sum::<f64>() / flat.len() as f64;
    // 64 000 Bernoulli(0.7) draws: the standard error of the drop fraction is 0.0018 and
    // that of the mean 0.0026; allow about 5 of them.
    assert!((dropped - 0.3).abs() < 0.01, "dropped fraction {dropped}");
    assert!((mean - 1.0).abs() < 0.015, "mean {mean}");
    // Survivors are scaled by 1/(1 − p).
    assert!(
        flat.iter()
            .all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6)
    );
    // A second batch draws a different mask.
    let mut y2 = Box::new(<[[f32; N]; B] as Zero>::ZERO);
    layer.forward_train(&x, &mut y2, &mut cache, &mut ctx);
    assert_ne!(y.as_flattened(), y2.as_flattened());
    // Inference: the identity.
    let probe: [f32; N] = core::array::from_fn(|i| i as f32 - 500.0);
    let mut out = [0.0; N];
    layer.forward_with(&probe, &mut out, &mut []);
    assert_eq!(out, probe);
}

#[test]
fn dropout_extremes() {
    let x = [[2.0f32; 8]; 2];
    let mut y = [[0.0f32; 8]; 2];
    let mut ctx = Context::new(1);
    let mut cache = None;
    Dropout::<[f32; 8]>::new(0.0).forward_train(&x, &mut y, &mut cache, &mut ctx);
    assert_eq!(y, x);
    Dropout::<[f32; 8]>::new(1.0).forward_train(&x, &mut y, &mut cache, &mut ctx);
    assert_eq!(y, [[0.0; 8]; 2]);
}

#[test]
fn gaussian_noise_has_the_stated_spread_in_training_only() {
    let mut layer = GaussianNoise::<[f32; N]>::new(0.25);
    let x = Box::new([[3.0f32; N]; B]);
    let mut y = Box::new(<[[f32; N]; B] as Zero>::ZERO);
    layer.forward_train(&x, &mut y, &mut (), &mut Context::new(9));
    let n = (B * N) as f64;
    let mean = y
        .as_flattened()
        .iter()
        .map(|&v| f64::from(v) - 3.0)
        .sum::<f64>()
        / n;
    let var = y
        .as_flattened()
        .iter()
        .map(|&v| (f64::from(v) - 3.0 - mean).powi(2))
        .sum::<f64>()
        / n;
    assert!(mean.abs() < 0.005, "noise mean {mean}");
    assert!(
        (var.sqrt() - 0.25).abs() < 0.005,
        "noise std {}",
        var.sqrt()
    );
    let mut out = [0.0; N];
    layer.forward_with(&[3.0; N], &mut out, &mut []);
    assert_eq!(out, [3.0; N]);
}

#[test]
fn activations_match_their_definitions() {
    let x = [-2.0f32, -0.5, 0.0, 0.5, 2.0];
    let mut y = [0.0; 5];
    Relu::<[f32; 5]>::DEFAULT.forward_with(&x, &mut y, &mut []);
    assert_eq!(y, [0.0, 0.0, 0.0, 0.5, 2.0]);
    LeakyRelu::<[f32; 5]>::new(0.1).forward_with(&x, &mut y, &mut []);
    assert_eq!(y, [-0.2, -0.05, 0.0, 0.5, 2.0]);
    Tanh::<[f32; 5]>::DEFAULT.forward_with(&x, &mut y, &mut []);
    for (a, b) in y.iter().zip(x) {
        assert!((f64::from(*a) - f64::from(b).tanh()).abs() < 1e-3);
    }
    Sigmoid::<[f32; 5]>::DEFAULT.forward_with(&x, &mut y, &mut []);
    for (a, b) in y.iter().zip(x) {
        assert!((f64::from(*a) - 1.0 / (1.0 + (-f64::from(b)).exp())).abs() < 1e-3);
    }
}

#[test]
fn initialization_scales() {
    // Sample standard deviation of each scheme on a 300 × 200 matrix against its formula.
    let (n_in, n_out) = (300usize, 200usize);
    let mut w = vec![0.0f32; n_in * n_out];
    let cases = [
        (Init::GlorotNormal, (2.0 / 500.0f64).sqrt()),
        (Init::GlorotUniform, (2.0 / 500.0f64).sqrt()),
        (Init::HeNormal, (2.0 / 300.0f64).sqrt()),
        (Init::HeUniform, (2.0 / 300.0f64).sqrt()),
        (Init::ReluCompromise, (4.0 / 500.0f64).sqrt()),
        (Init::Normal(0.01), 0.01),
        (Init::Uniform(0.3), 0.3 / 3.0f64.sqrt()),
    ];
    for (scheme, expect) in cases {
        scheme.fill(&mut w, n_in, n_out, &mut Rng::new(3));
        let n = w.len() as f64;
        let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let sd = (w
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        assert!(
            mean.abs() < 3.0 * expect / n.sqrt() + 1e-9,
            "{scheme:?} mean {mean}"
        );
        assert!(
            (sd / expect - 1.0).abs() < 0.01,
            "{scheme:?}: sd {sd}, expected {expect}"
        );
        assert!((f64::from(scheme.std_dev(n_in, n_out)) / expect - 1.0).abs() < 1e-6);
    }
    // Uniform schemes stay inside their bound.
    Init::GlorotUniform.fill(&mut w, n_in, n_out, &mut Rng::new(4));
    let a = (6.0f32 / 500.0).sqrt();
    assert!(w.iter().all(|v| v.abs() <= a));
}

#[test]
fn dense_init_zeroes_biases_and_is_seeded() {
    let mut a = Dense::<20, 10>::ZERO;
    a.bias = [1.0; 10];
    a.init(Init::HeNormal, &mut Rng::new(11));
    assert_eq!(a.bias, [0.0; 10]);
    let mut b = Dense::<20, 10>::ZERO;
    b.init(Init::HeNormal, &mut Rng::new(11));
    assert_eq!(a, b);
    b.init(Init::HeNormal, &mut Rng::new(12));
    assert_ne!(a, b);
}

#[test]
fn network_describes_its_layers_parameters_and_state() {
    use firmnet::layers::ParamKind;
    use firmnet::spec::{Attr, Dtype, TensorMut, TensorRef};
    type N = Net![Dense<6, 5>, BatchNorm<5>, Relu<[f32; 5]>, Dropout<[f32; 5]>, Dense<5, 3>];
    assert_eq!(N::LAYERS, 5);
    let expect = [
        ("dense", 6, 5),
        ("batch_norm", 5, 5),
        ("relu", 5, 5),
        ("dropout", 5, 5),
        ("dense", 5, 3),
    ];
    for (i, (kind, inputs, outputs)) in expect.into_iter().enumerate() {
        let spec = N::layer_spec(i).unwrap();
        assert_eq!(
            (spec.kind, spec.input.len(), spec.output.len()),
            (kind, inputs, outputs),
            "layer {i}"
        );
    }
    assert!(N::layer_spec(5).is_none());
    let params: Vec<_> = (0..N::TENSORS)
        .map(|i| {
            let p = N::info(i);
            (p.layer, p.name, p.rows, p.cols)
        })
        .collect();
    assert_eq!(
        params,
        [
            (0, "weight", 5, 6),
            (0, "bias", 1, 5),
            (1, "gamma", 1, 5),
            (1, "beta", 1, 5),
            (4, "weight", 3, 5),
            (4, "bias", 1, 3)
        ]
    );
    assert_eq!(N::count(), 30 + 5 + 5 + 5 + 15 + 3);
    // The learned tensors of every layer's spec are its parameters, in Params order.
    let mut p = 0;
    for i in 0..N::LAYERS {
        for t in N::layer_spec(i)
            .unwrap()
            .tensors
            .iter()
            .filter(|t| t.learned)
        {
            assert_eq!((N::info(p).layer, N::info(p).name), (i, t.name));
            p += 1;
        }
    }
    assert_eq!(p, N::TENSORS);
    let bn = N::layer_spec(1).unwrap();
    let stats: Vec<_> = bn
        .tensors
        .iter()
        .filter(|t| !t.learned)
        .map(|t| (t.name, t.kind, t.dtype, t.shape.dims().to_vec()))
        .collect();
    assert_eq!(
        stats,
        [
            ("running_mean", ParamKind::RunningMean, Dtype::F32, vec![5]),
            ("running_var", ParamKind::RunningVar, Dtype::F32, vec![5]),
        ]
    );
    let mut net: N = net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dropout::DEFAULT,
        Dense::ZERO
    ];
    let layer = net.layer(1).unwrap();
    assert_eq!(layer.tensor(3), Some(TensorRef::F32(&[1.0; 5])));
    assert_eq!(layer.attr(0), Some(Attr::F32(1e-5)));
    assert_eq!(layer.attr(1), Some(Attr::F32(0.1)));
    assert_eq!(net.layer(3).unwrap().attr(0), Some(Attr::F32(0.5)));
    match net.layer_mut(1).unwrap().tensor_mut(2) {
        Some(TensorMut::F32(mean)) => mean[2] = 4.0,
        other => panic!("running mean: {other:?}"),
    }
    assert_eq!(net.rest.first.running_mean[2], 4.0);
    assert!(net.layer_mut(3).unwrap().set_attr(0, Attr::F32(0.25)));
    assert!(!net.layer_mut(3).unwrap().set_attr(0, Attr::I32(1)));
    assert_eq!(net.rest.rest.rest.first.rate, 0.25);
    net.tensor_mut(4)[0] = 9.0;
    assert_eq!(net.rest.rest.rest.rest.weight[0][0], 9.0);
}

#[test]
fn gradients_name_their_tensors_like_the_network() {
    type N = Net![Dense<3, 4>, Relu<[f32; 4]>, BatchNorm<4>, Dense<4, 2>];
    type G = <N as Layer>::Grad;
    assert_eq!(G::TENSORS, N::TENSORS);
    for i in 0..N::TENSORS {
        assert_eq!(G::info(i), N::info(i));
    }
    assert_eq!(G::info(4).layer, 3);
}
