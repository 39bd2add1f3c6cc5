//! The int8 dense layer, owned or borrowed, and the arithmetic that makes one from a float
//! [`Dense`] (with a [`BatchNorm`] folded in).

use core::borrow::Borrow;

use super::kernels::{self, Requant};
use super::requant::quantize_multiplier;
use super::store::{Borrowed, Owned, QMatrix, Store};
use super::{QLayer, QParams, QuantError};
use crate::arena::{Mapping, Place};
use crate::layers::{BatchNorm, Dense, ParamKind};
use crate::net::Infer;
use crate::spec::{
    Attr, AttrSpec, Dtype, LayerData, LayerSpec, Primitive, Rule, TensorMut, TensorRef, TensorSpec,
};
use crate::tensor::Shape;

/// A dense layer in int8: `y = clamp(z_out + requant(bias + W·x))`, with `x`, `W`, `y`
/// int8 and `bias` int32 (see the [module docs](super)).
///
/// `S` says where the arrays live: in the layer ([`Owned`], the default: a network built
/// on the host or a `static` compiled in) or in a weight file's bytes ([`Borrowed`]: a
/// view of a file in flash). Both compute with the same kernel and give the same bits.
/// `size_of` of an owned layer is its cost: `IN·OUT` bytes of weights and `12·OUT` bytes
/// of per-channel bias, multiplier and shift; nothing inference does not read.
#[derive(Clone, Debug, PartialEq)]
pub struct QDense<const IN: usize, const OUT: usize, S: Store = Owned> {
    /// Weights, symmetric per output channel: `w = s_w[o]·q`.
    pub weight: S::Matrix<IN, OUT>,
    /// Per channel: `round(b/(s_in·s_w[o])) − z_in·Σᵢ q[o][i]` — the bias with the input
    /// zero point's contribution folded in, so the kernel computes a plain `Σ q·x`.
    pub bias: S::Array<i32, OUT>,
    /// Per channel: Q31 multiplier of `s_in·s_w[o]/s_out`, in `[2³⁰, 2³¹)`.
    pub multiplier: S::Array<i32, OUT>,
    /// Per channel: power-of-two exponent of `s_in·s_w[o]/s_out`.
    pub shift: S::Array<i32, OUT>,
    /// Quantization of the input.
    pub input: QParams,
    /// Quantization of the output.
    pub output: QParams,
    /// Smallest output: −128, or the output zero point when a ReLU is fused.
    pub min: i8,
    /// Largest output: 127, or the image of 6 when a ReLU6 is fused.
    pub max: i8,
}

impl<const IN: usize, const OUT: usize> QDense<IN, OUT> {
    /// All zero (outputs the zero point 0); usable in `const` and `static` items. Its
    /// multipliers are 0, which no file may hold: convert or load before use.
    pub const ZERO: Self = QDense {
        weight: QMatrix([[0; IN]; OUT]),
        bias: [0; OUT],
        multiplier: [0; OUT],
        shift: [0; OUT],
        input: QParams::UNIT,
        output: QParams::UNIT,
        min: -128,
        max: 127,
    };

    /// The layer with these values, in spec order (the constructor of Rust source written
    /// by [`format::rust_source`](crate::format::rust_source)).
    #[allow(clippy::too_many_arguments)]
    pub const fn from_parts(
        weight: [[i8; IN]; OUT],
        bias: [i32; OUT],
        multiplier: [i32; OUT],
        shift: [i32; OUT],
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        min: i32,
        max: i32,
    ) -> Self {
        QDense {
            weight: QMatrix(weight),
            bias,
            multiplier,
            shift,
            input: QParams {
                scale: input_scale,
                zero_point: input_zero_point,
            },
            output: QParams {
                scale: output_scale,
                zero_point: output_zero_point,
            },
            min: min as i8,
            max: max as i8,
        }
    }

