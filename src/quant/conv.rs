//! Int8 convolutions with TensorFlow Lite's integer semantics: [`QConv2d`] and
//! [`QDepthwiseConv2d`].
//!
//! # Layout
//! Feature maps are channels-last (HWC): an input `[[[i8; C]; W]; H]` of `H` rows, `W`
//! columns and `C` channels. A convolution's `K` filters are stored as TensorFlow Lite
//! stores them, OHWI: `weight[k][ky][kx][c]`, one contiguous row of `KH·KW·C` weights per
//! output channel ([`QFilters`]); a depthwise convolution's as `[1, KH, KW, C]`,
//! `weight[ky][kx][c]`. Output `(oy, ox)` reads the window of input rows
//! `oy·STRIDE − pad_top + ky` and columns `ox·STRIDE − pad_left + kx` ([`Padding`]).
//!
//! # The arithmetic
//! As TensorFlow Lite's reference kernels `reference_integer_ops::ConvPerChannel` and
//! `DepthwiseConvPerChannel`, bit for bit. With `z_in` the input zero point, `b` the int32
//! bias at scale `s_in·s_w[k]` and `(m[k], e[k])` the channel's Q31 multiplier and shift:
//!
//! ```text
//! conv:       acc[k] = b[k] + Σ_{ky,kx inside} Σ_c w[k][ky][kx][c] · (x[iy][ix][c] − z_in)
//! depthwise:  acc[c] = b[c] + Σ_{ky,kx inside}     w[ky][kx][c]    · (x[iy][ix][c] − z_in)
//! y = clamp(z_out + MultiplyByQuantizedMultiplier(acc, m, e), min, max)
//! ```
//!
//! Taps outside the input contribute nothing. The layers store the bias with the zero
//! point folded in, `bias[k] = b[k] − z_in·Σ w[k]` over the whole filter, so the sums become
//! plain `bias + Σ w·x̃` where `x̃` is the input with every position outside it read as
//! `z_in` (whose `w·(z_in − z_in)` is the nothing it contributes). The two are equal as
//! integers, so the bits are TensorFlow Lite's.
//!
//! # How it is computed
//! A convolution gathers each output pixel's window into a patch of `KH·KW·C` bytes (the
//! input, or `z_in` outside it) and calls the int8 dense kernel
//! ([`kernels::dense_flat`]) with the `K × KH·KW·C` filter matrix: so the scalar reference,
//! the x86 SIMD and the Cortex-M4/M7 DSP paths of [`QDense`](super::QDense), and their
//! bit-identity, serve convolutions too. The patch lives in the inference arena (the
//! layer's [`Footprint`](crate::net::Infer::Footprint) adds `KH·KW·C + 3` bytes, aligned
//! there so the DSP path reads words). A 1×1 convolution gathers nothing: it never pads,
//! and the input pixel is the patch. Called with less scratch than the patch (a direct
//! call with `&mut []`), the layer computes the same bits with direct loops.
//!
//! A depthwise convolution is direct loops with `i32` accumulators, channel by channel, as
//! the reference kernel.
//!
//! ```
//! use firmnet::layers::Same;
//! use firmnet::quant::{Clamp, QConv2d, QParams};
//! use firmnet::prelude::*;
//!
//! // 5×5×1 → 3×3×2 with 3×3 filters and stride 2, padded (SAME: one on every side).
//! type Conv = QConv2d<5, 5, 1, 2, 3, 3, 3, 3, 2, Same>;
//! let mut weight = [[[[0.0f32; 1]; 3]; 3]; 2];
//! weight[0][1][1][0] = 1.0; // filter 0 copies the centre
//! weight[1] = [[[0.1]; 3]; 3]; // filter 1 sums the window, times 0.1
//! let p = QParams::from_range(-1.0, 1.0);
//! let q = Conv::from_float(&weight, &[0.0, 0.0], None, Clamp::None, p, p)?;
//! let x = [[[p.quantize(0.5)]; 5]; 5];
//! let mut y = [[[0i8; 2]; 3]; 3];
//! q.forward(&x, &mut y, &mut Scratch::<Conv>::ZERO);
//! assert_eq!(y[1][1][0], p.quantize(0.5)); // the centre
//! let near = |q: i8, v: f32| (p.dequantize(q) - v).abs() <= 2.0 * p.scale;
//! assert!(near(y[1][1][1], 9.0 * 0.1 * 0.5)); // a whole window
//! assert!(near(y[0][0][1], 4.0 * 0.1 * 0.5)); // a corner: the padding adds nothing
//! # Ok::<(), firmnet::quant::QuantError>(())
//! ```

use core::borrow::Borrow;
use core::marker::PhantomData;

use super::dense::{BnFold, Clamp, DenseConversion, IO_ATTRS, io_attr, set_io_attr};
use super::kernels::reference::dot;
use super::kernels::{self, Requant, packed, small};
use super::requant::quantize_multiplier;
use super::store::{Borrowed, Owned, QFilters, Store};
use super::{QLayer, QParams, QuantError};
use crate::arena::{Both, Mapping, Place};
use crate::layers::{Padding, ParamKind, Same, output_size, pad_before};
use crate::net::Infer;
use crate::spec::{
    Attr, AttrSpec, Dtype, LayerData, LayerSpec, Primitive, Rule, TensorMut, TensorRef, TensorSpec,
};
use crate::tensor::{Shape, Zero, copy};

// ---------------------------------------------------------------------------------------
// Geometry shared with the pools

/// A window along one dimension: `n` inputs, `k` taps, moved by `stride`, `pad` inputs of
/// padding before the first.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    n: usize,
    k: usize,
    stride: usize,
    pad: usize,
}

impl Window {
    /// The window of `k` taps moved by `stride` over `n` inputs, padded as `same` says.
    pub(crate) const fn new(n: usize, k: usize, stride: usize, same: bool) -> Window {
        Window {
            n,
            k,
            stride,
            pad: pad_before(n, k, stride, same),
        }
    }

    /// For output `o`: the taps `start..end` that fall inside the input, and the input
    /// that tap `start` reads (tap `t` reads input `o·stride − pad + t`).
    #[inline]
    pub(crate) fn taps(&self, o: usize) -> (usize, usize, usize) {
        let origin = o.saturating_mul(self.stride);
        let start = self.pad.saturating_sub(origin).min(self.k);
        let end = (self.n + self.pad)
            .saturating_sub(origin)
            .min(self.k)
            .max(start);
        (start, end, (origin + start).saturating_sub(self.pad))
    }
}

/// The clamp bounds of an int8 layer, after its quantization (attributes 4 and 5).
pub(crate) const CLAMP_ATTRS: [AttrSpec; 2] = [
    AttrSpec::i32("min", Rule::Int8),
    AttrSpec::i32("max", Rule::Int8),
];

/// The attributes of a windowed int8 layer: quantization, clamp bounds, then `geometry` —
/// stride, padding before the first row and column and, for a pool, the window's height
/// and width — whose values the layer's type fixes ([`AttrSpec::structure`]): a file of
/// a layer of other geometry is refused.
pub(crate) const fn conv_attrs<const N: usize>(geometry: &[usize]) -> [AttrSpec; N] {
    const NAMES: [&str; 5] = ["stride", "pad_top", "pad_left", "pool_height", "pool_width"];
    let mut attrs = [CLAMP_ATTRS[0]; N];
    let mut i = 0;
    while i < N {
        attrs[i] = match i {
            0..4 => IO_ATTRS[i],
            4 | 5 => CLAMP_ATTRS[i - 4],
            _ => AttrSpec::structure(NAMES[i - 6], geometry[i - 6]),
        };
        i += 1;
    }
    attrs
}

/// Attribute `i` (from 4) of [`conv_attrs`]: the clamp bounds, then `fixed`, the
/// geometry the layer's type fixes.
pub(crate) fn window_attr(min: i8, max: i8, fixed: &[usize], i: usize) -> Option<Attr> {
    match i {
        4 => Some(Attr::I32(i32::from(min))),
        5 => Some(Attr::I32(i32::from(max))),
        6.. => {
            let v = *fixed.get(i - 6)?;
            Some(Attr::I32(i32::try_from(v).unwrap_or(i32::MAX)))
        }
        _ => None,
    }
}

/// Sets attribute `i` (from 4) of [`conv_attrs`]: the clamp bounds are set; the geometry,
/// which the type fixes, is only accepted (`true`) if it is the type's.
pub(crate) fn set_window_attr(
    min: &mut i8,
    max: &mut i8,
    fixed: &[usize],
    i: usize,
    value: Attr,
) -> bool {
    match (i, value) {
        (4, Attr::I32(v)) => *min = v.clamp(-128, 127) as i8,
        (5, Attr::I32(v)) => *max = v.clamp(-128, 127) as i8,
        (6.., Attr::I32(v)) => {
            return fixed
                .get(i - 6)
                .is_some_and(|&f| usize::try_from(v) == Ok(f));
        }
        _ => return false,
    }
    true
}

/// An `i32` clamped to `i8`: a clamp bound as Rust source and files hold it.
pub(crate) const fn bound(v: i32) -> i8 {
    if v < -128 {
        -128
    } else if v > 127 {
        127
    } else {
        v as i8
    }
}

/// Whether the geometry (`[stride, pad_top, pad_left, …]`) given to a `from_parts` is the
/// type's.
pub(crate) const fn same_geometry<const N: usize>(given: [i32; N], fixed: [usize; N]) -> bool {
    let mut i = 0;
    while i < N {
        if given[i] < 0 || given[i] as usize != fixed[i] {
            return false;
        }
        i += 1;
    }
    true
}

// ---------------------------------------------------------------------------------------
// QConv2d

