//! The convolution layers and their kernels: forward passes against naive loops on awkward
//! shapes, training against inference, finite-difference gradients, the fast kernels
//! against their scalar twins at every SIMD level, the layers' descriptions, and a small
//! network that learns.
//!
//! One test, `training_forward_is_inference_bit_for_bit_on_the_reference_backend`,
//! switches the global kernel backend; it holds [`BACKEND`] for writing meanwhile, and
//! the tests that compare bits of two computations through the global dispatch hold it
//! for reading, so that both run on one backend. `FIRMNET_SIMD=sse2` runs the file at
//! the baseline level.

mod common;

use common::{check_layer, fill};
use firmnet::arena::{Mapping, Place};
use firmnet::kernels::conv::{self as kconv, Window};
use firmnet::layers::{Conv2dCache, INFER_PATCHES, Padding};
use firmnet::loss::SoftmaxCrossEntropy;
use firmnet::prelude::*;
use firmnet::rng::Rng;
use firmnet::spec::{Attr, LayerData, LayerSpec, Primitive};
use firmnet::tensor::Shape;
use proptest::prelude::*;
use std::sync::{PoisonError, RwLock, RwLockReadGuard};

/// Held for writing while a test switches the global kernel backend, and for reading by
/// tests that compare two computations through the global dispatch bit for bit.
static BACKEND: RwLock<()> = RwLock::new(());

/// The backend stays as it is while the guard lives.
fn same_backend() -> RwLockReadGuard<'static, ()> {
    BACKEND.read().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------
// Naive convolutions in f64, with the padding rule written out again

/// Output length and padding before, by TensorFlow Lite's rules, computed here
/// independently of the crate.
fn tflite(n: usize, k: usize, stride: usize, same: bool) -> (usize, usize) {
    if same {
        let out = n.div_ceil(stride);
        let total = ((out - 1) * stride + k).saturating_sub(n);
        (out, total / 2)
    } else {
        ((n - k) / stride + 1, 0)
    }
}

/// A convolution's geometry for the naive loops.
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
    fn out(&self) -> (usize, usize, usize, usize) {
        let (oh, pt) = tflite(self.h, self.kh, self.stride, self.same);
        let (ow, pl) = tflite(self.w, self.kw, self.stride, self.same);
        (oh, ow, pt, pl)
    }

    /// The input value read by tap `(i, j)` of output `(oy, ox)`, channel `ch`; 0 outside.
    fn read(&self, x: &[f32], oy: usize, ox: usize, i: usize, j: usize, ch: usize) -> f64 {
        let (_, _, pt, pl) = self.out();
        let y = (oy * self.stride + i) as isize - pt as isize;
        let xx = (ox * self.stride + j) as isize - pl as isize;
        if y < 0 || xx < 0 || y >= self.h as isize || xx >= self.w as isize {
            return 0.0;
        }
        f64::from(x[(y as usize * self.w + xx as usize) * self.c + ch])
    }
}

/// `y[oy][ox][k] = b[k] + Σ_{i,j,ch} x·w[k][i][j][ch]` in f64, seven loops; also the sum of
/// the absolute values of the terms of each output (the scale of its rounding error).
fn naive_conv(g: Geo, k: usize, x: &[f32], w: &[f32], b: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let (oh, ow, _, _) = g.out();
    let (mut y, mut scale) = (vec![], vec![]);
    for oy in 0..oh {
        for ox in 0..ow {
            for f in 0..k {
                let mut s = f64::from(b[f]);
                let mut a = s.abs();
                for i in 0..g.kh {
                    for j in 0..g.kw {
                        for ch in 0..g.c {
                            let wt = f64::from(w[((f * g.kh + i) * g.kw + j) * g.c + ch]);
                            let t = g.read(x, oy, ox, i, j, ch) * wt;
                            s += t;
                            a += t.abs();
                        }
                    }
                }
                y.push(s);
                scale.push(a);
            }
        }
    }
    (y, scale)
}

/// The depthwise convolution in f64: `y[oy][ox][ch] = b[ch] + Σ_{i,j} x·w[i][j][ch]`, and
/// the scale of each output.
fn naive_depthwise(g: Geo, x: &[f32], w: &[f32], b: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let (oh, ow, _, _) = g.out();
    let (mut y, mut scale) = (vec![], vec![]);
    for oy in 0..oh {
        for ox in 0..ow {
            for ch in 0..g.c {
                let mut s = f64::from(b[ch]);
                let mut a = s.abs();
                for i in 0..g.kh {
                    for j in 0..g.kw {
                        let t =
                            g.read(x, oy, ox, i, j, ch) * f64::from(w[(i * g.kw + j) * g.c + ch]);
                        s += t;
                        a += t.abs();
                    }
                }
                y.push(s);
                scale.push(a);
            }
        }
    }
    (y, scale)
}

/// Unit roundoff of f32.
const U: f64 = f32::EPSILON as f64 / 2.0;

/// `|got − want| ≤ 2·(terms + 16)·u·scale` element by element: two summation orders of
/// `terms` products each, so the test cannot pass by cancellation or sign. NaN fails.
fn assert_close(got: &[f32], want: &[f64], scale: &[f64], terms: usize, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let tol = 2.0 * (terms as f64 + 16.0) * U;
    for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
        let err = (f64::from(g) - w).abs();
        assert!(
            err <= tol * s + f64::from(f32::MIN_POSITIVE),
            "{what}: element {i}: {g} vs {w}, |err| {err:e} > {tol:e}·{s:e}"
        );
    }
}

/// Bitwise equality.
fn assert_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}: element {i}: {g} vs {w}");
    }
}

/// A tensor's values as one flat slice (arrays have inherent `as_slice` methods that
/// would otherwise win over [`Tensor`]'s).
fn flat<T: Tensor<Elem = f32>>(t: &T) -> &[f32] {
    t.as_slice()
}

/// A tensor's values as one flat mutable slice.
fn flat_mut<T: Tensor<Elem = f32>>(t: &mut T) -> &mut [f32] {
    t.as_mut_slice()
}

/// Values from `seed`, normally distributed with standard deviation `scale`.
fn values(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut v = vec![0.0; len];
    fill(&mut v, seed, scale);
    v
}

// ---------------------------------------------------------------------------------------
// Conv2d

const B: usize = 3;

