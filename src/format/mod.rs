//! firmnet's weight file: a network, and optionally its whole training state, in one
//! versioned, checksummed blob that the `no_std` core reads in place, without a heap.
//!
//! # What it is for
//! * **Deploying**: the host saves a trained network (`save_params`); the firmware embeds
//!   the file in flash ([`Aligned`]) and loads it into its static network with
//!   [`load_params`], or reads single tensors in place through [`File`].
//! * **Resuming**: a checkpoint holds the network, the optimizer's moments and step, the
//!   training random stream and the run's counters (`save_training`,
//!   [`load_training`]); a run resumed from it continues bit for bit.
//! * **Saving on the device**: the writer also works without a heap, into a caller's
//!   buffer ([`write_params`], [`write_training`]), for a firmware that fine-tunes and
//!   keeps what it learned.
//! * **Exchanging with PyTorch**: `format::safetensors` imports and exports
//!   `nn.Sequential` state dicts.
//!
//! The functions that return a `Vec` or touch the file system (`save_params`,
//! `save_training`, `save_params_file`, …, `FileError`) and the `safetensors` module need
//! the feature `std`; everything else is `no_std` and allocation-free.
//!
//! # What a reader guarantees
//! Nothing that reads a file panics, whatever its bytes. [`File::parse`] checks the magic,
//! the version and the length, then a CRC-32 over everything, then every record; a loader
//! then matches the file against the network *type* — the layer table against
//! [`Layer::layer_info`](crate::layers::Layer::layer_info), every tensor by layer, name,
//! kind, element type and shape against [`Params::info`](crate::layers::Params::info) and
//! [`Layer::buffer_info`](crate::layers::Layer::buffer_info) — and only when all of it
//! matches does it copy. A refused file leaves the network untouched, and the
//! [`FormatError`] says what was expected and what was found:
//!
//! ```text
//! layer 2 (dense): weight has shape 128×256 in the file, the network expects 128×784
//! ```
//!
//! Values are checked too: every `f32` is finite, and variances and second moments are not
//! negative, so a loaded network never computes with garbage.
//!
//! # Byte layout (version 1)
//! All integers are little-endian. Every record starts, and every tensor's data starts, at
//! a multiple of 4 bytes from the start of the file; padding is zero. Names are 1 to 255
//! printable ASCII characters without spaces.
//!
//! | offset | bytes | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `FNET` |
//! | 4 | 2 | format version, `1` |
//! | 6 | 2 | flags: features a reader must know to read the file; none are defined, so `0` |
//! | 8 | 4 | length of the file in bytes, checksum included |
//! | 12 | 4 | `L`, the number of layer records |
//! | 16 | 4 | `S`, the number of scalar records |
//! | 20 | 4 | `T`, the number of tensor records |
//! | 24 | 1 | optimizer: `0` none, `1` Adam (two moments), `2` SGD (one) |
//! | 25 | 7 | reserved, zero |
//! | 32 | … | `L` layer records, then `S` scalar records, then `T` tensor records |
//! | end − 4 | 4 | CRC-32 (IEEE, as zlib's `crc32`) of every byte before it |
//!
//! A **layer record** describes one primitive layer, input first:
//!
//! | offset | bytes | field |
//! | --- | --- | --- |
//! | 0 | 4 | inputs (scalars per sample) |
//! | 4 | 4 | outputs |
//! | 8 | 1 | `n`, length of the kind |
//! | 9 | 3 | reserved, zero |
//! | 12 | `n` + pad | kind, as [`LayerInfo::kind`](crate::layers::LayerInfo::kind): `dense`, `batch_norm`, `relu`, … |
//!
//! A **scalar record** holds one named value ([`Value`]):
//!
//! | offset | bytes | field |
//! | --- | --- | --- |
//! | 0 | 1 | type: `1` u32, `2` u64, `3` f32, `4` f64, `5` random generator state (4 × u32) |
//! | 1 | 1 | `n`, length of the name |
//! | 2 | 2 | reserved, zero |
//! | 4 | `n` + pad | name |
//! | … | 4, 8 or 16 | value |
//!
//! A training file stores `run.rng`, `run.epoch`, `run.step` ([`RunState`]), the
//! optimizer's step and settings (`adam.t`, `adam.lr`, … — see [`OptimizerState`]) and any
//! free-form scalars the trainer adds (a best validation accuracy, a second generator).
//!
//! A **tensor record** holds one tensor:
//!
//! | offset | bytes | field |
//! | --- | --- | --- |
//! | 0 | 1 | section ([`Section`]): `1` parameters, `2` buffers, `3` first moment, `4` second moment |
//! | 1 | 1 | kind: `1` weight, `2` bias, `3` scale γ, `4` shift β, `5` running mean, `6` running variance |
//! | 2 | 1 | element type ([`Dtype`]): `1` f32, `2` i8, `3` i32 (the last two for int8 networks) |
//! | 3 | 1 | `n`, length of the name |
//! | 4 | 4 | layer index |
//! | 8 | 4 | rows (outputs of a weight matrix, 1 for a vector) |
//! | 12 | 4 | columns (inputs of a weight matrix, the length of a vector) |
//! | 16 | 4 | `m`, bytes of type-specific parameters: `0` for f32, a multiple of 4 |
//! | 20 | `n` + pad | name within the layer: `weight`, `bias`, `gamma`, `beta`, `running_mean`, `running_var` |
//! | … | `m` | type-specific parameters (reserved for the quantization parameters of integer tensors) |
//! | … | rows · cols · size + pad | the elements, row-major |
//!
//! The writer stores the parameters in [`Params`](crate::layers::Params) order, then the
//! buffers, then the first and second moments; readers find tensors by section, layer and
//! name, not by position, and refuse a file with a tensor too many.
//!
//! # Int8 networks (version 1, no new layout)
//! An int8 network ([`QDense`](crate::quant::QDense) layers in a
//! [`QChain`](crate::quant::QChain), as [`QNet!`](macro@crate::QNet) builds it) is stored with
//! the records above: no scalars, no optimizer, one layer record of kind `qdense` per layer
//! (inputs and outputs as usual) and these eight tensors per layer, all in section `1`
//! (parameters), in this order, with no type-specific parameters (`m = 0`):
//!
//! | name | kind | type | shape | contents |
//! | --- | --- | --- | --- | --- |
//! | `weight` | `1` weight | `i8` | outputs × inputs | the weights, row-major |
//! | `bias` | `2` bias | `i32` | 1 × outputs | int32 biases (input zero point folded in) |
//! | `multiplier` | `3` scale | `i32` | 1 × outputs | Q31 requantization multipliers, `>= 0` |
//! | `shift` | `4` shift | `i32` | 1 × outputs | requantization exponents, in `−31..=30` |
//! | `weight_scale` | `3` scale | `f32` | 1 × outputs | the weights' scales, finite and > 0 |
//! | `scales` | `3` scale | `f32` | 1 × 2 | input scale, output scale, finite and > 0 |
//! | `zero_points` | `4` shift | `i32` | 1 × 2 | input zero point, output zero point, in `−128..=127` |
//! | `clamp` | `4` shift | `i32` | 1 × 2 | smallest and largest output, in `−128..=127`, min ≤ max |
//!
//! The small parameters are tensors rather than the type-specific bytes, so that every
//! reader of version 1 parses an int8 file as it is (the `f32` ones are checked finite by
//! [`File::parse`]) and a tool can list them; the format did not change, so the version
//! stays `1`. The float loaders refuse an int8 file by its layer kinds
//! ([`FormatError::LayerKind`]); [`load_qnet`] refuses a float file the same way.
//!
//! [`write_qnet`] writes (into a caller's buffer, without a heap; `save_qnet` into a `Vec`),
//! [`load_qnet`] checks everything — layer count, kinds and sizes against the network type
//! ([`QParamsIo`]), every tensor's kind, type and shape, no tensor too many, and the values
//! (rules above, [`FormatError::QuantValue`]) — before it copies, so a refused file leaves the
//! network untouched. [`qnet_ref`] builds a network of [`QDenseRef`]s over the file's bytes,
//! with the weights and per-channel arrays borrowed in place (zero-copy, for flash) after the
//! same checks. `qnet_rust_source` (with `std`) writes the network as Rust source instead,
//! for a firmware to embed with `include!` and the compiler to check.
//!
//! # Versions and what comes next
//! The version changes whenever the layout does; a reader reads exactly its own version
//! and names a newer one as such ([`FormatError::UnsupportedVersion`]). Flags mark
//! features a reader must understand; reserved bytes must be zero. Int8 networks
//! (above) use the reserved element types `i8` and `i32` and a new layer kind, not a new
//! layout; the type-specific bytes of a tensor stay reserved (empty).
//!
//! Files are limited to 4 GiB by their 32-bit lengths.
//!
//! # Zero-copy on a device
//! Tensors start 4-aligned relative to the file, so a file placed at an aligned address
//! ([`Aligned`]) holds every `f32` tensor as an aligned little-endian `[f32]`.
//! [`TensorRecord::data`] hands out those bytes in place; firmnet decodes them
//! ([`TensorRecord::f32s`], [`TensorRecord::copy_to`]) rather than cast them, which keeps
//! the crate free of `unsafe`, and a firmware that wants a `&[f32]` straight from flash can
//! take one with a checked cast (`bytemuck::try_cast_slice`).