/// A 2-D convolution in int8 (see the [module docs](self)): input `[[[i8; C]; W]; H]`,
/// output `[[[i8; K]; OW]; OH]`, `K` filters of `KH × KW × C` moved by `STRIDE` in both
/// directions, padded as `P` says ([`Same`] or [`Valid`](crate::layers::Valid)).
///
/// `OH` and `OW` are stated and checked when the layer is used: a size that does not
/// follow from `H`, `W`, the kernel, the stride and the padding fails to compile. The
/// arrays are per output channel as in [`QDense`](super::QDense); `S` says where they live
/// ([`Owned`] or [`Borrowed`]).
///
/// ```compile_fail
/// use firmnet::quant::QConv2d;
/// // 28×28 with 3×3 filters, VALID, makes 26×26, not 28×28.
/// static BAD: QConv2d<28, 28, 1, 4, 3, 3, 28, 28, 1, firmnet::layers::Valid> = QConv2d::ZERO;
/// ```
pub struct QConv2d<
    const H: usize,
    const W: usize,
    const C: usize,
    const K: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize = 1,
    P: Padding = Same,
    S: Store = Owned,
> {
    /// Filters, symmetric per output channel: `w = s_w[k]·q`, OHWI.
    pub weight: S::Filters<K, KH, KW, C>,
    /// Per channel: `round(b/(s_in·s_w[k])) − z_in·Σ q[k]` — the bias with the input zero
    /// point folded in (see the [module docs](self)).
    pub bias: S::Array<i32, K>,
    /// Per channel: Q31 multiplier of `s_in·s_w[k]/s_out`, in `[2³⁰, 2³¹)`.
    pub multiplier: S::Array<i32, K>,
    /// Per channel: power-of-two exponent of `s_in·s_w[k]/s_out`.
    pub shift: S::Array<i32, K>,
    /// Quantization of the input.
    pub input: QParams,
    /// Quantization of the output.
    pub output: QParams,
    /// Smallest output: −128, or the output zero point when a ReLU is fused.
    pub min: i8,
    /// Largest output: 127, or the image of 6 when a ReLU6 is fused.
    pub max: i8,
    _padding: PhantomData<fn() -> P>,
}

