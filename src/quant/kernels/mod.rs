//! The int8 dense kernel: `y[o] = clamp(z + requant(bias[o] + Σᵢ w[o][i]·x[i]))`.
//!
//! | path | where | how |
//! | --- | --- | --- |
//! | [`reference`](mod@reference) | everywhere; [`Backend::Reference`](crate::kernels::Backend) | one row at a time, scalar |
//! | `simd` | x86, x86-64, AArch64 | bytes widened to `i16`, multiply-add pairs into `i32` (`vpmaddwd`), four rows per input load; on x86-64 AVX2 when the CPU has it ([`simd_level`](crate::kernels::simd_level)), else `wide` |
//! | `dsp` | Cortex-M4/M7 (`thumbv7em`) | `SXTB16` + `SMLAD` in `asm!`, four rows per input word, eight columns per loop |
//!
//! The convolutions, pools and the residual add have their own Cortex-M4/M7 paths,
//! [`packed`] — and [`small`] for convolutions of few products per output (3×3 depthwise,
//! 3×3 on one input channel) — written once with portable twins of the DSP instructions.
//!
//! Cortex-M0 and RISC-V run the reference. The products and sums are exact in `i32` (see
//! [`MAX_INPUTS`]) and integer addition does not depend on its order, so every path gives
//! the reference's bits; the tests hold them to it, the DSP path under QEMU, and the reference on the Cortex-M0 and RISC-V under QEMU too.

#[cfg(firmnet_arm_dsp)]
mod dsp;
pub mod packed;
pub mod reference;
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
mod simd;
pub mod small;

#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
use crate::kernels::simd::Simd;
use crate::kernels::{Backend, backend};
use crate::quant::requant::multiply_by_quantized_multiplier;

/// The largest input length for which `bias + Σ w·x` cannot overflow `i32` when
/// `|bias| ≤ 2³⁰`: each product is at most 128·128 = 2¹⁴ in magnitude.
pub const MAX_INPUTS: usize = 1 << 16;

/// How one dense layer turns its `i32` accumulators into `i8` outputs: per output channel
/// a bias, a Q31 multiplier and a shift, then the zero point and the clamp. The slices are
/// the layer's, one entry per output.
#[derive(Clone, Copy, Debug)]
pub struct Requant<'a> {
    /// Per output channel: the `i32` bias (with the input zero point folded in).
    pub bias: &'a [i32],
    /// Per output channel: the Q31 multiplier.
    pub multiplier: &'a [i32],
    /// Per output channel: the power-of-two exponent.
    pub shift: &'a [i32],
    /// Output zero point.
    pub zero_point: i32,
    /// Smallest output (a fused ReLU raises it to the zero point).
    pub min: i8,
    /// Largest output.
    pub max: i8,
}

impl Requant<'_> {
    /// The output for accumulator `acc` (bias included) of a channel with multiplier `m`
    /// and shift `s` (TensorFlow Lite's `MultiplyByQuantizedMultiplier`). A `max` below
    /// `min` is not an error here: the result is then `max` (only the file reader and the
    /// conversion create these parameters, and both refuse it).
    ///
    /// The dense kernels keep the general function here: the convolutions' shorter
    /// [`packed::requantize`] gives the same bits and saves about 2 % of the 784→256
    /// layer's instructions on the Cortex-M4, but its two paths cost an inference-only
    /// firmware 216 bytes of code.
    #[inline(always)]
    pub fn apply(&self, acc: i32, m: i32, s: i32) -> i8 {
        let v = multiply_by_quantized_multiplier(acc, m, s).saturating_add(self.zero_point);
        v.max(i32::from(self.min)).min(i32::from(self.max)) as i8
    }

    /// The output of channel `o` for accumulator `acc`; the clamp's lower bound past the
    /// last channel.
    #[inline(always)]
    pub fn output(&self, o: usize, acc: i32) -> i8 {
        match (self.multiplier.get(o), self.shift.get(o)) {
            (Some(&m), Some(&s)) => self.apply(acc, m, s),
            _ => self.min,
        }
    }

    /// Whether the slices fit a layer with `inputs` inputs, `weights` weights and
    /// `outputs` outputs.
    #[inline]
    pub fn fits(&self, inputs: usize, weights: usize, outputs: usize) -> bool {
        self.bias.len() == outputs
            && self.multiplier.len() == outputs
            && self.shift.len() == outputs
            && Some(weights) == inputs.checked_mul(outputs)
    }
}

