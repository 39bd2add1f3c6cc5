//! [`File`]: a checked view of a file's bytes, and its records.
//!
//! Two readers share the byte layout: [`File::parse`] walks any file without knowing the
//! network (for tools and messages), and the checker of [`check`](super::check) walks it
//! against a network type in one strict pass (what [`load`](super::load) and
//! [`view`](super::view) run, and all a device links).

use core::iter::FusedIterator;

use super::crc::crc32;
use super::error::{ErrorCode, FormatError, Malformation};
use super::layout::{
    CHECKSUM_LEN, FileKind, HEADER_LEN, LAYER_FIXED, MAGIC, MAX_NAME_LEN, MAX_SCALARS,
    OptimizerKind, Section, VERSION, Value, padded, valid_name,
};
use crate::layers::ParamKind;
use crate::spec::{Attr, Dtype};
use crate::tensor::Shape;

/// The frame and header of a file, checked: magic, version, checksum, length, kind,
/// counts. What every reader starts from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header<'a> {
    /// The file without its checksum.
    pub(crate) body: &'a [u8],
    pub(crate) kind: FileKind,
    pub(crate) optimizer: Option<OptimizerKind>,
    pub(crate) source: Option<u32>,
    pub(crate) has_best: bool,
    pub(crate) layers: usize,
    pub(crate) scalars: usize,
    pub(crate) checksum: u32,
}

