//! Int8 networks ([`QDense`] layers in a [`QChain`]) in the file: the writer, the loader
//! and a zero-copy view of the weights ([`QDenseRef`]). See the [module docs](super) for
//! the records a `qdense` layer stores.

use super::crc::Crc32;
use super::error::{Dims, FormatError, Name};
use super::file::{File, TensorRecord, le_f32, le_i32};
use super::layout::{
    CHECKSUM_LEN, Dtype, HEADER_LEN, LAYER_FIXED, MAGIC, Section, TENSOR_FIXED, VERSION, kind_code,
    padded,
};
use super::write::{Out, checked_name, name_len};
use crate::layers::{LayerInfo, ParamKind};
use crate::quant::kernels::{self, Requant};
use crate::quant::{QChain, QDense, QLayer, QParams};

/// The layer kind of a [`QDense`] in the layer table.
pub const QDENSE_KIND: &str = "qdense";

/// Number of tensors a `qdense` layer stores.
pub const QDENSE_TENSORS: usize = 8;

/// Name, kind, element type and shape of one tensor of a `qdense` layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QTensorInfo {
    /// The tensor's name within its layer.
    pub name: &'static str,
    /// Its kind.
    pub kind: ParamKind,
    /// Its element type.
    pub dtype: Dtype,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
}

/// The tensors of a `qdense` layer with `inputs` and `outputs`, in file order.
pub const fn qdense_tensors(inputs: usize, outputs: usize) -> [QTensorInfo; QDENSE_TENSORS] {
    const fn t(
        name: &'static str,
        kind: ParamKind,
        dtype: Dtype,
        rows: usize,
        cols: usize,
    ) -> QTensorInfo {
        QTensorInfo {
            name,
            kind,
            dtype,
            rows,
            cols,
        }
    }
    use Dtype::{F32, I8, I32};
    use ParamKind::{Bias, Scale, Shift, Weight};
    [
        t("weight", Weight, I8, outputs, inputs),
        t("bias", Bias, I32, 1, outputs),
        t("multiplier", Scale, I32, 1, outputs),
        t("shift", Shift, I32, 1, outputs),
        t("weight_scale", Scale, F32, 1, outputs),
        t("scales", Scale, F32, 1, 2),
        t("zero_points", Shift, I32, 1, 2),
        t("clamp", Shift, I32, 1, 2),
    ]
}

/// The parameters of one `qdense` layer, borrowed from a network.
#[derive(Clone, Copy, Debug)]
pub struct QDenseView<'a> {
    /// Inputs of the layer.
    pub inputs: usize,
    /// Outputs of the layer.
    pub outputs: usize,
    /// `outputs × inputs` weights, row-major.
    pub weight: &'a [i8],
    /// Per channel: the int32 bias.
    pub bias: &'a [i32],
    /// Per channel: the Q31 multiplier.
    pub multiplier: &'a [i32],
    /// Per channel: the power-of-two exponent.
    pub shift: &'a [i32],
    /// Per channel: the weights' scale.
    pub weight_scale: &'a [f32],
    /// Quantization of the input.
    pub input: QParams,
    /// Quantization of the output.
    pub output: QParams,
    /// Smallest output.
    pub min: i8,
    /// Largest output.
    pub max: i8,
}

/// The parameters of one `qdense` layer, borrowed mutably from a network (what
/// [`load_qnet`] writes to).
#[derive(Debug)]
pub struct QDenseViewMut<'a> {
    /// `outputs × inputs` weights, row-major.
    pub weight: &'a mut [i8],
    /// Per channel: the int32 bias.
    pub bias: &'a mut [i32],
    /// Per channel: the Q31 multiplier.
    pub multiplier: &'a mut [i32],
    /// Per channel: the power-of-two exponent.
    pub shift: &'a mut [i32],
    /// Per channel: the weights' scale.
    pub weight_scale: &'a mut [f32],
    /// Quantization of the input.
    pub input: &'a mut QParams,
    /// Quantization of the output.
    pub output: &'a mut QParams,
    /// Smallest output.
    pub min: &'a mut i8,
    /// Largest output.
    pub max: &'a mut i8,
}

