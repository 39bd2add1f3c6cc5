//! Fixed-size tensors: nested arrays of `f32` (float networks) or `i8` (int8 networks) with
//! a flat view.
//!
//! A layer's input and output are plain arrays — `[f32; N]` for a vector, `[[[f32; C]; W]; H]`
//! for a feature map of `H` rows, `W` columns and `C` channels (channels last, as TensorFlow
//! Lite and CMSIS-NN store them) — so their sizes are part of the type and the compiler
//! checks every connection. Kernels want flat slices; [`Tensor`] provides them without
//! copying, and builds a typed view over a flat slice (how an inference arena hands out its
//! activations, see [`arena`](crate::arena)).

use core::fmt::Debug;

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

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for i8 {}
}

/// The element type of a tensor: `f32` in float networks, `i8` in int8 networks. Every bit
/// pattern is a valid value of both, which is what lets an inference arena hand out typed
/// views of its memory.
pub trait Scalar: Copy + Zero + PartialEq + Debug + Send + Sync + 'static + sealed::Sealed {
    /// The element type a file stores it as.
    const DTYPE: crate::spec::Dtype;
}

impl Scalar for f32 {
    const DTYPE: crate::spec::Dtype = crate::spec::Dtype::F32;
}
impl Scalar for i8 {
    const DTYPE: crate::spec::Dtype = crate::spec::Dtype::I8;
}

/// The shape of a tensor, up to rank 4, outermost dimension first: `[256]` for a vector,
/// `[28, 28, 1]` for an image in height × width × channels order, `[16, 3, 3, 8]` for the
/// weights of a convolution. Built in `const` contexts from the const generics of a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; Shape::MAX_RANK],
    rank: usize,
    /// The product of the dimensions, computed once (saturated at `usize::MAX`).
    len: usize,
}

impl Shape {
    /// The largest rank a shape (and a stored tensor) has.
    pub const MAX_RANK: usize = 4;

    /// A scalar (rank 0, one element).
    pub const SCALAR: Shape = Shape::of([0; 4], 0);

    /// The shape of the first `rank` of `dims` (the others must be 0).
    const fn of(dims: [usize; Shape::MAX_RANK], rank: usize) -> Shape {
        let mut len: usize = 1;
        let mut i = 0;
        while i < rank && i < Self::MAX_RANK {
            len = len.saturating_mul(dims[i]);
            i += 1;
        }
        Shape { dims, rank, len }
    }

    /// `[n]`.
    pub const fn vector(n: usize) -> Shape {
        Shape::of([n, 0, 0, 0], 1)
    }

    /// `[rows, cols]`.
    pub const fn matrix(rows: usize, cols: usize) -> Shape {
        Shape::of([rows, cols, 0, 0], 2)
    }

    /// `[a, b, c]`.
    pub const fn rank3(a: usize, b: usize, c: usize) -> Shape {
        Shape::of([a, b, c, 0], 3)
    }

    /// `[a, b, c, d]`.
    pub const fn rank4(a: usize, b: usize, c: usize, d: usize) -> Shape {
        Shape::of([a, b, c, d], 4)
    }

    /// The shape with the given dimensions; `None` above rank [`MAX_RANK`](Self::MAX_RANK).
    pub const fn new(dims: &[usize]) -> Option<Shape> {
        if dims.len() > Self::MAX_RANK {
            return None;
        }
        let mut d = [0; Self::MAX_RANK];
        let mut i = 0;
        while i < dims.len() {
            d[i] = dims[i];
            i += 1;
        }
        Some(Shape::of(d, dims.len()))
    }

    /// Number of dimensions.
    pub const fn rank(&self) -> usize {
        self.rank
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        self.dims.get(..self.rank).unwrap_or_default()
    }

    /// Dimension `i` (0 beyond the rank).
    pub const fn dim(&self, i: usize) -> usize {
        if i < self.rank && i < Self::MAX_RANK {
            self.dims[i]
        } else {
            0
        }
    }

