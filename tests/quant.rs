//! Int8 inference: requantization against hand-worked cases, a layer against an
//! independent `f64` computation, batch-normalization folding against the float network,
//! and every kernel path against the scalar reference, bit for bit.

// Index loops mirror the formulas they check; the random case is a plain tuple.
#![allow(clippy::needless_range_loop, clippy::type_complexity)]

use firmnet::prelude::*;
use firmnet::quant::kernels::{self, Requant, reference};
use firmnet::quant::{
    Clamp, QDense, QLayer, QParams, QuantError, argmax_i8, multiply_by_quantized_multiplier,
    probabilities, quantize_multiplier, rounding_divide_by_pot, srdhm, top_k,
};

#[test]
fn srdhm_by_hand() {
    // The only overflow saturates.
    assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
    // (2³¹−1)²/2³¹ = 2³¹ − 2 + 2⁻³¹.
    assert_eq!(srdhm(i32::MAX, i32::MAX), i32::MAX - 1);
    // −2³¹·(2³¹−1)/2³¹ = −(2³¹−1), exactly.
    assert_eq!(srdhm(i32::MIN, i32::MAX), -i32::MAX);
    // Ties go up, for either sign: 1.5 → 2, 0.5 → 1, −0.5 → 0, −1.5 → −1.
    assert_eq!(srdhm(3, 1 << 30), 2);
    assert_eq!(srdhm(1, 1 << 30), 1);
    assert_eq!(srdhm(-1, 1 << 30), 0);
    assert_eq!(srdhm(-3, 1 << 30), -1);
    // Not ties: 1.25 → 1, −1.25 → −1, −1.75 → −2.
    assert_eq!(srdhm(5, 1 << 29), 1);
    assert_eq!(srdhm(-5, 1 << 29), -1);
    assert_eq!(srdhm(-7, 1 << 29), -2);
    assert_eq!(srdhm(0, i32::MIN), 0);
}

#[test]
fn rounding_divide_by_pot_by_hand() {
    // Exponent 0 is the identity.
    for x in [i32::MIN, -7, -1, 0, 1, 7, i32::MAX] {
        assert_eq!(rounding_divide_by_pot(x, 0), x);
    }
    // Ties away from zero.
    assert_eq!(rounding_divide_by_pot(5, 1), 3);
    assert_eq!(rounding_divide_by_pot(-5, 1), -3);
    assert_eq!(rounding_divide_by_pot(6, 2), 2);
    assert_eq!(rounding_divide_by_pot(-6, 2), -2);
    // Not ties.
    assert_eq!(rounding_divide_by_pot(7, 2), 2);
    assert_eq!(rounding_divide_by_pot(-7, 2), -2);
    assert_eq!(rounding_divide_by_pot(5, 2), 1);
    assert_eq!(rounding_divide_by_pot(-5, 2), -1);
    // Exponent 31: the whole range maps to −1, 0, 1.
    assert_eq!(rounding_divide_by_pot(i32::MAX, 31), 1);
    assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    assert_eq!(rounding_divide_by_pot(1 << 30, 31), 1);
    assert_eq!(rounding_divide_by_pot(-(1 << 30), 31), -1);
    assert_eq!(rounding_divide_by_pot((1 << 30) - 1, 31), 0);
    assert_eq!(rounding_divide_by_pot(-(1 << 30) + 1, 31), 0);
}

#[test]
fn quantize_multiplier_by_hand() {
    assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
    assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
    assert_eq!(quantize_multiplier(0.75), (3 << 29, 0));
    assert_eq!(quantize_multiplier(0.25), (1 << 30, -1));
    // A mantissa that rounds up to 2³¹ moves to the next exponent.
    assert_eq!(quantize_multiplier(1.0 - 1e-12), (1 << 30, 1));
    // Too small flushes to zero; zero, negative and NaN give zero.
    assert_eq!(quantize_multiplier(1e-12), (0, 0));
    assert_eq!(quantize_multiplier(0.0), (0, 0));
    assert_eq!(quantize_multiplier(-0.5), (0, 0));
    assert_eq!(quantize_multiplier(f64::NAN), (0, 0));
    // The mantissa is always in [2³⁰, 2³¹).
    for k in 1..200 {
        let m = 1e-7 * 1.13f64.powi(k);
        let (q, shift) = quantize_multiplier(m);
        assert!((1 << 30..=i32::MAX).contains(&q), "{m}: {q}");
        let back = f64::from(q) * 2f64.powi(shift - 31);
        assert!((back - m).abs() <= m * 1e-9, "{m}: {back}");
    }
}

