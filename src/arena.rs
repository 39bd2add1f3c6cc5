//! Inference memory: one arena per network, sized by the compiler.
//!
//! A network computes one layer after another, and at any moment only a layer's input and
//! its output need to exist. So a network's inference memory is **one arena** as large as
//! the largest `input + output` of any layer (plus whatever scratch that layer needs of its
//! own), and the activations take turns at its two ends: a layer reads its input at one end
//! and writes its output at the other, and the next layer reads it there. Elementwise
//! layers — activations, and the identity that dropout and noise are at inference — compute
//! in place and take no room of their own. The network's input and output are the
//! caller's, not the arena's.
//!
//! For the Fashion-MNIST MLP 784 → 256 → 128 → 10 the arena holds 256 + 128 values: the
//! first layer writes 256 at the front, the second reads them and writes 128 at the back,
//! the last reads those and writes the caller's logits.
//!
//! # The size is a type
//! Rust cannot yet compute an array length from a generic parameter, so the arena's size
//! is computed with types instead: every layer names what it needs as a [`Footprint`](crate::net::Infer::Footprint),
//! built from its tensor types with [`Both`] (room for both, their sizes add) and a chain
//! combines its layers' footprints with [`Either`] (room for either, the larger size). The
//! arena is then just that type, zeroed: [`Scratch<N>`](crate::net::Scratch) for a network
//! `N`, whose `size_of` is the exact cost and which a firmware puts in a `static`:
//!
//! ```
//! use firmnet::prelude::*;
//! use firmnet::models::FashionMlp;
//! assert_eq!(core::mem::size_of::<Scratch<FashionMlp>>(), (256 + 128) * 4);
//! static mut SCRATCH: Scratch<FashionMlp> = Scratch::<FashionMlp>::ZERO;
//! ```
//!
//! # Safety
//! This is the one module that reads memory through a type other than its own: it views
//! the arena, a nest of [`Both`] structs and [`Either`] unions of `f32` or `i8` arrays, as
//! one flat slice of its element type. That is sound because the arena is created all
//! zero (so every byte is initialized), every piece is an array of that one element type
//! (so the alignment holds and there is no padding inside a piece), and every bit pattern
//! is a valid `f32` and `i8`; the fields of [`Either`] are private, so no code ever reads
//! the union other than through the flat view.

#![allow(unsafe_code)]

use crate::tensor::{Scalar, Tensor, Zero};

mod sealed {
    pub trait Sealed {}
}

/// Memory made only of `E` values: `()`, tensors of `E`, and [`Both`] and [`Either`] of
/// such memory. Sealed; a layer names its arena needs with these pieces.
///
/// # Safety
/// Implementors are, byte for byte, a sequence of `E` values: no padding, no other
/// types, alignment that of `E` (or less only for size 0). The crate implements it only
/// for the types above.
pub unsafe trait Storage<E: Scalar>: Plain {}

/// Memory whose all-zero bytes are a valid value: the pieces of [`Storage`]. Sealed.
///
/// # Safety
/// All-zero bytes must be a valid value of the type, and the type must be `Copy` plain
/// data.
pub unsafe trait Plain: Copy + Send + Sync + 'static + sealed::Sealed {}

impl sealed::Sealed for () {}
// SAFETY: a zero-sized type; all-zero is its only value.
unsafe impl Plain for () {}
// SAFETY: zero-sized: no bytes to be wrong about.
unsafe impl<E: Scalar> Storage<E> for () {}

impl<T: Tensor> sealed::Sealed for T {}
// SAFETY: tensors are arrays of `f32` or `i8`, for which all-zero bytes are 0 and 0.0.
unsafe impl<T: Tensor> Plain for T {}
// SAFETY: a tensor is an array (of arrays) of `T::Elem`: a sequence of them, with the
// element's alignment and no padding.
unsafe impl<T: Tensor> Storage<T::Elem> for T {}

/// Room for both `A` and `B`: their sizes add. `#[repr(C)]`, `A` first.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct Both<A, B>(A, B);

impl<A: Plain, B: Plain> sealed::Sealed for Both<A, B> {}
// SAFETY: a `repr(C)` pair of plain data, valid all zero when both are.
unsafe impl<A: Plain, B: Plain> Plain for Both<A, B> {}
// SAFETY: `A` then `B`, each a sequence of `E`; both have `E`'s alignment (or are empty),
// so `repr(C)` places `B` right after `A` without padding, and the size is a multiple of
// `E`'s size.
unsafe impl<E: Scalar, A: Storage<E>, B: Storage<E>> Storage<E> for Both<A, B> {}

/// Room for either `A` or `B`: the larger size. A `#[repr(C)]` union whose fields are
/// private: it is only ever used as memory, through [`Arena`]'s flat view.
#[derive(Clone, Copy)]
#[repr(C)]
pub union Either<A: Copy, B: Copy> {
    a: A,
    b: B,
}

impl<A: Copy, B: Copy> core::fmt::Debug for Either<A, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Either({} bytes)", size_of::<Self>())
    }
}

