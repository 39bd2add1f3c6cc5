//! The int8 dense kernel on 8 `i32` lanes, at the instruction set
//! [`simd_level`](crate::kernels::simd_level) selects (AVX2 on x86-64 CPUs that have it,
//! whatever the build's target features): inputs and weights widened to `i16`, multiplied
//! and added in pairs into `i32` lanes (`vpmaddwd`), four weight rows per widened input
//! vector.

use super::Requant;
use super::reference::dot;
use crate::kernels::simd::Simd;
use crate::kernels::vector::{I16x16, I32x8, Isa, Kernel};

/// The kernel at the level of `simd`.
#[inline]
pub(super) fn dense<const IN: usize, const OUT: usize>(
    simd: Simd,
    w: &[[i8; IN]; OUT],
    x: &[i8; IN],
    rq: &Requant<'_>,
    y: &mut [i8; OUT],
) {
    struct Dense<'a, const IN: usize, const OUT: usize> {
        w: &'a [[i8; IN]; OUT],
        x: &'a [i8; IN],
        rq: &'a Requant<'a>,
        y: &'a mut [i8; OUT],
    }
    impl<const IN: usize, const OUT: usize> Kernel for Dense<'_, IN, OUT> {
        type Output = ();
        #[inline(always)]
        fn run<I: Isa>(self, isa: I) {
            dense_body(isa, self.w, self.x, self.rq, self.y);
        }
    }
    simd.run(Dense { w, x, rq, y });
}

#[inline(always)]
fn dense_body<I: Isa, const IN: usize, const OUT: usize>(
    isa: I,
    w: &[[i8; IN]; OUT],
    x: &[i8; IN],
    rq: &Requant<'_>,
    y: &mut [i8; OUT],
) {
    let (xs, x_tail) = x.as_chunks::<16>();
    let body = IN - x_tail.len();
    let mut o = 0;
    while o + 4 <= OUT {
        let rows = [&w[o], &w[o + 1], &w[o + 2], &w[o + 3]];
        let [r0, r1, r2, r3] = rows.map(|r| r.as_chunks::<16>().0);
        // Four named accumulators: in an array, they were stored back to memory every step.
        let [mut a0, mut a1, mut a2, mut a3] = [isa.zero_i32(); 4];
        for (q, xc) in xs.iter().enumerate() {
            let xv = isa.widen(xc);
            a0 = a0 + xv.dot(isa.widen(&r0[q]));
            a1 = a1 + xv.dot(isa.widen(&r1[q]));
            a2 = a2 + xv.dot(isa.widen(&r2[q]));
            a3 = a3 + xv.dot(isa.widen(&r3[q]));
        }
        for (r, (a, row)) in [a0, a1, a2, a3].into_iter().zip(rows).enumerate() {
            let bias = rq.bias.get(o + r).copied().unwrap_or(0);
            let sum = a.reduce_add().wrapping_add(bias);
            y[o + r] = rq.output(o + r, dot(&row[body..], x_tail, sum));
        }
        o += 4;
    }
    while o < OUT {
        let row = &w[o];
        let mut acc = isa.zero_i32();
        for (xc, wc) in xs.iter().zip(row.as_chunks::<16>().0) {
            acc = acc + isa.widen(xc).dot(isa.widen(wc));
        }
        let sum = acc
            .reduce_add()
            .wrapping_add(rq.bias.get(o).copied().unwrap_or(0));
        y[o] = rq.output(o, dot(&row[body..], x_tail, sum));
        o += 1;
    }
}

/// The kernel for a matrix given as a flat slice, `y.len()` rows of `x.len()` weights
/// (the matrix of a convolution, whose row length is not a const generic), at the level
/// of `simd`. The same blocking as [`dense`]: four rows per widened input vector.
#[inline]
pub(super) fn dense_flat(simd: Simd, w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8]) {
    struct Flat<'a> {
        w: &'a [i8],
        x: &'a [i8],
        rq: &'a Requant<'a>,
        y: &'a mut [i8],
    }
    impl Kernel for Flat<'_> {
        type Output = ();
        #[inline(always)]
        fn run<I: Isa>(self, isa: I) {
            dense_flat_body(isa, self.w, self.x, self.rq, self.y);
        }
    }
    simd.run(Flat { w, x, rq, y });
}

/// The first `n` weights of `row` (a multiple of 16) as 16-byte chunks.
#[inline(always)]
fn row_chunks(row: &[i8], n: usize) -> &[[i8; 16]] {
    row.get(..n).unwrap_or_default().as_chunks::<16>().0
}

#[inline(always)]
fn dense_flat_body<I: Isa>(isa: I, w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8]) {
    let n = x.len();
    if n == 0 {
        super::reference::dense(w, x, rq, y);
        return;
    }
    let (xs, x_tail) = x.as_chunks::<16>();
    let body = n - x_tail.len();
    // Blocks of four rows, then the rows left over; as far as `y` and `w` both reach.
    let rows = y.len().min(w.len() / n);
    let blocks = rows / 4;
    for (b, (ys, block)) in y
        .chunks_exact_mut(4)
        .zip(w.chunks_exact(4 * n))
        .take(blocks)
        .enumerate()
    {
        let mut it = block.chunks_exact(n);
        let (Some(w0), Some(w1), Some(w2), Some(w3)) = (it.next(), it.next(), it.next(), it.next())
        else {
            return;
        };
        let [mut a0, mut a1, mut a2, mut a3] = [isa.zero_i32(); 4];
        let chunks = xs
            .iter()
            .zip(row_chunks(w0, body))
            .zip(row_chunks(w1, body))
            .zip(row_chunks(w2, body))
            .zip(row_chunks(w3, body));
        for ((((xc, c0), c1), c2), c3) in chunks {
            let xv = isa.widen(xc);
            a0 = a0 + xv.dot(isa.widen(c0));
            a1 = a1 + xv.dot(isa.widen(c1));
            a2 = a2 + xv.dot(isa.widen(c2));
            a3 = a3 + xv.dot(isa.widen(c3));
        }
        let o = 4 * b;
        for (r, ((a, row), out)) in [a0, a1, a2, a3]
            .into_iter()
            .zip([w0, w1, w2, w3])
            .zip(ys.iter_mut())
            .enumerate()
        {
            let bias = rq.bias.get(o + r).copied().unwrap_or(0);
            let sum = a.reduce_add().wrapping_add(bias);
            *out = rq.output(o + r, dot(row.get(body..).unwrap_or_default(), x_tail, sum));
        }
    }
    let done = 4 * blocks;
    let rest = y.iter_mut().zip(w.chunks_exact(n)).take(rows).skip(done);
    for (o, (out, row)) in rest.enumerate().map(|(k, r)| (done + k, r)) {
        let mut acc = isa.zero_i32();
        for (xc, wc) in xs.iter().zip(row_chunks(row, body)) {
            acc = acc + isa.widen(xc).dot(isa.widen(wc));
        }
        let sum = acc
            .reduce_add()
            .wrapping_add(rq.bias.get(o).copied().unwrap_or(0));
        *out = rq.output(o, dot(row.get(body..).unwrap_or_default(), x_tail, sum));
    }
}
