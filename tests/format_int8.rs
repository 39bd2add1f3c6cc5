//! The weight file format (version 2), int8 networks: bit-exact round trips of `qdense`
//! and `qlut` layers with every quantization attribute, the exact bytes of a tiny int8
//! file, zero-copy views that borrow the file, damage refused by the loader and the view
//! alike, what the writer refuses, Rust source compiled back, files that belong together
//! (`check_source`, `save_pair`, stale temporaries), and the fuzz target's seed corpus.

mod format_shared;

use firmnet::format::{self, Aligned, ErrorCode, File, FileError, FileKind, Section};
use firmnet::host::{RangeMethod, quantize};
use firmnet::layers::ParamKind;
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::prelude::*;
use firmnet::quant::{Borrowed, Clamp, Int8, QDense, QLayer, QLut, QParams};
use firmnet::spec::{Attr, Dtype, Rule};
use format_shared::*;

/// A small int8 network of both int8 layer kinds.
type TinyQ = Net![QDense<3, 4>, QLut<[i8; 4]>, QDense<4, 2>];
type TinyQView<'a> = Net![
    QDense<3, 4, Borrowed<'a>>,
    QLut<[i8; 4], Borrowed<'a>>,
    QDense<4, 2, Borrowed<'a>>
];

fn tiny_q(seed: u64) -> TinyQ {
    let mut net: TinyQ = Zero::ZERO;
    randomize_int8(&mut net, seed);
    net
}

/// The int8 twin of [`zoo`]`(seed)`, calibrated on random inputs.
fn zoo_q(seed: u64) -> Box<ZooQ> {
    let net = zoo(seed);
    quantize(&net, &inputs::<3>(seed + 100, 64), RangeMethod::MinMax).unwrap()
}

/// `bytes` copied to the start of a 16-aligned buffer.
fn aligned(bytes: &[u8]) -> Box<Aligned<[u8; 4096]>> {
    let mut blob = Box::new(Aligned([0u8; 4096]));
    blob.0[..bytes.len()].copy_from_slice(bytes);
    blob
}

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn quantized_zoo_round_trip_is_bitwise_with_every_attribute() {
    let q = zoo_q(1);
    let bytes = format::save(&*q).unwrap();
    assert_eq!(bytes.len(), format::len(&*q).unwrap());

    let mut copy: Box<ZooQ> = firmnet::boxed::zero();
    format::load(&bytes, &mut *copy).unwrap();
    assert_same(&*q, &*copy);
    assert!(*copy == *q);
    // Every quantization attribute, to the bit: scales, zero points, clamp bounds.
    let file = File::parse(&bytes).unwrap();
    for (i, rec) in file.layers().enumerate() {
        let layer = q.layer(i).unwrap();
        for (a, r) in rec.attrs().enumerate() {
            assert_eq!(
                r.value.bits(),
                layer.attr(a).unwrap().bits(),
                "layer {i} {}",
                r.name
            );
        }
    }
    // The layers the conversion made, with what it fused: ReLU6 as the clamp of layer 6,
    // tanh and sigmoid tables at TensorFlow Lite's fixed output scales.
    let kinds: Vec<_> = file.layers().map(|l| l.kind).collect();
    assert_eq!(
        kinds,
        [
            "qdense", "qlut", "qdense", "qlut", "qdense", "qlut", "qdense", "qdense"
        ]
    );
    let relu6 = &copy.rest.rest.rest.rest.rest.rest.first;
    assert_eq!(relu6.min as i32, relu6.output.zero_point);
    assert_eq!(relu6.max, relu6.output.quantize(6.0));
    let tanh = &copy.rest.rest.rest.first;
    assert_eq!(
        tanh.output,
        QParams {
            scale: 1.0 / 128.0,
            zero_point: 0
        }
    );
    let sigmoid = &copy.rest.rest.rest.rest.rest.first;
    assert_eq!(
        sigmoid.output,
        QParams {
            scale: 1.0 / 256.0,
            zero_point: -128
        }
    );
    assert_eq!(copy.input_params(), q.input_params());
    assert_eq!(copy.output_params(), q.output_params());

    let xs = inputs_i8::<3>(2, 64);
    assert_eq!(outputs(&*q, &xs), outputs(&*copy, &xs));
    assert_eq!(format::save(&*copy).unwrap(), bytes);
    let mut buf = vec![0u8; bytes.len()];
    assert_eq!(format::write(&*q, &mut buf), Ok(bytes.len()));
    assert_eq!(buf, bytes);
}

#[test]
fn random_int8_round_trip_is_bitwise() {
    for seed in 0..20 {
        let net = tiny_q(seed);
        let bytes = format::save(&net).unwrap();
        let mut copy = tiny_q(seed + 1000);
        format::load(&bytes, &mut copy).unwrap();
        assert!(copy == net, "seed {seed}");
        assert_same(&net, &copy);
        let xs = inputs_i8::<3>(seed, 16);
        assert_eq!(outputs(&net, &xs), outputs(&copy, &xs));
    }
}

