//! Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019).

use super::{Clip, Optimizer, decays, gradient_scale, l1_gradient, l1_settle};
use crate::error::Error;
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
use crate::kernels::simd::Simd;
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
use crate::kernels::vector::{F32x8, Isa, Kernel};
use crate::layers::{Layer, Params};
use crate::math;
use crate::tensor::Zero;

/// Settings of [`Adam`]. [`AdamConfig::DEFAULT`] holds the paper's defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Step size α (default 0.001).
    pub lr: f32,
    /// Decay rate β₁ of the first moment (default 0.9).
    pub beta1: f32,
    /// Decay rate β₂ of the second moment (default 0.999).
    pub beta2: f32,
    /// ε (default 1e-8).
    pub eps: f32,
    /// Coupled L2 penalty λ: `g += λ·θ` before the moments, for weight matrices.
    pub l2: f32,
    /// L1 penalty λ: the subgradient `λ·sign(θ)` added to the gradient of weight matrices
    /// before the moments, with exact zeros kept (see
    /// [the module docs](super#regularization)).
    pub l1: f32,
    /// Decoupled weight decay λ (AdamW): `θ ← θ − α·λ·θ` beside the Adam step, for weight
    /// matrices. Scaled by α, as in PyTorch's `AdamW`.
    pub weight_decay: f32,
    /// Gradient clipping.
    pub clip: Clip,
}

impl AdamConfig {
    /// α = 0.001, β₁ = 0.9, β₂ = 0.999, ε = 1e-8, no decay, no clipping.
    pub const DEFAULT: Self = AdamConfig {
        lr: 0.001,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        l2: 0.0,
        l1: 0.0,
        weight_decay: 0.0,
        clip: Clip::NONE,
    };

    /// The defaults with step size `lr`.
    pub const fn with_lr(lr: f32) -> Self {
        AdamConfig {
            lr,
            ..Self::DEFAULT
        }
    }

