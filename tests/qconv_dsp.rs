//! The Cortex-M4 DSP paths of the int8 convolutions, pools and add, held to the scalar
//! reference on the host, and the checksums the instruction-count firmware checks.
//!
//! `firmnet::quant::kernels::packed` is the arithmetic of those paths, written once: on a
//! `thumbv7em` core each primitive is its DSP instruction, elsewhere an exact portable
//! twin. So the host runs the very blocking, gathering and requantization the Cortex-M4
//! runs, and these tests hold them to the reference kernels bit for bit on awkward shapes.
//! `targets/qemu-cortex-m4/count.sh` runs them on the M4 itself and checks the checksums
//! of [`cnn_kernels::EXPECTED`], which [`expected_checksums_are_the_references`] computes
//! here with the reference kernels.

use firmnet::kernels::{Backend, set_backend};
use firmnet_demo::cnn_kernels::{self as cnn, Workspace};

/// The checksums of the instruction-count layers, computed with the reference kernels,
/// are the ones the firmware checks.
#[test]
fn expected_checksums_are_the_references() {
    set_backend(Backend::Reference);
    let mut ws = Box::new(Workspace::ZERO);
    cnn::fill(&mut ws);
    let mut sums = [0u32; cnn::NAMES.len()];
    for (i, s) in sums.iter_mut().enumerate() {
        cnn::run(&mut ws, i);
        let y = cnn::output(&ws, i);
        *s = cnn::checksum(y);
        let mut seen = [false; 256];
        y.iter().for_each(|&v| seen[v as u8 as usize] = true);
        let distinct = seen.iter().filter(|&&s| s).count();
        assert!(
            distinct >= (y.len() / 3).min(40),
            "{}: only {distinct} distinct outputs",
            cnn::NAMES[i]
        );
    }
    set_backend(Backend::Simd);
    assert_eq!(sums, cnn::EXPECTED, "{sums:#010x?}");
}

// ---------------------------------------------------------------------------------------
// The packed paths against the reference

use firmnet::layers::{Padding, Same, Valid};
use firmnet::prelude::*;
use firmnet::quant::kernels::{packed, reference};
use firmnet::quant::{QConv2d, multiply_by_quantized_multiplier};

/// Random bytes.
fn bytes(rng: &mut Rng, out: &mut [i8]) {
    out.iter_mut().for_each(|v| *v = rng.next_u32() as i8);
}

/// A layer's requantization: Q31 multipliers, shifts that spread the outputs (some
/// saturate), now and then a positive shift or exponent 0 (the general path).
fn requant(rng: &mut Rng, bias: &mut [i32], mult: &mut [i32], shift: &mut [i32], right: i32) {
    for ((b, m), s) in bias.iter_mut().zip(mult.iter_mut()).zip(shift.iter_mut()) {
        *b = (rng.next_u32() as i32) >> 14;
        *m = (1 << 30) + (rng.next_u32() >> 2) as i32;
        *s = match rng.below(16) {
            0 => 1,
            1 => 0,
            _ => -right - rng.below(4) as i32,
        };
    }
}

#[test]
fn requantize_is_multiply_by_quantized_multiplier() {
    let mut rng = Rng::new(3);
    let special = [
        0,
        1,
        -1,
        i32::MAX,
        i32::MIN,
        i32::MIN + 1,
        1 << 30,
        -(1 << 30),
    ];
    for i in 0..400_000u32 {
        let acc = if i % 7 == 0 {
            special[rng.below(8) as usize]
        } else {
            (rng.next_u32() as i32) >> rng.below(32)
        };
        let m = match i % 5 {
            0 => special[rng.below(8) as usize],
            1 => rng.next_u32() as i32,
            _ => (1 << 30) + (rng.next_u32() >> 2) as i32,
        };
        let shift = rng.below(64) as i32 - 32;
        assert_eq!(
            packed::requantize(acc, m, shift),
            multiply_by_quantized_multiplier(acc, m, shift),
            "acc {acc}, m {m}, shift {shift}"
        );
    }
    // Ties of the rounding divide, both signs.
    for e in 1..=31 {
        for acc in [3 << 20, -(3 << 20), 5, -5, 1 << 29, -(1 << 29)] {
            let m = 1 << 30;
            let shift = -e;
            assert_eq!(
                packed::requantize(acc, m, shift),
                multiply_by_quantized_multiplier(acc, m, shift)
            );
        }
    }
}

