//! Import and export of [safetensors](https://github.com/huggingface/safetensors) files,
//! the weight format of PyTorch and Hugging Face (feature `std`).
//!
//! # Names and shapes
//! Tensors are named as the `state_dict` of a PyTorch `nn.Sequential` that lists the same
//! layers in the same order: `"{layer}.{tensor}"`, with `{layer}` the index of the
//! primitive layer (counting activations and dropout, as `nn.Sequential` does) and
//! `{tensor}` PyTorch's name of the tensor:
//!
//! | firmnet layer | firmnet tensor | PyTorch module | key | shape |
//! | --- | --- | --- | --- | --- |
//! | [`Dense<IN, OUT>`](crate::layers::Dense) | `weight` (`OUT × IN`) | `nn.Linear(IN, OUT)` | `{i}.weight` | `[OUT, IN]` |
//! | | `bias` | | `{i}.bias` | `[OUT]` |
//! | [`BatchNorm<N>`](crate::layers::BatchNorm) | `gamma` (γ) | `nn.BatchNorm1d(N)` | `{i}.weight` | `[N]` |
//! | | `beta` (β) | | `{i}.bias` | `[N]` |
//! | | `running_mean` | | `{i}.running_mean` | `[N]` |
//! | | `running_var` | | `{i}.running_var` | `[N]` |
//! | | — | | `{i}.num_batches_tracked` | `[]`, `I64` |
//!
//! PyTorch's `Linear` stores its weight as `[out_features, in_features]`, which is
//! firmnet's row-major `OUT × IN`: no transposition. `BatchNorm1d` computes
//! `γ·(x − μ)/√(σ² + ε) + β` with the unbiased running variance, as firmnet does; both use
//! ε = 1e-5 and momentum 0.1 by default (PyTorch's momentum has the same meaning). Other
//! names — a model wrapped in another module (`"net.0.weight"`), or a PyTorch model whose
//! numbering differs (a leading `nn.Flatten`) — are handled by the `_with` functions
//! ([`import_safetensors_with`], [`import_safetensors_file_with`], [`Export::names`]),
//! which take the naming as a function of layer index and PyTorch tensor name;
//! [`prefixed`]`("net.")` is the naming of a `Sequential` held as `model.net`. When a
//! tensor is missing, the error lists the names the file holds and, when they differ by a
//! prefix, the call that imports them.
//!
//! # The input a network expects
//! Weights alone do not say what to feed them: raw pixels 0–255 or pixels/255, volts or
//! millivolts, standardized or not. An export can say it, in the safetensors
//! `__metadata__` under [`INPUT_KEY`] (`"firmnet.input"`), with [`Export::input`]; the
//! main example's networks, whose input normalization is folded into the first layer
//! (`host::Normalizer::fold_into`), state that they take raw pixel values 0–255 as `f32`.
//! [`metadata`] reads it back; in Python:
//!
//! ```text
//! from safetensors import safe_open
//! with safe_open("model.safetensors", framework="pt") as f:
//!     print(f.metadata()["firmnet.input"])   # what the network expects
//!     state = {k: f.get_tensor(k) for k in f.keys()}
//! model.load_state_dict(state)               # or safetensors.torch.load_file(path)
//! ```
//!
//! # Files of another kind
//! A `torch.save` file (a zip archive, or a pickle before PyTorch 1.6), an `.npy` or
//! `.npz` array or a firmnet `.fnet` file given by mistake is named for what it is
//! ([`SafetensorsError::NotSafetensors`]), with what to do: in PyTorch,
//! `safetensors.torch.save_file(model.state_dict(), "model.safetensors")` writes the file
//! an import reads.
//!
//! # What is checked
//! An import checks every name and shape against the network type before it writes
//! anything: a tensor the network needs but the file lacks, a tensor the network has no
//! place for, a wrong shape, an element type other than `F32`, `F64`, `F16` or `BF16`
//! (the last three are converted: `F16` and `BF16` exactly, `F64` rounded to nearest), a
//! value that breaks its rule (NaN or infinite, a running variance that is not positive)
//! — each is a [`SafetensorsError`] that names the tensor. `num_batches_tracked` is
//! accepted and ignored (firmnet's batch normalization always uses its momentum).
//!
//! An export writes `num_batches_tracked = 0` for each batch normalization so that
//! PyTorch's strict `load_state_dict` accepts the file; PyTorch reads that value only when
//! a `BatchNorm1d` has `momentum=None`.
//!
//! ```
//! # fn main() -> Result<(), firmnet::format::safetensors::SafetensorsError> {
//! use firmnet::prelude::*;
//! use firmnet::format::safetensors::{export_safetensors, import_safetensors};
//!
//! type Mlp = Net![Dense<4, 8>, BatchNorm<8>, Relu<[f32; 8]>, Dense<8, 3>];
//! let mut net: Mlp = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
//! net.init(Init::HeNormal, &mut Rng::new(1));
//! let bytes = export_safetensors(&net)?; // keys 0.weight, 0.bias, 1.weight, …, 3.bias
//!
//! let mut copy: Mlp = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
//! import_safetensors(&bytes, &mut copy)?;
//! assert_eq!(copy, net);
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use ::safetensors::tensor::TensorView;
use ::safetensors::{Dtype as StDtype, SafeTensorError, SafeTensors};

