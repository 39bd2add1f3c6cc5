//! Loss functions with their gradients: softmax cross-entropy (fused, stable) and mean
//! squared error.

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

/// Mean softmax cross-entropy over a batch, and its gradient with respect to the logits.
///
/// For each sample, with `m = max(x)` and `s = Σ e^{x_c − m}`:
/// loss `= ln s − (x_y − m)` and `∂loss/∂x_c = (softmax(x)_c − [c = y]) / B`.
/// Fusing softmax with the logarithm avoids both overflow of `e^x` and `ln 0`.
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
    let inv_b = 1.0 / B as f32;
    let mut total = 0.0;
    for ((x, &y), d) in logits.iter().zip(labels).zip(dlogits.iter_mut()) {
        let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut sum = 0.0;
        for (dc, &xc) in d.iter_mut().zip(x) {
            *dc = math::exp(xc - max);
            sum += *dc;
        }
        total += math::ln(sum) - (x[y as usize] - max);
        let scale = inv_b / sum;
        d.iter_mut().for_each(|dc| *dc *= scale);
        d[y as usize] -= inv_b;
    }
    let loss = total * inv_b;
    if loss.is_finite() {
        Ok(loss)
    } else {
        Err(Error::NonFinite { what: "loss" })
    }
}

/// Mean squared error `Σ (p − t)² / (B·N)` over a batch, and its gradient
/// `2(p − t)/(B·N)` with respect to the predictions.
///
/// # Errors
/// [`Error::NonFinite`] if the loss is NaN or infinite (the gradient is written).
pub fn mse<const N: usize, const B: usize>(
    pred: &[[f32; N]; B],
    target: &[[f32; N]; B],
    dpred: &mut [[f32; N]; B],
) -> Result<f32, Error> {
    let inv = 1.0 / (B * N) as f32;
    let mut total = 0.0;
    for ((p, t), d) in pred
        .as_flattened()
        .iter()
        .zip(target.as_flattened())
        .zip(dpred.as_flattened_mut())
    {
        let e = p - t;
        total += e * e;
        *d = 2.0 * e * inv;
    }
    let loss = total * inv;
    if loss.is_finite() {
        Ok(loss)
    } else {
        Err(Error::NonFinite { what: "loss" })
    }
}