    /// AdamW: the defaults with step size `lr` and decoupled weight decay `weight_decay`.
    pub const fn adamw(lr: f32, weight_decay: f32) -> Self {
        AdamConfig {
            lr,
            weight_decay,
            ..Self::DEFAULT
        }
    }
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Adam, exactly as Algorithm 1 of Kingma & Ba, updating in place:
///
/// ```text
/// t ← t + 1
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// m̂ ← m / (1 − β₁ᵗ)
/// v̂ ← v / (1 − β₂ᵗ)
/// θ ← θ − α·m̂ / (√v̂ + ε)
/// ```
///
/// with `g` the clipped gradient (plus `λ·θ` for the coupled L2 penalty), and, for AdamW,
/// `θ ← (1 − α·λ)·θ` before the Adam step. The divisions by `1 − βᵗ` are done as
/// multiplications by their reciprocals, computed once per step.
///
/// Each parameter tensor is updated in one pass that reads `θ, g, m, v` and writes
/// `θ, m, v` and a zero gradient. On x86 and AArch64 the pass runs eight lanes at a time;
/// it uses no fused multiply-add, so it gives the same bits as the scalar pass of
/// cores without SIMD.
pub struct Adam<G> {
    /// Settings; change `lr` freely between steps.
    pub config: AdamConfig,
    /// First moment `m`, one per parameter.
    pub m: G,
    /// Second raw moment `v`, one per parameter.
    pub v: G,
    /// Time step `t`: the number of steps taken.
    pub t: u32,
}

impl<G: Params + Zero> Adam<G> {
    /// Adam with zero moments at `t = 0`. Usable in `const` context.
    pub const fn new(config: AdamConfig) -> Self {
        Adam {
            config,
            m: G::ZERO,
            v: G::ZERO,
            t: 0,
        }
    }
}

#[cfg(feature = "std")]
impl<G: Params + Zero> Adam<G> {
    /// Adam with zero moments at `t = 0`, built in place on the heap: never on the stack,
    /// in debug builds too (see [`boxed`](mod@crate::boxed)).
    pub fn boxed(config: AdamConfig) -> std::boxed::Box<Self> {
        let mut adam = crate::boxed::constant::<Fresh<G>>();
        adam.config = config;
        adam
    }
}

/// A new Adam with the default settings, as a constant [`boxed`](Adam::boxed) writes in
/// place.
#[cfg(feature = "std")]
struct Fresh<G>(core::marker::PhantomData<G>);

#[cfg(feature = "std")]
impl<G: Params + Zero> crate::boxed::Constant for Fresh<G> {
    type Value = Adam<G>;
    const VALUE: Adam<G> = Adam::new(AdamConfig::DEFAULT);
}

/// Per-step constants of the fused pass.
#[derive(Clone, Copy)]
struct Coeffs {
    scale: f32,
    clip: f32,
    l2: f32,
    l1: f32,
    keep: f32,
    b1: f32,
    one_minus_b1: f32,
    b2: f32,
    one_minus_b2: f32,
    inv_bc1: f32,
    inv_bc2: f32,
    lr: f32,
    eps: f32,
}

impl<G: Params> Optimizer<G> for Adam<G> {
    fn step<L: Layer<Grad = G>>(&mut self, net: &mut L, grad: &mut G) -> Result<(), Error> {
        let c = self.config;
        let scale = gradient_scale(grad, &c.clip)?;
        self.t = self.t.saturating_add(1);
        let base = Coeffs {
            scale,
            clip: c.clip.value.unwrap_or(f32::INFINITY),
            l2: 0.0,
            l1: 0.0,
            keep: 1.0,
            b1: c.beta1,
            one_minus_b1: 1.0 - c.beta1,
            b2: c.beta2,
            one_minus_b2: 1.0 - c.beta2,
            inv_bc1: 1.0 / (1.0 - math::powi(c.beta1, self.t)),
            inv_bc2: 1.0 / (1.0 - math::powi(c.beta2, self.t)),
            lr: c.lr,
            eps: c.eps,
        };
        for i in 0..G::TENSORS {
            if L::frozen(i) {
                grad.tensor_mut(i).fill(0.0);
                continue;
            }
            let k = if decays::<L>(i) {
                Coeffs {
                    l2: c.l2,
                    l1: c.l1,
                    keep: 1.0 - c.lr * c.weight_decay,
                    ..base
                }
            } else {
                base
            };
            update(
                net.tensor_mut(i),
                grad.tensor_mut(i),
                self.m.tensor_mut(i),
                self.v.tensor_mut(i),
                &k,
            );
        }
        Ok(())
    }
    fn learning_rate(&self) -> f32 {
        self.config.lr
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.config.lr = lr;
    }
}

/// One element of the fused pass; returns `(θ, m, v)`. `L1` says whether the L1 rules
/// apply (a compile-time switch, so the common pass carries no test for them).
#[inline(always)]
fn update_one<const L1: bool>(p: f32, g: f32, m: f32, v: f32, k: &Coeffs) -> (f32, f32, f32) {
    let mut g = (g * k.scale).max(-k.clip).min(k.clip);
    if L1 {
        g = l1_gradient(p, g, k.l1);
    }
    let g_l1 = g;
    let g = g + k.l2 * p;
    let m = k.b1 * m + k.one_minus_b1 * g;
    let v = k.b2 * v + k.one_minus_b2 * (g * g);
    let m_hat = m * k.inv_bc1;
    let v_hat = v * k.inv_bc2;
    let new = p * k.keep - k.lr * m_hat / (math::sqrt(v_hat) + k.eps);
    let new = if L1 { l1_settle(p, new, g_l1) } else { new };
    (new, m, v)
}

fn update_scalar_with<const L1: bool>(
    p: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    k: &Coeffs,
) {
    for (((p, g), m), v) in p
        .iter_mut()
        .zip(g.iter_mut())
        .zip(m.iter_mut())
        .zip(v.iter_mut())
    {
        (*p, *m, *v) = update_one::<L1>(*p, *g, *m, *v, k);
        *g = 0.0;
    }
}

#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
fn update(p: &mut [f32], g: &mut [f32], m: &mut [f32], v: &mut [f32], k: &Coeffs) {
    update_at(Simd::selected(), p, g, m, v, k);
}

/// The pass at the level of `simd` (the common pass, without L1), or with `wide` at the
/// build's target features (the pass with L1's rules).
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
fn update_at(simd: Simd, p: &mut [f32], g: &mut [f32], m: &mut [f32], v: &mut [f32], k: &Coeffs) {
    struct Pass<'a> {
        p: &'a mut [f32],
        g: &'a mut [f32],
        m: &'a mut [f32],
        v: &'a mut [f32],
        k: &'a Coeffs,
    }
    impl Kernel for Pass<'_> {
        type Output = ();
        #[inline(always)]
        fn run<I: Isa>(self, isa: I) {
            update_vector(isa, self.p, self.g, self.m, self.v, self.k);
        }
    }
    if k.l1 != 0.0 {
        update_simd::<true>(p, g, m, v, k);
    } else {
        simd.run(Pass { p, g, m, v, k });
    }
}

