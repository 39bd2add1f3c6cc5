//! From a verified flatbuffer to a checked [`TfliteModel`].

use std::prelude::rust_2024::*;
use std::vec;

use super::flatbuffer::{self, Table, Vector};
use super::schema::{self, op, options, tensor_type};
use super::{
    Activation, Conv, ElementType, ImportError, Op, Operator, OperatorCode, Padding, Pool, Problem,
    Quantization, Tensor, TfliteModel,
};

/// How many times the file's size the importer copies out of it at most (shapes, scales,
/// names, constant data). A file whose tables are not shared copies at most its own size;
/// tables shared many times over (a valid flatbuffer, but not what a converter writes) would
/// otherwise make the work grow with the square of the size.
const COPY_FACTOR: usize = 8;

struct Budget {
    left: usize,
}

impl Budget {
    fn take(&mut self, bytes: usize, at: usize) -> Result<(), ImportError> {
        self.left = self.left.checked_sub(bytes).ok_or(ImportError::Malformed {
            at,
            what: "tables shared so often that reading them exceeds the file's size",
        })?;
        Ok(())
    }

    fn i32s(&mut self, v: Option<Vector<'_>>, at: usize) -> Result<Vec<i32>, ImportError> {
        let Some(v) = v else { return Ok(Vec::new()) };
        self.take(4 * v.len(), at)?;
        Ok(v.i32s())
    }
}

/// A tensor as read, before checking.
struct Info<'a> {
    name: String,
    shape: Vec<usize>,
    element: Result<ElementType, i8>,
    quantization: Result<Quantization, &'static str>,
    data: Option<&'a [u8]>,
}

impl Info<'_> {
    fn len(&self) -> usize {
        self.shape.iter().product()
    }
}

fn model_err(problem: Problem) -> ImportError {
    ImportError::Model(problem)
}

pub(super) fn import(bytes: &[u8]) -> Result<TfliteModel, ImportError> {
    use schema::{model, subgraph};
    let root = flatbuffer::verify(bytes, schema::IDENTIFIER, &schema::MODEL).map_err(|m| {
        ImportError::Malformed {
            at: m.at,
            what: m.what,
        }
    })?;
    let mut budget = Budget {
        left: bytes.len().saturating_mul(COPY_FACTOR),
    };

    let version = root.u32(model::VERSION, 0);
    if version != schema::SCHEMA_VERSION {
        return Err(model_err(Problem::Version(version)));
    }
    let subgraphs = root.vector(model::SUBGRAPHS);
    let count = subgraphs.map_or(0, |v| v.len());
    let Some(subgraphs) = subgraphs.filter(|_| count == 1) else {
        return Err(model_err(Problem::SubgraphCount(count)));
    };
    let graph = subgraphs.table(0);
    let description = root
        .string(model::DESCRIPTION)
        .map(|s| {
            budget.take(s.len(), root.position())?;
            Ok(String::from_utf8_lossy(s).into_owned())
        })
        .transpose()?
        .unwrap_or_default();

    let codes = operator_codes(root, &mut budget)?;
    let buffers = root.vector(model::BUFFERS);
    let tensor_tables = graph.vector(subgraph::TENSORS);
    let n = tensor_tables.map_or(0, |v| v.len());
    budget.take(4 * n, graph.position())?;
    let mut infos = Vec::with_capacity(n);
    for i in 0..n {
        let Some(t) = tensor_tables.map(|v| v.table(i)) else {
            break;
        };
        infos.push(read_tensor(i, t, buffers, &mut budget)?);
    }

    let inputs = indices(
        budget.i32s(graph.vector(subgraph::INPUTS), graph.position())?,
        n,
    )
    .map_err(model_err)?;
    let outputs = indices(
        budget.i32s(graph.vector(subgraph::OUTPUTS), graph.position())?,
        n,
    )
    .map_err(model_err)?;

    let mut check = Check {
        infos: &infos,
        produced: vec![false; n],
        is_input: vec![false; n],
        is_output: vec![false; n],
    };
    for &i in &inputs {
        check.produced[i] = true;
        check.is_input[i] = true;
    }
    for &i in &outputs {
        check.is_output[i] = true;
    }

    let operator_tables = graph.vector(subgraph::OPERATORS);
    let ops = operator_tables.map_or(0, |v| v.len());
    budget.take(4 * ops, graph.position())?;
    let mut operators = Vec::with_capacity(ops);
    for index in 0..ops {
        let Some(t) = operator_tables.map(|v| v.table(index)) else {
            break;
        };
        operators.push(read_operator(index, t, &codes, &mut check, &mut budget)?);
    }

    for &i in &outputs {
        if !check.produced[i] && infos[i].data.is_none() {
            return Err(model_err(Problem::Unproduced { tensor: i }));
        }
    }

    let mut tensors = Vec::with_capacity(n);
    for (i, info) in infos.into_iter().enumerate() {
        let len = info.len();
        let element = info.element.map_err(|found| {
            model_err(Problem::TensorType {
                tensor: i,
                found,
                expected: "int8, int32 or float32",
            })
        })?;
        let quantization = info
            .quantization
            .map_err(|what| model_err(Problem::Quantization { tensor: i, what }))?;
        if let Some(d) = info.data {
            let expected = len.saturating_mul(element.size());
            if d.len() != expected {
                return Err(model_err(Problem::DataSize {
                    tensor: i,
                    expected,
                    found: d.len(),
                }));
            }
            budget.take(d.len(), 0)?;
        }
        tensors.push(Tensor {
            name: info.name,
            shape: info.shape,
            element,
            quantization,
            data: info.data.map(<[u8]>::to_vec),
        });
    }
    Ok(TfliteModel {
        description,
        tensors,
        inputs,
        outputs,
        operators,
    })
}

