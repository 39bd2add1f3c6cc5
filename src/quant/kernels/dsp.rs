//! The int8 dense kernel on Cortex-M4/M7: the DSP extension's `SXTB16` and `SMLAD`.
//!
//! `SXTB16` sign-extends bytes 0 and 2 (or, rotated by 8, bytes 1 and 3) of a word into two
//! 16-bit halves; `SMLAD` multiplies two such pairs and adds both products to an
//! accumulator. So one loaded word of four inputs, split once, feeds two `SMLAD`s per
//! weight row. The loop keeps **four rows** in flight — their words are loaded at the
//! compile-time offsets `IN`, `2·IN`, `3·IN` from one pointer, so the input word is loaded
//! and split once per four rows — and handles **eight columns** per iteration:
//! 48 instructions for 32 multiply-accumulates, 1.5 per MAC. The accumulators are tied
//! `inout` to the assembly, so no moves are added around it.
//!
//! Rows left over (`OUT mod 4`) run a one-row loop, columns left over (`IN mod 8`) the
//! scalar reference. Both loops use unaligned word loads, which the M4 and M7 allow by
//! default.

#![allow(unsafe_code)]

use core::arch::asm;

use super::Requant;
use super::reference::dot;

/// One step of the four-row loop: four input bytes against four columns of four rows.
/// Rows 1–3 are read at the offsets `r1`, `r2`, `r3`; row 0 last, with the post-increment
/// that advances the weight pointer.
macro_rules! four_columns {
    () => {
        concat!(
            "ldr {x}, [{xp}], #4\n",
            "sxtb16 {x13}, {x}, ror #8\n",
            "sxtb16 {x}, {x}\n",
            "ldr {w}, [{wp}, #{r1}]\n",
            "sxtb16 {t}, {w}, ror #8\n",
            "sxtb16 {w}, {w}\n",
            "smlad {a1}, {x}, {w}, {a1}\n",
            "smlad {a1}, {x13}, {t}, {a1}\n",
            "ldr {w}, [{wp}, #{r2}]\n",
            "sxtb16 {t}, {w}, ror #8\n",
            "sxtb16 {w}, {w}\n",
            "smlad {a2}, {x}, {w}, {a2}\n",
            "smlad {a2}, {x13}, {t}, {a2}\n",
            "ldr {w}, [{wp}, #{r3}]\n",
            "sxtb16 {t}, {w}, ror #8\n",
            "sxtb16 {w}, {w}\n",
            "smlad {a3}, {x}, {w}, {a3}\n",
            "smlad {a3}, {x13}, {t}, {a3}\n",
            "ldr {w}, [{wp}], #4\n",
            "sxtb16 {t}, {w}, ror #8\n",
            "sxtb16 {w}, {w}\n",
            "smlad {a0}, {x}, {w}, {a0}\n",
            "smlad {a0}, {x13}, {t}, {a0}",
        )
    };
}

/// Largest offset a Thumb-2 `LDR` encodes as an immediate.
const MAX_OFFSET: usize = 4095;

pub(super) fn dense<const IN: usize, const OUT: usize>(
    w: &[[i8; IN]; OUT],
    x: &[i8; IN],
    rq: &Requant<'_, OUT>,
    y: &mut [i8; OUT],
) {
    let wide = IN / 8 * 8;
    let mut o = 0;
    if wide > 0 && 3 * IN <= MAX_OFFSET {
        while o + 4 <= OUT {
            let mut acc = [rq.bias[o], rq.bias[o + 1], rq.bias[o + 2], rq.bias[o + 3]];
            four_rows::<IN, OUT>(w, o, x, wide, &mut acc);
            for (r, a) in acc.iter().enumerate() {
                let sum = dot(&w[o + r][wide..], &x[wide..], *a);
                y[o + r] = rq.output(o + r, sum);
            }
            o += 4;
        }
    }
    let narrow = IN / 4 * 4;
    while o < OUT {
        let mut acc = rq.bias[o];
        if narrow > 0 {
            one_row(&w[o], x, narrow, &mut acc);
        }
        y[o] = rq.output(o, dot(&w[o][narrow..], &x[narrow..], acc));
        o += 1;
    }
}

