//! Datasets in the MNIST IDX format (Fashion-MNIST, MNIST digits), gzip or raw.
//!
//! [`Dataset::load_mnist_dir`] reads the four files of an MNIST-format directory
//! (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`, `t10k-…`). Every fault
//! is an [`DataError`] naming the file and what was wrong; nothing panics on bad input.
//!
//! The IDX format (LeCun et al.): a big-endian header — two zero bytes, a type byte
//! (`0x08` = unsigned byte), the number of dimensions — then one big-endian `u32` per
//! dimension, then the data. Images are `idx3` (count × rows × columns), labels `idx1`.

use std::prelude::rust_2024::*;
use std::{format, vec};

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::rng::Rng;

/// Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Fashion-MNIST's class names, by label.
pub const FASHION_MNIST_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Everything that can go wrong reading a dataset.
#[derive(Debug)]
#[non_exhaustive]
pub enum DataError {
    /// The dataset directory or one of its files does not exist.
    Missing {
        /// The path looked for.
        path: PathBuf,
    },
    /// Reading failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not an IDX file of the expected kind.
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The magic number expected (`0x00000803` images, `0x00000801` labels).
        expected: u32,
        /// The magic number found.
        found: u32,
    },
    /// The dimensions are not what the dataset needs.
    WrongDimensions {
        /// The file.
        path: PathBuf,
        /// What was expected, in words.
        expected: String,
        /// What the header says.
        found: String,
    },
    /// The file ends before the data its header announces.
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header announces (header included).
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A label is not below the number of classes.
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// Index of the sample.
        index: usize,
        /// The label found.
        label: u8,
        /// Number of classes.
        classes: usize,
    },
    /// A [`Normalizer`] meets rows or a layer of another width than it was fitted on.
    FeatureCount {
        /// Features the normalizer was fitted on.
        fitted: usize,
        /// What was given, with its verb: `"the rows have"`, `"the layer's input has"`.
        what: &'static str,
        /// Its width.
        found: usize,
    },
    /// A feature value to fit a [`Normalizer`] on is NaN or infinite.
    NonFiniteFeature {
        /// The row, from 0.
        row: usize,
        /// The feature (column), from 0.
        feature: usize,
        /// The value.
        value: f32,
    },
    /// A [`Normalizer`] was to be fitted on no rows.
    NothingToFit,
    /// The image and label files hold different numbers of samples.
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Its sample count.
        image_count: usize,
        /// The label file.
        labels: PathBuf,
        /// Its sample count.
        label_count: usize,
    },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Missing { path } => {
                write!(f, "{} not found", path.display())?;
                if path.starts_with(FASHION_MNIST_DIR) {
                    write!(
                        f,
                        ": install Fashion-MNIST with `apt-get install dataset-fashion-mnist`, \
                         or point --data at an MNIST-format directory"
                    )?;
                } else {
                    write!(
                        f,
                        ": --data must name a directory holding train-images-idx3-ubyte, \
                         train-labels-idx1-ubyte, t10k-images-idx3-ubyte and \
                         t10k-labels-idx1-ubyte (each optionally .gz)"
                    )?;
                }
                Ok(())
            }
            DataError::Io { path, source } => write!(f, "reading {}: {source}", path.display()),
            DataError::BadMagic {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: not an IDX file of this kind: magic number {found:#010x}, expected {expected:#010x}",
                path.display()
            ),
            DataError::WrongDimensions {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: dimensions {found}, expected {expected}",
                path.display()
            ),
            DataError::Truncated {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: truncated: the header announces {expected} bytes, the file has {found}",
                path.display()
            ),
            DataError::LabelOutOfRange {
                path,
                index,
                label,
                classes,
            } => write!(
                f,
                "{}: label {label} of sample {index} is out of range (expected 0..{classes})",
                path.display()
            ),
            DataError::FeatureCount {
                fitted,
                what,
                found,
            } => write!(
                f,
                "the normalizer was fitted on {fitted} features; {what} {found}"
            ),
            DataError::NonFiniteFeature {
                row,
                feature,
                value,
            } => write!(
                f,
                "row {row}, feature {feature}: {value} is not finite; the normalizer cannot be \
                 fitted on it"
            ),
            DataError::NothingToFit => write!(f, "no rows to fit the normalizer on"),
            DataError::CountMismatch {
                images,
                image_count,
                labels,
                label_count,
            } => write!(
                f,
                "{} holds {image_count} images but {} holds {label_count} labels",
                images.display(),
                labels.display()
            ),
        }
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Reads a whole file, un-gzipping it when it starts with the gzip magic bytes.
fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_owned(),
        source,
    };
    let raw = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DataError::Missing {
                path: path.to_owned(),
            }
        } else {
            io(e)
        }
    })?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(io)?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Parses an IDX header: checks the magic for `dims` dimensions of unsigned bytes and
