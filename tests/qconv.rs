//! Int8 convolutions, pools and the residual add against TensorFlow Lite's reference
//! kernels, written here a second time in plain `i64` arithmetic with their own padding
//! rule; every kernel path the host runs, bit for bit; the conversions from float within
//! their quantization error; the layers' descriptions, files and networks.

// Index loops mirror the formulas they check.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]

use firmnet::layers::{Padding, Same, Valid};
use firmnet::prelude::*;
use firmnet::quant::kernels::{Requant, reference};
use firmnet::quant::{
    BnFold, Clamp, DenseConversion, QAdd, QAvgPool2d, QConv2d, QDense, QDepthwiseConv2d, QFlatten,
    QGlobalAvgPool, QLayer, QMaxPool2d, QParams, QuantError, quantize_multiplier,
};
use firmnet::spec::{Attr, LayerData, Primitive};

// ---------------------------------------------------------------------------------------
// TensorFlow Lite's fixed-point arithmetic, independently

/// `SaturatingRoundingDoublingHighMul`: `a·b/2³¹` rounded half up, saturating.
fn srdhm(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    (i64::from(a) * i64::from(b) + (1 << 30)).div_euclid(1 << 31) as i32
}

/// `RoundingDivideByPOT`: `x/2^e` rounded half away from zero.
fn rdbp(x: i32, e: i32) -> i32 {
    if e == 0 {
        return x;
    }
    let magnitude = (i64::from(x).abs() + (1i64 << (e - 1))) >> e;
    (i64::from(x).signum() * magnitude) as i32
}

/// `MultiplyByQuantizedMultiplier`, the left shift saturating at the `i32` range.
fn mbqm(acc: i64, m: i32, shift: i32) -> i64 {
    let left = shift.max(0);
    let x = (acc << left).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    i64::from(rdbp(srdhm(x, m), (-shift).max(0)))
}

/// `QuantizeMultiplier`: `real = q·2^(e−31)`, `q ∈ [2³⁰, 2³¹)`.
fn quantize_multiplier_ref(real: f64) -> (i32, i32) {
    let mut e = real.log2().floor() as i32 + 1;
    let mut q = real / 2f64.powi(e);
    while q >= 1.0 {
        q /= 2.0;
        e += 1;
    }
    while q < 0.5 {
        q *= 2.0;
        e -= 1;
    }
    let mut fixed = (q * 2f64.powi(31)).round() as i64;
    if fixed == 1 << 31 {
        fixed /= 2;
        e += 1;
    }
    (fixed as i32, e)
}

/// TensorFlow Lite's output size and padding before (`ComputeOutSize`,
/// `ComputePaddingWithOffset`), written as there.
#[allow(clippy::manual_div_ceil)]
fn out_and_pad(n: usize, k: usize, stride: usize, same: bool) -> (usize, i64) {
    let out = if same {
        (n + stride - 1) / stride
    } else {
        (n + stride - k) / stride
    };
    let total = ((out as i64 - 1) * stride as i64 + k as i64 - n as i64).max(0);
    (out, total / 2)
}

/// The geometry of a windowed layer.
#[derive(Clone, Copy, Debug)]
struct Geo {
    h: usize,
    w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    same: bool,
}

impl Geo {
    /// `(oh, ow, pad_top, pad_left)`.
    fn out(&self) -> (usize, usize, i64, i64) {
        let (oh, pt) = out_and_pad(self.h, self.kh, self.stride, self.same);
        let (ow, pl) = out_and_pad(self.w, self.kw, self.stride, self.same);
        (oh, ow, pt, pl)
    }

    /// The input position of tap `(ky, kx)` of output `(oy, ox)`, if inside.
    fn at(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        let (_, _, pt, pl) = self.out();
        let iy = (oy * self.stride + ky) as i64 - pt;
        let ix = (ox * self.stride + kx) as i64 - pl;
        ((0..self.h as i64).contains(&iy) && (0..self.w as i64).contains(&ix))
            .then_some((iy as usize, ix as usize))
    }
}

/// Per-channel requantization parameters of a reference kernel.
struct Out<'a> {
    bias: &'a [i32],
    mult: &'a [i32],
    shift: &'a [i32],
    z_in: i32,
    z_out: i32,
    min: i8,
    max: i8,
}

impl Out<'_> {
    fn finish(&self, ch: usize, acc: i64) -> i8 {
        let acc = acc + i64::from(self.bias[ch]);
        assert!(i32::try_from(acc).is_ok(), "the case overflows int32");
        let v = mbqm(acc, self.mult[ch], self.shift[ch]) + i64::from(self.z_out);
        v.clamp(i64::from(self.min), i64::from(self.max)) as i8
    }
}

/// `reference_integer_ops::ConvPerChannel`: HWC input, OHWI filters, the raw bias.
fn conv_reference(x: &[i8], g: Geo, k_out: usize, w: &[i8], q: &Out<'_>) -> Vec<i8> {
    let (oh, ow, _, _) = g.out();
    let mut y = vec![0i8; oh * ow * k_out];
    for oy in 0..oh {
        for ox in 0..ow {
            for k in 0..k_out {
                let mut acc = 0i64;
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let Some((iy, ix)) = g.at(oy, ox, ky, kx) else {
                            continue;
                        };
                        for c in 0..g.c {
                            let xv = i64::from(x[(iy * g.w + ix) * g.c + c]);
                            let wv = i64::from(w[((k * g.kh + ky) * g.kw + kx) * g.c + c]);
                            acc += wv * (xv - i64::from(q.z_in));
                        }
                    }
                }
                y[(oy * ow + ox) * k_out + k] = q.finish(k, acc);
            }
        }
    }
    y
}

/// `reference_integer_ops::DepthwiseConvPerChannel` with depth multiplier 1.
fn depthwise_reference(x: &[i8], g: Geo, w: &[i8], q: &Out<'_>) -> Vec<i8> {
    let (oh, ow, _, _) = g.out();
    let mut y = vec![0i8; oh * ow * g.c];
    for oy in 0..oh {
        for ox in 0..ow {
            for c in 0..g.c {
                let mut acc = 0i64;
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        if let Some((iy, ix)) = g.at(oy, ox, ky, kx) {
                            let xv = i64::from(x[(iy * g.w + ix) * g.c + c]);
                            let wv = i64::from(w[(ky * g.kw + kx) * g.c + c]);
                            acc += wv * (xv - i64::from(q.z_in));
                        }
                    }
                }
                y[(oy * ow + ox) * g.c + c] = q.finish(c, acc);
            }
        }
    }
    y
}

/// `reference_integer_ops::MaxPool` (`max = false`: `AveragePool`).
fn pool_reference(x: &[i8], g: Geo, max: bool, lo: i8, hi: i8) -> Vec<i8> {
    let (oh, ow, _, _) = g.out();
    let mut y = vec![0i8; oh * ow * g.c];
    for oy in 0..oh {
        for ox in 0..ow {
            for c in 0..g.c {
                let (mut best, mut sum, mut count) = (i64::from(i8::MIN), 0i64, 0i64);
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        if let Some((iy, ix)) = g.at(oy, ox, ky, kx) {
                            let v = i64::from(x[(iy * g.w + ix) * g.c + c]);
                            best = best.max(v);
                            sum += v;
                            count += 1;
                        }
                    }
                }
                assert!(count > 0);
                let v = if max {
                    best
                } else if sum > 0 {
                    (sum + count / 2) / count
                } else {
                    (sum - count / 2) / count
                };
                y[(oy * ow + ox) * g.c + c] = v.clamp(i64::from(lo), i64::from(hi)) as i8;
            }
        }
    }
    y
}