/// A `Conv2d` with random weights and biases, against the naive convolution: inference
/// with the arena's patch and without, and the training pass on a batch of `B`, sample by
/// sample.
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
    let _backend = same_backend();
    let geo = Geo {
        h: H,
        w: W,
        c: C,
        kh: KH,
        kw: KW,
        stride: S,
        same: P::SAME,
    };
    let (oh, ow, pt, pl) = geo.out();
    assert_eq!((oh, ow), (OH, OW), "the case's sizes");
    let what = format!(
        "Conv2d {H}×{W}×{C} → {OH}×{OW}×{K}, {KH}×{KW}/{S} {}",
        P::NAME
    );

    let mut conv = Box::new(Conv2d::<H, W, C, K, KH, KW, OH, OW, S, P>::ZERO);
    conv.init(Init::HeNormal, &mut Rng::new(seed));
    fill(&mut conv.bias, seed + 1, 0.5);
    assert_eq!(
        (conv.attr(0), conv.attr(1), conv.attr(2)),
        (
            Some(Attr::I32(S as i32)),
            Some(Attr::I32(pt as i32)),
            Some(Attr::I32(pl as i32))
        ),
        "{what}: attributes"
    );

    let mut x: Box<[[[[f32; C]; W]; H]; B]> = Box::new(Zero::ZERO);
    fill(<[[[f32; C]; W]; H]>::batch_slice_mut(&mut x), seed + 2, 1.0);

    // Training forward on the batch.
    let mut y_train: Box<[[[[f32; K]; OW]; OH]; B]> = Box::new(Zero::ZERO);
    let mut cache: Box<Conv2dCache<B, OH, OW, KH, KW, C>> = Box::new(Zero::ZERO);
    conv.forward_train(&x, &mut y_train, &mut cache, &mut Context::new(0));

    let mut scratch = Box::new(Scratch::<Conv2d<H, W, C, K, KH, KW, OH, OW, S, P>>::ZERO);
    assert_eq!(
        size_of_val(&*scratch),
        INFER_PATCHES * KH * KW * C * 4,
        "{what}: the arena is a block of patches"
    );
    for b in 0..B {
        let xb = x[b].as_flattened().as_flattened();
        let (want, scale) = naive_conv(geo, K, xb, conv.weight_matrix(), &conv.bias);
        let terms = KH * KW * C + 1;

        let mut y = Box::new(<[[[f32; K]; OW]; OH]>::ZERO);
        conv.forward(&x[b], &mut y, &mut scratch);
        assert_close(
            flat(&*y),
            &want,
            &scale,
            terms,
            &format!("{what}: inference"),
        );

        let mut direct = Box::new(<[[[f32; K]; OW]; OH]>::ZERO);
        conv.forward_with(&x[b], &mut direct, &mut []);
        assert_close(
            flat(&*direct),
            &want,
            &scale,
            terms,
            &format!("{what}: inference without a patch buffer"),
        );

        // As many patches as the arena holds: the same bits (one and five patches read
        // the filters in place, eleven and more pack them, as training does).
        for patches in [1, 5, 11, INFER_PATCHES + 3] {
            let mut room = vec![0.0; patches * KH * KW * C + 3];
            let mut wide = Box::new(<[[[f32; K]; OW]; OH]>::ZERO);
            conv.forward_with(&x[b], &mut wide, &mut room);
            assert_bits(
                flat(&*wide),
                flat(&*y),
                &format!("{what}: {patches} patches at a time"),
            );
        }
        // The training pass: inference's bits, sample by sample.
        assert_bits(
            flat(&y_train[b]),
            flat(&*y),
            &format!("{what}: training forward, sample {b}"),
        );
    }
}

#[test]
fn conv2d_odd_width_stride_1_same() {
    conv_case::<7, 5, 3, 5, 3, 3, 7, 5, 1, Same>(1);
}

#[test]
fn conv2d_odd_width_stride_2_same() {
    conv_case::<7, 5, 3, 5, 3, 3, 4, 3, 2, Same>(2);
}

#[test]
fn conv2d_valid_one_filter() {
    conv_case::<7, 5, 3, 1, 3, 3, 5, 3, 1, Valid>(3);
}

#[test]
fn conv2d_valid_stride_2_one_channel() {
    conv_case::<7, 5, 1, 5, 3, 3, 3, 2, 2, Valid>(4);
}

#[test]
fn conv2d_keyword_spotting_first_layer() {
    // MLPerf Tiny's keyword spotting (DS-CNN): 49×10 MFCC, 10×4 kernel, stride 2, same.
    conv_case::<49, 10, 1, 5, 10, 4, 25, 5, 2, Same>(5);
    conv_case::<49, 10, 1, 64, 10, 4, 25, 5, 2, Same>(6);
}

#[test]
fn conv2d_rectangular_kernel_valid_stride_2() {
    conv_case::<9, 6, 3, 5, 2, 4, 4, 2, 2, Valid>(7);
}

#[test]
fn conv2d_even_kernel_pads_more_after() {
    // 4×4 on 6×6, same: 3 rows of padding, 1 before and 2 after.
    conv_case::<6, 6, 3, 2, 4, 4, 6, 6, 1, Same>(8);
    // Stride 3 on 8: 3 outputs, no padding needed; 2×2 kernel.
    conv_case::<8, 8, 2, 3, 2, 2, 3, 3, 3, Same>(9);
}

#[test]
fn conv2d_kernel_larger_than_the_input_with_same_padding() {
    conv_case::<3, 2, 2, 3, 5, 5, 3, 2, 1, Same>(10);
}

#[test]
fn conv2d_pointwise() {
    conv_case::<4, 5, 9, 7, 1, 1, 4, 5, 1, Same>(11);
    conv_case::<4, 5, 9, 7, 1, 1, 2, 3, 2, Valid>(12);
}

#[test]
fn conv2d_hand_computed() {
    // 3×3 input 1..9, one 2×2 filter [[1, 2], [3, 4]], valid, stride 1:
    // y[0][0] = 1·1 + 2·2 + 4·3 + 5·4 = 37, y[0][1] = 47, y[1][0] = 67, y[1][1] = 77.
    let mut conv = Conv2d::<3, 3, 1, 1, 2, 2, 2, 2, 1, Valid>::ZERO;
    conv.weight = [[[[1.0], [2.0]], [[3.0], [4.0]]]];
    conv.bias = [0.5];
    let x = [
        [[1.0], [2.0], [3.0]],
        [[4.0], [5.0], [6.0]],
        [[7.0], [8.0], [9.0]],
    ];
    let mut y = [[[0.0]; 2]; 2];
    let mut scratch = Scratch::<Conv2d<3, 3, 1, 1, 2, 2, 2, 2, 1, Valid>>::ZERO;
    conv.forward(&x, &mut y, &mut scratch);
    assert_eq!(y, [[[37.5], [47.5]], [[67.5], [77.5]]]);
    // Same padding, stride 2 on 3×3: 2×2 outputs, padding 0 before and 1 after.
    let mut conv = Conv2d::<3, 3, 1, 1, 2, 2, 2, 2, 2>::ZERO;
    conv.weight = [[[[1.0], [2.0]], [[3.0], [4.0]]]];
    conv.forward_with(&x, &mut y, &mut [0.0; 4]);
    // y[0][1] = x[0][2]·1 + x[1][2]·3 = 21 (column 3 is padding), y[1][0] = 7·1 + 8·2,
    // y[1][1] sees only x[2][2] = 9, through weight 1.
    assert_eq!(y, [[[37.0], [21.0]], [[23.0], [9.0]]]);
}

// ---------------------------------------------------------------------------------------
// DepthwiseConv2d

/// A `DepthwiseConv2d` with random weights and biases, against the naive loops: inference
/// and the training pass, sample by sample.
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
    let _backend = same_backend();
    let geo = Geo {
        h: H,
        w: W,
        c: C,
        kh: KH,
        kw: KW,
        stride: S,
        same: P::SAME,
    };
    let (oh, ow, pt, pl) = geo.out();
    assert_eq!((oh, ow), (OH, OW), "the case's sizes");
    let what = format!(
        "DepthwiseConv2d {H}×{W}×{C} → {OH}×{OW}, {KH}×{KW}/{S} {}",
        P::NAME
    );

    let mut dw = Box::new(DepthwiseConv2d::<H, W, C, KH, KW, OH, OW, S, P>::ZERO);
    dw.init(Init::HeNormal, &mut Rng::new(seed));
    fill(&mut dw.bias, seed + 1, 0.5);
    assert_eq!(
        (dw.attr(0), dw.attr(1), dw.attr(2)),
        (
            Some(Attr::I32(S as i32)),
            Some(Attr::I32(pt as i32)),
            Some(Attr::I32(pl as i32))
        ),
        "{what}: attributes"
    );
    assert_eq!(
        size_of::<Scratch<DepthwiseConv2d<H, W, C, KH, KW, OH, OW, S, P>>>(),
        0
    );

    let mut x: Box<[[[[f32; C]; W]; H]; B]> = Box::new(Zero::ZERO);
    fill(<[[[f32; C]; W]; H]>::batch_slice_mut(&mut x), seed + 2, 1.0);
    let mut y_train: Box<[[[[f32; C]; OW]; OH]; B]> = Box::new(Zero::ZERO);
    dw.forward_train(&x, &mut y_train, &mut (), &mut Context::new(0));
    for b in 0..B {
        let xb = x[b].as_flattened().as_flattened();
        let (want, scale) = naive_depthwise(geo, xb, dw.weight_flat(), &dw.bias);
        let terms = KH * KW + 1;
        let mut y = Box::new(<[[[f32; C]; OW]; OH]>::ZERO);
        let mut scratch = Scratch::<DepthwiseConv2d<H, W, C, KH, KW, OH, OW, S, P>>::ZERO;
        dw.forward(&x[b], &mut y, &mut scratch);
        assert_close(
            flat(&*y),
            &want,
            &scale,
            terms,
            &format!("{what}: inference"),
        );
        assert_bits(
            flat(&y_train[b]),
            flat(&*y),
            &format!("{what}: training forward, sample {b}"),
        );
    }
}

