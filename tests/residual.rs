//! Residual blocks: inference through the arena wherever the block sits, training against
//! inference, finite-difference gradients with identity and projection shortcuts (batch
//! normalization in the body, training and inference mode), the list of primitive layers
//! and its numbering, and weight files: round trips, and files of another structure
//! refused with a typed error.

mod common;

use common::{check_layer, fill};
use firmnet::format::{self, ErrorCode, RunState};
use firmnet::prelude::*;
use firmnet::spec::{Attr, Primitive, TensorMut};
use firmnet::train::{TrainBuffers, classification_step};

const B: usize = 4;

/// A smooth activation for the gradient checks. With `fast-math`, `Tanh` is known only to
/// within 1.1e-3, which a finite difference of step 1e-2 cannot see through (see
/// `tests/gradients.rs`); a `GaussianNoise` takes its place there.
#[cfg(not(feature = "fast-math"))]
type Squash<const N: usize> = Tanh<[f32; N]>;
#[cfg(feature = "fast-math")]
type Squash<const N: usize> = GaussianNoise<[f32; N]>;

fn squash<const N: usize>() -> Squash<N> {
    #[cfg(not(feature = "fast-math"))]
    return Tanh::DEFAULT;
    #[cfg(feature = "fast-math")]
    return GaussianNoise::new(0.1);
}

fn batch<const N: usize>(seed: u64) -> [[f32; N]; B] {
    let mut x = [[0.0; N]; B];
    fill(x.as_flattened_mut(), seed, 1.0);
    x
}

fn sample<const N: usize>(seed: u64) -> [f32; N] {
    let mut x = [0.0; N];
    fill(&mut x, seed, 1.0);
    x
}

/// `l` on `x` with an arena of its own, poisoned with NaN first: a layer that read memory
/// it had not written would show it.
fn run<L: Infer<Input: Tensor<Elem = f32>>>(l: &L, x: &L::Input) -> L::Output {
    let mut scratch = Box::new(Scratch::<L>::ZERO);
    scratch.as_mut_slice::<f32>().fill(f32::NAN);
    let mut y = L::Output::ZERO;
    l.forward(x, &mut y, &mut scratch);
    y
}

/// `body(x) + shortcut(x)`, each piece run on its own.
fn by_hand<Bd, S>(block: &Residual<Bd, S>, x: &Bd::Input) -> Bd::Output
where
    Bd: Infer<Input: Tensor<Elem = f32>>,
    S: Infer<Input = Bd::Input, Output = Bd::Output>,
{
    let mut y = run(&block.body, x);
    let s = run(&block.shortcut, x);
    for (y, s) in y.as_mut_slice().iter_mut().zip(s.as_slice()) {
        *y += s;
    }
    y
}

/// Random weights, and batch normalizations away from the identity: γ, β, the running
/// mean and a positive running variance.
fn randomize<N: Layer>(net: &mut N, seed: u64) {
    net.init(Init::GlorotNormal, &mut Rng::new(seed));
    for t in 0..N::TENSORS {
        match N::info(t).kind {
            ParamKind::Scale => fill(net.tensor_mut(t), seed + t as u64, 0.3),
            ParamKind::Shift | ParamKind::Bias => fill(net.tensor_mut(t), seed + t as u64, 0.2),
            _ => {}
        }
    }
    for i in 0..N::LAYERS {
        let layer = net.layer_mut(i).unwrap();
        for t in 0..layer.spec().tensors.len() {
            let kind = layer.spec().tensors[t].kind;
            if let Some(TensorMut::F32(d)) = layer.tensor_mut(t) {
                match kind {
                    ParamKind::RunningMean => fill(d, seed + 100 + i as u64, 0.5),
                    ParamKind::RunningVar => {
                        fill(d, seed + 200 + i as u64, 0.5);
                        d.iter_mut().for_each(|v| *v = 0.5 + v.abs());
                    }
                    _ => {}
                }
            }
        }
    }
    for t in 0..N::TENSORS {
        if N::info(t).kind == ParamKind::Scale {
            net.tensor_mut(t).iter_mut().for_each(|v| *v += 1.0);
        }
    }
}

