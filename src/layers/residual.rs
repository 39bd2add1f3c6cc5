//! Residual blocks (He et al., 2016): `y = body(x) + shortcut(x)`, one element of a network.
//!
//! The design — the block in the inference arena, its training caches, and its entries in a
//! network's list of primitive layers — is told once, on [`Residual`].

use core::marker::PhantomData;

use super::{Context, Layer, ParamInfo, Params, no_params, no_tensor};
use crate::arena::{Both, Either, InPlace, Inside, Outside, Place, at_side};
use crate::init::Init;
use crate::net::{Dst, Infer, Src};
use crate::rng::Rng;
use crate::spec::{Attr, AttrSpec, Describe, Dtype, LayerData, LayerSpec, TensorMut, TensorRef};
use crate::tensor::{Scalar, Tensor, Zero, copy};

/// The identity on tensors of type `T`: the default shortcut of a [`Residual`] block.
///
/// An elementwise layer without parameters that computes in place (it costs no arena of
/// its own) and passes gradients through unchanged. It takes any tensor, float or int8. It
/// has no entry in a network's list of layers ([`Describe::LAYERS`] is 0): in a file it is
/// the absence of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity<T> {
    _shape: PhantomData<fn(T) -> T>,
}

impl<T> Identity<T> {
    /// The identity.
    pub const DEFAULT: Self = Identity {
        _shape: PhantomData,
    };

    /// The identity.
    pub const fn new() -> Self {
        Self::DEFAULT
    }
}

impl<T> Default for Identity<T> {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl<T> Zero for Identity<T> {
    const ZERO: Self = Self::DEFAULT;
}

no_params!([T] Identity<T>);

impl<T: Tensor> Infer for Identity<T> {
    type Input = T;
    type Output = T;
    type Footprint<I: Place, O: Place> = InPlace<I, O, T>;
    const IN_PLACE: bool = true;

    #[inline]
    fn forward_with(&self, x: &T, y: &mut T, _: &mut [T::Elem]) {
        *y = *x;
    }
}

/// No entry: the identity is stored as nothing.
impl<T> Describe for Identity<T> {
    const LAYERS: usize = 0;
    fn layer_spec(_: usize) -> Option<&'static LayerSpec> {
        None
    }
    fn layer(&self, _: usize) -> Option<&dyn LayerData> {
        None
    }
    fn layer_mut(&mut self, _: usize) -> Option<&mut dyn LayerData> {
        None
    }
}

impl<T: Tensor<Elem = f32>> Layer for Identity<T> {
    type Grad = ();
    type Cache<const B: usize> = ();

    fn forward_train<const B: usize>(
        &mut self,
        x: &[T; B],
        y: &mut [T; B],
        _: &mut (),
        _: &mut Context,
    ) {
        copy(T::batch_slice(x), T::batch_slice_mut(y));
    }

    fn backward<const B: usize>(
        &self,
        _: &[T; B],
        _: &[T; B],
        dy: &[T; B],
        dx: Option<&mut [T; B]>,
        _: &mut (),
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            copy(T::batch_slice(dy), T::batch_slice_mut(dx));
        }
    }
}

