//! One training step: forward on a batch, loss, backward, optimizer update.
//!
//! [`step`] and [`gradients`] take any [`Loss`] — classification, regression, multi-label,
//! or one of your own; [`classification_step`] is the classifier's short form, which also
//! counts the correct predictions.
//!
//! [`TrainBuffers`] gathers everything a step needs besides the network and the optimizer —
//! the layer caches for batch `B`, the output and its gradient, the parameter gradients —
//! in one statically sized value, so a device can keep it in a `static`:
//!
//! ```
//! use firmnet::prelude::*;
//! use firmnet::train::{TrainBuffers, classification_step};
//!
//! type Mlp = Net![Dense<2, 8>, Tanh<[f32; 8]>, Dense<8, 2>];
//! let mut net: Mlp = net![Dense::ZERO, Tanh::DEFAULT, Dense::ZERO];
//! net.init(Init::GlorotUniform, &mut Rng::new(1));
//! let mut adam = Adam::<<Mlp as Layer>::Grad>::new(AdamConfig::with_lr(0.05));
//! let mut buf = TrainBuffers::<Mlp, 4>::ZERO;
//! let mut ctx = Context::new(2);
//! let x = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
//! let y = [0, 1, 1, 0]; // XOR
//! let first = classification_step(&mut net, &mut adam, &mut buf, &mut ctx, &x, &y).unwrap();
//! for _ in 0..300 {
//!     classification_step(&mut net, &mut adam, &mut buf, &mut ctx, &x, &y).unwrap();
//! }
//! let last = classification_step(&mut net, &mut adam, &mut buf, &mut ctx, &x, &y).unwrap();
//! assert!(last.loss < first.loss / 10.0 && last.correct == 4);
//! ```

use crate::error::Error;
use crate::layers::{Context, Layer, Params};
use crate::loss::{Loss, SoftmaxCrossEntropy, argmax};
use crate::optim::Optimizer;
use crate::tensor::{Tensor, Zero};

/// Everything a training step of network `L` at batch `B` writes, besides the network and
/// the optimizer. Its size is the training cost in memory: `size_of::<TrainBuffers<L, B>>()`.
pub struct TrainBuffers<L: Layer, const B: usize> {
    /// The layers' caches for the batch.
    pub cache: L::Cache<B>,
    /// The network's output for the batch.
    pub out: [L::Output; B],
    /// Gradient of the loss with respect to `out`.
    pub dout: [L::Output; B],
    /// Accumulated parameter gradients (the optimizer consumes and zeroes them).
    pub grad: L::Grad,
}

impl<L: Layer, const B: usize> Zero for TrainBuffers<L, B> {
    const ZERO: Self = TrainBuffers {
        cache: <L::Cache<B> as Zero>::ZERO,
        out: <[L::Output; B] as Zero>::ZERO,
        dout: <[L::Output; B] as Zero>::ZERO,
        grad: L::Grad::ZERO,
    };
}

impl<L: Layer, const B: usize> TrainBuffers<L, B> {
    /// All zero; usable in `const` and `static` items.
    pub const ZERO: Self = <Self as Zero>::ZERO;
}

/// What one step measured, before the update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Mean loss over the batch.
    pub loss: f32,
    /// Number of samples whose largest output was the label.
    pub correct: usize,
}

/// Forward pass, loss and backward pass on one batch, for any loss; the gradients are
/// added to `buf.grad` and nothing is updated, and the outputs stay in `buf.out` (for
/// metrics). Use it to accumulate gradients over several batches, or to inspect them.
/// Returns the mean loss.
///
/// ```
/// use firmnet::prelude::*;
/// use firmnet::loss::MeanSquaredError;
/// use firmnet::train::{TrainBuffers, gradients};
///
/// // One weight, one bias: y = w·x + b, at w = b = 0.
/// type Line = Net![Dense<1, 1>];
/// let mut net: Line = net![Dense::ZERO];
/// let mut buf = TrainBuffers::<Line, 2>::ZERO;
/// let (x, t) = ([[1.0], [2.0]], [[3.0], [5.0]]);
/// let loss = gradients(&mut net, &mut buf, &mut Context::new(0), &MeanSquaredError, &x, &t);
/// assert_eq!(loss, Ok((9.0 + 25.0) / 2.0));
/// // ∂/∂w = mean of 2·(0 − t)·x = −(3 + 10) = −13; ∂/∂b = −(3 + 5) = −8.
/// assert_eq!(buf.grad.weight, [[-13.0]]);
/// assert_eq!(buf.grad.bias, [-8.0]);
/// ```
///
/// # Errors
/// From [`Loss::batch`] (a target the loss refuses, a loss that is not finite); the
/// gradients are then untouched.
pub fn gradients<L, T, const N: usize, const B: usize>(
    net: &mut L,
    buf: &mut TrainBuffers<L, B>,
    ctx: &mut Context,
    loss: &T,
    x: &[L::Input; B],
    targets: &[T::Target; B],
) -> Result<f32, Error>
where
    L: Layer<Output = [f32; N]>,
    T: Loss<N>,
{
    weighted_gradients(net, buf, ctx, loss, x, targets, 1.0, None)
}

