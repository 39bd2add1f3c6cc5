//! (c) overfitting and noise, (d) L1 sparsity, (e) early stopping.
//!
//! (c) trains one network without batch normalization on a 10,000-sample subset, once
//! without regularization and once with each of four noise regularizers of the lecture
//! (dropout, Gaussian noise on the inputs and hidden units, shifted images, noise on the
//! weights), and checks
//! whether the unregularized training error goes to zero while the regularized validation
//! errors keep falling. (e) reruns the unregularized setting with early stopping, from the
//! same seeds, and applies the same stopping rule to the noise variants' curves. (d)
//! counts the weights that are exactly zero after training with L1 and with L2 penalties,
//! and the hidden activations that are exactly zero with an L1 penalty on them.

use firmnet::host::report::Chart;
use firmnet::host::{Augment, Regularization, Samples, TrainConfig};
use firmnet::prelude::*;

use crate::common::{
    B, C, D, Lab, Res, Run, config, epoch_chart, fit, fresh, num, pct, series, thousands,
};

// ---------------------------------------------------------------------------------------------
// (c) Overfitting and noise

/// Hidden width of the overfitting network.
const H: usize = 256;
/// Training samples of (c) and (e), and under `--quick`.
const SUBSET: (usize, usize) = (10_000, 3_000);
/// Dropout rates on the input and on the hidden units (Srivastava et al.).
const INPUT_DROP: f32 = 0.2;
const HIDDEN_DROP: f32 = 0.5;
/// Standard deviations of the additive noise on the inputs (pixels in `[0, 1]`) and on the
/// hidden activations.
const INPUT_SIGMA: f32 = 0.3;
const HIDDEN_SIGMA: f32 = 0.5;
/// Largest shift of the augmented images, in pixels.
const MAX_SHIFT: usize = 2;
/// Standard deviation of the noise on the weights, in training only.
const WEIGHT_SIGMA: f32 = 0.02;
/// Learning rate of Adam in (c) and (e).
const LR: f32 = 1e-3;
/// Seed offset of the initial weights: every variant starts from the same weights.
const INIT_SEED: u64 = 0xC0;

/// 784-256-256-10 with ReLU, no batch normalization: big enough to memorize 10,000 images.
type Plain = Net![Dense<D, H>, Relu<[f32; H]>, Dense<H, H>, Relu<[f32; H]>, Dense<H, C>];
/// [`Plain`] with dropout on the input and on both hidden layers.
type WithDropout = Net![
    Dropout<[f32; D]>, Dense<D, H>, Relu<[f32; H]>, Dropout<[f32; H]>, Dense<H, H>,
    Relu<[f32; H]>, Dropout<[f32; H]>, Dense<H, C>
];
/// [`Plain`] with additive Gaussian noise on the input and on both hidden layers.
type WithNoise = Net![
    GaussianNoise<[f32; D]>, Dense<D, H>, Relu<[f32; H]>, GaussianNoise<[f32; H]>,
    Dense<H, H>, Relu<[f32; H]>, GaussianNoise<[f32; H]>, Dense<H, C>
];

/// A [`Plain`] network, all zero (to be initialized).
fn plain() -> Plain {
    net![
        Dense::ZERO,
        Relu::DEFAULT,
        Dense::ZERO,
        Relu::DEFAULT,
        Dense::ZERO
    ]
}

/// A [`WithDropout`] network, all zero (to be initialized).
fn with_dropout() -> WithDropout {
    net![
        Dropout::new(INPUT_DROP),
        Dense::ZERO,
        Relu::DEFAULT,
        Dropout::new(HIDDEN_DROP),
        Dense::ZERO,
        Relu::DEFAULT,
        Dropout::new(HIDDEN_DROP),
        Dense::ZERO
    ]
}

/// A [`WithNoise`] network, all zero (to be initialized).
fn with_noise() -> WithNoise {
    net![
        GaussianNoise::new(INPUT_SIGMA),
        Dense::ZERO,
        Relu::DEFAULT,
        GaussianNoise::new(HIDDEN_SIGMA),
        Dense::ZERO,
        Relu::DEFAULT,
        GaussianNoise::new(HIDDEN_SIGMA),
        Dense::ZERO
    ]
}

/// What (e) needs from (c): the unregularized run and how to repeat it.
pub struct Baseline {
    /// The unregularized run, trained for all epochs.
    run: Run,
    /// Its network after the last epoch.
    net: Box<Plain>,
    /// The training subset.
    train: Samples<D>,
    /// Its training configuration (no early stopping).
    config: TrainConfig,
    /// Seed of the initial weights.
    init_seed: u64,
    /// Validation accuracy per epoch of each regularized variant, by name.
    regularized: Vec<(String, Vec<f32>)>,
}

/// Adam with the given settings, on the heap.
fn adam<G: Params + Zero>(config: AdamConfig) -> Box<Adam<G>> {
    Adam::boxed(config)
}

/// Error rate (1 − accuracy) as `f64`.
fn err(accuracy: f32) -> f64 {
    1.0 - f64::from(accuracy)
}

/// An error rate as a percentage with two decimals.
fn pct_err(accuracy: f32) -> String {
    pct(1.0 - accuracy)
}

/// Percentage points, signed, with two decimals.
fn points(delta: f64) -> String {
    format!("{:+.2}", 100.0 * delta)
}

