//! The `.tflite` importer (`firmnet::host::tflite`): the four MLPerf Tiny reference models
//! import with the operators, shapes and quantization known of them; corrupted files give
//! errors, never panics; hand-built flatbuffers check schema defaults and every refusal.

use firmnet::host::tflite::{
    Activation, ElementType, ImportError, Op, OperatorCode, Padding, Problem, Quantization,
    TfliteModel,
};

fn model_bytes(file: &str) -> Vec<u8> {
    let path = format!("{}/tests/mlperf_tiny/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn import(file: &str) -> TfliteModel {
    TfliteModel::parse(&model_bytes(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Multiply-accumulates per inference, counted from the operators and shapes.
fn macs(m: &TfliteModel) -> usize {
    m.operators
        .iter()
        .map(|o| {
            let t = |i: usize| &m.tensors[o.inputs[i].unwrap()];
            let y = &m.tensors[o.outputs[0]];
            match o.op {
                Op::Conv2d(_) => {
                    let w = &t(1).shape;
                    y.len() * w[1] * w[2] * w[3]
                }
                Op::DepthwiseConv2d(_) => y.len() * t(1).shape[1] * t(1).shape[2],
                Op::FullyConnected { .. } => t(1).len() * (t(0).len() / t(1).shape[1]),
                _ => 0,
            }
        })
        .sum()
}

/// Published MACs (MLPerf Tiny, three significant digits) match the model's within rounding.
fn assert_macs(m: &TfliteModel, published: f64) {
    let counted = macs(m) as f64;
    assert!(
        (counted - published).abs() <= 0.005 * published,
        "{counted} MACs counted, {published} published"
    );
}

fn per_tensor(q: &Quantization) -> (f32, i32) {
    match q {
        Quantization::PerTensor { scale, zero_point } => (*scale, *zero_point),
        other => panic!("not per tensor: {other:?}"),
    }
}

fn count(m: &TfliteModel, name: &str) -> usize {
    m.operator_names().iter().filter(|n| *n == name).count()
}

#[test]
fn anomaly_detection_autoencoder() {
    let m = import("ad01_int8.tflite");
    assert_eq!(m.operator_names(), vec!["FULLY_CONNECTED"; 10]);
    let widths: Vec<usize> = m
        .operators
        .iter()
        .map(|o| m.tensors[o.outputs[0]].shape[1])
        .collect();
    assert_eq!(widths, [128, 128, 128, 128, 8, 128, 128, 128, 128, 640]);
    let (input, output) = (&m.tensors[m.inputs[0]], &m.tensors[m.outputs[0]]);
    assert_eq!(
        (input.shape.as_slice(), output.shape.as_slice()),
        (&[1, 640][..], &[1, 640][..])
    );
    assert_eq!(per_tensor(&input.quantization).1, 89);
    assert_eq!(per_tensor(&output.quantization).1, 96);
    for (i, o) in m.operators.iter().enumerate() {
        let w = &m.tensors[o.inputs[1].unwrap()];
        let (scale, zero) = per_tensor(&w.quantization);
        assert!(
            scale > 0.0 && zero == 0,
            "layer {i}: weights {scale} {zero}"
        );
        let values = w.data_i8().unwrap();
        assert_eq!(values.len(), w.len());
        assert!(!values.contains(&-128), "layer {i}");
        let bias = &m.tensors[o.inputs[2].unwrap()];
        assert_eq!(bias.element, ElementType::Int32);
        assert_eq!(bias.data_i32().unwrap().len(), w.shape[0]);
        // ReLU fused on layers 0–8, none on the output layer.
        let relu = if i < 9 {
            Activation::Relu
        } else {
            Activation::None
        };
        assert_eq!(
            o.op,
            Op::FullyConnected {
                activation: relu,
                keep_num_dims: false
            }
        );
        // The bias scale is the input scale times the weight scale.
        let s_in = per_tensor(&m.tensors[o.inputs[0].unwrap()].quantization).0;
        let s_bias = per_tensor(&bias.quantization).0;
        assert!((s_bias - s_in * scale).abs() <= 1e-6 * s_bias, "layer {i}");
        if i < 9 {
            assert_eq!(per_tensor(&m.tensors[o.outputs[0]].quantization).1, -128);
        }
    }
    assert_macs(&m, 0.264e6);
}

#[test]
fn keyword_spotting_ds_cnn() {
    let m = import("kws_ref_model.tflite");
    let mut expected = vec!["CONV_2D"];
    for _ in 0..4 {
        expected.extend(["DEPTHWISE_CONV_2D", "CONV_2D"]);
    }
    expected.extend(["AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]);
    assert_eq!(m.operator_names(), expected);
    assert_eq!(m.tensors[m.inputs[0]].shape, [1, 49, 10, 1]);
    assert_eq!(m.tensors[m.outputs[0]].shape, [1, 12]);
    let first = &m.operators[0];
    let Op::Conv2d(conv) = first.op else {
        panic!("{:?}", first.op)
    };
    assert_eq!(
        (conv.stride_h, conv.stride_w, conv.padding),
        (2, 2, Padding::Same)
    );
    let filter = &m.tensors[first.inputs[1].unwrap()];
    assert_eq!(filter.shape, [64, 10, 4, 1]);
    assert!(
        matches!(&filter.quantization, Quantization::PerAxis { axis: 0, scales, .. } if scales.len() == 64)
    );
    // The pairs: a 3×3 depthwise filter, then a 1×1 pointwise one.
    for pair in m.operators[1..9].chunks(2) {
        assert_eq!(m.tensors[pair[0].inputs[1].unwrap()].shape, [1, 3, 3, 64]);
        assert_eq!(m.tensors[pair[1].inputs[1].unwrap()].shape, [64, 1, 1, 64]);
    }
    assert!(matches!(m.operators[12].op, Op::Softmax { beta } if beta == 1.0));
    assert_macs(&m, 2.66e6);
}

#[test]
fn image_classification_resnet8() {
    let m = import("pretrainedResnet_quant.tflite");
    assert_eq!(count(&m, "ADD"), 3);
    assert_eq!(count(&m, "CONV_2D"), 9);
    assert_eq!(count(&m, "AVERAGE_POOL_2D"), 1);
    assert_eq!(count(&m, "FULLY_CONNECTED"), 1);
    assert_eq!(m.tensors[m.inputs[0]].shape, [1, 32, 32, 3]);
    assert_eq!(m.tensors[m.outputs[0]].shape, [1, 10]);
    // Each ADD joins two branches: its operands come from different operators.
    for o in m
        .operators
        .iter()
        .filter(|o| matches!(o.op, Op::Add { .. }))
    {
        assert_ne!(o.inputs[0], o.inputs[1]);
    }
    assert_macs(&m, 12.5e6);
}

#[test]
fn visual_wake_words_mobilenet() {
    let m = import("vww_96_int8.tflite");
    assert_eq!(m.tensors[m.inputs[0]].shape, [1, 96, 96, 3]);
    assert_eq!(m.tensors[m.outputs[0]].shape, [1, 2]);
    assert_eq!(count(&m, "DEPTHWISE_CONV_2D"), 13);
    assert_eq!(count(&m, "CONV_2D"), 14);
    assert_macs(&m, 7.49e6);
}

/// A reader of the raw flatbuffer for the corruption tests: the position a field's offset
/// points to.
fn field_target(b: &[u8], table: usize, slot: usize) -> (usize, usize) {
    let u32_at = |p: usize| u32::from_le_bytes(b[p..p + 4].try_into().unwrap()) as usize;
    let vtable = table - i32::from_le_bytes(b[table..table + 4].try_into().unwrap()) as usize;
    let field = table + u16::from_le_bytes([b[vtable + slot], b[vtable + slot + 1]]) as usize;
    (field, field + u32_at(field))
}

fn root(b: &[u8]) -> usize {
    u32::from_le_bytes(b[0..4].try_into().unwrap()) as usize
}

fn malformed(result: Result<TfliteModel, ImportError>) -> &'static str {
    match result {
        Err(ImportError::Malformed { what, .. }) => what,
        other => panic!("not malformed: {other:?}"),
    }
}

#[test]
fn truncated_files_fail_at_every_length() {
    let full = model_bytes("kws_ref_model.tflite");
    let whole = TfliteModel::parse(&full).unwrap();
    let mut refused = 0;
    for n in 0..full.len() {
        match TfliteModel::parse(&full[..n]) {
            Err(_) => refused += 1,
            // Bytes the importer never reads may be cut; what it reads must be unchanged.
            Ok(m) => assert_eq!(m, whole, "truncated to {n} bytes"),
        }
    }
    assert!(
        refused >= full.len() - 64,
        "{refused} of {} truncations refused",
        full.len()
    );
}

/// xorshift64*, seeded.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for file in ["kws_ref_model.tflite", "pretrainedResnet_quant.tflite"] {
        let full = model_bytes(file);
        let (mut ok, mut err) = (0, 0);
        for _ in 0..1500 {
            let mut b = full.clone();
            for _ in 0..1 + rng.next() % 8 {
                // Most flips land in weights; aim half of them at the first 4 KiB of
                // tables and vectors.
                let span = if rng.next().is_multiple_of(2) {
                    b.len().min(4096)
                } else {
                    b.len()
                };
                let at = (rng.next() % span as u64) as usize;
                b[at] ^= 1 << (rng.next() % 8);
            }
            match TfliteModel::parse(&b) {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    err += 1;
                }
            }
        }
        assert!(ok > 0 && err > 0, "{file}: {ok} accepted, {err} refused");
    }
}

#[test]
fn offset_outside_the_buffer() {
    let mut b = model_bytes("kws_ref_model.tflite");
    let len = b.len() as u32;
    b[0..4].copy_from_slice(&(len + 12).to_le_bytes());
    assert_eq!(
        malformed(TfliteModel::parse(&b)),
        "offset points outside the buffer"
    );
    // An offset into the subgraph's tensors that points past the end.
    let mut b = model_bytes("kws_ref_model.tflite");
    let (field, _) = field_target(&b, root(&b), 8);
    let past = (b.len() - field + 4) as u32;
    b[field..field + 4].copy_from_slice(&past.to_le_bytes());
    assert_eq!(
        malformed(TfliteModel::parse(&b)),
        "offset points outside the buffer"
    );
}

#[test]
fn vtable_out_of_range() {
    let mut b = model_bytes("kws_ref_model.tflite");
    let r = root(&b);
    let past = -(b.len() as i32);
    b[r..r + 4].copy_from_slice(&past.to_le_bytes());
    assert_eq!(
        malformed(TfliteModel::parse(&b)),
        "vtable misaligned or outside the buffer"
    );
    let mut b = model_bytes("kws_ref_model.tflite");
    b[r..r + 4].copy_from_slice(&(r as i32 + 2).to_le_bytes());
    assert_eq!(
        malformed(TfliteModel::parse(&b)),
        "vtable before the buffer"
    );
    // A vtable whose size runs past the end.
    let mut b = model_bytes("kws_ref_model.tflite");
    let vt = r - i32::from_le_bytes(b[r..r + 4].try_into().unwrap()) as usize;
    b[vt..vt + 2].copy_from_slice(&0xFFF0u16.to_le_bytes());
    assert_eq!(
        malformed(TfliteModel::parse(&b)),
        "vtable extends outside the buffer"
    );
}

#[test]
fn huge_vector_length() {
    let full = model_bytes("kws_ref_model.tflite");
    // The buffers vector (Model field 4), then the subgraphs' (field 2).
    for slot in [12, 8] {
        for len in [0x7FFF_FFFFu32, 0x1000_0000, full.len() as u32] {
            let mut b = full.clone();
            let (_, v) = field_target(&b, root(&b), slot);
            b[v..v + 4].copy_from_slice(&len.to_le_bytes());
            let what = malformed(TfliteModel::parse(&b));
            assert!(what.starts_with("vector"), "{what}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hand-built flatbuffers.

/// A value to serialize.
#[derive(Clone, Debug)]
enum V {
    U8(u8),
    U32(u32),
    F32(f32),
    U64(u64),
    Table(Vec<(u16, V)>),
    Tables(Vec<Vec<(u16, V)>>),
    I32s(Vec<i32>),
    F32s(Vec<f32>),
    I64s(Vec<i64>),
    Bytes(Vec<u8>),
    Str(&'static str),
    /// The same table `n` times (a vector of `n` offsets to one table).
    Repeat(Vec<(u16, V)>, usize),
}

/// Serializes a flatbuffer front to back: each table's vtable just before it, children
/// after their parent, offsets patched once the child's place is known.
struct Builder {
    buf: Vec<u8>,
}

impl Builder {
    fn pad(&mut self, align: usize, rem: usize) {
        while self.buf.len() % align != rem {
            self.buf.push(0);
        }
    }

    fn patch(&mut self, at: usize, target: usize) {
        self.buf[at..at + 4].copy_from_slice(&((target - at) as u32).to_le_bytes());
    }

    fn table(&mut self, fields: &[(u16, V)]) -> usize {
        // Inline layout: the soffset, then each field aligned to its size.
        let mut layout = Vec::new();
        let mut size: usize = 4;
        for (slot, v) in fields {
            let width = match v {
                V::U8(_) => 1,
                V::U64(_) => 8,
                _ => 4,
            };
            size = size.next_multiple_of(width);
            layout.push((*slot, size, width));
            size += width;
        }
        let slots = fields
            .iter()
            .map(|f| f.0)
            .max()
            .map_or(0, |s| (s as usize - 4) / 2 + 1);
        let vsize = 4 + 2 * slots;
        // The table at a multiple of 8, its vtable right before it.
        self.pad(2, 0);
        while !(self.buf.len() + vsize).is_multiple_of(8) {
            self.buf.extend([0, 0]);
        }
        let vtable = self.buf.len();
        let mut vt = vec![0u16; vsize / 2];
        vt[0] = vsize as u16;
        vt[1] = size as u16;
        for (slot, at, _) in &layout {
            vt[*slot as usize / 2] = *at as u16;
        }
        for x in vt {
            self.buf.extend(x.to_le_bytes());
        }
        let table = self.buf.len();
        self.buf.resize(table + size, 0);
        self.buf[table..table + 4].copy_from_slice(&((table - vtable) as i32).to_le_bytes());
        let mut children = Vec::new();
        for ((_, at, width), (_, v)) in layout.iter().zip(fields) {
            let p = table + at;
            match v {
                V::U8(x) => self.buf[p] = *x,
                V::U32(x) => self.buf[p..p + 4].copy_from_slice(&x.to_le_bytes()),
                V::F32(x) => self.buf[p..p + 4].copy_from_slice(&x.to_le_bytes()),
                V::U64(x) => self.buf[p..p + 8].copy_from_slice(&x.to_le_bytes()),
                _ => children.push((p, v)),
            }
            let _ = width;
        }
        for (p, v) in children {
            let target = self.child(v);
            self.patch(p, target);
        }
        table
    }

    fn vector(&mut self, len: usize, elem: usize) -> usize {
        self.pad(elem.max(4), if elem == 8 { 4 } else { 0 });
        let at = self.buf.len();
        self.buf.extend((len as u32).to_le_bytes());
        at
    }

    fn child(&mut self, v: &V) -> usize {
        match v {
            V::Table(fields) => self.table(fields),
            V::Tables(tables) => {
                let at = self.vector(tables.len(), 4);
                let slots = self.buf.len();
                self.buf.resize(slots + 4 * tables.len(), 0);
                for (i, t) in tables.iter().enumerate() {
                    let target = self.table(t);
                    self.patch(slots + 4 * i, target);
                }
                at
            }
            V::Repeat(t, n) => {
                let at = self.vector(*n, 4);
                let slots = self.buf.len();
                self.buf.resize(slots + 4 * n, 0);
                let target = self.table(t);
                for i in 0..*n {
                    self.patch(slots + 4 * i, target);
                }
                at
            }
            V::I32s(x) => {
                let at = self.vector(x.len(), 4);
                x.iter().for_each(|x| self.buf.extend(x.to_le_bytes()));
                at
            }
            V::F32s(x) => {
                let at = self.vector(x.len(), 4);
                x.iter().for_each(|x| self.buf.extend(x.to_le_bytes()));
                at
            }
            V::I64s(x) => {
                let at = self.vector(x.len(), 8);
                x.iter().for_each(|x| self.buf.extend(x.to_le_bytes()));
                at
            }
            V::Bytes(x) => {
                let at = self.vector(x.len(), 1);
                self.buf.extend(x);
                at
            }
            V::Str(s) => {
                let at = self.vector(s.len(), 1);
                self.buf.extend(s.as_bytes());
                self.buf.push(0);
                at
            }
            scalar => panic!("{scalar:?} is not an offset field"),
        }
    }
}

fn serialize(root: &[(u16, V)]) -> Vec<u8> {
    let mut b = Builder {
        buf: vec![0, 0, 0, 0, b'T', b'F', b'L', b'3'],
    };
    let table = b.table(root);
    b.patch(0, table);
    b.buf
}

/// A tensor: shape, type, buffer, and (scales, zero points, quantized dimension).
fn tensor(
    shape: &[i32],
    ty: u8,
    buffer: u32,
    quant: Option<(&[f32], &[i64], u32)>,
) -> Vec<(u16, V)> {
    let mut t = vec![
        (4, V::I32s(shape.to_vec())),
        (6, V::U8(ty)),
        (8, V::U32(buffer)),
    ];
    if let Some((s, z, d)) = quant {
        let mut q = vec![(8, V::F32s(s.to_vec())), (10, V::I64s(z.to_vec()))];
        if d != 0 {
            q.push((16, V::U32(d)));
        }
        t.push((12, V::Table(q)));
    }
    t
}

const INT8: u8 = 9;
const INT32: u8 = 2;
const FLOAT32: u8 = 0;

/// An operator: opcode index, inputs, outputs, options type, options fields.
type OperatorSpec = (u32, Vec<i32>, Vec<i32>, u8, Option<Vec<(u16, V)>>);

/// A model of one subgraph, its parts editable before serializing.
#[derive(Clone)]
struct Spec {
    /// (deprecated one-byte code, 32-bit code or `None` for absent).
    codes: Vec<(u8, Option<u32>)>,
    tensors: Vec<Vec<(u16, V)>>,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    operators: Vec<OperatorSpec>,
    buffers: Vec<Vec<u8>>,
    subgraphs: usize,
    version: u32,
}

impl Spec {
    fn bytes(&self) -> Vec<u8> {
        let codes = self
            .codes
            .iter()
            .map(|&(d, b)| {
                let mut t = vec![(4, V::U8(d))];
                if let Some(b) = b {
                    t.push((10, V::U32(b)));
                }
                t
            })
            .collect();
        let operators = self
            .operators
            .iter()
            .map(|(code, i, o, ty, options)| {
                let mut t = vec![
                    (4, V::U32(*code)),
                    (6, V::I32s(i.clone())),
                    (8, V::I32s(o.clone())),
                ];
                if *ty != 0 {
                    t.push((10, V::U8(*ty)));
                }
                if let Some(options) = options {
                    t.push((12, V::Table(options.clone())));
                }
                t
            })
            .collect::<Vec<_>>();
        let graph = vec![
            (4, V::Tables(self.tensors.clone())),
            (6, V::I32s(self.inputs.clone())),
            (8, V::I32s(self.outputs.clone())),
            (10, V::Tables(operators)),
        ];
        let buffers = self
            .buffers
            .iter()
            .map(|d| {
                if d.is_empty() {
                    vec![]
                } else {
                    vec![(4, V::Bytes(d.clone()))]
                }
            })
            .collect();
        serialize(&[
            (4, V::U32(self.version)),
            (6, V::Tables(codes)),
            (8, V::Tables(vec![graph; self.subgraphs])),
            (10, V::Str("hand-built")),
            (12, V::Tables(buffers)),
        ])
    }

    fn parse(&self) -> Result<TfliteModel, ImportError> {
        TfliteModel::parse(&self.bytes())
    }
}

/// FULLY_CONNECTED 4 → 2 without options (all defaults), its code given only in the
/// deprecated one-byte field as files of before the 32-bit field have it.
fn tiny_dense() -> Spec {
    Spec {
        codes: vec![(9, None)],
        tensors: vec![
            tensor(&[1, 4], INT8, 0, Some((&[0.5], &[3], 0))),
            tensor(&[2, 4], INT8, 1, Some((&[0.25], &[0], 0))),
            tensor(&[2], INT32, 2, Some((&[0.125], &[0], 0))),
            tensor(&[1, 2], INT8, 0, Some((&[1.0], &[-5], 0))),
        ],
        inputs: vec![0],
        outputs: vec![3],
        operators: vec![(0, vec![0, 1, 2], vec![3], 0, None)],
        buffers: vec![
            vec![],
            vec![1, 2, 3, 4, 0xFF, 0xFE, 0xFD, 0x80],
            vec![7, 0, 0, 0, 0xF9, 0xFF, 0xFF, 0xFF],
        ],
        subgraphs: 1,
        version: 3,
    }
}

/// CONV_2D 3×3 stride 1 SAME on 1×4×4×1 → 1×4×4×2, per-channel weights.
fn tiny_conv() -> Spec {
    Spec {
        codes: vec![(3, Some(3))],
        tensors: vec![
            tensor(&[1, 4, 4, 1], INT8, 0, Some((&[0.5], &[0], 0))),
            tensor(&[2, 3, 3, 1], INT8, 1, Some((&[0.25, 0.5], &[0, 0], 0))),
            tensor(&[2], INT32, 2, Some((&[0.125, 0.25], &[0, 0], 0))),
            tensor(&[1, 4, 4, 2], INT8, 0, Some((&[1.0], &[0], 0))),
        ],
        inputs: vec![0],
        outputs: vec![3],
        operators: vec![(
            0,
            vec![0, 1, 2],
            vec![3],
            1,
            Some(vec![(6, V::U32(1)), (8, V::U32(1))]),
        )],
        buffers: vec![vec![], vec![1; 18], vec![0; 8]],
        subgraphs: 1,
        version: 3,
    }
}

/// DEPTHWISE_CONV_2D 3×3 on 1×4×4×2, VALID, stride 1, multiplier 1.
fn tiny_depthwise() -> Spec {
    let mut s = tiny_conv();
    s.codes = vec![(4, Some(4))];
    s.tensors[0] = tensor(&[1, 4, 4, 2], INT8, 0, Some((&[0.5], &[0], 0)));
    s.tensors[1] = tensor(&[1, 3, 3, 2], INT8, 1, Some((&[0.25, 0.5], &[0, 0], 3)));
    s.tensors[3] = tensor(&[1, 2, 2, 2], INT8, 0, Some((&[1.0], &[0], 0)));
    s.operators[0].3 = 2;
    s.operators[0].4 = Some(vec![
        (4, V::U8(1)),
        (6, V::U32(1)),
        (8, V::U32(1)),
        (10, V::U32(1)),
    ]);
    s
}

fn operator_error(r: Result<TfliteModel, ImportError>) -> (usize, OperatorCode, Problem) {
    match r {
        Err(ImportError::Operator {
            index,
            kind,
            problem,
        }) => (index, kind, problem),
        other => panic!("not an operator error: {other:?}"),
    }
}

#[test]
fn hand_built_model_reads_with_schema_defaults() {
    let m = tiny_dense().parse().unwrap();
    assert_eq!(m.description, "hand-built");
    assert_eq!((m.inputs.clone(), m.outputs.clone()), (vec![0], vec![3]));
    assert_eq!(m.operators.len(), 1);
    // No options: activation none, keep_num_dims false.
    assert_eq!(
        m.operators[0].op,
        Op::FullyConnected {
            activation: Activation::None,
            keep_num_dims: false
        }
    );
    assert_eq!(m.operators[0].inputs, [Some(0), Some(1), Some(2)]);
    assert_eq!(
        m.tensors[1].data_i8().unwrap(),
        [1, 2, 3, 4, -1, -2, -3, -128]
    );
    assert_eq!(m.tensors[2].data_i32().unwrap(), [7, -7]);
    assert_eq!(
        m.tensors[0].quantization,
        Quantization::PerTensor {
            scale: 0.5,
            zero_point: 3
        }
    );
    assert_eq!(m.tensors[0].data, None);
    assert_eq!(m.tensors[0].name, "");
    assert_eq!(m.tensors[3].shape, [1, 2]);

    let m = tiny_conv().parse().unwrap();
    let Op::Conv2d(conv) = m.operators[0].op else {
        panic!()
    };
    // Padding absent: SAME (0); activation absent: none.
    assert_eq!(
        (conv.padding, conv.activation, conv.stride_h, conv.stride_w),
        (Padding::Same, Activation::None, 1, 1)
    );
    assert_eq!(
        m.tensors[1].quantization,
        Quantization::PerAxis {
            axis: 0,
            scales: vec![0.25, 0.5],
            zero_points: vec![0, 0]
        }
    );
    let m = tiny_depthwise().parse().unwrap();
    assert!(matches!(m.operators[0].op, Op::DepthwiseConv2d(c) if c.padding == Padding::Valid));
}

#[test]
fn operator_code_is_the_larger_of_its_two_fields() {
    // A 32-bit code above the one-byte field's range, the byte holding 127 as converters
    // write it: the 32-bit code counts (150 is not imported).
    let mut s = tiny_dense();
    s.codes = vec![(127, Some(150))];
    let (index, kind, problem) = operator_error(s.parse());
    assert_eq!(
        (index, kind, problem),
        (0, OperatorCode(150), Problem::UnsupportedOperator)
    );
    // The 32-bit field written as 0 (ADD) beside the one-byte code of FULLY_CONNECTED:
    // the larger, FULLY_CONNECTED, counts.
    let mut s = tiny_dense();
    s.codes = vec![(9, Some(0))];
    assert_eq!(s.parse().unwrap().operator_names(), ["FULLY_CONNECTED"]);
    // The one-byte code alone (32-bit field absent, default 0).
    let mut s = tiny_dense();
    s.codes = vec![(18, None)];
    let err = s.parse().unwrap_err();
    assert_eq!(err.to_string(), "operator 0 (MUL): operator not supported");
}

#[test]
fn refusals_name_the_operator_and_tensor() {
    // Dilation 2.
    let mut s = tiny_conv();
    s.operators[0].4.as_mut().unwrap().push((12, V::U32(2)));
    assert_eq!(
        operator_error(s.parse()),
        (0, OperatorCode(3), Problem::Dilation { h: 1, w: 2 })
    );
    // Depth multiplier 2, and absent (schema default 0).
    let mut s = tiny_depthwise();
    s.operators[0].4.as_mut().unwrap()[3] = (10, V::U32(2));
    assert_eq!(operator_error(s.parse()).2, Problem::DepthMultiplier(2));
    let mut s = tiny_depthwise();
    s.operators[0].4.as_mut().unwrap().remove(3);
    assert_eq!(operator_error(s.parse()).2, Problem::DepthMultiplier(0));
    // Per-tensor convolution weights with two output channels.
    let mut s = tiny_conv();
    s.tensors[1] = tensor(&[2, 3, 3, 1], INT8, 1, Some((&[0.25], &[0], 0)));
    assert_eq!(
        operator_error(s.parse()).2,
        Problem::PerTensorWeights { tensor: 1 }
    );
    // Per-channel along another dimension than the output channel.
    let mut s = tiny_depthwise();
    s.tensors[1] = tensor(&[1, 3, 3, 2], INT8, 1, Some((&[0.25, 0.5], &[0, 0], 0)));
    // A 2-channel scale vector along dimension 0 (size 1) is inconsistent in itself.
    assert!(matches!(
        operator_error(s.parse()).2,
        Problem::Quantization { tensor: 1, .. }
    ));
    let mut s = tiny_conv();
    s.tensors[1] = tensor(&[2, 3, 3, 2], INT8, 1, Some((&[0.25, 0.5], &[0, 0], 3)));
    s.tensors[0] = tensor(&[1, 4, 4, 2], INT8, 0, Some((&[0.5], &[0], 0)));
    s.buffers[1] = vec![1; 36];
    assert_eq!(
        operator_error(s.parse()).2,
        Problem::QuantizedDimension {
            tensor: 1,
            found: 3,
            expected: 0
        }
    );
    // Weight zero point not 0.
    let mut s = tiny_dense();
    s.tensors[1] = tensor(&[2, 4], INT8, 1, Some((&[0.25], &[1], 0)));
    assert!(matches!(
        operator_error(s.parse()).2,
        Problem::Quantization { tensor: 1, .. }
    ));
    // An int16 activation.
    let mut s = tiny_dense();
    s.tensors[3] = tensor(&[1, 2], 7, 0, Some((&[1.0], &[0], 0)));
    assert_eq!(
        operator_error(s.parse()).2,
        Problem::TensorType {
            tensor: 3,
            found: 7,
            expected: "int8"
        }
    );
    // Shapes that do not connect.
    let mut s = tiny_dense();
    s.tensors[3] = tensor(&[1, 3], INT8, 0, Some((&[1.0], &[0], 0)));
    assert!(matches!(
        operator_error(s.parse()).2,
        Problem::Shape { tensor: 3, .. }
    ));
    let mut s = tiny_conv();
    s.tensors[3] = tensor(&[1, 2, 2, 2], INT8, 0, Some((&[1.0], &[0], 0)));
    assert!(matches!(
        operator_error(s.parse()).2,
        Problem::Shape { tensor: 3, .. }
    ));
    // Weights without data, and with too little.
    let mut s = tiny_dense();
    s.buffers[1].clear();
    assert_eq!(
        operator_error(s.parse()).2,
        Problem::MissingData { tensor: 1 }
    );
    let mut s = tiny_dense();
    s.buffers[1].pop();
    assert_eq!(
        operator_error(s.parse()).2,
        Problem::DataSize {
            tensor: 1,
            expected: 8,
            found: 7
        }
    );
    // An input nothing writes.
    let mut s = tiny_dense();
    s.inputs = vec![];
    assert_eq!(
        operator_error(s.parse()).2,
        Problem::Unproduced { tensor: 0 }
    );
    // A tensor index outside the subgraph; an opcode index outside the codes.
    let mut s = tiny_dense();
    s.operators[0].1[0] = 9;
    assert_eq!(operator_error(s.parse()).2, Problem::TensorIndex(9));
    let mut s = tiny_dense();
    s.operators[0].0 = 4;
    assert_eq!(
        operator_error(s.parse()),
        (0, OperatorCode(-1), Problem::OpcodeIndex(4))
    );
    // Options of another operator's type.
    let mut s = tiny_dense();
    s.operators[0].3 = 1;
    assert_eq!(
        operator_error(s.parse()).2,
        Problem::Options {
            expected: 8,
            found: 1
        }
    );
    // A fused TANH.
    let mut s = tiny_dense();
    s.operators[0].3 = 8;
    s.operators[0].4 = Some(vec![(4, V::U8(4))]);
    assert_eq!(operator_error(s.parse()).2, Problem::Activation(4));
}

#[test]
fn float_only_at_the_edges() {
    // QUANTIZE float → int8 at the input, DEQUANTIZE int8 → float at the output.
    let s = tiny_edges();
    let m = s.parse().unwrap();
    assert_eq!(m.operator_names(), ["QUANTIZE", "DEQUANTIZE"]);
    assert_eq!(m.tensors[0].element, ElementType::Float32);
    // The DEQUANTIZE's float output is not a subgraph output.
    let mut inside = s.clone();
    inside.outputs = vec![1];
    assert_eq!(
        operator_error(inside.parse()),
        (1, OperatorCode(6), Problem::FloatInside { tensor: 2 })
    );
    // A float input to FULLY_CONNECTED.
    let mut s = tiny_dense();
    s.tensors[0] = tensor(&[1, 4], FLOAT32, 0, None);
    assert!(matches!(
        operator_error(s.parse()).2,
        Problem::TensorType {
            tensor: 0,
            found: 0,
            ..
        }
    ));
}

#[test]
fn model_level_refusals() {
    let mut s = tiny_dense();
    s.subgraphs = 2;
    assert_eq!(
        s.parse().unwrap_err(),
        ImportError::Model(Problem::SubgraphCount(2))
    );
    s.subgraphs = 0;
    assert_eq!(
        s.parse().unwrap_err(),
        ImportError::Model(Problem::SubgraphCount(0))
    );
    let mut s = tiny_dense();
    s.version = 2;
    assert_eq!(
        s.parse().unwrap_err(),
        ImportError::Model(Problem::Version(2))
    );
    // A missing buffer.
    let mut s = tiny_dense();
    s.tensors[1] = tensor(&[2, 4], INT8, 9, Some((&[0.25], &[0], 0)));
    assert_eq!(
        s.parse().unwrap_err(),
        ImportError::Model(Problem::BufferIndex {
            tensor: 1,
            buffer: 9
        })
    );
    s.buffers.clear();
    assert!(matches!(
        s.parse().unwrap_err(),
        ImportError::Model(Problem::BufferIndex { .. })
    ));
    // A negative dimension.
    let mut s = tiny_dense();
    s.tensors[3] = tensor(&[-1, 2], INT8, 0, Some((&[1.0], &[0], 0)));
    assert!(matches!(
        s.parse().unwrap_err(),
        ImportError::Model(Problem::Shape { tensor: 3, .. })
    ));
    // A wrong identifier.
    let mut b = tiny_dense().bytes();
    b[7] = b'2';
    assert_eq!(
        malformed(TfliteModel::parse(&b)),
        "file identifier is not \"TFL3\""
    );
}

#[test]
fn verifier_limits() {
    // A vector of a million and one offsets to one tensor table: too many tables.
    let t = tiny_dense().tensors[0].clone();
    let bytes = serialize(&[
        (4, V::U32(3)),
        (
            8,
            V::Tables(vec![vec![(4, V::Repeat(t.clone(), 1_000_001))]]),
        ),
        (12, V::Tables(vec![vec![]])),
    ]);
    assert_eq!(malformed(TfliteModel::parse(&bytes)), "too many tables");
    // A hundred thousand tensors sharing one table with a 5,000-dimension shape: within
    // the verifier's limits, but reading them all would copy far more than the file.
    let mut big = t.clone();
    big[0] = (4, V::I32s(vec![1; 5000]));
    let bytes = serialize(&[
        (4, V::U32(3)),
        (8, V::Tables(vec![vec![(4, V::Repeat(big, 100_000))]])),
        (12, V::Tables(vec![vec![]])),
    ]);
    let what = malformed(TfliteModel::parse(&bytes));
    assert!(what.starts_with("tables shared"), "{what}");
    // A string without its terminating zero.
    let mut b = tiny_dense().bytes();
    let at = b.windows(10).position(|w| w == b"hand-built").unwrap();
    b[at + 10] = b'!';
    assert_eq!(
        malformed(TfliteModel::parse(&b)),
        "string without its terminating zero"
    );
    // A misaligned table offset.
    let mut b = tiny_dense().bytes();
    let r = root(&b) as u32;
    b[0..4].copy_from_slice(&(r + 1).to_le_bytes());
    assert_eq!(
        malformed(TfliteModel::parse(&b)),
        "table misaligned or outside the buffer"
    );
    // A misaligned vector: the description string moved by one byte.
    let mut b = tiny_dense().bytes();
    let (field, _) = field_target(&b, root(&b), 10);
    let o = u32::from_le_bytes(b[field..field + 4].try_into().unwrap());
    b[field..field + 4].copy_from_slice(&(o + 1).to_le_bytes());
    assert_eq!(
        malformed(TfliteModel::parse(&b)),
        "vector length misaligned or outside the buffer"
    );
}

/// SOFTMAX 1×3 → 1×3, with options of `beta` or without.
fn tiny_softmax(beta: Option<f32>) -> Spec {
    Spec {
        codes: vec![(25, Some(25))],
        tensors: vec![
            tensor(&[1, 3], INT8, 0, Some((&[0.1], &[2], 0))),
            tensor(&[1, 3], INT8, 0, Some((&[1.0 / 256.0], &[-128], 0))),
        ],
        inputs: vec![0],
        outputs: vec![1],
        operators: vec![(0, vec![0], vec![1], 9, beta.map(|b| vec![(4, V::F32(b))]))],
        buffers: vec![vec![]],
        subgraphs: 1,
        version: 3,
    }
}

/// QUANTIZE float → int8, then DEQUANTIZE int8 → float.
fn tiny_edges() -> Spec {
    Spec {
        codes: vec![(114, Some(114)), (6, Some(6))],
        tensors: vec![
            tensor(&[1, 3], FLOAT32, 0, None),
            tensor(&[1, 3], INT8, 0, Some((&[0.1], &[0], 0))),
            tensor(&[1, 3], FLOAT32, 0, None),
        ],
        inputs: vec![0],
        outputs: vec![2],
        operators: vec![
            (0, vec![0], vec![1], 0, None),
            (1, vec![1], vec![2], 0, None),
        ],
        buffers: vec![vec![]],
        subgraphs: 1,
        version: 3,
    }
}

#[test]
fn softmax_beta_and_its_default() {
    let m = tiny_softmax(Some(0.5)).parse().unwrap();
    assert_eq!(m.operators[0].op, Op::Softmax { beta: 0.5 });
    // Options absent: the schema's default beta, 0.
    let m = tiny_softmax(None).parse().unwrap();
    assert_eq!(m.operators[0].op, Op::Softmax { beta: 0.0 });
}

#[test]
fn buffer_outside_the_flatbuffer() {
    let bytes = serialize(&[
        (4, V::U32(3)),
        (
            8,
            V::Tables(vec![vec![(
                4,
                V::Tables(vec![tensor(&[1], INT8, 0, None)]),
            )]]),
        ),
        (12, V::Tables(vec![vec![(6, V::U64(100)), (8, V::U64(4))]])),
    ]);
    assert_eq!(
        TfliteModel::parse(&bytes).unwrap_err(),
        ImportError::Model(Problem::ExternalBuffer(0))
    );
}

/// Writes the fuzz target's seeds (`fuzz/corpus/tflite_import/`), each a valid model.
#[test]
fn fuzz_seeds_are_valid_models() {
    let dir = format!("{}/fuzz/corpus/tflite_import", env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let seeds = [
        ("dense", tiny_dense()),
        ("conv", tiny_conv()),
        ("depthwise", tiny_depthwise()),
        ("softmax", tiny_softmax(Some(1.0))),
        ("edges", tiny_edges()),
    ];
    for (name, spec) in seeds {
        let bytes = spec.bytes();
        TfliteModel::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        std::fs::write(format!("{dir}/{name}.tflite"), bytes).unwrap();
    }
}
