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
//! | 8 | `QDepthwiseConv2d` 3×3, 48×48×8, SAME, ReLU (visual wake words) | MACs |
//! | 9 | `QDepthwiseConv2d` 3×3, stride 2, 24×24×32 → 12×12×32, SAME, ReLU | MACs |
//! | 10 | `QDepthwiseConv2d` 3×3, 6×6×128, SAME, ReLU | MACs |
//! | 11 | `QConv2d` 3×3, stride 2, 96×96×3 → 48×48×8, SAME, ReLU (visual wake words' first) | MACs |
//! | 12 | `QConv2d` 1×1, 48×48×8 → 48×48×16, ReLU (visual wake words) | MACs |
//! | 13 | `QConv2d` 1×1, 24×24×16 → 24×24×32, ReLU (visual wake words) | MACs |
//! | 14 | `QConv2d` 3×3, 32×32×3 → 32×32×16, SAME, ReLU (image classification's first) | MACs |
//!
//! Everything large lives in [`Workspace`] (about 230 KB), which the firmware keeps in a
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
/// Depthwise 3×3, 48×48×8, SAME (visual wake words' first).
pub type DwVww48 = QDepthwiseConv2d<48, 48, 8, 3, 3, 48, 48, 1, Same>;
/// Depthwise 3×3, stride 2, 24×24×32 → 12×12×32, SAME.
pub type DwVww24s2 = QDepthwiseConv2d<24, 24, 32, 3, 3, 12, 12, 2, Same>;
/// Depthwise 3×3, 6×6×128, SAME.
pub type DwVww6 = QDepthwiseConv2d<6, 6, 128, 3, 3, 6, 6, 1, Same>;
/// Visual wake words' first convolution: 3×3, stride 2, 96×96×3 → 48×48×8, SAME.
pub type VwwConv0 = QConv2d<96, 96, 3, 8, 3, 3, 48, 48, 2, Same>;
/// A visual wake words pointwise convolution: 48×48×8 → 48×48×16.
pub type Pw8x16 = QConv2d<48, 48, 8, 16, 1, 1, 48, 48, 1, Same>;
/// A visual wake words pointwise convolution: 24×24×16 → 24×24×32.
pub type Pw16x32 = QConv2d<24, 24, 16, 32, 1, 1, 24, 24, 1, Same>;
/// Image classification's first convolution: 3×3, 32×32×3 → 32×32×16, SAME.
pub type IcConv0 = QConv2d<32, 32, 3, 16, 3, 3, 32, 32, 1, Same>;
/// Max pool 2×2, stride 2, 28×28×16 → 14×14×16.
pub type MaxPool = QMaxPool2d<28, 28, 16, 2, 2, 14, 14, 2, Valid>;
/// Global average pool 25×5×64 → 64.
pub type GlobalAvg = QGlobalAvgPool<25, 5, 64>;
/// The residual add's operands and output, 16×16×32.
pub type AddMap = [[[i8; 32]; 16]; 16];

/// Names of the windows, in order.
pub const NAMES: [&str; 15] = [
    "conv3x3",
    "conv1x1",
    "conv_c1",
    "conv_kws",
    "depthwise",
    "maxpool",
    "avgpool",
    "add",
    "dw48x8",
    "dw24x32s2",
    "dw6x128",
    "vww_conv0",
    "pw8x16",
    "pw16x32",
    "ic_conv0",
];

/// The work of each window: multiply-accumulates of the convolutions, input elements of
/// the pools, outputs of the add.
pub const WORK: [u32; 15] = [
    14 * 14 * 32 * 3 * 3 * 16,
    25 * 5 * 64 * 64,
    28 * 28 * 16 * 3 * 3,
    25 * 5 * 64 * 10 * 4,
    25 * 5 * 64 * 3 * 3,
    28 * 28 * 16,
    25 * 5 * 64,
    16 * 16 * 32,
    48 * 48 * 8 * 3 * 3,
    12 * 12 * 32 * 3 * 3,
    6 * 6 * 128 * 3 * 3,
    48 * 48 * 8 * 3 * 3 * 3,
    48 * 48 * 16 * 8,
    24 * 24 * 32 * 16,
    32 * 32 * 16 * 3 * 3 * 3,
];