use super::check::check_layer_values;
use super::error::FormatError;
use super::fs::{FileError, format_error, read, write_atomic};
use super::layout::Section;
use super::sniff::sniff;
use crate::layers::{Layer, ParamKind};
use crate::spec::{Dtype, TensorMut, TensorRef, TensorSpec};

/// Why a safetensors file could not be imported or a network exported. Every variant
/// names the tensor's key.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SafetensorsError {
    /// The file cannot be parsed.
    Parse(&'static str),
    /// The file is not safetensors but a file of another known kind — most often a
    /// `torch.save` archive or a pickle given by mistake.
    NotSafetensors {
        /// What it is, in words (`"a PyTorch `torch.save` archive (a zip of pickles)"`…).
        looks_like: &'static str,
    },
    /// The network has a tensor the file lacks.
    Missing {
        /// The key looked for.
        key: String,
        /// Every key the file holds, sorted (the message shows the first few).
        names: Vec<String>,
    },
    /// The file has a tensor the network has no place for.
    Unexpected {
        /// Its key.
        key: String,
    },
    /// Two tensors would have the same key.
    Duplicate {
        /// The key.
        key: String,
    },
    /// A tensor has another shape in the file than in the network.
    Shape {
        /// Its key.
        key: String,
        /// The network's shape.
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
    },
    /// A tensor's element type cannot become `f32`.
    Dtype {
        /// Its key.
        key: String,
        /// Its type, as safetensors names it (`"I64"`, `"U8"`…).
        found: &'static str,
    },
    /// A value breaks its tensor's rule (NaN, a running variance that is not positive).
    Value {
        /// Its key.
        key: String,
        /// Position of the element in the flat tensor.
        index: usize,
        /// The value.
        value: f32,
        /// What is expected, in words.
        expected: &'static str,
    },
    /// The network cannot be exported (a value a reader would refuse, or an int8 layer).
    Network(FormatError),
}

