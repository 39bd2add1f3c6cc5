//! The f32 dense products on the Cortex-M4F: four rows or eight columns in flight on the
//! FPU's 32 single registers, the reference's bits.
//!
//! The reference sums each output left to right from zero, every product rounded before it
//! is added ([`reference::dot`]). `VMLA.F32` is exactly that step — the Armv7-M
//! architecture defines it as a multiply, rounded, then an add, rounded (unlike `VFMA`,
//! which this module never uses) — so a loop of `VMLA`s into one accumulator per row
//! computes the reference's bits. The loop keeps **four rows** in flight and takes **four
//! columns** per iteration: one `VLDM` of four inputs, one `VLDM` of four weights per row,
//! sixteen `VMLA`s (four per row, in column order) and the loop's test: 23 instructions
//! for 16 multiply-accumulates, 1.44 per MAC. When the row length is a multiple of 4, one
//! block of assembly runs every block of four rows, bias and stores included (17
//! instructions per block around the loop: 1.44 instructions per MAC at 784→256, 1.52 at
//! 64→64 under QEMU). Otherwise the columns left over (`k mod 4`) continue each row's sum
//! in Rust. The rows left over (`n mod 4`) run the reference.
//!
//! The batch forward product ([`gemm_nt`]) is this matrix–vector product for each sample,
//! as in the reference. The training products — the input gradient [`gemm_nn`] and the
//! weight gradient [`gemm_tn_acc`] — sum over the batch or the outputs one factor at a
//! time against **eight columns** of a row of the output ([`row_blocks`]): one `VLDR`,
//! one `VLDM` of eight values, eight `VMLA`s, two pointer steps and the loop's test, 1.5
//! instructions per MAC (1.79 and 2.17 at 64→64 with a batch of 8 under QEMU, the blocks'
//! set-up included); the columns left over (`n mod 8`) run the reference's loop. [`dot`]
//! and [`axpy`] are the reference's, re-exported.

#![allow(unsafe_code)]

use core::arch::asm;

use super::reference;
pub use super::reference::{axpy, dot};

/// One step of the four-row loop: four inputs (`s4`–`s7`) against four columns of four
/// rows (`s8`–`s23`), each row's four products added to its accumulator (`s0`–`s3`) in
/// column order; every pointer advances by four values.
macro_rules! four_columns {
    () => {
        concat!(
            "vldmia {xp}!, {{s4-s7}}\n",
            "vldmia {w0}!, {{s8-s11}}\n",
            "vldmia {w1}!, {{s12-s15}}\n",
            "vldmia {w2}!, {{s16-s19}}\n",
            "vldmia {w3}!, {{s20-s23}}\n",
            "vmla.f32 s0, s8, s4\n",
            "vmla.f32 s1, s12, s4\n",
            "vmla.f32 s2, s16, s4\n",
            "vmla.f32 s3, s20, s4\n",
            "vmla.f32 s0, s9, s5\n",
            "vmla.f32 s1, s13, s5\n",
            "vmla.f32 s2, s17, s5\n",
            "vmla.f32 s3, s21, s5\n",
            "vmla.f32 s0, s10, s6\n",
            "vmla.f32 s1, s14, s6\n",
            "vmla.f32 s2, s18, s6\n",
            "vmla.f32 s3, s22, s6\n",
            "vmla.f32 s0, s11, s7\n",
            "vmla.f32 s1, s15, s7\n",
            "vmla.f32 s2, s19, s7\n",
            "vmla.f32 s3, s23, s7",
        )
    };
}

