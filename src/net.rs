//! Composing layers into a network whose shapes the compiler checks, and running it.
//!
//! [`Chain<A, B>`] feeds `A`'s output into `B` and is itself a layer, so networks nest.
//! The bound `B: Infer<Input = A::Output>` sits on the struct itself: a network whose sizes
//! do not connect is not a type, and does not compile. The [`Net!`](macro@crate::Net) macro
//! writes the nesting for a list of layer types and [`net!`](macro@crate::net) for their
//! values. The same chain holds float layers (a trainable [`Layer`]) and int8 layers (a
//! [`QLayer`](crate::quant::QLayer)):
//!
//! ```
//! use firmnet::prelude::*;
//!
//! type Mlp = Net![Dense<4, 8>, BatchNorm<8>, Relu<[f32; 8]>, Dense<8, 3>];
//! static MODEL: Mlp = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
//! assert_eq!(<Mlp as Describe>::LAYERS, 4);
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
//! # Inference and its memory
//! [`Infer`] is inference on one sample, for float and int8 layers alike. A network's
//! inference memory is one arena, [`Scratch<N>`], whose size the compiler computes from
//! the layer types: the largest input plus output of any layer, elementwise layers
//! computing in place (see [`arena`](crate::arena)). The caller owns the input, the output
//! and the arena:
//!
//! ```
//! use firmnet::prelude::*;
//!
//! type Mlp = Net![Dense<4, 8>, Relu<[f32; 8]>, Dense<8, 3>];
//! let mut net: Mlp = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];
//! net.init(Init::HeNormal, &mut Rng::new(1));
//! let mut scratch = Scratch::<Mlp>::ZERO; // 8 floats: the hidden activation
//! let mut y = [0.0; 3];
//! net.forward(&[1.0, 2.0, 3.0, 4.0], &mut y, &mut scratch);
//! assert_eq!(size_of::<Scratch<Mlp>>(), 8 * 4);
//! ```
//!
//! Training is [`Layer`]'s: a chain of float layers trains on a batch with caches and
//! gradients of its own (see [`train`](crate::train)).

use crate::arena::{Arena, Either, Inside, Outside, Place, Side, Storage, at_side, split3};
use crate::init::Init;
use crate::layers::{Context, Layer, ParamInfo, Params};
use crate::rng::Rng;
use crate::spec::{Describe, LayerData, LayerSpec};
use crate::tensor::{Tensor, Zero, copy};

/// The element type of a layer's tensors: `f32` or `i8`.
pub type Elem<L> = <<L as Infer>::Input as Tensor>::Elem;

/// The inference arena of network (or layer) `L`: the memory one inference needs besides
/// its input and output, sized by the compiler. Put it in a `static` on a device.
pub type Scratch<L> = Arena<<L as Infer>::Footprint<Outside, Outside>>;

/// Where a layer's input is: the caller's tensor, or in the arena at one end.
#[derive(Debug)]
pub enum Src<'a, T> {
    /// The caller's input.
    Caller(&'a T),
    /// In the arena, at this end.
    Arena(Side),
}

/// Where a layer's output goes: into the caller's tensor, or into the arena at the end the
/// layer's type determines ([`Infer::FLIPS`], [`Infer::FROM_CALLER`]).
#[derive(Debug)]
pub enum Dst<'a, T> {
    /// The caller's output.
    Caller(&'a mut T),
    /// Into the arena.
    Arena,
}