/// A residual block (He et al., 2016): `y = body(x) + shortcut(x)`.
///
/// The body is any float network — in a CNN convolution → batch norm → ReLU → convolution →
/// batch norm — and the shortcut is the [`Identity`] (the default) or a projection that
/// maps the block's input to the body's output shape (a 1×1 convolution with a stride,
/// perhaps followed by batch normalization; a dense layer on vectors). The block is itself
/// a layer, so it sits in a [`Net!`](macro@crate::Net) like any other and blocks nest:
///
/// ```
/// use firmnet::prelude::*;
///
/// type Block = Residual<Net![Dense<8, 8>, Relu<[f32; 8]>, Dense<8, 8>]>;
/// type Model = Net![Dense<4, 8>, Block, Relu<[f32; 8]>, Dense<8, 3>];
/// let mut model: Model = Zero::ZERO;
/// model.init(Init::HeNormal, &mut Rng::new(1));
///
/// let mut scratch = Scratch::<Model>::ZERO;
/// let mut y = [0.0; 3];
/// model.forward(&[1.0, -2.0, 0.5, 3.0], &mut y, &mut scratch);
/// // The block's input, its output and the body's hidden activation: 3 × 8 floats.
/// assert_eq!(size_of::<Scratch<Model>>(), 3 * 8 * 4);
///
/// // With a projection: 8 → 4 by the body, 8 → 4 by a dense shortcut.
/// type Down = Residual<Net![Dense<8, 4>, Tanh<[f32; 4]>, Dense<4, 4>], Dense<8, 4>>;
/// static DOWN: Down = Residual::new(net![Dense::ZERO, Tanh::DEFAULT, Dense::ZERO], Dense::ZERO);
/// # let _ = &DOWN;
/// ```
///
/// # Inference and its memory
/// The block runs the body from its input straight into its output, then the shortcut from
/// the same input into working memory, and adds that into the output. The input must stay
/// alive while the body runs, so the block is an out-of-place layer of the arena like a dense
/// layer — its input at one end, its output at the other — and both branches run in the
/// space between, where the block's input and output are, to them, the caller's. For body
/// `B`, shortcut `S`, input `X` and output `Y`:
///
/// ```text
/// Footprint<I, O> = Both<I::Hold<X>, Both<O::Hold<Y>,
///                        Either<B::Footprint<Outside, Outside>, S::Footprint<Outside, Inside>>>>
/// ```
///
/// that is, the input if it lives in the arena, the output if it does, and between them the
/// larger of what the body needs with its input and output outside its arena (its own
/// intermediate activations and scratch) and what the shortcut needs with its input outside
/// and its output inside (the shortcut's output, `|Y|`, and its own scratch). So the block
/// works wherever it sits — first in a network (its input the caller's), last (its output
/// the caller's), in the middle, inside another block's branch — through the
/// [`Infer::run`] every out-of-place layer has, and
/// [`Scratch<Net>`](crate::net::Scratch) stays a type the compiler sizes.
///
/// The identity shortcut copies `X` (= `Y`) into that room before adding it. The copy fits
/// in room the body needs anyway whenever the body has an intermediate activation at least
/// as large as its output (a body of two convolutions, MobileNet's expand → depthwise →
/// project); only a body of one layer pays `|Y|` more for it.
///
/// # Training
/// [`Layer::forward_train`] runs both branches on the batch and keeps their caches and
/// outputs ([`ResidualCache`]); the backward pass sends `∂L/∂y` into both branches and
/// returns the sum of their input gradients. [`Context::inference`] reaches both branches
/// (batch normalization in the body then uses its running statistics), so training-mode
/// forward under it equals inference.
///
/// # In a network's list of layers
/// Files, Rust source, calibration and the int8 conversion see a network as its list of
/// primitive layers ([`Describe`]). A block is that list of its branches between two
/// entries without tensors, input first:
///
/// | entry | kind | shapes | what |
/// | --- | --- | --- | --- |
/// | `i` | `residual` | `X → X` | opens the block: i32 attributes `body_layers` and `shortcut_layers` |
/// | `i + 1 …` | the body's | `X → … → Y` | `body_layers` entries |
/// | then | the shortcut's | `X → … → Y` | `shortcut_layers` entries, none for the identity |
/// | `i + 1 + body_layers + shortcut_layers` | `add` | `Y → Y` | closes the block; its output is the block's |
///
/// So the body's first entry and the shortcut's first entry both take the output of the
/// `residual` entry (the block's input), and `add` takes the outputs of both branches' last
/// entries (for the identity, the block's input). The two counts are fixed by the block's
/// type ([`AttrSpec::structure`](crate::spec::AttrSpec::structure)): a file of a network
/// whose branches divide its layers differently is refused with
/// [`ErrorCode::Structure`](crate::format::ErrorCode::Structure), even where the layers
/// themselves are alike. [`Identity`] has no entry of its own (its
/// [`Describe::LAYERS`] is 0), so a network keeps the same list with or without it.
///
/// Parameters ([`Params`]) are numbered as the entries are — the body's tensors, then the
/// shortcut's — and [`ParamInfo::layer`] counts the entries, the `residual` one included.
/// [`Layer::activation`] numbers the same way: the body's and the shortcut's entries give
/// their outputs from the block's cache; the `residual` entry gives `None` (its output is
/// the block's input: the output of the entry before it, or the network's input), and so
/// does `add` (its output is the block's, which the network holds).
///
/// # Shapes
/// The bound on `S` sits on the struct, as on [`Chain`](crate::net::Chain): a shortcut
/// whose shapes are not the body's is not a type, and does not compile (the identity
/// needs a body whose output has the input's shape).
#[derive(Debug, PartialEq)]
pub struct Residual<
    B: Infer,
    S: Infer<Input = B::Input, Output = B::Output> = Identity<<B as Infer>::Input>,
