//! [`FormatError`]: everything that can be wrong with a file, named.

use core::fmt;

use super::layout::{Dtype, OptimizerKind, Section, kind_name};
use crate::layers::ParamKind;

/// A name quoted in an error: up to [`Name::CAPACITY`] bytes kept inline (errors carry no
/// heap), longer names cut at a character boundary and shown with a trailing `…`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name {
    buf: [u8; Name::CAPACITY],
    len: u8,
    truncated: bool,
}

impl Name {
    /// Bytes kept.
    pub const CAPACITY: usize = 32;

    /// `name`, cut to [`CAPACITY`](Self::CAPACITY) bytes at a character boundary.
    pub fn new(name: &str) -> Self {
        let mut len = name.len().min(Self::CAPACITY);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        // Copied by zip rather than by slicing, so no bounds check (and no panic path)
        // reaches a device's error handling.
        let mut buf = [0u8; Self::CAPACITY];
        for (d, &s) in buf.iter_mut().zip(name.as_bytes()).take(len) {
            *d = s;
        }
        Name {
            buf,
            len: len as u8,
            truncated: len < name.len(),
        }
    }

    /// The kept part of the name.
    pub fn as_str(&self) -> &str {
        let bytes = self.buf.get(..usize::from(self.len)).unwrap_or_default();
        core::str::from_utf8(bytes).unwrap_or_default()
    }

    /// Whether the name was longer than what is kept.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        !self.truncated && self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

/// The shape of a tensor as an error shows it: `128×784`, `16`, or `()` for a scalar. Keeps
/// the first [`Dims::MAX_RANK`] dimensions and the rank; a dimension above `u32::MAX` is
/// shown as `u32::MAX` (no firmnet tensor comes near).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dims {
    dims: [u32; Dims::MAX_RANK],
    rank: u8,
}

fn dim(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Dims {
    /// Dimensions kept.
    pub const MAX_RANK: usize = 4;

    /// `rows × cols`.
    pub fn matrix(rows: usize, cols: usize) -> Self {
        Dims {
            dims: [dim(rows), dim(cols), 0, 0],
            rank: 2,
        }
    }

    /// The shape with the given dimensions (only the first [`MAX_RANK`](Self::MAX_RANK)
    /// are kept).
    pub fn new(dims: &[usize]) -> Self {
        let mut d = [0; Self::MAX_RANK];
        for (slot, &n) in d.iter_mut().zip(dims) {
            *slot = dim(n);
        }
        Dims {
            dims: d,
            rank: u8::try_from(dims.len()).unwrap_or(u8::MAX),
        }
    }

    /// Number of dimensions (saturated at 255).
    pub const fn rank(&self) -> usize {
        self.rank as usize
    }

    /// The kept dimensions.
    pub fn dims(&self) -> &[u32] {
        self.dims
            .get(..self.rank().min(Self::MAX_RANK))
            .unwrap_or_default()
    }
}

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rank == 0 {
            return f.write_str("()");
        }
        for (i, d) in self.dims().iter().enumerate() {
            if i > 0 {
                f.write_str("×")?;
            }
            write!(f, "{d}")?;
        }
        if self.rank() > Self::MAX_RANK {
            f.write_str("×…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{self}]")
    }
}