/// Inference on one sample, for float and int8 layers and networks.
///
/// A primitive layer implements [`forward_with`](Self::forward_with) (or, if it is
/// elementwise and [`IN_PLACE`](Self::IN_PLACE), [`apply`](Self::apply)) and names its arena
/// needs as its [`Footprint`](Self::Footprint); the provided methods place its input and
/// output in a network's arena. Users call [`forward`](Self::forward) with a
/// [`Scratch`].
pub trait Infer {
    /// One input sample, e.g. `[f32; 784]` or `[i8; 784]`.
    type Input: Tensor;
    /// One output sample, of the same element type.
    type Output: Tensor<Elem = <Self::Input as Tensor>::Elem>;
    /// The arena memory the layer needs when its input lives at `I` and its output at `O`
    /// ([`Inside`] the arena or [`Outside`], the caller's): the tensors that live inside,
    /// plus any scratch of its own. See [`arena`](crate::arena).
    type Footprint<I: Place, O: Place>: Storage<<Self::Input as Tensor>::Elem>;
    /// Whether the layer is elementwise and computes in place ([`apply`](Self::apply));
    /// its input and output then have the same length.
    const IN_PLACE: bool = false;
    /// Whether, with its input in the arena, the layer's output lands at the other end.
    /// Every out-of-place layer flips; an in-place one does not; a chain flips if an odd
    /// number of its layers do.
    const FLIPS: bool = !Self::IN_PLACE;
    /// Where in the arena the output lands when the input is the caller's.
    const FROM_CALLER: Side = Side::Front;

    /// Inference on one sample with `scratch` as working memory. For a primitive layer,
    /// `scratch` is what the footprint adds beyond the input and output (usually
    /// nothing); for a network, it is the whole arena, at least as long as
    /// [`Scratch<Self>`] (the output is unspecified with less, never undefined).
    fn forward_with(
        &self,
        x: &Self::Input,
        y: &mut Self::Output,
        scratch: &mut [<Self::Input as Tensor>::Elem],
    );

    /// Computes in place, for [`IN_PLACE`](Self::IN_PLACE) layers: `xy` holds the input
    /// and receives the output. The default does nothing (the identity).
    fn apply(&self, xy: &mut Self::Output) {
        let _ = xy;
    }

    /// Inference on one sample, the network's entry point. `scratch` is the arena.
    #[inline]
    fn forward(&self, x: &Self::Input, y: &mut Self::Output, scratch: &mut Scratch<Self>)
    where
        Self: Sized,
    {
        self.run(Src::Caller(x), Dst::Caller(y), scratch.as_mut_slice());
    }

    /// Runs the layer with its input at `src` and its output to `dst` in the network's
    /// `arena`. The provided implementation serves every primitive layer; [`Chain`]
    /// threads its members through the arena.
    #[inline]
    fn run(
        &self,
        src: Src<'_, Self::Input>,
        dst: Dst<'_, Self::Output>,
        arena: &mut [<Self::Input as Tensor>::Elem],
    ) {
        let (n_in, n_out) = (Self::Input::LEN, Self::Output::LEN);
        match (src, dst) {
            (Src::Caller(x), Dst::Caller(y)) => {
                if Self::IN_PLACE {
                    copy(x.as_slice(), y.as_mut_slice());
                    self.apply(y);
                } else {
                    self.forward_with(x, y, arena);
                }
            }
            (Src::Caller(x), Dst::Arena) => {
                let Some((out, own)) = at_side(arena, Self::FROM_CALLER, n_out) else {
                    return;
                };
                let Some(y) = Self::Output::view_mut(out) else {
                    return;
                };
                if Self::IN_PLACE {
                    copy(x.as_slice(), y.as_mut_slice());
                    self.apply(y);
                } else {
                    self.forward_with(x, y, own);
                }
            }
            (Src::Arena(side), Dst::Caller(y)) => {
                let Some((input, own)) = at_side(arena, side, n_in) else {
                    return;
                };
                if Self::IN_PLACE {
                    copy(input, y.as_mut_slice());
                    self.apply(y);
                } else if let Some(x) = Self::Input::view(input) {
                    self.forward_with(x, y, own);
                }
            }
            (Src::Arena(side), Dst::Arena) => {
                if Self::IN_PLACE {
                    if let Some((region, _)) = at_side(arena, side, n_in)
                        && let Some(xy) = Self::Output::view_mut(region)
                    {
                        self.apply(xy);
                    }
                } else if let Some((input, out, own)) = split3(arena, side, n_in, n_out)
                    && let (Some(x), Some(y)) =
                        (Self::Input::view(input), Self::Output::view_mut(out))
                {
                    self.forward_with(x, y, own);
                }
            }
        }
    }
}

/// Two layers in sequence: `first`, then `rest`. See the [module docs](self).
#[derive(Debug, PartialEq)]
pub struct Chain<A: Infer, B: Infer<Input = A::Output>> {
    /// The layer that sees the input.
    pub first: A,
    /// The layer (or chain) that follows.
    pub rest: B,
}