/// Each operator code's `BuiltinOperator`: the larger of the deprecated one-byte code and
/// the 32-bit one, as TensorFlow Lite reads it (`GetBuiltinCode`).
fn operator_codes(root: Table<'_>, budget: &mut Budget) -> Result<Vec<i32>, ImportError> {
    use schema::operator_code as oc;
    let Some(v) = root.vector(schema::model::OPERATOR_CODES) else {
        return Ok(Vec::new());
    };
    budget.take(4 * v.len(), root.position())?;
    Ok((0..v.len())
        .map(|i| {
            let t = v.table(i);
            let deprecated = i32::from(t.i8(oc::DEPRECATED_BUILTIN_CODE, 0));
            deprecated.max(t.i32(oc::BUILTIN_CODE, 0))
        })
        .collect())
}

fn indices(raw: Vec<i32>, n: usize) -> Result<Vec<usize>, Problem> {
    raw.into_iter()
        .map(|i| {
            usize::try_from(i)
                .ok()
                .filter(|&i| i < n)
                .ok_or(Problem::TensorIndex(i.into()))
        })
        .collect()
}

fn read_tensor<'a>(
    index: usize,
    t: Table<'a>,
    buffers: Option<Vector<'a>>,
    budget: &mut Budget,
) -> Result<Info<'a>, ImportError> {
    use schema::{buffer, quantization as q, tensor};
    let at = t.position();
    let shape = budget
        .i32s(t.vector(tensor::SHAPE), at)?
        .into_iter()
        .map(usize::try_from)
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| {
            model_err(Problem::Shape {
                tensor: index,
                what: "negative dimension",
            })
        })?;
    let mut count: usize = 1;
    for &d in &shape {
        count = count
            .checked_mul(d)
            .filter(|&c| c <= flatbuffer::MAX_BUFFER)
            .ok_or(model_err(Problem::Shape {
                tensor: index,
                what: "more elements than any file holds",
            }))?;
    }
    if t.has(tensor::SPARSITY) {
        return Err(model_err(Problem::Sparse { tensor: index }));
    }
    let name = t.string(tensor::NAME).unwrap_or_default();
    budget.take(name.len(), at)?;
    let name = String::from_utf8_lossy(name).into_owned();
    let code = t.i8(tensor::TYPE, 0);
    let element = match code {
        tensor_type::INT8 => Ok(ElementType::Int8),
        tensor_type::INT32 => Ok(ElementType::Int32),
        tensor_type::FLOAT32 => Ok(ElementType::Float32),
        other => Err(other),
    };

    let buffer_index = t.u32(tensor::BUFFER, 0);
    let buffer = buffers
        .filter(|v| (buffer_index as usize) < v.len())
        .map(|v| v.table(buffer_index as usize))
        .ok_or(model_err(Problem::BufferIndex {
            tensor: index,
            buffer: buffer_index,
        }))?;
    if buffer.u64(buffer::OFFSET, 0) > 1 {
        return Err(model_err(Problem::ExternalBuffer(buffer_index as usize)));
    }
    let data = buffer
        .vector(buffer::DATA)
        .map(|v| v.bytes())
        .filter(|d| !d.is_empty());

    let quantization = match t.table(tensor::QUANTIZATION) {
        None => Ok(Quantization::None),
        Some(qt) => {
            let scales = qt.vector(q::SCALE);
            let zeros = qt.vector(q::ZERO_POINT);
            let s = scales.map_or(0, |v| v.len());
            let z = zeros.map_or(0, |v| v.len());
            budget.take(4 * s + 8 * z, qt.position())?;
            if qt.u8(q::DETAILS_TYPE, 0) != 0 {
                Err("custom quantization details")
            } else {
                per_axis(
                    scales
                        .map(|v| (0..s).map(|i| v.f32(i)).collect())
                        .unwrap_or_default(),
                    zeros
                        .map(|v| (0..z).map(|i| v.i64(i)).collect())
                        .unwrap_or_default(),
                    qt.i32(q::QUANTIZED_DIMENSION, 0),
                    &shape,
                )
            }
        }
    };
    Ok(Info {
        name,
        shape,
        element,
        quantization,
        data,
    })
}

