//! Pooling, flattening and per-channel batch normalization: forward passes against naive
//! implementations written here from TensorFlow Lite's rules, finite-difference gradient
//! checks, batch statistics by hand, and the agreement of training and inference passes.

#![allow(clippy::needless_range_loop, clippy::type_complexity)]

mod common;

use common::{check_layer, fill};
use firmnet::layers::{BatchNormCache, MaxPoolCache, Padding, Same, Valid};
use firmnet::prelude::*;
use firmnet::spec::{Attr, LayerData, Primitive};

const B: usize = 4;

/// A windowed pool's geometry, with TensorFlow Lite's sizes and padding computed here,
/// independently of the crate.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    h: usize,
    w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    same: bool,
}

impl Geometry {
    fn out(&self) -> (usize, usize) {
        if self.same {
            (self.h.div_ceil(self.stride), self.w.div_ceil(self.stride))
        } else {
            (
                (self.h - self.kh) / self.stride + 1,
                (self.w - self.kw) / self.stride + 1,
            )
        }
    }

    /// Padding before: `max((OUT − 1)·STRIDE + K − N, 0) / 2`.
    fn pads(&self) -> (usize, usize) {
        if !self.same {
            return (0, 0);
        }
        let (oh, ow) = self.out();
        let total = |o: usize, k: usize, n: usize| ((o - 1) * self.stride + k).saturating_sub(n);
        (
            total(oh, self.kh, self.h) / 2,
            total(ow, self.kw, self.w) / 2,
        )
    }

    /// The in-bounds input positions of output `(oh, ow)`'s window, in row-major window
    /// order.
    fn window(&self, oh: usize, ow: usize) -> Vec<(usize, usize)> {
        let (pt, pl) = self.pads();
        let mut cells = Vec::new();
        for r in 0..self.kh {
            for s in 0..self.kw {
                let ih = (oh * self.stride + r) as isize - pt as isize;
                let iw = (ow * self.stride + s) as isize - pl as isize;
                if (0..self.h as isize).contains(&ih) && (0..self.w as isize).contains(&iw) {
                    cells.push((ih as usize, iw as usize));
                }
            }
        }
        cells
    }

    fn at(&self, ih: usize, iw: usize, ch: usize) -> usize {
        (ih * self.w + iw) * self.c + ch
    }

    /// Max pooling: the first largest value of each window.
    fn max_pool(&self, x: &[f32]) -> Vec<f32> {
        self.pool(x, |vals| {
            let mut best = vals[0];
            for &v in &vals[1..] {
                if v > best {
                    best = v;
                }
            }
            best
        })
    }

    /// Average pooling: the sum in window order over the in-bounds count.
    fn avg_pool(&self, x: &[f32]) -> Vec<f32> {
        self.pool(x, |vals| {
            let mut sum = 0.0f32;
            for &v in vals {
                sum += v;
            }
            sum / vals.len() as f32
        })
    }

    fn pool(&self, x: &[f32], op: impl Fn(&[f32]) -> f32) -> Vec<f32> {
        let (oh_n, ow_n) = self.out();
        let mut y = Vec::new();
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                let cells = self.window(oh, ow);
                assert!(!cells.is_empty());
                for ch in 0..self.c {
                    let vals: Vec<f32> = cells
                        .iter()
                        .map(|&(ih, iw)| x[self.at(ih, iw, ch)])
                        .collect();
                    y.push(op(&vals));
                }
            }
        }
        y
    }
}

/// Random inputs for a batch of `B` samples.
fn random<T: Tensor<Elem = f32>, const B: usize>(seed: u64) -> Box<[T; B]> {
    let mut x: Box<[T; B]> = Box::new(Zero::ZERO);
    fill(T::batch_slice_mut(&mut x), seed, 1.0);
    x
}

/// Inputs whose values are all different, at least 0.05 apart: a finite difference of
/// step 0.01 never changes which value of a window is the largest.
fn distinct<T: Tensor<Elem = f32>, const B: usize>(seed: u64) -> Box<[T; B]> {
    let mut x: Box<[T; B]> = Box::new(Zero::ZERO);
    let flat = T::batch_slice_mut(&mut x);
    let n = flat.len();
    for (i, v) in flat.iter_mut().enumerate() {
        *v = (i as f32 - n as f32 / 2.0) * 0.05;
    }
    Rng::new(seed).shuffle(flat);
    x
}

/// The attributes of a windowed pool as its layer data reports them.
fn pool_attrs(layer: &dyn LayerData) -> Vec<i32> {
    (0..layer.spec().attrs.len())
        .map(|i| layer.attr(i).and_then(Attr::i32).unwrap())
        .collect()
}

/// Runs a windowed pool (`max` or average) on random batches and checks: the spec, its
/// attributes against `g`, inference against the naive pool bit for bit, and the training
/// pass against inference.
fn check_pool<L, const H: usize, const W: usize, const C: usize>(g: Geometry, max: bool, seed: u64)
where
    L: Layer<Input = [[[f32; C]; W]; H]> + Primitive + Zero,
    [[[f32; C]; W]; H]: Tensor<Elem = f32>,
{
    let layer = L::ZERO;
    let (oh, ow) = g.out();
    let (pt, pl) = g.pads();
    let spec = L::SPEC;
    assert_eq!(spec.kind, if max { "max_pool2d" } else { "avg_pool2d" });
    assert_eq!(spec.input.dims(), [g.h, g.w, g.c]);
    assert_eq!(spec.output.dims(), [oh, ow, g.c]);
    assert_eq!(L::Output::LEN, oh * ow * g.c);
    let names: Vec<&str> = spec.attrs.iter().map(|a| a.name).collect();
    assert_eq!(
        names,
        ["stride", "pad_top", "pad_left", "pool_height", "pool_width"]
    );
    assert_eq!(
        pool_attrs(&layer),
        [g.stride, pt, pl, g.kh, g.kw].map(|v| v as i32),
        "{g:?}"
    );
    let x = random::<L::Input, 3>(seed);
    let mut y: Box<[L::Output; 3]> = Box::new(Zero::ZERO);
    for (xb, yb) in x.iter().zip(y.iter_mut()) {
        layer.forward_with(xb, yb, &mut []);
        let want = if max {
            g.max_pool(Tensor::as_slice(xb))
        } else {
            g.avg_pool(Tensor::as_slice(xb))
        };
        let got = yb.as_slice();
        assert_eq!(got.len(), want.len());
        for (k, (a, b)) in got.iter().zip(&want).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{g:?} output {k}: {a} vs {b}");
        }
    }
    let mut yt: Box<[L::Output; 3]> = Box::new(Zero::ZERO);
    let mut cache: Box<L::Cache<3>> = Box::new(Zero::ZERO);
    let mut layer = L::ZERO;
    layer.forward_train(&x, &mut yt, &mut cache, &mut Context::new(1));
    assert_eq!(
        L::Output::batch_slice(&yt),
        L::Output::batch_slice(&y),
        "training forward"
    );
}

