//! Batch normalization (Ioffe & Szegedy, 2015): [`BatchNorm`] over the `N` features of a
//! vector, [`BatchNorm2d`] over the `C` channels of a feature map.
//!
//! Both normalize each channel (a vector's feature is a channel with one position) over
//! every value it takes in a batch: `B` values for [`BatchNorm<N>`], `B·H·W` for
//! [`BatchNorm2d<H, W, C>`], whose channels-last map `[[[f32; C]; W]; H]` is `H·W` rows of
//! `C` channels. One implementation serves both: it sees a batch as rows of `C` contiguous
//! channels (`B` rows for a vector, `B·H·W` for a map) and runs its inner loops over the
//! channels of a row, so `BatchNorm2d<1, 1, C>` computes `BatchNorm<C>`'s bits.

use super::{Context, Layer, ParamInfo, ParamKind, Params, no_tensor};
use crate::arena::{InPlace, Place};
use crate::math;
use crate::net::Infer;
use crate::spec::{
    Attr, AttrSpec, Dtype, LayerData, LayerSpec, Primitive, Rule, TensorMut, TensorRef, TensorSpec,
};
use crate::tensor::{Shape, Zero};

/// Batch normalization of `N` features: `y = γ·(x − μ)/√(σ² + ε) + β`.
///
/// * **Training** ([`Layer::forward_train`]): `μ` and `σ²` are the mean and the (biased)
///   variance of each feature over the batch, as in Algorithm 1 of Ioffe & Szegedy. The
///   running statistics move towards them with `momentum`:
///   `running ← (1 − momentum)·running + momentum·batch`, where the running variance takes
///   the unbiased batch variance `σ²·B/(B−1)` (the population estimate the paper uses at
///   inference; for `B = 1` the biased one).
/// * **Inference** ([`Infer::forward`], and [`Layer::forward_train`] under
///   [`Context::inference`]): `μ` and `σ²` are the running statistics, constants for the
///   backward pass.
///
/// γ and β are learned (tensors `gamma` and `beta`); the running statistics are not, and
/// are not part of [`Params`].
#[derive(Debug, PartialEq)]
pub struct BatchNorm<const N: usize> {
    /// Learned scale γ, one per feature.
    pub gamma: [f32; N],
    /// Learned shift β, one per feature.
    pub beta: [f32; N],
    /// Running mean, used at inference.
    pub running_mean: [f32; N],
    /// Running (unbiased) variance, used at inference.
    pub running_var: [f32; N],
    /// Weight of the current batch in the running statistics (default 0.1).
    pub momentum: f32,
    /// ε added to the variance (default 1e-5).
    pub eps: f32,
}

impl<const N: usize> BatchNorm<N> {
    /// The identity at start: γ = 1, β = 0, running mean 0, running variance 1,
    /// momentum 0.1, ε = 1e-5.
    pub const DEFAULT: Self = BatchNorm {
        gamma: [1.0; N],
        beta: [0.0; N],
        running_mean: [0.0; N],
        running_var: [1.0; N],
        momentum: 0.1,
        eps: 1e-5,
    };

    /// The layer with these values (the constructor of Rust source written by
    /// [`format::rust_source`](crate::format::rust_source)).
    pub const fn from_parts(
        gamma: [f32; N],
        beta: [f32; N],
        running_mean: [f32; N],
        running_var: [f32; N],
        eps: f32,
        momentum: f32,
    ) -> Self {
        BatchNorm {
            gamma,
            beta,
            running_mean,
            running_var,
            momentum,
            eps,
        }
    }

    /// The affine map inference computes for feature `j`, `y = k·x + c`, in `f64`:
    /// `k = γ/√(σ² + ε)` and `c = β − k·μ`. The conversions fold it into the layer before.
    pub fn affine(&self, j: usize) -> (f64, f64) {
        self.norm().affine(j)
    }

