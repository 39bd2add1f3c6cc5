//! Hand-vectorized kernels on 8-lane `f32` vectors, for targets with float SIMD (x86,
//! AArch64), at the instruction set chosen at run time ([`Simd`]; see the module docs of
//! [`super`] for the levels and their bits).
//!
//! Same contracts as [`super::reference`]: the caller (the dispatching functions of
//! [`super`]) has checked the slice lengths. Called directly with inconsistent lengths, a
//! kernel panics on an out-of-bounds index or ignores surplus elements; there is no `unsafe`
//! code here, so never undefined behaviour (the AVX2 instructions' `unsafe` lives in the
//! private `x86` module, behind a proof of detection).
//!
//! # Structure
//! - Each kernel body is written once, generic over the instruction set (`Isa`), and
//!   `#[inline(always)]`; [`Simd`] instantiates it per level, on x86-64 inside a
//!   `#[target_feature(enable = "avx2,fma")]` function for AVX2.
//! - Loads and stores go through `[f32; 8]` arrays taken from `as_chunks`, which compile to
//!   plain unaligned vector loads without bounds checks in the inner loops.
//! - Every multiply–add is `mul_add`: fused at the AVX2 level and on AArch64, a multiply
//!   then an add at the SSE2 level.
//! - Two micro-kernels do the matrix work, each keeping its accumulators in registers for
//!   the whole loop over `k`:
//!   - a dot-product tile for [`gemv`] and [`gemm_nt`]: rows of both operands are contiguous
//!     along `k`, `MR × NR` vector accumulators, horizontal sums at the end;
//!   - a broadcast tile `C[i, j..j+8·NV] += a(i,p) · W[p, j..j+8·NV]` for `MR` rows, shared
//!     by [`gemm_nn`] and [`gemm_tn_acc`], which differ only in how `a(i,p)` is strided
//!     (the `LeftOperand` implementations).
//! - Remainders reuse the same generic tiles at smaller sizes (two rows, one row; two
//!   vectors, one vector), and the last partial vector of a row goes through a zero-padded
//!   `[f32; 8]`: no per-element branches. Tile and block sizes are the constants of `tune.rs`.
//!
//! # Numerics
//! With `u = 2⁻²⁴` and `S = Σ|aᵢ·bᵢ|` over the `k` terms of one output, to first order:
//! - [`dot`], [`gemv`], [`gemm_nt`]: `P` interleaved partial sums (`P` = 32, 16 and 8
//!   respectively; term `p` goes to partial sum `p mod P`, except that the last `k mod P`
//!   terms go to the first eight), each summed in order with fused multiply-adds, then added
//!   pairwise; the bias is added last. Error bound about `(k/P + log₂P + 2)·u·S`, against
//!   `(k + 1)·u·S` for the reference's sequential sum.
//! - [`gemm_nn`]: the reference's order (`p` increasing), fused, in blocks of `BC_KC` = 128
//!   terms whose sums are added in order. [`gemm_tn_acc`]: the same sum, added to `C` at the
//!   end of each block (the reference adds it to `C` once, at the end).
//! - [`axpy`]: `y + α·x` rounded once.

use core::array;
use core::cmp::min;

use super::conv::Window;
use super::level::{SimdLevel, simd_level};
use super::tune::{BC_KC, BC_MR, BC_NV, DOT_ACC, GEMV_ACC, GEMV_ROWS, LANES, NT_MR, NT_NC, NT_NR};
#[cfg(not(target_arch = "x86_64"))]
use super::vector::Portable;
use super::vector::{F32x8, Isa, Kernel};
#[cfg(target_arch = "x86_64")]
use super::x86::{Avx2, Avx512, F32x16, Sse2, WideKernel};

// ---------------------------------------------------------------------------------------
// The instruction set, chosen at run time

/// The SIMD kernels at one instruction set that this build and CPU run
/// ([`SimdLevel::is_available`]). The free functions of this module use
/// [`Simd::selected`]; a `Simd` of your own runs one level without touching the global
/// choice, e.g. to compare every level in tests running in parallel.
#[derive(Clone, Copy, Debug)]
pub struct Simd(Token);

/// The instruction set, with the proof that it runs here.
#[derive(Clone, Copy, Debug)]
enum Token {
    #[cfg(target_arch = "x86_64")]
    Sse2(Sse2),
    #[cfg(target_arch = "x86_64")]
    Avx2(Avx2),
    #[cfg(target_arch = "x86_64")]
    Avx512(Avx512),
    #[cfg(not(target_arch = "x86_64"))]
    Portable(Portable),
}

impl Simd {
    /// The kernels at `level`, if this build and CPU run it.
    pub fn new(level: SimdLevel) -> Option<Simd> {
        let token = match level {
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Sse2 => Token::Sse2(Sse2),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => Token::Avx2(Avx2::detect()?),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => Token::Avx512(Avx512::detect()?),
            #[cfg(not(target_arch = "x86_64"))]
            SimdLevel::Portable => Token::Portable(Portable),
            _ => return None,
        };
        Some(Simd(token))
    }

    /// The kernels at the selected level, [`super::simd_level`].
    #[inline]
    pub fn selected() -> Simd {
        Simd::new(simd_level()).unwrap_or(Simd::BASELINE)
    }

    /// The level every CPU of the target runs.
    #[cfg(target_arch = "x86_64")]
    const BASELINE: Simd = Simd(Token::Sse2(Sse2));
    /// The level every CPU of the target runs.
    #[cfg(not(target_arch = "x86_64"))]
    const BASELINE: Simd = Simd(Token::Portable(Portable));

    /// The kernels at every level this build and CPU run, lowest first.
    pub fn available() -> impl Iterator<Item = Simd> {
        SimdLevel::available().filter_map(Simd::new)
    }

    /// Its level.
    pub fn level(self) -> SimdLevel {
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            Token::Sse2(_) => SimdLevel::Sse2,
            #[cfg(target_arch = "x86_64")]
            Token::Avx2(_) => SimdLevel::Avx2,
            #[cfg(target_arch = "x86_64")]
            Token::Avx512(_) => SimdLevel::Avx512,
            #[cfg(not(target_arch = "x86_64"))]
            Token::Portable(_) => SimdLevel::Portable,
        }
    }

    /// `k` compiled for, and run on, this instruction set.
    #[inline]
    pub(crate) fn run<K: Kernel>(self, k: K) -> K::Output {
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            Token::Sse2(isa) => k.run(isa),
            #[cfg(target_arch = "x86_64")]
            Token::Avx2(isa) => isa.run(k),
            #[cfg(target_arch = "x86_64")]
            Token::Avx512(isa) => isa.run(k),
            #[cfg(not(target_arch = "x86_64"))]
            Token::Portable(isa) => k.run(isa),
        }
    }
}

