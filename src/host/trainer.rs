//! The training loop for any task: epochs, schedules, validation, metrics, early stopping,
//! progress.
//!
//! [`Trainer`] trains with any [`Task`] — a [`Loss`](crate::loss::Loss) that knows its metrics: classifiers
//! with [`SoftmaxCrossEntropy`] (the default, [`Trainer::new`]), regression with
//! [`MeanSquaredError`](crate::loss::MeanSquaredError) or [`Huber`](crate::loss::Huber),
//! multi-label networks with [`BinaryCrossEntropy`](crate::loss::BinaryCrossEntropy)
//! ([`Trainer::with_loss`]). [`Samples`] hold the inputs and one target per sample of the
//! loss's type: a `u16` label, or an `[f32; N]` vector.
//!
//! ```
//! use firmnet::host::{LrSchedule, Samples, Schedule, TrainConfig, Trainer, evaluate_with};
//! use firmnet::loss::MeanSquaredError;
//! use firmnet::prelude::*;
//!
//! // y = 2x − 1 from 64 points, by a single dense unit.
//! type Line = Net![Dense<1, 1>];
//! let x: Vec<[f32; 1]> = (0..64).map(|i| [i as f32 / 32.0 - 1.0]).collect();
//! let y: Vec<[f32; 1]> = x.iter().map(|&[v]| [2.0 * v - 1.0]).collect();
//! let data = Samples::new(x, y).unwrap();
//! let net: Line = net![Dense::ZERO];
//! let adam = Adam::new(AdamConfig::with_lr(0.05));
//! let mut trainer =
//!     Trainer::<_, _, 16, _>::with_loss(Box::new(net), Box::new(adam), MeanSquaredError, 1);
//! let config = TrainConfig::default().epochs(100).schedule(LrSchedule {
//!     base: 0.05,
//!     schedule: Schedule::Cosine { min_factor: 0.01 },
//!     warmup_epochs: 0,
//! });
//! trainer.fit(&data, &data, &config, |_| {}).unwrap();
//! let m = evaluate_with(&*trainer.net, &data, &MeanSquaredError);
//! assert!(m.mse.unwrap() < 1e-4 && m.r2.unwrap() > 0.9999);
//! ```

use std::prelude::rust_2024::*;
use std::{format, vec};

use std::fmt;
use std::time::Instant;

use super::augment::Augment;
use super::data::{DataError, Normalizer, Split};
use super::metrics::{Metrics, Monitor, Tally, Task};
use super::progress::progress_bar;
use super::schedule::LrSchedule;
use crate::error::Error;
use crate::format::{
    EarlyStop, FileError, OptimizerState, RunState, load_training_file, save_training_file,
};
use crate::layers::{Context, Layer, ParamKind, Params};
use crate::loss::{SoftmaxCrossEntropy, argmax};
use crate::net::Scratch;
use crate::optim::{Optimizer, max_norm, perturb_weights};
use crate::tensor::{Tensor, Zero};
use crate::train::{Fgsm, TrainBuffers, adversarial, check_weight, gradients};

/// Samples ready for a network with `D` inputs: `f32` rows and one target each — a class
/// label (`T = u16`, the default) or a vector of `N` values (`T = [f32; N]`: regression,
/// multi-label).
///
/// A row is the network's input flattened in row-major order, whatever the input's shape:
/// a network of any float input tensor `I` with `I::LEN == D` elements trains and
/// evaluates on these rows, each viewed in place as an `I` ([`Samples::input`]) — an
/// image of 28×28 pixels is one row of 784 values for a dense network taking `[f32; 784]`
/// and for a convolutional one taking `[[[f32; 1]; 28]; 28]` alike. A size that differs
/// does not compile.
///
/// ```
/// use firmnet::host::Samples;
///
/// let data = Samples::new(vec![[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]], vec![0]).unwrap();
/// // The row as a 2×3 map of one channel, channels last.
/// let image: &[[[f32; 1]; 3]; 2] = data.input(0);
/// assert_eq!(image[1][0], [4.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Samples<const D: usize, T = u16> {
    /// One input per sample.
    pub x: Vec<[f32; D]>,
    /// One target per sample.
    pub y: Vec<T>,
}

