//! From a float network to its int8 twin: the type the compiler derives, and the values.
//!
//! # The type: [`Int8<N, S>`](Int8)
//! The compiler walks the float network's layers, input first, with a small state machine
//! ([`Step`]): a [`Dense`] opens an int8 dense layer; a [`BatchNorm`] right after it is
//! folded into it; ReLU and ReLU6 become its output clamp; [`Dropout`], [`GaussianNoise`]
//! and [`ActivityL1`] disappear (they are the identity at inference); tanh, sigmoid and
//! leaky ReLU become 256-entry lookup tables ([`QLut`]), which also take the ReLUs that
//! follow them; a ReLU with nothing before it to fuse into becomes a table too;
//! [`Frozen`] layers convert as the layers they freeze.
//!
//! | float layers | int8 layer |
//! | --- | --- |
//! | `Dense<I, O>` [, `BatchNorm<O>`] [, `Relu` \| `Relu6`] | `QDense<I, O, S>` |
//! | `Tanh<T>` \| `Sigmoid<T>` \| `LeakyRelu<T>` [, `Relu` \| `Relu6`] | `QLut<T', S>` |
//! | `Relu<T>` \| `Relu6<T>` with no dense layer before | `QLut<T', S>` |
//! | `Dropout`, `GaussianNoise`, `ActivityL1` | — |
//!
//! (`T'` is `T` with `i8` elements.) A layer with no int8 form where it stands — a batch
//! normalization that does not directly follow a dense layer, or a layer type the machine
//! does not know — leaves [`Step`] unimplemented: the network does not compile, and the
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

use super::dense::{BnFold, Clamp, DenseConversion};
use super::lut::QLut;
use super::store::{Owned, Store};
use super::{QDense, QParams, QuantError};
use crate::layers::{
    Activation, ActivityL1, BatchNorm, Dense, Dropout, Frozen, GaussianNoise, LeakyReluFn, Relu6Fn,
    ReluFn, SigmoidFn, TanhFn,
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

/// The dense layer alone: a batch normalization may still fold in.
#[derive(Debug)]
pub enum Fresh {}
/// A batch normalization is folded in.
#[derive(Debug)]
pub enum Folded {}
/// An activation is fused into the clamp: nothing else folds in.
#[derive(Debug)]
pub enum Clamped {}

/// What the conversion holds between two float layers.
pub trait Pending {
    /// The int8 layers it becomes when the group closes, with arrays stored as `S`.
    type Flush<S: Store>: List;
}

impl Pending for Idle {
    type Flush<S: Store> = Nil;
}

impl<const IN: usize, const OUT: usize, St> Pending for PendingDense<IN, OUT, St> {
    type Flush<S: Store> = Cons<QDense<IN, OUT, S>, Nil>;
}

impl<T: Tensor> Pending for PendingLut<T> {
    type Flush<S: Store> = Cons<QLut<T::Cast<i8>, S>, Nil>;
}

/// One float layer (or chain) read by the conversion in state `P`: which int8 layers it
/// closes ([`Emit`](Self::Emit)) and what it leaves pending ([`Next`](Self::Next)). See the
/// [module docs](self) for the table; a layer without an int8 form where it stands has no
/// implementation.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no int8 form where it stands",
    label = "this network has a layer with no int8 form",
    note = "firmnet converts Dense (with the BatchNorm right after it folded in and ReLU or ReLU6 fused), \
            Tanh, Sigmoid, LeakyRelu, ReLU and ReLU6 (as lookup tables), and drops Dropout, \
            GaussianNoise and ActivityL1; a BatchNorm must directly follow a Dense \
            (see firmnet::quant::Step)"
)]
pub trait Step<P> {
    /// The int8 layers this layer closes, with arrays stored as `S`.
    type Emit<S: Store>: List;
    /// What stays pending after it.
    type Next: Pending;
}

impl<P: Pending, const IN: usize, const OUT: usize> Step<P> for Dense<IN, OUT> {
    type Emit<S: Store> = P::Flush<S>;
    type Next = PendingDense<IN, OUT, Fresh>;
}

