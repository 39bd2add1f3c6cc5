//! The deployment firmware's output, written without `core::fmt` (whose machinery alone
//! would not fit beside the network in a Cortex-M0's flash): decimal and hex by hand, each
//! line handed to a byte sink such as semihosting's stdout.
//!
//! The lines are those `examples/verify/main.rs` parses:
//!
//! ```text
//! logits 0 -37 -52 -44 -36 -45 7 -40 4 -46 43
//! accuracy 905 1000
//! digest 0x7dac0586
//! stack 712
//! ```

use firmnet::text::{decimal, hex};

use crate::fashion::{CLASSES, Outcome};

/// `label index 0xBITS`: one `f32` exactly, as its bits.
pub fn value(out: &mut impl FnMut(&[u8]), label: &str, index: usize, v: f32) {
    let mut buf = [0; 11];
    let mut h = [0; 10];
    out(label.as_bytes());
    out(b" ");
    out(decimal(index as i32, &mut buf));
    out(b" ");
    out(hex(v.to_bits(), &mut h));
    out(b"\n");
}

/// `label index 0xBITS0 0xBITS1 …`: `f32`s exactly, as their bits.
pub fn values(out: &mut impl FnMut(&[u8]), label: &str, index: usize, v: &[f32]) {
    let mut buf = [0; 11];
    let mut h = [0; 10];
    out(label.as_bytes());
    out(b" ");
    out(decimal(index as i32, &mut buf));
    for x in v {
        out(b" ");
        out(hex(x.to_bits(), &mut h));
    }
    out(b"\n");
}

/// `logits i v0 … v9`.
pub fn logits(out: &mut impl FnMut(&[u8]), i: usize, l: &[i8; CLASSES]) {
    let mut buf = [0; 11];
    out(b"logits ");
    out(decimal(i as i32, &mut buf));
    for &v in l {
        out(b" ");
        out(decimal(i32::from(v), &mut buf));
    }
    out(b"\n");
}

/// `accuracy correct images`, `digest 0x…`, `stack bytes`.
pub fn summary(out: &mut impl FnMut(&[u8]), o: &Outcome, stack: usize) {
    field(out, b"accuracy ", o.correct);
    field(out, b" ", o.images);
    out(b"\ndigest ");
    out(hex(o.digest, &mut [0; 10]));
    field(out, b"\nstack ", stack);
    out(b"\n");
}

/// `label` and `v` in decimal (one body for every field: a firmware pays for its flash).
#[inline(never)]
fn field(out: &mut impl FnMut(&[u8]), label: &[u8], v: usize) {
    out(label);
    out(decimal(v as i32, &mut [0; 11]));
}
