//! The x86-64 instruction sets of the SIMD kernels: [`Sse2`], which every x86-64 CPU has,
//! [`Avx2`] (AVX2 with FMA) and [`Avx512`] (AVX-512F and VL on top), found at run time.
//!
//! `wide` picks its implementation when the crate is compiled, so a crate built for the
//! x86-64 baseline (as every dependent is, unless it sets `-C target-cpu`) gets SSE2 from
//! it even on a CPU with AVX2. These types use `core::arch` directly instead: the kernel
//! bodies, generic over [`Isa`], are instantiated with [`Avx2`] inside one
//! `#[target_feature(enable = "avx2,fma")]` function, so they compile to AVX2 and FMA
//! instructions whatever the build's target features.
//!
//! # Safety
//! An [`Avx2`] is made only by [`Avx2::detect`], which checks the CPU (once; the answer is
//! cached), and every AVX2 vector only by an [`Avx2`]'s methods or from other AVX2 vectors
//! (the fields are private to this module). So wherever an AVX2 vector or an [`Avx2`]
//! exists, the CPU executes AVX2 and FMA instructions: that is the `// SAFETY:` argument
//! of every `unsafe` block below. The same holds for [`Avx512`] (made only by
//! [`Avx512::detect`]) and its 16-lane vectors. Loads and stores go through `bytemuck`
//! casts of arrays, never through pointers.
//!
//! The SSE2 level needs no intrinsics: `wide` at the baseline is SSE2.

#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m256, __m256i, __m512, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_shuffle_ps,
    _mm256_add_epi32, _mm256_add_ps, _mm256_castps256_ps128, _mm256_cvtepi8_epi16, _mm256_div_ps,
    _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_madd_epi16, _mm256_max_ps, _mm256_min_ps,
    _mm256_mul_ps, _mm256_permute2f128_ps, _mm256_shuffle_ps, _mm256_sqrt_ps, _mm256_sub_ps,
    _mm256_unpackhi_ps, _mm256_unpacklo_ps, _mm512_add_ps, _mm512_fmadd_ps,
};
use core::ops::{Add, Div, Mul, Sub};

use super::tune::LANES;
use super::vector::{F32x8, I16x16, I32x8, Isa, Kernel, Portable};

// ---------------------------------------------------------------------------------------
// SSE2

/// SSE2, the x86-64 baseline, through `wide` (two 4-lane halves in a baseline build): the
/// multiply–add as a rounded product, then a rounded sum, and the reduction in the
/// [`Avx2`] order, so that the bits are the same in every build of the crate, with or
/// without `-C target-cpu`. The int8 kernel uses `wide` as is (`pmaddwd`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sse2;

/// Eight lanes, never fused.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sse2F32x8(wide::f32x8);

impl Isa for Sse2 {
    type F32x8 = Sse2F32x8;
    type I16x16 = wide::i16x16;
    type I32x8 = wide::i32x8;

    #[inline(always)]
    fn splat(self, x: f32) -> Sse2F32x8 {
        Sse2F32x8(wide::f32x8::splat(x))
    }
    #[inline(always)]
    fn load(self, v: &[f32; LANES]) -> Sse2F32x8 {
        Sse2F32x8(wide::f32x8::new(*v))
    }
    #[inline(always)]
    fn widen(self, b: &[i8; 16]) -> wide::i16x16 {
        Portable.widen(b)
    }
    #[inline(always)]
    fn zero_i32(self) -> wide::i32x8 {
        Portable.zero_i32()
    }
}

/// The operators of `wide`, lane by lane.
macro_rules! sse2_ops {
    ($($tr:ident $f:ident $op:tt),*) => {$(
        impl $tr for Sse2F32x8 {
            type Output = Self;
            #[inline(always)]
            fn $f(self, b: Self) -> Self {
                Sse2F32x8(self.0 $op b.0)
            }
        }
    )*};
}
sse2_ops!(Add add +, Sub sub -, Mul mul *, Div div /);

impl F32x8 for Sse2F32x8 {
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        // Two operations, two roundings: `wide`'s `mul_add` would fuse in a build with FMA.
        Sse2F32x8(self.0 * b.0 + c.0)
    }
    #[inline(always)]
    fn to_array(self) -> [f32; LANES] {
        self.0.to_array()
    }
    #[inline(always)]
    fn reduce_add(self) -> f32 {
        let [l0, l1, l2, l3, l4, l5, l6, l7] = self.to_array();
        ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
    }
    #[inline(always)]
    fn transpose(v: [Self; LANES]) -> [Self; LANES] {
        wide::f32x8::transpose(v.map(|x| x.0)).map(Sse2F32x8)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        Sse2F32x8(self.0.sqrt())
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        Sse2F32x8(self.0.max(b.0))
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        Sse2F32x8(self.0.min(b.0))
    }
}

