//! What the firmware tests and `examples/verify/main.rs` share: finding the toolchain, building
//! a firmware crate without the outer build's settings, reading its QEMU runner line, and
//! running QEMU with a timeout.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The `rustc` that the nested `cargo` will use: `$RUSTC`, else the one beside `cargo`
/// (a rustup toolchain folder), else the one on PATH.
pub fn rustc() -> PathBuf {
    if let Some(rustc) = std::env::var_os("RUSTC") {
        return rustc.into();
    }
    let beside_cargo =
        Path::new(env!("CARGO")).with_file_name(format!("rustc{}", std::env::consts::EXE_SUFFIX));
    if beside_cargo.is_file() {
        beside_cargo
    } else {
        PathBuf::from("rustc")
    }
}

/// Removes what the outer `cargo test` passes down and what would redirect or reconfigure
/// the nested build: every `CARGO_*` variable (target directory, build target, encoded
/// flags, profile overrides, package metadata …) except those that locate cargo's home,
/// registries and network settings, and `RUSTFLAGS`/`RUSTDOCFLAGS`. The firmware's own
/// `.cargo/config.toml` then decides target and flags.
pub fn remove_outer_build_settings(cmd: &mut Command) {
    const KEEP: [&str; 5] = [
        "CARGO_HOME",
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
    ];
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let cargo_setting = key == "CARGO"
            || key.starts_with("__CARGO")
            || (key.starts_with("CARGO_") && !KEEP.iter().any(|keep| key.starts_with(keep)));
        if cargo_setting || key == "RUSTFLAGS" || key == "RUSTDOCFLAGS" {
            cmd.env_remove(key);
        }
    }
}

/// Copies `targets/template` to `dst` as a user would — everything but its build output —
/// with `firmnet = { path = "../.." … }` pointing at this checkout. An existing `dst` is
/// replaced.
///
/// # Errors
/// A file cannot be read or written, or the template's manifest no longer has that line.
pub fn copy_template(dst: &Path) -> Result<(), String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let _ = std::fs::remove_dir_all(dst);
    copy_dir(&repo.join("targets/template"), dst)?;
    let manifest = dst.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("read {}: {e}", manifest.display()))?;
    let line = "firmnet = { path = \"../..\", default-features = false }";
    if !text.contains(line) {
        return Err(format!(
            "the template's Cargo.toml no longer has `{line}`: update copy_template"
        ));
    }
    let text = text.replace(
        line,
        &format!(
            "firmnet = {{ path = {:?}, default-features = false }}",
            repo.display().to_string()
        ),
    );
    std::fs::write(&manifest, text).map_err(|e| format!("write {}: {e}", manifest.display()))
}

fn copy_dir(src: &Path, dst: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dst).map_err(|e| format!("create {}: {e}", dst.display()))?;
    for entry in std::fs::read_dir(src).map_err(|e| format!("read {}: {e}", src.display()))? {
        let entry = entry.map_err(|e| format!("read {}: {e}", src.display()))?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        if entry.file_name() == "target" {
            continue;
        }
        if from.is_dir() {
            copy_dir(&from, &to)?;
        } else {
            std::fs::copy(&from, &to).map_err(|e| format!("copy {}: {e}", from.display()))?;
        }
    }
    Ok(())
}

/// The `logits i v0 v1 …` lines of a firmware's output compared with `host`, the outputs
/// expected for `i = 0, 1, …`: `(values compared, mismatches)`. A malformed, repeated,
/// missing or extra line counts as a mismatch.
pub fn compare_logits<const N: usize>(stdout: &str, host: &[[i8; N]]) -> (usize, usize) {
    let mut seen = vec![false; host.len()];
    let (mut compared, mut mismatches) = (0, 0);
    for line in stdout.lines().filter(|l| l.starts_with("logits ")) {
        let v: Vec<i64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|w| w.parse().ok())
            .collect();
        let Some((&i, values)) = v.split_first() else {
            mismatches += 1;
            continue;
        };
        match usize::try_from(i).ok().filter(|&i| i < host.len()) {
            Some(i) if values.len() == N && !seen[i] => {
                seen[i] = true;
                for (&got, &want) in values.iter().zip(&host[i]) {
                    compared += 1;
                    mismatches += usize::from(got != i64::from(want));
                }
            }
            _ => mismatches += 1,
        }
    }
    mismatches += seen.iter().filter(|s| !**s).count();
    (compared, mismatches)
}