/// Returns `acc[r] + Σ_{i < 4q} w[r·k + i]·x[i]` for `r` in `0..4`, each sum from `acc[r]`
/// in increasing `i`, every product rounded then added: four rows of `k = x.len()`
/// weights from the start of `w`, `q = k / 4`. Returns `acc` unchanged unless `q > 0` and
/// `w` holds four rows.
#[inline(never)]
fn four_rows(w: &[f32], x: &[f32], acc: [f32; 4]) -> [f32; 4] {
    let k = x.len();
    let q = k / 4;
    if q == 0 || w.len() / 4 < k {
        return acc;
    }
    let mut acc = acc;
    let w0 = w.as_ptr();
    // SAFETY: the loop reads `x[..4q]` and `w[r·k..r·k + 4q]` for `r < 4`, in bounds by the
    // check above (`w` holds at least `4k` elements, `4q ≤ k`), and reads and writes the
    // four accumulators of `acc` (the register class of `s0`–`s3` cannot carry values into
    // an `asm!` block on this target). The row pointers are `w0 + r·k`, computed with
    // `wrapping_add` and dereferenced only inside those rows. It starts with `xp < end`
    // (q > 0) and stops when `xp` reaches `end = xp + 4q` exactly, since it advances by 4.
    // `VLDM` needs word alignment, which every `f32` has. Besides `acc` it writes only its
    // register operands, `s0`–`s23` (declared clobbered, so the compiler saves the
    // callee-saved `s16`–`s23`) and the flags (`cmp`), which no Rust code relies on.
    unsafe {
        asm!(
            "vldmia {ap}, {{s0-s3}}",
            "2:",
            four_columns!(),
            "cmp {xp}, {end}",
            "bne 2b",
            "vstmia {ap}, {{s0-s3}}",
            ap = in(reg) acc.as_mut_ptr(),
            xp = inout(reg) x.as_ptr() => _,
            end = in(reg) x.as_ptr().wrapping_add(4 * q),
            w0 = inout(reg) w0 => _,
            w1 = inout(reg) w0.wrapping_add(k) => _,
            w2 = inout(reg) w0.wrapping_add(2 * k) => _,
            w3 = inout(reg) w0.wrapping_add(3 * k) => _,
            out("s0") _, out("s1") _, out("s2") _, out("s3") _,
            out("s4") _, out("s5") _, out("s6") _, out("s7") _,
            out("s8") _, out("s9") _, out("s10") _, out("s11") _,
            out("s12") _, out("s13") _, out("s14") _, out("s15") _,
            out("s16") _, out("s17") _, out("s18") _, out("s19") _,
            out("s20") _, out("s21") _, out("s22") _, out("s23") _,
            options(nostack),
        );
    }
    acc
}

