//! Learning on the device: the deployed int8 network's last layer, fine-tuned with Adam on
//! a task it was not trained for — the computation the Cortex-M4F firmware runs
//! (`src/bin/finetune.rs`) and `examples/verify/main.rs` repeats on the host.
//!
//! # The task
//! The embedded samples are Fashion-MNIST images as a differently mounted camera would
//! see them ([`SHIFT`]: turned a quarter turn). The deployed network, trained on upright
//! images, classifies them poorly. Its first two layers stay as they are — int8, in flash —
//! and compute 128 features per image; the last layer is replaced by a float
//! `Dense<128, 10>` initialized from the int8 one (dequantized), and trained on
//! [`TRAIN`] samples with Adam, every byte of its state in `static` memory. [`EVAL`] other
//! samples measure the accuracy before and after.
//!
//! This file uses only `firmnet` and `core` and prints nothing: [`run`] reports every
//! number as `(label, index, value)`.

use firmnet::Error;
use firmnet::prelude::*;
use firmnet::tensor::Tensor;
use firmnet::train::{TrainBuffers, classification_step};

use firmnet::models::FashionMlp;

use super::fashion::{self, PIXELS};

/// The deployed network this fine-tuning works on: the main job's int8 MLP, borrowed from
/// its weight file (its second hidden layer is the head's input).
pub type Network<'a> = fashion::Network<'a, FashionMlp>;
/// Its activation buffers.
pub type Activations = fashion::Buffers<Network<'static>>;

/// The features the head learns from: the second hidden layer.
pub const FEATURES: usize = 128;
/// Classes.
pub const CLASSES: usize = 10;
/// Samples per Adam step.
pub const BATCH: usize = 20;
/// Passes over the training samples.
pub const EPOCHS: usize = 8;
/// Training samples embedded.
pub const TRAIN: usize = 300;
/// Held-out samples embedded, for the accuracy before and after.
pub const EVAL: usize = 300;
/// Adam steps: [`EPOCHS`] · [`TRAIN`] / [`BATCH`].
pub const STEPS: usize = EPOCHS * TRAIN / BATCH;
/// Adam's step size.
pub const LR: f32 = 1e-2;
/// Seed of the order in which the samples are visited.
pub const SEED: u64 = 7;
/// What the shift is, for people.
pub const SHIFT: &str = "images turned a quarter turn clockwise";

/// The layer that learns.
pub type Head = Dense<FEATURES, CLASSES>;
/// Adam with its two moments, for [`Head`].
pub type Optimizer = Adam<<Head as Layer>::Grad>;
/// The head's outputs, their gradients and the accumulated parameter gradients for one batch.
pub type Buffers = TrainBuffers<Head, BATCH>;

/// Adam at [`LR`], moments zero.
pub const OPTIMIZER: Optimizer = Adam::new(AdamConfig::with_lr(LR));

/// The samples of the shifted task: raw images (784 bytes each) and labels.
pub struct Samples<'a> {
    /// Training images.
    pub train_images: &'a [u8],
    /// Training labels.
    pub train_labels: &'a [u8],
    /// Held-out images.
    pub eval_images: &'a [u8],
    /// Held-out labels.
    pub eval_labels: &'a [u8],
}

/// Everything the fine-tuning writes, borrowed from the caller (the firmware's `static`s).
pub struct Workspace<'a> {
    /// The head being trained.
    pub head: &'a mut Head,
    /// Adam with its moments.
    pub adam: &'a mut Optimizer,
    /// The batch's outputs and gradients.
    pub buf: &'a mut Buffers,
    /// The batch's features.
    pub features: &'a mut [[f32; FEATURES]; BATCH],
    /// The int8 network's activation buffers.
    pub act: &'a mut Activations,
}

/// The shifted image: `image` turned a quarter turn clockwise.
pub fn shift(image: &[u8; PIXELS]) -> [u8; PIXELS] {
    core::array::from_fn(|i| {
        let (r, c) = (i / 28, i % 28);
        image[(27 - c) * 28 + r]
    })
}

/// The 128 features of a raw image: the int8 network's first two layers, dequantized. The
/// two hidden activations live in the network's arena, the first at its front and the
/// second at its back, as the whole network's inference places them.
fn features(net: &Network<'_>, image: &[u8], act: &mut Activations, out: &mut [f32; FEATURES]) {
    for (q, &p) in act.input.iter_mut().zip(image) {
        *q = (p ^ 0x80) as i8;
    }
    let (front, back) = act.scratch.as_mut_slice::<i8>().split_at_mut(256);
    let (Some(h1), Some(h2)) = (
        <[i8; 256]>::view_mut(front),
        <[i8; FEATURES]>::view_mut(back),
    ) else {
        return;
    };
    net.first.forward_with(&act.input, h1, &mut []);
    net.rest.first.forward_with(h1, h2, &mut []);
    // The scale the head's weights were dequantized with (`dequantized_head`): the last
    // layer's input, which a checked file makes equal to the second layer's output.
    let q = net.rest.rest.input;
    for (f, &v) in out.iter_mut().zip(h2.iter()) {
        *f = q.dequantize(v);
    }
}

