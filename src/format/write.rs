//! The one writer: float networks, training checkpoints and int8 networks, into a caller's
//! buffer (`no_std`, for a device that saves what it learned) or into a `Vec` (feature
//! `std`). It runs twice over the same code: once counting (the length), once writing.

use super::check::{breaking, check_network, section_rule};
use super::crc::crc32;
use super::error::{ErrorCode, FormatError};
use super::layout::{
    FileKind, HEADER_LEN, Head, MAGIC, MAX_SCALARS, OptimizerKind, Section, VERSION, Value, padded,
    valid_name,
};
use super::state::{OptimizerState, RunState};
use crate::layers::{Layer, Params};
use crate::net::Infer;
use crate::spec::{Describe, Dtype, LayerData, Layers, TensorRef};
use crate::tensor::{Scalar, Tensor};

/// The output: a buffer to write into, or none to count.
pub(crate) struct Out<'b> {
    buf: Option<&'b mut [u8]>,
    pub(crate) pos: usize,
}

impl Out<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), FormatError> {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(buf) = self.buf.as_deref_mut() {
            let available = buf.len();
            let dst = buf
                .get_mut(self.pos..end)
                .ok_or(FormatError::buffer(end, available))?;
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
        Ok(())
    }
    fn u8s(&mut self, b: [u8; 4]) -> Result<(), FormatError> {
        self.put(&b)
    }
    fn u32(&mut self, v: usize) -> Result<(), FormatError> {
        let v = u32::try_from(v).map_err(|_| FormatError::new(ErrorCode::TooLarge))?;
        self.put(&v.to_le_bytes())
    }
    fn zeros(&mut self, n: usize) -> Result<(), FormatError> {
        const Z: [u8; 8] = [0; 8];
        let mut left = n;
        while left > 0 {
            let k = left.min(Z.len());
            self.put(Z.get(..k).unwrap_or_default())?;
            left -= k;
        }
        Ok(())
    }
    /// Zeros up to the next multiple of 4 counted from `start`.
    fn pad(&mut self, start: usize) -> Result<(), FormatError> {
        let used = self.pos - start;
        self.zeros(padded(used).unwrap_or(used) - used)
    }
    fn name(&mut self, name: &str) -> Result<(), FormatError> {
        let start = self.pos;
        self.put(name.as_bytes())?;
        self.pad(start)
    }
    fn elems(&mut self, data: TensorRef<'_>) -> Result<(), FormatError> {
        let mut chunk = [0u8; 256];
        match data {
            TensorRef::I8(d) => {
                for values in d.chunks(chunk.len()) {
                    for (c, v) in chunk.iter_mut().zip(values) {
                        *c = *v as u8;
                    }
                    self.put(chunk.get(..values.len()).unwrap_or_default())?;
                }
            }
            TensorRef::I32(d) => self.words(d.iter().map(|&v| v as u32), &mut chunk)?,
            TensorRef::F32(d) => self.words(d.iter().map(|v| v.to_bits()), &mut chunk)?,
        }
        Ok(())
    }
    fn words(
        &mut self,
        words: impl ExactSizeIterator<Item = u32>,
        chunk: &mut [u8; 256],
    ) -> Result<(), FormatError> {
        let mut n = 0;
        for w in words {
            if let Some(c) = chunk.get_mut(n..n + 4) {
                c.copy_from_slice(&w.to_le_bytes());
            }
            n += 4;
            if n == chunk.len() {
                self.put(chunk)?;
                n = 0;
            }
        }
        self.put(chunk.get(..n).unwrap_or_default())
    }
}

/// A name's length byte, if the name can be stored.
fn name_byte(name: &str) -> Result<u8, FormatError> {
    if valid_name(name.as_bytes()) {
        Ok(name.len() as u8)
    } else {
        Err(FormatError::new(ErrorCode::InvalidName).values(0, name.len()))
    }
}

/// What a checkpoint adds to a float network.
pub(crate) struct Extra<'x> {
    /// The optimizer, and its moment `k` of learned tensor `p`.
    pub(crate) optimizer: OptimizerKind,
    pub(crate) moment: &'x dyn Fn(usize, usize) -> &'x [f32],
    /// The best weights (early stopping).
    pub(crate) best: Option<&'x dyn Layers>,
    /// Every scalar.
    pub(crate) scalars: &'x Scalars<'x>,
}

