//! Output, exit and stack measurement for the Cortex-M firmware, without `core::fmt`:
//! included by the programs of `qemu-cortex-m4` and `qemu-cortex-m0`
//! (`#[path = …] mod semihosting;`), which depend on `cortex-m`, `cortex-m-rt` (with its
//! `paint-stack` feature) and `cortex-m-semihosting`.

use cortex_m_semihosting::{debug, hio};

/// Writes `bytes` to the host's stdout; a missing host is ignored.
pub fn write(bytes: &[u8]) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_all(bytes);
    }
}

/// Ends the QEMU run with status 0.
pub fn success() -> ! {
    exit(debug::EXIT_SUCCESS)
}

/// Writes `message` and ends the QEMU run with status 1.
pub fn fail(message: &[u8]) -> ! {
    write(message);
    exit(debug::EXIT_FAILURE)
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