/// The FNV-1a checksum of each output for [`fill`]'s values, as the reference kernels
/// compute them.
pub const EXPECTED: [u32; 15] = [
    0xea50_17d5,
    0xfe31_7355,
    0xdc13_d4dd,
    0x77a9_e9a4,
    0x3552_28e2,
    0xb16e_b4cd,
    0xb71e_8625,
    0xd91b_f507,
    0x24dc_0015,
    0xb4db_32a8,
    0x8df4_d39e,
    0x4128_063d,
    0xafb1_c8bb,
    0x7bba_263b,
    0x3667_0eee,
];

/// A value at a 4-byte aligned address (the word paths read and write maps a word at a
/// time), whatever the sizes of the fields around it.
#[repr(C, align(4))]
pub struct Words<T>(pub T);

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
    /// Layer 8.
    pub dw48: DwVww48,
    /// Layer 9.
    pub dw24: DwVww24s2,
    /// Layer 10.
    pub dw6: DwVww6,
    /// Input of layer 8.
    pub x48: Words<[[[i8; 8]; 48]; 48]>,
    /// Output of layer 8.
    pub y48: Words<[[[i8; 8]; 48]; 48]>,
    /// Input of layer 9.
    pub x24: Words<[[[i8; 32]; 24]; 24]>,
    /// Output of layer 9.
    pub y12: Words<[[[i8; 32]; 12]; 12]>,
    /// Input of layer 10.
    pub x6: Words<[[[i8; 128]; 6]; 6]>,
    /// Output of layer 10.
    pub y6: Words<[[[i8; 128]; 6]; 6]>,
    /// Scratch of layer 8.
    pub s8: Words<Scratch<DwVww48>>,
    /// Scratch of layer 9.
    pub s9: Words<Scratch<DwVww24s2>>,
    /// Scratch of layer 10.
    pub s10: Words<Scratch<DwVww6>>,
    /// Input of layer 0.
    pub x14: Words<[[[i8; 16]; 14]; 14]>,
    /// Output of layer 0.
    pub y14: Words<[[[i8; 32]; 14]; 14]>,
    /// Input of layers 1, 4 and 6.
    pub x25: Words<[[[i8; 64]; 5]; 25]>,
    /// Output of layers 1, 3 and 4.
    pub y25: Words<[[[i8; 64]; 5]; 25]>,
    /// Input of layer 2.
    pub x28: Words<[[[i8; 1]; 28]; 28]>,
    /// Output of layer 2, input of layer 5.
    pub y28: Words<[[[i8; 16]; 28]; 28]>,
    /// Input of layer 3.
    pub x49: Words<[[[i8; 1]; 10]; 49]>,
    /// Output of layer 5.
    pub pooled: Words<[[[i8; 16]; 14]; 14]>,
    /// Output of layer 6.
    pub averages: Words<[i8; 64]>,
    /// The add's operands and output.
    pub add_io: Words<[AddMap; 3]>,
    /// Scratch of layer 0.
    pub s0: Words<Scratch<Conv3x3>>,
    /// Scratch of layer 1.
    pub s1: Words<Scratch<Conv1x1>>,
    /// Scratch of layer 2.
    pub s2: Words<Scratch<ConvC1>>,
    /// Scratch of layer 3.
    pub s3: Words<Scratch<ConvKws>>,
    /// Scratch of layer 4.
    pub s4: Words<Scratch<Depthwise>>,
    /// Layer 11.
    pub vww0: VwwConv0,
    /// Layer 12.
    pub pw8: Pw8x16,
    /// Layer 13.
    pub pw16: Pw16x32,
    /// Layer 14.
    pub ic0: IcConv0,
    /// Input of layer 11 (its output is `y48`).
    pub x96: Words<[[[i8; 3]; 96]; 96]>,
    /// Output of layer 12 (its input is `x48`).
    pub y48x16: Words<[[[i8; 16]; 48]; 48]>,
    /// Input of layer 13.
    pub x24x16: Words<[[[i8; 16]; 24]; 24]>,
    /// Output of layer 13.
    pub y24x32: Words<[[[i8; 32]; 24]; 24]>,
    /// Input of layer 14.
    pub x32: Words<[[[i8; 3]; 32]; 32]>,
    /// Output of layer 14.
    pub y32: Words<[[[i8; 16]; 32]; 32]>,
    /// Scratch of layer 11.
    pub s11: Words<Scratch<VwwConv0>>,
    /// Scratch of layer 12.
    pub s12: Words<Scratch<Pw8x16>>,
    /// Scratch of layer 13.
    pub s13: Words<Scratch<Pw16x32>>,
    /// Scratch of layer 14.
    pub s14: Words<Scratch<IcConv0>>,
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
        dw48: DwVww48::ZERO,
        dw24: DwVww24s2::ZERO,
        dw6: DwVww6::ZERO,
        x48: Words([[[0; 8]; 48]; 48]),
        y48: Words([[[0; 8]; 48]; 48]),
        x24: Words([[[0; 32]; 24]; 24]),
        y12: Words([[[0; 32]; 12]; 12]),
        x6: Words([[[0; 128]; 6]; 6]),
        y6: Words([[[0; 128]; 6]; 6]),
        s8: Words(Scratch::<DwVww48>::ZERO),
        s9: Words(Scratch::<DwVww24s2>::ZERO),
        s10: Words(Scratch::<DwVww6>::ZERO),
        x14: Words([[[0; 16]; 14]; 14]),
        y14: Words([[[0; 32]; 14]; 14]),
        x25: Words([[[0; 64]; 5]; 25]),
        y25: Words([[[0; 64]; 5]; 25]),
        x28: Words([[[0; 1]; 28]; 28]),
        y28: Words([[[0; 16]; 28]; 28]),
        x49: Words([[[0; 1]; 10]; 49]),
        pooled: Words([[[0; 16]; 14]; 14]),
        averages: Words([0; 64]),
        add_io: Words([[[[0; 32]; 16]; 16]; 3]),
        s0: Words(Scratch::<Conv3x3>::ZERO),
        s1: Words(Scratch::<Conv1x1>::ZERO),
        s2: Words(Scratch::<ConvC1>::ZERO),
        s3: Words(Scratch::<ConvKws>::ZERO),
        s4: Words(Scratch::<Depthwise>::ZERO),
        vww0: VwwConv0::ZERO,
        pw8: Pw8x16::ZERO,
        pw16: Pw16x32::ZERO,
        ic0: IcConv0::ZERO,
        x96: Words([[[0; 3]; 96]; 96]),
        y48x16: Words([[[0; 16]; 48]; 48]),
        x24x16: Words([[[0; 16]; 24]; 24]),
        y24x32: Words([[[0; 32]; 24]; 24]),
        x32: Words([[[0; 3]; 32]; 32]),
        y32: Words([[[0; 16]; 32]; 32]),
        s11: Words(Scratch::<VwwConv0>::ZERO),
        s12: Words(Scratch::<Pw8x16>::ZERO),
        s13: Words(Scratch::<Pw16x32>::ZERO),
        s14: Words(Scratch::<IcConv0>::ZERO),
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

