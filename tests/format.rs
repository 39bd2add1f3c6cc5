//! The weight file format: round trips, exact bytes, every refusal with its message, a
//! bit-exact resume, safetensors exchange with PyTorch, and fuzzing for panics.

use firmnet::format::safetensors::{
    export_safetensors, export_safetensors_file, import_safetensors, import_safetensors_file,
    import_safetensors_with, pytorch_name,
};
use firmnet::format::{
    self, Dims, Dtype, File, FileError, FormatError, OptimizerKind, RunState, Section, Value,
};
use firmnet::optim::{Sgd, SgdConfig};
use firmnet::prelude::*;
use firmnet::train::{TrainBuffers, classification_step};
use safetensors::tensor::TensorView;
use safetensors::{Dtype as StDtype, SafeTensors};

// ---------------------------------------------------------------------------------------
// Networks and helpers

type Small = Net![
    Dense<3, 4>,
    BatchNorm<4>,
    Relu<[f32; 4]>,
    Dropout<[f32; 4]>,
    Dense<4, 2>
];
type SmallGrad = <Small as Layer>::Grad;

fn small() -> Small {
    net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dropout::new(0.25),
        Dense::ZERO
    ]
}

/// Same layers, hidden width 5.
type Wide = Net![
    Dense<3, 5>,
    BatchNorm<5>,
    Relu<[f32; 5]>,
    Dropout<[f32; 5]>,
    Dense<5, 2>
];

/// Same sizes, tanh instead of ReLU.
type OtherKind = Net![
    Dense<3, 4>,
    BatchNorm<4>,
    Tanh<[f32; 4]>,
    Dropout<[f32; 4]>,
    Dense<4, 2>
];

const BATCH: usize = 8;

/// The batch of training step `step`: deterministic, different for every step.
fn batch(step: u64) -> ([[f32; 3]; BATCH], [u16; BATCH]) {
    let mut rng = Rng::new(1000 + step);
    let mut x = [[0.0; 3]; BATCH];
    let mut y = [0u16; BATCH];
    for (xi, yi) in x.iter_mut().zip(y.iter_mut()) {
        *xi = [rng.normal(), rng.normal(), rng.normal()];
        *yi = u16::from(xi[0] + 0.5 * xi[1] > 0.0);
    }
    (x, y)
}

/// `steps` training steps from step `from`, with Adam.
fn train(net: &mut Small, adam: &mut Adam<SmallGrad>, ctx: &mut Context, from: u64, steps: u64) {
    let mut buf: Box<TrainBuffers<Small, BATCH>> = Box::new(TrainBuffers::ZERO);
    for s in from..from + steps {
        let (x, y) = batch(s);
        classification_step(net, adam, &mut buf, ctx, &x, &y).unwrap();
    }
}

/// A network after a few Adam steps: every weight, γ, β and running statistic non-trivial.
fn trained() -> (Small, Adam<SmallGrad>, Context) {
    let mut net = small();
    net.init(Init::HeNormal, &mut Rng::new(3));
    let mut adam = Adam::new(AdamConfig::with_lr(0.01));
    let mut ctx = Context::new(5);
    train(&mut net, &mut adam, &mut ctx, 0, 6);
    (net, adam, ctx)
}

fn assert_same_params<P: Params>(a: &P, b: &P, what: &str) {
    for i in 0..P::TENSORS {
        let (x, y) = (a.tensor(i), b.tensor(i));
        assert_eq!(x.len(), y.len());
        for (j, (u, v)) in x.iter().zip(y).enumerate() {
            assert_eq!(u.to_bits(), v.to_bits(), "{what}: tensor {i}[{j}]");
        }
    }
}

fn assert_same_net<L: Layer>(a: &L, b: &L) {
    assert_same_params(a, b, "parameters");
    for i in 0..L::BUFFERS {
        let (x, y) = (a.buffer(i), b.buffer(i));
        for (j, (u, v)) in x.iter().zip(y).enumerate() {
            assert_eq!(u.to_bits(), v.to_bits(), "buffer {i}[{j}]");
        }
    }
}

