//! The exported Fashion-MNIST int8 network — the very file the Cortex-M4F runs — on a
//! Cortex-M0 with 16 KB of RAM, classifying the test images that fit beside it in the
//! micro:bit's 256 KB of flash.
//!
//! Built with `--features deploy` from the bundle that `cargo run --release --example verify`
//! writes for this target (`out/deploy/cortex-m0/`, passed as `FIRMNET_DEPLOY_DIR`): the
//! main job's `model_int8.fnet` (236 KB, borrowed in place, so it never occupies RAM) and
//! the first test images. Prints every image's logits, the accuracy, the digest of all
//! logits and the stack's high-water mark — by hand, without `core::fmt`, which would not
//! fit — and exits with status 0 (1 on any error).

#![no_std]
#![no_main]

#[path = "../../../common/embedded.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod embedded;
#[path = "../../../common/fashion.rs"]
mod fashion;
#[path = "../../../common/report.rs"]
mod report;
#[path = "../../../common/semihosting.rs"]
mod semihosting;

use core::panic::PanicInfo;
use embedded::{IMAGES, LABELS, MODEL};

use cortex_m as _;
use cortex_m_rt::{ExceptionFrame, entry, exception};
use semihosting::{fail, stack_high_water, write};

#[entry]
fn main() -> ! {
    // The activation buffers, handed out once as a `&'static mut` (.bss).
    static mut BUFFERS: fashion::Buffers = fashion::Buffers::ZERO;

    let Ok(net) = fashion::network(MODEL) else {
        fail(b"error: the embedded network is refused\n")
    };
    let outcome = fashion::run(&net, IMAGES, LABELS, BUFFERS, |i, l| {
        report::logits(&mut write, i, l)
    });
    let Ok(outcome) = outcome else {
        fail(b"error: the embedded images are not whole images with one label each\n")
    };
    report::summary(&mut write, &outcome, stack_high_water().0);
    write(b"done\n");
    semihosting::success()
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    fail(b"panic\n")
}

#[exception]
unsafe fn HardFault(_: &ExceptionFrame) -> ! {
    fail(b"hard fault\n")
}

#[exception]
unsafe fn DefaultHandler(_: i16) {
    fail(b"unexpected exception or interrupt\n")
}
