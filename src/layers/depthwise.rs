//! Depthwise 2-D convolution (depth multiplier 1) of channels-last feature maps
//! ([`DepthwiseConv2d`], documented there).

use core::marker::PhantomData;

use super::Padding;
use super::conv::{attrs_match, window_attr, window_attrs};
use super::{Context, Layer, ParamInfo, ParamKind, Params, Same, no_tensor};
use crate::arena::{Mapping, Place};
use crate::init::Init;
use crate::kernels;
use crate::kernels::conv::{Window, output_len};
use crate::net::Infer;
use crate::rng::Rng;
use crate::spec::{Attr, LayerData, LayerSpec, Primitive, TensorMut, TensorRef, TensorSpec};
use crate::tensor::{Shape, Zero};

/// Depthwise convolution of an `H × W × C` map, one `KH × KW` kernel per channel, stride
/// `STRIDE` and padding `P`, into an `OH × OW × C` map. Its `Grad` is a `DepthwiseConv2d`
/// of the same shape.
///
/// Each channel is convolved with its own `KH × KW` kernel (depth multiplier 1):
///
/// `y[oy][ox][ch] = bias[ch] + Σ_{i<KH, j<KW} x[oy·STRIDE + i − pad_top][ox·STRIDE + j − pad_left][ch] · weight[i][j][ch]`
///
/// with `x` read as zero outside the map, and `OH`, `OW`, `pad_top`, `pad_left` given by
/// the [`Padding`] rule, checked where the layer is used as [`Conv2d`](super::Conv2d)'s.
/// The weights are `[[[f32; C]; KW]; KH]`, TensorFlow Lite's
/// `[1, KH, KW, C]`: the channels are contiguous in the input, the weights and the
/// output, so the kernels ([`kernels::conv::depthwise`] and its gradients) loop over the
/// window taps and are vectorized over the channels. No patch is gathered: inference
/// needs no memory besides its input and output, and training keeps no cache (the
/// backward pass reads the input again).
///
/// # Examples
/// ```
/// use firmnet::layers::{DepthwiseConv2d, Valid};
/// use firmnet::prelude::*;
///
/// // Two channels, 3×3 kernels, stride 1, no padding: 4×4×2 → 2×2×2.
/// let mut dw = DepthwiseConv2d::<4, 4, 2, 3, 3, 2, 2, 1, Valid>::ZERO;
/// dw.weight = [[[1.0, 0.0]; 3]; 3]; // channel 0: the window's sum; channel 1: nothing
/// dw.bias = [0.0, -1.0];
/// let x = [[[1.0, 5.0]; 4]; 4];
/// let mut y = [[[0.0; 2]; 2]; 2];
/// dw.forward_with(&x, &mut y, &mut []); // needs no scratch
/// assert_eq!(y, [[[9.0, -1.0]; 2]; 2]);
/// ```
///
/// `OH` and `OW` must be what the padding rule gives, or the layer does not compile:
///
/// ```compile_fail
/// use firmnet::layers::{DepthwiseConv2d, Valid};
/// // Without padding, 3×3 windows fit 2 times in 4 columns, not 4 times.
/// static BAD: DepthwiseConv2d<4, 4, 2, 3, 3, 2, 4, 1, Valid> = DepthwiseConv2d::ZERO;
/// ```
#[derive(Debug, PartialEq)]
pub struct DepthwiseConv2d<
    const H: usize,
    const W: usize,
    const C: usize,
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize = 1,
    P: Padding = Same,
