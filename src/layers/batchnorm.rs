//! Batch normalization (Ioffe & Szegedy, 2015) over `N` features.

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
        let inv = 1.0 / libm::sqrt(f64::from(self.running_var[j]) + f64::from(self.eps));
        let k = f64::from(self.gamma[j]) * inv;
        (
            k,
            f64::from(self.beta[j]) - k * f64::from(self.running_mean[j]),
        )
    }
}

/// The neutral batch normalization, [`BatchNorm::DEFAULT`]: a placeholder that a loader or a
/// conversion overwrites.
impl<const N: usize> Clone for BatchNorm<N> {
    fn clone(&self) -> Self {
        BatchNorm {
            gamma: self.gamma,
            beta: self.beta,
            running_mean: self.running_mean,
            running_var: self.running_var,
            momentum: self.momentum,
            eps: self.eps,
        }
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

/// The learned tensors γ and β, numbered 0 and 1, of a type with `gamma` and `beta` fields.
macro_rules! gamma_beta_params {
    ($ty:ident) => {
        impl<const N: usize> Params for $ty<N> {
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
                bn_info::<N>(i)
            }
        }
    };
}

gamma_beta_params!(BatchNorm);
gamma_beta_params!(BatchNormGrad);

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
        for (j, v) in xy.iter_mut().enumerate() {
            let inv_std = 1.0 / math::sqrt(self.running_var[j] + self.eps);
            *v = self.gamma[j] * ((*v - self.running_mean[j]) * inv_std) + self.beta[j];
        }
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

impl<const N: usize> LayerData for BatchNorm<N> {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::layers::BatchNorm::from_parts"
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
        cache.fixed = ctx.inference;
        if ctx.inference {
            for j in 0..N {
                cache.mean[j] = self.running_mean[j];
                cache.inv_std[j] = 1.0 / math::sqrt(self.running_var[j] + self.eps);
            }
            for (xr, yr) in x.iter().zip(y.iter_mut()) {
                *yr = *xr;
                self.apply(yr);
            }
            return;
        }
        let inv_b = 1.0 / B as f32;
        // Two passes (mean, then centred squares): stable where E[x²] − E[x]² is not.
        let mean = &mut cache.mean;
        *mean = [0.0; N];
        for row in x {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        mean.iter_mut().for_each(|m| *m *= inv_b);
        let var = &mut cache.inv_std; // holds the variance until converted below
        *var = [0.0; N];
        for row in x {
            for j in 0..N {
                let d = row[j] - mean[j];
                var[j] += d * d;
            }
        }
        let unbiased = if B > 1 {
            B as f32 / (B - 1) as f32
        } else {
            1.0
        };
        let m = self.momentum;
        for j in 0..N {
            let v = var[j] * inv_b;
            self.running_mean[j] = (1.0 - m) * self.running_mean[j] + m * mean[j];
            self.running_var[j] = (1.0 - m) * self.running_var[j] + m * (v * unbiased);
            var[j] = 1.0 / math::sqrt(v + self.eps);
        }
        let inv_std = &cache.inv_std;
        for (xr, yr) in x.iter().zip(y.iter_mut()) {
            for j in 0..N {
                yr[j] = self.gamma[j] * ((xr[j] - mean[j]) * inv_std[j]) + self.beta[j];
            }
        }
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
        let BatchNormCache {
            mean,
            inv_std,
            sum_dy,
            sum_dy_xhat,
            fixed,
        } = cache;
        *sum_dy = [0.0; N];
        *sum_dy_xhat = [0.0; N];
        for (xr, dyr) in x.iter().zip(dy) {
            for j in 0..N {
                let xhat = (xr[j] - mean[j]) * inv_std[j];
                sum_dy[j] += dyr[j];
                sum_dy_xhat[j] += dyr[j] * xhat;
            }
        }
        for j in 0..N {
            grad.gamma[j] += sum_dy_xhat[j];
            grad.beta[j] += sum_dy[j];
        }
        if *fixed {
            // Fixed statistics: an affine map per feature, dx = γ/σ · dy.
            if let Some(dx) = dx {
                for (dyr, dxr) in dy.iter().zip(dx.iter_mut()) {
                    for j in 0..N {
                        dxr[j] = self.gamma[j] * inv_std[j] * dyr[j];
                    }
                }
            }
            return;
        }
        // dx = γ/(B·σ) · (B·dy − Σdy − x̂·Σ(dy·x̂))
        if let Some(dx) = dx {
            let inv_b = 1.0 / B as f32;
            for ((xr, dyr), dxr) in x.iter().zip(dy).zip(dx.iter_mut()) {
                for j in 0..N {
                    let xhat = (xr[j] - mean[j]) * inv_std[j];
                    let k = self.gamma[j] * inv_std[j];
                    dxr[j] = k * (dyr[j] - inv_b * (sum_dy[j] + xhat * sum_dy_xhat[j]));
                }
            }
        }
    }
}
