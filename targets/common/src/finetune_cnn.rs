//! Learning on the device, for the convolutional network: the deployed int8
//! [`FashionCnn`]'s last layers fine-tuned with Adam on the quarter-turned images of
//! [`finetune`] — the computation the Cortex-M4F firmware runs (`src/bin/finetune_cnn.rs`)
//! and `examples/verify/finetune_cnn.rs` repeats on the host.
//!
//! # What learns, and why
//! The int8 network is `conv 1→16, pool, conv 16→32, pool, flatten 1568, dense 1568→48
//! (batch normalization folded, ReLU), dense 48→10`. Its layers up to the dense
//! `1568 → 48` stay int8, in flash; the 48 **pre-activations** of that layer — its `i32`
//! sums `bias + Σ w·x` times `s_in·s_w` (the scale of the sum), *before* the ReLU clamp
//! and the requantization — are the features ([`WIDTH`]). The head that learns is float:
//!
//! `Dense<48, 48>` (initialized to the identity) → `ReLU` → `Dense<48, 10>` (initialized
//! from the int8 last layer, dequantized)
//!
//! — two trained layers, which start as the deployed network's own last two steps (the
//! ReLU and the classifier) and can then re-mix the 48 features, not only re-weigh them.
//!
//! RAM for learning on a real Cortex-M4 — the budget is 192 KiB (196,608 bytes, an
//! STM32F4's SRAM) for everything — in float32 (KB = 1,000 bytes):
//!
//! | head | parameters | weights + gradients + Adam's m and v |
//! | --- | ---: | ---: |
//! | `Dense<1568, 48>` + ReLU + `Dense<48, 10>` on the flatten output | 75,802 | 1,213 KB |
//! | `Dense<1568, 48>` alone (the rest frozen) | 75,312 | 1,205 KB |
//! | **`Dense<48, 48>` + ReLU + `Dense<48, 10>` on the pre-activations** | **2,842** | **45 KB** |
//!
//! The first two do not fit, whatever the buffers. The chosen head needs, besides, its
//! batch caches ([`BATCH`] = 20), the int8 layers' activations (the network's arena) and
//! the features of the [`TRAIN`] training images, computed once (300 · 48 floats,
//! 57,600 bytes: the int8 layers are frozen, so an image's features never change, and the
//! convolutions — 1.1 million multiply-adds an image — run 900 times instead of 3,000):
//! 142,144 bytes of statics in all, plus a stack of about 3.5 KB. `verify` reports the
//! sizes by part, from [`Workspace`]'s types checked against the firmware's ELF, and fails
//! above the budget.
//!
//! This file uses only `firmnet` and `core` and prints nothing: [`run`] reports every
//! number as `(label, index, value)`, as [`finetune::run`] does.

use firmnet::Error;
use firmnet::arena::Side;
use firmnet::models::FashionCnn;
use firmnet::net::{Dst, Src};
use firmnet::prelude::*;
use firmnet::quant::kernels::reference::dot;
use firmnet::quant::{Borrowed, Int8, QLayer, QParams};
use firmnet::train::TrainBuffers;

use super::fashion::{self, PIXELS};
use super::finetune::{self, CLASSES, Features, Learner, Samples, TRAIN};

pub use super::finetune::{BATCH, EPOCHS, EVAL, LR, SEED, SHIFT, STEPS};

/// The features the head learns from: the pre-activations of the int8 dense `1568 → 48`.
pub const WIDTH: usize = 48;
/// The flatten output: 7 × 7 × 32.
pub const FLAT: usize = 1568;

/// The deployed network, borrowed from the file's bytes.
pub type Network<'a> = Int8<FashionCnn, Borrowed<'a>>;

/// The layers that learn: `Dense<48, 48>`, ReLU, `Dense<48, 10>`.
pub type Head = Net![Dense<WIDTH, WIDTH>, Relu<[f32; WIDTH]>, Dense<WIDTH, CLASSES>];
/// Adam with its two moments, for [`Head`].
pub type Optimizer = Adam<<Head as Layer>::Grad>;
/// The head's caches, outputs, their gradients and the parameter gradients for one batch.
pub type Buffers = TrainBuffers<Head, BATCH>;
/// The head's inference arena (the hidden 48 values).
pub type HeadScratch = Scratch<Head>;
/// The features of every training image, computed once.
pub type Cache = [[f32; WIDTH]; TRAIN];

