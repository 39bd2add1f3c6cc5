//! Convolutional networks through the generic conversions (`Int8<N>`, `host::quantize`,
//! `Deployed<N>`), the weight files and their views:
//! - the int8 type the compiler derives from a CNN, and the groups the conversion walks at
//!   run time, are the same, layer for layer (convolutions with batch normalization folded
//!   and ReLU fused, pools keeping their input's quantization, flatten, residual blocks);
//! - a small CNN trained on synthetic images and quantized agrees with its float self on
//!   the classes and within a few output steps on the logits;
//! - the int8 CNN goes through a file and comes back, copied or viewed in place, computing
//!   the same bits; a file of a network of other geometry is refused by name;
//! - the float deployment form, with batch normalization folded into the convolutions,
//!   computes what the trained network computes.

use firmnet::deploy::{Deployed, deploy};
use firmnet::format::{self, Aligned, ErrorCode};
use firmnet::host::{Calibration, RangeMethod};
use firmnet::prelude::*;
use firmnet::quant::convert::groups;
use firmnet::quant::{
    Borrowed, Int8, QAvgPool2d, QConv2d, QDense, QDepthwiseConv2d, QFlatten, QGlobalAvgPool,
    QLayer, QMaxPool2d, QParams, QResidual, argmax_i8,
};
use firmnet::spec::TensorMut;
use firmnet::train::{TrainBuffers, classification_step};

type Map<const H: usize, const W: usize, const C: usize> = [[[f32; C]; W]; H];

// ---------------------------------------------------------------------------------------
// The types

/// The CNN of the issue: 12×12×1 → conv 3×3 ×4 + batch norm + ReLU → max pool 2 → conv
/// 3×3 ×8 stride 2 + ReLU → global average pool → dense 3.
type Cnn = Net![
    Conv2d<12, 12, 1, 4, 3, 3, 12, 12>,
    BatchNorm2d<12, 12, 4>,
    Relu<Map<12, 12, 4>>,
    MaxPool2d<12, 12, 4, 2, 2, 6, 6, 2>,
    Conv2d<6, 6, 4, 8, 3, 3, 3, 3, 2>,
    Relu<Map<3, 3, 8>>,
    GlobalAvgPool<3, 3, 8>,
    Dense<8, 3>
];

type CnnInt8 = Net![
    QConv2d<12, 12, 1, 4, 3, 3, 12, 12>,
    QMaxPool2d<12, 12, 4, 2, 2, 6, 6, 2>,
    QConv2d<6, 6, 4, 8, 3, 3, 3, 3, 2>,
    QGlobalAvgPool<3, 3, 8>,
    QDense<8, 3>
];

/// The example of the conversion's docs: conv, batch norm, ReLU, max pool, flatten, dense.
type Flat = Net![
    Conv2d<8, 8, 1, 4, 3, 3, 8, 8>,
    BatchNorm2d<8, 8, 4>,
    Relu<Map<8, 8, 4>>,
    MaxPool2d<8, 8, 4, 2, 2, 4, 4, 2>,
    Flatten<4, 4, 4, 64>,
    Dense<64, 3>
];

/// Depthwise separable, ReLU6, dropout, an average pool with a ReLU after it, a table.
type Separable = Net![
    Conv2d<8, 8, 2, 4, 3, 3, 4, 4, 2, Same>,
    Relu6<Map<4, 4, 4>>,
    DepthwiseConv2d<4, 4, 4, 3, 3, 4, 4>,
    BatchNorm2d<4, 4, 4>,
    Relu6<Map<4, 4, 4>>,
    Dropout<Map<4, 4, 4>>,
    AvgPool2d<4, 4, 4, 2, 2, 3, 3, 1, Valid>,
    Relu<Map<3, 3, 4>>,
    Flatten<3, 3, 4, 36>,
    Dense<36, 5>,
    Tanh<[f32; 5]>,
    Dense<5, 2>
];

/// A residual block with the identity shortcut, and one with a strided 1×1 projection.
type Block = Residual<
    Net![
        Conv2d<6, 6, 4, 4, 3, 3, 6, 6>,
        BatchNorm2d<6, 6, 4>,
        Relu<Map<6, 6, 4>>,
        Conv2d<6, 6, 4, 4, 3, 3, 6, 6>,
        BatchNorm2d<6, 6, 4>
    ],
