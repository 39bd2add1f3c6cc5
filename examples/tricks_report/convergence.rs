//! Part 1 of the lecture, making training work: (a) optimizers, (b) batch normalization and
//! the learning rate, (h) initialization, (i) gradient clipping.

use firmnet::host::report::Chart;
use firmnet::optim::Optimizer;
use firmnet::prelude::*;
use firmnet::train::{TrainBuffers, classification_gradients};

use crate::common::{
    B, Lab, NORMALIZED, Normalized, PLAIN, Plain, Res, Run, config, epoch_chart, fit, fresh, num,
    pct, series, thousands,
};

/// Six dense layers with ReLU and no normalization: deep enough for the initialization's
/// scale to compound.
type Deep = Net![
    Dense<784, 256>,
    Relu<[f32; 256]>,
    Dense<256, 256>,
    Relu<[f32; 256]>,
    Dense<256, 256>,
    Relu<[f32; 256]>,
    Dense<256, 256>,
    Relu<[f32; 256]>,
    Dense<256, 256>,
    Relu<[f32; 256]>,
    Dense<256, 10>
];
const DEEP: Deep = net![
    Dense::ZERO,
    Relu::DEFAULT,
    Dense::ZERO,
    Relu::DEFAULT,
    Dense::ZERO,
    Relu::DEFAULT,
    Dense::ZERO,
    Relu::DEFAULT,
    Dense::ZERO,
    Relu::DEFAULT,
    Dense::ZERO
];

type PlainGrad = <Plain as Layer>::Grad;

fn sgd<G: Params + Zero>(lr: f32, momentum: f32, clip: Clip) -> Box<Sgd<G>> {
    Sgd::boxed(SgdConfig {
        momentum,
        clip,
        ..SgdConfig::new(lr)
    })
}

/// The first epoch whose validation accuracy reaches `target`.
fn epochs_to(run: &Run, target: f32) -> String {
    run.history
        .iter()
        .find(|r| r.val.accuracy.unwrap() >= target)
        .map_or("never".into(), |r| r.epoch.to_string())
}