macro_rules! pool_case {
    ($name:ident, $ty:ident, $max:expr, $h:literal, $w:literal, $c:literal, $kh:literal, $kw:literal,
     $oh:literal, $ow:literal, $s:literal, $p:ident, $seed:literal) => {
        #[test]
        fn $name() {
            let g = Geometry {
                h: $h,
                w: $w,
                c: $c,
                kh: $kh,
                kw: $kw,
                stride: $s,
                same: $p::SAME,
            };
            assert_eq!(g.out(), ($oh, $ow));
            check_pool::<$ty<$h, $w, $c, $kh, $kw, $oh, $ow, $s, $p>, $h, $w, $c>(g, $max, $seed);
        }
    };
}

pool_case!(
    max_2x2_stride2_valid_7x7x3,
    MaxPool2d,
    true,
    7,
    7,
    3,
    2,
    2,
    3,
    3,
    2,
    Valid,
    1
);
pool_case!(
    max_2x2_stride2_same_7x7x3,
    MaxPool2d,
    true,
    7,
    7,
    3,
    2,
    2,
    4,
    4,
    2,
    Same,
    2
);
pool_case!(
    max_3x3_stride1_same_5x6x1,
    MaxPool2d,
    true,
    5,
    6,
    1,
    3,
    3,
    5,
    6,
    1,
    Same,
    3
);
pool_case!(
    max_3x3_stride2_same_5x6x2,
    MaxPool2d,
    true,
    5,
    6,
    2,
    3,
    3,
    3,
    3,
    2,
    Same,
    4
);
pool_case!(
    max_3x2_stride2_valid_6x5x3,
    MaxPool2d,
    true,
    6,
    5,
    3,
    3,
    2,
    2,
    2,
    2,
    Valid,
    5
);
pool_case!(
    max_1x1_stride3_same_8x7x1,
    MaxPool2d,
    true,
    8,
    7,
    1,
    1,
    1,
    3,
    3,
    3,
    Same,
    6
);
pool_case!(
    max_window_wider_than_input_same,
    MaxPool2d,
    true,
    2,
    3,
    2,
    4,
    5,
    1,
    2,
    2,
    Same,
    7
);
pool_case!(
    avg_3x3_stride2_same_5x6x2,
    AvgPool2d,
    false,
    5,
    6,
    2,
    3,
    3,
    3,
    3,
    2,
    Same,
    8
);
pool_case!(
    avg_2x2_stride2_valid_7x7x3,
    AvgPool2d,
    false,
    7,
    7,
    3,
    2,
    2,
    3,
    3,
    2,
    Valid,
    9
);
pool_case!(
    avg_2x2_stride2_same_7x7x3,
    AvgPool2d,
    false,
    7,
    7,
    3,
    2,
    2,
    4,
    4,
    2,
    Same,
    10
);
pool_case!(
    avg_3x3_stride1_same_5x5x1,
    AvgPool2d,
    false,
    5,
    5,
    1,
    3,
    3,
    5,
    5,
    1,
    Same,
    11
);
pool_case!(
    avg_2x3_stride1_valid_4x5x3,
    AvgPool2d,
    false,
    4,
    5,
    3,
    2,
    3,
    3,
    3,
    1,
    Valid,
    12
);
pool_case!(
    avg_window_wider_than_input_same,
    AvgPool2d,
    false,
    2,
    3,
    2,
    4,
    5,
    1,
    2,
    2,
    Same,
    13
);

#[test]
fn avg_pool_same_divides_by_the_in_bounds_count() {
    // All ones: every output is exactly 1 however many of its window's positions are
    // out of bounds (a count of KH·KW would give 4/9, 6/9 at the border).
    let pool = AvgPool2d::<5, 6, 2, 3, 3, 3, 3, 2, Same>::DEFAULT;
    let mut y = [[[0.0; 2]; 3]; 3];
    pool.forward_with(&[[[1.0; 2]; 6]; 5], &mut y, &mut []);
    assert_eq!(y, [[[1.0; 2]; 3]; 3]);
    // One value: 9 at (0, 0) alone. Window (0, 0) is rows −1..2, columns 0..3 (padding
    // before: 1 row, 0 columns), of which 2·3 = 6 in bounds.
    let mut x = [[[0.0; 2]; 6]; 5];
    x[0][0] = [9.0, -6.0];
    pool.forward_with(&x, &mut y, &mut []);
    assert_eq!(y[0][0], [1.5, -1.0]);
    assert_eq!(y[0][1], [0.0, 0.0]);
}

#[test]
fn max_pool_ties_go_to_the_first_in_window_order() {
    // Equal values everywhere: each window's gradient goes to its first in-bounds
    // position, top row first, left to right.
    let g = Geometry {
        h: 5,
        w: 5,
        c: 2,
        kh: 3,
        kw: 3,
        stride: 2,
        same: true,
    };
    let mut pool = MaxPool2d::<5, 5, 2, 3, 3, 3, 3, 2, Same>::DEFAULT;
    let x = [[[[0.5; 2]; 5]; 5]; 1];
    let mut y = [[[[0.0; 2]; 3]; 3]; 1];
    let mut cache = MaxPoolCache::ZERO;
    pool.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
    let mut dy = [[[[0.0; 2]; 3]; 3]; 1];
    let mut want = [[[[0.0f32; 2]; 5]; 5]; 1];
    for oh in 0..3 {
        for ow in 0..3 {
            let g_out = (oh * 3 + ow + 1) as f32;
            dy[0][oh][ow] = [g_out, -g_out];
            let (ih, iw) = g.window(oh, ow)[0];
            want[0][ih][iw][0] += g_out;
            want[0][ih][iw][1] -= g_out;
        }
    }
    let mut dx = [[[[9.0; 2]; 5]; 5]; 1];
    pool.backward(&x, &y, &dy, Some(&mut dx), &mut cache, &mut ());
    assert_eq!(dx, want);
    // The winner's index within its window: window (0, 0) starts one row above and one
    // column left of the input (padding before: (3 − 1)·2 + 3 − 5 = 2 in all, 1 before),
    // so its first in-bounds position is window position (1, 1) = 1·3 + 1.
    assert_eq!(cache.argmax[0][0][0], [4, 4]);
    assert_eq!(cache.argmax[0][1][1], [0, 0]);
}

