// Written by firmnet::host::tflite from a TensorFlow Lite model: 18 layers, 12501632 multiply-accumulates.
// Input 32×32×3 int8, scale 1e0, zero point -128; output 10 int8, scale 3.90625e-3, zero point -128.
#[rustfmt::skip]
pub type Ic<S = firmnet::quant::Owned> = firmnet::Net![
    firmnet::quant::QConv2d<32, 32, 3, 16, 3, 3, 32, 32, 1, firmnet::layers::Same, S>,
    firmnet::quant::QResidual<firmnet::Net![
        firmnet::quant::QConv2d<32, 32, 16, 16, 3, 3, 32, 32, 1, firmnet::layers::Same, S>,
        firmnet::quant::QConv2d<32, 32, 16, 16, 3, 3, 32, 32, 1, firmnet::layers::Same, S>,
    ]>,
    firmnet::quant::QResidual<firmnet::Net![
        firmnet::quant::QConv2d<32, 32, 16, 32, 3, 3, 16, 16, 2, firmnet::layers::Same, S>,
        firmnet::quant::QConv2d<16, 16, 32, 32, 3, 3, 16, 16, 1, firmnet::layers::Same, S>,
    ], firmnet::quant::QConv2d<32, 32, 16, 32, 1, 1, 16, 16, 2, firmnet::layers::Same, S>>,
    firmnet::quant::QResidual<firmnet::Net![
        firmnet::quant::QConv2d<16, 16, 32, 64, 3, 3, 8, 8, 2, firmnet::layers::Same, S>,
        firmnet::quant::QConv2d<8, 8, 64, 64, 3, 3, 8, 8, 1, firmnet::layers::Same, S>,
    ], firmnet::quant::QConv2d<16, 16, 32, 64, 1, 1, 8, 8, 2, firmnet::layers::Same, S>>,
    firmnet::quant::QGlobalAvgPool<8, 8, 64, S>,
    firmnet::quant::QDense<64, 10, S>,
    firmnet::quant::QSoftmax<10, S>,
];
