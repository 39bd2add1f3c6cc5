//! The weight file format (version 2), float networks: bit-exact round trips with every
//! attribute, the exact bytes of a tiny file, damage of every kind (every byte, resealed or
//! not, every truncation, random bytes and mutations), what the writer refuses, the 32-byte
//! error and its messages, files on disk, Rust source compiled back, and the safetensors
//! exchange with PyTorch. Int8 networks are in `format_int8.rs`, corrupted files that only
//! the semantic checks catch in `format_corrupt.rs`, checkpoints in `format_training.rs`.

mod format_shared;

use firmnet::format::safetensors::{
    Export, INPUT_KEY, SafetensorsError, export_safetensors, export_safetensors_file,
    export_safetensors_with, import_safetensors, import_safetensors_file,
    import_safetensors_file_with, import_safetensors_with, metadata,
    prefixed as safetensors_prefixed, pytorch_name,
};
use firmnet::format::{
    self, Aligned, ErrorCode, File, FileError, FileKind, FormatError, RunState, Section, Value,
};
use firmnet::layers::ParamKind;
use firmnet::models::FASHION_MLP;
use firmnet::prelude::*;
use firmnet::quant::Borrowed;
use firmnet::spec::{Attr, Dtype, Rule};
use firmnet::tensor::Shape;
use format_shared::*;
use safetensors::tensor::TensorView;
use safetensors::{Dtype as StDtype, SafeTensors};

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn zoo_round_trip_is_bitwise_with_every_attribute() {
    let net = zoo(1);
    let bytes = format::save(&net).unwrap();
    assert_eq!(bytes.len(), format::len(&net).unwrap());

    // Loaded into a network whose attributes all differ: they come from the file.
    let mut copy: Zoo = net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        LeakyRelu::DEFAULT,
        Dropout::DEFAULT,
        Dense::ZERO,
        Tanh::DEFAULT,
        firmnet::layers::GaussianNoise::DEFAULT,
        Dense::ZERO,
        Sigmoid::DEFAULT,
        firmnet::layers::ActivityL1::new(0.0),
        Dense::ZERO,
        Relu6::DEFAULT,
        Dense::ZERO
    ];
    format::load(&bytes, &mut copy).unwrap();
    assert_same(&net, &copy);
    let bn = &copy.rest.first;
    assert_eq!((bn.eps, bn.momentum), (ZOO_EPS, ZOO_MOMENTUM));
    assert_eq!(copy.rest.rest.first.f.slope, ZOO_SLOPE);
    assert_eq!(copy.rest.rest.rest.first.rate, ZOO_RATE);
    let attr = |i: usize| copy.layer(i).unwrap().attr(0).unwrap();
    assert_eq!(attr(6), Attr::F32(ZOO_SIGMA));
    assert_eq!(attr(9), Attr::F32(ZOO_LAMBDA));
    assert_eq!(bn.running_var, net.rest.first.running_var);
    assert_eq!(
        copy.rest.rest.rest.rest.first.weight,
        net.rest.rest.rest.rest.first.weight
    );

    // The same function, to the bit.
    let xs = inputs::<3>(2, 32);
    assert_eq!(bits(&outputs(&net, &xs)), bits(&outputs(&copy, &xs)));

    // Saving the loaded network gives the same bytes; so does the heap-free writer, and a
    // buffer one byte short is refused with both sizes.
    assert_eq!(format::save(&copy).unwrap(), bytes);
    let mut buf = vec![0xAAu8; bytes.len() + 7];
    let n = format::write(&net, &mut buf).unwrap();
    assert_eq!(&buf[..n], &bytes[..]);
    let err = format::write(&net, &mut buf[..n - 1]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::BufferTooSmall);
    assert_eq!((err.expected(), err.found()), (n as u32, n as u32 - 1));
    assert_eq!(
        err.to_string(),
        std::format!(
            "the buffer is too small: the file needs {n} bytes, the buffer has {}",
            n - 1
        )
    );
}

#[test]
fn trained_network_round_trip_keeps_running_statistics() {
    let (net, _, _) = trained(3);
    // Training moved the running statistics away from the defaults.
    assert_ne!(net.rest.first.running_mean, [0.0; 4]);
    assert_ne!(net.rest.first.running_var, [1.0; 4]);
    let bytes = format::save(&net).unwrap();
    let mut copy = mlp();
    copy.rest.rest.rest.first.rate = 0.75; // the file's rate replaces it
    format::load(&bytes, &mut copy).unwrap();
    assert_same(&net, &copy);
    assert_eq!(copy.rest.rest.rest.first.rate, 0.25);
    let xs = inputs::<3>(4, 16);
    assert_eq!(bits(&outputs(&net, &xs)), bits(&outputs(&copy, &xs)));
}

#[test]
fn fashion_mlp_round_trip() {
    let mut net = firmnet::boxed!(FASHION_MLP);
    net.init(Init::HeNormal, &mut Rng::new(5));
    net.rest.first.running_var[7] = 3.5;
    net.rest.first.running_mean[255] = -0.25;
    let bytes = format::save(&*net).unwrap();
    assert_eq!(bytes.len(), format::len(&*net).unwrap());
    let mut copy = firmnet::boxed!(FASHION_MLP);
    copy.rest.rest.rest.first.rate = 0.5;
    format::load(&bytes, &mut *copy).unwrap();
    assert_same(&*net, &*copy);
    assert_eq!(copy.rest.rest.rest.first.rate, 0.2);
    let xs = inputs::<784>(6, 4);
    assert_eq!(bits(&outputs(&*net, &xs)), bits(&outputs(&*copy, &xs)));
    // And in place from an aligned blob, as in flash.
    let mut blob = vec![0u32; bytes.len() / 4];
    bytemuck::cast_slice_mut::<u32, u8>(&mut blob).copy_from_slice(&bytes);
    let mut again = firmnet::boxed!(FASHION_MLP);
    format::load(bytemuck::cast_slice(&blob), &mut *again).unwrap();
    assert_same(&*net, &*again);
}

