//! The pieces of the deployment firmware that run on the host too (`firmnet_demo`,
//! `targets/common/`): the output lines, the data checks, the fine-tuning task's image
//! transform, and the dequantized head against the int8 layer it comes from. The
//! whole chain — firmware under QEMU against the host — is `cargo run --release --features std --example
//! verify`.

use firmnet::format::{self, Aligned};
use firmnet::host::{RangeMethod, quantize};
use firmnet::models::{FASHION_CNN, FASHION_MLP, FashionCnn, FashionMlp, Image};
use firmnet::prelude::*;
use firmnet::quant::Int8;
use firmnet_demo::{fashion, finetune, finetune_cnn, report};

#[test]
fn report_lines_are_what_verify_parses() {
    let mut out = Vec::new();
    report::logits(
        &mut |b: &[u8]| out.extend_from_slice(b),
        7,
        &[-128, 127, 0, 1, -1, 2, 3, 4, 5, 6],
    );
    report::summary(
        &mut |b: &[u8]| out.extend_from_slice(b),
        &fashion::Outcome {
            images: 1000,
            correct: 905,
            digest: 0x0123_abcd,
        },
        1552,
    );
    report::value(&mut |b: &[u8]| out.extend_from_slice(b), "loss", 3, 1.5);
    report::values(
        &mut |b: &[u8]| out.extend_from_slice(b),
        "logits",
        2,
        &[-0.0, 1.0],
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "logits 7 -128 127 0 1 -1 2 3 4 5 6\naccuracy 905 1000\ndigest 0x0123abcd\nstack 1552\n\
         loss 3 0x3fc00000\nlogits 2 0x80000000 0x3f800000\n"
    );
}

/// A random int8 network taking raw pixels, made by the generic conversion and saved, as
/// bytes at an aligned address, with their length.
fn network_file() -> (Box<Aligned<[u8; 250_000]>>, usize) {
    let mut rng = Rng::new(5);
    let mut float = firmnet::boxed!(FASHION_MLP);
    float.init(Init::HeNormal, &mut rng);
    let pixels: Vec<[f32; 784]> = (0..64)
        .map(|_| core::array::from_fn(|_| rng.below(256) as f32))
        .collect();
    let net: Box<Int8<FashionMlp>> = quantize(&*float, &pixels, RangeMethod::MinMax).unwrap();
    let bytes = format::save(&*net).unwrap();
    assert_eq!(bytes.len(), format::len(&*net).unwrap());
    let mut blob = Box::new(Aligned([0u8; 250_000]));
    blob.0[..bytes.len()].copy_from_slice(&bytes);
    (blob, bytes.len())
}

#[test]
fn classification_checks_its_inputs_and_matches_the_owned_network() {
    let (blob, len) = network_file();
    let bytes = &blob.0[..len];
    let net = fashion::network::<finetune::Network>(bytes).unwrap();
    let mut owned: Box<Int8<FashionMlp>> = firmnet::boxed::zero();
    format::load(bytes, &mut *owned).unwrap();

    let mut rng = Rng::new(9);
    let images: Vec<u8> = (0..3 * 784).map(|_| rng.below(256) as u8).collect();
    let labels = [1u8, 2, 3];
    let mut buf = Box::new(fashion::Buffers::ZERO);
    let mut seen = Vec::new();
    let outcome =
        fashion::run(&net, &images, &labels, &mut buf, |i, l| seen.push((i, *l))).unwrap();
    assert_eq!(outcome.images, 3);
    let mut digest = fashion::Fnv1a::NEW;
    for (k, (i, logits)) in seen.iter().enumerate() {
        assert_eq!(*i, k);
        let x: [i8; 784] = core::array::from_fn(|j| (i32::from(images[k * 784 + j]) - 128) as i8);
        let mut y = [0i8; 10];
        let mut s = Scratch::<Int8<FashionMlp>>::ZERO;
        owned.forward(&x, &mut y, &mut s);
        assert_eq!(*logits, y, "image {k}");
        digest.update(y.iter().map(|&v| v as u8));
    }
    assert_eq!(outcome.digest, digest.value());

    // Not whole images, or one label short: refused before anything runs.
    for (img, lab) in [
        (&images[..784 * 3 - 1], &labels[..]),
        (&images[..], &labels[..2]),
    ] {
        let mut calls = 0;
        let err = fashion::run(&net, img, lab, &mut buf, |_, _| calls += 1).unwrap_err();
        assert!(matches!(err, fashion::Error::Data { .. }), "{err}");
        assert_eq!(calls, 0);
    }
    // A file that is not this network.
    let err = fashion::network::<finetune::Network>(&bytes[..bytes.len() - 1]).unwrap_err();
    assert!(matches!(err, fashion::Error::Format(_)), "{err}");
}

