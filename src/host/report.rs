//! Reports of a training run: a per-epoch CSV log, learning curves and a confusion matrix as
//! PNG charts, and a short end-of-run summary; and line charts of any named series, such as
//! the losses of several runs, with [`plot_series`].
//!
//! ```no_run
//! use firmnet::host::report::{self, ConfusionMatrix, Summary};
//! # fn run(
//! #     fit: &firmnet::host::FitSummary,
//! #     test: &firmnet::host::Evaluation,
//! #     labels: &[u16],
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! report::write_csv("out/history.csv", &fit.history)?;
//! report::plot_learning_curves("out/curves.png", &fit.history, "MLP", Some(fit.best_epoch))?;
//! let matrix = ConfusionMatrix::from_predictions(10, labels, &test.predictions)?;
//! matrix.plot("out/confusion.png", &[])?;
//! println!("{matrix}\n{}", Summary::new(fit, Some(test)));
//! # Ok(())
//! # }
//! ```
//!
//! Every file is written atomically: into a temporary file beside it, then renamed over it,
//! so a crash never leaves half a report behind. Missing parent directories are created.
//!
//! # Fonts
//! The charts draw their text with a TrueType font read at run time, not through the system's
//! font configuration: by default DejaVu Sans from the Debian package `fonts-dejavu-core`
//! ([`FONT_PATH`], and [`BOLD_FONT_PATH`] for titles). The environment variable
//! [`FONT_ENV`] or [`set_font`] names another font. A missing font is a
//! [`ReportError::MissingFont`] naming the package, never a panic.

use std::prelude::rust_2024::*;
use std::{format, vec};

use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ab_glyph::{Font, FontArc, PxScale, ScaleFont, point};
use plotters::coord::Shift;
use plotters::prelude::{
    BitMapBackend, ChartBuilder, Circle, DashedLineSeries, DrawingArea, DrawingAreaErrorKind,
    DrawingBackend, IntoDrawingArea, LineSeries, PathElement, Polygon, RGBColor, Rectangle,
    ShapeStyle,
};
use plotters::style::Color as _;

use super::metrics::Metrics;
use super::trainer::{EpochRecord, Evaluation, FitSummary};

/// The font the charts are drawn with unless [`FONT_ENV`] or [`set_font`] names another.
pub const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// The bold font of chart titles; the regular one stands in if it is missing.
pub const BOLD_FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
/// The Debian package that installs [`FONT_PATH`] and [`BOLD_FONT_PATH`].
pub const FONT_PACKAGE: &str = "fonts-dejavu-core";
/// Environment variable naming a TrueType font file to draw the charts with instead of
/// [`FONT_PATH`] (read when the first chart is drawn).
pub const FONT_ENV: &str = "FIRMNET_FONT";

/// Header row of the CSV log: the fields of [`EpochRecord`], in order, the metrics of
/// training and validation each as loss, accuracy, MSE, MAE, R². A metric the task does
/// not define is an empty field.
pub const CSV_HEADER: &str = "epoch,lr,train_loss,train_accuracy,train_mse,train_mae,train_r2,\
val_loss,val_accuracy,val_mse,val_mae,val_r2,train_seconds,samples_per_second";

/// Fields of a CSV row.
const CSV_FIELDS: usize = 14;

/// The five CSV fields of `m`.
fn metric_fields(m: &Metrics) -> String {
    let opt = |v: Option<f32>| v.map_or(String::new(), |v| v.to_string());
    format!(
        "{},{},{},{},{}",
        m.loss,
        opt(m.accuracy),
        opt(m.mse),
        opt(m.mae),
        opt(m.r2)
    )
}

/// [`Metrics`] from five CSV fields (empty: not defined); the index of a bad field.
fn parse_metrics(fields: &[&str]) -> Result<Metrics, usize> {
    let opt = |k: usize| -> Result<Option<f32>, usize> {
        match fields[k] {
            "" => Ok(None),
            f => f.parse().map(Some).map_err(|_| k),
        }
    };
    Ok(Metrics {
        loss: fields[0].parse().map_err(|_| 0usize)?,
        accuracy: opt(1)?,
        mse: opt(2)?,
        mae: opt(3)?,
        r2: opt(4)?,
    })
}

/// Width and height in pixels of the learning-curve chart.
pub const LEARNING_CURVES_SIZE: (u32, u32) = (1400, 600);
/// Width and height in pixels of the confusion-matrix chart.
pub const CONFUSION_MATRIX_SIZE: (u32, u32) = (1000, 1000);

// ---------------------------------------------------------------------------------------------
// Errors

/// A report that could not be written or read, with the file it concerns.
#[derive(Debug)]
pub enum ReportError {
    /// Creating, writing, renaming or reading the file failed.
    Io {
        /// The report file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The chart font could not be read.
    MissingFont {
        /// The chart being drawn (or the font itself, from [`set_font`]).
        path: PathBuf,
        /// The font file.
        font: PathBuf,
        /// The Debian package that installs the font, if it is the default one.
        package: Option<&'static str>,
        /// What the operating system said.
        source: io::Error,
    },
    /// The chart font is not a TrueType or OpenType font.
    InvalidFont {
        /// The chart being drawn (or the font itself, from [`set_font`]).
        path: PathBuf,
        /// The font file.
        font: PathBuf,
    },
    /// The data cannot make this report (no epochs, wrong number of class names, …).
    Invalid {
        /// The report file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A CSV log read back is not one that [`write_csv`] writes.
    Parse {
        /// The CSV file.
        path: PathBuf,
        /// Line number, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Drawing or encoding a chart failed.
    Draw {
        /// The chart file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// No series of a [`plot_series`] chart has a point it can draw: there are no series, or
    /// every point has a non-finite coordinate or, on a log axis, one that is not positive.
    NothingToPlot {
        /// The chart file, which is not written.
        path: PathBuf,
    },
}

impl ReportError {
    /// The file the error concerns.
    pub fn path(&self) -> &Path {
        match self {
            ReportError::Io { path, .. }
            | ReportError::MissingFont { path, .. }
            | ReportError::InvalidFont { path, .. }
            | ReportError::Invalid { path, .. }
            | ReportError::Parse { path, .. }
            | ReportError::Draw { path, .. }
            | ReportError::NothingToPlot { path } => path,
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ReportError::MissingFont {
                path,
                font,
                package,
                source,
            } => {
                write!(
                    f,
                    "{}: cannot read the chart font {}: {source}",
                    path.display(),
                    font.display()
                )?;
                match package {
                    Some(package) => write!(
                        f,
                        " (install the Debian package {package}, or set {FONT_ENV} to a TrueType font file)"
                    ),
                    None => Ok(()),
                }
            }
            ReportError::InvalidFont { path, font } => write!(
                f,
                "{}: {} is not a TrueType or OpenType font",
                path.display(),
                font.display()
            ),
            ReportError::Invalid { path, message } => write!(f, "{}: {message}", path.display()),
            ReportError::Parse {
                path,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            ReportError::Draw { path, message } => {
                write!(f, "{}: drawing the chart failed: {message}", path.display())
            }
            ReportError::NothingToPlot { path } => write!(
                f,
                "{}: nothing to plot: no series has a point with finite coordinates \
                 (and positive ones on a log axis)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReportError::Io { source, .. } | ReportError::MissingFont { source, .. } => {
                Some(source)
            }
            _ => None,
        }
    }
}

/// Labels and predictions that do not make a confusion matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfusionError {
    /// There are not as many predictions as labels.
    LengthMismatch {
        /// Number of labels.
        labels: usize,
        /// Number of predictions.
        predictions: usize,
    },
    /// A label or prediction is not below the number of classes.
    ClassOutOfRange {
        /// Index of the sample, if known.
        sample: Option<usize>,
        /// The offending class.
        class: usize,
        /// Number of classes.
        classes: usize,
    },
}

impl fmt::Display for ConfusionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfusionError::LengthMismatch {
                labels,
                predictions,
            } => write!(f, "{labels} labels but {predictions} predictions"),
            ConfusionError::ClassOutOfRange {
                sample,
                class,
                classes,
            } => {
                if let Some(sample) = sample {
                    write!(f, "sample {sample}: ")?;
                }
                write!(f, "class {class} is out of range for {classes} classes")
            }
        }
    }
}

impl std::error::Error for ConfusionError {}

// ---------------------------------------------------------------------------------------------
// Files

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory, synced,
/// then renamed over `path`. Creates missing parent directories.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io_error = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().ok_or_else(|| ReportError::Invalid {
        path: path.to_path_buf(),
        message: "not a file name".into(),
    })?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(io_error)?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(source));
    }
    Ok(())
}

/// Writes `text` to `path` atomically (a temporary file renamed over it), creating missing
/// parent directories: for a [`Summary`] or a [`ConfusionMatrix`] table kept beside the charts.
///
/// # Errors
/// [`ReportError::Io`] if the file cannot be written.
pub fn write_text(path: impl AsRef<Path>, text: &str) -> Result<(), ReportError> {
    write_atomically(path.as_ref(), text.as_bytes())
}

/// The CSV log of `history`: [`CSV_HEADER`] and one row per epoch. Numbers are written in the
/// shortest form that reads back to the same value.
pub fn csv_string(history: &[EpochRecord]) -> String {
    let mut out = String::with_capacity(64 * (history.len() + 1));
    out.push_str(CSV_HEADER);
    out.push('\n');
    for r in history {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{}",
            r.epoch,
            r.lr,
            metric_fields(&r.train),
            metric_fields(&r.val),
            r.train_seconds,
            r.samples_per_second
        );
    }
    out
}

/// Writes the per-epoch log `history` to `path` as CSV: [`CSV_HEADER`], then one row per
/// epoch with every field of [`EpochRecord`]. The file is replaced atomically.
///
/// # Errors
/// [`ReportError::Io`] if the file cannot be written.
pub fn write_csv(path: impl AsRef<Path>, history: &[EpochRecord]) -> Result<(), ReportError> {
    write_atomically(path.as_ref(), csv_string(history).as_bytes())
}

