//! 2-D convolution of channels-last feature maps ([`Conv2d`]), and the padding rules of
//! every windowed layer ([`Padding`]: [`Same`], [`Valid`]). The layout, the formula and the
//! computation are documented on the types.

use core::marker::PhantomData;

use super::{Context, Layer, ParamInfo, ParamKind, Params, no_tensor};
use crate::arena::{Both, Mapping, Place};
use crate::init::Init;
use crate::kernels;
use crate::kernels::conv::{Window, output_len};
use crate::net::Infer;
use crate::rng::Rng;
use crate::spec::{
    Attr, AttrSpec, LayerData, LayerSpec, Primitive, TensorMut, TensorRef, TensorSpec,
};
use crate::tensor::{Shape, Tensor, Zero};

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Same {}
    impl Sealed for super::Valid {}
}

/// How a windowed layer pads its input: [`Same`] or [`Valid`], TensorFlow Lite's rules,
/// the same for rows and columns (with `W`, `KW`, `OW` and `pad_left`):
///
/// | padding | output rows `OH` | zero rows before (`pad_top`) |
/// | --- | --- | --- |
/// | [`Valid`] | `(H − KH)/STRIDE + 1` | 0 |
/// | [`Same`] | `⌈H/STRIDE⌉` | `max((OH − 1)·STRIDE + KH − H, 0) / 2`, the rest after |
///
/// [`kernels::conv::output_len`] and [`kernels::conv::pad_before`] compute them. Sealed.
pub trait Padding:
    sealed::Sealed + Copy + Default + core::fmt::Debug + PartialEq + Eq + Send + Sync + 'static
{
    /// Whether the input is zero-padded so that the output has `⌈H/STRIDE⌉` rows
    /// ([`Same`]), or not padded at all ([`Valid`]).
    const SAME: bool;
    /// `"same"` or `"valid"`.
    const NAME: &'static str;
}

/// Zero padding, split evenly before and after (the odd one after), so that the output
/// has `⌈H/STRIDE⌉ × ⌈W/STRIDE⌉` pixels: TensorFlow Lite's `SAME`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Same;

/// No padding: only windows entirely inside the input, `(H − KH)/STRIDE + 1` rows of them:
/// TensorFlow Lite's `VALID`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Valid;

impl Padding for Same {
    const SAME: bool = true;
    const NAME: &'static str = "same";
}

impl Padding for Valid {
    const SAME: bool = false;
    const NAME: &'static str = "valid";
}

