//! The int8 softmax with TensorFlow Lite's integer semantics: [`QSoftmax`].
//!
//! A classifier converted by TensorFlow Lite usually ends in `SOFTMAX`: int8 logits in,
//! int8 probabilities out, quantized with scale 1/256 and zero point −128 (so `q + 128` is
//! the probability in 256ths). TensorFlow Lite computes it in fixed point, and so does
//! [`QSoftmax`], bit for bit with `reference_ops::Softmax` for int8 (what TensorFlow Lite
//! Micro runs):
//!
//! ```text
//! m, e   = QuantizeMultiplierGreaterThanOne(min(β·s_in·2²⁶, 2³¹ − 1))   (once, in f64)
//! d_min  = −⌊31·2²⁶ / 2^e⌋
//! for each x:  d = x − max(x);  if d ≥ d_min:  E(x) = exp(SRDHM(d·2^e, m) as Q5.26) in Q0.31
//! S      = Σ E(x)/2¹² (rounded), in Q12.19
//! r, k   = 1/S in Q0.31 by Newton–Raphson, with k the bits of S above 1.0
//! y      = clamp(round(SRDHM(r, E(x)) / 2^(k + 23)) − 128, −128, 127)   (−128 where d < d_min)
//! ```
//!
//! The exponential is gemmlowp's `exp_on_negative_values`: a Taylor polynomial on
//! `[−1/4, 0)` around −1/8, then one multiplication by a constant `exp(−2^i)` per set bit
//! of the whole quarters. Every step is integer arithmetic (the doubling high multiply
//! [`srdhm`], the rounding shift [`rounding_divide_by_pot`], saturating shifts), so every
//! target computes the same bits. The multiplier and exponent are computed once, in
//! `f64`, by [`QSoftmax::new`], and stored.
//!
//! ```
//! use firmnet::quant::{QParams, QSoftmax};
//!
//! let logits = QParams { scale: 0.1, zero_point: 0 };
//! let softmax = QSoftmax::<4>::new(logits, 1.0)?;
//! let mut y = [0i8; 4];
//! // Four equal logits: a quarter each, 64/256, stored as 64 − 128.
//! softmax.softmax(&[5, 5, 5, 5], &mut y);
//! assert_eq!(y, [-64; 4]);
//! // exp(0)/(exp(0) + exp(−2)) = 0.881: 225.5/256, and exp(−2)/(…) = 0.119: 30.5/256.
//! let mut y = [0i8; 2];
//! QSoftmax::<2>::new(logits, 1.0)?.softmax(&[20, 0], &mut y);
//! assert!((y[0] as i32 + 128 - 225).abs() <= 1 && (y[1] as i32 + 128 - 30).abs() <= 1);
//! # Ok::<(), firmnet::quant::QuantError>(())
//! ```

use super::dense::{IO_ATTRS, io_attr, set_io_attr};
use super::requant::{quantize_multiplier, rounding_divide_by_pot, srdhm};
use super::store::{Owned, Store};
use super::{QLayer, QParams, QuantError};
use crate::arena::{InPlace, Place};
use crate::net::Infer;
use crate::spec::{Attr, AttrSpec, LayerData, LayerSpec, Primitive, Rule, TensorMut, TensorRef};
use crate::tensor::Shape;
use core::marker::PhantomData;

/// The output quantization of every int8 softmax: scale 1/256, zero point −128, so that
/// `q + 128` is the probability in 256ths (TensorFlow Lite requires exactly this).
pub const SOFTMAX_OUTPUT: QParams = QParams {
    scale: 1.0 / 256.0,
    zero_point: -128,
};

