//! Streaming classification: the int8 network of `src/network.rs` on a continuous
//! accelerometer signal, the last 32 frames every 8 frames (`src/window.rs`).
//!
//! The signal is `model/stream.bin` (frames of 3 little-endian `f32`), played back as a
//! sensor would deliver it: a timer interrupt (SysTick) takes one frame per tick and puts
//! it in a lock-free queue; the main loop takes the frames out, quantizes each once into
//! the sliding window, and runs the network, in place on the window, whenever one is due.
//! Each run prints `logits hop v0 v1 v2`; the last line is
//! `frames F hops H queue-full T stack S`: `T` ticks found the queue full (the frame then
//! waits for the next tick, as in a sensor's own buffer, so no frame is lost) and `S` is
//! the deepest the stack went, in bytes.

#![no_std]
#![no_main]

#[path = "../network.rs"]
mod network;
#[path = "../window.rs"]
mod window;

use core::cell::RefCell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use cortex_m::interrupt::{self, Mutex};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use firmnet::format::{self, Aligned};
use firmnet::net::{Infer, Scratch};
use firmnet::quant::{Borrowed, Int8, QLayer};
use firmnet::stream::{Producer, Queue};

use window::{AXES, Frame, SensorWindow};

/// The int8 network, borrowed from the weight file: weights and tables stay in flash.
type Model<'a> = Int8<network::Network, Borrowed<'a>>;

static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(
    env!("MODEL_DIR"),
    "/model_int8.fnet"
)));
/// The signal: frames of 3 little-endian `f32`, the sensor's readings in m/s².
static STREAM: &[u8] = include_bytes!(concat!(env!("MODEL_DIR"), "/stream.bin"));

/// Bytes of a frame in `stream.bin`.
const FRAME_BYTES: usize = 4 * AXES;
/// Timer ticks between two frames: 0.5 ms at the MPS2 board's 25 MHz, 40 times the
/// sensor's 50 Hz, so that the run is short.
const TICKS_PER_FRAME: u32 = 12_500;
/// Slots of the frame queue; one stays free, so 15 frames can wait.
const QUEUE_SLOTS: usize = 16;

/// The queue's producer, on its way from `main` to the interrupt handler.
static PRODUCER: Mutex<RefCell<Option<Producer<'static, Frame>>>> = Mutex::new(RefCell::new(None));
/// Set by the handler once every frame of the signal is in the queue.
static DONE: AtomicBool = AtomicBool::new(false);
/// Ticks that found the queue full.
static QUEUE_FULL: AtomicU32 = AtomicU32::new(0);

board::handlers!();

#[entry]
fn main() -> ! {
    // Arena, queue and window in .bss; cortex-m-rt hands `main` its `static mut`s as
    // `&'static mut`, safely (it runs once).
    static mut ARENA: Scratch<Model<'static>> = Scratch::<Model<'static>>::ZERO;
    static mut FRAMES: Queue<Frame, QUEUE_SLOTS> = Queue::new();
    static mut WINDOW: SensorWindow = SensorWindow::new();

    let net: Model = format::view(MODEL).unwrap_or_else(|e| board::fail_with(&e));
    let params = net.input_params();
    let (producer, mut frames) = FRAMES.split();
    interrupt::free(|cs| PRODUCER.borrow(cs).replace(Some(producer)));

    let mut core = cortex_m::Peripherals::take()
        .unwrap_or_else(|| board::fail(b"the core peripherals are taken\n"));
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(TICKS_PER_FRAME - 1);
    core.SYST.clear_current();
    core.SYST.enable_interrupt();
    core.SYST.enable_counter();

    let mut hops = 0;
    loop {
        // Read before draining: once it is set, every frame is already in the queue.
        let done = DONE.load(Ordering::Acquire);
        WINDOW.drain_quantized(&mut frames, params, |x| {
            let mut logits = [0i8; network::OUTPUTS];
            net.forward(x, &mut logits, ARENA);
            board::print_logits(hops, &logits);
            hops += 1;
        });
        if done {
            break;
        }
        // Sleep until the next tick (the timer keeps running, so this always wakes).
        cortex_m::asm::wfi();
    }
    core.SYST.disable_interrupt();
    core.SYST.disable_counter();

    board::write(b"frames ");
    board::write_int((STREAM.len() / FRAME_BYTES) as i32);
    board::write(b" hops ");
    board::write_int(hops as i32);
    board::write(b" queue-full ");
    board::write_int(QUEUE_FULL.load(Ordering::Relaxed) as i32);
    board::write(b" stack ");
    board::write_int(board::stack_high_water().0 as i32);
    board::write(b"\n");
    board::success()
}

/// The sensor: one frame of the signal per tick into the queue.
#[exception]
fn SysTick() {
    static mut PRODUCER_HERE: Option<Producer<'static, Frame>> = None;
    static mut NEXT: usize = 0;

    if PRODUCER_HERE.is_none() {
        *PRODUCER_HERE = interrupt::free(|cs| PRODUCER.borrow(cs).take());
    }
    let Some(producer) = PRODUCER_HERE else {
        return;
    };
    let Some(bytes) = STREAM.get(*NEXT * FRAME_BYTES..(*NEXT + 1) * FRAME_BYTES) else {
        DONE.store(true, Ordering::Release);
        return;
    };
    let mut frame = [0.0; AXES];
    for (v, b) in frame.iter_mut().zip(bytes.chunks_exact(4)) {
        *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    if producer.enqueue(frame).is_ok() {
        *NEXT += 1;
    } else {
        QUEUE_FULL.fetch_add(1, Ordering::Relaxed);
    }
}