/// The little-endian `u32` at `at` (0 past the end).
#[inline(never)]
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..) {
        Some(&[a, b, c, d, ..]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// The byte at `at` (0 past the end).
pub(crate) fn u8_at(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

/// Checks the frame and the header. The checksum is checked before any length in the
/// file is trusted; magic and version before it, so that a file of another kind or version
/// is named as such.
#[inline(never)]
pub(crate) fn header(bytes: &[u8]) -> Result<Header<'_>, FormatError> {
    let head = bytes.get(..4.min(bytes.len())).unwrap_or_default();
    if head != MAGIC.get(..head.len()).unwrap_or_default() {
        let mut found = [0u8; 4];
        for (f, &b) in found.iter_mut().zip(head) {
            *f = b;
        }
        return Err(FormatError::new(ErrorCode::BadMagic).bits(0, u32::from_le_bytes(found)));
    }
    let min = HEADER_LEN + CHECKSUM_LEN;
    if bytes.len() < min {
        return Err(FormatError::new(ErrorCode::Truncated).values(min, bytes.len()));
    }
    let version = u32_at(bytes, 4) & 0xffff;
    if version == 1 {
        return Err(FormatError::new(ErrorCode::Version1).values(1, 1));
    }
    if version != u32::from(VERSION) {
        return Err(FormatError::new(ErrorCode::UnsupportedVersion)
            .values(VERSION.into(), version as usize));
    }
    let end = bytes.len() - CHECKSUM_LEN;
    let body = bytes.get(..end).unwrap_or_default();
    let stored = u32_at(bytes, end);
    let computed = crc32(body);
    let stated = u32_at(bytes, 8) as usize;
    if stored != computed {
        if stated != bytes.len() {
            return Err(FormatError::new(ErrorCode::Damaged).values(stated, bytes.len()));
        }
        return Err(FormatError::new(ErrorCode::Checksum).bits(stored, computed));
    }
    if stated != bytes.len() {
        return Err(FormatError::malformed(8, Malformation::LengthField));
    }
    let kind = FileKind::from_code(u8_at(body, 6))
        .ok_or(FormatError::malformed(6, Malformation::FileKind))?;
    let flags = u8_at(body, 7);
    if flags != 0 {
        return Err(FormatError::new(ErrorCode::UnsupportedFlags).values(0, flags.into()));
    }
    let (layers, scalars, digest) = (u32_at(body, 12), u32_at(body, 16), u32_at(body, 20));
    if scalars as usize > MAX_SCALARS {
        return Err(FormatError::malformed(16, Malformation::TooManyScalars));
    }
    let optimizer = OptimizerKind::from_code(u8_at(body, 24))
        .map_err(|()| FormatError::malformed(24, Malformation::Optimizer))?;
    let source = match (u8_at(body, 25), digest) {
        (0, 0) => None,
        (1, d) => Some(d),
        _ => return Err(FormatError::malformed(25, Malformation::SourceFlag)),
    };
    let has_best = match u8_at(body, 26) {
        0 => false,
        1 => true,
        _ => return Err(FormatError::malformed(26, Malformation::BestFlag)),
    };
    if body
        .get(27..HEADER_LEN)
        .is_none_or(|r| r.iter().any(|&b| b != 0))
    {
        return Err(FormatError::malformed(27, Malformation::ReservedHeader));
    }
    let checkpoint = kind == FileKind::Checkpoint;
    if checkpoint != optimizer.is_some() {
        return Err(FormatError::malformed(24, Malformation::OptimizerKind));
    }
    if (!checkpoint && (scalars != 0 || has_best)) || (source.is_some() && kind != FileKind::Int8) {
        return Err(FormatError::malformed(16, Malformation::NotThisKind));
    }
    Ok(Header {
        body,
        kind,
        optimizer,
        source,
        has_best,
        layers: layers as usize,
        scalars: scalars as usize,
        checksum: stored,
    })
}

impl<'a> Header<'a> {
    /// The sections of tensors a layer record holds in this file, in the order stored: the
    /// network, the optimizer's moments, the best weights.
    pub(crate) fn sections(&self) -> Sections {
        Sections::of(self.optimizer, self.has_best)
    }
}

/// The sections of a file, in their order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sections {
    list: [Section; 4],
    len: usize,
}

impl Sections {
    /// The sections of a file with `optimizer`'s moments and, if `best`, best weights.
    pub(crate) fn of(optimizer: Option<OptimizerKind>, best: bool) -> Sections {
        let mut s = Sections {
            list: [Section::Network; 4],
            len: 1,
        };
        for k in 0..optimizer.map_or(0, OptimizerKind::moments) {
            s.push(Section::moment(k));
        }
        if best {
            s.push(Section::Best);
        }
        s
    }

    fn push(&mut self, s: Section) {
        if let Some(slot) = self.list.get_mut(self.len) {
            *slot = s;
            self.len += 1;
        }
    }
    /// The sections.
    pub(crate) fn as_slice(&self) -> &[Section] {
        self.list.get(..self.len).unwrap_or_default()
    }
}

/// Checks the `head.scalars` scalar records at `at` — each whole, of a known type, with a
/// valid value, no name twice — and that nothing follows them. At most [`MAX_SCALARS`]
/// (the header refuses more), so comparing every name with every earlier one stays fast.
pub(crate) fn check_scalars(head: &Header<'_>, at: usize) -> Result<(), FormatError> {
    let mut c = Cursor {
        bytes: head.body,
        pos: at,
        base: 0,
    };
    for i in 0..head.scalars {
        let s = scalar_record(&mut c)?;
        let mut earlier = Cursor { pos: at, ..c };
        for _ in 0..i {
            if scalar_record(&mut earlier)?.name == s.name {
                return Err(FormatError::new(ErrorCode::DuplicateScalar).values(i, i));
            }
        }
    }
    if c.pos != head.body.len() {
        return Err(FormatError::malformed(c.pos, Malformation::Trailing));
    }
    Ok(())
}

/// A file whose frame and records have been checked: every record lies inside the file,
/// every code is known, every name is printable ASCII, every reserved byte is zero. Built
/// by [`File::parse`]; borrowing, never copying.
#[derive(Clone, Copy, Debug)]
pub struct File<'a> {
    head: Header<'a>,
    scalars_at: usize,
}

/// One layer record: kind, shapes, attributes and tensors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerRecord<'a> {
    /// Index of the layer, from 0 at the input.
    pub index: usize,
    /// The layer's kind (`"dense"`, `"batch_norm"`, `"qdense"`, …, as in
    /// [`LayerSpec::kind`](crate::spec::LayerSpec::kind)).
    pub kind: &'a str,
    /// Shape of one input sample.
    pub input: Shape,
    /// Shape of one output sample.
    pub output: Shape,
    attrs: usize,
    tensors: usize,
    body: &'a [u8],
    body_at: usize,
}

/// One attribute of a layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttrRecord<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its value.
    pub value: Attr,
}

