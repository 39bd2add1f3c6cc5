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

use cortex_m_rt::entry;
use firmnet_demo::{bundle, fashion, report};

bundle!(MODEL: "model_int8.fnet", IMAGES: "test_images.bin", LABELS: "test_labels.bin");
// The float network whose int8 twin the bundle holds (`pub type Model = …;`, written by
// `verify --model cnn|mlp`).
include!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/model.rs"));

board::handlers!();

#[entry]
fn main() -> ! {
    // The activation buffers, handed out once as a `&'static mut` (.bss).
    static mut BUFFERS: fashion::Buffers<fashion::Network<'static, Model>> = fashion::Buffers::ZERO;

    let net = match fashion::network::<fashion::Network<Model>>(MODEL) {
        Ok(net) => net,
        Err(fashion::Error::Format(e)) => board::fail_with(&e),
        Err(_) => board::fail(b"error: the network does not take raw pixels\n"),
    };
    let outcome = fashion::run(&net, IMAGES, LABELS, BUFFERS, |i, l| {
        report::logits(&mut board::write, i, l)
    });
    let Ok(outcome) = outcome else {
        board::fail(b"error: the images are not whole images with one label each\n")
    };
    report::summary(&mut board::write, &outcome, board::stack_high_water().0);
    board::write(b"done\n");
    board::success()
}
