//! Constraints and perturbations applied to the parameters between optimizer steps.

use crate::layers::{ParamKind, Params};
use crate::rng::Rng;

/// The max-norm constraint (Srebro & Shraibman; Srivastava et al.): rescales every row
/// `wᵢ` of every weight matrix whose L2 norm exceeds `c` onto the sphere `‖wᵢ‖₂ = c`.
/// A row is the incoming weights of one unit. Call it after each optimizer step.
///
/// Biases, batch-normalization parameters and [frozen](Params::frozen) tensors are left
/// alone. Returns the number of rows rescaled. (The lecture writes the constraint as
/// `‖wᵢ‖² ≤ c`; this is the same constraint with `c` in units of the norm.)
///
/// ```
/// use firmnet::prelude::*;
/// use firmnet::optim::max_norm;
/// let mut layer = Dense::<2, 2>::ZERO;
/// layer.weight = [[3.0, 4.0], [0.3, 0.4]];
/// assert_eq!(max_norm(&mut layer, 1.0), 1);
/// assert_eq!(layer.weight, [[0.6, 0.8], [0.3, 0.4]]);
/// ```
pub fn max_norm<P: Params>(net: &mut P, c: f32) -> usize {
    let mut rescaled = 0;
    for i in 0..P::TENSORS {
        let info = P::info(i);
        if info.kind != ParamKind::Weight || P::frozen(i) || info.cols == 0 {
            continue;
        }
        for row in net.tensor_mut(i).chunks_exact_mut(info.cols) {
            let norm = crate::math::sqrt(crate::kernels::dot(row, row));
            if norm > c {
                let s = c / norm;
                row.iter_mut().for_each(|w| *w *= s);
                rescaled += 1;
            }
        }
    }
    rescaled
}

/// Adds independent `N(0, σ²)` noise to every weight of every weight matrix (not biases,
/// not batch normalization, not [frozen](Params::frozen) tensors): the lecture's noise
/// injected into the weights.
///
/// Used in training only, around the gradient computation: keep a clean copy, perturb,
/// compute the gradient of the noisy network, restore the clean weights, and let the
/// optimizer apply that gradient to them (as the host trainer does with
/// `TrainConfig::weight_noise`). The optimizer thus follows the expected loss under weight
/// noise, a regularizer that favours flat minima.
pub fn perturb_weights<P: Params>(net: &mut P, sigma: f32, rng: &mut Rng) {
    for i in 0..P::TENSORS {
        if P::info(i).kind != ParamKind::Weight || P::frozen(i) {
            continue;
        }
        for w in net.tensor_mut(i) {
            *w += sigma * rng.normal();
        }
    }
}