fn per_axis(
    scales: Vec<f32>,
    zeros: Vec<i64>,
    dim: i32,
    shape: &[usize],
) -> Result<Quantization, &'static str> {
    if scales.is_empty() {
        return if zeros.is_empty() {
            Ok(Quantization::None)
        } else {
            Err("zero points without scales")
        };
    }
    if zeros.len() != scales.len() {
        return Err("scale and zero point counts differ");
    }
    if scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err("a scale is not finite and positive");
    }
    let zero_points = zeros
        .into_iter()
        .map(i32::try_from)
        .collect::<Result<Vec<i32>, _>>()
        .map_err(|_| "a zero point outside the 32-bit range")?;
    if scales.len() == 1 {
        return Ok(Quantization::PerTensor {
            scale: scales[0],
            zero_point: zero_points[0],
        });
    }
    let axis = usize::try_from(dim)
        .ok()
        .filter(|&a| a < shape.len())
        .ok_or("quantized dimension outside the shape")?;
    if shape[axis] != scales.len() {
        return Err("per-axis scale count is not the quantized dimension's size");
    }
    Ok(Quantization::PerAxis {
        axis,
        scales,
        zero_points,
    })
}

struct Check<'i, 'a> {
    infos: &'i [Info<'a>],
    produced: Vec<bool>,
    is_input: Vec<bool>,
    is_output: Vec<bool>,
}