/// One complete training step for any loss: [`gradients`], then `optimizer.step`.
/// Returns the mean loss (before the update).
///
/// # Errors
/// As [`gradients`], and [`Error::NonFinite`] from the optimizer when a gradient is not
/// finite; in every error case the network's parameters are unchanged.
pub fn step<L, O, T, const N: usize, const B: usize>(
    net: &mut L,
    optimizer: &mut O,
    buf: &mut TrainBuffers<L, B>,
    ctx: &mut Context,
    loss: &T,
    x: &[L::Input; B],
    targets: &[T::Target; B],
) -> Result<f32, Error>
where
    L: Layer<Output = [f32; N]>,
    O: Optimizer<L::Grad>,
    T: Loss<N>,
{
    let value = gradients(net, buf, ctx, loss, x, targets)?;
    optimizer.step(net, &mut buf.grad)?;
    Ok(value)
}

/// Forward pass, loss and backward pass of a classifier on one batch (softmax
/// cross-entropy): [`gradients`] with [`SoftmaxCrossEntropy`], counting the samples
/// whose largest output is their label.
///
/// # Errors
/// [`Error::LabelOutOfRange`] or [`Error::NonFinite`] from
/// [`softmax_cross_entropy`](crate::loss::softmax_cross_entropy); the gradients are then
/// untouched.
pub fn classification_gradients<L, const C: usize, const B: usize>(
    net: &mut L,
    buf: &mut TrainBuffers<L, B>,
    ctx: &mut Context,
    x: &[L::Input; B],
    labels: &[u16; B],
) -> Result<StepStats, Error>
where
    L: Layer<Output = [f32; C]>,
{
    check_labels::<C>(labels)?;
    let loss = gradients(net, buf, ctx, &SoftmaxCrossEntropy, x, labels)?;
    Ok(StepStats {
        loss,
        correct: correct(&buf.out, labels),
    })
}

/// How many of `out` have their largest value at their label.
pub fn correct<const C: usize>(out: &[[f32; C]], labels: &[u16]) -> usize {
    out.iter()
        .zip(labels)
        .filter(|(o, l)| argmax(&o[..]) == usize::from(**l))
        .count()
}

/// Refuses a batch with a label out of range before anything is computed.
fn check_labels<const C: usize>(labels: &[u16]) -> Result<(), Error> {
    match labels.iter().position(|&l| usize::from(l) >= C) {
        Some(sample) => Err(Error::LabelOutOfRange {
            sample,
            label: usize::from(labels[sample]),
            classes: C,
        }),
        None => Ok(()),
    }
}

/// [`gradients`] for the loss `weight·J`, writing its input gradient `weight·∂J/∂x` into
/// `dx` when asked.
#[allow(clippy::too_many_arguments)]
fn weighted_gradients<L, T, const N: usize, const B: usize>(
    net: &mut L,
    buf: &mut TrainBuffers<L, B>,
    ctx: &mut Context,
    loss: &T,
    x: &[L::Input; B],
    targets: &[T::Target; B],
    weight: f32,
    dx: Option<&mut [L::Input; B]>,
) -> Result<f32, Error>
where
    L: Layer<Output = [f32; N]>,
    T: Loss<N>,
{
    net.forward_train(x, &mut buf.out, &mut buf.cache, ctx);
    let value = loss.batch(&buf.out, targets, &mut buf.dout)?;
    if weight != 1.0 {
        buf.dout
            .as_flattened_mut()
            .iter_mut()
            .for_each(|d| *d *= weight);
    }
    net.backward(x, &buf.out, &buf.dout, dx, &mut buf.cache, &mut buf.grad);
    Ok(value)
}

