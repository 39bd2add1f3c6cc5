//! Instructions per inference on the Cortex-M4F: `count_model` run under QEMU with the
//! instruction-counting plugin `targets/qemu-cortex-m4/tools/insnwin.c`, as `count.sh`
//! runs the kernel counts; and the cycles the plugin estimates for them from the
//! Cortex-M4's documented timings (zero-wait-state memory: the model is described, with
//! what it ignores, at the top of the plugin).

use std::path::Path;

use super::compare::{BoxError, HostInt8, Tally};
use super::{RUN_TIMEOUT, qemu};

/// The instructions of one inference, exact (QEMU counts instructions, not cycles).
#[derive(Clone, Copy, Debug)]
pub struct Counts {
    /// Images counted.
    pub images: usize,
    /// The first image's.
    pub first: u64,
    /// The fewest over the images.
    pub min: u64,
    /// The most.
    pub max: u64,
    /// The first image's estimated Cortex-M4 cycles.
    pub cycles: u64,
}

/// Builds the plugin (with `gcc`, or `$CC`), runs `elf` under the crate's `runner` with it,
/// checks the counted images' logits against `host` (into `tally`) and returns the counts,
/// less the markers' own cost (the first, empty window).
pub fn instructions(
    runner: &[String],
    elf: &Path,
    host: &HostInt8,
    tally: &mut Tally,
) -> Result<Counts, BoxError> {
    let plugin = qemu::build_insnwin()?;
    let command = qemu::counting_runner(runner, &plugin, elf)?;
    let (stdout, stderr) = qemu::run_firmware(&command, elf, RUN_TIMEOUT)?;

    let images: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("counted ")?.trim().parse().ok())
        .ok_or("count_model did not report how many images it counted")?;
    let expected = host
        .logits
        .get(..images)
        .ok_or("count_model counted more images than the host classified")?;
    let (compared, mismatches) = qemu::compare_logits(&stdout, expected);
    tally.compared += compared;
    for _ in 0..mismatches {
        tally.require(false, || {
            "cortex-m4 count_model: the counted images' logits differ from the host's".into()
        });
    }
    let net = qemu::windows(&stderr)?;
    if images == 0 || net.len() != images {
        return Err(format!(
            "the counting plugin reported {} windows for {images} images",
            net.len()
        )
        .into());
    }
    let cycles: Vec<u64> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("cycles: window ")?.split_once(" = "))
        .filter_map(|(_, n)| n.trim().parse().ok())
        .collect();
    let [cycles_overhead, cycles_first, ..] = cycles.as_slice() else {
        return Err("the counting plugin reported no cycles for the first image".into());
    };
    Ok(Counts {
        images,
        first: net.first().copied().unwrap_or(0),
        min: net.iter().copied().min().unwrap_or(0),
        max: net.iter().copied().max().unwrap_or(0),
        cycles: cycles_first.saturating_sub(*cycles_overhead),
    })
}