#[test]
fn fashion_int8_round_trip_and_view() {
    let mut float = firmnet::boxed!(FASHION_MLP);
    float.init(Init::HeNormal, &mut Rng::new(3));
    let q = quantize(&*float, &inputs::<784>(4, 40), RangeMethod::MinMax).unwrap();
    let bytes = format::save(&*q).unwrap();
    let mut copy: Box<Int8<FashionMlp>> = firmnet::boxed::zero();
    format::load(&bytes, &mut *copy).unwrap();
    assert!(*copy == *q);
    let xs = inputs_i8::<784>(5, 8);
    let want = outputs(&*q, &xs);
    assert_eq!(outputs(&*copy, &xs), want);

    // In place, as from flash.
    let mut blob = vec![0u32; bytes.len().div_ceil(4)];
    bytemuck::cast_slice_mut::<u32, u8>(&mut blob)[..bytes.len()].copy_from_slice(&bytes);
    let file_bytes = &bytemuck::cast_slice::<u32, u8>(&blob)[..bytes.len()];
    let view: Int8<FashionMlp, Borrowed<'_>> = format::view(file_bytes).unwrap();
    let range = file_bytes.as_ptr_range();
    for w in [
        view.first.weight.as_ptr() as *const u8,
        view.rest.first.weight.as_ptr() as *const u8,
        view.rest.rest.weight.as_ptr() as *const u8,
        view.rest.rest.bias.as_ptr() as *const u8,
    ] {
        assert!(range.contains(&w), "weights are borrowed");
    }
    assert_same(&view, &*q);
    assert_eq!(outputs(&view, &xs), want);
}

#[test]
fn the_int8_file_describes_itself() {
    let net = tiny_q(4);
    let bytes = format::save(&net).unwrap();
    let file = File::parse(&bytes).unwrap();
    assert_eq!(file.kind(), FileKind::Int8);
    assert_eq!((file.optimizer(), file.source()), (None, None));
    assert_eq!(file.scalars().count(), 0);
    let layers: Vec<_> = file
        .layers()
        .map(|l| {
            (
                l.kind,
                l.input.len(),
                l.output.len(),
                l.attr_count(),
                l.tensor_count(),
            )
        })
        .collect();
    assert_eq!(
        layers,
        [
            ("qdense", 3, 4, 6, 4),
            ("qlut", 4, 4, 4, 1),
            ("qdense", 4, 2, 6, 4)
        ]
    );
    let attrs: Vec<_> = file
        .layer(2)
        .unwrap()
        .attrs()
        .map(|a| (a.name, a.value))
        .collect();
    let last = &net.rest.rest;
    assert_eq!(
        attrs,
        [
            ("input_scale", Attr::F32(last.input.scale)),
            ("input_zero_point", Attr::I32(last.input.zero_point)),
            ("output_scale", Attr::F32(last.output.scale)),
            ("output_zero_point", Attr::I32(last.output.zero_point)),
            ("min", Attr::I32(last.min.into())),
            ("max", Attr::I32(last.max.into())),
        ]
    );
    let dense = file.layer(0).unwrap();
    let tensors: Vec<_> = dense
        .tensors()
        .map(|t| (t.section, t.name, t.kind, t.dtype, t.shape.dims().to_vec()))
        .collect();
    assert_eq!(
        tensors,
        [
            (
                Section::Network,
                "weight",
                ParamKind::Weight,
                Dtype::I8,
                vec![4, 3]
            ),
            (
                Section::Network,
                "bias",
                ParamKind::Bias,
                Dtype::I32,
                vec![4]
            ),
            (
                Section::Network,
                "multiplier",
                ParamKind::Multiplier,
                Dtype::I32,
                vec![4]
            ),
            (
                Section::Network,
                "shift",
                ParamKind::Exponent,
                Dtype::I32,
                vec![4]
            ),
        ]
    );
    let w = dense.tensor(Section::Network, "weight").unwrap();
    assert!(
        w.i8s()
            .unwrap()
            .eq(net.first.weight.0.as_flattened().iter().copied())
    );
    assert_eq!(w.f32s().map(|v| v.count()), None);
    let m = dense.tensor(Section::Network, "multiplier").unwrap();
    assert!(m.i32s().unwrap().eq(net.first.multiplier));
    let table = file
        .layer(1)
        .unwrap()
        .tensor(Section::Network, "table")
        .unwrap();
    assert_eq!(
        (table.kind, table.dtype, table.data.len()),
        (ParamKind::Table, Dtype::I8, 256)
    );
    assert!(table.i8s().unwrap().eq(net.rest.first.table));
    for l in file.layers() {
        for t in l.tensors() {
            assert_eq!(t.offset % 4, 0, "layer {} {}", l.index, t.name);
        }
    }
    walk_matches_reader(&bytes);
}