>;
type Down = Residual<
    Net![
        Conv2d<6, 6, 4, 8, 3, 3, 3, 3, 2>,
        Relu<Map<3, 3, 8>>,
        Conv2d<3, 3, 8, 8, 3, 3, 3, 3>
    ],
    Net![Conv2d<6, 6, 4, 8, 1, 1, 3, 3, 2>, BatchNorm2d<3, 3, 8>],
>;
type ResNet = Net![
    Conv2d<6, 6, 1, 4, 3, 3, 6, 6>,
    Relu<Map<6, 6, 4>>,
    Block,
    Relu<Map<6, 6, 4>>,
    Down,
    Relu<Map<3, 3, 8>>,
    GlobalAvgPool<3, 3, 8>,
    Dense<8, 3>
];

type ResNetInt8<S> = Net![
    QConv2d<6, 6, 1, 4, 3, 3, 6, 6, 1, Same, S>,
    QResidual<
        Net![
            QConv2d<6, 6, 4, 4, 3, 3, 6, 6, 1, Same, S>,
            QConv2d<6, 6, 4, 4, 3, 3, 6, 6, 1, Same, S>
        ],
    >,
    QResidual<
        Net![
            QConv2d<6, 6, 4, 8, 3, 3, 3, 3, 2, Same, S>,
            QConv2d<3, 3, 8, 8, 3, 3, 3, 3, 1, Same, S>
        ],
        QConv2d<6, 6, 4, 8, 1, 1, 3, 3, 2, Same, S>,
    >,
    QGlobalAvgPool<3, 3, 8, S>,
    QDense<8, 3, S>
];

/// The compiler derives the int8 types: these only compile if they are what it derives.
#[test]
fn the_compiler_derives_the_int8_cnns() {
    let _: Option<Int8<Cnn>> = None::<CnnInt8>;
    let _: Option<Int8<Flat>> = None::<
        Net![
            QConv2d<8, 8, 1, 4, 3, 3, 8, 8>,
            QMaxPool2d<8, 8, 4, 2, 2, 4, 4, 2>,
            QFlatten<4, 4, 4, 64>,
            QDense<64, 3>
        ],
    >;
    let _: Option<Int8<Separable>> = None::<
        Net![
            QConv2d<8, 8, 2, 4, 3, 3, 4, 4, 2>,
            QDepthwiseConv2d<4, 4, 4, 3, 3, 4, 4>,
            QAvgPool2d<4, 4, 4, 2, 2, 3, 3, 1, Valid>,
            QFlatten<3, 3, 4, 36>,
            QDense<36, 5>,
            firmnet::quant::QLut<[i8; 5]>,
            QDense<5, 2>
        ],
    >;
    let _: Option<Int8<ResNet>> = None::<ResNetInt8<firmnet::quant::Owned>>;
    // The same network, borrowed from a file.
    fn borrowed<'a>(n: Option<ResNetInt8<Borrowed<'a>>>) -> Option<Int8<ResNet, Borrowed<'a>>> {
        n
    }
    let _ = borrowed(None);
    // The deployment form: batch normalization folded into the convolutions.
    let _: Option<Deployed<Cnn>> = None::<
        Net![
            Conv2d<12, 12, 1, 4, 3, 3, 12, 12>,
            Relu<Map<12, 12, 4>>,
            MaxPool2d<12, 12, 4, 2, 2, 6, 6, 2>,
            Conv2d<6, 6, 4, 8, 3, 3, 3, 3, 2>,
            Relu<Map<3, 3, 8>>,
            GlobalAvgPool<3, 3, 8>,
            Dense<8, 3>
        ],
    >;
    let _: Option<Deployed<Separable>> = None::<
        Net![
            Conv2d<8, 8, 2, 4, 3, 3, 4, 4, 2, Same>,
            Relu6<Map<4, 4, 4>>,
            DepthwiseConv2d<4, 4, 4, 3, 3, 4, 4>,
            Relu6<Map<4, 4, 4>>,
            AvgPool2d<4, 4, 4, 2, 2, 3, 3, 1, Valid>,
            Relu<Map<3, 3, 4>>,
            Flatten<3, 3, 4, 36>,
            Dense<36, 5>,
            Tanh<[f32; 5]>,
            Dense<5, 2>
        ],
    >;
}