/// Hands every scalar of a checkpoint, by name, to the function it is given.
pub(crate) type Scalars<'x> = dyn Fn(&mut dyn FnMut(&str, Value)) + 'x;

/// Everything a file holds besides the network.
pub(crate) struct Plan<'x> {
    pub(crate) kind: FileKind,
    pub(crate) source: Option<u32>,
    pub(crate) extra: Option<Extra<'x>>,
}

/// The fixed part and the name of a record.
fn head(o: &mut Out<'_>, head: Head<'_>) -> Result<(), FormatError> {
    name_byte(head.name())?;
    for w in 0..head.words() {
        o.u32(head.word(w) as usize)?;
    }
    o.name(head.name())
}

/// One layer record.
fn layer(
    o: &mut Out<'_>,
    i: usize,
    layer: &dyn LayerData,
    extra: Option<&Extra<'_>>,
    learned: &mut usize,
) -> Result<(), FormatError> {
    let spec = layer.spec();
    let start = o.pos;
    let moments = extra.map_or(0, |e| e.optimizer.moments());
    let best = extra.and_then(|e| e.best).and_then(|b| b.layer_at(i));
    let tensors = spec.tensors.len() * (1 + usize::from(best.is_some())) + spec.learned() * moments;
    head(o, Head::Layer(spec, tensors))?; // the length is patched below
    for (a, s) in spec.attrs.iter().enumerate() {
        let v = layer
            .attr(a)
            .ok_or(FormatError::new(ErrorCode::Attr).at(i).named(s.name))?;
        head(o, Head::Attr(s, v.bits()))?;
    }
    let first_learned = *learned;
    for (t, s) in spec.tensors.iter().enumerate() {
        let data = layer
            .tensor(t)
            .ok_or(FormatError::new(ErrorCode::MissingTensor).at(i))?;
        tensor(o, Section::Network, s, data)?;
    }
    if let Some(e) = extra {
        for k in 0..moments {
            // The learned tensors are numbered across the network (`Params`).
            for (p, s) in (first_learned..).zip(spec.tensors.iter().filter(|s| s.learned)) {
                tensor(o, Section::moment(k), s, TensorRef::F32((e.moment)(k, p)))?;
            }
        }
    }
    if let Some(best) = best {
        for (t, s) in spec.tensors.iter().enumerate() {
            let data = best
                .tensor(t)
                .ok_or(FormatError::new(ErrorCode::MissingTensor).at(i))?;
            tensor(o, Section::Best, s, data)?;
        }
    }
    *learned = first_learned + spec.learned();
    let len = u32::try_from(o.pos - start).map_err(|_| FormatError::new(ErrorCode::TooLarge))?;
    if let Some(buf) = o.buf.as_deref_mut() {
        // The length field was written as 0 and is patched in place (the checksum is
        // computed over the final bytes at the end).
        let field = buf
            .get_mut(start..start + 4)
            .ok_or(FormatError::buffer(start + 4, 0))?;
        field.copy_from_slice(&len.to_le_bytes());
    }
    Ok(())
}

fn tensor(
    o: &mut Out<'_>,
    section: Section,
    s: &crate::spec::TensorSpec,
    data: TensorRef<'_>,
) -> Result<(), FormatError> {
    head(o, Head::Tensor(section, s))?;
    let start = o.pos;
    o.elems(data)?;
    o.pad(start)
}

fn scalar(o: &mut Out<'_>, name: &str, value: Value) -> Result<(), FormatError> {
    o.u32(value.code().into())?;
    o.u32(name_byte(name)?.into())?;
    o.name(name)?;
    let (bytes, len) = value.to_bytes();
    o.put(bytes.get(..len).unwrap_or_default())
}