/// Recomputes the checksum after an edit, so that parsing goes past it.
fn reseal(bytes: &mut [u8]) {
    let n = bytes.len();
    if n >= 4 {
        let crc = format::crc32(&bytes[..n - 4]);
        bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Tries every reader on `bytes`; a loader that fails must leave its destination as it was,
/// and one that succeeds must leave only finite values.
fn read_all_ways(bytes: &[u8]) {
    let _ = File::parse(bytes).map(|f| {
        f.layers().count();
        f.scalars().count();
        f.tensors().for_each(|t| {
            if let Some(v) = t.f32s() {
                v.for_each(|x| assert!(x.is_finite()));
            }
        });
    });
    let mut net = small();
    let before = net.clone();
    match format::load_params(bytes, &mut net) {
        Ok(()) => {
            for i in 0..Small::TENSORS {
                assert!(net.tensor(i).iter().all(|v| v.is_finite()));
            }
        }
        Err(_) => assert_same_net(&net, &before),
    }
    let mut net = small();
    let mut adam = Adam::<SmallGrad>::new(AdamConfig::DEFAULT);
    if format::load_training(bytes, &mut net, &mut adam).is_err() {
        assert_same_net(&net, &before);
        assert_eq!(adam.t, 0);
        assert_same_params(&adam.m, &SmallGrad::ZERO, "m after a failed load");
    }
    let mut net = small();
    if import_safetensors(bytes, &mut net).is_err() {
        assert_same_net(&net, &before);
    }
}

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn params_round_trip_is_bitwise_and_outputs_agree() {
    let (net, _, _) = trained();
    let bytes = format::save_params(&net).unwrap();
    assert_eq!(bytes.len(), format::params_len::<Small>());

    let mut copy = small();
    format::load_params(&bytes, &mut copy).unwrap();
    assert_same_net(&net, &copy);
    assert_eq!(copy.rest.rest.rest.first.rate, 0.25); // hyper-parameters come from the code

    let mut s1 = <Small as Layer>::Scratch::ZERO;
    let mut s2 = <Small as Layer>::Scratch::ZERO;
    for step in 0..4 {
        for x in batch(100 + step).0 {
            let (mut y1, mut y2) = ([0.0; 2], [0.0; 2]);
            net.forward(&x, &mut y1, &mut s1);
            copy.forward(&x, &mut y2, &mut s2);
            assert_eq!(y1.map(f32::to_bits), y2.map(f32::to_bits));
        }
    }

    // The heap-free writer gives the same bytes.
    let mut buf = [0u8; 1024];
    let n = format::write_params(&net, &mut buf).unwrap();
    assert_eq!(&buf[..n], &bytes[..]);
    assert_eq!(
        format::write_params(&net, &mut buf[..n - 1]),
        Err(FormatError::BufferTooSmall {
            needed: n,
            available: n - 1
        })
    );
}

#[test]
fn the_file_describes_itself() {
    let (net, _, _) = trained();
    let bytes = format::save_params(&net).unwrap();
    let file = File::parse(&bytes).unwrap();
    assert_eq!(file.version(), 1);
    assert_eq!(file.optimizer(), None);
    let kinds: Vec<_> = file
        .layers()
        .map(|l| (l.kind, l.inputs, l.outputs))
        .collect();
    assert_eq!(
        kinds,
        [
            ("dense", 3, 4),
            ("batch_norm", 4, 4),
            ("relu", 4, 4),
            ("dropout", 4, 4),
            ("dense", 4, 2)
        ]
    );
    let tensors: Vec<_> = file
        .tensors()
        .map(|t| (t.section, t.layer, t.name, t.rows, t.cols))
        .collect();
    assert_eq!(
        tensors,
        [
            (Section::Params, 0, "weight", 4, 3),
            (Section::Params, 0, "bias", 1, 4),
            (Section::Params, 1, "gamma", 1, 4),
            (Section::Params, 1, "beta", 1, 4),
            (Section::Params, 4, "weight", 2, 4),
            (Section::Params, 4, "bias", 1, 2),
            (Section::Buffers, 1, "running_mean", 1, 4),
            (Section::Buffers, 1, "running_var", 1, 4),
        ]
    );
    for t in file.tensors() {
        assert_eq!(
            t.offset % 4,
            0,
            "{} of layer {} is not aligned",
            t.name,
            t.layer
        );
        assert!(t.meta.is_empty());
        assert_eq!(t.dtype, Dtype::F32);
    }
    let w = file.tensor(Section::Params, 4, "weight").unwrap();
    let decoded: Vec<f32> = w.f32s().unwrap().collect();
    assert_eq!(decoded, net.rest.rest.rest.rest.weight.as_flattened());
    assert_eq!(w.f32_at(7), Some(net.rest.rest.rest.rest.weight[1][3]));
    assert_eq!(w.f32_at(8), None);
}

/// The exact bytes of a tiny network, built by hand from the layout tables (checksum from
/// zlib's `crc32`).
#[test]
fn exact_bytes_of_a_tiny_file() {
    #[rustfmt::skip]
    const EXPECTED: [u8; 120] = [
        0x46, 0x4E, 0x45, 0x54, 0x01, 0x00, 0x00, 0x00, 0x78, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x64, 0x65, 0x6E, 0x73,
        0x65, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x77, 0x65, 0x69, 0x67, 0x68, 0x74, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x01, 0x02, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x62, 0x69, 0x61, 0x73,
        0x00, 0x00, 0x80, 0x3E, 0xBD, 0x11, 0xC2, 0x4C,
    ];
    let mut layer = Dense::<2, 1>::ZERO;
    layer.weight = [[0.5, -2.0]];
    layer.bias = [0.25];
    assert_eq!(format::save_params(&layer).unwrap(), EXPECTED);
    assert_eq!(Raw::tiny().bytes(), EXPECTED);

    let mut back = Dense::<2, 1>::ZERO;
    format::load_params(&EXPECTED, &mut back).unwrap();
    assert_eq!(back, layer);
}

// ---------------------------------------------------------------------------------------
// Damage: every byte, every length, random bytes

#[test]
fn every_single_byte_change_is_refused() {
    let (net, adam, ctx) = trained();
    let params = format::save_params(&net).unwrap();
    let run = RunState {
        rng: ctx.rng,
        epoch: 1,
        step: 6,
    };
    let training = format::save_training(&net, &adam, &run, &[]).unwrap();
    for bytes in [&params, &training] {
        for pos in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut b = bytes.clone();
                b[pos] ^= flip;
                let mut n = small();
                let err = format::load_params(&b, &mut n).unwrap_err();
                let ok = match pos {
                    0..4 => matches!(err, FormatError::BadMagic { .. }),
                    4..6 => matches!(err, FormatError::UnsupportedVersion { .. }),
                    8..12 => matches!(
                        err,
                        FormatError::Truncated { .. } | FormatError::TrailingBytes { .. }
                    ),
                    _ => matches!(err, FormatError::Checksum { .. }),
                };
                assert!(ok, "byte {pos} ^ {flip:#04x}: {err}");
                let mut a = Adam::<SmallGrad>::new(AdamConfig::DEFAULT);
                assert!(format::load_training(&b, &mut n, &mut a).is_err());
                assert_same_net(&n, &small());
            }
        }
    }
}

#[test]
fn every_resealed_byte_change_is_handled() {
    // With the checksum recomputed, the damage reaches the record parser and the loaders:
    // each change is refused or loads finite values, and never panics.
    let (net, adam, ctx) = trained();
    let run = RunState {
        rng: ctx.rng,
        epoch: 1,
        step: 6,
    };
    let training = format::save_training(&net, &adam, &run, &[("best", Value::F32(0.5))]).unwrap();
    let mut refused = 0;
    for pos in 0..training.len() - 4 {
        for flip in [0x01u8, 0x10, 0x80, 0xFF] {
            let mut b = training.clone();
            b[pos] ^= flip;
            reseal(&mut b);
            read_all_ways(&b);
            let mut n = small();
            let mut a = Adam::<SmallGrad>::new(AdamConfig::DEFAULT);
            refused += usize::from(format::load_training(&b, &mut n, &mut a).is_err());
        }
    }
    // Changes inside the values may load (they are other valid values); the rest may not.
    assert!(refused > training.len(), "{refused} refusals");
}

