//! Large values built in place on the heap (feature `std`).
//!
//! On a PC a network, its optimizer and its training buffers are megabytes, too large for
//! a thread's stack. `Box::new(value)` takes the value by argument, and in a debug build
//! that argument is a copy on the stack: `Box::new(FASHION_MLP)` overflows a small
//! thread, as does `Box::new_uninit().write(…)`. The constructors here write a value known
//! at compile time straight from the program's constant data into a fresh allocation (and
//! copy a network array by array), so no stack holds the whole value, in debug builds as
//! in release:
//!
//! | value | on the heap |
//! | --- | --- |
//! | any [`Zero::ZERO`]: training buffers, arenas, gradients, int8 and deployed networks | [`zero`] |
//! | a network constant (with its dropout rates, batch-normalization settings, …) | [`boxed!`](macro@crate::boxed) |
//! | a copy of a network at run time | [`clone`] |
//! | an optimizer with its configuration | [`Adam::boxed`](crate::optim::Adam::boxed), [`Sgd::boxed`](crate::optim::Sgd::boxed) |
//!
//! ```
//! use firmnet::models::{FASHION_MLP, FashionMlp};
//! use firmnet::prelude::*;
//! use firmnet::train::TrainBuffers;
//!
//! let net: Box<FashionMlp> = firmnet::boxed!(FASHION_MLP);
//! let adam = Adam::<<FashionMlp as Layer>::Grad>::boxed(AdamConfig::DEFAULT);
//! let buffers: Box<TrainBuffers<FashionMlp, 32>> = firmnet::boxed::zero();
//! let scratch: Box<Scratch<FashionMlp>> = firmnet::boxed::zero();
//! assert_eq!(net.rest.rest.rest.first.rate, 0.2);
//! # let _ = (adam, buffers, scratch);
//! ```

use std::boxed::Box;

use crate::tensor::Zero;

/// A value known at compile time: what [`constant`] writes in place.
pub(crate) trait Constant {
    /// The type of the value.
    type Value;
    /// The value.
    const VALUE: Self::Value;
}

/// `T::ZERO` as a [`Constant`].
struct ZeroOf<T>(core::marker::PhantomData<T>);

impl<T: Zero> Constant for ZeroOf<T> {
    type Value = T;
    const VALUE: T = T::ZERO;
}

/// `C::VALUE` in a fresh allocation, copied there from the program's constant data rather
/// than through the stack.
#[allow(unsafe_code)]
pub(crate) fn constant<C: Constant>() -> Box<C::Value> {
    if core::mem::needs_drop::<C::Value>() {
        return through_stack::<C>();
    }
    let mut slot = Box::<C::Value>::new_uninit();
    let place = slot.as_mut_ptr();
    // SAFETY: `place` points to memory allocated for one `C::Value`, aligned and writable,
    // owned by `slot`. `C::Value` has no drop glue (checked above), so the assignment drops
    // nothing and only writes the constant's bytes (an assignment of a constant to a place
    // copies straight from its static data: no temporary, unlike a call such as
    // `MaybeUninit::write`). After it the memory holds a valid `C::Value`.
    unsafe {
        *place = C::VALUE;
        slot.assume_init()
    }
}

/// `Box::new(C::VALUE)`, for types with drop glue, which [`constant`] cannot assign to
/// uninitialized memory (the assignment would drop garbage). No type of firmnet's has
/// drop glue. A function of its own, so that its stack copy is no part of the caller's
/// frame.
fn through_stack<C: Constant>() -> Box<C::Value> {
    Box::new(C::VALUE)
}

/// `T::ZERO` on the heap, built in place: never on the stack, in debug builds too.
///
/// Training buffers, arenas and int8 or deployed networks are zero when new:
///
/// ```
/// use firmnet::models::FashionMlp;
/// use firmnet::net::Scratch;
/// use firmnet::quant::Int8;
/// use firmnet::train::TrainBuffers;
///
/// let buffers: Box<TrainBuffers<FashionMlp, 64>> = firmnet::boxed::zero();
/// let int8: Box<Int8<FashionMlp>> = firmnet::boxed::zero();
/// let arena = firmnet::boxed::zero::<Scratch<Int8<FashionMlp>>>();
/// # let _ = (buffers, int8, arena);
/// ```
pub fn zero<T: Zero>() -> Box<T> {
    constant::<ZeroOf<T>>()
}

/// A copy of `value` on the heap: `T::ZERO` built in place, then
/// [`clone_from`](Clone::clone_from) `value`. firmnet's layers and networks implement
/// `clone_from` array by array, so no copy of the whole value passes through the stack
/// (as `Box::new(value.clone())` does in a debug build).
///
/// ```
/// use firmnet::models::{FASHION_MLP, FashionMlp};
/// use firmnet::prelude::*;
///
/// let mut net: Box<FashionMlp> = firmnet::boxed!(FASHION_MLP);
/// net.init(Init::HeNormal, &mut Rng::new(3));
/// let copy = firmnet::boxed::clone(&*net);
/// assert_eq!(copy, net);
/// ```
pub fn clone<T: Zero + Clone>(value: &T) -> Box<T> {
    let mut copy = zero::<T>();
    (*copy).clone_from(value);
    copy
}

/// A constant on the heap, built in place: `firmnet::boxed!(FASHION_MLP)` is
/// `Box::new(FASHION_MLP)` without the stack copy that overflows a small thread in a debug
/// build. For networks and any other [`Zero`](crate::tensor::Zero) type.
///
/// The value must be a constant expression — a `const` item, a `net![…]` of const
/// constructors, `T::ZERO` in generic code — as it is evaluated at compile time; a value
/// computed at run time is a compile error ("attempt to use a non-constant value in a
/// constant"). (The allocation is first set to `ZERO`, then the constant is copied over
/// it, straight from the program's constant data.)
///
/// ```
/// use firmnet::models::{FASHION_MLP, FashionMlp};
/// use firmnet::prelude::*;
///
/// let net: Box<FashionMlp> = firmnet::boxed!(FASHION_MLP);
/// assert_eq!(*net, FASHION_MLP);
///
/// type Mlp = Net![Dense<4, 8>, Relu<[f32; 8]>, Dropout<[f32; 8]>, Dense<8, 3>];
/// let mlp: Box<Mlp> =
///     firmnet::boxed!(net![Dense::ZERO, Relu::DEFAULT, Dropout::new(0.3), Dense::ZERO]);
/// assert_eq!(mlp.rest.rest.first.rate, 0.3);
/// ```
#[macro_export]
macro_rules! boxed {
    ($value:expr $(,)?) => {{
        let mut boxed = $crate::boxed::zero();
        *boxed = const { $value };
        boxed
    }};
}