impl<const D: usize, T: Clone> Samples<D, T> {
    /// Inputs `x` with their targets `y`.
    ///
    /// # Errors
    /// [`TrainError::Mismatch`] if the counts differ.
    pub fn new(x: Vec<[f32; D]>, y: Vec<T>) -> Result<Self, TrainError> {
        if x.len() != y.len() {
            return Err(TrainError::Mismatch {
                inputs: x.len(),
                targets: y.len(),
            });
        }
        Ok(Samples { x, y })
    }

    /// This set followed by `other` (e.g. training and validation samples together, for
    /// the final training run once hyperparameters are chosen).
    pub fn concat(&self, other: &Self) -> Self {
        let mut x = self.x.clone();
        x.extend_from_slice(&other.x);
        let mut y = self.y.clone();
        y.extend_from_slice(&other.y);
        Samples { x, y }
    }

    /// The first `n` samples (all of them if there are fewer).
    pub fn take(&self, n: usize) -> Self {
        let n = n.min(self.len());
        Samples {
            x: self.x[..n].to_vec(),
            y: self.y[..n].to_vec(),
        }
    }

    /// The samples at `indices`, in that order.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Self {
        Samples {
            x: indices.iter().map(|&i| self.x[i]).collect(),
            y: indices.iter().map(|&i| self.y[i].clone()).collect(),
        }
    }

    /// A seeded random split: `(rest, part)` with `part` holding `fraction` of the
    /// samples (rounded to the nearest count), e.g. a validation split of `0.1`: the split
    /// [`Split::split_off`] and [`Table::split_off`](super::Table::split_off) make.
    pub fn split_off(&self, fraction: f64, seed: u64) -> (Self, Self) {
        let (rest, part) = super::data::split_indices(self.len(), fraction, seed);
        (self.subset(&rest), self.subset(&part))
    }

    /// Multiplies every input by `factor` (e.g. `1/255` for pixels in `[0, 1]`).
    pub fn scale(&mut self, factor: f32) {
        self.x
            .iter_mut()
            .flat_map(|row| row.iter_mut())
            .for_each(|v| *v *= factor);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// The input of sample `i` viewed in place as the tensor `I` of the same number of
    /// elements (see [`as_input`]).
    ///
    /// # Panics
    /// If `i` is out of range.
    pub fn input<I: Tensor<Elem = f32>>(&self, i: usize) -> &I {
        as_input(&self.x[i])
    }

    /// Every input as the tensor `I` of the same number of elements, copied: e.g. the
    /// calibration samples of [`Calibration::record`](super::Calibration::record), which
    /// takes the network's inputs.
    pub fn inputs<I: Tensor<Elem = f32>>(&self) -> Vec<I> {
        self.x.iter().map(|row| *as_input::<I, D>(row)).collect()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }
}

impl<const D: usize> Samples<D> {
    /// Normalizes `split` with `norm`.
    ///
    /// # Errors
    /// [`DataError::WrongDimensions`] if the images do not have `D` pixels.
    pub fn from_split(split: &Split, norm: &Normalizer, name: &str) -> Result<Self, DataError> {
        split.expect_dim(D, std::path::Path::new(name))?;
        let mut x = vec![[0.0; D]; split.len()];
        for (i, row) in x.iter_mut().enumerate() {
            norm.apply(split.image(i), row);
        }
        Ok(Samples {
            x,
            y: split.labels.clone(),
        })
    }

    /// The pixels of `split` as `f32` values 0–255, unnormalized: the input of a network
    /// whose first layer has the normalization folded in ([`Normalizer::fold_into`]).
    ///
    /// # Errors
    /// [`DataError::WrongDimensions`] if the images do not have `D` pixels.
    pub fn raw_from_split(split: &Split, name: &str) -> Result<Self, DataError> {
        split.expect_dim(D, std::path::Path::new(name))?;
        let mut x = vec![[0.0; D]; split.len()];
        for (i, row) in x.iter_mut().enumerate() {
            for (o, &p) in row.iter_mut().zip(split.image(i)) {
                *o = f32::from(p);
            }
        }
        Ok(Samples {
            x,
            y: split.labels.clone(),
        })
    }
}

