//! From a checked [`TfliteModel`] to firmnet's int8 layers: [`Lowered`].

use std::fmt::Write as _;
use std::prelude::rust_2024::*;
use std::vec;

use super::{Activation, ImportError, Op, Padding, Problem, Quantization, Tensor, TfliteModel};
use crate::boxed;
use crate::format::rust::{array, f32_bits};
use crate::quant::{
    Clamp, QAdd, QParams, QSoftmax, SOFTMAX_OUTPUT, kernels::MAX_INPUTS, quantize_multiplier,
};
use crate::spec::{Attr, Describe, LayerData, TensorRef};
use crate::tensor::{Shape, Zero};

/// A model lowered to firmnet's int8 layers: what [`TfliteModel::lower`] makes of it.
///
/// It holds each layer's kind, sizes, tensors and attributes, computed as TensorFlow Lite
/// Micro computes its kernels' parameters. From it come
/// - the network's **type**, as Rust source ([`rust_type`](Self::rust_type)), which a
///   program includes and the compiler checks;
/// - the network's **values**, written into a value of that type
///   ([`network`](Self::network), [`fill`](Self::fill)), which
///   [`format::save`](crate::format::save) turns into a weight file and
///   [`format::rust_source`](crate::format::rust_source) into a `static`.
///
/// ```
/// use firmnet::host::tflite::TfliteModel;
///
/// let bytes = std::fs::read("tests/mlperf_tiny/kws_ref_model.tflite")?;
/// let lowered = TfliteModel::parse(&bytes)?.lower()?;
/// let source = lowered.rust_type("Kws");
/// assert!(source.contains("pub type Kws<S = firmnet::quant::Owned> = firmnet::Net!["));
/// assert!(source.contains("firmnet::quant::QSoftmax<12, S>"));
/// assert_eq!(lowered.macs(), 2_656_768);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Lowered {
    /// How the network's int8 input is quantized: the model's input tensor, or the output
    /// of the QUANTIZE that reads a float input.
    pub input: QParams,
    /// How its int8 output is quantized: the model's output tensor, or the input of the
    /// DEQUANTIZE that makes a float output.
    pub output: QParams,
    /// The shape of one input sample, channels last, without the batch dimension.
    pub input_shape: Shape,
    /// The shape of one output sample.
    pub output_shape: Shape,
    /// The layers in order.
    pub nodes: Vec<Node>,
}

/// A layer, or a residual block of layers.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// One int8 layer.
    Layer(LayerValues),
    /// A residual block, `add(body(x), shortcut(x))` ([`QResidual`](crate::quant::QResidual)).
    Block {
        /// The heavier branch.
        body: Vec<Node>,
        /// The other branch; empty for the identity.
        shortcut: Vec<Node>,
        /// The ADD that joins them (kind `qadd`).
        add: LayerValues,
    },
}

/// One firmnet int8 layer made of a TensorFlow Lite operator.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerValues {
    /// The TensorFlow Lite operator it computes (its index in the subgraph).
    pub operator: usize,
    /// Its kind, as its spec names it (`"qconv2d"`).
    pub kind: &'static str,
    /// Its type, without the storage parameter (`firmnet::quant::QDense<64, 12`, closed
    /// by [`rust_type`](Lowered::rust_type)).
    ty: String,
    /// Whether the type takes a storage parameter.
    stored: bool,
    /// The path of its `const` constructor (what Rust source of its values calls).
    ctor: &'static str,
    /// The shape of each of `tensors`.
    shapes: Vec<Shape>,
    /// The shape of one input sample.
    pub input: Shape,
    /// The shape of one output sample.
    pub output: Shape,
    /// Its tensors by spec name.
    pub tensors: Vec<(&'static str, Data)>,
    /// Its attributes by spec name.
    pub attrs: Vec<(&'static str, Attr)>,
    /// Multiply-accumulates per inference (0 for layers without products).
    pub macs: u64,
}

/// A layer's tensor data.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// `i8` elements.
    I8(Vec<i8>),
    /// `i32` elements.
    I32(Vec<i32>),
}

impl Data {
    fn as_ref(&self) -> TensorRef<'_> {
        match self {
            Data::I8(d) => TensorRef::I8(d),
            Data::I32(d) => TensorRef::I32(d),
        }
    }
}

impl LayerValues {
    /// The layer's Rust type, storage parameter `S` included where it takes one.
    pub fn rust_type(&self) -> String {
        if self.stored {
            format!("{}, S>", self.ty)
        } else {
            format!("{}>", self.ty)
        }
    }
}

impl Node {
    fn macs(&self) -> u64 {
        match self {
            Node::Layer(l) => l.macs,
            Node::Block {
                body,
                shortcut,
                add,
            } => sum_macs(body) + sum_macs(shortcut) + add.macs,
        }
    }

    /// Entries in a network's list of layers ([`Describe`]).
    fn entries(&self) -> usize {
        match self {
            Node::Layer(_) => 1,
            Node::Block { body, shortcut, .. } => {
                2 + body.iter().map(Node::entries).sum::<usize>()
                    + shortcut.iter().map(Node::entries).sum::<usize>()
            }
        }
    }
}

fn sum_macs(nodes: &[Node]) -> u64 {
    nodes.iter().map(Node::macs).sum()
}

impl Lowered {
    /// Multiply-accumulates per inference, over the convolutions and fully connected
    /// layers.
    pub fn macs(&self) -> u64 {
        sum_macs(&self.nodes)
    }

    /// Entries in the list of layers of the network's type ([`Describe::LAYERS`]).
    pub fn layer_count(&self) -> usize {
        self.nodes.iter().map(Node::entries).sum()
    }

