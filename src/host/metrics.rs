//! Metrics by task: accuracy for classifiers, MSE, MAE and R² for regression, label
//! accuracy for multi-label networks — and which of them early stopping watches.
//!
//! A [`Task`] is a [`Loss`] that knows what to measure; the trainer and the evaluation
//! functions fill a [`Tally`] with it, sample by sample, and read [`Metrics`] from it.
//!
//! ```
//! use firmnet::host::{Monitor, Tally, Task};
//! use firmnet::loss::MeanSquaredError;
//!
//! let mut tally = Tally::<1>::new();
//! for (out, target) in [([1.0], [1.0]), ([2.0], [3.0]), ([4.0], [5.0])] {
//!     let loss = Task::<1>::measure(&MeanSquaredError, &out, &target, &mut tally);
//!     assert!(loss.is_ok());
//! }
//! let m = tally.metrics();
//! assert_eq!(m.mse, Some(2.0 / 3.0));
//! assert_eq!(m.mae, Some(2.0 / 3.0));
//! // Targets 1, 3, 5 have mean 3 and a sum of squares about it of 8: R² = 1 − 2/8.
//! assert_eq!(m.r2, Some(0.75));
//! assert_eq!(m.get(Monitor::R2), Some(0.75));
//! ```

use std::fmt;

use crate::error::Error;
use crate::loss::{BinaryCrossEntropy, Huber, Loss, MeanSquaredError, SoftmaxCrossEntropy, argmax};

/// A quantity early stopping can watch on the validation set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Monitor {
    /// The loss the network trains on (lower is better).
    Loss,
    /// Fraction classified correctly; for multi-label networks, fraction of labels right
    /// (higher is better).
    Accuracy,
    /// Mean squared error over every output (lower is better).
    Mse,
    /// Mean absolute error over every output (lower is better).
    Mae,
    /// Coefficient of determination (higher is better).
    R2,
}

impl Monitor {
    /// Whether a larger value is better.
    pub const fn higher_is_better(self) -> bool {
        matches!(self, Monitor::Accuracy | Monitor::R2)
    }

    /// Whether `value` is better than `best`.
    pub fn improves(self, value: f32, best: f32) -> bool {
        if self.higher_is_better() {
            value > best
        } else {
            value < best
        }
    }

    /// The metric's name as the reports and the RESULT lines print it.
    pub const fn name(self) -> &'static str {
        match self {
            Monitor::Loss => "loss",
            Monitor::Accuracy => "accuracy",
            Monitor::Mse => "mse",
            Monitor::Mae => "mae",
            Monitor::R2 => "r2",
        }
    }
}

impl fmt::Display for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a network achieved on a set of samples. A metric the task does not define is
/// `None` (a regression has no accuracy, a classifier no R²).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// Mean loss per sample.
    pub loss: f32,
    /// Classification: fraction of samples whose largest output is their label.
    /// Multi-label: fraction of labels predicted right (logit > 0 for a target ≥ ½).
    pub accuracy: Option<f32>,
    /// Regression: mean of `(output − target)²` over every output of every sample.
    pub mse: Option<f32>,
    /// Regression: mean of `|output − target|`.
    pub mae: Option<f32>,
    /// Regression: `1 − SSE/SST`, with `SST` the squared deviation of every target from
    /// its output's mean over the set (the outputs pooled, each about its own mean).
    /// 1 is a perfect fit, 0 no better than predicting the mean; `None` when the targets
    /// do not vary.
    pub r2: Option<f32>,
}

impl Metrics {
    /// The value of `monitor`, if the task defines it.
    pub fn get(&self, monitor: Monitor) -> Option<f32> {
        match monitor {
            Monitor::Loss => Some(self.loss),
            Monitor::Accuracy => self.accuracy,
            Monitor::Mse => self.mse,
            Monitor::Mae => self.mae,
            Monitor::R2 => self.r2,
        }
    }
}

impl fmt::Display for Metrics {
    /// `loss=… accuracy=…` with the metrics the task defines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loss={:.4}", self.loss)?;
        for m in [Monitor::Accuracy, Monitor::Mse, Monitor::Mae, Monitor::R2] {
            if let Some(v) = self.get(m) {
                write!(f, " {m}={v:.4}")?;
            }
        }
        Ok(())
    }
}

/// Running sums from which [`Metrics`] are read, for networks with `N` outputs. Sums are
/// kept in `f64`, so a set of a million samples loses nothing to rounding.
#[derive(Clone, Debug, PartialEq)]
pub struct Tally<const N: usize> {
    samples: u64,
    loss: f64,
    /// Correct samples (classification) or labels (multi-label).
    hits: u64,
    /// What `hits` is counted over: samples or labels; 0 when the task has no accuracy.
    trials: u64,
    /// Regression sums, over outputs: squared and absolute errors.
    sse: f64,
    sae: f64,
    /// Per output: the targets' sum and sum of squares (for R²).
    sum: [f64; N],
    sum_sq: [f64; N],
    regression: bool,
}

