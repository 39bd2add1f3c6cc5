//! Int8 pooling and flattening with TensorFlow Lite's integer semantics: [`QMaxPool2d`],
//! [`QAvgPool2d`], [`QGlobalAvgPool`] and [`QFlatten`].
//!
//! Feature maps are channels-last (`[[[i8; C]; W]; H]`), windows placed as the
//! convolutions place them ([`Padding`]; pools default to [`Valid`]). A pool does not
//! rescale: its output is quantized as its input, as TensorFlow Lite requires of pools, so
//! the constructors refuse other output parameters ([`QuantError::SameParams`]). With `z`
//! the shared zero point and the window's taps inside the input only (padding is never
//! read):
//!
//! ```text
//! max pool:        y = clamp(max_{inside} x, min, max)
//! average pool:    s = Σ_{inside} x,  n = number of taps inside (≥ 1)
//!                  y = clamp(s > 0 ? (s + n/2)/n : (s − n/2)/n, min, max)   (division truncating)
//! global average:  the average pool with one H × W window (n = H·W)
//! flatten:         y = x, HWC order, in place
//! ```
//!
//! These are `reference_integer_ops::MaxPool` and `AveragePool`: the average rounds half
//! away from zero and counts only the taps inside the input (so a corner of a `SAME`
//! window averages fewer values). The sums of values of the same zero point need no
//! offset: `Σ (x − z)/n + z` and `Σ x/n` are the same real number. The clamp is where a
//! ReLU after the pool fuses ([`Clamp`]). (TensorFlow Lite's `MEAN`, which its converter
//! makes of Keras' `GlobalAveragePooling2D`, rounds `Σ (x − z)/n` instead, so its ties can
//! round the other way; [`QGlobalAvgPool`] is `AVERAGE_POOL_2D` over the whole map.)
//!
//! ```
//! use firmnet::layers::Valid;
//! use firmnet::quant::{Clamp, QAvgPool2d, QParams};
//! use firmnet::prelude::*;
//!
//! let p = QParams::from_range(-1.0, 1.0);
//! let pool = QAvgPool2d::<2, 2, 1, 2, 2, 1, 1, 2, Valid>::new(p, p, Clamp::None)?;
//! let mut y = [[[0i8; 1]; 1]; 1];
//! pool.forward_with(&[[[1], [2]], [[3], [5]]], &mut y, &mut []);
//! assert_eq!(y[0][0][0], 3); // 11/4 = 2.75 → 3
//! pool.forward_with(&[[[-1], [-2]], [[-3], [-4]]], &mut y, &mut []);
//! assert_eq!(y[0][0][0], -3); // −10/4 = −2.5 → −3, away from zero
//! # Ok::<(), firmnet::quant::QuantError>(())
//! ```

use core::marker::PhantomData;

use super::conv::{
    CLAMP_ATTRS, Window, bound, conv_attrs, same_geometry, set_window_attr, window_attr,
};
use super::dense::{Clamp, IO_ATTRS};
use super::kernels::packed;
use super::store::{Owned, Store};
use super::{QLayer, QParams, QuantError};
use crate::arena::{InPlace, Mapping, Place};
use crate::layers::{Padding, Valid, output_size, pad_before};
use crate::net::Infer;
use crate::spec::{Attr, LayerData, LayerSpec, Primitive, TensorMut, TensorRef};
use crate::tensor::{Shape, Zero, copy};

/// The parameters of a pool, checked: the input's, valid, and the output's the same.
fn pool_params(
    kind: &'static str,
    input: QParams,
    output: QParams,
    clamp: Clamp,
) -> Result<(QParams, i8, i8), QuantError> {
    if !input.is_valid() {
        return Err(QuantError::InvalidParams { which: "input" });
    }
    if output != input {
        return Err(QuantError::SameParams { kind });
    }
    let (min, max) = clamp.bounds(input);
    Ok((input, min, max))
}

