//! Small networks learn non-linear toy tasks to 100 % with every optimizer.

use firmnet::prelude::*;
use firmnet::train::{TrainBuffers, classification_step};

type XorNet = Net![Dense<2, 8>, Tanh<[f32; 8]>, Dense<8, 2>];

const XOR_X: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const XOR_Y: [u16; 4] = [0, 1, 1, 0];

fn accuracy<L: Layer<Output = [f32; 2]>>(net: &L, x: &[L::Input], y: &[u16]) -> f64 {
    let mut scratch = Scratch::<L>::ZERO;
    let mut out = [0.0; 2];
    let mut correct = 0;
    for (xi, &yi) in x.iter().zip(y) {
        net.forward(xi, &mut out, &mut scratch);
        correct += usize::from(argmax(&out) == usize::from(yi));
    }
    correct as f64 / x.len() as f64
}

fn learn_xor<O: Optimizer<<XorNet as Layer>::Grad>>(mut opt: O, steps: usize) -> (f64, f32) {
    let mut net: XorNet = net![Dense::ZERO, Tanh::DEFAULT, Dense::ZERO];
    net.init(Init::GlorotUniform, &mut Rng::new(3));
    let mut buf = TrainBuffers::<XorNet, 4>::ZERO;
    let mut ctx = Context::new(4);
    let mut loss = f32::INFINITY;
    for _ in 0..steps {
        loss = classification_step(&mut net, &mut opt, &mut buf, &mut ctx, &XOR_X, &XOR_Y)
            .unwrap()
            .loss;
    }
    (accuracy(&net, &XOR_X, &XOR_Y), loss)
}

#[test]
fn xor_with_every_optimizer() {
    type G = <XorNet as Layer>::Grad;
    let runs: [(&str, (f64, f32)); 5] = [
        ("sgd", learn_xor(Sgd::<G>::new(SgdConfig::new(0.5)), 2000)),
        (
            "momentum",
            learn_xor(
                Sgd::<G>::new(SgdConfig {
                    momentum: 0.9,
                    ..SgdConfig::new(0.1)
                }),
                1000,
            ),
        ),
        (
            "nesterov",
            learn_xor(
                Sgd::<G>::new(SgdConfig {
                    momentum: 0.9,
                    nesterov: true,
                    ..SgdConfig::new(0.1)
                }),
                1000,
            ),
        ),
        (
            "adam",
            learn_xor(Adam::<G>::new(AdamConfig::with_lr(0.05)), 500),
        ),
        (
            "adamw",
            learn_xor(Adam::<G>::new(AdamConfig::adamw(0.05, 0.01)), 500),
        ),
    ];
    for (name, (acc, loss)) in runs {
        assert_eq!(acc, 1.0, "{name}: accuracy {acc}, loss {loss}");
        assert!(loss < 0.05, "{name}: final loss {loss}");
    }
}

/// Two interleaved spirals, 96 points each (Lang & Witbrock's benchmark), scaled to [−1, 1].
fn spirals() -> (Vec<[f32; 2]>, Vec<u16>) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..96 {
        let t = i as f32 / 96.0;
        let angle = t * 3.0 * core::f32::consts::PI;
        let r = 0.1 + 0.9 * t;
        for (class, sign) in [(0u16, 1.0f32), (1, -1.0)] {
            x.push([sign * r * angle.cos(), sign * r * angle.sin()]);
            y.push(class);
        }
    }
    (x, y)
}

type SpiralNet = Net![
    Dense<2, 32>,
    BatchNorm<32>,
    Relu<[f32; 32]>,
    Dense<32, 32>,
    BatchNorm<32>,
    Relu<[f32; 32]>,
    Dense<32, 2>
];

const BATCH: usize = 16;

fn learn_spirals<O: Optimizer<<SpiralNet as Layer>::Grad>>(mut opt: O, epochs: usize) -> f64 {
    let (x, y) = spirals();
    let mut net: SpiralNet = net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dense::ZERO
    ];
    net.init(Init::HeNormal, &mut Rng::new(5));
    let mut buf = Box::new(<TrainBuffers<SpiralNet, BATCH> as Zero>::ZERO);
    let mut ctx = Context::new(6);
    let mut order: Vec<usize> = (0..x.len()).collect();
    let mut shuffle = Rng::new(7);
    let (mut bx, mut by) = ([[0.0; 2]; BATCH], [0u16; BATCH]);
    for _ in 0..epochs {
        shuffle.shuffle(&mut order);
        for chunk in order.chunks_exact(BATCH) {
            for (k, &i) in chunk.iter().enumerate() {
                bx[k] = x[i];
                by[k] = y[i];
            }
            classification_step(&mut net, &mut opt, &mut buf, &mut ctx, &bx, &by).unwrap();
        }
    }
    accuracy(&net, &x, &y)
}

#[test]
fn two_spirals_with_every_optimizer() {
    type G = <SpiralNet as Layer>::Grad;
    let sgd = learn_spirals(Sgd::<G>::new(SgdConfig::new(0.1)), 400);
    let momentum = learn_spirals(
        Sgd::<G>::new(SgdConfig {
            momentum: 0.9,
            ..SgdConfig::new(0.02)
        }),
        300,
    );
    let nesterov = learn_spirals(
        Sgd::<G>::new(SgdConfig {
            momentum: 0.9,
            nesterov: true,
            ..SgdConfig::new(0.02)
        }),
        300,
    );
    let adam = learn_spirals(Adam::<G>::new(AdamConfig::with_lr(0.01)), 200);
    let adamw = learn_spirals(Adam::<G>::new(AdamConfig::adamw(0.01, 1e-3)), 200);
    for (name, acc) in [
        ("sgd", sgd),
        ("momentum", momentum),
        ("nesterov", nesterov),
        ("adam", adam),
        ("adamw", adamw),
    ] {
        assert_eq!(acc, 1.0, "{name}: training accuracy {acc}");
    }
}
