//! Pooling over feature maps: [`MaxPool2d`], [`AvgPool2d`] and [`GlobalAvgPool`].
//!
//! Feature maps are channels-last, `[[[f32; C]; W]; H]`: `H` rows of `W` positions of `C`
//! channels, as TensorFlow Lite and CMSIS-NN store them. Every pool works on each channel
//! separately, so the inner loops run over the `C` contiguous channels of one position.
//! A window of `KH × KW` positions moves over the map with step `STRIDE` in both
//! directions, padded as [`Padding`] says; positions outside the input are not read. The
//! training pass computes exactly what inference computes; [`MaxPool2d`] also records,
//! per output element, which window position won ([`MaxPoolCache`]).
//!
//! `OH` and `OW` cannot be computed from the other parameters on stable Rust, so they are
//! stated and checked: a layer whose sizes disagree with its padding fails to compile
//! where it is used, with a message that names the layer.

use core::marker::PhantomData;

#[cfg(doc)]
use super::conv::Same;
use super::conv::{Padding, Valid};
use super::padding::{pad_before, window, window_checks};
use super::{Context, Layer, no_params};
use crate::arena::{Mapping, Place};
use crate::net::Infer;
use crate::spec::{Attr, AttrSpec, LayerData, LayerSpec, Primitive, TensorMut, TensorRef};
use crate::tensor::{Shape, Zero};

/// The attributes of a windowed pool — stride, padding before, window — in this order:
/// their values follow from the type ([`AttrSpec::structure`]), so a file of a pool of
/// other geometry is refused.
pub(crate) const fn pool_attrs(geometry: [usize; 5]) -> [AttrSpec; 5] {
    [
        AttrSpec::structure("stride", geometry[0]),
        AttrSpec::structure("pad_top", geometry[1]),
        AttrSpec::structure("pad_left", geometry[2]),
        AttrSpec::structure("pool_height", geometry[3]),
        AttrSpec::structure("pool_width", geometry[4]),
    ]
}

/// `n` as an `i32` attribute (saturated; no layer is that large).
const fn attr_i32(n: usize) -> i32 {
    if n > i32::MAX as usize {
        i32::MAX
    } else {
        n as i32
    }
}

/// Whether `v` replaces `best` as a window's maximum: larger, or the first NaN. Two
/// compares joined without branches (`&`), so that the loops over a pixel's channels
/// compile to whole-vector compares and selects.
#[inline(always)]
fn takes(v: f32, best: f32) -> bool {
    // `!(v <= best)`: `v` larger or NaN (one unordered compare); `best == best`: `best` is a
    // number (a NaN already taken stays).
    #[allow(clippy::eq_op, clippy::neg_cmp_op_on_partial_ord)]
    let (above, best_num) = (!(v <= best), best == best);
    above & best_num
}

/// Folds one window position `v` (channel by channel) into the running maxima `out` and,
/// when given, their positions `arg` (position `k`); the earlier one keeps a tie. The
/// positions are 32-bit lanes, as wide as the values, so that one compare mask selects
/// both and the loop compiles to whole-vector compares and selects.
#[inline(always)]
fn fold_max<const C: usize>(out: &mut [f32; C], arg: Option<&mut [u32; C]>, v: &[f32; C], k: u32) {
    match arg {
        Some(a) => {
            for ((o, i), &v) in out.iter_mut().zip(a.iter_mut()).zip(v) {
                // All ones where `v` wins: the selects as bit masks, one per lane.
                let m = u32::from(takes(v, *o)).wrapping_neg();
                *o = f32::from_bits((v.to_bits() & m) | (o.to_bits() & !m));
                *i = (k & m) | (*i & !m);
            }
        }
        None => {
            for (o, &v) in out.iter_mut().zip(v) {
                *o = if takes(v, *o) { v } else { *o };
            }
        }
    }
}