/// (a) Adam against SGD and momentum.
pub fn optimizers(lab: &mut Lab) -> Res {
    lab.section("a", "Adam, SGD and momentum: convergence per epoch");
    let epochs = lab.epochs(15, 3);
    lab.text(&format!(
        "The same network — 784-256-128-10, ReLU, no batch normalization, He initialization, \
         the same initial weights — trained for {epochs} epochs on {} images by plain SGD \
         (α = 0.05), SGD with momentum 0.9 (α = 0.01, Nesterov) and Adam (α = 0.001, the \
         paper's defaults). Each runs at a customary rate for its method; none was tuned here.",
        thousands(lab.data.train.len())
    ));
    let cfg = config(lab, epochs, 0.0);
    let seed = lab.seed;
    let run_with = |lab: &Lab, name: &str, opt: Box<dyn OptBox>, lr: f32| {
        let mut c = cfg.clone();
        c.schedule.base = lr;
        opt.fit(lab, name, fresh(&PLAIN, Init::HeNormal, seed), &c)
    };
    let runs = [
        run_with(
            lab,
            "SGD, α = 0.05",
            Sgd::<PlainGrad>::boxed(SgdConfig::new(0.05)),
            0.05,
        ),
        run_with(
            lab,
            "Nesterov momentum 0.9, α = 0.01",
            Sgd::<PlainGrad>::boxed(SgdConfig {
                momentum: 0.9,
                nesterov: true,
                ..SgdConfig::new(0.01)
            }),
            0.01,
        ),
        run_with(
            lab,
            "Adam, α = 0.001",
            Adam::<PlainGrad>::boxed(AdamConfig::DEFAULT),
            0.001,
        ),
    ];
    lab.runs_table(&runs.iter().collect::<Vec<_>>());
    let target = 0.85;
    lab.table(
        &[
            "setting",
            "first epoch with val acc ≥ 85 %",
            "train loss after epoch 1",
        ],
        runs.iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    epochs_to(r, target),
                    r.history
                        .first()
                        .map_or("–".into(), |h| num(h.train.loss, 4)),
                ]
            })
            .collect(),
    );
    let losses: Vec<_> = runs.iter().map(|r| r.curve(|h| h.train.loss)).collect();
    let named: Vec<_> = runs
        .iter()
        .zip(&losses)
        .map(|(r, p)| series(&r.name, p))
        .collect();
    lab.plot(
        "a_optimizers_loss.png",
        &epoch_chart("(a) training loss per epoch", "mean training loss", true),
        &named,
    )?;
    let errors: Vec<_> = runs
        .iter()
        .map(|r| r.curve(|h| 1.0 - h.val.accuracy.unwrap()))
        .collect();
    let named: Vec<_> = runs
        .iter()
        .zip(&errors)
        .map(|(r, p)| series(&r.name, p))
        .collect();
    lab.plot(
        "a_optimizers_val.png",
        &epoch_chart("(a) validation error per epoch", "validation error", true),
        &named,
    )?;
    let [sgd_run, momentum, adam] = &runs;
    let best_sgd = sgd_run.val.accuracy.max(momentum.val.accuracy);
    lab.check("adam_val_acc", f64::from(adam.val.accuracy));
    lab.check("sgd_val_acc", f64::from(sgd_run.val.accuracy));
    lab.check("momentum_val_acc", f64::from(momentum.val.accuracy));
    let first = |r: &Run| r.history.first().map_or(f32::NAN, |h| h.train.loss);
    let faster = first(adam) < first(sgd_run) && first(adam) < first(momentum);
    lab.verdict(
        "Adam converges faster than SGD and momentum",
        format!(
            "{} Training loss after the first epoch: Adam {}, momentum {}, SGD {}; validation \
             accuracy after {epochs} epochs: Adam {}, momentum {}, SGD {}.",
            if faster && adam.val.accuracy >= best_sgd {
                "Reproduced."
            } else if faster {
                "Partly: Adam is ahead early, but not at the end."
            } else {
                "Not reproduced at these settings."
            },
            num(first(adam), 3),
            num(first(momentum), 3),
            num(first(sgd_run), 3),
            pct(adam.val.accuracy),
            pct(momentum.val.accuracy),
            pct(sgd_run.val.accuracy)
        ),
    );
    Ok(())
}

/// Lets (a) hold different optimizer types in one list.
trait OptBox {
    fn fit(
        self: Box<Self>,
        lab: &Lab,
        name: &str,
        net: Box<Plain>,
        c: &firmnet::host::TrainConfig,
    ) -> Run;
}

impl<O: Optimizer<PlainGrad> + 'static> OptBox for O {
    fn fit(
        self: Box<Self>,
        lab: &Lab,
        name: &str,
        net: Box<Plain>,
        c: &firmnet::host::TrainConfig,
    ) -> Run {
        fit(lab, name, net, self, c, &lab.data.train).0
    }
}

/// The learning rates (b) tries.
const RATES: [f32; 8] = [0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 1.0, 3.0];

