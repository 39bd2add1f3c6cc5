//! The inference-only build: what a product links to run the exported Fashion-MNIST int8
//! network from a weight file in flash, and nothing else.
//!
//! It embeds the same bundle as `fashion.rs` (`--features deploy`), checks the file and
//! borrows the network in place (`firmnet::format::qnet_ref`), classifies every embedded
//! image, and writes three lines in hand-made decimal and hex (`../common/report.rs`; no
//! `core::fmt`, whose float formatting alone would outweigh the network's code):
//!
//! ```text
//! accuracy 905 1000
//! digest 0x85181873
//! stack 1544
//! ```
//!
//! and exits with status 0, or 1 if the bundle is refused. `cargo run --release --example
//! verify` reports this program's footprint; `classify_static.rs` is its twin with the
//! network compiled in.
//!
//! # No panics, by construction of the link
//! The panic handler (`../common/no_panic.rs`) calls a function defined nowhere, so the
//! program links only if no path to a panic survives optimization — in checking the file,
//! borrowing it, or running the network. `cargo build --release --features deploy --bin
//! classify` succeeding is the proof for the product configuration.

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
use embedded::{IMAGES, LABELS, MODEL};

#[entry]
fn main() -> ! {
    // The activation buffers, handed out once as a `&'static mut` (.bss).
    static mut BUFFERS: fashion::Buffers = fashion::Buffers::ZERO;

    let outcome = fashion::network(MODEL)
        .and_then(|net| fashion::run(&net, IMAGES, LABELS, BUFFERS, |_, _| {}));
    let (stack, _) = semihosting::stack_high_water();
    let Ok(outcome) = outcome else {
        semihosting::fail(b"error: the embedded network or images are refused\n")
    };
    report::summary(&mut semihosting::write, &outcome, stack);
    semihosting::success()
}
