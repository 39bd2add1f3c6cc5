//! Networks as Rust source: the compile-time alternative to reading a file at boot.
//!
//! [`rust_source`] writes any network of firmnet's layers — int8 or float — as one Rust
//! expression, `firmnet::net![…]` of each layer's `const` constructor
//! ([`LayerData::ctor`](crate::spec::LayerData::ctor)) with every array written out and
//! every `f32` as its exact bits (a residual block as
//! `firmnet::layers::Residual::new(firmnet::net![…], …)` of its branches), that a firmware
//! embeds with `include!`:
//!
//! ```text
//! static NET: firmnet::quant::Int8<MyNet> = include!("model_int8.rs");
//! ```
//!
//! The compiler then checks what [`load`](super::load) checks at run time: the number of
//! layers, every layer's kind and every array's length must match the `static`'s type or
//! the firmware does not build. The values are checked when the source is written, with
//! the reader's rules. The network lands in flash as a `static`, and the firmware carries
//! no parser, no checksum and no error paths: the smallest deployment.

use std::fmt::Write as _;
use std::string::String;

use super::check::check_network;
use super::error::FormatError;
use super::layout::Section;
use crate::spec::{Attr, Describe, TensorRef};
use crate::tensor::Shape;

/// `net` as one Rust expression of its type: `firmnet::net![…]` of each layer's `const`
/// constructor, every array written out and every `f32` as its bits.
///
/// # Errors
/// As [`write`](super::write): a value a reader would refuse (a non-finite weight, a
/// scale out of range, …).
///
/// ```
/// use firmnet::format::rust_source;
/// use firmnet::quant::{Clamp, QDense, QParams};
/// use firmnet::prelude::*;
///
/// let mut dense = Dense::<2, 2>::ZERO;
/// dense.weight = [[1.0, -2.0], [0.5, 0.25]];
/// let q = QDense::from_float(&dense, None, Clamp::None, QParams::UNIT, QParams::UNIT)?;
/// let source = rust_source(&q).unwrap();
/// assert!(source.contains("firmnet::quant::QDense::from_parts(\n    [[64, -127], [127, 64]],"));
/// # Ok::<(), firmnet::quant::QuantError>(())
/// ```
pub fn rust_source<N: Describe>(net: &N) -> Result<String, FormatError> {
    check_network(net, Section::Network)?;
    let mut s = String::new();
    let _ = write!(
        s,
        "// A network of {} layers, written by firmnet::format::rust_source:",
        N::LAYERS
    );
    for i in 0..N::LAYERS {
        if let Some(spec) = N::layer_spec(i) {
            let _ = write!(
                s,
                "\n//   {i}: {} {} -> {}",
                spec.kind, spec.input, spec.output
            );
        }
    }
    s.push_str(
        "\n// Embed it with `static NET: <the network's type> = include!(\"<this file>\");`.\n",
    );
    let mut at = 0;
    if N::LAYERS == 1 {
        item(&mut s, net, &mut at, "");
        s.push('\n');
    } else {
        s.push_str("firmnet::net![\n");
        items(&mut s, net, &mut at, N::LAYERS, "");
        s.push_str("]\n");
    }
    Ok(s)
}

/// Writes the layers `*at..end` of `net` as the items of a `firmnet::net![…]`, each
/// followed by `,` and a line break, their lines indented by `pad`.
fn items<N: Describe>(s: &mut String, net: &N, at: &mut usize, end: usize, pad: &str) {
    while *at < end {
        if item(s, net, at, pad) {
            s.push_str(",\n");
        }
    }
}

/// Writes layer `*at` of `net` as its constructor's call and moves past it; `false` if
/// there is no such layer.
///
/// A `residual` layer opens a block, a [`Residual`](crate::layers::Residual) or a
/// [`QResidual`](crate::quant::QResidual): its constructor takes, for each attribute (which
/// records the network's structure, [`AttrSpec::exact`](crate::spec::AttrSpec::exact)), the
/// network of that many following layers (the [`Identity`](crate::layers::Identity) for
/// none), and the layer after them closes the block — as one more argument if it holds
/// values (an int8 block's `qadd`).
fn item<N: Describe>(s: &mut String, net: &N, at: &mut usize, pad: &str) -> bool {
    let i = *at;
    *at += 1;
    let Some(layer) = net.layer(i) else {
        return false;
    };
    let spec = layer.spec();
    let block = spec.kind == "residual";
    let _ = write!(s, "{pad}{}(", layer.ctor());
    let mut first = true;
    let mut arg = |s: &mut String| {
        if !first {
            s.push(',');
        }
        s.push('\n');
        s.push_str(pad);
        s.push_str("    ");
        first = false;
    };
    if block {
        let inner = std::format!("{pad}        ");
        for a in spec.attrs {
            arg(s);
            let n = a.exact().map_or(0, |n| usize::try_from(n).unwrap_or(0));
            if n == 0 {
                s.push_str("firmnet::layers::Identity::DEFAULT");
            } else {
                s.push_str("firmnet::net![\n");
                items(s, net, at, at.saturating_add(n), &inner);
                let _ = write!(s, "{pad}    ]");
            }
        }
        // The layer that closes the block.
        let close = net.layer(*at).map(|l| l.spec());
        if close.is_some_and(|c| !c.attrs.is_empty() || !c.tensors.is_empty()) {
            arg(s);
            s.truncate(s.len() - pad.len() - 4);
            item(s, net, at, &std::format!("{pad}    "));
        } else {
            *at += 1;
        }
    } else {
        for (t, ts) in spec.tensors.iter().enumerate() {
            arg(s);
            if let Some(data) = layer.tensor(t) {
                array(s, &ts.shape, data, 0, &mut 0);
            }
        }
        for a in 0..spec.attrs.len() {
            arg(s);
            match layer.attr(a) {
                Some(Attr::F32(v)) => f32_bits(s, v),
                Some(Attr::I32(v)) => {
                    let _ = write!(s, "{v}");
                }
                None => {}
            }
        }
    }
    if !first {
        s.push('\n');
        s.push_str(pad);
    }
    s.push(')');
    true
}

/// The elements from `at` on, as nested arrays of `shape` from dimension `d`.
pub(crate) fn array(s: &mut String, shape: &Shape, data: TensorRef<'_>, d: usize, at: &mut usize) {
    s.push('[');
    for k in 0..shape.dim(d) {
        if k > 0 {
            s.push_str(", ");
        }
        if d + 1 < shape.rank() {
            array(s, shape, data, d + 1, at);
            continue;
        }
        match data {
            TensorRef::F32(v) => f32_bits(s, v.get(*at).copied().unwrap_or(0.0)),
            TensorRef::I8(v) => {
                let _ = write!(s, "{}", v.get(*at).copied().unwrap_or(0));
            }
            TensorRef::I32(v) => {
                let _ = write!(s, "{}", v.get(*at).copied().unwrap_or(0));
            }
        }
        *at += 1;
    }
    s.push(']');
}

/// An `f32` exactly, as its bits.
pub(crate) fn f32_bits(s: &mut String, x: f32) {
    let _ = write!(s, "f32::from_bits({:#010x})", x.to_bits());
}
