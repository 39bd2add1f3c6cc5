//! Inverted dropout (Srivastava et al., 2014).

use core::marker::PhantomData;

use super::{Context, Layer, no_params};
use crate::arena::{InPlace, Place};
use crate::net::Infer;
use crate::rng::Rng;
use crate::spec::{Attr, AttrSpec, LayerData, LayerSpec, Primitive, Rule, TensorMut, TensorRef};
use crate::tensor::{Tensor, Zero};

/// Inverted dropout on tensors of type `T`: in training, each element is zeroed with
/// probability `rate` and the survivors are scaled by `1/(1 − rate)`, so the expectation is
/// unchanged and inference is the identity (no rescaling of weights needed).
///
/// The mask costs no memory: the cache keeps the 16-byte state of the random stream the
/// forward pass drew from, and the backward pass replays it.
#[derive(Clone, Debug, PartialEq)]
pub struct Dropout<T> {
    /// Probability of dropping each element, in `[0, 1]`; values outside are clamped.
    pub rate: f32,
    _shape: PhantomData<fn(T) -> T>,
}

impl<T> Dropout<T> {
    /// Dropout with the given rate.
    pub const fn new(rate: f32) -> Self {
        Dropout {
            rate,
            _shape: PhantomData,
        }
    }

    /// Dropout with rate 0.5, the paper's choice for hidden units.
    pub const DEFAULT: Self = Self::new(0.5);

    /// The keep threshold on 32 random bits and the survivors' scale. An element is
    /// dropped when its draw is below the threshold.
    fn threshold_and_scale(&self) -> (u64, f32) {
        let rate = self.rate.clamp(0.0, 1.0);
        let threshold = (rate as f64 * 4_294_967_296.0) as u64;
        let scale = if rate < 1.0 { 1.0 / (1.0 - rate) } else { 0.0 };
        (threshold, scale)
    }

    fn apply(&self, rng: &mut Rng, input: &[f32], output: &mut [f32]) {
        let (threshold, scale) = self.threshold_and_scale();
        for (o, &i) in output.iter_mut().zip(input) {
            let keep = u64::from(rng.next_u32()) >= threshold;
            *o = if keep { i * scale } else { 0.0 };
        }
    }
}

/// Rate 0: the identity, in training too.
impl<T> Zero for Dropout<T> {
    const ZERO: Self = Self::new(0.0);
}

no_params!([T] Dropout<T>);

impl<T: Tensor<Elem = f32>> Infer for Dropout<T> {
    type Input = T;
    type Output = T;
    type Footprint<I: Place, O: Place> = InPlace<I, O, T>;
    const IN_PLACE: bool = true;

    /// The identity: inference leaves the values as they are.
    fn forward_with(&self, x: &T, y: &mut T, _: &mut [f32]) {
        *y = *x;
    }
}

impl<T: Tensor<Elem = f32>> Primitive for Dropout<T> {
    const SPEC: LayerSpec = LayerSpec {
        kind: "dropout",
        input: T::SHAPE,
        output: T::SHAPE,
        tensors: &[],
        attrs: &[AttrSpec::f32("rate", Rule::UnitInterval)],
        ordered: &[],
        int8_io: false,
    };
}

impl<T: Tensor<Elem = f32>> LayerData for Dropout<T> {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::layers::Dropout::new"
    }
    fn tensor(&self, _: usize) -> Option<TensorRef<'_>> {
        None
    }
    fn tensor_mut(&mut self, _: usize) -> Option<TensorMut<'_>> {
        None
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        (i == 0).then_some(Attr::F32(self.rate))
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        match (i, value) {
            (0, Attr::F32(v)) => {
                self.rate = v;
                true
            }
            _ => false,
        }
    }
}

impl<T: Tensor<Elem = f32>> Layer for Dropout<T> {
    type Grad = ();
    /// The random state the forward pass started from (`None` in inference mode).
    type Cache<const B: usize> = Option<Rng>;

    fn forward_train<const B: usize>(
        &mut self,
        x: &[T; B],
        y: &mut [T; B],
        cache: &mut Option<Rng>,
        ctx: &mut Context,
    ) {
        if ctx.inference {
            *cache = None;
            T::batch_slice_mut(y).copy_from_slice(T::batch_slice(x));
        } else {
            *cache = Some(ctx.rng);
            self.apply(&mut ctx.rng, T::batch_slice(x), T::batch_slice_mut(y));
        }
    }

    fn backward<const B: usize>(
        &self,
        _: &[T; B],
        _: &[T; B],
        dy: &[T; B],
        dx: Option<&mut [T; B]>,
        cache: &mut Option<Rng>,
        _: &mut (),
    ) {
        if let Some(dx) = dx {
            match *cache {
                Some(mut replay) => {
                    self.apply(&mut replay, T::batch_slice(dy), T::batch_slice_mut(dx));
                }
                None => T::batch_slice_mut(dx).copy_from_slice(T::batch_slice(dy)),
            }
        }
    }
}
