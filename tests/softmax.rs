//! The int8 softmax against TensorFlow Lite Micro's interpreter, bit for bit.
//!
//! `tests/tflm/softmax.txt` holds 980 softmaxes computed by `tflite-micro`'s own
//! interpreter on one-operator models (`tests/tflm/softmax.py` made them: ten logit
//! quantizations and betas, lengths 1 to 100, structured and random logits).

use firmnet::net::Infer;
use firmnet::quant::{QLayer, QParams, QSoftmax, QuantError, SOFTMAX_OUTPUT};

/// One line: `scale zero_point beta n | logits | outputs`.
struct Case {
    input: QParams,
    beta: f32,
    logits: Vec<i8>,
    want: Vec<i8>,
}

fn cases() -> Vec<Case> {
    let text = include_str!("tflm/softmax.txt");
    text.lines()
        .map(|line| {
            let mut parts = line.split(" | ");
            let head: Vec<&str> = parts.next().unwrap().split(' ').collect();
            let numbers =
                |s: &str| -> Vec<i8> { s.split(' ').map(|v| v.parse().unwrap()).collect() };
            let logits = numbers(parts.next().unwrap());
            let want = numbers(parts.next().unwrap());
            assert_eq!(head[3].parse::<usize>().unwrap(), logits.len());
            Case {
                input: QParams {
                    scale: head[0].parse::<f64>().unwrap() as f32,
                    zero_point: head[1].parse().unwrap(),
                },
                beta: head[2].parse::<f64>().unwrap() as f32,
                logits,
                want,
            }
        })
        .collect()
}

/// Runs `QSoftmax<N>` on every case of length `N`; returns how many it checked.
fn check<const N: usize>(cases: &[Case]) -> usize {
    let mut checked = 0;
    for case in cases.iter().filter(|c| c.logits.len() == N) {
        let layer = QSoftmax::<N>::new(case.input, case.beta).unwrap();
        let x: [i8; N] = case.logits.as_slice().try_into().unwrap();
        let mut y = [0i8; N];
        layer.softmax(&x, &mut y);
        assert_eq!(
            y.as_slice(),
            case.want.as_slice(),
            "scale {} beta {} logits {:?}",
            case.input.scale,
            case.beta,
            case.logits
        );
        // The same bits as a layer of a network, in place.
        let mut xy = x;
        layer.apply(&mut xy);
        assert_eq!(xy, y);
        checked += 1;
    }
    checked
}

#[test]
fn bit_for_bit_with_tensorflow_lite_micro() {
    let cases = cases();
    let checked = check::<1>(&cases)
        + check::<2>(&cases)
        + check::<3>(&cases)
        + check::<10>(&cases)
        + check::<12>(&cases)
        + check::<64>(&cases)
        + check::<100>(&cases);
    assert_eq!(checked, cases.len());
    assert!(checked >= 900, "only {checked} cases");
}

#[test]
fn probabilities_follow_the_float_softmax() {
    // Within 1/256 of the float softmax on the logits' values, for every case.
    for case in cases() {
        let x: Vec<f64> = case
            .logits
            .iter()
            .map(|&q| f64::from(case.input.dequantize(q)) * f64::from(case.beta))
            .collect();
        let max = x.iter().copied().fold(f64::MIN, f64::max);
        let sum: f64 = x.iter().map(|v| (v - max).exp()).sum();
        for (v, &q) in x.iter().zip(&case.want) {
            let p = (v - max).exp() / sum;
            let got = f64::from(i32::from(q) + 128) / 256.0;
            assert!((got - p).abs() <= 1.0 / 256.0 + 1e-9, "{got} vs {p}");
        }
    }
}

#[test]
fn quantization_and_errors() {
    let p = QParams {
        scale: 0.1,
        zero_point: 0,
    };
    let layer = QSoftmax::<10>::new(p, 1.0).unwrap();
    assert_eq!(layer.input_params(), p);
    assert_eq!(layer.output_params(), SOFTMAX_OUTPUT);
    let bad = QParams {
        scale: f32::NAN,
        zero_point: 0,
    };
    assert_eq!(
        QSoftmax::<10>::new(bad, 1.0),
        Err(QuantError::InvalidParams { which: "input" })
    );
    assert_eq!(
        QSoftmax::<10>::new(p, 0.0),
        Err(QuantError::InvalidParams { which: "beta" })
    );
    assert_eq!(
        QSoftmax::<10>::new(p, f32::INFINITY),
        Err(QuantError::InvalidParams { which: "beta" })
    );
    // β·s·2²⁶ below 1: no left shift ≥ 0.
    let tiny = QParams {
        scale: 1e-9,
        zero_point: 0,
    };
    assert_eq!(
        QSoftmax::<10>::new(tiny, 1.0),
        Err(QuantError::Multiplier { channel: 0 })
    );
}

#[test]
fn a_softmax_in_a_network_round_trips_through_a_weight_file() {
    use firmnet::Net;
    use firmnet::format;
    use firmnet::prelude::Scratch;
    use firmnet::quant::{Borrowed, Clamp, QDense};

    type Model = Net![QDense<4, 3>, QSoftmax<3>];
    let io = QParams::from_range(-2.0, 2.0);
    let logits = QParams {
        scale: 0.05,
        zero_point: 3,
    };
    let mut float = firmnet::layers::Dense::<4, 3>::ZERO;
    float.weight = [
        [0.5, -0.25, 0.125, 1.0],
        [-1.0, 0.5, 0.25, 0.0],
        [0.0, 0.0, 1.0, -0.5],
    ];
    float.bias = [0.1, -0.2, 0.0];
    let dense = QDense::<4, 3>::from_float(&float, None, Clamp::None, io, logits).unwrap();
    let net: Model = firmnet::net::Chain::new(dense, QSoftmax::<3>::new(logits, 1.0).unwrap());
    let bytes = format::save(&net).unwrap();
    let mut back = <Model as firmnet::tensor::Zero>::ZERO;
    format::load(&bytes, &mut back).unwrap();
    assert_eq!(back, net);
    // The source form names the layer's constructor with every attribute.
    let source = format::rust_source(&net).unwrap();
    assert!(
        source.contains("firmnet::quant::QSoftmax::from_parts("),
        "{source}"
    );
    // A view borrows the dense weights; the softmax has none.
    let mut file = Box::new(format::Aligned([0u8; 4096]));
    file.0[..bytes.len()].copy_from_slice(&bytes);
    let view: Net![QDense<4, 3, Borrowed<'_>>, QSoftmax<3, Borrowed<'_>>] =
        format::view(&file.0[..bytes.len()]).unwrap();
    let x = [
        io.quantize(0.5),
        io.quantize(-1.0),
        io.quantize(1.5),
        io.quantize(0.0),
    ];
    let (mut y, mut z) = ([0i8; 3], [0i8; 3]);
    let mut scratch = Scratch::<Model>::ZERO;
    net.forward(&x, &mut y, &mut scratch);
    view.forward(&x, &mut z, &mut scratch);
    assert_eq!(y, z);
    // Probabilities: they sum to about 256/256.
    let total: i32 = y.iter().map(|&q| i32::from(q) + 128).sum();
    assert!((254..=258).contains(&total), "{y:?}");
}
