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
//! // Inference on one sample needs only the network and its scratch buffers.
//! let mut scratch = <Net as Layer>::Scratch::ZERO;
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
//! | inference | parameters + one buffer per hidden activation | `L`, `L::Scratch` |
//! | training at batch `B` | + caches, activations and their gradients, parameter gradients | [`TrainBuffers<L, B>`](train::TrainBuffers) |
//! | Adam | + two moments per parameter | [`Adam<L::Grad>`](optim::Adam) |
//!
//! All of these have const constructors, so firmware puts them in `static`s (`.bss`) and
//! never on the stack; `size_of` of each type is its exact cost. An inference-only
//! firmware links no gradient, cache or optimizer code.
//!
//! # Deploying an int8 network
//! The host trains, quantizes ([`quant`]) and exports; the firmware then either borrows the
//! weight file in place from flash — [`format::qnet_ref`] checks the header, checksum,
//! every layer against the network type and every value, and gives a network whose weights
//! and per-channel arrays never leave flash — or embeds the network as Rust source written
//! by `format::qnet_rust_source` (`std`), which the compiler checks instead:
//!
//! ```
//! # fn main() -> Result<(), firmnet::format::FormatError> {
//! use firmnet::format::{self, Aligned, QDenseRef};
//! use firmnet::quant::{QDense, QLayer};
//! use firmnet::{QNet, qnet};
//!
//! // In firmware: `static FILE: &Aligned<[u8]> = &Aligned(*include_bytes!("model_int8.fnet"));`
//! let net: QNet![QDense<4, 3>, QDense<3, 2>] = qnet![QDense::ZERO, QDense::ZERO];
//! let mut file = Aligned([0u8; 1024]);
//! let len = format::write_qnet(&net, &mut file.0)?;
//!
//! let view: QNet![QDenseRef<'_, 4, 3>, QDenseRef<'_, 3, 2>] = format::qnet_ref(&file[..len])?;
//! let (mut logits, mut scratch) = ([0i8; 2], firmnet::tensor::Zero::ZERO);
//! view.forward(&[1, 2, 3, 4], &mut logits, &mut scratch);
//! # Ok(())
//! # }
//! ```
//!
//! `cargo run --release --example verify` runs the main job's network this way on a
//! Cortex-M4F, a Cortex-M0 and RISC-V under QEMU and compares every output with the host;
//! the README has the footprint.
//!
//! # The layers of the crate
//! | module | what it holds |
//! | --- | --- |
//! | [`kernels`] | f32 dot, axpy, matrix–vector and matrix–matrix products: SIMD (`wide`) and a scalar reference |
//! | [`layers`] | the [`Layer`](layers::Layer) trait; dense, batch normalization, activations, dropout, noise, activity L1, frozen layers |
//! | [`net`](mod@net) | [`Chain`](net::Chain) and the [`Net!`](macro@Net)/[`net!`](macro@net) macros: networks whose shapes the compiler checks |
//! | [`loss`] | softmax cross-entropy (fused, stable), mean squared error |
//! | [`optim`] | SGD (momentum, Nesterov), Adam, AdamW; L2, L1, clipping, max-norm, weight noise; all in place |
//! | [`train`] | one training step over caller-owned buffers; FGSM and adversarial training |
//! | [`quant`] | int8 inference: integer-only requantization, int8 dense kernels (scalar, SIMD, Cortex-M DSP), conversion from float |
//! | [`models`] | reference networks shared by examples, benchmarks and firmware |
//! | [`format`] | the FNET weight and checkpoint format: `no_std` reader without a heap, zero-copy int8 views for flash, writer, int8 networks as Rust source and safetensors (`std`) |
//! | `host` | (feature `std`) datasets, the trainer, schedules, reports |
//! | [`init`], [`rng`] | Glorot, He and the ReLU-compromise initializations; a seeded PRNG |
//! | [`math`] | the only source of `exp`, `ln`, `sqrt`, `tanh`, `sigmoid`, with stated error bounds |
//! | [`tensor`] | fixed-size tensors as nested arrays, with flat views |
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
//! `cargo run --release --example tricks_report` measures each on Fashion-MNIST and writes
//! `docs/tricks.md`.
//!
//! # Goals
//! * **Shapes are types.** A network whose sizes do not connect does not compile.
//! * **Same numbers everywhere.** Given a seed, training is bit-reproducible on a target;
//!   with the reference kernels ([`kernels::set_backend`]) the host computes the same bits
//!   as a Cortex-M4F.
//! * **Fast where it counts.** Hand-vectorized kernels (AVX2 + FMA through `wide` on the
//!   host), fused single-pass optimizers.
//! * **Errors, not panics, on data.** Labels out of range and non-finite losses or
//!   gradients are [`Error`]s; an optimizer step that meets a NaN changes nothing.
//!
//! # Features
//! * `std`: links the standard library, for the host harness.
//! * `fast-math`: micromath approximations for `exp`, `tanh` and `sigmoid` (see [`math`]
//!   for their error bounds); `ln` and `sqrt` stay exact.
//!
//! # Targets and Rust version
//! Rust 1.89 or newer. The core builds for any target with `core`; it is tested on
//! x86-64 and under QEMU on a Cortex-M4F (`thumbv7em-none-eabihf`), a Cortex-M0
//! (`thumbv6m-none-eabi`) and RISC-V (`riscv32imac-unknown-none-elf`).

#[cfg(any(test, feature = "std"))]
extern crate std;

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
pub mod tensor;
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
        ParamInfo, ParamKind, Params, Relu, Sigmoid, Tanh,
    };
    pub use crate::loss::{argmax, mse, softmax, softmax_cross_entropy};
    pub use crate::net::Chain;
    pub use crate::optim::{Adam, AdamConfig, Clip, Optimizer, Sgd, SgdConfig};
    pub use crate::rng::Rng;
    pub use crate::tensor::{Tensor, Zero};
    pub use crate::{Net, net};
}