/// The int8 layer kinds of the type `Int8<$net>` and of the run-time grouping agree, and
/// are the expected ones.
macro_rules! agree {
    ($net:ty, [$($kind:literal),*]) => {{
        let typed: Vec<&str> = (0..<Int8<$net> as Describe>::LAYERS)
            .map(|i| <Int8<$net> as Describe>::layer_spec(i).unwrap().kind)
            .collect();
        let walked: Vec<&str> = groups::<$net>()
            .map(|g| g.unwrap().kind.int8_kind())
            .collect();
        assert_eq!(typed, walked, "{}", stringify!($net));
        assert_eq!(typed, [$($kind),*], "{}", stringify!($net));
    }};
}

#[test]
fn the_type_and_the_conversion_group_alike() {
    agree!(
        Cnn,
        [
            "qconv2d",
            "qmax_pool2d",
            "qconv2d",
            "qglobal_avg_pool",
            "qdense"
        ]
    );
    agree!(Flat, ["qconv2d", "qmax_pool2d", "qflatten", "qdense"]);
    agree!(
        Separable,
        [
            "qconv2d",
            "qdepthwise_conv2d",
            "qavg_pool2d",
            "qflatten",
            "qdense",
            "qlut",
            "qdense"
        ]
    );
    agree!(
        ResNet,
        [
            "qconv2d",
            "residual",
            "qconv2d",
            "qconv2d",
            "qadd",
            "residual",
            "qconv2d",
            "qconv2d",
            "qconv2d",
            "qadd",
            "qglobal_avg_pool",
            "qdense"
        ]
    );
    // A flatten right after a pool, a ReLU after a flatten (a table), a pool first.
    agree!(
        Net![
            MaxPool2d<4, 4, 1, 2, 2, 2, 2, 2>,
            Flatten<2, 2, 1, 4>,
            Relu<[f32; 4]>,
            Dense<4, 2>
        ],
        ["qmax_pool2d", "qflatten", "qlut", "qdense"]
    );
    // What each group takes: the batch normalization folded, the ReLU fused.
    let g: Vec<_> = groups::<Cnn>().map(Result::unwrap).collect();
    assert_eq!((g[0].first, g[0].folded, g[0].last), (0, Some(1), 2));
    assert_eq!(g[0].clamp, firmnet::quant::Clamp::Relu);
    assert_eq!((g[1].first, g[1].last), (3, 3));
    assert!(g[1].kind.keeps_quantization() && !g[2].kind.keeps_quantization());
    let r: Vec<_> = groups::<ResNet>().map(Result::unwrap).collect();
    // The identity block's add takes the ReLU after the block into its clamp.
    assert_eq!((r[4].first, r[4].last), (8, 9));
    assert_eq!(r[4].clamp, firmnet::quant::Clamp::Relu);
}

// ---------------------------------------------------------------------------------------
// Values

/// Gives every batch normalization running statistics that are not the identity, so that
/// folding them matters.
fn perturb_batch_norms<N: Describe>(net: &mut N, seed: u64) {
    let mut rng = Rng::new(seed);
    for i in 0..N::LAYERS {
        let layer = net.layer_mut(i).unwrap();
        let spec = layer.spec();
        if spec.kind != "batch_norm" {
            continue;
        }
        for (t, s) in spec.tensors.iter().enumerate() {
            let (lo, hi) = match s.name {
                "running_var" => (0.3, 2.0),
                "running_mean" | "beta" => (-0.3, 0.3),
                _ => (0.6, 1.4), // gamma
            };
            if let Some(TensorMut::F32(d)) = layer.tensor_mut(t) {
                for v in d {
                    *v = rng.uniform(lo, hi);
                }
            }
        }
    }
}

/// A 12×12 image of class 0 (a horizontal bar), 1 (a vertical bar) or 2 (a square ring),
/// at a random place, with noise.
fn image(class: u16, rng: &mut Rng) -> Map<12, 12, 1> {
    let mut x = [[[0.0f32; 1]; 12]; 12];
    for row in x.iter_mut() {
        for p in row.iter_mut() {
            p[0] = 0.15 * rng.normal();
        }
    }
    let at = |rng: &mut Rng, n: usize| (rng.next_u32() as usize) % n;
    let (r, c) = (at(rng, 7) + 1, at(rng, 7) + 1);
    for k in 0..5 {
        match class {
            0 => x[r + 2][c + k][0] += 1.0,
            1 => x[r + k][c + 2][0] += 1.0,
            _ => {
                for (dy, dx) in [(0, k), (4, k), (k, 0), (k, 4)] {
                    x[r + dy][c + dx][0] = 1.0;
                }
            }
        }
    }
    x
}

