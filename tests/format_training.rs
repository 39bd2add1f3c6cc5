//! Training checkpoints in the weight file (version 2): the network, the optimizer's
//! moments and settings, the run's counters and random stream, and the early-stopping
//! state with the best weights round-trip bit for bit (Adam and SGD); a resumed run
//! continues bit for bit, a `Trainer` with patience interrupted and resumed ends where the
//! uninterrupted one does; damage is refused without changing anything.

mod format_shared;

use firmnet::format::{
    self, EarlyStop, ErrorCode, File, FileKind, OptimizerKind, Resumed, RunState, Section, Value,
};
use firmnet::host::{
    EpochRecord, LrSchedule, Regularization, Samples, Schedule, TrainConfig, Trainer,
};
use firmnet::optim::Clip;
use firmnet::prelude::*;
use format_shared::*;

fn run_state(ctx: &Context, epoch: u64, step: u64) -> RunState {
    RunState {
        rng: ctx.rng,
        epoch,
        step,
    }
}

/// Adam after training, with every setting away from its default.
fn adam_with_settings() -> (Mlp, Adam<MlpGrad>, Context) {
    let (net, mut adam, ctx) = trained(1);
    adam.config.clip = Clip {
        value: Some(2.0),
        norm: Some(5.0),
    };
    adam.config.weight_decay = 1e-4;
    adam.config.l1 = 1e-5;
    adam.config.l2 = 3e-4;
    adam.config.beta2 = 0.995;
    (net, adam, ctx)
}

