//! (g) adversarial examples and adversarial training.
//!
//! Trains the same network three times — normally, and against FGSM examples (Goodfellow et
//! al., 2015) of a mild and a strong ε — and measures each on the test set under white-box
//! FGSM attacks of growing ε.

use firmnet::host::report::Chart;
use firmnet::host::{Adversarial, Regularization, TrainConfig, evaluate_fgsm};
use firmnet::prelude::*;
use firmnet::train::Fgsm;

use crate::common::{
    B, C, D, Lab, NORMALIZED, Normalized, Res, Run, fit, fresh, pct, series, thousands,
};
use crate::ensembles::{cosine, points};

/// The network: batch-normalized, without dropout.
type Mlp = Normalized;
/// An untrained [`Mlp`].
const MLP: Mlp = NORMALIZED;

/// Base learning rate (cosine schedule).
const LR: f32 = 2e-3;
/// ε of the FGSM examples adversarial training uses, in pixel units (pixels are in [0, 1]):
/// a mild one, and the strong one the checks and the verdict quote.
const TRAIN_EPS: [f32; 2] = [0.02, KEY_EPS];
/// Weight of the clean loss in adversarial training (Goodfellow et al.'s 0.5).
const CLEAN_WEIGHT: f32 = 0.5;
/// The attack strengths measured, in pixel units.
const EPSILONS: [f32; 7] = [0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2];
/// The ε the checks and the verdict quote (it must be one of [`EPSILONS`]).
const KEY_EPS: f32 = 0.1;

/// One trained network and its accuracy under each attack of [`EPSILONS`].
struct Trained {
    /// The training run and its clean evaluations.
    run: Run,
    /// The trained network.
    net: Box<Mlp>,
    /// Test accuracy under FGSM, one per ε of [`EPSILONS`].
    under_attack: Vec<f32>,
}

/// "gains 1.20 points" or "costs 0.40 points", for a change of accuracy.
fn gains(change: f32) -> String {
    let verb = if change >= 0.0 { "gains" } else { "costs" };
    format!("{verb} {:.2} points", 100.0 * change.abs())
}

