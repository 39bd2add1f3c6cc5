//! f32 compute kernels: the only place where firmnet loops over large arrays.
//!
//! Every layer reaches its arithmetic through the functions of this module, so a new
//! architecture path is one new file beside [`reference`](mod@reference) and [`simd`].
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
//! | [`gemm_nt_ordered`] | `C = A·Wᵀ + bias`, the reference's order | convolution forward |
//! | [`conv_ordered`] | the same on patches read in place from the input maps | convolution forward |
//! | [`gemm_nn`] | `C = A·W` | input gradient `dX = dY·W` |
//! | [`gemm_tn_acc`] | `C += Aᵀ·X` | weight gradient `dW += dYᵀ·X` |
//!
//! Convolutions reach these through [`conv`]: im2col turns a convolution into
//! [`gemm_nt_ordered`] (and its gradients into [`gemm_tn_acc`], [`gemm_nn`] and col2im);
//! [`conv_ordered`] computes the forward product's bits without im2col, reading the
//! patches where they lie in the input; the depthwise loops are kernels of their own,
//! vectorized over channels.
//!
//! # Backends
//! [`Backend::Reference`] is plain scalar Rust, written to be obviously right: it is the
//! yardstick the tests hold every fast path to, and the path on cores without float SIMD
//! (Cortex-M, RISC-V). [`Backend::Simd`] is hand-vectorized on x86 and AArch64 (module
//! [`simd`]); on the Cortex-M4F (`thumbv7em-none-eabihf`) it runs [`gemv`], [`gemm_nt`],
//! [`gemm_nt_ordered`], [`gemm_nn`] and [`gemm_tn_acc`] on the FPU four rows or eight
//! columns at a time, with the reference's bits (the product rounded, then added, in the
//! reference's order); on other targets it falls back
//! to the reference. The backend is chosen at run
//! time with [`set_backend`] (default: [`Backend::Simd`]), so tests and verification runs can
//! force the path that firmware takes.
//!
//! # SIMD levels
//! [`Backend::Simd`] runs at one [`SimdLevel`], chosen at the first kernel call from what
//! the CPU has, and cached: on x86-64 [`SimdLevel::Avx512`] (AVX-512F and VL on top of
//! AVX2 and FMA) where the CPU has them, else [`SimdLevel::Avx2`] (AVX2 + FMA) where it has
//! both, else [`SimdLevel::Sse2`]; on AArch64 and 32-bit x86 [`SimdLevel::Portable`]
//! (`wide` at the build's target features). The choice does not depend on how the crate
//! was compiled, so a crate that depends on firmnet gets AVX2 without `-C target-cpu`.
//! [`simd_level`] tells which level runs; [`set_simd_level`], or the environment variable
//! `FIRMNET_SIMD=sse2|avx2|avx512` read at the first call (with the `std` feature),
//! selects a lower one, e.g. to test the baseline path on a CPU that has AVX2. The AVX-512
//! level runs the AVX2 kernels compiled with 32 registers (the same bits) and
//! [`gemm_nt_ordered`] on 16-lane vectors (the same bits as its 8-lane AVX2 version).
//! (Built with `avx512vl` enabled, e.g. `-C target-cpu=native` on such a CPU, the matrix
//! kernels use larger register tiles, which change the speed, not the bits.) The int8 kernel
//! ([`quant::kernels`](crate::quant::kernels)) follows the same level.
//!
//! Which bits each path produces (the tests check each statement):
//!
//! | path | multiply–add | summation order | bits |
//! | --- | --- | --- | --- |
//! | [`Backend::Reference`] | product rounded, then sum | left to right | the same on every target, the firmware's |
//! | [`Backend::Simd`] on the Cortex-M4F | product rounded, then sum (`VMLA`) | left to right | the reference's |
//! | [`SimdLevel::Sse2`] | product rounded, then sum | interleaved partial sums (below) | the reference's for [`axpy`] and [`gemm_nt_ordered`], and for [`gemm_nn`] and [`gemm_tn_acc`] when `k ≤ 128`; otherwise its own, the same in every build |
//! | [`SimdLevel::Avx2`] | fused, one rounding | the same as SSE2 | its own: SSE2's order, fused; the same in every build |
//! | [`SimdLevel::Avx512`] | fused, one rounding | the same as SSE2 | AVX2's |
//! | [`SimdLevel::Portable`] | fused on AArch64 | as SSE2, but `wide`'s reduction of the 8 lanes | its own |
//!
//! So SSE2 and AVX2 differ only by fusion: on data whose products are exact (small
//! integers, say) every level gives the reference's bits. int8 results are exact
//! integer sums: the same bits on every level, every backend, every target.
//!
//! # Numerics
//! Each function documents what it computes in which order. In short:
//! - The reference never fuses: every product is rounded, then added (Rust never turns
//!   `a*b + c` into a fused multiply-add by itself), summing left to right. Its results are
//!   the same bits on every target, so the host reproduces the firmware exactly.
//! - The SIMD kernels fuse every multiply–add where the level has FMA (AVX2, AArch64) and
//!   multiply then add elsewhere. The dot-product kernels ([`dot`], [`gemv`], [`gemm_nt`])
//!   sum in interleaved partial sums that are added pairwise at the end, so their rounding
//!   differs from the reference; the error bound is *smaller* than the reference's
//!   sequential one. The broadcast kernels ([`gemm_nn`], [`gemm_tn_acc`]) keep the
//!   reference's order within blocks of 128 terms. Results therefore agree with the
//!   reference to rounding, not bit for bit; both propagate NaN and infinity.
//!
//! # Panics
//! The kernels check that slice lengths agree with the dimensions they are given and panic
//! if they do not; that is a programming error, never a data error. Layers call them with
//! sizes fixed by their types, so the layer API cannot reach those panics.