/// Seeded weights, biases (the input zero point `z_in` folded in, random values `>> wide`
/// on top) and requantization (shifts of `−right` or `−right − 1`) of a depthwise 3×3
/// layer with per-channel multipliers, a fused ReLU if `relu`.
fn depthwise<
    const H: usize,
    const W: usize,
    const C: usize,
    const OH: usize,
    const OW: usize,
    const S: usize,
>(
    rng: &mut Rng,
    l: &mut QDepthwiseConv2d<H, W, C, 3, 3, OH, OW, S, Same>,
    (z_in, z_out): (i32, i32),
    wide: u32,
    right: i32,
    relu: bool,
) {
    bytes(rng, l.weight.as_flattened_mut().as_flattened_mut());
    for c in 0..C {
        let sum: i32 = l
            .weight
            .as_flattened()
            .iter()
            .map(|t| i32::from(t[c]))
            .sum();
        l.bias[c] = ((rng.next_u32() as i32) >> wide) - z_in * sum;
        l.multiplier[c] = (1 << 30) + (rng.next_u32() >> 2) as i32;
        l.shift[c] = -right - (rng.next_u32() & 1) as i32;
    }
    l.input = params(0.05, z_in);
    l.output = params(0.1, z_out);
    l.min = if relu { z_out as i8 } else { -128 };
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
    depthwise(&mut rng, &mut ws.depthwise, (-5, 2), 18, 7, false);
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
    bytes(&mut rng, ws.x14.0.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.x25.0.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.x28.0.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.x49.0.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.y28.0.as_flattened_mut().as_flattened_mut());
    for map in ws.add_io.0.iter_mut().take(2) {
        bytes(&mut rng, map.as_flattened_mut().as_flattened_mut());
    }
    // As visual wake words: input zero point −128, a fused ReLU.
    depthwise(&mut rng, &mut ws.dw48, (-128, -20), 17, 8, true);
    depthwise(&mut rng, &mut ws.dw24, (-128, -35), 17, 8, true);
    depthwise(&mut rng, &mut ws.dw6, (-128, -10), 17, 8, true);
    bytes(&mut rng, ws.x48.0.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.x24.0.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.x6.0.as_flattened_mut().as_flattened_mut());
    // As visual wake words and image classification: input zero point −128, ReLU.
    conv!(ws.vww0, -128, -30, 8, true);
    conv!(ws.pw8, -128, -25, 8, true);
    conv!(ws.pw16, -128, -40, 9, true);
    conv!(ws.ic0, -128, -15, 8, true);
    bytes(&mut rng, ws.x96.0.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.x24x16.0.as_flattened_mut().as_flattened_mut());
    bytes(&mut rng, ws.x32.0.as_flattened_mut().as_flattened_mut());
}