/// The packed path of one convolution against the reference kernel, on random layers with
/// scratch at every alignment.
fn conv_case<
    const H: usize,
    const W: usize,
    const C: usize,
    const K: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const S: usize,
    P: Padding,
>(
    seed: u64,
) {
    for trial in 0..6 {
        let mut rng = Rng::new(seed * 10 + trial);
        let mut q = Box::new(QConv2d::<H, W, C, K, KH, KW, OH, OW, S, P>::ZERO);
        bytes(
            &mut rng,
            q.weight
                .0
                .as_flattened_mut()
                .as_flattened_mut()
                .as_flattened_mut(),
        );
        let right = 6 + (KH * KW * C).ilog2() as i32 / 2;
        requant(
            &mut rng,
            &mut q.bias,
            &mut q.multiplier,
            &mut q.shift,
            right,
        );
        if trial >= 3 {
            // Every channel's exponent negative: the requantization without its tests.
            q.shift
                .iter_mut()
                .filter(|s| **s >= 0)
                .for_each(|s| *s = -right);
            assert!(packed::short_path(&q.requant()));
        }
        if trial == 5 {
            // A bias too large for `Way::Bounded` (sums may reach 2³⁰): `Short`.
            q.bias[K / 2] = if rng.below(2) == 0 {
                1 << 30
            } else {
                -(1 << 30)
            };
        }
        q.input.zero_point = rng.below(256) as i32 - 128;
        q.output.zero_point = rng.below(40) as i32 - 20;
        let path = packed::Rescale::of(&q.requant(), KH * KW * C);
        match trial {
            3 | 4 => assert_eq!(path.way(), packed::Way::Bounded),
            5 => assert_eq!(path.way(), packed::Way::Short),
            _ => {}
        }
        (q.min, q.max) = if trial == 1 || trial == 4 {
            (q.output.zero_point as i8, 100)
        } else {
            (-128, 127)
        };
        // Input and output 4-byte aligned, as the word paths (1×1 on few channels) need.
        let mut x = Box::new(Aligned([[[0i8; C]; W]; H]));
        bytes(&mut rng, x.0.as_flattened_mut().as_flattened_mut());
        let x = &x.0;
        let mut want = [[[0i8; K]; OW]; OH];
        let mut buf = vec![0i8; 6 * KH * KW * C + 32];
        q.forward_with_kernel(x, &mut want, &mut buf, reference::dense);
        for offset in 0..4 {
            let mut y = Box::new(Aligned([[[0i8; K]; OW]; OH]));
            q.forward_packed(x, &mut y.0, &mut buf[offset..]);
            assert_eq!(
                y.0,
                want,
                "{H}×{W}×{C} → {OH}×{OW}×{K}, {KH}×{KW}, stride {S}, same {}, offset {offset}",
                P::SAME
            );
        }
        // The network entry (the packed path on a Cortex-M4), with its own scratch.
        let mut y = [[[0i8; K]; OW]; OH];
        let mut scratch = Box::new(Scratch::<QConv2d<H, W, C, K, KH, KW, OH, OW, S, P>>::ZERO);
        q.forward(x, &mut y, &mut scratch);
        assert_eq!(y, want);
    }
}