/// The common pass (no L1) on `isa`'s vectors: the operations of `update_one`, in its
/// order, none fused, so the bits are the scalar pass's on every level.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
#[inline(always)]
fn update_vector<I: Isa>(
    isa: I,
    p: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    k: &Coeffs,
) {
    let n = p.len() / 8 * 8;
    let (p8, pt) = p.split_at_mut(n);
    let (g8, gt) = g.split_at_mut(n);
    let (m8, mt) = m.split_at_mut(n);
    let (v8, vt) = v.split_at_mut(n);
    let s = |x: f32| isa.splat(x);
    let (scale, lo, hi, l2, keep) = (s(k.scale), s(-k.clip), s(k.clip), s(k.l2), s(k.keep));
    let (b1, ob1, b2, ob2) = (s(k.b1), s(k.one_minus_b1), s(k.b2), s(k.one_minus_b2));
    let (ibc1, ibc2, lr, eps) = (s(k.inv_bc1), s(k.inv_bc2), s(k.lr), s(k.eps));
    let chunks = p8.as_chunks_mut::<8>().0.iter_mut();
    let chunks = chunks.zip(g8.as_chunks_mut::<8>().0);
    let chunks = chunks.zip(m8.as_chunks_mut::<8>().0);
    for (((p, g), m), v) in chunks.zip(v8.as_chunks_mut::<8>().0) {
        let pv = isa.load(p);
        let gv = (isa.load(g) * scale).max(lo).min(hi);
        let gv = gv + l2 * pv;
        let mv = b1 * isa.load(m) + ob1 * gv;
        let vv = b2 * isa.load(v) + ob2 * (gv * gv);
        let m_hat = mv * ibc1;
        let v_hat = vv * ibc2;
        let new = pv * keep - lr * m_hat / (v_hat.sqrt() + eps);
        *p = new.to_array();
        *m = mv.to_array();
        *v = vv.to_array();
        *g = [0.0; 8];
    }
    update_scalar_with::<false>(pt, gt, mt, vt, k);
}