/// Mean of a slice (NaN when empty).
fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// The late trend of the validation error: its mean over the 10 % of epochs before the
/// last 10 %, and over the last 10 % (at least one epoch each). NaN with fewer than two
/// epochs.
fn late_trend(run: &Run) -> (f64, f64) {
    let errors: Vec<f64> = run
        .history
        .iter()
        .map(|r| err(r.val.accuracy.unwrap()))
        .collect();
    let n = errors.len();
    let w = (n / 10).max(1);
    if n < 2 * w {
        return (f64::NAN, f64::NAN);
    }
    (mean(&errors[n - 2 * w..n - w]), mean(&errors[n - w..]))
}

/// The epoch of the lowest validation error and that error (first epoch on ties).
fn val_minimum(run: &Run) -> (usize, f64) {
    run.history
        .iter()
        .map(|r| (r.epoch, err(r.val.accuracy.unwrap())))
        .fold(
            (0, f64::INFINITY),
            |best, e| if e.1 < best.1 { e } else { best },
        )
}

/// Runs the overfitting experiment and returns what early stopping needs.
pub fn overfitting(lab: &mut Lab) -> Res<Baseline> {
    const CLAIM: &str = "Without regularization the training error goes to zero; with noise the \
                         test error keeps dropping";
    lab.section("c", CLAIM);
    let train = lab
        .data
        .train
        .take(if lab.quick { SUBSET.1 } else { SUBSET.0 });
    let epochs = lab.epochs(100, 12);
    let base_config = config(lab, epochs, LR);
    let init_seed = lab.seed.wrapping_add(INIT_SEED);
    lab.text(&format!(
        "The lecture shows a network whose training error goes to zero without \
         regularization, after which learning stops, while with noise injected in training \
         the test error keeps dropping. We train 784-{H}-{H}-10 with ReLU and no batch \
         normalization (He initialization, the same initial weights for every variant) on \
         the first {} training images, few enough to memorize, with Adam at a constant \
         learning rate {LR} for {epochs} epochs. The noise variants: dropout {INPUT_DROP} on \
         the input and {HIDDEN_DROP} on both hidden layers (Srivastava et al.; multiplicative \
         binary noise); additive Gaussian noise σ = {INPUT_SIGMA} on the input pixels (which \
         lie in [0, 1]) and σ = {HIDDEN_SIGMA} on both hidden layers; and images shifted by \
         up to ±{MAX_SHIFT} pixels (the lecture's \"cropping\", drawn anew at every visit); \
         and Gaussian noise σ = {WEIGHT_SIGMA} on the weights while the gradient is computed \
         (the update applies to the clean weights). The last draws a Gaussian number for \
         every weight at every step, which costs more than the step itself: see the times.",
        thousands(train.len())
    ));

    let (base, base_net) = fit(
        lab,
        "no regularization",
        fresh(&plain(), Init::HeNormal, init_seed),
        adam(AdamConfig::with_lr(LR)),
        &base_config,
        &train,
    );
    let (dropout, _) = fit(
        lab,
        &format!("dropout {INPUT_DROP} / {HIDDEN_DROP}"),
        fresh(&with_dropout(), Init::HeNormal, init_seed),
        adam(AdamConfig::with_lr(LR)),
        &base_config,
        &train,
    );
    let (noise, _) = fit(
        lab,
        &format!("Gaussian noise σ {INPUT_SIGMA} / {HIDDEN_SIGMA}"),
        fresh(&with_noise(), Init::HeNormal, init_seed),
        adam(AdamConfig::with_lr(LR)),
        &base_config,
        &train,
    );
    let shift_config = TrainConfig {
        regularization: Regularization {
            augment: Some(Augment {
                rows: 28,
                cols: 28,
                max_shift: MAX_SHIFT,
                flip: false,
                fill: 0.0,
            }),
            ..Regularization::NONE
        },
        ..base_config.clone()
    };
    let (shifts, _) = fit(
        lab,
        &format!("shifts ±{MAX_SHIFT} px"),
        fresh(&plain(), Init::HeNormal, init_seed),
        adam(AdamConfig::with_lr(LR)),
        &shift_config,
        &train,
    );
    let weight_config = TrainConfig {
        regularization: Regularization {
            weight_noise: WEIGHT_SIGMA,
            ..Regularization::NONE
        },
        ..base_config.clone()
    };
    let (weights, _) = fit(
        lab,
        &format!("weight noise σ {WEIGHT_SIGMA}"),
        fresh(&plain(), Init::HeNormal, init_seed),
        adam(AdamConfig::with_lr(LR)),
        &weight_config,
        &train,
    );
    let runs = [dropout, noise, shifts, weights];
    let all: Vec<&Run> = std::iter::once(&base).chain(&runs).collect();
    lab.runs_table(&all);

    // Trends: where each validation error is lowest and whether it still falls at the end.
    let w = (epochs / 10).max(1);
    let (prev_span, last_span) = (
        epoch_span(epochs.saturating_sub(2 * w) + 1, epochs - w),
        epoch_span(epochs - w + 1, epochs),
    );
    lab.text(&format!(
        "Errors: the training error of the last epoch (measured on the batches as they were \
         trained, so with the noise on), the lowest validation error and its epoch, the \
         final validation error, the mean validation error over {prev_span} and over \
         {last_span}, and the test error of the final network. The table above evaluates \
         the final network on the whole training subset without noise."
    ));
    let trend_rows = all
        .iter()
        .map(|r| {
            let (min_epoch, min_err) = val_minimum(r);
            let (prev, last) = late_trend(r);
            let final_train = r
                .history
                .last()
                .map_or(f32::NAN, |h| 1.0 - h.train.accuracy.unwrap());
            vec![
                r.name.clone(),
                pct(final_train),
                format!("{} (epoch {min_epoch})", pct(min_err as f32)),
                pct_err(r.val.accuracy),
                format!("{} → {}", pct(prev as f32), pct(last as f32)),
                pct_err(r.test.accuracy),
            ]
        })
        .collect();
    lab.table(
        &[
            "setting",
            "last-epoch train error",
            "lowest val error",
            "final val error",
            "late val error trend",
            "test error",
        ],
        trend_rows,
    );

    // Charts: training error (log: it heads for zero) and validation error.
    let batches = (train.len() / B).max(1);
    let floor = 100.0 * 0.5 / (batches * B) as f64;
    let train_curves: Vec<Vec<(f64, f64)>> = all
        .iter()
        .map(|r| {
            r.curve(|h| 1.0 - h.train.accuracy.unwrap())
                .into_iter()
                .map(|(x, y)| (x, (100.0 * y).max(floor)))
                .collect()
        })
        .collect();
    // The validation errors jump by a point from epoch to epoch: a trailing mean shows the
    // trend.
    let smooth = (epochs / 20).max(1);
    let val_curves: Vec<Vec<(f64, f64)>> = all
        .iter()
        .map(|r| {
            trailing_mean(
                &r.curve(|h| 100.0 * (1.0 - h.val.accuracy.unwrap())),
                smooth,
            )
        })
        .collect();
    let val_title = if smooth > 1 {
        format!("Validation error per epoch (mean of the last {smooth} epochs)")
    } else {
        "Validation error per epoch".to_string()
    };
    let train_label = format!("training error, % (log; an error-free epoch at {floor:.3} %)");
    let named = |curves: &'_ [Vec<(f64, f64)>]| -> Vec<(String, Vec<(f64, f64)>)> {
        all.iter()
            .map(|r| r.name.clone())
            .zip(curves.iter().cloned())
            .collect()
    };
    let (train_named, val_named) = (named(&train_curves), named(&val_curves));
    lab.plot(
        "overfitting_train.png",
        &epoch_chart("Training error per epoch (noise on)", &train_label, true),
        &train_named
            .iter()
            .map(|(n, c)| series(n, c))
            .collect::<Vec<_>>(),
    )?;
    lab.plot(
        "overfitting_val.png",
        &epoch_chart(&val_title, "validation error, %", false),
        &val_named
            .iter()
            .map(|(n, c)| series(n, c))
            .collect::<Vec<_>>(),
    )?;

    // The verdict, from the numbers.
    let base_train_err = err(base.train.accuracy);
    let to_zero = base_train_err <= 0.005;
    let (lowest_train_epoch, lowest_train) = base
        .history
        .iter()
        .map(|h| (h.epoch, err(h.train.accuracy.unwrap())))
        .fold((0, f64::INFINITY), |b, e| if e.1 < b.1 { e } else { b });
    let (base_min_epoch, base_min) = val_minimum(&base);
    let (base_prev, base_last) = late_trend(&base);
    let falling = |r: &Run| {
        let (p, l) = late_trend(r);
        l < p
    };
    let better: Vec<&Run> = runs
        .iter()
        .filter(|r| r.finished() && r.test.accuracy > base.test.accuracy)
        .collect();
    let keeps_dropping: Vec<&Run> = better.iter().copied().filter(|r| falling(r)).collect();
    let best = runs
        .iter()
        .filter(|r| r.finished())
        .max_by(|a, b| a.test.accuracy.total_cmp(&b.test.accuracy));
    // One standard error of an error rate p measured on n test images: √(p(1 − p)/n).
    let p = err(base.test.accuracy);
    let se = (p * (1.0 - p) / lab.data.test.len().max(1) as f64).sqrt();
    let gains: Vec<f64> = better
        .iter()
        .map(|r| f64::from(r.test.accuracy) - f64::from(base.test.accuracy))
        .collect();
    let smallest_gain = gains.iter().copied().fold(f64::INFINITY, f64::min);
    let largest_gain = gains.iter().copied().fold(0.0, f64::max);
    let mut verdict = format!(
        "{}. Without regularization the final network misclassifies {} of its training \
         subset (training loss {}; the lowest epoch training error is {} at epoch \
         {lowest_train_epoch}); its validation error is lowest at epoch {base_min_epoch} \
         ({}) and changes by {} points from {prev_span} to {last_span} ({} → {}). ",
        match (to_zero, !keeps_dropping.is_empty()) {
            (true, true) if largest_gain >= 2.0 * se => "Reproduced",
            (true, true) => "Reproduced, but the effect is small",
            (false, false) => "Not reproduced",
            _ => "Partly reproduced",
        },
        pct(base_train_err as f32),
        num(base.train.loss, 4),
        pct(lowest_train as f32),
        pct(base_min as f32),
        points(base_last - base_prev),
        pct(base_prev as f32),
        pct(base_last as f32),
    );
    verdict.push_str(&format!(
        "{} of {} noise variants end with a lower test error than its {}",
        better.len(),
        runs.len(),
        pct_err(base.test.accuracy),
    ));
    if let Some(b) = best {
        verdict.push_str(&format!(
            " (best: {}, {})",
            b.name,
            pct_err(b.test.accuracy)
        ));
    }
    if !better.is_empty() {
        verdict.push_str(&format!(
            ", gains of {:.2}–{:.2} points where one standard error of the test error is \
             {:.2} points",
            100.0 * smallest_gain,
            100.0 * largest_gain,
            100.0 * se,
        ));
    }
    verdict.push_str(&if keeps_dropping.is_empty() {
        "; none of those still has a falling validation error at the end.".to_string()
    } else {
        format!(
            "; the validation error still falls from {prev_span} to {last_span} for {}.",
            keeps_dropping
                .iter()
                .map(|r| {
                    let (p, l) = late_trend(r);
                    format!("{} ({} points)", r.name, points(l - p))
                })
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    if !to_zero {
        verdict.push_str(&format!(
            " The unregularized training error did not reach zero in {epochs} epochs."
        ));
    }
    lab.verdict(CLAIM, verdict);
    lab.check("baseline_train_error", base_train_err);
    lab.check("baseline_val_min_epoch", base_min_epoch as f64);
    lab.check("baseline_test_acc", f64::from(base.test.accuracy));
    lab.check(
        "best_regularized_test_acc",
        best.map_or(f64::NAN, |b| f64::from(b.test.accuracy)),
    );
    lab.check("regularized_still_falling", keeps_dropping.len() as f64);

    let regularized = runs.iter().map(|r| (r.name.clone(), val_of(r))).collect();
    Ok(Baseline {
        run: base,
        net: base_net,
        train,
        config: base_config,
        init_seed,
        regularized,
    })
}

/// Each point's `y` replaced by the mean of the `y` of the last `w` points up to it.
fn trailing_mean(points: &[(f64, f64)], w: usize) -> Vec<(f64, f64)> {
    (0..points.len())
        .map(|i| {
            let window = &points[(i + 1).saturating_sub(w)..=i];
            let mean = window.iter().map(|p| p.1).sum::<f64>() / window.len() as f64;
            (points[i].0, mean)
        })
        .collect()
}

/// "epoch 7" or "epochs 7–9".
fn epoch_span(first: usize, last: usize) -> String {
    if first >= last {
        format!("epoch {last}")
    } else {
        format!("epochs {first}–{last}")
    }
}

// ---------------------------------------------------------------------------------------------
// (e) Early stopping

/// Where the trainer's early-stopping rule — stop after `patience` epochs without a better
/// validation accuracy, keep the best — would stop on these per-epoch accuracies:
/// `(stop epoch, best epoch)`, or `None` if it would train to the end.
fn would_stop(val_accuracy: &[f32], patience: usize) -> Option<(usize, usize)> {
    let (mut best, mut best_epoch, mut since) = (f32::NEG_INFINITY, 0, 0);
    for (i, &acc) in val_accuracy.iter().enumerate() {
        let epoch = i + 1;
        if acc > best {
            (best, best_epoch, since) = (acc, epoch, 0);
        } else {
            since += 1;
        }
        if since >= patience && epoch < val_accuracy.len() {
            return Some((epoch, best_epoch));
        }
    }
    None
}

/// Euclidean distance between the weight matrices of two networks of the same type.
fn weight_distance<P: Params>(a: &P, b: &P) -> f64 {
    (0..P::TENSORS)
        .filter(|&i| P::info(i).kind == ParamKind::Weight)
        .flat_map(|i| a.tensor(i).iter().zip(b.tensor(i)))
        .map(|(x, y)| f64::from(x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Reruns the unregularized setting of (c) with early stopping.
pub fn early_stopping(lab: &mut Lab, baseline: &Baseline) -> Res {
    const CLAIM: &str = "Early stopping: stop when the validation performance deteriorates; \
                         with other regularization it might never start";
    lab.section("e", "Early stopping");
    let patience = lab.epochs(10, 3);
    let full = &baseline.run;
    let max_epochs = baseline.config.epochs;
    lab.text(&format!(
        "The lecture: monitor the validation performance and stop when it starts to \
         deteriorate; early stopping keeps the solution close to the initialization, and \
         with other regularization it might never start. We rerun the unregularized setting \
         of (c) — same initial weights, same shuffling, at most {max_epochs} epochs — with \
         early stopping: training ends after {patience} epochs without a better validation \
         accuracy, and the weights of the best epoch are restored. Training is \
         reproducible, so up to the stop the rerun repeats the run of (c), which went on to \
         the end."
    ));
    let cfg = TrainConfig {
        patience: Some(patience),
        monitor: None,
        ..baseline.config.clone()
    };
    let (run, net) = fit(
        lab,
        &format!("no regularization, patience {patience}"),
        fresh(&plain(), Init::HeNormal, baseline.init_seed),
        adam(AdamConfig::with_lr(LR)),
        &cfg,
        &baseline.train,
    );
    lab.runs_table(&[full, &run]);

    let stop = run.history.len();
    let restored = run.best_epoch;
    let same_prefix = run.history.iter().zip(&full.history).all(|(a, b)| {
        a.val.accuracy.unwrap() == b.val.accuracy.unwrap() && a.train.loss == b.train.loss
    });
    let init = fresh(&plain(), Init::HeNormal, baseline.init_seed);
    let dist_restored = weight_distance(&*init, &*net);
    let dist_final = weight_distance(&*init, &*baseline.net);
    let (full_min_epoch, full_min) = val_minimum(full);

    // The same rule, applied to the validation curves of the noise variants of (c).
    let stops: Vec<(String, Option<(usize, usize)>)> =
        std::iter::once((full.name.clone(), would_stop(&val_of(full), patience)))
            .chain(
                baseline
                    .regularized
                    .iter()
                    .map(|(name, acc)| (name.clone(), would_stop(acc, patience))),
            )
            .collect();
    let noisy_stops: Vec<Option<usize>> = stops
        .iter()
        .skip(1)
        .map(|(_, s)| s.map(|(e, _)| e))
        .collect();
    let never = noisy_stops.iter().filter(|s| s.is_none()).count();
    let later = noisy_stops
        .iter()
        .filter(|s| s.is_none_or(|e| e > stop))
        .count();
    lab.text(&format!(
        "The same rule (patience {patience}) applied to the validation curves of (c): the \
         epoch where it would stop each run and the epoch whose weights it would keep."
    ));
    lab.table(
        &["setting", "stops at epoch", "keeps epoch"],
        stops
            .into_iter()
            .map(|(name, stop)| {
                vec![
                    name,
                    stop.map_or(format!("never (all {max_epochs})"), |(s, _)| s.to_string()),
                    stop.map_or("–".into(), |(_, b)| b.to_string()),
                ]
            })
            .collect(),
    );

    // Chart: the full validation curve, the early-stopped run over it, the stop and the
    // restored epoch marked.
    let full_curve = full.curve(|h| 100.0 * (1.0 - h.val.accuracy.unwrap()));
    let es_curve = run.curve(|h| 100.0 * (1.0 - h.val.accuracy.unwrap()));
    let (lo, hi) = full_curve
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    let stop_line = [(stop as f64, lo), (stop as f64, hi)];
    let restored_point: Vec<(f64, f64)> = es_curve
        .iter()
        .filter(|p| p.0 as usize == restored)
        .copied()
        .collect();
    let stop_name = format!("stop (epoch {stop})");
    let restored_name = format!("restored (epoch {restored})");
    lab.plot(
        "early_stopping.png",
        &epoch_chart(
            "Validation error without regularization, with early stopping",
            "validation error, %",
            false,
        ),
        &[
            series("trained to the end", &full_curve),
            series("early stopping", &es_curve),
            series(&stop_name, &stop_line),
            series(&restored_name, &restored_point),
        ],
    )?;

    let delta = f64::from(run.test.accuracy) - f64::from(full.test.accuracy);
    let restored_err = err(run.val.accuracy);
    let mut verdict = if run.stopped_early {
        format!(
            "{}. With patience {patience} training stopped at epoch {stop} of {max_epochs} \
             and restored epoch {restored}, taking {:.1} s instead of {:.1} s; its test \
             accuracy is {} against {} when training to the end ({} points). ",
            if delta >= 0.0 {
                "Reproduced"
            } else {
                "Partly reproduced: it saves time, not accuracy"
            },
            run.seconds,
            full.seconds,
            pct(run.test.accuracy),
            pct(full.test.accuracy),
            points(delta),
        )
    } else {
        format!(
            "Not reproduced: the validation accuracy improved at least every {patience} \
             epochs, so training ran all {max_epochs} epochs (test accuracy {}). ",
            pct(run.test.accuracy)
        )
    };
    if full_min_epoch > stop {
        verdict.push_str(&format!(
            "The validation error had not turned for good: the full run reaches its lowest \
             validation error later, {} at epoch {full_min_epoch} (restored: {}). ",
            pct(full_min as f32),
            pct(restored_err as f32),
        ));
    }
    verdict.push_str(&format!(
        "The restored weights lie at distance {dist_restored:.1} from the initial ones, the \
         final weights at {dist_final:.1}. On the noise variants of (c) the rule stops {} of \
         {} runs later than the unregularized one{}.",
        later,
        noisy_stops.len(),
        if never > 0 {
            format!(" and never stops {never} of them")
        } else {
            ", but it stops all of them before the end".to_string()
        },
    ));
    if !same_prefix {
        verdict.push_str(" (Unexpectedly, the rerun's history differs from that of (c).)");
    }
    lab.verdict(CLAIM, verdict);
    lab.check("stop_epoch", stop as f64);
    lab.check("restored_epoch", restored as f64);
    lab.check("early_stop_test_acc", f64::from(run.test.accuracy));
    lab.check("full_test_acc", f64::from(full.test.accuracy));
    lab.check("same_prefix", f64::from(u8::from(same_prefix)));
    lab.check("noise_runs_never_stopped", never as f64);
    Ok(())
}

/// Validation accuracy per epoch of a run.
fn val_of(run: &Run) -> Vec<f32> {
    run.history
        .iter()
        .map(|h| h.val.accuracy.unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// (d) Sparsity

/// Hidden widths of the sparsity network.
const H1: usize = 256;
const H2: usize = 128;

/// 784-256-128-10 with ReLU and an L1 penalty on each hidden activation (λ = 0: none).
type Sparse = Net![
    Dense<D, H1>, Relu<[f32; H1]>, ActivityL1<[f32; H1]>, Dense<H1, H2>, Relu<[f32; H2]>,
    ActivityL1<[f32; H2]>, Dense<H2, C>
];

/// A [`Sparse`] network, all zero (to be initialized), with activity penalty `activity`.
fn sparse(activity: f32) -> Sparse {
    net![
        Dense::ZERO,
        Relu::DEFAULT,
        ActivityL1::new(activity),
        Dense::ZERO,
        Relu::DEFAULT,
        ActivityL1::new(activity),
        Dense::ZERO
    ]
}

/// Strengths of the L2 penalty (coupled, `g += λ·θ`).
const L2: [f32; 2] = [1e-3, 1e-2];
/// Strengths of the L1 penalty; the middle one is the checked one.
const L1: [f32; 3] = [1e-5, 1e-4, 3e-4];
/// Strengths of the L1 penalty on the hidden activations.
const ACTIVITY: [f32; 2] = [1e-3, 1e-2];

/// The penalty of one sparsity run.
#[derive(Clone, Copy, PartialEq)]
enum Penalty {
    /// No penalty.
    None,
    /// Coupled L2 on the weights (`AdamConfig::l2`).
    L2(f32),
    /// L1 on the weights (`AdamConfig::l1`).
    L1(f32),
    /// L1 on the hidden activations ([`ActivityL1`]).
    Activity(f32),
}

impl Penalty {
    /// The setting's name in tables.
    fn name(self) -> &'static str {
        match self {
            Penalty::None => "no penalty",
            Penalty::L2(_) => "L2 on weights",
            Penalty::L1(_) => "L1 on weights",
            Penalty::Activity(_) => "L1 on activations",
        }
    }

    /// Its strength λ (0 for none).
    fn lambda(self) -> f32 {
        match self {
            Penalty::None => 0.0,
            Penalty::L2(l) | Penalty::L1(l) | Penalty::Activity(l) => l,
        }
    }
}

/// One trained sparsity network and what it measured.
struct SparseRun {
    /// The penalty it was trained with.
    penalty: Penalty,
    /// The run.
    run: Run,
    /// Fraction of exactly-zero weights per Dense layer.
    zero_weights: Vec<f64>,
    /// Fraction of exactly-zero weights over all weight matrices.
    zero_overall: f64,
    /// Number of exactly-zero weights.
    zero_count: usize,
    /// Zero activations of the two hidden layers on the test set.
    zero_activations: [Activity; 2],
}

/// Fractions of exactly-zero weights per weight matrix and over all of them, and their
/// number.
fn zero_weights<P: Params>(net: &P) -> (Vec<f64>, f64, usize) {
    let (mut zeros, mut total) = (0usize, 0usize);
    let per_layer = (0..P::TENSORS)
        .filter(|&i| P::info(i).kind == ParamKind::Weight)
        .map(|i| {
            let t = net.tensor(i);
            let z = t.iter().filter(|&&w| w == 0.0).count();
            zeros += z;
            total += t.len();
            z as f64 / t.len().max(1) as f64
        })
        .collect();
    (per_layer, zeros as f64 / total.max(1) as f64, zeros)
}

/// How often the hidden units of a layer are exactly zero on a data set.
#[derive(Clone, Copy)]
struct Activity {
    /// Fraction of (sample, unit) pairs with an exactly-zero activation.
    zero: f64,
    /// Units that are zero on every sample ("dead").
    dead: usize,
}

/// Zero activations of the two hidden layers of `net` over `data`.
fn zero_activations(net: &Sparse, data: &Samples<D>) -> [Activity; 2] {
    let Chain {
        first: dense1,
        rest:
            Chain {
                first: relu1,
                rest:
                    Chain {
                        rest:
                            Chain {
                                first: dense2,
                                rest: Chain { first: relu2, .. },
                            },
                        ..
                    },
            },
    } = net;
    let (mut a1, mut h1) = ([0.0f32; H1], [0.0f32; H1]);
    let (mut a2, mut h2) = ([0.0f32; H2], [0.0f32; H2]);
    let (mut z1, mut z2) = (0usize, 0usize);
    let (mut alive1, mut alive2) = ([false; H1], [false; H2]);
    for x in &data.x {
        dense1.forward_with(x, &mut a1, &mut []);
        relu1.forward_with(&a1, &mut h1, &mut []);
        dense2.forward_with(&h1, &mut a2, &mut []);
        relu2.forward_with(&a2, &mut h2, &mut []);
        for (alive, &v) in alive1.iter_mut().zip(&h1) {
            z1 += usize::from(v == 0.0);
            *alive |= v != 0.0;
        }
        for (alive, &v) in alive2.iter_mut().zip(&h2) {
            z2 += usize::from(v == 0.0);
            *alive |= v != 0.0;
        }
    }
    let n = data.len().max(1) as f64;
    let dead = |alive: &[bool]| alive.iter().filter(|&&a| !a).count();
    [
        Activity {
            zero: z1 as f64 / (n * H1 as f64),
            dead: dead(&alive1),
        },
        Activity {
            zero: z2 as f64 / (n * H2 as f64),
            dead: dead(&alive2),
        },
    ]
}

/// Runs the sparsity experiment.
pub fn sparsity(lab: &mut Lab) -> Res {
    const CLAIM: &str = "L1 gives sparsity; L2 does not";
    lab.section("d", CLAIM);
    let epochs = lab.epochs(10, 4);
    let init_seed = lab.seed.wrapping_add(0xD0);
    let show = |xs: &[f32]| {
        xs.iter()
            .map(|l| format!("{l:e}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    lab.text(&format!(
        "The lecture: an L1 penalty λ·Σ|θ| induces sparsity — often many parameters become \
         exactly zero — while L2 (λ/2)·Σθ² only shrinks them; an L1 penalty on the hidden \
         activations likewise makes the representation sparse. We train 784-{H1}-{H2}-10 \
         with ReLU and no batch normalization (He initialization, the same initial weights \
         for every run) on all {} training images with Adam (learning rate 1e-3) for {epochs} \
         epochs, with L2 λ ∈ {{{}}} (coupled: λ·θ is added to the gradient of the mean \
         loss), L1 λ ∈ {{{}}} (the optimizer's L1 sets a weight to exactly 0 when a step \
         would cross zero and keeps it there while |gradient| ≤ λ), and an L1 penalty on \
         both hidden activations with λ ∈ {{{}}} (per sample, summed over units). The weight \
         penalties apply to weight matrices only, not to biases. We count the weights that are \
         exactly 0.0 after training, and the exactly-zero hidden activations on the test \
         set.",
        thousands(lab.data.train.len()),
        show(&L2),
        show(&L1),
        show(&ACTIVITY),
    ));

    let penalties = std::iter::once(Penalty::None)
        .chain(L2.map(Penalty::L2))
        .chain(L1.map(Penalty::L1))
        .chain(ACTIVITY.map(Penalty::Activity));
    let mut results = Vec::new();
    for penalty in penalties {
        let (activity, optimizer) = match penalty {
            Penalty::None => (0.0, AdamConfig::with_lr(1e-3)),
            Penalty::L2(l2) => (
                0.0,
                AdamConfig {
                    l2,
                    ..AdamConfig::with_lr(1e-3)
                },
            ),
            Penalty::L1(l1) => (
                0.0,
                AdamConfig {
                    l1,
                    ..AdamConfig::with_lr(1e-3)
                },
            ),
            Penalty::Activity(l) => (l, AdamConfig::with_lr(1e-3)),
        };
        let name = match penalty {
            Penalty::None => penalty.name().to_string(),
            _ => format!("{} λ {:e}", penalty.name(), penalty.lambda()),
        };
        let cfg = config(lab, epochs, 1e-3);
        let (run, net) = fit(
            lab,
            &name,
            fresh(&sparse(activity), Init::HeNormal, init_seed),
            adam(optimizer),
            &cfg,
            &lab.data.train,
        );
        let (zero_weights, zero_overall, zero_count) = zero_weights(&*net);
        let zero_activations = zero_activations(&net, &lab.data.test);
        results.push(SparseRun {
            penalty,
            run,
            zero_weights,
            zero_overall,
            zero_count,
            zero_activations,
        });
    }

    lab.table(
        &[
            "setting",
            "λ",
            "zero weights 784→256",
            "256→128",
            "128→10",
            "all weights",
            "test acc",
        ],
        results
            .iter()
            .filter(|r| !matches!(r.penalty, Penalty::Activity(_)))
            .map(|r| {
                let mut row = vec![r.penalty.name().to_string(), lambda_label(r.penalty)];
                row.extend(r.zero_weights.iter().map(|&z| pct(z as f32)));
                row.push(pct(r.zero_overall as f32));
                row.push(pct(r.run.test.accuracy));
                row
            })
            .collect(),
    );
    lab.text(
        "Exactly-zero hidden activations on the test set (a ReLU unit outputs 0 whenever its \
         input is negative, so there are many even without a penalty), and the units that \
         are zero on every test image:",
    );
    let dead_1 = format!("dead units, hidden 1 (of {H1})");
    let dead_2 = format!("hidden 2 (of {H2})");
    lab.table(
        &[
            "setting",
            "λ",
            "zero activations, hidden 1",
            "hidden 2",
            &dead_1,
            &dead_2,
            "test acc",
        ],
        results
            .iter()
            .filter(|r| matches!(r.penalty, Penalty::None | Penalty::Activity(_)))
            .map(|r| {
                vec![
                    r.penalty.name().to_string(),
                    lambda_label(r.penalty),
                    pct(r.zero_activations[0].zero as f32),
                    pct(r.zero_activations[1].zero as f32),
                    r.zero_activations[0].dead.to_string(),
                    r.zero_activations[1].dead.to_string(),
                    pct(r.run.test.accuracy),
                ]
            })
            .collect(),
    );
    let all_runs: Vec<&Run> = results.iter().map(|r| &r.run).collect();
    lab.runs_table(&all_runs);

    // Charts against λ.
    let curve = |f: &dyn Fn(&SparseRun) -> f64, pick: fn(Penalty) -> bool| -> Vec<(f64, f64)> {
        results
            .iter()
            .filter(|r| pick(r.penalty))
            .map(|r| (f64::from(r.penalty.lambda()), f(r)))
            .collect()
    };
    let is_l1 = |p| matches!(p, Penalty::L1(_));
    let is_l2 = |p| matches!(p, Penalty::L2(_));
    let zeros = |r: &SparseRun| 100.0 * r.zero_overall;
    let acc = |r: &SparseRun| 100.0 * f64::from(r.run.test.accuracy);
    let (l1_zeros, l2_zeros) = (curve(&zeros, is_l1), curve(&zeros, is_l2));
    let (l1_acc, l2_acc) = (curve(&acc, is_l1), curve(&acc, is_l2));
    let none = results.iter().find(|r| r.penalty == Penalty::None);
    let lambdas = L1.iter().chain(&L2).map(|&l| f64::from(l));
    let span = (
        lambdas.clone().fold(f64::INFINITY, f64::min),
        lambdas.fold(0.0, f64::max),
    );
    let none_acc = none.map_or(Vec::new(), |n| vec![(span.0, acc(n)), (span.1, acc(n))]);
    let lambda_chart = |title, y_label| Chart {
        title,
        x_label: "penalty strength λ (log)",
        y_label,
        log_x: true,
        log_y: false,
    };
    lab.plot(
        "sparsity_zero_weights.png",
        &lambda_chart("Exactly-zero weights after training", "zero weights, %"),
        &[series("L1", &l1_zeros), series("L2", &l2_zeros)],
    )?;
    lab.plot(
        "sparsity_accuracy.png",
        &lambda_chart("Test accuracy against the penalty", "test accuracy, %"),
        &[
            series("L1", &l1_acc),
            series("L2", &l2_acc),
            series("no penalty", &none_acc),
        ],
    )?;

    // The verdict.
    let l1_runs: Vec<&SparseRun> = results.iter().filter(|r| is_l1(r.penalty)).collect();
    let l2_runs: Vec<&SparseRun> = results.iter().filter(|r| is_l2(r.penalty)).collect();
    let l1_mid = l1_runs.get(l1_runs.len() / 2);
    let l2_max = l2_runs
        .iter()
        .copied()
        .max_by(|a, b| a.zero_overall.total_cmp(&b.zero_overall));
    let activity_max = results
        .iter()
        .filter(|r| matches!(r.penalty, Penalty::Activity(_)))
        .max_by(|a, b| a.penalty.lambda().total_cmp(&b.penalty.lambda()));
    let (Some(l1_mid), Some(l2_max), Some(none), Some(act)) = (l1_mid, l2_max, none, activity_max)
    else {
        return Err("sparsity: missing runs".into());
    };
    let sparse_l1 = l1_mid.zero_overall > 0.1 && l1_mid.zero_overall > 10.0 * l2_max.zero_overall;
    let act_zero = |r: &SparseRun| {
        (r.zero_activations[0].zero * H1 as f64 + r.zero_activations[1].zero * H2 as f64)
            / (H1 + H2) as f64
    };
    let verdict = format!(
        "{}. With L1 λ = {:e}, {} of all weights are exactly zero ({} in the first layer) \
         at test accuracy {}; L1 λ = {} give {}. L2 leaves at most {} zero ({}; λ = {:e}, \
         test accuracy {}), the unpenalized network {} (test accuracy {}). An L1 penalty λ = {:e} \
         on the activations raises the exactly-zero hidden activations on the test set from \
         {} / {} (ReLU alone) to {} / {} (hidden 1 / hidden 2), at test accuracy {}; {} \
         and {} of its units are dead (never active on a test image), against {} and {} \
         without the penalty.",
        if sparse_l1 {
            "Reproduced"
        } else {
            "Not reproduced"
        },
        l1_mid.penalty.lambda(),
        pct(l1_mid.zero_overall as f32),
        pct(l1_mid.zero_weights.first().copied().unwrap_or(f64::NAN) as f32),
        pct(l1_mid.run.test.accuracy),
        show(&L1),
        l1_runs
            .iter()
            .map(|r| pct(r.zero_overall as f32))
            .collect::<Vec<_>>()
            .join(", "),
        pct(l2_max.zero_overall as f32),
        match l2_max.zero_count {
            1 => "1 weight".to_string(),
            n => format!("{} weights", thousands(n)),
        },
        l2_max.penalty.lambda(),
        pct(l2_max.run.test.accuracy),
        pct(none.zero_overall as f32),
        pct(none.run.test.accuracy),
        act.penalty.lambda(),
        pct(none.zero_activations[0].zero as f32),
        pct(none.zero_activations[1].zero as f32),
        pct(act.zero_activations[0].zero as f32),
        pct(act.zero_activations[1].zero as f32),
        pct(act.run.test.accuracy),
        act.zero_activations[0].dead,
        act.zero_activations[1].dead,
        none.zero_activations[0].dead,
        none.zero_activations[1].dead,
    );
    lab.verdict(CLAIM, verdict);
    lab.check("l1_zero_fraction", l1_mid.zero_overall);
    lab.check("l2_zero_fraction", l2_max.zero_overall);
    lab.check("none_zero_fraction", none.zero_overall);
    lab.check("baseline_zero_activations", act_zero(none));
    lab.check("activity_zero_activations", act_zero(act));
    lab.check("l1_test_acc", f64::from(l1_mid.run.test.accuracy));
    Ok(())
}

/// The λ column: "–" without a penalty.
fn lambda_label(p: Penalty) -> String {
    match p {
        Penalty::None => "–".into(),
        _ => format!("{:e}", p.lambda()),
    }
}
