//! The Cortex-M4/M7 DSP paths of the int8 convolutions, pools and add, written once for
//! every target: on a `thumbv7em` core each primitive below is one DSP instruction
//! (`SXTB16`, `SMLAD`, `SXTAB16`, `PKHBT`, `SSUB8` + `SEL`), elsewhere an exact portable
//! twin. So the host runs the very blocking, packing and requantization the Cortex-M4
//! runs, and the tests (`tests/qconv_dsp.rs`) hold them to the scalar reference bit for
//! bit; the firmware `targets/qemu-cortex-m4` (`count.sh`) checks them on the core itself.
//! Integer sums do not depend on their order, so regrouping the products into 16-bit pairs
//! changes no bit.
//!
//! | kernel | what | how |
//! | --- | --- | --- |
//! | [`conv_pairs`] | a convolution's output pixels two at a time | both patches widened once to 16-bit pairs; the loop takes two filters per step, each filter word split by `SXTB16` once and used for both pixels (`SMLAD` ×8 per four taps; on the DSP targets one block of assembly, 15 instructions per 16 MACs: `LDM` of both patches' four words, two `LDR`, four `SXTB16`); requantization per filter pair, without per-channel tests when [`short_path`] holds and in six instructions per output, the four outputs clamped together, when the sums are small enough ([`Rescale`]); filters of other lengths padded by [`pad_filters`] |
//! | [`depthwise_words`], [`depthwise_pixel`] | a depthwise convolution's output pixel, four channels at a time | filters widened once per call to (tap, next tap) pairs per channel; each input word split by `SXTB16`, regrouped by `PKHBT`/`PKHTB`, `SMLAD` ×4 per two taps of four channels; each tap a slice of the input's words (padding taps a pixel of zero points), five pairs of taps unrolled — or, for inputs not in words, a byte offset per tap |
//! | [`max_words`] | the largest of words of four `i8` | `SSUB8` + `SEL` |
//! | [`sum_channels`] | per-channel sums over pixels | `SXTAB16` into 16-bit lanes, flushed to `i32` every 256 pixels |
//! | [`requantize`] | TensorFlow Lite's `MultiplyByQuantizedMultiplier` | one 64-bit product and a rounding shift, for the usual multipliers (positive) and exponents (−31 to 0); the general function otherwise |
//!
//! Every function here is safe and cannot panic: slices it cannot use whole are computed as
//! far as they reach, the rest left as it is.

#![allow(unsafe_code)]

use super::Requant;
use crate::quant::requant::multiply_by_quantized_multiplier;

// ---------------------------------------------------------------------------------------
// Primitives

/// `SXTB16 x`: bytes 0 and 2 of `x`, sign-extended, as the low and high 16-bit halves.
#[inline(always)]
pub fn sxtb16(x: u32) -> u32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let r: u32;
        // SAFETY: one register-to-register instruction of the DSP extension, which this
        // target has; it touches no memory, stack or flags.
        unsafe {
            core::arch::asm!("sxtb16 {r}, {x}", r = lateout(reg) r, x = in(reg) x,
                options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        let lo = x as u8 as i8 as i16 as u16 as u32;
        let hi = (x >> 16) as u8 as i8 as i16 as u16 as u32;
        lo | hi << 16
    }
}

/// `SXTB16 x, ROR #8`: bytes 1 and 3 of `x`, sign-extended, as the two halves.
#[inline(always)]
pub fn sxtb16_ror8(x: u32) -> u32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let r: u32;
        // SAFETY: as `sxtb16`.
        unsafe {
            core::arch::asm!("sxtb16 {r}, {x}, ror #8", r = lateout(reg) r, x = in(reg) x,
                options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        sxtb16(x >> 8)
    }
}

/// `SXTAB16 acc, acc, x`: `acc`'s two 16-bit halves plus bytes 0 and 2 of `x`,
/// sign-extended, each half wrapping.
#[inline(always)]
pub fn sxtab16(acc: u32, x: u32) -> u32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let mut a = acc;
        // SAFETY: as `sxtb16`.
        unsafe {
            core::arch::asm!("sxtab16 {a}, {a}, {x}", a = inout(reg) a, x = in(reg) x,
                options(pure, nomem, nostack, preserves_flags));
        }
        a
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        add16(acc, sxtb16(x))
    }
}

/// `SXTAB16 acc, acc, x, ROR #8`: `acc`'s halves plus bytes 1 and 3 of `x`.
#[inline(always)]
pub fn sxtab16_ror8(acc: u32, x: u32) -> u32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let mut a = acc;
        // SAFETY: as `sxtb16`.
        unsafe {
            core::arch::asm!("sxtab16 {a}, {a}, {x}, ror #8", a = inout(reg) a, x = in(reg) x,
                options(pure, nomem, nostack, preserves_flags));
        }
        a
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        add16(acc, sxtb16_ror8(x))
    }
}

/// `PKHBT r, a, b, LSL #16`: the low half of `a` as the low half, the low half of `b` as
/// the high half.
#[inline(always)]
pub fn pack_lo(a: u32, b: u32) -> u32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let r: u32;
        // SAFETY: as `sxtb16`.
        unsafe {
            core::arch::asm!("pkhbt {r}, {a}, {b}, lsl #16", r = lateout(reg) r, a = in(reg) a,
                b = in(reg) b, options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        (a & 0xffff) | b << 16
    }
}

/// `PKHTB r, b, a, ASR #16`: the high half of `a` as the low half, the high half of `b`
/// as the high half.
#[inline(always)]
pub fn pack_hi(a: u32, b: u32) -> u32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let r: u32;
        // SAFETY: as `sxtb16`.
        unsafe {
            core::arch::asm!("pkhtb {r}, {b}, {a}, asr #16", r = lateout(reg) r, a = in(reg) a,
                b = in(reg) b, options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        a >> 16 | (b & 0xffff_0000)
    }
}

/// Two 16-bit additions, each wrapping.
#[cfg(not(firmnet_arm_dsp))]
#[inline(always)]
fn add16(a: u32, b: u32) -> u32 {
    let lo = (a as u16).wrapping_add(b as u16) as u32;
    let hi = ((a >> 16) as u16).wrapping_add((b >> 16) as u16) as u32;
    lo | hi << 16
}

/// The halves of a word as `i16`s: (low, high).
#[cfg(not(firmnet_arm_dsp))]
#[inline(always)]
fn halves(x: u32) -> (i32, i32) {
    (
        i32::from(x as u16 as i16),
        i32::from((x >> 16) as u16 as i16),
    )
}

/// `SMLAD acc, x, y`: `acc + x.lo·y.lo + x.hi·y.hi` with signed 16-bit halves (wrapping;
/// the sums here never overflow).
#[inline(always)]
pub fn smlad(x: u32, y: u32, acc: i32) -> i32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let mut a = acc;
        // SAFETY: one DSP instruction on registers; it may set the Q flag, which no Rust
        // code reads.
        unsafe {
            core::arch::asm!("smlad {a}, {x}, {y}, {a}", a = inout(reg) a, x = in(reg) x,
                y = in(reg) y, options(pure, nomem, nostack));
        }
        a
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        let ((xl, xh), (yl, yh)) = (halves(x), halves(y));
        acc.wrapping_add(xl * yl).wrapping_add(xh * yh)
    }
}

/// `SMMULR a, b`: the high word of `a·b`, rounded: `(a·b + 2³¹) >> 32` (floor).
#[inline(always)]
pub fn smmulr(a: i32, b: i32) -> i32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let r: i32;
        // SAFETY: as `sxtb16`.
        unsafe {
            core::arch::asm!("smmulr {r}, {a}, {b}", r = lateout(reg) r, a = in(reg) a,
                b = in(reg) b, options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        ((i64::from(a) * i64::from(b) + (1 << 31)) >> 32) as i32
    }
}

