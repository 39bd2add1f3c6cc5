//! Version 1 files (feature `std`): read into a network of version 2's types, to save
//! again with [`save`](super::save).
//!
//! Version 1 stored float networks with 2-dimensional tensors and no attributes, and int8
//! dense layers (`qdense`) with eight tensors (weights, biases, multipliers, shifts,
//! weight scales, and the scales, zero points and clamp bounds as small tensors). A
//! version 2 reader refuses them with [`ErrorCode::Version1`](super::ErrorCode::Version1);
//! [`upgrade`] reads one into a network value, whose attributes the file did not store
//! (a batch normalization's ε and momentum, a dropout rate) stay as the value has them:
//!
//! ```no_run
//! use firmnet::format;
//! use firmnet::models::{FASHION_MLP, FashionMlp};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut net = firmnet::boxed!(FASHION_MLP); // ε, momentum and dropout rates as trained
//! format::v1::upgrade(&std::fs::read("model.fnet")?, &mut *net)?;
//! format::save_file("model.v2.fnet", &*net)?;
//! # Ok(())
//! # }
//! ```
//!
//! `cargo run --release --features std --example upgrade_v1 -- FILE…` does this for the main job's files.

use std::fmt;
use std::string::String;

use super::crc::crc32;
use crate::spec::{Attr, Describe, Dtype, TensorMut};

/// Why a version 1 file could not be read into the network.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum V1Error {
    /// Not a version 1 file, or damaged (the reason in words).
    Invalid(&'static str),
    /// The file's layers are not the network's.
    Layers {
        /// What differs.
        reason: String,
    },
    /// A tensor the network needs is missing or of another size or type.
    Tensor {
        /// Its layer.
        layer: usize,
        /// Its name.
        name: &'static str,
    },
    /// The network cannot take the values (a view borrowing a file).
    Unwritable,
}

impl fmt::Display for V1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            V1Error::Invalid(reason) => write!(f, "not a readable version 1 file: {reason}"),
            V1Error::Layers { reason } => {
                write!(f, "the version 1 file is another network: {reason}")
            }
            V1Error::Tensor { layer, name } => write!(
                f,
                "layer {layer}: the version 1 file has no usable tensor `{name}`"
            ),
            V1Error::Unwritable => {
                f.write_str("the network borrows its arrays and cannot be loaded into")
            }
        }
    }
}

impl std::error::Error for V1Error {}

struct Tensor<'a> {
    section: u8,
    dtype: u8,
    layer: usize,
    name: &'a str,
    data: &'a [u8],
}

struct V1<'a> {
    layers: std::vec::Vec<(&'a str, usize, usize)>,
    tensors: std::vec::Vec<Tensor<'a>>,
}

fn u32_at(b: &[u8], at: usize) -> Result<usize, V1Error> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
        .ok_or(V1Error::Invalid("a record runs past the end"))
}

fn name_at(b: &[u8], at: usize, n: usize) -> Result<(&str, usize), V1Error> {
    let raw = b
        .get(at..at + n)
        .ok_or(V1Error::Invalid("a name runs past the end"))?;
    let s = core::str::from_utf8(raw).map_err(|_| V1Error::Invalid("a name is not text"))?;
    Ok((s, at + n.div_ceil(4) * 4))
}

fn parse(bytes: &[u8]) -> Result<V1<'_>, V1Error> {
    if bytes.get(..4) != Some(b"FNET") || bytes.get(4..6) != Some(&[1, 0]) {
        return Err(V1Error::Invalid(
            "it does not start with FNET and version 1",
        ));
    }
    if bytes.len() < 36 || u32_at(bytes, 8)? != bytes.len() {
        return Err(V1Error::Invalid(
            "its length is not the one its header states",
        ));
    }
    let body = bytes.len() - 4;
    if crc32(&bytes[..body]) as usize != u32_at(bytes, body)? {
        return Err(V1Error::Invalid("its checksum does not match"));
    }
    let (layers, scalars, tensors) = (u32_at(bytes, 12)?, u32_at(bytes, 16)?, u32_at(bytes, 20)?);
    let mut at = 32;
    let mut v = V1 {
        layers: std::vec::Vec::new(),
        tensors: std::vec::Vec::new(),
    };
    for _ in 0..layers {
        let (inputs, outputs) = (u32_at(bytes, at)?, u32_at(bytes, at + 4)?);
        let n = usize::from(*bytes.get(at + 8).ok_or(V1Error::Invalid("truncated"))?);
        let (kind, next) = name_at(bytes, at + 12, n)?;
        v.layers.push((kind, inputs, outputs));
        at = next;
    }
    for _ in 0..scalars {
        let code = *bytes.get(at).ok_or(V1Error::Invalid("truncated"))?;
        let n = usize::from(*bytes.get(at + 1).ok_or(V1Error::Invalid("truncated"))?);
        let size = match code {
            1 | 3 => 4,
            2 | 4 => 8,
            5 => 16,
            _ => return Err(V1Error::Invalid("an unknown scalar type")),
        };
        at = name_at(bytes, at + 4, n)?.1 + size;
    }
    for _ in 0..tensors {
        let head = bytes.get(at..at + 4).ok_or(V1Error::Invalid("truncated"))?;
        let (section, dtype, n) = (head[0], head[2], usize::from(head[3]));
        let layer = u32_at(bytes, at + 4)?;
        let elems = u32_at(bytes, at + 8)?.saturating_mul(u32_at(bytes, at + 12)?);
        let meta = u32_at(bytes, at + 16)?;
        let (name, next) = name_at(bytes, at + 20, n)?;
        let size = match dtype {
            1 | 3 => 4,
            2 => 1,
            _ => return Err(V1Error::Invalid("an unknown element type")),
        };
        let start = next + meta;
        let len = elems.saturating_mul(size);
        let data = bytes
            .get(start..start.saturating_add(len))
            .ok_or(V1Error::Invalid("tensor data run past the end"))?;
        v.tensors.push(Tensor {
            section,
            dtype,
            layer,
            name,
            data,
        });
        at = start + len.div_ceil(4) * 4;
    }
    Ok(v)
}