/// One tensor of a layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TensorRecord<'a> {
    /// Which copy of the network it belongs to.
    pub section: Section,
    /// Its name within the layer.
    pub name: &'a str,
    /// What it is.
    pub kind: ParamKind,
    /// Its element type.
    pub dtype: Dtype,
    /// Its shape.
    pub shape: Shape,
    /// The raw little-endian elements. Their length is checked against the shape and the
    /// element type when the file is matched to a network, not by [`File::parse`], so that
    /// a changed type is reported as such.
    pub data: &'a [u8],
    /// Where the elements start, from the start of the file (a multiple of 4).
    pub offset: usize,
}

/// One named scalar of a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScalarRecord<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its value.
    pub value: Value,
}

/// A position in the file's bytes, for the general reader.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
    /// Offset of `bytes` in the file, for messages.
    pub(crate) base: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: Malformation) -> FormatError {
        FormatError::malformed(self.base + self.pos, what)
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(self.err(Malformation::Overrun))?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or(self.err(Malformation::Overrun))?;
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32_at(self.take(4)?, 0))
    }
    fn zeros(&mut self, n: usize, what: Malformation) -> Result<(), FormatError> {
        let at = self.pos;
        if self.take(n)?.iter().all(|&b| b == 0) {
            Ok(())
        } else {
            Err(FormatError::malformed(self.base + at, what))
        }
    }
    /// A name of `len` bytes and its zero padding.
    fn name(&mut self, len: usize) -> Result<&'a str, FormatError> {
        let at = self.pos;
        let raw = self.take(len)?;
        let bad = FormatError::malformed(self.base + at, Malformation::Name);
        if !valid_name(raw) {
            return Err(bad);
        }
        self.pad(at)?;
        core::str::from_utf8(raw).map_err(|_| bad)
    }
    /// Zero bytes up to the next multiple of 4 counted from `start` (itself aligned).
    fn pad(&mut self, start: usize) -> Result<(), FormatError> {
        let used = self.pos - start;
        let to = padded(used).ok_or(self.err(Malformation::Padding))?;
        self.zeros(to - used, Malformation::Padding)
    }
    /// A name's length: at most [`MAX_NAME_LEN`] (the name itself is checked by
    /// [`name`](Self::name)).
    fn name_len(&mut self) -> Result<usize, FormatError> {
        let bad = self.err(Malformation::Name);
        let n = self.u32()? as usize;
        if n > MAX_NAME_LEN { Err(bad) } else { Ok(n) }
    }
    /// A code word: a `u8` code stored as a `u32`, decoded by `decode`.
    fn code<T>(
        &mut self,
        decode: impl Fn(u8) -> Option<T>,
        what: Malformation,
    ) -> Result<T, FormatError> {
        let bad = self.err(what);
        u8::try_from(self.u32()?).ok().and_then(decode).ok_or(bad)
    }
    /// A rank and a shape of that rank, stored as four `u32` (unused ones zero).
    fn shape(&mut self) -> Result<Shape, FormatError> {
        let at = self.pos;
        let rank = self.u32()? as usize;
        let mut dims = [0usize; 4];
        for d in &mut dims {
            *d = self.u32()? as usize;
        }
        let bad = FormatError::malformed(self.base + at, Malformation::Shape);
        if rank > Shape::MAX_RANK || dims.iter().skip(rank).any(|&d| d != 0) {
            return Err(bad);
        }
        Shape::new(dims.get(..rank).unwrap_or_default()).ok_or(bad)
    }
}

