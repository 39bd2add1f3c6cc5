//! The float network the int8 one was quantized from, on the Cortex-M4F, over the same 1,000
//! embedded test images: the float path that `cargo run --release --example verify` checks
//! within a tolerance (the int8 path must match bit for bit).
//!
//! Built with `--features deploy` from the bundle's `model.fnet` (the main job's network,
//! input normalization folded in, so it takes raw pixels 0–255). The file is checked and
//! copied into a `static` `FashionMlp` (`firmnet::format::load_params`): f32 layers own their
//! weights. Prints `logits i 0xBITS…` (the ten logits' bits) per image, the accuracy, then
//! `done`, and exits with status 0 (1 on any error).

#![no_std]
#![no_main]

#[path = "../../../common/embedded.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod embedded;
#[path = "../../../common/handlers.rs"]
mod handlers;
#[path = "../../../common/semihosting.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod semihosting;

use cortex_m as _;
use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use embedded::{IMAGES, LABELS};
use firmnet::format::Aligned;
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::prelude::*;
use firmnet::tensor::Zero;

/// The float network, 16-byte aligned.
static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(
    env!("FIRMNET_DEPLOY_DIR"),
    "/model.fnet"
)));

#[entry]
fn main() -> ! {
    // The network, its inference buffers and the input, each handed out once as a
    // `&'static mut`.
    static mut NET: FashionMlp = FASHION_MLP;
    static mut SCRATCH: <FashionMlp as Layer>::Scratch = Zero::ZERO;
    static mut INPUT: [f32; 784] = [0.0; 784];

    if let Err(e) = firmnet::format::load_params(MODEL, NET) {
        hprintln!("error: the float network is refused: {}", e);
        semihosting::fail(b"")
    }
    let mut correct = 0;
    let mut logits = [0.0f32; 10];
    for (i, (image, &label)) in IMAGES.chunks_exact(784).zip(LABELS).enumerate() {
        for (x, &p) in INPUT.iter_mut().zip(image) {
            *x = f32::from(p);
        }
        NET.forward(INPUT, &mut logits, SCRATCH);
        correct += usize::from(argmax(&logits) == usize::from(label));
        let b = logits.map(f32::to_bits);
        hprintln!(
            "logits {} {:#010x} {:#010x} {:#010x} {:#010x} {:#010x} {:#010x} {:#010x} {:#010x} {:#010x} {:#010x}",
            i,
            b[0],
            b[1],
            b[2],
            b[3],
            b[4],
            b[5],
            b[6],
            b[7],
            b[8],
            b[9]
        );
    }
    hprintln!("accuracy {} {}", correct, LABELS.len());
    hprintln!("stack {}", semihosting::stack_high_water().0);
    hprintln!("done");
    semihosting::success()
}
