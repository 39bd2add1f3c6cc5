//! Streaming inference: a sliding window over a sensor's frames that hands the network the
//! latest window every `HOP` frames, in place.
//!
//! A sensor delivers *frames* — one reading of `F` channels, e.g. the 3 axes of an
//! accelerometer — one at a time. A network that classifies the last `N / F` frames wants
//! them as one contiguous input, oldest first: `&[T; N]`, frame after frame. [`Window`]
//! keeps them so that this input is always a slice of its own memory, never a copy:
//!
//! * **Two copies of the ring.** The window's storage is two rings of `N` values back to
//!   back. Every frame is written into both, at the same slot. The frames from the oldest
//!   slot to the end of the first ring, followed by those from the start of the second ring
//!   up to the newest, are then the latest window in order — one contiguous slice that
//!   starts at the oldest slot. Each frame costs `2·F` stores; a hop costs nothing at all
//!   before the network runs, whatever `HOP` is. A single ring would hand the network two
//!   pieces (or copy `N` values into one every hop), and a shifting buffer would move
//!   `N − F` values every frame; the second copy buys one contiguous window for `N`
//!   values of RAM.
//! * **Int8 networks** get their input quantized once per frame, on arrival
//!   ([`Window::push_quantized`], with the network's input parameters
//!   [`QLayer::input_params`](crate::quant::QLayer::input_params)), not once per window per
//!   hop.
//! * **Sizes are const generics**, checked when the type is used: `F ≥ 1`, `N` a whole
//!   number of frames, `1 ≤ HOP ≤ N / F`. A window that breaks a rule does not compile.
//!
//! # Semantics
//! Frames are numbered from 1 as they are pushed. The first window is due with frame
//! `N / F` (the first moment the window is full); then one is due every `HOP` frames:
//! with frames `N / F + k·HOP`, `k = 0, 1, 2, …`. Before the first, [`Window::push`]
//! returns `None` and [`Window::latest`] too: a partly filled window is never handed out.
//! A due window holds the last `N / F` frames, oldest first.
//!
//! # Memory
//! `size_of::<Window<T, N, F, HOP>>()` is `2·N·size_of::<T>()` plus two counters and a
//! flag, padded to a word: for the
//! 32-frame, 3-axis window of an int8 accelerometer classifier (`Window<i8, 96, 3, HOP>`),
//! 192 bytes of values and 12 of bookkeeping on a 32-bit core. [`Window::new`] is a
//! `const fn` and the empty window is all zeros, so a `static` window sits in `.bss`
//! and costs no flash.
//!
//! ```
//! use firmnet::prelude::*;
//! use firmnet::stream::Window;
//!
//! // A network on 4 frames of 3 channels.
//! type Model = Net![Dense<12, 8>, Relu<[f32; 8]>, Dense<8, 2>];
//! let mut net: Model = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];
//! net.init(Init::HeNormal, &mut Rng::new(1));
//! let mut scratch = Scratch::<Model>::ZERO;
//!
//! // The last 4 frames, a new window every 2 frames.
//! let mut window = Window::<f32, 12, 3, 2>::new();
//! let mut due = Vec::new();
//! for t in 1..=10 {
//!     let frame = [t as f32, 0.5, -1.0];
//!     if let Some(x) = window.push(&frame) {
//!         // `x: &[f32; 12]` is the window itself, oldest frame first.
//!         assert_eq!(x[0], (t - 3) as f32);
//!         let mut y = [0.0; 2];
//!         net.forward(x, &mut y, &mut scratch);
//!         due.push(t);
//!     }
//! }
//! assert_eq!(due, [4, 6, 8, 10]);
//! ```
//!
//! # From an interrupt handler to the main loop
//! On a device, frames arrive in an interrupt handler (a sensor's data-ready line, a timer)
//! while the network runs in the main loop. The handler must not wait for an inference to
//! end, so frames go through a lock-free single-producer, single-consumer queue,
//! [`Queue`] (heapless's, re-exported): the handler keeps the [`Producer`], the main loop
//! the [`Consumer`], and [`Window::drain`] (or [`Window::drain_quantized`]) feeds every
//! waiting frame to the window and runs the network on each window that falls due:
//!
//! ```
//! use firmnet::quant::{Int8, QLayer};
//! use firmnet::prelude::*;
//! use firmnet::stream::{Queue, Window};
//!
//! type Model = Net![Dense<12, 8>, Relu<[f32; 8]>, Dense<8, 2>];
//! let mut net: Model = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];
//! net.init(Init::HeNormal, &mut Rng::new(1));
//! let frames: Vec<[f32; 12]> = (0..32).map(|i| [i as f32 / 32.0; 12]).collect();
//! let int8: Box<Int8<Model>> =
//!     firmnet::host::quantize(&net, &frames, firmnet::host::RangeMethod::MinMax)?;
//! let mut scratch = Scratch::<Int8<Model>>::ZERO;
//!
//! // In firmware: `static mut`s of the entry point, the producer handed to the handler.
//! let mut queue = Queue::<[f32; 3], 8>::new(); // room for 7 frames
//! let (mut producer, mut consumer) = queue.split();
//! let mut window = Window::<i8, 12, 3, 2>::new();
//!
//! // The interrupt handler: one frame per call.
//! for t in 0..5 {
//!     producer.enqueue([t as f32 / 4.0, 0.0, 1.0]).expect("room in the queue");
//! }
//! // The main loop: of frames 1 to 5, frame 4 makes a window due (the next: frame 6).
//! let params = int8.input_params();
//! let mut logits = Vec::new();
//! let windows = window.drain_quantized(&mut consumer, params, |x| {
//!     let mut y = [0i8; 2];
//!     int8.forward(x, &mut y, &mut scratch);
//!     logits.push(y);
//! });
//! assert_eq!((windows, logits.len()), (1, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::quant::QParams;
use crate::tensor::Zero;