pub mod conv;
mod level;
#[cfg(all(firmnet_arm_dsp, target_abi = "eabihf"))]
mod m4;
pub mod reference;
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
pub mod simd;
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
mod tune;
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
pub(crate) mod vector;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use level::{LevelUnavailable, SimdLevel, set_simd_level, simd_level};

use core::sync::atomic::{AtomicU8, Ordering};

// The fast path: the SIMD kernels where the target has float SIMD, the Cortex-M4F's
// four-row products (the reference's bits) there, the reference elsewhere.
#[cfg(all(firmnet_arm_dsp, target_abi = "eabihf"))]
use m4 as fast;
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    all(firmnet_arm_dsp, target_abi = "eabihf")
)))]
use reference as fast;
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
use simd as fast;

/// Whether calls go to `fast` (else to [`reference`](mod@reference)).
#[inline(always)]
fn use_fast() -> bool {
    backend() == Backend::Simd
}

/// Which implementation of the kernels runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Plain scalar loops: the reference implementation and the path of cores without
    /// float SIMD. Summation order is the natural left-to-right order.
    Reference,
    /// Hand-vectorized kernels at the [`SimdLevel`] of [`simd_level`] where the target has
    /// float SIMD; the reference elsewhere. Summation order differs from the reference, so
    /// results agree to rounding, not bit for bit (see the module docs).
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
/// # Numerics
/// Reference: `((a₀b₀ + a₁b₁) + a₂b₂) + …`, each product rounded. SIMD: 32 interleaved
/// fused partial sums (`aᵢbᵢ` goes to partial sum `i mod 32`), added pairwise at the end.
///
/// # Panics
/// If `a.len() != b.len()`.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot: length mismatch");
    if use_fast() {
        fast::dot(a, b)
    } else {
        reference::dot(a, b)
    }
}

/// `y += alpha·x`.
///
/// # Numerics
/// Reference: `y + round(alpha·x)`, two roundings. SIMD: fused, one rounding.
///
/// # Panics
/// If `x.len() != y.len()`.
#[inline]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "axpy: length mismatch");
    if use_fast() {
        fast::axpy(alpha, x, y)
    } else {
        reference::axpy(alpha, x, y)
    }
}