/// Integer bits of the scaled differences: Q5.26.
const DIFF_INTEGER_BITS: i32 = 5;
/// Integer bits of the sum of exponentials: Q12.19.
const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// Softmax over `N` int8 logits, with TensorFlow Lite's integer semantics (see the
/// [module docs](self)): output quantized as [`SOFTMAX_OUTPUT`]. Computes in place.
///
/// `N` is at most 511: the sum of `N` exponentials must stay below 2²⁸ in Q12.19 (the
/// bound TensorFlow Lite checks at run time, here at compile time).
pub struct QSoftmax<const N: usize, S: Store = Owned> {
    /// Quantization of the logits.
    pub input: QParams,
    /// The softmax's `β` (`exp(β·x)`), 1 for the usual softmax.
    pub beta: f32,
    /// Q31 multiplier of `β·s_in·2²⁶` (its mantissa).
    pub multiplier: i32,
    /// Left shift of `β·s_in·2²⁶` (its exponent, `0..=30`; other values are clamped).
    pub left_shift: i32,
    /// The smallest difference from the largest logit that still counts; smaller ones
    /// give probability 0 (output −128).
    pub diff_min: i32,
    _marker: PhantomData<fn() -> S>,
}

impl<const N: usize, S: Store> QSoftmax<N, S> {
    const CHECK: () = assert!(
        N >= 1 && N <= 511,
        "QSoftmax: N must be 1..=511 (the sum of exponentials must fit Q12.19 below 2^28)"
    );

    /// Unit input quantization, multiplier 0 (every output the same); usable in `const`
    /// and `static` items. Make a usable layer with [`new`](Self::new) or load it.
    pub const ZERO: Self = {
        let () = Self::CHECK;
        QSoftmax {
            input: QParams::UNIT,
            beta: 1.0,
            multiplier: 0,
            left_shift: 0,
            diff_min: 0,
            _marker: PhantomData,
        }
    };

    /// The softmax of logits quantized with `input`, of `exp(beta·x)`: TensorFlow Lite's
    /// `PreprocessSoftmaxScaling` and `CalculateInputRadius`, in `f64`.
    ///
    /// # Errors
    /// [`QuantError::InvalidParams`] for an unusable `input` or a `beta` that is not a
    /// finite number > 0; [`QuantError::Multiplier`] (channel 0) if `β·s_in·2²⁶` is below 1,
    /// which TensorFlow Lite refuses too (a logit scale below about 1.5·10⁻⁸).
    pub fn new(input: QParams, beta: f32) -> Result<Self, QuantError> {
        let () = Self::CHECK;
        if !input.is_valid() {
            return Err(QuantError::InvalidParams { which: "input" });
        }
        if !(beta.is_finite() && beta > 0.0) {
            return Err(QuantError::InvalidParams { which: "beta" });
        }
        let real = (f64::from(beta) * f64::from(input.scale) * (1u64 << 26) as f64)
            .min(((1u64 << 31) - 1) as f64);
        let (multiplier, left_shift) = quantize_multiplier(real);
        if multiplier == 0 || left_shift < 0 {
            return Err(QuantError::Multiplier { channel: 0 });
        }
        Ok(QSoftmax {
            input,
            beta,
            multiplier,
            left_shift,
            diff_min: diff_min(left_shift),
            _marker: PhantomData,
        })
    }

    /// The layer with these attributes, in spec order (the constructor of Rust source).
    /// The output quantization must be [`SOFTMAX_OUTPUT`].
    ///
    /// # Panics
    /// If it is not — in a `const` or `static`, a compile error.
    #[allow(clippy::too_many_arguments)]
    pub const fn from_parts(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        beta: f32,
        multiplier: i32,
        left_shift: i32,
        diff_min: i32,
    ) -> Self {
        let () = Self::CHECK;
        assert!(
            output_scale == SOFTMAX_OUTPUT.scale && output_zero_point == SOFTMAX_OUTPUT.zero_point,
            "QSoftmax::from_parts: the output quantization must be scale 1/256, zero point -128"
        );
        QSoftmax {
            input: QParams {
                scale: input_scale,
                zero_point: input_zero_point,
            },
            beta,
            multiplier,
            left_shift: clamp_left_shift(left_shift),
            diff_min,
            _marker: PhantomData,
        }
    }

