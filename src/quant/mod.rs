//! Quantized inference: int8 networks computed with integer arithmetic only.
//!
//! A float network trained on the host becomes its int8 twin — a network of the same
//! compile-time sizes, whose type the compiler derives from the float one
//! ([`Int8<N>`](Int8)) — in one call ([`host::quantize`](fn@crate::host::quantize), on the host):
//! 1. batch normalization is folded into the dense layer or convolution before it, ReLU
//!    and ReLU6 become the layer's output clamp, dropout, noise and activity penalties
//!    disappear (they are the identity at inference), tanh, sigmoid and leaky ReLU become
//!    256-entry lookup tables ([`QLut`]), pools and flatten keep their input's
//!    quantization, and a residual block becomes the int8 twins of its branches joined by
//!    TensorFlow Lite's add ([`QResidual`]);
//! 2. weights become symmetric int8 **per output channel** (`w = s_w[o]·q`,
//!    `q ∈ [−127, 127]`);
//! 3. activations become asymmetric int8 ([`QParams`]: `x = s·(q − z)`), with ranges
//!    calibrated on data in one pass through the network; biases become int32 at scale
//!    `s_in·s_w[o]`, and each channel's rescale `s_in·s_w[o]/s_out` a Q31 multiplier and a
//!    shift.
//!
//! Inference then needs no floating point at all: `acc = bias + Σ w·x` in int32, requantized
//! by [`multiply_by_quantized_multiplier`] (TensorFlow Lite's integer-only "double rounding",
//! [`requant`]), plus the output zero point, clamped. Integer sums do not depend on their
//! order, so every kernel — the scalar reference, x86 SIMD through `wide`, the Cortex-M4/M7
//! DSP instructions — gives the same bits, and the tests hold them to that.
//!
//! A layer without an int8 form does not convert: the network does not compile, and the
//! error names the layer (see [`Quantize`]).
//!
//! Feature maps are channels-last (HWC), as TensorFlow Lite's, and the convolutions, pools
//! and the residual add compute exactly what its int8 reference kernels compute
//! ([`conv`], [`pool`], [`add`]). So does the int8 softmax that ends the classifiers
//! TensorFlow Lite converts ([`QSoftmax`], [`softmax`]); trained here, a network's
//! softmax lives in its loss and its int8 twin ends in logits.
//!
//! Every int8 layer takes a storage parameter ([`Store`]): [`Owned`] arrays for a network
//! built on the host or compiled into a `static`, [`Borrowed`] ones for a view of a weight
//! file in flash ([`format::view`](crate::format::view)). One type serves all three.
//!
//! ```
//! use firmnet::quant::{Clamp, QDense, QLayer, QParams};
//! use firmnet::prelude::*;
//!
//! let mut dense = Dense::<4, 2>::ZERO;
//! dense.weight = [[0.5, -0.25, 1.0, 0.0], [0.1, 0.2, 0.3, 0.4]];
//! dense.bias = [0.1, -0.2];
//! let input = QParams::from_range(-1.0, 1.0);
//! let output = QParams::from_range(-2.0, 2.0);
//! let q = QDense::from_float(&dense, None, Clamp::None, input, output)?;
//! let x = [0.5, -0.5, 0.25, 1.0];
//! let mut xq = [0i8; 4];
//! input.quantize_slice(&x, &mut xq);
//! let mut yq = [0i8; 2];
//! q.forward_with(&xq, &mut yq, &mut []);
//! // Float: [0.725, 0.225]; int8 within two steps of the output scale.
//! assert!((output.dequantize(yq[0]) - 0.725).abs() < 2.0 * output.scale);
//! assert!((output.dequantize(yq[1]) - 0.225).abs() < 2.0 * output.scale);
//! # Ok::<(), firmnet::quant::QuantError>(())
//! ```

pub mod add;
pub mod conv;
pub mod convert;
mod dense;
pub mod kernels;
mod lut;
mod net;
pub mod pool;
pub mod requant;
pub mod residual;
pub mod softmax;
mod store;