/// The exact bytes of a one-layer int8 file, from the tables of the module docs: every
/// field of a record one 32-bit little-endian word (the checksums from zlib's `crc32`).
#[test]
fn exact_bytes_of_a_tiny_int8_file() {
    let q = QDense::<1, 1>::from_parts(
        [[-3]],
        [1000],
        [1 << 30],
        [-5],
        0.5,
        -128,
        0.25,
        10,
        10,
        127,
    );
    let mut e: Vec<u8> = Vec::new();
    let mut put = |b: &[u8]| e.extend_from_slice(b);
    let w = |v: u32| v.to_le_bytes();
    // Header: magic, version 2, kind 3 (int8), flags 0, length 448, 1 layer, 0 scalars,
    // digest 0, optimizer 0, source flag 0, best flag 0, 5 reserved.
    put(b"FNET");
    put(&[2, 0, 3, 0]);
    put(&w(448));
    put(&w(1));
    put(&w(0));
    put(&w(0));
    put(&[0; 8]);
    // Layer, one word per field: length 412 = 64 + 140 + 208, kind of 6 bytes, input
    // rank 1 [1, 0, 0, 0], output rank 1 [1, 0, 0, 0], 6 attributes, 4 tensors;
    // "qdense" + 2 zeros.
    for v in [412, 6, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 6, 4] {
        put(&w(v));
    }
    put(b"qdense\0\0");
    // Attributes: type (1 f32, 3 i32), name length, the value's 32 bits; name + pad.
    for (dtype, name, bits) in [
        (1, &b"input_scale\0"[..], 0x3F00_0000),
        (3, b"input_zero_point", (-128i32) as u32),
        (1, b"output_scale", 0x3E80_0000),
        (3, b"output_zero_point\0\0\0", 10),
        (3, b"min\0", 10),
        (3, b"max\0", 127),
    ] {
        let len = name.iter().filter(|&&c| c != 0).count() as u32;
        put(&w(dtype));
        put(&w(len));
        put(&w(bits));
        put(name);
    }
    // Tensors: section 1, name length, kind, type (2 i8, 3 i32), rank 1 or 2, four
    // dimensions, data bytes; name + pad; data + pad.
    for (len, kind, dtype, rank, name, data) in [
        (6, 1, 2, 2, &b"weight\0\0"[..], &[0xFD, 0, 0, 0][..]),
        (4, 2, 3, 1, b"bias", &1000u32.to_le_bytes()),
        (10, 7, 3, 1, b"multiplier\0\0", &[0, 0, 0, 0x40]),
        (5, 8, 3, 1, b"shift\0\0\0", &(-5i32).to_le_bytes()),
    ] {
        let bytes = if dtype == 2 { 1 } else { 4 };
        for v in [
            1,
            len,
            kind,
            dtype,
            rank,
            1,
            u32::from(rank == 2),
            0,
            0,
            bytes,
        ] {
            put(&w(v));
        }
        put(name);
        put(data);
    }
    put(&w(0x6C7A_8F40));
    assert_eq!(e.len(), 448);

    assert_eq!(format::save(&q).unwrap(), e);
    assert_eq!(format::crc32(&e[..444]), 0x6C7A_8F40);
    let mut back = QDense::<1, 1>::ZERO;
    format::load(&e, &mut back).unwrap();
    assert_eq!(back, q);

    // With the digest of its source recorded: digest and flag in the header.
    let with = format::save_with_source(&q, 0xDEAD_BEEF).unwrap();
    let mut expected = e.clone();
    expected[20..24].copy_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
    expected[25] = 1;
    expected[444..].copy_from_slice(&0xF5B8_3411u32.to_le_bytes());
    assert_eq!(with, expected);
    assert_eq!(File::parse(&with).unwrap().source(), Some(0xDEAD_BEEF));
}

// ---------------------------------------------------------------------------------------
// Views

#[test]
fn a_view_borrows_the_file_and_computes_the_same_outputs() {
    let q = zoo_q(5);
    let bytes = format::save(&*q).unwrap();
    let blob = aligned(&bytes);
    let file_bytes = &blob.0[..bytes.len()];
    let view: Int8<Zoo, Borrowed<'_>> = format::view(file_bytes).unwrap();
    let range = file_bytes.as_ptr_range();
    let inside = |p: *const u8, what: &str| assert!(range.contains(&p), "{what} is borrowed");
    inside(view.first.weight.as_ptr().cast(), "weight 0");
    inside(view.first.bias.as_ptr().cast(), "bias 0");
    inside(view.first.multiplier.as_ptr().cast(), "multiplier 0");
    inside(view.first.shift.as_ptr().cast(), "shift 0");
    inside(view.rest.first.table.as_ptr().cast(), "table 1");
    inside(
        view.rest
            .rest
            .rest
            .rest
            .rest
            .rest
            .rest
            .weight
            .as_ptr()
            .cast(),
        "weight 7",
    );
    // Each borrowed array is the file's tensor data itself.
    let file = File::parse(file_bytes).unwrap();
    let data = |layer: usize, name: &str| {
        file.layer(layer)
            .unwrap()
            .tensor(Section::Network, name)
            .unwrap()
            .data
            .as_ptr()
    };
    assert_eq!(view.first.bias.as_ptr().cast(), data(0, "bias"));
    assert_eq!(view.rest.first.table.as_ptr().cast(), data(1, "table"));
    assert_eq!(view.first.bias.as_ptr() as usize % 4, 0);

    assert_same(&view, &*q);
    assert_eq!(view.input_params(), q.input_params());
    let xs = inputs_i8::<3>(6, 64);
    assert_eq!(outputs(&view, &xs), outputs(&*q, &xs));

    // The view is checked as the loader checks.
    let small = format::save(&tiny_q(7)).unwrap();
    let blob = aligned(&small);
    let err = format::view::<TinyQView<'_>>(&blob.0[..small.len() - 1]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Damaged);
    let err = format::view::<QDense<3, 4, Borrowed<'_>>>(&blob.0[..small.len()]).unwrap_err();
    assert_eq!(
        (err.code(), err.expected(), err.found()),
        (ErrorCode::LayerCount, 1, 3)
    );
    type Other<'a> = Net![
        QDense<3, 5, Borrowed<'a>>,
        QLut<[i8; 5], Borrowed<'a>>,
        QDense<5, 2, Borrowed<'a>>
    ];
    let err = format::view::<Other<'_>>(&blob.0[..small.len()]).unwrap_err();
    assert_eq!((err.code(), err.layer()), (ErrorCode::LayerShape, Some(0)));
    let at = walk(&small).attr(2, "min").value;
    let bad = resealed(&small, |b| put_u32(b, at, 200));
    let blob = aligned(&bad);
    let err = format::view::<TinyQView<'_>>(&blob.0[..bad.len()]).unwrap_err();
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::AttrValue, Some(2), "min")
    );
    assert_eq!(err.rule(), Some(Rule::Int8));
}