#[test]
fn the_file_describes_itself() {
    let net = zoo(7);
    let bytes = format::save(&net).unwrap();
    let file = File::parse(&bytes).unwrap();
    assert_eq!(file.kind(), FileKind::Float);
    assert_eq!(file.optimizer(), None);
    assert_eq!(file.source(), None);
    assert_eq!(file.len(), bytes.len());
    assert_eq!(
        file.checksum(),
        u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().unwrap())
    );
    assert_eq!(file.scalars().count(), 0);
    let layers: Vec<_> = file
        .layers()
        .map(|l| {
            (
                l.index,
                l.kind,
                l.input.dims().to_vec(),
                l.output.dims().to_vec(),
            )
        })
        .collect();
    let v = |n: usize| vec![n];
    assert_eq!(
        layers,
        [
            (0, "dense", v(3), v(5)),
            (1, "batch_norm", v(5), v(5)),
            (2, "leaky_relu", v(5), v(5)),
            (3, "dropout", v(5), v(5)),
            (4, "dense", v(5), v(4)),
            (5, "tanh", v(4), v(4)),
            (6, "gaussian_noise", v(4), v(4)),
            (7, "dense", v(4), v(4)),
            (8, "sigmoid", v(4), v(4)),
            (9, "activity_l1", v(4), v(4)),
            (10, "dense", v(4), v(3)),
            (11, "relu6", v(3), v(3)),
            (12, "dense", v(3), v(2)),
        ]
    );
    let attrs: Vec<Vec<_>> = file
        .layers()
        .map(|l| l.attrs().map(|a| (a.name, a.value)).collect())
        .collect();
    assert_eq!(
        attrs[1],
        [
            ("eps", Attr::F32(ZOO_EPS)),
            ("momentum", Attr::F32(ZOO_MOMENTUM))
        ]
    );
    assert_eq!(attrs[2], [("slope", Attr::F32(ZOO_SLOPE))]);
    assert_eq!(attrs[3], [("rate", Attr::F32(ZOO_RATE))]);
    assert_eq!(attrs[6], [("sigma", Attr::F32(ZOO_SIGMA))]);
    assert_eq!(attrs[9], [("lambda", Attr::F32(ZOO_LAMBDA))]);
    for i in [0, 4, 5, 7, 8, 10, 11, 12] {
        assert!(attrs[i].is_empty(), "layer {i}");
    }

    let bn = file.layer(1).unwrap();
    let tensors: Vec<_> = bn
        .tensors()
        .map(|t| (t.section, t.name, t.kind, t.dtype, t.shape.dims().to_vec()))
        .collect();
    assert_eq!(
        tensors,
        [
            (
                Section::Network,
                "gamma",
                ParamKind::Scale,
                Dtype::F32,
                v(5)
            ),
            (Section::Network, "beta", ParamKind::Shift, Dtype::F32, v(5)),
            (
                Section::Network,
                "running_mean",
                ParamKind::RunningMean,
                Dtype::F32,
                v(5)
            ),
            (
                Section::Network,
                "running_var",
                ParamKind::RunningVar,
                Dtype::F32,
                v(5)
            ),
        ]
    );
    let var = bn.tensor(Section::Network, "running_var").unwrap();
    assert!(var.f32s().unwrap().eq(net.rest.first.running_var));
    assert_eq!(var.i32s().map(|v| v.count()), None);
    let w = file
        .layer(12)
        .unwrap()
        .tensor(Section::Network, "weight")
        .unwrap();
    assert_eq!(w.shape, Shape::matrix(2, 3));
    assert_eq!(
        (w.kind, w.dtype, w.data.len()),
        (ParamKind::Weight, Dtype::F32, 24)
    );
    let last = &net
        .rest
        .rest
        .rest
        .rest
        .rest
        .rest
        .rest
        .rest
        .rest
        .rest
        .rest
        .rest;
    assert!(
        w.f32s()
            .unwrap()
            .eq(last.weight.as_flattened().iter().copied())
    );
    for l in file.layers() {
        for t in l.tensors() {
            assert_eq!(t.offset % 4, 0, "layer {} {}", l.index, t.name);
            assert_eq!(&bytes[t.offset..t.offset + t.data.len()], t.data);
        }
    }
    // The documented layout, walked independently, finds the same records.
    let w = walk_matches_reader(&bytes);
    assert_eq!(w.layers.len(), 13);
    assert_eq!(w.layers[0].at, 32);
}

/// The exact bytes of a tiny network, assembled by hand from the tables of the module
/// docs, one 32-bit little-endian word per field (the checksum from zlib's `crc32`).
#[test]
fn exact_bytes_of_a_tiny_file() {
    let mut e: Vec<u8> = Vec::new();
    let mut words = |ws: &[u32]| {
        ws.iter()
            .for_each(|w| e.extend_from_slice(&w.to_le_bytes()))
    };
    // Header: magic, version 2, kind 1 (float), flags 0, length 284, 2 layers, 0 scalars,
    // digest 0, optimizer 0, source flag 0, best flag 0, 5 reserved.
    words(&[
        u32::from_le_bytes(*b"FNET"),
        0x0001_0002,
        284,
        2,
        0,
        0,
        0,
        0,
    ]);
    // Layer 0: length 168 = 56 + 8 + 56 + 48, kind of 5 bytes, input rank 1 [2, 0, 0, 0],
    // output rank 1 [1, 0, 0, 0], 0 attributes, 2 tensors; "dense" + 3 zeros.
    words(&[168, 5, 1, 2, 0, 0, 0, 1, 1, 0, 0, 0, 0, 2]);
    words(&[u32::from_le_bytes(*b"dens"), u32::from(b'e')]);
    // Tensor: section 1, name of 6 bytes, kind 1 (weight), type 1 (f32), rank 2, shape
    // [1, 2, 0, 0], 8 bytes; "weight" + 2 zeros; 0.5, -2.0.
    words(&[1, 6, 1, 1, 2, 1, 2, 0, 0, 8]);
    words(&[u32::from_le_bytes(*b"weig"), u32::from_le_bytes(*b"ht\0\0")]);
    words(&[0x3F00_0000, 0xC000_0000]);
    // Tensor: section 1, name of 4 bytes, kind 2 (bias), f32, rank 1, shape [1, 0, 0, 0],
    // 4 bytes; "bias"; 0.25.
    words(&[1, 4, 2, 1, 1, 1, 0, 0, 0, 4]);
    words(&[u32::from_le_bytes(*b"bias"), 0x3E80_0000]);
    // Layer 1: length 80 = 56 + 8 + 16, kind of 7 bytes, input [1], output [1],
    // 1 attribute, 0 tensors; "dropout" + 1 zero.
    words(&[80, 7, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0]);
    words(&[u32::from_le_bytes(*b"drop"), u32::from_le_bytes(*b"out\0")]);
    // Attribute: type 1 (f32), name of 4 bytes, value 0.25; "rate".
    words(&[1, 4, 0x3E80_0000, u32::from_le_bytes(*b"rate")]);
    // CRC-32 of the 280 bytes before it.
    words(&[0xFCE0_6B0B]);
    assert_eq!(e.len(), 284);
    assert_eq!(format::crc32(&e[..280]), 0xFCE0_6B0B);

    type Tiny = Net![Dense<2, 1>, Dropout<[f32; 1]>];
    let mut tiny: Tiny = net![Dense::ZERO, Dropout::new(0.25)];
    tiny.first.weight = [[0.5, -2.0]];
    tiny.first.bias = [0.25];
    assert_eq!(format::save(&tiny).unwrap(), e);
    assert_eq!(format::len(&tiny), Ok(284));
    let file = File::parse(&e).unwrap();
    assert_eq!(file.checksum(), 0xFCE0_6B0B);

    let mut back: Tiny = net![Dense::ZERO, Dropout::new(0.9)];
    format::load(&e, &mut back).unwrap();
    assert_eq!(back.first.weight, [[0.5, -2.0]]);
    assert_eq!(back.first.bias, [0.25]);
    assert_eq!(back.rest.rate, 0.25);

    // A file at any address loads (copies are decoded byte by byte).
    let mut shifted = Aligned([0u8; 296]);
    shifted.0[3..287].copy_from_slice(&e);
    let mut back: Tiny = net![Dense::ZERO, Dropout::new(0.9)];
    format::load(&shifted.0[3..287], &mut back).unwrap();
    assert_eq!(back.first.weight, [[0.5, -2.0]]);
}

