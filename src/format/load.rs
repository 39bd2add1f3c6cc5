//! The readers: check a file against a network type, then copy ([`load`],
//! [`load_training`]) or borrow ([`view`]).

use super::check::{Checked, Walk, check_kind, check_layers, wanted};
use super::error::{ErrorCode, FormatError};
use super::file::{File, Header, header, u32_at};
use super::layout::{FileKind, Section};
use super::state::{OptimizerState, RunState};
use super::write::{STOP_SCALARS, kind_of};
use crate::layers::Identity;
use crate::layers::Padding;
use crate::layers::residual::Open;
use crate::layers::{Layer, Params};
use crate::net::{Chain, Infer};
use crate::quant::{
    Borrowed, QAdd, QAvgPool2d, QConv2d, QDense, QDepthwiseConv2d, QFlatten, QGlobalAvgPool, QLut,
    QMaxPool2d, QParams, QResidual, QSoftmax, SOFTMAX_OUTPUT,
};
use crate::spec::{Describe, LayerData, LayerSpec, Primitive, TensorMut};
use crate::tensor::{Scalar, Tensor};

/// The kinds of file a network of element type `E` loads from: a float network also from a
/// checkpoint (its training state is then ignored).
fn kinds<E: Scalar>() -> &'static [FileKind] {
    match kind_of::<E>() {
        FileKind::Int8 => &[FileKind::Int8],
        _ => &[FileKind::Float, FileKind::Checkpoint],
    }
}

/// Loads the network stored in `bytes` into `net`: a float network from a float file or a
/// checkpoint (whose training state is ignored), an int8 network from an int8 file.
///
/// Everything is checked before anything is written ([`File::check`]: the file's kind, the
/// layers, their attributes and tensors and every value), so on error `net` is unchanged.
/// Needs no heap and copies each value once.
///
/// # Errors
/// Any error of [`File::parse`]'s frame checks and of [`File::check`];
/// [`Unborrowable`](ErrorCode::Unborrowable) if `net` borrows its arrays (a view cannot be
/// overwritten; build it with [`view`]). Never panics.
pub fn load<N: Infer + Describe>(bytes: &[u8], net: &mut N) -> Result<(), FormatError> {
    let head = header(bytes)?;
    check_kind(&head, kinds::<<N::Input as Tensor>::Elem>(), N::LAYERS)?;
    check_layers::<N>(&head)?;
    copy(&head, Section::Network, net)
}

/// Copies `section` of every layer into `net`, after [`check_layers`] accepted the file.
fn copy<N: Describe>(head: &Header<'_>, section: Section, net: &mut N) -> Result<(), FormatError> {
    // Refuse a network that cannot take the values before writing any.
    for i in 0..N::LAYERS {
        let layer = net
            .layer_mut(i)
            .ok_or(FormatError::new(ErrorCode::LayerCount))?;
        for t in 0..layer.spec().tensors.len() {
            if layer.tensor_mut(t).is_none() {
                return Err(FormatError::new(ErrorCode::Unborrowable).at(i).detail(3));
            }
        }
    }
    let sections = head.sections();
    let mut walk = Walk::new(head, N::BLOCKS);
    for i in 0..N::LAYERS {
        let layer = net
            .layer_mut(i)
            .ok_or(FormatError::new(ErrorCode::LayerCount))?;
        let checked = walk.layer(layer.spec())?;
        copy_layer(&checked, sections.as_slice(), section, layer);
    }
    Ok(())
}

/// Copies one layer's attributes and the tensors of `section` from a checked record.
#[inline(never)]
fn copy_layer(
    checked: &Checked<'_>,
    sections: &[Section],
    section: Section,
    layer: &mut dyn LayerData,
) {
    let spec = layer.spec();
    for a in 0..spec.attrs.len() {
        if let Some(v) = checked.attr(spec, a) {
            layer.set_attr(a, v);
        }
    }
    // The record's tensors, section by section in spec order: find those of `section`.
    let mut k = 0;
    for &s in sections {
        for (t, ts) in spec.tensors.iter().enumerate() {
            if !wanted(ts, s) {
                continue;
            }
            if s == section
                && let Some(dst) = layer.tensor_mut(t)
            {
                decode(checked.tensor(k), dst);
            }
            k += 1;
        }
    }
}

