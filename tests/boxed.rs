//! Large values built in place on the heap (`firmnet::boxed`): each holds exactly the value
//! it stands for, and a multi-megabyte network trains on a thread whose stack is far
//! smaller than any of its parts, in debug builds too.

use firmnet::boxed;
use firmnet::deploy::Deployed;
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::prelude::*;
use firmnet::quant::Int8;
use firmnet::train::{TrainBuffers, classification_step};

/// 1024 → 1024 → 10 with batch normalization and dropout: 4.2 MB of parameters, so its
/// gradients are as large and Adam's moments twice that.
type Wide = Net![
    Dense<1024, 1024>,
    BatchNorm<1024>,
    Relu<[f32; 1024]>,
    Dropout<[f32; 1024]>,
    Dense<1024, 10>
];

const WIDE: Wide = net![
    Dense::ZERO,
    BatchNorm::DEFAULT,
    Relu::DEFAULT,
    Dropout::new(0.25),
    Dense::ZERO
];

const BATCH: usize = 8;

/// The thread's stack: a sixteenth of the network alone.
const SMALL_STACK: usize = 256 << 10;

/// Runs `f` on a thread with a [`SMALL_STACK`], passing its panics on.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn all_zero<P: Params>(p: &P) -> bool {
    (0..P::TENSORS).all(|i| p.tensor(i).iter().all(|&v| v == 0.0))
}

/// A network, its Adam and its training buffers, each megabytes, built and trained for
/// one step on a 256 KB stack. With zero weights every logit is 0, so the loss is exactly
/// ln 10, and the only nonzero gradients are the output biases', `p − onehot` averaged
/// over the batch: Adam's first step moves each such bias by the learning rate against
/// the sign of its gradient, and nothing else.
#[test]
fn a_wide_network_trains_on_a_small_stack() {
    const {
        assert!(size_of::<Wide>() > 16 * SMALL_STACK);
        assert!(size_of::<TrainBuffers<Wide, BATCH>>() > 16 * SMALL_STACK);
        assert!(size_of::<Adam<<Wide as Layer>::Grad>>() > 32 * SMALL_STACK);
    }
    let labels: [u16; BATCH] = [0, 0, 0, 1, 1, 2, 3, 3];
    let (loss, net_was_const, buffers_were_zero, biases, weights_zero, t) =
        on_small_stack(move || {
            let mut net: Box<Wide> = firmnet::boxed!(WIDE);
            let net_was_const = *net == WIDE;
            let config = AdamConfig::with_lr(0.01);
            let mut adam = Adam::<<Wide as Layer>::Grad>::boxed(config);
            assert_eq!(adam.config, config);
            assert!(adam.t == 0 && all_zero(&adam.m) && all_zero(&adam.v));
            let mut buf: Box<TrainBuffers<Wide, BATCH>> = boxed::zero();
            let buffers_were_zero = all_zero(&buf.grad)
                && buf.out.as_flattened().iter().all(|&v| v == 0.0)
                && buf.dout.as_flattened().iter().all(|&v| v == 0.0);
            let mut x: Box<[[f32; 1024]; BATCH]> = boxed::zero();
            for (k, row) in x.iter_mut().enumerate() {
                row.iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = ((i * 7 + k * 3) % 11) as f32 / 11.0 - 0.5);
            }
            let mut ctx = Context::new(1);
            let stats = classification_step(&mut *net, &mut *adam, &mut buf, &mut ctx, &x, &labels)
                .expect("a finite step");
            let last = &net.rest.rest.rest.rest;
            let weights_zero = last.weight.as_flattened().iter().all(|&w| w == 0.0)
                && net.first.weight.as_flattened().iter().all(|&w| w == 0.0);
            (
                stats.loss,
                net_was_const,
                buffers_were_zero,
                last.bias,
                weights_zero,
                adam.t,
            )
        });
    assert!(net_was_const, "boxed! copies the constant");
    assert!(buffers_were_zero, "boxed::zero gives zero buffers");
    assert!((loss - 10f32.ln()).abs() < 1e-6, "loss {loss}, not ln 10");
    assert!(weights_zero && t == 1);
    for (c, &b) in biases.iter().enumerate() {
        let share = labels.iter().filter(|&&l| usize::from(l) == c).count() as f32;
        let grad = 0.1 - share / BATCH as f32;
        let expected = if grad.abs() < 1e-6 {
            0.0
        } else {
            -0.01 * grad.signum()
        };
        assert!(
            (b - expected).abs() < 1e-6,
            "bias {c}: {b}, expected {expected}"
        );
    }
}

/// `zero()` is `ZERO`, also where `ZERO` is not all zero bytes (batch normalization's
/// γ = 1 and running variance 1) and for the int8 and deployed forms.
#[test]
fn zero_is_the_zero_constant() {
    on_small_stack(|| {
        assert_eq!(*boxed::zero::<BatchNorm<300>>(), BatchNorm::<300>::ZERO);
        assert_eq!(*boxed::zero::<FashionMlp>(), FashionMlp::ZERO);
        assert_eq!(
            *boxed::zero::<Int8<FashionMlp>>(),
            <Int8<FashionMlp> as Zero>::ZERO
        );
        assert_eq!(
            *boxed::zero::<Deployed<FashionMlp>>(),
            <Deployed<FashionMlp> as Zero>::ZERO
        );
        assert_eq!(*boxed::zero::<[[f32; 784]; 64]>(), [[0.0; 784]; 64]);
        // A type with drop glue takes the ordinary path, with the same result.
        assert_eq!(*boxed::zero::<Option<String>>(), None);
    });
}

/// `boxed!` keeps every attribute of the constant; `clone` copies a trained network.
#[test]
fn boxed_constants_and_copies_are_exact() {
    on_small_stack(|| {
        let mut net: Box<FashionMlp> = firmnet::boxed!(FASHION_MLP);
        assert_eq!(*net, FASHION_MLP);
        assert_eq!(net.rest.rest.rest.first.rate, 0.2);
        net.init(Init::HeNormal, &mut Rng::new(4));
        net.rest.first.running_var[3] = 2.5;
        let copy = boxed::clone(&*net);
        assert_eq!(copy, net);
        assert_ne!(*copy, FASHION_MLP);
    });
}

/// The optimizers' boxed constructors are the const ones, on the heap.
#[test]
fn boxed_optimizers_are_new_ones() {
    type G = <FashionMlp as Layer>::Grad;
    on_small_stack(|| {
        let config = AdamConfig::adamw(0.02, 0.1);
        let adam = Adam::<G>::boxed(config);
        assert!(adam.config == config && adam.t == 0);
        assert!(all_zero(&adam.m) && all_zero(&adam.v));
        let config = SgdConfig {
            momentum: 0.9,
            nesterov: true,
            ..SgdConfig::new(0.1)
        };
        let sgd = Sgd::<G>::boxed(config);
        assert!(sgd.config == config && all_zero(&sgd.velocity));
    });
}