impl<const N: usize> Default for Tally<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Tally<N> {
    /// Nothing counted yet.
    pub const fn new() -> Self {
        Tally {
            samples: 0,
            loss: 0.0,
            hits: 0,
            trials: 0,
            sse: 0.0,
            sae: 0.0,
            sum: [0.0; N],
            sum_sq: [0.0; N],
            regression: false,
        }
    }

    /// Counts one sample's loss.
    pub fn loss(&mut self, loss: f32) {
        self.samples += 1;
        self.loss += f64::from(loss);
    }

    /// Counts `hits` right answers out of `trials` (1 of 1 for a classified sample, the
    /// right labels of a multi-label sample).
    pub fn hits(&mut self, hits: usize, trials: usize) {
        self.hits += hits as u64;
        self.trials += trials as u64;
    }

    /// Counts the errors of one regression sample.
    pub fn regression(&mut self, out: &[f32; N], target: &[f32; N]) {
        self.regression = true;
        for (o, (&y, &t)) in out.iter().zip(target).enumerate() {
            let (y, t) = (f64::from(y), f64::from(t));
            self.sse += (y - t) * (y - t);
            self.sae += (y - t).abs();
            self.sum[o] += t;
            self.sum_sq[o] += t * t;
        }
    }

    /// Whether what was counted defines `monitor` (the loss always; accuracy once hits
    /// were counted; MSE, MAE and R² once regression errors were).
    pub fn measures(&self, monitor: Monitor) -> bool {
        match monitor {
            Monitor::Loss => true,
            Monitor::Accuracy => self.trials > 0,
            Monitor::Mse | Monitor::Mae | Monitor::R2 => self.regression,
        }
    }

    /// Number of samples counted.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The metrics of everything counted (all zero for nothing counted).
    pub fn metrics(&self) -> Metrics {
        let n = self.samples.max(1) as f64;
        let accuracy = (self.trials > 0).then(|| (self.hits as f64 / self.trials as f64) as f32);
        let (mut mse, mut mae, mut r2) = (None, None, None);
        if self.regression {
            let values = n * N as f64;
            mse = Some((self.sse / values) as f32);
            mae = Some((self.sae / values) as f32);
            let sst: f64 = self
                .sum
                .iter()
                .zip(&self.sum_sq)
                .map(|(s, q)| (q - s * s / n).max(0.0))
                .sum();
            r2 = (sst > 0.0).then(|| (1.0 - self.sse / sst) as f32);
        }
        Metrics {
            loss: (self.loss / n) as f32,
            accuracy,
            mse,
            mae,
            r2,
        }
    }
}

/// A [`Loss`] that knows what to measure: the metrics of its task, and which one early
/// stopping watches by default. Implement it for a loss of your own to train with it
/// in [`Trainer`](super::Trainer) (often in two lines: the loss and one of
/// [`Tally::hits`] or [`Tally::regression`]).
pub trait Task<const N: usize>: Loss<N> {
    /// What early stopping watches unless told otherwise.
    const MONITOR: Monitor;

    /// Counts one sample's outputs `out` against its target into `tally`, besides its loss;
    /// returns the loss.
    ///
    /// # Errors
    /// As [`Loss::sample`].
    fn measure(
        &self,
        out: &[f32; N],
        target: &Self::Target,
        tally: &mut Tally<N>,
    ) -> Result<f32, Error> {
        let loss = self.sample(out, target, 1.0, &mut [0.0; N])?;
        tally.loss(loss);
        self.score(out, target, tally);
        Ok(loss)
    }

    /// Counts the task's metrics (not the loss) of one sample into `tally`.
    fn score(&self, out: &[f32; N], target: &Self::Target, tally: &mut Tally<N>);
}

impl<const N: usize> Task<N> for SoftmaxCrossEntropy {
    const MONITOR: Monitor = Monitor::Accuracy;

    fn score(&self, out: &[f32; N], &label: &u16, tally: &mut Tally<N>) {
        tally.hits(usize::from(argmax(out) == usize::from(label)), 1);
    }
}

impl<const N: usize> Task<N> for MeanSquaredError {
    const MONITOR: Monitor = Monitor::Loss;

    fn score(&self, out: &[f32; N], target: &[f32; N], tally: &mut Tally<N>) {
        tally.regression(out, target);
    }
}

impl<const N: usize> Task<N> for Huber {
    const MONITOR: Monitor = Monitor::Loss;

    fn score(&self, out: &[f32; N], target: &[f32; N], tally: &mut Tally<N>) {
        tally.regression(out, target);
    }
}

impl<const N: usize> Task<N> for BinaryCrossEntropy {
    const MONITOR: Monitor = Monitor::Loss;

    fn score(&self, out: &[f32; N], target: &[f32; N], tally: &mut Tally<N>) {
        let right = out
            .iter()
            .zip(target)
            .filter(|&(&x, &t)| (x > 0.0) == (t >= 0.5))
            .count();
        tally.hits(right, N);
    }
}