/// The message of a view of bytes that do not start at a multiple of 4.
const MISALIGNED: &str = "the file cannot be borrowed in place: it does not start at a multiple of 4 bytes; place it at an aligned address (firmnet::format::Aligned)";

#[test]
fn a_view_of_misaligned_bytes_is_refused_with_the_remedy() {
    let net = tiny_q(8);
    let small = format::save(&net).unwrap();
    // A record the checker refuses: the view refuses the address before any record.
    let at = walk(&small).attr(2, "min").value;
    let bad = resealed(&small, |b| put_u32(b, at, 200));
    for shift in 1..4 {
        let mut blob = Aligned([0u8; 2048]);
        blob.0[shift..shift + small.len()].copy_from_slice(&small);
        let bytes = &blob.0[shift..shift + small.len()];
        let err = format::view::<TinyQView<'_>>(bytes).unwrap_err();
        assert_eq!(
            (err.code(), err.layer(), err.name(), err.section()),
            (ErrorCode::Unborrowable, None, "", None),
            "{err}"
        );
        assert_eq!((err.expected(), err.found()), (0, 0));
        assert_eq!(err.to_string(), MISALIGNED);
        // The loader copies, so it takes the same bytes at any address.
        let mut copy = tiny_q(9);
        format::load(bytes, &mut copy).unwrap();
        assert!(copy == net);

        blob.0[shift..shift + bad.len()].copy_from_slice(&bad);
        let bytes = &blob.0[shift..shift + bad.len()];
        let err = format::view::<TinyQView<'_>>(bytes).unwrap_err();
        assert_eq!(err.to_string(), MISALIGNED);
        assert_eq!(
            refused(bytes, &tiny_q(9)).code(),
            ErrorCode::AttrValue,
            "the loader reads the record"
        );
        // But the frame, the kind of file and the number of layers come first.
        let err = format::view::<TinyQView<'_>>(&bytes[..bytes.len() - 1]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Damaged);
        let err =
            format::view::<Net![QDense<3, 4, Borrowed<'_>>, QLut<[i8; 4], Borrowed<'_>>]>(bytes)
                .unwrap_err();
        assert_eq!(
            (err.code(), err.expected(), err.found()),
            (ErrorCode::LayerCount, 2, 3)
        );
        let float = format::save(&trained(1).0).unwrap();
        blob.0[shift..shift + float.len()].copy_from_slice(&float);
        let err = format::view::<TinyQView<'_>>(&blob.0[shift..shift + float.len()]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::FileKind);
    }
    // A network of tables alone, which borrows no `i32` array, is refused alike: the
    // address is checked for the file, not per tensor.
    let lut = format::save(&net.rest.first).unwrap();
    let mut blob = Aligned([0u8; 1024]);
    blob.0[1..=lut.len()].copy_from_slice(&lut);
    let err = format::view::<QLut<[i8; 4], Borrowed<'_>>>(&blob.0[1..=lut.len()]).unwrap_err();
    assert_eq!((err.code(), err.layer()), (ErrorCode::Unborrowable, None));
    assert_eq!(err.to_string(), MISALIGNED);
    // At an aligned address it is borrowed.
    blob.0[..lut.len()].copy_from_slice(&lut);
    let view: QLut<[i8; 4], Borrowed<'_>> = format::view(&blob.0[..lut.len()]).unwrap();
    assert_eq!(view.table, &net.rest.first.table);
}

#[test]
fn a_view_cannot_be_loaded_into() {
    let net = tiny_q(10);
    let bytes = format::save(&net).unwrap();
    let blob = aligned(&bytes);
    let mut view: TinyQView<'_> = format::view(&blob.0[..bytes.len()]).unwrap();
    let other = format::save(&tiny_q(11)).unwrap();
    let err = format::load(&other, &mut view).unwrap_err();
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Unborrowable, Some(0), "")
    );
    assert_eq!(
        err.to_string(),
        "the network borrows its arrays and cannot be loaded into; build it over the file with format::view"
    );
    // Nothing changed: the view still reads the first file.
    assert_same(&view, &net);
    // A damaged file is refused for what it is, before anything else; so is a file of
    // another network.
    let err = format::load(&other[..100], &mut view).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Damaged);
    let at = walk(&other).attr(2, "min").value;
    let err = format::load(&resealed(&other, |b| put_u32(b, at, 200)), &mut view).unwrap_err();
    assert_eq!((err.code(), err.layer()), (ErrorCode::AttrValue, Some(2)));
    assert_same(&view, &net);
    // Nor can a version 1 file be upgraded into it.
    let v1 = V1::of_int8(&net.first).bytes();
    let one_bytes = format::save(&net.first).unwrap();
    let one_blob = aligned(&one_bytes);
    let mut one: QDense<3, 4, Borrowed<'_>> = format::view(&one_blob.0[..one_bytes.len()]).unwrap();
    assert_eq!(
        format::v1::upgrade(&v1, &mut one),
        Err(format::v1::V1Error::Unwritable)
    );
}

