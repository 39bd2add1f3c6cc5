//! The constants and codes of the byte layout (see the [module docs](super) for the tables).

use core::fmt;

use crate::rng::Rng;
use crate::spec::{AttrSpec, LayerSpec, TensorSpec};

/// The first four bytes of every file.
pub const MAGIC: [u8; 4] = *b"FNET";

/// The format version this crate writes, and the only one it reads.
pub const VERSION: u16 = 2;

/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 32;

/// Bytes of the checksum that ends the file.
pub const CHECKSUM_LEN: usize = 4;

/// Every record, and every tensor's data, starts at a multiple of this many bytes from the
/// start of the file.
pub const ALIGN: usize = 4;

/// The longest name (layer kind, tensor, attribute or scalar name) a file can hold, in
/// bytes.
pub const MAX_NAME_LEN: usize = 255;

/// The most scalar records a checkpoint holds (a run's counters, the optimizer's settings,
/// the early-stopping state and a trainer's own take a few dozen): a reader compares every
/// name with every earlier one, which stays fast below this however hostile the file.
pub const MAX_SCALARS: usize = 1024;

/// Bytes of the fixed part of a layer record (before the kind).
pub(crate) const LAYER_FIXED: usize = 4 * 14;
/// Bytes of the fixed part of an attribute record (before the name).
pub(crate) const ATTR_FIXED: usize = 4 * 3;
/// Bytes of the fixed part of a tensor record (before the name).
pub(crate) const TENSOR_FIXED: usize = 4 * 10;
/// Where an attribute's or a tensor's name length is in its record (word 1).
pub(crate) const NAME_LEN_AT: usize = 4;
/// Where an attribute's value is in its record (word 2).
pub(crate) const ATTR_VALUE_AT: usize = 8;
/// Where a tensor's data length is in its record (word 9).
pub(crate) const TENSOR_BYTES_AT: usize = 36;

/// The fixed part of a record — a layer's, an attribute's or a tensor's — as the 32-bit
/// words the writer writes and the checker expects, one field per word, followed in the
/// file by the record's name and its padding. One definition of the layout for both; the
/// fields are in the order a reader reports differences (what makes the rest meaningless
/// first).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Head<'s> {
    /// A layer record of `spec` with `tensors` tensors: length (written last), kind's
    /// name length, input rank and 4 dims, output rank and 4 dims, attributes, tensors.
    Layer(&'s LayerSpec, usize),
    /// An attribute record of `spec` with the value `bits`: type, name length, value.
    Attr(&'s AttrSpec, u32),
    /// A tensor record of `spec` in `section`: section, name length, kind, type, rank,
    /// 4 dims, data bytes.
    Tensor(Section, &'s TensorSpec),
}

impl Head<'_> {
    /// Words of the fixed part.
    pub(crate) const fn words(self) -> usize {
        match self {
            Head::Layer(..) => LAYER_FIXED / 4,
            Head::Attr(..) => ATTR_FIXED / 4,
            Head::Tensor(..) => TENSOR_FIXED / 4,
        }
    }

    /// Bytes of the fixed part and the padded name.
    pub(crate) const fn len(self) -> usize {
        4 * self.words() + name_len(self.name())
    }

    /// The record's name: the layer's kind, the attribute's or the tensor's name.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Head::Layer(s, _) => s.kind,
            Head::Attr(s, _) => s.name,
            Head::Tensor(_, s) => s.name,
        }
    }

    /// Word `w` of the fixed part (0 for a layer's length, which the writer fills in last,
    /// and past the end; a number above `u32::MAX` saturates, and the writer refuses it).
    pub(crate) fn word(self, w: usize) -> u32 {
        let sat = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let n = match (self, w) {
            (Head::Layer(s, _), 1) => s.kind.len(),
            (Head::Layer(s, _), 2) => s.input.rank(),
            (Head::Layer(s, _), 3..=6) => s.input.dim(w - 3),
            (Head::Layer(s, _), 7) => s.output.rank(),
            (Head::Layer(s, _), 8..=11) => s.output.dim(w - 8),
            (Head::Layer(s, _), 12) => s.attrs.len(),
            (Head::Layer(_, tensors), 13) => tensors,
            (Head::Attr(s, _), 0) => s.dtype.code().into(),
            (Head::Attr(s, _), 1) => s.name.len(),
            (Head::Attr(_, bits), 2) => return bits,
            (Head::Tensor(section, _), 0) => section.code().into(),
            (Head::Tensor(_, s), 1) => s.name.len(),
            (Head::Tensor(_, s), 2) => s.kind.code().into(),
            (Head::Tensor(_, s), 3) => s.dtype.code().into(),
            (Head::Tensor(_, s), 4) => s.shape.rank(),
            (Head::Tensor(_, s), 5..=8) => s.shape.dim(w - 5),
            (Head::Tensor(_, s), 9) => s.bytes(),
            _ => 0,
        };
        sat(n)
    }
}

/// Bytes of a name with its padding.
pub(crate) const fn name_len(name: &str) -> usize {
    match padded(name.len()) {
        Some(n) => n,
        None => usize::MAX,
    }
}

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

/// What a file holds, stored in its header and checked before anything else, so that a
/// file of the wrong kind is named as such ("this is a float network, the network is
/// int8").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FileKind {
    /// A float network: its parameters, statistics and attributes.
    Float = 1,
    /// A float network with its training state: optimizer moments and settings, the run's
    /// counters and random stream, the early-stopping state and best weights.
    Checkpoint = 2,
    /// An int8 network.
    Int8 = 3,
}

