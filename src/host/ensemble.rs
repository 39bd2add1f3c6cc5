//! Ensembles: several networks voting with their averaged probabilities.
//!
//! The lecture's ensemble methods: train K networks that differ (seeds, hyperparameters)
//! and average their predictive distributions. The members' errors are partly
//! independent, so the average is usually better than its best member.

use std::prelude::rust_2024::*;

use super::trainer::{Evaluation, Samples, TrainError, as_input};
use crate::layers::Layer;
use crate::loss::{argmax, softmax};

/// Evaluates the ensemble of `members` on `data` (inference mode): each sample's
/// prediction is the mean of the members' softmax probabilities. The loss is the
/// cross-entropy of that mean, `−ln p̄(y)`.
///
/// An ensemble of identical members predicts exactly what one of them predicts. The
/// members' input is any float tensor of `D` elements ([`as_input`]).
///
/// # Errors
/// [`TrainError::Empty`] if there are no members.
pub fn evaluate_ensemble<L, const D: usize, const C: usize>(
    members: &[&L],
    data: &Samples<D>,
) -> Result<Evaluation, TrainError>
where
    L: Layer<Output = [f32; C]>,
{
    if members.is_empty() {
        return Err(TrainError::Empty { what: "ensemble" });
    }
    let mut scratch = crate::boxed::zero::<crate::net::Scratch<L>>();
    let mut logits = [0.0f32; C];
    let mut p = [0.0f32; C];
    let k = members.len() as f64;
    let mut total = 0.0f64;
    let mut correct = 0usize;
    let mut predictions = Vec::with_capacity(data.len());
    for (x, &y) in data.x.iter().zip(&data.y) {
        let mut mean = [0.0f64; C];
        for net in members {
            net.forward(as_input(x), &mut logits, &mut scratch);
            softmax(&logits, &mut p);
            for (m, &pc) in mean.iter_mut().zip(&p) {
                *m += f64::from(pc);
            }
        }
        let mean = mean.map(|m| (m / k) as f32);
        // A label out of range has probability 0, and an infinite loss (as in `evaluate`).
        let py = mean.get(usize::from(y)).copied().unwrap_or(0.0);
        total += -f64::from(py).ln();
        let pred = argmax(&mean);
        correct += usize::from(pred == usize::from(y));
        predictions.push(pred as u16);
    }
    let n = data.len().max(1) as f64;
    Ok(Evaluation {
        loss: (total / n) as f32,
        accuracy: (correct as f64 / n) as f32,
        predictions,
    })
}
