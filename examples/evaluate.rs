//! Loads a trained `FashionMlp` from a weight file and evaluates it on the test set, fed raw
//! pixel values 0–255 (the main job saves its network with the normalization folded in).
//!
//! ```sh
//! cargo run --release --features std --example evaluate -- [--model out/fashion_mnist/model.fnet] [--data DIR]
//! ```
//!
//! The file is checked before anything is loaded: a damaged file, one written for another
//! network, or one from a newer format version is refused with a message that says why
//! (for a shape mismatch: the layer, the shape in the file and the shape expected).

use std::path::PathBuf;
use std::process::ExitCode;

use firmnet::format;
use firmnet::host::{Dataset, FASHION_MNIST_DIR, Samples, evaluate};
use firmnet::models::FASHION_MLP;

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut model = PathBuf::from("out/fashion_mnist/model.fnet");
    let mut data = PathBuf::from(FASHION_MNIST_DIR);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--model" => model = value.into(),
            "--data" => data = value.into(),
            other => {
                return Err(
                    format!("unknown argument {other:?}; use --model FILE, --data DIR").into(),
                );
            }
        }
    }
    let mut net = firmnet::boxed!(FASHION_MLP);
    format::load_file(&model, &mut *net)?;
    let dataset = Dataset::load_mnist_dir(&data, 10)?;
    // The main job folds the input normalization into the saved network's first layer,
    // so the network takes raw pixel values.
    let test = Samples::<784>::raw_from_split(&dataset.test, "test images")?;
    let result = evaluate(&*net, &test);
    println!(
        "{}: test accuracy {:.4}, test loss {:.4} on {} samples",
        model.display(),
        result.accuracy,
        result.loss,
        test.len()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
