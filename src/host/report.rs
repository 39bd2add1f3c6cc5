//! Reports of a training run: a per-epoch CSV log, a confusion matrix with per-class rates
//! and a short end-of-run summary as text; with the feature `charts`, learning curves and the
//! confusion matrix as PNG charts, and line charts of any named series, such as the losses of
//! several runs, with `plot_series`.
//!
//! ```no_run
//! use firmnet::host::report::{self, ConfusionMatrix, Summary};
//! # fn run(
//! #     fit: &firmnet::host::FitSummary,
//! #     test: &firmnet::host::Evaluation,
//! #     labels: &[u16],
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! report::write_csv("out/history.csv", &fit.history)?;
//! let matrix = ConfusionMatrix::from_predictions(10, labels, &test.predictions)?;
//! println!("{matrix}\n{}", Summary::new(fit, Some(test)));
//! # #[cfg(feature = "charts")]
//! # {
//! report::plot_learning_curves("out/curves.png", &fit.history, "MLP", Some(fit.best_epoch))?;
//! matrix.plot("out/confusion.png", &[])?;
//! # }
//! # Ok(())
//! # }
//! ```
//!
//! Every file is written atomically: into a temporary file beside it, then renamed over it,
//! so a crash never leaves half a report behind. Missing parent directories are created.
//!
//! # Fonts
//! The charts draw their text with a TrueType font read at run time, not through the system's
//! font configuration: by default DejaVu Sans from the Debian package `fonts-dejavu-core`
//! (`FONT_PATH`, and `BOLD_FONT_PATH` for titles). The environment variable `FIRMNET_FONT`
//! or `set_font` names another font. A missing font is a [`ReportError::MissingFont`] naming
//! the package, never a panic.

use std::prelude::rust_2024::*;
use std::{format, vec};

use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::metrics::Metrics;
use super::trainer::{EpochRecord, Evaluation, FitSummary};

#[cfg(feature = "charts")]
mod charts;
#[cfg(feature = "charts")]
pub use charts::{
    BOLD_FONT_PATH, CONFUSION_MATRIX_SIZE, Chart, FONT_PACKAGE, FONT_PATH, LEARNING_CURVES_SIZE,
    SERIES_CHART_SIZE, Series, plot_learning_curves, plot_series, set_font,
};

/// Environment variable naming a TrueType font file to draw the charts with instead of the
/// default DejaVu Sans (read when the first chart is drawn).
pub const FONT_ENV: &str = "FIRMNET_FONT";

/// Header row of the CSV log: the fields of [`EpochRecord`], in order, the metrics of
/// training and validation each as loss, accuracy, MSE, MAE, R². A metric the task does
/// not define is an empty field.
pub const CSV_HEADER: &str = "epoch,lr,train_loss,train_accuracy,train_mse,train_mae,train_r2,\
val_loss,val_accuracy,val_mse,val_mae,val_r2,train_seconds,samples_per_second";

/// Fields of a CSV row.
const CSV_FIELDS: usize = 14;

/// The five CSV fields of `m`.
fn metric_fields(m: &Metrics) -> String {
    let opt = |v: Option<f32>| v.map_or(String::new(), |v| v.to_string());
    format!(
        "{},{},{},{},{}",
        m.loss,
        opt(m.accuracy),
        opt(m.mse),
        opt(m.mae),
        opt(m.r2)
    )
}

