// Written by firmnet::host::tflite from a TensorFlow Lite model: 5 layers, 15252 multiply-accumulates.
// Input 10×9×3 int8, scale 5e-2, zero point 5; output 7 int8, scale 9.411765e-2, zero point -19.
#[rustfmt::skip]
pub type ConvPools<S = firmnet::quant::Owned> = firmnet::Net![
    firmnet::quant::QConv2d<10, 9, 3, 6, 3, 3, 10, 9, 1, firmnet::layers::Same, S>,
    firmnet::quant::QMaxPool2d<10, 9, 6, 3, 3, 5, 5, 2, firmnet::layers::Same, S>,
    firmnet::quant::QAvgPool2d<5, 5, 6, 2, 2, 4, 4, 1, firmnet::layers::Valid, S>,
    firmnet::quant::QFlatten<4, 4, 6, 96, S>,
    firmnet::quant::QDense<96, 7, S>,
];