/// The fast gradient sign method (Goodfellow et al., 2015): how far, and within which
/// bounds, [`fgsm`] moves an input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fgsm {
    /// Step ε: every input element moves by exactly ε (before clamping), so the
    /// perturbation's L∞ norm is at most ε.
    pub epsilon: f32,
    /// Smallest valid input value (e.g. 0 for pixels in `[0, 1]`).
    pub min: f32,
    /// Largest valid input value.
    pub max: f32,
}

impl Fgsm {
    /// Steps of `epsilon`, with no bounds on the inputs.
    pub const fn new(epsilon: f32) -> Self {
        Fgsm {
            epsilon,
            min: f32::NEG_INFINITY,
            max: f32::INFINITY,
        }
    }

    /// The same steps, with the perturbed inputs clamped to `[min, max]`.
    pub const fn within(self, min: f32, max: f32) -> Self {
        Fgsm { min, max, ..self }
    }
}

/// Adversarial examples by the fast gradient sign method:
/// `x' = clamp(x + ε·sign(∇ₓJ(θ, x, y)))`, with `J` the softmax cross-entropy, written into
/// `adv`. Elements whose gradient is exactly zero are not stepped (only clamped).
///
/// The gradient is that of the network as `ctx` runs it. Under [`Context::inference`] it is
/// the deployed network's — what an attacker uses, and what accuracy under attack
/// measures; in training mode it includes dropout and batch statistics, as adversarial
/// training uses it ([`adversarial_step`]).
///
/// The parameter gradients of `J(x)` are **added to `buf.grad`**, as by
/// [`classification_gradients`]; clear them (`buf.grad.zero_all()`) if only the examples
/// are wanted. Returns the loss and accuracy on the clean batch.
///
/// # Errors
/// As [`classification_gradients`]; `adv` is then unspecified.
pub fn fgsm<L, const C: usize, const B: usize>(
    net: &mut L,
    buf: &mut TrainBuffers<L, B>,
    ctx: &mut Context,
    x: &[L::Input; B],
    labels: &[u16; B],
    attack: &Fgsm,
    adv: &mut [L::Input; B],
) -> Result<StepStats, Error>
where
    L: Layer<Output = [f32; C]>,
{
    check_labels::<C>(labels)?;
    let loss = fgsm_weighted(
        net,
        buf,
        ctx,
        &SoftmaxCrossEntropy,
        x,
        labels,
        attack,
        1.0,
        adv,
    )?;
    Ok(StepStats {
        loss,
        correct: correct(&buf.out, labels),
    })
}

#[allow(clippy::too_many_arguments)]
fn fgsm_weighted<L, T, const N: usize, const B: usize>(
    net: &mut L,
    buf: &mut TrainBuffers<L, B>,
    ctx: &mut Context,
    loss: &T,
    x: &[L::Input; B],
    targets: &[T::Target; B],
    attack: &Fgsm,
    weight: f32,
    adv: &mut [L::Input; B],
) -> Result<f32, Error>
where
    L: Layer<Output = [f32; N]>,
    T: Loss<N>,
{
    let value = weighted_gradients(net, buf, ctx, loss, x, targets, weight, Some(adv))?;
    let eps = attack.epsilon;
    for (a, &xi) in L::Input::batch_slice_mut(adv)
        .iter_mut()
        .zip(L::Input::batch_slice(x))
    {
        let step = if *a > 0.0 {
            eps
        } else if *a < 0.0 {
            -eps
        } else {
            0.0
        };
        *a = (xi + step).max(attack.min).min(attack.max);
    }
    Ok(value)
}

/// The gradients of adversarial training (Goodfellow et al., 2015) for a classifier: adds
/// to `buf.grad` the parameter gradients of `weight·J(x) + (1 − weight)·J(x')`, with `J`
/// the softmax cross-entropy and `x'` the [`fgsm`] examples of the batch against the
/// network as `ctx` runs it (in training mode: as it trains). `adv` receives `x'`.
/// Goodfellow et al. use `weight = 0.5`. [`adversarial_gradients_with`] takes any loss.
///
/// `weight` must be in `(0, 1]`: the attack direction is the sign of the clean pass's
/// input gradient, which a weight of 0 would erase.
///
/// Returns the loss and accuracy on the clean batch.
///
/// # Errors
/// [`Error::InvalidSetting`] for a weight outside `(0, 1]` (nothing is computed); otherwise
/// as [`classification_gradients`], and `buf.grad` is then cleared.
#[allow(clippy::too_many_arguments)]
pub fn adversarial_gradients<L, const C: usize, const B: usize>(
    net: &mut L,
    buf: &mut TrainBuffers<L, B>,
    ctx: &mut Context,
    x: &[L::Input; B],
    labels: &[u16; B],
    attack: &Fgsm,
    weight: f32,
    adv: &mut [L::Input; B],
) -> Result<StepStats, Error>
where
    L: Layer<Output = [f32; C]>,
{
    check_weight(weight)?;
    check_labels::<C>(labels)?;
    let mut hits = 0;
    let loss = adversarial(
        net,
        buf,
        ctx,
        &SoftmaxCrossEntropy,
        x,
        labels,
        attack,
        weight,
        adv,
        |out| {
            hits = correct(out, labels);
        },
    )?;
    Ok(StepStats {
        loss,
        correct: hits,
    })
}

