//! [`File`]: a checked, zero-copy view of a file's bytes.

use core::iter::FusedIterator;

use super::crc::crc32;
use super::error::{FormatError, Name};
use super::layout::{
    CHECKSUM_LEN, Dtype, HEADER_LEN, LAYER_FIXED, MAGIC, OptimizerKind, SCALAR_FIXED, Section,
    TENSOR_FIXED, VERSION, Value, kind_from_code, padded, valid_name,
};
use crate::layers::ParamKind;

/// A file whose every byte has been checked, read in place.
///
/// [`File::parse`] verifies the frame (magic, version, length, checksum) and then every
/// record: codes, names, sizes, zero padding, and the values themselves (every `f32` finite,
/// variances and second moments not negative). After that, nothing a `File` hands out can
/// surprise: the iterators and look-ups below never fail and never panic. Nothing is copied
/// and nothing allocated; a `File` is a few words on the stack over the caller's bytes
/// (RAM, or flash memory-mapped on a microcontroller).
///
/// ```
/// # fn main() -> Result<(), firmnet::format::FormatError> {
/// use firmnet::prelude::*;
/// use firmnet::format::{self, File, Section};
///
/// type Net = Net![Dense<3, 2>, Relu<[f32; 2]>];
/// let mut net: Net = net![Dense::ZERO, Relu::DEFAULT];
/// net.first.weight = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
/// let mut blob = [0u8; 256];
/// let n = format::write_params(&net, &mut blob)?;
///
/// let file = File::parse(&blob[..n])?;
/// assert_eq!(file.layers().count(), 2);
/// let w = file.tensor(Section::Params, 0, "weight").unwrap();
/// assert_eq!((w.rows, w.cols), (2, 3));
/// assert_eq!(w.f32s().unwrap().nth(4), Some(5.0));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct File<'a> {
    bytes: &'a [u8],
    flags: u16,
    optimizer: Option<OptimizerKind>,
    layers: usize,
    scalars: usize,
    tensors: usize,
    scalars_at: usize,
    tensors_at: usize,
    /// Where the checksum starts (the end of the records).
    end: usize,
}

/// One entry of the layer table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerRecord<'a> {
    /// Index of the layer, from 0 at the input.
    pub index: usize,
    /// The layer's kind (`"dense"`, `"batch_norm"`, …, as in [`LayerInfo::kind`](crate::layers::LayerInfo::kind)).
    pub kind: &'a str,
    /// Scalars in one input sample.
    pub inputs: usize,
    /// Scalars in one output sample.
    pub outputs: usize,
}

/// One named scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScalarRecord<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its value.
    pub value: Value,
}

/// One stored tensor: its description and its bytes, in place.
///
/// # Reading the values on a device
/// [`data`](Self::data) is the tensor's little-endian bytes, and it starts at a multiple of
/// 4 bytes from the start of the file ([`offset`](Self::offset)). So when the file itself
/// starts 4-aligned (see [`Aligned`](super::Aligned)) the bytes are a properly aligned
/// `[f32]` on every little-endian target, and a firmware that wants a zero-copy `&[f32]`
/// can take it with a checked cast such as `bytemuck::try_cast_slice(t.data)`. firmnet
/// itself stays free of such casts: it decodes with [`f32s`](Self::f32s) or copies with
/// [`copy_to`](Self::copy_to), which work at any alignment and cost one pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorRecord<'a> {
    /// The section: parameters, buffers, optimizer moments.
    pub section: Section,
    /// Index of the layer the tensor belongs to.
    pub layer: usize,
    /// The tensor's name within its layer (`"weight"`, `"gamma"`, `"running_var"`, …).
    pub name: &'a str,
    /// What the tensor is.
    pub kind: ParamKind,
    /// Element type.
    pub dtype: Dtype,
    /// Rows (outputs of a weight matrix; 1 for a vector).
    pub rows: usize,
    /// Columns (inputs of a weight matrix; the length of a vector).
    pub cols: usize,
    /// Type-specific parameters stored before the data (empty for `f32`; reserved for the
    /// quantization parameters of integer tensors).
    pub meta: &'a [u8],
    /// The elements, `rows · cols · dtype.size()` little-endian bytes.
    pub data: &'a [u8],
    /// Position of `data` in the file (a multiple of 4).
    pub offset: usize,
}

/// The decoded `f32` elements of a tensor; see [`TensorRecord::f32s`].
pub type F32s<'a> = core::iter::Map<core::slice::ChunksExact<'a, u8>, fn(&[u8]) -> f32>;