/// that the data the header announces is all there. Returns the dimensions and the data.
fn parse_idx<'a>(
    path: &Path,
    bytes: &'a [u8],
    dims: usize,
) -> Result<(Vec<usize>, &'a [u8]), DataError> {
    let header = 4 + 4 * dims;
    if bytes.len() < 4 {
        return Err(DataError::Truncated {
            path: path.to_owned(),
            expected: header as u64,
            found: bytes.len() as u64,
        });
    }
    let expected_magic = 0x0800 | dims as u32;
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic != expected_magic {
        return Err(DataError::BadMagic {
            path: path.to_owned(),
            expected: expected_magic,
            found: magic,
        });
    }
    if bytes.len() < header {
        return Err(DataError::Truncated {
            path: path.to_owned(),
            expected: header as u64,
            found: bytes.len() as u64,
        });
    }
    let shape: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let len = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    let expected = len
        .and_then(|l| l.checked_add(header as u64))
        .unwrap_or(u64::MAX);
    if (bytes.len() as u64) < expected {
        return Err(DataError::Truncated {
            path: path.to_owned(),
            expected,
            found: bytes.len() as u64,
        });
    }
    let data = &bytes[header..expected as usize];
    Ok((shape, data))
}

/// The indices `0..len` in a seeded random order, cut in two: `(rest, held_out)`, with
/// `round(len · fraction)` held out (`fraction` clamped to [0, 1]).
pub(crate) fn split_indices(len: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..len).collect();
    Rng::new(seed).shuffle(&mut order);
    let held = ((len as f64) * fraction.clamp(0.0, 1.0)).round() as usize;
    let rest = order.split_off(held);
    (rest, order)
}

/// A labelled image dataset held as bytes: `pixels` is `len() × dim` row-major, one image
/// per row, exactly as in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Pixels, `dim` per sample.
    pub pixels: Vec<u8>,
    /// One label per sample, each below `classes`.
    pub labels: Vec<u16>,
    /// Scalars per sample (rows × columns).
    pub dim: usize,
    /// Image rows.
    pub rows: usize,
    /// Image columns.
    pub cols: usize,
}