/// The int8 `Add`: `QuantizeMultiplierSmallerThanOneExp` of the three ratios, then the
/// element's arithmetic.
fn add_reference(a: i8, b: i8, pa: QParams, pb: QParams, po: QParams, lo: i8, hi: i8) -> i8 {
    let twice = 2.0 * f64::from(pa.scale.max(pb.scale));
    let (ma, ea) = quantize_multiplier_ref(f64::from(pa.scale) / twice);
    let (mb, eb) = quantize_multiplier_ref(f64::from(pb.scale) / twice);
    let (mo, eo) = quantize_multiplier_ref(twice / (f64::from(po.scale) * f64::from(1 << 20)));
    assert!(ea <= 0 && eb <= 0 && eo <= 0);
    let a = (i64::from(a) - i64::from(pa.zero_point)) << 20;
    let b = (i64::from(b) - i64::from(pb.zero_point)) << 20;
    let sum = mbqm(a, ma, ea) + mbqm(b, mb, eb);
    let v = mbqm(sum, mo, eo) + i64::from(po.zero_point);
    v.clamp(i64::from(lo), i64::from(hi)) as i8
}

// ---------------------------------------------------------------------------------------
// Random cases

/// The values of a tensor, in order.
fn flat<T: Tensor>(t: &T) -> &[T::Elem] {
    t.as_slice()
}

/// The values of a tensor, in order, mutably.
fn flat_mut<T: Tensor>(t: &mut T) -> &mut [T::Elem] {
    t.as_mut_slice()
}

/// Random int8 values over the whole range, with a share of the extremes −128 and 127.
fn bytes(rng: &mut Rng, out: &mut [i8]) {
    for v in out {
        *v = match rng.below(10) {
            0 => -128,
            1 => 127,
            _ => rng.next_u32() as i8,
        };
    }
}

/// Requantization parameters of `n` channels for sums of `taps` products: biases and
/// multipliers that spread the outputs over the int8 range (a product of two random bytes
/// has a standard deviation near 74² ≈ 5500); after trial 0, some channels that saturate
/// (with a positive shift).
fn channels(rng: &mut Rng, n: usize, taps: usize, trial: u64) -> (Vec<i32>, Vec<i32>, Vec<i32>) {
    let spread = 5500.0 * (taps as f32).sqrt();
    let base = 40.0 / f64::from(spread);
    let (mut bias, mut mult, mut shift) = (vec![], vec![], vec![]);
    for _ in 0..n {
        bias.push((spread * rng.normal()) as i32);
        let real = if trial > 0 && rng.below(8) == 0 {
            3.0 + f64::from(rng.next_f32())
        } else {
            base * 2f64.powf(2.0 * f64::from(rng.next_f32()) - 1.0)
        };
        let (m, s) = quantize_multiplier(real);
        mult.push(m);
        shift.push(s);
    }
    (bias, mult, shift)
}

/// Zero points and clamp bounds; trial 0 the whole range, and an output zero point near
/// the middle.
fn io(rng: &mut Rng, trial: u64) -> (i32, i32, i8, i8) {
    let z_in = rng.next_u32() as i8 as i32;
    let mut z_out = rng.next_u32() as i8 as i32;
    if trial == 0 {
        z_out /= 4;
    }
    let (mut lo, mut hi) = (rng.next_u32() as i8, rng.next_u32() as i8);
    if lo > hi {
        (lo, hi) = (hi, lo);
    }
    if trial == 0 {
        (lo, hi) = (-128, 127);
    }
    (z_in, z_out, lo, hi)
}

fn distinct(v: &[i8]) -> usize {
    let mut seen = [false; 256];
    v.iter().for_each(|&b| seen[b as u8 as usize] = true);
    seen.iter().filter(|&&s| s).count()
}

/// Every way a convolution runs — the network entry (the selected kernel path), the
/// reference kernel, every SIMD level, a misaligned patch, no scratch (direct loops) — and
/// the independent reference, on random cases.
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
    let g = Geo {
        h: H,
        w: W,
        c: C,
        kh: KH,
        kw: KW,
        stride: S,
        same: P::SAME,
    };
    assert_eq!(g.out().0, OH);
    assert_eq!(g.out().1, OW);
    type Conv<
        const H: usize,
        const W: usize,
        const C: usize,
        const K: usize,
        const KH: usize,
        const KW: usize,
        const OH: usize,
        const OW: usize,
        const S: usize,
        P,
    > = QConv2d<H, W, C, K, KH, KW, OH, OW, S, P>;
    for trial in 0..4 {
        let mut rng = Rng::new(seed * 100 + trial);
        let mut q = Box::new(Conv::<H, W, C, K, KH, KW, OH, OW, S, P>::ZERO);
        bytes(
            &mut rng,
            q.weight
                .0
                .as_flattened_mut()
                .as_flattened_mut()
                .as_flattened_mut(),
        );
        let (raw, mult, shift) = channels(&mut rng, K, KH * KW * C, trial);
        let (z_in, z_out, lo, hi) = io(&mut rng, trial);
        for k in 0..K {
            let sum: i32 = q.weight.0[k]
                .as_flattened()
                .as_flattened()
                .iter()
                .map(|&w| i32::from(w))
                .sum();
            q.bias[k] = raw[k] - z_in * sum;
        }
        q.multiplier.copy_from_slice(&mult);
        q.shift.copy_from_slice(&shift);
        q.input.zero_point = z_in;
        q.output.zero_point = z_out;
        (q.min, q.max) = (lo, hi);
        let mut x = [[[0i8; C]; W]; H];
        bytes(&mut rng, flat_mut(&mut x));
        let out = Out {
            bias: &raw,
            mult: &mult,
            shift: &shift,
            z_in,
            z_out,
            min: lo,
            max: hi,
        };
        let want = conv_reference(
            flat(&x),
            g,
            K,
            q.weight.0.as_flattened().as_flattened().as_flattened(),
            &out,
        );
        if trial == 0 {
            assert!(
                distinct(&want) >= (want.len() / 2).min(12),
                "a case that tests little: {want:?}"
            );
        }
        let name = format!(
            "{H}×{W}×{C} → {OH}×{OW}×{K}, {KH}×{KW}, stride {S}, same {}",
            P::SAME
        );
        let mut y = [[[0i8; K]; OW]; OH];
        let mut scratch = Box::new(Scratch::<Conv<H, W, C, K, KH, KW, OH, OW, S, P>>::ZERO);
        q.forward(&x, &mut y, &mut scratch);
        assert_eq!(flat(&y), &want[..], "{name}: selected path");
        let mut y = [[[0i8; K]; OW]; OH];
        q.forward_with(&x, &mut y, &mut []);
        assert_eq!(flat(&y), &want[..], "{name}: direct loops");
        let mut buf = vec![0i8; KH * KW * C + 8];
        for offset in 0..4 {
            let mut y = [[[0i8; K]; OW]; OH];
            q.forward_with_kernel(&x, &mut y, &mut buf[offset..], reference::dense);
            assert_eq!(
                flat(&y),
                &want[..],
                "{name}: reference kernel, offset {offset}"
            );
        }
        #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
        for simd in firmnet::kernels::simd::Simd::available() {
            for offset in [0, 1] {
                let mut y = [[[0i8; K]; OW]; OH];
                let kernel = |w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8]| {
                    firmnet::quant::kernels::dense_flat_at(simd, w, x, rq, y)
                };
                q.forward_with_kernel(&x, &mut y, &mut buf[offset..], kernel);
                assert_eq!(
                    flat(&y),
                    &want[..],
                    "{name}: {}, offset {offset}",
                    simd.level()
                );
            }
        }
    }
}

