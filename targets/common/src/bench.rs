//! Markers for counting executed instructions: the QEMU plugin
//! `targets/qemu-cortex-m4/tools/insnwin.c`, given the addresses of [`bench_start`] and
//! [`bench_end`], counts the instructions of every window between a call of the one and a
//! call of the other. Call an empty window first: its count is the markers' own cost, to be
//! subtracted from every other window.

use core::hint::black_box;
use core::sync::atomic::{AtomicU32, Ordering};

static MARK: AtomicU32 = AtomicU32::new(0);

/// Opens a counting window.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn bench_start() {
    MARK.store(1, Ordering::SeqCst);
    black_box(&MARK);
}

/// Closes a counting window.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn bench_end() {
    MARK.store(2, Ordering::SeqCst);
    black_box(&MARK);
}
