// Written by firmnet::host::tflite from a TensorFlow Lite model: 10 layers, 264192 multiply-accumulates.
// Input 640 int8, scale 3.9101523e-1, zero point 89; output 640 int8, scale 3.6449847e-1, zero point 96.
#[rustfmt::skip]
pub type Ad<S = firmnet::quant::Owned> = firmnet::Net![
    firmnet::quant::QDense<640, 128, S>,
    firmnet::quant::QDense<128, 128, S>,
    firmnet::quant::QDense<128, 128, S>,
    firmnet::quant::QDense<128, 128, S>,
    firmnet::quant::QDense<128, 8, S>,
    firmnet::quant::QDense<8, 128, S>,
    firmnet::quant::QDense<128, 128, S>,
    firmnet::quant::QDense<128, 128, S>,
    firmnet::quant::QDense<128, 128, S>,
    firmnet::quant::QDense<128, 640, S>,
];