#[test]
fn multiply_by_quantized_multiplier_by_hand() {
    let half = quantize_multiplier(0.5);
    assert_eq!(multiply_by_quantized_multiplier(7, half.0, half.1), 4); // 3.5 → 4
    assert_eq!(multiply_by_quantized_multiplier(-7, half.0, half.1), -3); // −3.5 → −3 (srdhm)
    let quarter = quantize_multiplier(0.25);
    assert_eq!(
        multiply_by_quantized_multiplier(-1002, quarter.0, quarter.1),
        -251
    );
    assert_eq!(
        multiply_by_quantized_multiplier(1002, quarter.0, quarter.1),
        251
    );
    // Shift −31: M = 2⁻³², so only the very largest accumulators survive, as 1 or −1.
    assert_eq!(multiply_by_quantized_multiplier(i32::MAX, 1 << 30, -31), 1);
    assert_eq!(multiply_by_quantized_multiplier(i32::MIN, 1 << 30, -31), -1);
    assert_eq!(multiply_by_quantized_multiplier(1 << 29, 1 << 30, -31), 0);
    // A positive shift saturates instead of wrapping: (2³⁰·16 → 2³¹ − 1)·½ = 2³⁰ − ½ → 2³⁰.
    assert_eq!(
        multiply_by_quantized_multiplier(1 << 30, 1 << 30, 4),
        1 << 30
    );
    assert_eq!(
        multiply_by_quantized_multiplier(-(1 << 30), 1 << 30, 4),
        i32::MIN >> 1
    );
}

#[test]
fn requantization_is_within_its_double_rounding_of_the_exact_product() {
    let mut rng = Rng::new(5);
    for _ in 0..20_000 {
        let m = 1e-6 + rng.next_f32() as f64 * 0.999;
        let acc = (rng.next_u32() as i32) >> (rng.below(24) + 1);
        let (q, shift) = quantize_multiplier(m);
        let got = multiply_by_quantized_multiplier(acc, q, shift);
        let exact = f64::from(acc) * f64::from(q) * 2f64.powi(shift - 31);
        // Two roundings: half a unit of the high product, scaled down by the right shift,
        // then half a unit of the result.
        let bound = 0.5 + 0.5 * 2f64.powi(shift.min(0)) + 1e-9;
        assert!(
            (f64::from(got) - exact).abs() <= bound,
            "{acc}·{m}: {got} vs {exact}"
        );
    }
}

#[test]
fn requant_output_saturates_at_both_ends_and_clamps_relu() {
    let (m, s) = quantize_multiplier(0.5);
    let bias = [0];
    let (mm, ss) = ([m], [s]);
    let rq = Requant {
        bias: &bias,
        multiplier: &mm,
        shift: &ss,
        zero_point: 10,
        min: -128,
        max: 127,
    };
    assert_eq!(rq.output(0, 1_000_000), 127);
    assert_eq!(rq.output(0, -1_000_000), -128);
    assert_eq!(rq.output(0, 20), 20); // 10 + 10
    assert_eq!(rq.output(0, i32::MAX), 127);
    assert_eq!(rq.output(0, i32::MIN), -128);
    let relu = Requant { min: 10, ..rq };
    assert_eq!(relu.output(0, -20), 10);
    assert_eq!(relu.output(0, 4), 12);
}

#[test]
fn qparams_represent_zero_and_round_trip() {
    for (lo, hi) in [
        (0.0, 6.0),
        (-1.0, 1.0),
        (-3.0, 0.5),
        (0.2, 5.0),
        (-4.0, -1.0),
    ] {
        let q = QParams::from_range(lo, hi);
        assert!(q.is_valid());
        assert_eq!(q.dequantize(q.zero_point as i8), 0.0);
        assert_eq!(q.quantize(0.0) as i32, q.zero_point);
        let (lo, hi) = (lo.min(0.0), hi.max(0.0));
        for k in 0..=100 {
            let x = lo + (hi - lo) * k as f32 / 100.0;
            let err = (q.dequantize(q.quantize(x)) - x).abs();
            assert!(
                err <= 0.5 * q.scale * 1.0001 + 1e-6,
                "[{lo}, {hi}] {x}: {err}"
            );
        }
    }
    // Raw pixels map exactly.
    for p in 0..=255u8 {
        let q = QParams::PIXELS.quantize(f32::from(p));
        assert_eq!(i32::from(q), i32::from(p) - 128);
        assert_eq!(QParams::PIXELS.dequantize(q), f32::from(p));
    }
    assert_eq!(QParams::PIXELS.quantize(1e9), 127);
    assert_eq!(QParams::PIXELS.quantize(-1e9), -128);
    assert_eq!(QParams::PIXELS.quantize(f32::NAN), -128);
}

