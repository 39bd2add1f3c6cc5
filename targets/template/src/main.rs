//! Runs the int8 twin of the network of `src/network.rs` on the windows in
//! `model/inputs.bin`, straight from the weight file in flash: the file is checked at boot
//! (a damaged or foreign file is refused with the reason), the network borrowed in place,
//! and each window's logits printed as `logits i v0 v1 v2`.

#![no_std]
#![no_main]

mod network;

use firmnet::format::{self, Aligned};
use firmnet::net::{Infer, Scratch};
use firmnet::quant::{Borrowed, Int8, QLayer};

/// The int8 network, borrowed from the weight file: weights and tables stay in flash.
type Model<'a> = Int8<network::Network, Borrowed<'a>>;

static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(
    env!("MODEL_DIR"),
    "/model_int8.fnet"
)));
/// Input windows: 96 little-endian `f32` each.
static INPUTS: &[u8] = include_bytes!(concat!(env!("MODEL_DIR"), "/inputs.bin"));

board::handlers!();

#[cortex_m_rt::entry]
fn main() -> ! {
    // The arena for the activations between layers, sized by the compiler (.bss).
    static mut ARENA: Scratch<Model<'static>> = Scratch::<Model<'static>>::ZERO;
    let net: Model = format::view(MODEL).unwrap_or_else(|e| board::fail_with(&e));
    for (i, window) in INPUTS.chunks_exact(4 * network::INPUTS).enumerate() {
        let mut x = [0i8; network::INPUTS];
        for (q, v) in x.iter_mut().zip(window.chunks_exact(4)) {
            *q = net
                .input_params()
                .quantize(f32::from_le_bytes([v[0], v[1], v[2], v[3]]));
        }
        let mut logits = [0i8; network::OUTPUTS];
        net.forward(&x, &mut logits, ARENA);
        board::print_logits(i, &logits);
    }
    board::success()
}
