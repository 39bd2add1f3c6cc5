//! The FNET format for int8 networks: round trips, zero-copy views, and every kind of
//! damage refused with the right typed error, without panics and without touching the
//! network.

use firmnet::format::{
    self, Aligned, Dtype, File, FormatError, QDENSE_TENSORS, QDenseRef, QParamsIo, Section,
};
use firmnet::layers::ParamKind;
use firmnet::models::{FASHION_MLP_Q, FashionMlpQ};
use firmnet::prelude::*;
use firmnet::quant::{QDense, QLayer, QParams};
use firmnet::rng::Rng;
use firmnet::tensor::Zero;
use firmnet::{QNet, qnet};

type Tiny = QNet![QDense<3, 4>, QDense<4, 2>];
type TinyRef<'a> = QNet![QDenseRef<'a, 3, 4>, QDenseRef<'a, 4, 2>];

/// Valid random parameters: any weights and biases, multipliers in Q31 range, shifts that
/// scale down, positive scales, `i8` zero points, a ReLU clamp half of the time.
fn randomize<N: QParamsIo>(net: &mut N, seed: u64) {
    let mut rng = Rng::new(seed);
    for i in 0..N::LAYERS {
        let v = net.qdense_mut(i);
        v.weight
            .iter_mut()
            .for_each(|w| *w = rng.next_u32() as u8 as i8);
        v.bias
            .iter_mut()
            .for_each(|b| *b = rng.below(1 << 20) as i32 - (1 << 19));
        v.multiplier
            .iter_mut()
            .for_each(|m| *m = (1 << 30) + rng.below(1 << 30) as i32);
        v.shift
            .iter_mut()
            .for_each(|s| *s = -(rng.below(6) as i32) - 6);
        v.weight_scale
            .iter_mut()
            .for_each(|s| *s = rng.uniform(1e-4, 1e-1));
        *v.input = QParams {
            scale: rng.uniform(1e-3, 1.0),
            zero_point: rng.below(256) as i32 - 128,
        };
        *v.output = QParams {
            scale: rng.uniform(1e-3, 1.0),
            zero_point: rng.below(256) as i32 - 128,
        };
        *v.min = if rng.below(2) == 0 {
            -128
        } else {
            v.output.zero_point as i8
        };
        *v.max = 127;
    }
}

fn tiny(seed: u64) -> Tiny {
    let mut net: Tiny = qnet![QDense::ZERO, QDense::ZERO];
    randomize(&mut net, seed);
    net
}

fn fashion(seed: u64) -> Box<FashionMlpQ> {
    let mut net = Box::new(FASHION_MLP_Q);
    randomize(&mut *net, seed);
    net
}

fn random_input<const N: usize>(rng: &mut Rng) -> [i8; N] {
    core::array::from_fn(|_| rng.next_u32() as u8 as i8)
}

fn outputs<L: QLayer<Input = [i8; IN], Output = [i8; OUT]>, const IN: usize, const OUT: usize>(
    net: &L,
    seed: u64,
) -> Vec<[i8; OUT]> {
    let mut rng = Rng::new(seed);
    let mut scratch = Box::new(L::Scratch::ZERO);
    (0..16)
        .map(|_| {
            let x = random_input::<IN>(&mut rng);
            let mut y = [0i8; OUT];
            net.forward(&x, &mut y, &mut scratch);
            y
        })
        .collect()
}

/// Recomputes the checksum after an edit, so that parsing goes past it.
fn reseal(bytes: &mut [u8]) {
    let n = bytes.len();
    let crc = format::crc32(&bytes[..n - 4]);
    bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
}

/// Offset of the record header and of the data of tensor `name` of `layer`.
fn locate(bytes: &[u8], layer: usize, name: &str) -> (usize, usize) {
    let file = File::parse(bytes).unwrap();
    let t = file.tensor(Section::Params, layer, name).unwrap();
    let name_len = name.len().div_ceil(4) * 4;
    (t.offset - name_len - 20, t.offset)
}

/// `bytes` with `f` applied and the checksum made valid again.
fn patched(bytes: &[u8], f: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut b = bytes.to_vec();
    f(&mut b);
    reseal(&mut b);
    b
}