impl fmt::Display for SafetensorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SafetensorsError::Parse(reason) => {
                write!(f, "not a readable safetensors file: {reason}")
            }
            SafetensorsError::NotSafetensors { looks_like } => {
                write!(f, "not a safetensors file: it is {looks_like}; ")?;
                if looks_like.contains("firmnet") {
                    write!(f, "load it with `format::load_file`")
                } else if looks_like.contains("gzip") {
                    write!(f, "decompress it first")
                } else {
                    write!(
                        f,
                        "save the weights in PyTorch with \
                         `safetensors.torch.save_file(model.state_dict(), path)` and import \
                         that file"
                    )
                }
            }
            SafetensorsError::Missing { key, names } => missing(f, key, names),
            SafetensorsError::Unexpected { key } => {
                write!(
                    f,
                    "the file has a tensor `{key}` the network has no place for"
                )
            }
            SafetensorsError::Duplicate { key } => write!(f, "two tensors would be named `{key}`"),
            SafetensorsError::Shape {
                key,
                expected,
                found,
            } => write!(
                f,
                "tensor `{key}` has shape {found:?} in the file, the network expects {expected:?}"
            ),
            SafetensorsError::Dtype { key, found } => {
                write!(f, "tensor `{key}` holds {found}, which cannot become f32")
            }
            SafetensorsError::Value {
                key,
                index,
                value,
                expected,
            } => write!(
                f,
                "tensor `{key}`: element {index} is {value}, not {expected}"
            ),
            SafetensorsError::Network(e) => write!(f, "the network cannot be exported: {e}"),
        }
    }
}

impl std::error::Error for SafetensorsError {}

/// How many of a file's keys a [`SafetensorsError::Missing`] message shows.
const NAMES_SHOWN: usize = 8;

/// The message of [`SafetensorsError::Missing`]: the key, the keys the file holds, and
/// the naming option that would find it.
fn missing(f: &mut fmt::Formatter<'_>, key: &str, names: &[String]) -> fmt::Result {
    write!(f, "the file has no tensor `{key}`; ")?;
    if names.is_empty() {
        return write!(f, "it holds no tensors");
    }
    write!(f, "it holds ")?;
    for (i, n) in names.iter().take(NAMES_SHOWN).enumerate() {
        write!(f, "{}`{n}`", if i == 0 { "" } else { ", " })?;
    }
    if names.len() > NAMES_SHOWN {
        write!(f, ", … ({} tensors in all)", names.len())?;
    }
    let suffix = std::format!(".{key}");
    match names.iter().find_map(|n| {
        n.strip_suffix(&suffix[1..])
            .filter(|_| n.ends_with(&suffix))
    }) {
        Some(prefix) => write!(
            f,
            "; its names have the prefix `{prefix}`: import with \
             `import_safetensors_with(bytes, &mut net, prefixed(\"{prefix}\"))`"
        ),
        None => write!(
            f,
            "; for other names, import with `import_safetensors_with(bytes, &mut net, name)`, \
             where `name(layer, tensor)` gives the file's key (see `prefixed`)"
        ),
    }
}
/// The key of a tensor in an `nn.Sequential`'s `state_dict`: `"{layer}.{tensor}"`.
pub fn pytorch_name(layer: usize, tensor: &str) -> String {
    std::format!("{layer}.{tensor}")
}

/// The naming of an `nn.Sequential` held inside another module: `"{prefix}{layer}.{tensor}"`
/// (`prefixed("net.")` names `net.0.weight`, …), for the `_with` functions.
pub fn prefixed(prefix: &str) -> impl Fn(usize, &str) -> String + '_ {
    move |layer, tensor| std::format!("{prefix}{layer}.{tensor}")
}

/// PyTorch's name of a tensor of this kind: `weight` for weights and γ, `bias` for biases
/// and β, `running_mean`, `running_var`.
pub const fn pytorch_tensor_name(kind: ParamKind) -> &'static str {
    match kind {
        ParamKind::Weight | ParamKind::Scale => "weight",
        ParamKind::Bias | ParamKind::Shift => "bias",
        ParamKind::RunningMean => "running_mean",
        ParamKind::RunningVar => "running_var",
        ParamKind::Multiplier => "multiplier",
        ParamKind::Exponent => "shift",
        ParamKind::Table => "table",
    }
}

/// Every tensor of `L` a safetensors file holds: `(layer, index in the layer, spec)`.
fn tensors<L: Layer>() -> impl Iterator<Item = (usize, usize, &'static TensorSpec)> {
    (0..L::LAYERS).flat_map(|i| {
        L::layer_spec(i)
            .map_or(&[][..], |s| s.tensors)
            .iter()
            .enumerate()
            .map(move |(t, s)| (i, t, s))
    })
}

