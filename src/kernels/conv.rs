//! Convolution kernels on channels-last feature maps: im2col and its adjoint col2im, and
//! the depthwise loops.
//!
//! # Geometry
//! A feature map of `h` rows, `w` columns and `c` channels is stored row-major as
//! `[[[f32; c]; w]; h]` (HWC, as TensorFlow Lite and CMSIS-NN store it): element
//! `(y, x, ch)` is at `(y·w + x)·c + ch`. A [`Window`] sweeps a `kh × kw` kernel over it
//! with step `stride`; output pixel `(oy, ox)` sees input rows `oy·stride + i − pad_top`
//! (`i < kh`) and columns `ox·stride + j − pad_left` (`j < kw`), and reads zero where the
//! window overhangs the map. The output size and the padding follow TensorFlow Lite:
//!
//! | padding | output rows | padding before |
//! | --- | --- | --- |
//! | valid | `(h − kh)/stride + 1` | 0 |
//! | same | `⌈h/stride⌉` | `max((oh − 1)·stride + kh − h, 0) / 2` (the rest after) |
//!
//! and the same for the columns ([`output_len`], [`pad_before`]).
//!
//! # im2col
//! The *patch* of output pixel `(oy, ox)` is the `kh·kw·c` values its window sees, in the
//! order `[i][j][ch]`, zero where the window overhangs — the order of one filter in
//! TensorFlow Lite's OHWI weight layout. So a convolution with `K` filters is a matrix
//! product: patches (one per output pixel, `oh·ow × kh·kw·c`) times the weights
//! (`K × kh·kw·c`) transposed, which [`gemm_nt`](super::gemm_nt) computes, and its input
//! gradient is the weights' product with the output gradient, added back where each patch
//! value came from: [`col2im_add`], the adjoint of [`im2col`]. Each row `i` of a patch is a
//! contiguous run of `kw·c` input values (shortened where the window overhangs a side), so
//! both copy and add whole runs.
//!
//! # Depthwise
//! A depthwise convolution (depth multiplier 1) filters each channel with its own
//! `kh × kw` kernel, stored `[[[f32; c]; kw]; kh]` (TensorFlow Lite's `[1, kh, kw, c]`):
//!
//! `y[oy][ox][ch] = b[ch] + Σ_{i,j} x[oy·stride + i − pad_top][ox·stride + j − pad_left][ch] · w[i][j][ch]`
//!
//! Channels are contiguous in the input, the kernel and the output alike, so the loops run
//! over the window taps and are vectorized over channels: [`depthwise`],
//! [`depthwise_params_grad`] (`dW`, `db`) and [`depthwise_input_grad`] (`dX`).
//!
//! # Backends and bits
//! - [`im2col`], [`patch`] and [`col2im_add`] copy values, and add them in a fixed order:
//!   every target computes the same bits, so there is one implementation, whose
//!   element-by-element twins in [`reference`](mod@reference) the tests compare it with.
//! - The depthwise kernels follow the [`Backend`](super::Backend): the reference twins in
//!   [`reference`](mod@reference), or the SIMD versions on 8 channels at a time at the
//!   selected [`SimdLevel`](super::SimdLevel) (methods of
//!   [`simd::Simd`](super::simd::Simd), where the target has float SIMD). Both visit the
//!   window taps in the same order (`i`, then `j`, skipping those outside the map), and
//!   the sums over pixels in the same order (`oy`, then `ox`), so the SSE2 level gives the
//!   reference's bits and the AVX2 level the same sums with fused multiply–adds. (The SIMD
//!   input gradient gathers: each input pixel sums in registers the products of the
//!   outputs that read it, in increasing `(oy, ox)`, the order in which the reference's
//!   scatter adds them to its zeroed `dx`.)
//!
//! # Panics
//! The kernels panic if a slice's length disagrees with the window (a programming error;
//! the layers call them with lengths fixed by their types).

use core::cmp::{max, min};
use core::ops::Range;

#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
use super::simd::Simd;

/// The number of outputs along one dimension of length `n` for a kernel of length `k` and
/// step `stride`, by TensorFlow Lite's rules: `(n − k)/stride + 1` without padding
/// (`same == false`, 0 if `k > n`), `⌈n/stride⌉` with `same` padding. 0 if any argument is 0.
///
/// ```
/// use firmnet::kernels::conv::output_len;
/// assert_eq!(output_len(49, 10, 2, true), 25); // MLPerf keyword spotting, first layer
/// assert_eq!(output_len(10, 4, 2, true), 5);
/// assert_eq!(output_len(7, 3, 2, false), 3);
/// assert_eq!(output_len(2, 3, 1, false), 0);
/// ```
pub const fn output_len(n: usize, k: usize, stride: usize, same: bool) -> usize {
    if n == 0 || k == 0 || stride == 0 {
        0
    } else if same {
        n.div_ceil(stride)
    } else if n < k {
        0
    } else {
        (n - k) / stride + 1
    }
}

