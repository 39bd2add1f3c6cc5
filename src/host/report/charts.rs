//! The PNG charts of a report (feature `charts`), drawn with `plotters`' chart builder,
//! mesh, series and legends into a pixel buffer, their text set by its `ab_glyph` backend
//! from a TrueType file read at run time, and encoded with `png`.

use std::prelude::rust_2024::*;
use std::{format, vec};

use std::fs;
use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    ConfusionMatrix, EpochRecord, FONT_ENV, ReportError, grouped, percent, write_atomically,
};

/// The font the charts are drawn with unless [`FONT_ENV`] or [`set_font`] names another.
pub const FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// The bold font of chart titles; the regular one stands in if it is missing.
pub const BOLD_FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
/// The Debian package that installs [`FONT_PATH`] and [`BOLD_FONT_PATH`].
pub const FONT_PACKAGE: &str = "fonts-dejavu-core";

/// Width and height in pixels of the learning-curve chart.
pub const LEARNING_CURVES_SIZE: (u32, u32) = (1400, 600);
/// Width and height in pixels of the confusion-matrix chart.
pub const CONFUSION_MATRIX_SIZE: (u32, u32) = (1000, 1000);
/// Width and height in pixels of a [`plot_series`] chart: those of the learning-curve chart.
pub const SERIES_CHART_SIZE: (u32, u32) = LEARNING_CURVES_SIZE;

/// The font family the charts register with `plotters`.
const FAMILY: &str = "firmnet-sans";

const TEXT: RGBColor = RGBColor(33, 37, 41);
const MUTED: RGBColor = RGBColor(95, 101, 110);
const AXIS: RGBColor = RGBColor(125, 130, 138);
const GRID: RGBColor = RGBColor(230, 232, 236);
const MINOR_GRID: RGBColor = RGBColor(244, 245, 247);
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VALIDATION: RGBColor = RGBColor(230, 115, 0);
const BEST: RGBColor = RGBColor(46, 139, 87);
const PANEL: RGBColor = RGBColor(243, 244, 246);
const CORNER: RGBColor = RGBColor(222, 226, 231);

/// The Okabe–Ito palette, distinguishable with the common forms of colour blindness.
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

/// Series with at most this many points drawn get a marker on every point; denser ones only
/// on points that stand alone between gaps.
const MARKER_LIMIT: usize = 100;
/// Largest magnitude a linear axis places: the padded span stays a finite `f64`.
const LINEAR_LIMIT: f64 = 1e300;
/// Range of values a log axis places: the ratio of its ends stays a finite `f64`.
const LOG_LIMITS: (f64, f64) = (1e-100, 1e100);

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawError = DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>;

// ---------------------------------------------------------------------------------------------
// Fonts and files

/// Whether the chart fonts are registered with `plotters`.
static FONTS_READY: Mutex<bool> = Mutex::new(false);

/// Registers the font file `font` as `style` of [`FAMILY`]. Its bytes stay in memory for the
/// rest of the process, as `plotters` keeps a reference to them.
fn register(
    chart: &Path,
    font: &Path,
    style: FontStyle,
    package: Option<&'static str>,
) -> Result<(), ReportError> {
    let bytes = fs::read(font).map_err(|source| ReportError::MissingFont {
        path: chart.to_path_buf(),
        font: font.to_path_buf(),
        package,
        source,
    })?;
    register_font(FAMILY, style, Box::leak(bytes.into_boxed_slice())).map_err(|_| {
        ReportError::InvalidFont {
            path: chart.to_path_buf(),
            font: font.to_path_buf(),
        }
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
    let mut ready = FONTS_READY.lock().unwrap_or_else(|e| e.into_inner());
    register(path, path, FontStyle::Normal, None)?;
    register(path, path, FontStyle::Bold, None)?;
    *ready = true;
    Ok(())
}

/// Registers the fonts for drawing `chart` on first use: [`FONT_ENV`] if set, else
/// [`FONT_PATH`] and [`BOLD_FONT_PATH`].
fn load_fonts(chart: &Path) -> Result<(), ReportError> {
    let mut ready = FONTS_READY.lock().unwrap_or_else(|e| e.into_inner());
    if *ready {
        return Ok(());
    }
    match std::env::var_os(FONT_ENV).filter(|v| !v.is_empty()) {
        Some(font) => register(chart, Path::new(&font), FontStyle::Normal, None)?,
        None => {
            register(
                chart,
                Path::new(FONT_PATH),
                FontStyle::Normal,
                Some(FONT_PACKAGE),
            )?;
            // Without a bold face, plotters sets titles in the regular one.
            let _ = register(chart, Path::new(BOLD_FONT_PATH), FontStyle::Bold, None);
        }
    }
    *ready = true;
    Ok(())
}

/// Text of `size` pixels in `color`.
fn font(size: f64, color: RGBColor) -> TextStyle<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal).color(&color)
}