/// Runs `cargo build --release` with `args` in the firmware crate at `dir` — its own
/// `.cargo/config.toml` deciding target and flags, none of the outer build's settings, the
/// outer build's compiler, firmnet's `fast-math` if this build has it — with `env` added,
/// and returns the executables it built.
///
/// # Errors
/// Cargo cannot be started, the build fails (with its diagnostics), or it built nothing.
pub fn cargo_build(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &Path)],
) -> Result<Vec<PathBuf>, String> {
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null());
    // The firmware computes as the host does: with micromath's `exp` if the host does.
    if cfg!(feature = "fast-math") {
        cargo.args(["--features", "firmnet/fast-math"]);
    }
    remove_outer_build_settings(&mut cargo);
    cargo.env("RUSTC", rustc());
    for (key, value) in env {
        cargo.env(key, value);
    }
    let out = cargo
        .output()
        .map_err(|e| format!("cannot run {}: {e}", env!("CARGO")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "`cargo build --release {}` in {} failed ({}):\n{}",
            args.join(" "),
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let elfs: Vec<PathBuf> = stdout
        .lines()
        .filter(|line| line.contains(r#""reason":"compiler-artifact""#))
        .filter_map(json_executable)
        .map(PathBuf::from)
        .collect();
    if elfs.is_empty() {
        return Err(format!(
            "`cargo build` in {} reported no executable:\n{stdout}",
            dir.display()
        ));
    }
    Ok(elfs)
}

/// The runner command of the firmware crate's `.cargo/config.toml` at `dir`, split into
/// words; it must start `qemu`.
///
/// # Errors
/// The file cannot be read, has no `runner` line, or its runner is not `qemu`.
pub fn runner(dir: &Path, qemu: &str) -> Result<Vec<String>, String> {
    let path = dir.join(".cargo/config.toml");
    let config = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let line = config
        .lines()
        .map(str::trim)
        .find(|line| line.starts_with("runner"))
        .ok_or_else(|| format!("no `runner = \"…\"` line in {}", path.display()))?;
    let value = line
        .split_once('=')
        .map(|(_, v)| v.trim().trim_matches('"'));
    let words: Vec<String> = value
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    if words.first().map(String::as_str) != Some(qemu) {
        return Err(format!(
            "the runner in {} does not start {qemu}: {line}",
            path.display()
        ));
    }
    Ok(words)
}

/// The value of `"executable":"…"` in one line of cargo's JSON messages, if it is a string.
pub fn json_executable(line: &str) -> Option<String> {
    let rest = &line[line.find(r#""executable":""#)? + r#""executable":""#.len()..];
    let mut path = String::new();
    let mut chars = rest.chars();
    loop {
        match chars.next()? {
            '"' => return Some(path),
            '\\' => match chars.next()? {
                'n' => path.push('\n'),
                't' => path.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    path.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                c => path.push(c), // \" \\ \/
            },
            c => path.push(c),
        }
    }
}

/// Runs the firmware `elf` under QEMU with the crate's `runner` words (see [`runner`]);
/// its stdout and stderr if it exits with status 0 within `timeout`.
///
/// # Errors
/// QEMU cannot be started, exits with another status or is killed at the timeout; the
/// message holds the command and the last 40 lines of both outputs.
pub fn run_firmware(
    runner: &[String],
    elf: &Path,
    timeout: Duration,
) -> Result<(String, String), String> {
    let Some((program, args)) = runner.split_first() else {
        return Err("an empty runner command".into());
    };
    let mut qemu = Command::new(program);
    qemu.args(args).arg(elf);
    let shown = format!("{} {}", runner.join(" "), elf.display());
    let last = |s: &str| {
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    match run_with_timeout(qemu, timeout).map_err(|e| format!("`{shown}`: {e}"))? {
        (Some(status), stdout, stderr) if status.success() => Ok((stdout, stderr)),
        (Some(status), stdout, stderr) => Err(format!(
            "the firmware exited with {status}: `{shown}`\n--- stdout (end) ---\n{}\n--- stderr (end) ---\n{}",
            last(&stdout),
            last(&stderr)
        )),
        (None, stdout, stderr) => Err(format!(
            "the firmware did not finish within {timeout:?} and was killed: `{shown}`\n--- stdout (end) ---\n{}\n--- stderr (end) ---\n{}",
            last(&stdout),
            last(&stderr)
        )),
    }
}

/// Runs `cmd` with its output captured; kills it after `timeout`. Returns its status
/// (`None` if it was killed), stdout and stderr.
///
/// # Errors
/// The program cannot be started or waited for.
pub fn run_with_timeout(
    mut cmd: Command,
    timeout: Duration,
) -> Result<(Option<ExitStatus>, String, String), String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start it: {e}"))?;
    // Drain both pipes on threads, so a chatty child never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );

    let deadline = Instant::now() + timeout;
    let status = loop {
        match child
            .try_wait()
            .map_err(|e| format!("cannot wait for it: {e}"))?
        {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => thread::sleep(Duration::from_millis(10)),
        }
    };
    // A drain thread only reads; should one have panicked, its output is lost, not the run.
    let (stdout, stderr) = (
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    );
    Ok((status, stdout, stderr))
}

/// Builds the instruction-counting QEMU plugin `targets/qemu-cortex-m4/tools/insnwin.c`
/// (with `gcc`, or `$CC`) into that crate's `target/libinsnwin.so` and returns its path. It
/// counts on any QEMU target: the Cortex-M cores and RISC-V alike.
///
/// # Errors
/// The compiler cannot be started or fails.
pub fn build_insnwin() -> Result<PathBuf, String> {
    let m4 = Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/qemu-cortex-m4");
    let plugin = m4.join("target/libinsnwin.so");
    std::fs::create_dir_all(m4.join("target"))
        .map_err(|e| format!("create {}: {e}", m4.join("target").display()))?;
    let cc = std::env::var_os("CC").unwrap_or_else(|| "gcc".into());
    let status = Command::new(&cc)
        .args(["-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-o"])
        .arg(&plugin)
        .arg(m4.join("tools/insnwin.c"))
        .status()
        .map_err(|e| format!("cannot build the counting plugin with {cc:?}: {e}"))?;
    if !status.success() {
        return Err(format!("building the counting plugin failed ({status})"));
    }
    Ok(plugin)
}

/// `runner` (see [`runner`]) with `plugin` ([`build_insnwin`]) loaded to count the
/// instructions between each call of `bench_start` and the next of `bench_end` in `elf`.
///
/// # Errors
/// The ELF cannot be read or lacks one of the two symbols.
pub fn counting_runner(
    runner: &[String],
    plugin: &Path,
    elf: &Path,
) -> Result<Vec<String>, String> {
    use object::{Object, ObjectSymbol};
    let bytes = std::fs::read(elf).map_err(|e| format!("read {}: {e}", elf.display()))?;
    let file = object::File::parse(&*bytes).map_err(|e| format!("{}: {e}", elf.display()))?;
    let address = |name: &str| -> Result<u64, String> {
        file.symbols()
            .find(|s| s.name() == Ok(name))
            // Thumb: the symbol's lowest bit marks the instruction set, not the address.
            .map(|s| s.address() & !1)
            .ok_or_else(|| format!("{} has no `{name}`", elf.display()))
    };
    let arg = format!(
        "{},start={:#x},end={:#x}",
        plugin.display(),
        address("bench_start")?,
        address("bench_end")?
    );
    let mut command = runner.to_vec();
    command.splice(1..1, ["-plugin".to_string(), arg]);
    Ok(command)
}

/// The Cortex-M4 cycles the plugin estimates for each window (its `cycles: window` lines),
/// less the first, empty window's (the markers' cost); empty if it reports none.
pub fn cycle_windows(stderr: &str) -> Vec<u64> {
    let windows: Vec<u64> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("cycles: window ")?.split_once(" = "))
        .filter_map(|(_, n)| n.trim().parse().ok())
        .collect();
    match windows.as_slice() {
        [overhead, counts @ ..] => counts.iter().map(|c| c.saturating_sub(*overhead)).collect(),
        [] => Vec::new(),
    }
}

/// The instructions of each window the plugin reported on `stderr` after the first, less
/// the first: the program's first window is empty, the markers' own cost.
///
/// # Errors
/// The plugin reported no window.
pub fn windows(stderr: &str) -> Result<Vec<u64>, String> {
    let windows: Vec<u64> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("insnwin: window ")?.split_once(" = "))
        .filter_map(|(_, n)| n.trim().parse().ok())
        .collect();
    let [overhead, counts @ ..] = windows.as_slice() else {
        return Err("the counting plugin reported no window".into());
    };
    Ok(counts.iter().map(|c| c.saturating_sub(*overhead)).collect())
}
