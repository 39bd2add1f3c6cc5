//! f32 kernels at firmnet's layer shapes, each beside our scalar reference and
//! `matrixmultiply::sgemm` in one criterion group, so one run gives the ratios.
//!
//! A shape `(M, K, N)` is a dense layer with `K` inputs and `N` outputs at batch `M`:
//!
//! | group | computes | ours | `sgemm` as |
//! | --- | --- | --- | --- |
//! | `gemv` (M = 1) | `y = W·x + b` | `gemv` | `1×K · (K×N)` with `Wᵀ` by strides |
//! | `gemm_nt` | forward `C = A·Wᵀ + bias` | `gemm_nt` | `M×K · (K×N)` with `Wᵀ` by strides |
//! | `gemm_nn` | input gradient `dX = dY·W` | `gemm_nn` | `M×N · N×K` |
//! | `gemm_tn_acc` | weight gradient `dW += dYᵀ·X` | `gemm_tn_acc` | `(N×M) · M×K`, `dYᵀ` by strides, β = 1 |
//!
//! Every group counts `2·M·K·N` FLOP per iteration, so criterion prints FLOP/s ("elem/s").
//! `sgemm` is given β = 0 and no bias in the forward groups (our kernels also add the bias).
//! Every buffer starts 64-byte aligned; set `FIRMNET_BENCH_MISALIGN=4` (floats) to measure
//! 16-byte-aligned data instead.
//!
//! `cargo bench --bench kernels` (filter e.g. `-- gemm_nt/64x784x256`).

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use firmnet::kernels::{reference, simd};

/// Batch-1 shape (matrix–vector).
const GEMV_SHAPE: (usize, usize, usize) = (1, 784, 256);
/// Batch shapes `(M, K, N)` of an MNIST-sized network at batch 64.
const BATCH_SHAPES: [(usize, usize, usize); 3] = [(64, 784, 256), (64, 256, 128), (64, 128, 10)];

/// A buffer whose first element is 64-byte aligned, plus `FIRMNET_BENCH_MISALIGN` floats
/// (default 0). Unaligned vector loads that cross cache lines cost extra, so without this
/// the figures would depend on where the allocator happens to place each buffer.
struct Buf {
    v: Vec<f32>,
    start: usize,
    len: usize,
}

impl Buf {
    /// Deterministic values in [-1, 1) (a 32-bit LCG, no `rand` dependency).
    fn data(len: usize, seed: u32) -> Buf {
        let misalign: usize = std::env::var("FIRMNET_BENCH_MISALIGN")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let v: Vec<f32> = (0..len + 32)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (s >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect();
        let start = (16 - (v.as_ptr() as usize / 4) % 16) % 16 + misalign % 16;
        Buf { v, start, len }
    }
    fn zeros(len: usize) -> Buf {
        let mut b = Buf::data(len, 0);
        b.fill(0.0);
        b
    }
}

impl std::ops::Deref for Buf {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.v[self.start..self.start + self.len]
    }
}

impl std::ops::DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.v[self.start..self.start + self.len]
    }
}

fn data(len: usize, seed: u32) -> Buf {
    Buf::data(len, seed)
}

fn group<'a>(
    c: &'a mut Criterion,
    kernel: &str,
    (m, k, n): (usize, usize, usize),
) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(format!("{kernel}/{m}x{k}x{n}"));
    g.throughput(Throughput::Elements((2 * m * k * n) as u64));
    g
}