// ---------------------------------------------------------------------------------------
// Damage

#[test]
fn every_single_byte_change_is_refused_by_the_checksum() {
    let bytes = format::save(&tiny_q(12)).unwrap();
    let blank = tiny_q(13);
    for pos in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut b = bytes.clone();
            b[pos] ^= flip;
            let err = refused(&b, &blank);
            let expected = match pos {
                0..4 => ErrorCode::BadMagic,
                4..6 => ErrorCode::UnsupportedVersion,
                8..12 => ErrorCode::Damaged,
                _ => ErrorCode::Checksum,
            };
            assert_eq!(err.code(), expected, "byte {pos} ^ {flip:#04x}: {err}");
            let blob = aligned(&b);
            assert_eq!(
                format::view::<TinyQView<'_>>(&blob.0[..b.len()]).unwrap_err(),
                err
            );
        }
    }
}

#[test]
fn every_resealed_byte_change_is_refused_or_loads_a_valid_network() {
    // Loader and view agree on every damaged file: both refuse it with the same error,
    // leaving the network untouched, or both accept it, compute the same, and the network
    // saves back to exactly those bytes.
    let net = tiny_q(14);
    let bytes = format::save(&net).unwrap();
    let blank = tiny_q(15);
    let w = walk(&bytes);
    let value = |pos: usize| {
        w.layers.iter().any(|l| {
            l.attrs
                .iter()
                .any(|a| (a.value..a.value + 4).contains(&pos))
                || l.tensors
                    .iter()
                    .any(|t| (t.data..t.data + t.len).contains(&pos))
        })
    };
    let xs = inputs_i8::<3>(16, 8);
    let mut loaded = 0;
    for pos in 0..bytes.len() - 4 {
        for flip in [0x01u8, 0x10, 0x80, 0xFF] {
            let b = resealed(&bytes, |b| b[pos] ^= flip);
            let blob = aligned(&b);
            let viewed = format::view::<TinyQView<'_>>(&blob.0[..b.len()]);
            let mut copy = blank.clone();
            match (format::load(&b, &mut copy), viewed) {
                (Ok(()), Ok(view)) => {
                    // A source flag of 1 with the digest 0 names a float file whose
                    // checksum is 0: valid, as a value is.
                    let source = File::parse(&b).unwrap().source();
                    assert!(
                        value(pos) || source == Some(0),
                        "byte {pos} ^ {flip:#04x} is structure, yet it loads"
                    );
                    let again = match source {
                        Some(d) => format::save_with_source(&copy, d),
                        None => format::save(&copy),
                    };
                    assert_eq!(again.unwrap(), b);
                    assert_eq!(outputs(&view, &xs), outputs(&copy, &xs));
                    loaded += 1;
                }
                (Err(e), Err(f)) => {
                    assert_eq!(e, f, "byte {pos} ^ {flip:#04x}");
                    assert_same(&copy, &blank);
                }
                (l, v) => panic!(
                    "byte {pos} ^ {flip:#04x}: loader {l:?}, view {:?}",
                    v.map(|_| ())
                ),
            }
        }
    }
    assert!(loaded > 500, "{loaded}");
}

#[test]
fn every_truncation_is_refused() {
    let bytes = format::save(&tiny_q(17)).unwrap();
    let blank = tiny_q(18);
    for len in 0..bytes.len() {
        let err = refused(&bytes[..len], &blank);
        let expected = if len < 36 {
            ErrorCode::Truncated
        } else {
            ErrorCode::Damaged
        };
        assert_eq!(err.code(), expected, "length {len}");
        let blob = aligned(&bytes);
        assert_eq!(
            format::view::<TinyQView<'_>>(&blob.0[..len]).unwrap_err(),
            err
        );
    }
}

// ---------------------------------------------------------------------------------------
// The writer refuses what the reader would