/// Writes (or, with `buf = None`, measures) a file; returns its length.
fn encode<N: Describe>(
    net: &N,
    plan: &Plan<'_>,
    buf: Option<&mut [u8]>,
) -> Result<usize, FormatError> {
    let mut o = Out { buf, pos: 0 };
    let extra = plan.extra.as_ref();
    let mut scalars = 0usize;
    if let Some(e) = extra {
        (e.scalars)(&mut |_, _| scalars += 1);
    }
    o.put(&MAGIC)?;
    o.put(&VERSION.to_le_bytes())?;
    o.put(&[plan.kind.code(), 0])?; // kind, flags
    let total_at = o.pos;
    o.u32(0)?; // the file's length, patched below
    o.u32(N::LAYERS)?;
    o.u32(scalars)?;
    o.put(&plan.source.unwrap_or(0).to_le_bytes())?;
    o.u8s([
        extra.map_or(0, |e| e.optimizer.code()),
        u8::from(plan.source.is_some()),
        u8::from(extra.is_some_and(|e| e.best.is_some())),
        0,
    ])?;
    o.zeros(HEADER_LEN - o.pos)?;
    let mut learned = 0;
    for i in 0..N::LAYERS {
        let l = net
            .layer(i)
            .ok_or(FormatError::new(ErrorCode::LayerCount))?;
        layer(&mut o, i, l, extra, &mut learned)?;
    }
    if let Some(e) = extra {
        let mut result = Ok(());
        (e.scalars)(&mut |name, v| {
            if result.is_ok() {
                result = scalar(&mut o, name, v);
            }
        });
        result?;
    }
    let total = o.pos + 4;
    if total > u32::MAX as usize {
        return Err(FormatError::new(ErrorCode::TooLarge));
    }
    if let Some(buf) = o.buf.as_deref_mut() {
        let field = buf
            .get_mut(total_at..total_at + 4)
            .ok_or(FormatError::buffer(total, 0))?;
        field.copy_from_slice(&(total as u32).to_le_bytes());
        let crc = crc32(buf.get(..o.pos).unwrap_or_default());
        let at = o.pos;
        let dst = buf
            .get_mut(at..at + 4)
            .ok_or(FormatError::buffer(total, 0))?;
        dst.copy_from_slice(&crc.to_le_bytes());
    }
    Ok(total)
}

/// Checks everything a reader will check, then measures or writes.
pub(crate) fn emit<N: Describe>(
    net: &N,
    plan: &Plan<'_>,
    out: Option<&mut [u8]>,
) -> Result<usize, FormatError> {
    check_network(net, Section::Network)?;
    if let Some(e) = &plan.extra {
        check_scalars(e.scalars)?;
    }
    let total = encode(net, plan, None)?;
    match out {
        None => Ok(total),
        Some(buf) => {
            if buf.len() < total {
                return Err(FormatError::buffer(total, buf.len()));
            }
            let n = encode(net, plan, buf.get_mut(..total))?;
            debug_assert_eq!(n, total, "encoded length");
            Ok(n)
        }
    }
}

/// The optimizer's state as its reader takes it: every moment by the rule of its section
/// (first moments finite, second moments finite and non-negative), every `f32` setting
/// finite.
fn check_optimizer<L: Layer, O: OptimizerState<L::Grad>>(opt: &O) -> Result<(), FormatError> {
    let mut p = 0; // the learned tensor, as `Params` numbers them
    for i in 0..L::LAYERS {
        let spec = L::layer_spec(i).ok_or(FormatError::new(ErrorCode::LayerCount))?;
        for t in spec.tensors.iter().filter(|t| t.learned) {
            for k in 0..O::KIND.moments() {
                let section = Section::moment(k);
                let rule = section_rule(t, section);
                let data = opt.moment(k).tensor(p);
                if let Some((index, v)) =
                    data.iter().enumerate().find(|(_, v)| !rule.allows_f32(**v))
                {
                    let e = breaking(
                        ErrorCode::Value,
                        i,
                        t.name,
                        rule,
                        Dtype::F32,
                        index,
                        v.to_bits(),
                    );
                    return Err(e.in_section(section));
                }
            }
            p += 1;
        }
    }
    let mut bad = None;
    opt.for_each_scalar(&mut |name, v| {
        if bad.is_none() && matches!(v, Value::F32(x) if !x.is_finite()) {
            bad = Some(name);
        }
    });
    match bad {
        Some(name) => Err(FormatError::new(ErrorCode::InvalidScalar).named(name)),
        None => Ok(()),
    }
}