fn dataset(n: usize, seed: u64) -> (Vec<Map<12, 12, 1>>, Vec<u16>) {
    let mut rng = Rng::new(seed);
    let labels: Vec<u16> = (0..n).map(|i| (i % 3) as u16).collect();
    let images = labels.iter().map(|&c| image(c, &mut rng)).collect();
    (images, labels)
}

/// Trains `net` with Adam on batches of 16 synthetic images for `steps` steps.
fn train<N: Layer<Input = Map<12, 12, 1>, Output = [f32; 3]>>(
    net: &mut N,
    steps: usize,
    seed: u64,
) {
    let mut adam = Adam::<N::Grad>::new(AdamConfig {
        lr: 0.01,
        ..AdamConfig::DEFAULT
    });
    let mut buf = firmnet::boxed::zero::<TrainBuffers<N, 16>>();
    let mut ctx = Context::new(seed);
    let mut rng = Rng::new(seed + 1);
    let mut x = Box::new([[[[0.0f32; 1]; 12]; 12]; 16]);
    for _ in 0..steps {
        let mut labels = [0u16; 16];
        for (slot, label) in x.iter_mut().zip(labels.iter_mut()) {
            *label = (rng.next_u32() % 3) as u16;
            *slot = image(*label, &mut rng);
        }
        classification_step(net, &mut adam, &mut buf, &mut ctx, &x, &labels).unwrap();
    }
}

/// The float network's accuracy, the share of samples where the int8 network's class is
/// the float network's, and the largest and the mean difference of their logits in output
/// steps.
fn compare<F, Q>(float: &F, int8: &Q, xs: &[Map<12, 12, 1>], ys: &[u16]) -> (f64, f64, f64, f64)
where
    F: Infer<Input = Map<12, 12, 1>, Output = [f32; 3]>,
    Q: QLayer<Input = [[[i8; 1]; 12]; 12], Output = [i8; 3]>,
{
    let mut fs = firmnet::boxed::zero::<Scratch<F>>();
    let mut qs = firmnet::boxed::zero::<Scratch<Q>>();
    let (input, output) = (int8.input_params(), int8.output_params());
    let (mut right, mut same, mut worst, mut sum) = (0, 0, 0.0f64, 0.0f64);
    for (x, &label) in xs.iter().zip(ys) {
        let mut y = [0.0f32; 3];
        float.forward(x, &mut y, &mut fs);
        let mut xq = [[[0i8; 1]; 12]; 12];
        input.quantize_slice(
            x.as_flattened().as_flattened(),
            xq.as_flattened_mut().as_flattened_mut(),
        );
        let mut yq = [0i8; 3];
        int8.forward(&xq, &mut yq, &mut qs);
        right += usize::from(argmax(&y) == usize::from(label));
        same += usize::from(argmax(&y) == argmax_i8(&yq));
        for (a, &b) in y.iter().zip(&yq) {
            let steps = f64::from((a - output.dequantize(b)).abs() / output.scale);
            worst = worst.max(steps);
            sum += steps;
        }
    }
    let n = xs.len() as f64;
    (right as f64 / n, same as f64 / n, worst, sum / (3.0 * n))
}

/// The outputs of an int8 network on the first images of `xs`.
fn outputs<Q>(net: &Q, xs: &[Map<12, 12, 1>]) -> Vec<[i8; 3]>
where
    Q: QLayer<Input = [[[i8; 1]; 12]; 12], Output = [i8; 3]>,
{
    let mut scratch = firmnet::boxed::zero::<Scratch<Q>>();
    let p = net.input_params();
    xs.iter()
        .map(|x| {
            let mut xq = [[[0i8; 1]; 12]; 12];
            p.quantize_slice(
                x.as_flattened().as_flattened(),
                xq.as_flattened_mut().as_flattened_mut(),
            );
            let mut y = [0i8; 3];
            net.forward(&xq, &mut y, &mut scratch);
            y
        })
        .collect()
}