    /// The int8 twin of `dense`, followed by the batch normalization `bn` (folded in) and
    /// the activation `clamp` fuses, for inputs quantized with `input` and outputs with
    /// `output`. The generic conversion ([`host::quantize`](fn@crate::host::quantize)) does this
    /// for every layer of a network; this is the one-layer building block.
    ///
    /// Weights are quantized per output channel, symmetrically, to `[−127, 127]` (the
    /// rounding is computed in `f64`). The value is built on the stack.
    ///
    /// # Errors
    /// As [`DenseConversion::write`].
    pub fn from_float(
        dense: &Dense<IN, OUT>,
        bn: Option<&BatchNorm<OUT>>,
        clamp: Clamp,
        input: QParams,
        output: QParams,
    ) -> Result<Self, QuantError> {
        let mut q = Self::ZERO;
        let conversion = DenseConversion {
            weight: dense.weight.as_flattened(),
            bias: &dense.bias,
            fold: bn.map(|bn| BnFold {
                gamma: &bn.gamma,
                beta: &bn.beta,
                mean: &bn.running_mean,
                var: &bn.running_var,
                eps: bn.eps,
            }),
            inputs: IN,
            input,
            output,
            clamp,
        };
        let (min, max) = conversion.write(
            q.weight.0.as_flattened_mut(),
            &mut q.bias,
            &mut q.multiplier,
            &mut q.shift,
        )?;
        (q.input, q.output, q.min, q.max) = (input, output, min, max);
        Ok(q)
    }
}

impl<const IN: usize, const OUT: usize> crate::tensor::Zero for QDense<IN, OUT> {
    const ZERO: Self = Self::ZERO;
}

impl<'a, const IN: usize, const OUT: usize> QDense<IN, OUT, Borrowed<'a>> {
    /// The layer over arrays borrowed from a weight file (as
    /// [`format::view`](crate::format::view) builds it, after checking them).
    #[allow(clippy::too_many_arguments)]
    pub const fn borrowed(
        weight: &'a [[i8; IN]; OUT],
        bias: &'a [i32; OUT],
        multiplier: &'a [i32; OUT],
        shift: &'a [i32; OUT],
        input: QParams,
        output: QParams,
        min: i8,
        max: i8,
    ) -> Self {
        QDense {
            weight,
            bias,
            multiplier,
            shift,
            input,
            output,
            min,
            max,
        }
    }
}

impl<const IN: usize, const OUT: usize, S: Store> QDense<IN, OUT, S> {
    /// The requantization parameters for the kernel.
    #[inline]
    pub fn requant(&self) -> Requant<'_> {
        Requant {
            bias: self.bias.borrow(),
            multiplier: self.multiplier.borrow(),
            shift: self.shift.borrow(),
            zero_point: self.output.zero_point,
            min: self.min,
            max: self.max,
        }
    }

    /// The weight scale of output channel `o`, recovered from its requantization:
    /// `s_w = M·s_out/s_in` with `M = m·2^(shift − 31)` (the multiplier keeps 31 bits, so
    /// this is the scale the conversion used to within 2⁻³⁰ relative). `None` if `o` is
    /// out of range.
    pub fn weight_scale(&self, o: usize) -> Option<f64> {
        let m = f64::from(*self.multiplier.borrow().get(o)?);
        let shift = *self.shift.borrow().get(o)?;
        let real = m * libm::exp2(f64::from(shift) - 31.0);
        Some(real * f64::from(self.output.scale) / f64::from(self.input.scale))
    }
}

impl<const IN: usize, const OUT: usize, S: Store> Infer for QDense<IN, OUT, S> {
    type Input = [i8; IN];
    type Output = [i8; OUT];
    type Footprint<I: Place, O: Place> = Mapping<I, O, [i8; IN], [i8; OUT]>;

    #[inline]
    fn forward_with(&self, x: &[i8; IN], y: &mut [i8; OUT], _: &mut [i8]) {
        const { assert!(IN <= kernels::MAX_INPUTS, "too many inputs for int32 sums") };
        kernels::dense(self.weight.borrow(), x, &self.requant(), y);
    }
}

impl<const IN: usize, const OUT: usize, S: Store> QLayer for QDense<IN, OUT, S> {
    fn input_params(&self) -> QParams {
        self.input
    }
    fn output_params(&self) -> QParams {
        self.output
    }
}

/// The attributes every int8 layer stores, in this order: its input and output
/// quantization.
pub(crate) const IO_ATTRS: [AttrSpec; 4] = [
    AttrSpec::f32("input_scale", Rule::Scale),
    AttrSpec::i32("input_zero_point", Rule::Int8),
    AttrSpec::f32("output_scale", Rule::Scale),
    AttrSpec::i32("output_zero_point", Rule::Int8),
];

