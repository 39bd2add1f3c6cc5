//! firmnet's hot paths as a crate that depends on it runs them:
//!
//! * `dependent/gemm_nt_64x784x256`: the forward product of a 784 → 256 dense layer at
//!   batch 64 (`kernels::gemm_nt`), in FLOP/s;
//! * `dependent/fashion_f32_batch1`: `FashionMlp` on one sample;
//! * `dependent/fashion_int8_batch1`: its int8 twin (`host::quantize`) on one sample;
//! * `dependent/train_step_b64`: one training step (forward, softmax cross-entropy, backward,
//!   Adam) of a 784-256-128-10 ReLU MLP at batch 64.
//!
//! Times are the CPU time of the benchmark's thread (`CLOCK_THREAD_CPUTIME_ID`), not wall
//! time: on a machine shared with other work, the time the thread waits for a core does not
//! count (caches and memory bandwidth are still shared).
//!
//! `./compare.sh` runs it without RUSTFLAGS and with `-C target-cpu=native` and prints the
//! ratios; alone: `cargo bench --bench dependent`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use firmnet::host::{RangeMethod, quantize};
use firmnet::kernels;
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::prelude::*;
use firmnet::quant::{Int8, QParams};
use firmnet::train::{TrainBuffers, classification_step};

#[path = "../../common/cpu_time.rs"]
mod cpu_time;
use cpu_time::ThreadCpuTime;

/// The training benchmark's network.
type Mlp = Net![
    Dense<784, 256>,
    Relu<[f32; 256]>,
    Dense<256, 128>,
    Relu<[f32; 128]>,
    Dense<128, 10>
];
const B: usize = 64;

/// `n` values in [-1, 1).
fn values(n: usize, rng: &mut Rng) -> Vec<f32> {
    (0..n).map(|_| rng.uniform(-1.0, 1.0)).collect()
}

fn dependent(c: &mut Criterion<ThreadCpuTime>) {
    eprintln!("firmnet SIMD level: {}", kernels::simd_level());
    let mut rng = Rng::new(1);
    let mut g = c.benchmark_group("dependent");

    let (m, k, n) = (64, 784, 256);
    let (a, w, bias) = (
        values(m * k, &mut rng),
        values(n * k, &mut rng),
        values(n, &mut rng),
    );
    let mut out = vec![0.0; m * n];
    g.throughput(Throughput::Elements((2 * m * k * n) as u64));
    g.bench_function("gemm_nt_64x784x256", |b| {
        b.iter(|| kernels::gemm_nt(black_box(&a), &w, &bias, &mut out, m, n, k))
    });

    g.throughput(Throughput::Elements(1));
    let mut fashion: Box<FashionMlp> = Box::new(FASHION_MLP);
    fashion.init(Init::HeNormal, &mut rng);
    let pixels: Vec<[f32; 784]> = (0..64)
        .map(|_| core::array::from_fn(|_| rng.below(256) as f32))
        .collect();
    let x = pixels[0];
    let mut scratch = Box::new(Scratch::<FashionMlp>::ZERO);
    let mut y = [0.0f32; 10];
    g.bench_function("fashion_f32_batch1", |b| {
        b.iter(|| fashion.forward(black_box(&x), &mut y, &mut scratch))
    });

    let q: Box<Int8<FashionMlp>> =
        quantize(&*fashion, &pixels, RangeMethod::MinMax).expect("calibrated");
    let mut xq = [0i8; 784];
    QParams::PIXELS.quantize_slice(&x, &mut xq);
    let mut qscratch = Box::new(Scratch::<Int8<FashionMlp>>::ZERO);
    let mut yq = [0i8; 10];
    g.bench_function("fashion_int8_batch1", |b| {
        b.iter(|| q.forward(black_box(&xq), &mut yq, &mut qscratch))
    });

    g.throughput(Throughput::Elements(B as u64));
    let mut net: Box<Mlp> = Box::new(net![
        Dense::ZERO,
        Relu::DEFAULT,
        Dense::ZERO,
        Relu::DEFAULT,
        Dense::ZERO
    ]);
    net.init(Init::HeNormal, &mut rng);
    let mut adam: Box<Adam<<Mlp as Layer>::Grad>> = Box::new(Adam::new(AdamConfig::DEFAULT));
    let mut buf: Box<TrainBuffers<Mlp, B>> = Box::new(TrainBuffers::ZERO);
    let mut ctx = Context::new(2);
    let xb: Box<[[f32; 784]; B]> = Box::new(core::array::from_fn(|i| pixels[i].map(|p| p / 255.0)));
    let labels: [u16; B] = core::array::from_fn(|_| rng.below(10) as u16);
    g.bench_function("train_step_b64", |b| {
        b.iter(|| {
            classification_step(
                &mut *net,
                &mut *adam,
                &mut buf,
                &mut ctx,
                black_box(&xb),
                &labels,
            )
            .expect("finite loss")
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = dependent
}
criterion_main!(benches);
