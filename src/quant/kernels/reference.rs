//! The scalar reference of the int8 dense kernel: the definition every other path matches
//! bit for bit.

use super::Requant;

/// One output at a time: `acc = bias[o] + Σᵢ w[o·n + i]·x[i]` (wrapping, which never
/// happens within [`MAX_INPUTS`](super::MAX_INPUTS)), then [`Requant::apply`], for the
/// row-major `outputs × n` matrix `w` with `n = x.len()`. One body for every layer size
/// (no copy per shape in flash); it cannot panic, and computes as far as the slices agree.
#[inline(never)]
pub fn dense(w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8]) {
    let channels = y.iter_mut().zip(rq.bias).zip(rq.multiplier).zip(rq.shift);
    if x.is_empty() {
        for (((yo, &b), &m), &s) in channels {
            *yo = rq.apply(b, m, s);
        }
        return;
    }
    for ((((yo, &b), &m), &s), row) in channels.zip(w.chunks_exact(x.len())) {
        *yo = rq.apply(dot(row, x, b), m, s);
    }
}

/// `acc + Σ a[i]·b[i]` in `i32`, wrapping.
#[inline]
pub fn dot(a: &[i8], b: &[i8], acc: i32) -> i32 {
    a.iter().zip(b).fold(acc, |s, (&a, &b)| {
        s.wrapping_add(i32::from(a) * i32::from(b))
    })
}