#[test]
fn the_writer_refuses_what_the_reader_would() {
    let net = tiny_q(19);
    format::save(&net).unwrap();
    let refuse = |f: &dyn Fn(&mut TinyQ), code: ErrorCode, layer: usize, name: &str| {
        let mut bad = net.clone();
        f(&mut bad);
        let err = format::save(&bad).unwrap_err();
        assert_eq!(
            (err.code(), err.layer(), err.name()),
            (code, Some(layer), name),
            "{err}"
        );
        assert_eq!(format::len(&bad), Err(err));
        assert_eq!(format::rust_source(&bad), Err(err));
        assert_eq!(format::save_with_source(&bad, 7), Err(err));
        err
    };
    use ErrorCode::{AttrOrder, AttrValue, Link, Value};
    // Scales: zero, negative, NaN, infinite, subnormal, beyond 2^64.
    for scale in [0.0, -0.5, f32::NAN, f32::INFINITY, 1e-40, 1e38, 1e-30] {
        let err = refuse(
            &|n| n.first.input.scale = scale,
            AttrValue,
            0,
            "input_scale",
        );
        assert_eq!(
            (err.rule(), err.found()),
            (Some(Rule::Scale), scale.to_bits())
        );
    }
    // The bounds of the rule are valid.
    for scale in [2f32.powi(-64), 2f32.powi(64)] {
        let mut ok = net.clone();
        ok.first.input.scale = scale;
        format::save(&ok).unwrap();
    }
    refuse(
        &|n| n.first.input.zero_point = 128,
        AttrValue,
        0,
        "input_zero_point",
    );
    refuse(
        &|n| n.first.input.zero_point = -129,
        AttrValue,
        0,
        "input_zero_point",
    );
    let err = refuse(
        &|n| {
            n.rest.rest.min = 10;
            n.rest.rest.max = 9;
        },
        AttrOrder,
        2,
        "min",
    );
    assert_eq!(
        err.to_string(),
        "layer 2 (attribute `min`): the value 10 is above the upper bound 9"
    );
    let err = refuse(&|n| n.first.multiplier[1] = 0, Value, 0, "multiplier");
    assert_eq!(
        (err.rule(), err.expected(), err.found()),
        (Some(Rule::Multiplier), 1, 0)
    );
    refuse(
        &|n| n.first.multiplier[1] = (1 << 30) - 1,
        Value,
        0,
        "multiplier",
    );
    refuse(&|n| n.first.multiplier[3] = -1, Value, 0, "multiplier");
    refuse(&|n| n.rest.rest.shift[0] = 31, Value, 2, "shift");
    refuse(&|n| n.rest.rest.shift[1] = -32, Value, 2, "shift");
    // Unlinked layers: the table's input is not the dense layer's output, or the last
    // dense layer's input is not the table's output.
    let err = refuse(&|n| n.rest.first.input.scale *= 2.0, Link, 1, "input_scale");
    assert!(err.to_string().starts_with("layer 1: its input is quantized differently from the output of layer 0 (the input_scale differs: "), "{err}");
    refuse(
        &|n| n.rest.rest.input.zero_point ^= 1,
        Link,
        2,
        "input_zero_point",
    );
    // The all-zero network holds multipliers of 0: no file may.
    let zero: TinyQ = Zero::ZERO;
    assert_eq!(format::save(&zero).unwrap_err().code(), Value);
    // A multiplier at the edges of the range is fine.
    let mut ok = net.clone();
    ok.first.multiplier = [1 << 30, i32::MAX, 1 << 30, i32::MAX];
    format::save(&ok).unwrap();
}

#[test]
fn a_hand_made_int8_layer_round_trips() {
    // QDense::from_float with a batch normalization folded in and a ReLU fused.
    let mut dense = Dense::<3, 2>::ZERO;
    dense.weight = [[0.5, -0.25, 1.0], [0.1, 0.2, -0.3]];
    dense.bias = [0.1, -0.2];
    let mut bn = BatchNorm::<2>::DEFAULT;
    bn.gamma = [1.5, 0.5];
    bn.running_var = [0.5, 2.0];
    let (input, output) = (
        QParams::from_range(-1.0, 1.0),
        QParams::from_range(0.0, 3.0),
    );
    let q = QDense::from_float(&dense, Some(&bn), Clamp::Relu, input, output).unwrap();
    assert_eq!(q.min as i32, output.zero_point);
    let bytes = format::save(&q).unwrap();
    let mut back = QDense::<3, 2>::ZERO;
    format::load(&bytes, &mut back).unwrap();
    assert_eq!(back, q);
    let file = File::parse(&bytes).unwrap();
    let min = file.layer(0).unwrap().attrs().nth(4).unwrap();
    assert_eq!((min.name, min.value), ("min", Attr::I32(output.zero_point)));
}

// ---------------------------------------------------------------------------------------
// Rust source, compiled back

/// The Rust source of `tiny_q(21)`, as `rust_source` writes it; the compiler builds the
/// network from it below. Run with `FIRMNET_WRITE_GOLDEN=1` to rewrite it after a
/// deliberate change of the generated text.
const TINY_SOURCE: &str = include_str!("data/tiny_int8.rs");
static TINY_COMPILED: TinyQ = include!("data/tiny_int8.rs");

#[test]
fn rust_source_of_an_int8_network_compiles_back_to_it() {
    let net = tiny_q(21);
    let source = format::rust_source(&net).unwrap();
    if std::env::var_os("FIRMNET_WRITE_GOLDEN").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny_int8.rs");
        std::fs::write(path, &source).unwrap();
    }
    assert_eq!(
        source, TINY_SOURCE,
        "the generated source changed; rewrite tests/data/tiny_int8.rs with FIRMNET_WRITE_GOLDEN=1 if that is intended"
    );
    // Every value, scales to the bit, as the compiler built it from the source.
    assert!(
        TINY_COMPILED == net,
        "the compiled network differs from the original"
    );
    assert_same(&TINY_COMPILED, &net);
    let xs = inputs_i8::<3>(9, 32);
    assert_eq!(outputs(&TINY_COMPILED, &xs), outputs(&net, &xs));
    // And it is the network the file holds.
    let mut loaded: TinyQ = tiny_q(22);
    format::load(&format::save(&net).unwrap(), &mut loaded).unwrap();
    assert!(loaded == TINY_COMPILED);

    // A network the reader would refuse is not written either.
    let mut bad = tiny_q(21);
    bad.first.output.scale = f32::NAN;
    assert_eq!(
        format::rust_source(&bad).unwrap_err().code(),
        ErrorCode::AttrValue
    );
}

