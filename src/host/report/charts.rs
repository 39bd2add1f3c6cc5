//! The PNG charts of a report (feature `charts`): `plotters`' chart builder, mesh, series and
//! legends draw into a pixel buffer, its `ab_glyph` backend sets the text in a TrueType font
//! read at run time, and `png` encodes the result.

use std::prelude::rust_2024::*;
use std::{format, fs, ops::Range, path::Path, sync::Mutex, vec};

use plotters::coord::{Shift, ranged1d::AsRangedCoord, ranged1d::ValueFormatter};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle::Bold, FontStyle::Normal, register_font};
use plotters::{data::float::pretty_print_float, element::DashedPathElement, prelude::*};

use super::{ConfusionMatrix, EpochRecord, FONT_ENV, Metrics, ReportError};
use super::{grouped, percent, write_atomically};

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

/// Text, axes and gridlines: dark and light greys instead of `plotters`' black.
const TEXT: RGBColor = RGBColor(33, 37, 41);
const AXIS: RGBColor = RGBColor(125, 130, 138);
const GRID: RGBColor = RGBColor(230, 232, 236);
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VALIDATION: RGBColor = RGBColor(230, 115, 0);
const BEST: RGBColor = RGBColor(46, 139, 87);
/// Fill of the recall, precision and accuracy cells of the confusion matrix.
const PANEL: RGBColor = RGBColor(243, 244, 246);

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

/// Series with at most this many points drawn get a marker on each, denser ones on lone ones.
const MARKER_LIMIT: usize = 100;
/// Range of values a linear axis places: the padded span stays a finite `f64`.
const LINEAR_LIMITS: (f64, f64) = (-1e300, 1e300);
/// Range of values a log axis places: the ratio of its ends stays a finite `f64`.
const LOG_LIMITS: (f64, f64) = (1e-100, 1e100);

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type DrawError = DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>;

/// Whether the chart fonts are registered with `plotters`.
static FONTS_READY: Mutex<bool> = Mutex::new(false);

/// Registers the font file `font` as `style` of the `sans-serif` family, the one `plotters`
/// sets its text in by default. Its bytes stay in memory for the rest of the process, as
/// `plotters` keeps a reference to them. `chart` is the file being drawn, for the error.
fn register(chart: &Path, font: &Path, style: FontStyle) -> Result<(), ReportError> {
    let package = (font == Path::new(FONT_PATH)).then_some(FONT_PACKAGE);
    let bytes = fs::read(font).map_err(|source| ReportError::MissingFont {
        path: chart.to_path_buf(),
        font: font.to_path_buf(),
        package,
        source,
    })?;
    register_font("sans-serif", style, Box::leak(bytes.into_boxed_slice())).map_err(|_| {
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
    register(path, path, Normal)?;
    register(path, path, Bold)?;
    *ready = true;
    Ok(())
}

/// Registers the fonts for drawing `chart` on first use: [`FONT_ENV`] if set, else
/// [`FONT_PATH`] and [`BOLD_FONT_PATH`].
fn load_fonts(chart: &Path) -> Result<(), ReportError> {
    let mut ready = FONTS_READY.lock().unwrap_or_else(|e| e.into_inner());
    match std::env::var_os(FONT_ENV).filter(|v| !v.is_empty()) {
        _ if *ready => {}
        Some(font) => register(chart, Path::new(&font), Normal)?,
        None => {
            register(chart, Path::new(FONT_PATH), Normal)?;
            // Without a bold face, plotters sets bold text in the regular one.
            let _ = register(chart, Path::new(BOLD_FONT_PATH), Bold);
        }
    }
    *ready = true;
    Ok(())
}

/// Text of `size` pixels in [`TEXT`].
fn font(size: f64, style: FontStyle) -> TextStyle<'static> {
    FontDesc::new(FontFamily::SansSerif, size, style).color(&TEXT)
}

/// Draws a chart of `size` with `draw` on a white page, encodes it as PNG and writes it
/// atomically to `path`.
fn render(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Result<(), DrawError>,
) -> Result<(), ReportError> {
    load_fonts(path)?;
    let fail = |message: String| ReportError::Draw {
        path: path.to_path_buf(),
        message,
    };
    let (w, h) = size;
    let mut pixels = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw(&root).map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_compression(png::Compression::High);
    let mut png = encoder.write_header().map_err(|e| fail(e.to_string()))?;
    png.write_image_data(&pixels)
        .map_err(|e| fail(e.to_string()))?;
    png.finish().map_err(|e| fail(e.to_string()))?;
    write_atomically(path, &png_bytes)
}

/// `area` below its title `title` (the whole of it if the title is empty).
fn titled<'a>(area: &Area<'a>, title: &str) -> Result<Area<'a>, DrawError> {
    match title {
        "" => Ok(area.clone()),
        _ => area.margin(12, 0, 0, 0).titled(title, font(24.0, Bold)),
    }
}