    /// The layer's values, borrowed for the shared arithmetic.
    fn norm(&self) -> Norm<'_, N> {
        Norm {
            gamma: &self.gamma,
            beta: &self.beta,
            running_mean: &self.running_mean,
            running_var: &self.running_var,
            eps: self.eps,
        }
    }

    /// The layer's values, borrowed for the training pass.
    fn norm_mut(&mut self) -> NormMut<'_, N> {
        NormMut {
            gamma: &self.gamma,
            beta: &self.beta,
            running_mean: &mut self.running_mean,
            running_var: &mut self.running_var,
            momentum: self.momentum,
            eps: self.eps,
        }
    }
}

/// `Clone` of a type with `BatchNorm`'s fields, whose `clone_from` copies array by array,
/// with no copy of the whole layer on the stack.
macro_rules! bn_clone {
    ([$($gen:tt)*] $ty:ty) => {
        impl<$($gen)*> Clone for $ty {
            fn clone(&self) -> Self {
                Self::from_parts(
                    self.gamma,
                    self.beta,
                    self.running_mean,
                    self.running_var,
                    self.eps,
                    self.momentum,
                )
            }

            /// Array by array, with no copy of the whole layer on the stack.
            fn clone_from(&mut self, source: &Self) {
                self.gamma.clone_from(&source.gamma);
                self.beta.clone_from(&source.beta);
                self.running_mean.clone_from(&source.running_mean);
                self.running_var.clone_from(&source.running_var);
                self.momentum = source.momentum;
                self.eps = source.eps;
            }
        }
    };
}

bn_clone!([const N: usize] BatchNorm<N>);

/// The neutral batch normalization, [`BatchNorm::DEFAULT`]: a placeholder that a loader or a
/// conversion overwrites.
impl<const N: usize> Zero for BatchNorm<N> {
    const ZERO: Self = Self::DEFAULT;
}

impl<const N: usize> Default for BatchNorm<N> {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Gradients of a [`BatchNorm`]'s learned parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormGrad<const N: usize> {
    /// `∂L/∂γ`.
    pub gamma: [f32; N],
    /// `∂L/∂β`.
    pub beta: [f32; N],
}

impl<const N: usize> Zero for BatchNormGrad<N> {
    const ZERO: Self = BatchNormGrad {
        gamma: [0.0; N],
        beta: [0.0; N],
    };
}

/// What [`BatchNorm`] keeps between the forward and the backward pass: the batch mean and
/// `1/√(σ² + ε)` per feature, and room for two per-feature sums of the backward pass. Its
/// size does not depend on the batch.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormCache<const N: usize> {
    /// Batch mean μ.
    pub mean: [f32; N],
    /// `1/√(σ² + ε)`.
    pub inv_std: [f32; N],
    sum_dy: [f32; N],
    sum_dy_xhat: [f32; N],
    /// The statistics were the running ones ([`Context::inference`]), constants of the
    /// function rather than functions of the batch.
    fixed: bool,
}

impl<const N: usize> Zero for BatchNormCache<N> {
    const ZERO: Self = BatchNormCache {
        mean: [0.0; N],
        inv_std: [0.0; N],
        sum_dy: [0.0; N],
        sum_dy_xhat: [0.0; N],
        fixed: false,
    };
}

fn bn_info<const N: usize>(i: usize) -> ParamInfo {
    let (name, kind) = match i {
        0 => ("gamma", ParamKind::Scale),
        1 => ("beta", ParamKind::Shift),
        _ => no_tensor(i),
    };
    ParamInfo {
        layer: 0,
        name,
        kind,
        rows: 1,
        cols: N,
    }
}

/// The learned tensors γ and β, numbered 0 and 1, of a type with `gamma` and `beta`
/// fields of `$c` channels.
macro_rules! gamma_beta_params {
    ([$($gen:tt)*] $ty:ty, $c:ident) => {
        impl<$($gen)*> Params for $ty {
            const TENSORS: usize = 2;
            fn tensor(&self, i: usize) -> &[f32] {
                match i {
                    0 => &self.gamma,
                    1 => &self.beta,
                    _ => no_tensor(i),
                }
            }
            fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
                match i {
                    0 => &mut self.gamma,
                    1 => &mut self.beta,
                    _ => no_tensor(i),
                }
            }
            fn info(i: usize) -> ParamInfo {
                bn_info::<$c>(i)
            }
        }
    };
}

