//! Layers that describe themselves: their kind, their tensors and their attributes.
//!
//! Every primitive layer — float or int8 — publishes a [`LayerSpec`]: a kind name
//! (`"dense"`, `"batch_norm"`, `"qdense"`, …), its input and output shapes, the tensors it
//! stores ([`TensorSpec`]: name, kind, element type, shape of rank up to 4, and the rule its
//! values obey) and its scalar attributes ([`AttrSpec`]: a batch normalization's ε and
//! momentum, a dropout rate, a leaky slope, an int8 layer's scales and zero points). The
//! spec is `'static` data computed by the compiler from the layer's type, so a file can be
//! checked against a network *type* before any value exists.
//!
//! A layer value hands out its tensors and attributes through the object-safe
//! [`LayerData`]; a network ([`Describe`]) numbers its primitive layers from the input. Everything
//! that works on whole networks is written once against these descriptions, for every kind
//! of layer:
//!
//! * the weight format ([`format`](crate::format)): one writer and one checker for float
//!   networks, int8 networks and training checkpoints;
//! * the conversions to int8 ([`quant`](crate::quant)) and to the float deployment form
//!   ([`deploy`](crate::deploy)), which read the float layers and write the converted ones;
//! * Rust source for a network compiled into firmware, and the safetensors exchange.
//!
//! So a new layer kind is one file: its struct, its computation and its spec.
//!
//! ```
//! use firmnet::prelude::*;
//! use firmnet::spec::Describe;
//!
//! type Mlp = Net![Dense<4, 8>, BatchNorm<8>, Relu<[f32; 8]>, Dense<8, 3>];
//! let spec = Mlp::layer_spec(1).unwrap();
//! assert_eq!(spec.kind, "batch_norm");
//! assert_eq!(spec.tensors[3].name, "running_var");
//! assert_eq!(spec.attrs[0].name, "eps");
//! ```

use core::fmt;

use crate::layers::ParamKind;
use crate::tensor::Shape;

/// The element type of a stored tensor or attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Dtype {
    /// IEEE 754 binary32, little-endian in files.
    F32 = 1,
    /// Signed 8-bit integer (int8 weights, activation tables).
    I8 = 2,
    /// Signed 32-bit integer, little-endian in files (int8 biases, multipliers, shifts,
    /// zero points).
    I32 = 3,
}

impl Dtype {
    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::I8 => 1,
        }
    }

    /// The byte that stands for this type in a file.
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

    /// `"f32"`, `"i8"` or `"i32"`.
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

/// The rule every value of a tensor or attribute obeys. Writers and readers check the same
/// rules, so every file a writer produces loads, and a damaged value is refused by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Any value (integers).
    Any,
    /// A finite number.
    Finite,
    /// A finite number > 0 (a variance, ε).
    Positive,
    /// A finite number ≥ 0 (a standard deviation, a penalty).
    NonNegative,
    /// A number in `[0, 1)` (a dropout rate).
    Fraction,
    /// A number in `[0, 1]` (a momentum).
    UnitInterval,
    /// A quantization scale: a normal number in `[2⁻⁶⁴, 2⁶⁴]`. Subnormal, zero, huge and
    /// non-finite scales are refused: no sensible network has them, and a damaged file
    /// does.
    Scale,
    /// An `i8` value held in an `i32`: `−128..=127` (zero points, clamp bounds).
    Int8,
    /// A Q31 requantization multiplier in TensorFlow Lite's normalized range
    /// `[2³⁰, 2³¹)`.
    Multiplier,
    /// A requantization exponent in `−31..=30`.
    Exponent,
}

impl Rule {
    /// Every rule, in the order of their codes.
    pub const ALL: [Rule; 10] = [
        Rule::Any,
        Rule::Finite,
        Rule::Positive,
        Rule::NonNegative,
        Rule::Fraction,
        Rule::UnitInterval,
        Rule::Scale,
        Rule::Int8,
        Rule::Multiplier,
        Rule::Exponent,
    ];

