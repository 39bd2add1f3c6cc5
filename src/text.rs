//! Numbers as text without `core::fmt`, for firmware that prints: `core::fmt`'s machinery
//! costs kilobytes of flash that a device running a small network cannot spare.
//! [`FormatError::describe`](crate::format::FormatError::describe) writes with these.
//!
//! ```
//! use firmnet::text::{decimal, hex};
//! assert_eq!(decimal(-1234, &mut [0; 11]), b"-1234");
//! assert_eq!(hex(0xbeef, &mut [0; 10]), b"0x0000beef");
//! ```

/// `v` in decimal, sign included, in the tail of `buf`. (32 bits: a Cortex-M0 has no
/// 64-bit division, and its software version costs nearly a kilobyte of flash.)
pub fn decimal(v: i32, buf: &mut [u8; 11]) -> &[u8] {
    // Ten digits at most, so the sign has its byte.
    let mut at = digits(v.unsigned_abs(), buf);
    if v < 0 && at > 0 {
        at -= 1;
        if let Some(d) = buf.get_mut(at) {
            *d = b'-';
        }
    }
    buf.get(at..).unwrap_or_default()
}

/// `v` in decimal, in the tail of `buf`.
pub fn unsigned(v: u32, buf: &mut [u8; 10]) -> &[u8] {
    let at = digits(v, buf);
    buf.get(at..).unwrap_or_default()
}

/// Writes the digits of `v` at the end of `buf` (as many as fit); returns where they
/// start. One body for both signs (every call site of a printer pays for an inlined copy).
#[inline(never)]
fn digits(mut v: u32, buf: &mut [u8]) -> usize {
    let mut at = buf.len();
    while at > 0 {
        at -= 1;
        if let Some(d) = buf.get_mut(at) {
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 {
            break;
        }
    }
    at
}

/// `v` as `0x` and eight hex digits.
pub fn hex(v: u32, buf: &mut [u8; 10]) -> &[u8] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let (prefix, digits) = buf.split_at_mut(2);
    prefix.copy_from_slice(b"0x");
    for (i, d) in digits.iter_mut().enumerate() {
        *d = DIGITS[((v >> (28 - 4 * i)) & 0xf) as usize];
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn against_core_fmt() {
        for v in [0, 1, -1, 9, 10, -10, 12345, i32::MAX, i32::MIN] {
            assert_eq!(decimal(v, &mut [0; 11]), std::format!("{v}").as_bytes());
        }
        for v in [0, 7, 10, 4_294_967_295u32] {
            assert_eq!(unsigned(v, &mut [0; 10]), std::format!("{v}").as_bytes());
            assert_eq!(hex(v, &mut [0; 10]), std::format!("{v:#010x}").as_bytes());
        }
    }
}
