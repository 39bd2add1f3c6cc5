//! The one checker: a file against a network type, in one strict pass, and a network's
//! values against the rules of its specs. The writer runs the second before it writes,
//! the readers the first before they copy or borrow, and both apply the same [`Rule`]s, so
//! every file a writer produces loads, and a damaged one is refused by name.
//!
//! A file stores every layer's attributes and tensors in the order of the layer's spec
//! (tensors section by section: the network, the optimizer's moments of the learned
//! tensors, the best weights), so the checker reads each record once, front to back,
//! comparing each field with what the spec expects. It needs no text, no search and no
//! second pass, which keeps a device's code small.

use super::error::{ErrorCode, FormatError, Malformation};
use super::file::{File, Header, Sections, u8_at, u32_at};
use super::layout::{
    ATTR_FIXED, ATTR_VALUE_AT, FileKind, HEADER_LEN, Head, NAME_LEN_AT, Section, TENSOR_BYTES_AT,
    TENSOR_FIXED, kind_signature, name_len, padded,
};
use crate::spec::{Attr, AttrSpec, Describe, Dtype, LayerData, LayerSpec, Rule, TensorSpec};

/// The rule of a tensor in `section`: the spec's for the network and the best weights;
/// the moments' own (a second moment is never negative).
pub(crate) const fn section_rule(spec: &TensorSpec, section: Section) -> Rule {
    match section {
        Section::Network | Section::Best => spec.rule,
        Section::FirstMoment => Rule::Finite,
        Section::SecondMoment => Rule::NonNegative,
    }
}

/// Whether a layer record holds tensor `t` in `section`.
pub(crate) fn wanted(t: &TensorSpec, section: Section) -> bool {
    !section.learned_only() || t.learned
}

/// The error for a value of layer `layer` that breaks its rule.
pub(crate) fn breaking(
    code: ErrorCode,
    layer: usize,
    name: &'static str,
    rule: Rule,
    dtype: Dtype,
    index: usize,
    bits: u32,
) -> FormatError {
    FormatError::new(code)
        .at(layer)
        .named(name)
        .breaks(rule, dtype, index, bits)
}

/// Attribute `s` of layer `layer`, with the bits `bits`, against its rule and, for an
/// attribute that records the network's structure, the value the type fixes
/// ([`AttrSpec::exact`]).
pub(crate) fn check_attr(layer: usize, s: &'static AttrSpec, bits: u32) -> Result<(), FormatError> {
    if !s.rule.allows_bits(s.dtype, bits) {
        return Err(breaking(
            ErrorCode::AttrValue,
            layer,
            s.name,
            s.rule,
            s.dtype,
            0,
            bits,
        ));
    }
    match s.exact() {
        Some(v) if v as u32 != bits => Err(FormatError::new(ErrorCode::Structure)
            .at(layer)
            .named(s.name)
            .bits(v as u32, bits)),
        _ => Ok(()),
    }
}

/// The ordered pairs of attributes of `layer` (their bits `bits(a)`) are in order.
pub(crate) fn check_order(
    layer: usize,
    spec: &LayerSpec,
    bits: impl Fn(usize) -> u32,
) -> Result<(), FormatError> {
    for &(lo, hi) in spec.ordered {
        let (l, h) = (bits(lo) as i32, bits(hi) as i32);
        if l > h {
            let name = spec.attrs.get(lo).map_or("", |s| s.name);
            return Err(FormatError::new(ErrorCode::AttrOrder)
                .at(layer)
                .named(name)
                .bits(l as u32, h as u32));
        }
    }
    Ok(())
}

/// The output quantization of an int8 layer — the bits of its scale and zero point — or
/// [`UNKNOWN`] where there is none to link to (a plain pair rather than an `Option`, so
/// that following links is a few register moves in an inference-only firmware's reader).
type Quant = [u32; 2];

/// No int8 layer before (a valid scale is never 0, so no layer has these bits).
const UNKNOWN: Quant = [0; 2];

/// The quantization of attributes `at` and `at + 1` of a record.
fn quant(bits: &impl Fn(usize) -> u32, at: usize) -> Quant {
    [bits(at), bits(at + 1)]
}

