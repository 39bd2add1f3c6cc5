//! The Cortex-M4/M7 DSP paths of convolutions with few products per output — a 3×3
//! depthwise convolution ([`depthwise_pairs_row`] on input rows widened to 16-bit pairs of
//! neighbouring columns at stride 1 and 2, [`depthwise_3x3_row`] on the input's bytes
//! otherwise) and a convolution whose patch has at most
//! [`SMALL_TAPS`] values, such as 3×3 on one input channel ([`small_pixel`]) — written
//! once for every target as [`packed`](super::packed) is: each primitive is one DSP
//! instruction on a `thumbv7em` core and an exact portable twin elsewhere, so the tests
//! hold the host's run of the very same code to the reference.
//!
//! With nine products per output the requantization weighs as much as the multiplies, so
//! these paths shorten it. The weights are widened once per call to 16-bit pairs *doubled*
//! (`2w` fits in 16 bits), so the sums come out doubled, `2·acc`, starting from doubled
//! biases; then `SMMULR(2·acc, m) = ⌊(2·acc·m + 2³¹)/2³²⌋ = ⌊(acc·m + 2³⁰)/2³¹⌋` is
//! TensorFlow Lite's doubling high multiply (see [`packed::requantize`](super::packed::requantize))
//! in one instruction, and the rounding divide by `2^e` with the zero point added is
//! `SSAT(((s + (s >> 31)) >> (e − 1)) + 2·z + 1, ASR #1)`, since
//! `⌊(t + 1)/2⌋ + z = ⌊(t + 1 + 2z)/2⌋`: five instructions per output ([`rescale`]).
//! [`Doubled::fits`] says, once per layer, when this is exact: every multiplier positive,
//! every exponent in `−31..=−1`, `|2·acc| < 2³¹` for every possible sum, and a zero point
//! that cannot overflow.
//!
//! Per-channel parameters and weights are one stream of words in the order the loop reads
//! them (per group of four channels: doubled biases, weights, then multiplier and `e − 1`
//! per channel), so the loop has one pointer to advance.

#![allow(unsafe_code)]

use super::Requant;
use super::packed::{
    Rescale, Way, max_i8x4, min_i8x4, pack_hi, pack_lo, splat, sxtb16, sxtb16_ror8,
};
// The portable twins of the `asm!` blocks.
#[cfg(not(firmnet_arm_dsp))]
use super::packed::smlad;

// ---------------------------------------------------------------------------------------
// Primitives

/// `SMLABB acc, x, y`: `acc + x.lo·y.lo` with signed 16-bit halves (wrapping).
#[inline(always)]
pub fn smlabb(x: u32, y: u32, acc: i32) -> i32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let mut a = acc;
        // SAFETY: one DSP instruction on registers; it may set the Q flag, which no Rust
        // code reads.
        unsafe {
            core::arch::asm!("smlabb {a}, {x}, {y}, {a}", a = inout(reg) a, x = in(reg) x,
                y = in(reg) y, options(pure, nomem, nostack));
        }
        a
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        acc.wrapping_add(i32::from(x as u16 as i16) * i32::from(y as u16 as i16))
    }
}

/// `SMLATT acc, x, y`: `acc + x.hi·y.hi` with signed 16-bit halves (wrapping).
#[inline(always)]
pub fn smlatt(x: u32, y: u32, acc: i32) -> i32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let mut a = acc;
        // SAFETY: as `smlabb`.
        unsafe {
            core::arch::asm!("smlatt {a}, {x}, {y}, {a}", a = inout(reg) a, x = in(reg) x,
                y = in(reg) y, options(pure, nomem, nostack));
        }
        a
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        let hi = |v: u32| i32::from((v >> 16) as u16 as i16);
        acc.wrapping_add(hi(x) * hi(y))
    }
}

/// A step of the depthwise loop for one pair of taps and four channels: the words `u` and
/// `v` (the two taps' channels), split by `SXTB16` into even and odd
/// channels, regrouped by `PKHBT`/`PKHTB` into (tap, next tap) pairs per channel and
/// multiplied by `SMLAD` into `a` with the weight pairs `s[S..S + 4]` (channels 0, 2, 1,
/// 3). On the Cortex-M4 one `asm!` block per half, loads included, so the compiler neither
/// hoists the weight loads nor spreads the split words over more registers than it has.
///
/// # Safety
/// `s` must be valid for reading words `S..S + 4`, aligned.
#[inline(always)]
unsafe fn pair_step<const S: usize>(u: u32, v: u32, s: *const u32, a: &mut [i32; 4]) {
    #[cfg(firmnet_arm_dsp)]
    {
        let [mut a0, mut a1, mut a2, mut a3] = *a;
        // SAFETY: the loads read words the caller guarantees; the rest are DSP
        // instructions on registers (`SMLAD` may set the Q flag, which no Rust code reads).
        unsafe {
            core::arch::asm!(
                "sxtb16 {t0}, {u}",
                "sxtb16 {t1}, {v}",
                "ldr {w}, [{s}, #{w0}]",
                "pkhbt {t2}, {t0}, {t1}, lsl #16",
                "smlad {a0}, {t2}, {w}, {a0}",
                "ldr {w}, [{s}, #{w1}]",
                "pkhtb {t0}, {t1}, {t0}, asr #16",
                "smlad {a2}, {t0}, {w}, {a2}",
                s = in(reg) s, u = in(reg) u, v = in(reg) v,
                a0 = inout(reg) a0, a2 = inout(reg) a2, t0 = out(reg) _, t1 = out(reg) _,
                t2 = out(reg) _, w = out(reg) _, w0 = const 4 * S, w1 = const 4 * (S + 1), options(readonly, nostack));
            core::arch::asm!(
                "sxtb16 {t0}, {u}, ror #8",
                "sxtb16 {t1}, {v}, ror #8",
                "ldr {w}, [{s}, #{w2}]",
                "pkhbt {t2}, {t0}, {t1}, lsl #16",
                "smlad {a1}, {t2}, {w}, {a1}",
                "ldr {w}, [{s}, #{w3}]",
                "pkhtb {t0}, {t1}, {t0}, asr #16",
                "smlad {a3}, {t0}, {w}, {a3}",
                s = in(reg) s, u = in(reg) u, v = in(reg) v,
                a1 = inout(reg) a1, a3 = inout(reg) a3, t0 = out(reg) _, t1 = out(reg) _,
                t2 = out(reg) _, w = out(reg) _,
                w2 = const 4 * (S + 2), w3 = const 4 * (S + 3), options(readonly, nostack));
        }
        *a = [a0, a1, a2, a3];
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        // SAFETY: as the caller guarantees.
        let w = |i: usize| unsafe { *s.add(S + i) };
        let (ue, ve) = (sxtb16(u), sxtb16(v));
        a[0] = smlad(pack_lo(ue, ve), w(0), a[0]);
        a[2] = smlad(pack_hi(ue, ve), w(1), a[2]);
        let (uo, vo) = (sxtb16_ror8(u), sxtb16_ror8(v));
        a[1] = smlad(pack_lo(uo, vo), w(2), a[1]);
        a[3] = smlad(pack_hi(uo, vo), w(3), a[3]);
    }
}