/// The zero padding before the first element along one dimension (at the top, or at the
/// left) by TensorFlow Lite's rules: none without padding, and with `same` padding half of
/// `max((out − 1)·stride + k − n, 0)`, rounded down (the odd one goes after).
///
/// ```
/// use firmnet::kernels::conv::pad_before;
/// assert_eq!(pad_before(49, 10, 2, true), 4); // 49 + 4 + 5 = 58 = 24·2 + 10
/// assert_eq!(pad_before(8, 3, 1, true), 1);
/// assert_eq!(pad_before(8, 3, 2, true), 0); // one after
/// assert_eq!(pad_before(8, 3, 1, false), 0);
/// ```
pub const fn pad_before(n: usize, k: usize, stride: usize, same: bool) -> usize {
    let out = output_len(n, k, stride, same);
    if !same || out == 0 {
        return 0;
    }
    (out - 1)
        .saturating_mul(stride)
        .saturating_add(k)
        .saturating_sub(n)
        / 2
}

/// The geometry of a kernel swept over a channels-last feature map: input size, kernel
/// size, stride, and the output size and padding they give (see the [module docs](self)).
/// Made only by [`Window::new`], so its sizes always agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    h: usize,
    w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    oh: usize,
    ow: usize,
    pad_top: usize,
    pad_left: usize,
}

impl Window {
    /// A `kh × kw` kernel with step `stride` over an `h × w × c` map, with TensorFlow
    /// Lite's `same` padding or none (`valid`). `None` if a size is 0 or the kernel does
    /// not fit a valid window.
    ///
    /// ```
    /// use firmnet::kernels::conv::Window;
    /// let g = Window::new(49, 10, 1, 10, 4, 2, true).unwrap();
    /// assert_eq!((g.oh(), g.ow(), g.pad_top(), g.pad_left()), (25, 5, 4, 1));
    /// assert_eq!(g.patch_len(), 40);
    /// assert!(Window::new(2, 2, 1, 3, 3, 1, false).is_none());
    /// ```
    pub const fn new(
        h: usize,
        w: usize,
        c: usize,
        kh: usize,
        kw: usize,
        stride: usize,
        same: bool,
    ) -> Option<Window> {
        let oh = output_len(h, kh, stride, same);
        let ow = output_len(w, kw, stride, same);
        if c == 0 || oh == 0 || ow == 0 {
            return None;
        }
        Some(Window {
            h,
            w,
            c,
            kh,
            kw,
            stride,
            oh,
            ow,
            pad_top: pad_before(h, kh, stride, same),
            pad_left: pad_before(w, kw, stride, same),
        })
    }

    /// Input rows.
    pub const fn h(&self) -> usize {
        self.h
    }
    /// Input columns.
    pub const fn w(&self) -> usize {
        self.w
    }
    /// Channels of the input (and of a depthwise output).
    pub const fn c(&self) -> usize {
        self.c
    }
    /// Kernel rows.
    pub const fn kh(&self) -> usize {
        self.kh
    }
    /// Kernel columns.
    pub const fn kw(&self) -> usize {
        self.kw
    }
    /// Step between windows, in both directions.
    pub const fn stride(&self) -> usize {
        self.stride
    }
    /// Output rows.
    pub const fn oh(&self) -> usize {
        self.oh
    }
    /// Output columns.
    pub const fn ow(&self) -> usize {
        self.ow
    }
    /// Zero rows above the map.
    pub const fn pad_top(&self) -> usize {
        self.pad_top
    }
    /// Zero columns left of the map.
    pub const fn pad_left(&self) -> usize {
        self.pad_left
    }
    /// Values of the input map: `h·w·c`.
    pub const fn input_len(&self) -> usize {
        self.h.saturating_mul(self.w).saturating_mul(self.c)
    }
    /// Output pixels: `oh·ow`.
    pub const fn pixels(&self) -> usize {
        self.oh.saturating_mul(self.ow)
    }
    /// Values of one patch: `kh·kw·c`.
    pub const fn patch_len(&self) -> usize {
        self.kh.saturating_mul(self.kw).saturating_mul(self.c)
    }

    /// Rows of the map with its zero padding written out, as far as the windows reach:
    /// `(oh − 1)·stride + kh` (the padding before included; rows no window reads left out).
    pub const fn padded_rows(&self) -> usize {
        (self.oh - 1) * self.stride + self.kh
    }
    /// Columns of the map with its zero padding written out: `(ow − 1)·stride + kw`.
    pub const fn padded_cols(&self) -> usize {
        (self.ow - 1) * self.stride + self.kw
    }
    /// Values of the map with its zero padding written out ([`pad`]):
    /// `padded_rows·padded_cols·c`.
    pub const fn padded_len(&self) -> usize {
        self.padded_rows()
            .saturating_mul(self.padded_cols())
            .saturating_mul(self.c)
    }
    /// Whether some window overhangs the map, i.e. reads its zero padding (never without
    /// padding): then the padded map ([`pad`]) differs from the map itself.
    pub const fn overhangs(&self) -> bool {
        self.pad_top > 0
            || self.pad_left > 0
            || self.padded_rows() > self.h
            || self.padded_cols() > self.w
    }