impl<'a> File<'a> {
    /// Checks `bytes` as a file and returns a view of them, without knowing the network:
    /// the frame and header (magic, version, checksum — before any length is trusted —,
    /// length, kind), then every record's structure. Matching a network is
    /// [`check`](Self::check)'s.
    ///
    /// # Errors
    /// [`BadMagic`](ErrorCode::BadMagic), [`Truncated`](ErrorCode::Truncated),
    /// [`Version1`](ErrorCode::Version1), [`UnsupportedVersion`](ErrorCode::UnsupportedVersion),
    /// [`Damaged`](ErrorCode::Damaged), [`Checksum`](ErrorCode::Checksum),
    /// [`UnsupportedFlags`](ErrorCode::UnsupportedFlags), [`Malformed`](ErrorCode::Malformed),
    /// [`DuplicateScalar`](ErrorCode::DuplicateScalar). Never panics.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FormatError> {
        let head = header(bytes)?;
        let mut c = Cursor {
            bytes: head.body,
            pos: HEADER_LEN,
            base: 0,
        };
        let sections = head.sections();
        for i in 0..head.layers {
            let rec = layer_record(&mut c, i)?;
            for t in rec.tensors() {
                if !sections.as_slice().contains(&t.section) {
                    return Err(FormatError::malformed(
                        t.offset,
                        Malformation::SectionNotAllowed,
                    ));
                }
            }
        }
        let scalars_at = c.pos;
        check_scalars(&head, scalars_at)?;
        Ok(File { head, scalars_at })
    }

    pub(crate) fn head(&self) -> &Header<'a> {
        &self.head
    }

    /// What the file holds.
    pub fn kind(&self) -> FileKind {
        self.head.kind
    }

    /// The optimizer whose state a checkpoint holds.
    pub fn optimizer(&self) -> Option<OptimizerKind> {
        self.head.optimizer
    }

    /// Whether a checkpoint holds the early-stopping best weights.
    pub fn has_best(&self) -> bool {
        self.head.has_best
    }

    /// For an int8 file, the digest ([`checksum`](Self::checksum)) of the float file it
    /// was made from, if recorded.
    pub fn source(&self) -> Option<u32> {
        self.head.source
    }

    /// The file's CRC-32 (its last four bytes): its identity, which an int8 file made from
    /// it records.
    pub fn checksum(&self) -> u32 {
        self.head.checksum
    }

    /// The whole file, checksum excluded.
    pub fn bytes(&self) -> &'a [u8] {
        self.head.body
    }

    /// Length of the file in bytes, checksum included.
    pub fn len(&self) -> usize {
        self.head.body.len() + CHECKSUM_LEN
    }

    /// Always `false`: a parsed file has at least a header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Number of layer records.
    pub fn layer_count(&self) -> usize {
        self.head.layers
    }

    /// The layer records, input first.
    pub fn layers(&self) -> Records<'a, LayerRecord<'a>> {
        Records {
            cursor: Cursor {
                bytes: self.head.body,
                pos: HEADER_LEN,
                base: 0,
            },
            left: self.head.layers,
            index: 0,
            read: layer_record,
        }
    }

    /// Layer record `i`.
    pub fn layer(&self, i: usize) -> Option<LayerRecord<'a>> {
        self.layers().nth(i)
    }

    /// The named scalars.
    pub fn scalars(&self) -> Records<'a, ScalarRecord<'a>> {
        Records {
            cursor: Cursor {
                bytes: self.head.body,
                pos: self.scalars_at,
                base: 0,
            },
            left: self.head.scalars,
            index: 0,
            read: |c, _| scalar_record(c),
        }
    }

    /// The value of scalar `name`, if the file has it.
    pub fn scalar(&self, name: &str) -> Option<Value> {
        self.scalars().find(|s| s.name == name).map(|s| s.value)
    }
}

impl<'a> LayerRecord<'a> {
    /// The attributes, in order.
    pub fn attrs(&self) -> Records<'a, AttrRecord<'a>> {
        Records {
            cursor: Cursor {
                bytes: self.body,
                pos: 0,
                base: self.body_at,
            },
            left: self.attrs,
            index: 0,
            read: |c, _| attr_record(c),
        }
    }

    /// Number of attributes.
    pub fn attr_count(&self) -> usize {
        self.attrs
    }

    /// The tensors, in file order.
    pub fn tensors(&self) -> Records<'a, TensorRecord<'a>> {
        let mut cursor = Cursor {
            bytes: self.body,
            pos: 0,
            base: self.body_at,
        };
        for _ in 0..self.attrs {
            if attr_record(&mut cursor).is_err() {
                break;
            }
        }
        Records {
            cursor,
            left: self.tensors,
            index: 0,
            read: |c, _| tensor_record(c),
        }
    }

    /// Number of tensors.
    pub fn tensor_count(&self) -> usize {
        self.tensors
    }

    /// The tensor `name` of `section`.
    pub fn tensor(&self, section: Section, name: &str) -> Option<TensorRecord<'a>> {
        self.tensors()
            .find(|t| t.section == section && t.name == name)
    }
}

/// An iterator over the records of one table.
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
            .field("pos", &(self.cursor.base + self.cursor.pos))
            .field("left", &self.left)
            .finish()
    }
}

