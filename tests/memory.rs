//! What inference costs in memory, pinned by `size_of`: a network's arena is its two
//! largest adjacent activations (elementwise layers work in place), a constant the compiler
//! computes from the layer types; an int8 layer holds nothing inference does not read; the
//! error a reader returns is small.

use firmnet::deploy::Deployed;
use firmnet::format::FormatError;
use firmnet::models::FashionMlp;
use firmnet::prelude::*;
use firmnet::quant::{Borrowed, Int8, QDense, QLut, QParams};

/// Bytes of an arena holding activations of `a` and `b` bytes (4-byte aligned halves).
fn arena(a: usize, b: usize) -> usize {
    a.next_multiple_of(4) + b.next_multiple_of(4)
}

#[test]
fn fashion_mlp_float_scratch_is_its_two_hidden_activations() {
    // 784 → 256 → 128 → 10: the arena holds the 256 and 128 hidden values, 1,536 bytes —
    // batch normalization, ReLU and dropout work in place; input and output are the
    // caller's.
    assert_eq!(size_of::<Scratch<FashionMlp>>(), arena(256 * 4, 128 * 4));
    assert!(size_of::<Scratch<FashionMlp>>() <= 2048);
}

#[test]
fn fashion_mlp_int8_scratch_is_its_two_hidden_activations() {
    // Its int8 twin: three dense layers, hidden activations of 256 and 128 bytes.
    assert_eq!(size_of::<Scratch<Int8<FashionMlp>>>(), 256 + 128);
    assert_eq!(
        size_of::<Scratch<Int8<FashionMlp, Borrowed<'static>>>>(),
        256 + 128
    );
}

#[test]
fn any_network_scratch_is_its_largest_adjacent_pair() {
    // A sensor classifier: 96 → 32 (batch norm, ReLU) → 16 (tanh) → 3.
    type Sensor = Net![
        Dense<96, 32>,
        BatchNorm<32>,
        Relu<[f32; 32]>,
        Dropout<[f32; 32]>,
        Dense<32, 16>,
        Tanh<[f32; 16]>,
        Dense<16, 3>
    ];
    assert_eq!(size_of::<Scratch<Sensor>>(), arena(32 * 4, 16 * 4));
    // Its int8 twin keeps the tanh as a table between two dense layers: 32 | 16 | 16.
    assert_eq!(size_of::<Scratch<Int8<Sensor>>>(), arena(32, 16));
    // A regression 1 → 16 → 16 → 1: the widest pair is the two hidden layers.
    type Regression =
        Net![Dense<1, 16>, Tanh<[f32; 16]>, Dense<16, 16>, Relu<[f32; 16]>, Dense<16, 1>];
    assert_eq!(size_of::<Scratch<Regression>>(), arena(64, 64));
    // A single layer needs no arena at all.
    assert_eq!(size_of::<Scratch<Dense<8, 4>>>(), 0);
}

#[test]
fn an_int8_dense_layer_holds_only_what_inference_reads() {
    // Weights, then per output channel the bias, Q31 multiplier and shift, the input and
    // output quantization and the clamp bounds — no weight scale (which only conversion
    // needs), rounded up to the 4-byte alignment.
    fn expected(inputs: usize, outputs: usize) -> usize {
        let bytes = inputs * outputs + 3 * 4 * outputs + 2 * size_of::<QParams>() + 2;
        bytes.next_multiple_of(4)
    }
    assert_eq!(size_of::<QDense<784, 256>>(), expected(784, 256));
    assert_eq!(size_of::<QDense<5, 3>>(), expected(5, 3));
    // Borrowed, it is four references, the quantization and the bounds.
    assert_eq!(
        size_of::<QDense<784, 256, Borrowed<'static>>>(),
        (4 * size_of::<usize>() + 2 * size_of::<QParams>() + 2)
            .next_multiple_of(size_of::<usize>())
    );
    // A table layer: 256 entries and its quantization.
    assert_eq!(size_of::<QLut<[i8; 16]>>(), 256 + 2 * size_of::<QParams>());
}

#[test]
fn the_float_deployment_form_has_no_batch_norm_or_dropout() {
    // Deployed<FashionMlp>: three dense layers' weights and biases, nothing else.
    let dense = |i: usize, o: usize| 4 * (i * o + o);
    assert_eq!(
        size_of::<Deployed<FashionMlp>>(),
        dense(784, 256) + dense(256, 128) + dense(128, 10)
    );
}

#[test]
fn a_format_error_is_at_most_32_bytes() {
    assert!(
        size_of::<FormatError>() <= 32,
        "{}",
        size_of::<FormatError>()
    );
    assert!(size_of::<Result<(), FormatError>>() <= 32);
}
