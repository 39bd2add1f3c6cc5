//! What `TfliteModel::lower` refuses, and how it says so: a typed error naming the operator
//! (its index and kind) for each thing firmnet's layers do not compute, on real models
//! edited by hand (a `TfliteModel`'s fields are public, so an edited model must fail
//! cleanly too).

use firmnet::host::tflite::{ImportError, Op, Problem, Quantization, TfliteModel};

fn model(file: &str) -> TfliteModel {
    let path = format!("{}/tests/mlperf_tiny/{file}", env!("CARGO_MANIFEST_DIR"));
    TfliteModel::parse(&std::fs::read(path).unwrap()).unwrap()
}

fn kws() -> TfliteModel {
    model("kws_ref_model.tflite")
}

fn ad() -> TfliteModel {
    model("ad01_int8.tflite")
}

/// The operator index, kind name and problem of an operator error.
fn operator_error(m: &TfliteModel) -> (usize, String, Problem) {
    match m.lower() {
        Err(ImportError::Operator {
            index,
            kind,
            problem,
        }) => (index, kind.to_string(), problem),
        other => panic!("expected an operator error, got {other:?}"),
    }
}

#[test]
fn unequal_strides_are_refused() {
    let mut m = kws();
    let Op::Conv2d(ref mut conv) = m.operators[0].op else {
        panic!("KWS starts with a convolution");
    };
    conv.stride_w = 1;
    let (index, kind, problem) = operator_error(&m);
    assert_eq!((index, kind.as_str()), (0, "CONV_2D"));
    assert!(matches!(problem, Problem::Option(w) if w.contains("unequal strides")));
    let text = m.lower().unwrap_err().to_string();
    assert!(
        text.starts_with("operator 0 (CONV_2D): unequal strides"),
        "{text}"
    );
}

#[test]
fn a_requantization_inside_the_network_is_refused() {
    let mut m = ad();
    m.operators[3].op = Op::Quantize;
    let (index, kind, problem) = operator_error(&m);
    assert_eq!((index, kind.as_str()), (3, "QUANTIZE"));
    assert!(matches!(problem, Problem::Graph(w) if w.contains("QUANTIZE inside")));
}

#[test]
fn a_pool_that_rescales_is_refused() {
    let mut m = kws();
    let out = m.operators[9].outputs[0];
    m.tensors[out].quantization = Quantization::PerTensor {
        scale: 0.5,
        zero_point: -128,
    };
    let (index, kind, problem) = operator_error(&m);
    assert_eq!((index, kind.as_str()), (9, "AVERAGE_POOL_2D"));
    assert!(matches!(problem, Problem::Graph(w) if w.contains("pools do not rescale")));
}

#[test]
fn a_softmax_not_quantized_as_tensorflow_lites_is_refused() {
    let mut m = kws();
    let out = m.operators[12].outputs[0];
    m.tensors[out].quantization = Quantization::PerTensor {
        scale: 1.0 / 256.0,
        zero_point: 0,
    };
    let (index, kind, _) = operator_error(&m);
    assert_eq!((index, kind.as_str()), (12, "SOFTMAX"));
}

#[test]
fn a_tensor_read_three_times_is_refused() {
    // ResNet-8: tensor 25 opens the second block (read by operators 4 and 6); make
    // operator 8 read it too.
    let mut m = model("pretrainedResnet_quant.tflite");
    m.operators[8].inputs[0] = Some(25);
    let (_, _, problem) = operator_error(&m);
    assert!(
        matches!(problem, Problem::Graph(w) if w.contains("more than two")),
        "{problem:?}"
    );
}

#[test]
fn a_model_of_two_inputs_or_a_batch_of_two_is_refused() {
    let mut m = ad();
    m.inputs.push(m.inputs[0]);
    assert!(matches!(
        m.lower(),
        Err(ImportError::Model(Problem::Graph(_)))
    ));
    let mut m = ad();
    let input = m.inputs[0];
    m.tensors[input].shape = vec![2, 320];
    assert!(matches!(
        m.lower(),
        Err(ImportError::Model(Problem::Shape { .. }))
    ));
}

#[test]
fn a_bias_beyond_32_bits_with_the_zero_point_folded_in_is_refused() {
    // AD's first layer reads inputs of zero point 89: the stored bias is b − 89·Σw. With
    // b = i32::MIN and a row whose weights sum above 0, that is below i32::MIN.
    let mut m = ad();
    let (w, b) = (
        m.operators[0].inputs[1].unwrap(),
        m.operators[0].inputs[2].unwrap(),
    );
    let weights = m.tensors[w].data_i8().unwrap();
    let row = weights
        .chunks(640)
        .position(|r| r.iter().map(|&v| i64::from(v)).sum::<i64>() > 0)
        .expect("a row of positive sum");
    let data = m.tensors[b].data.as_mut().unwrap();
    data[4 * row..4 * row + 4].copy_from_slice(&i32::MIN.to_le_bytes());
    let (index, kind, problem) = operator_error(&m);
    assert_eq!((index, kind.as_str()), (0, "FULLY_CONNECTED"));
    assert!(matches!(problem, Problem::Option(w) if w.contains("32 bits")));
}

#[test]
fn hand_edited_inconsistencies_fail_cleanly() {
    // A tensor index past the end.
    let mut m = kws();
    m.operators[2].inputs[0] = Some(10_000);
    let (index, _, problem) = operator_error(&m);
    assert_eq!((index, problem), (2, Problem::TensorIndex(10_000)));
    // Missing weights.
    let mut m = ad();
    m.operators[1].inputs[1] = None;
    let (index, _, problem) = operator_error(&m);
    assert_eq!((index, problem), (1, Problem::MissingInput(1)));
    // Weights whose data is not their shape's.
    let mut m = ad();
    let w = m.operators[4].inputs[1].unwrap();
    m.tensors[w].data.as_mut().unwrap().pop();
    let (index, _, problem) = operator_error(&m);
    assert_eq!(index, 4);
    assert!(matches!(problem, Problem::Shape { tensor, .. } if tensor == w));
    // A convolution filter of another rank.
    let mut m = kws();
    let w = m.operators[0].inputs[1].unwrap();
    m.tensors[w].shape = vec![64, 40];
    let (index, _, problem) = operator_error(&m);
    assert_eq!(index, 0);
    assert!(matches!(problem, Problem::Shape { tensor, .. } if tensor == w));
}
