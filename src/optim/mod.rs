//! Optimizers that update parameters in place, one fused pass per parameter tensor.
//!
//! An optimizer owns its state — momentum buffers, Adam's moments — as values of the
//! network's `Grad` type, so the state has exactly the parameters' shapes and its memory is
//! `size_of` a type; build it in a `static` on a device.
//!
//! [`Optimizer::step`] first checks the gradients (their global L2 norm, which gradient
//! clipping by norm needs anyway): if any gradient is NaN or infinite it returns
//! [`Error::NonFinite`] and changes nothing. Otherwise it runs one pass per tensor that
//! reads the gradient, applies clipping and weight decay, updates the moments and the
//! parameter, and **resets the gradient to zero**, ready for the next backward pass (which
//! accumulates).
//!
//! | optimizer | update |
//! | --- | --- |
//! | [`Sgd`] | plain, with momentum, or Nesterov momentum; optional L2 |
//! | [`Adam`] | Kingma & Ba, Algorithm 1, with bias correction; optional L2 (coupled) |
//! | [`Adam`] with [`AdamConfig::weight_decay`] | AdamW (decoupled weight decay, Loshchilov & Hutter) |
//!
//! # Regularization
//! Weight decay, L2 and L1 apply to weight matrices only ([`ParamKind::Weight`]), never to
//! biases or batch-normalization parameters. Tensors of [`Frozen`](crate::layers::Frozen)
//! layers ([`Params::frozen`]) are skipped entirely: their gradient is cleared, nothing
//! else changes.
//!
//! **L1** (`l1` in both configurations) adds the subgradient `λ·sign(θ)` to the gradient of
//! every nonzero weight, and keeps exact zeros:
//! * a weight whose step would carry it across zero (or onto it) lands on exactly 0;
//! * a weight at exactly 0 uses the smallest subgradient of `g + λ·∂|θ|`, which is 0 when
//!   `|g| ≤ λ` — the weight then stays at 0 — and `g − λ·sign(g)` otherwise.
//!
//! So small weights become and stay exactly zero, which the plain subgradient `sign(θ)`
//! never achieves: it makes them oscillate around zero instead. This is the truncated
//! subgradient of Tsuruoka et al. (2009) and the optimality condition of L1 at zero.
//!
//! The other constraints of the lecture act on the parameters between steps:
//! [`max_norm`] (each weight row kept inside a ball) and [`perturb_weights`] (Gaussian
//! noise on the weights, for the gradient of a noisy network).

mod adam;
mod constraint;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use constraint::{max_norm, perturb_weights};
pub use sgd::{Sgd, SgdConfig};

use crate::error::Error;
use crate::kernels;
use crate::layers::{Layer, ParamKind, Params};

/// Gradient clipping, applied inside the optimizer's fused pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clip {
    /// Clip each gradient element to `[−value, value]` (after norm scaling).
    pub value: Option<f32>,
    /// Scale all gradients by `norm/‖g‖` when their global L2 norm `‖g‖` exceeds `norm`
    /// (Pascanu et al.): the direction is kept, the length bounded.
    pub norm: Option<f32>,
}

impl Clip {
    /// No clipping.
    pub const NONE: Clip = Clip {
        value: None,
        norm: None,
    };
    /// Clipping by global norm.
    pub const fn norm(max: f32) -> Clip {
        Clip {
            value: None,
            norm: Some(max),
        }
    }
    /// Clipping by value.
    pub const fn value(max: f32) -> Clip {
        Clip {
            value: Some(max),
            norm: None,
        }
    }
}

/// An optimizer for networks whose gradient type is `G`.
pub trait Optimizer<G: Params> {
    /// Updates `net` from the accumulated gradients `grad`, then zeroes `grad`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] (`"gradient"`) if a gradient is NaN or infinite; then neither
    /// `net`, `grad` nor the optimizer's state has changed.
    fn step<L: Layer<Grad = G>>(&mut self, net: &mut L, grad: &mut G) -> Result<(), Error>;
    /// The current learning rate.
    fn learning_rate(&self) -> f32;
    /// Sets the learning rate (for schedules).
    fn set_learning_rate(&mut self, lr: f32);
}

/// Global L2 norm `√Σ g²` over all tensors of `grad`.
pub fn global_norm<G: Params>(grad: &G) -> f32 {
    let mut sum = 0.0;
    for i in 0..G::TENSORS {
        let g = grad.tensor(i);
        sum += kernels::dot(g, g);
    }
    crate::math::sqrt(sum)
}

/// Clips every element of `grad` to `[−max, max]`.
pub fn clip_by_value<G: Params>(grad: &mut G, max: f32) {
    for i in 0..G::TENSORS {
        for g in grad.tensor_mut(i) {
            *g = g.max(-max).min(max);
        }
    }
}

/// Scales `grad` so that its global L2 norm is at most `max`; returns the norm before.
pub fn clip_by_norm<G: Params>(grad: &mut G, max: f32) -> f32 {
    let norm = global_norm(grad);
    if norm > max {
        let s = max / norm;
        for i in 0..G::TENSORS {
            grad.tensor_mut(i).iter_mut().for_each(|g| *g *= s);
        }
    }
    norm
}

/// The pre-pass every step shares: checks that the gradients are finite and returns the
/// factor that clipping by norm multiplies them by (1 without norm clipping).
pub(crate) fn gradient_scale<G: Params>(grad: &G, clip: &Clip) -> Result<f32, Error> {
    let norm = global_norm(grad);
    if !norm.is_finite() {
        return Err(Error::NonFinite { what: "gradient" });
    }
    Ok(match clip.norm {
        Some(max) if norm > max => max / norm,
        _ => 1.0,
    })
}

/// Whether weight decay applies to tensor `i` of `L`.
pub(crate) fn decays<L: Params>(i: usize) -> bool {
    L::info(i).kind == ParamKind::Weight
}

/// The gradient of one weight with the L1 subgradient added (see the [module docs](self)):
/// `g + λ·sign(θ)` for `θ ≠ 0`, the smallest subgradient `g − λ·sign(g)` or 0 at `θ = 0`.
#[inline(always)]
pub(crate) fn l1_gradient(p: f32, g: f32, l1: f32) -> f32 {
    if p > 0.0 {
        g + l1
    } else if p < 0.0 {
        g - l1
    } else {
        (g - l1).max(0.0) + (g + l1).min(0.0)
    }
}

/// The weight after a step under L1: 0 if the step from `old` crossed or reached zero, or if
/// `old` was zero and the penalty cancelled its gradient `g`; `new` otherwise.
#[inline(always)]
pub(crate) fn l1_settle(old: f32, new: f32, g: f32) -> f32 {
    if (old > 0.0 && new <= 0.0) || (old < 0.0 && new >= 0.0) || (old == 0.0 && g == 0.0) {
        0.0
    } else {
        new
    }
}