/// 2-D convolution of an `H × W × C` map with `K` filters of `KH × KW`, stride `STRIDE`
/// and padding `P`, into an `OH × OW × K` map. Its `Grad` is a `Conv2d` of the same shape.
///
/// # Layout
/// A feature map of `H` rows, `W` columns and `C` channels is `[[[f32; C]; W]; H]` (HWC,
/// as TensorFlow Lite and CMSIS-NN store it). The `K` filters are
/// `weight: [[[[f32; C]; KW]; KH]; K]` — TensorFlow Lite's OHWI order, so each filter is
/// one contiguous row of `KH·KW·C` — with one bias each. The layer computes
///
/// `y[oy][ox][k] = bias[k] + Σ_{i<KH, j<KW, ch<C} x[oy·STRIDE + i − pad_top][ox·STRIDE + j − pad_left][ch] · weight[k][i][j][ch]`
///
/// with `x` read as zero outside the map, and `OH`, `OW`, `pad_top`, `pad_left` given by
/// the [`Padding`] rule. Stable Rust cannot compute `OH` and `OW` from the other
/// parameters in a type, so they are stated, and a `const` assertion
/// ([`WINDOW`](Self::WINDOW)) checks them where the layer is used: a wrong size does not
/// compile, and the error names the layer and the size.
///
/// # Computation
/// The *patch* of an output pixel is the `KH·KW·C` values its window sees (zero where it
/// overhangs), in the order of a filter's weights, so a convolution is a matrix product of
/// patches and filters (im2col, [`kernels::conv`]):
///
/// - **Inference** ([`Infer::forward_with`]) gathers patches into the layer's share of
///   the inference arena — a block of [`INFER_PATCHES`] patches (32 on x86 and AArch64,
///   1 on every other architecture, the Cortex-M cores among them), `INFER_PATCHES·KH·KW·C` values, is part of its
///   [`Footprint`](Infer::Footprint), so [`Scratch`](crate::net::Scratch) has room for
///   it; where a network's arena has room for more, it takes as many as fit — and
///   computes their pixels' `K` outputs with one [`kernels::gemm_nt_ordered`], where the
///   run-time SIMD dispatch applies. It gives the training pass's bits. Where the SIMD
///   kernels run and that room holds the input with its zero padding
///   ([`Window::padded_len`]), [`kernels::conv_ordered`] gives the same bits from the
///   padded map, without gathering patches.
/// - **Training** ([`Layer::forward_train`]) computes every output as one
///   [`kernels::gemm_nt_ordered`] would from the patches of the whole batch (`B·OH·OW × K`
///   from `B·OH·OW × KH·KW·C` patches and the `K × KH·KW·C` weights): at
///   [`Backend::Simd`](kernels::Backend::Simd) on x86 and AArch64 with
///   [`kernels::conv_ordered`], which reads the patches in place from the input, else
///   by writing them into its [`Conv2dCache`] first (im2col). The same bits either way.
///   The backward pass writes the patches if the forward pass did not, then three more
///   products — `dW += dYᵀ·patches` ([`kernels::gemm_tn_acc`]), `db += Σ dY`,
///   `dPatches = dY·W` ([`kernels::gemm_nn`]) — and col2im, which adds each patch
///   gradient back where the patch came from.
///
/// # Examples
///
/// ```
/// use firmnet::layers::{Conv2d, INFER_PATCHES};
/// use firmnet::prelude::*;
///
/// // One channel in, two 3×3 filters, stride 1, `Same` padding: 4×4×1 → 4×4×2.
/// type C = Conv2d<4, 4, 1, 2, 3, 3, 4, 4>;
/// let mut conv = C::ZERO;
/// conv.weight[0][1][1] = [1.0]; // filter 0: the centre tap, the identity
/// conv.weight[1] = [[[1.0]; 3]; 3]; // filter 1: the sum over the window
/// conv.bias = [0.0, 0.5];
/// let x = [[[1.0]; 4]; 4];
/// let mut y = [[[0.0; 2]; 4]; 4];
/// let mut scratch = Scratch::<C>::ZERO; // room for INFER_PATCHES 3×3×1 patches
/// conv.forward(&x, &mut y, &mut scratch);
/// assert_eq!(y[0][0], [1.0, 4.5]); // a corner: 4 taps inside the map
/// assert_eq!(y[1][2], [1.0, 9.5]);
/// assert_eq!(size_of::<Scratch<C>>(), INFER_PATCHES * 9 * 4);
///
/// // Stride 2 on 8×8 with `Same` padding: 4×4; with `Valid` padding and a 3×3 kernel: 3×3.
/// static A: Conv2d<8, 8, 1, 4, 3, 3, 4, 4, 2> = Conv2d::ZERO;
/// static B: Conv2d<8, 8, 1, 4, 3, 3, 3, 3, 2, Valid> = Conv2d::ZERO;
/// # let _ = (&A, &B);
/// ```
///
/// `OH` and `OW` must be what the padding rule gives, or the layer does not compile:
///
/// ```compile_fail
/// use firmnet::layers::Conv2d;
/// // `Same` padding keeps 8 rows: 7 is wrong, and the constant does not compile
/// // ("Conv2d: OH does not match H, KH, STRIDE and the padding").
/// static BAD: Conv2d<8, 8, 1, 4, 3, 3, 7, 8> = Conv2d::ZERO;
/// ```
#[derive(Debug, PartialEq)]
pub struct Conv2d<
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
> {
    /// The filters, `[K][KH][KW][C]` (TensorFlow Lite's OHWI): filter `k` is one
    /// contiguous row of `KH·KW·C` weights.
    pub weight: [[[[f32; C]; KW]; KH]; K],
    /// One bias per filter.
    pub bias: [f32; K],
    padding: PhantomData<P>,
}

