//! The int8 dense layer and its conversion from a float [`Dense`] (and [`BatchNorm`]).

use super::kernels::{self, Requant};
use super::requant::quantize_multiplier;
use super::{QLayer, QParams, QuantError};
use crate::layers::{BatchNorm, Dense};

/// An `OUT × IN` int8 weight matrix, row-major (one row of `IN` weights per output),
/// 4-byte aligned so kernels may read it a word at a time.
#[derive(Clone, Debug, PartialEq)]
#[repr(C, align(4))]
pub struct QMatrix<const IN: usize, const OUT: usize>(pub [[i8; IN]; OUT]);

/// A dense layer in int8: `y = clamp(z_out + requant(bias + W·x))`, with `x`, `W`, `y`
/// int8 and `bias` int32 (see the [module docs](super)).
///
/// Build it with [`from_float`](Self::from_float); it has the shape of the `Dense<IN, OUT>`
/// it came from, and `size_of` is its cost: `IN·OUT` bytes of weights and `12·OUT` bytes
/// of per-channel bias, multiplier and shift.
#[derive(Clone, Debug, PartialEq)]
pub struct QDense<const IN: usize, const OUT: usize> {
    /// Weights, symmetric per output channel: `w = weight_scale[o]·q`.
    pub weight: QMatrix<IN, OUT>,
    /// Per channel: `round(b/(s_in·s_w[o])) − z_in·Σᵢ q[o][i]` — the bias with the input
    /// zero point's contribution folded in, so the kernel computes a plain `Σ q·x`.
    pub bias: [i32; OUT],
    /// Per channel: Q31 multiplier of `s_in·s_w[o]/s_out`.
    pub multiplier: [i32; OUT],
    /// Per channel: power-of-two exponent of `s_in·s_w[o]/s_out`.
    pub shift: [i32; OUT],
    /// Per channel: the weights' scale `s_w[o]`.
    pub weight_scale: [f32; OUT],
    /// Quantization of the input.
    pub input: QParams,
    /// Quantization of the output.
    pub output: QParams,
    /// Smallest output: −128, or the output zero point when a ReLU is fused.
    pub min: i8,
    /// Largest output: 127.
    pub max: i8,
}

impl<const IN: usize, const OUT: usize> QDense<IN, OUT> {
    /// All zero (outputs the zero point 0); usable in `const` and `static` items.
    pub const ZERO: Self = QDense {
        weight: QMatrix([[0; IN]; OUT]),
        bias: [0; OUT],
        multiplier: [0; OUT],
        shift: [0; OUT],
        weight_scale: [1.0; OUT],
        input: QParams {
            scale: 1.0,
            zero_point: 0,
        },
        output: QParams {
            scale: 1.0,
            zero_point: 0,
        },
        min: -128,
        max: 127,
    };

    /// The int8 twin of `dense`, followed by the batch normalization `bn` (folded in) and,
    /// if `relu`, a ReLU (fused as the clamp), for inputs quantized with `input` and
    /// outputs with `output`.
    ///
    /// Weights are quantized per output channel, symmetrically, to `[−127, 127]` (the
    /// rounding is computed in `f64`). The value is built on the stack; for large layers
    /// (or a small stack) fill one in place with [`quantize_from`](Self::quantize_from).
    ///
    /// # Errors
    /// As [`quantize_from`](Self::quantize_from).
    pub fn from_float(
        dense: &Dense<IN, OUT>,
        bn: Option<&BatchNorm<OUT>>,
        relu: bool,
        input: QParams,
        output: QParams,
    ) -> Result<Self, QuantError> {
        let mut q = Self::ZERO;
        q.quantize_from(dense, bn, relu, input, output)?;
        Ok(q)
    }