    /// Whether `v` obeys the rule (integer rules refuse every float).
    pub fn allows_f32(self, v: f32) -> bool {
        self.allows_bits(Dtype::F32, v.to_bits())
    }

    /// Whether `v` obeys the rule (float rules other than [`Rule::Any`] refuse every
    /// integer).
    pub fn allows_i32(self, v: i32) -> bool {
        self.allows_bits(Dtype::I32, v as u32)
    }

    /// Whether the value of type `dtype` with bits `bits` (an `i8` sign-extended) obeys
    /// the rule.
    ///
    /// Every rule is one interval of a key: an integer's value, or for a float its bits
    /// read so that their order is the numbers' (`−0.0` and `0.0` both key 0, NaNs beyond
    /// the infinities). So a device checks a value with two comparisons and no
    /// floating-point code.
    pub fn allows_bits(self, dtype: Dtype, bits: u32) -> bool {
        let float = matches!(dtype, Dtype::F32);
        let key = if float { float_key(bits) } else { bits as i32 };
        let (lo, hi) = self.bounds();
        (self.for_floats() == float || self == Rule::Any) && lo <= key && key <= hi
    }

    /// Whether the rule is one for floats (or else for integers; [`Rule::Any`] is both).
    const fn for_floats(self) -> bool {
        !matches!(self, Rule::Int8 | Rule::Multiplier | Rule::Exponent)
    }

    /// The interval of keys ([`allows_bits`](Self::allows_bits)) the rule allows.
    const fn bounds(self) -> (i32, i32) {
        const MAX_FINITE: i32 = 0x7f7f_ffff; // f32::MAX
        const ONE: i32 = 0x3f80_0000; // 1.0
        const BOUNDS: [(i32, i32); 10] = [
            (i32::MIN, i32::MAX),      // Any
            (-MAX_FINITE, MAX_FINITE), // Finite
            (1, MAX_FINITE),           // Positive
            (0, MAX_FINITE),           // NonNegative
            (0, ONE - 1),              // Fraction
            (0, ONE),                  // UnitInterval
            // 2^-64 and 2^64: normal, so every key between is a normal number.
            (0x1f80_0000, 0x5f80_0000), // Scale
            (-128, 127),                // Int8
            (1 << 30, i32::MAX),        // Multiplier
            (-31, 30),                  // Exponent
        ];
        BOUNDS[self as usize]
    }

    /// What the rule asks for, in words: `"a finite number > 0"`, ….
    pub const fn expectation(self) -> &'static str {
        match self {
            Rule::Any => "any value",
            Rule::Finite => "a finite number",
            Rule::Positive => "a finite number > 0",
            Rule::NonNegative => "a finite number >= 0",
            Rule::Fraction => "a number in [0, 1)",
            Rule::UnitInterval => "a number in [0, 1]",
            Rule::Scale => "a normal scale in [2^-64, 2^64]",
            Rule::Int8 => "an integer in -128..=127",
            Rule::Multiplier => "a multiplier in [2^30, 2^31)",
            Rule::Exponent => "an exponent in -31..=30",
        }
    }
}

/// The bits of an `f32` as an `i32` in the numbers' order: non-negative floats keep their
/// bits, a negative one `−x` becomes `−bits(x)`, so `−0.0` and `0.0` are both 0.
const fn float_key(bits: u32) -> i32 {
    let k = bits as i32;
    if k < 0 { i32::MIN.wrapping_sub(k) } else { k }
}

/// One tensor a layer stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// Its name within the layer: `weight`, `bias`, `gamma`, `running_var`, `table`, ….
    pub name: &'static str,
    /// What it is.
    pub kind: ParamKind,
    /// Its element type.
    pub dtype: Dtype,
    /// Its shape (a weight matrix `[outputs, inputs]`, a vector `[n]`).
    pub shape: Shape,
    /// Whether training learns it (a [`Params`](crate::layers::Params) tensor, with
    /// optimizer moments); running statistics and int8 tensors are not learned.
    pub learned: bool,
    /// The rule every element obeys.
    pub rule: Rule,
}