type Body8 = Net![Dense<8, 8>, Relu<[f32; 8]>, Dense<8, 8>];
type Block8 = Residual<Body8>;
type Proj = Residual<Net![Dense<8, 5>, Tanh<[f32; 5]>, Dense<5, 5>], Dense<8, 5>>;

fn block8(seed: u64) -> Block8 {
    let mut b = Block8::ZERO;
    randomize(&mut b, seed);
    b
}

fn proj(seed: u64) -> Proj {
    let mut b = Proj::ZERO;
    randomize(&mut b, seed);
    b
}

fn dense<const I: usize, const O: usize>(seed: u64) -> Dense<I, O> {
    let mut d = Dense::ZERO;
    randomize(&mut d, seed);
    d
}

#[test]
fn forward_is_body_plus_shortcut() {
    let block = block8(1);
    for seed in 0..5 {
        let x = sample::<8>(10 + seed);
        assert_eq!(run(&block, &x), by_hand(&block, &x));
        let mut want = run(&block.body, &x);
        for (w, x) in want.iter_mut().zip(&x) {
            *w += x;
        }
        assert_eq!(run(&block, &x), want, "the identity adds the input");
    }
    let block = proj(2);
    for seed in 0..5 {
        let x = sample::<8>(20 + seed);
        let y = run(&block, &x);
        assert_eq!(y, by_hand(&block, &x));
        assert_ne!(y, run(&block.body, &x));
    }
}

#[test]
fn the_arena_gives_the_pieces_outputs_wherever_the_block_sits() {
    let x4 = sample::<4>(30);
    let x8 = sample::<8>(31);

    // Alone, first, in the middle, last.
    let block = block8(3);
    assert_eq!(run(&block, &x8), by_hand(&block, &x8));

    let first: Net![Block8, Dense<8, 3>] = net![block8(4), dense(5)];
    let want = run(&first.rest, &by_hand(&first.first, &x8));
    assert_eq!(run(&first, &x8), want);

    let middle: Net![Dense<4, 8>, Block8, Relu<[f32; 8]>, Dense<8, 3>] =
        net![dense(6), block8(7), Relu::DEFAULT, dense(8)];
    let a = run(&middle.first, &x4);
    let b = by_hand(&middle.rest.first, &a);
    let want = run(&middle.rest.rest.rest, &run(&middle.rest.rest.first, &b));
    assert_eq!(run(&middle, &x4), want);

    let last: Net![Dense<4, 8>, Block8] = net![dense(9), block8(10)];
    assert_eq!(run(&last, &x4), by_hand(&last.rest, &run(&last.first, &x4)));

    // A projection, and two blocks in a row (input and output at swapped ends).
    let p: Net![Dense<4, 8>, Proj, Dense<5, 3>] = net![dense(11), proj(12), dense(13)];
    let want = run(&p.rest.rest, &by_hand(&p.rest.first, &run(&p.first, &x4)));
    assert_eq!(run(&p, &x4), want);

    let two: Net![Dense<4, 8>, Block8, Block8, Dense<8, 3>] =
        net![dense(14), block8(15), block8(16), dense(17)];
    let a = by_hand(&two.rest.first, &run(&two.first, &x4));
    let want = run(&two.rest.rest.rest, &by_hand(&two.rest.rest.first, &a));
    assert_eq!(run(&two, &x4), want);

    // Shortcuts that are chains: two flips (output at the arena's back), and a flip then
    // an in-place layer.
    type Flip2 = Residual<Net![Dense<8, 6>, Tanh<[f32; 6]>], Net![Dense<8, 7>, Dense<7, 6>]>;
    type Flip1 = Residual<Net![Dense<8, 6>, Tanh<[f32; 6]>], Net![Dense<8, 6>, Relu<[f32; 6]>]>;
    let mut f2: Net![Dense<4, 8>, Flip2, Dense<6, 2>] = Zero::ZERO;
    randomize(&mut f2, 18);
    let want = run(
        &f2.rest.rest,
        &by_hand(&f2.rest.first, &run(&f2.first, &x4)),
    );
    assert_eq!(run(&f2, &x4), want);
    let mut f1: Net![Dense<4, 8>, Flip1, Dense<6, 2>] = Zero::ZERO;
    randomize(&mut f1, 19);
    let want = run(
        &f1.rest.rest,
        &by_hand(&f1.rest.first, &run(&f1.first, &x4)),
    );
    assert_eq!(run(&f1, &x4), want);

    // A block inside a block's body.
    type Inner = Residual<Net![Dense<8, 8>, Tanh<[f32; 8]>]>;
    type Outer = Residual<Net![Dense<8, 8>, Inner, Dense<8, 8>], Dense<8, 8>>;
    let mut nested: Net![Dense<4, 8>, Outer, Dense<8, 3>] = Zero::ZERO;
    randomize(&mut nested, 20);
    let outer = &nested.rest.first;
    let a = run(&nested.first, &x4);
    let inner = by_hand(&outer.body.rest.first, &run(&outer.body.first, &a));
    let mut b = run(&outer.body.rest.rest, &inner);
    for (b, s) in b.iter_mut().zip(run(&outer.shortcut, &a)) {
        *b += s;
    }
    assert_eq!(run(&nested, &x4), run(&nested.rest.rest, &b));

    // Feature maps, with a body of in-place layers between in-place layers.
    type Map = [[f32; 3]; 2];
    type MapBlock = Residual<Net![Tanh<Map>, Relu<Map>]>;
    let maps: Net![Relu<Map>, MapBlock, Tanh<Map>] = Zero::ZERO;
    let x: Map = [[0.5, -1.0, 2.0], [-0.25, 3.0, 0.0]];
    let a = run(&maps.first, &x);
    let want = run(&maps.rest.rest, &by_hand(&maps.rest.first, &a));
    assert_eq!(run(&maps, &x), want);
    assert_eq!(
        by_hand(&maps.rest.first, &x)[0][1],
        -1.0,
        "relu(tanh(-1)) + (-1)"
    );
}

