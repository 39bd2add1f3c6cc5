//! [`FormatError`]: everything that can be wrong with a file, in 32 bytes.
//!
//! The error is a small `Copy` value — a code, the layer, a name from the network's
//! spec and two numbers — so that a device can return it, store it and print it without
//! a heap and without `core::fmt` ([`FormatError::describe`] writes it with hand-made
//! digits). On the host, [`Display`](fmt::Display) says it in a sentence:
//!
//! ```text
//! layer 2 (tensor `weight`): dimension 2 is 256 in the file, the network expects 784
//! ```

use core::fmt;

use super::layout::{FileKind, OptimizerKind, Section, VERSION, known_kind};
use crate::spec::{Dtype, Rule};
use crate::text::unsigned as decimal;

/// What went wrong, as a code that prints without `core::fmt` ([`ErrorCode::as_str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The data do not start with `FNET`: not a firmnet file.
    BadMagic = 1,
    /// Fewer bytes than a header and a checksum.
    Truncated,
    /// The checksum does not match and the header's length is not the data's: the file
    /// is cut short or damaged.
    Damaged,
    /// The checksum does not match the contents: the file is damaged.
    Checksum,
    /// A version 1 file: convert it (see the message).
    Version1,
    /// A format version this build cannot read.
    UnsupportedVersion,
    /// The header requires features this build does not know.
    UnsupportedFlags,
    /// The bytes break the layout at an offset.
    Malformed,
    /// The file holds another kind of content (a float network where an int8 one is
    /// wanted, …).
    FileKind,
    /// Another number of layers.
    LayerCount,
    /// A layer of another kind (found: the [`kind_signature`](super::kind_signature) of
    /// the file's kind).
    LayerKind,
    /// A layer with other input or output shapes (the detail: input or output, rank or
    /// dimension).
    LayerShape,
    /// A layer with another attribute (name, type or count).
    Attr,
    /// An attribute value breaks its rule.
    AttrValue,
    /// Two attributes out of order (an int8 layer's `min > max`).
    AttrOrder,
    /// A tensor the network has is missing.
    MissingTensor,
    /// A tensor the network has no place for.
    UnexpectedTensor,
    /// A tensor of another kind.
    TensorKind,
    /// A tensor of another element type.
    Dtype,
    /// A tensor of another shape.
    Shape,
    /// A tensor whose data length does not match its shape and type.
    DataLength,
    /// A tensor element breaks its rule.
    Value,
    /// An int8 layer's input quantization is not the previous layer's output
    /// quantization.
    Link,
    /// A tensor cannot be borrowed in place (alignment, endianness).
    Unborrowable,
    /// A checkpoint of another optimizer, or none.
    Optimizer,
    /// A scalar is missing.
    MissingScalar,
    /// A scalar of another type.
    ScalarType,
    /// A scalar value is not acceptable.
    InvalidScalar,
    /// Two scalars with the same name.
    DuplicateScalar,
    /// A name that cannot be stored.
    InvalidName,
    /// The output buffer is too small.
    BufferTooSmall,
    /// The file would exceed 4 GiB.
    TooLarge,
    /// An int8 file that was not made from this float file.
    Source,
    /// An attribute that records the network's structure (a residual block's number of
    /// layers per branch, a convolution's or pool's stride, padding or window) has another
    /// value: the file holds a network of another structure.
    Structure,
}