#[test]
fn conv2d_is_tensorflow_lites_reference_on_every_path() {
    // 10×4 filters, stride 2, on 49×10×1 (a keyword-spotting front end): 25×5×8, SAME.
    conv_case::<49, 10, 1, 8, 10, 4, 25, 5, 2, Same>(1);
    conv_case::<49, 10, 1, 8, 10, 4, 20, 4, 2, Valid>(2);
    // Odd widths, 3 channels, both paddings, strides 1 and 2.
    conv_case::<7, 5, 3, 4, 3, 3, 7, 5, 1, Same>(3);
    conv_case::<7, 5, 3, 5, 3, 3, 3, 2, 2, Valid>(4);
    conv_case::<9, 7, 3, 6, 3, 3, 5, 4, 2, Same>(5);
    // A patch of 72 bytes (SIMD body and tail), 12 filters (blocks of four rows).
    conv_case::<8, 8, 8, 12, 3, 3, 8, 8, 1, Same>(6);
    // 1×1: the pixel is the patch, no gather; with stride 2 too.
    conv_case::<6, 6, 16, 16, 1, 1, 6, 6, 1, Same>(7);
    conv_case::<7, 5, 3, 4, 1, 1, 4, 3, 2, Valid>(8);
    conv_case::<7, 5, 3, 4, 1, 1, 4, 3, 2, Same>(9);
    // A stride larger than the window's height, KH ≠ KW; a window as large as the input.
    conv_case::<5, 9, 2, 3, 2, 5, 2, 3, 3, Same>(10);
    conv_case::<4, 4, 1, 1, 4, 4, 1, 1, 1, Valid>(11);
    conv_case::<4, 4, 1, 2, 4, 4, 4, 4, 1, Same>(12);
}

fn depthwise_case<
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
    let g = Geo {
        h: H,
        w: W,
        c: C,
        kh: KH,
        kw: KW,
        stride: S,
        same: P::SAME,
    };
    assert_eq!((g.out().0, g.out().1), (OH, OW));
    for trial in 0..4 {
        let mut rng = Rng::new(seed * 100 + trial);
        let mut q = Box::new(QDepthwiseConv2d::<H, W, C, KH, KW, OH, OW, S, P>::ZERO);
        bytes(&mut rng, q.weight.as_flattened_mut().as_flattened_mut());
        let (raw, mult, shift) = channels(&mut rng, C, KH * KW, trial);
        let (z_in, z_out, lo, hi) = io(&mut rng, trial);
        for c in 0..C {
            let sum: i32 = q
                .weight
                .as_flattened()
                .iter()
                .map(|t| i32::from(t[c]))
                .sum();
            q.bias[c] = raw[c] - z_in * sum;
        }
        q.multiplier.copy_from_slice(&mult);
        q.shift.copy_from_slice(&shift);
        q.input.zero_point = z_in;
        q.output.zero_point = z_out;
        (q.min, q.max) = (lo, hi);
        let mut x = [[[0i8; C]; W]; H];
        bytes(&mut rng, flat_mut(&mut x));
        let out = Out {
            bias: &raw,
            mult: &mult,
            shift: &shift,
            z_in,
            z_out,
            min: lo,
            max: hi,
        };
        let want = depthwise_reference(flat(&x), g, q.weight.as_flattened().as_flattened(), &out);
        if trial == 0 {
            assert!(
                distinct(&want) >= (want.len() / 2).min(12),
                "a case that tests little: {H}×{W}×{C}: {want:?}"
            );
        }
        let mut y = [[[0i8; C]; OW]; OH];
        q.forward_with(&x, &mut y, &mut []);
        assert_eq!(
            flat(&y),
            &want[..],
            "{H}×{W}×{C}, {KH}×{KW}, stride {S}, same {}",
            P::SAME
        );
        // The DSP path (portable twins off the Cortex-M4): the input read as words
        // (aligned) and as bytes (one byte off), the scratch at every alignment.
        let aligned = Box::new(Aligned(x));
        let shifted = Box::new(Shifted(0, x));
        let mut buf =
            vec![0i8; size_of::<Scratch<QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, S, P>>>()];
        for (input, how) in [(&aligned.0, "aligned"), (&shifted.1, "shifted")] {
            for offset in 0..4 {
                let mut y = [[[0i8; C]; OW]; OH];
                q.forward_packed(input, &mut y, &mut buf[offset..]);
                assert_eq!(
                    flat(&y),
                    &want[..],
                    "packed, {how} input, scratch offset {offset}: {H}×{W}×{C}, {KH}×{KW}, stride {S}, same {}",
                    P::SAME
                );
            }
        }
        // The network entry (the packed path on a Cortex-M4) with its own scratch.
        let mut y = [[[0i8; C]; OW]; OH];
        let mut scratch =
            Box::new(Scratch::<QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, S, P>>::ZERO);
        q.forward(&x, &mut y, &mut scratch);
        assert_eq!(flat(&y), &want[..]);
    }
}

/// A value at a 4-byte aligned address.
#[repr(C, align(4))]
struct Aligned<T>(T);

/// A value one byte past a 4-byte aligned address.
#[repr(C, align(4))]
struct Shifted<T>(i8, T);

#[test]
fn depthwise_conv2d_is_tensorflow_lites_reference() {
    depthwise_case::<7, 5, 3, 3, 3, 7, 5, 1, Same>(21);
    depthwise_case::<9, 7, 1, 3, 3, 4, 3, 2, Valid>(22);
    depthwise_case::<49, 10, 4, 10, 4, 25, 5, 2, Same>(23);
    // Total padding 3: 1 before, 2 after.
    depthwise_case::<6, 6, 8, 5, 5, 3, 3, 2, Same>(24);
    depthwise_case::<5, 5, 2, 1, 1, 5, 5, 1, Valid>(25);
    depthwise_case::<5, 9, 3, 2, 5, 2, 3, 3, Same>(26);
    // The Cortex-M4 count's shape.
    depthwise_case::<25, 5, 64, 3, 3, 25, 5, 1, Same>(27);
    // Channels in words: five pairs of taps (unrolled), ten taps, sixteen, a window of one
    // row, a window of more taps than the stack holds slices for.
    depthwise_case::<6, 5, 12, 3, 3, 3, 3, 2, Same>(28);
    depthwise_case::<7, 6, 8, 2, 5, 7, 6, 1, Same>(29);
    depthwise_case::<7, 6, 4, 4, 4, 4, 3, 1, Valid>(30);
    depthwise_case::<5, 7, 8, 1, 3, 5, 7, 1, Same>(31);
    depthwise_case::<9, 9, 4, 6, 5, 4, 5, 1, Valid>(32);
}

fn pool_case<
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
    let g = Geo {
        h: H,
        w: W,
        c: C,
        kh: KH,
        kw: KW,
        stride: S,
        same: P::SAME,
    };
    assert_eq!((g.out().0, g.out().1), (OH, OW));
    for trial in 0..6 {
        let mut rng = Rng::new(seed * 100 + trial);
        let (z, _, lo, hi) = io(&mut rng, trial % 3);
        let p = QParams {
            scale: 0.05,
            zero_point: z,
        };
        let mut x = [[[0i8; C]; W]; H];
        bytes(&mut rng, flat_mut(&mut x));
        if trial >= 3 {
            // Sums whose averages are exact halves: ties, both signs.
            for v in flat_mut(&mut x) {
                *v = [-3, -1, 1, 3, -128, 127][rng.below(6) as usize];
            }
        }
        let mut max = QMaxPool2d::<H, W, C, KH, KW, OH, OW, S, P>::new(p, p, Clamp::None).unwrap();
        let mut avg = QAvgPool2d::<H, W, C, KH, KW, OH, OW, S, P>::new(p, p, Clamp::None).unwrap();
        (max.min, max.max, avg.min, avg.max) = (lo, hi, lo, hi);
        let name = format!("{H}×{W}×{C}, {KH}×{KW}, stride {S}, same {}", P::SAME);
        let mut y = [[[0i8; C]; OW]; OH];
        max.forward_with(&x, &mut y, &mut []);
        assert_eq!(
            flat(&y),
            &pool_reference(flat(&x), g, true, lo, hi)[..],
            "max {name}"
        );
        avg.forward_with(&x, &mut y, &mut []);
        assert_eq!(
            flat(&y),
            &pool_reference(flat(&x), g, false, lo, hi)[..],
            "avg {name}"
        );
    }
}