/// A tick label: `plotters`' shortest decimal form, scientific for tiny or huge values.
fn number(v: &f64) -> String {
    pretty_print_float(*v, true)
}

/// The range an axis shows for values from `lo` to `hi` (placeable, `lo <= hi`): padded by
/// 12 % of the span each side; on a log axis by ratios, at least a decade wide; equal values on
/// a linear axis get a tenth of their size each side (±1 around 0).
fn padded(log: bool, lo: f64, hi: f64) -> Range<f64> {
    let to_axis = |v: f64| if log { v.log10() } else { v };
    let from_axis = |v: f64| if log { 10f64.powf(v) } else { v };
    let (lo, hi) = (to_axis(lo), to_axis(hi));
    let (mid, mut half) = ((lo + hi) / 2.0, (hi - lo) / 2.0);
    if log {
        half = half.max(0.5);
    } else if half <= 1e-9 * lo.abs().max(hi.abs()) {
        half = 0.1 * mid.abs();
    }
    if half * 1.12 <= f64::MIN_POSITIVE {
        half = 1.0; // 0, or values so close to it that a tenth of them rounds away
    }
    from_axis(mid - 1.12 * half)..from_axis(mid + 1.12 * half)
}

/// Whether `v` can be placed on an axis: within [`LINEAR_LIMITS`] or [`LOG_LIMITS`].
fn placeable(log: bool, v: f64) -> bool {
    let (lo, hi) = if log { LOG_LIMITS } else { LINEAR_LIMITS };
    (lo..=hi).contains(&v)
}

/// Draws `history` as one PNG of [`LEARNING_CURVES_SIZE`] with two panels, loss and accuracy
/// (for a regression, whose records have no accuracy: loss and mean absolute error), each
/// with the training curve (measured during the epoch, dropout and noise on) and the
/// validation one per epoch; non-finite values are left out. `best_epoch`, if given, is
/// marked in both panels by a dashed vertical line and a ring on the validation curve.
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
    let best = best_epoch.filter(|&b| history.iter().any(|r| r.epoch == b));
    render(path, LEARNING_CURVES_SIZE, |root| {
        let panels = titled(root, title)?.split_evenly((1, 2));
        panel(&panels[0], "Loss", history, |m| Some(m.loss), best)?;
        if history[0].val.accuracy.is_some() {
            panel(&panels[1], "Accuracy", history, |m| m.accuracy, best)
        } else {
            panel(&panels[1], "Mean absolute error", history, |m| m.mae, best)
        }
    })
}

/// One panel of the learning curves: `value` of the training and validation metrics by epoch.
fn panel(
    area: &Area<'_>,
    caption: &str,
    history: &[EpochRecord],
    value: impl Fn(&Metrics) -> Option<f32>,
    best: Option<usize>,
) -> Result<(), DrawError> {
    let accuracy = caption == "Accuracy";
    let curve = |metrics: fn(&EpochRecord) -> &Metrics| -> Vec<(i32, f64)> {
        let point = |r: &EpochRecord| Some((r.epoch as i32, f64::from(value(metrics(r))?)));
        let points = history.iter().filter_map(point);
        points.filter(|p| p.1.is_finite()).collect()
    };
    let (train, val) = (curve(|r| &r.train), curve(|r| &r.val));
    let ys = train.iter().chain(&val).map(|p| p.1);
    let (lo, hi) = (ys.clone().reduce(f64::min), ys.reduce(f64::max));
    // Losses, errors and accuracies are not negative, and an accuracy is at most 1.
    let y = padded(false, lo.unwrap_or(0.0), hi.unwrap_or(1.0));
    let y = y.start.max(0.0)..y.end.min(if accuracy { 1.0 } else { f64::MAX });
    let n = history.iter().map(|r| r.epoch).max().unwrap_or(1) as i32;

    let mut chart = ChartBuilder::on(area)
        .caption(caption, font(18.0, Bold))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(0..n + 1, y.clone())?;
    let percent = |v: &f64| format!("{}%", pretty_print_float(100.0 * v, false));
    let y_label: &dyn Fn(&f64) -> String = if accuracy { &percent } else { &number };
    chart
        .configure_mesh()
        .x_desc("Epoch")
        .y_desc(caption)
        .y_label_formatter(y_label)
        .label_style(font(14.0, Normal).color(&AXIS))
        .axis_desc_style(font(15.0, Normal))
        .axis_style(AXIS)
        .bold_line_style(GRID)
        .light_line_style(GRID.mix(0.4))
        .draw()?;

    if let Some(e) = best.map(|e| e as i32) {
        let (style, line) = (BEST.stroke_width(2), [(e, y.start), (e, y.end)]);
        chart
            .draw_series(DashedLineSeries::new(line, 8, 6, style))?
            .label(format!("best epoch ({e})"))
            .legend(move |(x, y)| DashedPathElement::new([(x, y), (x + 24, y)], 6, 3, style));
        let ring = val.iter().filter(|p| p.0 == e);
        chart.draw_series(ring.map(|&p| Circle::new(p, 8, style)))?;
    }
    for (points, color, name) in [(train, TRAIN, "train"), (val, VALIDATION, "validation")] {
        let style = color.filled().stroke_width(3);
        chart
            .draw_series(LineSeries::new(points, style).point_size(if n <= 60 { 4 } else { 0 }))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
    }
    // Where the curves seldom run: below rising accuracies, above falling losses.
    use SeriesLabelPosition::{LowerRight, UpperMiddle};
    chart
        .configure_series_labels()
        .position(if accuracy { LowerRight } else { UpperMiddle })
        .label_font(font(15.0, Normal))
        .background_style(WHITE.mix(0.9))
        .border_style(GRID)
        .draw()
}

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