impl ErrorCode {
    /// A short name: `"bad_magic"`, `"checksum"`, `"shape"`, ….
    pub const fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadMagic => "bad_magic",
            Truncated => "truncated",
            Damaged => "damaged",
            Checksum => "checksum",
            Version1 => "version_1",
            UnsupportedVersion => "unsupported_version",
            UnsupportedFlags => "unsupported_flags",
            Malformed => "malformed",
            FileKind => "file_kind",
            LayerCount => "layer_count",
            LayerKind => "layer_kind",
            LayerShape => "layer_shape",
            Attr => "attribute",
            AttrValue => "attribute_value",
            AttrOrder => "attribute_order",
            MissingTensor => "missing_tensor",
            UnexpectedTensor => "unexpected_tensor",
            TensorKind => "tensor_kind",
            Dtype => "dtype",
            Shape => "shape",
            DataLength => "data_length",
            Value => "value",
            Link => "link",
            Unborrowable => "unborrowable",
            Optimizer => "optimizer",
            MissingScalar => "missing_scalar",
            ScalarType => "scalar_type",
            InvalidScalar => "invalid_scalar",
            DuplicateScalar => "duplicate_scalar",
            InvalidName => "invalid_name",
            BufferTooSmall => "buffer_too_small",
            TooLarge => "too_large",
            Source => "source",
            Structure => "structure",
        }
    }
}

/// How the bytes of a file break the layout ([`ErrorCode::Malformed`]), as a code that
/// costs a device no text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum Malformation {
    /// An unknown file kind in the header.
    FileKind = 1,
    /// An unknown optimizer code in the header.
    Optimizer,
    /// A source flag other than 0 or 1, or a digest without the flag.
    SourceFlag,
    /// A best-weights flag other than 0 or 1.
    BestFlag,
    /// Reserved header bytes are not zero.
    ReservedHeader,
    /// An optimizer in a file that is not a checkpoint, or a checkpoint without one.
    OptimizerKind,
    /// Scalars, best weights or a source digest in a kind of file that has none.
    NotThisKind,
    /// The header's length is not the file's, though the checksum matches.
    LengthField,
    /// A record runs past the end of the file or of its layer record.
    Overrun,
    /// A layer record's length is not a multiple of 4 of at least 44 bytes, or does not
    /// match its contents.
    RecordLength,
    /// Reserved bytes of a record are not zero.
    Reserved,
    /// Padding is not zero.
    Padding,
    /// A name is empty or has characters other than printable ASCII.
    Name,
    /// A shape of rank above 4, or with nonzero unused dimensions.
    Shape,
    /// An attribute of an unknown type.
    AttrType,
    /// An unknown section code.
    Section,
    /// An unknown tensor kind code.
    TensorKind,
    /// An unknown element type code.
    Dtype,
    /// A tensor section the file's kind or optimizer does not have.
    SectionNotAllowed,
    /// An unknown scalar type, or an invalid scalar value.
    Scalar,
    /// Bytes after the last record.
    Trailing,
    /// More scalar records than [`MAX_SCALARS`](super::MAX_SCALARS).
    TooManyScalars,
}

impl Malformation {
    const ALL: [Malformation; 22] = [
        Malformation::FileKind,
        Malformation::Optimizer,
        Malformation::SourceFlag,
        Malformation::BestFlag,
        Malformation::ReservedHeader,
        Malformation::OptimizerKind,
        Malformation::NotThisKind,
        Malformation::LengthField,
        Malformation::Overrun,
        Malformation::RecordLength,
        Malformation::Reserved,
        Malformation::Padding,
        Malformation::Name,
        Malformation::Shape,
        Malformation::AttrType,
        Malformation::Section,
        Malformation::TensorKind,
        Malformation::Dtype,
        Malformation::SectionNotAllowed,
        Malformation::Scalar,
        Malformation::Trailing,
        Malformation::TooManyScalars,
    ];

