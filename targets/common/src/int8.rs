//! The computation that the Cortex-M0 and RISC-V firmware run (`targets/qemu-cortex-m0`,
//! `targets/qemu-riscv32`) and that the host test `tests/firmware_targets.rs` repeats:
//! [`run`] reports every number through a callback as `(label, index, value)`, with
//! `value` an integer — an int8 output, a class index, or the bits of an `f32`
//! (`f32::to_bits`) — so the firmware and the host can be compared exactly.
//!
//! What it computes, all from fixed seeds (the flash-resident layers drawn by the compiler
//! with [`Rng`], whose step is a `const fn`):
//! 1. `int8_3x2` … `int8_64x9`: int8 dense layers of four shapes, built at run time on the
//!    stack from [`Rng`] (weights, inputs, bias, Q31 multipliers, shifts, zero point, fused
//!    ReLU or not), as the Cortex-M4 demo does.
//! 2. `int8_784x6`: a `QDense<784, 6>` (4.8 KB) that lives in flash ([`WIDE`], a `static`
//!    computed at compile time), on three inputs.
//! 3. `qmlp_logits`, `qmlp_argmax`: the 64 → 32 → 16 → 10 int8 network [`QMLP`]
//!    (`Net!` of three `QDense`, ReLU fused in the hidden layers, 3.7 KB, in flash) on
//!    eight inputs, with its predicted class.
//! 4. `f32_logits`, `f32_probs`, `f32_argmax`: the float network [`FloatNet`]
//!    (`Net![Dense<16, 16>, Relu, Dense<16, 4>]`), He-initialized, on four inputs, with its
//!    softmax; reported as `f32` bits.
//! 5. `twin_params`, `twin_logits`, `twin_argmax`: that float network converted to its
//!    int8 twin [`Twin`] (`Int8<FloatNet>`) on the device by the generic conversion
//!    (`QParams::from_range` on the ranges seen on the same four inputs, then
//!    [`convert`]: ReLU fused, f64 rounding, Q31 multipliers) and run in int8;
//!    `twin_params` are the hidden and output scales (bits) and zero points.
//!
//! RAM: the caller owns the float network and its int8 twin ([`Workspace`], 2 KB; the
//! firmware keeps them in `static`s). The two large int8 networks are immutable `static`s,
//! so they stay in flash (`.rodata`); everything else is a small local buffer.

use core::hint::black_box;

use firmnet::prelude::*;
use firmnet::quant::{Int8, QDense, QParams, QuantError, argmax_i8, convert};

/// Samples of [`WIDE`].
const WIDE_SAMPLES: usize = 3;
/// Samples of [`QMLP`].
const QMLP_SAMPLES: usize = 8;
/// Samples of [`FloatNet`] and its int8 twin.
const FLOAT_SAMPLES: usize = 4;
/// Inputs of [`FloatNet`].
const FLOAT_IN: usize = 16;
/// Hidden units of [`FloatNet`].
const FLOAT_HIDDEN: usize = 16;
/// Classes of [`FloatNet`].
const FLOAT_CLASSES: usize = 4;

/// The int8 network in flash: 64 → 32 → 16 → 10.
pub type QMlp = Net![QDense<64, 32>, QDense<32, 16>, QDense<16, 10>];

/// [`QMlp`] with weights and requantization drawn at compile time from seeds 11–13 (ReLU
/// fused into the two hidden layers). An immutable `static` without interior mutability:
/// it is placed in `.rodata`, i.e. flash, and costs no RAM.
pub static QMLP: QMlp = net![
    const_layer(11, true, 10),
    const_layer(12, true, 8),
    const_layer(13, false, 7)
];

/// A wide int8 layer in flash, drawn at compile time from seed 10: 784 inputs, as an
/// MNIST-sized first layer, 6 outputs.
pub static WIDE: QDense<784, 6> = const_layer(10, false, 11);

/// The float network: 16 → 16 (ReLU) → 4.
pub type FloatNet = Net![
    Dense<FLOAT_IN, FLOAT_HIDDEN>,
    Relu<[f32; FLOAT_HIDDEN]>,
    Dense<FLOAT_HIDDEN, FLOAT_CLASSES>
];

/// [`FloatNet`] before [`run`] initializes it (all zero: `.bss` in a `static`).
pub const FLOAT_NET: FloatNet = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];

/// The int8 twin of [`FloatNet`], as the compiler derives it: `Net![QDense<16, 16>,
/// QDense<16, 4>]`, ReLU fused into the first layer.
pub type Twin = Int8<FloatNet>;

/// [`Twin`] before [`run`] fills it.
pub const TWIN: Twin = net![QDense::ZERO, QDense::ZERO];

