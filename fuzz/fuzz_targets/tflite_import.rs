//! Arbitrary bytes through the `.tflite` importer (`TfliteModel::parse`).
//!
//! It may not panic, and must be deterministic; a model it accepts must be consistent:
//! every tensor index of an operator and of the subgraph's inputs and outputs names a
//! tensor, and every constant tensor holds exactly the bytes its shape and type make.
//!
//! Seeds: `fuzz/corpus/tflite_import/` (hand-built models, written by the test
//! `fuzz_seeds_are_valid_models` in `tests/tflite_import.rs`). Run with
//! `cargo +nightly fuzz run tflite_import /tmp/tflite_corpus fuzz/corpus/tflite_import`.
#![no_main]

use firmnet::host::tflite::TfliteModel;
use libfuzzer_sys::fuzz_target;

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
        }
    }
});