/// For each `fn name(args) -> T = body;`: a method `Simd::name(self, args)` that runs
/// `body(isa, args)` on the `Simd`'s instruction set, and a free function `name(args)` that
/// does so at the selected level.
macro_rules! dispatched {
    ($($(#[$doc:meta])* fn $name:ident<$lt:lifetime>($($arg:ident: $ty:ty),*) $(-> $ret:ty)? = $body:ident;)*) => {
        impl Simd {
            $(
                $(#[$doc])*
                #[allow(clippy::too_many_arguments)]
                #[inline]
                pub fn $name<$lt>(self, $($arg: $ty),*) $(-> $ret)? {
                    struct K<$lt> {
                        $($arg: $ty),*
                    }
                    impl<$lt> Kernel for K<$lt> {
                        type Output = dispatched!(@ret $($ret)?);
                        #[inline(always)]
                        fn run<I: Isa>(self, isa: I) -> Self::Output {
                            $body(isa, $(self.$arg),*)
                        }
                    }
                    self.run(K { $($arg),* })
                }
            )*
        }
        $(
            $(#[$doc])*
            ///
            /// At the selected level ([`Simd::selected`]).
            #[inline]
            pub fn $name<$lt>($($arg: $ty),*) $(-> $ret)? {
                Simd::selected().$name($($arg),*)
            }
        )*
    };
    (@ret $ret:ty) => { $ret };
    (@ret) => { () };
}

dispatched! {
    /// `Σ a[i]·b[i]` with `DOT_ACC` vector accumulators (see the module docs for the order).
    fn dot<'a>(a: &'a [f32], b: &'a [f32]) -> f32 = dot_body;
    /// `y += alpha·x`, fused where the level has FMA.
    fn axpy<'a>(alpha: f32, x: &'a [f32], y: &'a mut [f32]) = axpy_body;
    /// `y = W·x + b`, `GEMV_ROWS` rows at a time.
    fn gemv<'a>(w: &'a [f32], x: &'a [f32], b: &'a [f32], y: &'a mut [f32]) = gemv_body;
    /// `C = A·Wᵀ + bias`: `A` is `m×k`, `W` is `n×k`, `C` is `m×n`.
    ///
    /// Blocks of `NT_NC` rows of `W` are swept by all `NT_MR`-row tiles of `A`; within a
    /// tile, `NT_NR` rows of `W` at a time.
    fn gemm_nt<'a>(a: &'a [f32], w: &'a [f32], bias: &'a [f32], c: &'a mut [f32], m: usize, n: usize, k: usize) = gemm_nt_body;
    /// `C = A·W`: `A` is `m×k`, `W` is `k×n`, `C` is `m×n`.
    fn gemm_nn<'a>(a: &'a [f32], w: &'a [f32], c: &'a mut [f32], m: usize, n: usize, k: usize) = gemm_nn_body;
    /// `C += Aᵀ·X`: `A` is stored `k×m`, `X` is `k×n`, `C` is `m×n`.
    fn gemm_tn_acc<'a>(a: &'a [f32], x: &'a [f32], c: &'a mut [f32], m: usize, n: usize, k: usize) = gemm_tn_acc_body;
}

// ---------------------------------------------------------------------------------------
// Helpers

/// Up to eight floats, zero-padded to a vector.
#[inline(always)]
fn load_padded<I: Isa>(isa: I, s: &[f32]) -> I::F32x8 {
    let mut t = [0.0; LANES];
    t[..s.len()].copy_from_slice(s);
    isa.load(&t)
}

/// The first `out.len()` (≤ 8) lanes of `v` into `out`.
#[inline(always)]
fn store_partial<V: F32x8>(v: V, out: &mut [f32]) {
    let n = out.len();
    out.copy_from_slice(&v.to_array()[..n]);
}

/// Pairwise sum of `N` vectors.
#[inline(always)]
fn sum_tree<V: F32x8, const N: usize>(mut v: [V; N]) -> V {
    let mut n = N;
    while n > 1 {
        let half = n / 2;
        for i in 0..half {
            v[i] = v[i] + v[n - half + i];
        }
        n -= half;
    }
    v[0]
}

// ---------------------------------------------------------------------------------------
// Kernel bodies, generic over the instruction set

#[inline(always)]
fn dot_body<I: Isa>(isa: I, a: &[f32], b: &[f32]) -> f32 {
    let (av, at) = a.as_chunks::<LANES>();
    let (bv, bt) = b.as_chunks::<LANES>();
    let (ab, ar) = av.as_chunks::<DOT_ACC>();
    let (bb, br) = bv.as_chunks::<DOT_ACC>();
    let mut acc = [isa.zero(); DOT_ACC];
    for (x, y) in ab.iter().zip(bb) {
        for u in 0..DOT_ACC {
            acc[u] = isa.load(&x[u]).mul_add(isa.load(&y[u]), acc[u]);
        }
    }
    for (x, y) in ar.iter().zip(br) {
        acc[0] = isa.load(x).mul_add(isa.load(y), acc[0]);
    }
    if !at.is_empty() {
        acc[0] = load_padded(isa, at).mul_add(load_padded(isa, bt), acc[0]);
    }
    sum_tree(acc).reduce_add()
}

#[inline(always)]
fn axpy_body<I: Isa>(isa: I, alpha: f32, x: &[f32], y: &mut [f32]) {
    let al = isa.splat(alpha);
    let (xv, xt) = x.as_chunks::<LANES>();
    let (yv, yt) = y.as_chunks_mut::<LANES>();
    for (yc, xc) in yv.iter_mut().zip(xv) {
        *yc = isa.load(xc).mul_add(al, isa.load(yc)).to_array();
    }
    if !yt.is_empty() {
        let r = load_padded(isa, xt).mul_add(al, load_padded(isa, yt));
        store_partial(r, yt);
    }
}

#[inline(always)]
fn gemv_body<I: Isa>(isa: I, w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let k = x.len();
    if k == 0 {
        y.copy_from_slice(b);
        return;
    }
    let (xv, xt) = x.as_chunks::<LANES>();
    let mut wt = w.chunks_exact(GEMV_ROWS * k);
    let mut yt = y.chunks_exact_mut(GEMV_ROWS);
    let mut bt = b.chunks_exact(GEMV_ROWS);
    for ((wt, yt), bt) in (&mut wt).zip(&mut yt).zip(&mut bt) {
        let rows: [&[f32]; GEMV_ROWS] = array::from_fn(|r| &wt[r * k..(r + 1) * k]);
        let s = dot_rows(isa, rows, xv, xt);
        for r in 0..GEMV_ROWS {
            yt[r] = bt[r] + s[r];
        }
    }
    let rest = wt.remainder().chunks_exact(k);
    for ((row, yo), bo) in rest.zip(yt.into_remainder()).zip(bt.remainder()) {
        *yo = bo + dot_rows(isa, [row], xv, xt)[0];
    }
}

/// Dot products of `R` rows (each `k` long) with one vector `x = (xv, xt)`, `GEMV_ACC`
/// accumulators per row; each load of `x` serves all `R` rows.
#[inline(always)]
fn dot_rows<I: Isa, const R: usize>(
    isa: I,
    rows: [&[f32]; R],
    xv: &[[f32; LANES]],
    xt: &[f32],
) -> [f32; R] {
    let (xb, xr) = xv.as_chunks::<GEMV_ACC>();
    let nb = xb.len();
    let kv = xv.len();
    let rv: [&[[f32; LANES]]; R] = rows.map(|row| &row.as_chunks::<LANES>().0[..kv]);
    let rb: [&[[[f32; LANES]; GEMV_ACC]]; R] = rv.map(|v| &v.as_chunks::<GEMV_ACC>().0[..nb]);
    let mut acc = [[isa.zero(); GEMV_ACC]; R];
    for q in 0..nb {
        for u in 0..GEMV_ACC {
            let xu = isa.load(&xb[q][u]);
            for r in 0..R {
                acc[r][u] = isa.load(&rb[r][q][u]).mul_add(xu, acc[r][u]);
            }
        }
    }
    for (p, xp) in (nb * GEMV_ACC..).zip(xr) {
        let xu = isa.load(xp);
        for r in 0..R {
            acc[r][0] = isa.load(&rv[r][p]).mul_add(xu, acc[r][0]);
        }
    }
    if !xt.is_empty() {
        let xu = load_padded(isa, xt);
        for r in 0..R {
            acc[r][0] = load_padded(isa, &rows[r][kv * LANES..]).mul_add(xu, acc[r][0]);
        }
    }
    array::from_fn(|r| sum_tree(acc[r]).reduce_add())
}

/// `C = A·Wᵀ + bias` where a dimension is 0 (`C = bias` row by row if only `k` is): done,
/// and `true`; else `false`, and nothing done.
#[inline(always)]
fn empty_nt(bias: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) -> bool {
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 {
        for row in c.chunks_exact_mut(n) {
            row.copy_from_slice(bias);
        }
        return true;
    }
    false
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gemm_nt_body<I: Isa>(
    isa: I,
    a: &[f32],
    w: &[f32],
    bias: &[f32],
    c: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
) {
    if empty_nt(bias, c, m, n, k) {
        return;
    }
    for j0 in (0..n).step_by(NT_NC) {
        let j1 = min(j0 + NT_NC, n);
        let mut i = 0;
        while i + NT_MR <= m {
            nt_rows::<I, NT_MR>(isa, a, w, bias, c, i, j0..j1, n, k);
            i += NT_MR;
        }
        // Remainder rows: tiles of two, then one.
        while i + 2 <= m {
            nt_rows::<I, 2>(isa, a, w, bias, c, i, j0..j1, n, k);
            i += 2;
        }
        if i < m {
            nt_rows::<I, 1>(isa, a, w, bias, c, i, j0..j1, n, k);
        }
    }
}

/// Rows `i0..i0+MR` of `C`, columns `cols`, of [`gemm_nt`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn nt_rows<I: Isa, const MR: usize>(
    isa: I,
    a: &[f32],
    w: &[f32],
    bias: &[f32],
    c: &mut [f32],
    i0: usize,
    cols: core::ops::Range<usize>,
    n: usize,
    k: usize,
) {
    let a_rows: [&[f32]; MR] = array::from_fn(|r| &a[(i0 + r) * k..(i0 + r + 1) * k]);
    let mut j = cols.start;
    while j + NT_NR <= cols.end {
        let w_rows: [&[f32]; NT_NR] = array::from_fn(|q| &w[(j + q) * k..(j + q + 1) * k]);
        let s = nt_tile(isa, a_rows, w_rows);
        nt_store(s, bias, c, i0, j, n);
        j += NT_NR;
    }
    // Remainder rows of W: tiles of two, then one.
    while j + 2 <= cols.end {
        let s = nt_tile(
            isa,
            a_rows,
            [&w[j * k..(j + 1) * k], &w[(j + 1) * k..(j + 2) * k]],
        );
        nt_store(s, bias, c, i0, j, n);
        j += 2;
    }
    if j < cols.end {
        let s = nt_tile(isa, a_rows, [&w[j * k..(j + 1) * k]]);
        nt_store(s, bias, c, i0, j, n);
    }
}

/// `C[i0 + r, j + q] = bias[j + q] + s[r][q]`.
#[inline(always)]
fn nt_store<const MR: usize, const NR: usize>(
    s: [[f32; NR]; MR],
    bias: &[f32],
    c: &mut [f32],
    i0: usize,
    j: usize,
    n: usize,
) {
    let bias: &[f32; NR] = bias[j..j + NR].try_into().unwrap();
    for (r, sr) in s.iter().enumerate() {
        let out: &mut [f32; NR] = (&mut c[(i0 + r) * n + j..][..NR]).try_into().unwrap();
        for q in 0..NR {
            out[q] = bias[q] + sr[q];
        }
    }
}

/// Dot-product micro-tile: `s[r][q] = a_rows[r] · w_rows[q]` for `MR × NR` pairs of rows of
/// equal length `k`, with `MR × NR` vector accumulators.
#[inline(always)]
fn nt_tile<I: Isa, const MR: usize, const NR: usize>(
    isa: I,
    a_rows: [&[f32]; MR],
    w_rows: [&[f32]; NR],
) -> [[f32; NR]; MR] {
    let k = a_rows[0].len();
    let kv = k / LANES;
    let av: [&[[f32; LANES]]; MR] = a_rows.map(|row| &row.as_chunks::<LANES>().0[..kv]);
    let wv: [&[[f32; LANES]]; NR] = w_rows.map(|row| &row.as_chunks::<LANES>().0[..kv]);
    let mut acc = [[isa.zero(); NR]; MR];
    for p in 0..kv {
        let wp: [I::F32x8; NR] = array::from_fn(|q| isa.load(&wv[q][p]));
        for r in 0..MR {
            let ap = isa.load(&av[r][p]);
            for q in 0..NR {
                acc[r][q] = ap.mul_add(wp[q], acc[r][q]);
            }
        }
    }
    if !k.is_multiple_of(LANES) {
        let wp: [I::F32x8; NR] = array::from_fn(|q| load_padded(isa, &w_rows[q][kv * LANES..]));
        for r in 0..MR {
            let ap = load_padded(isa, &a_rows[r][kv * LANES..]);
            for q in 0..NR {
                acc[r][q] = ap.mul_add(wp[q], acc[r][q]);
            }
        }
    }
    let mut sums = [[0.0; NR]; MR];
    horizontal_sums(acc.as_flattened(), sums.as_flattened_mut());
    sums
}

/// `out[i]` = the sum of the lanes of `v[i]`. Groups of eight vectors are transposed and
/// added, giving eight sums for the cost of about three single reductions.
#[inline(always)]
fn horizontal_sums<V: F32x8>(v: &[V], out: &mut [f32]) {
    let (vg, vr) = v.as_chunks::<LANES>();
    let (og, or) = out.as_chunks_mut::<LANES>();
    for (o, g) in og.iter_mut().zip(vg) {
        *o = sum_tree(V::transpose(*g)).to_array();
    }
    for (o, x) in or.iter_mut().zip(vr) {
        *o = x.reduce_add();
    }
}

#[inline(always)]
fn gemm_nn_body<I: Isa>(isa: I, a: &[f32], w: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    bcast_gemm(isa, RowMajor { a, k }, w, c, m, n, k, false);
}

#[inline(always)]
fn gemm_tn_acc_body<I: Isa>(
    isa: I,
    a: &[f32],
    x: &[f32],
    c: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
) {
    bcast_gemm(isa, ColMajor { a, m }, x, c, m, n, k, true);
}

/// How the broadcast kernel reads the left operand `a(i, p)`, `i < m`, `p < k`.
trait LeftOperand: Copy {
    /// `[a(i0 + r, p) for r in 0..MR]` for `p` in `k0..k1`, in order.
    fn columns<const MR: usize>(
        self,
        i0: usize,
        k0: usize,
        k1: usize,
    ) -> impl Iterator<Item = [f32; MR]>;
}

/// `a(i, p) = a[i·k + p]` (`A` row-major `m×k`; [`gemm_nn`]).
#[derive(Clone, Copy)]
struct RowMajor<'a> {
    a: &'a [f32],
    k: usize,
}

impl LeftOperand for RowMajor<'_> {
    #[inline(always)]
    fn columns<const MR: usize>(
        self,
        i0: usize,
        k0: usize,
        k1: usize,
    ) -> impl Iterator<Item = [f32; MR]> {
        let len = k1 - k0;
        let rows: [&[f32]; MR] = array::from_fn(|r| {
            let start = (i0 + r) * self.k + k0;
            &self.a[start..start + len]
        });
        (0..len).map(move |p| array::from_fn(|r| rows[r][p]))
    }
}

