//! The kernels against their scalar reference: hand-computed values, exact agreement on
//! integer data, rounding-level agreement on random data at awkward sizes, edge cases, and
//! the run-time backend switch.
//!
//! The SIMD kernels are called directly (`kernels::simd::…`) so that tests running in
//! parallel never depend on the global backend; only `dispatch_follows_backend` switches it.

#![cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]

use firmnet::kernels::{self, Backend, reference, simd};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------
// Helpers

/// Deterministic values from `seed`: a mantissa in [-1, 1) times 2^e, e in [-3, 3], so
/// magnitudes differ and cancellation occurs.
fn data(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed ^ 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let mant = (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
            let e = ((s >> 20) % 7) as i32 - 3;
            mant * 2f32.powi(e)
        })
        .collect()
}

/// Small integers in [-4, 4]: every product and partial sum at our sizes is exact in f32,
/// so every summation order gives the same bits.
fn ints(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed ^ 0xD1B5_4A32_D192_ED03;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 33) % 9) as f32 - 4.0
        })
        .collect()
}

/// Unit roundoff of f32.
const U: f64 = f32::EPSILON as f64 / 2.0;

/// `|got − want| ≤ tol·scale` element by element, where `scale` is the sum of the absolute
/// values of all terms of that output (so the test cannot pass by cancellation or sign) and
/// `tol` covers the rounding of two different summation orders over `k` terms. NaN fails.
fn assert_close(got: &[f32], want: &[f32], scale: &[f64], k: usize, what: &str) {
    assert_eq!(got.len(), want.len());
    let tol = 2.0 * (k as f64 + 16.0) * U;
    for (i, ((&g, &w), &s)) in got.iter().zip(want).zip(scale).enumerate() {
        let err = (g as f64 - w as f64).abs();
        assert!(
            err <= tol * s + f64::MIN_POSITIVE,
            "{what}: element {i}: simd {g} vs reference {w}, |err| {err:e} > {tol:e}·{s:e}"
        );
    }
}

/// Bitwise equality (also treats equal NaNs as equal).
fn assert_bits(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}: element {i}: {g} vs {w}");
    }
}

/// `Σ_p |a(i,p)·b(p,j)|` for `C = A·B` with `A` `m×k` and `B` `k×n` given by index closures,
/// plus `|extra(i, j)|`.
fn abs_scale(
    m: usize,
    n: usize,
    k: usize,
    a: impl Fn(usize, usize) -> f32,
    b: impl Fn(usize, usize) -> f32,
    extra: impl Fn(usize, usize) -> f32,
) -> Vec<f64> {
    let mut s = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut t = (extra(i, j) as f64).abs();
            for p in 0..k {
                t += (a(i, p) as f64 * b(p, j) as f64).abs();
            }
            s[i * n + j] = t;
        }
    }
    s
}

/// One of the awkward sizes, or a random small one.
fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => prop::sample::select(vec![1usize, 7, 8, 9, 127, 783, 784]),
        1 => 1usize..40,
    ]
}

/// A batch size.
fn batch() -> impl Strategy<Value = usize> {
    prop_oneof![
        3 => prop::sample::select(vec![1usize, 3, 4, 5, 64]),
        1 => 1usize..12,
    ]
}

/// At most this many multiply–adds per generated product, to keep debug builds quick: the
/// batch dimension is cut down (to ≥ 1) when `n·k` is large.
const MAX_MACS: usize = 1 << 21;

fn cap(batch: usize, n: usize, k: usize) -> usize {
    batch.min((MAX_MACS / (n * k)).max(1))
}

/// 32 cases per property (a few seconds in a debug build); `PROPTEST_CASES` overrides.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    ProptestConfig::with_cases(cases)
}

// ---------------------------------------------------------------------------------------
// Hand-computed values

