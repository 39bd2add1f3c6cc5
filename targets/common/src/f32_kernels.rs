//! The f32 dense products whose instructions the Cortex-M4 counts
//! (`targets/qemu-cortex-m4/src/bin/count_f32.rs`), on seeded weights and inputs, with a
//! checksum of each output that the firmware and the host (`tests/f32_m4.rs`) both hold to
//! [`EXPECTED`], the reference kernels' bits: a fast path that changes one bit fails on
//! either side.
//!
//! | index | product | kernel | MACs |
//! | ---: | --- | --- | ---: |
//! | 0 | dense 784→256, one sample | [`kernels::gemv`] | 200,704 |
//! | 1 | dense 64→64, one sample | [`kernels::gemv`] | 4,096 |
//! | 2 | dense 67→13, one sample (leftover rows and columns) | [`kernels::gemv`] | 871 |
//! | 3 | dense 64→64, batch of 8 | [`kernels::gemm_nt`] | 32,768 |
//! | 4 | input gradient `dX = dY·W`, 64→64, batch of 8 | [`kernels::gemm_nn`] | 32,768 |
//! | 5 | weight gradient `dW += dYᵀ·X`, 64→64, batch of 8 | [`kernels::gemm_tn_acc`] | 32,768 |
//! | 6 | input gradient, 67→13, batch of 3 (leftover columns) | [`kernels::gemm_nn`] | 2,613 |
//! | 7 | weight gradient, 67→13, batch of 3 (leftover columns) | [`kernels::gemm_tn_acc`] | 2,613 |
//!
//! Everything large lives in [`Workspace`] (about 830 KB), which the firmware keeps in a
//! `static` and the host in a `Box`.

use firmnet::kernels;
use firmnet::rng::Rng;

/// Names of the windows, in order.
pub const NAMES: [&str; 8] = [
    "f32_784x256",
    "f32_64x64",
    "f32_67x13",
    "f32_64x64x8",
    "f32_dx64x64x8",
    "f32_dw64x64x8",
    "f32_dx67x13x3",
    "f32_dw67x13x3",
];

/// Multiply-accumulates of each window.
pub const WORK: [u32; 8] = [200_704, 4_096, 871, 32_768, 32_768, 32_768, 2_613, 2_613];

/// The FNV-1a checksum of each output's bits for [`fill`]'s values, as the reference
/// kernels compute them (`tests/f32_m4.rs` checks this on the host).
pub const EXPECTED: [u32; 8] = [
    0x83b8_7f16,
    0xaaad_bf3d,
    0xa33c_981d,
    0x67ac_8689,
    0xdf2d_85fe,
    0xe6af_32a6,
    0xf9a4_77d0,
    0x4ae1_0622,
];

/// Batch size of the batched products.
const B: usize = 8;

/// Weights, inputs and outputs of every window.
pub struct Workspace {
    w784: [[f32; 784]; 256],
    x784: [f32; 784],
    b256: [f32; 256],
    y256: [f32; 256],
    w64: [[f32; 64]; 64],
    x64: [f32; 64],
    b64: [f32; 64],
    y64: [f32; 64],
    w67: [[f32; 67]; 13],
    x67: [f32; 67],
    b13: [f32; 13],
    y13: [f32; 13],
    xb: [[f32; 64]; B],
    yb: [[f32; 64]; B],
    dy: [[f32; 64]; B],
    dx: [[f32; 64]; B],
    dw: [[f32; 64]; 64],
    dy3: [[f32; 13]; 3],
    x3: [[f32; 67]; 3],
    dx3: [[f32; 67]; 3],
    dw13: [[f32; 67]; 13],
}