/// A sample row of `D` values viewed in place as the network input `I`, a tensor of `D`
/// elements in row-major order (channels last for a feature map). That `I` has `D`
/// elements is checked at compile time: a row of another length does not compile.
pub fn as_input<I: Tensor<Elem = f32>, const D: usize>(row: &[f32; D]) -> &I {
    const {
        assert!(
            I::LEN == D,
            "the samples' rows and the network's input differ in length"
        );
    }
    match I::view(row) {
        Some(x) => x,
        // `view` refuses only a slice shorter than `I::LEN`, ruled out above.
        None => unreachable!(),
    }
}

/// A network input `I` as its sample row of `D` values (the inverse of [`as_input`]).
pub(crate) fn as_row<I: Tensor<Elem = f32>, const D: usize>(x: &I) -> &[f32; D] {
    const {
        assert!(
            I::LEN == D,
            "the samples' rows and the network's input differ in length"
        );
    }
    match x.as_slice().try_into() {
        Ok(row) => row,
        // `as_slice` has `I::LEN` elements, which is `D`.
        Err(_) => unreachable!(),
    }
}

/// Settings of [`Trainer::fit`]. [`TrainConfig::default`] and the builder methods
/// name only what differs:
///
/// ```
/// use firmnet::host::{LrSchedule, Monitor, TrainConfig};
///
/// let config = TrainConfig::default()
///     .epochs(40)
///     .schedule(LrSchedule::constant(3e-3))
///     .patience(5)
///     .monitor(Monitor::Mae);
/// assert_eq!((config.epochs, config.patience, config.seed), (40, Some(5), 0));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Learning rate over the epochs.
    pub schedule: LrSchedule,
    /// Stop after this many epochs without a better validation value of
    /// [`monitor`](Self::monitor), and restore the best weights (`None`: train all epochs,
    /// keep the last weights).
    pub patience: Option<usize>,
    /// What early stopping watches on the validation set; `None`: the task's choice
    /// ([`Task::MONITOR`]: accuracy for classifiers, the loss otherwise).
    pub monitor: Option<Monitor>,
    /// Seed of the shuffling; dropout and noise draw from the trainer's [`Context`].
    pub seed: u64,
    /// Show a progress bar on a terminal.
    pub progress: bool,
    /// The regularizers that act in the training loop.
    pub regularization: Regularization,
}

impl Default for TrainConfig {
    /// 10 epochs at a constant learning rate of `1e-3` (Adam's usual rate), no early
    /// stopping, seed 0, no progress bar, no regularization.
    fn default() -> Self {
        TrainConfig {
            epochs: 10,
            schedule: LrSchedule::constant(1e-3),
            patience: None,
            monitor: None,
            seed: 0,
            progress: false,
            regularization: Regularization::NONE,
        }
    }
}

impl TrainConfig {
    /// With at most `epochs` epochs.
    pub fn epochs(self, epochs: usize) -> Self {
        TrainConfig { epochs, ..self }
    }

    /// With the learning rate following `schedule`.
    pub fn schedule(self, schedule: LrSchedule) -> Self {
        TrainConfig { schedule, ..self }
    }

    /// With early stopping after `patience` epochs without improvement.
    pub fn patience(self, patience: usize) -> Self {
        TrainConfig {
            patience: Some(patience),
            monitor: None,
            ..self
        }
    }

    /// With early stopping watching `monitor` (see [`patience`](Self::patience)).
    pub fn monitor(self, monitor: Monitor) -> Self {
        TrainConfig {
            monitor: Some(monitor),
            ..self
        }
    }

    /// With shuffling seeded by `seed`.
    pub fn seed(self, seed: u64) -> Self {
        TrainConfig { seed, ..self }
    }

    /// With a progress bar on a terminal, or without.
    pub fn progress(self, progress: bool) -> Self {
        TrainConfig { progress, ..self }
    }

    /// With the loop's regularizers.
    pub fn regularization(self, regularization: Regularization) -> Self {
        TrainConfig {
            regularization,
            ..self
        }
    }
}