    /// What is wrong, in words.
    pub const fn describe(self) -> &'static str {
        use Malformation::*;
        match self {
            FileKind => "unknown file kind",
            Optimizer => "unknown optimizer code",
            SourceFlag => "a source flag other than 0 or 1, or a digest without it",
            BestFlag => "a best-weights flag other than 0 or 1",
            ReservedHeader => "reserved header bytes are not zero",
            OptimizerKind => {
                "an optimizer in a file that is not a checkpoint, or a checkpoint without one"
            }
            NotThisKind => {
                "scalars, best weights or a source digest in a kind of file that has none"
            }
            LengthField => "the header's length is not the file's, though the checksum matches",
            Overrun => "a record runs past the end of the file or of its layer record",
            RecordLength => {
                "a layer record's length is not a multiple of 4 of at least 44 bytes, or not its contents'"
            }
            Reserved => "reserved bytes of a record are not zero",
            Padding => "padding is not zero",
            Name => "a name is empty or has characters other than printable ASCII",
            Shape => "a shape of rank above 4, or with nonzero unused dimensions",
            AttrType => "an attribute of an unknown type",
            Section => "unknown section code",
            TensorKind => "unknown tensor kind code",
            Dtype => "unknown element type code",
            SectionNotAllowed => "a tensor section the file's kind or optimizer does not have",
            Scalar => "an unknown scalar type, or an invalid scalar value",
            Trailing => "bytes after the last record",
            TooManyScalars => "more scalar records than the format allows (1,024)",
        }
    }
}

/// Why a file was refused, or could not be written: a code, where (layer, name, section)
/// and two numbers whose meaning the code gives. 32 bytes on a 64-bit host, 24 on a 32-bit
/// device; `Copy`; holds nothing from the file's bytes.
///
/// Reading never panics: every input, however damaged or hostile, ends in `Ok` or in one of
/// these. [`Display`](fmt::Display) says what was expected and what was found in a
/// sentence; [`describe`](Self::describe) writes a shorter line without `core::fmt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FormatError {
    name: &'static str,
    layer: u32,
    expected: u32,
    found: u32,
    code: ErrorCode,
    section: u8,
    detail: u8,
    rule: u8,
}

/// No layer.
const NO_LAYER: u32 = u32::MAX;

const fn sat(n: usize) -> u32 {
    if n > u32::MAX as usize {
        u32::MAX
    } else {
        n as u32
    }
}

const RULES: [Rule; 10] = Rule::ALL;

const fn rule_code(rule: Rule) -> u8 {
    let mut i = 0;
    while i < RULES.len() {
        if RULES[i] as u8 == rule as u8 {
            return i as u8;
        }
        i += 1;
    }
    0
}

impl FormatError {
    pub(crate) const fn new(code: ErrorCode) -> Self {
        FormatError {
            name: "",
            layer: NO_LAYER,
            expected: 0,
            found: 0,
            code,
            section: 0,
            detail: 0,
            rule: 0,
        }
    }

    pub(crate) const fn at(mut self, layer: usize) -> Self {
        self.layer = sat(layer);
        self
    }

    pub(crate) const fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    pub(crate) const fn values(mut self, expected: usize, found: usize) -> Self {
        self.expected = sat(expected);
        self.found = sat(found);
        self
    }

    pub(crate) const fn bits(mut self, expected: u32, found: u32) -> Self {
        self.expected = expected;
        self.found = found;
        self
    }

    pub(crate) const fn in_section(mut self, section: Section) -> Self {
        self.section = section.code();
        self
    }