> {
    /// The branch that learns the residual.
    pub body: B,
    /// The branch that carries the input over: the identity or a projection.
    pub shortcut: S,
}

impl<B: Infer, S: Infer<Input = B::Input, Output = B::Output>> Residual<B, S> {
    /// The block of `body` and `shortcut`.
    pub const fn new(body: B, shortcut: S) -> Self {
        Residual { body, shortcut }
    }
}

impl<B: Infer + Clone, S: Infer<Input = B::Input, Output = B::Output> + Clone> Clone
    for Residual<B, S>
{
    fn clone(&self) -> Self {
        Residual::new(self.body.clone(), self.shortcut.clone())
    }

    /// Branch by branch (each with its own `clone_from`), with no copy of the whole block
    /// on the stack.
    fn clone_from(&mut self, source: &Self) {
        self.body.clone_from(&source.body);
        self.shortcut.clone_from(&source.shortcut);
    }
}

impl<B: Infer + Zero, S: Infer<Input = B::Input, Output = B::Output> + Zero> Zero
    for Residual<B, S>
{
    const ZERO: Self = Residual::new(B::ZERO, S::ZERO);
}

/// `dst += src`, element by element, as far as both reach.
#[inline]
fn add(src: &[f32], dst: &mut [f32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

impl<B, S> Infer for Residual<B, S>
where
    B: Infer<Input: Tensor<Elem = f32>>,
    S: Infer<Input = B::Input, Output = B::Output>,
{
    type Input = B::Input;
    type Output = B::Output;
    /// See the [design](Residual): the input and output where they live, and between
    /// them room for either branch.
    type Footprint<I: Place, O: Place> = Both<
        I::Hold<B::Input>,
        Both<
            O::Hold<B::Output>,
            Either<B::Footprint<Outside, Outside>, S::Footprint<Outside, Inside>>,
        >,
    >;

    /// `scratch` is the room between the block's input and output: the body runs there
    /// from `x` into `y`, then the shortcut from `x` into its own end of it.
    fn forward_with(&self, x: &B::Input, y: &mut B::Output, scratch: &mut [f32]) {
        self.body.run(Src::Caller(x), Dst::Caller(y), scratch);
        self.shortcut.run(Src::Caller(x), Dst::Arena, scratch);
        if let Some((shortcut, _)) = at_side(scratch, S::FROM_CALLER, B::Output::LEN) {
            add(shortcut, y.as_mut_slice());
        }
    }
}

/// Where entry `i` of a block's list of layers is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// The `residual` entry.
    Open,
    /// The body's entry.
    Body(usize),
    /// The shortcut's entry.
    Shortcut(usize),
    /// The `add` entry.
    Add,
}

impl Part {
    /// Entry `i` of a block whose branches have `body` and `shortcut` entries; `None` past
    /// the end.
    pub(crate) const fn of(i: usize, body: usize, shortcut: usize) -> Option<Part> {
        if i == 0 {
            Some(Part::Open)
        } else if i <= body {
            Some(Part::Body(i - 1))
        } else if i <= body + shortcut {
            Some(Part::Shortcut(i - 1 - body))
        } else if i == body + shortcut + 1 {
            Some(Part::Add)
        } else {
            None
        }
    }
}

/// The `residual` entry of a block with body `B` and shortcut `S`, for [`Describe`]. It
/// holds nothing (its attributes are the type's), so a block hands it out as an empty
/// array of it: `&mut []` is a mutable reference Rust makes without a place to borrow.
pub(crate) struct Open<B, S>(PhantomData<fn() -> (B, S)>);

impl<B: Infer + Describe, S: Describe> Open<B, S> {
    pub(crate) const SPEC: LayerSpec = LayerSpec {
        kind: "residual",
        input: <B::Input as Tensor>::SHAPE,
        output: <B::Input as Tensor>::SHAPE,
        tensors: &[],
        attrs: &[
            AttrSpec::structure("body_layers", B::LAYERS),
            AttrSpec::structure("shortcut_layers", S::LAYERS),
        ],
        ordered: &[],
        int8_io: false,
    };

    /// Attribute `i`: the number of entries of the body (0) or the shortcut (1).
    fn attr(i: usize) -> Option<Attr> {
        Self::SPEC.attrs.get(i)?.exact().map(Attr::I32)
    }
}

impl<B: Infer + Describe, S: Describe> LayerData for [Open<B, S>; 0] {
    fn spec(&self) -> &'static LayerSpec {
        &Open::<B, S>::SPEC
    }
    /// `Residual::new` for a float block, `QResidual::new` for an int8 one.
    fn ctor(&self) -> &'static str {
        match <<B::Input as Tensor>::Elem as Scalar>::DTYPE {
            Dtype::I8 => "firmnet::quant::QResidual::new",
            _ => "firmnet::layers::Residual::new",
        }
    }
    fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
        None
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        Open::<B, S>::attr(i)
    }
    /// The counts are the type's: only their own values are taken.
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        Open::<B, S>::attr(i) == Some(value)
    }
}