impl TensorSpec {
    /// A learned `f32` tensor, any finite values.
    pub const fn learned(name: &'static str, kind: ParamKind, shape: Shape) -> Self {
        TensorSpec {
            name,
            kind,
            dtype: Dtype::F32,
            shape,
            learned: true,
            rule: Rule::Finite,
        }
    }

    /// A tensor that is not learned.
    pub const fn fixed(
        name: &'static str,
        kind: ParamKind,
        dtype: Dtype,
        shape: Shape,
        rule: Rule,
    ) -> Self {
        TensorSpec {
            name,
            kind,
            dtype,
            shape,
            learned: false,
            rule,
        }
    }

    /// Bytes of its data.
    pub const fn bytes(&self) -> usize {
        self.shape.len().saturating_mul(self.dtype.size())
    }
}

/// One scalar attribute of a layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttrSpec {
    /// Its name: `eps`, `momentum`, `rate`, `slope`, `input_scale`, `min`, ….
    pub name: &'static str,
    /// [`Dtype::F32`] or [`Dtype::I32`].
    pub dtype: Dtype,
    /// The rule its value obeys.
    pub rule: Rule,
    /// [`exact`](Self::exact), with `i32::MIN` for none (no structure is negative): four
    /// bytes rather than an `Option`'s eight in every spec a firmware carries.
    fixed: i32,
}

impl AttrSpec {
    /// The one value the layer's *type* allows, for an attribute that records a network's
    /// structure rather than a learned or chosen value (a residual block's number of
    /// layers per branch, a convolution's stride and padding): a file must hold exactly
    /// this value, or it holds a network of another structure. `None` for every other
    /// attribute.
    pub const fn exact(&self) -> Option<i32> {
        if self.fixed == i32::MIN {
            None
        } else {
            Some(self.fixed)
        }
    }

    /// An `f32` attribute.
    pub const fn f32(name: &'static str, rule: Rule) -> Self {
        AttrSpec {
            name,
            dtype: Dtype::F32,
            rule,
            fixed: i32::MIN,
        }
    }

    /// An `i32` attribute.
    pub const fn i32(name: &'static str, rule: Rule) -> Self {
        AttrSpec {
            name,
            dtype: Dtype::I32,
            rule,
            fixed: i32::MIN,
        }
    }

    /// An `i32` attribute whose value the layer's type fixes at `value` (saturated at
    /// `i32::MAX`): a count that records the network's structure (see
    /// [`exact`](Self::exact)).
    pub const fn structure(name: &'static str, value: usize) -> Self {
        let value = if value > i32::MAX as usize {
            i32::MAX
        } else {
            value as i32
        };
        AttrSpec {
            name,
            dtype: Dtype::I32,
            rule: Rule::Any,
            fixed: value,
        }
    }

    /// Whether `value` is of this attribute's type, obeys its rule and is the
    /// [`exact`](Self::exact) value if the type fixes one.
    pub fn allows(&self, value: Attr) -> bool {
        let fits = match (self.dtype, value) {
            (Dtype::F32, Attr::F32(v)) => self.rule.allows_f32(v),
            (Dtype::I32, Attr::I32(v)) => self.rule.allows_i32(v),
            _ => false,
        };
        fits && self.exact().is_none_or(|e| Attr::I32(e) == value)
    }
}

/// The value of an attribute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attr {
    /// A float.
    F32(f32),
    /// An integer.
    I32(i32),
}

impl Attr {
    /// The float, or `None` for an integer.
    pub const fn f32(self) -> Option<f32> {
        match self {
            Attr::F32(v) => Some(v),
            Attr::I32(_) => None,
        }
    }

    /// The integer, or `None` for a float.
    pub const fn i32(self) -> Option<i32> {
        match self {
            Attr::I32(v) => Some(v),
            Attr::F32(_) => None,
        }
    }