/// A random float layer with batch normalization.
fn float_layer<const IN: usize, const OUT: usize>(seed: u64) -> (Dense<IN, OUT>, BatchNorm<OUT>) {
    let mut rng = Rng::new(seed);
    let mut dense = Dense::<IN, OUT>::ZERO;
    dense.init(Init::HeNormal, &mut rng);
    dense.bias.iter_mut().for_each(|b| *b = 0.3 * rng.normal());
    let mut bn = BatchNorm::<OUT>::DEFAULT;
    for o in 0..OUT {
        bn.gamma[o] = 0.5 + rng.next_f32();
        bn.beta[o] = 0.5 * rng.normal();
        bn.running_mean[o] = 0.5 * rng.normal();
        bn.running_var[o] = 0.2 + rng.next_f32();
    }
    (dense, bn)
}

fn inputs<const IN: usize>(rng: &mut Rng, q: QParams) -> ([f32; IN], [i8; IN]) {
    let x: [f32; IN] = core::array::from_fn(|_| rng.uniform(-1.0, 2.0));
    let mut xq = [0i8; IN];
    q.quantize_slice(&x, &mut xq);
    (x, xq)
}

/// The int8 layer against an f64 computation from the same int8 weights and inputs:
/// every output within one unit.
#[test]
fn one_layer_against_f64() {
    const IN: usize = 96;
    const OUT: usize = 24;
    let (dense, bn) = float_layer::<IN, OUT>(11);
    let input = QParams::from_range(-1.0, 2.0);
    let output = QParams::from_range(0.0, 8.0);
    let q = QDense::from_float(&dense, Some(&bn), Clamp::Relu, input, output).unwrap();
    let mut rng = Rng::new(12);
    for _ in 0..50 {
        let (_, xq) = inputs::<IN>(&mut rng, input);
        let mut y = [0i8; OUT];
        q.forward_with(&xq, &mut y, &mut []);
        for o in 0..OUT {
            // The folded bias, recovered in f64 from the float layer.
            let inv = 1.0 / (f64::from(bn.running_var[o]) + f64::from(bn.eps)).sqrt();
            let k = f64::from(bn.gamma[o]) * inv;
            let b = k * f64::from(dense.bias[o]) + f64::from(bn.beta[o])
                - k * f64::from(bn.running_mean[o]);
            let s_w = q.weight_scale(o).unwrap();
            let mut acc = b;
            for i in 0..IN {
                let w = s_w * f64::from(q.weight.0[o][i]);
                let x = f64::from(input.scale) * f64::from(i32::from(xq[i]) - input.zero_point);
                acc += w * x;
            }
            let want = (acc / f64::from(output.scale)).round() + f64::from(output.zero_point);
            let want = want.clamp(f64::from(output.zero_point), 127.0);
            assert!(
                (f64::from(y[o]) - want).abs() <= 1.0,
                "output {o}: {} vs {want}",
                y[o]
            );
        }
    }
}