/// (b) Batch normalization allows larger learning rates.
pub fn batch_norm(lab: &mut Lab) -> Res {
    lab.section("b", "Batch normalization allows larger learning rates");
    let epochs = lab.epochs(3, 1);
    let stable = if lab.quick { 0.70 } else { 0.80 };
    lab.text(&format!(
        "The lecture (after Ioffe & Szegedy): batch normalization allows 5× and 30× larger \
         learning rates. We train 784-256-128-10 with and without batch normalization before \
         each hidden ReLU, by SGD with momentum 0.9, for {epochs} epoch(s) at each learning \
         rate from {} to {}, from the same initial weights. A rate counts as **stable** when \
         training stays finite and ends with at least {:.0} % validation accuracy.",
        RATES[0],
        RATES[RATES.len() - 1],
        100.0 * stable
    ));
    let mut rows = Vec::new();
    let mut plain_pts = Vec::new();
    let mut bn_pts = Vec::new();
    let (mut plain_max, mut bn_max) = (0.0f32, 0.0f32);
    let (mut plain_best, mut bn_best) = ((0.0f32, 0.0f32), (0.0f32, 0.0f32));
    for &lr in &RATES {
        let c = config(lab, epochs, lr);
        let (plain, _) = fit(
            lab,
            &format!("no BN, α = {lr}"),
            fresh(&PLAIN, Init::HeNormal, lab.seed),
            sgd::<PlainGrad>(lr, 0.9, Clip::NONE),
            &c,
            &lab.data.train,
        );
        let (bn, _) = fit(
            lab,
            &format!("BN, α = {lr}"),
            fresh(&NORMALIZED, Init::HeNormal, lab.seed),
            sgd::<<Normalized as Layer>::Grad>(lr, 0.9, Clip::NONE),
            &c,
            &lab.data.train,
        );
        let ok = |r: &Run| r.finished() && r.val.accuracy >= stable;
        if ok(&plain) {
            plain_max = plain_max.max(lr);
        }
        if ok(&bn) {
            bn_max = bn_max.max(lr);
        }
        if plain.finished() && plain.val.accuracy > plain_best.1 {
            plain_best = (lr, plain.val.accuracy);
        }
        if bn.finished() && bn.val.accuracy > bn_best.1 {
            bn_best = (lr, bn.val.accuracy);
        }
        let shown = |r: &Run| {
            if r.finished() {
                pct(r.val.accuracy)
            } else {
                "diverged".into()
            }
        };
        plain_pts.push((
            f64::from(lr),
            f64::from(if plain.finished() {
                plain.val.accuracy
            } else {
                f32::NAN
            }),
        ));
        bn_pts.push((
            f64::from(lr),
            f64::from(if bn.finished() {
                bn.val.accuracy
            } else {
                f32::NAN
            }),
        ));
        rows.push(vec![
            lr.to_string(),
            shown(&plain),
            shown(&bn),
            format!("{:.1} / {:.1}", plain.seconds, bn.seconds),
        ]);
    }
    lab.table(
        &[
            "learning rate",
            "val acc, no BN",
            "val acc, BN",
            "time (s), no BN / BN",
        ],
        rows,
    );
    lab.plot(
        "b_learning_rates.png",
        &Chart {
            title: "(b) validation accuracy against the learning rate",
            x_label: "learning rate (SGD, momentum 0.9)",
            y_label: "validation accuracy",
            log_x: true,
            log_y: false,
        },
        &[
            series("without batch normalization", &plain_pts),
            series("with batch normalization", &bn_pts),
        ],
    )?;
    lab.check("max_stable_lr_plain", f64::from(plain_max));
    lab.check("max_stable_lr_bn", f64::from(bn_max));
    let ratio = if plain_max > 0.0 {
        bn_max / plain_max
    } else {
        f32::INFINITY
    };
    lab.verdict(
        "Batch normalization allows larger learning rates (5× and 30×)",
        format!(
            "{} Largest stable rate {} with BN against {} without ({}× larger); best rate {} \
             ({}) with BN, {} ({}) without.",
            if bn_max > plain_max {
                "Reproduced."
            } else {
                "Not reproduced."
            },
            bn_max,
            plain_max,
            if ratio.is_finite() {
                format!("{ratio:.0}")
            } else {
                "∞".into()
            },
            bn_best.0,
            pct(bn_best.1),
            plain_best.0,
            pct(plain_best.1)
        ),
    );
    Ok(())
}

/// Initialization schemes (h) compares.
const SCHEMES: [(&str, Init); 4] = [
    ("Glorot, var 2/(n_in+n_out)", Init::GlorotNormal),
    ("He, var 2/n_in", Init::HeNormal),
    ("lecture, var 4/(n_in+n_out)", Init::ReluCompromise),
    ("too small, σ = 0.01", Init::Normal(0.01)),
];