#[test]
fn scratch_sizes_are_as_documented() {
    const F: usize = size_of::<f32>();
    type Model = Net![Dense<4, 8>, Block8, Relu<[f32; 8]>, Dense<8, 3>];
    // The block's input and output, and the body's hidden activation.
    assert_eq!(size_of::<Scratch<Model>>(), 3 * 8 * F);
    // Alone, the block's input and output are the caller's: the body's hidden activation,
    // which the identity's copy shares.
    assert_eq!(size_of::<Scratch<Block8>>(), 8 * F);
    // A body of one layer has no room of its own: the identity's copy costs |Y|.
    type One = Residual<Dense<8, 8>>;
    assert_eq!(size_of::<Scratch<One>>(), 8 * F);
    assert_eq!(
        size_of::<Scratch<Net![Dense<4, 8>, One, Dense<8, 3>]>>(),
        3 * 8 * F
    );
    // The projection's output fits in the body's hidden activation (5 floats).
    assert_eq!(size_of::<Scratch<Proj>>(), 5 * F);
    assert_eq!(
        size_of::<Scratch<Net![Dense<4, 8>, Proj, Dense<5, 3>]>>(),
        (8 + 5 + 5) * F
    );
}

type BnBody = Net![
    Dense<8, 6>,
    BatchNorm<6>,
    Relu<[f32; 6]>,
    Dropout<[f32; 6]>,
    Dense<6, 6>,
    BatchNorm<6>
];
type BnNet = Net![
    Dense<4, 8>,
    Residual<BnBody, Net![Dense<8, 6>, BatchNorm<6>]>,
    Relu<[f32; 6]>,
    Dense<6, 3>
];

fn bn_net(seed: u64) -> BnNet {
    let mut net: BnNet = net![
        Dense::ZERO,
        Residual::new(
            net![
                Dense::ZERO,
                BatchNorm::DEFAULT,
                Relu::DEFAULT,
                Dropout::new(0.5),
                Dense::ZERO,
                BatchNorm::DEFAULT
            ],
            net![Dense::ZERO, BatchNorm::DEFAULT]
        ),
        Relu::DEFAULT,
        Dense::ZERO
    ];
    randomize(&mut net, seed);
    net
}

