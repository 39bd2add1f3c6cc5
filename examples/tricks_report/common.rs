//! What every experiment shares: the data, the training runner, the report being written.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use firmnet::host::report::{self, Chart, Series};
use firmnet::host::{
    EpochRecord, Evaluation, LrSchedule, Regularization, Samples, TrainConfig, Trainer, evaluate,
};
use firmnet::prelude::*;

/// Batch size of every experiment.
pub const B: usize = 64;
/// Pixels of one image.
pub const D: usize = 784;
/// Classes.
pub const C: usize = 10;

/// 784-256-128-10 with ReLU and no batch normalization.
pub type Plain = Net![
    Dense<784, 256>,
    Relu<[f32; 256]>,
    Dense<256, 128>,
    Relu<[f32; 128]>,
    Dense<128, 10>
];
/// An untrained [`Plain`].
pub const PLAIN: Plain = net![
    Dense::ZERO,
    Relu::DEFAULT,
    Dense::ZERO,
    Relu::DEFAULT,
    Dense::ZERO
];

/// The same with batch normalization before each hidden ReLU.
pub type Normalized = Net![
    Dense<784, 256>,
    BatchNorm<256>,
    Relu<[f32; 256]>,
    Dense<256, 128>,
    BatchNorm<128>,
    Relu<[f32; 128]>,
    Dense<128, 10>
];
/// An untrained [`Normalized`].
pub const NORMALIZED: Normalized = net![
    Dense::ZERO,
    BatchNorm::DEFAULT,
    Relu::DEFAULT,
    Dense::ZERO,
    BatchNorm::DEFAULT,
    Relu::DEFAULT,
    Dense::ZERO
];

/// The boxed error every section returns.
pub type Res<T = ()> = Result<T, Box<dyn Error>>;

/// Fashion-MNIST with pixels scaled to `[0, 1]` (so an FGSM ε reads in pixel units).
pub struct Data {
    /// The training split (the validation split held out of it).
    pub train: Samples<D>,
    /// The validation split: every choice is made on it.
    pub val: Samples<D>,
    /// The test set: evaluated once per trained network, never used for a choice.
    pub test: Samples<D>,
}

/// The report under construction and the settings of the run.
pub struct Lab {
    /// The data.
    pub data: Data,
    /// `--quick`: fewer samples and epochs.
    pub quick: bool,
    /// Base seed.
    pub seed: u64,
    /// Folder of the Markdown file; plots go to `dir/tricks/`.
    pub dir: PathBuf,
    /// The Markdown body written so far.
    pub md: String,
    /// One line per claim: (section, claim, verdict).
    pub verdicts: Vec<(String, String, String)>,
    /// Machine-readable outcomes, written to `tricks/checks.txt` for the quick test.
    pub checks: Vec<(String, f64)>,
    section: String,
}

impl Lab {
    /// A report into `dir`.
    pub fn new(data: Data, quick: bool, seed: u64, dir: PathBuf) -> Self {
        Lab {
            data,
            quick,
            seed,
            dir,
            md: String::new(),
            verdicts: Vec::new(),
            checks: Vec::new(),
            section: String::new(),
        }
    }

    /// `full` epochs, or `quick` under `--quick`.
    pub fn epochs(&self, full: usize, quick: usize) -> usize {
        if self.quick { quick } else { full }
    }

    /// Starts a section: `id` is its letter, `title` its heading.
    pub fn section(&mut self, id: &str, title: &str) {
        self.section = id.to_string();
        let _ = writeln!(self.md, "\n## ({id}) {title}\n");
        eprintln!("== ({id}) {title}");
    }

    /// A paragraph of Markdown.
    pub fn text(&mut self, text: &str) {
        let _ = writeln!(self.md, "{}\n", text.trim());
    }

    /// The standard table of training runs.
    pub fn runs_table(&mut self, runs: &[&Run]) {
        let header = [
            "setting",
            "epochs",
            "train loss",
            "train acc",
            "val acc",
            "test acc",
            "time (s)",
        ];
        let rows = runs
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    r.epochs_label(),
                    num(r.train.loss, 4),
                    pct(r.train.accuracy),
                    pct(r.val.accuracy),
                    pct(r.test.accuracy),
                    format!("{:.1}", r.seconds),
                ]
            })
            .collect();
        self.table(&header, rows);
    }

    /// A Markdown table.
    pub fn table(&mut self, header: &[&str], rows: Vec<Vec<String>>) {
        let _ = writeln!(self.md, "| {} |", header.join(" | "));
        let _ = writeln!(
            self.md,
            "|{}",
            header
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { " --- |" } else { " ---: |" })
                .collect::<String>()
        );
        for row in rows {
            let _ = writeln!(self.md, "| {} |", row.join(" | "));
        }
        self.md.push('\n');
    }

    /// Draws a chart into `tricks/<file>` and links it.
    pub fn plot(&mut self, file: &str, chart: &Chart, series: &[Series]) -> Res {
        let path = self.dir.join("tricks").join(file);
        report::plot_series(&path, chart, series)?;
        let _ = writeln!(self.md, "![{}](tricks/{file})\n", chart.title);
        Ok(())
    }

    /// Records the verdict on the section's claim, for the summary table.
    pub fn verdict(&mut self, claim: &str, verdict: String) {
        let _ = writeln!(self.md, "**Verdict:** {verdict}\n");
        self.verdicts
            .push((self.section.clone(), claim.to_string(), verdict));
    }

    /// Records a number for the quick test (`<section>.<key> <value>`).
    pub fn check(&mut self, key: &str, value: f64) {
        self.checks.push((format!("{}.{key}", self.section), value));
    }
}