/// Bold text of `size` pixels.
fn bold(size: f64) -> TextStyle<'static> {
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Bold).color(&TEXT)
}

/// Draws a chart of `size` with `draw` on a white page, encodes it as PNG and writes it
/// atomically to `path`.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), DrawError>,
) -> Result<(), ReportError> {
    load_fonts(path)?;
    let draw_error = |message: String| ReportError::Draw {
        path: path.to_path_buf(),
        message,
    };
    let (w, h) = size;
    let mut pixels = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw(&root).map_err(|e| draw_error(e.to_string()))?;
        root.present().map_err(|e| draw_error(e.to_string()))?;
    }
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    encoder
        .write_header()
        .and_then(|mut writer| {
            writer
                .write_image_data(&pixels)
                .and_then(|()| writer.finish())
        })
        .map_err(|e| draw_error(e.to_string()))?;
    write_atomically(path, &png_bytes)
}

/// `area` below its title `title` (the whole of it if the title is empty).
fn titled<'a>(area: &Area<'a>, title: &str) -> Result<Area<'a>, DrawError> {
    if title.is_empty() {
        Ok(area.clone())
    } else {
        area.margin(12, 0, 0, 0).titled(title, bold(24.0))
    }
}

/// `text`, shortened with an ellipsis to at most `max_width` pixels in `style`.
fn fit(
    area: &Area<'_>,
    text: &str,
    style: &TextStyle,
    max_width: u32,
) -> Result<String, DrawError> {
    let width = |s: &str| area.estimate_text_size(s, style).map(|(w, _)| w);
    if width(text)? <= max_width {
        return Ok(text.to_string());
    }
    // A label never needs more characters than this; it also bounds the work below.
    let mut chars: Vec<char> = text.chars().take(200).collect();
    loop {
        let candidate: String = chars.iter().chain(['…'].iter()).collect();
        if chars.is_empty() || width(&candidate)? <= max_width {
            return Ok(candidate);
        }
        chars.pop();
    }
}

// ---------------------------------------------------------------------------------------------
// Axes

/// The range an axis shows for values from `lo` to `hi` (in range, `lo <= hi`): padded by
/// 12 % of the span each side; on a log axis by ratios, at least a decade wide; equal values on
/// a linear axis get a tenth of their size each side (±1 around 0).
fn padded(log: bool, lo: f64, hi: f64) -> Range<f64> {
    if log {
        let (lo, hi) = (lo.log10(), hi.log10());
        let (mid, half) = ((lo + hi) / 2.0, ((hi - lo) / 2.0).max(0.5) * 1.12);
        return 10f64.powf(mid - half)..10f64.powf(mid + half);
    }
    let mid = (lo + hi) / 2.0;
    let mut half = (hi - lo) / 2.0;
    if half <= 1e-9 * lo.abs().max(hi.abs()) {
        half = if mid == 0.0 { 1.0 } else { 0.1 * mid.abs() };
    }
    if half * 1.12 <= f64::MIN_POSITIVE {
        // Values so close to 0 that a tenth of them rounds away.
        return mid - 1.0..mid + 1.0;
    }
    mid - 1.12 * half..mid + 1.12 * half
}