/// `ASR r, x, e`: `x >> e` for a shift `e` in a register, `e` from 32 on giving the sign
/// (the instruction reads `e`'s low byte; the twin takes `e` below 256).
#[inline(always)]
pub fn asr(x: i32, e: u32) -> i32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let r: i32;
        // SAFETY: as `sxtb16`.
        unsafe {
            core::arch::asm!("asr {r}, {x}, {e}", r = lateout(reg) r, x = in(reg) x,
                e = in(reg) e, options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        x >> (e & 0xff).min(31)
    }
}

/// `BFI x, v, #LSB, #8`: `x` with its byte at bit `LSB` (0, 8, 16 or 24) replaced by `v`'s
/// low byte.
#[inline(always)]
pub fn insert_byte<const LSB: u32>(x: u32, v: u32) -> u32 {
    const { assert!(LSB <= 24) };
    #[cfg(firmnet_arm_dsp)]
    {
        let mut r = x;
        // SAFETY: as `sxtb16`.
        unsafe {
            core::arch::asm!("bfi {r}, {v}, #{lsb}, #8", r = inout(reg) r, v = in(reg) v,
                lsb = const LSB, options(pure, nomem, nostack, preserves_flags));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        (x & !(0xff << LSB)) | (v & 0xff) << LSB
    }
}

/// `SSAT r, #8, x, ASR #1`: `x >> 1` (floor) saturated to `−128..=127`.
#[inline(always)]
pub fn ssat8_half(x: i32) -> i32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let r: i32;
        // SAFETY: one register-to-register instruction; it may set the Q flag, which no
        // Rust code reads.
        unsafe {
            core::arch::asm!("ssat {r}, #8, {x}, asr #1", r = lateout(reg) r, x = in(reg) x,
                options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        (x >> 1).clamp(-128, 127)
    }
}

/// The larger of each of the four signed bytes of `a` and `b` (`SSUB8` sets a flag per
/// byte, `SEL` picks by them).
#[inline(always)]
pub fn max_i8x4(a: u32, b: u32) -> u32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let r: u32;
        // SAFETY: two DSP instructions on registers; the GE flags they use are set by the
        // first and read by the second within the block.
        unsafe {
            core::arch::asm!("ssub8 {r}, {a}, {b}", "sel {r}, {a}, {b}", r = out(reg) r,
                a = in(reg) a, b = in(reg) b, options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        u32::from_le_bytes(core::array::from_fn(|i| {
            let (x, y) = (a.to_le_bytes()[i] as i8, b.to_le_bytes()[i] as i8);
            x.max(y) as u8
        }))
    }
}

/// The smaller of each of the four signed bytes of `a` and `b`.
#[inline(always)]
pub fn min_i8x4(a: u32, b: u32) -> u32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let r: u32;
        // SAFETY: as `max_i8x4`.
        unsafe {
            core::arch::asm!("ssub8 {r}, {a}, {b}", "sel {r}, {b}, {a}", r = out(reg) r,
                a = in(reg) a, b = in(reg) b, options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        u32::from_le_bytes(core::array::from_fn(|i| {
            let (x, y) = (a.to_le_bytes()[i] as i8, b.to_le_bytes()[i] as i8);
            x.min(y) as u8
        }))
    }
}

/// `bytes` as words, if it starts 4-byte aligned (the last `len mod 4` bytes left out):
/// one `LDR` per word, where a word assembled from bytes takes seven instructions.
#[inline(always)]
pub fn as_words(bytes: &[i8]) -> Option<&[u32]> {
    // SAFETY: every bit pattern is a valid `u32` and a valid `[i8; 4]`, and `align_to`
    // returns only the properly aligned middle part as `u32`s.
    let (head, words, _) = unsafe { bytes.align_to::<u32>() };
    head.is_empty().then_some(words)
}

/// The 4-byte aligned part of `bytes` as words (possibly empty).
#[inline(always)]
pub fn as_words_mut(bytes: &mut [i8]) -> &mut [u32] {
    // SAFETY: as `as_words`; the middle part is a distinct, aligned region of `bytes`.
    let (_, words, _) = unsafe { bytes.align_to_mut::<u32>() };
    words
}

/// Whether a convolution's filter matrix `w` of rows of `n` weights can be read a word at
/// a time: `n` a multiple of 4 and `w` 4-byte aligned. Then [`widen_patch`] and
/// [`conv_pairs`] take `split`.
#[inline]
pub fn splits(w: &[i8], n: usize) -> bool {
    n.is_multiple_of(4) && as_words(w).is_some()
}

/// The filter matrix `w` (rows of `n` weights) copied into `out` with each row padded by
/// zeros to `n` rounded up to a multiple of 4, so that [`conv_pairs`] can read it a word at
/// a time (`split`) with that row length: the zero weights meet taps past the patch's end,
/// which [`widen_patch`] writes as 0. `None` when `out` is too small or not 4-byte aligned.
pub fn pad_filters<'a>(w: &[i8], n: usize, out: &'a mut [i8]) -> Option<&'a [i8]> {
    let n4 = n.next_multiple_of(4);
    if n == 0 || out.as_ptr().align_offset(4) != 0 {
        return None;
    }
    let out = out.get_mut(..w.len() / n * n4)?;
    for (dst, src) in out.chunks_exact_mut(n4).zip(w.chunks_exact(n)) {
        let (row, zeros) = dst.split_at_mut(n);
        row.copy_from_slice(src);
        zeros.fill(0);
    }
    Some(out)
}

/// Bytes aligned for words: room for [`pad_filters`] on the stack.
#[repr(C, align(4))]
pub struct WordAligned<const N: usize>(pub [i8; N]);

// ---------------------------------------------------------------------------------------
// Requantization

/// `MultiplyByQuantizedMultiplier(acc, m, shift)`, bit for bit, in about nine
/// instructions for a positive `m` and a `shift` in `−31..=0` (every multiplier and almost
/// every exponent a conversion makes); the general function otherwise.
///
/// The doubling high multiply `(acc·m + 2³⁰) >> 31` (floor) equals gemmlowp's nudge and
/// division truncating towards zero for every product but `i32::MIN²`. The rounding
/// divide by `2^e`, half away from zero, is `((s + (s >> 31)) >> (e − 1)) + 1 >> 1`: the
/// floor of `(s + 2^(e−1))/2^e` for `s ≥ 0`, of `(s − 1 + 2^(e−1))/2^e` for `s < 0`. With
/// `0 < m < 2³¹`, `s` lies strictly between `i32::MIN` and `i32::MAX`, so nothing wraps.
#[inline(always)]
pub fn requantize(acc: i32, m: i32, shift: i32) -> i32 {
    if m > 0 && (-31..=0).contains(&shift) {
        let s = ((i64::from(acc) * i64::from(m) + (1 << 30)) >> 31) as i32;
        if shift == 0 {
            return s;
        }
        let t = (s + (s >> 31)) >> ((-shift - 1) as u32);
        (t + 1) >> 1
    } else {
        multiply_by_quantized_multiplier(acc, m, shift)
    }
}

/// [`Requant::apply`] through [`requantize`]: the same bits.
#[inline(always)]
fn output(rq: &Requant<'_>, acc: i32, m: i32, shift: i32) -> i8 {
    output_as::<false>(rq, acc, m, shift)
}

/// Whether every channel of `rq` has a positive multiplier and an exponent in `−31..=−1`:
/// then the kernels that take the answer (`short`) requantize without a test per channel.
pub fn short_path(rq: &Requant<'_>) -> bool {
    rq.multiplier.iter().all(|&m| m > 0) && rq.shift.iter().all(|s| (-31..=-1).contains(s))
}

