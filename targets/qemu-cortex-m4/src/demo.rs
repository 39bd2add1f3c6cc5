//! The computation that the firmware runs and that the host repeats to check it.
//!
//! This file is compiled twice: into the firmware (`src/main.rs`, `mod demo;`) and into the
//! host test `tests/firmware.rs` at the repository root (`#[path = …] mod demo;`). It
//! therefore uses only `firmnet` and `core`, and prints nothing itself: [`run`] reports every
//! number through a callback as `(label, index, value)`, which the firmware prints as
//! `label index 0xBITS` and the test compares with its own host run.
//!
//! A small classifier — 16 inputs, a 32-unit batch-normalized ReLU layer, 4 classes — is
//! initialized from a seed, evaluated, trained for a few Adam steps on synthetic data drawn
//! from the crate's seeded generator, and evaluated again. Every number goes to `out` with
//! a label and an index; the firmware prints them, the host test compares them.
//!
//! The caller owns the memory: [`Workspace`] borrows the network, Adam's moments and the
//! training buffers, each of which has a `const` initial value ([`MLP`], [`OPTIMIZER`],
//! `Buffers::ZERO`), so the firmware keeps them in `static`s and nothing large touches the
//! stack.

use firmnet::Error;
use firmnet::prelude::*;
use firmnet::train::{TrainBuffers, classification_step};

/// Input features.
pub const IN: usize = 16;
/// Hidden units.
pub const HIDDEN: usize = 32;
/// Classes.
pub const CLASSES: usize = 4;
/// Training batch.
pub const BATCH: usize = 8;
/// Adam steps on the device.
pub const STEPS: usize = 12;
/// Held-out samples evaluated before and after training.
pub const PROBES: usize = 16;

/// The network the device trains.
pub type Mlp = Net![
    Dense<IN, HIDDEN>,
    BatchNorm<HIDDEN>,
    Relu<[f32; HIDDEN]>,
    Dense<HIDDEN, CLASSES>
];

/// Adam with its two moments, for [`Mlp`].
pub type Optimizer = Adam<<Mlp as Layer>::Grad>;
/// Caches, outputs and gradients for one training batch of [`Mlp`].
pub type Buffers = TrainBuffers<Mlp, BATCH>;
/// Inference buffers of [`Mlp`].
pub type Scratch = <Mlp as Layer>::Scratch;

/// The network before [`run`] initializes its weights.
pub const MLP: Mlp = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
/// Adam at step size 0.01, moments zero.
pub const OPTIMIZER: Optimizer = Adam::new(AdamConfig::with_lr(0.01));

/// Everything the computation writes, borrowed from the caller. The firmware keeps each
/// part in its own `static`, so the all-zero buffers land in `.bss`; the network (batch-norm
/// scales start at 1) and Adam (its settings) need `.data`.
pub struct Workspace<'a> {
    /// The network's parameters.
    pub net: &'a mut Mlp,
    /// Adam with its two moments.
    pub adam: &'a mut Optimizer,
    /// Caches, outputs and gradients for one batch.
    pub buf: &'a mut Buffers,
    /// Inference buffers.
    pub scratch: &'a mut Scratch,
}

/// One sample of class `class`: a fixed prototype per class plus N(0, 0.5²) noise.
fn sample(rng: &mut Rng, class: u16) -> [f32; IN] {
    core::array::from_fn(|j| {
        let prototype = ((usize::from(class) * 7 + j * 3) % 5) as f32 * 0.5 - 1.0;
        prototype + 0.5 * rng.normal()
    })
}

fn evaluate(ws: &mut Workspace<'_>, label: &str, out: &mut impl FnMut(&str, usize, f32)) {
    let mut rng = Rng::new(99);
    let mut logits = [0.0; CLASSES];
    let mut correct = 0;
    for i in 0..PROBES {
        let class = (i % CLASSES) as u16;
        let x = sample(&mut rng, class);
        ws.net.forward(&x, &mut logits, ws.scratch);
        for (c, &v) in logits.iter().enumerate() {
            out(label, i * CLASSES + c, v);
        }
        correct += usize::from(argmax(&logits) == usize::from(class));
    }
    out(
        "accuracy",
        usize::from(label != "logits_before"),
        correct as f32 / PROBES as f32,
    );
}

/// Initializes, evaluates, trains for [`STEPS`] Adam steps and evaluates again.
///
/// # Errors
/// A training step's error (a non-finite loss or gradient); nothing else can fail.
pub fn run(ws: &mut Workspace<'_>, out: &mut impl FnMut(&str, usize, f32)) -> Result<(), Error> {
    ws.net.init(Init::HeNormal, &mut Rng::new(1));
    evaluate(ws, "logits_before", out);

    let mut data = Rng::new(2);
    let mut ctx = Context::new(3);
    let mut x = [[0.0; IN]; BATCH];
    let mut y = [0u16; BATCH];
    for step in 0..STEPS {
        for k in 0..BATCH {
            y[k] = ((step * BATCH + k) % CLASSES) as u16;
            x[k] = sample(&mut data, y[k]);
        }
        let stats = classification_step(ws.net, ws.adam, ws.buf, &mut ctx, &x, &y)?;
        out("loss", step, stats.loss);
    }

    evaluate(ws, "logits_after", out);
    for t in 0..<Mlp as Params>::TENSORS {
        out("param_sum", t, ws.net.tensor(t).iter().sum());
    }
    let bn = &ws.net.rest.first;
    out("running_mean_sum", 0, bn.running_mean.iter().sum());
    out("running_var_sum", 0, bn.running_var.iter().sum());
    Ok(())
}
