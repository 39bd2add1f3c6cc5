//! (f) ensembles, (k) choosing hyperparameters on validation data.
//!
//! Both sections train the same batch-normalized MLP with dropout, [`Mlp`]: (f) several
//! copies of it that differ only in their random seeds, averaged; (k) one copy per setting
//! of a hyperparameter grid, scored on the validation split, the winner retrained on
//! training and validation data and tested once. The small helpers [`cosine`]
//! and [`points`] serve (g) as well.

use std::convert::Infallible;

use firmnet::host::{
    Evaluation, LrSchedule, Samples, Schedule, TrainConfig, TrainError, Trainer, Trial, evaluate,
    evaluate_ensemble, grid_search,
};
use firmnet::prelude::*;

use crate::common::{B, D, Lab, Res, Run, config, fit, fresh, num, pct, series, thousands};
use firmnet::host::report::Chart;

/// The network of both sections: 784–256–128–10, batch normalization before each hidden
/// ReLU, dropout after the first hidden layer (its rate is a runtime field).
type Mlp = Net![
    Dense<784, 256>,
    BatchNorm<256>,
    Relu<[f32; 256]>,
    Dropout<[f32; 256]>,
    Dense<256, 128>,
    BatchNorm<128>,
    Relu<[f32; 128]>,
    Dense<128, 10>
];

/// An untrained [`Mlp`] with dropout rate `dropout`.
fn mlp(dropout: f32) -> Mlp {
    net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dropout::new(dropout),
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dense::ZERO
    ]
}

/// Adam (or AdamW) for an [`Mlp`].
type MlpAdam = Adam<<Mlp as Layer>::Grad>;

/// The final learning rate of the cosine schedule, as a fraction of the base rate.
const COSINE_FLOOR: f32 = 0.01;

/// [`config`] with a cosine schedule from `lr` down to `COSINE_FLOOR · lr` (also used by
/// (g)).
pub(crate) fn cosine(lab: &Lab, epochs: usize, lr: f32) -> TrainConfig {
    TrainConfig {
        schedule: LrSchedule {
            base: lr,
            schedule: Schedule::Cosine {
                min_factor: COSINE_FLOOR,
            },
            warmup_epochs: 0,
        },
        ..config(lab, epochs, lr)
    }
}

/// A difference of two accuracies in percentage points, with its sign.
pub(crate) fn points(a: f32, b: f32) -> String {
    format!("{:+.2}", 100.0 * (a - b))
}

// ---------------------------------------------------------------------------------------------
// (f) Ensembles

/// Dropout rate of the ensemble members.
const MEMBER_DROPOUT: f32 = 0.25;
/// Base learning rate of the ensemble members.
const MEMBER_LR: f32 = 2e-3;