/// Runs layer `i` (0 to 14) on its input; other `i` do nothing.
#[inline(never)]
pub fn run(ws: &mut Workspace, i: usize) {
    match i {
        0 => ws.conv3x3.forward(&ws.x14.0, &mut ws.y14.0, &mut ws.s0.0),
        1 => ws.conv1x1.forward(&ws.x25.0, &mut ws.y25.0, &mut ws.s1.0),
        2 => ws.conv_c1.forward(&ws.x28.0, &mut ws.y28.0, &mut ws.s2.0),
        3 => ws.conv_kws.forward(&ws.x49.0, &mut ws.y25.0, &mut ws.s3.0),
        4 => ws.depthwise.forward(&ws.x25.0, &mut ws.y25.0, &mut ws.s4.0),
        5 => ws
            .maxpool
            .forward_with(&ws.y28.0, &mut ws.pooled.0, &mut []),
        6 => ws
            .avgpool
            .forward_with(&ws.x25.0, &mut ws.averages.0, &mut []),
        7 => {
            let [a, b, y] = &mut ws.add_io.0;
            ws.add.forward(a, b, y);
        }
        8 => ws.dw48.forward(&ws.x48.0, &mut ws.y48.0, &mut ws.s8.0),
        9 => ws.dw24.forward(&ws.x24.0, &mut ws.y12.0, &mut ws.s9.0),
        10 => ws.dw6.forward(&ws.x6.0, &mut ws.y6.0, &mut ws.s10.0),
        11 => ws.vww0.forward(&ws.x96.0, &mut ws.y48.0, &mut ws.s11.0),
        12 => ws.pw8.forward(&ws.x48.0, &mut ws.y48x16.0, &mut ws.s12.0),
        13 => ws
            .pw16
            .forward(&ws.x24x16.0, &mut ws.y24x32.0, &mut ws.s13.0),
        14 => ws.ic0.forward(&ws.x32.0, &mut ws.y32.0, &mut ws.s14.0),
        _ => {}
    }
}

/// The output of layer `i` (empty for other `i`).
pub fn output(ws: &Workspace, i: usize) -> &[i8] {
    match i {
        0 => ws.y14.0.as_flattened().as_flattened(),
        1 | 3 | 4 => ws.y25.0.as_flattened().as_flattened(),
        2 => ws.y28.0.as_flattened().as_flattened(),
        5 => ws.pooled.0.as_flattened().as_flattened(),
        6 => &ws.averages.0,
        7 => ws.add_io.0[2].as_flattened().as_flattened(),
        8 | 11 => ws.y48.0.as_flattened().as_flattened(),
        9 => ws.y12.0.as_flattened().as_flattened(),
        10 => ws.y6.0.as_flattened().as_flattened(),
        12 => ws.y48x16.0.as_flattened().as_flattened(),
        13 => ws.y24x32.0.as_flattened().as_flattened(),
        14 => ws.y32.0.as_flattened().as_flattened(),
        _ => &[],
    }
}

/// FNV-1a over the bytes.
pub fn checksum(v: &[i8]) -> u32 {
    v.iter().fold(0x811c_9dc5, |h, &b| {
        (h ^ u32::from(b as u8)).wrapping_mul(0x0100_0193)
    })
}
