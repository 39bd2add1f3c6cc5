//! One training step: forward on a batch, loss, backward, optimizer update.
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
use crate::layers::{Context, Layer};
use crate::loss::{argmax, softmax_cross_entropy};
use crate::optim::Optimizer;
use crate::tensor::Zero;

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

/// Forward pass, loss and backward pass of a classifier on one batch; the gradients are
/// added to `buf.grad` and nothing is updated. Use it to accumulate gradients over several
/// batches, or to inspect them.
///
/// # Errors
/// [`Error::LabelOutOfRange`] or [`Error::NonFinite`] from
/// [`softmax_cross_entropy`]; the gradients are then untouched.
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
    net.forward_train(x, &mut buf.out, &mut buf.cache, ctx);
    let loss = softmax_cross_entropy(&buf.out, labels, &mut buf.dout)?;
    let correct = buf
        .out
        .iter()
        .zip(labels)
        .filter(|(o, l)| argmax(&o[..]) == usize::from(**l))
        .count();
    net.backward(x, &buf.out, &buf.dout, None, &mut buf.cache, &mut buf.grad);
    Ok(StepStats { loss, correct })
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