#[test]
fn every_truncation_is_refused() {
    let (net, adam, ctx) = trained();
    let run = RunState {
        rng: ctx.rng,
        epoch: 0,
        step: 6,
    };
    let bytes = format::save_training(&net, &adam, &run, &[]).unwrap();
    for len in 0..bytes.len() {
        let err = format::load_params(&bytes[..len], &mut small()).unwrap_err();
        assert!(
            matches!(err, FormatError::Truncated { available, .. } if available == len),
            "length {len}: {err}"
        );
        read_all_ways(&bytes[..len]);
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        format::load_params(&longer, &mut small()),
        Err(FormatError::TrailingBytes {
            expected: bytes.len(),
            found: bytes.len() + 1
        })
    );
    let err = format::load_params(&bytes[..20], &mut small()).unwrap_err();
    assert_eq!(
        err.to_string(),
        std::format!("the file is truncated: it needs 36 bytes, only 20 are there")
    );
    let err = format::load_params(&bytes[..100], &mut small()).unwrap_err();
    assert_eq!(
        err.to_string(),
        std::format!(
            "the file is truncated: it needs {} bytes, only 100 are there",
            bytes.len()
        )
    );
}

#[test]
fn fuzz_random_bytes_and_mutations_never_panic() {
    let (net, adam, ctx) = trained();
    let run = RunState {
        rng: ctx.rng,
        epoch: 2,
        step: 6,
    };
    let seeds = [
        format::save_params(&net).unwrap(),
        format::save_training(&net, &adam, &run, &[("x", Value::U64(9))]).unwrap(),
        export_safetensors(&net).unwrap(),
    ];
    let mut rng = Rng::new(0xF022);
    // Random byte strings, some behind a valid magic and version.
    for i in 0..2000 {
        let len = rng.below(if i % 2 == 0 { 64 } else { 700 }) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        if i % 3 == 0 && len >= 12 {
            b[..6].copy_from_slice(b"FNET\x01\x00");
            b[8..12].copy_from_slice(&(len as u32).to_le_bytes());
            reseal(&mut b);
        }
        read_all_ways(&b);
    }
    // Mutations of valid files: overwritten, inserted and deleted bytes, cuts; half of
    // them with the length and checksum repaired.
    for i in 0..3000 {
        let mut b = seeds[i % seeds.len()].clone();
        for _ in 0..=rng.below(4) {
            let pos = rng.below(b.len() as u32) as usize;
            match rng.below(5) {
                0 | 1 => b[pos] = rng.next_u32() as u8,
                2 => b.insert(pos, rng.next_u32() as u8),
                3 => {
                    b.remove(pos);
                }
                _ => b.truncate(pos),
            }
            if b.is_empty() {
                break;
            }
        }
        if i % 2 == 0 && b.len() >= 12 && b.starts_with(b"FNET") {
            let n = b.len() as u32;
            b[8..12].copy_from_slice(&n.to_le_bytes());
            reseal(&mut b);
        }
        read_all_ways(&b);
    }
}

// ---------------------------------------------------------------------------------------
// Refusals, each with its message

#[test]
fn a_network_of_another_size_is_refused_by_shape() {
    type A = Net![Dense<3, 4>, Relu<[f32; 4]>, Dense<4, 2>];
    type B = Net![Dense<3, 4>, Relu<[f32; 4]>, Dense<4, 5>];
    let a: A = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];
    let bytes = format::save_params(&a).unwrap();
    let mut b: B = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];
    let err = format::load_params(&bytes, &mut b).unwrap_err();
    assert_eq!(
        err,
        FormatError::Shape {
            section: Section::Params,
            layer: 2,
            kind: "dense",
            tensor: format::Name::new("weight"),
            expected: Dims::matrix(5, 4),
            found: Dims::matrix(2, 4),
        }
    );
    assert_eq!(
        err.to_string(),
        "layer 2 (dense): weight has shape 2×4 in the file, the network expects 5×4"
    );

    let (net, _, _) = trained();
    let bytes = format::save_params(&net).unwrap();
    let mut wide: Wide = net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dropout::DEFAULT,
        Dense::ZERO
    ];
    let before = wide.clone();
    let err = format::load_params(&bytes, &mut wide).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0 (dense): weight has shape 4×3 in the file, the network expects 5×3"
    );
    assert_eq!(wide, before);
}

#[test]
fn a_network_of_another_kind_or_depth_is_refused() {
    let (net, _, _) = trained();
    let bytes = format::save_params(&net).unwrap();
    let mut other: OtherKind = net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Tanh::DEFAULT,
        Dropout::DEFAULT,
        Dense::ZERO
    ];
    let err = format::load_params(&bytes, &mut other).unwrap_err();
    assert!(matches!(
        err,
        FormatError::LayerKind { layer: 2, expected: "tanh", found } if found == "relu"
    ));
    assert_eq!(
        err.to_string(),
        "layer 2: the file has a relu layer, the network a tanh layer"
    );

    type Shorter = Net![Dense<3, 4>, BatchNorm<4>, Relu<[f32; 4]>, Dense<4, 2>];
    let mut shorter: Shorter = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
    let err = format::load_params(&bytes, &mut shorter).unwrap_err();
    assert_eq!(
        err,
        FormatError::LayerCount {
            expected: 4,
            found: 5
        }
    );
    assert_eq!(
        err.to_string(),
        "the file describes 5 layers, the network has 4"
    );

    // Only the sizes of a parameter-free layer differ.
    let bytes = format::save_params(&Relu::<[f32; 4]>::DEFAULT).unwrap();
    let mut relu6 = Relu::<[f32; 6]>::DEFAULT;
    let err = format::load_params(&bytes, &mut relu6).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0 (relu): the file has 4 inputs and 4 outputs, the network expects 6 and 6"
    );
}

