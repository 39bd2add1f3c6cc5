//! Import of TensorFlow Lite int8 models (feature `tflite`): a `.tflite` file becomes a
//! [`TfliteModel`], a checked description of its tensors and operators, which
//! [`TfliteModel::lower`] turns into firmnet's int8 layers ([`Lowered`]): the network's type
//! as Rust source ([`Lowered::rust_type`]), its values as Rust source
//! ([`Lowered::rust_value`], for a `static`) or in a network of that type
//! ([`Lowered::network`], for [`format::save`](crate::format::save)'s weight file). The
//! network computes TensorFlow Lite Micro's outputs bit for bit.
//!
//! The file is a flatbuffer of TensorFlow Lite's schema (`schema.fbs`, version 3). It is
//! verified in full before anything is read from it, by the rules of the `flatbuffers`
//! library's own verifier: every offset, vtable, vector, string and field the importer reads
//! lies inside the file and is aligned as that verifier requires, tables nest at most 64 deep
//! and at most a million are visited. The verified file is then read into a [`TfliteModel`]
//! and checked: anything the importer does not support or that does not add up is an
//! [`ImportError`] naming the operator (its index and kind) and the tensor. Nothing panics on
//! any input, and the time taken is bounded by the file's size.
//!
//! # What is imported
//! One subgraph of the operators CONV_2D, DEPTHWISE_CONV_2D (depth multiplier 1),
//! FULLY_CONNECTED, AVERAGE_POOL_2D, MAX_POOL_2D, ADD (same shapes, no broadcasting),
//! RESHAPE, SOFTMAX, QUANTIZE and DEQUANTIZE, with fused activations none, ReLU, ReLU6 and
//! ReLU−1…1, no dilation, in TensorFlow Lite's int8 scheme:
//! - activations are int8, quantized per tensor (a scale and a zero point in −128…127);
//! - convolution weights are int8, symmetric (zero points 0) and quantized per output
//!   channel: dimension 0 of CONV_2D's `[out, kh, kw, in]` filter, dimension 3 of
//!   DEPTHWISE_CONV_2D's `[1, kh, kw, out]` filter — per-tensor convolution weights are an
//!   error ([`Problem::PerTensorWeights`]), except for a single output channel;
//! - FULLY_CONNECTED weights `[out, in]` are int8 and symmetric, per tensor (TensorFlow
//!   Lite's int8 specification) or per output channel (dimension 0);
//! - biases are int32 with zero point 0;
//! - float32 tensors only at the edges: the input of a QUANTIZE that is a subgraph input,
//!   the output of a DEQUANTIZE that is a subgraph output. RESHAPE may take its target shape
//!   as a second, int32 input.
//!
//! Every operator's non-constant inputs must be subgraph inputs or outputs of earlier
//! operators (the file lists operators in execution order), and shapes must connect:
//! convolution and pool outputs have the size their padding and strides make, FULLY_CONNECTED
//! weights match their input, ADD's inputs and output have one shape, RESHAPE keeps the
//! element count.
//!
//! Schema defaults apply to absent fields (strides 0 — then an error —, dilations 1,
//! padding SAME, activation none, SOFTMAX's beta 0, quantized dimension 0).
//!
//! ```
//! use firmnet::host::tflite::{ImportError, TfliteModel};
//!
//! // Not a flatbuffer: a typed error, not a panic.
//! let err = TfliteModel::parse(b"not a model").unwrap_err();
//! assert!(matches!(err, ImportError::Malformed { .. }));
//! ```

use std::prelude::rust_2024::*;

mod error;
mod flatbuffer;
mod import;
mod lower;
mod schema;

pub use error::{ImportError, OperatorCode, Problem};
pub use lower::{Data, LayerValues, Lowered, Node};

/// A TensorFlow Lite model, verified and checked: its tensors, the subgraph's inputs and
/// outputs, and its operators in execution order.
#[derive(Debug, Clone, PartialEq)]
pub struct TfliteModel {
    /// The model's description string (empty when absent).
    pub description: String,
    /// The subgraph's tensors; operators refer to them by index.
    pub tensors: Vec<Tensor>,
    /// The subgraph's input tensors.
    pub inputs: Vec<usize>,
    /// The subgraph's output tensors.
    pub outputs: Vec<usize>,
    /// The operators, in execution order.
    pub operators: Vec<Operator>,
}

/// A tensor: name, shape, element type, quantization and, for constants, data.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The tensor's name (lossily decoded as UTF-8).
    pub name: String,
    /// Its shape, outermost dimension first (`[1, 49, 10, 1]` for a 49×10 one-channel image
    /// batch of 1, channels last).
    pub shape: Vec<usize>,
    /// Its element type.
    pub element: ElementType,
    /// Its quantization.
    pub quantization: Quantization,
    /// Its constant data, little-endian, or `None` for an activation.
    pub data: Option<Vec<u8>>,
}

impl Tensor {
    /// The number of elements (1 for a scalar).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The constant data as int8 values (`None` for an activation or another type).
    pub fn data_i8(&self) -> Option<Vec<i8>> {
        let data = self.data.as_ref()?;
        (self.element == ElementType::Int8).then(|| data.iter().map(|&b| b as i8).collect())
    }

    /// The constant data as int32 values (`None` for an activation or another type).
    pub fn data_i32(&self) -> Option<Vec<i32>> {
        let data = self.data.as_ref()?;
        (self.element == ElementType::Int32).then(|| {
            data.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        })
    }
}

