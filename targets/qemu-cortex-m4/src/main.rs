//! firmnet on a Cortex-M4F, under QEMU `mps2-an386`.
//!
//! Runs the computation of [`demo`] and prints each value it reports over semihosting as one
//! line `label index 0xBITS decimal` (the bits of the `f32`, exact, then the value for people), then `done`, then exits with
//! status 0. A panic or a fault prints what happened and exits with a failure status, so a run
//! never hangs. `tests/firmware.rs` at the repository root parses this output and compares it
//! with the same computation on the host.

#![no_std]
#![no_main]

mod demo;
#[path = "../../common/handlers.rs"]
mod handlers;
#[path = "../../common/semihosting.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod semihosting;

// Links the critical-section implementation that `hprintln!` needs.
use cortex_m as _;
use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use semihosting::{fail, success};

#[entry]
fn main() -> ! {
    // The firmware owns the memory: `#[entry]` turns each `static mut` into a `&'static mut`
    // handed out exactly once. The all-zero buffers live in .bss; the network and Adam, whose
    // initial values are not all zero (batch-norm scales, step size), in .data.
    static mut NET: demo::Mlp = demo::MLP;
    static mut ADAM: demo::Optimizer = demo::OPTIMIZER;
    static mut BUFFERS: demo::Buffers = demo::Buffers::ZERO;
    static mut SCRATCH: demo::Scratch = firmnet::tensor::Zero::ZERO;

    let mut workspace = demo::Workspace {
        net: NET,
        adam: ADAM,
        buf: BUFFERS,
        scratch: SCRATCH,
    };
    let result = demo::run(&mut workspace, &mut |label, index, value| {
        hprintln!("{} {} {:#010x} {}", label, index, value.to_bits(), value);
    });
    match result {
        Ok(()) => {
            hprintln!("done");
            success()
        }
        Err(e) => {
            hprintln!("error: {}", e);
            fail(b"")
        }
    }
}
