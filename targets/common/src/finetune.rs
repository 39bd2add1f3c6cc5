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
//! # Shared with the CNN
//! [`finetune_cnn`](crate::finetune_cnn) fine-tunes the convolutional network's last
//! layers on the same samples with the same loop: [`Samples`], [`shift`],
//! [`dequantized`] (an int8 dense layer as a float one), the [`Features`] a frozen int8
//! network computes, and [`learn`] — the accuracy before, [`STEPS`] Adam steps over
//! shuffled batches, the accuracy after — are written once, here, for any head.
//!
//! This file uses only `firmnet` and `core` and prints nothing: [`run`] reports every
//! number as `(label, index, value)`.

use core::borrow::Borrow;

use firmnet::Error;
use firmnet::prelude::*;
use firmnet::quant::{QDense, Store};
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

impl Samples<'_> {
    /// Checks that the samples are [`TRAIN`] whole training images and whole held-out
    /// images, one label each.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] if they are not.
    pub fn check(&self) -> Result<(), Error> {
        if self.train_images.len() != TRAIN * PIXELS
            || self.train_labels.len() != TRAIN
            || self.eval_labels.is_empty()
            || self.eval_images.len() != self.eval_labels.len() * PIXELS
        {
            return Err(Error::InvalidSetting {
                what: "fine-tuning samples (must be TRAIN whole 784-byte training images and whole held-out images, one label each)",
            });
        }
        Ok(())
    }

    /// Training image `i` (empty if there is none).
    pub fn train_image(&self, i: usize) -> &[u8] {
        self.train_images
            .get(i * PIXELS..(i + 1) * PIXELS)
            .unwrap_or(&[])
    }
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

/// What a frozen network hands the head: the features `X` of an image.
pub trait Features<X> {
    /// The features of `image` (784 raw pixels; anything else leaves `out` as it is).
    fn image(&mut self, image: &[u8], out: &mut X);

    /// The features of training sample `i`, whose pixels are `image`. The default computes
    /// them; an extractor that computed them all beforehand looks them up.
    fn train(&mut self, i: usize, image: &[u8], out: &mut X) {
        let _ = i;
        self.image(image, out);
    }
}

/// The MLP's frozen first two layers with their activation buffers.
struct MlpFeatures<'n, 'm: 'n, 'a> {
    net: &'n Network<'m>,
    act: &'a mut Activations,
}

impl Features<[f32; FEATURES]> for MlpFeatures<'_, '_, '_> {
    /// The 128 features of a raw image: the int8 network's first two layers, dequantized.
    /// The two hidden activations live in the network's arena, the first at its front and
    /// the second at its back, as the whole network's inference places them.
    fn image(&mut self, image: &[u8], out: &mut [f32; FEATURES]) {
        let (net, act) = (self.net, &mut *self.act);
        if image.len() != PIXELS {
            return;
        }
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
        // The scale the head's weights were dequantized with ([`dequantized`]): the last
        // layer's input, which a checked file makes equal to the second layer's output.
        let q = net.rest.rest.input;
        for (f, &v) in out.iter_mut().zip(h2.iter()) {
            *f = q.dequantize(v);
        }
    }
}

/// An int8 dense layer as a float one on dequantized inputs: `w = q·s_w`, and the bias
/// with the input zero point's share given back, `b = (bias + z_in·Σq)·s_in·s_w`, with the
/// weight scale `s_w` recovered from the layer's requantization (in `f64`).
pub fn dequantized<const IN: usize, const OUT: usize, S: Store>(
    q: &QDense<IN, OUT, S>,
    dense: &mut Dense<IN, OUT>,
) {
    let s_in = f64::from(q.input.scale);
    let z_in = q.input.zero_point;
    let (weight, bias) = (q.weight.borrow(), q.bias.borrow());
    for (o, (row, b)) in dense.weight.iter_mut().zip(&mut dense.bias).enumerate() {
        let s_w = q.weight_scale(o).unwrap_or(0.0);
        let mut sum = 0i32;
        for (w, &v) in row.iter_mut().zip(&weight[o]) {
            *w = (f64::from(v) * s_w) as f32;
            sum += i32::from(v);
        }
        *b = (f64::from(bias[o] + z_in * sum) * s_in * s_w) as f32;
    }
}

/// The int8 last layer as the float [`Head`] ([`dequantized`]).
pub fn dequantized_head(net: &Network<'_>, head: &mut Head) {
    dequantized(&net.rest.rest, head);
}