    /// The stored bits (little-endian in files).
    pub const fn bits(self) -> u32 {
        match self {
            Attr::F32(v) => v.to_bits(),
            Attr::I32(v) => v as u32,
        }
    }

    /// The value of type `dtype` with these bits (`None` for [`Dtype::I8`]).
    pub const fn from_bits(dtype: Dtype, bits: u32) -> Option<Attr> {
        match dtype {
            Dtype::F32 => Some(Attr::F32(f32::from_bits(bits))),
            Dtype::I32 => Some(Attr::I32(bits as i32)),
            Dtype::I8 => None,
        }
    }

    /// The value as an `f64`, for messages (integers are exact).
    pub fn as_f64(self) -> f64 {
        match self {
            Attr::F32(v) => f64::from(v),
            Attr::I32(v) => f64::from(v),
        }
    }
}

/// What a primitive layer is: kind, shapes, tensors, attributes. `'static` data computed
/// by the compiler from the layer's type (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSpec {
    /// The kind: `dense`, `batch_norm`, `relu`, `relu6`, `leaky_relu`, `tanh`, `sigmoid`,
    /// `dropout`, `gaussian_noise`, `activity_l1`, `qdense`, `qlut`; `residual` and `add`
    /// open and close a residual block ([`Residual`](crate::layers::Residual)).
    pub kind: &'static str,
    /// Shape of one input sample.
    pub input: Shape,
    /// Shape of one output sample.
    pub output: Shape,
    /// The tensors it stores, in order.
    pub tensors: &'static [TensorSpec],
    /// Its scalar attributes, in order.
    pub attrs: &'static [AttrSpec],
    /// Pairs of attribute indices `(a, b)` whose values must satisfy `a <= b` (an int8
    /// layer's clamp bounds).
    pub ordered: &'static [(usize, usize)],
    /// Whether its first four attributes are its input and output quantization
    /// (`input_scale`, `input_zero_point`, `output_scale`, `output_zero_point`): an int8
    /// layer, whose input quantization must be the previous int8 layer's output
    /// quantization.
    pub int8_io: bool,
}

impl LayerSpec {
    /// Index of the attribute `name`.
    pub fn attr_index(&self, name: &str) -> Option<usize> {
        self.attrs.iter().position(|a| a.name == name)
    }

    /// Index of the tensor `name`.
    pub fn tensor_index(&self, name: &str) -> Option<usize> {
        self.tensors.iter().position(|t| t.name == name)
    }

    /// Number of learned tensors.
    pub fn learned(&self) -> usize {
        self.tensors.iter().filter(|t| t.learned).count()
    }
}