/// `y[o] = clamp(z + requant(bias[o] + Σᵢ w[o][i]·x[i]))` for the `OUT × IN` row-major
/// matrix `w`, on the path [`backend`] selects. `rq` has `OUT` entries per channel (the
/// outputs of a layer whose slices are shorter keep the clamp's lower bound).
#[inline]
pub fn dense<const IN: usize, const OUT: usize>(
    w: &[[i8; IN]; OUT],
    x: &[i8; IN],
    rq: &Requant<'_>,
    y: &mut [i8; OUT],
) {
    match backend() {
        Backend::Reference => reference::dense(w.as_flattened(), x, rq, y),
        Backend::Simd => fast(w, x, rq, y),
    }
}

/// [`dense`] for a matrix given as a flat row-major slice of `y.len()` rows of `x.len()`
/// weights, on the path [`backend`] selects: the kernel of a convolution, whose row length
/// `KH·KW·C` is not a const generic. The same paths and the same bits as [`dense`]; rows
/// the slices do not hold are left as they are. Cannot panic.
#[inline]
pub fn dense_flat(w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8]) {
    match backend() {
        Backend::Reference => reference::dense(w, x, rq, y),
        Backend::Simd => fast_flat(w, x, rq, y),
    }
}

/// [`dense_flat`]'s SIMD path at the level of `simd`, whatever the global backend and
/// level: for comparing every level with the reference.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
#[inline]
pub fn dense_flat_at(simd: Simd, w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8]) {
    simd::dense_flat(simd, w, x, rq, y);
}

#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
#[inline]
fn fast_flat(w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8]) {
    simd::dense_flat(Simd::selected(), w, x, rq, y);
}

#[cfg(firmnet_arm_dsp)]
#[inline]
fn fast_flat(w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8]) {
    dsp::dense(w, x, rq, y);
}

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    firmnet_arm_dsp
)))]
#[inline]
fn fast_flat(w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8]) {
    reference::dense(w, x, rq, y);
}

#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
#[inline]
fn fast<const IN: usize, const OUT: usize>(
    w: &[[i8; IN]; OUT],
    x: &[i8; IN],
    rq: &Requant<'_>,
    y: &mut [i8; OUT],
) {
    simd::dense(Simd::selected(), w, x, rq, y);
}

/// [`dense`]'s SIMD path at the level of `simd`, whatever the global backend and level:
/// for comparing every level with the reference.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
#[inline]
pub fn dense_at<const IN: usize, const OUT: usize>(
    simd: Simd,
    w: &[[i8; IN]; OUT],
    x: &[i8; IN],
    rq: &Requant<'_>,
    y: &mut [i8; OUT],
) {
    simd::dense(simd, w, x, rq, y);
}

#[cfg(firmnet_arm_dsp)]
#[inline]
fn fast<const IN: usize, const OUT: usize>(
    w: &[[i8; IN]; OUT],
    x: &[i8; IN],
    rq: &Requant<'_>,
    y: &mut [i8; OUT],
) {
    dsp::dense(w.as_flattened(), x, rq, y);
}

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    firmnet_arm_dsp
)))]
#[inline]
fn fast<const IN: usize, const OUT: usize>(
    w: &[[i8; IN]; OUT],
    x: &[i8; IN],
    rq: &Requant<'_>,
    y: &mut [i8; OUT],
) {
    reference::dense(w.as_flattened(), x, rq, y);
}