/// Layers whose `num_batches_tracked` PyTorch stores: batch normalizations.
fn batch_norm_layers<L: Layer>() -> impl Iterator<Item = usize> {
    (0..L::LAYERS).filter(|&i| L::layer_spec(i).is_some_and(|s| s.kind == "batch_norm"))
}

/// The `__metadata__` key under which an export describes the network's input
/// ([`Export::input`]).
pub const INPUT_KEY: &str = "firmnet.input";

/// The settings of an export: the tensors' names, and a description of the input the
/// network expects, stored in the file's `__metadata__` under [`INPUT_KEY`] so that
/// whoever loads the weights knows what to feed them (see the [module docs](self)).
///
/// ```
/// # fn main() -> Result<(), firmnet::format::safetensors::SafetensorsError> {
/// use firmnet::prelude::*;
/// use firmnet::format::safetensors::{Export, INPUT_KEY, metadata, prefixed};
///
/// let net: Net![Dense<2, 1>] = net![Dense::ZERO];
/// let bytes = Export::new()
///     .names(prefixed("net."))
///     .input("two raw sensor readings, in volts")
///     .to_bytes(&net)?;
/// assert_eq!(metadata(&bytes)?[INPUT_KEY], "two raw sensor readings, in volts");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Export<N = fn(usize, &str) -> String> {
    name: N,
    input: Option<String>,
}

impl Export {
    /// PyTorch's `nn.Sequential` names ([`pytorch_name`]), no input description.
    pub fn new() -> Self {
        Export {
            name: pytorch_name,
            input: None,
        }
    }
}

impl Default for Export {
    fn default() -> Self {
        Export::new()
    }
}

impl<N: Fn(usize, &str) -> String> Export<N> {
    /// Describes the input the network expects (its units, range and preprocessing, e.g.
    /// `"raw pixels 0–255 as f32"`), stored under [`INPUT_KEY`].
    pub fn input(mut self, description: impl Into<String>) -> Self {
        self.input = Some(description.into());
        self
    }

    /// Names each tensor `name(layer, pytorch_tensor_name)` instead of `"{layer}.{tensor}"`
    /// (e.g. [`prefixed`]).
    pub fn names<M: Fn(usize, &str) -> String>(self, name: M) -> Export<M> {
        Export {
            name,
            input: self.input,
        }
    }