/// Whether `v` can be placed on an axis: finite and within [`LINEAR_LIMIT`], or on a log axis
/// within [`LOG_LIMITS`].
fn placeable(log: bool, v: f64) -> bool {
    if log {
        (LOG_LIMITS.0..=LOG_LIMITS.1).contains(&v)
    } else {
        v.is_finite() && v.abs() <= LINEAR_LIMIT
    }
}

/// A tick label of a linear axis spanning `span`: plain decimals such as `0.25` or `1500`, or
/// scientific notation such as `2.5e-6` or `1.2e9` for tiny steps or large values.
fn linear_label(v: f64, span: f64) -> String {
    let step = span / 10.0;
    let exponent = |x: f64| x.abs().log10().floor() as i32;
    if v.abs() < 1e6 && step >= 1e-4 {
        let decimals = (-exponent(step)).clamp(0, 6) as usize;
        return format!("{v:.decimals$}");
    }
    if v == 0.0 || v.abs() < step * 1e-6 {
        return "0".into();
    }
    let digits = (exponent(v) - exponent(step)).clamp(0, 16) as usize;
    let text = format!("{v:.digits$e}");
    match text.split_once('e') {
        Some((mantissa, exp)) if mantissa.contains('.') => {
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e{exp}")
        }
        _ => text,
    }
}

/// A tick label of a log axis: plain (`0.001`, `500`) within 10⁻³…10³, else like `2e-5`.
fn log_label(v: f64) -> String {
    let exponent = v.log10().floor() as i32;
    let mantissa = (v / 10f64.powi(exponent) * 1e6).round() / 1e6;
    if (-3..=3).contains(&exponent) {
        format!("{:.*}", (-exponent).max(0) as usize, v)
    } else {
        format!("{mantissa}e{exponent}")
    }
}

// ---------------------------------------------------------------------------------------------
// Learning curves

/// Draws `history` as one PNG of [`LEARNING_CURVES_SIZE`] with two panels, loss and accuracy
/// (for a regression, whose records have no accuracy: loss and mean absolute error), each
/// with the training and the validation curve per epoch. `best_epoch`, if given, is
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
    let best = best_epoch.and_then(|b| history.iter().find(|r| r.epoch == b));
    render(path, LEARNING_CURVES_SIZE, |root| {
        let body = titled(root, title)?;
        let panels = body.split_evenly((1, 2));
        let loss = |r: &EpochRecord| (r.train.loss, r.val.loss);
        let nan = f32::NAN;
        if history[0].val.accuracy.is_some() {
            let accuracy = |r: &EpochRecord| {
                (
                    r.train.accuracy.unwrap_or(nan),
                    r.val.accuracy.unwrap_or(nan),
                )
            };
            panel(&panels[0], ("Loss", "Loss"), history, loss, best)?;
            panel(
                &panels[1],
                ("Accuracy", "Accuracy"),
                history,
                accuracy,
                best,
            )
        } else {
            // A regression: its loss, and the mean absolute error in the targets' units.
            let mae = |r: &EpochRecord| (r.train.mae.unwrap_or(nan), r.val.mae.unwrap_or(nan));
            panel(&panels[0], ("Loss", "Loss"), history, loss, best)?;
            panel(
                &panels[1],
                ("Mean absolute error", "MAE"),
                history,
                mae,
                best,
            )
        }
    })
}

