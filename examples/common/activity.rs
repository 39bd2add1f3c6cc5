//! The accelerometer of the sensor examples: one of three activities (still, walking,
//! shaking) as 3-axis samples in m/s² at 50 Hz, with gravity along a random direction.
//! `examples/sensor.rs` draws a fresh activity for every training window;
//! `examples/sensor_stream.rs` keeps one for a whole stretch of a continuous signal.

use firmnet::rng::Rng;

/// Standard gravity, m/s².
const G: f32 = 9.81;
/// Samples per second.
pub const RATE: f32 = 50.0;

/// One activity as the accelerometer sees it: where gravity points, and the motion.
pub struct Activity {
    /// Walking, which bounces along gravity (otherwise the motion is along `axis`).
    walking: bool,
    /// Unit vector of gravity.
    g: [f32; 3],
    /// Unit vector of the shaking.
    axis: [f32; 3],
    /// Phase of the motion, radians.
    phase: f32,
    /// Frequency (Hz), amplitude (m/s²) and noise (m/s²).
    f: f32,
    a: f32,
    noise: f32,
}

impl Activity {
    /// Activity `class` (0 still, 1 walking, 2 shaking) with its orientation, frequency,
    /// amplitude and noise drawn from `rng`. The ranges overlap a little, so telling them
    /// apart is not trivial.
    pub fn draw(class: u16, rng: &mut Rng) -> Activity {
        let unit = |rng: &mut Rng| {
            let v = [rng.normal(), rng.normal(), rng.normal()];
            let n = (v.iter().map(|x| x * x).sum::<f32>()).sqrt().max(1e-6);
            v.map(|x| x / n)
        };
        let (g, axis) = (unit(rng), unit(rng));
        let phase = rng.uniform(0.0, std::f32::consts::TAU);
        let (f, a, noise) = match class {
            0 => (0.0, 0.0, rng.uniform(0.05, 0.6)),
            1 => (rng.uniform(1.4, 2.6), rng.uniform(1.0, 4.5), 0.4),
            _ => (rng.uniform(3.0, 8.0), rng.uniform(3.0, 14.0), 1.0),
        };
        Activity {
            walking: class == 1,
            g,
            axis,
            phase,
            f,
            a,
            noise,
        }
    }

    /// The sample at step `t` (of 1/50 s), with noise from `rng`: x, y, z.
    pub fn sample(&self, t: usize, rng: &mut Rng) -> [f32; 3] {
        let s = (std::f32::consts::TAU * self.f * t as f32 / RATE + self.phase).sin();
        std::array::from_fn(|k| {
            // Walking bounces along gravity; shaking goes along its own axis.
            let dir = if self.walking {
                self.g[k]
            } else {
                self.axis[k]
            };
            G * self.g[k] + self.a * s * dir + self.noise * rng.normal()
        })
    }
}
