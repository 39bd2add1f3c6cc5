//! Stochastic gradient descent with momentum and Nesterov momentum.

use super::{Clip, Optimizer, decays, gradient_scale, l1_gradient, l1_settle};
use crate::error::Error;
use crate::layers::{Layer, Params};
use crate::tensor::Zero;

/// Settings of [`Sgd`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate α.
    pub lr: f32,
    /// Momentum μ (0 for plain SGD).
    pub momentum: f32,
    /// Nesterov's accelerated gradient instead of classical momentum.
    pub nesterov: bool,
    /// L2 penalty λ: `g += λ·θ` for weight matrices.
    pub l2: f32,
    /// L1 penalty λ: the subgradient `λ·sign(θ)` for weight matrices, with exact zeros
    /// kept (see [the module docs](super#regularization)).
    pub l1: f32,
    /// Gradient clipping.
    pub clip: Clip,
}

impl SgdConfig {
    /// Plain SGD with learning rate `lr`.
    pub const fn new(lr: f32) -> Self {
        SgdConfig {
            lr,
            momentum: 0.0,
            nesterov: false,
            l2: 0.0,
            l1: 0.0,
            clip: Clip::NONE,
        }
    }
}

/// SGD: `v ← μ·v + g`, then `θ ← θ − α·v` (classical) or `θ ← θ − α·(g + μ·v)` (Nesterov),
/// the formulation of Sutskever et al. as PyTorch implements it. With `μ = 0` both are
/// `θ ← θ − α·g`.
pub struct Sgd<G> {
    /// Settings; change `lr` freely between steps.
    pub config: SgdConfig,
    /// Velocity `v`, one per parameter.
    pub velocity: G,
}

impl<G: Params + Zero> Sgd<G> {
    /// SGD with zero velocity. Usable in `const` context.
    pub const fn new(config: SgdConfig) -> Self {
        Sgd {
            config,
            velocity: G::ZERO,
        }
    }
}

#[cfg(feature = "std")]
impl<G: Params + Zero> Sgd<G> {
    /// SGD with zero velocity, built in place on the heap: never on the stack, in debug
    /// builds too (see [`boxed`](mod@crate::boxed)).
    pub fn boxed(config: SgdConfig) -> std::boxed::Box<Self> {
        let mut sgd = crate::boxed::constant::<Fresh<G>>();
        sgd.config = config;
        sgd
    }
}

/// A new SGD (its settings replaced at once), as a constant [`boxed`](Sgd::boxed) writes
/// in place.
#[cfg(feature = "std")]
struct Fresh<G>(core::marker::PhantomData<G>);

#[cfg(feature = "std")]
impl<G: Params + Zero> crate::boxed::Constant for Fresh<G> {
    type Value = Sgd<G>;
    const VALUE: Sgd<G> = Sgd::new(SgdConfig::new(0.0));
}

impl<G: Params> Optimizer<G> for Sgd<G> {
    fn step<L: Layer<Grad = G>>(&mut self, net: &mut L, grad: &mut G) -> Result<(), Error> {
        let c = self.config;
        let scale = gradient_scale(grad, &c.clip)?;
        let clip = c.clip.value.unwrap_or(f32::INFINITY);
        for i in 0..G::TENSORS {
            if L::frozen(i) {
                grad.tensor_mut(i).fill(0.0);
                continue;
            }
            let (l2, l1) = if decays::<L>(i) {
                (c.l2, c.l1)
            } else {
                (0.0, 0.0)
            };
            let p = net.tensor_mut(i);
            let g = grad.tensor_mut(i);
            let v = self.velocity.tensor_mut(i);
            for ((p, g), v) in p.iter_mut().zip(g.iter_mut()).zip(v.iter_mut()) {
                let mut gi = (*g * scale).max(-clip).min(clip);
                if l1 != 0.0 {
                    gi = l1_gradient(*p, gi, l1);
                }
                let g_l1 = gi;
                gi += l2 * *p;
                *v = c.momentum * *v + gi;
                let d = if c.nesterov { gi + c.momentum * *v } else { *v };
                let new = *p - c.lr * d;
                *p = if l1 != 0.0 {
                    l1_settle(*p, new, g_l1)
                } else {
                    new
                };
                *g = 0.0;
            }
        }
        Ok(())
    }
    fn learning_rate(&self) -> f32 {
        self.config.lr
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.config.lr = lr;
    }
}