    pub(crate) const fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }

    pub(crate) const fn detail(mut self, detail: u8) -> Self {
        self.detail = detail;
        self
    }

    /// A value of type `dtype` with bits `bits` at element `index` breaks `rule`.
    pub(crate) const fn breaks(
        mut self,
        rule: Rule,
        dtype: Dtype,
        index: usize,
        bits: u32,
    ) -> Self {
        self.rule = rule_code(rule);
        self.detail = dtype.code();
        self.expected = sat(index);
        self.found = bits;
        self
    }

    /// [`ErrorCode::Malformed`] at byte `offset`, `what` being wrong.
    pub(crate) const fn malformed(offset: usize, what: Malformation) -> Self {
        Self::new(ErrorCode::Malformed)
            .values(offset, 0)
            .detail(what as u8)
    }

    /// How the bytes break the layout, for [`ErrorCode::Malformed`].
    pub fn malformation(&self) -> Option<Malformation> {
        match self.code {
            ErrorCode::Malformed => Malformation::ALL
                .into_iter()
                .find(|m| *m as u8 == self.detail),
            _ => None,
        }
    }

    /// [`ErrorCode::BufferTooSmall`].
    pub(crate) const fn buffer(needed: usize, available: usize) -> Self {
        Self::new(ErrorCode::BufferTooSmall).values(needed, available)
    }

    /// What went wrong.
    pub const fn code(&self) -> ErrorCode {
        self.code
    }

    /// The layer the error is about, if any.
    pub const fn layer(&self) -> Option<usize> {
        if self.layer == NO_LAYER {
            None
        } else {
            Some(self.layer as usize)
        }
    }

    /// The name the error is about — a tensor, an attribute, a scalar or an expected
    /// layer kind, taken from the network's spec. Empty if none.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The section of the tensor the error is about.
    pub const fn section(&self) -> Option<Section> {
        Section::from_code(self.section)
    }

    /// The expected value, as the code defines it (a count, a dimension, a checksum, the
    /// index of a bad element, …).
    pub const fn expected(&self) -> u32 {
        self.expected
    }

    /// The found value, as the code defines it (for a value that breaks a rule, its bits).
    pub const fn found(&self) -> u32 {
        self.found
    }

    /// The rule a bad value breaks ([`ErrorCode::Value`], [`ErrorCode::AttrValue`]).
    pub const fn rule(&self) -> Option<Rule> {
        match self.code {
            ErrorCode::Value | ErrorCode::AttrValue => {
                Some(RULES[self.rule as usize % RULES.len()])
            }
            _ => None,
        }
    }

    /// Writes a one-line description — the code's number ([`ErrorCode`] as `u8`), the
    /// layer, the name and the numbers — to `out`, without `core::fmt` (so a firmware that
    /// prints it pulls in no formatting code and no message text):
    /// `format error 20, layer 2, weight, expected 784, found 256` (20 is
    /// [`ErrorCode::Shape`]; `ErrorCode::as_str` names it on the host).
    pub fn describe(&self, out: &mut dyn FnMut(&[u8])) {
        field(out, b"format error ", self.code as u32);
        if let Some(layer) = self.layer() {
            field(out, b", layer ", layer as u32);
        }
        if !self.name.is_empty() {
            out(b", ");
            out(self.name.as_bytes());
        }
        field(out, b", expected ", self.expected);
        field(out, b", found ", self.found);
    }
}

/// Writes `label` and `value` in decimal (one body for every field of
/// [`FormatError::describe`]).
#[inline(never)]
fn field(out: &mut dyn FnMut(&[u8]), label: &[u8], value: u32) {
    out(label);
    out(decimal(value, &mut [0; 10]));
}

/// `"in layer 2"` prefixes: `layer 2 (tensor `weight`): `.
struct Where<'e>(&'e FormatError, &'static str);

impl fmt::Display for Where<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.0;
        if let Some(layer) = e.layer() {
            write!(f, "layer {layer}")?;
            if !e.name.is_empty() {
                let prefix = e.section().map_or("", Section::prefix);
                write!(f, " ({} `{prefix}{}`)", self.1, e.name)?;
            }
            f.write_str(": ")?;
        } else if !e.name.is_empty() {
            write!(f, "{} `{}`: ", self.1, e.name)?;
        }
        Ok(())
    }
}

/// A stored value for a message: the bits as the type they are.
struct Bits(u8, u32);

impl fmt::Display for Bits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Dtype::from_code(self.0) {
            Some(Dtype::F32) => write!(f, "{:e}", f32::from_bits(self.1)),
            _ => write!(f, "{}", self.1 as i32),
        }
    }
}

fn kind_name(signature: u32) -> &'static str {
    known_kind(signature).unwrap_or("unknown")
}

