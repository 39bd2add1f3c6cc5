//! The vector operations the SIMD kernels are written in, and the instruction sets that
//! implement them.
//!
//! A kernel body is written once, generic over an [`Isa`]: a zero-sized value whose
//! existence proves that the running CPU executes that instruction set. The body is
//! `#[inline(always)]` and instantiated per instruction set by [`Simd::run`]
//! (`super::simd::Simd`), which on x86-64 enters a `#[target_feature]` function first, so
//! that the body compiles to that instruction set whatever the crate was built for.
//!
//! | [`Isa`] | where | f32 lanes | multiply–add |
//! | --- | --- | --- | --- |
//! | `Portable` | AArch64, 32-bit x86 | `wide::f32x8` at the build's target features | fused where the build has FMA (always on AArch64) |
//! | `x86::Sse2` | x86-64 | two SSE2 halves | multiply, then add |
//! | `x86::Avx2` | x86-64 with AVX2 and FMA | one AVX register | fused |
//!
//! The int8 kernel's widened bytes and `i32` accumulators are part of the same trait, so one
//! run-time choice covers both.

use core::ops::{Add, Div, Mul, Sub};

use super::tune::LANES;

/// An instruction set the running CPU executes; a value of it is the proof. Every vector
/// comes from one of its methods, so a vector, too, proves its instruction set.
pub(crate) trait Isa: Copy {
    /// Eight `f32` lanes.
    type F32x8: F32x8;
    /// Sixteen `i16` lanes (widened bytes).
    type I16x16: I16x16<I32x8 = Self::I32x8>;
    /// Eight `i32` lanes.
    type I32x8: I32x8;

    /// All lanes `x`.
    fn splat(self, x: f32) -> Self::F32x8;
    /// Eight consecutive floats.
    fn load(self, v: &[f32; LANES]) -> Self::F32x8;
    /// All lanes zero.
    #[inline(always)]
    fn zero(self) -> Self::F32x8 {
        self.splat(0.0)
    }
    /// Sixteen bytes, sign-extended to `i16`.
    fn widen(self, b: &[i8; 16]) -> Self::I16x16;
    /// All `i32` lanes zero.
    fn zero_i32(self) -> Self::I32x8;
}

/// Eight `f32` lanes. The arithmetic operators are IEEE operations lane by lane, each
/// rounded (never fused).
pub(crate) trait F32x8:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self>
{
    /// `self·b + c`: fused (one rounding) where the instruction set has FMA, else the
    /// product rounded, then the sum.
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// The lanes.
    fn to_array(self) -> [f32; LANES];
    /// The sum of the lanes: `((l₀ + l₄) + (l₂ + l₆)) + ((l₁ + l₅) + (l₃ + l₇))` on x86-64
    /// (both levels), `wide`'s order on the portable path.
    fn reduce_add(self) -> f32;
    /// Lane `i` of vector `j` becomes lane `j` of vector `i`.
    fn transpose(v: [Self; LANES]) -> [Self; LANES];
    /// Correctly rounded square roots.
    fn sqrt(self) -> Self;
    /// Lane by lane `max(self, b)` (`maxps`: `b` where either is NaN).
    fn max(self, b: Self) -> Self;
    /// Lane by lane `min(self, b)` (`minps`: `b` where either is NaN).
    fn min(self, b: Self) -> Self;
}

/// Sixteen `i16` lanes.
pub(crate) trait I16x16: Copy {
    /// The accumulator type.
    type I32x8;
    /// Lane `i` of the result: `a[2i]·b[2i] + a[2i+1]·b[2i+1]`, exact in `i32`.
    fn dot(self, b: Self) -> Self::I32x8;
}

/// Eight `i32` lanes; addition wraps.
pub(crate) trait I32x8: Copy + Add<Output = Self> {
    /// The wrapping sum of the lanes.
    fn reduce_add(self) -> i32;
}

/// A computation written once for every [`Isa`], run at a chosen level by
/// `Simd::run` (`super::simd`). Implementations mark `run` `#[inline(always)]`, so the body
/// is compiled inside the instruction set's entry function.
pub(crate) trait Kernel {
    /// What the computation returns.
    type Output;
    /// Runs the computation on `isa`.
    fn run<I: Isa>(self, isa: I) -> Self::Output;
}

/// `wide`'s vectors, at the target features the build enables: the SIMD path of every
/// target with float SIMD but x86-64 (there, of the int8 kernel at the SSE2 level too).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable;

impl Isa for Portable {
    type F32x8 = wide::f32x8;
    type I16x16 = wide::i16x16;
    type I32x8 = wide::i32x8;

    #[inline(always)]
    fn splat(self, x: f32) -> wide::f32x8 {
        wide::f32x8::splat(x)
    }
    #[inline(always)]
    fn load(self, v: &[f32; LANES]) -> wide::f32x8 {
        wide::f32x8::new(*v)
    }
    #[inline(always)]
    fn widen(self, b: &[i8; 16]) -> wide::i16x16 {
        wide::i16x16::from_i8x16(wide::i8x16::new(*b))
    }
    #[inline(always)]
    fn zero_i32(self) -> wide::i32x8 {
        wide::i32x8::ZERO
    }
}

impl F32x8 for wide::f32x8 {
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        wide::f32x8::mul_add(self, b, c)
    }
    #[inline(always)]
    fn to_array(self) -> [f32; LANES] {
        wide::f32x8::to_array(self)
    }
    #[inline(always)]
    fn reduce_add(self) -> f32 {
        wide::f32x8::reduce_add(self)
    }
    #[inline(always)]
    fn transpose(v: [Self; LANES]) -> [Self; LANES] {
        wide::f32x8::transpose(v)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        wide::f32x8::sqrt(self)
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        wide::f32x8::max(self, b)
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        wide::f32x8::min(self, b)
    }
}

impl I16x16 for wide::i16x16 {
    type I32x8 = wide::i32x8;
    #[inline(always)]
    fn dot(self, b: Self) -> wide::i32x8 {
        wide::i16x16::dot(self, b)
    }
}

impl I32x8 for wide::i32x8 {
    #[inline(always)]
    fn reduce_add(self) -> i32 {
        wide::i32x8::reduce_add(self)
    }
}