/// Why a file was refused, or could not be written. Every variant names what was expected
/// and what was found; [`Display`](fmt::Display) says it in a sentence.
///
/// Reading never panics: every input, however damaged or hostile, ends in `Ok` or in one of
/// these.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum FormatError {
    /// The data ends before the file does.
    Truncated {
        /// Bytes the file needs.
        needed: usize,
        /// Bytes there are.
        available: usize,
    },
    /// There are bytes after the end the header states.
    TrailingBytes {
        /// The length the header states.
        expected: usize,
        /// The length of the data.
        found: usize,
    },
    /// The data does not start with `FNET`: it is not a firmnet file.
    BadMagic {
        /// The first four bytes (zero-filled if there are fewer).
        found: [u8; 4],
    },
    /// A format version this build cannot read.
    UnsupportedVersion {
        /// The file's version.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The header requires features this build does not know.
    UnsupportedFlags {
        /// The header's flags.
        found: u16,
    },
    /// The checksum does not match the contents: the file is damaged.
    Checksum {
        /// The checksum stored at the end of the file.
        stored: u32,
        /// The checksum of the contents.
        computed: u32,
    },
    /// The bytes at `offset` break the layout (a reserved byte that is not zero, a record
    /// running past the end, an unknown code…).
    Malformed {
        /// Position in the file.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The file describes a network with a different number of layers.
    LayerCount {
        /// Layers of the network type.
        expected: usize,
        /// Layers in the file.
        found: usize,
    },
    /// A layer of the file is of another kind than the network's.
    LayerKind {
        /// Index of the layer.
        layer: usize,
        /// The network's layer kind.
        expected: &'static str,
        /// The file's layer kind.
        found: Name,
    },
    /// A layer of the file has other input or output sizes than the network's.
    LayerSize {
        /// Index of the layer.
        layer: usize,
        /// The layer's kind.
        kind: &'static str,
        /// The network's `(inputs, outputs)`.
        expected: (usize, usize),
        /// The file's `(inputs, outputs)`.
        found: (usize, usize),
    },
    /// The network has a tensor the file lacks.
    MissingTensor {
        /// Section of the tensor.
        section: Section,
        /// Index of the layer.
        layer: usize,
        /// The tensor's name (for safetensors, the full key).
        tensor: Name,
    },
    /// The file has a tensor the network has no place for.
    UnexpectedTensor {
        /// Section of the tensor.
        section: Section,
        /// Index of the layer the file gives.
        layer: usize,
        /// The tensor's name.
        tensor: Name,
    },
    /// A section holds another number of tensors than the network has (a tensor stored
    /// twice).
    TensorCount {
        /// The section.
        section: Section,
        /// Tensors the network has.
        expected: usize,
        /// Tensors in the file.
        found: usize,
    },
    /// A tensor of the file is of another kind than the network's tensor of that name.
    TensorKind {
        /// Section of the tensor.
        section: Section,
        /// Index of the layer.
        layer: usize,
        /// The tensor's name.
        tensor: Name,
        /// The network's kind.
        expected: ParamKind,
        /// The file's kind.
        found: ParamKind,
    },
    /// A tensor has another element type than the one wanted.
    Dtype {
        /// Section of the tensor.
        section: Section,
        /// Index of the layer.
        layer: usize,
        /// The tensor's name.
        tensor: Name,
        /// The wanted type.
        expected: Dtype,
        /// The stored type.
        found: Dtype,
    },
    /// A tensor has another shape in the file than in the network.
    Shape {
        /// Section of the tensor.
        section: Section,
        /// Index of the layer.
        layer: usize,
        /// The layer's kind.
        kind: &'static str,
        /// The tensor's name (for safetensors, the full key).
        tensor: Name,
        /// The network's shape.
        expected: Dims,
        /// The file's shape.
        found: Dims,
    },
    /// A stored value is NaN or infinite.
    NonFinite {
        /// Section of the tensor.
        section: Section,
        /// Index of the layer.
        layer: usize,
        /// The tensor's name.
        tensor: Name,
        /// Position of the first bad element in the flat tensor.
        index: usize,
    },
    /// A value that cannot be negative (a variance, a second moment) is.
    Negative {
        /// Section of the tensor.
        section: Section,
        /// Index of the layer.
        layer: usize,
        /// The tensor's name.
        tensor: Name,
        /// Position of the first bad element in the flat tensor.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A quantization parameter of an int8 layer is out of its range (a scale that is not
    /// finite and > 0, a zero point or clamp bound outside `i8`, `min > max`, a shift outside
    /// `−31..=30`, a negative multiplier).
    QuantValue {
        /// Index of the layer.
        layer: usize,
        /// The tensor's name (`scales`, `zero_points`, `clamp`, `multiplier`, `shift`,
        /// `weight_scale`).
        tensor: Name,
        /// Position of the first bad element in the flat tensor.
        index: usize,
        /// The value (integers are exact in an `f64`).
        value: f64,
        /// What is expected, in words (`"a finite scale > 0"`, …).
        expected: &'static str,
    },
    /// A tensor cannot be borrowed in place ([`qnet_ref`](super::qnet_ref)): its bytes are
    /// not aligned for its element type, or the target is big-endian.
    Unborrowable {
        /// Index of the layer.
        layer: usize,
        /// The tensor's name.
        tensor: Name,
        /// Why, in words.
        reason: &'static str,
    },
    /// The file holds the state of another optimizer, or none.
    Optimizer {
        /// The optimizer being restored.
        expected: OptimizerKind,
        /// The file's optimizer, `None` if the file holds no training state.
        found: Option<OptimizerKind>,
    },
    /// A scalar the loader needs is not in the file.
    MissingScalar {
        /// Its name.
        name: Name,
    },
    /// A scalar has another type than the one wanted.
    ScalarType {
        /// Its name.
        name: Name,
        /// The wanted type (`"u32"`, `"u64"`, `"f32"`, `"f64"`, `"rng"`).
        expected: &'static str,
        /// The stored type.
        found: &'static str,
    },
    /// A scalar's value is not acceptable.
    InvalidScalar {
        /// Its name.
        name: Name,
        /// Why.
        reason: &'static str,
    },
    /// Two scalars have the same name.
    DuplicateScalar {
        /// The name.
        name: Name,
    },
    /// A name cannot be stored: it must be 1 to 255 printable ASCII characters without
    /// spaces.
    InvalidName {
        /// The name.
        name: Name,
    },
    /// The output buffer is too small for the file.
    BufferTooSmall {
        /// Bytes the file needs.
        needed: usize,
        /// Bytes of the buffer.
        available: usize,
    },
    /// The file would exceed 4 GiB, the most its 32-bit offsets can address.
    TooLarge {
        /// Bytes the file would need (saturated at `usize::MAX`).
        size: usize,
    },
    /// A safetensors file could not be parsed.
    Safetensors {
        /// What is wrong.
        reason: &'static str,
    },
    /// A safetensors file has a tensor the network has no place for.
    UnexpectedName {
        /// The tensor's key.
        tensor: Name,
    },
    /// A safetensors tensor has an element type that cannot become `f32`.
    ForeignDtype {
        /// The tensor's key.
        tensor: Name,
        /// Its type, as safetensors names it (`"I64"`, `"U8"`…).
        found: &'static str,
    },
}

/// Writes `"{prefix}{tensor}"`, e.g. `first moment of weight`.
struct Tensor(Section, Name);

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.0.prefix(), self.1)
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use FormatError::*;
        match *self {
            Truncated { needed, available } => write!(
                f,
                "the file is truncated: it needs {needed} bytes, only {available} are there"
            ),
            TrailingBytes { expected, found } => write!(
                f,
                "the file should end after {expected} bytes, but {found} bytes were given"
            ),
            BadMagic { found } => write!(
                f,
                "not a firmnet weight file: it starts with {found:02x?}, not \"FNET\""
            ),
            UnsupportedVersion { found, supported } => write!(
                f,
                "the file has format version {found}; this build reads version {supported}"
            ),
            UnsupportedFlags { found } => write!(
                f,
                "the file requires features this build does not know (flags {found:#06x})"
            ),
            Checksum { stored, computed } => write!(
                f,
                "the file is damaged: its checksum is {stored:#010x}, its contents give {computed:#010x}"
            ),
            Malformed { offset, what } => write!(f, "malformed file at byte {offset}: {what}"),
            LayerCount { expected, found } => write!(
                f,
                "the file describes {found} layers, the network has {expected}"
            ),
            LayerKind {
                layer,
                expected,
                found,
            } => write!(
                f,
                "layer {layer}: the file has a {found} layer, the network a {expected} layer"
            ),
            LayerSize {
                layer,
                kind,
                expected,
                found,
            } => write!(
                f,
                "layer {layer} ({kind}): the file has {} inputs and {} outputs, the network expects {} and {}",
                found.0, found.1, expected.0, expected.1
            ),
            MissingTensor {
                section,
                layer,
                tensor,
            } => write!(
                f,
                "layer {layer}: the file has no {} (the network has it)",
                Tensor(section, tensor)
            ),
            UnexpectedTensor {
                section,
                layer,
                tensor,
            } => write!(
                f,
                "layer {layer}: the file has a {} the network does not have",
                Tensor(section, tensor)
            ),
            TensorCount {
                section,
                expected,
                found,
            } => write!(
                f,
                "the file holds {found} tensors of {section}, the network expects {expected}"
            ),
            TensorKind {
                section,
                layer,
                tensor,
                expected,
                found,
            } => write!(
                f,
                "layer {layer}: {} is a {} in the file, the network expects a {}",
                Tensor(section, tensor),
                kind_name(found),
                kind_name(expected)
            ),
            Dtype {
                section,
                layer,
                tensor,
                expected,
                found,
            } => write!(
                f,
                "layer {layer}: {} holds {found} values in the file, the network expects {expected}",
                Tensor(section, tensor)
            ),
            Shape {
                section,
                layer,
                kind,
                tensor,
                expected,
                found,
            } => {
                write!(f, "layer {layer}")?;
                if !kind.is_empty() {
                    write!(f, " ({kind})")?;
                }
                write!(
                    f,
                    ": {} has shape {found} in the file, the network expects {expected}",
                    Tensor(section, tensor)
                )
            }
            NonFinite {
                section,
                layer,
                tensor,
                index,
            } => write!(
                f,
                "layer {layer}: {}[{index}] is NaN or infinite",
                Tensor(section, tensor)
            ),
            Negative {
                section,
                layer,
                tensor,
                index,
                value,
            } => write!(
                f,
                "layer {layer}: {}[{index}] is {value}, it cannot be negative",
                Tensor(section, tensor)
            ),
            QuantValue {
                layer,
                tensor,
                index,
                value,
                expected,
            } => write!(
                f,
                "layer {layer}: {tensor}[{index}] is {value} in the file, the network expects {expected}"
            ),
            Unborrowable {
                layer,
                tensor,
                reason,
            } => write!(
                f,
                "layer {layer}: tensor {tensor} cannot be borrowed from the bytes in place: {reason}"
            ),
            Optimizer {
                expected,
                found: Some(found),
            } => write!(f, "the file holds the state of {found}, not of {expected}"),
            Optimizer {
                expected,
                found: None,
            } => write!(
                f,
                "the file holds parameters only, no {expected} state to resume from"
            ),
            MissingScalar { name } => write!(f, "the file has no scalar `{name}`"),
            ScalarType {
                name,
                expected,
                found,
            } => write!(
                f,
                "scalar `{name}` is a {found} in the file, a {expected} is expected"
            ),
            InvalidScalar { name, reason } => write!(f, "scalar `{name}`: {reason}"),
            DuplicateScalar { name } => write!(f, "scalar `{name}` appears twice"),
            InvalidName { name } => write!(
                f,
                "name `{name}` cannot be stored: names are 1 to 255 printable ASCII characters without spaces"
            ),
            BufferTooSmall { needed, available } => write!(
                f,
                "the file needs {needed} bytes, the buffer has {available}"
            ),
            TooLarge { size } => write!(
                f,
                "the file would have {size} bytes; the format addresses at most 4 GiB"
            ),
            Safetensors { reason } => write!(f, "invalid safetensors file: {reason}"),
            UnexpectedName { tensor } => write!(
                f,
                "the safetensors file has a tensor `{tensor}` the network has no place for"
            ),
            ForeignDtype { tensor, found } => write!(
                f,
                "safetensors tensor `{tensor}` holds {found} values; F32, F64, F16 or BF16 are expected"
            ),
        }
    }
}

impl core::error::Error for FormatError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn names_are_cut_at_char_boundaries() {
        let n = Name::new("weight");
        assert_eq!(n.as_str(), "weight");
        assert!(n == "weight" && !n.is_truncated());
        let long = "é".repeat(30); // 60 bytes
        let n = Name::new(&long);
        assert!(n.is_truncated());
        assert_eq!(n.as_str().len(), 32);
        assert!(n.to_string().ends_with('…'));
    }

    #[test]
    fn dims_display() {
        assert_eq!(Dims::matrix(128, 784).to_string(), "128×784");
        assert_eq!(Dims::new(&[16]).to_string(), "16");
        assert_eq!(Dims::new(&[]).to_string(), "()");
        assert_eq!(Dims::new(&[1, 2, 3, 4, 5]).to_string(), "1×2×3×4×…");
    }

    #[test]
    fn shape_message() {
        let e = FormatError::Shape {
            section: Section::Params,
            layer: 2,
            kind: "dense",
            tensor: Name::new("weight"),
            expected: Dims::matrix(128, 784),
            found: Dims::matrix(128, 256),
        };
        assert_eq!(
            e.to_string(),
            "layer 2 (dense): weight has shape 128×256 in the file, the network expects 128×784"
        );
    }
}
