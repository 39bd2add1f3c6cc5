//! firmnet on a Cortex-M4F, under QEMU `mps2-an386`, with unaligned accesses trapping.
//!
//! Runs the computation of [`firmnet_demo::training`] — a classifier trained with Adam in
//! `static` memory, then its float deployment form — and prints each value it reports over
//! semihosting as one line `label index 0xBITS` (the bits of the `f32`, exact; written
//! without `core::fmt`), then `done`, then exits with status 0. A panic or a fault prints
//! what happened and exits with a failure status, so a run never hangs. `tests/firmware.rs`
//! at the repository root parses this output and compares it with the same computation on
//! the host.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use firmnet_demo::{report, training};

board::handlers!();

#[entry]
fn main() -> ! {
    // The firmware owns the memory: `#[entry]` turns each `static mut` into a `&'static mut`
    // handed out exactly once. The all-zero buffers live in .bss; the network and Adam, whose
    // initial values are not all zero (batch-norm scales, step size), in .data.
    static mut NET: training::Mlp = training::MLP;
    static mut ADAM: training::Optimizer = training::OPTIMIZER;
    static mut BUFFERS: training::Buffers = training::Buffers::ZERO;
    static mut ARENA: training::Arena = training::Arena::ZERO;
    static mut DEPLOYED: training::Small = training::SMALL;
    board::trap_unaligned();

    let mut workspace = training::Workspace {
        net: NET,
        adam: ADAM,
        buf: BUFFERS,
        scratch: ARENA,
        deployed: DEPLOYED,
    };
    let result = training::run(&mut workspace, &mut |label, index, value| {
        report::value(&mut board::write, label, index, value);
    });
    match result {
        Ok(()) => {
            board::write(b"done\n");
            board::success()
        }
        Err(e) => {
            board::allow_unaligned();
            hprintln!("error: {}", e);
            board::fail(b"")
        }
    }
}