#[test]
fn adam_checkpoint_round_trip_is_bitwise() {
    let (net, adam, ctx) = adam_with_settings();
    let (best, _, _) = trained(2);
    let run = run_state(&ctx, 3, u64::from(adam.t));
    let stop = EarlyStop {
        best: &best,
        best_value: 0.8125,
        best_epoch: 2,
        since_best: 1,
    };
    let shuffle = Rng::new(77);
    let extra = [
        ("best_accuracy", Value::F32(0.875)),
        ("patience_left", Value::U32(4)),
        ("shuffle_rng", Value::Rng(shuffle)),
        ("best_loss", Value::F64(f64::INFINITY)),
        ("samples", Value::U64(u64::MAX - 1)),
    ];
    let bytes = format::save_training(&net, &adam, &run, Some(&stop), &extra).unwrap();
    let mut buf = vec![0u8; bytes.len()];
    assert_eq!(
        format::write_training(&net, &adam, &run, Some(&stop), &extra, Some(&mut buf)),
        Ok(bytes.len())
    );
    assert_eq!(buf, bytes);
    assert_eq!(
        format::write_training(&net, &adam, &run, Some(&stop), &extra, None),
        Ok(bytes.len())
    );

    let (mut net2, mut best2) = (mlp(), mlp());
    let mut adam2 = Adam::<MlpGrad>::new(AdamConfig::DEFAULT);
    let resumed = format::load_training(&bytes, &mut net2, &mut adam2, Some(&mut best2)).unwrap();
    assert_eq!(
        resumed,
        Resumed {
            run,
            stop: Some((0.8125, 2, 1))
        }
    );
    assert_same(&net, &net2);
    assert_same(&best, &best2);
    assert_same_params(&adam.m, &adam2.m, "m");
    assert_same_params(&adam.v, &adam2.v, "v");
    assert_eq!(adam2.t, adam.t);
    assert_eq!(adam2.config, adam.config);

    // The file describes it.
    let file = File::parse(&bytes).unwrap();
    assert_eq!(file.kind(), FileKind::Checkpoint);
    assert_eq!(file.optimizer(), Some(OptimizerKind::Adam));
    let names: Vec<_> = file.scalars().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "run.rng",
            "run.epoch",
            "run.step",
            "adam.t",
            "adam.lr",
            "adam.beta1",
            "adam.beta2",
            "adam.eps",
            "adam.l2",
            "adam.l1",
            "adam.weight_decay",
            "adam.clip_value",
            "adam.clip_norm",
            "stop.best_value",
            "stop.best_epoch",
            "stop.since_best",
            "best_accuracy",
            "patience_left",
            "shuffle_rng",
            "best_loss",
            "samples",
        ]
    );
    assert_eq!(file.scalar_f32("best_accuracy"), Ok(0.875));
    assert_eq!(file.scalar_u32("patience_left"), Ok(4));
    assert_eq!(file.scalar_rng("shuffle_rng"), Ok(shuffle));
    assert_eq!(file.scalar_f64("best_loss"), Ok(f64::INFINITY));
    assert_eq!(file.scalar_u64("samples"), Ok(u64::MAX - 1));
    assert_eq!(file.scalar("adam.beta2"), Some(Value::F32(0.995)));
    let err = file.scalar_u64("best_accuracy").unwrap_err();
    assert_eq!(
        (err.code(), err.name()),
        (ErrorCode::ScalarType, "best_accuracy")
    );
    assert_eq!(
        err.to_string(),
        "the scalar `best_accuracy` has another type in the file than the one wanted"
    );
    let err = file.scalar_u64("nothing").unwrap_err();
    assert_eq!(err.to_string(), "the file lacks the scalar `nothing`");

    // Every layer holds its tensors in each section: the network, the two moments of the
    // learned ones, the best weights.
    let sections: Vec<_> = file
        .layer(1)
        .unwrap()
        .tensors()
        .map(|t| (t.section, t.name))
        .collect();
    assert_eq!(
        sections,
        [
            (Section::Network, "gamma"),
            (Section::Network, "beta"),
            (Section::Network, "running_mean"),
            (Section::Network, "running_var"),
            (Section::FirstMoment, "gamma"),
            (Section::FirstMoment, "beta"),
            (Section::SecondMoment, "gamma"),
            (Section::SecondMoment, "beta"),
            (Section::Best, "gamma"),
            (Section::Best, "beta"),
            (Section::Best, "running_mean"),
            (Section::Best, "running_var"),
        ]
    );
    let layer4 = file.layer(4).unwrap();
    let m = layer4.tensor(Section::FirstMoment, "bias").unwrap();
    assert!(
        m.f32s()
            .unwrap()
            .eq(adam.m.tensor(MlpGrad::TENSORS - 1).iter().copied())
    );
    let v = layer4.tensor(Section::SecondMoment, "weight").unwrap();
    assert!(
        v.f32s()
            .unwrap()
            .eq(adam.v.tensor(MlpGrad::TENSORS - 2).iter().copied())
    );
    let b = file
        .layer(1)
        .unwrap()
        .tensor(Section::Best, "running_var")
        .unwrap();
    assert!(b.f32s().unwrap().eq(best.rest.first.running_var));
    assert_eq!(file.layer(2).unwrap().tensor_count(), 0);
    walk_matches_reader(&bytes);

    // Without a place for the best weights, they are not loaded, the rest is.
    let mut net3 = mlp();
    let mut adam3 = Adam::<MlpGrad>::new(AdamConfig::DEFAULT);
    let r = format::load_training(&bytes, &mut net3, &mut adam3, None).unwrap();
    assert_eq!(r, resumed);
    assert_same(&net, &net3);
    // A checkpoint loads as a float network too.
    let mut net4 = mlp();
    format::load(&bytes, &mut net4).unwrap();
    assert_same(&net, &net4);
}

#[test]
fn a_checkpoint_without_early_stopping_has_no_best_weights() {
    let (net, adam, ctx) = trained(3);
    let run = run_state(&ctx, 1, 6);
    let bytes = format::save_training(&net, &adam, &run, None, &[]).unwrap();
    let file = File::parse(&bytes).unwrap();
    assert!(
        file.layers()
            .all(|l| l.tensors().all(|t| t.section != Section::Best))
    );
    assert_eq!(file.scalar("stop.best_value"), None);
    let mut best = zoo_zero_mlp();
    let before = best.clone();
    let mut net2 = mlp();
    let mut adam2 = Adam::<MlpGrad>::new(AdamConfig::DEFAULT);
    let r = format::load_training(&bytes, &mut net2, &mut adam2, Some(&mut best)).unwrap();
    assert_eq!(r, Resumed { run, stop: None });
    assert_same(&best, &before);
    assert_same(&net2, &net);
    assert!(
        bytes.len()
            < format::save_training(
                &net,
                &adam,
                &run,
                Some(&EarlyStop {
                    best: &net,
                    best_value: 0.0,
                    best_epoch: 0,
                    since_best: 0
                }),
                &[]
            )
            .unwrap()
            .len()
    );
}