/// `y[o] = b[o] + Σ_i w[o·k + i]·x[i]` for `o < 4·blocks`, `k = x.len()`, each sum from
/// zero in increasing `i`, every product rounded then added, the bias added last (the
/// reference's bits): the four-row loop for every block of four rows, in one block of
/// assembly (17 instructions per block around the loop). Writes nothing unless `k` is a
/// positive multiple of 4, `blocks > 0` and `w`, `b` and `y` hold `4·blocks` rows.
#[inline(never)]
fn all_blocks(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32], blocks: usize) {
    let k = x.len();
    let rows = 4 * blocks;
    if !(k > 0
        && k.is_multiple_of(4)
        && blocks > 0
        && w.len() / k >= rows
        && b.len() >= rows
        && y.len() >= rows)
    {
        return;
    }
    let x0 = x.as_ptr();
    // SAFETY: block `j < blocks` reads `w[(4j + r)·k..(4j + r + 1)·k]` for `r < 4`, `x`,
    // and `b[4j..4j + 4]`, and writes `y[4j..4j + 4]`, all in bounds by the check above
    // (`4·blocks` rows of `k` weights, of bias and of output). The inner loop starts with
    // `xp < xend` (k > 0) and stops when `xp` reaches `xend = x0 + k` exactly, since it
    // advances by 4 and 4 divides k; the outer loop stops when `yp` reaches `y + 4·blocks`
    // exactly, advancing by 4. After the inner loop the pointer of row 3 points at the
    // next block's row 0 (the rows are contiguous), which the next block starts from; the
    // row pointers are formed by adding `4k` bytes and dereferenced only inside the rows.
    // `VLDM` and `VSTM` need word alignment, which every `f32` has. The block writes only
    // `y`, its register operands, `s0`–`s23` (declared clobbered, so the compiler saves the
    // callee-saved `s16`–`s23`) and the flags (`cmp`), which no Rust code relies on.
    unsafe {
        asm!(
            "3:",
            "movs {w1}, #0",
            "vmov s0, s1, {w1}, {w1}",
            "vmov s2, s3, {w1}, {w1}",
            "mov {xp}, {x0}",
            "add {w1}, {w0}, {kb}",
            "add {w2}, {w1}, {kb}",
            "add {w3}, {w2}, {kb}",
            "2:",
            four_columns!(),
            "cmp {xp}, {xend}",
            "bne 2b",
            "mov {w0}, {w3}",
            "vldmia {bp}!, {{s4-s7}}",
            "vadd.f32 s0, s4, s0",
            "vadd.f32 s1, s5, s1",
            "vadd.f32 s2, s6, s2",
            "vadd.f32 s3, s7, s3",
            "vstmia {yp}!, {{s0-s3}}",
            "cmp {yp}, {yend}",
            "bne 3b",
            x0 = in(reg) x0,
            xend = in(reg) x0.wrapping_add(k),
            kb = in(reg) 4 * k,
            xp = out(reg) _,
            w0 = inout(reg) w.as_ptr() => _,
            w1 = out(reg) _,
            w2 = out(reg) _,
            w3 = out(reg) _,
            bp = inout(reg) b.as_ptr() => _,
            yp = inout(reg) y.as_mut_ptr() => _,
            yend = in(reg) y.as_mut_ptr().wrapping_add(rows),
            out("s0") _, out("s1") _, out("s2") _, out("s3") _,
            out("s4") _, out("s5") _, out("s6") _, out("s7") _,
            out("s8") _, out("s9") _, out("s10") _, out("s11") _,
            out("s12") _, out("s13") _, out("s14") _, out("s15") _,
            out("s16") _, out("s17") _, out("s18") _, out("s19") _,
            out("s20") _, out("s21") _, out("s22") _, out("s23") _,
            options(nostack),
        );
    }
}

/// `y = W·x + b`, `W` row-major with `x.len()` columns: the reference's bits
/// ([`reference::gemv`]), four rows at a time. Cannot panic.
pub fn gemv(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let k = x.len();
    let blocks = if k >= 4 { y.len() / 4 } else { 0 };
    if k.is_multiple_of(4) && blocks > 0 {
        all_blocks(w, x, b, y, blocks);
    } else {
        blocks_with_tail(w, x, b, y, blocks);
    }
    let done = 4 * blocks;
    if let (Some(rest), Some(yr), Some(br)) = (w.get(done * k..), y.get_mut(done..), b.get(done..))
    {
        reference::gemv(rest, x, br, yr);
    }
}

/// The first `blocks` blocks of four rows of [`gemv`] when the row length `k` is not a
/// multiple of 4: [`four_rows`] over the first `k − k mod 4` columns, then each row's sum
/// continued over the rest, then the bias.
fn blocks_with_tail(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32], blocks: usize) {
    let k = x.len();
    let wide = k / 4 * 4;
    let tail = x.get(wide..).unwrap_or_default();
    for (blk, (yo, bo)) in y
        .chunks_exact_mut(4)
        .zip(b.chunks_exact(4))
        .take(blocks)
        .enumerate()
    {
        let Some(rows) = w.get(4 * blk * k..4 * (blk + 1) * k) else {
            return;
        };
        let mut acc = four_rows(rows, x, [0.0; 4]);
        for ((r, a), (out, bias)) in acc.iter_mut().enumerate().zip(yo.iter_mut().zip(bo)) {
            let row = rows.get(r * k + wide..(r + 1) * k).unwrap_or_default();
            for (wi, xi) in row.iter().zip(tail) {
                *a += wi * xi;
            }
            *out = bias + *a;
        }
    }
}

/// `C = A·Wᵀ + bias` (`A` is `m×k`, `W` is `n×k`, `C` is `m×n`): [`gemv`] for each row of
/// `A`, the reference's bits ([`reference::gemm_nt`]). Cannot panic.
pub fn gemm_nt(a: &[f32], w: &[f32], bias: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    if k == 0 {
        return reference::gemm_nt(a, w, bias, c, m, n, k);
    }
    for (ai, ci) in a
        .chunks_exact(k.max(1))
        .zip(c.chunks_exact_mut(n.max(1)))
        .take(m)
    {
        gemv(w, ai, bias, ci);
    }
}

