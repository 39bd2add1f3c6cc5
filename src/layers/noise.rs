//! Additive Gaussian noise (Sietsma & Dow, 1991).

use core::marker::PhantomData;

use super::{Context, Layer, no_params};
use crate::arena::{InPlace, Place};
use crate::net::Infer;
use crate::spec::{Attr, AttrSpec, LayerData, LayerSpec, Primitive, Rule, TensorMut, TensorRef};
use crate::tensor::{Tensor, Zero};

/// Adds `N(0, σ²)` noise to every element in training; the identity at inference.
///
/// Placed after the input it is the lecture's input-noise regularizer (for a linear model
/// equivalent to an L2 penalty); after a hidden layer, noise on hidden activations. The
/// noise is additive, so the backward pass passes the gradient through unchanged.
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianNoise<T> {
    /// Standard deviation σ of the noise.
    pub sigma: f32,
    _shape: PhantomData<fn(T) -> T>,
}

impl<T> GaussianNoise<T> {
    /// Noise of standard deviation `sigma`.
    pub const fn new(sigma: f32) -> Self {
        GaussianNoise {
            sigma,
            _shape: PhantomData,
        }
    }

    /// σ = 0.1.
    pub const DEFAULT: Self = Self::new(0.1);
}

/// σ = 0: the identity, in training too.
impl<T> Zero for GaussianNoise<T> {
    const ZERO: Self = Self::new(0.0);
}

no_params!([T] GaussianNoise<T>);

impl<T: Tensor<Elem = f32>> Infer for GaussianNoise<T> {
    type Input = T;
    type Output = T;
    type Footprint<I: Place, O: Place> = InPlace<I, O, T>;
    const IN_PLACE: bool = true;

    /// The identity: inference leaves the values as they are.
    fn forward_with(&self, x: &T, y: &mut T, _: &mut [f32]) {
        *y = *x;
    }
}

impl<T: Tensor<Elem = f32>> Primitive for GaussianNoise<T> {
    const SPEC: LayerSpec = LayerSpec {
        kind: "gaussian_noise",
        input: T::SHAPE,
        output: T::SHAPE,
        tensors: &[],
        attrs: &[AttrSpec::f32("sigma", Rule::NonNegative)],
        ordered: &[],
        int8_io: false,
    };
}

impl<T: Tensor<Elem = f32>> LayerData for GaussianNoise<T> {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::layers::GaussianNoise::new"
    }
    fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
        None
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        (i == 0).then_some(Attr::F32(self.sigma))
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        match (i, value) {
            (0, Attr::F32(v)) => {
                self.sigma = v;
                true
            }
            _ => false,
        }
    }
}

impl<T: Tensor<Elem = f32>> Layer for GaussianNoise<T> {
    type Grad = ();
    type Cache<const B: usize> = ();

    fn forward_train<const B: usize>(
        &mut self,
        x: &[T; B],
        y: &mut [T; B],
        _: &mut (),
        ctx: &mut Context,
    ) {
        let (x, y) = (T::batch_slice(x), T::batch_slice_mut(y));
        if ctx.inference {
            y.copy_from_slice(x);
            return;
        }
        for (o, &i) in y.iter_mut().zip(x) {
            *o = i + self.sigma * ctx.rng.normal();
        }
    }

    fn backward<const B: usize>(
        &self,
        _: &[T; B],
        _: &[T; B],
        dy: &[T; B],
        dx: Option<&mut [T; B]>,
        _: &mut (),
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            T::batch_slice_mut(dx).copy_from_slice(T::batch_slice(dy));
        }
    }
}
