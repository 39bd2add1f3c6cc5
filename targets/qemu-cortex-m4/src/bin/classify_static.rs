//! The inference-only build with the network compiled in: the exported Fashion-MNIST int8
//! network embedded as Rust source (`model_int8.rs`, written by
//! `firmnet::format::qnet_rust_source`) with `include!`, so the compiler checks every layer's
//! sizes against `FashionMlpQ` and the firmware carries no parser, checksum or error path —
//! the smallest deployment. Otherwise as `classify.rs`: it classifies the embedded images,
//! writes `accuracy`, `digest` and `stack`, and links only if no panic path remains.

#![no_std]
#![no_main]

#[path = "../../../common/embedded.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod embedded;
#[path = "../../../common/fashion.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod fashion;
#[path = "../../../common/no_panic.rs"]
mod no_panic;
#[path = "../../../common/report.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod report;
#[path = "../../../common/semihosting.rs"]
mod semihosting;

use cortex_m as _;
use cortex_m_rt::entry;
use embedded::{IMAGES, LABELS};
use firmnet::models::FashionMlpQ;

/// The int8 network, built by the compiler from its Rust source; it lands in flash.
static NET: FashionMlpQ = include!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/model_int8.rs"));

#[entry]
fn main() -> ! {
    // The activation buffers, handed out once as a `&'static mut` (.bss).
    static mut BUFFERS: fashion::Buffers = fashion::Buffers::ZERO;

    let outcome = fashion::run(&NET, IMAGES, LABELS, BUFFERS, |_, _| {});
    let (stack, _) = semihosting::stack_high_water();
    let Ok(outcome) = outcome else {
        semihosting::fail(b"error: the embedded images are not whole images with one label each\n")
    };
    report::summary(&mut semihosting::write, &outcome, stack);
    semihosting::success()
}
