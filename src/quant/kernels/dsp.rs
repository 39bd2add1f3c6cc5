//! The int8 dense kernel on Cortex-M4/M7: the DSP extension's `SXTB16` and `SMLAD`.
//!
//! `SXTB16` sign-extends bytes 0 and 2 (or, rotated by 8, bytes 1 and 3) of a word into two
//! 16-bit halves; `SMLAD` multiplies two such pairs and adds both products to an
//! accumulator. So one loaded word of four inputs, split once, feeds two `SMLAD`s per
//! weight row. The loop keeps **four rows** in flight — rows 1 and 3 are loaded at the row
//! length, held in a register, past rows 0 and 2 (`LDR Rt, [Rn, Rm]`), so the input word
//! is loaded and split once per four rows — and handles **eight columns** per iteration:
//! 46 instructions for 32 multiply-accumulates and two for the loop's test, 1.5 per MAC.
//! The loop needs thirteen registers, one more than an operand list can name: its end
//! lives in r7 (the frame pointer), saved and restored inside the block. The accumulators
//! are tied `inout` to the assembly, so no moves are added around it.
//!
//! One body serves every layer size — no copy per row length, no limit on it — and so do
//! the requantization and the leftovers: rows left over (`OUT mod 4`, at most three per
//! layer) and columns left over (`IN mod 8`) run the scalar reference's dot product, and so
//! does a whole layer the loop cannot take. The loop loads words only at word-aligned
//! addresses: it runs when the input and the weight matrix are 4-byte aligned and `IN` is
//! a multiple of 4 (so every row starts aligned). So the kernel is correct in a firmware
//! that traps unaligned accesses (`SCB.CCR.UNALIGN_TRP`), and fast for the aligned buffers
//! firmnet's arena, weight files and `QMatrix` provide.

#![allow(unsafe_code)]

use core::arch::asm;

use super::Requant;
use super::packed::{Rescale, Way, bounded_four};
use super::reference::dot;

/// One step of the four-row loop: four input bytes against four columns of four rows.
/// Rows 1 and 3 are read `n` bytes past rows 0 and 2; rows 2 and 0 last, with the
/// post-increments that advance their pointers.
macro_rules! four_columns {
    () => {
        concat!(
            "ldr {x}, [{xp}], #4\n",
            "sxtb16 {x13}, {x}, ror #8\n",
            "sxtb16 {x}, {x}\n",
            "ldr {w}, [{w0}, {n}]\n",
            "sxtb16 {t}, {w}, ror #8\n",
            "sxtb16 {w}, {w}\n",
            "smlad {a1}, {x}, {w}, {a1}\n",
            "smlad {a1}, {x13}, {t}, {a1}\n",
            "ldr {w}, [{w2}, {n}]\n",
            "sxtb16 {t}, {w}, ror #8\n",
            "sxtb16 {w}, {w}\n",
            "smlad {a3}, {x}, {w}, {a3}\n",
            "smlad {a3}, {x13}, {t}, {a3}\n",
            "ldr {w}, [{w2}], #4\n",
            "sxtb16 {t}, {w}, ror #8\n",
            "sxtb16 {w}, {w}\n",
            "smlad {a2}, {x}, {w}, {a2}\n",
            "smlad {a2}, {x13}, {t}, {a2}\n",
            "ldr {w}, [{w0}], #4\n",
            "sxtb16 {t}, {w}, ror #8\n",
            "sxtb16 {w}, {w}\n",
            "smlad {a0}, {x}, {w}, {a0}\n",
            "smlad {a0}, {x13}, {t}, {a0}",
        )
    };
}

/// `y[o] = clamp(z + requant(bias[o] + Σᵢ w[o·n + i]·x[i]))` with `n = x.len()`: one body
/// for every layer size, the four-row loop ([`four_rows`]) included. Rows of an unaligned
/// input or matrix, or of a length that is not a multiple of 4, and the leftovers run the
/// reference's dot product. Cannot panic.
#[inline(never)]
pub(super) fn dense(w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8]) {
    let (inputs, outputs) = (x.len(), y.len());
    // Word loads only at word-aligned addresses: every row starts aligned when the matrix
    // does and the row length is a multiple of 4. Otherwise the dot product of bytes, which
    // a firmware that traps unaligned accesses (SCB.CCR.UNALIGN_TRP) can run too.
    let aligned = (x.as_ptr() as usize | w.as_ptr() as usize).is_multiple_of(4);
    let wide = inputs / 8 * 8;
    let fast = inputs % 4 == 0 && aligned && rq.fits(inputs, w.len(), outputs) && wide > 0;
    // Blocks of four rows requantize together on the six-instruction path where the
    // layer's parameters allow it (the same bits), unless the smallest code is asked for.
    let bounded = !cfg!(feature = "small-code") && Rescale::of(rq, inputs).way() == Way::Bounded;
    let mut o = if fast && bounded {
        bounded_blocks(w, x, rq, y, wide)
    } else {
        0
    };
    // Blocks of four rows (the last one shorter): the four-row loop takes the first `wide`
    // columns of a whole block, the reference's dot product the rest; one requantization
    // for all (inlined once).
    while o < outputs {
        let n = (outputs - o).min(4);
        let (Some(rows), Some(bias)) = (w.get(o * inputs..(o + n) * inputs), rq.bias.get(o..o + n))
        else {
            return;
        };
        // Element by element (a copy of a variable length would call `memcpy`, 730 bytes
        // of flash).
        let mut acc: [i32; 4] = core::array::from_fn(|r| bias.get(r).copied().unwrap_or(0));
        let done = if fast && n == 4 {
            four_rows(rows, x, wide, &mut acc);
            wide
        } else {
            0
        };
        let tail = x.get(done..).unwrap_or_default();
        for (r, (a, row)) in acc.iter().zip(rows.chunks_exact(inputs.max(1))).enumerate() {
            let sum = if tail.is_empty() {
                *a
            } else {
                dot(row.get(done..).unwrap_or_default(), tail, *a)
            };
            if let Some(out) = y.get_mut(o + r) {
                *out = rq.output(o + r, sum);
            }
        }
        o += n;
    }
}

