//! Composing layers into a network whose shapes the compiler checks.
//!
//! [`Chain<A, B>`] feeds `A`'s output into `B` and is itself a [`Layer`], so networks nest.
//! The bound `B: Layer<Input = A::Output>` sits on the struct itself: a network whose sizes
//! do not connect is not a type, and does not compile. The [`Net!`](macro@crate::Net) macro
//! writes the nesting for a list of layer types and [`net!`](macro@crate::net) for their values:
//!
//! ```
//! use firmnet::prelude::*;
//!
//! type Mlp = Net![Dense<4, 8>, BatchNorm<8>, Relu<[f32; 8]>, Dense<8, 3>];
//! static MODEL: Mlp = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
//! assert_eq!(<Mlp as Layer>::LAYERS, 4);
//! # let _ = &MODEL;
//! ```
//!
//! A mismatch is a compile error:
//!
//! ```compile_fail
//! use firmnet::prelude::*;
//! static BAD: Net![Dense<4, 8>, Dense<7, 3>] = net![Dense::ZERO, Dense::ZERO];
//! ```
//!
//! # Memory
//! A chain's [`Layer::Scratch`] holds the activation between its two halves (so a network's
//! scratch is one buffer per hidden activation) and its [`Layer::Cache`] holds, for the
//! batch, that activation and its gradient, besides the members' own caches. All are plain
//! arrays sized by the types; place them in `static`s on a device.

use crate::init::Init;
use crate::layers::{Context, Layer, LayerInfo, ParamInfo, Params};
use crate::rng::Rng;
use crate::tensor::Zero;

/// Two layers in sequence: `first`, then `rest`. See the [module docs](self).
#[derive(Clone, Debug, PartialEq)]
pub struct Chain<A: Layer, B: Layer<Input = A::Output>> {
    /// The layer that sees the input.
    pub first: A,
    /// The layer (or chain) that follows.
    pub rest: B,
}

impl<A: Layer, B: Layer<Input = A::Output>> Chain<A, B> {
    /// `first`, then `rest`.
    pub const fn new(first: A, rest: B) -> Self {
        Chain { first, rest }
    }
}

/// Inference buffers of a [`Chain`]: the members' own and the activation between them.
pub struct ChainScratch<A: Layer, B: Layer> {
    /// Scratch of the first member.
    pub first: A::Scratch,
    /// The first member's output.
    pub mid: A::Output,
    /// Scratch of the rest.
    pub rest: B::Scratch,
}

impl<A: Layer, B: Layer> Zero for ChainScratch<A, B> {
    const ZERO: Self = ChainScratch {
        first: A::Scratch::ZERO,
        mid: A::Output::ZERO,
        rest: B::Scratch::ZERO,
    };
}

/// Gradients (or optimizer moments) of a [`Chain`]: the members' own, numbered like the
/// chain's [`Params`] — including [`Params::info`], whose layer indices count through the
/// whole network.
pub struct ChainGrad<A: Layer, B: Layer<Input = A::Output>> {
    /// Gradients of the first member.
    pub first: A::Grad,
    /// Gradients of the rest.
    pub rest: B::Grad,
}

impl<A: Layer, B: Layer<Input = A::Output>> Zero for ChainGrad<A, B> {
    const ZERO: Self = ChainGrad {
        first: A::Grad::ZERO,
        rest: B::Grad::ZERO,
    };
}

/// `tensor` and `tensor_mut` of a pair with fields `first` (numbered first) and `rest`,
/// whose first member has `$n` tensors: shared by [`Chain`] and [`ChainGrad`].
macro_rules! split_tensors {
    ($n:expr) => {
        #[inline]
        fn tensor(&self, i: usize) -> &[f32] {
            if i < $n {
                self.first.tensor(i)
            } else {
                self.rest.tensor(i - $n)
            }
        }
        #[inline]
        fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
            if i < $n {
                self.first.tensor_mut(i)
            } else {
                self.rest.tensor_mut(i - $n)
            }
        }
    };
}

impl<A: Layer, B: Layer<Input = A::Output>> Params for ChainGrad<A, B> {
    const TENSORS: usize = A::TENSORS + B::TENSORS;
    split_tensors!(A::TENSORS);
    fn info(i: usize) -> ParamInfo {
        <Chain<A, B> as Params>::info(i)
    }
}

/// Training cache of a [`Chain`] for a batch of `N`: the members' caches, the activation
/// between them and its gradient.
pub struct ChainCache<A: Layer, B: Layer, const N: usize> {
    /// Cache of the first member.
    pub first: A::Cache<N>,
    /// Cache of the rest.
    pub rest: B::Cache<N>,
    /// The first member's output for the batch.
    pub mid: [A::Output; N],
    /// Gradient of the loss with respect to `mid`.
    pub dmid: [A::Output; N],
}