// ---------------------------------------------------------------------------------------
// Damage: every byte, resealed or not, every length, random bytes

/// The code a single changed byte at `pos` must give, the checksum left as it was.
fn expected_code(pos: usize) -> ErrorCode {
    match pos {
        0..4 => ErrorCode::BadMagic,
        4..6 => ErrorCode::UnsupportedVersion,
        8..12 => ErrorCode::Damaged,
        _ => ErrorCode::Checksum,
    }
}

#[test]
fn every_single_byte_change_is_refused_by_the_checksum() {
    let (net, _, _) = trained(8);
    let files = [format::save(&net).unwrap(), format::save(&zoo(9)).unwrap()];
    let (mlp_blank, zoo_blank) = (mlp(), zoo_zero());
    for bytes in &files {
        for pos in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut b = bytes.clone();
                b[pos] ^= flip;
                let err = if bytes.len() == files[0].len() {
                    refused(&b, &mlp_blank)
                } else {
                    refused(&b, &zoo_blank)
                };
                assert_eq!(
                    err.code(),
                    expected_code(pos),
                    "byte {pos} ^ {flip:#04x}: {err}"
                );
                assert_eq!(File::parse(&b).unwrap_err(), err);
            }
        }
    }
}

/// The byte ranges of a file that hold values (tensor elements, attribute values, scalar
/// values): a change there may give another valid file.
fn value_ranges(bytes: &[u8]) -> Vec<core::ops::Range<usize>> {
    let w = walk(bytes);
    let mut r = Vec::new();
    for l in &w.layers {
        r.extend(l.attrs.iter().map(|a| a.value..a.value + 4));
        r.extend(l.tensors.iter().map(|t| t.data..t.data + t.len));
    }
    r.extend(w.scalars.iter().map(|s| s.value..s.value + 4));
    r
}

#[test]
fn every_resealed_byte_change_is_refused_or_loads_a_valid_network() {
    // With the checksum recomputed, the damage reaches the records and the checks: a
    // change of the structure (header, lengths, codes, names, shapes, padding) is refused
    // with a typed error and leaves the network untouched; a change of a value either
    // breaks its rule and is refused, or loads a network that saves back to exactly those
    // bytes (so every loaded value obeys the writer's rules).
    let net = zoo(10);
    let bytes = format::save(&net).unwrap();
    let values = value_ranges(&bytes);
    let blank = zoo_zero();
    let (mut loaded, mut refused_values) = (0, 0);
    for pos in 0..bytes.len() - 4 {
        for flip in [0x01u8, 0x10, 0x80, 0xFF] {
            let b = resealed(&bytes, |b| b[pos] ^= flip);
            let mut copy = blank.clone();
            match format::load(&b, &mut copy) {
                Ok(()) => {
                    assert!(
                        values.iter().any(|r| r.contains(&pos)),
                        "byte {pos} ^ {flip:#04x} is structure, yet the file loads"
                    );
                    assert_eq!(format::save(&copy).unwrap(), b, "byte {pos} ^ {flip:#04x}");
                    loaded += 1;
                }
                Err(e) => {
                    assert_same(&copy, &blank);
                    assert!(!e.to_string().is_empty());
                    let mut line = Vec::new();
                    e.describe(&mut |s| line.extend_from_slice(s));
                    let head = std::format!("format error {}", e.code() as u8);
                    assert!(
                        line.starts_with(head.as_bytes()),
                        "byte {pos} ^ {flip:#04x}: {e}"
                    );
                    if values.iter().any(|r| r.contains(&pos)) {
                        refused_values += 1;
                        assert!(
                            matches!(e.code(), ErrorCode::Value | ErrorCode::AttrValue),
                            "byte {pos} ^ {flip:#04x}: {e}"
                        );
                    }
                }
            }
        }
    }
    assert!(loaded > 1000, "{loaded} loaded");
    assert!(refused_values > 10, "{refused_values} values refused");
}

#[test]
fn every_truncation_is_refused() {
    let (net, _, _) = trained(11);
    let bytes = format::save(&net).unwrap();
    let blank = mlp();
    for len in 0..bytes.len() {
        let err = refused(&bytes[..len], &blank);
        if len < 36 {
            assert_eq!(err.code(), ErrorCode::Truncated, "length {len}: {err}");
            assert_eq!((err.expected(), err.found()), (36, len as u32));
        } else {
            assert_eq!(err.code(), ErrorCode::Damaged, "length {len}: {err}");
            assert_eq!(
                (err.expected(), err.found()),
                (bytes.len() as u32, len as u32)
            );
        }
    }
    let mut longer = bytes.clone();
    longer.push(0);
    let err = refused(&longer, &blank);
    assert_eq!(err.code(), ErrorCode::Damaged);
    assert_eq!(
        err.to_string(),
        std::format!(
            "the file is cut short or damaged: its header says {} bytes, {} are there, and its checksum does not match",
            bytes.len(),
            bytes.len() + 1
        )
    );
    assert_eq!(
        refused(&bytes[..20], &blank).to_string(),
        "the file is truncated: it needs at least 36 bytes, only 20 are there"
    );
}

/// Every reader on `bytes`, which may be anything: none panics, a refused load leaves its
/// destination as it was, an accepted one holds a network the writer accepts.
fn read_all_ways(bytes: &[u8]) {
    if let Ok(f) = File::parse(bytes) {
        for l in f.layers() {
            let _ = (l.kind, l.input, l.output);
            l.attrs().for_each(|a| {
                let _ = a.value.bits();
            });
            for t in l.tensors() {
                let _ = t.f32s().map(|v| v.count());
                let _ = t.i32s().map(|v| v.count());
                let _ = t.i8s().map(|v| v.count());
            }
        }
        f.scalars().for_each(|s| {
            let _ = f.scalar(s.name);
        });
        let _ = f.check::<Mlp>(&[FileKind::Float]);
    }
    let blank = mlp();
    let mut net = blank.clone();
    match format::load(bytes, &mut net) {
        Ok(()) => assert!(format::save(&net).is_ok()),
        Err(e) => {
            assert_same(&net, &blank);
            let _ = e.to_string();
        }
    }
    let mut net = zoo_zero();
    if format::load(bytes, &mut net).is_ok() {
        assert!(format::save(&net).is_ok());
    }
    let mut net = blank.clone();
    let mut best = blank.clone();
    let mut adam = Adam::<MlpGrad>::new(AdamConfig::DEFAULT);
    if format::load_training(bytes, &mut net, &mut adam, Some(&mut best)).is_err() {
        assert_same(&net, &blank);
        assert_same(&best, &blank);
        assert_eq!(adam.t, 0);
        assert_same_params(&adam.m, &MlpGrad::ZERO, "m after a failed load");
    }
    let blank_q: Box<ZooQ> = firmnet::boxed::zero();
    let mut q = blank_q.clone();
    match format::load(bytes, &mut *q) {
        Ok(()) => assert!(format::save(&*q).is_ok()),
        Err(_) => assert_same(&*q, &*blank_q),
    }
    let mut words = vec![0u32; bytes.len().div_ceil(4)];
    bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
    let aligned = &bytemuck::cast_slice::<u32, u8>(&words)[..bytes.len()];
    let _ = format::view::<Int8View<'_>>(aligned);
    let mut net = blank.clone();
    if import_safetensors(bytes, &mut net).is_err() {
        assert_same(&net, &blank);
    }
    let mut net = blank.clone();
    if format::v1::upgrade(bytes, &mut net).is_err() {
        assert_same(&net, &blank);
    }
}

