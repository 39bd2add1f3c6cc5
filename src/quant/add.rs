//! The int8 addition of two tensors of different quantizations — the join of a residual
//! block — with TensorFlow Lite's integer semantics: [`QAdd`].
//!
//! # The arithmetic
//! TensorFlow Lite's `reference_integer_ops::Add` for int8, bit for bit. The operands `a`
//! and `b` (quantized `(s_a, z_a)` and `(s_b, z_b)`) are brought to a common fixed-point
//! scale, summed, and requantized to the output `(s_o, z_o)`. With `L = 20`:
//!
//! ```text
//! twice_max = 2·max(s_a, s_b)
//! (m_a, e_a) = QuantizeMultiplierSmallerThanOneExp(s_a / twice_max)
//! (m_b, e_b) = QuantizeMultiplierSmallerThanOneExp(s_b / twice_max)
//! (m_o, e_o) = QuantizeMultiplierSmallerThanOneExp(twice_max / (2^L · s_o))
//!
//! a' = MultiplyByQuantizedMultiplierSmallerThanOneExp((a − z_a)·2^L, m_a, e_a)
//! b' = MultiplyByQuantizedMultiplierSmallerThanOneExp((b − z_b)·2^L, m_b, e_b)
//! y  = clamp(MultiplyByQuantizedMultiplierSmallerThanOneExp(a' + b', m_o, e_o) + z_o, min, max)
//! ```
//!
//! `QuantizeMultiplierSmallerThanOneExp` is [`quantize_multiplier`] for a real multiplier
//! in `(0, 1)` (so every exponent is ≤ 0), and the multiplication is
//! [`multiply_by_quantized_multiplier`](super::multiply_by_quantized_multiplier) with that
//! exponent (computed by [`requantize`], the same bits in fewer instructions).
//! `(x − z)·2²⁰` stays below 2²⁸
//! and the scaled operands below 2²⁷ each, so nothing overflows. The multipliers are
//! computed once, in `f64` as TensorFlow Lite does, when the parameters are made
//! ([`QAdd::new`]), and stored: inference is integer-only. `a'` depends on `a` alone and
//! `b'` on `b`: on tensors of [`ADD_TABLE_MIN`] elements or more, [`QAdd::forward`] and
//! [`QAdd::apply`] compute both for each of the 256 values once per call, which leaves one
//! rescaling per output.
//!
//! ```
//! use firmnet::quant::{Clamp, QAdd, QParams};
//!
//! let a = QParams { scale: 0.5, zero_point: 0 };
//! let b = QParams { scale: 0.25, zero_point: 10 };
//! let out = QParams { scale: 1.0, zero_point: -3 };
//! let add = QAdd::<[i8; 1]>::new(a, b, out, Clamp::None)?;
//! // 0.5·8 + 0.25·(30 − 10) = 9 → 9 − 3 = 6.
//! assert_eq!(add.add(8, 30), 6);
//! # Ok::<(), firmnet::quant::QuantError>(())
//! ```

use core::marker::PhantomData;

use super::conv::bound;
use super::dense::{Clamp, IO_ATTRS, io_attr, set_io_attr};
use super::kernels::packed::requantize;
use super::requant::quantize_multiplier;
use super::{QParams, QuantError};
use crate::spec::{Attr, AttrSpec, LayerData, LayerSpec, Primitive, Rule, TensorMut, TensorRef};
use crate::tensor::Tensor;

/// TensorFlow Lite's left shift for int8 additions: the operands are scaled by `2^20`
/// before their rescaling, so that rounding loses nothing that matters.
pub const ADD_LEFT_SHIFT: u32 = 20;

