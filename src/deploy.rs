//! The float deployment form of a network: what a target without int8 runs.
//!
//! A trained network carries what only training needs: batch normalization computes
//! `γ·(x − μ)/√(σ² + ε) + β` with a square root per feature on every inference, and
//! dropout, Gaussian noise and activity penalties are layers that do nothing at inference.
//! Its deployment form, [`Deployed<N>`](Deployed), is a type the compiler derives:
//!
//! | float layers | deployed |
//! | --- | --- |
//! | `Dense<I, O>`, `BatchNorm<O>` | `Dense<I, O>` with the normalization folded into its weights and biases |
//! | `Dense<I, O>` alone | `Dense<I, O>` |
//! | `Conv2d<…>` or `DepthwiseConv2d<…>`, `BatchNorm2d<…>` | the convolution, with the normalization folded into each output channel's weights and bias |
//! | `Conv2d<…>` or `DepthwiseConv2d<…>` alone | itself |
//! | a `BatchNorm` or `BatchNorm2d` after anything else | itself |
//! | activations, pools, `Flatten` | themselves |
//! | `Residual<B, S>` | `Residual<Deployed<B>, Deployed<S>>` (the identity stays) |
//! | `Dropout`, `GaussianNoise`, `ActivityL1` | — |
//! | `Frozen<L>` | as `L` |
//!
//! [`deploy`] writes its values. The folded layer computes `W'·x + b'` with
//! `W' = k·W`, `b' = k·b + c` (`k = γ/√(σ² + ε)`, `c = β − k·μ`, computed in `f64` and
//! rounded once), so its outputs agree with the trained network's to rounding; the test
//! suite measures that bound, and `verify` runs the deployed network in firmware bit for
//! bit against the host's reference kernels.
//!
//! ```
//! use firmnet::deploy::{Deployed, deploy};
//! use firmnet::prelude::*;
//!
//! type Mlp = Net![Dense<4, 8>, BatchNorm<8>, Relu<[f32; 8]>, Dropout<[f32; 8]>, Dense<8, 3>];
//! let mut net: Mlp =
//!     net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dropout::new(0.5), Dense::ZERO];
//! net.init(Init::HeNormal, &mut Rng::new(1));
//! let mut small: Deployed<Mlp> = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];
//! deploy(&net, &mut small)?;
//! let (mut a, mut b) = ([0.0; 3], [0.0; 3]);
//! let (mut s1, mut s2) = (Scratch::<Mlp>::ZERO, Scratch::<Deployed<Mlp>>::ZERO);
//! net.forward(&[1.0, -2.0, 0.5, 3.0], &mut a, &mut s1);
//! small.forward(&[1.0, -2.0, 0.5, 3.0], &mut b, &mut s2);
//! assert!(a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-5));
//! # Ok::<(), firmnet::deploy::DeployError>(())
//! ```

use core::fmt;

use core::marker::PhantomData;

use crate::layers::{
    Activation, ActivationFn, ActivityL1, AvgPool2d, BatchNorm, BatchNorm2d, Conv2d, Dense,
    DepthwiseConv2d, Dropout, Flatten, Frozen, GaussianNoise, GlobalAvgPool, Identity, MaxPool2d,
    Padding, Residual,
};
use crate::net::{Chain, Infer};
use crate::quant::convert::MAX_NESTING;
use crate::quant::convert::{Cons, List, Nil, ToNet};
use crate::spec::{Attr, Describe, LayerData, TensorMut, TensorRef};

/// Nothing pending.
#[derive(Debug)]
pub enum Idle {}

/// A dense layer `IN → OUT` waits for a batch normalization to fold in.
#[derive(Debug)]
pub struct PendingDense<const IN: usize, const OUT: usize>;

/// What the deployment conversion holds between two float layers.
pub trait Pending {
    /// The layers it becomes when nothing more folds in.
    type Flush: List;
}

impl Pending for Idle {
    type Flush = Nil;
}

impl<const IN: usize, const OUT: usize> Pending for PendingDense<IN, OUT> {
    type Flush = Cons<Dense<IN, OUT>, Nil>;
}

/// A convolution `L` waits for a batch normalization to fold in.
#[derive(Debug)]
pub struct PendingConv<L>(PhantomData<L>);

impl<L> Pending for PendingConv<L> {
    type Flush = Cons<L, Nil>;
}

/// One float layer (or chain) read by the deployment conversion in state `P`: the
/// deployed layers it closes and what stays pending (see the [module docs](self)).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no float deployment form",
    note = "the deployment form keeps Dense, convolutions, BatchNorm, BatchNorm2d, \
            activations, pools and Flatten, and drops Dropout, GaussianNoise and ActivityL1 \
            (see firmnet::deploy)"
)]
pub trait DeployStep<P> {
    /// The deployed layers this layer closes.
    type Emit: List;
    /// What stays pending after it.
    type Next: Pending;
}