impl<
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
> Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>
{
    /// The layer's geometry, checked when the compiler evaluates it: every size at least
    /// 1, and `OH`, `OW` those of the padding rule. Every constructor and computation of
    /// the layer reads it, so a layer with wrong sizes does not compile.
    pub const WINDOW: Window = {
        assert!(
            H > 0 && W > 0 && C > 0 && K > 0 && KH > 0 && KW > 0,
            "Conv2d: every size must be at least 1"
        );
        assert!(STRIDE > 0, "Conv2d: STRIDE must be at least 1");
        assert!(
            OH == output_len(H, KH, STRIDE, P::SAME),
            "Conv2d: OH does not match H, KH, STRIDE and the padding"
        );
        assert!(
            OW == output_len(W, KW, STRIDE, P::SAME),
            "Conv2d: OW does not match W, KW, STRIDE and the padding"
        );
        match Window::new(H, W, C, KH, KW, STRIDE, P::SAME) {
            Some(window) => window,
            None => panic!("Conv2d: the kernel is larger than the input"),
        }
    };

    /// All weights and biases zero. Call [`Layer::init`] before training.
    pub const ZERO: Self = Self::new([[[[0.0; C]; KW]; KH]; K], [0.0; K]);

    /// The layer with these filters and biases.
    pub const fn new(weight: [[[[f32; C]; KW]; KH]; K], bias: [f32; K]) -> Self {
        let _window: Window = Self::WINDOW;
        Conv2d {
            weight,
            bias,
            padding: PhantomData,
        }
    }

    /// The layer with these filters and biases, and the attributes its spec lists
    /// (`stride`, `pad_top`, `pad_left`), which its type fixes: the constructor of Rust
    /// source written by [`format::rust_source`](crate::format::rust_source).
    ///
    /// # Panics
    /// If an attribute is not the type's (in a `const` or `static` item: a compile error).
    pub const fn from_parts(
        weight: [[[[f32; C]; KW]; KH]; K],
        bias: [f32; K],
        stride: i32,
        pad_top: i32,
        pad_left: i32,
    ) -> Self {
        assert!(
            attrs_match(&Self::WINDOW, stride, pad_top, pad_left),
            "Conv2d::from_parts: stride or padding differ from the layer type's"
        );
        Self::new(weight, bias)
    }

    /// The filters as one row-major `K × KH·KW·C` matrix.
    #[inline]
    pub fn weight_matrix(&self) -> &[f32] {
        self.weight.as_flattened().as_flattened().as_flattened()
    }

    /// The filters as one row-major `K × KH·KW·C` matrix, mutably.
    #[inline]
    pub fn weight_matrix_mut(&mut self) -> &mut [f32] {
        self.weight
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
    }

    /// Inference without a patch buffer (when the caller's scratch is shorter than a
    /// patch): each output is its bias plus one dot product per kernel row, of the run
    /// of the input row and the filter row inside the map.
    fn forward_direct(&self, x: &[f32], y: &mut [[f32; K]]) {
        let g = Self::WINDOW;
        for (p, out) in y.iter_mut().enumerate() {
            let (oy, ox) = (p / OW, p % OW);
            let cols = g.cols(ox);
            for (k, o) in out.iter_mut().enumerate() {
                let mut s = self.bias[k];
                if !cols.is_empty() {
                    for i in g.rows(oy) {
                        let at = (g.in_row(oy, i) * W + g.in_col(ox, cols.start)) * C;
                        let run = &x[at..at + cols.len() * C];
                        let filter =
                            &self.weight[k][i].as_flattened()[cols.start * C..cols.end * C];
                        s += kernels::dot(run, filter);
                    }
                }
                *o = s;
            }
        }
    }
}

