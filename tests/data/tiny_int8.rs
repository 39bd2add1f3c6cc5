// An int8 network of type firmnet::QNet![QDense<3, 4>, QDense<4, 2>], written by
// firmnet::format::qnet_rust_source. Embed it with
// `static NET: <that type> = include!("<this file>");`.
firmnet::qnet![
    firmnet::quant::QDense {
        weight: firmnet::quant::QMatrix([
            [24, 64, -90],
            [-110, 15, -96],
            [-122, -2, -100],
            [-115, -50, -10],
        ]),
        bias: [-346803, -467673, -313122, 197024],
        multiplier: [1571589305, 1903553150, 1217416755, 1909634548],
        shift: [-11, -10, -11, -11],
        weight_scale: [f32::from_bits(0x3d7e2608), f32::from_bits(0x3d73812f), f32::from_bits(0x3d21a887), f32::from_bits(0x3ca6eb10)],
        input: firmnet::quant::QParams { scale: f32::from_bits(0x3f3846af), zero_point: 43 },
        output: firmnet::quant::QParams { scale: f32::from_bits(0x3f3f43d6), zero_point: -11 },
        min: -11,
        max: 127,
    },
    firmnet::quant::QDense {
        weight: firmnet::quant::QMatrix([
            [-31, 100, -33, 70],
            [-76, -76, 96, -31],
        ]),
        bias: [-98642, 228669],
        multiplier: [1699174506, 1885789131],
        shift: [-11, -7],
        weight_scale: [f32::from_bits(0x3c529e87), f32::from_bits(0x3d105e12)],
        input: firmnet::quant::QParams { scale: f32::from_bits(0x3f5cda4b), zero_point: -61 },
        output: firmnet::quant::QParams { scale: f32::from_bits(0x3e69ff7e), zero_point: 35 },
        min: -128,
        max: 127,
    },
]
