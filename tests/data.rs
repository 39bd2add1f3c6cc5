//! The IDX reader and the training loop's error paths, on small files made here.

use std::io::Write;
use std::path::{Path, PathBuf};

use firmnet::host::{
    DataError, Dataset, LrSchedule, Normalizer, Regularization, Samples, Split, TrainConfig,
    TrainError, Trainer,
};
use firmnet::prelude::*;

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

struct Dir(PathBuf);
impl Dir {
    fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("firmnet-data-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Three 2×2 images and their labels.
fn images() -> Vec<u8> {
    idx(
        0x803,
        &[3, 2, 2],
        &[0, 255, 10, 20, 30, 40, 50, 60, 1, 2, 3, 4],
    )
}
fn labels() -> Vec<u8> {
    idx(0x801, &[3], &[2, 0, 1])
}

#[test]
fn reads_raw_and_gzip_files_alike() {
    let d = Dir::new("ok");
    let raw = Split::read(&d.write("i", &images()), &d.write("l", &labels()), 3).unwrap();
    let gz = Split::read(
        &d.write("i.gz", &gzip(&images())),
        &d.write("l.gz", &gzip(&labels())),
        3,
    )
    .unwrap();
    assert_eq!(raw, gz);
    assert_eq!((raw.len(), raw.rows, raw.cols, raw.dim), (3, 2, 2, 4));
    assert_eq!(raw.image(1), &[30, 40, 50, 60]);
    assert_eq!(raw.labels, [2, 0, 1]);
}

#[test]
fn every_fault_is_named() {
    let d = Dir::new("bad");
    let l = d.write("l", &labels());
    let i = d.write("i", &images());
    let msg = |e: DataError| e.to_string();

    let bad_magic = d.write("m", &idx(0x801, &[3, 2, 2], &[0; 12]));
    let e = Split::read(&bad_magic, &l, 3).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::BadMagic {
                expected: 0x803,
                found: 0x801,
                ..
            }
        ),
        "{e}"
    );
    assert!(msg(e).contains("magic number 0x00000801, expected 0x00000803"));

    let short = d.write("t", &images()[..20]);
    let e = Split::read(&short, &l, 3).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::Truncated {
                expected: 28,
                found: 20,
                ..
            }
        ),
        "{e}"
    );
    assert!(msg(e).contains("truncated"));

    let header_only = d.write("h", &images()[..6]);
    assert!(matches!(
        Split::read(&header_only, &l, 3),
        Err(DataError::Truncated { .. })
    ));

    let e = Split::read(&i, &l, 2).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::LabelOutOfRange {
                index: 0,
                label: 2,
                classes: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(msg(e).contains("label 2 of sample 0 is out of range"));

    let two_labels = d.write("l2", &idx(0x801, &[2], &[0, 1]));
    let e = Split::read(&i, &two_labels, 3).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::CountMismatch {
                image_count: 3,
                label_count: 2,
                ..
            }
        ),
        "{e}"
    );

    let e = Split::read(&d.0.join("absent"), &l, 3).unwrap_err();
    assert!(matches!(e, DataError::Missing { .. }));

    let gz_garbage = d.write("g", &[0x1f, 0x8b, 1, 2, 3]);
    assert!(matches!(
        Split::read(&gz_garbage, &l, 3),
        Err(DataError::Io { .. })
    ));

    let zero = d.write("z", &idx(0x803, &[1, 0, 5], &[]));
    assert!(matches!(
        Split::read(&zero, &l, 3),
        Err(DataError::WrongDimensions { .. })
    ));

    // A huge announced size must not overflow or allocate: it is just truncated.
    let huge = d.write("x", &idx(0x803, &[u32::MAX, u32::MAX, u32::MAX], &[]));
    assert!(matches!(
        Split::read(&huge, &l, 3),
        Err(DataError::Truncated { .. })
    ));
}

#[test]
fn missing_directory_names_the_package_or_the_flag() {
    let e = Dataset::load_mnist_dir(Path::new("/usr/share/datasets/fashion-mnist/absent"), 10)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("apt-get install dataset-fashion-mnist"),
        "{e}"
    );
    let e = Dataset::load_mnist_dir(Path::new("/nonexistent/mnist"), 10).unwrap_err();
    assert!(e.to_string().contains("--data"), "{e}");
}

