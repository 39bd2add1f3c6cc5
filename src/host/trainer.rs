//! The training loop: epochs, schedules, validation, early stopping, progress.

use std::prelude::rust_2024::*;
use std::{format, vec};

use std::fmt;
use std::time::Instant;

use super::augment::Augment;
use super::data::{DataError, Normalizer, Split};
use super::schedule::LrSchedule;
use crate::error::Error;
use crate::format::{
    EarlyStop, FileError, OptimizerState, RunState, load_training_file, save_training_file,
};
use crate::layers::{Context, Layer, ParamKind, Params};
use crate::loss::{argmax, softmax_cross_entropy};
use crate::net::Scratch;
use crate::optim::{Optimizer, max_norm, perturb_weights};
use crate::train::{
    Fgsm, StepStats, TrainBuffers, adversarial_gradients, classification_gradients,
};

/// Samples ready for a network with `D` inputs: normalized `f32` rows and labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples<const D: usize> {
    /// One normalized input per sample.
    pub x: Vec<[f32; D]>,
    /// One label per sample.
    pub y: Vec<u16>,
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

    /// This set followed by `other` (e.g. training and validation samples together, for
    /// the final training run once hyperparameters are chosen).
    pub fn concat(&self, other: &Samples<D>) -> Samples<D> {
        let mut x = self.x.clone();
        x.extend_from_slice(&other.x);
        let mut y = self.y.clone();
        y.extend_from_slice(&other.y);
        Samples { x, y }
    }

    /// The first `n` samples (all of them if there are fewer).
    pub fn take(&self, n: usize) -> Samples<D> {
        let n = n.min(self.len());
        Samples {
            x: self.x[..n].to_vec(),
            y: self.y[..n].to_vec(),
        }
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
        self.y.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
}

/// Settings of [`Trainer::fit`].
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Learning rate over the epochs.
    pub schedule: LrSchedule,
    /// Stop after this many epochs without a better validation accuracy, and restore the
    /// best weights (`None`: train all epochs, keep the last weights).
    pub patience: Option<usize>,
    /// Seed of the shuffling; dropout and noise draw from the trainer's [`Context`].
    pub seed: u64,
    /// Show a progress bar on a terminal.
    pub progress: bool,
    /// The regularizers that act in the training loop.
    pub regularization: Regularization,
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
    /// Adversarial training with FGSM examples ([`adversarial_gradients`]).
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
    /// Mean training loss over the epoch's batches (dropout and noise on).
    pub train_loss: f32,
    /// Training accuracy over the epoch's batches.
    pub train_accuracy: f32,
    /// Validation loss (inference mode).
    pub val_loss: f32,
    /// Validation accuracy (inference mode).
    pub val_accuracy: f32,
    /// Seconds spent training (not validating) this epoch.
    pub train_seconds: f64,
    /// Training throughput.
    pub samples_per_second: f64,
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
    /// There is nothing to train on or validate with.
    Empty {
        /// Which set.
        what: &'static str,
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

/// Evaluates `net` on `data` one sample at a time (inference mode).
pub fn evaluate<L, const D: usize, const C: usize>(net: &L, data: &Samples<D>) -> Evaluation
where
    L: Layer<Input = [f32; D], Output = [f32; C]>,
{
    let mut scratch = crate::boxed::zero::<Scratch<L>>();
    let mut out = [[0.0; C]; 1];
    let mut d = [[0.0; C]; 1];
    let mut total = 0.0f64;
    let mut correct = 0usize;
    let mut predictions = Vec::with_capacity(data.len());
    for (x, &y) in data.x.iter().zip(&data.y) {
        net.forward(x, &mut out[0], &mut scratch);
        let loss = softmax_cross_entropy(&out, &[y], &mut d).unwrap_or(f32::INFINITY);
        total += f64::from(loss);
        let p = argmax(&out[0]);
        correct += usize::from(p == usize::from(y));
        predictions.push(p as u16);
    }
    let n = data.len().max(1) as f64;
    Evaluation {
        loss: (total / n) as f32,
        accuracy: (correct as f64 / n) as f32,
        predictions,
    }
}

/// Trains a classifier `L` with optimizer `O` at batch `B`.
///
/// The network, the optimizer and the training buffers live on the heap (they can be
/// megabytes); the loop allocates nothing per batch.
pub struct Trainer<L: Layer, O, const B: usize> {
    /// The network being trained.
    pub net: Box<L>,
    /// The optimizer and its state.
    pub optimizer: Box<O>,
    /// Caches and gradients for one batch.
    pub buffers: Box<TrainBuffers<L, B>>,
    /// Randomness of dropout and noise.
    pub ctx: Context,
    /// Epochs completed.
    pub epoch: usize,
    /// Optimizer steps completed.
    pub step: u64,
    /// The early-stopping state: the best epoch so far and its weights (with patience).
    pub best: Option<Best<L>>,
}

/// The best epoch of a run with early stopping: its validation accuracy, its weights, and
/// how many epochs have passed since without improvement. A checkpoint holds it, so a
/// resumed run stops where the uninterrupted one would, with the same weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Best<L> {
    /// The weights at the end of that epoch.
    pub net: Box<L>,
    /// Its validation accuracy.
    pub accuracy: f32,
    /// The epoch, from 1.
    pub epoch: usize,
    /// Epochs trained since, none better.
    pub since: usize,
}

