//! What every firmware of this crate needs around its computation: painting the stack
//! and measuring its high-water mark, output and exit over semihosting, and handlers that
//! report a panic or a trap and end the run instead of hanging. The library of the crate's
//! programs, `src/main.rs` and `src/bin/fashion.rs`.

#![no_std]

use core::panic::PanicInfo;

use riscv::register::{mcause, mepc, mtval};
use riscv_rt::TrapFrame;
use riscv_semihosting::{debug, hprintln};

/// How many bytes below the stack pointer of `main` [`paint_stack`] fills: far more than
/// the computation needs (about 2 KB), far less than the 16 MiB the stack could grow into.
pub const PAINTED: usize = 64 * 1024;
/// What [`paint_stack`] writes; the same value as cortex-m-rt's `STACK_PAINT_VALUE`.
pub const PAINT: u32 = 0xCCCC_CCCC;

unsafe extern "C" {
    /// Top of the stack (riscv-rt's linker script): `sp` starts here.
    pub static _stack_start: u32;
    /// Bottom of the stack region, just above the statics (riscv-rt's linker script).
    pub static __estack: u32;
}

/// Fills up to [`PAINTED`] bytes below the current stack pointer with [`PAINT`] (never
/// below the stack region) and returns the lowest painted address. riscv-rt has no
/// stack painting of its own, unlike cortex-m-rt's `paint-stack`.
#[inline(never)]
pub fn paint_stack() -> usize {
    let sp: usize;
    // SAFETY: copies the stack pointer into a register; reads and writes no memory.
    unsafe {
        core::arch::asm!("mv {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags));
    }
    let region = (&raw const __estack) as usize;
    let bottom = sp.saturating_sub(PAINTED).max(region).next_multiple_of(4);
    let mut addr = bottom;
    while addr < sp {
        // SAFETY: `bottom..sp` lies in the stack region of riscv-rt's linker script (RAM,
        // above every static), below the stack pointer: no frame uses it, the RISC-V calling
        // convention has no red zone below `sp`, and interrupts are disabled. It is aligned.
        unsafe { core::ptr::write_volatile(addr as *mut u32, PAINT) };
        addr += 4;
    }
    bottom
}

/// How many bytes below `_stack_start` the stack has reached: the lowest word above
/// `bottom` (as [`paint_stack`] returned it) that no longer holds [`PAINT`].
pub fn stack_high_water(bottom: usize) -> usize {
    let top = (&raw const _stack_start) as usize;
    let mut deepest = bottom;
    while deepest < top {
        // SAFETY: `bottom..top` is RAM of the stack region, word-aligned; reading it has no
        // side effect. The words below the deepest ever used belong to no Rust object, and
        // the scan stops at the first one above that.
        let word = unsafe { core::ptr::read_volatile(deepest as *const u32) };
        if word != PAINT {
            break;
        }
        deepest += 4;
    }
    top - deepest
}

/// Ends the QEMU run with `status` as its exit code.
pub fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    // Only reached if no semihosting host listens; nothing is left to do.
    loop {
        riscv::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    exit(debug::EXIT_FAILURE)
}

/// Every exception (illegal instruction, access fault, misaligned access, …): riscv-rt's
/// default would loop forever.
#[unsafe(export_name = "ExceptionHandler")]
extern "C" fn exception_handler(frame: &TrapFrame) -> ! {
    hprintln!(
        "exception: mcause {:#x}, mepc {:#x}, mtval {:#x}, ra {:#x}",
        mcause::read().bits(),
        mepc::read(),
        mtval::read(),
        frame.ra
    );
    exit(debug::EXIT_FAILURE)
}

/// Every interrupt: none is enabled, so any is unexpected.
#[unsafe(export_name = "DefaultHandler")]
extern "C" fn default_handler() -> ! {
    hprintln!("unexpected interrupt: mcause {:#x}", mcause::read().bits());
    exit(debug::EXIT_FAILURE)
}

/// Writes `bytes` to the host's stdout; a missing host is ignored.
pub fn write(bytes: &[u8]) {
    if let Ok(mut out) = riscv_semihosting::hio::hstdout() {
        let _ = out.write_all(bytes);
    }
}
