//! Instruction counts of the f32 dense products on the Cortex-M4F, for `count.sh`: the
//! products of `firmnet_demo::f32_kernels` (matrix–vector 784→256, 64→64 and 67→13, the
//! batch forward, the input and weight gradients), each run once between a call of
//! `bench_start` and one of `bench_end`, which the QEMU plugin counts; the first window is
//! empty and measures the markers themselves.
//!
//! After each window the program checks the product's output: its FNV-1a checksum must be
//! `f32_kernels::EXPECTED`, which `tests/f32_m4.rs` holds the host's reference kernels to.
//! It prints `f32 NAME MACS CHECKSUM ok|differs` per product and exits with a failure
//! status if any differs, so a fast path that changes a bit fails the count.

#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use firmnet_demo::bench::{bench_end, bench_start};
use firmnet_demo::f32_kernels::{self as f32k, Workspace};

board::handlers!();

#[entry]
fn main() -> ! {
    static mut WS: Workspace = Workspace::ZERO;
    let ws: &mut Workspace = WS;
    f32k::fill(ws);

    bench_start();
    bench_end();
    let mut all = true;
    for i in 0..f32k::NAMES.len() {
        let ws = black_box(&mut *ws);
        bench_start();
        f32k::run(ws, black_box(i));
        bench_end();
        let sum = f32k::checksum(f32k::output(ws, i));
        let ok = f32k::EXPECTED.get(i) == Some(&sum);
        all &= ok;
        hprintln!(
            "f32 {} {} {:#010x} {}",
            f32k::NAMES[i],
            f32k::WORK[i],
            sum,
            if ok { "ok" } else { "differs" }
        );
    }
    debug::exit(if all {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}