/// Reads a log written by [`write_csv`].
///
/// # Errors
/// [`ReportError::Io`] if the file cannot be read, [`ReportError::Parse`] naming the line if
/// it is not such a log.
pub fn read_csv(path: impl AsRef<Path>) -> Result<Vec<EpochRecord>, ReportError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let parse_error = |line: usize, message: String| ReportError::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.trim() == CSV_HEADER => {}
        _ => {
            return Err(parse_error(
                1,
                format!("expected the header {CSV_HEADER:?}"),
            ));
        }
    }
    let mut history = Vec::new();
    for (i, line) in lines {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != CSV_FIELDS {
            return Err(parse_error(
                line_no,
                format!("expected {CSV_FIELDS} fields, found {}", fields.len()),
            ));
        }
        let bad = |k: usize| {
            let name = CSV_HEADER.split(',').nth(k).unwrap_or("?");
            parse_error(line_no, format!("{name}: cannot read {:?}", fields[k]))
        };
        history.push(EpochRecord {
            epoch: fields[0].parse().map_err(|_| bad(0))?,
            lr: fields[1].parse().map_err(|_| bad(1))?,
            train: parse_metrics(&fields[2..7]).map_err(|k| bad(2 + k))?,
            val: parse_metrics(&fields[7..12]).map_err(|k| bad(7 + k))?,
            train_seconds: fields[12].parse().map_err(|_| bad(12))?,
            samples_per_second: fields[13].parse().map_err(|_| bad(13))?,
        });
    }
    Ok(history)
}

// ---------------------------------------------------------------------------------------------
// Fonts and text

/// The faces the charts are set in.
#[derive(Clone)]
struct Fonts {
    regular: FontArc,
    bold: FontArc,
}

/// The fonts in use, loaded on first use (or by [`set_font`]).
static FONTS: Mutex<Option<Fonts>> = Mutex::new(None);

fn load_font(
    chart: &Path,
    font: &Path,
    package: Option<&'static str>,
) -> Result<FontArc, ReportError> {
    let bytes = fs::read(font).map_err(|source| ReportError::MissingFont {
        path: chart.to_path_buf(),
        font: font.to_path_buf(),
        package,
        source,
    })?;
    FontArc::try_from_vec(bytes).map_err(|_| ReportError::InvalidFont {
        path: chart.to_path_buf(),
        font: font.to_path_buf(),
    })
}

/// Draws every later chart with the TrueType or OpenType font at `path` (regular and bold
/// text alike), instead of [`FONT_PATH`].
///
/// # Errors
/// [`ReportError::MissingFont`] if the file cannot be read, [`ReportError::InvalidFont`] if
/// it is not a font; the font in use stays as it was.
pub fn set_font(path: impl AsRef<Path>) -> Result<(), ReportError> {
    let path = path.as_ref();
    let font = load_font(path, path, None)?;
    *FONTS.lock().unwrap_or_else(|e| e.into_inner()) = Some(Fonts {
        regular: font.clone(),
        bold: font,
    });
    Ok(())
}

/// The fonts for drawing `chart`, loaded on first use: [`FONT_ENV`] if set, else
/// [`FONT_PATH`] and [`BOLD_FONT_PATH`].
fn fonts(chart: &Path) -> Result<Fonts, ReportError> {
    let mut fonts = FONTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(fonts) = &*fonts {
        return Ok(fonts.clone());
    }
    let loaded = match std::env::var_os(FONT_ENV).filter(|v| !v.is_empty()) {
        Some(font) => {
            let font = load_font(chart, Path::new(&font), None)?;
            Fonts {
                regular: font.clone(),
                bold: font,
            }
        }
        None => {
            let regular = load_font(chart, Path::new(FONT_PATH), Some(FONT_PACKAGE))?;
            // Titles fall back to the regular face if the bold one is missing or unusable.
            let bold = load_font(chart, Path::new(BOLD_FONT_PATH), Some(FONT_PACKAGE))
                .unwrap_or_else(|_| regular.clone());
            Fonts { regular, bold }
        }
    };
    *fonts = Some(loaded.clone());
    Ok(loaded)
}

/// Where text sits relative to its anchor point, along one direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Align {
    /// Left of the text, or the top of its capitals, at the anchor.
    Start,
    /// Centre of the text, or the middle of its capitals, at the anchor.
    Middle,
    /// Right of the text, or the bottom of its descenders, at the anchor.
    End,
}

/// How a piece of text is set.
#[derive(Clone, Copy, Debug)]
struct Style {
    size: f32,
    bold: bool,
    color: RGBColor,
    h: Align,
    v: Align,
    /// Turned a quarter anticlockwise, reading upwards.
    vertical: bool,
}

impl Style {
    const fn new(size: f32) -> Style {
        Style {
            size,
            bold: false,
            color: TEXT,
            h: Align::Start,
            v: Align::Middle,
            vertical: false,
        }
    }

    const fn bold(mut self) -> Style {
        self.bold = true;
        self
    }

    const fn color(mut self, color: RGBColor) -> Style {
        self.color = color;
        self
    }

    const fn align(mut self, h: Align, v: Align) -> Style {
        self.h = h;
        self.v = v;
        self
    }

    const fn vertical(mut self) -> Style {
        self.vertical = true;
        self
    }
}

/// Text set with [`Fonts`] over a finished bitmap: every label of a chart is drawn last, so
/// text always sits on top of the shapes.
struct Canvas {
    fonts: Fonts,
    labels: Vec<(String, (i32, i32), Style)>,
}

impl Canvas {
    fn font(&self, style: Style) -> &FontArc {
        if style.bold {
            &self.fonts.bold
        } else {
            &self.fonts.regular
        }
    }

    /// Advance width of `text` in pixels, with kerning.
    fn width(&self, text: &str, style: Style) -> f32 {
        let font = self.font(style).as_scaled(PxScale::from(style.size));
        let mut width = 0.0;
        let mut prev = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(prev) = prev {
                width += font.kern(prev, id);
            }
            width += font.h_advance(id);
            prev = Some(id);
        }
        width
    }

    /// Queues `text` at `at` (pixels of the whole chart).
    fn text(&mut self, text: impl Into<String>, at: (i32, i32), style: Style) {
        self.labels.push((text.into(), at, style));
    }

    /// Draws the queued text onto the RGB bitmap `pixels` of `w` by `h`.
    fn render(&self, pixels: &mut [u8], w: u32, h: u32) {
        for (text, (ax, ay), style) in &self.labels {
            let font = self.font(*style);
            let scale = PxScale::from(style.size);
            let scaled = font.as_scaled(scale);
            let cap = font
                .outline_glyph(font.glyph_id('H').with_scale(scale))
                .map_or(style.size * 0.7, |g| -g.px_bounds().min.y);
            let width = self.width(text, *style);
            let x0 = match style.h {
                Align::Start => 0.0,
                Align::Middle => -width / 2.0,
                Align::End => -width,
            };
            let baseline = match style.v {
                Align::Start => cap,
                Align::Middle => cap / 2.0,
                Align::End => scaled.descent(),
            };
            let mut caret = x0;
            let mut prev = None;
            for c in text.chars() {
                let id = scaled.glyph_id(c);
                if let Some(prev) = prev {
                    caret += scaled.kern(prev, id);
                }
                prev = Some(id);
                let glyph = id.with_scale_and_position(scale, point(caret, baseline));
                caret += scaled.h_advance(id);
                let Some(outline) = font.outline_glyph(glyph) else {
                    continue;
                };
                let bounds = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    // Local coordinates: x along the text, y down from the baseline.
                    let lx = bounds.min.x as i32 + gx as i32;
                    let ly = bounds.min.y as i32 + gy as i32;
                    let (x, y) = if style.vertical {
                        (ax + ly, ay - lx)
                    } else {
                        (ax + lx, ay + ly)
                    };
                    blend(pixels, (w, h), (x, y), style.color, coverage);
                });
            }
        }
    }
}

/// Paints `color` over the pixel at `(x, y)` with opacity `alpha`.
fn blend(pixels: &mut [u8], (w, h): (u32, u32), (x, y): (i32, i32), color: RGBColor, alpha: f32) {
    if x < 0 || y < 0 || x >= w as i32 || y >= h as i32 {
        return;
    }
    let alpha = alpha.clamp(0.0, 1.0);
    let i = (y as usize * w as usize + x as usize) * 3;
    for (p, c) in pixels[i..i + 3].iter_mut().zip([color.0, color.1, color.2]) {
        *p = (f32::from(*p) * (1.0 - alpha) + f32::from(c) * alpha).round() as u8;
    }
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawError = DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>;

const TEXT: RGBColor = RGBColor(33, 37, 41);
const MUTED: RGBColor = RGBColor(95, 101, 110);
const FAINT: RGBColor = RGBColor(165, 172, 180);
const AXIS: RGBColor = RGBColor(125, 130, 138);
const GRID: RGBColor = RGBColor(230, 232, 236);
const WHITE: RGBColor = RGBColor(255, 255, 255);
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VALIDATION: RGBColor = RGBColor(230, 115, 0);
const BEST: RGBColor = RGBColor(46, 139, 87);
const PANEL: RGBColor = RGBColor(243, 244, 246);
const CORNER: RGBColor = RGBColor(222, 226, 231);

/// Draws a chart of `size` with `draw` (shapes on the bitmap, text queued on the canvas),
/// sets the text, encodes the result as PNG and writes it atomically.
fn render_png(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>, &mut Canvas) -> Result<(), DrawError>,
) -> Result<(), ReportError> {
    let mut canvas = Canvas {
        fonts: fonts(path)?,
        labels: Vec::new(),
    };
    let draw_error = |message: String| ReportError::Draw {
        path: path.to_path_buf(),
        message,
    };
    let (w, h) = size;
    let mut pixels = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw(&root, &mut canvas).map_err(|e| draw_error(e.to_string()))?;
        root.present().map_err(|e| draw_error(e.to_string()))?;
    }
    canvas.render(&mut pixels, w, h);
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::High);
        let mut writer = encoder
            .write_header()
            .map_err(|e| draw_error(e.to_string()))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| draw_error(e.to_string()))?;
        writer.finish().map_err(|e| draw_error(e.to_string()))?;
    }
    write_atomically(path, &png_bytes)
}

/// `n` with its thousands separated by commas: `12,345`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn percent(x: Option<f64>, decimals: usize) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{:.*}%", decimals, 100.0 * x),
        _ => "–".into(),
    }
}

