//! Arbitrary bytes through the `.tflite` importer: `TfliteModel::parse`, then
//! `TfliteModel::lower`, `Lowered::rust_type`, `Lowered::rust_value` and `Lowered::fill` into
//! the keyword-spotting model's type.
//!
//! It may not panic, and must be deterministic; a model it accepts must be consistent:
//! every tensor index of an operator and of the subgraph's inputs and outputs names a
//! tensor, and every constant tensor holds exactly the bytes its shape and type make. A
//! model it lowers has layers and a type; lowering a copy whose operators' inputs are
//! rotated (what a hand-edited `TfliteModel` may hold) may fail but not panic.
//!
//! Seeds: `fuzz/corpus/tflite_import/` (hand-built models, written by the test
//! `fuzz_seeds_are_valid_models` in `tests/tflite_import.rs`). Run with
//! `cargo +nightly fuzz run tflite_import /tmp/tflite_corpus fuzz/corpus/tflite_import`.
#![no_main]

use firmnet::host::tflite::TfliteModel;
use libfuzzer_sys::fuzz_target;

mod kws {
    include!("../../tests/mlperf_tiny/models/kws.rs");
}

fuzz_target!(|data: &[u8]| {
    let first = TfliteModel::parse(data);
    assert_eq!(
        first,
        TfliteModel::parse(data),
        "parse is not deterministic"
    );
    match first {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(m) => {
            let n = m.tensors.len();
            assert!(m.inputs.iter().chain(&m.outputs).all(|&t| t < n));
            for o in &m.operators {
                assert!(o.inputs.iter().flatten().chain(&o.outputs).all(|&t| t < n));
            }
            for t in &m.tensors {
                if let Some(d) = &t.data {
                    assert_eq!(d.len(), t.len() * t.element.size());
                }
            }
            match m.lower() {
                Err(e) => assert!(!e.to_string().is_empty()),
                Ok(low) => {
                    assert!(low.layer_count() > 0);
                    assert!(low.rust_type("Fuzzed").contains("pub type Fuzzed"));
                    assert!(low.rust_value().contains("firmnet::quant::"));
                    if let Err(e) = low.network::<kws::Kws>() {
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
            let mut edited = m;
            for o in &mut edited.operators {
                o.inputs.rotate_left(1);
            }
            if let Err(e) = edited.lower() {
                assert!(!e.to_string().is_empty());
            }
        }
    }
});
