//! Reference networks: the types the examples, benchmarks and firmware share.
//!
//! Nothing in the crate depends on them: every conversion, file and kernel works from a
//! network's type and its layers' descriptions, for any network of firmnet's layers.

use crate::layers::{BatchNorm, BatchNorm2d, Conv2d, Dense, Dropout, Flatten, MaxPool2d, Relu};
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

/// A 28×28 image of one channel, as [`FashionCnn`] takes it (row-major pixels, channels
/// last: the same 784 values in the same order as [`FashionMlp`]'s input vector).
pub type Image = [[[f32; 1]; 28]; 28];

/// The convolutional Fashion-MNIST classifier of the main job (80,794 learned
/// parameters):
///
/// | block | layers | output |
/// | --- | --- | --- |
/// | 1 | 3×3 convolution 1 → 16 (`Same`), batch normalization, ReLU, 2×2 max-pool | 14×14×16 |
/// | 2 | 3×3 convolution 16 → 32 (`Same`), batch normalization, ReLU, 2×2 max-pool | 7×7×32 |
/// | head | flatten, dropout 0.1, dense 1,568 → 48, batch normalization, ReLU, dense 48 → 10 | 10 |
///
/// Every layer has an int8 form: batch normalization folds into the convolution or dense
/// layer before it, ReLU into its clamp, dropout disappears. Its int8 twin is
/// [`Int8<FashionCnn>`](crate::quant::Int8).
pub type FashionCnn = Net![
    Conv2d<28, 28, 1, 16, 3, 3, 28, 28>,
    BatchNorm2d<28, 28, 16>,
    Relu<[[[f32; 16]; 28]; 28]>,
    MaxPool2d<28, 28, 16, 2, 2, 14, 14, 2>,
    Conv2d<14, 14, 16, 32, 3, 3, 14, 14>,
    BatchNorm2d<14, 14, 32>,
    Relu<[[[f32; 32]; 14]; 14]>,
    MaxPool2d<14, 14, 32, 2, 2, 7, 7, 2>,
    Flatten<7, 7, 32, 1568>,
    Dropout<[f32; 1568]>,
    Dense<1568, 48>,
    BatchNorm<48>,
    Relu<[f32; 48]>,
    Dense<48, 10>
];

/// [`FashionCnn`] before initialization: zero weights, identity batch normalization,
/// dropout 0.1. Call [`Layer::init`](crate::layers::Layer::init) before training.
pub const FASHION_CNN: FashionCnn = net![
    Conv2d::ZERO,
    BatchNorm2d::DEFAULT,
    Relu::DEFAULT,
    MaxPool2d::DEFAULT,
    Conv2d::ZERO,
    BatchNorm2d::DEFAULT,
    Relu::DEFAULT,
    MaxPool2d::DEFAULT,
    Flatten::DEFAULT,
    Dropout::new(0.1),
    Dense::ZERO,
    BatchNorm::DEFAULT,
    Relu::DEFAULT,
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

    #[test]
    fn cnn_parameter_count() {
        // Convolutions 9·16 + 16 and 144·32 + 32, their batch normalizations 2·16 and
        // 2·32; dense 1568·48 + 48, its batch normalization 2·48, dense 48·10 + 10.
        let count = 160 + 32 + 4_640 + 64 + 75_312 + 96 + 490;
        assert_eq!(count, 80_794);
        assert_eq!(FashionCnn::count(), count);
        assert!(FashionCnn::count() < 100_000);
    }
}
