//! Layers with compile-time sizes: the [`Layer`] trait and its implementations.
//!
//! # The interface
//! A layer maps one fixed-size [`Tensor`] to another. Its struct holds **only what inference
//! needs** — weights, biases, normalization statistics, rates — and every other piece of
//! state has a type of its own, named by the trait, sized at compile time and built in a
//! `const` context:
//!
//! | associated item | what it is | who owns it |
//! | --- | --- | --- |
//! | [`Infer::Input`], [`Infer::Output`] | one sample in and out, e.g. `[f32; 784]` | the caller |
//! | [`Scratch<L>`](crate::net::Scratch) | the inference arena: a network's intermediate activations, sized by the compiler | the caller |
//! | [`Layer::Cache`]`<B>` | what the training forward pass keeps for the backward pass, batch `B` | the trainer |
//! | [`Layer::Grad`] | gradients of the learnable parameters (also the type of optimizer moments) | the trainer |
//!
//! Inference on one sample is [`Infer`], which float and int8 layers share; training adds
//! this module's [`Layer`]. Every layer also describes its tensors and attributes
//! ([`Describe`]), which is how files and conversions handle any
//! network. So an inference-only firmware links the layer values and one `Scratch`, and nothing else;
//! a training firmware adds `Cache<B>`, one `Grad` and the optimizer's moments, and the
//! memory of each is visible as `size_of` of a type.
//!
//! The training pass works on a batch `[Input; B]` with `B` a const generic, so caches are
//! sized for exactly that batch. The backward pass receives the layer's input and output
//! from the caller (who already stores them), its cache, and the gradient with respect to
//! its output; it **adds** the parameter gradients into `grad` (so gradients accumulate over
//! several batches until the optimizer consumes them) and **writes** the input gradient,
//! when asked for one.
//!
//! Shape-agnostic layers (activations, dropout, noise) are generic over their tensor type —
//! `Relu<[f32; 256]>`, or `Relu<[[[f32; 24]; 24]; 8]>` after a convolution — so
//! convolutional and pooling layers fit the same trait: they only need `Input` and
//! `Output` types of more dimensions.
//!
//! # Learnable parameters
//! [`Params`] exposes a layer's learnable tensors as flat slices, numbered `0..TENSORS`, with
//! [`ParamInfo`] naming each one. A layer and its `Grad` number their tensors the same way,
//! which is how the optimizers pair parameters, gradients and moments in one fused pass.

mod activation;
mod batchnorm;
mod conv;
mod dense;
mod depthwise;
mod dropout;
mod flatten;
mod frozen;
mod noise;
pub(crate) mod padding;
mod pool;
pub(crate) mod residual;
mod sparse;

pub(crate) use crate::kernels::conv::{output_len as output_size, pad_before};
pub use activation::{
    Activation, ActivationFn, LeakyRelu, LeakyReluFn, Relu, Relu6, Relu6Fn, ReluFn, Sigmoid,
    SigmoidFn, Tanh, TanhFn,
};
pub use batchnorm::{BatchNorm, BatchNorm2d, BatchNormCache, BatchNormGrad};
pub use conv::{
    Conv2d, Conv2dCache, INFER_PATCHES, Padding, Patch, PatchBlock, Patches, Same, Valid,
};
pub use dense::Dense;
pub use depthwise::DepthwiseConv2d;
pub use dropout::Dropout;
pub use flatten::Flatten;
pub use frozen::Frozen;
pub use noise::GaussianNoise;
pub use pool::{AvgPool2d, GlobalAvgPool, MaxPool2d, MaxPoolCache};
pub use residual::{Identity, Residual, ResidualCache, ResidualGrad};
pub use sparse::ActivityL1;

pub use crate::net::Infer;

use crate::init::Init;
use crate::rng::Rng;
use crate::spec::Describe;
use crate::tensor::{Tensor, Zero};

/// What a stored tensor is, so that optimizers can treat kinds differently (weight decay
/// and max-norm apply to weights only, for example) and files can say what they hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A weight matrix (rows = outputs, columns = inputs).
    Weight,
    /// An additive bias.
    Bias,
    /// Batch normalization's scale γ.
    Scale,
    /// Batch normalization's shift β.
    Shift,
    /// Batch normalization's running mean (state, not learned).
    RunningMean,
    /// Batch normalization's running variance (state, not learned).
    RunningVar,
    /// An int8 layer's Q31 requantization multipliers.
    Multiplier,
    /// An int8 layer's requantization exponents.
    Exponent,
    /// A lookup table (an int8 activation function).
    Table,
}

