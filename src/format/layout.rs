//! The constants and codes of the byte layout (see the [module docs](super) for the tables).

use core::fmt;

use crate::layers::ParamKind;
use crate::rng::Rng;

/// The first four bytes of every file.
pub const MAGIC: [u8; 4] = *b"FNET";

/// The format version this crate writes, and the only one it reads.
pub const VERSION: u16 = 1;

/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 32;

/// Bytes of the checksum that ends the file.
pub const CHECKSUM_LEN: usize = 4;

/// Every record, and every tensor's data, starts at a multiple of this many bytes from the
/// start of the file.
pub const ALIGN: usize = 4;

/// The longest name (layer kind, tensor or scalar name) a file can hold, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// Bytes of the fixed part of a layer record (before the kind string).
pub(crate) const LAYER_FIXED: usize = 12;
/// Bytes of the fixed part of a scalar record (before the name).
pub(crate) const SCALAR_FIXED: usize = 4;
/// Bytes of the fixed part of a tensor record (before the name).
pub(crate) const TENSOR_FIXED: usize = 20;

/// `n` rounded up to a multiple of [`ALIGN`], or `None` on overflow.
pub(crate) const fn padded(n: usize) -> Option<usize> {
    match n.checked_add(ALIGN - 1) {
        Some(m) => Some(m / ALIGN * ALIGN),
        None => None,
    }
}

/// Whether `name` can be stored: 1 to [`MAX_NAME_LEN`] printable ASCII characters other
/// than space (`!` to `~`).
pub(crate) fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_LEN && name.iter().all(u8::is_ascii_graphic)
}

/// Which part of the saved state a tensor belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Section {
    /// The learnable parameters ([`Params::tensor`](crate::layers::Params::tensor)).
    Params = 1,
    /// The inference state that is not learned, such as batch normalization's running
    /// statistics ([`Layer::buffer`](crate::layers::Layer::buffer)).
    Buffers = 2,
    /// The optimizer's first moment per parameter: Adam's `m`, SGD's velocity.
    FirstMoment = 3,
    /// The optimizer's second moment per parameter: Adam's `v`.
    SecondMoment = 4,
}

impl Section {
    /// All sections, in the order a file stores them.
    pub const ALL: [Section; 4] = [
        Section::Params,
        Section::Buffers,
        Section::FirstMoment,
        Section::SecondMoment,
    ];

    /// The byte that stands for this section.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The section a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Section::Params),
            2 => Some(Section::Buffers),
            3 => Some(Section::FirstMoment),
            4 => Some(Section::SecondMoment),
            _ => None,
        }
    }

    /// The first moment for `k = 0`, the second for `k = 1`.
    pub(crate) const fn moment(k: usize) -> Self {
        if k == 0 {
            Section::FirstMoment
        } else {
            Section::SecondMoment
        }
    }

    /// Words that put a tensor's name in its section: `""` for parameters and buffers,
    /// `"first moment of "` for the moments.
    pub(crate) const fn prefix(self) -> &'static str {
        match self {
            Section::Params | Section::Buffers => "",
            Section::FirstMoment => "first moment of ",
            Section::SecondMoment => "second moment of ",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Params => "parameters",
            Section::Buffers => "buffers",
            Section::FirstMoment => "first moments",
            Section::SecondMoment => "second moments",
        })
    }
}

/// The element type of a stored tensor. Float networks use [`Dtype::F32`]; int8 networks
/// (see the [module docs](super)) also use the integer types, which the float loaders
/// refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Dtype {
    /// IEEE 754 binary32, little-endian.
    F32 = 1,
    /// Signed 8-bit integer (int8 networks' weights).
    I8 = 2,
    /// Signed 32-bit integer, little-endian (int8 networks' biases, multipliers, shifts).
    I32 = 3,
}

impl Dtype {
    /// The byte that stands for this type.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The type a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Dtype::F32),
            2 => Some(Dtype::I8),
            3 => Some(Dtype::I32),
            _ => None,
        }
    }

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::I8 => 1,
        }
    }

    /// The type's name: `"f32"`, `"i8"`, `"i32"`.
    pub const fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::I8 => "i8",
            Dtype::I32 => "i32",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The byte that stands for a tensor kind.
pub(crate) const fn kind_code(kind: ParamKind) -> u8 {
    match kind {
        ParamKind::Weight => 1,
        ParamKind::Bias => 2,
        ParamKind::Scale => 3,
        ParamKind::Shift => 4,
        ParamKind::RunningMean => 5,
        ParamKind::RunningVar => 6,
    }
}

/// The tensor kind a byte stands for.
pub(crate) const fn kind_from_code(code: u8) -> Option<ParamKind> {
    match code {
        1 => Some(ParamKind::Weight),
        2 => Some(ParamKind::Bias),
        3 => Some(ParamKind::Scale),
        4 => Some(ParamKind::Shift),
        5 => Some(ParamKind::RunningMean),
        6 => Some(ParamKind::RunningVar),
        _ => None,
    }
}

/// A tensor kind in words, for messages.
pub(crate) const fn kind_name(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::Weight => "weight matrix",
        ParamKind::Bias => "bias",
        ParamKind::Scale => "scale (γ)",
        ParamKind::Shift => "shift (β)",
        ParamKind::RunningMean => "running mean",
        ParamKind::RunningVar => "running variance",
    }
}

/// The optimizer whose state a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum OptimizerKind {
    /// [`Adam`](crate::optim::Adam) (also AdamW): two moments.
    Adam = 1,
    /// [`Sgd`](crate::optim::Sgd): one moment, the velocity.
    Sgd = 2,
}