#[test]
fn packed_convolutions_are_the_reference() {
    conv_case::<14, 14, 16, 32, 3, 3, 14, 14, 1, Same>(1);
    conv_case::<5, 3, 64, 64, 1, 1, 5, 3, 1, Same>(2);
    conv_case::<9, 7, 1, 16, 3, 3, 9, 7, 1, Same>(3);
    conv_case::<49, 10, 1, 8, 10, 4, 25, 5, 2, Same>(4);
    conv_case::<49, 10, 1, 8, 10, 4, 20, 4, 2, Valid>(5);
    // Odd channel counts and filter counts, patches that are not multiples of 4.
    conv_case::<7, 5, 3, 5, 3, 3, 7, 5, 1, Same>(6);
    conv_case::<7, 5, 3, 5, 3, 3, 3, 2, 2, Valid>(7);
    conv_case::<9, 7, 3, 6, 3, 3, 5, 4, 2, Same>(8);
    conv_case::<7, 5, 3, 4, 1, 1, 4, 3, 2, Valid>(9);
    conv_case::<6, 6, 8, 1, 1, 1, 6, 6, 1, Same>(10);
    conv_case::<5, 9, 2, 3, 2, 5, 2, 3, 3, Same>(11);
    conv_case::<4, 4, 1, 1, 4, 4, 1, 1, 1, Valid>(12);
    conv_case::<4, 4, 1, 2, 4, 4, 4, 4, 1, Same>(13);
    conv_case::<1, 1, 5, 3, 1, 1, 1, 1, 1, Same>(14);
    // Filters of 27 weights, too many (20 × 28 bytes) to pad on the stack: read by bytes.
    conv_case::<6, 5, 3, 20, 3, 3, 6, 5, 1, Same>(15);
    // 1×1: an odd number of groups of four channels (5, 9), odd filter and pixel counts.
    conv_case::<5, 3, 20, 7, 1, 1, 5, 3, 1, Same>(16);
    conv_case::<7, 5, 36, 9, 1, 1, 4, 3, 2, Valid>(17);
    conv_case::<3, 3, 6, 3, 1, 1, 3, 3, 1, Same>(18);
    // 1×1 on 4, 8, 12 and 16 channels, filters a multiple of 4 (the word path on
    // `Way::Bounded`): odd pixel counts, more than eight groups of four filters.
    conv_case::<5, 3, 8, 16, 1, 1, 5, 3, 1, Same>(19);
    conv_case::<4, 6, 16, 32, 1, 1, 4, 6, 1, Same>(20);
    conv_case::<3, 3, 4, 36, 1, 1, 3, 3, 1, Same>(21);
    conv_case::<1, 1, 12, 8, 1, 1, 1, 1, 1, Same>(22);
    conv_case::<7, 1, 16, 4, 1, 1, 7, 1, 1, Same>(23);
    // Visual wake words' and image classification's first convolutions, smaller: 3×3 on
    // three channels, stride 2 and 1, SAME.
    conv_case::<12, 10, 3, 8, 3, 3, 6, 5, 2, Same>(24);
    conv_case::<9, 8, 3, 16, 3, 3, 9, 8, 1, Same>(25);
}

/// The 1×1 word path holds at the edges of its inputs: every input, weight and zero point
/// −128 or 127, biases at the edge of `Way::Bounded`, a clamp to the zero point.
#[test]
fn pointwise_words_at_the_edges() {
    type Pw = QConv2d<3, 3, 8, 8, 1, 1, 3, 3, 1, Same>;
    for case in 0..4u8 {
        let mut q = Box::new(Pw::ZERO);
        let v: i8 = if case & 1 == 0 { -128 } else { 127 };
        q.weight
            .0
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
            .fill(v);
        let edge = (1 << 30) - (1 << 14) * 8 - 1;
        for (k, ((b, m), s)) in q
            .bias
            .iter_mut()
            .zip(&mut q.multiplier)
            .zip(&mut q.shift)
            .enumerate()
        {
            *b = if k % 2 == 0 { edge } else { -edge };
            *m = if k % 3 == 0 { i32::MAX } else { 1 << 30 };
            *s = -1 - (k as i32 * 4) % 31;
        }
        q.input.zero_point = -128;
        q.output.zero_point = if case & 2 == 0 { -128 } else { 5 };
        (q.min, q.max) = (q.output.zero_point as i8, 127);
        assert_eq!(
            packed::Rescale::of(&q.requant(), 8).way(),
            packed::Way::Bounded
        );
        let mut x = Box::new(Aligned([[[v; 8]; 3]; 3]));
        x.0[1][2] = [-128, 127, -128, 127, 0, -1, 1, -128];
        let mut want = [[[0i8; 8]; 3]; 3];
        q.forward_with_kernel(&x.0, &mut want, &mut [], reference::dense);
        let mut y = Box::new(Aligned([[[0i8; 8]; 3]; 3]));
        q.forward_packed(&x.0, &mut y.0, &mut []);
        assert_eq!(y.0, want, "case {case}");
    }
}

