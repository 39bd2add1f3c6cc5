//! The CNN's on-device learning, checked: the int8 CNN's last layers fine-tuned with Adam
//! on the quarter-turned images (`targets/common/src/finetune_cnn.rs`) in the Cortex-M4F
//! firmware under QEMU (`src/bin/finetune_cnn.rs`), against the host's identical run —
//! every loss and both accuracies **bit for bit** — with its RAM by part, from the types
//! and checked against the ELF's symbol table.
//!
//! One entry point, [`check`]: it finds the main job's CNN (`model_int8.fnet` in the CNN's
//! folder, `out/fashion_mnist/cnn/` by default), writes it into the bundle as
//! `cnn_int8.fnet` beside the fine-tuning samples, builds and runs the firmware
//! (`--features finetune-cnn`), and prints the comparison, the accuracy before and after,
//! the RAM table (also written to `finetune_cnn.md` in the bundle) and a line
//! `RESULT finetune_cnn …`.

use std::fmt::Write as _;
use std::path::Path;

use firmnet::format;
use firmnet::kernels::{self, Backend};
use firmnet_demo::finetune::{self, Samples};
use firmnet_demo::finetune_cnn as ft;

use crate::compare::{BoxError, Tally, Values, compare_learning_within};
use crate::{Bundle, Elf, Item, ROOT, aligned, qemu, run_firmware};

/// RAM the fine-tuning may take on a real Cortex-M4 (e.g. an STM32F4's 192 KB), statics
/// and stack together.
pub const RAM_BUDGET: usize = 192 * 1024;

/// What [`check`] found.
pub struct FinetuneReport {
    /// Held-out accuracy before fine-tuning (the host's).
    pub before: f32,
    /// And after.
    pub after: f32,
    /// The firmware's values against the host's.
    pub tally: Tally,
    /// The fine-tuning's RAM by part.
    pub ram: Vec<Item>,
    /// The firmware's stack high-water mark.
    pub stack: usize,
    /// Failed measurements (a static's size in the ELF differs from its type's).
    pub problems: Vec<String>,
}

impl FinetuneReport {
    /// The statics, by type.
    pub fn statics(&self) -> usize {
        self.ram.iter().map(|i| i.from_type).sum()
    }

    /// Whether every value is identical to the host's, the measurement holds, the RAM is
    /// within [`RAM_BUDGET`] and fine-tuning raised the held-out accuracy.
    pub fn ok(&self) -> bool {
        self.tally.mismatches == 0
            && self.problems.is_empty()
            && self.statics() + self.stack <= RAM_BUDGET
            // NaN (a missing accuracy) counts as no gain.
            && self.after.partial_cmp(&self.before) == Some(std::cmp::Ordering::Greater)
    }
}

impl Bundle {
    /// The fine-tuning samples.
    fn samples(&self) -> Samples<'_> {
        Samples {
            train_images: &self.train_images,
            train_labels: &self.train_labels,
            eval_images: &self.eval_images,
            eval_labels: &self.eval_labels,
        }
    }
}

/// Runs the CNN's fine-tuning on the host and on the Cortex-M4F for the int8 CNN `cnn`
/// (its weight file's bytes) and compares every value; prints what failed. `bundle` holds
/// the shifted task's samples and `out` is the bundle's folder.
///
/// # Errors
/// The file is not the CNN, the firmware does not build or run, or its output lacks a
/// value.
pub fn check(cnn: &[u8], bundle: &Bundle, out: &Path) -> Result<FinetuneReport, BoxError> {
    let report = run(cnn, &bundle.samples(), out)?;
    for problem in &report.problems {
        eprintln!("FOOTPRINT: cnn fine-tuning: {problem}");
    }
    if report.tally.mismatches > 0 {
        eprintln!(
            "MISMATCH: {} of {} cnn fine-tuning values differ:\n  {}",
            report.tally.mismatches,
            report.tally.compared,
            report.tally.shown.join("\n  ")
        );
    }
    if !report.ok() {
        eprintln!("LEARNING: the CNN's fine-tuning failed its check (see above)");
    }
    Ok(report)
}