/// An [`Mlp`] with random values, to see that a load leaves it alone.
fn zoo_zero_mlp() -> Mlp {
    let mut n = mlp();
    randomize_float(&mut n, 4);
    n
}

#[test]
fn sgd_checkpoint_round_trip_and_optimizer_mismatch() {
    let (net, adam, ctx) = trained(5);
    let mut sgd = Sgd::<MlpGrad>::new(SgdConfig {
        momentum: 0.9,
        nesterov: true,
        l1: 1e-5,
        clip: Clip::value(1.5),
        ..SgdConfig::new(0.05)
    });
    let mut rng = Rng::new(6);
    for i in 0..MlpGrad::TENSORS {
        sgd.velocity
            .tensor_mut(i)
            .iter_mut()
            .for_each(|v| *v = rng.normal());
    }
    let run = run_state(&ctx, 1, 2);
    let bytes = format::save_training(&net, &sgd, &run, None, &[]).unwrap();
    let file = File::parse(&bytes).unwrap();
    assert_eq!(file.optimizer(), Some(OptimizerKind::Sgd));
    assert!(
        file.layers()
            .all(|l| l.tensors().all(|t| t.section != Section::SecondMoment))
    );
    assert_eq!(file.scalar("sgd.nesterov"), Some(Value::U32(1)));
    let mut net2 = mlp();
    let mut sgd2 = Sgd::<MlpGrad>::new(SgdConfig::new(1.0));
    assert_eq!(
        format::load_training(&bytes, &mut net2, &mut sgd2, None),
        Ok(Resumed { run, stop: None })
    );
    assert_same(&net, &net2);
    assert_same_params(&sgd.velocity, &sgd2.velocity, "velocity");
    assert_eq!(sgd2.config, sgd.config);

    // SGD's state does not resume Adam, nor Adam's SGD; nothing changes.
    let mut a = Adam::<MlpGrad>::new(AdamConfig::DEFAULT);
    let mut n = mlp();
    let err = format::load_training(&bytes, &mut n, &mut a, None).unwrap_err();
    assert_eq!(
        (err.code(), err.expected(), err.found()),
        (ErrorCode::Optimizer, 1, 2)
    );
    assert_eq!(
        err.to_string(),
        "the checkpoint holds the state of SGD (expected Adam)"
    );
    assert_same(&n, &mlp());
    assert_eq!(a.config, AdamConfig::DEFAULT);
    let adam_file = format::save_training(&net, &adam, &run, None, &[]).unwrap();
    let mut s = Sgd::<MlpGrad>::new(SgdConfig::new(0.5));
    let err = format::load_training(&adam_file, &mut mlp(), &mut s, None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Optimizer);
    assert_same_params(&s.velocity, &MlpGrad::ZERO, "velocity");
    // A network file has no training state to resume from.
    let err =
        format::load_training(&format::save(&net).unwrap(), &mut mlp(), &mut a, None).unwrap_err();
    assert_eq!(err.code(), ErrorCode::FileKind);
}

