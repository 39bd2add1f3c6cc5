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