pub use heapless::spsc::{Consumer, Producer, Queue};

/// The last `N / F` frames of `F` channels each, handed out as one contiguous `&[T; N]`
/// every `HOP` frames (see the [module](self) for the design and the semantics).
///
/// `T` is the network's input element: `f32` for a float network, `i8` for an int8 one
/// (then push float frames with [`push_quantized`](Self::push_quantized)).
///
/// A window that breaks a size rule does not build: 4 frames of 3 values cannot move by 5.
///
/// ```compile_fail,E0080
/// let mut window = firmnet::stream::Window::<f32, 12, 3, 5>::new();
/// let _ = window.push(&[0.0; 3]);
/// ```
///
/// Nor can 3-value frames fill 10 values.
///
/// ```compile_fail,E0080
/// let window = firmnet::stream::Window::<i8, 10, 3, 1>::new();
/// ```
#[derive(Clone, Debug)]
pub struct Window<T, const N: usize, const F: usize, const HOP: usize> {
    /// Two copies of the ring, back to back: frame slot `s` is `ring[c][s·F..(s+1)·F]` in
    /// both copies `c`.
    ring: [[T; N]; 2],
    /// The slot the next frame goes to, in `0..N / F`; it holds the oldest frame of a full
    /// window, so the window starts there.
    next: usize,
    /// Frames since the last due window (since the start before the first): the next is
    /// due when this reaches `N / F` at first, then `HOP`. Counting up, the empty window is
    /// all zeros, so a `static` one takes no flash for its initial value (`.bss`).
    waited: usize,
    /// Whether `N / F` frames have arrived since the start (or [`reset`](Self::reset)).
    full: bool,
}

impl<T: Copy + Zero, const N: usize, const F: usize, const HOP: usize> Window<T, N, F, HOP> {
    /// Frames in a window: `N / F`.
    pub const FRAMES: usize = {
        assert!(F >= 1, "a frame needs at least one channel (F ≥ 1)");
        assert!(
            N.is_multiple_of(F) && N >= F,
            "a window is a whole number of frames, at least one: N must be a multiple of F"
        );
        assert!(
            HOP >= 1 && HOP <= N / F,
            "the hop must be between 1 frame and the window's length (1 ≤ HOP ≤ N / F)"
        );
        N / F
    };

    /// An empty window (no window due until `N / F` frames have arrived). A `const fn`:
    /// the window can be a `static`.
    pub const fn new() -> Self {
        // Evaluating `FRAMES` checks the size rules, at compile time.
        let _frames: usize = Self::FRAMES;
        Window {
            ring: [[T::ZERO; N]; 2],
            next: 0,
            waited: 0,
            full: false,
        }
    }

