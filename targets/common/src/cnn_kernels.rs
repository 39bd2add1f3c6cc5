//! The int8 convolutional layers whose instructions the Cortex-M4 counts
//! (`targets/qemu-cortex-m4/src/bin/count_cnn.rs`), on seeded weights and inputs, with a
//! checksum of each output that the firmware and the host (`tests/qconv_dsp.rs`) both hold
//! to [`EXPECTED`]: a fast path that changes one bit fails on either side.
//!
//! | index | layer | work |
//! | ---: | --- | --- |
//! | 0 | `QConv2d` 3×3, 14×14×16 → 14×14×32, SAME | MACs |
//! | 1 | `QConv2d` 1×1, 25×5×64 → 25×5×64 | MACs |
//! | 2 | `QConv2d` 3×3, 28×28×1 → 28×28×16, SAME (one input channel) | MACs |
//! | 3 | `QConv2d` 10×4, stride 2, 49×10×1 → 25×5×64, SAME | MACs |
//! | 4 | `QDepthwiseConv2d` 3×3, 25×5×64, SAME | MACs |
//! | 5 | `QMaxPool2d` 2×2, stride 2, 28×28×16 → 14×14×16 | input elements |
//! | 6 | `QGlobalAvgPool` 25×5×64 → 64 | input elements |
//! | 7 | `QAdd` 16×16×32 | outputs |
//!
//! Everything large lives in [`Workspace`] (about 150 KB), which the firmware keeps in a
//! `static` and the host in a `Box`.

use firmnet::layers::{Same, Valid};
use firmnet::net::{Infer, Scratch};
use firmnet::prelude::*;
use firmnet::quant::{Clamp, QAdd, QConv2d, QDepthwiseConv2d, QGlobalAvgPool, QMaxPool2d, QParams};

/// 3×3, 14×14×16 → 14×14×32, SAME.
pub type Conv3x3 = QConv2d<14, 14, 16, 32, 3, 3, 14, 14, 1, Same>;
/// 1×1, 25×5×64 → 25×5×64.
pub type Conv1x1 = QConv2d<25, 5, 64, 64, 1, 1, 25, 5, 1, Same>;
/// 3×3, 28×28×1 → 28×28×16, SAME.
pub type ConvC1 = QConv2d<28, 28, 1, 16, 3, 3, 28, 28, 1, Same>;
/// 10×4, stride 2, 49×10×1 → 25×5×64, SAME (a keyword-spotting front end).
pub type ConvKws = QConv2d<49, 10, 1, 64, 10, 4, 25, 5, 2, Same>;
/// Depthwise 3×3, 25×5×64, SAME.
pub type Depthwise = QDepthwiseConv2d<25, 5, 64, 3, 3, 25, 5, 1, Same>;
/// Max pool 2×2, stride 2, 28×28×16 → 14×14×16.
pub type MaxPool = QMaxPool2d<28, 28, 16, 2, 2, 14, 14, 2, Valid>;
/// Global average pool 25×5×64 → 64.
pub type GlobalAvg = QGlobalAvgPool<25, 5, 64>;
/// The residual add's operands and output, 16×16×32.
pub type AddMap = [[[i8; 32]; 16]; 16];

/// Names of the eight windows, in order.
pub const NAMES: [&str; 8] = [
    "conv3x3",
    "conv1x1",
    "conv_c1",
    "conv_kws",
    "depthwise",
    "maxpool",
    "avgpool",
    "add",
];

/// The work of each window: multiply-accumulates of the convolutions, input elements of
/// the pools, outputs of the add.
pub const WORK: [u32; 8] = [
    14 * 14 * 32 * 3 * 3 * 16,
    25 * 5 * 64 * 64,
    28 * 28 * 16 * 3 * 3,
    25 * 5 * 64 * 10 * 4,
    25 * 5 * 64 * 3 * 3,
    28 * 28 * 16,
    25 * 5 * 64,
    16 * 16 * 32,
];

/// The FNV-1a checksum of each output for [`fill`]'s values, as the reference kernels
/// compute them.
pub const EXPECTED: [u32; 8] = [
    0xea50_17d5,
    0xfe31_7355,
    0xdc13_d4dd,
    0x77a9_e9a4,
    0x3552_28e2,
    0xb16e_b4cd,
    0xb71e_8625,
    0xd91b_f507,
];