gamma_beta_params!([const N: usize] BatchNorm<N>, N);
gamma_beta_params!([const N: usize] BatchNormGrad<N>, N);
gamma_beta_params!([const H: usize, const W: usize, const C: usize] BatchNorm2d<H, W, C>, C);

impl<const N: usize> Infer for BatchNorm<N> {
    type Input = [f32; N];
    type Output = [f32; N];
    type Footprint<I: Place, O: Place> = InPlace<I, O, [f32; N]>;
    const IN_PLACE: bool = true;

    #[inline]
    fn forward_with(&self, x: &[f32; N], y: &mut [f32; N], _: &mut [f32]) {
        *y = *x;
        self.apply(y);
    }

    #[inline]
    fn apply(&self, xy: &mut [f32; N]) {
        self.norm().apply(core::slice::from_mut(xy));
    }
}

impl<const N: usize> Primitive for BatchNorm<N> {
    const SPEC: LayerSpec = LayerSpec {
        kind: "batch_norm",
        input: Shape::vector(N),
        output: Shape::vector(N),
        tensors: &[
            TensorSpec::learned("gamma", ParamKind::Scale, Shape::vector(N)),
            TensorSpec::learned("beta", ParamKind::Shift, Shape::vector(N)),
            TensorSpec::fixed(
                "running_mean",
                ParamKind::RunningMean,
                Dtype::F32,
                Shape::vector(N),
                Rule::Finite,
            ),
            TensorSpec::fixed(
                "running_var",
                ParamKind::RunningVar,
                Dtype::F32,
                Shape::vector(N),
                Rule::Positive,
            ),
        ],
        attrs: &[
            AttrSpec::f32("eps", Rule::Positive),
            AttrSpec::f32("momentum", Rule::UnitInterval),
        ],
        ordered: &[],
        int8_io: false,
    };
}

/// The [`LayerData`] of a type with `BatchNorm`'s fields, whose constructor is `$ctor`.
macro_rules! bn_layer_data {
    ([$($gen:tt)*] $ty:ty, $ctor:literal) => {
        impl<$($gen)*> LayerData for $ty {
            fn spec(&self) -> &'static LayerSpec {
                &Self::SPEC
            }
            fn ctor(&self) -> &'static str {
                $ctor
            }
            fn tensor(&self, i: usize) -> Option<TensorRef<'_>> {
                Some(TensorRef::F32(match i {
                    0 => &self.gamma,
                    1 => &self.beta,
                    2 => &self.running_mean,
                    3 => &self.running_var,
                    _ => return None,
                }))
            }
            fn tensor_mut(&mut self, i: usize) -> Option<TensorMut<'_>> {
                Some(TensorMut::F32(match i {
                    0 => &mut self.gamma,
                    1 => &mut self.beta,
                    2 => &mut self.running_mean,
                    3 => &mut self.running_var,
                    _ => return None,
                }))
            }
            fn attr(&self, i: usize) -> Option<Attr> {
                match i {
                    0 => Some(Attr::F32(self.eps)),
                    1 => Some(Attr::F32(self.momentum)),
                    _ => None,
                }
            }
            fn set_attr(&mut self, i: usize, value: Attr) -> bool {
                match (i, value) {
                    (0, Attr::F32(v)) => self.eps = v,
                    (1, Attr::F32(v)) => self.momentum = v,
                    _ => return false,
                }
                true
            }
        }
    };
}

bn_layer_data!([const N: usize] BatchNorm<N>, "firmnet::layers::BatchNorm::from_parts");
bn_layer_data!(
    [const H: usize, const W: usize, const C: usize] BatchNorm2d<H, W, C>,
    "firmnet::layers::BatchNorm2d::from_parts"
);

impl<const N: usize> Layer for BatchNorm<N> {
    type Grad = BatchNormGrad<N>;
    type Cache<const B: usize> = BatchNormCache<N>;

