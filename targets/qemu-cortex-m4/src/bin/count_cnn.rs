//! Instruction counts of the int8 convolutional layers on the Cortex-M4 (the DSP paths),
//! for `count.sh`: the eight layers of `firmnet_demo::cnn_kernels` (convolutions 3×3,
//! 1×1, one input channel and the keyword-spotting front end, a depthwise convolution,
//! max and global average pooling, the residual add), requantization included, each run
//! once between a call of `bench_start` and one of `bench_end`, which the QEMU plugin
//! counts; the first window is empty and measures the markers themselves.
//!
//! After each window the program checks the layer's output: its FNV-1a checksum must be
//! `cnn_kernels::EXPECTED`, which `tests/qconv_dsp.rs` holds the host's reference kernels
//! to. It prints `cnn NAME WORK CHECKSUM ok|differs` per layer and exits with a failure
//! status if any differs, so a fast path that changes a bit fails the count.

#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use firmnet_demo::bench::{bench_end, bench_start};
use firmnet_demo::cnn_kernels::{self as cnn, Workspace};

board::handlers!();

#[entry]
fn main() -> ! {
    static mut WS: Workspace = Workspace::ZERO;
    let ws: &mut Workspace = WS;
    cnn::fill(ws);

    bench_start();
    bench_end();
    let mut all = true;
    for i in 0..cnn::NAMES.len() {
        let ws = black_box(&mut *ws);
        bench_start();
        cnn::run(ws, black_box(i));
        bench_end();
        let sum = cnn::checksum(cnn::output(ws, i));
        let ok = cnn::EXPECTED.get(i) == Some(&sum);
        all &= ok;
        hprintln!(
            "cnn {} {} {:#010x} {}",
            cnn::NAMES[i],
            cnn::WORK[i],
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