impl<P: Pending, const IN: usize, const OUT: usize> DeployStep<P> for Dense<IN, OUT> {
    type Emit = P::Flush;
    type Next = PendingDense<IN, OUT>;
}

impl<const IN: usize, const N: usize> DeployStep<PendingDense<IN, N>> for BatchNorm<N> {
    type Emit = Cons<Dense<IN, N>, Nil>;
    type Next = Idle;
}

impl<const N: usize> DeployStep<Idle> for BatchNorm<N> {
    type Emit = Cons<BatchNorm<N>, Nil>;
    type Next = Idle;
}

impl<
    Pd: Pending,
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
> DeployStep<Pd> for Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>
{
    type Emit = Pd::Flush;
    type Next = PendingConv<Self>;
}

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
> DeployStep<PendingConv<Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>>>
    for BatchNorm2d<OH, OW, K>
{
    type Emit = Cons<Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>, Nil>;
    type Next = Idle;
}

impl<
    Pd: Pending,
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding,
> DeployStep<Pd> for DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    type Emit = Pd::Flush;
    type Next = PendingConv<Self>;
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
> DeployStep<PendingConv<DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>>>
    for BatchNorm2d<OH, OW, C>
{
    type Emit = Cons<DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>, Nil>;
    type Next = Idle;
}

impl<const H: usize, const W: usize, const C: usize> DeployStep<Idle> for BatchNorm2d<H, W, C> {
    type Emit = Cons<Self, Nil>;
    type Next = Idle;
}

/// Layers that deploy as themselves, closing what is pending: pools and flatten.
macro_rules! kept {
    ($ty:ident < $($c:ident),* > $(, $p:ident)?) => {
        impl<Pd: Pending, $(const $c: usize,)* $($p: Padding)?> DeployStep<Pd>
            for $ty<$($c,)* $($p)?>
        {
            type Emit = <Pd::Flush as List>::Concat<Cons<Self, Nil>>;
            type Next = Idle;
        }
    };
}
kept!(MaxPool2d<H, W, C, KH, KW, OH, OW, STRIDE>, P);
kept!(AvgPool2d<H, W, C, KH, KW, OH, OW, STRIDE>, P);
kept!(GlobalAvgPool<H, W, C>);
kept!(Flatten<H, W, C, N>);

impl<P: Pending, T, F: ActivationFn> DeployStep<P> for Activation<T, F> {
    type Emit = <P::Flush as List>::Concat<Cons<Activation<T, F>, Nil>>;
    type Next = Idle;
}

/// Layers that are the identity at inference: nothing changes.
macro_rules! transparent {
    ($ty:ident) => {
        impl<P: Pending, T> DeployStep<P> for $ty<T> {
            type Emit = Nil;
            type Next = P;
        }
    };
}
transparent!(Dropout);
transparent!(GaussianNoise);
transparent!(ActivityL1);

impl<P, L: DeployStep<P>> DeployStep<P> for Frozen<L> {
    type Emit = L::Emit;
    type Next = L::Next;
}

impl<P, A, R> DeployStep<P> for Chain<A, R>
where
    A: Infer + DeployStep<P>,
    R: Infer<Input = A::Output> + DeployStep<A::Next>,
{
    type Emit = <A::Emit as List>::Concat<R::Emit>;
    type Next = R::Next;
}

/// The deployment form of a residual block's shortcut: the [`Identity`] stays, a
/// projection deploys as any network.
pub trait DeployShortcut {
    /// The deployed shortcut.
    type Deployed;
}

impl<T> DeployShortcut for Identity<T> {
    type Deployed = Identity<T>;
}

impl<N: Deploy<Layers: ToNet>> DeployShortcut for N {
    type Deployed = Deployed<N>;
}

/// A residual block: the block of its branches' deployment forms, each deployed on its
/// own.
impl<Pd: Pending, B, S> DeployStep<Pd> for Residual<B, S>
where
    B: Infer + Deploy<Layers: ToNet<Net: Infer<Input = B::Input, Output = B::Output>>>,
    S: Infer<Input = B::Input, Output = B::Output>
        + DeployShortcut<Deployed: Infer<Input = B::Input, Output = B::Output>>,
{
    type Emit = <Pd::Flush as List>::Concat<Cons<Residual<Deployed<B>, S::Deployed>, Nil>>;
    type Next = Idle;
}

