//! Corrupted files that only the semantic checks can catch: each damage is made with the
//! checksum recomputed (so that the frame is valid) and must be refused with its own
//! [`ErrorCode`], leaving the network untouched. Also what a damaged length field gives
//! without the checksum repaired, files of another kind, and version 1 files: refused by
//! name, and converted by `format::v1::upgrade`.

mod format_shared;

use firmnet::format::v1::{V1Error, upgrade};
use firmnet::format::{
    self, Aligned, EarlyStop, ErrorCode, File, FileKind, FormatError, Malformation, RunState,
    Section, kind_signature,
};
use firmnet::prelude::*;
use firmnet::quant::{Borrowed, QDense, QLut, multiply_by_quantized_multiplier};
use firmnet::spec::{Describe, Dtype, Rule};
use format_shared::*;

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

fn float_file() -> Vec<u8> {
    format::save(&trained(1).0).unwrap()
}

fn int8_file() -> Vec<u8> {
    format::save(&tiny_q(2)).unwrap()
}

/// A checkpoint of [`Mlp`] with Adam (or SGD), with the early-stopping state.
fn checkpoint(sgd: bool) -> Vec<u8> {
    let (net, adam, ctx) = trained(3);
    let run = RunState {
        rng: ctx.rng,
        epoch: 1,
        step: 6,
    };
    let stop = EarlyStop {
        best: &net,
        best_value: 0.5,
        best_epoch: 1,
        since_best: 0,
    };
    if sgd {
        let sgd = Sgd::<MlpGrad>::new(SgdConfig::new(0.1));
        format::save_training(&net, &sgd, &run, Some(&stop), &[]).unwrap()
    } else {
        format::save_training(&net, &adam, &run, Some(&stop), &[]).unwrap()
    }
}

/// What the general reader says of `bytes`, against the loader's error `err` for the
/// network `N`: the frame and the header are read alike, so an error there is the same;
/// a file the general reader accepts is refused by its check as by the loader. A record
/// the general reader takes apart as malformed may be named otherwise by the loader's
/// checker, which matches it against the network (tests assert both).
fn agrees<N: Describe>(bytes: &[u8], kinds: &[FileKind], err: FormatError) {
    match File::parse(bytes) {
        Ok(file) => assert_eq!(file.check::<N>(kinds), Err(err)),
        Err(e) if e.code() != ErrorCode::Malformed || e.expected() < 32 => {
            assert_eq!(
                e, err,
                "the general reader and the loader disagree on the header"
            )
        }
        Err(_) => {}
    }
}

/// The error of the float loader, which must leave the network untouched.
fn float_error(bytes: &[u8]) -> FormatError {
    let err = refused(bytes, &mlp());
    agrees::<Mlp>(bytes, &[FileKind::Float], err);
    err
}

/// The error of the int8 loader and of the view, which must agree.
fn int8_error(bytes: &[u8]) -> FormatError {
    let err = refused(bytes, &tiny_q(99));
    let mut blob = Box::new(Aligned([0u8; 4096]));
    blob.0[..bytes.len()].copy_from_slice(bytes);
    let viewed = format::view::<TinyQView<'_>>(&blob.0[..bytes.len()]).map(|_| ());
    assert_eq!(viewed, Err(err), "the view and the loader disagree");
    agrees::<TinyQ>(bytes, &[FileKind::Int8], err);
    err
}

/// The error of the general reader, [`File::parse`].
fn parse_error(bytes: &[u8]) -> FormatError {
    File::parse(bytes).expect_err("the general reader should refuse the file")
}

/// The error of `load_training`, which must leave network, optimizer and best untouched.
fn training_error(bytes: &[u8]) -> FormatError {
    let (mut net, mut best) = (mlp(), mlp());
    let mut adam = Adam::<MlpGrad>::new(AdamConfig::DEFAULT);
    let err = format::load_training(bytes, &mut net, &mut adam, Some(&mut best)).unwrap_err();
    assert_same(&net, &mlp());
    assert_same(&best, &mlp());
    assert_eq!(adam.t, 0);
    assert_same_params(&adam.m, &MlpGrad::ZERO, "m");
    err
}

/// `err` says the bytes break the layout in the way `what`, and its message says so.
fn malformed(err: FormatError, what: Malformation) {
    assert_eq!(
        (err.code(), err.malformation(), err.name(), err.layer()),
        (ErrorCode::Malformed, Some(what), "", None),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        std::format!(
            "malformed file at byte {}: {}",
            err.expected(),
            what.describe()
        )
    );
}

/// `err` is [`malformed`] `what` at byte `at`.
fn malformed_at(err: FormatError, what: Malformation, at: usize) {
    malformed(err, what);
    assert_eq!(err.expected() as usize, at, "{err}");
}

// ---------------------------------------------------------------------------------------
// Sections and optimizers

#[test]
fn moment_and_best_tensors_in_a_file_without_them_are_refused() {
    // A tensor record relabeled as a moment or as best weights: the general reader finds
    // a section the file does not have; the loader, matching the record against the
    // network's, finds another tensor where the network's bias is (word 0, the section,
    // differs).
    for (bytes, what) in [(float_file(), "float"), (int8_file(), "int8")] {
        let w = walk(&bytes);
        let t = w.layers[0].tensors[1].clone();
        assert_eq!(t.name, "bias");
        for section in [Section::FirstMoment, Section::SecondMoment, Section::Best] {
            let b = resealed(&bytes, |b| {
                put_u32(b, t.word(TensorAt::SECTION), section.code().into())
            });
            malformed_at(parse_error(&b), Malformation::SectionNotAllowed, t.data);
            let err = if what == "float" {
                float_error(&b)
            } else {
                int8_error(&b)
            };
            assert_eq!(
                (err.code(), err.layer(), err.name(), err.section()),
                (
                    ErrorCode::MissingTensor,
                    Some(0),
                    "bias",
                    Some(Section::Network)
                ),
                "{what}: {err}"
            );
            assert_eq!(
                (err.expected(), err.found()),
                (1, section.code().into()),
                "{what}"
            );
            assert_eq!(
                err.to_string(),
                "layer 0 (tensor `bias`): the file has another tensor in its place, or none"
            );
        }
    }
    // A whole checkpoint relabeled as a float file: its moments and best weights have no
    // place in it.
    let ckpt = checkpoint(false);
    let w = walk(&ckpt);
    let scalars_at = w.scalars[0].at;
    let mut b = ckpt[..scalars_at].to_vec();
    b.extend_from_slice(&[0; 4]);
    b[6] = FileKind::Float.code();
    let n = b.len() as u32;
    put_u32(&mut b, 8, n);
    put_u32(&mut b, 16, 0);
    b[24] = 0;
    reseal(&mut b);
    // The header still says it holds best weights, which a float file does not.
    malformed_at(float_error(&b), Malformation::NotThisKind, 16);
    b[26] = 0;
    reseal(&mut b);
    let first_moment = w.layers[0]
        .tensors
        .iter()
        .find(|t| t.section == Section::FirstMoment.code())
        .unwrap();
    malformed_at(
        parse_error(&b),
        Malformation::SectionNotAllowed,
        first_moment.data,
    );
    // The loader counts the layer's tensors first: the network's two, against the
    // file's two, two first and two second moments and two best weights.
    assert_eq!(w.layers[0].tensors.len(), 8);
    let err = float_error(&b);
    assert_eq!(
        (err.code(), err.layer(), err.name(), err.section()),
        (ErrorCode::UnexpectedTensor, Some(0), "dense", None)
    );
    assert_eq!((err.expected(), err.found()), (2, 8));
    assert_eq!(
        err.to_string(),
        "layer 0 (dense): the file's layer has 8 tensors, the network's 2"
    );
    // An SGD checkpoint has no second moments.
    let sgd = checkpoint(true);
    let t = walk(&sgd)
        .tensor(0, Section::FirstMoment.code(), "weight")
        .clone();
    let b = resealed(&sgd, |b| {
        put_u32(
            b,
            t.word(TensorAt::SECTION),
            Section::SecondMoment.code().into(),
        )
    });
    malformed_at(parse_error(&b), Malformation::SectionNotAllowed, t.data);
    // (`load_training` reads the file with the general reader first.)
    malformed_at(training_error(&b), Malformation::SectionNotAllowed, t.data);
    // But the same relabeling in an Adam checkpoint is a tensor in the wrong place.
    let t = walk(&ckpt)
        .tensor(0, Section::FirstMoment.code(), "weight")
        .clone();
    let b = resealed(&ckpt, |b| {
        put_u32(
            b,
            t.word(TensorAt::SECTION),
            Section::SecondMoment.code().into(),
        )
    });
    let err = training_error(&b);
    assert_eq!(
        (err.code(), err.layer(), err.name(), err.section()),
        (
            ErrorCode::MissingTensor,
            Some(0),
            "weight",
            Some(Section::FirstMoment)
        ),
        "{err}"
    );
    assert_eq!(
        (err.expected(), err.found()),
        (
            Section::FirstMoment.code().into(),
            Section::SecondMoment.code().into()
        )
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (tensor `first moment of weight`): the file has another tensor in its place, or none"
    );
}

