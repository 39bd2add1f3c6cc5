//! Int8 activation functions as lookup tables: tanh, sigmoid, leaky ReLU, and ReLU or
//! ReLU6 where no layer before them can take them into its clamp.

use core::borrow::Borrow;
use core::marker::PhantomData;

use super::dense::{IO_ATTRS, io_attr, set_io_attr};
use super::store::{Borrowed, Owned, Store};
use super::{QLayer, QParams};
use crate::arena::{InPlace, Place};
use crate::layers::ParamKind;
use crate::net::Infer;
use crate::spec::{
    Attr, Dtype, LayerData, LayerSpec, Primitive, Rule, TensorMut, TensorRef, TensorSpec,
};
use crate::tensor::{Shape, Tensor};

/// An elementwise int8 function on tensors of type `T`: `y = table[x]`, one entry for each
/// of the 256 int8 inputs.
///
/// Any function of one value is exact this way: the table holds, for every input `q`, the
/// int8 nearest to `f(s_in·(q − z_in))` at the output's scale. It is computed once on the
/// host ([`QLut::fill`]) and stored, so every target computes the same bits without
/// evaluating `f`. Computes in place; 256 bytes of table (borrowed from the file with
/// [`Borrowed`] storage).
#[derive(Clone, Debug, PartialEq)]
pub struct QLut<T, S: Store = Owned> {
    /// `table[q as u8]` is the output for input `q` (indexed by the input's bits, so
    /// entries 0–127 are the inputs 0–127 and entries 128–255 the inputs −128 to −1).
    pub table: S::Array<i8, 256>,
    /// Quantization of the input.
    pub input: QParams,
    /// Quantization of the output.
    pub output: QParams,
    _shape: PhantomData<fn(T) -> T>,
}

impl<T> QLut<T> {
    /// The identity on inputs with scale 1 and zero point 0; usable in `const` and
    /// `static` items.
    pub const ZERO: Self = {
        let mut table = [0i8; 256];
        let mut i = 0;
        while i < 256 {
            table[i] = i as u8 as i8;
            i += 1;
        }
        QLut {
            table,
            input: QParams::UNIT,
            output: QParams::UNIT,
            _shape: PhantomData,
        }
    };

    /// The layer with this table and quantization (the constructor of Rust source written
    /// by [`format::rust_source`](crate::format::rust_source)).
    pub const fn from_parts(
        table: [i8; 256],
        input_scale: f32,
        input_zero_point: i32,
        output_scale: f32,
        output_zero_point: i32,
    ) -> Self {
        QLut {
            table,
            input: QParams {
                scale: input_scale,
                zero_point: input_zero_point,
            },
            output: QParams {
                scale: output_scale,
                zero_point: output_zero_point,
            },
            _shape: PhantomData,
        }
    }

    /// Fills the table with `f` between `input` and `output`: entry `q` is
    /// `output.quantize(f(input.dequantize(q)))`.
    pub fn fill(&mut self, f: impl Fn(f32) -> f32, input: QParams, output: QParams) {
        for (i, entry) in self.table.iter_mut().enumerate() {
            *entry = output.quantize(f(input.dequantize(i as u8 as i8)));
        }
        (self.input, self.output) = (input, output);
    }
}

impl<T> crate::tensor::Zero for QLut<T> {
    const ZERO: Self = Self::ZERO;
}

impl<'a, T> QLut<T, Borrowed<'a>> {
    /// The layer over a table borrowed from a weight file.
    pub const fn borrowed(table: &'a [i8; 256], input: QParams, output: QParams) -> Self {
        QLut {
            table,
            input,
            output,
            _shape: PhantomData,
        }
    }
}

impl<T: Tensor<Elem = i8>, S: Store> Infer for QLut<T, S> {
    type Input = T;
    type Output = T;
    type Footprint<I: Place, O: Place> = InPlace<I, O, T>;
    const IN_PLACE: bool = true;

    fn forward_with(&self, x: &T, y: &mut T, _: &mut [i8]) {
        *y = *x;
        self.apply(y);
    }

    #[inline]
    fn apply(&self, xy: &mut T) {
        let table: &[i8; 256] = self.table.borrow();
        for v in xy.as_mut_slice() {
            *v = table[usize::from(*v as u8)];
        }
    }
}

impl<T: Tensor<Elem = i8>, S: Store> QLayer for QLut<T, S> {
    fn input_params(&self) -> QParams {
        self.input
    }
    fn output_params(&self) -> QParams {
        self.output
    }
}

impl<T: Tensor<Elem = i8>, S: Store> Primitive for QLut<T, S> {
    const SPEC: LayerSpec = LayerSpec {
        kind: "qlut",
        input: T::SHAPE,
        output: T::SHAPE,
        tensors: &[TensorSpec::fixed(
            "table",
            ParamKind::Table,
            Dtype::I8,
            Shape::vector(256),
            Rule::Any,
        )],
        attrs: &IO_ATTRS,
        ordered: &[],
        int8_io: true,
    };
}

impl<T: Tensor<Elem = i8>, S: Store> LayerData for QLut<T, S> {
    fn spec(&self) -> &'static LayerSpec {
        &Self::SPEC
    }
    fn ctor(&self) -> &'static str {
        "firmnet::quant::QLut::from_parts"
    }
    fn tensor(&self, i: usize) -> Option<TensorRef<'_>> {
        (i == 0).then(|| TensorRef::I8(self.table.borrow()))
    }
    fn tensor_mut(&mut self, i: usize) -> Option<TensorMut<'_>> {
        if i != 0 {
            return None;
        }
        Some(TensorMut::I8(S::array_mut(&mut self.table)?))
    }
    fn attr(&self, i: usize) -> Option<Attr> {
        io_attr(self.input, self.output, i)
    }
    fn set_attr(&mut self, i: usize, value: Attr) -> bool {
        set_io_attr(&mut self.input, &mut self.output, i, value)
    }
}