/// A round step (1, 2, 2.5 or 5 times a power of ten) giving at most about `count` ticks
/// over `span`.
fn nice_step(span: f64, count: usize) -> f64 {
    let raw = span / count.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&step| step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// Multiples of `step` within `[lo, hi]`.
fn ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Decimals needed to tell multiples of `step` apart.
fn decimals_for(step: f64) -> usize {
    (0..6)
        .find(|&d| {
            let scaled = step * 10f64.powi(d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(6) as usize
}

// ---------------------------------------------------------------------------------------------
// Learning curves

struct PanelSpec {
    caption: &'static str,
    y_desc: &'static str,
    train: fn(&EpochRecord) -> f32,
    val: fn(&EpochRecord) -> f32,
    percent: bool,
}

/// Draws `history` as one PNG of [`LEARNING_CURVES_SIZE`] with two panels, loss and accuracy,
/// each with the training and the validation curve per epoch. `best_epoch`, if given, is
/// marked in both panels by a dashed vertical line and a ring on the validation curve.
///
/// The training values are those measured during the epoch (dropout and noise on), the
/// validation values in inference mode after it. Non-finite values are left out.
///
/// # Errors
/// [`ReportError::Invalid`] if `history` is empty; [`ReportError::MissingFont`] if the chart
/// font is missing; [`ReportError::Io`] if the file cannot be written.
pub fn plot_learning_curves(
    path: impl AsRef<Path>,
    history: &[EpochRecord],
    title: &str,
    best_epoch: Option<usize>,
) -> Result<(), ReportError> {
    let path = path.as_ref();
    if history.is_empty() {
        return Err(ReportError::Invalid {
            path: path.to_path_buf(),
            message: "no epochs to plot".into(),
        });
    }
    let best_epoch = best_epoch.filter(|&b| history.iter().any(|r| r.epoch == b));
    let panels = [
        PanelSpec {
            caption: "Loss",
            y_desc: "Cross-entropy loss",
            train: |r| r.train.loss,
            val: |r| r.val.loss,
            percent: false,
        },
        PanelSpec {
            caption: "Accuracy",
            y_desc: "Accuracy",
            train: |r| r.train.accuracy.unwrap_or(f32::NAN),
            val: |r| r.val.accuracy.unwrap_or(f32::NAN),
            percent: true,
        },
    ];
    render_png(path, LEARNING_CURVES_SIZE, |root, canvas| {
        root.fill(&WHITE)?;
        let (w, _) = root.dim_in_pixel();
        let cx = w as i32 / 2;
        canvas.text(
            title,
            (cx, 32),
            Style::new(24.0).bold().align(Align::Middle, Align::Middle),
        );
        let mut legend = vec![
            (LegendKey::Line(TRAIN), "train".to_string()),
            (LegendKey::Line(VALIDATION), "validation".to_string()),
        ];
        if let Some(best) = best_epoch {
            legend.push((LegendKey::Dashed(BEST), format!("best epoch ({best})")));
        }
        draw_legend(root, canvas, (cx, 68), &legend)?;
        let (_, body) = root.split_vertically(92);
        let areas = body.split_evenly((1, 2));
        for (area, spec) in areas.iter().zip(&panels) {
            draw_panel(root, area, canvas, history, spec, best_epoch)?;
        }
        Ok(())
    })
}

/// What a legend shows before a label.
enum LegendKey {
    /// A solid line with a round marker.
    Line(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
    /// A solid line with a marker of the given shape.
    Marked(RGBColor, Marker),
    /// Nothing: the label stands alone.
    Text,
}

/// Length in pixels of a legend key.
const LEGEND_KEY: i32 = 30;
/// Gap in pixels between a legend key and its label.
const LEGEND_KEY_GAP: i32 = 10;
/// Gap in pixels between legend items.
const LEGEND_ITEM_GAP: i32 = 36;
/// Height in pixels of one row of a legend.
const LEGEND_ROW: i32 = 26;
/// How legend labels are set.
const LEGEND_STYLE: Style = Style::new(16.0)
    .color(TEXT)
    .align(Align::Start, Align::Middle);

/// Width in pixels of a legend item: its key, the gap after it, and its label.
fn legend_item_width(canvas: &Canvas, (key, label): &(LegendKey, String)) -> i32 {
    let key = match key {
        LegendKey::Text => 0,
        _ => LEGEND_KEY + LEGEND_KEY_GAP,
    };
    key + canvas.width(label, LEGEND_STYLE).ceil() as i32
}

/// A one-line legend centred on `center`.
fn draw_legend(
    root: &Area<'_>,
    canvas: &mut Canvas,
    (cx, cy): (i32, i32),
    items: &[(LegendKey, String)],
) -> Result<(), DrawError> {
    let widths: Vec<i32> = items
        .iter()
        .map(|item| legend_item_width(canvas, item))
        .collect();
    let total: i32 = widths.iter().sum::<i32>() + LEGEND_ITEM_GAP * (items.len() as i32 - 1).max(0);
    let mut x = cx - total / 2;
    for ((key, label), width) in items.iter().zip(widths) {
        match key {
            LegendKey::Line(color) => {
                root.draw(&PathElement::new(
                    vec![(x, cy), (x + LEGEND_KEY, cy)],
                    color.stroke_width(3),
                ))?;
                root.draw(&Circle::new((x + LEGEND_KEY / 2, cy), 4, color.filled()))?;
            }
            LegendKey::Dashed(color) => {
                for (a, b) in [(0, 8), (11, 19), (22, 30)] {
                    root.draw(&PathElement::new(
                        vec![(x + a, cy), (x + b, cy)],
                        color.stroke_width(2),
                    ))?;
                }
            }
            LegendKey::Marked(color, marker) => {
                root.draw(&PathElement::new(
                    vec![(x, cy), (x + LEGEND_KEY, cy)],
                    color.stroke_width(3),
                ))?;
                draw_marker(root, (x + LEGEND_KEY / 2, cy), *marker, *color)?;
            }
            LegendKey::Text => {}
        }
        let text_x = match key {
            LegendKey::Text => x,
            _ => x + LEGEND_KEY + LEGEND_KEY_GAP,
        };
        canvas.text(label.clone(), (text_x, cy), LEGEND_STYLE);
        x += width + LEGEND_ITEM_GAP;
    }
    Ok(())
}

/// Packs legend `items` into rows no wider than `max_width`, at most `max_rows` of them (at
/// least one). Items that do not fit are counted by a closing "+N more".
fn legend_rows(
    canvas: &Canvas,
    items: Vec<(LegendKey, String)>,
    max_width: i32,
    max_rows: usize,
) -> Vec<Vec<(LegendKey, String)>> {
    let row_width = |row: &[(LegendKey, String)]| {
        row.iter()
            .map(|item| legend_item_width(canvas, item) + LEGEND_ITEM_GAP)
            .sum::<i32>()
            - LEGEND_ITEM_GAP
    };
    let mut rows: Vec<Vec<(LegendKey, String)>> = Vec::new();
    let (mut row, mut width) = (Vec::new(), 0);
    for item in items {
        let item_width = legend_item_width(canvas, &item);
        if !row.is_empty() && width + LEGEND_ITEM_GAP + item_width > max_width {
            rows.push(core::mem::take(&mut row));
            width = 0;
        }
        width += if row.is_empty() { 0 } else { LEGEND_ITEM_GAP } + item_width;
        row.push(item);
    }
    rows.push(row);
    let max_rows = max_rows.max(1);
    if rows.len() > max_rows {
        let mut hidden: usize = rows[max_rows..].iter().map(Vec::len).sum();
        rows.truncate(max_rows);
        if let Some(last) = rows.last_mut() {
            loop {
                let more = (LegendKey::Text, format!("+{hidden} more"));
                let fits = row_width(last) + LEGEND_ITEM_GAP + legend_item_width(canvas, &more)
                    <= max_width;
                if fits || last.is_empty() {
                    last.push(more);
                    break;
                }
                last.pop();
                hidden += 1;
            }
        }
    }
    rows
}

/// A padded range around the finite values of `values`, at least `min_span` wide, within
/// `clamp`.
fn value_range(values: impl Iterator<Item = f64>, min_span: f64, clamp: (f64, f64)) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return clamp_range((0.0, 1.0), clamp);
    }
    let (lo, hi) = if hi - lo < min_span {
        let mid = (lo + hi) / 2.0;
        (mid - min_span / 2.0, mid + min_span / 2.0)
    } else {
        (lo, hi)
    };
    let pad = 0.06 * (hi - lo);
    clamp_range((lo - pad, hi + pad), clamp)
}

fn clamp_range((lo, hi): (f64, f64), (min, max): (f64, f64)) -> (f64, f64) {
    let (lo, hi) = (lo.max(min), hi.min(max));
    if hi > lo { (lo, hi) } else { (min, max) }
}

fn draw_panel(
    root: &Area<'_>,
    area: &Area<'_>,
    canvas: &mut Canvas,
    history: &[EpochRecord],
    spec: &PanelSpec,
    best_epoch: Option<usize>,
) -> Result<(), DrawError> {
    let n = history.iter().map(|r| r.epoch).max().unwrap_or(1).max(1);
    let values = history
        .iter()
        .flat_map(|r| [f64::from((spec.train)(r)), f64::from((spec.val)(r))]);
    // A flat curve still gets an axis of a few percent or a tenth of the loss.
    let (lo, hi) = if spec.percent {
        value_range(values, 0.02, (0.0, 1.0))
    } else {
        let top = history
            .iter()
            .map(|r| f64::from((spec.train)(r)))
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        value_range(values, (0.1 * top).max(1e-3), (0.0, f64::INFINITY))
    };

    // Y ticks and their labels decide the width of the label area.
    let y_step = nice_step(hi - lo, 8);
    let y_ticks = ticks(lo, hi, y_step);
    let y_labels: Vec<String> = y_ticks
        .iter()
        .map(|v| {
            if spec.percent {
                format!("{:.*}%", decimals_for(100.0 * y_step), 100.0 * v)
            } else {
                format!("{:.*}", decimals_for(y_step), v)
            }
        })
        .collect();
    let tick_style = Style::new(14.0).color(MUTED);
    let label_w = y_labels
        .iter()
        .map(|s| canvas.width(s, tick_style).ceil() as i32)
        .max()
        .unwrap_or(0);

    let (x_lo, x_hi) = (0.5, n as f64 + 0.5);
    let mut chart = ChartBuilder::on(area)
        .margin_top(44)
        .margin_right(32)
        .margin_left(16)
        .margin_bottom(8)
        .x_label_area_size(62)
        .y_label_area_size(label_w + 48)
        .build_cartesian_2d(x_lo..x_hi, lo..hi)?;
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let (left, right, top, bottom) = (xs.start, xs.end - 1, ys.start, ys.end - 1);
    let mid_x = (left + right) / 2;
    let (_, area_y) = area.get_pixel_range();
    canvas.text(
        spec.caption,
        (mid_x, area_y.start + 22),
        Style::new(18.0).bold().align(Align::Middle, Align::Middle),
    );

    // Grid, axes, ticks and their labels.
    for (v, label) in y_ticks.iter().zip(&y_labels) {
        let (_, y) = chart.backend_coord(&(x_lo, *v));
        root.draw(&PathElement::new(
            vec![(left, y), (right, y)],
            GRID.stroke_width(1),
        ))?;
        root.draw(&PathElement::new(
            vec![(left - 5, y), (left, y)],
            AXIS.stroke_width(1),
        ))?;
        canvas.text(
            label.clone(),
            (left - 10, y),
            tick_style.align(Align::End, Align::Middle),
        );
    }
    let x_step = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000]
        .into_iter()
        .find(|s| n / s <= 12)
        .unwrap_or(n.div_ceil(12).max(1));
    let first = if x_step == 1 { 1 } else { x_step };
    for epoch in (first..=n).step_by(x_step) {
        let (x, _) = chart.backend_coord(&(epoch as f64, lo));
        root.draw(&PathElement::new(
            vec![(x, top), (x, bottom)],
            GRID.stroke_width(1),
        ))?;
        root.draw(&PathElement::new(
            vec![(x, bottom), (x, bottom + 5)],
            AXIS.stroke_width(1),
        ))?;
        canvas.text(
            epoch.to_string(),
            (x, bottom + 12),
            tick_style.align(Align::Middle, Align::Start),
        );
    }
    root.draw(&PathElement::new(
        vec![(left, top), (left, bottom), (right, bottom)],
        AXIS.stroke_width(1),
    ))?;
    let desc = Style::new(15.0).color(TEXT);
    canvas.text(
        "Epoch",
        (mid_x, bottom + 46),
        desc.align(Align::Middle, Align::Middle),
    );
    canvas.text(
        spec.y_desc,
        (left - label_w - 30, (top + bottom) / 2),
        desc.align(Align::Middle, Align::Middle).vertical(),
    );

    // The best epoch under the curves, the curves, then the ring on the best validation value.
    if let Some(best) = best_epoch {
        let x = best as f64;
        chart.draw_series(DashedLineSeries::new(
            [(x, lo), (x, hi)],
            8,
            6,
            BEST.stroke_width(2),
        ))?;
    }
    let markers = n <= 60;
    for (value, color) in [(spec.train, TRAIN), (spec.val, VALIDATION)] {
        let points: Vec<(f64, f64)> = history
            .iter()
            .map(|r| (r.epoch as f64, f64::from(value(r))))
            .filter(|(_, y)| y.is_finite())
            .collect();
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            color.stroke_width(3),
        ))?;
        if markers {
            chart.draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 4, ShapeStyle::from(color).filled())),
            )?;
        }
    }
    if let Some(record) = best_epoch.and_then(|b| history.iter().find(|r| r.epoch == b)) {
        let y = f64::from((spec.val)(record));
        if y.is_finite() {
            chart.draw_series([Circle::new(
                (record.epoch as f64, y),
                8,
                BEST.stroke_width(2),
            )])?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Line charts

/// Width and height in pixels of a [`plot_series`] chart: those of the learning-curve chart.
pub const SERIES_CHART_SIZE: (u32, u32) = LEARNING_CURVES_SIZE;

/// One named line of a [`plot_series`] chart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Series<'a> {
    /// The name shown in the legend.
    pub name: &'a str,
    /// The points `(x, y)`, joined by a line in the order given. A point with a non-finite
    /// coordinate, or one that is not positive on a log axis, is left out and breaks the line.
    pub points: &'a [(f64, f64)],
}

/// Titles and axes of a [`plot_series`] chart. The default has no text and linear axes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chart<'a> {
    /// The title above the chart.
    pub title: &'a str,
    /// The description of the horizontal axis.
    pub x_label: &'a str,
    /// The description of the vertical axis.
    pub y_label: &'a str,
    /// Whether the horizontal axis is logarithmic (base 10).
    pub log_x: bool,
    /// Whether the vertical axis is logarithmic (base 10).
    pub log_y: bool,
}