/// [`output`], with `SHORT` the answer of [`short_path`] for `rq`: [`requantize`]'s
/// first branch, taken without its tests.
#[inline(always)]
fn output_as<const SHORT: bool>(rq: &Requant<'_>, acc: i32, m: i32, shift: i32) -> i8 {
    let v = rescale_as::<SHORT>(acc, m, shift).saturating_add(rq.zero_point);
    v.max(i32::from(rq.min)).min(i32::from(rq.max)) as i8
}

/// [`requantize`], with `SHORT` as for [`output_as`].
#[inline(always)]
fn rescale_as<const SHORT: bool>(acc: i32, m: i32, shift: i32) -> i32 {
    if SHORT {
        let s = ((i64::from(acc) * i64::from(m) + (1 << 30)) >> 31) as i32;
        // `!shift` is `−shift − 1`, in 0..=30 here.
        let t = (s + (s >> 31)) >> ((!shift) as u32 & 31);
        (t + 1) >> 1
    } else {
        requantize(acc, m, shift)
    }
}

// ---------------------------------------------------------------------------------------
// Convolution: two pixels at a time

/// Writes the patch `bytes` (a convolution's `KH·KW·C` window values) as 16-bit pairs into
/// slot `slot` (0 or 1) of `wide`, where each group of four taps `4j..4j+4` takes words
/// `4j + 2·slot` and `4j + 2·slot + 1`: bytes 0 and 2 then 1 and 3 (`SXTB16`'s order),
/// when `split` — the weights are read a word at a time and split the same way — or
/// (0, 1) then (2, 3) otherwise. Taps past the patch's end are 0. Writes as far as `wide`
/// reaches.
#[inline(never)]
pub fn widen_patch(bytes: &[i8], wide: &mut [u32], slot: usize, split: bool) {
    let wide = wide.get_mut(2 * (slot & 1)..).unwrap_or_default();
    let full = bytes.len() / 4;
    let mut done = 0;
    if let (true, Some(words)) = (split, as_words(bytes)) {
        // The common case: one LDR, two SXTB16, one STRD per four taps, into whole
        // groups; in slot 1 the last group's two words are past the whole groups.
        let (quads, rem) = wide.as_chunks_mut::<4>();
        let mut words = words.iter();
        for (q, &x) in quads.iter_mut().zip(&mut words) {
            [q[0], q[1]] = [sxtb16(x), sxtb16_ror8(x)];
        }
        if let ([a, b, ..], Some(&x)) = (rem, words.next()) {
            (*a, *b) = (sxtb16(x), sxtb16_ror8(x));
        }
        done = full;
    }
    let groups = bytes.len().div_ceil(4);
    if done == groups {
        return;
    }
    let rest = wide.get_mut(4 * done..).unwrap_or_default();
    let left = bytes.get(4 * done..).unwrap_or_default();
    for (pair, src) in rest.chunks_mut(4).zip(left.chunks(4)) {
        let mut b = [0u8; 4];
        for (d, s) in b.iter_mut().zip(src) {
            *d = *s as u8;
        }
        let x = u32::from_le_bytes(b);
        let (lo, hi) = if split {
            (sxtb16(x), sxtb16_ror8(x))
        } else {
            (pack(b[0], b[1]), pack(b[2], b[3]))
        };
        if let [p, q, ..] = pair {
            (*p, *q) = (lo, hi);
        }
    }
}

/// Where each tap of a patch of at most 32 taps lies in a slice of the input: built once
/// per layer ([`Taps::new`]), then [`widen_taps`] reads a patch that lies inside the input
/// with one bounds check instead of one per tap.
#[derive(Clone, Copy, Debug)]
pub struct Taps {
    offsets: [u32; 32],
    len: usize,
    span: usize,
}

impl Taps {
    /// The taps at `offset(t)` for `t` in `0..len` (`len` at most 32, else `None`).
    pub fn new(len: usize, offset: impl Fn(usize) -> usize) -> Option<Taps> {
        let mut offsets = [0u32; 32];
        let mut span = 0;
        for (t, o) in offsets.get_mut(..len)?.iter_mut().enumerate() {
            let at = offset(t);
            *o = u32::try_from(at).ok()?;
            span = span.max(at + 1);
        }
        Some(Taps { offsets, len, span })
    }
}

/// [`widen_patch`] with `split` for the patch whose tap `t` is `src[taps.offsets[t]]`:
/// into slot `slot` of `wide`, taps past the patch 0, as far as `wide` reaches. Nothing
/// if `src` is shorter than the taps' span.
#[inline(never)]
pub fn widen_taps(src: &[i8], taps: &Taps, wide: &mut [u32], slot: usize) {
    if src.len() < taps.span {
        return;
    }
    let wide = wide.get_mut(2 * (slot & 1)..).unwrap_or_default();
    let (quads, _) = taps.offsets.as_chunks::<4>();
    let groups = taps.len.div_ceil(4);
    for (j, (q, out)) in quads
        .iter()
        .zip(wide.chunks_mut(4))
        .take(groups)
        .enumerate()
    {
        let at = |i: usize| {
            if 4 * j + i < taps.len {
                // SAFETY: every offset below `taps.len` is below `taps.span` (`Taps::new`),
                // which `src.len()` reaches (checked above).
                unsafe { *src.get_unchecked(q[i] as usize) as u8 }
            } else {
                0
            }
        };
        if let [a, b, ..] = out {
            (*a, *b) = (pack(at(0), at(2)), pack(at(1), at(3)));
        }
    }
}

/// Writes `groups` groups of four taps of value `z` into slot `slot` of `wide`, in the
/// layout of [`widen_patch`]: a window's padding.
#[inline]
pub fn fill_patch(z: i8, groups: usize, wide: &mut [u32], slot: usize) {
    // (z, z) is the same pair in either order.
    let pair = pack(z as u8, z as u8);
    let wide = wide.get_mut(2 * (slot & 1)..).unwrap_or_default();
    for g in wide.chunks_mut(4).take(groups) {
        if let [a, b, ..] = g {
            (*a, *b) = (pair, pair);
        }
    }
}

/// Two bytes as a pair of sign-extended 16-bit halves: `a` low, `b` high.
#[inline(always)]
fn pack(a: u8, b: u8) -> u32 {
    (a as i8 as i16 as u16 as u32) | ((b as i8 as i16 as u16 as u32) << 16)
}

/// Weights `4j..4j+4` of `row` as two 16-bit pairs in (0, 1), (2, 3) order.
#[inline(always)]
fn weight_pairs(row: &[i8], j: usize) -> (u32, u32) {
    {
        match row.get(4 * j..4 * j + 4) {
            Some(&[a, b, c, d]) => (pack(a as u8, b as u8), pack(c as u8, d as u8)),
            _ => {
                // The last, partial group: taps past the filter's end are 0.
                let t = |i: usize| row.get(4 * j + i).map_or(0, |&v| v as u8);
                (pack(t(0), t(1)), pack(t(2), t(3)))
            }
        }
    }
}

/// How [`conv_pairs`] requantizes, chosen once per layer by [`Rescale::of`]: every way
/// gives the bits of [`Requant::apply`] for the parameters it was chosen for. Only
/// [`of`](Rescale::of) makes a faster way than [`GENERAL`](Rescale::GENERAL), so a layer
/// cannot be handed one its parameters do not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rescale(Way);

/// The ways of [`Rescale`], fastest last ([`Rescale::way`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// [`requantize`] with its tests per channel.
    General,
    /// Every channel on [`requantize`]'s first branch ([`short_path`]): no tests.
    Short,
    /// As `Short`, and every sum `|bias + Σ w·x| < 2³⁰` (each bias below
    /// `2³⁰ − 2¹⁴·n` in size, `n` the filter length) and the output zero point below 2²⁸
    /// in size: then nothing overflows in the six instructions per output
    /// (`SMMULR` on the doubled sum, the rounding shift, the zero point and `SSAT`), and
    /// four outputs are clamped at once (`SSUB8` + `SEL`).
    Bounded,
}

