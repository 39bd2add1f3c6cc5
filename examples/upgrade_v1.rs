//! Converts the main job's version 1 weight files to version 2, in place.
//!
//! ```sh
//! cargo run --release --features std --example upgrade_v1 -- out/fashion_mnist/model.fnet out/fashion_mnist/model_int8.fnet
//! ```
//!
//! Each file is read as the Fashion-MNIST network (`firmnet::models::FashionMlp`): as the
//! float network, or else as its int8 twin (`Int8<FashionMlp>`). The converted file replaces
//! the original, which is kept beside it as `FILE.v1`; a file that already has a `.v1`
//! copy is left alone, so the command can be run twice. Given a float file and then an
//! int8 file, the int8 file records the converted float file's checksum, so the two pass
//! `format::check_source` as a pair, as the main job writes them.
//!
//! Version 1 stored no attributes: batch normalization's ε and momentum and the dropout
//! rates are taken from `FASHION_MLP`, the values the main job trains with. For a network
//! of your own, call `firmnet::format::v1::upgrade` with your network's type.
//!
//! Ends with `UPGRADED n` (the number of files converted); exits with status 1 if any file
//! could not be.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use firmnet::format::{self, ErrorCode};
use firmnet::models::{FASHION_MLP, FashionMlp};
use firmnet::quant::Int8;

type BoxError = Box<dyn std::error::Error>;

/// What a file held.
enum Upgraded {
    Float(u32),
    Int8,
    AlreadyVersion2,
}

fn main() -> ExitCode {
    let files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        eprintln!("usage: cargo run --release --features std --example upgrade_v1 -- FILE...");
        return ExitCode::FAILURE;
    }
    let (mut upgraded, mut failed) = (0, 0);
    let mut source = None; // the checksum of the float file converted last
    for file in &files {
        match upgrade(file, source) {
            Ok(Upgraded::Float(digest)) => {
                println!("{}: float network, converted to version 2", file.display());
                source = Some(digest);
                upgraded += 1;
            }
            Ok(Upgraded::Int8) => {
                let with = if source.is_some() {
                    ", made from the float file above"
                } else {
                    ""
                };
                println!(
                    "{}: int8 network, converted to version 2{with}",
                    file.display()
                );
                upgraded += 1;
            }
            Ok(Upgraded::AlreadyVersion2) => println!("{}: already version 2", file.display()),
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                failed += 1;
            }
        }
    }
    println!("UPGRADED {upgraded}");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Converts `file` in place (the original kept as `FILE.v1`); an int8 file records
/// `source` as the float file it was made from.
fn upgrade(file: &Path, source: Option<u32>) -> Result<Upgraded, BoxError> {
    let bytes = format::read(file)?;
    match format::File::parse(&bytes) {
        Ok(_) => return Ok(Upgraded::AlreadyVersion2),
        Err(e) if e.code() == ErrorCode::Version1 => {}
        Err(e) => return Err(e.into()),
    }
    let mut backup = file.as_os_str().to_owned();
    backup.push(".v1");
    let backup = PathBuf::from(backup);
    if backup.exists() {
        return Err(format!(
            "{} exists: remove it to convert this file again",
            backup.display()
        )
        .into());
    }

    let mut float = firmnet::boxed!(FASHION_MLP);
    let (converted, what) = match format::v1::upgrade(&bytes, &mut *float) {
        Ok(()) => {
            let converted = format::save(&*float)?;
            let digest = format::File::parse(&converted)?.checksum();
            (converted, Upgraded::Float(digest))
        }
        Err(float_error) => {
            let mut int8: Box<Int8<FashionMlp>> = firmnet::boxed::zero();
            format::v1::upgrade(&bytes, &mut *int8).map_err(|int8_error| {
                format!(
                    "not the Fashion-MNIST network: as the float network, {float_error}; \
                     as its int8 twin, {int8_error}"
                )
            })?;
            let converted = match source {
                Some(digest) => format::save_with_source(&*int8, digest)?,
                None => format::save(&*int8)?,
            };
            (converted, Upgraded::Int8)
        }
    };
    std::fs::rename(file, &backup)?;
    format::write_atomic(file, &converted)?;
    Ok(what)
}