/// A float network with a deployment form: implemented by the compiler for every network
/// of firmnet's float layers. Use [`Deployed<N>`](Deployed) for the type.
pub trait Deploy {
    /// The deployed layers, input first.
    type Layers: List;
}

impl<N: DeployStep<Idle>> Deploy for N {
    type Layers = <N::Emit as List>::Concat<<N::Next as Pending>::Flush>;
}

/// The float deployment form of network `N` (see the [module docs](self)).
pub type Deployed<N> = <<N as Deploy>::Layers as ToNet>::Net;

/// Why a network could not be written into its deployment form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeployError {
    /// Deployed layer `layer` is not what float layer `float` becomes (a hand-written
    /// deployment type that is not `Deployed<N>`).
    Mismatch {
        /// Index of the deployed layer.
        layer: usize,
        /// Index of the float layer.
        float: usize,
    },
    /// A folded weight or bias is not finite (a batch normalization with a huge `γ/σ`).
    NonFinite {
        /// Index of the float dense layer or convolution.
        layer: usize,
    },
}

impl fmt::Display for DeployError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeployError::Mismatch { layer, float } => write!(
                f,
                "deployed layer {layer} is not what float layer {float} becomes: use Deployed<N>"
            ),
            DeployError::NonFinite { layer } => write!(
                f,
                "folding batch normalization into float layer {layer} gives a value that is not finite"
            ),
        }
    }
}

impl core::error::Error for DeployError {}

/// Writes the deployment form of `net` into `out` (see the [module docs](self)): weights
/// and biases copied, batch normalizations folded into the dense layer before them,
/// attributes copied, training-only layers skipped. Needs no heap.
///
/// # Errors
/// [`DeployError::Mismatch`] if `out` is not `net`'s deployment form,
/// [`DeployError::NonFinite`] if a folded value overflows. On error `out` is partly
/// written.
pub fn deploy<N: Describe, D: Describe>(net: &N, out: &mut D) -> Result<(), DeployError> {
    let mut k = 0;
    let mut pending: Option<usize> = None;
    let mut i = 0;
    // The residual blocks open: where their shortcuts and `add` entries are.
    let mut blocks = [(0, 0); MAX_NESTING];
    let mut depth: usize = 0;
    while let Some(layer) = net.layer(i) {
        let kind = layer.spec().kind;
        let top = depth.checked_sub(1).and_then(|d| blocks.get(d));
        if let Some(&(shortcut, add)) = top
            && i == shortcut
            && i != add
            && let Some(d) = pending.take()
        {
            // The body's last layer: nothing of the shortcut folds into it.
            flush(net, out, d, k)?;
            k += 1;
        }
        match kind {
            "dropout" | "gaussian_noise" | "activity_l1" => {}
            "batch_norm" if pending.is_some() => {
                let dense = pending.take().and_then(|d| net.layer(d));
                let dst = out
                    .layer_mut(k)
                    .ok_or(DeployError::Mismatch { layer: k, float: i })?;
                match dense {
                    Some(dense) => fold(dense, Some(layer), dst, k, i)?,
                    None => return Err(DeployError::Mismatch { layer: k, float: i }),
                }
                k += 1;
            }
            _ => {
                if let Some(d) = pending.take() {
                    flush(net, out, d, k)?;
                    k += 1;
                }
                if matches!(kind, "dense" | "conv2d" | "depthwise_conv2d") {
                    pending = Some(i);
                } else if matches!(kind, "residual" | "add") {
                    // The block's entries: the deployed block's have their own counts.
                    let mismatch = DeployError::Mismatch { layer: k, float: i };
                    let dst = out.layer_mut(k).ok_or(mismatch)?;
                    if dst.spec().kind != kind || !dst.spec().input.same(&layer.spec().input) {
                        return Err(mismatch);
                    }
                    if kind == "residual" {
                        let slot = blocks.get_mut(depth).ok_or(mismatch)?;
                        let count = |a: usize| {
                            layer
                                .attr(a)
                                .and_then(Attr::i32)
                                .map_or(0, |n| usize::try_from(n).unwrap_or(0))
                        };
                        *slot = (i + 1 + count(0), i + 1 + count(0) + count(1));
                        depth += 1;
                    } else {
                        depth = depth.saturating_sub(1);
                    }
                    k += 1;
                } else {
                    let dst = out
                        .layer_mut(k)
                        .ok_or(DeployError::Mismatch { layer: k, float: i })?;
                    copy(layer, dst, k, i)?;
                    k += 1;
                }
            }
        }
        i += 1;
    }
    if let Some(d) = pending {
        flush(net, out, d, k)?;
        k += 1;
    }
    if k != D::LAYERS {
        return Err(DeployError::Mismatch { layer: k, float: i });
    }
    Ok(())
}