/// The Okabe–Ito palette, distinguishable with the common forms of colour blindness: blue,
/// orange, bluish green, vermillion, reddish purple, sky blue, yellow, black.
const SERIES_COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

/// Faint gridlines between the labelled ones of a log axis.
const MINOR_GRID: RGBColor = RGBColor(242, 243, 246);

/// Series with at most this many points drawn get a marker on every point; denser ones only
/// on points that stand alone between gaps.
const MARKER_LIMIT: usize = 100;

/// Legend rows of a [`plot_series`] chart; further series are counted as "+N more".
const LEGEND_MAX_ROWS: usize = 4;

/// The shape of a point marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

/// Colour and marker of series `i`: the palette, then again with another marker shape.
fn series_style(i: usize) -> (RGBColor, Marker) {
    const MARKERS: [Marker; 4] = [
        Marker::Circle,
        Marker::Square,
        Marker::Triangle,
        Marker::Diamond,
    ];
    let n = SERIES_COLORS.len();
    (SERIES_COLORS[i % n], MARKERS[i / n % MARKERS.len()])
}

/// Draws a filled `marker` of about 9 pixels across centred on the pixel `(x, y)`.
fn draw_marker(
    root: &Area<'_>,
    (x, y): (i32, i32),
    marker: Marker,
    color: RGBColor,
) -> Result<(), DrawError> {
    let style = color.filled();
    match marker {
        Marker::Circle => root.draw(&Circle::new((x, y), 4, style)),
        Marker::Square => root.draw(&Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], style)),
        Marker::Triangle => root.draw(&Polygon::new(
            vec![(x, y - 5), (x + 5, y + 4), (x - 5, y + 4)],
            style,
        )),
        Marker::Diamond => root.draw(&Polygon::new(
            vec![(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)],
            style,
        )),
    }
}

/// `text`, shortened with an ellipsis to at most `max_width` pixels in `style`.
fn fit_text(canvas: &Canvas, text: &str, style: Style, max_width: f32) -> String {
    if canvas.width(text, style) <= max_width {
        return text.to_string();
    }
    // A label never needs more characters than this; it also bounds the work below.
    let mut chars: Vec<char> = text.chars().take(200).collect();
    loop {
        let candidate: String = chars.iter().chain(['…'].iter()).collect();
        if chars.is_empty() || canvas.width(&candidate, style) <= max_width {
            return candidate;
        }
        chars.pop();
    }
}

/// One axis of a [`plot_series`] chart. Its range is in axis space: the values themselves on
/// a linear axis, their base-10 logarithms on a log axis.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
}

impl Axis {
    /// Whether `v` can be drawn on an axis: finite, and positive on a log axis.
    fn plottable(log: bool, v: f64) -> bool {
        v.is_finite() && (!log || v > 0.0)
    }

    /// A plottable `v` in axis space.
    fn space(log: bool, v: f64) -> f64 {
        if log { v.log10() } else { v }
    }

    /// The axis over the axis-space values `lo..=hi` (finite, `lo <= hi`), padded by 6% of
    /// the span each side, as the learning curves are. A log axis spans at least one decade; equal values on a linear
    /// axis get a tenth of their size each side (±1 around 0). Differences are taken of
    /// halves, so values near `f64::MAX` do not overflow.
    fn new(log: bool, lo: f64, hi: f64) -> Axis {
        let mid = lo / 2.0 + hi / 2.0;
        let mut half = hi / 2.0 - lo / 2.0;
        if log {
            half = half.max(0.5);
        } else if half <= 1e-9 * lo.abs().max(hi.abs()) {
            half = if mid == 0.0 { 1.0 } else { 0.1 * mid.abs() };
        }
        let half = 1.12 * half;
        let (lo, hi) = ((mid - half).max(-f64::MAX), (mid + half).min(f64::MAX));
        if hi / 2.0 - lo / 2.0 > 0.0 {
            Axis { log, lo, hi }
        } else {
            // Values so close to 0 that a tenth of them rounds away.
            Axis {
                log,
                lo: mid - 1.0,
                hi: mid + 1.0,
            }
        }
    }

    /// Where the axis-space value `u` lies along the axis: 0 at its low end, 1 at its high.
    fn frac(&self, u: f64) -> f64 {
        (u / 2.0 - self.lo / 2.0) / (self.hi / 2.0 - self.lo / 2.0)
    }

    /// Labelled ticks (about `count` at most) and unlabelled minor ones, in axis space.
    fn ticks(&self, count: usize) -> (Vec<(f64, String)>, Vec<f64>) {
        if self.log {
            log_ticks(self.lo, self.hi, count)
        } else {
            (linear_ticks(self.lo, self.hi, count), Vec::new())
        }
    }
}

/// Round ticks over `lo..=hi` (finite, `lo < hi`), about `count` at most, with their labels.
fn linear_ticks(lo: f64, hi: f64, count: usize) -> Vec<(f64, String)> {
    // Half the span over half the count: the span itself may overflow.
    let half = hi / 2.0 - lo / 2.0;
    let count = count.max(2);
    let mut step = nice_step(half, count / 2);
    if !(step.is_finite() && step > 0.0) {
        step = half / (count / 2) as f64;
    }
    if !(step.is_finite() && step > 0.0) {
        return Vec::new();
    }
    let (first, last) = ((lo / step).ceil(), (hi / step + 1e-9).floor());
    if !(first.is_finite() && last.is_finite()) || last - first > 100.0 {
        return Vec::new();
    }
    let magnitude = lo.abs().max(hi.abs());
    (first as i64..=last as i64)
        .map(|k| k as f64 * step)
        .filter(|v| v.is_finite())
        .map(|v| (v, linear_label(v, step, magnitude)))
        .collect()
}

