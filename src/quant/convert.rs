//! From a float network to its int8 twin: the type the compiler derives, and the values.
//!
//! # The type: [`Int8<N, S>`](Int8)
//! The compiler walks the float network's layers, input first, with a small state machine
//! ([`Step`]): a [`Dense`], [`Conv2d`] or [`DepthwiseConv2d`] opens its int8 twin; a
//! [`BatchNorm`] (after a dense layer) or [`BatchNorm2d`] (after a convolution) right after
//! it is folded into it, per output channel; ReLU and ReLU6 become its output clamp; the
//! pools become their int8 twins, which keep their input's quantization (and take a ReLU
//! after them as their clamp); [`Flatten`] becomes [`QFlatten`]; [`Dropout`],
//! [`GaussianNoise`] and [`ActivityL1`] disappear (they are the identity at inference);
//! tanh, sigmoid and leaky ReLU become 256-entry lookup tables ([`QLut`]), which also take
//! the ReLUs that follow them; a ReLU with nothing before it to fuse into becomes a table
//! too; [`Frozen`] layers convert as the layers they freeze.
//!
//! | float layers | int8 layer |
//! | --- | --- |
//! | `Dense<I, O>` [, `BatchNorm<O>`] [, `Relu` \| `Relu6`] | `QDense<I, O, S>` |
//! | `Conv2d<…>` [, `BatchNorm2d<…>`] [, `Relu` \| `Relu6`] | `QConv2d<…, S>` |
//! | `DepthwiseConv2d<…>` [, `BatchNorm2d<…>`] [, `Relu` \| `Relu6`] | `QDepthwiseConv2d<…, S>` |
//! | `MaxPool2d<…>` \| `AvgPool2d<…>` [, `Relu` \| `Relu6`] | `QMaxPool2d<…, S>` \| `QAvgPool2d<…, S>` |
//! | `GlobalAvgPool<H, W, C>` [, `Relu` \| `Relu6`] | `QGlobalAvgPool<H, W, C, S>` |
//! | `Flatten<H, W, C, N>` | `QFlatten<H, W, C, N, S>` |
//! | `Tanh<T>` \| `Sigmoid<T>` \| `LeakyRelu<T>` [, `Relu` \| `Relu6`] | `QLut<T', S>` |
//! | `Relu<T>` \| `Relu6<T>` with no layer before to fuse into | `QLut<T', S>` |
//! | `Dropout`, `GaussianNoise`, `ActivityL1` | — |
//!
//! (`T'` is `T` with `i8` elements; `…` the float layer's sizes, stride and padding.) The
//! walk writes each int8 layer down as a [`Recipe`] and builds the list with the storage
//! `S` last ([`Build`]). A layer with no int8 form where it stands — a batch normalization
//! that does not directly follow a dense layer or a convolution, or a layer type the
//! machine does not know — leaves [`Step`] unimplemented: the network does not compile, and the
//! error names the layer:
//!
//! ```compile_fail
//! use firmnet::prelude::*;
//! use firmnet::quant::Int8;
//! type Net = Net![Dense<4, 8>, Relu<[f32; 8]>, BatchNorm<8>, Dense<8, 2>];
//! let _: Option<Int8<Net>> = None; // error: `BatchNorm<8>` has no int8 form where it stands
//! ```
//!
//! # The values: [`convert`]
//! The same rules, run over the networks' descriptions ([`Describe`]): the float layers
//! are grouped ([`groups`]) and each group is written into the int8 layer it became, with
//! the quantization of each boundary taken from calibration (the host's
//! `host::quantize` records it). Both walks follow one table, above; the test suite holds
//! them to each other.

use core::marker::PhantomData;

use super::conv::DepthwiseConversion;
use super::dense::{BnFold, Clamp, DenseConversion};
use super::lut::QLut;
use super::store::{Owned, Store};
use super::{
    QAdd, QAvgPool2d, QConv2d, QDepthwiseConv2d, QFlatten, QGlobalAvgPool, QMaxPool2d, QResidual,
};
use super::{QDense, QParams, QuantError};
use crate::layers::{
    Activation, ActivityL1, AvgPool2d, BatchNorm, BatchNorm2d, Conv2d, Dense, DepthwiseConv2d,
    Dropout, Flatten, Frozen, GaussianNoise, GlobalAvgPool, Identity, LeakyReluFn, MaxPool2d,
    Padding, Relu6Fn, ReluFn, Residual, SigmoidFn, TanhFn,
};
use crate::net::{Chain, Infer};
use crate::spec::{Attr, Describe, LayerData, LayerSpec, TensorMut};
use crate::tensor::Tensor;

// ---------------------------------------------------------------------------------------
// Type-level lists

/// A list of types, built by the conversion: [`Nil`] or [`Cons`].
pub trait List {
    /// This list followed by `R`.
    type Concat<R: List>: List;
}

/// The empty list.
#[derive(Debug)]
pub enum Nil {}

/// `H` followed by the list `T`.
#[derive(Debug)]
pub struct Cons<H, T>(PhantomData<(H, T)>);

impl List for Nil {
    type Concat<R: List> = R;
}

impl<H, T: List> List for Cons<H, T> {
    type Concat<R: List> = Cons<H, T::Concat<R>>;
}