/// Draws `series` as one PNG chart of [`SERIES_CHART_SIZE`], titled by `chart`: each series a
/// line in the next colour of the Okabe–Ito palette (blue, orange, bluish green, vermillion,
/// reddish purple, sky blue, yellow, black, then again), with a marker on each point (only on
/// points standing alone if it has more than 100), named in a legend right of the plot.
///
/// A point with a non-finite coordinate (a diverged run's NaN loss, say) is left out and
/// breaks its line, as is one not positive on a log axis or beyond what an axis places (a
/// magnitude above 1e300 on a linear axis, a value outside 1e-100…1e100 on a log axis). A
/// series left with no point is named "(no points)". The axes span the points drawn, padded.
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
/// let (adam, sgd) = ([(1.0, 0.9), (2.0, 0.5)], [(1.0, 1.2), (2.0, f64::NAN), (3.0, 0.7)]);
/// let chart = Chart { title: "Training loss", x_label: "Epoch", log_y: true, ..Chart::default() };
/// let series = [Series { name: "Adam", points: &adam }, Series { name: "SGD", points: &sgd }];
/// report::plot_series("out/loss.png", &chart, &series)?;
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
    let mut points = series.iter().flat_map(|s| s.points).filter(|p| drawable(p));
    let Some(&(x, y)) = points.next() else {
        return Err(ReportError::NothingToPlot { path: path.into() });
    };
    let [x_lo, x_hi, y_lo, y_hi] = points.fold([x, x, y, y], |[a, b, c, d], &(x, y)| {
        [a.min(x), b.max(x), c.min(y), d.max(y)]
    });
    let x = padded(chart.log_x, x_lo, x_hi);
    let y = padded(chart.log_y, y_lo, y_hi);
    render(path, SERIES_CHART_SIZE, |root| {
        let body = titled(root, chart.title)?;
        match (chart.log_x, chart.log_y) {
            (false, false) => draw_lines(&body, chart, series, x, y),
            (true, false) => draw_lines(&body, chart, series, x.log_scale(), y),
            (false, true) => draw_lines(&body, chart, series, x, y.log_scale()),
            (true, true) => draw_lines(&body, chart, series, x.log_scale(), y.log_scale()),
        }
    })
}