#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"))]
fn update_simd<const L1: bool>(
    p: &mut [f32],
    g: &mut [f32],
    m: &mut [f32],
    v: &mut [f32],
    k: &Coeffs,
) {
    use wide::f32x8;
    let n = p.len() / 8 * 8;
    let (p8, pt) = p.split_at_mut(n);
    let (g8, gt) = g.split_at_mut(n);
    let (m8, mt) = m.split_at_mut(n);
    let (v8, vt) = v.split_at_mut(n);
    let s = |x: f32| f32x8::splat(x);
    let (scale, lo, hi, l2, keep) = (s(k.scale), s(-k.clip), s(k.clip), s(k.l2), s(k.keep));
    let (b1, ob1, b2, ob2) = (s(k.b1), s(k.one_minus_b1), s(k.b2), s(k.one_minus_b2));
    let (ibc1, ibc2, lr, eps) = (s(k.inv_bc1), s(k.inv_bc2), s(k.lr), s(k.eps));
    let (l1, zero) = (s(k.l1), f32x8::ZERO);
    let load = |x: &[f32]| f32x8::new(x.try_into().expect("chunk of 8"));
    for (((p, g), m), v) in p8
        .chunks_exact_mut(8)
        .zip(g8.chunks_exact_mut(8))
        .zip(m8.chunks_exact_mut(8))
        .zip(v8.chunks_exact_mut(8))
    {
        let pv = load(p);
        // The same operations, in the same order, as `update_one`: identical bits.
        let mut gv = (load(g) * scale).max(lo).min(hi);
        let (pos, neg) = (pv.simd_gt(zero), pv.simd_lt(zero));
        if L1 {
            let at_zero = (gv - l1).max(zero) + (gv + l1).min(zero);
            gv = pos.bitselect(gv + l1, neg.bitselect(gv - l1, at_zero));
        }
        let g_l1 = gv;
        let gv = gv + l2 * pv;
        let mv = b1 * load(m) + ob1 * gv;
        let vv = b2 * load(v) + ob2 * (gv * gv);
        let m_hat = mv * ibc1;
        let v_hat = vv * ibc2;
        let mut new = pv * keep - lr * m_hat / (v_hat.sqrt() + eps);
        if L1 {
            let settle = (pos & new.simd_le(zero))
                | (neg & new.simd_ge(zero))
                | (pv.simd_eq(zero) & g_l1.simd_eq(zero));
            new = settle.bitselect(zero, new);
        }
        p.copy_from_slice(new.as_array());
        m.copy_from_slice(mv.as_array());
        v.copy_from_slice(vv.as_array());
        g.fill(0.0);
    }
    update_scalar_with::<L1>(pt, gt, mt, vt, k);
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
fn update(p: &mut [f32], g: &mut [f32], m: &mut [f32], v: &mut [f32], k: &Coeffs) {
    if k.l1 != 0.0 {
        update_scalar_with::<true>(p, g, m, v, k);
    } else {
        update_scalar_with::<false>(p, g, m, v, k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// The vectorized pass gives the scalar pass's bits, on a length with a tail, with
    /// and without L1 (whose rules are exercised by exact zeros and tiny weights).
    #[test]
    fn simd_pass_matches_scalar_bit_for_bit() {
        let mut rng = Rng::new(7);
        let n = 8 * 13 + 5;
        let mut draw = |s: f32| -> [f32; 109] { core::array::from_fn(|_| s * rng.normal()) };
        let (mut p0, g0, m0) = (draw(1.0), draw(0.1), draw(0.01));
        let v0 = draw(0.001).map(f32::abs);
        for (i, p) in p0.iter_mut().enumerate() {
            match i % 5 {
                0 => *p = 0.0,
                1 => *p *= 1e-4,
                _ => {}
            }
        }
        for l1 in [0.0, 0.05] {
            let k = Coeffs {
                scale: 0.75,
                clip: 0.12,
                l2: 1e-4,
                l1,
                keep: 1.0 - 1e-5,
                b1: 0.9,
                one_minus_b1: 0.1,
                b2: 0.999,
                one_minus_b2: 1.0 - 0.999,
                inv_bc1: 1.0 / (1.0 - 0.9f32.powi(3)),
                inv_bc2: 1.0 / (1.0 - 0.999f32.powi(3)),
                lr: 1e-3,
                eps: 1e-8,
            };
            let (mut p2, mut g2, mut m2, mut v2) = (p0, g0, m0, v0);
            if l1 == 0.0 {
                update_scalar_with::<false>(&mut p2, &mut g2, &mut m2, &mut v2, &k);
            } else {
                update_scalar_with::<true>(&mut p2, &mut g2, &mut m2, &mut v2, &k);
            }
            // Every SIMD level this CPU has (on x86-64: SSE2, and AVX2 where present).
            for simd in Simd::available() {
                let (mut p1, mut g1, mut m1, mut v1) = (p0, g0, m0, v0);
                update_at(simd, &mut p1, &mut g1, &mut m1, &mut v1, &k);
                assert_eq!(n, p1.len());
                let at = simd.level();
                let mut zeros = 0;
                for i in 0..n {
                    assert_eq!(p1[i].to_bits(), p2[i].to_bits(), "θ[{i}], λ₁ = {l1}, {at}");
                    assert_eq!(m1[i].to_bits(), m2[i].to_bits(), "m[{i}], λ₁ = {l1}, {at}");
                    assert_eq!(v1[i].to_bits(), v2[i].to_bits(), "v[{i}], λ₁ = {l1}, {at}");
                    assert_eq!(g1[i], 0.0);
                    zeros += usize::from(p1[i] == 0.0);
                    if l1 == 0.0 {
                        assert_ne!(p1[i], p0[i]);
                    }
                }
                // Without L1 nothing lands on zero; with it, the tiny weights do.
                assert_eq!(zeros > n / 10, l1 != 0.0, "{zeros} zeros, λ₁ = {l1}, {at}");
            }
        }
    }
}
