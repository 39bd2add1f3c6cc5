//! Post-training quantization on the host: activation ranges calibrated on data in one
//! pass through the network, the generic conversion of any float network to its int8 twin,
//! and evaluation of int8 networks.
//!
//! ```
//! use firmnet::host::{RangeMethod, quantize};
//! use firmnet::prelude::*;
//! use firmnet::quant::{Int8, QLayer};
//!
//! type Net = Net![Dense<4, 8>, BatchNorm<8>, Relu<[f32; 8]>, Dense<8, 3>];
//! let mut net: Net = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
//! net.init(Init::HeNormal, &mut Rng::new(1));
//! let mut rng = Rng::new(2);
//! let samples: Vec<[f32; 4]> = (0..200).map(|_| [rng.normal(), rng.normal(), rng.normal(), rng.normal()]).collect();
//!
//! let int8: Box<Int8<Net>> = quantize(&net, &samples, RangeMethod::MinMax)?;
//! let mut logits = [0i8; 3];
//! let mut x = [0i8; 4];
//! int8.input_params().quantize_slice(&samples[0], &mut x);
//! let mut arena = Scratch::<Int8<Net>>::ZERO;
//! int8.forward(&x, &mut logits, &mut arena);
//! # Ok::<(), firmnet::quant::QuantError>(())
//! ```

use std::prelude::rust_2024::*;
use std::vec;

use super::metrics::{Metrics, Tally, Task};
use super::trainer::{Evaluation, Samples, tally_sample};
use crate::layers::{Context, Layer};
use crate::loss::softmax_cross_entropy;
use crate::net::Scratch;
use crate::quant::convert::{Build, ToNet, groups};
use crate::quant::{Int8, QLayer, QParams, QuantError, Quantize, argmax_i8, convert};
use crate::rng::Rng;
use crate::spec::Describe;
use crate::tensor::{Tensor, Zero};
use crate::train::TrainBuffers;

/// How an activation range is chosen from the values seen in calibration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RangeMethod {
    /// The smallest and largest value seen: nothing clips, outliers cost resolution.
    MinMax,
    /// The given percentiles of the values (e.g. `Percentile(99.99)`: the range from the
    /// 0.01th to the 99.99th percentile); the few values outside clip.
    Percentile(f32),
    /// The range, shrunk from min/max, that minimizes the mean squared quantization
    /// error over the values (rounding and clipping error together).
    Mse,
}

/// Quantization parameters for `values` (the calibration activations of one tensor).
/// Empty input gives scale 1, zero point 0. Non-finite values are ignored.
pub fn calibrate(values: &[f32], method: RangeMethod) -> QParams {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f32::total_cmp);
    match (v.first(), v.last()) {
        (Some(&min), Some(&max)) => range(&v, min, max, method),
        _ => QParams::from_range(0.0, 0.0),
    }
}

/// The parameters for the sorted values `v`, whose exact extremes are `min` and `max`.
fn range(v: &[f32], min: f32, max: f32, method: RangeMethod) -> QParams {
    match method {
        RangeMethod::MinMax => QParams::from_range(min, max),
        RangeMethod::Percentile(p) => {
            let p = f64::from(p.clamp(50.0, 100.0)) / 100.0;
            let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
            QParams::from_range(at(1.0 - p), at(p))
        }
        RangeMethod::Mse => {
            // A subsample keeps the search cheap; 100 shrink factors from 1 down to 0.2.
            let step = (v.len() / 20_000).max(1);
            let sample: Vec<f32> = v.iter().step_by(step).copied().collect();
            let mut best = (f64::INFINITY, QParams::from_range(min, max));
            for k in 0..100 {
                let f = 1.0 - 0.008 * k as f32;
                let q = QParams::from_range(min * f, max * f);
                let err: f64 = sample
                    .iter()
                    .map(|&x| f64::from(q.dequantize(q.quantize(x)) - x).powi(2))
                    .sum();
                if err < best.0 {
                    best = (err, q);
                }
            }
            best.1
        }
    }
}