/// `a(i, p) = a[p·m + i]` (`A` stored `k×m`, used transposed; [`gemm_tn_acc`]).
#[derive(Clone, Copy)]
struct ColMajor<'a> {
    a: &'a [f32],
    m: usize,
}

impl LeftOperand for ColMajor<'_> {
    #[inline(always)]
    fn columns<const MR: usize>(
        self,
        i0: usize,
        k0: usize,
        k1: usize,
    ) -> impl Iterator<Item = [f32; MR]> {
        self.a[k0 * self.m..k1 * self.m]
            .chunks_exact(self.m)
            .map(move |row| row[i0..i0 + MR].try_into().unwrap())
    }
}

/// `C (+)= a·W` with `W` row-major `k×n`, by broadcast micro-tiles. `k` is split into blocks
/// of `BC_KC`; the first block overwrites `C` unless `accumulate`, later blocks add to it.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn bcast_gemm<I: Isa, A: LeftOperand>(
    isa: I,
    a: A,
    w: &[f32],
    c: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    for k0 in (0..k).step_by(BC_KC) {
        let k1 = min(k0 + BC_KC, k);
        let blk = Block {
            w,
            n,
            k0,
            k1,
            accumulate: accumulate || k0 > 0,
        };
        let mut j = 0;
        while j + BC_NV * LANES <= n {
            bcast_panel::<I, A, BC_NV, false>(isa, a, &blk, c, m, j);
            j += BC_NV * LANES;
        }
        while j + 2 * LANES <= n {
            bcast_panel::<I, A, 2, false>(isa, a, &blk, c, m, j);
            j += 2 * LANES;
        }
        while j + LANES <= n {
            bcast_panel::<I, A, 1, false>(isa, a, &blk, c, m, j);
            j += LANES;
        }
        if j < n {
            bcast_panel::<I, A, 1, true>(isa, a, &blk, c, m, j);
        }
    }
}

