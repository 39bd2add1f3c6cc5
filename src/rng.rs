//! A small, seeded, `no_std` pseudo-random generator.
//!
//! [`Rng`] is xoshiro128++ (Blackman & Vigna): 16 bytes of state, 32-bit arithmetic only
//! (cheap on Cortex-M0 and RISC-V), period 2¹²⁸ − 1, and good statistical quality for
//! initialization, shuffling, dropout masks and noise. It is not cryptographic.
//!
//! The state is a plain value: copying an `Rng` forks the stream, which is how a dropout
//! layer replays its mask in the backward pass and how a training run saves and resumes
//! its randomness bit-exactly.

use crate::math;

/// xoshiro128++ pseudo-random generator. See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u32; 4],
}

impl Rng {
    /// A generator seeded from one 64-bit number, expanded by SplitMix64 so that nearby
    /// seeds give unrelated streams. Usable in `const` context.
    pub const fn new(seed: u64) -> Self {
        let mut z = seed;
        let mut s = [0u32; 4];
        let mut i = 0;
        while i < 2 {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^= x >> 31;
            s[2 * i] = x as u32;
            s[2 * i + 1] = (x >> 32) as u32;
            i += 1;
        }
        // The all-zero state is the one fixed point of xoshiro; SplitMix64 cannot produce
        // it for two consecutive outputs, but guard anyway.
        if s[0] | s[1] | s[2] | s[3] == 0 {
            s[0] = 1;
        }
        Rng { s }
    }

    /// The raw state, for saving a training run.
    pub const fn state(&self) -> [u32; 4] {
        self.s
    }

    /// Restores a generator from [`state`](Self::state). Returns `None` for the all-zero
    /// state, which xoshiro cannot leave.
    pub const fn from_state(s: [u32; 4]) -> Option<Self> {
        if s[0] | s[1] | s[2] | s[3] == 0 {
            None
        } else {
            Some(Rng { s })
        }
    }

    /// The next 32 random bits. `const`, so that a `static` can be filled with random
    /// values by the compiler (a firmware's flash-resident test layers).
    #[inline]
    pub const fn next_u32(&mut self) -> u32 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(7).wrapping_add(s[0]);
        let t = s[1] << 9;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(11);
        result
    }

    /// Uniform in `[0, 1)`, with 24 random bits (every representable multiple of 2⁻²⁴).
    #[inline]
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Uniform in `[lo, hi)`.
    #[inline]
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next_f32()
    }

    /// Uniform integer in `0..n`, without modulo bias (Lemire's method). `n = 0` gives 0.
    pub fn below(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u64::from(self.next_u32()) * u64::from(n);
            if (m as u32) >= threshold {
                return (m >> 32) as u32;
            }
        }
    }

    /// A standard normal sample, N(0, 1), by the Box–Muller transform.
    ///
    /// Uses [`math::ln`], [`math::sqrt`] and [`math::sin_cos`], so the same seed gives the
    /// same samples on every target.
    pub fn normal(&mut self) -> f32 {
        // u1 in (0, 1] keeps ln finite.
        let u1 = 1.0 - self.next_f32();
        let u2 = self.next_f32();
        let r = math::sqrt(-2.0 * math::ln(u1));
        let (_, c) = math::sin_cos(core::f32::consts::TAU * u2);
        r * c
    }

    /// Fisher–Yates shuffle of `items` in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u32 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// A placeholder stream (`Rng::new(0)`), so that caches holding an `Rng` can be built in a
/// `const` context; it is overwritten before use.
impl crate::tensor::Zero for Rng {
    const ZERO: Self = Rng::new(0);
}