/// The values of one tensor seen in calibration: exact extremes, and all values up to
/// [`Calibration::CAPACITY`], beyond it a uniform sample of that many (reservoir sampling,
/// seeded, so calibration is reproducible).
#[derive(Clone, Debug)]
struct Collector {
    min: f32,
    max: f32,
    values: Vec<f32>,
    seen: u64,
    rng: Rng,
}

impl Collector {
    fn new(seed: u64) -> Self {
        Collector {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            values: Vec::new(),
            seen: 0,
            rng: Rng::new(seed),
        }
    }

    /// Adds `values`; `false` if one is not finite.
    fn add(&mut self, values: &[f32]) -> bool {
        for &v in values {
            if !v.is_finite() {
                return false;
            }
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            self.seen += 1;
            if self.values.len() < Calibration::CAPACITY {
                self.values.push(v);
            } else {
                let j = ((u64::from(self.rng.next_u32()) << 32) | u64::from(self.rng.next_u32()))
                    % self.seen;
                if let Some(slot) = self.values.get_mut(j as usize) {
                    *slot = v;
                }
            }
        }
        true
    }

    fn params(&self, method: RangeMethod) -> QParams {
        if self.values.is_empty() {
            return QParams::from_range(0.0, 0.0);
        }
        let mut v = self.values.clone();
        v.sort_by(f32::total_cmp);
        range(&v, self.min, self.max, method)
    }
}

/// What calibration saw of a float network: the values at its input and at every boundary
/// where its int8 twin has a layer boundary, recorded in one pass through the network
/// over the calibration samples. Choosing a [`RangeMethod`] then costs no further pass,
/// so the method can be chosen on validation data:
///
/// ```
/// use firmnet::host::{Calibration, RangeMethod};
/// use firmnet::prelude::*;
/// use firmnet::quant::Int8;
///
/// type Net = Net![Dense<2, 4>, Tanh<[f32; 4]>, Dense<4, 2>];
/// let mut net: Net = net![Dense::ZERO, Tanh::DEFAULT, Dense::ZERO];
/// net.init(Init::GlorotUniform, &mut Rng::new(3));
/// let samples = [[0.5, -1.0], [1.0, 2.0], [-0.25, 0.0]];
/// let calibration = Calibration::record(&net, &samples)?;
/// for method in [RangeMethod::MinMax, RangeMethod::Mse] {
///     let int8: Box<Int8<Net>> = calibration.quantize(&net, method)?;
///     # let _ = int8;
/// }
/// # Ok::<(), firmnet::quant::QuantError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Calibration {
    input: Collector,
    fixed_input: Option<QParams>,
    boundaries: Vec<(usize, Collector)>,
    samples: usize,
}

impl Calibration {
    /// Values kept per tensor (beyond, a uniform sample of this many).
    pub const CAPACITY: usize = 1 << 20;

    /// Samples per forward pass of the recording.
    const BATCH: usize = 32;