#[test]
fn an_optimizer_byte_outside_a_checkpoint_is_refused() {
    for optimizer in [1, 2] {
        let b = resealed(&float_file(), |b| b[24] = optimizer);
        let err = float_error(&b);
        malformed_at(err, Malformation::OptimizerKind, 24);
        assert_eq!(
            err.to_string(),
            "malformed file at byte 24: an optimizer in a file that is not a checkpoint, or a checkpoint without one"
        );
        let b = resealed(&int8_file(), |b| b[24] = optimizer);
        malformed_at(int8_error(&b), Malformation::OptimizerKind, 24);
    }
    // A checkpoint without one, and an optimizer nobody knows.
    let b = resealed(&checkpoint(false), |b| b[24] = 0);
    malformed_at(training_error(&b), Malformation::OptimizerKind, 24);
    let b = resealed(&checkpoint(false), |b| b[24] = 3);
    let err = training_error(&b);
    malformed_at(err, Malformation::Optimizer, 24);
    assert_eq!(
        err.to_string(),
        "malformed file at byte 24: unknown optimizer code"
    );
    // Scalars belong to checkpoints only.
    let b = resealed(&float_file(), |b| put_u32(b, 16, 1));
    let err = float_error(&b);
    malformed_at(err, Malformation::NotThisKind, 16);
    assert_eq!(
        err.to_string(),
        "malformed file at byte 16: scalars, best weights or a source digest in a kind of file that has none"
    );
    // So do best weights.
    let b = resealed(&float_file(), |b| b[26] = 1);
    malformed_at(float_error(&b), Malformation::NotThisKind, 16);
    let b = resealed(&float_file(), |b| b[26] = 2);
    malformed_at(float_error(&b), Malformation::BestFlag, 26);
    // A source digest belongs to int8 files only.
    let b = resealed(&float_file(), |b| {
        put_u32(b, 20, 7);
        b[25] = 1;
    });
    malformed_at(float_error(&b), Malformation::NotThisKind, 16);
    let b = resealed(&int8_file(), |b| put_u32(b, 20, 7));
    malformed_at(int8_error(&b), Malformation::SourceFlag, 25);
}

#[test]
fn a_checkpoint_of_another_optimizer_is_refused() {
    let err = training_error(&checkpoint(true));
    assert_eq!(err.code(), ErrorCode::Optimizer);
    assert_eq!((err.expected(), err.found()), (1, 2));
    assert_eq!(
        err.to_string(),
        "the checkpoint holds the state of SGD (expected Adam)"
    );
    let mut sgd = Sgd::<MlpGrad>::new(SgdConfig::new(0.5));
    let err = format::load_training(&checkpoint(false), &mut mlp(), &mut sgd, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the checkpoint holds the state of Adam (expected SGD)"
    );
    assert_eq!(sgd.config.lr, 0.5);
}

// ---------------------------------------------------------------------------------------
// Int8 values and links

#[test]
fn an_int8_layer_not_linked_to_the_one_before_is_refused() {
    let bytes = int8_file();
    let net = tiny_q(2);
    let w = walk(&bytes);
    // The table's input scale, one step away from the dense layer's output scale.
    let at = w.attr(1, "input_scale").value;
    let scale = f32::from_bits(get_u32(&bytes, at));
    assert_eq!(scale, net.first.output.scale);
    let b = resealed(&bytes, |b| put_u32(b, at, scale.to_bits() + 1));
    let err = int8_error(&b);
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Link, Some(1), "input_scale")
    );
    assert_eq!(
        (err.expected(), err.found()),
        (scale.to_bits(), scale.to_bits() + 1)
    );
    assert_eq!(
        err.to_string(),
        std::format!(
            "layer 1: its input is quantized differently from the output of layer 0 (the input_scale differs: {:e} in this layer, {:e} before)",
            f32::from_bits(scale.to_bits() + 1),
            scale
        )
    );
    // The last layer's input zero point.
    let at = w.attr(2, "input_zero_point").value;
    let zp = get_u32(&bytes, at) as i32;
    let other = if zp == 0 { 1 } else { 0 };
    let err = int8_error(&resealed(&bytes, |b| put_u32(b, at, other as u32)));
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Link, Some(2), "input_zero_point")
    );
    assert_eq!((err.expected(), err.found()), (zp as u32, other as u32));
    // The output of the layer before, changed instead: the link of the next one breaks.
    let at = w.attr(0, "output_zero_point").value;
    let err = int8_error(&resealed(&bytes, |b| put_u32(b, at, other as u32 ^ 2)));
    assert_eq!((err.code(), err.layer()), (ErrorCode::Link, Some(1)));
    // Both sides changed alike: linked again, and the file loads.
    let (o, i) = (
        w.attr(0, "output_scale").value,
        w.attr(1, "input_scale").value,
    );
    let b = resealed(&bytes, |b| {
        put_u32(b, o, 0.125f32.to_bits());
        put_u32(b, i, 0.125f32.to_bits());
    });
    let mut loaded = tiny_q(5);
    format::load(&b, &mut loaded).unwrap();
    assert_eq!(
        (loaded.first.output.scale, loaded.rest.first.input.scale),
        (0.125, 0.125)
    );
}

#[test]
fn int8_values_out_of_range_are_refused() {
    let bytes = int8_file();
    let w = walk(&bytes);
    let data = |layer: usize, name: &str| w.tensor(layer, 1, name).data;
    // Multipliers: 0, just below 2^30, and 2^31 (negative as an i32).
    for m in [0u32, (1 << 30) - 1, 1 << 31, u32::MAX] {
        let at = data(2, "multiplier") + 4;
        let err = int8_error(&resealed(&bytes, |b| put_u32(b, at, m)));
        assert_eq!(
            (err.code(), err.layer(), err.name(), err.rule()),
            (
                ErrorCode::Value,
                Some(2),
                "multiplier",
                Some(Rule::Multiplier)
            )
        );
        assert_eq!((err.expected(), err.found()), (1, m));
        assert_eq!(
            err.to_string(),
            std::format!(
                "layer 2 (tensor `multiplier`): element 1 is {}, not a multiplier in [2^30, 2^31)",
                m as i32
            )
        );
    }
    // The ends of the range load.
    for m in [1u32 << 30, (1 << 31) - 1] {
        let at = data(0, "multiplier");
        let mut net = tiny_q(6);
        format::load(&resealed(&bytes, |b| put_u32(b, at, m)), &mut net).unwrap();
        assert_eq!(net.first.multiplier[0], m as i32);
    }
    // Shifts.
    for s in [31i32, -32, i32::MIN] {
        let at = data(0, "shift") + 8;
        let err = int8_error(&resealed(&bytes, |b| put_u32(b, at, s as u32)));
        assert_eq!(
            (err.code(), err.name(), err.rule(), err.expected()),
            (ErrorCode::Value, "shift", Some(Rule::Exponent), 2)
        );
    }
    // Scales: subnormal, huge, zero, negative, infinite, NaN.
    for scale in [
        f32::from_bits(1),
        1e-40,
        1e38,
        0.0,
        -0.25,
        f32::INFINITY,
        f32::NAN,
    ] {
        let at = w.attr(0, "input_scale").value;
        let err = int8_error(&resealed(&bytes, |b| put_u32(b, at, scale.to_bits())));
        assert_eq!(
            (err.code(), err.layer(), err.name(), err.rule()),
            (
                ErrorCode::AttrValue,
                Some(0),
                "input_scale",
                Some(Rule::Scale)
            ),
            "{scale:e}"
        );
        assert_eq!(err.found(), scale.to_bits());
        assert_eq!(
            err.to_string(),
            std::format!(
                "layer 0 (attribute `input_scale`): the value {scale:e} is not a normal scale in [2^-64, 2^64]"
            )
        );
    }
    // The output scale of a table (its own check comes before the link).
    let at = w.attr(1, "output_scale").value;
    let err = int8_error(&resealed(&bytes, |b| put_u32(b, at, 1e38f32.to_bits())));
    assert_eq!((err.code(), err.layer()), (ErrorCode::AttrValue, Some(1)));
    // Zero points and bounds outside i8; min above max.
    for (layer, name, v) in [
        (0, "output_zero_point", 128),
        (1, "output_zero_point", -129),
        (2, "min", 200),
        (2, "max", -300),
    ] {
        let at = w.attr(layer, name).value;
        let err = int8_error(&resealed(&bytes, |b| put_u32(b, at, v as u32)));
        assert_eq!(
            (err.code(), err.layer(), err.name(), err.rule()),
            (ErrorCode::AttrValue, Some(layer), name, Some(Rule::Int8))
        );
        assert!(
            err.to_string().ends_with("is not an integer in -128..=127"),
            "{err}"
        );
    }
    let (min, max) = (w.attr(2, "min").value, w.attr(2, "max").value);
    let b = resealed(&bytes, |b| {
        put_u32(b, min, 10);
        put_u32(b, max, 9);
    });
    let err = int8_error(&b);
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::AttrOrder, Some(2), "min")
    );
    assert_eq!((err.expected(), err.found()), (10, 9));
    // min = max is a valid (constant) layer.
    let b = resealed(&bytes, |b| {
        put_u32(b, min, 5);
        put_u32(b, max, 5);
    });
    let mut net = tiny_q(7);
    format::load(&b, &mut net).unwrap();
    assert_eq!((net.rest.rest.min, net.rest.rest.max), (5, 5));
}