impl ParamKind {
    /// Every kind, in the order of their codes.
    pub const ALL: [ParamKind; 9] = [
        ParamKind::Weight,
        ParamKind::Bias,
        ParamKind::Scale,
        ParamKind::Shift,
        ParamKind::RunningMean,
        ParamKind::RunningVar,
        ParamKind::Multiplier,
        ParamKind::Exponent,
        ParamKind::Table,
    ];

    /// The byte that stands for this kind in a file (1 to 9).
    pub const fn code(self) -> u8 {
        match self {
            ParamKind::Weight => 1,
            ParamKind::Bias => 2,
            ParamKind::Scale => 3,
            ParamKind::Shift => 4,
            ParamKind::RunningMean => 5,
            ParamKind::RunningVar => 6,
            ParamKind::Multiplier => 7,
            ParamKind::Exponent => 8,
            ParamKind::Table => 9,
        }
    }

    /// The kind a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1..=9 => Some(Self::ALL[code as usize - 1]),
            _ => None,
        }
    }

    /// The kind in words: `"weight matrix"`, `"bias"`, `"scale (γ)"`, ….
    pub const fn describe(self) -> &'static str {
        match self {
            ParamKind::Weight => "weight matrix",
            ParamKind::Bias => "bias",
            ParamKind::Scale => "scale (γ)",
            ParamKind::Shift => "shift (β)",
            ParamKind::RunningMean => "running mean",
            ParamKind::RunningVar => "running variance",
            ParamKind::Multiplier => "requantization multipliers",
            ParamKind::Exponent => "requantization exponents",
            ParamKind::Table => "lookup table",
        }
    }
}

/// Name and shape of one learnable tensor, as optimizers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParamInfo {
    /// Index of the layer in its network, counted from 0 at the input.
    pub layer: usize,
    /// Name of the tensor within its layer (`"weight"`, `"bias"`, `"gamma"`, `"beta"`).
    pub name: &'static str,
    /// What the tensor is.
    pub kind: ParamKind,
    /// Number of rows (outputs for a weight matrix; 1 for a vector).
    pub rows: usize,
    /// Number of columns (inputs for a weight matrix; the length for a vector).
    pub cols: usize,
}

/// A fixed set of learnable `f32` tensors, numbered `0..TENSORS`.
///
/// Implemented by every float layer (its parameters, in the order of the learned tensors of
/// its [`LayerSpec`](crate::spec::LayerSpec)), by every layer's `Grad` type (gradients and
/// optimizer moments, numbered the same way), and by `()` and chains for composition.
pub trait Params {
    /// Number of tensors.
    const TENSORS: usize;
    /// Tensor `i` as a flat slice.
    ///
    /// # Panics
    /// If `i >= TENSORS`.
    fn tensor(&self, i: usize) -> &[f32];
    /// Tensor `i` as a flat mutable slice.
    ///
    /// # Panics
    /// If `i >= TENSORS`.
    fn tensor_mut(&mut self, i: usize) -> &mut [f32];
    /// Name and shape of tensor `i`.
    ///
    /// # Panics
    /// If `i >= TENSORS`.
    fn info(i: usize) -> ParamInfo;
    /// Total number of scalars over all tensors.
    fn count() -> usize {
        (0..Self::TENSORS)
            .map(|i| {
                let info = Self::info(i);
                info.rows * info.cols
            })
            .sum()
    }
    /// Whether tensor `i` is held fixed: optimizers skip it (no update, no weight decay,
    /// moments untouched) and only zero its gradient. True inside [`Frozen`].
    ///
    /// # Panics
    /// If `i >= TENSORS`.
    fn frozen(i: usize) -> bool {
        let _ = Self::info(i);
        false
    }
    /// Sets every tensor to zero.
    fn zero_all(&mut self) {
        for i in 0..Self::TENSORS {
            self.tensor_mut(i).fill(0.0);
        }
    }
}

