//! One Adam step over the 200 960 parameters of a `Dense<784, 256>` layer: the optimizer's
//! fused pass (read θ, g, m, v; write θ, m, v and a zero gradient) plus its gradient-norm check.
//!
//! Criterion counts parameters per second ("elem/s"). The step zeroes the gradient, so each
//! iteration refills it outside the timed region (`iter_custom`), keeping the moments away
//! from subnormal values however long criterion runs.
//!
//! `cargo bench --bench adam`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use firmnet::layers::{Dense, Params};
use firmnet::optim::{Adam, AdamConfig, Optimizer};

type Layer = Dense<784, 256>;

/// Deterministic values in [-scale, scale) (a 32-bit LCG, no `rand` dependency).
fn fill(p: &mut impl Params, seed: u32, scale: f32) {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    for i in 0..<Layer as Params>::TENSORS {
        for x in p.tensor_mut(i) {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *x = ((s >> 8) as f32 / (1u32 << 23) as f32 - 1.0) * scale;
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut net: Box<Layer> = firmnet::boxed::zero::<Layer>();
    let mut grad: Box<Layer> = firmnet::boxed::zero::<Layer>();
    let mut refill: Box<Layer> = firmnet::boxed::zero::<Layer>();
    fill(&mut *net, 1, 0.1);
    fill(&mut *refill, 2, 0.01);
    let mut adam: Box<Adam<Layer>> = Adam::boxed(AdamConfig::DEFAULT);

    let params = <Layer as Params>::count();
    let mut g = c.benchmark_group(format!("adam_step/{params}"));
    g.throughput(Throughput::Elements(params as u64));
    g.bench_function("dense_784x256", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                grad.clone_from(&refill);
                let t = Instant::now();
                adam.step(&mut *net, black_box(&mut *grad)).unwrap();
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