/// The host's run and the firmware's, compared; the RAM measured.
pub fn run(cnn: &[u8], samples: &Samples<'_>, out: &Path) -> Result<FinetuneReport, BoxError> {
    let model = out.join("cnn_int8.fnet");
    // Unchanged, the file keeps its time stamp, so cargo does not rebuild the firmware.
    if std::fs::read(&model).ok().as_deref() != Some(cnn) {
        format::write_atomic(&model, cnn)?;
    }
    // The float head computes with firmnet's reference kernels, as the Cortex-M4F does.
    kernels::set_backend(Backend::Reference);
    let host = host_run(cnn, samples)?;

    let m4 = Path::new(ROOT).join("targets/qemu-cortex-m4");
    let deploy_dir = out.canonicalize()?;
    println!("building the Cortex-M4F CNN fine-tuning firmware");
    let elfs = qemu::cargo_build(
        &m4,
        &["--features", "finetune-cnn", "--bin", "finetune_cnn"],
        &[("FIRMNET_DEPLOY_DIR", deploy_dir.as_path())],
    )?;
    let elf = elfs
        .first()
        .ok_or("the Cortex-M4F build made no `finetune_cnn`")?;
    let runner = qemu::runner(&m4, "qemu-system-arm")?;
    let printed = run_firmware(&runner, elf)?;
    let (tally, worst) = compare_learning_within(&printed, &host, 0.0)?;
    let stack = printed
        .lines()
        .find_map(|l| l.strip_prefix("stack ")?.trim().parse::<usize>().ok())
        .ok_or("the CNN fine-tuning firmware did not report its stack")?;
    let value = |label: &str, i| host.get(&(label.into(), i)).copied().unwrap_or(f32::NAN);
    let (before, after) = (value("accuracy", 0), value("accuracy", 1));

    let elf = Elf::read(elf)?;
    let ram = items(&elf);
    let problems = ram
        .iter()
        .filter(|i| i.from_elf != Some(i.from_type))
        .map(|i| {
            format!(
                "{}: {} B by type, {:?} B in the ELF",
                i.symbol, i.from_type, i.from_elf
            )
        })
        .collect();
    let report = FinetuneReport {
        before,
        after,
        tally,
        ram,
        stack,
        problems,
    };
    println!(
        "cortex-m4 cnn fine-tuning ({}): accuracy on {} held-out shifted images {:.1} % -> {:.1} % over {} Adam steps; {} values compared bit for bit, {} differ (largest relative difference {worst:.2e}); eval loss {:.4} -> {:.4}",
        finetune::SHIFT,
        samples.eval_labels.len(),
        100.0 * before,
        100.0 * after,
        ft::STEPS,
        report.tally.compared,
        report.tally.mismatches,
        value("eval_loss", 0),
        value("eval_loss", 1),
    );
    let table = ram_table(&report, elf.section(".data") + elf.section(".bss"));
    format::write_atomic(out.join("finetune_cnn.md"), table.as_bytes())?;
    println!("\n{table}");
    println!(
        "RESULT finetune_cnn accuracy_before={before:.4} accuracy_after={after:.4} values={} mismatches={} ram_bytes={} stack_bytes={stack}",
        report.tally.compared,
        report.tally.mismatches,
        report.statics() + stack
    );
    Ok(report)
}

/// The host's run of [`ft::run`], every reported value by `(label, index)`.
fn host_run(cnn: &[u8], samples: &Samples<'_>) -> Result<Values, BoxError> {
    let model = aligned(cnn);
    let net = ft::network(model.bytes()).map_err(|e| e.to_string())?;
    let mut state = Box::new(ft::State::NEW);
    let mut values = Values::new();
    ft::run(
        &net,
        &mut state.workspace(),
        samples,
        &mut |label, index, value| {
            values.insert((label.to_string(), index), value);
        },
    )
    .map_err(|e| format!("the CNN's fine-tuning on the host: {e}"))?;
    Ok(values)
}

/// The fine-tuning's statics: size from the type, size in the ELF.
fn items(elf: &Elf) -> Vec<Item> {
    let item = |what, symbol, from_type| Item {
        what,
        symbol,
        from_type,
        from_elf: elf.symbol(symbol),
    };
    use std::mem::size_of;
    vec![
        item(
            "head weights (`Dense<48, 48>`, ReLU, `Dense<48, 10>`: 2,842 parameters)",
            "HEAD",
            size_of::<ft::Head>(),
        ),
        item(
            "Adam: moments m and v, settings, step",
            "ADAM",
            size_of::<ft::Optimizer>(),
        ),
        item(
            "gradients, the batch's caches, outputs and their gradients (`TrainBuffers`)",
            "BUF",
            size_of::<ft::Buffers>(),
        ),
        item(
            "batch features (the head's input)",
            "BATCH",
            size_of::<[[f32; ft::WIDTH]; ft::BATCH]>(),
        ),
        item(
            "the head's inference arena",
            "SCRATCH",
            size_of::<ft::HeadScratch>(),
        ),
        item(
            "features of the 300 training images, computed once",
            "CACHE",
            size_of::<ft::Cache>(),
        ),
        item(
            "int8 layers' activations (image, the network's arena, flatten output)",
            "ACT",
            size_of::<ft::Activations>(),
        ),
    ]
}

/// The RAM table in Markdown.
fn ram_table(r: &FinetuneReport, statics_in_elf: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Fine-tuning the int8 CNN's last layers on the Cortex-M4F (`finetune_cnn`), RAM by part \
         — size from the type, checked against the ELF's symbol table (bytes):\n"
    );
    let _ = writeln!(s, "| part | static | bytes (type) | bytes (ELF) |");
    let _ = writeln!(s, "| --- | --- | ---: | ---: |");
    for i in &r.ram {
        let elf = i.from_elf.map_or("missing".into(), |b| b.to_string());
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {elf} |",
            i.what, i.symbol, i.from_type
        );
    }
    let _ = writeln!(
        s,
        "| **statics** | | **{}** | `.data` + `.bss` = {statics_in_elf} |",
        r.statics()
    );
    let _ = writeln!(s, "| stack high-water mark (painted) | | | {} |", r.stack);
    let _ = writeln!(
        s,
        "| **total** (budget {RAM_BUDGET}: a real Cortex-M4's RAM) | | **{}** | |",
        r.statics() + r.stack
    );
    s
}