/// The head's training state, borrowed from the caller: the parts [`learn`] writes.
pub struct Learner<'a, H: Layer, const B: usize> {
    /// The head being trained.
    pub head: &'a mut H,
    /// Adam with its moments.
    pub adam: &'a mut Adam<H::Grad>,
    /// The batch's outputs and gradients.
    pub buf: &'a mut TrainBuffers<H, B>,
    /// The batch's features.
    pub batch: &'a mut [H::Input; B],
    /// The head's inference arena (`Scratch<H>` as a slice; empty for a single layer).
    pub scratch: &'a mut [f32],
}

/// Accuracy and mean cross-entropy of the head on the held-out samples.
fn evaluate<H: Layer<Output = [f32; CLASSES]>, const B: usize>(
    l: &mut Learner<'_, H, B>,
    features: &mut impl Features<H::Input>,
    s: &Samples<'_>,
) -> (f32, f32) {
    let mut correct = 0usize;
    let mut loss = 0.0f32;
    let mut logits = [0.0f32; CLASSES];
    let Some(f) = l.batch.first_mut() else {
        return (f32::NAN, f32::NAN);
    };
    for (image, &label) in s.eval_images.chunks_exact(PIXELS).zip(s.eval_labels) {
        features.image(image, f);
        l.head.forward_with(f, &mut logits, l.scratch);
        correct += usize::from(argmax(&logits) == usize::from(label));
        let mut d = [[0.0; CLASSES]];
        let label = [u16::from(label)];
        loss += firmnet::loss::softmax_cross_entropy(&[logits], &label, &mut d).unwrap_or(f32::NAN);
    }
    let n = s.eval_labels.len().max(1) as f32;
    (correct as f32 / n, loss / n)
}

/// Measures the head on the held-out samples, trains it for [`EPOCHS`] passes over the
/// [`TRAIN`] training samples in shuffled batches of `B` (Adam, seed [`SEED`]), measures it
/// again. Reports `accuracy`/`eval_loss` 0 (before) and 1 (after), and `loss` per step.
///
/// # Errors
/// As [`Samples::check`] (nothing is trained then); a training step's error (a
/// non-finite loss or gradient, a label out of range).
pub fn learn<H: Layer<Output = [f32; CLASSES]>, const B: usize>(
    l: &mut Learner<'_, H, B>,
    features: &mut impl Features<H::Input>,
    s: &Samples<'_>,
    out: &mut impl FnMut(&str, usize, f32),
) -> Result<(), Error> {
    s.check()?;
    let (acc, loss) = evaluate(l, features, s);
    out("accuracy", 0, acc);
    out("eval_loss", 0, loss);

    let mut order = [0u16; TRAIN];
    for (i, o) in order.iter_mut().enumerate() {
        *o = i as u16;
    }
    let mut rng = Rng::new(SEED);
    let mut ctx = Context::new(SEED);
    let mut labels = [0u16; B];
    let mut step = 0;
    for _ in 0..EPOCHS {
        rng.shuffle(&mut order);
        for batch in order.chunks_exact(B) {
            for ((&i, f), y) in batch.iter().zip(l.batch.iter_mut()).zip(&mut labels) {
                let i = usize::from(i);
                features.train(i, s.train_image(i), f);
                *y = s.train_labels.get(i).copied().map_or(u16::MAX, u16::from);
            }
            let stats = classification_step(l.head, l.adam, l.buf, &mut ctx, l.batch, &labels)?;
            out("loss", step, stats.loss);
            step += 1;
        }
    }

    let (acc, loss) = evaluate(l, features, s);
    out("accuracy", 1, acc);
    out("eval_loss", 1, loss);
    Ok(())
}

/// Initializes the head from the deployed one, then [`learn`]s: the accuracy before,
/// [`STEPS`] Adam steps, the accuracy after.
///
/// # Errors
/// As [`learn`].
pub fn run(
    net: &Network<'_>,
    ws: &mut Workspace<'_>,
    s: &Samples<'_>,
    out: &mut impl FnMut(&str, usize, f32),
) -> Result<(), Error> {
    s.check()?;
    dequantized_head(net, ws.head);
    let mut learner = Learner {
        head: &mut *ws.head,
        adam: &mut *ws.adam,
        buf: &mut *ws.buf,
        batch: &mut *ws.features,
        scratch: &mut [],
    };
    let mut features = MlpFeatures {
        net,
        act: &mut *ws.act,
    };
    learn(&mut learner, &mut features, s, out)
}