/// Attribute `i < 4` of [`IO_ATTRS`] for these parameters.
pub(crate) fn io_attr(input: QParams, output: QParams, i: usize) -> Option<Attr> {
    Some(match i {
        0 => Attr::F32(input.scale),
        1 => Attr::I32(input.zero_point),
        2 => Attr::F32(output.scale),
        3 => Attr::I32(output.zero_point),
        _ => return None,
    })
}

/// Sets attribute `i < 4` of [`IO_ATTRS`].
pub(crate) fn set_io_attr(
    input: &mut QParams,
    output: &mut QParams,
    i: usize,
    value: Attr,
) -> bool {
    match (i, value) {
        (0, Attr::F32(v)) => input.scale = v,
        (1, Attr::I32(v)) => input.zero_point = v,
        (2, Attr::F32(v)) => output.scale = v,
        (3, Attr::I32(v)) => output.zero_point = v,
        _ => return false,
    }
    true
}

impl<const IN: usize, const OUT: usize, S: Store> Primitive for QDense<IN, OUT, S> {
    const SPEC: LayerSpec = LayerSpec {
        kind: "qdense",
        input: Shape::vector(IN),
        output: Shape::vector(OUT),
        tensors: &[
            TensorSpec::fixed(
                "weight",
                ParamKind::Weight,
                Dtype::I8,
                Shape::matrix(OUT, IN),
                Rule::Any,
            ),
            TensorSpec::fixed(
                "bias",
                ParamKind::Bias,
                Dtype::I32,
                Shape::vector(OUT),
                Rule::Any,
            ),
            TensorSpec::fixed(
                "multiplier",
                ParamKind::Multiplier,
                Dtype::I32,
                Shape::vector(OUT),
                Rule::Multiplier,
            ),
            TensorSpec::fixed(
                "shift",
                ParamKind::Exponent,
                Dtype::I32,
                Shape::vector(OUT),
                Rule::Exponent,
            ),
        ],
        attrs: &[
            IO_ATTRS[0],
            IO_ATTRS[1],
            IO_ATTRS[2],
            IO_ATTRS[3],
            AttrSpec::i32("min", Rule::Int8),
            AttrSpec::i32("max", Rule::Int8),
        ],
        ordered: &[(4, 5)],
        int8_io: true,
    };
}

impl<const IN: usize, const OUT: usize, S: Store> LayerData for QDense<IN, OUT, S> {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::quant::QDense::from_parts"
    }
    fn tensor(&self, i: usize) -> Option<TensorRef<'_>> {
        Some(match i {
            0 => TensorRef::I8(self.weight.borrow().as_flattened()),
            1 => TensorRef::I32(self.bias.borrow()),
            2 => TensorRef::I32(self.multiplier.borrow()),
            3 => TensorRef::I32(self.shift.borrow()),
            _ => return None,
        })
    }
    fn tensor_mut(&mut self, i: usize) -> Option<TensorMut<'_>> {
        Some(match i {
            0 => TensorMut::I8(S::matrix_mut(&mut self.weight)?.as_flattened_mut()),
            1 => TensorMut::I32(S::array_mut(&mut self.bias)?),
            2 => TensorMut::I32(S::array_mut(&mut self.multiplier)?),
            3 => TensorMut::I32(S::array_mut(&mut self.shift)?),
            _ => return None,
        })
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        match i {
            4 => Some(Attr::I32(i32::from(self.min))),
            5 => Some(Attr::I32(i32::from(self.max))),
            _ => io_attr(self.input, self.output, i),
        }
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        match (i, value) {
            (4, Attr::I32(v)) => self.min = v.clamp(-128, 127) as i8,
            (5, Attr::I32(v)) => self.max = v.clamp(-128, 127) as i8,
            _ => return set_io_attr(&mut self.input, &mut self.output, i, value),
        }
        true
    }
}

/// The activation a conversion fuses into an int8 layer's output clamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Clamp {
    /// None: the whole int8 range.
    #[default]
    None,
    /// ReLU: nothing below the output zero point (the image of 0).
    Relu,
    /// ReLU6: between the images of 0 and 6.
    Relu6,
}

impl Clamp {
    /// The clamp after a further activation: ReLU6 bounds what ReLU already bounds.
    pub const fn then(self, next: Clamp) -> Clamp {
        match (self, next) {
            (Clamp::Relu6, _) | (_, Clamp::Relu6) => Clamp::Relu6,
            (Clamp::Relu, _) | (_, Clamp::Relu) => Clamp::Relu,
            _ => Clamp::None,
        }
    }