/// The layers, their inputs, outputs and scratch.
pub struct Workspace {
    /// Layer 0.
    pub conv3x3: Conv3x3,
    /// Layer 1.
    pub conv1x1: Conv1x1,
    /// Layer 2.
    pub conv_c1: ConvC1,
    /// Layer 3.
    pub conv_kws: ConvKws,
    /// Layer 4.
    pub depthwise: Depthwise,
    /// Layer 5.
    pub maxpool: MaxPool,
    /// Layer 6.
    pub avgpool: GlobalAvg,
    /// Layer 7.
    pub add: QAdd<AddMap>,
    /// Input of layer 0.
    pub x14: [[[i8; 16]; 14]; 14],
    /// Output of layer 0.
    pub y14: [[[i8; 32]; 14]; 14],
    /// Input of layers 1, 4 and 6.
    pub x25: [[[i8; 64]; 5]; 25],
    /// Output of layers 1, 3 and 4.
    pub y25: [[[i8; 64]; 5]; 25],
    /// Input of layer 2.
    pub x28: [[[i8; 1]; 28]; 28],
    /// Output of layer 2, input of layer 5.
    pub y28: [[[i8; 16]; 28]; 28],
    /// Input of layer 3.
    pub x49: [[[i8; 1]; 10]; 49],
    /// Output of layer 5.
    pub pooled: [[[i8; 16]; 14]; 14],
    /// Output of layer 6.
    pub averages: [i8; 64],
    /// The add's operands and output.
    pub add_io: [AddMap; 3],
    /// Scratch of layer 0.
    pub s0: Scratch<Conv3x3>,
    /// Scratch of layer 1.
    pub s1: Scratch<Conv1x1>,
    /// Scratch of layer 2.
    pub s2: Scratch<ConvC1>,
    /// Scratch of layer 3.
    pub s3: Scratch<ConvKws>,
    /// Scratch of layer 4.
    pub s4: Scratch<Depthwise>,
}

impl Workspace {
    /// All zero; [`fill`] gives it its values.
    pub const ZERO: Workspace = Workspace {
        conv3x3: Conv3x3::ZERO,
        conv1x1: Conv1x1::ZERO,
        conv_c1: ConvC1::ZERO,
        conv_kws: ConvKws::ZERO,
        depthwise: Depthwise::ZERO,
        maxpool: MaxPool::ZERO,
        avgpool: GlobalAvg::ZERO,
        add: QAdd::ZERO,
        x14: [[[0; 16]; 14]; 14],
        y14: [[[0; 32]; 14]; 14],
        x25: [[[0; 64]; 5]; 25],
        y25: [[[0; 64]; 5]; 25],
        x28: [[[0; 1]; 28]; 28],
        y28: [[[0; 16]; 28]; 28],
        x49: [[[0; 1]; 10]; 49],
        pooled: [[[0; 16]; 14]; 14],
        averages: [0; 64],
        add_io: [[[[0; 32]; 16]; 16]; 3],
        s0: Scratch::<Conv3x3>::ZERO,
        s1: Scratch::<Conv1x1>::ZERO,
        s2: Scratch::<ConvC1>::ZERO,
        s3: Scratch::<ConvKws>::ZERO,
        s4: Scratch::<Depthwise>::ZERO,
    };
}

/// Random bytes.
fn bytes(rng: &mut Rng, out: &mut [i8]) {
    out.iter_mut().for_each(|v| *v = rng.next_u32() as i8);
}

/// Per-channel bias (the input zero point folded in, as a conversion does), Q31
/// multipliers in [0.5, 1) and shifts of `−shift` or `−shift − 1`: outputs spread over the
/// int8 range.
fn channels(
    rng: &mut Rng,
    filters: &[i8],
    z_in: i32,
    bias: &mut [i32],
    multiplier: &mut [i32],
    shift: &mut [i32],
    right: i32,
) {
    let taps = filters.len() / bias.len().max(1);
    for (k, ((b, m), s)) in bias.iter_mut().zip(multiplier).zip(shift).enumerate() {
        let sum: i32 = filters
            .iter()
            .skip(k * taps)
            .take(taps)
            .map(|&w| i32::from(w))
            .sum();
        *b = ((rng.next_u32() as i32) >> 18) - z_in * sum;
        *m = (1 << 30) + (rng.next_u32() >> 2) as i32;
        *s = -right - (rng.next_u32() & 1) as i32;
    }
}

/// Quantization of one side of a layer.
fn params(scale: f32, zero_point: i32) -> QParams {
    QParams { scale, zero_point }
}