#[test]
fn training_forward_under_inference_equals_inference() {
    let mut net = bn_net(40);
    let before = net.clone();
    let x = batch::<4>(41);
    let mut y = [[0.0; 3]; B];
    let mut cache = Box::new(<<BnNet as Layer>::Cache<B> as Zero>::ZERO);
    net.forward_train(&x, &mut y, &mut cache, &mut Context::inference());
    assert_eq!(net, before, "running statistics unchanged");
    for (x, y) in x.iter().zip(&y) {
        let want = run(&net, x);
        for (a, b) in y.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{y:?} {want:?}");
        }
    }
}

#[test]
fn training_forward_is_body_plus_shortcut_on_batch_statistics() {
    let mut block = bn_net(42).rest.first;
    let (mut body, mut shortcut) = (block.body.clone(), block.shortcut.clone());
    let x = batch::<8>(43);
    let mut y = [[0.0; 6]; B];
    let mut cache = Box::new(
        <<Residual<BnBody, Net![Dense<8, 6>, BatchNorm<6>]> as Layer>::Cache<B> as Zero>::ZERO,
    );
    block.forward_train(&x, &mut y, &mut cache, &mut Context::new(44));
    // The same random stream, body first.
    let mut ctx = Context::new(44);
    let (mut yb, mut ys) = ([[0.0; 6]; B], [[0.0; 6]; B]);
    let mut cb = Box::new(<<BnBody as Layer>::Cache<B> as Zero>::ZERO);
    body.forward_train(&x, &mut yb, &mut cb, &mut ctx);
    let mut cs = <<Net![Dense<8, 6>, BatchNorm<6>] as Layer>::Cache<B> as Zero>::ZERO;
    shortcut.forward_train(&x, &mut ys, &mut cs, &mut ctx);
    for ((y, b), s) in y
        .as_flattened()
        .iter()
        .zip(yb.as_flattened())
        .zip(ys.as_flattened())
    {
        assert_eq!(*y, b + s);
    }
    assert_eq!(
        block.body, body,
        "running statistics updated as the body's own"
    );
    assert_eq!(block.shortcut, shortcut);
    assert_eq!(cache.body_out, yb);
    assert_eq!(cache.shortcut_out, ys);
}

type IdentityNet = Net![
    Dense<5, 6>,
    Residual<Net![Dense<6, 6>, Squash<6>, Dense<6, 6>]>,
    Squash<6>,
    Dense<6, 3>
];

type ProjBody = Net![Dense<6, 4>, BatchNorm<4>, Squash<4>, Dense<4, 4>, BatchNorm<4>];
type ProjNet = Net![
    Dense<5, 6>,
    Residual<ProjBody, Net![Dense<6, 4>, BatchNorm<4>]>,
    Squash<4>,
    Dense<4, 3>
];

fn proj_net(seed: u64) -> ProjNet {
    let mut net: ProjNet = net![
        Dense::ZERO,
        Residual::new(
            net![
                Dense::ZERO,
                BatchNorm::DEFAULT,
                squash(),
                Dense::ZERO,
                BatchNorm::DEFAULT
            ],
            net![Dense::ZERO, BatchNorm::DEFAULT]
        ),
        squash(),
        Dense::ZERO
    ];
    randomize(&mut net, seed);
    net
}

#[test]
fn gradients_with_an_identity_shortcut() {
    let mut net: IdentityNet = net![
        Dense::ZERO,
        Residual::new(net![Dense::ZERO, squash(), Dense::ZERO], Identity::DEFAULT),
        squash(),
        Dense::ZERO
    ];
    randomize(&mut net, 50);
    let e = check_layer(&mut net, &batch::<5>(51), 52, 1e-2);
    assert!(e < 2e-2, "worst relative error {e}");
    // The block alone: its input gradient is the body's plus the identity's.
    let mut block = net.rest.first.clone();
    let e = check_layer(&mut block, &batch::<6>(53), 54, 1e-2);
    assert!(e < 2e-2, "worst relative error {e}");
}

#[test]
fn gradients_with_a_projection_and_batch_norm_in_training() {
    let mut net = proj_net(55);
    let e = check_layer(&mut net, &batch::<5>(56), 57, 1e-2);
    assert!(e < 2e-2, "worst relative error {e}");
}