/// Output `F` (0 to 3) of a group of four filters of [`widen_small`]'s stream `s` against
/// the patch `p`: the doubled bias `s[F]`, five `SMLAD`s with the weight pairs
/// `s[4 + 5F..9 + 5F]`, then [`rescale`] with `s[24 + 2F]` and `s[25 + 2F]` and `zp1`. On
/// the Cortex-M4 one `asm!` block, loads included, so that the compiler neither hoists nor
/// spills the weights.
///
/// # Safety
/// `s` must be valid for reading the 32 words of a group, aligned.
#[inline(always)]
unsafe fn small_output<const F: usize>(p: &[u32; 5], s: *const u32, zp1: i32) -> i32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let r: i32;
        let [p0, p1, p2, p3, p4] = *p;
        // SAFETY: the loads read words of the group, which the caller guarantees; the rest
        // are DSP instructions on registers (`SMLAD` and `SSAT` may set the Q flag, which no
        // Rust code reads).
        unsafe {
            core::arch::asm!(
                "ldr {a}, [{s}, #{b}]",
                "ldrd {w0}, {w1}, [{s}, #{o0}]",
                "smlad {a}, {p0}, {w0}, {a}",
                "smlad {a}, {p1}, {w1}, {a}",
                "ldrd {w0}, {w1}, [{s}, #{o2}]",
                "smlad {a}, {p2}, {w0}, {a}",
                "smlad {a}, {p3}, {w1}, {a}",
                "ldr {w0}, [{s}, #{o4}]",
                "smlad {a}, {p4}, {w0}, {a}",
                "ldrd {w0}, {w1}, [{s}, #{mo}]",
                "smmulr {a}, {a}, {w0}",
                "add {a}, {a}, {a}, asr #31",
                "asr {a}, {a}, {w1}",
                "add {a}, {a}, {z}",
                "ssat {a}, #8, {a}, asr #1",
                s = in(reg) s, p0 = in(reg) p0, p1 = in(reg) p1, p2 = in(reg) p2,
                p3 = in(reg) p3, p4 = in(reg) p4, z = in(reg) zp1, a = out(reg) r,
                w0 = out(reg) _, w1 = out(reg) _, b = const 4 * F, o0 = const 4 * (4 + 5 * F),
                o2 = const 4 * (6 + 5 * F), o4 = const 4 * (8 + 5 * F),
                mo = const 4 * (24 + 2 * F), options(readonly, nostack));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        // SAFETY: as the caller guarantees.
        let w = |i: usize| unsafe { *s.add(i) };
        let mut a = w(F) as i32;
        for (j, &x) in p.iter().enumerate() {
            a = smlad(x, w(4 + 5 * F + j), a);
        }
        rescale(a, w(24 + 2 * F) as i32, w(25 + 2 * F), zp1)
    }
}

/// The requantization of [`Way::Bounded`] sums, on a sum already doubled,
/// `acc2 = 2·acc`, for a channel with multiplier `m` and `e1 = −shift − 1`, with `zp1 = 2·z + 1` for the output zero point `z`: TensorFlow
/// Lite's `MultiplyByQuantizedMultiplier(acc, m, shift) + z`, saturated to `i8`, bit for
/// bit when [`Doubled::fits`] holds for the layer (`SMMULR`, `ADD … ASR #31`, `ASR`,
/// `ADD`, `SSAT … ASR #1`). Outside those bounds the value is some `i8`.
#[inline(always)]
pub fn rescale(acc2: i32, m: i32, e1: u32, zp1: i32) -> i32 {
    #[cfg(firmnet_arm_dsp)]
    {
        let r: i32;
        // SAFETY: five instructions on registers; `SSAT` may set the Q flag, which no Rust
        // code reads.
        unsafe {
            core::arch::asm!(
                "smmulr {r}, {a}, {m}",
                "add {r}, {r}, {r}, asr #31",
                "asr {r}, {r}, {e}",
                "add {r}, {r}, {z}",
                "ssat {r}, #8, {r}, asr #1",
                r = out(reg) r, a = in(reg) acc2, m = in(reg) m, e = in(reg) e1,
                z = in(reg) zp1, options(pure, nomem, nostack));
        }
        r
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        let s = ((i64::from(acc2) * i64::from(m) + (1 << 31)) >> 32) as i32;
        let t = s.wrapping_add(s >> 31) >> (e1 & 31);
        (t.wrapping_add(zp1) >> 1).clamp(-128, 127)
    }
}

