//! firmnet on a Cortex-M0 with 16 KB of RAM, under QEMU `microbit` (nRF51822).
//!
//! Runs the computation of [`firmnet_demo::int8`] and prints each value it reports over
//! semihosting as one line `label index value` (integers), then `done`, then exits with
//! status 0. It also prints, on stderr, how deep the stack went. A panic or a fault prints
//! what happened and exits with a failure status, so a run never hangs.
//! `tests/firmware_targets.rs` at the repository root parses this output and compares it
//! with the same computation run on the host.

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{heprintln, hprintln};
use firmnet_demo::int8;

board::handlers!();

#[entry]
fn main() -> ! {
    // `#[entry]` turns each `static mut` into a `&'static mut` handed out exactly once.
    // The float network is all zero (.bss); its int8 twin starts with scales of 1 (.data).
    static mut NET: int8::FloatNet = int8::FLOAT_NET;
    static mut TWIN: int8::Twin = int8::TWIN;

    let mut workspace = int8::Workspace {
        net: NET,
        twin: TWIN,
    };
    let result = int8::run(&mut workspace, &mut |label, index, value| {
        hprintln!("{} {} {}", label, index, value);
    });
    let (used, size) = board::stack_high_water();
    heprintln!("stack: {} of {} bytes used", used, size);
    match result {
        Ok(()) => {
            hprintln!("done");
            board::success()
        }
        Err(e) => {
            hprintln!("error: {}", e);
            board::fail(b"")
        }
    }
}
