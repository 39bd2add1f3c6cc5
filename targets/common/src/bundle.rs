//! For the firmware crates' build scripts (`firmnet-demo` with feature `build` as a
//! build-dependency): finds the deployment bundle that `cargo run --release --example
//! verify` writes, for firmware built with `--features deploy`. Its `model.rs` names the
//! float network whose int8 twin it holds (`pub type Model = firmnet::models::FashionCnn;`),
//! which the firmware `include!`s.
//!
//! The bundle is the folder named by `FIRMNET_DEPLOY_DIR`, or else the one `verify` writes
//! for the crate's target: `out/deploy/` at the repository root for the Cortex-M4F,
//! `out/deploy/cortex-m0/` and `out/deploy/riscv32/` for the others (fewer images where
//! flash is small). Its absolute path reaches the code as `env!("FIRMNET_DEPLOY_DIR")`, for
//! `include_bytes!`. A missing file stops the build with what to run.

use std::path::PathBuf;
use std::{env, eprintln, format, println, process};

/// Does nothing without `--features deploy`; otherwise checks that every one of `files` is
/// in the bundle (by default `out/deploy/<subfolder>`), tells cargo to rebuild when one
/// changes, and exports the folder.
pub fn find(subfolder: &str, files: &[&str]) {
    find_for("deploy", subfolder, files);
}

/// [`find`] for the firmware that cargo feature `feature` builds (`"deploy"` for
/// [`find`]): does nothing without it. Firmware built with two such features at once gets
/// one bundle folder, which must hold the files of both.
pub fn find_for(feature: &str, subfolder: &str, files: &[&str]) {
    find_written_by(
        feature,
        &format!("out/deploy/{subfolder}"),
        files,
        "Write it with `cargo run --release --example verify` at the repository root \
         (the CNN; `-- --model mlp` for the MLP; it trains the network first if the \
         main job's output is missing)",
    );
}

/// [`find_for`] with the bundle by default in `folder` (relative to the repository root)
/// and `write_it` (`Write it with …`) telling how to make a missing file.
pub fn find_written_by(feature: &str, folder: &str, files: &[&str], write_it: &str) {
    println!("cargo:rerun-if-env-changed=FIRMNET_DEPLOY_DIR");
    let var = format!(
        "CARGO_FEATURE_{}",
        feature.to_ascii_uppercase().replace('-', "_")
    );
    if env::var_os(var).is_none() {
        return;
    }
    let dir = match env::var_os("FIRMNET_DEPLOY_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"))
                .join("../..");
            root.canonicalize().unwrap_or(root).join(folder)
        }
    };
    for name in files {
        let file = dir.join(name);
        if !file.is_file() {
            eprintln!(
                "error: the deployment bundle has no {}.\n\
                 {write_it}, or point FIRMNET_DEPLOY_DIR at a folder holding {}.",
                file.display(),
                files.join(", ")
            );
            process::exit(1);
        }
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let dir = dir.canonicalize().unwrap_or(dir);
    println!("cargo:rustc-env=FIRMNET_DEPLOY_DIR={}", dir.display());
}