/// The label of the tick `v` of an axis with ticks `step` apart and values up to
/// `magnitude`: plain decimals such as `0.25` or `1500`, or scientific notation such as
/// `2.5e-6` or `1.2e9` for very small steps or large values.
fn linear_label(v: f64, step: f64, magnitude: f64) -> String {
    if magnitude < 1e6 && step >= 1e-4 {
        return format!("{:.*}", decimals_for(step), v);
    }
    if v == 0.0 {
        return "0".into();
    }
    let exponent = |x: f64| x.abs().log10().floor() as i32;
    let step_exponent = exponent(step);
    // 2.5 times a power of ten needs one more digit.
    let extra = decimals_for(step / 10f64.powi(step_exponent)).min(1) as i32;
    let digits = (exponent(v) - step_exponent + extra).clamp(0, 16) as usize;
    let text = format!("{v:.digits$e}");
    match text.split_once('e') {
        Some((mantissa, exp)) if mantissa.contains('.') => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exp}")
        }
        _ => text,
    }
}

/// Ticks of a log axis over the base-10 exponents `lo..=hi` (finite, at least a decade
/// apart): labelled powers of ten (every second, fifth, … decade if there are more than
/// about `count`), with 2 and 5 times them labelled too if fewer than three powers fall
/// inside; unlabelled minor ticks at the other multiples 2 to 9 if every decade is labelled.
/// Labels are plain (`0.001`, `500`) if every exponent is within ±3, else like `1e-5`.
fn log_ticks(lo: f64, hi: f64, count: usize) -> (Vec<(f64, String)>, Vec<f64>) {
    // Exponents of finite positive f64s lie within ±330; the clamp bounds the loops below
    // whatever the input.
    let (lo, hi) = (lo.max(-400.0), hi.min(400.0));
    if lo >= hi {
        return (Vec::new(), Vec::new());
    }
    let (first, last) = (lo.ceil() as i32, hi.floor() as i32);
    let decades = (last - first + 1).max(0) as usize;
    let every = [1, 2, 3, 5, 10, 20, 25, 50, 100]
        .into_iter()
        .find(|&s| decades.div_ceil(s) <= count.max(1))
        .unwrap_or(100);
    let position = |(m, e): (i32, i32)| f64::from(m).log10() + f64::from(e);
    let inside = |u: f64| u >= lo - 1e-9 && u <= hi + 1e-9;
    let mut marks: Vec<(i32, i32)> = (first..=last)
        .filter(|e| e.rem_euclid(every as i32) == 0)
        .map(|e| (1, e))
        .collect();
    if marks.len() < 3 {
        marks = (lo.floor() as i32..=last)
            .flat_map(|e| [1, 2, 5].map(|m| (m, e)))
            .filter(|&mark| inside(position(mark)))
            .collect();
    }
    let minor = if every == 1 && decades <= 12 {
        (lo.floor() as i32..=last)
            .flat_map(|e| (2..=9).map(move |m| (m, e)))
            .filter(|mark| !marks.contains(mark))
            .map(position)
            .filter(|&u| inside(u))
            .collect()
    } else {
        Vec::new()
    };
    let plain = marks.iter().all(|&(_, e)| (-3..=3).contains(&e));
    let major = marks
        .iter()
        .map(|&(m, e)| {
            let label = if !plain {
                format!("{m}e{e}")
            } else if e >= 0 {
                (i64::from(m) * 10i64.pow(e.unsigned_abs())).to_string()
            } else {
                format!(
                    "{:.*}",
                    e.unsigned_abs() as usize,
                    f64::from(m) * 10f64.powi(e)
                )
            };
            (position((m, e)), label)
        })
        .collect();
    (major, minor)
}

/// Draws `series` as one PNG chart of [`SERIES_CHART_SIZE`]: each series a line with a
/// marker on each point, titled by `chart`, with axis descriptions, tick labels, gridlines
/// and a legend naming the series above the plot.
///
/// Series take the colours of the Okabe–Ito palette in order (blue, orange, bluish green,
/// vermillion, reddish purple, sky blue, yellow, black); from the ninth on the colours
/// repeat with square, then triangular, then diamond markers instead of round ones. Series
/// of more than 100 drawn points get markers only where a point stands alone.
///
/// Points with a non-finite coordinate (a diverged run's NaN or infinite loss, say) are
/// left out, as are points with a coordinate that is not positive on a log axis; each such
/// point breaks its line. A series with no point left is still named in the legend, marked
/// "(no points)". The axes span the points drawn, padded; a single point or equal values
/// still get a range around them. Linear axes have round ticks; log axes have ticks at
/// powers of ten (labelled `0.001` … `1000`, or `1e-5` beyond), and at 2 and 5 times them
/// when the range covers less than three powers. An empty name is shown as "series N"; names
/// too long for the legend are shortened, and series beyond four legend rows are counted
/// as "+N more".
///
/// # Errors
/// [`ReportError::NothingToPlot`] if no series has a point to draw (the file is not
/// written); [`ReportError::MissingFont`] or [`ReportError::InvalidFont`] if the chart font
/// cannot be used; [`ReportError::Draw`] if drawing or encoding the chart fails;
/// [`ReportError::Io`] if the file cannot be written.
///
/// ```no_run
/// use firmnet::host::report::{self, Chart, Series};
/// # fn run() -> Result<(), firmnet::host::ReportError> {
/// let adam = [(1.0, 0.9), (2.0, 0.5), (3.0, 0.31)];
/// let sgd = [(1.0, 1.2), (2.0, f64::NAN), (3.0, 0.7)];
/// let chart = Chart {
///     title: "Training loss",
///     x_label: "Epoch",
///     y_label: "Loss",
///     log_y: true,
///     ..Chart::default()
/// };
/// report::plot_series(
///     "out/loss.png",
///     &chart,
///     &[
///         Series { name: "Adam", points: &adam },
///         Series { name: "SGD", points: &sgd },
///     ],
/// )?;
/// # Ok(())
/// # }
/// ```
pub fn plot_series(
    path: impl AsRef<Path>,
    chart: &Chart,
    series: &[Series],
) -> Result<(), ReportError> {
    let path = path.as_ref();
    let (log_x, log_y) = (chart.log_x, chart.log_y);
    let mut bounds: Option<[f64; 4]> = None;
    for &(x, y) in series.iter().flat_map(|s| s.points) {
        if Axis::plottable(log_x, x) && Axis::plottable(log_y, y) {
            let (u, v) = (Axis::space(log_x, x), Axis::space(log_y, y));
            bounds = Some(match bounds {
                None => [u, u, v, v],
                Some([x_lo, x_hi, y_lo, y_hi]) => {
                    [x_lo.min(u), x_hi.max(u), y_lo.min(v), y_hi.max(v)]
                }
            });
        }
    }
    let Some([x_lo, x_hi, y_lo, y_hi]) = bounds else {
        return Err(ReportError::NothingToPlot {
            path: path.to_path_buf(),
        });
    };
    let axes = (Axis::new(log_x, x_lo, x_hi), Axis::new(log_y, y_lo, y_hi));
    render_png(path, SERIES_CHART_SIZE, |root, canvas| {
        draw_series_chart(root, canvas, chart, series, axes)
    })
}

