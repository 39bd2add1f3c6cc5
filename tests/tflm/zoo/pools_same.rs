// Written by firmnet::host::tflite from a TensorFlow Lite model: 5 layers, 320 multiply-accumulates.
// Input 7×7×8 int8, scale 8e-2, zero point -3; output 4 int8, scale 1.3929412e-1, zero point -16.
#[rustfmt::skip]
pub type PoolsSame<S = firmnet::quant::Owned> = firmnet::Net![
    firmnet::quant::QAvgPool2d<7, 7, 8, 3, 3, 4, 4, 2, firmnet::layers::Same, S>,
    firmnet::quant::QMaxPool2d<4, 4, 8, 2, 2, 3, 3, 1, firmnet::layers::Valid, S>,
    firmnet::quant::QDepthwiseConv2d<3, 3, 8, 3, 3, 2, 2, 2, firmnet::layers::Same, S>,
    firmnet::quant::QGlobalAvgPool<2, 2, 8, S>,
    firmnet::quant::QDense<8, 4, S>,
];
