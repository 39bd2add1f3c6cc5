//! The streaming window against a naive reference that copies the last `N / F` frames into
//! a fresh array at every due frame: the same frames due, the same windows and the same
//! network outputs, bit for bit, for float and int8 networks — before the window first
//! fills, at the first window, and across many wrap-arounds of the ring — for awkward
//! sizes (one-frame windows, a hop as long as the window, hops prime to the window) and
//! for frames that pass through the interrupt-to-main-loop queue in bursts.

use firmnet::host::{RangeMethod, quantize};
use firmnet::prelude::*;
use firmnet::quant::{Int8, QLayer};
use firmnet::stream::{Queue, Window};
use proptest::prelude::{ProptestConfig, any, prop_assert_eq, proptest};

/// The windows a stream of `frames` makes due, by the rule of the module docs, each copied
/// into a fresh array: `(frame number from 1, window)`.
fn reference<T: Copy + Zero, const N: usize, const F: usize>(
    frames: &[[T; F]],
    hop: usize,
) -> Vec<(usize, [T; N])> {
    let len = N / F;
    let mut due = Vec::new();
    for k in len..=frames.len() {
        if (k - len).is_multiple_of(hop) {
            let mut x = [T::ZERO; N];
            for (i, frame) in frames[k - len..k].iter().enumerate() {
                x[i * F..(i + 1) * F].copy_from_slice(frame);
            }
            due.push((k, x));
        }
    }
    due
}

/// The windows `window` hands out as `frames` are pushed one by one, with the frame number.
fn streamed<T: Copy + Zero, const N: usize, const F: usize, const HOP: usize>(
    window: &mut Window<T, N, F, HOP>,
    frames: &[[T; F]],
) -> Vec<(usize, [T; N])> {
    let mut due = Vec::new();
    for (k, frame) in frames.iter().enumerate() {
        if let Some(x) = window.push(frame) {
            due.push((k + 1, *x));
        }
    }
    due
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

/// Frames of `F` values from a seeded generator, some of them far out of a network's range.
fn random_frames<const F: usize>(n: usize, seed: u64) -> Vec<[f32; F]> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| core::array::from_fn(|_| 3.0 * rng.normal()))
        .collect()
}

/// The test network on windows of `N` values.
macro_rules! model {
    ($n:expr) => {
        Net![Dense<{ $n }, 5>, Tanh<[f32; 5]>, Dense<5, 3>]
    };
}

/// A float network on windows of `N` values and its int8 twin, calibrated on `windows`.
macro_rules! networks {
    ($n:expr, $windows:expr) => {{
        let mut net: model!($n) = net![Dense::ZERO, Tanh::DEFAULT, Dense::ZERO];
        net.init(Init::GlorotUniform, &mut Rng::new(11));
        let int8: Box<Int8<model!($n)>> =
            quantize(&net, $windows, RangeMethod::MinMax).expect("quantize the test network");
        (net, int8)
    }};
}

#[test]
fn no_window_until_full_then_every_hop() {
    let mut window = Window::<f32, 12, 3, 3>::new();
    for t in 1..=3 {
        assert!(window.push(&[t as f32; 3]).is_none(), "frame {t} of 4");
        assert!(window.latest().is_none() && !window.is_full());
    }
    // Frame 4 fills it: due, oldest frame first.
    let x = *window
        .push(&[4.0; 3])
        .expect("the window is full with frame 4");
    assert_eq!(x, [1., 1., 1., 2., 2., 2., 3., 3., 3., 4., 4., 4.]);
    // Then frames 7, 10, …; between them `latest` follows every frame.
    assert!(window.push(&[5.0; 3]).is_none());
    assert_eq!(window.latest().expect("full")[..3], [2.0; 3]);
    assert!(window.push(&[6.0; 3]).is_none());
    let x = *window.push(&[7.0; 3]).expect("due with frame 7");
    assert_eq!(x, [4., 4., 4., 5., 5., 5., 6., 6., 6., 7., 7., 7.]);
    // A reset starts over.
    window.reset();
    assert!(!window.is_full() && window.latest().is_none());
    for t in 1..=3 {
        assert!(
            window.push(&[t as f32; 3]).is_none(),
            "frame {t} after the reset"
        );
    }
    assert!(window.push(&[4.0; 3]).is_some());
}

#[test]
fn the_sensor_window_matches_the_reference_over_many_wraps() {
    // 32 frames of 3 axes, a hop of 8: 1,000 frames wrap the ring 31 times.
    const N: usize = 96;
    let frames = random_frames::<3>(1_000, 1);
    let flat: Vec<[f32; N]> = reference::<f32, N, 3>(&frames, 1)
        .into_iter()
        .map(|(_, x)| x)
        .collect();
    let (net, int8) = networks!(N, &flat[..200]);
    let mut scratch = Scratch::<model!(N)>::ZERO;
    let mut qscratch = Scratch::<Int8<model!(N)>>::ZERO;
    let params = int8.input_params();

    let want = reference::<f32, N, 3>(&frames, 8);
    assert_eq!(want.len(), (1_000 - 32) / 8 + 1);
    let (mut window, mut qwindow) = (Window::<f32, N, 3, 8>::new(), Window::<i8, N, 3, 8>::new());
    let mut due = want.iter();
    for (k, frame) in frames.iter().enumerate() {
        let (x, q) = (window.push(frame), qwindow.push_quantized(frame, params));
        let Some(x) = x else {
            assert!(q.is_none(), "frame {}: the int8 window is due alone", k + 1);
            continue;
        };
        let q = q.expect("both windows are due together");
        let (at, reference) = due.next().expect("a window more than the reference");
        assert_eq!(*at, k + 1, "due at the wrong frame");
        assert_eq!(bits(x), bits(reference), "window at frame {at}");
        let (mut y, mut want_y) = ([0.0; 3], [0.0; 3]);
        net.forward(x, &mut y, &mut scratch);
        net.forward(reference, &mut want_y, &mut scratch);
        assert_eq!(bits(&y), bits(&want_y), "float outputs at frame {at}");
        // The reference quantizes the whole copied window; the stream each frame once.
        let mut xq = [0i8; N];
        params.quantize_slice(reference, &mut xq);
        assert_eq!(q, &xq, "int8 window at frame {at}");
        let (mut yq, mut want_yq) = ([0i8; 3], [0i8; 3]);
        int8.forward(q, &mut yq, &mut qscratch);
        int8.forward(&xq, &mut want_yq, &mut qscratch);
        assert_eq!(yq, want_yq, "int8 outputs at frame {at}");
    }
    assert!(due.next().is_none(), "the stream missed a due window");
}