    /// The kernel rows of output row `oy` that fall inside the map.
    #[inline]
    pub fn rows(&self, oy: usize) -> Range<usize> {
        taps(oy, self.h, self.kh, self.pad_top, self.stride)
    }
    /// The kernel columns of output column `ox` that fall inside the map.
    #[inline]
    pub fn cols(&self, ox: usize) -> Range<usize> {
        taps(ox, self.w, self.kw, self.pad_left, self.stride)
    }
    /// The output rows whose kernel row `i` falls inside the map.
    #[inline]
    pub fn out_rows(&self, i: usize) -> Range<usize> {
        outputs(i, self.h, self.pad_top, self.stride, self.oh)
    }
    /// The output columns whose kernel column `j` falls inside the map.
    #[inline]
    pub fn out_cols(&self, j: usize) -> Range<usize> {
        outputs(j, self.w, self.pad_left, self.stride, self.ow)
    }
    /// The input row that kernel row `i` of output row `oy` reads, for `i` in
    /// [`rows(oy)`](Self::rows).
    #[inline]
    pub fn in_row(&self, oy: usize, i: usize) -> usize {
        oy * self.stride + i - self.pad_top
    }
    /// The input column that kernel column `j` of output column `ox` reads, for `j` in
    /// [`cols(ox)`](Self::cols).
    #[inline]
    pub fn in_col(&self, ox: usize, j: usize) -> usize {
        ox * self.stride + j - self.pad_left
    }
}

/// Kernel offsets `t < k` with `o·stride + t − pad` in `0..n`.
#[inline]
fn taps(o: usize, n: usize, k: usize, pad: usize, stride: usize) -> Range<usize> {
    let base = o * stride;
    let t0 = pad.saturating_sub(base);
    let t1 = min(k, (n + pad).saturating_sub(base));
    t0..max(t0, t1)
}

/// Outputs `o < len` with `o·stride + t − pad` in `0..n`.
#[inline]
fn outputs(t: usize, n: usize, pad: usize, stride: usize, len: usize) -> Range<usize> {
    let o0 = pad.saturating_sub(t).div_ceil(stride);
    let o1 = min(len, (n + pad).saturating_sub(t).div_ceil(stride));
    o0..max(o0, o1)
}

/// Panics unless `len == want`.
#[inline]
#[track_caller]
fn check(len: usize, want: usize, what: &str) {
    assert!(len == want, "{what}: length {len}, the window needs {want}");
}

/// The patch of output pixel `(oy, ox)` of map `x` into `out` (`kh·kw·c` values, zero where
/// the window overhangs the map). See the [module docs](self).
///
/// # Panics
/// If `x` or `out` has another length than the window's, or the pixel is outside the output.
pub fn patch(g: &Window, x: &[f32], oy: usize, ox: usize, out: &mut [f32]) {
    check(x.len(), g.input_len(), "patch: input");
    check(out.len(), g.patch_len(), "patch: output");
    assert!(oy < g.oh && ox < g.ow, "patch: pixel outside the output");
    patch_runs(g, x, oy, ox, out);
}

/// [`patch`] after the checks: row by row, each a copy of one run of the input.
#[inline]
fn patch_runs(g: &Window, x: &[f32], oy: usize, ox: usize, out: &mut [f32]) {
    let run = g.kw * g.c;
    let rows = g.rows(oy);
    let cols = g.cols(ox);
    let (lo, hi) = (cols.start * g.c, cols.end * g.c);
    for (i, dst) in out.chunks_exact_mut(run).enumerate() {
        if rows.contains(&i) && lo < hi {
            let at = (g.in_row(oy, i) * g.w + g.in_col(ox, cols.start)) * g.c;
            dst[..lo].fill(0.0);
            dst[lo..hi].copy_from_slice(&x[at..at + (hi - lo)]);
            dst[hi..].fill(0.0);
        } else {
            dst.fill(0.0);
        }
    }
}