// ---------------------------------------------------------------------------------------
// AVX2 + FMA

/// AVX2 with FMA: 8 lanes per register, fused multiply–add, `vpmaddwd` on 16 `i16` lanes.
/// Only [`Avx2::detect`] makes one (see the module's safety argument).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2 {
    _proof: (),
}

/// Whether the CPU has AVX2 and FMA: 0 not yet asked, 1 no, 2 yes.
#[cfg(feature = "std")]
static HAS_AVX2_FMA: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

impl Avx2 {
    /// The instruction set, if this CPU executes AVX2 and FMA (with `std`: asked of the CPU
    /// once, then read from a cache; without it: if the build enables both).
    #[inline]
    pub(crate) fn detect() -> Option<Avx2> {
        has_avx2_fma().then_some(Avx2 { _proof: () })
    }

    /// `k` run on AVX2 and FMA.
    #[inline]
    pub(crate) fn run<K: Kernel>(self, k: K) -> K::Output {
        // SAFETY: `self` exists, so the CPU executes AVX2 and FMA, the features `entry`
        // is compiled with; it has no other precondition.
        unsafe { entry(self, k) }
    }
}

/// `ask()` the first time, then its answer from `cache` (0 not yet asked, 1 no, 2 yes).
#[cfg(feature = "std")]
fn cached(cache: &core::sync::atomic::AtomicU8, ask: impl FnOnce() -> bool) -> bool {
    use core::sync::atomic::Ordering::Relaxed;
    match cache.load(Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let yes = ask();
            cache.store(1 + u8::from(yes), Relaxed);
            yes
        }
    }
}

/// Asks the CPU once, then answers from [`HAS_AVX2_FMA`].
#[cfg(feature = "std")]
fn has_avx2_fma() -> bool {
    cached(&HAS_AVX2_FMA, || {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    })
}

/// Without `std` the CPU cannot be asked: the build's target features decide.
#[cfg(not(feature = "std"))]
fn has_avx2_fma() -> bool {
    cfg!(all(target_feature = "avx2", target_feature = "fma"))
}

/// The one function compiled with AVX2 and FMA: `k`'s body is inlined into it.
#[target_feature(enable = "avx2,fma")]
fn entry<K: Kernel>(isa: Avx2, k: K) -> K::Output {
    k.run(isa)
}

/// Eight `f32` lanes in one AVX register.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2F32x8(__m256);

/// Sixteen `i16` lanes in one AVX register.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2I16x16(__m256i);

/// Eight `i32` lanes in one AVX register.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2I32x8(__m256i);

impl Isa for Avx2 {
    type F32x8 = Avx2F32x8;
    type I16x16 = Avx2I16x16;
    type I32x8 = Avx2I32x8;

    #[inline(always)]
    fn splat(self, x: f32) -> Avx2F32x8 {
        self.load(&[x; LANES])
    }
    #[inline(always)]
    fn load(self, v: &[f32; LANES]) -> Avx2F32x8 {
        Avx2F32x8(bytemuck::cast(*v))
    }
    #[inline(always)]
    fn widen(self, b: &[i8; 16]) -> Avx2I16x16 {
        // SAFETY: `self` proves AVX2 (module docs).
        Avx2I16x16(unsafe { _mm256_cvtepi8_epi16(bytemuck::cast(*b)) })
    }
    #[inline(always)]
    fn zero_i32(self) -> Avx2I32x8 {
        Avx2I32x8(bytemuck::cast([0i32; LANES]))
    }
}

/// One AVX instruction per operator.
macro_rules! avx_ops {
    ($($tr:ident $f:ident $intrinsic:ident),*) => {$(
        impl $tr for Avx2F32x8 {
            type Output = Self;
            #[inline(always)]
            fn $f(self, b: Self) -> Self {
                // SAFETY: an AVX2 vector proves AVX2 (module docs).
                Avx2F32x8(unsafe { $intrinsic(self.0, b.0) })
            }
        }
    )*};
}
avx_ops!(Add add _mm256_add_ps, Sub sub _mm256_sub_ps, Mul mul _mm256_mul_ps, Div div _mm256_div_ps);

