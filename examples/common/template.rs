//! Runs a program of `targets/template` under QEMU with a model folder of the host's and
//! compares the `logits i v0 v1 …` lines it prints with the host's logits, bit for bit.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

/// A QEMU run takes a second; past this the firmware is taken to hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Builds the template's program `bin` with the model in `dir` (`MODEL_DIR`), runs it
/// under QEMU and compares its `logits i v0 v1 …` lines with `host[i]`:
/// `(logits compared, mismatches, everything the firmware printed)`. A missing, extra or
/// malformed line counts as a mismatch.
pub fn firmware<const C: usize>(
    bin: &str,
    dir: &Path,
    host: &[[i8; C]],
) -> Result<(usize, usize, String), Box<dyn std::error::Error>> {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/template");
    let dir = dir.canonicalize()?;
    println!(
        "building and running the firmware ({}, program {bin}) under QEMU",
        template.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["run", "--release", "--quiet", "--bin", bin])
        .current_dir(&template)
        .env("MODEL_DIR", &dir)
        // The firmware's own configuration, not this program's.
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo in {}: {e}", template.display()))?;
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            child.kill()?;
            return Err("the firmware did not finish in time".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().ok_or("no output")?, &mut stdout)?;
    if !status.success() {
        return Err(format!("the firmware failed ({status}):\n{stdout}").into());
    }
    let mut seen = vec![false; host.len()];
    let (mut compared, mut mismatches) = (0, 0);
    for line in stdout.lines().filter(|l| l.starts_with("logits ")) {
        let v: Vec<i64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|w| w.parse().ok())
            .collect();
        let Some((&i, logits)) = v.split_first() else {
            mismatches += 1;
            continue;
        };
        match (
            usize::try_from(i).ok().and_then(|i| host.get(i)),
            logits.len(),
        ) {
            (Some(want), n) if n == C && !seen[i as usize] => {
                seen[i as usize] = true;
                for (&got, &want) in logits.iter().zip(want) {
                    compared += 1;
                    mismatches += usize::from(got != i64::from(want));
                }
            }
            _ => mismatches += 1,
        }
    }
    mismatches += seen.iter().filter(|s| !**s).count();
    println!("firmware: {compared} int8 logits compared with the host, {mismatches} differ");
    Ok((compared, mismatches, stdout))
}

/// The exit status of a sensor example's run: success if the firmware agreed with the host
/// (`Ok(true)`); otherwise failure, with the error printed.
pub fn exit_code(run: Result<bool, Box<dyn std::error::Error>>) -> ExitCode {
    match run {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
