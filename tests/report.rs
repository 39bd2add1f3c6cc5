//! Reports of a training run: CSV log, learning curves, confusion matrix, summary.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use firmnet::host::report::{
    self, CONFUSION_MATRIX_SIZE, CSV_HEADER, Chart, ConfusionError, ConfusionMatrix,
    LEARNING_CURVES_SIZE, ReportError, SERIES_CHART_SIZE, Series, Summary,
};
use firmnet::host::{EpochRecord, Evaluation, FitSummary, Metrics, Monitor};

const FASHION: [&str; 10] = firmnet::host::FASHION_MNIST_CLASSES;

/// A fresh directory for one test's files.
fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("report")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A classifier's metrics.
fn classification(loss: f32, accuracy: f32) -> Metrics {
    Metrics {
        loss,
        accuracy: Some(accuracy),
        mse: None,
        mae: None,
        r2: None,
    }
}

/// A plausible run: loss falls, accuracy rises, validation flattens out and then worsens.
fn history(epochs: usize) -> Vec<EpochRecord> {
    (1..=epochs)
        .map(|e| {
            let t = e as f32;
            let train_loss = 0.25 + 0.45 * (-0.35 * t).exp();
            let val_loss = 0.31 + 0.35 * (-0.45 * t).exp() + 0.004 * (t - 12.0).max(0.0).powi(2);
            EpochRecord {
                epoch: e,
                lr: 2e-3 * (0.5 + 0.5 * (std::f32::consts::PI * t / epochs as f32).cos()),
                train: classification(train_loss, 0.93 - 0.18 * (-0.3 * t).exp()),
                val: classification(
                    val_loss,
                    0.895 - 0.12 * (-0.5 * t).exp() - 0.0008 * (t - 12.0).max(0.0),
                ),
                train_seconds: 3.25 + 0.01 * t as f64,
                samples_per_second: 16_615.4 - t as f64,
            }
        })
        .collect()
}

/// Files in `dir` other than `keep`: leftovers of an interrupted or failed write.
fn strays(dir: &Path, keep: &[&str]) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !keep.contains(&name.as_str()))
        .collect()
}

#[test]
fn csv_round_trip() {
    let dir = out_dir("csv_round_trip");
    let path = dir.join("history.csv");
    let mut records = history(7);
    // Values whose shortest decimal form is long or unusual.
    records[0].lr = 1e-7;
    records[1].train.loss = 0.1;
    records[2].val.loss = f32::INFINITY;
    // A regression run's metrics: no accuracy, the rest present.
    records[5].val = Metrics {
        loss: 0.5,
        accuracy: None,
        mse: Some(0.25),
        mae: Some(1.0 / 3.0),
        r2: Some(-0.125),
    };
    records[3].train_seconds = 1.0 / 3.0;
    records[4].samples_per_second = 123_456_789.123_456_78;
    report::write_csv(&path, &records).unwrap();

    let text = fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert_eq!(header, CSV_HEADER);
    assert_eq!(
        header.split(',').collect::<Vec<_>>(),
        [
            "epoch",
            "lr",
            "train_loss",
            "train_accuracy",
            "train_mse",
            "train_mae",
            "train_r2",
            "val_loss",
            "val_accuracy",
            "val_mse",
            "val_mae",
            "val_r2",
            "train_seconds",
            "samples_per_second"
        ]
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), records.len());
    for (row, r) in rows.iter().zip(&records) {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f.len(), 14, "{row}");
        assert_eq!(f[0].parse::<usize>().unwrap(), r.epoch);
        let metrics = |m: &Metrics| [Some(m.loss), m.accuracy, m.mse, m.mae, m.r2];
        let f32s = [
            [Some(r.lr)].as_slice(),
            &metrics(&r.train),
            &metrics(&r.val),
        ]
        .concat();
        for (k, want) in f32s.into_iter().enumerate() {
            let got: Option<f32> = (!f[k + 1].is_empty()).then(|| f[k + 1].parse().unwrap());
            assert_eq!(
                got.map(f32::to_bits),
                want.map(f32::to_bits),
                "field {} of {row}",
                k + 1
            );
        }
        assert_eq!(
            f[12].parse::<f64>().unwrap().to_bits(),
            r.train_seconds.to_bits()
        );
        assert_eq!(
            f[13].parse::<f64>().unwrap().to_bits(),
            r.samples_per_second.to_bits()
        );
    }
    assert_eq!(report::read_csv(&path).unwrap(), records);
    assert!(strays(&dir, &["history.csv"]).is_empty());

    // Rewriting replaces the file whole and leaves no temporary file behind.
    report::write_csv(&path, &records[..2]).unwrap();
    assert_eq!(report::read_csv(&path).unwrap(), &records[..2]);
    assert_eq!(fs::read_to_string(&path).unwrap().lines().count(), 3);
    assert!(strays(&dir, &["history.csv"]).is_empty());

    // An empty history is a header alone.
    report::write_csv(&path, &[]).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{CSV_HEADER}\n")
    );
    assert!(report::read_csv(&path).unwrap().is_empty());
}