/// The leading blocks of four rows of [`dense`] for a layer whose requantization is
/// [`Way::Bounded`]: the four-row loop over the first `wide` columns, the reference's dot
/// product over the rest, four outputs requantized together ([`bounded_four`]) and stored
/// as one word. Returns the number of outputs written (a multiple of 4).
#[inline(never)]
fn bounded_blocks(w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8], wide: usize) -> usize {
    let inputs = x.len();
    let (bias, _) = rq.bias.as_chunks::<4>();
    let (out, _) = y.as_chunks_mut::<4>();
    let tail = x.get(wide..).unwrap_or_default();
    let mut done = 0;
    for ((rows, b), out) in w.chunks_exact(4 * inputs.max(1)).zip(bias).zip(out) {
        let mut acc = *b;
        four_rows(rows, x, wide, &mut acc);
        if !tail.is_empty() {
            for (a, row) in acc.iter_mut().zip(rows.chunks_exact(inputs.max(1))) {
                *a = dot(row.get(wide..).unwrap_or_default(), tail, *a);
            }
        }
        let Some(v) = bounded_four(rq, done, acc) else {
            break;
        };
        *out = v;
        done += 4;
    }
    done
}

/// Adds `Σ_{i < n} rows[r·m + i]·x[i]` to `acc[r]` for `r` in `0..4`, where `m = x.len()`
/// is the row length: four rows from the start of `rows`. Adds nothing unless `n` is a
/// positive multiple of 8 and at most `m`, `m` is a multiple of 4, `rows` holds four rows,
/// and `rows` and `x` are 4-byte aligned.
#[inline(never)]
fn four_rows(rows: &[i8], x: &[i8], n: usize, acc: &mut [i32; 4]) {
    let m = x.len();
    let aligned = (rows.as_ptr() as usize | x.as_ptr() as usize).is_multiple_of(4);
    if !(n > 0
        && n.is_multiple_of(8)
        && n <= m
        && m.is_multiple_of(4)
        && rows.len() / 4 >= m
        && aligned)
    {
        return;
    }
    let (xp, w0) = (x.as_ptr(), rows.as_ptr());
    // SAFETY: the loop reads the words at `xp + 4k` and `w0 + r·m + 4k` for `r < 4` and
    // `4k < n`: bytes `0..n` of `x` and of the first four rows, all in bounds by the check
    // above (`w2 = w0 + 2m`, rows 1 and 3 at `m` past rows 0 and 2). It starts with
    // `xp < end` (n > 0) and stops when `xp` reaches `end = xp + n` exactly, since it
    // advances by 8 and 8 divides n. Every word is 4-byte aligned: `x` and `rows` are, and
    // so is every row start (m is a multiple of 4). The loop needs one register more than
    // an operand list can name, so it keeps `end` in r7 (the frame pointer, which no code
    // reads while the block runs), saved below the stack pointer (keeping it 8-byte
    // aligned) and restored before the block ends; besides that slot it writes only its
    // register operands, and the flags it changes (`cmp`, and the Q flag of `SMLAD`) are not
    // relied on by Rust code.
    unsafe {
        asm!(
            "str r7, [sp, #-8]!",
            "mov r7, {x13}",
            "2:",
            four_columns!(),
            four_columns!(),
            "cmp {xp}, r7",
            "bne 2b",
            "ldr r7, [sp], #8",
            x = out(reg) _,
            // `end` arrives in the register the loop then uses for the odd input bytes.
            x13 = inout(reg) xp.wrapping_add(n) => _,
            w = out(reg) _,
            t = out(reg) _,
            xp = inout(reg) xp => _,
            w0 = inout(reg) w0 => _,
            w2 = inout(reg) w0.wrapping_add(2 * m) => _,
            n = in(reg) m,
            a0 = inout(reg) acc[0],
            a1 = inout(reg) acc[1],
            a2 = inout(reg) acc[2],
            a3 = inout(reg) acc[3],
        );
    }
}
