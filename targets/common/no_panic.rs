//! A panic handler that makes "cannot panic" a link-time fact: it calls a function declared
//! here and defined nowhere, so a program that includes this module
//! (`#[path = …] mod no_panic;`) links only if the optimizer removed every path to a
//! panic. A bounds check, overflow check, assertion or `unwrap` left reachable fails the
//! build with `undefined symbol: firmnet_inference_can_panic`.

use core::panic::PanicInfo;

unsafe extern "C" {
    /// Never defined: if any panic remains reachable, the link fails naming it.
    fn firmnet_inference_can_panic() -> !;
}

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    // SAFETY: never executed in a successful link — the symbol does not exist, so this
    // line links only if the optimizer removed every call to the panic handler.
    unsafe { firmnet_inference_can_panic() }
}