#[test]
fn csv_creates_directories_and_rejects_foreign_files() {
    let dir = out_dir("csv_dirs");
    let path = dir.join("a/b/history.csv");
    report::write_csv(&path, &history(2)).unwrap();
    assert_eq!(report::read_csv(&path).unwrap(), history(2));

    let bad = dir.join("bad.csv");
    fs::write(&bad, format!("{CSV_HEADER}\n1,0.1,0.5,0.9,0.6,0.8,1.0\n")).unwrap();
    match report::read_csv(&bad) {
        Err(ReportError::Parse { path, line, .. }) => {
            assert_eq!(path, bad);
            assert_eq!(line, 2);
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    fs::write(&bad, "epoch,loss\n").unwrap();
    assert!(matches!(
        report::read_csv(&bad),
        Err(ReportError::Parse { line: 1, .. })
    ));
    fs::write(
        &bad,
        format!("{CSV_HEADER}\n1,x,0.5,0.9,,,,0.6,0.8,,,,1.0,2.0\n"),
    )
    .unwrap();
    let err = report::read_csv(&bad).unwrap_err();
    assert!(err.to_string().contains("lr"), "{err}");
    assert!(matches!(
        report::read_csv(dir.join("missing.csv")),
        Err(ReportError::Io { .. })
    ));
}

#[test]
fn unwritable_paths_are_typed_errors() {
    let dir = out_dir("unwritable");
    // A regular file where a directory should be: fails even for root.
    let blocker = dir.join("not-a-directory");
    fs::write(&blocker, "x").unwrap();
    let records = history(3);
    let matrix = ConfusionMatrix::from_predictions(2, &[0, 1], &[0, 0]).unwrap();
    let results = [
        (
            "history.csv",
            report::write_csv(blocker.join("history.csv"), &records),
        ),
        (
            "curves.png",
            report::plot_learning_curves(blocker.join("curves.png"), &records, "t", None),
        ),
        (
            "confusion.png",
            matrix.plot(blocker.join("confusion.png"), &[]),
        ),
        (
            "summary.txt",
            report::write_text(blocker.join("summary.txt"), "x"),
        ),
    ];
    for (name, result) in results {
        let err = result.expect_err(name);
        assert!(matches!(err, ReportError::Io { .. }), "{name}: {err:?}");
        assert_eq!(err.path(), blocker.join(name));
        let message = err.to_string();
        assert!(
            message.contains(&*blocker.join(name).to_string_lossy()),
            "{message}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }
    // An existing directory cannot be replaced by a file; nothing is left beside it.
    let target = dir.join("occupied");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("keep"), "x").unwrap();
    let err = report::write_csv(&target, &records).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err:?}");
    assert!(strays(&dir, &["not-a-directory", "occupied"]).is_empty());
}

#[test]
fn confusion_matrix_counts_and_rates() {
    // Hand-made: 3 classes, 10 samples.
    let labels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
    let predictions = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1];
    let m = ConfusionMatrix::from_predictions(3, &labels, &predictions).unwrap();
    // Rows: true class; columns: predicted.
    assert_eq!(m.counts(), &[2, 1, 1, 1, 2, 0, 0, 1, 2]);
    assert_eq!(m.count(0, 2), 1);
    assert_eq!(m.count(2, 1), 1);
    assert_eq!(m.count(1, 2), 0);
    assert_eq!(m.count(3, 0), 0);
    assert_eq!(m.total(), 10);
    assert_eq!(m.correct(), 6);
    assert_eq!(m.accuracy(), Some(0.6));
    assert_eq!([m.support(0), m.support(1), m.support(2)], [4, 3, 3]);
    assert_eq!([m.predicted(0), m.predicted(1), m.predicted(2)], [3, 4, 3]);

    let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
    // precision = TP / predicted, recall = TP / support.
    assert!(close(m.precision(0), 2.0 / 3.0));
    assert!(close(m.recall(0), 2.0 / 4.0));
    assert!(close(m.precision(1), 2.0 / 4.0));
    assert!(close(m.recall(1), 2.0 / 3.0));
    assert!(close(m.precision(2), 2.0 / 3.0));
    assert!(close(m.recall(2), 2.0 / 3.0));
    // F1 of class 0: 2·(2/3)·(1/2) / (2/3 + 1/2) = 4/7.
    assert!(close(m.f1(0), 4.0 / 7.0));
    // One-vs-rest accuracy of class 0: 2 missed, 1 false alarm → 7 of 10 right.
    assert!(close(m.class_accuracy(0), 0.7));
    assert!(close(m.class_accuracy(1), 0.7));
    assert!(close(m.class_accuracy(2), 0.8));

    // Incremental counting gives the same matrix.
    let mut n = ConfusionMatrix::new(3);
    for (&l, &p) in labels.iter().zip(&predictions) {
        n.add(l.into(), p.into()).unwrap();
    }
    assert_eq!(n, m);

    // Undefined rates are None, not NaN.
    let never = ConfusionMatrix::from_predictions(3, &[0, 1], &[0, 0]).unwrap();
    assert_eq!(never.precision(1), None);
    assert_eq!(never.recall(1), Some(0.0));
    assert_eq!(never.recall(2), None);
    assert_eq!(never.f1(1), None);
    assert_eq!(ConfusionMatrix::new(2).accuracy(), None);
}

#[test]
fn confusion_matrix_rejects_bad_input() {
    assert_eq!(
        ConfusionMatrix::from_predictions(3, &[0, 1], &[0]),
        Err(ConfusionError::LengthMismatch {
            labels: 2,
            predictions: 1
        })
    );
    let err = ConfusionMatrix::from_predictions(3, &[0, 1, 2], &[0, 3, 2]).unwrap_err();
    assert_eq!(
        err,
        ConfusionError::ClassOutOfRange {
            sample: Some(1),
            class: 3,
            classes: 3
        }
    );
    assert_eq!(
        err.to_string(),
        "sample 1: class 3 is out of range for 3 classes"
    );
    assert!(ConfusionMatrix::new(2).add(2, 0).is_err());

    let dir = out_dir("confusion_bad");
    let m = ConfusionMatrix::from_predictions(3, &[0, 1], &[0, 0]).unwrap();
    let err = m.plot(dir.join("m.png"), &["a", "b"]).unwrap_err();
    assert!(matches!(err, ReportError::Invalid { .. }), "{err:?}");
    assert!(
        err.to_string().contains("2 class names for 3 classes"),
        "{err}"
    );
    let err = ConfusionMatrix::new(0)
        .plot(dir.join("m.png"), &[])
        .unwrap_err();
    assert!(matches!(err, ReportError::Invalid { .. }), "{err:?}");
    assert!(strays(&dir, &[]).is_empty());
}

#[test]
fn confusion_matrix_text() {
    let m = ConfusionMatrix::from_predictions(
        3,
        &[0, 0, 0, 0, 1, 1, 1, 2, 2, 2],
        &[0, 0, 1, 2, 1, 1, 0, 2, 2, 1],
    )
    .unwrap();
    let text = m.table(&["cat", "dog", "bird"]).to_string();
    assert!(text.contains("10 samples, accuracy 60.00%"), "{text}");
    let row = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no row {prefix:?} in\n{text}"))
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("0 cat")[2..], ["2", "1", "1", "50.0%"]);
    assert_eq!(row("1 dog")[2..], ["1", "2", "0", "66.7%"]);
    assert_eq!(row("precision")[1..], ["66.7%", "50.0%", "66.7%"]);
    // Without names the classes are numbered.
    assert!(m.to_string().lines().any(|l| l.starts_with("2 ")), "{m}");
}

