//! Augmentation keeps labels and shapes, shifts by at most the stated amount, and
//! reaches every shift.

use firmnet::host::augment::Augment;
use firmnet::rng::Rng;

const A: Augment = Augment {
    rows: 4,
    cols: 5,
    max_shift: 2,
    flip: false,
    fill: -1.0,
};

fn image() -> Vec<f32> {
    (0..20).map(|i| i as f32).collect()
}

#[test]
fn shifts_by_hand() {
    let mut out = vec![0.0; 20];
    // One down, two right: row 0 and columns 0-1 are background.
    A.shift(&image(), &mut out, 1, 2, false);
    #[rustfmt::skip]
    let expect = [
        -1.0, -1.0, -1.0, -1.0, -1.0,
        -1.0, -1.0,  0.0,  1.0,  2.0,
        -1.0, -1.0,  5.0,  6.0,  7.0,
        -1.0, -1.0, 10.0, 11.0, 12.0,
    ];
    assert_eq!(out, expect);
    // Mirrored, then one up.
    A.shift(&image(), &mut out, -1, 0, true);
    #[rustfmt::skip]
    let expect = [
         9.0,  8.0,  7.0,  6.0,  5.0,
        14.0, 13.0, 12.0, 11.0, 10.0,
        19.0, 18.0, 17.0, 16.0, 15.0,
        -1.0, -1.0, -1.0, -1.0, -1.0,
    ];
    assert_eq!(out, expect);
    A.shift(&image(), &mut out, 0, 0, false);
    assert_eq!(out, image());
}

#[test]
fn random_variants_cover_all_25_shifts_and_nothing_else() {
    let mut rng = Rng::new(1);
    let mut seen = std::collections::HashSet::new();
    let mut out = vec![0.0; 20];
    // A single bright pixel at (1, 2) reveals the shift of each variant.
    let mut probe = vec![0.0; 20];
    probe[7] = 1.0;
    let a = Augment { fill: 0.0, ..A };
    for _ in 0..2000 {
        a.apply(&probe, &mut out, &mut rng);
        assert_eq!(out.len(), 20);
        if let Some(at) = out.iter().position(|&v| v == 1.0) {
            let (dy, dx) = ((at / 5) as isize - 1, (at % 5) as isize - 2);
            assert!(dy.abs() <= 2 && dx.abs() <= 2, "shift ({dy}, {dx})");
            seen.insert((dy, dx));
        }
    }
    // Shifts that keep the pixel inside the 4×5 image: dy ∈ −1..=2, dx ∈ −2..=2.
    assert_eq!(seen.len(), 4 * 5);
}