/// One `k` block of the broadcast product.
struct Block<'a> {
    /// Right operand, row-major `k×n`.
    w: &'a [f32],
    /// Columns of `W` and `C`.
    n: usize,
    /// First row of `W` in the block.
    k0: usize,
    /// One past the last row of `W` in the block.
    k1: usize,
    /// Add to `C` (else overwrite).
    accumulate: bool,
}

/// All rows of `C` for the `NV` vectors of columns starting at `j` (if `PARTIAL`, the
/// single partial vector `j..n`).
#[inline(always)]
fn bcast_panel<I: Isa, A: LeftOperand, const NV: usize, const PARTIAL: bool>(
    isa: I,
    a: A,
    blk: &Block<'_>,
    c: &mut [f32],
    m: usize,
    j: usize,
) {
    let mut i = 0;
    while i + BC_MR <= m {
        let cols = a.columns::<BC_MR>(i, blk.k0, blk.k1);
        bcast_tile::<I, BC_MR, NV, PARTIAL>(isa, cols, blk, c, i, j);
        i += BC_MR;
    }
    // Remainder rows: tiles of two, then one.
    while i + 2 <= m {
        bcast_tile::<I, 2, NV, PARTIAL>(isa, a.columns::<2>(i, blk.k0, blk.k1), blk, c, i, j);
        i += 2;
    }
    if i < m {
        bcast_tile::<I, 1, NV, PARTIAL>(isa, a.columns::<1>(i, blk.k0, blk.k1), blk, c, i, j);
    }
}