/// Whether the attributes `stride`, `pad_top`, `pad_left` are those of window `g`.
pub(crate) const fn attrs_match(g: &Window, stride: i32, pad_top: i32, pad_left: i32) -> bool {
    stride as i64 == g.stride() as i64
        && pad_top as i64 == g.pad_top() as i64
        && pad_left as i64 == g.pad_left() as i64
}

/// Attribute `i` of a layer with window `g`: `stride`, `pad_top`, `pad_left`.
pub(crate) const fn window_attr(g: &Window, i: usize) -> Option<Attr> {
    let v = match i {
        0 => g.stride(),
        1 => g.pad_top(),
        2 => g.pad_left(),
        _ => return None,
    };
    Some(Attr::I32(v as i32))
}

/// The attributes of a layer with window `g`: its stride and padding, which its type
/// fixes ([`AttrSpec::structure`]), so that a file says how the layer was computed and a
/// file of other geometry is refused.
pub(crate) const fn window_attrs(g: &Window) -> [AttrSpec; 3] {
    [
        AttrSpec::structure("stride", g.stride()),
        AttrSpec::structure("pad_top", g.pad_top()),
        AttrSpec::structure("pad_left", g.pad_left()),
    ]
}

impl<
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
> Clone for Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>
{
    fn clone(&self) -> Self {
        Self::new(self.weight, self.bias)
    }

    /// Array by array, with no copy of the whole layer on the stack.
    fn clone_from(&mut self, source: &Self) {
        self.weight.clone_from(&source.weight);
        self.bias.clone_from(&source.bias);
    }
}

impl<
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
> Zero for Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>
{
    const ZERO: Self = Self::ZERO;
}

impl<
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
> Params for Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>
{
    const TENSORS: usize = 2;
    fn tensor(&self, i: usize) -> &[f32] {
        match i {
            0 => self.weight_matrix(),
            1 => &self.bias,
            _ => no_tensor(i),
        }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        match i {
            0 => self.weight_matrix_mut(),
            1 => &mut self.bias,
            _ => no_tensor(i),
        }
    }
    /// The weights as a `K × KH·KW·C` matrix, one row per filter (so that max-norm and
    /// weight decay see one row per output channel), and the biases.
    fn info(i: usize) -> ParamInfo {
        let (name, kind, rows, cols) = match i {
            0 => ("weight", ParamKind::Weight, K, KH * KW * C),
            1 => ("bias", ParamKind::Bias, 1, K),
            _ => no_tensor(i),
        };
        ParamInfo {
            layer: 0,
            name,
            kind,
            rows,
            cols,
        }
    }
}

