//! The writer: into a caller's buffer (`no_std`, for a device that saves what it learned)
//! or into a `Vec` (feature `std`).

use super::crc::Crc32;
use super::error::{Dims, FormatError, Name};
use super::file::check_values;
use super::layout::{
    CHECKSUM_LEN, Dtype, HEADER_LEN, LAYER_FIXED, MAGIC, SCALAR_FIXED, Section, TENSOR_FIXED,
    VERSION, Value, kind_code, padded, valid_name,
};
use super::state::{OptimizerState, RunState};
use crate::layers::{Layer, ParamInfo, Params};
use crate::optim::Adam;

/// What a training file adds to the parameters.
struct Training<'x, O> {
    opt: &'x O,
    run: &'x RunState,
    extra: &'x [(&'x str, Value)],
}

/// Bytes of a record's name with its padding.
pub(super) fn name_len(name: &str) -> usize {
    padded(name.len()).unwrap_or(usize::MAX)
}

fn tensor_len(info: &ParamInfo) -> usize {
    let data = info
        .rows
        .saturating_mul(info.cols)
        .saturating_mul(Dtype::F32.size());
    TENSOR_FIXED
        .saturating_add(name_len(info.name))
        .saturating_add(padded(data).unwrap_or(usize::MAX))
}

fn scalar_len(name: &str, value: &Value) -> usize {
    let (_, n) = value.to_bytes();
    SCALAR_FIXED
        .saturating_add(name_len(name))
        .saturating_add(n)
}

/// A function that calls its argument with each scalar of a file.
type ScalarSource<'x> = &'x mut dyn FnMut(&mut dyn FnMut(&str, Value));

/// A function called with each tensor of a file: `(section, info, data)`.
type TensorSink<'x> = &'x mut dyn FnMut(Section, &ParamInfo, &[f32]) -> Result<(), FormatError>;

/// Bytes of a file with the given optimizer moments, scalars given by `scalars`.
fn encoded_len<L: Layer>(moments: usize, scalars: ScalarSource<'_>) -> usize {
    let mut n = HEADER_LEN + CHECKSUM_LEN;
    for i in 0..L::LAYERS {
        n = n.saturating_add(LAYER_FIXED + name_len(L::layer_info(i).kind));
    }
    scalars(&mut |name, v| n = n.saturating_add(scalar_len(name, &v)));
    for i in 0..L::TENSORS {
        n = n.saturating_add(tensor_len(&L::info(i)).saturating_mul(1 + moments));
    }
    for i in 0..L::BUFFERS {
        n = n.saturating_add(tensor_len(&L::buffer_info(i)));
    }
    n
}

/// The exact size of [`write_params`]'s output for networks of type `L` (saturated at
/// `usize::MAX`), so a device can size its buffer.
pub fn params_len<L: Layer>() -> usize {
    encoded_len::<L>(0, &mut |_| {})
}

/// The exact size of [`write_training`]'s output for these arguments (saturated at
/// `usize::MAX`).
pub fn training_len<L: Layer, O: OptimizerState<L::Grad>>(
    opt: &O,
    extra: &[(&str, Value)],
) -> usize {
    let run = RunState {
        rng: crate::rng::Rng::new(0),
        epoch: 0,
        step: 0,
    };
    encoded_len::<L>(O::KIND.moments(), &mut |f| {
        run.for_each_scalar(&mut |n, v| f(n, v));
        opt.for_each_scalar(&mut |n, v| f(n, v));
        for &(n, v) in extra {
            f(n, v);
        }
    })
}

/// Writes the parameters and buffers of `net` into `out`; returns the number of bytes
/// written ([`params_len::<L>()`](params_len)).
///
/// Needs no heap: a device that fine-tuned its network can save it into a static buffer
/// and then to flash.
///
/// # Errors
/// [`FormatError::BufferTooSmall`] if `out` is shorter than the file;
/// [`FormatError::NonFinite`] or [`FormatError::Negative`] if a value could not be read
/// back (the file would be refused); [`FormatError::InvalidName`] or
/// [`FormatError::TooLarge`] for a network the format cannot describe. On error, the
/// contents of `out` are unspecified.
pub fn write_params<L: Layer>(net: &L, out: &mut [u8]) -> Result<usize, FormatError> {
    emit::<L, Adam<L::Grad>>(net, None, out)
}

/// Writes the parameters and buffers of `net`, the state of `opt`, the run's counters `run`
/// and the free-form scalars `extra` (e.g. `("best_accuracy", Value::F32(0.91))`) into
/// `out`; returns the number of bytes written ([`training_len`]).
///
/// # Errors
/// As [`write_params`], and [`FormatError::DuplicateScalar`] if an extra scalar reuses a
/// name (the run's and the optimizer's names included), [`FormatError::InvalidScalar`] for
/// a NaN scalar.
pub fn write_training<L: Layer, O: OptimizerState<L::Grad>>(
    net: &L,
    opt: &O,
    run: &RunState,
    extra: &[(&str, Value)],
    out: &mut [u8],
) -> Result<usize, FormatError> {
    emit(net, Some(Training { opt, run, extra }), out)
}

