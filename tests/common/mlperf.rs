//! The MLPerf Tiny fixtures of `tests/mlperf_tiny/`: the four int8 models, the inputs they
//! are checked on, and the outputs TensorFlow Lite Micro's interpreter gives for them.
//!
//! The inputs are not stored: [`inputs`] regenerates them by the rule `reference.py` uses
//! (six structured inputs, then splitmix64 bytes), and the header of each `.out` file holds a
//! checksum of the inputs the script ran, so a drift between the two rules shows up.
//! File formats are described in `tests/mlperf_tiny/README.md`.
#![allow(dead_code)]

use std::path::PathBuf;

/// Inputs per model, structured ones included.
pub const COUNT: usize = 256;
/// Structured inputs before the random ones: all 0, all −128, all 127, ramp, reverse ramp,
/// alternating −128/127.
pub const STRUCTURED: usize = 6;
/// First eight bytes of a `.out` file.
pub const OUT_MAGIC: &[u8; 8] = b"FNTFLMO1";
/// First eight bytes of a `.layers` file.
pub const LAYERS_MAGIC: &[u8; 8] = b"FNTFLML1";
/// Bytes before the outputs of a `.out` file: magic, count, input length, output length,
/// input checksum.
pub const OUT_HEADER: usize = 8 + 4 + 4 + 4 + 8;

/// One of the four MLPerf Tiny reference models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// Anomaly detection: fully connected autoencoder, 1×640 → 1×640.
    Ad,
    /// Keyword spotting: DS-CNN, 1×49×10×1 → 1×12.
    Kws,
    /// Image classification: ResNet-8, 1×32×32×3 → 1×10.
    Ic,
    /// Visual wake words: MobileNetV1 0.25×, 1×96×96×3 → 1×2.
    Vww,
}

impl Model {
    /// The four models in model-index order (the index seeds the random inputs).
    pub const ALL: [Model; 4] = [Model::Ad, Model::Kws, Model::Ic, Model::Vww];

    /// Position in [`Model::ALL`]; the high half of every random input's seed.
    pub fn index(self) -> u64 {
        match self {
            Model::Ad => 0,
            Model::Kws => 1,
            Model::Ic => 2,
            Model::Vww => 3,
        }
    }

    /// Short name: the stem of its files in `reference/`.
    pub fn name(self) -> &'static str {
        match self {
            Model::Ad => "ad",
            Model::Kws => "kws",
            Model::Ic => "ic",
            Model::Vww => "vww",
        }
    }

    /// File name of the `.tflite` model, as in the MLCommons repository.
    pub fn file(self) -> &'static str {
        match self {
            Model::Ad => "ad01_int8.tflite",
            Model::Kws => "kws_ref_model.tflite",
            Model::Ic => "pretrainedResnet_quant.tflite",
            Model::Vww => "vww_96_int8.tflite",
        }
    }

    /// Input shape (batch first), as stated in the fixtures' README.
    pub fn input_shape(self) -> &'static [usize] {
        match self {
            Model::Ad => &[1, 640],
            Model::Kws => &[1, 49, 10, 1],
            Model::Ic => &[1, 32, 32, 3],
            Model::Vww => &[1, 96, 96, 3],
        }
    }

    /// Output shape (batch first), as stated in the fixtures' README.
    pub fn output_shape(self) -> &'static [usize] {
        match self {
            Model::Ad => &[1, 640],
            Model::Kws => &[1, 12],
            Model::Ic => &[1, 10],
            Model::Vww => &[1, 2],
        }
    }

    /// Input values per inference.
    pub fn input_len(self) -> usize {
        self.input_shape().iter().product()
    }

    /// Output values per inference.
    pub fn output_len(self) -> usize {
        self.output_shape().iter().product()
    }

    /// Path of the `.tflite` file.
    pub fn tflite_path(self) -> PathBuf {
        dir().join(self.file())
    }

    /// Bytes of the `.tflite` file.
    pub fn tflite(self) -> Vec<u8> {
        read(self.tflite_path())
    }
}

/// `tests/mlperf_tiny/`.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mlperf_tiny")
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One step of splitmix64: advances `state` and returns the next output.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Input `k` of `model`: 0 all 0, 1 all −128, 2 all 127, 3 the ramp `(i mod 256) − 128`,
/// 4 its reverse `127 − (i mod 256)`, 5 alternating −128/127; from 6 on, one splitmix64 output
/// per value, seeded with `index · 2³² + k`, its low 8 bits read as an `i8`.
pub fn input(model: Model, k: usize) -> Vec<i8> {
    let n = model.input_len();
    match k {
        0 => vec![0; n],
        1 => vec![-128; n],
        2 => vec![127; n],
        3 => (0..n).map(|i| ((i % 256) as i32 - 128) as i8).collect(),
        4 => (0..n).map(|i| (127 - (i % 256) as i32) as i8).collect(),
        5 => (0..n)
            .map(|i| if i % 2 == 0 { -128 } else { 127 })
            .collect(),
        _ => {
            let mut state = (model.index() << 32) + k as u64;
            (0..n).map(|_| splitmix64(&mut state) as u8 as i8).collect()
        }
    }
}