#[test]
fn pools_are_tensorflow_lites_reference() {
    pool_case::<7, 5, 3, 2, 2, 3, 2, 2, Valid>(31);
    pool_case::<7, 5, 3, 3, 3, 4, 3, 2, Same>(32);
    pool_case::<6, 6, 1, 2, 2, 3, 3, 2, Valid>(33);
    pool_case::<5, 7, 2, 3, 2, 5, 7, 1, Same>(34);
    pool_case::<9, 9, 3, 3, 3, 4, 4, 2, Valid>(35);
    // Corners of SAME windows average fewer values.
    pool_case::<4, 4, 1, 3, 3, 2, 2, 2, Same>(36);
}

#[test]
fn average_pools_round_half_away_from_zero() {
    let p = QParams::UNIT;
    let pool = QAvgPool2d::<1, 2, 1, 1, 2, 1, 1, 1, Valid>::new(p, p, Clamp::None).unwrap();
    for (a, b, want) in [
        (1, 2, 2),
        (-1, -2, -2),
        (1, 0, 1),
        (-1, 0, -1),
        (0, 0, 0),
        (3, 4, 4),
        (-3, -4, -4),
        (127, 127, 127),
        (-128, -128, -128),
        (-128, 127, -1),
    ] {
        let mut y = [[[0i8; 1]; 1]; 1];
        pool.forward_with(&[[[a], [b]]], &mut y, &mut []);
        assert_eq!(y[0][0][0], want, "({a} + {b})/2");
    }
    // Global: 3 values, −4/3 → −1, 5/3 → 2, −5/3 → −2.
    let global = QGlobalAvgPool::<1, 3, 3>::new(p, p, Clamp::None).unwrap();
    let mut y = [0i8; 3];
    global.forward_with(&[[[-1, 1, -1], [-1, 2, -2], [-2, 2, -2]]], &mut y, &mut []);
    assert_eq!(y, [-1, 2, -2]);
    // A fused ReLU clamps at the zero point.
    let p = QParams {
        scale: 0.1,
        zero_point: -20,
    };
    let relu = QGlobalAvgPool::<1, 3, 1>::new(p, p, Clamp::Relu).unwrap();
    let mut one = [0i8; 1];
    relu.forward_with(&[[[-60], [-40], [-31]]], &mut one, &mut []);
    assert_eq!(one, [-20]);
}

fn global_case<const H: usize, const W: usize, const C: usize>(seed: u64) {
    for trial in 0..4 {
        let mut rng = Rng::new(seed * 100 + trial);
        let (z, _, lo, hi) = io(&mut rng, trial);
        let p = QParams {
            scale: 0.02,
            zero_point: z,
        };
        let mut x = [[[0i8; C]; W]; H];
        bytes(&mut rng, flat_mut(&mut x));
        let mut pool = QGlobalAvgPool::<H, W, C>::new(p, p, Clamp::None).unwrap();
        (pool.min, pool.max) = (lo, hi);
        let mut y = [0i8; C];
        pool.forward_with(&x, &mut y, &mut []);
        let g = Geo {
            h: H,
            w: W,
            c: C,
            kh: H,
            kw: W,
            stride: 1,
            same: false,
        };
        assert_eq!(
            flat(&y),
            &pool_reference(flat(&x), g, false, lo, hi)[..],
            "{H}×{W}×{C}"
        );
    }
}

#[test]
fn global_average_pool_is_one_window_over_the_map() {
    global_case::<5, 3, 4>(41);
    global_case::<1, 1, 3>(42);
    global_case::<7, 7, 2>(43);
    global_case::<25, 5, 8>(44);
}

#[test]
fn pools_keep_their_input_quantization() {
    let p = QParams::from_range(-1.0, 1.0);
    let other = QParams::from_range(-2.0, 2.0);
    type Max = QMaxPool2d<4, 4, 2, 2, 2, 2, 2, 2>;
    assert_eq!(
        Max::new(p, other, Clamp::None),
        Err(QuantError::SameParams {
            kind: "qmax_pool2d"
        })
    );
    assert!(matches!(
        QAvgPool2d::<4, 4, 2, 2, 2, 2, 2, 2>::new(p, other, Clamp::None),
        Err(QuantError::SameParams { .. })
    ));
    assert!(matches!(
        QGlobalAvgPool::<4, 4, 2>::new(p, other, Clamp::None),
        Err(QuantError::SameParams { .. })
    ));
    assert!(matches!(
        QFlatten::<4, 4, 2, 32>::new(p, other),
        Err(QuantError::SameParams { .. })
    ));
    let bad = QParams {
        scale: 0.0,
        zero_point: 0,
    };
    assert_eq!(
        Max::new(bad, bad, Clamp::None),
        Err(QuantError::InvalidParams { which: "input" })
    );
    assert!(
        QuantError::SameParams {
            kind: "qmax_pool2d"
        }
        .to_string()
        .contains("qmax_pool2d")
    );
    // The attributes say the output is the input; another output is refused.
    let mut pool = Max::new(p, p, Clamp::Relu).unwrap();
    assert_eq!(pool.output_params(), p);
    assert_eq!(pool.attr(2), Some(Attr::F32(p.scale)));
    assert!(!pool.set_attr(2, Attr::F32(other.scale)));
    assert!(pool.set_attr(3, Attr::I32(p.zero_point)));
    assert_eq!(pool.output_params(), p);
    assert_eq!(pool.min as i32, p.zero_point);
}

// ---------------------------------------------------------------------------------------
// The residual add

#[test]
fn add_by_hand() {
    let unit = QParams::UNIT;
    // 0.5·8 + 0.25·(30 − 10) = 9, at zero point −3: 6.
    let a = QParams {
        scale: 0.5,
        zero_point: 0,
    };
    let b = QParams {
        scale: 0.25,
        zero_point: 10,
    };
    let out = QParams {
        scale: 1.0,
        zero_point: -3,
    };
    let add = QAdd::<[i8; 4]>::new(a, b, out, Clamp::None).unwrap();
    assert_eq!(add.add(8, 30), 6);
    assert_eq!((add.input_multiplier, add.input_shift), (1 << 30, 0));
    assert_eq!((add.skip_multiplier, add.skip_shift), (1 << 30, -1));
    assert_eq!((add.output_multiplier, add.output_shift), (1 << 30, -19));
    // Halves round away from zero: (1 + 0)/2 → 1, (−1)/2 → −1, 3/2 → 2, −3/2 → −2.
    let half = QParams {
        scale: 2.0,
        zero_point: 0,
    };
    let add = QAdd::<[i8; 1]>::new(unit, unit, half, Clamp::None).unwrap();
    assert_eq!(
        [
            add.add(1, 0),
            add.add(-1, 0),
            add.add(3, 0),
            add.add(-3, 0),
            add.add(2, 2)
        ],
        [1, -1, 2, -2, 2]
    );
    // Saturation at both ends, and a fused ReLU at the output zero point.
    let add = QAdd::<[i8; 1]>::new(unit, unit, unit, Clamp::None).unwrap();
    assert_eq!(
        [add.add(127, 127), add.add(-128, -128), add.add(100, -30)],
        [127, -128, 70]
    );
    let shifted = QParams {
        scale: 1.0,
        zero_point: 5,
    };
    let relu = QAdd::<[i8; 1]>::new(unit, unit, shifted, Clamp::Relu).unwrap();
    assert_eq!([relu.add(-10, 3), relu.add(10, 3)], [5, 18]);
    // Tensors, and in place.
    let add = QAdd::<[i8; 3]>::new(unit, unit, unit, Clamp::None).unwrap();
    let mut y = [0i8; 3];
    add.forward(&[1, 2, 3], &[10, 20, 30], &mut y);
    assert_eq!(y, [11, 22, 33]);
    let mut ay = [1, 2, 3];
    add.apply(&mut ay, &[-1, -2, 125]);
    assert_eq!(ay, [0, 0, 127]);
}

