//! Single-core f32 FMA peak: the physical limit every kernel figure is quoted against (the
//! chains are in `benches/common/peak.rs`, which the other benchmarks share to measure the
//! peak in their own runs). Times are the thread's CPU time (`benches/common/cpu_time.rs`).
//!
//! `cargo bench --bench fma_peak`

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "common/cpu_time.rs"]
mod cpu_time;
#[path = "common/peak.rs"]
mod peak;

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(cpu_time::ThreadCpuTime);
    targets = peak::bench
}
criterion_main!(benches);
