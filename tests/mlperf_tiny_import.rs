//! The four MLPerf Tiny models imported from their `.tflite` files compute TensorFlow Lite
//! Micro's outputs bit for bit: on all 256 inputs of each (six structured, 250 random), the
//! int8 outputs equal the ones its interpreter gave (`tests/mlperf_tiny/reference/`).
//!
//! The networks' types are the committed `tests/mlperf_tiny/models/*.rs`, which the
//! importer writes; a test checks that it still writes them.

mod common;

use common::mlperf::{self, Model};
use firmnet::format;
use firmnet::host::tflite::{ImportError, Lowered, TfliteModel};
use firmnet::net::{Infer, Scratch};
use firmnet::quant::Owned;
use firmnet::spec::Describe;
use firmnet::tensor::{Tensor, Zero};

mod types {
    include!("mlperf_tiny/models/ad.rs");
    include!("mlperf_tiny/models/kws.rs");
    include!("mlperf_tiny/models/ic.rs");
    include!("mlperf_tiny/models/vww.rs");
}

fn lowered(model: Model) -> Lowered {
    TfliteModel::parse(&model.tflite())
        .and_then(|m| m.lower())
        .unwrap_or_else(|e| panic!("{}: {e}", model.name()))
}

fn type_name(model: Model) -> &'static str {
    match model {
        Model::Ad => "Ad",
        Model::Kws => "Kws",
        Model::Ic => "Ic",
        Model::Vww => "Vww",
    }
}

/// The committed type files are what the importer writes today.
#[test]
fn committed_types_are_the_importers() {
    for model in Model::ALL {
        let path = mlperf::dir().join(format!("models/{}.rs", model.name()));
        let committed = std::fs::read_to_string(&path).unwrap();
        let written = lowered(model).rust_type(type_name(model));
        assert!(
            committed == written,
            "{} differs from what the importer writes now; regenerate it with \
             `cargo run --release --example mlperf_tiny -- --write-types`:\n{written}",
            path.display()
        );
    }
}

/// Runs every input through `N` filled from `model` and counts the outputs that differ
/// from TensorFlow Lite Micro's; also checks the weight file round trip.
fn check<N>(model: Model) -> usize
where
    N: Infer<Input: Tensor<Elem = i8>, Output: Tensor<Elem = i8>> + Describe + Zero,
{
    let low = lowered(model);
    assert_eq!(low.layer_count(), N::LAYERS);
    let net: Box<N> = low.network().unwrap();
    // The values as Rust source, written without the type, are what the format's writer
    // makes of the network of that type (comment lines aside).
    let code = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(code(&low.rust_value()) == code(&firmnet::format::rust_source(&*net).unwrap()));
    // The weight file holds exactly these values.
    let file = format::save(&*net).unwrap();
    let mut back = firmnet::boxed::zero::<N>();
    format::load(&file, &mut *back).unwrap();
    assert!(format::save(&*back).unwrap() == file);

    let reference = mlperf::reference_outputs(model);
    let mut scratch = firmnet::boxed::zero::<Scratch<N>>();
    let mut x = firmnet::boxed::zero::<N::Input>();
    let mut y = firmnet::boxed::zero::<N::Output>();
    let mut mismatches = 0;
    for (k, input) in mlperf::inputs(model).iter().enumerate() {
        x.as_mut_slice().copy_from_slice(input);
        net.forward(&x, &mut y, &mut scratch);
        if y.as_slice() != &reference[k][..] {
            if mismatches < 3 {
                eprintln!(
                    "{} input {k}: firmnet {:?}\n  TFLM {:?}",
                    model.name(),
                    &y.as_slice()[..y.as_slice().len().min(16)],
                    &reference[k][..reference[k].len().min(16)]
                );
            }
            mismatches += 1;
        }
    }
    mismatches
}

#[test]
fn anomaly_detection_is_bit_exact() {
    assert_eq!(check::<types::Ad>(Model::Ad), 0);
}

#[test]
fn keyword_spotting_is_bit_exact() {
    assert_eq!(check::<types::Kws>(Model::Kws), 0);
}

#[test]
fn image_classification_is_bit_exact() {
    assert_eq!(check::<types::Ic>(Model::Ic), 0);
}

#[test]
fn visual_wake_words_is_bit_exact() {
    assert_eq!(check::<types::Vww>(Model::Vww), 0);
}

/// Another model's type is refused with the layer where they part.
#[test]
fn a_type_of_another_model_is_refused() {
    let err = lowered(Model::Kws)
        .network::<types::Ad<Owned>>()
        .unwrap_err();
    assert!(
        matches!(
            err,
            ImportError::Mismatch {
                layer: 0,
                expected: "qdense",
                found: "qconv2d",
                ..
            }
        ),
        "{err}"
    );
}