    /// The network's type as Rust source: `pub type {name}<S = firmnet::quant::Owned> =
    /// firmnet::Net![…];`, one layer per line, with a comment of where each comes from.
    /// `S` is the storage: [`Owned`](crate::quant::Owned) for a network built on the host
    /// or in a `static`, [`Borrowed<'a>`](crate::quant::Borrowed) for a view of a weight
    /// file ([`format::view`](crate::format::view)).
    pub fn rust_type(&self, name: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "// Written by firmnet::host::tflite from a TensorFlow Lite model: {} layers, {} multiply-accumulates.",
            self.layer_count(),
            self.macs()
        );
        let _ = writeln!(
            s,
            "// Input {} int8, scale {:e}, zero point {}; output {} int8, scale {:e}, zero point {}.",
            self.input_shape,
            self.input.scale,
            self.input.zero_point,
            self.output_shape,
            self.output.scale,
            self.output.zero_point
        );
        let _ = write!(
            s,
            "#[rustfmt::skip]\npub type {name}<S = firmnet::quant::Owned> = "
        );
        nodes_type(&mut s, &self.nodes, "");
        s.push_str(";\n");
        s
    }

    /// The network's values as one Rust expression of its type, for a `static` in flash:
    /// what [`format::rust_source`](crate::format::rust_source) writes for the network
    /// [`network`](Self::network) builds, without building it — so a build script can
    /// write a model's type and values in one go:
    ///
    /// ```text
    /// // build.rs (firmnet with feature `tflite` as a build dependency)
    /// let lowered = TfliteModel::parse(&std::fs::read("kws.tflite")?)?.lower()?;
    /// let source = format!("{}\npub static KWS: Kws = {};", lowered.rust_type("Kws"), lowered.rust_value());
    /// std::fs::write(Path::new(&std::env::var("OUT_DIR")?).join("kws.rs"), source)?;
    /// // src/main.rs
    /// include!(concat!(env!("OUT_DIR"), "/kws.rs"));
    /// ```
    ///
    /// Every array is written out and every `f32` as its exact bits.
    pub fn rust_value(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "// A network of {} layers, written by firmnet::host::tflite:",
            self.layer_count()
        );
        let mut i = 0;
        entry_comments(&mut s, &self.nodes, &mut i);
        s.push_str(
            "\n// Embed it with `static NET: <the network's type> = include!(\"<this file>\");`.\n",
        );
        if let [Node::Layer(l)] = &self.nodes[..] {
            value_item(&mut s, &Node::Layer(l.clone()), "");
            s.push('\n');
        } else {
            s.push_str("firmnet::net![\n");
            value_items(&mut s, &self.nodes, "");
            s.push_str("]\n");
        }
        s
    }

    /// Writes the layers' values into `net`, a network of the type
    /// [`rust_type`](Self::rust_type) names (with [`Owned`](crate::quant::Owned) storage).
    ///
    /// # Errors
    /// [`ImportError::Mismatch`] if `N` is another network: a layer of another kind,
    /// shape or geometry, or another number of layers. `net` may then be partly written.
    pub fn fill<N: Describe>(&self, net: &mut N) -> Result<(), ImportError> {
        let mut at = 0;
        fill_nodes(&self.nodes, net, &mut at)?;
        if at != N::LAYERS {
            return Err(ImportError::Mismatch {
                layer: at,
                expected: N::layer_spec(at).map_or("nothing", |s| s.kind),
                found: "nothing",
                what: "the type has more layers than the model",
            });
        }
        Ok(())
    }

    /// A network of type `N` holding the layers' values, built on the heap.
    ///
    /// # Errors
    /// As [`fill`](Self::fill).
    pub fn network<N: Describe + Zero>(&self) -> Result<Box<N>, ImportError> {
        let mut net = boxed::zero::<N>();
        self.fill(&mut *net)?;
        Ok(net)
    }
}

/// The input shape of the first layer of `nodes`.
fn first_input(nodes: &[Node]) -> Shape {
    match nodes.first() {
        Some(Node::Layer(l)) => l.input,
        Some(Node::Block { body, .. }) => first_input(body),
        None => Shape::SCALAR,
    }
}

/// `//   {i}: {kind} {input} -> {output}` for every entry of `nodes` in the list of layers.
fn entry_comments(s: &mut String, nodes: &[Node], i: &mut usize) {
    let line = |s: &mut String, i: &mut usize, kind: &str, input: Shape, output: Shape| {
        let _ = write!(s, "\n//   {i}: {kind} {input} -> {output}");
        *i += 1;
    };
    for node in nodes {
        match node {
            Node::Layer(l) => line(s, i, l.kind, l.input, l.output),
            Node::Block {
                body,
                shortcut,
                add,
            } => {
                let input = first_input(body);
                line(s, i, "residual", input, input);
                entry_comments(s, body, i);
                entry_comments(s, shortcut, i);
                line(s, i, add.kind, add.input, add.output);
            }
        }
    }
}

fn value_items(s: &mut String, nodes: &[Node], pad: &str) {
    for node in nodes {
        value_item(s, node, pad);
        s.push_str(",\n");
    }
}

/// A node as its constructor's call, its lines indented by `pad` (the layout of
/// [`format::rust_source`](crate::format::rust_source)).
fn value_item(s: &mut String, node: &Node, pad: &str) {
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
    match node {
        Node::Layer(l) => {
            let _ = write!(s, "{pad}{}(", l.ctor);
            for ((_, data), shape) in l.tensors.iter().zip(&l.shapes) {
                arg(s);
                array(s, shape, data.as_ref(), 0, &mut 0);
            }
            for (_, value) in &l.attrs {
                arg(s);
                match *value {
                    Attr::F32(v) => f32_bits(s, v),
                    Attr::I32(v) => {
                        let _ = write!(s, "{v}");
                    }
                }
            }
        }
        Node::Block {
            body,
            shortcut,
            add,
        } => {
            let _ = write!(s, "{pad}firmnet::quant::QResidual::new(");
            let inner = format!("{pad}        ");
            for branch in [body, shortcut] {
                arg(s);
                if branch.is_empty() {
                    s.push_str("firmnet::layers::Identity::DEFAULT");
                } else {
                    s.push_str("firmnet::net![\n");
                    value_items(s, branch, &inner);
                    let _ = write!(s, "{pad}    ]");
                }
            }
            arg(s);
            s.truncate(s.len() - pad.len() - 4);
            value_item(s, &Node::Layer(add.clone()), &format!("{pad}    "));
        }
    }
    if !first {
        s.push('\n');
        s.push_str(pad);
    }
    s.push(')');
}

