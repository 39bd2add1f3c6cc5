//! firmnet on a Cortex-M0 with 16 KB of RAM, under QEMU `microbit` (nRF51822).
//!
//! Runs the computation of [`int8_demo`] and prints each value it reports over semihosting
//! as one line `label index value` (integers), then `done`, then exits with status 0. It
//! also prints, on stderr, how deep the stack went. A panic or a fault prints what happened
//! and exits with a failure status, so a run never hangs. `tests/firmware_targets.rs` at the
//! repository root parses this output and compares it with the same file run on the host.

#![no_std]
#![no_main]

#[path = "../../common/handlers.rs"]
mod handlers;
mod int8_demo;
#[path = "../../common/semihosting.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod semihosting;

// Links the critical-section implementation that `hprintln!` needs.
use cortex_m as _;
use cortex_m_rt::entry;
use cortex_m_semihosting::{heprintln, hprintln};
use semihosting::{fail, stack_high_water, success};

#[entry]
fn main() -> ! {
    // `#[entry]` turns each `static mut` into a `&'static mut` handed out exactly once.
    // The float network is all zero (.bss); its int8 twin starts with scales of 1 (.data).
    static mut NET: int8_demo::FloatNet = int8_demo::FLOAT_NET;
    static mut TWIN: int8_demo::Twin = int8_demo::TWIN;

    let mut workspace = int8_demo::Workspace {
        net: NET,
        twin: TWIN,
    };
    let result = int8_demo::run(&mut workspace, &mut |label, index, value| {
        hprintln!("{} {} {}", label, index, value);
    });
    let (used, size) = stack_high_water();
    heprintln!("stack: {} of {} bytes used", used, size);
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