/// One training run: its history and its final evaluations.
pub struct Run {
    /// The setting, as the tables show it.
    pub name: String,
    /// One record per epoch trained.
    pub history: Vec<EpochRecord>,
    /// The final network on (at most 10,000 of) the training samples, inference mode.
    pub train: Evaluation,
    /// The final network on the validation split.
    pub val: Evaluation,
    /// The final network on the test set.
    pub test: Evaluation,
    /// Seconds of training.
    pub seconds: f64,
    /// The epoch whose weights the network holds (early stopping), else the last.
    pub best_epoch: usize,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
    /// Why training failed (a non-finite loss or gradient), if it did.
    pub failure: Option<String>,
}

impl Run {
    /// The epochs column: "12", "7 (stopped)", "3 (diverged)".
    pub fn epochs_label(&self) -> String {
        let n = self.history.len();
        if self.failure.is_some() {
            format!("{n} (diverged)")
        } else if self.stopped_early {
            format!("{} of {n} (early stop)", self.best_epoch)
        } else {
            n.to_string()
        }
    }

    /// Whether training ran to the end without a non-finite loss.
    pub fn finished(&self) -> bool {
        self.failure.is_none()
    }

    /// Points `(epoch, f(record))` for a chart.
    pub fn curve(&self, f: impl Fn(&EpochRecord) -> f32) -> Vec<(f64, f64)> {
        self.history
            .iter()
            .map(|r| (r.epoch as f64, f64::from(f(r))))
            .collect()
    }
}

/// A training configuration with constant learning rate `lr`, no early stopping and no
/// loop regularizers.
pub fn config(lab: &Lab, epochs: usize, lr: f32) -> TrainConfig {
    TrainConfig {
        epochs,
        schedule: LrSchedule::constant(lr),
        patience: None,
        monitor: None,
        seed: lab.seed,
        progress: false,
        regularization: Regularization::NONE,
    }
}

/// Trains `net` with `optimizer` on `train` (validating on the validation split), then
/// evaluates it on training, validation and test data. A run whose loss becomes
/// non-finite is reported as diverged, with the history up to that point; it is not an
/// error of the report.
pub fn fit<L, O>(
    lab: &Lab,
    name: &str,
    net: Box<L>,
    optimizer: Box<O>,
    config: &TrainConfig,
    train: &Samples<D>,
) -> (Run, Box<L>)
where
    L: Layer<Input = [f32; D], Output = [f32; C]> + Clone + Zero,
    O: Optimizer<L::Grad>,
{
    let mut trainer = Trainer::<L, O, B>::new(net, optimizer, lab.seed.wrapping_add(17));
    let mut history = Vec::new();
    let start = Instant::now();
    let outcome = trainer.fit(train, &lab.data.val, config, |r| history.push(*r));
    let seconds = start.elapsed().as_secs_f64();
    let (best_epoch, stopped_early, failure) = match outcome {
        Ok(s) => (s.best_epoch, s.stopped_early, None),
        Err(e) => (history.len(), false, Some(e.to_string())),
    };
    let net = trainer.net;
    let run = Run {
        name: name.to_string(),
        train: evaluate(&*net, &train.take(10_000)),
        val: evaluate(&*net, &lab.data.val),
        test: evaluate(&*net, &lab.data.test),
        history,
        seconds,
        best_epoch,
        stopped_early,
        failure,
    };
    eprintln!(
        "   {:<40} {:>3} epochs  train {:.4}  val {:.4}  test {:.4}  {:.1} s{}",
        run.name,
        run.history.len(),
        run.train.accuracy,
        run.val.accuracy,
        run.test.accuracy,
        run.seconds,
        run.failure
            .as_deref()
            .map(|f| format!("  ({f})"))
            .unwrap_or_default()
    );
    (run, net)
}

/// A freshly initialized network: a copy of `value` on the heap, with `init` drawn from
/// `seed`.
pub fn fresh<L: Layer + Zero + Clone>(value: &L, init: Init, seed: u64) -> Box<L> {
    let mut net = firmnet::boxed::clone(value);
    net.init(init, &mut Rng::new(seed));
    net
}

/// A series of a chart.
pub fn series<'a>(name: &'a str, points: &'a [(f64, f64)]) -> Series<'a> {
    Series { name, points }
}

/// A chart over epochs.
pub fn epoch_chart<'a>(title: &'a str, y_label: &'a str, log_y: bool) -> Chart<'a> {
    Chart {
        title,
        x_label: "epoch",
        y_label,
        log_x: false,
        log_y,
    }
}

/// `n` with thousands separators: 54,000.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A fraction as a percentage with two decimals.
pub fn pct(x: f32) -> String {
    if x.is_finite() {
        format!("{:.2} %", 100.0 * x)
    } else {
        "–".into()
    }
}

/// A number with `digits` decimals, or "diverged" for NaN/Inf.
pub fn num(x: f32, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "non-finite".into()
    }
}