/// The network a non-empty list of layers makes: the layer itself for one, a [`Chain`]
/// for more.
pub trait ToNet {
    /// The network.
    type Net;
}

impl<H> ToNet for Cons<H, Nil> {
    type Net = H;
}

impl<H, H2, T> ToNet for Cons<H, Cons<H2, T>>
where
    H: Infer,
    Cons<H2, T>: ToNet<Net: Infer<Input = H::Output>>,
{
    type Net = Chain<H, <Cons<H2, T> as ToNet>::Net>;
}

// ---------------------------------------------------------------------------------------
// Building the int8 layers

/// A closed group, written down before the storage of its arrays is chosen: the int8 layer
/// it becomes with arrays stored as `S`.
pub trait Recipe<S: Store> {
    /// The int8 layer.
    type Layer;
}

/// A list of [`Recipe`]s made into the list of int8 layers with arrays stored as `S`.
pub trait Build<S: Store> {
    /// The int8 layers.
    type Out: List;
}

impl<S: Store> Build<S> for Nil {
    type Out = Nil;
}

impl<S: Store, H: Recipe<S>, T: Build<S>> Build<S> for Cons<H, T> {
    type Out = Cons<H::Layer, T::Out>;
}

/// A float layer that becomes one int8 layer of its own, with arrays stored as `S`: a
/// convolution, a pool, a flatten (and a residual block, made of the int8 twins of its
/// branches).
pub trait Twin<S: Store> {
    /// The int8 layer.
    type Int8;
}

/// Writes `impl Twin<S>` for a windowed float layer type and its int8 twin.
macro_rules! windowed_twin {
    ($float:ident < $($c:ident),* > => $int8:ident) => {
        impl<S: Store, $(const $c: usize,)* P: Padding> Twin<S> for $float<$($c,)* P> {
            type Int8 = $int8<$($c,)* P, S>;
        }
    };
}
windowed_twin!(Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE> => QConv2d);
windowed_twin!(DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE> => QDepthwiseConv2d);
windowed_twin!(MaxPool2d<H, W, C, KH, KW, OH, OW, STRIDE> => QMaxPool2d);
windowed_twin!(AvgPool2d<H, W, C, KH, KW, OH, OW, STRIDE> => QAvgPool2d);

impl<S: Store, const H: usize, const W: usize, const C: usize> Twin<S> for GlobalAvgPool<H, W, C> {
    type Int8 = QGlobalAvgPool<H, W, C, S>;
}

impl<S: Store, const H: usize, const W: usize, const C: usize, const N: usize> Twin<S>
    for Flatten<H, W, C, N>
{
    type Int8 = QFlatten<H, W, C, N, S>;
}

/// The int8 form of a residual block's shortcut: the [`Identity`] stays the identity (on
/// `i8` tensors), a projection becomes its int8 twin ([`Int8`]).
pub trait Shortcut<S: Store> {
    /// The int8 shortcut.
    type Int8;
}

impl<S: Store, T: Tensor> Shortcut<S> for Identity<T> {
    type Int8 = Identity<T::Cast<i8>>;
}

impl<S: Store, N: Quantize<Layers: Build<S, Out: ToNet>>> Shortcut<S> for N {
    type Int8 = Int8<N, S>;
}

impl<S: Store, B, Sh> Twin<S> for Residual<B, Sh>
where
    B: Infer + Quantize<Layers: Build<S, Out: ToNet<Net: Infer>>>,
    Sh: Infer<Input = B::Input, Output = B::Output> + Shortcut<S>,
{
    type Int8 = QResidual<Int8<B, S>, Sh::Int8>;
}

// ---------------------------------------------------------------------------------------
// The state machine

/// Nothing pending: at the input, or after a layer that closed its group.
#[derive(Debug)]
pub enum Idle {}

/// An int8 dense layer `IN → OUT` is being assembled; `St` says what it has taken so far.
#[derive(Debug)]
pub struct PendingDense<const IN: usize, const OUT: usize, St>(PhantomData<St>);

/// An int8 lookup table on `T` is being assembled.
#[derive(Debug)]
pub struct PendingLut<T>(PhantomData<T>);

/// The int8 twin of float layer `L` ([`Twin`]) is being assembled; `St` says what it has
/// taken so far.
#[derive(Debug)]
pub struct PendingLayer<L, St>(PhantomData<(L, St)>);

/// The layer alone: a batch normalization may still fold in.
#[derive(Debug)]
pub enum Fresh {}
/// A batch normalization is folded in.
#[derive(Debug)]
pub enum Folded {}
/// An activation is fused into the clamp: nothing else folds in.
#[derive(Debug)]
pub enum Clamped {}
/// A layer into which no batch normalization folds (a pool): an activation may still
/// fuse into its clamp.
#[derive(Debug)]
pub enum Unfoldable {}

/// What the conversion holds between two float layers.
pub trait Pending {
    /// The int8 layers it becomes when the group closes, as [`Recipe`]s.
    type Flush: List;
}

impl Pending for Idle {
    type Flush = Nil;
}

impl<const IN: usize, const OUT: usize, St> Pending for PendingDense<IN, OUT, St> {
    type Flush = Cons<Self, Nil>;
}

