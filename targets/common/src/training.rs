//! The computation that the firmware runs and that the host repeats to check it.
//!
//! The Cortex-M4F firmware (`targets/qemu-cortex-m4`, `src/main.rs`) runs it and the host
//! test `tests/firmware.rs` repeats it: [`run`] reports every number through a callback as
//! `(label, index, value)`, which the firmware prints as `label index 0xBITS` and the test
//! compares with its own host run.
//!
//! A small classifier — 16 inputs, a 32-unit batch-normalized ReLU layer, 4 classes — is
//! initialized from a seed, evaluated, trained for a few Adam steps on synthetic data drawn
//! from the crate's seeded generator, and evaluated again. Then its float deployment form
//! ([`Deployed`], batch normalization folded into the dense layer, built on the device by
//! [`deploy`]) is evaluated on the same samples. Every number goes to `out` with a label
//! and an index; the firmware prints them, the host test compares them.
//!
//! The caller owns the memory: [`Workspace`] borrows the network, Adam's moments and the
//! training buffers, each of which has a `const` initial value ([`MLP`], [`OPTIMIZER`],
//! `Buffers::ZERO`), so the firmware keeps them in `static`s and nothing large touches the
//! stack.

use firmnet::Error;
use firmnet::deploy::{Deployed, deploy};
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
/// The inference arena of [`Mlp`].
pub type Arena = Scratch<Mlp>;
/// The deployment form of [`Mlp`]: `Net![Dense<IN, HIDDEN>, Relu, Dense<HIDDEN, CLASSES>]`.
pub type Small = Deployed<Mlp>;
/// [`Small`] before [`deploy`] writes it.
pub const SMALL: Small = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];

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
    /// The inference arena (of [`Mlp`], large enough for [`Small`]).
    pub scratch: &'a mut Arena,
    /// The deployment form, written after training.
    pub deployed: &'a mut Small,
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
        if label == "deployed_logits" {
            // The deployment form needs no more memory than the network: its arena is
            // the trained network's, as a slice.
            ws.deployed
                .forward_with(&x, &mut logits, ws.scratch.as_mut_slice());
        } else {
            ws.net.forward(&x, &mut logits, ws.scratch);
        }
        for (c, &v) in logits.iter().enumerate() {
            out(label, i * CLASSES + c, v);
        }
        correct += usize::from(argmax(&logits) == usize::from(class));
    }
    let index = match label {
        "logits_before" => 0,
        "logits_after" => 1,
        _ => 2,
    };
    out("accuracy", index, correct as f32 / PROBES as f32);
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
    deploy(&*ws.net, &mut *ws.deployed).map_err(|_| Error::InvalidSetting {
        what: "the deployment form of the trained network",
    })?;
    evaluate(ws, "deployed_logits", out);
    run_int8(out);
    Ok(())
}

/// The int8 dense kernel on shapes that exercise every part of the fast paths — the
/// four-row, eight-column loop, leftover rows and columns, inputs too short for the loops,
/// offsets up to 3·784 — with weights, inputs and requantization drawn from a seed. Each
/// output is reported as its integer value. On the Cortex-M4 this is the DSP path; the host
/// test runs the scalar reference.
fn run_int8(out: &mut impl FnMut(&str, usize, f32)) {
    let mut rng = Rng::new(4);
    int8_case::<3, 2>(&mut rng, "int8_3x2", out);
    int8_case::<10, 7>(&mut rng, "int8_10x7", out);
    int8_case::<36, 10>(&mut rng, "int8_36x10", out);
    int8_case::<64, 9>(&mut rng, "int8_64x9", out);
    int8_case::<784, 6>(&mut rng, "int8_784x6", out);
}

fn int8_case<const IN: usize, const OUT: usize>(
    rng: &mut Rng,
    label: &str,
    out: &mut impl FnMut(&str, usize, f32),
) {
    let y = crate::int8::random_layer_output::<IN, OUT>(rng);
    for (o, &v) in y.iter().enumerate() {
        out(label, o, f32::from(v));
    }
}