#[test]
fn dot_exact() {
    assert_eq!(simd::dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
    let a: Vec<f32> = (1..=9).map(|i| i as f32).collect();
    assert_eq!(simd::dot(&a, &[1.0; 9]), 45.0);
    let a: Vec<f32> = (1..=100).map(|i| i as f32).collect();
    assert_eq!(simd::dot(&a, &a), 338_350.0); // Σ i² = n(n+1)(2n+1)/6
    assert_eq!(simd::dot(&[], &[]), 0.0);
}

#[test]
fn axpy_exact() {
    let x: Vec<f32> = (1..=11).map(|i| i as f32).collect();
    let mut y = vec![10.0; 11];
    simd::axpy(2.0, &x, &mut y);
    let want: Vec<f32> = (1..=11).map(|i| 10.0 + 2.0 * i as f32).collect();
    assert_eq!(y, want);
}

#[test]
fn gemv_exact() {
    let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let mut y = [0.0; 2];
    simd::gemv(&w, &[1.0, 0.0, -1.0], &[0.5, -0.5], &mut y);
    assert_eq!(y, [-1.5, -2.5]);

    // 5 rows (one 4-row tile and a single row) of 9 columns: W[o][i] = o + 1, x = 1.
    let w: Vec<f32> = (0..5).flat_map(|o| [o as f32 + 1.0; 9]).collect();
    let b = [0.5, 1.5, 2.5, 3.5, 4.5];
    let mut y = [0.0; 5];
    simd::gemv(&w, &[1.0; 9], &b, &mut y);
    assert_eq!(y, [9.5, 19.5, 29.5, 39.5, 49.5]);
}

#[test]
fn gemm_nt_exact() {
    // A = [[1,2,3],[4,5,6]], W = [[1,0,0],[0,1,1]], bias = [10, 20]
    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let w = [1.0, 0.0, 0.0, 0.0, 1.0, 1.0];
    let mut c = [0.0; 4];
    simd::gemm_nt(&a, &w, &[10.0, 20.0], &mut c, 2, 2, 3);
    assert_eq!(c, [11.0, 25.0, 14.0, 31.0]);
}

#[test]
fn gemm_nn_exact() {
    // [[1,2],[3,4]] · [[1,0,2],[0,1,3]]
    let a = [1.0, 2.0, 3.0, 4.0];
    let w = [1.0, 0.0, 2.0, 0.0, 1.0, 3.0];
    let mut c = [f32::NAN; 6]; // overwritten, never read
    simd::gemm_nn(&a, &w, &mut c, 2, 3, 2);
    assert_eq!(c, [1.0, 2.0, 8.0, 3.0, 4.0, 18.0]);
}

#[test]
fn gemm_tn_acc_exact() {
    // A stored k×m = [[1,2],[3,4]], so Aᵀ = [[1,3],[2,4]]; X = [[1,0,2],[0,1,3]]; C starts at 1.
    let a = [1.0, 2.0, 3.0, 4.0];
    let x = [1.0, 0.0, 2.0, 0.0, 1.0, 3.0];
    let mut c = [1.0; 6];
    simd::gemm_tn_acc(&a, &x, &mut c, 2, 3, 2);
    assert_eq!(c, [2.0, 4.0, 12.0, 3.0, 5.0, 17.0]);
}

#[test]
fn gemm_tn_acc_accumulates() {
    let (m, n, k) = (5, 27, 9);
    let a = ints(k * m, 1);
    let x = ints(k * n, 2);
    let c0 = ints(m * n, 3);
    let mut once = vec![0.0; m * n];
    simd::gemm_tn_acc(&a, &x, &mut once, m, n, k);
    let mut c = c0.clone();
    simd::gemm_tn_acc(&a, &x, &mut c, m, n, k);
    simd::gemm_tn_acc(&a, &x, &mut c, m, n, k);
    let want: Vec<f32> = c0.iter().zip(&once).map(|(c0, p)| c0 + 2.0 * p).collect();
    assert_eq!(c, want);
    assert!(once.iter().any(|&v| v != 0.0));
}

#[test]
fn gemm_nn_overwrites() {
    let (m, n, k) = (5, 27, 200); // k spans more than one k-block
    let a = ints(m * k, 1);
    let w = ints(k * n, 2);
    let mut fresh = vec![0.0; m * n];
    simd::gemm_nn(&a, &w, &mut fresh, m, n, k);
    let mut dirty = vec![1.0e9; m * n];
    simd::gemm_nn(&a, &w, &mut dirty, m, n, k);
    assert_eq!(fresh, dirty);
}

// ---------------------------------------------------------------------------------------
// Empty dimensions

#[test]
fn empty_dimensions() {
    assert_eq!(simd::dot(&[], &[]), 0.0);
    simd::axpy(1.0, &[], &mut []);

    // k = 0: y = b, C = bias rows, C = 0, C unchanged.
    let mut y = [7.0; 3];
    simd::gemv(&[], &[], &[1.0, 2.0, 3.0], &mut y);
    assert_eq!(y, [1.0, 2.0, 3.0]);
    let mut c = [7.0; 6];
    simd::gemm_nt(&[], &[], &[1.0, 2.0, 3.0], &mut c, 2, 3, 0);
    assert_eq!(c, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    let mut c = [7.0; 6];
    simd::gemm_nn(&[], &[], &mut c, 2, 3, 0);
    assert_eq!(c, [0.0; 6]);
    let mut c = [7.0; 6];
    simd::gemm_tn_acc(&[], &[], &mut c, 2, 3, 0);
    assert_eq!(c, [7.0; 6]);

    // m = 0 or n = 0: nothing to write.
    simd::gemv(&[], &[1.0; 4], &[], &mut []);
    simd::gemm_nt(&[], &[1.0; 4], &[1.0], &mut [], 0, 1, 4);
    simd::gemm_nt(&[1.0; 4], &[], &[], &mut [], 1, 0, 4);
    simd::gemm_nn(&[], &[1.0; 4], &mut [], 0, 1, 4);
    simd::gemm_nn(&[1.0; 4], &[], &mut [], 1, 0, 4);
    simd::gemm_tn_acc(&[], &[1.0; 4], &mut [], 0, 1, 4);
    simd::gemm_tn_acc(&[1.0; 4], &[], &mut [], 1, 0, 4);
}

#[test]
fn non_finite_propagates() {
    let (m, n, k) = (5, 11, 9);
    let mut a = ints(m * k, 1);
    a[k + 3] = f32::NAN; // row 1 of A
    let w = ints(n * k, 2);
    let mut c = vec![0.0; m * n];
    simd::gemm_nt(&a, &w, &vec![0.0; n], &mut c, m, n, k);
    for i in 0..m {
        for j in 0..n {
            assert_eq!(
                c[i * n + j].is_nan(),
                i == 1,
                "C[{i}][{j}] = {}",
                c[i * n + j]
            );
        }
    }
    let mut y = vec![0.0; n];
    let mut x = ints(k, 3);
    x[8] = f32::INFINITY;
    simd::gemv(&w, &x, &vec![0.0; n], &mut y);
    assert!(y.iter().all(|v| !v.is_finite()));
}

// ---------------------------------------------------------------------------------------
// Dispatch

type DotFn = fn(&[f32], &[f32]) -> f32;
type AxpyFn = fn(f32, &[f32], &mut [f32]);
type GemvFn = fn(&[f32], &[f32], &[f32], &mut [f32]);
type GemmBiasFn = fn(&[f32], &[f32], &[f32], &mut [f32], usize, usize, usize);
type GemmFn = fn(&[f32], &[f32], &mut [f32], usize, usize, usize);

/// One implementation of every kernel.
struct Kernels {
    dot: DotFn,
    axpy: AxpyFn,
    gemv: GemvFn,
    gemm_nt: GemmBiasFn,
    gemm_nn: GemmFn,
    gemm_tn_acc: GemmFn,
}

const DISPATCH: Kernels = Kernels {
    dot: kernels::dot,
    axpy: kernels::axpy,
    gemv: kernels::gemv,
    gemm_nt: kernels::gemm_nt,
    gemm_nn: kernels::gemm_nn,
    gemm_tn_acc: kernels::gemm_tn_acc,
};

const REFERENCE: Kernels = Kernels {
    dot: reference::dot,
    axpy: reference::axpy,
    gemv: reference::gemv,
    gemm_nt: reference::gemm_nt,
    gemm_nn: reference::gemm_nn,
    gemm_tn_acc: reference::gemm_tn_acc,
};

const SIMD: Kernels = Kernels {
    dot: simd::dot,
    axpy: simd::axpy,
    gemv: simd::gemv,
    gemm_nt: simd::gemm_nt,
    gemm_nn: simd::gemm_nn,
    gemm_tn_acc: simd::gemm_tn_acc,
};

/// Every kernel once on fixed data of awkward sizes; all outputs, concatenated.
fn run_all(kern: &Kernels) -> Vec<f32> {
    let (m, n, k) = (5, 27, 127);
    let a = data(m * k, 1);
    let w = data(n * k, 2);
    let bias = data(n, 3);
    let dy = data(m * n, 4);
    let x = data(k, 5);

    let mut out = vec![(kern.dot)(&a[..k], &x)];
    let mut ax = a[k..2 * k].to_vec();
    (kern.axpy)(0.37, &x, &mut ax);
    let mut y = vec![0.0; n];
    (kern.gemv)(&w, &x, &bias, &mut y);
    let mut nt = vec![0.0; m * n];
    (kern.gemm_nt)(&a, &w, &bias, &mut nt, m, n, k);
    let mut nn = vec![0.0; m * k];
    (kern.gemm_nn)(&dy, &w, &mut nn, m, k, n);
    let mut tn = w.clone();
    (kern.gemm_tn_acc)(&dy, &a, &mut tn, n, k, m);
    for part in [ax, y, nt, nn, tn] {
        out.extend(part);
    }
    out
}

/// The only test that touches the global backend.
#[test]
fn dispatch_follows_backend() {
    kernels::set_backend(Backend::Reference);
    assert_eq!(kernels::backend(), Backend::Reference);
    let by_ref = run_all(&DISPATCH);
    kernels::set_backend(Backend::Simd);
    assert_eq!(kernels::backend(), Backend::Simd);
    let by_simd = run_all(&DISPATCH);

    assert_bits(&by_ref, &run_all(&REFERENCE), "Backend::Reference");
    assert_bits(&by_simd, &run_all(&SIMD), "Backend::Simd");
    // The two paths really differ (summation order, fusion), or the switch proves nothing.
    assert_ne!(by_ref, by_simd);
}

#[test]
#[should_panic(expected = "gemm_nt: W shape mismatch")]
fn dispatch_checks_shapes() {
    let mut c = [0.0; 4];
    kernels::gemm_nt(&[0.0; 6], &[0.0; 5], &[0.0; 2], &mut c, 2, 2, 3);
}

#[test]
#[should_panic(expected = "dot: length mismatch")]
fn dispatch_checks_lengths() {
    kernels::dot(&[0.0; 3], &[0.0; 4]);
}

// ---------------------------------------------------------------------------------------
// Properties at awkward sizes

proptest! {
    #![proptest_config(config())]

    #[test]
    fn dot_matches_reference(k in dim(), seed in any::<u64>()) {
        let a = data(k, seed);
        let b = data(k, seed.wrapping_add(1));
        let scale: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 * *y as f64).abs()).sum();
        assert_close(&[simd::dot(&a, &b)], &[reference::dot(&a, &b)], &[scale], k, "dot");
    }

    #[test]
    fn axpy_matches_reference(k in dim(), alpha in -4.0f32..4.0, seed in any::<u64>()) {
        let x = data(k, seed);
        let y0 = data(k, seed.wrapping_add(1));
        let (mut got, mut want) = (y0.clone(), y0.clone());
        simd::axpy(alpha, &x, &mut got);
        reference::axpy(alpha, &x, &mut want);
        let scale: Vec<f64> =
            x.iter().zip(&y0).map(|(x, y)| (alpha as f64 * *x as f64).abs() + y.abs() as f64).collect();
        assert_close(&got, &want, &scale, 1, "axpy");
    }

    #[test]
    fn gemv_matches_reference(n in dim(), k in dim(), seed in any::<u64>()) {
        let w = data(n * k, seed);
        let x = data(k, seed.wrapping_add(1));
        let b = data(n, seed.wrapping_add(2));
        let (mut got, mut want) = (vec![0.0; n], vec![0.0; n]);
        simd::gemv(&w, &x, &b, &mut got);
        reference::gemv(&w, &x, &b, &mut want);
        let scale = abs_scale(1, n, k, |_, p| x[p], |p, j| w[j * k + p], |_, j| b[j]);
        assert_close(&got, &want, &scale, k, "gemv");
    }

    #[test]
    fn gemm_nt_matches_reference(m in batch(), n in dim(), k in dim(), seed in any::<u64>()) {
        let m = cap(m, n, k);
        let a = data(m * k, seed);
        let w = data(n * k, seed.wrapping_add(1));
        let bias = data(n, seed.wrapping_add(2));
        let (mut got, mut want) = (vec![f32::NAN; m * n], vec![0.0; m * n]);
        simd::gemm_nt(&a, &w, &bias, &mut got, m, n, k);
        reference::gemm_nt(&a, &w, &bias, &mut want, m, n, k);
        let scale = abs_scale(m, n, k, |i, p| a[i * k + p], |p, j| w[j * k + p], |_, j| bias[j]);
        assert_close(&got, &want, &scale, k, "gemm_nt");
    }

    #[test]
    fn gemm_nn_matches_reference(m in batch(), n in dim(), k in dim(), seed in any::<u64>()) {
        let m = cap(m, n, k);
        let a = data(m * k, seed);
        let w = data(k * n, seed.wrapping_add(1));
        let (mut got, mut want) = (vec![f32::NAN; m * n], vec![0.0; m * n]);
        simd::gemm_nn(&a, &w, &mut got, m, n, k);
        reference::gemm_nn(&a, &w, &mut want, m, n, k);
        let scale = abs_scale(m, n, k, |i, p| a[i * k + p], |p, j| w[p * n + j], |_, _| 0.0);
        assert_close(&got, &want, &scale, k, "gemm_nn");
    }

    #[test]
    fn gemm_tn_acc_matches_reference(m in dim(), n in dim(), k in batch(), seed in any::<u64>()) {
        let k = cap(k, m, n);
        let a = data(k * m, seed);
        let x = data(k * n, seed.wrapping_add(1));
        let c0 = data(m * n, seed.wrapping_add(2));
        let (mut got, mut want) = (c0.clone(), c0.clone());
        simd::gemm_tn_acc(&a, &x, &mut got, m, n, k);
        reference::gemm_tn_acc(&a, &x, &mut want, m, n, k);
        let scale = abs_scale(m, n, k, |i, p| a[p * m + i], |p, j| x[p * n + j], |i, j| c0[i * n + j]);
        assert_close(&got, &want, &scale, k, "gemm_tn_acc");
    }

    /// On small integers every order of summation is exact: the SIMD kernels must then agree
    /// with the reference bit for bit, which catches any wrong, missing or doubled term.
    #[test]
    fn exact_on_integers(m in batch(), n in dim(), k in dim(), seed in any::<u64>()) {
        let m = cap(m, n, k);
        let a = ints(m * k, seed);
        let w = ints(n * k, seed.wrapping_add(1));
        let bias = ints(n, seed.wrapping_add(2));
        let c0 = ints(m * n, seed.wrapping_add(3));

        prop_assert_eq!(simd::dot(&a[..k], &w[..k]), reference::dot(&a[..k], &w[..k]));

        let (mut got, mut want) = (vec![0.0; n], vec![0.0; n]);
        simd::gemv(&w, &a[..k], &bias, &mut got);
        reference::gemv(&w, &a[..k], &bias, &mut want);
        prop_assert_eq!(&got, &want);

        let (mut got, mut want) = (vec![0.0; m * n], vec![0.0; m * n]);
        simd::gemm_nt(&a, &w, &bias, &mut got, m, n, k);
        reference::gemm_nt(&a, &w, &bias, &mut want, m, n, k);
        prop_assert_eq!(&got, &want);

        // W read as k×n for the broadcast kernels.
        let (mut got, mut want) = (vec![0.0; m * n], vec![0.0; m * n]);
        simd::gemm_nn(&a, &w, &mut got, m, n, k);
        reference::gemm_nn(&a, &w, &mut want, m, n, k);
        prop_assert_eq!(&got, &want);

        // A (m·k values) read as stored k×m, C = c0 (m×n) accumulated.
        let (mut got, mut want) = (c0.clone(), c0.clone());
        simd::gemm_tn_acc(&a, &w, &mut got, m, n, k);
        reference::gemm_tn_acc(&a, &w, &mut want, m, n, k);
        prop_assert_eq!(&got, &want);
    }
}