    /// The probabilities of `x`, in 256ths minus 128 ([`SOFTMAX_OUTPUT`]). Cannot panic.
    pub fn softmax(&self, x: &[i8; N], y: &mut [i8; N]) {
        *y = *x;
        self.softmax_in_place(y);
    }

    /// [`softmax`](Self::softmax), in place.
    fn softmax_in_place(&self, xy: &mut [i8; N]) {
        let max = xy.iter().copied().max().map_or(0, i32::from);
        // The exponential of a logit's difference from the largest, or None below d_min.
        let exp = |v: i8| {
            let d = i32::from(v) - max;
            (d >= self.diff_min).then(|| {
                let scaled = srdhm(d.wrapping_mul(1 << self.left_shift), self.multiplier);
                exp_on_negative_values(scaled)
            })
        };
        let sum = xy.iter().fold(0i32, |s, &v| {
            exp(v).map_or(s, |e| {
                s.wrapping_add(rounding_divide_by_pot(e, ACCUMULATION_INTEGER_BITS as u32))
            })
        });
        let (reciprocal, bits_over_unit) = reciprocal(sum, ACCUMULATION_INTEGER_BITS);
        // 0..=31 for N ≤ 511 (the largest logit alone gives S ≥ 1).
        let exponent = (bits_over_unit + 31 - 8).clamp(0, 31) as u32;
        for v in xy.iter_mut() {
            *v = match exp(*v) {
                Some(e) => {
                    let p = rounding_divide_by_pot(srdhm(reciprocal, e), exponent);
                    (p - 128).clamp(-128, 127) as i8
                }
                None => -128,
            };
        }
    }
}

/// `−⌊31·2²⁶ / 2^left_shift⌋`: TensorFlow Lite's `CalculateInputRadius(5, left_shift)`,
/// negated.
const fn diff_min(left_shift: i32) -> i32 {
    let shift = clamp_left_shift(left_shift);
    -((((1i64 << DIFF_INTEGER_BITS) - 1) << (31 - DIFF_INTEGER_BITS)) >> shift) as i32
}

/// A left shift clamped to `0..=30`.
const fn clamp_left_shift(v: i32) -> i32 {
    if v < 0 {
        0
    } else if v > 30 {
        30
    } else {
        v
    }
}

/// `x · 2^E` with saturation (gemmlowp's `SaturatingRoundingMultiplyByPOT` for `E > 0`).
const fn saturating_shl(x: i32, e: u32) -> i32 {
    let threshold = (1i32 << (31 - e)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << e
    }
}

