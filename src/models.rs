//! Reference networks: the types the examples, benchmarks and firmware share.

use crate::layers::{BatchNorm, Dense, Dropout, Layer, Relu};
use crate::quant::{QDense, QParams, QuantError};
use crate::{Net, QNet, net, qnet};

/// The Fashion-MNIST classifier of the main job: 784 → 256 → 128 → 10 with batch
/// normalization, ReLU and dropout 0.2 after each hidden layer (235,914 learned parameters).
pub type FashionMlp = Net![
    Dense<784, 256>,
    BatchNorm<256>,
    Relu<[f32; 256]>,
    Dropout<[f32; 256]>,
    Dense<256, 128>,
    BatchNorm<128>,
    Relu<[f32; 128]>,
    Dropout<[f32; 128]>,
    Dense<128, 10>
];

/// [`FashionMlp`] before initialization: zero weights, identity batch normalization,
/// dropout 0.2. Call [`Layer::init`] before training.
pub const FASHION_MLP: FashionMlp = net![
    Dense::ZERO,
    BatchNorm::DEFAULT,
    Relu::DEFAULT,
    Dropout::new(0.2),
    Dense::ZERO,
    BatchNorm::DEFAULT,
    Relu::DEFAULT,
    Dropout::new(0.2),
    Dense::ZERO
];

/// The int8 twin of [`FashionMlp`], of the same sizes: each dense layer with the batch
/// normalization after it folded in and the ReLU fused, dropout gone (it is the identity at
/// inference). Its weights take 235 KB; [`quantize_fashion_mlp`] builds it.
pub type FashionMlpQ = QNet![QDense<784, 256>, QDense<256, 128>, QDense<128, 10>];

/// [`FashionMlpQ`] with zero weights, for `static` items filled later.
pub const FASHION_MLP_Q: FashionMlpQ = qnet![QDense::ZERO, QDense::ZERO, QDense::ZERO];

/// The float activations of `net` (inference mode) at the boundaries of its int8 twin's
/// layers, for one input: after the first hidden ReLU, after the second, and the logits.
pub fn fashion_mlp_activations(
    net: &FashionMlp,
    x: &[f32; 784],
    h1: &mut [f32; 256],
    h2: &mut [f32; 128],
    logits: &mut [f32; 10],
) {
    let (dense0, bn0, dense1, bn1, dense2) = fashion_mlp_parts(net);
    let mut a1 = [0.0; 256];
    let mut a2 = [0.0; 128];
    dense0.forward(x, &mut a1, &mut ());
    bn0.forward(&a1, h1, &mut ());
    h1.iter_mut().for_each(|v| *v = v.max(0.0));
    dense1.forward(h1, &mut a2, &mut ());
    bn1.forward(&a2, h2, &mut ());
    h2.iter_mut().for_each(|v| *v = v.max(0.0));
    dense2.forward(h2, logits, &mut ());
}

/// Writes into `out` the int8 twin of a trained [`FashionMlp`], for inputs quantized with
/// `input` and the activation ranges `h1` (first hidden layer, after its ReLU), `h2`
/// (second) and `logits`, calibrated on training data (the host's `host::quantize` does
/// it). In place, so that the 235 KB network can live in a `static` or a `Box`.
///
/// # Errors
/// [`QuantError`] from [`QDense::quantize_from`] for a layer that cannot be quantized; the
/// layers before it are then already converted, the others unchanged.
pub fn quantize_fashion_mlp(
    net: &FashionMlp,
    input: QParams,
    h1: QParams,
    h2: QParams,
    logits: QParams,
    out: &mut FashionMlpQ,
) -> Result<(), QuantError> {
    let (dense0, bn0, dense1, bn1, dense2) = fashion_mlp_parts(net);
    out.first
        .quantize_from(dense0, Some(bn0), true, input, h1)?;
    out.rest
        .first
        .quantize_from(dense1, Some(bn1), true, h1, h2)?;
    out.rest.rest.quantize_from(dense2, None, false, h2, logits)
}

/// The layers of a [`FashionMlp`] that carry weights, in order.
#[allow(clippy::type_complexity)]
fn fashion_mlp_parts(
    net: &FashionMlp,
) -> (
    &Dense<784, 256>,
    &BatchNorm<256>,
    &Dense<256, 128>,
    &BatchNorm<128>,
    &Dense<128, 10>,
) {
    // The chain nests as Dense, (BatchNorm, (ReLU, (Dropout, (Dense, …)))).
    let after_dense0 = &net.rest;
    let dense1 = &after_dense0.rest.rest.rest;
    let after_dense1 = &dense1.rest;
    (
        &net.first,
        &after_dense0.first,
        &dense1.first,
        &after_dense1.first,
        &after_dense1.rest.rest.rest,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Params;

    #[test]
    fn parameter_count() {
        // 784·256 + 256 + 2·256 + 256·128 + 128 + 2·128 + 128·10 + 10
        assert_eq!(FashionMlp::count(), 235_914);
    }
}