    fn forward_train<const B: usize>(
        &mut self,
        x: &[[f32; N]; B],
        y: &mut [[f32; N]; B],
        cache: &mut BatchNormCache<N>,
        ctx: &mut Context,
    ) {
        self.norm_mut().forward_train(x, y, cache, ctx.inference);
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; N]; B],
        _: &[[f32; N]; B],
        dy: &[[f32; N]; B],
        dx: Option<&mut [[f32; N]; B]>,
        cache: &mut BatchNormCache<N>,
        grad: &mut BatchNormGrad<N>,
    ) {
        backward(&self.gamma, x, dy, dx.map(|dx| &mut dx[..]), cache, grad);
    }
}

/// A batch normalization's values over `C` channels, borrowed from a [`BatchNorm`] or a
/// [`BatchNorm2d`]: what inference and the backward pass read.
struct Norm<'a, const C: usize> {
    gamma: &'a [f32; C],
    beta: &'a [f32; C],
    running_mean: &'a [f32; C],
    running_var: &'a [f32; C],
    eps: f32,
}

/// Channels per block of the inference pass: their `1/√(σ² + ε)` are computed once per
/// block (on the stack, 64 bytes) and serve every row.
const BLOCK: usize = 16;

impl<const C: usize> Norm<'_, C> {
    /// See [`BatchNorm::affine`].
    fn affine(&self, j: usize) -> (f64, f64) {
        let inv = 1.0 / libm::sqrt(f64::from(self.running_var[j]) + f64::from(self.eps));
        let k = f64::from(self.gamma[j]) * inv;
        (
            k,
            f64::from(self.beta[j]) - k * f64::from(self.running_mean[j]),
        )
    }

    /// Inference in place on rows of `C` channels, with the running statistics:
    /// `y = γ·((x − μ)·(1/√(σ² + ε))) + β`, channel by channel.
    #[inline]
    fn apply(&self, rows: &mut [[f32; C]]) {
        let mut c0 = 0;
        while c0 < C {
            let c1 = if C - c0 > BLOCK { c0 + BLOCK } else { C };
            let mut inv_std = [0.0; BLOCK];
            let var = self.running_var.get(c0..c1).unwrap_or_default();
            for (s, &v) in inv_std.iter_mut().zip(var) {
                *s = 1.0 / math::sqrt(v + self.eps);
            }
            let gamma = self.gamma.get(c0..c1).unwrap_or_default();
            let beta = self.beta.get(c0..c1).unwrap_or_default();
            let mean = self.running_mean.get(c0..c1).unwrap_or_default();
            for row in rows.iter_mut() {
                let row = row.get_mut(c0..c1).unwrap_or_default();
                for ((((v, &g), &b), &m), &s) in
                    row.iter_mut().zip(gamma).zip(beta).zip(mean).zip(&inv_std)
                {
                    *v = g * ((*v - m) * s) + b;
                }
            }
            c0 = c1;
        }
    }
}

/// A batch normalization's values over `C` channels, borrowed for the training pass,
/// which updates the running statistics.
struct NormMut<'a, const C: usize> {
    gamma: &'a [f32; C],
    beta: &'a [f32; C],
    running_mean: &'a mut [f32; C],
    running_var: &'a mut [f32; C],
    momentum: f32,
    eps: f32,
}