fn put_i32(bytes: &mut [u8], at: usize, v: i32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Loads `bytes` into a copy of `net`, expecting an error; checks the copy is untouched.
fn refused<N: QParamsIo + Clone + PartialEq + core::fmt::Debug>(
    bytes: &[u8],
    net: &N,
) -> FormatError {
    let mut copy = net.clone();
    let err = format::load_qnet(bytes, &mut copy).expect_err("the file should be refused");
    assert!(copy == *net, "a refused load changed the network ({err})");
    let _ = err.to_string();
    err
}

#[test]
fn fashion_round_trip_is_bit_identical_and_outputs_agree() {
    let net = fashion(1);
    let bytes = format::save_qnet(&*net).unwrap();
    assert_eq!(bytes.len(), format::qnet_len::<FashionMlpQ>());

    let mut loaded = Box::new(FASHION_MLP_Q);
    format::load_qnet(&bytes, &mut *loaded).unwrap();
    assert!(*loaded == *net);
    for i in 0..3 {
        let (a, b) = (net.qdense(i), loaded.qdense(i));
        let bits = |s: &[f32]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a.weight_scale), bits(b.weight_scale));
        assert_eq!(a.input.scale.to_bits(), b.input.scale.to_bits());
        assert_eq!(a.output.scale.to_bits(), b.output.scale.to_bits());
    }
    // Writing the loaded network gives the same bytes.
    assert_eq!(format::save_qnet(&*loaded).unwrap(), bytes);
    assert_eq!(outputs(&*net, 7), outputs(&*loaded, 7));

    // The no-heap writer gives the same bytes.
    let mut buf = vec![0u8; bytes.len() + 10];
    let n = format::write_qnet(&*net, &mut buf).unwrap();
    assert_eq!(&buf[..n], &bytes[..]);
}

#[test]
fn the_file_describes_the_int8_network() {
    let net = tiny(2);
    let bytes = format::save_qnet(&net).unwrap();
    let file = File::parse(&bytes).unwrap();
    let layers: Vec<_> = file
        .layers()
        .map(|l| (l.kind, l.inputs, l.outputs))
        .collect();
    assert_eq!(layers, [("qdense", 3, 4), ("qdense", 4, 2)]);
    assert_eq!(file.optimizer(), None);
    assert_eq!(file.scalars().count(), 0);
    assert_eq!(file.count(Section::Params), 2 * QDENSE_TENSORS);
    let w = file.tensor(Section::Params, 1, "weight").unwrap();
    assert_eq!(
        (w.dtype, w.kind, w.rows, w.cols),
        (Dtype::I8, ParamKind::Weight, 2, 4)
    );
    assert!(
        w.i8s()
            .unwrap()
            .eq(net.rest.weight.0.as_flattened().iter().copied())
    );
    assert_eq!(w.offset % 4, 0);
    let b = file.tensor(Section::Params, 0, "bias").unwrap();
    assert_eq!((b.dtype, b.rows, b.cols), (Dtype::I32, 1, 4));
    assert!(b.i32s().unwrap().eq(net.first.bias.iter().copied()));
    let s = file.tensor(Section::Params, 0, "scales").unwrap();
    assert!(
        s.f32s()
            .unwrap()
            .eq([net.first.input.scale, net.first.output.scale])
    );
    let z = file.tensor(Section::Params, 1, "zero_points").unwrap();
    assert!(
        z.i32s()
            .unwrap()
            .eq([net.rest.input.zero_point, net.rest.output.zero_point])
    );
    let c = file.tensor(Section::Params, 1, "clamp").unwrap();
    assert!(
        c.i32s()
            .unwrap()
            .eq([i32::from(net.rest.min), i32::from(net.rest.max)])
    );
    for name in ["multiplier", "shift", "weight_scale"] {
        let t = file.tensor(Section::Params, 0, name).unwrap();
        assert_eq!((t.rows, t.cols), (1, 4), "{name}");
    }
}

