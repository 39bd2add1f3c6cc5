//! Arbitrary bytes through every reader of the weight file (version 2): `File::parse` and
//! its iterators, `load` into float networks (`FashionMlp` and a small MLP), int8 networks
//! (`Int8<FashionMlp>` and a small network of `qdense` and `qlut` layers), `load_training`
//! into the small MLP with Adam and early stopping, the zero-copy `view`, and the version 1
//! converter.
//!
//! None may panic; a refused load must leave its network (and optimizer, and best
//! weights) untouched; an accepted one must hold values the writer accepts, which load
//! back the same; the view must agree with the loader — on 4-aligned bytes it accepts
//! exactly what the loader accepts, with the same error otherwise, and computes the same
//! outputs — and refuse misaligned bytes of a valid file as `Unborrowable`.
//!
//! Seeds: `fuzz/corpus/readers/` (written by the test `fuzz_seeds_are_valid_version_2_files`
//! in `tests/format_int8.rs`). Run with
//! `cargo +nightly fuzz run readers /tmp/readers_corpus fuzz/corpus/readers`, so that
//! new inputs go to the first directory and the seeds stay as they are.
#![no_main]

use std::sync::Mutex;

use firmnet::format::{self, ErrorCode, File, FormatError};
use firmnet::layers::{BatchNorm, Dense, Dropout, Layer, Relu};
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::net::{Infer, Scratch};
use firmnet::optim::{Adam, AdamConfig};
use firmnet::quant::{Borrowed, Int8, QDense, QLut};
use firmnet::spec::Describe;
use firmnet::tensor::Zero;
use firmnet::{Net, net};
use libfuzzer_sys::fuzz_target;

type Mlp = Net![
    Dense<3, 4>,
    BatchNorm<4>,
    Relu<[f32; 4]>,
    Dropout<[f32; 4]>,
    Dense<4, 2>
];
type MlpGrad = <Mlp as Layer>::Grad;
type TinyQ = Net![QDense<3, 4>, QLut<[i8; 4]>, QDense<4, 2>];
type TinyQView<'a> = Net![
    QDense<3, 4, Borrowed<'a>>,
    QLut<[i8; 4], Borrowed<'a>>,
    QDense<4, 2, Borrowed<'a>>
];
type FashionQ = Int8<FashionMlp>;
type FashionQView<'a> = Int8<FashionMlp, Borrowed<'a>>;

fn mlp() -> Mlp {
    net![
        Dense::ZERO,
        BatchNorm::DEFAULT,
        Relu::DEFAULT,
        Dropout::new(0.25),
        Dense::ZERO
    ]
}

/// The big networks live across runs: building them per input would dominate the time.
static FLOAT: Mutex<Option<Box<FashionMlp>>> = Mutex::new(None);
static INT8: Mutex<Option<Box<FashionQ>>> = Mutex::new(None);

/// The saved bytes of a network the loader accepted: the writer must accept it too, and
/// the bytes must load back the same network.
fn saved<N: Infer + Describe>(net: &N) -> Vec<u8> {
    let n = format::len(net).expect("the writer refuses a network the loader accepted");
    let mut out = vec![0u8; n];
    assert_eq!(format::write(net, &mut out), Ok(n));
    out
}

/// `data` at a 4-aligned address, and 1 byte past one.
fn placed(data: &[u8], shift: usize) -> Vec<u32> {
    let mut words = vec![0u32; data.len() / 4 + 2];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    bytes[shift..shift + data.len()].copy_from_slice(data);
    words
}

fn at(words: &[u32], shift: usize, len: usize) -> &[u8] {
    &bytemuck::cast_slice::<u32, u8>(words)[shift..shift + len]
}

fn outputs<N: Infer<Input = [i8; IN]>, const IN: usize>(net: &N) -> Vec<N::Output> {
    let mut scratch = Box::new(Scratch::<N>::ZERO);
    [
        [0i8; IN],
        [i8::MIN; IN],
        [i8::MAX; IN],
        core::array::from_fn(|i| (i as i8).wrapping_mul(37)),
    ]
    .iter()
    .map(|x| {
        let mut y = N::Output::ZERO;
        net.forward(x, &mut y, &mut scratch);
        y
    })
    .collect()
}

fn message(e: &FormatError) {
    let _ = e.to_string();
    let mut n = 0;
    e.describe(&mut |b| n += b.len());
    assert!(n > 0);
}

