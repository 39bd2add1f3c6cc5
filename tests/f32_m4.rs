//! The checksums the Cortex-M4's f32 instruction-count firmware checks
//! (`targets/qemu-cortex-m4/src/bin/count_f32.rs`): [`f32_kernels::EXPECTED`] must be the
//! reference kernels' bits, which the M4's four-row path (`firmnet::kernels`, on
//! `thumbv7em-none-eabihf`) has to reproduce exactly.

use firmnet::kernels::{Backend, set_backend};
use firmnet_demo::f32_kernels::{self as f32k, Workspace};

/// The checksums of the instruction-count products, computed with the reference kernels,
/// are the ones the firmware checks, and every output is a spread of distinct values (so a
/// checksum sees a changed bit).
#[test]
fn expected_checksums_are_the_references() {
    set_backend(Backend::Reference);
    let mut ws = Box::new(Workspace::ZERO);
    f32k::fill(&mut ws);
    let mut sums = [0u32; f32k::NAMES.len()];
    for (i, s) in sums.iter_mut().enumerate() {
        f32k::run(&mut ws, i);
        let y = f32k::output(&ws, i);
        *s = f32k::checksum(y);
        let mut v: Vec<u32> = y.iter().map(|x| x.to_bits()).collect();
        v.sort_unstable();
        v.dedup();
        assert!(
            v.len() * 10 >= y.len() * 9,
            "{}: few distinct outputs",
            f32k::NAMES[i]
        );
    }
    assert_eq!(sums, f32k::EXPECTED, "checksums: {sums:#010x?}");
}