// ---------------------------------------------------------------------------------------
// Float values

#[test]
fn float_values_that_break_their_rules_are_refused() {
    let bytes = float_file();
    let w = walk(&bytes);
    let var = w.tensor(1, 1, "running_var").data;
    for (v, rule) in [
        (0.0f32, Rule::Positive),
        (-0.0, Rule::Positive),
        (-1.5, Rule::Positive),
        (f32::NAN, Rule::Positive),
    ] {
        let err = float_error(&resealed(&bytes, |b| put_u32(b, var + 12, v.to_bits())));
        assert_eq!(
            (
                err.code(),
                err.layer(),
                err.name(),
                err.section(),
                err.rule()
            ),
            (
                ErrorCode::Value,
                Some(1),
                "running_var",
                Some(Section::Network),
                Some(rule)
            )
        );
        assert_eq!((err.expected(), err.found()), (3, v.to_bits()));
    }
    let weight = w.tensor(4, 1, "weight").data;
    for v in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let err = float_error(&resealed(&bytes, |b| put_u32(b, weight + 20, v.to_bits())));
        assert_eq!(
            (
                err.code(),
                err.layer(),
                err.name(),
                err.rule(),
                err.expected()
            ),
            (ErrorCode::Value, Some(4), "weight", Some(Rule::Finite), 5)
        );
    }
    // A subnormal weight is a finite number: it loads.
    let mut net = mlp();
    format::load(&resealed(&bytes, |b| put_u32(b, weight, 1)), &mut net).unwrap();
    assert_eq!(net.rest.rest.rest.rest.weight[0][0].to_bits(), 1);
    // Attributes.
    for (layer, name, v) in [
        (1, "eps", 0.0f32),
        (1, "eps", -1e-5),
        (1, "momentum", 1.5),
        (1, "momentum", f32::NAN),
        (3, "rate", 2.0),
        (3, "rate", -0.5),
    ] {
        let at = w.attr(layer, name).value;
        let err = float_error(&resealed(&bytes, |b| put_u32(b, at, v.to_bits())));
        assert_eq!(
            (err.code(), err.layer(), err.name()),
            (ErrorCode::AttrValue, Some(layer), name),
            "{name} = {v}"
        );
    }
    // Moments: the second never negative, the first finite; the best weights as the
    // network's.
    let ckpt = checkpoint(false);
    let w = walk(&ckpt);
    let at = w.tensor(1, Section::SecondMoment.code(), "beta").data;
    let err = training_error(&resealed(&ckpt, |b| put_u32(b, at, (-1e-9f32).to_bits())));
    assert_eq!(
        (err.code(), err.name(), err.section(), err.rule()),
        (
            ErrorCode::Value,
            "beta",
            Some(Section::SecondMoment),
            Some(Rule::NonNegative)
        )
    );
    assert!(
        err.to_string()
            .starts_with("layer 1 (tensor `second moment of beta`): element 0 is -1e-9"),
        "{err}"
    );
    let at = w.tensor(0, Section::FirstMoment.code(), "weight").data + 4 * 11;
    let err = training_error(&resealed(&ckpt, |b| put_u32(b, at, f32::NAN.to_bits())));
    assert_eq!(
        (err.code(), err.name(), err.section(), err.expected()),
        (ErrorCode::Value, "weight", Some(Section::FirstMoment), 11)
    );
    let at = w.tensor(1, Section::Best.code(), "running_var").data;
    let err = training_error(&resealed(&ckpt, |b| put_u32(b, at, 0)));
    assert_eq!(
        (err.code(), err.name(), err.section(), err.rule()),
        (
            ErrorCode::Value,
            "running_var",
            Some(Section::Best),
            Some(Rule::Positive)
        )
    );
    assert!(
        err.to_string()
            .starts_with("layer 1 (tensor `best running_var`)"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Types, kinds, names and shapes of records

#[test]
fn a_changed_type_byte_is_reported_as_a_type_error() {
    let bytes = int8_file();
    let w = walk(&bytes);
    // The bias recorded as f32 (same size), the weights as i32 (other size): both named
    // as type errors, though the data length no longer fits the second.
    for (layer, name, dtype, expected) in [
        (0, "bias", Dtype::F32, Dtype::I32),
        (2, "weight", Dtype::I32, Dtype::I8),
        (1, "table", Dtype::F32, Dtype::I8),
        (0, "multiplier", Dtype::I8, Dtype::I32),
    ] {
        let t = w.tensor(layer, 1, name);
        let b = resealed(&bytes, |b| {
            put_u32(b, t.word(TensorAt::DTYPE), dtype.code().into())
        });
        let err = int8_error(&b);
        assert_eq!(
            (err.code(), err.layer(), err.name()),
            (ErrorCode::Dtype, Some(layer), name)
        );
        assert_eq!(
            (err.expected(), err.found()),
            (expected.code().into(), dtype.code().into())
        );
        assert_eq!(
            err.to_string(),
            std::format!(
                "layer {layer} (tensor `{name}`): its element type is {dtype} in the file, the network's is {expected}"
            )
        );
    }
    let bytes = float_file();
    let t = walk(&bytes).tensor(0, 1, "bias").clone();
    let dtype_at = t.word(TensorAt::DTYPE);
    let err = float_error(&resealed(&bytes, |b| {
        put_u32(b, dtype_at, Dtype::I32.code().into())
    }));
    assert_eq!((err.code(), err.name()), (ErrorCode::Dtype, "bias"));
    // An unknown type code: the general reader cannot read the record; the loader,
    // which compares it with the network's, names the type it found.
    for code in [9, 0x101, u32::MAX] {
        let b = resealed(&bytes, |b| put_u32(b, dtype_at, code));
        malformed_at(parse_error(&b), Malformation::Dtype, dtype_at);
        let err = float_error(&b);
        assert_eq!(
            (err.code(), err.name(), err.expected(), err.found()),
            (ErrorCode::Dtype, "bias", 1, code)
        );
    }
    assert_eq!(
        float_error(&resealed(&bytes, |b| put_u32(b, dtype_at, 9))).to_string(),
        "layer 0 (tensor `bias`): its element type is unknown in the file, the network's is f32"
    );
    // An attribute of another type.
    let bytes = int8_file();
    let a = walk(&bytes).attr(0, "input_scale").clone();
    let type_at = a.word(AttrAt::TYPE);
    let err = int8_error(&resealed(&bytes, |b| {
        put_u32(b, type_at, Dtype::I32.code().into())
    }));
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Attr, Some(0), "input_scale")
    );
    assert_eq!(
        (err.expected(), err.found()),
        (Dtype::F32.code().into(), Dtype::I32.code().into())
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (attribute `input_scale`): the file has another attribute in its place (another name or type)"
    );
    // A type no attribute has (i8, or no type at all) is malformed for the general
    // reader, and another attribute for the loader.
    for code in [Dtype::I8.code().into(), 0x103] {
        let b = resealed(&bytes, |b| put_u32(b, type_at, code));
        assert_eq!(parse_error(&b).malformation(), Some(Malformation::AttrType));
        let err = int8_error(&b);
        assert_eq!(
            (err.code(), err.name(), err.found()),
            (ErrorCode::Attr, "input_scale", code)
        );
    }
}