/// [`adversarial_gradients`] for any loss: the examples climb the gradient of `loss`.
/// Returns the loss on the clean batch.
///
/// # Errors
/// As [`adversarial_gradients`], with the errors of [`gradients`] for `loss`.
#[allow(clippy::too_many_arguments)]
pub fn adversarial_gradients_with<L, T, const N: usize, const B: usize>(
    net: &mut L,
    buf: &mut TrainBuffers<L, B>,
    ctx: &mut Context,
    loss: &T,
    x: &[L::Input; B],
    targets: &[T::Target; B],
    attack: &Fgsm,
    weight: f32,
    adv: &mut [L::Input; B],
) -> Result<f32, Error>
where
    L: Layer<Output = [f32; N]>,
    T: Loss<N>,
{
    check_weight(weight)?;
    adversarial(net, buf, ctx, loss, x, targets, attack, weight, adv, |_| {})
}

pub(crate) fn check_weight(weight: f32) -> Result<(), Error> {
    if weight > 0.0 && weight <= 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidSetting {
            what: "adversarial weight (must be in (0, 1])",
        })
    }
}

/// The two passes of adversarial training; `clean` sees the clean batch's outputs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn adversarial<L, T, const N: usize, const B: usize>(
    net: &mut L,
    buf: &mut TrainBuffers<L, B>,
    ctx: &mut Context,
    loss: &T,
    x: &[L::Input; B],
    targets: &[T::Target; B],
    attack: &Fgsm,
    weight: f32,
    adv: &mut [L::Input; B],
    clean: impl FnOnce(&[[f32; N]; B]),
) -> Result<f32, Error>
where
    L: Layer<Output = [f32; N]>,
    T: Loss<N>,
{
    let result =
        fgsm_weighted(net, buf, ctx, loss, x, targets, attack, weight, adv).and_then(|value| {
            clean(&buf.out);
            weighted_gradients(net, buf, ctx, loss, adv, targets, 1.0 - weight, None)?;
            Ok(value)
        });
    if result.is_err() {
        buf.grad.zero_all();
    }
    result
}

/// One step of adversarial training: [`adversarial_gradients`], then `optimizer.step`.
///
/// # Errors
/// As [`classification_step`]; the network's parameters are then unchanged.
#[allow(clippy::too_many_arguments)]
pub fn adversarial_step<L, O, const C: usize, const B: usize>(
    net: &mut L,
    optimizer: &mut O,
    buf: &mut TrainBuffers<L, B>,
    ctx: &mut Context,
    x: &[L::Input; B],
    labels: &[u16; B],
    attack: &Fgsm,
    weight: f32,
    adv: &mut [L::Input; B],
) -> Result<StepStats, Error>
where
    L: Layer<Output = [f32; C]>,
    O: Optimizer<L::Grad>,
{
    let stats = adversarial_gradients(net, buf, ctx, x, labels, attack, weight, adv)?;
    optimizer.step(net, &mut buf.grad)?;
    Ok(stats)
}

/// One complete training step of a classifier: [`classification_gradients`], then
/// `optimizer.step`.
///
/// # Errors
/// As [`classification_gradients`], and [`Error::NonFinite`] from the optimizer when a
/// gradient is not finite; in every error case the network's parameters are unchanged.
pub fn classification_step<L, O, const C: usize, const B: usize>(
    net: &mut L,
    optimizer: &mut O,
    buf: &mut TrainBuffers<L, B>,
    ctx: &mut Context,
    x: &[L::Input; B],
    labels: &[u16; B],
) -> Result<StepStats, Error>
where
    L: Layer<Output = [f32; C]>,
    O: Optimizer<L::Grad>,
{
    let stats = classification_gradients(net, buf, ctx, x, labels)?;
    optimizer.step(net, &mut buf.grad)?;
    Ok(stats)
}