mod crc;
mod error;
mod file;
mod layout;
mod load;
mod qnet;
#[cfg(feature = "std")]
mod rust;
mod state;
mod write;

#[cfg(feature = "std")]
mod fs;
#[cfg(feature = "std")]
pub mod safetensors;

pub use crc::{Crc32, crc32};
pub use error::{Dims, FormatError, Name};
pub use file::{F32s, File, I8s, I32s, LayerRecord, Records, ScalarRecord, TensorRecord};
pub use layout::{
    ALIGN, CHECKSUM_LEN, Dtype, HEADER_LEN, MAGIC, MAX_NAME_LEN, OptimizerKind, Section, VERSION,
    Value,
};
pub use load::{load_params, load_training};
pub use qnet::{
    QDENSE_KIND, QDENSE_TENSORS, QDenseRef, QDenseView, QDenseViewMut, QLayerRef, QParamsIo,
    QTensorInfo, load_qnet, qdense_tensors, qnet_len, qnet_ref, write_qnet,
};
pub use state::{OptimizerState, RunState};
pub use write::{params_len, training_len, write_params, write_training};

#[cfg(feature = "std")]
pub use fs::{
    FileError, load_params_file, load_training_file, read, save_params_file, save_training_file,
    write_atomic,
};
#[cfg(feature = "std")]
pub use qnet::save_qnet;
#[cfg(feature = "std")]
pub use rust::qnet_rust_source;
#[cfg(feature = "std")]
pub use write::{save_params, save_training};

/// Bytes at an address that is a multiple of 16, so that every tensor of an embedded file
/// starts 4-aligned:
///
/// ```
/// use firmnet::format::Aligned;
/// # const BLOB: [u8; 8] = *b"FNET\x01\x00\x00\x00";
/// // In firmware: `&Aligned(*include_bytes!("mnist.fnet"))`.
/// static WEIGHTS: &Aligned<[u8]> = &Aligned(BLOB);
/// assert_eq!(WEIGHTS.as_ptr() as usize % 16, 0);
/// assert_eq!(&WEIGHTS[..4], b"FNET");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(16))]
pub struct Aligned<B: ?Sized>(pub B);

impl<B: ?Sized> core::ops::Deref for Aligned<B> {
    type Target = B;
    fn deref(&self) -> &B {
        &self.0
    }
}