/// Access to the parameters of an int8 network by primitive layer, for the file format:
/// the int8 counterpart of [`Params`](crate::layers::Params). Implemented by [`QDense`]
/// and by [`QChain`]s of such networks, of any depth.
pub trait QParamsIo: QLayer {
    /// Kind and sizes of primitive layer `i < LAYERS` (for a type, without a value).
    fn qlayer_info(i: usize) -> LayerInfo;
    /// The parameters of primitive layer `i < LAYERS`.
    fn qdense(&self, i: usize) -> QDenseView<'_>;
    /// The parameters of primitive layer `i < LAYERS`, to overwrite.
    fn qdense_mut(&mut self, i: usize) -> QDenseViewMut<'_>;
}

impl<const IN: usize, const OUT: usize> QParamsIo for QDense<IN, OUT> {
    fn qlayer_info(i: usize) -> LayerInfo {
        LayerInfo {
            index: i,
            kind: QDENSE_KIND,
            inputs: IN,
            outputs: OUT,
        }
    }

    fn qdense(&self, _: usize) -> QDenseView<'_> {
        QDenseView {
            inputs: IN,
            outputs: OUT,
            weight: self.weight.0.as_flattened(),
            bias: &self.bias,
            multiplier: &self.multiplier,
            shift: &self.shift,
            weight_scale: &self.weight_scale,
            input: self.input,
            output: self.output,
            min: self.min,
            max: self.max,
        }
    }

    fn qdense_mut(&mut self, _: usize) -> QDenseViewMut<'_> {
        QDenseViewMut {
            weight: self.weight.0.as_flattened_mut(),
            bias: &mut self.bias,
            multiplier: &mut self.multiplier,
            shift: &mut self.shift,
            weight_scale: &mut self.weight_scale,
            input: &mut self.input,
            output: &mut self.output,
            min: &mut self.min,
            max: &mut self.max,
        }
    }
}

impl<A: QParamsIo, B: QParamsIo<Input = A::Output>> QParamsIo for QChain<A, B> {
    fn qlayer_info(i: usize) -> LayerInfo {
        let mut info = if i < A::LAYERS {
            A::qlayer_info(i)
        } else {
            B::qlayer_info(i - A::LAYERS)
        };
        info.index = i;
        info
    }