/// Whether `scale` and `zero_point` are `params`, bit for bit (usable in `const`).
const fn same_params(params: QParams, scale: f32, zero_point: i32) -> bool {
    params.scale.to_bits() == scale.to_bits() && params.zero_point == zero_point
}

/// Attribute `i < 4` of a layer that keeps its input quantization.
fn kept_attr(params: QParams, i: usize) -> Option<Attr> {
    Some(match i {
        0 | 2 => Attr::F32(params.scale),
        1 | 3 => Attr::I32(params.zero_point),
        _ => return None,
    })
}

/// Sets attribute `i < 4` of a layer that keeps its input quantization: the input's are
/// set, the output's only accepted (`true`) if they are the input's.
fn set_kept_attr(params: &mut QParams, i: usize, value: Attr) -> bool {
    match (i, value) {
        (0, Attr::F32(v)) => params.scale = v,
        (1, Attr::I32(v)) => params.zero_point = v,
        (2, Attr::F32(v)) => return v.to_bits() == params.scale.to_bits(),
        (3, Attr::I32(v)) => return v == params.zero_point,
        _ => return false,
    }
    true
}

/// A windowed pool: the struct, its constructors, checks and description; the computation
/// is written beside each.
macro_rules! window_pool {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $ctor:literal) => {
        $(#[$doc])*
        pub struct $name<
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding = Valid,
            S: Store = Owned,
        > {
            /// Quantization of the input, and of the output (the same).
            pub params: QParams,
            /// Smallest output: −128, or the zero point when a ReLU is fused.
            pub min: i8,
            /// Largest output: 127, or the image of 6 when a ReLU6 is fused.
            pub max: i8,
            _marker: PhantomData<fn() -> (P, S)>,
        }

        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
            S: Store,
        > $name<H, W, C, KH, KW, OH, OW, STRIDE, P, S>
        {
            /// The padding before the first row (TensorFlow Lite's rule, [`Padding`]).
            pub const PAD_TOP: usize = pad_before(H, KH, STRIDE, P::SAME);
            /// The padding before the first column.
            pub const PAD_LEFT: usize = pad_before(W, KW, STRIDE, P::SAME);

            const ROWS: Window = Window::new(H, KH, STRIDE, P::SAME);
            const COLS: Window = Window::new(W, KW, STRIDE, P::SAME);
            /// Stride, padding before the first row and column, window height and width.
            const GEOMETRY: [usize; 5] = [STRIDE, Self::PAD_TOP, Self::PAD_LEFT, KH, KW];

            /// The compile-time checks of the sizes.
            const CHECK: () = {
                assert!(
                    H > 0 && W > 0 && C > 0 && KH > 0 && KW > 0,
                    concat!(stringify!($name), ": every size must be at least 1")
                );
                assert!(STRIDE > 0, concat!(stringify!($name), ": STRIDE must be at least 1"));
                assert!(
                    P::SAME || (KH <= H && KW <= W),
                    concat!(stringify!($name), ": with VALID padding the window must fit in the input")
                );
                assert!(
                    OH == output_size(H, KH, STRIDE, P::SAME),
                    concat!(stringify!($name), ": OH is not the output height that H, KH, STRIDE and the padding give")
                );
                assert!(
                    OW == output_size(W, KW, STRIDE, P::SAME),
                    concat!(stringify!($name), ": OW is not the output width that W, KW, STRIDE and the padding give")
                );
                assert!(
                    KH * KW <= 1 << 24,
                    concat!(stringify!($name), ": windows of more than 2^24 taps could overflow the int32 sums")
                );
            };

            /// Unit quantization, no clamp; usable in `const` and `static` items.
            pub const ZERO: Self = {
                let () = Self::CHECK;
                $name {
                    params: QParams::UNIT,
                    min: -128,
                    max: 127,
                    _marker: PhantomData,
                }
            };

            /// The pool for inputs quantized with `input`, whose outputs are quantized with
            /// `output` — which must be `input` — and clamped as `clamp` says (a ReLU after
            /// the pool).
            ///
            /// # Errors
            /// [`QuantError::InvalidParams`] for unusable `input`;
            /// [`QuantError::SameParams`] if `output` is not `input`.
            pub fn new(input: QParams, output: QParams, clamp: Clamp) -> Result<Self, QuantError> {
                let (params, min, max) = pool_params($kind, input, output, clamp)?;
                Ok($name {
                    params,
                    min,
                    max,
                    _marker: PhantomData,
                })
            }

            /// The layer with these attributes, in spec order (the constructor of Rust
            /// source written by [`format::rust_source`](crate::format::rust_source)).
            ///
            /// # Panics
            /// If the output quantization is not the input's, or the stride, padding or
            /// window not the type's — in a `const` or `static`, a compile error.
            #[allow(clippy::too_many_arguments)]
            pub const fn from_parts(
                input_scale: f32,
                input_zero_point: i32,
                output_scale: f32,
                output_zero_point: i32,
                min: i32,
                max: i32,
                stride: i32,
                pad_top: i32,
                pad_left: i32,
                pool_height: i32,
                pool_width: i32,
            ) -> Self {
                let () = Self::CHECK;
                let params = QParams {
                    scale: input_scale,
                    zero_point: input_zero_point,
                };
                assert!(
                    same_params(params, output_scale, output_zero_point),
                    concat!(stringify!($name), "::from_parts: the output quantization must be the input's")
                );
                assert!(
                    same_geometry([stride, pad_top, pad_left, pool_height, pool_width], Self::GEOMETRY),
                    concat!(stringify!($name), "::from_parts: the stride or padding (or the window) is not the type's")
                );
                $name {
                    params,
                    min: bound(min),
                    max: bound(max),
                    _marker: PhantomData,
                }
            }
        }

        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
            S: Store,
        > Zero for $name<H, W, C, KH, KW, OH, OW, STRIDE, P, S>
        {
            const ZERO: Self = Self::ZERO;
        }

        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
            S: Store,
        > Clone for $name<H, W, C, KH, KW, OH, OW, STRIDE, P, S>
        {
            fn clone(&self) -> Self {
                $name {
                    params: self.params,
                    min: self.min,
                    max: self.max,
                    _marker: PhantomData,
                }
            }
        }

        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
            S: Store,
        > PartialEq for $name<H, W, C, KH, KW, OH, OW, STRIDE, P, S>
        {
            fn eq(&self, other: &Self) -> bool {
                (self.params, self.min, self.max) == (other.params, other.min, other.max)
            }
        }

        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
            S: Store,
        > core::fmt::Debug for $name<H, W, C, KH, KW, OH, OW, STRIDE, P, S>
        {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("params", &self.params)
                    .field("min", &self.min)
                    .field("max", &self.max)
                    .field("stride", &STRIDE)
                    .field("same", &P::SAME)
                    .finish()
            }
        }

        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
            S: Store,
        > QLayer for $name<H, W, C, KH, KW, OH, OW, STRIDE, P, S>
        {
            fn input_params(&self) -> QParams {
                self.params
            }
            fn output_params(&self) -> QParams {
                self.params
            }
        }

        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
            S: Store,
        > Primitive for $name<H, W, C, KH, KW, OH, OW, STRIDE, P, S>
        {
            const SPEC: LayerSpec = {
                let () = Self::CHECK;
                LayerSpec {
                    kind: $kind,
                    input: Shape::rank3(H, W, C),
                    output: Shape::rank3(OH, OW, C),
                    tensors: &[],
                    attrs: &conv_attrs::<11>(&Self::GEOMETRY),
                    ordered: &[(4, 5)],
                    int8_io: true,
                }
            };
        }

        impl<
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
            S: Store,
        > LayerData for $name<H, W, C, KH, KW, OH, OW, STRIDE, P, S>
        {
            fn spec(&self) -> &'static LayerSpec {
                &Self::SPEC
            }
            fn ctor(&self) -> &'static str {
                $ctor
            }
            fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
                None
            }
            fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
                None
            }
            fn attr(&self, i: usize) -> Option<Attr> {
                kept_attr(self.params, i)
                    .or_else(|| window_attr(self.min, self.max, &Self::GEOMETRY, i))
            }
            fn set_attr(&mut self, i: usize, value: Attr) -> bool {
                if i < 4 {
                    return set_kept_attr(&mut self.params, i, value);
                }
                set_window_attr(&mut self.min, &mut self.max, &Self::GEOMETRY, i, value)
            }
        }
    };
}