#[test]
fn gradients_with_a_projection_and_batch_norm_in_inference() {
    // `Frozen` runs the training pass under `Context::inference`: batch normalization
    // with its running statistics, the function the deployed network computes.
    let mut net = Frozen::new(proj_net(58));
    let e = check_layer(&mut net, &batch::<5>(59), 60, 1e-2);
    assert!(e < 2e-2, "worst relative error {e}");
}

#[test]
fn backward_without_input_gradient_gives_the_same_parameter_gradients() {
    let mut block = proj_net(61).rest.first;
    type Block = Residual<ProjBody, Net![Dense<6, 4>, BatchNorm<4>]>;
    let x = batch::<6>(62);
    let dy = batch::<4>(63);
    let grads = |block: &mut Block, with_dx: bool| {
        let mut y = [[0.0; 4]; B];
        let mut cache = Box::new(<<Block as Layer>::Cache<B> as Zero>::ZERO);
        let mut grad = Box::new(<<Block as Layer>::Grad as Zero>::ZERO);
        let mut dx = [[0.0; 6]; B];
        block.forward_train(&x, &mut y, &mut cache, &mut Context::new(64));
        let dx_ref = with_dx.then_some(&mut dx);
        block.backward(&x, &y, &dy, dx_ref, &mut cache, &mut grad);
        let flat: Vec<f32> = (0..Block::TENSORS)
            .flat_map(|t| grad.tensor(t).to_vec())
            .collect();
        (flat, dx)
    };
    let (with, dx) = grads(&mut block, true);
    let (without, none) = grads(&mut block, false);
    assert_eq!(with, without);
    assert!(dx.as_flattened().iter().any(|&v| v != 0.0));
    assert!(none.as_flattened().iter().all(|&v| v == 0.0));
}

#[test]
fn describe_lists_the_block_between_residual_and_add() {
    let kinds: Vec<&str> = (0..ProjNet::LAYERS)
        .map(|i| ProjNet::layer_spec(i).unwrap().kind)
        .collect();
    let squash = Squash::<4>::SPEC.kind;
    assert_eq!(
        kinds,
        [
            "dense",
            "residual",
            "dense",
            "batch_norm",
            squash,
            "dense",
            "batch_norm",
            "dense",
            "batch_norm",
            "add",
            squash,
            "dense"
        ]
    );
    assert_eq!(ProjNet::LAYERS, 12);
    assert!(ProjNet::layer_spec(12).is_none());

    let open = ProjNet::layer_spec(1).unwrap();
    assert_eq!(open.input, open.output);
    assert_eq!(open.input.dims(), [6]);
    assert!(open.tensors.is_empty());
    let attrs: Vec<_> = open.attrs.iter().map(|a| (a.name, a.exact())).collect();
    assert_eq!(
        attrs,
        [("body_layers", Some(5)), ("shortcut_layers", Some(2))]
    );
    let close = ProjNet::layer_spec(9).unwrap();
    assert_eq!(
        (close.input.dims(), close.output.dims()),
        ([4].as_slice(), [4].as_slice())
    );
    assert!(close.tensors.is_empty() && close.attrs.is_empty());

    // The values agree with the type.
    let net = proj_net(70);
    let layer = net.layer(1).unwrap();
    assert_eq!(layer.spec(), open);
    assert_eq!(layer.attr(0), Some(Attr::I32(5)));
    assert_eq!(layer.attr(1), Some(Attr::I32(2)));
    assert_eq!(layer.attr(2), None);
    assert_eq!(net.layer(9).unwrap().spec(), close);
    for i in 0..ProjNet::LAYERS {
        assert_eq!(
            net.layer(i).unwrap().spec(),
            ProjNet::layer_spec(i).unwrap()
        );
    }

    // The identity has no entry: the shortcut count is 0.
    assert_eq!(<Identity<[f32; 8]> as Describe>::LAYERS, 0);
    assert_eq!(Block8::LAYERS, 5);
    let open = Block8::layer_spec(0).unwrap();
    assert_eq!(open.attrs[0].exact(), Some(3));
    assert_eq!(open.attrs[1].exact(), Some(0));
    assert_eq!(Block8::layer_spec(4).unwrap().kind, "add");
    assert_eq!(IdentityNet::LAYERS, 1 + 5 + 2);
}

