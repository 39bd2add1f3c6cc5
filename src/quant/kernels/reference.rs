//! The scalar reference of the int8 dense kernel: the definition every other path matches
//! bit for bit.

use super::Requant;

/// One output at a time: `acc = bias[o] + Σᵢ w[o·n + i]·x[i]` (wrapping, which never
/// happens within [`MAX_INPUTS`](super::MAX_INPUTS)), then [`Requant::apply`], for the
/// row-major `outputs × n` matrix `w` with `n = x.len()`. One body for every layer size
/// (no copy per shape in flash); it cannot panic, and computes as far as the slices agree.
#[inline(never)]
pub fn dense(w: &[i8], x: &[i8], rq: &Requant<'_>, y: &mut [i8]) {
    let n = x.len();
    for (o, (yo, &b)) in y.iter_mut().zip(rq.bias).enumerate() {
        let row = w.get(o * n..(o + 1) * n).unwrap_or_default();
        *yo = rq.output(o, dot(row, x, b));
    }
}

/// `acc + Σ a[i]·b[i]` in `i32`, wrapping.
#[inline]
pub fn dot(a: &[i8], b: &[i8], acc: i32) -> i32 {
    a.iter().zip(b).fold(acc, |s, (&a, &b)| {
        s.wrapping_add(i32::from(a) * i32::from(b))
    })
}