#[test]
fn add_refuses_scales_beyond_its_rescaling() {
    let unit = QParams::UNIT;
    let tiny = QParams {
        scale: 1.0 / (1u32 << 20) as f32,
        zero_point: 0,
    };
    // twice_max/(2²⁰·s_out) = 2: not below 1.
    assert_eq!(
        QAdd::<[i8; 1]>::new(unit, unit, tiny, Clamp::None),
        Err(QuantError::AddScale)
    );
    // Just above 2·max/2²⁰ is fine.
    let small = QParams {
        scale: 2.1 / (1u32 << 20) as f32,
        zero_point: 0,
    };
    assert!(QAdd::<[i8; 1]>::new(unit, unit, small, Clamp::None).is_ok());
    // Operand scales 2³³ apart: the smaller multiplier would flush to zero.
    let far = QParams {
        scale: 2f32.powi(-33),
        zero_point: 0,
    };
    assert_eq!(
        QAdd::<[i8; 1]>::new(unit, far, unit, Clamp::None),
        Err(QuantError::AddScale)
    );
    let bad = QParams {
        scale: f32::NAN,
        zero_point: 0,
    };
    assert_eq!(
        QAdd::<[i8; 1]>::new(unit, bad, unit, Clamp::None),
        Err(QuantError::InvalidParams { which: "skip" })
    );
}

#[test]
fn add_is_tensorflow_lites_reference() {
    let mut rng = Rng::new(51);
    let mut changed = 0;
    for case in 0..400 {
        let scale = |rng: &mut Rng| 2f32.powf(rng.uniform(-12.0, 2.0));
        let params = |rng: &mut Rng| QParams {
            scale: scale(rng),
            zero_point: rng.next_u32() as i8 as i32,
        };
        let (pa, pb) = (params(&mut rng), params(&mut rng));
        // The output covers about the sum of the ranges, sometimes much less (saturation).
        let mut po = params(&mut rng);
        po.scale = (pa.scale + pb.scale) * rng.uniform(0.1, 2.0);
        let clamp = [Clamp::None, Clamp::Relu, Clamp::Relu6][case % 3];
        let add = QAdd::<[i8; 600]>::new(pa, pb, po, clamp).unwrap();
        let (lo, hi) = clamp.bounds(po);
        let mut a = [0i8; 600];
        let mut b = [0i8; 600];
        bytes(&mut rng, &mut a);
        bytes(&mut rng, &mut b);
        let mut y = [0i8; 600];
        add.forward(&a, &b, &mut y);
        for i in 0..600 {
            let want = add_reference(a[i], b[i], pa, pb, po, lo, hi);
            assert_eq!(y[i], want, "case {case}: {} + {}", a[i], b[i]);
            changed += usize::from(y[i] != a[i]);
        }
        // And the real sum, to one step (plus the half step of each rescaled operand).
        for i in 0..600 {
            let real = pa.dequantize(a[i]) + pb.dequantize(b[i]);
            let want = po.quantize(real).clamp(lo, hi);
            assert!(
                (i32::from(y[i]) - i32::from(want)).abs() <= 1,
                "case {case}: {real}"
            );
        }
    }
    assert!(changed > 100_000);
}

#[test]
fn add_describes_itself() {
    let p = QParams::from_range(-1.0, 3.0);
    let s = QParams::from_range(-2.0, 2.0);
    let o = QParams::from_range(-3.0, 5.0);
    let add = QAdd::<[[[i8; 4]; 3]; 2]>::new(p, s, o, Clamp::Relu).unwrap();
    let spec = <QAdd<[[[i8; 4]; 3]; 2]> as Primitive>::SPEC;
    assert_eq!(spec.kind, "qadd");
    assert_eq!(spec.input.dims(), &[2, 3, 4]);
    assert!(spec.int8_io);
    for (i, a) in spec.attrs.iter().enumerate() {
        let v = add.attr(i).unwrap();
        assert!(a.allows(v), "{}: {v:?}", a.name);
    }
    // Rebuilt from its attributes, it is the same.
    let mut back = QAdd::<[[[i8; 4]; 3]; 2]>::ZERO;
    for i in 0..spec.attrs.len() {
        assert!(back.set_attr(i, add.attr(i).unwrap()));
    }
    assert_eq!(back, add);
    let int = |i| add.attr(i).unwrap().i32().unwrap();
    let f = |i| add.attr(i).unwrap().f32().unwrap();
    let parts = QAdd::<[[[i8; 4]; 3]; 2]>::from_parts(
        f(0),
        int(1),
        f(2),
        int(3),
        int(4),
        int(5),
        f(6),
        int(7),
        int(8),
        int(9),
        int(10),
        int(11),
        int(12),
        int(13),
    );
    assert_eq!(parts, add);
}

// ---------------------------------------------------------------------------------------
// Conversion from float

/// Random float filters, biases and a batch normalization of `k` channels.
fn float_values(rng: &mut Rng, weights: &mut [f32], bias: &mut [f32], bn: &mut [Vec<f32>; 4]) {
    weights.iter_mut().for_each(|w| *w = 0.4 * rng.normal());
    bias.iter_mut().for_each(|b| *b = 0.3 * rng.normal());
    for _ in 0..bias.len() {
        bn[0].push(0.5 + rng.next_f32());
        bn[1].push(0.5 * rng.normal());
        bn[2].push(0.5 * rng.normal());
        bn[3].push(0.2 + rng.next_f32());
    }
}

fn fold(bn: &[Vec<f32>; 4]) -> BnFold<'_> {
    BnFold {
        gamma: &bn[0],
        beta: &bn[1],
        mean: &bn[2],
        var: &bn[3],
        eps: 1e-3,
    }
}

/// Float convolution (`depthwise`: channel by channel) in `f64`, zero padding, the batch
/// normalization folded, ReLU.
fn float_conv(
    x: &[f64],
    g: Geo,
    k_out: usize,
    w: &[f64],
    bias: &[f64],
    depthwise: bool,
) -> Vec<f64> {
    let (oh, ow, _, _) = g.out();
    let mut y = vec![0.0; oh * ow * k_out];
    for oy in 0..oh {
        for ox in 0..ow {
            for k in 0..k_out {
                let mut acc = bias[k];
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        let Some((iy, ix)) = g.at(oy, ox, ky, kx) else {
                            continue;
                        };
                        if depthwise {
                            acc += w[(ky * g.kw + kx) * g.c + k] * x[(iy * g.w + ix) * g.c + k];
                        } else {
                            for c in 0..g.c {
                                acc += w[((k * g.kh + ky) * g.kw + kx) * g.c + c]
                                    * x[(iy * g.w + ix) * g.c + c];
                            }
                        }
                    }
                }
                y[(oy * ow + ox) * k_out + k] = acc.max(0.0);
            }
        }
    }
    y
}

/// The folded weights and biases: `k·w`, `k·b + c` per output channel (`stride` between a
/// channel's weights, `k_of(index)` its channel).
fn folded(
    w: &[f32],
    b: &[f32],
    bn: &BnFold<'_>,
    channel_of: impl Fn(usize) -> usize,
) -> (Vec<f64>, Vec<f64>) {
    let w = w
        .iter()
        .enumerate()
        .map(|(i, &v)| bn.affine(channel_of(i)).0 * f64::from(v))
        .collect();
    let b = b.iter().enumerate().map(|(k, &v)| {
        let (s, c) = bn.affine(k);
        s * f64::from(v) + c
    });
    (w, b.collect())
}

/// Checks int8 outputs `yq` against the float ones: every one within one step of the
/// computation from the int8 weights (`exact`), and within the quantization error of the
/// float layer (`float`: mean half a step, at most three).
fn within_steps(yq: &[i8], exact: &[f64], float: &[f64], output: QParams, what: &str) {
    let s = f64::from(output.scale);
    let (mut sum, mut worst) = (0.0, 0.0f64);
    for ((&q, &e), &f) in yq.iter().zip(exact).zip(float) {
        let want = ((e / s).round() + f64::from(output.zero_point))
            .clamp(f64::from(output.zero_point), 127.0);
        assert!((f64::from(q) - want).abs() <= 1.0, "{what}: {q} vs {want}");
        let err = (f64::from(output.dequantize(q))
            - f.min(s * (127.0 - f64::from(output.zero_point))))
        .abs();
        sum += err;
        worst = worst.max(err);
    }
    let mean = sum / yq.len() as f64;
    assert!(mean <= 0.5 * s, "{what}: mean error {mean} (scale {s})");
    assert!(worst <= 3.0 * s, "{what}: worst error {worst} (scale {s})");
}