struct Png {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

/// Checks the PNG signature and the IHDR chunk by hand, then decodes the image.
fn read_png(path: &Path) -> Png {
    let bytes = fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{}: not a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (width, height));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    Png {
        width,
        height,
        rgb: buf,
    }
}

/// Asserts that the image is not blank: many colours, a fair share of non-white pixels, and
/// some pixels close to each of `colors`.
fn assert_drawn(png: &Png, colors: &[[u8; 3]]) {
    let pixels: Vec<[u8; 3]> = png
        .rgb
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    assert_eq!(pixels.len(), (png.width * png.height) as usize);
    let distinct: HashSet<[u8; 3]> = pixels.iter().copied().collect();
    assert!(distinct.len() > 50, "only {} colours", distinct.len());
    let inked = pixels.iter().filter(|p| **p != [255, 255, 255]).count();
    assert!(inked * 50 > pixels.len(), "only {inked} non-white pixels");
    for want in colors {
        let near = pixels
            .iter()
            .filter(|p| p.iter().zip(want).all(|(a, b)| a.abs_diff(*b) <= 8))
            .count();
        assert!(near > 100, "only {near} pixels near {want:?}");
    }
}

#[test]
fn learning_curves_png() {
    let dir = out_dir("curves");
    let path = dir.join("learning_curves.png");
    let records = history(20);
    report::plot_learning_curves(
        &path,
        &records,
        "Fashion-MNIST · MLP 784-256-128-10",
        Some(12),
    )
    .unwrap();
    let png = read_png(&path);
    assert_eq!((png.width, png.height), LEARNING_CURVES_SIZE);
    // The train (blue), validation (orange) and best-epoch (green) lines are there.
    assert_drawn(&png, &[[31, 119, 180], [230, 115, 0], [46, 139, 87]]);
    assert!(strays(&dir, &["learning_curves.png"]).is_empty());

    // One epoch, no best epoch, a non-finite loss: still a chart, no panic.
    let mut one = history(1);
    one[0].val.loss = f32::NAN;
    let short = dir.join("one_epoch.png");
    report::plot_learning_curves(&short, &one, "one epoch", None).unwrap();
    assert_eq!(
        (read_png(&short).width, read_png(&short).height),
        LEARNING_CURVES_SIZE
    );

    let err = report::plot_learning_curves(dir.join("empty.png"), &[], "empty", None).unwrap_err();
    assert!(matches!(err, ReportError::Invalid { .. }), "{err:?}");
    assert!(!dir.join("empty.png").exists());
}