// ---------------------------------------------------------------------------------------
// Files that belong together

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(std::format!(
        "firmnet-format-int8-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn check_source_tells_which_files_belong_together() {
    let float = zoo(23);
    let float_bytes = format::save(&float).unwrap();
    let digest = File::parse(&float_bytes).unwrap().checksum();
    let q = quantize(&float, &inputs::<3>(24, 32), RangeMethod::MinMax).unwrap();
    let q_bytes = format::save_with_source(&*q, digest).unwrap();
    assert_eq!(File::parse(&q_bytes).unwrap().source(), Some(digest));
    format::check_source(&float_bytes, &q_bytes).unwrap();
    // The source digest changes nothing else: the network loads the same.
    let mut back: Box<ZooQ> = firmnet::boxed::zero();
    format::load(&q_bytes, &mut *back).unwrap();
    assert!(*back == *q);
    let mut buf = vec![0u8; q_bytes.len()];
    assert_eq!(
        format::write_with_source(&*q, digest, &mut buf),
        Ok(q_bytes.len())
    );
    assert_eq!(buf, q_bytes);

    // Another float file, or none recorded.
    let other = format::save(&zoo(25)).unwrap();
    let other_digest = File::parse(&other).unwrap().checksum();
    let err = format::check_source(&other, &q_bytes).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Source);
    assert_eq!((err.expected(), err.found()), (digest, other_digest));
    assert_eq!(
        err.to_string(),
        std::format!(
            "the int8 file was made from another float file (digest {digest:#010x}, this one is {other_digest:#010x})"
        )
    );
    let plain = format::save(&*q).unwrap();
    assert_eq!(
        format::check_source(&float_bytes, &plain)
            .unwrap_err()
            .code(),
        ErrorCode::Source
    );
    // Damaged files are named as such.
    let mut damaged = float_bytes.clone();
    damaged[100] ^= 1;
    assert_eq!(
        format::check_source(&damaged, &q_bytes).unwrap_err().code(),
        ErrorCode::Checksum
    );
}