/// One panel of the learning curves: the `(train, validation)` values of `value` per epoch.
fn panel(
    area: &Area<'_>,
    (caption, y_desc): (&str, &str),
    history: &[EpochRecord],
    value: impl Fn(&EpochRecord) -> (f32, f32),
    best: Option<&EpochRecord>,
) -> Result<(), DrawError> {
    let is_accuracy = caption == "Accuracy";
    let n = history.iter().map(|r| r.epoch).max().unwrap_or(1).max(1) as i32;
    let values = history.iter().flat_map(|r| {
        let (t, v) = value(r);
        [f64::from(t), f64::from(v)]
    });
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    // A flat curve still gets an axis of a few percent, or of a tenth of the loss.
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let min_span = if is_accuracy {
        0.02
    } else {
        (0.1 * hi).max(1e-3)
    };
    let mid = (lo + hi) / 2.0;
    let half = ((hi - lo) / 2.0).max(min_span / 2.0) * 1.06;
    let top = if is_accuracy { 1.0 } else { f64::INFINITY };
    let y = (mid - half).max(0.0)..(mid + half).min(top);

    let mut chart = ChartBuilder::on(area)
        .caption(caption, bold(18.0))
        .margin(16)
        .margin_right(32)
        .x_label_area_size(56)
        .y_label_area_size(80)
        .build_cartesian_2d(0..n + 1, y.clone())?;
    let y_label = |v: &f64| {
        if is_accuracy {
            format!("{:.0}%", 100.0 * v)
        } else {
            linear_label(*v, y.end - y.start)
        }
    };
    let x_label = |e: &i32| {
        if (1..=n).contains(e) {
            e.to_string()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc("Epoch")
        .y_desc(y_desc)
        .x_labels((n as usize + 2).min(14))
        .y_labels(8)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(font(14.0, MUTED))
        .axis_desc_style(font(15.0, TEXT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .axis_style(AXIS)
        .draw()?;

    if let Some(best) = best {
        let e = best.epoch as i32;
        chart
            .draw_series(DashedLineSeries::new(
                [(e, y.start), (e, y.end)],
                8,
                6,
                BEST.stroke_width(2),
            ))?
            .label(format!("best epoch ({e})"))
            .legend(|(x, y)| {
                DashedPathElement::new([(x, y), (x + 24, y)], 6, 3, BEST.stroke_width(2))
            });
    }
    for (k, (color, name)) in [(TRAIN, "train"), (VALIDATION, "validation")]
        .into_iter()
        .enumerate()
    {
        let points: Vec<(i32, f64)> = history
            .iter()
            .map(|r| {
                let (t, v) = value(r);
                (r.epoch as i32, f64::from(if k == 0 { t } else { v }))
            })
            .filter(|(_, y)| y.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(3),
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3)));
        if n <= 60 {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
    }
    if let Some(best) = best {
        let v = f64::from(value(best).1);
        if v.is_finite() {
            chart.draw_series([Circle::new((best.epoch as i32, v), 8, BEST.stroke_width(2))])?;
        }
    }
    let points = history.iter().flat_map(|r| {
        let (t, v) = value(r);
        [
            (r.epoch as f64, f64::from(t)),
            (r.epoch as f64, f64::from(v)),
        ]
    });
    let fractions = points.map(|(e, v)| (e / f64::from(n + 1), (v - y.start) / (y.end - y.start)));
    chart
        .configure_series_labels()
        .position(emptiest_corner(fractions))
        .label_font(font(15.0, TEXT))
        .background_style(WHITE.mix(0.9))
        .border_style(GRID)
        .draw()
}

/// Where a legend covers the fewest of `points` (fractions of the plot's width and height,
/// from its lower left): the upper or lower right, left or middle.
fn emptiest_corner(points: impl Iterator<Item = (f64, f64)>) -> SeriesLabelPosition {
    use SeriesLabelPosition::{
        LowerLeft, LowerMiddle, LowerRight, UpperLeft, UpperMiddle, UpperRight,
    };
    let corners = [
        (UpperRight, 0.6..1.0, 0.65..1.0),
        (LowerRight, 0.6..1.0, 0.0..0.35),
        (UpperLeft, 0.0..0.4, 0.65..1.0),
        (LowerLeft, 0.0..0.4, 0.0..0.35),
        (UpperMiddle, 0.3..0.7, 0.65..1.0),
        (LowerMiddle, 0.3..0.7, 0.0..0.35),
    ];
    let mut counts = [0usize; 6];
    for (x, y) in points {
        for (count, (_, xs, ys)) in counts.iter_mut().zip(&corners) {
            *count += usize::from(xs.contains(&x) && ys.contains(&y));
        }
    }
    let emptiest = (0..corners.len()).min_by_key(|&k| counts[k]).unwrap_or(0);
    corners[emptiest].0.clone()
}

// ---------------------------------------------------------------------------------------------
// Line charts

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

/// Draws the markers of series `i` on `points`: the palette's colour, and from the ninth
/// series on another shape (filled circle, triangle, cross, ring).
fn draw_markers<X, Y>(
    plot: &mut ChartContext<'_, BitMapBackend<'_>, Cartesian2d<X, Y>>,
    points: &[(f64, f64)],
    i: usize,
) -> Result<(), DrawError>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let color = SERIES_COLORS[i % SERIES_COLORS.len()];
    let points = points.iter().copied();
    match i / SERIES_COLORS.len() % 4 {
        0 => plot.draw_series(points.map(|p| Circle::new(p, 4, color.filled())))?,
        1 => plot.draw_series(points.map(|p| TriangleMarker::new(p, 6, color.filled())))?,
        2 => plot.draw_series(points.map(|p| Cross::new(p, 4, color.stroke_width(2))))?,
        _ => plot.draw_series(points.map(|p| Circle::new(p, 4, color.stroke_width(2))))?,
    };
    Ok(())
}

/// Draws `series` as one PNG chart of [`SERIES_CHART_SIZE`]: each series a line with a
/// marker on each point, titled by `chart`, with axis descriptions, tick labels, gridlines
/// and a legend naming the series beside the plot.
///
/// Series take the colours of the Okabe–Ito palette in order (blue, orange, bluish green,
/// vermillion, reddish purple, sky blue, yellow, black); from the ninth on the colours
/// repeat with square, then triangular, then diamond markers instead of round ones. Series
/// of more than 100 drawn points get markers only where a point stands alone.
///
/// Points with a non-finite coordinate (a diverged run's NaN or infinite loss, say) are
/// left out, as are points with a coordinate that is not positive on a log axis, and those
/// beyond what an axis places (a magnitude above 1e300 on a linear axis, a value outside
/// 1e-100…1e100 on a log axis); each such point breaks its line. A series with no point
/// left is still named in the legend, marked "(no points)". The axes span the points drawn,
/// padded; a single point or equal values still get a range around them. An empty name is
/// shown as "series N"; names too long for the legend are shortened, and series beyond the
/// legend's height are counted as "+N more".
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
    let drawable = |&(x, y): &(f64, f64)| placeable(chart.log_x, x) && placeable(chart.log_y, y);
    let mut bounds: Option<[f64; 4]> = None;
    for &(x, y) in series.iter().flat_map(|s| s.points).filter(|p| drawable(p)) {
        bounds = Some(match bounds {
            None => [x, x, y, y],
            Some([a, b, c, d]) => [a.min(x), b.max(x), c.min(y), d.max(y)],
        });
    }
    let Some([x_lo, x_hi, y_lo, y_hi]) = bounds else {
        return Err(ReportError::NothingToPlot {
            path: path.to_path_buf(),
        });
    };
    let (x, y) = (
        padded(chart.log_x, x_lo, x_hi),
        padded(chart.log_y, y_lo, y_hi),
    );
    render(path, SERIES_CHART_SIZE, |root| {
        let body = titled(root, chart.title)?;
        let legend_width = draw_legend(&body, series, &drawable)?;
        let (plot, _) = body.split_horizontally(body.dim_in_pixel().0 - legend_width);
        match (chart.log_x, chart.log_y) {
            (false, false) => draw_lines(&plot, chart, series, x, y),
            (true, false) => draw_lines(&plot, chart, series, x.log_scale(), y),
            (false, true) => draw_lines(&plot, chart, series, x, y.log_scale()),
            (true, true) => draw_lines(&plot, chart, series, x.log_scale(), y.log_scale()),
        }
    })
}

/// The label of a tick at `v` on an axis over `range`, linear or log.
fn tick_label(log: bool, range: &Range<f64>) -> impl Fn(&f64) -> String {
    let span = range.end - range.start;
    move |v| {
        if log {
            log_label(*v)
        } else {
            linear_label(*v, span)
        }
    }
}

/// The plot of a [`plot_series`] chart on `area`, with axes `x` and `y`.
fn draw_lines<X, Y>(
    area: &Area<'_>,
    chart: &Chart,
    series: &[Series],
    x: X,
    y: Y,
) -> Result<(), DrawError>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut plot = ChartBuilder::on(area)
        .margin(16)
        .margin_right(24)
        .x_label_area_size(56)
        .y_label_area_size(100)
        .build_cartesian_2d(x, y)?;
    let (x_range, y_range) = (plot.x_range(), plot.y_range());
    let (x_label, y_label) = (
        tick_label(chart.log_x, &x_range),
        tick_label(chart.log_y, &y_range),
    );
    plot.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_labels(10)
        .y_labels(9)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .label_style(font(14.0, MUTED))
        .axis_desc_style(font(15.0, TEXT))
        .bold_line_style(GRID)
        .light_line_style(MINOR_GRID)
        .axis_style(AXIS)
        .draw()?;

    let drawable = |&(x, y): &(f64, f64)| placeable(chart.log_x, x) && placeable(chart.log_y, y);
    for (i, s) in series.iter().enumerate() {
        let color = SERIES_COLORS[i % SERIES_COLORS.len()];
        // Runs of drawable points; a point left out breaks the line.
        let segments: Vec<&[(f64, f64)]> = s
            .points
            .split(|p| !drawable(p))
            .filter(|run| !run.is_empty())
            .collect();
        for run in segments.iter().filter(|run| run.len() > 1) {
            plot.draw_series(LineSeries::new(run.iter().copied(), color.stroke_width(3)))?;
        }
        let every_point = segments.iter().map(|run| run.len()).sum::<usize>() <= MARKER_LIMIT;
        let marked: Vec<(f64, f64)> = segments
            .iter()
            .filter(|run| every_point || run.len() == 1)
            .flat_map(|run| run.iter().copied())
            .collect();
        draw_markers(&mut plot, &marked, i)?;
    }
    Ok(())
}

