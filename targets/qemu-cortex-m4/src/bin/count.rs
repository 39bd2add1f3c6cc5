//! Instruction counts of the int8 kernels on the Cortex-M4 (the DSP path), for
//! `count.sh`: the Fashion-MNIST MLP's three int8 dense layers (784→256, 256→128, 128→10,
//! per-channel requantization included) and the whole network, each between a call of
//! `bench_start` and one of `bench_end`, which the QEMU plugin counts; the first window is
//! empty and measures the markers themselves.
//!
//! Weights, biases, multipliers and the input come from a seeded generator: the kernels
//! execute the same instructions for any values, up to the requantization's few branches.
//!
//! A sixth window counts what a firmware pays at boot to check the network's weight file
//! and borrow it in place (`firmnet::format::view`: header, checksum over every byte,
//! every layer, attribute, tensor and quantization value).

#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use firmnet::format::{self, Aligned};
use firmnet::models::FashionMlp;
use firmnet::net::{Infer, Scratch};
use firmnet::quant::{Borrowed, Int8, QDense};
use firmnet::rng::Rng;
use firmnet::tensor::Zero;
use firmnet_demo::bench::{bench_end, bench_start};

board::handlers!();

/// The network as a zero-copy view of its weight file.
type FashionRef<'a> = Int8<FashionMlp, Borrowed<'a>>;

/// Fills a layer with seeded weights and a requantization of the usual magnitudes.
fn fill<const IN: usize, const OUT: usize>(layer: &mut QDense<IN, OUT>, rng: &mut Rng) {
    for row in layer.weight.0.iter_mut() {
        row.iter_mut()
            .for_each(|w| *w = (rng.next_u32() as i8).max(-127));
    }
    for o in 0..OUT {
        layer.bias[o] = (rng.next_u32() as i32) >> 16;
        layer.multiplier[o] = (1 << 30) + (rng.next_u32() >> 2) as i32;
        layer.shift[o] = -8 - rng.below(4) as i32;
    }
    layer.output.zero_point = -128;
    layer.min = -128;
}

/// Links each layer's input quantization to the previous layer's output, as a file
/// requires.
fn link(net: &mut Int8<FashionMlp>) {
    net.rest.first.input = net.first.output;
    net.rest.rest.input = net.rest.first.output;
}

#[entry]
fn main() -> ! {
    static mut NET: Int8<FashionMlp> = Zero::ZERO;
    static mut SCRATCH: Scratch<Int8<FashionMlp>> = Zero::ZERO;
    static mut FILE: Aligned<[u8; 250_000]> = Aligned([0; 250_000]);
    let net: &mut Int8<FashionMlp> = NET;
    let mut rng = Rng::new(7);
    fill(&mut net.first, &mut rng);
    fill(&mut net.rest.first, &mut rng);
    fill(&mut net.rest.rest, &mut rng);
    link(net);
    let x: [i8; 784] = core::array::from_fn(|_| rng.next_u32() as i8);
    let mut h1 = [0i8; 256];
    let mut h2 = [0i8; 128];
    let mut logits = [0i8; 10];
    let mut whole = [0i8; 10];

    bench_start();
    bench_end();
    bench_start();
    net.first.forward_with(black_box(&x), &mut h1, &mut []);
    bench_end();
    bench_start();
    net.rest
        .first
        .forward_with(black_box(&h1), &mut h2, &mut []);
    bench_end();
    bench_start();
    net.rest
        .rest
        .forward_with(black_box(&h2), &mut logits, &mut []);
    bench_end();
    bench_start();
    net.forward(black_box(&x), &mut whole, SCRATCH);
    bench_end();

    let len = format::write(&*net, &mut FILE.0).unwrap_or(0);
    let file = black_box(FILE.0.get(..len).unwrap_or(&[]));
    bench_start();
    let view = format::view::<FashionRef<'_>>(file);
    bench_end();
    hprintln!("file {} bytes, checked: {}", len, view.is_ok());

    let agree = logits == whole && view.is_ok();
    hprintln!("logits {:?}", whole);
    hprintln!("layer by layer and whole network agree: {}", agree);
    debug::exit(if agree {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}