impl Check<'_, '_> {
    /// An int8 activation, per-tensor quantized, available at this point of the graph.
    fn activation(&self, t: usize) -> Result<(), Problem> {
        let info = &self.infos[t];
        if info.element != Ok(ElementType::Int8) {
            return Err(type_error(t, info, "int8"));
        }
        match info.quantization {
            Ok(Quantization::PerTensor { zero_point, .. }) => {
                if !(-128..=127).contains(&zero_point) {
                    return Err(Problem::Quantization {
                        tensor: t,
                        what: "zero point outside −128…127",
                    });
                }
            }
            Ok(Quantization::None) => {
                return Err(Problem::Quantization {
                    tensor: t,
                    what: "int8 activation without quantization",
                });
            }
            Ok(Quantization::PerAxis { .. }) => {
                return Err(Problem::Quantization {
                    tensor: t,
                    what: "activation quantized per axis",
                });
            }
            Err(what) => return Err(Problem::Quantization { tensor: t, what }),
        }
        Ok(())
    }

    fn input(&self, t: usize) -> Result<(), Problem> {
        self.activation(t)?;
        if !self.produced[t] && self.infos[t].data.is_none() {
            return Err(Problem::Unproduced { tensor: t });
        }
        Ok(())
    }

    /// Constant int8 weights, symmetric, quantized along `axis` (or per tensor where
    /// `per_tensor_ok`, or where there is one channel).
    fn weights(&self, t: usize, axis: usize, per_tensor_ok: bool) -> Result<(), Problem> {
        let info = &self.infos[t];
        if info.element != Ok(ElementType::Int8) {
            return Err(type_error(t, info, "int8 weights"));
        }
        constant(t, info)?;
        let zero = |z: &[i32]| {
            if z.iter().all(|&z| z == 0) {
                Ok(())
            } else {
                Err(Problem::Quantization {
                    tensor: t,
                    what: "weight zero point is not 0",
                })
            }
        };
        match &info.quantization {
            Ok(Quantization::PerAxis {
                axis: found,
                zero_points,
                ..
            }) => {
                if *found != axis {
                    return Err(Problem::QuantizedDimension {
                        tensor: t,
                        found: *found as i32,
                        expected: axis,
                    });
                }
                zero(zero_points)
            }
            Ok(Quantization::PerTensor { zero_point, .. }) => {
                if !per_tensor_ok && info.shape.get(axis) != Some(&1) {
                    return Err(Problem::PerTensorWeights { tensor: t });
                }
                zero(&[*zero_point])
            }
            Ok(Quantization::None) => Err(Problem::Quantization {
                tensor: t,
                what: "int8 weights without quantization",
            }),
            Err(what) => Err(Problem::Quantization { tensor: t, what }),
        }
    }

    /// An optional constant int32 bias of `channels` elements with zero point 0.
    fn bias(&self, t: Option<usize>, channels: usize) -> Result<(), Problem> {
        let Some(t) = t else { return Ok(()) };
        let info = &self.infos[t];
        if info.element != Ok(ElementType::Int32) {
            return Err(type_error(t, info, "int32 bias"));
        }
        constant(t, info)?;
        if info.len() != channels {
            return Err(Problem::Shape {
                tensor: t,
                what: "bias length is not the output channels",
            });
        }
        match &info.quantization {
            Ok(Quantization::PerTensor { zero_point: 0, .. } | Quantization::None) => Ok(()),
            Ok(Quantization::PerAxis { zero_points, .. })
                if zero_points.iter().all(|&z| z == 0) =>
            {
                Ok(())
            }
            Ok(_) => Err(Problem::Quantization {
                tensor: t,
                what: "bias zero point is not 0",
            }),
            Err(what) => Err(Problem::Quantization { tensor: t, what }),
        }
    }

    fn shape(&self, t: usize) -> &[usize] {
        &self.infos[t].shape
    }

    fn rank4(&self, t: usize, what: &'static str) -> Result<[usize; 4], Problem> {
        <[usize; 4]>::try_from(self.shape(t)).map_err(|_| Problem::Shape { tensor: t, what })
    }