impl<'a> V1<'a> {
    fn tensor(&self, layer: usize, name: &str) -> Option<&Tensor<'a>> {
        self.tensors
            .iter()
            .find(|t| t.layer == layer && t.name == name && t.section <= 2)
    }
    fn words(
        &self,
        layer: usize,
        name: &'static str,
        n: usize,
    ) -> Result<std::vec::Vec<u32>, V1Error> {
        let t = self
            .tensor(layer, name)
            .ok_or(V1Error::Tensor { layer, name })?;
        if t.data.len() != 4 * n {
            return Err(V1Error::Tensor { layer, name });
        }
        Ok(t.data
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

/// Reads the version 1 file `bytes` into `net`: every tensor by layer and name, and for
/// int8 dense layers their quantization and clamp bounds (version 1's `scales`,
/// `zero_points` and `clamp` tensors, now attributes; `weight_scale` is no longer stored).
/// Attributes version 1 did not store keep `net`'s values. Nothing is written unless the
/// whole file fits.
///
/// # Errors
/// [`V1Error`] naming what does not fit.
pub fn upgrade<N: Describe>(bytes: &[u8], net: &mut N) -> Result<(), V1Error> {
    let v = parse(bytes)?;
    if v.layers.len() != N::LAYERS {
        return Err(V1Error::Layers {
            reason: std::format!(
                "{} layers in the file, {} in the network",
                v.layers.len(),
                N::LAYERS
            ),
        });
    }
    for (i, &(kind, inputs, outputs)) in v.layers.iter().enumerate() {
        let spec = N::layer_spec(i).ok_or(V1Error::Invalid("too many layers"))?;
        if kind != spec.kind || inputs != spec.input.len() || outputs != spec.output.len() {
            return Err(V1Error::Layers {
                reason: std::format!(
                    "layer {i} is a {kind} {inputs} -> {outputs} in the file, a {} {} -> {} in the network",
                    spec.kind,
                    spec.input.len(),
                    spec.output.len()
                ),
            });
        }
        for t in spec.tensors {
            let ok = v.tensor(i, t.name).is_some_and(|r| {
                Dtype::from_code(r.dtype) == Some(t.dtype) && r.data.len() == t.bytes()
            });
            if !ok {
                return Err(V1Error::Tensor {
                    layer: i,
                    name: t.name,
                });
            }
        }
        if kind == "qdense" {
            for name in ["scales", "zero_points", "clamp"] {
                v.words(i, name, 2)?;
            }
        }
    }
    for i in 0..N::LAYERS {
        let layer = net.layer_mut(i).ok_or(V1Error::Unwritable)?;
        let spec = layer.spec();
        for (t, s) in spec.tensors.iter().enumerate() {
            let r = v.tensor(i, s.name).ok_or(V1Error::Tensor {
                layer: i,
                name: s.name,
            })?;
            match layer.tensor_mut(t).ok_or(V1Error::Unwritable)? {
                TensorMut::F32(d) => d
                    .iter_mut()
                    .zip(r.data.chunks_exact(4))
                    .for_each(|(d, c)| *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                TensorMut::I32(d) => d
                    .iter_mut()
                    .zip(r.data.chunks_exact(4))
                    .for_each(|(d, c)| *d = i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                TensorMut::I8(d) => d.iter_mut().zip(r.data).for_each(|(d, &b)| *d = b as i8),
            }
        }
        if spec.kind == "qdense" {
            let scales = v.words(i, "scales", 2)?;
            let zero_points = v.words(i, "zero_points", 2)?;
            let clamp = v.words(i, "clamp", 2)?;
            let values = [
                Attr::F32(f32::from_bits(scales[0])),
                Attr::I32(zero_points[0] as i32),
                Attr::F32(f32::from_bits(scales[1])),
                Attr::I32(zero_points[1] as i32),
                Attr::I32(clamp[0] as i32),
                Attr::I32(clamp[1] as i32),
            ];
            for (a, value) in values.into_iter().enumerate() {
                layer.set_attr(a, value);
            }
        }
    }
    Ok(())
}