#[test]
fn parameters_are_numbered_like_the_entries() {
    // Every learned tensor of every entry, in order, is the next `Params` tensor.
    let net = proj_net(71);
    let mut t = 0;
    for i in 0..ProjNet::LAYERS {
        let spec = ProjNet::layer_spec(i).unwrap();
        for (k, s) in spec.tensors.iter().enumerate() {
            if !s.learned {
                continue;
            }
            let info = ProjNet::info(t);
            assert_eq!((info.layer, info.name, info.kind), (i, s.name, s.kind));
            assert_eq!(info.rows * info.cols, s.shape.len());
            let data = net.layer(i).unwrap().tensor(k).unwrap().f32s().unwrap();
            assert_eq!(net.tensor(t), data);
            assert_eq!(<ProjNet as Layer>::Grad::info(t), info);
            t += 1;
        }
    }
    assert_eq!(t, ProjNet::TENSORS);
    assert_eq!(ProjNet::TENSORS, 2 + (2 + 2 + 2 + 2) + (2 + 2) + 2);
}

#[test]
fn activations_are_numbered_like_the_entries() {
    type Small = Net![
        Dense<5, 6>,
        Residual<Net![Dense<6, 4>, Relu<[f32; 4]>, Dense<4, 4>], Net![Dense<6, 4>, Tanh<[f32; 4]>]>,
        Dense<4, 3>
    ];
    let mut net: Small = Zero::ZERO;
    randomize(&mut net, 72);
    let x = batch::<5>(73);
    let mut y = [[0.0; 3]; B];
    let mut cache = Box::new(<<Small as Layer>::Cache<B> as Zero>::ZERO);
    net.forward_train(&x, &mut y, &mut cache, &mut Context::inference());

    let block = &net.rest.first;
    let (body, shortcut) = (&block.body, &block.shortcut);
    let mut want: Vec<Option<Vec<f32>>> = vec![Vec::new().into(); Small::LAYERS];
    for x in &x {
        let a = run(&net.first, x);
        let b1 = run(&body.first, &a);
        let b2 = run(&body.rest.first, &b1);
        let b3 = run(&body.rest.rest, &b2);
        let s1 = run(&shortcut.first, &a);
        let s2 = run(&shortcut.rest, &s1);
        let sum = by_hand(block, &a);
        let rows: [Option<&[f32]>; 9] = [
            Some(&a),
            None, // `residual`: the block's input is entry 0's output
            Some(&b1),
            Some(&b2),
            Some(&b3),
            Some(&s1),
            Some(&s2),
            Some(&sum), // `add`: the block's output, held by the chain
            None,       // the network's output is the caller's
        ];
        for (w, row) in want.iter_mut().zip(rows) {
            match row {
                Some(r) => w.as_mut().unwrap().extend_from_slice(r),
                None => *w = None,
            }
        }
    }
    for (i, w) in want.iter().enumerate() {
        let got = Small::activation(&cache, i);
        match w {
            None => assert!(got.is_none(), "entry {i}"),
            Some(w) => {
                let got = got.unwrap_or_else(|| panic!("entry {i}"));
                assert_eq!(got.len(), w.len(), "entry {i}");
                for (a, b) in got.iter().zip(w) {
                    assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "entry {i}");
                }
            }
        }
    }
    assert!(Small::activation(&cache, Small::LAYERS).is_none());
}

#[test]
fn clone_from_copies_both_branches() {
    let source = proj_net(80);
    let mut copy: ProjNet = Zero::ZERO;
    assert_ne!(copy, source);
    copy.clone_from(&source);
    assert_eq!(copy, source);
    assert_eq!(source.clone(), source);
}

#[test]
fn weight_file_round_trip() {
    let net = bn_net(90);
    let bytes = format::save(&net).unwrap();
    assert_eq!(bytes.len(), format::len(&net).unwrap());
    let mut copy: BnNet = Zero::ZERO;
    format::load(&bytes, &mut copy).unwrap();
    assert_eq!(copy, net);
    assert_eq!(format::save(&copy).unwrap(), bytes);
    let x = sample::<4>(91);
    assert_eq!(run(&copy, &x), run(&net, &x));

    let file = format::File::parse(&bytes).unwrap();
    assert_eq!(file.layers().count(), BnNet::LAYERS);
}