/// The lecture's regularizers that act in the training loop. The others are layers
/// ([`Dropout`](crate::layers::Dropout), [`GaussianNoise`](crate::layers::GaussianNoise) on
/// inputs or hidden activations, [`ActivityL1`](crate::layers::ActivityL1)) or optimizer
/// settings (`l2`, `l1`, AdamW's `weight_decay`, clipping).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Regularization {
    /// Data augmentation: each training sample is a random shift (and flip) of itself,
    /// drawn anew every time it is visited. Its image size must be the input size.
    pub augment: Option<Augment>,
    /// Gaussian noise of this standard deviation on the weight matrices while the
    /// gradient is computed ([`perturb_weights`]); the update applies to the clean weights.
    /// 0 for none.
    pub weight_noise: f32,
    /// Max-norm constraint on every weight row after every step ([`max_norm`]).
    pub max_norm: Option<f32>,
    /// Adversarial training with FGSM examples ([`adversarial_gradients`](crate::train::adversarial_gradients)).
    pub adversarial: Option<Adversarial>,
}

impl Regularization {
    /// None of them.
    pub const NONE: Regularization = Regularization {
        augment: None,
        weight_noise: 0.0,
        max_norm: None,
        adversarial: None,
    };
}

impl Default for Regularization {
    fn default() -> Self {
        Self::NONE
    }
}

/// Settings of adversarial training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adversarial {
    /// How the examples are made.
    pub attack: Fgsm,
    /// Weight of the clean loss: the objective is `weight·J(x) + (1 − weight)·J(x')`. In
    /// `(0, 1]`.
    pub weight: f32,
}

/// What one epoch measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Learning rate at the end of the epoch.
    pub lr: f32,
    /// Metrics over the epoch's training batches, as they were trained (dropout and noise
    /// on; for adversarial training, on the clean inputs).
    pub train: Metrics,
    /// Metrics on the validation set (inference mode).
    pub val: Metrics,
    /// Seconds spent training (not validating) this epoch.
    pub train_seconds: f64,
    /// Training throughput.
    pub samples_per_second: f64,
}

impl fmt::Display for EpochRecord {
    /// One line: `epoch  3  lr 0.00100  train loss=… accuracy=…  val loss=… accuracy=…
    /// 3.1 s  16615 samples/s`, with the metrics the task defines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "epoch {:>2}  lr {:.5}  train {}  val {}  {:.1} s  {:.0} samples/s",
            self.epoch, self.lr, self.train, self.val, self.train_seconds, self.samples_per_second
        )
    }
}

/// The outcome of [`Trainer::fit`].
#[derive(Clone, Debug, PartialEq)]
pub struct FitSummary {
    /// One record per epoch trained.
    pub history: Vec<EpochRecord>,
    /// The epoch whose weights the network holds now (the best one under early
    /// stopping).
    pub best_epoch: usize,
    /// Whether early stopping ended training before the last epoch.
    pub stopped_early: bool,
    /// What early stopping watched (or would have, without patience).
    pub monitor: Monitor,
    /// Seconds spent in training steps over all epochs.
    pub train_seconds: f64,
}

/// A training failure, with where it happened. The network and optimizer are left as
/// they were before the failing step.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// A step failed (non-finite loss or gradient, label out of range).
    Step {
        /// Epoch, from 1.
        epoch: usize,
        /// Step within the epoch, from 1.
        step: usize,
        /// What went wrong.
        error: Error,
    },
    /// The validation set is empty.
    Empty {
        /// Which set.
        what: &'static str,
    },
    /// The training set has fewer samples than one batch.
    TooFew {
        /// Samples in the training set.
        samples: usize,
        /// The batch size.
        batch: usize,
    },
    /// Inputs and targets do not pair up.
    Mismatch {
        /// Number of inputs.
        inputs: usize,
        /// Number of targets.
        targets: usize,
    },
    /// The configuration does not fit the network.
    Config {
        /// What does not fit.
        reason: String,
    },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::Step { epoch, step, error } => {
                write!(f, "training failed at epoch {epoch}, step {step}: {error}")
            }
            TrainError::Empty { what } => write!(f, "the {what} set is empty"),
            TrainError::TooFew { samples, batch } => write!(
                f,
                "the training set has {samples} samples, fewer than one batch of {batch}; use a smaller batch or more data"
            ),
            TrainError::Mismatch { inputs, targets } => write!(
                f,
                "{inputs} inputs and {targets} targets: every input needs exactly one target"
            ),
            TrainError::Config { reason } => write!(f, "invalid training configuration: {reason}"),
        }
    }
}