fn file_kind(code: u32) -> &'static str {
    u8::try_from(code)
        .ok()
        .and_then(FileKind::from_code)
        .map_or("an unknown kind of content", FileKind::describe)
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorCode::*;
        let (exp, found) = (self.expected, self.found);
        match self.code {
            BadMagic => write!(
                f,
                "not a firmnet weight file: it starts with {:02x?}, not \"FNET\"",
                found.to_le_bytes()
            ),
            Truncated => write!(
                f,
                "the file is truncated: it needs at least {exp} bytes, only {found} are there"
            ),
            Damaged => write!(
                f,
                "the file is cut short or damaged: its header says {exp} bytes, {found} are there, \
                 and its checksum does not match"
            ),
            Checksum => write!(
                f,
                "the file is damaged: its checksum is {exp:#010x}, its contents give {found:#010x}"
            ),
            Version1 => f.write_str(
                "this is a version 1 firmnet file, and this build reads version 2; convert it on \
                 the host with `cargo run --release --example upgrade_v1 -- FILE` \
                 (firmnet::format::v1), or save it again from the run that trained it",
            ),
            UnsupportedVersion => write!(
                f,
                "the file has format version {found}; this build reads version {VERSION}"
            ),
            UnsupportedFlags => write!(
                f,
                "the file requires features this build does not know (flags {found:#04x})"
            ),
            Malformed => write!(
                f,
                "malformed file at byte {exp}: {}",
                self.malformation()
                    .map_or("unknown", Malformation::describe)
            ),
            FileKind => write!(
                f,
                "this file holds {}, and the network is {}",
                file_kind(found),
                file_kind(exp)
            ),
            LayerCount => write!(
                f,
                "the file describes {found} layers, the network has {exp}"
            ),
            LayerKind => write!(
                f,
                "layer {}: the file has a {} layer, the network a {} layer",
                self.layer,
                kind_name(found),
                self.name
            ),
            LayerShape => {
                let side = if self.detail.is_multiple_of(2) {
                    "input"
                } else {
                    "output"
                };
                write!(f, "layer {} ({}): its {side}'s ", self.layer, self.name)?;
                match self.detail / 2 {
                    0 => f.write_str("rank")?,
                    d => write!(f, "dimension {d}")?,
                }
                write!(f, " is {found} in the file, the network's is {exp}")
            }
            Attr if self.detail == 1 => write!(
                f,
                "layer {} ({}): the file's layer has {found} attributes, the network's {exp}",
                self.layer, self.name
            ),
            Attr => write!(
                f,
                "{}the file has another attribute in its place (another name or type)",
                Where(self, "attribute")
            ),
            AttrValue => write!(
                f,
                "{}the value {} is not {}",
                Where(self, "attribute"),
                Bits(self.detail, found),
                self.rule().map_or("valid", Rule::expectation)
            ),
            AttrOrder => write!(
                f,
                "{}the value {} is above the upper bound {}",
                Where(self, "attribute"),
                exp as i32,
                found as i32
            ),
            MissingTensor | UnexpectedTensor if self.detail == 1 => write!(
                f,
                "layer {} ({}): the file's layer has {found} tensors, the network's {exp}",
                self.layer, self.name
            ),
            MissingTensor => write!(
                f,
                "{}the file has another tensor in its place, or none",
                Where(self, "tensor")
            ),
            UnexpectedTensor => write!(
                f,
                "layer {}: the file has a tensor the network has no place for",
                self.layer
            ),
            TensorKind => write!(
                f,
                "{}it is of another kind in the file (code {found}, expected {exp})",
                Where(self, "tensor")
            ),
            Dtype => write!(
                f,
                "{}its element type is {} in the file, the network's is {}",
                Where(self, "tensor"),
                crate::spec::Dtype::from_code(found as u8).map_or("unknown", |d| d.name()),
                crate::spec::Dtype::from_code(exp as u8).map_or("unknown", |d| d.name())
            ),
            Shape if self.detail == u8::MAX => write!(
                f,
                "{}it has {found} dimensions in the file, the network's has {exp}",
                Where(self, "tensor")
            ),
            Shape => write!(
                f,
                "{}dimension {} is {found} in the file, the network expects {exp}",
                Where(self, "tensor"),
                self.detail + 1
            ),
            DataLength => write!(
                f,
                "{}it holds {found} bytes of data, its shape and type need {exp}",
                Where(self, "tensor")
            ),
            Value => write!(
                f,
                "{}element {exp} is {}, not {}",
                Where(self, "tensor"),
                Bits(self.detail, found),
                self.rule().map_or("valid", Rule::expectation)
            ),
            Link => write!(
                f,
                "layer {}: its input is quantized differently from the output of layer {} \
                 (the {} differs: {} in this layer, {} before)",
                self.layer,
                self.layer.saturating_sub(1),
                self.name,
                Bits(self.detail, found),
                Bits(self.detail, exp)
            ),
            Unborrowable => f.write_str(match self.detail {
                1 => {
                    "the file cannot be borrowed in place: it is little-endian and this target \
                     is big-endian; load a copy with format::load"
                }
                2 => {
                    "the file cannot be borrowed in place: it does not start at a multiple of 4 \
                     bytes; place it at an aligned address (firmnet::format::Aligned)"
                }
                _ => {
                    "the network borrows its arrays and cannot be loaded into; build it over \
                     the file with format::view"
                }
            }),
            Optimizer => {
                let name = |c: u32| {
                    OptimizerKind::from_code(c as u8)
                        .ok()
                        .flatten()
                        .map_or("none", OptimizerKind::name)
                };
                write!(
                    f,
                    "the checkpoint holds the state of {} (expected {})",
                    name(found),
                    name(exp)
                )
            }
            MissingScalar => write!(f, "the file lacks the scalar `{}`", self.name),
            ScalarType => write!(
                f,
                "the scalar `{}` has another type in the file than the one wanted",
                self.name
            ),
            InvalidScalar if self.detail == 1 => write!(
                f,
                "a checkpoint holds at most {exp} scalars; this one would hold {found}"
            ),
            InvalidScalar if self.name.is_empty() => write!(
                f,
                "scalar number {exp} has an unacceptable value or a name that cannot be stored"
            ),
            InvalidScalar => write!(f, "the scalar `{}` has an unacceptable value", self.name),
            DuplicateScalar => write!(
                f,
                "two scalars have the same name{}",
                if self.name.is_empty() { "" } else { ": " }
            )
            .and_then(|()| f.write_str(self.name)),
            InvalidName => write!(
                f,
                "a name of {found} bytes cannot be stored: names are 1 to 255 printable ASCII characters without spaces"
            ),
            BufferTooSmall => write!(
                f,
                "the buffer is too small: the file needs {exp} bytes, the buffer has {found}"
            ),
            TooLarge => {
                f.write_str("the file would exceed 4 GiB, the most its 32-bit lengths can address")
            }
            Source => write!(
                f,
                "the int8 file was made from another float file (digest {exp:#010x}, this one is {found:#010x})"
            ),
            Structure => write!(
                f,
                "{}it is {} in the file, the network's structure has {}",
                Where(self, "attribute"),
                found as i32,
                exp as i32
            ),
        }
    }
}

impl core::error::Error for FormatError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_printable_without_fmt() {
        assert!(size_of::<FormatError>() <= 32);
        let e = FormatError::new(ErrorCode::Shape)
            .at(2)
            .named("weight")
            .values(784, 256)
            .detail(1);
        let mut line = std::vec::Vec::new();
        e.describe(&mut |b| line.extend_from_slice(b));
        assert_eq!(
            line,
            b"format error 20, layer 2, weight, expected 784, found 256"
        );
        assert_eq!(ErrorCode::Shape as u8, 20);
        for m in Malformation::ALL {
            let e = FormatError::malformed(7, m);
            assert_eq!(e.malformation(), Some(m));
            assert!(std::format!("{e}").ends_with(m.describe()));
        }
        assert_eq!(
            std::format!("{e}"),
            "layer 2 (tensor `weight`): dimension 2 is 256 in the file, the network expects 784"
        );
    }
}
