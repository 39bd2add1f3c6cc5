//! Instructions per inference of the deployed network (the bundle's CNN or MLP) on the
//! Cortex-M4F, counted exactly by the QEMU plugin `tools/insnwin.c`, which
//! `cargo run --release --example verify` runs this program under.
//!
//! Built with `--features deploy` from the same bundle as `classify.rs`. The first window
//! between `bench_start` and `bench_end` is empty (the markers' own cost); then one window
//! per image for the first [`COUNTED`] images, each around `fashion::classify`: the pixels
//! quantized, the network run from flash, the class chosen — one inference as a product
//! makes it. Then every counted image's logits (which `verify` compares with the host's),
//! `counted N`, `done`, and exit status 0 (1 if the bundle is refused or holds too few
//! images).

#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use firmnet_demo::bench::{bench_end, bench_start};
use firmnet_demo::{bundle, fashion, report};

bundle!(MODEL: "model_int8.fnet", IMAGES: "test_images.bin");
// The float network whose int8 twin the bundle holds (`pub type Model = …;`, written by
// `verify --model cnn|mlp`).
include!(concat!(env!("FIRMNET_DEPLOY_DIR"), "/model.rs"));

board::handlers!();

/// Images counted, one window each.
const COUNTED: usize = 10;

#[entry]
fn main() -> ! {
    // The activation buffers, handed out once as a `&'static mut` (.bss).
    static mut BUFFERS: fashion::Buffers<fashion::Network<'static, Model>> = fashion::Buffers::ZERO;
    static mut LOGITS: [[i8; fashion::CLASSES]; COUNTED] = [[0; fashion::CLASSES]; COUNTED];
    board::trap_unaligned();

    let Ok(net) = fashion::network::<fashion::Network<Model>>(MODEL) else {
        board::fail(b"error: the network is refused\n")
    };
    bench_start();
    bench_end();
    for (i, logits) in LOGITS.iter_mut().enumerate() {
        let Some(Ok(image)) = IMAGES
            .get(i * fashion::PIXELS..(i + 1) * fashion::PIXELS)
            .map(<&[u8; fashion::PIXELS]>::try_from)
        else {
            board::fail(b"error: the bundle holds too few images\n")
        };
        bench_start();
        fashion::classify(&net, black_box(image), BUFFERS);
        bench_end();
        *logits = BUFFERS.logits;
    }
    for (i, logits) in LOGITS.iter().enumerate() {
        report::logits(&mut board::write, i, logits);
    }
    board::write(b"counted ");
    board::write_int(COUNTED as i32);
    board::write(b"\ndone\n");
    board::success()
}
