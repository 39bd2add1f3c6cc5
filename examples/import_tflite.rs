//! A TensorFlow Lite int8 model as a firmnet network: its type and its values as Rust
//! source, ready for a firmware to `include!`.
//!
//! ```sh
//! cargo run --release --features tflite --example import_tflite -- MODEL.tflite NAME [--out DIR]
//! ```
//!
//! It prints the layers the model becomes (with the TensorFlow Lite operator each computes)
//! and writes `DIR/NAME.rs` (default `out/import/`), in snake case, holding
//! - `pub type NAME<S = firmnet::quant::Owned> = firmnet::Net![…];`, the network's type, and
//! - `pub static NAME_UPPER: NAME = …;`, its values, every array written out,
//!
//! so that a firmware has the network in flash with `include!("name.rs")`, and the compiler
//! checks every size. A weight file instead (for a network read or viewed at run time) is
//! `firmnet::format::save` of `Lowered::network::<NAME>()` in a program that includes the
//! type. A model the importer does not take fails with the operator's index, kind and what
//! is wrong with it.

use std::path::PathBuf;
use std::process::ExitCode;

use firmnet::host::tflite::{LayerValues, Node, TfliteModel};

fn usage() -> ExitCode {
    eprintln!("usage: import_tflite MODEL.tflite NAME [--out DIR]");
    ExitCode::from(2)
}

/// `KeywordSpotter` → `keyword_spotter`.
fn snake(name: &str) -> String {
    let mut s = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            s.push('_');
        }
        s.extend(c.to_lowercase());
    }
    s
}

fn print_layers(nodes: &[Node], depth: usize) {
    let line = |l: &LayerValues| {
        println!(
            "{:indent$}{:<20} operator {:>3}  {} -> {}{}",
            "",
            l.kind,
            l.operator,
            l.input,
            l.output,
            if l.macs > 0 {
                format!("  {} MACs", l.macs)
            } else {
                String::new()
            },
            indent = 2 * depth
        );
    };
    for node in nodes {
        match node {
            Node::Layer(l) => line(l),
            Node::Block {
                body,
                shortcut,
                add,
            } => {
                println!("{:indent$}residual block: body", "", indent = 2 * depth);
                print_layers(body, depth + 1);
                if shortcut.is_empty() {
                    println!("{:indent$}shortcut: identity", "", indent = 2 * depth);
                } else {
                    println!("{:indent$}shortcut", "", indent = 2 * depth);
                    print_layers(shortcut, depth + 1);
                }
                line(add);
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = PathBuf::from("out/import");
    let mut positional = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => match it.next() {
                Some(d) => out = PathBuf::from(d),
                None => return usage(),
            },
            _ => positional.push(a.clone()),
        }
    }
    let [model, name] = &positional[..] else {
        return usage();
    };
    if !name.starts_with(|c: char| c.is_ascii_uppercase())
        || !name.chars().all(|c| c.is_ascii_alphanumeric())
    {
        eprintln!("NAME must be a Rust type name (CamelCase letters and digits): {name}");
        return ExitCode::from(2);
    }
    let bytes = match std::fs::read(model) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {model}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let lowered = match TfliteModel::parse(&bytes).and_then(|m| m.lower()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{model}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "{model}: {} layers, {} multiply-accumulates per inference",
        lowered.layer_count(),
        lowered.macs()
    );
    println!(
        "input {} int8 (scale {}, zero point {}), output {} int8 (scale {}, zero point {})",
        lowered.input_shape,
        lowered.input.scale,
        lowered.input.zero_point,
        lowered.output_shape,
        lowered.output.scale,
        lowered.output.zero_point
    );
    print_layers(&lowered.nodes, 1);

    let file = out.join(format!("{}.rs", snake(name)));
    let source = format!(
        "{}\npub static {}: {name} = {};",
        lowered.rust_type(name),
        snake(name).to_uppercase(),
        lowered.rust_value().trim_end()
    );
    if let Err(e) = std::fs::create_dir_all(&out).and_then(|()| std::fs::write(&file, source)) {
        eprintln!("cannot write {}: {e}", file.display());
        return ExitCode::FAILURE;
    }
    println!(
        "wrote {} (the type {name} and the static {})",
        file.display(),
        snake(name).to_uppercase()
    );
    ExitCode::SUCCESS
}