    /// Runs `net` in inference mode over `samples` (inputs as the network takes them) and
    /// records its input and the output of every float layer that ends an int8 layer (but
    /// pools, flatten and the entries that open residual blocks, whose int8 layers keep
    /// their input's quantization: they get no range of their own).
    ///
    /// # Errors
    /// [`QuantError::Calibration`] for no samples or a value that is not finite;
    /// [`QuantError::Mismatch`] for a network with a layer without an int8 form.
    pub fn record<N>(net: &N, samples: &[N::Input]) -> Result<Calibration, QuantError>
    where
        N: Layer + Clone + Zero,
    {
        if samples.is_empty() {
            return Err(QuantError::Calibration { layer: usize::MAX });
        }
        // The boundaries with a range of their own: not those of pools and flatten, which
        // keep their input's quantization.
        let mut ends = Vec::new();
        for g in groups::<N>() {
            let g = g?;
            if !g.kind.keeps_quantization() {
                ends.push(g.last);
            }
        }
        let mut cal = Calibration {
            input: Collector::new(1),
            fixed_input: None,
            boundaries: ends
                .iter()
                .enumerate()
                .map(|(k, &i)| (i, Collector::new(k as u64 + 2)))
                .collect(),
            samples: samples.len(),
        };
        let mut net = crate::boxed::clone(net);
        let mut buf: Box<TrainBuffers<N, { Self::BATCH }>> = crate::boxed::zero();
        let mut x: Box<[N::Input; Self::BATCH]> = crate::boxed::zero();
        let mut ctx = Context::inference();
        for chunk in samples.chunks(Self::BATCH) {
            for (k, slot) in x.iter_mut().enumerate() {
                *slot = chunk[k.min(chunk.len() - 1)];
            }
            net.forward_train(&x, &mut buf.out, &mut buf.cache, &mut ctx);
            let valid = chunk.len();
            let input = N::Input::batch_slice(&x);
            if !cal.input.add(&input[..valid * N::Input::LEN]) {
                return Err(QuantError::Calibration { layer: usize::MAX });
            }
            for (i, c) in &mut cal.boundaries {
                let values = if *i + 1 == N::LAYERS {
                    N::Output::batch_slice(&buf.out)
                } else {
                    N::activation(&buf.cache, *i).ok_or(QuantError::Calibration { layer: *i })?
                };
                let per_sample = values.len() / Self::BATCH;
                if !c.add(&values[..valid * per_sample]) {
                    return Err(QuantError::Calibration { layer: *i });
                }
            }
        }
        Ok(cal)
    }

    /// The same calibration, with the network's input quantized by `params` rather than
    /// by the range calibration saw (raw pixels, say: [`QParams::PIXELS`]).
    pub fn with_input(mut self, params: QParams) -> Calibration {
        self.fixed_input = Some(params);
        self
    }

    /// Number of samples recorded.
    pub fn samples(&self) -> usize {
        self.samples
    }

    /// The quantization of the network's input: as set by
    /// [`with_input`](Self::with_input), else the range of the inputs seen (min/max: the
    /// inputs' range is the data's, not a distribution with outliers).
    pub fn input_params(&self) -> QParams {
        self.fixed_input
            .unwrap_or_else(|| self.input.params(RangeMethod::MinMax))
    }

    /// The quantization of the output of float layer `layer`, by `method`; `None` for a
    /// layer whose output calibration did not record.
    pub fn params(&self, layer: usize, method: RangeMethod) -> Option<QParams> {
        self.boundaries
            .iter()
            .find(|(i, _)| *i == layer)
            .map(|(_, c)| c.params(method))
    }

    /// The int8 twin of `net` with the ranges chosen by `method`, on the heap.
    ///
    /// # Errors
    /// As [`convert`](fn@convert).
    pub fn quantize<N>(&self, net: &N, method: RangeMethod) -> Result<Box<Int8<N>>, QuantError>
    where
        N: Layer + Quantize,
        N::Layers: Build<crate::quant::Owned, Out: ToNet<Net: Describe + Zero>>,
    {
        let mut q: Box<Int8<N>> = crate::boxed::zero();
        self.quantize_into(net, &mut *q, method)?;
        Ok(q)
    }

    /// Writes the int8 twin of `net` into `q` (which may be `Int8<N>` with any storage
    /// that owns its arrays).
    ///
    /// # Errors
    /// As [`convert`](fn@convert).
    pub fn quantize_into<N: Layer, Q: Describe>(
        &self,
        net: &N,
        q: &mut Q,
        method: RangeMethod,
    ) -> Result<(), QuantError> {
        let params: Vec<(usize, QParams)> = self
            .boundaries
            .iter()
            .map(|(i, c)| (*i, c.params(method)))
            .collect();
        let boundary = |i: usize| {
            params
                .iter()
                .find(|(j, _)| *j == i)
                .map_or(QParams::UNIT, |(_, p)| *p)
        };
        convert(net, q, self.input_params(), boundary)
    }
}