/// Saves the parameters and buffers of `net` into a new buffer (see [`write_params`]).
///
/// # Errors
/// As [`write_params`], without [`BufferTooSmall`](FormatError::BufferTooSmall).
#[cfg(feature = "std")]
pub fn save_params<L: Layer>(net: &L) -> Result<std::vec::Vec<u8>, FormatError> {
    let mut out = std::vec![0u8; params_len::<L>()];
    let n = write_params(net, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// Saves `net`, the state of `opt`, `run` and the scalars `extra` into a new buffer (see
/// [`write_training`]).
///
/// # Errors
/// As [`write_training`], without [`BufferTooSmall`](FormatError::BufferTooSmall).
#[cfg(feature = "std")]
pub fn save_training<L: Layer, O: OptimizerState<L::Grad>>(
    net: &L,
    opt: &O,
    run: &RunState,
    extra: &[(&str, Value)],
) -> Result<std::vec::Vec<u8>, FormatError> {
    let mut out = std::vec![0u8; training_len::<L, O>(opt, extra)];
    let n = write_training(net, opt, run, extra, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// A cursor over the output that keeps the running checksum.
pub(super) struct Out<'b> {
    pub(super) buf: &'b mut [u8],
    pub(super) pos: usize,
    pub(super) crc: Crc32,
}

impl Out<'_> {
    pub(super) fn put(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        let end = self.pos.saturating_add(bytes.len());
        let available = self.buf.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(FormatError::BufferTooSmall {
                needed: end,
                available,
            })?;
        dst.copy_from_slice(bytes);
        self.crc.update(bytes);
        self.pos = end;
        Ok(())
    }
    pub(super) fn u32(&mut self, v: usize) -> Result<(), FormatError> {
        let v = u32::try_from(v).map_err(|_| FormatError::TooLarge { size: v })?;
        self.put(&v.to_le_bytes())
    }
    pub(super) fn zeros(&mut self, n: usize) -> Result<(), FormatError> {
        const Z: [u8; 8] = [0; 8];
        let mut left = n;
        while left > 0 {
            let k = left.min(Z.len());
            self.put(&Z[..k])?;
            left -= k;
        }
        Ok(())
    }
    /// Zeros up to the next multiple of 4 counted from `start`.
    pub(super) fn pad(&mut self, start: usize) -> Result<(), FormatError> {
        let used = self.pos - start;
        self.zeros(padded(used).unwrap_or(used) - used)
    }
    pub(super) fn name(&mut self, name: &str) -> Result<(), FormatError> {
        let start = self.pos;
        self.put(name.as_bytes())?;
        self.pad(start)
    }
}

pub(super) fn checked_name(name: &str) -> Result<u8, FormatError> {
    if valid_name(name.as_bytes()) {
        Ok(name.len() as u8)
    } else {
        Err(FormatError::InvalidName {
            name: Name::new(name),
        })
    }
}

/// One tensor record.
fn tensor(
    out: &mut Out<'_>,
    section: Section,
    info: &ParamInfo,
    data: &[f32],
) -> Result<(), FormatError> {
    let start = out.pos;
    let n = checked_name(info.name)?;
    out.put(&[section.code(), kind_code(info.kind), Dtype::F32.code(), n])?;
    out.u32(info.layer)?;
    out.u32(info.rows)?;
    out.u32(info.cols)?;
    out.u32(0)?; // no type-specific parameters for f32
    debug_assert_eq!(out.pos - start, TENSOR_FIXED);
    out.name(info.name)?;
    let start = out.pos;
    let mut chunk = [0u8; 256];
    for values in data.chunks(chunk.len() / 4) {
        for (c, v) in chunk.chunks_exact_mut(4).zip(values) {
            c.copy_from_slice(&v.to_le_bytes());
        }
        out.put(chunk.get(..4 * values.len()).unwrap_or_default())?;
    }
    out.pad(start)
}

fn scalar(out: &mut Out<'_>, name: &str, value: Value) -> Result<(), FormatError> {
    let n = checked_name(name)?;
    if !value.is_valid() {
        return Err(FormatError::InvalidScalar {
            name: Name::new(name),
            reason: "the value is NaN",
        });
    }
    out.put(&[value.code(), n, 0, 0])?;
    out.name(name)?;
    let (bytes, len) = value.to_bytes();
    out.put(bytes.get(..len).unwrap_or_default())
}

/// Every tensor the file will hold, in file order: `(section, info, data)`.
fn for_each_tensor<L: Layer, O: OptimizerState<L::Grad>>(
    net: &L,
    opt: Option<&O>,
    f: TensorSink<'_>,
) -> Result<(), FormatError> {
    for i in 0..L::TENSORS {
        f(Section::Params, &L::info(i), net.tensor(i))?;
    }
    for i in 0..L::BUFFERS {
        f(Section::Buffers, &L::buffer_info(i), net.buffer(i))?;
    }
    if let Some(opt) = opt {
        for k in 0..O::KIND.moments() {
            for i in 0..L::TENSORS {
                // The network's info, not the gradient type's: only the network numbers
                // the layers of a chain.
                f(Section::moment(k), &L::info(i), opt.moment(k).tensor(i))?;
            }
        }
    }
    Ok(())
}

fn emit<L: Layer, O: OptimizerState<L::Grad>>(
    net: &L,
    training: Option<Training<'_, O>>,
    out: &mut [u8],
) -> Result<usize, FormatError> {
    let opt = training.as_ref().map(|t| t.opt);
    let total = match &training {
        Some(t) => training_len::<L, O>(t.opt, t.extra),
        None => params_len::<L>(),
    };

    // Check everything before writing: values a reader would refuse, shapes that do not
    // match the data, scalar names used twice.
    for_each_tensor(net, opt, &mut |section, info, data| {
        if data.len() != info.rows.saturating_mul(info.cols) {
            return Err(FormatError::Shape {
                section,
                layer: info.layer,
                kind: L::layer_info(info.layer).kind,
                tensor: Name::new(info.name),
                expected: Dims::matrix(info.rows, info.cols),
                found: Dims::new(&[data.len()]),
            });
        }
        check_values(
            section,
            info.layer,
            info.name,
            info.kind,
            data.iter().copied(),
        )
    })?;
    let mut scalars = 0;
    if let Some(t) = &training {
        let mut clash = None;
        let mut seen = |name: &'static str, _| {
            scalars += 1;
            if clash.is_none() && t.extra.iter().any(|(n, _)| *n == name) {
                clash = Some(name);
            }
        };
        t.run.for_each_scalar(&mut seen);
        t.opt.for_each_scalar(&mut seen);
        if let Some(name) = clash {
            return Err(FormatError::DuplicateScalar {
                name: Name::new(name),
            });
        }
        for (i, (name, _)) in t.extra.iter().enumerate() {
            if t.extra[..i].iter().any(|(n, _)| n == name) {
                return Err(FormatError::DuplicateScalar {
                    name: Name::new(name),
                });
            }
        }
        scalars += t.extra.len();
    }
    if total > u32::MAX as usize {
        return Err(FormatError::TooLarge { size: total });
    }
    if out.len() < total {
        return Err(FormatError::BufferTooSmall {
            needed: total,
            available: out.len(),
        });
    }

    let mut tensors = 0;
    for_each_tensor(net, opt, &mut |_, _, _| {
        tensors += 1;
        Ok(())
    })?;
    let mut o = Out {
        buf: out,
        pos: 0,
        crc: Crc32::new(),
    };
    o.put(&MAGIC)?;
    o.put(&VERSION.to_le_bytes())?;
    o.put(&0u16.to_le_bytes())?; // flags
    o.u32(total)?;
    o.u32(L::LAYERS)?;
    o.u32(scalars)?;
    o.u32(tensors)?;
    o.put(&[opt.map_or(0, |_| O::KIND.code())])?;
    o.zeros(HEADER_LEN - o.pos)?;

    for i in 0..L::LAYERS {
        let info = L::layer_info(i);
        let n = checked_name(info.kind)?;
        o.u32(info.inputs)?;
        o.u32(info.outputs)?;
        o.put(&[n, 0, 0, 0])?;
        o.name(info.kind)?;
    }

    if let Some(t) = &training {
        let mut result = Ok(());
        let mut put = |name: &str, v: Value| {
            if result.is_ok() {
                result = scalar(&mut o, name, v);
            }
        };
        t.run.for_each_scalar(&mut |n, v| put(n, v));
        t.opt.for_each_scalar(&mut |n, v| put(n, v));
        for &(n, v) in t.extra {
            put(n, v);
        }
        result?;
    }

    for_each_tensor(net, opt, &mut |section, info, data| {
        tensor(&mut o, section, info, data)
    })?;

    let crc = o.crc.finish();
    o.put(&crc.to_le_bytes())?;
    if o.pos != total {
        // The size computation and the writer disagree: a bug, never a bad file.
        debug_assert_eq!(o.pos, total, "encoded length");
        return Err(FormatError::Malformed {
            offset: o.pos,
            what: "the writer's length does not match its size computation",
        });
    }
    Ok(total)
}