/// Variance over all elements of a batch of activations.
fn variance<const N: usize>(batch: &[[f32; N]]) -> f64 {
    let flat = batch.as_flattened();
    let n = flat.len().max(1) as f64;
    let mean = flat.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    flat.iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n
}

/// Per dense layer of [`Deep`] at initialization, on one batch: the variance of its output
/// (pre-activation) and of the loss gradient with respect to it.
fn layer_statistics(lab: &Lab, init: Init) -> Result<Vec<(f64, f64)>, firmnet::Error> {
    let mut net = fresh(&DEEP, init, lab.seed);
    let mut buf = firmnet::boxed::zero::<TrainBuffers<Deep, B>>();
    let x: [[f32; 784]; B] = core::array::from_fn(|i| lab.data.train.x[i]);
    let y: [u16; B] = core::array::from_fn(|i| lab.data.train.y[i]);
    classification_gradients(&mut *net, &mut buf, &mut Context::new(lab.seed), &x, &y)?;
    // The chain nests as Dense, (ReLU, (Dense, …)): every second level holds a dense
    // layer's output `mid` and its gradient `dmid`.
    let c0 = &buf.cache;
    let c1 = &c0.rest.rest;
    let c2 = &c1.rest.rest;
    let c3 = &c2.rest.rest;
    let c4 = &c3.rest.rest;
    Ok(vec![
        (variance(&c0.mid), variance(&c0.dmid)),
        (variance(&c1.mid), variance(&c1.dmid)),
        (variance(&c2.mid), variance(&c2.dmid)),
        (variance(&c3.mid), variance(&c3.dmid)),
        (variance(&c4.mid), variance(&c4.dmid)),
        (variance(&buf.out), variance(&buf.dout)),
    ])
}

