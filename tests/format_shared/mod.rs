//! Helpers shared by the weight-format tests (`tests/format*.rs`): the networks, seeded
//! random values that obey the format's rules, an independent walker of the version 2
//! byte layout (written from the tables in `src/format/mod.rs`, not from the reader) to
//! find the bytes a test damages, and a writer of version 1 files (from the tables of the
//! version 1 layout) for the converter.
#![allow(dead_code)]

use firmnet::format::{self, File, FormatError, Value};
use firmnet::layers::{ActivityL1, GaussianNoise};
use firmnet::prelude::*;
use firmnet::quant::{Int8, QParams};
use firmnet::spec::{Attr, LayerData, Rule, TensorMut, TensorRef};
use firmnet::train::{TrainBuffers, classification_step};

// ---------------------------------------------------------------------------------------
// Networks

/// A small Fashion-MNIST-like classifier: dense, batch normalization, ReLU, dropout, dense.
pub type Mlp = Net![
    Dense<3, 4>,
    BatchNorm<4>,
    Relu<[f32; 4]>,
    Dropout<[f32; 4]>,
    Dense<4, 2>
];
pub type MlpGrad = <Mlp as Layer>::Grad;

/// [`Mlp`] before training, dropout 0.25.
pub fn mlp() -> Mlp {
    net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dropout::new(0.25),
        Dense::ZERO
    ]
}

/// Every float layer kind, each attribute away from its default.
pub type Zoo = Net![
    Dense<3, 5>,
    BatchNorm<5>,
    LeakyRelu<[f32; 5]>,
    Dropout<[f32; 5]>,
    Dense<5, 4>,
    Tanh<[f32; 4]>,
    GaussianNoise<[f32; 4]>,
    Dense<4, 4>,
    Sigmoid<[f32; 4]>,
    ActivityL1<[f32; 4]>,
    Dense<4, 3>,
    Relu6<[f32; 3]>,
    Dense<3, 2>
];

/// The int8 twin of [`Zoo`], as the compiler derives it.
pub type ZooQ = Int8<Zoo>;

/// ε, momentum, dropout rate, leaky slope, noise σ, activity λ of [`zoo`].
pub const ZOO_EPS: f32 = 1e-3;
pub const ZOO_MOMENTUM: f32 = 0.25;
pub const ZOO_RATE: f32 = 0.3;
pub const ZOO_SLOPE: f32 = 0.2;
pub const ZOO_SIGMA: f32 = 0.05;
pub const ZOO_LAMBDA: f32 = 1e-4;

/// [`Zoo`] with zero weights and identity batch normalization, attributes as the constants.
pub fn zoo_zero() -> Zoo {
    net![
        Dense::ZERO,
        BatchNorm::from_parts(
            [1.0; 5],
            [0.0; 5],
            [0.0; 5],
            [1.0; 5],
            ZOO_EPS,
            ZOO_MOMENTUM
        ),
        LeakyRelu::new(ZOO_SLOPE),
        Dropout::new(ZOO_RATE),
        Dense::ZERO,
        Tanh::DEFAULT,
        GaussianNoise::new(ZOO_SIGMA),
        Dense::ZERO,
        Sigmoid::DEFAULT,
        ActivityL1::new(ZOO_LAMBDA),
        Dense::ZERO,
        Relu6::DEFAULT,
        Dense::ZERO
    ]
}

/// [`Zoo`] with every tensor random (seeded).
pub fn zoo(seed: u64) -> Zoo {
    let mut net = zoo_zero();
    randomize_float(&mut net, seed);
    net
}

/// Samples per training step.
pub const BATCH: usize = 8;

/// The batch of training step `step`: deterministic, different for every step.
pub fn batch(step: u64) -> ([[f32; 3]; BATCH], [u16; BATCH]) {
    let mut rng = Rng::new(1000 + step);
    let mut x = [[0.0; 3]; BATCH];
    let mut y = [0u16; BATCH];
    for (xi, yi) in x.iter_mut().zip(y.iter_mut()) {
        *xi = [rng.normal(), rng.normal(), rng.normal()];
        *yi = u16::from(xi[0] + 0.5 * xi[1] > 0.0);
    }
    (x, y)
}