#[test]
fn kinds_names_and_shapes_of_records_are_checked() {
    let bytes = float_file();
    let w = walk(&bytes);
    // A tensor of another kind.
    let t = w.tensor(0, 1, "bias").clone();
    let err = float_error(&resealed(&bytes, |b| put_u32(b, t.word(TensorAt::KIND), 1)));
    assert_eq!(
        (err.code(), err.name(), err.expected(), err.found()),
        (ErrorCode::TensorKind, "bias", 2, 1)
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (tensor `bias`): it is of another kind in the file (code 1, expected 2)"
    );
    // An unknown kind code: malformed for the general reader.
    let b = resealed(&bytes, |b| put_u32(b, t.word(TensorAt::KIND), 99));
    malformed_at(
        parse_error(&b),
        Malformation::TensorKind,
        t.word(TensorAt::KIND),
    );
    assert_eq!(float_error(&b).code(), ErrorCode::TensorKind);
    // An unknown section code, or one that is no byte.
    for code in [9, 0x101] {
        let b = resealed(&bytes, |b| put_u32(b, t.word(TensorAt::SECTION), code));
        malformed_at(
            parse_error(&b),
            Malformation::Section,
            t.word(TensorAt::SECTION),
        );
        let err = float_error(&b);
        assert_eq!(
            (
                err.code(),
                err.name(),
                err.section(),
                err.expected(),
                err.found()
            ),
            (
                ErrorCode::MissingTensor,
                "bias",
                Some(Section::Network),
                1,
                code
            )
        );
    }
    // A tensor renamed away, or with a name of another length.
    let err = float_error(&resealed(&bytes, |b| b[t.name_at] = b'c'));
    assert_eq!(
        (err.code(), err.layer(), err.name(), err.section()),
        (
            ErrorCode::MissingTensor,
            Some(0),
            "bias",
            Some(Section::Network)
        )
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (tensor `bias`): the file has another tensor in its place, or none"
    );
    let err = float_error(&resealed(&bytes, |b| {
        put_u32(b, t.word(TensorAt::NAME_LEN), 3)
    }));
    assert_eq!(
        (err.code(), err.name(), err.expected(), err.found()),
        (ErrorCode::MissingTensor, "bias", 4, 3)
    );
    // The weight matrix transposed: same length, other shape.
    let t = w.tensor(0, 1, "weight").clone();
    assert_eq!((t.rank, t.shape), (2, [4, 3, 0, 0]));
    let b = resealed(&bytes, |b| {
        put_u32(b, t.dim(0), 3);
        put_u32(b, t.dim(1), 4);
    });
    let err = float_error(&b);
    assert_eq!(
        (err.code(), err.name(), err.expected(), err.found()),
        (ErrorCode::Shape, "weight", 4, 3)
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (tensor `weight`): dimension 1 is 3 in the file, the network expects 4"
    );
    // Only the second dimension.
    let err = float_error(&resealed(&bytes, |b| put_u32(b, t.dim(1), 5)));
    assert_eq!(
        err.to_string(),
        "layer 0 (tensor `weight`): dimension 2 is 5 in the file, the network expects 3"
    );
    // Flattened: another rank, which comes before the dimensions.
    let b = resealed(&bytes, |b| {
        put_u32(b, t.word(TensorAt::RANK), 1);
        put_u32(b, t.dim(0), 12);
        put_u32(b, t.dim(1), 0);
    });
    let err = float_error(&b);
    assert_eq!(
        (err.code(), err.expected(), err.found()),
        (ErrorCode::Shape, 2, 1)
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (tensor `weight`): it has 1 dimensions in the file, the network's has 2"
    );
    // A nonzero dimension past the rank is malformed for the general reader; the loader
    // names the dimension (the third, index 2) that differs from the network's.
    let b = resealed(&bytes, |b| put_u32(b, t.dim(2), 1));
    malformed_at(parse_error(&b), Malformation::Shape, t.word(TensorAt::RANK));
    let err = float_error(&b);
    assert_eq!(
        (err.code(), err.name(), err.expected(), err.found()),
        (ErrorCode::Shape, "weight", 0, 1)
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (tensor `weight`): dimension 3 is 1 in the file, the network expects 0"
    );
    // A rank above 4.
    let b = resealed(&bytes, |b| put_u32(b, t.word(TensorAt::RANK), 5));
    malformed_at(parse_error(&b), Malformation::Shape, t.word(TensorAt::RANK));
    let err = float_error(&b);
    assert_eq!(
        (err.code(), err.expected(), err.found()),
        (ErrorCode::Shape, 2, 5)
    );

    // Another layer kind, unknown to this build: the error holds its signature (length
    // and first three bytes).
    let l = w.layers[0].clone();
    let err = float_error(&resealed(&bytes, |b| b[l.kind_at + 1] = b'z'));
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::LayerKind, Some(0), "dense")
    );
    let dzn = (5 << 24) | u32::from_le_bytes([b'd', b'z', b'n', 0]);
    assert_eq!((err.expected(), err.found()), (0, dzn));
    assert_eq!(kind_signature(b"dznse"), dzn);
    assert_eq!(
        err.to_string(),
        "layer 0: the file has a unknown layer, the network a dense layer"
    );
    // A known kind of the same length in its place: named.
    let err = float_error(&resealed(&bytes, |b| {
        b[l.kind_at..l.kind_at + 5].copy_from_slice(b"relu6")
    }));
    assert_eq!(
        (err.code(), err.found()),
        (ErrorCode::LayerKind, kind_signature(b"relu6"))
    );
    assert_eq!(
        err.to_string(),
        "layer 0: the file has a relu6 layer, the network a dense layer"
    );
    // The kind's length (word 1) is part of the kind.
    let err = float_error(&resealed(&bytes, |b| {
        put_u32(b, l.word(LayerAt::KIND_LEN), 4)
    }));
    assert_eq!(
        (err.code(), err.found()),
        (ErrorCode::LayerKind, kind_signature(b"dens"))
    );
    // An attribute of another name.
    let a = w.attr(1, "eps").clone();
    let err = float_error(&resealed(&bytes, |b| b[a.name_at + 1] = b'q'));
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Attr, Some(1), "eps")
    );
    // Or of a name of another length.
    let err = float_error(&resealed(&bytes, |b| {
        put_u32(b, a.word(AttrAt::NAME_LEN), 2)
    }));
    assert_eq!(
        (err.code(), err.name(), err.expected(), err.found()),
        (ErrorCode::Attr, "eps", 3, 2)
    );
    // A name that is not printable ASCII: malformed for the general reader, another
    // attribute for the loader.
    let b = resealed(&bytes, |b| b[a.name_at + 1] = b' ');
    malformed_at(parse_error(&b), Malformation::Name, a.name_at);
    assert_eq!(
        (float_error(&b).code(), float_error(&b).name()),
        (ErrorCode::Attr, "eps")
    );
    // A name longer than 255 bytes.
    let b = resealed(&bytes, |b| put_u32(b, a.word(AttrAt::NAME_LEN), 256));
    malformed_at(
        parse_error(&b),
        Malformation::Name,
        a.word(AttrAt::NAME_LEN),
    );
    assert_eq!(float_error(&b).code(), ErrorCode::Attr);

    // Layer shapes that disagree with the network: the word that differs first, each
    // with its detail (input or output, rank or dimension).
    let l = w.layers[2].clone();
    assert_eq!((l.input, l.output), ((1, [4, 0, 0, 0]), (1, [4, 0, 0, 0])));
    for (word, v, expected, text) in [
        (
            LayerAt::OUTPUT_DIMS,
            5,
            4,
            "its output's dimension 1 is 5 in the file, the network's is 4",
        ),
        (
            LayerAt::INPUT_DIMS,
            3,
            4,
            "its input's dimension 1 is 3 in the file, the network's is 4",
        ),
        (
            LayerAt::INPUT_DIMS + 1,
            1,
            0,
            "its input's dimension 2 is 1 in the file, the network's is 0",
        ),
        (
            LayerAt::OUTPUT_RANK,
            2,
            1,
            "its output's rank is 2 in the file, the network's is 1",
        ),
        (
            LayerAt::INPUT_RANK,
            0,
            1,
            "its input's rank is 0 in the file, the network's is 1",
        ),
    ] {
        let err = float_error(&resealed(&bytes, |b| put_u32(b, l.word(word), v)));
        assert_eq!(
            (
                err.code(),
                err.layer(),
                err.name(),
                err.expected(),
                err.found()
            ),
            (ErrorCode::LayerShape, Some(2), "relu", expected, v)
        );
        assert_eq!(err.to_string(), std::format!("layer 2 (relu): {text}"));
    }
    // Reserved header bytes must be zero; flags unknown to this build are refused.
    malformed_at(
        float_error(&resealed(&bytes, |b| b[30] = 1)),
        Malformation::ReservedHeader,
        27,
    );
    let err = float_error(&resealed(&bytes, |b| b[7] = 1));
    assert_eq!((err.code(), err.found()), (ErrorCode::UnsupportedFlags, 1));
    assert_eq!(
        err.to_string(),
        "the file requires features this build does not know (flags 0x01)"
    );
    let err = float_error(&resealed(&bytes, |b| b[4] = 3));
    assert_eq!(err.code(), ErrorCode::UnsupportedVersion);
    assert_eq!(
        err.to_string(),
        "the file has format version 3; this build reads version 2"
    );
    malformed_at(
        float_error(&resealed(&bytes, |b| b[6] = 4)),
        Malformation::FileKind,
        6,
    );
    // A layer count of 4: the general reader finds the fifth record after the last; the
    // loader, another number of layers.
    let b = resealed(&bytes, |b| put_u32(b, 12, 4));
    malformed_at(parse_error(&b), Malformation::Trailing, w.layers[4].at);
    let err = float_error(&b);
    assert_eq!(
        (err.code(), err.expected(), err.found()),
        (ErrorCode::LayerCount, 5, 4)
    );
}