/// Gives every layer and input its seeded values.
pub fn fill(ws: &mut Workspace) {
    let mut rng = Rng::new(13);
    macro_rules! conv {
        ($layer:expr, $z_in:expr, $z_out:expr, $right:expr, $relu:expr) => {{
            let l = &mut $layer;
            let w = l
                .weight
                .0
                .as_flattened_mut()
                .as_flattened_mut()
                .as_flattened_mut();
            bytes(&mut rng, w);
            let w = l.weight.0.as_flattened().as_flattened().as_flattened();
            channels(
                &mut rng,
                w,
                $z_in,
                &mut l.bias,
                &mut l.multiplier,
                &mut l.shift,
                $right,
            );
            l.input = params(0.05, $z_in);
            l.output = params(0.1, $z_out);
            l.min = if $relu { $z_out as i8 } else { -128 };
        }};
    }
    conv!(ws.conv3x3, -7, 3, 11, true);
    conv!(ws.conv1x1, 4, -9, 10, false);
    conv!(ws.conv_c1, -128, -20, 7, true);
    conv!(ws.conv_kws, 12, 0, 9, false);
    {
        let l = &mut ws.depthwise;
        bytes(&mut rng, l.weight.as_flattened_mut().as_flattened_mut());
        let (z_in, z_out) = (-5, 2);
        for c in 0..64 {
            let sum: i32 = l
                .weight
                .as_flattened()
                .iter()
                .map(|t| i32::from(t[c]))
                .sum();
            l.bias[c] = ((rng.next_u32() as i32) >> 18) - z_in * sum;
            l.multiplier[c] = (1 << 30) + (rng.next_u32() >> 2) as i32;
            l.shift[c] = -7 - (rng.next_u32() & 1) as i32;
        }
        l.input = params(0.05, z_in);
        l.output = params(0.1, z_out);
        l.min = -128;
    }
    let p = params(0.1, -4);
    ws.maxpool.params = p;
    (ws.maxpool.min, ws.maxpool.max) = (-100, 120);
    ws.avgpool.params = p;
    (ws.avgpool.min, ws.avgpool.max) = (-128, 100);
    let added = QAdd::new(
        params(0.05, 3),
        params(0.08, -6),
        params(0.1, -1),
        Clamp::None,
    );
    ws.add = added.unwrap_or(QAdd::ZERO);
    bytes(&mut rng, ws.x14.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.x25.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.x28.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.x49.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.y28.as_flattened_mut().as_flattened_mut());
    for map in ws.add_io.iter_mut().take(2) {
        bytes(&mut rng, map.as_flattened_mut().as_flattened_mut());
    }
}

/// Runs layer `i` (0 to 7) on its input; other `i` do nothing.
#[inline(never)]
pub fn run(ws: &mut Workspace, i: usize) {
    match i {
        0 => ws.conv3x3.forward(&ws.x14, &mut ws.y14, &mut ws.s0),
        1 => ws.conv1x1.forward(&ws.x25, &mut ws.y25, &mut ws.s1),
        2 => ws.conv_c1.forward(&ws.x28, &mut ws.y28, &mut ws.s2),
        3 => ws.conv_kws.forward(&ws.x49, &mut ws.y25, &mut ws.s3),
        4 => ws.depthwise.forward(&ws.x25, &mut ws.y25, &mut ws.s4),
        5 => ws.maxpool.forward_with(&ws.y28, &mut ws.pooled, &mut []),
        6 => ws.avgpool.forward_with(&ws.x25, &mut ws.averages, &mut []),
        7 => {
            let [a, b, y] = &mut ws.add_io;
            ws.add.forward(a, b, y);
        }
        _ => {}
    }
}

/// The output of layer `i` (empty for other `i`).
pub fn output(ws: &Workspace, i: usize) -> &[i8] {
    match i {
        0 => ws.y14.as_flattened().as_flattened(),
        1 | 3 | 4 => ws.y25.as_flattened().as_flattened(),
        2 => ws.y28.as_flattened().as_flattened(),
        5 => ws.pooled.as_flattened().as_flattened(),
        6 => &ws.averages,
        7 => ws.add_io[2].as_flattened().as_flattened(),
        _ => &[],
    }
}

/// FNV-1a over the bytes.
pub fn checksum(v: &[i8]) -> u32 {
    v.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b as u8)).wrapping_mul(0x0100_0193)
    })
}