/// The [`COUNT`] inputs of `model` the references were computed on, in order.
pub fn inputs(model: Model) -> Vec<Vec<i8>> {
    (0..COUNT).map(|k| input(model, k)).collect()
}

/// FNV-1a 64 of the inputs concatenated as bytes: the checksum a `.out` header holds.
pub fn checksum(inputs: &[Vec<i8>]) -> u64 {
    inputs
        .iter()
        .flatten()
        .fold(0xCBF2_9CE4_8422_2325, |h, &b| {
            (h ^ u64::from(b as u8)).wrapping_mul(0x0000_0100_0000_01B3)
        })
}

/// A parsed `.out` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// Input length the script ran the model on.
    pub input_len: usize,
    /// Output length per inference.
    pub output_len: usize,
    /// [`checksum`] of the script's inputs.
    pub input_checksum: u64,
    /// TensorFlow Lite Micro's output for each input, in input order.
    pub outputs: Vec<Vec<i8>>,
}

fn u32_at(bytes: &[u8], at: usize) -> Result<usize, String> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| format!("truncated at byte {at}"))
}

/// Parses a `.out` file; rejects a wrong magic and a length that disagrees with the header.
pub fn parse_reference(bytes: &[u8]) -> Result<Reference, String> {
    if bytes.len() < OUT_HEADER || &bytes[..8] != OUT_MAGIC {
        return Err("not a reference output file (magic or header)".into());
    }
    let count = u32_at(bytes, 8)?;
    let input_len = u32_at(bytes, 12)?;
    let output_len = u32_at(bytes, 16)?;
    let mut sum = [0; 8];
    sum.copy_from_slice(&bytes[20..28]);
    let body = &bytes[OUT_HEADER..];
    if output_len == 0 || Some(body.len()) != count.checked_mul(output_len) {
        return Err(format!(
            "{} output bytes for {count} outputs of {output_len}",
            body.len()
        ));
    }
    Ok(Reference {
        input_len,
        output_len,
        input_checksum: u64::from_le_bytes(sum),
        outputs: body
            .chunks(output_len)
            .map(|c| c.iter().map(|&b| b as i8).collect())
            .collect(),
    })
}

/// The parsed `reference/<model>.out`.
pub fn reference(model: Model) -> Reference {
    let path = dir()
        .join("reference")
        .join(format!("{}.out", model.name()));
    parse_reference(&read(path.clone())).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// TensorFlow Lite Micro's outputs for [`inputs`]`(model)`, one per input, in order.
pub fn reference_outputs(model: Model) -> Vec<Vec<i8>> {
    reference(model).outputs
}

/// One operator output of input 0, from `reference/<model>.layers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerTensor {
    /// Index of the tensor in the model's subgraph.
    pub tensor: usize,
    /// Index of the operator that writes it.
    pub operator: usize,
    /// Its values, in the tensor's row-major (NHWC) order.
    pub data: Vec<i8>,
}

/// Parses a `.layers` file into (input number, tensors in execution order).
pub fn parse_layers(bytes: &[u8]) -> Result<(usize, Vec<LayerTensor>), String> {
    if bytes.len() < 16 || &bytes[..8] != LAYERS_MAGIC {
        return Err("not a layer file (magic or header)".into());
    }
    let input = u32_at(bytes, 8)?;
    let count = u32_at(bytes, 12)?;
    let mut at = 16;
    let mut tensors = Vec::new();
    for _ in 0..count {
        let tensor = u32_at(bytes, at)?;
        let operator = u32_at(bytes, at + 4)?;
        let len = u32_at(bytes, at + 8)?;
        let data = bytes
            .get(at + 12..)
            .and_then(|rest| rest.get(..len))
            .ok_or_else(|| format!("tensor {tensor} truncated"))?;
        tensors.push(LayerTensor {
            tensor,
            operator,
            data: data.iter().map(|&b| b as i8).collect(),
        });
        at += 12 + len;
    }
    if at != bytes.len() {
        return Err(format!("{} bytes after the last tensor", bytes.len() - at));
    }
    Ok((input, tensors))
}

/// Every operator's output tensor for input 0 of `model`, in execution order: where an
/// importer's first differing tensor names the layer that diverges.
pub fn reference_layers(model: Model) -> Vec<LayerTensor> {
    let path = dir()
        .join("reference")
        .join(format!("{}.layers", model.name()));
    let (input, tensors) =
        parse_layers(&read(path.clone())).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(input, 0, "{}: layers of input {input}", path.display());
    tensors
}

/// TensorFlow Lite Micro's tensor arena for `model` in bytes, from `reference/arena.txt`.
pub fn tflm_arena_bytes(model: Model) -> usize {
    let text = String::from_utf8(read(dir().join("reference/arena.txt"))).expect("UTF-8");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[0] == model.name()).then(|| f[2].parse().expect("arena bytes"))
        })
        .unwrap_or_else(|| panic!("no arena for {} in arena.txt", model.name()))
}