#[test]
fn max_pool_gradient_goes_to_the_maximum_and_overlaps_add() {
    // 1×4 map, windows of 3 with stride 1 (Valid): windows 0..3 and 1..4 share the
    // maximum 5 at position 2, which receives both output gradients.
    let mut pool = MaxPool2d::<1, 4, 1, 1, 3, 1, 2, 1>::DEFAULT;
    let x = [[[[1.0], [2.0], [5.0], [3.0]]]];
    let mut y = [[[[0.0]; 2]; 1]; 1];
    let mut cache = MaxPoolCache::ZERO;
    pool.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
    assert_eq!(y, [[[[5.0], [5.0]]]]);
    let mut dx = [[[[0.0]; 4]; 1]; 1];
    pool.backward(
        &x,
        &y,
        &[[[[0.25], [0.5]]]],
        Some(&mut dx),
        &mut cache,
        &mut (),
    );
    assert_eq!(dx, [[[[0.0], [0.0], [0.75], [0.0]]]]);
}

#[test]
fn max_pool_passes_nan_on() {
    let pool = MaxPool2d::<2, 2, 2, 2, 2, 1, 1, 2>::DEFAULT;
    let x = [[[1.0, f32::NAN], [2.0, 3.0]], [[f32::NAN, 1.0], [4.0, 8.0]]];
    let mut y = [[[0.0; 2]; 1]; 1];
    pool.forward_with(&x, &mut y, &mut []);
    assert!(y[0][0][0].is_nan() && y[0][0][1].is_nan(), "{y:?}");
}

#[test]
fn global_avg_pool_against_naive() {
    fn check<const H: usize, const W: usize, const C: usize>(seed: u64) {
        let pool = GlobalAvgPool::<H, W, C>::DEFAULT;
        let x = random::<[[[f32; C]; W]; H], 2>(seed);
        let mut y = [[0.0; C]; 2];
        for (xb, yb) in x.iter().zip(&mut y) {
            pool.forward_with(xb, yb, &mut []);
            for c in 0..C {
                let mut sum = 0.0f32;
                for row in xb {
                    for px in row {
                        sum += px[c];
                    }
                }
                let want = sum / (H * W) as f32;
                assert_eq!(yb[c].to_bits(), want.to_bits(), "channel {c}");
            }
        }
        let mut yt = [[0.0; C]; 2];
        let mut layer = GlobalAvgPool::<H, W, C>::DEFAULT;
        layer.forward_train(&x, &mut yt, &mut (), &mut Context::new(0));
        assert_eq!(yt, y);
        let spec = GlobalAvgPool::<H, W, C>::SPEC;
        assert_eq!(spec.kind, "global_avg_pool");
        assert_eq!(spec.input.dims(), [H, W, C]);
        assert_eq!(spec.output.dims(), [C]);
    }
    check::<5, 5, 64>(20);
    check::<3, 4, 3>(21);
    check::<1, 1, 1>(22);
    check::<7, 2, 1>(23);
}

#[test]
fn flatten_keeps_the_order() {
    let mut flatten = Flatten::<2, 3, 2, 12>::DEFAULT;
    let mut x = [[[[0.0; 2]; 3]; 2]; 2];
    for (i, v) in x
        .as_flattened_mut()
        .as_flattened_mut()
        .as_flattened_mut()
        .iter_mut()
        .enumerate()
    {
        *v = i as f32;
    }
    let mut y = [0.0; 12];
    flatten.forward_with(&x[1], &mut y, &mut []);
    // Element (h, w, c) is element (h·W + w)·C + c.
    for h in 0..2 {
        for w in 0..3 {
            for c in 0..2 {
                assert_eq!(y[(h * 3 + w) * 2 + c], x[1][h][w][c]);
            }
        }
    }
    let mut yt = [[0.0; 12]; 2];
    flatten.forward_train(&x, &mut yt, &mut (), &mut Context::new(0));
    assert_eq!(yt[1], y);
    let mut dx = [[[[0.0; 2]; 3]; 2]; 2];
    flatten.backward(&x, &yt, &yt, Some(&mut dx), &mut (), &mut ());
    assert_eq!(dx, x);
    let spec = Flatten::<2, 3, 2, 12>::SPEC;
    assert_eq!(spec.kind, "flatten");
    assert_eq!(spec.input.dims(), [2, 3, 2]);
    assert_eq!(spec.output.dims(), [12]);
    const { assert!(<Flatten<2, 3, 2, 12> as Infer>::IN_PLACE) };
}