/// (h) Initialization: signal and gradient variance per layer, and training curves.
pub fn initialization(lab: &mut Lab) -> Res {
    lab.section("h", "Initialization");
    let epochs = lab.epochs(6, 1);
    lab.text(&format!(
        "The lecture's initialization, `W ~ √(4/(n_in+n_out))·N(0, 1)`, strikes a balance \
         between keeping the variance of the signal forward (`2/n_in` for ReLU, He et al.) \
         and of the gradient backward (`2/n_out`). We initialize a network of six dense \
         layers (784-256-256-256-256-256-10, ReLU, no normalization) with Glorot's \
         `2/(n_in+n_out)`, He's `2/n_in`, the lecture's `4/(n_in+n_out)` and a too-small \
         σ = 0.01, measure on one batch of {B} training images the variance of each dense \
         layer's output and of the loss gradient with respect to it, then train each by SGD \
         with momentum 0.9 (α = 0.01) for {epochs} epoch(s)."
    ));
    let mut stats = Vec::new();
    for (name, init) in SCHEMES {
        stats.push((name, layer_statistics(lab, init)?));
    }
    let mut rows = Vec::new();
    for (name, s) in &stats {
        let mut row = vec![(*name).to_string()];
        row.extend(s.iter().map(|(a, _)| format!("{a:.2e}")));
        row.push(format!("{:.2e}", s[5].1 / s[0].1.max(f64::MIN_POSITIVE)));
        rows.push(row);
    }
    lab.text("Variance of each dense layer's output at initialization (layer 1 is the first), and the ratio of the gradient variance at the last layer to that at the first:");
    lab.table(
        &[
            "initialization",
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
            "grad var 6 / grad var 1",
        ],
        rows,
    );
    let fwd: Vec<Vec<(f64, f64)>> = stats
        .iter()
        .map(|(_, s)| {
            s.iter()
                .enumerate()
                .map(|(i, (a, _))| ((i + 1) as f64, *a))
                .collect()
        })
        .collect();
    let bwd: Vec<Vec<(f64, f64)>> = stats
        .iter()
        .map(|(_, s)| {
            s.iter()
                .enumerate()
                .map(|(i, (_, g))| ((i + 1) as f64, *g))
                .collect()
        })
        .collect();
    let layer_chart = |title| Chart {
        title,
        x_label: "dense layer",
        y_label: "variance",
        log_x: false,
        log_y: true,
    };
    let named: Vec<_> = stats
        .iter()
        .zip(&fwd)
        .map(|((n, _), p)| series(n, p))
        .collect();
    lab.plot(
        "h_init_forward.png",
        &layer_chart("(h) variance of each layer's output at initialization"),
        &named,
    )?;
    let named: Vec<_> = stats
        .iter()
        .zip(&bwd)
        .map(|((n, _), p)| series(n, p))
        .collect();
    lab.plot(
        "h_init_backward.png",
        &layer_chart("(h) variance of the gradient at each layer's output"),
        &named,
    )?;
    let mut runs = Vec::new();
    for (name, init) in SCHEMES {
        let c = config(lab, epochs, 0.01);
        let (run, _) = fit(
            lab,
            name,
            fresh(&DEEP, init, lab.seed),
            sgd::<<Deep as Layer>::Grad>(0.01, 0.9, Clip::NONE),
            &c,
            &lab.data.train,
        );
        runs.push(run);
    }
    lab.runs_table(&runs.iter().collect::<Vec<_>>());
    let losses: Vec<_> = runs.iter().map(|r| r.curve(|h| h.train.loss)).collect();
    let named: Vec<_> = runs
        .iter()
        .zip(&losses)
        .map(|(r, p)| series(&r.name, p))
        .collect();
    lab.plot(
        "h_init_training.png",
        &epoch_chart(
            "(h) training loss per epoch by initialization",
            "mean training loss",
            true,
        ),
        &named,
    )?;
    let spread = |s: &[(f64, f64)]| s[4].0 / s[0].0;
    let grad_spread = |s: &[(f64, f64)]| s[5].1 / s[0].1.max(f64::MIN_POSITIVE);
    let (glorot, he, lecture, small) = (&stats[0].1, &stats[1].1, &stats[2].1, &stats[3].1);
    lab.check("small_last_over_first", spread(small));
    lab.check("lecture_last_over_first", spread(lecture));
    let best = runs
        .iter()
        .max_by(|a, b| a.val.accuracy.total_cmp(&b.val.accuracy))
        .map_or(String::new(), |r| r.name.clone());
    let kept = |s: &[(f64, f64)]| (0.5..=2.0).contains(&spread(s));
    let balanced =
        grad_spread(lecture) <= grad_spread(he) && grad_spread(lecture) <= grad_spread(glorot);
    let small_fails = runs[3].val.accuracy + 0.1 < runs[2].val.accuracy;
    lab.verdict(
        "Initialization scaled to the layer sizes keeps signals and gradients alive; too small kills them",
        format!(
            "{} Output variance of layer 5 relative to layer 1: lecture {:.2}, He {:.2}, Glorot \
             {:.2}, too small {:.1e}. Gradient variance at the last layer relative to the \
             first: lecture {:.1}, He {:.1}, Glorot {:.1}. After training, the too-small start \
             has {} validation accuracy; the best is {} ({best}).",
            if kept(lecture) && balanced && small_fails {
                "Reproduced: the lecture's scale keeps the signal's variance and has the most \
                 even gradients; the too-small scale kills both."
            } else if kept(lecture) && small_fails {
                "Partly reproduced: the lecture's scale keeps the signal and the too-small scale \
                 kills it, but its gradients are not the most even."
            } else {
                "Not reproduced at these settings."
            },
            spread(lecture),
            spread(he),
            spread(glorot),
            spread(small),
            grad_spread(lecture),
            grad_spread(he),
            grad_spread(glorot),
            pct(runs[3].val.accuracy),
            pct(runs.iter().map(|r| r.val.accuracy).fold(0.0, f32::max)),
        ),
    );
    Ok(())
}