/// The head of the eight-column loop of [`row_blocks`]: zeroes the eight accumulators
/// (`s0`–`s7`), points `ap` at the row's first factor and `bp` at the block's first row;
/// then, `k` times, one factor (`s8`) against eight consecutive values of a row of `B`
/// (`s16`–`s23`), each product added to its accumulator, and both pointers moved on by
/// their strides.
macro_rules! eight_columns {
    () => {
        concat!(
            "3:\n",
            "movs {t}, #0\n",
            "vmov s0, s1, {t}, {t}\n",
            "vmov s2, s3, {t}, {t}\n",
            "vmov s4, s5, {t}, {t}\n",
            "vmov s6, s7, {t}, {t}\n",
            "mov {ap}, {a0}\n",
            "mov {bp}, {b0}\n",
            "mov {t}, {k}\n",
            "2:\n",
            "vldr s8, [{ap}]\n",
            "add {ap}, {astr}\n",
            "vldmia {bp}, {{s16-s23}}\n",
            "add {bp}, {bstr}\n",
            "vmla.f32 s0, s16, s8\n",
            "vmla.f32 s1, s17, s8\n",
            "vmla.f32 s2, s18, s8\n",
            "vmla.f32 s3, s19, s8\n",
            "vmla.f32 s4, s20, s8\n",
            "vmla.f32 s5, s21, s8\n",
            "vmla.f32 s6, s22, s8\n",
            "vmla.f32 s7, s23, s8\n",
            "subs {t}, #1\n",
            "bne 2b",
        )
    };
}

/// `c[j] (+)= Σ_{p < k} a[p·sa]·b[p·sb + j]` for `j < 8·blocks`: each sum from zero in
/// increasing `p`, every product rounded then added, then stored (`add` false) or added to
/// `c[j]` (`add` true) — the reference's bits for one output row of [`gemm_nn`] and
/// [`gemm_tn_acc`]. Eight columns at a time: 12 instructions per `p` for 8
/// multiply-accumulates, and 13 (`add` false) or 22 (`add` true) per block of eight.
/// Writes nothing unless `k`, `blocks`, `sa` and `sb` are positive and every index above
/// is in bounds.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn row_blocks(
    a: &[f32],
    sa: usize,
    b: &[f32],
    sb: usize,
    k: usize,
    c: &mut [f32],
    blocks: usize,
    add: bool,
) {
    let cols = 8 * blocks;
    let last_a = k.checked_sub(1).and_then(|p| p.checked_mul(sa));
    let end_b = k
        .checked_sub(1)
        .and_then(|p| p.checked_mul(sb))
        .and_then(|e| e.checked_add(cols));
    let (Some(last_a), Some(end_b)) = (last_a, end_b) else {
        return;
    };
    if blocks == 0 || sa == 0 || sb == 0 || a.len() <= last_a || b.len() < end_b || c.len() < cols {
        return;
    }
    let (a0, b0, cp) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    let cend = cp.wrapping_add(cols);
    // One block of assembly: the eight-column loop, then `$store` (which leaves `cp` at
    // the next block), then the step to the next block.
    macro_rules! blocks {
        ($store:expr) => {
            asm!(
                eight_columns!(),
                $store,
                "add {b0}, #32",
                "cmp {cp}, {cend}",
                "bne 3b",
                a0 = in(reg) a0,
                astr = in(reg) 4 * sa,
                bstr = in(reg) 4 * sb,
                k = in(reg) k,
                cend = in(reg) cend,
                b0 = inout(reg) b0 => _,
                cp = inout(reg) cp => _,
                ap = out(reg) _,
                bp = out(reg) _,
                t = out(reg) _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                out("s4") _, out("s5") _, out("s6") _, out("s7") _, out("s8") _,
                out("s16") _, out("s17") _, out("s18") _, out("s19") _,
                out("s20") _, out("s21") _, out("s22") _, out("s23") _,
                options(nostack),
            )
        };
    }
    // SAFETY: block `q < blocks` reads `a[p·sa]` and `b[p·sb + 8q..p·sb + 8q + 8]` for
    // `p < k`, and `c[8q..8q + 8]`, and writes `c[8q..8q + 8]`, all in bounds by the check
    // above (`k ≥ 1`, `(k − 1)·sa < a.len()`, `(k − 1)·sb + 8·blocks ≤ b.len()`, `8·blocks ≤
    // c.len()`, computed without overflow); the pointers are formed by adding the strides in bytes and dereferenced
    // only at those indices. The inner loop runs `k ≥ 1` times (a count down to zero); the
    // outer loop stops when `cp` reaches `c + 8·blocks` exactly, advancing by 8. `VLDR`,
    // `VLDM` and `VSTM` need word alignment, which every `f32` has. The block writes only
    // `c`, its register operands, `s0`–`s8` and `s16`–`s23` (declared clobbered, so the
    // compiler saves the callee-saved `s16`–`s23`) and the flags, which no Rust code
    // relies on.
    unsafe {
        if add {
            blocks!(concat!(
                "vldmia {cp}, {{s16-s23}}\n",
                "vadd.f32 s16, s16, s0\n",
                "vadd.f32 s17, s17, s1\n",
                "vadd.f32 s18, s18, s2\n",
                "vadd.f32 s19, s19, s3\n",
                "vadd.f32 s20, s20, s4\n",
                "vadd.f32 s21, s21, s5\n",
                "vadd.f32 s22, s22, s6\n",
                "vadd.f32 s23, s23, s7\n",
                "vstmia {cp}!, {{s16-s23}}",
            ));
        } else {
            blocks!("vstmia {cp}!, {{s0-s7}}");
        }
    }
}