/// `conv_pairs` on `Way::Bounded` gives the bits of `Rescale::GENERAL` at the edges
/// of the bound: sums of `±2¹⁴·n` on biases just inside it, the largest and smallest
/// multipliers and exponents, zero points near ±2²⁸ and a clamp.
#[test]
fn bounded_requantization_holds_at_its_edges() {
    const N: usize = 64;
    const K: usize = 5;
    let room = (1i32 << 30) - (N as i32) * (1 << 14);
    let mut rng = Rng::new(41);
    for trial in 0..400 {
        // Inputs and weights all ±128/127 or random.
        let extreme = trial % 4 != 3;
        let pick = |rng: &mut Rng| -> i8 {
            if extreme {
                if rng.below(2) == 0 { -128 } else { 127 }
            } else {
                rng.next_u32() as i8
            }
        };
        let mut w = packed::WordAligned([0i8; N * K]);
        w.0.iter_mut().for_each(|v| *v = pick(&mut rng));
        let x0: Vec<i8> = (0..N).map(|_| pick(&mut rng)).collect();
        let x1: Vec<i8> = (0..N).map(|_| pick(&mut rng)).collect();
        let bias: Vec<i32> = (0..K)
            .map(|_| match rng.below(4) {
                0 => room - 1,
                1 => 1 - room,
                _ => (rng.next_u32() as i32) >> 3,
            })
            .collect();
        let multiplier: Vec<i32> = (0..K)
            .map(|_| match rng.below(4) {
                0 => i32::MAX,
                1 => 1,
                _ => (1 << 30) + (rng.next_u32() >> 2) as i32,
            })
            .collect();
        let shift: Vec<i32> = (0..K)
            .map(|_| match rng.below(4) {
                0 => -1,
                1 => -31,
                _ => -(rng.below(31) as i32) - 1,
            })
            .collect();
        let zero_point = match rng.below(4) {
            0 => (1 << 28) - 1,
            1 => 1 - (1 << 28),
            _ => rng.below(256) as i32 - 128,
        };
        let (min, max) = if trial % 2 == 0 {
            (-128, 127)
        } else {
            (-5, 90)
        };
        let rq = firmnet::quant::kernels::Requant {
            bias: &bias,
            multiplier: &multiplier,
            shift: &shift,
            zero_point,
            min,
            max,
        };
        assert_eq!(packed::Rescale::of(&rq, N).way(), packed::Way::Bounded);
        let mut wide = vec![0u32; N];
        packed::widen_patch(&x0, &mut wide, 0, true);
        packed::widen_patch(&x1, &mut wide, 1, true);
        let run = |path| {
            let (mut y0, mut y1) = ([0i8; K], [0i8; K]);
            packed::conv_pairs(&w.0, N, &wide, true, &rq, path, &mut y0, &mut y1);
            (y0, y1)
        };
        let got = run(packed::Rescale::of(&rq, N));
        assert_eq!(got, run(packed::Rescale::GENERAL), "trial {trial}");
        // And the reference, output by output.
        for (k, (&g0, &g1)) in got.0.iter().zip(&got.1).enumerate() {
            let row = &w.0[k * N..(k + 1) * N];
            let dot = |x: &[i8]| {
                row.iter()
                    .zip(x)
                    .fold(bias[k], |a, (&w, &x)| a + i32::from(w) * i32::from(x))
            };
            assert_eq!(g0, rq.output(k, dot(&x0)), "trial {trial}, filter {k}");
            assert_eq!(g1, rq.output(k, dot(&x1)), "trial {trial}, filter {k}");
        }
    }
    // Past the bound, the other ways.
    let big = [1 << 30];
    let rq = firmnet::quant::kernels::Requant {
        bias: &big,
        multiplier: &[1 << 30],
        shift: &[-3],
        zero_point: 0,
        min: -128,
        max: 127,
    };
    assert_eq!(packed::Rescale::of(&rq, N).way(), packed::Way::Short);
    let rq = firmnet::quant::kernels::Requant { shift: &[0], ..rq };
    assert_eq!(packed::Rescale::of(&rq, N).way(), packed::Way::General);
}

use firmnet::quant::{Clamp, QGlobalAvgPool, QMaxPool2d, QParams};

/// The packed max pool against the reference loops (the backend switched to the
/// reference), with a clamp, at every shape the tests of `tests/qconv.rs` use and more.
fn max_case<
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const S: usize,
    P: Padding,
>(
    seed: u64,
) {
    let mut rng = Rng::new(seed);
    let p = QParams {
        scale: 0.1,
        zero_point: -3,
    };
    let mut pool = QMaxPool2d::<H, W, C, KH, KW, OH, OW, S, P>::new(p, p, Clamp::None).unwrap();
    for trial in 0..3 {
        (pool.min, pool.max) = [(-128, 127), (-3, 90), (-50, -10)][trial];
        let mut x = Box::new([[[0i8; C]; W]; H]);
        bytes(&mut rng, x.as_flattened_mut().as_flattened_mut());
        let mut want = Box::new([[[0i8; C]; OW]; OH]);
        let mut y = Box::new([[[0i8; C]; OW]; OH]);
        set_backend(Backend::Reference);
        pool.forward_with(&x, &mut want, &mut []);
        set_backend(Backend::Simd);
        pool.forward_packed(&x, &mut y);
        assert_eq!(y, want, "max pool {H}×{W}×{C}, {KH}×{KW}/{S}");
    }
}