#[test]
fn magic_version_flags_and_checksum_are_named() {
    let (net, _, _) = trained();
    let bytes = format::save_params(&net).unwrap();

    let png = b"\x89PNG\r\n\x1a\n and the rest of an image";
    let err = format::load_params(png, &mut small()).unwrap_err();
    assert_eq!(err, FormatError::BadMagic { found: *b"\x89PNG" });
    assert!(err.to_string().starts_with("not a firmnet weight file"));

    let mut v2 = bytes.clone();
    v2[4] = 2;
    reseal(&mut v2);
    let err = format::load_params(&v2, &mut small()).unwrap_err();
    assert_eq!(
        err,
        FormatError::UnsupportedVersion {
            found: 2,
            supported: 1
        }
    );
    assert_eq!(
        err.to_string(),
        "the file has format version 2; this build reads version 1"
    );

    let mut flagged = bytes.clone();
    flagged[6] = 1;
    reseal(&mut flagged);
    assert_eq!(
        format::load_params(&flagged, &mut small()),
        Err(FormatError::UnsupportedFlags { found: 1 })
    );

    let mut damaged = bytes.clone();
    damaged[40] ^= 4;
    let err = format::load_params(&damaged, &mut small()).unwrap_err();
    let stored = u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap());
    assert_eq!(
        err,
        FormatError::Checksum {
            stored,
            computed: format::crc32(&damaged[..damaged.len() - 4])
        }
    );
    assert!(
        err.to_string()
            .starts_with("the file is damaged: its checksum is 0x")
    );

    let mut reserved = bytes.clone();
    reserved[30] = 7;
    reseal(&mut reserved);
    assert_eq!(
        format::load_params(&reserved, &mut small()),
        Err(FormatError::Malformed {
            offset: 25,
            what: "reserved header bytes are not zero"
        })
    );
}

/// Patches value `index` of tensor `(section, layer, name)` and reseals.
fn patch(
    bytes: &[u8],
    section: Section,
    layer: usize,
    name: &str,
    index: usize,
    v: f32,
) -> Vec<u8> {
    let at = File::parse(bytes)
        .unwrap()
        .tensor(section, layer, name)
        .unwrap()
        .offset
        + 4 * index;
    let mut b = bytes.to_vec();
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    reseal(&mut b);
    b
}