/// Matrix–vector product with bias: `y = W·x + b`, with `W` of `y.len()` rows and
/// `x.len()` columns, row-major.
///
/// # Numerics
/// Reference: `b[o] + dot(W[o], x)` with the reference [`dot`]. SIMD: each row in 16
/// interleaved fused partial sums, added pairwise; the bias is added last.
///
/// # Panics
/// If `w.len() != y.len() * x.len()` or `b.len() != y.len()`.
#[inline]
pub fn gemv(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    assert_eq!(w.len(), y.len() * x.len(), "gemv: weight shape mismatch");
    assert_eq!(b.len(), y.len(), "gemv: bias length mismatch");
    if use_fast() {
        fast::gemv(w, x, b, y)
    } else {
        reference::gemv(w, x, b, y)
    }
}

/// Batched forward product: `C = A·Wᵀ + bias`, where `A` is `m×k` (one sample per row),
/// `W` is `n×k` (one output neuron per row), `bias` has `n` entries and `C` is `m×n`.
/// `C` is overwritten.
///
/// # Numerics
/// As [`gemv`] for each row of `A`, except that the SIMD kernel uses 8 partial sums per
/// output (its micro-tile holds 12 to 16 outputs in registers at once).
///
/// # Panics
/// If a slice length disagrees with `m`, `n`, `k`.
#[inline]
pub fn gemm_nt(a: &[f32], w: &[f32], bias: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    assert_eq!(a.len(), m * k, "gemm_nt: A shape mismatch");
    assert_eq!(w.len(), n * k, "gemm_nt: W shape mismatch");
    assert_eq!(bias.len(), n, "gemm_nt: bias length mismatch");
    assert_eq!(c.len(), m * n, "gemm_nt: C shape mismatch");
    if use_fast() {
        fast::gemm_nt(a, w, bias, c, m, n, k)
    } else {
        reference::gemm_nt(a, w, bias, c, m, n, k)
    }
}

/// The convolution product: `C = A·Wᵀ + bias` as [`gemm_nt`] (`A` is `m×k`, `W` is `n×k`,
/// `C` is `m×n`), but each output summed in the reference's order at every level.
///
/// The convolution layers compute their outputs with it, in training and in inference
/// alike, so both give the same bits.
///
/// # Numerics
/// Reference: [`reference::gemm_nt`] (`bias[j] + Σ_p A[i,p]·W[j,p]`, the sum over `p` in
/// increasing order from zero, each product rounded). SIMD: the same order, so the SSE2
/// level gives the reference's bits; fused at the AVX2 and AVX-512 levels, which give the
/// same bits as each other (a broadcast product: every output is one accumulator, whatever
/// the vector width).
///
/// # Panics
/// If a slice length disagrees with `m`, `n`, `k`.
#[inline]
pub fn gemm_nt_ordered(
    a: &[f32],
    w: &[f32],
    bias: &[f32],
    c: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
) {
    assert_eq!(a.len(), m * k, "gemm_nt_ordered: A shape mismatch");
    assert_eq!(w.len(), n * k, "gemm_nt_ordered: W shape mismatch");
    assert_eq!(bias.len(), n, "gemm_nt_ordered: bias length mismatch");
    assert_eq!(c.len(), m * n, "gemm_nt_ordered: C shape mismatch");
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    if use_fast() {
        return simd::gemm_nt_ordered(a, w, bias, c, m, n, k);
    }
    #[cfg(all(firmnet_arm_dsp, target_abi = "eabihf"))]
    if use_fast() {
        return m4::gemm_nt(a, w, bias, c, m, n, k);
    }
    reference::gemm_nt(a, w, bias, c, m, n, k)
}

/// The convolution's forward product read straight from the input maps: for the maps of
/// `x` (`g.input_len()` values each, channels-last, one after another), their outputs `y`
/// (`g.pixels() × n`, `n = bias.len()`, map after map), from the filters `w` (`n` rows of
/// `g.patch_len()`), **the bits of** [`conv::im2col`] of every map followed by one
/// [`gemm_nt_ordered`] — without writing the patches. Runs only at [`Backend::Simd`]
/// where the target has SIMD kernels, and only with room in `scratch` for the padded map
/// where a window overhangs it ([`Window::padded_len`](conv::Window::padded_len); see
/// [`simd::Simd::conv_ordered`]); elsewhere it writes nothing and returns `false`, and the
/// caller takes the im2col path (the reference's, which does not change).
///
/// # Panics
/// If it runs and a slice length disagrees with `g` and `n`.
#[must_use]
#[inline]
pub fn conv_ordered(
    g: &conv::Window,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
) -> bool {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    if use_fast() && (!g.overhangs() || scratch.len() >= g.padded_len()) {
        simd::Simd::selected().conv_ordered(g, x, w, bias, y, scratch);
        return true;
    }
    let _ = (g, x, w, bias, y, scratch);
    false
}