/// Every way the arena can place an in-place layer whose input and output types differ:
/// caller to caller, caller to arena, arena to arena and arena to caller.
#[test]
fn flatten_in_networks_through_the_arena() {
    type Map = [[[f32; 3]; 4]; 4];
    let mut x: Map = Zero::ZERO;
    fill(Tensor::as_mut_slice(&mut x), 30, 1.0);
    let mut dense = Dense::<48, 5>::ZERO;
    dense.init(Init::GlorotNormal, &mut Rng::new(31));
    let mut want_dense = [0.0; 5];
    dense.forward_with(
        x.as_flattened().as_flattened().try_into().unwrap(),
        &mut want_dense,
        &mut [],
    );
    let relu = |v: f32| v.max(0.0);

    // Caller to caller.
    let alone = Flatten::<4, 4, 3, 48>::DEFAULT;
    let mut y = [0.0; 48];
    let mut scratch = Scratch::<Flatten<4, 4, 3, 48>>::ZERO;
    alone.forward(&x, &mut y, &mut scratch);
    assert_eq!(&y[..], Tensor::as_slice(&x));
    assert_eq!(size_of::<Scratch<Flatten<4, 4, 3, 48>>>(), 0);

    // Caller to arena, then the arena to the caller.
    type First = Net![Flatten<4, 4, 3, 48>, Dense<48, 5>];
    let net: First = net![Flatten::DEFAULT, dense.clone()];
    let mut out = [0.0; 5];
    let mut scratch = Scratch::<First>::ZERO;
    net.forward(&x, &mut out, &mut scratch);
    assert_eq!(out, want_dense);
    assert_eq!(size_of::<Scratch<First>>(), 48 * 4);

    // Arena to caller.
    type Last = Net![Relu<Map>, Flatten<4, 4, 3, 48>];
    let net: Last = net![Relu::DEFAULT, Flatten::DEFAULT];
    let mut scratch = Scratch::<Last>::ZERO;
    net.forward(&x, &mut y, &mut scratch);
    for (a, &b) in y.iter().zip(Tensor::as_slice(&x)) {
        assert_eq!(*a, relu(b));
    }

    // Arena to arena, between two out-of-place layers; the flatten costs no memory.
    type Middle = Net![MaxPool2d<4, 4, 3, 2, 2, 2, 2, 2>, Flatten<2, 2, 3, 12>, Dense<12, 5>];
    let mut small = Dense::<12, 5>::ZERO;
    small.init(Init::GlorotNormal, &mut Rng::new(32));
    let net: Middle = net![MaxPool2d::DEFAULT, Flatten::DEFAULT, small.clone()];
    let mut scratch = Scratch::<Middle>::ZERO;
    net.forward(&x, &mut out, &mut scratch);
    let mut pooled = [[[0.0; 3]; 2]; 2];
    MaxPool2d::<4, 4, 3, 2, 2, 2, 2, 2>::DEFAULT.forward_with(&x, &mut pooled, &mut []);
    let mut want = [0.0; 5];
    small.forward_with(
        pooled.as_flattened().as_flattened().try_into().unwrap(),
        &mut want,
        &mut [],
    );
    assert_eq!(out, want);
    assert_eq!(size_of::<Scratch<Middle>>(), 12 * 4);
    assert_eq!(<Middle as Describe>::LAYERS, 3);
    assert_eq!(Middle::layer_spec(1).unwrap().kind, "flatten");
}

#[test]
fn pools_in_a_network_train_like_their_layers() {
    // A small convolution-free image network: its training pass on a batch equals
    // inference sample by sample, and its gradients check.
    type ImageNet = Net![
        BatchNorm2d<6, 6, 2>,
        MaxPool2d<6, 6, 2, 3, 3, 3, 3, 2, Same>,
        AvgPool2d<3, 3, 2, 2, 2, 2, 2, 1>,
        Flatten<2, 2, 2, 8>,
        Dense<8, 3>
    ];
    let mut net: ImageNet = net![
        BatchNorm2d::DEFAULT,
        MaxPool2d::DEFAULT,
        AvgPool2d::DEFAULT,
        Flatten::DEFAULT,
        Dense::ZERO
    ];
    net.init(Init::GlorotNormal, &mut Rng::new(40));
    let x = distinct::<[[[f32; 2]; 6]; 6], B>(41);
    let e = check_layer(&mut net, &x, 42, 1e-2);
    assert!(e < 2e-2, "worst relative error {e}");
    // Under the inference context the training pass is inference.
    let mut y = [[0.0; 3]; B];
    let mut cache: Box<<ImageNet as Layer>::Cache<B>> = Box::new(Zero::ZERO);
    net.forward_train(&x, &mut y, &mut cache, &mut Context::inference());
    let mut scratch = Scratch::<ImageNet>::ZERO;
    for (xb, yb) in x.iter().zip(&y) {
        let mut out = [0.0; 3];
        net.forward(xb, &mut out, &mut scratch);
        assert_eq!(&out, yb);
    }
}

// Gradient checks.

#[test]
fn max_pool_gradient_valid() {
    let mut pool = MaxPool2d::<7, 7, 3, 2, 2, 3, 3, 2, Valid>::DEFAULT;
    let e = check_layer(&mut pool, &distinct::<_, B>(50), 51, 1e-2);
    assert!(e < 1e-3, "worst relative error {e}");
}

#[test]
fn max_pool_gradient_same_overlapping() {
    let mut pool = MaxPool2d::<5, 6, 2, 3, 3, 3, 3, 2, Same>::DEFAULT;
    let e = check_layer(&mut pool, &distinct::<_, B>(52), 53, 1e-2);
    assert!(e < 1e-3, "worst relative error {e}");
}

#[test]
fn avg_pool_gradient_same() {
    let mut pool = AvgPool2d::<5, 6, 2, 3, 3, 3, 3, 2, Same>::DEFAULT;
    let e = check_layer(&mut pool, &random::<_, B>(54), 55, 1e-2);
    assert!(e < 1e-3, "worst relative error {e}");
}

#[test]
fn avg_pool_gradient_valid_stride1() {
    let mut pool = AvgPool2d::<4, 5, 3, 2, 3, 3, 3, 1, Valid>::DEFAULT;
    let e = check_layer(&mut pool, &random::<_, B>(56), 57, 1e-2);
    assert!(e < 1e-3, "worst relative error {e}");
}

#[test]
fn global_avg_pool_gradient() {
    let mut pool = GlobalAvgPool::<3, 4, 3>::DEFAULT;
    let e = check_layer(&mut pool, &random::<_, B>(58), 59, 1e-2);
    assert!(e < 1e-3, "worst relative error {e}");
}

#[test]
fn flatten_gradient() {
    let mut flatten = Flatten::<2, 3, 2, 12>::DEFAULT;
    let e = check_layer(&mut flatten, &random::<_, B>(60), 61, 1e-2);
    assert!(e < 1e-3, "worst relative error {e}");
}

