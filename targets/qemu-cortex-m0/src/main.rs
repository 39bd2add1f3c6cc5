//! firmnet on a Cortex-M0 with 16 KB of RAM, under QEMU `microbit` (nRF51822).
//!
//! Runs the computation of [`int8_demo`] and prints each value it reports over semihosting
//! as one line `label index value` (integers), then `done`, then exits with status 0. It
//! also prints, on stderr, how deep the stack went. A panic or a fault prints what happened
//! and exits with a failure status, so a run never hangs. `tests/firmware_targets.rs` at the
//! repository root parses this output and compares it with the same file run on the host.

#![no_std]
#![no_main]

mod int8_demo;

use core::panic::PanicInfo;

// Links the critical-section implementation that `hprintln!` needs.
use cortex_m as _;
use cortex_m_rt::{ExceptionFrame, entry, exception};
use cortex_m_semihosting::{debug, heprintln, hprintln};

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
            exit(debug::EXIT_SUCCESS)
        }
        Err(e) => {
            hprintln!("error: {}", e);
            exit(debug::EXIT_FAILURE)
        }
    }
}

/// How many bytes of the stack have been used so far, and how many there are: the stack
/// runs from `_stack_start` (the top of RAM) down to `_stack_end` (the end of .bss), and
/// cortex-m-rt's `paint-stack` filled it with `STACK_PAINT_VALUE` before `main`. The
/// lowest word that no longer holds the paint marks the deepest the stack reached.
fn stack_high_water() -> (usize, usize) {
    unsafe extern "C" {
        static _stack_start: u32;
        static _stack_end: u32;
    }
    let top = (&raw const _stack_start) as usize;
    let bottom = (&raw const _stack_end) as usize;
    let mut deepest = bottom;
    while deepest < top {
        // SAFETY: `bottom..top` is RAM reserved for the stack by cortex-m-rt's linker
        // script, word-aligned (its ASSERTs check both ends). Reading a word there has no
        // side effect; the words below the deepest ever used belong to no Rust object, and
        // the scan stops at the first one above that.
        let word = unsafe { core::ptr::read_volatile(deepest as *const u32) };
        if word != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        deepest += 4;
    }
    (top - deepest, top - bottom)
}

/// Ends the QEMU run with `status` as its exit code.
fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    // Only reached if no semihosting host listens; nothing is left to do.
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    exit(debug::EXIT_FAILURE)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("hard fault: {:?}", frame);
    exit(debug::EXIT_FAILURE)
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    hprintln!("unexpected exception or interrupt {}", irqn);
    exit(debug::EXIT_FAILURE)
}
