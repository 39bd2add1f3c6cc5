//! Learning on the Cortex-M4F: the deployed int8 network's last layer fine-tuned with Adam
//! on a shifted task, every byte of its state in `static` memory — the computation of
//! `targets/common/finetune.rs`, which `cargo run --release --example verify` repeats on the
//! host and compares.
//!
//! Built with `--features deploy` from the bundle's `model_int8.fnet` and the shifted task's
//! samples (`finetune_*.bin`). Prints `label index 0xBITS value` per reported number — the
//! accuracy and held-out loss before (index 0) and after (1), the loss of every step — then
//! the stack's high-water mark and `done`, and exits with status 0 (1 on any error).

#![no_std]
#![no_main]

#[path = "../../../common/embedded.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod embedded;
#[path = "../../../common/fashion.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod fashion;
#[path = "../../../common/finetune.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod finetune;
#[path = "../../../common/handlers.rs"]
mod handlers;
#[path = "../../../common/semihosting.rs"]
#[allow(dead_code)] // shared by several programs, each using part of it
mod semihosting;

use cortex_m as _;
use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use embedded::MODEL;
use firmnet::tensor::Zero;

macro_rules! bundle {
    ($name:literal) => {
        include_bytes!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/", $name))
    };
}

#[entry]
fn main() -> ! {
    // The learning state, each part handed out once as a `&'static mut`: the head and
    // Adam (its settings) in .data, the rest all zero in .bss.
    static mut HEAD: finetune::Head = Zero::ZERO;
    static mut ADAM: finetune::Optimizer = finetune::OPTIMIZER;
    static mut BUF: finetune::Buffers = Zero::ZERO;
    static mut FEATURES: [[f32; finetune::FEATURES]; finetune::BATCH] = Zero::ZERO;
    static mut ACT: fashion::Buffers = fashion::Buffers::ZERO;

    let net = match fashion::network(MODEL) {
        Ok(net) => net,
        Err(e) => {
            hprintln!("error: {}", e);
            semihosting::fail(b"")
        }
    };
    let samples = finetune::Samples {
        train_images: bundle!("finetune_train_images.bin"),
        train_labels: bundle!("finetune_train_labels.bin"),
        eval_images: bundle!("finetune_eval_images.bin"),
        eval_labels: bundle!("finetune_eval_labels.bin"),
    };
    let mut ws = finetune::Workspace {
        head: HEAD,
        adam: ADAM,
        buf: BUF,
        features: FEATURES,
        act: ACT,
    };
    let result = finetune::run(&net, &mut ws, &samples, &mut |label, index, value| {
        hprintln!("{} {} {:#010x} {}", label, index, value.to_bits(), value);
    });
    if let Err(e) = result {
        hprintln!("error: {}", e);
        semihosting::fail(b"")
    }
    hprintln!("stack {}", semihosting::stack_high_water().0);
    hprintln!("done");
    semihosting::success()
}