/// Decodes little-endian elements into `dst` (of the type the check matched).
fn decode(src: &[u8], dst: TensorMut<'_>) {
    match dst {
        TensorMut::F32(d) => {
            for (d, s) in d.iter_mut().zip(src.chunks_exact(4)) {
                *d = f32::from_bits(u32_at(s, 0));
            }
        }
        TensorMut::I32(d) => {
            for (d, s) in d.iter_mut().zip(src.chunks_exact(4)) {
                *d = u32_at(s, 0) as i32;
            }
        }
        TensorMut::I8(d) => {
            for (d, &s) in d.iter_mut().zip(src) {
                *d = s as i8;
            }
        }
    }
}

/// What a checkpoint holds besides the network and the optimizer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resumed {
    /// The run's counters and random stream.
    pub run: RunState,
    /// The early-stopping state, if the checkpoint has one: `(best value, best epoch,
    /// epochs since)`; the best weights are loaded into the network given to
    /// [`load_training`].
    pub stop: Option<(f64, u64, u64)>,
}

/// Loads a training checkpoint into `net` and `opt`, and the early-stopping best weights
/// into `best` when the checkpoint has them: a run resumed from it continues bit for bit as
/// if it had not stopped.
///
/// Everything is checked before anything is written, so on error nothing changes.
///
/// # Errors
/// As [`load`], then [`FileKind`](ErrorCode::FileKind) for a file that is not a
/// checkpoint, [`Optimizer`](ErrorCode::Optimizer) if it holds another optimizer's state,
/// and [`MissingScalar`](ErrorCode::MissingScalar), [`ScalarType`](ErrorCode::ScalarType)
/// or [`InvalidScalar`](ErrorCode::InvalidScalar) for the counters and settings. Never
/// panics.
pub fn load_training<L: Layer, O: OptimizerState<L::Grad>>(
    bytes: &[u8],
    net: &mut L,
    opt: &mut O,
    best: Option<&mut L>,
) -> Result<Resumed, FormatError> {
    let file = File::parse(bytes)?;
    file.check::<L>(&[FileKind::Checkpoint])?;
    if file.optimizer() != Some(O::KIND) {
        return Err(FormatError::new(ErrorCode::Optimizer).values(
            O::KIND.code().into(),
            file.optimizer().map_or(0, |o| o.code()).into(),
        ));
    }
    let run = RunState::read(&file)?;
    let saved = O::read_scalars(&file)?;
    let stop = if file.has_best() {
        Some((
            file.scalar_f64(STOP_SCALARS[0])?,
            file.scalar_u64(STOP_SCALARS[1])?,
            file.scalar_u64(STOP_SCALARS[2])?,
        ))
    } else {
        None
    };

    // Nothing can fail from here on but a network whose layers hand out other lengths
    // than their specs, which the copies skip.
    let head = file.head();
    copy(head, Section::Network, net)?;
    if let (true, Some(best)) = (file.has_best(), best) {
        copy(head, Section::Best, best)?;
    }
    let sections = head.sections();
    let mut walk = Walk::new(head, L::BLOCKS);
    let mut first = 0; // the layer's first learned tensor, as `Params` numbers them
    for i in 0..L::LAYERS {
        let spec = L::layer_spec(i).ok_or(FormatError::new(ErrorCode::LayerCount))?;
        let checked = walk.layer(spec)?;
        let mut k = 0; // the record's tensor
        for &s in sections.as_slice() {
            let mut p = first;
            for t in spec.tensors.iter().filter(|t| wanted(t, s)) {
                let moment = match s {
                    Section::FirstMoment => Some(0),
                    Section::SecondMoment => Some(1),
                    _ => None,
                };
                if let (Some(m), true) = (moment, p < L::TENSORS) {
                    decode(
                        checked.tensor(k),
                        TensorMut::F32(opt.moment_mut(m).tensor_mut(p)),
                    );
                }
                p += usize::from(t.learned);
                k += 1;
            }
        }
        first += spec.learned();
    }
    opt.restore(saved);
    Ok(Resumed { run, stop })
}