/// The CNN through the same code as the MLP: its 28×28×1 input filled from the same 784
/// bytes in the same order, every image's logits those of the owned network.
#[test]
fn the_cnn_runs_through_the_same_classification() {
    let mut rng = Rng::new(11);
    let mut float = firmnet::boxed!(FASHION_CNN);
    float.init(Init::HeNormal, &mut rng);
    let pixels: Vec<Image> = (0..16)
        .map(|_| core::array::from_fn(|_| core::array::from_fn(|_| [rng.below(256) as f32])))
        .collect();
    let int8: Box<Int8<FashionCnn>> = quantize(&*float, &pixels, RangeMethod::MinMax).unwrap();
    let bytes = format::save(&*int8).unwrap();
    let mut blob = Box::new(Aligned([0u8; 100_000]));
    blob.0[..bytes.len()].copy_from_slice(&bytes);
    let net = fashion::network::<fashion::Network<'_, FashionCnn>>(&blob.0[..bytes.len()]).unwrap();
    // An MLP's file is not this network.
    let (mlp, len) = network_file();
    let err = fashion::network::<fashion::Network<'_, FashionCnn>>(&mlp.0[..len]).unwrap_err();
    assert!(matches!(err, fashion::Error::Format(_)), "{err}");

    let images: Vec<u8> = (0..3 * 784).map(|_| rng.below(256) as u8).collect();
    let labels = [4u8, 5, 6];
    let mut buf = Box::new(fashion::Buffers::ZERO);
    let mut seen = Vec::new();
    let outcome =
        fashion::run(&net, &images, &labels, &mut buf, |i, l| seen.push((i, *l))).unwrap();
    assert_eq!((outcome.images, seen.len()), (3, 3));
    let mut digest = fashion::Fnv1a::NEW;
    let mut s = Box::new(Scratch::<Int8<FashionCnn>>::ZERO);
    for (k, (i, logits)) in seen.iter().enumerate() {
        assert_eq!(*i, k);
        let x: [[[i8; 1]; 28]; 28] = core::array::from_fn(|r| {
            core::array::from_fn(|c| [(i32::from(images[k * 784 + r * 28 + c]) - 128) as i8])
        });
        let mut y = [0i8; 10];
        int8.forward(&x, &mut y, &mut s);
        assert_eq!(*logits, y, "image {k}");
        assert_ne!(
            y, [y[0]; 10],
            "image {k}: the logits should not all be equal"
        );
        digest.update(y.iter().map(|&v| v as u8));
    }
    assert_eq!(outcome.digest, digest.value());
}

#[test]
fn the_shift_is_a_quarter_turn_clockwise() {
    let image: [u8; 784] = core::array::from_fn(|i| (i * 7 % 251) as u8);
    let turned = finetune::shift(&image);
    // Clockwise: the top row becomes the right column, the left column the top row.
    for c in 0..28 {
        assert_eq!(turned[c * 28 + 27], image[c], "top row, column {c}");
    }
    for r in 0..28 {
        assert_eq!(turned[27 - r], image[r * 28], "left column, row {r}");
    }
    let mut back = image;
    for _ in 0..4 {
        back = finetune::shift(&back);
    }
    assert_eq!(back, image, "four quarter turns are the identity");
}

