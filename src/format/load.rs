//! The loaders: match a [`File`] against a network type, check everything, then copy.

use super::error::{Dims, FormatError, Name};
use super::file::{File, TensorRecord};
use super::layout::{Dtype, Section};
use super::state::{OptimizerState, RunState};
use crate::layers::{Layer, ParamInfo, Params};

/// Loads the parameters and buffers (batch normalization's running statistics) stored in
/// `bytes` into `net`. A training file loads too; its optimizer state is ignored.
///
/// Everything is checked before anything is written, so on error `net` is unchanged.
/// Needs no heap and copies each value once.
///
/// # Errors
/// Any error of [`File::parse`], then, in this order, the first mismatch between the file
/// and the network type: [`LayerCount`](FormatError::LayerCount),
/// [`LayerKind`](FormatError::LayerKind), for each tensor
/// [`MissingTensor`](FormatError::MissingTensor), [`TensorKind`](FormatError::TensorKind),
/// [`Dtype`](FormatError::Dtype) or [`Shape`](FormatError::Shape), then
/// [`UnexpectedTensor`](FormatError::UnexpectedTensor) or
/// [`TensorCount`](FormatError::TensorCount), and
/// [`LayerSize`](FormatError::LayerSize). Never panics.
pub fn load_params<L: Layer>(bytes: &[u8], net: &mut L) -> Result<(), FormatError> {
    File::parse(bytes)?.load_params(net)
}

/// Loads a training file into `net` and `opt` and returns the run's counters and random
/// state: a run resumed from them continues bit for bit as if it had not stopped.
///
/// Everything is checked before anything is written, so on error `net` and `opt` are
/// unchanged.
///
/// # Errors
/// As [`load_params`], then [`Optimizer`](FormatError::Optimizer) if the file holds
/// another optimizer's state (or none), the same tensor errors for the moments, and
/// [`MissingScalar`](FormatError::MissingScalar),
/// [`ScalarType`](FormatError::ScalarType) or [`InvalidScalar`](FormatError::InvalidScalar)
/// for the counters and settings. Never panics.
pub fn load_training<L: Layer, O: OptimizerState<L::Grad>>(
    bytes: &[u8],
    net: &mut L,
    opt: &mut O,
) -> Result<RunState, FormatError> {
    File::parse(bytes)?.load_training(net, opt)
}

impl<'a> File<'a> {
    /// Checks that the file holds a network of type `L`: its layer table, and every
    /// parameter and buffer tensor by layer, name, kind, type and shape. Optimizer state is
    /// not looked at.
    ///
    /// # Errors
    /// As [`load_params`] after parsing.
    pub fn check_network<L: Layer>(&self) -> Result<(), FormatError> {
        let found = self.layers().count();
        if found != L::LAYERS {
            return Err(FormatError::LayerCount {
                expected: L::LAYERS,
                found,
            });
        }
        for rec in self.layers() {
            let info = L::layer_info(rec.index);
            if rec.kind != info.kind {
                return Err(FormatError::LayerKind {
                    layer: rec.index,
                    expected: info.kind,
                    found: Name::new(rec.kind),
                });
            }
        }
        // Tensor shapes before layer sizes: "weight has shape 128×256, expected 128×784"
        // says more than "256 inputs, expected 784".
        self.check_section::<L>(Section::Params, L::TENSORS, L::info)?;
        self.check_section::<L>(Section::Buffers, L::BUFFERS, L::buffer_info)?;
        for rec in self.layers() {
            let info = L::layer_info(rec.index);
            if (rec.inputs, rec.outputs) != (info.inputs, info.outputs) {
                return Err(FormatError::LayerSize {
                    layer: rec.index,
                    kind: info.kind,
                    expected: (info.inputs, info.outputs),
                    found: (rec.inputs, rec.outputs),
                });
            }
        }
        Ok(())
    }

    /// Checks with [`check_network`](Self::check_network), then copies the parameters and
    /// buffers into `net`. On error `net` is unchanged.
    ///
    /// # Errors
    /// As [`load_params`] after parsing.
    pub fn load_params<L: Layer>(&self, net: &mut L) -> Result<(), FormatError> {
        self.check_network::<L>()?;
        self.copy_params(net)
    }