/// [`Metrics`] from five CSV fields (empty: not defined); the index of a bad field.
fn parse_metrics(fields: &[&str]) -> Result<Metrics, usize> {
    let opt = |k: usize| -> Result<Option<f32>, usize> {
        match fields[k] {
            "" => Ok(None),
            f => f.parse().map(Some).map_err(|_| k),
        }
    };
    Ok(Metrics {
        loss: fields[0].parse().map_err(|_| 0usize)?,
        accuracy: opt(1)?,
        mse: opt(2)?,
        mae: opt(3)?,
        r2: opt(4)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A report that could not be written or read, with the file it concerns.
#[derive(Debug)]
pub enum ReportError {
    /// Creating, writing, renaming or reading the file failed.
    Io {
        /// The report file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The chart font could not be read.
    MissingFont {
        /// The chart being drawn (or the font itself, from `set_font`).
        path: PathBuf,
        /// The font file.
        font: PathBuf,
        /// The Debian package that installs the font, if it is the default one.
        package: Option<&'static str>,
        /// What the operating system said.
        source: io::Error,
    },
    /// The chart font is not a TrueType or OpenType font.
    InvalidFont {
        /// The chart being drawn (or the font itself, from `set_font`).
        path: PathBuf,
        /// The font file.
        font: PathBuf,
    },
    /// The data cannot make this report (no epochs, wrong number of class names, …).
    Invalid {
        /// The report file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A CSV log read back is not one that [`write_csv`] writes.
    Parse {
        /// The CSV file.
        path: PathBuf,
        /// Line number, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Drawing or encoding a chart failed.
    Draw {
        /// The chart file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No series of a `plot_series` chart has a point it can draw: there are no series, or
    /// every point has a coordinate that is not finite, of a magnitude above 1e300, or on a
    /// log axis outside 1e-100…1e100.
    NothingToPlot {
        /// The chart file, which is not written.
        path: PathBuf,
    },
}

impl ReportError {
    /// The file the error concerns.
    pub fn path(&self) -> &Path {
        match self {
            ReportError::Io { path, .. }
            | ReportError::MissingFont { path, .. }
            | ReportError::InvalidFont { path, .. }
            | ReportError::Invalid { path, .. }
            | ReportError::Parse { path, .. }
            | ReportError::Draw { path, .. }
            | ReportError::NothingToPlot { path } => path,
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ReportError::MissingFont {
                path,
                font,
                package,
                source,
            } => {
                write!(
                    f,
                    "{}: cannot read the chart font {}: {source}",
                    path.display(),
                    font.display()
                )?;
                match package {
                    Some(package) => write!(
                        f,
                        " (install the Debian package {package}, or set {FONT_ENV} to a TrueType font file)"
                    ),
                    None => Ok(()),
                }
            }
            ReportError::InvalidFont { path, font } => write!(
                f,
                "{}: {} is not a TrueType or OpenType font",
                path.display(),
                font.display()
            ),
            ReportError::Invalid { path, message } => write!(f, "{}: {message}", path.display()),
            ReportError::Parse {
                path,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            ReportError::Draw { path, message } => {
                write!(f, "{}: drawing the chart failed: {message}", path.display())
            }
            ReportError::NothingToPlot { path } => write!(
                f,
                "{}: nothing to plot: no series has a point with finite coordinates \
                 (of magnitude at most 1e300, or from 1e-100 to 1e100 on a log axis)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReportError::Io { source, .. } | ReportError::MissingFont { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }
}

/// Labels and predictions that do not make a confusion matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfusionError {
    /// There are not as many predictions as labels.
    LengthMismatch {
        /// Number of labels.
        labels: usize,
        /// Number of predictions.
        predictions: usize,
    },
    /// A label or prediction is not below the number of classes.
    ClassOutOfRange {
        /// Index of the sample, if known.
        sample: Option<usize>,
        /// The offending class.
        class: usize,
        /// Number of classes.
        classes: usize,
    },
}

impl fmt::Display for ConfusionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfusionError::LengthMismatch {
                labels,
                predictions,
            } => write!(f, "{labels} labels but {predictions} predictions"),
            ConfusionError::ClassOutOfRange {
                sample,
                class,
                classes,
            } => {
                if let Some(sample) = sample {
                    write!(f, "sample {sample}: ")?;
                }
                write!(f, "class {class} is out of range for {classes} classes")
            }
        }
    }
}

impl std::error::Error for ConfusionError {}

// ---------------------------------------------------------------------------------------------
// Files

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory, synced,
/// then renamed over `path`. Creates missing parent directories.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io_error = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().ok_or_else(|| ReportError::Invalid {
        path: path.to_path_buf(),
        message: "not a file name".into(),
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(io_error)?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(source));
    }
    Ok(())
}

/// Writes `text` to `path` atomically (a temporary file renamed over it), creating missing
/// parent directories: for a [`Summary`] or a [`ConfusionMatrix`] table kept beside the charts.
///
/// # Errors
/// [`ReportError::Io`] if the file cannot be written.
pub fn write_text(path: impl AsRef<Path>, text: &str) -> Result<(), ReportError> {
    write_atomically(path.as_ref(), text.as_bytes())
}

/// The CSV log of `history`: [`CSV_HEADER`] and one row per epoch. Numbers are written in the
/// shortest form that reads back to the same value.
pub fn csv_string(history: &[EpochRecord]) -> String {
    let mut out = String::with_capacity(64 * (history.len() + 1));
    out.push_str(CSV_HEADER);
    out.push('\n');
    for r in history {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}",
            r.epoch,
            r.lr,
            metric_fields(&r.train),
            metric_fields(&r.val),
            r.train_seconds,
            r.samples_per_second
        );
    }
    out
}

/// Writes the per-epoch log `history` to `path` as CSV: [`CSV_HEADER`], then one row per
/// epoch with every field of [`EpochRecord`]. The file is replaced atomically.
///
/// # Errors
/// [`ReportError::Io`] if the file cannot be written.
pub fn write_csv(path: impl AsRef<Path>, history: &[EpochRecord]) -> Result<(), ReportError> {
    write_atomically(path.as_ref(), csv_string(history).as_bytes())
}

/// Reads a log written by [`write_csv`].
///
/// # Errors
/// [`ReportError::Io`] if the file cannot be read, [`ReportError::Parse`] naming the line if
/// it is not such a log.
pub fn read_csv(path: impl AsRef<Path>) -> Result<Vec<EpochRecord>, ReportError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_error = |line: usize, message: String| ReportError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim() == CSV_HEADER => {}
        _ => {
            return Err(parse_error(
                1,
                format!("expected the header {CSV_HEADER:?}"),
            ));
        }
    }
    let mut history = Vec::new();
    for (i, line) in lines {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != CSV_FIELDS {
            return Err(parse_error(
                line_no,
                format!("expected {CSV_FIELDS} fields, found {}", fields.len()),
            ));
        }
        let bad = |k: usize| {
            let name = CSV_HEADER.split(',').nth(k).unwrap_or("?");
            parse_error(line_no, format!("{name}: cannot read {:?}", fields[k]))
        };
        history.push(EpochRecord {
            epoch: fields[0].parse().map_err(|_| bad(0))?,
            lr: fields[1].parse().map_err(|_| bad(1))?,
            train: parse_metrics(&fields[2..7]).map_err(|k| bad(2 + k))?,
            val: parse_metrics(&fields[7..12]).map_err(|k| bad(7 + k))?,
            train_seconds: fields[12].parse().map_err(|_| bad(12))?,
            samples_per_second: fields[13].parse().map_err(|_| bad(13))?,
        });
    }
    Ok(history)
}