#[test]
fn depthwise_odd_width_stride_1_same() {
    depthwise_case::<7, 5, 3, 3, 3, 7, 5, 1, Same>(21);
}

#[test]
fn depthwise_stride_2_same_one_channel() {
    depthwise_case::<7, 5, 1, 3, 3, 4, 3, 2, Same>(22);
}

#[test]
fn depthwise_valid() {
    depthwise_case::<7, 5, 3, 3, 3, 5, 3, 1, Valid>(23);
    depthwise_case::<7, 5, 9, 3, 3, 3, 2, 2, Valid>(24);
}

#[test]
fn depthwise_channels_around_a_vector() {
    // 8 channels fill a vector; 9 and 17 leave a remainder.
    depthwise_case::<6, 7, 8, 3, 3, 6, 7, 1, Same>(25);
    depthwise_case::<6, 7, 9, 3, 3, 3, 4, 2, Same>(26);
    depthwise_case::<5, 5, 17, 3, 3, 5, 5, 1, Same>(27);
}

#[test]
fn depthwise_rectangular_and_even_kernels() {
    depthwise_case::<9, 6, 3, 2, 4, 4, 2, 2, Valid>(28);
    depthwise_case::<6, 6, 5, 4, 4, 6, 6, 1, Same>(29);
    depthwise_case::<25, 5, 12, 10, 4, 13, 3, 2, Same>(30);
    depthwise_case::<3, 2, 2, 5, 5, 3, 2, 1, Same>(31);
}

// ---------------------------------------------------------------------------------------
// Training forward against inference, bit for bit on the reference backend

#[test]
fn training_forward_is_inference_bit_for_bit_on_the_reference_backend() {
    // The firmware's path: on the reference backend too, the training pass gives
    // inference's bits (the SIMD levels are checked by every `conv_case`).
    type Conv = Conv2d<9, 7, 3, 5, 3, 3, 5, 4, 2>;
    let mut conv = Box::new(Conv::ZERO);
    conv.init(Init::GlorotUniform, &mut Rng::new(40));
    fill(&mut conv.bias, 41, 0.3);
    let mut x: Box<[[[[f32; 3]; 7]; 9]; 4]> = Box::new(Zero::ZERO);
    fill(<[[[f32; 3]; 7]; 9]>::batch_slice_mut(&mut x), 42, 1.0);
    let mut y: Box<[[[[f32; 5]; 4]; 5]; 4]> = Box::new(Zero::ZERO);
    let mut cache = Box::new(<<Conv as Layer>::Cache<4> as Zero>::ZERO);
    let mut scratch = Scratch::<Conv>::ZERO;
    kernels_backend(firmnet::kernels::Backend::Reference, || {
        conv.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
        for b in 0..4 {
            let mut one = [[[0.0; 5]; 4]; 5];
            conv.forward(&x[b], &mut one, &mut scratch);
            assert_bits(flat(&y[b]), flat(&one), &format!("sample {b}"));
        }
    });
}

/// The layer's training pass against the products it stands for, on the whole batch, bit
/// for bit at every SIMD level and on the reference backend: the forward pass (which
/// reads the patches in place) against im2col and one `gemm_nt_ordered`, the weight
/// gradient against `gemm_tn_acc` on those patches, the input gradient (sample by
/// sample) against one `gemm_nn` for the batch and col2im.
fn training_pass_case<
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
    use firmnet::kernels::{self, Backend, SimdLevel};
    const NB: usize = 3;
    let g = Conv2d::<H, W, C, K, KH, KW, OH, OW, S, P>::WINDOW;
    let (m, n) = (NB * g.pixels(), g.patch_len());
    let mut conv = Box::new(Conv2d::<H, W, C, K, KH, KW, OH, OW, S, P>::ZERO);
    conv.init(Init::HeNormal, &mut Rng::new(seed));
    fill(&mut conv.bias, seed + 1, 0.5);
    let x = batch::<[[[f32; C]; W]; H], NB>(seed + 2);
    let dy = batch::<[[[f32; K]; OW]; OH], NB>(seed + 3);
    let xs = <[[[f32; C]; W]; H]>::batch_slice(&x);
    let dys = <[[[f32; K]; OW]; OH]>::batch_slice(&dy);
    let _exclusive = BACKEND.write().unwrap_or_else(PoisonError::into_inner);
    let before = kernels::simd_level();
    let runs = SimdLevel::available()
        .map(Some)
        .chain([None])
        .collect::<Vec<_>>();
    for level in runs {
        match level {
            Some(l) => {
                kernels::set_backend(Backend::Simd);
                kernels::set_simd_level(l).unwrap();
            }
            None => kernels::set_backend(Backend::Reference),
        }
        let what = format!(
            "Conv2d {H}×{W}×{C} → {K}, {KH}×{KW}/{S} {} at {level:?}",
            P::NAME
        );
        let mut y = Box::new(<[[[[f32; K]; OW]; OH]; NB]>::ZERO);
        let mut cache = Box::new(<Conv2dCache<NB, OH, OW, KH, KW, C>>::ZERO);
        conv.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
        let mut grad = Box::new(Conv2d::<H, W, C, K, KH, KW, OH, OW, S, P>::ZERO);
        let mut dx = Box::new(<[[[[f32; C]; W]; H]; NB]>::ZERO);
        conv.backward(&x, &y, &dy, Some(&mut dx), &mut cache, &mut grad);

        let mut patches = vec![0.0; m * n];
        for (xb, pb) in xs
            .chunks_exact(g.input_len())
            .zip(patches.chunks_exact_mut(g.pixels() * n))
        {
            kconv::im2col(&g, xb, pb);
        }
        let mut want_y = vec![0.0; m * K];
        kernels::gemm_nt_ordered(
            &patches,
            conv.weight_matrix(),
            &conv.bias,
            &mut want_y,
            m,
            K,
            n,
        );
        assert_bits(
            <[[[f32; K]; OW]; OH]>::batch_slice(&y),
            &want_y,
            &format!("{what}: forward"),
        );
        let mut want_dw = vec![0.0; K * n];
        kernels::gemm_tn_acc(dys, &patches, &mut want_dw, K, n, m);
        assert_bits(
            grad.weight_matrix(),
            &want_dw,
            &format!("{what}: weight gradient"),
        );
        let mut dpatches = vec![0.0; m * n];
        kernels::gemm_nn(dys, conv.weight_matrix(), &mut dpatches, m, n, K);
        let mut want_dx = vec![0.0; NB * g.input_len()];
        for (db, dxb) in dpatches
            .chunks_exact(g.pixels() * n)
            .zip(want_dx.chunks_exact_mut(g.input_len()))
        {
            kconv::col2im_add(&g, db, dxb);
        }
        assert_bits(
            <[[[f32; C]; W]; H]>::batch_slice(&dx),
            &want_dx,
            &format!("{what}: input gradient"),
        );
    }
    kernels::set_backend(Backend::Simd);
    kernels::set_simd_level(before).unwrap();
}

#[test]
fn training_pass_is_the_batch_products_bit_for_bit() {
    training_pass_case::<7, 5, 3, 5, 3, 3, 4, 3, 2, Same>(80);
    training_pass_case::<9, 7, 1, 33, 3, 3, 7, 5, 1, Valid>(81);
    training_pass_case::<6, 9, 17, 17, 2, 4, 6, 9, 1, Same>(82);
    training_pass_case::<14, 14, 16, 32, 3, 3, 14, 14, 1, Same>(83);
}