/// The link into int8 layer `i` of kind `spec`: its input quantization (attributes `at`
/// and `at + 1`: 0 and 1, or a `qadd`'s second operand 6 and 7), `after`, is the output
/// quantization `before` of the layer that feeds it, when that is known.
#[inline(always)]
fn check_link_at(
    i: usize,
    spec: &LayerSpec,
    at: usize,
    before: Quant,
    after: Quant,
) -> Result<(), FormatError> {
    if before == UNKNOWN {
        return Ok(());
    }
    for (k, attr) in spec.attrs.iter().skip(at).take(2).enumerate() {
        let (o, n) = (before[k & 1], after[k & 1]);
        if o != n {
            return Err(FormatError::new(ErrorCode::Link)
                .at(i)
                .named(attr.name)
                .bits(o, n)
                .detail(attr.dtype.code()));
        }
    }
    Ok(())
}

/// A residual block being read: its input's quantization, where its shortcut and its
/// `add` entry are, and its body's output quantization once the shortcut starts.
#[derive(Clone, Copy, Debug)]
struct Block {
    input: Quant,
    body_out: Quant,
    shortcut_at: usize,
    add_at: usize,
}

/// The quantization links between int8 layers, front to back: each int8 layer's input
/// quantization is the output quantization of the int8 layer before it — and through a
/// residual block (a `residual` entry, its body's entries, its shortcut's, its `add`),
/// the body's first layer and the shortcut's first layer both take the block's input, and
/// a `qadd` takes the body's output (attributes 0 and 1) and the shortcut's (attributes 6
/// and 7; the block's input for the identity).
///
/// One block is followed at a time, which serves the usual networks (ResNet, MobileNetV2:
/// blocks in sequence) and keeps the reader small; inside a block nested in another, the
/// links are not checked (everything else is).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Links {
    /// The output quantization of the int8 layer before, or [`UNKNOWN`].
    before: Quant,
    /// The block being followed.
    open: Option<Block>,
    /// The `add` entry of a nested block whose links are not followed (0: none).
    blind_until: usize,
}

impl Links {
    /// At the input.
    pub(crate) const fn new() -> Self {
        Links {
            before: UNKNOWN,
            open: None,
            blind_until: 0,
        }
    }

    /// Checks layer `i` of kind `spec`, whose attribute `a` has the bits `bits(a)`, against
    /// the layers before it, and moves past it.
    #[inline(never)]
    pub(crate) fn step(
        &mut self,
        i: usize,
        spec: &LayerSpec,
        bits: impl Fn(usize) -> u32,
    ) -> Result<(), FormatError> {
        let opens = is_residual(spec).then(|| block_span(i, spec));
        if i <= self.blind_until {
            // Inside a nested block: nothing is checked until its add, whose output the
            // layers after it take.
            if let Some((_, add_at)) = opens {
                self.blind_until = self.blind_until.max(add_at);
            }
            let end = i == self.blind_until && spec.int8_io;
            self.before = if end { quant(&bits, 2) } else { UNKNOWN };
            return Ok(());
        }
        // The second operand of a block's `add`, when layer `i` closes the block.
        let mut skip = UNKNOWN;
        if let Some(block) = &mut self.open {
            if i == block.add_at {
                // The add: the body's output, and the shortcut's (or the block's input).
                skip = block.input;
                if block.shortcut_at != block.add_at {
                    skip = self.before;
                    self.before = block.body_out;
                }
            } else if i == block.shortcut_at {
                // The shortcut starts: it takes the block's input.
                block.body_out = self.before;
                self.before = block.input;
            }
        }
        if self.open.is_some_and(|b| b.add_at == i) {
            self.open = None;
        }
        if spec.int8_io {
            check_link_at(i, spec, 0, self.before, quant(&bits, 0))?;
            if skip != UNKNOWN {
                check_link_at(i, spec, 6, skip, quant(&bits, 6))?;
            }
        }
        self.before = match opens {
            Some((shortcut_at, add_at)) if self.open.is_none() => {
                self.open = Some(Block {
                    input: self.before,
                    body_out: UNKNOWN,
                    shortcut_at,
                    add_at,
                });
                self.before
            }
            Some((_, add_at)) => {
                self.blind_until = add_at;
                UNKNOWN
            }
            None if spec.int8_io => quant(&bits, 2),
            None => UNKNOWN,
        };
        Ok(())
    }
}