pub(super) fn le_f32(c: &[u8]) -> f32 {
    match *c {
        [a, b, c, d] => f32::from_le_bytes([a, b, c, d]),
        _ => f32::NAN, // unreachable: chunks are exact
    }
}

impl<'a> TensorRecord<'a> {
    /// Number of elements.
    pub const fn len(&self) -> usize {
        self.rows * self.cols
    }

    /// Whether the tensor has no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements, decoded from little-endian, in row-major order; `None` unless the
    /// tensor holds `f32`.
    pub fn f32s(&self) -> Option<F32s<'a>> {
        (self.dtype == Dtype::F32)
            .then(|| self.data.chunks_exact(4).map(le_f32 as fn(&[u8]) -> f32))
    }

    /// Element `i`; `None` if out of range or not `f32`.
    pub fn f32_at(&self, i: usize) -> Option<f32> {
        if self.dtype != Dtype::F32 {
            return None;
        }
        let at = i.checked_mul(4)?;
        self.data.get(at..at.checked_add(4)?).map(le_f32)
    }

    /// Copies the elements into `out`.
    ///
    /// # Errors
    /// [`FormatError::Dtype`] unless the tensor holds `f32`; [`FormatError::Shape`] if
    /// `out` has another length (expected is `1 × out.len()`).
    pub fn copy_to(&self, out: &mut [f32]) -> Result<(), FormatError> {
        let Some(values) = self.f32s() else {
            return Err(FormatError::Dtype {
                section: self.section,
                layer: self.layer,
                tensor: Name::new(self.name),
                expected: Dtype::F32,
                found: self.dtype,
            });
        };
        if out.len() != self.len() {
            return Err(FormatError::Shape {
                section: self.section,
                layer: self.layer,
                kind: "",
                tensor: Name::new(self.name),
                expected: super::Dims::matrix(1, out.len()),
                found: super::Dims::matrix(self.rows, self.cols),
            });
        }
        for (o, v) in out.iter_mut().zip(values) {
            *o = v;
        }
        Ok(())
    }
}

/// The decoded `i8` elements of a tensor; see [`TensorRecord::i8s`].
pub type I8s<'a> = core::iter::Map<core::slice::Iter<'a, u8>, fn(&u8) -> i8>;

/// The decoded `i32` elements of a tensor; see [`TensorRecord::i32s`].
pub type I32s<'a> = core::iter::Map<core::slice::ChunksExact<'a, u8>, fn(&[u8]) -> i32>;

pub(super) fn le_i32(c: &[u8]) -> i32 {
    match *c {
        [a, b, c, d] => i32::from_le_bytes([a, b, c, d]),
        _ => 0, // unreachable: chunks are exact
    }
}

fn to_i8(b: &u8) -> i8 {
    i8::from_le_bytes([*b])
}

impl<'a> TensorRecord<'a> {
    /// The elements in row-major order; `None` unless the tensor holds `i8`.
    pub fn i8s(&self) -> Option<I8s<'a>> {
        (self.dtype == Dtype::I8).then(|| self.data.iter().map(to_i8 as fn(&u8) -> i8))
    }

    /// The elements, decoded from little-endian, in row-major order; `None` unless the
    /// tensor holds `i32`.
    pub fn i32s(&self) -> Option<I32s<'a>> {
        (self.dtype == Dtype::I32)
            .then(|| self.data.chunks_exact(4).map(le_i32 as fn(&[u8]) -> i32))
    }
}

