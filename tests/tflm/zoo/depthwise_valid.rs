// Written by firmnet::host::tflite from a TensorFlow Lite model: 5 layers, 1560 multiply-accumulates.
// Input 11×8×4 int8, scale 1e-1, zero point -7; output 6 int8, scale 1.1764706e-2, zero point -128.
#[rustfmt::skip]
pub type DepthwiseValid<S = firmnet::quant::Owned> = firmnet::Net![
    firmnet::quant::QDepthwiseConv2d<11, 8, 4, 3, 3, 5, 3, 2, firmnet::layers::Valid, S>,
    firmnet::quant::QConv2d<5, 3, 4, 8, 1, 1, 5, 3, 1, firmnet::layers::Same, S>,
    firmnet::quant::QConv2d<5, 3, 8, 5, 2, 3, 2, 1, 3, firmnet::layers::Valid, S>,
    firmnet::quant::QFlatten<2, 1, 5, 10, S>,
    firmnet::quant::QDense<10, 6, S>,
];