/// The map `x` with its zero padding written out, into `out`
/// ([`padded_rows`](Window::padded_rows) × [`padded_cols`](Window::padded_cols) × `c`):
/// value `(r, col, ch)` is the input's `(r − pad_top, col − pad_left, ch)`, zero outside
/// the map. So the patch of output pixel `(oy, ox)` is, kernel row by kernel row, the run
/// of `kw·c` values from `(oy·stride + i, ox·stride, 0)`: what [`im2col`] would copy.
///
/// # Panics
/// If `x` or `out` has another length than the window's.
pub fn pad(g: &Window, x: &[f32], out: &mut [f32]) {
    check(x.len(), g.input_len(), "pad: input");
    check(out.len(), g.padded_len(), "pad: output");
    let c = g.c;
    let lo = g.pad_left * c;
    let cols = min(g.w, g.padded_cols() - g.pad_left) * c;
    for (r, row) in out.chunks_exact_mut(g.padded_cols() * c).enumerate() {
        match r.checked_sub(g.pad_top).filter(|&iy| iy < g.h) {
            Some(iy) => {
                row[..lo].fill(0.0);
                row[lo..lo + cols].copy_from_slice(&x[iy * g.w * c..][..cols]);
                row[lo + cols..].fill(0.0);
            }
            None => row.fill(0.0),
        }
    }
}

/// im2col: the patches of every output pixel of map `x`, row-major by pixel, into
/// `patches` (`oh·ow × kh·kw·c`). See the [module docs](self).
///
/// # Panics
/// If `x` or `patches` has another length than the window's.
pub fn im2col(g: &Window, x: &[f32], patches: &mut [f32]) {
    check(x.len(), g.input_len(), "im2col: input");
    check(patches.len(), g.pixels() * g.patch_len(), "im2col: patches");
    for (p, out) in patches.chunks_exact_mut(g.patch_len()).enumerate() {
        patch_runs(g, x, p / g.ow, p % g.ow, out);
    }
}

/// col2im, the adjoint of [`im2col`]: adds every value of `patches` (`oh·ow × kh·kw·c`) to
/// `dx` (`h·w·c`) at the input position it would have been copied from; values from
/// overhanging windows are dropped. `dx` is not cleared first. Additions in the order of
/// the patches, pixel by pixel.
///
/// # Panics
/// If `patches` or `dx` has another length than the window's.
pub fn col2im_add(g: &Window, patches: &[f32], dx: &mut [f32]) {
    check(dx.len(), g.input_len(), "col2im_add: input gradient");
    check(
        patches.len(),
        g.pixels() * g.patch_len(),
        "col2im_add: patches",
    );
    let run = g.kw * g.c;
    for (p, src) in patches.chunks_exact(g.patch_len()).enumerate() {
        let (oy, ox) = (p / g.ow, p % g.ow);
        let cols = g.cols(ox);
        let (lo, hi) = (cols.start * g.c, cols.end * g.c);
        if lo >= hi {
            continue;
        }
        for i in g.rows(oy) {
            let at = (g.in_row(oy, i) * g.w + g.in_col(ox, cols.start)) * g.c;
            let from = &src[i * run + lo..i * run + hi];
            for (d, s) in dx[at..at + (hi - lo)].iter_mut().zip(from) {
                *d += s;
            }
        }
    }
}

/// Panics unless the slices of a depthwise convolution fit `g`.
#[track_caller]
fn check_depthwise(g: &Window, x: usize, w: usize, b: usize, y: usize, what: &str) {
    check(x, g.input_len(), what);
    check(w, g.kh * g.kw * g.c, what);
    check(b, g.c, what);
    check(y, g.pixels() * g.c, what);
}

/// Depthwise convolution of map `x` with kernels `w` (`[[[f32; c]; kw]; kh]`) and biases
/// `b` (`c`) into `y` (`oh × ow × c`): `y = b + Σ_taps x·w` per channel (see the
/// [module docs](self)), at the selected [`Backend`](super::Backend).
///
/// # Numerics
/// Reference: for each output, the products of the taps inside the map (rows, then
/// columns) summed left to right from zero, each rounded, then added to the bias. SIMD: the
/// same order, fused at the AVX2 level and on AArch64.
///
/// # Panics
/// If a slice has another length than the window's.
#[inline]
pub fn depthwise(g: &Window, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
    check_depthwise(g, x.len(), w.len(), b.len(), y.len(), "depthwise");
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    if super::use_fast() {
        return Simd::selected().depthwise(g, x, w, b, y);
    }
    reference::depthwise(g, x, w, b, y);
}

/// Parameter gradients of a depthwise convolution for one sample, added: `dw[i][j][ch] +=
/// Σ_pixels dy·x` over the pixels whose tap `(i, j)` falls inside the map, and `db[ch] +=
/// Σ_pixels dy`, at the selected [`Backend`](super::Backend).
///
/// # Numerics
/// Each sum runs over the pixels row by row from zero (products rounded in the reference,
/// fused at the AVX2 level and on AArch64) and is added to `dw` or `db` last.
///
/// # Panics
/// If a slice has another length than the window's (`x` the input, `dy` the output
/// gradient).
#[inline]
pub fn depthwise_params_grad(g: &Window, x: &[f32], dy: &[f32], dw: &mut [f32], db: &mut [f32]) {
    check_depthwise(
        g,
        x.len(),
        dw.len(),
        db.len(),
        dy.len(),
        "depthwise_params_grad",
    );
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    if super::use_fast() {
        return Simd::selected().depthwise_params_grad(g, x, dy, dw, db);
    }
    reference::depthwise_params_grad(g, x, dy, dw, db);
}

