//! firmnet's weight file: a network — float or int8 — and optionally its whole training
//! state, in one versioned, checksummed blob that the `no_std` core reads in place,
//! without a heap.
//!
//! # What it is for
//! * **Deploying**: the host saves a trained network ([`save`]); the firmware embeds the
//!   file in flash ([`Aligned`]) and either borrows its int8 network in place ([`view`]:
//!   weights and tables never leave flash) or copies it into a static network ([`load`]).
//! * **Resuming**: a checkpoint holds the network, the optimizer's moments and step, the
//!   training random stream, the run's counters and the early-stopping state with the best
//!   weights ([`save_training`], [`load_training`]); a run resumed from it continues bit
//!   for bit.
//! * **Saving on the device**: the writer also works without a heap, into a caller's
//!   buffer ([`write`](fn@write), [`write_training`]), for a firmware that fine-tunes and keeps what
//!   it learned.
//! * **Compiling in**: [`rust_source`] writes a network as a Rust expression for
//!   `include!`, checked by the compiler instead of at boot.
//! * **Exchanging with PyTorch**: `format::safetensors` (feature `safetensors`) imports and
//!   exports `nn.Sequential` state dicts.
//!
//! The functions that return a `Vec` or touch the file system (`save`, `save_file`, …,
//! `FileError`), `rust_source` and the version 1 converter (`v1`) need the feature `std`;
//! everything else is `no_std` and allocation-free.
//!
//! # One description, one writer, one checker
//! Every layer describes itself ([`spec`](crate::spec)): its kind, shapes, tensors (name,
//! kind, element type, shape of rank up to 4, value rule) and attributes. The writer
//! stores any network from those descriptions, float and int8 alike, and the checker
//! matches a file against a network *type* from the same descriptions, so a new layer
//! kind needs no format code.
//!
//! # What a reader guarantees
//! Nothing that reads a file panics, whatever its bytes. [`File::parse`] checks the magic
//! and the version, then the CRC-32 over everything **before it trusts any length in the
//! file**, then the header and every record. [`File::check`] then matches the file against
//! the network type, in an order that gives the most useful message: first what the file
//! holds ("this file holds a float network, and the network is an int8 network"), then the
//! number of layers, each layer's kind and shapes, its attributes by name, type and value,
//! each tensor by kind, then element type (a changed type is reported as such), shape,
//! data length and values; nothing more; and, between int8 layers, that each input's
//! quantization is the previous output's. Only then does a loader copy or borrow. A
//! refused file leaves the network untouched, and the [`FormatError`] — 32 bytes, a code
//! that prints without `core::fmt` — says what was expected and what was found:
//!
//! ```text
//! layer 2 (tensor `weight`): dimension 2 is 256 in the file, the network expects 784
//! ```
//!
//! The values obey their specs' rules ([`Rule`](crate::spec::Rule)): every `f32` finite,
//! variances strictly positive, batch normalization's ε positive and momentum in
//! `[0, 1]`, dropout rates in `[0, 1]`, quantization scales normal and within
//! `[2⁻⁶⁴, 2⁶⁴]`, zero points and clamp bounds in `i8` with `min ≤ max`, multipliers in
//! TensorFlow Lite's normalized range `[2³⁰, 2³¹)`, shifts in `−31..=30`.
//!
//! # Byte layout (version 2)
//! All integers are little-endian. Every record and every tensor's data starts at a
//! multiple of 4 bytes from the start of the file; padding is zero. Names are 1 to 255
//! printable ASCII characters without spaces.
//!
//! | offset | bytes | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `FNET` |
//! | 4 | 2 | format version, `2` |
//! | 6 | 1 | what the file holds ([`FileKind`]): `1` a float network, `2` a training checkpoint, `3` an int8 network |
//! | 7 | 1 | flags: features a reader must know; none are defined, so `0` |
//! | 8 | 4 | length of the file in bytes, checksum included |
//! | 12 | 4 | `L`, the number of layer records |
//! | 16 | 4 | `S`, the number of scalar records (checkpoints only) |
//! | 20 | 4 | source digest: for an int8 file, the checksum of the float file it was made from |
//! | 24 | 1 | optimizer (checkpoints only): `1` Adam (two moments), `2` SGD (one) |
//! | 25 | 1 | `1` if the source digest is set, else `0` |
//! | 26 | 1 | `1` if a checkpoint holds the early-stopping best weights, else `0` |
//! | 27 | 5 | reserved, zero |
//! | 32 | … | `L` layer records, then `S` scalar records |
//! | end − 4 | 4 | CRC-32 (IEEE, as zlib's `crc32`) of every byte before it |
//!
//! Every field of a record is a 32-bit word, in the order a reader reports a difference
//! (what makes the rest meaningless first), followed by the record's name. A **layer
//! record** is one primitive layer, input first:
//!
//! | word | field |
//! | --- | --- |
//! | 0 | length of the record in bytes, this field included |
//! | 1 | `n`, length of the kind (≤ 255) |
//! | 2 | rank of the input shape (≤ 4) |
//! | 3–6 | input shape, unused dimensions zero |
//! | 7 | rank of the output shape (≤ 4) |
//! | 8–11 | output shape |
//! | 12 | `A`, number of attributes |
//! | 13 | `T`, number of tensors |
//! | then | the kind (`n` bytes + pad), as [`LayerSpec::kind`](crate::spec::LayerSpec::kind): `dense`, `batch_norm`, `qdense`, …; `A` attribute records; `T` tensor records |
//!
//! An **attribute record**: type (`1` f32, `3` i32), name length `m`, the value's 32
//! bits, then the name (`m` bytes + pad). Attributes are stored in the order of the layer's
//! spec: batch normalization's `eps` and `momentum`, dropout's `rate`, leaky ReLU's
//! `slope`, an int8 layer's `input_scale`, `input_zero_point`, `output_scale`,
//! `output_zero_point` (and `min`, `max` for `qdense`), a convolution's or pool's `stride`,
//! `pad_top`, `pad_left` (and a pool's `pool_height`, `pool_width`), a residual block's
//! `body_layers` and `shortcut_layers`. These last record the network's structure: the
//! layer's type fixes them, and a file that holds other values is refused
//! ([`ErrorCode::Structure`]) even where every shape agrees.
//!
//! A **tensor record**:
//!
//! | word | field |
//! | --- | --- |
//! | 0 | section ([`Section`]): `1` the network, `2` first moment, `3` second moment, `4` best weights |
//! | 1 | `m`, length of the name (≤ 255) |
//! | 2 | kind ([`ParamKind::code`](crate::layers::ParamKind::code)): `1` weight, `2` bias, `3` scale γ, `4` shift β, `5` running mean, `6` running variance, `7` multiplier, `8` exponent, `9` table |
//! | 3 | element type ([`Dtype`](crate::spec::Dtype)): `1` f32, `2` i8, `3` i32 |
//! | 4 | rank (≤ 4) |
//! | 5–8 | shape, unused dimensions zero |
//! | 9 | bytes of data |
//! | then | the name within the layer (`m` bytes + pad): `weight`, `bias`, `gamma`, `running_var`, `multiplier`, `table`, …; the elements, row-major (+ pad) |
//!
//! The data length is stored, not derived from the type, so a reader walks every record
//! whatever its type byte says and reports a changed type as a type error.
//!
//! Attributes and tensors are stored in the order of the layer's spec — the tensors section
//! by section: the network's, then (in a checkpoint) the optimizer's moments of the learned
//! tensors, then, when early stopping is on, the best weights — so a reader checks a
//! record in one pass, front to back, with no search: it compares each fixed part with the
//! words the writer would write, whole, and takes a record apart only to say why it is
//! refused. A checkpoint's **scalar records** (type and name length as words, the name +
//! pad, then a value of 4, 8 or 16 bytes: `1` u32, `2` u64, `3` f32, `4` f64, `5` random
//! generator state) hold the run's counters and random stream
//! ([`RunState`]), the optimizer's step and settings ([`OptimizerState`]), the
//! early-stopping counters (`stop.best_value`, `stop.best_epoch`, `stop.since_best`) and
//! any free-form scalars the trainer adds.
//!
//! # Versions
//! The version changes whenever the layout does; a reader reads exactly its own version,
//! names a newer one as such and tells how to convert a version 1 file
//! ([`ErrorCode::Version1`]: `cargo run --release --features std --example upgrade_v1`). Flags mark
//! features a reader must understand; the header's reserved bytes must be zero. Files are limited to
//! 4 GiB by their 32-bit lengths.
//!
//! # Files that belong together
//! An int8 file made from a float file records that file's checksum
//! ([`write_with_source`]); [`check_source`] tells whether two files belong together, and
//! `save_pair` (`std`) writes a pair so that a run killed while writing never leaves a
//! new float file beside an old int8 one that pass that check.
//!
//! # Zero-copy on a device
//! Tensors start 4-aligned relative to the file, so a file placed at an aligned address
//! ([`Aligned`]) holds every tensor at an aligned address: [`view`] borrows the int8 arrays
//! in place, with `bytemuck`'s checked casts rather than `unsafe`.