/// An embedded copy of `bytes` at an aligned address, as firmware holds a file.
fn aligned(bytes: &[u8]) -> Box<Aligned<[u8; 16384]>> {
    let mut blob = Box::new(Aligned([0u8; 16384]));
    blob.0[..bytes.len()].copy_from_slice(bytes);
    blob
}

#[test]
fn a_trained_cnn_keeps_its_answers_in_int8_and_through_files() {
    let mut net: Cnn = Zero::ZERO;
    net.init(Init::HeNormal, &mut Rng::new(1));
    train(&mut net, 300, 2);
    let (xs, ys) = dataset(600, 3);
    let calibration = Calibration::record(&net, &xs[..300]).unwrap();
    // Pools keep their input's quantization: no range is recorded for them.
    assert!(calibration.params(3, RangeMethod::MinMax).is_none());
    assert!(calibration.params(2, RangeMethod::MinMax).is_some());
    let q: Box<Int8<Cnn>> = calibration.quantize(&net, RangeMethod::MinMax).unwrap();
    let (accuracy, agree, worst, mean) = compare(&net, &*q, &xs[300..], &ys[300..]);
    eprintln!(
        "float accuracy {:.1} %, int8 classes agree {:.1} %, logits within {worst:.2} steps (mean {mean:.2})",
        100.0 * accuracy,
        100.0 * agree
    );
    assert!(accuracy > 0.9, "the float CNN did not learn: {accuracy}");
    assert!(agree >= 0.95, "int8 agrees with float on {agree}");
    assert!(worst <= 6.0, "int8 logits {worst} output steps from float");
    assert!(
        mean <= 1.5,
        "int8 logits {mean} output steps from float on average"
    );
    // The pool and flatten quantization is their input's, the ReLU is the clamp.
    let (c1, m2) = (&q.first, &q.rest.first);
    assert_eq!(m2.params, c1.output);
    assert_eq!(c1.min as i32, c1.output.zero_point);

    // Through a file: copied, and viewed in place.
    let bytes = format::save(&*q).unwrap();
    let mut back: Box<Int8<Cnn>> = firmnet::boxed::zero();
    format::load(&bytes, &mut *back).unwrap();
    assert_eq!(*back, *q);
    let blob = aligned(&bytes);
    let view: Int8<Cnn, Borrowed<'_>> = format::view(&blob.0[..bytes.len()]).unwrap();
    let weight = view.first.weight.as_ptr() as usize;
    assert!((blob.0.as_ptr() as usize..blob.0.as_ptr() as usize + bytes.len()).contains(&weight));
    let want = outputs(&*q, &xs[..200]);
    assert_eq!(outputs(&*back, &xs[..200]), want);
    assert_eq!(outputs(&view, &xs[..200]), want);
    assert!(want.iter().collect::<std::collections::HashSet<_>>().len() > 50);

    // The float deployment form computes what the trained network computes.
    let mut small: Box<Deployed<Cnn>> = firmnet::boxed::zero();
    deploy(&net, &mut *small).unwrap();
    let mut fs = firmnet::boxed::zero::<Scratch<Cnn>>();
    let mut ds = firmnet::boxed::zero::<Scratch<Deployed<Cnn>>>();
    for x in &xs[..100] {
        let (mut a, mut b) = ([0.0f32; 3], [0.0f32; 3]);
        net.forward(x, &mut a, &mut fs);
        small.forward(x, &mut b, &mut ds);
        for (a, b) in a.iter().zip(&b) {
            assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "{a} {b}");
        }
    }
}

