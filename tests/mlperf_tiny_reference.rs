//! The MLPerf Tiny fixtures are consistent: the inputs regenerated here are the ones
//! `tests/mlperf_tiny/reference.py` ran TensorFlow Lite Micro on, and the committed outputs,
//! layer dumps and arena sizes have the sizes the fixtures' README states.

mod common;

use common::mlperf::{self, COUNT, Model, STRUCTURED};

/// splitmix64's published test vectors (seed 0, and the reference test's seed 1234567).
#[test]
fn splitmix64_matches_published_values() {
    let first_three = |seed: u64| {
        let mut s = seed;
        [0; 3].map(|_: u64| mlperf::splitmix64(&mut s))
    };
    assert_eq!(
        first_three(0),
        [
            0xE220_A839_7B1D_CDAF,
            0x6E78_9E6A_A1B9_65F4,
            0x06C4_5D18_8009_454F
        ]
    );
    assert_eq!(
        first_three(1_234_567),
        [
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423
        ]
    );
}

/// The structured inputs, value by value at their edges; random inputs from the seed rule.
#[test]
fn inputs_follow_the_stated_rule() {
    let m = Model::Kws;
    let n = m.input_len();
    assert!(mlperf::input(m, 0).iter().all(|&v| v == 0));
    assert!(mlperf::input(m, 1).iter().all(|&v| v == -128));
    assert!(mlperf::input(m, 2).iter().all(|&v| v == 127));
    let ramp = mlperf::input(m, 3);
    assert_eq!(
        // n = 490: the last value is (489 mod 256) − 128 = 105.
        (ramp[0], ramp[1], ramp[255], ramp[256], ramp[n - 1]),
        (-128, -127, 127, -128, 105)
    );
    let reverse = mlperf::input(m, 4);
    assert_eq!((reverse[0], reverse[255], reverse[256]), (127, -128, 127));
    assert_eq!(&mlperf::input(m, 5)[..4], &[-128, 127, -128, 127]);
    // Input 6 of model 1: splitmix64 from 2^32 + 6, low bytes.
    let mut s = (1u64 << 32) + 6;
    let first = mlperf::splitmix64(&mut s) as u8 as i8;
    let second = mlperf::splitmix64(&mut s) as u8 as i8;
    assert_eq!(&mlperf::input(m, STRUCTURED)[..2], &[first, second]);
    // Every input differs from every other.
    for model in Model::ALL {
        let all = mlperf::inputs(model);
        assert_eq!(all.len(), COUNT);
        let distinct: std::collections::HashSet<&Vec<i8>> = all.iter().collect();
        assert_eq!(distinct.len(), COUNT, "{model:?}");
        assert!(all.iter().all(|x| x.len() == model.input_len()));
    }
}

/// Each `.out` file covers this crate's inputs (same checksum) with the stated sizes.
#[test]
fn reference_outputs_match_inputs_and_sizes() {
    for model in Model::ALL {
        let r = mlperf::reference(model);
        assert_eq!(r.outputs.len(), COUNT, "{model:?}");
        assert_eq!(r.input_len, model.input_len(), "{model:?}");
        assert_eq!(r.output_len, model.output_len(), "{model:?}");
        assert_eq!(
            r.input_checksum,
            mlperf::checksum(&mlperf::inputs(model)),
            "{model:?}: the script ran other inputs than the Rust rule regenerates"
        );
        assert_eq!(mlperf::reference_outputs(model), r.outputs);
        // The outputs depend on the input: not one row repeated.
        let distinct: std::collections::HashSet<&Vec<i8>> = r.outputs.iter().collect();
        assert!(
            distinct.len() >= 8,
            "{model:?}: {} distinct outputs",
            distinct.len()
        );
    }
}

/// The model sizes the loader uses are the ones the fixtures' README states.
#[test]
fn sizes_agree_with_the_readme() {
    let readme = std::fs::read_to_string(mlperf::dir().join("README.md")).unwrap();
    let shape =
        |s: &str| -> Vec<usize> { s.split('×').map(|d| d.trim().parse().unwrap()).collect() };
    for model in Model::ALL {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| {} | `{}` |", model.name(), model.file())))
            .unwrap_or_else(|| panic!("no README row for {model:?}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // "", model, file, benchmark, path, md5, input, output, ""
        assert_eq!(cells.len(), 9, "{row}");
        assert_eq!(shape(cells[6]), model.input_shape(), "{model:?}");
        assert_eq!(shape(cells[7]), model.output_shape(), "{model:?}");
        assert!(cells[4].ends_with(model.file()));
        assert!(model.tflite_path().is_file(), "{model:?}");
    }
}

/// The layer dumps: one tensor per operator in execution order, the last one equal to the
/// reference output of input 0; and the operator counts of the four networks.
#[test]
fn layer_dumps_end_in_the_reference_output() {
    for (model, operators) in Model::ALL.into_iter().zip([10, 13, 16, 31]) {
        let layers = mlperf::reference_layers(model);
        assert_eq!(layers.len(), operators, "{model:?}");
        for (k, t) in layers.iter().enumerate() {
            assert_eq!(t.operator, k, "{model:?}");
            assert!(!t.data.is_empty());
        }
        assert!(layers.windows(2).all(|w| w[0].tensor < w[1].tensor));
        assert_eq!(
            layers.last().unwrap().data,
            mlperf::reference_outputs(model)[0]
        );
        assert!(
            layers.first().unwrap().tensor > 0,
            "the input is not an operator output"
        );
    }
}

/// TensorFlow Lite Micro's arena as recorded beside the outputs.
#[test]
fn arena_sizes_are_recorded() {
    let arenas: Vec<usize> = Model::ALL
        .into_iter()
        .map(mlperf::tflm_arena_bytes)
        .collect();
    assert_eq!(arenas, [3_984, 24_272, 55_984, 103_680]);
}

/// The parsers reject what is not a well-formed file.
#[test]
fn parsers_reject_damaged_files() {
    let good = std::fs::read(mlperf::dir().join("reference/kws.out")).unwrap();
    assert!(mlperf::parse_reference(&good).is_ok());
    assert!(mlperf::parse_reference(&good[..good.len() - 1]).is_err());
    assert!(mlperf::parse_reference(&good[..10]).is_err());
    let mut magic = good.clone();
    magic[0] ^= 1;
    assert!(mlperf::parse_reference(&magic).is_err());
    let mut zero = good.clone();
    zero[16..20].copy_from_slice(&0u32.to_le_bytes());
    assert!(mlperf::parse_reference(&zero).is_err());

    let good = std::fs::read(mlperf::dir().join("reference/ad.layers")).unwrap();
    assert!(mlperf::parse_layers(&good).is_ok());
    assert!(mlperf::parse_layers(&good[..good.len() - 1]).is_err());
    let mut longer = good.clone();
    longer.push(0);
    assert!(mlperf::parse_layers(&longer).is_err());
    let mut big = good.clone();
    big[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(mlperf::parse_layers(&big).is_err());
}