/// Four values in `−128..=127` as the bytes of a word (`BFI` ×3), clamped to `lo..=hi`
/// ([`splat`]s of the layer's bounds; `SSUB8` + `SEL` ×2), in the order of
/// `Requant::apply` (a `hi` below `lo` gives `hi`).
#[inline(always)]
fn bytes4(r: [i32; 4], lo: u32, hi: u32) -> u32 {
    #[cfg(firmnet_arm_dsp)]
    let w = {
        let mut w = r[0] as u32;
        // SAFETY: three instructions on registers (the compiler would otherwise mask and
        // shift each byte).
        unsafe {
            core::arch::asm!(
                "bfi {w}, {b}, #8, #8",
                "bfi {w}, {c}, #16, #8",
                "bfi {w}, {d}, #24, #8",
                w = inout(reg) w, b = in(reg) r[1], c = in(reg) r[2], d = in(reg) r[3],
                options(pure, nomem, nostack, preserves_flags));
        }
        w
    };
    #[cfg(not(firmnet_arm_dsp))]
    let w = {
        let mut w = r[0] as u32;
        w = (w & !0x0000_ff00) | ((r[1] as u32 & 0xff) << 8);
        w = (w & !0x00ff_0000) | ((r[2] as u32 & 0xff) << 16);
        (w & !0xff00_0000) | ((r[3] as u32) << 24)
    };
    min_i8x4(max_i8x4(w, lo), hi)
}