/// Folding batch normalization: the int8 layer against the unfolded float layers
/// Dense → BatchNorm → ReLU, within the quantization error.
#[test]
fn folded_batch_norm_matches_the_float_network() {
    const IN: usize = 128;
    const OUT: usize = 32;
    type Float = Net![Dense<IN, OUT>, BatchNorm<OUT>, Relu<[f32; OUT]>];
    let (dense, bn) = float_layer::<IN, OUT>(21);
    let float: Float = net![dense.clone(), bn.clone(), Relu::DEFAULT];
    let input = QParams::from_range(-1.0, 2.0);
    let output = QParams::from_range(0.0, 12.0);
    let q = QDense::from_float(&dense, Some(&bn), Clamp::Relu, input, output).unwrap();
    let without_bn = QDense::from_float(&dense, None, Clamp::Relu, input, output).unwrap();
    let mut rng = Rng::new(22);
    let (mut sum_err, mut max_err, mut n) = (0.0f32, 0.0f32, 0);
    let mut differs = 0;
    for _ in 0..100 {
        let (x, xq) = inputs::<IN>(&mut rng, input);
        let mut y = [0.0; OUT];
        let mut scratch = Scratch::<Float>::ZERO;
        float.forward(&x, &mut y, &mut scratch);
        let (mut yq, mut y_plain) = ([0i8; OUT], [0i8; OUT]);
        q.forward_with(&xq, &mut yq, &mut []);
        without_bn.forward_with(&xq, &mut y_plain, &mut []);
        for o in 0..OUT {
            let err = (output.dequantize(yq[o]) - y[o].min(12.0)).abs();
            sum_err += err;
            max_err = max_err.max(err);
            n += 1;
            differs += usize::from(yq[o] != y_plain[o]);
        }
    }
    let s = output.scale;
    assert!(
        sum_err / n as f32 <= 0.5 * s,
        "mean error {} (scale {s})",
        sum_err / n as f32
    );
    assert!(max_err <= 3.0 * s, "max error {max_err} (scale {s})");
    // The folding matters: without it most outputs differ.
    assert!(differs > n / 2);
}

#[test]
fn from_float_refuses_what_it_cannot_represent() {
    let (mut dense, bn) = float_layer::<8, 4>(31);
    let p = QParams::from_range(-1.0, 1.0);
    dense.weight[2][3] = f32::NAN;
    assert_eq!(
        QDense::from_float(&dense, Some(&bn), Clamp::None, p, p),
        Err(QuantError::NonFinite {
            what: "weight",
            channel: 2
        })
    );
    let (mut dense, mut bn) = float_layer::<8, 4>(32);
    bn.running_var[1] = f32::INFINITY;
    bn.gamma[1] = f32::INFINITY;
    assert!(matches!(
        QDense::from_float(&dense, Some(&bn), Clamp::None, p, p),
        Err(QuantError::NonFinite { channel: 1, .. })
    ));
    let bad = QParams {
        scale: 0.0,
        zero_point: 0,
    };
    assert_eq!(
        QDense::from_float(&dense, None, Clamp::None, bad, p),
        Err(QuantError::InvalidParams { which: "input" })
    );
    let bad = QParams {
        scale: 1.0,
        zero_point: 300,
    };
    assert_eq!(
        QDense::from_float(&dense, None, Clamp::None, p, bad),
        Err(QuantError::InvalidParams { which: "output" })
    );
    dense.bias[0] = 1e6;
    let tiny = QParams {
        scale: 1e-6,
        zero_point: 0,
    };
    assert_eq!(
        QDense::from_float(&dense, None, Clamp::None, tiny, p),
        Err(QuantError::BiasOverflow { channel: 0 })
    );
    assert!(
        !QuantError::BiasOverflow { channel: 0 }
            .to_string()
            .is_empty()
    );
}

/// Random kernel inputs covering the whole `i8` range, including −128.
fn random_case<const IN: usize, const OUT: usize>(
    seed: u64,
) -> (
    Box<[[i8; IN]; OUT]>,
    [i8; IN],
    [i32; OUT],
    [i32; OUT],
    [i32; OUT],
) {
    let mut rng = Rng::new(seed);
    let mut byte = || rng.next_u32() as i8;
    let mut w = Box::new([[0i8; IN]; OUT]);
    w.iter_mut().flatten().for_each(|v| *v = byte());
    let x: [i8; IN] = core::array::from_fn(|_| byte());
    let mut rng = Rng::new(seed ^ 0xABCD);
    let bias = core::array::from_fn(|_| (rng.next_u32() as i32) >> 12);
    let mult = core::array::from_fn(|_| (1 << 30) + (rng.next_u32() >> 2) as i32);
    let shift =
        core::array::from_fn(|_| -(rng.below(20) as i32) - if rng.below(8) == 0 { -2 } else { 6 });
    (w, x, bias, mult, shift)
}