impl Rescale {
    /// The way that holds for every layer: [`requantize`] with its tests.
    pub const GENERAL: Rescale = Rescale(Way::General);

    /// The fastest way that holds for `rq` and filters of `n` weights.
    pub fn of(rq: &Requant<'_>, n: usize) -> Rescale {
        if !short_path(rq) {
            return Rescale::GENERAL;
        }
        // |Σ w·x| ≤ 2¹⁴·n for `i8` weights and inputs.
        let room = (1i64 << 30) - (n as i64).saturating_mul(1 << 14);
        let sums = rq.bias.iter().all(|&b| i64::from(b).abs() < room);
        if sums && i64::from(rq.zero_point).abs() < 1 << 28 {
            Rescale(Way::Bounded)
        } else {
            Rescale(Way::Short)
        }
    }

    /// Which way this is.
    pub fn way(self) -> Way {
        self.0
    }
}

/// [`output_as`]`::<true>` without its clamp to `rq.min..=rq.max`, for [`Way::Bounded`]
/// sums: `acc·m` rounded to 31 bits by `SMMULR` on `2·acc` (`|acc| < 2³⁰`), the rounding
/// shift by `e = −shift` as `((s + (s >> 31)) >> (e − 1)) + 1 >> 1` with the zero point
/// `z2 = 2·zp + 1` folded into the last shift (`(t + 1 + 2·zp) >> 1` is
/// `((t + 1) >> 1) + zp`), and `SSAT` to `−128..=127`, which the clamp then narrows as it
/// would the unsaturated value. `e1` is `e − 1`.
#[inline(always)]
fn bounded(acc: i32, m: i32, e1: u32, z2: i32) -> i32 {
    let s = smmulr(acc.wrapping_mul(2), m);
    let t = asr(s.wrapping_add(s >> 31), e1);
    ssat8_half(t.wrapping_add(z2))
}

/// The outputs of channels `o..o + 4` for the sums `acc` (biases included), on the
/// [`Way::Bounded`] path: six instructions each on the DSP targets and one clamp for all
/// four (`SSUB8` + `SEL`), the bits of [`Requant::output`] wherever
/// [`Rescale::of`]`(rq, n)` is `Bounded` for sums of `n` products. `None` if `rq` has no
/// channel `o + 3`.
#[inline(always)]
pub fn bounded_four(rq: &Requant<'_>, o: usize, acc: [i32; 4]) -> Option<[i8; 4]> {
    let m = <&[i32; 4]>::try_from(rq.multiplier.get(o..o + 4)?).ok()?;
    let s = <&[i32; 4]>::try_from(rq.shift.get(o..o + 4)?).ok()?;
    let z2 = rq.zero_point.wrapping_mul(2).wrapping_add(1);
    let v = bounded_word(acc, m, s, z2, splat(rq.min), splat(rq.max));
    Some(v.to_le_bytes().map(|b| b as i8))
}

/// [`bounded_four`] on parts: the four outputs as one word (byte `j` channel `j`), for
/// multipliers `m`, shifts `s`, `z2 = 2·zp + 1` and the clamp's bounds `lo` and `hi`
/// [`splat`]ted.
#[inline(always)]
fn bounded_word(acc: [i32; 4], m: &[i32; 4], s: &[i32; 4], z2: i32, lo: u32, hi: u32) -> u32 {
    let e = |k: usize| !s[k] as u32;
    let v = bounded(acc[0], m[0], e(0), z2) as u32;
    let v = insert_byte::<8>(v, bounded(acc[1], m[1], e(1), z2) as u32);
    let v = insert_byte::<16>(v, bounded(acc[2], m[2], e(2), z2) as u32);
    let v = insert_byte::<24>(v, bounded(acc[3], m[3], e(3), z2) as u32);
    min_i8x4(max_i8x4(v, lo), hi)
}

/// One group of four taps of [`dot_pairs`]' assembly: both patches' four words (r8–r11,
/// from r4), each filter's word (rows at r5 and r12) split into two pairs (r7, r6), eight
/// `SMLAD`s into the sums (r0–r3). The argument only counts repetitions.
#[cfg(firmnet_arm_dsp)]
macro_rules! dot_group {
    ($g:literal) => {
        concat!(
            "ldm r4!, {{r8, r9, r10, r11}}\n",
            "ldr r6, [r5], #4\n",
            "sxtb16 r7, r6\n",
            "sxtb16 r6, r6, ror #8\n",
            "smlad r0, r8, r7, r0\n",
            "smlad r0, r9, r6, r0\n",
            "smlad r1, r10, r7, r1\n",
            "smlad r1, r11, r6, r1\n",
            "ldr r6, [r12], #4\n",
            "sxtb16 r7, r6\n",
            "sxtb16 r6, r6, ror #8\n",
            "smlad r2, r8, r7, r2\n",
            "smlad r2, r9, r6, r2\n",
            "smlad r3, r10, r7, r3\n",
            "smlad r3, r11, r6, r3\n",
        )
    };
}

// ---------------------------------------------------------------------------------------
// Pointwise convolution of few input channels: two pixels, four filters at a time

/// A 1×1 convolution of `4·G` input channels (stride 1) on the [`Way::Bounded`] path:
/// `y` holds, for each pixel of `x` (`G` words of four channels each), its `K = 4·w.len()
/// / 4` outputs as `K/4` words; `w` holds the `K` filters as `G` words each. Two pixels
/// per step, each widened once by `SXTB16` into `2·G` pairs; per four filters each
/// weight word is split once and used for both pixels (eight sums), and each pixel's
/// four outputs are requantized in six instructions each and clamped together
/// ([`bounded_four`]). The bits of [`Requant::output`] wherever [`Rescale::of`]`(rq, 4·G)`
/// is `Bounded`; with another way it computes other bits, so callers check it first.
/// Pixels `y` has no room for are left as they are, and everything when `rq` has fewer
/// channels than `w`. Cannot panic.
#[inline(never)]
pub fn pointwise_bounded<const G: usize>(
    x: &[[u32; G]],
    w: &[[u32; G]],
    rq: &Requant<'_>,
    y: &mut [u32],
) {
    let (w4, []) = w.as_chunks::<4>() else {
        return;
    };
    let kw = w4.len();
    let (b4, _) = rq.bias.as_chunks::<4>();
    let (m4, _) = rq.multiplier.as_chunks::<4>();
    let (s4, _) = rq.shift.as_chunks::<4>();
    if kw == 0 || b4.len() < kw || m4.len() < kw || s4.len() < kw {
        return;
    }
    let (lo, hi) = (splat(rq.min), splat(rq.max));
    let z2 = rq.zero_point.wrapping_mul(2).wrapping_add(1);
    let (pairs, last) = x.as_chunks::<2>();
    let mut out = y.chunks_exact_mut(2 * kw);
    for ([a, b], o) in pairs.iter().zip(&mut out) {
        let (oa, ob) = o.split_at_mut(kw);
        pointwise_two(&widen_two(a, b), w4, (b4, m4, s4), (z2, lo, hi), oa, ob);
    }
    // An odd last pixel: paired with itself, the second copy's outputs dropped, eight
    // filters at a time.
    if let ([a], Some(o)) = (last, out.into_remainder().get_mut(..kw)) {
        let wide = widen_two(a, a);
        let mut spare = [0u32; 2];
        for (i, o) in o.chunks_mut(2).enumerate() {
            let (b, m, s) = (b4.get(2 * i..), m4.get(2 * i..), s4.get(2 * i..));
            let (b, m, s) = (
                b.unwrap_or_default(),
                m.unwrap_or_default(),
                s.unwrap_or_default(),
            );
            let w = w4.get(2 * i..).unwrap_or_default();
            pointwise_two(&wide, w, (b, m, s), (z2, lo, hi), o, &mut spare);
        }
    }
}

