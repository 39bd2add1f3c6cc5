//! Weight initialization schemes.
//!
//! For a weight matrix with `n_in` inputs and `n_out` outputs (fan-in and fan-out):
//!
//! | scheme | distribution | reference |
//! | --- | --- | --- |
//! | [`Init::GlorotNormal`] | `N(0, 2/(n_in+n_out))` | Glorot & Bengio 2010 |
//! | [`Init::GlorotUniform`] | `U(±√(6/(n_in+n_out)))` | Glorot & Bengio 2010 |
//! | [`Init::HeNormal`] | `N(0, 2/n_in)` | He et al. 2015 |
//! | [`Init::HeUniform`] | `U(±√(6/n_in))` | He et al. 2015 |
//! | [`Init::ReluCompromise`] | `√(4/(n_in+n_out))·N(0, 1)` | the lecture's compromise between keeping the ReLU variance forward (`2/n_in`) and backward (`2/n_out`) |
//! | [`Init::Normal`] | `N(0, σ²)` | fixed scale, e.g. a deliberately bad one |
//! | [`Init::Uniform`] | `U(±a)` | fixed scale |
//!
//! Biases start at zero; batch normalization starts as the identity (γ = 1, β = 0).

use crate::math;
use crate::rng::Rng;

/// A weight initialization scheme. See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// `N(0, 2/(n_in+n_out))`.
    GlorotNormal,
    /// `U(−a, a)` with `a = √(6/(n_in+n_out))`.
    GlorotUniform,
    /// `N(0, 2/n_in)`.
    HeNormal,
    /// `U(−a, a)` with `a = √(6/n_in)`.
    HeUniform,
    /// `√(4/(n_in+n_out))·N(0, 1)`: the lecture's ReLU compromise.
    ReluCompromise,
    /// `N(0, σ²)` with the given standard deviation σ.
    Normal(f32),
    /// `U(−a, a)` with the given bound `a`.
    Uniform(f32),
}

impl Init {
    /// The standard deviation of the weights this scheme draws for the given fans.
    pub fn std_dev(self, n_in: usize, n_out: usize) -> f32 {
        let (fi, fo) = (n_in as f32, n_out as f32);
        match self {
            Init::GlorotNormal => math::sqrt(2.0 / (fi + fo)),
            Init::GlorotUniform => math::sqrt(2.0 / (fi + fo)),
            Init::HeNormal | Init::HeUniform => math::sqrt(2.0 / fi),
            Init::ReluCompromise => math::sqrt(4.0 / (fi + fo)),
            Init::Normal(s) => s,
            // U(−a, a) has variance a²/3.
            Init::Uniform(a) => a / math::sqrt(3.0),
        }
    }

    /// Fills `w` (the weights of a layer with the given fans) from `rng`.
    pub fn fill(self, w: &mut [f32], n_in: usize, n_out: usize, rng: &mut Rng) {
        let (fi, fo) = (n_in as f32, n_out as f32);
        let uniform_bound = match self {
            Init::GlorotUniform => Some(math::sqrt(6.0 / (fi + fo))),
            Init::HeUniform => Some(math::sqrt(6.0 / fi)),
            Init::Uniform(a) => Some(a),
            _ => None,
        };
        match uniform_bound {
            Some(a) => w.iter_mut().for_each(|x| *x = rng.uniform(-a, a)),
            None => {
                let s = self.std_dev(n_in, n_out);
                w.iter_mut().for_each(|x| *x = s * rng.normal());
            }
        }
    }
}