/// Every byte of padding — after a layer's kind, after an attribute's or a tensor's
/// name, after a tensor's data — must be zero, and both readers say so: malformed
/// padding, at the first byte of the padding (module docs: "padding is zero"). Every case
/// is tried before the test reports those that fail.
#[test]
fn nonzero_padding_is_refused_as_padding() {
    let bytes = float_file();
    let w = walk(&bytes);
    let (dense, bn) = (&w.layers[0], &w.layers[1]);
    let eps = w.attr(1, "eps");
    let weight = w.tensor(0, 1, "weight");
    assert_eq!(
        (dense.kind.as_str(), bn.kind.as_str()),
        ("dense", "batch_norm")
    );
    assert_eq!((eps.name.as_str(), weight.name.as_str()), ("eps", "weight"));
    // (what, the byte set to 1, where the padding starts)
    let cases = [
        (
            "after the kind `dense`",
            dense.kind_at + 5,
            dense.kind_at + 5,
        ),
        (
            "after the kind `batch_norm`",
            bn.kind_at + 11,
            bn.kind_at + 10,
        ),
        (
            "after the attribute name `eps`",
            eps.name_at + 3,
            eps.name_at + 3,
        ),
        (
            "after the tensor name `weight`",
            weight.name_at + 7,
            weight.name_at + 6,
        ),
    ];
    let mut wrong = Vec::new();
    for (what, at, start) in cases {
        let b = resealed(&bytes, |b| b[at] = 1);
        malformed_at(parse_error(&b), Malformation::Padding, start);
        let err = float_error(&b);
        if (err.malformation(), err.expected() as usize) != (Some(Malformation::Padding), start) {
            wrong.push(std::format!("{what} (byte {at}): {err:?}: {err}"));
        }
    }
    // After a tensor's data: an int8 weight matrix of 3 × 3 bytes has 3 bytes of padding.
    let mut q = QDense::<3, 3>::ZERO;
    randomize_int8(&mut q, 17);
    let qbytes = format::save(&q).unwrap();
    let t = walk(&qbytes).tensor(0, 1, "weight").clone();
    assert_eq!(t.len, 9);
    let b = resealed(&qbytes, |b| b[t.data + 10] = 1);
    malformed_at(parse_error(&b), Malformation::Padding, t.data + 9);
    let err = refused(&b, &q);
    if (err.malformation(), err.expected() as usize) != (Some(Malformation::Padding), t.data + 9) {
        wrong.push(std::format!("after the data of `weight`: {err:?}: {err}"));
    }
    assert!(
        wrong.is_empty(),
        "nonzero padding not refused as padding by the loader:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn tensors_out_of_spec_order_are_refused() {
    // Layer 0's bias stored before its weight: the general reader finds both by name, the
    // loader reads records in spec order and names the tensor it expected.
    let bytes = float_file();
    let w = walk(&bytes);
    let (weight, bias) = (w.tensor(0, 1, "weight"), w.tensor(0, 1, "bias"));
    assert_eq!(weight.record().end, bias.record().start);
    let mut b = bytes[..weight.record().start].to_vec();
    b.extend_from_slice(&bytes[bias.record()]);
    b.extend_from_slice(&bytes[weight.record()]);
    b.extend_from_slice(&bytes[bias.record().end..]);
    reseal(&mut b);
    assert_eq!(b.len(), bytes.len());
    let file = File::parse(&b).unwrap();
    let names: Vec<_> = file.layer(0).unwrap().tensors().map(|t| t.name).collect();
    assert_eq!(names, ["bias", "weight"]);
    let err = float_error(&b);
    assert_eq!(
        (err.code(), err.layer(), err.name(), err.section()),
        (
            ErrorCode::MissingTensor,
            Some(0),
            "weight",
            Some(Section::Network)
        ),
        "{err}"
    );
    // The attributes too: batch normalization's momentum before its ε.
    let (eps, momentum) = (w.attr(1, "eps").clone(), w.attr(1, "momentum").clone());
    let (e, m) = (eps.at..momentum.at, momentum.at..w.layers[1].tensors[0].at);
    let mut b = bytes[..e.start].to_vec();
    b.extend_from_slice(&bytes[m.clone()]);
    b.extend_from_slice(&bytes[e]);
    b.extend_from_slice(&bytes[m.end..]);
    reseal(&mut b);
    let err = float_error(&b);
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Attr, Some(1), "eps"),
        "{err}"
    );
}

#[test]
fn a_tensor_too_many_is_refused() {
    // The bias record of layer 0 stored twice (lengths, counts and checksum repaired).
    let bytes = float_file();
    let w = walk(&bytes);
    let l = &w.layers[0];
    let t = l.tensors.iter().find(|t| t.name == "bias").unwrap();
    let record = bytes[t.record()].to_vec();
    let end = l.end();
    let mut b = bytes[..end].to_vec();
    b.extend_from_slice(&record);
    b.extend_from_slice(&bytes[end..]);
    put_u32(&mut b, l.word(LayerAt::LEN), (l.len + record.len()) as u32);
    put_u32(&mut b, l.word(LayerAt::TENSORS), 3);
    let n = b.len() as u32;
    put_u32(&mut b, 8, n);
    reseal(&mut b);
    // A valid file for the general reader, with three tensors in layer 0.
    assert_eq!(File::parse(&b).unwrap().layer(0).unwrap().tensor_count(), 3);
    let err = float_error(&b);
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::UnexpectedTensor, Some(0), "dense")
    );
    assert_eq!((err.expected(), err.found()), (2, 3));
    assert_eq!(
        err.to_string(),
        "layer 0 (dense): the file's layer has 3 tensors, the network's 2"
    );
    // The count alone changed: the record is read as the network's to its end, which is
    // not the end its length says.
    let err = float_error(&resealed(&bytes, |b| {
        put_u32(b, l.word(LayerAt::TENSORS), 1)
    }));
    assert_eq!(
        (
            err.code(),
            err.layer(),
            err.name(),
            err.expected(),
            err.found()
        ),
        (ErrorCode::MissingTensor, Some(0), "dense", 2, 1)
    );
    assert_eq!(
        err.to_string(),
        "layer 0 (dense): the file's layer has 1 tensors, the network's 2"
    );
}

