//! Shared test helpers: finite-difference gradient checks and deterministic data.
#![allow(dead_code)]

pub mod mlperf;

use firmnet::prelude::*;

/// Deterministic pseudo-random values in a fixed range.
pub fn fill(values: &mut [f32], seed: u64, scale: f32) {
    let mut rng = Rng::new(seed);
    values.iter_mut().for_each(|v| *v = scale * rng.normal());
}

/// `L = Σ r·y` over the batch output of a training forward pass, with the context reset to
/// the same state for every evaluation (so dropout masks and noise repeat).
fn projected_loss<L: Layer, const B: usize>(
    layer: &mut L,
    x: &[L::Input; B],
    r: &[L::Output; B],
    ctx: &Context,
) -> f64 {
    let mut y: Box<[L::Output; B]> = Box::new(Zero::ZERO);
    let mut cache: Box<L::Cache<B>> = Box::new(Zero::ZERO);
    let mut c = *ctx;
    layer.forward_train(x, &mut y, &mut cache, &mut c);
    L::Output::batch_slice(&y)
        .iter()
        .zip(L::Output::batch_slice(r))
        .map(|(&a, &b)| f64::from(a) * f64::from(b))
        .sum()
}

/// Relative error that cannot pass by sign: |a − n| / max(|a| + |n|, floor).
pub fn rel_err(analytic: f64, numeric: f64, floor: f64) -> f64 {
    (analytic - numeric).abs() / (analytic.abs() + numeric.abs()).max(floor)
}

/// Checks the input gradient and every parameter gradient of `layer` at batch input `x`
/// against central finite differences of `L = Σ r·y`. Returns the worst relative error.
pub fn check_layer<L: Layer, const B: usize>(
    layer: &mut L,
    x: &[L::Input; B],
    seed: u64,
    h: f32,
) -> f64 {
    check_layer_within(layer, x, seed, h, 0.0)
}

/// The `r` of [`check_layer`]`(…, seed, …)`: the weights of its projected loss.
pub fn projection<L: Layer, const B: usize>(seed: u64) -> Box<[L::Output; B]> {
    let mut r: Box<[L::Output; B]> = Box::new(Zero::ZERO);
    fill(L::Output::batch_slice_mut(&mut r), seed ^ 0xABCD, 1.0);
    r
}

/// [`check_layer`] for an elementwise layer (input `k` feeds output `k` alone) that
/// computes its output only to within some error: input gradient `k` may be off by
/// `slack·|r_k|` besides the relative error, which is what is left over beyond that.
pub fn check_layer_within<L: Layer, const B: usize>(
    layer: &mut L,
    x: &[L::Input; B],
    seed: u64,
    h: f32,
    slack: f64,
) -> f64 {
    let ctx = Context::new(seed);
    let r = projection::<L, B>(seed);

    // Analytic gradients.
    let mut y: Box<[L::Output; B]> = Box::new(Zero::ZERO);
    let mut cache: Box<L::Cache<B>> = Box::new(Zero::ZERO);
    let mut grad: Box<L::Grad> = Box::new(Zero::ZERO);
    let mut dx: Box<[L::Input; B]> = Box::new(Zero::ZERO);
    let mut c = ctx;
    layer.forward_train(x, &mut y, &mut cache, &mut c);
    layer.backward(x, &y, &r, Some(&mut dx), &mut cache, &mut grad);

    let mut worst: f64 = 0.0;
    let mut xp: Box<[L::Input; B]> = Box::new(Zero::ZERO);
    let n_in = L::Input::LEN * B;
    let step = (n_in / 97).max(1);
    for k in (0..n_in).step_by(step) {
        L::Input::batch_slice_mut(&mut xp).copy_from_slice(L::Input::batch_slice(x));
        let orig = L::Input::batch_slice(x)[k];
        L::Input::batch_slice_mut(&mut xp)[k] = orig + h;
        let lp = projected_loss(layer, &xp, &r, &ctx);
        L::Input::batch_slice_mut(&mut xp)[k] = orig - h;
        let lm = projected_loss(layer, &xp, &r, &ctx);
        let numeric = (lp - lm) / (2.0 * f64::from(h));
        let analytic = f64::from(L::Input::batch_slice(&dx)[k]);
        let e = if slack > 0.0 {
            let allowed = slack * f64::from(L::Output::batch_slice(&r)[k]).abs();
            let excess = ((analytic - numeric).abs() - allowed).max(0.0);
            excess / (analytic.abs() + numeric.abs()).max(1e-2)
        } else {
            rel_err(analytic, numeric, 1e-2)
        };
        assert!(
            e < 2e-2,
            "input gradient [{k}]: analytic {analytic}, numeric {numeric}"
        );
        worst = worst.max(e);
    }
    for t in 0..L::TENSORS {
        let len = layer.tensor(t).len();
        let step = (len / 61).max(1);
        for k in (0..len).step_by(step) {
            let orig = layer.tensor(t)[k];
            layer.tensor_mut(t)[k] = orig + h;
            let lp = projected_loss(layer, x, &r, &ctx);
            layer.tensor_mut(t)[k] = orig - h;
            let lm = projected_loss(layer, x, &r, &ctx);
            layer.tensor_mut(t)[k] = orig;
            let numeric = (lp - lm) / (2.0 * f64::from(h));
            let analytic = f64::from(grad.tensor(t)[k]);
            let e = rel_err(analytic, numeric, 1e-2);
            let info = L::info(t);
            assert!(
                e < 2e-2,
                "layer {} {}[{k}]: analytic {analytic}, numeric {numeric}",
                info.layer,
                info.name
            );
            worst = worst.max(e);
        }
    }
    worst
}