impl<A: Plain, B: Plain> sealed::Sealed for Either<A, B> {}
// SAFETY: a `repr(C)` union of plain data; all zero is a valid value of either field.
unsafe impl<A: Plain, B: Plain> Plain for Either<A, B> {}
// SAFETY: both fields start at offset 0 and are sequences of `E` with `E`'s alignment, so
// the union's alignment is `E`'s and its size (the larger field's, rounded to that
// alignment) a multiple of `E`'s size. The bytes beyond the smaller field are zero-
// initialized by `Arena::ZERO` and only ever written as `E` through the flat view.
unsafe impl<E: Scalar, A: Storage<E>, B: Storage<E>> Storage<E> for Either<A, B> {}

/// Whether a layer's input or output lives in the arena ([`Inside`]) or is the caller's
/// ([`Outside`]): the type parameter of [`Infer::Footprint`](crate::net::Infer::Footprint).
pub trait Place: 'static {
    /// The tensor `T` if it lives in the arena, nothing otherwise.
    type Hold<T: Tensor>: Storage<T::Elem>;
    /// [`Inside`] if either `Self` or `O` is.
    type Or<O: Place>: Place;
}

/// The tensor is the caller's (the network's input or output).
#[derive(Debug)]
pub enum Outside {}

/// The tensor lives in the arena.
#[derive(Debug)]
pub enum Inside {}

impl Place for Outside {
    type Hold<T: Tensor> = ();
    type Or<O: Place> = O;
}

impl Place for Inside {
    type Hold<T: Tensor> = T;
    type Or<O: Place> = Inside;
}

/// The footprint of a layer that maps an `X` to a `Y` out of place: room for the input
/// and the output where they live in the arena.
pub type Mapping<I, O, X, Y> = Both<<I as Place>::Hold<X>, <O as Place>::Hold<Y>>;

/// The footprint of an elementwise layer on `T`, which computes in place: room for one
/// tensor if either side lives in the arena.
pub type InPlace<I, O, T> = <<I as Place>::Or<O> as Place>::Hold<T>;

/// An inference arena: the memory `S` (built from [`Both`] and [`Either`] by the network
/// type), zero at the start, 4-byte aligned so that int8 kernels may read it a word at a
/// time. Use it as [`Scratch<N>`](crate::net::Scratch).
#[repr(C, align(4))]
pub struct Arena<S: Plain> {
    memory: S,
}

impl<S: Plain> Arena<S> {
    /// All zero; usable in `const` and `static` items (it lands in `.bss`).
    // SAFETY: `S: Plain` promises that all-zero bytes are a valid `S`.
    pub const ZERO: Self = Arena {
        memory: unsafe { core::mem::zeroed() },
    };

    /// Number of `E` values the arena holds.
    pub const fn len<E: Scalar>() -> usize {
        size_of::<S>() / size_of::<E>()
    }

    /// The arena as one flat slice of its element type.
    #[inline]
    pub fn as_mut_slice<E: Scalar>(&mut self) -> &mut [E]
    where
        S: Storage<E>,
    {
        let len = Self::len::<E>();
        // SAFETY: `S: Storage<E>` makes the memory a sequence of `len` values of `E`,
        // aligned for `E`; it was created all zero (`ZERO`) and has only been written as
        // `E` since, so every element is initialized, and every bit pattern is a valid
        // `E`. The slice borrows `self` mutably, so nothing else aliases it.
        unsafe { core::slice::from_raw_parts_mut((&raw mut self.memory).cast::<E>(), len) }
    }
}

impl<S: Plain> Zero for Arena<S> {
    const ZERO: Self = Self::ZERO;
}

impl<S: Plain> core::fmt::Debug for Arena<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Arena({} bytes)", size_of::<S>())
    }
}

/// A flat slice with its two ends, as a network places activations in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Starting at the first element.
    Front,
    /// Ending at the last element.
    Back,
}

impl Side {
    /// The other end.
    pub const fn other(self) -> Side {
        match self {
            Side::Front => Side::Back,
            Side::Back => Side::Front,
        }
    }
}

/// The `len` elements of `arena` at `side`, and the rest: `(region, rest)`. `None` if the
/// arena is shorter.
#[inline]
pub(crate) fn at_side<E>(arena: &mut [E], side: Side, len: usize) -> Option<(&mut [E], &mut [E])> {
    match side {
        Side::Front => arena.split_at_mut_checked(len),
        Side::Back => {
            let at = arena.len().checked_sub(len)?;
            let (rest, region) = arena.split_at_mut_checked(at)?;
            Some((region, rest))
        }
    }
}

/// The input region (`in_len` at `side`), the output region (`out_len` at the other end)
/// and the space between them: `(input, output, between)`. `None` if they do not fit.
#[inline]
pub(crate) fn split3<E>(
    arena: &mut [E],
    side: Side,
    in_len: usize,
    out_len: usize,
) -> Option<(&mut [E], &mut [E], &mut [E])> {
    let (input, rest) = at_side(arena, side, in_len)?;
    let (output, between) = at_side(rest, side.other(), out_len)?;
    Some((input, output, between))
}