/// Adds `Σ_{i < n} w[o + r][i]·x[i]` to `acc[r]` for `r` in `0..4`; `n` is a positive
/// multiple of 8 and at most `IN`, `o + 4 ≤ OUT`, `3·IN ≤ 4095`.
#[inline(always)]
fn four_rows<const IN: usize, const OUT: usize>(
    w: &[[i8; IN]; OUT],
    o: usize,
    x: &[i8; IN],
    n: usize,
    acc: &mut [i32; 4],
) {
    assert!(n > 0 && n % 8 == 0 && n <= IN && o + 4 <= OUT && 3 * IN <= MAX_OFFSET);
    let xp = x.as_ptr();
    let wp = w[o].as_ptr();
    // SAFETY: the loop reads the words at `xp + 4k` and `wp + r·IN + 4k` for `r < 4` and
    // `4k < n`: bytes `0..n` of `x` and of rows `o..o + 4` of the contiguous matrix `w`,
    // all in bounds by the assertion. It starts with `xp < end` (n > 0) and stops when `xp`
    // reaches `end = xp + n` exactly, since it advances by 8 and 8 divides n. Word loads
    // need no alignment on ARMv7E-M (unaligned LDR is architecturally supported for
    // normal memory). It writes only its register operands, uses no stack, and the flags
    // it changes (`cmp`, and the Q flag of `SMLAD`) are not relied on by Rust code.
    unsafe {
        asm!(
            "2:",
            four_columns!(),
            four_columns!(),
            "cmp {xp}, {end}",
            "bne 2b",
            x = out(reg) _,
            x13 = out(reg) _,
            w = out(reg) _,
            t = out(reg) _,
            xp = inout(reg) xp => _,
            wp = inout(reg) wp => _,
            end = in(reg) xp.wrapping_add(n),
            a0 = inout(reg) acc[0],
            a1 = inout(reg) acc[1],
            a2 = inout(reg) acc[2],
            a3 = inout(reg) acc[3],
            r1 = const IN,
            r2 = const 2 * IN,
            r3 = const 3 * IN,
            options(nostack, readonly),
        );
    }
}

/// Adds `Σ_{i < n} row[i]·x[i]` to `acc`; `n` is a positive multiple of 4, at most the
/// length of both.
#[inline(always)]
fn one_row(row: &[i8], x: &[i8], n: usize, acc: &mut i32) {
    assert!(n > 0 && n % 4 == 0 && n <= row.len() && n <= x.len());
    // SAFETY: reads the words at `x + 4k` and `row + 4k` for `4k < n`, in bounds by the
    // assertion; stops exactly at `end` (steps of 4, 4 divides n). Unaligned word loads are
    // allowed on ARMv7E-M; only register operands and flags are written; no stack.
    unsafe {
        asm!(
            "2:",
            "ldr {x}, [{xp}], #4",
            "sxtb16 {x13}, {x}, ror #8",
            "sxtb16 {x}, {x}",
            "ldr {w}, [{wp}], #4",
            "sxtb16 {t}, {w}, ror #8",
            "sxtb16 {w}, {w}",
            "smlad {a}, {x}, {w}, {a}",
            "smlad {a}, {x13}, {t}, {a}",
            "cmp {xp}, {end}",
            "bne 2b",
            x = out(reg) _,
            x13 = out(reg) _,
            w = out(reg) _,
            t = out(reg) _,
            xp = inout(reg) x.as_ptr() => _,
            wp = inout(reg) row.as_ptr() => _,
            end = in(reg) x.as_ptr().wrapping_add(n),
            a = inout(reg) *acc,
            options(nostack, readonly),
        );
    }
}