impl<S: Store, const IN: usize, const OUT: usize, St> Recipe<S> for PendingDense<IN, OUT, St> {
    type Layer = QDense<IN, OUT, S>;
}

impl<T: Tensor> Pending for PendingLut<T> {
    type Flush = Cons<Self, Nil>;
}

impl<S: Store, T: Tensor> Recipe<S> for PendingLut<T> {
    type Layer = QLut<T::Cast<i8>, S>;
}

impl<L, St> Pending for PendingLayer<L, St> {
    type Flush = Cons<Self, Nil>;
}

impl<S: Store, L: Twin<S>, St> Recipe<S> for PendingLayer<L, St> {
    type Layer = L::Int8;
}

/// One float layer (or chain) read by the conversion in state `P`: which int8 layers it
/// closes ([`Emit`](Self::Emit)) and what it leaves pending ([`Next`](Self::Next)). See the
/// [module docs](self) for the table; a layer without an int8 form where it stands has no
/// implementation.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no int8 form where it stands",
    label = "this network has a layer with no int8 form",
    note = "firmnet converts Dense, Conv2d and DepthwiseConv2d (with the BatchNorm or \
            BatchNorm2d right after them folded in and ReLU or ReLU6 fused), MaxPool2d, \
            AvgPool2d, GlobalAvgPool, Flatten and Residual blocks, Tanh, Sigmoid, LeakyRelu, \
            ReLU and ReLU6 (as lookup tables), and drops Dropout, GaussianNoise and \
            ActivityL1; a batch normalization must directly follow a Dense or a convolution \
            (see firmnet::quant::Step)"
)]
pub trait Step<P> {
    /// The int8 layers this layer closes, as [`Recipe`]s.
    type Emit: List;
    /// What stays pending after it.
    type Next: Pending;
}

impl<P: Pending, const IN: usize, const OUT: usize> Step<P> for Dense<IN, OUT> {
    type Emit = P::Flush;
    type Next = PendingDense<IN, OUT, Fresh>;
}

impl<const IN: usize, const N: usize> Step<PendingDense<IN, N, Fresh>> for BatchNorm<N> {
    type Emit = Nil;
    type Next = PendingDense<IN, N, Folded>;
}

