//! CRC-32 (IEEE 802.3, the checksum of zlib, PNG and Ethernet).
//!
//! Reflected polynomial `0xEDB88320`, initial value and final XOR `0xFFFFFFFF`; the check
//! value of the nine bytes `"123456789"` is `0xCBF43926`. One 64-byte table of the
//! remainders of the sixteen nibbles, built at compile time, and two table look-ups per byte:
//! no dependency, no `unsafe`, the same result on every target. (A 1 KiB byte-wise table
//! would halve the look-ups; on a microcontroller the 960 bytes of flash matter more than
//! the few milliseconds a boot-time check of a 242 KB file gains.)

/// The reflected generator polynomial.
const POLY: u32 = 0xEDB8_8320;

/// The remainder of each nibble value, computed in a `const` context (it lands in
/// `.rodata`).
const TABLE: [u32; 16] = {
    let mut table = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 4 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// A running CRC-32, for data that arrives in pieces.
///
/// ```
/// use firmnet::format::{Crc32, crc32};
/// let mut crc = Crc32::new();
/// crc.update(b"1234");
/// crc.update(b"56789");
/// assert_eq!(crc.finish(), 0xCBF4_3926);
/// assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc32 {
    state: u32,
}

impl Crc32 {
    /// The checksum of no bytes so far.
    pub const fn new() -> Self {
        Crc32 { state: !0 }
    }

    /// Adds `bytes` to the checksum.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.state;
        for &b in bytes {
            c ^= u32::from(b);
            c = (c >> 4) ^ TABLE[(c & 0xF) as usize];
            c = (c >> 4) ^ TABLE[(c & 0xF) as usize];
        }
        self.state = c;
    }

    /// The checksum of all bytes added so far.
    pub const fn finish(&self) -> u32 {
        !self.state
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// The CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = Crc32::new();
    crc.update(bytes);
    crc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published check values (the catalogue of parametrised CRC algorithms, and zlib).
    #[test]
    fn check_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        assert_eq!(crc32(&[0u8; 32]), 0x190A_55AD);
        assert_eq!(crc32(&[0xFFu8; 32]), 0xFF6C_AB0B);
    }
}