    /// `y` is `[n, oh, ow, channels]`, the output size `(padding, [kh, kw], [sh, sw])`
    /// makes of an input `[n, h, w, _]`.
    fn spatial(
        &self,
        y: usize,
        [n, h, w]: [usize; 3],
        (padding, [kh, kw], [sh, sw]): (Padding, [usize; 2], [usize; 2]),
        channels: usize,
    ) -> Result<(), ()> {
        match padding.output(h, kh, sh).zip(padding.output(w, kw, sw)) {
            Some((oh, ow)) if self.shape(y) == [n, oh, ow, channels] => Ok(()),
            _ => Err(()),
        }
    }

    fn same_shape(&self, a: usize, b: usize, what: &'static str) -> Result<(), Problem> {
        if self.shape(a) == self.shape(b) {
            Ok(())
        } else {
            Err(Problem::Shape { tensor: b, what })
        }
    }
}

fn type_error(t: usize, info: &Info<'_>, expected: &'static str) -> Problem {
    let found = match info.element {
        Ok(ElementType::Int8) => tensor_type::INT8,
        Ok(ElementType::Int32) => tensor_type::INT32,
        Ok(ElementType::Float32) => tensor_type::FLOAT32,
        Err(code) => code,
    };
    Problem::TensorType {
        tensor: t,
        found,
        expected,
    }
}

fn constant(t: usize, info: &Info<'_>) -> Result<(), Problem> {
    let Some(d) = info.data else {
        return Err(Problem::MissingData { tensor: t });
    };
    let expected = info
        .len()
        .saturating_mul(info.element.map_or(1, ElementType::size));
    if d.len() != expected {
        return Err(Problem::DataSize {
            tensor: t,
            expected,
            found: d.len(),
        });
    }
    Ok(())
}

fn read_operator(
    index: usize,
    t: Table<'_>,
    codes: &[i32],
    check: &mut Check<'_, '_>,
    budget: &mut Budget,
) -> Result<Operator, ImportError> {
    use schema::operator as o;
    let opcode = t.u32(o::OPCODE_INDEX, 0);
    let Some(&code) = codes.get(opcode as usize) else {
        return Err(ImportError::Operator {
            index,
            kind: OperatorCode(-1),
            problem: Problem::OpcodeIndex(opcode),
        });
    };
    let fail = |problem| ImportError::Operator {
        index,
        kind: OperatorCode(code),
        problem,
    };
    let n = check.infos.len();
    let inputs = budget
        .i32s(t.vector(o::INPUTS), t.position())?
        .into_iter()
        .map(|i| match i {
            -1 => Ok(None),
            i => usize::try_from(i)
                .ok()
                .filter(|&i| i < n)
                .map(Some)
                .ok_or(Problem::TensorIndex(i.into())),
        })
        .collect::<Result<Vec<Option<usize>>, Problem>>()
        .map_err(fail)?;
    let outputs = indices(budget.i32s(t.vector(o::OUTPUTS), t.position())?, n).map_err(fail)?;
    let options_type = t.u8(o::BUILTIN_OPTIONS_TYPE, options::NONE);
    let options_table = t.table(o::BUILTIN_OPTIONS);
    let op = operator(code, &inputs, &outputs, options_type, options_table, check).map_err(fail)?;
    for &i in &outputs {
        check.produced[i] = true;
    }
    Ok(Operator {
        op,
        inputs,
        outputs,
    })
}

/// The options table of the expected union type, or `None` for absent options (all
/// defaults).
fn options_of<'a>(
    found: u8,
    table: Option<Table<'a>>,
    expected: u8,
) -> Result<Option<Table<'a>>, Problem> {
    if found == expected {
        Ok(table)
    } else if found == options::NONE {
        Ok(None)
    } else {
        Err(Problem::Options { expected, found })
    }
}

fn activation(code: i8) -> Result<Activation, Problem> {
    match code {
        0 => Ok(Activation::None),
        1 => Ok(Activation::Relu),
        2 => Ok(Activation::ReluN1To1),
        3 => Ok(Activation::Relu6),
        other => Err(Problem::Activation(other)),
    }
}

