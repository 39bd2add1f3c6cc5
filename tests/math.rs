//! The error bounds stated in `firmnet::math`, measured against f64.

use firmnet::math;

/// Distance in units in the last place of `expected` (rounded to f32).
fn ulps(got: f32, expected: f64) -> f64 {
    let e = expected as f32;
    if got == e {
        return 0.0;
    }
    let ulp = f64::from(f32::from_bits(e.abs().to_bits() + 1)) - f64::from(e.abs());
    (f64::from(got) - expected).abs() / ulp
}

fn grid(lo: f32, hi: f32, n: usize) -> impl Iterator<Item = f32> {
    (0..=n).map(move |i| lo + (hi - lo) * i as f32 / n as f32)
}

#[test]
fn sqrt_is_correctly_rounded() {
    for x in grid(0.0, 1000.0, 100_000).chain([1e-30, 2.0, 1e30, f32::MAX]) {
        let r = math::sqrt(x);
        // Correct rounding: the exact root lies within half an ulp of r.
        assert!(ulps(r, f64::from(x).sqrt()) <= 0.5, "sqrt({x}) = {r}");
    }
    assert!(math::sqrt(-1.0).is_nan());
}

#[test]
fn ln_within_one_ulp() {
    for x in grid(1e-6, 100.0, 100_000).chain([f32::MIN_POSITIVE, 0.5, 1.0, 1e30]) {
        let r = math::ln(x);
        let e = f64::from(x).ln();
        assert!(
            ulps(r, e) <= 1.0 || (e.abs() < 1e-6 && (f64::from(r) - e).abs() < 1e-7),
            "ln({x})"
        );
    }
    assert_eq!(math::ln(0.0), f32::NEG_INFINITY);
}

#[test]
fn exp_tanh_sigmoid_within_stated_bounds() {
    let fast = cfg!(feature = "fast-math");
    for x in grid(-80.0, 80.0, 200_000) {
        let (e, t, s) = (
            f64::from(x).exp(),
            f64::from(x).tanh(),
            1.0 / (1.0 + (-f64::from(x)).exp()),
        );
        let (re, rt, rs) = (math::exp(x), math::tanh(x), math::sigmoid(x));
        if fast {
            assert!(
                (f64::from(re) - e).abs() <= 2.5e-3 * e,
                "exp({x}) = {re}, want {e}"
            );
            assert!((f64::from(rt) - t).abs() <= 1.1e-3, "tanh({x})");
            assert!((f64::from(rs) - s).abs() <= 6e-4, "sigmoid({x})");
        } else {
            assert!(ulps(re, e) <= 1.0, "exp({x}) = {re}, want {e}");
            assert!(ulps(rt, t) <= 2.0, "tanh({x}) = {rt}, want {t}");
            assert!(
                ulps(rs, s) <= 3.0 || (f64::from(rs) - s).abs() < 1e-37,
                "sigmoid({x}) = {rs}, want {s}"
            );
        }
        assert!((-1.0..=1.0).contains(&rt) && (0.0..=1.0).contains(&rs));
    }
    assert_eq!(math::exp(100.0), f32::INFINITY);
    assert_eq!(math::exp(-200.0), 0.0);
    assert_eq!(math::sigmoid(-200.0), 0.0);
    assert_eq!(math::sigmoid(200.0), 1.0);
    assert_eq!(math::tanh(200.0), 1.0);
}

#[test]
fn powi_matches_f64() {
    for n in 0..2000 {
        let got = math::powi(0.999, n);
        let want = f64::from(0.999f32).powi(n as i32);
        assert!(ulps(got, want) <= 1.0, "0.999^{n}: {got}, want {want}");
    }
}

#[test]
fn rng_is_seeded_and_uniform() {
    use firmnet::rng::Rng;
    let (mut a, mut b) = (Rng::new(1), Rng::new(1));
    let xs: Vec<u32> = (0..8).map(|_| a.next_u32()).collect();
    assert!(xs.iter().all(|&x| x == b.next_u32()));
    assert_ne!(Rng::new(2).next_u32(), xs[0]);
    // Buckets of `below` are uniform within 5 standard errors.
    let mut r = Rng::new(3);
    let mut counts = [0u32; 10];
    for _ in 0..100_000 {
        counts[r.below(10) as usize] += 1;
    }
    assert!(
        counts
            .iter()
            .all(|&c| (f64::from(c) - 10_000.0).abs() < 5.0 * 95.0),
        "{counts:?}"
    );
    // Normal samples: mean 0, variance 1.
    let n = 200_000;
    let s: Vec<f64> = (0..n).map(|_| f64::from(r.normal())).collect();
    let mean = s.iter().sum::<f64>() / n as f64;
    let var = s.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    assert!(
        mean.abs() < 0.01 && (var - 1.0).abs() < 0.01,
        "{mean} {var}"
    );
    // State round trip.
    let st = r.state();
    let mut r2 = Rng::from_state(st).unwrap();
    assert_eq!(r.next_u32(), r2.next_u32());
    assert!(Rng::from_state([0; 4]).is_none());
}
