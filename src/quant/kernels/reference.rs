//! The scalar reference of the int8 dense kernel: the definition every other path matches
//! bit for bit.

use super::Requant;

/// One output at a time: `acc = bias[o] + Σᵢ w[o][i]·x[i]` (wrapping, which never happens
/// within [`MAX_INPUTS`](super::MAX_INPUTS)), then [`Requant::output`].
pub fn dense<const IN: usize, const OUT: usize>(
    w: &[[i8; IN]; OUT],
    x: &[i8; IN],
    rq: &Requant<'_, OUT>,
    y: &mut [i8; OUT],
) {
    for (o, (row, yo)) in w.iter().zip(y.iter_mut()).enumerate() {
        *yo = rq.output(o, dot(row, x, rq.bias[o]));
    }
}

/// `acc + Σ a[i]·b[i]` in `i32`, wrapping.
#[inline]
pub fn dot(a: &[i8], b: &[i8], acc: i32) -> i32 {
    a.iter().zip(b).fold(acc, |s, (&a, &b)| {
        s.wrapping_add(i32::from(a) * i32::from(b))
    })
}