#[test]
fn checkpoint_round_trip_pairs_moments_with_tensors() {
    let mut net = bn_net(92);
    let mut adam = Adam::<<BnNet as Layer>::Grad>::new(AdamConfig::DEFAULT);
    let mut buf = Box::new(TrainBuffers::<BnNet, B>::ZERO);
    let mut ctx = Context::new(93);
    let x = batch::<4>(94);
    for _ in 0..3 {
        classification_step(&mut net, &mut adam, &mut buf, &mut ctx, &x, &[0, 1, 2, 1]).unwrap();
    }
    let run_state = RunState {
        rng: ctx.rng,
        epoch: 1,
        step: 3,
    };
    let bytes = format::save_training(&net, &adam, &run_state, None, &[]).unwrap();
    let mut net2: BnNet = Zero::ZERO;
    let mut adam2 = Adam::<<BnNet as Layer>::Grad>::new(AdamConfig::DEFAULT);
    let resumed = format::load_training(&bytes, &mut net2, &mut adam2, None).unwrap();
    assert_eq!(resumed.run, run_state);
    assert_eq!(net2, net);
    assert_eq!(
        format::save_training(&net2, &adam2, &run_state, None, &[]).unwrap(),
        bytes
    );
}

type ThreeNone = Net![
    Dense<4, 8>,
    Residual<Net![Dense<8, 8>, Relu<[f32; 8]>, Dense<8, 8>]>,
    Dense<8, 3>
];
type TwoOne = Net![
    Dense<4, 8>,
    Residual<Net![Dense<8, 8>, Relu<[f32; 8]>], Dense<8, 8>>,
    Dense<8, 3>
];

#[test]
fn a_file_of_another_structure_is_refused() {
    // The same entries — dense, residual, dense, relu, dense, add, dense — divided
    // differently between body and shortcut.
    let kinds = |n: fn(usize) -> Option<&'static firmnet::spec::LayerSpec>| {
        (0..7).map(|i| n(i).unwrap().kind).collect::<Vec<_>>()
    };
    assert_eq!(kinds(ThreeNone::layer_spec), kinds(TwoOne::layer_spec));

    let mut three: ThreeNone = Zero::ZERO;
    randomize(&mut three, 100);
    let bytes = format::save(&three).unwrap();
    let mut two: TwoOne = Zero::ZERO;
    randomize(&mut two, 101);
    let before = two.clone();
    let err = format::load(&bytes, &mut two).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Structure);
    assert_eq!(err.layer(), Some(1));
    assert_eq!(err.name(), "body_layers");
    assert_eq!((err.expected(), err.found()), (2, 3));
    assert_eq!(
        err.to_string(),
        "layer 1 (attribute `body_layers`): it is 3 in the file, the network's structure has 2"
    );
    assert_eq!(two, before, "a refused file changes nothing");

    let err = format::load(&format::save(&two).unwrap(), &mut three).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Structure);
    assert_eq!((err.expected(), err.found()), (3, 2));

    // A network without the block: another number of layers, or another kind.
    let mut flat: Net![Dense<4, 8>, Dense<8, 8>, Relu<[f32; 8]>, Dense<8, 8>, Dense<8, 3>] =
        Zero::ZERO;
    let err = format::load(&bytes, &mut flat).unwrap_err();
    assert_eq!(err.code(), ErrorCode::LayerCount);
    let mut other: Net![
        Dense<4, 8>,
        Relu<[f32; 8]>,
        Dense<8, 8>,
        Relu<[f32; 8]>,
        Dense<8, 8>,
        Relu<[f32; 8]>,
        Dense<8, 3>
    ] = Zero::ZERO;
    let err = format::load(&bytes, &mut other).unwrap_err();
    assert_eq!(err.code(), ErrorCode::LayerKind);
    assert_eq!(
        err.to_string(),
        "layer 1: the file has a residual layer, the network a relu layer"
    );
}