// ---------------------------------------------------------------------------------------------
// Confusion matrix

/// Counts of (true class, predicted class) pairs of a classifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major: `counts[label * classes + predicted]`.
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An empty matrix over `classes` classes.
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    /// The matrix of `predictions` against the true `labels` (one each per sample), e.g.
    /// `labels` of [`Samples::y`](super::Samples::y) and
    /// [`Evaluation::predictions`].
    ///
    /// # Errors
    /// [`ConfusionError::LengthMismatch`] if the slices differ in length,
    /// [`ConfusionError::ClassOutOfRange`] naming the first sample with a class not below
    /// `classes`.
    pub fn from_predictions(
        classes: usize,
        labels: &[u16],
        predictions: &[u16],
    ) -> Result<Self, ConfusionError> {
        if labels.len() != predictions.len() {
            return Err(ConfusionError::LengthMismatch {
                labels: labels.len(),
                predictions: predictions.len(),
            });
        }
        let mut matrix = ConfusionMatrix::new(classes);
        for (i, (&label, &predicted)) in labels.iter().zip(predictions).enumerate() {
            matrix
                .add(usize::from(label), usize::from(predicted))
                .map_err(|e| match e {
                    ConfusionError::ClassOutOfRange { class, classes, .. } => {
                        ConfusionError::ClassOutOfRange {
                            sample: Some(i),
                            class,
                            classes,
                        }
                    }
                    other => other,
                })?;
        }
        Ok(matrix)
    }

    /// Counts one sample of class `label` predicted as `predicted`.
    ///
    /// # Errors
    /// [`ConfusionError::ClassOutOfRange`] if either is not below [`classes`](Self::classes).
    pub fn add(&mut self, label: usize, predicted: usize) -> Result<(), ConfusionError> {
        for class in [label, predicted] {
            if class >= self.classes {
                return Err(ConfusionError::ClassOutOfRange {
                    sample: None,
                    class,
                    classes: self.classes,
                });
            }
        }
        self.counts[label * self.classes + predicted] += 1;
        Ok(())
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Samples of class `label` predicted as `predicted` (0 outside the matrix).
    pub fn count(&self, label: usize, predicted: usize) -> u64 {
        if label < self.classes && predicted < self.classes {
            self.counts[label * self.classes + predicted]
        } else {
            0
        }
    }

    /// All counts, row-major: row = true class, column = predicted class.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Number of samples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Number of samples classified correctly (the diagonal).
    pub fn correct(&self) -> u64 {
        (0..self.classes).map(|c| self.count(c, c)).sum()
    }

    /// Fraction classified correctly; `None` if nothing was counted.
    pub fn accuracy(&self) -> Option<f64> {
        ratio(self.correct(), self.total())
    }

    /// Samples whose true class is `class` (its row sum).
    pub fn support(&self, class: usize) -> u64 {
        (0..self.classes).map(|p| self.count(class, p)).sum()
    }

    /// Samples predicted as `class` (its column sum).
    pub fn predicted(&self, class: usize) -> u64 {
        (0..self.classes).map(|l| self.count(l, class)).sum()
    }

    /// Of the samples predicted as `class`, the fraction that are `class`; `None` if none
    /// was predicted as `class`.
    pub fn precision(&self, class: usize) -> Option<f64> {
        ratio(self.count(class, class), self.predicted(class))
    }

    /// Of the samples of `class`, the fraction predicted as `class` (the accuracy within the
    /// class); `None` if there is none.
    pub fn recall(&self, class: usize) -> Option<f64> {
        ratio(self.count(class, class), self.support(class))
    }

    /// Harmonic mean of precision and recall; `None` if either is undefined or both are 0.
    pub fn f1(&self, class: usize) -> Option<f64> {
        let (p, r) = (self.precision(class)?, self.recall(class)?);
        (p + r > 0.0).then(|| 2.0 * p * r / (p + r))
    }

    /// One-vs-rest accuracy of `class`: the fraction of all samples on which "is it `class`?"
    /// is answered right (true positives and true negatives); `None` if nothing was counted.
    pub fn class_accuracy(&self, class: usize) -> Option<f64> {
        let tp = self.count(class, class);
        let false_negatives = self.support(class) - tp;
        let false_positives = self.predicted(class) - tp;
        let total = self.total();
        ratio(total - false_negatives - false_positives, total)
    }

    /// A plain-text rendering with class names (an empty slice numbers the classes): the
    /// matrix, then precision, recall, F1 and support per class.
    pub fn table<'a>(&'a self, class_names: &'a [&'a str]) -> ConfusionTable<'a> {
        ConfusionTable {
            matrix: self,
            names: class_names,
        }
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.table(&[]), f)
    }
}