impl<const C: usize> NormMut<'_, C> {
    /// The training forward pass on `x`, rows of `C` channels (every row of the batch,
    /// every position of every sample): batch statistics over the rows, the running ones
    /// moved towards them; or, in `inference` mode, the running statistics unchanged.
    fn forward_train(
        self,
        x: &[[f32; C]],
        y: &mut [[f32; C]],
        cache: &mut BatchNormCache<C>,
        inference: bool,
    ) {
        cache.fixed = inference;
        if inference {
            for ((m, s), (&rm, &rv)) in cache
                .mean
                .iter_mut()
                .zip(cache.inv_std.iter_mut())
                .zip(self.running_mean.iter().zip(self.running_var.iter()))
            {
                *m = rm;
                *s = 1.0 / math::sqrt(rv + self.eps);
            }
            normalize(self.gamma, self.beta, cache, x, y);
            return;
        }
        let n = x.len();
        let inv_n = 1.0 / n as f32;
        // Two passes (mean, then centred squares): stable where E[x²] − E[x]² is not.
        let mean = &mut cache.mean;
        *mean = [0.0; C];
        for row in x {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m *= inv_n);
        let var = &mut cache.inv_std; // holds the variance until converted below
        *var = [0.0; C];
        for row in x {
            for ((s, &v), &m) in var.iter_mut().zip(row).zip(mean.iter()) {
                let d = v - m;
                *s += d * d;
            }
        }
        let unbiased = if n > 1 {
            n as f32 / (n - 1) as f32
        } else {
            1.0
        };
        let m = self.momentum;
        for (((s, &mu), rm), rv) in var
            .iter_mut()
            .zip(mean.iter())
            .zip(self.running_mean.iter_mut())
            .zip(self.running_var.iter_mut())
        {
            let v = *s * inv_n;
            *rm = (1.0 - m) * *rm + m * mu;
            *rv = (1.0 - m) * *rv + m * (v * unbiased);
            *s = 1.0 / math::sqrt(v + self.eps);
        }
        normalize(self.gamma, self.beta, cache, x, y);
    }
}

/// `y = γ·((x − μ)·inv_std) + β` row by row, with the statistics of `cache`.
#[inline]
fn normalize<const C: usize>(
    gamma: &[f32; C],
    beta: &[f32; C],
    cache: &BatchNormCache<C>,
    x: &[[f32; C]],
    y: &mut [[f32; C]],
) {
    for (xr, yr) in x.iter().zip(y.iter_mut()) {
        for (((((o, &v), &g), &b), &m), &s) in yr
            .iter_mut()
            .zip(xr)
            .zip(gamma)
            .zip(beta)
            .zip(&cache.mean)
            .zip(&cache.inv_std)
        {
            *o = g * ((v - m) * s) + b;
        }
    }
}

/// The backward pass over `x`, rows of `C` channels, for the statistics `cache` holds:
/// adds `∂L/∂γ` and `∂L/∂β` to `grad` and writes `∂L/∂x` into `dx` when given.
fn backward<const C: usize>(
    gamma: &[f32; C],
    x: &[[f32; C]],
    dy: &[[f32; C]],
    dx: Option<&mut [[f32; C]]>,
    cache: &mut BatchNormCache<C>,
    grad: &mut BatchNormGrad<C>,
) {
    let BatchNormCache {
        mean,
        inv_std,
        sum_dy,
        sum_dy_xhat,
        fixed,
    } = cache;
    *sum_dy = [0.0; C];
    *sum_dy_xhat = [0.0; C];
    for (xr, dyr) in x.iter().zip(dy) {
        for ((((sd, sdx), (&v, &d)), &m), &s) in sum_dy
            .iter_mut()
            .zip(sum_dy_xhat.iter_mut())
            .zip(xr.iter().zip(dyr))
            .zip(mean.iter())
            .zip(inv_std.iter())
        {
            let xhat = (v - m) * s;
            *sd += d;
            *sdx += d * xhat;
        }
    }
    for ((gg, gb), (&sdx, &sd)) in grad
        .gamma
        .iter_mut()
        .zip(grad.beta.iter_mut())
        .zip(sum_dy_xhat.iter().zip(sum_dy.iter()))
    {
        *gg += sdx;
        *gb += sd;
    }
    let Some(dx) = dx else { return };
    if *fixed {
        // Fixed statistics: an affine map per channel, dx = γ/σ · dy.
        for (dyr, dxr) in dy.iter().zip(dx.iter_mut()) {
            for (((o, &d), &g), &s) in dxr.iter_mut().zip(dyr).zip(gamma).zip(inv_std.iter()) {
                *o = g * s * d;
            }
        }
        return;
    }
    // dx = γ/(n·σ) · (n·dy − Σdy − x̂·Σ(dy·x̂)), n the number of rows.
    let inv_n = 1.0 / x.len() as f32;
    for ((xr, dyr), dxr) in x.iter().zip(dy).zip(dx.iter_mut()) {
        for (j, o) in dxr.iter_mut().enumerate() {
            let xhat = (xr[j] - mean[j]) * inv_std[j];
            let k = gamma[j] * inv_std[j];
            *o = k * (dyr[j] - inv_n * (sum_dy[j] + xhat * sum_dy_xhat[j]));
        }
    }
}

