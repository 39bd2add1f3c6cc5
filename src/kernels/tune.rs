//! Blocking and tile sizes of the SIMD kernels, in one place.
//!
//! A micro-tile keeps its accumulators in vector registers for the whole loop over `k`, so
//! the tile sizes follow the register file:
//!
//! - **32 vector registers** (x86 with AVX-512VL, whose EVEX encoding gives 256-bit
//!   operations 32 registers, e.g. AMD Zen 4 or Intel Xeon with `-C target-cpu=native`):
//!   4 × 4 tiles, 16 accumulators.
//! - **16 vector registers** (x86 with AVX2 only, or SSE; AArch64, where the 32 NEON
//!   registers hold 16 `f32x8`): 12 accumulators, shaped so that accumulators, the loaded
//!   operands and one broadcast fit without spilling.
//!
//! Both need at least 8 independent FMA chains (two FMA units × 4 cycles of latency on
//! current x86 cores). The cache blocks assume a 32 KiB L1 and ≥ 512 KiB L2 data cache.
//! BENCHMARKS.md records what the sizes give; `benches/kernels.rs` measures them.

/// f32 lanes in one SIMD vector.
pub(crate) const LANES: usize = 8;

/// `dot`: independent vector accumulators. `dot` loads two vectors per FMA, so loads bound
/// it, not FMAs; 4 chains cover the FMA latency at the one FMA per cycle loads allow.
pub(crate) const DOT_ACC: usize = 4;

/// `gemv`: weight rows processed together, sharing each load of `x`.
pub(crate) const GEMV_ROWS: usize = 4;
/// `gemv`: independent accumulators per row (the loop over `k` is unrolled by `GEMV_ACC`
/// vectors), so `GEMV_ROWS × GEMV_ACC` = 8 chains are in flight. `gemv` streams its weights
/// from L2 once per call, so it is bound by cache bandwidth; more chains do not help.
pub(crate) const GEMV_ACC: usize = 2;

/// `gemm_nt` micro-tile: rows of `A` (samples) per tile.
pub(crate) const NT_MR: usize = 4;
/// `gemm_nt` micro-tile: rows of `W` (neurons) per tile, with `NT_MR × NT_NR` accumulators in
/// dot-product form; each step loads `NT_MR + NT_NR` vectors for `NT_MR × NT_NR` FMAs.
/// With 32 registers: 4 × 4 (8 loads per 16 FMAs).
#[cfg(all(
    any(target_arch = "x86_64", target_arch = "x86"),
    target_feature = "avx512vl"
))]
pub(crate) const NT_NR: usize = 4;
/// `gemm_nt` micro-tile: rows of `W` (neurons) per tile, with `NT_MR × NT_NR` accumulators in
/// dot-product form; each step loads `NT_MR + NT_NR` vectors for `NT_MR × NT_NR` FMAs.
/// With 16 registers: 4 × 3 (12 accumulators + 3 rows of `W` + 1 row of `A` = 16).
#[cfg(not(all(
    any(target_arch = "x86_64", target_arch = "x86"),
    target_feature = "avx512vl"
)))]
pub(crate) const NT_NR: usize = 3;
/// `gemm_nt`: rows of `W` swept by all row tiles of `A` before the next block, so the block
/// (`NT_NC × k` floats, 200 KiB at k = 784) stays in L2 while `A` comes from L1. A multiple
/// of `NT_NR`, so that only the last block has remainder rows.
pub(crate) const NT_NC: usize = 16 * NT_NR;

/// Broadcast micro-kernel (`gemm_nn`, `gemm_tn_acc`): rows of `C` per tile. Each step
/// broadcasts `BC_MR` scalars of `A`, loads `BC_NV` vectors of `W`, and does
/// `BC_MR × BC_NV` FMAs. With 32 registers: 4 × 4 (32 columns, 16 accumulators).
#[cfg(all(
    any(target_arch = "x86_64", target_arch = "x86"),
    target_feature = "avx512vl"
))]
pub(crate) const BC_MR: usize = 4;
/// Broadcast micro-kernel: vectors of `C` (of 8 columns) per tile row.
#[cfg(all(
    any(target_arch = "x86_64", target_arch = "x86"),
    target_feature = "avx512vl"
))]
pub(crate) const BC_NV: usize = 4;
/// Broadcast micro-kernel (`gemm_nn`, `gemm_tn_acc`): rows of `C` per tile. Each step
/// broadcasts `BC_MR` scalars of `A`, loads `BC_NV` vectors of `W`, and does
/// `BC_MR × BC_NV` FMAs. With 16 registers: 6 × 2 (16 columns, 12 accumulators + 2 vectors
/// of `W` + 1 broadcast = 15; the squarer 4 × 3 spills once the compiler hoists the four
/// broadcasts, and runs at half speed).
#[cfg(not(all(
    any(target_arch = "x86_64", target_arch = "x86"),
    target_feature = "avx512vl"
)))]
pub(crate) const BC_MR: usize = 6;
/// Broadcast micro-kernel: vectors of `C` (of 8 columns) per tile row.
#[cfg(not(all(
    any(target_arch = "x86_64", target_arch = "x86"),
    target_feature = "avx512vl"
)))]
pub(crate) const BC_NV: usize = 2;
/// Broadcast micro-kernel: rows of `W` (the shared dimension `k`) per block, so that the
/// `BC_KC × 8·BC_NV` panel of `W` that a column of tiles reuses stays in L1 (16 KiB).
pub(crate) const BC_KC: usize = 128;