/// The `add` entry that closes a block whose output is a `T` (see [`Open`]).
struct Close<T>(PhantomData<fn() -> T>);

impl<T: Tensor> Close<T> {
    const SPEC: LayerSpec = LayerSpec {
        kind: "add",
        input: T::SHAPE,
        output: T::SHAPE,
        tensors: &[],
        attrs: &[],
        ordered: &[],
        int8_io: false,
    };
}

impl<T: Tensor> LayerData for [Close<T>; 0] {
    fn spec(&self) -> &'static LayerSpec {
        &Close::<T>::SPEC
    }
    /// Nothing is built from this entry: the `residual` entry's constructor takes both
    /// branches, and this one ends its arguments.
    fn ctor(&self) -> &'static str {
        ""
    }
    fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
        None
    }
    fn attr(&self, _: usize) -> Option<Attr> {
        None
    }
    fn set_attr(&mut self, _: usize, _: Attr) -> bool {
        false
    }
}

impl<B, S> Describe for Residual<B, S>
where
    B: Infer + Describe,
    S: Infer<Input = B::Input, Output = B::Output> + Describe,
{
    const LAYERS: usize = B::LAYERS + S::LAYERS + 2;
    const BLOCKS: bool = true;

    fn layer_spec(i: usize) -> Option<&'static LayerSpec> {
        match Part::of(i, B::LAYERS, S::LAYERS)? {
            Part::Open => Some(&Open::<B, S>::SPEC),
            Part::Body(j) => B::layer_spec(j),
            Part::Shortcut(j) => S::layer_spec(j),
            Part::Add => Some(&Close::<B::Output>::SPEC),
        }
    }

    fn layer(&self, i: usize) -> Option<&dyn LayerData> {
        match Part::of(i, B::LAYERS, S::LAYERS)? {
            Part::Open => Some(&[] as &[Open<B, S>; 0]),
            Part::Body(j) => self.body.layer(j),
            Part::Shortcut(j) => self.shortcut.layer(j),
            Part::Add => Some(&[] as &[Close<B::Output>; 0]),
        }
    }

    fn layer_mut(&mut self, i: usize) -> Option<&mut dyn LayerData> {
        match Part::of(i, B::LAYERS, S::LAYERS)? {
            Part::Open => {
                let open: &mut [Open<B, S>; 0] = &mut [];
                Some(open)
            }
            Part::Body(j) => self.body.layer_mut(j),
            Part::Shortcut(j) => self.shortcut.layer_mut(j),
            Part::Add => {
                let close: &mut [Close<B::Output>; 0] = &mut [];
                Some(close)
            }
        }
    }
}