/// Writes the generic parameter list of a convolution type once.
macro_rules! conv_impl {
    ($(#[$m:meta])* impl $(<$lt:lifetime>)? [$($extra:tt)*] ($($head:tt)*) $body:tt) => {
        $(#[$m])*
        impl<
            $($lt,)?
            const H: usize,
            const W: usize,
            const C: usize,
            const K: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
            $($extra)*
        > $($head)* $body
    };
}

conv_impl!(impl[S: Store] (Clone for QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P, S>) {
    fn clone(&self) -> Self {
        QConv2d {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            multiplier: self.multiplier.clone(),
            shift: self.shift.clone(),
            input: self.input,
            output: self.output,
            min: self.min,
            max: self.max,
            _padding: PhantomData,
        }
    }
});

conv_impl!(impl[S: Store] (PartialEq for QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P, S>) {
    fn eq(&self, other: &Self) -> bool {
        self.weight == other.weight
            && self.bias == other.bias
            && self.multiplier == other.multiplier
            && self.shift == other.shift
            && (self.input, self.output, self.min, self.max)
                == (other.input, other.output, other.min, other.max)
    }
});

conv_impl!(impl[S: Store] (core::fmt::Debug for QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P, S>) {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QConv2d")
            .field("weight", &self.weight)
            .field("bias", &self.bias)
            .field("multiplier", &self.multiplier)
            .field("shift", &self.shift)
            .field("input", &self.input)
            .field("output", &self.output)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("stride", &STRIDE)
            .field("same", &P::SAME)
            .finish()
    }
});

conv_impl!(impl[S: Store] (QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P, S>) {
    /// The padding before the first row (TensorFlow Lite's rule, [`Padding`]).
    pub const PAD_TOP: usize = pad_before(H, KH, STRIDE, P::SAME);
    /// The padding before the first column.
    pub const PAD_LEFT: usize = pad_before(W, KW, STRIDE, P::SAME);
    /// The length of one filter, and of the patch of one output pixel: `KH·KW·C`.
    pub const PATCH: usize = KH * KW * C;

    const ROWS: Window = Window::new(H, KH, STRIDE, P::SAME);
    const COLS: Window = Window::new(W, KW, STRIDE, P::SAME);

    /// The compile-time checks of the sizes; evaluated wherever the layer computes or is
    /// built in a `const`.
    const CHECK: () = {
        assert!(
            H > 0 && W > 0 && C > 0 && K > 0 && KH > 0 && KW > 0,
            "QConv2d: every size must be at least 1"
        );
        assert!(STRIDE > 0, "QConv2d: STRIDE must be at least 1");
        assert!(
            P::SAME || (KH <= H && KW <= W),
            "QConv2d: with VALID padding the kernel must fit in the input"
        );
        assert!(
            OH == output_size(H, KH, STRIDE, P::SAME),
            "QConv2d: OH is not the output height that H, KH, STRIDE and the padding give"
        );
        assert!(
            OW == output_size(W, KW, STRIDE, P::SAME),
            "QConv2d: OW is not the output width that W, KW, STRIDE and the padding give"
        );
        assert!(
            KH * KW * C <= kernels::MAX_INPUTS,
            "QConv2d: filters of more than 65536 weights could overflow the int32 sums"
        );
    };

    /// Stride, padding before the first row, before the first column.
    const GEOMETRY: [usize; 3] = [STRIDE, Self::PAD_TOP, Self::PAD_LEFT];

    /// The requantization parameters for the kernel.
    #[inline]
    pub fn requant(&self) -> Requant<'_> {
        Requant {
            bias: self.bias.borrow(),
            multiplier: self.multiplier.borrow(),
            shift: self.shift.borrow(),
            zero_point: self.output.zero_point,
            min: self.min,
            max: self.max,
        }
    }

    /// The input zero point as the byte that stands for padding.
    fn pad_value(&self) -> i8 {
        self.input.zero_point.clamp(-128, 127) as i8
    }

    /// Inference with `dense` as the matrix kernel — [`kernels::dense_flat`] for
    /// [`forward_with`](Infer::forward_with), or a path of one's choosing, such as
    /// [`kernels::reference::dense`]: how the tests hold every kernel path to the reference.
    /// `scratch` holds the patch (see the [module docs](self)); with less than
    /// [`PATCH`](Self::PATCH) bytes, the direct loops compute instead (the same bits;
    /// `dense` is then not called). Cannot panic.
    pub fn forward_with_kernel(
        &self,
        x: &[[[i8; C]; W]; H],
        y: &mut [[[i8; K]; OW]; OH],
        scratch: &mut [i8],
        dense: impl Fn(&[i8], &[i8], &Requant<'_>, &mut [i8]),
    ) {
        let () = Self::CHECK;
        let w = self.weight.borrow().as_flattened().as_flattened().as_flattened();
        let rq = self.requant();
        if KH == 1 && KW == 1 {
            // A 1×1 window never pads (its total padding is 0): the pixel is the patch.
            for (yrow, xrow) in y.iter_mut().zip(x.iter().step_by(STRIDE)) {
                for (out, pixel) in yrow.iter_mut().zip(xrow.iter().step_by(STRIDE)) {
                    dense(w, pixel, &rq, out);
                }
            }
            return;
        }
        // The patch, 4-byte aligned in the arena (the footprint has 3 bytes to spare).
        let at = scratch.as_ptr().align_offset(4);
        let Some(patch) = at
            .checked_add(Self::PATCH)
            .and_then(|end| scratch.get_mut(at..end))
        else {
            self.direct(x, y);
            return;
        };
        let z = self.pad_value();
        for (oy, yrow) in y.iter_mut().enumerate() {
            let rows = Self::ROWS.taps(oy);
            for (ox, out) in yrow.iter_mut().enumerate() {
                gather::<H, W, C, KW>(x, rows, Self::COLS.taps(ox), z, patch);
                dense(w, patch, &rq, out);
            }
        }
    }

    /// Inference on the Cortex-M4/M7 DSP path ([`packed::conv_pairs`]), which runs on
    /// every target (off the M4 with portable twins of its instructions), so that tests
    /// can hold it to the reference: output pixels two at a time, each pixel's patch
    /// gathered once and widened once to 16-bit pairs (a 1×1 convolution widens the input
    /// pixel itself), then every filter pair against both patches, requantization
    /// included. Filters whose length is not a multiple of 4 (e.g. one or three input
    /// channels of a 3×3 window) are padded with zeros once per call, on the stack when they fit in 512 bytes, so they
    /// too are read a word at a time. `scratch` needs `6·KH·KW·C + 24` bytes (the layer's
    /// footprint); with less, [`forward_with_kernel`](Self::forward_with_kernel) with the
    /// reference computes instead. A patch of at most [`small::SMALL_TAPS`] values (3×3 on
    /// one input channel) takes, when the requantization allows it, the path on doubled
    /// sums of [`small`] instead, which needs no scratch. A 1×1 convolution of stride 1 on
    /// 4 to 16 channels takes [`packed::pointwise_bounded`] when it can (no scratch);
    /// filters of at most 32 weights on the six-instruction requantization go four at a
    /// time through [`packed::conv_quads`]; a window of at most 32 taps on channels
    /// not a multiple of 4 (three: a first convolution) is widened straight from the input
    /// where it lies inside it ([`packed::widen_taps`]). The same bits as the reference.
    /// Cannot panic.
    pub fn forward_packed(
        &self,
        x: &[[[i8; C]; W]; H],
        y: &mut [[[i8; K]; OW]; OH],
        scratch: &mut [i8],
    ) {
        let () = Self::CHECK;
        if KH * KW > 1 && Self::PATCH <= small::SMALL_TAPS && self.forward_small(x, y) {
            return;
        }
        if KH == 1 && KW == 1 && self.forward_pointwise(x, y) {
            return;
        }
        let w = self.weight.borrow().as_flattened().as_flattened().as_flattened();
        let rq = self.requant();
        let n = Self::PATCH;
        let split = packed::splits(w, n);
        let slot = n.next_multiple_of(4);
        // Filters of a length not a multiple of 4 (e.g. one input channel): padded once per
        // call, when they fit, so the filters are read a word at a time as well.
        let mut padded;
        let (w, n_w, split) = if split {
            (w, n, true)
        } else {
            padded = packed::WordAligned([0; PADDED_FILTERS]);
            match packed::pad_filters(w, n, &mut padded.0) {
                Some(p) => (p, slot, true),
                None => (w, n, false),
            }
        };
        let at = scratch.as_ptr().align_offset(4);
        let room = scratch.get_mut(at..).and_then(|s| s.split_at_mut_checked(2 * slot));
        let Some((bytes, rest)) = room else {
            self.forward_with_kernel(x, y, scratch, kernels::reference::dense);
            return;
        };
        let wide = packed::as_words_mut(rest);
        if wide.len() < 4 * n.div_ceil(4) {
            self.forward_with_kernel(x, y, scratch, kernels::reference::dense);
            return;
        }
        let (b0, b1) = bytes.split_at_mut(slot);
        let z = self.pad_value();
        let path = packed::Rescale::of(&rq, n_w);
        // A window inside the input: tap `t` at this offset from its first (a patch of at
        // most 32 taps, `C` not a multiple of 4).
        let taps = (!C.is_multiple_of(4) && KH * KW > 1)
            .then(|| packed::Taps::new(n, |t| t / (KW * C) * W * C + t % (KW * C)))
            .flatten();
        // Filters of at most 32 weights, four at a time ([`packed::conv_quads`]).
        let quads = split
            && path.way() == packed::Way::Bounded
            && n_w <= 32
            && K.is_multiple_of(4)
            && y.as_ptr().align_offset(4) == 0;
        let pixels = y.as_flattened_mut();
        let total = pixels.len();
        let mut spare = [0i8; K];
        let mut p = 0;
        while p < total {
            let q = (p + 1).min(total - 1);
            for (slot, (b, o)) in [(&mut *b0, p), (&mut *b1, q)].into_iter().enumerate() {
                let (oy, ox) = (o / OW, o % OW);
                if KH == 1 && KW == 1 {
                    // A 1×1 window never pads: the input pixel is the patch.
                    let pixel = x.get(oy * STRIDE).and_then(|r| r.get(ox * STRIDE));
                    packed::widen_patch(pixel.map_or(&[][..], |p| p), wide, slot, split);
                } else if C.is_multiple_of(4) {
                    // Whole groups of four taps per pixel: widen straight from the input.
                    let (ys, ye, iy) = Self::ROWS.taps(oy);
                    let (xs, xe, ix) = Self::COLS.taps(ox);
                    let row_groups = KW * C / 4;
                    for ky in 0..KH {
                        let at = wide.get_mut(4 * ky * row_groups..).unwrap_or_default();
                        let src = if (ys..ye).contains(&ky) {
                            x.get(iy + ky - ys).and_then(|r| r.get(ix..ix + xe - xs))
                        } else {
                            None
                        };
                        let Some(src) = src else {
                            packed::fill_patch(z, row_groups, at, slot);
                            continue;
                        };
                        let (before, inside) = (xs * C / 4, (xe - xs) * C / 4);
                        packed::fill_patch(z, before, at, slot);
                        let at = at.get_mut(4 * before..).unwrap_or_default();
                        packed::widen_patch(src.as_flattened(), at, slot, split);
                        let at = at.get_mut(4 * inside..).unwrap_or_default();
                        packed::fill_patch(z, row_groups - before - inside, at, slot);
                    }
                } else {
                    let patch = b.get_mut(..n).unwrap_or_default();
                    let (rows, cols) = (Self::ROWS.taps(oy), Self::COLS.taps(ox));
                    let inside = rows.0 == 0 && rows.1 == KH && cols.0 == 0 && cols.1 == KW;
                    if let (true, true, Some(taps)) = (inside, split, taps.as_ref()) {
                        // Inside the input: the taps at their offsets from the window's
                        // first, widened straight from the input.
                        let at = (rows.2 * W + cols.2) * C;
                        let src = x.as_flattened().as_flattened().get(at..).unwrap_or_default();
                        packed::widen_taps(src, taps, wide, slot);
                    } else {
                        gather::<H, W, C, KW>(x, rows, cols, z, patch);
                        packed::widen_patch(patch, wide, slot, split);
                    }
                }
            }
            let (first, second) = pixels.split_at_mut(p + 1);
            let (Some(y0), y1) = (first.last_mut(), second.first_mut()) else {
                return;
            };
            let y1 = y1.unwrap_or(&mut spare);
            if !(quads && packed::conv_quads(w, n_w, wide, &rq, path, y0, y1)) {
                packed::conv_pairs(w, n_w, wide, split, &rq, path, y0, y1);
            }
            p += 2;
        }
    }

    /// [`forward_packed`](Self::forward_packed) for a 1×1 convolution of stride 1 on 4,
    /// 8, 12 or 16 input channels and a multiple of 4 filters, input, filters and output
    /// 4-byte aligned, when the
    /// requantization takes the six-instruction path ([`packed::Way::Bounded`]):
    /// [`packed::pointwise_bounded`], two pixels and four filters per step, the pixel
    /// words read straight from the input. `false`, with `y` untouched, otherwise.
    #[inline(never)]
    fn forward_pointwise(&self, x: &[[[i8; C]; W]; H], y: &mut [[[i8; K]; OW]; OH]) -> bool {
        if STRIDE != 1 || !K.is_multiple_of(4) || OH * OW != H * W {
            return false;
        }
        let rq = self.requant();
        if packed::Rescale::of(&rq, C).way() != packed::Way::Bounded {
            return false;
        }
        let w = self.weight.borrow().as_flattened().as_flattened().as_flattened();
        let xb = x.as_flattened().as_flattened();
        let (Some(w), Some(xw)) = (packed::as_words(w), packed::as_words(xb)) else {
            return false;
        };
        let yb = y.as_flattened_mut().as_flattened_mut();
        if yb.as_ptr().align_offset(4) != 0 {
            return false;
        }
        let yw = packed::as_words_mut(yb);
        macro_rules! run {
            ($g:literal) => {{
                let (xs, _) = xw.as_chunks::<$g>();
                let (ws, _) = w.as_chunks::<$g>();
                packed::pointwise_bounded::<$g>(xs, ws, &rq, yw);
            }};
        }
        match C {
            4 => run!(1),
            8 => run!(2),
            12 => run!(3),
            16 => run!(4),
            _ => return false,
        }
        true
    }

    /// [`forward_packed`](Self::forward_packed) for a patch of at most
    /// [`small::SMALL_TAPS`] values (e.g. 3×3 on one input channel), when the layer's
    /// requantization allows sums doubled ([`small::Doubled::fits`]); `false`, with `y`
    /// untouched, otherwise. Filters sixteen at a time are widened with their requantization
    /// into one stream on the stack (512 bytes); each output pixel's patch becomes five
    /// 16-bit pairs, read straight from the input inside it and gathered with the padding
    /// at the border, then five `SMLAD`s and one [`small::rescale`] per filter, four
    /// outputs stored as one word when `y` is aligned for it.
    #[inline(never)]
    fn forward_small(&self, x: &[[[i8; C]; W]; H], y: &mut [[[i8; K]; OW]; OH]) -> bool {
        let rq = self.requant();
        let n = Self::PATCH;
        let Some(d) = small::Doubled::fits(&rq, K, n) else {
            return false;
        };
        let w = self.weight.borrow().as_flattened().as_flattened().as_flattened();
        let yb = y.as_flattened_mut().as_flattened_mut();
        let words = K.is_multiple_of(4) && yb.as_ptr().align_offset(4) == 0;
        let mut stream = [0u32; 4 * small::SMALL_GROUP];
        let mut k0 = 0;
        while k0 < K {
            let kn = small::widen_small(w, n, &rq, k0, &mut stream);
            if kn == 0 {
                return k0 > 0;
            }
            let groups = kn.div_ceil(4);
            if words {
                let yw = packed::as_words_mut(yb);
                self.small_pixels(x, &stream, groups, d, |p, g, v| {
                    if let Some(o) = yw.get_mut((p * K + k0) / 4 + g) {
                        *o = v;
                    }
                });
            } else {
                self.small_pixels(x, &stream, groups, d, |p, g, v| {
                    let out = yb.get_mut(p * K + k0..(p + 1) * K).unwrap_or_default();
                    small::put_bytes(out, g, v);
                });
            }
            k0 += kn;
        }
        true
    }

    /// The pixel loop of [`forward_small`](Self::forward_small): `put(pixel, group, word)`
    /// for each output pixel (row-major) and group of four filters of `stream`.
    #[inline(always)]
    fn small_pixels(
        &self,
        x: &[[[i8; C]; W]; H],
        stream: &[u32],
        groups: usize,
        d: small::Doubled,
        mut put: impl FnMut(usize, usize, u32),
    ) {
        let n = Self::PATCH;
        let z = self.pad_value();
        let xf = x.as_flattened().as_flattened();
        let (row, span) = (W * C, (KH - 1) * W * C + KW * C);
        // The output columns whose window lies inside the input's columns.
        let first = Self::PAD_LEFT.div_ceil(STRIDE);
        let end = match (W + Self::PAD_LEFT).checked_sub(KW) {
            Some(room) => (room / STRIDE + 1).min(OW),
            None => 0,
        };
        for oy in 0..OH {
            let rows = Self::ROWS.taps(oy);
            let whole_rows = rows.0 == 0 && rows.1 == KH;
            for ox in 0..OW {
                let p = if whole_rows && (first..end).contains(&ox) {
                    // Inside the input: tap t of row t / (KW·C) at a constant offset.
                    let at = (rows.2 * W + ox * STRIDE - Self::PAD_LEFT) * C;
                    let src = xf.get(at..at + span).unwrap_or_default();
                    small::patch_words(|t| {
                        let at = t / (KW * C) * row + t % (KW * C);
                        if t < n { src.get(at).copied().unwrap_or(0) } else { 0 }
                    })
                } else {
                    let mut patch = [0i8; small::SMALL_TAPS];
                    let cols = Self::COLS.taps(ox);
                    gather::<H, W, C, KW>(x, rows, cols, z, patch.get_mut(..n).unwrap_or_default());
                    small::patch_words(|t| patch.get(t).copied().unwrap_or(0))
                };
                let pixel = oy * OW + ox;
                small::small_pixel(&p, stream, groups, d, |g, v| put(pixel, g, v));
            }
        }
    }

    /// The direct loops: each output channel's sum over the window, taps outside the input
    /// read as the input zero point. Used when the scratch cannot hold a patch.
    fn direct(&self, x: &[[[i8; C]; W]; H], y: &mut [[[i8; K]; OW]; OH]) {
        let filters = self.weight.borrow();
        let rq = self.requant();
        let bias: &[i32; K] = self.bias.borrow();
        let z = i32::from(self.pad_value());
        for (oy, yrow) in y.iter_mut().enumerate() {
            let (ys, ye, iy) = Self::ROWS.taps(oy);
            for (ox, out) in yrow.iter_mut().enumerate() {
                let (xs, xe, ix) = Self::COLS.taps(ox);
                for (k, ((o, filter), &b)) in out.iter_mut().zip(filters).zip(bias).enumerate() {
                    let mut acc = b;
                    for (ky, taps) in filter.iter().enumerate() {
                        let row = (ys..ye).contains(&ky).then(|| x.get(iy + ky - ys)).flatten();
                        for (kx, w) in taps.iter().enumerate() {
                            let pixel = (xs..xe)
                                .contains(&kx)
                                .then(|| row.and_then(|r| r.get(ix + kx - xs)))
                                .flatten();
                            acc = match pixel {
                                Some(p) => dot(w, p, acc),
                                None => w
                                    .iter()
                                    .fold(acc, |a, &w| a.wrapping_add(i32::from(w) * z)),
                            };
                        }
                    }
                    *o = rq.output(k, acc);
                }
            }
        }
    }

    /// The Rust of a conversion: the [`DenseConversion`] that makes this layer's filter
    /// matrix, biases and requantization from float filters (OHWI), biases, a batch
    /// normalization to fold and the activation to fuse. Its `write` fills the layer's
    /// arrays in place (a large layer need not pass through the stack).
    pub fn conversion<'a>(
        weight: &'a [[[[f32; C]; KW]; KH]; K],
        bias: &'a [f32; K],
        bn: Option<BnFold<'a>>,
        clamp: Clamp,
        input: QParams,
        output: QParams,
    ) -> DenseConversion<'a> {
        DenseConversion {
            weight: weight.as_flattened().as_flattened().as_flattened(),
            bias,
            fold: bn,
            inputs: Self::PATCH,
            input,
            output,
            clamp,
        }
    }

    /// The weight scale of output channel `k`, recovered from its requantization (as
    /// [`QDense::weight_scale`](super::QDense::weight_scale)); `None` if `k` is out of
    /// range.
    pub fn weight_scale(&self, k: usize) -> Option<f64> {
        let m = f64::from(*self.multiplier.borrow().get(k)?);
        let shift = *self.shift.borrow().get(k)?;
        let real = m * libm::exp2(f64::from(shift) - 31.0);
        Some(real * f64::from(self.output.scale) / f64::from(self.input.scale))
    }
});