impl<A: Infer, B: Infer<Input = A::Output>> Chain<A, B> {
    /// `first`, then `rest`.
    pub const fn new(first: A, rest: B) -> Self {
        Chain { first, rest }
    }
}

impl<A: Infer + Clone, B: Infer<Input = A::Output> + Clone> Clone for Chain<A, B> {
    fn clone(&self) -> Self {
        Chain::new(self.first.clone(), self.rest.clone())
    }

    /// Member by member (each with its own `clone_from`), so a network of firmnet's
    /// layers is copied array by array, with no copy of the whole network on the stack.
    fn clone_from(&mut self, source: &Self) {
        self.first.clone_from(&source.first);
        self.rest.clone_from(&source.rest);
    }
}

impl<A: Infer + Zero, B: Infer<Input = A::Output> + Zero> Zero for Chain<A, B> {
    const ZERO: Self = Chain::new(A::ZERO, B::ZERO);
}

impl<A: Infer, B: Infer<Input = A::Output>> Infer for Chain<A, B> {
    type Input = A::Input;
    type Output = B::Output;
    type Footprint<I: Place, O: Place> = Either<A::Footprint<I, Inside>, B::Footprint<Inside, O>>;
    const FLIPS: bool = A::FLIPS ^ B::FLIPS;
    const FROM_CALLER: Side = if B::FLIPS {
        A::FROM_CALLER.other()
    } else {
        A::FROM_CALLER
    };

    #[inline]
    fn forward_with(&self, x: &A::Input, y: &mut B::Output, scratch: &mut [Elem<A>]) {
        self.run(Src::Caller(x), Dst::Caller(y), scratch);
    }

    #[inline]
    fn run(&self, src: Src<'_, A::Input>, dst: Dst<'_, B::Output>, arena: &mut [Elem<A>]) {
        let mid = match src {
            Src::Caller(_) => A::FROM_CALLER,
            Src::Arena(side) if A::FLIPS => side.other(),
            Src::Arena(side) => side,
        };
        self.first.run(src, Dst::Arena, arena);
        self.rest.run(Src::Arena(mid), dst, arena);
    }
}

impl<A: Infer + Describe, B: Infer<Input = A::Output> + Describe> Describe for Chain<A, B> {
    const LAYERS: usize = A::LAYERS + B::LAYERS;
    const BLOCKS: bool = A::BLOCKS || B::BLOCKS;
    fn layer_spec(i: usize) -> Option<&'static LayerSpec> {
        if i < A::LAYERS {
            A::layer_spec(i)
        } else {
            B::layer_spec(i - A::LAYERS)
        }
    }
    fn layer(&self, i: usize) -> Option<&dyn LayerData> {
        if i < A::LAYERS {
            self.first.layer(i)
        } else {
            self.rest.layer(i - A::LAYERS)
        }
    }
    fn layer_mut(&mut self, i: usize) -> Option<&mut dyn LayerData> {
        if i < A::LAYERS {
            self.first.layer_mut(i)
        } else {
            self.rest.layer_mut(i - A::LAYERS)
        }
    }
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
    type Grad = ChainGrad<A, B>;
    type Cache<const N: usize> = ChainCache<A, B, N>;

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

    fn activation<const N: usize>(cache: &ChainCache<A, B, N>, i: usize) -> Option<&[f32]> {
        match (i + 1).cmp(&A::LAYERS) {
            core::cmp::Ordering::Less => A::activation(&cache.first, i),
            core::cmp::Ordering::Equal => Some(A::Output::batch_slice(&cache.mid)),
            core::cmp::Ordering::Greater => B::activation(&cache.rest, i - A::LAYERS),
        }
    }
}

/// The type of a network of the given layer types, input first:
/// `Net![Dense<784, 256>, Relu<[f32; 256]>, Dense<256, 10>]` is
/// `Chain<Dense<784, 256>, Chain<Relu<[f32; 256]>, Dense<256, 10>>>`. Int8 layers compose
/// the same way: `Net![QDense<784, 256>, QDense<256, 10>]`.
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
