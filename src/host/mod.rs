//! The host harness (feature `std`): datasets, the training loop, schedules, reports.
//!
//! Everything here runs on a PC with the standard library; the firmware never links it.

pub mod augment;
pub mod data;
pub mod report;
pub mod schedule;
pub mod trainer;

pub use data::{DataError, Dataset, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, Normalizer, Split};
pub use report::{ConfusionError, ConfusionMatrix, ReportError, Summary};
pub use schedule::{LrSchedule, Schedule};
pub use trainer::{
    EpochRecord, Evaluation, FitSummary, Samples, TrainConfig, TrainError, Trainer, evaluate,
};