/// The Okabe–Ito colours `plot_series` gives its first eight series, in order.
const OKABE_ITO: [[u8; 3]; 8] = [
    [0, 114, 178],
    [230, 159, 0],
    [0, 158, 115],
    [213, 94, 0],
    [204, 121, 167],
    [86, 180, 233],
    [240, 228, 66],
    [0, 0, 0],
];

/// Number of pixels within 8 of `color` in every channel.
fn count_near(png: &Png, color: [u8; 3]) -> usize {
    png.rgb
        .chunks_exact(3)
        .filter(|p| p.iter().zip(&color).all(|(a, b)| a.abs_diff(*b) <= 8))
        .count()
}

/// Plots `series` on `chart` into `dir/name` and decodes it.
fn plot(dir: &Path, name: &str, chart: &Chart, series: &[Series]) -> Png {
    let path = dir.join(name);
    report::plot_series(&path, chart, series).unwrap_or_else(|e| panic!("{name}: {e}"));
    let png = read_png(&path);
    assert_eq!((png.width, png.height), SERIES_CHART_SIZE, "{name}");
    png
}

/// A loss curve per run: falling, each run a little higher than the one before.
fn runs(count: usize, epochs: usize) -> Vec<Vec<(f64, f64)>> {
    (0..count)
        .map(|k| {
            (1..=epochs)
                .map(|e| {
                    let t = e as f64;
                    (t, 0.2 + (1.0 + 0.3 * k as f64) * (-0.15 * t).exp())
                })
                .collect()
        })
        .collect()
}

const LOSS_CHART: Chart = Chart {
    title: "Validation loss of eight runs",
    x_label: "Epoch",
    y_label: "Cross-entropy loss",
    log_x: false,
    log_y: false,
};

#[test]
fn series_chart_png() {
    let dir = out_dir("series");
    let runs = runs(8, 30);
    let names: Vec<String> = (0..8).map(|k| format!("run {k}")).collect();
    let series: Vec<Series> = names
        .iter()
        .zip(&runs)
        .map(|(name, points)| Series { name, points })
        .collect();
    let png = plot(&dir, "series.png", &LOSS_CHART, &series);
    // Each series has its own palette colour.
    assert_drawn(&png, &OKABE_ITO);
    assert_eq!(SERIES_CHART_SIZE, LEARNING_CURVES_SIZE);

    // One series: its colour, a line's worth of it, and none of the others'.
    let png = plot(&dir, "one.png", &LOSS_CHART, &series[..1]);
    assert!(count_near(&png, OKABE_ITO[0]) > 1000);
    for color in &OKABE_ITO[1..] {
        assert_eq!(count_near(&png, *color), 0, "{color:?}");
    }
    // Log axes on positive data draw the same colours.
    let log = Chart {
        log_x: true,
        log_y: true,
        ..LOSS_CHART
    };
    assert_drawn(&plot(&dir, "log.png", &log, &series[..2]), &OKABE_ITO[..2]);
    assert!(strays(&dir, &["series.png", "one.png", "log.png"]).is_empty());
}