impl Workspace {
    /// All zeros, for a `static`.
    pub const ZERO: Self = Self {
        w784: [[0.0; 784]; 256],
        x784: [0.0; 784],
        b256: [0.0; 256],
        y256: [0.0; 256],
        w64: [[0.0; 64]; 64],
        x64: [0.0; 64],
        b64: [0.0; 64],
        y64: [0.0; 64],
        w67: [[0.0; 67]; 13],
        x67: [0.0; 67],
        b13: [0.0; 13],
        y13: [0.0; 13],
        xb: [[0.0; 64]; B],
        yb: [[0.0; 64]; B],
        dy: [[0.0; 64]; B],
        dx: [[0.0; 64]; B],
        dw: [[0.0; 64]; 64],
        dy3: [[0.0; 13]; 3],
        x3: [[0.0; 67]; 3],
        dx3: [[0.0; 67]; 3],
        dw13: [[0.0; 67]; 13],
    };
}

/// Fills every operand with seeded values in `[-1, 1)` (products that round, so that the
/// order of summation shows in the bits) and the weight gradient with a seeded start.
pub fn fill(ws: &mut Workspace) {
    let mut rng = Rng::new(15);
    let mut put = |v: &mut [f32]| v.iter_mut().for_each(|e| *e = rng.uniform(-1.0, 1.0));
    put(ws.w784.as_flattened_mut());
    put(&mut ws.x784);
    put(&mut ws.b256);
    put(ws.w64.as_flattened_mut());
    put(&mut ws.x64);
    put(&mut ws.b64);
    put(ws.w67.as_flattened_mut());
    put(&mut ws.x67);
    put(&mut ws.b13);
    put(ws.xb.as_flattened_mut());
    put(ws.dy.as_flattened_mut());
    put(ws.dw.as_flattened_mut());
    put(ws.dy3.as_flattened_mut());
    put(ws.x3.as_flattened_mut());
    put(ws.dw13.as_flattened_mut());
}

/// Runs window `i` (nothing for an unknown index).
pub fn run(ws: &mut Workspace, i: usize) {
    match i {
        0 => kernels::gemv(ws.w784.as_flattened(), &ws.x784, &ws.b256, &mut ws.y256),
        1 => kernels::gemv(ws.w64.as_flattened(), &ws.x64, &ws.b64, &mut ws.y64),
        2 => kernels::gemv(ws.w67.as_flattened(), &ws.x67, &ws.b13, &mut ws.y13),
        3 => kernels::gemm_nt(
            ws.xb.as_flattened(),
            ws.w64.as_flattened(),
            &ws.b64,
            ws.yb.as_flattened_mut(),
            B,
            64,
            64,
        ),
        4 => kernels::gemm_nn(
            ws.dy.as_flattened(),
            ws.w64.as_flattened(),
            ws.dx.as_flattened_mut(),
            B,
            64,
            64,
        ),
        5 => kernels::gemm_tn_acc(
            ws.dy.as_flattened(),
            ws.xb.as_flattened(),
            ws.dw.as_flattened_mut(),
            64,
            64,
            B,
        ),
        6 => kernels::gemm_nn(
            ws.dy3.as_flattened(),
            ws.w67.as_flattened(),
            ws.dx3.as_flattened_mut(),
            3,
            67,
            13,
        ),
        7 => kernels::gemm_tn_acc(
            ws.dy3.as_flattened(),
            ws.x3.as_flattened(),
            ws.dw13.as_flattened_mut(),
            13,
            67,
            3,
        ),
        _ => {}
    }
}

/// The output of window `i` (empty for an unknown index).
pub fn output(ws: &Workspace, i: usize) -> &[f32] {
    match i {
        0 => &ws.y256,
        1 => &ws.y64,
        2 => &ws.y13,
        3 => ws.yb.as_flattened(),
        4 => ws.dx.as_flattened(),
        5 => ws.dw.as_flattened(),
        6 => ws.dx3.as_flattened(),
        7 => ws.dw13.as_flattened(),
        _ => &[],
    }
}

/// FNV-1a over the bytes of the values' bits, little-endian.
pub fn checksum(v: &[f32]) -> u32 {
    v.iter()
        .flat_map(|x| x.to_bits().to_le_bytes())
        .fold(0x811c_9dc5, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        })
}