    fn qdense(&self, i: usize) -> QDenseView<'_> {
        if i < A::LAYERS {
            self.first.qdense(i)
        } else {
            self.rest.qdense(i - A::LAYERS)
        }
    }

    fn qdense_mut(&mut self, i: usize) -> QDenseViewMut<'_> {
        if i < A::LAYERS {
            self.first.qdense_mut(i)
        } else {
            self.rest.qdense_mut(i - A::LAYERS)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Values

const SCALE: &str = "a finite scale > 0";
const ZERO_POINT: &str = "a zero point in -128..=127";
const BOUND: &str = "an output bound in -128..=127";
const ORDER: &str = "min <= max";
const MULTIPLIER: &str = "a multiplier >= 0";
const SHIFT: &str = "a shift in -31..=30";

/// The small parameters of a layer, as stored.
#[derive(Clone, Copy)]
struct Small {
    scales: [f32; 2],
    zero_points: [i32; 2],
    clamp: [i32; 2],
}

fn bad(
    layer: usize,
    tensor: &str,
    index: usize,
    value: f64,
    expected: &'static str,
) -> FormatError {
    FormatError::QuantValue {
        layer,
        tensor: Name::new(tensor),
        index,
        value,
        expected,
    }
}

fn check_each<T: Copy>(
    layer: usize,
    tensor: &str,
    values: impl Iterator<Item = T>,
    ok: impl Fn(T) -> bool,
    as_f64: impl Fn(T) -> f64,
    expected: &'static str,
) -> Result<(), FormatError> {
    for (i, v) in values.enumerate() {
        if !ok(v) {
            return Err(bad(layer, tensor, i, as_f64(v), expected));
        }
    }
    Ok(())
}

fn scale_ok(s: f32) -> bool {
    s > 0.0 && s.is_finite()
}

fn i8_ok(v: i32) -> bool {
    (-128..=127).contains(&v)
}

/// Every quantization parameter of layer `layer` in range (the same rules for the writer
/// and the reader, so that every written file loads).
fn check_quant(
    layer: usize,
    small: &Small,
    multiplier: impl Iterator<Item = i32>,
    shift: impl Iterator<Item = i32>,
    weight_scale: impl Iterator<Item = f32>,
) -> Result<(), FormatError> {
    let f = f64::from;
    let g = |v: i32| f64::from(v);
    check_each(
        layer,
        "scales",
        small.scales.into_iter(),
        scale_ok,
        f,
        SCALE,
    )?;
    check_each(
        layer,
        "zero_points",
        small.zero_points.into_iter(),
        i8_ok,
        g,
        ZERO_POINT,
    )?;
    check_each(layer, "clamp", small.clamp.into_iter(), i8_ok, g, BOUND)?;
    if small.clamp[0] > small.clamp[1] {
        return Err(bad(layer, "clamp", 0, g(small.clamp[0]), ORDER));
    }
    check_each(layer, "weight_scale", weight_scale, scale_ok, f, SCALE)?;
    check_each(layer, "multiplier", multiplier, |m| m >= 0, g, MULTIPLIER)?;
    check_each(layer, "shift", shift, |s| (-31..=30).contains(&s), g, SHIFT)
}

// ---------------------------------------------------------------------------------------
// Writing

/// Bytes of one tensor record.
fn tensor_len(t: &QTensorInfo) -> usize {
    let data = t.rows.saturating_mul(t.cols).saturating_mul(t.dtype.size());
    TENSOR_FIXED
        .saturating_add(name_len(t.name))
        .saturating_add(padded(data).unwrap_or(usize::MAX))
}

/// The exact size of [`write_qnet`]'s output for int8 networks of type `N` (saturated at
/// `usize::MAX`), so a device can size its buffer.
pub fn qnet_len<N: QParamsIo>() -> usize {
    let mut n = HEADER_LEN + CHECKSUM_LEN;
    for i in 0..N::LAYERS {
        let info = N::qlayer_info(i);
        n = n.saturating_add(LAYER_FIXED + name_len(info.kind));
        for t in &qdense_tensors(info.inputs, info.outputs) {
            n = n.saturating_add(tensor_len(t));
        }
    }
    n
}

/// The elements of one tensor.
#[derive(Clone, Copy)]
enum Elems<'x> {
    I8(&'x [i8]),
    I32(&'x [i32]),
    F32(&'x [f32]),
}

impl Elems<'_> {
    fn len(&self) -> usize {
        match self {
            Elems::I8(d) => d.len(),
            Elems::I32(d) => d.len(),
            Elems::F32(d) => d.len(),
        }
    }
}

/// The eight tensors of a layer, in file order.
fn layer_elems<'x>(
    v: &QDenseView<'x>,
    scales: &'x [f32; 2],
    zero_points: &'x [i32; 2],
    clamp: &'x [i32; 2],
) -> [Elems<'x>; QDENSE_TENSORS] {
    [
        Elems::I8(v.weight),
        Elems::I32(v.bias),
        Elems::I32(v.multiplier),
        Elems::I32(v.shift),
        Elems::F32(v.weight_scale),
        Elems::F32(scales),
        Elems::I32(zero_points),
        Elems::I32(clamp),
    ]
}

fn small_of(v: &QDenseView<'_>) -> Small {
    Small {
        scales: [v.input.scale, v.output.scale],
        zero_points: [v.input.zero_point, v.output.zero_point],
        clamp: [i32::from(v.min), i32::from(v.max)],
    }
}

fn put_tensor(
    o: &mut Out<'_>,
    layer: usize,
    t: &QTensorInfo,
    data: Elems<'_>,
) -> Result<(), FormatError> {
    let n = checked_name(t.name)?;
    o.put(&[Section::Params.code(), kind_code(t.kind), t.dtype.code(), n])?;
    o.u32(layer)?;
    o.u32(t.rows)?;
    o.u32(t.cols)?;
    o.u32(0)?; // no type-specific parameters
    o.name(t.name)?;
    let start = o.pos;
    let mut chunk = [0u8; 256];
    match data {
        Elems::I8(d) => {
            for values in d.chunks(chunk.len()) {
                for (c, v) in chunk.iter_mut().zip(values) {
                    *c = v.to_le_bytes()[0];
                }
                o.put(chunk.get(..values.len()).unwrap_or_default())?;
            }
        }
        Elems::I32(d) => {
            for values in d.chunks(chunk.len() / 4) {
                for (c, v) in chunk.chunks_exact_mut(4).zip(values) {
                    c.copy_from_slice(&v.to_le_bytes());
                }
                o.put(chunk.get(..4 * values.len()).unwrap_or_default())?;
            }
        }
        Elems::F32(d) => {
            for values in d.chunks(chunk.len() / 4) {
                for (c, v) in chunk.chunks_exact_mut(4).zip(values) {
                    c.copy_from_slice(&v.to_le_bytes());
                }
                o.put(chunk.get(..4 * values.len()).unwrap_or_default())?;
            }
        }
    }
    o.pad(start)
}

/// Checks that layer `i` of `net` hands out slices of its sizes — a hand-written
/// [`QParamsIo`] could do otherwise — before the writer reads them or the loader writes.
fn check_slices<N: QParamsIo>(net: &N, i: usize) -> Result<(), FormatError> {
    let info = N::qlayer_info(i);
    let v = net.qdense(i);
    let small = small_of(&v);
    let (sc, zp, cl) = (small.scales, small.zero_points, small.clamp);
    for (t, e) in qdense_tensors(info.inputs, info.outputs)
        .iter()
        .zip(layer_elems(&v, &sc, &zp, &cl))
    {
        if e.len() != t.rows.saturating_mul(t.cols) {
            return Err(FormatError::Shape {
                section: Section::Params,
                layer: i,
                kind: info.kind,
                tensor: Name::new(t.name),
                expected: Dims::matrix(t.rows, t.cols),
                found: Dims::new(&[e.len()]),
            });
        }
    }
    Ok(())
}

/// Writes the int8 network `net` into `out` and returns the number of bytes written
/// ([`qnet_len::<N>()`](qnet_len)): one `qdense` layer record per layer and its eight
/// tensors. Needs no heap.
///
/// Every value is checked first with the reader's rules, so a written file always loads.
///
/// # Errors
/// [`FormatError::QuantValue`] for a parameter out of range, [`FormatError::Shape`] if a
/// layer's slices do not have its sizes, [`FormatError::BufferTooSmall`],
/// [`FormatError::TooLarge`]. On error, the contents of `out` are unspecified.
pub fn write_qnet<N: QParamsIo>(net: &N, out: &mut [u8]) -> Result<usize, FormatError> {
    let total = qnet_len::<N>();
    for i in 0..N::LAYERS {
        check_slices(net, i)?;
        let v = net.qdense(i);
        let small = small_of(&v);
        check_quant(
            i,
            &small,
            v.multiplier.iter().copied(),
            v.shift.iter().copied(),
            v.weight_scale.iter().copied(),
        )?;
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
    let mut o = Out {
        buf: out,
        pos: 0,
        crc: Crc32::new(),
    };
    o.put(&MAGIC)?;
    o.put(&VERSION.to_le_bytes())?;
    o.put(&0u16.to_le_bytes())?; // flags
    o.u32(total)?;
    o.u32(N::LAYERS)?;
    o.u32(0)?; // scalars
    o.u32(N::LAYERS.saturating_mul(QDENSE_TENSORS))?;
    o.put(&[0])?; // no optimizer
    o.zeros(HEADER_LEN - o.pos)?;
    for i in 0..N::LAYERS {
        let info = N::qlayer_info(i);
        let n = checked_name(info.kind)?;
        o.u32(info.inputs)?;
        o.u32(info.outputs)?;
        o.put(&[n, 0, 0, 0])?;
        o.name(info.kind)?;
    }
    for i in 0..N::LAYERS {
        let info = N::qlayer_info(i);
        let v = net.qdense(i);
        let small = small_of(&v);
        let (sc, zp, cl) = (small.scales, small.zero_points, small.clamp);
        for (t, e) in qdense_tensors(info.inputs, info.outputs)
            .iter()
            .zip(layer_elems(&v, &sc, &zp, &cl))
        {
            put_tensor(&mut o, i, t, e)?;
        }
    }
    let crc = o.crc.finish();
    o.put(&crc.to_le_bytes())?;
    if o.pos != total {
        debug_assert_eq!(o.pos, total, "encoded length");
        return Err(FormatError::Malformed {
            offset: o.pos,
            what: "the writer's length does not match its size computation",
        });
    }
    Ok(total)
}

/// Saves the int8 network `net` into a new buffer (see [`write_qnet`]).
///
/// # Errors
/// As [`write_qnet`], without [`BufferTooSmall`](FormatError::BufferTooSmall).
#[cfg(feature = "std")]
pub fn save_qnet<N: QParamsIo>(net: &N) -> Result<std::vec::Vec<u8>, FormatError> {
    let mut out = std::vec![0u8; qnet_len::<N>()];
    let n = write_qnet(net, &mut out)?;
    out.truncate(n);
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Reading

/// The bytes of the eight checked tensors of one `qdense` layer of a file. Only the bytes
/// are kept: this sits on a device's stack while the file is checked.
#[derive(Clone, Copy)]
struct QRecords<'a> {
    data: [&'a [u8]; QDENSE_TENSORS],
    small: Small,
}

impl<'a> QRecords<'a> {
    fn i8s(&self, k: usize) -> impl Iterator<Item = i8> + 'a {
        self.data[k].iter().map(|&b| b as i8)
    }
    fn i32s(&self, k: usize) -> impl Iterator<Item = i32> + 'a {
        self.data[k].chunks_exact(4).map(le_i32)
    }
    fn f32s(&self, k: usize) -> impl Iterator<Item = f32> + 'a {
        self.data[k].chunks_exact(4).map(le_f32)
    }
    fn input(&self) -> QParams {
        QParams {
            scale: self.small.scales[0],
            zero_point: self.small.zero_points[0],
        }
    }
    fn output(&self) -> QParams {
        QParams {
            scale: self.small.scales[1],
            zero_point: self.small.zero_points[1],
        }
    }
    /// The clamp bounds (checked to be in `i8` range).
    fn bounds(&self) -> (i8, i8) {
        let b = |v: i32| i8::try_from(v).unwrap_or(0);
        (b(self.small.clamp[0]), b(self.small.clamp[1]))
    }
}

