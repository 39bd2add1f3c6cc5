//! Learning-rate schedules.

/// How the learning rate moves over training, after an optional linear warm-up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// Multiply by `gamma` every `every` epochs.
    Step {
        /// Epochs between decays.
        every: usize,
        /// Factor per decay.
        gamma: f32,
    },
    /// Cosine annealing from the base rate to `min_factor ×` base over all epochs
    /// (Loshchilov & Hutter's SGDR without restarts).
    Cosine {
        /// Final rate as a fraction of the base rate.
        min_factor: f32,
    },
}

/// A learning-rate schedule: base rate, shape, and linear warm-up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrSchedule {
    /// The base learning rate.
    pub base: f32,
    /// The shape after warm-up.
    pub schedule: Schedule,
    /// Epochs of linear warm-up from `base/steps` to `base` (0 for none).
    pub warmup_epochs: usize,
}

impl LrSchedule {
    /// A constant rate.
    pub const fn constant(base: f32) -> Self {
        LrSchedule {
            base,
            schedule: Schedule::Constant,
            warmup_epochs: 0,
        }
    }

    /// The rate for step `step` of `steps_per_epoch` in epoch `epoch` (0-based) of
    /// `epochs`. Changes every step, so warm-up and cosine are smooth.
    pub fn rate(&self, epoch: usize, step: usize, steps_per_epoch: usize, epochs: usize) -> f32 {
        let spe = steps_per_epoch.max(1) as f64;
        let t = epoch as f64 + step as f64 / spe; // fractional epoch
        let warm = self.warmup_epochs as f64;
        if t < warm {
            return (f64::from(self.base) * (t + 1.0 / spe) / warm) as f32;
        }
        let base = f64::from(self.base);
        let rate = match self.schedule {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => {
                base * f64::from(gamma).powi((epoch / every.max(1)) as i32)
            }
            Schedule::Cosine { min_factor } => {
                let span = (epochs as f64 - warm).max(1e-9);
                let p = ((t - warm) / span).clamp(0.0, 1.0);
                let min = base * f64::from(min_factor);
                min + (base - min) * 0.5 * (1.0 + (core::f64::consts::PI * p).cos())
            }
        };
        rate as f32
    }
}
