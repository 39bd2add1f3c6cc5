//! The inference-only build: what a product links to run the exported Fashion-MNIST int8
//! network from a weight file in flash, and nothing else.
//!
//! It embeds the same bundle as `fashion.rs` (`--features deploy`), checks the file and
//! borrows the network in place (`firmnet::format::view`), classifies every embedded image,
//! and writes three lines in hand-made decimal and hex (`firmnet_demo::report`; no
//! `core::fmt`, whose formatting alone would outweigh the network's code):
//!
//! ```text
//! accuracy 905 1000
//! digest 0x7dac0586
//! stack 712
//! ```
//!
//! It feeds the images to the network as they are, so it relies on the network taking raw
//! pixels (`QParams::PIXELS`), which `verify` checks for the bundle on the host and
//! `fashion` on the device; a product quantizes its input with `net.input_params()`, as
//! the firmware template does.
//!
//! It exits with status 0, or 1 if the bundle is refused (with the error's code, printed
//! without `core::fmt` by `FormatError::describe`). `cargo run --release --example verify`
//! reports this program's footprint; `classify_static.rs` is its twin with the network
//! compiled in.
//!
//! # No panics, by construction of the link
//! The panic handler (`board::no_panic_handler!`) calls a function defined nowhere, so the
//! program links only if no path to a panic survives optimization — in checking the file,
//! borrowing it, or running the network. `cargo build --release --features deploy --bin
//! classify` succeeding is the proof for the product configuration.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use firmnet_demo::{bundle, fashion, report};

bundle!(MODEL: "model_int8.fnet", IMAGES: "test_images.bin", LABELS: "test_labels.bin");
// The float network whose int8 twin the bundle holds (`pub type Model = …;`, written by
// `verify --model cnn|mlp`).
include!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/model.rs"));

board::no_panic_handler!();

#[entry]
fn main() -> ! {
    // The activation buffers, handed out once as a `&'static mut` (.bss).
    static mut BUFFERS: fashion::Buffers<fashion::Network<'static, Model>> = fashion::Buffers::ZERO;
    board::trap_unaligned();

    let net: fashion::Network<'_, Model> = match firmnet::format::view(MODEL) {
        Ok(net) => net,
        Err(e) => board::fail_with(&e),
    };
    let outcome = fashion::run(&net, IMAGES, LABELS, BUFFERS, |_, _| {});
    let (stack, _) = board::stack_high_water();
    let Ok(outcome) = outcome else {
        board::fail(b"error: the images are not whole images with one label each\n")
    };
    report::summary(&mut board::write, &outcome, stack);
    board::success()
}