fn paths_agree<const IN: usize, const OUT: usize>(seed: u64) {
    let (w, x, bias, mult, shift) = random_case::<IN, OUT>(seed);
    for (zero_point, min) in [(0, -128), (-5, -5), (17, -128)] {
        let rq = Requant {
            bias: &bias,
            multiplier: &mult,
            shift: &shift,
            zero_point,
            min,
            max: 127,
        };
        let (mut a, mut b) = ([0i8; OUT], [0i8; OUT]);
        reference::dense(w.as_flattened(), &x, &rq, &mut a);
        kernels::dense(&w, &x, &rq, &mut b);
        assert_eq!(a, b, "{IN}×{OUT}, zero point {zero_point}");
        // Every SIMD level this CPU has, bit for bit (integer sums are exact).
        #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
        for simd in firmnet::kernels::simd::Simd::available() {
            let mut c = [0i8; OUT];
            kernels::dense_at(simd, &w, &x, &rq, &mut c);
            assert_eq!(
                a,
                c,
                "{IN}×{OUT}, zero point {zero_point}, at {}",
                simd.level()
            );
        }
        // And the reference is what it says: the requantized exact dot product.
        for o in 0..OUT {
            let dot: i32 = (0..IN).map(|i| i32::from(w[o][i]) * i32::from(x[i])).sum();
            assert_eq!(a[o], rq.output(o, dot + bias[o]));
        }
    }
}

#[test]
fn every_kernel_path_matches_the_reference() {
    paths_agree::<1, 1>(1);
    paths_agree::<7, 3>(2);
    paths_agree::<8, 4>(3);
    paths_agree::<15, 5>(4);
    paths_agree::<16, 8>(5);
    paths_agree::<17, 9>(6);
    paths_agree::<33, 10>(7);
    paths_agree::<128, 10>(8);
    paths_agree::<256, 128>(9);
    paths_agree::<784, 36>(10);
    paths_agree::<1000, 7>(11);
}

#[test]
fn a_quantized_network_is_its_layers_in_sequence() {
    type Q = Net![QDense<12, 8>, QDense<8, 5>, QDense<5, 3>];
    let p = QParams::from_range(-1.0, 1.0);
    let h = QParams::from_range(0.0, 4.0);
    let (d1, b1) = float_layer::<12, 8>(41);
    let (d2, b2) = float_layer::<8, 5>(42);
    let (d3, _) = float_layer::<5, 3>(43);
    let l1 = QDense::from_float(&d1, Some(&b1), Clamp::Relu, p, h).unwrap();
    let l2 = QDense::from_float(&d2, Some(&b2), Clamp::Relu, h, h).unwrap();
    let l3 = QDense::from_float(&d3, None, Clamp::None, h, p).unwrap();
    let net: Q = net![l1.clone(), l2.clone(), l3.clone()];
    assert_eq!(<Q as Describe>::LAYERS, 3);
    // The arena holds the two hidden activations, 8 + 5 bytes.
    assert_eq!(size_of::<Scratch<Q>>(), 16);
    assert_eq!(net.input_params(), p);
    assert_eq!(net.output_params(), p);
    let mut rng = Rng::new(44);
    for _ in 0..20 {
        let (_, xq) = inputs::<12>(&mut rng, p);
        let (mut a, mut b, mut y) = ([0i8; 8], [0i8; 5], [0i8; 3]);
        l1.forward_with(&xq, &mut a, &mut []);
        l2.forward_with(&a, &mut b, &mut []);
        l3.forward_with(&b, &mut y, &mut []);
        let mut out = [0i8; 3];
        let mut scratch = Scratch::<Q>::ZERO;
        net.forward(&xq, &mut out, &mut scratch);
        assert_eq!(out, y);
    }
}

#[test]
fn argmax_top_k_and_probabilities() {
    let logits = [3i8, -7, 12, 12, -128, 5];
    assert_eq!(argmax_i8(&logits), 2);
    assert_eq!(top_k::<3>(&logits), [2, 3, 5]);
    assert_eq!(
        top_k::<8>(&logits[..2]),
        [
            0,
            1,
            usize::MAX,
            usize::MAX,
            usize::MAX,
            usize::MAX,
            usize::MAX,
            usize::MAX
        ]
    );
    assert_eq!(argmax_i8(&[]), 0);
    let params = QParams {
        scale: 0.1,
        zero_point: 3,
    };
    let mut p = [0.0f32; 6];
    probabilities(&logits, params, &mut p);
    let sum: f32 = p.iter().sum();
    assert!((sum - 1.0).abs() < 1e-6);
    // The ratio of two probabilities is exp of the dequantized difference.
    let ratio = p[2] / p[0];
    assert!((ratio - (0.1f32 * 9.0).exp()).abs() < 1e-4, "{ratio}");
    assert_eq!(p[2], p[3]);
}