    /// The int8 bounds for outputs quantized with `output`.
    pub fn bounds(self, output: QParams) -> (i8, i8) {
        let zero = output.zero_point.clamp(-128, 127) as i8;
        match self {
            Clamp::None => (-128, 127),
            Clamp::Relu => (zero, 127),
            Clamp::Relu6 => (zero, output.quantize(6.0).max(zero)),
        }
    }
}

/// A batch normalization to fold, as slices (from a [`BatchNorm`] or its description).
#[derive(Clone, Copy, Debug)]
pub struct BnFold<'a> {
    /// γ.
    pub gamma: &'a [f32],
    /// β.
    pub beta: &'a [f32],
    /// Running mean.
    pub mean: &'a [f32],
    /// Running variance.
    pub var: &'a [f32],
    /// ε.
    pub eps: f32,
}

impl BnFold<'_> {
    /// The affine map `y = k·x + c` of feature `j`, in `f64` (see [`BatchNorm::affine`]);
    /// the identity past the end.
    pub fn affine(&self, j: usize) -> (f64, f64) {
        let (Some(&g), Some(&b), Some(&m), Some(&v)) = (
            self.gamma.get(j),
            self.beta.get(j),
            self.mean.get(j),
            self.var.get(j),
        ) else {
            return (1.0, 0.0);
        };
        let inv = 1.0 / libm::sqrt(f64::from(v) + f64::from(self.eps));
        let k = f64::from(g) * inv;
        (k, f64::from(b) - k * f64::from(m))
    }
}

/// Everything that makes one int8 dense layer from float values: the weights
/// (`outputs × inputs`, row-major), the biases, the batch normalization to fold, the
/// quantization of input and output and the fused activation.
#[derive(Clone, Copy, Debug)]
pub struct DenseConversion<'a> {
    /// Float weights, `outputs × inputs`, row-major.
    pub weight: &'a [f32],
    /// Float biases, one per output.
    pub bias: &'a [f32],
    /// The batch normalization after the layer, folded in.
    pub fold: Option<BnFold<'a>>,
    /// Inputs per output row.
    pub inputs: usize,
    /// Quantization of the input.
    pub input: QParams,
    /// Quantization of the output.
    pub output: QParams,
    /// The activation fused into the clamp.
    pub clamp: Clamp,
}

