//! Classifying Fashion-MNIST test images with the exported int8 network, straight from
//! flash: the computation every firmware target runs and `examples/verify/main.rs` repeats on the
//! host. It prints nothing itself: [`run`] hands every image's logits to a callback, which
//! the firmware prints and the host compares.
//!
//! The network is the main job's `model_int8.fnet`, borrowed in place by
//! [`firmnet::format::view`] as `Int8<FashionMlp, Borrowed>` — the type the compiler
//! derives from the float network, with borrowed storage: the weights and per-channel
//! arrays stay in flash, and RAM holds only [`Buffers`] — the quantized image, the
//! network's arena (the two hidden activations) and the logits.

use firmnet::format::FormatError;
use firmnet::models::FashionMlp;
use firmnet::net::{Infer, Scratch};
use firmnet::quant::{Borrowed, Int8, QLayer, QParams, Store, argmax_i8};

/// Pixels per image (28 × 28).
pub const PIXELS: usize = 784;
/// Classes.
pub const CLASSES: usize = 10;

/// The deployed network with its arrays stored as `S`: borrowed from the file's bytes
/// ([`Network`]), or owned by a `static` the compiler builds from Rust source
/// (`firmnet::format::rust_source`). One type, named once.
pub type Model<S> = Int8<FashionMlp, S>;

/// The deployed network, borrowed from the file's bytes.
pub type Network<'a> = Model<Borrowed<'a>>;

/// The network's arena: its two hidden activations (384 bytes), whatever the storage.
pub type Arena = Scratch<Network<'static>>;

/// Everything [`run`] writes: the activation buffers of one inference.
pub struct Buffers {
    /// The image, quantized.
    pub input: [i8; PIXELS],
    /// The network's arena: the hidden layers' outputs.
    pub scratch: Arena,
    /// The output.
    pub logits: [i8; CLASSES],
}

impl Buffers {
    /// All zero; for a `static`.
    pub const ZERO: Buffers = Buffers {
        input: [0; PIXELS],
        scratch: Arena::ZERO,
        logits: [0; CLASSES],
    };
}

/// Why the embedded data cannot be classified.
#[derive(Debug)]
pub enum Error {
    /// The weight file is refused.
    Format(FormatError),
    /// The network does not take raw pixels ([`QParams::PIXELS`]).
    Input(QParams),
    /// The images are not whole 784-byte images, or there is not one label per image.
    Data {
        /// Bytes of images.
        image_bytes: usize,
        /// Labels.
        labels: usize,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Format(e) => write!(f, "the weight file is refused: {e}"),
            Error::Input(q) => write!(
                f,
                "the network's input is quantized with scale {} and zero point {}, not as raw pixels (scale 1, zero point -128)",
                q.scale, q.zero_point
            ),
            Error::Data {
                image_bytes,
                labels,
            } => write!(
                f,
                "{image_bytes} bytes of images and {labels} labels are not whole {PIXELS}-byte images with one label each"
            ),
        }
    }
}

/// The network in `bytes`, checked and borrowed in place.
///
/// # Errors
/// [`Error::Format`] for a file that is not this network, [`Error::Input`] for one that does
/// not take raw pixels.
pub fn network(bytes: &[u8]) -> Result<Network<'_>, Error> {
    let net: Network<'_> = firmnet::format::view(bytes).map_err(Error::Format)?;
    if net.input_params() != QParams::PIXELS {
        return Err(Error::Input(net.input_params()));
    }
    Ok(net)
}

/// What [`run`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Images classified.
    pub images: usize,
    /// Of which correctly.
    pub correct: usize,
    /// FNV-1a (32 bits) of every image's logits, in order.
    pub digest: u32,
}

/// FNV-1a, 32 bits: a digest of the logits that both sides compute the same way.
#[derive(Clone, Copy, Debug)]
pub struct Fnv1a(u32);

impl Fnv1a {
    /// The empty digest.
    pub const NEW: Fnv1a = Fnv1a(0x811c_9dc5);

    /// Adds `bytes`.
    pub fn update(&mut self, bytes: impl IntoIterator<Item = u8>) {
        for b in bytes {
            self.0 = (self.0 ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
    }

    /// The digest so far.
    pub fn value(self) -> u32 {
        self.0
    }
}

/// Classifies one image: raw pixels 0–255 quantized as [`QParams::PIXELS`] (`p − 128`), the
/// network run, the largest logit's class returned; the logits are left in `buf.logits`.
pub fn classify<S: Store>(net: &Model<S>, image: &[u8; PIXELS], buf: &mut Buffers) -> usize {
    for (q, &p) in buf.input.iter_mut().zip(image) {
        *q = (p ^ 0x80) as i8;
    }
    net.forward(&buf.input, &mut buf.logits, &mut buf.scratch);
    argmax_i8(&buf.logits)
}

/// Classifies every image of `images` (784 bytes each) against `labels`, handing each
/// image's index and logits to `each`.
///
/// The network must take raw pixels ([`QParams::PIXELS`]; [`network`] checks it): the
/// images are its input as they are.
///
/// # Errors
/// [`Error::Data`] if `images` is not whole images, one per label; nothing is classified.
pub fn run<S: Store>(
    net: &Model<S>,
    images: &[u8],
    labels: &[u8],
    buf: &mut Buffers,
    mut each: impl FnMut(usize, &[i8; CLASSES]),
) -> Result<Outcome, Error> {
    let chunks = images.chunks_exact(PIXELS);
    if !chunks.remainder().is_empty() || chunks.len() != labels.len() {
        return Err(Error::Data {
            image_bytes: images.len(),
            labels: labels.len(),
        });
    }
    let mut outcome = Outcome {
        images: 0,
        correct: 0,
        digest: 0,
    };
    let mut digest = Fnv1a::NEW;
    for (i, (image, &label)) in chunks.zip(labels).enumerate() {
        let Ok(image) = <&[u8; PIXELS]>::try_from(image) else {
            continue; // unreachable: chunks_exact yields whole images
        };
        let class = classify(net, image, buf);
        digest.update(buf.logits.iter().map(|&v| v as u8));
        outcome.images += 1;
        outcome.correct += usize::from(class == usize::from(label));
        each(i, &buf.logits);
    }
    outcome.digest = digest.value();
    Ok(outcome)
}