fn pair<T: Copy + Default>(mut it: impl Iterator<Item = T>) -> [T; 2] {
    let a = it.next().unwrap_or_default();
    [a, it.next().unwrap_or_default()]
}

/// Loads the int8 network stored in `bytes` (by [`write_qnet`]) into `net`.
///
/// Everything is checked before anything is written, so on error `net` is unchanged: the
/// frame and records ([`File::parse`]), then the file against the network *type* — the
/// number of layers, every layer's kind and sizes, every tensor's kind, element type and
/// shape, no tensor too many — and then the values: scales finite and > 0, zero points and
/// clamp bounds in `i8` range, `min <= max`, shifts in `−31..=30`, multipliers `>= 0`.
/// Needs no heap.
///
/// # Errors
/// Any error of [`File::parse`], then [`LayerCount`](FormatError::LayerCount),
/// [`LayerKind`](FormatError::LayerKind), [`MissingTensor`](FormatError::MissingTensor),
/// [`TensorKind`](FormatError::TensorKind), [`Dtype`](FormatError::Dtype),
/// [`Shape`](FormatError::Shape), [`LayerSize`](FormatError::LayerSize),
/// [`QuantValue`](FormatError::QuantValue), [`UnexpectedTensor`](FormatError::UnexpectedTensor)
/// or [`TensorCount`](FormatError::TensorCount). Never panics.
pub fn load_qnet<N: QParamsIo>(bytes: &[u8], net: &mut N) -> Result<(), FormatError> {
    File::parse(bytes)?.load_qnet(net)
}

