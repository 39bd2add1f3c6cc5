// Written by firmnet::host::tflite from a TensorFlow Lite model: 12 layers, 2656768 multiply-accumulates.
// Input 49×10×1 int8, scale 5.847029e-1, zero point 83; output 12 int8, scale 3.90625e-3, zero point -128.
#[rustfmt::skip]
pub type Kws<S = firmnet::quant::Owned> = firmnet::Net![
    firmnet::quant::QConv2d<49, 10, 1, 64, 10, 4, 25, 5, 2, firmnet::layers::Same, S>,
    firmnet::quant::QDepthwiseConv2d<25, 5, 64, 3, 3, 25, 5, 1, firmnet::layers::Same, S>,
    firmnet::quant::QConv2d<25, 5, 64, 64, 1, 1, 25, 5, 1, firmnet::layers::Same, S>,
    firmnet::quant::QDepthwiseConv2d<25, 5, 64, 3, 3, 25, 5, 1, firmnet::layers::Same, S>,
    firmnet::quant::QConv2d<25, 5, 64, 64, 1, 1, 25, 5, 1, firmnet::layers::Same, S>,
    firmnet::quant::QDepthwiseConv2d<25, 5, 64, 3, 3, 25, 5, 1, firmnet::layers::Same, S>,
    firmnet::quant::QConv2d<25, 5, 64, 64, 1, 1, 25, 5, 1, firmnet::layers::Same, S>,
    firmnet::quant::QDepthwiseConv2d<25, 5, 64, 3, 3, 25, 5, 1, firmnet::layers::Same, S>,
    firmnet::quant::QConv2d<25, 5, 64, 64, 1, 1, 25, 5, 1, firmnet::layers::Same, S>,
    firmnet::quant::QGlobalAvgPool<25, 5, 64, S>,
    firmnet::quant::QDense<64, 12, S>,
    firmnet::quant::QSoftmax<12, S>,
];