/// A bounds-checked little-endian cursor; every read is an error past the end.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).ok_or(FormatError::Malformed {
            offset: self.pos,
            what,
        })?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or(FormatError::Malformed {
                offset: self.pos,
                what,
            })?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, FormatError> {
        Ok(self.take(1, what)?.first().copied().unwrap_or(0))
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, FormatError> {
        match *self.take(2, what)? {
            [a, b] => Ok(u16::from_le_bytes([a, b])),
            _ => Err(FormatError::Malformed {
                offset: self.pos,
                what,
            }),
        }
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        match *self.take(4, what)? {
            [a, b, c, d] => Ok(u32::from_le_bytes([a, b, c, d])),
            _ => Err(FormatError::Malformed {
                offset: self.pos,
                what,
            }),
        }
    }
    fn usize(&mut self, what: &'static str) -> Result<usize, FormatError> {
        let at = self.pos;
        usize::try_from(self.u32(what)?).map_err(|_| FormatError::Malformed { offset: at, what })
    }
    /// `n` zero bytes.
    fn zeros(&mut self, n: usize, what: &'static str) -> Result<(), FormatError> {
        let at = self.pos;
        if self.take(n, what)?.iter().all(|&b| b == 0) {
            Ok(())
        } else {
            Err(FormatError::Malformed { offset: at, what })
        }
    }
    /// A name of `len` bytes and its zero padding to the next multiple of 4.
    fn name(&mut self, len: usize, what: &'static str) -> Result<&'a str, FormatError> {
        let at = self.pos;
        let raw = self.take(len, what)?;
        if !valid_name(raw) {
            return Err(FormatError::Malformed {
                offset: at,
                what: "a name is empty or has characters other than printable ASCII",
            });
        }
        self.pad(at, "the padding after a name is not zero")?;
        core::str::from_utf8(raw).map_err(|_| FormatError::Malformed { offset: at, what })
    }
    /// Zero bytes up to the next multiple of 4 counted from `start` (itself aligned).
    fn pad(&mut self, start: usize, what: &'static str) -> Result<(), FormatError> {
        let used = self.pos - start;
        let to = padded(used).ok_or(FormatError::Malformed {
            offset: self.pos,
            what,
        })?;
        self.zeros(to - used, what)
    }
}

/// The frame checks, in the order that gives the most useful message.
fn frame(bytes: &[u8]) -> Result<(u16, usize), FormatError> {
    let min = HEADER_LEN + CHECKSUM_LEN;
    let head = bytes.get(..4.min(bytes.len())).unwrap_or_default();
    if head != MAGIC.get(..head.len()).unwrap_or_default() {
        let mut found = [0u8; 4];
        found[..head.len()].copy_from_slice(head);
        return Err(FormatError::BadMagic { found });
    }
    if bytes.len() < min {
        return Err(FormatError::Truncated {
            needed: min,
            available: bytes.len(),
        });
    }
    let mut c = Cursor { bytes, pos: 4 };
    let version = c.u16("version")?;
    if version != VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    let flags = c.u16("flags")?;
    let len = c.usize("file length")?;
    if len > bytes.len() {
        return Err(FormatError::Truncated {
            needed: len,
            available: bytes.len(),
        });
    }
    if len < bytes.len() {
        return Err(FormatError::TrailingBytes {
            expected: len,
            found: bytes.len(),
        });
    }
    let body = bytes.len() - CHECKSUM_LEN;
    let stored = {
        let mut t = Cursor { bytes, pos: body };
        t.u32("checksum")?
    };
    let computed = crc32(bytes.get(..body).unwrap_or_default());
    if stored != computed {
        return Err(FormatError::Checksum { stored, computed });
    }
    Ok((flags, body))
}

impl<'a> File<'a> {
    /// Checks `bytes` completely and returns a view of them.
    ///
    /// The magic, the version and the length are read first, so that a file of another
    /// kind, of a newer version or cut short is named as such; then the checksum over
    /// everything before it; then every record.
    ///
    /// # Errors
    /// Every [`FormatError`] about the file on its own: [`Truncated`](FormatError::Truncated),
    /// [`TrailingBytes`](FormatError::TrailingBytes), [`BadMagic`](FormatError::BadMagic),
    /// [`UnsupportedVersion`](FormatError::UnsupportedVersion),
    /// [`UnsupportedFlags`](FormatError::UnsupportedFlags),
    /// [`Checksum`](FormatError::Checksum), [`Malformed`](FormatError::Malformed),
    /// [`NonFinite`](FormatError::NonFinite), [`Negative`](FormatError::Negative),
    /// [`InvalidScalar`](FormatError::InvalidScalar),
    /// [`DuplicateScalar`](FormatError::DuplicateScalar). Never panics.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let (flags, end) = frame(bytes)?;
        if flags != 0 {
            return Err(FormatError::UnsupportedFlags { found: flags });
        }
        // Only the checked body is read from here on: the cursor cannot reach the checksum.
        let body = bytes.get(..end).unwrap_or_default();
        let mut c = Cursor {
            bytes: body,
            pos: 12,
        };
        let layers = c.usize("the header runs past the end")?;
        let scalars = c.usize("the header runs past the end")?;
        let tensors = c.usize("the header runs past the end")?;
        let at = c.pos;
        let optimizer =
            OptimizerKind::from_code(c.u8("the header runs past the end")?).map_err(|()| {
                FormatError::Malformed {
                    offset: at,
                    what: "unknown optimizer code",
                }
            })?;
        c.zeros(HEADER_LEN - c.pos, "reserved header bytes are not zero")?;

        let mut file = File {
            bytes: body,
            flags,
            optimizer,
            layers,
            scalars,
            tensors,
            scalars_at: 0,
            tensors_at: 0,
            end,
        };
        for _ in 0..layers {
            layer_record(&mut c)?;
        }
        file.scalars_at = c.pos;
        for i in 0..scalars {
            let s = scalar_record(&mut c)?;
            if file.scalars().take(i).any(|t| t.name == s.name) {
                return Err(FormatError::DuplicateScalar {
                    name: Name::new(s.name),
                });
            }
        }
        file.tensors_at = c.pos;
        for _ in 0..tensors {
            let t = tensor_record(&mut c)?;
            if t.layer >= layers {
                return Err(FormatError::Malformed {
                    offset: t.offset,
                    what: "a tensor names a layer beyond the layer table",
                });
            }
            let moments = optimizer.map_or(0, OptimizerKind::moments);
            let needs = match t.section {
                Section::FirstMoment => 1,
                Section::SecondMoment => 2,
                Section::Params | Section::Buffers => 0,
            };
            if needs > moments {
                return Err(FormatError::Malformed {
                    offset: t.offset,
                    what: "an optimizer moment the header's optimizer does not have",
                });
            }
            if let Some(values) = t.f32s() {
                check_values(t.section, t.layer, t.name, t.kind, values)?;
            }
        }
        if c.pos != end {
            return Err(FormatError::Malformed {
                offset: c.pos,
                what: "bytes after the last record",
            });
        }
        Ok(file)
    }

    /// The format version (always [`VERSION`] for a parsed file).
    pub fn version(&self) -> u16 {
        VERSION
    }

    /// The header's feature flags (0 in version 1).
    pub fn flags(&self) -> u16 {
        self.flags
    }

    /// The optimizer whose state the file holds, if any.
    pub fn optimizer(&self) -> Option<OptimizerKind> {
        self.optimizer
    }

    /// The whole file, checksum excluded.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Length of the file in bytes, checksum included.
    pub fn len(&self) -> usize {
        self.end + CHECKSUM_LEN
    }

    /// Always `false`: a parsed file has at least a header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The layer table, input first.
    pub fn layers(&self) -> Records<'a, LayerRecord<'a>> {
        Records {
            cursor: Cursor {
                bytes: self.bytes,
                pos: HEADER_LEN,
            },
            left: self.layers,
            index: 0,
            read: |c, i| {
                layer_record(c).map(|(kind, inputs, outputs)| LayerRecord {
                    index: i,
                    kind,
                    inputs,
                    outputs,
                })
            },
        }
    }

    /// The named scalars.
    pub fn scalars(&self) -> Records<'a, ScalarRecord<'a>> {
        Records {
            cursor: Cursor {
                bytes: self.bytes,
                pos: self.scalars_at,
            },
            left: self.scalars,
            index: 0,
            read: |c, _| scalar_record(c),
        }
    }

    /// The value of scalar `name`, if the file has it.
    pub fn scalar(&self, name: &str) -> Option<Value> {
        self.scalars().find(|s| s.name == name).map(|s| s.value)
    }

    /// All tensors, in file order.
    pub fn tensors(&self) -> Records<'a, TensorRecord<'a>> {
        Records {
            cursor: Cursor {
                bytes: self.bytes,
                pos: self.tensors_at,
            },
            left: self.tensors,
            index: 0,
            read: |c, _| tensor_record(c),
        }
    }

    /// The tensor `name` of layer `layer` in `section` (the first, should a broken writer
    /// have stored it twice; the loaders refuse such files).
    pub fn tensor(&self, section: Section, layer: usize, name: &str) -> Option<TensorRecord<'a>> {
        self.tensors()
            .find(|t| t.section == section && t.layer == layer && t.name == name)
    }

    /// Number of tensors in `section`.
    pub fn count(&self, section: Section) -> usize {
        self.tensors().filter(|t| t.section == section).count()
    }
}