/// Broadcast micro-tile: `C[i0 + r, j..j + 8·NV] (+)= Σ_p a_cols[p][r] · W[p, j..j + 8·NV]`
/// over the rows `p` of the block, with `MR × NV` vector accumulators. If `PARTIAL`
/// (then `NV = 1`), the tile is the last `n − j < 8` columns, read through zero-padded vectors.
#[inline(always)]
fn bcast_tile<I: Isa, const MR: usize, const NV: usize, const PARTIAL: bool>(
    isa: I,
    a_cols: impl Iterator<Item = [f32; MR]>,
    blk: &Block<'_>,
    c: &mut [f32],
    i0: usize,
    j: usize,
) {
    let n = blk.n;
    let width = if PARTIAL { n - j } else { NV * LANES };
    let mut acc = [[isa.zero(); NV]; MR];
    let w_rows = blk.w[blk.k0 * n..blk.k1 * n].chunks_exact(n);
    for (ap, w_row) in a_cols.zip(w_rows) {
        let wp: [I::F32x8; NV] = if PARTIAL {
            array::from_fn(|_| load_padded(isa, &w_row[j..]))
        } else {
            let v = w_row[j..j + NV * LANES].as_chunks::<LANES>().0;
            array::from_fn(|q| isa.load(&v[q]))
        };
        for r in 0..MR {
            let ar = isa.splat(ap[r]);
            for q in 0..NV {
                acc[r][q] = ar.mul_add(wp[q], acc[r][q]);
            }
        }
    }
    // C is read only now, after the sum: its loads then overlap the next tile's FMAs.
    for (r, acc_r) in acc.iter().enumerate() {
        let row = &mut c[(i0 + r) * n + j..][..width];
        if PARTIAL {
            let sum = if blk.accumulate {
                load_padded(isa, row) + acc_r[0]
            } else {
                acc_r[0]
            };
            store_partial(sum, row);
        } else {
            let v = row.as_chunks_mut::<LANES>().0;
            for q in 0..NV {
                let sum = if blk.accumulate {
                    isa.load(&v[q]) + acc_r[q]
                } else {
                    acc_r[q]
                };
                v[q] = sum.to_array();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The convolution product: `C = A·Wᵀ + bias`, each output summed in the reference's order

/// Columns of `W` packed together: two 16-lane or four 8-lane vectors.
const PANEL: usize = 32;
/// Rows of a packed panel (terms of the sums) per block: 32 KiB on the stack, in L1 with
/// the rows of `A` a tile reads (a 3×3×16 convolution has 144 terms: one block).
const PANEL_KC: usize = 256;

/// Rows of `A` below which [`gemm_nt_ordered`] reads `W` in place rather than packing it
/// (packing costs about as much as a few rows' products).
const ORDERED_DIRECT_M: usize = 8;

/// `C = A·Wᵀ + bias` (`A` is `m×k`, `W` is `n×k`, `C` is `m×n`), each output
/// `bias[j] + Σ_p A[i,p]·W[j,p]` summed over `p` in increasing order from zero, fused where
/// the level has FMA: the reference's order, so the SSE2 level gives the reference's bits,
/// and every level with FMA (AVX2, AVX-512) the same bits as each other. A broadcast
/// product: blocks of 32 columns of `W` are packed `k`-major, and register tiles of rows of
/// `A` × columns (6 × 16 on 8-lane vectors, 12 × 32 on 16-lane ones) sweep them.
///
/// At the selected level ([`Simd::selected`]).
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
    Simd::selected().gemm_nt_ordered(a, w, bias, c, m, n, k);
}

/// The operands of [`gemm_nt_ordered`], with `m`, `n`, `k` ≥ 1.
struct Ordered<'a> {
    a: &'a [f32],
    w: &'a [f32],
    bias: &'a [f32],
    c: &'a mut [f32],
    m: usize,
    n: usize,
    k: usize,
}

impl Kernel for Ordered<'_> {
    type Output = ();
    #[inline(always)]
    fn run<I: Isa>(self, isa: I) {
        if self.m < ORDERED_DIRECT_M {
            return ordered_direct(isa, self);
        }
        ordered_body(Eight(isa), self);
    }
}

#[cfg(target_arch = "x86_64")]
impl WideKernel for Ordered<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self, isa: Avx512) {
        if self.m < ORDERED_DIRECT_M {
            return ordered_direct(isa.avx2(), self);
        }
        ordered_body(isa, self);
    }
}

impl Simd {
    /// [`gemm_nt_ordered`] at this level: 16-lane vectors at
    /// [`SimdLevel::Avx512`], 8-lane ones below, the same bits at every level with FMA.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn gemm_nt_ordered(
        self,
        a: &[f32],
        w: &[f32],
        bias: &[f32],
        c: &mut [f32],
        m: usize,
        n: usize,
        k: usize,
    ) {
        if empty_nt(bias, c, m, n, k) {
            return;
        }
        let job = Ordered {
            a,
            w,
            bias,
            c,
            m,
            n,
            k,
        };
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            Token::Avx512(isa) => isa.run_wide(job),
            _ => self.run(job),
        }
    }
}

/// The operands of [`Simd::conv_ordered`], checked.
struct ConvOrdered<'a> {
    g: &'a Window,
    x: &'a [f32],
    w: &'a [f32],
    bias: &'a [f32],
    y: &'a mut [f32],
    scratch: &'a mut [f32],
}