/// Training 20 steps in one go, and 10 steps, a save, a load into fresh values and 10
/// more steps, give the same bits: network, running statistics, moments, step, random
/// stream.
#[test]
fn a_resumed_run_continues_bit_for_bit() {
    fn check<O: Optimizer<MlpGrad> + format::OptimizerState<MlpGrad>>(
        fresh: impl Fn() -> O,
        blank: O,
        moments: &dyn Fn(&O, &O),
    ) {
        let mut start = mlp();
        start.init(Init::HeNormal, &mut Rng::new(11));
        let (mut net_a, mut opt_a, mut ctx_a) = (start.clone(), fresh(), Context::new(12));
        train(&mut net_a, &mut opt_a, &mut ctx_a, 0, 20);

        // The first half of the interrupted run: only the checkpoint survives it.
        let checkpoint = {
            let (mut net_b, mut opt_b, mut ctx_b) = (start, fresh(), Context::new(12));
            train(&mut net_b, &mut opt_b, &mut ctx_b, 0, 10);
            format::save_training(&net_b, &opt_b, &run_state(&ctx_b, 0, 10), None, &[]).unwrap()
        };
        let mut net_c = mlp();
        let mut opt_c = blank; // settings come from the file
        let r = format::load_training(&checkpoint, &mut net_c, &mut opt_c, None).unwrap();
        let mut ctx_c = Context {
            rng: r.run.rng,
            ..Context::new(0)
        };
        train(&mut net_c, &mut opt_c, &mut ctx_c, r.run.step, 10);
        assert_same(&net_a, &net_c);
        moments(&opt_a, &opt_c);
        assert_eq!(ctx_a.rng, ctx_c.rng);
    }
    check(
        || Adam::<MlpGrad>::new(AdamConfig::with_lr(0.02)),
        Adam::new(AdamConfig::DEFAULT),
        &|a, c| {
            assert_same_params(&a.m, &c.m, "m");
            assert_same_params(&a.v, &c.v, "v");
            assert_eq!(a.t, c.t);
        },
    );
    check(
        || {
            Sgd::<MlpGrad>::new(SgdConfig {
                momentum: 0.9,
                ..SgdConfig::new(0.05)
            })
        },
        Sgd::new(SgdConfig::new(1.0)),
        &|a, c| assert_same_params(&a.velocity, &c.velocity, "velocity"),
    );
}

#[test]
fn state_that_cannot_be_stored_is_refused() {
    let (net, adam, ctx) = trained(13);
    let run = run_state(&ctx, 0, 6);
    let save = |extra: &[(&str, Value)]| format::save_training(&net, &adam, &run, None, extra);
    // Names the run or the optimizer use cannot be reused; nor can a name twice.
    for extra in [
        &[("adam.t", Value::U32(1))][..],
        &[("run.step", Value::U64(1))],
        &[("a", Value::U32(1)), ("a", Value::U32(2))],
    ] {
        assert_eq!(
            save(extra).unwrap_err().code(),
            ErrorCode::DuplicateScalar,
            "{extra:?}"
        );
    }
    let stop = EarlyStop {
        best: &net,
        best_value: 0.5,
        best_epoch: 1,
        since_best: 0,
    };
    let err = format::save_training(
        &net,
        &adam,
        &run,
        Some(&stop),
        &[("stop.best_epoch", Value::U64(3))],
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DuplicateScalar);
    // NaN is no value; names are 1 to 255 printable ASCII characters without spaces.
    let long = "x".repeat(256);
    for extra in [
        &[("a", Value::F32(f32::NAN))][..],
        &[("a", Value::F64(f64::NAN))],
        &[("with space", Value::U32(1))],
        &[("", Value::U32(1))],
        &[(long.as_str(), Value::U32(1))],
        &[("é", Value::U32(1))],
    ] {
        let err = save(extra).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidScalar, "{extra:?}");
    }
    let name = "x".repeat(255);
    let bytes = save(&[(name.as_str(), Value::F32(f32::NEG_INFINITY))]).unwrap();
    assert_eq!(
        File::parse(&bytes).unwrap().scalar(&name),
        Some(Value::F32(f32::NEG_INFINITY))
    );
    // Best weights obey the network's rules; moments theirs.
    let mut bad = net.clone();
    bad.rest.first.running_var[2] = 0.0;
    let stop = EarlyStop {
        best: &bad,
        best_value: 0.5,
        best_epoch: 1,
        since_best: 0,
    };
    let err = format::save_training(&net, &adam, &run, Some(&stop), &[]).unwrap_err();
    assert_eq!(
        (err.code(), err.layer(), err.name(), err.section()),
        (
            ErrorCode::Value,
            Some(1),
            "running_var",
            Some(Section::Best)
        )
    );
    let mut bad = net.clone();
    bad.first.bias[1] = f32::INFINITY;
    let err = format::save_training(&bad, &adam, &run, None, &[]).unwrap_err();
    assert_eq!(
        (err.code(), err.name(), err.section()),
        (ErrorCode::Value, "bias", Some(Section::Network))
    );
    // A NaN setting of the optimizer is refused by the reader (a damaged file).
    let mut nan = adam;
    nan.config.lr = f32::NAN;
    let err = format::save_training(&net, &nan, &run, None, &[]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidScalar);
}