> {
    /// The kernels, `[KH][KW][C]` (TensorFlow Lite's `[1, KH, KW, C]`): tap `(i, j)` of
    /// every channel together.
    pub weight: [[[f32; C]; KW]; KH],
    /// One bias per channel.
    pub bias: [f32; C],
    padding: PhantomData<P>,
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
> DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    /// The layer's geometry, checked when the compiler evaluates it: every size at least
    /// 1, and `OH`, `OW` those of the padding rule. Every constructor and computation of
    /// the layer reads it, so a layer with wrong sizes does not compile.
    pub const WINDOW: Window = {
        assert!(
            H > 0 && W > 0 && C > 0 && KH > 0 && KW > 0,
            "DepthwiseConv2d: every size must be at least 1"
        );
        assert!(STRIDE > 0, "DepthwiseConv2d: STRIDE must be at least 1");
        assert!(
            OH == output_len(H, KH, STRIDE, P::SAME),
            "DepthwiseConv2d: OH does not match H, KH, STRIDE and the padding"
        );
        assert!(
            OW == output_len(W, KW, STRIDE, P::SAME),
            "DepthwiseConv2d: OW does not match W, KW, STRIDE and the padding"
        );
        match Window::new(H, W, C, KH, KW, STRIDE, P::SAME) {
            Some(window) => window,
            None => panic!("DepthwiseConv2d: the kernel is larger than the input"),
        }
    };

    /// All weights and biases zero. Call [`Layer::init`] before training.
    pub const ZERO: Self = Self::new([[[0.0; C]; KW]; KH], [0.0; C]);

    /// The layer with these kernels and biases.
    pub const fn new(weight: [[[f32; C]; KW]; KH], bias: [f32; C]) -> Self {
        let _window: Window = Self::WINDOW;
        DepthwiseConv2d {
            weight,
            bias,
            padding: PhantomData,
        }
    }

    /// The layer with these kernels and biases, and the attributes its spec lists
    /// (`stride`, `pad_top`, `pad_left`), which its type fixes: the constructor of Rust
    /// source written by [`format::rust_source`](crate::format::rust_source).
    ///
    /// # Panics
    /// If an attribute is not the type's (in a `const` or `static` item: a compile error).
    pub const fn from_parts(
        weight: [[[f32; C]; KW]; KH],
        bias: [f32; C],
        stride: i32,
        pad_top: i32,
        pad_left: i32,
    ) -> Self {
        assert!(
            attrs_match(&Self::WINDOW, stride, pad_top, pad_left),
            "DepthwiseConv2d::from_parts: stride or padding differ from the layer type's"
        );
        Self::new(weight, bias)
    }

    /// The kernels as one flat slice, `[KH][KW][C]`.
    #[inline]
    pub fn weight_flat(&self) -> &[f32] {
        self.weight.as_flattened().as_flattened()
    }

    /// The kernels as one flat mutable slice, `[KH][KW][C]`.
    #[inline]
    pub fn weight_flat_mut(&mut self) -> &mut [f32] {
        self.weight.as_flattened_mut().as_flattened_mut()
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
> Clone for DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
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
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding,
> Zero for DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
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
> Params for DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    const TENSORS: usize = 2;
    fn tensor(&self, i: usize) -> &[f32] {
        match i {
            0 => self.weight_flat(),
            1 => &self.bias,
            _ => no_tensor(i),
        }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        match i {
            0 => self.weight_flat_mut(),
            1 => &mut self.bias,
            _ => no_tensor(i),
        }
    }
    /// The weights as one row of `KH·KW·C` (a channel's kernel is strided in the
    /// `[KH][KW][C]` layout, so there is no row per channel: max-norm constrains all the
    /// kernels together), and the biases.
    fn info(i: usize) -> ParamInfo {
        let (name, kind, rows, cols) = match i {
            0 => ("weight", ParamKind::Weight, 1, KH * KW * C),
            1 => ("bias", ParamKind::Bias, 1, C),
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
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding,
> Infer for DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    type Input = [[[f32; C]; W]; H];
    type Output = [[[f32; C]; OW]; OH];
    type Footprint<I: Place, O: Place> = Mapping<I, O, Self::Input, Self::Output>;

    #[inline]
    fn forward_with(&self, x: &Self::Input, y: &mut Self::Output, _: &mut [f32]) {
        kernels::conv::depthwise(
            &Self::WINDOW,
            x.as_flattened().as_flattened(),
            self.weight_flat(),
            &self.bias,
            y.as_flattened_mut().as_flattened_mut(),
        );
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
> Primitive for DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    const SPEC: LayerSpec = LayerSpec {
        kind: "depthwise_conv2d",
        input: Shape::rank3(H, W, C),
        output: Shape::rank3(OH, OW, C),
        tensors: &[
            TensorSpec::learned("weight", ParamKind::Weight, Shape::rank3(KH, KW, C)),
            TensorSpec::learned("bias", ParamKind::Bias, Shape::vector(C)),
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
    const KH: usize,
    const KW: usize,
    const OH: usize,
    const OW: usize,
    const STRIDE: usize,
    P: Padding,
> LayerData for DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::layers::DepthwiseConv2d::from_parts"
    }
    fn tensor(&self, i: usize) -> Option<TensorRef<'_>> {
        match i {
            0 => Some(TensorRef::F32(self.weight_flat())),
            1 => Some(TensorRef::F32(&self.bias)),
            _ => None,
        }
    }
    fn tensor_mut(&mut self, i: usize) -> Option<TensorMut<'_>> {
        match i {
            0 => Some(TensorMut::F32(self.weight_flat_mut())),
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
> Layer for DepthwiseConv2d<H, W, C, KH, KW, OH, OW, STRIDE, P>
{
    type Grad = Self;
    type Cache<const B: usize> = ();

    fn forward_train<const B: usize>(
        &mut self,
        x: &[Self::Input; B],
        y: &mut [Self::Output; B],
        _: &mut (),
        _: &mut Context,
    ) {
        let g = Self::WINDOW;
        for (xb, yb) in x.iter().zip(y.iter_mut()) {
            kernels::conv::depthwise(
                &g,
                xb.as_flattened().as_flattened(),
                self.weight_flat(),
                &self.bias,
                yb.as_flattened_mut().as_flattened_mut(),
            );
        }
    }

    fn backward<const B: usize>(
        &self,
        x: &[Self::Input; B],
        _: &[Self::Output; B],
        dy: &[Self::Output; B],
        mut dx: Option<&mut [Self::Input; B]>,
        _: &mut (),
        grad: &mut Self,
    ) {
        let g = Self::WINDOW;
        for (b, (xb, dyb)) in x.iter().zip(dy).enumerate() {
            let dyb = dyb.as_flattened().as_flattened();
            kernels::conv::depthwise_params_grad(
                &g,
                xb.as_flattened().as_flattened(),
                dyb,
                grad.weight.as_flattened_mut().as_flattened_mut(),
                &mut grad.bias,
            );
            if let Some(dxb) = dx.as_deref_mut().and_then(|dx| dx.get_mut(b)) {
                kernels::conv::depthwise_input_grad(
                    &g,
                    self.weight_flat(),
                    dyb,
                    dxb.as_flattened_mut().as_flattened_mut(),
                );
            }
        }
    }

    /// Draws the kernels with fan-in and fan-out `KH·KW` (each output sees `KH·KW`
    /// inputs of its channel, each input reaches as many outputs); biases zero.
    fn init(&mut self, scheme: Init, rng: &mut Rng) {
        scheme.fill(self.weight_flat_mut(), KH * KW, KH * KW, rng);
        self.bias = [0.0; C];
    }
}