/// A [`ConfusionMatrix`] as plain text with class names, from [`ConfusionMatrix::table`].
#[derive(Clone, Copy, Debug)]
pub struct ConfusionTable<'a> {
    matrix: &'a ConfusionMatrix,
    names: &'a [&'a str],
}

impl fmt::Display for ConfusionTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.matrix;
        let n = m.classes;
        // Rows are named "index name"; columns are numbered to keep the table narrow.
        let row_names: Vec<String> = (0..n)
            .map(|c| match self.names.get(c) {
                Some(name) if self.names.len() == n => format!("{c} {name}"),
                _ => c.to_string(),
            })
            .collect();
        let name_w = row_names
            .iter()
            .map(|s| s.chars().count())
            .chain(["precision".len(), "true \\ predicted".len()])
            .max()
            .unwrap_or(0);
        let count_w = m
            .counts
            .iter()
            .map(|&c| grouped(c).len())
            .chain([n.saturating_sub(1).to_string().len(), 6])
            .max()
            .unwrap_or(6);

        writeln!(
            f,
            "Confusion matrix: {} samples, accuracy {} (rows: true class, columns: predicted)",
            grouped(m.total()),
            percent(m.accuracy(), 2)
        )?;
        write!(f, "{:<name_w$}", "true \\ predicted")?;
        for c in 0..n {
            write!(f, " {c:>count_w$}")?;
        }
        writeln!(f, "  {:>7}", "recall")?;
        for (l, name) in row_names.iter().enumerate() {
            write!(f, "{name:<name_w$}")?;
            for p in 0..n {
                write!(f, " {:>count_w$}", grouped(m.count(l, p)))?;
            }
            writeln!(f, "  {:>7}", percent(m.recall(l), 1))?;
        }
        write!(f, "{:<name_w$}", "precision")?;
        for c in 0..n {
            write!(f, " {:>count_w$}", percent(m.precision(c), 1))?;
        }
        writeln!(f)?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<name_w$}  {:>9}  {:>7}  {:>7}  {:>9}  {:>7}",
            "class", "precision", "recall", "f1", "accuracy", "support"
        )?;
        for (c, name) in row_names.iter().enumerate() {
            writeln!(
                f,
                "{name:<name_w$}  {:>9}  {:>7}  {:>7}  {:>9}  {:>7}",
                percent(m.precision(c), 1),
                percent(m.recall(c), 1),
                percent(m.f1(c), 1),
                percent(m.class_accuracy(c), 1),
                grouped(m.support(c))
            )?;
        }
        writeln!(
            f,
            "(accuracy of a class: that class against the rest, over all samples)"
        )?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Summary