/// `steps` training steps of [`Mlp`] from step `from`.
pub fn train<O: Optimizer<MlpGrad>>(
    net: &mut Mlp,
    opt: &mut O,
    ctx: &mut Context,
    from: u64,
    steps: u64,
) {
    let mut buf: Box<TrainBuffers<Mlp, BATCH>> = firmnet::boxed::zero();
    for s in from..from + steps {
        let (x, y) = batch(s);
        classification_step(net, opt, &mut buf, ctx, &x, &y).unwrap();
    }
}

/// [`Mlp`] after a few Adam steps: every weight, γ, β and running statistic non-trivial.
pub fn trained(seed: u64) -> (Mlp, Adam<MlpGrad>, Context) {
    let mut net = mlp();
    net.init(Init::HeNormal, &mut Rng::new(seed));
    let mut adam = Adam::new(AdamConfig::with_lr(0.01));
    let mut ctx = Context::new(seed + 1);
    train(&mut net, &mut adam, &mut ctx, 0, 6);
    (net, adam, ctx)
}

/// Every `f32` tensor of `net` random, by its rule: positive values where the rule asks
/// for them (variances), any finite value elsewhere. Attributes are kept.
pub fn randomize_float<N: Describe>(net: &mut N, seed: u64) {
    let mut rng = Rng::new(seed);
    for i in 0..N::LAYERS {
        let layer = net.layer_mut(i).unwrap();
        let spec = layer.spec();
        for (t, s) in spec.tensors.iter().enumerate() {
            let Some(TensorMut::F32(d)) = layer.tensor_mut(t) else {
                panic!("a float tensor")
            };
            for v in d.iter_mut() {
                *v = match s.rule {
                    Rule::Positive => 0.25 + rng.next_f32(),
                    _ => rng.normal(),
                };
            }
        }
    }
}

/// Random quantization parameters: a scale in `[10⁻³, 1)` and any `i8` zero point.
pub fn random_params(rng: &mut Rng) -> QParams {
    QParams {
        scale: rng.uniform(1e-3, 1.0),
        zero_point: rng.below(256) as i32 - 128,
    }
}

/// Every value of the int8 network `net` random (seeded) and valid: any weights, tables
/// and biases, multipliers in `[2³⁰, 2³¹)`, shifts that scale down, each layer's input
/// quantization the previous layer's output, a ReLU clamp half of the time.
pub fn randomize_int8<N: Describe>(net: &mut N, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut input = random_params(&mut rng);
    for i in 0..N::LAYERS {
        let layer = net.layer_mut(i).unwrap();
        let spec = layer.spec();
        let output = random_params(&mut rng);
        for (t, s) in spec.tensors.iter().enumerate() {
            match (s.name, layer.tensor_mut(t).unwrap()) {
                ("weight" | "table", TensorMut::I8(d)) => {
                    d.iter_mut().for_each(|v| *v = rng.next_u32() as u8 as i8);
                }
                ("bias", TensorMut::I32(d)) => d
                    .iter_mut()
                    .for_each(|v| *v = rng.below(1 << 20) as i32 - (1 << 19)),
                ("multiplier", TensorMut::I32(d)) => d
                    .iter_mut()
                    .for_each(|v| *v = (1 << 30) + rng.below(1 << 30) as i32),
                ("shift", TensorMut::I32(d)) => {
                    d.iter_mut().for_each(|v| *v = -4 - rng.below(8) as i32)
                }
                (name, _) => panic!("unknown int8 tensor {name}"),
            }
        }
        set_params(layer, input, output);
        if spec.kind == "qdense" {
            let min = if rng.below(2) == 0 {
                -128
            } else {
                output.zero_point
            };
            assert!(layer.set_attr(spec.attr_index("min").unwrap(), Attr::I32(min)));
            assert!(layer.set_attr(spec.attr_index("max").unwrap(), Attr::I32(127)));
        }
        input = output;
    }
}