impl Kernel for ConvOrdered<'_> {
    type Output = ();
    #[inline(always)]
    fn run<I: Isa>(self, isa: I) {
        conv_body(Eight(isa), self);
    }
}

#[cfg(target_arch = "x86_64")]
impl WideKernel for ConvOrdered<'_> {
    type Output = ();
    #[inline(always)]
    fn run(self, isa: Avx512) {
        conv_body(isa, self);
    }
}

impl Simd {
    /// The convolution's forward product read straight from the input maps, at this
    /// level: for each of the maps of `x` (`g.input_len()` values each, channels-last),
    /// the outputs `y` (`g.pixels() × n`, `n = bias.len()` filters, map after map) of
    /// `gemm_nt_ordered(patches, w, bias, y, …)` on the map's patches, **the same bits**,
    /// without writing the patches: the register tiles read each run of a patch (one
    /// kernel row, `kw·c` values) where it lies in the map. Where a window overhangs the
    /// map ([`Window::overhangs`]) the map is first copied with its zero padding into
    /// `scratch` ([`pad`](super::conv::pad)), which needs [`Window::padded_len`] values;
    /// otherwise `scratch` is not used and may be empty.
    ///
    /// # Panics
    /// If `x` is not a whole number of maps, `w` is not `n × g.patch_len()`, `y` is not
    /// the maps' outputs, or `scratch` is too short.
    #[allow(clippy::too_many_arguments)]
    pub fn conv_ordered(
        self,
        g: &Window,
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        y: &mut [f32],
        scratch: &mut [f32],
    ) {
        let (n, maps) = (bias.len(), x.len() / g.input_len());
        assert_eq!(x.len(), maps * g.input_len(), "conv_ordered: input length");
        assert_eq!(w.len(), n * g.patch_len(), "conv_ordered: weight length");
        assert_eq!(
            y.len(),
            maps * g.pixels() * n,
            "conv_ordered: output length"
        );
        if g.overhangs() {
            assert!(
                scratch.len() >= g.padded_len(),
                "conv_ordered: scratch shorter than the padded map"
            );
        }
        if n == 0 || maps == 0 {
            return;
        }
        let job = ConvOrdered {
            g,
            x,
            w,
            bias,
            y,
            scratch,
        };
        match self.0 {
            #[cfg(target_arch = "x86_64")]
            Token::Avx512(isa) => isa.run_wide(job),
            _ => self.run(job),
        }
    }
}

/// [`Simd::conv_ordered`]: [`ordered_body`]'s blocks, each swept map after map with the
/// map's patches as the left operand.
#[inline(always)]
fn conv_body<L: Lanes>(l: L, job: ConvOrdered<'_>) {
    let ConvOrdered {
        g,
        x,
        w,
        bias,
        y,
        scratch,
    } = job;
    let (n, k, pixels) = (bias.len(), g.patch_len(), g.pixels());
    let padded = g.overhangs();
    let row_len = if padded {
        g.padded_cols() * g.c()
    } else {
        g.w() * g.c()
    };
    let mut buf = [[0.0f32; PANEL]; PANEL_KC];
    for j0 in (0..n).step_by(PANEL) {
        let width = min(PANEL, n - j0);
        for k0 in (0..k).step_by(PANEL_KC) {
            let k1 = min(k0 + PANEL_KC, k);
            let panel = &mut buf[..k1 - k0];
            pack(w, k, j0, k0, panel);
            for (xb, yb) in x
                .chunks_exact(g.input_len())
                .zip(y.chunks_exact_mut(pixels * n))
            {
                let map: &[f32] = if padded {
                    super::conv::pad(g, xb, &mut scratch[..g.padded_len()]);
                    scratch
                } else {
                    xb
                };
                let job = Panel {
                    a: Patches { map, row_len, g },
                    m: pixels,
                    n,
                    panel,
                    j0,
                    width,
                    k0,
                    bias: (k1 == k).then(|| &bias[j0..j0 + width]),
                };
                l.panel(&job, yb);
            }
        }
    }
}