impl FileKind {
    /// The byte that stands for this kind.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The kind a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(FileKind::Float),
            2 => Some(FileKind::Checkpoint),
            3 => Some(FileKind::Int8),
            _ => None,
        }
    }

    /// The kind in words: `"a float network"`, `"a training checkpoint"`, `"an int8 network"`.
    pub const fn describe(self) -> &'static str {
        match self {
            FileKind::Float => "a float network",
            FileKind::Checkpoint => "a training checkpoint",
            FileKind::Int8 => "an int8 network",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Which copy of the network a tensor belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Section {
    /// The network itself: every tensor of every layer.
    Network = 1,
    /// The optimizer's first moment per learned tensor: Adam's `m`, SGD's velocity.
    FirstMoment = 2,
    /// The optimizer's second moment per learned tensor: Adam's `v`.
    SecondMoment = 3,
    /// The network as it was at the best epoch so far (early stopping restores it).
    Best = 4,
}

impl Section {
    /// All sections, in the order a file stores them within a layer.
    pub const ALL: [Section; 4] = [
        Section::Network,
        Section::FirstMoment,
        Section::SecondMoment,
        Section::Best,
    ];

    /// The byte that stands for this section.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The section a byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Section::Network),
            2 => Some(Section::FirstMoment),
            3 => Some(Section::SecondMoment),
            4 => Some(Section::Best),
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

    /// Whether the section holds only the learned tensors (the moments) rather than every
    /// tensor.
    pub const fn learned_only(self) -> bool {
        matches!(self, Section::FirstMoment | Section::SecondMoment)
    }

    /// Words that put a tensor's name in its section: `""` for the network,
    /// `"first moment of "`, `"second moment of "`, `"best "`.
    pub const fn prefix(self) -> &'static str {
        match self {
            Section::Network => "",
            Section::FirstMoment => "first moment of ",
            Section::SecondMoment => "second moment of ",
            Section::Best => "best ",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Network => "network",
            Section::FirstMoment => "first moments",
            Section::SecondMoment => "second moments",
            Section::Best => "best weights",
        })
    }
}

/// The optimizer whose state a checkpoint holds.
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

    /// `"Adam"` or `"SGD"`.
    pub const fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "Adam",
            OptimizerKind::Sgd => "SGD",
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The layer kinds of firmnet's layers, so that an error can name a kind a file has
/// (the error itself holds no strings from the file, only the kind's [`kind_signature`],
/// which is different for each of these).
pub const KNOWN_KINDS: [&str; 28] = [
    "dense",
    "batch_norm",
    "relu",
    "relu6",
    "leaky_relu",
    "tanh",
    "sigmoid",
    "dropout",
    "gaussian_noise",
    "activity_l1",
    "qdense",
    "qlut",
    "residual",
    "add",
    "conv2d",
    "depthwise_conv2d",
    "max_pool2d",
    "avg_pool2d",
    "global_avg_pool",
    "flatten",
    "qconv2d",
    "qdepthwise_conv2d",
    "qmax_pool2d",
    "qavg_pool2d",
    "qglobal_avg_pool",
    "qflatten",
    "qadd",
    "qsoftmax",
];

/// A layer kind's signature, which an error holds in place of the name: its length and
/// first three bytes, different for every kind of [`KNOWN_KINDS`] (tested), computed
/// without a table.
pub const fn kind_signature(kind: &[u8]) -> u32 {
    let mut signature = if kind.len() > 255 {
        255
    } else {
        kind.len() as u32
    } << 24;
    let mut k = 0;
    while k < 3 && k < kind.len() {
        signature |= (kind[k] as u32) << (8 * k);
        k += 1;
    }
    signature
}

/// The known kind whose [`kind_signature`] is `signature`.
pub(crate) fn known_kind(signature: u32) -> Option<&'static str> {
    KNOWN_KINDS
        .iter()
        .find(|k| kind_signature(k.as_bytes()) == signature)
        .copied()
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

    /// Whether a reader accepts the value: no NaN.
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
    use crate::layers::ParamKind;
    use crate::spec::Dtype;

    #[test]
    fn codes_round_trip() {
        for s in Section::ALL {
            assert_eq!(Section::from_code(s.code()), Some(s));
        }
        for k in [FileKind::Float, FileKind::Checkpoint, FileKind::Int8] {
            assert_eq!(FileKind::from_code(k.code()), Some(k));
        }
        for d in [Dtype::F32, Dtype::I8, Dtype::I32] {
            assert_eq!(Dtype::from_code(d.code()), Some(d));
        }
        for k in ParamKind::ALL {
            assert_eq!(ParamKind::from_code(k.code()), Some(k));
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
        assert_eq!(known_kind(kind_signature(b"qdense")), Some("qdense"));
        assert_eq!(known_kind(kind_signature(b"relu6")), Some("relu6"));
        assert_eq!(known_kind(kind_signature(b"conv")), None);
        for (i, a) in KNOWN_KINDS.iter().enumerate() {
            for b in &KNOWN_KINDS[..i] {
                assert_ne!(
                    kind_signature(a.as_bytes()),
                    kind_signature(b.as_bytes()),
                    "{a} {b}"
                );
            }
        }
    }
}