/// `C = α·A·B + β·C` through `matrixmultiply::sgemm` with explicit strides.
#[allow(clippy::too_many_arguments)]
fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    beta: f32,
    c: &mut [f32],
) {
    assert!(a.len() > (m - 1) * rsa + (k - 1) * csa);
    assert!(b.len() > (k - 1) * rsb + (n - 1) * csb);
    assert_eq!(c.len(), m * n);
    // SAFETY: the asserts above keep every index of A, B and C (row-major, n columns) in bounds.
    #[allow(unsafe_code)]
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

fn bench_dot_axpy(c: &mut Criterion) {
    let n = 784;
    let x = data(n, 1);
    let y0 = data(n, 2);
    let mut g = c.benchmark_group(format!("dot/{n}"));
    g.throughput(Throughput::Elements(2 * n as u64));
    g.bench_function("simd", |b| {
        b.iter(|| simd::dot(black_box(&x), black_box(&y0)))
    });
    g.bench_function("reference", |b| {
        b.iter(|| reference::dot(black_box(&x), black_box(&y0)))
    });
    g.finish();

    let mut y = data(n, 2);
    let mut g = c.benchmark_group(format!("axpy/{n}"));
    g.throughput(Throughput::Elements(2 * n as u64));
    g.bench_function("simd", |b| {
        b.iter(|| simd::axpy(black_box(1e-3), black_box(&x), &mut y))
    });
    g.bench_function("reference", |b| {
        b.iter(|| reference::axpy(black_box(1e-3), black_box(&x), &mut y))
    });
    g.finish();
}

fn bench_gemv(c: &mut Criterion) {
    let (m, k, n) = GEMV_SHAPE;
    let w = data(n * k, 1);
    let x = data(k, 2);
    let bias = data(n, 3);
    let mut y = Buf::zeros(n);
    let mut g = group(c, "gemv", (m, k, n));
    g.bench_function("simd", |b| {
        b.iter(|| simd::gemv(black_box(&w), black_box(&x), &bias, &mut y))
    });
    g.bench_function("reference", |b| {
        b.iter(|| reference::gemv(black_box(&w), black_box(&x), &bias, &mut y))
    });
    g.bench_function("matrixmultiply", |b| {
        b.iter(|| {
            sgemm(
                1,
                k,
                n,
                black_box(&x),
                (k, 1),
                black_box(&w),
                (1, k),
                0.0,
                &mut y,
            )
        })
    });
    g.finish();
}

fn bench_gemm_nt(c: &mut Criterion) {
    for (m, k, n) in BATCH_SHAPES {
        let a = data(m * k, 1);
        let w = data(n * k, 2);
        let bias = data(n, 3);
        let mut out = Buf::zeros(m * n);
        let mut g = group(c, "gemm_nt", (m, k, n));
        g.bench_function("simd", |b| {
            b.iter(|| simd::gemm_nt(black_box(&a), black_box(&w), &bias, &mut out, m, n, k))
        });
        g.bench_function("reference", |b| {
            b.iter(|| reference::gemm_nt(black_box(&a), black_box(&w), &bias, &mut out, m, n, k))
        });
        g.bench_function("matrixmultiply", |b| {
            b.iter(|| {
                sgemm(
                    m,
                    k,
                    n,
                    black_box(&a),
                    (k, 1),
                    black_box(&w),
                    (1, k),
                    0.0,
                    &mut out,
                )
            })
        });
        g.finish();
    }
}

fn bench_gemm_nn(c: &mut Criterion) {
    for (m, k, n) in BATCH_SHAPES {
        // dX (m×k) = dY (m×n) · W (n×k)
        let dy = data(m * n, 1);
        let w = data(n * k, 2);
        let mut dx = Buf::zeros(m * k);
        let mut g = group(c, "gemm_nn", (m, k, n));
        g.bench_function("simd", |b| {
            b.iter(|| simd::gemm_nn(black_box(&dy), black_box(&w), &mut dx, m, k, n))
        });
        g.bench_function("reference", |b| {
            b.iter(|| reference::gemm_nn(black_box(&dy), black_box(&w), &mut dx, m, k, n))
        });
        g.bench_function("matrixmultiply", |b| {
            b.iter(|| {
                sgemm(
                    m,
                    n,
                    k,
                    black_box(&dy),
                    (n, 1),
                    black_box(&w),
                    (k, 1),
                    0.0,
                    &mut dx,
                )
            })
        });
        g.finish();
    }
}

fn bench_gemm_tn_acc(c: &mut Criterion) {
    for (m, k, n) in BATCH_SHAPES {
        // dW (n×k) += dYᵀ (n×m) · X (m×k), dY stored m×n
        let dy = data(m * n, 1);
        let x = data(m * k, 2);
        let mut dw = Buf::zeros(n * k);
        let mut g = group(c, "gemm_tn_acc", (m, k, n));
        g.bench_function("simd", |b| {
            b.iter(|| simd::gemm_tn_acc(black_box(&dy), black_box(&x), &mut dw, n, k, m))
        });
        g.bench_function("reference", |b| {
            b.iter(|| reference::gemm_tn_acc(black_box(&dy), black_box(&x), &mut dw, n, k, m))
        });
        g.bench_function("matrixmultiply", |b| {
            b.iter(|| {
                sgemm(
                    n,
                    m,
                    k,
                    black_box(&dy),
                    (1, n),
                    black_box(&x),
                    (k, 1),
                    1.0,
                    &mut dw,
                )
            })
        });
        g.finish();
    }
}

criterion_group!(
    benches,
    bench_gemv,
    bench_gemm_nt,
    bench_gemm_nn,
    bench_gemm_tn_acc,
    bench_dot_axpy
);
criterion_main!(benches);