/// The most bytes of filters [`QConv2d::forward_packed`] pads on the stack to read them a
/// word at a time.
const PADDED_FILTERS: usize = 512;

/// Room for two patches.
type Patches<const C: usize, const KH: usize, const KW: usize> =
    Both<[[[i8; C]; KW]; KH], [[[i8; C]; KW]; KH]>;

/// Fills `patch` (rows of `KW·C`) with the window of `x` whose in-bounds taps are `rows`
/// and `cols` (as [`Window::taps`] gives them), and `z` at the taps outside the input.
#[inline]
fn gather<const H: usize, const W: usize, const C: usize, const KW: usize>(
    x: &[[[i8; C]; W]; H],
    (ys, ye, iy): (usize, usize, usize),
    (xs, xe, ix): (usize, usize, usize),
    z: i8,
    patch: &mut [i8],
) {
    let row_len = KW * C;
    if row_len == 0 {
        return;
    }
    let (lo, hi) = (xs * C, xe * C);
    for (ky, prow) in patch.chunks_exact_mut(row_len).enumerate() {
        let src = if (ys..ye).contains(&ky) {
            x.get(iy + ky - ys)
                .and_then(|r| r.as_flattened().get(ix * C..(ix + xe - xs) * C))
        } else {
            None
        };
        let Some(src) = src else {
            prow.fill(z);
            continue;
        };
        let (before, rest) = prow.split_at_mut(lo.min(row_len));
        before.fill(z);
        let (inside, after) = rest.split_at_mut(hi.saturating_sub(lo).min(rest.len()));
        copy(src, inside);
        after.fill(z);
    }
}

conv_impl!(impl[] (QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>) {
    /// All zero (outputs the zero point 0); usable in `const` and `static` items. Its
    /// multipliers are 0, which no file may hold: convert or load before use.
    pub const ZERO: Self = {
        let () = Self::CHECK;
        QConv2d {
            weight: QFilters([[[[0; C]; KW]; KH]; K]),
            bias: [0; K],
            multiplier: [0; K],
            shift: [0; K],
            input: QParams::UNIT,
            output: QParams::UNIT,
            min: -128,
            max: 127,
            _padding: PhantomData,
        }
    };

    /// The layer with these values, in spec order (the constructor of Rust source written
    /// by [`format::rust_source`](crate::format::rust_source)).
    ///
    /// # Panics
    /// If `stride`, `pad_top` or `pad_left` are not the ones the type fixes — in a `const`
    /// or `static`, a compile error.
    #[allow(clippy::too_many_arguments)]
    pub const fn from_parts(
        weight: [[[[i8; C]; KW]; KH]; K],
        bias: [i32; K],
        multiplier: [i32; K],
        shift: [i32; K],
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        min: i32,
        max: i32,
        stride: i32,
        pad_top: i32,
        pad_left: i32,
    ) -> Self {
        let () = Self::CHECK;
        assert!(
            same_geometry([stride, pad_top, pad_left], Self::GEOMETRY),
            "QConv2d::from_parts: the stride or padding is not the type's"
        );
        QConv2d {
            weight: QFilters(weight),
            bias,
            multiplier,
            shift,
            input: QParams {
                scale: input_scale,
                zero_point: input_zero_point,
            },
            output: QParams {
                scale: output_scale,
                zero_point: output_zero_point,
            },
            min: bound(min),
            max: bound(max),
            _padding: PhantomData,
        }
    }

    /// The int8 twin of a float convolution with filters `weight` (OHWI) and biases
    /// `bias`, followed by the batch normalization `bn` (folded in) and the activation
    /// `clamp` fuses, for inputs quantized with `input` and outputs with `output` — as
    /// [`QDense::from_float`](super::QDense::from_float), with each filter a row of
    /// `KH·KW·C` weights. The value is built on the stack; for a large layer in place, use
    /// [`conversion`](Self::conversion).
    ///
    /// # Errors
    /// As [`DenseConversion::write`].
    pub fn from_float(
        weight: &[[[[f32; C]; KW]; KH]; K],
        bias: &[f32; K],
        bn: Option<BnFold<'_>>,
        clamp: Clamp,
        input: QParams,
        output: QParams,
    ) -> Result<Self, QuantError> {
        let mut q = Self::ZERO;
        q.write_from_float(weight, bias, bn, clamp, input, output)?;
        Ok(q)
    }

    /// [`from_float`](Self::from_float) into `self`, in place. Nothing is written if a check
    /// fails.
    ///
    /// # Errors
    /// As [`DenseConversion::write`].
    pub fn write_from_float(
        &mut self,
        weight: &[[[[f32; C]; KW]; KH]; K],
        bias: &[f32; K],
        bn: Option<BnFold<'_>>,
        clamp: Clamp,
        input: QParams,
        output: QParams,
    ) -> Result<(), QuantError> {
        let conversion = Self::conversion(weight, bias, bn, clamp, input, output);
        let (min, max) = conversion.write(
            self.weight.0.as_flattened_mut().as_flattened_mut().as_flattened_mut(),
            &mut self.bias,
            &mut self.multiplier,
            &mut self.shift,
        )?;
        (self.input, self.output, self.min, self.max) = (input, output, min, max);
        Ok(())
    }
});

conv_impl!(impl[] (Zero for QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>) {
    const ZERO: Self = Self::ZERO;
});

conv_impl!(impl<'a> [] (QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P, Borrowed<'a>>) {
    /// The layer over arrays borrowed from a weight file.
    #[allow(clippy::too_many_arguments)]
    pub const fn borrowed(
        weight: &'a [[[[i8; C]; KW]; KH]; K],
        bias: &'a [i32; K],
        multiplier: &'a [i32; K],
        shift: &'a [i32; K],
        input: QParams,
        output: QParams,
        min: i8,
        max: i8,
    ) -> Self {
        QConv2d {
            weight,
            bias,
            multiplier,
            shift,
            input,
            output,
            min,
            max,
            _padding: PhantomData,
        }
    }
});

conv_impl!(impl[S: Store] (Infer for QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P, S>) {
    type Input = [[[i8; C]; W]; H];
    type Output = [[[i8; K]; OW]; OH];
    /// The input and output where they live, and the patch with 3 bytes to align it.
    /// The input and output where they live, and room for two patches as bytes and as
    /// 16-bit pairs ([`forward_packed`](QConv2d::forward_packed)), aligned: `6·KH·KW·C + 24`
    /// bytes.
    type Footprint<I: Place, O: Place> = Both<
        Mapping<I, O, Self::Input, Self::Output>,
        Both<Both<Patches<C, KH, KW>, Patches<C, KH, KW>>, Both<Patches<C, KH, KW>, [i8; 24]>>,
    >;

    /// On Cortex-M4/M7 with the [`Simd`](crate::kernels::Backend::Simd) backend,
    /// [`forward_packed`](QConv2d::forward_packed); elsewhere the patches and
    /// [`kernels::dense_flat`]. The same bits either way.
    #[inline]
    fn forward_with(&self, x: &Self::Input, y: &mut Self::Output, scratch: &mut [i8]) {
        #[cfg(firmnet_arm_dsp)]
        if crate::kernels::backend() == crate::kernels::Backend::Simd {
            self.forward_packed(x, y, scratch);
            return;
        }
        self.forward_with_kernel(x, y, scratch, kernels::dense_flat);
    }
});