/// (g) The lecture: inputs that a network misclassifies "can be found surprisingly close"
/// to correctly classified ones, and training on such adversarial examples regularizes.
/// Trains the MLP normally and with FGSM adversarial training (two ε), all from the same
/// initialization and shuffling, then measures test accuracy under white-box FGSM for
/// several ε.
pub fn adversarial(lab: &mut Lab) -> Res {
    lab.section("g", "Adversarial examples, and training against them");
    let epochs = lab.epochs(10, 3);
    let max_eps = EPSILONS[EPSILONS.len() - 1];
    lab.text(&format!(
        "The lecture (after Szegedy et al., 2014): search for an input x′ near a data point x \
         that the network classifies differently — such adversaries \"can be found \
         surprisingly close\" — and train on them as a regularizer. We trained a \
         batch-normalized MLP 784–256–128–10 (no dropout) with Adam, base rate {LR:e} on a \
         cosine schedule, for {epochs} epochs on the {} training samples, three times from the \
         same initialization and batch order: normally, and adversarially with ε = {} and \
         ε = {} (Goodfellow et al., 2015: the loss is {CLEAN_WEIGHT}·J(x) + {}·J(x′), with x′ \
         = x + ε·sign(∇ₓJ) made afresh for every batch). Then we attacked each network on the \
         {} test images with FGSM — white-box, one step with the gradient of the deployed \
         network itself — for ε from 0 to {max_eps}. Pixels are in [0, 1], so ε = 0.01 moves \
         every pixel by about 2.5 of 255 grey levels; perturbed pixels are clipped to [0, 1].",
        thousands(lab.data.train.len()),
        TRAIN_EPS[0],
        TRAIN_EPS[1],
        1.0 - CLEAN_WEIGHT,
        thousands(lab.data.test.len()),
    ));

    // Standard training, then adversarial training for each ε of TRAIN_EPS.
    let init_seed = lab.seed.wrapping_add(500);
    let standard_config = cosine(lab, epochs, LR);
    let mut settings = vec![("standard training".to_string(), standard_config.clone())];
    for eps in TRAIN_EPS {
        let config = TrainConfig {
            regularization: Regularization {
                adversarial: Some(Adversarial {
                    attack: Fgsm::new(eps).within(0.0, 1.0),
                    weight: CLEAN_WEIGHT,
                }),
                ..Regularization::NONE
            },
            ..standard_config.clone()
        };
        settings.push((format!("adversarial training (ε = {eps})"), config));
    }
    let mut trained: Vec<Trained> = Vec::with_capacity(settings.len());
    for (name, config) in &settings {
        let optimizer = Adam::<<Mlp as Layer>::Grad>::boxed(AdamConfig::with_lr(LR));
        let net = fresh(&MLP, Init::HeNormal, init_seed);
        let (run, net) = fit(lab, name, net, optimizer, config, &lab.data.train);
        trained.push(Trained {
            run,
            net,
            under_attack: Vec::with_capacity(EPSILONS.len()),
        });
    }
    lab.runs_table(&trained.iter().map(|t| &t.run).collect::<Vec<_>>());

    for &eps in &EPSILONS {
        let attack = Fgsm::new(eps).within(0.0, 1.0);
        for t in &mut trained {
            let eval = evaluate_fgsm::<Mlp, D, C, B>(&t.net, &lab.data.test, &attack);
            t.under_attack.push(eval.accuracy);
        }
        eprintln!(
            "   FGSM ε = {eps:<5}  test acc {}",
            trained
                .iter()
                .map(|t| format!("{:.4}", t.under_attack.last().copied().unwrap_or(f32::NAN)))
                .collect::<Vec<_>>()
                .join("  ")
        );
    }
    let rows = EPSILONS
        .iter()
        .enumerate()
        .map(|(i, eps)| {
            let mut row = vec![eps.to_string(), format!("{:.1}", 255.0 * eps)];
            row.extend(trained.iter().map(|t| pct(t.under_attack[i])));
            row
        })
        .collect();
    let headers: Vec<String> = trained
        .iter()
        .map(|t| {
            let setting = t.run.name.replace(" training", "");
            format!("test acc, {setting}")
        })
        .collect();
    let mut header = vec!["FGSM ε", "grey levels (of 255)"];
    header.extend(headers.iter().map(String::as_str));
    lab.table(&header, rows);

    let curves: Vec<Vec<(f64, f64)>> = trained
        .iter()
        .map(|t| {
            EPSILONS
                .iter()
                .zip(&t.under_attack)
                .map(|(&eps, &acc)| (f64::from(eps), 100.0 * f64::from(acc)))
                .collect()
        })
        .collect();
    let lines: Vec<_> = trained
        .iter()
        .zip(&curves)
        .map(|(t, points)| series(&t.run.name, points))
        .collect();
    lab.plot(
        "g_adversarial.png",
        &Chart {
            title: "Test accuracy under a white-box FGSM attack of size ε",
            x_label: "ε (pixel units; pixels in [0, 1])",
            y_label: "test accuracy (%)",
            log_x: false,
            log_y: false,
        },
        &lines,
    )?;

    let (Some(key), [standard, mild, strong]) =
        (EPSILONS.iter().position(|&e| e == KEY_EPS), &trained[..])
    else {
        return Err(format!("ε = {KEY_EPS} is not among the attacks, or a run is missing").into());
    };
    // How close the adversaries are: the smallest step, and the smallest that halves the
    // standard network's accuracy.
    let clean = standard.run.test.accuracy;
    let mut closeness = String::new();
    if let Some(i) = EPSILONS.iter().position(|&e| e > 0.0) {
        closeness.push_str(&format!(
            "The smallest step, ε = {} ({:.1} grey levels, {} % of the pixel range), already \
             costs the standard network {:.2} points of test accuracy. ",
            EPSILONS[i],
            255.0 * EPSILONS[i],
            100.0 * EPSILONS[i],
            100.0 * (clean - standard.under_attack[i]),
        ));
    }
    match (0..EPSILONS.len())
        .find(|&i| EPSILONS[i] > 0.0 && standard.under_attack[i] <= 0.5 * clean)
    {
        Some(i) => closeness.push_str(&format!(
            "At ε = {} ({:.1} grey levels) its accuracy is less than half its clean accuracy: {} \
             against {}.",
            EPSILONS[i],
            255.0 * EPSILONS[i],
            pct(standard.under_attack[i]),
            pct(clean),
        )),
        None => closeness.push_str(&format!(
            "No ε up to {max_eps} halves its clean test accuracy of {}.",
            pct(clean)
        )),
    }
    lab.text(&closeness);
    let gap = |t: &Trained| 100.0 * (t.run.train.accuracy - t.run.test.accuracy);
    let regularizer: Vec<String> = [mild, strong]
        .iter()
        .zip(TRAIN_EPS)
        .map(|(t, eps)| {
            format!(
                "with ε = {eps} it {} of clean test accuracy ({} → {}) and {} of validation \
                 accuracy, with a gap of {:.2} points between training and test accuracy",
                gains(t.run.test.accuracy - clean),
                pct(clean),
                pct(t.run.test.accuracy),
                gains(t.run.val.accuracy - standard.run.val.accuracy),
                gap(t),
            )
        })
        .collect();
    lab.text(&format!(
        "Adversarial training as a regularizer: {}; standard training's gap is {:.2} \
         points. All networks are attacked with the one-step attack the adversarial ones were \
         trained against, so their numbers are an upper bound on their robustness: iterated \
         attacks find more adversaries.",
        regularizer.join("; "),
        gap(standard),
    ));
    // Whether adversarial training helped on clean data at either ε.
    let helped: Vec<String> = [mild, strong]
        .iter()
        .zip(TRAIN_EPS)
        .filter(|(t, _)| t.run.test.accuracy > clean)
        .map(|(_, eps)| format!("ε = {eps}"))
        .collect();
    lab.verdict(
        "Adversarial examples are close; adversarial training resists them",
        format!(
            "FGSM at ε = {KEY_EPS} ({:.1} grey levels) cuts the standard network's test accuracy \
             from {} to {}; trained adversarially at that ε, the same network keeps {} under \
             the attack, at a clean test accuracy of {} ({} points against standard \
             training). Milder adversarial training (ε = {}) keeps {} at ε = {KEY_EPS} with a \
             clean test accuracy of {} ({} points). As a regularizer it {} the gap between \
             training and test accuracy ({:.2} points → {:.2} at ε = {} and {:.2} at ε = {}) \
             {}.",
            255.0 * KEY_EPS,
            pct(clean),
            pct(standard.under_attack[key]),
            pct(strong.under_attack[key]),
            pct(strong.run.test.accuracy),
            points(strong.run.test.accuracy, clean),
            TRAIN_EPS[0],
            pct(mild.under_attack[key]),
            pct(mild.run.test.accuracy),
            points(mild.run.test.accuracy, clean),
            if gap(mild) < gap(standard) && gap(strong) < gap(standard) {
                "narrows"
            } else {
                "changes"
            },
            gap(standard),
            gap(mild),
            TRAIN_EPS[0],
            gap(strong),
            TRAIN_EPS[1],
            if helped.is_empty() {
                "but raises clean test accuracy at neither ε".to_string()
            } else {
                format!("and raises clean test accuracy at {}", helped.join(" and "))
            },
        ),
    );
    lab.check(
        &format!("standard_acc_eps_{KEY_EPS}"),
        f64::from(standard.under_attack[key]),
    );
    lab.check(
        &format!("adversarial_acc_eps_{KEY_EPS}"),
        f64::from(strong.under_attack[key]),
    );
    lab.check("standard_clean_acc", f64::from(clean));
    lab.check("adversarial_clean_acc", f64::from(strong.run.test.accuracy));
    lab.check(
        &format!("mild_adversarial_acc_eps_{KEY_EPS}"),
        f64::from(mild.under_attack[key]),
    );
    lab.check(
        "mild_adversarial_clean_acc",
        f64::from(mild.run.test.accuracy),
    );
    Ok(())
}