/// Everything [`run`] writes that is not a small local: borrowed from the caller, who
/// keeps it in `static`s on the firmware and in a `Box` on the host.
pub struct Workspace<'a> {
    /// The float network.
    pub net: &'a mut FloatNet,
    /// Its int8 twin.
    pub twin: &'a mut Twin,
}

/// Runs every computation of the [module docs](self) and reports each value to `out`.
///
/// # Errors
/// The conversion of the float network to int8 ([`convert`]); it does not fail for these
/// seeds.
pub fn run(
    ws: &mut Workspace<'_>,
    out: &mut impl FnMut(&str, usize, i64),
) -> Result<(), QuantError> {
    run_runtime_layers(out);
    run_wide(out);
    run_qmlp(out);
    run_float(ws, out)
}

// ---------------------------------------------------------------------------------------
// Compile-time weights

/// An int8 dense layer drawn from `seed` at compile time: uniform int8 weights, biases in
/// ±2¹³, Q31 multipliers in [0.5, 1), shifts of `−shift` or `−shift − 1`, output zero point
/// in −20..=20; `relu` fuses a ReLU (lower bound = zero point). `shift` is chosen per layer
/// so that its outputs spread over the int8 range, neither saturated nor all alike.
const fn const_layer<const IN: usize, const OUT: usize>(
    seed: u64,
    relu: bool,
    shift: i32,
) -> QDense<IN, OUT> {
    let mut rng = Rng::new(seed);
    let mut layer = QDense::<IN, OUT>::ZERO;
    let mut o = 0;
    while o < OUT {
        let mut i = 0;
        while i < IN {
            layer.weight.0[o][i] = rng.next_u32() as i8;
            i += 1;
        }
        o += 1;
    }
    let mut o = 0;
    while o < OUT {
        layer.bias[o] = (rng.next_u32() as i32) >> 18;
        layer.multiplier[o] = (1 << 30) + (rng.next_u32() >> 2) as i32;
        layer.shift[o] = -shift - (rng.next_u32() & 1) as i32;
        o += 1;
    }
    let zero_point = (rng.next_u32() % 41) as i32 - 20;
    layer.output.zero_point = zero_point;
    layer.min = if relu { zero_point as i8 } else { -128 };
    layer
}

// ---------------------------------------------------------------------------------------
// Int8

/// Small layers of shapes that exercise the kernel's loops and leftovers, built at run time
/// on the stack (the largest, 64 × 9, is 0.7 KB).
fn run_runtime_layers(out: &mut impl FnMut(&str, usize, i64)) {
    let mut rng = Rng::new(4);
    runtime_layer::<3, 2>(&mut rng, "int8_3x2", out);
    runtime_layer::<10, 7>(&mut rng, "int8_10x7", out);
    runtime_layer::<36, 10>(&mut rng, "int8_36x10", out);
    runtime_layer::<64, 9>(&mut rng, "int8_64x9", out);
}

/// One `QDense<IN, OUT>` with weights, inputs and requantization drawn from `rng` (as in
/// the Cortex-M4 demo: biases in ±2¹⁷, shifts −6…−17, so some outputs saturate), applied
/// to one input.
fn runtime_layer<const IN: usize, const OUT: usize>(
    rng: &mut Rng,
    label: &str,
    out: &mut impl FnMut(&str, usize, i64),
) {
    for (o, v) in random_layer_output::<IN, OUT>(rng).into_iter().enumerate() {
        out(label, o, i64::from(v));
    }
}

/// A `QDense<IN, OUT>` with weights, input and requantization drawn from `rng` — biases
/// in ±2¹⁷, Q31 multipliers in [0.5, 1), shifts −6…−17 (so some outputs saturate), output
/// zero point in −20..=19, a fused ReLU or not — applied to one drawn input: its output.
/// What the int8 cases of the Cortex-M4 demo ([`training`](crate::training)) and of this
/// module compute.
pub fn random_layer_output<const IN: usize, const OUT: usize>(rng: &mut Rng) -> [i8; OUT] {
    let mut layer = QDense::<IN, OUT>::ZERO;
    for row in layer.weight.0.iter_mut() {
        row.iter_mut().for_each(|w| *w = rng.next_u32() as i8);
    }
    for o in 0..OUT {
        layer.bias[o] = (rng.next_u32() as i32) >> 14;
        layer.multiplier[o] = (1 << 30) + (rng.next_u32() >> 2) as i32;
        layer.shift[o] = -(rng.below(12) as i32) - 6;
    }
    layer.output.zero_point = rng.below(40) as i32 - 20;
    layer.min = if rng.below(2) == 0 {
        -128
    } else {
        layer.output.zero_point as i8
    };
    let x: [i8; IN] = core::array::from_fn(|_| rng.next_u32() as i8);
    let mut y = [0i8; OUT];
    black_box(&layer).forward_with(&x, &mut y, &mut []);
    y
}