/// [`conv_pairs`] for filters of `n` weights, a multiple of 4 up to 32, read a word at a
/// time from `w` (4-byte aligned), a multiple of 4 of them, outputs `y0` and `y1` 4-byte
/// aligned, on the [`Way::Bounded`] path (`path`): straight blocks of assembly, four
/// filters per step, each pixel's four outputs requantized and clamped together as
/// [`pointwise_bounded`] does. `false`, with nothing written, when any of that does not
/// hold (then [`conv_pairs`] computes the same bits). The patches are in `wide` as
/// [`widen_patch`] writes them with `split`.
#[allow(clippy::too_many_arguments)]
pub fn conv_quads(
    w: &[i8],
    n: usize,
    wide: &[u32],
    rq: &Requant<'_>,
    path: Rescale,
    y0: &mut [i8],
    y1: &mut [i8],
) -> bool {
    let k = y0.len();
    let aligned = |y: &[i8]| y.as_ptr().align_offset(4) == 0;
    if path.0 != Way::Bounded
        || !n.is_multiple_of(4)
        || !k.is_multiple_of(4)
        || y1.len() != k
        || !aligned(y0)
        || !aligned(y1)
        || !rq.fits(n, w.len(), k)
    {
        return false;
    }
    let Some(words) = as_words(w) else {
        return false;
    };
    let (ya, yb) = (as_words_mut(y0), as_words_mut(y1));
    macro_rules! run {
        ($g:literal) => {{
            let (Some(wide), (rows, _)) = (
                wide.as_chunks::<4>().0.first_chunk::<$g>(),
                words.as_chunks::<$g>(),
            ) else {
                return false;
            };
            let (w4, _) = rows.as_chunks::<4>();
            let (b4, _) = rq.bias.as_chunks::<4>();
            let (m4, _) = rq.multiplier.as_chunks::<4>();
            let (s4, _) = rq.shift.as_chunks::<4>();
            let (lo, hi) = (splat(rq.min), splat(rq.max));
            let z2 = rq.zero_point.wrapping_mul(2).wrapping_add(1);
            pointwise_two(wide, w4, (b4, m4, s4), (z2, lo, hi), ya, yb);
        }};
    }
    match n / 4 {
        1 => run!(1),
        2 => run!(2),
        3 => run!(3),
        4 => run!(4),
        5 => run!(5),
        6 => run!(6),
        7 => run!(7),
        8 => run!(8),
        _ => return false,
    }
    true
}

/// The filter loop of [`pointwise_bounded`] for the two pixels `wide` (per word of
/// input, `[a even, a odd, b even, b odd]` as [`widen_two`] writes them), into `ya` and
/// `yb` (as far as both reach).
#[inline(always)]
#[allow(clippy::type_complexity)]
fn pointwise_two<const G: usize>(
    wide: &[[u32; 4]; G],
    w4: &[[[u32; G]; 4]],
    (b4, m4, s4): (&[[i32; 4]], &[[i32; 4]], &[[i32; 4]]),
    (z2, lo, hi): (i32, u32, u32),
    ya: &mut [u32],
    yb: &mut [u32],
) {
    let filters = w4.iter().zip(b4).zip(m4).zip(s4);
    for ((((f, bias), m), s), (oa, ob)) in filters.zip(ya.iter_mut().zip(yb.iter_mut())) {
        let [f0, f1, f2, f3] = f;
        let [a0, b0, a1, b1] = dot_fixed(wide, f0, f1, bias[0], bias[1]);
        let [a2, b2, a3, b3] = dot_fixed(wide, f2, f3, bias[2], bias[3]);
        *oa = bounded_word([a0, a1, a2, a3], m, s, z2, lo, hi);
        *ob = bounded_word([b0, b1, b2, b3], m, s, z2, lo, hi);
    }
}

/// Two pixels of `G` words each, widened by `SXTB16` into the layout of [`dot_pairs`]:
/// per word `[a even, a odd, b even, b odd]` (even: bytes 0 and 2, odd: 1 and 3).
#[inline(always)]
fn widen_two<const G: usize>(a: &[u32; G], b: &[u32; G]) -> [[u32; 4]; G] {
    let mut out = [[0; 4]; G];
    for ((o, &u), &v) in out.iter_mut().zip(a).zip(b) {
        *o = [sxtb16(u), sxtb16_ror8(u), sxtb16(v), sxtb16_ror8(v)];
    }
    out
}

/// [`dot_pairs`] for exactly `G` groups (1 to 8): on the DSP targets one straight block of
/// its assembly (15 instructions per group, no loop), elsewhere [`dot_pairs`] itself.
#[inline(always)]
fn dot_fixed<const G: usize>(
    wide: &[[u32; 4]; G],
    r0: &[u32; G],
    r1: &[u32; G],
    b0: i32,
    b1: i32,
) -> [i32; 4] {
    #[cfg(firmnet_arm_dsp)]
    {
        let (mut a00, mut a01, mut a10, mut a11) = (b0, b0, b1, b1);
        let (pw, p0, p1) = (wide.as_ptr(), r0.as_ptr(), r1.as_ptr());
        macro_rules! block {
            ($($g:literal)*) => {
                // SAFETY: as in `dot_pairs`: the block reads `G` groups of `wide` (16
                // bytes each) and `G` words of each of `r0` and `r1` — as many groups as
                // the block has, `G` — all inside the three arrays, which are 4-byte
                // aligned; it writes only registers (r6 and r7 pushed first and popped
                // last) and the flags.
                unsafe {
                    core::arch::asm!(
                        "push {{r6, r7}}",
                        $( dot_group!($g), )*
                        "pop {{r6, r7}}",
                        inout("r0") a00,
                        inout("r1") a01,
                        inout("r2") a10,
                        inout("r3") a11,
                        inout("r4") pw => _,
                        inout("r5") p0 => _,
                        inout("r12") p1 => _,
                        out("r8") _,
                        out("r9") _,
                        out("r10") _,
                        out("r11") _,
                        options(readonly),
                    );
                }
            };
        }
        match G {
            1 => block!(0),
            2 => block!(0 1),
            3 => block!(0 1 2),
            4 => block!(0 1 2 3),
            5 => block!(0 1 2 3 4),
            6 => block!(0 1 2 3 4 5),
            7 => block!(0 1 2 3 4 5 6),
            8 => block!(0 1 2 3 4 5 6 7),
            _ => return dot_pairs(wide, r0, r1, b0, b1),
        }
        [a00, a01, a10, a11]
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        dot_pairs(wide, r0, r1, b0, b1)
    }
}

/// One convolution step for two output pixels: `y0[k]` and `y1[k]` for every filter `k`
/// of the row-major `y0.len() × n` matrix `w`, from the two patches of `n` values that
/// [`widen_patch`] wrote into `wide` (`⌈n/4⌉` groups of four words), with `split` as it
/// was there. `split` needs `n` a multiple of 4 and `w`
/// 4-byte aligned (the filters are read a word at a time); either way the bits are the
/// reference's. Filters two at a time, the last alone; outputs the slices do not hold are
/// left as they are. `path` is [`Rescale::of`]`(rq, n)`, computed once per layer (with
/// [`Rescale::GENERAL`] the bits are the same, the requantization tests each channel; a
/// way that does not hold for `rq` gives other bits). Cannot panic.
#[allow(clippy::too_many_arguments)]
pub fn conv_pairs(
    w: &[i8],
    n: usize,
    wide: &[u32],
    split: bool,
    rq: &Requant<'_>,
    path: Rescale,
    y0: &mut [i8],
    y1: &mut [i8],
) {
    let k_out = y0.len().min(y1.len());
    if n == 0 || !rq.fits(n, w.len(), k_out) {
        return;
    }
    let groups = n.div_ceil(4);
    let Some(wide) = wide.get(..4 * groups) else {
        return;
    };
    if split {
        let Some(words) = as_words(w).filter(|_| n.is_multiple_of(4)) else {
            return;
        };
        match path.0 {
            Way::Bounded => pairs_words::<2>(words, groups, wide, rq, y0, y1),
            Way::Short => pairs_words::<1>(words, groups, wide, rq, y0, y1),
            Way::General => pairs_words::<0>(words, groups, wide, rq, y0, y1),
        }
    } else if path.0 == Way::General {
        conv_pairs_bytes::<false>(w, n, wide, rq, y0, y1);
    } else {
        conv_pairs_bytes::<true>(w, n, wide, rq, y0, y1);
    }
}