fn nodes_type(s: &mut String, nodes: &[Node], pad: &str) {
    if let [single] = nodes {
        node_type(s, single, pad);
        return;
    }
    s.push_str("firmnet::Net![\n");
    let inner = format!("{pad}    ");
    for n in nodes {
        s.push_str(&inner);
        node_type(s, n, &inner);
        s.push_str(",\n");
    }
    s.push_str(pad);
    s.push(']');
}

fn node_type(s: &mut String, node: &Node, pad: &str) {
    match node {
        Node::Layer(l) => {
            s.push_str(&l.rust_type());
        }
        Node::Block { body, shortcut, .. } => {
            s.push_str("firmnet::quant::QResidual<");
            nodes_type(s, body, pad);
            if !shortcut.is_empty() {
                s.push_str(", ");
                nodes_type(s, shortcut, pad);
            }
            s.push('>');
        }
    }
}

fn mismatch(
    layer: usize,
    expected: &'static str,
    found: &'static str,
    what: &'static str,
) -> ImportError {
    ImportError::Mismatch {
        layer,
        expected,
        found,
        what,
    }
}

fn fill_nodes<N: Describe>(nodes: &[Node], net: &mut N, at: &mut usize) -> Result<(), ImportError> {
    for node in nodes {
        match node {
            Node::Layer(l) => fill_layer(l, net, at)?,
            Node::Block {
                body,
                shortcut,
                add,
            } => {
                let i = *at;
                let entries = [
                    body.iter().map(Node::entries).sum::<usize>(),
                    shortcut.iter().map(Node::entries).sum::<usize>(),
                ];
                let Some(spec) = N::layer_spec(i) else {
                    return Err(mismatch(
                        i,
                        "nothing",
                        "residual",
                        "the type has fewer layers than the model",
                    ));
                };
                if spec.kind != "residual" {
                    return Err(mismatch(
                        i,
                        spec.kind,
                        "residual",
                        "the type has another layer here",
                    ));
                }
                let layer =
                    net.layer_mut(i)
                        .ok_or(mismatch(i, spec.kind, "residual", "no such layer"))?;
                for (k, n) in entries.into_iter().enumerate() {
                    let ok = i32::try_from(n).is_ok_and(|n| layer.set_attr(k, Attr::I32(n)));
                    if !ok {
                        return Err(mismatch(
                            i,
                            spec.kind,
                            "residual",
                            "the type's residual block has other branches",
                        ));
                    }
                }
                *at += 1;
                fill_nodes(body, net, at)?;
                fill_nodes(shortcut, net, at)?;
                fill_layer(add, net, at)?;
            }
        }
    }
    Ok(())
}

fn fill_layer<N: Describe>(
    l: &LayerValues,
    net: &mut N,
    at: &mut usize,
) -> Result<(), ImportError> {
    let i = *at;
    let Some(spec) = N::layer_spec(i) else {
        return Err(mismatch(
            i,
            "nothing",
            l.kind,
            "the type has fewer layers than the model",
        ));
    };
    if spec.kind != l.kind {
        return Err(mismatch(
            i,
            spec.kind,
            l.kind,
            "the type has another layer here",
        ));
    }
    if !spec.input.same(&l.input) || !spec.output.same(&l.output) {
        return Err(mismatch(
            i,
            spec.kind,
            l.kind,
            "the type's layer has other input or output sizes",
        ));
    }
    let layer: &mut dyn LayerData =
        net.layer_mut(i)
            .ok_or(mismatch(i, spec.kind, l.kind, "no such layer"))?;
    for (name, data) in &l.tensors {
        let ok = spec
            .tensor_index(name)
            .and_then(|t| layer.tensor_mut(t))
            .is_some_and(|mut t| t.copy_from(data.as_ref()));
        if !ok {
            return Err(mismatch(
                i,
                spec.kind,
                l.kind,
                "a tensor of the type's layer has another size (or the layer borrows its tensors)",
            ));
        }
    }
    for (name, value) in &l.attrs {
        let ok = spec
            .attr_index(name)
            .is_some_and(|a| layer.set_attr(a, *value));
        if !ok {
            return Err(mismatch(
                i,
                spec.kind,
                l.kind,
                "the type's layer has another stride, padding or window",
            ));
        }
    }
    *at += 1;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Lowering

/// The parameters of a per-tensor quantized tensor (checked by the importer).
fn params(t: &Tensor) -> QParams {
    match t.quantization {
        Quantization::PerTensor { scale, zero_point } => QParams { scale, zero_point },
        _ => QParams::UNIT,
    }
}

/// TensorFlow Lite's `CalculateActivationRangeQuantized` for an int8 output.
fn activation_range(act: Activation, out: QParams) -> (i32, i32) {
    let quantize = |f: f32| {
        let q = libm::roundf(f / out.scale);
        // The exact integer where it is one; beyond the int8 range either way it clamps.
        i64::from(out.zero_point) + q.clamp(-1e9, 1e9) as i64
    };
    let clamp = |v: i64| v.clamp(-128, 127) as i32;
    match act {
        Activation::None => (-128, 127),
        Activation::Relu => (clamp(quantize(0.0).max(-128)), 127),
        Activation::Relu6 => (
            clamp(quantize(0.0).max(-128)),
            clamp(quantize(6.0).min(127)),
        ),
        Activation::ReluN1To1 => (
            clamp(quantize(-1.0).max(-128)),
            clamp(quantize(1.0).min(127)),
        ),
    }
}

fn io_attrs(input: QParams, output: QParams, (min, max): (i32, i32)) -> Vec<(&'static str, Attr)> {
    vec![
        ("input_scale", Attr::F32(input.scale)),
        ("input_zero_point", Attr::I32(input.zero_point)),
        ("output_scale", Attr::F32(output.scale)),
        ("output_zero_point", Attr::I32(output.zero_point)),
        ("min", Attr::I32(min)),
        ("max", Attr::I32(max)),
    ]
}

/// TensorFlow Lite's padding before the first row or column.
fn pad_before(
    input: usize,
    filter: usize,
    stride: usize,
    output: usize,
    padding: Padding,
) -> usize {
    match padding {
        Padding::Same => {
            (output.saturating_sub(1).saturating_mul(stride))
                .saturating_add(filter)
                .saturating_sub(input)
                / 2
        }
        Padding::Valid => 0,
    }
}

fn padding_type(p: Padding) -> &'static str {
    match p {
        Padding::Same => "firmnet::layers::Same",
        Padding::Valid => "firmnet::layers::Valid",
    }
}

