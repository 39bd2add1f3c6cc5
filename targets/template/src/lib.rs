//! Board support for firmnet firmware on a Cortex-M core: output, exit, stack measurement
//! and fault handlers, all without `core::fmt` (whose formatting machinery alone would
//! outweigh a small network's code). Output goes over semihosting — to QEMU's console, or
//! to a debugger's (probe-rs) on a board.
//!
//! A program calls [`handlers!`] once for its panic and fault handlers, writes with
//! [`write`], [`write_int`] and [`print_logits`], and ends with [`success`] or [`fail`].
//! firmnet's other Cortex-M programs (`targets/qemu-cortex-m4`, `targets/qemu-cortex-m0`)
//! use this same crate.

#![no_std]
#![deny(missing_docs)]

use core::panic::PanicInfo;

use cortex_m_rt::ExceptionFrame;
use cortex_m_semihosting::{debug, hio};

#[doc(hidden)]
pub use cortex_m_rt;

/// The device part of the vector table for the MPS2 boards (feature `mps2-interrupts`):
/// their 32 interrupts, all to `DefaultHandler` (this firmware enables none).
#[cfg(feature = "mps2-interrupts")]
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
pub static __INTERRUPTS: [unsafe extern "C" fn(); 32] = [default_handler; 32];

#[cfg(feature = "mps2-interrupts")]
unsafe extern "C" {
    /// cortex-m-rt's `DefaultHandler` (or the program's, from [`handlers!`]).
    #[link_name = "DefaultHandler"]
    fn default_handler();
}

/// Writes `bytes` to the host's stdout; a missing host is ignored.
pub fn write(bytes: &[u8]) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_all(bytes);
    }
}

/// Writes `v` in decimal.
pub fn write_int(v: i32) {
    write(firmnet::text::decimal(v, &mut [0; 11]));
}

/// Writes the line `logits i v0 v1 …` for the int8 outputs of input `i`.
pub fn print_logits(i: usize, logits: &[i8]) {
    write(b"logits ");
    write_int(i as i32);
    for &v in logits {
        write(b" ");
        write_int(i32::from(v));
    }
    write(b"\n");
}

/// Ends the run with status 0 (under QEMU, its exit status).
pub fn success() -> ! {
    exit(debug::EXIT_SUCCESS)
}

/// Writes `message` and ends the run with status 1.
pub fn fail(message: &[u8]) -> ! {
    write(message);
    exit(debug::EXIT_FAILURE)
}

/// Writes why a weight file was refused — `format error 20, layer 2, weight, expected 784,
/// found 256` (the number is `firmnet::format::ErrorCode`'s) — and ends the run with
/// status 1.
pub fn fail_with(error: &firmnet::format::FormatError) -> ! {
    error.describe(&mut write);
    fail(b"\n")
}

fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    // Only reached if no semihosting host listens; nothing is left to do.
    loop {
        cortex_m::asm::wfi();
    }
}

