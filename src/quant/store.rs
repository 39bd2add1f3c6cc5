//! Where an int8 layer's arrays live: in the layer ([`Owned`]) or in a weight file's bytes
//! ([`Borrowed`]) — one layer type for both, as `heapless` does with its storage
//! parameter.
//!
//! An int8 network type such as `QDense<784, 256, S>` serves three deployments with the
//! same code: a `static` compiled into flash and a network built on the host (`S = Owned`,
//! the default), and a view borrowed from a weight file embedded in flash
//! (`S = Borrowed<'a>`), whose weights and per-channel arrays never leave it. A firmware
//! therefore names its network once, generic over `S`; [`Int8<N, S>`](crate::quant::Int8)
//! derives it from the float network type.

use core::borrow::Borrow;
use core::fmt::Debug;
use core::marker::PhantomData;

/// An `OUT × IN` int8 weight matrix, row-major (one row of `IN` weights per output),
/// 4-byte aligned so kernels may read it a word at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C, align(4))]
pub struct QMatrix<const IN: usize, const OUT: usize>(pub [[i8; IN]; OUT]);

impl<const IN: usize, const OUT: usize> Borrow<[[i8; IN]; OUT]> for QMatrix<IN, OUT> {
    fn borrow(&self) -> &[[i8; IN]; OUT] {
        &self.0
    }
}

/// The filters of a convolution with `K` output channels: `K` filters of `KH × KW × C`
/// int8 weights (TensorFlow Lite's OHWI order), 4-byte aligned. Each filter is one
/// contiguous row of `KH·KW·C` weights, so the whole is the `K × KH·KW·C` matrix of a
/// convolution computed as patches times weightsᵀ — a nested array, because a length
/// `KH·KW·C` cannot be written as a const generic argument.
#[derive(Clone, Debug, PartialEq, Eq)]
#[repr(C, align(4))]
pub struct QFilters<const K: usize, const KH: usize, const KW: usize, const C: usize>(
    pub [[[[i8; C]; KW]; KH]; K],
);

impl<const K: usize, const KH: usize, const KW: usize, const C: usize>
    Borrow<[[[[i8; C]; KW]; KH]; K]> for QFilters<K, KH, KW, C>
{
    fn borrow(&self) -> &[[[[i8; C]; KW]; KH]; K] {
        &self.0
    }
}

/// Where the arrays of an int8 layer live. Implemented by [`Owned`] and [`Borrowed`].
pub trait Store: Clone + Debug + PartialEq {
    /// An array of `N` values of `T`.
    type Array<T: Copy + Debug + PartialEq + 'static, const N: usize>: Borrow<[T; N]>
        + Clone
        + Debug
        + PartialEq;
    /// An `OUT × IN` weight matrix.
    type Matrix<const IN: usize, const OUT: usize>: Borrow<[[i8; IN]; OUT]>
        + Clone
        + Debug
        + PartialEq;
    /// The `K` filters of `KH × KW × C` weights of a convolution (see [`QFilters`]).
    type Filters<const K: usize, const KH: usize, const KW: usize, const C: usize>: Borrow<[[[[i8; C]; KW]; KH]; K]>
        + Clone
        + Debug
        + PartialEq;
    /// The array, mutably, if this storage owns it.
    fn array_mut<T: Copy + Debug + PartialEq + 'static, const N: usize>(
        a: &mut Self::Array<T, N>,
    ) -> Option<&mut [T; N]>;
    /// The matrix, mutably, if this storage owns it.
    fn matrix_mut<const IN: usize, const OUT: usize>(
        m: &mut Self::Matrix<IN, OUT>,
    ) -> Option<&mut [[i8; IN]; OUT]>;
    /// The filters, mutably, if this storage owns them.
    fn filters_mut<const K: usize, const KH: usize, const KW: usize, const C: usize>(
        f: &mut Self::Filters<K, KH, KW, C>,
    ) -> Option<&mut [[[[i8; C]; KW]; KH]; K]>;
}

/// The layer holds its arrays: a network built on the host, or a `static` compiled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Owned;

/// The layer borrows its arrays from a weight file's bytes for `'a` (see
/// [`format::view`](crate::format::view)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Borrowed<'a>(PhantomData<&'a [u8]>);

impl Store for Owned {
    type Array<T: Copy + Debug + PartialEq + 'static, const N: usize> = [T; N];
    type Matrix<const IN: usize, const OUT: usize> = QMatrix<IN, OUT>;
    fn array_mut<T: Copy + Debug + PartialEq + 'static, const N: usize>(
        a: &mut [T; N],
    ) -> Option<&mut [T; N]> {
        Some(a)
    }
    fn matrix_mut<const IN: usize, const OUT: usize>(
        m: &mut QMatrix<IN, OUT>,
    ) -> Option<&mut [[i8; IN]; OUT]> {
        Some(&mut m.0)
    }
    type Filters<const K: usize, const KH: usize, const KW: usize, const C: usize> =
        QFilters<K, KH, KW, C>;
    fn filters_mut<const K: usize, const KH: usize, const KW: usize, const C: usize>(
        f: &mut QFilters<K, KH, KW, C>,
    ) -> Option<&mut [[[[i8; C]; KW]; KH]; K]> {
        Some(&mut f.0)
    }
}

impl<'a> Store for Borrowed<'a> {
    type Array<T: Copy + Debug + PartialEq + 'static, const N: usize> = &'a [T; N];
    type Matrix<const IN: usize, const OUT: usize> = &'a [[i8; IN]; OUT];
    fn array_mut<'s, T: Copy + Debug + PartialEq + 'static, const N: usize>(
        _: &'s mut &'a [T; N],
    ) -> Option<&'s mut [T; N]> {
        None
    }
    fn matrix_mut<'s, const IN: usize, const OUT: usize>(
        _: &'s mut &'a [[i8; IN]; OUT],
    ) -> Option<&'s mut [[i8; IN]; OUT]> {
        None
    }
    type Filters<const K: usize, const KH: usize, const KW: usize, const C: usize> =
        &'a [[[[i8; C]; KW]; KH]; K];
    fn filters_mut<'s, const K: usize, const KH: usize, const KW: usize, const C: usize>(
        _: &'s mut &'a [[[[i8; C]; KW]; KH]; K],
    ) -> Option<&'s mut [[[[i8; C]; KW]; KH]; K]> {
        None
    }
}
