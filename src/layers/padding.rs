//! How a convolution or pooling window meets the border: TensorFlow Lite's `SAME` and
//! `VALID` padding. See [`Padding`] for the rules.

/// Where windows may go: [`Same`] or [`Valid`], a type parameter of the convolution and
/// pooling layers.
///
/// Along one dimension of `n` inputs, a window of `k` taps moved by `stride`:
///
/// | padding | outputs | padding before |
/// | --- | --- | --- |
/// | [`Valid`] | `(n − k)/stride + 1` (every window inside the input; needs `k ≤ n`) | 0 |
/// | [`Same`] | `⌈n/stride⌉` | `max((out − 1)·stride + k − n, 0) / 2` |
///
/// The padding after is the rest of `max((out − 1)·stride + k − n, 0)`, so an odd total pads
/// one more after than before, as TensorFlow Lite does. Output `o` reads the inputs
/// `o·stride − before + t` for the taps `t` in `0..k`; those outside the input are the
/// padding. The formula of the padding before gives 0 for [`Valid`] too, so one expression
/// serves both.
pub trait Padding {
    /// Whether the input is padded so that every position gets an output (`SAME`), or
    /// windows stay inside the input (`VALID`).
    const SAME: bool;
}

/// TensorFlow Lite's `SAME` padding: `⌈n/stride⌉` outputs, the input padded evenly
/// (one more after than before when the total is odd).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Same;

/// TensorFlow Lite's `VALID` padding: no padding, `(n − k)/stride + 1` outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Valid;

impl Padding for Same {
    const SAME: bool = true;
}

impl Padding for Valid {
    const SAME: bool = false;
}

/// The number of outputs along a dimension of `n` inputs for a window of `k` taps moved by
/// `stride` (see [`Padding`]); 0 for a `stride` of 0 or a [`Valid`] window
/// longer than the input.
pub(crate) const fn output_size(n: usize, k: usize, stride: usize, same: bool) -> usize {
    if stride == 0 {
        return 0;
    }
    if same {
        n.div_ceil(stride)
    } else if k > n {
        0
    } else {
        (n - k) / stride + 1
    }
}

/// The padding before the first input along a dimension of `n` inputs for a window of `k`
/// taps moved by `stride` (see [`Padding`]).
pub(crate) const fn pad_before(n: usize, k: usize, stride: usize, same: bool) -> usize {
    let out = output_size(n, k, stride, same);
    if out == 0 {
        return 0;
    }
    ((out - 1) * stride + k).saturating_sub(n) / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensorflow_lite_sizes() {
        // VALID: 28 → 26 with 3 taps; 49 with 10 taps and stride 2 → 20.
        assert_eq!(output_size(28, 3, 1, false), 26);
        assert_eq!(output_size(49, 10, 2, false), 20);
        assert_eq!(pad_before(49, 10, 2, false), 0);
        // SAME: 49 → 25 with stride 2; total padding (24·2 + 10 − 49) = 9: 4 before, 5 after.
        assert_eq!(output_size(49, 10, 2, true), 25);
        assert_eq!(pad_before(49, 10, 2, true), 4);
        // 10 → 5 with 4 taps and stride 2: total (4·2 + 4 − 10) = 2, 1 before.
        assert_eq!(output_size(10, 4, 2, true), 5);
        assert_eq!(pad_before(10, 4, 2, true), 1);
        // A 1×1 window never pads; a stride larger than the window neither, here.
        assert_eq!(pad_before(7, 1, 2, true), 0);
        assert_eq!(output_size(7, 1, 2, true), 4);
        // Degenerate cases give 0 rather than overflowing.
        assert_eq!(output_size(3, 5, 1, false), 0);
        assert_eq!(output_size(3, 1, 0, true), 0);
    }
}