/// A short end-of-run summary, printed with `Display`.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Epochs trained.
    pub epochs: usize,
    /// The most epochs the run could have trained, if known.
    pub max_epochs: Option<usize>,
    /// The epoch whose weights the network holds.
    pub best_epoch: usize,
    /// Whether early stopping ended the run before its last epoch.
    pub stopped_early: bool,
    /// The record of [`best_epoch`](Self::best_epoch), if it is in the history: its training
    /// values were measured during the epoch (dropout and noise on), its validation values
    /// in inference mode.
    pub best: Option<EpochRecord>,
    /// Loss and accuracy on the test set, if evaluated.
    pub test: Option<(f32, f32)>,
    /// Seconds spent in training steps.
    pub train_seconds: f64,
    /// Training samples per second over the whole run.
    pub samples_per_second: f64,
    /// Seconds the whole run took (loading, validation and testing included), if known.
    pub wall_seconds: Option<f64>,
}

impl Summary {
    /// The summary of `fit`, with the test-set `test` evaluation if there is one.
    pub fn new(fit: &FitSummary, test: Option<&Evaluation>) -> Self {
        let samples: f64 = fit
            .history
            .iter()
            .map(|r| r.samples_per_second * r.train_seconds)
            .sum();
        Summary {
            epochs: fit.history.len(),
            max_epochs: None,
            best_epoch: fit.best_epoch,
            stopped_early: fit.stopped_early,
            best: fit
                .history
                .iter()
                .find(|r| r.epoch == fit.best_epoch)
                .copied(),
            test: test.map(|e| (e.loss, e.accuracy)),
            train_seconds: fit.train_seconds,
            samples_per_second: if fit.train_seconds > 0.0 {
                samples / fit.train_seconds
            } else {
                0.0
            },
            wall_seconds: None,
        }
    }