/// Checks that the int8 file `int8` was made from the float file `float` (it records the
/// float file's checksum, [`write_with_source`](super::write_with_source)).
///
/// # Errors
/// Any error of the frame checks for either file; [`Source`](ErrorCode::Source) if the int8
/// file records another float file, or none.
pub fn check_source(float: &[u8], int8: &[u8]) -> Result<(), FormatError> {
    let float = header(float)?;
    let int8 = header(int8)?;
    match int8.source {
        Some(d) if d == float.checksum => Ok(()),
        d => Err(FormatError::new(ErrorCode::Source).bits(d.unwrap_or(0), float.checksum)),
    }
}

/// Checks `bytes` as a network of type `N` and returns it borrowed from `bytes`: nothing
/// of the weights, biases, multipliers or tables is copied, so a file in flash stays in
/// flash, and the network is `Int8<MyNet, Borrowed<'a>>` — the same type as the owned
/// one, with another storage. One pass: each layer is checked and borrowed in turn.
///
/// The `i32` arrays are borrowed as such, so `bytes` must start at a multiple of 4 — put
/// an embedded file in [`Aligned`](super::Aligned) — and the target must be little-endian.
/// [`load`] copies instead and takes bytes at any address.
///
/// # Errors
/// As [`load`], and [`Unborrowable`](ErrorCode::Unborrowable) for bytes at an address that
/// is not a multiple of 4 or on a big-endian target. Never panics.
pub fn view<'a, N: View<'a>>(bytes: &'a [u8]) -> Result<N, FormatError> {
    let head = header(bytes)?;
    check_kind(&head, &[FileKind::Int8], N::LAYERS)?;
    // Every tensor's data starts at a multiple of 4 from the file's start, so an aligned
    // file has every array aligned.
    if cfg!(target_endian = "big") || !(bytes.as_ptr() as usize).is_multiple_of(4) {
        let detail = if cfg!(target_endian = "big") { 1 } else { 2 };
        return Err(FormatError::new(ErrorCode::Unborrowable).detail(detail));
    }
    let mut walk = Walk::new(&head, N::BLOCKS);
    let Some(net) = N::from_walk(&mut walk) else {
        return Err(walk.error);
    };
    walk.finish()?;
    Ok(net)
}

/// A network that can be built over a file's bytes without copying its arrays: int8
/// layers with [`Borrowed`] storage, and chains of them. See [`view`].
pub trait View<'a>: Infer + Describe + Sized {
    /// The network of the next layer records of `walk`, each checked and borrowed; `None`
    /// with the reason in the walk if a record is refused.
    #[doc(hidden)]
    fn from_walk(walk: &mut Walk<'a>) -> Option<Self>;
}

impl<'a, A: View<'a>, B: View<'a> + Infer<Input = A::Output>> View<'a> for Chain<A, B> {
    fn from_walk(walk: &mut Walk<'a>) -> Option<Self> {
        let first = A::from_walk(walk)?;
        Some(Chain::new(first, B::from_walk(walk)?))
    }
}

/// An int8 layer record, checked and borrowed: what the layer types build themselves
/// from. One body for every layer type and size, so a device pays for it once.
struct Parts<'a> {
    /// The first tensor's bytes (weights or table, `i8`).
    bytes: &'a [u8],
    /// The following tensors, `i32` (bias, multiplier, shift).
    words: [&'a [i32]; 3],
    /// The input and output quantization.
    io: [QParams; 2],
    /// The clamp bounds, attributes 4 and 5 (if the layer has them).
    bounds: [i8; 2],
}

impl<'a> Parts<'a> {
    /// Empty parts, to fill.
    const EMPTY: Parts<'a> = Parts {
        bytes: &[],
        words: [&[]; 3],
        io: [QParams::UNIT; 2],
        bounds: [0; 2],
    };

    /// Fills the parts from the next record of `walk`, checked against the int8 layer
    /// `spec`; `false` (and the reason in the walk) if it is refused. (Filled in place: a
    /// device's code moves no large value.)
    #[inline(never)]
    fn read(&mut self, walk: &mut Walk<'a>, spec: &'static LayerSpec) -> bool {
        let Some(c) = walk.next(spec) else {
            return false;
        };
        for (k, data) in c.tensors().take(1 + self.words.len()).enumerate() {
            match self.words.get_mut(k.wrapping_sub(1)) {
                // Aligned, since the file is ([`view`] checked).
                Some(w) => *w = bytemuck::try_cast_slice(data).unwrap_or_default(),
                None => self.bytes = data,
            }
        }
        for (side, q) in self.io.iter_mut().enumerate() {
            q.scale = f32::from_bits(c.attr_bits(2 * side));
            q.zero_point = c.attr_bits(2 * side + 1) as i32;
        }
        for (k, b) in self.bounds.iter_mut().enumerate() {
            *b = (c.attr_bits(4 + k) as i32).clamp(-128, 127) as i8;
        }
        true
    }
}