/// The sums of two filters (rows `r0` and `r1` of words of four weights) against the two
/// patches in `wide` (groups of four words, as [`widen_patch`] writes them with `split`),
/// starting from `b0` and `b1`: `[filter 0 · patch 0, filter 0 · patch 1, filter 1 · patch
/// 0, filter 1 · patch 1]`, over as many groups as all three hold. Per group two words of
/// weights split by `SXTB16`, eight `SMLAD`s; on the DSP targets one block of assembly
/// (one `LDM` for a group's four words of patches, loads that advance their pointers, no
/// spills: 15 instructions per group), four groups per step, then the last one to three
/// one at a time; elsewhere the primitives.
#[inline(always)]
fn dot_pairs(wide: &[[u32; 4]], r0: &[u32], r1: &[u32], b0: i32, b1: i32) -> [i32; 4] {
    let len = wide.len().min(r0.len()).min(r1.len());
    let (mut a00, mut a01, mut a10, mut a11) = (b0, b0, b1, b1);
    #[cfg(not(firmnet_arm_dsp))]
    let done = 0;
    #[cfg(firmnet_arm_dsp)]
    let done = {
        if len > 0 {
            let (mut pw, mut p0, mut p1, mut k) = (wide.as_ptr(), r0.as_ptr(), r1.as_ptr(), len);
            // SAFETY: the block reads `len` groups of `wide` (16 bytes each from `pw`) and
            // `len` words from each of `r0` and `r1` — four groups per step while four
            // remain, then one per step (`lr` counts the groups left) — advancing the
            // pointers past them: all inside the three slices, which are 4-byte aligned as
            // `LDM`/`LDR` need. It writes only registers and the flags (and perhaps the Q
            // flag, which no Rust code reads). It also uses r6 and r7, which the compiler
            // may reserve (base and frame pointer) and so cannot take as operands: it
            // pushes them first and pops them last, so no code outside the block sees them
            // change (an exception handler saves what it uses), and the stack holds them
            // only within the block, 8 bytes keeping its alignment.
            unsafe {
                core::arch::asm!(
                    "push {{r6, r7}}",
                    "subs lr, lr, #4",
                    "blo 3f",
                    "2:",
                    dot_group!(0),
                    dot_group!(0),
                    dot_group!(0),
                    dot_group!(0),
                    "subs lr, lr, #4",
                    "bhs 2b",
                    "3:",
                    "adds lr, lr, #4",
                    "beq 5f",
                    "4:",
                    dot_group!(0),
                    "subs lr, lr, #1",
                    "bne 4b",
                    "5:",
                    "pop {{r6, r7}}",
                    inout("r0") a00,
                    inout("r1") a01,
                    inout("r2") a10,
                    inout("r3") a11,
                    inout("r4") pw,
                    inout("r5") p0,
                    inout("r12") p1,
                    inout("lr") k,
                    out("r8") _,
                    out("r9") _,
                    out("r10") _,
                    out("r11") _,
                    options(readonly),
                );
            }
            let _ = (pw, p0, p1, k);
        }
        len
    };
    let (wide, r0, r1) = (
        wide.get(done..len).unwrap_or_default(),
        r0.get(done..len).unwrap_or_default(),
        r1.get(done..len).unwrap_or_default(),
    );
    for ((&[p0a, p0b, p1a, p1b], &w0), &w1) in wide.iter().zip(r0).zip(r1) {
        let (wa, wb) = (sxtb16(w0), sxtb16_ror8(w0));
        a00 = smlad(p0a, wa, a00);
        a01 = smlad(p1a, wa, a01);
        a00 = smlad(p0b, wb, a00);
        a01 = smlad(p1b, wb, a01);
        let (wa, wb) = (sxtb16(w1), sxtb16_ror8(w1));
        a10 = smlad(p0a, wa, a10);
        a11 = smlad(p1a, wa, a11);
        a10 = smlad(p0b, wb, a10);
        a11 = smlad(p1b, wb, a11);
    }
    [a00, a01, a10, a11]
}

/// [`conv_pairs`] for filters read a word at a time (`split`), `words` their rows of
/// `groups` words; `MODE` 2, 1, 0 for [`Way::Bounded`], `Short`, `General`. Filter
/// pairs: the rows, biases, multipliers, shifts and outputs of each pair taken together
/// (no index checks in the loop).
#[inline(never)]
fn pairs_words<const MODE: u8>(
    words: &[u32],
    groups: usize,
    wide: &[u32],
    rq: &Requant<'_>,
    y0: &mut [i8],
    y1: &mut [i8],
) {
    let (wide, _) = wide.as_chunks::<4>();
    let k_out = y0.len().min(y1.len());
    let (b2, _) = rq.bias.as_chunks::<2>();
    let (m2, _) = rq.multiplier.as_chunks::<2>();
    let (s2, _) = rq.shift.as_chunks::<2>();
    let (o0, _) = y0.as_chunks_mut::<2>();
    let (o1, _) = y1.as_chunks_mut::<2>();
    let (lo, hi) = (splat(rq.min), splat(rq.max));
    let z2 = rq.zero_point.wrapping_mul(2).wrapping_add(1);
    let rows = words.chunks_exact(2 * groups);
    for (((((f, b), m), s), o0), o1) in rows.zip(b2).zip(m2).zip(s2).zip(o0).zip(o1) {
        let (r0, r1) = f.split_at(groups);
        let [a00, a01, a10, a11] = dot_pairs(wide, r0, r1, b[0], b[1]);
        if MODE == 2 {
            let (e0, e1) = (!s[0] as u32, !s[1] as u32);
            // The four bytes in one word (`BFI`), clamped together.
            let v = bounded(a00, m[0], e0, z2) as u32;
            let v = insert_byte::<8>(v, bounded(a10, m[1], e1, z2) as u32);
            let v = insert_byte::<16>(v, bounded(a01, m[0], e0, z2) as u32);
            let v = insert_byte::<24>(v, bounded(a11, m[1], e1, z2) as u32);
            let v = min_i8x4(max_i8x4(v, lo), hi);
            *o0 = (v as u16).to_le_bytes().map(|b| b as i8);
            *o1 = ((v >> 16) as u16).to_le_bytes().map(|b| b as i8);
        } else {
            o0[0] = out_mode::<MODE>(rq, a00, m[0], s[0]);
            o1[0] = out_mode::<MODE>(rq, a01, m[0], s[0]);
            o0[1] = out_mode::<MODE>(rq, a10, m[1], s[1]);
            o1[1] = out_mode::<MODE>(rq, a11, m[1], s[1]);
        }
    }
    // An odd last filter, alone.
    let k = k_out & !1;
    if k == k_out {
        return;
    }
    let (Some(r), Some(&b), Some(&m), Some(&s)) = (
        words.get(k * groups..(k + 1) * groups),
        rq.bias.get(k),
        rq.multiplier.get(k),
        rq.shift.get(k),
    ) else {
        return;
    };
    let [a0, a1, _, _] = dot_pairs(wide, r, r, b, b);
    if let (Some(o0), Some(o1)) = (y0.get_mut(k), y1.get_mut(k)) {
        *o0 = out_mode::<MODE>(rq, a0, m, s);
        *o1 = out_mode::<MODE>(rq, a1, m, s);
    }
}

