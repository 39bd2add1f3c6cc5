// Written by firmnet::host::tflite from a TensorFlow Lite model: 12 layers, 128316 multiply-accumulates.
// Input 8×8×4 int8, scale 3e-2, zero point 10; output 5 int8, scale 1.0447059e-1, zero point 20.
#[rustfmt::skip]
pub type ResidualFloat<S = firmnet::quant::Owned> = firmnet::Net![
    firmnet::quant::QConv2d<8, 8, 4, 8, 3, 3, 8, 8, 1, firmnet::layers::Same, S>,
    firmnet::quant::QResidual<firmnet::Net![
        firmnet::quant::QConv2d<8, 8, 8, 8, 3, 3, 8, 8, 1, firmnet::layers::Same, S>,
        firmnet::quant::QConv2d<8, 8, 8, 8, 3, 3, 8, 8, 1, firmnet::layers::Same, S>,
    ]>,
    firmnet::quant::QResidual<firmnet::Net![
        firmnet::quant::QConv2d<8, 8, 8, 12, 3, 3, 4, 4, 2, firmnet::layers::Same, S>,
        firmnet::quant::QConv2d<4, 4, 12, 12, 3, 3, 4, 4, 1, firmnet::layers::Same, S>,
    ], firmnet::quant::QConv2d<8, 8, 8, 12, 1, 1, 4, 4, 2, firmnet::layers::Same, S>>,
    firmnet::quant::QGlobalAvgPool<4, 4, 12, S>,
    firmnet::quant::QDense<12, 5, S>,
];
