//! MLPerf Tiny's anomaly detection (AD) model on the Cortex-M4F: its weight file borrowed in place from
//! flash (`firmnet::format::view`), run on the inputs embedded beside it, one
//! instruction-counting window per inference. Built with `--features mlperf` from the
//! files `cargo run --release --example mlperf_tiny` writes to `out/mlperf_tiny/`.

#![no_std]
#![no_main]

// The network's type, as the importer writes it from the `.tflite` file.
include!("../../../../tests/mlperf_tiny/models/ad.rs");

/// The network, borrowed from [`WEIGHTS`].
type Model = Ad<firmnet::quant::Borrowed<'static>>;

firmnet_demo::bundle!(WEIGHTS: "ad.fnet", INPUTS: "ad_inputs.bin");

include!("../mlperf.rs");
