//! firmnet on RV32IMAC, under QEMU `virt` without firmware (`-bios none`).
//!
//! Runs the computation of [`firmnet_demo::int8`] — what the Cortex-M0 firmware runs —
//! and prints each value it reports over semihosting
//! as one line `label index value` (integers), then `done`, then exits with status 0. It
//! also prints, on stderr, how deep the stack went. A panic or a trap prints what happened
//! and exits with a failure status, so a run never hangs. `tests/firmware_targets.rs` at the
//! repository root parses this output and compares it with the same file run on the host.

#![no_std]
#![no_main]

use firmnet_demo::int8 as int8_demo;
use riscv_rt::entry;
use riscv_semihosting::{debug, heprintln, hprintln};

use rt::{__estack, _stack_start, exit, paint_stack, stack_high_water};

#[entry]
fn main() -> ! {
    // The network and its int8 twin, each handed out once as a `&'static mut`: `singleton!`
    // keeps them in `static`s (.bss) instead of main's stack frame.
    let net =
        riscv::singleton!(: int8_demo::FloatNet = int8_demo::FLOAT_NET).expect("main runs once");
    let twin = riscv::singleton!(: int8_demo::Twin = int8_demo::TWIN).expect("main runs once");

    let painted_from = paint_stack();
    let mut workspace = int8_demo::Workspace { net, twin };
    let result = int8_demo::run(&mut workspace, &mut |label, index, value| {
        hprintln!("{} {} {}", label, index, value);
    });
    let used = stack_high_water(painted_from);
    heprintln!(
        "stack: {} of {} bytes used",
        used,
        (&raw const _stack_start) as usize - (&raw const __estack) as usize
    );
    match result {
        Ok(()) => {
            hprintln!("done");
            exit(debug::EXIT_SUCCESS)
        }
        Err(e) => {
            hprintln!("error: {}", e);
            exit(debug::EXIT_FAILURE)
        }
    }
}
