//! The float deployment form of the network the int8 one was quantized from, on the
//! Cortex-M4F, over the same 1,000 embedded test images: `Deployed<FashionMlp>` (batch
//! normalization folded into the dense layers, dropout gone), which
//! `cargo run --release --example verify` checks bit for bit against the host's reference
//! kernels.
//!
//! Built with `--features deploy` from the bundle's `model_float.fnet` (input normalization
//! folded in, so it takes raw pixels 0–255). The file is checked and copied into a `static`
//! network (`firmnet::format::load`): f32 layers own their weights. Prints
//! `logits i 0xBITS…` (the ten logits' bits) per image, the accuracy, then `done` — without
//! `core::fmt` — and exits with status 0 (1 on any error).

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use firmnet::deploy::Deployed;
use firmnet::models::FashionMlp;
use firmnet::prelude::*;
use firmnet_demo::{bundle, report};

bundle!(MODEL: "model_float.fnet", IMAGES: "test_images.bin", LABELS: "test_labels.bin");

board::handlers!();

/// The deployment form: `Net![Dense<784, 256>, Relu, Dense<256, 128>, Relu, Dense<128, 10>]`.
type Network = Deployed<FashionMlp>;

#[entry]
fn main() -> ! {
    // The network, its arena and the input, each handed out once as a `&'static mut`.
    static mut NET: Network = net![
        Dense::ZERO,
        Relu::DEFAULT,
        Dense::ZERO,
        Relu::DEFAULT,
        Dense::ZERO
    ];
    static mut ARENA: Scratch<Network> = Scratch::<Network>::ZERO;
    static mut INPUT: [f32; 784] = [0.0; 784];
    board::trap_unaligned();

    if let Err(e) = firmnet::format::load(MODEL, NET) {
        board::allow_unaligned();
        hprintln!("error: the float network is refused: {}", e);
        board::fail(b"")
    }
    let mut correct = 0;
    let mut logits = [0.0f32; 10];
    for (i, (image, &label)) in IMAGES.chunks_exact(784).zip(LABELS.iter()).enumerate() {
        for (x, &p) in INPUT.iter_mut().zip(image) {
            *x = f32::from(p);
        }
        NET.forward(INPUT, &mut logits, ARENA);
        correct += usize::from(argmax(&logits) == usize::from(label));
        report::values(&mut board::write, "logits", i, &logits);
    }
    board::write(b"accuracy ");
    board::write_int(correct as i32);
    board::write(b" ");
    board::write_int(LABELS.len() as i32);
    board::write(b"\nstack ");
    board::write_int(board::stack_high_water().0 as i32);
    board::write(b"\ndone\n");
    board::success()
}