impl std::error::Error for TrainError {}

/// Loss and accuracy of a classifier on a set of samples, in inference mode.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f32,
    /// Fraction classified correctly.
    pub accuracy: f32,
    /// Predicted class of each sample.
    pub predictions: Vec<u16>,
}

/// Evaluates a classifier on `data` one sample at a time (inference mode): its
/// cross-entropy, accuracy and predictions. [`evaluate_with`] takes any task. The
/// network's input is any float tensor of `D` elements, each row viewed as one
/// ([`as_input`]).
pub fn evaluate<L, const D: usize, const C: usize>(net: &L, data: &Samples<D>) -> Evaluation
where
    L: Layer<Output = [f32; C]>,
{
    let mut predictions = Vec::with_capacity(data.len());
    let metrics = evaluate_each(net, data, &SoftmaxCrossEntropy, |out| {
        predictions.push(argmax(out) as u16);
    });
    Evaluation {
        loss: metrics.loss,
        accuracy: metrics.accuracy.unwrap_or(0.0),
        predictions,
    }
}

/// The metrics of `net` on `data` for the task of `loss`, one sample at a time (inference
/// mode). A sample whose target the loss refuses counts with an infinite loss. The
/// network's input is any float tensor of `D` elements ([`as_input`]).
pub fn evaluate_with<L, T, const D: usize, const N: usize>(
    net: &L,
    data: &Samples<D, T::Target>,
    loss: &T,
) -> Metrics
where
    L: Layer<Output = [f32; N]>,
    T: Task<N>,
{
    evaluate_each(net, data, loss, |_| {})
}

fn evaluate_each<L, T, const D: usize, const N: usize>(
    net: &L,
    data: &Samples<D, T::Target>,
    loss: &T,
    mut each: impl FnMut(&[f32; N]),
) -> Metrics
where
    L: Layer<Output = [f32; N]>,
    T: Task<N>,
{
    let mut scratch = crate::boxed::zero::<Scratch<L>>();
    let mut out = [0.0; N];
    let mut tally = Tally::new();
    for (x, y) in data.x.iter().zip(&data.y) {
        net.forward(as_input(x), &mut out, &mut scratch);
        tally_sample(loss, &out, y, &mut tally);
        each(&out);
    }
    tally.metrics()
}

/// Counts one sample; a target the loss refuses counts as an infinite loss.
pub(crate) fn tally_sample<T: Task<N>, const N: usize>(
    loss: &T,
    out: &[f32; N],
    target: &T::Target,
    tally: &mut Tally<N>,
) {
    if loss.measure(out, target, tally).is_err() {
        tally.loss(f32::INFINITY);
    }
}

/// Trains network `L` with optimizer `O` at batch `B` on the task of loss `T` (softmax
/// cross-entropy unless told otherwise).
///
/// The network, the optimizer and the training buffers live on the heap (they can be
/// megabytes); the loop allocates nothing per batch.
pub struct Trainer<L: Layer, O, const B: usize, T = SoftmaxCrossEntropy> {
    /// The network being trained.
    pub net: Box<L>,
    /// The optimizer and its state.
    pub optimizer: Box<O>,
    /// Caches and gradients for one batch.
    pub buffers: Box<TrainBuffers<L, B>>,
    /// The loss the network trains on, which says what to measure.
    pub loss: T,
    /// Randomness of dropout and noise.
    pub ctx: Context,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps completed.
    pub step: u64,
    /// The early-stopping state: the best epoch so far and its weights (with patience).
    pub best: Option<Best<L>>,
}

/// The best epoch of a run with early stopping: its monitored value, its weights, and
/// how many epochs have passed since without improvement. A checkpoint holds it, so a
/// resumed run stops where the uninterrupted one would, with the same weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Best<L> {
    /// The weights at the end of that epoch.
    pub net: Box<L>,
    /// Its validation value of the monitored metric.
    pub value: f32,
    /// The epoch, from 1.
    pub epoch: usize,
    /// Epochs trained since, none better.
    pub since: usize,
}