/// Every scalar storable, no name twice (a handful of scalars: every pair is compared).
fn check_scalars(scalars: &Scalars<'_>) -> Result<(), FormatError> {
    let mut count = 0usize;
    let mut bad = None;
    scalars(&mut |name, v| {
        if bad.is_none() && (!v.is_valid() || !valid_name(name.as_bytes())) {
            bad = Some(count);
        }
        count += 1;
    });
    if let Some(k) = bad {
        return Err(FormatError::new(ErrorCode::InvalidScalar).values(k, k));
    }
    if count > MAX_SCALARS {
        return Err(FormatError::new(ErrorCode::InvalidScalar)
            .values(MAX_SCALARS, count)
            .detail(1));
    }
    for k in 0..count {
        let mut buf = [0u8; 255];
        let mut len = 0;
        let mut n = 0;
        scalars(&mut |name, _| {
            if n == k {
                len = name.len().min(buf.len());
                buf[..len].copy_from_slice(&name.as_bytes()[..len]);
            }
            n += 1;
        });
        let mut same = 0;
        scalars(&mut |name, _| same += usize::from(name.as_bytes() == &buf[..len]));
        if same > 1 {
            return Err(FormatError::new(ErrorCode::DuplicateScalar).values(k, k));
        }
    }
    Ok(())
}

/// The kind of file a network of element type `E` is saved as.
pub(crate) fn kind_of<E: Scalar>() -> FileKind {
    match E::DTYPE {
        Dtype::I8 => FileKind::Int8,
        _ => FileKind::Float,
    }
}

/// The exact size of [`write`](fn@write)'s output for `net` (so a device can size its buffer).
///
/// # Errors
/// As [`write`](fn@write), without [`BufferTooSmall`](ErrorCode::BufferTooSmall).
pub fn len<N: Infer + Describe>(net: &N) -> Result<usize, FormatError> {
    let plan = Plan {
        kind: kind_of::<<N::Input as Tensor>::Elem>(),
        source: None,
        extra: None,
    };
    emit(net, &plan, None)
}

/// Writes the network `net` — float or int8: every tensor and attribute of every layer,
/// as its specs describe them — into `out`; returns the number of bytes written
/// ([`len`]). Needs no heap: a device that fine-tuned its network can save it into a
/// static buffer and then to flash.
///
/// Every value is checked first with the reader's rules (finite weights, positive
/// variances, valid scales, multipliers and links between int8 layers, …), so a written
/// file always loads.
///
/// # Errors
/// [`Value`](ErrorCode::Value), [`AttrValue`](ErrorCode::AttrValue),
/// [`AttrOrder`](ErrorCode::AttrOrder) or [`Link`](ErrorCode::Link) for a value a reader
/// would refuse; [`BufferTooSmall`](ErrorCode::BufferTooSmall);
/// [`TooLarge`](ErrorCode::TooLarge). On error, the contents of `out` are unspecified.
pub fn write<N: Infer + Describe>(net: &N, out: &mut [u8]) -> Result<usize, FormatError> {
    let plan = Plan {
        kind: kind_of::<<N::Input as Tensor>::Elem>(),
        source: None,
        extra: None,
    };
    emit(net, &plan, Some(out))
}

/// [`write`](fn@write) for an int8 network made from the float file whose
/// [`checksum`](super::File::checksum) is `source`: the file records it, so that the two
/// are known to belong together ([`check_source`](super::check_source)).
///
/// # Errors
/// As [`write`](fn@write).
pub fn write_with_source<N: Infer + Describe>(
    net: &N,
    source: u32,
    out: &mut [u8],
) -> Result<usize, FormatError> {
    let plan = Plan {
        kind: kind_of::<<N::Input as Tensor>::Elem>(),
        source: Some(source),
        extra: None,
    };
    emit(net, &plan, Some(out))
}

/// The early-stopping state of a run: what a checkpoint must hold for a resumed run with
/// patience to stop where the uninterrupted one would, with the same weights.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStop<'x, L> {
    /// The weights of the best epoch so far.
    pub best: &'x L,
    /// The best validation value so far (higher is better).
    pub best_value: f64,
    /// The epoch that reached it, from 1.
    pub best_epoch: u64,
    /// Epochs since then without improvement.
    pub since_best: u64,
}

