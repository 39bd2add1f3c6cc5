//! Int8 networks: the [`QLayer`] trait, and what to do with int8 logits.
//!
//! An int8 network is a [`Chain`] of int8 layers, as a float network is a chain of float
//! layers: `Net![QDense<784, 256>, QDense<256, 10>]`. Inference is [`Infer`], with an
//! arena of `i8` ([`Scratch`](crate::net::Scratch)).

use super::QParams;
use crate::net::{Chain, Infer};
use crate::tensor::Tensor;

/// An int8 layer or network: [`Infer`] on `i8` tensors, with the quantization of its
/// input and output.
pub trait QLayer: Infer<Input: Tensor<Elem = i8>, Output: Tensor<Elem = i8>> {
    /// How the input is quantized (quantize float inputs with it).
    fn input_params(&self) -> QParams;

    /// How the output is quantized (dequantize the outputs with it).
    fn output_params(&self) -> QParams;
}

impl<A: QLayer, B: QLayer<Input = A::Output>> QLayer for Chain<A, B> {
    fn input_params(&self) -> QParams {
        self.first.input_params()
    }

    fn output_params(&self) -> QParams {
        self.rest.output_params()
    }
}

/// Index of the largest value (the first one on ties): the class an int8 classifier
/// predicts. The dequantization is monotonic, so this is the float argmax. Returns 0 for
/// an empty slice.
pub fn argmax_i8(logits: &[i8]) -> usize {
    let (mut best, mut top) = (0, i8::MIN);
    for (i, &v) in logits.iter().enumerate() {
        if i == 0 || v > top {
            (best, top) = (i, v);
        }
    }
    best
}

/// The indices of the `K` largest values, largest first (lower index first on ties).
/// With fewer than `K` values, the missing places hold `usize::MAX`.
pub fn top_k<const K: usize>(logits: &[i8]) -> [usize; K] {
    let mut top = [usize::MAX; K];
    for (i, &v) in logits.iter().enumerate() {
        // Insertion into the sorted prefix.
        let mut at = K;
        while at > 0 {
            let j = top[at - 1];
            if j != usize::MAX && logits[j] >= v {
                break;
            }
            at -= 1;
        }
        if at < K {
            top.copy_within(at..K - 1, at + 1);
            top[at] = i;
        }
    }
    top
}

/// Softmax probabilities of int8 logits quantized with `params`, written to `probs`
/// (computed in `f32` from the dequantized logits).
pub fn probabilities(logits: &[i8], params: QParams, probs: &mut [f32]) {
    let max = logits.iter().copied().max().unwrap_or(0);
    let mut sum = 0.0;
    for (p, &q) in probs.iter_mut().zip(logits) {
        *p = crate::math::exp(params.scale * f32::from(q as i16 - max as i16));
        sum += *p;
    }
    if sum > 0.0 {
        probs.iter_mut().for_each(|p| *p /= sum);
    }
}