/// gemmlowp's `RoundingHalfSum`: `(a + b)/2`, rounded half away from zero.
const fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = a as i64 + b as i64;
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// `exp(a)` for `a ∈ [−1/4, 0)` in Q0.31 (gemmlowp's
/// `exp_on_interval_between_negative_one_quarter_and_0_excl`): the Taylor expansion
/// around −1/8 up to the fourth power.
const fn exp_on_quarter(a: i32) -> i32 {
    const EXP_MINUS_ONE_EIGHTH: i32 = 1_895_147_668;
    const ONE_THIRD: i32 = 715_827_883;
    let x = a.wrapping_add(1 << 28);
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = rounding_divide_by_pot(x4, 2);
    let poly = rounding_divide_by_pot(
        srdhm(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        1,
    );
    EXP_MINUS_ONE_EIGHTH.wrapping_add(srdhm(EXP_MINUS_ONE_EIGHTH, x.wrapping_add(poly)))
}

/// `exp(a)` for `a ≤ 0` in Q5.26, as Q0.31 (gemmlowp's `exp_on_negative_values` with 5
/// integer bits).
const fn exp_on_negative_values(a: i32) -> i32 {
    const FRACTIONAL_BITS: i32 = 31 - DIFF_INTEGER_BITS;
    // exp(−2^k) in Q0.31, for k = −2..=4.
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    if a == 0 {
        return i32::MAX; // one
    }
    let quarter = 1i32 << (FRACTIONAL_BITS - 2);
    let a_mod_quarter_minus_quarter = (a & (quarter - 1)).wrapping_sub(quarter);
    let mut result = exp_on_quarter(saturating_shl(
        a_mod_quarter_minus_quarter,
        DIFF_INTEGER_BITS as u32,
    ));
    let remainder = a_mod_quarter_minus_quarter.wrapping_sub(a);
    let mut i = 0;
    while i < BARREL.len() {
        let (k, multiplier) = BARREL[i];
        if remainder & (1 << (FRACTIONAL_BITS + k)) != 0 {
            result = srdhm(result, multiplier);
        }
        i += 1;
    }
    result
}

/// `1/(1 + a)` for `a ∈ [0, 1)` in Q0.31, by three Newton–Raphson steps in Q2.29
/// (gemmlowp's `one_over_one_plus_x_for_x_in_0_1`).
const fn one_over_one_plus_x(a: i32) -> i32 {
    const ONE_Q2_29: i32 = 1 << 29;
    const C_48_OVER_17: i32 = 1_515_870_810;
    const C_NEG_32_OVER_17: i32 = -1_010_580_540;
    let half_denominator = rounding_half_sum(a, i32::MAX);
    let mut x = C_48_OVER_17.wrapping_add(srdhm(half_denominator, C_NEG_32_OVER_17));
    let mut i = 0;
    while i < 3 {
        let one_minus = ONE_Q2_29.wrapping_sub(srdhm(half_denominator, x));
        x = x.wrapping_add(saturating_shl(srdhm(x, one_minus), 2));
        i += 1;
    }
    saturating_shl(x, 1)
}

/// `1/x` for `x > 0` with `integer_bits` integer bits: the reciprocal of `x` scaled into
/// `[1, 2)`, in Q0.31, and how many bits `x` was above 1 (TensorFlow Lite's
/// `GetReciprocal`).
const fn reciprocal(x: i32, integer_bits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros();
    let bits_over_unit = integer_bits - headroom_plus_one as i32;
    let shifted_minus_one = ((x as u32)
        .wrapping_shl(headroom_plus_one)
        .wrapping_sub(1 << 31)) as i32;
    (one_over_one_plus_x(shifted_minus_one), bits_over_unit)
}

impl<const N: usize, S: Store> crate::tensor::Zero for QSoftmax<N, S> {
    const ZERO: Self = Self::ZERO;
}

impl<const N: usize, S: Store> Clone for QSoftmax<N, S> {
    fn clone(&self) -> Self {
        QSoftmax {
            input: self.input,
            beta: self.beta,
            multiplier: self.multiplier,
            left_shift: self.left_shift,
            diff_min: self.diff_min,
            _marker: PhantomData,
        }
    }
}

impl<const N: usize, S: Store> PartialEq for QSoftmax<N, S> {
    fn eq(&self, other: &Self) -> bool {
        (self.input, self.beta) == (other.input, other.beta)
            && (self.multiplier, self.left_shift, self.diff_min)
                == (other.multiplier, other.left_shift, other.diff_min)
    }
}

impl<const N: usize, S: Store> core::fmt::Debug for QSoftmax<N, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QSoftmax")
            .field("input", &self.input)
            .field("beta", &self.beta)
            .field("multiplier", &self.multiplier)
            .field("left_shift", &self.left_shift)
            .field("diff_min", &self.diff_min)
            .finish()
    }
}

impl<const N: usize, S: Store> Infer for QSoftmax<N, S> {
    type Input = [i8; N];
    type Output = [i8; N];
    type Footprint<I: Place, O: Place> = InPlace<I, O, [i8; N]>;
    const IN_PLACE: bool = true;

    fn forward_with(&self, x: &[i8; N], y: &mut [i8; N], _: &mut [i8]) {
        self.softmax(x, y);
    }