impl<B: Layer, S: Layer<Input = B::Input, Output = B::Output>> Params for Residual<B, S> {
    const TENSORS: usize = B::TENSORS + S::TENSORS;

    fn tensor(&self, i: usize) -> &[f32] {
        if i < B::TENSORS {
            self.body.tensor(i)
        } else {
            self.shortcut.tensor(i - B::TENSORS)
        }
    }

    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        if i < B::TENSORS {
            self.body.tensor_mut(i)
        } else {
            self.shortcut.tensor_mut(i - B::TENSORS)
        }
    }

    /// The branch's own, its layer counted through the block's entries (the `residual`
    /// entry is 0).
    fn info(i: usize) -> ParamInfo {
        let mut info;
        if i < B::TENSORS {
            info = B::info(i);
            info.layer += 1;
        } else if i < Self::TENSORS {
            info = S::info(i - B::TENSORS);
            info.layer += 1 + B::LAYERS;
        } else {
            no_tensor(i)
        }
        info
    }

    fn frozen(i: usize) -> bool {
        if i < B::TENSORS {
            B::frozen(i)
        } else {
            S::frozen(i - B::TENSORS)
        }
    }
}

/// Gradients (or optimizer moments) of a [`Residual`] block: the branches' own, numbered
/// like the block's [`Params`].
pub struct ResidualGrad<B: Layer, S: Layer> {
    /// Gradients of the body.
    pub body: B::Grad,
    /// Gradients of the shortcut.
    pub shortcut: S::Grad,
}

impl<B: Layer, S: Layer> Zero for ResidualGrad<B, S> {
    const ZERO: Self = ResidualGrad {
        body: B::Grad::ZERO,
        shortcut: S::Grad::ZERO,
    };
}

impl<B: Layer, S: Layer<Input = B::Input, Output = B::Output>> Params for ResidualGrad<B, S> {
    const TENSORS: usize = B::TENSORS + S::TENSORS;

    fn tensor(&self, i: usize) -> &[f32] {
        if i < B::TENSORS {
            self.body.tensor(i)
        } else {
            self.shortcut.tensor(i - B::TENSORS)
        }
    }

    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        if i < B::TENSORS {
            self.body.tensor_mut(i)
        } else {
            self.shortcut.tensor_mut(i - B::TENSORS)
        }
    }

    fn info(i: usize) -> ParamInfo {
        <Residual<B, S> as Params>::info(i)
    }
}

/// Training cache of a [`Residual`] block for a batch of `N`: the branches' caches, their
/// outputs, and the shortcut's input gradient before it joins the body's.
pub struct ResidualCache<B: Layer, S: Layer, const N: usize> {
    /// Cache of the body.
    pub body: B::Cache<N>,
    /// Cache of the shortcut.
    pub shortcut: S::Cache<N>,
    /// The body's output for the batch.
    pub body_out: [B::Output; N],
    /// The shortcut's output for the batch.
    pub shortcut_out: [S::Output; N],
    /// The gradient of the loss with respect to the block's input through the shortcut.
    pub shortcut_dx: [S::Input; N],
}