/// Checks `bytes` as an int8 network of type `N` and returns it as a [`QLayerRef`] network
/// (a [`QDenseRef`], or a [`QChain`] of them) borrowed from `bytes`: nothing of the weights
/// or the per-channel arrays is copied, so a file in flash stays in flash.
///
/// The `i32` and `f32` arrays are borrowed as such, so `bytes` must start at a multiple of
/// 4 — put an embedded file in [`Aligned`](super::Aligned) — and the target must be
/// little-endian. [`load_qnet`] copies instead and takes bytes at any address.
///
/// # Errors
/// As [`load_qnet`], and [`FormatError::Unborrowable`] for bytes at an address that is not
/// a multiple of 4 or on a big-endian target. Never panics.
pub fn qnet_ref<'a, N: QLayerRef<'a>>(bytes: &'a [u8]) -> Result<N, FormatError> {
    let file = File::parse(bytes)?;
    file.check_layer_count(N::LAYERS)?;
    let net = N::from_file_at(&file, 0)?;
    file.check_extra(N::LAYERS)?;
    Ok(net)
}

impl<'a> File<'a> {
    fn check_layer_count(&self, expected: usize) -> Result<(), FormatError> {
        let found = self.layers().count();
        if found != expected {
            return Err(FormatError::LayerCount { expected, found });
        }
        Ok(())
    }

