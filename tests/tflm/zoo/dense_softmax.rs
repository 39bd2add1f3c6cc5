// Written by firmnet::host::tflite from a TensorFlow Lite model: 3 layers, 464 multiply-accumulates.
// Input 20 int8, scale 2e-1, zero point 0; output 9 int8, scale 3.90625e-3, zero point -128.
#[rustfmt::skip]
pub type DenseSoftmax<S = firmnet::quant::Owned> = firmnet::Net![
    firmnet::quant::QDense<20, 16, S>,
    firmnet::quant::QDense<16, 9, S>,
    firmnet::quant::QSoftmax<9, S>,
];
