//! Training state: the optimizers whose state a file holds, and the run's counters.

use super::error::{ErrorCode, FormatError};
use super::file::File;
use super::layout::{OptimizerKind, Value};
use crate::layers::Params;
use crate::optim::{Adam, AdamConfig, Clip, Sgd, SgdConfig};
use crate::rng::Rng;

/// Where a training run stands, besides the network and the optimizer: what a trainer needs
/// to resume bit for bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunState {
    /// The random stream of the training [`Context`](crate::layers::Context) (dropout,
    /// noise). Further generators, such as one that shuffles the data, go in the free-form
    /// scalars as [`Value::Rng`].
    pub rng: Rng,
    /// Completed epochs.
    pub epoch: u64,
    /// Completed optimizer steps.
    pub step: u64,
}

impl RunState {
    /// The names under which a file stores the fields.
    pub const SCALARS: [&'static str; 3] = ["run.rng", "run.epoch", "run.step"];

    /// Calls `f` with each field as a named scalar.
    pub(crate) fn for_each_scalar(&self, f: &mut dyn FnMut(&'static str, Value)) {
        f("run.rng", Value::Rng(self.rng));
        f("run.epoch", Value::U64(self.epoch));
        f("run.step", Value::U64(self.step));
    }

    /// The run state stored in `file`.
    ///
    /// # Errors
    /// [`MissingScalar`](ErrorCode::MissingScalar) or [`ScalarType`](ErrorCode::ScalarType).
    pub fn read(file: &File<'_>) -> Result<Self, FormatError> {
        Ok(RunState {
            rng: file.scalar_rng("run.rng")?,
            epoch: file.scalar_u64("run.epoch")?,
            step: file.scalar_u64("run.step")?,
        })
    }
}

/// An optimizer whose state a file can hold: its moments, numbered like the parameters,
/// and its scalars (step counter, settings). Implemented for [`Adam`] and [`Sgd`].
///
/// Restoring is in two steps so that a load can check everything before it changes
/// anything: [`read_scalars`](Self::read_scalars) checks and returns, then
/// [`restore`](Self::restore) applies.
pub trait OptimizerState<G: Params> {
    /// The optimizer, as the header names it.
    const KIND: OptimizerKind;

    /// Moment `k` (`k < KIND.moments()`): Adam's `m` (0) and `v` (1), SGD's velocity (0).
    ///
    /// # Panics
    /// If `k` is out of range.
    fn moment(&self, k: usize) -> &G;

    /// Moment `k`, mutably.
    ///
    /// # Panics
    /// If `k` is out of range.
    fn moment_mut(&mut self, k: usize) -> &mut G;

    /// Calls `f` with every scalar of the state, by name.
    fn for_each_scalar(&self, f: &mut dyn FnMut(&'static str, Value));

    /// The scalar state, as read back.
    type Saved: Copy;

    /// Reads and checks the scalar state stored in `file`.
    ///
    /// # Errors
    /// [`MissingScalar`](ErrorCode::MissingScalar), [`ScalarType`](ErrorCode::ScalarType)
    /// or [`InvalidScalar`](ErrorCode::InvalidScalar).
    fn read_scalars(file: &File<'_>) -> Result<Self::Saved, FormatError>;

    /// Applies what [`read_scalars`](Self::read_scalars) returned.
    fn restore(&mut self, saved: Self::Saved);
}

/// A setting that must be a finite `f32`.
fn setting(file: &File<'_>, name: &'static str) -> Result<f32, FormatError> {
    let v = file.scalar_f32(name)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(FormatError::new(ErrorCode::InvalidScalar).named(name))
    }
}

/// An optional setting: absent means `None`.
fn optional_setting(file: &File<'_>, name: &'static str) -> Result<Option<f32>, FormatError> {
    match file.scalar(name) {
        None => Ok(None),
        Some(_) => setting(file, name).map(Some),
    }
}

fn clip_scalars(clip: &Clip, names: [&'static str; 2], f: &mut dyn FnMut(&'static str, Value)) {
    if let Some(v) = clip.value {
        f(names[0], Value::F32(v));
    }
    if let Some(n) = clip.norm {
        f(names[1], Value::F32(n));
    }
}

fn read_clip(file: &File<'_>, names: [&'static str; 2]) -> Result<Clip, FormatError> {
    Ok(Clip {
        value: optional_setting(file, names[0])?,
        norm: optional_setting(file, names[1])?,
    })
}

/// Adam stores `m` and `v` as the two moments and, as scalars, the step `adam.t` and its
/// settings (`adam.lr`, `adam.beta1`, `adam.beta2`, `adam.eps`, `adam.l2`, `adam.l1`,
/// `adam.weight_decay`, and `adam.clip_value` / `adam.clip_norm` when clipping is on).
/// Restoring sets the settings too: a resumed run continues with the learning rate it had
/// reached; change [`Adam::config`] afterwards to continue differently.
impl<G: Params> OptimizerState<G> for Adam<G> {
    const KIND: OptimizerKind = OptimizerKind::Adam;

    fn moment(&self, k: usize) -> &G {
        match k {
            0 => &self.m,
            1 => &self.v,
            _ => panic!("Adam has two moments, not {}", k + 1),
        }
    }

    fn moment_mut(&mut self, k: usize) -> &mut G {
        match k {
            0 => &mut self.m,
            1 => &mut self.v,
            _ => panic!("Adam has two moments, not {}", k + 1),
        }
    }

    fn for_each_scalar(&self, f: &mut dyn FnMut(&'static str, Value)) {
        let c = &self.config;
        f("adam.t", Value::U32(self.t));
        f("adam.lr", Value::F32(c.lr));
        f("adam.beta1", Value::F32(c.beta1));
        f("adam.beta2", Value::F32(c.beta2));
        f("adam.eps", Value::F32(c.eps));
        f("adam.l2", Value::F32(c.l2));
        f("adam.l1", Value::F32(c.l1));
        f("adam.weight_decay", Value::F32(c.weight_decay));
        clip_scalars(&c.clip, ["adam.clip_value", "adam.clip_norm"], f);
    }

    type Saved = (AdamConfig, u32);

    fn read_scalars(file: &File<'_>) -> Result<Self::Saved, FormatError> {
        let config = AdamConfig {
            lr: setting(file, "adam.lr")?,
            beta1: setting(file, "adam.beta1")?,
            beta2: setting(file, "adam.beta2")?,
            eps: setting(file, "adam.eps")?,
            l2: setting(file, "adam.l2")?,
            l1: setting(file, "adam.l1")?,
            weight_decay: setting(file, "adam.weight_decay")?,
            clip: read_clip(file, ["adam.clip_value", "adam.clip_norm"])?,
        };
        Ok((config, file.scalar_u32("adam.t")?))
    }

    fn restore(&mut self, (config, t): Self::Saved) {
        self.config = config;
        self.t = t;
    }
}

/// SGD stores its velocity as the first moment and, as scalars, its settings (`sgd.lr`,
/// `sgd.momentum`, `sgd.nesterov` as a `u32` 0 or 1, `sgd.l2`, `sgd.l1`, and `sgd.clip_value` /
/// `sgd.clip_norm` when clipping is on). Restoring sets the settings too.
impl<G: Params> OptimizerState<G> for Sgd<G> {
    const KIND: OptimizerKind = OptimizerKind::Sgd;

    fn moment(&self, k: usize) -> &G {
        match k {
            0 => &self.velocity,
            _ => panic!("SGD has one moment, not {}", k + 1),
        }
    }

    fn moment_mut(&mut self, k: usize) -> &mut G {
        match k {
            0 => &mut self.velocity,
            _ => panic!("SGD has one moment, not {}", k + 1),
        }
    }

    fn for_each_scalar(&self, f: &mut dyn FnMut(&'static str, Value)) {
        let c = &self.config;
        f("sgd.lr", Value::F32(c.lr));
        f("sgd.momentum", Value::F32(c.momentum));
        f("sgd.nesterov", Value::U32(u32::from(c.nesterov)));
        f("sgd.l2", Value::F32(c.l2));
        f("sgd.l1", Value::F32(c.l1));
        clip_scalars(&c.clip, ["sgd.clip_value", "sgd.clip_norm"], f);
    }

    type Saved = SgdConfig;

    fn read_scalars(file: &File<'_>) -> Result<Self::Saved, FormatError> {
        let nesterov = match file.scalar_u32("sgd.nesterov")? {
            0 => false,
            1 => true,
            _ => {
                return Err(FormatError::new(ErrorCode::InvalidScalar).named("sgd.nesterov"));
            }
        };
        Ok(SgdConfig {
            lr: setting(file, "sgd.lr")?,
            momentum: setting(file, "sgd.momentum")?,
            nesterov,
            l2: setting(file, "sgd.l2")?,
            l1: setting(file, "sgd.l1")?,
            clip: read_clip(file, ["sgd.clip_value", "sgd.clip_norm"])?,
        })
    }

    fn restore(&mut self, config: Self::Saved) {
        self.config = config;
    }
}

impl File<'_> {
    fn scalar_typed(
        &self,
        name: &'static str,
        expected: &'static str,
    ) -> Result<Value, FormatError> {
        let v = self
            .scalar(name)
            .ok_or(FormatError::new(ErrorCode::MissingScalar).named(name))?;
        if v.type_name() == expected {
            Ok(v)
        } else {
            Err(FormatError::new(ErrorCode::ScalarType).named(name))
        }
    }

    /// Scalar `name`, which must be a `u32`.
    ///
    /// # Errors
    /// [`MissingScalar`](ErrorCode::MissingScalar) or [`ScalarType`](ErrorCode::ScalarType).
    pub fn scalar_u32(&self, name: &'static str) -> Result<u32, FormatError> {
        match self.scalar_typed(name, "u32")? {
            Value::U32(v) => Ok(v),
            _ => Err(FormatError::new(ErrorCode::ScalarType).named(name)),
        }
    }

    /// Scalar `name`, which must be a `u64`.
    ///
    /// # Errors
    /// [`MissingScalar`](ErrorCode::MissingScalar) or [`ScalarType`](ErrorCode::ScalarType).
    pub fn scalar_u64(&self, name: &'static str) -> Result<u64, FormatError> {
        match self.scalar_typed(name, "u64")? {
            Value::U64(v) => Ok(v),
            _ => Err(FormatError::new(ErrorCode::ScalarType).named(name)),
        }
    }

    /// Scalar `name`, which must be an `f32` (never NaN; possibly infinite).
    ///
    /// # Errors
    /// [`MissingScalar`](ErrorCode::MissingScalar) or [`ScalarType`](ErrorCode::ScalarType).
    pub fn scalar_f32(&self, name: &'static str) -> Result<f32, FormatError> {
        match self.scalar_typed(name, "f32")? {
            Value::F32(v) => Ok(v),
            _ => Err(FormatError::new(ErrorCode::ScalarType).named(name)),
        }
    }

    /// Scalar `name`, which must be an `f64` (never NaN; possibly infinite).
    ///
    /// # Errors
    /// [`MissingScalar`](ErrorCode::MissingScalar) or [`ScalarType`](ErrorCode::ScalarType).
    pub fn scalar_f64(&self, name: &'static str) -> Result<f64, FormatError> {
        match self.scalar_typed(name, "f64")? {
            Value::F64(v) => Ok(v),
            _ => Err(FormatError::new(ErrorCode::ScalarType).named(name)),
        }
    }

    /// Scalar `name`, which must be a random generator's state.
    ///
    /// # Errors
    /// [`MissingScalar`](ErrorCode::MissingScalar) or [`ScalarType`](ErrorCode::ScalarType).
    pub fn scalar_rng(&self, name: &'static str) -> Result<Rng, FormatError> {
        match self.scalar_typed(name, "rng")? {
            Value::Rng(v) => Ok(v),
            _ => Err(FormatError::new(ErrorCode::ScalarType).named(name)),
        }
    }
}