fn padding(code: i8) -> Result<Padding, Problem> {
    match code {
        0 => Ok(Padding::Same),
        1 => Ok(Padding::Valid),
        other => Err(Problem::Padding(other)),
    }
}

fn positive(v: i32, what: &'static str) -> Result<usize, Problem> {
    usize::try_from(v)
        .ok()
        .filter(|&v| v >= 1)
        .ok_or(Problem::Geometry(what))
}

/// `inputs` has `min..=max` entries (absent ones included) and `outputs` one; returns the
/// required input `i`.
fn arity(
    inputs: &[Option<usize>],
    outputs: &[usize],
    min: usize,
    max: usize,
) -> Result<(), Problem> {
    if inputs.len() < min || inputs.len() > max || outputs.len() != 1 {
        return Err(Problem::Arity {
            inputs: inputs.len(),
            outputs: outputs.len(),
        });
    }
    Ok(())
}

fn required(inputs: &[Option<usize>], i: usize) -> Result<usize, Problem> {
    inputs
        .get(i)
        .copied()
        .flatten()
        .ok_or(Problem::MissingInput(i))
}

fn operator(
    code: i32,
    inputs: &[Option<usize>],
    outputs: &[usize],
    options_type: u8,
    options_table: Option<Table<'_>>,
    c: &Check<'_, '_>,
) -> Result<Op, Problem> {
    match code {
        op::CONV_2D | op::DEPTHWISE_CONV_2D => {
            let depthwise = code == op::DEPTHWISE_CONV_2D;
            arity(inputs, outputs, 2, 3)?;
            let (x, w, y) = (required(inputs, 0)?, required(inputs, 1)?, outputs[0]);
            let bias = inputs.get(2).copied().flatten();
            let conv = if depthwise {
                use schema::depthwise as d;
                let t = options_of(options_type, options_table, options::DEPTHWISE_CONV_2D)?;
                let multiplier = t.map_or(0, |t| t.i32(d::DEPTH_MULTIPLIER, 0));
                if multiplier != 1 {
                    return Err(Problem::DepthMultiplier(multiplier));
                }
                conv_options(
                    t,
                    [
                        d::PADDING,
                        d::STRIDE_H,
                        d::STRIDE_W,
                        d::ACTIVATION,
                        d::DILATION_H,
                        d::DILATION_W,
                    ],
                )?
            } else {
                use schema::conv2d as d;
                let t = options_of(options_type, options_table, options::CONV_2D)?;
                conv_options(
                    t,
                    [
                        d::PADDING,
                        d::STRIDE_H,
                        d::STRIDE_W,
                        d::ACTIVATION,
                        d::DILATION_H,
                        d::DILATION_W,
                    ],
                )?
            };
            c.input(x)?;
            c.activation(y)?;
            let [n, h, wd, ch] = c.rank4(
                x,
                "convolution input is not [batch, height, width, channels]",
            )?;
            let [fo, kh, kw, fi] = c.rank4(w, "convolution filter is not of rank 4")?;
            let out = if depthwise {
                if fo != 1 || fi != ch {
                    return Err(Problem::Shape {
                        tensor: w,
                        what: "depthwise filter is not [1, kh, kw, input channels]",
                    });
                }
                c.weights(w, 3, false)?;
                fi
            } else {
                if fi != ch {
                    return Err(Problem::Shape {
                        tensor: w,
                        what: "filter depth is not the input's channels",
                    });
                }
                c.weights(w, 0, false)?;
                fo
            };
            c.bias(bias, out)?;
            let window = (conv.padding, [kh, kw], [conv.stride_h, conv.stride_w]);
            c.spatial(y, [n, h, wd], window, out)
                .map_err(|()| Problem::Shape {
                    tensor: y,
                    what: "convolution output is not the size its input, filter, padding and strides make",
                })?;
            Ok(if depthwise {
                Op::DepthwiseConv2d(conv)
            } else {
                Op::Conv2d(conv)
            })
        }
        op::FULLY_CONNECTED => {
            use schema::fully_connected as d;
            arity(inputs, outputs, 2, 3)?;
            let (x, w, y) = (required(inputs, 0)?, required(inputs, 1)?, outputs[0]);
            let t = options_of(options_type, options_table, options::FULLY_CONNECTED)?;
            let act = activation(t.map_or(0, |t| t.i8(d::ACTIVATION, 0)))?;
            if t.is_some_and(|t| t.i8(d::WEIGHTS_FORMAT, 0) != 0) {
                return Err(Problem::Option("shuffled FULLY_CONNECTED weights"));
            }
            let keep_num_dims = t.is_some_and(|t| t.bool(d::KEEP_NUM_DIMS, false));
            c.input(x)?;
            c.activation(y)?;
            let &[units, depth] = c.shape(w) else {
                return Err(Problem::Shape {
                    tensor: w,
                    what: "weights are not [out, in]",
                });
            };
            c.weights(w, 0, true)?;
            c.bias(inputs.get(2).copied().flatten(), units)?;
            let len = c.infos[x].len();
            if depth == 0 || !len.is_multiple_of(depth) {
                return Err(Problem::Shape {
                    tensor: x,
                    what: "input size is not a multiple of the weights' depth",
                });
            }
            let batches = len / depth;
            let connects = if keep_num_dims {
                let xs = c.shape(x);
                xs.last() == Some(&depth) && {
                    let mut expected = xs.to_vec();
                    if let Some(last) = expected.last_mut() {
                        *last = units;
                    }
                    c.shape(y) == &expected[..]
                }
            } else {
                c.shape(y).last() == Some(&units)
                    && Some(c.infos[y].len()) == batches.checked_mul(units)
            };
            if !connects {
                return Err(Problem::Shape {
                    tensor: y,
                    what: "output is not [batches, weights' outputs]",
                });
            }
            Ok(Op::FullyConnected {
                activation: act,
                keep_num_dims,
            })
        }
        op::AVERAGE_POOL_2D | op::MAX_POOL_2D => {
            use schema::pool2d as d;
            arity(inputs, outputs, 1, 1)?;
            let (x, y) = (required(inputs, 0)?, outputs[0]);
            let t = options_of(options_type, options_table, options::POOL_2D)?;
            let get = |slot| t.map_or(0, |t| t.i32(slot, 0));
            let pool = Pool {
                padding: padding(t.map_or(0, |t| t.i8(d::PADDING, 0)))?,
                stride_h: positive(get(d::STRIDE_H), "stride below 1")?,
                stride_w: positive(get(d::STRIDE_W), "stride below 1")?,
                filter_h: positive(get(d::FILTER_HEIGHT), "filter size below 1")?,
                filter_w: positive(get(d::FILTER_WIDTH), "filter size below 1")?,
                activation: activation(t.map_or(0, |t| t.i8(d::ACTIVATION, 0)))?,
            };
            c.input(x)?;
            c.activation(y)?;
            let [n, h, w, ch] = c.rank4(x, "pool input is not [batch, height, width, channels]")?;
            let window = (
                pool.padding,
                [pool.filter_h, pool.filter_w],
                [pool.stride_h, pool.stride_w],
            );
            c.spatial(y, [n, h, w], window, ch)
                .map_err(|()| Problem::Shape {
                    tensor: y,
                    what: "pool output is not the size its input, window, padding and strides make",
                })?;
            Ok(if code == op::MAX_POOL_2D {
                Op::MaxPool2d(pool)
            } else {
                Op::AveragePool2d(pool)
            })
        }
        op::ADD => {
            arity(inputs, outputs, 2, 2)?;
            let (a, b, y) = (required(inputs, 0)?, required(inputs, 1)?, outputs[0]);
            let t = options_of(options_type, options_table, options::ADD)?;
            let act = activation(t.map_or(0, |t| t.i8(schema::add::ACTIVATION, 0)))?;
            c.input(a)?;
            c.input(b)?;
            c.activation(y)?;
            c.same_shape(
                a,
                b,
                "ADD operands differ in shape (broadcasting is not supported)",
            )?;
            c.same_shape(a, y, "ADD output differs in shape from its operands")?;
            Ok(Op::Add { activation: act })
        }
        op::RESHAPE => {
            arity(inputs, outputs, 1, 2)?;
            let (x, y) = (required(inputs, 0)?, outputs[0]);
            options_of(options_type, options_table, options::RESHAPE)?;
            if let Some(s) = inputs.get(1).copied().flatten() {
                let info = &c.infos[s];
                if info.element != Ok(ElementType::Int32) {
                    return Err(type_error(s, info, "int32 shape"));
                }
            }
            c.input(x)?;
            c.activation(y)?;
            if c.infos[x].len() != c.infos[y].len() {
                return Err(Problem::Shape {
                    tensor: y,
                    what: "RESHAPE changes the number of elements",
                });
            }
            Ok(Op::Reshape)
        }
        op::SOFTMAX => {
            arity(inputs, outputs, 1, 1)?;
            let (x, y) = (required(inputs, 0)?, outputs[0]);
            let t = options_of(options_type, options_table, options::SOFTMAX)?;
            let beta = t.map_or(0.0, |t| t.f32(schema::softmax::BETA, 0.0));
            if !beta.is_finite() {
                return Err(Problem::Option("SOFTMAX beta is not finite"));
            }
            c.input(x)?;
            c.activation(y)?;
            c.same_shape(x, y, "SOFTMAX output differs in shape from its input")?;
            Ok(Op::Softmax { beta })
        }
        op::QUANTIZE => {
            arity(inputs, outputs, 1, 1)?;
            let (x, y) = (required(inputs, 0)?, outputs[0]);
            options_of(options_type, options_table, options::QUANTIZE)?;
            if c.infos[x].element == Ok(ElementType::Float32) {
                if !c.is_input[x] {
                    return Err(Problem::FloatInside { tensor: x });
                }
            } else {
                c.input(x)?;
            }
            c.activation(y)?;
            c.same_shape(x, y, "QUANTIZE output differs in shape from its input")?;
            Ok(Op::Quantize)
        }
        op::DEQUANTIZE => {
            arity(inputs, outputs, 1, 1)?;
            let (x, y) = (required(inputs, 0)?, outputs[0]);
            options_of(options_type, options_table, options::DEQUANTIZE)?;
            c.input(x)?;
            let info = &c.infos[y];
            if info.element != Ok(ElementType::Float32) {
                return Err(type_error(y, info, "float32"));
            }
            if !c.is_output[y] {
                return Err(Problem::FloatInside { tensor: y });
            }
            c.same_shape(x, y, "DEQUANTIZE output differs in shape from its input")?;
            Ok(Op::Dequantize)
        }
        _ => Err(Problem::UnsupportedOperator),
    }
}

/// A convolution's options from the fields `[padding, stride_h, stride_w, activation,
/// dilation_h, dilation_w]` of its options table.
fn conv_options(t: Option<Table<'_>>, slots: [u16; 6]) -> Result<Conv, Problem> {
    let [pad, sh, sw, act, dh, dw] = slots;
    let (dh, dw) = (t.map_or(1, |t| t.i32(dh, 1)), t.map_or(1, |t| t.i32(dw, 1)));
    if (dh, dw) != (1, 1) {
        return Err(Problem::Dilation { h: dh, w: dw });
    }
    Ok(Conv {
        padding: padding(t.map_or(0, |t| t.i8(pad, 0)))?,
        stride_h: positive(t.map_or(0, |t| t.i32(sh, 0)), "stride below 1")?,
        stride_w: positive(t.map_or(0, |t| t.i32(sw, 0)), "stride below 1")?,
        activation: activation(t.map_or(0, |t| t.i8(act, 0)))?,
    })
}