struct Lowering<'m> {
    model: &'m TfliteModel,
    /// For each tensor, the operators that read it.
    readers: Vec<Vec<usize>>,
    /// The tensor whose value the network outputs.
    end: usize,
}

/// What lowering an operator gives: layers, and the firmnet shape of its output.
type Lowered1 = (Vec<Node>, Shape);

/// A chain of layers: the layers, the shape of its output and, for a branch of a residual
/// block, the ADD that ends it and the tensor the branch hands to it.
struct Chain {
    nodes: Vec<Node>,
    shape: Shape,
    add: Option<(usize, usize)>,
}

impl TfliteModel {
    /// The model as firmnet int8 layers (see [`Lowered`]).
    ///
    /// The graph must be a chain of operators with residual blocks: a tensor read by two
    /// operators opens a block whose two branches join in one ADD. A whole-map
    /// AVERAGE_POOL_2D becomes a [`QGlobalAvgPool`](crate::quant::QGlobalAvgPool); a RESHAPE
    /// of a feature map to a vector a [`QFlatten`](crate::quant::QFlatten), and any other
    /// RESHAPE that keeps the layout nothing; a FULLY_CONNECTED on a feature map is
    /// preceded by a flatten. QUANTIZE of the float input and DEQUANTIZE of the output
    /// become [`Lowered::input`] and [`Lowered::output`]. Biases are stored with the input
    /// zero point folded in (`b − z_in·Σw`, exact), multipliers and activation bounds are
    /// computed as TensorFlow Lite Micro computes them, so the network computes its bits.
    ///
    /// # Errors
    /// [`ImportError::Operator`] (index and kind) for what firmnet's layers do not compute:
    /// unequal strides, an int8-to-int8 QUANTIZE, a pool that rescales, a softmax whose
    /// output is not quantized as TensorFlow Lite's int8 softmax, a graph that is not a
    /// chain of blocks, a rescale outside the Q31 range, a folded bias beyond 32 bits;
    /// [`ImportError::Model`] for a model without one input and one output or with a batch
    /// dimension other than 1.
    pub fn lower(&self) -> Result<Lowered, ImportError> {
        self.consistent()?;
        let (&[input], &[output]) = (&self.inputs[..], &self.outputs[..]) else {
            return Err(ImportError::Model(Problem::Graph(
                "the model has more than one input or output",
            )));
        };
        let mut readers = vec![Vec::new(); self.tensors.len()];
        for (k, op) in self.operators.iter().enumerate() {
            for &t in op.inputs.iter().flatten() {
                if self.tensors[t].data.is_none() && !readers[t].contains(&k) {
                    readers[t].push(k);
                }
            }
        }
        let mut start = input;
        // A float input: the QUANTIZE that reads it starts the network.
        if self.tensors[input].data_is_float() {
            match readers[input][..] {
                [q] if self.operators[q].op == Op::Quantize => {
                    start = self.operators[q].outputs[0];
                }
                _ => {
                    return Err(ImportError::Model(Problem::Graph(
                        "the float input is not read by one QUANTIZE",
                    )));
                }
            }
        }
        // A float output: the DEQUANTIZE that writes it ends the network.
        let mut end = output;
        if self.tensors[output].data_is_float() {
            let producer = self.operators.iter().find(|o| o.outputs.contains(&output));
            match producer {
                Some(o) if o.op == Op::Dequantize => end = o.inputs[0].unwrap_or(output),
                _ => {
                    return Err(ImportError::Model(Problem::Graph(
                        "the float output is not written by a DEQUANTIZE",
                    )));
                }
            }
        }
        let lowering = Lowering {
            model: self,
            readers,
            end,
        };
        let input_shape = lowering.sample_shape(start, usize::MAX)?;
        let Chain {
            nodes,
            shape: output_shape,
            add: stop,
        } = lowering.chain(start, input_shape, false)?;
        if stop.is_some() {
            return Err(ImportError::Model(Problem::Graph(
                "an ADD outside a residual block",
            )));
        }
        if nodes.is_empty() {
            return Err(ImportError::Model(Problem::Graph(
                "the model computes nothing",
            )));
        }
        Ok(Lowered {
            input: params(&self.tensors[start]),
            output: params(&self.tensors[end]),
            input_shape,
            output_shape,
            nodes,
        })
    }
}

impl TfliteModel {
    /// What lowering relies on and [`parse`](Self::parse) establishes, checked again for a
    /// model built or changed by hand (its fields are public): tensor indices inside the
    /// model, one output per operator, the inputs its kind requires, the ranks of the
    /// tensors the layers read their sizes from.
    fn consistent(&self) -> Result<(), ImportError> {
        let n = self.tensors.len();
        for &t in self.inputs.iter().chain(&self.outputs) {
            if t >= n {
                return Err(ImportError::Model(Problem::TensorIndex(t as i64)));
            }
        }
        for (index, op) in self.operators.iter().enumerate() {
            let fail = |problem| ImportError::Operator {
                index,
                kind: op.op.code(),
                problem,
            };
            for &t in op.inputs.iter().flatten().chain(&op.outputs) {
                if t >= n {
                    return Err(fail(Problem::TensorIndex(t as i64)));
                }
            }
            let required = match op.op {
                Op::Conv2d(_)
                | Op::DepthwiseConv2d(_)
                | Op::FullyConnected { .. }
                | Op::Add { .. } => 2,
                _ => 1,
            };
            if op.outputs.len() != 1 || op.inputs.len() < required {
                return Err(fail(Problem::Arity {
                    inputs: op.inputs.len(),
                    outputs: op.outputs.len(),
                }));
            }
            for slot in 0..required {
                if op.inputs[slot].is_none() {
                    return Err(fail(Problem::MissingInput(slot)));
                }
            }
            let rank = |slot: Option<usize>, r: usize, what| {
                let t = slot.unwrap_or(0);
                if self.tensors[t].shape.len() == r {
                    Ok(())
                } else {
                    Err(fail(Problem::Shape { tensor: t, what }))
                }
            };
            let y = Some(op.outputs[0]);
            match op.op {
                Op::Conv2d(_) | Op::DepthwiseConv2d(_) => {
                    rank(op.inputs[1], 4, "convolution filter is not of rank 4")?;
                    rank(
                        y,
                        4,
                        "convolution output is not [batch, height, width, channels]",
                    )?;
                }
                Op::AveragePool2d(_) | Op::MaxPool2d(_) => {
                    rank(y, 4, "pool output is not [batch, height, width, channels]")?;
                }
                Op::FullyConnected { .. } => rank(op.inputs[1], 2, "weights are not [out, in]")?,
                _ => {}
            }
        }
        Ok(())
    }
}

