//! Data augmentation for images: random shifts (crops with zero padding) and horizontal
//! flips.
//!
//! The lecture's example: "cropping just 2 pixels gets you 9 times the data" — shifting a
//! 28×28 image by up to ±`max_shift` pixels in each direction gives `(2·max_shift + 1)²`
//! variants (25 for ±2), each a plausible image of the same class. The label never changes
//! and the image keeps its size: pixels shifted out are dropped, pixels shifted in are the
//! background value.

use crate::rng::Rng;

/// Random shifts and flips of `rows × cols` images stored row-major.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Augment {
    /// Image rows.
    pub rows: usize,
    /// Image columns.
    pub cols: usize,
    /// Largest shift in pixels, in each direction and on each axis.
    pub max_shift: usize,
    /// Mirror left–right with probability ½ (right for clothes, wrong for digits).
    pub flip: bool,
    /// Value of the pixels shifted in (the background; 0 for raw Fashion-MNIST pixels, the
    /// normalized value of a black pixel after normalization).
    pub fill: f32,
}

impl Augment {
    /// Writes one random variant of `image` into `out` (both `rows × cols`).
    ///
    /// # Panics
    /// If either slice is not `rows × cols` long.
    pub fn apply(&self, image: &[f32], out: &mut [f32], rng: &mut Rng) {
        let span = 2 * self.max_shift as u32 + 1;
        let dy = rng.below(span) as isize - self.max_shift as isize;
        let dx = rng.below(span) as isize - self.max_shift as isize;
        let flip = self.flip && rng.next_u32() & 1 == 1;
        self.shift(image, out, dy, dx, flip);
    }

    /// Writes `image` shifted down by `dy` and right by `dx` pixels (negative: up, left),
    /// mirrored left–right first when `flip`, into `out`.
    ///
    /// # Panics
    /// If either slice is not `rows × cols` long.
    pub fn shift(&self, image: &[f32], out: &mut [f32], dy: isize, dx: isize, flip: bool) {
        let (rows, cols) = (self.rows, self.cols);
        assert_eq!(image.len(), rows * cols, "image is not {rows}×{cols}");
        assert_eq!(out.len(), rows * cols, "output is not {rows}×{cols}");
        for r in 0..rows {
            let src_r = r as isize - dy;
            for c in 0..cols {
                let src_c = c as isize - dx;
                let inside =
                    (0..rows as isize).contains(&src_r) && (0..cols as isize).contains(&src_c);
                out[r * cols + c] = if inside {
                    let sc = if flip {
                        cols - 1 - src_c as usize
                    } else {
                        src_c as usize
                    };
                    image[src_r as usize * cols + sc]
                } else {
                    self.fill
                };
            }
        }
    }
}
