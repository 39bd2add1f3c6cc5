//! Arbitrary bytes through every reader of the FNET format: `File::parse` and its
//! iterators, the float loader for `FashionMlp`, and the int8 loader and zero-copy view
//! for `FashionMlpQ` (and a tiny int8 network, so that small inputs reach deep checks).
//! None may panic, and a refused load must leave the network untouched.
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
    if format::load_qnet(data, &mut tiny).is_err() {
        assert!(tiny == before, "a refused load changed the network");
    }
    if let Ok(view) = format::qnet_ref::<TinyRef<'_>>(data) {
        use firmnet::quant::QLayer;
        let mut y = [0i8; 2];
        let mut scratch = firmnet::tensor::Zero::ZERO;
        view.forward(&[1, -2, 3], &mut y, &mut scratch);
    }
});