/// Input-gradient product: `C = A·W`, where `A` is `m×k`, `W` is `k×n` and `C` is `m×n`.
/// `C` is overwritten.
///
/// For a dense layer: `dX = dY·W` with `m` = batch, `k` = outputs, `n` = inputs.
///
/// # Numerics
/// Reference: `Σ_p A[i,p]·W[p,j]` summed over `p` in increasing order, each product
/// rounded. SIMD: the same order but fused, in blocks of 128 terms whose sums are added in
/// order (for `k ≤ 128`, one block: the reference's order exactly).
///
/// # Panics
/// If a slice length disagrees with `m`, `n`, `k`.
#[inline]
pub fn gemm_nn(a: &[f32], w: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    assert_eq!(a.len(), m * k, "gemm_nn: A shape mismatch");
    assert_eq!(w.len(), k * n, "gemm_nn: W shape mismatch");
    assert_eq!(c.len(), m * n, "gemm_nn: C shape mismatch");
    if use_fast() {
        fast::gemm_nn(a, w, c, m, n, k)
    } else {
        reference::gemm_nn(a, w, c, m, n, k)
    }
}

/// Outputs of a weight-gradient product computed transposed, on the stack (4 KiB).
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
const TN_TRANSPOSED_MAX: usize = 1024;

/// [`gemm_tn_acc`] with few columns (`n` below two vectors) and more rows: `Cᵀ += Xᵀ·A`,
/// so that the vectors run along the `m` rows instead of a mostly padded last vector of
/// `n` (a 3×3 convolution on one input channel has `n` = 9: its weight gradient took 12×
/// longer the direct way). The same bits: every output is the same chain of fused
/// products in the same order and blocks, `fma(a, x, s)` being `fma(x, a, s)`.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
fn gemm_tn_acc_transposed(a: &[f32], x: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    let mut t = [0.0f32; TN_TRANSPOSED_MAX];
    let t = &mut t[..m * n];
    for (i, row) in c.chunks_exact(n).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            t[j * m + i] = v;
        }
    }
    fast::gemm_tn_acc(x, a, t, n, m, k);
    for (i, row) in c.chunks_exact_mut(n).enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = t[j * m + i];
        }
    }
}

/// Weight-gradient product, accumulating: `C += Aᵀ·X`, where `A` is stored `k×m`, `X` is
/// `k×n` and `C` is `m×n`.
///
/// For a dense layer: `dW += dYᵀ·X` with `k` = batch, `m` = outputs, `n` = inputs.
///
/// # Numerics
/// Reference: `C[i,j] + Σ_p A[p,i]·X[p,j]`, the sum over `p` in increasing order, each
/// product rounded, added to `C` last. SIMD: the same, fused, with the sum in blocks of 128
/// terms, each added to `C` in turn (with fewer than 16 columns, computed as `Cᵀ += Xᵀ·A`:
/// the same bits, faster).
///
/// # Panics
/// If a slice length disagrees with `m`, `n`, `k`.
#[inline]
pub fn gemm_tn_acc(a: &[f32], x: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    assert_eq!(a.len(), k * m, "gemm_tn_acc: A shape mismatch");
    assert_eq!(x.len(), k * n, "gemm_tn_acc: X shape mismatch");
    assert_eq!(c.len(), m * n, "gemm_tn_acc: C shape mismatch");
    if use_fast() {
        #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
        if n < 2 * tune::LANES && m > n && m * n <= TN_TRANSPOSED_MAX {
            gemm_tn_acc_transposed(a, x, c, m, n, k);
            return;
        }
        fast::gemm_tn_acc(a, x, c, m, n, k)
    } else {
        reference::gemm_tn_acc(a, x, c, m, n, k)
    }
}
