//! Int8 networks as Rust source: the compile-time alternative to reading a file at boot.
//!
//! [`qnet_rust_source`] writes an int8 network as one Rust expression — `firmnet::qnet![…]` of
//! `QDense { … }` literals, every array written out, every `f32` as its exact bits — that a
//! firmware embeds with `include!`:
//!
//! ```text
//! static NET: firmnet::models::FashionMlpQ = include!("model_int8.rs");
//! ```
//!
//! The compiler then checks what [`load_qnet`](super::load_qnet) checks at run time: the
//! number of layers, every layer's sizes and every array's length must match the
//! `static`'s type or the firmware does not build. The values were checked when the source
//! was written (as [`write_qnet`](super::write_qnet) checks them). The network lands in
//! flash as a `static`, and the firmware carries no parser, no checksum and no error
//! paths: the smallest deployment.

use std::fmt::Write as _;
use std::format;
use std::string::{String, ToString};

use super::error::FormatError;
use super::qnet::{QParamsIo, save_qnet};
use crate::quant::QParams;

/// `net` as one Rust expression of its type — `firmnet::qnet![…]` of `QDense { … }`
/// literals, every array written out, every `f32` as its exact bits — for a firmware to
/// embed with `include!`:
///
/// ```text
/// static NET: firmnet::models::FashionMlpQ = include!("model_int8.rs");
/// ```
///
/// The compiler then checks what [`load_qnet`](super::load_qnet) checks at run time: the
/// number of layers, every layer's sizes and every array's length must match the
/// `static`'s type or the firmware does not build. The values are checked here, as
/// [`write_qnet`](super::write_qnet) checks them. The network lands in flash as a `static`,
/// and the firmware carries no parser, checksum or error path: the smallest deployment.
///
/// # Errors
/// As [`write_qnet`](super::write_qnet): a value the reader would refuse (a scale that is
/// not finite and > 0, a shift out of range, …).
///
/// ```
/// use firmnet::format::qnet_rust_source;
/// use firmnet::quant::QDense;
/// use firmnet::{QNet, qnet};
///
/// let mut net: QNet![QDense<2, 2>, QDense<2, 1>] = qnet![QDense::ZERO, QDense::ZERO];
/// net.first.weight.0 = [[1, -2], [3, 4]];
/// let source = qnet_rust_source(&net).unwrap();
/// assert!(source.contains("weight: firmnet::quant::QMatrix([\n            [1, -2],"));
/// ```
pub fn qnet_rust_source<N: QParamsIo>(net: &N) -> Result<String, FormatError> {
    // The writer's checks: only a network a device could load is written.
    save_qnet(net)?;
    let mut s = String::new();
    let shapes: std::vec::Vec<String> = (0..N::LAYERS)
        .map(|i| {
            let v = net.qdense(i);
            format!("QDense<{}, {}>", v.inputs, v.outputs)
        })
        .collect();
    let _ = writeln!(
        s,
        "// An int8 network of type firmnet::QNet![{}], written by\n\
         // firmnet::format::qnet_rust_source. Embed it with\n\
         // `static NET: <that type> = include!(\"<this file>\");`.",
        shapes.join(", ")
    );
    s.push_str("firmnet::qnet![\n");
    for i in 0..N::LAYERS {
        let v = net.qdense(i);
        s.push_str("    firmnet::quant::QDense {\n");
        s.push_str("        weight: firmnet::quant::QMatrix([\n");
        for row in v.weight.chunks(v.inputs.max(1)) {
            s.push_str("            ");
            list(&mut s, row.iter().map(|w| w.to_string()));
            s.push_str(",\n");
        }
        s.push_str("        ]),\n");
        for (name, values) in [
            ("bias", v.bias),
            ("multiplier", v.multiplier),
            ("shift", v.shift),
        ] {
            let _ = write!(s, "        {name}: ");
            list(&mut s, values.iter().map(|x| x.to_string()));
            s.push_str(",\n");
        }
        s.push_str("        weight_scale: ");
        list(&mut s, v.weight_scale.iter().map(|&x| f32_bits(x)));
        s.push_str(",\n");
        let _ = writeln!(s, "        input: {},", qparams(v.input));
        let _ = writeln!(s, "        output: {},", qparams(v.output));
        let _ = writeln!(s, "        min: {},\n        max: {},", v.min, v.max);
        s.push_str("    },\n");
    }
    s.push_str("]\n");
    Ok(s)
}

/// `[a, b, …]`.
fn list(s: &mut String, items: impl Iterator<Item = String>) {
    s.push('[');
    for (k, item) in items.enumerate() {
        if k > 0 {
            s.push_str(", ");
        }
        s.push_str(&item);
    }
    s.push(']');
}

/// An `f32` exactly, as its bits.
fn f32_bits(x: f32) -> String {
    format!("f32::from_bits({:#010x})", x.to_bits())
}

fn qparams(q: QParams) -> String {
    format!(
        "firmnet::quant::QParams {{ scale: {}, zero_point: {} }}",
        f32_bits(q.scale),
        q.zero_point
    )
}