impl<B: Layer, S: Layer, const N: usize> Zero for ResidualCache<B, S, N> {
    const ZERO: Self = ResidualCache {
        body: <B::Cache<N> as Zero>::ZERO,
        shortcut: <S::Cache<N> as Zero>::ZERO,
        body_out: <[B::Output; N] as Zero>::ZERO,
        shortcut_out: <[S::Output; N] as Zero>::ZERO,
        shortcut_dx: <[S::Input; N] as Zero>::ZERO,
    };
}

impl<B: Layer, S: Layer<Input = B::Input, Output = B::Output>> Layer for Residual<B, S> {
    type Grad = ResidualGrad<B, S>;
    type Cache<const N: usize> = ResidualCache<B, S, N>;

    /// The body, then the shortcut (in this order they draw from `ctx`'s random stream),
    /// then their sum.
    fn forward_train<const N: usize>(
        &mut self,
        x: &[B::Input; N],
        y: &mut [B::Output; N],
        cache: &mut ResidualCache<B, S, N>,
        ctx: &mut Context,
    ) {
        self.body
            .forward_train(x, &mut cache.body_out, &mut cache.body, ctx);
        self.shortcut
            .forward_train(x, &mut cache.shortcut_out, &mut cache.shortcut, ctx);
        let y = B::Output::batch_slice_mut(y);
        copy(B::Output::batch_slice(&cache.body_out), y);
        add(B::Output::batch_slice(&cache.shortcut_out), y);
    }

    /// `∂L/∂y` goes to both branches unchanged; `∂L/∂x` is the sum of their input
    /// gradients.
    fn backward<const N: usize>(
        &self,
        x: &[B::Input; N],
        _: &[B::Output; N],
        dy: &[B::Output; N],
        dx: Option<&mut [B::Input; N]>,
        cache: &mut ResidualCache<B, S, N>,
        grad: &mut ResidualGrad<B, S>,
    ) {
        let (body_out, shortcut_out) = (&cache.body_out, &cache.shortcut_out);
        match dx {
            Some(dx) => {
                self.body
                    .backward(x, body_out, dy, Some(dx), &mut cache.body, &mut grad.body);
                self.shortcut.backward(
                    x,
                    shortcut_out,
                    dy,
                    Some(&mut cache.shortcut_dx),
                    &mut cache.shortcut,
                    &mut grad.shortcut,
                );
                add(
                    B::Input::batch_slice(&cache.shortcut_dx),
                    B::Input::batch_slice_mut(dx),
                );
            }
            None => {
                self.body
                    .backward(x, body_out, dy, None, &mut cache.body, &mut grad.body);
                self.shortcut.backward(
                    x,
                    shortcut_out,
                    dy,
                    None,
                    &mut cache.shortcut,
                    &mut grad.shortcut,
                );
            }
        }
    }

    /// The body, then the shortcut, from the same random stream.
    fn init(&mut self, scheme: Init, rng: &mut Rng) {
        self.body.init(scheme, rng);
        self.shortcut.init(scheme, rng);
    }

    /// Numbered like [`Describe`] (see the [design](Residual)): `None` for the
    /// `residual` and `add` entries.
    fn activation<const N: usize>(cache: &ResidualCache<B, S, N>, i: usize) -> Option<&[f32]> {
        match Part::of(i, B::LAYERS, S::LAYERS)? {
            Part::Open | Part::Add => None,
            Part::Body(j) if j + 1 == B::LAYERS => Some(B::Output::batch_slice(&cache.body_out)),
            Part::Body(j) => B::activation(&cache.body, j),
            Part::Shortcut(j) if j + 1 == S::LAYERS => {
                Some(B::Output::batch_slice(&cache.shortcut_out))
            }
            Part::Shortcut(j) => S::activation(&cache.shortcut, j),
        }
    }
}