impl Split {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of sample `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * self.dim..(i + 1) * self.dim]
    }

    /// Reads an image file and its label file. Labels must be below `classes`.
    ///
    /// # Errors
    /// Any [`DataError`], naming the file at fault.
    pub fn read(images: &Path, labels: &Path, classes: usize) -> Result<Split, DataError> {
        let image_bytes = read_maybe_gzip(images)?;
        let (shape, pixels) = parse_idx(images, &image_bytes, 3)?;
        let (n, rows, cols) = (shape[0], shape[1], shape[2]);
        if rows == 0 || cols == 0 {
            return Err(DataError::WrongDimensions {
                path: images.to_owned(),
                expected: "images of at least 1×1 pixels".into(),
                found: format!("{n}×{rows}×{cols}"),
            });
        }
        let label_bytes = read_maybe_gzip(labels)?;
        let (lshape, ldata) = parse_idx(labels, &label_bytes, 1)?;
        if lshape[0] != n {
            return Err(DataError::CountMismatch {
                images: images.to_owned(),
                image_count: n,
                labels: labels.to_owned(),
                label_count: lshape[0],
            });
        }
        if let Some((index, &label)) = ldata
            .iter()
            .enumerate()
            .find(|&(_, &l)| usize::from(l) >= classes)
        {
            return Err(DataError::LabelOutOfRange {
                path: labels.to_owned(),
                index,
                label,
                classes,
            });
        }
        Ok(Split {
            pixels: pixels.to_vec(),
            labels: ldata.iter().map(|&l| u16::from(l)).collect(),
            dim: rows * cols,
            rows,
            cols,
        })
    }

    /// Checks that each image has `dim` scalars.
    ///
    /// # Errors
    /// [`DataError::WrongDimensions`] naming `path`.
    pub fn expect_dim(&self, dim: usize, path: &Path) -> Result<(), DataError> {
        if self.dim == dim {
            Ok(())
        } else {
            Err(DataError::WrongDimensions {
                path: path.to_owned(),
                expected: format!("images of {dim} pixels"),
                found: format!(
                    "images of {}×{} = {} pixels",
                    self.rows, self.cols, self.dim
                ),
            })
        }
    }

    /// Splits off a seeded random `fraction` of the samples (e.g. a validation split):
    /// returns `(rest, held_out)`.
    pub fn split_off(&self, fraction: f64, seed: u64) -> (Split, Split) {
        let (rest, held) = split_indices(self.len(), fraction, seed);
        (self.subset(&rest), self.subset(&held))
    }

    /// The samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Split {
        let mut pixels = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        Split {
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            dim: self.dim,
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// This split followed by `other` (same image size).
    pub fn concat(&self, other: &Split) -> Split {
        let mut s = self.clone();
        s.pixels.extend_from_slice(&other.pixels);
        s.labels.extend_from_slice(&other.labels);
        s
    }
}

/// A dataset's training and test splits.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// The training split (the validation split is held out of it by the caller).
    pub train: Split,
    /// The test split: for the final report only.
    pub test: Split,
}

impl Dataset {
    /// Reads an MNIST-format directory: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    /// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or with `.gz`.
    ///
    /// # Errors
    /// [`DataError::Missing`] when the directory or a file is absent (for the default
    /// directory the message names the Debian package to install); any other
    /// [`DataError`] for a malformed file.
    pub fn load_mnist_dir(dir: &Path, classes: usize) -> Result<Dataset, DataError> {
        if !dir.is_dir() {
            return Err(DataError::Missing {
                path: dir.to_owned(),
            });
        }
        let find = |stem: &str| -> Result<PathBuf, DataError> {
            for name in [format!("{stem}.gz"), stem.to_owned()] {
                let p = dir.join(name);
                if p.is_file() {
                    return Ok(p);
                }
            }
            Err(DataError::Missing {
                path: dir.join(format!("{stem}.gz")),
            })
        };
        let train = Split::read(
            &find("train-images-idx3-ubyte")?,
            &find("train-labels-idx1-ubyte")?,
            classes,
        )?;
        let test = Split::read(
            &find("t10k-images-idx3-ubyte")?,
            &find("t10k-labels-idx1-ubyte")?,
            classes,
        )?;
        if test.dim != train.dim {
            return Err(DataError::WrongDimensions {
                path: find("t10k-images-idx3-ubyte")?,
                expected: format!("{}×{} like the training images", train.rows, train.cols),
                found: format!("{}×{}", test.rows, test.cols),
            });
        }
        Ok(Dataset { train, test })
    }
}

/// Per-feature standardization `(x/d − μ)/σ`, fitted on one split (the training split
/// only, so no statistic of the validation or test data leaks into training), for pixels
/// ([`Normalizer::fit`], `d` = 255) or float features ([`Normalizer::fit_features`],
/// `d` = 1). [`Normalizer::fold_into`] moves it into the first dense layer, so that the
/// deployed network takes the raw values.
///
/// σ is floored so that a constant feature does not blow up: for pixels at 0.05 on the
/// [0, 1] scale (constant border pixels would otherwise be scaled by huge factors); for
/// float features, a σ at or below `f32::EPSILON · |μ|` (constant up to `f32` rounding) or
/// below `f32::MIN_POSITIVE` counts as zero and the feature is only centred, with scale 1,
/// as scikit-learn's `StandardScaler` does.
#[derive(Clone, Debug, PartialEq)]
pub struct Normalizer {
    /// Mean of each feature, on the scale of `x/d`.
    pub mean: Vec<f32>,
    /// `1/σ` of each feature, σ floored as above.
    pub inv_std: Vec<f32>,
    /// `d`: raw inputs are divided by it before standardization — 255 for pixels, so that
    /// `mean` is on the [0, 1] scale; 1 for float features.
    pub divisor: f32,
}

impl Normalizer {
    /// Fits the statistics of `split`'s pixels (`d` = 255).
    pub fn fit(split: &Split) -> Normalizer {
        let n = split.len().max(1) as f64;
        let mut sum = vec![0f64; split.dim];
        let mut sq = vec![0f64; split.dim];
        for img in split.pixels.chunks_exact(split.dim) {
            for (j, &p) in img.iter().enumerate() {
                let v = f64::from(p) / 255.0;
                sum[j] += v;
                sq[j] += v * v;
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let inv_std = sq
            .iter()
            .zip(&mean)
            .map(|(s, m)| (1.0 / (s / n - m * m).max(0.0).sqrt().max(0.05)) as f32)
            .collect();
        Normalizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            inv_std,
            divisor: 255.0,
        }
    }

    /// Fits the mean and standard deviation (population, in `f64`, two passes) of each of
    /// the `D` features of `rows` (`d` = 1). Pass the training rows only.
    ///
    /// # Errors
    /// [`DataError::NothingToFit`] for no rows; [`DataError::NonFiniteFeature`] naming the
    /// first NaN or infinite value.
    pub fn fit_features<const D: usize>(rows: &[[f32; D]]) -> Result<Normalizer, DataError> {
        if rows.is_empty() {
            return Err(DataError::NothingToFit);
        }
        for (row, x) in rows.iter().enumerate() {
            if let Some(feature) = x.iter().position(|v| !v.is_finite()) {
                return Err(DataError::NonFiniteFeature {
                    row,
                    feature,
                    value: x[feature],
                });
            }
        }
        let n = rows.len() as f64;
        let mut mean = [0f64; D];
        for x in rows {
            for (m, &v) in mean.iter_mut().zip(x) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = [0f64; D];
        for x in rows {
            for ((s, &v), m) in var.iter_mut().zip(x).zip(&mean) {
                *s += (f64::from(v) - m) * (f64::from(v) - m);
            }
        }
        let inv_std = var
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let sigma = (s / n).sqrt();
                let constant = sigma <= f64::from(f32::EPSILON) * m.abs()
                    || sigma < f64::from(f32::MIN_POSITIVE);
                if constant { 1.0 } else { (1.0 / sigma) as f32 }
            })
            .collect();
        Ok(Normalizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            inv_std,
            divisor: 1.0,
        })
    }

    /// Number of features it was fitted on.
    pub fn features(&self) -> usize {
        self.mean.len()
    }

    /// Folds the normalization into the first dense layer of a network, so that the layer
    /// takes raw values (pixels 0–255 as `f32`, or the raw float features) and computes
    /// what it computed on normalized inputs: `W' = W·diag(s/d)`, `b' = b − W·(μ ⊙ s)`
    /// with `s = 1/σ`, in `f64`. A network folded this way carries its preprocessing inside
    /// its weights: firmware feeds it the sensor's values directly.
    ///
    /// # Errors
    /// [`DataError::FeatureCount`] if `IN` differs from the number of features the
    /// normalizer was fitted on; the layer is then unchanged.
    pub fn fold_into<const IN: usize, const OUT: usize>(
        &self,
        layer: &mut crate::layers::Dense<IN, OUT>,
    ) -> Result<(), DataError> {
        self.expect_features(IN, "the layer's input has")?;
        let divisor = f64::from(self.divisor);
        for (row, b) in layer.weight.iter_mut().zip(layer.bias.iter_mut()) {
            let mut shift = f64::from(*b);
            for (j, w) in row.iter_mut().enumerate() {
                let s = f64::from(self.inv_std[j]);
                shift -= f64::from(*w) * f64::from(self.mean[j]) * s;
                *w = (f64::from(*w) * s / divisor) as f32;
            }
            *b = shift as f32;
        }
        Ok(())
    }

    /// Writes the normalized `pixels` into `out`.
    ///
    /// # Panics
    /// If the lengths differ from the fitted dimension.
    pub fn apply(&self, pixels: &[u8], out: &mut [f32]) {
        assert_eq!(pixels.len(), self.mean.len());
        assert_eq!(out.len(), self.mean.len());
        for (j, (o, &p)) in out.iter_mut().zip(pixels).enumerate() {
            *o = (f32::from(p) * (1.0 / 255.0) - self.mean[j]) * self.inv_std[j];
        }
    }

    /// Normalizes raw rows in place: `x ← (x·(1/d) − μ)·s`, in `f32` (for pixels given as
    /// `f32`, bit for bit what [`Normalizer::apply`] computes).
    ///
    /// # Errors
    /// [`DataError::FeatureCount`] if `D` differs from the number of features the
    /// normalizer was fitted on; the rows are then unchanged.
    pub fn apply_rows<const D: usize>(&self, rows: &mut [[f32; D]]) -> Result<(), DataError> {
        self.expect_features(D, "the rows have")?;
        let scale = 1.0 / self.divisor;
        for x in rows {
            for ((v, m), s) in x.iter_mut().zip(&self.mean).zip(&self.inv_std) {
                *v = (*v * scale - m) * s;
            }
        }
        Ok(())
    }

    fn expect_features(&self, found: usize, what: &'static str) -> Result<(), DataError> {
        if found == self.features() {
            Ok(())
        } else {
            Err(DataError::FeatureCount {
                fitted: self.features(),
                what,
                found,
            })
        }
    }
}