conv_impl!(impl[S: Store] (QLayer for QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P, S>) {
    fn input_params(&self) -> QParams {
        self.input
    }
    fn output_params(&self) -> QParams {
        self.output
    }
});

/// The per-channel tensors of an int8 convolution after its weights.
const fn channel_tensors(n: usize) -> [TensorSpec; 3] {
    [
        TensorSpec::fixed(
            "bias",
            ParamKind::Bias,
            Dtype::I32,
            Shape::vector(n),
            Rule::Any,
        ),
        TensorSpec::fixed(
            "multiplier",
            ParamKind::Multiplier,
            Dtype::I32,
            Shape::vector(n),
            Rule::Multiplier,
        ),
        TensorSpec::fixed(
            "shift",
            ParamKind::Exponent,
            Dtype::I32,
            Shape::vector(n),
            Rule::Exponent,
        ),
    ]
}

conv_impl!(impl[S: Store] (Primitive for QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P, S>) {
    const SPEC: LayerSpec = {
        let () = Self::CHECK;
        let [bias, multiplier, shift] = channel_tensors(K);
        LayerSpec {
            kind: "qconv2d",
            input: Shape::rank3(H, W, C),
            output: Shape::rank3(OH, OW, K),
            tensors: &[
                TensorSpec::fixed(
                    "weight",
                    ParamKind::Weight,
                    Dtype::I8,
                    Shape::rank4(K, KH, KW, C),
                    Rule::Any,
                ),
                bias,
                multiplier,
                shift,
            ],
            attrs: &conv_attrs::<9>(&Self::GEOMETRY),
            ordered: &[(4, 5)],
            int8_io: true,
        }
    };
});

conv_impl!(impl[S: Store] (LayerData for QConv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P, S>) {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::quant::QConv2d::from_parts"
    }
    fn tensor(&self, i: usize) -> Option<TensorRef<'_>> {
        Some(match i {
            0 => TensorRef::I8(self.weight.borrow().as_flattened().as_flattened().as_flattened()),
            1 => TensorRef::I32(self.bias.borrow()),
            2 => TensorRef::I32(self.multiplier.borrow()),
            3 => TensorRef::I32(self.shift.borrow()),
            _ => return None,
        })
    }
    fn tensor_mut(&mut self, i: usize) -> Option<TensorMut<'_>> {
        Some(match i {
            0 => TensorMut::I8(
                S::filters_mut(&mut self.weight)?
                    .as_flattened_mut()
                    .as_flattened_mut()
                    .as_flattened_mut(),
            ),
            1 => TensorMut::I32(S::array_mut(&mut self.bias)?),
            2 => TensorMut::I32(S::array_mut(&mut self.multiplier)?),
            3 => TensorMut::I32(S::array_mut(&mut self.shift)?),
            _ => return None,
        })
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        io_attr(self.input, self.output, i)
            .or_else(|| window_attr(self.min, self.max, &Self::GEOMETRY, i))
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        if i < 4 {
            return set_io_attr(&mut self.input, &mut self.output, i, value);
        }
        set_window_attr(&mut self.min, &mut self.max, &Self::GEOMETRY, i, value)
    }
});

// ---------------------------------------------------------------------------------------
// QDepthwiseConv2d

/// A depthwise 2-D convolution in int8 with depth multiplier 1 (see the
/// [module docs](self)): input `[[[i8; C]; W]; H]`, output `[[[i8; C]; OW]; OH]`, channel
/// `c` of the output the convolution of channel `c` of the input with its own `KH × KW`
/// filter, moved by `STRIDE`, padded as `P` says.
///
/// `OH` and `OW` are checked as [`QConv2d`]'s. Weights `[KH][KW][C]` (TensorFlow Lite's
/// `[1, KH, KW, C]`), symmetric per channel, and per-channel arrays as in
/// [`QDense`](super::QDense).
pub struct QDepthwiseConv2d<
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize = 1,
    P: Padding = Same,
    S: Store = Owned,
> {
    /// Weights, symmetric per channel: `w[ky][kx][c] = s_w[c]·q`.
    pub weight: S::Array<[[i8; C]; KW], KH>,
    /// Per channel: `round(b/(s_in·s_w[c])) − z_in·Σ_{ky,kx} q[ky][kx][c]`.
    pub bias: S::Array<i32, C>,
    /// Per channel: Q31 multiplier of `s_in·s_w[c]/s_out`, in `[2³⁰, 2³¹)`.
    pub multiplier: S::Array<i32, C>,
    /// Per channel: power-of-two exponent of `s_in·s_w[c]/s_out`.
    pub shift: S::Array<i32, C>,
    /// Quantization of the input.
    pub input: QParams,
    /// Quantization of the output.
    pub output: QParams,
    /// Smallest output: −128, or the output zero point when a ReLU is fused.
    pub min: i8,
    /// Largest output: 127, or the image of 6 when a ReLU6 is fused.
    pub max: i8,
    _padding: PhantomData<fn() -> P>,
}