/// The scalar names of [`EarlyStop`].
pub(crate) const STOP_SCALARS: [&str; 3] =
    ["stop.best_value", "stop.best_epoch", "stop.since_best"];

/// Writes a training checkpoint of `net` into `out`: the network, the state of `opt`
/// (moments and settings), the run's counters `run`, the early-stopping state `stop`
/// (best weights and counters) if any, and the free-form scalars `extra` (e.g.
/// `("best_accuracy", Value::F32(0.91))`). Returns the number of bytes written.
///
/// # Errors
/// As [`write`](fn@write), and [`DuplicateScalar`](ErrorCode::DuplicateScalar) if an extra scalar
/// reuses a name (the run's and the optimizer's included),
/// [`InvalidScalar`](ErrorCode::InvalidScalar) for a NaN scalar or a name that cannot be
/// stored.
pub fn write_training<L: Layer, O: OptimizerState<L::Grad>>(
    net: &L,
    opt: &O,
    run: &RunState,
    stop: Option<&EarlyStop<'_, L>>,
    extra: &[(&str, Value)],
    out: Option<&mut [u8]>,
) -> Result<usize, FormatError> {
    let moment = |k: usize, p: usize| -> &[f32] {
        if p < L::TENSORS {
            opt.moment(k).tensor(p)
        } else {
            &[]
        }
    };
    let scalars = |f: &mut dyn FnMut(&str, Value)| {
        run.for_each_scalar(&mut |n, v| f(n, v));
        opt.for_each_scalar(&mut |n, v| f(n, v));
        if let Some(s) = stop {
            f(STOP_SCALARS[0], Value::F64(s.best_value));
            f(STOP_SCALARS[1], Value::U64(s.best_epoch));
            f(STOP_SCALARS[2], Value::U64(s.since_best));
        }
        for &(n, v) in extra {
            f(n, v);
        }
    };
    if let Some(s) = stop {
        check_network(s.best, Section::Best)?;
    }
    check_optimizer::<L, O>(opt)?;
    let plan = Plan {
        kind: FileKind::Checkpoint,
        source: None,
        extra: Some(Extra {
            optimizer: O::KIND,
            moment: &moment,
            best: stop.map(|s| s.best as &dyn Layers),
            scalars: &scalars,
        }),
    };
    emit(net, &plan, out)
}

/// Saves the network `net` into a new buffer (see [`write`](fn@write)).
///
/// # Errors
/// As [`write`](fn@write), without [`BufferTooSmall`](ErrorCode::BufferTooSmall).
#[cfg(feature = "std")]
pub fn save<N: Infer + Describe>(net: &N) -> Result<std::vec::Vec<u8>, FormatError> {
    let mut out = std::vec![0u8; len(net)?];
    let n = write(net, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// Saves an int8 network made from the float file with checksum `source` (see
/// [`write_with_source`]).
///
/// # Errors
/// As [`write`](fn@write), without [`BufferTooSmall`](ErrorCode::BufferTooSmall).
#[cfg(feature = "std")]
pub fn save_with_source<N: Infer + Describe>(
    net: &N,
    source: u32,
) -> Result<std::vec::Vec<u8>, FormatError> {
    let mut out = std::vec![0u8; len(net)?];
    let n = write_with_source(net, source, &mut out)?;
    out.truncate(n);
    Ok(out)
}

/// Saves a training checkpoint into a new buffer (see [`write_training`]).
///
/// # Errors
/// As [`write_training`].
#[cfg(feature = "std")]
pub fn save_training<L: Layer, O: OptimizerState<L::Grad>>(
    net: &L,
    opt: &O,
    run: &RunState,
    stop: Option<&EarlyStop<'_, L>>,
    extra: &[(&str, Value)],
) -> Result<std::vec::Vec<u8>, FormatError> {
    let n = write_training(net, opt, run, stop, extra, None)?;
    let mut out = std::vec![0u8; n];
    write_training(net, opt, run, stop, extra, Some(&mut out))?;
    Ok(out)
}
