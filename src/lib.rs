#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]
//! # firmnet: fixed-size neural networks for microcontrollers
//!
//! You define a small network once, as Rust types whose sizes are const generics. The same
//! definition trains on a PC and runs — or keeps training — in firmware, with no heap and
//! every buffer sized at compile time.
//!
//! ```
//! use firmnet::prelude::*;
//! use firmnet::train::{TrainBuffers, classification_step};
//!
//! // 4 inputs → 16 hidden (batch-normalized ReLU) → 3 classes.
//! type Net = Net![Dense<4, 16>, BatchNorm<16>, Relu<[f32; 16]>, Dense<16, 3>];
//!
//! // Everything below can live in `static`s: all of it is built in a const context.
//! let mut net: Net = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
//! let mut adam = Adam::<<Net as Layer>::Grad>::new(AdamConfig::DEFAULT);
//! let mut buf = TrainBuffers::<Net, 8>::ZERO; // caches and gradients for batch 8
//! let mut ctx = Context::new(42);             // seeded randomness
//! net.init(Init::HeNormal, &mut Rng::new(7));
//!
//! let x = [[0.5, -1.0, 0.25, 2.0]; 8];
//! let labels = [2u16; 8];
//! let stats = classification_step(&mut net, &mut adam, &mut buf, &mut ctx, &x, &labels)?;
//! assert!(stats.loss.is_finite());
//!
//! // Inference on one sample needs only the network and its arena: the two largest
//! // adjacent activations, a size the compiler computes from the layer types.
//! let mut scratch = Scratch::<Net>::ZERO;
//! let mut logits = [0.0; 3];
//! net.forward(&x[0], &mut logits, &mut scratch);
//! # Ok::<(), firmnet::Error>(())
//! ```
//!
//! # The memory model
//! The core is `#![no_std]` and never allocates. A layer struct holds only what inference
//! needs (a [`Dense`](layers::Dense) its weights and biases, a
//! [`BatchNorm`](layers::BatchNorm) γ, β and its running statistics). Everything else a
//! task needs is a separate type whose size the layer types fix:
//!
//! | task | memory | type |
//! | --- | --- | --- |
//! | inference | parameters + the two largest adjacent activations (elementwise layers work in place) | `L`, [`Scratch<L>`](net::Scratch) |
//! | training at batch `B` | + caches, activations and their gradients, parameter gradients | [`TrainBuffers<L, B>`](train::TrainBuffers) |
//! | Adam | + two moments per parameter | [`Adam<L::Grad>`](optim::Adam) |
//!
//! All of these have const constructors, so firmware puts them in `static`s (`.bss`) and
//! never on the stack; `size_of` of each type is its exact cost. An inference-only
//! firmware links no gradient, cache or optimizer code.
//!
//! On a PC the same values are megabytes, and go on the heap. `Box::new(value)` passes
//! the value through the stack (a debug build keeps that copy, and overflows a small
//! thread), so `firmnet::boxed` (feature `std`) builds them in place instead:
//!
//! ```
//! use firmnet::models::{FASHION_MLP, FashionMlp};
//! use firmnet::prelude::*;
//! use firmnet::train::TrainBuffers;
//!
//! let mut net: Box<FashionMlp> = firmnet::boxed!(FASHION_MLP); // a network constant
//! let mut adam = Adam::<<FashionMlp as Layer>::Grad>::boxed(AdamConfig::DEFAULT);
//! let mut buf: Box<TrainBuffers<FashionMlp, 64>> = firmnet::boxed::zero(); // any `ZERO`
//! # let _ = (&mut net, &mut adam, &mut buf);
//! ```
//!
//! # Deploying your network
//! The network type you trained is the one you deploy. For any [`Net!`](macro@Net) of
//! firmnet's layers the compiler derives the int8 network, `Int8<MyNet>`
//! ([`quant::Int8`]): batch normalization folds into the dense layer before it, ReLU and
//! ReLU6 into its output clamp, dropout, noise and activity L1 disappear, and tanh,
//! sigmoid and leaky ReLU become 256-entry tables; a layer with no int8 form is a compile
//! error that names it. One call on the host calibrates every boundary and quantizes
//! (`host::quantize`, feature `std`); the file it writes is borrowed in place by the
//! firmware as the *same* type with borrowed storage ([`format::view`]): checked at boot —
//! header, checksum, every layer against the type, every value — its weights and tables
//! never leave flash. (Or compile the network in, as Rust source from
//! `format::rust_source`; or deploy the float network with batch normalization folded,
//! [`deploy::deploy`].)
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use firmnet::format::{self, Aligned};
//! use firmnet::host::{RangeMethod, quantize};
//! use firmnet::prelude::*;
//! use firmnet::quant::{Borrowed, Int8};
//!
//! type MyNet = Net![Dense<4, 8>, BatchNorm<8>, Relu<[f32; 8]>, Dense<8, 3>];
//! let mut net: MyNet = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
//! net.init(Init::HeNormal, &mut Rng::new(1));
//!
//! // On the host: calibrate on samples, quantize, write.
//! let samples: Vec<[f32; 4]> = (0..64).map(|i| [i as f32 / 64.0, 0.5, -0.25, 1.0]).collect();
//! let int8: Box<Int8<MyNet>> = quantize(&net, &samples, RangeMethod::MinMax)?;
//! let mut file = Aligned([0u8; 1024]);
//! let len = format::write(&*int8, &mut file.0)?;
//!
//! // In firmware: `static FILE: &Aligned<[u8]> = &Aligned(*include_bytes!("model_int8.fnet"));`
//! let view: Int8<MyNet, Borrowed> = format::view(&file[..len])?;
//! let mut scratch = Scratch::<Int8<MyNet, Borrowed>>::ZERO;
//! let mut logits = [0i8; 3];
//! view.forward(&[10, 20, -30, 40], &mut logits, &mut scratch);
//! # Ok(())
//! # }
//! ```
//!
//! `cargo run --release --features std --example verify` runs the main job's network this way on a
//! Cortex-M4F, a Cortex-M0 and RISC-V under QEMU and compares every output with the host;
//! the README has the footprint.
//!
//! # The layers of the crate
//! | module | what it holds |
//! | --- | --- |
//! | [`kernels`] | f32 dot, axpy, matrix–vector and matrix–matrix products: SIMD (AVX2 + FMA or SSE2 chosen at run time on x86-64, `wide` elsewhere) and a scalar reference |
//! | [`layers`] | the [`Layer`](layers::Layer) trait; dense, batch normalization, activations, dropout, noise, activity L1, frozen layers |
//! | [`net`](mod@net) | [`Chain`](net::Chain) and the [`Net!`](macro@Net)/[`net!`](macro@net) macros: networks whose shapes the compiler checks |
//! | [`loss`] | softmax cross-entropy (fused, stable), mean squared error |
//! | [`optim`] | SGD (momentum, Nesterov), Adam, AdamW; L2, L1, clipping, max-norm, weight noise; all in place |
//! | [`train`] | one training step over caller-owned buffers; FGSM and adversarial training |
//! | [`spec`] | how each layer describes itself — kind, shapes, tensors, attributes, value rules — for the one writer and checker of [`format`] |
//! | [`quant`] | int8 inference: integer-only requantization, int8 dense kernels (scalar, SIMD, Cortex-M DSP), tables for tanh, sigmoid and leaky ReLU, the int8 type of any network and the conversion to it |
//! | [`deploy`] | the float deployment form: batch normalization folded, training-only layers removed |
//! | [`models`] | the reference network of the main job (`FashionMlp`) |
//! | [`format`] | the FNET weight and checkpoint format, version 2: one writer and one checker for every network, `no_std` and without a heap, zero-copy int8 views for flash; networks as Rust source (`std`) and safetensors (`safetensors`) |
//! | [`stream`] | streaming inference: a sliding window over a sensor's frames, handed to the network in place every `HOP` frames; frames from an interrupt handler through a lock-free queue |
//! | [`text`] | numbers as text without `core::fmt`, for firmware that prints |
//! | `host` | (feature `std`) datasets, the trainer, schedules, reports |
//! | `boxed` | (feature `std`) networks, optimizers, buffers and arenas built in place on the heap |
//! | [`init`], [`rng`] | Glorot, He and the ReLU-compromise initializations; a seeded PRNG |
//! | [`math`] | the only source of `exp`, `ln`, `sqrt`, `tanh`, `sigmoid`, with stated error bounds |
//! | [`tensor`] | fixed-size tensors as nested arrays of rank up to 4, with flat views |
//! | [`arena`] | the inference arena: activations between layers in two alternating buffers |
//!
//! # The tricks of the trade
//! Every trick of the lecture the crate grew from is a feature, in the `no_std` core
//! wherever a device could use it:
//!
//! | trick | where |
//! | --- | --- |
//! | Adam, momentum, Nesterov | [`optim::Adam`], [`optim::Sgd`] |
//! | initialization (Glorot, He, the lecture's `4/(n_in+n_out)`) | [`init::Init`] |
//! | gradient clipping (by value, by global norm) | [`optim::Clip`] |
//! | batch normalization | [`layers::BatchNorm`] |
//! | weight decay, coupled (L2) and decoupled (AdamW) | [`optim::AdamConfig`], [`optim::SgdConfig`] |
//! | L1 on weights, exact zeros kept | `l1` in the optimizer configurations ([`optim`]) |
//! | max-norm | [`optim::max_norm`] |
//! | noise on inputs, hidden units, weights | [`layers::GaussianNoise`], [`optim::perturb_weights`] |
//! | dropout | [`layers::Dropout`] |
//! | sparse representations (L1 on activations) | [`layers::ActivityL1`] |
//! | adversarial examples and training (FGSM) | [`train::fgsm`], [`train::adversarial_step`] |
//! | training some layers only | [`layers::Frozen`] |
//! | early stopping, augmentation, ensembles, hyperparameter search | `host` (feature `std`): the trainer, `host::augment`, `host::ensemble`, `host::search` |
//!
//! `cargo run --release --features charts --example tricks_report` measures each on Fashion-MNIST and writes
//! `docs/tricks.md`.
//!
//! # Goals
//! * **Shapes are types.** A network whose sizes do not connect does not compile.
//! * **Same numbers everywhere.** Given a seed, training is bit-reproducible on a target;
//!   with the reference kernels ([`kernels::set_backend`]) the host computes the same bits
//!   as a Cortex-M4F.
//! * **Fast where it counts.** Hand-vectorized kernels (AVX2 + FMA on x86-64 CPUs that
//!   have them, chosen at run time), fused single-pass optimizers.
//! * **Errors, not panics, on data.** Labels out of range and non-finite losses or
//!   gradients are [`Error`]s; an optimizer step that meets a NaN changes nothing.
//!
//! # Features
//! None is on by default: the core is `no_std`, allocation-free and depends on `libm`,
//! `wide`, `bytemuck` and `heapless` only.
//! * `std`: the host harness ([`host`]) and [`boxed`](mod@boxed) (large values built on the heap): datasets (IDX, gzip, CSV, `.npy`), training with a
//!   progress line, quantization, evaluation, weight files, text reports. Adds `flate2`.
//! * `charts`: PNG charts of a run (`host::report`: learning curves, confusion matrix, line
//!   charts of any series), drawn by `plotters`; implies `std`.
//! * `safetensors`: import and export of PyTorch weights (`format::safetensors`); implies
//!   `std`.
//! * `fast-math`: micromath approximations for `exp`, `tanh` and `sigmoid` (see [`math`]
//!   for their error bounds); `ln` and `sqrt` stay exact. Firmware built to match a host
//!   computation must enable it too (`firmnet/fast-math`).
//! * `small-code`: the smallest int8 code — dense layers requantize every output with
//!   TensorFlow Lite's general function rather than the six-instruction path their
//!   parameters usually allow (the same bits; about 690 B less flash on a Cortex-M4).
//!
//! # Targets and Rust version
//! Rust 1.89 or newer. The core builds for any target with `core`; it is tested on
//! x86-64 and under QEMU on a Cortex-M4F (`thumbv7em-none-eabihf`), a Cortex-M0
//! (`thumbv6m-none-eabi`) and RISC-V (`riscv32imac-unknown-none-elf`).

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod arena;
#[cfg(feature = "std")]
pub mod boxed;
pub mod deploy;
pub mod error;
pub mod format;
#[cfg(feature = "std")]
pub mod host;
pub mod init;
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod math;
pub mod models;
pub mod net;
pub mod optim;
pub mod quant;
pub mod rng;
pub mod spec;
pub mod stream;
pub mod tensor;
pub mod text;
pub mod train;

pub use error::Error;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The names most programs need: `use firmnet::prelude::*;`.
pub mod prelude {
    pub use crate::error::Error;
    pub use crate::format::FormatError;
    pub use crate::init::Init;
    pub use crate::layers::{
        ActivityL1, BatchNorm, Context, Dense, Dropout, Frozen, GaussianNoise, Layer, LeakyRelu,
        ParamInfo, ParamKind, Params, Relu, Relu6, Sigmoid, Tanh,
    };
    pub use crate::layers::{AvgPool2d, BatchNorm2d, Flatten, GlobalAvgPool, MaxPool2d};
    pub use crate::layers::{Conv2d, DepthwiseConv2d, Same, Valid};
    pub use crate::layers::{Identity, Residual};
    pub use crate::loss::{argmax, mse, softmax, softmax_cross_entropy};
    pub use crate::net::{Chain, Infer, Scratch};
    pub use crate::optim::{Adam, AdamConfig, Clip, Optimizer, Sgd, SgdConfig};
    pub use crate::rng::Rng;
    pub use crate::spec::Describe;
    pub use crate::tensor::{Tensor, Zero};
    pub use crate::{Net, net};
}