#[test]
fn series_chart_skips_non_finite_points() {
    let dir = out_dir("series_non_finite");
    let blue = OKABE_ITO[0];
    // A flat line across the chart, and the same with its middle point missing: the gap
    // breaks the line, leaving little more than the legend key and two markers.
    let whole = [(0.0, 0.0), (1.0, 0.0), (2.0, 0.0)];
    let png = plot(
        &dir,
        "whole.png",
        &Chart::default(),
        &[Series {
            name: "whole",
            points: &whole,
        }],
    );
    let line = count_near(&png, blue);
    for (name, gap) in [
        ("nan", f64::NAN),
        ("inf", f64::INFINITY),
        ("neg_inf", f64::NEG_INFINITY),
    ] {
        for point in [(1.0, gap), (gap, 0.0)] {
            let broken = [(0.0, 0.0), point, (2.0, 0.0)];
            let png = plot(
                &dir,
                &format!("{name}.png"),
                &Chart::default(),
                &[Series {
                    name,
                    points: &broken,
                }],
            );
            let drawn = count_near(&png, blue);
            assert!(
                drawn * 4 < line,
                "{name} {point:?}: {drawn} vs {line} pixels"
            );
            assert!(drawn > 100, "{name}: only {drawn} pixels");
        }
    }

    // A diverged run beside a good one, and a run with nothing finite at all.
    let good = [(1.0, 0.9), (2.0, 0.6), (3.0, 0.5)];
    let diverged = [
        (1.0, 1.1),
        (2.0, 7.5),
        (3.0, f64::INFINITY),
        (4.0, f64::NAN),
    ];
    let lost = [(f64::NAN, f64::NAN), (1.0, f64::INFINITY)];
    let png = plot(
        &dir,
        "diverged.png",
        &LOSS_CHART,
        &[
            Series {
                name: "good",
                points: &good,
            },
            Series {
                name: "diverged",
                points: &diverged,
            },
            Series {
                name: "lost",
                points: &lost,
            },
        ],
    );
    assert_drawn(&png, &OKABE_ITO[..3]);

    // Nothing plottable: a typed error and no file.
    let empty = dir.join("empty.png");
    let cases: [&[Series]; 3] = [
        &[],
        &[Series {
            name: "none",
            points: &[],
        }],
        &[
            Series {
                name: "lost",
                points: &lost,
            },
            Series {
                name: "nan",
                points: &[(f64::NAN, 1.0), (2.0, f64::NAN)],
            },
        ],
    ];
    for series in cases {
        let err = report::plot_series(&empty, &LOSS_CHART, series).unwrap_err();
        assert!(matches!(err, ReportError::NothingToPlot { .. }), "{err:?}");
        assert_eq!(err.path(), empty);
        let message = err.to_string();
        assert!(message.starts_with(&*empty.to_string_lossy()), "{message}");
        assert!(message.contains("nothing to plot"), "{message}");
        assert!(std::error::Error::source(&err).is_none());
    }
    assert!(!empty.exists());
}

#[test]
fn series_chart_log_axis_skips_non_positive_values() {
    let dir = out_dir("series_log");
    let log_y = Chart {
        title: "Loss",
        log_y: true,
        ..Chart::default()
    };
    // On a log axis a zero or negative value is left out exactly as NaN is: the same
    // picture, with the same axis range.
    let with_zero = [
        (1.0, 1.0),
        (2.0, 0.1),
        (3.0, 0.0),
        (4.0, 1e-3),
        (5.0, -2.0),
        (6.0, 1e-4),
    ];
    let with_nan = with_zero.map(|(x, y)| (x, if y > 0.0 { y } else { f64::NAN }));
    let zero = plot(
        &dir,
        "zero.png",
        &log_y,
        &[Series {
            name: "loss",
            points: &with_zero,
        }],
    );
    let nan = plot(
        &dir,
        "nan.png",
        &log_y,
        &[Series {
            name: "loss",
            points: &with_nan,
        }],
    );
    assert!(
        zero.rgb == nan.rgb,
        "a zero on a log axis is not skipped like NaN"
    );
    assert_drawn(&zero, &OKABE_ITO[..1]);
    // The zero does count on a linear axis.
    let linear = plot(
        &dir,
        "linear.png",
        &Chart::default(),
        &[Series {
            name: "loss",
            points: &with_zero,
        }],
    );
    assert!(linear.rgb != zero.rgb);

    // The same along a log x axis (a learning-rate sweep that includes 0).
    let log_x = Chart {
        title: "Sweep",
        x_label: "Learning rate",
        log_x: true,
        ..Chart::default()
    };
    let sweep = [
        (0.0, 0.9),
        (1e-4, 0.5),
        (1e-3, 0.3),
        (-1e-3, 0.2),
        (1e-2, 0.4),
    ];
    let sweep_nan = sweep.map(|(x, y)| (if x > 0.0 { x } else { f64::NAN }, y));
    let zero = plot(
        &dir,
        "sweep_zero.png",
        &log_x,
        &[Series {
            name: "lr",
            points: &sweep,
        }],
    );
    let nan = plot(
        &dir,
        "sweep_nan.png",
        &log_x,
        &[Series {
            name: "lr",
            points: &sweep_nan,
        }],
    );
    assert!(
        zero.rgb == nan.rgb,
        "a zero on a log x axis is not skipped like NaN"
    );

    // Nothing positive on the log axis is nothing to plot.
    let err = report::plot_series(
        dir.join("none.png"),
        &log_y,
        &[Series {
            name: "zero",
            points: &[(1.0, 0.0), (2.0, -1.0)],
        }],
    )
    .unwrap_err();
    assert!(matches!(err, ReportError::NothingToPlot { .. }), "{err:?}");
    assert!(!dir.join("none.png").exists());
}