/// Writes the generic parameter list of a depthwise convolution type once.
macro_rules! depthwise_impl {
    ($(#[$m:meta])* impl $(<$lt:lifetime>)? [$($extra:tt)*] ($($head:tt)*) $body:tt) => {
        $(#[$m])*
        impl<
            $($lt,)?
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
            $($extra)*
        > $($head)* $body
    };
}

depthwise_impl!(impl[S: Store] (Clone for QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P, S>) {
    fn clone(&self) -> Self {
        QDepthwiseConv2d {
            weight: self.weight.clone(),
            bias: self.bias.clone(),
            multiplier: self.multiplier.clone(),
            shift: self.shift.clone(),
            input: self.input,
            output: self.output,
            min: self.min,
            max: self.max,
            _padding: PhantomData,
        }
    }
});

depthwise_impl!(impl[S: Store] (PartialEq for QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P, S>) {
    fn eq(&self, other: &Self) -> bool {
        self.weight == other.weight
            && self.bias == other.bias
            && self.multiplier == other.multiplier
            && self.shift == other.shift
            && (self.input, self.output, self.min, self.max)
                == (other.input, other.output, other.min, other.max)
    }
});

depthwise_impl!(impl[S: Store] (core::fmt::Debug for QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P, S>) {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QDepthwiseConv2d")
            .field("weight", &self.weight)
            .field("bias", &self.bias)
            .field("multiplier", &self.multiplier)
            .field("shift", &self.shift)
            .field("input", &self.input)
            .field("output", &self.output)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("stride", &STRIDE)
            .field("same", &P::SAME)
            .finish()
    }
});

depthwise_impl!(impl[S: Store] (QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P, S>) {
    /// The padding before the first row (TensorFlow Lite's rule, [`Padding`]).
    pub const PAD_TOP: usize = pad_before(H, KH, STRIDE, P::SAME);
    /// The padding before the first column.
    pub const PAD_LEFT: usize = pad_before(W, KW, STRIDE, P::SAME);

    const ROWS: Window = Window::new(H, KH, STRIDE, P::SAME);
    const COLS: Window = Window::new(W, KW, STRIDE, P::SAME);
    const GEOMETRY: [usize; 3] = [STRIDE, Self::PAD_TOP, Self::PAD_LEFT];

    /// The compile-time checks of the sizes.
    const CHECK: () = {
        assert!(
            H > 0 && W > 0 && C > 0 && KH > 0 && KW > 0,
            "QDepthwiseConv2d: every size must be at least 1"
        );
        assert!(STRIDE > 0, "QDepthwiseConv2d: STRIDE must be at least 1");
        assert!(
            P::SAME || (KH <= H && KW <= W),
            "QDepthwiseConv2d: with VALID padding the kernel must fit in the input"
        );
        assert!(
            OH == output_size(H, KH, STRIDE, P::SAME),
            "QDepthwiseConv2d: OH is not the output height that H, KH, STRIDE and the padding give"
        );
        assert!(
            OW == output_size(W, KW, STRIDE, P::SAME),
            "QDepthwiseConv2d: OW is not the output width that W, KW, STRIDE and the padding give"
        );
        assert!(
            KH * KW <= kernels::MAX_INPUTS,
            "QDepthwiseConv2d: windows of more than 65536 taps could overflow the int32 sums"
        );
    };

    /// Inference by the reference loops: for each output pixel and channel, the bias plus the window's
    /// products in `i32` (taps outside the input read as the input zero point), then the
    /// channel's requantization. Cannot panic.
    pub fn forward_reference(&self, x: &[[[i8; C]; W]; H], y: &mut [[[i8; C]; OW]; OH]) {
        let () = Self::CHECK;
        let weight: &[[[i8; C]; KW]; KH] = self.weight.borrow();
        let bias: &[i32; C] = self.bias.borrow();
        let rq = self.requant();
        let z = i32::from(self.input.zero_point.clamp(-128, 127) as i8);
        for (oy, yrow) in y.iter_mut().enumerate() {
            let (ys, ye, iy) = Self::ROWS.taps(oy);
            for (ox, out) in yrow.iter_mut().enumerate() {
                let (xs, xe, ix) = Self::COLS.taps(ox);
                for (c, (o, &b)) in out.iter_mut().zip(bias).enumerate() {
                    let mut acc = b;
                    for (ky, taps) in weight.iter().enumerate() {
                        let row = if (ys..ye).contains(&ky) {
                            x.get(iy + ky - ys)
                        } else {
                            None
                        };
                        for (kx, tap) in taps.iter().enumerate() {
                            let v = if (xs..xe).contains(&kx) {
                                row.and_then(|r| r.get(ix + kx - xs))
                                    .and_then(|p| p.get(c))
                                    .map_or(z, |&v| i32::from(v))
                            } else {
                                z
                            };
                            let w = tap.get(c).map_or(0, |&w| i32::from(w));
                            acc = acc.wrapping_add(w * v);
                        }
                    }
                    *o = rq.output(c, acc);
                }
            }
        }
    }

    /// Inference on the Cortex-M4/M7 DSP path ([`packed::depthwise_words`],
    /// [`packed::depthwise_pixel`]), which runs on every target (off the M4 with portable
    /// twins of its instructions), so that tests can hold it to the reference: the filters
    /// widened once per call into `scratch` as (tap, next tap) 16-bit pairs per channel,
    /// then per four channels one `SMLAD` per pair of taps and channel. When `C` is a
    /// multiple of 4, the input 4-byte aligned and the window of at most
    /// [`packed::MAX_TAPS`] taps, each output pixel's taps are slices of the input's words
    /// (a padding tap the words of a pixel of zero points in `scratch`, so border pixels run
    /// the same loop); otherwise the byte offset of each tap's input pixel (padding taps
    /// marked [`packed::OUTSIDE`] and read as the input zero point), four bytes at a time.
    /// A 3×3 window over channels in words takes, when the requantization allows it, the
    /// path on doubled sums of [`small`] instead (three padded input rows in `scratch`,
    /// every tap at a constant offset).
    /// A 3×3 window at stride 1 or 2 reads instead rows widened to 16-bit pairs of
    /// neighbouring columns, so one `SMLAD` multiplies two taps of a channel.
    /// `scratch` needs the layer's footprint (about `2·KH·KW·C + 53·C + (KH + 3)·W·C +
    /// 10·KH·KW + 26` bytes); with less, [`forward_reference`](Self::forward_reference) computes
    /// instead. The same bits as the reference. Cannot panic.
    pub fn forward_packed(
        &self,
        x: &[[[i8; C]; W]; H],
        y: &mut [[[i8; C]; OW]; OH],
        scratch: &mut [i8],
    ) {
        let () = Self::CHECK;
        if KH == 3
            && KW == 3
            && C.is_multiple_of(4)
            && (self.forward_3x3_pairs(x, y, scratch) || self.forward_3x3(x, y, scratch))
        {
            return;
        }
        let taps = KH * KW;
        let pairs = taps.div_ceil(2);
        let groups = C.div_ceil(4);
        let bytes = x.as_flattened().as_flattened();
        let at = scratch.as_ptr().align_offset(4);
        let words = packed::as_words_mut(scratch.get_mut(at..).unwrap_or_default());
        let room = words.split_at_mut_checked(4 * groups * pairs);
        let (Some((wide, rest)), true) = (room, bytes.len() < (packed::OUTSIDE / 2) as usize)
        else {
            self.forward_reference(x, y);
            return;
        };
        let Some((idx, pad)) = rest.split_at_mut_checked(2 * pairs) else {
            self.forward_reference(x, y);
            return;
        };
        packed::widen_depthwise(self.weight.borrow().as_flattened().as_flattened(), C, wide);
        let rq = self.requant();
        let z = packed::splat(self.input.zero_point.clamp(-128, 127) as i8);
        let aligned = packed::as_words(bytes).filter(|_| C.is_multiple_of(4));
        if let (Some(xw), Some(pad)) = (aligned, pad.get_mut(..C / 4))
            && 2 * pairs <= packed::MAX_TAPS
        {
            // Each tap's pixel as a slice of words (the padding pixel outside).
            pad.fill(z);
            let pad: &[u32] = pad;
            let short = packed::short_path(&rq);
            let mut slices = [pad; packed::MAX_TAPS];
            let taps_of = slices.get_mut(..2 * pairs).unwrap_or_default();
            for (oy, yrow) in y.iter_mut().enumerate() {
                let (ys, ye, iy) = Self::ROWS.taps(oy);
                for (ox, out) in yrow.iter_mut().enumerate() {
                    let (xs, xe, ix) = Self::COLS.taps(ox);
                    // Taps past the window (an odd last one) stay the padding.
                    for (ky, row) in taps_of.chunks_mut(KW).take(KH).enumerate() {
                        let inside = (ys..ye).contains(&ky);
                        let start = (iy + ky).wrapping_sub(ys).wrapping_mul(W).wrapping_add(ix);
                        for (kx, s) in row.iter_mut().enumerate() {
                            *s = if inside && (xs..xe).contains(&kx) {
                                let at = (start + kx - xs) * (C / 4);
                                xw.get(at..at + C / 4).unwrap_or(pad)
                            } else {
                                pad
                            };
                        }
                    }
                    packed::depthwise_words(taps_of, wide, &rq, short, out);
                }
            }
            return;
        }
        // Where each tap's pixel starts, in words of the input or in bytes.
        let unit = if aligned.is_some() { C / 4 } else { C };
        for (oy, yrow) in y.iter_mut().enumerate() {
            let (ys, ye, iy) = Self::ROWS.taps(oy);
            for (ox, out) in yrow.iter_mut().enumerate() {
                let (xs, xe, ix) = Self::COLS.taps(ox);
                for (t, i) in idx.iter_mut().enumerate() {
                    let (ky, kx) = (t / KW, t % KW);
                    *i = if t < taps && (ys..ye).contains(&ky) && (xs..xe).contains(&kx) {
                        (((iy + ky - ys) * W + ix + kx - xs) * unit) as u32
                    } else {
                        packed::OUTSIDE
                    };
                }
                match aligned {
                    Some(xw) => packed::depthwise_pixel(
                        |i, g| xw.get((i as usize).wrapping_add(g)).copied().unwrap_or(z),
                        idx,
                        wide,
                        &rq,
                        out,
                    ),
                    None => packed::depthwise_pixel(
                        |i, g| {
                            if i == packed::OUTSIDE {
                                return z;
                            }
                            let s = (i as usize).wrapping_add(4 * g);
                            match bytes.get(s..s.wrapping_add(4)) {
                                Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d].map(|v| v as u8)),
                                // The last pixel's last channels: the bytes past the input
                                // only feed outputs past the last channel.
                                _ => {
                                    let mut w = [0u8; 4];
                                    for (d, &v) in w.iter_mut().zip(bytes.get(s..).unwrap_or_default()) {
                                        *d = v as u8;
                                    }
                                    u32::from_le_bytes(w)
                                }
                            }
                        },
                        idx,
                        wide,
                        &rq,
                        out,
                    ),
                }
            }
        }
    }

    /// [`forward_packed`](Self::forward_packed) for a 3×3 window at stride 1 or 2, `C` a
    /// multiple of 4 and the input 4-byte aligned, when the layer's requantization allows
    /// sums doubled ([`small::Doubled::fits`]); `false`, with `y` untouched, otherwise.
    /// The filters and the requantization are widened once into one stream in `scratch`;
    /// each input row an output row reads is widened once into one of three rows in
    /// `scratch`, padded with the input zero point, as 16-bit pairs of neighbouring columns
    /// per channel ([`small::widen_row_pairs`]), and kept while the next output rows read
    /// it; then one `SMLAD` multiplies two taps of a channel
    /// ([`small::depthwise_pairs_row`]).
    #[inline(never)]
    fn forward_3x3_pairs(
        &self,
        x: &[[[i8; C]; W]; H],
        y: &mut [[[i8; C]; OW]; OH],
        scratch: &mut [i8],
    ) -> bool {
        if STRIDE > 2 || C > small::pairs_max_channels(STRIDE) {
            return false;
        }
        let rq = self.requant();
        let Some((d, xw, words)) = Self::doubled_parts(&rq, x, scratch) else {
            return false;
        };
        let cw = C / 4;
        let Some((stream, rest)) = words.split_at_mut_checked(C * small::PAIRS_CHANNEL) else {
            return false;
        };
        let (Some(slots), true) = (
            rest.get_mut(..3 * small::pairs_len(OW, STRIDE) * C),
            small::widen_depthwise_pairs(self.weight.borrow().as_flattened().as_flattened(), C, &rq, stream),
        ) else {
            return false;
        };
        let z = packed::splat(self.input.zero_point.clamp(-128, 127) as i8);
        let stream: &[u32] = stream;
        // The padded input row each slot holds (row `r` of the padded input lives in slot
        // `r % 3`, so the three rows of a window are in distinct slots).
        let mut held = [usize::MAX; 3];
        let words = y.as_ptr().align_offset(4) == 0;
        for (oy, yrow) in y.iter_mut().enumerate() {
            for ky in 0..3 {
                let r = oy * STRIDE + ky;
                let Some(h) = held.get_mut(r % 3) else {
                    return false;
                };
                if *h != r {
                    *h = r;
                    let src = r
                        .checked_sub(Self::PAD_TOP)
                        .filter(|&i| i < H)
                        .and_then(|iy| xw.get(iy * W * cw..(iy + 1) * W * cw))
                        .unwrap_or_default();
                    small::widen_row_pairs(src, C, Self::PAD_LEFT, z, r % 3, slots);
                }
            }
            let slots: &[u32] = slots;
            let yb = yrow.as_flattened_mut();
            if words {
                // Rows of whole words (`C` a multiple of 4): each four outputs one store.
                let yw = packed::as_words_mut(yb);
                let put = |i: usize, v| {
                    if let Some(o) = yw.get_mut(i) {
                        *o = v;
                    }
                };
                Self::pairs_row(oy, slots, stream, d, put);
            } else {
                let put = |i, v| small::put_bytes(yb, i, v);
                Self::pairs_row(oy, slots, stream, d, put);
            }
        }
        true
    }

    /// What both 3×3 paths on doubled sums need: the layer's [`small::Doubled`] (`None`
    /// if its requantization does not allow it), the input as words (`None` unless 4-byte
    /// aligned) and the 4-byte aligned part of `scratch` as words.
    #[inline(always)]
    fn doubled_parts<'a>(
        rq: &Requant<'_>,
        x: &'a [[[i8; C]; W]; H],
        scratch: &'a mut [i8],
    ) -> Option<(small::Doubled, &'a [u32], &'a mut [u32])> {
        let d = small::Doubled::fits(rq, C, KH * KW)?;
        let xw = packed::as_words(x.as_flattened().as_flattened())?;
        let at = scratch.as_ptr().align_offset(4);
        let words = packed::as_words_mut(scratch.get_mut(at..).unwrap_or_default());
        Some((d, xw, words))
    }

    /// Output row `oy` of [`forward_3x3_pairs`](Self::forward_3x3_pairs): its window's
    /// rows are in slots `(oy·STRIDE + ky) % 3`.
    #[inline(always)]
    fn pairs_row(
        oy: usize,
        slots: &[u32],
        stream: &[u32],
        d: small::Doubled,
        put: impl FnMut(usize, u32),
    ) {
        match (STRIDE == 1, oy * STRIDE % 3) {
            (true, 0) => small::depthwise_pairs_row::<C, 1, 0>(slots, stream, d, OW, put),
            (true, 1) => small::depthwise_pairs_row::<C, 1, 1>(slots, stream, d, OW, put),
            (true, _) => small::depthwise_pairs_row::<C, 1, 2>(slots, stream, d, OW, put),
            (false, 0) => small::depthwise_pairs_row::<C, 2, 0>(slots, stream, d, OW, put),
            (false, 1) => small::depthwise_pairs_row::<C, 2, 1>(slots, stream, d, OW, put),
            (false, _) => small::depthwise_pairs_row::<C, 2, 2>(slots, stream, d, OW, put),
        }
    }

    /// [`forward_packed`](Self::forward_packed) for a 3×3 window, `C` a multiple of 4 and
    /// the input 4-byte aligned, when the layer's requantization allows sums doubled
    /// ([`small::Doubled::fits`]); `false`, with `y` untouched, otherwise. The filters and
    /// the requantization are widened once into one stream in `scratch`; for each output
    /// row the three input rows it reads are copied into `scratch`, padded with the input
    /// zero point, so every output pixel, at the border too, reads its nine taps at
    /// constant offsets ([`small::depthwise_3x3_row`]).
    #[inline(never)]
    fn forward_3x3(
        &self,
        x: &[[[i8; C]; W]; H],
        y: &mut [[[i8; C]; OW]; OH],
        scratch: &mut [i8],
    ) -> bool {
        let rq = self.requant();
        let Some((d, xw, words)) = Self::doubled_parts(&rq, x, scratch) else {
            return false;
        };
        let cw = C / 4;
        let row = ((OW - 1) * STRIDE + KW) * cw;
        let Some((stream, rest)) = words.split_at_mut_checked(cw * small::DEPTHWISE_GROUP)
        else {
            return false;
        };
        let (Some(rows), true) = (
            rest.get_mut(..3 * row),
            small::widen_depthwise_3x3(self.weight.borrow().as_flattened().as_flattened(), C, &rq, stream),
        ) else {
            return false;
        };
        let z = packed::splat(self.input.zero_point.clamp(-128, 127) as i8);
        let left = (Self::PAD_LEFT * cw).min(row);
        let words = y.as_ptr().align_offset(4) == 0;
        for (oy, yrow) in y.iter_mut().enumerate() {
            for (ky, r) in rows.chunks_exact_mut(row).enumerate() {
                let iy = (oy * STRIDE + ky).checked_sub(Self::PAD_TOP).filter(|&i| i < H);
                let src = iy.and_then(|iy| xw.get(iy * W * cw..(iy + 1) * W * cw));
                let Some(src) = src else {
                    r.fill(z);
                    continue;
                };
                let (before, inside) = r.split_at_mut(left);
                before.fill(z);
                let n = inside.len().min(src.len());
                let (inside, after) = inside.split_at_mut(n);
                inside.copy_from_slice(src.get(..n).unwrap_or_default());
                after.fill(z);
            }
            let yb = yrow.as_flattened_mut();
            if words {
                // Rows of whole words (`C` a multiple of 4): each four outputs one store.
                let yw = packed::as_words_mut(yb);
                let put = |i: usize, v| {
                    if let Some(o) = yw.get_mut(i) {
                        *o = v;
                    }
                };
                small::depthwise_3x3_row(rows, row, cw, STRIDE, stream, d, OW, put);
            } else {
                let put = |i, v| small::put_bytes(yb, i, v);
                small::depthwise_3x3_row(rows, row, cw, STRIDE, stream, d, OW, put);
            }
        }
        true
    }

    /// The requantization parameters, one entry per channel.
    #[inline]
    pub fn requant(&self) -> Requant<'_> {
        Requant {
            bias: self.bias.borrow(),
            multiplier: self.multiplier.borrow(),
            shift: self.shift.borrow(),
            zero_point: self.output.zero_point,
            min: self.min,
            max: self.max,
        }
    }

    /// The conversion that makes this layer's arrays from float weights, biases, a batch
    /// normalization to fold and the activation to fuse; its `write` fills them in place.
    pub fn conversion<'a>(
        weight: &'a [[[f32; C]; KW]; KH],
        bias: &'a [f32; C],
        bn: Option<BnFold<'a>>,
        clamp: Clamp,
        input: QParams,
        output: QParams,
    ) -> DepthwiseConversion<'a> {
        DepthwiseConversion {
            weight: weight.as_flattened().as_flattened(),
            bias,
            fold: bn,
            input,
            output,
            clamp,
        }
    }
});