fn global_case<const H: usize, const W: usize, const C: usize>(seed: u64) {
    let mut rng = Rng::new(seed);
    let p = QParams {
        scale: 0.1,
        zero_point: 5,
    };
    let mut pool = QGlobalAvgPool::<H, W, C>::new(p, p, Clamp::None).unwrap();
    for trial in 0..4 {
        (pool.min, pool.max) = [(-128, 127), (5, 90), (-50, -10), (-128, 127)][trial];
        let mut x = Box::new([[[0i8; C]; W]; H]);
        bytes(&mut rng, x.as_flattened_mut().as_flattened_mut());
        if trial == 3 {
            // Extremes: the 16-bit lanes at their limits.
            for (i, v) in x
                .as_flattened_mut()
                .as_flattened_mut()
                .iter_mut()
                .enumerate()
            {
                *v = if i % C < C / 2 { -128 } else { 127 };
            }
        }
        let mut want = [0i8; C];
        let mut y = [0i8; C];
        set_backend(Backend::Reference);
        pool.forward_with(&x, &mut want, &mut []);
        set_backend(Backend::Simd);
        pool.forward_packed(&x, &mut y);
        assert_eq!(y, want, "global average {H}×{W}×{C}, trial {trial}");
    }
}

#[test]
fn packed_pools_are_the_reference() {
    max_case::<28, 28, 16, 2, 2, 14, 14, 2, Valid>(1);
    max_case::<7, 5, 4, 3, 3, 4, 3, 2, Same>(2);
    max_case::<7, 5, 3, 3, 3, 4, 3, 2, Same>(3);
    max_case::<9, 9, 8, 3, 3, 4, 4, 2, Valid>(4);
    max_case::<5, 7, 12, 3, 2, 5, 7, 1, Same>(5);
    global_case::<25, 5, 64>(6);
    global_case::<3, 3, 4>(7);
    global_case::<1, 3, 3>(8);
    // More than 256 pixels: the 16-bit lanes are flushed.
    global_case::<23, 29, 8>(9);
    global_case::<32, 32, 4>(10);
}