/// A tensor's element type (the ones the importer accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    /// `INT8`: activations and weights.
    Int8,
    /// `INT32`: biases, RESHAPE's target shape.
    Int32,
    /// `FLOAT32`: only at QUANTIZE/DEQUANTIZE edges.
    Float32,
}

impl ElementType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::Int8 => 1,
            Self::Int32 | Self::Float32 => 4,
        }
    }
}

/// A tensor's affine quantization: real value = scale × (integer − zero point).
#[derive(Debug, Clone, PartialEq)]
pub enum Quantization {
    /// Not quantized (float tensors, RESHAPE's shape input).
    None,
    /// One scale and zero point for the whole tensor.
    PerTensor {
        /// The scale (finite, positive).
        scale: f32,
        /// The zero point.
        zero_point: i32,
    },
    /// One scale and zero point per index along `axis`.
    PerAxis {
        /// The quantized dimension.
        axis: usize,
        /// The scales (finite, positive), one per index along `axis`.
        scales: Vec<f32>,
        /// The zero points, one per index along `axis`.
        zero_points: Vec<i32>,
    },
}

/// An operator: its kind with its options, its input and output tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    /// What it computes, with its options.
    pub op: Op,
    /// Its input tensors in TensorFlow Lite's order (`None`: an absent optional input, such
    /// as a missing bias).
    pub inputs: Vec<Option<usize>>,
    /// Its output tensors.
    pub outputs: Vec<usize>,
}

/// An operator's kind and options. Inputs are in TensorFlow Lite's order: convolutions and
/// FULLY_CONNECTED take (input, weights, bias).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// CONV_2D: weights `[out, kh, kw, in]`, per-channel.
    Conv2d(Conv),
    /// DEPTHWISE_CONV_2D with depth multiplier 1: weights `[1, kh, kw, channels]`.
    DepthwiseConv2d(Conv),
    /// FULLY_CONNECTED: weights `[out, in]`.
    FullyConnected {
        /// The fused activation.
        activation: Activation,
        /// Whether the output keeps the input's leading dimensions.
        keep_num_dims: bool,
    },
    /// AVERAGE_POOL_2D.
    AveragePool2d(Pool),
    /// MAX_POOL_2D.
    MaxPool2d(Pool),
    /// ADD of two tensors of one shape.
    Add {
        /// The fused activation.
        activation: Activation,
    },
    /// RESHAPE: the same elements in another shape.
    Reshape,
    /// SOFTMAX along the last dimension.
    Softmax {
        /// The inverse temperature.
        beta: f32,
    },
    /// QUANTIZE: float to int8, or int8 to int8 with another quantization.
    Quantize,
    /// DEQUANTIZE: int8 to float.
    Dequantize,
}

impl Op {
    /// The operator's `BuiltinOperator` code.
    pub fn code(&self) -> OperatorCode {
        use schema::op;
        OperatorCode(match self {
            Self::Conv2d(_) => op::CONV_2D,
            Self::DepthwiseConv2d(_) => op::DEPTHWISE_CONV_2D,
            Self::FullyConnected { .. } => op::FULLY_CONNECTED,
            Self::AveragePool2d(_) => op::AVERAGE_POOL_2D,
            Self::MaxPool2d(_) => op::MAX_POOL_2D,
            Self::Add { .. } => op::ADD,
            Self::Reshape => op::RESHAPE,
            Self::Softmax { .. } => op::SOFTMAX,
            Self::Quantize => op::QUANTIZE,
            Self::Dequantize => op::DEQUANTIZE,
        })
    }
}

/// A convolution's options (dilation is always 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv {
    /// The padding scheme.
    pub padding: Padding,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// The fused activation.
    pub activation: Activation,
}

/// A pool's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    /// The padding scheme.
    pub padding: Padding,
    /// Vertical stride.
    pub stride_h: usize,
    /// Horizontal stride.
    pub stride_w: usize,
    /// Window height.
    pub filter_h: usize,
    /// Window width.
    pub filter_w: usize,
    /// The fused activation.
    pub activation: Activation,
}

/// TensorFlow Lite's padding schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// Output size ⌈in / stride⌉, zero padding split with the extra row or column after.
    Same,
    /// No padding: output size ⌊(in − filter) / stride⌋ + 1.
    Valid,
}

impl Padding {
    /// The output size along one dimension of input size `input`, or `None` if the window
    /// does not fit (`Valid` with `filter > input`) or `stride` is 0.
    pub fn output(self, input: usize, filter: usize, stride: usize) -> Option<usize> {
        if stride == 0 {
            return None;
        }
        match self {
            Self::Same => Some(input.div_ceil(stride)),
            Self::Valid => input.checked_sub(filter).map(|d| d / stride + 1),
        }
    }
}

/// A fused activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// None.
    None,
    /// max(x, 0).
    Relu,
    /// clamp(x, −1, 1).
    ReluN1To1,
    /// clamp(x, 0, 6).
    Relu6,
}

impl TfliteModel {
    /// Verifies and reads a `.tflite` file's bytes.
    ///
    /// Never panics; its time is bounded by the length of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ImportError> {
        import::import(bytes)
    }

    /// The kinds of the operators in order, by their schema names (`"CONV_2D"`).
    pub fn operator_names(&self) -> Vec<String> {
        self.operators
            .iter()
            .map(|o| o.op.code().to_string())
            .collect()
    }
}
