//! Accuracy under adversarial attack.

use std::prelude::rust_2024::*;

use super::trainer::{Evaluation, Samples, as_row, evaluate};
use crate::layers::{Context, Layer, Params};
use crate::tensor::Zero;
use crate::train::{Fgsm, TrainBuffers, fgsm};

/// Evaluates `net` on FGSM examples of `data`: every sample is replaced by
/// `x + ε·sign(∇ₓJ)` (clamped as `attack` says), with the gradient of the deployed network
/// — inference mode, batch normalization with its running statistics, no dropout — and the
/// perturbed samples are classified by that same network. White-box, one step.
///
/// The gradients are computed `B` samples at a time; a last partial batch is padded with
/// repeats whose results are dropped. `net` is not changed. The network's input is any
/// float tensor of `D` elements ([`as_input`](super::trainer::as_input)).
pub fn evaluate_fgsm<L, const D: usize, const C: usize, const B: usize>(
    net: &L,
    data: &Samples<D>,
    attack: &Fgsm,
) -> Evaluation
where
    L: Layer<Output = [f32; C]> + Clone + Zero,
{
    let adversarial = fgsm_examples::<L, D, C, B>(net, data, attack);
    evaluate(net, &adversarial)
}

/// The FGSM examples of `data` against `net` in inference mode (see [`evaluate_fgsm`]),
/// with the labels of `data`.
pub fn fgsm_examples<L, const D: usize, const C: usize, const B: usize>(
    net: &L,
    data: &Samples<D>,
    attack: &Fgsm,
) -> Samples<D>
where
    L: Layer<Output = [f32; C]> + Clone + Zero,
{
    let mut net = crate::boxed::clone(net);
    let mut buf = crate::boxed::zero::<TrainBuffers<L, B>>();
    let mut ctx = Context::inference();
    let mut x = crate::boxed::zero::<[L::Input; B]>();
    let mut adv = crate::boxed::zero::<[L::Input; B]>();
    let mut y = [0u16; B];
    let mut out = Samples {
        x: Vec::with_capacity(data.len()),
        y: data.y.clone(),
    };
    let mut start = 0;
    while start < data.len() {
        let n = (data.len() - start).min(B);
        for k in 0..B {
            // Pad a last partial batch by cycling through its samples.
            let i = start + k % n;
            x[k] = *data.input(i);
            y[k] = data.y[i];
        }
        // A label out of range or a non-finite loss leaves that batch unperturbed.
        if fgsm(&mut *net, &mut buf, &mut ctx, &x, &y, attack, &mut adv).is_err() {
            adv.copy_from_slice(&x[..]);
        }
        buf.grad.zero_all();
        out.x.extend(adv[..n].iter().map(as_row::<L::Input, D>));
        start += n;
    }
    out
}
