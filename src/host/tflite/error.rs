//! [`ImportError`]: why a `.tflite` file is not imported.

use std::fmt;

use super::schema::operator_name;

/// Why a `.tflite` file is not imported: a malformed flatbuffer, a problem of the model as a
/// whole, or a problem of one operator, named by its index in the subgraph and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportError {
    /// The bytes are not a valid TensorFlow Lite flatbuffer.
    Malformed {
        /// Byte offset of the offending item in the file.
        at: usize,
        /// What is wrong there.
        what: &'static str,
    },
    /// The model as a whole is not supported or is inconsistent.
    Model(Problem),
    /// An operator is not supported or is inconsistent.
    Operator {
        /// The operator's index in the subgraph (its place in execution order).
        index: usize,
        /// Its kind: the `BuiltinOperator` code.
        kind: OperatorCode,
        /// What is wrong.
        problem: Problem,
    },
    /// The network type handed to [`Lowered::fill`](super::Lowered::fill) is not the one
    /// the model lowers to (the type [`Lowered::rust_type`](super::Lowered::rust_type)
    /// writes).
    Mismatch {
        /// The entry in the type's list of layers ([`Describe`](crate::spec::Describe)).
        layer: usize,
        /// The kind of the type's layer there (`"nothing"` past its end).
        expected: &'static str,
        /// The kind of the model's layer there (`"nothing"` past its end).
        found: &'static str,
        /// What differs.
        what: &'static str,
    },
}

/// A `BuiltinOperator` code, displayed with its schema name (`CONV_2D`) where known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatorCode(pub i32);

impl fmt::Display for OperatorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match operator_name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "builtin operator {}", self.0),
        }
    }
}