#[test]
fn a_trained_residual_cnn_keeps_its_answers_in_int8_and_through_files() {
    type Res = Net![
        Conv2d<12, 12, 1, 4, 3, 3, 6, 6, 2>,
        BatchNorm2d<6, 6, 4>,
        Relu<Map<6, 6, 4>>,
        Residual<
            Net![
                Conv2d<6, 6, 4, 4, 3, 3, 6, 6>,
                BatchNorm2d<6, 6, 4>,
                Relu<Map<6, 6, 4>>,
                Conv2d<6, 6, 4, 4, 3, 3, 6, 6>
            ],
        >,
        Relu<Map<6, 6, 4>>,
        Residual<
            Net![Conv2d<6, 6, 4, 8, 3, 3, 3, 3, 2>, Relu<Map<3, 3, 8>>],
            Net![Conv2d<6, 6, 4, 8, 1, 1, 3, 3, 2>, BatchNorm2d<3, 3, 8>],
        >,
        GlobalAvgPool<3, 3, 8>,
        Dense<8, 3>
    ];
    let mut net: Res = Zero::ZERO;
    net.init(Init::HeNormal, &mut Rng::new(11));
    train(&mut net, 300, 12);
    let (xs, ys) = dataset(600, 13);
    let q: Box<Int8<Res>> = Calibration::record(&net, &xs[..300])
        .unwrap()
        .quantize(&net, RangeMethod::MinMax)
        .unwrap();
    let (accuracy, agree, worst, mean) = compare(&net, &*q, &xs[300..], &ys[300..]);
    eprintln!(
        "residual: float accuracy {:.1} %, int8 classes agree {:.1} %, logits within {worst:.2} steps (mean {mean:.2})",
        100.0 * accuracy,
        100.0 * agree
    );
    assert!(accuracy > 0.9, "the float CNN did not learn: {accuracy}");
    assert!(agree >= 0.95, "int8 agrees with float on {agree}");
    assert!(worst <= 8.0, "int8 logits {worst} output steps from float");
    assert!(
        mean <= 2.0,
        "int8 logits {mean} output steps from float on average"
    );
    // The ReLU after the first block is its add's clamp.
    let block = &q.rest.first;
    assert_eq!(block.add.min as i32, block.add.output.zero_point);

    let bytes = format::save(&*q).unwrap();
    let mut back: Box<Int8<Res>> = firmnet::boxed::zero();
    format::load(&bytes, &mut *back).unwrap();
    assert_eq!(*back, *q);
    let blob = aligned(&bytes);
    let view: Int8<Res, Borrowed<'_>> = format::view(&blob.0[..bytes.len()]).unwrap();
    let want = outputs(&*q, &xs[..200]);
    assert_eq!(outputs(&*back, &xs[..200]), want);
    assert_eq!(outputs(&view, &xs[..200]), want);
    // And as Rust source: the blocks are `QResidual::new` of their branches and add.
    let source = format::rust_source(&*q).unwrap();
    assert!(
        source.contains("firmnet::quant::QResidual::new("),
        "{source}"
    );
    assert!(source.contains("firmnet::quant::QAdd::from_parts("));

    let mut small: Box<Deployed<Res>> = firmnet::boxed::zero();
    deploy(&net, &mut *small).unwrap();
    let mut fs = firmnet::boxed::zero::<Scratch<Res>>();
    let mut ds = firmnet::boxed::zero::<Scratch<Deployed<Res>>>();
    for x in &xs[..100] {
        let (mut a, mut b) = ([0.0f32; 3], [0.0f32; 3]);
        net.forward(x, &mut a, &mut fs);
        small.forward(x, &mut b, &mut ds);
        for (a, b) in a.iter().zip(&b) {
            assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "{a} {b}");
        }
    }
}

#[test]
fn conversion_folds_and_fuses_what_a_hand_conversion_does() {
    // The generic conversion of the separable network's first layers against the int8
    // layers' own `from_float`, with the same quantization.
    let mut net: Separable = Zero::ZERO;
    net.init(Init::HeNormal, &mut Rng::new(21));
    perturb_batch_norms(&mut net, 22);
    let mut rng = Rng::new(23);
    let xs: Vec<Map<8, 8, 2>> = (0..64)
        .map(|_| core::array::from_fn(|_| core::array::from_fn(|_| [rng.normal(), rng.normal()])))
        .collect();
    let calibration = Calibration::record(&net, &xs).unwrap();
    let q: Box<Int8<Separable>> = calibration.quantize(&net, RangeMethod::MinMax).unwrap();
    let input = calibration.input_params();
    let h1 = calibration.params(1, RangeMethod::MinMax).unwrap();
    let h2 = calibration.params(5, RangeMethod::MinMax).unwrap();
    let conv = &net.first;
    let want = QConv2d::<8, 8, 2, 4, 3, 3, 4, 4, 2, Same>::from_float(
        &conv.weight,
        &conv.bias,
        None,
        firmnet::quant::Clamp::Relu6,
        input,
        h1,
    )
    .unwrap();
    assert_eq!(q.first, want);
    let dw = &net.rest.rest.first;
    let bn = &net.rest.rest.rest.first;
    let fold = firmnet::quant::BnFold {
        gamma: &bn.gamma,
        beta: &bn.beta,
        mean: &bn.running_mean,
        var: &bn.running_var,
        eps: bn.eps,
    };
    let want = QDepthwiseConv2d::<4, 4, 4, 3, 3, 4, 4>::from_float(
        &dw.weight,
        &dw.bias,
        Some(fold),
        firmnet::quant::Clamp::Relu6,
        h1,
        h2,
    )
    .unwrap();
    assert_eq!(q.rest.first, want);
    // The pool keeps the depthwise output's quantization, and takes the ReLU after it.
    let pool = &q.rest.rest.first;
    assert_eq!(pool.params, h2);
    assert_eq!((pool.min as i32, pool.max), (h2.zero_point, 127));
    assert_eq!(q.rest.rest.rest.first.params, h2);
}