/// The int8 sum of two tensors of type `T` quantized differently (see the
/// [module docs](self)): `input` is the operand that arrives through the network (a
/// residual block's branch), `skip` the one carried around it (the block's input).
///
/// It is not an [`Infer`](crate::net::Infer) layer — it has two inputs — but describes
/// itself as the layer `qadd` ([`Primitive`]), whose first four attributes are its
/// `input` and `output` quantization like every int8 layer's, so a residual block lists
/// it after its branch.
pub struct QAdd<T> {
    /// Quantization of the first operand.
    pub input: QParams,
    /// Quantization of the output.
    pub output: QParams,
    /// Smallest output: −128, or the output zero point when a ReLU is fused.
    pub min: i8,
    /// Largest output: 127, or the image of 6 when a ReLU6 is fused.
    pub max: i8,
    /// Quantization of the second operand.
    pub skip: QParams,
    /// Q31 multiplier of `s_input / twice_max`.
    pub input_multiplier: i32,
    /// Exponent (≤ 0) of `s_input / twice_max`.
    pub input_shift: i32,
    /// Q31 multiplier of `s_skip / twice_max`.
    pub skip_multiplier: i32,
    /// Exponent (≤ 0) of `s_skip / twice_max`.
    pub skip_shift: i32,
    /// Q31 multiplier of `twice_max / (2²⁰·s_output)`.
    pub output_multiplier: i32,
    /// Exponent (≤ 0) of `twice_max / (2²⁰·s_output)`.
    pub output_shift: i32,
    _shape: PhantomData<fn(T) -> T>,
}

impl<T> Clone for QAdd<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for QAdd<T> {}

impl<T> PartialEq for QAdd<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.input, self.output, self.min, self.max, self.skip)
            == (other.input, other.output, other.min, other.max, other.skip)
            && self.integers() == other.integers()
    }
}

impl<T> core::fmt::Debug for QAdd<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QAdd")
            .field("input", &self.input)
            .field("skip", &self.skip)
            .field("output", &self.output)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("multipliers", &self.integers())
            .finish()
    }
}

/// A real multiplier in `(0, 1)` as TensorFlow Lite's `QuantizeMultiplierSmallerThanOneExp`
/// makes it; `None` outside that range or when it flushes to 0 (below 2⁻³²).
fn smaller_than_one(real: f64) -> Option<(i32, i32)> {
    if !(real > 0.0 && real < 1.0) {
        return None;
    }
    let (m, shift) = quantize_multiplier(real);
    (m >= 1 << 30 && shift <= 0).then_some((m, shift))
}

impl<T> QAdd<T> {
    /// Unit quantization on all sides, multipliers 0 (every sum 0); usable in `const`
    /// and `static` items. No file may hold it: make it with [`new`](Self::new) or load it.
    pub const ZERO: Self = QAdd {
        input: QParams::UNIT,
        output: QParams::UNIT,
        min: -128,
        max: 127,
        skip: QParams::UNIT,
        input_multiplier: 0,
        input_shift: 0,
        skip_multiplier: 0,
        skip_shift: 0,
        output_multiplier: 0,
        output_shift: 0,
        _shape: PhantomData,
    };

    /// The addition of an operand quantized with `input` and one quantized with `skip`,
    /// to outputs quantized with `output` and clamped as `clamp` says (a ReLU after the
    /// sum): TensorFlow Lite's parameters (see the [module docs](self)).
    ///
    /// # Errors
    /// [`QuantError::InvalidParams`] for unusable parameters (`which` is `"input"`,
    /// `"skip"` or `"output"`); [`QuantError::AddScale`] if the output scale is not above
    /// `2·max(s_input, s_skip)/2²⁰`, or the input scales differ by a factor of 2³¹ or more.
    pub fn new(
        input: QParams,
        skip: QParams,
        output: QParams,
        clamp: Clamp,
    ) -> Result<Self, QuantError> {
        for (which, q) in [("input", input), ("skip", skip), ("output", output)] {
            if !q.is_valid() {
                return Err(QuantError::InvalidParams { which });
            }
        }
        // As TensorFlow Lite: the scales are floats, their ratios doubles.
        let twice_max = 2.0 * f64::from(input.scale.max(skip.scale));
        let real_input = f64::from(input.scale) / twice_max;
        let real_skip = f64::from(skip.scale) / twice_max;
        let real_output = twice_max / ((1u32 << ADD_LEFT_SHIFT) as f64 * f64::from(output.scale));
        let (
            Some((input_multiplier, input_shift)),
            Some((skip_multiplier, skip_shift)),
            Some((output_multiplier, output_shift)),
        ) = (
            smaller_than_one(real_input),
            smaller_than_one(real_skip),
            smaller_than_one(real_output),
        )
        else {
            return Err(QuantError::AddScale);
        };
        let (min, max) = clamp.bounds(output);
        Ok(QAdd {
            input,
            output,
            min,
            max,
            skip,
            input_multiplier,
            input_shift,
            skip_multiplier,
            skip_shift,
            output_multiplier,
            output_shift,
            _shape: PhantomData,
        })
    }

