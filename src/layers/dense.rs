//! Fully connected layer `y = W·x + b`.

use super::{Context, Layer, ParamInfo, ParamKind, Params, no_tensor};
use crate::arena::{Mapping, Place};
use crate::init::Init;
use crate::kernels;
use crate::net::Infer;
use crate::rng::Rng;
use crate::spec::{Attr, LayerData, LayerSpec, Primitive, TensorMut, TensorRef, TensorSpec};
use crate::tensor::{Shape, Zero};

/// Fully connected layer with `IN` inputs and `OUT` outputs: `y = W·x + b`.
///
/// `weight[o]` is the row of the `IN` weights of output `o` (row-major `OUT × IN`), so the
/// forward pass is `OUT` contiguous dot products. Its `Grad` is a `Dense` of the same shape.
///
/// ```
/// use firmnet::prelude::*;
/// static LAYER: Dense<3, 2> = Dense::ZERO; // 32 bytes of .bss; no code runs at start-up
/// let mut layer = Dense::<3, 2>::ZERO;
/// layer.weight = [[1.0, 2.0, 3.0], [0.0, -1.0, 0.0]];
/// layer.bias = [0.5, 0.0];
/// let mut y = [0.0; 2];
/// layer.forward_with(&[1.0, 1.0, 1.0], &mut y, &mut []); // a single layer needs no arena
/// assert_eq!(y, [6.5, -1.0]);
/// # let _ = &LAYER;
/// ```
#[derive(Debug, PartialEq)]
pub struct Dense<const IN: usize, const OUT: usize> {
    /// Weights, one row of `IN` per output.
    pub weight: [[f32; IN]; OUT],
    /// Biases, one per output.
    pub bias: [f32; OUT],
}

impl<const IN: usize, const OUT: usize> Dense<IN, OUT> {
    /// All weights and biases zero. Call [`Layer::init`] before training.
    pub const ZERO: Self = Dense {
        weight: [[0.0; IN]; OUT],
        bias: [0.0; OUT],
    };

    /// The layer with these weights and biases (the constructor of Rust source written by
    /// [`format::rust_source`](crate::format::rust_source)).
    pub const fn from_parts(weight: [[f32; IN]; OUT], bias: [f32; OUT]) -> Self {
        Dense { weight, bias }
    }
}

impl<const IN: usize, const OUT: usize> Clone for Dense<IN, OUT> {
    fn clone(&self) -> Self {
        Dense::from_parts(self.weight, self.bias)
    }

    /// Array by array, with no copy of the whole layer on the stack.
    fn clone_from(&mut self, source: &Self) {
        self.weight.clone_from(&source.weight);
        self.bias.clone_from(&source.bias);
    }
}

impl<const IN: usize, const OUT: usize> Zero for Dense<IN, OUT> {
    const ZERO: Self = Self::ZERO;
}

impl<const IN: usize, const OUT: usize> Params for Dense<IN, OUT> {
    const TENSORS: usize = 2;
    fn tensor(&self, i: usize) -> &[f32] {
        match i {
            0 => self.weight.as_flattened(),
            1 => &self.bias,
            _ => no_tensor(i),
        }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        match i {
            0 => self.weight.as_flattened_mut(),
            1 => &mut self.bias,
            _ => no_tensor(i),
        }
    }
    fn info(i: usize) -> ParamInfo {
        let (name, kind, rows, cols) = match i {
            0 => ("weight", ParamKind::Weight, OUT, IN),
            1 => ("bias", ParamKind::Bias, 1, OUT),
            _ => no_tensor(i),
        };
        ParamInfo {
            layer: 0,
            name,
            kind,
            rows,
            cols,
        }
    }
}

impl<const IN: usize, const OUT: usize> Infer for Dense<IN, OUT> {
    type Input = [f32; IN];
    type Output = [f32; OUT];
    type Footprint<I: Place, O: Place> = Mapping<I, O, [f32; IN], [f32; OUT]>;

    #[inline]
    fn forward_with(&self, x: &[f32; IN], y: &mut [f32; OUT], _: &mut [f32]) {
        kernels::gemv(self.weight.as_flattened(), x, &self.bias, y);
    }
}

impl<const IN: usize, const OUT: usize> Primitive for Dense<IN, OUT> {
    const SPEC: LayerSpec = LayerSpec {
        kind: "dense",
        input: Shape::vector(IN),
        output: Shape::vector(OUT),
        tensors: &[
            TensorSpec::learned("weight", ParamKind::Weight, Shape::matrix(OUT, IN)),
            TensorSpec::learned("bias", ParamKind::Bias, Shape::vector(OUT)),
        ],
        attrs: &[],
        ordered: &[],
        int8_io: false,
    };
}

impl<const IN: usize, const OUT: usize> LayerData for Dense<IN, OUT> {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::layers::Dense::from_parts"
    }
    fn tensor(&self, i: usize) -> Option<TensorRef<'_>> {
        match i {
            0 => Some(TensorRef::F32(self.weight.as_flattened())),
            1 => Some(TensorRef::F32(&self.bias)),
            _ => None,
        }
    }
    fn tensor_mut(&mut self, i: usize) -> Option<TensorMut<'_>> {
        match i {
            0 => Some(TensorMut::F32(self.weight.as_flattened_mut())),
            1 => Some(TensorMut::F32(&mut self.bias)),
            _ => None,
        }
    }
    fn attr(&self, _: usize) -> Option<Attr> {
        None
    }
    fn set_attr(&mut self, _: usize, _: Attr) -> bool {
        false
    }
}

impl<const IN: usize, const OUT: usize> Layer for Dense<IN, OUT> {
    type Grad = Dense<IN, OUT>;
    type Cache<const B: usize> = ();

    fn forward_train<const B: usize>(
        &mut self,
        x: &[[f32; IN]; B],
        y: &mut [[f32; OUT]; B],
        _: &mut (),
        _: &mut Context,
    ) {
        kernels::gemm_nt(
            x.as_flattened(),
            self.weight.as_flattened(),
            &self.bias,
            y.as_flattened_mut(),
            B,
            OUT,
            IN,
        );
    }

    fn backward<const B: usize>(
        &self,
        x: &[[f32; IN]; B],
        _: &[[f32; OUT]; B],
        dy: &[[f32; OUT]; B],
        dx: Option<&mut [[f32; IN]; B]>,
        _: &mut (),
        grad: &mut Self,
    ) {
        // dW += dYᵀ·X
        kernels::gemm_tn_acc(
            dy.as_flattened(),
            x.as_flattened(),
            grad.weight.as_flattened_mut(),
            OUT,
            IN,
            B,
        );
        // db += Σ_b dY[b]
        for row in dy {
            kernels::axpy(1.0, row, &mut grad.bias);
        }
        // dX = dY·W
        if let Some(dx) = dx {
            kernels::gemm_nn(
                dy.as_flattened(),
                self.weight.as_flattened(),
                dx.as_flattened_mut(),
                B,
                IN,
                OUT,
            );
        }
    }

    fn init(&mut self, scheme: Init, rng: &mut Rng) {
        scheme.fill(self.weight.as_flattened_mut(), IN, OUT, rng);
        self.bias = [0.0; OUT];
    }
}