#[test]
fn the_dequantized_head_reproduces_the_int8_logits() {
    let (blob, len) = network_file();
    let net = fashion::network::<finetune::Network>(&blob.0[..len]).unwrap();
    let mut head = firmnet::boxed::zero::<finetune::Head>();
    finetune::dequantized_head(&net, &mut head);
    let last = &net.rest.rest;
    let mut rng = Rng::new(3);
    for _ in 0..20 {
        let h2: [i8; 128] = core::array::from_fn(|_| rng.below(256) as u8 as i8);
        let mut q = [0i8; 10];
        last.forward_with(&h2, &mut q, &mut []);
        let x: [f32; 128] = core::array::from_fn(|j| last.input.dequantize(h2[j]));
        let mut y = [0.0f32; 10];
        head.forward_with(&x, &mut y, &mut []);
        for c in 0..10 {
            // The int8 output is the float one rounded to the output's step, then
            // clamped: within a step and a half (requantization rounds twice).
            let expected = last.output.quantize(y[c]).clamp(last.min, last.max);
            assert!(
                (i32::from(q[c]) - i32::from(expected)).abs() <= 1,
                "class {c}: int8 {}, dequantized head {} ({})",
                q[c],
                expected,
                y[c]
            );
        }
    }
}

/// A random int8 CNN taking raw pixels, made by the generic conversion and saved, as bytes
/// at an aligned address, with their length.
fn cnn_file() -> (Box<Aligned<[u8; 100_000]>>, usize) {
    let mut rng = Rng::new(11);
    let mut float = firmnet::boxed!(FASHION_CNN);
    float.init(Init::HeNormal, &mut rng);
    let images: Vec<Image> = (0..16)
        .map(|_| core::array::from_fn(|_| core::array::from_fn(|_| [rng.below(256) as f32])))
        .collect();
    let net: Box<Int8<FashionCnn>> = quantize(&*float, &images, RangeMethod::MinMax).unwrap();
    let bytes = format::save(&*net).unwrap();
    let mut blob = Box::new(Aligned([0u8; 100_000]));
    blob.0[..bytes.len()].copy_from_slice(&bytes);
    (blob, bytes.len())
}