#[test]
fn a_tensor_or_attribute_too_few_or_too_many_is_refused() {
    let bytes = float_file();
    let w = walk(&bytes);
    // The bias record of layer 0 left out (lengths, counts and checksum repaired).
    let l = w.layers[0].clone();
    let t = w.tensor(0, 1, "bias").clone();
    let mut b = bytes[..t.at].to_vec();
    b.extend_from_slice(&bytes[t.record().end..]);
    let len = l.len - t.record().len();
    put_u32(&mut b, l.word(LayerAt::LEN), len as u32);
    put_u32(&mut b, l.word(LayerAt::TENSORS), 1);
    let n = b.len() as u32;
    put_u32(&mut b, 8, n);
    reseal(&mut b);
    assert_eq!(File::parse(&b).unwrap().layer(0).unwrap().tensor_count(), 1);
    let err = float_error(&b);
    assert_eq!(
        (err.code(), err.layer(), err.name(), err.section()),
        (ErrorCode::MissingTensor, Some(0), "dense", None)
    );
    assert_eq!((err.expected(), err.found()), (2, 1));
    assert_eq!(
        err.to_string(),
        "layer 0 (dense): the file's layer has 1 tensors, the network's 2"
    );
    // Dropout's `rate` stored twice.
    let l = w.layers[3].clone();
    assert_eq!(l.kind, "dropout");
    let a = w.attr(3, "rate").clone();
    let record = bytes[a.at..a.name_at + padded(a.name.len())].to_vec();
    let end = a.name_at + padded(a.name.len());
    let mut b = bytes[..end].to_vec();
    b.extend_from_slice(&record);
    b.extend_from_slice(&bytes[end..]);
    put_u32(&mut b, l.word(LayerAt::LEN), (l.len + record.len()) as u32);
    put_u32(&mut b, l.word(LayerAt::ATTRS), 2);
    let n = b.len() as u32;
    put_u32(&mut b, 8, n);
    reseal(&mut b);
    assert_eq!(File::parse(&b).unwrap().layer(3).unwrap().attr_count(), 2);
    let err = float_error(&b);
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Attr, Some(3), "dropout")
    );
    assert_eq!((err.expected(), err.found()), (1, 2));
    assert_eq!(
        err.to_string(),
        "layer 3 (dropout): the file's layer has 2 attributes, the network's 1"
    );
    // And none.
    let err = float_error(&resealed(&bytes, |b| put_u32(b, l.word(LayerAt::ATTRS), 0)));
    assert_eq!(
        (err.code(), err.name(), err.expected(), err.found()),
        (ErrorCode::Attr, "dropout", 1, 0)
    );
}

// ---------------------------------------------------------------------------------------
// Files of another kind

#[test]
fn float_and_int8_files_are_told_apart_first() {
    let float = float_file();
    let int8 = int8_file();
    // Another kind comes first, before the number of layers (5 in the float file, 3 in
    // the int8 network) and their kinds.
    let err = int8_error(&float);
    assert_eq!(
        (err.code(), err.expected(), err.found()),
        (ErrorCode::FileKind, 3, 1)
    );
    assert_eq!(
        err.to_string(),
        "this file holds a float network, and the network is an int8 network"
    );
    let err = float_error(&int8);
    assert_eq!(
        (err.code(), err.expected(), err.found()),
        (ErrorCode::FileKind, 1, 3)
    );
    assert_eq!(
        err.to_string(),
        "this file holds an int8 network, and the network is a float network"
    );
    let ckpt = checkpoint(false);
    let err = int8_error(&ckpt);
    assert_eq!(
        err.to_string(),
        "this file holds a training checkpoint, and the network is an int8 network"
    );
    let err = training_error(&float);
    assert_eq!(err.code(), ErrorCode::FileKind);
    assert_eq!(
        err.to_string(),
        "this file holds a float network, and the network is a training checkpoint"
    );
    let err = training_error(&int8);
    assert_eq!(
        err.to_string(),
        "this file holds an int8 network, and the network is a training checkpoint"
    );
    // A float network loads from a checkpoint (its training state ignored).
    let mut net = mlp();
    format::load(&ckpt, &mut net).unwrap();
    assert_same(&net, &trained(3).0);
    // The kind byte itself changed: the int8 file relabeled as float is refused by its
    // layers.
    let b = resealed(&int8, |b| b[6] = FileKind::Float.code());
    let err = refused(&b, &tiny_q(8));
    assert_eq!(err.code(), ErrorCode::FileKind);
    let err = float_error(&b);
    assert_eq!(err.code(), ErrorCode::LayerCount);
}

// ---------------------------------------------------------------------------------------
// Lengths: never trusted before the checksum

#[test]
fn a_corrupted_length_field_is_a_checksum_problem() {
    let bytes = float_file();
    let w = walk(&bytes);
    let t = w.tensor(0, 1, "weight").clone();
    let a = w.attr(1, "eps").clone();
    let (l0, l2) = (w.layers[0].clone(), w.layers[2].clone());
    /// What the loader says of a length field changed to `v`, the checksum repaired.
    #[derive(Clone, Copy, Debug)]
    enum Then {
        /// Malformed, this way, at this byte.
        Malformed(Malformation, usize),
        /// This code, at this layer, naming this, with the field's values expected and
        /// found.
        Code(ErrorCode, usize, &'static str, u32),
        /// The layer's kind (whose length is part of it).
        Kind,
    }
    let fields = [
        (
            8,
            "file length",
            Then::Malformed(Malformation::LengthField, 8),
        ),
        (
            12,
            "layer count",
            Then::Code(ErrorCode::LayerCount, usize::MAX, "", 5),
        ),
        (
            l0.word(LayerAt::LEN),
            "layer record length",
            Then::Malformed(Malformation::RecordLength, l0.at),
        ),
        (
            l2.word(LayerAt::LEN),
            "layer record length",
            Then::Malformed(Malformation::RecordLength, l2.at),
        ),
        (l0.word(LayerAt::KIND_LEN), "kind length", Then::Kind),
        (
            t.word(TensorAt::BYTES),
            "tensor data length",
            Then::Code(ErrorCode::DataLength, 0, "weight", 48),
        ),
        (
            t.word(TensorAt::NAME_LEN),
            "tensor name length",
            Then::Code(ErrorCode::MissingTensor, 0, "weight", 6),
        ),
        (
            a.word(AttrAt::NAME_LEN),
            "attribute name length",
            Then::Code(ErrorCode::Attr, 1, "eps", 3),
        ),
    ];
    for (at, what, then) in fields {
        for v in [
            0u32,
            1,
            4,
            0x100,
            0x7FFF_FFFF,
            u32::MAX,
            get_u32(&bytes, at) + 4,
        ] {
            let mut b = bytes.clone();
            put_u32(&mut b, at, v);
            if b == bytes {
                continue;
            }
            let err = float_error(&b);
            let expected = if at == 8 {
                ErrorCode::Damaged
            } else {
                ErrorCode::Checksum
            };
            assert_eq!(err.code(), expected, "{what} = {v}: {err}");
            // With the checksum repaired, the length is still refused, never trusted:
            // by the general reader as malformed, by the loader as the field it is.
            let mut b = b.clone();
            reseal(&mut b);
            assert_eq!(parse_error(&b).code(), ErrorCode::Malformed, "{what} = {v}");
            let err = float_error(&b);
            match then {
                Then::Malformed(m, offset) => malformed_at(err, m, offset),
                Then::Code(code, layer, name, value) => {
                    assert_eq!(
                        (err.code(), err.layer(), err.name()),
                        (code, (layer != usize::MAX).then_some(layer), name),
                        "{what} = {v}: {err}"
                    );
                    assert_eq!((err.expected(), err.found()), (value, v), "{what} = {v}");
                }
                Then::Kind => assert_eq!(
                    (err.code(), err.layer(), err.name()),
                    (ErrorCode::LayerKind, Some(0), "dense"),
                    "{what} = {v}: {err}"
                ),
            }
        }
    }
    let b = resealed(&bytes, |b| put_u32(b, 8, bytes.len() as u32 + 4));
    malformed_at(float_error(&b), Malformation::LengthField, 8);
}

// ---------------------------------------------------------------------------------------
// Version 1

/// A real version 1 file: `QNet![QDense<3, 4>, QDense<4, 2>]` with random values, written
/// by the version 1 writer (the old fuzz seed `tiny_qnet.fnet`).
const V1_INT8: &[u8] = include_bytes!("data/v1_tiny_int8.fnet");
/// A real version 1 file: `Net![Dense<3, 4>, Relu<[f32; 4]>, Dense<4, 2>]`, all zero.
const V1_FLOAT: &[u8] = include_bytes!("data/v1_tiny_float.fnet");

type V1Int8 = Net![QDense<3, 4>, QDense<4, 2>];
type V1Float = Net![Dense<3, 4>, Relu<[f32; 4]>, Dense<4, 2>];

#[test]
fn a_version_1_file_is_named_with_how_to_convert_it() {
    for bytes in [V1_INT8, V1_FLOAT] {
        let err = File::parse(bytes).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Version1);
        let text = err.to_string();
        assert!(
            text.starts_with("this is a version 1 firmnet file, and this build reads version 2"),
            "{text}"
        );
        assert!(
            text.contains("cargo run --release --example upgrade_v1 -- FILE"),
            "{text}"
        );
        assert!(text.contains("firmnet::format::v1"), "{text}");
        let mut line = Vec::new();
        err.describe(&mut |b| line.extend_from_slice(b));
        assert_eq!(ErrorCode::Version1 as u8, 5);
        assert_eq!(line, b"format error 5, expected 1, found 1");
    }
    let mut q: V1Int8 = Zero::ZERO;
    assert_eq!(
        format::load(V1_INT8, &mut q).unwrap_err().code(),
        ErrorCode::Version1
    );
    let mut blob = Box::new(Aligned([0u8; 1024]));
    blob.0[..V1_INT8.len()].copy_from_slice(V1_INT8);
    let err = format::view::<Net![QDense<3, 4, Borrowed<'_>>, QDense<4, 2, Borrowed<'_>>]>(
        &blob.0[..V1_INT8.len()],
    );
    assert_eq!(err.map(|_| ()).unwrap_err().code(), ErrorCode::Version1);
    let mut f: V1Float = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];
    assert_eq!(
        format::load(V1_FLOAT, &mut f).unwrap_err().code(),
        ErrorCode::Version1
    );
    // Version 1 before its checksum: even a damaged version 1 file is named as such.
    let mut damaged = V1_INT8.to_vec();
    damaged[100] ^= 1;
    assert_eq!(
        File::parse(&damaged).unwrap_err().code(),
        ErrorCode::Version1
    );
}