window_pool!(
    /// Max pooling in int8: input `[[[i8; C]; W]; H]`, output `[[[i8; C]; OW]; OH]`, the
    /// largest value of each channel in `KH × KW` windows moved by `STRIDE`, padded as `P`
    /// says (padding is never the largest: only taps inside the input count), then
    /// clamped (see the [module docs](self)). `OH` and `OW` are checked when the layer is
    /// used, as a convolution's.
    QMaxPool2d,
    "qmax_pool2d",
    "firmnet::quant::QMaxPool2d::from_parts"
);

window_pool!(
    /// Average pooling in int8: input `[[[i8; C]; W]; H]`, output `[[[i8; C]; OW]; OH]`,
    /// the rounded average of each channel over the taps of `KH × KW` windows (moved by
    /// `STRIDE`, padded as `P` says) that fall inside the input, then clamped (see the
    /// [module docs](self)).
    QAvgPool2d,
    "qavg_pool2d",
    "firmnet::quant::QAvgPool2d::from_parts"
);

/// TensorFlow Lite's rounded division of a sum of `n ≥ 1` values: half away from zero.
#[inline]
fn rounded_average(sum: i32, n: i32) -> i32 {
    if n <= 0 {
        return 0;
    }
    if sum > 0 {
        (sum + n / 2) / n
    } else {
        (sum - n / 2) / n
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding,
    S: Store,
> Infer for QMaxPool2d<H, W, C, KH, KW, OH, OW, STRIDE, P, S>
{
    type Input = [[[i8; C]; W]; H];
    type Output = [[[i8; C]; OW]; OH];
    type Footprint<I: Place, O: Place> = Mapping<I, O, Self::Input, Self::Output>;

    /// For each output pixel: the channels' maxima over the input pixels of the window,
    /// pixel after pixel (contiguous), then the clamp. On Cortex-M4/M7 with the
    /// [`Simd`](crate::kernels::Backend::Simd) backend,
    /// [`forward_packed`](QMaxPool2d::forward_packed). Cannot panic.
    fn forward_with(&self, x: &Self::Input, y: &mut Self::Output, _: &mut [i8]) {
        let () = Self::CHECK;
        #[cfg(firmnet_arm_dsp)]
        if crate::kernels::backend() == crate::kernels::Backend::Simd {
            self.forward_packed(x, y);
            return;
        }
        self.forward_reference(x, y);
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding,
    S: Store,
> QMaxPool2d<H, W, C, KH, KW, OH, OW, STRIDE, P, S>
{
    /// Inference on the Cortex-M4/M7 DSP path, on every target (off the M4 with portable
    /// twins of its instructions): four channels per word, `SSUB8` + `SEL` for the maxima
    /// and the clamp ([`packed::max_words`]). Needs `C` a multiple of 4 and 4-byte aligned
    /// `x` and `y`; otherwise the reference loops. The same bits. Cannot panic.
    pub fn forward_packed(&self, x: &[[[i8; C]; W]; H], y: &mut [[[i8; C]; OW]; OH]) {
        let () = Self::CHECK;
        let aligned = (y.as_ptr() as usize).is_multiple_of(4);
        let xw = packed::as_words(x.as_flattened().as_flattened());
        let (Some(xw), true, 0) = (xw, aligned, C % 4) else {
            self.forward_reference(x, y);
            return;
        };
        let yw = packed::as_words_mut(y.as_flattened_mut().as_flattened_mut());
        let (lo, hi) = (packed::splat(self.min), packed::splat(self.max));
        let cw = C / 4;
        for (o, out) in yw.chunks_exact_mut(cw.max(1)).enumerate().take(OH * OW) {
            let (ys, ye, iy) = Self::ROWS.taps(o / OW);
            let (xs, xe, ix) = Self::COLS.taps(o % OW);
            let (rows, cols) = (ye - ys, xe - xs);
            let window =
                (0..rows * cols).map(|t| (iy + t / cols.max(1)) * W + ix + t % cols.max(1));
            packed::max_words(xw, cw, window, lo, hi, out);
        }
    }

    /// The reference loops of [`forward_with`](Infer::forward_with).
    fn forward_reference(&self, x: &[[[i8; C]; W]; H], y: &mut [[[i8; C]; OW]; OH]) {
        for (oy, yrow) in y.iter_mut().enumerate() {
            let (ys, ye, iy) = Self::ROWS.taps(oy);
            for (ox, out) in yrow.iter_mut().enumerate() {
                let (xs, xe, ix) = Self::COLS.taps(ox);
                out.fill(i8::MIN);
                let rows = x.iter().skip(iy).take(ye - ys);
                for pixel in rows.flat_map(|r| r.iter().skip(ix).take(xe - xs)) {
                    for (m, &v) in out.iter_mut().zip(pixel) {
                        *m = (*m).max(v);
                    }
                }
                for m in out.iter_mut() {
                    *m = (*m).max(self.min).min(self.max);
                }
            }
        }
    }
}

impl<
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding,
    S: Store,
> Infer for QAvgPool2d<H, W, C, KH, KW, OH, OW, STRIDE, P, S>
{
    type Input = [[[i8; C]; W]; H];
    type Output = [[[i8; C]; OW]; OH];
    type Footprint<I: Place, O: Place> = Mapping<I, O, Self::Input, Self::Output>;

    /// For each output pixel and channel: the `i32` sum over the taps inside the input,
    /// the rounded division by their number, the clamp. Cannot panic.
    fn forward_with(&self, x: &Self::Input, y: &mut Self::Output, _: &mut [i8]) {
        let () = Self::CHECK;
        let (min, max) = (i32::from(self.min), i32::from(self.max));
        for (oy, yrow) in y.iter_mut().enumerate() {
            let (ys, ye, iy) = Self::ROWS.taps(oy);
            for (ox, out) in yrow.iter_mut().enumerate() {
                let (xs, xe, ix) = Self::COLS.taps(ox);
                let n = ((ye - ys) * (xe - xs)) as i32;
                for (c, o) in out.iter_mut().enumerate() {
                    let rows = x.iter().skip(iy).take(ye - ys);
                    let sum = rows
                        .flat_map(|r| r.iter().skip(ix).take(xe - xs))
                        .map(|p| p.get(c).map_or(0, |&v| i32::from(v)))
                        .sum();
                    *o = rounded_average(sum, n).max(min).min(max) as i8;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// QGlobalAvgPool

/// Global average pooling in int8: input `[[[i8; C]; W]; H]`, output `[i8; C]`, each
/// channel's rounded average over the whole map (the average pool of one `H × W` window,
/// see the [module docs](self)), then clamped.
pub struct QGlobalAvgPool<const H: usize, const W: usize, const C: usize, S: Store = Owned> {
    /// Quantization of the input, and of the output (the same).
    pub params: QParams,
    /// Smallest output: −128, or the zero point when a ReLU is fused.
    pub min: i8,
    /// Largest output: 127, or the image of 6 when a ReLU6 is fused.
    pub max: i8,
    _marker: PhantomData<fn() -> S>,
}

impl<const H: usize, const W: usize, const C: usize, S: Store> QGlobalAvgPool<H, W, C, S> {
    const CHECK: () = {
        assert!(
            H > 0 && W > 0 && C > 0,
            "QGlobalAvgPool: every size must be at least 1"
        );
        assert!(
            H * W <= 1 << 24,
            "QGlobalAvgPool: maps of more than 2^24 pixels could overflow the int32 sums"
        );
    };

    /// Unit quantization, no clamp; usable in `const` and `static` items.
    pub const ZERO: Self = {
        let () = Self::CHECK;
        QGlobalAvgPool {
            params: QParams::UNIT,
            min: -128,
            max: 127,
            _marker: PhantomData,
        }
    };

    /// The pool for inputs quantized with `input`, whose outputs are quantized with
    /// `output` — which must be `input` — and clamped as `clamp` says.
    ///
    /// # Errors
    /// [`QuantError::InvalidParams`] for unusable `input`; [`QuantError::SameParams`] if
    /// `output` is not `input`.
    pub fn new(input: QParams, output: QParams, clamp: Clamp) -> Result<Self, QuantError> {
        let (params, min, max) = pool_params("qglobal_avg_pool", input, output, clamp)?;
        Ok(QGlobalAvgPool {
            params,
            min,
            max,
            _marker: PhantomData,
        })
    }

    /// The layer with these attributes, in spec order (the constructor of Rust source).
    ///
    /// # Panics
    /// If the output quantization is not the input's — in a `const` or `static`, a compile
    /// error.
    pub const fn from_parts(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
        min: i32,
        max: i32,
    ) -> Self {
        let () = Self::CHECK;
        let params = QParams {
            scale: input_scale,
            zero_point: input_zero_point,
        };
        assert!(
            same_params(params, output_scale, output_zero_point),
            "QGlobalAvgPool::from_parts: the output quantization must be the input's"
        );
        QGlobalAvgPool {
            params,
            min: bound(min),
            max: bound(max),
            _marker: PhantomData,
        }
    }
}

impl<const H: usize, const W: usize, const C: usize, S: Store> Zero for QGlobalAvgPool<H, W, C, S> {
    const ZERO: Self = Self::ZERO;
}

impl<const H: usize, const W: usize, const C: usize, S: Store> Clone
    for QGlobalAvgPool<H, W, C, S>
{
    fn clone(&self) -> Self {
        QGlobalAvgPool {
            params: self.params,
            min: self.min,
            max: self.max,
            _marker: PhantomData,
        }
    }
}

impl<const H: usize, const W: usize, const C: usize, S: Store> PartialEq
    for QGlobalAvgPool<H, W, C, S>
{
    fn eq(&self, other: &Self) -> bool {
        (self.params, self.min, self.max) == (other.params, other.min, other.max)
    }
}

impl<const H: usize, const W: usize, const C: usize, S: Store> core::fmt::Debug
    for QGlobalAvgPool<H, W, C, S>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QGlobalAvgPool")
            .field("params", &self.params)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish()
    }
}

impl<const H: usize, const W: usize, const C: usize, S: Store> Infer
    for QGlobalAvgPool<H, W, C, S>
{
    type Input = [[[i8; C]; W]; H];
    type Output = [i8; C];
    type Footprint<I: Place, O: Place> = Mapping<I, O, Self::Input, [i8; C]>;

    /// For each channel: the `i32` sum over the `H·W` pixels, the rounded division, the
    /// clamp. On Cortex-M4/M7 with the [`Simd`](crate::kernels::Backend::Simd) backend,
    /// [`forward_packed`](QGlobalAvgPool::forward_packed). Cannot panic.
    fn forward_with(&self, x: &Self::Input, y: &mut [i8; C], _: &mut [i8]) {
        let () = Self::CHECK;
        #[cfg(firmnet_arm_dsp)]
        if crate::kernels::backend() == crate::kernels::Backend::Simd {
            self.forward_packed(x, y);
            return;
        }
        self.forward_reference(x, y);
    }
}

impl<const H: usize, const W: usize, const C: usize, S: Store> QGlobalAvgPool<H, W, C, S> {
    /// Inference on the Cortex-M4/M7 DSP path, on every target (off the M4 with portable
    /// twins of its instructions): the sums four channels per word, `SXTAB16` into 16-bit
    /// lanes ([`packed::sum_channels`]), then the reference's rounded division and clamp.
    /// Needs `C` a multiple of 4 and `x` 4-byte aligned; otherwise the reference loops.
    /// The same bits. Cannot panic.
    pub fn forward_packed(&self, x: &[[[i8; C]; W]; H], y: &mut [i8; C]) {
        let () = Self::CHECK;
        let xw = packed::as_words(x.as_flattened().as_flattened());
        let (Some(xw), 0) = (xw, C % 4) else {
            self.forward_reference(x, y);
            return;
        };
        let mut sums = [0i32; C];
        packed::sum_channels(xw, &mut sums);
        let n = (H * W) as i32;
        let (min, max) = (i32::from(self.min), i32::from(self.max));
        for (o, &sum) in y.iter_mut().zip(&sums) {
            *o = rounded_average(sum, n).max(min).min(max) as i8;
        }
    }

    /// The reference loops of [`forward_with`](Infer::forward_with).
    fn forward_reference(&self, x: &[[[i8; C]; W]; H], y: &mut [i8; C]) {
        let n = (H * W) as i32;
        let (min, max) = (i32::from(self.min), i32::from(self.max));
        for (c, o) in y.iter_mut().enumerate() {
            let sum = x
                .as_flattened()
                .iter()
                .map(|p| p.get(c).map_or(0, |&v| i32::from(v)))
                .sum();
            *o = rounded_average(sum, n).max(min).min(max) as i8;
        }
    }
}

impl<const H: usize, const W: usize, const C: usize, S: Store> QLayer
    for QGlobalAvgPool<H, W, C, S>
{
    fn input_params(&self) -> QParams {
        self.params
    }
    fn output_params(&self) -> QParams {
        self.params
    }
}

impl<const H: usize, const W: usize, const C: usize, S: Store> Primitive
    for QGlobalAvgPool<H, W, C, S>
{
    const SPEC: LayerSpec = {
        let () = Self::CHECK;
        LayerSpec {
            kind: "qglobal_avg_pool",
            input: Shape::rank3(H, W, C),
            output: Shape::vector(C),
            tensors: &[],
            attrs: &[
                IO_ATTRS[0],
                IO_ATTRS[1],
                IO_ATTRS[2],
                IO_ATTRS[3],
                CLAMP_ATTRS[0],
                CLAMP_ATTRS[1],
            ],
            ordered: &[(4, 5)],
            int8_io: true,
        }
    };
}

impl<const H: usize, const W: usize, const C: usize, S: Store> LayerData
    for QGlobalAvgPool<H, W, C, S>
{
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::quant::QGlobalAvgPool::from_parts"
    }
    fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
        None
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        match i {
            0..4 => kept_attr(self.params, i),
            4 | 5 => window_attr(self.min, self.max, &[], i),
            _ => None,
        }
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        match i {
            0..4 => set_kept_attr(&mut self.params, i, value),
            4 | 5 => set_window_attr(&mut self.min, &mut self.max, &[], i, value),
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------------------
// QFlatten

/// A feature map `[[[i8; C]; W]; H]` as the vector `[i8; N]` of its values in HWC order,
/// `N = H·W·C` (checked when the layer is used). Computes in place: it costs no arena and
/// no time.
pub struct QFlatten<
    const H: usize,
    const W: usize,
    const C: usize,
    const N: usize,
    S: Store = Owned,
> {
    /// Quantization of the input, and of the output (the same).
    pub params: QParams,
    _marker: PhantomData<fn() -> S>,
}

impl<const H: usize, const W: usize, const C: usize, const N: usize, S: Store>
    QFlatten<H, W, C, N, S>
{
    const CHECK: () = assert!(
        N == H * W * C,
        "QFlatten: N is not H·W·C, the number of values of the feature map"
    );

    /// Unit quantization; usable in `const` and `static` items.
    pub const ZERO: Self = {
        let () = Self::CHECK;
        QFlatten {
            params: QParams::UNIT,
            _marker: PhantomData,
        }
    };

    /// The layer for inputs quantized with `input`, whose output is quantized with
    /// `output` — which must be `input`.
    ///
    /// # Errors
    /// [`QuantError::InvalidParams`] for unusable `input`; [`QuantError::SameParams`] if
    /// `output` is not `input`.
    pub fn new(input: QParams, output: QParams) -> Result<Self, QuantError> {
        let (params, _, _) = pool_params("qflatten", input, output, Clamp::None)?;
        Ok(QFlatten {
            params,
            _marker: PhantomData,
        })
    }

    /// The layer with these attributes, in spec order (the constructor of Rust source).
    ///
    /// # Panics
    /// If the output quantization is not the input's — in a `const` or `static`, a compile
    /// error.
    pub const fn from_parts(
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Self {
        let () = Self::CHECK;
        let params = QParams {
            scale: input_scale,
            zero_point: input_zero_point,
        };
        assert!(
            same_params(params, output_scale, output_zero_point),
            "QFlatten::from_parts: the output quantization must be the input's"
        );
        QFlatten {
            params,
            _marker: PhantomData,
        }
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize, S: Store> Zero
    for QFlatten<H, W, C, N, S>
{
    const ZERO: Self = Self::ZERO;
}

impl<const H: usize, const W: usize, const C: usize, const N: usize, S: Store> Clone
    for QFlatten<H, W, C, N, S>
{
    fn clone(&self) -> Self {
        QFlatten {
            params: self.params,
            _marker: PhantomData,
        }
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize, S: Store> PartialEq
    for QFlatten<H, W, C, N, S>
{
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize, S: Store> core::fmt::Debug
    for QFlatten<H, W, C, N, S>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QFlatten")
            .field("params", &self.params)
            .finish()
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize, S: Store> Infer
    for QFlatten<H, W, C, N, S>
{
    type Input = [[[i8; C]; W]; H];
    type Output = [i8; N];
    type Footprint<I: Place, O: Place> = InPlace<I, O, [i8; N]>;
    const IN_PLACE: bool = true;

    fn forward_with(&self, x: &Self::Input, y: &mut [i8; N], _: &mut [i8]) {
        let () = Self::CHECK;
        copy(x.as_flattened().as_flattened(), y);
    }

    /// The identity: the values are already in place, in order.
    fn apply(&self, _: &mut [i8; N]) {
        let () = Self::CHECK;
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize, S: Store> QLayer
    for QFlatten<H, W, C, N, S>
{
    fn input_params(&self) -> QParams {
        self.params
    }
    fn output_params(&self) -> QParams {
        self.params
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize, S: Store> Primitive
    for QFlatten<H, W, C, N, S>
{
    const SPEC: LayerSpec = {
        let () = Self::CHECK;
        LayerSpec {
            kind: "qflatten",
            input: Shape::rank3(H, W, C),
            output: Shape::vector(N),
            tensors: &[],
            attrs: &IO_ATTRS,
            ordered: &[],
            int8_io: true,
        }
    };
}

impl<const H: usize, const W: usize, const C: usize, const N: usize, S: Store> LayerData
    for QFlatten<H, W, C, N, S>
{
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::quant::QFlatten::from_parts"
    }
    fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
        None
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        kept_attr(self.params, i)
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        set_kept_attr(&mut self.params, i, value)
    }
}