fn conv_from_float<
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
    let g = Geo {
        h: H,
        w: W,
        c: C,
        kh: KH,
        kw: KW,
        stride: S,
        same: P::SAME,
    };
    let mut rng = Rng::new(seed);
    let mut weight = Box::new([[[[0.0f32; C]; KW]; KH]; K]);
    let mut bias = [0.0f32; K];
    let mut bn: [Vec<f32>; 4] = Default::default();
    float_values(
        &mut rng,
        weight
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut(),
        &mut bias,
        &mut bn,
    );
    let bnf = fold(&bn);
    let patch = KH * KW * C;
    let (w64, b64) = folded(
        weight.as_flattened().as_flattened().as_flattened(),
        &bias,
        &bnf,
        |i| i / patch,
    );
    let input = QParams::from_range(-1.0, 2.0);
    let samples: Vec<Vec<f32>> = (0..8)
        .map(|_| (0..H * W * C).map(|_| rng.uniform(-1.0, 2.0)).collect())
        .collect();
    let floats: Vec<Vec<f64>> = samples
        .iter()
        .map(|x| {
            float_conv(
                &x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
                g,
                K,
                &w64,
                &b64,
                false,
            )
        })
        .collect();
    let top = floats.iter().flatten().fold(0.0f64, |m, &v| m.max(v));
    let output = QParams::from_range(0.0, top as f32);
    let q = QConv2d::<H, W, C, K, KH, KW, OH, OW, S, P>::from_float(
        &weight,
        &bias,
        Some(bnf),
        Clamp::Relu,
        input,
        output,
    )
    .unwrap();
    assert_eq!((q.min as i32, q.max), (output.zero_point, 127));
    // The int8 weights, at their recovered scales.
    let wq: Vec<f64> = q
        .weight
        .0
        .as_flattened()
        .as_flattened()
        .as_flattened()
        .iter()
        .enumerate()
        .map(|(i, &v)| q.weight_scale(i / patch).unwrap() * f64::from(v))
        .collect();
    for (x, f) in samples.iter().zip(&floats) {
        let mut xq = [[[0i8; C]; W]; H];
        input.quantize_slice(x, flat_mut(&mut xq));
        let xd: Vec<f64> = flat(&xq)
            .iter()
            .map(|&v| f64::from(input.dequantize(v)))
            .collect();
        let exact = float_conv(&xd, g, K, &wq, &b64, false);
        let mut y = [[[0i8; K]; OW]; OH];
        q.forward_with(&xq, &mut y, &mut []);
        within_steps(flat(&y), &exact, f, output, "conv");
    }
}

#[test]
fn conv2d_from_float_is_within_a_step() {
    conv_from_float::<7, 5, 3, 4, 3, 3, 7, 5, 1, Same>(61);
    conv_from_float::<49, 10, 1, 8, 10, 4, 25, 5, 2, Same>(62);
    conv_from_float::<9, 7, 2, 6, 3, 3, 4, 3, 2, Valid>(63);
    conv_from_float::<6, 6, 8, 4, 1, 1, 6, 6, 1, Same>(64);
}

fn depthwise_from_float<
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
    let g = Geo {
        h: H,
        w: W,
        c: C,
        kh: KH,
        kw: KW,
        stride: S,
        same: P::SAME,
    };
    let mut rng = Rng::new(seed);
    let mut weight = [[[0.0f32; C]; KW]; KH];
    let mut bias = [0.0f32; C];
    let mut bn: [Vec<f32>; 4] = Default::default();
    float_values(
        &mut rng,
        weight.as_flattened_mut().as_flattened_mut(),
        &mut bias,
        &mut bn,
    );
    let bnf = fold(&bn);
    let (w64, b64) = folded(weight.as_flattened().as_flattened(), &bias, &bnf, |i| i % C);
    let input = QParams::from_range(-1.0, 2.0);
    let samples: Vec<Vec<f32>> = (0..8)
        .map(|_| (0..H * W * C).map(|_| rng.uniform(-1.0, 2.0)).collect())
        .collect();
    let floats: Vec<Vec<f64>> = samples
        .iter()
        .map(|x| {
            float_conv(
                &x.iter().map(|&v| f64::from(v)).collect::<Vec<_>>(),
                g,
                C,
                &w64,
                &b64,
                true,
            )
        })
        .collect();
    let top = floats.iter().flatten().fold(0.0f64, |m, &v| m.max(v));
    let output = QParams::from_range(0.0, top as f32);
    type Dw<
        const H: usize,
        const W: usize,
        const C: usize,
        const KH: usize,
        const KW: usize,
        const OH: usize,
        const OW: usize,
        const S: usize,
        P,
    > = QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, S, P>;
    let q = Dw::<H, W, C, KH, KW, OH, OW, S, P>::from_float(
        &weight,
        &bias,
        Some(bnf),
        Clamp::Relu,
        input,
        output,
    )
    .unwrap();
    // Each channel is quantized exactly as a dense layer's row of its KH·KW weights.
    for c in 0..C {
        let taps: Vec<f32> = weight.as_flattened().iter().map(|t| t[c]).collect();
        let one = |v: &Vec<f32>| vec![v[c]];
        let (g1, b1, m1, v1) = (one(&bn[0]), one(&bn[1]), one(&bn[2]), one(&bn[3]));
        let dense = DenseConversion {
            weight: &taps,
            bias: &bias[c..c + 1],
            fold: Some(BnFold {
                gamma: &g1,
                beta: &b1,
                mean: &m1,
                var: &v1,
                eps: 1e-3,
            }),
            inputs: KH * KW,
            input,
            output,
            clamp: Clamp::Relu,
        };
        let (mut wq, mut bq, mut mq, mut sq) = (vec![0i8; KH * KW], [0i32], [0i32], [0i32]);
        dense.write(&mut wq, &mut bq, &mut mq, &mut sq).unwrap();
        let ours: Vec<i8> = q.weight.as_flattened().iter().map(|t| t[c]).collect();
        assert_eq!(ours, wq, "channel {c}");
        assert_eq!(
            [q.bias[c], q.multiplier[c], q.shift[c]],
            [bq[0], mq[0], sq[0]],
            "channel {c}"
        );
    }
    let wq: Vec<f64> = q
        .weight
        .as_flattened()
        .as_flattened()
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let c = i % C;
            let real = f64::from(q.multiplier[c]) * 2f64.powi(q.shift[c] - 31);
            real * f64::from(output.scale) / f64::from(input.scale) * f64::from(v)
        })
        .collect();
    for (x, f) in samples.iter().zip(&floats) {
        let mut xq = [[[0i8; C]; W]; H];
        input.quantize_slice(x, flat_mut(&mut xq));
        let xd: Vec<f64> = flat(&xq)
            .iter()
            .map(|&v| f64::from(input.dequantize(v)))
            .collect();
        let exact = float_conv(&xd, g, C, &wq, &b64, true);
        let mut y = [[[0i8; C]; OW]; OH];
        q.forward_with(&xq, &mut y, &mut []);
        within_steps(flat(&y), &exact, f, output, "depthwise");
    }
}

#[test]
fn depthwise_conv2d_from_float_is_within_a_step() {
    depthwise_from_float::<7, 5, 3, 3, 3, 7, 5, 1, Same>(71);
    depthwise_from_float::<12, 9, 8, 3, 3, 5, 4, 2, Valid>(72);
    depthwise_from_float::<10, 10, 1, 5, 2, 5, 5, 2, Same>(73);
}

