//! Reading the firmware's output and comparing it with the host's: shared by
//! `examples/verify` and `tests/verify_compare.rs`, which feeds it damaged output.

use std::collections::BTreeMap;

use firmnet_demo::fashion;

/// Any error, for the example's `?`.
pub type BoxError = Box<dyn std::error::Error>;

/// Fine-tuning: largest accepted relative difference of a loss or accuracy.
pub const LEARN_REL_TOL: f64 = 1e-4;
/// Counts disagreements and keeps the first few for the report.
#[derive(Default)]
pub struct Tally {
    /// Outputs compared.
    pub compared: usize,
    /// Of which different, or form checks failed.
    pub mismatches: usize,
    /// The first few, described.
    pub shown: Vec<String>,
}

impl Tally {
    /// One output compared.
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.compared += 1;
        self.require(ok, what);
    }

    /// A condition on the output's form (every image once, ten values each): a failure
    /// counts as a mismatch, but nothing was compared.
    pub fn require(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.mismatches += 1;
            if self.shown.len() < 10 {
                self.shown.push(what());
            }
        }
    }
}

/// The host's int8 run: every image's logits and the summary.
pub struct HostInt8 {
    /// Every image's logits.
    pub logits: Vec<[i8; fashion::CLASSES]>,
    /// Accuracy and digest.
    pub outcome: fashion::Outcome,
}

/// Values by `(label, index)`.
pub type Values = BTreeMap<(String, usize), f32>;

pub fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// `accuracy`, `digest` and `stack` lines.
pub struct Summary {
    /// Images classified correctly.
    pub correct: usize,
    /// Images.
    pub images: usize,
    /// FNV-1a of all logits.
    pub digest: u32,
    /// Stack high-water mark.
    pub stack: usize,
}

pub fn parse_summary(out: &str) -> Result<Summary, BoxError> {
    let mut s = Summary {
        correct: usize::MAX,
        images: 0,
        digest: 0,
        stack: 0,
    };
    let mut seen = 0;
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["accuracy", c, n] => {
                (s.correct, s.images) = (c.parse()?, n.parse()?);
                seen |= 1;
            }
            ["digest", d] => {
                s.digest = u32::from_str_radix(d.trim_start_matches("0x"), 16)?;
                seen |= 2;
            }
            ["stack", b] => {
                s.stack = b.parse()?;
                seen |= 4;
            }
            _ => {}
        }
    }
    if seen != 7 {
        return Err(format!(
            "the firmware did not report accuracy, digest and stack:\n{}",
            tail(out)
        )
        .into());
    }
    Ok(s)
}

/// Compares `logits i v0 … v9` lines and the summary with the host; returns the stack.
pub fn compare_int8(
    target: &str,
    out: &str,
    host: &HostInt8,
    tally: &mut Tally,
) -> Result<usize, BoxError> {
    let mut seen = vec![false; host.logits.len()];
    for line in out.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("logits") {
            continue;
        }
        let i: usize = words.next().ok_or("a logits line without index")?.parse()?;
        let values: Vec<i8> = words.map(str::parse).collect::<Result<_, _>>()?;
        let Some(expected) = host.logits.get(i) else {
            return Err(format!("{target}: logits for image {i}, which does not exist").into());
        };
        tally.require(!std::mem::replace(&mut seen[i], true), || {
            format!("{target}: image {i} reported twice")
        });
        tally.require(values.len() == expected.len(), || {
            format!(
                "{target}: image {i} has {} logits, not {}",
                values.len(),
                expected.len()
            )
        });
        for (c, &e) in expected.iter().enumerate() {
            let got = values.get(c).copied();
            tally.check(got == Some(e), || {
                format!("{target}: image {i} class {c}: firmware {got:?}, host {e}")
            });
        }
    }
    for (i, _) in seen.iter().enumerate().filter(|(_, s)| !**s) {
        tally.require(false, || format!("{target}: no logits for image {i}"));
    }
    let s = parse_summary(out)?;
    tally.check(s.digest == host.outcome.digest, || {
        format!(
            "{target}: digest {:#010x}, host {:#010x}",
            s.digest, host.outcome.digest
        )
    });
    tally.check(
        (s.correct, s.images) == (host.outcome.correct, host.outcome.images),
        || {
            format!(
                "{target}: accuracy {}/{}, host {}/{}",
                s.correct, s.images, host.outcome.correct, host.outcome.images
            )
        },
    );
    Ok(s.stack)
}

