//! The host harness for networks whose input is any float tensor: the same flat sample rows
//! train and evaluate a network taking `[f32; D]` and one taking an `H × W × C` map, each
//! row viewed in place as the network's input.

use firmnet::host::{
    Augment, LrSchedule, RangeMethod, Regularization, Samples, Schedule, TrainConfig, Trainer,
    as_input, evaluate, evaluate_ensemble, evaluate_fgsm, evaluate_int8, evaluate_with, quantize,
};
use firmnet::layers::{BatchNorm2d, Conv2d, Flatten, MaxPool2d};
use firmnet::loss::SoftmaxCrossEntropy;
use firmnet::prelude::*;
use firmnet::quant::{Int8, QLayer, argmax_i8};
use firmnet::train::Fgsm;

type Map = [[[f32; 1]; 6]; 6];

/// 6×6 images of one channel, a bright horizontal (class 0) or vertical (class 1) bar of
/// length 3 at a random place, on noise.
fn bars(n: usize, seed: u64) -> Samples<36> {
    let mut rng = Rng::new(seed);
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let mut img = [0.0f32; 36];
        for v in &mut img {
            *v = rng.uniform(0.0, 0.3);
        }
        let class = (i % 2) as u16;
        let (r, c) = (rng.below(4) as usize + 1, rng.below(4) as usize + 1);
        for t in 0..3 {
            let (rr, cc) = if class == 0 {
                (r, c + t - 1)
            } else {
                (r + t - 1, c)
            };
            img[rr * 6 + cc] = 1.0;
        }
        x.push(img);
        y.push(class);
    }
    Samples::new(x, y).unwrap()
}

type Vector = Net![Dense<36, 12>, Relu<[f32; 12]>, Dense<12, 2>];
type Image = Net![Flatten<6, 6, 1, 36>, Dense<36, 12>, Relu<[f32; 12]>, Dense<12, 2>];

fn config(augment: bool) -> TrainConfig {
    TrainConfig::default()
        .epochs(4)
        .schedule(LrSchedule {
            base: 1e-2,
            schedule: Schedule::Cosine { min_factor: 0.1 },
            warmup_epochs: 1,
        })
        .patience(2)
        .seed(7)
        .regularization(Regularization {
            augment: augment.then_some(Augment {
                rows: 6,
                cols: 6,
                max_shift: 1,
                flip: true,
                fill: 0.0,
            }),
            ..Regularization::NONE
        })
}

#[test]
fn an_image_input_trains_bit_for_bit_as_its_rows() {
    let (train, val) = (bars(256, 1), bars(64, 2));
    for augment in [false, true] {
        let mut vector: Box<Vector> = firmnet::boxed::zero();
        vector.init(Init::HeNormal, &mut Rng::new(3));
        let mut image: Box<Image> = firmnet::boxed::zero();
        image.rest.first = vector.first.clone();
        image.rest.rest.rest = vector.rest.rest.clone();

        let adam = AdamConfig::with_lr(1e-2);
        let mut a = Trainer::<_, _, 16>::new(vector, Box::new(Adam::new(adam)), 4);
        let mut b = Trainer::<_, _, 16>::new(image, Box::new(Adam::new(adam)), 4);
        let config = config(augment);
        let sa = a.fit(&train, &val, &config, |_| {}).unwrap();
        let sb = b.fit(&train, &val, &config, |_| {}).unwrap();
        assert_eq!(sa.history.len(), sb.history.len());
        for (ra, rb) in sa.history.iter().zip(&sb.history) {
            assert_eq!((ra.train, ra.val), (rb.train, rb.val), "augment {augment}");
        }
        let same = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(same(
            a.net.first.weight.as_flattened(),
            b.net.rest.first.weight.as_flattened()
        ));
        assert!(same(&a.net.rest.rest.bias, &b.net.rest.rest.rest.bias));
        assert_eq!(evaluate(&*a.net, &val), evaluate(&*b.net, &val));
        assert_eq!(
            evaluate_with(&*a.net, &val, &SoftmaxCrossEntropy),
            evaluate_with(&*b.net, &val, &SoftmaxCrossEntropy)
        );
        let attack = Fgsm::new(0.1).within(0.0, 1.0);
        assert_eq!(
            evaluate_fgsm::<_, 36, 2, 16>(&*a.net, &val, &attack),
            evaluate_fgsm::<_, 36, 2, 16>(&*b.net, &val, &attack)
        );
        assert_eq!(
            evaluate_ensemble(&[&*a.net], &val).unwrap(),
            evaluate_ensemble(&[&*b.net], &val).unwrap()
        );
    }
}

#[test]
fn rows_are_viewed_in_place() {
    let data = bars(3, 5);
    let image: &Map = data.input(1);
    assert!(core::ptr::eq(
        image.as_flattened().as_flattened().as_ptr(),
        data.x[1].as_ptr()
    ));
    for (r, row) in image.iter().enumerate() {
        for (c, pixel) in row.iter().enumerate() {
            assert_eq!(*pixel, [data.x[1][r * 6 + c]]);
        }
    }
    let image: &Map = as_input(&data.x[2]);
    assert_eq!(image[5][5][0], data.x[2][35]);
    let copies: Vec<Map> = data.inputs();
    assert_eq!(copies.len(), 3);
    assert_eq!(&copies[1], data.input::<Map>(1));
}

type Cnn = Net![
    Conv2d<6, 6, 1, 4, 3, 3, 6, 6>,
    BatchNorm2d<6, 6, 4>,
    Relu<[[[f32; 4]; 6]; 6]>,
    MaxPool2d<6, 6, 4, 2, 2, 3, 3, 2>,
    Flatten<3, 3, 4, 36>,
    Dense<36, 2>
];

#[test]
fn a_cnn_learns_from_rows() {
    let (train, val) = (bars(512, 11), bars(200, 12));
    let mut net: Box<Cnn> = firmnet::boxed::zero();
    net.init(Init::HeNormal, &mut Rng::new(13));
    let mut t = Trainer::<_, _, 16>::new(net, Box::new(Adam::new(AdamConfig::with_lr(1e-2))), 14);
    let config = config(false).epochs(8).patience(8);
    t.fit(&train, &val, &config, |_| {}).unwrap();
    let result = evaluate(&*t.net, &val);
    assert!(result.accuracy >= 0.95, "accuracy {}", result.accuracy);
    // The evaluation is the network's own, sample by sample.
    let mut scratch = Scratch::<Cnn>::ZERO;
    let mut out = [0.0; 2];
    for (i, &p) in result.predictions.iter().enumerate() {
        t.net.forward(val.input(i), &mut out, &mut scratch);
        assert_eq!(usize::from(p), argmax(&out));
    }

    // Its int8 twin, calibrated on the rows as maps, evaluated on the rows: the same
    // predictions as quantizing and running each map by hand.
    let q: Box<Int8<Cnn>> = quantize(&*t.net, &train.inputs::<Map>(), RangeMethod::MinMax).unwrap();
    let int8 = evaluate_int8(&*q, &val);
    assert!(int8.accuracy >= 0.9, "int8 accuracy {}", int8.accuracy);
    let mut scratch = Scratch::<Int8<Cnn>>::ZERO;
    let (mut xq, mut yq) = ([[[0i8; 1]; 6]; 6], [0i8; 2]);
    for (i, &p) in int8.predictions.iter().enumerate() {
        q.input_params()
            .quantize_slice(&val.x[i], xq.as_flattened_mut().as_flattened_mut());
        q.forward(&xq, &mut yq, &mut scratch);
        assert_eq!(usize::from(p), argmax_i8(&yq));
    }
}