/// Input gradient of a depthwise convolution for one sample, written: `dx` is cleared,
/// then every output pixel adds `dy·w` to the input positions its window taps inside the
/// map, at the selected [`Backend`](super::Backend).
///
/// # Numerics
/// Pixel by pixel, taps by rows then columns, each `dx + dy·w` (product rounded in the
/// reference, fused at the AVX2 level and on AArch64).
///
/// # Panics
/// If a slice has another length than the window's (`w` the kernels, `dy` the output
/// gradient).
#[inline]
pub fn depthwise_input_grad(g: &Window, w: &[f32], dy: &[f32], dx: &mut [f32]) {
    check_depthwise(g, dx.len(), w.len(), g.c, dy.len(), "depthwise_input_grad");
    #[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
    if super::use_fast() {
        return Simd::selected().depthwise_input_grad(g, w, dy, dx);
    }
    reference::depthwise_input_grad(g, w, dy, dx);
}

/// Element-by-element twins of the convolution kernels, written to be obviously right: the
/// yardstick of the tests, and the depthwise path of [`Backend::Reference`](super::Backend)
/// and of cores without float SIMD. Every index is checked against the map by signed
/// arithmetic, one element at a time. They assume the lengths agree with the window.
pub mod reference {
    use super::Window;

    /// Input row and column read by tap `(i, j)` of output pixel `(oy, ox)`, if inside.
    fn source(g: &Window, oy: usize, ox: usize, i: usize, j: usize) -> Option<(usize, usize)> {
        let y = (oy * g.stride() + i) as isize - g.pad_top() as isize;
        let x = (ox * g.stride() + j) as isize - g.pad_left() as isize;
        let inside = (0..g.h() as isize).contains(&y) && (0..g.w() as isize).contains(&x);
        inside.then_some((y as usize, x as usize))
    }

    /// See [`im2col`](super::im2col).
    pub fn im2col(g: &Window, x: &[f32], patches: &mut [f32]) {
        let (c, mut k) = (g.c(), 0);
        for oy in 0..g.oh() {
            for ox in 0..g.ow() {
                for i in 0..g.kh() {
                    for j in 0..g.kw() {
                        for ch in 0..c {
                            patches[k] = match source(g, oy, ox, i, j) {
                                Some((y, xx)) => x[(y * g.w() + xx) * c + ch],
                                None => 0.0,
                            };
                            k += 1;
                        }
                    }
                }
            }
        }
    }

    /// See [`col2im_add`](super::col2im_add).
    pub fn col2im_add(g: &Window, patches: &[f32], dx: &mut [f32]) {
        let (c, mut k) = (g.c(), 0);
        for oy in 0..g.oh() {
            for ox in 0..g.ow() {
                for i in 0..g.kh() {
                    for j in 0..g.kw() {
                        for ch in 0..c {
                            if let Some((y, x)) = source(g, oy, ox, i, j) {
                                dx[(y * g.w() + x) * c + ch] += patches[k];
                            }
                            k += 1;
                        }
                    }
                }
            }
        }
    }

    /// See [`depthwise`](super::depthwise).
    pub fn depthwise(g: &Window, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
        let c = g.c();
        for oy in 0..g.oh() {
            for ox in 0..g.ow() {
                for ch in 0..c {
                    let mut s = 0.0;
                    for i in 0..g.kh() {
                        for j in 0..g.kw() {
                            if let Some((iy, ix)) = source(g, oy, ox, i, j) {
                                s += x[(iy * g.w() + ix) * c + ch] * w[(i * g.kw() + j) * c + ch];
                            }
                        }
                    }
                    y[(oy * g.ow() + ox) * c + ch] = b[ch] + s;
                }
            }
        }
    }

    /// See [`depthwise_params_grad`](super::depthwise_params_grad).
    pub fn depthwise_params_grad(
        g: &Window,
        x: &[f32],
        dy: &[f32],
        dw: &mut [f32],
        db: &mut [f32],
    ) {
        let c = g.c();
        for i in 0..g.kh() {
            for j in 0..g.kw() {
                for ch in 0..c {
                    let mut s = 0.0;
                    for oy in 0..g.oh() {
                        for ox in 0..g.ow() {
                            if let Some((iy, ix)) = source(g, oy, ox, i, j) {
                                s +=
                                    dy[(oy * g.ow() + ox) * c + ch] * x[(iy * g.w() + ix) * c + ch];
                            }
                        }
                    }
                    dw[(i * g.kw() + j) * c + ch] += s;
                }
            }
        }
        for (ch, d) in db.iter_mut().enumerate() {
            let mut s = 0.0;
            for p in 0..g.pixels() {
                s += dy[p * c + ch];
            }
            *d += s;
        }
    }

