//! The lecture's tricks of the trade, measured on Fashion-MNIST.
//!
//! ```sh
//! cargo run --release --features charts --example tricks_report -- [--quick] [--data DIR] [--out DIR] [--seed S]
//! ```
//!
//! Runs one experiment per claim of the lecture — (a) optimizers, (b) batch normalization
//! and the learning rate, (c) overfitting and noise, (d) L1 sparsity, (e) early stopping,
//! (f) ensembles, (g) adversarial examples, (h) initialization, (i) gradient clipping,
//! (j) training the first layer only, (k) choosing hyperparameters on validation data —
//! and writes `OUT/tricks.md` (default `docs/tricks.md`) with a table and a chart per claim
//! in `OUT/tricks/`, and a verdict on each claim computed from the numbers. The full run
//! takes about ten minutes on two cores; `--quick` trains on fewer samples for fewer
//! epochs (about two minutes) and is what the test suite runs.
//!
//! `OUT/tricks/checks.txt` lists the key outcomes as `name value` lines, for tests.

mod common;
mod convergence;
mod ensembles;
mod expressivity;
mod regularization;
mod robustness;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use common::{D, Data, Lab, Res};
use firmnet::host::{Dataset, FASHION_MNIST_DIR, Samples, report};

struct Args {
    data: PathBuf,
    out: PathBuf,
    quick: bool,
    seed: u64,
    /// Sections to run (letters); empty for all.
    only: Vec<char>,
}

const USAGE: &str =
    "usage: tricks_report [--quick] [--data DIR] [--out DIR] [--seed S] [--only a,b,...]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: PathBuf::from(FASHION_MNIST_DIR),
        out: PathBuf::from("docs"),
        quick: false,
        seed: 1,
        only: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--quick" => args.quick = true,
            "--data" => args.data = value("--data")?.into(),
            "--out" => args.out = value("--out")?.into(),
            "--seed" => {
                args.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            "--only" => {
                args.only = value("--only")?
                    .split(',')
                    .filter_map(|s| s.trim().chars().next())
                    .collect()
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// Loads Fashion-MNIST, holds out 10 % of the training set for validation, scales pixels
/// to `[0, 1]`; `--quick` keeps 8,000 training, 2,000 validation and 5,000 test samples.
fn load(args: &Args) -> Res<Data> {
    let data = Dataset::load_mnist_dir(&args.data, 10)?;
    let (train, val) = data.train.split_off(0.1, args.seed);
    let scaled = |split, name| -> Res<Samples<D>> {
        let mut s = Samples::<D>::raw_from_split(split, name)?;
        s.scale(1.0 / 255.0);
        Ok(s)
    };
    let (mut train, mut val, mut test) = (
        scaled(&train, "training images")?,
        scaled(&val, "validation images")?,
        scaled(&data.test, "test images")?,
    );
    if args.quick {
        train = train.take(8_000);
        val = val.take(2_000);
        test = test.take(5_000);
    }
    Ok(Data { train, val, test })
}

fn run() -> Res {
    let args = parse_args()?;
    let started = Instant::now();
    let data = load(&args)?;
    eprintln!(
        "fashion-mnist: {} training, {} validation, {} test samples{}",
        data.train.len(),
        data.val.len(),
        data.test.len(),
        if args.quick { " (--quick)" } else { "" }
    );
    let mut lab = Lab::new(data, args.quick, args.seed, args.out.clone());

    let on = |id: char| args.only.is_empty() || args.only.contains(&id);
    if on('a') {
        convergence::optimizers(&mut lab)?;
    }
    if on('b') {
        convergence::batch_norm(&mut lab)?;
    }
    if on('c') || on('d') || on('e') {
        let baseline = regularization::overfitting(&mut lab)?;
        regularization::sparsity(&mut lab)?;
        regularization::early_stopping(&mut lab, &baseline)?;
    }
    if on('f') {
        ensembles::ensemble(&mut lab)?;
    }
    if on('g') {
        robustness::adversarial(&mut lab)?;
    }
    if on('h') {
        convergence::initialization(&mut lab)?;
    }
    if on('i') {
        convergence::clipping(&mut lab)?;
    }
    if on('j') {
        expressivity::first_layer(&mut lab)?;
    }
    if on('k') {
        ensembles::selection(&mut lab)?;
    }

    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let doc = document(&lab, &args, minutes);
    report::write_text(args.out.join("tricks.md"), &doc)?;
    let checks: String = lab
        .checks
        .iter()
        .map(|(k, v)| format!("{k} {v}\n"))
        .collect();
    report::write_text(args.out.join("tricks").join("checks.txt"), &checks)?;
    eprintln!(
        "wrote {} and its charts in {:.1} min",
        args.out.join("tricks.md").display(),
        minutes
    );
    Ok(())
}

/// The whole Markdown document: header, summary of verdicts, the sections.
fn document(lab: &Lab, args: &Args, minutes: f64) -> String {
    let mut doc = String::new();
    let _ = writeln!(doc, "# Tricks of the trade, measured\n");
    let _ = writeln!(
        doc,
        "Each claim of the lecture *Tricks of the trade*, tested on Fashion-MNIST with this \
         crate's layers, optimizers and training loop. Every number below comes from one run \
         of\n\n```sh\ncargo run --release --features charts --example tricks_report{}\n```\n",
        if args.quick { " -- --quick" } else { "" }
    );
    let _ = writeln!(
        doc,
        "on {} ({} on {}, {} threads available; the training loop uses one), \
         seed {}, in {minutes:.1} minutes. Pixels are scaled to [0, 1]; 10 % of the training \
         set is held out for validation, every choice is made on it, and the test set is \
         evaluated once per trained network. Batch size 64 throughout.{}\n",
        today(),
        cpu_model(),
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        lab.seed,
        if lab.quick {
            " **This is a `--quick` run: 8,000 training samples and few epochs; its \
             numbers show directions, not the effects' sizes.**"
        } else {
            ""
        }
    );
    let _ = writeln!(doc, "## Summary\n");
    let _ = writeln!(doc, "| | claim | what we measured |\n| --- | --- | --- |");
    for (id, claim, verdict) in &lab.verdicts {
        let _ = writeln!(doc, "| ({id}) | {claim} | {verdict} |");
    }
    doc.push_str(&lab.md);
    doc
}

/// Today's date (UTC), from the system clock.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The processor's name, from `/proc/cpuinfo` where there is one.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "an unknown processor".into())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