impl DenseConversion<'_> {
    /// Checks everything the conversion needs and returns the clamp bounds; nothing is
    /// written.
    ///
    /// # Errors
    /// [`QuantError::InvalidParams`] for unusable `input` or `output`;
    /// [`QuantError::NonFinite`] for a NaN or infinite weight, bias or batch-normalization
    /// value; [`QuantError::BiasOverflow`] if a bias does not fit in `±2³⁰` at scale
    /// `s_in·s_w`; [`QuantError::Multiplier`] if a channel's rescale `s_in·s_w/s_out` is
    /// too small or too large for a Q31 multiplier; [`QuantError::Shape`] if the float
    /// values do not have the sizes of one layer.
    pub fn check(&self) -> Result<(i8, i8), QuantError> {
        if !self.input.is_valid() {
            return Err(QuantError::InvalidParams { which: "input" });
        }
        if !self.output.is_valid() {
            return Err(QuantError::InvalidParams { which: "output" });
        }
        let outputs = self.bias.len();
        if Some(self.weight.len()) != outputs.checked_mul(self.inputs)
            || self.inputs > kernels::MAX_INPUTS
            || self.fold.is_some_and(|f| f.gamma.len() != outputs)
        {
            return Err(QuantError::Shape);
        }
        for o in 0..outputs {
            self.channel(o)?;
        }
        Ok(self.clamp.bounds(self.output))
    }

    /// Writes tensor `i` of the int8 layer, in the order of `qdense`'s spec: 0 the int8
    /// weights, 1 the int32 biases, 2 the multipliers, 3 the shifts. Call
    /// [`check`](Self::check) first.
    ///
    /// # Errors
    /// [`QuantError::Shape`] if `out` is not that tensor (type or length); as
    /// [`check`](Self::check) for a channel.
    pub fn fill(&self, i: usize, out: TensorMut<'_>) -> Result<(), QuantError> {
        let outputs = self.bias.len();
        match (i, out) {
            (0, TensorMut::I8(w)) if Some(w.len()) == outputs.checked_mul(self.inputs) => {
                let rows = w.chunks_exact_mut(self.inputs.max(1));
                for (o, row) in rows.enumerate() {
                    let ch = self.channel(o)?;
                    let src = self.weight.get(o * self.inputs..).unwrap_or_default();
                    for (q, &v) in row.iter_mut().zip(src) {
                        *q = ch.quantize(v);
                    }
                }
            }
            (1..=3, TensorMut::I32(v)) if v.len() == outputs => {
                for (o, d) in v.iter_mut().enumerate() {
                    let ch = self.channel(o)?;
                    *d = match i {
                        1 => ch.bias,
                        2 => ch.multiplier,
                        _ => ch.shift,
                    };
                }
            }
            _ => return Err(QuantError::Shape),
        }
        Ok(())
    }

    /// [`check`](Self::check), then every [`fill`](Self::fill): writes the int8 weights,
    /// int32 biases, multipliers and shifts, and returns the clamp bounds. Nothing is
    /// written if a check fails.
    ///
    /// # Errors
    /// As [`check`](Self::check), and [`QuantError::Shape`] for slices of other sizes.
    pub fn write(
        &self,
        weight: &mut [i8],
        bias: &mut [i32],
        multiplier: &mut [i32],
        shift: &mut [i32],
    ) -> Result<(i8, i8), QuantError> {
        let bounds = self.check()?;
        let outputs = self.bias.len();
        if Some(weight.len()) != outputs.checked_mul(self.inputs)
            || [bias.len(), multiplier.len(), shift.len()] != [outputs; 3]
        {
            return Err(QuantError::Shape);
        }
        self.fill(0, TensorMut::I8(weight))?;
        self.fill(1, TensorMut::I32(bias))?;
        self.fill(2, TensorMut::I32(multiplier))?;
        self.fill(3, TensorMut::I32(shift))?;
        Ok(bounds)
    }

    /// Output channel `o`, checked.
    fn channel(&self, o: usize) -> Result<Channel, QuantError> {
        let (k, c) = self.fold.map_or((1.0, 0.0), |f| f.affine(o));
        if !(k.is_finite() && c.is_finite()) {
            return Err(QuantError::NonFinite {
                what: "batch normalization",
                channel: o,
            });
        }
        let row = self
            .weight
            .get(o * self.inputs..(o + 1) * self.inputs)
            .ok_or(QuantError::Shape)?;
        let mut amax = 0.0f64;
        for &w in row {
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
        let b = k * f64::from(self.bias.get(o).copied().unwrap_or(0.0)) + c;
        if !b.is_finite() {
            return Err(QuantError::NonFinite {
                what: "bias",
                channel: o,
            });
        }
        let mut ch = Channel {
            k,
            scale,
            bias: 0,
            multiplier: 0,
            shift: 0,
        };
        let sum: i64 = row.iter().map(|&w| i64::from(ch.quantize(w))).sum();
        let s_in = f64::from(self.input.scale);
        let bias =
            libm::round(b / (s_in * scale)) - (i64::from(self.input.zero_point) * sum) as f64;
        if bias.is_nan() || bias.abs() > (1u32 << 30) as f64 {
            return Err(QuantError::BiasOverflow { channel: o });
        }
        ch.bias = bias as i32;
        let real = s_in * scale / f64::from(self.output.scale);
        (ch.multiplier, ch.shift) = quantize_multiplier(real);
        // Below 2^-32 the multiplier flushes to 0; from 2^30 on it saturates.
        if ch.multiplier < 1 << 30 || real >= (1u32 << 30) as f64 {
            return Err(QuantError::Multiplier { channel: o });
        }
        Ok(ch)
    }
}

/// One output channel of a dense layer with batch normalization folded in:
/// `y = k·(w·x + b) + c`, its weight scale, int32 bias and requantization.
struct Channel {
    k: f64,
    scale: f64,
    bias: i32,
    multiplier: i32,
    shift: i32,
}

impl Channel {
    /// The int8 weight of float weight `w`.
    fn quantize(&self, w: f32) -> i8 {
        libm::round(self.k * f64::from(w) / self.scale).clamp(-127.0, 127.0) as i8
    }
}
