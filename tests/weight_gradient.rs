//! The weight-gradient product with few columns (`n` below two vectors), which
//! `kernels::gemm_tn_acc` computes transposed, `Cᵀ += Xᵀ·A`: its outputs must be the bits
//! of the direct product. Embedding the same columns in a problem of 16 or more columns
//! (which takes the direct path) gives each output's chain of products unchanged, so the
//! narrow and the wide results must agree bit for bit, column by column.
//!
//! A file of its own: no test here changes the global backend or level, so both calls run
//! at the same one (CI runs the suite at each forced level).

use firmnet::kernels::{self, Backend};

/// Deterministic values in about [−1, 1).
fn data(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect()
}

#[test]
fn few_columns_give_the_bits_of_the_direct_product() {
    assert_eq!(kernels::backend(), Backend::Simd);
    // (m, n, k): the first layer of the main job's CNN (16 filters of 9 weights, batch
    // 64 of 28×28 pixels), odd and tiny shapes, and more than one block of 128 terms.
    for (case, &(m, n, k)) in [
        (16, 9, 50_176),
        (23, 5, 1000),
        (40, 15, 333),
        (9, 1, 129),
        (64, 3, 777),
        (2, 1, 5),
        (17, 16, 300),
    ]
    .iter()
    .enumerate()
    {
        let seed = 10 * case as u64;
        let a = data(k * m, seed + 1);
        let x = data(k * n, seed + 2);
        let c0 = data(m * n, seed + 3);
        let mut narrow = c0.clone();
        kernels::gemm_tn_acc(&a, &x, &mut narrow, m, n, k);

        let extra = 16;
        let wide_n = n + extra;
        let filler = data(k * extra, seed + 4);
        let xw: Vec<f32> = (0..k)
            .flat_map(|p| {
                x[p * n..(p + 1) * n]
                    .iter()
                    .chain(&filler[p * extra..(p + 1) * extra])
                    .copied()
            })
            .collect();
        let mut wide: Vec<f32> = (0..m)
            .flat_map(|i| {
                c0[i * n..(i + 1) * n]
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(0.5, extra))
            })
            .collect();
        kernels::gemm_tn_acc(&a, &xw, &mut wide, m, wide_n, k);

        for i in 0..m {
            for j in 0..n {
                let (got, want) = (narrow[i * n + j], wide[i * wide_n + j]);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "m={m} n={n} k={k}: C[{i}][{j}] = {got}, the direct product gives {want}"
                );
            }
        }
        // And both are the product: close to the reference (within the summation's rounding).
        let mut reference = c0.clone();
        kernels::reference::gemm_tn_acc(&a, &x, &mut reference, m, n, k);
        for (g, r) in narrow.iter().zip(&reference) {
            assert!((g - r).abs() <= 1e-3 * (k as f32).sqrt(), "{g} vs {r}");
        }
    }
}
