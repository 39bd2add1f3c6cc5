//! Arbitrary bytes through every reader of the FNET format: `File::parse` and its
//! iterators, the float loader for `FashionMlp`, and the int8 loader and zero-copy view
//! for `FashionMlpQ` (and a tiny int8 network, so that small inputs reach deep checks).
//! None may panic, a refused load must leave the network untouched, and the zero-copy view
//! must agree with the loader: it accepts 4-aligned bytes exactly when the loader accepts
//! them, computes the same outputs, and refuses misaligned bytes as `Unborrowable`.
#![no_main]

use std::sync::Mutex;

use firmnet::format::{self, File, QDenseRef};
use firmnet::models::{FASHION_MLP, FASHION_MLP_Q, FashionMlp, FashionMlpQ};
use firmnet::quant::QDense;
use firmnet::{QNet, qnet};
use libfuzzer_sys::fuzz_target;

type Tiny = QNet![QDense<3, 4>, QDense<4, 2>];
type TinyRef<'a> = QNet![QDenseRef<'a, 3, 4>, QDenseRef<'a, 4, 2>];
type FashionRef<'a> = QNet![
    QDenseRef<'a, 784, 256>,
    QDenseRef<'a, 256, 128>,
    QDenseRef<'a, 128, 10>
];

/// The big networks live across runs: building them per input would dominate the time.
static FLOAT: Mutex<Option<Box<FashionMlp>>> = Mutex::new(None);
static INT8: Mutex<Option<Box<FashionMlpQ>>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = File::parse(data) {
        for l in file.layers() {
            let _ = (l.kind, l.inputs, l.outputs);
        }
        for s in file.scalars() {
            let _ = file.scalar(s.name);
        }
        for t in file.tensors() {
            let _ = t.f32s().map(|v| v.count());
            let _ = t.i8s().map(|v| v.count());
            let _ = t.i32s().map(|v| v.count());
            let _ = t.f32_at(0);
        }
    }

    {
        let mut guard = FLOAT.lock().unwrap();
        let net = guard.get_or_insert_with(|| Box::new(FASHION_MLP));
        if let Err(e) = format::load_params(data, &mut **net) {
            let _ = e.to_string();
        }
    }

    {
        let mut guard = INT8.lock().unwrap();
        let net = guard.get_or_insert_with(|| Box::new(FASHION_MLP_Q));
        let before = net.clone();
        match format::load_qnet(data, &mut **net) {
            Ok(()) => {}
            Err(e) => {
                let _ = e.to_string();
                assert!(**net == *before, "a refused load changed the network");
            }
        }
    }
    let _ = format::qnet_ref::<FashionRef<'_>>(data);

    let mut tiny: Tiny = qnet![QDense::ZERO, QDense::ZERO];
    let before = tiny.clone();
    let loaded = format::load_qnet(data, &mut tiny);
    if loaded.is_err() {
        assert!(tiny == before, "a refused load changed the network");
    }
    // The same bytes at a 4-aligned address, and one byte past it.
    let mut words = vec![0u32; data.len() / 4 + 2];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
    bytes[..data.len()].copy_from_slice(data);
    let aligned = &bytes[..data.len()];
    match (format::qnet_ref::<TinyRef<'_>>(aligned), &loaded) {
        (Ok(view), Ok(())) => {
            use firmnet::quant::QLayer;
            for x in [[1, -2, 3], [-128, 127, 0], [0, 0, 0]] {
                let (mut y, mut z) = ([0i8; 2], [0i8; 2]);
                let (mut s, mut t) = (firmnet::tensor::Zero::ZERO, firmnet::tensor::Zero::ZERO);
                view.forward(&x, &mut y, &mut s);
                tiny.forward(&x, &mut z, &mut t);
                assert_eq!(y, z, "the view and the loaded network differ");
            }
        }
        (Err(_), Err(_)) => {}
        (view, load) => panic!(
            "the view and the loader disagree: view {:?}, loader {:?}",
            view.err(),
            load
        ),
    }
    let mut shifted = vec![0u32; data.len() / 4 + 2];
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut shifted);
    bytes[1..=data.len()].copy_from_slice(data);
    match format::qnet_ref::<TinyRef<'_>>(&bytes[1..=data.len()]) {
        Ok(_) => panic!("a view of misaligned bytes was accepted"),
        Err(e) if loaded.is_ok() => assert!(
            matches!(e, format::FormatError::Unborrowable { .. }),
            "misaligned bytes of a valid file: {e}"
        ),
        Err(_) => {}
    }
});