#[test]
fn zero_copy_view_borrows_the_file_and_computes_the_same_outputs() {
    let net = fashion(3);
    let bytes = format::save_qnet(&*net).unwrap();
    // As in flash: the file at an aligned address.
    let mut blob = Box::new(Aligned([0u8; 250_000]));
    blob.0[..bytes.len()].copy_from_slice(&bytes);
    let file_bytes = &blob.0[..bytes.len()];
    type View<'a> = QNet![
        QDenseRef<'a, 784, 256>,
        QDenseRef<'a, 256, 128>,
        QDenseRef<'a, 128, 10>
    ];
    let view: View<'_> = format::qnet_ref(file_bytes).unwrap();
    let range = file_bytes.as_ptr_range();
    for w in [
        view.first.weight.as_flattened().as_ptr(),
        view.rest.first.weight.as_flattened().as_ptr(),
        view.rest.rest.weight.as_flattened().as_ptr(),
    ] {
        assert!(range.contains(&(w as *const u8)), "weights are borrowed");
        assert_eq!(w as usize % 4, 0, "and 4-aligned in an aligned file");
    }
    assert_eq!(view.first.weight, &net.first.weight.0);
    assert_eq!(view.rest.rest.bias, &net.rest.rest.bias);
    assert_eq!(view.first.multiplier, &net.first.multiplier);
    assert_eq!(view.rest.first.shift, &net.rest.first.shift);
    assert_eq!(view.first.weight_scale, &net.first.weight_scale);
    for p in [
        view.first.bias.as_ptr(),
        view.first.multiplier.as_ptr(),
        view.rest.rest.shift.as_ptr(),
    ] {
        assert!(
            range.contains(&(p as *const u8)),
            "per-channel arrays are borrowed too"
        );
    }
    assert_eq!(view.input_params(), net.input_params());
    assert_eq!(view.output_params(), net.output_params());
    assert_eq!(outputs(&view, 11), outputs(&*net, 11));

    // The view is checked as the loader checks.
    let small = format::save_qnet(&tiny(4)).unwrap();
    let err = format::qnet_ref::<TinyRef<'_>>(&small[..small.len() - 1]).unwrap_err();
    assert!(matches!(err, FormatError::Truncated { .. }), "{err}");
    let err =
        format::qnet_ref::<QNet![QDenseRef<'_, 3, 5>, QDenseRef<'_, 5, 2>]>(&small).unwrap_err();
    assert!(matches!(err, FormatError::Shape { layer: 0, .. }), "{err}");
    let err = format::qnet_ref::<QDenseRef<'_, 3, 4>>(&small).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::LayerCount {
                expected: 1,
                found: 2
            }
        ),
        "{err}"
    );
    let (_, at) = locate(&small, 1, "zero_points");
    let bad = patched(&small, |b| put_i32(b, at, -129));
    let err = format::qnet_ref::<TinyRef<'_>>(&bad).unwrap_err();
    assert!(
        matches!(err, FormatError::QuantValue { layer: 1, .. }),
        "{err}"
    );
    let mut aligned = Aligned([0u8; 1024]);
    aligned.0[..small.len()].copy_from_slice(&small);
    let view: TinyRef<'_> = format::qnet_ref(&aligned[..small.len()]).unwrap();
    assert_eq!(outputs(&view, 5), outputs(&tiny(4), 5));
}

#[test]
fn a_view_of_misaligned_bytes_is_refused_with_the_remedy() {
    let small = format::save_qnet(&tiny(4)).unwrap();
    // The file one byte past an aligned address: every i32 array is misaligned.
    let mut blob = Aligned([0u8; 1025]);
    blob.0[1..=small.len()].copy_from_slice(&small);
    let err = format::qnet_ref::<TinyRef<'_>>(&blob[1..=small.len()]).unwrap_err();
    assert!(
        matches!(err, FormatError::Unborrowable { layer: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("Aligned"), "{err}");
    // The loader copies, so it accepts the same bytes at any address.
    let mut net = tiny(5);
    format::load_qnet(&blob[1..=small.len()], &mut net).unwrap();
    assert!(net == tiny(4));
}

#[test]
fn every_truncation_is_refused() {
    let net = tiny(5);
    let bytes = format::save_qnet(&net).unwrap();
    let before = tiny(6);
    for len in 0..bytes.len() {
        let err = refused(&bytes[..len], &before);
        assert!(
            matches!(
                err,
                FormatError::Truncated { .. } | FormatError::BadMagic { .. }
            ),
            "length {len}: {err}"
        );
        assert!(format::qnet_ref::<TinyRef<'_>>(&bytes[..len]).is_err());
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        refused(&longer, &before),
        FormatError::TrailingBytes { .. }
    ));
}

#[test]
fn every_byte_change_is_refused() {
    let bytes = format::save_qnet(&tiny(7)).unwrap();
    let before = tiny(8);
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[at] ^= flip;
            let err = refused(&b, &before);
            let ok = match at {
                0..4 => matches!(err, FormatError::BadMagic { .. }),
                4..6 => matches!(err, FormatError::UnsupportedVersion { .. }),
                8..12 => matches!(
                    err,
                    FormatError::Truncated { .. } | FormatError::TrailingBytes { .. }
                ),
                _ => matches!(err, FormatError::Checksum { .. }),
            };
            assert!(ok, "byte {at} ^ {flip:#x}: {err}");
        }
    }
}