/// Writes the word `w` as four bytes.
#[inline(always)]
fn store4(out: &mut [i8], w: u32) {
    match out {
        [a, b, c, d] => {
            let [p, q, r, s] = w.to_le_bytes();
            (*a, *b, *c, *d) = (p as i8, q as i8, r as i8, s as i8);
        }
        _ => {
            for (o, v) in out.iter_mut().zip(w.to_le_bytes()) {
                *o = v as i8;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The layer's requantization on doubled sums

/// A layer's output parameters for [`rescale`]: `zp1 = 2·z + 1`, and the clamp bounds
/// [`splat`]ted.
#[derive(Clone, Copy, Debug)]
pub struct Doubled {
    zp1: i32,
    lo: u32,
    hi: u32,
}

impl Doubled {
    /// `Some` when the doubled requantization of `rq` is exact for its first `channels`
    /// channels and sums of `taps` products of two `i8` on top of the bias: when
    /// [`Rescale::of`] finds the sums [`Way::Bounded`] — every multiplier positive,
    /// every exponent in `−31..=−1`, every `|bias| + taps·2¹⁴ < 2³⁰` (so `2·acc` cannot
    /// overflow) and `|z| < 2²⁸`. Checked once per layer.
    pub fn fits(rq: &Requant<'_>, channels: usize, taps: usize) -> Option<Doubled> {
        let ok = rq.bias.len() >= channels
            && rq.multiplier.len() >= channels
            && rq.shift.len() >= channels
            && Rescale::of(rq, taps).way() == Way::Bounded;
        ok.then(|| Doubled {
            zp1: 2 * rq.zero_point + 1,
            lo: splat(rq.min),
            hi: splat(rq.max),
        })
    }
}

/// Channel `k`'s doubled bias, multiplier and `e − 1` as words (zeros past `rq`'s end;
/// their outputs are never written).
#[inline]
fn channel(rq: &Requant<'_>, k: usize) -> [u32; 3] {
    let b = rq.bias.get(k).map_or(0, |&b| b.wrapping_mul(2));
    let m = rq.multiplier.get(k).copied().unwrap_or(0);
    let e1 = rq.shift.get(k).map_or(0, |&s| !s & 31);
    [b as u32, m as u32, e1 as u32]
}

/// A 16-bit pair of doubled weights: `a` low, `b` high.
#[inline]
fn pair2(a: i8, b: i8) -> u32 {
    let h = |v: i8| (i32::from(v) * 2) as u16 as u32;
    h(a) | h(b) << 16
}

// ---------------------------------------------------------------------------------------
// Convolutions of small patches

/// The most values a patch may have for [`small_pixel`]: five 16-bit pairs.
pub const SMALL_TAPS: usize = 10;

/// Words per group of four filters in [`widen_small`]'s stream.
pub const SMALL_GROUP: usize = 32;

/// Writes filters `k0..` of `w` (rows of `n ≤` [`SMALL_TAPS`] weights) and their
/// requantization into `out` as [`small_pixel`] reads them, per group of four filters
/// (32 words): the four doubled biases; each filter's five doubled weight pairs (taps
/// `2j`, `2j + 1`; taps past `n` 0); then each filter's multiplier and `e − 1`. Filters
/// past `w`'s end have zero weights. Returns the number of filters written (whole groups
/// that fit in `out`, at most those left from `k0`).
pub fn widen_small(w: &[i8], n: usize, rq: &Requant<'_>, k0: usize, out: &mut [u32]) -> usize {
    if n == 0 || n > SMALL_TAPS {
        return 0;
    }
    let filters = w.len() / n;
    let mut done = 0;
    for (g, group) in out.chunks_exact_mut(SMALL_GROUP).enumerate() {
        let first = k0 + 4 * g;
        if first >= filters {
            break;
        }
        let (head, rest) = group.split_at_mut(4);
        let (weights, tail) = rest.split_at_mut(20);
        for f in 0..4 {
            let k = first + f;
            let [b, m, e1] = channel(rq, k);
            if let Some(v) = head.get_mut(f) {
                *v = b;
            }
            if let Some([mv, ev]) = tail.get_mut(2 * f..2 * f + 2) {
                (*mv, *ev) = (m, e1);
            }
            let row = w.get(k * n..(k + 1) * n).unwrap_or_default();
            let tap = |t: usize| row.get(t).copied().unwrap_or(0);
            for (j, v) in weights.iter_mut().skip(5 * f).take(5).enumerate() {
                *v = pair2(tap(2 * j), tap(2 * j + 1));
            }
        }
        done = (first + 4).min(filters) - k0;
    }
    done
}

/// The patch values `t(0) … t(9)` as five 16-bit pairs (`t(2j)` low, `t(2j + 1)` high):
/// `LDRSB` ×2 and `PKHBT` per pair when `t` reads memory.
#[inline(always)]
pub fn patch_words(t: impl Fn(usize) -> i8) -> [u32; 5] {
    let v = |i: usize| i32::from(t(i)) as u32;
    [
        pack_lo(v(0), v(1)),
        pack_lo(v(2), v(3)),
        pack_lo(v(4), v(5)),
        pack_lo(v(6), v(7)),
        pack_lo(v(8), v(9)),
    ]
}

/// One output pixel of a convolution with a small patch: for each group `g` of four
/// filters of `stream` ([`widen_small`]), their outputs against the patch `p`
/// ([`patch_words`]), requantized by [`rescale`] and clamped as `d` says, as the bytes of
/// one word given to `put(g, word)`, for the first `groups` groups the stream holds.
/// Cannot panic.
#[inline(always)]
pub fn small_pixel(
    p: &[u32; 5],
    stream: &[u32],
    groups: usize,
    d: Doubled,
    mut put: impl FnMut(usize, u32),
) {
    let (chunks, _) = stream.as_chunks::<SMALL_GROUP>();
    for (g, s) in chunks.iter().take(groups).enumerate() {
        let s = s.as_ptr();
        // SAFETY: `s` is a whole group of the stream.
        let r = unsafe {
            [
                small_output::<0>(p, s, d.zp1),
                small_output::<1>(p, s, d.zp1),
                small_output::<2>(p, s, d.zp1),
                small_output::<3>(p, s, d.zp1),
            ]
        };
        put(g, bytes4(r, d.lo, d.hi));
    }
}

/// Writes the word `w` as the four bytes `y[4g..4g + 4]`, or as many as `y` holds from
/// `4g`: a [`small_pixel`] `put` into bytes.
#[inline(always)]
pub fn put_bytes(y: &mut [i8], g: usize, w: u32) {
    let at = 4 * g;
    match y.get_mut(at..at + 4) {
        Some(out) => store4(out, w),
        None => store4(y.get_mut(at..).unwrap_or_default(), w),
    }
}

// ---------------------------------------------------------------------------------------
// Depthwise 3×3

/// Words per group of four channels in [`widen_depthwise_3x3`]'s stream.
pub const DEPTHWISE_GROUP: usize = 30;

/// Writes the depthwise 3×3 filters `w` (`9 × c`, tap-major) and the requantization of
/// `rq` into `out` as [`depthwise_3x3_row`] reads them, per group of four channels
/// `4g..4g+4` (30 words): the four doubled biases; for each pair of taps `(2j, 2j+1)`,
/// `j < 4`, four words — channels `4g`, `4g+2`, `4g+1`, `4g+3` — each the doubled pair
/// (tap `2j`, tap `2j+1`); tap 8 as two words, channels (`4g`, `4g+2`) and (`4g+1`,
/// `4g+3`); then each channel's multiplier and `e − 1`. Channels past `c` are 0. Returns
/// whether `out` held every group.
pub fn widen_depthwise_3x3(w: &[i8], c: usize, rq: &Requant<'_>, out: &mut [u32]) -> bool {
    let groups = c.div_ceil(4);
    if c == 0 || w.len() != 9 * c || out.len() < groups * DEPTHWISE_GROUP {
        return false;
    }
    let at = |t: usize, ch: usize| {
        if ch < c {
            w.get(t * c + ch).copied().unwrap_or(0)
        } else {
            0
        }
    };
    for (g, s) in out
        .chunks_exact_mut(DEPTHWISE_GROUP)
        .take(groups)
        .enumerate()
    {
        let c0 = 4 * g;
        for f in 0..4 {
            let [b, m, e1] = channel(rq, c0 + f);
            if let Some(v) = s.get_mut(f) {
                *v = b;
            }
            if let Some([mv, ev]) = s.get_mut(22 + 2 * f..24 + 2 * f) {
                (*mv, *ev) = (m, e1);
            }
        }
        for j in 0..4 {
            for (lane, ch) in [0, 2, 1, 3].into_iter().enumerate() {
                if let Some(v) = s.get_mut(4 + 4 * j + lane) {
                    *v = pair2(at(2 * j, c0 + ch), at(2 * j + 1, c0 + ch));
                }
            }
        }
        if let Some([e, o]) = s.get_mut(20..22) {
            (*e, *o) = (
                pair2(at(8, c0), at(8, c0 + 2)),
                pair2(at(8, c0 + 1), at(8, c0 + 3)),
            );
        }
    }
    true
}

/// One row of a 3×3 depthwise convolution's outputs, `ow` pixels of `4·cw` channels, each
/// four channels as one word given to `put(i, word)` (`i` counting words along the row),
/// from `rows`: three rows of the input, padded, one after another, each `row` words long
/// — pixels of `cw` words (four channels each), output `ox` reading pixels
/// `ox·stride .. ox·stride + 3` of each. `stream` is [`widen_depthwise_3x3`]'s. Per pair of
/// taps and four channels: two words split by `SXTB16`, regrouped by `PKHBT`/`PKHTB`,
/// four `SMLAD`s; the ninth tap by `SMLABB`/`SMLATT`; then [`rescale`]. With `row`, `cw`
/// and `stride` constants (the caller inlined for one layer), every load has a constant
/// offset. Does nothing if `rows` or `stream` are too short for the row. Cannot panic.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn depthwise_3x3_row(
    rows: &[u32],
    row: usize,
    cw: usize,
    stride: usize,
    stream: &[u32],
    d: Doubled,
    ow: usize,
    mut put: impl FnMut(usize, u32),
) {
    if ow == 0
        || stream.len() < cw * DEPTHWISE_GROUP
        || rows.len() < 2 * row + ((ow - 1) * stride + 3) * cw
    {
        return;
    }
    for ox in 0..ow {
        let base = ox * stride * cw;
        for (g, s) in stream.chunks_exact(DEPTHWISE_GROUP).take(cw).enumerate() {
            let at = base + g;
            // SAFETY: tap (ky, kx) reads word `at + ky·row + kx·cw` with `at < (ow − 1)·
            // stride·cw + cw`, `ky ≤ 2`, `kx ≤ 2`: below `2·row + ((ow − 1)·stride + 3)·cw`,
            // which `rows` holds (checked above).
            let x = |ky: usize, kx: usize| unsafe { *rows.get_unchecked(at + ky * row + kx * cw) };
            let Ok(s) = <&[u32; DEPTHWISE_GROUP]>::try_from(s) else {
                return;
            };
            let mut a = [s[0] as i32, s[1] as i32, s[2] as i32, s[3] as i32];
            let sp = s.as_ptr();
            // SAFETY: `s` holds 30 words, the steps read words 4 to 19.
            unsafe {
                pair_step::<4>(x(0, 0), x(0, 1), sp, &mut a);
                pair_step::<8>(x(0, 2), x(1, 0), sp, &mut a);
                pair_step::<12>(x(1, 1), x(1, 2), sp, &mut a);
                pair_step::<16>(x(2, 0), x(2, 1), sp, &mut a);
            }
            let u = x(2, 2);
            let (ue, uo) = (sxtb16(u), sxtb16_ror8(u));
            a[0] = smlabb(ue, s[20], a[0]);
            a[2] = smlatt(ue, s[20], a[2]);
            a[1] = smlabb(uo, s[21], a[1]);
            a[3] = smlatt(uo, s[21], a[3]);
            let r = |k: usize| rescale(a[k], s[22 + 2 * k] as i32, s[23 + 2 * k], d.zp1);
            put(ox * cw + g, bytes4([r(0), r(1), r(2), r(3)], d.lo, d.hi));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Depthwise 3×3 on rows widened to 16-bit pairs along the width

/// `SMLADX acc, x, y`: `acc + x.lo·y.hi + x.hi·y.lo` with signed 16-bit halves (wrapping).
#[inline(always)]
pub fn smladx(x: u32, y: u32, acc: i32) -> i32 {
    let lo = |v: u32| i32::from(v as u16 as i16);
    let hi = |v: u32| i32::from((v >> 16) as u16 as i16);
    acc.wrapping_add(lo(x) * hi(y)).wrapping_add(hi(x) * lo(y))
}

/// `SMLATB acc, x, y`: `acc + x.hi·y.lo` with signed 16-bit halves (wrapping).
#[inline(always)]
pub fn smlatb(x: u32, y: u32, acc: i32) -> i32 {
    acc.wrapping_add(i32::from((x >> 16) as u16 as i16) * i32::from(y as u16 as i16))
}

/// Words per channel in [`widen_depthwise_pairs`]'s stream.
pub const PAIRS_CHANNEL: usize = 10;

/// The most channels [`depthwise_pairs_row`] takes at `stride` (1 or 2): every load of a
/// channel's taps has an immediate offset below 4096 bytes.
pub const fn pairs_max_channels(stride: usize) -> usize {
    if stride == 1 { 340 } else { 170 }
}

/// Writes the depthwise 3×3 filters `w` (`9 × c`, tap-major) and the requantization of
/// `rq` into `out` as [`depthwise_pairs_row`] reads them, 10 words per channel: the
/// multiplier and `e − 1`; for each filter row `ky`, the doubled pair (tap `(ky, 0)`,
/// tap `(ky, 1)`) and the doubled tap `(ky, 2)` in the low half of a word; the doubled
/// bias twice. Returns whether `out` held every channel.
pub fn widen_depthwise_pairs(w: &[i8], c: usize, rq: &Requant<'_>, out: &mut [u32]) -> bool {
    if c == 0
        || w.len() != 9 * c
        || out.len() < c * PAIRS_CHANNEL
        || rq.bias.len() < c
        || rq.multiplier.len() < c
        || rq.shift.len() < c
    {
        return false;
    }
    let params = rq.bias.iter().zip(rq.multiplier).zip(rq.shift);
    for (s, ((&b, &m), &e)) in out.chunks_exact_mut(PAIRS_CHANNEL).zip(params) {
        let b = b.wrapping_mul(2) as u32;
        if let [m0, e0, .., b0, b1] = s {
            (*m0, *e0, *b0, *b1) = (m as u32, !e as u32 & 31, b, b);
        }
    }
    for (ky, taps) in w.chunks_exact(3 * c).enumerate() {
        let (t0, rest) = taps.split_at(c);
        let (t1, t2) = rest.split_at(c);
        let taps = t0.iter().zip(t1).zip(t2);
        for (s, ((&a, &b), &t)) in out.chunks_exact_mut(PAIRS_CHANNEL).zip(taps) {
            if let Some([p, q]) = s.get_mut(2 + 2 * ky..4 + 2 * ky) {
                (*p, *q) = (pair2(a, b), pair2(t, 0));
            }
        }
    }
    true
}

/// Column pairs a widened row needs for `ow` outputs at `stride` (1 or 2) in
/// [`depthwise_pairs_row`], which computes two outputs at a time: `⌈ow/2⌉ + 1` at stride
/// 1, `2⌈ow/2⌉ + 1` at stride 2.
#[inline]
pub const fn pairs_len(ow: usize, stride: usize) -> usize {
    if stride == 1 {
        ow.div_ceil(2) + 1
    } else {
        2 * ow.div_ceil(2) + 1
    }
}

/// Widens one input row `src` (pixels of `c/4` words, four channels each; empty for a
/// padding row) into slot `slot` (0 to 2) of `out`, the three rows a window reads
/// interleaved as [`depthwise_pairs_row`] reads them: for each pair of padded columns
/// `(2q, 2q + 1)` and each channel `k`, word `3(q·c + k) + slot` holds the channel's values
/// at both columns as 16-bit halves (`2q` low). Padded column `j` is the input pixel
/// `j − left`, or `z` ([`splat`]ted zero point) outside the row. `SXTB16` ×4 and
/// `PKHBT`/`PKHTB` ×4 per two pixels of four channels. Cannot panic.
#[inline(always)]
pub fn widen_row_pairs(src: &[u32], c: usize, left: usize, z: u32, slot: usize, out: &mut [u32]) {
    let cw = c / 4;
    if cw == 0 || slot > 2 {
        return;
    }
    let px = |i: usize| {
        i.checked_sub(left)
            .and_then(|i| src.get(i * cw..(i + 1) * cw))
    };
    let pad = core::iter::repeat(z);
    // Pairs `lo..hi` have both pixels in the row: one run of the source.
    let pixels = src.len() / cw;
    let (lo, hi) = (left.div_ceil(2), (pixels + left) / 2);
    let pairs = out.len() / (12 * cw);
    let inside = src.get((2 * lo).wrapping_sub(left) * cw..(2 * hi).wrapping_sub(left) * cw);
    let span = out.get_mut(lo * 12 * cw..hi * 12 * cw);
    let mut done = (0, 0);
    if let (Some(inside), Some(span), true) = (inside, span, lo < hi && hi <= pairs) {
        for (two, chunk) in inside
            .chunks_exact(2 * cw)
            .zip(span.chunks_exact_mut(12 * cw))
        {
            let (a, b) = two.split_at(cw);
            widen_pair(chunk, slot, a.iter().copied(), b.iter().copied());
        }
        done = (lo, hi);
    }
    for (q, chunk) in out.chunks_exact_mut(12 * cw).enumerate() {
        if (done.0..done.1).contains(&q) {
            continue;
        }
        match (px(2 * q), px(2 * q + 1)) {
            (Some(a), Some(b)) => widen_pair(chunk, slot, a.iter().copied(), b.iter().copied()),
            (Some(a), None) => widen_pair(chunk, slot, a.iter().copied(), pad.clone()),
            (None, Some(b)) => widen_pair(chunk, slot, pad.clone(), b.iter().copied()),
            (None, None) => widen_pair(chunk, slot, pad.clone(), pad.clone()),
        }
    }
}

/// [`widen_row_pairs`] for one pair of columns: the words `p` and `r` of its two pixels,
/// four channels each, into `chunk` (12 words per four channels).
#[inline(always)]
fn widen_pair(
    chunk: &mut [u32],
    slot: usize,
    p: impl Iterator<Item = u32>,
    r: impl Iterator<Item = u32>,
) {
    for ((quad, p), r) in chunk.chunks_exact_mut(12).zip(p).zip(r) {
        let (pe, re) = (sxtb16(p), sxtb16(r));
        let (po, ro) = (sxtb16_ror8(p), sxtb16_ror8(r));
        if let Some([a, _, _, b, _, _, c, _, _, d, ..]) = quad.get_mut(slot..) {
            (*a, *b, *c, *d) = (
                pack_lo(pe, re),
                pack_lo(po, ro),
                pack_hi(pe, re),
                pack_hi(po, ro),
            );
        }
    }
}

/// The two outputs of one channel of a 3×3 depthwise row at stride `S` (1 or 2), the
/// window's rows in slots `(ROT + ky) % 3`, from the interleaved rows at `*p` (word
/// `3·(pair·C + k)`) and the channel's 10 stream words at `*s`: per filter row, at
/// stride 1 `A` = (`x0`, `x1`) and `B` = (`x2`, `x3`), `a0 += A·(w0, w1) + x2·w2`,
/// `a1 += (x2, x1)·(w1, w0) + x3·w2` (`SMLAD`, `SMLABB`, `PKHBT`, `SMLADX`, `SMLATB`); at
/// stride 2 with `D` = (`x4`, `x5`) too, `a0 += A·(w0, w1) + x2·w2`, `a1 += B·(w0, w1) +
/// x4·w2`; then [`rescale`] of both. `*p` advances three words, `*s` ten.
///
/// # Safety
/// `*p` must be valid for reading words `3·n·C + j`, `j < 3`, `n ≤ 2` (`n ≤ 1` at stride
/// 1); `*s` for reading 10 words; both aligned; `12·C + 8` below 4096 (`24·C + 8` at
/// stride 2).
#[inline(always)]
unsafe fn pairs_channel<const C: usize, const S: usize, const ROT: usize>(
    p: &mut *const u32,
    s: &mut *const u32,
    zp1: i32,
) -> (i32, i32) {
    #[cfg(firmnet_arm_dsp)]
    {
        let (a0, a1): (i32, i32);
        if S == 1 {
            // The rows in slots 1, 2 and 0 in that order (so the last load may advance
            // `p`), `w1`, `w2`, `w0` the stream offsets of their filter rows.
            // SAFETY: the loads read words the caller guarantees; the rest are DSP
            // instructions on registers (`SMLAD`, `SSAT` may set the Q flag, which no Rust
            // code reads).
            unsafe {
                core::arch::asm!(
                    "ldrd {a0}, {a1}, [{s}, #32]",
                    "ldr {b}, [{p}, #{b1}]",
                    "ldr {x}, [{p}, #4]",
                    "ldrd {w}, {v}, [{s}, #{w1}]",
                    "smlad {a0}, {x}, {w}, {a0}",
                    "smlabb {a0}, {b}, {v}, {a0}",
                    "pkhbt {x}, {b}, {x}",
                    "smladx {a1}, {x}, {w}, {a1}",
                    "smlatb {a1}, {b}, {v}, {a1}",
                    "ldr {b}, [{p}, #{b2}]",
                    "ldr {x}, [{p}, #8]",
                    "ldrd {w}, {v}, [{s}, #{w2}]",
                    "smlad {a0}, {x}, {w}, {a0}",
                    "smlabb {a0}, {b}, {v}, {a0}",
                    "pkhbt {x}, {b}, {x}",
                    "smladx {a1}, {x}, {w}, {a1}",
                    "smlatb {a1}, {b}, {v}, {a1}",
                    "ldr {b}, [{p}, #{b0}]",
                    "ldr {x}, [{p}], #12",
                    "ldrd {w}, {v}, [{s}, #{w0}]",
                    "smlad {a0}, {x}, {w}, {a0}",
                    "smlabb {a0}, {b}, {v}, {a0}",
                    "pkhbt {x}, {b}, {x}",
                    "smladx {a1}, {x}, {w}, {a1}",
                    "smlatb {a1}, {b}, {v}, {a1}",
                    p = inout(reg) *p, s = in(reg) *s,
                    a0 = out(reg) a0, a1 = out(reg) a1, b = out(reg) _, x = out(reg) _,
                    w = out(reg) _, v = out(reg) _,
                    b0 = const 12 * C, b1 = const 12 * C + 4, b2 = const 12 * C + 8,
                    w0 = const 8 + 8 * ((3 - ROT) % 3), w1 = const 8 + 8 * ((4 - ROT) % 3),
                    w2 = const 8 + 8 * ((5 - ROT) % 3),
                    options(readonly, nostack));
            }
        } else {
            // SAFETY: as above.
            unsafe {
                core::arch::asm!(
                    "ldrd {a0}, {a1}, [{s}, #32]",
                    "ldr {x}, [{p}, #4]",
                    "ldr {b}, [{p}, #{b1}]",
                    "ldrd {w}, {v}, [{s}, #{w1}]",
                    "smlad {a0}, {x}, {w}, {a0}",
                    "smlabb {a0}, {b}, {v}, {a0}",
                    "smlad {a1}, {b}, {w}, {a1}",
                    "ldr {x}, [{p}, #{d1}]",
                    "smlabb {a1}, {x}, {v}, {a1}",
                    "ldr {x}, [{p}, #8]",
                    "ldr {b}, [{p}, #{b2}]",
                    "ldrd {w}, {v}, [{s}, #{w2}]",
                    "smlad {a0}, {x}, {w}, {a0}",
                    "smlabb {a0}, {b}, {v}, {a0}",
                    "smlad {a1}, {b}, {w}, {a1}",
                    "ldr {x}, [{p}, #{d2}]",
                    "smlabb {a1}, {x}, {v}, {a1}",
                    "ldr {b}, [{p}, #{b0}]",
                    "ldr {x}, [{p}, #{d0}]",
                    "ldrd {w}, {v}, [{s}, #{w0}]",
                    "smlabb {a1}, {x}, {v}, {a1}",
                    "smlad {a1}, {b}, {w}, {a1}",
                    "smlabb {a0}, {b}, {v}, {a0}",
                    "ldr {x}, [{p}], #12",
                    "smlad {a0}, {x}, {w}, {a0}",
                    p = inout(reg) *p, s = in(reg) *s,
                    a0 = out(reg) a0, a1 = out(reg) a1, b = out(reg) _, x = out(reg) _,
                    w = out(reg) _, v = out(reg) _,
                    b0 = const 12 * C, b1 = const 12 * C + 4, b2 = const 12 * C + 8,
                    d0 = const 24 * C, d1 = const 24 * C + 4, d2 = const 24 * C + 8,
                    w0 = const 8 + 8 * ((3 - ROT) % 3), w1 = const 8 + 8 * ((4 - ROT) % 3),
                    w2 = const 8 + 8 * ((5 - ROT) % 3),
                    options(readonly, nostack));
            }
        }
        // SAFETY: `*s` holds the channel's 10 words, as the caller guarantees.
        unsafe { rescale_pair(a0, a1, s, zp1) }
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        // SAFETY: as the caller guarantees.
        unsafe {
            let (pp, sp) = (*p, *s);
            let word = |i: usize| *sp.add(i);
            let (mut a0, mut a1) = (word(8) as i32, word(9) as i32);
            for ky in 0..3 {
                let slot = (ROT + ky) % 3;
                let at = |n: usize| *pp.add(3 * n * C + slot);
                let (w, w2) = (word(2 + 2 * ky), word(3 + 2 * ky));
                let (x, b) = (at(0), at(1));
                a0 = smlabb(b, w2, smlad(x, w, a0));
                if S == 1 {
                    let m = (b & 0xffff) | (x & 0xffff_0000);
                    a1 = smlatb(b, w2, smladx(m, w, a1));
                } else {
                    a1 = smlabb(at(2), w2, smlad(b, w, a1));
                }
            }
            let (m, e1) = (word(0) as i32, word(1));
            *p = pp.add(3);
            *s = sp.add(PAIRS_CHANNEL);
            (rescale(a0, m, e1, zp1), rescale(a1, m, e1, zp1))
        }
    }
}

/// The first output of [`pairs_channel`] alone (the last output of a row of odd width),
/// the same at either stride: per filter row `A` = (`x0`, `x1`), `B` = (`x2`, `x3`),
/// `a += A·(w0, w1) + x2·w2`, then [`rescale`]. `*p` advances three words, `*s` ten.
///
/// # Safety
/// As [`pairs_channel`] at stride 1.
#[inline(always)]
unsafe fn pairs_one<const C: usize, const ROT: usize>(
    p: &mut *const u32,
    s: &mut *const u32,
    zp1: i32,
) -> i32 {
    let a: i32;
    #[cfg(firmnet_arm_dsp)]
    {
        // Rows and offsets as in `pairs_channel`.
        // SAFETY: the loads read words the caller guarantees; the rest are DSP
        // instructions on registers (`SMLAD` may set the Q flag, which no Rust code reads).
        unsafe {
            core::arch::asm!(
                "ldr {a}, [{s}, #32]",
                "ldr {x}, [{p}, #4]",
                "ldr {b}, [{p}, #{b1}]",
                "ldrd {w}, {v}, [{s}, #{w1}]",
                "smlad {a}, {x}, {w}, {a}",
                "smlabb {a}, {b}, {v}, {a}",
                "ldr {x}, [{p}, #8]",
                "ldr {b}, [{p}, #{b2}]",
                "ldrd {w}, {v}, [{s}, #{w2}]",
                "smlad {a}, {x}, {w}, {a}",
                "smlabb {a}, {b}, {v}, {a}",
                "ldr {b}, [{p}, #{b0}]",
                "ldr {x}, [{p}], #12",
                "ldrd {w}, {v}, [{s}, #{w0}]",
                "smlad {a}, {x}, {w}, {a}",
                "smlabb {a}, {b}, {v}, {a}",
                p = inout(reg) *p, s = in(reg) *s, a = out(reg) a,
                b = out(reg) _, x = out(reg) _, w = out(reg) _, v = out(reg) _,
                b0 = const 12 * C, b1 = const 12 * C + 4, b2 = const 12 * C + 8,
                w0 = const 8 + 8 * ((3 - ROT) % 3), w1 = const 8 + 8 * ((4 - ROT) % 3),
                w2 = const 8 + 8 * ((5 - ROT) % 3),
                options(readonly, nostack));
        }
    }
    #[cfg(not(firmnet_arm_dsp))]
    {
        // SAFETY: as the caller guarantees.
        unsafe {
            let (pp, sp) = (*p, *s);
            let mut acc = *sp.add(8) as i32;
            for ky in 0..3 {
                let slot = (ROT + ky) % 3;
                let (x, b) = (*pp.add(slot), *pp.add(3 * C + slot));
                acc = smlabb(b, *sp.add(3 + 2 * ky), smlad(x, *sp.add(2 + 2 * ky), acc));
            }
            *p = pp.add(3);
            a = acc;
        }
    }
    // SAFETY: as the caller guarantees.
    unsafe {
        let (m, e1) = (**s as i32, *s.add(1));
        *s = s.add(PAIRS_CHANNEL);
        rescale(a, m, e1, zp1)
    }
}

/// [`rescale`] of the sums `a0` and `a1` of a channel with the multiplier and `e − 1` at
/// `*s` (the first two of its stream words), in one `asm!` block with their `LDRD`, which
/// advances `*s` to the next channel.
///
/// # Safety
/// `*s` must be valid for reading the channel's 10 words, aligned.
#[cfg(firmnet_arm_dsp)]
#[inline(always)]
unsafe fn rescale_pair(mut a0: i32, mut a1: i32, s: &mut *const u32, zp1: i32) -> (i32, i32) {
    // SAFETY: the load reads words the caller guarantees; the rest are instructions on
    // registers (`SSAT` may set the Q flag, which no Rust code reads).
    unsafe {
        core::arch::asm!(
            "ldrd {w}, {v}, [{s}], #40",
            "smmulr {a0}, {a0}, {w}",
            "add {a0}, {a0}, {a0}, asr #31",
            "asr {a0}, {a0}, {v}",
            "add {a0}, {a0}, {z}",
            "ssat {a0}, #8, {a0}, asr #1",
            "smmulr {a1}, {a1}, {w}",
            "add {a1}, {a1}, {a1}, asr #31",
            "asr {a1}, {a1}, {v}",
            "add {a1}, {a1}, {z}",
            "ssat {a1}, #8, {a1}, asr #1",
            s = inout(reg) *s, z = in(reg) zp1, a0 = inout(reg) a0, a1 = inout(reg) a1,
            w = out(reg) _, v = out(reg) _, options(readonly, nostack));
    }
    (a0, a1)
}

/// One row of a 3×3 depthwise convolution's outputs at `S`tride 1 or 2, `ow` pixels of
/// `C` channels (`C` a multiple of 4, at most [`pairs_max_channels`]), each four channels
/// as one word given to `put(i, word)` (`i` counting words along the row), from the three
/// input rows it reads widened by [`widen_row_pairs`] into `slots` (at least
/// `3·`[`pairs_len`]`·C` words), row `ky` in slot `(ROT + ky) % 3`, and
/// [`widen_depthwise_pairs`]'s `stream`. Two outputs of a channel at a time: at stride 1
/// per filter row two loads, a `PKHBT` and four multiplies, at stride 2 three loads and
/// four multiplies; then [`rescale`]; the last output of a row of odd width alone. Does nothing if a slice is too short or `C`,
/// `S` or `ROT` are out of range. Cannot panic.
#[inline(always)]
pub fn depthwise_pairs_row<const C: usize, const S: usize, const ROT: usize>(
    slots: &[u32],
    stream: &[u32],
    d: Doubled,
    ow: usize,
    mut put: impl FnMut(usize, u32),
) {
    let units = ow.div_ceil(2);
    if ow == 0
        || C == 0
        || !C.is_multiple_of(4)
        || !(S == 1 || S == 2)
        || ROT > 2
        || C > pairs_max_channels(S)
        || stream.len() < C * PAIRS_CHANNEL
        || slots.len() < 3 * pairs_len(ow, S) * C
    {
        return;
    }
    let cw = C / 4;
    let mut p = slots.as_ptr();
    for u in 0..units {
        let mut sp = stream.as_ptr();
        if 2 * u + 1 == ow {
            // The last output of an odd row alone.
            for g in 0..cw {
                // SAFETY: as below, reading pairs `u` and `u + 1` (stride 1) or `2u` and
                // `2u + 1` (stride 2) only.
                let a = unsafe {
                    [
                        pairs_one::<C, ROT>(&mut p, &mut sp, d.zp1),
                        pairs_one::<C, ROT>(&mut p, &mut sp, d.zp1),
                        pairs_one::<C, ROT>(&mut p, &mut sp, d.zp1),
                        pairs_one::<C, ROT>(&mut p, &mut sp, d.zp1),
                    ]
                };
                put(2 * u * cw + g, bytes4(a, d.lo, d.hi));
            }
            break;
        }
        for g in 0..cw {
            // SAFETY: unit `u` reads the interleaved words of pairs `u`, `u + 1` (stride
            // 1) or `2u` to `2u + 2` (stride 2), below `3·pairs_len·C` (checked above),
            // `p` advancing three words per channel; `sp` walks the `C` channels of the
            // stream (checked above); `C` is in range.
            let (a0, a1, a2, a3) = unsafe {
                (
                    pairs_channel::<C, S, ROT>(&mut p, &mut sp, d.zp1),
                    pairs_channel::<C, S, ROT>(&mut p, &mut sp, d.zp1),
                    pairs_channel::<C, S, ROT>(&mut p, &mut sp, d.zp1),
                    pairs_channel::<C, S, ROT>(&mut p, &mut sp, d.zp1),
                )
            };
            put(2 * u * cw + g, bytes4([a0.0, a1.0, a2.0, a3.0], d.lo, d.hi));
            put(
                (2 * u + 1) * cw + g,
                bytes4([a0.1, a1.1, a2.1, a3.1], d.lo, d.hi),
            );
        }
        if S == 2 {
            // The next unit starts two pairs on.
            p = p.wrapping_add(3 * C);
        }
    }
}
