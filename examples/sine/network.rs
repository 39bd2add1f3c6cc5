//! The sine regressor: `x` in `[0, 2π)` → `sin(x)`, trained by `examples/sine`; the
//! firmware's copy of the template holds this file as its `src/network.rs`.

use firmnet::Net;
use firmnet::layers::{Dense, Relu};

/// Inputs: `x`.
pub const INPUTS: usize = 1;
/// Outputs: `sin(x)`.
pub const OUTPUTS: usize = 1;

/// 1 → 16 → 16 → 1, ReLU between: 321 parameters.
pub type Network = Net![
    Dense<INPUTS, 16>,
    Relu<[f32; 16]>,
    Dense<16, 16>,
    Relu<[f32; 16]>,
    Dense<16, OUTPUTS>
];