impl<const IN: usize, const N: usize> Step<PendingDense<IN, N, Fresh>> for BatchNorm<N> {
    type Emit<S: Store> = Nil;
    type Next = PendingDense<IN, N, Folded>;
}

/// ReLU and ReLU6: fused into a pending dense layer's clamp, folded into a pending table,
/// or a table of their own.
macro_rules! clamp_step {
    ($f:ty) => {
        impl<T, const IN: usize, const OUT: usize, St> Step<PendingDense<IN, OUT, St>>
            for Activation<T, $f>
        {
            type Emit<S: Store> = Nil;
            type Next = PendingDense<IN, OUT, Clamped>;
        }
        impl<T, U: Tensor> Step<PendingLut<U>> for Activation<T, $f> {
            type Emit<S: Store> = Nil;
            type Next = PendingLut<U>;
        }
        impl<T: Tensor> Step<Idle> for Activation<T, $f> {
            type Emit<S: Store> = Nil;
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
            type Emit<S: Store> = P::Flush<S>;
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
            type Emit<S: Store> = Nil;
            type Next = P;
        }
    };
}
transparent_step!(Dropout);
transparent_step!(GaussianNoise);
transparent_step!(ActivityL1);

impl<P, L: Step<P>> Step<P> for Frozen<L> {
    type Emit<S: Store> = L::Emit<S>;
    type Next = L::Next;
}

impl<P, A, R> Step<P> for Chain<A, R>
where
    A: Infer + Step<P>,
    R: Infer<Input = A::Output> + Step<A::Next>,
{
    type Emit<S: Store> = <A::Emit<S> as List>::Concat<R::Emit<S>>;
    type Next = R::Next;
}

/// A float network with an int8 form: every network whose layers convert (see the
/// [module docs](self)). Implemented by the compiler for every such network; use
/// [`Int8<N, S>`](Int8) for the int8 type.
pub trait Quantize {
    /// The int8 layers, input first, with arrays stored as `S`.
    type Layers<S: Store>: List;
}

impl<N: Step<Idle>> Quantize for N {
    type Layers<S: Store> =
        <N::Emit<S> as List>::Concat<<<N as Step<Idle>>::Next as Pending>::Flush<S>>;
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
pub type Int8<N, S = Owned> = <<N as Quantize>::Layers<S> as ToNet>::Net;

// ---------------------------------------------------------------------------------------
// The values

/// What an int8 layer is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// A dense layer (`qdense`), with what folds into it.
    Dense,
    /// A lookup table (`qlut`).
    Table,
}

impl GroupKind {
    /// The int8 layer kind it makes.
    pub const fn int8_kind(self) -> &'static str {
        match self {
            GroupKind::Dense => "qdense",
            GroupKind::Table => "qlut",
        }
    }
}

/// The float layers `first..=last` that become one int8 layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    /// What the int8 layer is.
    pub kind: GroupKind,
    /// Index of the float layer that opens the group (the dense layer, or the function
    /// of the table).
    pub first: usize,
    /// Index of the last float layer the group takes (its output is the int8 layer's).
    pub last: usize,
    /// Index of a batch normalization folded into the dense layer.
    pub folded: Option<usize>,
    /// The activations fused into the clamp (or folded into the table after its function).
    pub clamp: Clamp,
}

/// Where the conversion stands between float layers.
#[derive(Clone, Copy, Debug)]
enum State {
    Idle,
    Dense(Group, bool),
    Table(Group),
}

/// The groups of float layers that become the int8 layers of `Int8<F>`, input first, by
/// the rules of [`Step`]; reads only the float layers' specs. Each item is a group, or the
/// error for a layer without an int8 form ([`QuantError::Mismatch`] naming it).
pub fn groups<F: Describe>() -> Groups<F> {
    Groups {
        next: 0,
        state: State::Idle,
        done: false,
        _net: PhantomData,
    }
}