/// The int8 dense layer as version 1 defined it, from its stored values.
fn v1_reference<const IN: usize, const OUT: usize>(q: &QDense<IN, OUT>, x: &[i8; IN]) -> [i8; OUT] {
    core::array::from_fn(|o| {
        let acc = q.weight.0[o]
            .iter()
            .zip(x)
            .fold(q.bias[o], |s, (&w, &x)| s + i32::from(w) * i32::from(x));
        let y = q.output.zero_point
            + multiply_by_quantized_multiplier(acc, q.multiplier[o], q.shift[o]);
        y.clamp(q.min.into(), q.max.into()) as i8
    })
}

#[test]
fn a_real_version_1_int8_file_upgrades_to_the_network_it_held() {
    let mut q: V1Int8 = Zero::ZERO;
    upgrade(V1_INT8, &mut q).unwrap();
    // The values of the file (decoded independently from its bytes).
    assert_eq!(
        q.first.weight.0,
        [
            [-110, 22, 5],
            [-123, 108, -6],
            [-92, -47, -10],
            [-50, -62, -28]
        ]
    );
    assert_eq!(q.first.bias, [-188_784, -522_247, 356_028, -48_357]);
    assert_eq!(
        q.first.multiplier,
        [2_056_945_194, 1_600_117_696, 2_136_785_077, 1_701_910_810]
    );
    assert_eq!(q.first.shift, [-10, -6, -9, -10]);
    assert_eq!(q.first.input.scale.to_bits(), 0x3EAD_0F91);
    assert_eq!(q.first.output.scale.to_bits(), 0x3F2F_D7FC);
    assert_eq!(
        (q.first.input.zero_point, q.first.output.zero_point),
        (92, 67)
    );
    assert_eq!((q.first.min, q.first.max), (-128, 127));
    assert_eq!(q.rest.weight.0, [[44, -34, 70, 109], [98, 84, -40, 107]]);
    assert_eq!(q.rest.bias, [-245_371, 312_322]);
    assert_eq!(q.rest.multiplier, [1_629_104_489, 1_759_657_542]);
    assert_eq!(q.rest.shift, [-6, -9]);
    assert_eq!(q.rest.input.scale.to_bits(), 0x3D7B_9CE6);
    assert_eq!(q.rest.output.scale.to_bits(), 0x3F40_C790);
    assert_eq!(
        (q.rest.input.zero_point, q.rest.output.zero_point),
        (-126, 77)
    );
    // It computes what version 1 defined.
    for x in inputs_i8::<3>(1, 64) {
        let mut h = [0i8; 4];
        let mut scratch = Scratch::<QDense<3, 4>>::ZERO;
        q.first.forward(&x, &mut h, &mut scratch);
        assert_eq!(h, v1_reference(&q.first, &x));
        let mut y = [0i8; 2];
        let mut scratch = Scratch::<V1Int8>::ZERO;
        q.forward(&x, &mut y, &mut scratch);
        assert_eq!(y, v1_reference(&q.rest, &h));
    }
    // Its two layers were quantized independently (random values), so version 2 refuses
    // to save them as one network: the second layer's input is not the first's output.
    let err = format::save(&q).unwrap_err();
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Link, Some(1), "input_scale")
    );
    // Each layer alone is a valid version 2 file, which loads back the same.
    let mut first = QDense::<3, 4>::ZERO;
    format::load(&format::save(&q.first).unwrap(), &mut first).unwrap();
    assert_eq!(first, q.first);
}

#[test]
fn a_real_version_1_float_file_upgrades() {
    let mut f: V1Float = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];
    randomize_float(&mut f, 4);
    upgrade(V1_FLOAT, &mut f).unwrap();
    assert_eq!(f.first.weight, [[0.0; 3]; 4]);
    assert_eq!(f.rest.rest.bias, [0.0; 2]);
    let bytes = format::save(&f).unwrap();
    let mut back: V1Float = net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO];
    randomize_float(&mut back, 5);
    format::load(&bytes, &mut back).unwrap();
    assert_same(&back, &f);
}

#[test]
fn version_1_files_upgrade_to_networks_that_compute_the_same() {
    // Float: the file of a trained network, with batch normalization; attributes version
    // 1 did not store come from the network value.
    let (net, _, _) = trained(9);
    let v1 = V1::of_float(&net).bytes();
    assert_eq!(File::parse(&v1).unwrap_err().code(), ErrorCode::Version1);
    let mut up = mlp();
    upgrade(&v1, &mut up).unwrap();
    assert_same(&up, &net);
    let xs = inputs::<3>(10, 32);
    assert_eq!(bits(&outputs(&up, &xs)), bits(&outputs(&net, &xs)));
    let bytes = format::save(&up).unwrap();
    assert_eq!(bytes, format::save(&net).unwrap());

    let z = zoo(11);
    let mut up = zoo_zero();
    upgrade(&V1::of_float(&z).bytes(), &mut up).unwrap();
    assert_same(&up, &z);
    assert_eq!(up.rest.first.eps, ZOO_EPS);

    // Int8: a linked network of dense layers.
    let mut q: V1Int8 = Zero::ZERO;
    randomize_int8(&mut q, 12);
    let v1 = V1::of_int8(&q).bytes();
    assert_eq!(File::parse(&v1).unwrap_err().code(), ErrorCode::Version1);
    let mut up: V1Int8 = Zero::ZERO;
    upgrade(&v1, &mut up).unwrap();
    assert!(up == q);
    let xs = inputs_i8::<3>(13, 64);
    assert_eq!(outputs(&up, &xs), outputs(&q, &xs));
    let mut back: V1Int8 = Zero::ZERO;
    format::load(&format::save(&up).unwrap(), &mut back).unwrap();
    assert!(back == q);
}

#[test]
fn version_1_files_that_do_not_fit_are_refused_without_change() {
    let (net, _, _) = trained(14);
    let v1 = V1::of_float(&net);
    let before = zoo(15);
    let mut other = before.clone();
    let err = upgrade(&v1.bytes(), &mut other).unwrap_err();
    assert_eq!(
        err,
        V1Error::Layers {
            reason: "5 layers in the file, 13 in the network".into()
        }
    );
    assert_same(&other, &before);
    type Wide = Net![Dense<3, 5>, BatchNorm<5>, Relu<[f32; 5]>, Dropout<[f32; 5]>, Dense<5, 2>];
    let mut wide: Wide = net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dropout::DEFAULT,
        Dense::ZERO
    ];
    let err = upgrade(&v1.bytes(), &mut wide).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the version 1 file is another network: layer 0 is a dense 3 -> 4 in the file, a dense 3 -> 5 in the network"
    );
    // A tensor missing, or of another size.
    let mut missing = v1.clone();
    missing
        .tensors
        .retain(|t| !(t.layer == 1 && t.name == "running_var"));
    let mut target = mlp();
    let err = upgrade(&missing.bytes(), &mut target).unwrap_err();
    assert_eq!(
        err,
        V1Error::Tensor {
            layer: 1,
            name: "running_var"
        }
    );
    assert_eq!(
        err.to_string(),
        "layer 1: the version 1 file has no usable tensor `running_var`"
    );
    assert_same(&target, &mlp());
    let mut short = v1.clone();
    short.tensors[0].rows = 2; // a Dense<3, 2> weight
    short.tensors[0].data.truncate(24);
    assert_eq!(
        upgrade(&short.bytes(), &mut mlp()).unwrap_err(),
        V1Error::Tensor {
            layer: 0,
            name: "weight"
        }
    );
    // Damaged, or not version 1.
    let mut damaged = v1.bytes();
    damaged[60] ^= 1;
    assert_eq!(
        upgrade(&damaged, &mut mlp()),
        Err(V1Error::Invalid("its checksum does not match"))
    );
    let v2 = format::save(&net).unwrap();
    assert_eq!(
        upgrade(&v2, &mut mlp()),
        Err(V1Error::Invalid(
            "it does not start with FNET and version 1"
        ))
    );
    // An int8 file without its quantization tensors.
    let mut q: V1Int8 = Zero::ZERO;
    randomize_int8(&mut q, 16);
    let mut v = V1::of_int8(&q);
    v.tensors.retain(|t| t.name != "clamp");
    let mut up: V1Int8 = Zero::ZERO;
    let err = upgrade(&v.bytes(), &mut up).unwrap_err();
    assert_eq!(
        err,
        V1Error::Tensor {
            layer: 0,
            name: "clamp"
        }
    );
    assert!(up == V1Int8::ZERO);
}