#[test]
fn series_chart_degenerate_ranges() {
    let dir = out_dir("series_ranges");
    let blue = OKABE_ITO[0];
    let log = Chart {
        log_x: true,
        log_y: true,
        ..LOSS_CHART
    };
    // Single points, equal values and extreme ones: a chart, no panic, on either kind of
    // axis, with the series' colour in it.
    let cases: [(&str, &[(f64, f64)]); 10] = [
        ("single", &[(3.0, 0.25)]),
        ("equal", &[(1.0, 0.5), (2.0, 0.5), (3.0, 0.5)]),
        ("zeros", &[(0.0, 0.0), (0.0, 0.0)]),
        ("negative", &[(-5.0, -1e-12), (-5.0, -1e-12)]),
        ("huge", &[(-f64::MAX, f64::MAX), (f64::MAX, -f64::MAX)]),
        ("limits", &[(-1e300, 1e300), (1e300, -1e300)]),
        ("tiny", &[(5e-324, 5e-324), (f64::MIN_POSITIVE, 1e-300)]),
        ("wide", &[(1e-300, 1e-300), (1e300, 1e300)]),
        ("decades", &[(1e-100, 1e-100), (1e100, 1e100)]),
        ("close", &[(1e15, 1.0), (1e15 + 1.0, 1.0 + 1e-15)]),
    ];
    // What an axis places (see `plot_series`): magnitudes up to 1e300 on a linear axis,
    // 1e-100 to 1e100 on a log axis.
    let placeable = |log: bool, v: f64| {
        if log {
            (1e-100..=1e100).contains(&v)
        } else {
            v.is_finite() && v.abs() <= 1e300
        }
    };
    for (name, points) in cases {
        for (kind, chart) in [("linear", &LOSS_CHART), ("log", &log)] {
            let file = format!("{name}_{kind}.png");
            let series = [Series { name, points }];
            let log = kind == "log";
            if !points
                .iter()
                .any(|&(x, y)| placeable(log, x) && placeable(log, y))
            {
                let err = report::plot_series(dir.join(&file), chart, &series).unwrap_err();
                assert!(
                    matches!(err, ReportError::NothingToPlot { .. }),
                    "{file}: {err:?}"
                );
                continue;
            }
            let png = plot(&dir, &file, chart, &series);
            assert!(count_near(&png, blue) > 100, "{file}");
        }
    }

    // A point standing alone gets a marker: more blue than the legend key alone draws.
    let alone = [(2.0, 1.0)];
    let nothing = [(f64::NAN, 1.0)];
    let orange = [(1.0, 1.0), (3.0, 2.0)];
    let key = count_near(
        &plot(
            &dir,
            "key.png",
            &LOSS_CHART,
            &[
                Series {
                    name: "blue",
                    points: &nothing,
                },
                Series {
                    name: "orange",
                    points: &orange,
                },
            ],
        ),
        blue,
    );
    let marked = count_near(
        &plot(
            &dir,
            "marked.png",
            &LOSS_CHART,
            &[
                Series {
                    name: "blue",
                    points: &alone,
                },
                Series {
                    name: "orange",
                    points: &orange,
                },
            ],
        ),
        blue,
    );
    assert!(marked >= key + 30, "{marked} vs {key} pixels");

    // Many series, long names, dense series: the legend wraps and is cut short, colours
    // repeat with other markers.
    let many = runs(40, 2000);
    let long = "a very long run name ".repeat(100);
    let names: Vec<String> = (0..40)
        .map(|k| format!("{} {k}", if k == 3 { &long } else { "run" }))
        .collect();
    let series: Vec<Series> = names
        .iter()
        .zip(&many)
        .map(|(name, points)| Series { name, points })
        .collect();
    assert_drawn(&plot(&dir, "many.png", &LOSS_CHART, &series), &OKABE_ITO);
}