impl<'a, const IN: usize, const OUT: usize> View<'a> for QDense<IN, OUT, Borrowed<'a>> {
    fn from_walk(walk: &mut Walk<'a>) -> Option<Self> {
        let mut p = Parts::EMPTY;
        if !p.read(walk, &<Self as Primitive>::SPEC) {
            return None;
        }
        // The lengths are the spec's (checked), so these conversions succeed.
        let [bias, multiplier, shift] = p.words;
        Some(QDense::borrowed(
            bytemuck::try_from_bytes(p.bytes).ok()?,
            bias.try_into().ok()?,
            multiplier.try_into().ok()?,
            shift.try_into().ok()?,
            p.io[0],
            p.io[1],
            p.bounds[0],
            p.bounds[1],
        ))
    }
}

impl<'a, T: Tensor<Elem = i8>> View<'a> for QLut<T, Borrowed<'a>> {
    fn from_walk(walk: &mut Walk<'a>) -> Option<Self> {
        let mut p = Parts::EMPTY;
        if !p.read(walk, &<Self as Primitive>::SPEC) {
            return None;
        }
        Some(QLut::borrowed(
            bytemuck::try_from_bytes(p.bytes).ok()?,
            p.io[0],
            p.io[1],
        ))
    }
}

impl<
    'a,
    const H: usize,
    const W: usize,
    const C: usize,
    const K: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding,
> View<'a> for QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P, Borrowed<'a>>
{
    fn from_walk(walk: &mut Walk<'a>) -> Option<Self> {
        let mut p = Parts::EMPTY;
        if !p.read(walk, &<Self as Primitive>::SPEC) {
            return None;
        }
        // The lengths are the spec's (checked), so these conversions succeed.
        let [bias, multiplier, shift] = p.words;
        Some(QConv2d::borrowed(
            bytemuck::try_from_bytes(p.bytes).ok()?,
            bias.try_into().ok()?,
            multiplier.try_into().ok()?,
            shift.try_into().ok()?,
            p.io[0],
            p.io[1],
            p.bounds[0],
            p.bounds[1],
        ))
    }
}

impl<
    'a,
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding,
> View<'a> for QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P, Borrowed<'a>>
{
    fn from_walk(walk: &mut Walk<'a>) -> Option<Self> {
        let mut p = Parts::EMPTY;
        if !p.read(walk, &<Self as Primitive>::SPEC) {
            return None;
        }
        let [bias, multiplier, shift] = p.words;
        Some(QDepthwiseConv2d::borrowed(
            bytemuck::try_from_bytes(p.bytes).ok()?,
            bias.try_into().ok()?,
            multiplier.try_into().ok()?,
            shift.try_into().ok()?,
            p.io[0],
            p.io[1],
            p.bounds[0],
            p.bounds[1],
        ))
    }
}

/// Reads the record of a layer without arrays that keeps its input quantization (a pool,
/// a flatten): its quantization and clamp bounds, or `None` (the reason in the walk) if the
/// record is refused or its output quantization is not its input's.
#[inline(never)]
fn kept_parts(walk: &mut Walk<'_>, spec: &'static LayerSpec) -> Option<(QParams, [i8; 2])> {
    let mut p = Parts::EMPTY;
    if !p.read(walk, spec) {
        return None;
    }
    let [input, output] = p.io;
    if input != output {
        walk.error = FormatError::new(ErrorCode::Link)
            .named("output_scale")
            .bits(input.scale.to_bits(), output.scale.to_bits());
        return None;
    }
    Some((input, p.bounds))
}