/// [`WIDE`], from flash, on [`WIDE_SAMPLES`] random inputs (one 784-byte buffer on the
/// stack).
fn run_wide(out: &mut impl FnMut(&str, usize, i64)) {
    let mut rng = Rng::new(5);
    let mut x = [0i8; 784];
    let mut y = [0i8; 6];
    for s in 0..WIDE_SAMPLES {
        x.iter_mut().for_each(|v| *v = rng.next_u32() as i8);
        // Opaque to the optimizer: the kernel reads the weights from flash at run time
        // instead of LTO folding a compile-time constant.
        black_box(&WIDE).forward_with(&x, &mut y, &mut []);
        for (o, &v) in y.iter().enumerate() {
            out("int8_784x6", s * y.len() + o, i64::from(v));
        }
    }
}

/// [`QMLP`], from flash, on [`QMLP_SAMPLES`] random inputs: its int8 logits and class.
fn run_qmlp(out: &mut impl FnMut(&str, usize, i64)) {
    let mut rng = Rng::new(6);
    let mut scratch = Scratch::<QMlp>::ZERO;
    let mut logits = [0i8; 10];
    for s in 0..QMLP_SAMPLES {
        let x: [i8; 64] = core::array::from_fn(|_| rng.next_u32() as i8);
        black_box(&QMLP).forward(&x, &mut logits, &mut scratch);
        for (c, &v) in logits.iter().enumerate() {
            out("qmlp_logits", s * logits.len() + c, i64::from(v));
        }
        out("qmlp_argmax", s, argmax_i8(&logits) as i64);
    }
}

// ---------------------------------------------------------------------------------------
// Float, and its int8 twin

/// The bits of an `f32`, as the integer the callback takes.
fn bits(v: f32) -> i64 {
    i64::from(v.to_bits())
}

/// Initializes [`FloatNet`], runs it in `f32`, converts it to int8 with ranges calibrated
/// on the same inputs, and runs the int8 twin.
fn run_float(
    ws: &mut Workspace<'_>,
    out: &mut impl FnMut(&str, usize, i64),
) -> Result<(), QuantError> {
    ws.net.init(Init::HeNormal, &mut Rng::new(7));
    let mut rng = Rng::new(8);
    let xs: [[f32; FLOAT_IN]; FLOAT_SAMPLES] =
        core::array::from_fn(|_| core::array::from_fn(|_| rng.uniform(-1.0, 1.0)));

    let mut scratch = Scratch::<FloatNet>::ZERO;
    let mut logits = [0.0; FLOAT_CLASSES];
    let mut probs = [0.0; FLOAT_CLASSES];
    // Calibration of the twin: the largest hidden activation (after ReLU) and the range of
    // the logits over these inputs.
    let (mut hidden_max, mut logit_min, mut logit_max) = (0.0f32, 0.0f32, 0.0f32);
    for (s, x) in xs.iter().enumerate() {
        let mut hidden = [0.0; FLOAT_HIDDEN];
        ws.net.first.forward_with(x, &mut hidden, &mut []);
        hidden_max = hidden.iter().fold(hidden_max, |m, &h| m.max(h));
        ws.net.forward(x, &mut logits, &mut scratch);
        softmax(&logits, &mut probs);
        for c in 0..FLOAT_CLASSES {
            out("f32_logits", s * FLOAT_CLASSES + c, bits(logits[c]));
            out("f32_probs", s * FLOAT_CLASSES + c, bits(probs[c]));
            logit_min = logit_min.min(logits[c]);
            logit_max = logit_max.max(logits[c]);
        }
        out("f32_argmax", s, argmax(&logits) as i64);
    }

    let input = QParams::from_range(-1.0, 1.0);
    let hidden = QParams::from_range(0.0, hidden_max);
    let output = QParams::from_range(logit_min, logit_max);
    // Float layer 1 (the ReLU) ends the first int8 layer, float layer 2 the second.
    convert(&*ws.net, &mut *ws.twin, input, |layer| {
        if layer == 1 { hidden } else { output }
    })?;
    out("twin_params", 0, bits(hidden.scale));
    out("twin_params", 1, i64::from(hidden.zero_point));
    out("twin_params", 2, bits(output.scale));
    out("twin_params", 3, i64::from(output.zero_point));

    let mut twin_scratch = Scratch::<Twin>::ZERO;
    let mut xq = [0i8; FLOAT_IN];
    let mut yq = [0i8; FLOAT_CLASSES];
    for (s, x) in xs.iter().enumerate() {
        input.quantize_slice(x, &mut xq);
        ws.twin.forward(&xq, &mut yq, &mut twin_scratch);
        for (c, &v) in yq.iter().enumerate() {
            out("twin_logits", s * FLOAT_CLASSES + c, i64::from(v));
        }
        out("twin_argmax", s, argmax_i8(&yq) as i64);
    }
    Ok(())
}