/// Sets the four quantization attributes of an int8 layer.
pub fn set_params(layer: &mut dyn LayerData, input: QParams, output: QParams) {
    let spec = layer.spec();
    let mut set = |name, v| assert!(layer.set_attr(spec.attr_index(name).unwrap(), v));
    set("input_scale", Attr::F32(input.scale));
    set("input_zero_point", Attr::I32(input.zero_point));
    set("output_scale", Attr::F32(output.scale));
    set("output_zero_point", Attr::I32(output.zero_point));
}

/// Deterministic float inputs.
pub fn inputs<const D: usize>(seed: u64, n: usize) -> Vec<[f32; D]> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| core::array::from_fn(|_| rng.normal()))
        .collect()
}

/// Deterministic int8 inputs, the extremes included.
pub fn inputs_i8<const D: usize>(seed: u64, n: usize) -> Vec<[i8; D]> {
    let mut rng = Rng::new(seed);
    let mut v: Vec<[i8; D]> = vec![[i8::MIN; D], [i8::MAX; D], [0; D]];
    v.extend((0..n).map(|_| core::array::from_fn(|_| rng.next_u32() as u8 as i8)));
    v
}

/// The outputs of `net` for `xs`.
pub fn outputs<N: Infer>(net: &N, xs: &[N::Input]) -> Vec<N::Output> {
    let mut scratch = firmnet::boxed::zero::<Scratch<N>>();
    xs.iter()
        .map(|x| {
            let mut y = N::Output::ZERO;
            net.forward(x, &mut y, &mut scratch);
            y
        })
        .collect()
}

/// Bit patterns of float outputs, for exact comparisons (NaN-safe).
pub fn bits<const C: usize>(ys: &[[f32; C]]) -> Vec<[u32; C]> {
    ys.iter().map(|y| y.map(f32::to_bits)).collect()
}

/// Asserts that two networks (of the same type, or an owned network and a view) hold the
/// same values, to the bit: every tensor of every layer and every attribute.
pub fn assert_same<A: Describe, B: Describe>(a: &A, b: &B) {
    assert_eq!(A::LAYERS, B::LAYERS);
    for i in 0..A::LAYERS {
        let (x, y) = (a.layer(i).unwrap(), b.layer(i).unwrap());
        let spec = x.spec();
        for t in 0..spec.tensors.len() {
            let name = spec.tensors[t].name;
            match (x.tensor(t).unwrap(), y.tensor(t).unwrap()) {
                (TensorRef::F32(u), TensorRef::F32(v)) => {
                    let (u, v): (Vec<u32>, Vec<u32>) = (
                        u.iter().map(|x| x.to_bits()).collect(),
                        v.iter().map(|x| x.to_bits()).collect(),
                    );
                    assert_eq!(u, v, "layer {i} tensor {name}");
                }
                (u, v) => assert_eq!(u, v, "layer {i} tensor {name}"),
            }
        }
        for a in 0..spec.attrs.len() {
            let (u, v) = (x.attr(a).unwrap(), y.attr(a).unwrap());
            assert_eq!(
                u.bits(),
                v.bits(),
                "layer {i} attribute {}",
                spec.attrs[a].name
            );
        }
    }
}

/// Asserts that two gradients (or optimizer moments) are the same, to the bit.
pub fn assert_same_params<P: Params>(a: &P, b: &P, what: &str) {
    for i in 0..P::TENSORS {
        let (x, y) = (a.tensor(i), b.tensor(i));
        let (x, y): (Vec<u32>, Vec<u32>) = (
            x.iter().map(|v| v.to_bits()).collect(),
            y.iter().map(|v| v.to_bits()).collect(),
        );
        assert_eq!(x, y, "{what}: tensor {i}");
    }
}

// ---------------------------------------------------------------------------------------
// Damage

