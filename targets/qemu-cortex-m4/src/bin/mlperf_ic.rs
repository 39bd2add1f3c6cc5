//! MLPerf Tiny's image classification (IC) model on the Cortex-M4F: its weight file borrowed in place from
//! flash (`firmnet::format::view`), run on the inputs embedded beside it, one
//! instruction-counting window per inference. Built with `--features mlperf` from the
//! files `cargo run --release --example mlperf_tiny` writes to `out/mlperf_tiny/`.

#![no_std]
#![no_main]

// The network's type, as the importer writes it from the `.tflite` file.
include!("../../../../tests/mlperf_tiny/models/ic.rs");

/// The network, borrowed from [`WEIGHTS`].
type Model = Ic<firmnet::quant::Borrowed<'static>>;

firmnet_demo::bundle!(WEIGHTS: "ic.fnet", INPUTS: "ic_inputs.bin");

include!("../mlperf.rs");