    /// The safetensors file of `net`.
    ///
    /// # Errors
    /// [`SafetensorsError::Network`] for a value an import would refuse;
    /// [`SafetensorsError::Duplicate`] if two tensors get the same key.
    pub fn to_bytes<L: Layer>(&self, net: &L) -> Result<Vec<u8>, SafetensorsError> {
        let name = &self.name;
        let mut entries: Vec<(String, StDtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for i in 0..L::LAYERS {
            let layer = net
                .layer(i)
                .ok_or(SafetensorsError::Network(FormatError::new(
                    super::ErrorCode::LayerCount,
                )))?;
            let _bits = check_layer_values(i, layer, Section::Network)
                .map_err(SafetensorsError::Network)?;
            for (t, spec) in layer.spec().tensors.iter().enumerate() {
                let Some(TensorRef::F32(data)) = layer.tensor(t) else {
                    return Err(SafetensorsError::Network(
                        FormatError::new(super::ErrorCode::Dtype)
                            .at(i)
                            .named(spec.name),
                    ));
                };
                let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
                entries.push((
                    name(i, pytorch_tensor_name(spec.kind)),
                    StDtype::F32,
                    spec.shape.dims().to_vec(),
                    bytes,
                ));
            }
        }
        for layer in batch_norm_layers::<L>() {
            entries.push((
                name(layer, "num_batches_tracked"),
                StDtype::I64,
                Vec::new(),
                0i64.to_le_bytes().to_vec(),
            ));
        }
        let mut seen = HashSet::new();
        if let Some(dup) = entries.iter().find(|e| !seen.insert(e.0.as_str())) {
            return Err(SafetensorsError::Duplicate { key: dup.0.clone() });
        }
        let mut views = Vec::with_capacity(entries.len());
        for (key, dtype, shape, bytes) in &entries {
            let view = TensorView::new(*dtype, shape.clone(), bytes).map_err(st_error)?;
            views.push((key.as_str(), view));
        }
        let mut metadata = HashMap::from([(String::from("format"), String::from("pt"))]);
        if let Some(input) = &self.input {
            metadata.insert(INPUT_KEY.into(), input.clone());
        }
        ::safetensors::serialize(views, Some(metadata)).map_err(st_error)
    }

    /// Writes the safetensors file of `net` to `path`, atomically.
    ///
    /// # Errors
    /// [`FileError::Io`], or [`FileError::Format`] for a value an import would refuse.
    pub fn to_file<L: Layer>(&self, path: impl AsRef<Path>, net: &L) -> Result<(), FileError> {
        let path = path.as_ref();
        let bytes = self.to_bytes(net).map_err(|e| match e {
            SafetensorsError::Network(e) => format_error(path)(e),
            other => FileError::Io {
                path: path.to_path_buf(),
                action: "export",
                source: std::io::Error::other(other.to_string()),
            },
        })?;
        write_atomic(path, &bytes)
    }
}

/// Exports the parameters and statistics of `net` with PyTorch's `nn.Sequential` names
/// (see the [module docs](self)); [`Export`] adds an input description or other names.
///
/// # Errors
/// [`SafetensorsError::Network`] for a value an import would refuse.
pub fn export_safetensors<L: Layer>(net: &L) -> Result<Vec<u8>, SafetensorsError> {
    Export::new().to_bytes(net)
}

/// Exports with the key of each tensor given by `name(layer, pytorch_tensor_name)`.
///
/// # Errors
/// As [`export_safetensors`], and [`SafetensorsError::Duplicate`] if two tensors get the
/// same key.
pub fn export_safetensors_with<L: Layer>(
    net: &L,
    name: impl Fn(usize, &str) -> String,
) -> Result<Vec<u8>, SafetensorsError> {
    Export::new().names(name).to_bytes(net)
}

/// The `__metadata__` of a safetensors file (empty if it has none): with an export's
/// input description under [`INPUT_KEY`], and `"format": "pt"`.
///
/// # Errors
/// [`SafetensorsError::Parse`] or [`SafetensorsError::NotSafetensors`] if the file cannot
/// be parsed.
pub fn metadata(bytes: &[u8]) -> Result<BTreeMap<String, String>, SafetensorsError> {
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| parse_error(bytes, e))?;
    Ok(meta
        .metadata()
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

/// Parses a safetensors file; a file of another known kind is named for what it is.
fn parse(bytes: &[u8]) -> Result<SafeTensors<'_>, SafetensorsError> {
    SafeTensors::deserialize(bytes).map_err(|e| parse_error(bytes, e))
}

/// Why `bytes` did not parse: another known format if its magic says so, else the
/// safetensors reader's reason.
fn parse_error(bytes: &[u8], e: SafeTensorError) -> SafetensorsError {
    match sniff(bytes) {
        Some(kind) if kind != "a safetensors file" => {
            SafetensorsError::NotSafetensors { looks_like: kind }
        }
        _ => st_error(e),
    }
}

/// Imports a safetensors file with PyTorch's `nn.Sequential` names into `net`, after
/// checking every name, type, shape and value (see the [module docs](self)). On error
/// `net` is unchanged.
///
/// # Errors
/// [`SafetensorsError::NotSafetensors`] for a `torch.save`, pickle, NumPy or firmnet file;
/// [`SafetensorsError::Parse`] if the file cannot be parsed otherwise;
/// [`SafetensorsError::Missing`] (listing the file's names), [`SafetensorsError::Dtype`], [`SafetensorsError::Shape`]
/// or [`SafetensorsError::Value`] for the first tensor of the network that the file does not
/// provide correctly; then [`SafetensorsError::Unexpected`] for a tensor of the file the
/// network has no place for. Never panics.
pub fn import_safetensors<L: Layer>(bytes: &[u8], net: &mut L) -> Result<(), SafetensorsError> {
    import_safetensors_with(bytes, net, pytorch_name)
}

/// Imports with the key of each tensor given by `name(layer, pytorch_tensor_name)`.
///
/// # Errors
/// As [`import_safetensors`].
pub fn import_safetensors_with<L: Layer>(
    bytes: &[u8],
    net: &mut L,
    name: impl Fn(usize, &str) -> String,
) -> Result<(), SafetensorsError> {
    let file = parse(bytes)?;
    let mut known = HashSet::new();
    let mut values = Vec::new();
    for (i, _, spec) in tensors::<L>() {
        let key = name(i, pytorch_tensor_name(spec.kind));
        let Ok(view) = file.tensor(&key) else {
            let mut names: Vec<String> = file.names().into_iter().map(String::from).collect();
            names.sort_unstable();
            return Err(SafetensorsError::Missing { key, names });
        };
        let expected = spec.shape.dims();
        if view.shape() != expected {
            return Err(SafetensorsError::Shape {
                key,
                expected: expected.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        let decoded = decode(&view).ok_or(SafetensorsError::Dtype {
            key: key.clone(),
            found: dtype_name(view.dtype()),
        })?;
        if spec.dtype != Dtype::F32 {
            return Err(SafetensorsError::Dtype {
                key,
                found: "floats where the network has integers",
            });
        }
        if let Some(index) = decoded.iter().position(|&v| !spec.rule.allows_f32(v)) {
            return Err(SafetensorsError::Value {
                key,
                index,
                value: decoded[index],
                expected: spec.rule.expectation(),
            });
        }
        values.push(decoded);
        known.insert(key);
    }
    for layer in batch_norm_layers::<L>() {
        known.insert(name(layer, "num_batches_tracked"));
    }
    let mut names = file.names();
    names.sort_unstable();
    if let Some(extra) = names.into_iter().find(|n| !known.contains(*n)) {
        return Err(SafetensorsError::Unexpected {
            key: extra.to_string(),
        });
    }
    for ((i, t, _), v) in tensors::<L>().zip(values) {
        if let Some(TensorMut::F32(out)) = net.layer_mut(i).and_then(|l| l.tensor_mut(t)) {
            out.copy_from_slice(&v);
        }
    }
    Ok(())
}

/// Exports `net` to a safetensors file at `path` ([`export_safetensors`], written
/// atomically; [`Export::to_file`] adds an input description).
///
/// # Errors
/// [`FileError::Io`], or [`FileError::Format`] for a value an import would refuse.
pub fn export_safetensors_file<L: Layer>(path: impl AsRef<Path>, net: &L) -> Result<(), FileError> {
    Export::new().to_file(path, net)
}

/// Imports the safetensors file at `path` into `net` ([`import_safetensors`]); on error
/// `net` is unchanged.
///
/// # Errors
/// [`FileError::Io`] when the file cannot be read or is refused (the reason is the
/// [`SafetensorsError`], as the I/O error's inner error).
pub fn import_safetensors_file<L: Layer>(
    path: impl AsRef<Path>,
    net: &mut L,
) -> Result<(), FileError> {
    import_safetensors_file_with(path, net, pytorch_name)
}

/// Imports the safetensors file at `path` with the key of each tensor given by
/// `name(layer, pytorch_tensor_name)` (e.g. [`prefixed`]); on error `net` is unchanged.
///
/// # Errors
/// As [`import_safetensors_file`].
pub fn import_safetensors_file_with<L: Layer>(
    path: impl AsRef<Path>,
    net: &mut L,
    name: impl Fn(usize, &str) -> String,
) -> Result<(), FileError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    import_safetensors_with(&bytes, net, name).map_err(|e| FileError::Io {
        path: path.to_path_buf(),
        action: "import",
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

/// The elements of a floating-point tensor as `f32`; `None` for other types.
fn decode(view: &TensorView<'_>) -> Option<Vec<f32>> {
    let data = view.data();
    let v = match view.dtype() {
        StDtype::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        StDtype::F64 => data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32)
            .collect(),
        StDtype::F16 => data
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        StDtype::BF16 => data
            .chunks_exact(2)
            .map(|c| bf16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        _ => return None,
    };
    Some(v)
}

/// IEEE 754 binary16 to binary32, exactly (every half is a float).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1F);
    let man = u32::from(h & 0x3FF);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalize the mantissa.
            let mut e = 127 - 15 + 1;
            let mut m = man;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((m & 0x3FF) << 13)
        }
        (0x1F, _) => sign | 0x7F80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// bfloat16 to binary32, exactly (bfloat16 is the upper half of a float).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

fn dtype_name(dtype: StDtype) -> &'static str {
    match dtype {
        StDtype::BOOL => "BOOL",
        StDtype::U8 => "U8",
        StDtype::I8 => "I8",
        StDtype::I16 => "I16",
        StDtype::U16 => "U16",
        StDtype::I32 => "I32",
        StDtype::U32 => "U32",
        StDtype::I64 => "I64",
        StDtype::U64 => "U64",
        StDtype::C64 => "C64",
        StDtype::F4 => "F4",
        StDtype::F8_E4M3 | StDtype::F8_E5M2 | StDtype::F8_E8M0 => "F8",
        StDtype::F16 => "F16",
        StDtype::BF16 => "BF16",
        StDtype::F32 => "F32",
        StDtype::F64 => "F64",
        _ => "an unsupported type",
    }
}

fn st_error(e: SafeTensorError) -> SafetensorsError {
    use SafeTensorError as E;
    let reason = match e {
        E::InvalidHeader(_) => "the header is not UTF-8 text",
        E::InvalidHeaderDeserialization(_) | E::JsonError(_) => {
            "the header is not valid JSON of the safetensors layout"
        }
        E::HeaderTooLarge => "the header is larger than 100 MB",
        E::HeaderTooSmall => "the file is shorter than its 8-byte header length",
        E::InvalidHeaderLength => "the header length runs past the end of the file",
        E::TensorInvalidInfo | E::InvalidTensorView(..) => {
            "a tensor's byte range does not match its shape and type"
        }
        E::InvalidOffset(_) => "the tensors' data offsets are not contiguous",
        E::MetadataIncompleteBuffer => {
            "the tensors do not cover the data exactly (truncated, or bytes left over)"
        }
        E::ValidationOverflow => "a tensor's size overflows",
        E::MisalignedSlice => "a tensor of a sub-byte type ends inside a byte",
        _ => "the file cannot be read",
    };
    SafetensorsError::Parse(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_values() {
        assert_eq!(f16_to_f32(0x3C00), 1.0);
        assert_eq!(f16_to_f32(0xC000), -2.0);
        assert_eq!(f16_to_f32(0x7BFF), 65504.0);
        assert_eq!(f16_to_f32(0x0400), 2f32.powi(-14));
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03FF), 1023.0 * 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f16_to_f32(0x7C00), f32::INFINITY);
        assert!(f16_to_f32(0x7E00).is_nan());
        assert_eq!(bf16_to_f32(0x3F80), 1.0);
        assert_eq!(bf16_to_f32(0xC0A0), -5.0);
        // Every finite half, as a float, is the half's value: compare with the definition.
        for h in 0..=u16::MAX {
            let exp = i32::from((h >> 10) & 0x1F);
            if exp == 0x1F {
                continue;
            }
            let man = f64::from(h & 0x3FF);
            let mag = if exp == 0 {
                man * 2f64.powi(-24)
            } else {
                (1.0 + man / 1024.0) * 2f64.powi(exp - 15)
            };
            let want = if h >> 15 == 1 { -mag } else { mag };
            assert_eq!(f64::from(f16_to_f32(h)), want, "{h:#06x}");
        }
    }
}
