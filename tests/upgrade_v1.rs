//! `cargo run --release --features std --example upgrade_v1 -- FILE…`, what a version 2 reader's error
//! tells the owner of a version 1 file to run: on the main job's pair (written in the
//! version 1 layout by the independent writer of `tests/format_shared`) it converts both in
//! place, keeps the originals as `FILE.v1`, makes the int8 file record the float file it
//! was made from, and loads back the very same values; run again, it changes nothing; a
//! file of another network is refused with the reason and exit status 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use firmnet::format;
use firmnet::host::{RangeMethod, quantize};
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::prelude::*;
use firmnet::quant::Int8;
use firmnet::spec::TensorMut;

mod format_shared;
use format_shared::V1;

fn upgrade(files: &[&Path]) -> Output {
    // The example needs `std`; it computes as this test does, with micromath's `exp` if
    // this build has it.
    let features = if cfg!(feature = "fast-math") {
        "std,fast-math"
    } else {
        "std"
    };
    Command::new(env!("CARGO"))
        .args(["run", "--release", "--quiet", "--features", features])
        .args(["--example", "upgrade_v1"])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--")
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", env!("CARGO")))
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("firmnet-upgrade-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The main job's network with every parameter and statistic set from a seed, and its
/// int8 twin.
fn trained() -> (Box<FashionMlp>, Box<Int8<FashionMlp>>) {
    let mut net = firmnet::boxed!(FASHION_MLP);
    net.init(Init::HeNormal, &mut Rng::new(3));
    // Running statistics as training leaves them: not the defaults.
    let mut rng = Rng::new(4);
    for i in 0..<FashionMlp as Describe>::LAYERS {
        let layer = net.layer_mut(i).unwrap();
        let spec = layer.spec();
        for (t, s) in spec.tensors.iter().enumerate() {
            if let (true, Some(TensorMut::F32(d))) =
                (s.name.starts_with("running"), layer.tensor_mut(t))
            {
                for v in d {
                    *v = rng.uniform(0.5, 1.5);
                }
            }
        }
    }
    let samples: Vec<[f32; 784]> = (0..64)
        .map(|_| core::array::from_fn(|_| rng.uniform(0.0, 255.0)))
        .collect();
    let int8 = quantize(&*net, &samples, RangeMethod::MinMax).unwrap();
    (net, int8)
}

#[test]
fn the_main_jobs_version_1_pair_is_converted_in_place() {
    let dir = fresh_dir("pair");
    let (net, int8) = trained();
    let (float_v1, int8_v1) = (V1::of_float(&*net).bytes(), V1::of_int8(&*int8).bytes());
    for bytes in [&float_v1, &int8_v1] {
        assert_eq!(
            format::File::parse(bytes).unwrap_err().code(),
            format::ErrorCode::Version1
        );
    }
    let (float_path, int8_path) = (dir.join("model.fnet"), dir.join("model_int8.fnet"));
    std::fs::write(&float_path, &float_v1).unwrap();
    std::fs::write(&int8_path, &int8_v1).unwrap();

    let out = upgrade(&[&float_path, &int8_path]);
    assert!(out.status.success(), "upgrade_v1 failed:\n{}", text(&out));
    assert!(text(&out).contains("UPGRADED 2"), "{}", text(&out));
    // The originals are kept as they were.
    assert_eq!(std::fs::read(dir.join("model.fnet.v1")).unwrap(), float_v1);
    assert_eq!(
        std::fs::read(dir.join("model_int8.fnet.v1")).unwrap(),
        int8_v1
    );
    // The converted files hold the same network, and belong together.
    let (float_v2, int8_v2) = (
        std::fs::read(&float_path).unwrap(),
        std::fs::read(&int8_path).unwrap(),
    );
    let mut back = firmnet::boxed!(FASHION_MLP);
    format::load(&float_v2, &mut *back).unwrap();
    assert!(*back == *net, "the float network changed in the conversion");
    let mut back8: Box<Int8<FashionMlp>> = firmnet::boxed::zero();
    format::load(&int8_v2, &mut *back8).unwrap();
    assert!(
        *back8 == *int8,
        "the int8 network changed in the conversion"
    );
    format::check_source(&float_v2, &int8_v2).unwrap();

    // Again: nothing to do.
    let out = upgrade(&[&float_path, &int8_path]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("already version 2"), "{}", text(&out));
    assert!(text(&out).contains("UPGRADED 0"), "{}", text(&out));
    assert_eq!(std::fs::read(&float_path).unwrap(), float_v2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_version_1_file_of_another_network_is_refused_with_the_reason() {
    let dir = fresh_dir("other");
    let path = dir.join("tiny.fnet");
    let tiny = include_bytes!("data/v1_tiny_float.fnet");
    std::fs::write(&path, tiny).unwrap();
    let out = upgrade(&[&path]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not the Fashion-MNIST network"),
        "{}",
        text(&out)
    );
    // Nothing was touched.
    assert_eq!(std::fs::read(&path).unwrap(), tiny);
    assert!(!dir.join("tiny.fnet.v1").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