impl<
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
> Infer for Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>
{
    type Input = [[[f32; C]; W]; H];
    type Output = [[[f32; K]; OW]; OH];
    /// The input and output where they live in the arena, and a block of
    /// [`INFER_PATCHES`] patches ([`PatchBlock`]).
    type Footprint<I: Place, O: Place> =
        Both<Mapping<I, O, Self::Input, Self::Output>, PatchBlock<KH, KW, C>>;

    /// At [`Backend::Simd`](kernels::Backend::Simd) on x86 and AArch64, with room in
    /// `scratch` for the padded map where the windows overhang it
    /// ([`Window::padded_len`]; the footprint's [`INFER_PATCHES`] patches hold it for
    /// small maps, e.g. `(H + 2)·(W + 2) ≤ 288` for a 3×3 `Same` kernel, so 14×14 but not
    /// 28×28), [`kernels::conv_ordered`]: the patches read in place, the same bits.
    /// Otherwise:
    /// patches into `scratch`, as many whole ones as it holds (the footprint promises
    /// [`INFER_PATCHES`]; inside a network the arena often has room for more), then one
    /// [`kernels::gemm_nt_ordered`] for their pixels' outputs, block after block. It sums
    /// each output the same way whatever the block, so the bits do not depend on the
    /// room, and are those of the training pass. With less scratch than a patch
    /// (`KH·KW·C` values) and no in-place product, the same outputs (to rounding) from
    /// dot products of the input's runs, without a buffer.
    #[inline]
    fn forward_with(&self, x: &Self::Input, y: &mut Self::Output, scratch: &mut [f32]) {
        let g = Self::WINDOW;
        let n = g.patch_len();
        let x = x.as_flattened().as_flattened();
        let w = self.weight_matrix();
        let flat_y = y.as_flattened_mut().as_flattened_mut();
        if kernels::conv_ordered(&g, x, w, &self.bias, flat_y, scratch) {
            return;
        }
        let block = (scratch.len() / n).min(OH * OW);
        if block == 0 {
            return self.forward_direct(x, y.as_flattened_mut());
        }
        let y = y.as_flattened_mut().as_flattened_mut();
        for (first, out) in (0..).step_by(block).zip(y.chunks_mut(block * K)) {
            let m = out.len() / K;
            let patches = &mut scratch[..m * n];
            for (q, patch) in (first..).zip(patches.chunks_exact_mut(n)) {
                kernels::conv::patch(&g, x, q / OW, q % OW, patch);
            }
            kernels::gemm_nt_ordered(patches, w, &self.bias, out, m, K, n);
        }
    }
}

impl<
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
> Primitive for Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>
{
    const SPEC: LayerSpec = LayerSpec {
        kind: "conv2d",
        input: Shape::rank3(H, W, C),
        output: Shape::rank3(OH, OW, K),
        tensors: &[
            TensorSpec::learned("weight", ParamKind::Weight, Shape::rank4(K, KH, KW, C)),
            TensorSpec::learned("bias", ParamKind::Bias, Shape::vector(K)),
        ],
        attrs: &window_attrs(&Self::WINDOW),
        ordered: &[],
        int8_io: false,
    };
}

impl<
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
> LayerData for Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>
{
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::layers::Conv2d::from_parts"
    }
    fn tensor(&self, i: usize) -> Option<TensorRef<'_>> {
        match i {
            0 => Some(TensorRef::F32(self.weight_matrix())),
            1 => Some(TensorRef::F32(&self.bias)),
            _ => None,
        }
    }
    fn tensor_mut(&mut self, i: usize) -> Option<TensorMut<'_>> {
        match i {
            0 => Some(TensorMut::F32(self.weight_matrix_mut())),
            1 => Some(TensorMut::F32(&mut self.bias)),
            _ => None,
        }
    }
    /// `stride`, `pad_top`, `pad_left`: fixed by the type.
    fn attr(&self, i: usize) -> Option<Attr> {
        window_attr(&Self::WINDOW, i)
    }
    /// Accepts only the type's own value (the stride and padding cannot change).
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        self.attr(i) == Some(value)
    }
}

/// One patch: the `KH × KW × C` values a window sees, in the order of a filter's weights.
pub type Patch<const KH: usize, const KW: usize, const C: usize> = [[[f32; C]; KW]; KH];

/// Patches [`Conv2d`]'s inference footprint has room for ([`PatchBlock`]), so that
/// [`Scratch`](crate::net::Scratch) holds a block of them:
///
/// - **32** where [`kernels::gemm_nt_ordered`] has SIMD levels (x86, x86-64, AArch64):
///   from 8 rows on it packs the filters once per call and sweeps them with register tiles
///   (6 or 12 rows), so a block of 32 spreads the packing over 32 pixels, where one patch
///   per call would transpose the whole filter bank for every output pixel (a 3×3 16 → 32
///   convolution on 14×14, measured when the block was the only path: 29 µs at 32
///   patches, 42 at 16, 74 at 8, 166 at one). Where the block also holds the input map
///   with its padding, inference reads the patches in place instead
///   ([`kernels::conv_ordered`]: 13 µs for the same layer), and the block is only room.
/// - **1** on every other architecture (the Cortex-M cores, RISC-V, WebAssembly), where the product is the scalar reference,
///   whose cost per patch does not depend on the block: more room would be RAM for
///   nothing.
///
/// The block changes speed, not bits: every output is summed in the same order whatever
/// the number of patches per call.
pub const INFER_PATCHES: usize = size_of::<PatchBlock<1, 1, 1>>() / size_of::<f32>();

