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
            Error::InvalidSetting { what } => write!(f, "invalid setting: {what}"),
            Error::NonFinite { what } => write!(f, "{what} is not finite (NaN or infinity)"),
        }
    }
}

impl core::error::Error for Error {}