/// (f) The lecture: averaging the outputs of several models, made different by e.g. their
/// random seeds, predicts better than one model. Trains K members that differ only in their
/// initialization and shuffling seeds, and compares the ensemble of the first k members,
/// k = 1..K, with the best single member, on validation and test data.
pub fn ensemble(lab: &mut Lab) -> Res {
    lab.section("f", "An ensemble beats its best member");
    let members = if lab.quick { 3 } else { 5 };
    let epochs = lab.epochs(10, 3);
    lab.text(&format!(
        "The lecture: train several models and average their outputs (*bagging*, *model \
         averaging*) — one point estimate of the parameters replaced by several — and make the \
         members differ, for instance by their random seed. We trained K = {members} copies of \
         a batch-normalized MLP 784–256–128–10 (ReLU, dropout {MEMBER_DROPOUT} after the first \
         hidden layer) with Adam, base rate {MEMBER_LR:e} on a cosine schedule, for {epochs} \
         epochs each on the {} training samples. The members differ only in their \
         initialization seed and the order of their mini-batches. The ensemble averages the \
         members' softmax probabilities; \"first k\" means members 1 to k in the order they \
         were trained, not the best k.",
        thousands(lab.data.train.len()),
    ));

    let mut runs: Vec<Run> = Vec::with_capacity(members);
    let mut nets: Vec<Box<Mlp>> = Vec::with_capacity(members);
    for k in 0..members {
        let mut config = cosine(lab, epochs, MEMBER_LR);
        config.seed = lab.seed.wrapping_add(200 + k as u64);
        let net = fresh(
            &mlp(MEMBER_DROPOUT),
            Init::HeNormal,
            lab.seed.wrapping_add(100 + k as u64),
        );
        let optimizer = MlpAdam::boxed(AdamConfig::with_lr(MEMBER_LR));
        let name = format!("member {}", k + 1);
        let (run, net) = fit(lab, &name, net, optimizer, &config, &lab.data.train);
        runs.push(run);
        nets.push(net);
    }
    lab.runs_table(&runs.iter().collect::<Vec<_>>());

    // The ensembles of the first k members, k = 1..K.
    let refs: Vec<&Mlp> = nets.iter().map(|n| &**n).collect();
    let mut prefixes: Vec<(Evaluation, Evaluation)> = Vec::with_capacity(members);
    for k in 1..=members {
        let val = evaluate_ensemble(&refs[..k], &lab.data.val)?;
        let test = evaluate_ensemble(&refs[..k], &lab.data.test)?;
        eprintln!(
            "   {:<40}             val {:.4}  test {:.4}",
            format!("ensemble of members 1–{k}"),
            val.accuracy,
            test.accuracy
        );
        prefixes.push((val, test));
    }
    let (Some(best_test), Some(best_val)) = (
        best_by(&runs, |r| r.test.accuracy),
        best_by(&runs, |r| r.val.accuracy),
    ) else {
        return Err("the ensemble has no members".into());
    };
    // Every member alone, then the ensembles of the first k ≥ 2 members.
    let mut rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                pct(r.val.accuracy),
                num(r.val.loss, 4),
                pct(r.test.accuracy),
                num(r.test.loss, 4),
                String::new(),
            ]
        })
        .collect();
    for (i, (val, test)) in prefixes.iter().enumerate().skip(1) {
        let best = runs[..=i]
            .iter()
            .map(|r| r.test.accuracy)
            .fold(f32::NEG_INFINITY, f32::max);
        rows.push(vec![
            format!("**ensemble of members 1–{}**", i + 1),
            pct(val.accuracy),
            num(val.loss, 4),
            pct(test.accuracy),
            num(test.loss, 4),
            points(test.accuracy, best),
        ]);
    }
    lab.table(
        &[
            "network",
            "val acc",
            "val loss",
            "test acc",
            "test loss",
            "test acc − its best member's (points)",
        ],
        rows,
    );

    let ensemble_curve: Vec<(f64, f64)> = prefixes
        .iter()
        .enumerate()
        .map(|(i, (_, test))| ((i + 1) as f64, 100.0 * f64::from(test.accuracy)))
        .collect();
    let mean_curve: Vec<(f64, f64)> = (1..=members)
        .map(|k| {
            let mean = runs[..k]
                .iter()
                .map(|r| f64::from(r.test.accuracy))
                .sum::<f64>()
                / k as f64;
            (k as f64, 100.0 * mean)
        })
        .collect();
    let best_line: Vec<(f64, f64)> = (1..=members)
        .map(|k| (k as f64, 100.0 * f64::from(best_test.test.accuracy)))
        .collect();
    let best_name = format!("best single member ({})", best_test.name);
    lab.plot(
        "f_ensemble.png",
        &Chart {
            title: "Test accuracy of the ensemble of the first k members",
            x_label: "members averaged (k)",
            y_label: "test accuracy (%)",
            log_x: false,
            log_y: false,
        },
        &[
            series("ensemble of members 1..k", &ensemble_curve),
            series(&best_name, &best_line),
            series("mean of members 1..k, each alone", &mean_curve),
        ],
    )?;

    let Some((full_val, full_test)) = prefixes.last() else {
        return Err("the ensemble has no members".into());
    };
    let gain_test = full_test.accuracy - best_test.test.accuracy;
    let gain_val = full_val.accuracy - best_val.val.accuracy;
    let mean_test =
        runs.iter().map(|r| f64::from(r.test.accuracy)).sum::<f64>() / runs.len() as f64;
    let lowest_loss = runs
        .iter()
        .map(|r| r.test.loss)
        .fold(f32::INFINITY, f32::min);
    // Where the members disagree is where averaging can help.
    let labels = &lab.data.test.y;
    let disputed: Vec<usize> = (0..labels.len())
        .filter(|&i| {
            let first = runs[0].test.predictions.get(i);
            runs.iter().any(|r| r.test.predictions.get(i) != first)
        })
        .collect();
    let right_on_disputed = |predictions: &[u16]| {
        disputed
            .iter()
            .filter(|&&i| predictions.get(i) == labels.get(i))
            .count()
    };
    lab.text(&format!(
        "The members disagree on {} of the {} test images ({:.2} %); on those, the ensemble \
         is right {} times and its best member {} times.",
        thousands(disputed.len()),
        thousands(labels.len()),
        100.0 * disputed.len() as f64 / labels.len().max(1) as f64,
        thousands(right_on_disputed(&full_test.predictions)),
        thousands(right_on_disputed(&best_test.test.predictions)),
    ));
    lab.text(&format!(
        "\"Its best member\" is chosen with hindsight, by test accuracy — the comparison most \
         favourable to a single network; the members' mean test accuracy is {:.2} %. The \
         ensemble's test cross-entropy is {}, against {} for the lowest of the members'.",
        100.0 * mean_test,
        num(full_test.loss, 4),
        num(lowest_loss, 4),
    ));
    // "beats its best member (member 2, 89.10 %) by 0.52 points", or falls short of it.
    let against = |gain: f32, best: &Run, acc: f32| {
        let best = format!("its best member ({}, {})", best.name, pct(acc));
        if gain > 0.0 {
            format!("beats {best} by {:.2} points", 100.0 * gain)
        } else if gain < 0.0 {
            format!("falls {:.2} points short of {best}", -100.0 * gain)
        } else {
            format!("ties with {best}")
        }
    };
    lab.verdict(
        "An ensemble beats its best member",
        format!(
            "The ensemble of {members} networks that differ only in their seeds reaches {} test \
             accuracy and {}; on validation ({}) it {}.",
            pct(full_test.accuracy),
            against(gain_test, best_test, best_test.test.accuracy),
            pct(full_val.accuracy),
            against(gain_val, best_val, best_val.val.accuracy),
        ),
    );
    lab.check("ensemble_gain", f64::from(gain_test));
    lab.check("ensemble_gain_val", f64::from(gain_val));
    lab.check("ensemble_test_acc", f64::from(full_test.accuracy));
    lab.check("best_member_test_acc", f64::from(best_test.test.accuracy));
    Ok(())
}

