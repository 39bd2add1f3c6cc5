//! Quantized inference: int8 networks computed with integer arithmetic only.
//!
//! A float network trained on the host becomes its int8 twin, of the same compile-time
//! sizes, in three steps ([`QDense::from_float`]):
//! 1. batch normalization is folded into the dense layer before it;
//! 2. weights become symmetric int8 **per output channel** (`w = s_w[o]·q`, `q ∈ [−127, 127]`);
//! 3. activations become asymmetric int8 ([`QParams`]: `x = s·(q − z)`), with ranges
//!    calibrated on training data; biases become int32 at scale `s_in·s_w[o]`, and each
//!    channel's rescale `s_in·s_w[o]/s_out` a Q31 multiplier and a shift.
//!
//! Inference then needs no floating point at all: `acc = bias + Σ w·x` in int32, requantized
//! by [`multiply_by_quantized_multiplier`] (TensorFlow Lite's integer-only "double rounding",
//! [`requant`]), plus the output zero point, clamped — where a fused ReLU is just a higher
//! lower bound. Integer sums do not depend on their order, so every kernel — the scalar
//! reference, x86 SIMD through `wide`, the Cortex-M4/M7 DSP instructions — gives the same
//! bits, and the tests hold them to that.
//!
//! ```
//! use firmnet::quant::{QParams, QDense, QLayer};
//! use firmnet::prelude::*;
//!
//! let mut dense = Dense::<4, 2>::ZERO;
//! dense.weight = [[0.5, -0.25, 1.0, 0.0], [0.1, 0.2, 0.3, 0.4]];
//! dense.bias = [0.1, -0.2];
//! let input = QParams::from_range(-1.0, 1.0);
//! let output = QParams::from_range(-2.0, 2.0);
//! let q = QDense::from_float(&dense, None, false, input, output)?;
//! let x = [0.5, -0.5, 0.25, 1.0];
//! let mut xq = [0i8; 4];
//! input.quantize_slice(&x, &mut xq);
//! let mut yq = [0i8; 2];
//! q.forward(&xq, &mut yq, &mut ());
//! // Float: [0.725, 0.225]; int8 within two steps of the output scale.
//! assert!((output.dequantize(yq[0]) - 0.725).abs() < 2.0 * output.scale);
//! assert!((output.dequantize(yq[1]) - 0.225).abs() < 2.0 * output.scale);
//! # Ok::<(), firmnet::quant::QuantError>(())
//! ```

mod dense;
pub mod kernels;
mod net;
pub mod requant;

pub use dense::{QDense, QMatrix};
pub use net::{QChain, QChainScratch, QLayer, argmax_i8, probabilities, top_k};
pub use requant::{
    multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot, srdhm,
};

use core::fmt;

/// Affine quantization of one tensor: `x = scale·(q − zero_point)` with `q` an `i8`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParams {
    /// Step between two consecutive integers, > 0.
    pub scale: f32,
    /// The integer that represents 0.0, in `−128..=127`.
    pub zero_point: i32,
}

impl QParams {
    /// Scale 1, zero point −128: the bytes 0–255 of raw pixels as `q = pixel − 128`,
    /// exactly.
    pub const PIXELS: QParams = QParams {
        scale: 1.0,
        zero_point: -128,
    };

    /// Asymmetric parameters covering `[min, max]` with 256 levels. The range is first
    /// widened to contain 0, so that 0.0 (ReLU's floor, zero padding) is exact; an empty
    /// or degenerate range gets a scale of 1.
    pub fn from_range(min: f32, max: f32) -> QParams {
        let (min, max) = (min.min(0.0), max.max(0.0));
        let span = max - min;
        if span.is_nan() || span <= 0.0 || !span.is_finite() {
            return QParams {
                scale: 1.0,
                zero_point: 0,
            };
        }
        let scale = span / 255.0;
        let zero_point = libm::roundf(-128.0 - min / scale).clamp(-128.0, 127.0) as i32;
        QParams { scale, zero_point }
    }

    /// The nearest integer to `x`, saturated to `i8` (NaN maps to the zero point).
    #[inline]
    pub fn quantize(&self, x: f32) -> i8 {
        let q = libm::roundf(x / self.scale) + self.zero_point as f32;
        if q.is_nan() {
            return self.zero_point as i8;
        }
        q.clamp(-128.0, 127.0) as i8
    }

    /// [`quantize`](Self::quantize) for every element.
    pub fn quantize_slice(&self, x: &[f32], q: &mut [i8]) {
        for (q, &x) in q.iter_mut().zip(x) {
            *q = self.quantize(x);
        }
    }

    /// The real value of `q`.
    #[inline]
    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (i32::from(q) - self.zero_point) as f32
    }

    /// Whether the parameters are usable: a finite positive scale and an `i8` zero point.
    pub fn is_valid(&self) -> bool {
        self.scale > 0.0 && self.scale.is_finite() && (-128..=127).contains(&self.zero_point)
    }
}

/// Why a float layer cannot be quantized.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum QuantError {
    /// A weight, bias or batch-normalization value is NaN or infinite.
    NonFinite {
        /// Which tensor.
        what: &'static str,
        /// Output channel.
        channel: usize,
    },
    /// Activation parameters with a non-positive or non-finite scale, or a zero point
    /// outside `i8`.
    InvalidParams {
        /// `"input"` or `"output"`.
        which: &'static str,
    },
    /// A bias does not fit in an `i32` at scale `s_in·s_w` (the input scale is far too
    /// small for the bias).
    BiasOverflow {
        /// Output channel.
        channel: usize,
    },
}

impl fmt::Display for QuantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            QuantError::NonFinite { what, channel } => {
                write!(
                    f,
                    "cannot quantize: {what} of output channel {channel} is not finite"
                )
            }
            QuantError::InvalidParams { which } => write!(
                f,
                "cannot quantize: the {which} parameters need a finite scale > 0 and a zero point in -128..=127"
            ),
            QuantError::BiasOverflow { channel } => write!(
                f,
                "cannot quantize: the bias of output channel {channel} does not fit in 32 bits at scale s_in·s_w"
            ),
        }
    }
}

impl core::error::Error for QuantError {}
