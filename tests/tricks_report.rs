//! The tricks-of-the-trade report, `--quick`: it runs end to end on Fashion-MNIST, writes a
//! complete document whose charts exist, and the robust effects point the lecture's way:
//! (b) batch normalization tolerates larger learning rates, (d) L1 gives exact zeros where
//! L2 does not, (h) a too-small initialization kills the signal, (i) clipping rescues a
//! too-high learning rate.
//!
//! Runs `cargo run --release --features charts --example tricks_report -- --quick` (about a minute on two
//! cores once built). Needs Debian's `dataset-fashion-mnist`; without it the example fails
//! with the message that says what to install, and so does this test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the quick report into a fresh folder and returns it.
fn run_quick() -> PathBuf {
    let out = std::env::temp_dir().join(format!("firmnet-tricks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(env!("CARGO"))
        .args(["run", "--release", "--quiet", "--features", "charts"])
        .args(["--example", "tricks_report"])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .args(["--", "--quick", "--out"])
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", env!("CARGO")));
    // The report's progress goes to stderr: shown only when it fails.
    assert!(
        run.status.success(),
        "tricks_report --quick failed: {}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

fn checks(out: &Path) -> BTreeMap<String, f64> {
    let path = out.join("tricks").join("checks.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| {
            let v: f64 = v.parse().unwrap_or_else(|e| panic!("{k}: {v:?}: {e}"));
            (k.to_string(), v)
        })
        .collect()
}

#[test]
fn quick_report_shows_the_robust_effects() {
    let out = run_quick();
    let c = checks(&out);
    let get = |k: &str| {
        *c.get(k)
            .unwrap_or_else(|| panic!("{k} missing from checks.txt"))
    };

    // (b) Batch normalization: a larger largest-stable learning rate.
    assert!(
        get("b.max_stable_lr_bn") > get("b.max_stable_lr_plain"),
        "(b) BN {} vs plain {}",
        get("b.max_stable_lr_bn"),
        get("b.max_stable_lr_plain")
    );
    // (d) L1 zeros weights exactly; L2 does not.
    let (l1, l2) = (get("d.l1_zero_fraction"), get("d.l2_zero_fraction"));
    assert!(l1 > 0.1 && l1 > l2, "(d) zero weights: L1 {l1}, L2 {l2}");
    // (h) σ = 0.01 shrinks the signal by orders of magnitude over five layers; the
    // lecture's scale keeps it.
    assert!(get("h.small_last_over_first") < 1e-3);
    let kept = get("h.lecture_last_over_first");
    assert!((0.3..=3.0).contains(&kept), "(h) lecture scale: {kept}");
    // (i) Clipping the gradient norm rescues a too-high learning rate.
    assert_eq!(get("i.clipped_finished"), 1.0);
    assert!(
        get("i.clipped_val_acc") > get("i.unclipped_val_acc") + 0.2,
        "(i) clipped {} vs unclipped {}",
        get("i.clipped_val_acc"),
        get("i.unclipped_val_acc")
    );

    // The document has every section, and every chart it links exists and is a PNG.
    let md = std::fs::read_to_string(out.join("tricks.md")).expect("tricks.md");
    for id in "abcdefghijk".chars() {
        assert!(
            md.contains(&format!("\n## ({id}) ")),
            "section ({id}) missing"
        );
    }
    let mut charts = 0;
    for link in md.split("](tricks/").skip(1) {
        let file = link.split(')').next().unwrap_or_default();
        let bytes = std::fs::read(out.join("tricks").join(file))
            .unwrap_or_else(|e| panic!("chart {file}: {e}"));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{file} is not a PNG"
        );
        charts += 1;
    }
    assert!(charts >= 11, "only {charts} charts");
    let _ = std::fs::remove_dir_all(&out);
}