pub fn relative(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

/// Compares `logits i 0xBITS…` lines with the host's float logits, bit for bit: ten values
/// per image, every image exactly once. Also returns the largest relative difference and
/// the number of bit-identical values, for the report.
pub fn compare_float(out: &str, host: &[[f32; 10]]) -> Result<(Tally, f64, usize), BoxError> {
    let mut tally = Tally::default();
    let (mut worst, mut identical) = (0.0f64, 0);
    let mut seen = vec![false; host.len()];
    for line in out.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("logits") {
            continue;
        }
        let i: usize = words.next().ok_or("a logits line without index")?.parse()?;
        let expected = host
            .get(i)
            .ok_or_else(|| format!("float logits for image {i}, which does not exist"))?;
        tally.require(!std::mem::replace(&mut seen[i], true), || {
            format!("float: image {i} reported twice")
        });
        let values = words
            .map(|w| {
                Ok(f32::from_bits(u32::from_str_radix(
                    w.trim_start_matches("0x"),
                    16,
                )?))
            })
            .collect::<Result<Vec<f32>, BoxError>>()?;
        tally.require(values.len() == expected.len(), || {
            format!(
                "float: image {i} has {} logits, not {}",
                values.len(),
                expected.len()
            )
        });
        for (c, &e) in expected.iter().enumerate() {
            let got = values.get(c).copied().unwrap_or(f32::NAN);
            identical += usize::from(got.to_bits() == e.to_bits());
            let rel = relative(f64::from(e), f64::from(got));
            worst = worst.max(rel);
            tally.check(got.to_bits() == e.to_bits(), || {
                format!("float image {i} class {c}: firmware {got}, host {e}")
            });
        }
    }
    for (i, _) in seen.iter().enumerate().filter(|(_, s)| !**s) {
        tally.require(false, || format!("float: no logits for image {i}"));
    }
    Ok((tally, worst, identical))
}

/// Compares `label index 0xBITS` lines with the host's fine-tuning run, within
/// [`LEARN_REL_TOL`].
pub fn compare_learning(out: &str, host: &Values) -> Result<(Tally, f64), BoxError> {
    compare_learning_within(out, host, LEARN_REL_TOL)
}

/// [`compare_learning`] with the largest accepted relative difference `tol` (0: every
/// value identical); also returns the largest relative difference found.
pub fn compare_learning_within(
    out: &str,
    host: &Values,
    tol: f64,
) -> Result<(Tally, f64), BoxError> {
    let mut firmware = Values::new();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [label, index, bits, ..] = words.as_slice()
            && let Some(hex) = bits.strip_prefix("0x")
        {
            let v = f32::from_bits(u32::from_str_radix(hex, 16)?);
            firmware.insert((label.to_string(), index.parse()?), v);
        }
    }
    let mut tally = Tally::default();
    let mut worst = 0.0f64;
    for (key, &e) in host {
        let got = firmware.get(key).copied();
        let rel = got.map_or(f64::INFINITY, |g| relative(f64::from(e), f64::from(g)));
        worst = worst.max(rel);
        tally.check(rel <= tol, || {
            format!(
                "fine-tuning {} {}: firmware {got:?}, host {e}",
                key.0, key.1
            )
        });
    }
    if firmware.len() != host.len() {
        tally.require(false, || {
            format!(
                "fine-tuning: the firmware reported {} values, the host {}",
                firmware.len(),
                host.len()
            )
        });
    }
    Ok((tally, worst))
}