mod check;
mod crc;
mod error;
mod file;
mod layout;
mod load;
#[cfg(feature = "std")]
pub(crate) mod rust;
#[cfg(feature = "std")]
pub(crate) mod sniff;
mod state;
mod write;

#[cfg(feature = "std")]
mod fs;
#[cfg(feature = "safetensors")]
pub mod safetensors;
#[cfg(feature = "std")]
pub mod v1;

#[doc(hidden)]
pub use check::Walk;
pub use crc::{Crc32, crc32};
pub use error::{ErrorCode, FormatError, Malformation};
pub use file::{AttrRecord, File, LayerRecord, Records, ScalarRecord, TensorRecord};
pub use layout::{
    ALIGN, CHECKSUM_LEN, FileKind, HEADER_LEN, KNOWN_KINDS, MAGIC, MAX_NAME_LEN, MAX_SCALARS,
    OptimizerKind, Section, VERSION, Value, kind_signature,
};
pub use load::{Resumed, View, check_source, load, load_training, view};
pub use state::{OptimizerState, RunState};
pub use write::{EarlyStop, len, write, write_training, write_with_source};

#[cfg(feature = "std")]
pub use fs::{
    FileError, load_file, load_training_file, read, remove_stale_temporaries, save_file, save_pair,
    save_training_file, write_atomic,
};
#[cfg(feature = "std")]
pub use rust::rust_source;
#[cfg(feature = "std")]
pub use write::{save, save_training, save_with_source};

/// Bytes at an address that is a multiple of 16, so that every tensor of an embedded file
/// starts 4-aligned:
///
/// ```
/// use firmnet::format::Aligned;
/// # const BLOB: [u8; 8] = *b"FNET\x02\x00\x00\x00";
/// // In firmware: `&Aligned(*include_bytes!("model_int8.fnet"))`.
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
