//! The int8 twin of any network of firmnet's layers (`Int8<N>`, `host::quantize`):
//! - the type the compiler derives and the groups the conversion walks at run time are the
//!   same, layer for layer, for every rule of the table in `firmnet::quant::convert`;
//! - tanh, sigmoid, leaky ReLU and a ReLU with nothing to fuse into become tables whose
//!   every entry is the function, computed in `f64`, quantized (within the one unit that
//!   `f32` rounding can move a value lying on a rounding boundary);
//! - the int8 network computes what the float one does, within its quantization, with
//!   batch normalization folded, ReLU and ReLU6 fused and training-only layers gone.

use firmnet::host::{RangeMethod, quantize};
use firmnet::layers::{ActivityL1, Frozen, GaussianNoise, LeakyRelu, Relu6, Sigmoid, Tanh};
use firmnet::prelude::*;
use firmnet::quant::convert::{GroupKind, Step, groups};
use firmnet::quant::{Int8, QLayer, QParams};
use firmnet::spec::{TensorMut, TensorRef};

fn samples<const N: usize>(seed: u64, n: usize, scale: f32) -> Vec<[f32; N]> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| core::array::from_fn(|_| scale * rng.normal()))
        .collect()
}

/// Initializes `net` and gives every batch normalization running statistics that are not
/// the identity, so that folding them matters.
fn init<N: Layer>(net: &mut N, seed: u64) {
    net.init(Init::HeNormal, &mut Rng::new(seed));
    let mut rng = Rng::new(seed + 100);
    for i in 0..N::LAYERS {
        let layer = net.layer_mut(i).unwrap();
        let spec = layer.spec();
        if spec.kind != "batch_norm" {
            continue;
        }
        for (t, s) in spec.tensors.iter().enumerate() {
            let (lo, hi) = match s.name {
                "running_var" => (0.3, 2.0),
                "running_mean" | "beta" => (-0.5, 0.5),
                _ => (0.5, 1.5), // gamma
            };
            if let Some(TensorMut::F32(d)) = layer.tensor_mut(t) {
                for v in d {
                    *v = rng.uniform(lo, hi);
                }
            }
        }
    }
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
        Net![Dense<4, 8>, BatchNorm<8>, Relu<[f32; 8]>, Dense<8, 2>],
        ["qdense", "qdense"]
    );
    agree!(
        Net![Dense<4, 8>, Relu6<[f32; 8]>, Dropout<[f32; 8]>, GaussianNoise<[f32; 8]>, Dense<8, 2>],
        ["qdense", "qdense"]
    );
    agree!(
        Net![Dense<4, 8>, Tanh<[f32; 8]>, Dense<8, 3>, Sigmoid<[f32; 3]>],
        ["qdense", "qlut", "qdense", "qlut"]
    );
    agree!(
        Net![Dense<4, 8>, LeakyRelu<[f32; 8]>, Relu6<[f32; 8]>, ActivityL1<[f32; 8]>, Dense<8, 2>],
        ["qdense", "qlut", "qdense"]
    );
    agree!(Net![Relu<[f32; 4]>, Dense<4, 2>], ["qlut", "qdense"]);
    agree!(
        Net![Frozen<Net![Dense<4, 8>, BatchNorm<8>]>, Relu<[f32; 8]>, Dense<8, 2>],
        ["qdense", "qdense"]
    );
    agree!(Dense<4, 2>, ["qdense"]);
    // Convolutional networks (more in tests/convert_cnn.rs).
    type Map<const C: usize> = [[[f32; C]; 4]; 4];
    agree!(
        Net![
            Conv2d<4, 4, 1, 2, 3, 3, 4, 4>,
            BatchNorm2d<4, 4, 2>,
            Relu<Map<2>>,
            DepthwiseConv2d<4, 4, 2, 3, 3, 4, 4>,
            Relu6<Map<2>>,
            MaxPool2d<4, 4, 2, 2, 2, 2, 2, 2>,
            Flatten<2, 2, 2, 8>,
            Dense<8, 2>
        ],
        [
            "qconv2d",
            "qdepthwise_conv2d",
            "qmax_pool2d",
            "qflatten",
            "qdense"
        ]
    );
    agree!(
        Net![
            Conv2d<4, 4, 1, 2, 3, 3, 4, 4>,
            Residual<Net![Conv2d<4, 4, 2, 2, 3, 3, 4, 4>, Relu<Map<2>>, Dropout<Map<2>>]>,
            Relu<Map<2>>,
            GlobalAvgPool<4, 4, 2>,
            Dense<2, 2>
        ],
        [
            "qconv2d",
            "residual",
            "qconv2d",
            "qadd",
            "qglobal_avg_pool",
            "qdense"
        ]
    );
    // The step the compiler takes for each layer is public: a user's tooling can name it.
    fn takes_a_step<L: Step<P>, P>() {}
    takes_a_step::<Dense<4, 2>, firmnet::quant::convert::Idle>();
    assert_eq!(GroupKind::Table.int8_kind(), "qlut");
}

