//! Optimizers against hand-computed updates.

use firmnet::optim::{clip_by_norm, clip_by_value, global_norm};
use firmnet::prelude::*;

/// A one-weight, one-bias layer: tensor 0 is θ (a weight), tensor 1 the bias.
type One = Dense<1, 1>;

fn one(theta: f32) -> One {
    let mut d = One::ZERO;
    d.weight = [[theta]];
    d
}

fn grad(g: f32) -> One {
    let mut d = One::ZERO;
    d.weight = [[g]];
    d
}

fn close(a: f32, b: f64, tol: f64) -> bool {
    (f64::from(a) - b).abs() <= tol * b.abs().max(1e-30)
}

#[test]
fn adam_first_three_steps_by_hand() {
    // θ₀ = 1, gradients 0.5, −0.25, 1.0; α = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    //
    // t = 1: m = 0.1·0.5 = 0.05            v = 0.001·0.25 = 0.00025
    //        m̂ = 0.05/0.1 = 0.5            v̂ = 0.00025/0.001 = 0.25
    //        θ = 1 − 0.001·0.5/(0.5 + 1e-8) = 0.99900000002
    // t = 2: m = 0.045 − 0.025 = 0.02      v = 0.00024975 + 0.0000625 = 0.00031225
    //        m̂ = 0.02/0.19 = 0.105263158   v̂ = 0.00031225/0.001999 = 0.156203102
    //        θ = 0.99900000002 − 0.001·0.105263158/0.395225381 = 0.998733663
    // t = 3: m = 0.018 + 0.1 = 0.118       v = 0.00031193775 + 0.001 = 0.00131193775
    //        m̂ = 0.118/0.271 = 0.435424354 v̂ = 0.00131193775/0.002997001 = 0.437750188
    //        θ = 0.998733663 − 0.001·0.435424354/0.661626774 = 0.998075551
    let expected = [
        (0.05, 0.00025, 0.99900000002),
        (0.02, 0.00031225, 0.9987336629870784),
        (0.118, 0.00131193775, 0.9980755513967708),
    ];
    let mut net = one(1.0);
    let mut adam = Adam::<One>::new(AdamConfig::DEFAULT);
    assert_eq!(adam.config, AdamConfig::DEFAULT);
    assert_eq!(
        (
            adam.config.lr,
            adam.config.beta1,
            adam.config.beta2,
            adam.config.eps
        ),
        (0.001, 0.9, 0.999, 1e-8)
    );
    for (t, (g, (m, v, theta))) in [0.5, -0.25, 1.0].into_iter().zip(expected).enumerate() {
        let mut gr = grad(g);
        adam.step(&mut net, &mut gr).unwrap();
        assert_eq!(adam.t, t as u32 + 1);
        assert!(
            close(adam.m.weight[0][0], m, 1e-6),
            "t={} m={}",
            t + 1,
            adam.m.weight[0][0]
        );
        // 0.999 is not exact in f32: 1 − β₂ = 0.00099998713, 1.3e-5 off.
        assert!(
            close(adam.v.weight[0][0], v, 2e-5),
            "t={} v={}",
            t + 1,
            adam.v.weight[0][0]
        );
        assert!(
            close(net.weight[0][0], theta, 1e-7),
            "t={} θ={}",
            t + 1,
            net.weight[0][0]
        );
        // The step consumed the gradient.
        assert_eq!(gr.weight[0][0], 0.0);
        // A zero gradient leaves the bias where it was (m = v = 0 → step 0).
        assert_eq!(net.bias[0], 0.0);
    }
}

#[test]
fn adamw_decays_weights_but_not_biases() {
    // With a zero gradient the Adam step is 0, leaving only θ ← (1 − αλ)·θ.
    let mut net = one(2.0);
    net.bias = [2.0];
    let mut adam = Adam::<One>::new(AdamConfig::adamw(0.1, 0.5));
    adam.step(&mut net, &mut One::ZERO.clone()).unwrap();
    assert!(close(net.weight[0][0], 2.0 * (1.0 - 0.05), 1e-7));
    assert_eq!(net.bias[0], 2.0);
}

#[test]
fn adam_coupled_l2_adds_to_the_gradient() {
    // g' = 0 + λθ = 0.5 → first Adam step moves θ by α·sign(g') = −0.01.
    let mut net = one(1.0);
    let mut cfg = AdamConfig::with_lr(0.01);
    cfg.l2 = 0.5;
    let mut adam = Adam::<One>::new(cfg);
    adam.step(&mut net, &mut One::ZERO.clone()).unwrap();
    assert!(close(net.weight[0][0], 0.99, 1e-6));
    assert!(close(adam.m.weight[0][0], 0.05, 1e-6));
}