/// `View` for the windowed int8 pools, which borrow nothing.
macro_rules! view_pool {
    ($name:ident) => {
        impl<
            'a,
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
        > View<'a> for $name<H, W, C, KH, KW, OH, OW, STRIDE, P, Borrowed<'a>>
        {
            fn from_walk(walk: &mut Walk<'a>) -> Option<Self> {
                let (params, [min, max]) = kept_parts(walk, &<Self as Primitive>::SPEC)?;
                let mut layer = Self::ZERO;
                (layer.params, layer.min, layer.max) = (params, min, max);
                Some(layer)
            }
        }
    };
}
view_pool!(QMaxPool2d);
view_pool!(QAvgPool2d);

impl<'a, const H: usize, const W: usize, const C: usize> View<'a>
    for QGlobalAvgPool<H, W, C, Borrowed<'a>>
{
    fn from_walk(walk: &mut Walk<'a>) -> Option<Self> {
        let (params, [min, max]) = kept_parts(walk, &<Self as Primitive>::SPEC)?;
        let mut layer = Self::ZERO;
        (layer.params, layer.min, layer.max) = (params, min, max);
        Some(layer)
    }
}

impl<'a, const H: usize, const W: usize, const C: usize, const N: usize> View<'a>
    for QFlatten<H, W, C, N, Borrowed<'a>>
{
    fn from_walk(walk: &mut Walk<'a>) -> Option<Self> {
        let (params, _) = kept_parts(walk, &<Self as Primitive>::SPEC)?;
        let mut layer = Self::ZERO;
        layer.params = params;
        Some(layer)
    }
}

/// The int8 softmax, which borrows nothing; its output quantization must be
/// [`SOFTMAX_OUTPUT`].
impl<'a, const N: usize> View<'a> for QSoftmax<N, Borrowed<'a>> {
    fn from_walk(walk: &mut Walk<'a>) -> Option<Self> {
        let c = walk.next(&<Self as Primitive>::SPEC)?;
        let int = |i| c.attr_bits(i) as i32;
        let output = QParams {
            scale: f32::from_bits(c.attr_bits(2)),
            zero_point: int(3),
        };
        if output != SOFTMAX_OUTPUT {
            walk.error = FormatError::new(ErrorCode::Link)
                .named("output_scale")
                .bits(SOFTMAX_OUTPUT.scale.to_bits(), output.scale.to_bits());
            return None;
        }
        let mut layer = Self::ZERO;
        layer.input = QParams {
            scale: f32::from_bits(c.attr_bits(0)),
            zero_point: int(1),
        };
        layer.beta = f32::from_bits(c.attr_bits(4));
        layer.multiplier = int(5);
        layer.left_shift = int(6).clamp(0, 30);
        layer.diff_min = int(7);
        Some(layer)
    }
}

/// The identity shortcut of a residual block: no record.
impl<'a, T: Tensor> View<'a> for Identity<T> {
    fn from_walk(_: &mut Walk<'a>) -> Option<Self> {
        Some(Identity::DEFAULT)
    }
}

/// A residual block: its `residual` record, its branches' records, its `qadd` record.
impl<'a, B, S> View<'a> for QResidual<B, S>
where
    B: View<'a> + Infer<Input: Tensor<Elem = i8>>,
    S: View<'a> + Infer<Input = B::Input, Output = B::Output>,
{
    fn from_walk(walk: &mut Walk<'a>) -> Option<Self> {
        walk.next(&Open::<B, S>::SPEC)?;
        let body = B::from_walk(walk)?;
        let shortcut = S::from_walk(walk)?;
        let add = read_add(walk)?;
        Some(QResidual::new(body, shortcut, add))
    }
}

/// The `qadd` record that closes a residual block, checked and read.
fn read_add<T: Tensor<Elem = i8>>(walk: &mut Walk<'_>) -> Option<QAdd<T>> {
    let spec = &<QAdd<T> as Primitive>::SPEC;
    let checked = walk.next(spec)?;
    let mut add = QAdd::ZERO;
    for a in 0..spec.attrs.len() {
        if let Some(v) = checked.attr(spec, a) {
            add.set_attr(a, v);
        }
    }
    Some(add)
}