    /// Number of elements: the product of the dimensions (1 for a scalar), saturated at
    /// `usize::MAX`.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the shape holds no element (a dimension is 0).
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first dimension (the rows of a weight matrix, the output channels of a
    /// convolution's weights), 1 for a scalar.
    pub const fn rows(&self) -> usize {
        if self.rank == 0 { 1 } else { self.dims[0] }
    }

    /// The product of the dimensions after the first: the length of one row.
    pub const fn row_len(&self) -> usize {
        if self.rank == 0 {
            return 1;
        }
        let mut n: usize = 1;
        let mut i = 1;
        while i < self.rank && i < Self::MAX_RANK {
            n = n.saturating_mul(self.dims[i]);
            i += 1;
        }
        n
    }

    /// Whether two shapes are the same (usable in `const` contexts).
    pub const fn same(&self, other: &Shape) -> bool {
        if self.rank != other.rank {
            return false;
        }
        let mut i = 0;
        while i < self.rank && i < Self::MAX_RANK {
            if self.dims[i] != other.dims[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}

impl core::fmt::Display for Shape {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.rank == 0 {
            return f.write_str("()");
        }
        for (i, d) in self.dims().iter().enumerate() {
            if i > 0 {
                f.write_str("×")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A fixed-size block of scalars with a flat, row-major view.
///
/// Implemented for `[E; N]`, `[[E; N]; M]` and `[[[E; N]; M]; C]` with `E` a [`Scalar`].
pub trait Tensor: Zero + Copy + Send + Sync + 'static {
    /// The element type.
    type Elem: Scalar;
    /// Number of scalars.
    const LEN: usize;
    /// The shape, outermost dimension first.
    const SHAPE: Shape;
    /// The tensor of the same shape with elements of type `E` (`[f32; N]` → `[i8; N]`).
    type Cast<E: Scalar>: Tensor<Elem = E>;
    /// The scalars in row-major order.
    fn as_slice(&self) -> &[Self::Elem];
    /// The scalars in row-major order, mutably.
    fn as_mut_slice(&mut self) -> &mut [Self::Elem];
    /// The first [`LEN`](Self::LEN) scalars of `flat` as a tensor, in place; `None` if
    /// `flat` is shorter.
    fn view(flat: &[Self::Elem]) -> Option<&Self>;
    /// The first [`LEN`](Self::LEN) scalars of `flat` as a tensor, in place and mutably;
    /// `None` if `flat` is shorter.
    fn view_mut(flat: &mut [Self::Elem]) -> Option<&mut Self>;
    /// A batch of tensors as one flat slice of `B · LEN` scalars (sample after sample).
    fn batch_slice<const B: usize>(batch: &[Self; B]) -> &[Self::Elem];
    /// A batch of tensors as one flat mutable slice of `B · LEN` scalars.
    fn batch_slice_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [Self::Elem];
}

impl<E: Scalar, const N: usize> Tensor for [E; N] {
    type Elem = E;
    const LEN: usize = N;
    const SHAPE: Shape = Shape::vector(N);
    type Cast<F: Scalar> = [F; N];
    #[inline]
    fn as_slice(&self) -> &[E] {
        self
    }
    #[inline]
    fn as_mut_slice(&mut self) -> &mut [E] {
        self
    }
    #[inline]
    fn view(flat: &[E]) -> Option<&Self> {
        flat.get(..N)?.try_into().ok()
    }
    #[inline]
    fn view_mut(flat: &mut [E]) -> Option<&mut Self> {
        flat.get_mut(..N)?.try_into().ok()
    }
    #[inline]
    fn batch_slice<const B: usize>(batch: &[Self; B]) -> &[E] {
        batch.as_flattened()
    }
    #[inline]
    fn batch_slice_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [E] {
        batch.as_flattened_mut()
    }
}

impl<E: Scalar, const N: usize, const M: usize> Tensor for [[E; N]; M] {
    type Elem = E;
    const LEN: usize = N * M;
    const SHAPE: Shape = Shape::matrix(M, N);
    type Cast<F: Scalar> = [[F; N]; M];
    #[inline]
    fn as_slice(&self) -> &[E] {
        self.as_flattened()
    }
    #[inline]
    fn as_mut_slice(&mut self) -> &mut [E] {
        self.as_flattened_mut()
    }
    #[inline]
    fn view(flat: &[E]) -> Option<&Self> {
        if N == 0 {
            return None;
        }
        flat.get(..N * M)?.as_chunks::<N>().0.try_into().ok()
    }
    #[inline]
    fn view_mut(flat: &mut [E]) -> Option<&mut Self> {
        if N == 0 {
            return None;
        }
        flat.get_mut(..N * M)?
            .as_chunks_mut::<N>()
            .0
            .try_into()
            .ok()
    }
    #[inline]
    fn batch_slice<const B: usize>(batch: &[Self; B]) -> &[E] {
        batch.as_flattened().as_flattened()
    }
    #[inline]
    fn batch_slice_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [E] {
        batch.as_flattened_mut().as_flattened_mut()
    }
}

impl<E: Scalar, const N: usize, const M: usize, const C: usize> Tensor for [[[E; N]; M]; C] {
    type Elem = E;
    const LEN: usize = N * M * C;
    const SHAPE: Shape = Shape::rank3(C, M, N);
    type Cast<F: Scalar> = [[[F; N]; M]; C];
    #[inline]
    fn as_slice(&self) -> &[E] {
        self.as_flattened().as_flattened()
    }
    #[inline]
    fn as_mut_slice(&mut self) -> &mut [E] {
        self.as_flattened_mut().as_flattened_mut()
    }
    #[inline]
    fn view(flat: &[E]) -> Option<&Self> {
        if N == 0 || M == 0 {
            return None;
        }
        let rows = flat.get(..N * M * C)?.as_chunks::<N>().0;
        rows.as_chunks::<M>().0.try_into().ok()
    }
    #[inline]
    fn view_mut(flat: &mut [E]) -> Option<&mut Self> {
        if N == 0 || M == 0 {
            return None;
        }
        let rows = flat.get_mut(..N * M * C)?.as_chunks_mut::<N>().0;
        rows.as_chunks_mut::<M>().0.try_into().ok()
    }
    #[inline]
    fn batch_slice<const B: usize>(batch: &[Self; B]) -> &[E] {
        batch.as_flattened().as_flattened().as_flattened()
    }
    #[inline]
    fn batch_slice_mut<const B: usize>(batch: &mut [Self; B]) -> &mut [E] {
        batch
            .as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
    }
}

/// Copies `src` into `dst` element by element, as far as both reach (never panics on a
/// length mismatch, which the layer types rule out anyway).
#[inline]
pub(crate) fn copy<E: Copy>(src: &[E], dst: &mut [E]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s;
    }
}