/// Convolutions: close what is pending and open their int8 twin.
macro_rules! opening_step {
    ($float:ident < $($c:ident),* >) => {
        impl<Pd: Pending, $(const $c: usize,)* P: Padding> Step<Pd> for $float<$($c,)* P> {
            type Emit = Pd::Flush;
            type Next = PendingLayer<Self, Fresh>;
        }
    };
}
opening_step!(Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE>);
opening_step!(DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE>);

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const K: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding,
> Step<PendingLayer<Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>, Fresh>>
    for BatchNorm2d<OH, OW, K>
{
    type Emit = Nil;
    type Next = PendingLayer<Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>, Folded>;
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding,
> Step<PendingLayer<DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>, Fresh>>
    for BatchNorm2d<OH, OW, C>
{
    type Emit = Nil;
    type Next = PendingLayer<DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>, Folded>;
}

/// Pools: close what is pending and open their int8 twin, which keeps its input's
/// quantization; a ReLU after them still fuses into its clamp.
macro_rules! pool_step {
    ($float:ident < $($c:ident),* > $(, $p:ident)?) => {
        impl<Pd: Pending, $(const $c: usize,)* $($p: Padding)?> Step<Pd> for $float<$($c,)* $($p)?> {
            type Emit = Pd::Flush;
            type Next = PendingLayer<Self, Unfoldable>;
        }
    };
}
pool_step!(MaxPool2d<H, W, C, KH, KW, OH, OW, STRIDE>, P);
pool_step!(AvgPool2d<H, W, C, KH, KW, OH, OW, STRIDE>, P);
pool_step!(GlobalAvgPool<H, W, C>);

/// A residual block: closes what is pending and becomes a [`QResidual`] of its branches'
/// int8 twins (each converted on its own, from nothing pending); a ReLU after it fuses into
/// its add's clamp, as TensorFlow Lite fuses an `ADD`'s activation.
impl<Pd: Pending, B, Sh> Step<Pd> for Residual<B, Sh>
where
    B: Infer + Step<Idle>,
    Sh: Infer<Input = B::Input, Output = B::Output>,
{
    type Emit = Pd::Flush;
    type Next = PendingLayer<Self, Unfoldable>;
}

/// Flatten: closes what is pending, and itself (it has no clamp to fuse into).
impl<P: Pending, const H: usize, const W: usize, const C: usize, const N: usize> Step<P>
    for Flatten<H, W, C, N>
{
    type Emit = <P::Flush as List>::Concat<Cons<PendingLayer<Self, Unfoldable>, Nil>>;
    type Next = Idle;
}

/// ReLU and ReLU6: fused into a pending layer's clamp, folded into a pending table, or a
/// table of their own.
macro_rules! clamp_step {
    ($f:ty) => {
        impl<T, const IN: usize, const OUT: usize, St> Step<PendingDense<IN, OUT, St>>
            for Activation<T, $f>
        {
            type Emit = Nil;
            type Next = PendingDense<IN, OUT, Clamped>;
        }
        impl<T, L, St> Step<PendingLayer<L, St>> for Activation<T, $f> {
            type Emit = Nil;
            type Next = PendingLayer<L, Clamped>;
        }
        impl<T, U: Tensor> Step<PendingLut<U>> for Activation<T, $f> {
            type Emit = Nil;
            type Next = PendingLut<U>;
        }
        impl<T: Tensor> Step<Idle> for Activation<T, $f> {
            type Emit = Nil;
            type Next = PendingLut<T>;
        }
    };
}
clamp_step!(ReluFn);
clamp_step!(Relu6Fn);

/// Tanh, sigmoid, leaky ReLU: close what is pending and open a table.
macro_rules! table_step {
    ($f:ty) => {
        impl<P: Pending, T: Tensor> Step<P> for Activation<T, $f> {
            type Emit = P::Flush;
            type Next = PendingLut<T>;
        }
    };
}
table_step!(TanhFn);
table_step!(SigmoidFn);
table_step!(LeakyReluFn);

/// Layers that are the identity at inference: nothing changes.
macro_rules! transparent_step {
    ($ty:ident) => {
        impl<P: Pending, T> Step<P> for $ty<T> {
            type Emit = Nil;
            type Next = P;
        }
    };
}
transparent_step!(Dropout);
transparent_step!(GaussianNoise);
transparent_step!(ActivityL1);

impl<P, L: Step<P>> Step<P> for Frozen<L> {
    type Emit = L::Emit;
    type Next = L::Next;
}

impl<P, A, R> Step<P> for Chain<A, R>
where
    A: Infer + Step<P>,
    R: Infer<Input = A::Output> + Step<A::Next>,
{
    type Emit = <A::Emit as List>::Concat<R::Emit>;
    type Next = R::Next;
}

/// A float network with an int8 form: every network whose layers convert (see the
/// [module docs](self)). Implemented by the compiler for every such network; use
/// [`Int8<N, S>`](Int8) for the int8 type.
pub trait Quantize {
    /// The int8 layers, input first, as [`Recipe`]s ([`Build`] makes them with a storage).
    type Layers: List;
}

impl<N: Step<Idle>> Quantize for N {
    type Layers = <N::Emit as List>::Concat<<<N as Step<Idle>>::Next as Pending>::Flush>;
}

/// The int8 network of float network `N`, with its arrays stored as `S`: [`Owned`] (the
/// default; on the host, or compiled into a `static`) or
/// [`Borrowed<'a>`](super::Borrowed) (a view of a weight file in flash). For the
/// Fashion-MNIST MLP it is `Net![QDense<784, 256, S>, QDense<256, 128, S>, QDense<128, 10, S>]`:
///
/// ```
/// use firmnet::models::FashionMlp;
/// use firmnet::quant::{Int8, QDense};
/// use firmnet::Net;
/// let same: Option<Int8<FashionMlp>> =
///     None::<Net![QDense<784, 256>, QDense<256, 128>, QDense<128, 10>]>;
/// # let _ = same;
/// ```
pub type Int8<N, S = Owned> = <<<N as Quantize>::Layers as Build<S>>::Out as ToNet>::Net;

// ---------------------------------------------------------------------------------------
// The values

/// What an int8 layer is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// A dense layer (`qdense`), with what folds into it.
    Dense,
    /// A lookup table (`qlut`).
    Table,
    /// A convolution (`qconv2d`), with what folds into it.
    Conv,
    /// A depthwise convolution (`qdepthwise_conv2d`), with what folds into it.
    Depthwise,
    /// A max pool (`qmax_pool2d`).
    MaxPool,
    /// An average pool (`qavg_pool2d`).
    AvgPool,
    /// A global average pool (`qglobal_avg_pool`).
    GlobalAvgPool,
    /// A flatten (`qflatten`).
    Flatten,
    /// The entry that opens a residual block (`residual`): the groups of its body follow,
    /// then those of its shortcut, then its [`Add`](Self::Add).
    Residual,
    /// The add that closes a residual block (`qadd`), with a ReLU after the block fused.
    Add,
}

impl GroupKind {
    /// The int8 layer kind it makes.
    pub const fn int8_kind(self) -> &'static str {
        match self {
            GroupKind::Dense => "qdense",
            GroupKind::Table => "qlut",
            GroupKind::Conv => "qconv2d",
            GroupKind::Depthwise => "qdepthwise_conv2d",
            GroupKind::MaxPool => "qmax_pool2d",
            GroupKind::AvgPool => "qavg_pool2d",
            GroupKind::GlobalAvgPool => "qglobal_avg_pool",
            GroupKind::Flatten => "qflatten",
            GroupKind::Residual => "residual",
            GroupKind::Add => "qadd",
        }
    }

    /// Whether the int8 layer's output is quantized as its input (pools and flatten, as
    /// TensorFlow Lite requires, and the entry that opens a residual block): calibration
    /// records no range for it.
    pub const fn keeps_quantization(self) -> bool {
        matches!(
            self,
            GroupKind::MaxPool
                | GroupKind::AvgPool
                | GroupKind::GlobalAvgPool
                | GroupKind::Flatten
                | GroupKind::Residual
        )
    }

    /// The kind of group float layer kind `kind` opens, if it opens one: a dense layer, a
    /// convolution, a pool or a flatten (tables open with their function).
    const fn opened_by(kind: &str) -> Option<GroupKind> {
        Some(match kind.as_bytes() {
            b"dense" => GroupKind::Dense,
            b"conv2d" => GroupKind::Conv,
            b"depthwise_conv2d" => GroupKind::Depthwise,
            b"max_pool2d" => GroupKind::MaxPool,
            b"avg_pool2d" => GroupKind::AvgPool,
            b"global_avg_pool" => GroupKind::GlobalAvgPool,
            b"flatten" => GroupKind::Flatten,
            _ => return None,
        })
    }

    /// Whether a batch normalization right after the layer folds into it.
    const fn folds(self) -> bool {
        matches!(
            self,
            GroupKind::Dense | GroupKind::Conv | GroupKind::Depthwise
        )
    }
}

