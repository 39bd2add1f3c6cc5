//! Losses and their gradients.
//!
//! A [`Loss`] says what one sample's target is and how far an output is from it; the
//! training step ([`train::step`](crate::train::step)) is generic over it, so one trainer
//! serves every task:
//!
//! | loss | task | target per sample | output |
//! | --- | --- | --- | --- |
//! | [`SoftmaxCrossEntropy`] | classification, one class of `N` | class label `u16` | `N` logits |
//! | [`MeanSquaredError`] | regression | `[f32; N]` | `N` values |
//! | [`Huber`] | regression robust to outliers | `[f32; N]` | `N` values |
//! | [`BinaryCrossEntropy`] | multi-label: each of `N` labels on or off | `[f32; N]` in `[0, 1]` | `N` logits |
//!
//! Every loss is the mean over the batch of a per-sample loss, and each is checked against
//! finite differences of itself in `tests/gradients.rs`. The fused forms (softmax with the
//! logarithm, sigmoid with the binary cross-entropy) never overflow and never take `ln 0`.
//!
//! ```
//! use firmnet::loss::{Huber, Loss, MeanSquaredError};
//!
//! let out = [[1.0, -2.0]];
//! let target = [[0.5, 1.0]];
//! let mut grad = [[0.0; 2]];
//! // ((1 − 0.5)² + (−2 − 1)²) / 2 = 4.625
//! assert_eq!(MeanSquaredError.batch(&out, &target, &mut grad), Ok(4.625));
//! assert_eq!(grad, [[0.5, -3.0]]);
//! // Huber with δ = 1: ½·0.5² and 1·(3 − ½), averaged over the two outputs.
//! assert_eq!(Huber::new(1.0).batch(&out, &target, &mut grad), Ok((0.125 + 2.5) / 2.0));
//! assert_eq!(grad, [[0.25, -0.5]]);
//! ```

use crate::error::Error;
use crate::math;

/// Index of the largest value (the first one on ties); 0 for an empty slice. NaN never
/// wins a comparison.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Softmax of `logits` into `probs`, computed as `e^{x−max}/Σe^{x−max}` so that no
/// exponential overflows.
pub fn softmax<const C: usize>(logits: &[f32; C], probs: &mut [f32; C]) {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
    let mut sum = 0.0;
    for (p, &x) in probs.iter_mut().zip(logits) {
        *p = math::exp(x - max);
        sum += *p;
    }
    let inv = 1.0 / sum;
    probs.iter_mut().for_each(|p| *p *= inv);
}

/// A training objective over networks with `N` outputs: what a sample's target is, the
/// sample's loss and its gradient with respect to the outputs.
///
/// Implement it for a loss of your own and every training function takes it.
pub trait Loss<const N: usize> {
    /// One sample's target: a class label, a vector of values, a set of labels.
    type Target: Copy + core::fmt::Debug + PartialEq;

    /// The loss of one sample with outputs `out` and target `target`; writes
    /// `weight · ∂loss/∂out` into `grad`.
    ///
    /// # Errors
    /// [`Error::LabelOutOfRange`] or [`Error::TargetOutOfRange`] (with `sample` 0) for a
    /// target this loss does not accept; `grad` is then unspecified.
    fn sample(
        &self,
        out: &[f32; N],
        target: &Self::Target,
        weight: f32,
        grad: &mut [f32; N],
    ) -> Result<f32, Error>;

    /// The mean loss over a batch, and its gradient with respect to the outputs in
    /// `grad`: each sample's [`sample`](Self::sample) with weight `1/B`, summed in order,
    /// then multiplied by `1/B`.
    ///
    /// # Errors
    /// As [`sample`](Self::sample), naming the sample's position in the batch;
    /// [`Error::NonFinite`] if the loss is NaN or infinite (the gradient is written).
    fn batch<const B: usize>(
        &self,
        out: &[[f32; N]; B],
        targets: &[Self::Target; B],
        grad: &mut [[f32; N]; B],
    ) -> Result<f32, Error> {
        let inv_b = 1.0 / B as f32;
        let mut total = 0.0;
        for (i, ((o, t), g)) in out.iter().zip(targets).zip(grad.iter_mut()).enumerate() {
            total += self.sample(o, t, inv_b, g).map_err(|e| at_sample(e, i))?;
        }
        finite(total * inv_b)
    }
}