/// The layer record at the cursor, checked through; the cursor ends after it.
fn layer_record<'a>(c: &mut Cursor<'a>, index: usize) -> Result<LayerRecord<'a>, FormatError> {
    let start = c.pos;
    let len = c.u32()? as usize;
    let bad_length = FormatError::malformed(c.base + start, Malformation::RecordLength);
    if !len.is_multiple_of(4) || len < LAYER_FIXED {
        return Err(bad_length);
    }
    let end = start.checked_add(len).ok_or(bad_length)?;
    if end > c.bytes.len() {
        return Err(FormatError::malformed(
            c.base + start,
            Malformation::Overrun,
        ));
    }
    let mut r = Cursor {
        bytes: c.bytes.get(..end).unwrap_or_default(),
        pos: c.pos,
        base: c.base,
    };
    let n = r.name_len()?;
    let input = r.shape()?;
    let output = r.shape()?;
    let attrs = r.u32()? as usize;
    let tensors = r.u32()? as usize;
    let kind = r.name(n)?;
    let body_at = r.pos;
    for _ in 0..attrs {
        attr_record(&mut r)?;
    }
    for _ in 0..tensors {
        tensor_record(&mut r)?;
    }
    if r.pos != end {
        return Err(bad_length);
    }
    c.pos = end;
    Ok(LayerRecord {
        index,
        kind,
        input,
        output,
        attrs,
        tensors,
        body: c.bytes.get(body_at..end).unwrap_or_default(),
        body_at: c.base + body_at,
    })
}

fn attr_record<'a>(c: &mut Cursor<'a>) -> Result<AttrRecord<'a>, FormatError> {
    let dtype = c.code(Dtype::from_code, Malformation::AttrType)?;
    let n = c.name_len()?;
    let bits = c.u32()?;
    let name = c.name(n)?;
    let value = Attr::from_bits(dtype, bits).ok_or(FormatError::malformed(
        c.base + c.pos,
        Malformation::AttrType,
    ))?;
    Ok(AttrRecord { name, value })
}

fn tensor_record<'a>(c: &mut Cursor<'a>) -> Result<TensorRecord<'a>, FormatError> {
    let section = c.code(Section::from_code, Malformation::Section)?;
    let n = c.name_len()?;
    let kind = c.code(ParamKind::from_code, Malformation::TensorKind)?;
    let dtype = c.code(Dtype::from_code, Malformation::Dtype)?;
    let shape = c.shape()?;
    let data_len = c.u32()? as usize;
    let name = c.name(n)?;
    let offset = c.pos;
    let data = c.take(data_len)?;
    c.pad(offset)?;
    Ok(TensorRecord {
        section,
        name,
        kind,
        dtype,
        shape,
        data,
        offset: c.base + offset,
    })
}

fn scalar_record<'a>(c: &mut Cursor<'a>) -> Result<ScalarRecord<'a>, FormatError> {
    let bad = c.err(Malformation::Scalar);
    let code = u8::try_from(c.u32()?).map_err(|_| bad)?;
    let n = c.name_len()?;
    let size = Value::size_of_code(code).ok_or(bad)?;
    let name = c.name(n)?;
    let value = Value::from_bytes(code, c.take(size)?)
        .filter(Value::is_valid)
        .ok_or(bad)?;
    Ok(ScalarRecord { name, value })
}

impl TensorRecord<'_> {
    /// The elements as `f32`, if the tensor holds `f32` (decoded from little-endian
    /// bytes, at any alignment).
    pub fn f32s(&self) -> Option<impl ExactSizeIterator<Item = f32> + '_> {
        (self.dtype == Dtype::F32).then(|| {
            self.data
                .chunks_exact(4)
                .map(|b| f32::from_bits(u32_at(b, 0)))
        })
    }

    /// The elements as `i32`, if the tensor holds `i32`.
    pub fn i32s(&self) -> Option<impl ExactSizeIterator<Item = i32> + '_> {
        (self.dtype == Dtype::I32).then(|| self.data.chunks_exact(4).map(|b| u32_at(b, 0) as i32))
    }

    /// The elements as `i8`, if the tensor holds `i8`.
    pub fn i8s(&self) -> Option<impl ExactSizeIterator<Item = i8> + '_> {
        (self.dtype == Dtype::I8).then(|| self.data.iter().map(|&b| b as i8))
    }
}