/// Vectors of one width at one instruction set, as [`gemm_nt_ordered`] uses them, and the
/// register tiles it sweeps a packed panel with.
trait Lanes: Copy {
    /// A vector.
    type V: Copy;
    /// Its lanes.
    const N: usize;
    /// All lanes zero.
    fn zero(self) -> Self::V;
    /// All lanes `x`.
    fn splat(self, x: f32) -> Self::V;
    /// The first `min(s.len(), N)` values of `s`, zero-padded.
    fn load(self, s: &[f32]) -> Self::V;
    /// The first `min(s.len(), N)` lanes of `v` into `s`.
    fn store(self, v: Self::V, s: &mut [f32]);
    /// `a·b + c`, fused where the level has FMA.
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b`.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// Every row of `C` for the panel's columns (see [`ordered_rows`]).
    fn panel<A: Left>(self, job: &Panel<'_, A>, c: &mut [f32]);
}

/// 8-lane vectors of any [`Isa`].
#[derive(Clone, Copy)]
struct Eight<I>(I);

impl<I: Isa> Lanes for Eight<I> {
    type V = I::F32x8;
    const N: usize = LANES;
    #[inline(always)]
    fn zero(self) -> I::F32x8 {
        self.0.zero()
    }
    #[inline(always)]
    fn splat(self, x: f32) -> I::F32x8 {
        self.0.splat(x)
    }
    #[inline(always)]
    fn load(self, s: &[f32]) -> I::F32x8 {
        match s.first_chunk::<LANES>() {
            Some(v) => self.0.load(v),
            None => load_padded(self.0, s),
        }
    }
    #[inline(always)]
    fn store(self, v: I::F32x8, s: &mut [f32]) {
        match s.first_chunk_mut::<LANES>() {
            Some(o) => *o = v.to_array(),
            None => store_partial(v, s),
        }
    }
    #[inline(always)]
    fn mul_add(self, a: I::F32x8, b: I::F32x8, c: I::F32x8) -> I::F32x8 {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn add(self, a: I::F32x8, b: I::F32x8) -> I::F32x8 {
        a + b
    }
    /// Tiles of 6 rows × 2 vectors (12 accumulators, 2 vectors of `W` and a broadcast in
    /// 16 registers), then 1 vector for an odd last one.
    #[inline(always)]
    fn panel<A: Left>(self, job: &Panel<'_, A>, c: &mut [f32]) {
        let nv = job.width.div_ceil(LANES);
        let mut v = 0;
        while v + 2 <= nv {
            ordered_rows::<Self, A, 6, 2>(self, job, c, v);
            v += 2;
        }
        if v < nv {
            ordered_rows::<Self, A, 6, 1>(self, job, c, v);
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx512 {
    type V = F32x16;
    const N: usize = 16;
    #[inline(always)]
    fn zero(self) -> F32x16 {
        self.splat16(0.0)
    }
    #[inline(always)]
    fn splat(self, x: f32) -> F32x16 {
        self.splat16(x)
    }
    #[inline(always)]
    fn load(self, s: &[f32]) -> F32x16 {
        match s.first_chunk::<16>() {
            Some(v) => self.load16(v),
            None => {
                let mut t = [0.0; 16];
                t[..s.len()].copy_from_slice(s);
                self.load16(&t)
            }
        }
    }
    #[inline(always)]
    fn store(self, v: F32x16, s: &mut [f32]) {
        let n = min(s.len(), 16);
        s[..n].copy_from_slice(&v.to_array()[..n]);
    }
    #[inline(always)]
    fn mul_add(self, a: F32x16, b: F32x16, c: F32x16) -> F32x16 {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn add(self, a: F32x16, b: F32x16) -> F32x16 {
        a + b
    }
    /// Tiles of 12 rows × 32 columns: 24 of the 32 registers accumulate.
    #[inline(always)]
    fn panel<A: Left>(self, job: &Panel<'_, A>, c: &mut [f32]) {
        if job.width > 16 {
            ordered_rows::<Self, A, 12, 2>(self, job, c, 0);
        } else {
            ordered_rows::<Self, A, 12, 1>(self, job, c, 0);
        }
    }
}

/// One packed block of [`gemm_nt_ordered`]: columns `j0..j0 + width` of `C`, terms
/// `k0..k0 + panel.len()` of the sums.
struct Panel<'a, A> {
    /// Left operand, `m` rows.
    a: A,
    m: usize,
    /// Columns of `C`.
    n: usize,
    /// `panel[p][q] = W[j0 + q, k0 + p]`, zero for `q ≥ width`.
    panel: &'a [[f32; PANEL]],
    j0: usize,
    width: usize,
    k0: usize,
    /// `bias[j0..j0 + width]` if this is the last block of terms (else the partial sums
    /// are stored in `C` and the next block goes on from them).
    bias: Option<&'a [f32]>,
}

#[inline(always)]
fn ordered_body<L: Lanes>(l: L, job: Ordered<'_>) {
    let Ordered {
        a,
        w,
        bias,
        c,
        m,
        n,
        k,
    } = job;
    let mut buf = [[0.0f32; PANEL]; PANEL_KC];
    for j0 in (0..n).step_by(PANEL) {
        let width = min(PANEL, n - j0);
        for k0 in (0..k).step_by(PANEL_KC) {
            let k1 = min(k0 + PANEL_KC, k);
            let panel = &mut buf[..k1 - k0];
            pack(w, k, j0, k0, panel);
            let job = Panel {
                a: Matrix { a, k },
                m,
                n,
                panel,
                j0,
                width,
                k0,
                bias: (k1 == k).then(|| &bias[j0..j0 + width]),
            };
            l.panel(&job, c);
        }
    }
}

/// `panel[p][q] = W[j0 + q, k0 + p]` (`W` is `n×k`), zero for the columns past `W`'s last.
#[inline(always)]
fn pack(w: &[f32], k: usize, j0: usize, k0: usize, panel: &mut [[f32; PANEL]]) {
    let k1 = k0 + panel.len();
    for q in 0..PANEL {
        let src = w.get((j0 + q) * k + k0..(j0 + q) * k + k1);
        for (p, row) in panel.iter_mut().enumerate() {
            row[q] = src.map_or(0.0, |s| s[p]);
        }
    }
}

/// The left operand of the ordered product, row `i` term `p` being `A[i, p]`: a matrix, or
/// the patches of a convolution read in place from its input map. Its terms come in runs,
/// each contiguous in memory for every row, and summed in increasing `p` run after run.
trait Left {
    /// Runs of terms.
    fn runs(&self) -> usize;
    /// Run `s`: its first term and its length.
    fn span(&self, s: usize) -> (usize, usize);
    /// Where row `i` starts (computed once per tile).
    fn base(&self, i: usize) -> usize;
    /// The terms `start + from..start + from + len` of run `s` (`start` its first) of the
    /// row that starts at `base`.
    fn row(&self, base: usize, s: usize, from: usize, len: usize) -> &[f32];
}

/// A row-major `m×k` matrix: one run of `k` terms per row.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    a: &'a [f32],
    k: usize,
}

impl Left for Matrix<'_> {
    #[inline(always)]
    fn runs(&self) -> usize {
        1
    }
    #[inline(always)]
    fn span(&self, _: usize) -> (usize, usize) {
        (0, self.k)
    }
    #[inline(always)]
    fn base(&self, i: usize) -> usize {
        i * self.k
    }
    #[inline(always)]
    fn row(&self, base: usize, _: usize, from: usize, len: usize) -> &[f32] {
        &self.a[base + from..][..len]
    }
}

/// The patches of one map (row `i`: output pixel `i`), read from the map with its zero
/// padding written out ([`Window::padded_len`]), whose rows are `row_len` floats apart:
/// run `s` of a patch is kernel row `s`, the `kw·c` values from column `ox·stride` of map
/// row `oy·stride + s`.
#[derive(Clone, Copy)]
struct Patches<'a> {
    map: &'a [f32],
    row_len: usize,
    g: &'a Window,
}

impl Left for Patches<'_> {
    #[inline(always)]
    fn runs(&self) -> usize {
        self.g.kh()
    }
    #[inline(always)]
    fn span(&self, s: usize) -> (usize, usize) {
        let run = self.g.kw() * self.g.c();
        (s * run, run)
    }
    #[inline(always)]
    fn base(&self, i: usize) -> usize {
        let g = self.g;
        let (oy, ox) = (i / g.ow(), i % g.ow());
        oy * g.stride() * self.row_len + ox * g.stride() * g.c()
    }
    #[inline(always)]
    fn row(&self, base: usize, s: usize, from: usize, len: usize) -> &[f32] {
        &self.map[base + s * self.row_len + from..][..len]
    }
}

/// Every row of `C` for vectors `v0..v0 + NV` of the panel: tiles of `MR` rows, then of
/// 4 (if `MR > 4`), then single rows.
#[inline(always)]
fn ordered_rows<L: Lanes, A: Left, const MR: usize, const NV: usize>(
    l: L,
    job: &Panel<'_, A>,
    c: &mut [f32],
    v0: usize,
) {
    let mut i = 0;
    while i + MR <= job.m {
        ordered_tile::<L, A, MR, NV>(l, job, c, i, v0);
        i += MR;
    }
    if MR > 4 {
        while i + 4 <= job.m {
            ordered_tile::<L, A, 4, NV>(l, job, c, i, v0);
            i += 4;
        }
    }
    while i < job.m {
        ordered_tile::<L, A, 1, NV>(l, job, c, i, v0);
        i += 1;
    }
}

/// Rows `i0..i0 + MR` of `C`, panel vectors `v0..v0 + NV`: `MR × NV` accumulators, which
/// start from zero (first block) or from the partial sums in `C`, take one fused
/// multiply–add per term in increasing order, and get the bias after the last block.
#[inline(always)]
fn ordered_tile<L: Lanes, A: Left, const MR: usize, const NV: usize>(
    l: L,
    job: &Panel<'_, A>,
    c: &mut [f32],
    i0: usize,
    v0: usize,
) {
    let (n, k0, kc) = (job.n, job.k0, job.panel.len());
    // Columns j..j + width of C (width ≤ NV·N; the rest of the vectors is padding).
    let j = job.j0 + v0 * L::N;
    let width = min(job.width - v0 * L::N, NV * L::N);
    let mut acc = [[l.zero(); NV]; MR];
    if k0 > 0 {
        for (r, acc) in acc.iter_mut().enumerate() {
            let row = &c[(i0 + r) * n + j..][..width];
            for (q, a) in acc.iter_mut().enumerate() {
                *a = l.load(&row[min(q * L::N, width)..]);
            }
        }
    }
    let off = v0 * L::N;
    let base: [usize; MR] = array::from_fn(|r| job.a.base(i0 + r));
    for s in 0..job.a.runs() {
        // The run's terms inside this block, lo..hi.
        let (start, len) = job.a.span(s);
        let (lo, hi) = (start.max(k0), min(start + len, k0 + kc));
        if lo >= hi {
            continue;
        }
        let rows: [&[f32]; MR] = array::from_fn(|r| job.a.row(base[r], s, lo - start, hi - lo));
        for (p, wrow) in job.panel[lo - k0..hi - k0].iter().enumerate() {
            let wrow = &wrow[off..off + NV * L::N];
            let wp: [L::V; NV] = array::from_fn(|q| l.load(&wrow[q * L::N..]));
            for r in 0..MR {
                let ar = l.splat(rows[r][p]);
                for q in 0..NV {
                    acc[r][q] = l.mul_add(ar, wp[q], acc[r][q]);
                }
            }
        }
    }
    let bias: Option<[L::V; NV]> = job.bias.map(|b| {
        let b = &b[v0 * L::N..];
        array::from_fn(|q| l.load(&b[min(q * L::N, b.len())..]))
    });
    for (r, acc) in acc.iter().enumerate() {
        let row = &mut c[(i0 + r) * n + j..][..width];
        for q in 0..NV {
            let sum = match bias {
                Some(b) => l.add(b[q], acc[q]),
                None => acc[q],
            };
            l.store(sum, &mut row[min(q * L::N, width)..]);
        }
    }
}

/// [`gemm_nt_ordered`] for a few rows of `A` (inference with room for fewer than 8
/// patches, or its last block), without packing: each 8 × 8 block of `W` (8 columns of
/// `C`, 8 terms) is loaded by rows and transposed, so that vector `t` holds term `p + t`
/// of the 8 columns, and the accumulators take the
/// terms in increasing order as the packed tiles do (the same bits). Four blocks of
/// columns at a time, four independent accumulators.
#[inline(always)]
fn ordered_direct<I: Isa>(isa: I, job: Ordered<'_>) {
    const NB: usize = 4;
    let Ordered {
        a,
        w,
        bias,
        c,
        m,
        n,
        k,
    } = job;
    for (arow, crow) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)).take(m) {
        for j0 in (0..n).step_by(NB * LANES) {
            let mut acc = [isa.zero(); NB];
            for p in (0..k).step_by(LANES) {
                let np = min(LANES, k - p);
                // cols[b][t], lane q: W[j0 + 8b + q, p + t]. Plain loops, not closures,
                // so that everything inlines into the instruction set's entry function.
                let mut cols = [[isa.zero(); LANES]; NB];
                for (b, col) in cols.iter_mut().enumerate() {
                    let mut rows = [isa.zero(); LANES];
                    for (q, row) in rows.iter_mut().enumerate() {
                        let j = j0 + b * LANES + q;
                        if j < n {
                            *row = Eight(isa).load(&w[j * k + p..][..np]);
                        }
                    }
                    *col = I::F32x8::transpose(rows);
                }
                // The accumulators stay in registers: constant indices where the block is
                // whole.
                if let Some(a8) = arow[p..].first_chunk::<LANES>() {
                    for t in 0..LANES {
                        let at = isa.splat(a8[t]);
                        for b in 0..NB {
                            acc[b] = at.mul_add(cols[b][t], acc[b]);
                        }
                    }
                } else {
                    for t in 0..np {
                        let at = isa.splat(arow[p + t]);
                        for b in 0..NB {
                            acc[b] = at.mul_add(cols[b][t], acc[b]);
                        }
                    }
                }
            }
            for (b, acc) in acc.into_iter().enumerate() {
                let j = j0 + b * LANES;
                if j < n {
                    let nj = min(LANES, n - j);
                    let sum = load_padded(isa, &bias[j..j + nj]) + acc;
                    store_partial(sum, &mut crow[j..j + nj]);
                }
            }
        }
    }
}