    /// See [`depthwise_input_grad`](super::depthwise_input_grad).
    pub fn depthwise_input_grad(g: &Window, w: &[f32], dy: &[f32], dx: &mut [f32]) {
        let c = g.c();
        dx.fill(0.0);
        for oy in 0..g.oh() {
            for ox in 0..g.ow() {
                for i in 0..g.kh() {
                    for j in 0..g.kw() {
                        if let Some((iy, ix)) = source(g, oy, ox, i, j) {
                            for ch in 0..c {
                                dx[(iy * g.w() + ix) * c + ch] +=
                                    dy[(oy * g.ow() + ox) * c + ch] * w[(i * g.kw() + j) * c + ch];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The depthwise kernels on 8-lane vectors, one method of [`Simd`] each.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
mod fast {
    use core::cmp::{max, min};

    use super::super::simd::Simd;
    use super::super::tune::LANES;
    use super::super::vector::{F32x8, Isa, Kernel};
    use core::ops::Range;

    use super::{Window, check_depthwise};

    /// `n` (≤ 8) floats of `s` from `at` as a vector, zero-padded. With `n = 8` (the
    /// bodies pass a constant, so the test folds away) one whole-vector load and nothing
    /// else: no copy through the stack, which would keep the accumulators out of registers.
    #[inline(always)]
    fn load<I: Isa>(isa: I, s: &[f32], at: usize, n: usize) -> I::F32x8 {
        let s = s.get(at..).unwrap_or_default();
        if n == LANES {
            return s.first_chunk::<LANES>().map_or(isa.zero(), |v| isa.load(v));
        }
        let mut t = [0.0; LANES];
        for (t, &v) in t.iter_mut().zip(s).take(n) {
            *t = v;
        }
        isa.load(&t)
    }

    /// `NB` vectors of `n` lanes of `s` from `at` (see [`load`]): with `n = 8`, one
    /// bounds check for all of them.
    #[inline(always)]
    fn loads<I: Isa, const NB: usize>(isa: I, s: &[f32], at: usize, n: usize) -> [I::F32x8; NB] {
        let mut out = [isa.zero(); NB];
        if n == LANES {
            if let Some(s) = s.get(at..at + NB * LANES) {
                for (o, v) in out.iter_mut().zip(s.chunks_exact(LANES)) {
                    *o = load(isa, v, 0, LANES);
                }
            }
        } else {
            for (v, o) in out.iter_mut().enumerate() {
                *o = load(isa, s, at + v * LANES, n);
            }
        }
        out
    }

    /// The first `n` (≤ 8) lanes of `v` into `s` from `at`.
    #[inline(always)]
    fn store<V: F32x8>(v: V, s: &mut [f32], at: usize, n: usize) {
        if let Some(out) = s.get_mut(at..at + n) {
            out.copy_from_slice(&v.to_array()[..n]);
        }
    }

    /// Vectors kept in registers at once: four (32 channels) amortize the index arithmetic
    /// of a tap over four fused multiply–adds and leave room for the operands in the 16
    /// registers of AVX2.
    const GROUP: usize = 4;

    /// One block of channels: `NB` vectors of `n` lanes from channel `c0` (`n < 8` only
    /// for the last, partial block, with `NB = 1`).
    trait Block {
        fn block<const NB: usize>(&mut self, c0: usize, n: usize);
    }

    /// Runs `b` over channels `0..c`: groups of [`GROUP`] whole vectors, then single
    /// whole vectors, then the partial rest.
    #[inline(always)]
    fn each_block<B: Block>(c: usize, b: &mut B) {
        let mut c0 = 0;
        while c0 + GROUP * LANES <= c {
            b.block::<GROUP>(c0, LANES);
            c0 += GROUP * LANES;
        }
        while c0 + LANES <= c {
            b.block::<1>(c0, LANES);
            c0 += LANES;
        }
        if c0 < c {
            b.block::<1>(c0, c - c0);
        }
    }

    /// The outputs `o < len` whose tap `t = at + pad − o·stride` falls in `0..k` (the
    /// outputs that read input row, or column, `at`), and `at + pad`, from which
    /// `t = at + pad − o·stride`.
    #[inline(always)]
    fn readers(
        at: usize,
        k: usize,
        pad: usize,
        stride: usize,
        len: usize,
    ) -> (Range<usize>, usize) {
        let top = at + pad;
        let o0 = (top + 1).saturating_sub(k).div_ceil(stride);
        let o1 = min(len, top / stride + 1);
        (o0..max(o0, o1), top)
    }

    #[inline(always)]
    fn forward_body<I: Isa>(isa: I, g: &Window, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
        struct Pixel<'a, I> {
            isa: I,
            g: &'a Window,
            x: &'a [f32],
            w: &'a [f32],
            b: &'a [f32],
            y: &'a mut [f32],
            oy: usize,
            ox: usize,
        }
        impl<I: Isa> Block for Pixel<'_, I> {
            #[inline(always)]
            fn block<const NB: usize>(&mut self, c0: usize, n: usize) {
                let (g, isa) = (self.g, self.isa);
                let c = g.c();
                let mut acc = [isa.zero(); NB];
                for i in g.rows(self.oy) {
                    let row = g.in_row(self.oy, i) * g.w();
                    for j in g.cols(self.ox) {
                        let xs = (row + g.in_col(self.ox, j)) * c + c0;
                        let ws = (i * g.kw() + j) * c + c0;
                        let xv = loads::<I, NB>(isa, self.x, xs, n);
                        let wv = loads::<I, NB>(isa, self.w, ws, n);
                        for ((a, xv), wv) in acc.iter_mut().zip(xv).zip(wv) {
                            *a = xv.mul_add(wv, *a);
                        }
                    }
                }
                let at = (self.oy * g.ow() + self.ox) * c + c0;
                for (v, a) in acc.into_iter().enumerate() {
                    let bv = load(isa, self.b, c0 + v * LANES, n);
                    store(bv + a, self.y, at + v * LANES, n);
                }
            }
        }
        let mut k = Pixel {
            isa,
            g,
            x,
            w,
            b,
            y,
            oy: 0,
            ox: 0,
        };
        for oy in 0..g.oh() {
            for ox in 0..g.ow() {
                (k.oy, k.ox) = (oy, ox);
                each_block(g.c(), &mut k);
            }
        }
    }

    #[inline(always)]
    fn params_grad_body<I: Isa>(
        isa: I,
        g: &Window,
        x: &[f32],
        dy: &[f32],
        dw: &mut [f32],
        db: &mut [f32],
    ) {
        struct Tap<'a, I> {
            isa: I,
            g: &'a Window,
            x: &'a [f32],
            dy: &'a [f32],
            dw: &'a mut [f32],
            i: usize,
            j: usize,
        }
        impl<I: Isa> Block for Tap<'_, I> {
            #[inline(always)]
            fn block<const NB: usize>(&mut self, c0: usize, n: usize) {
                let (g, isa, (i, j)) = (self.g, self.isa, (self.i, self.j));
                let c = g.c();
                let mut acc = [isa.zero(); NB];
                for oy in g.out_rows(i) {
                    let row = g.in_row(oy, i) * g.w();
                    for ox in g.out_cols(j) {
                        let ds = (oy * g.ow() + ox) * c + c0;
                        let xs = (row + g.in_col(ox, j)) * c + c0;
                        let d = loads::<I, NB>(isa, self.dy, ds, n);
                        let xv = loads::<I, NB>(isa, self.x, xs, n);
                        for ((a, d), xv) in acc.iter_mut().zip(d).zip(xv) {
                            *a = d.mul_add(xv, *a);
                        }
                    }
                }
                let at = (i * g.kw() + j) * c + c0;
                for (v, a) in acc.into_iter().enumerate() {
                    let t = at + v * LANES;
                    store(load(isa, self.dw, t, n) + a, self.dw, t, n);
                }
            }
        }
        struct Bias<'a, I> {
            isa: I,
            c: usize,
            dy: &'a [f32],
            db: &'a mut [f32],
        }
        impl<I: Isa> Block for Bias<'_, I> {
            #[inline(always)]
            fn block<const NB: usize>(&mut self, c0: usize, n: usize) {
                let isa = self.isa;
                let mut acc = [isa.zero(); NB];
                for p in (0..self.dy.len()).step_by(self.c) {
                    let d = loads::<I, NB>(isa, self.dy, p + c0, n);
                    for (a, d) in acc.iter_mut().zip(d) {
                        *a = *a + d;
                    }
                }
                for (v, a) in acc.into_iter().enumerate() {
                    let t = c0 + v * LANES;
                    store(load(isa, self.db, t, n) + a, self.db, t, n);
                }
            }
        }
        let c = g.c();
        let mut k = Tap {
            isa,
            g,
            x,
            dy,
            dw,
            i: 0,
            j: 0,
        };
        for i in 0..g.kh() {
            for j in 0..g.kw() {
                (k.i, k.j) = (i, j);
                each_block(c, &mut k);
            }
        }
        if c > 0 {
            each_block(c, &mut Bias { isa, c, dy, db });
        }
    }

    /// Gathers rather than scatters: each input pixel sums, in registers, the products of
    /// the outputs that read it in increasing `(oy, ox)` — the order in which the
    /// reference's scatter adds them to its zeroed `dx` — and is stored once.
    #[inline(always)]
    fn input_grad_body<I: Isa>(isa: I, g: &Window, w: &[f32], dy: &[f32], dx: &mut [f32]) {
        struct Pixel<'a, I> {
            isa: I,
            g: &'a Window,
            w: &'a [f32],
            dy: &'a [f32],
            dx: &'a mut [f32],
            /// Where the block goes in `dx`.
            at: usize,
            /// [`readers`] of the pixel's row and column.
            rows: (Range<usize>, usize),
            cols: (Range<usize>, usize),
        }
        impl<I: Isa> Block for Pixel<'_, I> {
            #[inline(always)]
            fn block<const NB: usize>(&mut self, c0: usize, n: usize) {
                let (g, isa) = (self.g, self.isa);
                let (c, stride) = (g.c(), g.stride());
                let mut acc = [isa.zero(); NB];
                let ((oys, top), (oxs, left)) = (self.rows.clone(), self.cols.clone());
                for oy in oys {
                    let (drow, wrow) = (oy * g.ow(), (top - oy * stride) * g.kw());
                    for ox in oxs.clone() {
                        let ds = (drow + ox) * c + c0;
                        let ws = (wrow + left - ox * stride) * c + c0;
                        let d = loads::<I, NB>(isa, self.dy, ds, n);
                        let wv = loads::<I, NB>(isa, self.w, ws, n);
                        for ((a, d), wv) in acc.iter_mut().zip(d).zip(wv) {
                            *a = d.mul_add(wv, *a);
                        }
                    }
                }
                for (v, a) in acc.into_iter().enumerate() {
                    store(a, self.dx, self.at + c0 + v * LANES, n);
                }
            }
        }
        let mut k = Pixel {
            isa,
            g,
            w,
            dy,
            dx,
            at: 0,
            rows: (0..0, 0),
            cols: (0..0, 0),
        };
        for iy in 0..g.h() {
            k.rows = readers(iy, g.kh(), g.pad_top(), g.stride(), g.oh());
            for ix in 0..g.w() {
                k.cols = readers(ix, g.kw(), g.pad_left(), g.stride(), g.ow());
                k.at = (iy * g.w() + ix) * g.c();
                each_block(g.c(), &mut k);
            }
        }
    }

