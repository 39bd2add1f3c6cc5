//! The host harness (feature `std`): datasets (MNIST-format images, CSV and `.npy` feature
//! tables), the training loop for any task, metrics, schedules, reports (their PNG charts
//! with the feature `charts`).
//!
//! Everything here runs on a PC with the standard library; the firmware never links it.

pub mod attack;
pub mod augment;
pub mod data;
pub mod ensemble;
pub mod metrics;
mod progress;
pub mod quantize;
pub mod report;
pub mod schedule;
pub mod search;
pub mod table;
#[cfg(feature = "tflite")]
pub mod tflite;
pub mod trainer;

pub use attack::{evaluate_fgsm, fgsm_examples};
pub use augment::Augment;
pub use data::{DataError, Dataset, FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, Normalizer, Split};
pub use ensemble::evaluate_ensemble;
pub use metrics::{Metrics, Monitor, Tally, Task};
pub use quantize::{
    Calibration, RangeMethod, calibrate, evaluate_int8, evaluate_int8_with, quantize,
};
#[cfg(feature = "charts")]
pub use report::{Chart, Series};
pub use report::{ConfusionError, ConfusionMatrix, ReportError, Summary};
pub use schedule::{LrSchedule, Schedule};
pub use search::{Search, Trial, grid_search};
pub use table::{At, Column, CsvHeader, Table, TableError};
pub use trainer::{
    Adversarial, Best, EpochRecord, Evaluation, FitSummary, Regularization, Samples, TrainConfig,
    TrainError, Trainer, as_input, evaluate, evaluate_with,
};