/// The items `MaxPool2d` and `AvgPool2d` share: geometry constants, constructors, the
/// plain traits, the spec and the layer data. `$check` adds layer-specific assertions.
macro_rules! windowed_pool {
    ($ty:ident, $name:literal, $kind:literal, $ctor:literal, $check:block) => {
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
        > $ty<H, W, C, KH, KW, OH, OW, STRIDE, P>
        {
            /// The compile-time checks of the sizes, evaluated wherever the layer is used.
            const CHECK: () = {
                window_checks!($name, H, W, KH, KW, OH, OW, STRIDE, P::SAME);
                $check
            };

            /// Rows of padding above the input (0 with [`Valid`]).
            pub const PAD_TOP: usize = pad_before(H, KH, STRIDE, P::SAME);
            /// Columns of padding left of the input (0 with [`Valid`]).
            pub const PAD_LEFT: usize = pad_before(W, KW, STRIDE, P::SAME);

            /// The layer (it has no parameters). Fails to compile if `OH` or `OW` is not
            /// the output size of the padding.
            pub const DEFAULT: Self = {
                let () = Self::CHECK;
                $ty {
                    _padding: PhantomData,
                }
            };

            /// The layer, from the attributes a file records (the constructor of Rust
            /// source written by [`format::rust_source`](crate::format::rust_source)).
            ///
            /// # Panics
            /// If the attributes are not those of the type — in a `const` or `static`,
            /// a compile error.
            pub const fn from_parts(
                stride: i32,
                pad_top: i32,
                pad_left: i32,
                pool_height: i32,
                pool_width: i32,
            ) -> Self {
                assert!(
                    stride == attr_i32(STRIDE)
                        && pad_top == attr_i32(Self::PAD_TOP)
                        && pad_left == attr_i32(Self::PAD_LEFT)
                        && pool_height == attr_i32(KH)
                        && pool_width == attr_i32(KW),
                    concat!($name, "::from_parts: the attributes are not those of the type")
                );
                Self::DEFAULT
            }

            /// Attribute `i` ([`pool_attrs`] order).
            const fn attr_value(i: usize) -> Option<i32> {
                match i {
                    0 => Some(attr_i32(STRIDE)),
                    1 => Some(attr_i32(Self::PAD_TOP)),
                    2 => Some(attr_i32(Self::PAD_LEFT)),
                    3 => Some(attr_i32(KH)),
                    4 => Some(attr_i32(KW)),
                    _ => None,
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
        > Clone for $ty<H, W, C, KH, KW, OH, OW, STRIDE, P>
        {
            fn clone(&self) -> Self {
                $ty {
                    _padding: PhantomData,
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
        > core::fmt::Debug for $ty<H, W, C, KH, KW, OH, OW, STRIDE, P>
        {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(
                    f,
                    "{}({H}×{W}×{C} → {OH}×{OW}×{C}, {KH}×{KW} stride {STRIDE}, {})",
                    $name,
                    if P::SAME { "Same" } else { "Valid" }
                )
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
        > PartialEq for $ty<H, W, C, KH, KW, OH, OW, STRIDE, P>
        {
            /// Always equal: the type says everything.
            fn eq(&self, _: &Self) -> bool {
                true
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
        > Default for $ty<H, W, C, KH, KW, OH, OW, STRIDE, P>
        {
            fn default() -> Self {
                Self::DEFAULT
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
        > Zero for $ty<H, W, C, KH, KW, OH, OW, STRIDE, P>
        {
            const ZERO: Self = Self::DEFAULT;
        }

        no_params!([
            const H: usize,
            const W: usize,
            const C: usize,
            const KH: usize,
            const KW: usize,
            const OH: usize,
            const OW: usize,
            const STRIDE: usize,
            P: Padding,
        ] $ty<H, W, C, KH, KW, OH, OW, STRIDE, P>);

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
        > Primitive for $ty<H, W, C, KH, KW, OH, OW, STRIDE, P>
        {
            const SPEC: LayerSpec = {
                let () = Self::CHECK;
                LayerSpec {
                    kind: $kind,
                    input: Shape::rank3(H, W, C),
                    output: Shape::rank3(OH, OW, C),
                    tensors: &[],
                    attrs: &pool_attrs([STRIDE, Self::PAD_TOP, Self::PAD_LEFT, KH, KW]),
                    ordered: &[],
                    int8_io: false,
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
        > LayerData for $ty<H, W, C, KH, KW, OH, OW, STRIDE, P>
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
                Self::attr_value(i).map(Attr::I32)
            }
            /// The attributes follow from the type: a value is accepted (`true`) only if
            /// it is the type's.
            fn set_attr(&mut self, i: usize, value: Attr) -> bool {
                Self::attr_value(i).is_some_and(|v| value == Attr::I32(v))
            }
        }
    };
}

/// Max pooling of an `H × W × C` feature map (channels last) with `KH × KW` windows and
/// step `STRIDE`, to `OH × OW × C`.
///
/// Output position `(oh, ow)` reads the window whose top-left corner is input position
/// `(oh·STRIDE − pad_top, ow·STRIDE − pad_left)`; `y[oh][ow][c]` is the largest
/// `x[ih][iw][c]` of the window's *in-bounds* positions (out-of-bounds ones, with [`Same`]
/// padding, are ignored). Ties go to the first of them in row-major window order (top row
/// first, left to right), and the gradient flows to that one alone, summed where
/// windows overlap. A NaN in a window wins (the first NaN): it reaches the output, where
/// it is detected, rather than vanishing.
///
/// With [`Valid`] padding (the default) `OH = (H − KH)/STRIDE + 1`, with [`Same`]
/// `OH = ceil(H/STRIDE)`, and likewise `OW` (see [`Padding`]). The training pass records
/// the winners in a [`MaxPoolCache`].
///
/// ```
/// use firmnet::layers::{MaxPool2d, Same, Valid};
/// use firmnet::prelude::*;
///
/// // 2×2 windows, stride 2, on a 4×4 map with one channel.
/// let pool = MaxPool2d::<4, 4, 1, 2, 2, 2, 2, 2, Valid>::DEFAULT;
/// let x = [
///     [[1.0], [2.0], [5.0], [6.0]],
///     [[3.0], [4.0], [8.0], [7.0]],
///     [[0.0], [-1.0], [9.0], [9.0]],
///     [[-2.0], [-3.0], [9.0], [9.0]],
/// ];
/// let mut y = [[[0.0; 1]; 2]; 2];
/// pool.forward_with(&x, &mut y, &mut []);
/// assert_eq!(y, [[[4.0], [8.0]], [[0.0], [9.0]]]);
///
/// // On 7×7: 3×3 outputs without padding, 4×4 with.
/// static VALID: MaxPool2d<7, 7, 3, 2, 2, 3, 3, 2, Valid> = MaxPool2d::DEFAULT;
/// static SAME: MaxPool2d<7, 7, 3, 2, 2, 4, 4, 2, Same> = MaxPool2d::DEFAULT;
/// ```
///
/// Sizes that disagree with the padding do not compile ("MaxPool2d: OH must be the
/// output height: …"):
///
/// ```compile_fail
/// use firmnet::layers::{MaxPool2d, Valid};
/// // 2×2 windows, stride 2, on 7×7 without padding: the output is 3×3, not 4×4.
/// static POOL: MaxPool2d<7, 7, 3, 2, 2, 4, 4, 2, Valid> = MaxPool2d::DEFAULT;
/// ```
pub struct MaxPool2d<
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding = Valid,
> {
    _padding: PhantomData<fn() -> P>,
}

windowed_pool!(
    MaxPool2d,
    "MaxPool2d",
    "max_pool2d",
    "firmnet::layers::MaxPool2d::from_parts",
    {
        assert!(
            KH * KW <= 1 << 16,
            "MaxPool2d: the window (KH × KW) must hold at most 65536 positions"
        );
    }
);

/// What [`MaxPool2d`]'s training pass keeps for its backward pass, for a batch of `B`:
/// for every output element, the position of its maximum within its window.
#[derive(Clone, Debug, PartialEq)]
pub struct MaxPoolCache<const B: usize, const OH: usize, const OW: usize, const C: usize> {
    /// `argmax[b][oh][ow][c] = r·KW + s`: the maximum of output `(oh, ow)`, channel `c`,
    /// of sample `b` is input position `(oh·STRIDE − pad_top + r, ow·STRIDE − pad_left + s)`.
    pub argmax: [[[[u16; C]; OW]; OH]; B],
}

impl<const B: usize, const OH: usize, const OW: usize, const C: usize> Zero
    for MaxPoolCache<B, OH, OW, C>
{
    const ZERO: Self = MaxPoolCache {
        argmax: [[[[0; C]; OW]; OH]; B],
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
> MaxPool2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    /// Pools one sample; records the winners in `argmax` when given.
    fn pool(
        x: &[[[f32; C]; W]; H],
        y: &mut [[[f32; C]; OW]; OH],
        mut argmax: Option<&mut [[[u16; C]; OW]; OH]>,
    ) {
        let () = Self::CHECK;
        for (oh, y_row) in y.iter_mut().enumerate() {
            let (h0, h1) = window(oh, H, KH, STRIDE, Self::PAD_TOP);
            let rows = x.get(h0..h1).unwrap_or_default();
            // Window row of input row `h0`: `h0 + pad_top − oh·STRIDE` (never negative).
            let r0 = h0 + Self::PAD_TOP - oh * STRIDE;
            let mut arg_row = argmax.as_deref_mut().and_then(|a| a.get_mut(oh));
            for (ow, out) in y_row.iter_mut().enumerate() {
                let (w0, w1) = window(ow, W, KW, STRIDE, Self::PAD_LEFT);
                let s0 = w0 + Self::PAD_LEFT - ow * STRIDE;
                let arg = arg_row.as_deref_mut().and_then(|a| a.get_mut(ow));
                // The winners' positions while folding; narrowed into `arg` at the end.
                let mut wide = [0u32; C];
                let mut track = arg.is_some().then_some(&mut wide);
                let mut first = true;
                for (r, x_row) in rows.iter().enumerate() {
                    for (s, v) in x_row.get(w0..w1).unwrap_or_default().iter().enumerate() {
                        let k = ((r0 + r) * KW + s0 + s) as u32;
                        if first {
                            *out = *v;
                            if let Some(t) = track.as_deref_mut() {
                                *t = [k; C];
                            }
                            first = false;
                        } else {
                            fold_max(out, track.as_deref_mut(), v, k);
                        }
                    }
                }
                if let Some(a) = arg {
                    // Positions are below `KH·KW ≤ 65536` (`CHECK`), so they fit.
                    for (a, &k) in a.iter_mut().zip(&wide) {
                        *a = k as u16;
                    }
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
> Infer for MaxPool2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    type Input = [[[f32; C]; W]; H];
    type Output = [[[f32; C]; OW]; OH];
    type Footprint<I: Place, O: Place> = Mapping<I, O, [[[f32; C]; W]; H], [[[f32; C]; OW]; OH]>;

    #[inline]
    fn forward_with(&self, x: &[[[f32; C]; W]; H], y: &mut [[[f32; C]; OW]; OH], _: &mut [f32]) {
        Self::pool(x, y, None);
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
> Layer for MaxPool2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    type Grad = ();
    type Cache<const B: usize> = MaxPoolCache<B, OH, OW, C>;

    fn forward_train<const B: usize>(
        &mut self,
        x: &[[[[f32; C]; W]; H]; B],
        y: &mut [[[[f32; C]; OW]; OH]; B],
        cache: &mut MaxPoolCache<B, OH, OW, C>,
        _: &mut Context,
    ) {
        for ((xb, yb), ab) in x.iter().zip(y.iter_mut()).zip(cache.argmax.iter_mut()) {
            Self::pool(xb, yb, Some(ab));
        }
    }

    /// Routes each output gradient to its window's maximum (summing where windows
    /// overlap); every other input gets 0.
    fn backward<const B: usize>(
        &self,
        _: &[[[[f32; C]; W]; H]; B],
        _: &[[[[f32; C]; OW]; OH]; B],
        dy: &[[[[f32; C]; OW]; OH]; B],
        dx: Option<&mut [[[[f32; C]; W]; H]; B]>,
        cache: &mut MaxPoolCache<B, OH, OW, C>,
        _: &mut (),
    ) {
        let Some(dx) = dx else { return };
        let () = Self::CHECK;
        for ((dxb, dyb), ab) in dx.iter_mut().zip(dy).zip(&cache.argmax) {
            *dxb = [[[0.0; C]; W]; H];
            for (oh, (dy_row, a_row)) in dyb.iter().zip(ab).enumerate() {
                for (ow, (g, a)) in dy_row.iter().zip(a_row).enumerate() {
                    for (c, (&g, &k)) in g.iter().zip(a).enumerate() {
                        let k = usize::from(k);
                        let ih = (oh * STRIDE + k / KW).checked_sub(Self::PAD_TOP);
                        let iw = (ow * STRIDE + k % KW).checked_sub(Self::PAD_LEFT);
                        if let (Some(ih), Some(iw)) = (ih, iw)
                            && let Some(d) = dxb
                                .get_mut(ih)
                                .and_then(|r| r.get_mut(iw))
                                .and_then(|p| p.get_mut(c))
                        {
                            *d += g;
                        }
                    }
                }
            }
        }
    }
}

/// Average pooling of an `H × W × C` feature map (channels last) with `KH × KW` windows
/// and step `STRIDE`, to `OH × OW × C`.
///
/// Windows are placed as in [`MaxPool2d`]; `y[oh][ow][c] = (Σ x[ih][iw][c]) / n`, summed
/// in row-major window order, where `n` counts the window's *in-bounds* positions only:
/// with [`Same`] padding the windows at the border divide by fewer than `KH·KW`, as
/// TensorFlow Lite does (with [`Valid`], `n = KH·KW`). The gradient `dy/n` goes to each of
/// those positions.
///
/// With [`Valid`] padding (the default) `OH = (H − KH)/STRIDE + 1`, with [`Same`]
/// `OH = ceil(H/STRIDE)`, and likewise `OW` (see [`Padding`]). Wrong sizes fail to
/// compile.
///
/// ```
/// use firmnet::layers::{AvgPool2d, Same};
/// use firmnet::prelude::*;
///
/// // 2×2 windows, stride 2, Same padding on a 3×3 map: 2×2 outputs, the last row and
/// // column of windows half (or a quarter) out of bounds.
/// let pool = AvgPool2d::<3, 3, 1, 2, 2, 2, 2, 2, Same>::DEFAULT;
/// let x = [
///     [[1.0], [2.0], [3.0]],
///     [[4.0], [5.0], [6.0]],
///     [[7.0], [8.0], [9.0]],
/// ];
/// let mut y = [[[0.0; 1]; 2]; 2];
/// pool.forward_with(&x, &mut y, &mut []);
/// assert_eq!(y, [[[3.0], [4.5]], [[7.5], [9.0]]]);
/// ```
pub struct AvgPool2d<
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding = Valid,
> {
    _padding: PhantomData<fn() -> P>,
}

windowed_pool!(
    AvgPool2d,
    "AvgPool2d",
    "avg_pool2d",
    "firmnet::layers::AvgPool2d::from_parts",
    {}
);

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
> AvgPool2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    /// The in-bounds window of output `(oh, ow)`: rows, columns and their count.
    #[inline]
    fn bounds(oh: usize, ow: usize) -> ((usize, usize), (usize, usize), f32) {
        let (h0, h1) = window(oh, H, KH, STRIDE, Self::PAD_TOP);
        let (w0, w1) = window(ow, W, KW, STRIDE, Self::PAD_LEFT);
        let n = (h1.saturating_sub(h0) * w1.saturating_sub(w0)) as f32;
        ((h0, h1), (w0, w1), n)
    }

    /// Pools one sample.
    fn pool(x: &[[[f32; C]; W]; H], y: &mut [[[f32; C]; OW]; OH]) {
        let () = Self::CHECK;
        for (oh, y_row) in y.iter_mut().enumerate() {
            for (ow, out) in y_row.iter_mut().enumerate() {
                let ((h0, h1), (w0, w1), n) = Self::bounds(oh, ow);
                *out = [0.0; C];
                for x_row in x.get(h0..h1).unwrap_or_default() {
                    for v in x_row.get(w0..w1).unwrap_or_default() {
                        for (o, &v) in out.iter_mut().zip(v) {
                            *o += v;
                        }
                    }
                }
                for o in out.iter_mut() {
                    *o /= n;
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
> Infer for AvgPool2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    type Input = [[[f32; C]; W]; H];
    type Output = [[[f32; C]; OW]; OH];
    type Footprint<I: Place, O: Place> = Mapping<I, O, [[[f32; C]; W]; H], [[[f32; C]; OW]; OH]>;

    #[inline]
    fn forward_with(&self, x: &[[[f32; C]; W]; H], y: &mut [[[f32; C]; OW]; OH], _: &mut [f32]) {
        Self::pool(x, y);
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
> Layer for AvgPool2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    type Grad = ();
    type Cache<const B: usize> = ();

    fn forward_train<const B: usize>(
        &mut self,
        x: &[[[[f32; C]; W]; H]; B],
        y: &mut [[[[f32; C]; OW]; OH]; B],
        _: &mut (),
        _: &mut Context,
    ) {
        for (xb, yb) in x.iter().zip(y.iter_mut()) {
            Self::pool(xb, yb);
        }
    }

    /// Spreads each output gradient evenly over its window's in-bounds inputs
    /// (`dy / n` each, summing where windows overlap).
    fn backward<const B: usize>(
        &self,
        _: &[[[[f32; C]; W]; H]; B],
        _: &[[[[f32; C]; OW]; OH]; B],
        dy: &[[[[f32; C]; OW]; OH]; B],
        dx: Option<&mut [[[[f32; C]; W]; H]; B]>,
        _: &mut (),
        _: &mut (),
    ) {
        let Some(dx) = dx else { return };
        let () = Self::CHECK;
        for (dxb, dyb) in dx.iter_mut().zip(dy) {
            *dxb = [[[0.0; C]; W]; H];
            for (oh, dy_row) in dyb.iter().enumerate() {
                for (ow, g) in dy_row.iter().enumerate() {
                    let ((h0, h1), (w0, w1), n) = Self::bounds(oh, ow);
                    for d_row in dxb.get_mut(h0..h1).unwrap_or_default() {
                        for d in d_row.get_mut(w0..w1).unwrap_or_default() {
                            for (d, &g) in d.iter_mut().zip(g) {
                                *d += g / n;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Global average pooling: the mean of each channel of an `H × W × C` feature map
/// (channels last) over its `H·W` positions, a `[f32; C]` (the usual head of a
/// convolutional classifier). Each channel is summed in row-major order, then divided by
/// `H·W`.
///
/// ```
/// use firmnet::layers::GlobalAvgPool;
/// use firmnet::prelude::*;
///
/// let pool = GlobalAvgPool::<2, 2, 2>::DEFAULT;
/// let x = [[[1.0, 10.0], [2.0, 20.0]], [[3.0, 30.0], [6.0, 60.0]]];
/// let mut y = [0.0; 2];
/// pool.forward_with(&x, &mut y, &mut []);
/// assert_eq!(y, [3.0, 30.0]);
/// ```
pub struct GlobalAvgPool<const H: usize, const W: usize, const C: usize>;

impl<const H: usize, const W: usize, const C: usize> GlobalAvgPool<H, W, C> {
    /// The compile-time checks of the sizes, evaluated wherever the layer is used.
    const CHECK: () = assert!(
        H >= 1 && W >= 1,
        "GlobalAvgPool: the input must have at least one position (H, W ≥ 1)"
    );

    /// The layer (it has no parameters).
    pub const DEFAULT: Self = {
        let () = Self::CHECK;
        GlobalAvgPool
    };

    /// The layer (the constructor of Rust source).
    pub const fn from_parts() -> Self {
        Self::DEFAULT
    }

    /// Pools one sample.
    fn pool(x: &[[[f32; C]; W]; H], y: &mut [f32; C]) {
        let () = Self::CHECK;
        *y = [0.0; C];
        for v in x.as_flattened() {
            for (o, &v) in y.iter_mut().zip(v) {
                *o += v;
            }
        }
        let n = (H * W) as f32;
        for o in y.iter_mut() {
            *o /= n;
        }
    }
}

impl<const H: usize, const W: usize, const C: usize> Clone for GlobalAvgPool<H, W, C> {
    fn clone(&self) -> Self {
        GlobalAvgPool
    }
}

impl<const H: usize, const W: usize, const C: usize> core::fmt::Debug for GlobalAvgPool<H, W, C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "GlobalAvgPool({H}×{W}×{C} → {C})")
    }
}

impl<const H: usize, const W: usize, const C: usize> PartialEq for GlobalAvgPool<H, W, C> {
    /// Always equal: the type says everything.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<const H: usize, const W: usize, const C: usize> Default for GlobalAvgPool<H, W, C> {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl<const H: usize, const W: usize, const C: usize> Zero for GlobalAvgPool<H, W, C> {
    const ZERO: Self = Self::DEFAULT;
}

no_params!([const H: usize, const W: usize, const C: usize] GlobalAvgPool<H, W, C>);

impl<const H: usize, const W: usize, const C: usize> Infer for GlobalAvgPool<H, W, C> {
    type Input = [[[f32; C]; W]; H];
    type Output = [f32; C];
    type Footprint<I: Place, O: Place> = Mapping<I, O, [[[f32; C]; W]; H], [f32; C]>;

    #[inline]
    fn forward_with(&self, x: &[[[f32; C]; W]; H], y: &mut [f32; C], _: &mut [f32]) {
        Self::pool(x, y);
    }
}

impl<const H: usize, const W: usize, const C: usize> Primitive for GlobalAvgPool<H, W, C> {
    const SPEC: LayerSpec = {
        let () = Self::CHECK;
        LayerSpec {
            kind: "global_avg_pool",
            input: Shape::rank3(H, W, C),
            output: Shape::vector(C),
            tensors: &[],
            attrs: &[],
            ordered: &[],
            int8_io: false,
        }
    };
}

impl<const H: usize, const W: usize, const C: usize> LayerData for GlobalAvgPool<H, W, C> {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::layers::GlobalAvgPool::from_parts"
    }
    fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
        None
    }
    fn attr(&self, _: usize) -> Option<Attr> {
        None
    }
    fn set_attr(&mut self, _: usize, _: Attr) -> bool {
        false
    }
}

impl<const H: usize, const W: usize, const C: usize> Layer for GlobalAvgPool<H, W, C> {
    type Grad = ();
    type Cache<const B: usize> = ();

    fn forward_train<const B: usize>(
        &mut self,
        x: &[[[[f32; C]; W]; H]; B],
        y: &mut [[f32; C]; B],
        _: &mut (),
        _: &mut Context,
    ) {
        for (xb, yb) in x.iter().zip(y.iter_mut()) {
            Self::pool(xb, yb);
        }
    }

    /// Every position of channel `c` receives `dy[c] / (H·W)`.
    fn backward<const B: usize>(
        &self,
        _: &[[[[f32; C]; W]; H]; B],
        _: &[[f32; C]; B],
        dy: &[[f32; C]; B],
        dx: Option<&mut [[[[f32; C]; W]; H]; B]>,
        _: &mut (),
        _: &mut (),
    ) {
        let Some(dx) = dx else { return };
        let () = Self::CHECK;
        let n = (H * W) as f32;
        for (dxb, g) in dx.iter_mut().zip(dy) {
            for d in dxb.as_flattened_mut() {
                for (d, &g) in d.iter_mut().zip(g) {
                    *d = g / n;
                }
            }
        }
    }
}