#[test]
fn save_pair_writes_both_files_of_a_pair() {
    let dir = temp_dir("pair");
    let (fp, qp) = (dir.join("model.fnet"), dir.join("model_int8.fnet"));
    let float = zoo(26);
    let q = quantize(&float, &inputs::<3>(27, 32), RangeMethod::MinMax).unwrap();
    let (fb, qb) = format::save_pair(&fp, &float, &qp, &*q).unwrap();
    assert_eq!(std::fs::read(&fp).unwrap(), fb);
    assert_eq!(std::fs::read(&qp).unwrap(), qb);
    assert_eq!(fb, format::save(&float).unwrap());
    format::check_source(&fb, &qb).unwrap();
    let mut back = zoo_zero();
    format::load_file(&fp, &mut back).unwrap();
    assert_same(&back, &float);
    let mut back_q: Box<ZooQ> = firmnet::boxed::zero();
    format::load_file(&qp, &mut *back_q).unwrap();
    assert!(*back_q == *q);

    // A new pair replaces the old one; the old int8 file does not pass with the new float.
    let float2 = zoo(28);
    let q2 = quantize(&float2, &inputs::<3>(29, 32), RangeMethod::MinMax).unwrap();
    let (fb2, qb2) = format::save_pair(&fp, &float2, &qp, &*q2).unwrap();
    format::check_source(&fb2, &qb2).unwrap();
    assert_eq!(
        format::check_source(&fb2, &qb).unwrap_err().code(),
        ErrorCode::Source
    );

    // A network that cannot be encoded writes nothing: the old pair stays.
    let mut bad = q2.clone();
    bad.first.multiplier[0] = 0;
    let err = format::save_pair(&fp, &zoo(30), &qp, &*bad).unwrap_err();
    assert!(matches!(err, FileError::Format { .. }), "{err}");
    assert_eq!(err.path(), qp);
    assert_eq!(std::fs::read(&fp).unwrap(), fb2);
    assert_eq!(std::fs::read(&qp).unwrap(), qb2);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["model.fnet", "model_int8.fnet"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn stale_temporaries_are_removed_by_the_next_write() {
    let dir = temp_dir("stale");
    let path = dir.join("model.fnet");
    // A process id that runs nowhere (Linux allows at most 2^22).
    let dead = 4_000_000;
    assert!(!std::path::Path::new(&std::format!("/proc/{dead}")).exists());
    let me = std::process::id();
    let stale = dir.join(std::format!(".model.fnet.{dead}-0.tmp"));
    let stale2 = dir.join(std::format!(".model.fnet.{dead}-17.tmp"));
    let mut kept = vec![
        dir.join(std::format!(".model.fnet.{me}-99.tmp")), // this process's own
        dir.join(std::format!(".other.fnet.{dead}-0.tmp")), // another file's
        dir.join(".model.fnet.x-0.tmp"),                   // not a process id
        dir.join(std::format!("model.fnet.{dead}-0.tmp")), // not hidden: not ours
    ];
    if std::path::Path::new("/proc/1").exists() {
        kept.push(dir.join(".model.fnet.1-0.tmp")); // a running process (init)
    }
    for p in kept.iter().chain([&stale, &stale2]) {
        std::fs::write(p, b"partial").unwrap();
    }
    format::write_atomic(&path, b"new contents").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
    assert!(
        !stale.exists() && !stale2.exists(),
        "stale temporaries remain"
    );
    for p in &kept {
        assert!(p.exists(), "{} was removed", p.display());
    }
    // Called directly, it counts what it removed.
    std::fs::write(&stale, b"partial").unwrap();
    assert_eq!(format::remove_stale_temporaries(&path), 1);
    assert_eq!(format::remove_stale_temporaries(&path), 0);
    assert!(!stale.exists());
    // save_pair cleans both paths.
    let qpath = dir.join("model_int8.fnet");
    let qstale = dir.join(std::format!(".model_int8.fnet.{dead}-3.tmp"));
    std::fs::write(&qstale, b"partial").unwrap();
    std::fs::write(&stale, b"partial").unwrap();
    let float = zoo(31);
    let q = quantize(&float, &inputs::<3>(32, 32), RangeMethod::MinMax).unwrap();
    format::save_pair(&path, &float, &qpath, &*q).unwrap();
    assert!(!stale.exists() && !qstale.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------
// The fuzz target's seeds

/// The seed corpus of the fuzz target `fuzz/fuzz_targets/readers.rs`: small valid files
/// of the networks it loads. Run with `FIRMNET_WRITE_FUZZ_SEEDS=1` to (re)write them (this
/// first removes the `.fnet` files there; what the fuzzer added is ignored by git and
/// kept); otherwise checks that they are present, up to
/// date, and valid version 2 files of their network.
#[test]
fn fuzz_seeds_are_valid_version_2_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/readers");
    let (trained, adam, ctx) = trained(33);
    let run = format::RunState {
        rng: ctx.rng,
        epoch: 2,
        step: 6,
    };
    let stop = format::EarlyStop {
        best: &trained,
        best_value: 0.5,
        best_epoch: 1,
        since_best: 1,
    };
    let seeds: [(&str, Vec<u8>); 5] = [
        ("tiny_int8.fnet", format::save(&tiny_q(34)).unwrap()),
        ("one_qdense.fnet", format::save(&tiny_q(35).first).unwrap()),
        ("tiny_float.fnet", format::save(&trained).unwrap()),
        (
            "tiny_checkpoint.fnet",
            format::save_training(&trained, &adam, &run, Some(&stop), &[]).unwrap(),
        ),
        (
            "tiny_int8_source.fnet",
            format::save_with_source(&tiny_q(36), 0x1234_5678).unwrap(),
        ),
    ];
    // The fuzz target builds firmnet without `fast-math`, so its seeds hold the values
    // that libm's functions train; micromath's `exp` trains slightly different ones.
    let fast = cfg!(feature = "fast-math");
    if std::env::var_os("FIRMNET_WRITE_FUZZ_SEEDS").is_some() {
        assert!(!fast, "write the seeds from a build without fast-math");
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "fnet") {
                std::fs::remove_file(path).unwrap();
            }
        }
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in &seeds {
        let stored = std::fs::read(dir.join(name)).unwrap_or_else(|e| {
            panic!("{name}: {e}; write the seeds with FIRMNET_WRITE_FUZZ_SEEDS=1")
        });
        if fast {
            // What does not depend on the math must still match: everything but the
            // tensors' elements and the checksum over them.
            assert_eq!(
                without_values(&stored),
                without_values(bytes),
                "{name} is out of date"
            );
        } else {
            assert_eq!(&stored, bytes, "{name} is out of date");
        }
    }
    // Every seed is a version 2 file of one of the target's networks: with `fast-math`,
    // the fresh seeds and the stored ones the fuzzer reads.
    let stored: Vec<(&str, Vec<u8>)> = if fast {
        seeds
            .iter()
            .map(|(name, _)| (*name, std::fs::read(dir.join(name)).unwrap()))
            .collect()
    } else {
        Vec::new()
    };
    for (name, bytes) in seeds.iter().chain(&stored) {
        let file = File::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&bytes[4..6], &[2, 0]);
        // The documented word layout, walked independently, finds the reader's records.
        walk_matches_reader(bytes);
        let ok = match file.kind() {
            FileKind::Int8 => {
                let mut q: TinyQ = Zero::ZERO;
                let mut one = QDense::<3, 4>::ZERO;
                format::load(bytes, &mut q).is_ok() || format::load(bytes, &mut one).is_ok()
            }
            FileKind::Float => format::load(bytes, &mut mlp()).is_ok(),
            FileKind::Checkpoint => {
                let mut adam = Adam::<MlpGrad>::new(AdamConfig::DEFAULT);
                format::load_training(bytes, &mut mlp(), &mut adam, Some(&mut mlp())).is_ok()
            }
        };
        assert!(ok, "{name} loads into none of the target's networks");
    }
}

/// `bytes`, a valid file, with the elements of every tensor and the closing checksum
/// zeroed: its layout, attributes and scalars.
fn without_values(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let file = File::parse(bytes).unwrap();
    for layer in file.layers() {
        for t in layer.tensors() {
            out[t.offset..t.offset + t.data.len()].fill(0);
        }
    }
    let n = out.len();
    out[n - 4..].fill(0);
    out
}