#[test]
fn sgd_plain_momentum_and_nesterov_by_hand() {
    let gs = [1.0f32, 1.0, -2.0];
    // Plain: θ = 1 − 0.1·(1 + 1 − 2) = 1.
    // Momentum 0.9: v = 1, 1.9, −0.29; θ = 1 − 0.1·(1 + 1.9 − 0.29) = 0.739.
    // Nesterov 0.9: v as above; d = g + 0.9·v = 1.9, 2.71, −2.261;
    //              θ = 1 − 0.1·(1.9 + 2.71 − 2.261) = 0.7651.
    for (momentum, nesterov, expect) in
        [(0.0, false, 1.0), (0.9, false, 0.739), (0.9, true, 0.7651)]
    {
        let mut net = one(1.0);
        let mut sgd = Sgd::<One>::new(SgdConfig {
            momentum,
            nesterov,
            ..SgdConfig::new(0.1)
        });
        for g in gs {
            sgd.step(&mut net, &mut grad(g)).unwrap();
        }
        assert!(
            close(net.weight[0][0], expect, 1e-6),
            "momentum {momentum} nesterov {nesterov}: {}",
            net.weight[0][0]
        );
    }
}

#[test]
fn clipping_by_norm_keeps_direction_and_bounds_length() {
    let mut g = Dense::<2, 2>::ZERO;
    g.weight = [[3.0, 0.0], [0.0, 0.0]];
    g.bias = [4.0, 0.0];
    assert_eq!(global_norm(&g), 5.0);
    let before = clip_by_norm(&mut g, 1.0);
    assert_eq!(before, 5.0);
    assert!((global_norm(&g) - 1.0).abs() < 1e-6);
    assert!((g.weight[0][0] - 0.6).abs() < 1e-6 && (g.bias[0] - 0.8).abs() < 1e-6);
    // Below the bound nothing changes.
    let copy = g.clone();
    clip_by_norm(&mut g, 10.0);
    assert_eq!(g, copy);
}

#[test]
fn clipping_by_value() {
    let mut g = Dense::<3, 1>::ZERO;
    g.weight = [[-5.0, 0.5, 7.0]];
    clip_by_value(&mut g, 1.0);
    assert_eq!(g.weight, [[-1.0, 0.5, 1.0]]);
}

#[test]
fn clipping_inside_the_step() {
    // SGD with lr 1: the update equals the clipped gradient.
    let mut net = Dense::<2, 1>::ZERO;
    let mut g = Dense::<2, 1>::ZERO;
    g.weight = [[30.0, 40.0]];
    let mut sgd = Sgd::new(SgdConfig {
        clip: Clip::norm(5.0),
        ..SgdConfig::new(1.0)
    });
    sgd.step(&mut net, &mut g).unwrap();
    assert!((net.weight[0][0] + 3.0).abs() < 1e-6 && (net.weight[0][1] + 4.0).abs() < 1e-6);
    let mut net = Dense::<2, 1>::ZERO;
    g.weight = [[30.0, -0.5]];
    let mut sgd = Sgd::new(SgdConfig {
        clip: Clip::value(1.0),
        ..SgdConfig::new(1.0)
    });
    sgd.step(&mut net, &mut g).unwrap();
    assert_eq!(net.weight, [[-1.0, 0.5]]);
}

#[test]
fn non_finite_gradients_are_refused_and_change_nothing() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut net = one(1.0);
        let mut adam = Adam::<One>::new(AdamConfig::DEFAULT);
        let mut g = grad(0.5);
        adam.step(&mut net, &mut g).unwrap();
        let (net0, m0, v0, t0) = (net.clone(), adam.m.clone(), adam.v.clone(), adam.t);
        let mut g = grad(0.5);
        g.bias = [bad];
        let err = adam.step(&mut net, &mut g).unwrap_err();
        assert_eq!(err, Error::NonFinite { what: "gradient" });
        assert!(err.to_string().contains("gradient is not finite"));
        assert_eq!((net, adam.m, adam.v, adam.t), (net0, m0, v0, t0));
        assert_eq!(g.weight, [[0.5]], "gradient left for inspection");
    }
}
