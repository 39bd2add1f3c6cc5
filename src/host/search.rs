//! Choosing hyperparameters on validation data.
//!
//! The lecture's rule: choose hyperparameters (regularization strength, dropout rate,
//! learning rate) on held-out **validation** data, and touch the **test** data once, at the
//! end. [`grid_search`] scores every candidate on the validation split; the caller then
//! retrains the winner on training and validation data together
//! ([`Samples::concat`](super::Samples::concat)) and evaluates it on the test set once.

use std::prelude::rust_2024::*;

use std::time::Instant;

use super::trainer::Evaluation;

/// One candidate and how it scored.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial<P> {
    /// The hyperparameters tried.
    pub params: P,
    /// Validation accuracy.
    pub val_accuracy: f32,
    /// Validation loss.
    pub val_loss: f32,
    /// Seconds the trial took.
    pub seconds: f64,
}

/// The outcome of [`grid_search`].
#[derive(Clone, Debug, PartialEq)]
pub struct Search<P> {
    /// Every trial, in the order of the candidates.
    pub trials: Vec<Trial<P>>,
    /// Index of the best trial: highest validation accuracy, ties broken by lower
    /// validation loss, then by order.
    pub best: usize,
}

impl<P> Search<P> {
    /// The best trial.
    pub fn best(&self) -> &Trial<P> {
        &self.trials[self.best]
    }
}

/// Runs `train` on every candidate — it trains a network on the training split and returns
/// its evaluation on the validation split — and picks the best.
///
/// Returns `None` if there are no candidates.
///
/// # Errors
/// The first error `train` returns.
pub fn grid_search<P: Clone, E>(
    candidates: &[P],
    mut train: impl FnMut(&P) -> Result<Evaluation, E>,
) -> Result<Option<Search<P>>, E> {
    let mut trials = Vec::with_capacity(candidates.len());
    for params in candidates {
        let start = Instant::now();
        let eval = train(params)?;
        trials.push(Trial {
            params: params.clone(),
            val_accuracy: eval.accuracy,
            val_loss: eval.loss,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    let best = (0..trials.len()).reduce(|b, i| {
        let (tb, ti) = (&trials[b], &trials[i]);
        let better = ti.val_accuracy > tb.val_accuracy
            || (ti.val_accuracy == tb.val_accuracy && ti.val_loss < tb.val_loss);
        if better { i } else { b }
    });
    Ok(best.map(|best| Search { trials, best }))
}
