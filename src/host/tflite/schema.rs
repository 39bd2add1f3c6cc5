//! The part of TensorFlow Lite's flatbuffer schema (`tensorflow/lite/schema/schema.fbs`,
//! version 3) that the importer reads: its tables as verifier descriptions, the vtable
//! offset of each field read (4 + 2 × the field's index in the schema), and the codes of
//! the enums.

use super::flatbuffer::{Field, Kind, Schema};

/// The file identifier of a TensorFlow Lite model.
pub const IDENTIFIER: &[u8; 4] = b"TFL3";
/// The schema version this importer reads.
pub const SCHEMA_VERSION: u32 = 3;

const fn f(slot: u16, kind: Kind) -> Field {
    Field { slot, kind }
}

/// `table Model`.
pub mod model {
    pub const VERSION: u16 = 4;
    pub const OPERATOR_CODES: u16 = 6;
    pub const SUBGRAPHS: u16 = 8;
    pub const DESCRIPTION: u16 = 10;
    pub const BUFFERS: u16 = 12;
    pub const METADATA_BUFFER: u16 = 14;
    pub const METADATA: u16 = 16;
}

/// `table Metadata`.
pub mod metadata {
    pub const NAME: u16 = 4;
    pub const BUFFER: u16 = 6;
}

/// `table OperatorCode`.
pub mod operator_code {
    pub const DEPRECATED_BUILTIN_CODE: u16 = 4;
    pub const CUSTOM_CODE: u16 = 6;
    pub const VERSION: u16 = 8;
    pub const BUILTIN_CODE: u16 = 10;
}

/// `table SubGraph`.
pub mod subgraph {
    pub const TENSORS: u16 = 4;
    pub const INPUTS: u16 = 6;
    pub const OUTPUTS: u16 = 8;
    pub const OPERATORS: u16 = 10;
    pub const NAME: u16 = 12;
}

/// `table Tensor`.
pub mod tensor {
    pub const SHAPE: u16 = 4;
    pub const TYPE: u16 = 6;
    pub const BUFFER: u16 = 8;
    pub const NAME: u16 = 10;
    pub const QUANTIZATION: u16 = 12;
    pub const IS_VARIABLE: u16 = 14;
    pub const SPARSITY: u16 = 16;
    pub const SHAPE_SIGNATURE: u16 = 18;
    pub const HAS_RANK: u16 = 20;
}

/// `table QuantizationParameters`.
pub mod quantization {
    pub const MIN: u16 = 4;
    pub const MAX: u16 = 6;
    pub const SCALE: u16 = 8;
    pub const ZERO_POINT: u16 = 10;
    pub const DETAILS_TYPE: u16 = 12;
    pub const QUANTIZED_DIMENSION: u16 = 16;
}

/// `table Buffer`.
pub mod buffer {
    pub const DATA: u16 = 4;
    pub const OFFSET: u16 = 6;
    pub const SIZE: u16 = 8;
}

/// `table Operator`.
pub mod operator {
    pub const OPCODE_INDEX: u16 = 4;
    pub const INPUTS: u16 = 6;
    pub const OUTPUTS: u16 = 8;
    pub const BUILTIN_OPTIONS_TYPE: u16 = 10;
    pub const BUILTIN_OPTIONS: u16 = 12;
    pub const CUSTOM_OPTIONS: u16 = 14;
    pub const CUSTOM_OPTIONS_FORMAT: u16 = 16;
    pub const MUTATING_VARIABLE_INPUTS: u16 = 18;
    pub const INTERMEDIATES: u16 = 20;
}

/// `table Conv2DOptions`.
pub mod conv2d {
    pub const PADDING: u16 = 4;
    pub const STRIDE_W: u16 = 6;
    pub const STRIDE_H: u16 = 8;
    pub const ACTIVATION: u16 = 10;
    pub const DILATION_W: u16 = 12;
    pub const DILATION_H: u16 = 14;
}

/// `table DepthwiseConv2DOptions`.
pub mod depthwise {
    pub const PADDING: u16 = 4;
    pub const STRIDE_W: u16 = 6;
    pub const STRIDE_H: u16 = 8;
    pub const DEPTH_MULTIPLIER: u16 = 10;
    pub const ACTIVATION: u16 = 12;
    pub const DILATION_W: u16 = 14;
    pub const DILATION_H: u16 = 16;
}

/// `table Pool2DOptions`.
pub mod pool2d {
    pub const PADDING: u16 = 4;
    pub const STRIDE_W: u16 = 6;
    pub const STRIDE_H: u16 = 8;
    pub const FILTER_WIDTH: u16 = 10;
    pub const FILTER_HEIGHT: u16 = 12;
    pub const ACTIVATION: u16 = 14;
}