/// Draws the legend of `series` at the right of `area`, as wide as its longest name needs
/// (at most a third of the area), and returns its width.
fn draw_legend(
    area: &Area<'_>,
    series: &[Series],
    drawable: &dyn Fn(&(f64, f64)) -> bool,
) -> Result<u32, DrawError> {
    let (w, h) = area.dim_in_pixel();
    let style = font(15.0, TEXT);
    let names: Vec<String> = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = if s.name.trim().is_empty() {
                format!("series {}", i + 1)
            } else {
                s.name.to_string()
            };
            if s.points.iter().any(drawable) {
                name
            } else {
                format!("{name} (no points)")
            }
        })
        .collect();
    let key = 40;
    let names = names
        .iter()
        .map(|name| fit(area, name, &style, w / 3 - key - 40))
        .collect::<Result<Vec<_>, _>>()?;
    let widest = names
        .iter()
        .map(|name| area.estimate_text_size(name, &style).map(|(w, _)| w))
        .try_fold(0, |m, w| w.map(|w| m.max(w)))?;
    let width = widest + key + 40;
    let (_, legend_area) = area.split_horizontally(w - width);
    let mut legend = ChartBuilder::on(&legend_area)
        .margin(16)
        .margin_left(0)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)?;
    // Rows of about 1.25 lines each, less one for the count of the rest.
    let rows = ((h as usize).saturating_sub(60) / 19).max(2);
    let shown = if names.len() > rows {
        rows - 1
    } else {
        names.len()
    };
    for (i, name) in names.iter().enumerate().take(shown) {
        // The key: a line with the series' marker on it.
        let color = SERIES_COLORS[i % SERIES_COLORS.len()];
        let line = move |at| {
            EmptyElement::at(at) + PathElement::new([(0, 0), (28, 0)], color.stroke_width(3))
        };
        let key = legend
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(name);
        match i / SERIES_COLORS.len() % 4 {
            0 => key.legend(move |at| line(at) + Circle::new((14, 0), 4, color.filled())),
            1 => key.legend(move |at| line(at) + TriangleMarker::new((14, 0), 6, color.filled())),
            2 => key.legend(move |at| line(at) + Cross::new((14, 0), 4, color.stroke_width(2))),
            _ => key.legend(move |at| line(at) + Circle::new((14, 0), 4, color.stroke_width(2))),
        };
    }
    if shown < names.len() {
        legend
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label(format!("+{} more", names.len() - shown));
    }
    legend
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .legend_area_size(key)
        .margin(8)
        .label_font(style)
        .border_style(GRID)
        .draw()?;
    Ok(width)
}