#[test]
fn frames_through_the_queue_in_bursts_give_the_same_windows() {
    let frames = random_frames::<3>(700, 2);
    let params = firmnet::quant::QParams::from_range(-6.0, 5.0);
    let want: Vec<[i8; 21]> = reference::<f32, 21, 3>(&frames, 5)
        .into_iter()
        .map(|(_, x)| {
            let mut q = [0i8; 21];
            params.quantize_slice(&x, &mut q);
            q
        })
        .collect();
    let mut queue = Queue::<[f32; 3], 16>::new();
    let (mut producer, mut consumer) = queue.split();
    let mut window = Window::<i8, 21, 3, 5>::new();
    let mut got = Vec::new();
    let mut rng = Rng::new(3);
    let mut rest = &frames[..];
    while !rest.is_empty() {
        // The handler adds up to 15 frames (the queue's room), then the main loop runs.
        let burst = (rng.below(15) as usize + 1).min(rest.len());
        for frame in &rest[..burst] {
            producer.enqueue(*frame).expect("room for the burst");
        }
        rest = &rest[burst..];
        let n = window.drain_quantized(&mut consumer, params, |x| got.push(*x));
        assert!(consumer.is_empty() && n <= burst);
    }
    assert_eq!(got, want);
}

/// One property test per window shape: random streams through the float and int8
/// windows against the reference, windows and network outputs bit for bit.
macro_rules! awkward {
    ($name:ident, $n:expr, $f:expr, $hop:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(24))]
            #[test]
            fn $name(len in 0usize..400, seed in any::<u64>()) {
                const N: usize = $n;
                const F: usize = $f;
                let frames = random_frames::<F>(len, seed);
                let want = reference::<f32, N, F>(&frames, $hop);
                let mut window = Window::<f32, N, F, $hop>::new();
                let got = streamed(&mut window, &frames);
                prop_assert_eq!(got.len(), want.len());
                let calibration: Vec<[f32; N]> = reference::<f32, N, F>(&random_frames::<F>(N / F + 20, 7), 1)
                    .into_iter()
                    .map(|(_, x)| x)
                    .collect();
                let (net, int8) = networks!(N, &calibration);
                let params = int8.input_params();
                let mut scratch = Scratch::<model!(N)>::ZERO;
                let mut qscratch =
                    Scratch::<Int8<model!(N)>>::ZERO;
                for ((k, x), (at, reference)) in got.iter().zip(&want) {
                    prop_assert_eq!(k, at);
                    prop_assert_eq!(bits(x), bits(reference));
                    let (mut y, mut want_y) = ([0.0; 3], [0.0; 3]);
                    net.forward(x, &mut y, &mut scratch);
                    net.forward(reference, &mut want_y, &mut scratch);
                    prop_assert_eq!(bits(&y), bits(&want_y));
                }
                let mut qwindow = Window::<i8, N, F, $hop>::new();
                let mut qgot = Vec::new();
                for frame in &frames {
                    if let Some(q) = qwindow.push_quantized(frame, params) {
                        let mut y = [0i8; 3];
                        int8.forward(q, &mut y, &mut qscratch);
                        qgot.push((*q, y));
                    }
                }
                prop_assert_eq!(qgot.len(), want.len());
                for ((q, y), (_, reference)) in qgot.iter().zip(&want) {
                    let mut xq = [0i8; N];
                    params.quantize_slice(reference, &mut xq);
                    let mut want_y = [0i8; 3];
                    int8.forward(&xq, &mut want_y, &mut qscratch);
                    prop_assert_eq!(q, &xq);
                    prop_assert_eq!(y, &want_y);
                }
            }
        }
    };
}

// One value a frame, one frame a window: due with every frame.
awkward!(one_frame_of_one_value, 1, 1, 1);
// One frame of 7 values.
awkward!(one_frame_of_seven_values, 7, 7, 1);
// A hop as long as the window: windows that do not overlap.
awkward!(hop_as_long_as_the_window, 35, 5, 7);
// 13 frames, a hop of 5: due frames fall on every slot of the ring in turn.
awkward!(hop_prime_to_the_window, 39, 3, 5);
// 63 one-value frames, a hop of 62: the window start moves back one slot a hop.
awkward!(hop_one_short_of_the_window, 63, 1, 62);
// The sensor's shape, 33 frames with a hop of 1 (every frame), frames of 2.
awkward!(every_frame, 66, 2, 1);

#[test]
fn the_window_costs_two_copies_and_its_bookkeeping() {
    // Two rings of N values, two slot counters and a flag, padded to a word.
    let words =
        |values: usize| (values + 2 * size_of::<usize>() + 1).next_multiple_of(align_of::<usize>());
    assert_eq!(size_of::<Window<i8, 96, 3, 8>>(), words(2 * 96));
    assert_eq!(size_of::<Window<f32, 96, 3, 8>>(), words(2 * 96 * 4));
}
