//! f32 compute kernels: the only place where firmnet loops over large arrays.
//!
//! Every layer reaches its arithmetic through the functions of this module, so a new
//! architecture path is one new file beside [`reference`] and [`simd`].
//!
//! # Memory layout
//! All matrices are **row-major and contiguous**. A dense layer stores its weights as
//! `[[f32; IN]; OUT]`: row `o` holds the `IN` weights of output neuron `o`, so the forward
//! pass is a series of contiguous dot products and the input gradient a series of
//! contiguous row updates. A batch of `B` samples is `[[f32; N]; B]`, one sample per row.
//!
//! | kernel | computes | used for |
//! | --- | --- | --- |
//! | [`dot`] | `Σ a[i]·b[i]` | reductions |
//! | [`axpy`] | `y += α·x` | bias gradients, updates |
//! | [`gemv`] | `y = W·x + b` | inference at batch 1 |
//! | [`gemm_nt`] | `C = A·Wᵀ + bias` | forward pass on a batch |
//! | [`gemm_nn`] | `C = A·W` | input gradient `dX = dY·W` |
//! | [`gemm_tn_acc`] | `C += Aᵀ·X` | weight gradient `dW += dYᵀ·X` |
//!
//! # Backends
//! [`Backend::Reference`] is plain scalar Rust, written to be obviously right: it is the
//! yardstick the tests hold every fast path to, and the path on cores without float SIMD
//! (Cortex-M, RISC-V). [`Backend::Simd`] is hand-vectorized with `wide::f32x8` on x86 and
//! AArch64; on other targets it falls back to the reference. The backend is chosen at run
//! time with [`set_backend`] (default: [`Backend::Simd`]), so tests and verification runs can
//! force the path that firmware takes.
//!
//! # Panics
//! The kernels check that slice lengths agree with the dimensions they are given and panic
//! if they do not; that is a programming error, never a data error. Layers call them with
//! sizes fixed by their types, so the layer API cannot reach those panics.

pub mod reference;

use core::sync::atomic::{AtomicU8, Ordering};

/// Which implementation of the kernels runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Plain scalar loops: the reference implementation and the path of cores without
    /// float SIMD. Summation order is the natural left-to-right order.
    Reference,
    /// Hand-vectorized kernels (`wide::f32x8`) where the target has float SIMD; the
    /// reference elsewhere. Summation order differs from the reference, so results agree
    /// to rounding, not bit for bit.
    Simd,
}

static BACKEND: AtomicU8 = AtomicU8::new(Backend::Simd as u8);

/// Selects the kernel implementation for all later calls, on every thread.
///
/// Use it to reproduce on the host, bit for bit, what a target without float SIMD computes.
pub fn set_backend(backend: Backend) {
    BACKEND.store(backend as u8, Ordering::Relaxed);
}

/// The kernel implementation currently selected.
pub fn backend() -> Backend {
    if BACKEND.load(Ordering::Relaxed) == Backend::Reference as u8 {
        Backend::Reference
    } else {
        Backend::Simd
    }
}

/// Dot product `Σ a[i]·b[i]`.
///
/// # Panics
/// If `a.len() != b.len()`.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot: length mismatch");
    reference::dot(a, b)
}

/// `y += alpha·x`.
///
/// # Panics
/// If `x.len() != y.len()`.
#[inline]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "axpy: length mismatch");
    reference::axpy(alpha, x, y)
}

/// Matrix–vector product with bias: `y = W·x + b`, with `W` of `y.len()` rows and
/// `x.len()` columns, row-major.
///
/// # Panics
/// If `w.len() != y.len() * x.len()` or `b.len() != y.len()`.
#[inline]
pub fn gemv(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    assert_eq!(w.len(), y.len() * x.len(), "gemv: weight shape mismatch");
    assert_eq!(b.len(), y.len(), "gemv: bias length mismatch");
    reference::gemv(w, x, b, y)
}

/// Batched forward product: `C = A·Wᵀ + bias`, where `A` is `m×k` (one sample per row),
/// `W` is `n×k` (one output neuron per row), `bias` has `n` entries and `C` is `m×n`.
///
/// # Panics
/// If a slice length disagrees with `m`, `n`, `k`.
#[inline]
pub fn gemm_nt(a: &[f32], w: &[f32], bias: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    assert_eq!(a.len(), m * k, "gemm_nt: A shape mismatch");
    assert_eq!(w.len(), n * k, "gemm_nt: W shape mismatch");
    assert_eq!(bias.len(), n, "gemm_nt: bias length mismatch");
    assert_eq!(c.len(), m * n, "gemm_nt: C shape mismatch");
    reference::gemm_nt(a, w, bias, c, m, n, k)
}

/// Input-gradient product: `C = A·W`, where `A` is `m×k`, `W` is `k×n` and `C` is `m×n`.
/// `C` is overwritten.
///
/// For a dense layer: `dX = dY·W` with `m` = batch, `k` = outputs, `n` = inputs.
///
/// # Panics
/// If a slice length disagrees with `m`, `n`, `k`.
#[inline]
pub fn gemm_nn(a: &[f32], w: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    assert_eq!(a.len(), m * k, "gemm_nn: A shape mismatch");
    assert_eq!(w.len(), k * n, "gemm_nn: W shape mismatch");
    assert_eq!(c.len(), m * n, "gemm_nn: C shape mismatch");
    reference::gemm_nn(a, w, c, m, n, k)
}

/// Weight-gradient product, accumulating: `C += Aᵀ·X`, where `A` is stored `k×m`, `X` is
/// `k×n` and `C` is `m×n`.
///
/// For a dense layer: `dW += dYᵀ·X` with `k` = batch, `m` = outputs, `n` = inputs.
///
/// # Panics
/// If a slice length disagrees with `m`, `n`, `k`.
#[inline]
pub fn gemm_tn_acc(a: &[f32], x: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    assert_eq!(a.len(), k * m, "gemm_tn_acc: A shape mismatch");
    assert_eq!(x.len(), k * n, "gemm_tn_acc: X shape mismatch");
    assert_eq!(c.len(), m * n, "gemm_tn_acc: C shape mismatch");
    reference::gemm_tn_acc(a, x, c, m, n, k)
}