/// A 10-class matrix shaped like a Fashion-MNIST test run (1,000 samples per class).
fn fashion_matrix() -> ConfusionMatrix {
    let mut m = ConfusionMatrix::new(10);
    // Commonly confused pairs: shirt with T-shirt, pullover and coat; sneaker with sandal
    // and ankle boot.
    let confusions: &[(usize, usize, u32)] = &[
        (0, 6, 95),
        (0, 3, 22),
        (0, 2, 14),
        (2, 4, 80),
        (2, 6, 70),
        (4, 2, 90),
        (4, 6, 60),
        (4, 3, 25),
        (6, 0, 110),
        (6, 2, 85),
        (6, 4, 70),
        (6, 3, 30),
        (3, 4, 30),
        (3, 0, 18),
        (1, 3, 12),
        (5, 7, 25),
        (5, 9, 9),
        (7, 5, 20),
        (7, 9, 30),
        (9, 7, 32),
        (9, 5, 6),
        (8, 6, 8),
        (8, 2, 4),
    ];
    for label in 0..10 {
        let mut wrong = 0;
        for &(l, p, k) in confusions.iter().filter(|c| c.0 == label) {
            for _ in 0..k {
                m.add(l, p).unwrap();
            }
            wrong += k;
        }
        for _ in 0..1000 - wrong {
            m.add(label, label).unwrap();
        }
    }
    m
}

