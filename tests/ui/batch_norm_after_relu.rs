// A batch normalization after a ReLU cannot fold into a dense layer: the network has no
// int8 form, and asking for it names the layer.
use firmnet::prelude::*;
use firmnet::quant::Int8;

type MyNet = Net![Dense<4, 8>, Relu<[f32; 8]>, BatchNorm<8>, Dense<8, 2>];

fn main() {
    let _ = core::mem::size_of::<Int8<MyNet>>();
}