    /// Adds one frame; returns the latest window if one is due with this frame: the
    /// `N / F` last frames, oldest first, in place.
    #[inline]
    pub fn push(&mut self, frame: &[T; F]) -> Option<&[T; N]> {
        self.push_with(frame, |v| v)
    }

    /// The latest window, in place, oldest frame first; `None` until `N / F` frames have
    /// arrived. Between two due windows, it includes the frames pushed since the last.
    pub fn latest(&self) -> Option<&[T; N]> {
        if !self.full {
            return None;
        }
        let start = self.next * F;
        // `next < N / F`, so the slice is in the ring and `N` long: never `None` here.
        self.ring
            .as_flattened()
            .get(start..start + N)
            .and_then(|w| w.try_into().ok())
    }

    /// Whether `N / F` frames have arrived since the window was made or reset.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Forgets every frame, e.g. after a gap in the sensor's data: the next window is due
    /// after `N / F` new frames.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Feeds every frame waiting in `frames` to the window, calling `on_window` with each
    /// window that falls due; returns how many did. Frames the producer adds meanwhile
    /// are taken too.
    pub fn drain(
        &mut self,
        frames: &mut Consumer<'_, [T; F]>,
        on_window: impl FnMut(&[T; N]),
    ) -> usize {
        self.drain_with(frames, |v| v, on_window)
    }

    /// Writes a frame, converting each value, into both rings; the window if one is due.
    #[inline]
    fn push_with<S: Copy>(&mut self, frame: &[S; F], convert: impl Fn(S) -> T) -> Option<&[T; N]> {
        let at = self.next * F;
        let [first, second] = &mut self.ring;
        if let (Some(a), Some(b)) = (first.get_mut(at..at + F), second.get_mut(at..at + F)) {
            for ((a, b), &v) in a.iter_mut().zip(b).zip(frame) {
                let v = convert(v);
                (*a, *b) = (v, v);
            }
        }
        self.next += 1;
        if self.next == Self::FRAMES {
            self.next = 0;
        }
        self.waited += 1;
        if self.waited < if self.full { HOP } else { Self::FRAMES } {
            return None;
        }
        self.waited = 0;
        self.full = true;
        self.latest()
    }

    /// [`drain`](Self::drain) for frames of another element type, converted on arrival.
    fn drain_with<S: Copy>(
        &mut self,
        frames: &mut Consumer<'_, [S; F]>,
        convert: impl Fn(S) -> T,
        mut on_window: impl FnMut(&[T; N]),
    ) -> usize {
        let mut windows = 0;
        while let Some(frame) = frames.dequeue() {
            if let Some(window) = self.push_with(&frame, &convert) {
                on_window(window);
                windows += 1;
            }
        }
        windows
    }
}

impl<const N: usize, const F: usize, const HOP: usize> Window<i8, N, F, HOP> {
    /// Adds one float frame to the window of an int8 network, quantized on arrival with
    /// `params` (the network's [`input_params`](crate::quant::QLayer::input_params)):
    /// [`push`](Self::push) of the quantized frame. A NaN becomes the zero point, values
    /// beyond the range saturate ([`QParams::quantize`]).
    #[inline]
    pub fn push_quantized(&mut self, frame: &[f32; F], params: QParams) -> Option<&[i8; N]> {
        self.push_with(frame, |v| params.quantize(v))
    }

    /// [`drain`](Self::drain) for float frames, each quantized on arrival with `params` as
    /// by [`push_quantized`](Self::push_quantized).
    pub fn drain_quantized(
        &mut self,
        frames: &mut Consumer<'_, [f32; F]>,
        params: QParams,
        on_window: impl FnMut(&[i8; N]),
    ) -> usize {
        self.drain_with(frames, |v| params.quantize(v), on_window)
    }
}

impl<T: Copy + Zero, const N: usize, const F: usize, const HOP: usize> Default
    for Window<T, N, F, HOP>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Zero, const N: usize, const F: usize, const HOP: usize> Zero
    for Window<T, N, F, HOP>
{
    const ZERO: Self = Self::new();
}
