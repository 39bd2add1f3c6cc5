// A network of 10 layers, written by firmnet::format::rust_source:
//   0: qconv2d 4×4×1 -> 4×4×2
//   1: residual 4×4×2 -> 4×4×2
//   2: qconv2d 4×4×2 -> 4×4×2
//   3: qadd 4×4×2 -> 4×4×2
//   4: residual 4×4×2 -> 4×4×2
//   5: qconv2d 4×4×2 -> 2×2×3
//   6: qconv2d 4×4×2 -> 2×2×3
//   7: qadd 2×2×3 -> 2×2×3
//   8: qglobal_avg_pool 2×2×3 -> 3
//   9: qdense 3 -> 2
// Embed it with `static NET: <the network's type> = include!("<this file>");`.
firmnet::net![
firmnet::quant::QConv2d::from_parts(
    [[[[105], [4], [-13]], [[127], [-23], [125]], [[-42], [63], [29]]], [[[-105], [27], [-60]], [[-34], [3], [-127]], [[109], [-1], [43]]]],
    [-1875, 725],
    [1165620762, 1923025853],
    [-7, -8],
    f32::from_bits(0x3cc10533),
    5,
    f32::from_bits(0x3d309aea),
    -13,
    -128,
    127,
    1,
    1,
    1
),
firmnet::quant::QResidual::new(
    firmnet::net![
        firmnet::quant::QConv2d::from_parts(
            [[[[1, 16], [8, -71], [-24, 12]], [[11, 72], [-39, -32], [-127, -59]], [[-113, -35], [113, -90], [9, 35]]], [[[10, 71], [-39, 106], [41, 59]], [[87, -51], [-79, -9], [-82, 56]], [[-96, -2], [127, -77], [23, -63]]]],
            [-4069, 1066],
            [1395693008, 1284359755],
            [-6, -6],
            f32::from_bits(0x3d309aea),
            -13,
            f32::from_bits(0x3cab2a06),
            -128,
            -128,
            127,
            1,
            1,
            1
        ),
    ],
    firmnet::layers::Identity::DEFAULT,
    firmnet::quant::QAdd::from_parts(
        f32::from_bits(0x3cab2a06),
        -128,
        f32::from_bits(0x3d0680df),
        -128,
        -128,
        127,
        f32::from_bits(0x3d309aea),
        -13,
        2081322415,
        -2,
        1073741824,
        0,
        1409840301,
        -18
    )
),
firmnet::quant::QResidual::new(
    firmnet::net![
        firmnet::quant::QConv2d::from_parts(
            [[[[20, 15], [-4, -67], [22, 127]], [[59, -1], [18, -113], [8, -1]], [[63, -65], [-119, 91], [-82, -66]]], [[[29, -127], [66, 4], [36, -96]], [[48, -45], [70, 6], [-18, -63]], [[26, -64], [-2, -50], [1, -64]]], [[[-53, -17], [-24, 1], [0, -33]], [[-8, 79], [-8, -28], [-24, 4]], [[10, -24], [127, 113], [-14, -106]]]],
            [-12160, -31104, -640],
            [1792184281, 2088032363, 1158822792],
            [-8, -8, -7],
            f32::from_bits(0x3d0680df),
            -128,
            f32::from_bits(0x3d435a3a),
            11,
            -128,
            127,
            2,
            0,
            0
        ),
    ],
    firmnet::net![
        firmnet::quant::QConv2d::from_parts(
            [[[[24, -127]]], [[[127, 120]]], [[[46, -127]]]],
            [-13184, 31616, -10368],
            [1888830776, 1846323092, 1896879329],
            [-9, -8, -8],
            f32::from_bits(0x3d0680df),
            -128,
            f32::from_bits(0x3d7f02a3),
            -16,
            -128,
            127,
            2,
            0,
            0
        ),
    ],
    firmnet::quant::QAdd::from_parts(
        f32::from_bits(0x3d435a3a),
        11,
        f32::from_bits(0x3d7d836c),
        9,
        -128,
        127,
        f32::from_bits(0x3d7f02a3),
        -16,
        1645095069,
        -1,
        1073741824,
        0,
        1080082001,
        -18
    )
),
firmnet::quant::QGlobalAvgPool::from_parts(
    f32::from_bits(0x3d7d836c),
    9,
    f32::from_bits(0x3d7d836c),
    9,
    -128,
    127
),
firmnet::quant::QDense::from_parts(
    [[127, -24, 17], [-73, 66, -127]],
    [-1080, 1206],
    [1682783823, 1320252794],
    [-7, -5],
    f32::from_bits(0x3d7d836c),
    9,
    f32::from_bits(0x3d378d01),
    -66,
    -128,
    127
),
]
