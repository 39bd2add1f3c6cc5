//! Element-wise activation layers: ReLU, ReLU6, leaky ReLU, tanh, sigmoid.

use core::marker::PhantomData;

use super::{Context, Layer, no_params};
use crate::arena::{InPlace, Place};
use crate::math;
use crate::net::Infer;
use crate::spec::{Attr, AttrSpec, LayerData, LayerSpec, Primitive, Rule, TensorMut, TensorRef};
use crate::tensor::Tensor;

/// An element-wise function with its derivative.
///
/// `derivative` receives both the input `x` and the output `y = value(x)`, so functions
/// whose derivative is cheapest from the output (tanh, sigmoid) need not re-evaluate.
pub trait ActivationFn: Clone + 'static {
    /// The layer kind in its [`LayerSpec`].
    const KIND: &'static str;
    /// The constructor of the layer in Rust source ([`LayerData::ctor`](crate::spec::LayerData::ctor)).
    const CTOR: &'static str;
    /// The function's parameters, stored as the layer's attributes (leaky ReLU's slope).
    const ATTRS: &'static [AttrSpec] = &[];
    /// `f(x)`.
    fn value(&self, x: f32) -> f32;
    /// `f'(x)`, given `x` and `y = f(x)`.
    fn derivative(&self, x: f32, y: f32) -> f32;
    /// Parameter `i` (see [`ATTRS`](Self::ATTRS)).
    fn attr(&self, i: usize) -> Option<Attr> {
        let _ = i;
        None
    }
    /// Sets parameter `i`; `false` if there is none of that type.
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        let _ = (i, value);
        false
    }
}

/// `max(0, x)`; derivative 1 for `x > 0`, else 0.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct ReluFn;

impl ActivationFn for ReluFn {
    const KIND: &'static str = "relu";
    const CTOR: &'static str = "firmnet::layers::Relu::from_parts";
    #[inline]
    fn value(&self, x: f32) -> f32 {
        if x > 0.0 { x } else { 0.0 }
    }
    #[inline]
    fn derivative(&self, x: f32, _: f32) -> f32 {
        if x > 0.0 { 1.0 } else { 0.0 }
    }
}

/// `min(max(0, x), 6)`, MobileNet's bounded ReLU; derivative 1 for `0 < x < 6`, else 0.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Relu6Fn;

impl ActivationFn for Relu6Fn {
    const KIND: &'static str = "relu6";
    const CTOR: &'static str = "firmnet::layers::Relu6::from_parts";
    #[inline]
    fn value(&self, x: f32) -> f32 {
        if x > 6.0 {
            6.0
        } else if x > 0.0 {
            x
        } else {
            0.0
        }
    }
    #[inline]
    fn derivative(&self, x: f32, _: f32) -> f32 {
        if x > 0.0 && x < 6.0 { 1.0 } else { 0.0 }
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
    const CTOR: &'static str = "firmnet::layers::LeakyRelu::from_parts";
    const ATTRS: &'static [AttrSpec] = &[AttrSpec::f32("slope", Rule::Finite)];
    fn attr(&self, i: usize) -> Option<Attr> {
        (i == 0).then_some(Attr::F32(self.slope))
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        match (i, value) {
            (0, Attr::F32(v)) => {
                self.slope = v;
                true
            }
            _ => false,
        }
    }
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
    const CTOR: &'static str = "firmnet::layers::Tanh::from_parts";
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
    const CTOR: &'static str = "firmnet::layers::Sigmoid::from_parts";
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
/// backward pass uses the input and output the network already stores); at inference it
/// computes in place.
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

impl<T, F: ActivationFn + crate::tensor::Zero> crate::tensor::Zero for Activation<T, F> {
    const ZERO: Self = Self::with(F::ZERO);
}

/// ReLU on tensors of type `T`, e.g. `Relu<[f32; 256]>`.
pub type Relu<T> = Activation<T, ReluFn>;
/// ReLU6 on tensors of type `T`.
pub type Relu6<T> = Activation<T, Relu6Fn>;
/// Leaky ReLU on tensors of type `T`.
pub type LeakyRelu<T> = Activation<T, LeakyReluFn>;
/// tanh on tensors of type `T`.
pub type Tanh<T> = Activation<T, TanhFn>;
/// Logistic sigmoid on tensors of type `T`.
pub type Sigmoid<T> = Activation<T, SigmoidFn>;

/// `DEFAULT` and the Rust-source constructor `from_parts()` of a parameter-free activation.
macro_rules! plain_activation {
    ($f:ident, $what:literal) => {
        impl crate::tensor::Zero for $f {
            const ZERO: Self = $f;
        }
        impl<T> Activation<T, $f> {
            #[doc = concat!($what, ".")]
            pub const DEFAULT: Self = Self::with($f);
            #[doc = concat!($what, " (the constructor of Rust source).")]
            pub const fn from_parts() -> Self {
                Self::DEFAULT
            }
        }
    };
}
impl crate::tensor::Zero for LeakyReluFn {
    /// Slope 0: a placeholder that a loader or a conversion overwrites.
    const ZERO: Self = LeakyReluFn { slope: 0.0 };
}

plain_activation!(ReluFn, "ReLU");
plain_activation!(Relu6Fn, "ReLU6");
plain_activation!(TanhFn, "tanh");
plain_activation!(SigmoidFn, "Sigmoid");

impl<T> Activation<T, LeakyReluFn> {
    /// Leaky ReLU with slope 0.01.
    pub const DEFAULT: Self = Self::with(LeakyReluFn { slope: 0.01 });
    /// Leaky ReLU with the given negative slope.
    pub const fn new(slope: f32) -> Self {
        Self::with(LeakyReluFn { slope })
    }
    /// Leaky ReLU with the given negative slope (the constructor of Rust source).
    pub const fn from_parts(slope: f32) -> Self {
        Self::new(slope)
    }
}

no_params!([T, F] Activation<T, F>);

impl<T: Tensor<Elem = f32>, F: ActivationFn> Infer for Activation<T, F> {
    type Input = T;
    type Output = T;
    type Footprint<I: Place, O: Place> = InPlace<I, O, T>;
    const IN_PLACE: bool = true;

    fn forward_with(&self, x: &T, y: &mut T, _: &mut [f32]) {
        *y = *x;
        self.apply(y);
    }

    #[inline]
    fn apply(&self, xy: &mut T) {
        for v in xy.as_mut_slice() {
            *v = self.f.value(*v);
        }
    }
}

impl<T: Tensor<Elem = f32>, F: ActivationFn> Primitive for Activation<T, F> {
    const SPEC: LayerSpec = LayerSpec {
        kind: F::KIND,
        input: T::SHAPE,
        output: T::SHAPE,
        tensors: &[],
        attrs: F::ATTRS,
        ordered: &[],
        int8_io: false,
    };
}

impl<T: Tensor<Elem = f32>, F: ActivationFn> LayerData for Activation<T, F> {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        F::CTOR
    }
    fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
        None
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        self.f.attr(i)
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        self.f.set_attr(i, value)
    }
}

impl<T: Tensor<Elem = f32>, F: ActivationFn> Layer for Activation<T, F> {
    type Grad = ();
    type Cache<const B: usize> = ();

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