#[test]
fn confusion_matrix_png() {
    let dir = out_dir("confusion");
    let m = fashion_matrix();
    assert_eq!(m.total(), 10_000);
    let path = dir.join("confusion_matrix.png");
    m.plot_with_title(&path, &FASHION, "Fashion-MNIST test set")
        .unwrap();
    let png = read_png(&path);
    assert_eq!((png.width, png.height), CONFUSION_MATRIX_SIZE);
    // Dark diagonal cells and the light precision/recall cells.
    assert_drawn(&png, &[[8, 48, 107], [243, 244, 246]]);

    // Numbered classes, few of them; and many classes with long names.
    let small = dir.join("small.png");
    ConfusionMatrix::from_predictions(2, &[0, 1, 1], &[0, 1, 0])
        .unwrap()
        .plot(&small, &[])
        .unwrap();
    assert_eq!(
        (read_png(&small).width, read_png(&small).height),
        CONFUSION_MATRIX_SIZE
    );
    let names: Vec<String> = (0..24).map(|i| format!("category number {i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let labels: Vec<u16> = (0..2400).map(|i| (i % 24) as u16).collect();
    let predictions: Vec<u16> = (0..2400)
        .map(|i| ((i % 24 + i % 5 / 4) % 24) as u16)
        .collect();
    let many = dir.join("many.png");
    ConfusionMatrix::from_predictions(24, &labels, &predictions)
        .unwrap()
        .plot(&many, &names)
        .unwrap();
    assert_drawn(&read_png(&many), &[]);
    assert!(strays(&dir, &["confusion_matrix.png", "small.png", "many.png"]).is_empty());
}

#[test]
fn fonts_are_typed_errors() {
    let dir = out_dir("fonts");
    let missing = dir.join("no-such-font.ttf");
    let err = report::set_font(&missing).unwrap_err();
    assert!(matches!(err, ReportError::MissingFont { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-font.ttf"), "{err}");
    let junk = dir.join("junk.ttf");
    fs::write(&junk, b"not a font").unwrap();
    let err = report::set_font(&junk).unwrap_err();
    assert!(matches!(err, ReportError::InvalidFont { .. }), "{err:?}");
    // The default font names its Debian package when it is missing.
    assert!(report::FONT_PATH.ends_with("DejaVuSans.ttf"));
    assert_eq!(report::FONT_PACKAGE, "fonts-dejavu-core");
    let err = ReportError::MissingFont {
        path: "out/curves.png".into(),
        font: report::FONT_PATH.into(),
        package: Some(report::FONT_PACKAGE),
        source: std::io::ErrorKind::NotFound.into(),
    };
    let message = err.to_string();
    assert!(message.starts_with("out/curves.png: "), "{message}");
    assert!(
        message.contains("install the Debian package fonts-dejavu-core"),
        "{message}"
    );
    assert!(message.contains(report::FONT_ENV), "{message}");
}

#[test]
fn summary_text() {
    let history = history(17);
    let fit = FitSummary {
        history: history.clone(),
        best_epoch: 12,
        stopped_early: true,
        monitor: Monitor::Accuracy,
        train_seconds: history.iter().map(|r| r.train_seconds).sum(),
    };
    let test = Evaluation {
        loss: 0.3251,
        accuracy: 0.885,
        predictions: vec![],
    };
    let summary = Summary::new(&fit, Some(&test))
        .with_max_epochs(20)
        .with_wall_time(std::time::Duration::from_secs(75));
    assert_eq!(summary.best, Some(history[11]));
    let expected_rate: f64 = history
        .iter()
        .map(|r| r.samples_per_second * r.train_seconds)
        .sum::<f64>()
        / fit.train_seconds;
    assert!((summary.samples_per_second - expected_rate).abs() < 1e-6);
    let text = summary.to_string();
    for want in [
        "17 of 20, stopped early",
        "best epoch  12",
        "test 88.50%",
        "test 0.3251",
        "samples/s",
        "1 min 15 s",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
    let val = format!(
        "validation {:.2}%",
        100.0 * history[11].val.accuracy.unwrap()
    );
    assert!(text.contains(&val), "{val:?} not in\n{text}");

    let ran_out = Summary::new(
        &FitSummary {
            stopped_early: false,
            best_epoch: 17,
            ..fit
        },
        None,
    );
    let text = ran_out.to_string();
    assert!(
        text.contains("ran to the end") && !text.contains("test"),
        "{text}"
    );

    let dir = out_dir("summary");
    report::write_text(dir.join("summary.txt"), &text).unwrap();
    assert_eq!(fs::read_to_string(dir.join("summary.txt")).unwrap(), text);
}

/// The pixels of `color` outside the legend, which sits at the top right of a series chart.
fn plotted(png: &Png, color: [u8; 3]) -> Vec<(u32, u32)> {
    (0..png.height)
        .flat_map(|y| (0..png.width).map(move |x| (x, y)))
        .filter(|&(x, y)| !(x > png.width - 250 && y < 150))
        .filter(|&(x, y)| {
            let i = 3 * (y * png.width + x) as usize;
            png.rgb[i..i + 3]
                .iter()
                .zip(color)
                .all(|(a, b)| a.abs_diff(b) <= 8)
        })
        .collect()
}

/// The leftmost and rightmost column and the top and bottom row of `pixels`.
fn extent(pixels: &[(u32, u32)]) -> (u32, u32, u32, u32) {
    let xs = pixels.iter().map(|p| p.0);
    let ys = pixels.iter().map(|p| p.1);
    let (left, right) = (xs.clone().min().unwrap(), xs.max().unwrap());
    (left, right, ys.clone().min().unwrap(), ys.max().unwrap())
}

/// Mean row of the pixels in `pixels` within 3 columns of `x`.
fn mean_row(pixels: &[(u32, u32)], x: u32) -> f64 {
    let column: Vec<u32> = pixels
        .iter()
        .filter(|p| p.0.abs_diff(x) <= 3)
        .map(|p| p.1)
        .collect();
    assert!(!column.is_empty(), "nothing plotted at column {x}");
    column.iter().map(|&y| f64::from(y)).sum::<f64>() / column.len() as f64
}

#[test]
fn series_chart_places_points_by_their_values() {
    let dir = out_dir("series_places");
    let blue = OKABE_ITO[0];
    // Three points on a power law: a straight line on log-log axes, falling from the upper
    // left to the lower right.
    let power = [(1.0, 100.0), (10.0, 10.0), (100.0, 1.0)];
    let series = [Series {
        name: "power law",
        points: &power,
    }];
    let log = Chart {
        log_x: true,
        log_y: true,
        ..Chart::default()
    };
    let pixels = plotted(&plot(&dir, "log.png", &log, &series), blue);
    let (left, right, top, bottom) = extent(&pixels);
    // The data spans most of the plot, and it falls.
    assert!(
        right - left > 700 && bottom - top > 250,
        "{left}..{right} × {top}..{bottom}"
    );
    assert!(mean_row(&pixels, left + 10) < mean_row(&pixels, right - 10));
    // The middle point, (10, 10), sits halfway in both directions.
    let middle = mean_row(&pixels, (left + right) / 2);
    let halfway = f64::from(top + bottom) / 2.0;
    assert!((middle - halfway).abs() < 6.0, "{middle} vs {halfway}");

    // On linear axes the same points bend: (10, 10) lies near the lower left, so halfway
    // across the line is far below the middle.
    let pixels = plotted(&plot(&dir, "linear.png", &Chart::default(), &series), blue);
    let (left, right, top, bottom) = extent(&pixels);
    let middle = mean_row(&pixels, (left + right) / 2);
    assert!(
        middle > f64::from(top) + 0.8 * f64::from(bottom - top),
        "{middle} in {top}..{bottom}"
    );
}
