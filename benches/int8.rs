//! Int8 against f32 inference of the main job's network at batch 1: `FashionMlp` and its
//! int8 twin `Int8<FashionMlp>` (235 KB of weights, which fit in L2; the f32 network's 940 KB
//! do not), one sample in, ten logits out.
//!
//! * `inference_batch1/f32`: the float network (SIMD kernels);
//! * `inference_batch1/int8`: the int8 network on the SIMD path (`wide`, `vpmaddwd`);
//! * `inference_batch1/int8_reference`: the same on the scalar reference kernel;
//! * `inference_batch1/int8_with_input_quantization`: including the quantization of the
//!   `f32` pixels.
//!
//! `cargo bench --features std --bench int8`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use firmnet::host::{RangeMethod, quantize};
use firmnet::kernels::{self, Backend};
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::prelude::*;
use firmnet::quant::{Int8, QLayer, QParams};

fn inference(c: &mut Criterion) {
    let mut net: Box<FashionMlp> = firmnet::boxed!(FASHION_MLP);
    net.init(Init::HeNormal, &mut Rng::new(1));
    // Calibrated on random pixels: the speed does not depend on the ranges.
    let mut rng = Rng::new(2);
    let pixels: Vec<[f32; 784]> = (0..64)
        .map(|_| core::array::from_fn(|_| rng.below(256) as f32))
        .collect();
    let q: Box<Int8<FashionMlp>> =
        quantize(&*net, &pixels, RangeMethod::MinMax).expect("calibrated");
    let x = pixels[0];
    let mut xq = [0i8; 784];
    QParams::PIXELS.quantize_slice(&x, &mut xq);
    let mut scratch = firmnet::boxed::zero::<Scratch<FashionMlp>>();
    let mut qscratch = firmnet::boxed::zero::<Scratch<Int8<FashionMlp>>>();
    let mut y = [0.0f32; 10];
    let mut yq = [0i8; 10];

    let mut g = c.benchmark_group("inference_batch1");
    g.bench_function("f32", |b| {
        b.iter(|| net.forward(black_box(&x), &mut y, &mut scratch))
    });
    g.bench_function("int8", |b| {
        b.iter(|| q.forward(black_box(&xq), &mut yq, &mut qscratch))
    });
    g.bench_function("int8_with_input_quantization", |b| {
        b.iter(|| {
            let mut xq = [0i8; 784];
            q.input_params().quantize_slice(black_box(&x), &mut xq);
            q.forward(&xq, &mut yq, &mut qscratch)
        })
    });
    kernels::set_backend(Backend::Reference);
    g.bench_function("int8_reference", |b| {
        b.iter(|| q.forward(black_box(&xq), &mut yq, &mut qscratch))
    });
    kernels::set_backend(Backend::Simd);
    g.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
