//! The network, defined once: the host trains this type (`examples/sensor.rs` includes this
//! file), quantizes it and exports its weights; the firmware runs its int8 twin, whose type
//! the compiler derives from it.

use firmnet::Net;
use firmnet::layers::{BatchNorm, Dense, Dropout, Relu, Tanh};

/// Inputs: a window of 32 accelerometer samples × 3 axes, sample after sample.
pub const INPUTS: usize = 96;
/// Outputs: one logit per class — still, walking, shaking.
pub const OUTPUTS: usize = 3;

/// The classifier: 96 → 32 (batch-normalized ReLU, dropout in training) → 16 (tanh) → 3.
pub type Network = Net![
    Dense<INPUTS, 32>,
    BatchNorm<32>,
    Relu<[f32; 32]>,
    Dropout<[f32; 32]>,
    Dense<32, 16>,
    Tanh<[f32; 16]>,
    Dense<16, OUTPUTS>
];