/// `e` with the sample position `i` filled in.
fn at_sample(e: Error, i: usize) -> Error {
    match e {
        Error::LabelOutOfRange { label, classes, .. } => Error::LabelOutOfRange {
            sample: i,
            label,
            classes,
        },
        Error::TargetOutOfRange {
            output,
            value,
            range,
            ..
        } => Error::TargetOutOfRange {
            sample: i,
            output,
            value,
            range,
        },
        other => other,
    }
}

fn finite(loss: f32) -> Result<f32, Error> {
    if loss.is_finite() {
        Ok(loss)
    } else {
        Err(Error::NonFinite { what: "loss" })
    }
}

/// Softmax cross-entropy for classification into one of `N` classes: the target is the
/// class label.
///
/// With `m = max(x)` and `s = Σ e^{x_c − m}`: loss `= ln s − (x_y − m)` and
/// `∂loss/∂x_c = softmax(x)_c − [c = y]`. Fusing softmax with the logarithm avoids both
/// overflow of `e^x` and `ln 0`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SoftmaxCrossEntropy;

impl<const N: usize> Loss<N> for SoftmaxCrossEntropy {
    type Target = u16;

    fn sample(&self, x: &[f32; N], &y: &u16, weight: f32, d: &mut [f32; N]) -> Result<f32, Error> {
        let y = usize::from(y);
        if y >= N {
            return Err(Error::LabelOutOfRange {
                sample: 0,
                label: y,
                classes: N,
            });
        }
        let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut sum = 0.0;
        for (dc, &xc) in d.iter_mut().zip(x) {
            *dc = math::exp(xc - max);
            sum += *dc;
        }
        let scale = weight / sum;
        d.iter_mut().for_each(|dc| *dc *= scale);
        d[y] -= weight;
        Ok(math::ln(sum) - (x[y] - max))
    }
}

/// Mean squared error for regression: `Σ_o (x_o − t_o)² / N` per sample, gradient
/// `2(x_o − t_o)/N`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MeanSquaredError;

impl<const N: usize> Loss<N> for MeanSquaredError {
    type Target = [f32; N];

    fn sample(
        &self,
        x: &[f32; N],
        t: &[f32; N],
        weight: f32,
        d: &mut [f32; N],
    ) -> Result<f32, Error> {
        let inv_n = 1.0 / N as f32;
        let scale = 2.0 * weight * inv_n;
        let mut total = 0.0;
        for ((dc, &xc), &tc) in d.iter_mut().zip(x).zip(t) {
            let e = xc - tc;
            total += e * e;
            *dc = scale * e;
        }
        Ok(total * inv_n)
    }
}

/// The Huber loss (Huber, 1964) for regression with outliers: quadratic for errors up to
/// `δ`, linear beyond, averaged over the `N` outputs —
/// `½e²` for `|e| ≤ δ`, `δ(|e| − ½δ)` otherwise; gradient `e` clamped to `[−δ, δ]`
/// (divided by `N`). Large errors pull with a bounded force, so a few wild targets do not
/// dominate the fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Huber {
    /// The error at which the loss turns from quadratic to linear (positive).
    pub delta: f32,
}

impl Huber {
    /// The Huber loss with threshold `delta`.
    pub const fn new(delta: f32) -> Self {
        Huber { delta }
    }
}

impl Default for Huber {
    /// `δ = 1`, PyTorch's and Keras' default.
    fn default() -> Self {
        Huber::new(1.0)
    }
}

impl<const N: usize> Loss<N> for Huber {
    type Target = [f32; N];