impl Tensor {
    fn data_is_float(&self) -> bool {
        self.element == super::ElementType::Float32
    }
}

impl Lowering<'_> {
    fn fail(&self, index: usize, problem: Problem) -> ImportError {
        ImportError::Operator {
            index,
            kind: self.model.operators[index].op.code(),
            problem,
        }
    }

    fn tensor(&self, t: usize) -> &Tensor {
        &self.model.tensors[t]
    }

    /// A tensor's shape without its batch dimension of 1, as a firmnet shape (`op` names
    /// the operator for errors; `usize::MAX` for the model's input).
    fn sample_shape(&self, t: usize, op: usize) -> Result<Shape, ImportError> {
        let shape = &self.tensor(t).shape;
        let problem = Problem::Shape {
            tensor: t,
            what: "not a batch of one sample of at most 3 dimensions",
        };
        let dims = match shape.split_first() {
            Some((1, rest)) if (1..=3).contains(&rest.len()) => rest,
            _ if shape.len() == 1 => &shape[..],
            _ => {
                return Err(if op == usize::MAX {
                    ImportError::Model(problem)
                } else {
                    self.fail(op, problem)
                });
            }
        };
        let err = || {
            if op == usize::MAX {
                ImportError::Model(problem)
            } else {
                self.fail(op, problem)
            }
        };
        Shape::new(dims).ok_or_else(err)
    }

    /// The layers from tensor `t` (of firmnet shape `shape`) on: until the network's end,
    /// or, inside a branch (`branch`), until the ADD that closes it, which is returned with
    /// the tensor it reads.
    fn chain(&self, mut t: usize, mut shape: Shape, branch: bool) -> Result<Chain, ImportError> {
        let mut nodes = Vec::new();
        // Every step moves to an operator later in the file: at most one per operator.
        for _ in 0..=self.model.operators.len() {
            if t == self.end && !branch {
                return Ok(Chain {
                    nodes,
                    shape,
                    add: None,
                });
            }
            let readers = &self.readers[t];
            match readers[..] {
                [] => {
                    return Err(ImportError::Model(Problem::Graph(
                        "an activation that no operator reads and that is not the output",
                    )));
                }
                [k] => {
                    let op = &self.model.operators[k];
                    if let Op::Add { .. } = op.op {
                        if branch {
                            return Ok(Chain {
                                nodes,
                                shape,
                                add: Some((k, t)),
                            });
                        }
                        return Err(self.fail(k, Problem::Graph("an ADD outside a residual block")));
                    }
                    if op.op == Op::Dequantize {
                        return Err(self.fail(k, Problem::Graph("a DEQUANTIZE inside the network")));
                    }
                    let (mut more, next) = self.operator(k, shape)?;
                    nodes.append(&mut more);
                    shape = next;
                    t = op.outputs[0];
                }
                [a, b] => {
                    let (block, next, out) = self.block(t, shape, [a, b])?;
                    nodes.push(block);
                    shape = next;
                    t = out;
                }
                _ => {
                    return Err(self.fail(
                        readers[2],
                        Problem::Graph("an activation read by more than two operators"),
                    ));
                }
            }
        }
        Err(ImportError::Model(Problem::Graph("the graph has a cycle")))
    }

    /// The residual block opened by tensor `t`, read by operators `readers`: returns the
    /// block, its output's shape and its output tensor.
    fn block(
        &self,
        t: usize,
        shape: Shape,
        readers: [usize; 2],
    ) -> Result<(Node, Shape, usize), ImportError> {
        let mut branches = Vec::with_capacity(2);
        for k in readers {
            let op = &self.model.operators[k];
            if let Op::Add { .. } = op.op {
                branches.push((Vec::new(), shape, k, t));
                continue;
            }
            let (mut first, next) = self.operator(k, shape)?;
            let Chain {
                nodes: mut rest,
                shape: end_shape,
                add: stop,
            } = self.chain(op.outputs[0], next, true)?;
            let Some((add, last)) = stop else {
                return Err(self.fail(k, Problem::Graph("a branch that does not end in an ADD")));
            };
            first.append(&mut rest);
            branches.push((first, end_shape, add, last));
        }
        let (b, s) = (&branches[0], &branches[1]);
        if b.2 != s.2 {
            return Err(self.fail(
                b.2.max(s.2),
                Problem::Graph("two branches that do not join in one ADD"),
            ));
        }
        let add_index = b.2;
        // The body is the heavier branch (the first on a tie); the identity is a shortcut.
        let body_first = sum_macs(&b.0) >= sum_macs(&s.0) && !b.0.is_empty();
        let (body, shortcut) = if body_first {
            (branches.swap_remove(0), branches.swap_remove(0))
        } else {
            let s = branches.swap_remove(1);
            (s, branches.swap_remove(0))
        };
        if body.0.is_empty() {
            return Err(self.fail(add_index, Problem::Graph("an ADD of a tensor with itself")));
        }
        let op = &self.model.operators[add_index];
        let Op::Add { activation } = op.op else {
            return Err(self.fail(add_index, Problem::UnsupportedOperator));
        };
        let out = op.outputs[0];
        let (input, skip, output) = (
            params(self.tensor(body.3)),
            params(self.tensor(shortcut.3)),
            params(self.tensor(out)),
        );
        let add = QAdd::<[i8; 1]>::new(input, skip, output, Clamp::None).map_err(|_| {
            self.fail(
                add_index,
                Problem::Graph("ADD scales beyond TensorFlow Lite's fixed-point rescaling"),
            )
        })?;
        let mut attrs = io_attrs(input, output, activation_range(activation, output));
        attrs.push(("skip_scale", Attr::F32(skip.scale)));
        attrs.push(("skip_zero_point", Attr::I32(skip.zero_point)));
        for (k, name) in [
            "input_multiplier",
            "input_shift",
            "skip_multiplier",
            "skip_shift",
            "output_multiplier",
            "output_shift",
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(v) = add.attr(8 + k) {
                attrs.push((name, v));
            }
        }
        let add = LayerValues {
            operator: add_index,
            kind: "qadd",
            ty: String::new(),
            stored: false,
            ctor: "firmnet::quant::QAdd::from_parts",
            shapes: Vec::new(),
            input: body.1,
            output: body.1,
            tensors: Vec::new(),
            attrs,
            macs: 0,
        };
        Ok((
            Node::Block {
                body: body.0,
                shortcut: shortcut.0,
                add,
            },
            body.1,
            out,
        ))
    }

    /// Operator `k` reading an input of firmnet shape `shape`: its layers (none, one, or
    /// a flatten and a dense layer) and the firmnet shape of its output.
    fn operator(&self, k: usize, shape: Shape) -> Result<Lowered1, ImportError> {
        let op = &self.model.operators[k];
        let x = op.inputs[0].unwrap_or(0);
        let y = op.outputs[0];
        let (input, output) = (params(self.tensor(x)), params(self.tensor(y)));
        for (t, q) in [(x, input), (y, output)] {
            if !q.is_valid() {
                return Err(self.fail(
                    k,
                    Problem::Quantization {
                        tensor: t,
                        what: "scale outside 2^-64…2^64 (what firmnet's weight files hold)",
                    },
                ));
            }
        }
        let fail = |what| self.fail(k, Problem::Graph(what));
        match op.op {
            Op::FullyConnected { activation, .. } => {
                let w = self.tensor(op.inputs[1].unwrap_or(0));
                let (units, depth) = (w.shape[0], w.shape[1]);
                if shape.len() != depth {
                    return Err(fail("FULLY_CONNECTED on a batch of more than one sample"));
                }
                let mut nodes = Vec::new();
                if shape.rank() == 3 {
                    nodes.push(self.flatten(k, shape, input));
                }
                let scales = weight_scales(w, units);
                let weight = w.data_i8().unwrap_or_default();
                let layer = self.weighted(
                    k,
                    (&weight, depth, units),
                    op.inputs.get(2).copied().flatten(),
                    &scales,
                    (input, output),
                    activation,
                )?;
                nodes.push(Node::Layer(LayerValues {
                    operator: k,
                    kind: "qdense",
                    ty: format!("firmnet::quant::QDense<{depth}, {units}"),
                    stored: true,
                    ctor: "firmnet::quant::QDense::from_parts",
                    shapes: weighted_shapes(Shape::matrix(units, depth), units),
                    input: Shape::vector(depth),
                    output: Shape::vector(units),
                    macs: (depth as u64).saturating_mul(units as u64),
                    ..layer
                }));
                Ok((nodes, Shape::vector(units)))
            }
            Op::Conv2d(conv) | Op::DepthwiseConv2d(conv) => {
                let depthwise = matches!(op.op, Op::DepthwiseConv2d(_));
                let (h, wd, c) = self.map(k, shape)?;
                if conv.stride_h != conv.stride_w {
                    return Err(self.fail(
                        k,
                        Problem::Option("unequal strides (firmnet's convolutions take one stride)"),
                    ));
                }
                let stride = conv.stride_h;
                let w = self.tensor(op.inputs[1].unwrap_or(0));
                let [o, kh, kw, i] = [w.shape[0], w.shape[1], w.shape[2], w.shape[3]];
                let ys = &self.tensor(y).shape;
                let (oh, ow) = (ys[1], ys[2]);
                if i != c || (depthwise && o != 1) {
                    return Err(self.fail(
                        k,
                        Problem::Shape {
                            tensor: op.inputs[1].unwrap_or(0),
                            what: "filter depth is not the input's channels",
                        },
                    ));
                }
                let out_c = if depthwise { i } else { o };
                let patch = [kh, kw, if depthwise { 1 } else { i }]
                    .iter()
                    .try_fold(1usize, |p, &d| p.checked_mul(d))
                    .filter(|&p| p <= MAX_INPUTS);
                let Some(patch) = patch else {
                    return Err(
                        self.fail(k, Problem::Option("filters of more than 65,536 weights"))
                    );
                };
                let scales = weight_scales(w, out_c);
                let raw = w.data_i8().unwrap_or_default();
                if patch == 0 || out_c == 0 || raw.len() != patch * out_c {
                    return Err(self.fail(
                        k,
                        Problem::Shape {
                            tensor: op.inputs[1].unwrap_or(0),
                            what: "weight data is not the size of the filters",
                        },
                    ));
                }
                // A depthwise filter [1, kh, kw, c] is firmnet's [kh][kw][c]; its rows per
                // channel (every c-th weight) go through the per-channel arithmetic.
                let per = if depthwise {
                    let mut by_channel = vec![0i8; raw.len()];
                    for (j, &v) in raw.iter().enumerate() {
                        by_channel[(j % c) * kh * kw + j / c] = v;
                    }
                    by_channel
                } else {
                    raw
                };
                let layer = self.weighted(
                    k,
                    (&per, patch, out_c),
                    op.inputs.get(2).copied().flatten(),
                    &scales,
                    (input, output),
                    conv.activation,
                )?;
                let mut tensors = layer.tensors;
                if depthwise {
                    // Back from rows per channel to [kh][kw][c].
                    if let Data::I8(rows) = &tensors[0].1 {
                        let mut hwc = vec![0i8; rows.len()];
                        for (j, v) in hwc.iter_mut().enumerate() {
                            *v = rows[(j % c) * kh * kw + j / c];
                        }
                        tensors[0].1 = Data::I8(hwc);
                    }
                }
                let mut attrs = layer.attrs;
                attrs.push(("stride", Attr::I32(stride as i32)));
                attrs.push((
                    "pad_top",
                    Attr::I32(pad_before(h, kh, stride, oh, conv.padding) as i32),
                ));
                attrs.push((
                    "pad_left",
                    Attr::I32(pad_before(wd, kw, stride, ow, conv.padding) as i32),
                ));
                let p = padding_type(conv.padding);
                let (kind, ctor, ty, filters) = if depthwise {
                    (
                        "qdepthwise_conv2d",
                        "firmnet::quant::QDepthwiseConv2d::from_parts",
                        format!(
                            "firmnet::quant::QDepthwiseConv2d<{h}, {wd}, {c}, {kh}, {kw}, {oh}, {ow}, {stride}, {p}"
                        ),
                        Shape::rank3(kh, kw, c),
                    )
                } else {
                    (
                        "qconv2d",
                        "firmnet::quant::QConv2d::from_parts",
                        format!(
                            "firmnet::quant::QConv2d<{h}, {wd}, {c}, {o}, {kh}, {kw}, {oh}, {ow}, {stride}, {p}"
                        ),
                        Shape::rank4(o, kh, kw, c),
                    )
                };
                let out = Shape::rank3(oh, ow, out_c);
                Ok((
                    vec![Node::Layer(LayerValues {
                        operator: k,
                        kind,
                        ty,
                        stored: true,
                        ctor,
                        shapes: weighted_shapes(filters, out_c),
                        input: shape,
                        output: out,
                        tensors,
                        attrs,
                        macs: [oh, ow, out_c, patch]
                            .iter()
                            .fold(1u64, |m, &d| m.saturating_mul(d as u64)),
                    })],
                    out,
                ))
            }
            Op::AveragePool2d(pool) | Op::MaxPool2d(pool) => {
                let max = matches!(op.op, Op::MaxPool2d(_));
                let (h, wd, c) = self.map(k, shape)?;
                if input != output {
                    return Err(self.fail(k, Problem::Graph("a pool whose output is quantized otherwise than its input (firmnet's pools do not rescale)")));
                }
                let attrs = io_attrs(input, output, activation_range(pool.activation, output));
                let whole =
                    pool.padding == Padding::Valid && (pool.filter_h, pool.filter_w) == (h, wd);
                if !max && whole {
                    return Ok((
                        vec![Node::Layer(LayerValues {
                            operator: k,
                            kind: "qglobal_avg_pool",
                            ty: format!("firmnet::quant::QGlobalAvgPool<{h}, {wd}, {c}"),
                            stored: true,
                            ctor: "firmnet::quant::QGlobalAvgPool::from_parts",
                            shapes: Vec::new(),
                            input: shape,
                            output: Shape::vector(c),
                            tensors: Vec::new(),
                            attrs,
                            macs: 0,
                        })],
                        Shape::vector(c),
                    ));
                }
                if pool.stride_h != pool.stride_w {
                    return Err(self.fail(
                        k,
                        Problem::Option("unequal strides (firmnet's pools take one stride)"),
                    ));
                }
                let stride = pool.stride_h;
                let ys = &self.tensor(y).shape;
                let (oh, ow) = (ys[1], ys[2]);
                let (kh, kw) = (pool.filter_h, pool.filter_w);
                let mut attrs = attrs;
                attrs.push(("stride", Attr::I32(stride as i32)));
                attrs.push((
                    "pad_top",
                    Attr::I32(pad_before(h, kh, stride, oh, pool.padding) as i32),
                ));
                attrs.push((
                    "pad_left",
                    Attr::I32(pad_before(wd, kw, stride, ow, pool.padding) as i32),
                ));
                attrs.push(("pool_height", Attr::I32(kh as i32)));
                attrs.push(("pool_width", Attr::I32(kw as i32)));
                let (kind, name, ctor) = if max {
                    (
                        "qmax_pool2d",
                        "QMaxPool2d",
                        "firmnet::quant::QMaxPool2d::from_parts",
                    )
                } else {
                    (
                        "qavg_pool2d",
                        "QAvgPool2d",
                        "firmnet::quant::QAvgPool2d::from_parts",
                    )
                };
                let p = padding_type(pool.padding);
                let out = Shape::rank3(oh, ow, c);
                Ok((
                    vec![Node::Layer(LayerValues {
                        operator: k,
                        kind,
                        ty: format!(
                            "firmnet::quant::{name}<{h}, {wd}, {c}, {kh}, {kw}, {oh}, {ow}, {stride}, {p}"
                        ),
                        stored: true,
                        ctor,
                        shapes: Vec::new(),
                        input: shape,
                        output: out,
                        tensors: Vec::new(),
                        attrs,
                        macs: 0,
                    })],
                    out,
                ))
            }
            Op::Reshape => {
                if input != output {
                    return Err(fail("a RESHAPE that changes the quantization"));
                }
                let target = self.sample_shape(y, k)?;
                if target.same(&shape) || (target.rank() == 1 && shape.rank() == 1) {
                    Ok((Vec::new(), shape))
                } else if target.rank() == 1 && shape.rank() == 3 {
                    Ok((vec![self.flatten(k, shape, input)], target))
                } else if target.rank() == 3
                    && shape.rank() == 1
                    && target.dim(0).saturating_mul(target.dim(1)) == 1
                {
                    Err(fail(
                        "a vector reshaped into a map (firmnet has no such layer)",
                    ))
                } else {
                    Err(fail(
                        "a RESHAPE that is neither a flatten nor the same layout",
                    ))
                }
            }
            Op::Softmax { beta } => {
                if shape.rank() != 1 {
                    return Err(fail("SOFTMAX of a map (only of a vector)"));
                }
                if output != SOFTMAX_OUTPUT {
                    return Err(fail(
                        "SOFTMAX output not quantized with scale 1/256 and zero point −128",
                    ));
                }
                let n = shape.len();
                let s = QSoftmax::<1>::new(input, beta).map_err(|_| {
                    self.fail(
                        k,
                        Problem::Option(
                            "SOFTMAX beta not positive, or β·scale below TensorFlow Lite's range",
                        ),
                    )
                })?;
                let mut attrs = io_attrs(input, output, (0, 0));
                attrs.truncate(4);
                for (j, name) in ["beta", "multiplier", "left_shift", "diff_min"]
                    .into_iter()
                    .enumerate()
                {
                    if let Some(v) = s.attr(4 + j) {
                        attrs.push((name, v));
                    }
                }
                Ok((
                    vec![Node::Layer(LayerValues {
                        operator: k,
                        kind: "qsoftmax",
                        ty: format!("firmnet::quant::QSoftmax<{n}"),
                        stored: true,
                        ctor: "firmnet::quant::QSoftmax::from_parts",
                        shapes: Vec::new(),
                        input: shape,
                        output: shape,
                        tensors: Vec::new(),
                        attrs,
                        macs: 0,
                    })],
                    shape,
                ))
            }
            Op::Quantize => Err(fail(
                "a QUANTIZE inside the network (an int8 requantization firmnet has no layer for)",
            )),
            Op::Dequantize | Op::Add { .. } => Err(fail("an operator out of place")),
        }
    }

    fn map(&self, k: usize, shape: Shape) -> Result<(usize, usize, usize), ImportError> {
        if shape.rank() != 3 {
            return Err(self.fail(k, Problem::Graph("a vector read as a feature map")));
        }
        Ok((shape.dim(0), shape.dim(1), shape.dim(2)))
    }

    fn flatten(&self, k: usize, shape: Shape, params: QParams) -> Node {
        let (h, w, c) = (shape.dim(0), shape.dim(1), shape.dim(2));
        let n = shape.len();
        let mut attrs = io_attrs(params, params, (0, 0));
        attrs.truncate(4);
        Node::Layer(LayerValues {
            operator: k,
            kind: "qflatten",
            ty: format!("firmnet::quant::QFlatten<{h}, {w}, {c}, {n}"),
            stored: true,
            ctor: "firmnet::quant::QFlatten::from_parts",
            shapes: Vec::new(),
            input: shape,
            output: Shape::vector(n),
            tensors: Vec::new(),
            attrs,
            macs: 0,
        })
    }

    /// The tensors and attributes of a layer of `outputs` filters of `len` weights each
    /// (`weight`, row by row), with an optional int32 bias: TensorFlow Lite Micro's
    /// per-channel multipliers, the bias with the input zero point folded in, the fused
    /// activation's bounds.
    fn weighted(
        &self,
        k: usize,
        (weight, len, outputs): (&[i8], usize, usize),
        bias: Option<usize>,
        scales: &[f32],
        (input, output): (QParams, QParams),
        activation: Activation,
    ) -> Result<LayerValues, ImportError> {
        let b = match bias {
            Some(t) => self.tensor(t).data_i32().unwrap_or_default(),
            None => vec![0; outputs],
        };
        let short = |tensor, what| self.fail(k, Problem::Shape { tensor, what });
        if Some(weight.len()) != len.checked_mul(outputs) {
            return Err(short(
                self.model.operators[k].inputs[1].unwrap_or(0),
                "weight data is not the size of the filters",
            ));
        }
        if b.len() != outputs {
            return Err(short(
                bias.unwrap_or(0),
                "bias is not int32 data of one value per output channel",
            ));
        }
        if scales.len() != outputs {
            return Err(short(
                self.model.operators[k].inputs[1].unwrap_or(0),
                "not one weight scale per output channel",
            ));
        }
        let mut folded = Vec::with_capacity(outputs);
        let mut multiplier = Vec::with_capacity(outputs);
        let mut shift = Vec::with_capacity(outputs);
        let mut dead = Vec::new();
        for o in 0..outputs {
            let row = &weight[o * len..(o + 1) * len];
            let sum: i64 = row.iter().map(|&w| i64::from(w)).sum();
            let v = i64::from(b[o]) - i64::from(input.zero_point) * sum;
            folded.push(i32::try_from(v).map_err(|_| {
                self.fail(
                    k,
                    Problem::Option("a bias with the input zero point folded in exceeds 32 bits"),
                )
            })?);
            // As TensorFlow Lite Micro: the scales are floats, the rescale a double.
            let real = f64::from(input.scale) * f64::from(scales[o]) / f64::from(output.scale);
            let (m, e) = quantize_multiplier(real);
            if m == 0 && real > 0.0 {
                // Below 2⁻³², TensorFlow Lite flushes the multiplier to 0: the channel
                // outputs its zero point, whatever its sum. Zero weights and bias with a
                // valid multiplier compute the same.
                dead.push(o);
                folded[o] = 0;
                multiplier.push(1 << 30);
                shift.push(0);
                continue;
            }
            if m < 1 << 30 || !(-31..=30).contains(&e) {
                return Err(self.fail(
                    k,
                    Problem::Option(
                        "a channel's rescale s_in·s_w/s_out is not a finite positive number",
                    ),
                ));
            }
            multiplier.push(m);
            shift.push(e);
        }
        let mut weight = weight.to_vec();
        for &o in &dead {
            weight[o * len..(o + 1) * len].fill(0);
        }
        Ok(LayerValues {
            operator: k,
            kind: "",
            ty: String::new(),
            stored: true,
            ctor: "",
            shapes: Vec::new(),
            input: Shape::SCALAR,
            output: Shape::SCALAR,
            tensors: vec![
                ("weight", Data::I8(weight)),
                ("bias", Data::I32(folded)),
                ("multiplier", Data::I32(multiplier)),
                ("shift", Data::I32(shift)),
            ],
            attrs: io_attrs(input, output, activation_range(activation, output)),
            macs: 0,
        })
    }
}

/// The shapes of a weighted layer's tensors: its weights, then bias, multiplier and shift
/// of one value per output channel.
fn weighted_shapes(weight: Shape, outputs: usize) -> Vec<Shape> {
    vec![
        weight,
        Shape::vector(outputs),
        Shape::vector(outputs),
        Shape::vector(outputs),
    ]
}

/// A weight tensor's scale per output channel (the per-tensor scale repeated).
fn weight_scales(w: &Tensor, outputs: usize) -> Vec<f32> {
    match &w.quantization {
        Quantization::PerAxis { scales, .. } => scales.clone(),
        Quantization::PerTensor { scale, .. } => vec![*scale; outputs],
        Quantization::None => vec![1.0; outputs],
    }
}