/// (i) Gradient clipping keeps a too-high learning rate from diverging.
pub fn clipping(lab: &mut Lab) -> Res {
    lab.section(
        "i",
        "Gradient clipping keeps a too-high learning rate from diverging",
    );
    let epochs = lab.epochs(5, 1);
    let lr = 0.3;
    let norms = [1.0, 0.25];
    lab.text(&format!(
        "Highly nonlinear models can catapult their parameters far away in one step \
         (Pascanu et al.); clipping the gradient's norm bounds the step. We train \
         784-256-128-10 without batch normalization by SGD with momentum 0.9 at α = {lr} — \
         too high for it, see (b) — for {epochs} epoch(s), without clipping and with the \
         global gradient norm clipped to {} and to {}, from the same initial weights.",
        norms[0], norms[1]
    ));
    let c = config(lab, epochs, lr);
    let (raw, _) = fit(
        lab,
        &format!("α = {lr}, no clipping"),
        fresh(&PLAIN, Init::HeNormal, lab.seed),
        sgd::<PlainGrad>(lr, 0.9, Clip::NONE),
        &c,
        &lab.data.train,
    );
    let mut runs = vec![raw];
    for max in norms {
        let (run, _) = fit(
            lab,
            &format!("α = {lr}, norm clipped to {max}"),
            fresh(&PLAIN, Init::HeNormal, lab.seed),
            sgd::<PlainGrad>(lr, 0.9, Clip::norm(max)),
            &c,
            &lab.data.train,
        );
        runs.push(run);
    }
    lab.runs_table(&runs.iter().collect::<Vec<_>>());
    let raw = &runs[0];
    match &raw.failure {
        Some(f) => lab.text(&format!("Without clipping: {f}.")),
        None => lab.text(&format!(
            "Without clipping the loss stays finite, but the first steps throw the weights so \
             far that the network does not recover: its training loss ends at {} (chance is \
             ln 10 = 2.30).",
            num(raw.history.last().map_or(f32::NAN, |h| h.train.loss), 2)
        )),
    }
    let curves: Vec<_> = runs.iter().map(|r| r.curve(|h| h.train.loss)).collect();
    let named: Vec<_> = runs
        .iter()
        .zip(&curves)
        .map(|(r, p)| series(&r.name, p))
        .collect();
    lab.plot(
        "i_clipping.png",
        &epoch_chart(
            "(i) training loss at a too-high learning rate",
            "mean training loss",
            true,
        ),
        &named,
    )?;
    let best = runs[1..]
        .iter()
        .filter(|r| r.finished())
        .max_by(|a, b| a.val.accuracy.total_cmp(&b.val.accuracy));
    let finished = |r: &Run| f64::from(u8::from(r.finished()));
    lab.check("unclipped_finished", finished(raw));
    lab.check("unclipped_val_acc", f64::from(raw.val.accuracy));
    lab.check("clipped_finished", best.map_or(0.0, finished));
    lab.check(
        "clipped_val_acc",
        best.map_or(0.0, |r| f64::from(r.val.accuracy)),
    );
    let works = best.is_some_and(|b| !raw.finished() || b.val.accuracy > raw.val.accuracy + 0.1);
    lab.verdict(
        "Gradient clipping keeps a too-high learning rate from diverging",
        format!(
            "{} Without clipping: {}; with the best clipping ({}): {} validation accuracy.",
            if works {
                "Reproduced."
            } else {
                "Not reproduced."
            },
            if raw.finished() {
                format!("{} validation accuracy", pct(raw.val.accuracy))
            } else {
                format!("diverged in epoch {}", raw.history.len() + 1)
            },
            best.map_or("none finished".into(), |b| b.name.clone()),
            best.map_or("–".into(), |b| pct(b.val.accuracy))
        ),
    );
    Ok(())
}
