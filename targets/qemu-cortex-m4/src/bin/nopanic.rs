//! A link-time proof that int8 inference cannot panic.
//!
//! The firmware runs the Fashion-MNIST int8 network (`FashionMlpQ`, weights in flash) on
//! one input. Its panic handler (`../common/no_panic.rs`) calls a function that is defined nowhere,
//! so the program links only if the optimizer removed every path to the panic handler: no
//! bounds check, overflow check, assertion or `unwrap` survives in the inference code.
//! `cargo build --release --bin nopanic` succeeding *is* the proof; a panic path added to
//! the int8 kernels makes it fail with `undefined symbol: firmnet_inference_can_panic`.

#![no_std]
#![no_main]

#[path = "../../../common/no_panic.rs"]
mod no_panic;

use core::hint::black_box;

use cortex_m as _;
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use firmnet::models::{FASHION_MLP_Q, FashionMlpQ};
use firmnet::quant::QLayer;
use firmnet::tensor::Zero;

static NET: FashionMlpQ = FASHION_MLP_Q;

#[entry]
fn main() -> ! {
    static mut SCRATCH: <FashionMlpQ as QLayer>::Scratch = Zero::ZERO;
    let x: [i8; 784] = black_box([0; 784]);
    let mut y = [0i8; 10];
    black_box(&NET).forward(&x, &mut y, SCRATCH);
    black_box(y);
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}