#[test]
fn conversions_refuse_what_they_cannot_represent() {
    let p = QParams::from_range(-1.0, 1.0);
    let mut w = [[[[0.1f32; 3]; 3]; 3]; 2];
    w[1][2][0][1] = f32::NAN;
    type Conv = QConv2d<5, 5, 3, 2, 3, 3, 5, 5>;
    assert_eq!(
        Conv::from_float(&w, &[0.0; 2], None, Clamp::None, p, p),
        Err(QuantError::NonFinite {
            what: "weight",
            channel: 1
        })
    );
    let mut d = [[[0.1f32; 3]; 3]; 3];
    d[2][1][2] = f32::INFINITY;
    type Dw = QDepthwiseConv2d<5, 5, 3, 3, 3, 5, 5>;
    assert_eq!(
        Dw::from_float(&d, &[0.0; 3], None, Clamp::None, p, p),
        Err(QuantError::NonFinite {
            what: "weight",
            channel: 2
        })
    );
    let bad = QParams {
        scale: -1.0,
        zero_point: 0,
    };
    assert_eq!(
        Dw::from_float(&[[[0.1; 3]; 3]; 3], &[0.0; 3], None, Clamp::None, p, bad),
        Err(QuantError::InvalidParams { which: "output" })
    );
    // A bias far beyond what 32 bits hold at s_in·s_w.
    assert_eq!(
        Dw::from_float(
            &[[[1e-6; 3]; 3]; 3],
            &[0.0, 1e6, 0.0],
            None,
            Clamp::None,
            p,
            p
        ),
        Err(QuantError::BiasOverflow { channel: 1 })
    );
}

// ---------------------------------------------------------------------------------------
// Descriptions, networks, files

#[test]
fn specs_record_the_geometry() {
    type Kws = QConv2d<49, 10, 1, 8, 10, 4, 25, 5, 2, Same>;
    let spec = <Kws as Primitive>::SPEC;
    assert_eq!(spec.kind, "qconv2d");
    assert_eq!(spec.input.dims(), &[49, 10, 1]);
    assert_eq!(spec.output.dims(), &[25, 5, 8]);
    assert_eq!(spec.tensors[0].shape.dims(), &[8, 10, 4, 1]);
    let names: Vec<_> = spec.attrs.iter().map(|a| a.name).collect();
    assert_eq!(
        names,
        [
            "input_scale",
            "input_zero_point",
            "output_scale",
            "output_zero_point",
            "min",
            "max",
            "stride",
            "pad_top",
            "pad_left"
        ]
    );
    assert_eq!((Kws::PAD_TOP, Kws::PAD_LEFT), (4, 1));
    let mut layer = Kws::ZERO;
    let geometry: Vec<_> = (6..9).map(|i| layer.attr(i)).collect();
    assert_eq!(
        geometry,
        [Some(Attr::I32(2)), Some(Attr::I32(4)), Some(Attr::I32(1))]
    );
    // The type fixes them: a file that says otherwise is refused, the same is accepted.
    assert!(!layer.set_attr(6, Attr::I32(1)));
    assert!(!layer.set_attr(7, Attr::I32(-4)));
    assert!(layer.set_attr(7, Attr::I32(4)));
    let dw = <QDepthwiseConv2d<6, 6, 8, 5, 5, 3, 3, 2> as Primitive>::SPEC;
    assert_eq!(
        (dw.kind, dw.tensors[0].shape.dims()),
        ("qdepthwise_conv2d", &[5usize, 5, 8][..])
    );
    let dw_layer = QDepthwiseConv2d::<6, 6, 8, 5, 5, 3, 3, 2>::ZERO;
    assert_eq!(dw_layer.attr(7), Some(Attr::I32(1)));
    for (kind, spec) in [
        (
            "qmax_pool2d",
            <QMaxPool2d<7, 5, 3, 3, 3, 4, 3, 2, Same> as Primitive>::SPEC,
        ),
        (
            "qavg_pool2d",
            <QAvgPool2d<7, 5, 3, 3, 3, 4, 3, 2, Same> as Primitive>::SPEC,
        ),
    ] {
        assert_eq!(spec.kind, kind);
        assert_eq!(spec.output.dims(), &[4, 3, 3]);
        assert!(spec.tensors.is_empty());
        assert_eq!(spec.attr_index("pad_left"), Some(8));
    }
    assert_eq!(
        <QGlobalAvgPool<5, 3, 4> as Primitive>::SPEC.output.dims(),
        &[4]
    );
    assert_eq!(<QFlatten<5, 3, 4, 60> as Primitive>::SPEC.kind, "qflatten");
}

#[test]
#[should_panic(expected = "stride or padding")]
fn from_parts_refuses_another_geometry() {
    let _ =
        QMaxPool2d::<4, 4, 1, 2, 2, 2, 2, 2>::from_parts(1.0, 0, 1.0, 0, -128, 127, 1, 0, 0, 2, 2);
}

type Small = Net![
    QConv2d<12, 11, 1, 4, 3, 3, 6, 6, 2, Same>,
    QDepthwiseConv2d<6, 6, 4, 3, 3, 6, 6, 1, Same>,
    QMaxPool2d<6, 6, 4, 2, 2, 3, 3, 2, Valid>,
    QConv2d<3, 3, 4, 8, 1, 1, 3, 3>,
    QAvgPool2d<3, 3, 8, 2, 2, 2, 2, 1, Valid>,
    QFlatten<2, 2, 8, 32>,
    QDense<32, 5>
];

/// A small convolutional int8 network, converted from random float values.
fn small_net() -> Small {
    let mut rng = Rng::new(81);
    let p = QParams::from_range(-1.0, 2.0);
    let h = QParams::from_range(0.0, 3.0);
    let mut w1 = [[[[0.0f32; 1]; 3]; 3]; 4];
    w1.as_flattened_mut()
        .as_flattened_mut()
        .as_flattened_mut()
        .iter_mut()
        .for_each(|w| *w = 0.5 * rng.normal());
    let mut w2 = [[[0.0f32; 4]; 3]; 3];
    w2.as_flattened_mut()
        .as_flattened_mut()
        .iter_mut()
        .for_each(|w| *w = 0.5 * rng.normal());
    let mut w3 = [[[[0.0f32; 4]; 1]; 1]; 8];
    w3.as_flattened_mut()
        .as_flattened_mut()
        .as_flattened_mut()
        .iter_mut()
        .for_each(|w| *w = 0.5 * rng.normal());
    let mut dense = Dense::<32, 5>::ZERO;
    dense.init(Init::HeNormal, &mut rng);
    net![
        QConv2d::from_float(&w1, &[0.1, -0.1, 0.0, 0.2], None, Clamp::Relu, p, h).unwrap(),
        QDepthwiseConv2d::from_float(&w2, &[0.0; 4], None, Clamp::Relu6, h, h).unwrap(),
        QMaxPool2d::new(h, h, Clamp::None).unwrap(),
        QConv2d::from_float(&w3, &[0.05; 8], None, Clamp::Relu, h, h).unwrap(),
        QAvgPool2d::new(h, h, Clamp::None).unwrap(),
        QFlatten::new(h, h).unwrap(),
        QDense::from_float(&dense, None, Clamp::None, h, p).unwrap()
    ]
}