#[test]
fn batch_norm_2d_gradient_in_training() {
    let mut bn = BatchNorm2d::<3, 3, 4>::DEFAULT;
    fill(&mut bn.gamma, 62, 1.0);
    fill(&mut bn.beta, 63, 1.0);
    let e = check_layer(&mut bn, &random::<_, B>(64), 65, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

#[test]
fn batch_norm_2d_gradient_many_channels() {
    // More channels than the inference pass's block of 16, an odd count.
    let mut bn = BatchNorm2d::<2, 3, 19>::DEFAULT;
    fill(&mut bn.gamma, 66, 1.0);
    fill(&mut bn.beta, 67, 1.0);
    let e = check_layer(&mut bn, &random::<_, 2>(68), 69, 1e-2);
    assert!(e < 1e-2, "worst relative error {e}");
}

// Batch normalization per channel.

#[test]
fn batch_norm_2d_statistics_by_hand() {
    let mut bn = BatchNorm2d::<1, 2, 2>::DEFAULT;
    // Channel 0 takes 1, 2 (sample 0) and 3, 4 (sample 1): mean 2.5, biased variance
    // 1.25, unbiased 5/3. Channel 1 is constant 7: mean 7, variance 0.
    let x = [[[[1.0, 7.0], [2.0, 7.0]]], [[[3.0, 7.0], [4.0, 7.0]]]];
    let mut y = [[[[0.0; 2]; 2]; 1]; 2];
    let mut cache = BatchNormCache::ZERO;
    bn.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
    assert_eq!(cache.mean, [2.5, 7.0]);
    let s = (1.25f32 + 1e-5).sqrt();
    let mut values = Vec::new();
    for (b, sample) in y.iter().enumerate() {
        for (w, px) in sample[0].iter().enumerate() {
            assert!((px[0] - (x[b][0][w][0] - 2.5) / s).abs() < 1e-6, "{px:?}");
            assert_eq!(px[1], 0.0);
            values.push(px[0]);
        }
    }
    // Normalized: zero mean, unit (biased) variance up to ε, over all four values.
    let mean: f32 = values.iter().sum::<f32>() / 4.0;
    let var: f32 = values.iter().map(|v| v * v).sum::<f32>() / 4.0;
    assert!(
        mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-4,
        "{mean} {var}"
    );
    // Running statistics 10 % of the way from (0, 1) to the batch's, the variance
    // unbiased over the n = B·H·W = 4 values.
    assert!((bn.running_mean[0] - 0.25).abs() < 1e-7);
    assert!((bn.running_mean[1] - 0.7).abs() < 1e-6);
    assert!((bn.running_var[0] - (0.9 + 0.1 * 5.0 / 3.0)).abs() < 1e-6);
    assert!((bn.running_var[1] - 0.9).abs() < 1e-6);
    // A second batch moves them on: running ← 0.9·running + 0.1·batch.
    let (m0, v0) = (bn.running_mean[0], bn.running_var[0]);
    let x2 = [[[[0.0, 7.0], [0.0, 7.0]]], [[[2.0, 7.0], [2.0, 7.0]]]];
    bn.forward_train(&x2, &mut y, &mut cache, &mut Context::new(0));
    // Mean 1, biased variance 1, unbiased 4/3.
    assert!((bn.running_mean[0] - (0.9 * m0 + 0.1)).abs() < 1e-6);
    assert!((bn.running_var[0] - (0.9 * v0 + 0.1 * 4.0 / 3.0)).abs() < 1e-6);
    // Inference normalizes with the running statistics, at every position.
    let mut out = [[[0.0; 2]; 2]; 1];
    bn.forward_with(&[[[1.0, 7.0], [3.0, 7.0]]], &mut out, &mut []);
    for (w, v) in [1.0f32, 3.0].into_iter().enumerate() {
        let expect0 = (v - bn.running_mean[0]) / (bn.running_var[0] + 1e-5).sqrt();
        let expect1 = (7.0 - bn.running_mean[1]) / (bn.running_var[1] + 1e-5).sqrt();
        assert!((out[0][w][0] - expect0).abs() < 1e-6, "{out:?}");
        assert!((out[0][w][1] - expect1).abs() < 1e-5, "{out:?}");
    }
}

/// A batch normalization in training mode written out plainly over `rows` of `c`
/// channels, in the order the crate documents (mean, then centred squares, each summed
/// row after row): returns `y`, the running statistics after the update, and `dx` for
/// `dy`.
fn naive_batch_norm(
    rows: &[Vec<f32>],
    dy: &[Vec<f32>],
    gamma: &[f32],
    beta: &[f32],
    running: (&[f32], &[f32]),
) -> (Vec<Vec<f32>>, Vec<f32>, Vec<f32>, Vec<Vec<f32>>) {
    let (n, c) = (rows.len(), gamma.len());
    let inv_n = 1.0 / n as f32;
    let mut y = vec![vec![0.0; c]; n];
    let mut dx = vec![vec![0.0; c]; n];
    let (mut rm, mut rv) = (running.0.to_vec(), running.1.to_vec());
    for j in 0..c {
        let mut mean = 0.0f32;
        for row in rows {
            mean += row[j];
        }
        mean *= inv_n;
        let mut var = 0.0f32;
        for row in rows {
            let d = row[j] - mean;
            var += d * d;
        }
        let v = var * inv_n;
        let unbiased = if n > 1 {
            n as f32 / (n - 1) as f32
        } else {
            1.0
        };
        rm[j] = 0.9 * rm[j] + 0.1 * mean;
        rv[j] = 0.9 * rv[j] + 0.1 * (v * unbiased);
        let inv_std = 1.0 / (v + 1e-5).sqrt();
        let (mut sum_dy, mut sum_dy_xhat) = (0.0f32, 0.0f32);
        for (row, dyr) in rows.iter().zip(dy) {
            let xhat = (row[j] - mean) * inv_std;
            sum_dy += dyr[j];
            sum_dy_xhat += dyr[j] * xhat;
        }
        for (i, row) in rows.iter().enumerate() {
            let xhat = (row[j] - mean) * inv_std;
            y[i][j] = gamma[j] * xhat + beta[j];
            let k = gamma[j] * inv_std;
            dx[i][j] = k * (dy[i][j] - inv_n * (sum_dy + xhat * sum_dy_xhat));
        }
    }
    (y, rm, rv, dx)
}

/// `BatchNorm2d<H, W, C>` on a batch of `B` against [`naive_batch_norm`] over its `B·H·W`
/// rows, and `BatchNorm<C>` on the same rows as a batch of `B·H·W`: the same bits, all
/// three.
fn check_against_naive<
    const H: usize,
    const W: usize,
    const C: usize,
    const B: usize,
    const R: usize,
>(
    seed: u64,
) {
    assert_eq!(R, B * H * W);
    let x = random::<[[[f32; C]; W]; H], B>(seed);
    let dy = random::<[[[f32; C]; W]; H], B>(seed + 1);
    let mut bn = BatchNorm2d::<H, W, C>::DEFAULT;
    fill(&mut bn.gamma, seed + 2, 1.0);
    fill(&mut bn.beta, seed + 3, 1.0);
    fill(&mut bn.running_mean, seed + 4, 1.0);
    bn.running_var
        .iter_mut()
        .enumerate()
        .for_each(|(j, v)| *v = 0.5 + j as f32 * 0.1);
    let rows: Vec<Vec<f32>> = x
        .iter()
        .flat_map(|s| s.as_flattened().iter().map(|r| r.to_vec()))
        .collect();
    let dy_rows: Vec<Vec<f32>> = dy
        .iter()
        .flat_map(|s| s.as_flattened().iter().map(|r| r.to_vec()))
        .collect();
    let (want_y, want_rm, want_rv, want_dx) = naive_batch_norm(
        &rows,
        &dy_rows,
        &bn.gamma,
        &bn.beta,
        (&bn.running_mean, &bn.running_var),
    );

    // The per-channel layer.
    let mut dense = BatchNorm::<C>::from_parts(
        bn.gamma,
        bn.beta,
        bn.running_mean,
        bn.running_var,
        bn.eps,
        bn.momentum,
    );
    let mut y = random::<[[[f32; C]; W]; H], B>(0);
    let mut cache = BatchNormCache::ZERO;
    let mut grad = Box::new(<BatchNorm2d<H, W, C> as Layer>::Grad::ZERO);
    let mut dx = random::<[[[f32; C]; W]; H], B>(0);
    bn.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
    bn.backward(&x, &y, &dy, Some(&mut dx), &mut cache, &mut grad);
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    let flat = |v: &[Vec<f32>]| v.concat();
    assert_eq!(
        bits(y.as_flattened().as_flattened().as_flattened()),
        bits(&flat(&want_y))
    );
    assert_eq!(
        bits(dx.as_flattened().as_flattened().as_flattened()),
        bits(&flat(&want_dx))
    );
    assert_eq!(bits(&bn.running_mean), bits(&want_rm));
    assert_eq!(bits(&bn.running_var), bits(&want_rv));

    // The same rows through `BatchNorm<C>` as a batch of `R`.
    let xr: Box<[[f32; C]; R]> = Box::new(rows_array(&rows));
    let dyr: Box<[[f32; C]; R]> = Box::new(rows_array(&dy_rows));
    let mut yr: Box<[[f32; C]; R]> = Box::new(Zero::ZERO);
    let mut dxr: Box<[[f32; C]; R]> = Box::new(Zero::ZERO);
    let mut cache_r = BatchNormCache::ZERO;
    let mut grad_r = Box::new(<BatchNorm<C> as Layer>::Grad::ZERO);
    dense.forward_train(&xr, &mut yr, &mut cache_r, &mut Context::new(0));
    dense.backward(&xr, &yr, &dyr, Some(&mut dxr), &mut cache_r, &mut grad_r);
    assert_eq!(bits(yr.as_flattened()), bits(&flat(&want_y)));
    assert_eq!(bits(dxr.as_flattened()), bits(&flat(&want_dx)));
    assert_eq!(cache_r, cache);
    assert_eq!(grad_r, grad);
    assert_eq!(bits(&dense.running_mean), bits(&bn.running_mean));
    assert_eq!(bits(&dense.running_var), bits(&bn.running_var));
}

fn rows_array<const C: usize, const R: usize>(rows: &[Vec<f32>]) -> [[f32; C]; R] {
    let mut a = [[0.0; C]; R];
    for (dst, src) in a.iter_mut().zip(rows) {
        dst.copy_from_slice(src);
    }
    a
}

#[test]
fn batch_norm_2d_equals_the_naive_definition_and_batch_norm_over_positions() {
    check_against_naive::<3, 3, 4, 4, 36>(70);
    check_against_naive::<2, 3, 19, 2, 12>(71);
    check_against_naive::<1, 1, 7, 5, 5>(72);
    check_against_naive::<1, 1, 3, 1, 1>(73);
    check_against_naive::<5, 1, 1, 3, 15>(74);
}

/// `BatchNorm2d<1, 1, C>` and `BatchNorm<C>` give the same bits in every mode: training,
/// training under the inference context, and inference.
fn check_one_by_one<const C: usize, const B: usize>(seed: u64) {
    let mut map = BatchNorm2d::<1, 1, C>::DEFAULT;
    fill(&mut map.gamma, seed, 1.0);
    fill(&mut map.beta, seed + 1, 1.0);
    fill(&mut map.running_mean, seed + 2, 1.0);
    fill(&mut map.running_var, seed + 3, 1.0);
    map.running_var.iter_mut().for_each(|v| *v = v.abs() + 0.1);
    map.momentum = 0.3;
    let mut vec = BatchNorm::<C>::from_parts(
        map.gamma,
        map.beta,
        map.running_mean,
        map.running_var,
        map.eps,
        map.momentum,
    );
    let x = random::<[f32; C], B>(seed + 4);
    let dy = random::<[f32; C], B>(seed + 5);
    let xm: [[[[f32; C]; 1]; 1]; B] = x.map(|r| [[r]]);
    let dym: [[[[f32; C]; 1]; 1]; B] = dy.map(|r| [[r]]);
    for ctx in [Context::new(1), Context::inference(), Context::new(2)] {
        let (mut yv, mut ym) = ([[0.0; C]; B], [[[[0.0; C]; 1]; 1]; B]);
        let (mut cv, mut cm) = (BatchNormCache::ZERO, BatchNormCache::ZERO);
        vec.forward_train(&x, &mut yv, &mut cv, &mut { ctx });
        map.forward_train(&xm, &mut ym, &mut cm, &mut { ctx });
        assert_eq!(
            ym.map(|s| s[0][0]).map(|r| r.map(f32::to_bits)),
            yv.map(|r| r.map(f32::to_bits))
        );
        assert_eq!(cm, cv);
        let (mut gv, mut gm) = (
            <BatchNorm<C> as Layer>::Grad::ZERO,
            <BatchNorm<C> as Layer>::Grad::ZERO,
        );
        let (mut dxv, mut dxm) = ([[0.0; C]; B], [[[[0.0; C]; 1]; 1]; B]);
        vec.backward(&x, &yv, &dy, Some(&mut dxv), &mut cv, &mut gv);
        map.backward(&xm, &ym, &dym, Some(&mut dxm), &mut cm, &mut gm);
        assert_eq!(
            dxm.map(|s| s[0][0]).map(|r| r.map(f32::to_bits)),
            dxv.map(|r| r.map(f32::to_bits))
        );
        assert_eq!(gm, gv);
        assert_eq!(
            map.running_mean.map(f32::to_bits),
            vec.running_mean.map(f32::to_bits)
        );
        assert_eq!(
            map.running_var.map(f32::to_bits),
            vec.running_var.map(f32::to_bits)
        );
    }
    for xb in x.iter() {
        let (mut yv, mut ym) = ([0.0; C], [[[0.0; C]; 1]; 1]);
        vec.forward_with(xb, &mut yv, &mut []);
        map.forward_with(&[[*xb]], &mut ym, &mut []);
        assert_eq!(ym[0][0].map(f32::to_bits), yv.map(f32::to_bits));
    }
    for j in 0..C {
        assert_eq!(map.affine(j), vec.affine(j));
    }
}

#[test]
fn batch_norm_2d_one_by_one_is_batch_norm_bit_for_bit() {
    check_one_by_one::<1, 1>(80);
    check_one_by_one::<7, 4>(81);
    check_one_by_one::<16, 3>(82);
    check_one_by_one::<33, 8>(83);
}

#[test]
fn batch_norm_2d_inference_context_is_inference() {
    let mut bn = BatchNorm2d::<3, 2, 5>::DEFAULT;
    fill(&mut bn.gamma, 90, 1.0);
    fill(&mut bn.beta, 91, 1.0);
    fill(&mut bn.running_mean, 92, 1.0);
    bn.running_var = [0.5, 1.0, 2.0, 0.25, 3.0];
    let before = bn.clone();
    let x = random::<[[[f32; 5]; 2]; 3], B>(93);
    let mut y = [[[[0.0; 5]; 2]; 3]; B];
    let mut cache = BatchNormCache::ZERO;
    bn.forward_train(&x, &mut y, &mut cache, &mut Context::inference());
    assert_eq!(bn, before, "running statistics unchanged");
    for (xb, yb) in x.iter().zip(&y) {
        let mut out = [[[0.0; 5]; 2]; 3];
        bn.forward_with(xb, &mut out, &mut []);
        assert_eq!(&out, yb);
        // In place, as a network runs it.
        let mut xy = *xb;
        bn.apply(&mut xy);
        assert_eq!(&xy, yb);
    }
    // The gradient of that function: dx = γ/√(σ² + ε) · dy, constant statistics.
    let dy = random::<[[[f32; 5]; 2]; 3], B>(94);
    let mut dx = [[[[0.0; 5]; 2]; 3]; B];
    let mut grad = <BatchNorm2d<3, 2, 5> as Layer>::Grad::ZERO;
    bn.backward(&x, &y, &dy, Some(&mut dx), &mut cache, &mut grad);
    for (dxb, dyb) in dx.iter().zip(dy.iter()) {
        for (dxr, dyr) in dxb.as_flattened().iter().zip(dyb.as_flattened()) {
            for c in 0..5 {
                let k = bn.gamma[c] / (bn.running_var[c] + bn.eps).sqrt();
                assert!((dxr[c] - k * dyr[c]).abs() <= 1e-6 * (1.0 + dxr[c].abs()));
            }
        }
    }
}

#[test]
fn batch_norm_2d_describes_itself_as_batch_norm() {
    let bn = BatchNorm2d::<4, 3, 2>::DEFAULT;
    let spec = bn.spec();
    let flat = BatchNorm::<2>::SPEC;
    assert_eq!(spec.kind, "batch_norm");
    assert_eq!(spec.input.dims(), [4, 3, 2]);
    assert_eq!(spec.output.dims(), [4, 3, 2]);
    assert_eq!(spec.tensors, flat.tensors);
    assert_eq!(spec.attrs, flat.attrs);
    assert_eq!(
        <BatchNorm2d<4, 3, 2> as Params>::info(1),
        <BatchNorm<2> as Params>::info(1)
    );
    assert_eq!(bn.ctor(), "firmnet::layers::BatchNorm2d::from_parts");
    assert_eq!(
        LayerData::tensor(&bn, 3).unwrap().f32s().unwrap(),
        [1.0, 1.0]
    );
    assert_eq!(bn.attr(0), Some(Attr::F32(1e-5)));
}

#[test]
fn pool_attributes_are_fixed_by_the_type() {
    let mut pool = MaxPool2d::<5, 6, 2, 3, 3, 3, 3, 2, Same>::DEFAULT;
    // Padding before: (3 − 1)·2 + 3 − 5 = 2 rows in all, 1 above; 2·2 + 3 − 6 = 1 column,
    // none to the left.
    assert_eq!(pool_attrs(&pool), [2, 1, 0, 3, 3]);
    assert_eq!(
        (
            MaxPool2d::<5, 6, 2, 3, 3, 3, 3, 2, Same>::PAD_TOP,
            MaxPool2d::<5, 6, 2, 3, 3, 3, 3, 2, Same>::PAD_LEFT
        ),
        (1, 0)
    );
    assert!(pool.set_attr(1, Attr::I32(1)));
    assert!(!pool.set_attr(1, Attr::I32(0)));
    assert!(!pool.set_attr(0, Attr::F32(2.0)));
    assert!(!pool.set_attr(5, Attr::I32(0)));
    assert_eq!(
        MaxPool2d::<5, 6, 2, 3, 3, 3, 3, 2, Same>::from_parts(2, 1, 0, 3, 3),
        pool
    );
    let avg = AvgPool2d::<7, 7, 3, 2, 2, 3, 3, 2>::DEFAULT;
    assert_eq!(pool_attrs(&avg), [2, 0, 0, 2, 2]);
    assert_eq!(avg.ctor(), "firmnet::layers::AvgPool2d::from_parts");
    assert!(
        std::panic::catch_unwind(|| AvgPool2d::<7, 7, 3, 2, 2, 3, 3, 2>::from_parts(2, 1, 0, 2, 2))
            .is_err()
    );
}

#[test]
fn image_layers_round_trip_through_the_weight_format() {
    type ImageNet = Net![
        BatchNorm2d<7, 7, 2>,
        MaxPool2d<7, 7, 2, 2, 2, 3, 3, 2>,
        AvgPool2d<3, 3, 2, 3, 3, 3, 3, 1, Same>,
        GlobalAvgPool<3, 3, 2>,
        Dense<2, 2>
    ];
    let mut net: ImageNet = net![
        BatchNorm2d::DEFAULT,
        MaxPool2d::DEFAULT,
        AvgPool2d::DEFAULT,
        GlobalAvgPool::DEFAULT,
        Dense::ZERO
    ];
    net.init(Init::GlorotNormal, &mut Rng::new(100));
    fill(&mut net.first.gamma, 101, 1.0);
    fill(&mut net.first.running_mean, 102, 1.0);
    let bytes = firmnet::format::save(&net).unwrap();
    let mut back: ImageNet = net![
        BatchNorm2d::DEFAULT,
        MaxPool2d::DEFAULT,
        AvgPool2d::DEFAULT,
        GlobalAvgPool::DEFAULT,
        Dense::ZERO
    ];
    firmnet::format::load(&bytes, &mut back).unwrap();
    assert_eq!(back, net);
    // As Rust source, each pool is built from its attributes.
    let source = firmnet::format::rust_source(&net).unwrap();
    assert!(
        source.contains(
            "firmnet::layers::MaxPool2d::from_parts(\n    2,\n    0,\n    0,\n    2,\n    2\n)"
        ),
        "{source}"
    );
    assert!(source.contains(
        "firmnet::layers::AvgPool2d::from_parts(\n    1,\n    1,\n    1,\n    3,\n    3\n)"
    ));
    assert!(source.contains("firmnet::layers::GlobalAvgPool::from_parts()"));
    assert!(source.contains("firmnet::layers::BatchNorm2d::from_parts("));
}

#[test]
fn max_pool_over_many_channels_equals_a_naive_scan() {
    // 19 channels (two whole 8-lane vectors and a rest), values drawn from five levels so
    // that ties are frequent, and NaNs sprinkled in: the outputs' bits and the winners
    // must be those of a plain scan of each window, first maximum (or first NaN) winning.
    const C: usize = 19;
    let g = Geometry {
        h: 6,
        w: 6,
        c: C,
        kh: 3,
        kw: 3,
        stride: 2,
        same: true,
    };
    let mut x = [[[[0.0f32; C]; 6]; 6]; 1];
    for (ih, row) in x[0].iter_mut().enumerate() {
        for (iw, px) in row.iter_mut().enumerate() {
            for (c, v) in px.iter_mut().enumerate() {
                let n = (ih * 6 + iw) * C + c;
                *v = if n % 23 == 5 {
                    f32::NAN
                } else {
                    ((n * 7919) % 5) as f32 - 2.0
                };
            }
        }
    }
    let mut pool = MaxPool2d::<6, 6, C, 3, 3, 3, 3, 2, Same>::DEFAULT;
    let mut y = [[[[0.0; C]; 3]; 3]; 1];
    let mut cache = MaxPoolCache::ZERO;
    pool.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
    let mut y_infer = [[[0.0; C]; 3]; 3];
    pool.forward_with(&x[0], &mut y_infer, &mut []);
    let (pt, pl) = g.pads();
    let mut nans = 0;
    for oh in 0..3 {
        for ow in 0..3 {
            for c in 0..C {
                let mut best: Option<(f32, usize)> = None;
                for r in 0..3 {
                    for s in 0..3 {
                        let (ih, iw) = (
                            (oh * 2 + r) as isize - pt as isize,
                            (ow * 2 + s) as isize - pl as isize,
                        );
                        if !(0..6).contains(&ih) || !(0..6).contains(&iw) {
                            continue;
                        }
                        let v = x[0][ih as usize][iw as usize][c];
                        let k = r * 3 + s;
                        best = match best {
                            None => Some((v, k)),
                            Some((b, _)) if v > b || (v.is_nan() && !b.is_nan()) => Some((v, k)),
                            keep => keep,
                        };
                    }
                }
                let (want, k) = best.unwrap();
                nans += usize::from(want.is_nan());
                let at = format!("({oh}, {ow}, {c})");
                assert_eq!(y[0][oh][ow][c].to_bits(), want.to_bits(), "{at}");
                assert_eq!(y_infer[oh][ow][c].to_bits(), want.to_bits(), "{at}");
                assert_eq!(usize::from(cache.argmax[0][oh][ow][c]), k, "{at}");
            }
        }
    }
    assert!(nans > 0 && nans < 9 * C, "{nans} NaN outputs");
}

#[test]
fn max_pool_training_pass_against_naive_with_ties_and_nans() {
    // 19 channels: a whole 16-lane vector, then 3 left (and 4 + 3 at 8 lanes). Values from
    // {−1, 0, 1, NaN}, so windows hold ties and NaNs in every order. Each output and its
    // position must be the first NaN of its window if any, else its first maximum.
    const C: usize = 19;
    let mut pool = MaxPool2d::<4, 6, C, 2, 3, 2, 2, 2>::DEFAULT;
    let values = [-1.0, 0.0, 1.0, f32::NAN];
    let mut x = [[[[0.0f32; C]; 6]; 4]; 2];
    let mut state = 7u32;
    for v in x.iter_mut().flatten().flatten().flatten() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        *v = values[(state >> 16) as usize % 4];
    }
    let mut y = [[[[0.0f32; C]; 2]; 2]; 2];
    let mut cache = MaxPoolCache::ZERO;
    pool.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
    for b in 0..2 {
        for oh in 0..2 {
            for ow in 0..2 {
                for c in 0..C {
                    let mut best = (f32::NEG_INFINITY, usize::MAX);
                    for r in 0..2 {
                        for s in 0..3 {
                            let v = x[b][oh * 2 + r][ow * 2 + s][c];
                            let k = r * 3 + s;
                            let wins = best.1 == usize::MAX
                                || (!best.0.is_nan() && (v.is_nan() || v > best.0));
                            if wins {
                                best = (v, k);
                            }
                        }
                    }
                    let got = y[b][oh][ow][c];
                    assert_eq!(got.to_bits(), best.0.to_bits(), "{b} {oh} {ow} {c}");
                    assert_eq!(
                        usize::from(cache.argmax[b][oh][ow][c]),
                        best.1,
                        "{b} {oh} {ow} {c}"
                    );
                }
            }
        }
    }
}