fn draw_series_chart(
    root: &Area<'_>,
    canvas: &mut Canvas,
    chart: &Chart,
    series: &[Series],
    (x_axis, y_axis): (Axis, Axis),
) -> Result<(), DrawError> {
    root.fill(&WHITE)?;
    let (w, _) = root.dim_in_pixel();
    let cx = w as i32 / 2;
    canvas.text(
        chart.title,
        (cx, 32),
        Style::new(24.0).bold().align(Align::Middle, Align::Middle),
    );

    // The legend, in as many rows as it needs (up to a limit), pushes the plot down.
    let drawable =
        |&(x, y): &(f64, f64)| Axis::plottable(x_axis.log, x) && Axis::plottable(y_axis.log, y);
    let legend_width = w as i32 - 80;
    let label_width = (legend_width - LEGEND_KEY - LEGEND_KEY_GAP) as f32;
    let items = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (color, marker) = series_style(i);
            let mut name = if s.name.trim().is_empty() {
                format!("series {}", i + 1)
            } else {
                s.name.to_string()
            };
            if !s.points.iter().any(drawable) {
                name.push_str(" (no points)");
            }
            let label = fit_text(canvas, &name, LEGEND_STYLE, label_width);
            (LegendKey::Marked(color, marker), label)
        })
        .collect();
    let rows = legend_rows(canvas, items, legend_width, LEGEND_MAX_ROWS);
    for (r, row) in rows.iter().enumerate() {
        draw_legend(root, canvas, (cx, 68 + LEGEND_ROW * r as i32), row)?;
    }
    let header = 92 + LEGEND_ROW * (rows.len() as i32 - 1).max(0);
    let (_, body) = root.split_vertically(header);

    // Y ticks and their labels decide the width of the label area.
    let tick_style = Style::new(14.0).color(MUTED);
    let (y_major, y_minor) = y_axis.ticks(if y_axis.log { 10 } else { 8 });
    let label_w = y_major
        .iter()
        .map(|(_, s)| canvas.width(s, tick_style).ceil() as i32)
        .max()
        .unwrap_or(0);
    let plot = ChartBuilder::on(&body)
        .margin_top(16)
        .margin_right(32)
        .margin_left(16)
        .margin_bottom(8)
        .x_label_area_size(62)
        .y_label_area_size(label_w + 48)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    let (xs, ys) = plot.plotting_area().get_pixel_range();
    let (left, right, top, bottom) = (xs.start, xs.end - 1, ys.start, ys.end - 1);
    let pixel = |(u, v): (f64, f64)| plot.backend_coord(&(x_axis.frac(u), y_axis.frac(v)));

    // As many x ticks as their labels leave room for.
    let (x_major, x_minor) = [12, 10, 8, 6, 4]
        .into_iter()
        .map(|n| x_axis.ticks(n))
        .find(|(major, _)| {
            let widest = major
                .iter()
                .map(|(_, s)| canvas.width(s, tick_style))
                .fold(0.0f32, f32::max);
            (widest + 24.0) * major.len() as f32 <= (right - left) as f32
        })
        .unwrap_or_else(|| x_axis.ticks(2));

    // Grid, axes, ticks and their labels.
    let line = |points: Vec<(i32, i32)>, color: RGBColor| {
        root.draw(&PathElement::new(points, color.stroke_width(1)))
    };
    for &u in &x_minor {
        let (x, _) = pixel((u, y_axis.lo));
        line(vec![(x, top), (x, bottom)], MINOR_GRID)?;
    }
    for &v in &y_minor {
        let (_, y) = pixel((x_axis.lo, v));
        line(vec![(left, y), (right, y)], MINOR_GRID)?;
    }
    for (v, label) in &y_major {
        let (_, y) = pixel((x_axis.lo, *v));
        line(vec![(left, y), (right, y)], GRID)?;
        line(vec![(left - 5, y), (left, y)], AXIS)?;
        canvas.text(
            label.clone(),
            (left - 10, y),
            tick_style.align(Align::End, Align::Middle),
        );
    }
    for (u, label) in &x_major {
        let (x, _) = pixel((*u, y_axis.lo));
        line(vec![(x, top), (x, bottom)], GRID)?;
        line(vec![(x, bottom), (x, bottom + 5)], AXIS)?;
        canvas.text(
            label.clone(),
            (x, bottom + 12),
            tick_style.align(Align::Middle, Align::Start),
        );
    }
    line(vec![(left, top), (left, bottom), (right, bottom)], AXIS)?;
    let desc = Style::new(15.0)
        .color(TEXT)
        .align(Align::Middle, Align::Middle);
    canvas.text(chart.x_label, ((left + right) / 2, bottom + 46), desc);
    canvas.text(
        chart.y_label,
        (left - label_w - 30, (top + bottom) / 2),
        desc.vertical(),
    );

    // Each series: its lines, broken where a point is left out, then its markers.
    for (i, s) in series.iter().enumerate() {
        let (color, marker) = series_style(i);
        let mut segments: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut segment = Vec::new();
        for p in s.points {
            if drawable(p) {
                let (u, v) = (Axis::space(x_axis.log, p.0), Axis::space(y_axis.log, p.1));
                segment.push((x_axis.frac(u), y_axis.frac(v)));
            } else if !segment.is_empty() {
                segments.push(core::mem::take(&mut segment));
            }
        }
        if !segment.is_empty() {
            segments.push(segment);
        }
        for segment in segments.iter().filter(|s| s.len() > 1) {
            root.draw(&PathElement::new(
                segment
                    .iter()
                    .map(|p| plot.backend_coord(p))
                    .collect::<Vec<_>>(),
                color.stroke_width(3),
            ))?;
        }
        let every_point = segments.iter().map(Vec::len).sum::<usize>() <= MARKER_LIMIT;
        for segment in segments.iter().filter(|s| every_point || s.len() == 1) {
            for p in segment {
                draw_marker(root, plot.backend_coord(p), marker, color)?;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Confusion matrix

/// Counts of (true class, predicted class) pairs of a classifier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major: `counts[label * classes + predicted]`.
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An empty matrix over `classes` classes.
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    /// The matrix of `predictions` against the true `labels` (one each per sample), e.g.
    /// `labels` of [`Samples::y`](super::Samples::y) and
    /// [`Evaluation::predictions`].
    ///
    /// # Errors
    /// [`ConfusionError::LengthMismatch`] if the slices differ in length,
    /// [`ConfusionError::ClassOutOfRange`] naming the first sample with a class not below
    /// `classes`.
    pub fn from_predictions(
        classes: usize,
        labels: &[u16],
        predictions: &[u16],
    ) -> Result<Self, ConfusionError> {
        if labels.len() != predictions.len() {
            return Err(ConfusionError::LengthMismatch {
                labels: labels.len(),
                predictions: predictions.len(),
            });
        }
        let mut matrix = ConfusionMatrix::new(classes);
        for (i, (&label, &predicted)) in labels.iter().zip(predictions).enumerate() {
            matrix
                .add(usize::from(label), usize::from(predicted))
                .map_err(|e| match e {
                    ConfusionError::ClassOutOfRange { class, classes, .. } => {
                        ConfusionError::ClassOutOfRange {
                            sample: Some(i),
                            class,
                            classes,
                        }
                    }
                    other => other,
                })?;
        }
        Ok(matrix)
    }

    /// Counts one sample of class `label` predicted as `predicted`.
    ///
    /// # Errors
    /// [`ConfusionError::ClassOutOfRange`] if either is not below [`classes`](Self::classes).
    pub fn add(&mut self, label: usize, predicted: usize) -> Result<(), ConfusionError> {
        for class in [label, predicted] {
            if class >= self.classes {
                return Err(ConfusionError::ClassOutOfRange {
                    sample: None,
                    class,
                    classes: self.classes,
                });
            }
        }
        self.counts[label * self.classes + predicted] += 1;
        Ok(())
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Samples of class `label` predicted as `predicted` (0 outside the matrix).
    pub fn count(&self, label: usize, predicted: usize) -> u64 {
        if label < self.classes && predicted < self.classes {
            self.counts[label * self.classes + predicted]
        } else {
            0
        }
    }

    /// All counts, row-major: row = true class, column = predicted class.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// Number of samples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Number of samples classified correctly (the diagonal).
    pub fn correct(&self) -> u64 {
        (0..self.classes).map(|c| self.count(c, c)).sum()
    }

    /// Fraction classified correctly; `None` if nothing was counted.
    pub fn accuracy(&self) -> Option<f64> {
        ratio(self.correct(), self.total())
    }

    /// Samples whose true class is `class` (its row sum).
    pub fn support(&self, class: usize) -> u64 {
        (0..self.classes).map(|p| self.count(class, p)).sum()
    }

    /// Samples predicted as `class` (its column sum).
    pub fn predicted(&self, class: usize) -> u64 {
        (0..self.classes).map(|l| self.count(l, class)).sum()
    }

    /// Of the samples predicted as `class`, the fraction that are `class`; `None` if none
    /// was predicted as `class`.
    pub fn precision(&self, class: usize) -> Option<f64> {
        ratio(self.count(class, class), self.predicted(class))
    }

    /// Of the samples of `class`, the fraction predicted as `class` (the accuracy within the
    /// class); `None` if there is none.
    pub fn recall(&self, class: usize) -> Option<f64> {
        ratio(self.count(class, class), self.support(class))
    }

    /// Harmonic mean of precision and recall; `None` if either is undefined or both are 0.
    pub fn f1(&self, class: usize) -> Option<f64> {
        let (p, r) = (self.precision(class)?, self.recall(class)?);
        (p + r > 0.0).then(|| 2.0 * p * r / (p + r))
    }

    /// One-vs-rest accuracy of `class`: the fraction of all samples on which "is it `class`?"
    /// is answered right (true positives and true negatives); `None` if nothing was counted.
    pub fn class_accuracy(&self, class: usize) -> Option<f64> {
        let tp = self.count(class, class);
        let false_negatives = self.support(class) - tp;
        let false_positives = self.predicted(class) - tp;
        let total = self.total();
        ratio(total - false_negatives - false_positives, total)
    }

    /// A plain-text rendering with class names (an empty slice numbers the classes): the
    /// matrix, then precision, recall, F1 and support per class.
    pub fn table<'a>(&'a self, class_names: &'a [&'a str]) -> ConfusionTable<'a> {
        ConfusionTable {
            matrix: self,
            names: class_names,
        }
    }

    /// Draws the matrix as a PNG heatmap of [`CONFUSION_MATRIX_SIZE`], with a title giving
    /// the number of samples and the accuracy. See [`plot_with_title`](Self::plot_with_title).
    ///
    /// # Errors
    /// As [`plot_with_title`](Self::plot_with_title).
    pub fn plot(&self, path: impl AsRef<Path>, class_names: &[&str]) -> Result<(), ReportError> {
        self.plot_with_title(path, class_names, "Confusion matrix")
    }

    /// Draws the matrix as a PNG heatmap of [`CONFUSION_MATRIX_SIZE`]: rows are true
    /// classes, columns predicted ones, each cell holds its count and is shaded by its share
    /// of the row; recall closes each row and precision each column. `class_names` label the
    /// axes (an empty slice numbers the classes).
    ///
    /// # Errors
    /// [`ReportError::Invalid`] if there are no classes or `class_names` is neither empty nor
    /// one name per class; [`ReportError::MissingFont`] if the chart font is missing;
    /// [`ReportError::Io`] if the file cannot be written.
    pub fn plot_with_title(
        &self,
        path: impl AsRef<Path>,
        class_names: &[&str],
        title: &str,
    ) -> Result<(), ReportError> {
        let path = path.as_ref();
        let invalid = |message: String| ReportError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if self.classes == 0 {
            return Err(invalid("the matrix has no classes".into()));
        }
        let names = class_labels(self.classes, class_names).map_err(invalid)?;
        render_png(path, CONFUSION_MATRIX_SIZE, |root, canvas| {
            self.draw(root, canvas, &names, title)
        })
    }

    fn draw(
        &self,
        root: &Area<'_>,
        canvas: &mut Canvas,
        names: &[String],
        title: &str,
    ) -> Result<(), DrawError> {
        let n = self.classes as i32;
        let (w, h) = root.dim_in_pixel();
        let (w, h) = (w as i32, h as i32);
        root.fill(&WHITE)?;

        let centre = Align::Middle;
        canvas.text(
            title,
            (w / 2, 32),
            Style::new(24.0).bold().align(centre, centre),
        );
        let subtitle = format!(
            "{} samples  ·  accuracy {}  ·  shading: share of the true class",
            grouped(self.total()),
            percent(self.accuracy(), 2)
        );
        canvas.text(
            subtitle,
            (w / 2, 64),
            Style::new(15.0).color(MUTED).align(centre, centre),
        );

        // Layout: axis title and row names on the left, axis title and column names on top,
        // the matrix, a recall column on the right and a precision row at the bottom.
        let label = Style::new(14.0);
        let summary_label = label.bold();
        let widest = names
            .iter()
            .map(|s| canvas.width(s, label))
            .chain([canvas.width("Precision", summary_label)])
            .fold(0.0f32, f32::max)
            .ceil() as i32;
        let column_widest = names
            .iter()
            .map(|s| canvas.width(s, label))
            .chain([canvas.width("Recall", summary_label)])
            .fold(0.0f32, f32::max)
            .ceil() as i32;
        let axis_title = Style::new(16.0).bold();
        let (left, right_pad, bottom_pad, gap) = (40 + widest + 12, 32, 28, 8);
        let avail_w = w - left - right_pad - gap;
        let vertical = column_widest > avail_w / (n + 1) - 10;
        let column_labels = if vertical { column_widest + 16 } else { 30 };
        let head = 32 + column_labels;
        let avail_h = h - 92 - head - bottom_pad - gap;
        let cell = (avail_w / (n + 1)).min(avail_h / (n + 1)).clamp(6, 160);
        // Centre the block (axis title, column names, matrix) in the height left.
        let header_top = 92 + (avail_h - cell * (n + 1)).max(0) / 2;
        let y0 = header_top + head;
        // Centre the matrix and its labels horizontally.
        let block = 40 + widest + 12 + cell * (n + 1) + gap;
        let x0 = (w - block) / 2 + 40 + widest + 12;
        let (matrix_right, matrix_bottom) = (x0 + cell * n, y0 + cell * n);

        canvas.text(
            "Predicted class",
            (x0 + cell * n / 2, header_top + 10),
            axis_title.align(centre, centre),
        );
        canvas.text(
            "True class",
            (x0 - 12 - widest - 22, y0 + cell * n / 2),
            axis_title.align(centre, centre).vertical(),
        );

        // Column names (turned when they do not fit) and row names.
        let mut column_label = |text: &str, x: i32, style: Style| {
            if vertical {
                canvas.text(
                    text,
                    (x, y0 - 10),
                    style.align(Align::Start, centre).vertical(),
                );
            } else {
                canvas.text(text, (x, y0 - 10), style.align(centre, Align::End));
            }
        };
        for (c, name) in names.iter().enumerate() {
            column_label(name, x0 + c as i32 * cell + cell / 2, label);
        }
        column_label("Recall", matrix_right + gap + cell / 2, summary_label);
        for (c, name) in names.iter().enumerate() {
            canvas.text(
                name.clone(),
                (x0 - 12, y0 + c as i32 * cell + cell / 2),
                label.align(Align::End, centre),
            );
        }
        canvas.text(
            "Precision",
            (x0 - 12, matrix_bottom + gap + cell / 2),
            summary_label.align(Align::End, centre),
        );

        // Cells: counts shaded by their share of the row.
        let widest_count = self
            .counts
            .iter()
            .map(|&c| canvas.width(&grouped(c), Style::new(10.0).bold()))
            .fold(1.0f32, f32::max);
        let count_size = (cell as f32 * 0.28)
            .min(10.0 * (cell as f32 * 0.8) / widest_count)
            .clamp(6.0, 20.0);
        let rate_decimals = if cell >= 48 { 1 } else { 0 };
        let widest_rate = if rate_decimals == 1 { "100.0%" } else { "100%" };
        let rate_size = (10.0 * (cell as f32 * 0.8) / canvas.width(widest_rate, Style::new(10.0)))
            .min(cell as f32 * 0.24)
            .clamp(6.0, 16.0);
        let tile = |x: i32, y: i32, color: RGBColor| {
            Rectangle::new(
                [(x + 1, y + 1), (x + cell - 1, y + cell - 1)],
                color.filled(),
            )
        };
        for l in 0..self.classes {
            let row = self.support(l);
            for p in 0..self.classes {
                let count = self.count(l, p);
                let share = if row == 0 {
                    0.0
                } else {
                    count as f64 / row as f64
                };
                let (x, y) = (x0 + p as i32 * cell, y0 + l as i32 * cell);
                root.draw(&tile(x, y, blues(share)))?;
                let color = if count == 0 {
                    FAINT
                } else if share > 0.45 {
                    WHITE
                } else {
                    TEXT
                };
                let mut style = Style::new(count_size).color(color).align(centre, centre);
                if l == p {
                    style = style.bold();
                }
                canvas.text(grouped(count), (x + cell / 2, y + cell / 2), style);
            }
        }

        // Recall closes each row, precision each column, accuracy sits in the corner.
        let rate = Style::new(rate_size).align(centre, centre);
        for c in 0..self.classes {
            let offset = c as i32 * cell;
            let (x, y) = (matrix_right + gap, y0 + offset);
            root.draw(&tile(x, y, PANEL))?;
            canvas.text(
                percent(self.recall(c), rate_decimals),
                (x + cell / 2, y + cell / 2),
                rate,
            );
            let (x, y) = (x0 + offset, matrix_bottom + gap);
            root.draw(&tile(x, y, PANEL))?;
            canvas.text(
                percent(self.precision(c), rate_decimals),
                (x + cell / 2, y + cell / 2),
                rate,
            );
        }
        let (x, y) = (matrix_right + gap, matrix_bottom + gap);
        root.draw(&tile(x, y, CORNER))?;
        canvas.text(
            percent(self.accuracy(), rate_decimals),
            (x + cell / 2, y + cell / 2),
            rate.bold(),
        );
        Ok(())
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The given names, or class numbers if there are none.
fn class_labels(classes: usize, names: &[&str]) -> Result<Vec<String>, String> {
    match names.len() {
        0 => Ok((0..classes).map(|c| c.to_string()).collect()),
        k if k == classes => Ok(names.iter().map(|s| s.to_string()).collect()),
        k => Err(format!("{k} class names for {classes} classes")),
    }
}

/// A sequential white-to-blue scale for `v` in `[0, 1]`.
fn blues(v: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (247, 251, 255),
        (222, 235, 247),
        (198, 219, 239),
        (158, 202, 225),
        (107, 174, 214),
        (66, 146, 198),
        (33, 113, 181),
        (8, 81, 156),
        (8, 48, 107),
    ];
    let t = if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    } * (STOPS.len() - 1) as f64;
    let i = (t.floor() as usize).min(STOPS.len() - 2);
    let f = t - i as f64;
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.table(&[]), f)
    }
}

