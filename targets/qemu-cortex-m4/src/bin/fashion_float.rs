//! The float deployment form of the network the int8 one was quantized from, on the
//! Cortex-M4F, over the same 1,000 embedded test images: `Deployed<Model>` — `Model` the
//! bundle's float network (`model.rs`: `FashionCnn` or `FashionMlp`), batch normalization
//! folded into the convolution or dense layer before it, dropout gone — which
//! `cargo run --release --example verify` checks bit for bit against the host's reference
//! kernels.
//!
//! Built with `--features deploy` from the bundle's `model_float.fnet` (input normalization
//! folded in, so it takes raw pixels 0–255, as a vector or a 28×28×1 map: the same 784
//! values in the same order). The file is checked and copied into a `static` network
//! (`firmnet::format::load`): f32 layers own their weights. Prints
//! `logits i 0xBITS…` (the ten logits' bits) per image, the accuracy, then `done` — without
//! `core::fmt` — and exits with status 0 (1 on any error).

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use firmnet::deploy::Deployed;
use firmnet::prelude::*;
use firmnet::tensor::{Tensor, Zero};
use firmnet_demo::{bundle, report};

bundle!(MODEL: "model_float.fnet", IMAGES: "test_images.bin", LABELS: "test_labels.bin");
// The float network the bundle holds (`pub type Model = …;`, written by
// `verify --model cnn|mlp`).
include!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/model.rs"));

board::handlers!();

/// The deployment form, e.g. for the MLP
/// `Net![Dense<784, 256>, Relu, Dense<256, 128>, Relu, Dense<128, 10>]`.
type Network = Deployed<Model>;

#[entry]
fn main() -> ! {
    // The network, its arena and the input, each handed out once as a `&'static mut`.
    static mut NET: Network = Zero::ZERO;
    static mut ARENA: Scratch<Network> = Scratch::<Network>::ZERO;
    static mut INPUT: <Network as Infer>::Input = Zero::ZERO;
    board::trap_unaligned();

    if let Err(e) = firmnet::format::load(MODEL, NET) {
        board::allow_unaligned();
        hprintln!("error: the float network is refused: {}", e);
        board::fail(b"")
    }
    let mut correct = 0;
    let mut logits = [0.0f32; 10];
    for (i, (image, &label)) in IMAGES.chunks_exact(784).zip(LABELS.iter()).enumerate() {
        for (x, &p) in Tensor::as_mut_slice(INPUT).iter_mut().zip(image) {
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