    /// Checks the network, the optimizer's moments and scalars, and the run's counters,
    /// then loads them all. On error `net` and `opt` are unchanged.
    ///
    /// # Errors
    /// As [`load_training`] after parsing.
    pub fn load_training<L: Layer, O: OptimizerState<L::Grad>>(
        &self,
        net: &mut L,
        opt: &mut O,
    ) -> Result<RunState, FormatError> {
        self.check_network::<L>()?;
        if self.optimizer() != Some(O::KIND) {
            return Err(FormatError::Optimizer {
                expected: O::KIND,
                found: self.optimizer(),
            });
        }
        for k in 0..O::KIND.moments() {
            self.check_section::<L>(Section::moment(k), L::TENSORS, L::info)?;
        }
        let run = RunState::read(self)?;
        let saved = O::read_scalars(self)?;

        // Nothing can fail from here on.
        self.copy_params(net)?;
        for k in 0..O::KIND.moments() {
            let m = opt.moment_mut(k);
            for i in 0..L::TENSORS {
                self.copy(Section::moment(k), &L::info(i), m.tensor_mut(i))?;
            }
        }
        opt.restore(saved);
        Ok(run)
    }

    fn copy_params<L: Layer>(&self, net: &mut L) -> Result<(), FormatError> {
        for i in 0..L::TENSORS {
            self.copy(Section::Params, &L::info(i), net.tensor_mut(i))?;
        }
        for i in 0..L::BUFFERS {
            self.copy(Section::Buffers, &L::buffer_info(i), net.buffer_mut(i))?;
        }
        Ok(())
    }

    fn copy(&self, section: Section, info: &ParamInfo, out: &mut [f32]) -> Result<(), FormatError> {
        match self.tensor(section, info.layer, info.name) {
            Some(t) => t.copy_to(out),
            None => Err(missing(section, info)),
        }
    }

    /// The tensor of `section` that `info` describes, checked against it.
    fn matching<L: Layer>(
        &self,
        section: Section,
        info: &ParamInfo,
    ) -> Result<TensorRecord<'a>, FormatError> {
        let t = self
            .tensor(section, info.layer, info.name)
            .ok_or_else(|| missing(section, info))?;
        let tensor = Name::new(info.name);
        if t.kind != info.kind {
            return Err(FormatError::TensorKind {
                section,
                layer: info.layer,
                tensor,
                expected: info.kind,
                found: t.kind,
            });
        }
        if t.dtype != Dtype::F32 {
            return Err(FormatError::Dtype {
                section,
                layer: info.layer,
                tensor,
                expected: Dtype::F32,
                found: t.dtype,
            });
        }
        if (t.rows, t.cols) != (info.rows, info.cols) {
            return Err(FormatError::Shape {
                section,
                layer: info.layer,
                kind: L::layer_info(info.layer).kind,
                tensor,
                expected: Dims::matrix(info.rows, info.cols),
                found: Dims::matrix(t.rows, t.cols),
            });
        }
        Ok(t)
    }

    /// Every one of the `n` tensors `info(i)` is in `section` and matches, and the section
    /// holds nothing else.
    fn check_section<L: Layer>(
        &self,
        section: Section,
        n: usize,
        info: fn(usize) -> ParamInfo,
    ) -> Result<(), FormatError> {
        for i in 0..n {
            self.matching::<L>(section, &info(i))?;
        }
        let found = self.count(section);
        if found == n {
            return Ok(());
        }
        let known = |t: &TensorRecord<'_>| {
            (0..n).any(|i| {
                let info = info(i);
                info.layer == t.layer && info.name == t.name
            })
        };
        match self.tensors().find(|t| t.section == section && !known(t)) {
            Some(t) => Err(FormatError::UnexpectedTensor {
                section,
                layer: t.layer,
                tensor: Name::new(t.name),
            }),
            None => Err(FormatError::TensorCount {
                section,
                expected: n,
                found,
            }),
        }
    }
}

fn missing(section: Section, info: &ParamInfo) -> FormatError {
    FormatError::MissingTensor {
        section,
        layer: info.layer,
        tensor: Name::new(info.name),
    }
}