impl<A: Layer, B: Layer, const N: usize> Zero for ChainCache<A, B, N> {
    const ZERO: Self = ChainCache {
        first: <A::Cache<N> as Zero>::ZERO,
        rest: <B::Cache<N> as Zero>::ZERO,
        mid: <[A::Output; N] as Zero>::ZERO,
        dmid: <[A::Output; N] as Zero>::ZERO,
    };
}

impl<A: Layer, B: Layer<Input = A::Output>> Params for Chain<A, B> {
    const TENSORS: usize = A::TENSORS + B::TENSORS;
    split_tensors!(A::TENSORS);
    fn info(i: usize) -> ParamInfo {
        if i < A::TENSORS {
            A::info(i)
        } else {
            let mut info = B::info(i - A::TENSORS);
            info.layer += A::LAYERS;
            info
        }
    }
    fn frozen(i: usize) -> bool {
        if i < A::TENSORS {
            A::frozen(i)
        } else {
            B::frozen(i - A::TENSORS)
        }
    }
}

impl<A: Layer, B: Layer<Input = A::Output>> Layer for Chain<A, B> {
    type Input = A::Input;
    type Output = B::Output;
    type Grad = ChainGrad<A, B>;
    type Cache<const N: usize> = ChainCache<A, B, N>;
    type Scratch = ChainScratch<A, B>;
    const LAYERS: usize = A::LAYERS + B::LAYERS;
    const KIND: &'static str = "chain";
    const BUFFERS: usize = A::BUFFERS + B::BUFFERS;

    fn layer_info(i: usize) -> LayerInfo {
        if i < A::LAYERS {
            A::layer_info(i)
        } else {
            let mut info = B::layer_info(i - A::LAYERS);
            info.index += A::LAYERS;
            info
        }
    }

    fn buffer(&self, i: usize) -> &[f32] {
        if i < A::BUFFERS {
            self.first.buffer(i)
        } else {
            self.rest.buffer(i - A::BUFFERS)
        }
    }

    fn buffer_mut(&mut self, i: usize) -> &mut [f32] {
        if i < A::BUFFERS {
            self.first.buffer_mut(i)
        } else {
            self.rest.buffer_mut(i - A::BUFFERS)
        }
    }

    fn buffer_info(i: usize) -> ParamInfo {
        if i < A::BUFFERS {
            A::buffer_info(i)
        } else {
            let mut info = B::buffer_info(i - A::BUFFERS);
            info.layer += A::LAYERS;
            info
        }
    }

    #[inline]
    fn forward(&self, x: &A::Input, y: &mut B::Output, s: &mut ChainScratch<A, B>) {
        self.first.forward(x, &mut s.mid, &mut s.first);
        self.rest.forward(&s.mid, y, &mut s.rest);
    }

    fn forward_train<const N: usize>(
        &mut self,
        x: &[A::Input; N],
        y: &mut [B::Output; N],
        cache: &mut ChainCache<A, B, N>,
        ctx: &mut Context,
    ) {
        self.first
            .forward_train(x, &mut cache.mid, &mut cache.first, ctx);
        self.rest.forward_train(&cache.mid, y, &mut cache.rest, ctx);
    }

    fn backward<const N: usize>(
        &self,
        x: &[A::Input; N],
        y: &[B::Output; N],
        dy: &[B::Output; N],
        dx: Option<&mut [A::Input; N]>,
        cache: &mut ChainCache<A, B, N>,
        grad: &mut ChainGrad<A, B>,
    ) {
        self.rest.backward(
            &cache.mid,
            y,
            dy,
            Some(&mut cache.dmid),
            &mut cache.rest,
            &mut grad.rest,
        );
        self.first.backward(
            x,
            &cache.mid,
            &cache.dmid,
            dx,
            &mut cache.first,
            &mut grad.first,
        );
    }

    fn init(&mut self, scheme: Init, rng: &mut Rng) {
        self.first.init(scheme, rng);
        self.rest.init(scheme, rng);
    }
}

/// The type of a network of the given layer types, input first:
/// `Net![Dense<784, 256>, Relu<[f32; 256]>, Dense<256, 10>]` is
/// `Chain<Dense<784, 256>, Chain<Relu<[f32; 256]>, Dense<256, 10>>>`.
#[macro_export]
macro_rules! Net {
    ($last:ty $(,)?) => { $last };
    ($first:ty, $($rest:ty),+ $(,)?) => {
        $crate::net::Chain<$first, $crate::Net![$($rest),+]>
    };
}

/// A network value from its layer values, input first, matching [`Net!`](macro@crate::Net):
/// `net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO]`. Usable in `const` and `static` items.
#[macro_export]
macro_rules! net {
    ($last:expr $(,)?) => { $last };
    ($first:expr, $($rest:expr),+ $(,)?) => {
        $crate::net::Chain::new($first, $crate::net![$($rest),+])
    };
}