/// The run with the highest `key` (the first of equals), if there is any.
fn best_by(runs: &[Run], key: impl Fn(&Run) -> f32) -> Option<&Run> {
    runs.iter()
        .reduce(|best, r| if key(r) > key(best) { r } else { best })
}

// ---------------------------------------------------------------------------------------------
// (k) Choosing hyperparameters on validation data

/// One candidate of the grid search.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Hyper {
    /// Base learning rate (cosine schedule).
    lr: f32,
    /// Dropout rate after the first hidden layer.
    dropout: f32,
    /// AdamW's decoupled weight decay.
    weight_decay: f32,
}

impl Hyper {
    /// The setting as the text shows it.
    fn label(&self) -> String {
        format!(
            "lr {:e}, dropout {}, weight decay {}",
            self.lr, self.dropout, self.weight_decay
        )
    }
}

/// The grid: learning rate × dropout rate × weight decay (a smaller one under `--quick`).
fn grid(quick: bool) -> Vec<Hyper> {
    let (lrs, dropouts, decays): (&[f32], &[f32], &[f32]) = if quick {
        (&[3e-3], &[0.0, 0.5], &[0.0, 0.05])
    } else {
        (&[1e-3, 3e-3], &[0.0, 0.25, 0.5], &[0.0, 0.05])
    };
    let mut grid = Vec::new();
    for &lr in lrs {
        for &weight_decay in decays {
            for &dropout in dropouts {
                grid.push(Hyper {
                    lr,
                    dropout,
                    weight_decay,
                });
            }
        }
    }
    grid
}

/// Trains a fresh [`Mlp`] with the setting `h` on `train` for `epochs` epochs (AdamW,
/// cosine schedule; the same initialization and shuffling seeds for every setting). Unlike
/// [`fit`] it evaluates nothing afterwards, so the caller decides which split the network
/// ever sees. Returns the network and, if a loss became non-finite, the failure.
fn train_setting(
    lab: &Lab,
    h: &Hyper,
    epochs: usize,
    train: &Samples<D>,
) -> (Box<Mlp>, Option<TrainError>) {
    let net = fresh(&mlp(h.dropout), Init::HeNormal, lab.seed.wrapping_add(300));
    let optimizer = MlpAdam::boxed(AdamConfig::adamw(h.lr, h.weight_decay));
    let mut config = cosine(lab, epochs, h.lr);
    config.seed = lab.seed.wrapping_add(400);
    let mut trainer = Trainer::<Mlp, MlpAdam, B>::new(net, optimizer, lab.seed.wrapping_add(17));
    // The trainer validates after every epoch; nothing here looks at those numbers.
    let failure = trainer.fit(train, &lab.data.val, &config, |_| {}).err();
    (trainer.net, failure)
}