impl<L, O, const D: usize, const C: usize, const B: usize> Trainer<L, O, B>
where
    L: Layer<Input = [f32; D], Output = [f32; C]> + Clone,
    O: Optimizer<L::Grad>,
{
    /// A trainer for `net` with `optimizer`; `seed` seeds dropout and noise.
    pub fn new(net: Box<L>, optimizer: Box<O>, seed: u64) -> Self {
        Trainer {
            net,
            optimizer,
            buffers: crate::boxed::zero(),
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
            best_value: f64::from(b.accuracy),
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
        let mut best = self.net.clone();
        let resumed =
            load_training_file(path, &mut *self.net, &mut *self.optimizer, Some(&mut *best))?;
        let run = resumed.run;
        self.ctx.rng = run.rng;
        self.epoch = run.epoch as usize;
        self.step = run.step;
        self.best = resumed.stop.map(|(value, epoch, since)| Best {
            net: best,
            accuracy: value as f32,
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
    /// # Errors
    /// [`TrainError::Step`] naming the epoch and step where a loss or gradient was not
    /// finite (the network holds the weights from before that step);
    /// [`TrainError::Empty`] if either set has fewer samples than needed.
    pub fn fit(
        &mut self,
        train: &Samples<D>,
        val: &Samples<D>,
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
    pub fn fit_until(
        &mut self,
        train: &Samples<D>,
        val: &Samples<D>,
        config: &TrainConfig,
        until: usize,
        mut on_epoch: impl FnMut(&EpochRecord),
    ) -> Result<FitSummary, TrainError> {
        let until = until.min(config.epochs);
        if train.len() < B {
            return Err(TrainError::Empty { what: "training" });
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
        if let Some(a) = reg.adversarial
            && !(a.weight > 0.0 && a.weight <= 1.0)
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
        let mut x = crate::boxed::zero::<[[f32; D]; B]>();
        let mut adv = crate::boxed::zero::<[[f32; D]; B]>();
        let mut clean = Vec::new();
        let mut y = [0u16; B];
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
            let (mut loss_sum, mut correct) = (0.0f64, 0usize);
            let mut lr = config.schedule.base;
            for step in 0..steps {
                lr = config.schedule.rate(epoch, step, steps, config.epochs);
                self.optimizer.set_learning_rate(lr);
                for (k, &i) in order[step * B..(step + 1) * B].iter().enumerate() {
                    match &reg.augment {
                        Some(a) => a.apply(&train.x[i], &mut x[k], &mut self.ctx.rng),
                        None => x[k] = train.x[i],
                    }
                    y[k] = train.y[i];
                }
                let stats = self
                    .train_step(&x, &y, &reg, &mut adv, &mut clean)
                    .map_err(|error| TrainError::Step {
                        epoch: epoch + 1,
                        step: step + 1,
                        error,
                    })?;
                self.step += 1;
                loss_sum += f64::from(stats.loss);
                correct += stats.correct;
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
            let eval = evaluate(&*self.net, val);
            self.epoch += 1;
            let record = EpochRecord {
                epoch: self.epoch,
                lr,
                train_loss: (loss_sum / steps as f64) as f32,
                train_accuracy: correct as f32 / (steps * B) as f32,
                val_loss: eval.loss,
                val_accuracy: eval.accuracy,
                train_seconds: seconds,
                samples_per_second: (steps * B) as f64 / seconds,
            };
            on_epoch(&record);
            history.push(record);
            if config.patience.is_some() {
                match &mut self.best {
                    Some(b) if eval.accuracy <= b.accuracy => b.since += 1,
                    _ => {
                        self.best = Some(Best {
                            net: self.net.clone(),
                            accuracy: eval.accuracy,
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
            train_seconds: total_seconds,
        })
    }

    /// One optimizer step on a prepared batch, with the loop's regularizers.
    fn train_step(
        &mut self,
        x: &[[f32; D]; B],
        y: &[u16; B],
        reg: &Regularization,
        adv: &mut [[f32; D]; B],
        clean: &mut Vec<f32>,
    ) -> Result<StepStats, Error> {
        let noisy = reg.weight_noise > 0.0;
        if noisy {
            clean.clear();
            for i in weight_tensors::<L>() {
                clean.extend_from_slice(self.net.tensor(i));
            }
            perturb_weights(&mut *self.net, reg.weight_noise, &mut self.ctx.rng);
        }
        let (net, buf, ctx) = (&mut *self.net, &mut *self.buffers, &mut self.ctx);
        let result = match &reg.adversarial {
            Some(a) => adversarial_gradients(net, buf, ctx, x, y, &a.attack, a.weight, adv),
            None => classification_gradients(net, buf, ctx, x, y),
        };
        if noisy {
            let mut at = 0;
            for i in weight_tensors::<L>() {
                let t = self.net.tensor_mut(i);
                t.copy_from_slice(&clean[at..at + t.len()]);
                at += t.len();
            }
        }
        let stats = result?;
        self.optimizer
            .step(&mut *self.net, &mut self.buffers.grad)?;
        if let Some(c) = reg.max_norm {
            max_norm(&mut *self.net, c);
        }
        Ok(stats)
    }
}

/// The weight matrices of `L` that are trained, the tensors weight noise perturbs.
fn weight_tensors<L: Params>() -> impl Iterator<Item = usize> {
    (0..L::TENSORS).filter(|&i| L::info(i).kind == ParamKind::Weight && !L::frozen(i))
}

fn progress_bar(
    on: bool,
    steps: usize,
    epoch: usize,
    epochs: usize,
) -> Option<indicatif::ProgressBar> {
    if !on {
        return None;
    }
    let bar = indicatif::ProgressBar::new(steps as u64);
    let style =
        indicatif::ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(format!("{epoch}/{epochs}"));
    Some(bar)
}