/// Writes the dense layer `d` of `net`, alone, as deployed layer `k`.
fn flush<N: Describe, D: Describe>(
    net: &N,
    out: &mut D,
    d: usize,
    k: usize,
) -> Result<(), DeployError> {
    let mismatch = DeployError::Mismatch { layer: k, float: d };
    let dense = net.layer(d).ok_or(mismatch)?;
    fold(dense, None, out.layer_mut(k).ok_or(mismatch)?, k, d)
}

/// Copies a layer's tensors and attributes into a layer of the same kind and shapes.
fn copy(
    src: &dyn LayerData,
    dst: &mut dyn LayerData,
    k: usize,
    i: usize,
) -> Result<(), DeployError> {
    let mismatch = DeployError::Mismatch { layer: k, float: i };
    let spec = src.spec();
    if dst.spec() != spec {
        return Err(mismatch);
    }
    for t in 0..spec.tensors.len() {
        let (Some(s), Some(mut d)) = (src.tensor(t), dst.tensor_mut(t)) else {
            return Err(mismatch);
        };
        if !d.copy_from(s) {
            return Err(mismatch);
        }
    }
    for a in 0..spec.attrs.len() {
        match src.attr(a) {
            Some(v) if dst.set_attr(a, v) => {}
            _ => return Err(mismatch),
        }
    }
    Ok(())
}

/// The `f32` elements of tensor `t` of `l`.
fn f32s(l: &dyn LayerData, t: usize) -> Option<&[f32]> {
    l.tensor(t).and_then(TensorRef::f32s)
}

/// Writes dense layer or convolution `src`, with the batch normalization `bn` folded into
/// each output channel, into `dst`. The channel of a weight is its row for a dense layer
/// or a convolution (one filter per output channel), its position within the last
/// dimension for a depthwise convolution (`[KH][KW][C]`).
fn fold(
    src: &dyn LayerData,
    bn: Option<&dyn LayerData>,
    dst: &mut dyn LayerData,
    k: usize,
    i: usize,
) -> Result<(), DeployError> {
    let mismatch = DeployError::Mismatch { layer: k, float: i };
    let spec = src.spec();
    let same_shape = dst.spec().kind == spec.kind
        && matches!(spec.kind, "dense" | "conv2d" | "depthwise_conv2d")
        && dst.spec().input.same(&spec.input)
        && dst.spec().output.same(&spec.output)
        && (0..spec.attrs.len()).all(|a| src.attr(a).is_some_and(|v| dst.set_attr(a, v)));
    if !same_shape {
        return Err(mismatch);
    }
    let (Some(w), Some(b)) = (f32s(src, 0), f32s(src, 1)) else {
        return Err(mismatch);
    };
    let channels = b.len().max(1);
    let row = (w.len() / channels).max(1);
    let depthwise = spec.kind == "depthwise_conv2d";
    let channel = |at: usize| if depthwise { at % channels } else { at / row };
    let affine = |j: usize| -> (f64, f64) {
        let Some(bn) = bn else { return (1.0, 0.0) };
        let (Some(g), Some(be), Some(m), Some(v)) = (
            f32s(bn, 0).and_then(|t| t.get(j)),
            f32s(bn, 1).and_then(|t| t.get(j)),
            f32s(bn, 2).and_then(|t| t.get(j)),
            f32s(bn, 3).and_then(|t| t.get(j)),
        ) else {
            return (f64::NAN, f64::NAN);
        };
        let eps = bn.attr(0).and_then(|a| a.f32()).unwrap_or(f32::NAN);
        let inv = 1.0 / libm::sqrt(f64::from(*v) + f64::from(eps));
        let k = f64::from(*g) * inv;
        (k, f64::from(*be) - k * f64::from(*m))
    };
    let finite = |v: f64| {
        let r = v as f32;
        if r.is_finite() {
            Ok(r)
        } else {
            Err(DeployError::NonFinite { layer: i })
        }
    };
    match dst.tensor_mut(0) {
        Some(TensorMut::F32(dw)) if dw.len() == w.len() => {
            for (at, (d, &s)) in dw.iter_mut().zip(w).enumerate() {
                let (kj, _) = affine(channel(at));
                *d = finite(kj * f64::from(s))?;
            }
        }
        _ => return Err(mismatch),
    }
    match dst.tensor_mut(1) {
        Some(TensorMut::F32(db)) if db.len() == b.len() => {
            for (j, (d, &s)) in db.iter_mut().zip(b).enumerate() {
                let (kj, cj) = affine(j);
                *d = finite(kj * f64::from(s) + cj)?;
            }
        }
        _ => return Err(mismatch),
    }
    Ok(())
}
