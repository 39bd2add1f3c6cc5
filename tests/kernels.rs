//! The kernels against their scalar reference: hand-computed values, exact agreement on
//! integer data, rounding-level agreement on random data at awkward sizes, edge cases, and
//! the run-time backend switch.
//!
//! Every test runs each SIMD level this CPU has (`Simd::available()`: on x86-64 SSE2, and
//! AVX2 + FMA and AVX-512 where present), calling it through its own `Simd` value, so that tests
//! running in parallel never depend on the global backend or level; only
//! `dispatch_follows_backend` and `dispatch_follows_level` switch them. On x86-64 each
//! level is also held to a scalar model of its own summation order and fusion, bit for bit.

#![cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]

use firmnet::kernels::simd::{self, Simd};
use firmnet::kernels::{self, Backend, SimdLevel, reference};
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

/// Every SIMD level this build and CPU run (at least the target's baseline).
fn levels() -> Vec<Simd> {
    let all: Vec<Simd> = Simd::available().collect();
    assert!(!all.is_empty(), "no SIMD level available");
    all
}

// ---------------------------------------------------------------------------------------
// Hand-computed values

#[test]
fn dot_exact() {
    for s in levels() {
        assert_eq!(s.dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
        let a: Vec<f32> = (1..=9).map(|i| i as f32).collect();
        assert_eq!(s.dot(&a, &[1.0; 9]), 45.0);
        let a: Vec<f32> = (1..=100).map(|i| i as f32).collect();
        assert_eq!(s.dot(&a, &a), 338_350.0); // Σ i² = n(n+1)(2n+1)/6
        assert_eq!(s.dot(&[], &[]), 0.0);
    }
}

#[test]
fn axpy_exact() {
    for s in levels() {
        let x: Vec<f32> = (1..=11).map(|i| i as f32).collect();
        let mut y = vec![10.0; 11];
        s.axpy(2.0, &x, &mut y);
        let want: Vec<f32> = (1..=11).map(|i| 10.0 + 2.0 * i as f32).collect();
        assert_eq!(y, want);
    }
}

#[test]
fn gemv_exact() {
    for s in levels() {
        let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut y = [0.0; 2];
        s.gemv(&w, &[1.0, 0.0, -1.0], &[0.5, -0.5], &mut y);
        assert_eq!(y, [-1.5, -2.5]);

        // 5 rows (one 4-row tile and a single row) of 9 columns: W[o][i] = o + 1, x = 1.
        let w: Vec<f32> = (0..5).flat_map(|o| [o as f32 + 1.0; 9]).collect();
        let b = [0.5, 1.5, 2.5, 3.5, 4.5];
        let mut y = [0.0; 5];
        s.gemv(&w, &[1.0; 9], &b, &mut y);
        assert_eq!(y, [9.5, 19.5, 29.5, 39.5, 49.5]);
    }
}

#[test]
fn gemm_nt_exact() {
    for s in levels() {
        // A = [[1,2,3],[4,5,6]], W = [[1,0,0],[0,1,1]], bias = [10, 20]
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let w = [1.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        let mut c = [0.0; 4];
        s.gemm_nt(&a, &w, &[10.0, 20.0], &mut c, 2, 2, 3);
        assert_eq!(c, [11.0, 25.0, 14.0, 31.0]);
    }
}

#[test]
fn gemm_nn_exact() {
    for s in levels() {
        // [[1,2],[3,4]] · [[1,0,2],[0,1,3]]
        let a = [1.0, 2.0, 3.0, 4.0];
        let w = [1.0, 0.0, 2.0, 0.0, 1.0, 3.0];
        let mut c = [f32::NAN; 6]; // overwritten, never read
        s.gemm_nn(&a, &w, &mut c, 2, 3, 2);
        assert_eq!(c, [1.0, 2.0, 8.0, 3.0, 4.0, 18.0]);
    }
}

#[test]
fn gemm_tn_acc_exact() {
    for s in levels() {
        // A stored k×m = [[1,2],[3,4]], so Aᵀ = [[1,3],[2,4]]; X = [[1,0,2],[0,1,3]]; C starts at 1.
        let a = [1.0, 2.0, 3.0, 4.0];
        let x = [1.0, 0.0, 2.0, 0.0, 1.0, 3.0];
        let mut c = [1.0; 6];
        s.gemm_tn_acc(&a, &x, &mut c, 2, 3, 2);
        assert_eq!(c, [2.0, 4.0, 12.0, 3.0, 5.0, 17.0]);
    }
}

#[test]
fn gemm_tn_acc_accumulates() {
    for s in levels() {
        let (m, n, k) = (5, 27, 9);
        let a = ints(k * m, 1);
        let x = ints(k * n, 2);
        let c0 = ints(m * n, 3);
        let mut once = vec![0.0; m * n];
        s.gemm_tn_acc(&a, &x, &mut once, m, n, k);
        let mut c = c0.clone();
        s.gemm_tn_acc(&a, &x, &mut c, m, n, k);
        s.gemm_tn_acc(&a, &x, &mut c, m, n, k);
        let want: Vec<f32> = c0.iter().zip(&once).map(|(c0, p)| c0 + 2.0 * p).collect();
        assert_eq!(c, want);
        assert!(once.iter().any(|&v| v != 0.0));
    }
}

#[test]
fn gemm_nn_overwrites() {
    for s in levels() {
        let (m, n, k) = (5, 27, 200); // k spans more than one k-block
        let a = ints(m * k, 1);
        let w = ints(k * n, 2);
        let mut fresh = vec![0.0; m * n];
        s.gemm_nn(&a, &w, &mut fresh, m, n, k);
        let mut dirty = vec![1.0e9; m * n];
        s.gemm_nn(&a, &w, &mut dirty, m, n, k);
        assert_eq!(fresh, dirty);
    }
}

// ---------------------------------------------------------------------------------------
// Empty dimensions

#[test]
fn empty_dimensions() {
    for s in levels() {
        assert_eq!(s.dot(&[], &[]), 0.0);
        s.axpy(1.0, &[], &mut []);

        // k = 0: y = b, C = bias rows, C = 0, C unchanged.
        let mut y = [7.0; 3];
        s.gemv(&[], &[], &[1.0, 2.0, 3.0], &mut y);
        assert_eq!(y, [1.0, 2.0, 3.0]);
        let mut c = [7.0; 6];
        s.gemm_nt(&[], &[], &[1.0, 2.0, 3.0], &mut c, 2, 3, 0);
        assert_eq!(c, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        let mut c = [7.0; 6];
        s.gemm_nt_ordered(&[], &[], &[1.0, 2.0, 3.0], &mut c, 2, 3, 0);
        assert_eq!(c, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        let mut c = [7.0; 6];
        s.gemm_nn(&[], &[], &mut c, 2, 3, 0);
        assert_eq!(c, [0.0; 6]);
        let mut c = [7.0; 6];
        s.gemm_tn_acc(&[], &[], &mut c, 2, 3, 0);
        assert_eq!(c, [7.0; 6]);

        // m = 0 or n = 0: nothing to write.
        s.gemv(&[], &[1.0; 4], &[], &mut []);
        s.gemm_nt(&[], &[1.0; 4], &[1.0], &mut [], 0, 1, 4);
        s.gemm_nt(&[1.0; 4], &[], &[], &mut [], 1, 0, 4);
        s.gemm_nt_ordered(&[], &[1.0; 4], &[1.0], &mut [], 0, 1, 4);
        s.gemm_nt_ordered(&[1.0; 4], &[], &[], &mut [], 1, 0, 4);
        s.gemm_nn(&[], &[1.0; 4], &mut [], 0, 1, 4);
        s.gemm_nn(&[1.0; 4], &[], &mut [], 1, 0, 4);
        s.gemm_tn_acc(&[], &[1.0; 4], &mut [], 0, 1, 4);
        s.gemm_tn_acc(&[1.0; 4], &[], &mut [], 1, 0, 4);
    }
}

#[test]
fn non_finite_propagates() {
    for s in levels() {
        let (m, n, k) = (5, 11, 9);
        let mut a = ints(m * k, 1);
        a[k + 3] = f32::NAN; // row 1 of A
        let w = ints(n * k, 2);
        let mut c = vec![0.0; m * n];
        s.gemm_nt(&a, &w, &vec![0.0; n], &mut c, m, n, k);
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
        s.gemv(&w, &x, &vec![0.0; n], &mut y);
        assert!(y.iter().all(|v| !v.is_finite()));
    }
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

/// Every kernel: a table of functions, or one SIMD level.
trait KernelSet {
    fn dot(&self, a: &[f32], b: &[f32]) -> f32;
    fn axpy(&self, alpha: f32, x: &[f32], y: &mut [f32]);
    fn gemv(&self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]);
    #[allow(clippy::too_many_arguments)]
    fn gemm_nt(
        &self,
        a: &[f32],
        w: &[f32],
        bias: &[f32],
        c: &mut [f32],
        m: usize,
        n: usize,
        k: usize,
    );
    fn gemm_nn(&self, a: &[f32], w: &[f32], c: &mut [f32], m: usize, n: usize, k: usize);
    fn gemm_tn_acc(&self, a: &[f32], x: &[f32], c: &mut [f32], m: usize, n: usize, k: usize);
}

impl KernelSet for Kernels {
    fn dot(&self, a: &[f32], b: &[f32]) -> f32 {
        (self.dot)(a, b)
    }
    fn axpy(&self, alpha: f32, x: &[f32], y: &mut [f32]) {
        (self.axpy)(alpha, x, y)
    }
    fn gemv(&self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        (self.gemv)(w, x, b, y)
    }
    fn gemm_nt(
        &self,
        a: &[f32],
        w: &[f32],
        bias: &[f32],
        c: &mut [f32],
        m: usize,
        n: usize,
        k: usize,
    ) {
        (self.gemm_nt)(a, w, bias, c, m, n, k)
    }
    fn gemm_nn(&self, a: &[f32], w: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
        (self.gemm_nn)(a, w, c, m, n, k)
    }
    fn gemm_tn_acc(&self, a: &[f32], x: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
        (self.gemm_tn_acc)(a, x, c, m, n, k)
    }
}

impl KernelSet for Simd {
    fn dot(&self, a: &[f32], b: &[f32]) -> f32 {
        Simd::dot(*self, a, b)
    }
    fn axpy(&self, alpha: f32, x: &[f32], y: &mut [f32]) {
        Simd::axpy(*self, alpha, x, y)
    }
    fn gemv(&self, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
        Simd::gemv(*self, w, x, b, y)
    }
    fn gemm_nt(
        &self,
        a: &[f32],
        w: &[f32],
        bias: &[f32],
        c: &mut [f32],
        m: usize,
        n: usize,
        k: usize,
    ) {
        Simd::gemm_nt(*self, a, w, bias, c, m, n, k)
    }
    fn gemm_nn(&self, a: &[f32], w: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
        Simd::gemm_nn(*self, a, w, c, m, n, k)
    }
    fn gemm_tn_acc(&self, a: &[f32], x: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
        Simd::gemm_tn_acc(*self, a, x, c, m, n, k)
    }
}

/// Every kernel once on fixed data of awkward sizes; all outputs, concatenated.
fn run_all(kern: &impl KernelSet) -> Vec<f32> {
    let (m, n, k) = (5, 27, 127);
    let a = data(m * k, 1);
    let w = data(n * k, 2);
    let bias = data(n, 3);
    let dy = data(m * n, 4);
    let x = data(k, 5);

    let mut out = vec![kern.dot(&a[..k], &x)];
    let mut ax = a[k..2 * k].to_vec();
    kern.axpy(0.37, &x, &mut ax);
    let mut y = vec![0.0; n];
    kern.gemv(&w, &x, &bias, &mut y);
    let mut nt = vec![0.0; m * n];
    kern.gemm_nt(&a, &w, &bias, &mut nt, m, n, k);
    let mut nn = vec![0.0; m * k];
    kern.gemm_nn(&dy, &w, &mut nn, m, k, n);
    let mut tn = w.clone();
    kern.gemm_tn_acc(&dy, &a, &mut tn, n, k, m);
    for part in [ax, y, nt, nn, tn] {
        out.extend(part);
    }
    out
}

/// The only test that touches the global backend and level. It first checks that a
/// `FIRMNET_SIMD` in the environment was obeyed (CI runs the tests once with
/// `FIRMNET_SIMD=sse2`), before anything else in this process could change the level.
#[test]
fn dispatch_follows_backend_and_level() {
    let best = SimdLevel::best();
    let env = std::env::var("FIRMNET_SIMD").ok();
    match env.as_deref().and_then(SimdLevel::from_name) {
        Some(level) if level.is_available() => assert_eq!(kernels::simd_level(), level),
        _ => assert_eq!(kernels::simd_level(), best, "FIRMNET_SIMD = {env:?}"),
    }
    let start = kernels::simd_level();

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

    // Each level, selected globally, is what the free functions and the dispatcher run.
    for s in levels() {
        kernels::set_simd_level(s.level()).unwrap();
        assert_eq!(kernels::simd_level(), s.level());
        assert_eq!(Simd::selected().level(), s.level());
        let want = run_all(&s);
        assert_bits(
            &run_all(&DISPATCH),
            &want,
            &format!("dispatch at {}", s.level()),
        );
        assert_bits(&run_all(&SIMD), &want, &format!("simd:: at {}", s.level()));
    }
    // A level this CPU or target lacks is refused, and changes nothing.
    if let Some(missing) = SimdLevel::ALL.into_iter().find(|l| !l.is_available()) {
        let err = kernels::set_simd_level(missing).unwrap_err();
        assert_eq!(err.requested, missing);
        assert!(err.to_string().contains(missing.name()), "{err}");
    }
    kernels::set_simd_level(start).unwrap();
    assert_eq!(kernels::simd_level(), start);
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
        for s in levels() {
            let a = data(k, seed);
            let b = data(k, seed.wrapping_add(1));
            let scale: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64 * *y as f64).abs()).sum();
            assert_close(&[s.dot(&a, &b)], &[reference::dot(&a, &b)], &[scale], k, &format!("dot at {}", s.level()));
        }
    }

    #[test]
    fn axpy_matches_reference(k in dim(), alpha in -4.0f32..4.0, seed in any::<u64>()) {
        for s in levels() {
            let x = data(k, seed);
            let y0 = data(k, seed.wrapping_add(1));
            let (mut got, mut want) = (y0.clone(), y0.clone());
            s.axpy(alpha, &x, &mut got);
            reference::axpy(alpha, &x, &mut want);
            let scale: Vec<f64> =
                x.iter().zip(&y0).map(|(x, y)| (alpha as f64 * *x as f64).abs() + y.abs() as f64).collect();
            assert_close(&got, &want, &scale, 1, &format!("axpy at {}", s.level()));
        }
    }

    #[test]
    fn gemv_matches_reference(n in dim(), k in dim(), seed in any::<u64>()) {
        for s in levels() {
            let w = data(n * k, seed);
            let x = data(k, seed.wrapping_add(1));
            let b = data(n, seed.wrapping_add(2));
            let (mut got, mut want) = (vec![0.0; n], vec![0.0; n]);
            s.gemv(&w, &x, &b, &mut got);
            reference::gemv(&w, &x, &b, &mut want);
            let scale = abs_scale(1, n, k, |_, p| x[p], |p, j| w[j * k + p], |_, j| b[j]);
            assert_close(&got, &want, &scale, k, &format!("gemv at {}", s.level()));
        }
    }

    #[test]
    fn gemm_nt_matches_reference(m in batch(), n in dim(), k in dim(), seed in any::<u64>()) {
        for s in levels() {
            let m = cap(m, n, k);
            let a = data(m * k, seed);
            let w = data(n * k, seed.wrapping_add(1));
            let bias = data(n, seed.wrapping_add(2));
            let (mut got, mut want) = (vec![f32::NAN; m * n], vec![0.0; m * n]);
            s.gemm_nt(&a, &w, &bias, &mut got, m, n, k);
            reference::gemm_nt(&a, &w, &bias, &mut want, m, n, k);
            let scale = abs_scale(m, n, k, |i, p| a[i * k + p], |p, j| w[j * k + p], |_, j| bias[j]);
            assert_close(&got, &want, &scale, k, &format!("gemm_nt at {}", s.level()));
        }
    }

    #[test]
    fn gemm_nt_ordered_matches_reference(m in batch(), n in dim(), k in dim(), seed in any::<u64>()) {
        let mut fused_bits: Option<Vec<f32>> = None;
        for s in levels() {
            let m = cap(m, n, k);
            let a = data(m * k, seed);
            let w = data(n * k, seed.wrapping_add(1));
            let bias = data(n, seed.wrapping_add(2));
            let (mut got, mut want) = (vec![f32::NAN; m * n], vec![0.0; m * n]);
            s.gemm_nt_ordered(&a, &w, &bias, &mut got, m, n, k);
            reference::gemm_nt(&a, &w, &bias, &mut want, m, n, k);
            let scale = abs_scale(m, n, k, |i, p| a[i * k + p], |p, j| w[j * k + p], |_, j| bias[j]);
            assert_close(&got, &want, &scale, k, &format!("gemm_nt_ordered at {}", s.level()));
            // Every level with FMA computes the same bits, whatever its vector width.
            if matches!(s.level(), SimdLevel::Avx2 | SimdLevel::Avx512) {
                match &fused_bits {
                    Some(b) => assert_bits(&got, b, &format!("gemm_nt_ordered at {} against AVX2", s.level())),
                    None => fused_bits = Some(got),
                }
            }
        }
    }

    #[test]
    fn gemm_nn_matches_reference(m in batch(), n in dim(), k in dim(), seed in any::<u64>()) {
        for s in levels() {
            let m = cap(m, n, k);
            let a = data(m * k, seed);
            let w = data(k * n, seed.wrapping_add(1));
            let (mut got, mut want) = (vec![f32::NAN; m * n], vec![0.0; m * n]);
            s.gemm_nn(&a, &w, &mut got, m, n, k);
            reference::gemm_nn(&a, &w, &mut want, m, n, k);
            let scale = abs_scale(m, n, k, |i, p| a[i * k + p], |p, j| w[p * n + j], |_, _| 0.0);
            assert_close(&got, &want, &scale, k, &format!("gemm_nn at {}", s.level()));
        }
    }

    #[test]
    fn gemm_tn_acc_matches_reference(m in dim(), n in dim(), k in batch(), seed in any::<u64>()) {
        for s in levels() {
            let k = cap(k, m, n);
            let a = data(k * m, seed);
            let x = data(k * n, seed.wrapping_add(1));
            let c0 = data(m * n, seed.wrapping_add(2));
            let (mut got, mut want) = (c0.clone(), c0.clone());
            s.gemm_tn_acc(&a, &x, &mut got, m, n, k);
            reference::gemm_tn_acc(&a, &x, &mut want, m, n, k);
            let scale = abs_scale(m, n, k, |i, p| a[p * m + i], |p, j| x[p * n + j], |i, j| c0[i * n + j]);
            assert_close(&got, &want, &scale, k, &format!("gemm_tn_acc at {}", s.level()));
        }
    }

    /// On small integers every order of summation is exact: the SIMD kernels must then agree
    /// with the reference bit for bit, which catches any wrong, missing or doubled term.
    #[test]
    fn exact_on_integers(m in batch(), n in dim(), k in dim(), seed in any::<u64>()) {
        for s in levels() {
            let m = cap(m, n, k);
            let a = ints(m * k, seed);
            let w = ints(n * k, seed.wrapping_add(1));
            let bias = ints(n, seed.wrapping_add(2));
            let c0 = ints(m * n, seed.wrapping_add(3));

            prop_assert_eq!(s.dot(&a[..k], &w[..k]), reference::dot(&a[..k], &w[..k]));

            let (mut got, mut want) = (vec![0.0; n], vec![0.0; n]);
            s.gemv(&w, &a[..k], &bias, &mut got);
            reference::gemv(&w, &a[..k], &bias, &mut want);
            prop_assert_eq!(&got, &want);

            let (mut got, mut want) = (vec![0.0; m * n], vec![0.0; m * n]);
            s.gemm_nt(&a, &w, &bias, &mut got, m, n, k);
            reference::gemm_nt(&a, &w, &bias, &mut want, m, n, k);
            prop_assert_eq!(&got, &want);

            let (mut got, mut want) = (vec![0.0; m * n], vec![0.0; m * n]);
            s.gemm_nt_ordered(&a, &w, &bias, &mut got, m, n, k);
            reference::gemm_nt(&a, &w, &bias, &mut want, m, n, k);
            prop_assert_eq!(&got, &want);

            // W read as k×n for the broadcast kernels.
            let (mut got, mut want) = (vec![0.0; m * n], vec![0.0; m * n]);
            s.gemm_nn(&a, &w, &mut got, m, n, k);
            reference::gemm_nn(&a, &w, &mut want, m, n, k);
            prop_assert_eq!(&got, &want);

            // A (m·k values) read as stored k×m, C = c0 (m×n) accumulated.
            let (mut got, mut want) = (c0.clone(), c0.clone());
            s.gemm_tn_acc(&a, &w, &mut got, m, n, k);
            reference::gemm_tn_acc(&a, &w, &mut want, m, n, k);
            prop_assert_eq!(&got, &want);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Which bits each x86-64 level computes

/// `x·y + c` as the level computes it: fused (one rounding) at AVX2, two roundings at SSE2.
#[cfg(target_arch = "x86_64")]
fn madd(fused: bool, x: f32, y: f32, c: f32) -> f32 {
    if fused { x.mul_add(y, c) } else { x * y + c }
}

/// The documented order of the dot-product kernels, in scalar code: `g` vectors of 8 lanes
/// take terms `p` of each full block of `8g` in partial sum `p mod 8g`; the remaining full
/// vector(s) and the zero-padded tail go to the first vector; the `g` vectors are added
/// pairwise, then the lanes as `((l₀+l₄) + (l₂+l₆)) + ((l₁+l₅) + (l₃+l₇))`.
#[cfg(target_arch = "x86_64")]
fn dot_model(a: &[f32], b: &[f32], g: usize, fused: bool) -> f32 {
    let k = a.len();
    let mut acc = vec![[0.0f32; 8]; g];
    let blocks = k / (8 * g) * 8 * g;
    for p in 0..blocks {
        let (u, l) = (p % (8 * g) / 8, p % 8);
        acc[u][l] = madd(fused, a[p], b[p], acc[u][l]);
    }
    for p in blocks..k.div_ceil(8) * 8 {
        let (x, y) = if p < k { (a[p], b[p]) } else { (0.0, 0.0) };
        acc[0][p % 8] = madd(fused, x, y, acc[0][p % 8]);
    }
    let mut n = g;
    while n > 1 {
        let half = n / 2;
        for i in 0..half {
            let other = acc[n - half + i];
            for (x, y) in acc[i].iter_mut().zip(other) {
                *x += y;
            }
        }
        n -= half;
    }
    let v = acc[0];
    ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
}

/// At each x86-64 level, every kernel computes exactly what the module docs say: the same
/// summation order at SSE2 and AVX2, fused only at AVX2; so the broadcast kernels and
/// `axpy` at SSE2 give the reference's bits.
#[cfg(target_arch = "x86_64")]
#[test]
fn x86_levels_compute_the_documented_bits() {
    for s in levels() {
        let fused = match s.level() {
            SimdLevel::Sse2 => false,
            SimdLevel::Avx2 | SimdLevel::Avx512 => true,
            other => panic!("unexpected level {other} on x86-64"),
        };
        let what = |name: &str| format!("{name} at {}", s.level());
        for (seed, k) in [1usize, 7, 8, 9, 31, 32, 33, 40, 127, 784]
            .into_iter()
            .enumerate()
        {
            let seed = seed as u64;
            let (m, n) = (5, 11);
            let a = data(m * k, seed);
            let w = data(n * k, seed + 100);
            let bias = data(n, seed + 200);

            assert_bits(
                &[s.dot(&a[..k], &w[..k])],
                &[dot_model(&a[..k], &w[..k], 4, fused)],
                &what("dot"),
            );

            let mut y = vec![0.0; n];
            s.gemv(&w, &a[..k], &bias, &mut y);
            let want: Vec<f32> = (0..n)
                .map(|j| bias[j] + dot_model(&w[j * k..][..k], &a[..k], 2, fused))
                .collect();
            assert_bits(&y, &want, &what("gemv"));

            let mut c = vec![0.0; m * n];
            s.gemm_nt(&a, &w, &bias, &mut c, m, n, k);
            let want: Vec<f32> = (0..m * n)
                .map(|ij| {
                    let (i, j) = (ij / n, ij % n);
                    bias[j] + dot_model(&a[i * k..][..k], &w[j * k..][..k], 1, fused)
                })
                .collect();
            assert_bits(&c, &want, &what("gemm_nt"));

            // The convolution product: the sum over p in order from zero, then the bias.
            let mut c = vec![f32::NAN; m * n];
            s.gemm_nt_ordered(&a, &w, &bias, &mut c, m, n, k);
            let want: Vec<f32> = (0..m * n)
                .map(|ij| {
                    let (i, j) = (ij / n, ij % n);
                    let sum =
                        (0..k).fold(0.0, |acc, p| madd(fused, a[i * k + p], w[j * k + p], acc));
                    bias[j] + sum
                })
                .collect();
            assert_bits(&c, &want, &what("gemm_nt_ordered"));
            if !fused {
                let mut r = vec![0.0; m * n];
                reference::gemm_nt(&a, &w, &bias, &mut r, m, n, k);
                assert_bits(&c, &r, &what("gemm_nt_ordered against the reference"));
            }

            let mut got = w[..k].to_vec();
            s.axpy(0.37, &a[..k], &mut got);
            let want: Vec<f32> = (0..k).map(|i| madd(fused, a[i], 0.37, w[i])).collect();
            assert_bits(&got, &want, &what("axpy"));
            if !fused {
                let mut r = w[..k].to_vec();
                reference::axpy(0.37, &a[..k], &mut r);
                assert_bits(&got, &r, &what("axpy against the reference"));
            }

            // Broadcast kernels, k ≤ 128 (one block): the sum over p in order.
            if k <= 128 {
                let mut got = vec![f32::NAN; m * n];
                s.gemm_nn(&a, &w, &mut got, m, n, k);
                let want: Vec<f32> = (0..m * n)
                    .map(|ij| {
                        let (i, j) = (ij / n, ij % n);
                        (0..k).fold(0.0, |acc, p| madd(fused, a[i * k + p], w[p * n + j], acc))
                    })
                    .collect();
                assert_bits(&got, &want, &what("gemm_nn"));
                let c0 = data(m * n, seed + 300);
                let (at, x) = (data(k * m, seed + 400), data(k * n, seed + 500));
                let mut tn = c0.clone();
                s.gemm_tn_acc(&at, &x, &mut tn, m, n, k);
                let want: Vec<f32> = (0..m * n)
                    .map(|ij| {
                        let (i, j) = (ij / n, ij % n);
                        let sum = (0..k)
                            .fold(0.0, |acc, p| madd(fused, at[p * m + i], x[p * n + j], acc));
                        c0[ij] + sum
                    })
                    .collect();
                assert_bits(&tn, &want, &what("gemm_tn_acc"));
                if !fused {
                    let mut r = vec![0.0; m * n];
                    reference::gemm_nn(&a, &w, &mut r, m, n, k);
                    assert_bits(&got, &r, &what("gemm_nn against the reference"));
                    let mut r = c0.clone();
                    reference::gemm_tn_acc(&at, &x, &mut r, m, n, k);
                    assert_bits(&tn, &r, &what("gemm_tn_acc against the reference"));
                }
            }
        }
    }
}

/// The convolution product at the shapes its tiles split: whole and partial 12-, 6- and
/// 4-row tiles, panels of 32 columns and the 16-, 8- and partial-vector rest, and sums over
/// more terms than one packed block (256) holds; at every level the documented bits.
#[cfg(target_arch = "x86_64")]
#[test]
fn gemm_nt_ordered_bits_at_tile_edges() {
    let shapes = [
        (64, 32, 144),
        (29, 32, 9),
        (13, 33, 257),
        (25, 48, 600),
        (11, 17, 1),
        (7, 8, 40),
        (3, 71, 513),
    ];
    for s in levels() {
        let fused = s.level() != SimdLevel::Sse2;
        for (seed, (m, n, k)) in shapes.into_iter().enumerate() {
            let seed = seed as u64 + 1000;
            let (a, w, bias) = (data(m * k, seed), data(n * k, seed + 1), data(n, seed + 2));
            let mut c = vec![f32::NAN; m * n];
            s.gemm_nt_ordered(&a, &w, &bias, &mut c, m, n, k);
            let want: Vec<f32> = (0..m * n)
                .map(|ij| {
                    let (i, j) = (ij / n, ij % n);
                    let sum =
                        (0..k).fold(0.0, |acc, p| madd(fused, a[i * k + p], w[j * k + p], acc));
                    bias[j] + sum
                })
                .collect();
            assert_bits(
                &c,
                &want,
                &format!("gemm_nt_ordered {m}×{n}×{k} at {}", s.level()),
            );
        }
    }
}

/// AVX2 really fuses and SSE2 really does not: on inputs where the two roundings differ,
/// the levels disagree, so the bit tests above cannot pass by both paths being the same.
#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_fuses_and_sse2_does_not() {
    let x = [1.0 + f32::EPSILON; 8];
    let y0 = [-1.0; 8];
    // (1 + ε)² − 1 = 2ε + ε²: fused keeps ε², rounding the product first loses it.
    for s in levels() {
        let mut y = y0;
        s.axpy(1.0 + f32::EPSILON, &x, &mut y);
        let want = match s.level() {
            SimdLevel::Avx2 | SimdLevel::Avx512 => 2.0 * f32::EPSILON + f32::EPSILON * f32::EPSILON,
            _ => 2.0 * f32::EPSILON,
        };
        assert_eq!(y, [want; 8], "axpy at {}", s.level());
    }
}