/// Adam at [`LR`], moments zero.
pub const OPTIMIZER: Optimizer = Adam::new(AdamConfig::with_lr(LR));

/// The frozen int8 layers' working memory: the quantized image, the network's arena (the
/// convolutions' outputs and patches) and the flatten output.
pub struct Activations {
    /// The image, quantized.
    pub input: [[[i8; 1]; 28]; 28],
    /// The whole network's arena, in which its layers up to the flatten run.
    pub arena: Scratch<Network<'static>>,
    /// The flatten output, the dense layer's input.
    pub flat: [i8; FLAT],
}

impl Activations {
    /// All zero; for a `static`.
    pub const ZERO: Activations = Activations {
        input: [[[0; 1]; 28]; 28],
        arena: Scratch::<Network<'static>>::ZERO,
        flat: [0; FLAT],
    };
}

/// Everything the fine-tuning writes, borrowed from the caller (the firmware's `static`s).
pub struct Workspace<'a> {
    /// The head being trained.
    pub head: &'a mut Head,
    /// Adam with its moments.
    pub adam: &'a mut Optimizer,
    /// The batch's caches, outputs and gradients.
    pub buf: &'a mut Buffers,
    /// The batch's features.
    pub batch: &'a mut [[f32; WIDTH]; BATCH],
    /// The head's inference arena.
    pub scratch: &'a mut HeadScratch,
    /// The training images' features.
    pub cache: &'a mut Cache,
    /// The int8 layers' activations.
    pub act: &'a mut Activations,
}

/// Every part of a [`Workspace`], by value: for a host, which puts it on the heap
/// (`Box::new(State::NEW)`); the firmware keeps each part in a `static` of its own.
pub struct State {
    /// The head.
    pub head: Head,
    /// Adam.
    pub adam: Optimizer,
    /// The batch's caches, outputs and gradients.
    pub buf: Buffers,
    /// The batch's features.
    pub batch: [[f32; WIDTH]; BATCH],
    /// The head's inference arena.
    pub scratch: HeadScratch,
    /// The training images' features.
    pub cache: Cache,
    /// The int8 layers' activations.
    pub act: Activations,
}

impl State {
    /// Everything zero but Adam's settings ([`OPTIMIZER`]).
    pub const NEW: State = State {
        head: <Head as Zero>::ZERO,
        adam: OPTIMIZER,
        buf: Buffers::ZERO,
        batch: [[0.0; WIDTH]; BATCH],
        scratch: HeadScratch::ZERO,
        cache: [[0.0; WIDTH]; TRAIN],
        act: Activations::ZERO,
    };

    /// Each part borrowed.
    pub fn workspace(&mut self) -> Workspace<'_> {
        Workspace {
            head: &mut self.head,
            adam: &mut self.adam,
            buf: &mut self.buf,
            batch: &mut self.batch,
            scratch: &mut self.scratch,
            cache: &mut self.cache,
            act: &mut self.act,
        }
    }
}

/// The network in `bytes`, checked and borrowed in place.
///
/// # Errors
/// [`fashion::Error::Format`] for a file that is not this network,
/// [`fashion::Error::Input`] for one that does not take raw pixels.
pub fn network(bytes: &[u8]) -> Result<Network<'_>, fashion::Error> {
    let net: Network<'_> = firmnet::format::view(bytes).map_err(fashion::Error::Format)?;
    if net.input_params() != QParams::PIXELS {
        return Err(fashion::Error::Input(net.input_params()));
    }
    Ok(net)
}

/// Where a layer's output lands in the arena when its input is the caller's.
fn from_caller<L: Infer>(_: &L) -> Side {
    L::FROM_CALLER
}

/// Where a layer's output lands in the arena when its input is at `side`.
fn after<L: Infer>(_: &L, side: Side) -> Side {
    if L::FLIPS { side.other() } else { side }
}

/// The frozen int8 layers, with their working memory and the training images' features.
struct CnnFeatures<'n, 'm: 'n, 'a> {
    net: &'n Network<'m>,
    act: &'a mut Activations,
    cache: &'a Cache,
}