    impl Simd {
        /// [`depthwise`](super::depthwise) at this level.
        ///
        /// # Panics
        /// If a slice has another length than the window's.
        pub fn depthwise(self, g: &Window, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
            check_depthwise(g, x.len(), w.len(), b.len(), y.len(), "depthwise");
            struct K<'a> {
                g: &'a Window,
                x: &'a [f32],
                w: &'a [f32],
                b: &'a [f32],
                y: &'a mut [f32],
            }
            impl Kernel for K<'_> {
                type Output = ();
                #[inline(always)]
                fn run<I: Isa>(self, isa: I) {
                    forward_body(isa, self.g, self.x, self.w, self.b, self.y);
                }
            }
            self.run(K { g, x, w, b, y });
        }

        /// [`depthwise_params_grad`](super::depthwise_params_grad) at this level.
        ///
        /// # Panics
        /// If a slice has another length than the window's.
        pub fn depthwise_params_grad(
            self,
            g: &Window,
            x: &[f32],
            dy: &[f32],
            dw: &mut [f32],
            db: &mut [f32],
        ) {
            check_depthwise(
                g,
                x.len(),
                dw.len(),
                db.len(),
                dy.len(),
                "depthwise_params_grad",
            );
            struct K<'a> {
                g: &'a Window,
                x: &'a [f32],
                dy: &'a [f32],
                dw: &'a mut [f32],
                db: &'a mut [f32],
            }
            impl Kernel for K<'_> {
                type Output = ();
                #[inline(always)]
                fn run<I: Isa>(self, isa: I) {
                    params_grad_body(isa, self.g, self.x, self.dy, self.dw, self.db);
                }
            }
            self.run(K { g, x, dy, dw, db });
        }

        /// [`depthwise_input_grad`](super::depthwise_input_grad) at this level.
        ///
        /// # Panics
        /// If a slice has another length than the window's.
        pub fn depthwise_input_grad(self, g: &Window, w: &[f32], dy: &[f32], dx: &mut [f32]) {
            check_depthwise(
                g,
                dx.len(),
                w.len(),
                g.c(),
                dy.len(),
                "depthwise_input_grad",
            );
            struct K<'a> {
                g: &'a Window,
                w: &'a [f32],
                dy: &'a [f32],
                dx: &'a mut [f32],
            }
            impl Kernel for K<'_> {
                type Output = ();
                #[inline(always)]
                fn run<I: Isa>(self, isa: I) {
                    input_grad_body(isa, self.g, self.w, self.dy, self.dx);
                }
            }
            self.run(K { g, w, dy, dx });
        }
    }
}