    /// The parameters with these values, in spec order (the constructor of Rust source
    /// written by [`format::rust_source`](crate::format::rust_source)).
    #[allow(clippy::too_many_arguments)]
    pub const fn from_parts(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        min: i32,
        max: i32,
        skip_scale: f32,
        skip_zero_point: i32,
        input_multiplier: i32,
        input_shift: i32,
        skip_multiplier: i32,
        skip_shift: i32,
        output_multiplier: i32,
        output_shift: i32,
    ) -> Self {
        QAdd {
            input: QParams {
                scale: input_scale,
                zero_point: input_zero_point,
            },
            output: QParams {
                scale: output_scale,
                zero_point: output_zero_point,
            },
            min: bound(min),
            max: bound(max),
            skip: QParams {
                scale: skip_scale,
                zero_point: skip_zero_point,
            },
            input_multiplier,
            input_shift: clamp_shift(input_shift),
            skip_multiplier,
            skip_shift: clamp_shift(skip_shift),
            output_multiplier,
            output_shift: clamp_shift(output_shift),
            _shape: PhantomData,
        }
    }

    /// The six integers of the rescaling, in spec order.
    const fn integers(&self) -> [i32; 6] {
        [
            self.input_multiplier,
            self.input_shift,
            self.skip_multiplier,
            self.skip_shift,
            self.output_multiplier,
            self.output_shift,
        ]
    }

    /// `a + b`, `a` quantized as [`input`](Self::input) and `b` as [`skip`](Self::skip),
    /// in the output's quantization (see the [module docs](self)). Cannot panic.
    #[inline]
    pub fn add(&self, a: i8, b: i8) -> i8 {
        let a = self.scaled(
            a,
            self.input.zero_point,
            self.input_multiplier,
            self.input_shift,
        );
        let b = self.scaled(
            b,
            self.skip.zero_point,
            self.skip_multiplier,
            self.skip_shift,
        );
        self.sum(a, b)
    }

    /// One operand, offset, shifted left by 20 and rescaled.
    #[inline(always)]
    fn scaled(&self, q: i8, zero_point: i32, m: i32, shift: i32) -> i32 {
        let shifted = i32::from(q)
            .wrapping_sub(zero_point)
            .wrapping_mul(1 << ADD_LEFT_SHIFT);
        requantize(shifted, m, shift)
    }
}

impl<T: Tensor<Elem = i8>> QAdd<T> {
    /// `y = a + b` element by element ([`add`](Self::add)); the same bits by a per-call
    /// table of each operand's rescaled values on tensors of [`ADD_TABLE_MIN`] elements or
    /// more.
    pub fn forward(&self, a: &T, b: &T, y: &mut T) {
        let (a, b, y) = (a.as_slice(), b.as_slice(), y.as_mut_slice());
        let n = y.len().min(a.len()).min(b.len());
        self.each(
            n,
            y.iter_mut()
                .zip(a.iter().zip(b))
                .map(|(y, (&a, &b))| (y, a, b)),
        );
    }

    /// `ay = ay + b` in place: `ay` holds the first operand (the branch's output) and
    /// receives the sum, as a residual block computes in its arena.
    pub fn apply(&self, ay: &mut T, b: &T) {
        self.apply_slices(ay.as_mut_slice(), b.as_slice());
    }
}

/// Tensors of at least this many elements are added through tables of the operands' 256
/// rescaled values each ([`QAdd::forward`]): 512 rescalings per call, where each element
/// then saves two.
pub const ADD_TABLE_MIN: usize = 512;

impl<T> QAdd<T> {
    /// `ay[i] = ay[i] + b[i]` ([`add`](Self::add)) as far as both reach, through tables
    /// on [`ADD_TABLE_MIN`] elements or more.
    pub(crate) fn apply_slices(&self, ay: &mut [i8], b: &[i8]) {
        let n = ay.len().min(b.len());
        self.each(
            n,
            ay.iter_mut().zip(b).map(|(a, &b)| {
                let v = *a;
                (a, v, b)
            }),
        );
    }

