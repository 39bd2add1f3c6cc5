//! Single-core f32 FMA peak: the physical limit every kernel figure is quoted against.
//!
//! `CHAINS` independent `mul_add` chains, enough to cover the FMA latency times the number
//! of FMA units, so the loop runs at the core's FMA throughput. Criterion reports FLOP/s
//! ("elem/s"; 2 FLOP per lane per FMA).
//!
//! - `f32x8_…`: `wide::f32x8`, the vector type of the kernels (256-bit `vfmadd231ps` with
//!   AVX2 + FMA).
//! - `f32x16_…`: `wide::f32x16` (512-bit with AVX-512F, two 256-bit halves otherwise), to
//!   check that wider vectors would not raise the ceiling on this core.
//!
//! `cargo bench --bench fma_peak`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wide::{f32x8, f32x16};

/// Independent accumulator chains (FMA latency 4 cycles × 2 units = 8 in flight, plus slack).
const CHAINS: usize = 12;
/// FMAs per chain in one benchmark iteration.
const STEPS: usize = 4096;

macro_rules! chains {
    ($name:ident, $t:ty) => {
        fn $name(a: $t, b: $t, seed: [$t; CHAINS]) -> [$t; CHAINS] {
            let mut acc = seed;
            for _ in 0..STEPS {
                for x in acc.iter_mut() {
                    *x = x.mul_add(a, b);
                }
            }
            acc
        }
    };
}

chains!(chains_x8, f32x8);
chains!(chains_x16, f32x16);

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fma_peak");

    // a·x + b with a slightly below 1 keeps the values bounded and normal.
    g.throughput(Throughput::Elements((2 * 8 * CHAINS * STEPS) as u64));
    let (a, b) = (f32x8::splat(0.999_9), f32x8::splat(1.0e-4));
    let seed: [f32x8; CHAINS] = core::array::from_fn(|i| f32x8::splat(i as f32));
    g.bench_function("f32x8_mul_add_12_chains", |bch| {
        bch.iter(|| chains_x8(black_box(a), black_box(b), black_box(seed)))
    });

    g.throughput(Throughput::Elements((2 * 16 * CHAINS * STEPS) as u64));
    let (a, b) = (f32x16::splat(0.999_9), f32x16::splat(1.0e-4));
    let seed: [f32x16; CHAINS] = core::array::from_fn(|i| f32x16::splat(i as f32));
    g.bench_function("f32x16_mul_add_12_chains", |bch| {
        bch.iter(|| chains_x16(black_box(a), black_box(b), black_box(seed)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
