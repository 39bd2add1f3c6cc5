#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]
//! firmnet (crate docs: work in progress)

#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod error;
pub mod init;
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod math;
pub mod net;
pub mod optim;
pub mod rng;
pub mod tensor;
pub mod train;

pub use error::Error;

/// The names most programs need: `use firmnet::prelude::*;`.
pub mod prelude {
    pub use crate::error::Error;
    pub use crate::init::Init;
    pub use crate::layers::{
        BatchNorm, Context, Dense, Dropout, GaussianNoise, Layer, LeakyRelu, ParamInfo, ParamKind,
        Params, Relu, Sigmoid, Tanh,
    };
    pub use crate::loss::{argmax, mse, softmax, softmax_cross_entropy};
    pub use crate::net::Chain;
    pub use crate::optim::{Adam, AdamConfig, Clip, Optimizer, Sgd, SgdConfig};
    pub use crate::rng::Rng;
    pub use crate::tensor::{Tensor, Zero};
    pub use crate::{Net, net};
}