pub(crate) fn no_tensor(i: usize) -> ! {
    panic!("parameter tensor index {i} out of range")
}

impl Params for () {
    const TENSORS: usize = 0;
    fn tensor(&self, i: usize) -> &[f32] {
        no_tensor(i)
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        no_tensor(i)
    }
    fn info(i: usize) -> ParamInfo {
        no_tensor(i)
    }
}

/// State the training pass needs besides the layers: the random stream for dropout and
/// noise, and the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    /// Random numbers for dropout masks and noise. Seeded: training is reproducible.
    pub rng: Rng,
    /// Inference mode for the training pass. When set, [`Layer::forward_train`] computes
    /// exactly what [`Infer::forward`] computes — dropout, noise and activity penalties
    /// off, batch normalization with its running statistics, which stay unchanged — and
    /// [`Layer::backward`] gives the gradients *of that function*. This is what an attack
    /// on the deployed network needs (the input gradient of
    /// [`fgsm`](crate::train::fgsm)), and how [`Frozen`] layers run.
    pub inference: bool,
}

impl Context {
    /// A training context whose random stream starts from `seed`.
    pub const fn new(seed: u64) -> Self {
        Context {
            rng: Rng::new(seed),
            inference: false,
        }
    }

    /// A context in inference mode (see [`inference`](Self::inference)).
    pub const fn inference() -> Self {
        Context {
            rng: Rng::new(0),
            inference: true,
        }
    }
}

/// A trainable float layer with compile-time sizes. See the [module docs](self) for the
/// design. Its inference is [`Infer`]; its tensors and attributes are described by
/// [`Describe`].
pub trait Layer:
    Infer<Input: Tensor<Elem = f32>, Output: Tensor<Elem = f32>> + Params + Describe
{
    /// Gradients of the learnable parameters, numbered like the layer's [`Params`].
    type Grad: Params + Zero;
    /// What the training forward pass keeps for the backward pass, for a batch of `B`.
    type Cache<const B: usize>: Zero;

    /// Training forward pass on a batch: dropout and noise are on, batch normalization uses
    /// batch statistics and updates its running statistics (hence `&mut self`).
    fn forward_train<const B: usize>(
        &mut self,
        x: &[Self::Input; B],
        y: &mut [Self::Output; B],
        cache: &mut Self::Cache<B>,
        ctx: &mut Context,
    );

    /// Backward pass for the batch last passed to [`forward_train`](Self::forward_train),
    /// whose input `x` and output `y` are given again.
    ///
    /// Adds the parameter gradients to `grad`; writes `∂L/∂x` into `dx` when it is `Some`
    /// (the first layer of a network usually has no use for it).
    #[allow(clippy::too_many_arguments)]
    fn backward<const B: usize>(
        &self,
        x: &[Self::Input; B],
        y: &[Self::Output; B],
        dy: &[Self::Output; B],
        dx: Option<&mut [Self::Input; B]>,
        cache: &mut Self::Cache<B>,
        grad: &mut Self::Grad,
    );

    /// Draws the initial weights with `scheme` (biases zero). Layers without weights do
    /// nothing.
    fn init(&mut self, scheme: Init, rng: &mut Rng) {
        let _ = (scheme, rng);
    }

    /// The output of primitive layer `i` for the batch last run through
    /// [`forward_train`](Self::forward_train), read from the caches of a network, sample
    /// after sample; `None` for the last layer (whose output is the caller's `y`) and past
    /// the end. How calibration observes every boundary of a network in one pass.
    fn activation<const B: usize>(cache: &Self::Cache<B>, i: usize) -> Option<&[f32]> {
        let _ = (cache, i);
        None
    }
}

/// Implements [`Params`] with no tensors, for parameter-free layers:
/// `no_params!([T: Tensor] Dropout<T>);`
macro_rules! no_params {
    ([$($gen:tt)*] $ty:ty) => {
        impl<$($gen)*> $crate::layers::Params for $ty {
            const TENSORS: usize = 0;
            fn tensor(&self, i: usize) -> &[f32] {
                $crate::layers::no_tensor(i)
            }
            fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
                $crate::layers::no_tensor(i)
            }
            fn info(i: usize) -> $crate::layers::ParamInfo {
                $crate::layers::no_tensor(i)
            }
        }
    };
}
pub(crate) use no_params;