/// (k) The lecture's rule: choose hyperparameters by their validation performance, retrain
/// the chosen setting on training and validation data, and evaluate on the test set once.
/// Grid-searches learning rate × dropout × weight decay, then retrains and tests the winner;
/// no other candidate is ever evaluated on the test set.
pub fn selection(lab: &mut Lab) -> Res {
    lab.section("k", "Choosing hyperparameters on validation data");
    let epochs = lab.epochs(5, 2);
    let candidates = grid(lab.quick);
    lab.text(&format!(
        "The lecture: split the data into training, validation and test sets; train one model \
         per setting, pick the setting with the best validation performance, (optionally) \
         retrain it on training and validation data together, and evaluate the final model on \
         the test data. We grid-searched {} settings — base learning rate × dropout rate × \
         AdamW weight decay — of the batch-normalized MLP 784–256–128–10 (dropout after the \
         first hidden layer), each trained for {epochs} epochs on the {} training samples with \
         AdamW on a cosine schedule from the same initialization and scored on the {} \
         validation samples. The winner was retrained the same way on the {} training and \
         validation samples and evaluated on the {} test samples once.",
        candidates.len(),
        thousands(lab.data.train.len()),
        thousands(lab.data.val.len()),
        thousands(lab.data.train.len() + lab.data.val.len()),
        thousands(lab.data.test.len()),
    ));

    let mut failures: Vec<Option<String>> = Vec::with_capacity(candidates.len());
    let lab_ref: &Lab = lab;
    let search = grid_search(&candidates, |h| -> Result<Evaluation, Infallible> {
        let (net, failure) = train_setting(lab_ref, h, epochs, &lab_ref.data.train);
        let eval = match &failure {
            None => evaluate(&*net, &lab_ref.data.val),
            // A diverged setting cannot win.
            Some(_) => Evaluation {
                loss: f32::INFINITY,
                accuracy: 0.0,
                predictions: Vec::new(),
            },
        };
        eprintln!(
            "   {:<40} {epochs:>3} epochs  val {:.4}  loss {:.4}{}",
            h.label(),
            eval.accuracy,
            eval.loss,
            failure
                .as_ref()
                .map(|e| format!("  ({e})"))
                .unwrap_or_default()
        );
        failures.push(failure.map(|e| e.to_string()));
        Ok(eval)
    })?
    .ok_or("the grid has no candidates")?;
    let winner = search.best().clone();

    let rows = search
        .trials
        .iter()
        .zip(&failures)
        .enumerate()
        .map(|(i, (t, failure))| {
            let chosen = i == search.best;
            let mark = |s: String| if chosen { format!("**{s}**") } else { s };
            let (acc, loss) = match failure {
                None => (pct(t.val_accuracy), num(t.val_loss, 4)),
                Some(_) => ("diverged".into(), "–".into()),
            };
            vec![
                mark(format!("{:e}", t.params.lr)),
                mark(t.params.dropout.to_string()),
                mark(t.params.weight_decay.to_string()),
                mark(acc),
                mark(loss),
                format!("{:.1}", t.seconds),
                if chosen {
                    "← chosen".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    lab.table(
        &[
            "learning rate",
            "dropout",
            "weight decay",
            "val acc",
            "val loss",
            "time (s)",
            "",
        ],
        rows,
    );
    selection_chart(lab, &search.trials)?;
    lab.text(&format!(
        "Best validation accuracy for each value of one hyperparameter (over the others): \
         learning rate {}; dropout {}; weight decay {}.",
        best_per(&search.trials, |h| format!("{:e}", h.lr)),
        best_per(&search.trials, |h| h.dropout.to_string()),
        best_per(&search.trials, |h| h.weight_decay.to_string()),
    ));
    lab.text(&format!(
        "The grid answers the question for its training budget of {epochs} epochs: a \
         regularizer that slows fitting, such as dropout, can look worse after a short \
         training than it would after a long one."
    ));

    // Retrain the winner on training + validation data; the only test evaluation.
    let all = lab.data.train.concat(&lab.data.val);
    let started = std::time::Instant::now();
    let (net, failure) = train_setting(lab, &winner.params, epochs, &all);
    let seconds = started.elapsed().as_secs_f64();
    let test = evaluate(&*net, &lab.data.test);
    eprintln!(
        "   winner retrained on {} samples            test {:.4}  {seconds:.1} s",
        all.len(),
        test.accuracy
    );
    lab.table(
        &[
            "final model",
            "training samples",
            "epochs",
            "test acc",
            "test loss",
            "time (s)",
        ],
        vec![vec![
            winner.params.label(),
            thousands(all.len()),
            match &failure {
                None => epochs.to_string(),
                Some(e) => format!("{epochs} ({e})"),
            },
            pct(test.accuracy),
            num(test.loss, 4),
            format!("{seconds:.1}"),
        ]],
    );

    // How far apart the top candidates are, against the noise of the validation estimate.
    let runner_up = search
        .trials
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != search.best)
        .map(|(_, t)| t)
        .reduce(|a, t| {
            if t.val_accuracy > a.val_accuracy {
                t
            } else {
                a
            }
        });
    let p = f64::from(winner.val_accuracy);
    let se = 100.0 * (p * (1.0 - p) / lab.data.val.len().max(1) as f64).sqrt();
    if let Some(second) = runner_up {
        let margin = 100.0 * f64::from(winner.val_accuracy - second.val_accuracy);
        lab.text(&format!(
            "The runner-up ({}) scored {:.2} points less on validation. One standard error of \
             an accuracy near {} measured on {} samples is about {se:.2} points, so {}",
            second.params.label(),
            margin,
            pct(winner.val_accuracy),
            thousands(lab.data.val.len()),
            if margin < 2.0 * se {
                "the order of the top settings is within the noise of the validation \
                 estimate: validation picks a good setting, not provably the best one. That \
                 noise is also why the winner's validation accuracy is an optimistic estimate, \
                 and why the test set, untouched by the choice, gives the number to report."
            } else {
                "the margin is larger than the noise of the validation estimate. The winner's \
                 validation accuracy is still an optimistic estimate — it is the maximum of \
                 several noisy scores — which is why the test set, untouched by the choice, \
                 gives the number to report."
            }
        ));
    }
    let others = search.trials.len() - 1;
    lab.verdict(
        "Choose hyperparameters on validation data, evaluate on test data once",
        format!(
            "Validation chose {} ({} validation accuracy, best of {}); retrained on training \
             and validation data, it scores {} on the test set. The test accuracies of the other \
             {others} settings were never computed: the test set played no part in the choice.",
            winner.params.label(),
            pct(winner.val_accuracy),
            search.trials.len(),
            pct(test.accuracy),
        ),
    );
    lab.check("candidates", search.trials.len() as f64);
    lab.check("winner_val_acc", f64::from(winner.val_accuracy));
    lab.check("final_test_acc", f64::from(test.accuracy));
    Ok(())
}

/// "0 → 90.45 %, 0.5 → 88.98 %": for each value of one hyperparameter (as `value` shows
/// it, in the order of the grid), the best validation accuracy of the trials with it.
fn best_per(trials: &[Trial<Hyper>], value: impl Fn(&Hyper) -> String) -> String {
    let mut best: Vec<(String, f32)> = Vec::new();
    for t in trials {
        let v = value(&t.params);
        match best.iter_mut().find(|(k, _)| *k == v) {
            Some((_, acc)) => *acc = acc.max(t.val_accuracy),
            None => best.push((v, t.val_accuracy)),
        }
    }
    best.iter()
        .map(|(v, acc)| format!("{v} → {}", pct(*acc)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validation accuracy against the dropout rate, one line per (learning rate, weight decay).
fn selection_chart(lab: &mut Lab, trials: &[Trial<Hyper>]) -> Res {
    // ((learning rate, weight decay), its points).
    type Group = ((f32, f32), Vec<(f64, f64)>);
    let mut groups: Vec<Group> = Vec::new();
    for t in trials {
        let key = (t.params.lr, t.params.weight_decay);
        let point = (
            f64::from(t.params.dropout),
            100.0 * f64::from(t.val_accuracy),
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, points)) => points.push(point),
            None => groups.push((key, vec![point])),
        }
    }
    let names: Vec<String> = groups
        .iter()
        .map(|((lr, wd), _)| format!("lr {lr:e}, weight decay {wd}"))
        .collect();
    let lines: Vec<_> = groups
        .iter()
        .zip(&names)
        .map(|((_, points), name)| series(name, points))
        .collect();
    lab.plot(
        "k_selection.png",
        &Chart {
            title: "Grid search: validation accuracy of each setting",
            x_label: "dropout rate",
            y_label: "validation accuracy (%)",
            log_x: false,
            log_y: false,
        },
        &lines,
    )
}