/// The float layers `first..=last` that become one int8 layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    /// What the int8 layer is.
    pub kind: GroupKind,
    /// Index of the float layer that opens the group (the dense layer, the convolution,
    /// the pool, or the function of the table).
    pub first: usize,
    /// Index of the last float layer the group takes (its output is the int8 layer's).
    pub last: usize,
    /// Index of a batch normalization folded into the dense layer or convolution.
    pub folded: Option<usize>,
    /// The activations fused into the clamp (or folded into the table after its function).
    pub clamp: Clamp,
}

/// Where the conversion stands between float layers.
#[derive(Clone, Copy, Debug)]
enum State {
    Idle,
    /// A layer of its own (dense, convolution, pool) and whether a batch normalization may
    /// still fold in.
    Layer(Group, bool),
    Table(Group),
}

/// How deep residual blocks may nest in a network that [`groups`] and [`convert`] walk.
pub const MAX_NESTING: usize = 8;

/// The number of entries of the body (`a` = 0) or the shortcut (1) of the residual block
/// whose `residual` entry is `spec` (its attributes record them).
fn branch_len(spec: &LayerSpec, a: usize) -> usize {
    spec.attrs
        .get(a)
        .and_then(|s| s.exact())
        .map_or(0, |n| usize::try_from(n).unwrap_or(0))
}

/// Where the shortcut and the `add` entry of the residual block opened at entry `i` are.
fn block_at(spec: &LayerSpec, i: usize) -> (usize, usize) {
    let shortcut = i + 1 + branch_len(spec, 0);
    (shortcut, shortcut + branch_len(spec, 1))
}

/// The groups of float layers that become the int8 layers of `Int8<F>`, input first, by
/// the rules of [`Step`]; reads only the float layers' specs. A residual block gives the
/// group of its `residual` entry, its body's groups, its shortcut's, then its add's (the
/// entries of [`QResidual`]). Each item is a group, or the
/// error for a layer without an int8 form ([`QuantError::Mismatch`] naming it).
pub fn groups<F: Describe>() -> Groups<F> {
    Groups {
        next: 0,
        state: State::Idle,
        queued: None,
        blocks: [(0, 0); MAX_NESTING],
        depth: 0,
        done: false,
        _net: PhantomData,
    }
}

/// The iterator of [`groups`].
#[derive(Debug)]
pub struct Groups<F> {
    next: usize,
    state: State,
    /// A group closed together with the one before it (a flatten, a residual block).
    queued: Option<Group>,
    /// The residual blocks open: where their shortcuts and `add` entries are.
    blocks: [(usize, usize); MAX_NESTING],
    depth: usize,
    done: bool,
    _net: PhantomData<fn() -> F>,
}