    /// `*y = a + b` for each `(y, a, b)` of `n` (the elements' count): through tables
    /// from [`ADD_TABLE_MIN`] elements on.
    #[inline(always)]
    fn each<'y>(&self, n: usize, elements: impl Iterator<Item = (&'y mut i8, i8, i8)>) {
        if n >= ADD_TABLE_MIN {
            let [ta, tb] = self.tables();
            for (y, a, b) in elements {
                *y = self.sum(ta[usize::from(a as u8)], tb[usize::from(b as u8)]);
            }
        } else {
            for (y, a, b) in elements {
                *y = self.add(a, b);
            }
        }
    }

    /// Each operand's rescaled value for each of its 256 values, indexed by the value's
    /// byte (`v as u8`).
    #[inline(never)]
    fn tables(&self) -> [[i32; 256]; 2] {
        let mut t = [[0; 256]; 2];
        let (za, zb) = (self.input.zero_point, self.skip.zero_point);
        let (ta, tb) = t.split_at_mut(1);
        if let (Some(ta), Some(tb)) = (ta.first_mut(), tb.first_mut()) {
            for (v, (a, b)) in ta.iter_mut().zip(tb.iter_mut()).enumerate() {
                let q = v as u8 as i8;
                *a = self.scaled(q, za, self.input_multiplier, self.input_shift);
                *b = self.scaled(q, zb, self.skip_multiplier, self.skip_shift);
            }
        }
        t
    }

    /// The output for two rescaled operands.
    #[inline(always)]
    fn sum(&self, a: i32, b: i32) -> i8 {
        let y = requantize(a.wrapping_add(b), self.output_multiplier, self.output_shift)
            .saturating_add(self.output.zero_point);
        y.max(i32::from(self.min)).min(i32::from(self.max)) as i8
    }
}

/// An exponent clamped to the range requantization takes, `−31..=30`.
const fn clamp_shift(v: i32) -> i32 {
    if v < -31 {
        -31
    } else if v > 30 {
        30
    } else {
        v
    }
}

/// The attributes of `qadd`, in order.
const ADD_ATTRS: [AttrSpec; 14] = [
    IO_ATTRS[0],
    IO_ATTRS[1],
    IO_ATTRS[2],
    IO_ATTRS[3],
    AttrSpec::i32("min", Rule::Int8),
    AttrSpec::i32("max", Rule::Int8),
    AttrSpec::f32("skip_scale", Rule::Scale),
    AttrSpec::i32("skip_zero_point", Rule::Int8),
    AttrSpec::i32("input_multiplier", Rule::Multiplier),
    AttrSpec::i32("input_shift", Rule::Exponent),
    AttrSpec::i32("skip_multiplier", Rule::Multiplier),
    AttrSpec::i32("skip_shift", Rule::Exponent),
    AttrSpec::i32("output_multiplier", Rule::Multiplier),
    AttrSpec::i32("output_shift", Rule::Exponent),
];

impl<T: Tensor<Elem = i8>> Primitive for QAdd<T> {
    const SPEC: LayerSpec = LayerSpec {
        kind: "qadd",
        input: T::SHAPE,
        output: T::SHAPE,
        tensors: &[],
        attrs: &ADD_ATTRS,
        ordered: &[(4, 5)],
        int8_io: true,
    };
}

impl<T: Tensor<Elem = i8>> LayerData for QAdd<T> {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::quant::QAdd::from_parts"
    }
    fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
        None
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        Some(match i {
            0..4 => return io_attr(self.input, self.output, i),
            4 => Attr::I32(i32::from(self.min)),
            5 => Attr::I32(i32::from(self.max)),
            6 => Attr::F32(self.skip.scale),
            7 => Attr::I32(self.skip.zero_point),
            8..14 => Attr::I32(*self.integers().get(i - 8)?),
            _ => return None,
        })
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        match (i, value) {
            (0..4, _) => return set_io_attr(&mut self.input, &mut self.output, i, value),
            (4, Attr::I32(v)) => self.min = bound(v),
            (5, Attr::I32(v)) => self.max = bound(v),
            (6, Attr::F32(v)) => self.skip.scale = v,
            (7, Attr::I32(v)) => self.skip.zero_point = v,
            (8, Attr::I32(v)) => self.input_multiplier = v,
            (9, Attr::I32(v)) => self.input_shift = clamp_shift(v),
            (10, Attr::I32(v)) => self.skip_multiplier = v,
            (11, Attr::I32(v)) => self.skip_shift = clamp_shift(v),
            (12, Attr::I32(v)) => self.output_multiplier = v,
            (13, Attr::I32(v)) => self.output_shift = clamp_shift(v),
            _ => return false,
        }
        true
    }
}

impl<T> crate::tensor::Zero for QAdd<T> {
    const ZERO: Self = Self::ZERO;
}
