//! The crate's error type.

use core::fmt;

/// What went wrong. Every variant names what was expected and what was found.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A class label is not below the number of classes.
    LabelOutOfRange {
        /// Position of the sample in its batch.
        sample: usize,
        /// The label found.
        label: usize,
        /// Number of classes of the network's output.
        classes: usize,
    },
    /// A training target is outside what its loss accepts (e.g. a binary cross-entropy
    /// target outside `[0, 1]`).
    TargetOutOfRange {
        /// Position of the sample in its batch.
        sample: usize,
        /// The output the target belongs to.
        output: usize,
        /// The target found.
        value: f32,
        /// The valid range (e.g. `"[0, 1]"`).
        range: &'static str,
    },
    /// A setting is outside its valid range.
    InvalidSetting {
        /// Which setting, and its range (e.g. `"adversarial weight (must be in (0, 1])"`).
        what: &'static str,
    },
    /// A value that must be finite is NaN or infinite.
    NonFinite {
        /// What was being computed or read (e.g. `"loss"`, `"gradient"`, `"input"`).
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::LabelOutOfRange {
                sample,
                label,
                classes,
            } => write!(
                f,
                "label {label} of sample {sample} is out of range: the network has {classes} classes (labels 0..{classes})"
            ),
            Error::TargetOutOfRange {
                sample,
                output,
                value,
                range,
            } => write!(
                f,
                "target {value} of output {output} of sample {sample} is outside {range}, the targets this loss accepts"
            ),
            Error::InvalidSetting { what } => write!(f, "invalid setting: {what}"),
            Error::NonFinite { what } => write!(f, "{what} is not finite (NaN or infinity)"),
        }
    }
}

impl core::error::Error for Error {}