impl<F: Describe> Iterator for Groups<F> {
    type Item = Result<Group, QuantError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(g) = self.queued.take() {
            return Some(Ok(g));
        }
        while !self.done {
            let i = self.next;
            let Some(spec) = F::layer_spec(i) else {
                self.done = true;
                return self.close();
            };
            let top = self.depth.checked_sub(1).and_then(|d| self.blocks.get(d));
            if let Some(&(shortcut, add)) = top
                && i == shortcut
                && i != add
                && let Some(closed) = self.close()
            {
                // The body's last group ends where the shortcut starts.
                return Some(closed);
            }
            self.next += 1;
            let open = |kind| Group {
                kind,
                first: i,
                last: i,
                folded: None,
                clamp: Clamp::None,
            };
            let clamp = match spec.kind {
                "relu" => Some(Clamp::Relu),
                "relu6" => Some(Clamp::Relu6),
                _ => None,
            };
            if spec.kind == "residual" {
                let Some(slot) = self.blocks.get_mut(self.depth) else {
                    self.done = true;
                    return Some(Err(QuantError::Mismatch {
                        layer: i,
                        expected: "residual blocks nested at most MAX_NESTING deep",
                        found: spec.kind,
                    }));
                };
                *slot = block_at(spec, i);
                self.depth += 1;
                let block = open(GroupKind::Residual);
                let Some(closed) = self.close() else {
                    return Some(Ok(block));
                };
                self.queued = Some(block);
                return Some(closed);
            }
            let (state, closed) = match (GroupKind::opened_by(spec.kind), self.state, clamp) {
                (None, _, _) if spec.kind == "add" => {
                    self.depth = self.depth.saturating_sub(1);
                    (State::Layer(open(GroupKind::Add), false), self.close())
                }
                (Some(GroupKind::Flatten), _, _) => {
                    // Closes what is pending, then itself.
                    let closed = self.close();
                    let flatten = open(GroupKind::Flatten);
                    if closed.is_none() {
                        return Some(Ok(flatten));
                    }
                    self.queued = Some(flatten);
                    (State::Idle, closed)
                }
                (Some(kind), _, _) => (State::Layer(open(kind), kind.folds()), self.close()),
                (None, State::Layer(mut g, true), _) if spec.kind == "batch_norm" => {
                    (g.folded, g.last) = (Some(i), i);
                    (State::Layer(g, false), None)
                }
                (None, _, _) if matches!(spec.kind, "tanh" | "sigmoid" | "leaky_relu") => {
                    (State::Table(open(GroupKind::Table)), self.close())
                }
                (None, State::Layer(mut g, _), Some(c)) => {
                    (g.clamp, g.last) = (g.clamp.then(c), i);
                    (State::Layer(g, false), None)
                }
                (None, State::Table(mut g), Some(c)) => {
                    (g.clamp, g.last) = (g.clamp.then(c), i);
                    (State::Table(g), None)
                }
                (None, State::Idle, Some(_)) => (State::Table(open(GroupKind::Table)), None),
                (None, state, _)
                    if matches!(spec.kind, "dropout" | "gaussian_noise" | "activity_l1") =>
                {
                    (extend(state, i), None)
                }
                (None, _, _) => {
                    self.done = true;
                    return Some(Err(QuantError::Mismatch {
                        layer: i,
                        expected: "a layer with an int8 form",
                        found: spec.kind,
                    }));
                }
            };
            self.state = state;
            if closed.is_some() {
                return closed;
            }
        }
        None
    }
}

/// `state` with float layer `i` (the identity at inference) taken into its group.
fn extend(state: State, i: usize) -> State {
    match state {
        State::Idle => State::Idle,
        State::Layer(mut g, fresh) => {
            g.last = i;
            State::Layer(g, fresh)
        }
        State::Table(mut g) => {
            g.last = i;
            State::Table(g)
        }
    }
}

impl<F> Groups<F> {
    /// The pending group, closed.
    fn close(&mut self) -> Option<Result<Group, QuantError>> {
        match core::mem::replace(&mut self.state, State::Idle) {
            State::Idle => None,
            State::Layer(g, _) | State::Table(g) => Some(Ok(g)),
        }
    }
}

/// The quantization of the int8 layer a group becomes, when its function fixes it: tanh's
/// output is in `(−1, 1)`, stored as TensorFlow Lite does with scale 1/128 and zero point
/// 0; sigmoid's in `(0, 1)`, scale 1/256 and zero point −128. `None` when the output range
/// comes from calibration.
pub fn fixed_output(float: &LayerSpec, group: &Group) -> Option<QParams> {
    if group.clamp != Clamp::None {
        return None;
    }
    match float.kind {
        "tanh" => Some(QParams {
            scale: 1.0 / 128.0,
            zero_point: 0,
        }),
        "sigmoid" => Some(QParams {
            scale: 1.0 / 256.0,
            zero_point: -128,
        }),
        _ => None,
    }
}

