//! Post-training quantization on the host: activation ranges calibrated on training data,
//! the main MLP's conversion to int8, and evaluation of int8 networks.

use std::prelude::rust_2024::*;
use std::vec;

use super::trainer::{Evaluation, Samples};
use crate::loss::softmax_cross_entropy;
use crate::models::{
    FASHION_MLP_Q, FashionMlp, FashionMlpQ, fashion_mlp_activations, quantize_fashion_mlp,
};
use crate::quant::{QLayer, QParams, QuantError, argmax_i8};
use crate::tensor::Zero;

/// How an activation range is chosen from the values seen in calibration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RangeMethod {
    /// The smallest and largest value seen: nothing clips, outliers cost resolution.
    MinMax,
    /// The given percentiles of the values (e.g. `Percentile(99.99)`: the range from the
    /// 0.01th to the 99.99th percentile); the few values outside clip.
    Percentile(f32),
    /// The range, shrunk from min/max, that minimizes the mean squared quantization
    /// error over the values (rounding and clipping error together).
    Mse,
}

/// Quantization parameters for `values` (the calibration activations of one tensor).
/// Empty input gives scale 1, zero point 0. Non-finite values are ignored.
pub fn calibrate(values: &[f32], method: RangeMethod) -> QParams {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return QParams::from_range(0.0, 0.0);
    }
    v.sort_by(f32::total_cmp);
    let (min, max) = (v[0], v[v.len() - 1]);
    match method {
        RangeMethod::MinMax => QParams::from_range(min, max),
        RangeMethod::Percentile(p) => {
            let p = f64::from(p.clamp(50.0, 100.0)) / 100.0;
            let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
            QParams::from_range(at(1.0 - p), at(p))
        }
        RangeMethod::Mse => {
            // A subsample keeps the search cheap; 100 shrink factors from 1 down to 0.2.
            let step = (v.len() / 20_000).max(1);
            let sample: Vec<f32> = v.iter().step_by(step).copied().collect();
            let mut best = (f64::INFINITY, QParams::from_range(min, max));
            for k in 0..100 {
                let f = 1.0 - 0.008 * k as f32;
                let q = QParams::from_range(min * f, max * f);
                let err: f64 = sample
                    .iter()
                    .map(|&x| f64::from(q.dequantize(q.quantize(x)) - x).powi(2))
                    .sum();
                if err < best.0 {
                    best = (err, q);
                }
            }
            best.1
        }
    }
}

/// The int8 twin of a trained [`FashionMlp`], on the heap: its activations are recorded on
/// `calibration` (inputs as the float network takes them, quantized by `input`) and their
/// ranges chosen by `method`.
///
/// # Errors
/// [`QuantError`] if a layer cannot be quantized.
pub fn quantize_fashion_mlp_calibrated(
    net: &FashionMlp,
    input: QParams,
    calibration: &Samples<784>,
    method: RangeMethod,
) -> Result<Box<FashionMlpQ>, QuantError> {
    let n = calibration.len();
    let (mut h1s, mut h2s, mut outs) = (
        Vec::with_capacity(n * 256),
        Vec::with_capacity(n * 128),
        Vec::with_capacity(n * 10),
    );
    let (mut h1, mut h2, mut logits) = ([0.0; 256], [0.0; 128], [0.0; 10]);
    for x in &calibration.x {
        fashion_mlp_activations(net, x, &mut h1, &mut h2, &mut logits);
        h1s.extend_from_slice(&h1);
        h2s.extend_from_slice(&h2);
        outs.extend_from_slice(&logits);
    }
    let mut q = Box::new(FASHION_MLP_Q);
    quantize_fashion_mlp(
        net,
        input,
        calibrate(&h1s, method),
        calibrate(&h2s, method),
        calibrate(&outs, method),
        &mut q,
    )?;
    Ok(q)
}

/// Evaluates an int8 classifier on float samples: each input is quantized with the
/// network's [`input_params`](QLayer::input_params), the prediction is the argmax of the
/// int8 logits, and the loss the cross-entropy of the dequantized logits.
pub fn evaluate_int8<Q, const D: usize, const C: usize>(net: &Q, data: &Samples<D>) -> Evaluation
where
    Q: QLayer<Input = [i8; D], Output = [i8; C]>,
{
    let mut scratch = Box::new(Q::Scratch::ZERO);
    let (input, output) = (net.input_params(), net.output_params());
    let mut xq = [0i8; D];
    let mut yq = [0i8; C];
    let (mut total, mut correct) = (0.0f64, 0usize);
    let mut predictions = vec![0u16; data.len()];
    for ((x, &y), p) in data.x.iter().zip(&data.y).zip(predictions.iter_mut()) {
        input.quantize_slice(x, &mut xq);
        net.forward(&xq, &mut yq, &mut scratch);
        let logits = [yq.map(|q| output.dequantize(q))];
        let mut d = [[0.0; C]];
        total += f64::from(softmax_cross_entropy(&logits, &[y], &mut d).unwrap_or(f32::INFINITY));
        *p = argmax_i8(&yq) as u16;
        correct += usize::from(*p == y);
    }
    let n = data.len().max(1) as f64;
    Evaluation {
        loss: (total / n) as f32,
        accuracy: (correct as f64 / n) as f32,
        predictions,
    }
}
