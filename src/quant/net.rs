//! Int8 networks: the [`QLayer`] trait, [`QChain`] and the [`QNet!`](macro@crate::QNet) /
//! [`qnet!`](macro@crate::qnet) macros, and what to do with int8 logits.

use super::QParams;
use crate::tensor::Zero;

/// An int8 inference layer with compile-time sizes.
pub trait QLayer {
    /// One input sample, e.g. `[i8; 784]`.
    type Input: Zero;
    /// One output sample.
    type Output: Zero;
    /// Buffers for one inference (the activations between the layers of a network).
    type Scratch: Zero;
    /// Number of primitive layers.
    const LAYERS: usize = 1;

    /// Inference on one sample.
    fn forward(&self, x: &Self::Input, y: &mut Self::Output, scratch: &mut Self::Scratch);

    /// How the input is quantized (quantize float inputs with it).
    fn input_params(&self) -> QParams;

    /// How the output is quantized (dequantize the outputs with it).
    fn output_params(&self) -> QParams;
}

/// Two int8 layers in sequence; the int8 counterpart of [`Chain`](crate::net::Chain).
#[derive(Clone, Debug, PartialEq)]
pub struct QChain<A: QLayer, B: QLayer<Input = A::Output>> {
    /// The layer that sees the input.
    pub first: A,
    /// The layer (or chain) that follows.
    pub rest: B,
}

impl<A: QLayer, B: QLayer<Input = A::Output>> QChain<A, B> {
    /// `first`, then `rest`.
    pub const fn new(first: A, rest: B) -> Self {
        QChain { first, rest }
    }
}

/// Inference buffers of a [`QChain`]: the members' own (`S`, `R`) and the activation
/// between them (`M`).
///
/// The type names the buffers, not the layers, so a network and its zero-copy view
/// ([`QDenseRef`](crate::format::QDenseRef), whose type carries a lifetime) share one
/// scratch type, and a `static` can hold it.
pub struct QChainScratch<S, M, R> {
    /// Scratch of the first member.
    pub first: S,
    /// The first member's output.
    pub mid: M,
    /// Scratch of the rest.
    pub rest: R,
}

impl<S: Zero, M: Zero, R: Zero> Zero for QChainScratch<S, M, R> {
    const ZERO: Self = QChainScratch {
        first: S::ZERO,
        mid: M::ZERO,
        rest: R::ZERO,
    };
}

impl<A: QLayer, B: QLayer<Input = A::Output>> QLayer for QChain<A, B> {
    type Input = A::Input;
    type Output = B::Output;
    type Scratch = QChainScratch<A::Scratch, A::Output, B::Scratch>;
    const LAYERS: usize = A::LAYERS + B::LAYERS;

    #[inline]
    fn forward(&self, x: &A::Input, y: &mut B::Output, s: &mut Self::Scratch) {
        self.first.forward(x, &mut s.mid, &mut s.first);
        self.rest.forward(&s.mid, y, &mut s.rest);
    }

    fn input_params(&self) -> QParams {
        self.first.input_params()
    }

    fn output_params(&self) -> QParams {
        self.rest.output_params()
    }
}

/// The type of an int8 network from its layer types, input first:
/// `QNet![QDense<784, 256>, QDense<256, 10>]`.
#[macro_export]
macro_rules! QNet {
    ($last:ty $(,)?) => { $last };
    ($first:ty, $($rest:ty),+ $(,)?) => {
        $crate::quant::QChain<$first, $crate::QNet![$($rest),+]>
    };
}

/// An int8 network value from its layer values, matching [`QNet!`](macro@crate::QNet).
#[macro_export]
macro_rules! qnet {
    ($last:expr $(,)?) => { $last };
    ($first:expr, $($rest:expr),+ $(,)?) => {
        $crate::quant::QChain::new($first, $crate::qnet![$($rest),+])
    };
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
