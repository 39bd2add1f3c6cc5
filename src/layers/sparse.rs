//! An L1 penalty on activations, for sparse representations.

use core::marker::PhantomData;

use super::{Context, Layer, no_params};
use crate::arena::{InPlace, Place};
use crate::net::Infer;
use crate::spec::{Attr, AttrSpec, LayerData, LayerSpec, Primitive, Rule, TensorMut, TensorRef};
use crate::tensor::{Tensor, Zero};

/// The identity, with the penalty `Ω(h) = λ·Σᵢ|hᵢ|` on the activations `h` passing through
/// it added to the training loss (averaged over the batch, like the loss).
///
/// Place it after a hidden layer's activation to make that representation sparse (the
/// lecture's "L1 penalty can make **h** sparse"): the backward pass adds `λ·sign(h)/B` to
/// the gradient. After a ReLU, `sign(h)` is 1 for the active units and 0 for the others, so
/// the penalty pushes units towards zero and holds the ones already there.
///
/// The penalty is not part of the loss [`classification_step`](crate::train::classification_step)
/// reports; [`penalty`](Self::penalty) computes it. At inference, and in training under
/// [`Context::inference`], the layer is the identity and adds nothing.
///
/// ```
/// use firmnet::prelude::*;
/// let mut layer = ActivityL1::<[f32; 3]>::new(0.5);
/// let x = [[1.0, 0.0, -2.0]];
/// let mut y = [[0.0; 3]];
/// let mut cache = false;
/// layer.forward_train(&x, &mut y, &mut cache, &mut Context::new(0));
/// assert_eq!(y, x);
/// let mut dx = [[0.0; 3]];
/// layer.backward(&x, &y, &[[0.1; 3]], Some(&mut dx), &mut cache, &mut ());
/// assert_eq!(dx, [[0.6, 0.1, -0.4]]); // dy + λ·sign(h), batch of 1
/// assert_eq!(layer.penalty(&y), 1.5);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ActivityL1<T> {
    /// Strength λ of the penalty.
    pub lambda: f32,
    _shape: PhantomData<fn(T) -> T>,
}

impl<T> ActivityL1<T> {
    /// A penalty of strength `lambda`.
    pub const fn new(lambda: f32) -> Self {
        ActivityL1 {
            lambda,
            _shape: PhantomData,
        }
    }
}

impl<T: Tensor<Elem = f32>> ActivityL1<T> {
    /// The penalty `λ·Σ|h|/B` on a batch of activations.
    pub fn penalty<const B: usize>(&self, h: &[T; B]) -> f32 {
        let sum: f32 = T::batch_slice(h).iter().map(|v| v.abs()).sum();
        self.lambda * sum / B as f32
    }
}

/// λ = 0: no penalty.
impl<T> Zero for ActivityL1<T> {
    const ZERO: Self = Self::new(0.0);
}

no_params!([T] ActivityL1<T>);

impl<T: Tensor<Elem = f32>> Infer for ActivityL1<T> {
    type Input = T;
    type Output = T;
    type Footprint<I: Place, O: Place> = InPlace<I, O, T>;
    const IN_PLACE: bool = true;

    /// The identity: inference leaves the values as they are.
    fn forward_with(&self, x: &T, y: &mut T, _: &mut [f32]) {
        *y = *x;
    }
}

impl<T: Tensor<Elem = f32>> Primitive for ActivityL1<T> {
    const SPEC: LayerSpec = LayerSpec {
        kind: "activity_l1",
        input: T::SHAPE,
        output: T::SHAPE,
        tensors: &[],
        attrs: &[AttrSpec::f32("lambda", Rule::NonNegative)],
        ordered: &[],
        int8_io: false,
    };
}

impl<T: Tensor<Elem = f32>> LayerData for ActivityL1<T> {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::layers::ActivityL1::new"
    }
    fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
        None
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        (i == 0).then_some(Attr::F32(self.lambda))
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        match (i, value) {
            (0, Attr::F32(v)) => {
                self.lambda = v;
                true
            }
            _ => false,
        }
    }
}

impl<T: Tensor<Elem = f32>> Layer for ActivityL1<T> {
    type Grad = ();
    /// Whether the penalty was on (training mode).
    type Cache<const B: usize> = bool;

    fn forward_train<const B: usize>(
        &mut self,
        x: &[T; B],
        y: &mut [T; B],
        cache: &mut bool,
        ctx: &mut Context,
    ) {
        *cache = !ctx.inference;
        T::batch_slice_mut(y).copy_from_slice(T::batch_slice(x));
    }

    fn backward<const B: usize>(
        &self,
        _: &[T; B],
        y: &[T; B],
        dy: &[T; B],
        dx: Option<&mut [T; B]>,
        cache: &mut bool,
        _: &mut (),
    ) {
        let Some(dx) = dx else { return };
        let k = if *cache { self.lambda / B as f32 } else { 0.0 };
        let (y, dy, dx) = (
            T::batch_slice(y),
            T::batch_slice(dy),
            T::batch_slice_mut(dx),
        );
        for ((d, &g), &h) in dx.iter_mut().zip(dy).zip(y) {
            let sign = if h > 0.0 {
                1.0
            } else if h < 0.0 {
                -1.0
            } else {
                0.0
            };
            *d = g + k * sign;
        }
    }
}
