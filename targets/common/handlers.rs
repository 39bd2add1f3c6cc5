//! Handlers that report a panic or a fault with `core::fmt` and end the run instead of
//! hanging, for the Cortex-M programs that print with `hprintln!` (`#[path = …] mod
//! handlers;`, beside `semihosting.rs` as `mod semihosting`).

use core::panic::PanicInfo;

use cortex_m_rt::{ExceptionFrame, exception};
use cortex_m_semihosting::hprintln;

use super::semihosting::fail;

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    fail(b"")
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    hprintln!("hard fault: {:?}", frame);
    fail(b"")
}

#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    hprintln!("unexpected exception or interrupt {}", irqn);
    fail(b"")
}