/// The patches [`Conv2d`]'s inference footprint holds: [`INFER_PATCHES`] of them,
/// `INFER_PATCHES·KH·KW·C` values, as arena pieces (32 [`Patch`]es are five levels of
/// [`Both`] pairs, since an array of them would be a rank-4 tensor).
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
pub type PatchBlock<const KH: usize, const KW: usize, const C: usize> =
    Pair<Pair<Pair<Pair<Pair<Patch<KH, KW, C>>>>>>;
/// The patches [`Conv2d`]'s inference footprint holds: [`INFER_PATCHES`] of them (one
/// here), `INFER_PATCHES·KH·KW·C` values.
#[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
pub type PatchBlock<const KH: usize, const KW: usize, const C: usize> = Patch<KH, KW, C>;

/// Room for two `T`s.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
type Pair<T> = Both<T, T>;

/// The patches of every output pixel of a batch of `B` samples: `B·OH·OW` rows of
/// `KH·KW·C` values, contiguous, sample after sample and row-major by pixel.
pub type Patches<
    const B: usize,
    const OH: usize,
    const OW: usize,
    const KH: usize,
    const KW: usize,
    const C: usize,
> = [[[Patch<KH, KW, C>; OW]; OH]; B];

/// What [`Conv2d`] keeps between the training forward pass and the backward pass for a
/// batch of `B`: the patches of every output pixel of every sample, and room for their
/// gradients. Each is `B·OH·OW × KH·KW·C` values, row-major by pixel (sample after
/// sample), as a nested array whose type states its size ([`Patches`]).
#[derive(Debug, PartialEq)]
pub struct Conv2dCache<
    const B: usize,
    const OH: usize,
    const OW: usize,
    const KH: usize,
    const KW: usize,
    const C: usize,
> {
    /// The patches of the batch last passed to [`Layer::forward_train`], for the weight
    /// gradient. Where the forward pass reads them in place from the input
    /// ([`kernels::conv_ordered`]), it uses this room for the padded map, and the backward
    /// pass writes the patches.
    pub patches: Patches<B, OH, OW, KH, KW, C>,
    /// Room for the gradient of the loss with respect to the patches: the backward pass
    /// writes one sample's there at a time, before col2im adds it into the input
    /// gradient.
    pub dpatches: Patches<B, OH, OW, KH, KW, C>,
    /// Whether the forward pass read the patches in place, so that `patches` is not
    /// written yet.
    in_place: bool,
}

impl<
    const B: usize,
    const OH: usize,
    const OW: usize,
    const KH: usize,
    const KW: usize,
    const C: usize,
> Zero for Conv2dCache<B, OH, OW, KH, KW, C>
{
    const ZERO: Self = Conv2dCache {
        patches: Zero::ZERO,
        dpatches: Zero::ZERO,
        in_place: false,
    };
}

/// im2col of every map of `x` (`g.input_len()` values each) into `patches`, map after map.
fn im2col_batch(g: &Window, x: &[f32], patches: &mut [f32]) {
    let per_map = g.pixels() * g.patch_len();
    for (xb, pb) in x
        .chunks_exact(g.input_len())
        .zip(patches.chunks_exact_mut(per_map))
    {
        kernels::conv::im2col(g, xb, pb);
    }
}

/// A batch of patches as one flat slice.
#[inline]
fn flat<
    const B: usize,
    const OH: usize,
    const OW: usize,
    const KH: usize,
    const KW: usize,
    const C: usize,
