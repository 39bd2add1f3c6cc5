//! Reference networks: the types the examples, benchmarks and firmware share.
//!
//! Nothing in the crate depends on them: every conversion, file and kernel works from a
//! network's type and its layers' descriptions, for any network of firmnet's layers.

use crate::layers::{BatchNorm, Dense, Dropout, Relu};
use crate::{Net, net};

/// The Fashion-MNIST classifier of the main job: 784 → 256 → 128 → 10 with batch
/// normalization, ReLU and dropout 0.2 after each hidden layer (235,914 learned parameters).
/// Its int8 twin is [`Int8<FashionMlp>`](crate::quant::Int8), its float deployment form
/// [`Deployed<FashionMlp>`](crate::deploy::Deployed).
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
/// dropout 0.2. Call [`Layer::init`](crate::layers::Layer::init) before training.
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
