//! Element-wise activation layers: ReLU, leaky ReLU, tanh, sigmoid.

use core::marker::PhantomData;

use super::{Context, Layer, no_params};
use crate::math;
use crate::tensor::Tensor;

/// An element-wise function with its derivative.
///
/// `derivative` receives both the input `x` and the output `y = value(x)`, so functions
/// whose derivative is cheapest from the output (tanh, sigmoid) need not re-evaluate.
pub trait ActivationFn: Clone + 'static {
    /// The layer kind reported by [`Layer::KIND`].
    const KIND: &'static str;
    /// `f(x)`.
    fn value(&self, x: f32) -> f32;
    /// `f'(x)`, given `x` and `y = f(x)`.
    fn derivative(&self, x: f32, y: f32) -> f32;
}

/// `max(0, x)`; derivative 1 for `x > 0`, else 0.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ReluFn;

impl ActivationFn for ReluFn {
    const KIND: &'static str = "relu";
    #[inline]
    fn value(&self, x: f32) -> f32 {
        if x > 0.0 { x } else { 0.0 }
    }
    #[inline]
    fn derivative(&self, x: f32, _: f32) -> f32 {
        if x > 0.0 { 1.0 } else { 0.0 }
    }
}

/// `x` for `x > 0`, else `slope·x`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReluFn {
    /// Slope for negative inputs (commonly 0.01).
    pub slope: f32,
}

impl ActivationFn for LeakyReluFn {
    const KIND: &'static str = "leaky_relu";
    #[inline]
    fn value(&self, x: f32) -> f32 {
        if x > 0.0 { x } else { self.slope * x }
    }
    #[inline]
    fn derivative(&self, x: f32, _: f32) -> f32 {
        if x > 0.0 { 1.0 } else { self.slope }
    }
}

/// `tanh x` ([`math::tanh`]); derivative `1 − y²`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct TanhFn;

impl ActivationFn for TanhFn {
    const KIND: &'static str = "tanh";
    #[inline]
    fn value(&self, x: f32) -> f32 {
        math::tanh(x)
    }
    #[inline]
    fn derivative(&self, _: f32, y: f32) -> f32 {
        1.0 - y * y
    }
}

/// `1/(1+e^{−x})` ([`math::sigmoid`]); derivative `y(1 − y)`.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct SigmoidFn;

impl ActivationFn for SigmoidFn {
    const KIND: &'static str = "sigmoid";
    #[inline]
    fn value(&self, x: f32) -> f32 {
        math::sigmoid(x)
    }
    #[inline]
    fn derivative(&self, _: f32, y: f32) -> f32 {
        y * (1.0 - y)
    }
}

/// An element-wise activation `F` on tensors of type `T`. No parameters, no cache (the
/// backward pass uses the input and output the network already stores).
#[derive(Clone, Debug, PartialEq)]
pub struct Activation<T, F> {
    /// The function.
    pub f: F,
    _shape: PhantomData<fn(T) -> T>,
}

impl<T, F> Activation<T, F> {
    /// The activation `f` on tensors of type `T`.
    pub const fn with(f: F) -> Self {
        Activation {
            f,
            _shape: PhantomData,
        }
    }
}

/// ReLU on tensors of type `T`, e.g. `Relu<[f32; 256]>`.
pub type Relu<T> = Activation<T, ReluFn>;
/// Leaky ReLU on tensors of type `T`.
pub type LeakyRelu<T> = Activation<T, LeakyReluFn>;
/// tanh on tensors of type `T`.
pub type Tanh<T> = Activation<T, TanhFn>;
/// Logistic sigmoid on tensors of type `T`.
pub type Sigmoid<T> = Activation<T, SigmoidFn>;

impl<T> Activation<T, ReluFn> {
    /// ReLU.
    pub const DEFAULT: Self = Self::with(ReluFn);
}
impl<T> Activation<T, LeakyReluFn> {
    /// Leaky ReLU with slope 0.01.
    pub const DEFAULT: Self = Self::with(LeakyReluFn { slope: 0.01 });
    /// Leaky ReLU with the given negative slope.
    pub const fn new(slope: f32) -> Self {
        Self::with(LeakyReluFn { slope })
    }
}
impl<T> Activation<T, TanhFn> {
    /// tanh.
    pub const DEFAULT: Self = Self::with(TanhFn);
}
impl<T> Activation<T, SigmoidFn> {
    /// Sigmoid.
    pub const DEFAULT: Self = Self::with(SigmoidFn);
}

no_params!([T, F] Activation<T, F>);

impl<T: Tensor, F: ActivationFn> Layer for Activation<T, F> {
    type Input = T;
    type Output = T;
    type Grad = ();
    type Cache<const B: usize> = ();
    type Scratch = ();
    const KIND: &'static str = F::KIND;

    fn forward(&self, x: &T, y: &mut T, _: &mut ()) {
        for (yi, &xi) in y.as_mut_slice().iter_mut().zip(x.as_slice()) {
            *yi = self.f.value(xi);
        }
    }

    fn forward_train<const B: usize>(
        &mut self,
        x: &[T; B],
        y: &mut [T; B],
        _: &mut (),
        _: &mut Context,
    ) {
        for (yi, &xi) in T::batch_slice_mut(y).iter_mut().zip(T::batch_slice(x)) {
            *yi = self.f.value(xi);
        }
    }

    fn backward<const B: usize>(
        &self,
        x: &[T; B],
        y: &[T; B],
        dy: &[T; B],
        dx: Option<&mut [T; B]>,
        _: &mut (),
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            let (x, y, dy) = (T::batch_slice(x), T::batch_slice(y), T::batch_slice(dy));
            for (i, d) in T::batch_slice_mut(dx).iter_mut().enumerate() {
                *d = dy[i] * self.f.derivative(x[i], y[i]);
            }
        }
    }
}