    /// The tensors of `qdense` layer `info`, checked: the layer record's kind and sizes,
    /// every tensor's kind, type and shape, every value in range.
    ///
    /// Never inlined: one frame serves every layer, rather than one per layer in the
    /// caller's (a device's stack pays for every copy inlining makes).
    #[inline(never)]
    fn qdense_records(&self, info: &LayerInfo) -> Result<QRecords<'a>, FormatError> {
        let layer = info.index;
        let Some(rec) = self.layers().nth(layer) else {
            return Err(FormatError::LayerCount {
                expected: layer + 1,
                found: self.layers().count(),
            });
        };
        if rec.kind != info.kind {
            return Err(FormatError::LayerKind {
                layer,
                expected: info.kind,
                found: Name::new(rec.kind),
            });
        }
        let wanted = qdense_tensors(info.inputs, info.outputs);
        let mut data: [&'a [u8]; QDENSE_TENSORS] = [&[]; QDENSE_TENSORS];
        for (slot, w) in data.iter_mut().zip(&wanted) {
            *slot = self.qdense_tensor(layer, info.kind, w)?;
        }
        if (rec.inputs, rec.outputs) != (info.inputs, info.outputs) {
            return Err(FormatError::LayerSize {
                layer,
                kind: info.kind,
                expected: (info.inputs, info.outputs),
                found: (rec.inputs, rec.outputs),
            });
        }
        let mut q = QRecords {
            data,
            small: Small {
                scales: [0.0; 2],
                zero_points: [0; 2],
                clamp: [0; 2],
            },
        };
        q.small = Small {
            scales: pair(q.f32s(5)),
            zero_points: pair(q.i32s(6)),
            clamp: pair(q.i32s(7)),
        };
        check_quant(layer, &q.small, q.i32s(2), q.i32s(3), q.f32s(4))?;
        Ok(q)
    }