/// What is wrong with a model or an operator. Tensors are named by their index in the
/// subgraph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The schema version is not 3.
    Version(u32),
    /// The model has this many subgraphs, not one.
    SubgraphCount(usize),
    /// The operator is not one the importer supports (or is a custom operator).
    UnsupportedOperator,
    /// The operator's code index is outside the model's operator codes.
    OpcodeIndex(u32),
    /// The operator has a number of inputs or outputs its kind does not take.
    Arity {
        /// Inputs found.
        inputs: usize,
        /// Outputs found.
        outputs: usize,
    },
    /// A tensor index (of an operator or of the subgraph's inputs and outputs) is outside
    /// the subgraph's tensors.
    TensorIndex(i64),
    /// A required input is absent (index −1).
    MissingInput(usize),
    /// The builtin options are of another type than the operator's kind takes.
    Options {
        /// The union type the operator takes.
        expected: u8,
        /// The union type found.
        found: u8,
    },
    /// A tensor's element type is not supported in this place.
    TensorType {
        /// The tensor.
        tensor: usize,
        /// The `TensorType` code found.
        found: i8,
        /// What is supported there.
        expected: &'static str,
    },
    /// A tensor's quantization is missing or inconsistent.
    Quantization {
        /// The tensor.
        tensor: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// Weights quantized per tensor where TensorFlow Lite's int8 scheme quantizes them per
    /// output channel (convolutions).
    PerTensorWeights {
        /// The weight tensor.
        tensor: usize,
    },
    /// Per-channel weights quantized along another dimension than the output channel.
    QuantizedDimension {
        /// The weight tensor.
        tensor: usize,
        /// The dimension found.
        found: i32,
        /// The output channel's dimension.
        expected: usize,
    },
    /// A tensor's shape does not fit the operator, or shapes that should connect do not.
    Shape {
        /// The tensor.
        tensor: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// A dilation other than 1.
    Dilation {
        /// Vertical dilation factor.
        h: i32,
        /// Horizontal dilation factor.
        w: i32,
    },
    /// A depthwise convolution's depth multiplier other than 1.
    DepthMultiplier(i32),
    /// A stride or filter size below 1.
    Geometry(&'static str),
    /// A padding code other than SAME (0) and VALID (1).
    Padding(i8),
    /// A fused activation other than none, ReLU, ReLU6 and ReLU−1…1.
    Activation(i8),
    /// An option value the importer does not support.
    Option(&'static str),
    /// A constant input (weights, bias) has no data.
    MissingData {
        /// The tensor.
        tensor: usize,
    },
    /// A constant tensor's data is not the size its shape and type make.
    DataSize {
        /// The tensor.
        tensor: usize,
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// A tensor refers to a buffer the model does not have.
    BufferIndex {
        /// The tensor.
        tensor: usize,
        /// The buffer index.
        buffer: u32,
    },
    /// A buffer's data lies outside the flatbuffer (models of 2 GiB or more).
    ExternalBuffer(usize),
    /// A tensor is stored sparse.
    Sparse {
        /// The tensor.
        tensor: usize,
    },
    /// An activation an operator reads is neither a subgraph input nor written by an
    /// earlier operator.
    Unproduced {
        /// The tensor.
        tensor: usize,
    },
    /// A float tensor elsewhere than at the graph's edges (the input of a QUANTIZE that is a
    /// subgraph input, the output of a DEQUANTIZE that is a subgraph output).
    FloatInside {
        /// The tensor.
        tensor: usize,
    },
    /// The tensors' constant data adds up to more than the file's size (buffers shared
    /// between tensors).
    SharedData,
    /// The graph, or this operator's place in it, is not what firmnet's layers compute: a
    /// chain of layers and residual blocks from one int8 input to one output.
    Graph(&'static str),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Version(v) => write!(f, "schema version {v}, not 3"),
            Self::SubgraphCount(n) => write!(f, "{n} subgraphs, not 1"),
            Self::UnsupportedOperator => f.write_str("operator not supported"),
            Self::OpcodeIndex(i) => write!(f, "operator code index {i} outside the model's codes"),
            Self::Arity { inputs, outputs } => {
                write!(
                    f,
                    "{inputs} inputs and {outputs} outputs, not what this operator takes"
                )
            }
            Self::TensorIndex(i) => write!(f, "tensor index {i} outside the subgraph's tensors"),
            Self::MissingInput(slot) => write!(f, "required input {slot} is absent"),
            Self::Options { expected, found } => {
                write!(
                    f,
                    "builtin options of type {found}, expected type {expected}"
                )
            }
            Self::TensorType {
                tensor,
                found,
                expected,
            } => {
                write!(
                    f,
                    "tensor {tensor} has type code {found}; expected {expected}"
                )
            }
            Self::Quantization { tensor, what } => write!(f, "tensor {tensor}: {what}"),
            Self::PerTensorWeights { tensor } => write!(
                f,
                "weight tensor {tensor} is quantized per tensor where per-channel quantization is expected"
            ),
            Self::QuantizedDimension {
                tensor,
                found,
                expected,
            } => write!(
                f,
                "weight tensor {tensor} is quantized along dimension {found}, not the output channel's ({expected})"
            ),
            Self::Shape { tensor, what } => write!(f, "tensor {tensor}: {what}"),
            Self::Dilation { h, w } => write!(f, "dilation {h}×{w}; only 1×1 is supported"),
            Self::DepthMultiplier(m) => write!(f, "depth multiplier {m}; only 1 is supported"),
            Self::Geometry(what) => f.write_str(what),
            Self::Padding(p) => write!(f, "padding code {p} (neither SAME nor VALID)"),
            Self::Activation(a) => write!(f, "fused activation code {a} not supported"),
            Self::Option(what) => f.write_str(what),
            Self::MissingData { tensor } => write!(f, "constant tensor {tensor} has no data"),
            Self::DataSize {
                tensor,
                expected,
                found,
            } => {
                write!(
                    f,
                    "tensor {tensor} has {found} bytes of data; its shape and type make {expected}"
                )
            }
            Self::BufferIndex { tensor, buffer } => {
                write!(
                    f,
                    "tensor {tensor} refers to buffer {buffer}, which the model lacks"
                )
            }
            Self::ExternalBuffer(b) => write!(f, "buffer {b} lies outside the flatbuffer"),
            Self::Sparse { tensor } => write!(f, "tensor {tensor} is sparse"),
            Self::Unproduced { tensor } => write!(
                f,
                "tensor {tensor} is read before any operator writes it and is not a subgraph input"
            ),
            Self::FloatInside { tensor } => write!(
                f,
                "float tensor {tensor} inside the graph (floats only at QUANTIZE/DEQUANTIZE edges)"
            ),
            Self::SharedData => f.write_str("constant data adds up to more than the file"),
            Self::Graph(what) => f.write_str(what),
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { at, what } => {
                write!(f, "malformed .tflite flatbuffer at byte {at}: {what}")
            }
            Self::Model(problem) => write!(f, "unsupported .tflite model: {problem}"),
            Self::Operator {
                index,
                kind,
                problem,
            } => {
                write!(f, "operator {index} ({kind}): {problem}")
            }
            Self::Mismatch {
                layer,
                expected,
                found,
                what,
            } => write!(
                f,
                "the network type is not the model's: at layer {layer} the type has {expected} and the model {found}; {what}"
            ),
        }
    }
}

impl std::error::Error for ImportError {}