/// Table layer `i` of `net`, and its input and output quantization.
fn table<N: Describe>(net: &N, i: usize) -> ([i8; 256], QParams, QParams) {
    let layer = net.layer(i).unwrap();
    assert_eq!(layer.spec().kind, "qlut");
    let Some(TensorRef::I8(t)) = layer.tensor(0) else {
        panic!("a table layer without a table")
    };
    let bits = |a: usize| layer.attr(a).unwrap().bits();
    let q = |a: usize| QParams {
        scale: f32::from_bits(bits(a)),
        zero_point: bits(a + 1) as i32,
    };
    (t.try_into().unwrap(), q(0), q(2))
}

/// Checks every entry of a table against `f` computed in `f64`.
fn check_table(
    what: &str,
    (t, input, output): ([i8; 256], QParams, QParams),
    f: impl Fn(f64) -> f64,
) {
    let mut off = 0;
    for q in -128i32..=127 {
        let x = f64::from(input.scale) * f64::from(q - input.zero_point);
        let exact = f(x) / f64::from(output.scale) + f64::from(output.zero_point);
        let want = exact.round().clamp(-128.0, 127.0) as i32;
        let got = i32::from(t[q as i8 as u8 as usize]);
        assert!(
            (got - want).abs() <= 1,
            "{what}: entry {q}: {got}, the function quantized is {want} ({exact})"
        );
        // Off by one only where the exact value is within f32 rounding of a boundary.
        if got != want {
            assert!(
                (exact.fract().abs() - 0.5).abs() < 1e-4,
                "{what}: entry {q}: {exact}"
            );
            off += 1;
        }
    }
    assert!(off <= 2, "{what}: {off} entries off by one");
}

#[test]
fn tables_are_the_function_quantized() {
    let xs = samples::<4>(1, 256, 2.0);

    type T = Net![Dense<4, 8>, Tanh<[f32; 8]>, Dense<8, 3>];
    let mut net: T = net![Dense::ZERO, Tanh::DEFAULT, Dense::ZERO];
    init(&mut net, 2);
    let q = quantize(&net, &xs, RangeMethod::MinMax).unwrap();
    let tanh = table(&*q, 1);
    // tanh's output has TensorFlow Lite's fixed quantization: [-1, 1) in steps of 1/128.
    assert_eq!((tanh.2.scale, tanh.2.zero_point), (1.0 / 128.0, 0));
    check_table("tanh", tanh, f64::tanh);

    type S = Net![Dense<4, 8>, Sigmoid<[f32; 8]>, Dense<8, 3>];
    let mut net: S = net![Dense::ZERO, Sigmoid::DEFAULT, Dense::ZERO];
    init(&mut net, 3);
    let q = quantize(&net, &xs, RangeMethod::MinMax).unwrap();
    let sigmoid = table(&*q, 1);
    assert_eq!((sigmoid.2.scale, sigmoid.2.zero_point), (1.0 / 256.0, -128));
    check_table("sigmoid", sigmoid, |x| 1.0 / (1.0 + (-x).exp()));

    // Leaky ReLU, with a ReLU6 after it taken into the table's clamp.
    type L = Net![Dense<4, 8>, LeakyRelu<[f32; 8]>, Relu6<[f32; 8]>, Dense<8, 3>];
    let mut net: L = net![
        Dense::ZERO,
        LeakyRelu::new(0.1),
        Relu6::DEFAULT,
        Dense::ZERO
    ];
    init(&mut net, 4);
    let q = quantize(&net, &xs, RangeMethod::MinMax).unwrap();
    let leaky = table(&*q, 1);
    let slope = f64::from(0.1f32);
    check_table("leaky ReLU then ReLU6", leaky, |x| {
        (if x < 0.0 { slope * x } else { x }).clamp(0.0, 6.0)
    });

    // A ReLU at the input has no dense layer to fuse into: a table.
    type R = Net![Relu<[f32; 4]>, Dense<4, 3>];
    let mut net: R = net![Relu::DEFAULT, Dense::ZERO];
    init(&mut net, 5);
    let q = quantize(&net, &xs, RangeMethod::MinMax).unwrap();
    check_table("ReLU", table(&*q, 0), |x| x.max(0.0));
}