#[test]
fn a_resealed_change_of_a_branch_count_is_refused() {
    let mut three: ThreeNone = Zero::ZERO;
    randomize(&mut three, 102);
    let mut bytes = format::save(&three).unwrap();
    // The attribute record: type, name length, value, then the name.
    let name = bytes.windows(11).position(|w| w == b"body_layers").unwrap();
    let value = name - 4;
    assert_eq!(bytes[value..value + 4], 3i32.to_le_bytes());
    bytes[value..value + 4].copy_from_slice(&2i32.to_le_bytes());
    let end = bytes.len() - 4;
    let crc = format::crc32(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
    let mut copy: ThreeNone = Zero::ZERO;
    let err = format::load(&bytes, &mut copy).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Structure);
    assert_eq!((err.layer(), err.name()), (Some(1), "body_layers"));
    assert_eq!(copy, ThreeNone::ZERO);
    // Checked the same way against a type, without loading.
    let file = format::File::parse(&bytes).unwrap();
    assert_eq!(
        file.check::<ThreeNone>(&[format::FileKind::Float])
            .unwrap_err()
            .code(),
        ErrorCode::Structure
    );
}

#[test]
fn a_residual_network_learns() {
    // Three classes by the sign pattern of a fixed projection of the input.
    type Model = Net![Dense<4, 8>, Block8, Relu<[f32; 8]>, Dense<8, 3>];
    let mut net: Model = Zero::ZERO;
    net.init(Init::HeNormal, &mut Rng::new(110));
    let mut adam = Adam::<<Model as Layer>::Grad>::new(AdamConfig {
        lr: 0.01,
        ..AdamConfig::DEFAULT
    });
    let mut buf = Box::new(TrainBuffers::<Model, 16>::ZERO);
    let mut ctx = Context::new(111);
    let mut rng = Rng::new(112);
    let label = |x: &[f32; 4]| -> u16 {
        if x[0] + x[1] > 0.5 {
            0
        } else if x[2] - x[3] > 0.0 {
            1
        } else {
            2
        }
    };
    let mut losses = Vec::new();
    for _ in 0..300 {
        let mut x = [[0.0; 4]; 16];
        x.as_flattened_mut()
            .iter_mut()
            .for_each(|v| *v = rng.normal());
        let labels = x.map(|x| label(&x));
        let stats =
            classification_step(&mut net, &mut adam, &mut buf, &mut ctx, &x, &labels).unwrap();
        losses.push(stats.loss);
    }
    let mean = |l: &[f32]| l.iter().sum::<f32>() / l.len() as f32;
    let (first, last) = (mean(&losses[..20]), mean(&losses[280..]));
    assert!(last < 0.5 * first, "loss {first} → {last}");
}

type Golden = Net![
    Dense<2, 3>,
    Residual<Net![Dense<3, 3>, BatchNorm<3>], Dense<3, 3>>,
    Residual<Net![Dense<3, 3>, Residual<Tanh<[f32; 3]>>]>,
    Dense<3, 2>
];

fn golden() -> Golden {
    let mut net: Golden = Zero::ZERO;
    randomize(&mut net, 120);
    net
}

/// The Rust source of [`golden`], as `rust_source` writes it; the compiler builds the
/// network from it below. Run with `FIRMNET_WRITE_GOLDEN=1` to rewrite it after a
/// deliberate change of the generated text.
const GOLDEN_SOURCE: &str = include_str!("data/residual_float.rs");
static GOLDEN_COMPILED: Golden = include!("data/residual_float.rs");

#[test]
fn rust_source_of_a_residual_network_compiles_back_to_it() {
    let net = golden();
    let source = format::rust_source(&net).unwrap();
    if std::env::var_os("FIRMNET_WRITE_GOLDEN").is_some() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/residual_float.rs");
        std::fs::write(path, &source).unwrap();
    }
    assert_eq!(
        source, GOLDEN_SOURCE,
        "the generated source changed; rewrite tests/data/residual_float.rs with FIRMNET_WRITE_GOLDEN=1 if that is intended"
    );
    assert!(source.contains("firmnet::layers::Residual::new(\n    firmnet::net![\n"));
    assert!(source.contains("firmnet::layers::Identity::DEFAULT"));
    assert_eq!(GOLDEN_COMPILED, net);
    let x = sample::<2>(121);
    assert_eq!(run(&GOLDEN_COMPILED, &x), run(&net, &x));
}