/// Where the shortcut and the `add` entry of the residual block that `spec`, entry `i`,
/// opens are: from its branches' entry counts, which the type fixes.
fn block_span(i: usize, spec: &LayerSpec) -> (usize, usize) {
    let count = |a: usize| {
        let n = spec.attrs.get(a).and_then(|s| s.exact()).unwrap_or(0);
        usize::try_from(n).unwrap_or(0)
    };
    let shortcut_at = i + 1 + count(0);
    (shortcut_at, shortcut_at + count(1))
}

/// How a [`Walk`] follows the links into layer `i`.
type Linker = fn(&mut Links, usize, &LayerSpec, &Checked<'_>) -> Result<(), FormatError>;

/// [`Links::step`]: through residual blocks.
fn link_blocks(
    links: &mut Links,
    i: usize,
    spec: &LayerSpec,
    checked: &Checked<'_>,
) -> Result<(), FormatError> {
    links.step(i, spec, |a| checked.attr_bits(a))
}

/// The links of a network without residual blocks: each int8 layer's input is the output
/// of the int8 layer before it.
#[inline(always)]
fn link_chain(
    links: &mut Links,
    i: usize,
    spec: &LayerSpec,
    checked: &Checked<'_>,
) -> Result<(), FormatError> {
    let bits = |a| checked.attr_bits(a);
    links.before = if spec.int8_io {
        check_link_at(i, spec, 0, links.before, quant(&bits, 0))?;
        quant(&bits, 2)
    } else {
        UNKNOWN
    };
    Ok(())
}

/// Whether `spec` opens a residual block (kind `residual`), compared as one word rather
/// than through `memcmp`: the file checker of an inference-only firmware stays small.
fn is_residual(spec: &LayerSpec) -> bool {
    let kind = spec.kind.as_bytes();
    kind.len() == 8
        && kind.first_chunk::<8>().map(|k| u64::from_le_bytes(*k))
            == Some(u64::from_le_bytes(*b"residual"))
}

/// A layer record, checked against its spec: where its attributes and tensors are, to
/// read them by position (in spec order) without checking again. Small, so that it moves
/// in registers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Checked<'a> {
    record: &'a [u8],
    attrs_at: usize,
    tensors_at: usize,
}

impl<'a> Checked<'a> {
    /// The bits of attribute `a` (0 past the end).
    pub(crate) fn attr_bits(&self, a: usize) -> u32 {
        let mut pos = self.attrs_at;
        for _ in 0..a {
            pos +=
                ATTR_FIXED + padded(u32_at(self.record, pos + NAME_LEN_AT) as usize).unwrap_or(0);
        }
        u32_at(self.record, pos + ATTR_VALUE_AT)
    }

    /// Attribute `a` as the spec's type.
    pub(crate) fn attr(&self, spec: &LayerSpec, a: usize) -> Option<Attr> {
        Attr::from_bits(spec.attrs.get(a)?.dtype, self.attr_bits(a))
    }

    /// The data of tensor `k` of the record (empty past the end).
    pub(crate) fn tensor(&self, k: usize) -> &'a [u8] {
        let mut tensors = self.tensors();
        for _ in 0..k {
            tensors.next();
        }
        tensors.next().unwrap_or_default()
    }

    /// The data of the record's tensors, in order.
    pub(crate) fn tensors(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let (record, mut pos) = (self.record, self.tensors_at);
        core::iter::from_fn(move || {
            let name = padded(u32_at(record, pos + NAME_LEN_AT) as usize).unwrap_or(0);
            let len = u32_at(record, pos + TENSOR_BYTES_AT) as usize;
            let at = pos + TENSOR_FIXED + name;
            let data = record.get(at..at + len)?;
            pos = at + padded(len).unwrap_or(0);
            Some(data)
        })
    }
}