/// Batch normalization of the `C` channels of an `H × W × C` feature map (channels last):
/// `y[h][w][c] = γ[c]·(x[h][w][c] − μ[c])/√(σ²[c] + ε) + β[c]`.
///
/// Everything is as in [`BatchNorm<C>`] — the tensors `gamma`, `beta`, `running_mean`,
/// `running_var`, the attributes `eps` and `momentum`, the [`Grad`](Layer::Grad) and the
/// cache — except that each channel's statistics are taken over all `B·H·W` values it has
/// in a batch of `B` (Ioffe & Szegedy, §3.2, for convolutional layers):
///
/// * **Training** ([`Layer::forward_train`]): `μ` and `σ²` are the mean and the biased
///   variance over the `B·H·W` values; the running statistics move towards them with
///   `momentum`, the variance as its unbiased estimate `σ²·n/(n − 1)`, `n = B·H·W` (for
///   `n = 1` the biased one).
/// * **Inference** ([`Infer::forward`], and [`Layer::forward_train`] under
///   [`Context::inference`]): the running statistics, in place.
///
/// `BatchNorm2d<1, 1, C>` computes exactly `BatchNorm<C>`'s bits.
///
/// ```
/// use firmnet::layers::{BatchNorm2d, BatchNormCache};
/// use firmnet::prelude::*;
///
/// let mut bn = BatchNorm2d::<1, 2, 1>::DEFAULT;
/// // Two samples of 1×2 positions: the channel takes the values 1, 3, 5, 7.
/// let x = [[[[1.0], [3.0]]], [[[5.0], [7.0]]]];
/// let mut y = [[[[0.0]; 2]; 1]; 2];
/// let mut cache = BatchNormCache::ZERO;
/// bn.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
/// assert_eq!(cache.mean, [4.0]); // over all four values
/// // Running mean 10 % of the way to 4; running variance towards the unbiased 20/3.
/// assert!((bn.running_mean[0] - 0.4).abs() < 1e-6);
/// assert!((bn.running_var[0] - (0.9 + 0.1 * 20.0 / 3.0)).abs() < 1e-6);
/// ```
#[derive(Debug, PartialEq)]
pub struct BatchNorm2d<const H: usize, const W: usize, const C: usize> {
    /// Learned scale γ, one per channel.
    pub gamma: [f32; C],
    /// Learned shift β, one per channel.
    pub beta: [f32; C],
    /// Running mean, used at inference.
    pub running_mean: [f32; C],
    /// Running (unbiased) variance, used at inference.
    pub running_var: [f32; C],
    /// Weight of the current batch in the running statistics (default 0.1).
    pub momentum: f32,
    /// ε added to the variance (default 1e-5).
    pub eps: f32,
}

impl<const H: usize, const W: usize, const C: usize> BatchNorm2d<H, W, C> {
    /// The identity at start: γ = 1, β = 0, running mean 0, running variance 1,
    /// momentum 0.1, ε = 1e-5.
    pub const DEFAULT: Self = BatchNorm2d {
        gamma: [1.0; C],
        beta: [0.0; C],
        running_mean: [0.0; C],
        running_var: [1.0; C],
        momentum: 0.1,
        eps: 1e-5,
    };

    /// The layer with these values (the constructor of Rust source written by
    /// [`format::rust_source`](crate::format::rust_source)).
    pub const fn from_parts(
        gamma: [f32; C],
        beta: [f32; C],
        running_mean: [f32; C],
        running_var: [f32; C],
        eps: f32,
        momentum: f32,
    ) -> Self {
        BatchNorm2d {
            gamma,
            beta,
            running_mean,
            running_var,
            momentum,
            eps,
        }
    }

