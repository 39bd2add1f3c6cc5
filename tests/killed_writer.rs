//! A run killed while saving its pair of files never leaves a new `model.fnet` beside an old
//! `model_int8.fnet` that both load: this program starts a copy of itself that saves pairs
//! of Fashion-MNIST-sized networks in a loop (`format::save_pair`, alternating two
//! networks), kills it with SIGKILL at a random moment, and checks what is on disk — many
//! times. Whenever both files are there and both are whole, the int8 file must record the
//! float file's checksum (`format::check_source`). The temporary files a killed writer
//! leaves are removed by the next save.
//!
//! A test without the test harness (`harness = false` in Cargo.toml): `main` is the test,
//! and `main child DIR` is the writer it kills.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use firmnet::format;
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::prelude::*;
use firmnet::quant::Int8;

/// How many times the writer is killed.
const KILLS: usize = 40;

fn networks(seed: u64) -> (Box<FashionMlp>, Box<Int8<FashionMlp>>) {
    let mut net = firmnet::boxed!(FASHION_MLP);
    net.init(Init::HeNormal, &mut Rng::new(seed));
    let mut rng = Rng::new(seed + 1);
    let samples: Vec<[f32; 784]> = (0..32)
        .map(|_| core::array::from_fn(|_| rng.uniform(0.0, 255.0)))
        .collect();
    let int8 = firmnet::host::quantize(&*net, &samples, firmnet::host::RangeMethod::MinMax)
        .expect("quantize");
    (net, int8)
}

/// The writer: saves the two pairs in turn until it is killed.
fn child(dir: &Path) -> ! {
    let pairs = [networks(1), networks(2)];
    let (float, int8) = (dir.join("model.fnet"), dir.join("model_int8.fnet"));
    println!("ready");
    for i in 0.. {
        let (f, q) = &pairs[i % 2];
        format::save_pair(&float, &**f, &int8, &**q).expect("save_pair");
    }
    unreachable!()
}

/// What a killed writer left.
#[derive(Debug, Default)]
struct Seen {
    pair: usize,
    float_only: usize,
    other: usize,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, dir] = args.as_slice()
        && mode == "child"
    {
        child(Path::new(dir));
    }
    // `cargo test` passes harness flags (`--nocapture`, filters …): a filter that does not
    // name this test skips it, as the harness would.
    if args
        .iter()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"killed_writer".contains(a.as_str()))
    {
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(seen) => {
            println!("killed_writer: {KILLS} kills: {seen:?}: ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("killed_writer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<Seen, String> {
    let dir: PathBuf = std::env::temp_dir().join(format!("firmnet-killed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut rng = Rng::new(7);
    let mut seen = Seen::default();
    for kill in 0..KILLS {
        let mut writer = Command::new(&me)
            .arg("child")
            .arg(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the writer: {e}"))?;
        // Wait until it has built its networks, then let it write for a random while.
        let mut ready = [0u8; 6];
        use std::io::Read;
        writer
            .stdout
            .as_mut()
            .ok_or("no stdout")?
            .read_exact(&mut ready)
            .map_err(|e| format!("the writer did not start: {e}"))?;
        std::thread::sleep(Duration::from_micros(rng.uniform(0.0, 60_000.0) as u64));
        writer.kill().map_err(|e| e.to_string())?;
        let _ = writer.wait();

        let float = std::fs::read(dir.join("model.fnet")).ok();
        let int8 = std::fs::read(dir.join("model_int8.fnet")).ok();
        let whole =
            |b: &Option<Vec<u8>>| b.as_ref().is_some_and(|b| format::File::parse(b).is_ok());
        match (&float, &int8) {
            (Some(f), Some(q)) if whole(&float) && whole(&int8) => {
                format::check_source(f, q).map_err(|e| {
                    format!("kill {kill}: both files load but do not belong together: {e}")
                })?;
                seen.pair += 1;
            }
            (Some(_), None) if whole(&float) => seen.float_only += 1,
            (None, None) => seen.other += 1, // killed before the first save ended
            _ => {
                return Err(format!(
                    "kill {kill}: a file was left damaged (float {:?} bytes, int8 {:?} bytes)",
                    float.as_ref().map(Vec::len),
                    int8.as_ref().map(Vec::len)
                ));
            }
        }
    }
    // The next save removes what the killed writers left half-written.
    let (f, q) = networks(3);
    format::save_pair(
        dir.join("model.fnet"),
        &*f,
        dir.join("model_int8.fnet"),
        &*q,
    )
    .map_err(|e| e.to_string())?;
    let left: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    if !left.is_empty() {
        return Err(format!(
            "temporary files remain after the next save: {left:?}"
        ));
    }
    if seen.pair == 0 || seen.float_only == 0 {
        return Err(format!(
            "the kills did not land both between and after the two files ({seen:?}): \
             the test proves nothing; adjust the delays"
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(seen)
}