/// An iterator over the records of one table of a [`File`].
#[derive(Clone)]
pub struct Records<'a, T> {
    cursor: Cursor<'a>,
    left: usize,
    index: usize,
    read: fn(&mut Cursor<'a>, usize) -> Result<T, FormatError>,
}

impl<T> Iterator for Records<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        match (self.read)(&mut self.cursor, self.index) {
            Ok(t) => {
                self.left -= 1;
                self.index += 1;
                Some(t)
            }
            Err(_) => {
                // Cannot happen after `File::parse`; end rather than repeat.
                self.left = 0;
                None
            }
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

impl<T> FusedIterator for Records<'_, T> {}

impl<T> core::fmt::Debug for Records<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Records")
            .field("pos", &self.cursor.pos)
            .field("left", &self.left)
            .finish()
    }
}

/// `(kind, inputs, outputs)` of the layer record at the cursor.
fn layer_record<'a>(c: &mut Cursor<'a>) -> Result<(&'a str, usize, usize), FormatError> {
    let inputs = c.usize("a layer record runs past the end")?;
    let outputs = c.usize("a layer record runs past the end")?;
    let n = usize::from(c.u8("a layer record runs past the end")?);
    c.zeros(
        LAYER_FIXED - 9,
        "reserved bytes of a layer record are not zero",
    )?;
    let kind = c.name(n, "a layer kind runs past the end")?;
    Ok((kind, inputs, outputs))
}