    /// The bytes of tensor `w` of layer `layer`, checked: present, of its kind, type and
    /// shape. Never inlined, like [`qdense_records`](Self::qdense_records).
    #[inline(never)]
    fn qdense_tensor(
        &self,
        layer: usize,
        kind: &'static str,
        w: &QTensorInfo,
    ) -> Result<&'a [u8], FormatError> {
        let tensor = Name::new(w.name);
        let Some(r) = self.tensor(Section::Params, layer, w.name) else {
            return Err(FormatError::MissingTensor {
                section: Section::Params,
                layer,
                tensor,
            });
        };
        if r.kind != w.kind {
            return Err(FormatError::TensorKind {
                section: Section::Params,
                layer,
                tensor,
                expected: w.kind,
                found: r.kind,
            });
        }
        if r.dtype != w.dtype {
            return Err(FormatError::Dtype {
                section: Section::Params,
                layer,
                tensor,
                expected: w.dtype,
                found: r.dtype,
            });
        }
        if (r.rows, r.cols) != (w.rows, w.cols) {
            return Err(FormatError::Shape {
                section: Section::Params,
                layer,
                kind,
                tensor,
                expected: Dims::matrix(w.rows, w.cols),
                found: Dims::matrix(r.rows, r.cols),
            });
        }
        Ok(r.data)
    }

    /// The file holds nothing but the tensors of `layers` `qdense` layers.
    fn check_extra(&self, layers: usize) -> Result<(), FormatError> {
        let known = |t: &TensorRecord<'_>| {
            t.section == Section::Params
                && t.layer < layers
                && qdense_tensors(0, 0).iter().any(|w| w.name == t.name)
        };
        if let Some(t) = self.tensors().find(|t| !known(t)) {
            return Err(FormatError::UnexpectedTensor {
                section: t.section,
                layer: t.layer,
                tensor: Name::new(t.name),
            });
        }
        let expected = layers.saturating_mul(QDENSE_TENSORS);
        let found = self.tensors().count();
        if found != expected {
            return Err(FormatError::TensorCount {
                section: Section::Params,
                expected,
                found,
            });
        }
        Ok(())
    }

    /// Checks that the file holds an int8 network of type `N`, values included.
    ///
    /// # Errors
    /// As [`load_qnet`] after parsing.
    pub fn check_qnet<N: QParamsIo>(&self) -> Result<(), FormatError> {
        self.check_layer_count(N::LAYERS)?;
        for i in 0..N::LAYERS {
            self.qdense_records(&N::qlayer_info(i))?;
        }
        self.check_extra(N::LAYERS)
    }

    /// Checks with [`check_qnet`](Self::check_qnet), then copies the network into `net`.
    /// On error `net` is unchanged.
    ///
    /// # Errors
    /// As [`load_qnet`] after parsing.
    pub fn load_qnet<N: QParamsIo>(&self, net: &mut N) -> Result<(), FormatError> {
        self.check_qnet::<N>()?;
        // A hand-written `QParamsIo` could hand out slices of other lengths than its
        // sizes: refuse before writing anything.
        for i in 0..N::LAYERS {
            check_slices(net, i)?;
        }
        for i in 0..N::LAYERS {
            let q = self.qdense_records(&N::qlayer_info(i))?;
            let v = net.qdense_mut(i);
            for (d, s) in v.weight.iter_mut().zip(q.i8s(0)) {
                *d = s;
            }
            for (d, s) in v.bias.iter_mut().zip(q.i32s(1)) {
                *d = s;
            }
            for (d, s) in v.multiplier.iter_mut().zip(q.i32s(2)) {
                *d = s;
            }
            for (d, s) in v.shift.iter_mut().zip(q.i32s(3)) {
                *d = s;
            }
            for (d, s) in v.weight_scale.iter_mut().zip(q.f32s(4)) {
                *d = s;
            }
            *v.input = q.input();
            *v.output = q.output();
            (*v.min, *v.max) = q.bounds();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Zero-copy

/// A [`QDense`] borrowed entirely from a file's bytes — in flash, say, with the file
/// embedded by `include_bytes!` in an [`Aligned`](super::Aligned): the weight matrix and
/// the per-channel arrays stay where they are, and the view itself is a few pointers and
/// the quantization parameters. It computes with the same kernel as [`QDense`], so it gives
/// the same bits.
///
/// Tensors start 4-aligned relative to the file, so every one of them is aligned in memory
/// when the file is: put it in [`Aligned`](super::Aligned). Bytes at an address that is not
/// a multiple of 4 give [`FormatError::Unborrowable`]; so does a big-endian target, whose
/// `i32`s would read the file's little-endian bytes backwards.
///
/// ```
/// # fn main() -> Result<(), firmnet::format::FormatError> {
/// use firmnet::format::{self, Aligned, QDenseRef};
/// use firmnet::quant::{QDense, QLayer};
/// use firmnet::{QNet, qnet};
///
/// type Net = QNet![QDense<4, 3>, QDense<3, 2>];
/// let mut net: Net = qnet![QDense::ZERO, QDense::ZERO];
/// net.first.weight.0[1] = [1, 2, 3, 4];
/// let mut blob = Aligned([0u8; 1024]);
/// let n = format::write_qnet(&net, &mut blob.0)?;
///
/// let view: QNet![QDenseRef<'_, 4, 3>, QDenseRef<'_, 3, 2>] = format::qnet_ref(&blob[..n])?;
/// assert_eq!(view.first.weight, &net.first.weight.0);
/// let (mut y, mut z) = ([0i8; 2], [0i8; 2]);
/// let (mut s, mut t) = (firmnet::tensor::Zero::ZERO, firmnet::tensor::Zero::ZERO);
/// net.forward(&[1, 2, 3, 4], &mut y, &mut s);
/// view.forward(&[1, 2, 3, 4], &mut z, &mut t);
/// assert_eq!(y, z);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct QDenseRef<'a, const IN: usize, const OUT: usize> {
    /// The weights, in place in the file.
    pub weight: &'a [[i8; IN]; OUT],
    /// Per channel: the int32 bias, in place.
    pub bias: &'a [i32; OUT],
    /// Per channel: the Q31 multiplier, in place.
    pub multiplier: &'a [i32; OUT],
    /// Per channel: the power-of-two exponent, in place.
    pub shift: &'a [i32; OUT],
    /// Per channel: the weights' scale, in place.
    pub weight_scale: &'a [f32; OUT],
    /// Quantization of the input.
    pub input: QParams,
    /// Quantization of the output.
    pub output: QParams,
    /// Smallest output.
    pub min: i8,
    /// Largest output.
    pub max: i8,
}

/// `data` as a `T`, in place: `T` is an array of a plain little-endian type whose size
/// the caller checked.
fn borrow<'a, T: bytemuck::AnyBitPattern>(
    layer: usize,
    tensor: &str,
    data: &'a [u8],
) -> Result<&'a T, FormatError> {
    let unborrowable = |reason| FormatError::Unborrowable {
        layer,
        tensor: Name::new(tensor),
        reason,
    };
    if cfg!(target_endian = "big") {
        return Err(unborrowable(
            "the file is little-endian and this target is big-endian; load it with load_qnet",
        ));
    }
    bytemuck::try_from_bytes::<T>(data).map_err(|e| {
        unborrowable(match e {
            bytemuck::PodCastError::TargetAlignmentGreaterAndInputNotAligned => {
                "the bytes are not aligned for it; place the file at an aligned address (firmnet::format::Aligned)"
            }
            _ => "its size does not match the layer",
        })
    })
}