    fn sample(
        &self,
        x: &[f32; N],
        t: &[f32; N],
        weight: f32,
        d: &mut [f32; N],
    ) -> Result<f32, Error> {
        if !(self.delta > 0.0 && self.delta.is_finite()) {
            return Err(Error::InvalidSetting {
                what: "Huber delta (must be positive and finite)",
            });
        }
        let delta = self.delta;
        let inv_n = 1.0 / N as f32;
        let scale = weight * inv_n;
        let mut total = 0.0;
        for ((dc, &xc), &tc) in d.iter_mut().zip(x).zip(t) {
            let e = xc - tc;
            if e.abs() <= delta {
                total += 0.5 * e * e;
                *dc = scale * e;
            } else {
                total += delta * (e.abs() - 0.5 * delta);
                *dc = scale * delta.copysign(e);
            }
        }
        Ok(total * inv_n)
    }
}

/// Binary cross-entropy on logits, for multi-label classification: each of the `N` outputs
/// is the logit of an independent yes/no label, and the target says which are on (1), off
/// (0), or a probability in between. Per output, with `σ` the sigmoid:
/// `−t·ln σ(x) − (1 − t)·ln(1 − σ(x)) = max(x, 0) − x·t + ln(1 + e^{−|x|})`, the form that
/// never overflows; gradient `σ(x) − t`. Averaged over the `N` outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BinaryCrossEntropy;

impl<const N: usize> Loss<N> for BinaryCrossEntropy {
    type Target = [f32; N];

    fn sample(
        &self,
        x: &[f32; N],
        t: &[f32; N],
        weight: f32,
        d: &mut [f32; N],
    ) -> Result<f32, Error> {
        if let Some((output, &value)) = t
            .iter()
            .enumerate()
            .find(|&(_, v)| !(0.0..=1.0).contains(v))
        {
            return Err(Error::TargetOutOfRange {
                sample: 0,
                output,
                value,
                range: "[0, 1]",
            });
        }
        let inv_n = 1.0 / N as f32;
        let scale = weight * inv_n;
        let mut total = 0.0;
        for ((dc, &xc), &tc) in d.iter_mut().zip(x).zip(t) {
            // ln(1 + e^{−|x|}) with e^{−|x|} ≤ 1: no overflow, and ln's argument ≥ 1.
            let e = math::exp(-xc.abs());
            total += xc.max(0.0) - xc * tc + math::ln(1.0 + e);
            // σ(x) from the same e^{−|x|}: 1/(1+e) for x ≥ 0, e/(1+e) below.
            let p = if xc >= 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            *dc = scale * (p - tc);
        }
        Ok(total * inv_n)
    }
}

/// Mean softmax cross-entropy over a batch, and its gradient with respect to the logits:
/// [`SoftmaxCrossEntropy`]'s [`batch`](Loss::batch).
///
/// # Errors
/// [`Error::LabelOutOfRange`] if a label is not below `C` (nothing is written then);
/// [`Error::NonFinite`] if the loss is NaN or infinite (the gradient is written).
pub fn softmax_cross_entropy<const C: usize, const B: usize>(
    logits: &[[f32; C]; B],
    labels: &[u16; B],
    dlogits: &mut [[f32; C]; B],
) -> Result<f32, Error> {
    if let Some((sample, &label)) = labels.iter().enumerate().find(|&(_, &l)| l as usize >= C) {
        return Err(Error::LabelOutOfRange {
            sample,
            label: label as usize,
            classes: C,
        });
    }
    SoftmaxCrossEntropy.batch(logits, labels, dlogits)
}

/// Mean squared error over a batch, and its gradient with respect to the predictions:
/// [`MeanSquaredError`]'s [`batch`](Loss::batch).
///
/// # Errors
/// [`Error::NonFinite`] if the loss is NaN or infinite (the gradient is written).
pub fn mse<const N: usize, const B: usize>(
    pred: &[[f32; N]; B],
    target: &[[f32; N]; B],
    dpred: &mut [[f32; N]; B],
) -> Result<f32, Error> {
    MeanSquaredError.batch(pred, target, dpred)
}