/// Runs `f` with the global kernel backend set to `backend`, then restores the default.
fn kernels_backend(backend: firmnet::kernels::Backend, f: impl FnOnce()) {
    let _exclusive = BACKEND.write().unwrap_or_else(PoisonError::into_inner);
    firmnet::kernels::set_backend(backend);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    firmnet::kernels::set_backend(firmnet::kernels::Backend::Simd);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

// ---------------------------------------------------------------------------------------
// Gradients by finite differences

/// A batch of random inputs.
fn batch<T: Tensor<Elem = f32>, const N: usize>(seed: u64) -> Box<[T; N]> {
    let mut x: Box<[T; N]> = Box::new(Zero::ZERO);
    fill(T::batch_slice_mut(&mut x), seed, 1.0);
    x
}

#[test]
fn conv2d_gradients_same_stride_2() {
    let mut conv = Box::new(Conv2d::<7, 5, 3, 5, 3, 3, 4, 3, 2>::ZERO);
    conv.init(Init::GlorotNormal, &mut Rng::new(50));
    fill(&mut conv.bias, 51, 0.1);
    let x = batch::<[[[f32; 3]; 5]; 7], 4>(52);
    let e = check_layer(&mut *conv, &x, 53, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

#[test]
fn conv2d_gradients_valid_rectangular_kernel() {
    let mut conv = Box::new(Conv2d::<9, 6, 2, 4, 2, 4, 8, 3, 1, Valid>::ZERO);
    conv.init(Init::HeNormal, &mut Rng::new(54));
    fill(&mut conv.bias, 55, 0.1);
    let x = batch::<[[[f32; 2]; 6]; 9], 3>(56);
    let e = check_layer(&mut *conv, &x, 57, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

#[test]
fn conv2d_gradients_even_kernel_same() {
    let mut conv = Box::new(Conv2d::<6, 5, 1, 3, 4, 4, 6, 5>::ZERO);
    conv.init(Init::HeNormal, &mut Rng::new(58));
    let x = batch::<[[[f32; 1]; 5]; 6], 2>(59);
    let e = check_layer(&mut *conv, &x, 60, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

#[test]
fn depthwise_gradients_same_stride_2() {
    let mut dw = Box::new(DepthwiseConv2d::<7, 5, 9, 3, 3, 4, 3, 2>::ZERO);
    dw.init(Init::HeNormal, &mut Rng::new(61));
    fill(&mut dw.bias, 62, 0.1);
    let x = batch::<[[[f32; 9]; 5]; 7], 4>(63);
    let e = check_layer(&mut *dw, &x, 64, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

#[test]
fn depthwise_gradients_valid_rectangular_kernel() {
    let mut dw = Box::new(DepthwiseConv2d::<8, 6, 3, 3, 2, 3, 3, 2, Valid>::ZERO);
    dw.init(Init::HeNormal, &mut Rng::new(65));
    fill(&mut dw.bias, 66, 0.1);
    let x = batch::<[[[f32; 3]; 6]; 8], 3>(67);
    let e = check_layer(&mut *dw, &x, 68, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

#[test]
fn gradients_accumulate_and_input_gradient_is_optional() {
    let _backend = same_backend();
    // Two backward passes add their parameter gradients; without `dx` the parameter
    // gradients are the same.
    type Conv = Conv2d<5, 5, 2, 3, 3, 3, 5, 5>;
    let mut conv = Conv::ZERO;
    conv.init(Init::HeNormal, &mut Rng::new(70));
    let x = batch::<[[[f32; 2]; 5]; 5], 2>(71);
    let dy = batch::<[[[f32; 3]; 5]; 5], 2>(72);
    let mut y = Box::new(<[[[[f32; 3]; 5]; 5]; 2]>::ZERO);
    let mut cache = Box::new(<<Conv as Layer>::Cache<2> as Zero>::ZERO);
    conv.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
    let (mut once, mut twice) = (Conv::ZERO, Conv::ZERO);
    let mut dx = Box::new(<[[[[f32; 2]; 5]; 5]; 2]>::ZERO);
    conv.backward(&x, &y, &dy, Some(&mut dx), &mut cache, &mut once);
    conv.backward(&x, &y, &dy, None, &mut cache, &mut twice);
    conv.backward(&x, &y, &dy, None, &mut cache, &mut twice);
    // The input gradient is written, not added.
    let mut dirty = Box::new([[[[f32::NAN; 2]; 5]; 5]; 2]);
    conv.backward(
        &x,
        &y,
        &dy,
        Some(&mut dirty),
        &mut cache,
        &mut twice.clone(),
    );
    assert_bits(
        flat(&dirty[1]),
        flat(&dx[1]),
        "Conv2d dx over a dirty buffer",
    );
    for t in 0..2 {
        for (a, b) in Params::tensor(&once, t)
            .iter()
            .zip(Params::tensor(&twice, t))
        {
            assert!((2.0 * a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} {b}");
        }
    }
    let mut dw = DepthwiseConv2d::<5, 5, 2, 3, 3, 5, 5>::ZERO;
    dw.init(Init::HeNormal, &mut Rng::new(73));
    let dyd = batch::<[[[f32; 2]; 5]; 5], 2>(74);
    let (mut once, mut twice) = (DepthwiseConv2d::ZERO, DepthwiseConv2d::ZERO);
    let mut dx = Box::new(<[[[[f32; 2]; 5]; 5]; 2]>::ZERO);
    dw.backward(&x, &x, &dyd, Some(&mut dx), &mut (), &mut once);
    dw.backward(&x, &x, &dyd, None, &mut (), &mut twice);
    dw.backward(&x, &x, &dyd, None, &mut (), &mut twice);
    let mut dirty = Box::new([[[[f32::NAN; 2]; 5]; 5]; 2]);
    dw.backward(&x, &x, &dyd, Some(&mut dirty), &mut (), &mut twice.clone());
    assert_bits(
        flat(&dirty[1]),
        flat(&dx[1]),
        "DepthwiseConv2d dx over a dirty buffer",
    );
    for t in 0..2 {
        for (a, b) in Params::tensor(&once, t)
            .iter()
            .zip(Params::tensor(&twice, t))
        {
            assert!((2.0 * a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} {b}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Kernels: the fast paths against their scalar twins

/// The windows the kernel tests sweep: odd widths, strides 1 to 3, both paddings, 1 to 17
/// channels, kernels larger than the input.
fn windows() -> Vec<Window> {
    let mut v = vec![];
    for &(h, w) in &[(7, 5), (1, 1), (6, 6), (49, 10), (3, 2), (9, 4)] {
        for &c in &[1, 3, 8, 9, 17, 43] {
            for &(kh, kw) in &[(3, 3), (1, 1), (2, 4), (10, 4), (5, 5)] {
                for stride in 1..=3 {
                    for same in [true, false] {
                        if let Some(g) = Window::new(h, w, c, kh, kw, stride, same) {
                            v.push(g);
                        }
                    }
                }
            }
        }
    }
    assert!(v.len() > 500, "{} windows", v.len());
    v
}

/// The window's own sizes against the independent rule.
fn check_window(g: &Window, same: bool) {
    let (oh, pt) = tflite(g.h(), g.kh(), g.stride(), same);
    let (ow, pl) = tflite(g.w(), g.kw(), g.stride(), same);
    assert_eq!(
        (g.oh(), g.ow(), g.pad_top(), g.pad_left()),
        (oh, ow, pt, pl),
        "{g:?}"
    );
}

#[test]
fn im2col_and_col2im_equal_their_twins_bit_for_bit() {
    for (n, g) in windows().iter().enumerate() {
        let x = values(g.input_len(), n as u64, 1.0);
        let len = g.pixels() * g.patch_len();
        let (mut fast, mut slow) = (vec![f32::NAN; len], vec![f32::NAN; len]);
        kconv::im2col(g, &x, &mut fast);
        kconv::reference::im2col(g, &x, &mut slow);
        assert_bits(&fast, &slow, &format!("im2col {g:?}"));
        // One patch at a time.
        let mut one = vec![f32::NAN; g.patch_len()];
        for p in [0, g.pixels() / 2, g.pixels() - 1] {
            kconv::patch(g, &x, p / g.ow(), p % g.ow(), &mut one);
            assert_bits(&one, &slow[p * g.patch_len()..][..g.patch_len()], "patch");
        }
        // col2im adds onto what is there.
        let dp = values(len, n as u64 + 7, 1.0);
        let start = values(g.input_len(), n as u64 + 9, 1.0);
        let (mut fast, mut slow) = (start.clone(), start.clone());
        kconv::col2im_add(g, &dp, &mut fast);
        kconv::reference::col2im_add(g, &dp, &mut slow);
        assert_bits(&fast, &slow, &format!("col2im_add {g:?}"));
    }
}

/// The forward product read in place from the maps ([`Simd::conv_ordered`]) against im2col
/// of every map and one `gemm_nt_ordered`, bit for bit, at every SIMD level: every window
/// of [`windows`] (odd widths, strides 1 to 3, both paddings, 1 to 43 channels, patches
/// of 1 to 1,720 values, so several blocks of terms), 1 to 3 maps, filter counts around
/// the register tiles (1, 5, 16, 17, 32, 33, 40).
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
#[test]
fn conv_ordered_is_im2col_and_gemm_nt_ordered_bit_for_bit() {
    use firmnet::kernels::simd::Simd;
    for (t, g) in windows().iter().enumerate() {
        let seed = t as u64;
        let n = [1, 5, 16, 17, 32, 33, 40][t % 7];
        let k = g.patch_len();
        let maps = if g.pixels() * n * k > 1 << 20 {
            1
        } else {
            1 + t % 3
        };
        let m = maps * g.pixels();
        let x = values(maps * g.input_len(), seed, 1.0);
        let w = values(n * k, seed + 1, 0.5);
        let bias = values(n, seed + 2, 0.5);
        let mut patches = vec![f32::NAN; m * k];
        for (xb, pb) in x
            .chunks_exact(g.input_len())
            .zip(patches.chunks_exact_mut(g.pixels() * k))
        {
            kconv::im2col(g, xb, pb);
        }
        let mut scratch = vec![f32::NAN; if g.overhangs() { g.padded_len() } else { 0 }];
        for s in Simd::available() {
            let mut want = vec![f32::NAN; m * n];
            s.gemm_nt_ordered(&patches, &w, &bias, &mut want, m, n, k);
            let mut got = vec![f32::NAN; m * n];
            s.conv_ordered(g, &x, &w, &bias, &mut got, &mut scratch);
            assert_bits(
                &got,
                &want,
                &format!(
                    "conv_ordered {g:?}, {maps} maps, {n} filters at {}",
                    s.level()
                ),
            );
        }
    }
}

/// The padded map holds each patch's runs: kernel row `i` of pixel `(oy, ox)` is the run
/// of `kw·c` values from `(oy·stride + i, ox·stride)`, as im2col copies it.
#[test]
fn padded_map_holds_the_patches() {
    for (t, g) in windows().iter().enumerate() {
        let x = values(g.input_len(), t as u64, 1.0);
        let mut padded = vec![f32::NAN; g.padded_len()];
        kconv::pad(g, &x, &mut padded);
        let mut patch = vec![f32::NAN; g.patch_len()];
        let run = g.kw() * g.c();
        for p in 0..g.pixels() {
            let (oy, ox) = (p / g.ow(), p % g.ow());
            kconv::patch(g, &x, oy, ox, &mut patch);
            for (i, want) in patch.chunks_exact(run).enumerate() {
                let at = ((oy * g.stride() + i) * g.padded_cols() + ox * g.stride()) * g.c();
                assert_bits(
                    &padded[at..at + run],
                    want,
                    &format!("{g:?} pixel {p} row {i}"),
                );
            }
        }
        if !g.overhangs() {
            assert_eq!((g.pad_top(), g.pad_left()), (0, 0), "{g:?}");
            assert!(
                g.padded_rows() <= g.h() && g.padded_cols() <= g.w(),
                "{g:?}"
            );
        }
    }
}

/// Through the global dispatch: the product runs in place only at the SIMD backend and
/// with room for the padded map; otherwise it leaves the output alone and says so.
#[test]
fn conv_ordered_dispatch_needs_room_and_the_simd_backend() {
    let g = Window::new(5, 4, 3, 3, 3, 1, true).unwrap();
    assert!(g.overhangs());
    let (x, w, bias) = (
        values(g.input_len(), 1, 1.0),
        values(2 * 27, 2, 1.0),
        [0.5, -0.5],
    );
    let mut y = vec![f32::NAN; g.pixels() * 2];
    let _backend = same_backend();
    let simd = cfg!(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64"
    ));
    let mut short = vec![0.0; g.padded_len() - 1];
    assert!(!firmnet::kernels::conv_ordered(
        &g, &x, &w, &bias, &mut y, &mut short
    ));
    assert!(y.iter().all(|v| v.is_nan()));
    let mut room = vec![0.0; g.padded_len()];
    let ran = firmnet::kernels::conv_ordered(&g, &x, &w, &bias, &mut y, &mut room);
    assert_eq!(
        ran,
        simd && firmnet::kernels::backend() == firmnet::kernels::Backend::Simd
    );
    assert_eq!(y.iter().all(|v| v.is_nan()), !ran);
    // A valid window reads no padding, and needs no room.
    let v = Window::new(5, 4, 3, 3, 3, 1, false).unwrap();
    assert!(!v.overhangs());
    let mut y = vec![f32::NAN; v.pixels() * 2];
    assert_eq!(
        firmnet::kernels::conv_ordered(&v, &x, &w, &bias, &mut y, &mut []),
        ran
    );
    drop(_backend);
    // The reference backend keeps its own path (im2col, then the scalar product).
    kernels_backend(firmnet::kernels::Backend::Reference, || {
        let mut y = vec![f32::NAN; g.pixels() * 2];
        assert!(!firmnet::kernels::conv_ordered(
            &g, &x, &w, &bias, &mut y, &mut room
        ));
        assert!(y.iter().all(|v| v.is_nan()));
    });
}

#[test]
fn col2im_is_the_adjoint_of_im2col() {
    // ⟨im2col(x), p⟩ = ⟨x, col2im(p)⟩ for every x and p: what makes dX = col2im(dPatches)
    // the input gradient.
    for (n, g) in windows().iter().enumerate().step_by(5) {
        let x = values(g.input_len(), n as u64, 1.0);
        let p = values(g.pixels() * g.patch_len(), n as u64 + 1, 1.0);
        let mut cols = vec![0.0; p.len()];
        kconv::im2col(g, &x, &mut cols);
        let mut back = vec![0.0; x.len()];
        kconv::col2im_add(g, &p, &mut back);
        let lhs: f64 = cols
            .iter()
            .zip(&p)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        let rhs: f64 = x
            .iter()
            .zip(&back)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum();
        let scale: f64 = cols
            .iter()
            .zip(&p)
            .map(|(&a, &b)| f64::from(a * b).abs())
            .sum();
        assert!(
            (lhs - rhs).abs() <= 1e-5 * (1.0 + scale),
            "{g:?}: {lhs} vs {rhs}"
        );
    }
}

/// Each depthwise kernel at `simd` against the reference on window `g`: bit for bit if
/// `exact`, else within rounding.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
fn depthwise_kernels_agree(simd: firmnet::kernels::simd::Simd, g: &Window, seed: u64, exact: bool) {
    let c = g.c();
    let x = values(g.input_len(), seed, 1.0);
    let w = values(g.kh() * g.kw() * c, seed + 1, 1.0);
    let b = values(c, seed + 2, 1.0);
    let dy = values(g.pixels() * c, seed + 3, 1.0);
    let what = format!("{:?} {g:?}", simd.level());
    let compare = |got: &[f32], want: &[f32], terms: usize, scale: &[f64], what: &str| {
        if exact {
            assert_bits(got, want, what);
        } else {
            let want: Vec<f64> = want.iter().map(|&v| f64::from(v)).collect();
            assert_close(got, &want, scale, terms, what);
        }
    };

    // Forward.
    let (mut fast, mut slow) = (
        vec![f32::NAN; g.pixels() * c],
        vec![f32::NAN; g.pixels() * c],
    );
    simd.depthwise(g, &x, &w, &b, &mut fast);
    kconv::reference::depthwise(g, &x, &w, &b, &mut slow);
    let scale = depthwise_scale(g, &x, &w, &b);
    compare(
        &fast,
        &slow,
        g.kh() * g.kw() + 1,
        &scale,
        &format!("{what}: forward"),
    );

    // Parameter gradients, added to what is there.
    let dw0 = values(w.len(), seed + 4, 1.0);
    let db0 = values(c, seed + 5, 1.0);
    let (mut fdw, mut sdw) = (dw0.clone(), dw0.clone());
    let (mut fdb, mut sdb) = (db0.clone(), db0.clone());
    simd.depthwise_params_grad(g, &x, &dy, &mut fdw, &mut fdb);
    kconv::reference::depthwise_params_grad(g, &x, &dy, &mut sdw, &mut sdb);
    // Scale of dW[i][j][ch]: |dw0| + Σ |dy·x| ≤ |dw0| + Σ_pixels |dy|·max|x|.
    let xmax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let dsum: Vec<f64> = (0..c)
        .map(|ch| {
            (0..g.pixels())
                .map(|p| f64::from(dy[p * c + ch].abs()))
                .sum()
        })
        .collect();
    let wscale: Vec<f64> = (0..w.len())
        .map(|k| f64::from(dw0[k].abs()) + dsum[k % c] * f64::from(xmax))
        .collect();
    compare(&fdw, &sdw, g.pixels() + 1, &wscale, &format!("{what}: dW"));
    // db is additions only: the same bits on every level.
    assert_bits(&fdb, &sdb, &format!("{what}: db"));

    // Input gradient, written over whatever is there.
    let (mut fdx, mut sdx) = (vec![f32::NAN; x.len()], vec![f32::NAN; x.len()]);
    simd.depthwise_input_grad(g, &w, &dy, &mut fdx);
    kconv::reference::depthwise_input_grad(g, &w, &dy, &mut sdx);
    let wmax = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let dymax = dy.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let taps = g.kh().div_ceil(g.stride()) * g.kw().div_ceil(g.stride());
    let xscale = vec![f64::from(wmax * dymax) * taps as f64; x.len()];
    compare(&fdx, &sdx, taps, &xscale, &format!("{what}: dX"));
}

/// The scale (sum of absolute terms) of each depthwise output.
fn depthwise_scale(g: &Window, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f64> {
    let c = g.c();
    let mut scale = vec![0.0; g.pixels() * c];
    let mut patch = vec![0.0; g.patch_len()];
    for p in 0..g.pixels() {
        kconv::patch(g, x, p / g.ow(), p % g.ow(), &mut patch);
        for ch in 0..c {
            let mut a = f64::from(b[ch].abs());
            for t in 0..g.kh() * g.kw() {
                a += f64::from((patch[t * c + ch] * w[t * c + ch]).abs());
            }
            scale[p * c + ch] = a;
        }
    }
    scale
}

#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
#[test]
fn depthwise_kernels_equal_their_twins_at_every_level() {
    use firmnet::kernels::SimdLevel;
    use firmnet::kernels::simd::Simd;
    let levels: Vec<Simd> = Simd::available().collect();
    assert!(!levels.is_empty());
    for (n, g) in windows().iter().enumerate() {
        for &simd in &levels {
            // SSE2 rounds each product before the sum, in the reference's order: its bits.
            let exact = simd.level() == SimdLevel::Sse2;
            depthwise_kernels_agree(simd, g, n as u64 * 10, exact);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn the_baseline_level_is_available_and_exact() {
    // What `FIRMNET_SIMD=sse2` selects: every x86-64 CPU runs it, and its depthwise
    // kernels give the reference's bits (checked in the test above for every window).
    use firmnet::kernels::SimdLevel;
    use firmnet::kernels::simd::Simd;
    let sse2 = Simd::new(SimdLevel::Sse2).expect("SSE2 on x86-64");
    let g = Window::new(25, 5, 12, 10, 4, 2, true).unwrap();
    depthwise_kernels_agree(sse2, &g, 99, true);
}

#[test]
fn depthwise_dispatch_equals_the_reference_within_rounding() {
    // Through the global dispatch (whatever backend and level run), against the twins.
    for (n, g) in windows().iter().enumerate().step_by(7) {
        let c = g.c();
        let x = values(g.input_len(), n as u64, 1.0);
        let w = values(g.kh() * g.kw() * c, n as u64 + 1, 1.0);
        let b = values(c, n as u64 + 2, 1.0);
        let (mut got, mut want) = (vec![0.0; g.pixels() * c], vec![0.0; g.pixels() * c]);
        kconv::depthwise(g, &x, &w, &b, &mut got);
        kconv::reference::depthwise(g, &x, &w, &b, &mut want);
        let scale = depthwise_scale(g, &x, &w, &b);
        let want: Vec<f64> = want.iter().map(|&v| f64::from(v)).collect();
        assert_close(&got, &want, &scale, g.kh() * g.kw() + 1, &format!("{g:?}"));
    }
}

#[test]
fn windows_follow_the_padding_rule() {
    for h in 1..20 {
        for k in 1..8 {
            for stride in 1..5 {
                for same in [true, false] {
                    let g = Window::new(h, 3, 1, k, 1, stride, same);
                    if !same && k > h {
                        assert_eq!(g, None);
                        continue;
                    }
                    check_window(&g.unwrap(), same);
                }
            }
        }
    }
    assert_eq!(Window::new(5, 5, 0, 3, 3, 1, true), None);
    assert_eq!(Window::new(5, 5, 1, 3, 3, 0, true), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any window: the fast im2col and col2im against their twins, and the depthwise
    /// kernels at every level.
    #[test]
    fn any_window(h in 1usize..12, w in 1usize..12, c in 1usize..12, kh in 1usize..7,
                  kw in 1usize..7, stride in 1usize..4, same: bool, seed: u64) {
        let Some(g) = Window::new(h, w, c, kh, kw, stride, same) else {
            prop_assert!(!same && (kh > h || kw > w));
            return Ok(());
        };
        check_window(&g, same);
        let x = values(g.input_len(), seed, 1.0);
        let len = g.pixels() * g.patch_len();
        let (mut fast, mut slow) = (vec![f32::NAN; len], vec![f32::NAN; len]);
        kconv::im2col(&g, &x, &mut fast);
        kconv::reference::im2col(&g, &x, &mut slow);
        assert_bits(&fast, &slow, "im2col");
        let (mut fast, mut slow) = (x.clone(), x.clone());
        kconv::col2im_add(&g, &slow_patches(&g, seed), &mut fast);
        kconv::reference::col2im_add(&g, &slow_patches(&g, seed), &mut slow);
        assert_bits(&fast, &slow, "col2im_add");
        every_level(&g, seed);
    }
}

/// The depthwise kernels at every SIMD level this CPU runs against their twins.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
fn every_level(g: &Window, seed: u64) {
    for simd in firmnet::kernels::simd::Simd::available() {
        let exact = simd.level() == firmnet::kernels::SimdLevel::Sse2;
        depthwise_kernels_agree(simd, g, seed, exact);
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
fn every_level(_: &Window, _: u64) {}

fn slow_patches(g: &Window, seed: u64) -> Vec<f32> {
    values(g.pixels() * g.patch_len(), seed ^ 0x55, 1.0)
}

// ---------------------------------------------------------------------------------------
// Descriptions: spec, parameters, attributes, constructors, files

/// MLPerf Tiny's keyword-spotting first layer, 64 filters.
type Kws = Conv2d<49, 10, 1, 64, 10, 4, 25, 5, 2>;

#[test]
fn conv2d_describes_itself() {
    let spec: &LayerSpec = &Kws::SPEC;
    assert_eq!(spec.kind, "conv2d");
    assert_eq!(spec.input, Shape::rank3(49, 10, 1));
    assert_eq!(spec.output, Shape::rank3(25, 5, 64));
    assert_eq!(spec.tensors[0].name, "weight");
    assert_eq!(spec.tensors[0].shape, Shape::rank4(64, 10, 4, 1));
    assert_eq!(spec.tensors[1].shape, Shape::vector(64));
    let names: Vec<_> = spec.attrs.iter().map(|a| a.name).collect();
    assert_eq!(names, ["stride", "pad_top", "pad_left"]);
    let mut kws = Box::new(Kws::ZERO);
    // 49 rows → 25 with stride 2 needs 24·2 + 10 − 49 = 9 rows of padding: 4 before, 5
    // after; 10 columns → 5 needs 4·2 + 4 − 10 = 2: 1 before.
    let attrs: Vec<_> = (0..3).map(|i| kws.attr(i)).collect();
    assert_eq!(
        attrs,
        [Some(Attr::I32(2)), Some(Attr::I32(4)), Some(Attr::I32(1))]
    );
    assert_eq!(kws.attr(3), None);
    // The attributes are the type's: a file may restate them, not change them.
    assert!(kws.set_attr(1, Attr::I32(4)));
    assert!(!kws.set_attr(1, Attr::I32(3)));
    assert!(!kws.set_attr(0, Attr::F32(2.0)));
    assert!(!kws.set_attr(3, Attr::I32(0)));
    assert_eq!(kws.ctor(), "firmnet::layers::Conv2d::from_parts");
    assert_eq!(LayerData::tensor(&*kws, 0).unwrap().len(), 64 * 40);

    let info = Kws::info(0);
    assert_eq!(
        (info.name, info.kind, info.rows, info.cols),
        ("weight", ParamKind::Weight, 64, 40)
    );
    let info = Kws::info(1);
    assert_eq!(
        (info.name, info.kind, info.rows, info.cols),
        ("bias", ParamKind::Bias, 1, 64)
    );
    assert_eq!(Kws::count(), 64 * 40 + 64);
    // Filter k is row k of the weight tensor.
    kws.weight[3][9][2][0] = 7.0;
    assert_eq!(Params::tensor(&*kws, 0)[3 * 40 + 9 * 4 + 2], 7.0);
}

#[test]
fn depthwise_describes_itself() {
    type Dw = DepthwiseConv2d<25, 5, 64, 3, 3, 25, 5>;
    let spec = &Dw::SPEC;
    assert_eq!(spec.kind, "depthwise_conv2d");
    assert_eq!(spec.input, Shape::rank3(25, 5, 64));
    assert_eq!(spec.output, Shape::rank3(25, 5, 64));
    assert_eq!(spec.tensors[0].shape, Shape::rank3(3, 3, 64));
    let dw = Box::new(Dw::ZERO);
    let attrs: Vec<_> = (0..3).map(|i| dw.attr(i)).collect();
    assert_eq!(
        attrs,
        [Some(Attr::I32(1)), Some(Attr::I32(1)), Some(Attr::I32(1))]
    );
    assert_eq!(dw.ctor(), "firmnet::layers::DepthwiseConv2d::from_parts");
    let info = Dw::info(0);
    assert_eq!(
        (info.kind, info.rows, info.cols),
        (ParamKind::Weight, 1, 9 * 64)
    );
    assert_eq!(Dw::count(), 9 * 64 + 64);
}

/// Built in a `static`, from its parts, with the attributes the type has.
static KWS_FIRST: Conv2d<49, 10, 1, 2, 10, 4, 25, 5, 2> =
    Conv2d::from_parts([[[[0.25]; 4]; 10]; 2], [1.0, -1.0], 2, 4, 1);
static DW_STATIC: DepthwiseConv2d<4, 4, 2, 3, 3, 2, 2, 1, Valid> =
    DepthwiseConv2d::from_parts([[[1.0, 2.0]; 3]; 3], [0.0, 0.5], 1, 0, 0);

#[test]
fn constructors_and_clones() {
    assert_eq!(KWS_FIRST.bias, [1.0, -1.0]);
    assert_eq!(DW_STATIC.weight[2][1], [1.0, 2.0]);
    let copy = KWS_FIRST.clone();
    assert_eq!(copy, KWS_FIRST);
    let mut other = Conv2d::ZERO;
    other.clone_from(&KWS_FIRST);
    assert_eq!(other, KWS_FIRST);
    let mut dw = DepthwiseConv2d::ZERO;
    dw.clone_from(&DW_STATIC);
    assert_eq!(dw, DW_STATIC.clone());
}

#[test]
#[should_panic(expected = "stride or padding differ")]
fn from_parts_refuses_other_attributes() {
    let pad = std::hint::black_box(3);
    let _ = Conv2d::<49, 10, 1, 2, 10, 4, 25, 5, 2>::from_parts(
        [[[[0.0]; 4]; 10]; 2],
        [0.0; 2],
        2,
        pad,
        1,
    );
}

#[test]
fn init_draws_with_the_fans_of_a_filter() {
    // He normal: standard deviation √(2/fan-in), fan-in = KH·KW·C = 3·3·16 = 144.
    let mut conv = Box::new(Conv2d::<4, 4, 16, 64, 3, 3, 4, 4>::ZERO);
    conv.bias = [1.0; 64];
    conv.init(Init::HeNormal, &mut Rng::new(80));
    assert_eq!(conv.bias, [0.0; 64]);
    let w = conv.weight_matrix();
    let var = w.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / w.len() as f64;
    let want = 2.0 / 144.0;
    // 9216 draws: the sample variance is within 3 % of the true one with high probability.
    assert!(
        (var / want - 1.0).abs() < 0.05,
        "variance {var}, want {want}"
    );
    // Depthwise: fan-in KH·KW = 9.
    let mut dw = Box::new(DepthwiseConv2d::<4, 4, 512, 3, 3, 4, 4>::ZERO);
    dw.init(Init::HeNormal, &mut Rng::new(81));
    let w = dw.weight_flat();
    let var = w.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / w.len() as f64;
    assert!((var / (2.0 / 9.0) - 1.0).abs() < 0.05, "variance {var}");
}

#[test]
fn weight_file_round_trip() {
    type Pair =
        Net![Conv2d<7, 5, 3, 4, 3, 3, 4, 3, 2>, DepthwiseConv2d<4, 3, 4, 3, 3, 2, 1, 1, Valid>];
    let mut net: Box<Pair> = Box::new(net![Conv2d::ZERO, DepthwiseConv2d::ZERO]);
    net.init(Init::GlorotUniform, &mut Rng::new(90));
    fill(&mut net.first.bias, 91, 1.0);
    fill(&mut net.rest.bias, 92, 1.0);
    let mut bytes = vec![0u8; firmnet::format::len(&*net).unwrap()];
    firmnet::format::write(&*net, &mut bytes).unwrap();
    let mut back: Box<Pair> = Box::new(Zero::ZERO);
    firmnet::format::load(&bytes, &mut *back).unwrap();
    assert_eq!(back, net);
}

#[cfg(feature = "std")]
#[test]
fn rust_source_names_the_constructor_and_the_attributes() {
    let source = firmnet::format::rust_source(&KWS_FIRST).unwrap();
    assert!(source.starts_with("// A network of 1 layers"), "{source}");
    assert!(
        source.contains("firmnet::layers::Conv2d::from_parts(\n    [[[["),
        "{source}"
    );
    assert!(
        source.ends_with(",\n    2,\n    4,\n    1\n)\n"),
        "{source}"
    );
}

// ---------------------------------------------------------------------------------------
// A small network: arena, training

/// `[[[f32; C]; W]; H]` as `[f32; N]` (`N = H·W·C`), the identity on the values: what
/// connects a convolution to a dense layer in these tests.
#[derive(Debug, PartialEq)]
struct Flatten<const H: usize, const W: usize, const C: usize, const N: usize>;

impl<const H: usize, const W: usize, const C: usize, const N: usize> Infer for Flatten<H, W, C, N> {
    type Input = [[[f32; C]; W]; H];
    type Output = [f32; N];
    type Footprint<I: Place, O: Place> = Mapping<I, O, Self::Input, Self::Output>;
    fn forward_with(&self, x: &Self::Input, y: &mut [f32; N], _: &mut [f32]) {
        y.copy_from_slice(flat(x));
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> Params
    for Flatten<H, W, C, N>
{
    const TENSORS: usize = 0;
    fn tensor(&self, i: usize) -> &[f32] {
        panic!("no tensor {i}")
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        panic!("no tensor {i}")
    }
    fn info(i: usize) -> ParamInfo {
        panic!("no tensor {i}")
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> Primitive
    for Flatten<H, W, C, N>
{
    const SPEC: LayerSpec = LayerSpec {
        kind: "flatten",
        input: Shape::rank3(H, W, C),
        output: Shape::vector(N),
        tensors: &[],
        attrs: &[],
        ordered: &[],
        int8_io: false,
    };
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> LayerData
    for Flatten<H, W, C, N>
{
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "Flatten"
    }
    fn tensor(&self, _: usize) -> Option<firmnet::spec::TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<firmnet::spec::TensorMut<'_>> {
        None
    }
    fn attr(&self, _: usize) -> Option<Attr> {
        None
    }
    fn set_attr(&mut self, _: usize, _: Attr) -> bool {
        false
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> Layer for Flatten<H, W, C, N> {
    type Grad = ();
    type Cache<const BATCH: usize> = ();
    fn forward_train<const BATCH: usize>(
        &mut self,
        x: &[Self::Input; BATCH],
        y: &mut [[f32; N]; BATCH],
        _: &mut (),
        _: &mut Context,
    ) {
        for (xb, yb) in x.iter().zip(y.iter_mut()) {
            yb.copy_from_slice(flat(xb));
        }
    }
    fn backward<const BATCH: usize>(
        &self,
        _: &[Self::Input; BATCH],
        _: &[[f32; N]; BATCH],
        dy: &[[f32; N]; BATCH],
        dx: Option<&mut [Self::Input; BATCH]>,
        _: &mut (),
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            for (dxb, dyb) in dx.iter_mut().zip(dy) {
                flat_mut(dxb).copy_from_slice(dyb);
            }
        }
    }
}

type Small = Net![
    Conv2d<8, 8, 1, 4, 3, 3, 8, 8>,
    Relu<[[[f32; 4]; 8]; 8]>,
    Conv2d<8, 8, 4, 2, 3, 3, 4, 4, 2>,
    DepthwiseConv2d<4, 4, 2, 3, 3, 4, 4>,
    Tanh<[[[f32; 2]; 4]; 4]>,
    Flatten<4, 4, 2, 32>,
    Dense<32, 2>
];

fn small() -> Box<Small> {
    let mut net: Box<Small> = Box::new(net![
        Conv2d::ZERO,
        Relu::DEFAULT,
        Conv2d::ZERO,
        DepthwiseConv2d::ZERO,
        Tanh::DEFAULT,
        Flatten,
        Dense::ZERO
    ]);
    net.init(Init::HeNormal, &mut Rng::new(100));
    net
}

#[test]
fn network_arena_holds_the_patches() {
    let _backend = same_backend();
    // The largest layer footprint: the second convolution's input (8·8·4) and output
    // (4·4·2) in the arena, and a block of 3×3×4 patches.
    assert_eq!(
        size_of::<Scratch<Small>>(),
        (256 + 32 + INFER_PATCHES * 36) * 4
    );
    let net = small();
    let mut x = [[[0.0f32; 1]; 8]; 8];
    fill(flat_mut(&mut x), 101, 1.0);
    let mut y = [0.0; 2];
    let mut scratch = Scratch::<Small>::ZERO;
    net.forward(&x, &mut y, &mut scratch);
    // Layer by layer, each with an arena of its own: the same bits.
    let l = &*net;
    let mut a = [[[0.0; 4]; 8]; 8];
    let mut scratch = Scratch::<Conv2d<8, 8, 1, 4, 3, 3, 8, 8>>::ZERO;
    l.first.forward(&x, &mut a, &mut scratch);
    let mut relu = [[[0.0; 4]; 8]; 8];
    l.rest.first.forward_with(&a, &mut relu, &mut []);
    let a = relu;
    let mut b = [[[0.0; 2]; 4]; 4];
    let conv2 = &l.rest.rest.first;
    let mut scratch = Scratch::<Conv2d<8, 8, 4, 2, 3, 3, 4, 4, 2>>::ZERO;
    conv2.forward(&a, &mut b, &mut scratch);
    let mut c = [[[0.0; 2]; 4]; 4];
    l.rest.rest.rest.first.forward_with(&b, &mut c, &mut []);
    let mut t = [[[0.0; 2]; 4]; 4];
    l.rest
        .rest
        .rest
        .rest
        .first
        .forward_with(&c, &mut t, &mut []);
    let mut flat32 = [0.0; 32];
    l.rest
        .rest
        .rest
        .rest
        .rest
        .first
        .forward_with(&t, &mut flat32, &mut []);
    let mut want = [0.0; 2];
    l.rest
        .rest
        .rest
        .rest
        .rest
        .rest
        .forward_with(&flat32, &mut want, &mut []);
    assert_bits(&y, &want, "network against its layers");
}

#[test]
fn network_gradients() {
    // The chain rule through both kinds of convolution, a flattening and a dense layer
    // (no activation, whose kinks finite differences would straddle).
    type Linear = Net![
        Conv2d<8, 7, 2, 3, 3, 3, 8, 7>,
        Conv2d<8, 7, 3, 4, 3, 2, 4, 4, 2>,
        DepthwiseConv2d<4, 4, 4, 3, 3, 2, 2, 1, Valid>,
        Flatten<2, 2, 4, 16>,
        Dense<16, 3>
    ];
    let mut net: Box<Linear> = Box::new(net![
        Conv2d::ZERO,
        Conv2d::ZERO,
        DepthwiseConv2d::ZERO,
        Flatten,
        Dense::ZERO
    ]);
    net.init(Init::GlorotNormal, &mut Rng::new(102));
    let x = batch::<[[[f32; 2]; 7]; 8], 2>(103);
    let e = check_layer(&mut *net, &x, 104, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

#[test]
fn a_small_convolutional_network_learns() {
    // Horizontal bars (class 0) against vertical bars (class 1) at random positions.
    let mut net = small();
    let mut adam = Adam::<<Small as Layer>::Grad>::new(AdamConfig::with_lr(0.01));
    let mut buf = Box::new(firmnet::train::TrainBuffers::<Small, 8>::ZERO);
    let mut ctx = Context::new(104);
    let mut rng = Rng::new(105);
    let mut batch = || {
        let mut x = [[[[0.0f32; 1]; 8]; 8]; 8];
        let mut labels = [0u16; 8];
        for (b, (img, label)) in x.iter_mut().zip(&mut labels).enumerate() {
            *label = (b % 2) as u16;
            let at = (rng.uniform(0.0, 8.0) as usize).min(7);
            for k in 0..8 {
                let (r, c) = if *label == 0 { (at, k) } else { (k, at) };
                img[r][c][0] = 1.0;
            }
            for v in flat_mut(img) {
                *v += 0.1 * rng.normal();
            }
        }
        (x, labels)
    };
    let mut losses = vec![];
    for _ in 0..60 {
        let (x, labels) = batch();
        let loss = firmnet::train::step(
            &mut *net,
            &mut adam,
            &mut buf,
            &mut ctx,
            &SoftmaxCrossEntropy,
            &x,
            &labels,
        )
        .unwrap();
        assert!(loss.is_finite());
        losses.push(loss);
    }
    let first: f32 = losses[..10].iter().sum::<f32>() / 10.0;
    let last: f32 = losses[50..].iter().sum::<f32>() / 10.0;
    assert!(last < first / 3.0, "loss {first} → {last}");
}
