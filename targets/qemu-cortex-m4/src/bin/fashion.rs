//! The exported Fashion-MNIST int8 network on the Cortex-M4F, classifying 1,000 test images
//! embedded in flash.
//!
//! Built with `--features deploy` from the bundle that `cargo run --release --example verify`
//! writes (`out/deploy/` at the repository root, or `FIRMNET_DEPLOY_DIR`): the main job's
//! `model_int8.fnet` and the first test images with their labels. The network is checked and
//! borrowed in place (`firmnet::format::qnet_ref`): its weights never leave flash, and RAM
//! holds only the activation buffers.
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
//! digest 0x85181873
//! stack 1600
//! done
//! ```

#![no_std]
#![no_main]

#[path = "../../../common/embedded.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod embedded;
#[path = "../../../common/fashion.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod fashion;
#[path = "../../../common/handlers.rs"]
mod handlers;
#[path = "../../../common/semihosting.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod semihosting;

use cortex_m as _;
use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use embedded::{IMAGES, LABELS, MODEL};

#[entry]
fn main() -> ! {
    // The activation buffers, handed out once as a `&'static mut` (.bss).
    static mut BUFFERS: fashion::Buffers = fashion::Buffers::ZERO;

    let net = match fashion::network(MODEL) {
        Ok(net) => net,
        Err(e) => {
            hprintln!("error: {}", e);
            semihosting::fail(b"")
        }
    };
    let first = fashion::run(&net, IMAGES, LABELS, BUFFERS, |_, _| {});
    let (stack, _) = semihosting::stack_high_water();
    let second = fashion::run(&net, IMAGES, LABELS, BUFFERS, |i, l| {
        hprintln!(
            "logits {} {} {} {} {} {} {} {} {} {} {}",
            i,
            l[0],
            l[1],
            l[2],
            l[3],
            l[4],
            l[5],
            l[6],
            l[7],
            l[8],
            l[9]
        );
    });
    match (first, second) {
        (Ok(a), Ok(b)) if a == b => {
            hprintln!("accuracy {} {}", a.correct, a.images);
            hprintln!("digest {:#010x}", a.digest);
            hprintln!("stack {}", stack);
            hprintln!("done");
            semihosting::success()
        }
        (Ok(a), Ok(b)) => {
            hprintln!(
                "error: two passes over the same images differ: {:?} and {:?}",
                a,
                b
            );
            semihosting::fail(b"")
        }
        (Err(e), _) | (_, Err(e)) => {
            hprintln!("error: {}", e);
            semihosting::fail(b"")
        }
    }
}