pub use add::{ADD_LEFT_SHIFT, ADD_TABLE_MIN, QAdd};
pub use conv::{DepthwiseConversion, QConv2d, QDepthwiseConv2d};
pub use convert::{Int8, Quantize, Step, convert};
pub use dense::{BnFold, Clamp, DenseConversion, QDense};
pub use lut::QLut;
pub use net::{QLayer, argmax_i8, probabilities, top_k};
pub use pool::{QAvgPool2d, QFlatten, QGlobalAvgPool, QMaxPool2d};
pub use requant::{
    multiply_by_quantized_multiplier, quantize_multiplier, rounding_divide_by_pot, srdhm,
};
pub use residual::QResidual;
pub use softmax::{QSoftmax, SOFTMAX_OUTPUT};
pub use store::{Borrowed, Owned, QFilters, QMatrix, Store};

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
    /// Scale 1, zero point 0: `q` is the value.
    pub const UNIT: QParams = QParams {
        scale: 1.0,
        zero_point: 0,
    };

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

    /// Whether the parameters are usable, by the rules a weight file's are checked with: a
    /// normal scale in `[2⁻⁶⁴, 2⁶⁴]` ([`Rule::Scale`](crate::spec::Rule::Scale)) and an
    /// `i8` zero point.
    pub fn is_valid(&self) -> bool {
        crate::spec::Rule::Scale.allows_f32(self.scale) && (-128..=127).contains(&self.zero_point)
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
    /// A channel's rescale `s_in·s_w/s_out` has no Q31 multiplier: it is below 2⁻³² or
    /// from 2³⁰ on (scales that differ by that much are a calibration gone wrong).
    Multiplier {
        /// Output channel.
        channel: usize,
    },
    /// The values handed to a conversion do not have the sizes of the layer.
    Shape,
    /// A layer that keeps its input quantization (a pool, a flatten) was given other
    /// parameters for its output: TensorFlow Lite's pools do not rescale.
    SameParams {
        /// The layer's kind (`"qmax_pool2d"`, …).
        kind: &'static str,
    },
    /// The scales of an int8 addition are beyond its fixed-point rescaling: the output
    /// scale must exceed `2·max(s_a, s_b)/2²⁰`, and the operands' scales must be within a
    /// factor 2³¹ of each other.
    AddScale,
    /// The float and int8 networks do not line up: int8 layer `layer` (of kind
    /// `expected`) has no float layers to be made from, or they are of a kind it cannot
    /// take. The type-level conversion rules this out for `Int8<N>`; it reaches a
    /// hand-written int8 type.
    Mismatch {
        /// Index of the int8 layer.
        layer: usize,
        /// Its kind.
        expected: &'static str,
        /// The kind of the float layer found, or `"nothing"`.
        found: &'static str,
    },
    /// The calibration data are unusable: no samples, or a value that is NaN or infinite
    /// at the output of float layer `layer` (`usize::MAX` for the input).
    Calibration {
        /// Index of the float layer whose output it is.
        layer: usize,
    },
}

impl fmt::Display for QuantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
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
            QuantError::Multiplier { channel } => write!(
                f,
                "cannot quantize: output channel {channel}'s rescale s_in·s_w/s_out is outside the range of a Q31 multiplier (2^-32 to 2^30)"
            ),
            QuantError::Shape => {
                f.write_str("cannot quantize: the values do not have the layer's sizes")
            }
            QuantError::SameParams { kind } => write!(
                f,
                "cannot quantize: a {kind} layer's output keeps its input quantization, and was given other parameters"
            ),
            QuantError::AddScale => f.write_str(
                "cannot quantize: an int8 add needs an output scale above 2·max(s_a, s_b)/2^20 and operand scales within a factor 2^31 of each other",
            ),
            QuantError::Mismatch {
                layer,
                expected,
                found,
            } => write!(
                f,
                "cannot quantize: int8 layer {layer} ({expected}) cannot be made from a float {found} layer"
            ),
            QuantError::Calibration { layer } if *layer == usize::MAX => f.write_str(
                "cannot calibrate: no samples, or an input value that is NaN or infinite",
            ),
            QuantError::Calibration { layer } => write!(
                f,
                "cannot calibrate: the output of float layer {layer} has a value that is NaN or infinite"
            ),
        }
    }
}

impl core::error::Error for QuantError {}
