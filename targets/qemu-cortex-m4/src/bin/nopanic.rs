//! A link-time proof that int8 inference cannot panic.
//!
//! The firmware runs the Fashion-MNIST int8 network (`Int8<FashionMlp>`, weights in flash)
//! on one input. Its panic handler (`board::no_panic_handler!`) calls a function that is
//! defined nowhere, so the program links only if the optimizer removed every path to the
//! panic handler: no bounds check, overflow check, assertion or `unwrap` survives in the
//! inference code. `cargo build --release --bin nopanic` succeeding *is* the proof; a panic
//! path added to the int8 kernels makes it fail with `undefined symbol:
//! firmnet_inference_can_panic`.

#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use firmnet::models::FashionMlp;
use firmnet::net::{Infer, Scratch};
use firmnet::quant::Int8;
use firmnet::tensor::Zero;

board::no_panic_handler!();

static NET: Int8<FashionMlp> = Zero::ZERO;

#[entry]
fn main() -> ! {
    static mut SCRATCH: Scratch<Int8<FashionMlp>> = Zero::ZERO;
    let x: [i8; 784] = black_box([0; 784]);
    let mut y = [0i8; 10];
    black_box(&NET).forward(&x, &mut y, SCRATCH);
    black_box(y);
    board::success()
}