/// The plot of a [`plot_series`] chart on `area`, with axes `x` and `y`, and its legend in
/// the margin at its right, as wide as the longest name needs (at most a third of `area`).
fn draw_lines(
    area: &Area<'_>,
    chart: &Chart,
    series: &[Series],
    x: impl AsRangedCoord<Value = f64, CoordDescType: ValueFormatter<f64>>,
    y: impl AsRangedCoord<Value = f64, CoordDescType: ValueFormatter<f64>>,
) -> Result<(), DrawError> {
    let drawable = |&(x, y): &(f64, f64)| placeable(chart.log_x, x) && placeable(chart.log_y, y);
    let (w, legend_font) = (area.dim_in_pixel().0, font(15.0, Normal));
    let (mut legend_width, mut names) = (0, Vec::with_capacity(series.len()));
    for s in series {
        let name = match s.points.iter().any(drawable) {
            true => s.name.to_string(),
            false => format!("{} (no points)", s.name),
        };
        legend_width = legend_width.max(area.estimate_text_size(&name, &legend_font)?.0 + 86);
        names.push(name);
    }
    let (plot_area, legend_area) = area.split_horizontally(w - legend_width.min(w / 3));
    let mut legend = ChartBuilder::on(&legend_area)
        .margin(16)
        .margin_left(0)
        .build_cartesian_2d(0..1, 0..1)?;
    let mut plot = ChartBuilder::on(&plot_area)
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(100)
        .build_cartesian_2d(x, y)?;
    plot.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .x_label_formatter(&number)
        .y_label_formatter(&number)
        .label_style(font(14.0, Normal).color(&AXIS))
        .axis_desc_style(font(15.0, Normal))
        .axis_style(AXIS)
        .bold_line_style(GRID)
        .light_line_style(GRID.mix(0.4))
        .draw()?;

    for (i, (s, name)) in series.iter().zip(names).enumerate() {
        let color = SERIES_COLORS[i % SERIES_COLORS.len()];
        // Runs of drawable points; a point left out breaks the line.
        let runs = s.points.split(|p| !drawable(p));
        let runs: Vec<_> = runs.filter(|run| !run.is_empty()).collect();
        let every_point = runs.iter().map(|run| run.len()).sum::<usize>() <= MARKER_LIMIT;
        for run in runs {
            let marker = if every_point || run.len() == 1 { 4 } else { 0 };
            let line = LineSeries::new(run.iter().copied(), color.filled().stroke_width(3));
            plot.draw_series(line.point_size(marker))?;
        }
        // The legend's key: the line with its marker.
        legend
            .draw_series(std::iter::empty::<Circle<(i32, i32), i32>>())?
            .label(name)
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new([(0, 0), (28, 0)], color.stroke_width(3))
                    + Circle::new((14, 0), 4, color.filled())
            });
    }
    legend
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .legend_area_size(40)
        .label_font(legend_font)
        .border_style(GRID)
        .draw()
}

impl ConfusionMatrix {
    /// Draws the matrix as [`plot_with_title`](Self::plot_with_title) does (and fails as it
    /// does), titled "Confusion matrix".
    pub fn plot(&self, path: impl AsRef<Path>, class_names: &[&str]) -> Result<(), ReportError> {
        self.plot_with_title(path, class_names, "Confusion matrix")
    }