impl<'a, const IN: usize, const OUT: usize> QDenseRef<'a, IN, OUT> {
    /// Layer `layer` of `file`, checked as a `qdense` layer `IN → OUT` (kind, sizes,
    /// tensors, values) and borrowed.
    ///
    /// # Errors
    /// As [`load_qnet`] for that layer, and [`FormatError::Unborrowable`] if the file's
    /// bytes are not 4-aligned in memory or the target is big-endian. Never panics.
    pub fn from_file(file: &File<'a>, layer: usize) -> Result<Self, FormatError> {
        let q = file.qdense_records(&LayerInfo {
            index: layer,
            kind: QDENSE_KIND,
            inputs: IN,
            outputs: OUT,
        })?;
        let (min, max) = q.bounds();
        Ok(QDenseRef {
            weight: borrow(layer, "weight", q.data[0])?,
            bias: borrow(layer, "bias", q.data[1])?,
            multiplier: borrow(layer, "multiplier", q.data[2])?,
            shift: borrow(layer, "shift", q.data[3])?,
            weight_scale: borrow(layer, "weight_scale", q.data[4])?,
            input: q.input(),
            output: q.output(),
            min,
            max,
        })
    }

    /// The requantization parameters for the kernel.
    #[inline]
    pub fn requant(&self) -> Requant<'_, OUT> {
        Requant {
            bias: self.bias,
            multiplier: self.multiplier,
            shift: self.shift,
            zero_point: self.output.zero_point,
            min: self.min,
            max: self.max,
        }
    }
}

impl<const IN: usize, const OUT: usize> QLayer for QDenseRef<'_, IN, OUT> {
    type Input = [i8; IN];
    type Output = [i8; OUT];
    type Scratch = ();

    #[inline]
    fn forward(&self, x: &[i8; IN], y: &mut [i8; OUT], _: &mut ()) {
        const { assert!(IN <= kernels::MAX_INPUTS, "too many inputs for int32 sums") };
        kernels::dense(self.weight, x, &self.requant(), y);
    }

    fn input_params(&self) -> QParams {
        self.input
    }

    fn output_params(&self) -> QParams {
        self.output
    }
}

/// An int8 network that can be built over a file's bytes without copying its weights:
/// [`QDenseRef`] and [`QChain`]s of them. See [`qnet_ref`].
pub trait QLayerRef<'a>: QLayer + Sized {
    /// The network whose first primitive layer is layer `first` of `file`, checked.
    ///
    /// # Errors
    /// As [`load_qnet`] for those layers.
    fn from_file_at(file: &File<'a>, first: usize) -> Result<Self, FormatError>;
}

impl<'a, const IN: usize, const OUT: usize> QLayerRef<'a> for QDenseRef<'a, IN, OUT> {
    fn from_file_at(file: &File<'a>, first: usize) -> Result<Self, FormatError> {
        Self::from_file(file, first)
    }
}

impl<'a, A: QLayerRef<'a>, B: QLayerRef<'a> + QLayer<Input = A::Output>> QLayerRef<'a>
    for QChain<A, B>
{
    fn from_file_at(file: &File<'a>, first: usize) -> Result<Self, FormatError> {
        Ok(QChain {
            first: A::from_file_at(file, first)?,
            rest: B::from_file_at(file, first.saturating_add(A::LAYERS))?,
        })
    }
}