/// The iterator of [`groups`].
#[derive(Debug)]
pub struct Groups<F> {
    next: usize,
    state: State,
    done: bool,
    _net: PhantomData<fn() -> F>,
}

impl<F: Describe> Iterator for Groups<F> {
    type Item = Result<Group, QuantError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let i = self.next;
            let Some(spec) = F::layer_spec(i) else {
                self.done = true;
                return self.close();
            };
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
            let (state, closed) = match (spec.kind, self.state, clamp) {
                ("dense", _, _) => (State::Dense(open(GroupKind::Dense), true), self.close()),
                ("batch_norm", State::Dense(mut g, true), _) => {
                    (g.folded, g.last) = (Some(i), i);
                    (State::Dense(g, false), None)
                }
                ("tanh" | "sigmoid" | "leaky_relu", _, _) => {
                    (State::Table(open(GroupKind::Table)), self.close())
                }
                (_, State::Dense(mut g, _), Some(c)) => {
                    (g.clamp, g.last) = (g.clamp.then(c), i);
                    (State::Dense(g, false), None)
                }
                (_, State::Table(mut g), Some(c)) => {
                    (g.clamp, g.last) = (g.clamp.then(c), i);
                    (State::Table(g), None)
                }
                (_, State::Idle, Some(_)) => (State::Table(open(GroupKind::Table)), None),
                ("dropout" | "gaussian_noise" | "activity_l1", state, _) => {
                    (extend(state, i), None)
                }
                (kind, _, _) => {
                    self.done = true;
                    return Some(Err(QuantError::Mismatch {
                        layer: i,
                        expected: "a layer with an int8 form",
                        found: kind,
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
        State::Dense(mut g, fresh) => {
            g.last = i;
            State::Dense(g, fresh)
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
            State::Dense(g, _) | State::Table(g) => Some(Ok(g)),
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
/// ([`fixed_output`]) ignore it. Needs no heap.
///
/// # Errors
/// [`QuantError::Mismatch`] if `Q` is not `F`'s int8 twin (a layer of another kind or
/// shape, too many or too few layers); the errors of [`DenseConversion::check`] for a
/// dense layer. On error, the int8 layers before the failing one are written.
pub fn convert<F: Describe, Q: Describe>(
    float: &F,
    q: &mut Q,
    input: QParams,
    boundary: impl Fn(usize) -> QParams,
) -> Result<(), QuantError> {
    let mut k = 0;
    let mut params = input;
    for group in groups::<F>() {
        let group = group?;
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
        let output = fixed_output(first, &group).unwrap_or_else(|| boundary(group.last));
        let (Some(src), Some(dst)) = (float.layer(group.first), q.layer_mut(k)) else {
            return Err(mismatch(k, kind, "nothing"));
        };
        match group.kind {
            GroupKind::Dense => {
                let fold = group.folded.and_then(|i| float.layer(i));
                dense(src, fold, &group, params, output, dst)?;
            }
            GroupKind::Table => table(src, &group, params, output, dst)?,
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

fn dense(
    src: &dyn LayerData,
    fold: Option<&dyn LayerData>,
    group: &Group,
    input: QParams,
    output: QParams,
    dst: &mut dyn LayerData,
) -> Result<(), QuantError> {
    let fold = match fold {
        Some(bn) => Some(BnFold {
            gamma: f32s(bn, 0)?,
            beta: f32s(bn, 1)?,
            mean: f32s(bn, 2)?,
            var: f32s(bn, 3)?,
            eps: attr_f32(bn, 0)?,
        }),
        None => None,
    };
    let conversion = DenseConversion {
        weight: f32s(src, 0)?,
        bias: f32s(src, 1)?,
        fold,
        inputs: src.spec().input.len(),
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
    if dst.set_attr(4, Attr::I32(min.into())) && dst.set_attr(5, Attr::I32(max.into())) {
        Ok(())
    } else {
        Err(QuantError::Shape)
    }
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