    /// Draws the matrix as a PNG heatmap of [`CONFUSION_MATRIX_SIZE`]: rows are true
    /// classes, columns predicted ones, each cell holds its count and is shaded by its share
    /// of the row; recall closes each row and precision each column. `class_names` label the
    /// axes (an empty slice numbers the classes); column names too wide for their cells are
    /// turned a quarter.
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
        let n = self.classes();
        let invalid = |message: String| ReportError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if n == 0 {
            return Err(invalid("the matrix has no classes".into()));
        }
        let names: Vec<String> = match class_names.len() {
            0 => (0..n).map(|c| c.to_string()).collect(),
            k if k == n => class_names.iter().map(|s| s.to_string()).collect(),
            k => return Err(invalid(format!("{k} class names for {n} classes"))),
        };
        render(path, CONFUSION_MATRIX_SIZE, |root| {
            self.draw(root, &names, title)
        })
    }

    /// The heatmap on a grid of half cells: cell `(l, p)` spans `2p..2p + 2` across and
    /// `2(n − l)..2(n − l) + 2` up, so row 0 is on top; the column right of the matrix holds
    /// the recall, the row below it the precision, and tick labels sit at the cell centres.
    fn draw(&self, root: &Area<'_>, names: &[String], title: &str) -> Result<(), DrawError> {
        let n = self.classes();
        let body = titled(root, title)?;
        let label_font = font(14.0, Normal);
        let mut widest = 0;
        for name in names.iter().map(String::as_str).chain(["Precision"]) {
            widest = widest.max(body.estimate_text_size(name, &label_font)?.0);
        }
        // Column names too wide for their cells are turned a quarter, reading downwards.
        let turned =
            widest + 6 > body.dim_in_pixel().0.saturating_sub(widest + 90) / (n as u32 + 1);
        let centres: Vec<i32> = (0..=n as i32).map(|k| 2 * k + 1).collect();
        let axis = || (0..2 * (n as i32 + 1)).with_key_points(centres.clone());
        let total = grouped(self.total());
        let subtitle = format!(
            "{total} samples  ·  accuracy {}",
            percent(self.accuracy(), 2)
        );
        let mut chart = ChartBuilder::on(&body)
            .caption(subtitle, font(15.0, Normal))
            .margin(20)
            .x_label_area_size(if turned { widest + 50 } else { 66 })
            .y_label_area_size(widest + 50)
            .build_cartesian_2d(axis(), axis())?;
        let column = |v: &i32| names.get(*v as usize / 2).map_or("Recall", String::as_str);
        let row = |v: &i32| match n.checked_sub(*v as usize / 2) {
            Some(l) if l < n => names[l].as_str(),
            _ => "Precision",
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("Predicted class")
            .y_desc("True class")
            .x_label_formatter(&|v| if turned { "" } else { column(v) }.into())
            .y_label_formatter(&|v| row(v).into())
            .label_style(label_font.clone())
            .axis_desc_style(font(16.0, Bold))
            .axis_style(WHITE)
            .draw()?;
        let (plot, base) = (chart.plotting_area(), body.get_base_pixel());
        if turned {
            // The mesh centres turned labels on their ticks; these hang from them.
            let style = label_font.transform(FontTransform::Rotate90);
            let style = style.pos(Pos::new(HPos::Left, VPos::Center));
            for c in &centres {
                let (x, y) = plot.map_coordinate(&(*c, 0));
                let at = (x - base.0, y - base.1 + 8);
                body.draw(&Text::new(column(c), at, style.clone()))?;
            }
        }

        // Each cell: counts shaded by their share of the row, then recall, precision and the
        // accuracy, at (column, row from the bottom).
        let cell_px = plot.map_coordinate(&(2, 0)).0 - plot.map_coordinate(&(0, 0)).0;
        let size = (f64::from(cell_px) * 0.26).clamp(7.0, 20.0);
        let cell = |(x, y): (usize, usize), fill: RGBColor, text: String, ink, bold| {
            let (x, y) = (2 * x as i32, 2 * y as i32);
            let mut rect = Rectangle::new([(x, y), (x + 2, y + 2)], fill.filled());
            rect.set_margin(1, 1, 1, 1);
            plot.draw(&rect)?;
            let style = font(size, bold).color(&ink);
            let style = style.pos(Pos::new(HPos::Center, VPos::Center));
            plot.draw(&Text::new(text, (x + 1, y + 1), style))
        };
        for l in 0..n {
            for p in 0..n {
                let (count, row) = (self.count(l, p), self.support(l));
                let share = count as f64 / row.max(1) as f64;
                let ink = if share > 0.45 { WHITE } else { TEXT };
                let style = if l == p { Bold } else { Normal };
                cell((p, n - l), blues(share), grouped(count), ink, style)?;
            }
            cell((n, n - l), PANEL, percent(self.recall(l), 1), TEXT, Normal)?;
            cell((l, 0), PANEL, percent(self.precision(l), 1), TEXT, Normal)?;
        }
        cell((n, 0), PANEL, percent(self.accuracy(), 1), TEXT, Bold)
    }
}

/// A white-to-dark-blue shade for a share `v` in `[0, 1]`.
fn blues(v: f64) -> RGBColor {
    let mix = |a: f64, b: f64| (a + (b - a) * v.clamp(0.0, 1.0)).round() as u8;
    RGBColor(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn axis_ranges_and_labels() {
        // Padded by 12 % of the half-span each side; equal values by a tenth of their size,
        // ±1 around 0; a log axis by ratios, at least a decade wide.
        for (log, lo, hi, want) in [
            (false, 0.0, 10.0, -0.6..10.6),
            (false, 5.0, 5.0, 4.44..5.56),
            (false, 0.0, 0.0, -1.12..1.12),
            (true, 1.0, 1.0, 10f64.powf(-0.56)..10f64.powf(0.56)),
        ] {
            let r = padded(log, lo, hi);
            assert!(
                (r.start - want.start).abs() + (r.end - want.end).abs() < 1e-9,
                "{r:?}"
            );
        }
        // The extremes placeable keep a finite span, a finite ratio on a log axis.
        let (r, log) = (padded(false, -1e300, 1e300), padded(true, 1e-100, 1e100));
        assert!((r.end - r.start).is_finite() && (log.end / log.start).is_finite());
        assert!(padded(false, 5e-324, 5e-324).contains(&5e-324));
        let labels = [0.25, 1500.0, 0.001, 2.5e-6, 1.2e9, 0.1 + 0.2].map(|v| number(&v));
        assert_eq!(labels, ["0.25", "1500", "0.001", "2.5e-6", "1.2e9", "0.3"]);
        assert_eq!(blues(1.0), RGBColor(8, 48, 107));
    }
}
