//! The MLPerf Tiny models (`tests/mlperf_tiny/`) in firmware: one network borrowed from its
//! weight file in flash, run over the inputs embedded beside it, one instruction-counting
//! window per inference ([`crate::bench`]), every output reported as a line of hex bytes.
//! `cargo run --release --example mlperf_tiny` writes the weight files and inputs, builds
//! the firmware (`targets/qemu-cortex-m4` and `targets/qemu-riscv32`, `--features mlperf`),
//! runs it under QEMU and compares each line with the host's output for the same input.
//!
//! The lines:
//!
//! ```text
//! out 0 80ff7f00…        the output of input 0, its int8 values as two hex digits each
//! inferences 256         how many inputs were run
//! stack 1234             the stack's high-water mark after the first inference, in bytes
//! done
//! ```

use firmnet::net::{Infer, Scratch};
use firmnet::tensor::{Tensor, Zero};

use crate::bench::{bench_end, bench_start};

/// The memory one inference of `N` writes: its input, its output and its arena. A
/// `static` (all zero, [`Buffers::ZERO`]): no heap, nothing large on the stack.
pub struct Buffers<N: Infer> {
    /// The input, copied from flash before each inference.
    pub input: N::Input,
    /// The output.
    pub output: N::Output,
    /// The arena: the hidden layers' outputs.
    pub scratch: Scratch<N>,
}

impl<N: Infer> Buffers<N> {
    /// All zero; for a `static`.
    pub const ZERO: Buffers<N> = Buffers {
        input: Zero::ZERO,
        output: Zero::ZERO,
        scratch: Scratch::<N>::ZERO,
    };
}

/// Runs `net` on each input of `inputs` (consecutive, each as long as `N::Input`, int8
/// values stored as bytes): first an empty counting window (the markers' own cost), then
/// one window around each inference, the input's copy outside it. After each inference
/// calls `done(i, output)`. Returns how many inputs were run; bytes left over that do not
/// make a whole input are ignored.
pub fn run<N>(
    net: &N,
    inputs: &[u8],
    buf: &mut Buffers<N>,
    mut done: impl FnMut(usize, &[i8]),
) -> usize
where
    N: Infer<Input: Tensor<Elem = i8>, Output: Tensor<Elem = i8>>,
{
    let len = buf.input.as_slice().len();
    bench_start();
    bench_end();
    let mut count = 0;
    for (i, input) in inputs.chunks_exact(len.max(1)).enumerate() {
        for (x, &b) in buf.input.as_mut_slice().iter_mut().zip(input) {
            *x = b as i8;
        }
        bench_start();
        net.forward(
            core::hint::black_box(&buf.input),
            &mut buf.output,
            &mut buf.scratch,
        );
        bench_end();
        done(i, buf.output.as_slice());
        count += 1;
    }
    count
}

/// Writes `out i HEX`: the output of input `i`, two hex digits per int8 value (its byte),
/// in pieces of at most 64 bytes.
pub fn report(out: &mut impl FnMut(&[u8]), i: usize, output: &[i8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out(b"out ");
    out(firmnet::text::decimal(i as i32, &mut [0; 11]));
    out(b" ");
    for chunk in output.chunks(32) {
        let mut line = [0u8; 64];
        for (pair, &v) in line.chunks_exact_mut(2).zip(chunk) {
            let b = v as u8;
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 15)];
        }
        out(&line[..2 * chunk.len()]);
    }
    out(b"\n");
}

/// Writes `label value` and a newline.
pub fn field(out: &mut impl FnMut(&[u8]), label: &[u8], value: usize) {
    out(label);
    out(b" ");
    out(firmnet::text::decimal(
        i32::try_from(value).unwrap_or(i32::MAX),
        &mut [0; 11],
    ));
    out(b"\n");
}
