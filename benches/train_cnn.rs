//! Training speed of a small convolutional network at batch 64, to compare with PyTorch
//! (`benches/pytorch_cnn.py` measures the same network, optimizer and batch on one thread):
//!
//! | block | layers | output |
//! | --- | --- | --- |
//! | 1 | 3×3 convolution 1 → 16 (`Same`), batch normalization, ReLU, 2×2 max-pool | 14×14×16 |
//! | 2 | 3×3 convolution 16 → 32 (`Same`), batch normalization, ReLU, 2×2 max-pool | 7×7×32 |
//! | head | flatten, dense 1,568 → 48, ReLU, dense 48 → 10 | 10 |
//!
//! 80,698 learned parameters. `train_step_cnn/batch64` is one step — forward, softmax
//! cross-entropy, backward, Adam — in samples per second. Inputs are random (the speed
//! does not depend on the data).
//!
//! Times are the thread's CPU time (`benches/common/cpu_time.rs`).
//!
//! `cargo bench --features std --bench train_cnn`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use firmnet::layers::{BatchNorm2d, Conv2d, Flatten, MaxPool2d};
use firmnet::prelude::*;
use firmnet::train::{TrainBuffers, classification_step};
use firmnet::{Net, net};

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::ThreadCpuTime;

/// The network of the module docs.
type Cnn = Net![
    Conv2d<28, 28, 1, 16, 3, 3, 28, 28>,
    BatchNorm2d<28, 28, 16>,
    Relu<[[[f32; 16]; 28]; 28]>,
    MaxPool2d<28, 28, 16, 2, 2, 14, 14, 2>,
    Conv2d<14, 14, 16, 32, 3, 3, 14, 14>,
    BatchNorm2d<14, 14, 32>,
    Relu<[[[f32; 32]; 14]; 14]>,
    MaxPool2d<14, 14, 32, 2, 2, 7, 7, 2>,
    Flatten<7, 7, 32, 1568>,
    Dense<1568, 48>,
    Relu<[f32; 48]>,
    Dense<48, 10>
];

const CNN: Cnn = net![
    Conv2d::ZERO,
    BatchNorm2d::DEFAULT,
    Relu::DEFAULT,
    MaxPool2d::DEFAULT,
    Conv2d::ZERO,
    BatchNorm2d::DEFAULT,
    Relu::DEFAULT,
    MaxPool2d::DEFAULT,
    Flatten::DEFAULT,
    Dense::ZERO,
    Relu::DEFAULT,
    Dense::ZERO
];

type G = <Cnn as Layer>::Grad;
type Image = [[[f32; 1]; 28]; 28];
const B: usize = 64;

fn train_step(c: &mut Criterion<ThreadCpuTime>) {
    let mut rng = Rng::new(1);
    let mut x: Box<[Image; B]> = firmnet::boxed::zero();
    for v in Image::batch_slice_mut(&mut x) {
        *v = rng.normal();
    }
    let y: [u16; B] = core::array::from_fn(|_| rng.below(10) as u16);
    let mut net = firmnet::boxed!(CNN);
    net.init(Init::HeNormal, &mut Rng::new(2));
    let mut adam: Box<Adam<G>> = Adam::boxed(AdamConfig::DEFAULT);
    let mut buf: Box<TrainBuffers<Cnn, B>> = firmnet::boxed::zero();
    let mut ctx = Context::new(3);
    let mut g = c.benchmark_group("train_step_cnn");
    g.throughput(Throughput::Elements(B as u64));
    g.bench_function("batch64", |b| {
        b.iter(|| {
            classification_step(&mut *net, &mut *adam, &mut buf, &mut ctx, black_box(&x), &y)
                .unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = train_step
}
criterion_main!(benches);