/// Recomputes the checksum after an edit, so that the reader goes past it.
pub fn reseal(bytes: &mut [u8]) {
    let n = bytes.len();
    if n >= 4 {
        let crc = format::crc32(&bytes[..n - 4]);
        bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// `bytes` edited by `f`, with the checksum made valid again.
pub fn resealed(bytes: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut b = bytes.to_vec();
    f(&mut b);
    reseal(&mut b);
    b
}

pub fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// The error of loading `bytes` into a copy of `net`; the copy must be unchanged.
pub fn refused<N: Infer + Describe + Clone>(bytes: &[u8], net: &N) -> FormatError {
    let mut copy = net.clone();
    let err = format::load(bytes, &mut copy).expect_err("the file should be refused");
    assert_same(&copy, net);
    let _ = err.to_string();
    err
}

// ---------------------------------------------------------------------------------------
// An independent walker of the version 2 layout
//
// Written from the tables of the module docs of `src/format/mod.rs`: every field of a
// record is a little-endian 32-bit word, followed by the record's name and its zero
// padding to a multiple of 4. The walker finds where each field is, so that a test
// damages a field by its name (`t.word(TensorAt::DTYPE)`) rather than by a number.

/// Where an attribute record is.
#[derive(Clone, Debug)]
pub struct AttrAt {
    pub at: usize,
    /// Type code (word 0): 1 f32, 3 i32.
    pub dtype: u32,
    pub name: String,
    /// Offset of its name.
    pub name_at: usize,
    /// Offset of its 32-bit value (word 2).
    pub value: usize,
}

impl AttrAt {
    /// Word 0: the type.
    pub const TYPE: usize = 0;
    /// Word 1: the name's length.
    pub const NAME_LEN: usize = 1;
    /// Word 2: the value's 32 bits.
    pub const VALUE: usize = 2;
    /// Words of the fixed part.
    pub const WORDS: usize = 3;

    /// Offset of word `w` of the record.
    pub fn word(&self, w: usize) -> usize {
        self.at + 4 * w
    }
}

/// Where a tensor record is.
#[derive(Clone, Debug)]
pub struct TensorAt {
    pub at: usize,
    pub section: u8,
    pub kind: u8,
    pub dtype: u8,
    pub rank: u8,
    pub shape: [u32; 4],
    pub name: String,
    /// Offset of its name.
    pub name_at: usize,
    /// Offset of its elements.
    pub data: usize,
    pub len: usize,
}

impl TensorAt {
    /// Word 0: the section.
    pub const SECTION: usize = 0;
    /// Word 1: the name's length.
    pub const NAME_LEN: usize = 1;
    /// Word 2: the kind.
    pub const KIND: usize = 2;
    /// Word 3: the element type.
    pub const DTYPE: usize = 3;
    /// Word 4: the rank.
    pub const RANK: usize = 4;
    /// Words 5 to 8: the dimensions.
    pub const DIMS: usize = 5;
    /// Word 9: bytes of data.
    pub const BYTES: usize = 9;
    /// Words of the fixed part.
    pub const WORDS: usize = 10;

    /// Offset of word `w` of the record.
    pub fn word(&self, w: usize) -> usize {
        self.at + 4 * w
    }

    /// Offset of dimension `d` (0 to 3).
    pub fn dim(&self, d: usize) -> usize {
        self.word(Self::DIMS + d)
    }

    /// The whole record: fixed part, name and data, with their padding.
    pub fn record(&self) -> core::ops::Range<usize> {
        self.at..self.data + padded(self.len)
    }
}

/// Where a layer record is.
#[derive(Clone, Debug)]
pub struct LayerAt {
    pub at: usize,
    pub len: usize,
    pub kind: String,
    /// Offset of its kind.
    pub kind_at: usize,
    /// The input and output shapes (rank and four dimensions).
    pub input: (u32, [u32; 4]),
    pub output: (u32, [u32; 4]),
    pub attrs: Vec<AttrAt>,
    pub tensors: Vec<TensorAt>,
}

impl LayerAt {
    /// Word 0: the record's length in bytes.
    pub const LEN: usize = 0;
    /// Word 1: the kind's length.
    pub const KIND_LEN: usize = 1;
    /// Word 2: the input's rank; words 3 to 6 its dimensions.
    pub const INPUT_RANK: usize = 2;
    pub const INPUT_DIMS: usize = 3;
    /// Word 7: the output's rank; words 8 to 11 its dimensions.
    pub const OUTPUT_RANK: usize = 7;
    pub const OUTPUT_DIMS: usize = 8;
    /// Word 12: the number of attributes.
    pub const ATTRS: usize = 12;
    /// Word 13: the number of tensors.
    pub const TENSORS: usize = 13;
    /// Words of the fixed part.
    pub const WORDS: usize = 14;

    /// Offset of word `w` of the record.
    pub fn word(&self, w: usize) -> usize {
        self.at + 4 * w
    }

    /// The record's end.
    pub fn end(&self) -> usize {
        self.at + self.len
    }
}

/// Where a scalar record is.
#[derive(Clone, Debug)]
pub struct ScalarAt {
    pub at: usize,
    pub code: u32,
    pub name: String,
    /// Offset of its value (4, 8 or 16 bytes).
    pub value: usize,
}

impl ScalarAt {
    /// Word 0: the type.
    pub const TYPE: usize = 0;
    /// Word 1: the name's length.
    pub const NAME_LEN: usize = 1;
    /// Words of the fixed part.
    pub const WORDS: usize = 2;
}

/// A valid file's records, found by the tables of the module docs.
#[derive(Clone, Debug)]
pub struct Walk {
    pub layers: Vec<LayerAt>,
    pub scalars: Vec<ScalarAt>,
}

pub fn padded(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// A name of `n` bytes at `at`, its padding zero.
fn name_at(b: &[u8], at: usize, n: usize) -> String {
    assert!((1..=255).contains(&n), "name length {n} at {at}");
    assert!(
        b[at + n..at + padded(n)].iter().all(|&z| z == 0),
        "padding of the name at {at}"
    );
    String::from_utf8(b[at..at + n].to_vec()).unwrap()
}

/// A code word: a small number.
fn code_at(b: &[u8], at: usize) -> u8 {
    u8::try_from(get_u32(b, at)).unwrap_or_else(|_| panic!("code word at {at}"))
}

/// A rank word and four dimension words, unused dimensions zero.
fn shape_at(b: &[u8], at: usize) -> (u32, [u32; 4]) {
    let rank = get_u32(b, at);
    let dims: [u32; 4] = core::array::from_fn(|d| get_u32(b, at + 4 + 4 * d));
    assert!(rank <= 4, "rank {rank} at {at}");
    assert!(
        dims[rank as usize..].iter().all(|&d| d == 0),
        "unused dimensions at {at}"
    );
    (rank, dims)
}

/// Walks a valid version 2 file (panics on anything else).
pub fn walk(b: &[u8]) -> Walk {
    assert_eq!(&b[..4], b"FNET");
    assert_eq!(u16::from_le_bytes([b[4], b[5]]), 2);
    assert_eq!(get_u32(b, 8) as usize, b.len());
    assert_eq!(&b[27..32], &[0; 5], "reserved header bytes");
    let (layers, scalars) = (get_u32(b, 12) as usize, get_u32(b, 16) as usize);
    let mut p = 32;
    let mut walk = Walk {
        layers: Vec::new(),
        scalars: Vec::new(),
    };
    for _ in 0..layers {
        let at = p;
        let word = |w: usize| get_u32(b, at + 4 * w) as usize;
        let len = word(LayerAt::LEN);
        let n = word(LayerAt::KIND_LEN);
        let (attrs, tensors) = (word(LayerAt::ATTRS), word(LayerAt::TENSORS));
        let kind_at = at + 4 * LayerAt::WORDS;
        let mut layer = LayerAt {
            at,
            len,
            kind: name_at(b, kind_at, n),
            kind_at,
            input: shape_at(b, at + 4 * LayerAt::INPUT_RANK),
            output: shape_at(b, at + 4 * LayerAt::OUTPUT_RANK),
            attrs: Vec::new(),
            tensors: Vec::new(),
        };
        p = kind_at + padded(n);
        for _ in 0..attrs {
            let m = get_u32(b, p + 4 * AttrAt::NAME_LEN) as usize;
            let name_at_ = p + 4 * AttrAt::WORDS;
            layer.attrs.push(AttrAt {
                at: p,
                dtype: get_u32(b, p + 4 * AttrAt::TYPE),
                name: name_at(b, name_at_, m),
                name_at: name_at_,
                value: p + 4 * AttrAt::VALUE,
            });
            p = name_at_ + padded(m);
        }
        for _ in 0..tensors {
            let w = |k: usize| p + 4 * k;
            let m = get_u32(b, w(TensorAt::NAME_LEN)) as usize;
            let (rank, shape) = shape_at(b, w(TensorAt::RANK));
            let len = get_u32(b, w(TensorAt::BYTES)) as usize;
            let name_at_ = w(TensorAt::WORDS);
            let data = name_at_ + padded(m);
            assert!(
                b[data + len..data + padded(len)].iter().all(|&z| z == 0),
                "padding of the data at {data}"
            );
            layer.tensors.push(TensorAt {
                at: p,
                section: code_at(b, w(TensorAt::SECTION)),
                kind: code_at(b, w(TensorAt::KIND)),
                dtype: code_at(b, w(TensorAt::DTYPE)),
                rank: rank as u8,
                shape,
                name: name_at(b, name_at_, m),
                name_at: name_at_,
                data,
                len,
            });
            p = data + padded(len);
        }
        assert_eq!(p, at + len, "layer record length");
        walk.layers.push(layer);
    }
    for _ in 0..scalars {
        let code = get_u32(b, p + 4 * ScalarAt::TYPE);
        let m = get_u32(b, p + 4 * ScalarAt::NAME_LEN) as usize;
        let name = p + 4 * ScalarAt::WORDS;
        let value = name + padded(m);
        walk.scalars.push(ScalarAt {
            at: p,
            code,
            name: name_at(b, name, m),
            value,
        });
        p = value
            + match code {
                1 | 3 => 4,
                2 | 4 => 8,
                5 => 16,
                _ => panic!("scalar type {code}"),
            };
    }
    assert_eq!(p + 4, b.len(), "bytes after the last record");
    walk
}

impl Walk {
    /// Attribute `name` of layer `layer`.
    pub fn attr(&self, layer: usize, name: &str) -> &AttrAt {
        self.layers[layer]
            .attrs
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("layer {layer} has no attribute {name}"))
    }

    /// Tensor `name` of `section` (a [`format::Section`] code) of layer `layer`.
    pub fn tensor(&self, layer: usize, section: u8, name: &str) -> &TensorAt {
        self.layers[layer]
            .tensors
            .iter()
            .find(|t| t.section == section && t.name == name)
            .unwrap_or_else(|| panic!("layer {layer} has no tensor {name} in section {section}"))
    }

    /// Scalar `name`.
    pub fn scalar(&self, name: &str) -> &ScalarAt {
        self.scalars.iter().find(|s| s.name == name).unwrap()
    }
}

/// The dimensions of a walked shape.
fn dims_of((rank, dims): (u32, [u32; 4])) -> Vec<usize> {
    dims[..rank as usize].iter().map(|&d| d as usize).collect()
}

/// Checks the walker against the reader: the same layers, kinds, shapes, attributes
/// (names, types and values), tensors (sections, names, kinds, types, shapes and data
/// offsets) and scalars (names, types and values).
pub fn walk_matches_reader(bytes: &[u8]) -> Walk {
    let w = walk(bytes);
    let file = File::parse(bytes).unwrap();
    assert_eq!(file.layer_count(), w.layers.len());
    for (rec, at) in file.layers().zip(&w.layers) {
        assert_eq!(rec.kind, at.kind);
        assert_eq!(rec.input.dims(), dims_of(at.input), "layer {}", rec.index);
        assert_eq!(rec.output.dims(), dims_of(at.output), "layer {}", rec.index);
        assert_eq!(
            (rec.attr_count(), rec.tensor_count()),
            (at.attrs.len(), at.tensors.len())
        );
        let attrs: Vec<_> = rec
            .attrs()
            .map(|a| {
                let dtype = match a.value {
                    Attr::F32(_) => 1,
                    Attr::I32(_) => 3,
                };
                (a.name, dtype, a.value.bits())
            })
            .collect();
        let expected: Vec<_> = at
            .attrs
            .iter()
            .map(|a| (a.name.as_str(), a.dtype, get_u32(bytes, a.value)))
            .collect();
        assert_eq!(attrs, expected);
        let tensors: Vec<_> = rec
            .tensors()
            .map(|t| {
                (
                    t.section.code(),
                    t.name,
                    t.kind.code(),
                    t.dtype.code(),
                    t.shape.dims().to_vec(),
                    t.offset,
                    t.data.len(),
                )
            })
            .collect();
        let expected: Vec<_> = at
            .tensors
            .iter()
            .map(|t| {
                (
                    t.section,
                    t.name.as_str(),
                    t.kind,
                    t.dtype,
                    dims_of((u32::from(t.rank), t.shape)),
                    t.data,
                    t.len,
                )
            })
            .collect();
        assert_eq!(tensors, expected);
    }
    let scalars: Vec<_> = file
        .scalars()
        .map(|s| (s.name.to_string(), value_bytes(s.value)))
        .collect();
    let expected: Vec<_> = w
        .scalars
        .iter()
        .map(|s| {
            let n = match s.code {
                1 | 3 => 4,
                2 | 4 => 8,
                _ => 16,
            };
            (s.name.clone(), bytes[s.value..s.value + n].to_vec())
        })
        .collect();
    assert_eq!(scalars, expected);
    w
}

/// The stored bytes of a scalar's value, by the table of the module docs.
fn value_bytes(v: Value) -> Vec<u8> {
    match v {
        Value::U32(x) => x.to_le_bytes().to_vec(),
        Value::U64(x) => x.to_le_bytes().to_vec(),
        Value::F32(x) => x.to_le_bytes().to_vec(),
        Value::F64(x) => x.to_le_bytes().to_vec(),
        Value::Rng(r) => r.state().iter().flat_map(|s| s.to_le_bytes()).collect(),
    }
}

// ---------------------------------------------------------------------------------------
// Version 1 files, from the tables of the version 1 layout (git history of
// src/format/mod.rs): header of 32 bytes (magic, version 1, flags, length, layer, scalar
// and tensor counts, optimizer, 7 reserved), layer records (inputs, outputs, kind length,
// 3 reserved, kind + pad), scalar records, tensor records (section, kind, type, name
// length, layer, rows, columns, parameter bytes, name + pad, parameters, data + pad),
// CRC-32.

/// A tensor of a version 1 file.
#[derive(Clone, Debug)]
pub struct V1Tensor {
    pub section: u8,
    pub kind: u8,
    pub dtype: u8,
    pub layer: u32,
    pub rows: u32,
    pub cols: u32,
    pub name: &'static str,
    pub data: Vec<u8>,
}

/// A version 1 file: layers `(inputs, outputs, kind)` and tensors.
#[derive(Clone, Debug, Default)]
pub struct V1 {
    pub layers: Vec<(u32, u32, &'static str)>,
    pub tensors: Vec<V1Tensor>,
}

fn pad4(b: &mut Vec<u8>) {
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
}

impl V1 {
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"FNET");
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes()); // length, below
        for n in [self.layers.len(), 0, self.tensors.len()] {
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(&[0; 8]);
        for &(i, o, kind) in &self.layers {
            b.extend_from_slice(&i.to_le_bytes());
            b.extend_from_slice(&o.to_le_bytes());
            b.extend_from_slice(&[kind.len() as u8, 0, 0, 0]);
            b.extend_from_slice(kind.as_bytes());
            pad4(&mut b);
        }
        for t in &self.tensors {
            b.extend_from_slice(&[t.section, t.kind, t.dtype, t.name.len() as u8]);
            for v in [t.layer, t.rows, t.cols, 0] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b.extend_from_slice(t.name.as_bytes());
            pad4(&mut b);
            b.extend_from_slice(&t.data);
            pad4(&mut b);
        }
        let len = (b.len() + 4) as u32;
        b[8..12].copy_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        reseal(&mut b);
        b
    }

    /// The version 1 file of a float network: every tensor with its version 1 section
    /// (learned ones in 1, running statistics in 2), rows × columns.
    pub fn of_float<N: Describe>(net: &N) -> V1 {
        let mut v = V1::default();
        for i in 0..N::LAYERS {
            let layer = net.layer(i).unwrap();
            let spec = layer.spec();
            v.layers
                .push((spec.input.len() as u32, spec.output.len() as u32, spec.kind));
            for (t, s) in spec.tensors.iter().enumerate() {
                let Some(TensorRef::F32(d)) = layer.tensor(t) else {
                    panic!()
                };
                let (rows, cols) = match s.shape.rank() {
                    2 => (s.shape.dim(0), s.shape.dim(1)),
                    _ => (1, s.shape.len()),
                };
                v.tensors.push(V1Tensor {
                    section: if s.learned { 1 } else { 2 },
                    kind: s.kind.code(),
                    dtype: 1,
                    layer: i as u32,
                    rows: rows as u32,
                    cols: cols as u32,
                    name: s.name,
                    data: d.iter().flat_map(|x| x.to_le_bytes()).collect(),
                });
            }
        }
        v
    }

    /// The version 1 file of an int8 network of dense layers: the eight tensors of each
    /// `qdense` record (`weight_scale`, which version 2 no longer stores, all 1).
    pub fn of_int8<N: Describe>(net: &N) -> V1 {
        let mut v = V1::default();
        for i in 0..N::LAYERS {
            let layer = net.layer(i).unwrap();
            let spec = layer.spec();
            assert_eq!(spec.kind, "qdense", "version 1 had only int8 dense layers");
            let (inputs, outputs) = (spec.input.len() as u32, spec.output.len() as u32);
            v.layers.push((inputs, outputs, "qdense"));
            let words = |t: usize| -> Vec<u8> {
                match layer.tensor(t).unwrap() {
                    TensorRef::I32(d) => d.iter().flat_map(|x| x.to_le_bytes()).collect(),
                    TensorRef::I8(d) => d.iter().map(|&x| x as u8).collect(),
                    TensorRef::F32(_) => panic!(),
                }
            };
            let attr = |a: usize| layer.attr(a).unwrap().bits().to_le_bytes();
            let mut t = |kind, dtype, rows, cols, name, data: Vec<u8>| {
                v.tensors.push(V1Tensor {
                    section: 1,
                    kind,
                    dtype,
                    layer: i as u32,
                    rows,
                    cols,
                    name,
                    data,
                })
            };
            t(1, 2, outputs, inputs, "weight", words(0));
            t(2, 3, 1, outputs, "bias", words(1));
            t(3, 3, 1, outputs, "multiplier", words(2));
            t(4, 3, 1, outputs, "shift", words(3));
            t(
                3,
                1,
                1,
                outputs,
                "weight_scale",
                [0x00, 0x00, 0x80, 0x3F].repeat(outputs as usize),
            );
            t(3, 1, 1, 2, "scales", [attr(0), attr(2)].concat());
            t(4, 3, 1, 2, "zero_points", [attr(1), attr(3)].concat());
            t(4, 3, 1, 2, "clamp", [attr(4), attr(5)].concat());
        }
        v
    }
}