/// A tensor's elements, borrowed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TensorRef<'a> {
    /// `f32` elements.
    F32(&'a [f32]),
    /// `i8` elements.
    I8(&'a [i8]),
    /// `i32` elements.
    I32(&'a [i32]),
}

impl<'a> TensorRef<'a> {
    /// The element type.
    pub const fn dtype(&self) -> Dtype {
        match self {
            TensorRef::F32(_) => Dtype::F32,
            TensorRef::I8(_) => Dtype::I8,
            TensorRef::I32(_) => Dtype::I32,
        }
    }

    /// Number of elements.
    pub const fn len(&self) -> usize {
        match self {
            TensorRef::F32(d) => d.len(),
            TensorRef::I8(d) => d.len(),
            TensorRef::I32(d) => d.len(),
        }
    }

    /// Whether there are no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Position and value (as `f64`) of the first element that breaks `rule`, if any.
    pub fn first_breaking(&self, rule: Rule) -> Option<(usize, f64)> {
        match self {
            TensorRef::F32(d) => d
                .iter()
                .position(|&v| !rule.allows_f32(v))
                .map(|i| (i, d.get(i).map_or(f64::NAN, |&v| f64::from(v)))),
            TensorRef::I32(d) => d
                .iter()
                .position(|&v| !rule.allows_i32(v))
                .map(|i| (i, d.get(i).map_or(f64::NAN, |&v| f64::from(v)))),
            TensorRef::I8(d) => d
                .iter()
                .position(|&v| !rule.allows_i32(i32::from(v)))
                .map(|i| (i, d.get(i).map_or(f64::NAN, |&v| f64::from(v)))),
        }
    }

    /// The `f32` elements, or `None` for another type.
    pub const fn f32s(self) -> Option<&'a [f32]> {
        match self {
            TensorRef::F32(d) => Some(d),
            _ => None,
        }
    }
}

/// A tensor's elements, borrowed mutably.
#[derive(Debug, PartialEq)]
pub enum TensorMut<'a> {
    /// `f32` elements.
    F32(&'a mut [f32]),
    /// `i8` elements.
    I8(&'a mut [i8]),
    /// `i32` elements.
    I32(&'a mut [i32]),
}

impl TensorMut<'_> {
    /// The element type.
    pub const fn dtype(&self) -> Dtype {
        match self {
            TensorMut::F32(_) => Dtype::F32,
            TensorMut::I8(_) => Dtype::I8,
            TensorMut::I32(_) => Dtype::I32,
        }
    }

    /// Number of elements.
    pub const fn len(&self) -> usize {
        match self {
            TensorMut::F32(d) => d.len(),
            TensorMut::I8(d) => d.len(),
            TensorMut::I32(d) => d.len(),
        }
    }

    /// Whether there are no elements.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies `src` in when both have the same type and length; `false` otherwise
    /// (nothing is written).
    pub fn copy_from(&mut self, src: TensorRef<'_>) -> bool {
        if self.len() != src.len() {
            return false;
        }
        match (self, src) {
            (TensorMut::F32(d), TensorRef::F32(s)) => d.copy_from_slice(s),
            (TensorMut::I8(d), TensorRef::I8(s)) => d.copy_from_slice(s),
            (TensorMut::I32(d), TensorRef::I32(s)) => d.copy_from_slice(s),
            _ => return false,
        }
        true
    }
}

/// The data of one primitive layer: its tensors and attributes, numbered as its
/// [`LayerSpec`] lists them. Object safe, so that whole-network code (file formats,
/// conversions) is compiled once rather than once per layer type.
pub trait LayerData {
    /// The layer's spec.
    fn spec(&self) -> &'static LayerSpec;
    /// The path of the layer's `const fn` constructor, which takes its tensors (as nested
    /// arrays) and then its attributes, in spec order: how Rust source written by
    /// [`format::rust_source`](crate::format::rust_source) builds the layer. (A method
    /// rather than a field of the spec, so that a firmware that never writes source keeps
    /// no path in flash.)
    fn ctor(&self) -> &'static str;
    /// Tensor `i`; `None` if `i` is out of range.
    fn tensor(&self, i: usize) -> Option<TensorRef<'_>>;
    /// Tensor `i`, mutably; `None` if `i` is out of range or the layer borrows its
    /// tensors (a view of a file in flash).
    fn tensor_mut(&mut self, i: usize) -> Option<TensorMut<'_>>;
    /// Attribute `i`; `None` if `i` is out of range.
    fn attr(&self, i: usize) -> Option<Attr>;
    /// Sets attribute `i`; `false` (and nothing changes) if `i` is out of range or the
    /// value is of another type.
    fn set_attr(&mut self, i: usize, value: Attr) -> bool;
}

/// A primitive layer with a spec: the building block of [`Describe`].
pub trait Primitive: LayerData + Sized {
    /// The layer's spec.
    const SPEC: LayerSpec;
}

/// A network (or a single layer) whose primitive layers describe themselves, numbered
/// from the input.
pub trait Describe {
    /// Number of primitive layers.
    const LAYERS: usize;
    /// Whether it holds residual blocks. The file reader follows quantization links
    /// through blocks only where a network has them, so the reader of a network without
    /// any (an inference-only firmware's) carries no code for them.
    const BLOCKS: bool = false;
    /// The spec of primitive layer `i` (for a type, without a value); `None` past the end.
    fn layer_spec(i: usize) -> Option<&'static LayerSpec>;
    /// Primitive layer `i`; `None` past the end.
    fn layer(&self, i: usize) -> Option<&dyn LayerData>;
    /// Primitive layer `i`, mutably; `None` past the end.
    fn layer_mut(&mut self, i: usize) -> Option<&mut dyn LayerData>;
}

impl<L: Primitive> Describe for L {
    const LAYERS: usize = 1;
    fn layer_spec(i: usize) -> Option<&'static LayerSpec> {
        (i == 0).then_some(&L::SPEC)
    }
    fn layer(&self, i: usize) -> Option<&dyn LayerData> {
        (i == 0).then_some(self as &dyn LayerData)
    }
    fn layer_mut(&mut self, i: usize) -> Option<&mut dyn LayerData> {
        (i == 0).then_some(self as &mut dyn LayerData)
    }
}

/// A network's layers behind a pointer: [`Describe`] without its associated items, so
/// that code taking any network can be compiled once.
pub trait Layers {
    /// Primitive layer `i`; `None` past the end.
    fn layer_at(&self, i: usize) -> Option<&dyn LayerData>;
}

impl<N: Describe> Layers for N {
    fn layer_at(&self, i: usize) -> Option<&dyn LayerData> {
        self.layer(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules as the numbers define them, to check the key intervals against.
    fn by_value(rule: Rule, dtype: Dtype, bits: u32) -> bool {
        const MIN_SCALE: f32 = 5.421_011e-20; // 2^-64
        const MAX_SCALE: f32 = 1.844_674_4e19; // 2^64
        match dtype {
            Dtype::F32 => {
                let v = f32::from_bits(bits);
                match rule {
                    Rule::Any => true,
                    Rule::Finite => v.is_finite(),
                    Rule::Positive => v.is_finite() && v > 0.0,
                    Rule::NonNegative => v.is_finite() && v >= 0.0,
                    Rule::Fraction => (0.0..1.0).contains(&v),
                    Rule::UnitInterval => (0.0..=1.0).contains(&v),
                    Rule::Scale => v.is_normal() && (MIN_SCALE..=MAX_SCALE).contains(&v),
                    Rule::Int8 | Rule::Multiplier | Rule::Exponent => false,
                }
            }
            _ => {
                let v = bits as i32;
                match rule {
                    Rule::Any => true,
                    Rule::Int8 => (-128..=127).contains(&v),
                    Rule::Multiplier => v >= 1 << 30,
                    Rule::Exponent => (-31..=30).contains(&v),
                    _ => false,
                }
            }
        }
    }

    #[test]
    fn key_intervals_are_the_rules() {
        // Every edge the rules have, its neighbours, and a spread of other bit patterns.
        let mut floats: std::vec::Vec<u32> = [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            0.5,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            1e-45,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            5.421_011e-20,
            1.844_674_4e19,
        ]
        .iter()
        .flat_map(|v| {
            let b = v.to_bits();
            [b.wrapping_sub(1), b, b.wrapping_add(1)]
        })
        .collect();
        floats.extend((0..4096u32).map(|k| k.wrapping_mul(0x9e37_79b9)));
        let ints = [
            i32::MIN,
            -129,
            -128,
            -127,
            -32,
            -31,
            -30,
            -1,
            0,
            1,
            29,
            30,
            31,
            126,
            127,
            128,
            (1 << 30) - 1,
            1 << 30,
            (1 << 30) + 1,
            i32::MAX,
        ];
        for rule in Rule::ALL {
            for &b in &floats {
                assert_eq!(
                    rule.allows_bits(Dtype::F32, b),
                    by_value(rule, Dtype::F32, b),
                    "{rule:?} {:e} ({b:#010x})",
                    f32::from_bits(b)
                );
            }
            for &v in &ints {
                for dtype in [Dtype::I32, Dtype::I8] {
                    assert_eq!(
                        rule.allows_bits(dtype, v as u32),
                        by_value(rule, dtype, v as u32)
                    );
                }
            }
        }
    }
}
