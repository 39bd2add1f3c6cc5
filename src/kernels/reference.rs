//! Scalar reference kernels.
//!
//! Written for clarity: one loop nest per operation, summing left to right in the order a
//! reader would. Every fast path is tested against these functions, and cores without float
//! SIMD run them. They assume the caller has checked the slice lengths (see [`super`]).
//!
//! No operation is fused: each product is rounded, then added (Rust never contracts
//! `a*b + c` into a fused multiply-add), so every target computes the same bits.

/// `Σ a[i]·b[i]`, summed left to right.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        s += x * y;
    }
    s
}

/// `y += alpha·x`.
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `y = W·x + b`, `W` row-major with `x.len()` columns.
pub fn gemv(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let k = x.len();
    for (o, yo) in y.iter_mut().enumerate() {
        *yo = b[o] + dot(&w[o * k..(o + 1) * k], x);
    }
}

/// `C = A·Wᵀ + bias`: `A` is `m×k`, `W` is `n×k`, `C` is `m×n`.
pub fn gemm_nt(a: &[f32], w: &[f32], bias: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    for i in 0..m {
        gemv(w, &a[i * k..(i + 1) * k], bias, &mut c[i * n..(i + 1) * n]);
    }
}

/// `C = A·W`: `A` is `m×k`, `W` is `k×n`, `C` is `m×n`.
pub fn gemm_nn(a: &[f32], w: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            for p in 0..k {
                s += a[i * k + p] * w[p * n + j];
            }
            c[i * n + j] = s;
        }
    }
}

/// `C += Aᵀ·X`: `A` is stored `k×m`, `X` is `k×n`, `C` is `m×n`.
pub fn gemm_tn_acc(a: &[f32], x: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0;
            for p in 0..k {
                s += a[p * m + i] * x[p * n + j];
            }
            c[i * n + j] += s;
        }
    }
}