    /// The affine map inference computes for channel `j`, `y = k·x + c`, in `f64`:
    /// `k = γ/√(σ² + ε)` and `c = β − k·μ`, as [`BatchNorm::affine`].
    pub fn affine(&self, j: usize) -> (f64, f64) {
        self.norm().affine(j)
    }

    /// The layer's values, borrowed for the shared arithmetic.
    fn norm(&self) -> Norm<'_, C> {
        Norm {
            gamma: &self.gamma,
            beta: &self.beta,
            running_mean: &self.running_mean,
            running_var: &self.running_var,
            eps: self.eps,
        }
    }

    /// The layer's values, borrowed for the training pass.
    fn norm_mut(&mut self) -> NormMut<'_, C> {
        NormMut {
            gamma: &self.gamma,
            beta: &self.beta,
            running_mean: &mut self.running_mean,
            running_var: &mut self.running_var,
            momentum: self.momentum,
            eps: self.eps,
        }
    }
}

bn_clone!([const H: usize, const W: usize, const C: usize] BatchNorm2d<H, W, C>);

/// The neutral batch normalization, [`BatchNorm2d::DEFAULT`].
impl<const H: usize, const W: usize, const C: usize> Zero for BatchNorm2d<H, W, C> {
    const ZERO: Self = Self::DEFAULT;
}

impl<const H: usize, const W: usize, const C: usize> Default for BatchNorm2d<H, W, C> {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl<const H: usize, const W: usize, const C: usize> Infer for BatchNorm2d<H, W, C> {
    type Input = [[[f32; C]; W]; H];
    type Output = [[[f32; C]; W]; H];
    type Footprint<I: Place, O: Place> = InPlace<I, O, [[[f32; C]; W]; H]>;
    const IN_PLACE: bool = true;

    #[inline]
    fn forward_with(&self, x: &[[[f32; C]; W]; H], y: &mut [[[f32; C]; W]; H], _: &mut [f32]) {
        y.clone_from(x);
        self.apply(y);
    }

    #[inline]
    fn apply(&self, xy: &mut [[[f32; C]; W]; H]) {
        self.norm().apply(xy.as_flattened_mut());
    }
}

impl<const H: usize, const W: usize, const C: usize> Primitive for BatchNorm2d<H, W, C> {
    /// `batch_norm`, as [`BatchNorm<C>`], with the feature map's shape.
    const SPEC: LayerSpec = LayerSpec {
        input: Shape::rank3(H, W, C),
        output: Shape::rank3(H, W, C),
        ..BatchNorm::<C>::SPEC
    };
}

impl<const H: usize, const W: usize, const C: usize> Layer for BatchNorm2d<H, W, C> {
    type Grad = BatchNormGrad<C>;
    type Cache<const B: usize> = BatchNormCache<C>;

    fn forward_train<const B: usize>(
        &mut self,
        x: &[[[[f32; C]; W]; H]; B],
        y: &mut [[[[f32; C]; W]; H]; B],
        cache: &mut BatchNormCache<C>,
        ctx: &mut Context,
    ) {
        let (x, y) = (
            x.as_flattened().as_flattened(),
            y.as_flattened_mut().as_flattened_mut(),
        );
        self.norm_mut().forward_train(x, y, cache, ctx.inference);
    }

    fn backward<const B: usize>(
        &self,
        x: &[[[[f32; C]; W]; H]; B],
        _: &[[[[f32; C]; W]; H]; B],
        dy: &[[[[f32; C]; W]; H]; B],
        dx: Option<&mut [[[[f32; C]; W]; H]; B]>,
        cache: &mut BatchNormCache<C>,
        grad: &mut BatchNormGrad<C>,
    ) {
        backward(
            &self.gamma,
            x.as_flattened().as_flattened(),
            dy.as_flattened().as_flattened(),
            dx.map(|dx| dx.as_flattened_mut().as_flattened_mut()),
            cache,
            grad,
        );
    }
}