impl<L, O, const C: usize, const B: usize> Trainer<L, O, B>
where
    L: Layer<Output = [f32; C]> + Clone + Zero,
    O: Optimizer<L::Grad>,
{
    /// A trainer of a classifier (softmax cross-entropy) for `net` with `optimizer`;
    /// `seed` seeds dropout and noise.
    pub fn new(net: Box<L>, optimizer: Box<O>, seed: u64) -> Self {
        Self::with_loss(net, optimizer, SoftmaxCrossEntropy, seed)
    }
}

impl<L, O, T, const N: usize, const B: usize> Trainer<L, O, B, T>
where
    L: Layer<Output = [f32; N]> + Clone + Zero,
    O: Optimizer<L::Grad>,
    T: Task<N>,
{
    /// A trainer for `net` with `optimizer` on the task of `loss`; `seed` seeds dropout
    /// and noise.
    pub fn with_loss(net: Box<L>, optimizer: Box<O>, loss: T, seed: u64) -> Self {
        Trainer {
            net,
            optimizer,
            buffers: crate::boxed::zero(),
            loss,
            ctx: Context::new(seed),
            epoch: 0,
            step: 0,
            best: None,
        }
    }

    /// Saves everything needed to resume bit for bit — parameters, batch-normalization
    /// statistics, optimizer state, the random stream, the epoch and step counters, and the
    /// early-stopping state with the best weights — to `path`, atomically.
    ///
    /// The shuffling order needs no saving: it is a function of the seed and the epoch.
    ///
    /// # Errors
    /// [`FileError`] naming the path.
    pub fn save_checkpoint(&self, path: impl AsRef<std::path::Path>) -> Result<(), FileError>
    where
        O: OptimizerState<L::Grad>,
    {
        let run = RunState {
            rng: self.ctx.rng,
            epoch: self.epoch as u64,
            step: self.step,
        };
        let stop = self.best.as_ref().map(|b| EarlyStop {
            best: &*b.net,
            best_value: f64::from(b.value),
            best_epoch: b.epoch as u64,
            since_best: b.since as u64,
        });
        save_training_file(path, &*self.net, &*self.optimizer, &run, stop.as_ref(), &[])
    }

    /// Restores a checkpoint written by [`save_checkpoint`](Self::save_checkpoint); a
    /// following [`fit`](Self::fit) with the same configuration continues exactly where
    /// the saved run stood. On error nothing changes.
    ///
    /// # Errors
    /// [`FileError`] naming the path and, for a refused file, why.
    pub fn load_checkpoint(&mut self, path: impl AsRef<std::path::Path>) -> Result<(), FileError>
    where
        O: OptimizerState<L::Grad>,
    {
        let mut best = crate::boxed::clone(&*self.net);
        let resumed =
            load_training_file(path, &mut *self.net, &mut *self.optimizer, Some(&mut *best))?;
        let run = resumed.run;
        self.ctx.rng = run.rng;
        self.epoch = run.epoch as usize;
        self.step = run.step;
        self.best = resumed.stop.map(|(value, epoch, since)| Best {
            net: best,
            value: value as f32,
            epoch: epoch as usize,
            since: since as usize,
        });
        Ok(())
    }

    /// Trains on `train`, validating on `val` after every epoch.
    ///
    /// Each epoch visits the training samples in a seeded random order, in full batches of
    /// `B` (the last `len % B` samples of each shuffled order are skipped that epoch).
    /// `on_epoch` sees each record as it is made.
    ///
    /// The network's input is any float tensor of `D` elements: each batch is assembled
    /// by copying its rows into `B` input tensors ([`as_input`]), as for a vector input.
    ///
    /// # Errors
    /// [`TrainError::Step`] naming the epoch and step where a loss or gradient was not
    /// finite (the network holds the weights from before that step);
    /// [`TrainError::TooFew`] if the training set has fewer samples than one batch,
    /// [`TrainError::Empty`] if the validation set is empty, [`TrainError::Config`] for a
    /// setting that does not fit the network or the task.
    pub fn fit<const D: usize>(
        &mut self,
        train: &Samples<D, T::Target>,
        val: &Samples<D, T::Target>,
        config: &TrainConfig,
        on_epoch: impl FnMut(&EpochRecord),
    ) -> Result<FitSummary, TrainError> {
        self.fit_until(train, val, config, config.epochs, on_epoch)
    }

    /// [`fit`](Self::fit), but stops once `until` epochs are complete (at most
    /// `config.epochs`), as an interrupted run would: the schedule still spans
    /// `config.epochs`. With [`save_checkpoint`](Self::save_checkpoint) and
    /// [`load_checkpoint`](Self::load_checkpoint), a later `fit` finishes the run.
    ///
    /// # Errors
    /// As [`fit`](Self::fit).
    pub fn fit_until<const D: usize>(
        &mut self,
        train: &Samples<D, T::Target>,
        val: &Samples<D, T::Target>,
        config: &TrainConfig,
        until: usize,
        mut on_epoch: impl FnMut(&EpochRecord),
    ) -> Result<FitSummary, TrainError> {
        const {
            assert!(
                L::Input::LEN == D,
                "the samples' rows and the network's input differ in length"
            );
        }
        let until = until.min(config.epochs);
        if train.len() < B {
            return Err(TrainError::TooFew {
                samples: train.len(),
                batch: B,
            });
        }
        if val.is_empty() {
            return Err(TrainError::Empty { what: "validation" });
        }
        let reg = config.regularization;
        if let Some(a) = reg.augment
            && a.rows * a.cols != D
        {
            return Err(TrainError::Config {
                reason: format!(
                    "augmentation of {}×{} images needs {} inputs, the network has {D}",
                    a.rows,
                    a.cols,
                    a.rows * a.cols
                ),
            });
        }
        let monitor = config.monitor.unwrap_or(T::MONITOR);
        if !self.measures(monitor, &val.y[0]) {
            return Err(TrainError::Config {
                reason: format!(
                    "early stopping watches {monitor}, which this task does not measure"
                ),
            });
        }
        if let Some(a) = reg.adversarial
            && check_weight(a.weight).is_err()
        {
            return Err(TrainError::Config {
                reason: format!(
                    "the adversarial weight is {}; it must be in (0, 1]",
                    a.weight
                ),
            });
        }
        let steps = train.len() / B;
        let mut order: Vec<usize> = (0..train.len()).collect();
        let mut x = crate::boxed::zero::<[L::Input; B]>();
        let mut adv = crate::boxed::zero::<[L::Input; B]>();
        let mut clean = Vec::new();
        let mut y: Box<[T::Target; B]> = Box::new(core::array::from_fn(|_| train.y[0]));
        let mut history = Vec::new();
        if self.epoch == 0 {
            self.best = None;
        }
        let stop_at = |best: &Option<Best<L>>| matches!((best, config.patience), (Some(b), Some(p)) if b.since >= p);
        let mut stopped_early = stop_at(&self.best) && self.epoch < config.epochs;
        let mut total_seconds = 0.0;
        while self.epoch < until && !stopped_early {
            let epoch = self.epoch;
            // The order depends on the seed and the epoch only, so a resumed run shuffles
            // exactly as an uninterrupted one.
            order.iter_mut().enumerate().for_each(|(i, o)| *o = i);
            crate::rng::Rng::new(config.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9))
                .shuffle(&mut order);
            let bar = progress_bar(config.progress, steps, epoch + 1, config.epochs);
            let start = Instant::now();
            let mut loss_sum = 0.0f64;
            let mut tally = Tally::new();
            let mut lr = config.schedule.base;
            for step in 0..steps {
                lr = config.schedule.rate(epoch, step, steps, config.epochs);
                self.optimizer.set_learning_rate(lr);
                for (k, &i) in order[step * B..(step + 1) * B].iter().enumerate() {
                    let input = x[k].as_mut_slice();
                    match &reg.augment {
                        Some(a) => a.apply(&train.x[i], input, &mut self.ctx.rng),
                        None => input.copy_from_slice(&train.x[i]),
                    }
                    y[k] = train.y[i];
                }
                let loss = self
                    .train_step(&x, &y, &reg, &mut adv, &mut clean, &mut tally)
                    .map_err(|error| TrainError::Step {
                        epoch: epoch + 1,
                        step: step + 1,
                        error,
                    })?;
                self.step += 1;
                loss_sum += f64::from(loss);
                if let Some(bar) = &bar {
                    bar.inc(1);
                    if step % 50 == 0 {
                        let sps = ((step + 1) * B) as f64 / start.elapsed().as_secs_f64();
                        bar.set_message(format!(
                            "loss {:.4}  {:.0} samples/s",
                            loss_sum / (step + 1) as f64,
                            sps
                        ));
                    }
                }
            }
            let seconds = start.elapsed().as_secs_f64();
            total_seconds += seconds;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let val_metrics = evaluate_with(&*self.net, val, &self.loss);
            self.epoch += 1;
            let record = EpochRecord {
                epoch: self.epoch,
                lr,
                // The batches' own losses (with regularization as trained), not the
                // per-sample tally's.
                train: Metrics {
                    loss: (loss_sum / steps as f64) as f32,
                    ..tally.metrics()
                },
                val: val_metrics,
                train_seconds: seconds,
                samples_per_second: (steps * B) as f64 / seconds,
            };
            on_epoch(&record);
            history.push(record);
            if config.patience.is_some() {
                // Checked at the start: the task measures `monitor`.
                let value = val_metrics.get(monitor).unwrap_or(f32::NAN);
                match &mut self.best {
                    Some(b) if !monitor.improves(value, b.value) => b.since += 1,
                    _ => {
                        self.best = Some(Best {
                            net: crate::boxed::clone(&*self.net),
                            value,
                            epoch: self.epoch,
                            since: 0,
                        });
                    }
                }
                stopped_early = stop_at(&self.best) && self.epoch < config.epochs;
            }
        }
        // The run is over (all epochs, or early stopping): the best weights replace the
        // last ones. An interrupted run (`until` reached first) keeps training later.
        let over = stopped_early || self.epoch >= config.epochs;
        let best_epoch = match &self.best {
            Some(b) if over => {
                self.net.clone_from(&b.net);
                b.epoch
            }
            _ => self.epoch,
        };
        Ok(FitSummary {
            history,
            best_epoch,
            stopped_early,
            monitor,
            train_seconds: total_seconds,
        })
    }

    /// Whether the task measures `monitor`, learnt by scoring one sample.
    fn measures(&self, monitor: Monitor, target: &T::Target) -> bool {
        let mut tally = Tally::<N>::new();
        self.loss.score(&[0.0; N], target, &mut tally);
        tally.measures(monitor)
    }

    /// One optimizer step on a prepared batch, with the loop's regularizers.
    fn train_step(
        &mut self,
        x: &[L::Input; B],
        y: &[T::Target; B],
        reg: &Regularization,
        adv: &mut [L::Input; B],
        clean: &mut Vec<f32>,
        tally: &mut Tally<N>,
    ) -> Result<f32, Error> {
        let noisy = reg.weight_noise > 0.0;
        if noisy {
            clean.clear();
            for i in weight_tensors::<L>() {
                clean.extend_from_slice(self.net.tensor(i));
            }
            perturb_weights(&mut *self.net, reg.weight_noise, &mut self.ctx.rng);
        }
        let (net, buf, ctx, loss) = (
            &mut *self.net,
            &mut *self.buffers,
            &mut self.ctx,
            &self.loss,
        );
        // The metrics count the outputs of the clean batch, as trained.
        let count = |out: &[[f32; N]; B], tally: &mut Tally<N>| {
            for (o, t) in out.iter().zip(y) {
                tally_sample(loss, o, t, tally);
            }
        };
        let result = match &reg.adversarial {
            Some(a) => adversarial(net, buf, ctx, loss, x, y, &a.attack, a.weight, adv, |out| {
                count(out, tally)
            }),
            None => gradients(net, buf, ctx, loss, x, y).inspect(|_| count(&buf.out, tally)),
        };
        if noisy {
            let mut at = 0;
            for i in weight_tensors::<L>() {
                let t = self.net.tensor_mut(i);
                t.copy_from_slice(&clean[at..at + t.len()]);
                at += t.len();
            }
        }
        let value = result?;
        self.optimizer
            .step(&mut *self.net, &mut self.buffers.grad)?;
        if let Some(c) = reg.max_norm {
            max_norm(&mut *self.net, c);
        }
        Ok(value)
    }
}

/// The weight matrices of `L` that are trained, the tensors weight noise perturbs.
fn weight_tensors<L: Params>() -> impl Iterator<Item = usize> {
    (0..L::TENSORS).filter(|&i| L::info(i).kind == ParamKind::Weight && !L::frozen(i))
}