/// The int8 last layer as a float one on dequantized features: `w = q·s_w`, and the bias
/// with the input zero point's share given back, `b = (bias + z_in·Σq)·s_in·s_w`, with the
/// weight scale `s_w` recovered from the layer's requantization (in `f64`).
pub fn dequantized_head(net: &Network<'_>, head: &mut Head) {
    let last = &net.rest.rest;
    let s_in = f64::from(last.input.scale);
    let z_in = last.input.zero_point;
    for c in 0..CLASSES {
        let s_w = last.weight_scale(c).unwrap_or(0.0);
        let mut sum = 0i32;
        for (w, &q) in head.weight[c].iter_mut().zip(&last.weight[c]) {
            *w = (f64::from(q) * s_w) as f32;
            sum += i32::from(q);
        }
        head.bias[c] = (f64::from(last.bias[c] + z_in * sum) * s_in * s_w) as f32;
    }
}

/// Accuracy and mean cross-entropy of the head on the held-out samples.
fn evaluate(net: &Network<'_>, ws: &mut Workspace<'_>, s: &Samples<'_>) -> (f32, f32) {
    let mut correct = 0usize;
    let mut loss = 0.0f32;
    let mut logits = [0.0f32; CLASSES];
    let f = &mut ws.features[0];
    for (image, &label) in s.eval_images.chunks_exact(PIXELS).zip(s.eval_labels) {
        features(net, image, ws.act, f);
        ws.head.forward_with(f, &mut logits, &mut []);
        correct += usize::from(argmax(&logits) == usize::from(label));
        let mut d = [[0.0; CLASSES]];
        let label = [u16::from(label)];
        loss += firmnet::loss::softmax_cross_entropy(&[logits], &label, &mut d).unwrap_or(f32::NAN);
    }
    let n = s.eval_labels.len().max(1) as f32;
    (correct as f32 / n, loss / n)
}

/// Initializes the head from the deployed one, measures it on the held-out samples, trains
/// it for [`STEPS`] Adam steps, measures it again. Reports `accuracy`/`eval_loss` 0 (before)
/// and 1 (after), and `loss` per step.
///
/// # Errors
/// [`Error::InvalidSetting`] if the samples are not [`TRAIN`] whole training images and
/// whole held-out images, one label each (nothing is trained then); a training step's
/// error (a non-finite loss or gradient, a label out of range).
pub fn run(
    net: &Network<'_>,
    ws: &mut Workspace<'_>,
    s: &Samples<'_>,
    out: &mut impl FnMut(&str, usize, f32),
) -> Result<(), Error> {
    if s.train_images.len() != TRAIN * PIXELS
        || s.train_labels.len() != TRAIN
        || s.eval_labels.is_empty()
        || s.eval_images.len() != s.eval_labels.len() * PIXELS
    {
        return Err(Error::InvalidSetting {
            what: "fine-tuning samples (must be TRAIN whole 784-byte training images and whole held-out images, one label each)",
        });
    }
    dequantized_head(net, ws.head);
    let (acc, loss) = evaluate(net, ws, s);
    out("accuracy", 0, acc);
    out("eval_loss", 0, loss);

    let mut order = [0u16; TRAIN];
    for (i, o) in order.iter_mut().enumerate() {
        *o = i as u16;
    }
    let mut rng = Rng::new(SEED);
    let mut ctx = Context::new(SEED);
    let mut labels = [0u16; BATCH];
    let mut step = 0;
    for _ in 0..EPOCHS {
        rng.shuffle(&mut order);
        for batch in order.chunks_exact(BATCH) {
            for ((&i, f), y) in batch.iter().zip(ws.features.iter_mut()).zip(&mut labels) {
                let i = usize::from(i);
                let image = s
                    .train_images
                    .get(i * PIXELS..(i + 1) * PIXELS)
                    .unwrap_or(&[]);
                features(net, image, ws.act, f);
                *y = s.train_labels.get(i).copied().map_or(u16::MAX, u16::from);
            }
            let stats =
                classification_step(ws.head, ws.adam, ws.buf, &mut ctx, ws.features, &labels)?;
            out("loss", step, stats.loss);
            step += 1;
        }
    }

    let (acc, loss) = evaluate(net, ws, s);
    out("accuracy", 1, acc);
    out("eval_loss", 1, loss);
    Ok(())
}