/// What a difference in a word of a record's fixed part ([`Head::word`]) means.
#[derive(Clone, Copy, Debug)]
enum Means {
    /// The layer's kind (the name's length).
    Kind,
    /// An error with this code, the word's values expected and found.
    Code(ErrorCode),
    /// The number of attributes.
    Attrs,
    /// The number of tensors.
    Tensors,
    /// The layer's shapes: [`ErrorCode::LayerShape`] with this detail.
    LayerShape(u8),
    /// A tensor's rank (`u8::MAX`) or dimension.
    Dim(u8),
}

/// The detail of [`ErrorCode::LayerShape`]: the input (`side` 0) or output (1), and its
/// rank (`dim` 0) or dimension `dim − 1`.
const fn layer_shape(side: u8, dim: u8) -> Means {
    Means::LayerShape(side + 2 * dim)
}

/// The meaning of each word of a layer record (the length, word 0, is checked last: a
/// record whose contents are the network's but whose length is not is malformed).
const LAYER_WORDS: [Means; 14] = [
    Means::Kind,
    Means::Kind,
    layer_shape(0, 0),
    layer_shape(0, 1),
    layer_shape(0, 2),
    layer_shape(0, 3),
    layer_shape(0, 4),
    layer_shape(1, 0),
    layer_shape(1, 1),
    layer_shape(1, 2),
    layer_shape(1, 3),
    layer_shape(1, 4),
    Means::Attrs,
    Means::Tensors,
];

/// The meaning of each word of an attribute record but the value.
const ATTR_WORDS: [Means; 2] = [Means::Code(ErrorCode::Attr); 2];

/// The meaning of each word of a tensor record.
const TENSOR_WORDS: [Means; 10] = [
    Means::Code(ErrorCode::MissingTensor),
    Means::Code(ErrorCode::MissingTensor),
    Means::Code(ErrorCode::TensorKind),
    Means::Code(ErrorCode::Dtype),
    Means::Dim(u8::MAX),
    Means::Dim(0),
    Means::Dim(1),
    Means::Dim(2),
    Means::Dim(3),
    Means::Code(ErrorCode::DataLength),
];

/// `len` bytes at `at` of `r` are zero.
fn zeros(r: &[u8], at: usize, len: usize) -> bool {
    r.get(at..at + len)
        .is_some_and(|z| z.iter().all(|&b| b == 0))
}

/// The strict reader of a file's layer records against a network's specs, front to back
/// (what [`view`](super::view) and [`load`](super::load) run; opaque).
#[derive(Debug)]
pub struct Walk<'a> {
    body: &'a [u8],
    pos: usize,
    index: usize,
    sections: Sections,
    /// The links between int8 layers so far.
    links: Links,
    /// How they are followed: [`link_blocks`] for a network with residual blocks,
    /// `None` for [`link_chain`] (chosen when the walk starts, from the network's type).
    link: Option<Linker>,
    /// Why [`next`](Self::next) or a view's construction last failed.
    pub(crate) error: FormatError,
}

impl<'a> Walk<'a> {
    /// A walk over the layer records of the file `head`, for a network that holds
    /// residual blocks if `blocks` ([`Describe::BLOCKS`](crate::spec::Describe::BLOCKS)).
    /// Always inlined: with `blocks` a constant, only the linker it names is linked in.
    #[inline(always)]
    pub(crate) fn new(head: &Header<'a>, blocks: bool) -> Self {
        Walk {
            body: head.body,
            pos: HEADER_LEN,
            index: 0,
            sections: head.sections(),
            links: Links::new(),
            link: if blocks { Some(link_blocks) } else { None },
            error: FormatError::new(ErrorCode::LayerCount),
        }
    }