/// `table FullyConnectedOptions`.
pub mod fully_connected {
    pub const ACTIVATION: u16 = 4;
    pub const WEIGHTS_FORMAT: u16 = 6;
    pub const KEEP_NUM_DIMS: u16 = 8;
    pub const ASYMMETRIC_QUANTIZE_INPUTS: u16 = 10;
}

/// `table SoftmaxOptions`.
pub mod softmax {
    pub const BETA: u16 = 4;
}

/// `table AddOptions`.
pub mod add {
    pub const ACTIVATION: u16 = 4;
    pub const POT_SCALE_INT16: u16 = 6;
}

/// `table ReshapeOptions`.
pub mod reshape {
    pub const NEW_SHAPE: u16 = 4;
}

/// `enum BuiltinOperator` codes of the operators imported.
pub mod op {
    pub const ADD: i32 = 0;
    pub const AVERAGE_POOL_2D: i32 = 1;
    pub const CONV_2D: i32 = 3;
    pub const DEPTHWISE_CONV_2D: i32 = 4;
    pub const DEQUANTIZE: i32 = 6;
    pub const FULLY_CONNECTED: i32 = 9;
    pub const MAX_POOL_2D: i32 = 17;
    pub const RESHAPE: i32 = 22;
    pub const SOFTMAX: i32 = 25;
    pub const QUANTIZE: i32 = 114;
}

/// `union BuiltinOptions` types of the options read.
pub mod options {
    pub const NONE: u8 = 0;
    pub const CONV_2D: u8 = 1;
    pub const DEPTHWISE_CONV_2D: u8 = 2;
    pub const POOL_2D: u8 = 5;
    pub const FULLY_CONNECTED: u8 = 8;
    pub const SOFTMAX: u8 = 9;
    pub const ADD: u8 = 11;
    pub const RESHAPE: u8 = 17;
    pub const DEQUANTIZE: u8 = 38;
    pub const QUANTIZE: u8 = 89;
}

/// `enum TensorType` codes.
pub mod tensor_type {
    pub const FLOAT32: i8 = 0;
    pub const INT32: i8 = 2;
    pub const INT8: i8 = 9;
}

/// The names of `enum BuiltinOperator`'s first codes (those below 128), for messages.
const OPERATOR_NAMES: [&str; 127] = [
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
];

/// The schema name of a builtin operator code, for the codes below 127.
pub fn operator_name(code: i32) -> Option<&'static str> {
    usize::try_from(code)
        .ok()
        .and_then(|i| OPERATOR_NAMES.get(i).copied())
}

const SCALAR1: Kind = Kind::Scalar(1);
const SCALAR4: Kind = Kind::Scalar(4);
const SCALAR8: Kind = Kind::Scalar(8);

/// The verifier's description of `table Model` (and of every table it reaches).
pub static MODEL: Schema = Schema {
    fields: &[
        f(model::VERSION, SCALAR4),
        f(model::OPERATOR_CODES, Kind::Tables(&OPERATOR_CODE)),
        f(model::SUBGRAPHS, Kind::Tables(&SUBGRAPH)),
        f(model::DESCRIPTION, Kind::Str),
        f(model::BUFFERS, Kind::Tables(&BUFFER)),
        f(model::METADATA_BUFFER, Kind::Vector(4)),
        f(model::METADATA, Kind::Tables(&METADATA)),
    ],
};

static METADATA: Schema = Schema {
    fields: &[f(metadata::NAME, Kind::Str), f(metadata::BUFFER, SCALAR4)],
};

static OPERATOR_CODE: Schema = Schema {
    fields: &[
        f(operator_code::DEPRECATED_BUILTIN_CODE, SCALAR1),
        f(operator_code::CUSTOM_CODE, Kind::Str),
        f(operator_code::VERSION, SCALAR4),
        f(operator_code::BUILTIN_CODE, SCALAR4),
    ],
};

static SUBGRAPH: Schema = Schema {
    fields: &[
        f(subgraph::TENSORS, Kind::Tables(&TENSOR)),
        f(subgraph::INPUTS, Kind::Vector(4)),
        f(subgraph::OUTPUTS, Kind::Vector(4)),
        f(subgraph::OPERATORS, Kind::Tables(&OPERATOR)),
        f(subgraph::NAME, Kind::Str),
    ],
};

static TENSOR: Schema = Schema {
    fields: &[
        f(tensor::SHAPE, Kind::Vector(4)),
        f(tensor::TYPE, SCALAR1),
        f(tensor::BUFFER, SCALAR4),
        f(tensor::NAME, Kind::Str),
        f(tensor::QUANTIZATION, Kind::Table(&QUANTIZATION)),
        f(tensor::IS_VARIABLE, SCALAR1),
        f(tensor::SHAPE_SIGNATURE, Kind::Vector(4)),
        f(tensor::HAS_RANK, SCALAR1),
    ],
};