/// Writes the int8 network `q` from the float network `float`: the int8 layer `k` from the
/// `k`-th group of float layers ([`groups`]). `input` is the quantization of the network's
/// input and `boundary(i)` that of the output of float layer `i` (the host calibrates
/// them, `host::quantize`); the groups whose function fixes the output range
/// ([`fixed_output`]) ignore it, and so do those whose int8 layer keeps its input's
/// quantization ([`GroupKind::keeps_quantization`]). In a residual block, the body and the
/// shortcut both start from the block's input quantization, and the add takes the body's
/// output and the shortcut's (the block's input for the identity) to the quantization of
/// its own boundary, as TensorFlow Lite's `ADD` ([`QAdd::new`]). Needs no heap.
///
/// # Errors
/// [`QuantError::Mismatch`] if `Q` is not `F`'s int8 twin (a layer of another kind, shape
/// or geometry, too many or too few layers); the errors of [`DenseConversion::check`] for
/// a dense layer or convolution, of [`DepthwiseConversion::check`] for a depthwise one and
/// of [`QAdd::new`] for a residual block's add; [`QuantError::InvalidParams`] for a pool
/// or flatten whose input quantization is unusable. On error, the int8 layers before the
/// failing one are written.
pub fn convert<F: Describe, Q: Describe>(
    float: &F,
    q: &mut Q,
    input: QParams,
    boundary: impl Fn(usize) -> QParams,
) -> Result<(), QuantError> {
    let mut k = 0;
    let mut params = input;
    // The residual blocks open: their input's quantization, where their shortcut and add
    // are, and their body's output quantization once the shortcut starts.
    let mut blocks = [(input, 0, 0, None); MAX_NESTING];
    let mut depth: usize = 0;
    for group in groups::<F>() {
        let group = group?;
        if let Some((block_in, shortcut, add, body_out)) =
            depth.checked_sub(1).and_then(|d| blocks.get_mut(d))
            && group.first >= *shortcut
            && group.first < *add
            && body_out.is_none()
        {
            // The shortcut's first group: it takes the block's input.
            *body_out = Some(params);
            params = *block_in;
        }
        let first = F::layer_spec(group.first);
        let last = F::layer_spec(group.last);
        let int8 = Q::layer_spec(k);
        let kind = group.kind.int8_kind();
        let (Some(first), Some(last), Some(int8)) = (first, last, int8) else {
            return Err(mismatch(k, kind, "nothing"));
        };
        if int8.kind != kind || !int8.input.same(&first.input) || !int8.output.same(&last.output) {
            return Err(mismatch(k, int8.kind, first.kind));
        }
        let output = if group.kind.keeps_quantization() {
            params
        } else {
            fixed_output(first, &group).unwrap_or_else(|| boundary(group.last))
        };
        let (Some(src), Some(dst)) = (float.layer(group.first), q.layer_mut(k)) else {
            return Err(mismatch(k, kind, "nothing"));
        };
        // (A block's entries count their branches' layers, which differ in int8.)
        if group.kind != GroupKind::Residual && !same_geometry(src, dst) {
            return Err(mismatch(k, int8.kind, first.kind));
        }
        let fold = group.folded.and_then(|i| float.layer(i));
        match group.kind {
            GroupKind::Dense | GroupKind::Conv => dense(src, fold, &group, params, output, dst)?,
            GroupKind::Depthwise => depthwise(src, fold, &group, params, output, dst)?,
            GroupKind::Table => table(src, &group, params, output, dst)?,
            GroupKind::MaxPool | GroupKind::AvgPool | GroupKind::GlobalAvgPool => {
                pool(&group, params, dst)?
            }
            GroupKind::Flatten => {
                valid(params, "input")?;
                set_io(dst, params, params)?
            }
            GroupKind::Residual => {
                let slot = blocks.get_mut(depth).ok_or(QuantError::Shape)?;
                let (shortcut, add) = block_at(first, group.first);
                *slot = (params, shortcut, add, None);
                depth += 1;
            }
            GroupKind::Add => {
                depth = depth.checked_sub(1).ok_or(QuantError::Shape)?;
                let (block_in, _, _, body_out) = *blocks.get(depth).ok_or(QuantError::Shape)?;
                // With a shortcut, the body's output and the shortcut's; with the
                // identity, the body's output and the block's input.
                let (branch, skip) = match body_out {
                    Some(body) => (body, params),
                    None => (params, block_in),
                };
                let add = QAdd::<[i8; 1]>::new(branch, skip, output, group.clamp)?;
                for a in 0..int8.attrs.len() {
                    match add.attr(a) {
                        Some(v) if dst.set_attr(a, v) => {}
                        _ => return Err(QuantError::Shape),
                    }
                }
            }
        }

        params = output;
        k += 1;
    }
    if k != Q::LAYERS {
        let found = Q::layer_spec(k).map_or("nothing", |s| s.kind);
        return Err(mismatch(k, "nothing", found));
    }
    Ok(())
}

fn mismatch(layer: usize, expected: &'static str, found: &'static str) -> QuantError {
    QuantError::Mismatch {
        layer,
        expected,
        found,
    }
}

/// The `f32` elements of tensor `i` of `layer`.
fn f32s(layer: &dyn LayerData, i: usize) -> Result<&[f32], QuantError> {
    layer
        .tensor(i)
        .and_then(|t| t.f32s())
        .ok_or(QuantError::Shape)
}

/// The `f32` attribute `i` of `layer`.
fn attr_f32(layer: &dyn LayerData, i: usize) -> Result<f32, QuantError> {
    layer.attr(i).and_then(Attr::f32).ok_or(QuantError::Shape)
}

/// Sets the four quantization attributes every int8 layer starts with.
fn set_io(dst: &mut dyn LayerData, input: QParams, output: QParams) -> Result<(), QuantError> {
    let ok = dst.set_attr(0, Attr::F32(input.scale))
        && dst.set_attr(1, Attr::I32(input.zero_point))
        && dst.set_attr(2, Attr::F32(output.scale))
        && dst.set_attr(3, Attr::I32(output.zero_point));
    if ok { Ok(()) } else { Err(QuantError::Shape) }
}

/// The batch normalization `bn` as the conversions fold it.
fn bn_fold(bn: Option<&dyn LayerData>) -> Result<Option<BnFold<'_>>, QuantError> {
    let Some(bn) = bn else { return Ok(None) };
    Ok(Some(BnFold {
        gamma: f32s(bn, 0)?,
        beta: f32s(bn, 1)?,
        mean: f32s(bn, 2)?,
        var: f32s(bn, 3)?,
        eps: attr_f32(bn, 0)?,
    }))
}

/// Sets the clamp bounds, attributes 4 and 5 of the int8 layers that have them.
fn set_bounds(dst: &mut dyn LayerData, (min, max): (i8, i8)) -> Result<(), QuantError> {
    if dst.set_attr(4, Attr::I32(min.into())) && dst.set_attr(5, Attr::I32(max.into())) {
        Ok(())
    } else {
        Err(QuantError::Shape)
    }
}