fuzz_target!(|data: &[u8]| {
    check(data);
    // The same bytes with the length and the checksum repaired, so that mutations reach
    // the records and the semantic checks rather than stop at the checksum.
    if data.len() >= 36 && data.starts_with(b"FNET") {
        let mut fixed = data.to_vec();
        let n = fixed.len();
        fixed[8..12].copy_from_slice(&(n as u32).to_le_bytes());
        let crc = format::crc32(&fixed[..n - 4]);
        fixed[n - 4..].copy_from_slice(&crc.to_le_bytes());
        check(&fixed);
    }
});

fn check(data: &[u8]) {
    if let Ok(file) = File::parse(data) {
        let _ = (
            file.kind(),
            file.optimizer(),
            file.source(),
            file.checksum(),
            file.len(),
        );
        for l in file.layers() {
            let _ = (l.index, l.kind, l.input, l.output);
            for a in l.attrs() {
                let _ = (a.name, a.value.bits());
            }
            for t in l.tensors() {
                let _ = t.f32s().map(|v| v.count());
                let _ = t.i8s().map(|v| v.count());
                let _ = t.i32s().map(|v| v.count());
                assert!(t.offset % 4 == 0 && t.offset + t.data.len() <= data.len());
            }
        }
        for s in file.scalars() {
            assert!(file.scalar(s.name).is_some());
        }
    }

    // Float networks.
    {
        let mut guard = FLOAT.lock().unwrap();
        let net = guard.get_or_insert_with(|| Box::new(FASHION_MLP));
        match format::load(data, &mut **net) {
            Ok(()) => {
                let _ = saved(&**net);
            }
            Err(e) => message(&e),
        }
    }
    let mut small = mlp();
    match format::load(data, &mut small) {
        Ok(()) => {
            let bytes = saved(&small);
            let mut again = mlp();
            format::load(&bytes, &mut again).unwrap();
            assert!(
                again == small,
                "a loaded network does not load back the same"
            );
        }
        Err(e) => {
            message(&e);
            assert!(small == mlp(), "a refused load changed the network");
        }
    }

    // A training checkpoint.
    let (mut net, mut best) = (mlp(), mlp());
    let mut adam = Adam::<MlpGrad>::new(AdamConfig::DEFAULT);
    if let Err(e) = format::load_training(data, &mut net, &mut adam, Some(&mut best)) {
        message(&e);
        assert!(
            net == mlp() && best == mlp(),
            "a refused load changed the network"
        );
        assert!(
            adam.t == 0 && adam.config == AdamConfig::DEFAULT,
            "a refused load changed Adam"
        );
    }

    // Int8 networks: the loader and the view agree.
    let mut tiny: TinyQ = Zero::ZERO;
    let loaded = format::load(data, &mut tiny);
    match &loaded {
        Ok(()) => {
            let _ = saved(&tiny);
        }
        Err(e) => {
            message(e);
            assert!(tiny == TinyQ::ZERO, "a refused load changed the network");
        }
    }
    let words = placed(data, 0);
    match (
        format::view::<TinyQView<'_>>(at(&words, 0, data.len())),
        &loaded,
    ) {
        (Ok(view), Ok(())) => assert_eq!(outputs(&view), outputs(&tiny), "view and loader differ"),
        (Err(v), Err(l)) => assert_eq!(&v, l, "view and loader refuse differently"),
        (view, load) => panic!(
            "the view and the loader disagree: view {:?}, loader {:?}",
            view.err(),
            load
        ),
    }
    let shifted = placed(data, 1);
    match format::view::<TinyQView<'_>>(at(&shifted, 1, data.len())) {
        Ok(_) => panic!("a view of misaligned bytes was accepted"),
        Err(e) if loaded.is_ok() => assert_eq!(e.code(), ErrorCode::Unborrowable, "{e}"),
        Err(_) => {}
    }

    {
        let mut guard = INT8.lock().unwrap();
        let net = guard.get_or_insert_with(|| Box::new(Zero::ZERO));
        let loaded = format::load(data, &mut **net);
        let viewed = format::view::<FashionQView<'_>>(at(&words, 0, data.len()));
        match (viewed, &loaded) {
            (Ok(view), Ok(())) => {
                assert_eq!(outputs(&view), outputs(&**net), "view and loader differ");
            }
            (Err(v), Err(l)) => assert_eq!(&v, l, "view and loader refuse differently"),
            (view, load) => panic!(
                "the view and the loader disagree: view {:?}, loader {:?}",
                view.err(),
                load
            ),
        }
    }

    // The version 1 converter.
    let mut small = mlp();
    if format::v1::upgrade(data, &mut small).is_err() {
        assert!(small == mlp(), "a refused upgrade changed the network");
    }
    let mut q: Net![QDense<3, 4>, QDense<4, 2>] = Zero::ZERO;
    let _ = format::v1::upgrade(data, &mut q);
}
