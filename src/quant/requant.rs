//! Integer-only requantization: the fixed-point arithmetic of Jacob et al. (2018) as
//! TensorFlow Lite and gemmlowp implement it, so that every target computes the same bits.
//!
//! A real multiplier `M = s_in·s_w / s_out` (usually in `(0, 1)`) is stored as a Q31
//! integer `m ∈ [2³⁰, 2³¹)` and a power-of-two exponent `e` with `M ≈ m·2^(e−31)`
//! ([`quantize_multiplier`]). An accumulator `acc` is rescaled by
//! [`multiply_by_quantized_multiplier`]: a *saturating rounding doubling high multiply*
//! ([`srdhm`]: `round(acc·m / 2³¹)`) and a *rounding divide by a power of two*
//! ([`rounding_divide_by_pot`]), each rounding half away from zero — the "double rounding"
//! of the reference implementation, reproduced exactly, ties included.

/// `a·b / 2³¹` rounded to nearest, exactly as gemmlowp's `SaturatingRoundingDoublingHighMul`:
/// a nudge of `±2³⁰` towards the sign of the product, then a division truncating towards
/// zero — so ties round up (towards +∞) for either sign. The only overflow,
/// `i32::MIN · i32::MIN`, saturates to `i32::MAX`.
///
/// ```
/// use firmnet::quant::srdhm;
/// assert_eq!(srdhm(1 << 30, 1 << 30), 1 << 29); // 0.5 · 0.5 = 0.25 in Q31
/// assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
/// assert_eq!(srdhm(3, 1 << 30), 2); //  1.5 →  2
/// assert_eq!(srdhm(-3, 1 << 30), -1); // −1.5 → −1
/// assert_eq!(srdhm(-5, 1 << 29), -1); // −1.25 → −1
/// ```
#[inline]
pub const fn srdhm(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // Division truncating towards zero, as in the reference (not an arithmetic shift).
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent`, rounded to nearest with ties away from zero (gemmlowp's
/// `RoundingDivideByPOT`), for `exponent` in `0..=31`.
///
/// ```
/// use firmnet::quant::rounding_divide_by_pot;
/// assert_eq!(rounding_divide_by_pot(5, 1), 3);   //  2.5 →  3
/// assert_eq!(rounding_divide_by_pot(-5, 1), -3); // −2.5 → −3
/// assert_eq!(rounding_divide_by_pot(-7, 2), -2); // −1.75 → −2
/// assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
/// ```
#[inline]
pub const fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    debug_assert!(exponent <= 31);
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + (x < 0) as i32;
    (x >> exponent) + (remainder > threshold) as i32
}

/// `acc · m · 2^(shift−31)`, rounded: TensorFlow Lite's `MultiplyByQuantizedMultiplier`.
/// A positive `shift` multiplies `acc` by `2^shift` first (saturating), a negative one
/// divides the high product by `2^−shift` with rounding; `shift` is in `−31..=30`.
///
/// ```
/// use firmnet::quant::{multiply_by_quantized_multiplier, quantize_multiplier};
/// let (m, shift) = quantize_multiplier(0.25);
/// assert_eq!(multiply_by_quantized_multiplier(1000, m, shift), 250);
/// assert_eq!(multiply_by_quantized_multiplier(-1002, m, shift), -251); // −250.5 → −251
/// ```
#[inline]
pub const fn multiply_by_quantized_multiplier(acc: i32, m: i32, shift: i32) -> i32 {
    let left = if shift > 0 { shift as u32 } else { 0 };
    let right = if shift < 0 { (-shift) as u32 } else { 0 };
    let shifted = acc.saturating_mul(1 << left);
    rounding_divide_by_pot(srdhm(shifted, m), right)
}

/// Splits a real multiplier `M ≥ 0` into a Q31 mantissa `m ∈ [2³⁰, 2³¹)` and an exponent
/// `shift` with `M ≈ m · 2^(shift − 31)`, as TensorFlow Lite's `QuantizeMultiplier` does.
/// `M = 0` gives `(0, 0)`. Exponents below −31 flush to `(0, 0)`; above 30 they saturate
/// to the largest representable multiplier (neither occurs for sensible scales).
///
/// ```
/// use firmnet::quant::quantize_multiplier;
/// assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
/// assert_eq!(quantize_multiplier(0.25), (1 << 30, -1));
/// assert_eq!(quantize_multiplier(3.0), (3 << 29, 2));
/// ```
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real.is_nan() || real <= 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (mantissa, mut exponent) = libm::frexp(real); // real = mantissa · 2^exponent, mantissa ∈ [0.5, 1)
    let mut q = libm::round(mantissa * (1i64 << 31) as f64) as i64;
    if q == 1i64 << 31 {
        q /= 2;
        exponent += 1;
    }
    if exponent < -31 {
        return (0, 0);
    }
    if exponent > 30 {
        return (i32::MAX, 30);
    }
    (q as i32, exponent)
}
