//! The exported Fashion-MNIST int8 network on the Cortex-M4F, classifying 1,000 test images
//! embedded in flash, with unaligned accesses trapping.
//!
//! Built with `--features deploy` from the bundle that `cargo run --release --example verify`
//! writes (`out/deploy/` at the repository root, or `FIRMNET_DEPLOY_DIR`): the main job's
//! `model_int8.fnet` and the first test images with their labels. The network is checked and
//! borrowed in place (`firmnet::format::view`): its weights never leave flash, and RAM holds
//! only the activation buffers.
//!
//! The firmware classifies every image twice. The first pass prints nothing, so the stack's
//! high-water mark after it is that of loading and running the network alone; the second
//! prints each image's logits. Then the accuracy, the FNV-1a digest of all logits and the
//! stack, then `done`, and the run exits with status 0 (1 on any error).
//!
//! ```text
//! logits 0 -37 -52 -44 -36 -45 7 -40 4 -46 43
//! …
//! accuracy 905 1000
//! digest 0x7dac0586
//! stack 728
//! done
//! ```

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
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
    board::trap_unaligned();

    let net = match fashion::network::<fashion::Network<Model>>(MODEL) {
        Ok(net) => net,
        Err(e) => {
            board::allow_unaligned();
            hprintln!("error: {}", e);
            board::fail(b"")
        }
    };
    let first = fashion::run(&net, IMAGES, LABELS, BUFFERS, |_, _| {});
    let (stack, _) = board::stack_high_water();
    let second = fashion::run(&net, IMAGES, LABELS, BUFFERS, |i, l| {
        report::logits(&mut board::write, i, l);
    });
    match (first, second) {
        (Ok(a), Ok(b)) if a == b => {
            report::summary(&mut board::write, &a, stack);
            board::write(b"done\n");
            board::success()
        }
        (Ok(a), Ok(b)) => {
            board::allow_unaligned();
            hprintln!(
                "error: two passes over the same images differ: {:?} and {:?}",
                a,
                b
            );
            board::fail(b"")
        }
        (Err(e), _) | (_, Err(e)) => {
            board::allow_unaligned();
            hprintln!("error: {}", e);
            board::fail(b"")
        }
    }
}