#[test]
fn normalizer_uses_its_own_split_and_splits_are_disjoint() {
    let d = Dir::new("norm");
    let s = Split::read(&d.write("i", &images()), &d.write("l", &labels()), 3).unwrap();
    let n = Normalizer::fit(&s);
    // Feature 0: pixels 0, 30, 1 → mean 31/(3·255).
    assert!((n.mean[0] - 31.0 / 765.0).abs() < 1e-7);
    let (rest, held) = s.split_off(1.0 / 3.0, 9);
    assert_eq!((rest.len(), held.len()), (2, 1));
    let mut all: Vec<u16> = rest.labels.iter().chain(&held.labels).copied().collect();
    all.sort();
    assert_eq!(all, [0, 1, 2]);
    assert_eq!(rest.concat(&held).len(), 3);
}

#[test]
fn non_finite_loss_names_epoch_and_step_and_keeps_the_weights() {
    type N = Net![Dense<4, 3>, Relu<[f32; 3]>, Dense<3, 2>];
    let mut net = Box::new(net![Dense::ZERO, Relu::DEFAULT, Dense::ZERO]);
    net.init(Init::HeNormal, &mut Rng::new(1));
    let mut t = Trainer::<N, _, 2>::new(
        net,
        Adam::<<N as Layer>::Grad>::boxed(AdamConfig::DEFAULT),
        2,
    );
    let mut train = Samples::<4> {
        x: vec![[0.5, -0.5, 1.0, 0.0]; 8],
        y: vec![0, 1, 0, 1, 0, 1, 0, 1],
    };
    for x in &mut train.x[..] {
        x[3] = f32::NAN; // every batch is poisoned, so the very first step fails
    }
    let before = t.net.clone();
    let config = TrainConfig {
        epochs: 3,
        schedule: LrSchedule::constant(1e-2),
        patience: None,
        monitor: None,
        seed: 3,
        progress: false,
        regularization: Regularization::NONE,
    };
    let val = Samples::<4> {
        x: vec![[0.0; 4]; 2],
        y: vec![0, 1],
    };
    let e = t.fit(&train, &val, &config, |_| {}).unwrap_err();
    // ReLU maps the NaN pre-activations to 0, so the loss stays finite; the first layer's
    // weight gradient (dY·Xᵀ) carries the NaN, and the optimizer's check refuses it.
    assert_eq!(
        e,
        TrainError::Step {
            epoch: 1,
            step: 1,
            error: Error::NonFinite { what: "gradient" }
        }
    );
    assert_eq!(
        e.to_string(),
        "training failed at epoch 1, step 1: gradient is not finite (NaN or infinity)"
    );
    assert_eq!(*t.net, *before);
}

#[test]
fn folding_the_normalization_into_the_first_layer_keeps_its_outputs() {
    let d = Dir::new("fold");
    let split = Split::read(&d.write("i", &images()), &d.write("l", &labels()), 3).unwrap();
    let norm = Normalizer::fit(&split);
    let mut layer = Dense::<4, 3>::ZERO;
    layer.init(Init::GlorotNormal, &mut Rng::new(4));
    layer.bias = [0.1, -0.2, 0.3];
    let normalized = Samples::<4>::from_split(&split, &norm, "i").unwrap();
    let raw = Samples::<4>::raw_from_split(&split, "i").unwrap();
    assert_eq!(raw.x[1], [30.0, 40.0, 50.0, 60.0]);
    let mut folded = layer.clone();
    norm.fold_into(&mut folded).unwrap();
    for (xn, xr) in normalized.x.iter().zip(&raw.x) {
        let (mut a, mut b) = ([0.0; 3], [0.0; 3]);
        layer.forward_with(xn, &mut a, &mut []);
        folded.forward_with(xr, &mut b, &mut []);
        for (u, v) in a.iter().zip(b) {
            assert!((u - v).abs() <= 1e-4 * (1.0 + u.abs()), "{a:?} vs {b:?}");
        }
    }
}
