//! Classifying Fashion-MNIST test images with the exported int8 network, straight from
//! flash: the computation every firmware target runs and `examples/verify/main.rs` repeats on the
//! host. It prints nothing itself: [`run`] hands every image's logits to a callback, which
//! the firmware prints and the host compares.
//!
//! The network is the main job's `model_int8.fnet`, borrowed in place by
//! [`firmnet::format::view`] as [`Network<'_, M>`] = `Int8<M, Borrowed>` — the type the
//! compiler derives from the float network `M` ([`FashionCnn`](firmnet::models::FashionCnn)
//! or [`FashionMlp`](firmnet::models::FashionMlp)), with borrowed storage: the weights and
//! per-channel arrays stay in flash, and RAM holds only [`Buffers`] — the quantized image,
//! the network's arena and the logits.
//!
//! Every function here is generic over the int8 network, so one body serves both: the
//! MLP takes the image as a vector `[i8; 784]`, the CNN as a 28×28×1 map
//! `[[[i8; 1]; 28]; 28]` — the same 784 bytes in the same order. The firmware learns which
//! float network its bundle holds from the bundle's `model.rs`
//! (`pub type Model = firmnet::models::FashionCnn;`, written by `verify`), which it
//! `include!`s; a weight file of another network is refused when it is viewed.

use firmnet::format::{FormatError, View};
use firmnet::net::{Infer, Scratch};
use firmnet::quant::{Borrowed, Int8, Owned, QLayer, QParams, argmax_i8};
use firmnet::tensor::Tensor;

/// Pixels per image (28 × 28).
pub const PIXELS: usize = 784;
/// Classes.
pub const CLASSES: usize = 10;

/// The int8 twin of the float network `M`, borrowed from the weight file's bytes.
pub type Network<'a, M> = Int8<M, Borrowed<'a>>;

/// The int8 twin of the float network `M` compiled in: owned arrays in a `static` the
/// compiler builds from Rust source (`firmnet::format::rust_source`). The same layers as
/// [`Network`], the same arena.
pub type Compiled<M> = Int8<M, Owned>;

/// Everything [`run`] writes for the network `N`: the activation buffers of one inference.
pub struct Buffers<N: Infer> {
    /// The image, quantized, in the network's input shape.
    pub input: N::Input,
    /// The network's arena: the hidden layers' outputs.
    pub scratch: Scratch<N>,
    /// The output.
    pub logits: [i8; CLASSES],
}

impl<N: Infer> Buffers<N> {
    /// All zero; for a `static`.
    pub const ZERO: Buffers<N> = Buffers {
        input: firmnet::tensor::Zero::ZERO,
        scratch: Scratch::<N>::ZERO,
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

/// The int8 network `N` (a [`Network`]) in `bytes`, checked and borrowed in place.
///
/// # Errors
/// [`Error::Format`] for a file that is not this network, [`Error::Input`] for one that does
/// not take raw pixels.
pub fn network<'a, N: View<'a> + QLayer>(bytes: &'a [u8]) -> Result<N, Error> {
    let net: N = firmnet::format::view(bytes).map_err(Error::Format)?;
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
pub fn classify<N: QLayer<Output = [i8; CLASSES]>>(
    net: &N,
    image: &[u8; PIXELS],
    buf: &mut Buffers<N>,
) -> usize {
    const {
        assert!(
            <N::Input as Tensor>::LEN == PIXELS,
            "the network does not take 784 pixels"
        )
    };
    for (q, &p) in buf.input.as_mut_slice().iter_mut().zip(image) {
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
pub fn run<N: QLayer<Output = [i8; CLASSES]>>(
    net: &N,
    images: &[u8],
    labels: &[u8],
    buf: &mut Buffers<N>,
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
