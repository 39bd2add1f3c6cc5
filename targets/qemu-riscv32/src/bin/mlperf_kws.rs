//! MLPerf Tiny's keyword spotting (KWS) model on RV32IMAC: its weight file borrowed in place
//! (`firmnet::format::view`), run on the inputs embedded beside it, one
//! instruction-counting window per inference. Built with `--features mlperf` from the
//! files `cargo run --release --example mlperf_tiny` writes to `out/mlperf_tiny/`.

#![no_std]
#![no_main]

// The network's type, as the importer writes it from the `.tflite` file.
include!("../../../../tests/mlperf_tiny/models/kws.rs");

/// The network, borrowed from [`WEIGHTS`].
type Model = Kws<firmnet::quant::Borrowed<'static>>;

firmnet_demo::bundle!(WEIGHTS: "kws.fnet", INPUTS: "kws_inputs.bin");

include!("../mlperf.rs");
