// A network of 6 layers, written by firmnet::format::rust_source:
//   0: dense 2 -> 3
//   1: batch_norm 3 -> 3
//   2: leaky_relu 3 -> 3
//   3: dropout 3 -> 3
//   4: dense 3 -> 2
//   5: tanh 2 -> 2
// Embed it with `static NET: <the network's type> = include!("<this file>");`.
firmnet::net![
firmnet::layers::Dense::from_parts(
    [[f32::from_bits(0x80000000), f32::from_bits(0x3e589e70)], [f32::from_bits(0xbf1d2341), f32::from_bits(0x3d0b239b)], [f32::from_bits(0x3e2ffd53), f32::from_bits(0xbda624be)]],
    [f32::from_bits(0x3f1304d2), f32::from_bits(0xbe829b8c), f32::from_bits(0x3e235771)]
),
firmnet::layers::BatchNorm::from_parts(
    [f32::from_bits(0x3dc36cfb), f32::from_bits(0x3f220e0c), f32::from_bits(0x3fda98c7)],
    [f32::from_bits(0xbf93dcbe), f32::from_bits(0x3e95476f), f32::from_bits(0xbf46ed17)],
    [f32::from_bits(0xbfcd443d), f32::from_bits(0xbf992dad), f32::from_bits(0x3f9f0d96)],
    [f32::from_bits(0x3ea70a8e), f32::from_bits(0x3f2ea5ff), f32::from_bits(0x3f8396d8)],
    f32::from_bits(0x37a7c5ac),
    f32::from_bits(0x3d4ccccd)
),
firmnet::layers::LeakyRelu::from_parts(
    f32::from_bits(0x3e000000)
),
firmnet::layers::Dropout::new(
    f32::from_bits(0x3ec00000)
),
firmnet::layers::Dense::from_parts(
    [[f32::from_bits(0x3f87bcd1), f32::from_bits(0xbe503745), f32::from_bits(0x3d557d41)], [f32::from_bits(0x3d285a5a), f32::from_bits(0xbe9fc0c8), f32::from_bits(0xbe1741e9)]],
    [f32::from_bits(0xbeee5728), f32::from_bits(0x3efd8de4)]
),
firmnet::layers::Tanh::from_parts(),
]
