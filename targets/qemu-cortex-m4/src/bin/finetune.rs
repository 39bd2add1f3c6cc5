//! Learning on the Cortex-M4F: the deployed int8 network's last layer fine-tuned with Adam
//! on a shifted task, every byte of its state in `static` memory — the computation of
//! `targets/common/src/finetune.rs`, which `cargo run --release --example verify` repeats on the
//! host and compares.
//!
//! Built with `--features deploy` from the bundle's `model_int8.fnet` and the shifted
//! task's samples (`finetune_*.bin`). Prints `label index 0xBITS` per reported number — the
//! accuracy and held-out loss before (index 0) and after (1), the loss of every step — then
//! the stack's high-water mark and `done`, and exits with status 0 (1 on any error).

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use firmnet::tensor::Zero;
use firmnet_demo::{bundle, fashion, finetune};

#[path = "../learning.rs"]
mod learning;

bundle!(MODEL: "model_int8.fnet");

board::handlers!();

#[entry]
fn main() -> ! {
    // The learning state, each part handed out once as a `&'static mut`: the head and
    // Adam (its settings) in .data, the rest all zero in .bss.
    static mut HEAD: finetune::Head = Zero::ZERO;
    static mut ADAM: finetune::Optimizer = finetune::OPTIMIZER;
    static mut BUF: finetune::Buffers = Zero::ZERO;
    static mut FEATURES: [[f32; finetune::FEATURES]; finetune::BATCH] = Zero::ZERO;
    static mut ACT: finetune::Activations = fashion::Buffers::ZERO;
    board::trap_unaligned();

    let net = fashion::network::<finetune::Network>(MODEL).unwrap_or_else(|e| learning::fail(e));
    let mut ws = finetune::Workspace {
        head: HEAD,
        adam: ADAM,
        buf: BUF,
        features: FEATURES,
        act: ACT,
    };
    let samples = learning::samples();
    learning::finish(finetune::run(&net, &mut ws, &samples, &mut learning::value))
}
