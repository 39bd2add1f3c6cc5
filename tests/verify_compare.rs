//! How `cargo run --release --features std --example verify` reads the firmware's output: every damage a
//! run could show — a changed, missing, repeated or short line, a wrong digest, a NaN —
//! must count as a mismatch, and clean output as none.

#[path = "../examples/verify/compare.rs"]
mod compare;
use firmnet_demo::fashion;

use compare::{
    HostInt8, Values, compare_float, compare_int8, compare_learning, compare_learning_within,
    parse_summary,
};

fn host() -> HostInt8 {
    HostInt8 {
        logits: vec![
            [1, -2, 3, -4, 5, -6, 7, -8, 9, -10],
            [0; 10],
            [127, -128, 0, 0, 0, 0, 0, 0, 0, 1],
        ],
        outcome: fashion::Outcome {
            images: 3,
            correct: 2,
            digest: 0x1234_abcd,
        },
    }
}

/// The output a correct firmware prints for [`host`].
fn clean() -> String {
    let mut out = String::new();
    for (i, l) in host().logits.iter().enumerate() {
        let values: Vec<String> = l.iter().map(|v| v.to_string()).collect();
        out += &format!("logits {i} {}\n", values.join(" "));
    }
    out + "accuracy 2 3\ndigest 0x1234abcd\nstack 1544\ndone\n"
}

fn int8_mismatches(out: &str) -> usize {
    let mut tally = compare::Tally::default();
    compare_int8("test", out, &host(), &mut tally).map_or(usize::MAX, |_| tally.mismatches)
}

#[test]
fn clean_int8_output_matches_and_every_damage_is_caught() {
    let out = clean();
    let mut tally = compare::Tally::default();
    assert_eq!(
        compare_int8("test", &out, &host(), &mut tally).unwrap(),
        1544
    );
    assert_eq!((tally.mismatches, tally.compared), (0, 32));

    let changed = out.replace("logits 1 0 0", "logits 1 0 1");
    let missing: String = out
        .lines()
        .filter(|l| !l.starts_with("logits 2"))
        .map(|l| l.to_string() + "\n")
        .collect();
    let repeated = out.replace("logits 2", "logits 0 1 -2 3 -4 5 -6 7 -8 9 -10\nlogits 2");
    let short = out.replace(" 9 -10\n", " 9\n");
    let long = out.replace(" 9 -10\n", " 9 -10 0\n");
    let digest = out.replace("0x1234abcd", "0x1234abce");
    let accuracy = out.replace("accuracy 2 3", "accuracy 3 3");
    for (what, damaged) in [
        ("a changed logit", &changed),
        ("a missing image", &missing),
        ("a repeated image", &repeated),
        ("nine logits", &short),
        ("eleven logits", &long),
        ("another digest", &digest),
        ("another accuracy", &accuracy),
    ] {
        assert_ne!(damaged, &out, "{what}: the damage did not apply");
        let n = int8_mismatches(damaged);
        assert!(n >= 1, "{what} was not caught");
    }
    // Without its summary the output is refused outright.
    let no_digest: String = out
        .lines()
        .filter(|l| !l.starts_with("digest"))
        .map(|l| l.to_string() + "\n")
        .collect();
    assert!(parse_summary(&no_digest).is_err());
    assert_eq!(int8_mismatches(&no_digest), usize::MAX);
}

#[test]
fn float_logits_must_be_bit_for_bit() {
    let host = vec![[1.0f32, -2.5, 1e-7, 0.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]; 2];
    let line = |i: usize, v: &[f32]| {
        let w: Vec<String> = v.iter().map(|x| format!("{:#010x}", x.to_bits())).collect();
        format!("logits {i} {}\n", w.join(" "))
    };
    let exact = line(0, &host[0]) + &line(1, &host[1]);
    let (t, worst, identical) = compare_float(&exact, &host).unwrap();
    assert_eq!(
        (t.mismatches, t.compared, identical, worst),
        (0, 20, 20, 0.0)
    );

    for (what, out) in [
        ("one bit off", {
            let mut near = host[1];
            near[0] = f32::from_bits(near[0].to_bits() + 1);
            line(0, &host[0]) + &line(1, &near)
        }),
        ("a negative zero", {
            let mut neg = host[1];
            neg[3] = -0.0;
            line(0, &host[0]) + &line(1, &neg)
        }),
        ("too far", {
            let mut far = host[1];
            far[4] = 3.001;
            line(0, &host[0]) + &line(1, &far)
        }),
        ("NaN", {
            let mut nan = host[1];
            nan[2] = f32::NAN;
            line(0, &host[0]) + &line(1, &nan)
        }),
        ("a missing image", line(0, &host[0])),
        (
            "a repeated image",
            line(0, &host[0]) + &line(0, &host[0]) + &line(1, &host[1]),
        ),
        ("nine values", line(0, &host[0]) + &line(1, &host[1][..9])),
    ] {
        let (t, _, _) = compare_float(&out, &host).unwrap();
        assert!(t.mismatches >= 1, "{what} was not caught");
    }
}

#[test]
fn learning_values_must_all_be_there_and_close() {
    let mut host = Values::new();
    host.insert(("loss".into(), 0), 2.0);
    host.insert(("accuracy".into(), 1), 0.5);
    let line = |l: &str, i: usize, v: f32| format!("{l} {i} {:#010x} {v}\n", v.to_bits());
    let good = line("loss", 0, 2.0) + &line("accuracy", 1, 0.5) + "stack 100\ndone\n";
    assert_eq!(compare_learning(&good, &host).unwrap().0.mismatches, 0);
    for (what, out) in [
        (
            "a value off by 1e-3",
            line("loss", 0, 2.002) + &line("accuracy", 1, 0.5),
        ),
        ("a missing value", line("loss", 0, 2.0)),
        ("an extra value", good.clone() + &line("loss", 1, 1.0)),
        ("NaN", line("loss", 0, f32::NAN) + &line("accuracy", 1, 0.5)),
    ] {
        let (t, _) = compare_learning(&out, &host).unwrap();
        assert!(t.mismatches >= 1, "{what} was not caught");
    }
    // Bit for bit (the CNN's check): one step of the last bit is a mismatch, which the
    // tolerance lets through.
    let next = f32::from_bits(2.0f32.to_bits() + 1);
    let close = line("loss", 0, next) + &line("accuracy", 1, 0.5);
    assert_eq!(compare_learning(&close, &host).unwrap().0.mismatches, 0);
    let (t, worst) = compare_learning_within(&close, &host, 0.0).unwrap();
    assert_eq!(t.mismatches, 1);
    assert!(worst > 0.0);
    assert_eq!(
        compare_learning_within(&good, &host, 0.0)
            .unwrap()
            .0
            .mismatches,
        0
    );
}