// ---------------------------------------------------------------------------------------
// Scalars of a checkpoint

#[test]
fn damaged_scalars_are_refused_by_name() {
    let ckpt = checkpoint(false);
    let w = walk(&ckpt);
    let s = |name: &str| w.scalar(name).clone();
    // An unknown type, a NaN, the all-zero state of a generator: the general reader
    // refuses the record.
    let b = resealed(&ckpt, |b| put_u32(b, s("adam.lr").at, 9));
    malformed_at(training_error(&b), Malformation::Scalar, s("adam.lr").at);
    let b = resealed(&ckpt, |b| {
        put_u32(b, s("adam.lr").value, f32::NAN.to_bits())
    });
    malformed(training_error(&b), Malformation::Scalar);
    let rng = s("run.rng").value;
    let b = resealed(&ckpt, |b| b[rng..rng + 16].fill(0));
    malformed(training_error(&b), Malformation::Scalar);
    // Two scalars of one name ("adam.lr" renamed "adam.l2").
    let name = |n: &str| s(n).at + 8; // a scalar's name follows its two words
    let b = resealed(&ckpt, |b| b[name("adam.lr") + 6] = b'2');
    assert_eq!(parse_error(&b).code(), ErrorCode::DuplicateScalar);
    assert_eq!(training_error(&b).code(), ErrorCode::DuplicateScalar);
    // A setting that is not finite: named.
    let b = resealed(&ckpt, |b| {
        put_u32(b, s("adam.lr").value, f32::INFINITY.to_bits())
    });
    let err = training_error(&b);
    assert_eq!(
        (err.code(), err.name()),
        (ErrorCode::InvalidScalar, "adam.lr")
    );
    assert_eq!(
        err.to_string(),
        "the scalar `adam.lr` has an unacceptable value"
    );
    // A counter of another type (u64 relabeled f64, same size), a counter missing.
    let b = resealed(&ckpt, |b| put_u32(b, s("run.epoch").at, 4));
    let err = training_error(&b);
    assert_eq!(
        (err.code(), err.name()),
        (ErrorCode::ScalarType, "run.epoch")
    );
    let b = resealed(&ckpt, |b| b[name("run.rng") + 6] = b'h');
    let err = training_error(&b);
    assert_eq!(
        (err.code(), err.name()),
        (ErrorCode::MissingScalar, "run.rng")
    );
    assert_eq!(err.to_string(), "the file lacks the scalar `run.rng`");
    // The early-stopping counters go with the best weights.
    let b = resealed(&ckpt, |b| b[name("stop.best_epoch")] = b'X');
    let err = training_error(&b);
    assert_eq!(
        (err.code(), err.name()),
        (ErrorCode::MissingScalar, "stop.best_epoch")
    );
    // SGD's Nesterov flag is 0 or 1.
    let sgd = checkpoint(true);
    let at = walk(&sgd).scalar("sgd.nesterov").value;
    let b = resealed(&sgd, |b| put_u32(b, at, 2));
    let mut opt = Sgd::<MlpGrad>::new(SgdConfig::new(0.5));
    let err = format::load_training(&b, &mut mlp(), &mut opt, None).unwrap_err();
    assert_eq!(
        (err.code(), err.name()),
        (ErrorCode::InvalidScalar, "sgd.nesterov")
    );
    assert_eq!(opt.config, SgdConfig::new(0.5));
    // A float network loads from the undamaged checkpoint, its training state ignored.
    format::load(&ckpt, &mut mlp()).unwrap();
}

// ---------------------------------------------------------------------------------------
// Scalar records: checked by every reader, in bounded time.

#[test]
fn a_checkpoint_with_broken_scalars_is_refused_by_every_loader() {
    let ckpt = checkpoint(false);
    let at = walk(&ckpt).scalars[0].at;
    // An unknown scalar type; then bytes that are no scalar records at all.
    let b = resealed(&ckpt, |b| b[at] = 9);
    assert_eq!(File::parse(&b).unwrap_err().code(), ErrorCode::Malformed);
    assert_eq!(refused(&b, &mlp()).code(), ErrorCode::Malformed);
    let mut garbage = ckpt[..at].to_vec();
    garbage.extend_from_slice(&[0xAB; 12]);
    garbage.extend_from_slice(&[0; 4]);
    let n = garbage.len() as u32;
    put_u32(&mut garbage, 8, n);
    reseal(&mut garbage);
    assert_eq!(
        File::parse(&garbage).unwrap_err().code(),
        ErrorCode::Malformed
    );
    assert_eq!(refused(&garbage, &mlp()).code(), ErrorCode::Malformed);
}

/// The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`).
#[cfg(unix)]
fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec`; the clock id is a constant Linux defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Where the thread's CPU time has no portable clock: the time since the first call.
#[cfg(not(unix))]
fn thread_cpu_time() -> std::time::Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// A checkpoint holds at most `MAX_SCALARS` scalars, so that comparing every name with every
/// earlier one stays fast however hostile the file: more are refused at the header, and the
/// most, with 255-byte names alike but for their last bytes, are read within 200 ms of the
/// thread's CPU time (a guard against a blow-up, not a benchmark: about 20 ms are expected,
/// and the CPU time does not count the time the thread waits for a core on a busy machine).
#[test]
fn many_scalars_are_refused_or_read_in_bounded_time() {
    let ckpt = checkpoint(false);
    let with_scalars = |n: u32, name: &dyn Fn(u32) -> std::string::String| {
        let mut b = ckpt[..ckpt.len() - 4].to_vec();
        for i in 0..n {
            let name = name(i);
            b.extend_from_slice(&1u32.to_le_bytes()); // u32
            b.extend_from_slice(&(name.len() as u32).to_le_bytes());
            b.extend_from_slice(name.as_bytes());
            b.resize(b.len().next_multiple_of(4), 0);
            b.extend_from_slice(&i.to_le_bytes());
        }
        let count = get_u32(&b, 16) + n;
        put_u32(&mut b, 16, count);
        b.extend_from_slice(&[0; 4]);
        let len = b.len() as u32;
        put_u32(&mut b, 8, len);
        reseal(&mut b);
        (b, count)
    };
    // 16,000 scalars: refused before any is read.
    let (b, _) = with_scalars(16_000, &|i| std::format!("x{i:07}"));
    let start = thread_cpu_time();
    let err = File::parse(&b).unwrap_err();
    assert_eq!(
        err.malformation(),
        Some(Malformation::TooManyScalars),
        "{err}"
    );
    assert_eq!(
        refused(&b, &mlp()).malformation(),
        Some(Malformation::TooManyScalars)
    );
    let elapsed = thread_cpu_time() - start;
    assert!(elapsed.as_millis() < 200, "{elapsed:?}");
    // The most a file may hold, the worst names for the comparison.
    let existing = get_u32(&ckpt, 16);
    let n = format::MAX_SCALARS as u32 - existing;
    let (b, count) = with_scalars(n, &|i| std::format!("{}{i:05}", "x".repeat(250)));
    let start = thread_cpu_time();
    let file = File::parse(&b).unwrap();
    let elapsed = thread_cpu_time() - start;
    assert_eq!(file.scalars().count(), count as usize);
    assert!(
        elapsed.as_millis() < 200,
        "{elapsed:?} to parse {} bytes",
        b.len()
    );
    // The writer refuses more.
    let names: std::vec::Vec<std::string::String> = (0..format::MAX_SCALARS)
        .map(|i| std::format!("extra.{i}"))
        .collect();
    let extra: std::vec::Vec<(&str, format::Value)> = names
        .iter()
        .map(|n| (n.as_str(), format::Value::U32(0)))
        .collect();
    let (net, adam) = (mlp(), Adam::<MlpGrad>::new(AdamConfig::DEFAULT));
    let run = format::RunState {
        rng: Rng::new(1),
        epoch: 0,
        step: 0,
    };
    let err = format::save_training(&net, &adam, &run, None, &extra).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidScalar, "{err}");
}