    /// [`next`](Self::next) as a `Result`.
    pub(crate) fn layer(&mut self, spec: &'static LayerSpec) -> Result<Checked<'a>, FormatError> {
        self.next(spec).ok_or(self.error)
    }

    /// Records `e` as the reason the walk stopped.
    #[cold]
    #[inline(never)]
    fn fail<T>(&mut self, e: FormatError) -> Option<T> {
        self.error = e;
        None
    }

    /// The next layer record, checked against `spec` (and linked to the one before):
    /// kind, shapes, attributes (names, types, values, order), tensors (kinds, names,
    /// types, shapes, lengths, values), padding and reserved bytes, and the record's length.
    ///
    /// The writer's encoding ([`Head`]) gives the words every fixed part must have, so each
    /// is compared as a whole; only a refused record is taken apart, field by field, to say
    /// what differs. Never inlined: one frame serves every layer (a device's stack pays for
    /// every copy).
    #[inline(never)]
    pub(crate) fn next(&mut self, spec: &'static LayerSpec) -> Option<Checked<'a>> {
        let (start, i) = (self.pos, self.index);
        let r = self.body.get(start..).unwrap_or_default();
        let all = self.sections;
        let sections = all.as_slice();
        let tensors = sections
            .iter()
            .map(|&s| spec.tensors.iter().filter(|t| wanted(t, s)).count())
            .sum();
        // Everything but the length, and the kind's name; then the attributes.
        let layer = Head::Layer(spec, tensors);
        let attrs_at = self.record(r, 0, layer, &LAYER_WORDS, None)?;
        let mut pos = attrs_at;
        for s in spec.attrs {
            pos = self.record(r, pos, Head::Attr(s, 0), &ATTR_WORDS, None)?;
        }
        let checked = Checked {
            record: r,
            attrs_at,
            tensors_at: pos,
        };
        if let Err(e) = check_order(i, spec, |a| checked.attr_bits(a)) {
            return self.fail(e);
        }
        let linked = match self.link {
            Some(link) => link(&mut self.links, i, spec, &checked),
            None => link_chain(&mut self.links, i, spec, &checked),
        };
        if let Err(e) = linked {
            return self.fail(e);
        }
        // Tensors, section by section, in spec order.
        for &section in sections {
            for t in spec.tensors.iter().filter(|t| wanted(t, section)) {
                pos = self.record(
                    r,
                    pos,
                    Head::Tensor(section, t),
                    &TENSOR_WORDS,
                    Some(section),
                )?;
                pos = self.tensor(r, pos, t, section)?;
            }
        }
        // The length last: a record whose contents are the network's but whose length
        // field is not is malformed.
        let len = pos;
        if u32_at(r, 0) as usize != len {
            return self.fail(FormatError::malformed(start, Malformation::RecordLength));
        }
        self.pos = start + len;
        self.index += 1;
        Some(Checked {
            record: r.get(..len).unwrap_or_default(),
            ..checked
        })
    }

    /// The record at `at` of `r`, checked as `head` (each word whose meaning `means` gives,
    /// but a layer's length, then the name and its padding): the position after the name.
    #[inline(never)]
    fn record(
        &mut self,
        r: &[u8],
        at: usize,
        head: Head<'static>,
        means: &[Means],
        section: Option<Section>,
    ) -> Option<usize> {
        // A layer's length (word 0) is checked last.
        let from = usize::from(matches!(head, Head::Layer(..)));
        let name = head.name().as_bytes();
        let name_at = at + 4 * head.words();
        let same = (from..means.len()).all(|w| u32_at(r, at + 4 * w) == head.word(w))
            && name
                .iter()
                .enumerate()
                .all(|(k, &b)| u8_at(r, name_at + k) == b);
        if !same {
            return self.refuse(r, at, head, from, means, section);
        }
        let pad = name_at + name.len();
        if !zeros(r, pad, name_len(head.name()) - name.len()) {
            return self.fail(FormatError::malformed(
                self.pos + pad,
                Malformation::Padding,
            ));
        }
        if let Head::Attr(s, _) = head
            && let Err(e) = check_attr(self.index, s, u32_at(r, at + ATTR_VALUE_AT))
        {
            return self.fail(e);
        }
        Some(at + head.len())
    }

    /// The data at `at` of `r` of tensor `t` of `section`, whose record's fixed part and
    /// name are checked: its length, zero padding and values. The position after it.
    #[inline(never)]
    fn tensor(
        &mut self,
        r: &[u8],
        at: usize,
        t: &'static TensorSpec,
        section: Section,
    ) -> Option<usize> {
        let len = t.bytes();
        let end = padded(len).map_or(usize::MAX, |p| at.saturating_add(p));
        let Some(data) = r.get(at..at + len).filter(|_| end <= r.len()) else {
            return self.fail(FormatError::malformed(self.pos + at, Malformation::Overrun));
        };
        if !zeros(r, at + len, end - at - len) {
            return self.fail(FormatError::malformed(
                self.pos + at + len,
                Malformation::Padding,
            ));
        }
        let rule = section_rule(t, section);
        if rule != Rule::Any {
            let size = t.dtype.size();
            for (index, v) in data.chunks_exact(size).enumerate() {
                let bits = match size {
                    1 => u8_at(v, 0) as i8 as u32,
                    _ => u32_at(v, 0),
                };
                if !rule.allows_bits(t.dtype, bits) {
                    let e = breaking(
                        ErrorCode::Value,
                        self.index,
                        t.name,
                        rule,
                        t.dtype,
                        index,
                        bits,
                    );
                    return self.fail(e.in_section(section));
                }
            }
        }
        Some(end)
    }

    /// Records why the record at `at` of `r` is not the one expected, `head`: the first
    /// word from `from` on that differs, whose meaning `means` gives (or else the name),
    /// said as an error of the current layer about the record's name (in `section`). Off
    /// the path of a file that loads.
    #[cold]
    #[inline(never)]
    fn refuse<T>(
        &mut self,
        r: &[u8],
        at: usize,
        head: Head<'static>,
        from: usize,
        means: &[Means],
        section: Option<Section>,
    ) -> Option<T> {
        let found = |w: usize| u32_at(r, at + 4 * w);
        // The fixed part is the expected one: the name differs, which for a layer is its
        // kind, for an attribute or a tensor another one in its place.
        let w = (from..means.len())
            .find(|&w| found(w) != head.word(w))
            .unwrap_or(from);
        let (exp, got) = (head.word(w), found(w));
        let mut e = FormatError::new(ErrorCode::MissingTensor)
            .at(self.index)
            .named(head.name())
            .bits(exp, got);
        if let Some(s) = section {
            e = e.in_section(s);
        }
        self.error = match means.get(w).copied().unwrap_or(Means::Kind) {
            Means::Kind => {
                let kind_at = at + 4 * head.words();
                let kind_end = kind_at.saturating_add(found(1) as usize);
                let kind = r.get(kind_at..kind_end).unwrap_or_default();
                e.with_code(ErrorCode::LayerKind)
                    .bits(0, kind_signature(kind))
            }
            Means::Code(c) => e.with_code(c),
            Means::Attrs => e.with_code(ErrorCode::Attr).detail(1),
            Means::Tensors if got > exp => e.with_code(ErrorCode::UnexpectedTensor).detail(1),
            Means::Tensors => e.detail(1),
            Means::LayerShape(d) => e.with_code(ErrorCode::LayerShape).detail(d),
            Means::Dim(d) => e.with_code(ErrorCode::Shape).detail(d),
        };
        None
    }

    /// Checks that nothing follows the layer records of a file without scalars.
    pub(crate) fn finish(&self) -> Result<(), FormatError> {
        if self.pos == self.body.len() {
            Ok(())
        } else {
            Err(FormatError::malformed(self.pos, Malformation::Trailing))
        }
    }

    /// Where the layer records end (the scalars of a checkpoint start).
    pub(crate) fn end(&self) -> usize {
        self.pos
    }
}

/// Checks the kind of file against `kinds` and its number of layers against `layers`.
pub(crate) fn check_kind(
    head: &Header<'_>,
    kinds: &[FileKind],
    layers: usize,
) -> Result<(), FormatError> {
    if !kinds.contains(&head.kind) {
        let expected = kinds.first().map_or(0, |k| k.code());
        return Err(
            FormatError::new(ErrorCode::FileKind).values(expected.into(), head.kind.code().into())
        );
    }
    if head.layers != layers {
        return Err(FormatError::new(ErrorCode::LayerCount).values(layers, head.layers));
    }
    Ok(())
}

/// Checks every layer record of `head` against `N`'s specs, and that nothing but the
/// checkpoint's scalars follows them; returns where the scalars start.
pub(crate) fn check_layers<N: Describe>(head: &Header<'_>) -> Result<usize, FormatError> {
    let mut walk = Walk::new(head, N::BLOCKS);
    for i in 0..N::LAYERS {
        let spec = N::layer_spec(i).ok_or(FormatError::new(ErrorCode::LayerCount))?;
        walk.layer(spec)?;
    }
    // A checkpoint's scalars are checked whatever reads it (a float network loads from a
    // checkpoint too, and must not from a damaged one).
    super::file::check_scalars(head, walk.end())?;
    Ok(walk.end())
}

impl File<'_> {
    /// Checks that the file holds a network of type `N`: its kind is one of `kinds`, then
    /// the number of layers, and every layer record front to back — kind, shapes,
    /// attributes (names, types, values), every tensor of every section the file holds
    /// (kind, name, element type, shape, data length, values), in spec order and nothing
    /// more — with the links between int8 layers.
    ///
    /// # Errors
    /// [`FileKind`](ErrorCode::FileKind), [`LayerCount`](ErrorCode::LayerCount),
    /// [`LayerKind`](ErrorCode::LayerKind), [`LayerShape`](ErrorCode::LayerShape),
    /// [`Attr`](ErrorCode::Attr), [`AttrValue`](ErrorCode::AttrValue),
    /// [`AttrOrder`](ErrorCode::AttrOrder), [`Structure`](ErrorCode::Structure),
    /// [`Link`](ErrorCode::Link),
    /// [`MissingTensor`](ErrorCode::MissingTensor), [`TensorKind`](ErrorCode::TensorKind),
    /// [`Dtype`](ErrorCode::Dtype), [`Shape`](ErrorCode::Shape),
    /// [`DataLength`](ErrorCode::DataLength), [`Value`](ErrorCode::Value),
    /// [`UnexpectedTensor`](ErrorCode::UnexpectedTensor). Never panics.
    pub fn check<N: Describe>(&self, kinds: &[FileKind]) -> Result<(), FormatError> {
        check_kind(self.head(), kinds, N::LAYERS)?;
        check_layers::<N>(self.head()).map(|_| ())
    }
}

/// Checks the values of `net` by the rules of its specs — every tensor, every attribute,
/// the ordered attributes and the links between int8 layers — as a reader would, so that
/// what is written loads.
pub(crate) fn check_network<N: Describe>(net: &N, section: Section) -> Result<(), FormatError> {
    let mut links = Links::new();
    for i in 0..N::LAYERS {
        let layer = net
            .layer(i)
            .ok_or(FormatError::new(ErrorCode::LayerCount))?;
        let bits = check_layer_values(i, layer, section)?;
        links.step(i, layer.spec(), &bits)?;
    }
    Ok(())
}

/// The values of one layer against its spec; the bits of its attributes.
#[inline(never)]
pub(crate) fn check_layer_values(
    i: usize,
    layer: &dyn LayerData,
    section: Section,
) -> Result<impl Fn(usize) -> u32 + '_, FormatError> {
    let spec = layer.spec();
    for (a, s) in spec.attrs.iter().enumerate() {
        let dtype = layer.attr(a).map(|v| match v {
            Attr::F32(_) => Dtype::F32,
            Attr::I32(_) => Dtype::I32,
        });
        if dtype != Some(s.dtype) {
            return Err(FormatError::new(ErrorCode::Attr).at(i).named(s.name));
        }
    }
    let bits = |a: usize| layer.attr(a).map_or(0, Attr::bits);
    for (a, s) in spec.attrs.iter().enumerate() {
        check_attr(i, s, bits(a))?;
    }
    check_order(i, spec, bits)?;
    for (t, s) in spec.tensors.iter().enumerate() {
        let data = layer.tensor(t).ok_or(
            FormatError::new(ErrorCode::MissingTensor)
                .at(i)
                .named(s.name),
        )?;
        if data.dtype() != s.dtype || data.len() != s.shape.len() {
            return Err(FormatError::new(ErrorCode::DataLength)
                .at(i)
                .named(s.name)
                .values(s.bytes(), data.len().saturating_mul(data.dtype().size())));
        }
        let rule = section_rule(s, section);
        if let Some((index, value)) = data.first_breaking(rule) {
            let bits = match s.dtype {
                Dtype::F32 => (value as f32).to_bits(),
                _ => value as i32 as u32,
            };
            return Err(
                breaking(ErrorCode::Value, i, s.name, rule, s.dtype, index, bits)
                    .in_section(section),
            );
        }
    }
    Ok(bits)
}
