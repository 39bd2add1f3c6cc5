//! Single-core f32 FMA peak: the chains of `benches/fma_peak.rs`, shared with the benchmarks
//! that quote their figures against it in the same run (`#[path = …] mod peak;`).
//!
//! `CHAINS` independent fused multiply-add chains, enough to cover the FMA latency times the
//! number of FMA units, so the loop runs at the core's FMA throughput. Criterion reports
//! FLOP/s ("elem/s"; 2 FLOP per lane per FMA).
//!
//! The repository builds with no CPU flags (the kernels choose their instruction set at run
//! time), so the chains are written with `core::arch` intrinsics in functions compiled for
//! the instruction set they measure, and run only where the CPU has it:
//! - `avx2_fma_…`: 256-bit `vfmadd231ps`, the instruction of the AVX2 level;
//! - `avx512_…`: 512-bit `vfmadd231ps`, the instruction of the AVX-512 level's
//!   convolution product (skipped without AVX-512F).

use criterion::measurement::Measurement;
use criterion::{Criterion, Throughput};

/// Independent accumulator chains (FMA latency 4 cycles × 2 units = 8 in flight, plus slack).
const CHAINS: usize = 12;
/// FMAs per chain in one benchmark iteration.
const STEPS: usize = 4096;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;
    use std::hint::black_box;

    use super::{CHAINS, STEPS};

    /// `CHAINS` chains of `x = a·x + b` on 8 lanes; returns the sum of every lane.
    #[target_feature(enable = "avx2,fma")]
    pub fn avx2(a: f32, b: f32) -> f32 {
        let (a, b) = (_mm256_set1_ps(a), _mm256_set1_ps(b));
        let mut acc: [__m256; CHAINS] = core::array::from_fn(|i| _mm256_set1_ps(i as f32));
        for _ in 0..STEPS {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut lanes = [0.0f32; 8];
        for x in acc {
            let mut v = [0.0f32; 8];
            // SAFETY: `v` is 8 writable floats; the unaligned store has no alignment need.
            unsafe { _mm256_storeu_ps(v.as_mut_ptr(), x) };
            lanes.iter_mut().zip(v).for_each(|(l, v)| *l += v);
        }
        black_box(lanes.iter().sum())
    }

    /// The same on 16 lanes.
    #[target_feature(enable = "avx512f")]
    pub fn avx512(a: f32, b: f32) -> f32 {
        let (a, b) = (_mm512_set1_ps(a), _mm512_set1_ps(b));
        let mut acc: [__m512; CHAINS] = core::array::from_fn(|i| _mm512_set1_ps(i as f32));
        for _ in 0..STEPS {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        black_box(acc.iter().map(|&x| _mm512_reduce_add_ps(x)).sum())
    }
}

/// The `fma_peak` group: every chain this CPU runs.
#[allow(dead_code)] // `benches/conv.rs` names its groups with `group`.
pub fn bench<M: Measurement>(c: &mut Criterion<M>) {
    group(c, "fma_peak");
}

/// Every chain this CPU runs, in a group called `name`.
pub fn group<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let mut g = c.benchmark_group(name);
    // a·x + b with a slightly below 1 keeps the values bounded and normal.
    let (a, b) = (0.999_9f32, 1.0e-4f32);
    #[cfg(target_arch = "x86_64")]
    {
        use std::hint::black_box;
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            g.throughput(Throughput::Elements((2 * 8 * CHAINS * STEPS) as u64));
            g.bench_function("avx2_fma_12_chains", |bch| {
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                bch.iter(|| unsafe { x86::avx2(black_box(a), black_box(b)) })
            });
        }
        if is_x86_feature_detected!("avx512f") {
            g.throughput(Throughput::Elements((2 * 16 * CHAINS * STEPS) as u64));
            g.bench_function("avx512_12_chains", |bch| {
                // SAFETY: the CPU has AVX-512F (checked just above).
                bch.iter(|| unsafe { x86::avx512(black_box(a), black_box(b)) })
            });
        }
    }
    let _ = (a, b);
    g.finish();
}