// ---------------------------------------------------------------------------------------
// Damage

fn checkpoint_bytes() -> (Vec<u8>, Mlp) {
    let (net, adam, ctx) = adam_with_settings();
    let (best, _, _) = trained(14);
    let stop = EarlyStop {
        best: &best,
        best_value: 0.75,
        best_epoch: 4,
        since_best: 2,
    };
    let extra = [
        ("best_accuracy", Value::F32(0.875)),
        ("seen", Value::U64(96)),
    ];
    let bytes =
        format::save_training(&net, &adam, &run_state(&ctx, 5, 6), Some(&stop), &extra).unwrap();
    (bytes, best)
}

/// Loads a checkpoint into fresh values; on error checks that nothing changed.
fn load_fresh(bytes: &[u8]) -> Result<(Mlp, Adam<MlpGrad>, Mlp, Resumed), format::FormatError> {
    let (mut net, mut best) = (mlp(), mlp());
    let mut adam = Adam::<MlpGrad>::new(AdamConfig::DEFAULT);
    match format::load_training(bytes, &mut net, &mut adam, Some(&mut best)) {
        Ok(r) => Ok((net, adam, best, r)),
        Err(e) => {
            assert_same(&net, &mlp());
            assert_same(&best, &mlp());
            assert_eq!(adam.config, AdamConfig::DEFAULT);
            assert_eq!(adam.t, 0);
            assert_same_params(&adam.m, &MlpGrad::ZERO, "m");
            assert_same_params(&adam.v, &MlpGrad::ZERO, "v");
            Err(e)
        }
    }
}

#[test]
fn every_single_byte_change_and_truncation_is_refused() {
    let (bytes, _) = checkpoint_bytes();
    for pos in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut b = bytes.clone();
            b[pos] ^= flip;
            let err = load_fresh(&b).map(|_| ()).unwrap_err();
            let expected = match pos {
                0..4 => ErrorCode::BadMagic,
                4..6 => ErrorCode::UnsupportedVersion,
                8..12 => ErrorCode::Damaged,
                _ => ErrorCode::Checksum,
            };
            assert_eq!(err.code(), expected, "byte {pos} ^ {flip:#04x}");
        }
    }
    for len in 0..bytes.len() {
        let err = load_fresh(&bytes[..len]).map(|_| ()).unwrap_err();
        let expected = if len < 36 {
            ErrorCode::Truncated
        } else {
            ErrorCode::Damaged
        };
        assert_eq!(err.code(), expected, "length {len}");
    }
}

#[test]
fn every_resealed_byte_change_is_refused_or_resumes_a_valid_state() {
    // A change either is refused, changing nothing, or loads a state the writer accepts.
    // Outside the scalar records, that state saves back to exactly the damaged bytes.
    // (Inside them, a renamed optional setting — `adam.l1`, `adam.clip_value`,
    // `adam.clip_norm` — is read as absent and kept as a free-form scalar: the file is
    // valid, and says something else.)
    let (bytes, _) = checkpoint_bytes();
    let scalars_at = walk(&bytes).scalars[0].at;
    let mut loaded = 0;
    for pos in 0..bytes.len() - 4 {
        for flip in [0x01u8, 0x10, 0x80, 0xFF] {
            let b = resealed(&bytes, |b| b[pos] ^= flip);
            let Ok((net, adam, best, r)) = load_fresh(&b) else {
                continue;
            };
            let stop = r
                .stop
                .map(|(best_value, best_epoch, since_best)| EarlyStop {
                    best: &best,
                    best_value,
                    best_epoch,
                    since_best,
                });
            // The free-form scalars: those the state itself does not write.
            let own = format::save_training(&net, &adam, &r.run, stop.as_ref(), &[]).unwrap();
            let own = File::parse(&own).unwrap();
            let file = File::parse(&b).unwrap();
            let extra: Vec<_> = file
                .scalars()
                .filter(|s| own.scalar(s.name).is_none())
                .map(|s| (s.name, s.value))
                .collect();
            let again = format::save_training(&net, &adam, &r.run, stop.as_ref(), &extra).unwrap();
            if pos < scalars_at {
                let first = again.iter().zip(&b).position(|(x, y)| x != y);
                assert!(
                    again == b,
                    "byte {pos} ^ {flip:#04x}: saved back differently from byte {first:?}"
                );
            }
            loaded += 1;
        }
    }
    assert!(loaded > 1000, "{loaded}");
}