/// `C = A·W` (`A` is `m×k`, `W` is `k×n`, `C` is `m×n`): the reference's bits
/// ([`reference::gemm_nn`]), eight columns of a row of `C` at a time ([`row_blocks`]), the
/// columns left over (`n mod 8`) as the reference. Cannot panic.
pub fn gemm_nn(a: &[f32], w: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    let blocks = n / 8;
    if k == 0 || blocks == 0 || a.len() < m * k || w.len() < k * n || c.len() < m * n {
        return reference::gemm_nn(a, w, c, m, n, k);
    }
    for (ai, ci) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)).take(m) {
        row_blocks(ai, 1, w, n, k, ci, blocks, false);
        for (j, cj) in ci.iter_mut().enumerate().skip(8 * blocks) {
            let mut s = 0.0;
            for (p, ap) in ai.iter().enumerate() {
                s += ap * w.get(p * n + j).copied().unwrap_or(0.0);
            }
            *cj = s;
        }
    }
}

/// `C += Aᵀ·X` (`A` is stored `k×m`, `X` is `k×n`, `C` is `m×n`): the reference's bits
/// ([`reference::gemm_tn_acc`]), eight columns of a row of `C` at a time
/// ([`row_blocks`]), the columns left over (`n mod 8`) as the reference. Cannot panic.
pub fn gemm_tn_acc(a: &[f32], x: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    let blocks = n / 8;
    if k == 0 || m == 0 || blocks == 0 || a.len() < k * m || x.len() < k * n || c.len() < m * n {
        return reference::gemm_tn_acc(a, x, c, m, n, k);
    }
    for (i, ci) in c.chunks_exact_mut(n).take(m).enumerate() {
        let ai = a.get(i..).unwrap_or_default();
        row_blocks(ai, m, x, n, k, ci, blocks, true);
        for (j, cj) in ci.iter_mut().enumerate().skip(8 * blocks) {
            let mut s = 0.0;
            for p in 0..k {
                s += a.get(p * m + i).copied().unwrap_or(0.0)
                    * x.get(p * n + j).copied().unwrap_or(0.0);
            }
            *cj += s;
        }
    }
}