type Int8View<'a> = firmnet::quant::Int8<Zoo, Borrowed<'a>>;

#[test]
fn random_bytes_and_mutations_never_panic() {
    let (net, adam, ctx) = trained(12);
    let run = RunState {
        rng: ctx.rng,
        epoch: 2,
        step: 6,
    };
    let mut q: Box<ZooQ> = firmnet::boxed::zero();
    randomize_int8(&mut *q, 13);
    let seeds = [
        format::save(&net).unwrap(),
        format::save(&zoo(14)).unwrap(),
        format::save_training(&net, &adam, &run, None, &[("x", Value::U64(9))]).unwrap(),
        format::save(&*q).unwrap(),
        export_safetensors(&net).unwrap(),
        V1::of_float(&net).bytes(),
    ];
    for s in &seeds {
        read_all_ways(s);
    }
    let mut rng = Rng::new(0xF022);
    // Random byte strings, some behind a valid magic, version, length and checksum.
    for i in 0..1500 {
        let len = rng.below(if i % 2 == 0 { 64 } else { 700 }) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        if i % 3 == 0 && len >= 36 {
            b[..6].copy_from_slice(b"FNET\x02\x00");
            b[6] = 1 + rng.below(3) as u8;
            b[7] = 0;
            b[8..12].copy_from_slice(&(len as u32).to_le_bytes());
            b[12..16].copy_from_slice(&rng.below(3).to_le_bytes());
            reseal(&mut b);
        }
        read_all_ways(&b);
    }
    // Mutations of valid files: overwritten, inserted and deleted bytes, cuts; half of
    // them with the length and checksum repaired.
    for i in 0..2500 {
        let mut b = seeds[i % seeds.len()].clone();
        for _ in 0..=rng.below(4) {
            let pos = rng.below(b.len() as u32) as usize;
            match rng.below(6) {
                0 | 1 => b[pos] = rng.next_u32() as u8,
                2 => b[pos] ^= 1 << rng.below(8),
                3 => b.insert(pos, rng.next_u32() as u8),
                4 => {
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
// Refusals of a network of another type, each with its message

#[test]
fn a_network_of_another_shape_kind_or_depth_is_refused() {
    let (net, _, _) = trained(15);
    let bytes = format::save(&net).unwrap();

    type Wide = Net![
        Dense<3, 5>,
        BatchNorm<5>,
        Relu<[f32; 5]>,
        Dropout<[f32; 5]>,
        Dense<5, 2>
    ];
    let wide: Wide = net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dropout::DEFAULT,
        Dense::ZERO
    ];
    // The first word that differs is the output's first dimension (word 8 of the layer
    // record): the two values of that word.
    let err = refused(&bytes, &wide);
    assert_eq!(err.code(), ErrorCode::LayerShape);
    assert_eq!((err.layer(), err.name()), (Some(0), "dense"));
    assert_eq!((err.expected(), err.found()), (5, 4));
    assert_eq!(
        err.to_string(),
        "layer 0 (dense): its output's dimension 1 is 4 in the file, the network's is 5"
    );

    type OtherKind = Net![
        Dense<3, 4>,
        BatchNorm<4>,
        Tanh<[f32; 4]>,
        Dropout<[f32; 4]>,
        Dense<4, 2>
    ];
    let other: OtherKind = net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Tanh::DEFAULT,
        Dropout::DEFAULT,
        Dense::ZERO
    ];
    let err = refused(&bytes, &other);
    assert_eq!(err.code(), ErrorCode::LayerKind);
    assert_eq!((err.layer(), err.name()), (Some(2), "tanh"));
    // The file's kind as its signature: length and first three bytes.
    let relu = (4 << 24) | u32::from_le_bytes([b'r', b'e', b'l', 0]);
    assert_eq!((err.expected(), err.found()), (0, relu));
    assert_eq!(format::kind_signature(b"relu"), relu);
    assert_eq!(
        err.to_string(),
        "layer 2: the file has a relu layer, the network a tanh layer"
    );

    type Shorter = Net![Dense<3, 4>, BatchNorm<4>, Relu<[f32; 4]>, Dense<4, 2>];
    let shorter: Shorter = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
    let err = refused(&bytes, &shorter);
    assert_eq!(err.code(), ErrorCode::LayerCount);
    assert_eq!((err.expected(), err.found()), (4, 5));
    assert_eq!(
        err.to_string(),
        "the file describes 5 layers, the network has 4"
    );

    // Only the sizes of a parameter-free layer differ: the input's first dimension
    // comes before the output's.
    let bytes = format::save(&Relu::<[f32; 4]>::DEFAULT).unwrap();
    let err = refused(&bytes, &Relu::<[f32; 6]>::DEFAULT);
    assert_eq!(
        (err.code(), err.expected(), err.found()),
        (ErrorCode::LayerShape, 6, 4)
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (relu): its input's dimension 1 is 4 in the file, the network's is 6"
    );
    // Same length, another shape: [2, 3] is not [6], and the rank says so first.
    let err = refused(
        &format::save(&Relu::<[[f32; 3]; 2]>::DEFAULT).unwrap(),
        &Relu::<[f32; 6]>::DEFAULT,
    );
    assert_eq!(
        (err.code(), err.expected(), err.found()),
        (ErrorCode::LayerShape, 1, 2)
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (relu): its input's rank is 2 in the file, the network's is 1"
    );
    // Same rank, the second dimension differs: [2, 3] is not [2, 4].
    let err = refused(
        &format::save(&Relu::<[[f32; 3]; 2]>::DEFAULT).unwrap(),
        &Relu::<[[f32; 4]; 2]>::DEFAULT,
    );
    assert_eq!(
        (err.code(), err.expected(), err.found()),
        (ErrorCode::LayerShape, 4, 3)
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (relu): its input's dimension 2 is 3 in the file, the network's is 4"
    );
}

// ---------------------------------------------------------------------------------------
// The writer refuses what the reader would

/// `net` after `f`: refused by every writer with `code` at `layer`, naming `name`.
fn unwritable<N: Infer + Describe + Clone>(
    net: &N,
    f: impl FnOnce(&mut N),
    code: ErrorCode,
    layer: usize,
    name: &str,
) -> FormatError {
    let mut bad = net.clone();
    f(&mut bad);
    let err = format::save(&bad).unwrap_err();
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (code, Some(layer), name),
        "{err}"
    );
    assert_eq!(format::len(&bad), Err(err));
    let mut buf = vec![0u8; 1 << 14];
    assert_eq!(format::write(&bad, &mut buf), Err(err));
    assert_eq!(format::rust_source(&bad), Err(err));
    assert!(format::save_with_source(&bad, 1).is_err());
    err
}

#[test]
fn the_writer_refuses_what_the_reader_would() {
    let net = zoo(16);
    format::save(&net).unwrap();
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let err = unwritable(
            &net,
            |n| n.first.weight[2][1] = bad,
            ErrorCode::Value,
            0,
            "weight",
        );
        assert_eq!((err.expected(), err.found()), (7, bad.to_bits()));
        assert_eq!(err.rule(), Some(Rule::Finite));
    }
    let err = unwritable(
        &net,
        |n| n.rest.first.running_var[3] = 0.0,
        ErrorCode::Value,
        1,
        "running_var",
    );
    assert_eq!(err.rule(), Some(Rule::Positive));
    assert_eq!(
        err.to_string(),
        "layer 1 (tensor `running_var`): element 3 is 0e0, not a finite number > 0"
    );
    unwritable(
        &net,
        |n| n.rest.first.running_var[0] = -1.0,
        ErrorCode::Value,
        1,
        "running_var",
    );
    unwritable(
        &net,
        |n| n.rest.first.gamma[4] = f32::NAN,
        ErrorCode::Value,
        1,
        "gamma",
    );
    let err = unwritable(
        &net,
        |n| n.rest.first.eps = 0.0,
        ErrorCode::AttrValue,
        1,
        "eps",
    );
    assert_eq!(
        err.to_string(),
        "layer 1 (attribute `eps`): the value 0e0 is not a finite number > 0"
    );
    unwritable(
        &net,
        |n| n.rest.first.momentum = 1.5,
        ErrorCode::AttrValue,
        1,
        "momentum",
    );
    unwritable(
        &net,
        |n| n.rest.rest.first.f.slope = f32::INFINITY,
        ErrorCode::AttrValue,
        2,
        "slope",
    );
    unwritable(
        &net,
        |n| n.rest.rest.rest.first.rate = -0.1,
        ErrorCode::AttrValue,
        3,
        "rate",
    );
    unwritable(
        &net,
        |n| n.rest.rest.rest.first.rate = 1.5,
        ErrorCode::AttrValue,
        3,
        "rate",
    );
    unwritable(
        &net,
        |n| n.rest.rest.rest.rest.rest.rest.first.sigma = -1.0,
        ErrorCode::AttrValue,
        6,
        "sigma",
    );
    // The same rules hold for safetensors exports.
    let mut bad = net.clone();
    bad.rest.first.running_var[1] = -2.0;
    let err = export_safetensors(&bad).unwrap_err();
    assert!(
        matches!(err, SafetensorsError::Network(e) if e.code() == ErrorCode::Value && e.name() == "running_var"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// The error: 32 bytes, printable without core::fmt

fn described(e: &FormatError) -> Vec<u8> {
    let mut line = Vec::new();
    e.describe(&mut |b| line.extend_from_slice(b));
    line
}

#[test]
fn format_error_is_small_and_describes_itself_without_fmt() {
    assert!(
        size_of::<FormatError>() <= 32,
        "{}",
        size_of::<FormatError>()
    );
    assert!(size_of::<Result<(), FormatError>>() <= 32);

    type Tiny = Net![Dense<2, 1>, Dropout<[f32; 1]>];
    let mut tiny: Tiny = net![Dense::ZERO, Dropout::new(0.25)];
    tiny.first.weight = [[0.5, -2.0]];
    tiny.first.bias = [0.25];
    let bytes = format::save(&tiny).unwrap();

    // A flipped bit: the stored checksum 0xFCE06B0B against the computed 0xFC979B06
    // (zlib's crc32 of the changed bytes). The line names the code by its number
    // (`ErrorCode::Checksum` is 4).
    let mut b = bytes.clone();
    b[40] ^= 1;
    let err = refused(&b, &tiny);
    assert_eq!(err.code(), ErrorCode::Checksum);
    assert_eq!(ErrorCode::Checksum as u8, 4);
    assert_eq!(
        described(&err),
        b"format error 4, expected 4242565899, found 4237794054"
    );
    assert_eq!(
        err.to_string(),
        "the file is damaged: its checksum is 0xfce06b0b, its contents give 0xfc979b06"
    );
    assert_eq!(
        (err.layer(), err.name(), err.section(), err.rule()),
        (None, "", None, None)
    );

    // A network with 3 inputs where the file has 2.
    type Three = Net![Dense<3, 1>, Dropout<[f32; 1]>];
    let three: Three = net![Dense::ZERO, Dropout::new(0.25)];
    let err = refused(&bytes, &three);
    assert_eq!(ErrorCode::LayerShape as u8, 12);
    assert_eq!(
        described(&err),
        b"format error 12, layer 0, dense, expected 3, found 2"
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (dense): its input's dimension 1 is 2 in the file, the network's is 3"
    );

    // A running variance of 0 at element 2, resealed: the index and the value's bits.
    let net = zoo(17);
    let bytes = format::save(&net).unwrap();
    let at = walk(&bytes).tensor(1, 1, "running_var").data + 8;
    let b = resealed(&bytes, |b| put_u32(b, at, 0));
    let err = refused(&b, &zoo_zero());
    assert_eq!(ErrorCode::Value as u8, 22);
    assert_eq!(
        described(&err),
        b"format error 22, layer 1, running_var, expected 2, found 0"
    );
    assert_eq!(
        (err.section(), err.rule()),
        (Some(Section::Network), Some(Rule::Positive))
    );
    assert_eq!(
        err.to_string(),
        "layer 1 (tensor `running_var`): element 2 is 0e0, not a finite number > 0"
    );
}

// ---------------------------------------------------------------------------------------
// Files on disk

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(std::format!("firmnet-format-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn files_are_written_whole_and_errors_name_the_path() {
    let dir = temp_dir("files");
    let net = zoo(18);
    let path = dir.join("net.fnet");
    format::save_file(&path, &net).unwrap();
    format::save_file(&path, &net).unwrap(); // replaces
    assert_eq!(std::fs::read(&path).unwrap(), format::save(&net).unwrap());
    let mut back = zoo_zero();
    format::load_file(&path, &mut back).unwrap();
    assert_same(&net, &back);

    let st = dir.join("net.safetensors");
    let (trained, _, _) = trained(19);
    export_safetensors_file(&st, &trained).unwrap();
    let mut back = mlp();
    import_safetensors_file(&st, &mut back).unwrap();
    assert_same(&trained, &back);

    // No temporary file is left behind.
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["net.fnet", "net.safetensors"]);

    let missing = dir.join("missing.fnet");
    let err = format::load_file(&missing, &mut zoo_zero()).unwrap_err();
    assert!(matches!(err, FileError::Io { action: "read", .. }), "{err}");
    assert_eq!(err.path(), missing);
    assert!(
        err.to_string()
            .starts_with(&std::format!("{}: cannot read", missing.display()))
    );

    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(50);
    std::fs::write(&path, &bytes).unwrap();
    let mut back = zoo(20);
    let before = back.clone();
    let err = format::load_file(&path, &mut back).unwrap_err();
    assert_same(&back, &before);
    assert_eq!(
        err.format_error().map(|e| e.code()),
        Some(ErrorCode::Damaged)
    );
    assert!(
        err.to_string()
            .starts_with(&std::format!("{}: the file is cut short", path.display())),
        "{err}"
    );

    // A network that cannot be encoded writes nothing.
    let mut bad = net.clone();
    bad.first.bias[0] = f32::NAN;
    let err = format::save_file(dir.join("bad.fnet"), &bad).unwrap_err();
    assert_eq!(err.format_error().map(|e| e.code()), Some(ErrorCode::Value));
    assert!(!dir.join("bad.fnet").exists());

    let err = format::write_atomic(dir.join("no/such/dir/x.fnet"), b"x").unwrap_err();
    assert!(matches!(err, FileError::Io { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------
// Rust source, compiled back

/// A small float network with every attribute-bearing layer whose constructor is `const`.
type TinyFloat = Net![
    Dense<2, 3>,
    BatchNorm<3>,
    LeakyRelu<[f32; 3]>,
    Dropout<[f32; 3]>,
    Dense<3, 2>,
    Tanh<[f32; 2]>
];

fn tiny_float() -> TinyFloat {
    let mut net: TinyFloat = net![
        Dense::ZERO,
        BatchNorm::from_parts([1.0; 3], [0.0; 3], [0.0; 3], [1.0; 3], 2e-5, 0.05),
        LeakyRelu::new(0.125),
        Dropout::new(0.375),
        Dense::ZERO,
        Tanh::DEFAULT
    ];
    randomize_float(&mut net, 21);
    net.first.weight[0][0] = -0.0; // signed zero, to the bit
    net
}

/// The Rust source of [`tiny_float`], as `rust_source` writes it; the compiler builds the
/// network from it below. Run with `FIRMNET_WRITE_GOLDEN=1` to rewrite it after a
/// deliberate change of the generated text.
const TINY_FLOAT_SOURCE: &str = include_str!("data/tiny_float.rs");
static TINY_FLOAT_COMPILED: TinyFloat = include!("data/tiny_float.rs");

#[test]
fn rust_source_of_a_float_network_compiles_back_to_it() {
    let net = tiny_float();
    let source = format::rust_source(&net).unwrap();
    if std::env::var_os("FIRMNET_WRITE_GOLDEN").is_some() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_float.rs");
        std::fs::write(path, &source).unwrap();
    }
    assert_eq!(
        source, TINY_FLOAT_SOURCE,
        "the generated source changed; rewrite tests/data/tiny_float.rs with FIRMNET_WRITE_GOLDEN=1 if that is intended"
    );
    assert!(source.starts_with(
        "// A network of 6 layers, written by firmnet::format::rust_source:\n//   0: dense"
    ));
    assert_same(&TINY_FLOAT_COMPILED, &net);
    assert_eq!(
        TINY_FLOAT_COMPILED.first.weight[0][0].to_bits(),
        (-0.0f32).to_bits()
    );
    let xs = inputs::<2>(22, 16);
    assert_eq!(
        bits(&outputs(&TINY_FLOAT_COMPILED, &xs)),
        bits(&outputs(&net, &xs))
    );
}

// ---------------------------------------------------------------------------------------
// safetensors

/// A safetensors entry: key, type, shape, bytes.
type Entry = (String, StDtype, Vec<usize>, Vec<u8>);

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The entries of a safetensors file, to edit, sorted by key.
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
    let views: Vec<_> = entries
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn safetensors_round_trip_with_pytorch_names() {
    let (net, _, _) = trained(23);
    let bytes = export_safetensors(&net).unwrap();
    let entries = st_entries(&bytes);
    let keys: Vec<_> = entries
        .iter()
        .map(|e| (e.0.as_str(), e.1, e.2.clone()))
        .collect();
    assert_eq!(
        keys,
        [
            ("0.bias", StDtype::F32, vec![4]),
            ("0.weight", StDtype::F32, vec![4, 3]),
            ("1.bias", StDtype::F32, vec![4]),
            ("1.num_batches_tracked", StDtype::I64, vec![]),
            ("1.running_mean", StDtype::F32, vec![4]),
            ("1.running_var", StDtype::F32, vec![4]),
            ("1.weight", StDtype::F32, vec![4]),
            ("4.bias", StDtype::F32, vec![2]),
            ("4.weight", StDtype::F32, vec![2, 4]),
        ]
    );
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(
        st.tensor("1.weight").unwrap().data(),
        &f32_bytes(&net.rest.first.gamma)[..]
    );
    assert_eq!(
        st.tensor("0.weight").unwrap().data(),
        &f32_bytes(net.first.weight.as_flattened())[..]
    );
    assert_eq!(
        st.tensor("1.num_batches_tracked").unwrap().data(),
        &[0u8; 8]
    );

    let mut back = mlp();
    import_safetensors(&bytes, &mut back).unwrap();
    assert_same(&net, &back);

    // Another naming, e.g. a Sequential held as `model.net`.
    let prefixed = export_safetensors_with(&net, |l, t| std::format!("net.{l}.{t}")).unwrap();
    let mut back = mlp();
    import_safetensors_with(&prefixed, &mut back, |l, t| std::format!("net.{l}.{t}")).unwrap();
    assert_same(&net, &back);
    let mut blank = mlp();
    let err = import_safetensors(&prefixed, &mut blank).unwrap_err();
    let names: Vec<String> = keys.iter().map(|k| std::format!("net.{}", k.0)).collect();
    assert_eq!(
        err,
        SafetensorsError::Missing {
            key: "0.weight".into(),
            names: names.clone(),
        }
    );
    assert_eq!(
        err.to_string(),
        "the file has no tensor `0.weight`; it holds `net.0.bias`, `net.0.weight`, \
         `net.1.bias`, `net.1.num_batches_tracked`, `net.1.running_mean`, \
         `net.1.running_var`, `net.1.weight`, `net.4.bias`, … (9 tensors in all); its names \
         have the prefix `net.`: import with \
         `import_safetensors_with(bytes, &mut net, prefixed(\"net.\"))`"
    );
    assert_same(&blank, &mlp());
    // The call the message names imports the file.
    import_safetensors_with(&prefixed, &mut blank, safetensors_prefixed("net.")).unwrap();
    assert_same(&blank, &net);
    assert_eq!(pytorch_name(3, "running_var"), "3.running_var");
    let err = export_safetensors_with(&net, |_, t| t.to_string()).unwrap_err();
    assert_eq!(
        err,
        SafetensorsError::Duplicate {
            key: "weight".into()
        }
    );
}

#[test]
fn safetensors_names_shapes_types_and_values_are_checked() {
    let (net, _, _) = trained(24);
    let good = st_entries(&export_safetensors(&net).unwrap());
    let edit = |f: &dyn Fn(&mut Vec<Entry>)| {
        let mut e = good.clone();
        f(&mut e);
        let mut n = mlp();
        let r = import_safetensors(&st_from(&e), &mut n);
        if r.is_err() {
            assert_same(&n, &mlp());
        }
        r.map(|()| n)
    };
    let at = |e: &[Entry], k: &str| e.iter().position(|x| x.0 == k).unwrap();

    let err = edit(&|e| {
        let i = at(e, "1.running_var");
        e.remove(i);
    })
    .unwrap_err();
    assert!(
        matches!(&err, SafetensorsError::Missing { key, names }
            if key == "1.running_var" && names.len() == 8 && !names.contains(key)),
        "{err}"
    );

    let err =
        edit(&|e| e.push(("9.weight".into(), StDtype::F32, vec![1], vec![0; 4]))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the file has a tensor `9.weight` the network has no place for"
    );

    let err = edit(&|e| {
        let i = at(e, "0.weight");
        e[i].2 = vec![3, 4]; // transposed
    })
    .unwrap_err();
    assert_eq!(
        err,
        SafetensorsError::Shape {
            key: "0.weight".into(),
            expected: vec![4, 3],
            found: vec![3, 4]
        }
    );
    assert_eq!(
        err.to_string(),
        "tensor `0.weight` has shape [3, 4] in the file, the network expects [4, 3]"
    );
    let err = edit(&|e| {
        let i = at(e, "1.weight");
        e[i].2 = vec![1, 4];
    })
    .unwrap_err();
    assert!(
        matches!(err, SafetensorsError::Shape { ref key, .. } if key == "1.weight"),
        "{err}"
    );

    let err = edit(&|e| {
        let i = at(e, "4.bias");
        e[i].1 = StDtype::I32;
    })
    .unwrap_err();
    assert_eq!(
        err,
        SafetensorsError::Dtype {
            key: "4.bias".into(),
            found: "I32"
        }
    );
    assert_eq!(
        err.to_string(),
        "tensor `4.bias` holds I32, which cannot become f32"
    );

    let err = edit(&|e| {
        let i = at(e, "4.bias");
        e[i].3 = f32_bytes(&[1.0, f32::NAN]);
    })
    .unwrap_err();
    assert!(
        matches!(err, SafetensorsError::Value { ref key, index: 1, value, expected: "a finite number" } if key == "4.bias" && value.is_nan()),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "tensor `4.bias`: element 1 is NaN, not a finite number"
    );

    let err = edit(&|e| {
        let i = at(e, "1.running_var");
        e[i].3 = f32_bytes(&[1.0, 1.0, 0.0, 1.0]);
    })
    .unwrap_err();
    assert_eq!(
        err,
        SafetensorsError::Value {
            key: "1.running_var".into(),
            index: 2,
            value: 0.0,
            expected: "a finite number > 0"
        }
    );

    // F64, F16 and BF16 are converted; num_batches_tracked may be absent.
    let n = edit(&|e| {
        let i = at(e, "0.bias");
        e[i].1 = StDtype::F64;
        e[i].3 = [1.5f64, -2.0, 0.1, 1e-3]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let i = at(e, "4.bias");
        e[i].1 = StDtype::F16;
        e[i].3 = [0x3C00u16, 0xC100]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let i = at(e, "1.bias");
        e[i].1 = StDtype::BF16;
        e[i].3 = [0x3F80u16, 0x4000, 0xBF80, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let i = at(e, "1.num_batches_tracked");
        e.remove(i);
    })
    .unwrap();
    assert_eq!(n.first.bias, [1.5, -2.0, 0.1, 1e-3]);
    assert_eq!(n.rest.rest.rest.rest.bias, [1.0, -2.5]);
    assert_eq!(n.rest.first.beta, [1.0, 2.0, -1.0, 0.0]);
    assert_eq!(n.first.weight, net.first.weight);

    // An F64 beyond f32's range becomes infinite, which is no value.
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
        matches!(err, SafetensorsError::Value { index: 0, value, .. } if value == f32::INFINITY),
        "{err}"
    );

    for junk in [
        &b""[..],
        b"\x08\0\0\0\0\0\0\0{\"a\":1} ",
        b"\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x04\0\0\0\0\0\0\0[1]",
    ] {
        let mut n = mlp();
        let err = import_safetensors(junk, &mut n).unwrap_err();
        assert!(matches!(err, SafetensorsError::Parse(_)), "{err}");
        assert!(
            err.to_string()
                .starts_with("not a readable safetensors file: ")
        );
        assert_same(&n, &mlp());
    }
    // An empty file is valid safetensors, and lacks everything.
    let err = import_safetensors(b"\x08\0\0\0\0\0\0\0{}      ", &mut mlp()).unwrap_err();
    assert_eq!(
        err,
        SafetensorsError::Missing {
            key: "0.weight".into(),
            names: vec![],
        }
    );
    assert_eq!(
        err.to_string(),
        "the file has no tensor `0.weight`; it holds no tensors"
    );

    // A refused file named by path.
    let dir = temp_dir("safetensors");
    let path = dir.join("bad.safetensors");
    std::fs::write(&path, b"\x04\0\0\0\0\0\0\0[1]").unwrap();
    let err = import_safetensors_file(&path, &mut mlp()).unwrap_err();
    assert!(
        matches!(
            err,
            FileError::Io {
                action: "import",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().starts_with(&std::format!(
            "{}: cannot import: not a readable safetensors file",
            path.display()
        )),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The start of a zip archive whose first entry is `name`: a local file header (signature,
/// 22 bytes of version, flags, method, times, CRC and sizes, the name's length, the extra
/// field's length) and the name, as `torch.save` and `numpy.savez` write it.
fn zip_start(name: &str) -> Vec<u8> {
    let mut z = b"PK\x03\x04".to_vec();
    z.extend_from_slice(&[0; 22]);
    z.extend_from_slice(&(name.len() as u16).to_le_bytes());
    z.extend_from_slice(&[0, 0]);
    z.extend_from_slice(name.as_bytes());
    z.extend_from_slice(&[0x80, 2, b'}', b'q', 0, b'.']);
    z
}

#[test]
fn safetensors_files_of_another_kind_are_named_with_what_to_do() {
    let save_file = "save the weights in PyTorch with \
                     `safetensors.torch.save_file(model.state_dict(), path)` and import that file";
    let dir = temp_dir("safetensors_kinds");
    for (bytes, kind) in [
        (
            // torch.save since PyTorch 1.6: a zip of `archive/data.pkl` and the storages.
            zip_start("archive/data.pkl"),
            "a PyTorch `torch.save` archive (a zip of pickles)",
        ),
        (
            // torch.save before 1.6 starts with the pickle of its magic number, protocol 2.
            b"\x80\x02\x8a\x0alz\xfc\x9cF\xf9 j\xa8P\x19.".to_vec(),
            "a Python pickle (`pickle.dump`, or `torch.save` before PyTorch 1.6)",
        ),
        (
            b"\x80\x05\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.".to_vec(),
            "a Python pickle (`pickle.dump`, or `torch.save` before PyTorch 1.6)",
        ),
    ] {
        let mut n = mlp();
        let err = import_safetensors(&bytes, &mut n).unwrap_err();
        assert_eq!(err, SafetensorsError::NotSafetensors { looks_like: kind });
        assert_eq!(
            err.to_string(),
            std::format!("not a safetensors file: it is {kind}; {save_file}")
        );
        assert_same(&n, &mlp());
        assert_eq!(metadata(&bytes).unwrap_err(), err);
        let path = dir.join("model.pt");
        std::fs::write(&path, &bytes).unwrap();
        let err = import_safetensors_file(&path, &mut n).unwrap_err();
        assert_eq!(
            err.to_string(),
            std::format!(
                "{}: cannot import: not a safetensors file: it is {kind}; {save_file}",
                path.display()
            )
        );
    }
    let (net, _, _) = trained(25);
    let err = import_safetensors(&format::save(&net).unwrap(), &mut mlp()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a safetensors file: it is a firmnet weight file (`.fnet`); load it with \
         `format::load_file`"
    );

    // A safetensors file whose header is 640 = 0x280 bytes long starts as a pickle of
    // protocol 2 does (`80 02`): it is read as the safetensors file it is.
    let mut tiny: Net![Dense<2, 1>] = net![Dense::ZERO];
    tiny.weight = [[0.5, -1.5]];
    tiny.bias = [0.25];
    let bytes = (0..700)
        .map(|pad| {
            Export::new()
                .input("x".repeat(pad))
                .to_bytes(&tiny)
                .unwrap()
        })
        .find(|b| b[..8] == [0x80, 0x02, 0, 0, 0, 0, 0, 0])
        .expect("some description length gives a 640-byte header");
    let mut back: Net![Dense<2, 1>] = net![Dense::ZERO];
    import_safetensors(&bytes, &mut back).unwrap();
    assert_eq!(back, tiny);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn safetensors_missing_tensor_lists_the_names_and_the_naming_option() {
    let (net, _, _) = trained(26);
    // A PyTorch model numbered from 1 (a leading `nn.Flatten`): no common prefix.
    let shifted = |l: usize, t: &str| std::format!("{}.{t}", l + 1);
    let bytes = export_safetensors_with(&net, shifted).unwrap();
    let err = import_safetensors(&bytes, &mut mlp()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the file has no tensor `0.weight`; it holds `1.bias`, `1.weight`, `2.bias`, \
         `2.num_batches_tracked`, `2.running_mean`, `2.running_var`, `2.weight`, `5.bias`, … \
         (9 tensors in all); for other names, import with \
         `import_safetensors_with(bytes, &mut net, name)`, where `name(layer, tensor)` gives \
         the file's key (see `prefixed`)"
    );
    let mut back = mlp();
    import_safetensors_with(&bytes, &mut back, shifted).unwrap();
    assert_same(&back, &net);

    // Up to eight names, no count; a deeper prefix is found as well.
    let tiny: Net![Dense<2, 1>] = net![Dense::ZERO];
    let bytes = Export::new()
        .names(safetensors_prefixed("model.body."))
        .to_bytes(&tiny)
        .unwrap();
    let err = import_safetensors(&bytes, &mut tiny.clone()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the file has no tensor `0.weight`; it holds `model.body.0.bias`, \
         `model.body.0.weight`; its names have the prefix `model.body.`: import with \
         `import_safetensors_with(bytes, &mut net, prefixed(\"model.body.\"))`"
    );
    // `10.weight` is not `0.weight` under a prefix `1`.
    let bytes = export_safetensors_with(&tiny, |l, t| std::format!("1{l}.{t}")).unwrap();
    let err = import_safetensors(&bytes, &mut tiny.clone()).unwrap_err();
    assert!(err.to_string().contains("for other names"), "{err}");
}

#[test]
fn safetensors_export_states_the_input_in_its_metadata() {
    let (net, _, _) = trained(27);
    // Without a description: PyTorch's `format` only.
    let plain = export_safetensors(&net).unwrap();
    assert_eq!(
        metadata(&plain).unwrap().into_iter().collect::<Vec<_>>(),
        [("format".to_string(), "pt".to_string())]
    );
    let input = "raw pixels 0–255 as f32 (normalization folded into the first layer)";
    let described = Export::new().input(input).to_bytes(&net).unwrap();
    // Read by the safetensors crate itself, as `safe_open(…).metadata()` does in Python.
    let (_, meta) = SafeTensors::read_metadata(&described).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta.get("firmnet.input").map(String::as_str), Some(input));
    assert_eq!(meta.get("format").map(String::as_str), Some("pt"));
    assert_eq!(metadata(&described).unwrap()[INPUT_KEY], input);
    // The tensors are those of the plain export.
    assert_eq!(st_entries(&described), st_entries(&plain));

    // To a file and back, under other names.
    let dir = temp_dir("safetensors_input");
    let path = dir.join("model.safetensors");
    Export::new()
        .input(input)
        .names(safetensors_prefixed("net."))
        .to_file(&path, &net)
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(metadata(&bytes).unwrap()[INPUT_KEY], input);
    let mut back = mlp();
    import_safetensors_file_with(&path, &mut back, safetensors_prefixed("net.")).unwrap();
    assert_same(&back, &net);
    std::fs::remove_dir_all(&dir).unwrap();
}

type Torch = Net![Dense<4, 8>, BatchNorm<8>, Relu<[f32; 8]>, Dense<8, 3>];

fn torch() -> Torch {
    net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO]
}

/// Weights in PyTorch's layout, written by numpy's safetensors
/// (tests/data/make_safetensors.py), give the outputs PyTorch's formulas give.
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
    assert!(!x.is_empty());
    for (file, want) in [
        (&include_bytes!("data/pytorch_mlp.safetensors")[..], &y),
        (
            &include_bytes!("data/pytorch_mlp_f16.safetensors")[..],
            &f64s("output_f16"),
        ),
    ] {
        let mut net = torch();
        import_safetensors(file, &mut net).unwrap();
        let xs: Vec<[f32; 4]> = x
            .chunks_exact(4)
            .map(|xi| core::array::from_fn(|j| xi[j] as f32))
            .collect();
        let ys = outputs(&net, &xs);
        assert_eq!(ys.len() * 3, want.len());
        for (out, yi) in ys.iter().zip(want.chunks_exact(3)) {
            for (o, r) in out.iter().zip(yi) {
                let err = (f64::from(*o) - r).abs() / (1.0 + r.abs());
                assert!(err < 1e-5, "{o} vs {r}");
            }
        }
    }

    // The export has the fixture's keys, types and shapes, and the same values.
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
    // And the weights survive a trip through firmnet's own format.
    let mut again = torch();
    format::load(&format::save(&net).unwrap(), &mut again).unwrap();
    assert_same(&net, &again);

    // A network that does not fit the file.
    type Other = Net![Dense<4, 6>, BatchNorm<6>, Relu<[f32; 6]>, Dense<6, 3>];
    let mut other: Other = net![Dense::ZERO, BatchNorm::DEFAULT, Relu::DEFAULT, Dense::ZERO];
    let err =
        import_safetensors(include_bytes!("data/pytorch_mlp.safetensors"), &mut other).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `0.weight` has shape [8, 4] in the file, the network expects [6, 4]"
    );
}