// ---------------------------------------------------------------------------------------
// The trainer with early stopping, interrupted and resumed

const D: usize = 3;
type T = Trainer<Mlp, Adam<MlpGrad>, 8>;

/// A two-class problem with label noise, so that validation accuracy stalls and patience
/// ends the run.
fn samples(seed: u64, n: usize) -> Samples<D> {
    let mut rng = Rng::new(seed);
    let x: Vec<[f32; D]> = (0..n)
        .map(|_| [rng.normal(), rng.normal(), rng.normal()])
        .collect();
    let y = x
        .iter()
        .map(|x| u16::from((x[0] + 0.5 * x[1] > 0.0) != (rng.below(5) == 0)))
        .collect();
    Samples { x, y }
}

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 30,
        schedule: LrSchedule {
            base: 0.05,
            schedule: Schedule::Cosine { min_factor: 0.1 },
            warmup_epochs: 1,
        },
        patience: Some(3),
        monitor: None,
        seed: 21,
        progress: false,
        regularization: Regularization::NONE,
    }
}

fn start() -> T {
    let mut net = mlp();
    net.init(Init::HeNormal, &mut Rng::new(22));
    Trainer::new(Box::new(net), Adam::boxed(AdamConfig::with_lr(0.05)), 23)
}

/// What an epoch measured, without the timings.
fn measured(r: &EpochRecord) -> (usize, u32, u32, u32, u32, u32) {
    (
        r.epoch,
        r.lr.to_bits(),
        r.train.loss.to_bits(),
        r.train.accuracy.unwrap().to_bits(),
        r.val.loss.to_bits(),
        r.val.accuracy.unwrap().to_bits(),
    )
}