/// A [`ConfusionMatrix`] as plain text with class names, from [`ConfusionMatrix::table`].
#[derive(Clone, Copy, Debug)]
pub struct ConfusionTable<'a> {
    matrix: &'a ConfusionMatrix,
    names: &'a [&'a str],
}

impl fmt::Display for ConfusionTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.matrix;
        let n = m.classes;
        // Rows are named "index name"; columns are numbered to keep the table narrow.
        let row_names: Vec<String> = (0..n)
            .map(|c| match self.names.get(c) {
                Some(name) if self.names.len() == n => format!("{c} {name}"),
                _ => c.to_string(),
            })
            .collect();
        let name_w = row_names
            .iter()
            .map(|s| s.chars().count())
            .chain(["precision".len(), "true \\ predicted".len()])
            .max()
            .unwrap_or(0);
        let count_w = m
            .counts
            .iter()
            .map(|&c| grouped(c).len())
            .chain([n.saturating_sub(1).to_string().len(), 6])
            .max()
            .unwrap_or(6);

        writeln!(
            f,
            "Confusion matrix: {} samples, accuracy {} (rows: true class, columns: predicted)",
            grouped(m.total()),
            percent(m.accuracy(), 2)
        )?;
        write!(f, "{:<name_w$}", "true \\ predicted")?;
        for c in 0..n {
            write!(f, " {c:>count_w$}")?;
        }
        writeln!(f, "  {:>7}", "recall")?;
        for (l, name) in row_names.iter().enumerate() {
            write!(f, "{name:<name_w$}")?;
            for p in 0..n {
                write!(f, " {:>count_w$}", grouped(m.count(l, p)))?;
            }
            writeln!(f, "  {:>7}", percent(m.recall(l), 1))?;
        }
        write!(f, "{:<name_w$}", "precision")?;
        for c in 0..n {
            write!(f, " {:>count_w$}", percent(m.precision(c), 1))?;
        }
        writeln!(f)?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<name_w$}  {:>9}  {:>7}  {:>7}  {:>9}  {:>7}",
            "class", "precision", "recall", "f1", "accuracy", "support"
        )?;
        for (c, name) in row_names.iter().enumerate() {
            writeln!(
                f,
                "{name:<name_w$}  {:>9}  {:>7}  {:>7}  {:>9}  {:>7}",
                percent(m.precision(c), 1),
                percent(m.recall(c), 1),
                percent(m.f1(c), 1),
                percent(m.class_accuracy(c), 1),
                grouped(m.support(c))
            )?;
        }
        writeln!(
            f,
            "(accuracy of a class: that class against the rest, over all samples)"
        )?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Summary

/// A short end-of-run summary, printed with `Display`.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Epochs trained.
    pub epochs: usize,
    /// The most epochs the run could have trained, if known.
    pub max_epochs: Option<usize>,
    /// The epoch whose weights the network holds.
    pub best_epoch: usize,
    /// Whether early stopping ended the run before its last epoch.
    pub stopped_early: bool,
    /// The record of [`best_epoch`](Self::best_epoch), if it is in the history: its training
    /// values were measured during the epoch (dropout and noise on), its validation values
    /// in inference mode.
    pub best: Option<EpochRecord>,
    /// Loss and accuracy on the test set, if evaluated.
    pub test: Option<(f32, f32)>,
    /// Seconds spent in training steps.
    pub train_seconds: f64,
    /// Training samples per second over the whole run.
    pub samples_per_second: f64,
    /// Seconds the whole run took (loading, validation and testing included), if known.
    pub wall_seconds: Option<f64>,
}

impl Summary {
    /// The summary of `fit`, with the test-set `test` evaluation if there is one.
    pub fn new(fit: &FitSummary, test: Option<&Evaluation>) -> Self {
        let samples: f64 = fit
            .history
            .iter()
            .map(|r| r.samples_per_second * r.train_seconds)
            .sum();
        Summary {
            epochs: fit.history.len(),
            max_epochs: None,
            best_epoch: fit.best_epoch,
            stopped_early: fit.stopped_early,
            best: fit
                .history
                .iter()
                .find(|r| r.epoch == fit.best_epoch)
                .copied(),
            test: test.map(|e| (e.loss, e.accuracy)),
            train_seconds: fit.train_seconds,
            samples_per_second: if fit.train_seconds > 0.0 {
                samples / fit.train_seconds
            } else {
                0.0
            },
            wall_seconds: None,
        }
    }