impl F32x8 for Avx2F32x8 {
    #[inline(always)]
    fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: an AVX2 vector proves AVX2 and FMA (module docs).
        Avx2F32x8(unsafe { _mm256_fmadd_ps(self.0, b.0, c.0) })
    }
    #[inline(always)]
    fn to_array(self) -> [f32; LANES] {
        bytemuck::cast(self.0)
    }
    #[inline(always)]
    fn reduce_add(self) -> f32 {
        // SAFETY: an AVX2 vector proves AVX2 (module docs), which includes SSE.
        unsafe {
            let s = _mm_add_ps(
                _mm256_castps256_ps128(self.0),
                _mm256_extractf128_ps::<1>(self.0),
            ); // lᵢ + lᵢ₊₄
            let t = _mm_add_ps(s, _mm_movehl_ps(s, s)); // (s₀ + s₂), (s₁ + s₃)
            _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps::<0b01>(t, t)))
        }
    }
    #[inline(always)]
    fn transpose(v: [Self; LANES]) -> [Self; LANES] {
        // SAFETY: an AVX2 vector proves AVX2 (module docs).
        unsafe {
            let v = v.map(|x| x.0);
            let a = [
                _mm256_unpacklo_ps(v[0], v[1]),
                _mm256_unpackhi_ps(v[0], v[1]),
                _mm256_unpacklo_ps(v[2], v[3]),
                _mm256_unpackhi_ps(v[2], v[3]),
                _mm256_unpacklo_ps(v[4], v[5]),
                _mm256_unpackhi_ps(v[4], v[5]),
                _mm256_unpacklo_ps(v[6], v[7]),
                _mm256_unpackhi_ps(v[6], v[7]),
            ];
            const LO: i32 = 0b01_00_01_00;
            const HI: i32 = 0b11_10_11_10;
            let b = [
                _mm256_shuffle_ps::<LO>(a[0], a[2]),
                _mm256_shuffle_ps::<HI>(a[0], a[2]),
                _mm256_shuffle_ps::<LO>(a[1], a[3]),
                _mm256_shuffle_ps::<HI>(a[1], a[3]),
                _mm256_shuffle_ps::<LO>(a[4], a[6]),
                _mm256_shuffle_ps::<HI>(a[4], a[6]),
                _mm256_shuffle_ps::<LO>(a[5], a[7]),
                _mm256_shuffle_ps::<HI>(a[5], a[7]),
            ];
            [
                Avx2F32x8(_mm256_permute2f128_ps::<0x20>(b[0], b[4])),
                Avx2F32x8(_mm256_permute2f128_ps::<0x20>(b[1], b[5])),
                Avx2F32x8(_mm256_permute2f128_ps::<0x20>(b[2], b[6])),
                Avx2F32x8(_mm256_permute2f128_ps::<0x20>(b[3], b[7])),
                Avx2F32x8(_mm256_permute2f128_ps::<0x31>(b[0], b[4])),
                Avx2F32x8(_mm256_permute2f128_ps::<0x31>(b[1], b[5])),
                Avx2F32x8(_mm256_permute2f128_ps::<0x31>(b[2], b[6])),
                Avx2F32x8(_mm256_permute2f128_ps::<0x31>(b[3], b[7])),
            ]
        }
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // SAFETY: an AVX2 vector proves AVX2 (module docs).
        Avx2F32x8(unsafe { _mm256_sqrt_ps(self.0) })
    }
    #[inline(always)]
    fn max(self, b: Self) -> Self {
        // SAFETY: as above.
        Avx2F32x8(unsafe { _mm256_max_ps(self.0, b.0) })
    }
    #[inline(always)]
    fn min(self, b: Self) -> Self {
        // SAFETY: as above.
        Avx2F32x8(unsafe { _mm256_min_ps(self.0, b.0) })
    }
}

impl I16x16 for Avx2I16x16 {
    type I32x8 = Avx2I32x8;
    #[inline(always)]
    fn dot(self, b: Self) -> Avx2I32x8 {
        // SAFETY: an AVX2 vector proves AVX2 (module docs).
        Avx2I32x8(unsafe { _mm256_madd_epi16(self.0, b.0) })
    }
}

impl Add for Avx2I32x8 {
    type Output = Self;
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        // SAFETY: an AVX2 vector proves AVX2 (module docs).
        Avx2I32x8(unsafe { _mm256_add_epi32(self.0, b.0) })
    }
}