/// `packed::depthwise_words` on a 3×3 window (five pairs of taps, the unrolled path) with a
/// channel count that is not a multiple of four: every channel is written, and equals the
/// general per-pixel loop's output, on the short and the general requantization.
#[test]
fn depthwise_words_writes_a_partial_last_group() {
    use firmnet::quant::kernels::Requant;
    use firmnet::quant::kernels::packed;
    for c in [1usize, 2, 3, 5, 6, 7, 9] {
        let groups = c.div_ceil(4);
        // Ten taps (the 3×3 window and one of zero weight), each tap's pixel `groups`
        // words of four channels.
        let w: Vec<i8> = (0..10 * c)
            .map(|i| {
                if i < 9 * c {
                    ((i * 37 % 255) as i32 - 127) as i8
                } else {
                    0
                }
            })
            .collect();
        let mut wide = vec![0u32; 5 * 4 * groups * 2];
        packed::widen_depthwise(&w, c, &mut wide);
        let pixels: Vec<Vec<u32>> = (0..10)
            .map(|t| {
                (0..groups)
                    .map(|g| {
                        u32::from_le_bytes(core::array::from_fn(|b| {
                            (t * 29 + g * 7 + b * 53) as u8
                        }))
                    })
                    .collect()
            })
            .collect();
        let taps: Vec<&[u32]> = pixels.iter().map(Vec::as_slice).collect();
        let bias: Vec<i32> = (0..c as i32).map(|i| 1000 * i - 2500).collect();
        let multiplier: Vec<i32> = (0..c as i32)
            .map(|i| 1_200_000_000 + 10_000_000 * i)
            .collect();
        for shift in [-9, 0] {
            let shifts = vec![shift; c];
            let rq = Requant {
                bias: &bias,
                multiplier: &multiplier,
                shift: &shifts,
                zero_point: -3,
                min: -128,
                max: 127,
            };
            let short = packed::short_path(&rq);
            let mut got = vec![0x55u8 as i8; c];
            packed::depthwise_words(&taps, &wide, &rq, short, &mut got);
            let mut want = vec![0x2au8 as i8; c];
            let idx: Vec<u32> = (0..10).collect();
            packed::depthwise_pixel(|t, g| pixels[t as usize][g], &idx, &wide, &rq, &mut want);
            assert_eq!(got, want, "{c} channels, shift {shift}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The paths on doubled sums (`packed`'s sibling `small`): 3×3 depthwise and small patches

use firmnet::quant::QDepthwiseConv2d;
use firmnet::quant::kernels::small;

/// `small::rescale` on a doubled sum is `packed::requantize` plus the zero point,
/// saturated to `i8`, wherever `small::Doubled::fits` admits a layer: `|acc| < 2³⁰`,
/// positive multipliers, exponents −31 to −1, zero points below 2²⁸.
#[test]
fn rescale_of_doubled_sums_is_requantize() {
    let mut rng = Rng::new(17);
    let edges = [0, 1, -1, (1 << 30) - 1, -(1 << 30) + 1, 3 << 20, -(3 << 20)];
    for i in 0..300_000u32 {
        let acc = if i % 5 == 0 {
            edges[rng.below(edges.len() as u32) as usize]
        } else {
            ((rng.next_u32() as i32) >> 2) >> rng.below(30)
        };
        let m = match i % 7 {
            0 => 1,
            1 => i32::MAX,
            2 => 1 << 30,
            _ => (1 + rng.below(u32::MAX / 2)) as i32,
        };
        let shift = -1 - rng.below(31) as i32;
        let z = match i % 3 {
            0 => rng.below(256) as i32 - 128,
            _ => ((rng.next_u32() as i32) >> 4) >> rng.below(28),
        };
        let want = packed::requantize(acc, m, shift)
            .saturating_add(z)
            .clamp(-128, 127);
        let got = small::rescale(2 * acc, m, !shift as u32, 2 * z + 1);
        assert_eq!(got, want, "acc {acc}, m {m}, shift {shift}, z {z}");
    }
}

/// Requantization every layer of these tests takes the doubled path with: random biases,
/// Q31 multipliers and negative exponents.
fn doubled_requant(
    rng: &mut Rng,
    bias: &mut [i32],
    mult: &mut [i32],
    shift: &mut [i32],
    right: i32,
) {
    for ((b, m), s) in bias.iter_mut().zip(mult.iter_mut()).zip(shift.iter_mut()) {
        *b = (rng.next_u32() as i32) >> 16;
        *m = (1 << 30) + (rng.next_u32() >> 2) as i32;
        *s = -right - rng.below(3) as i32;
    }
}

/// A convolution of at most ten values per patch on the doubled path against the
/// reference: random layers (trial 0–2, one with a fused ReLU), then the extremes (trial
/// 3: every weight and input −128, biases at the largest `small::Doubled::fits` admits,
/// and one past it, which takes the other path); the output aligned (words) and one byte
/// off (bytes).
fn small_conv_case<
    const H: usize,
    const W: usize,
    const C: usize,
    const K: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const S: usize,
    P: Padding,
>(
    seed: u64,
) {
    let n = KH * KW * C;
    for trial in 0..5 {
        let mut rng = Rng::new(seed * 10 + trial);
        let mut q = Box::new(QConv2d::<H, W, C, K, KH, KW, OH, OW, S, P>::ZERO);
        let w = q
            .weight
            .0
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut();
        bytes(&mut rng, w);
        let right = 6 + n.ilog2() as i32 / 2;
        doubled_requant(
            &mut rng,
            &mut q.bias,
            &mut q.multiplier,
            &mut q.shift,
            right,
        );
        q.input.zero_point = rng.below(256) as i32 - 128;
        q.output.zero_point = rng.below(40) as i32 - 20;
        (q.min, q.max) = if trial == 1 {
            (q.output.zero_point as i8, 100)
        } else {
            (-128, 127)
        };
        let mut x = [[[0i8; C]; W]; H];
        bytes(&mut rng, x.as_flattened_mut().as_flattened_mut());
        if trial >= 3 {
            let room = (1 << 30) - 1 - (n as i32) * (1 << 14);
            q.weight
                .0
                .as_flattened_mut()
                .as_flattened_mut()
                .as_flattened_mut()
                .fill(-128);
            x.as_flattened_mut().as_flattened_mut().fill(-128);
            q.input.zero_point = -128;
            q.shift.fill(-31);
            q.bias.fill(room + i32::from(trial == 4));
        }
        let rq = q.requant();
        assert_eq!(small::Doubled::fits(&rq, K, n).is_some(), trial != 4);
        let mut want = Box::new([[[0i8; K]; OW]; OH]);
        q.forward_with_kernel(&x, &mut want, &mut [], reference::dense);
        let mut buf = vec![0i8; 6 * n + 32];
        let mut aligned = Box::new(Aligned([[[0i8; K]; OW]; OH]));
        let mut shifted = Box::new(Shifted(0, [[[0i8; K]; OW]; OH]));
        for (y, how) in [(&mut aligned.0, "aligned"), (&mut shifted.1, "shifted")] {
            q.forward_packed(&x, y, &mut buf);
            assert_eq!(
                *y,
                *want,
                "{H}×{W}×{C} → {OH}×{OW}×{K}, {KH}×{KW}, stride {S}, same {}, trial {trial}, {how} output",
                P::SAME
            );
        }
    }
}

/// A value at a 4-byte aligned address.
#[repr(C, align(4))]
struct Aligned<T>(T);

/// A value one byte past a 4-byte aligned address.
#[repr(C, align(4))]
struct Shifted<T>(i8, T);

#[test]
fn small_patches_are_the_reference() {
    // The instruction count's shape; 32 filters (two streams of sixteen); odd sizes and
    // filter counts; stride 2 with both paddings; windows of 8, 9 and 10 values over one,
    // two and three channels.
    small_conv_case::<28, 28, 1, 16, 3, 3, 28, 28, 1, Same>(1);
    small_conv_case::<9, 7, 1, 32, 3, 3, 9, 7, 1, Same>(2);
    small_conv_case::<7, 5, 1, 5, 3, 3, 7, 5, 1, Same>(3);
    small_conv_case::<9, 7, 1, 6, 3, 3, 5, 4, 2, Same>(4);
    small_conv_case::<9, 7, 1, 7, 3, 3, 4, 3, 2, Valid>(5);
    small_conv_case::<5, 6, 2, 9, 2, 2, 5, 6, 1, Same>(6);
    small_conv_case::<6, 5, 3, 4, 1, 3, 6, 5, 1, Same>(7);
    small_conv_case::<7, 4, 2, 3, 5, 1, 2, 2, 2, Valid>(8);
    small_conv_case::<1, 1, 1, 20, 3, 3, 1, 1, 1, Same>(9);
    small_conv_case::<3, 3, 1, 1, 3, 3, 1, 1, 1, Valid>(10);
}

/// A 3×3 depthwise convolution with channels in words on the doubled path against the
/// reference loops, trials as [`small_conv_case`]'s.
fn depthwise_3x3_case<
    const H: usize,
    const W: usize,
    const C: usize,
    const OH: usize,
    const OW: usize,
    const S: usize,
    P: Padding,
>(
    seed: u64,
) {
    type Dw<
        const H: usize,
        const W: usize,
        const C: usize,
        const OH: usize,
        const OW: usize,
        const S: usize,
        P,
    > = QDepthwiseConv2d<H, W, C, 3, 3, OH, OW, S, P>;
    for trial in 0..7 {
        let mut rng = Rng::new(seed * 10 + trial);
        let mut q = Box::new(Dw::<H, W, C, OH, OW, S, P>::ZERO);
        bytes(&mut rng, q.weight.as_flattened_mut().as_flattened_mut());
        doubled_requant(&mut rng, &mut q.bias, &mut q.multiplier, &mut q.shift, 8);
        q.input.zero_point = rng.below(256) as i32 - 128;
        q.output.zero_point = rng.below(40) as i32 - 20;
        (q.min, q.max) = if trial == 1 {
            (q.output.zero_point as i8, 100)
        } else {
            (-128, 127)
        };
        let mut x = Box::new(Aligned([[[0i8; C]; W]; H]));
        bytes(&mut rng, x.0.as_flattened_mut().as_flattened_mut());
        if trial >= 5 {
            // As visual wake words: input zero point −128, a fused ReLU, and weights and
            // inputs at −128 and 127 sprinkled among random ones (trial 6: every one).
            q.input.zero_point = -128;
            (q.min, q.max) = (q.output.zero_point as i8, 127);
            let every = trial == 6;
            for v in q.weight.as_flattened_mut().as_flattened_mut() {
                match rng.below(if every { 2 } else { 6 }) {
                    0 => *v = -128,
                    1 => *v = 127,
                    _ => {}
                }
            }
            for v in x.0.as_flattened_mut().as_flattened_mut() {
                match rng.below(if every { 2 } else { 6 }) {
                    0 => *v = -128,
                    1 => *v = 127,
                    _ => {}
                }
            }
        } else if trial >= 3 {
            let room = (1 << 30) - 1 - 9 * (1 << 14);
            q.weight.as_flattened_mut().as_flattened_mut().fill(-128);
            x.0.as_flattened_mut().as_flattened_mut().fill(-128);
            q.input.zero_point = -128;
            q.shift.fill(-31);
            q.bias.fill(room + i32::from(trial == 4));
        }
        assert_eq!(
            small::Doubled::fits(&q.requant(), C, 9).is_some(),
            trial != 4
        );
        // The layer's footprint holds the widened path's scratch at every offset below.
        let scratch = size_of::<Scratch<Dw<H, W, C, OH, OW, S, P>>>();
        assert!(
            scratch >= pairs_scratch(C, OW, S),
            "{H}×{W}×{C}, stride {S}"
        );
        let mut want = Box::new([[[0i8; C]; OW]; OH]);
        q.forward_reference(&x.0, &mut want);
        let mut buf = vec![0i8; size_of::<Scratch<Dw<H, W, C, OH, OW, S, P>>>()];
        for offset in 0..4 {
            let mut y = Box::new([[[0i8; C]; OW]; OH]);
            q.forward_packed(&x.0, &mut y, &mut buf[offset..]);
            assert_eq!(
                y,
                want,
                "{H}×{W}×{C}, stride {S}, same {}, trial {trial}, scratch offset {offset}",
                P::SAME
            );
        }
    }
}

/// Bytes [`small::depthwise_pairs_row`]'s path needs: its stream and three widened rows,
/// three bytes to align them and three of the test's offset.
fn pairs_scratch(c: usize, ow: usize, s: usize) -> usize {
    4 * c * small::PAIRS_CHANNEL + 12 * small::pairs_len(ow, s) * c + 3 + 3
}

#[test]
fn depthwise_3x3_on_doubled_sums_is_the_reference() {
    depthwise_3x3_case::<25, 5, 64, 25, 5, 1, Same>(1);
    depthwise_3x3_case::<7, 5, 4, 7, 5, 1, Same>(2);
    depthwise_3x3_case::<9, 7, 8, 5, 4, 2, Same>(3);
    depthwise_3x3_case::<8, 6, 12, 4, 3, 2, Same>(4);
    depthwise_3x3_case::<7, 6, 8, 5, 4, 1, Valid>(5);
    depthwise_3x3_case::<7, 8, 4, 3, 3, 2, Valid>(6);
    depthwise_3x3_case::<1, 1, 4, 1, 1, 1, Same>(7);
    depthwise_3x3_case::<2, 9, 16, 2, 9, 1, Same>(8);
    // Visual wake words' depthwise layers (stride 1 and 2, SAME), some of them cut to
    // fewer rows: the rows widened once and kept, every column pair, every channel
    // count its path takes; then odd and even widths and heights, VALID padding, the
    // most channels the widened path takes at each stride and the first it leaves to
    // the other path.
    depthwise_3x3_case::<48, 48, 8, 48, 48, 1, Same>(9);
    depthwise_3x3_case::<12, 48, 16, 6, 24, 2, Same>(10);
    depthwise_3x3_case::<24, 24, 32, 24, 24, 1, Same>(11);
    depthwise_3x3_case::<24, 24, 32, 12, 12, 2, Same>(12);
    depthwise_3x3_case::<12, 12, 64, 12, 12, 1, Same>(13);
    depthwise_3x3_case::<12, 12, 64, 6, 6, 2, Same>(14);
    depthwise_3x3_case::<6, 6, 128, 6, 6, 1, Same>(15);
    depthwise_3x3_case::<6, 6, 128, 3, 3, 2, Same>(16);
    depthwise_3x3_case::<3, 3, 256, 3, 3, 1, Same>(17);
    depthwise_3x3_case::<5, 7, 12, 5, 7, 1, Same>(18);
    depthwise_3x3_case::<6, 8, 4, 3, 4, 2, Same>(19);
    depthwise_3x3_case::<7, 9, 8, 4, 5, 2, Same>(20);
    depthwise_3x3_case::<8, 7, 12, 6, 5, 1, Valid>(21);
    depthwise_3x3_case::<9, 10, 8, 4, 4, 2, Valid>(22);
    depthwise_3x3_case::<4, 3, 340, 4, 3, 1, Same>(23);
    depthwise_3x3_case::<4, 3, 344, 4, 3, 1, Same>(24);
    depthwise_3x3_case::<5, 5, 168, 3, 3, 2, Same>(25);
    depthwise_3x3_case::<5, 5, 172, 3, 3, 2, Same>(26);
    depthwise_3x3_case::<1, 2, 4, 1, 2, 1, Same>(27);
    depthwise_3x3_case::<2, 1, 8, 1, 1, 2, Same>(28);
}