#[test]
fn a_convolutional_network_is_its_layers_in_sequence() {
    let net = small_net();
    assert_eq!(<Small as Describe>::LAYERS, 7);
    // The arena: the largest input + output (+ scratch) of a layer inside the network: the
    // depthwise convolution's, 6·6·4 bytes each, and room for its widened filters and tap
    // offsets and a pixel of padding (2·9·4 + 3·4 + 10·9 + 16 bytes) and, for the 3×3
    // path, three input rows and sixteen bytes per channel (3·6·4 + 16·4), and for its
    // path on widened rows three more input rows and 34 bytes per channel (3·6·4 + 34·4),
    // rounded to the arena's 4-byte alignment.
    assert_eq!(
        size_of::<Scratch<Small>>(),
        (2 * 144 + 2 * 9 * 4 + 3 * 4 + 10 * 9 + 16 + 3 * 6 * 4 + 16 * 4 + 3 * 6 * 4 + 34 * 4usize)
            .next_multiple_of(4)
    );
    let Chain {
        first: c1,
        rest:
            Chain {
                first: d2,
                rest:
                    Chain {
                        first: m3,
                        rest:
                            Chain {
                                first: c4,
                                rest:
                                    Chain {
                                        first: a5,
                                        rest:
                                            Chain {
                                                first: f6,
                                                rest: q7,
                                            },
                                    },
                            },
                    },
            },
    } = &net;
    let mut rng = Rng::new(82);
    let mut outputs = std::collections::HashSet::new();
    for _ in 0..30 {
        let mut x = [[[0i8; 1]; 11]; 12];
        bytes(&mut rng, flat_mut(&mut x));
        let mut a = [[[0i8; 4]; 6]; 6];
        let mut b = [[[0i8; 4]; 6]; 6];
        let mut c = [[[0i8; 4]; 3]; 3];
        let mut d = [[[0i8; 8]; 3]; 3];
        let mut e = [[[0i8; 8]; 2]; 2];
        let mut f = [0i8; 32];
        let mut want = [0i8; 5];
        c1.forward_with(&x, &mut a, &mut [0; 16]);
        d2.forward_with(&a, &mut b, &mut []);
        m3.forward_with(&b, &mut c, &mut []);
        c4.forward_with(&c, &mut d, &mut []);
        a5.forward_with(&d, &mut e, &mut []);
        f6.forward_with(&e, &mut f, &mut []);
        q7.forward_with(&f, &mut want, &mut []);
        let mut y = [0i8; 5];
        let mut scratch = Scratch::<Small>::ZERO;
        net.forward(&x, &mut y, &mut scratch);
        assert_eq!(y, want);
        outputs.insert(y);
    }
    assert!(outputs.len() > 20, "the network's outputs hardly vary");
    assert_eq!(net.input_params(), QParams::from_range(-1.0, 2.0));
}

#[test]
fn a_convolutional_network_round_trips_through_files_and_source() {
    let net = small_net();
    let mut bytes_ = vec![0u8; 4096];
    let len = firmnet::format::write(&net, &mut bytes_).unwrap();
    let mut back: Small = Zero::ZERO;
    firmnet::format::load(&bytes_[..len], &mut back).unwrap();
    assert_eq!(back, net);
    let source = firmnet::format::rust_source(&net).unwrap();
    for ctor in [
        "QConv2d::from_parts",
        "QDepthwiseConv2d::from_parts",
        "QMaxPool2d::from_parts",
        "QAvgPool2d::from_parts",
        "QFlatten::from_parts",
    ] {
        assert!(source.contains(ctor), "{ctor}");
    }
}

/// The network of Rust source written by `rust_source` for `small_net`, compiled in: the
/// constructors take what the source gives them.
#[test]
fn from_parts_takes_the_spec_order() {
    let net = small_net();
    let Chain {
        first: c1,
        rest: Chain {
            first: d2,
            rest: Chain { first: m3, .. },
        },
    } = &net;
    let attr_i = |l: &dyn LayerData, i| l.attr(i).unwrap().i32().unwrap();
    let attr_f = |l: &dyn LayerData, i| l.attr(i).unwrap().f32().unwrap();
    let again = QConv2d::<12, 11, 1, 4, 3, 3, 6, 6, 2, Same>::from_parts(
        c1.weight.0,
        c1.bias,
        c1.multiplier,
        c1.shift,
        attr_f(c1, 0),
        attr_i(c1, 1),
        attr_f(c1, 2),
        attr_i(c1, 3),
        attr_i(c1, 4),
        attr_i(c1, 5),
        attr_i(c1, 6),
        attr_i(c1, 7),
        attr_i(c1, 8),
    );
    assert_eq!(&again, c1);
    let again = QDepthwiseConv2d::<6, 6, 4, 3, 3, 6, 6, 1, Same>::from_parts(
        d2.weight,
        d2.bias,
        d2.multiplier,
        d2.shift,
        attr_f(d2, 0),
        attr_i(d2, 1),
        attr_f(d2, 2),
        attr_i(d2, 3),
        attr_i(d2, 4),
        attr_i(d2, 5),
        attr_i(d2, 6),
        attr_i(d2, 7),
        attr_i(d2, 8),
    );
    assert_eq!(&again, d2);
    let again = QMaxPool2d::<6, 6, 4, 2, 2, 3, 3, 2, Valid>::from_parts(
        attr_f(m3, 0),
        attr_i(m3, 1),
        attr_f(m3, 2),
        attr_i(m3, 3),
        attr_i(m3, 4),
        attr_i(m3, 5),
        attr_i(m3, 6),
        attr_i(m3, 7),
        attr_i(m3, 8),
        attr_i(m3, 9),
        attr_i(m3, 10),
    );
    assert_eq!(&again, m3);
}

#[test]
fn borrowed_layers_compute_as_owned_ones() {
    let net = small_net();
    let Chain {
        first: c1,
        rest: Chain { first: d2, .. },
    } = &net;
    let view = QConv2d::<12, 11, 1, 4, 3, 3, 6, 6, 2, Same, firmnet::quant::Borrowed<'_>>::borrowed(
        &c1.weight.0,
        &c1.bias,
        &c1.multiplier,
        &c1.shift,
        c1.input,
        c1.output,
        c1.min,
        c1.max,
    );
    let dview =
        QDepthwiseConv2d::<6, 6, 4, 3, 3, 6, 6, 1, Same, firmnet::quant::Borrowed<'_>>::borrowed(
            &d2.weight,
            &d2.bias,
            &d2.multiplier,
            &d2.shift,
            d2.input,
            d2.output,
            d2.min,
            d2.max,
        );
    let mut rng = Rng::new(91);
    let mut x = [[[0i8; 1]; 11]; 12];
    bytes(&mut rng, flat_mut(&mut x));
    let (mut a, mut b) = ([[[0i8; 4]; 6]; 6], [[[0i8; 4]; 6]; 6]);
    c1.forward_with(&x, &mut a, &mut []);
    view.forward_with(&x, &mut b, &mut []);
    assert_eq!(a, b);
    let (mut c, mut d) = ([[[0i8; 4]; 6]; 6], [[[0i8; 4]; 6]; 6]);
    d2.forward_with(&a, &mut c, &mut []);
    dview.forward_with(&a, &mut d, &mut []);
    assert_eq!(c, d);
    assert_eq!(view.tensor(0), c1.tensor(0));
}

/// The flat-matrix kernel against the reference on awkward sizes: every SIMD level, and
/// the selected path.
#[test]
fn dense_flat_matches_the_reference_on_awkward_sizes() {
    let mut rng = Rng::new(101);
    for inputs in [1, 7, 8, 9, 15, 16, 17, 31, 33, 72, 783, 784] {
        for outputs in [1, 3, 4, 5, 8, 9] {
            let mut w = vec![0i8; inputs * outputs];
            let mut x = vec![0i8; inputs];
            bytes(&mut rng, &mut w);
            bytes(&mut rng, &mut x);
            let (bias, mult, shift) = channels(&mut rng, outputs, inputs, 0);
            let rq = Requant {
                bias: &bias,
                multiplier: &mult,
                shift: &shift,
                zero_point: rng.next_u32() as i8 as i32 / 4,
                min: -128,
                max: 127,
            };
            let mut want = vec![0i8; outputs];
            reference::dense(&w, &x, &rq, &mut want);
            let mut y = vec![0i8; outputs];
            firmnet::quant::kernels::dense_flat(&w, &x, &rq, &mut y);
            assert_eq!(y, want, "{inputs}×{outputs}, selected path");
            #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
            for simd in firmnet::kernels::simd::Simd::available() {
                let mut y = vec![0i8; outputs];
                firmnet::quant::kernels::dense_flat_at(simd, &w, &x, &rq, &mut y);
                assert_eq!(y, want, "{inputs}×{outputs}, {}", simd.level());
            }
        }
    }
}