/// [`output_as`] for `MODE` as in [`pairs_words`]: without tests for 1 and 2.
#[inline(always)]
fn out_mode<const MODE: u8>(rq: &Requant<'_>, acc: i32, m: i32, shift: i32) -> i8 {
    if MODE == 0 {
        output_as::<false>(rq, acc, m, shift)
    } else {
        output_as::<true>(rq, acc, m, shift)
    }
}

/// [`conv_pairs`] for filters read a byte at a time (not `split`), `SHORT` as for
/// [`output_as`].
#[inline(never)]
fn conv_pairs_bytes<const SHORT: bool>(
    w: &[i8],
    n: usize,
    wide: &[u32],
    rq: &Requant<'_>,
    y0: &mut [i8],
    y1: &mut [i8],
) {
    let k_out = y0.len().min(y1.len());
    let mut k = 0;
    while k < k_out {
        let k1 = (k + 1).min(k_out - 1);
        let b0 = rq.bias.get(k).copied().unwrap_or(0);
        let b1 = rq.bias.get(k1).copied().unwrap_or(0);
        let (mut a00, mut a01, mut a10, mut a11) = (b0, b0, b1, b1);
        let (Some(r0), Some(r1)) = (w.get(k * n..(k + 1) * n), w.get(k1 * n..(k1 + 1) * n)) else {
            return;
        };
        for (j, g) in wide.chunks_exact(4).enumerate() {
            let &[p0a, p0b, p1a, p1b] = g else { break };
            let (wa, wb) = weight_pairs(r0, j);
            a00 = smlad(p0a, wa, a00);
            a01 = smlad(p1a, wa, a01);
            a00 = smlad(p0b, wb, a00);
            a01 = smlad(p1b, wb, a01);
            let (wa, wb) = weight_pairs(r1, j);
            a10 = smlad(p0a, wa, a10);
            a11 = smlad(p1a, wa, a11);
            a10 = smlad(p0b, wb, a10);
            a11 = smlad(p1b, wb, a11);
        }
        let (m0, s0) = (mul(rq, k), sh(rq, k));
        let (m1, s1) = (mul(rq, k1), sh(rq, k1));
        if let (Some(o00), Some(o10)) = (y0.get_mut(k), y1.get_mut(k)) {
            *o00 = output_as::<SHORT>(rq, a00, m0, s0);
            *o10 = output_as::<SHORT>(rq, a01, m0, s0);
        }
        if let (true, Some(o01), Some(o11)) = (k1 != k, y0.get_mut(k1), y1.get_mut(k1)) {
            *o01 = output_as::<SHORT>(rq, a10, m1, s1);
            *o11 = output_as::<SHORT>(rq, a11, m1, s1);
        }
        k += 2;
    }
}

/// Channel `k`'s multiplier.
#[inline(always)]
fn mul(rq: &Requant<'_>, k: usize) -> i32 {
    rq.multiplier.get(k).copied().unwrap_or(0)
}

