//! The host harness (feature `std`): datasets, the training loop, schedules, reports (their
//! PNG charts with the feature `charts`).
//!
//! Everything here runs on a PC with the standard library; the firmware never links it.

pub mod attack;
pub mod augment;
pub mod data;
pub mod ensemble;
mod progress;
pub mod quantize;
pub mod report;
pub mod schedule;
pub mod search;
pub mod trainer;

pub use attack::{evaluate_fgsm, fgsm_examples};
pub use augment::Augment;
pub use data::{DataError, Dataset, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, Normalizer, Split};
pub use ensemble::evaluate_ensemble;
pub use quantize::{Calibration, RangeMethod, calibrate, evaluate_int8, quantize};
#[cfg(feature = "charts")]
pub use report::{Chart, Series};
pub use report::{ConfusionError, ConfusionMatrix, ReportError, Summary};
pub use schedule::{LrSchedule, Schedule};
pub use search::{Search, Trial, grid_search};
pub use trainer::{
    Adversarial, Best, EpochRecord, Evaluation, FitSummary, Regularization, Samples, TrainConfig,
    TrainError, Trainer, evaluate,
};