/// The int8 twin of a trained float network in one call: calibration on `samples` (inputs
/// as the network takes them; a few thousand training inputs are plenty), every range
/// chosen by `method`, every layer converted ([`convert`](fn@convert)). See [`Calibration`] to choose
/// the method on validation data with one calibration pass.
///
/// # Errors
/// As [`Calibration::record`] and [`convert`](fn@convert).
pub fn quantize<N>(
    net: &N,
    samples: &[N::Input],
    method: RangeMethod,
) -> Result<Box<Int8<N>>, QuantError>
where
    N: Layer + Quantize + Clone + Zero,
    N::Layers: Build<crate::quant::Owned, Out: ToNet<Net: Describe + Zero>>,
{
    Calibration::record(net, samples)?.quantize(net, method)
}

/// The metrics of an int8 network on float samples for the task of `loss`: each input
/// is quantized with the network's [`input_params`](QLayer::input_params), and the int8
/// outputs are dequantized with its [`output_params`](QLayer::output_params) before they
/// are measured — what the firmware's outputs mean. For a classifier this gives the same
/// accuracy as [`evaluate_int8`]. The network's input is any int8 tensor of `D` elements,
/// in the order of the rows (row-major, channels last).
pub fn evaluate_int8_with<Q, T, const D: usize, const N: usize>(
    net: &Q,
    data: &Samples<D, T::Target>,
    loss: &T,
) -> Metrics
where
    Q: QLayer<Output = [i8; N]>,
    T: Task<N>,
{
    input_len::<Q::Input, D>();
    let mut scratch = crate::boxed::zero::<Scratch<Q>>();
    let (input, output) = (net.input_params(), net.output_params());
    let mut xq = Q::Input::ZERO;
    let mut yq = [0i8; N];
    let mut tally = Tally::new();
    for (x, y) in data.x.iter().zip(&data.y) {
        input.quantize_slice(x, xq.as_mut_slice());
        net.forward(&xq, &mut yq, &mut scratch);
        tally_sample(loss, &yq.map(|q| output.dequantize(q)), y, &mut tally);
    }
    tally.metrics()
}

/// Evaluates an int8 classifier on float samples: each input is quantized with the
/// network's [`input_params`](QLayer::input_params), the prediction is the argmax of the
/// int8 logits, and the loss the cross-entropy of the dequantized logits. The network's
/// input is any int8 tensor of `D` elements, as for [`evaluate_int8_with`].
pub fn evaluate_int8<Q, const D: usize, const C: usize>(net: &Q, data: &Samples<D>) -> Evaluation
where
    Q: QLayer<Output = [i8; C]>,
{
    input_len::<Q::Input, D>();
    let mut scratch = crate::boxed::zero::<Scratch<Q>>();
    let (input, output) = (net.input_params(), net.output_params());
    let mut xq = Q::Input::ZERO;
    let mut yq = [0i8; C];
    let (mut total, mut correct) = (0.0f64, 0usize);
    let mut predictions = vec![0u16; data.len()];
    for ((x, &y), p) in data.x.iter().zip(&data.y).zip(predictions.iter_mut()) {
        input.quantize_slice(x, xq.as_mut_slice());
        net.forward(&xq, &mut yq, &mut scratch);
        let logits = [yq.map(|q| output.dequantize(q))];
        let mut d = [[0.0; C]];
        total += f64::from(softmax_cross_entropy(&logits, &[y], &mut d).unwrap_or(f32::INFINITY));
        *p = argmax_i8(&yq) as u16;
        correct += usize::from(*p == y);
    }
    let n = data.len().max(1) as f64;
    Evaluation {
        loss: (total / n) as f32,
        accuracy: (correct as f64 / n) as f32,
        predictions,
    }
}

/// Checks at compile time that the int8 input `I` has the `D` elements of a sample row.
const fn input_len<I: Tensor, const D: usize>() {
    const {
        assert!(
            I::LEN == D,
            "the samples' rows and the network's input differ in length"
        );
    }
}