/// The `i32` sums `bias + Σ w·x` of the dense `1568 → 48` for a raw image — what the
/// int8 network requantizes and clamps into its hidden layer: the layers up to the
/// flatten run one by one in the network's arena, where its whole inference runs them.
/// An image that is not 784 bytes leaves `out` as it is.
pub fn sums(net: &Network<'_>, act: &mut Activations, image: &[u8], out: &mut [i32; WIDTH]) {
    if image.len() != PIXELS {
        return;
    }
    for (q, &p) in act.input.as_flattened_mut().iter_mut().zip(image) {
        q[0] = (p ^ 0x80) as i8;
    }
    let conv1 = &net.first;
    let pool1 = &net.rest.first;
    let conv2 = &net.rest.rest.first;
    let pool2 = &net.rest.rest.rest.first;
    let flatten = &net.rest.rest.rest.rest.first;
    let dense = &net.rest.rest.rest.rest.rest.first;
    let arena = act.arena.as_mut_slice::<i8>();
    conv1.run(Src::Caller(&act.input), Dst::Arena, arena);
    let side = from_caller(conv1);
    pool1.run(Src::Arena(side), Dst::Arena, arena);
    let side = after(pool1, side);
    conv2.run(Src::Arena(side), Dst::Arena, arena);
    let side = after(conv2, side);
    pool2.run(Src::Arena(side), Dst::Arena, arena);
    let side = after(pool2, side);
    flatten.run(Src::Arena(side), Dst::Caller(&mut act.flat), arena);
    for ((acc, row), &b) in out.iter_mut().zip(dense.weight).zip(dense.bias) {
        *acc = dot(row, &act.flat, b);
    }
}

/// The 48 features of a raw image: its [`sums`] at their scale `s_in·s_w[o]` (in `f64`),
/// the dense layer's pre-activations before the ReLU clamp. An image that is not 784
/// bytes leaves `out` as it is.
pub fn features(net: &Network<'_>, act: &mut Activations, image: &[u8], out: &mut [f32; WIDTH]) {
    if image.len() != PIXELS {
        return;
    }
    let mut acc = [0i32; WIDTH];
    sums(net, act, image, &mut acc);
    let dense = &net.rest.rest.rest.rest.rest.first;
    let s_in = f64::from(dense.input.scale);
    for (o, (f, &a)) in out.iter_mut().zip(&acc).enumerate() {
        let s_w = dense.weight_scale(o).unwrap_or(0.0);
        *f = (f64::from(a) * s_in * s_w) as f32;
    }
}

impl Features<[f32; WIDTH]> for CnnFeatures<'_, '_, '_> {
    fn image(&mut self, image: &[u8], out: &mut [f32; WIDTH]) {
        features(self.net, self.act, image, out);
    }

    fn train(&mut self, i: usize, _: &[u8], out: &mut [f32; WIDTH]) {
        if let Some(f) = self.cache.get(i) {
            *out = *f;
        }
    }
}

/// The head as the deployed network's own last steps: the identity, ReLU, and the int8
/// last layer dequantized ([`finetune::dequantized`]).
pub fn initial_head(net: &Network<'_>, head: &mut Head) {
    for (o, (row, b)) in head
        .first
        .weight
        .iter_mut()
        .zip(&mut head.first.bias)
        .enumerate()
    {
        for (i, w) in row.iter_mut().enumerate() {
            *w = if i == o { 1.0 } else { 0.0 };
        }
        *b = 0.0;
    }
    finetune::dequantized(&net.rest.rest.rest.rest.rest.rest, &mut head.rest.rest);
}

/// Initializes the head from the deployed network ([`initial_head`]), computes the
/// training images' features once, then [`finetune::learn`]s: the accuracy before,
/// [`STEPS`] Adam steps, the accuracy after, reported as [`finetune::run`] reports them.
///
/// # Errors
/// As [`finetune::learn`].
pub fn run(
    net: &Network<'_>,
    ws: &mut Workspace<'_>,
    s: &Samples<'_>,
    out: &mut impl FnMut(&str, usize, f32),
) -> Result<(), Error> {
    s.check()?;
    initial_head(net, ws.head);
    for (i, f) in ws.cache.iter_mut().enumerate() {
        features(net, ws.act, s.train_image(i), f);
    }
    let mut learner = Learner {
        head: &mut *ws.head,
        adam: &mut *ws.adam,
        buf: &mut *ws.buf,
        batch: &mut *ws.batch,
        scratch: ws.scratch.as_mut_slice::<f32>(),
    };
    let mut features = CnnFeatures {
        net,
        act: &mut *ws.act,
        cache: &*ws.cache,
    };
    finetune::learn(&mut learner, &mut features, s, out)
}
