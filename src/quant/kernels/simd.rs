//! The int8 dense kernel with `wide` (AVX2 on x86-64 with `-C target-cpu=native`): inputs
//! and weights widened to `i16`, multiplied and added in pairs into `i32` lanes
//! (`vpmaddwd`), four weight rows per widened input vector.

use wide::{i8x16, i16x16, i32x8};

use super::Requant;
use super::reference::dot;

/// Sixteen bytes at `at` widened to `i16`.
#[inline(always)]
fn widen(s: &[i8], at: usize) -> i16x16 {
    let bytes: [i8; 16] = s[at..at + 16].try_into().expect("16 bytes");
    i16x16::from_i8x16(i8x16::new(bytes))
}

pub(super) fn dense<const IN: usize, const OUT: usize>(
    w: &[[i8; IN]; OUT],
    x: &[i8; IN],
    rq: &Requant<'_>,
    y: &mut [i8; OUT],
) {
    let body = IN / 16 * 16;
    let mut o = 0;
    while o + 4 <= OUT {
        let rows = [&w[o], &w[o + 1], &w[o + 2], &w[o + 3]];
        let mut acc = [i32x8::ZERO; 4];
        let mut i = 0;
        while i < body {
            let xv = widen(x, i);
            for (a, row) in acc.iter_mut().zip(rows) {
                *a += xv.dot(widen(row, i));
            }
            i += 16;
        }
        for (r, (a, row)) in acc.iter().zip(rows).enumerate() {
            let sum = a.reduce_add();
            let bias = rq.bias.get(o + r).copied().unwrap_or(0);
            y[o + r] = rq.output(o + r, dot(&row[body..], &x[body..], sum.wrapping_add(bias)));
        }
        o += 4;
    }
    while o < OUT {
        let row = &w[o];
        let mut acc = i32x8::ZERO;
        let mut i = 0;
        while i < body {
            acc += widen(x, i).dot(widen(row, i));
            i += 16;
        }
        let sum = acc
            .reduce_add()
            .wrapping_add(rq.bias.get(o).copied().unwrap_or(0));
        y[o] = rq.output(o, dot(&row[body..], &x[body..], sum));
        o += 1;
    }
}