// ---------------------------------------------------------------------------------------
// Geometry in files

#[test]
fn a_file_of_other_geometry_is_refused_by_name() {
    // The same shapes, another stride: 3×3 windows on 3×3 maps give one pixel either way.
    type One = Net![Conv2d<3, 3, 1, 2, 3, 3, 1, 1, 1, Valid>, Flatten<1, 1, 2, 2>];
    type Two = Net![Conv2d<3, 3, 1, 2, 3, 3, 1, 1, 2, Valid>, Flatten<1, 1, 2, 2>];
    let mut one: One = Zero::ZERO;
    one.init(Init::HeNormal, &mut Rng::new(31));
    let bytes = format::save(&one).unwrap();
    let mut two: Two = Zero::ZERO;
    let err = format::load(&bytes, &mut two).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Structure);
    assert_eq!((err.layer(), err.name()), (Some(0), "stride"));
    assert!(err.to_string().contains("stride"), "{err}");
    assert_eq!(two, Two::ZERO);

    // Pools: another window, the same stride, padding and shapes.
    type Small = MaxPool2d<5, 5, 1, 2, 2, 2, 2, 2, Valid>;
    type Large = MaxPool2d<5, 5, 1, 3, 3, 2, 2, 2, Valid>;
    let bytes = format::save(&Small::DEFAULT).unwrap();
    let err = format::load(&bytes, &mut Large::default()).unwrap_err();
    assert_eq!(
        (err.code(), err.name()),
        (ErrorCode::Structure, "pool_height")
    );
    // Same and valid padding that place the windows alike are the same geometry.
    type Padded = Conv2d<4, 4, 1, 1, 2, 2, 2, 2, 2, Same>;
    type Unpadded = Conv2d<4, 4, 1, 1, 2, 2, 2, 2, 2, Valid>;
    let bytes = format::save(&Padded::ZERO).unwrap();
    let mut unpadded = Unpadded::ZERO;
    assert!(format::load(&bytes, &mut unpadded).is_ok());

    // Int8: the file of a stride-1 convolution, viewed as a stride-2 one.
    type QOne = Net![QConv2d<3, 3, 1, 2, 3, 3, 1, 1, 1, Valid>, QFlatten<1, 1, 2, 2>];
    type QTwo<S> = Net![QConv2d<3, 3, 1, 2, 3, 3, 1, 1, 2, Valid, S>, QFlatten<1, 1, 2, 2, S>];
    let p = QParams::from_range(-1.0, 1.0);
    let qone: QOne = net![
        QConv2d::from_float(
            &[[[[0.5]; 3]; 3]; 2],
            &[0.0, 0.1],
            None,
            firmnet::quant::Clamp::None,
            p,
            p
        )
        .unwrap(),
        QFlatten::new(p, p).unwrap()
    ];
    let bytes = format::save(&qone).unwrap();
    let blob = aligned(&bytes);
    let err = format::view::<QTwo<Borrowed<'_>>>(&blob.0[..bytes.len()]).unwrap_err();
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Structure, Some(0), "stride")
    );
    let mut owned: QTwo<firmnet::quant::Owned> = Zero::ZERO;
    assert_eq!(
        format::load(&bytes, &mut owned).unwrap_err().code(),
        ErrorCode::Structure
    );
    let mut back: QOne = Zero::ZERO;
    format::load(&bytes, &mut back).unwrap();
    assert_eq!(back, qone);
}

