//! Layers held fixed during training.

use super::{Context, Layer, ParamInfo, Params};
use crate::arena::{Place, Side};
use crate::init::Init;
use crate::net::{Dst, Infer, Src};
use crate::rng::Rng;
use crate::spec::{Describe, LayerData, LayerSpec};
use crate::tensor::{Tensor, Zero};

/// A layer whose parameters and statistics do not change in training.
///
/// `Frozen<L>` computes exactly what `L` computes at inference, in training too: its
/// [`forward_train`](Layer::forward_train) runs `L`'s under [`Context::inference`], so a
/// frozen batch normalization uses its running statistics and does not update them, and
/// its backward pass still carries the gradient through to the layers below. Its
/// parameters report [`Params::frozen`], so the optimizers leave them (and their moments)
/// untouched and only clear their gradients.
///
/// It is a type-level choice, like the network itself: the lecture's expressivity demo —
/// train the first layer only — is
///
/// ```
/// use firmnet::prelude::*;
/// type FirstOnly = Net![
///     Dense<784, 64>, Tanh<[f32; 64]>, Frozen<Dense<64, 64>>, Tanh<[f32; 64]>,
///     Frozen<Dense<64, 10>>
/// ];
/// assert!(!FirstOnly::frozen(0) && FirstOnly::frozen(2) && FirstOnly::frozen(5));
/// ```
///
/// The weight file of a frozen layer is that of `L` (same kind, same tensors), so a network
/// trained with frozen parts loads into the same network without them.
#[derive(Debug, PartialEq)]
pub struct Frozen<L> {
    /// The layer held fixed.
    pub layer: L,
}

impl<L> Frozen<L> {
    /// Freezes `layer`.
    pub const fn new(layer: L) -> Self {
        Frozen { layer }
    }
}

impl<L: Clone> Clone for Frozen<L> {
    fn clone(&self) -> Self {
        Frozen::new(self.layer.clone())
    }

    /// The layer's own `clone_from`.
    fn clone_from(&mut self, source: &Self) {
        self.layer.clone_from(&source.layer);
    }
}

impl<L: Zero> Zero for Frozen<L> {
    const ZERO: Self = Frozen::new(L::ZERO);
}

impl<L: Params> Params for Frozen<L> {
    const TENSORS: usize = L::TENSORS;
    fn tensor(&self, i: usize) -> &[f32] {
        self.layer.tensor(i)
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        self.layer.tensor_mut(i)
    }
    fn info(i: usize) -> ParamInfo {
        L::info(i)
    }
    fn frozen(i: usize) -> bool {
        let _ = L::info(i);
        true
    }
}

impl<L: Infer> Infer for Frozen<L> {
    type Input = L::Input;
    type Output = L::Output;
    type Footprint<I: Place, O: Place> = L::Footprint<I, O>;
    const IN_PLACE: bool = L::IN_PLACE;
    const FLIPS: bool = L::FLIPS;
    const FROM_CALLER: Side = L::FROM_CALLER;

    #[inline]
    fn forward_with(
        &self,
        x: &L::Input,
        y: &mut L::Output,
        scratch: &mut [<L::Input as Tensor>::Elem],
    ) {
        self.layer.forward_with(x, y, scratch);
    }

    #[inline]
    fn apply(&self, xy: &mut L::Output) {
        self.layer.apply(xy);
    }

    #[inline]
    fn run(
        &self,
        src: Src<'_, L::Input>,
        dst: Dst<'_, L::Output>,
        arena: &mut [<L::Input as Tensor>::Elem],
    ) {
        self.layer.run(src, dst, arena);
    }
}

/// A frozen layer is stored as the layer it freezes.
impl<L: Describe> Describe for Frozen<L> {
    const LAYERS: usize = L::LAYERS;
    const BLOCKS: bool = L::BLOCKS;
    fn layer_spec(i: usize) -> Option<&'static LayerSpec> {
        L::layer_spec(i)
    }
    fn layer(&self, i: usize) -> Option<&dyn LayerData> {
        self.layer.layer(i)
    }
    fn layer_mut(&mut self, i: usize) -> Option<&mut dyn LayerData> {
        self.layer.layer_mut(i)
    }
}

impl<L: Layer> Layer for Frozen<L> {
    type Grad = L::Grad;
    type Cache<const B: usize> = L::Cache<B>;

    fn forward_train<const B: usize>(
        &mut self,
        x: &[L::Input; B],
        y: &mut [L::Output; B],
        cache: &mut L::Cache<B>,
        ctx: &mut Context,
    ) {
        let mode = ctx.inference;
        ctx.inference = true;
        self.layer.forward_train(x, y, cache, ctx);
        ctx.inference = mode;
    }

    fn backward<const B: usize>(
        &self,
        x: &[L::Input; B],
        y: &[L::Output; B],
        dy: &[L::Output; B],
        dx: Option<&mut [L::Input; B]>,
        cache: &mut L::Cache<B>,
        grad: &mut L::Grad,
    ) {
        self.layer.backward(x, y, dy, dx, cache, grad);
    }

    /// Initializes `L` as usual: a frozen layer keeps its *initial* values.
    fn init(&mut self, scheme: Init, rng: &mut Rng) {
        self.layer.init(scheme, rng);
    }

    fn activation<const B: usize>(cache: &L::Cache<B>, i: usize) -> Option<&[f32]> {
        L::activation(cache, i)
    }
}