    /// With the most epochs the run could have trained.
    pub fn with_max_epochs(mut self, max_epochs: usize) -> Self {
        self.max_epochs = Some(max_epochs);
        self
    }

    /// With the time the whole run took.
    pub fn with_wall_time(mut self, elapsed: std::time::Duration) -> Self {
        self.wall_seconds = Some(elapsed.as_secs_f64());
        self
    }
}

/// `seconds` as `12.3 s` or, from a minute on, `4 min 05 s (245.0 s)`.
fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as u64;
    let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60);
    if h > 0 {
        format!("{h} h {m:02} min {s:02} s ({seconds:.0} s)")
    } else {
        format!("{m} min {s:02} s ({seconds:.1} s)")
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const W: usize = 12;
        writeln!(f, "Run summary")?;
        write!(f, "  {:<W$}{}", "epochs", self.epochs)?;
        if let Some(max) = self.max_epochs {
            write!(f, " of {max}")?;
        }
        if self.stopped_early {
            writeln!(f, ", stopped early")?;
        } else {
            writeln!(f, ", ran to the end")?;
        }
        write!(f, "  {:<W$}{}", "best epoch", self.best_epoch)?;
        if let Some(best) = &self.best {
            write!(
                f,
                " (validation accuracy {})",
                percent(Some(f64::from(best.val.accuracy.unwrap_or(f32::NAN))), 2)
            )?;
        }
        writeln!(f, "; the network holds its weights")?;
        let acc = |x: f32| percent(Some(f64::from(x)), 2);
        let loss = |x: f32| format!("{x:.4}");
        let test = self.test;
        if let Some(best) = &self.best {
            write!(
                f,
                "  {:<W$}train {}  validation {}",
                "accuracy",
                acc(best.train.accuracy.unwrap_or(f32::NAN)),
                acc(best.val.accuracy.unwrap_or(f32::NAN))
            )?;
            if let Some((_, a)) = test {
                write!(f, "  test {}", acc(a))?;
            }
            writeln!(f)?;
            write!(
                f,
                "  {:<W$}train {}  validation {}",
                "loss",
                loss(best.train.loss),
                loss(best.val.loss)
            )?;
            if let Some((l, _)) = test {
                write!(f, "  test {}", loss(l))?;
            }
            writeln!(f)?;
        } else if let Some((l, a)) = test {
            writeln!(f, "  {:<W$}test {}", "accuracy", acc(a))?;
            writeln!(f, "  {:<W$}test {}", "loss", loss(l))?;
        }
        let rate = if self.samples_per_second.is_finite() {
            grouped(self.samples_per_second.round() as u64)
        } else {
            "–".into()
        };
        writeln!(
            f,
            "  {:<W$}{} in training steps, {rate} samples/s",
            "training",
            duration(self.train_seconds),
        )?;
        if let Some(wall) = self.wall_seconds {
            writeln!(f, "  {:<W$}{}", "wall time", duration(wall))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(ticks: &[(f64, String)]) -> Vec<&str> {
        ticks.iter().map(|(_, s)| s.as_str()).collect()
    }

    #[test]
    fn linear_axis_ranges() {
        // Spread values: padded by 6% of the span.
        let a = Axis::new(false, 0.0, 10.0);
        assert!(
            (a.lo + 0.6).abs() < 1e-12 && (a.hi - 10.6).abs() < 1e-12,
            "{a:?}"
        );
        // A single value or equal ones: a tenth of the value each side, ±1 around 0.
        let a = Axis::new(false, 5.0, 5.0);
        assert!(
            a.lo < 4.6 && a.lo > 4.4 && a.hi > 5.4 && a.hi < 5.6,
            "{a:?}"
        );
        let a = Axis::new(false, 0.0, 0.0);
        assert!(a.lo < -0.9 && a.hi > 0.9, "{a:?}");
        let a = Axis::new(false, -3.0, -3.0);
        assert!(a.lo < -3.0 && a.hi > -3.0 && a.hi < 0.0, "{a:?}");
        // Extremes stay finite and ordered, and map into [0, 1].
        for (lo, hi) in [
            (-f64::MAX, f64::MAX),
            (f64::MAX, f64::MAX),
            (5e-324, 5e-324),
            (-1e-320, 1e-320),
        ] {
            let a = Axis::new(false, lo, hi);
            assert!(a.lo.is_finite() && a.hi.is_finite() && a.lo < a.hi, "{a:?}");
            for v in [lo, hi] {
                let f = a.frac(v);
                assert!((0.0..=1.0).contains(&f), "{v} → {f} on {a:?}");
            }
            let ticks = a.ticks(8).0;
            assert!(!ticks.is_empty() && ticks.len() <= 12, "{ticks:?}");
            assert!(ticks.iter().all(|(v, s)| v.is_finite() && !s.is_empty()));
        }
    }

    #[test]
    fn linear_tick_labels() {
        let a = Axis::new(false, 0.0, 1.0);
        assert_eq!(
            labels(&a.ticks(8).0),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        let a = Axis::new(false, 0.0, 2500.0);
        assert_eq!(
            labels(&a.ticks(8).0),
            ["0", "500", "1000", "1500", "2000", "2500"]
        );
        let a = Axis::new(false, 0.0, 2.5e-6);
        assert_eq!(
            labels(&a.ticks(8).0),
            ["0", "5e-7", "1e-6", "1.5e-6", "2e-6", "2.5e-6"]
        );
        let a = Axis::new(false, 1e9, 5e9);
        assert_eq!(labels(&a.ticks(8).0), ["1e9", "2e9", "3e9", "4e9", "5e9"]);
        let a = Axis::new(false, 1e9, 2e9);
        assert_eq!(
            labels(&a.ticks(8).0),
            ["1e9", "1.2e9", "1.4e9", "1.6e9", "1.8e9", "2e9"]
        );
        let a = Axis::new(false, -2.5e-5, 0.0);
        assert_eq!(
            labels(&a.ticks(6).0),
            ["-2.5e-5", "-2e-5", "-1.5e-5", "-1e-5", "-5e-6", "0"]
        );
        // Close values far from 0 keep the digits that tell them apart.
        let a = Axis::new(false, 1e15, 1e15 + 4e7);
        let ticks = a.ticks(8).0;
        assert!(ticks.len() >= 3, "{ticks:?}");
        let distinct: std::collections::HashSet<&str> = labels(&ticks).into_iter().collect();
        assert_eq!(distinct.len(), ticks.len(), "{ticks:?}");
    }

    #[test]
    fn log_axis_ticks() {
        // Four decades: a labelled tick per power of ten, minor ticks between.
        let a = Axis::new(true, -3.0, 0.0);
        let (major, minor) = a.ticks(10);
        assert_eq!(labels(&major), ["0.001", "0.01", "0.1", "1"]);
        for (u, s) in &major {
            assert!((10f64.powf(*u) - s.parse::<f64>().unwrap()).abs() < 1e-12);
        }
        assert!(minor.len() >= 3 * 8, "{minor:?}");
        for u in &minor {
            assert!(*u >= a.lo && *u <= a.hi, "{u}");
            assert!(major.iter().all(|(m, _)| (m - u).abs() > 0.01), "{u}");
        }
        // Beyond ±3 the labels are scientific.
        let a = Axis::new(true, -6.0, 2.0);
        assert_eq!(
            labels(&a.ticks(10).0),
            [
                "1e-6", "1e-5", "1e-4", "1e-3", "1e-2", "1e-1", "1e0", "1e1", "1e2"
            ]
        );
        // Many decades: every few, no minor ticks.
        let a = Axis::new(true, -300.0, 300.0);
        let (major, minor) = a.ticks(10);
        assert!((2..=12).contains(&major.len()), "{major:?}");
        assert!(major.iter().all(|(_, s)| s.starts_with("1e")), "{major:?}");
        assert!(minor.is_empty());
        // A single value: about a decade around it, with 2 and 5 times powers of ten
        // labelled.
        let a = Axis::new(true, 0.3f64.log10(), 0.3f64.log10());
        let (major, _) = a.ticks(10);
        assert!(major.len() >= 2, "{major:?}");
        assert!(labels(&major).contains(&"0.2"), "{major:?}");
        assert!(labels(&major).contains(&"0.5"), "{major:?}");
        // The most extreme positive values.
        let a = Axis::new(true, 5e-324f64.log10(), f64::MAX.log10());
        assert!(a.lo.is_finite() && a.hi.is_finite() && a.lo < a.hi);
        assert!(!a.ticks(10).0.is_empty());
    }

    #[test]
    fn legend_rows_wrap_and_count_the_rest() {
        let canvas = Canvas {
            fonts: fonts(Path::new("test.png")).unwrap(),
            labels: Vec::new(),
        };
        let items = |n: usize| -> Vec<(LegendKey, String)> {
            (0..n)
                .map(|i| (LegendKey::Text, format!("a fairly long series name {i}")))
                .collect()
        };
        let rows = legend_rows(&canvas, items(3), 10_000, 4);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].len(), 3);
        let rows = legend_rows(&canvas, items(100), 1320, 4);
        assert_eq!(rows.len(), 4);
        let shown: usize = rows.iter().map(Vec::len).sum::<usize>() - 1;
        let more = &rows[3].last().unwrap().1;
        assert_eq!(*more, format!("+{} more", 100 - shown));
        for row in &rows {
            let width: i32 = row
                .iter()
                .map(|item| legend_item_width(&canvas, item) + LEGEND_ITEM_GAP)
                .sum::<i32>()
                - LEGEND_ITEM_GAP;
            assert!(width <= 1320, "{width}");
        }
        let long = "x".repeat(10_000);
        let fitted = fit_text(&canvas, &long, LEGEND_STYLE, 300.0);
        assert!(fitted.ends_with('…') && canvas.width(&fitted, LEGEND_STYLE) <= 300.0);
    }
}
