//! The deployment firmware's output, written without `core::fmt` (whose machinery alone
//! would not fit beside the network in a Cortex-M0's flash): decimal and hex by hand, each
//! line handed to a byte sink such as semihosting's stdout.
//!
//! The lines are those `examples/verify/main.rs` parses:
//!
//! ```text
//! logits 0 -37 -52 -44 -36 -45 7 -40 4 -46 43
//! accuracy 905 1000
//! digest 0x85181873
//! stack 1544
//! ```

use super::fashion::{CLASSES, Outcome};

/// `v` in decimal, sign included, in the tail of `buf`. (32 bits: a Cortex-M0 has no
/// 64-bit division, and its software version costs nearly a kilobyte of flash.)
pub fn decimal(v: i32, buf: &mut [u8; 12]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut at = buf.len();
    loop {
        at -= 1;
        if let Some(d) = buf.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 1 {
            break;
        }
    }
    if v < 0 {
        at -= 1;
        if let Some(d) = buf.get_mut(at) {
            *d = b'-';
        }
    }
    buf.get(at..).unwrap_or(&[])
}

/// `v` as `0x` and eight hex digits.
pub fn hex(v: u32, buf: &mut [u8; 10]) -> &[u8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    buf[0] = b'0';
    buf[1] = b'x';
    for (i, d) in buf[2..].iter_mut().enumerate() {
        *d = DIGITS[((v >> (28 - 4 * i)) & 0xf) as usize];
    }
    buf
}

/// `logits i v0 … v9`.
pub fn logits(out: &mut impl FnMut(&[u8]), i: usize, l: &[i8; CLASSES]) {
    let mut buf = [0; 12];
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
    let mut buf = [0; 12];
    let mut h = [0; 10];
    out(b"accuracy ");
    out(decimal(o.correct as i32, &mut buf));
    out(b" ");
    out(decimal(o.images as i32, &mut buf));
    out(b"\ndigest ");
    out(hex(o.digest, &mut h));
    out(b"\nstack ");
    out(decimal(stack as i32, &mut buf));
    out(b"\n");
}
