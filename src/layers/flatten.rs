//! Flattening a feature map into a vector: [`Flatten`].
//!
//! A channels-last feature map `[[[f32; C]; W]; H]` and the vector `[f32; N]` with
//! `N = H·W·C` hold the same values in the same order: element `(h, w, c)` is element
//! `(h·W + w)·C + c` of the vector (TensorFlow Lite's `RESHAPE` of an NHWC tensor). So
//! flattening moves nothing. At inference the layer computes in place and costs no arena
//! memory; in training it copies.

use super::{Context, Layer, no_params};
use crate::arena::{InPlace, Place};
use crate::net::Infer;
use crate::spec::{Attr, LayerData, LayerSpec, Primitive, TensorMut, TensorRef};
use crate::tensor::{Shape, Tensor, Zero, copy};

/// The `H × W × C` feature map as the vector of its `N = H·W·C` values, in row-major
/// (channels-last) order: the bridge from convolutional layers to [`Dense`](super::Dense)
/// ones. `N` is stated (Rust cannot compute it from the others) and checked at compile
/// time.
///
/// ```
/// use firmnet::layers::Flatten;
/// use firmnet::prelude::*;
///
/// let flatten = Flatten::<2, 2, 2, 8>::DEFAULT;
/// let x = [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]];
/// let mut y = [0.0; 8];
/// flatten.forward_with(&x, &mut y, &mut []);
/// assert_eq!(y, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
/// ```
///
/// A wrong `N` does not compile:
///
/// ```compile_fail
/// use firmnet::layers::Flatten;
/// static FLATTEN: Flatten<2, 2, 2, 6> = Flatten::DEFAULT;
/// ```
pub struct Flatten<const H: usize, const W: usize, const C: usize, const N: usize>;

impl<const H: usize, const W: usize, const C: usize, const N: usize> Flatten<H, W, C, N> {
    /// The compile-time check of the sizes, evaluated wherever the layer is used.
    const CHECK: () = assert!(N == H * W * C, "Flatten: N must be H·W·C");

    /// The layer (it has no parameters). Fails to compile unless `N = H·W·C`.
    pub const DEFAULT: Self = {
        let () = Self::CHECK;
        Flatten
    };

    /// The layer (the constructor of Rust source).
    pub const fn from_parts() -> Self {
        Self::DEFAULT
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> Clone for Flatten<H, W, C, N> {
    fn clone(&self) -> Self {
        Flatten
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> core::fmt::Debug
    for Flatten<H, W, C, N>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Flatten({H}×{W}×{C} → {N})")
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> PartialEq
    for Flatten<H, W, C, N>
{
    /// Always equal: the type says everything.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> Default
    for Flatten<H, W, C, N>
{
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> Zero for Flatten<H, W, C, N> {
    const ZERO: Self = Self::DEFAULT;
}

no_params!([const H: usize, const W: usize, const C: usize, const N: usize] Flatten<H, W, C, N>);

impl<const H: usize, const W: usize, const C: usize, const N: usize> Infer for Flatten<H, W, C, N> {
    type Input = [[[f32; C]; W]; H];
    type Output = [f32; N];
    type Footprint<I: Place, O: Place> = InPlace<I, O, [f32; N]>;
    /// The values stay where they are: in a network's arena the vector is the feature map.
    const IN_PLACE: bool = true;

    #[inline]
    fn forward_with(&self, x: &[[[f32; C]; W]; H], y: &mut [f32; N], _: &mut [f32]) {
        let () = Self::CHECK;
        copy(x.as_flattened().as_flattened(), y);
    }

    /// Nothing to do: the feature map already is the vector.
    #[inline]
    fn apply(&self, _: &mut [f32; N]) {
        let () = Self::CHECK;
    }
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> Primitive
    for Flatten<H, W, C, N>
{
    const SPEC: LayerSpec = {
        let () = Self::CHECK;
        LayerSpec {
            kind: "flatten",
            input: Shape::rank3(H, W, C),
            output: Shape::vector(N),
            tensors: &[],
            attrs: &[],
            ordered: &[],
            int8_io: false,
        }
    };
}

impl<const H: usize, const W: usize, const C: usize, const N: usize> LayerData
    for Flatten<H, W, C, N>
{
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::layers::Flatten::from_parts"
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

impl<const H: usize, const W: usize, const C: usize, const N: usize> Layer for Flatten<H, W, C, N> {
    type Grad = ();
    type Cache<const B: usize> = ();

    fn forward_train<const B: usize>(
        &mut self,
        x: &[[[[f32; C]; W]; H]; B],
        y: &mut [[f32; N]; B],
        _: &mut (),
        _: &mut Context,
    ) {
        let () = Self::CHECK;
        copy(<[[[f32; C]; W]; H]>::batch_slice(x), y.as_flattened_mut());
    }

    /// The gradient is reshaped back: `dx` holds `dy`'s values.
    fn backward<const B: usize>(
        &self,
        _: &[[[[f32; C]; W]; H]; B],
        _: &[[f32; N]; B],
        dy: &[[f32; N]; B],
        dx: Option<&mut [[[[f32; C]; W]; H]; B]>,
        _: &mut (),
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            copy(dy.as_flattened(), <[[[f32; C]; W]; H]>::batch_slice_mut(dx));
        }
    }
}
