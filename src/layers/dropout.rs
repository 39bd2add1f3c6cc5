//! Inverted dropout (Srivastava et al., 2014).

use core::marker::PhantomData;

use super::{Context, Layer, no_params};
use crate::rng::Rng;
use crate::tensor::Tensor;

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

no_params!([T] Dropout<T>);

impl<T: Tensor> Layer for Dropout<T> {
    type Input = T;
    type Output = T;
    type Grad = ();
    /// The random state the forward pass started from (`None` in inference mode).
    type Cache<const B: usize> = Option<Rng>;
    type Scratch = ();
    const KIND: &'static str = "dropout";

    fn forward(&self, x: &T, y: &mut T, _: &mut ()) {
        y.as_mut_slice().copy_from_slice(x.as_slice());
    }

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