/// `params`, if usable.
fn valid(params: QParams, which: &'static str) -> Result<QParams, QuantError> {
    if params.is_valid() {
        Ok(params)
    } else {
        Err(QuantError::InvalidParams { which })
    }
}

/// Whether the geometry of float layer `src` (its integer attributes: stride, padding,
/// window) is that of int8 layer `dst`, which lists it after its quantization and clamp
/// bounds. Layers without geometry agree.
fn same_geometry(src: &dyn LayerData, dst: &dyn LayerData) -> bool {
    let fixed = |spec: &LayerSpec| spec.attrs.iter().filter(|a| a.exact().is_some()).count();
    let (n, m) = (fixed(src.spec()), fixed(dst.spec()));
    let offset = dst.spec().attrs.len() - m;
    n == m
        && (0..n).all(|a| {
            let at = src.spec().attrs.len() - n + a;
            src.attr(at).is_some() && src.attr(at) == dst.attr(offset + a)
        })
}

fn depthwise(
    src: &dyn LayerData,
    fold: Option<&dyn LayerData>,
    group: &Group,
    input: QParams,
    output: QParams,
    dst: &mut dyn LayerData,
) -> Result<(), QuantError> {
    let conversion = DepthwiseConversion {
        weight: f32s(src, 0)?,
        bias: f32s(src, 1)?,
        fold: bn_fold(fold)?,
        input,
        output,
        clamp: group.clamp,
    };
    let bounds = conversion.check()?;
    for i in 0..4 {
        let t = dst.tensor_mut(i).ok_or(QuantError::Shape)?;
        conversion.fill(i, t)?;
    }
    set_io(dst, input, output)?;
    set_bounds(dst, bounds)
}

/// A pool: its output quantized as its input, a fused activation as its clamp.
fn pool(group: &Group, input: QParams, dst: &mut dyn LayerData) -> Result<(), QuantError> {
    let input = valid(input, "input")?;
    set_io(dst, input, input)?;
    set_bounds(dst, group.clamp.bounds(input))
}

fn dense(
    src: &dyn LayerData,
    fold: Option<&dyn LayerData>,
    group: &Group,
    input: QParams,
    output: QParams,
    dst: &mut dyn LayerData,
) -> Result<(), QuantError> {
    let fold = bn_fold(fold)?;
    let (weight, bias) = (f32s(src, 0)?, f32s(src, 1)?);
    // A convolution's rows are its filters, `KH·KW·C` weights each: a dense layer's are
    // its inputs.
    let inputs = weight
        .len()
        .checked_div(bias.len())
        .ok_or(QuantError::Shape)?;
    let conversion = DenseConversion {
        weight,
        bias,
        fold,
        inputs,
        input,
        output,
        clamp: group.clamp,
    };
    let (min, max) = conversion.check()?;
    for i in 0..4 {
        let t = dst.tensor_mut(i).ok_or(QuantError::Shape)?;
        conversion.fill(i, t)?;
    }
    set_io(dst, input, output)?;
    set_bounds(dst, (min, max))
}

fn table(
    src: &dyn LayerData,
    group: &Group,
    input: QParams,
    output: QParams,
    dst: &mut dyn LayerData,
) -> Result<(), QuantError> {
    if !input.is_valid() {
        return Err(QuantError::InvalidParams { which: "input" });
    }
    if !output.is_valid() {
        return Err(QuantError::InvalidParams { which: "output" });
    }
    let f = Function::of(src)?;
    let (min, max) = group.clamp.bounds(output);
    match dst.tensor_mut(0) {
        Some(TensorMut::I8(entries)) if entries.len() == 256 => {
            for (i, entry) in entries.iter_mut().enumerate() {
                let x = input.dequantize(i as u8 as i8);
                *entry = output.quantize(f.value(x)).clamp(min, max);
            }
        }
        _ => return Err(QuantError::Shape),
    }
    set_io(dst, input, output)
}

/// The float function a table computes.
#[derive(Clone, Copy, Debug)]
enum Function {
    Relu,
    Relu6,
    LeakyRelu(f32),
    Tanh,
    Sigmoid,
}

impl Function {
    fn of(layer: &dyn LayerData) -> Result<Function, QuantError> {
        Ok(match layer.spec().kind {
            "relu" => Function::Relu,
            "relu6" => Function::Relu6,
            "leaky_relu" => Function::LeakyRelu(attr_f32(layer, 0)?),
            "tanh" => Function::Tanh,
            "sigmoid" => Function::Sigmoid,
            kind => {
                return Err(QuantError::Mismatch {
                    layer: 0,
                    expected: "qlut",
                    found: kind,
                });
            }
        })
    }

    /// The function, in `f64` where it matters, so the table does not depend on the
    /// target's `f32` approximations.
    fn value(self, x: f32) -> f32 {
        match self {
            Function::Relu => x.max(0.0),
            Function::Relu6 => x.clamp(0.0, 6.0),
            Function::LeakyRelu(slope) => {
                if x > 0.0 {
                    x
                } else {
                    slope * x
                }
            }
            Function::Tanh => libm::tanh(f64::from(x)) as f32,
            Function::Sigmoid => (1.0 / (1.0 + libm::exp(-f64::from(x)))) as f32,
        }
    }
}
