//! Learning on the Cortex-M4F, for the convolutional network: the deployed int8 CNN's last
//! layers fine-tuned with Adam on the quarter-turned images, every byte of its state in
//! `static` memory — the computation of `targets/common/src/finetune_cnn.rs`, which
//! `cargo run --release --example verify` repeats on the host and compares
//! (`examples/verify/finetune_cnn.rs`).
//!
//! Built with `--features finetune-cnn` from the bundle's `cnn_int8.fnet` and the shifted
//! task's samples (`finetune_*.bin`, the MLP's). Prints `label index 0xBITS` per reported
//! number — the accuracy and held-out loss before (index 0) and after (1), the loss of
//! every step — then the stack's high-water mark and `done`, and exits with status 0 (1 on
//! any error).

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use firmnet::tensor::Zero;
use firmnet_demo::bundle;
use firmnet_demo::finetune_cnn::{self as ft, Activations};

#[path = "../learning.rs"]
mod learning;

bundle!(MODEL: "cnn_int8.fnet");

board::handlers!();

#[entry]
fn main() -> ! {
    // The learning state, each part handed out once as a `&'static mut`: the head and
    // Adam (its settings) in .data, the rest all zero in .bss.
    static mut HEAD: ft::Head = Zero::ZERO;
    static mut ADAM: ft::Optimizer = ft::OPTIMIZER;
    static mut BUF: ft::Buffers = Zero::ZERO;
    static mut BATCH: [[f32; ft::WIDTH]; ft::BATCH] = Zero::ZERO;
    static mut SCRATCH: ft::HeadScratch = ft::HeadScratch::ZERO;
    static mut CACHE: ft::Cache = Zero::ZERO;
    static mut ACT: Activations = Activations::ZERO;
    board::trap_unaligned();

    let net = ft::network(MODEL).unwrap_or_else(|e| learning::fail(e));
    let mut ws = ft::Workspace {
        head: HEAD,
        adam: ADAM,
        buf: BUF,
        batch: BATCH,
        scratch: SCRATCH,
        cache: CACHE,
        act: ACT,
    };
    let samples = learning::samples();
    learning::finish(ft::run(&net, &mut ws, &samples, &mut learning::value))
}