depthwise_impl!(impl[] (QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>) {
    /// All zero (outputs the zero point 0); usable in `const` and `static` items. Its
    /// multipliers are 0, which no file may hold: convert or load before use.
    pub const ZERO: Self = {
        let () = Self::CHECK;
        QDepthwiseConv2d {
            weight: [[[0; C]; KW]; KH],
            bias: [0; C],
            multiplier: [0; C],
            shift: [0; C],
            input: QParams::UNIT,
            output: QParams::UNIT,
            min: -128,
            max: 127,
            _padding: PhantomData,
        }
    };

    /// The layer with these values, in spec order (the constructor of Rust source written
    /// by [`format::rust_source`](crate::format::rust_source)).
    ///
    /// # Panics
    /// If `stride`, `pad_top` or `pad_left` are not the ones the type fixes — in a `const`
    /// or `static`, a compile error.
    #[allow(clippy::too_many_arguments)]
    pub const fn from_parts(
        weight: [[[i8; C]; KW]; KH],
        bias: [i32; C],
        multiplier: [i32; C],
        shift: [i32; C],
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        min: i32,
        max: i32,
        stride: i32,
        pad_top: i32,
        pad_left: i32,
    ) -> Self {
        let () = Self::CHECK;
        assert!(
            same_geometry([stride, pad_top, pad_left], Self::GEOMETRY),
            "QDepthwiseConv2d::from_parts: the stride or padding is not the type's"
        );
        QDepthwiseConv2d {
            weight,
            bias,
            multiplier,
            shift,
            input: QParams {
                scale: input_scale,
                zero_point: input_zero_point,
            },
            output: QParams {
                scale: output_scale,
                zero_point: output_zero_point,
            },
            min: bound(min),
            max: bound(max),
            _padding: PhantomData,
        }
    }

    /// The int8 twin of a float depthwise convolution with weights `weight` (`[KH][KW][C]`)
    /// and biases `bias`, followed by the batch normalization `bn` (folded in) and the
    /// activation `clamp` fuses, for inputs quantized with `input` and outputs with
    /// `output`: each channel's `KH·KW` weights quantized as a row of
    /// [`QDense::from_float`](super::QDense::from_float). The value is built on the stack.
    ///
    /// # Errors
    /// As [`DepthwiseConversion::write`].
    pub fn from_float(
        weight: &[[[f32; C]; KW]; KH],
        bias: &[f32; C],
        bn: Option<BnFold<'_>>,
        clamp: Clamp,
        input: QParams,
        output: QParams,
    ) -> Result<Self, QuantError> {
        let mut q = Self::ZERO;
        let conversion = Self::conversion(weight, bias, bn, clamp, input, output);
        let (min, max) = conversion.write(
            q.weight.as_flattened_mut().as_flattened_mut(),
            &mut q.bias,
            &mut q.multiplier,
            &mut q.shift,
        )?;
        (q.input, q.output, q.min, q.max) = (input, output, min, max);
        Ok(q)
    }
});

depthwise_impl!(impl[] (Zero for QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>) {
    const ZERO: Self = Self::ZERO;
});

depthwise_impl!(impl<'a> [] (QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P, Borrowed<'a>>) {
    /// The layer over arrays borrowed from a weight file.
    #[allow(clippy::too_many_arguments)]
    pub const fn borrowed(
        weight: &'a [[[i8; C]; KW]; KH],
        bias: &'a [i32; C],
        multiplier: &'a [i32; C],
        shift: &'a [i32; C],
        input: QParams,
        output: QParams,
        min: i8,
        max: i8,
    ) -> Self {
        QDepthwiseConv2d {
            weight,
            bias,
            multiplier,
            shift,
            input,
            output,
            min,
            max,
            _padding: PhantomData,
        }
    }
});

depthwise_impl!(impl[S: Store] (Infer for QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P, S>) {
    type Input = [[[i8; C]; W]; H];
    type Output = [[[i8; C]; OW]; OH];
    /// The input and output where they live, and room for the widened filters, the
    /// window's tap offsets and a pixel of padding
    /// ([`forward_packed`](QDepthwiseConv2d::forward_packed)).
    type Footprint<I: Place, O: Place> = Both<
        Mapping<I, O, Self::Input, Self::Output>,
        Both<
            Both<Patches<C, KH, KW>, [[i8; C]; 3]>,
            Both<
                Both<[[[i8; 10]; KW]; KH], [i8; 16]>,
                Both<
                    Both<[[[i8; C]; W]; KH], [[i8; C]; 16]>,
                    Both<[[[i8; C]; W]; 3], [[i8; C]; 34]>,
                >,
            >,
        >,
    >;

    /// On Cortex-M4/M7 with the [`Simd`](crate::kernels::Backend::Simd) backend,
    /// [`forward_packed`](QDepthwiseConv2d::forward_packed); elsewhere
    /// [`forward_reference`](QDepthwiseConv2d::forward_reference). The same bits either
    /// way.
    #[inline]
    fn forward_with(&self, x: &Self::Input, y: &mut Self::Output, scratch: &mut [i8]) {
        #[cfg(firmnet_arm_dsp)]
        if crate::kernels::backend() == crate::kernels::Backend::Simd {
            self.forward_packed(x, y, scratch);
            return;
        }
        let _ = scratch;
        self.forward_reference(x, y);
    }
});

