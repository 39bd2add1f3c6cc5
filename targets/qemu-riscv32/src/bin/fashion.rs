//! The exported Fashion-MNIST int8 network — the very file the Cortex-M4F runs — on RV32IMAC,
//! classifying the same 1,000 test images.
//!
//! Built with `--features deploy` from the bundle that `cargo run --release --example verify`
//! writes for this target (`out/deploy/riscv32/`, passed as `FIRMNET_DEPLOY_DIR`). The
//! network is checked and borrowed in place; its int8 layers run firmnet's portable
//! reference kernel. Prints every image's logits, the accuracy, the digest of all logits
//! and the stack's high-water mark (the lines of `targets/common/report.rs`), then `done`,
//! and exits with status 0 (1 on any error).

#![no_std]
#![no_main]

use firmnet_demo::{bundle, fashion, report};
use riscv_rt::entry;
use riscv_semihosting::{debug, hprintln};
use rt::write;

bundle!(MODEL: "model_int8.fnet", IMAGES: "test_images.bin", LABELS: "test_labels.bin");
// The float network whose int8 twin the bundle holds (`pub type Model = …;`, written by
// `verify --model cnn|mlp`).
include!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/model.rs"));

#[entry]
fn main() -> ! {
    // The activation buffers, handed out once as a `&'static mut` (.bss).
    let buffers =
        riscv::singleton!(: fashion::Buffers<fashion::Network<'static, Model>> = fashion::Buffers::ZERO).expect("main runs once");
    let painted_from = rt::paint_stack();
    let outcome = fashion::network::<fashion::Network<Model>>(MODEL).map(|net| {
        fashion::run(&net, IMAGES, LABELS, buffers, |i, l| {
            report::logits(&mut write, i, l)
        })
    });
    match outcome {
        Ok(Ok(outcome)) => {
            let stack = rt::stack_high_water(painted_from);
            report::summary(&mut write, &outcome, stack);
            write(b"done\n");
            rt::exit(debug::EXIT_SUCCESS)
        }
        Ok(Err(e)) | Err(e) => {
            hprintln!("error: {}", e);
            rt::exit(debug::EXIT_FAILURE)
        }
    }
}
