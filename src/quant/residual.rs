//! Residual blocks in int8: [`QResidual`], the twin of [`Residual`].
//!
//! A float block `y = body(x) + shortcut(x)` becomes the int8 twins of its branches and the
//! add that joins them, with TensorFlow Lite's semantics ([`QAdd`]): the body's output and
//! the shortcut's output each keep their own quantization, and the add rescales both to
//! the block's output quantization, calibrated at the block's output. A ReLU right after the
//! block is TensorFlow Lite's fused activation of the `ADD`: the add's clamp.
//!
//! ```
//! use firmnet::prelude::*;
//! use firmnet::quant::{Int8, QDense, QResidual};
//!
//! type Block = Residual<Net![Dense<8, 8>, Relu<[f32; 8]>, Dense<8, 8>]>;
//! type Model = Net![Dense<4, 8>, Block, Relu<[f32; 8]>, Dense<8, 3>];
//! // The block's ReLU is fused into the first dense layer of its body, the one after the
//! // block into the add's clamp.
//! let same: Option<Int8<Model>> = None::<
//!     Net![QDense<4, 8>, QResidual<Net![QDense<8, 8>, QDense<8, 8>]>, QDense<8, 3>],
//! >;
//! # let _ = same;
//! ```

use super::add::QAdd;
use super::{QLayer, QParams};
use crate::arena::{Both, Either, Inside, Outside, Place, at_side};
use crate::layers::Identity;
#[cfg(doc)]
use crate::layers::Residual;
use crate::layers::residual::{Open, Part};
use crate::net::{Dst, Infer, Src};
use crate::spec::{Describe, LayerData, LayerSpec};
use crate::tensor::{Tensor, Zero};

/// An int8 residual block: `y = add(body(x), shortcut(x))`, the body and the shortcut int8
/// networks (the shortcut the [`Identity`] by default) and `add` TensorFlow Lite's int8
/// addition of their outputs ([`QAdd`]: its `input` is the body's output quantization, its
/// `skip` the shortcut's). What [`Int8`](super::Int8) makes of a [`Residual`] block (see
/// the [module docs](self)).
///
/// It computes in the inference arena as the float block does (its footprint is the same,
/// in bytes): the body from the block's input into its output, the shortcut into the room
/// between, then the add, in place into the output. Its entries in a network's list of
/// layers ([`Describe`]) are the float block's, with `qadd` for `add`: `residual`, the
/// body's, the shortcut's, `qadd`.
#[derive(Debug, PartialEq)]
pub struct QResidual<B: Infer, S = Identity<<B as Infer>::Input>> {
    /// The int8 body.
    pub body: B,
    /// The int8 shortcut.
    pub shortcut: S,
    /// The join: `add(body's output, shortcut's output)`, clamped.
    pub add: QAdd<B::Output>,
}

impl<B: Infer, S> QResidual<B, S> {
    /// The block of these branches and this add.
    pub const fn new(body: B, shortcut: S, add: QAdd<B::Output>) -> Self {
        QResidual {
            body,
            shortcut,
            add,
        }
    }
}

impl<B: Infer + Clone, S: Clone> Clone for QResidual<B, S> {
    fn clone(&self) -> Self {
        QResidual::new(self.body.clone(), self.shortcut.clone(), self.add)
    }
}

impl<B: Infer + Zero, S: Zero> Zero for QResidual<B, S> {
    const ZERO: Self = QResidual::new(B::ZERO, S::ZERO, QAdd::ZERO);
}

impl<B, S> Infer for QResidual<B, S>
where
    B: Infer<Input: Tensor<Elem = i8>>,
    S: Infer<Input = B::Input, Output = B::Output>,
{
    type Input = B::Input;
    type Output = B::Output;
    /// As [`Residual`]'s: the input and output where they live, and between them room for
    /// either branch.
    type Footprint<I: Place, O: Place> = Both<
        I::Hold<B::Input>,
        Both<
            O::Hold<B::Output>,
            Either<B::Footprint<Outside, Outside>, S::Footprint<Outside, Inside>>,
        >,
    >;

    /// `scratch` is the room between the block's input and output: the body runs there
    /// from `x` into `y`, the shortcut from `x` into its own end of it, then the add in
    /// place into `y`.
    fn forward_with(&self, x: &B::Input, y: &mut B::Output, scratch: &mut [i8]) {
        self.body.run(Src::Caller(x), Dst::Caller(y), scratch);
        self.shortcut.run(Src::Caller(x), Dst::Arena, scratch);
        if let Some((shortcut, _)) = at_side(scratch, S::FROM_CALLER, B::Output::LEN) {
            self.add.apply_slices(y.as_mut_slice(), shortcut);
        }
    }
}

impl<B, S> QLayer for QResidual<B, S>
where
    B: QLayer,
    S: Infer<Input = B::Input, Output = B::Output>,
{
    fn input_params(&self) -> QParams {
        self.body.input_params()
    }
    fn output_params(&self) -> QParams {
        self.add.output
    }
}

impl<B, S> Describe for QResidual<B, S>
where
    B: Infer<Output: Tensor<Elem = i8>> + Describe,
    S: Describe,
{
    const LAYERS: usize = B::LAYERS + S::LAYERS + 2;
    const BLOCKS: bool = true;

    fn layer_spec(i: usize) -> Option<&'static LayerSpec> {
        match Part::of(i, B::LAYERS, S::LAYERS)? {
            Part::Open => Some(&Open::<B, S>::SPEC),
            Part::Body(j) => B::layer_spec(j),
            Part::Shortcut(j) => S::layer_spec(j),
            Part::Add => Some(&<QAdd<B::Output> as crate::spec::Primitive>::SPEC),
        }
    }

    fn layer(&self, i: usize) -> Option<&dyn LayerData> {
        match Part::of(i, B::LAYERS, S::LAYERS)? {
            Part::Open => Some(&[] as &[Open<B, S>; 0]),
            Part::Body(j) => self.body.layer(j),
            Part::Shortcut(j) => self.shortcut.layer(j),
            Part::Add => Some(&self.add),
        }
    }

    fn layer_mut(&mut self, i: usize) -> Option<&mut dyn LayerData> {
        match Part::of(i, B::LAYERS, S::LAYERS)? {
            Part::Open => {
                let open: &mut [Open<B, S>; 0] = &mut [];
                Some(open)
            }
            Part::Body(j) => self.body.layer_mut(j),
            Part::Shortcut(j) => self.shortcut.layer_mut(j),
            Part::Add => Some(&mut self.add),
        }
    }
}
