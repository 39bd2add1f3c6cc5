//! Training and inference speed of the main job's network, `FashionMlp`
//! (784-256-128-10, batch normalization, ReLU, dropout; 235,914 parameters):
//!
//! * `train_step/batch64`: one training step at batch 64 — forward, softmax cross-entropy,
//!   backward, Adam — in samples per second;
//! * `train_epoch/54016`: one epoch of the main job's size (844 steps of 64) through the
//!   [`Trainer`], shuffling and batch assembly included;
//! * `inference/batch1`: one sample through the trained-shape network, in µs per sample.
//!
//! Inputs are random (the speed does not depend on the data). Compare with
//! `benches/pytorch_mlp.py`, which measures the same network in PyTorch.
//!
//! `cargo bench --features std --bench train`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use firmnet::host::{LrSchedule, Regularization, Samples, TrainConfig, Trainer};
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::prelude::*;
use firmnet::train::{TrainBuffers, classification_step};

type G = <FashionMlp as Layer>::Grad;
const B: usize = 64;

fn random_samples(n: usize, seed: u64) -> Samples<784> {
    let mut rng = Rng::new(seed);
    Samples {
        x: (0..n)
            .map(|_| core::array::from_fn(|_| rng.normal()))
            .collect(),
        y: (0..n).map(|_| rng.below(10) as u16).collect(),
    }
}

fn network(seed: u64) -> Box<FashionMlp> {
    let mut net = firmnet::boxed!(FASHION_MLP);
    net.init(Init::HeNormal, &mut Rng::new(seed));
    net
}

fn train_step(c: &mut Criterion) {
    let data = random_samples(B, 1);
    let x: Box<[[f32; 784]; B]> = Box::new(core::array::from_fn(|i| data.x[i]));
    let y: [u16; B] = core::array::from_fn(|i| data.y[i]);
    let mut net = network(2);
    let mut adam: Box<Adam<G>> = Adam::boxed(AdamConfig::DEFAULT);
    let mut buf: Box<TrainBuffers<FashionMlp, B>> = firmnet::boxed::zero();
    let mut ctx = Context::new(3);
    let mut g = c.benchmark_group("train_step");
    g.throughput(Throughput::Elements(B as u64));
    g.bench_function("batch64", |b| {
        b.iter(|| {
            classification_step(&mut *net, &mut *adam, &mut buf, &mut ctx, black_box(&x), &y)
                .unwrap()
        })
    });
    g.finish();
}

fn train_epoch(c: &mut Criterion) {
    let train = random_samples(844 * B, 4);
    let val = random_samples(B, 5);
    let mut g = c.benchmark_group("train_epoch");
    g.sample_size(10);
    g.throughput(Throughput::Elements(train.len() as u64));
    g.bench_function(format!("{}", train.len()), |b| {
        b.iter_batched(
            || {
                Trainer::<FashionMlp, _, B>::new(
                    network(6),
                    Adam::<G>::boxed(AdamConfig::DEFAULT),
                    7,
                )
            },
            |mut t| {
                let config = TrainConfig {
                    epochs: 1,
                    schedule: LrSchedule::constant(1e-3),
                    patience: None,
                    monitor: None,
                    seed: 8,
                    progress: false,
                    regularization: Regularization::NONE,
                };
                t.fit(&train, &val, &config, |_| {}).unwrap()
            },
            criterion::BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn inference(c: &mut Criterion) {
    let net = network(9);
    let x = random_samples(1, 10).x[0];
    let mut scratch = firmnet::boxed::zero::<Scratch<FashionMlp>>();
    let mut y = [0.0; 10];
    let mut g = c.benchmark_group("inference");
    g.throughput(Throughput::Elements(1));
    g.bench_function("batch1", |b| {
        b.iter(|| {
            net.forward(black_box(&x), &mut y, &mut scratch);
            y
        })
    });
    g.finish();
}

criterion_group!(benches, train_step, train_epoch, inference);
criterion_main!(benches);