    fn apply(&self, xy: &mut [i8; N]) {
        self.softmax_in_place(xy);
    }
}

impl<const N: usize, S: Store> QLayer for QSoftmax<N, S> {
    fn input_params(&self) -> QParams {
        self.input
    }
    fn output_params(&self) -> QParams {
        SOFTMAX_OUTPUT
    }
}

/// The attributes of `qsoftmax`, in order.
const SOFTMAX_ATTRS: [AttrSpec; 8] = [
    IO_ATTRS[0],
    IO_ATTRS[1],
    IO_ATTRS[2],
    IO_ATTRS[3],
    AttrSpec::f32("beta", Rule::Positive),
    AttrSpec::i32("multiplier", Rule::Multiplier),
    AttrSpec::i32("left_shift", Rule::Exponent),
    AttrSpec::i32("diff_min", Rule::Any),
];

impl<const N: usize, S: Store> Primitive for QSoftmax<N, S> {
    const SPEC: LayerSpec = {
        let () = Self::CHECK;
        LayerSpec {
            kind: "qsoftmax",
            input: Shape::vector(N),
            output: Shape::vector(N),
            tensors: &[],
            attrs: &SOFTMAX_ATTRS,
            ordered: &[],
            int8_io: true,
        }
    };
}

impl<const N: usize, S: Store> LayerData for QSoftmax<N, S> {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::quant::QSoftmax::from_parts"
    }
    fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
        None
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        Some(match i {
            0..4 => return io_attr(self.input, SOFTMAX_OUTPUT, i),
            4 => Attr::F32(self.beta),
            5 => Attr::I32(self.multiplier),
            6 => Attr::I32(self.left_shift),
            7 => Attr::I32(self.diff_min),
            _ => return None,
        })
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        match (i, value) {
            (0..4, _) => {
                let mut output = SOFTMAX_OUTPUT;
                set_io_attr(&mut self.input, &mut output, i, value) && output == SOFTMAX_OUTPUT
            }
            (4, Attr::F32(v)) => {
                self.beta = v;
                true
            }
            (5, Attr::I32(v)) => {
                self.multiplier = v;
                true
            }
            (6, Attr::I32(v)) => {
                self.left_shift = clamp_left_shift(v);
                true
            }
            (7, Attr::I32(v)) => {
                self.diff_min = v;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gemmlowp's exponential against `f64`, across the whole range it serves: within
    /// 3·10⁻⁷, the error of its fourth-order Taylor polynomial on an interval of 1/4
    /// (`(1/8)⁵/5! ≈ 2.5·10⁻⁷`).
    #[test]
    fn exponential_is_close_to_exp() {
        for i in 0..=4000 {
            let a = -(i as i64 * (1i64 << 26) * 16 / 4000) as i32; // 0 down to −16
            let got = f64::from(exp_on_negative_values(a)) / 2f64.powi(31);
            let want = (f64::from(a) / 2f64.powi(26)).exp();
            assert!((got - want).abs() < 3e-7, "exp({a}) = {got}, want {want}");
        }
    }

    #[test]
    fn reciprocal_is_close_to_one_over() {
        for x in [1 << 19, 3 << 19, 12345678, 100 << 19, (1 << 28) - 1] {
            let (r, bits) = reciprocal(x, ACCUMULATION_INTEGER_BITS);
            let value = f64::from(x) / 2f64.powi(19);
            let got = f64::from(r) / 2f64.powi(31) / 2f64.powi(bits);
            assert!((got - 1.0 / value).abs() < 1e-8 / value, "1/{value}: {got}");
        }
    }

    #[test]
    fn diff_min_is_the_input_radius() {
        // CalculateInputRadius(5, s) = floor(31·2^26/2^s).
        for s in 0..=30 {
            let want = (31.0 * 2f64.powi(26) / 2f64.powi(s)).floor();
            assert_eq!(f64::from(-diff_min(s)), want);
        }
    }
}