#[test]
fn non_finite_and_negative_values_are_refused() {
    let (net, adam, ctx) = trained();
    let bytes = format::save_params(&net).unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let b = patch(&bytes, Section::Params, 4, "weight", 5, bad);
        let mut n = small();
        let err = format::load_params(&b, &mut n).unwrap_err();
        assert_eq!(
            err,
            FormatError::NonFinite {
                section: Section::Params,
                layer: 4,
                tensor: format::Name::new("weight"),
                index: 5
            }
        );
        assert_eq!(err.to_string(), "layer 4: weight[5] is NaN or infinite");
        assert_same_net(&n, &small());
    }
    let b = patch(&bytes, Section::Buffers, 1, "running_var", 2, -0.5);
    let err = format::load_params(&b, &mut small()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 1: running_var[2] is -0.5, it cannot be negative"
    );

    let run = RunState {
        rng: ctx.rng,
        epoch: 0,
        step: 6,
    };
    let t = format::save_training(&net, &adam, &run, &[]).unwrap();
    let b = patch(&t, Section::SecondMoment, 1, "beta", 0, -1e-9);
    let err = format::load_params(&b, &mut small()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 1: second moment of beta[0] is -0.000000001, it cannot be negative"
    );
    let b = patch(&t, Section::FirstMoment, 0, "weight", 11, f32::NAN);
    let err = format::load_params(&b, &mut small()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0: first moment of weight[11] is NaN or infinite"
    );

    // The writer refuses what the reader would.
    let mut broken = net.clone();
    broken.rest.first.gamma[3] = f32::NAN;
    assert!(matches!(
        format::save_params(&broken),
        Err(FormatError::NonFinite { layer: 1, index: 3, tensor, .. }) if tensor == "gamma"
    ));
    let mut broken = net.clone();
    broken.rest.first.running_var[0] = -1.0;
    assert!(matches!(
        format::save_params(&broken),
        Err(FormatError::Negative {
            layer: 1,
            index: 0,
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------
// Files built by hand from the layout tables: what the writer never produces

/// A scalar record: type code, name, value bytes.
type RawScalar = (u8, &'static str, Vec<u8>);

/// An edit of a hand-built file.
type Edit = fn(&mut Raw);

/// A safetensors entry: key, type, shape, bytes.
type Entry = (String, StDtype, Vec<usize>, Vec<u8>);

/// A file assembled from the layout tables, independently of the writer.
struct Raw {
    optimizer: u8,
    layers: Vec<(u32, u32, &'static str)>,
    scalars: Vec<RawScalar>,
    tensors: Vec<RawTensor>,
}

#[derive(Clone)]
struct RawTensor {
    section: u8,
    kind: u8,
    dtype: u8,
    layer: u32,
    rows: u32,
    cols: u32,
    name: &'static str,
    meta: Vec<u8>,
    data: Vec<u8>,
}

fn pad4(b: &mut Vec<u8>) {
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl Raw {
    /// `Dense<2, 1>` with weight `[[0.5, -2.0]]` and bias `[0.25]`.
    fn tiny() -> Raw {
        let t = |kind, name, cols, data: &[f32]| RawTensor {
            section: 1,
            kind,
            dtype: 1,
            layer: 0,
            rows: 1,
            cols,
            name,
            meta: vec![],
            data: f32_bytes(data),
        };
        Raw {
            optimizer: 0,
            layers: vec![(2, 1, "dense")],
            scalars: vec![],
            tensors: vec![t(1, "weight", 2, &[0.5, -2.0]), t(2, "bias", 1, &[0.25])],
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"FNET");
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes()); // length, below
        for n in [self.layers.len(), self.scalars.len(), self.tensors.len()] {
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.push(self.optimizer);
        b.extend_from_slice(&[0; 7]);
        for &(i, o, kind) in &self.layers {
            b.extend_from_slice(&i.to_le_bytes());
            b.extend_from_slice(&o.to_le_bytes());
            b.extend_from_slice(&[kind.len() as u8, 0, 0, 0]);
            b.extend_from_slice(kind.as_bytes());
            pad4(&mut b);
        }
        for (code, name, value) in &self.scalars {
            b.extend_from_slice(&[*code, name.len() as u8, 0, 0]);
            b.extend_from_slice(name.as_bytes());
            pad4(&mut b);
            b.extend_from_slice(value);
        }
        for t in &self.tensors {
            b.extend_from_slice(&[t.section, t.kind, t.dtype, t.name.len() as u8]);
            for v in [t.layer, t.rows, t.cols, t.meta.len() as u32] {
                b.extend_from_slice(&v.to_le_bytes());
            }
            b.extend_from_slice(t.name.as_bytes());
            pad4(&mut b);
            b.extend_from_slice(&t.meta);
            b.extend_from_slice(&t.data);
            pad4(&mut b);
        }
        let len = (b.len() + 4) as u32;
        b[8..12].copy_from_slice(&len.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        reseal(&mut b);
        b
    }
}

fn zero_tiny() -> Dense<2, 1> {
    Dense::ZERO
}

#[test]
fn hand_built_files_are_matched_by_name() {
    // Records in another order load the same.
    let mut raw = Raw::tiny();
    raw.tensors.reverse();
    let mut d = Dense::<2, 1>::ZERO;
    format::load_params(&raw.bytes(), &mut d).unwrap();
    assert_eq!((d.weight, d.bias), ([[0.5, -2.0]], [0.25]));

    // A tensor stored twice.
    let mut raw = Raw::tiny();
    raw.tensors.push(raw.tensors[1].clone());
    let err = format::load_params(&raw.bytes(), &mut zero_tiny()).unwrap_err();
    assert_eq!(
        err,
        FormatError::TensorCount {
            section: Section::Params,
            expected: 2,
            found: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "the file holds 3 tensors of parameters, the network expects 2"
    );

    // A tensor the network does not have.
    let mut raw = Raw::tiny();
    let mut extra = raw.tensors[1].clone();
    extra.name = "scale";
    extra.kind = 3;
    raw.tensors.push(extra);
    let err = format::load_params(&raw.bytes(), &mut zero_tiny()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0: the file has a scale the network does not have"
    );

    // A tensor the file lacks.
    let mut raw = Raw::tiny();
    raw.tensors[1].name = "bjas";
    let err = format::load_params(&raw.bytes(), &mut zero_tiny()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0: the file has no bias (the network has it)"
    );

    // A tensor of another kind.
    let mut raw = Raw::tiny();
    raw.tensors[1].kind = 4;
    let err = format::load_params(&raw.bytes(), &mut zero_tiny()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0: bias is a shift (β) in the file, the network expects a bias"
    );

    // An int8 tensor (reserved for quantized networks) with its quantization parameters.
    let mut raw = Raw::tiny();
    raw.tensors[0].dtype = 2;
    raw.tensors[0].meta = f32_bytes(&[0.02]);
    raw.tensors[0].data = vec![25, 0x9C];
    let bytes = raw.bytes();
    let file = File::parse(&bytes).unwrap();
    let w = file.tensor(Section::Params, 0, "weight").unwrap();
    assert_eq!(
        (w.dtype, w.meta.len(), w.data),
        (Dtype::I8, 4, &[25u8, 0x9C][..])
    );
    assert_eq!(w.f32s().map(|v| v.count()), None);
    let err = format::load_params(&bytes, &mut zero_tiny()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0: weight holds i8 values in the file, the network expects f32"
    );

    // Malformed records.
    let cases: [(Edit, &str); 7] = [
        (|r| r.tensors[0].dtype = 9, "unknown element type code"),
        (|r| r.tensors[0].section = 0, "unknown section code"),
        (|r| r.tensors[0].kind = 7, "unknown tensor kind code"),
        (
            |r| r.tensors[0].layer = 1,
            "a tensor names a layer beyond the layer table",
        ),
        (
            |r| r.tensors[0].name = "we ight",
            "a name is empty or has characters other than printable ASCII",
        ),
        (
            |r| r.tensors[0].meta = vec![0; 4],
            "tensor parameters of a wrong length for the element type",
        ),
        (
            |r| r.tensors[0].section = 3,
            "an optimizer moment the header's optimizer does not have",
        ),
    ];
    for (edit, what) in cases {
        let mut raw = Raw::tiny();
        edit(&mut raw);
        let err = format::load_params(&raw.bytes(), &mut zero_tiny()).unwrap_err();
        assert!(
            matches!(err, FormatError::Malformed { what: w, .. } if w == what),
            "{what}: got {err}"
        );
    }
    let mut raw = Raw::tiny();
    raw.tensors[1].rows = u32::MAX;
    raw.tensors[1].cols = u32::MAX;
    assert!(format::load_params(&raw.bytes(), &mut zero_tiny()).is_err());

    // Scalars: unknown type, duplicate, NaN, all-zero generator.
    let cases: [(Vec<RawScalar>, &str); 4] = [
        (
            vec![(9, "x", vec![0; 4])],
            "malformed file at byte 52: unknown scalar type",
        ),
        (
            vec![(1, "x", vec![1, 0, 0, 0]), (1, "x", vec![2, 0, 0, 0])],
            "scalar `x` appears twice",
        ),
        (
            vec![(3, "x", f32_bytes(&[f32::NAN]))],
            "scalar `x`: the value is NaN",
        ),
        (
            vec![(5, "x", vec![0; 16])],
            "scalar `x`: the all-zero state of a random generator",
        ),
    ];
    for (scalars, message) in cases {
        let mut raw = Raw::tiny();
        raw.scalars = scalars;
        let err = File::parse(&raw.bytes()).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    let mut raw = Raw::tiny();
    raw.scalars = vec![(3, "best_loss", f32_bytes(&[f32::INFINITY]))];
    let bytes = raw.bytes();
    assert_eq!(
        File::parse(&bytes).unwrap().scalar("best_loss"),
        Some(Value::F32(f32::INFINITY))
    );
}

// ---------------------------------------------------------------------------------------
// Training state

#[test]
fn training_state_round_trip_is_bitwise() {
    let (net, mut adam, ctx) = trained();
    adam.config.clip = firmnet::optim::Clip::norm(5.0);
    adam.config.weight_decay = 1e-4;
    let run = RunState {
        rng: ctx.rng,
        epoch: 3,
        step: adam.t.into(),
    };
    let shuffle = Rng::new(77);
    let extra = [
        ("best_accuracy", Value::F32(0.875)),
        ("patience_left", Value::U32(4)),
        ("shuffle_rng", Value::Rng(shuffle)),
        ("best_loss", Value::F64(f64::INFINITY)),
    ];
    let bytes = format::save_training(&net, &adam, &run, &extra).unwrap();
    assert_eq!(bytes.len(), format::training_len::<Small, _>(&adam, &extra));

    let mut net2 = small();
    let mut adam2 = Adam::<SmallGrad>::new(AdamConfig::DEFAULT);
    let run2 = format::load_training(&bytes, &mut net2, &mut adam2).unwrap();
    assert_eq!(run2, run);
    assert_same_net(&net, &net2);
    assert_same_params(&adam.m, &adam2.m, "m");
    assert_same_params(&adam.v, &adam2.v, "v");
    assert_eq!(adam2.t, adam.t);
    assert_eq!(adam2.config, adam.config);

    let file = File::parse(&bytes).unwrap();
    assert_eq!(file.optimizer(), Some(OptimizerKind::Adam));
    assert_eq!(file.scalar_f32("best_accuracy"), Ok(0.875));
    assert_eq!(file.scalar_u32("patience_left"), Ok(4));
    assert_eq!(file.scalar_rng("shuffle_rng"), Ok(shuffle));
    assert_eq!(file.scalar_f64("best_loss"), Ok(f64::INFINITY));
    assert_eq!(
        file.scalar_u64("best_accuracy"),
        Err(FormatError::ScalarType {
            name: format::Name::new("best_accuracy"),
            expected: "u64",
            found: "f32"
        })
    );
    assert_eq!(
        file.scalar_u64("nothing").unwrap_err().to_string(),
        "the file has no scalar `nothing`"
    );
    // The moments are stored as such, by the network's layer numbering.
    let m = file.tensor(Section::FirstMoment, 4, "bias").unwrap();
    assert_eq!(
        m.f32s().unwrap().collect::<Vec<_>>(),
        adam.m.rest.rest.rest.rest.bias
    );

    // A training file loads as parameters too.
    let mut net3 = small();
    format::load_params(&bytes, &mut net3).unwrap();
    assert_same_net(&net, &net3);

    // Names the run or the optimizer use cannot be reused; NaN is no value.
    assert_eq!(
        format::save_training(&net, &adam, &run, &[("adam.t", Value::U32(1))]),
        Err(FormatError::DuplicateScalar {
            name: format::Name::new("adam.t")
        })
    );
    assert!(matches!(
        format::save_training(
            &net,
            &adam,
            &run,
            &[("a", Value::U32(1)), ("a", Value::U32(2))]
        ),
        Err(FormatError::DuplicateScalar { .. })
    ));
    assert!(matches!(
        format::save_training(&net, &adam, &run, &[("a", Value::F32(f32::NAN))]),
        Err(FormatError::InvalidScalar { .. })
    ));
    assert!(matches!(
        format::save_training(&net, &adam, &run, &[("with space", Value::U32(1))]),
        Err(FormatError::InvalidName { .. })
    ));
}

/// Training 20 steps in one go, and 10 steps, a save, a load into fresh values and 10 more
/// steps, give the same bits: network, running statistics, moments, step, random stream.
#[test]
fn a_resumed_run_continues_bit_for_bit() {
    let mut net_a = small();
    net_a.init(Init::HeNormal, &mut Rng::new(11));
    let start = net_a.clone();
    let mut adam_a = Adam::<SmallGrad>::new(AdamConfig::with_lr(0.02));
    let mut ctx_a = Context::new(12);
    train(&mut net_a, &mut adam_a, &mut ctx_a, 0, 20);

    // The first half of the interrupted run: only the checkpoint survives it.
    let checkpoint = {
        let mut net_b = start;
        let mut adam_b = Adam::<SmallGrad>::new(AdamConfig::with_lr(0.02));
        let mut ctx_b = Context::new(12);
        train(&mut net_b, &mut adam_b, &mut ctx_b, 0, 10);
        let run = RunState {
            rng: ctx_b.rng,
            epoch: 0,
            step: 10,
        };
        format::save_training(&net_b, &adam_b, &run, &[]).unwrap()
    };

    let mut net_c = small();
    let mut adam_c = Adam::<SmallGrad>::new(AdamConfig::DEFAULT); // settings come from the file
    let run = format::load_training(&checkpoint, &mut net_c, &mut adam_c).unwrap();
    let mut ctx_c = Context {
        rng: run.rng,
        ..Context::new(0)
    };
    train(&mut net_c, &mut adam_c, &mut ctx_c, run.step, 10);

    assert_same_net(&net_a, &net_c);
    assert_same_params(&adam_a.m, &adam_c.m, "m");
    assert_same_params(&adam_a.v, &adam_c.v, "v");
    assert_eq!(adam_a.t, adam_c.t);
    assert_eq!(ctx_a.rng, ctx_c.rng);
}

#[test]
fn sgd_state_round_trip_and_optimizer_mismatch() {
    let (net, adam, ctx) = trained();
    let mut sgd = Sgd::<SmallGrad>::new(SgdConfig {
        momentum: 0.9,
        nesterov: true,
        ..SgdConfig::new(0.05)
    });
    let mut rng = Rng::new(4);
    for i in 0..SmallGrad::TENSORS {
        sgd.velocity
            .tensor_mut(i)
            .iter_mut()
            .for_each(|v| *v = rng.normal());
    }
    let run = RunState {
        rng: ctx.rng,
        epoch: 1,
        step: 2,
    };
    let bytes = format::save_training(&net, &sgd, &run, &[]).unwrap();
    let mut net2 = small();
    let mut sgd2 = Sgd::<SmallGrad>::new(SgdConfig::new(1.0));
    assert_eq!(format::load_training(&bytes, &mut net2, &mut sgd2), Ok(run));
    assert_same_params(&sgd.velocity, &sgd2.velocity, "velocity");
    assert_eq!(sgd2.config, sgd.config);

    // SGD's state does not resume Adam, nor Adam's SGD, nor a parameters-only file either.
    let mut a = Adam::<SmallGrad>::new(AdamConfig::DEFAULT);
    let err = format::load_training(&bytes, &mut small(), &mut a).unwrap_err();
    assert_eq!(
        err,
        FormatError::Optimizer {
            expected: OptimizerKind::Adam,
            found: Some(OptimizerKind::Sgd)
        }
    );
    assert_eq!(
        err.to_string(),
        "the file holds the state of SGD, not of Adam"
    );
    let adam_file = format::save_training(&net, &adam, &run, &[]).unwrap();
    assert!(format::load_training(&adam_file, &mut small(), &mut sgd2).is_err());
    let params = format::save_params(&net).unwrap();
    let err = format::load_training(&params, &mut small(), &mut a).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the file holds parameters only, no Adam state to resume from"
    );
}

// ---------------------------------------------------------------------------------------
// Files on disk

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(std::format!("firmnet-format-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn files_are_written_whole_and_errors_name_the_path() {
    let dir = temp_dir("files");
    let (net, adam, ctx) = trained();
    let path = dir.join("net.fnet");
    format::save_params_file(&path, &net).unwrap();
    format::save_params_file(&path, &net).unwrap(); // replaces
    let mut back = small();
    format::load_params_file(&path, &mut back).unwrap();
    assert_same_net(&net, &back);

    let ckpt = dir.join("run.fnet");
    let run = RunState {
        rng: ctx.rng,
        epoch: 1,
        step: 6,
    };
    format::save_training_file(&ckpt, &net, &adam, &run, &[]).unwrap();
    let mut a = Adam::<SmallGrad>::new(AdamConfig::DEFAULT);
    assert_eq!(
        format::load_training_file(&ckpt, &mut small(), &mut a).unwrap(),
        run
    );

    let st = dir.join("net.safetensors");
    export_safetensors_file(&st, &net).unwrap();
    let mut back = small();
    import_safetensors_file(&st, &mut back).unwrap();
    assert_same_net(&net, &back);

    // No temporary file is left behind.
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["net.fnet", "net.safetensors", "run.fnet"]);

    let missing = dir.join("missing.fnet");
    let err = format::load_params_file(&missing, &mut small()).unwrap_err();
    assert!(matches!(err, FileError::Io { .. }));
    assert!(
        err.to_string()
            .starts_with(&std::format!("{}: cannot read", missing.display()))
    );

    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(50);
    std::fs::write(&path, &bytes).unwrap();
    let err = format::load_params_file(&path, &mut small()).unwrap_err();
    assert!(matches!(
        err.format_error(),
        Some(FormatError::Truncated { available: 50, .. })
    ));
    assert!(
        err.to_string()
            .starts_with(&std::format!("{}: the file is truncated", path.display()))
    );

    let err = format::write_atomic(dir.join("no/such/dir/x.fnet"), b"x").unwrap_err();
    assert!(matches!(err, FileError::Io { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------
// safetensors

fn st_bytes(entries: &[(&str, StDtype, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let views: Vec<_> = entries
        .iter()
        .map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// The entries of a safetensors file, to edit.
fn st_entries(bytes: &[u8]) -> Vec<Entry> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let mut v: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn st_from(entries: &[Entry]) -> Vec<u8> {
    let e: Vec<_> = entries
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), *d, s.clone(), b.clone()))
        .collect();
    st_bytes(&e)
}

#[test]
fn safetensors_round_trip_with_pytorch_names() {
    let (net, _, _) = trained();
    let bytes = export_safetensors(&net).unwrap();
    let entries = st_entries(&bytes);
    let keys: Vec<_> = entries
        .iter()
        .map(|e| (e.0.as_str(), e.2.clone()))
        .collect();
    assert_eq!(
        keys,
        [
            ("0.bias", vec![4]),
            ("0.weight", vec![4, 3]),
            ("1.bias", vec![4]),
            ("1.num_batches_tracked", vec![]),
            ("1.running_mean", vec![4]),
            ("1.running_var", vec![4]),
            ("1.weight", vec![4]),
            ("4.bias", vec![2]),
            ("4.weight", vec![2, 4]),
        ]
    );
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let gamma = st.tensor("1.weight").unwrap();
    assert_eq!(gamma.dtype(), StDtype::F32);
    assert_eq!(gamma.data(), &f32_bytes(&net.rest.first.gamma)[..]);

    let mut back = small();
    import_safetensors(&bytes, &mut back).unwrap();
    assert_same_net(&net, &back);

    // Another naming, e.g. a Sequential held as `model.net`.
    let prefixed = firmnet::format::safetensors::export_safetensors_with(&net, |l, t| {
        std::format!("net.{l}.{t}")
    })
    .unwrap();
    let mut back = small();
    import_safetensors_with(&prefixed, &mut back, |l, t| std::format!("net.{l}.{t}")).unwrap();
    assert_same_net(&net, &back);
    let err = import_safetensors(&prefixed, &mut small()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0: the file has no 0.weight (the network has it)"
    );
    assert_eq!(pytorch_name(3, "running_var"), "3.running_var");
}

#[test]
fn safetensors_names_shapes_types_and_values_are_checked() {
    let (net, _, _) = trained();
    let good = st_entries(&export_safetensors(&net).unwrap());
    let edit = |f: &dyn Fn(&mut Vec<Entry>)| {
        let mut e = good.clone();
        f(&mut e);
        let mut n = small();
        let before = n.clone();
        let r = import_safetensors(&st_from(&e), &mut n);
        if r.is_err() {
            assert_same_net(&n, &before);
        }
        r
    };
    let at = |e: &mut Vec<Entry>, k: &str| e.iter().position(|x| x.0 == k).unwrap();

    let err = edit(&|e| {
        let i = at(e, "1.running_var");
        e.remove(i);
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 1: the file has no 1.running_var (the network has it)"
    );

    let err =
        edit(&|e| e.push(("9.weight".into(), StDtype::F32, vec![1], vec![0; 4]))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the safetensors file has a tensor `9.weight` the network has no place for"
    );

    let err = edit(&|e| {
        let i = at(e, "0.weight");
        e[i].2 = vec![3, 4]; // transposed
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0 (dense): 0.weight has shape 3×4 in the file, the network expects 4×3"
    );
    let err = edit(&|e| {
        let i = at(e, "1.weight");
        e[i].2 = vec![1, 4];
    })
    .unwrap_err();
    assert!(matches!(err, FormatError::Shape { layer: 1, .. }), "{err}");

    let err = edit(&|e| {
        let i = at(e, "4.bias");
        e[i].1 = StDtype::I32;
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "safetensors tensor `4.bias` holds I32 values; F32, F64, F16 or BF16 are expected"
    );

    let err = edit(&|e| {
        let i = at(e, "4.bias");
        e[i].3 = f32_bytes(&[1.0, f32::NAN]);
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "layer 4: 4.bias[1] is NaN or infinite");

    let err = edit(&|e| {
        let i = at(e, "1.running_var");
        e[i].3 = f32_bytes(&[1.0, 1.0, -1.0, 1.0]);
    })
    .unwrap_err();
    assert!(
        matches!(err, FormatError::Negative { index: 2, .. }),
        "{err}"
    );

    // F64, F16 and BF16 are converted; num_batches_tracked may be absent.
    let mut n = small();
    let mut e = good.clone();
    let i = at(&mut e, "0.bias");
    e[i].1 = StDtype::F64;
    e[i].3 = [1.5f64, -2.0, 0.1, 1e-3]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let i = at(&mut e, "4.bias");
    e[i].1 = StDtype::F16;
    e[i].3 = [0x3C00u16, 0xC100]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let i = at(&mut e, "1.bias");
    e[i].1 = StDtype::BF16;
    e[i].3 = [0x3F80u16, 0x4000, 0xBF80, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let i = at(&mut e, "1.num_batches_tracked");
    e.remove(i);
    import_safetensors(&st_from(&e), &mut n).unwrap();
    assert_eq!(n.first.bias, [1.5, -2.0, 0.1, 1e-3]);
    assert_eq!(n.rest.rest.rest.rest.bias, [1.0, -2.5]);
    assert_eq!(n.rest.first.beta, [1.0, 2.0, -1.0, 0.0]);

    let err = edit(&|e| {
        let i = at(e, "0.bias");
        e[i].1 = StDtype::F64;
        e[i].3 = [1e300f64, 0.0, 0.0, 0.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
    })
    .unwrap_err();
    assert!(
        matches!(err, FormatError::NonFinite { index: 0, .. }),
        "{err}"
    );

    for junk in [
        &b""[..],
        b"\x08\0\0\0\0\0\0\0{\"a\":1} ",
        b"\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x04\0\0\0\0\0\0\0[1]",
    ] {
        let err = import_safetensors(junk, &mut small()).unwrap_err();
        assert!(matches!(err, FormatError::Safetensors { .. }), "{err}");
        assert!(err.to_string().starts_with("invalid safetensors file: "));
    }
    // An empty file is valid safetensors, and lacks everything.
    let err = import_safetensors(b"\x08\0\0\0\0\0\0\0{}      ", &mut small()).unwrap_err();
    assert!(
        matches!(err, FormatError::MissingTensor { layer: 0, .. }),
        "{err}"
    );
}

type Torch = Net![Dense<4, 8>, BatchNorm<8>, Relu<[f32; 8]>, Dense<8, 3>];

fn torch() -> Torch {
    net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO]
}

/// Weights in PyTorch's layout, written by numpy's safetensors (tests/data/make_safetensors.py),
/// give the outputs PyTorch's formulas give.
#[test]
fn pytorch_weights_load_and_compute_what_pytorch_computes() {
    let io_bytes = include_bytes!("data/pytorch_mlp_io.safetensors");
    let io = SafeTensors::deserialize(io_bytes).unwrap();
    let f64s = |name: &str| -> Vec<f64> {
        let t = io.tensor(name).unwrap();
        t.data()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let (x, y) = (f64s("input"), f64s("output"));
    for (file, want) in [
        (&include_bytes!("data/pytorch_mlp.safetensors")[..], &y),
        (
            &include_bytes!("data/pytorch_mlp_f16.safetensors")[..],
            &f64s("output_f16"),
        ),
    ] {
        let mut net = torch();
        import_safetensors(file, &mut net).unwrap();
        let mut scratch = <Torch as Layer>::Scratch::ZERO;
        for (xi, yi) in x.chunks_exact(4).zip(want.chunks_exact(3)) {
            let input: [f32; 4] = core::array::from_fn(|j| xi[j] as f32);
            let mut out = [0.0; 3];
            net.forward(&input, &mut out, &mut scratch);
            for (o, r) in out.iter().zip(yi) {
                let err = (f64::from(*o) - r).abs() / (1.0 + r.abs());
                assert!(err < 1e-5, "{o} vs {r}");
            }
        }
    }

    // The export has the fixture's keys and shapes, and reads back the same.
    let mut net = torch();
    import_safetensors(include_bytes!("data/pytorch_mlp.safetensors"), &mut net).unwrap();
    let ours = st_entries(&export_safetensors(&net).unwrap());
    let theirs = st_entries(include_bytes!("data/pytorch_mlp.safetensors"));
    let shape = |v: &[Entry]| -> Vec<(String, StDtype, Vec<usize>)> {
        v.iter().map(|e| (e.0.clone(), e.1, e.2.clone())).collect()
    };
    assert_eq!(shape(&ours), shape(&theirs));
    for (a, b) in ours.iter().zip(&theirs) {
        if a.0 != "1.num_batches_tracked" {
            assert_eq!(a.3, b.3, "{}", a.0);
        }
    }

    // A network that does not fit the file.
    type Other = Net![Dense<4, 6>, BatchNorm<6>, Relu<[f32; 6]>, Dense<6, 3>];
    let mut other: Other = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
    let err =
        import_safetensors(include_bytes!("data/pytorch_mlp.safetensors"), &mut other).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layer 0 (dense): 0.weight has shape 8×4 in the file, the network expects 6×4"
    );
}