    /// With the most epochs the run could have trained.
    pub fn with_max_epochs(mut self, max_epochs: usize) -> Self {
        self.max_epochs = Some(max_epochs);
        self
    }

    /// With the time the whole run took.
    pub fn with_wall_time(mut self, elapsed: std::time::Duration) -> Self {
        self.wall_seconds = Some(elapsed.as_secs_f64());
        self
    }
}

/// `seconds` as `12.3 s` or, from a minute on, `4 min 05 s (245.0 s)`.
fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s ({seconds:.0} s)")
    } else {
        format!("{m} min {s:02} s ({seconds:.1} s)")
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const W: usize = 12;
        writeln!(f, "Run summary")?;
        write!(f, "  {:<W$}{}", "epochs", self.epochs)?;
        if let Some(max) = self.max_epochs {
            write!(f, " of {max}")?;
        }
        if self.stopped_early {
            writeln!(f, ", stopped early")?;
        } else {
            writeln!(f, ", ran to the end")?;
        }
        write!(f, "  {:<W$}{}", "best epoch", self.best_epoch)?;
        if let Some(best) = &self.best {
            write!(
                f,
                " (validation accuracy {})",
                percent(Some(f64::from(best.val.accuracy.unwrap_or(f32::NAN))), 2)
            )?;
        }
        writeln!(f, "; the network holds its weights")?;
        let acc = |x: f32| percent(Some(f64::from(x)), 2);
        let loss = |x: f32| format!("{x:.4}");
        let test = self.test;
        if let Some(best) = &self.best {
            write!(
                f,
                "  {:<W$}train {}  validation {}",
                "accuracy",
                acc(best.train.accuracy.unwrap_or(f32::NAN)),
                acc(best.val.accuracy.unwrap_or(f32::NAN))
            )?;
            if let Some((_, a)) = test {
                write!(f, "  test {}", acc(a))?;
            }
            writeln!(f)?;
            write!(
                f,
                "  {:<W$}train {}  validation {}",
                "loss",
                loss(best.train.loss),
                loss(best.val.loss)
            )?;
            if let Some((l, _)) = test {
                write!(f, "  test {}", loss(l))?;
            }
            writeln!(f)?;
        } else if let Some((l, a)) = test {
            writeln!(f, "  {:<W$}test {}", "accuracy", acc(a))?;
            writeln!(f, "  {:<W$}test {}", "loss", loss(l))?;
        }
        let rate = if self.samples_per_second.is_finite() {
            grouped(self.samples_per_second.round() as u64)
        } else {
            "–".into()
        };
        writeln!(
            f,
            "  {:<W$}{} in training steps, {rate} samples/s",
            "training",
            duration(self.train_seconds),
        )?;
        if let Some(wall) = self.wall_seconds {
            writeln!(f, "  {:<W$}{}", "wall time", duration(wall))?;
        }
        Ok(())
    }
}

/// `n` with its thousands separated by commas: `12,345`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `x` as a percentage with `decimals` decimals, or a dash if it is undefined.
fn percent(x: Option<f64>, decimals: usize) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{:.*}%", decimals, 100.0 * x),
        _ => "–".into(),
    }
}