#[test]
fn an_interrupted_trainer_with_patience_ends_as_the_uninterrupted_one() {
    let (train_set, val) = (samples(24, 96), samples(25, 24));
    let cfg = config();

    let mut a = start();
    let full = a.fit(&train_set, &val, &cfg, |_| {}).unwrap();
    assert!(
        full.stopped_early,
        "patience should end the run: {} epochs",
        full.history.len()
    );
    assert!(full.best_epoch < full.history.len());

    // Interrupted after an epoch that did not improve, so that the best weights are not
    // the current ones.
    let until = (full.best_epoch + 1..full.history.len())
        .next()
        .expect("an epoch after the best one");
    let dir = std::env::temp_dir().join(std::format!(
        "firmnet-format-training-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.fnet");
    let mut b = start();
    let first = b.fit_until(&train_set, &val, &cfg, until, |_| {}).unwrap();
    assert_eq!(first.history.len(), until);
    assert!(!first.stopped_early);
    let best = b.best.as_ref().unwrap();
    assert!(
        best.since >= 1 && best.epoch < until,
        "since {} epoch {}",
        best.since,
        best.epoch
    );
    b.save_checkpoint(&path).unwrap();

    // The checkpoint holds the early-stopping state.
    let bytes = std::fs::read(&path).unwrap();
    let file = File::parse(&bytes).unwrap();
    assert_eq!(
        file.scalar("stop.best_epoch"),
        Some(Value::U64(best.epoch as u64))
    );
    assert_eq!(
        file.scalar("stop.since_best"),
        Some(Value::U64(best.since as u64))
    );
    assert_eq!(file.scalar("run.epoch"), Some(Value::U64(until as u64)));
    assert!(
        file.layers()
            .any(|l| l.tensors().any(|t| t.section == Section::Best))
    );

    // A new process: another network, optimizer and seed, all replaced by the checkpoint.
    let mut c = Trainer::<Mlp, Adam<MlpGrad>, 8>::new(
        Box::new(zoo_zero_mlp()),
        Adam::boxed(AdamConfig::DEFAULT),
        999,
    );
    c.load_checkpoint(&path).unwrap();
    assert_eq!((c.epoch, c.step), (b.epoch, b.step));
    let cb = c.best.as_ref().unwrap();
    assert_eq!(
        (cb.epoch, cb.since, cb.value.to_bits()),
        (best.epoch, best.since, best.value.to_bits())
    );
    assert_same(&*cb.net, &*best.net);
    let rest = c.fit(&train_set, &val, &cfg, |_| {}).unwrap();

    // The same end: weights (the best epoch's), best epoch, stop, history.
    assert_same(&*c.net, &*a.net);
    assert_eq!(rest.best_epoch, full.best_epoch);
    assert_eq!(rest.stopped_early, full.stopped_early);
    let history: Vec<_> = first
        .history
        .iter()
        .chain(&rest.history)
        .map(measured)
        .collect();
    let expected: Vec<_> = full.history.iter().map(measured).collect();
    assert_eq!(history, expected);
    assert_eq!(c.epoch, a.epoch);
    assert_same(
        &*c.best.as_ref().unwrap().net,
        &*a.best.as_ref().unwrap().net,
    );
    assert_same_params(&c.optimizer.m, &a.optimizer.m, "m");

    // A trainer with another optimizer refuses the checkpoint and keeps its state.
    let mut s =
        Trainer::<Mlp, Sgd<MlpGrad>, 8>::new(Box::new(mlp()), Sgd::boxed(SgdConfig::new(0.1)), 5);
    let err = s.load_checkpoint(&path).unwrap_err();
    assert_eq!(
        err.format_error().map(|e| e.code()),
        Some(ErrorCode::Optimizer)
    );
    assert_eq!((s.epoch, s.step), (0, 0));
    assert!(s.best.is_none());
    assert_same(&*s.net, &mlp());
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------
// The writer refuses what the reader refuses, so that every checkpoint it writes loads.

#[test]
fn the_writer_refuses_moments_the_reader_would() {
    let (net, mut adam, ctx) = trained(30);
    let run = run_state(&ctx, 1, 6);
    // A NaN first moment (a diverged step) and a negative second moment.
    adam.m.tensor_mut(0)[3] = f32::NAN;
    let err = format::save_training(&net, &adam, &run, None, &[])
        .map(|b| b.len())
        .unwrap_err();
    assert_eq!(
        (err.code(), err.layer(), err.name(), err.section()),
        (
            ErrorCode::Value,
            Some(0),
            "weight",
            Some(Section::FirstMoment)
        )
    );
    adam.m.tensor_mut(0)[3] = 0.0;
    adam.v.tensor_mut(1)[0] = -1.0;
    let err = format::save_training(&net, &adam, &run, None, &[])
        .map(|b| b.len())
        .unwrap_err();
    assert_eq!(
        (err.code(), err.layer(), err.name(), err.section()),
        (
            ErrorCode::Value,
            Some(0),
            "bias",
            Some(Section::SecondMoment)
        )
    );
}

#[test]
fn the_writer_refuses_settings_the_reader_would() {
    let (net, mut adam, ctx) = trained(31);
    let run = run_state(&ctx, 1, 6);
    for lr in [f32::INFINITY, f32::NEG_INFINITY] {
        adam.config.lr = lr;
        let err = format::save_training(&net, &adam, &run, None, &[])
            .map(|b| b.len())
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidScalar, "lr = {lr}");
    }
    let mut sgd = Sgd::<MlpGrad>::new(SgdConfig::new(0.1));
    sgd.config.momentum = f32::INFINITY;
    let err = format::save_training(&net, &sgd, &run, None, &[])
        .map(|b| b.len())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidScalar);
}