static QUANTIZATION: Schema = Schema {
    fields: &[
        f(quantization::MIN, Kind::Vector(4)),
        f(quantization::MAX, Kind::Vector(4)),
        f(quantization::SCALE, Kind::Vector(4)),
        f(quantization::ZERO_POINT, Kind::Vector(8)),
        f(quantization::DETAILS_TYPE, SCALAR1),
        f(quantization::QUANTIZED_DIMENSION, SCALAR4),
    ],
};

static BUFFER: Schema = Schema {
    fields: &[
        f(buffer::DATA, Kind::Vector(1)),
        f(buffer::OFFSET, SCALAR8),
        f(buffer::SIZE, SCALAR8),
    ],
};

static OPERATOR: Schema = Schema {
    fields: &[
        f(operator::OPCODE_INDEX, SCALAR4),
        f(operator::INPUTS, Kind::Vector(4)),
        f(operator::OUTPUTS, Kind::Vector(4)),
        f(operator::BUILTIN_OPTIONS_TYPE, SCALAR1),
        f(
            operator::BUILTIN_OPTIONS,
            Kind::Union {
                type_slot: operator::BUILTIN_OPTIONS_TYPE,
                members: &[
                    (options::CONV_2D, &CONV_2D_OPTIONS),
                    (options::DEPTHWISE_CONV_2D, &DEPTHWISE_OPTIONS),
                    (options::POOL_2D, &POOL_2D_OPTIONS),
                    (options::FULLY_CONNECTED, &FULLY_CONNECTED_OPTIONS),
                    (options::SOFTMAX, &SOFTMAX_OPTIONS),
                    (options::ADD, &ADD_OPTIONS),
                    (options::RESHAPE, &RESHAPE_OPTIONS),
                    (options::DEQUANTIZE, &EMPTY_OPTIONS),
                    (options::QUANTIZE, &EMPTY_OPTIONS),
                ],
            },
        ),
        f(operator::CUSTOM_OPTIONS, Kind::Vector(1)),
        f(operator::CUSTOM_OPTIONS_FORMAT, SCALAR1),
        f(operator::MUTATING_VARIABLE_INPUTS, Kind::Vector(1)),
        f(operator::INTERMEDIATES, Kind::Vector(4)),
    ],
};

static CONV_2D_OPTIONS: Schema = Schema {
    fields: &[
        f(conv2d::PADDING, SCALAR1),
        f(conv2d::STRIDE_W, SCALAR4),
        f(conv2d::STRIDE_H, SCALAR4),
        f(conv2d::ACTIVATION, SCALAR1),
        f(conv2d::DILATION_W, SCALAR4),
        f(conv2d::DILATION_H, SCALAR4),
    ],
};

static DEPTHWISE_OPTIONS: Schema = Schema {
    fields: &[
        f(depthwise::PADDING, SCALAR1),
        f(depthwise::STRIDE_W, SCALAR4),
        f(depthwise::STRIDE_H, SCALAR4),
        f(depthwise::DEPTH_MULTIPLIER, SCALAR4),
        f(depthwise::ACTIVATION, SCALAR1),
        f(depthwise::DILATION_W, SCALAR4),
        f(depthwise::DILATION_H, SCALAR4),
    ],
};

static POOL_2D_OPTIONS: Schema = Schema {
    fields: &[
        f(pool2d::PADDING, SCALAR1),
        f(pool2d::STRIDE_W, SCALAR4),
        f(pool2d::STRIDE_H, SCALAR4),
        f(pool2d::FILTER_WIDTH, SCALAR4),
        f(pool2d::FILTER_HEIGHT, SCALAR4),
        f(pool2d::ACTIVATION, SCALAR1),
    ],
};

static FULLY_CONNECTED_OPTIONS: Schema = Schema {
    fields: &[
        f(fully_connected::ACTIVATION, SCALAR1),
        f(fully_connected::WEIGHTS_FORMAT, SCALAR1),
        f(fully_connected::KEEP_NUM_DIMS, SCALAR1),
        f(fully_connected::ASYMMETRIC_QUANTIZE_INPUTS, SCALAR1),
    ],
};

static SOFTMAX_OPTIONS: Schema = Schema {
    fields: &[f(softmax::BETA, SCALAR4)],
};

static ADD_OPTIONS: Schema = Schema {
    fields: &[
        f(add::ACTIVATION, SCALAR1),
        f(add::POT_SCALE_INT16, SCALAR1),
    ],
};

static RESHAPE_OPTIONS: Schema = Schema {
    fields: &[f(reshape::NEW_SHAPE, Kind::Vector(4))],
};

/// QuantizeOptions and DequantizeOptions have no fields.
static EMPTY_OPTIONS: Schema = Schema { fields: &[] };