impl OptimizerKind {
    /// The byte that stands for this optimizer (0 stands for none).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The optimizer a byte stands for: `Ok(None)` for 0, `Err(())` for an unknown code.
    pub(crate) const fn from_code(code: u8) -> Result<Option<Self>, ()> {
        match code {
            0 => Ok(None),
            1 => Ok(Some(OptimizerKind::Adam)),
            2 => Ok(Some(OptimizerKind::Sgd)),
            _ => Err(()),
        }
    }

    /// Number of moment tensors per parameter.
    pub const fn moments(self) -> usize {
        match self {
            OptimizerKind::Adam => 2,
            OptimizerKind::Sgd => 1,
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Adam => "Adam",
            OptimizerKind::Sgd => "SGD",
        })
    }
}

/// The value of a named scalar: a counter, a setting, a measurement, a random state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// An unsigned 32-bit integer.
    U32(u32),
    /// An unsigned 64-bit integer.
    U64(u64),
    /// A 32-bit float. Infinities are allowed (a "best loss so far" starts at +∞); NaN is
    /// not.
    F32(f32),
    /// A 64-bit float. Infinities are allowed; NaN is not.
    F64(f64),
    /// The state of a random generator (never the all-zero state).
    Rng(Rng),
}

impl Value {
    /// The byte that stands for the value's type.
    pub(crate) const fn code(&self) -> u8 {
        match self {
            Value::U32(_) => 1,
            Value::U64(_) => 2,
            Value::F32(_) => 3,
            Value::F64(_) => 4,
            Value::Rng(_) => 5,
        }
    }

    /// Bytes of the stored value for a type code.
    pub(crate) const fn size_of_code(code: u8) -> Option<usize> {
        match code {
            1 | 3 => Some(4),
            2 | 4 => Some(8),
            5 => Some(16),
            _ => None,
        }
    }

    /// The name of a type code, for messages.
    pub(crate) const fn type_name_of_code(code: u8) -> &'static str {
        match code {
            1 => "u32",
            2 => "u64",
            3 => "f32",
            4 => "f64",
            5 => "rng",
            _ => "unknown",
        }
    }

    /// The name of the value's type: `"u32"`, `"u64"`, `"f32"`, `"f64"`, `"rng"`.
    pub const fn type_name(&self) -> &'static str {
        Self::type_name_of_code(self.code())
    }

    /// The little-endian bytes of the value (the first `size` of 16).
    pub(crate) fn to_bytes(self) -> ([u8; 16], usize) {
        let mut out = [0u8; 16];
        let n = match self {
            Value::U32(v) => put(&mut out, &v.to_le_bytes()),
            Value::U64(v) => put(&mut out, &v.to_le_bytes()),
            Value::F32(v) => put(&mut out, &v.to_le_bytes()),
            Value::F64(v) => put(&mut out, &v.to_le_bytes()),
            Value::Rng(r) => {
                for (chunk, s) in out.chunks_exact_mut(4).zip(r.state()) {
                    chunk.copy_from_slice(&s.to_le_bytes());
                }
                16
            }
        };
        (out, n)
    }

    /// Whether a reader accepts the value: no NaN, no all-zero generator state (which
    /// [`Rng`] cannot hold anyway).
    pub(crate) fn is_valid(&self) -> bool {
        match *self {
            Value::F32(v) => !v.is_nan(),
            Value::F64(v) => !v.is_nan(),
            _ => true,
        }
    }

    /// Decodes a value of type `code` from exactly its bytes. `None` for an unknown type,
    /// a wrong length, or an all-zero generator state.
    pub(crate) fn from_bytes(code: u8, b: &[u8]) -> Option<Self> {
        let w = |i: usize| -> Option<u32> {
            let s = b.get(4 * i..4 * i + 4)?;
            Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        };
        let d = || -> Option<u64> { Some(u64::from(w(0)?) | (u64::from(w(1)?) << 32)) };
        if Some(b.len()) != Self::size_of_code(code) {
            return None;
        }
        match code {
            1 => Some(Value::U32(w(0)?)),
            2 => Some(Value::U64(d()?)),
            3 => Some(Value::F32(f32::from_bits(w(0)?))),
            4 => Some(Value::F64(f64::from_bits(d()?))),
            5 => Rng::from_state([w(0)?, w(1)?, w(2)?, w(3)?]).map(Value::Rng),
            _ => None,
        }
    }
}

fn put(out: &mut [u8; 16], bytes: &[u8]) -> usize {
    out[..bytes.len()].copy_from_slice(bytes);
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in Section::ALL {
            assert_eq!(Section::from_code(s.code()), Some(s));
        }
        for d in [Dtype::F32, Dtype::I8, Dtype::I32] {
            assert_eq!(Dtype::from_code(d.code()), Some(d));
        }
        for k in [
            ParamKind::Weight,
            ParamKind::Bias,
            ParamKind::Scale,
            ParamKind::Shift,
            ParamKind::RunningMean,
            ParamKind::RunningVar,
        ] {
            assert_eq!(kind_from_code(kind_code(k)), Some(k));
        }
        for v in [
            Value::U32(7),
            Value::U64(u64::MAX - 3),
            Value::F32(-1.5),
            Value::F64(f64::INFINITY),
            Value::Rng(Rng::new(9)),
        ] {
            let (b, n) = v.to_bytes();
            assert_eq!(Value::from_bytes(v.code(), &b[..n]), Some(v));
        }
        assert_eq!(Value::from_bytes(5, &[0; 16]), None);
        assert_eq!(Value::from_bytes(1, &[0; 8]), None);
        assert_eq!(padded(0), Some(0));
        assert_eq!(padded(5), Some(8));
        assert_eq!(padded(usize::MAX), None);
    }
}