// ---------------------------------------------------------------------------------------------
// Confusion matrix

impl ConfusionMatrix {
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
        if self.classes() == 0 {
            return Err(invalid("the matrix has no classes".into()));
        }
        let names: Vec<String> = match class_names.len() {
            0 => (0..self.classes()).map(|c| c.to_string()).collect(),
            k if k == self.classes() => class_names.iter().map(|s| s.to_string()).collect(),
            k => {
                return Err(invalid(format!(
                    "{k} class names for {} classes",
                    self.classes()
                )));
            }
        };
        render(path, CONFUSION_MATRIX_SIZE, |root| {
            self.draw(root, &names, title)
        })
    }

    /// The heatmap on a grid of half cells: cell `(l, p)` spans `2p..2p + 2` across and
    /// `2(n − l)..2(n − l) + 2` up, so row 0 is on top; the column right of the matrix holds
    /// the recall, the row below it the precision.
    fn draw(&self, root: &Area<'_>, names: &[String], title: &str) -> Result<(), DrawError> {
        let n = self.classes();
        let label_style = font(14.0, TEXT);
        let widest = names
            .iter()
            .chain([&"Precision".to_string()])
            .map(|name| root.estimate_text_size(name, &label_style).map(|(w, _)| w))
            .try_fold(0, |m, w| w.map(|w| m.max(w)))?;
        let body = titled(root, title)?;
        let column_widest = names
            .iter()
            .chain([&"Recall".to_string()])
            .map(|name| root.estimate_text_size(name, &label_style).map(|(w, _)| w))
            .try_fold(0, |m, w| w.map(|w| m.max(w)))?;
        // Column names too wide for their cells are turned a quarter, reading downwards.
        let plot_width = body.dim_in_pixel().0.saturating_sub(widest + 90);
        let turned = column_widest + 6 > plot_width / (n as u32 + 1);
        let x_area = if turned { column_widest + 16 } else { 30 };
        let m = 2 * (n as i32 + 1);
        let centres: Vec<i32> = (0..=n as i32).map(|k| 2 * k + 1).collect();
        let subtitle = format!(
            "{} samples  ·  accuracy {}  ·  shading: share of the true class",
            grouped(self.total()),
            percent(self.accuracy(), 2)
        );
        let mut chart = ChartBuilder::on(&body)
            .caption(subtitle, font(15.0, MUTED))
            .margin(20)
            .x_label_area_size(x_area + 36)
            .y_label_area_size(widest + 50)
            .build_cartesian_2d(
                (0..m).with_key_points(centres.clone()),
                (0..m).with_key_points(centres.clone()),
            )?;
        let column = |v: &i32| {
            names
                .get(*v as usize / 2)
                .map_or("Recall".into(), String::clone)
        };
        let x_name = |v: &i32| if turned { String::new() } else { column(v) };
        let y_name = |v: &i32| match n.checked_sub(*v as usize / 2) {
            Some(row) if row < n => names[row].clone(),
            _ => "Precision".into(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("Predicted class")
            .y_desc("True class")
            .x_label_formatter(&x_name)
            .y_label_formatter(&y_name)
            .label_style(label_style.clone())
            .axis_desc_style(bold(16.0))
            .axis_style(WHITE)
            .draw()?;
        if turned {
            let style = label_style
                .transform(FontTransform::Rotate90)
                .pos(Pos::new(HPos::Left, VPos::Center));
            for &c in &centres {
                let (x, y) = chart.backend_coord(&(c, 0));
                let at = (x - body.get_base_pixel().0, y - body.get_base_pixel().1 + 8);
                body.draw(&Text::new(column(&c), at, style.clone()))?;
            }
        }

        // Cells: counts shaded by their share of the row; then the recall column, the
        // precision row and the accuracy in the corner.
        let cell_px = chart.backend_coord(&(2, 0)).0 - chart.backend_coord(&(0, 0)).0;
        let size = (f64::from(cell_px) * 0.26).clamp(7.0, 20.0);
        let mut cells = Vec::with_capacity((n + 1) * (n + 1));
        for l in 0..n {
            for p in 0..n {
                let (count, row) = (self.count(l, p), self.support(l));
                let share = if row == 0 {
                    0.0
                } else {
                    count as f64 / row as f64
                };
                let text = if share > 0.45 {
                    WHITE
                } else if count == 0 {
                    AXIS
                } else {
                    TEXT
                };
                cells.push((p, n - l, blues(share), grouped(count), text, l == p));
            }
            cells.push((n, n - l, PANEL, percent(self.recall(l), 1), TEXT, false));
            cells.push((l, 0, PANEL, percent(self.precision(l), 1), TEXT, false));
        }
        cells.push((n, 0, CORNER, percent(self.accuracy(), 1), TEXT, true));
        let corners = |x: usize, y: usize| {
            let (x, y) = (2 * x as i32, 2 * y as i32);
            [(x, y), (x + 2, y + 2)]
        };
        chart.draw_series(
            cells
                .iter()
                .map(|&(x, y, fill, ..)| Rectangle::new(corners(x, y), fill.filled())),
        )?;
        chart.draw_series(
            cells
                .iter()
                .map(|&(x, y, ..)| Rectangle::new(corners(x, y), WHITE.stroke_width(2))),
        )?;
        chart.draw_series(cells.iter().map(|(x, y, _, text, color, strong)| {
            let desc = if *strong {
                bold(size)
            } else {
                font(size, *color)
            };
            let style = desc.color(color).pos(Pos::new(HPos::Center, VPos::Center));
            Text::new(text.clone(), (2 * *x as i32 + 1, 2 * *y as i32 + 1), style)
        }))?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_ranges_contain_the_values() {
        // Spread values: padded by 12 % of the half-span each side.
        let r = padded(false, 0.0, 10.0);
        assert!(
            (r.start + 0.6).abs() < 1e-12 && (r.end - 10.6).abs() < 1e-12,
            "{r:?}"
        );
        // Equal values: a tenth of the value each side, ±1 around 0.
        let r = padded(false, 5.0, 5.0);
        assert!(
            r.start > 4.4 && r.start < 4.5 && r.end > 5.5 && r.end < 5.6,
            "{r:?}"
        );
        assert!(padded(false, 0.0, 0.0).contains(&0.9));
        // A log axis spans at least a decade, by ratios.
        let r = padded(true, 0.3, 0.3);
        assert!(r.start < 0.3 / 3.0 && r.end > 0.3 * 3.0, "{r:?}");
        // The extremes placeable keep a finite span (a finite ratio on a log axis).
        let r = padded(false, -LINEAR_LIMIT, LINEAR_LIMIT);
        assert!((r.end - r.start).is_finite());
        let r = padded(true, LOG_LIMITS.0, LOG_LIMITS.1);
        assert!((r.end / r.start).is_finite() && r.start > 0.0);
        let r = padded(false, 5e-324, 5e-324);
        assert!(r.start < 5e-324 && r.end > 5e-324, "{r:?}");
    }

    #[test]
    fn tick_labels() {
        let labels = |vs: &[f64], span| {
            vs.iter()
                .map(|&v| linear_label(v, span))
                .collect::<Vec<_>>()
        };
        assert_eq!(labels(&[0.0, 0.2, 1.0], 1.0), ["0.0", "0.2", "1.0"]);
        assert_eq!(labels(&[500.0, 2500.0], 2500.0), ["500", "2500"]);
        assert_eq!(labels(&[5e-7, 2.5e-6], 2.5e-6), ["5e-7", "2.5e-6"]);
        assert_eq!(labels(&[1e9, 1.2e9], 1e9), ["1e9", "1.2e9"]);
        // Close values far from 0 keep the digits that tell them apart.
        assert_ne!(linear_label(1e15, 1.0), linear_label(1e15 + 0.5, 1.0));
        let logs: Vec<String> = [1e-3, 0.02, 1.0, 500.0, 1e-5, 2e7].map(log_label).to_vec();
        assert_eq!(logs, ["0.001", "0.02", "1", "500", "1e-5", "2e7"]);
    }
}