/// How many bytes of the stack have been used so far, and how many there are: the stack
/// runs from `_stack_start` (the top of RAM) down to `_stack_end` (the end of .bss), and
/// cortex-m-rt's `paint-stack` filled it with `STACK_PAINT_VALUE` before `main`. The
/// lowest word that no longer holds the paint marks the deepest the stack reached.
pub fn stack_high_water() -> (usize, usize) {
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

/// Makes every unaligned word or halfword access fault (`SCB.CCR.UNALIGN_TRP`), as some
/// products require: firmnet's kernels never make one, and firmware that sets this proves
/// it. Cortex-M3/M4/M7 only (ARMv6-M always traps). Code that `rustc` compiles for
/// `thumbv7em` may load or store unaligned words, so a firmware that calls this must be
/// built with `-C target-feature=+strict-align` too (the template's `.cargo/config.toml`
/// has the line, commented out; `targets/qemu-cortex-m4` sets it). The precompiled `core`
/// is not, and its `core::fmt` does: call [`allow_unaligned`] before formatting with it.
pub fn trap_unaligned() {
    const UNALIGN_TRP: u32 = 1 << 3;
    // SAFETY: setting UNALIGN_TRP changes only how unaligned accesses are handled (they
    // fault instead of being split); no memory is touched, and the read-modify-write of
    // CCR runs with no other code on this single core.
    unsafe {
        let scb = &*cortex_m::peripheral::SCB::PTR;
        scb.ccr.modify(|ccr| ccr | UNALIGN_TRP);
    }
}

/// Lets unaligned accesses through again (clears `SCB.CCR.UNALIGN_TRP`): before code that
/// was not compiled to avoid them, such as `core::fmt`, which the precompiled `core` for
/// `thumbv7em` does with unaligned loads.
pub fn allow_unaligned() {
    const UNALIGN_TRP: u32 = 1 << 3;
    // SAFETY: as in `trap_unaligned`.
    unsafe {
        let scb = &*cortex_m::peripheral::SCB::PTR;
        scb.ccr.modify(|ccr| ccr & !UNALIGN_TRP);
    }
}

#[doc(hidden)]
pub fn panicked(info: &PanicInfo) -> ! {
    write(b"panic");
    if let Some(at) = info.location() {
        write(b" at ");
        write(at.file().as_bytes());
        write(b":");
        write_int(at.line() as i32);
    }
    fail(b"\n")
}

#[doc(hidden)]
pub fn faulted(frame: &ExceptionFrame) -> ! {
    write(b"hard fault at pc ");
    write(firmnet::text::hex(frame.pc(), &mut [0; 10]));
    fail(b"\n")
}

#[doc(hidden)]
pub fn unexpected(irqn: i16) -> ! {
    write(b"unexpected interrupt ");
    write_int(i32::from(irqn));
    fail(b"\n")
}

/// Defines the program's panic handler and its `HardFault` and `DefaultHandler` exception
/// handlers: each writes what happened (without `core::fmt`) and ends the run with status
/// 1, so a run under QEMU never hangs. Call it once, at the top level of the program.
#[macro_export]
macro_rules! handlers {
    () => {
        #[panic_handler]
        fn panic(info: &core::panic::PanicInfo) -> ! {
            $crate::panicked(info)
        }

        #[$crate::cortex_m_rt::exception]
        unsafe fn HardFault(frame: &$crate::cortex_m_rt::ExceptionFrame) -> ! {
            $crate::faulted(frame)
        }

        #[$crate::cortex_m_rt::exception]
        unsafe fn DefaultHandler(irqn: i16) {
            $crate::unexpected(irqn)
        }
    };
}

/// Defines a panic handler that makes "cannot panic" a link-time fact: it calls a function
/// declared and defined nowhere, so the program links only if the optimizer removed every
/// path to a panic. A bounds check, overflow check, assertion or `unwrap` left reachable
/// fails the build with `undefined symbol: firmnet_inference_can_panic`. Also defines the
/// fault handlers of [`handlers!`].
#[macro_export]
macro_rules! no_panic_handler {
    () => {
        unsafe extern "C" {
            /// Never defined: if any panic remains reachable, the link fails naming it.
            fn firmnet_inference_can_panic() -> !;
        }

        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo) -> ! {
            // SAFETY: never executed in a successful link — the symbol does not exist, so
            // this line links only if the optimizer removed every call to the panic
            // handler.
            unsafe { firmnet_inference_can_panic() }
        }

        #[$crate::cortex_m_rt::exception]
        unsafe fn HardFault(frame: &$crate::cortex_m_rt::ExceptionFrame) -> ! {
            $crate::faulted(frame)
        }

        #[$crate::cortex_m_rt::exception]
        unsafe fn DefaultHandler(irqn: i16) {
            $crate::unexpected(irqn)
        }
    };
}