fn scalar_record<'a>(c: &mut Cursor<'a>) -> Result<ScalarRecord<'a>, FormatError> {
    let at = c.pos;
    let code = c.u8("a scalar record runs past the end")?;
    let n = usize::from(c.u8("a scalar record runs past the end")?);
    c.zeros(
        SCALAR_FIXED - 2,
        "reserved bytes of a scalar record are not zero",
    )?;
    let size = Value::size_of_code(code).ok_or(FormatError::Malformed {
        offset: at,
        what: "unknown scalar type",
    })?;
    let name = c.name(n, "a scalar name runs past the end")?;
    let value = Value::from_bytes(code, c.take(size, "a scalar value runs past the end")?).ok_or(
        FormatError::InvalidScalar {
            name: Name::new(name),
            reason: "the all-zero state of a random generator",
        },
    )?;
    if !value.is_valid() {
        return Err(FormatError::InvalidScalar {
            name: Name::new(name),
            reason: "the value is NaN",
        });
    }
    Ok(ScalarRecord { name, value })
}

fn tensor_record<'a>(c: &mut Cursor<'a>) -> Result<TensorRecord<'a>, FormatError> {
    let at = c.pos;
    let section = Section::from_code(c.u8("a tensor record runs past the end")?).ok_or(
        FormatError::Malformed {
            offset: at,
            what: "unknown section code",
        },
    )?;
    let kind = kind_from_code(c.u8("a tensor record runs past the end")?).ok_or(
        FormatError::Malformed {
            offset: at + 1,
            what: "unknown tensor kind code",
        },
    )?;
    let dtype = Dtype::from_code(c.u8("a tensor record runs past the end")?).ok_or(
        FormatError::Malformed {
            offset: at + 2,
            what: "unknown element type code",
        },
    )?;
    let n = usize::from(c.u8("a tensor record runs past the end")?);
    let layer = c.usize("a tensor record runs past the end")?;
    let rows = c.usize("a tensor record runs past the end")?;
    let cols = c.usize("a tensor record runs past the end")?;
    let meta_len = c.usize("a tensor record runs past the end")?;
    debug_assert_eq!(c.pos - at, TENSOR_FIXED);
    let name = c.name(n, "a tensor name runs past the end")?;
    if dtype == Dtype::F32 && meta_len != 0 || meta_len % 4 != 0 {
        return Err(FormatError::Malformed {
            offset: at + 16,
            what: "tensor parameters of a wrong length for the element type",
        });
    }
    let meta = c.take(meta_len, "tensor parameters run past the end")?;
    let size = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(dtype.size()))
        .ok_or(FormatError::Malformed {
            offset: at + 8,
            what: "tensor size overflows",
        })?;
    let offset = c.pos;
    let data = c.take(size, "tensor data run past the end")?;
    c.pad(offset, "the padding after tensor data is not zero")?;
    Ok(TensorRecord {
        section,
        layer,
        name,
        kind,
        dtype,
        rows,
        cols,
        meta,
        data,
        offset,
    })
}

/// Every value finite; variances and second moments not negative.
pub(crate) fn check_values(
    section: Section,
    layer: usize,
    name: &str,
    kind: ParamKind,
    values: impl Iterator<Item = f32>,
) -> Result<(), FormatError> {
    let nonneg = kind == ParamKind::RunningVar || section == Section::SecondMoment;
    for (index, v) in values.enumerate() {
        if !v.is_finite() {
            return Err(FormatError::NonFinite {
                section,
                layer,
                tensor: Name::new(name),
                index,
            });
        }
        if nonneg && v < 0.0 {
            return Err(FormatError::Negative {
                section,
                layer,
                tensor: Name::new(name),
                index,
                value: v,
            });
        }
    }
    Ok(())
}
