//! Fixed-size tensors: nested `f32` arrays with a flat view.
//!
//! A layer's input and output are plain arrays — `[f32; N]` for a vector, `[[[f32; W]; H]; C]`
//! for an image with channels — so their sizes are part of the type and the compiler checks
//! every connection. Kernels want flat slices; [`Tensor`] provides them without copying.

/// Values with a compile-time zero (or neutral) constant, so they can be built in a `const`
/// context and placed in a `static`.
pub trait Zero: Sized {
    /// The all-zero value.
    const ZERO: Self;
}

impl Zero for () {
    const ZERO: Self = ();
}

impl Zero for f32 {
    const ZERO: Self = 0.0;
}

impl Zero for i8 {
    const ZERO: Self = 0;
}

impl Zero for i32 {
    const ZERO: Self = 0;
}

impl Zero for bool {
    const ZERO: Self = false;
}

impl<T> Zero for Option<T> {
    const ZERO: Self = None;
}

impl<T: Zero, const N: usize> Zero for [T; N] {
    const ZERO: Self = [const { T::ZERO }; N];
}

impl<A: Zero, B: Zero> Zero for (A, B) {
    const ZERO: Self = (A::ZERO, B::ZERO);
}

/// A fixed-size block of `f32` with a flat, row-major view.
///
/// Implemented for `[f32; N]`, `[[f32; N]; M]` and `[[[f32; N]; M]; C]`.
pub trait Tensor: Zero + 'static {
    /// Number of scalars.
    const LEN: usize;
    /// The scalars in row-major order.
    fn as_slice(&self) -> &[f32];
    /// The scalars in row-major order, mutably.
    fn as_mut_slice(&mut self) -> &mut [f32];
    /// A batch of tensors as one flat slice of `B · LEN` scalars (sample after sample).
    fn batch_slice<const B: usize>(batch: &[Self; B]) -> &[f32];
    /// A batch of tensors as one flat mutable slice of `B · LEN` scalars.
    fn batch_slice_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [f32];
}

impl<const N: usize> Tensor for [f32; N] {
    const LEN: usize = N;
    #[inline]
    fn as_slice(&self) -> &[f32] {
        self
    }
    #[inline]
    fn as_mut_slice(&mut self) -> &mut [f32] {
        self
    }
    #[inline]
    fn batch_slice<const B: usize>(batch: &[Self; B]) -> &[f32] {
        batch.as_flattened()
    }
    #[inline]
    fn batch_slice_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [f32] {
        batch.as_flattened_mut()
    }
}

impl<const N: usize, const M: usize> Tensor for [[f32; N]; M] {
    const LEN: usize = N * M;
    #[inline]
    fn as_slice(&self) -> &[f32] {
        self.as_flattened()
    }
    #[inline]
    fn as_mut_slice(&mut self) -> &mut [f32] {
        self.as_flattened_mut()
    }
    #[inline]
    fn batch_slice<const B: usize>(batch: &[Self; B]) -> &[f32] {
        batch.as_flattened().as_flattened()
    }
    #[inline]
    fn batch_slice_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [f32] {
        batch.as_flattened_mut().as_flattened_mut()
    }
}

impl<const N: usize, const M: usize, const C: usize> Tensor for [[[f32; N]; M]; C] {
    const LEN: usize = N * M * C;
    #[inline]
    fn as_slice(&self) -> &[f32] {
        self.as_flattened().as_flattened()
    }
    #[inline]
    fn as_mut_slice(&mut self) -> &mut [f32] {
        self.as_flattened_mut().as_flattened_mut()
    }
    #[inline]
    fn batch_slice<const B: usize>(batch: &[Self; B]) -> &[f32] {
        batch.as_flattened().as_flattened().as_flattened()
    }
    #[inline]
    fn batch_slice_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [f32] {
        batch
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
    }
}
