//! The streaming setup of `src/bin/stream.rs`, shared with the host program that checks it
//! (`examples/sensor_stream.rs` includes this file): the network of `src/network.rs` sees
//! the last 32 accelerometer frames, and runs every `HOP` frames.

use firmnet::stream::Window;

use crate::network::INPUTS;

/// Channels of a frame: the accelerometer's x, y and z.
pub const AXES: usize = 3;

/// Frames between two runs of the network: 8 samples, 0.16 s at 50 Hz.
pub const HOP: usize = 8;

/// A frame as the sensor gives it, m/s².
pub type Frame = [f32; AXES];

/// The network's input window, int8, quantized frame by frame as frames arrive: 192 bytes
/// of values (two copies of the 96-value window) and three words.
pub type SensorWindow = Window<i8, INPUTS, AXES, HOP>;