>(
    p: &Patches<B, OH, OW, KH, KW, C>,
) -> &[f32] {
    p.as_flattened()
        .as_flattened()
        .as_flattened()
        .as_flattened()
        .as_flattened()
}

/// A batch of patches as one flat mutable slice.
#[inline]
fn flat_mut<
    const B: usize,
    const OH: usize,
    const OW: usize,
    const KH: usize,
    const KW: usize,
    const C: usize,
>(
    p: &mut Patches<B, OH, OW, KH, KW, C>,
) -> &mut [f32] {
    p.as_flattened_mut()
        .as_flattened_mut()
        .as_flattened_mut()
        .as_flattened_mut()
        .as_flattened_mut()
}

impl<
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
> Layer for Conv2d<H, W, C, K, KH, KW, OH, OW, STRIDE, P>
{
    type Grad = Self;
    type Cache<const B: usize> = Conv2dCache<B, OH, OW, KH, KW, C>;

    fn forward_train<const B: usize>(
        &mut self,
        x: &[Self::Input; B],
        y: &mut [Self::Output; B],
        cache: &mut Self::Cache<B>,
        _: &mut Context,
    ) {
        let g = Self::WINDOW;
        let patches = flat_mut(&mut cache.patches);
        let xs = Self::Input::batch_slice(x);
        let ys = Self::Output::batch_slice_mut(y);
        // The patches' room is free until the backward pass: it holds the padded map.
        cache.in_place =
            kernels::conv_ordered(&g, xs, self.weight_matrix(), &self.bias, ys, patches);
        if cache.in_place {
            return;
        }
        im2col_batch(&g, xs, patches);
        let (m, n) = (B * OH * OW, g.patch_len());
        kernels::gemm_nt_ordered(patches, self.weight_matrix(), &self.bias, ys, m, K, n);
    }

    fn backward<const B: usize>(
        &self,
        x: &[Self::Input; B],
        _: &[Self::Output; B],
        dy: &[Self::Output; B],
        dx: Option<&mut [Self::Input; B]>,
        cache: &mut Self::Cache<B>,
        grad: &mut Self,
    ) {
        let g = Self::WINDOW;
        let (m, n) = (B * OH * OW, g.patch_len());
        let dy = Self::Output::batch_slice(dy);
        // dW += dYᵀ·patches, the patches written first if the forward pass did not
        if cache.in_place {
            im2col_batch(
                &g,
                Self::Input::batch_slice(x),
                flat_mut(&mut cache.patches),
            );
            cache.in_place = false;
        }
        kernels::gemm_tn_acc(dy, flat(&cache.patches), grad.weight_matrix_mut(), K, n, m);
        // db += Σ dY, pixel after pixel
        for row in dy.chunks_exact(K) {
            for (d, v) in grad.bias.iter_mut().zip(row) {
                *d += v;
            }
        }
        // dX = col2im(dY·W), sample by sample, so that a sample's patch gradients are
        // added while they are in cache: the bits of one product for the batch, since
        // each row of dY·W is summed on its own.
        if let Some(dx) = dx {
            let room = &mut flat_mut(&mut cache.dpatches)[..OH * OW * n];
            for (dxb, dyb) in dx.iter_mut().zip(dy.chunks_exact(OH * OW * K)) {
                kernels::gemm_nn(dyb, self.weight_matrix(), room, OH * OW, n, K);
                let dxb = dxb.as_flattened_mut().as_flattened_mut();
                dxb.fill(0.0);
                kernels::conv::col2im_add(&g, room, dxb);
            }
        }
    }

    /// Draws the filters with fan-in `KH·KW·C` (the inputs of one output) and fan-out
    /// `KH·KW·K` (the outputs one input reaches, away from the borders); biases zero.
    fn init(&mut self, scheme: Init, rng: &mut Rng) {
        scheme.fill(self.weight_matrix_mut(), KH * KW * C, KH * KW * K, rng);
        self.bias = [0.0; K];
    }
}