#[test]
fn every_resealed_byte_change_is_handled() {
    // With a valid checksum the reader meets the damage itself: it must refuse it with a
    // typed error or accept a valid network, never panic, never half-load.
    let bytes = format::save_qnet(&tiny(9)).unwrap();
    let before = tiny(10);
    let mut rng = Rng::new(11);
    for at in 12..bytes.len() - 4 {
        for _ in 0..4 {
            let b = patched(&bytes, |b| b[at] = rng.next_u32() as u8);
            let mut net = before.clone();
            match format::load_qnet(&b, &mut net) {
                Ok(()) => assert!(format::save_qnet(&net).is_ok()),
                Err(e) => {
                    assert!(net == before, "byte {at}: {e}");
                    let _ = e.to_string();
                }
            }
            let _ = format::qnet_ref::<TinyRef<'_>>(&b);
        }
    }
}

#[test]
fn a_network_of_another_shape_or_depth_is_refused() {
    let bytes = format::save_qnet(&tiny(12)).unwrap();

    let other: QNet![QDense<3, 5>, QDense<5, 2>] = qnet![QDense::ZERO, QDense::ZERO];
    let err = refused(&bytes, &other);
    assert!(
        matches!(err, FormatError::Shape { layer: 0, ref tensor, .. } if *tensor == "weight"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (qdense): weight has shape 4×3 in the file, the network expects 5×3"
    );

    let deeper: QNet![QDense<3, 4>, QDense<4, 2>, QDense<2, 2>] =
        qnet![QDense::ZERO, QDense::ZERO, QDense::ZERO];
    assert!(matches!(
        refused(&bytes, &deeper),
        FormatError::LayerCount {
            expected: 3,
            found: 2
        }
    ));
    let shallow: QDense<3, 4> = QDense::ZERO;
    assert!(matches!(
        refused(&bytes, &shallow),
        FormatError::LayerCount {
            expected: 1,
            found: 2
        }
    ));

    // A layer record whose sizes disagree with its (matching) tensors.
    let net = tiny(13);
    let b = patched(&bytes, |b| put_i32(b, 32, 7));
    let err = refused(&b, &net);
    assert!(
        matches!(
            err,
            FormatError::LayerSize {
                layer: 0,
                expected: (3, 4),
                found: (7, 4),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn wrong_layer_kind_tensor_kind_and_dtype_are_named() {
    let bytes = format::save_qnet(&tiny(14)).unwrap();
    let net = tiny(15);

    // The kind of layer 1: "qdense" → "qdensX".
    let kind_at = 32 + 20 + 12 + 5;
    assert_eq!(&bytes[kind_at - 5..kind_at + 1], b"qdense");
    let b = patched(&bytes, |b| b[kind_at] = b'X');
    let err = refused(&b, &net);
    assert!(
        matches!(err, FormatError::LayerKind { layer: 1, expected: "qdense", ref found } if *found == "qdensX"),
        "{err}"
    );

    // The bias of layer 0 recorded as a weight.
    let (rec, _) = locate(&bytes, 0, "bias");
    let b = patched(&bytes, |b| b[rec + 1] = 1);
    let err = refused(&b, &net);
    assert!(
        matches!(
            err,
            FormatError::TensorKind {
                layer: 0,
                expected: ParamKind::Bias,
                found: ParamKind::Weight,
                ..
            }
        ),
        "{err}"
    );

    // weight_scale recorded as i32 (same size, so the file itself is well formed).
    let (rec, _) = locate(&bytes, 1, "weight_scale");
    let b = patched(&bytes, |b| b[rec + 2] = Dtype::I32.code());
    let err = refused(&b, &net);
    assert!(
        matches!(
            err,
            FormatError::Dtype {
                layer: 1,
                expected: Dtype::F32,
                found: Dtype::I32,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "layer 1: weight_scale holds i32 values in the file, the network expects f32"
    );

    // A tensor renamed away: missing.
    let (rec, _) = locate(&bytes, 0, "shift");
    let b = patched(&bytes, |b| b[rec + 20] = b't');
    let err = refused(&b, &net);
    assert!(
        matches!(err, FormatError::MissingTensor { layer: 0, .. }),
        "{err}"
    );
}

#[test]
fn out_of_range_quantization_values_are_refused() {
    let bytes = format::save_qnet(&tiny(16)).unwrap();
    let net = tiny(17);
    let f = |v: f32| v.to_bits() as i32;

    // NaN and infinite scales: refused by the parser already.
    for v in [f32::NAN, f32::INFINITY] {
        let (_, at) = locate(&bytes, 0, "scales");
        let err = refused(&patched(&bytes, |b| put_i32(b, at, f(v))), &net);
        assert!(
            matches!(
                err,
                FormatError::NonFinite {
                    layer: 0,
                    index: 0,
                    ..
                }
            ),
            "{err}"
        );
    }

    // (tensor, layer, element, bad value, expected message part)
    let cases: &[(&str, usize, usize, i32, &str)] = &[
        ("scales", 0, 1, f(0.0), "a finite scale > 0"),
        ("scales", 1, 0, f(-1.0), "a finite scale > 0"),
        ("weight_scale", 1, 1, f(-0.5), "a finite scale > 0"),
        ("zero_points", 0, 0, 128, "a zero point in -128..=127"),
        ("zero_points", 1, 1, -129, "a zero point in -128..=127"),
        ("clamp", 0, 1, 300, "an output bound in -128..=127"),
        ("shift", 0, 2, 31, "a shift in -31..=30"),
        ("shift", 1, 0, -32, "a shift in -31..=30"),
        ("multiplier", 1, 1, -1, "a multiplier >= 0"),
    ];
    for &(name, layer, index, value, expected) in cases {
        let (_, at) = locate(&bytes, layer, name);
        let b = patched(&bytes, |b| put_i32(b, at + 4 * index, value));
        let err = refused(&b, &net);
        match err {
            FormatError::QuantValue {
                layer: l,
                tensor,
                index: i,
                expected: e,
                ..
            } => {
                assert_eq!((l, i, e), (layer, index, expected), "{name}: {err}");
                assert!(tensor == name, "{err}");
            }
            _ => panic!("{name}: {err}"),
        }
        assert!(err.to_string().contains(expected));
    }

    // min > max.
    let (_, at) = locate(&bytes, 1, "clamp");
    let b = patched(&bytes, |b| {
        put_i32(b, at, 10);
        put_i32(b, at + 4, 9);
    });
    let err = refused(&b, &net);
    assert!(
        matches!(
            err,
            FormatError::QuantValue {
                layer: 1,
                index: 0,
                expected: "min <= max",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "layer 1: clamp[0] is 10 in the file, the network expects min <= max"
    );

    // The bounds themselves are fine at the edges.
    let b = patched(&bytes, |b| {
        put_i32(b, at, 5);
        put_i32(b, at + 4, 5);
    });
    let mut loaded = net.clone();
    format::load_qnet(&b, &mut loaded).unwrap();
    assert_eq!((loaded.rest.min, loaded.rest.max), (5, 5));
}

#[test]
fn float_and_int8_files_are_told_apart() {
    let q = format::save_qnet(&tiny(18)).unwrap();
    type Float = Net![Dense<3, 4>, Relu<[f32; 4]>];
    let mut float: Float = net![Dense::ZERO, Relu::DEFAULT];
    let err = format::load_params(&q, &mut float).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::LayerKind {
                layer: 0,
                expected: "dense",
                ..
            }
        ),
        "{err}"
    );

    type Float2 = Net![Dense<3, 4>, Dense<4, 2>];
    let f = format::save_params(&Float2::default_zero()).unwrap();
    let err = refused(&f, &tiny(19));
    assert!(
        matches!(err, FormatError::LayerKind { layer: 0, expected: "qdense", ref found } if *found == "dense"),
        "{err}"
    );
}

trait DefaultZero {
    fn default_zero() -> Self;
}

impl DefaultZero for Net![Dense<3, 4>, Dense<4, 2>] {
    fn default_zero() -> Self {
        net![Dense::ZERO, Dense::ZERO]
    }
}

#[test]
fn the_writer_refuses_what_the_reader_would() {
    let mut net = tiny(20);
    let mut small = [0u8; 16];
    assert!(matches!(
        format::write_qnet(&net, &mut small),
        Err(FormatError::BufferTooSmall { .. })
    ));
    net.rest.output.zero_point = 200;
    assert!(matches!(
        format::save_qnet(&net),
        Err(FormatError::QuantValue {
            layer: 1,
            index: 1,
            ..
        })
    ));
    net.rest.output.zero_point = 0;
    net.first.min = 10;
    net.first.max = 0;
    assert!(matches!(
        format::save_qnet(&net),
        Err(FormatError::QuantValue { layer: 0, .. })
    ));
    net.first.max = 127;
    net.first.weight_scale[3] = f32::NAN;
    assert!(matches!(
        format::save_qnet(&net),
        Err(FormatError::QuantValue {
            layer: 0,
            index: 3,
            ..
        })
    ));
    // The all-zero network is valid.
    let zero = format::save_qnet(&FASHION_MLP_Q).unwrap();
    let mut loaded = fashion(21);
    format::load_qnet(&zero, &mut *loaded).unwrap();
    assert!(*loaded == FASHION_MLP_Q);
}

#[test]
fn random_bytes_and_mutations_never_panic() {
    let bytes = format::save_qnet(&tiny(22)).unwrap();
    let before = tiny(23);
    let mut rng = Rng::new(24);
    for round in 0..3000 {
        let mut b = bytes.clone();
        let edits = 1 + rng.below(4);
        for _ in 0..edits {
            let at = rng.below(b.len() as u32) as usize;
            b[at] = rng.next_u32() as u8;
        }
        if round % 3 == 0 {
            let n = rng.below(b.len() as u32) as usize;
            b.truncate(n.max(8));
        }
        if b.len() >= 12 {
            let len = b.len() as u32;
            b[8..12].copy_from_slice(&len.to_le_bytes());
        }
        if b.len() >= 4 {
            reseal(&mut b);
        }
        let mut net = before.clone();
        if format::load_qnet(&b, &mut net).is_err() {
            assert!(net == before);
        }
        let _ = format::qnet_ref::<TinyRef<'_>>(&b);
    }
}

/// The seed corpus of the fuzz target `fuzz/fuzz_targets/load_qnet.rs`: small valid files.
/// Run with `FIRMNET_WRITE_FUZZ_SEEDS=1` to (re)write them; otherwise checks that those
/// present still load.
#[test]
fn fuzz_seeds_are_valid_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/load_qnet");
    let tiny_q = format::save_qnet(&tiny(25)).unwrap();
    let one: QDense<3, 4> = tiny(26).first;
    let one_q = format::save_qnet(&one).unwrap();
    let float: Net![Dense<3, 4>, Relu<[f32; 4]>, Dense<4, 2>] =
        net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];
    let float_f = format::save_params(&float).unwrap();
    let seeds = [
        ("tiny_qnet.fnet", &tiny_q),
        ("one_qdense.fnet", &one_q),
        ("tiny_float.fnet", &float_f),
    ];
    if std::env::var_os("FIRMNET_WRITE_FUZZ_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in seeds {
        if let Ok(stored) = std::fs::read(dir.join(name)) {
            assert_eq!(&stored, bytes, "{name} is out of date");
            File::parse(&stored).unwrap();
        }
    }
}

/// The Rust source of `tiny(21)`, as `qnet_rust_source` writes it; the compiler builds the
/// network from it below. Run with `FIRMNET_WRITE_GOLDEN=1` to rewrite it after a
/// deliberate change of the generated text.
const TINY_SOURCE: &str = include_str!("data/tiny_int8.rs");
static TINY_COMPILED: Tiny = include!("data/tiny_int8.rs");

#[test]
fn rust_source_compiles_back_to_the_network() {
    let net = tiny(21);
    let source = format::qnet_rust_source(&net).unwrap();
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
    assert_eq!(outputs(&TINY_COMPILED, 9), outputs(&net, 9));

    // A network the reader would refuse is not written either.
    let mut bad = tiny(21);
    bad.first.output.scale = f32::NAN;
    assert!(format::qnet_rust_source(&bad).is_err());
}