/// Channel `k`'s shift.
#[inline(always)]
fn sh(rq: &Requant<'_>, k: usize) -> i32 {
    rq.shift.get(k).copied().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// Depthwise convolution: channels four at a time, taps two at a time

/// A tap index that reads the padding value: past every input (inputs of fewer than
/// `OUTSIDE / 2` bytes), with room to add a channel offset without wrapping, even where
/// `usize` has 32 bits.
pub const OUTSIDE: u32 = u32::MAX / 2;

/// Widens the depthwise filters `w` (`taps × c`, tap-major: TensorFlow Lite's
/// `[1, KH, KW, C]`) into `wide` as [`depthwise_pixel`] reads them: for each group of four
/// channels `4g..4g+4`, for each pair of taps `(2j, 2j+1)`, four words — channels `4g`,
/// `4g+2`, `4g+1`, `4g+3` (the order `SXTB16` splits an input word into) — each the 16-bit
/// pair (tap `2j`, tap `2j+1`). Taps and channels past the filters' ends are 0. Writes as
/// far as `wide` reaches.
pub fn widen_depthwise(w: &[i8], c: usize, wide: &mut [u32]) {
    if c == 0 {
        return;
    }
    let taps = w.len() / c;
    let pairs = taps.div_ceil(2);
    let at = |t: usize, ch: usize| -> u8 {
        if ch < c && t < taps {
            w.get(t * c + ch).map_or(0, |&v| v as u8)
        } else {
            0
        }
    };
    for (i, out) in wide.iter_mut().enumerate().take(4 * c.div_ceil(4) * pairs) {
        let (g, j, lane) = (i / (4 * pairs), i / 4 % pairs, i % 4);
        let ch = 4 * g + [0, 2, 1, 3][lane];
        *out = pack(at(2 * j, ch), at(2 * j + 1, ch));
    }
}

/// One output pixel of a depthwise convolution: `y[ch]` for every channel `ch` it holds,
/// four channels at a time. `idx` holds, for each tap of the window (an even number; a
/// last odd tap pairs with a zero weight), where the tap's pixel starts; `load(i, g)`
/// returns channels `4g..4g+4` of the pixel at `i` as a word (the padding's bytes for
/// [`OUTSIDE`]). `wide` holds the weights as [`widen_depthwise`] writes them. Per pair of
/// taps and four channels: two words split by `SXTB16` into even and odd channels,
/// regrouped by `PKHBT`/`PKHTB` into (tap, next tap) pairs per channel, four `SMLAD`s.
/// Cannot panic; outputs past what `wide` or `rq` hold keep their value.
#[inline(always)]
pub fn depthwise_pixel(
    load: impl Fn(u32, usize) -> u32,
    idx: &[u32],
    wide: &[u32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    depthwise_groups(idx, |&i, g| load(i, g), wide, rq, y);
}

/// [`depthwise_pixel`] with each tap's input pixel given as a slice of words: `taps[t]`
/// holds channels `4g..4g+4` at `taps[t][g]` for every group of four channels `g` of `y`
/// (the padding's words for a tap outside the input). The loads need no index arithmetic
/// and no check each; the slices' lengths are checked once. Does nothing if a slice is
/// shorter than `y`'s groups; outputs past what `wide` or `rq` hold keep their value.
/// `short` is [`short_path`]`(rq)`, computed once per layer (with `false` the bits are
/// the same, the requantization tests each channel).
#[inline(never)]
pub fn depthwise_words(taps: &[&[u32]], wide: &[u32], rq: &Requant<'_>, short: bool, y: &mut [i8]) {
    let groups = y.len().div_ceil(4);
    if taps.iter().any(|t| t.len() < groups) {
        return;
    }
    // SAFETY (both closures): `depthwise_groups` asks for word `g` only for groups `g` of
    // `y`, below `groups`, and every slice of `taps` holds at least `groups` words
    // (checked above).
    let (pairs, []) = taps.as_chunks::<2>() else {
        return;
    };
    // The unrolled path takes whole groups of four channels only; a partial last group
    // goes through the general loop, which writes it.
    let whole = y.len().is_multiple_of(4);
    match <&[[&[u32]; 2]; 5]>::try_from(pairs) {
        // A 3×3 window: its five pairs of taps unrolled.
        Ok(five) if whole && short => {
            depthwise_3x3::<_, true>(five, |t, g| unsafe { *t.get_unchecked(g) }, wide, rq, y)
        }
        Ok(five) if whole => {
            depthwise_3x3::<_, false>(five, |t, g| unsafe { *t.get_unchecked(g) }, wide, rq, y)
        }
        _ => depthwise_groups(taps, |t, g| unsafe { *t.get_unchecked(g) }, wide, rq, y),
    }
}

/// [`depthwise_groups`] for five pairs of taps (a 3×3 window), unrolled, and four channels
/// per group, each group's requantization read once (`SHORT` as for [`output_as`]);
/// groups past what `rq` holds keep their outputs.
#[inline(always)]
fn depthwise_3x3<L, const SHORT: bool>(
    taps: &[[L; 2]; 5],
    load: impl Fn(&L, usize) -> u32,
    wide: &[u32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    let (wide, _) = wide.as_chunks::<4>();
    let (y, _) = y.as_chunks_mut::<4>();
    let (lo, hi) = (splat(rq.min), splat(rq.max));
    for (g, (out, wg)) in y.iter_mut().zip(wide.chunks_exact(5)).enumerate() {
        let c = 4 * g;
        let group = |v: &[i32]| <[i32; 4]>::try_from(v.get(c..c + 4).unwrap_or_default()).ok();
        let (Some(mut a), Some(m), Some(s), Ok([w0, w1, w2, w3, w4])) = (
            group(rq.bias),
            group(rq.multiplier),
            group(rq.shift),
            <&[[u32; 4]; 5]>::try_from(wg),
        ) else {
            return;
        };
        let [t0, t1, t2, t3, t4] = taps;
        let step = |a: &mut [i32; 4], [t0, t1]: &[L; 2], &[w0, w2, w1, w3]: &[u32; 4]| {
            let (u, v) = (load(t0, g), load(t1, g));
            let (ue, ve) = (sxtb16(u), sxtb16(v));
            a[0] = smlad(pack_lo(ue, ve), w0, a[0]);
            a[2] = smlad(pack_hi(ue, ve), w2, a[2]);
            let (uo, vo) = (sxtb16_ror8(u), sxtb16_ror8(v));
            a[1] = smlad(pack_lo(uo, vo), w1, a[1]);
            a[3] = smlad(pack_hi(uo, vo), w3, a[3]);
        };
        step(&mut a, t0, w0);
        step(&mut a, t1, w1);
        step(&mut a, t2, w2);
        step(&mut a, t3, w3);
        step(&mut a, t4, w4);
        *out = outputs4::<SHORT>(rq, a, m, s, lo, hi);
    }
}

/// Four outputs of [`output_as`] at once: each sum saturated to `i8` (which changes nothing
/// the clamp keeps), the four bytes clamped together (`SSUB8` + `SEL`) to `lo` and `hi`,
/// [`splat`]s of `rq.min` and `rq.max`.
#[inline(always)]
fn outputs4<const SHORT: bool>(
    rq: &Requant<'_>,
    a: [i32; 4],
    m: [i32; 4],
    s: [i32; 4],
    lo: u32,
    hi: u32,
) -> [i8; 4] {
    let byte = |k: usize| {
        let r = rescale_as::<SHORT>(a[k], m[k], s[k]).saturating_add(rq.zero_point);
        r.clamp(-128, 127) as u8
    };
    let w = u32::from_le_bytes([byte(0), byte(1), byte(2), byte(3)]);
    min_i8x4(max_i8x4(w, lo), hi).to_le_bytes().map(|b| b as i8)
}

/// The loops of [`depthwise_pixel`] and [`depthwise_words`]: `load(&taps[t], g)` is
/// channels `4g..4g+4` of tap `t`'s pixel, asked for groups `g` of `y` only.
#[inline(always)]
fn depthwise_groups<L>(
    taps: &[L],
    load: impl Fn(&L, usize) -> u32,
    wide: &[u32],
    rq: &Requant<'_>,
    y: &mut [i8],
) {
    let pairs = taps.len() / 2;
    if pairs == 0 {
        return;
    }
    for (g, (out, wg)) in y
        .chunks_mut(4)
        .zip(wide.chunks_exact(4 * pairs))
        .enumerate()
    {
        let c = 4 * g;
        let bias = |k: usize| rq.bias.get(k).copied().unwrap_or(0);
        let (mut a0, mut a1, mut a2, mut a3) = (bias(c), bias(c + 1), bias(c + 2), bias(c + 3));
        for (t, w) in taps.chunks_exact(2).zip(wg.chunks_exact(4)) {
            let ([t0, t1], &[w0, w2, w1, w3]) = (t, w) else {
                break;
            };
            let (u, v) = (load(t0, g), load(t1, g));
            let (ue, ve) = (sxtb16(u), sxtb16(v));
            a0 = smlad(pack_lo(ue, ve), w0, a0);
            a2 = smlad(pack_hi(ue, ve), w2, a2);
            let (uo, vo) = (sxtb16_ror8(u), sxtb16_ror8(v));
            a1 = smlad(pack_lo(uo, vo), w1, a1);
            a3 = smlad(pack_hi(uo, vo), w3, a3);
        }
        for (k, (o, acc)) in out.iter_mut().zip([a0, a1, a2, a3]).enumerate() {
            *o = output(rq, acc, mul(rq, c + k), sh(rq, c + k));
        }
    }
}

/// The most taps (an even number) a window may have for [`depthwise_words`]' callers to
/// hold their tap slices on the stack.
pub const MAX_TAPS: usize = 26;

// ---------------------------------------------------------------------------------------
// Pools

/// Four copies of the byte `v`.
#[inline(always)]
pub fn splat(v: i8) -> u32 {
    u32::from(v as u8) * 0x0101_0101
}

/// `out[i] = clamp(max over the pixels of x[p·cw + i], lo, hi)` four channels at a time:
/// the words of `x` are pixels of `cw` words, `pixels` the indices of a window's pixels
/// (at least one), `lo` and `hi` the clamp's bounds [`splat`]ted.
#[inline(always)]
pub fn max_words(
    x: &[u32],
    cw: usize,
    mut pixels: impl Iterator<Item = usize> + Clone,
    lo: u32,
    hi: u32,
    out: &mut [u32],
) {
    let Some(first) = pixels.next() else {
        return;
    };
    for (i, o) in out.iter_mut().enumerate().take(cw) {
        let mut m = x.get(first * cw + i).copied().unwrap_or(0x8080_8080);
        for p in pixels.clone() {
            m = max_i8x4(m, x.get(p * cw + i).copied().unwrap_or(0x8080_8080));
        }
        *o = min_i8x4(max_i8x4(m, lo), hi);
    }
}

/// Adds to `sums[4g + j]` the sum of channel `4g + j` over every pixel of `x`, pixels of
/// `sums.len() / 4` words (four channels each): `SXTAB16` into 16-bit lanes, which cannot
/// overflow within 256 pixels, flushed to `i32` after every 256.
#[inline(never)]
pub fn sum_channels(x: &[u32], sums: &mut [i32]) {
    let cw = sums.len() / 4;
    if cw == 0 {
        return;
    }
    let pixels = x.len() / cw;
    for (g, s) in sums.chunks_exact_mut(4).enumerate() {
        let mut start = 0;
        while start < pixels {
            let end = (start + 256).min(pixels);
            let (mut even, mut odd) = (0u32, 0u32);
            for p in start..end {
                let w = x.get(p * cw + g).copied().unwrap_or(0);
                even = sxtab16(even, w);
                odd = sxtab16_ror8(odd, w);
            }
            if let [s0, s1, s2, s3] = s {
                *s0 = s0.wrapping_add(i32::from(even as u16 as i16));
                *s2 = s2.wrapping_add(i32::from((even >> 16) as u16 as i16));
                *s1 = s1.wrapping_add(i32::from(odd as u16 as i16));
                *s3 = s3.wrapping_add(i32::from((odd >> 16) as u16 as i16));
            }
            start = end;
        }
    }
}
