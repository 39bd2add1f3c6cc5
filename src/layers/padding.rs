//! The size arithmetic of windowed layers (pooling, convolution) under TensorFlow Lite's
//! two padding rules, [`Padding`]: [`Same`] and [`Valid`] (defined with the convolution).
//!
//! The output size cannot be computed from const generics on stable Rust, so windowed
//! layers take it as a parameter of their own and check it with a `const` assertion when
//! they are used ([`window_checks`]): a wrong size does not compile.

#[cfg(doc)]
use super::conv::{Padding, Same, Valid};

pub(crate) use crate::kernels::conv::{output_len as out_size, pad_before};

/// The input positions `start..end` that the window of output position `o` covers in a
/// dimension of `n` inputs (windows of `k`, step `stride`, `pad` before).
#[inline]
pub(crate) const fn window(
    o: usize,
    n: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> (usize, usize) {
    let first = o * stride;
    let end = (first + k).saturating_sub(pad);
    (first.saturating_sub(pad), if end < n { end } else { n })
}

/// `const` assertions on the geometry of a windowed layer named `$layer` (a string
/// literal): stride and window at least 1, the stated output sizes the padding's, the
/// window inside the input with [`Valid`] padding.
macro_rules! window_checks {
    ($layer:literal, $h:expr, $w:expr, $kh:expr, $kw:expr, $oh:expr, $ow:expr, $stride:expr, $same:expr) => {{
        use $crate::layers::padding::out_size;
        assert!($stride >= 1, concat!($layer, ": STRIDE must be at least 1"));
        assert!(
            $kh >= 1 && $kw >= 1,
            concat!($layer, ": the window (KH × KW) must be at least 1 × 1")
        );
        assert!(
            $same || ($kh <= $h && $kw <= $w),
            concat!(
                $layer,
                ": with Valid padding the window (KH × KW) must fit in the input (H × W)"
            )
        );
        assert!(
            $oh == out_size($h, $kh, $stride, $same),
            concat!(
                $layer,
                ": OH must be the output height: (H − KH)/STRIDE + 1 with Valid padding, ceil(H/STRIDE) with Same"
            )
        );
        assert!(
            $ow == out_size($w, $kw, $stride, $same),
            concat!(
                $layer,
                ": OW must be the output width: (W − KW)/STRIDE + 1 with Valid padding, ceil(W/STRIDE) with Same"
            )
        );
    }};
}
pub(crate) use window_checks;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensorflow_lite_sizes_and_padding() {
        // Valid: (7 − 2)/2 + 1 = 3, no padding.
        assert_eq!(out_size(7, 2, 2, false), 3);
        assert_eq!(pad_before(7, 2, 2, false), 0);
        // Same: ceil(7/2) = 4; total padding 3·2 + 2 − 7 = 1, none before, 1 after.
        assert_eq!(out_size(7, 2, 2, true), 4);
        assert_eq!(pad_before(7, 2, 2, true), 0);
        // Same, 3×3 stride 1: one on each side.
        assert_eq!(out_size(5, 3, 1, true), 5);
        assert_eq!(pad_before(5, 3, 1, true), 1);
        // Same, 3 wide, stride 2 on 6: ceil(6/2) = 3; total 2·2 + 3 − 6 = 1, none before.
        assert_eq!(out_size(6, 3, 2, true), 3);
        assert_eq!(pad_before(6, 3, 2, true), 0);
        // Same, stride 2 on 5: 3; total 2·2 + 3 − 5 = 2, one before.
        assert_eq!(pad_before(5, 3, 2, true), 1);
        // A stride larger than the window pads nothing.
        assert_eq!(pad_before(8, 1, 3, true), 0);
        // Degenerate cases give 0 rather than overflow.
        assert_eq!(out_size(3, 4, 1, false), 0);
        assert_eq!(out_size(3, 1, 0, true), 0);
    }

    #[test]
    fn every_same_window_holds_an_input() {
        for n in 1..12 {
            for k in 1..6 {
                for stride in 1..4 {
                    let out = out_size(n, k, stride, true);
                    let pad = pad_before(n, k, stride, true);
                    for o in 0..out {
                        let (start, end) = window(o, n, k, stride, pad);
                        assert!(start < end && end <= n, "{n} {k} {stride} {o}");
                        assert!(end - start <= k);
                    }
                }
            }
        }
    }
}
