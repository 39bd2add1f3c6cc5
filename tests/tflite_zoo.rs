//! Small models of every operator variant the importer takes (`tests/tflm/zoo.py`: VALID
//! and SAME convolutions and pools of strides 1–3, max pools, ReLU6 and ReLU−1…1, per-tensor
//! and per-channel dense layers, a dense layer on a feature map, float edges, residual blocks
//! with identity and convolution shortcuts, a channel whose rescale flushes to zero, weights
//! of −128, a softmax with β = 0.7), imported and run: their outputs are TensorFlow Lite
//! Micro's, bit for bit, on 32 inputs each (`tests/tflm/zoo.txt`).

use firmnet::host::tflite::TfliteModel;
use firmnet::net::{Infer, Scratch};
use firmnet::spec::Describe;
use firmnet::tensor::{Tensor, Zero};
use std::path::PathBuf;

mod zoo {
    include!("tflm/zoo/conv_pools.rs");
    include!("tflm/zoo/depthwise_valid.rs");
    include!("tflm/zoo/residual_float.rs");
    include!("tflm/zoo/dense_softmax.rs");
    include!("tflm/zoo/pools_same.rs");
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tflm")
}

/// The inputs and TFLM's outputs of model `name` in `zoo.txt`.
fn cases(name: &str) -> Vec<(Vec<i8>, Vec<i8>)> {
    let text = std::fs::read_to_string(dir().join("zoo.txt")).unwrap();
    let mut lines = text.lines();
    let header = format!("model {name} ");
    lines
        .find(|l| l.starts_with(&header))
        .expect("model in zoo.txt");
    let ints = |s: &str| -> Vec<i8> {
        s.split_whitespace()
            .map(|v| v.parse::<i8>().unwrap())
            .collect()
    };
    lines
        .take_while(|l| !l.starts_with("model "))
        .map(|l| {
            let (x, y) = l.split_once('|').unwrap();
            (ints(x), ints(y))
        })
        .collect()
}

/// The type's name in Rust: `conv_pools` → `ConvPools`.
fn type_name(name: &str) -> String {
    name.split('_')
        .map(|w| w[..1].to_uppercase() + &w[1..])
        .collect()
}

fn check<N>(name: &str)
where
    N: Infer<Input: Tensor<Elem = i8>, Output: Tensor<Elem = i8>> + Describe + Zero,
{
    let bytes = std::fs::read(dir().join(format!("zoo/{name}.tflite"))).unwrap();
    let lowered = TfliteModel::parse(&bytes).and_then(|m| m.lower()).unwrap();
    let committed = std::fs::read_to_string(dir().join(format!("zoo/{name}.rs"))).unwrap();
    let written = lowered.rust_type(&type_name(name));
    assert!(
        committed == written,
        "tests/tflm/zoo/{name}.rs is not what the importer writes now:\n{written}"
    );
    let net: Box<N> = lowered.network().unwrap();
    // The values as Rust source, written without the type, are what the format's writer
    // makes of the network of that type (comment lines aside).
    let code = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(code(&lowered.rust_value()) == code(&firmnet::format::rust_source(&*net).unwrap()));
    let mut scratch = firmnet::boxed::zero::<Scratch<N>>();
    let (mut x, mut y) = (N::Input::ZERO, N::Output::ZERO);
    let cases = cases(name);
    assert_eq!(cases.len(), 32);
    let mut distinct = std::collections::BTreeSet::new();
    for (k, (input, expected)) in cases.iter().enumerate() {
        x.as_mut_slice().copy_from_slice(input);
        net.forward(&x, &mut y, &mut scratch);
        assert_eq!(y.as_slice(), &expected[..], "{name}, input {k}");
        distinct.insert(expected.clone());
    }
    // The references are not one saturated answer.
    assert!(
        distinct.len() > 16,
        "{name}: {} distinct outputs",
        distinct.len()
    );
}

#[test]
fn conv_and_pools() {
    check::<zoo::ConvPools>("conv_pools");
}

#[test]
fn valid_depthwise_dead_channel_and_dense_on_a_map() {
    check::<zoo::DepthwiseValid>("depthwise_valid");
}

#[test]
fn residual_blocks_between_float_edges() {
    check::<zoo::ResidualFloat>("residual_float");
}

#[test]
fn dense_layers_and_softmax() {
    check::<zoo::DenseSoftmax>("dense_softmax");
}

#[test]
fn same_pools_and_strided_depthwise() {
    check::<zoo::PoolsSame>("pools_same");
}