depthwise_impl!(impl[S: Store] (QLayer for QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P, S>) {
    fn input_params(&self) -> QParams {
        self.input
    }
    fn output_params(&self) -> QParams {
        self.output
    }
});

depthwise_impl!(impl[S: Store] (Primitive for QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P, S>) {
    const SPEC: LayerSpec = {
        let () = Self::CHECK;
        let [bias, multiplier, shift] = channel_tensors(C);
        LayerSpec {
            kind: "qdepthwise_conv2d",
            input: Shape::rank3(H, W, C),
            output: Shape::rank3(OH, OW, C),
            tensors: &[
                TensorSpec::fixed(
                    "weight",
                    ParamKind::Weight,
                    Dtype::I8,
                    Shape::rank3(KH, KW, C),
                    Rule::Any,
                ),
                bias,
                multiplier,
                shift,
            ],
            attrs: &conv_attrs::<9>(&Self::GEOMETRY),
            ordered: &[(4, 5)],
            int8_io: true,
        }
    };
});

depthwise_impl!(impl[S: Store] (LayerData for QDepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P, S>) {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::quant::QDepthwiseConv2d::from_parts"
    }
    fn tensor(&self, i: usize) -> Option<TensorRef<'_>> {
        Some(match i {
            0 => TensorRef::I8(self.weight.borrow().as_flattened().as_flattened()),
            1 => TensorRef::I32(self.bias.borrow()),
            2 => TensorRef::I32(self.multiplier.borrow()),
            3 => TensorRef::I32(self.shift.borrow()),
            _ => return None,
        })
    }
    fn tensor_mut(&mut self, i: usize) -> Option<TensorMut<'_>> {
        Some(match i {
            0 => TensorMut::I8(
                S::array_mut(&mut self.weight)?
                    .as_flattened_mut()
                    .as_flattened_mut(),
            ),
            1 => TensorMut::I32(S::array_mut(&mut self.bias)?),
            2 => TensorMut::I32(S::array_mut(&mut self.multiplier)?),
            3 => TensorMut::I32(S::array_mut(&mut self.shift)?),
            _ => return None,
        })
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        io_attr(self.input, self.output, i)
            .or_else(|| window_attr(self.min, self.max, &Self::GEOMETRY, i))
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        if i < 4 {
            return set_io_attr(&mut self.input, &mut self.output, i, value);
        }
        set_window_attr(&mut self.min, &mut self.max, &Self::GEOMETRY, i, value)
    }
});

// ---------------------------------------------------------------------------------------
// The depthwise conversion

/// Everything that makes one int8 depthwise convolution from float values: the weights
/// (`KH·KW` taps of `C` channels, channels fastest: `[KH][KW][C]` flattened), the biases,
/// the batch normalization to fold, the quantization of input and output and the fused
/// activation. Channel `c`'s weights are the taps `weight[t·C + c]`; each channel is
/// quantized exactly as a row of a [`DenseConversion`] (symmetric to `[−127, 127]`, the
/// bias at `s_in·s_w[c]` with the input zero point folded in, the Q31 multiplier of
/// `s_in·s_w[c]/s_out`).
#[derive(Clone, Copy, Debug)]
pub struct DepthwiseConversion<'a> {
    /// Float weights, `taps × channels`, channels fastest.
    pub weight: &'a [f32],
    /// Float biases, one per channel.
    pub bias: &'a [f32],
    /// The batch normalization after the layer, folded in.
    pub fold: Option<BnFold<'a>>,
    /// Quantization of the input.
    pub input: QParams,
    /// Quantization of the output.
    pub output: QParams,
    /// The activation fused into the clamp.
    pub clamp: Clamp,
}

impl DepthwiseConversion<'_> {
    /// Checks everything the conversion needs and returns the clamp bounds; nothing is
    /// written.
    ///
    /// # Errors
    /// As [`DenseConversion::check`], for each channel.
    pub fn check(&self) -> Result<(i8, i8), QuantError> {
        if !self.input.is_valid() {
            return Err(QuantError::InvalidParams { which: "input" });
        }
        if !self.output.is_valid() {
            return Err(QuantError::InvalidParams { which: "output" });
        }
        let channels = self.bias.len();
        if channels == 0
            || !self.weight.len().is_multiple_of(channels)
            || self.weight.len() / channels > kernels::MAX_INPUTS
            || self.fold.is_some_and(|f| f.gamma.len() != channels)
        {
            return Err(QuantError::Shape);
        }
        for c in 0..channels {
            self.channel(c)?;
        }
        Ok(self.clamp.bounds(self.output))
    }

    /// Writes tensor `i` of the int8 layer, in the order of `qdepthwise_conv2d`'s spec: 0
    /// the int8 weights, 1 the int32 biases, 2 the multipliers, 3 the shifts. Call
    /// [`check`](Self::check) first.
    ///
    /// # Errors
    /// [`QuantError::Shape`] if `out` is not that tensor (type or length); as
    /// [`check`](Self::check) for a channel.
    pub fn fill(&self, i: usize, out: TensorMut<'_>) -> Result<(), QuantError> {
        let channels = self.bias.len();
        match (i, out) {
            (0, TensorMut::I8(w)) if w.len() == self.weight.len() && channels > 0 => {
                for c in 0..channels {
                    let ch = self.channel(c)?;
                    let taps = w.iter_mut().zip(self.weight).skip(c).step_by(channels);
                    for (q, &v) in taps {
                        *q = ch.quantize(v);
                    }
                }
            }
            (1..=3, TensorMut::I32(v)) if v.len() == channels => {
                for (c, d) in v.iter_mut().enumerate() {
                    let ch = self.channel(c)?;
                    *d = match i {
                        1 => ch.bias,
                        2 => ch.multiplier,
                        _ => ch.shift,
                    };
                }
            }
            _ => return Err(QuantError::Shape),
        }
        Ok(())
    }

    /// [`check`](Self::check), then every [`fill`](Self::fill); returns the clamp bounds.
    /// Nothing is written if a check fails.
    ///
    /// # Errors
    /// As [`check`](Self::check), and [`QuantError::Shape`] for slices of other sizes.
    pub fn write(
        &self,
        weight: &mut [i8],
        bias: &mut [i32],
        multiplier: &mut [i32],
        shift: &mut [i32],
    ) -> Result<(i8, i8), QuantError> {
        let bounds = self.check()?;
        let channels = self.bias.len();
        if weight.len() != self.weight.len()
            || [bias.len(), multiplier.len(), shift.len()] != [channels; 3]
        {
            return Err(QuantError::Shape);
        }
        self.fill(0, TensorMut::I8(weight))?;
        self.fill(1, TensorMut::I32(bias))?;
        self.fill(2, TensorMut::I32(multiplier))?;
        self.fill(3, TensorMut::I32(shift))?;
        Ok(bounds)
    }

    /// Channel `c`, checked: the rules of a dense layer's row.
    fn channel(&self, c: usize) -> Result<Channel, QuantError> {
        let channels = self.bias.len();
        if c >= channels {
            return Err(QuantError::Shape);
        }
        let (k, shift_c) = self.fold.map_or((1.0, 0.0), |f| f.affine(c));
        if !(k.is_finite() && shift_c.is_finite()) {
            return Err(QuantError::NonFinite {
                what: "batch normalization",
                channel: c,
            });
        }
        let taps = || self.weight.iter().skip(c).step_by(channels);
        let mut amax = 0.0f64;
        for &w in taps() {
            let v = k * f64::from(w);
            if !v.is_finite() {
                return Err(QuantError::NonFinite {
                    what: "weight",
                    channel: c,
                });
            }
            amax = amax.max(libm::fabs(v));
        }
        let scale = if amax > 0.0 { amax / 127.0 } else { 1.0 };
        let b = k * f64::from(self.bias.get(c).copied().unwrap_or(0.0)) + shift_c;
        if !b.is_finite() {
            return Err(QuantError::NonFinite {
                what: "bias",
                channel: c,
            });
        }
        let mut ch = Channel {
            k,
            scale,
            bias: 0,
            multiplier: 0,
            shift: 0,
        };
        let sum: i64 = taps().map(|&w| i64::from(ch.quantize(w))).sum();
        let s_in = f64::from(self.input.scale);
        let bias =
            libm::round(b / (s_in * scale)) - (i64::from(self.input.zero_point) * sum) as f64;
        if bias.is_nan() || bias.abs() > (1u32 << 30) as f64 {
            return Err(QuantError::BiasOverflow { channel: c });
        }
        ch.bias = bias as i32;
        let real = s_in * scale / f64::from(self.output.scale);
        (ch.multiplier, ch.shift) = quantize_multiplier(real);
        // Below 2^-32 the multiplier flushes to 0; from 2^30 on it saturates.
        if ch.multiplier < 1 << 30 || real >= (1u32 << 30) as f64 {
            return Err(QuantError::Multiplier { channel: c });
        }
        Ok(ch)
    }
}

/// One channel of a depthwise convolution with batch normalization folded in:
/// `y = k·(w·x + b) + c`, its weight scale, int32 bias and requantization.
struct Channel {
    k: f64,
    scale: f64,
    bias: i32,
    multiplier: i32,
    shift: i32,
}

impl Channel {
    /// The int8 weight of float weight `w`.
    fn quantize(&self, w: f32) -> i8 {
        libm::round(self.k * f64::from(w) / self.scale).clamp(-127.0, 127.0) as i8
    }
}
