// A network of 13 layers, written by firmnet::format::rust_source:
//   0: dense 2 -> 3
//   1: residual 3 -> 3
//   2: dense 3 -> 3
//   3: batch_norm 3 -> 3
//   4: dense 3 -> 3
//   5: add 3 -> 3
//   6: residual 3 -> 3
//   7: dense 3 -> 3
//   8: residual 3 -> 3
//   9: tanh 3 -> 3
//   10: add 3 -> 3
//   11: add 3 -> 3
//   12: dense 3 -> 2
// Embed it with `static NET: <the network's type> = include!("<this file>");`.
firmnet::net![
firmnet::layers::Dense::from_parts(
    [[f32::from_bits(0x3e447da6), f32::from_bits(0x3f987e5a)], [f32::from_bits(0x3f092b09), f32::from_bits(0x3f295f49)], [f32::from_bits(0xbe19e613), f32::from_bits(0x3f470c10)]],
    [f32::from_bits(0xbea45936), f32::from_bits(0xbe34649e), f32::from_bits(0xbd6113fa)]
),
firmnet::layers::Residual::new(
    firmnet::net![
        firmnet::layers::Dense::from_parts(
            [[f32::from_bits(0xbe389ac3), f32::from_bits(0x3eb05f88), f32::from_bits(0x3db4ae2b)], [f32::from_bits(0xbf3bcf41), f32::from_bits(0xbf273aab), f32::from_bits(0x3e13af55)], [f32::from_bits(0xbe74c11d), f32::from_bits(0x3f3f9dc0), f32::from_bits(0x3eb2e964)]],
            [f32::from_bits(0x3daefa29), f32::from_bits(0xbe4871a1), f32::from_bits(0xbe4cad46)]
        ),
        firmnet::layers::BatchNorm::from_parts(
            [f32::from_bits(0x3fad4428), f32::from_bits(0x3f953099), f32::from_bits(0x3f447f1a)],
            [f32::from_bits(0x3bff9098), f32::from_bits(0xbe21aac8), f32::from_bits(0x3e269233)],
            [f32::from_bits(0xbec3600c), f32::from_bits(0x3f676d7c), f32::from_bits(0x3eb71e4e)],
            [f32::from_bits(0x3f7bd382), f32::from_bits(0x3f3a3548), f32::from_bits(0x3f46ffe4)],
            f32::from_bits(0x3727c5ac),
            f32::from_bits(0x3dcccccd)
        ),
    ],
    firmnet::net![
        firmnet::layers::Dense::from_parts(
            [[f32::from_bits(0xbe569866), f32::from_bits(0x3f411728), f32::from_bits(0xbf517494)], [f32::from_bits(0xbf0ec5af), f32::from_bits(0xbdd46d15), f32::from_bits(0xbe0ac97d)], [f32::from_bits(0xbe9adc5b), f32::from_bits(0xbef6a0d3), f32::from_bits(0x3c6d7bd2)]],
            [f32::from_bits(0x3e568212), f32::from_bits(0x3dbc24cf), f32::from_bits(0x3e170f79)]
        ),
    ]
),
firmnet::layers::Residual::new(
    firmnet::net![
        firmnet::layers::Dense::from_parts(
            [[f32::from_bits(0x3ef50bf9), f32::from_bits(0x3fe21dcd), f32::from_bits(0xbefbcf61)], [f32::from_bits(0xbf1f19ef), f32::from_bits(0x3ef0081c), f32::from_bits(0xbe86ae3e)], [f32::from_bits(0xbed983c5), f32::from_bits(0x3ea3de58), f32::from_bits(0xbca32c59)]],
            [f32::from_bits(0x3dca2f4e), f32::from_bits(0x3dbe50db), f32::from_bits(0x3e085a8b)]
        ),
        firmnet::layers::Residual::new(
            firmnet::net![
                firmnet::layers::Tanh::from_parts(),
            ],
            firmnet::layers::Identity::DEFAULT
        ),
    ],
    firmnet::layers::Identity::DEFAULT
),
firmnet::layers::Dense::from_parts(
    [[f32::from_bits(0xbe1a5933), f32::from_bits(0xbe2bdc0f), f32::from_bits(0xbf47bd3e)], [f32::from_bits(0x3f60501e), f32::from_bits(0xbe5fcff4), f32::from_bits(0xbf281bfb)]],
    [f32::from_bits(0x3d724f15), f32::from_bits(0x3e87e7dd)]
),
]