// ---------------------------------------------------------------------------------------
// Rust source

type Tiny = Net![
    Conv2d<4, 4, 1, 2, 3, 3, 4, 4>,
    Residual<Net![Conv2d<4, 4, 2, 2, 3, 3, 4, 4>, Relu<Map<4, 4, 2>>]>,
    Relu<Map<4, 4, 2>>,
    Residual<Net![Conv2d<4, 4, 2, 3, 3, 3, 2, 2, 2>], Conv2d<4, 4, 2, 3, 1, 1, 2, 2, 2>>,
    GlobalAvgPool<2, 2, 3>,
    Dense<3, 2>
];

/// A small int8 residual CNN, converted from random float values.
fn tiny() -> (Box<Int8<Tiny>>, Vec<Map<4, 4, 1>>) {
    let mut net: Tiny = Zero::ZERO;
    net.init(Init::HeNormal, &mut Rng::new(41));
    let mut rng = Rng::new(42);
    let xs: Vec<Map<4, 4, 1>> = (0..64)
        .map(|_| core::array::from_fn(|_| core::array::from_fn(|_| [rng.normal()])))
        .collect();
    let q = Calibration::record(&net, &xs)
        .unwrap()
        .quantize(&net, RangeMethod::MinMax)
        .unwrap();
    (q, xs)
}

/// The Rust source of [`tiny`], as `rust_source` writes it; the compiler builds the network
/// from it below. Run with `FIRMNET_WRITE_GOLDEN=1` to rewrite it after a deliberate change
/// of the generated text.
const TINY_SOURCE: &str = include_str!("data/qresidual.rs");
static TINY_COMPILED: Int8<Tiny> = include!("data/qresidual.rs");

#[test]
fn rust_source_of_an_int8_residual_network_compiles_back_to_it() {
    let (q, xs) = tiny();
    let source = format::rust_source(&*q).unwrap();
    if std::env::var_os("FIRMNET_WRITE_GOLDEN").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/qresidual.rs");
        std::fs::write(path, &source).unwrap();
    }
    assert_eq!(
        source, TINY_SOURCE,
        "the generated source changed; rewrite tests/data/qresidual.rs with FIRMNET_WRITE_GOLDEN=1 if that is intended"
    );
    assert_eq!(TINY_COMPILED, *q);
    let mut scratch = Scratch::<Int8<Tiny>>::ZERO;
    let mut outputs = std::collections::HashSet::new();
    for x in &xs {
        let mut xq = [[[0i8; 1]; 4]; 4];
        q.input_params().quantize_slice(
            x.as_flattened().as_flattened(),
            xq.as_flattened_mut().as_flattened_mut(),
        );
        let (mut a, mut b) = ([0i8; 2], [0i8; 2]);
        q.forward(&xq, &mut a, &mut scratch);
        TINY_COMPILED.forward(&xq, &mut b, &mut scratch);
        assert_eq!(a, b);
        outputs.insert(a);
    }
    assert!(outputs.len() > 10, "the outputs hardly vary");
}

#[test]
fn files_link_quantizations_through_residual_blocks() {
    // The add's second operand is the block's input for the identity, the shortcut's
    // output for a projection: a network whose add says otherwise is not written.
    let (q, _) = tiny();
    assert!(format::save(&*q).is_ok());
    let mut wrong = q.clone();
    wrong.rest.first.add.skip.scale *= 2.0;
    let err = format::save(&*wrong).unwrap_err();
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Link, Some(3), "skip_scale")
    );
    let mut wrong = q.clone();
    wrong.rest.rest.first.add.skip.zero_point += 1;
    let err = format::save(&*wrong).unwrap_err();
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Link, Some(7), "skip_zero_point")
    );
    // The shortcut's first layer takes the block's input, not the body's output.
    let mut wrong = q.clone();
    wrong.rest.rest.first.shortcut.input.scale *= 2.0;
    let err = format::save(&*wrong).unwrap_err();
    assert_eq!(
        (err.code(), err.layer(), err.name()),
        (ErrorCode::Link, Some(6), "input_scale")
    );
}