impl I32x8 for Avx2I32x8 {
    #[inline(always)]
    fn reduce_add(self) -> i32 {
        let lanes: [i32; LANES] = bytemuck::cast(self.0);
        lanes.iter().fold(0, |s, &v| s.wrapping_add(v))
    }
}

// ---------------------------------------------------------------------------------------
// AVX-512

/// AVX-512F and AVX-512VL on top of AVX2 and FMA: the [`Avx2`] kernels compiled with 32
/// vector registers, and 16-lane vectors ([`F32x16`]) for the kernels written for them.
/// Only [`Avx512::detect`] makes one (see the module's safety argument).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512 {
    avx2: Avx2,
}

/// Whether the CPU has AVX-512F and AVX-512VL: 0 not yet asked, 1 no, 2 yes.
#[cfg(feature = "std")]
static HAS_AVX512: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(0);

impl Avx512 {
    /// The instruction set, if this CPU executes AVX2, FMA, AVX-512F and AVX-512VL (with
    /// `std`: asked of the CPU once, then read from a cache; without it: if the build
    /// enables them all).
    #[inline]
    pub(crate) fn detect() -> Option<Avx512> {
        let avx2 = Avx2::detect()?;
        has_avx512().then_some(Avx512 { avx2 })
    }

    /// `k` run on the AVX2 vectors, compiled with AVX-512 enabled (32 registers).
    #[inline]
    pub(crate) fn run<K: Kernel>(self, k: K) -> K::Output {
        // SAFETY: `self` exists, so the CPU executes every feature `entry512` is compiled
        // with; it has no other precondition.
        unsafe { entry512(self.avx2, k) }
    }

    /// `k` run on 16-lane vectors.
    #[inline]
    pub(crate) fn run_wide<K: WideKernel>(self, k: K) -> K::Output {
        // SAFETY: as in `run`.
        unsafe { entry_wide(self, k) }
    }

    /// The AVX2 instruction set, which this CPU has too.
    #[inline(always)]
    pub(crate) fn avx2(self) -> Avx2 {
        self.avx2
    }

    /// All lanes `x`.
    #[inline(always)]
    pub(crate) fn splat16(self, x: f32) -> F32x16 {
        self.load16(&[x; 16])
    }

    /// Sixteen consecutive floats.
    #[inline(always)]
    pub(crate) fn load16(self, v: &[f32; 16]) -> F32x16 {
        F32x16(bytemuck::cast(*v))
    }
}

/// Asks the CPU once, then answers from [`HAS_AVX512`].
#[cfg(feature = "std")]
fn has_avx512() -> bool {
    cached(&HAS_AVX512, || {
        std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vl")
    })
}

/// Without `std` the CPU cannot be asked: the build's target features decide.
#[cfg(not(feature = "std"))]
fn has_avx512() -> bool {
    cfg!(all(target_feature = "avx512f", target_feature = "avx512vl"))
}

/// The [`Kernel`]s' entry at the AVX-512 level: their 8-lane bodies with 32 registers.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn entry512<K: Kernel>(isa: Avx2, k: K) -> K::Output {
    k.run(isa)
}

/// A computation on 16-lane vectors, run by [`Avx512::run_wide`]. Implementations mark
/// `run` `#[inline(always)]`, so the body is compiled inside the entry function.
pub(crate) trait WideKernel {
    /// What the computation returns.
    type Output;
    /// Runs the computation on `isa`.
    fn run(self, isa: Avx512) -> Self::Output;
}

/// The one function compiled for [`WideKernel`]s.
#[target_feature(enable = "avx2,fma,avx512f,avx512vl")]
fn entry_wide<K: WideKernel>(isa: Avx512, k: K) -> K::Output {
    k.run(isa)
}

/// Sixteen `f32` lanes in one AVX-512 register.
#[derive(Clone, Copy, Debug)]
pub(crate) struct F32x16(__m512);

impl F32x16 {
    /// `self·b + c`, fused.
    #[inline(always)]
    pub(crate) fn mul_add(self, b: Self, c: Self) -> Self {
        // SAFETY: a 16-lane vector proves AVX-512F (module docs).
        F32x16(unsafe { _mm512_fmadd_ps(self.0, b.0, c.0) })
    }

    /// The lanes.
    #[inline(always)]
    pub(crate) fn to_array(self) -> [f32; 16] {
        bytemuck::cast(self.0)
    }
}

impl Add for F32x16 {
    type Output = Self;
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        // SAFETY: a 16-lane vector proves AVX-512F (module docs).
        F32x16(unsafe { _mm512_add_ps(self.0, b.0) })
    }
}