#[test]
fn cnn_features_are_the_int8_hidden_sums_and_the_head_starts_as_the_int8_layers() {
    let (blob, len) = cnn_file();
    let net = finetune_cnn::network(&blob.0[..len]).unwrap();
    let dense = &net.rest.rest.rest.rest.rest.first;
    let last = &net.rest.rest.rest.rest.rest.rest;
    let mut head = firmnet::boxed::zero::<finetune_cnn::Head>();
    finetune_cnn::initial_head(&net, &mut head);
    let mut act = Box::new(finetune_cnn::Activations::ZERO);
    let mut arena = firmnet::boxed::zero::<Scratch<finetune_cnn::Network<'static>>>();
    let mut head_arena = firmnet::boxed::zero::<finetune_cnn::HeadScratch>();
    let mut rng = Rng::new(4);
    for k in 0..6 {
        let image: Vec<u8> = (0..784).map(|_| rng.below(256) as u8).collect();
        // The whole int8 network, as the deployment firmware runs it.
        let x: [[[i8; 1]; 28]; 28] =
            core::array::from_fn(|r| core::array::from_fn(|c| [(image[r * 28 + c] ^ 0x80) as i8]));
        let mut logits = [0i8; 10];
        net.forward(&x, &mut logits, &mut arena);

        // The sums, requantized and clamped as the dense layer does, then the last layer:
        // the same logits, bit for bit.
        let mut sums = [0i32; 48];
        finetune_cnn::sums(&net, &mut act, &image, &mut sums);
        let rq = dense.requant();
        let hidden: [i8; 48] =
            core::array::from_fn(|o| rq.apply(sums[o], rq.multiplier[o], rq.shift[o]));
        let mut again = [0i8; 10];
        last.forward_with(&hidden, &mut again, &mut []);
        assert_eq!(again, logits, "image {k}");

        // The features are the sums at their scale; the initial head is the int8 layers in
        // float: its logits are the int8 ones but for rounding — the hidden layer's (half
        // a step of its scale per value, through the last layer's weights) and the
        // output's (a step and a half).
        let mut f = [0.0f32; 48];
        finetune_cnn::features(&net, &mut act, &image, &mut f);
        for o in 0..48 {
            let s = f64::from(dense.input.scale) * dense.weight_scale(o).unwrap();
            assert_eq!(
                f[o],
                (f64::from(sums[o]) * s) as f32,
                "image {k} feature {o}"
            );
        }
        let mut y = [0.0f32; 10];
        head.forward_with(&f, &mut y, head_arena.as_mut_slice::<f32>());
        for c in 0..10 {
            let s_w = last.weight_scale(c).unwrap() as f32;
            let spread: f32 = last.weight[c]
                .iter()
                .map(|&w| f32::from(w).abs())
                .sum::<f32>()
                * s_w
                * last.input.scale
                / 2.0;
            let steps = spread / last.output.scale + 1.5;
            let got = last.output.dequantize(logits[c]);
            assert!(
                (got - y[c]).abs() <= steps * last.output.scale,
                "image {k} class {c}: int8 {got}, head {}, allowed {steps} steps",
                y[c]
            );
        }
    }
}

#[test]
fn cnn_finetuning_reports_every_step_and_checks_its_samples() {
    let (blob, len) = cnn_file();
    let net = finetune_cnn::network(&blob.0[..len]).unwrap();
    let mut rng = Rng::new(8);
    let train: Vec<u8> = (0..finetune::TRAIN * 784)
        .map(|_| rng.below(256) as u8)
        .collect();
    let eval: Vec<u8> = (0..20 * 784).map(|_| rng.below(256) as u8).collect();
    let train_labels: Vec<u8> = (0..finetune::TRAIN).map(|i| (i % 10) as u8).collect();
    let eval_labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
    let mut state = Box::new(finetune_cnn::State::NEW);
    let mut ws = state.workspace();
    // One training label short: refused before anything is reported.
    let short = finetune::Samples {
        train_images: &train,
        train_labels: &train_labels[1..],
        eval_images: &eval,
        eval_labels: &eval_labels,
    };
    let mut reported = Vec::new();
    let err = finetune_cnn::run(&net, &mut ws, &short, &mut |l, i, v| {
        reported.push((l.to_string(), i, v))
    })
    .unwrap_err();
    assert!(
        matches!(err, firmnet::Error::InvalidSetting { .. }),
        "{err}"
    );
    assert!(reported.is_empty());

    let samples = finetune::Samples {
        train_labels: &train_labels,
        ..short
    };
    finetune_cnn::run(&net, &mut ws, &samples, &mut |l, i, v| {
        reported.push((l.to_string(), i, v))
    })
    .unwrap();
    assert_eq!(reported.len(), 4 + finetune::STEPS);
    let losses: Vec<f32> = reported
        .iter()
        .filter(|(l, _, _)| l == "loss")
        .map(|&(_, _, v)| v)
        .collect();
    assert_eq!(losses.len(), finetune::STEPS);
    assert!(
        reported.iter().all(|(_, _, v)| v.is_finite()),
        "{reported:?}"
    );
    // The training features were computed once, from the training images.
    let mut f = [0.0f32; 48];
    finetune_cnn::features(&net, ws.act, &train[5 * 784..6 * 784], &mut f);
    assert_eq!(ws.cache[5], f);
}