/// Mean absolute difference between the float network's outputs and the int8 network's
/// (dequantized), relative to the float outputs' range; and the argmax agreement.
macro_rules! track {
    ($net:ty, $value:expr, $xs:expr, $outputs:literal) => {{
        let (net, xs): (&$net, &[_]) = (&$value, &$xs);
        let q = quantize(net, xs, RangeMethod::MinMax).unwrap();
        let mut fs = firmnet::boxed::zero::<Scratch<$net>>();
        let mut qs = firmnet::boxed::zero::<Scratch<Int8<$net>>>();
        let (mut err, mut lo, mut hi, mut same) = (0.0f64, f64::MAX, f64::MIN, 0);
        for x in xs {
            let mut y = [0.0f32; $outputs];
            net.forward(x, &mut y, &mut fs);
            let xq = x.map(|v| q.input_params().quantize(v));
            let mut yq = [0i8; $outputs];
            q.forward(&xq, &mut yq, &mut qs);
            for (a, b) in y.iter().zip(&yq) {
                err += (f64::from(*a) - f64::from(q.output_params().dequantize(*b))).abs();
                lo = lo.min(f64::from(*a));
                hi = hi.max(f64::from(*a));
            }
            same += usize::from(argmax(&y) == firmnet::quant::argmax_i8(&yq));
        }
        let n = xs.len() as f64;
        (err / (n * $outputs as f64) / (hi - lo), same as f64 / n)
    }};
}

#[test]
fn int8_networks_track_their_float_networks() {
    // A sensor classifier: batch normalization folded, ReLU fused, dropout gone, a tanh table.
    type Sensor = Net![
        Dense<96, 32>,
        BatchNorm<32>,
        Relu<[f32; 32]>,
        Dropout<[f32; 32]>,
        Dense<32, 16>,
        Tanh<[f32; 16]>,
        Dense<16, 3>
    ];
    let mut net: Sensor = net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dropout::new(0.2),
        Dense::ZERO,
        Tanh::DEFAULT,
        Dense::ZERO
    ];
    init(&mut net, 6);
    let (err, agree) = track!(Sensor, net, samples::<96>(7, 500, 1.0), 3);
    eprintln!("sensor: mean error {err:.5} of the range, classes agree {agree:.3}");
    assert!(
        err < 0.02,
        "sensor: mean error {err:.4} of the output range"
    );
    assert!(
        agree > 0.95,
        "sensor: the classes agree on {:.1} %",
        100.0 * agree
    );

    // A regression 1 → 16 → 16 → 1 with tanh and ReLU6.
    type Regression =
        Net![Dense<1, 16>, Tanh<[f32; 16]>, Dense<16, 16>, Relu6<[f32; 16]>, Dense<16, 1>];
    let mut net: Regression = net![
        Dense::ZERO,
        Tanh::DEFAULT,
        Dense::ZERO,
        Relu6::DEFAULT,
        Dense::ZERO
    ];
    init(&mut net, 8);
    let (err, _) = track!(Regression, net, samples::<1>(9, 500, 2.0), 1);
    eprintln!("regression: mean error {err:.5} of the range");
    // A 1-wide input quantized to 256 levels and a tanh table between: about 1.7 %.
    assert!(
        err < 0.03,
        "regression: mean error {err:.4} of the output range"
    );
}
