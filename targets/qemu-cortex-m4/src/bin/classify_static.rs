//! The inference-only build with the network compiled in: the exported Fashion-MNIST int8
//! network embedded as Rust source (`model_int8.rs`, written by
//! `firmnet::format::rust_source`) with `include!`, so the compiler checks every layer's
//! sizes against the bundle's network (`model.rs`) and the firmware carries no parser, checksum or error
//! path — the smallest deployment. Otherwise as `classify.rs`: it classifies the embedded
//! images, writes `accuracy`, `digest` and `stack`, and links only if no panic path remains.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use firmnet_demo::fashion::{self, Compiled};
use firmnet_demo::{bundle, report};

bundle!(IMAGES: "test_images.bin", LABELS: "test_labels.bin");
// The float network whose int8 twin the bundle holds (`pub type Model = …;`, written by
// `verify --model cnn|mlp`).
include!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/model.rs"));

board::no_panic_handler!();

/// The int8 network, built by the compiler from its Rust source; it lands in flash. The
/// same type as the file's view, with owned storage.
static NET: Compiled<Model> = include!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/model_int8.rs"));

#[entry]
fn main() -> ! {
    // The activation buffers, handed out once as a `&'static mut` (.bss).
    static mut BUFFERS: fashion::Buffers<Compiled<Model>> = fashion::Buffers::ZERO;
    board::trap_unaligned();

    let outcome = fashion::run(&NET, IMAGES, LABELS, BUFFERS, |_, _| {});
    let (stack, _) = board::stack_high_water();
    let Ok(outcome) = outcome else {
        board::fail(b"error: the images are not whole images with one label each\n")
    };
    report::summary(&mut board::write, &outcome, stack);
    board::success()
}