    /// [`from_float`](Self::from_float) into `self`, in place. Everything is checked before
    /// anything is written: on error `self` is unchanged.
    ///
    /// # Errors
    /// [`QuantError::NonFinite`] for a NaN or infinite weight, bias or batch-normalization
    /// value; [`QuantError::InvalidParams`] for unusable `input` or `output`;
    /// [`QuantError::BiasOverflow`] if a bias does not fit in `±2³⁰` at scale `s_in·s_w`.
    pub fn quantize_from(
        &mut self,
        dense: &Dense<IN, OUT>,
        bn: Option<&BatchNorm<OUT>>,
        relu: bool,
        input: QParams,
        output: QParams,
    ) -> Result<(), QuantError> {
        const { assert!(IN <= kernels::MAX_INPUTS, "too many inputs for int32 sums") };
        if !input.is_valid() {
            return Err(QuantError::InvalidParams { which: "input" });
        }
        if !output.is_valid() {
            return Err(QuantError::InvalidParams { which: "output" });
        }
        // Pass 1 checks every channel; pass 2 writes.
        for o in 0..OUT {
            Channel::new(dense, bn, o, input)?;
        }
        for o in 0..OUT {
            let ch = Channel::new(dense, bn, o, input)?;
            for (qw, &w) in self.weight.0[o].iter_mut().zip(&dense.weight[o]) {
                *qw = ch.quantize(w);
            }
            self.bias[o] = ch.bias;
            (self.multiplier[o], self.shift[o]) =
                quantize_multiplier(f64::from(input.scale) * ch.scale / f64::from(output.scale));
            self.weight_scale[o] = ch.scale as f32;
        }
        self.input = input;
        self.output = output;
        self.min = if relu { output.zero_point as i8 } else { -128 };
        self.max = 127;
        Ok(())
    }

    /// The requantization parameters for the kernel.
    #[inline]
    pub fn requant(&self) -> Requant<'_, OUT> {
        Requant {
            bias: &self.bias,
            multiplier: &self.multiplier,
            shift: &self.shift,
            zero_point: self.output.zero_point,
            min: self.min,
            max: self.max,
        }
    }
}

impl<const IN: usize, const OUT: usize> QLayer for QDense<IN, OUT> {
    type Input = [i8; IN];
    type Output = [i8; OUT];
    type Scratch = ();

    #[inline]
    fn forward(&self, x: &[i8; IN], y: &mut [i8; OUT], _: &mut ()) {
        kernels::dense(&self.weight.0, x, &self.requant(), y);
    }

    fn input_params(&self) -> QParams {
        self.input
    }

    fn output_params(&self) -> QParams {
        self.output
    }
}

/// One output channel of a dense layer with batch normalization folded in:
/// `y = k·(w·x + b) + c`, its weight scale and its int32 bias.
struct Channel {
    k: f64,
    scale: f64,
    bias: i32,
}

impl Channel {
    fn new<const IN: usize, const OUT: usize>(
        dense: &Dense<IN, OUT>,
        bn: Option<&BatchNorm<OUT>>,
        o: usize,
        input: QParams,
    ) -> Result<Channel, QuantError> {
        let (k, c) = match bn {
            Some(bn) => {
                let inv = 1.0 / libm::sqrt(f64::from(bn.running_var[o]) + f64::from(bn.eps));
                let k = f64::from(bn.gamma[o]) * inv;
                (k, f64::from(bn.beta[o]) - k * f64::from(bn.running_mean[o]))
            }
            None => (1.0, 0.0),
        };
        if !(k.is_finite() && c.is_finite()) {
            return Err(QuantError::NonFinite {
                what: "batch normalization",
                channel: o,
            });
        }
        let mut amax = 0.0f64;
        for &w in &dense.weight[o] {
            let v = k * f64::from(w);
            if !v.is_finite() {
                return Err(QuantError::NonFinite {
                    what: "weight",
                    channel: o,
                });
            }
            amax = amax.max(libm::fabs(v));
        }
        let scale = if amax > 0.0 { amax / 127.0 } else { 1.0 };
        let b = k * f64::from(dense.bias[o]) + c;
        if !b.is_finite() {
            return Err(QuantError::NonFinite {
                what: "bias",
                channel: o,
            });
        }
        let mut ch = Channel { k, scale, bias: 0 };
        let sum: i64 = dense.weight[o]
            .iter()
            .map(|&w| i64::from(ch.quantize(w)))
            .sum();
        let bias = libm::round(b / (f64::from(input.scale) * scale))
            - (i64::from(input.zero_point) * sum) as f64;
        if bias.is_nan() || bias.abs() > (1u32 << 30) as f64 {
            return Err(QuantError::BiasOverflow { channel: o });
        }
        ch.bias = bias as i32;
        Ok(ch)
    }

    /// The int8 weight of float weight `w`.
    fn quantize(&self, w: f32) -> i8 {
        libm::round(self.k * f64::from(w) / self.scale).clamp(-127.0, 127.0) as i8
    }
}
