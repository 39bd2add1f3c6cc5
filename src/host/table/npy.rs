//! The NumPy `.npy` header (magic, version, header length, the Python dict literal) and
//! element types, read without a Python or pickle reader.

use std::format;
use std::prelude::rust_2024::*;

use std::fmt;
use std::path::PathBuf;

use super::TableError;
use crate::format::sniff::sniff;

/// The first six bytes of every `.npy` file.
pub(super) const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// The element types of a `.npy` file this reader converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NpyType {
    F32,
    F64,
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    Bool,
}

impl NpyType {
    /// From a `descr` such as `<f4`, `>i2`, `|u1`, `|b1`.
    fn from_descr(descr: &str) -> Option<(NpyType, bool)> {
        let (order, code) = descr.split_at_checked(1)?;
        let big = match order {
            "<" | "|" => false,
            ">" => true,
            _ => return None,
        };
        let t = match code {
            "f4" => NpyType::F32,
            "f8" => NpyType::F64,
            "i1" => NpyType::I8,
            "u1" => NpyType::U8,
            "i2" => NpyType::I16,
            "u2" => NpyType::U16,
            "i4" => NpyType::I32,
            "u4" => NpyType::U32,
            "i8" => NpyType::I64,
            "u8" => NpyType::U64,
            "b1" | "?" => NpyType::Bool,
            _ => return None,
        };
        // `|` is numpy's mark for types whose byte order does not matter.
        (order != "|" || t.size() == 1).then_some((t, big))
    }

    fn size(self) -> usize {
        match self {
            NpyType::I8 | NpyType::U8 | NpyType::Bool => 1,
            NpyType::I16 | NpyType::U16 => 2,
            NpyType::F32 | NpyType::I32 | NpyType::U32 => 4,
            NpyType::F64 | NpyType::I64 | NpyType::U64 => 8,
        }
    }
}

/// An element type with its byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Elem {
    kind: NpyType,
    big_endian: bool,
}

impl Elem {
    pub(super) fn size(self) -> usize {
        self.kind.size()
    }

    /// The element's value in f64 (exact for every type but the 64-bit integers), and
    /// whether it is a finite `f32`.
    pub(super) fn decode(self, b: &[u8]) -> (f64, bool) {
        let mut raw = [0u8; 8];
        raw[..b.len()].copy_from_slice(b);
        if self.big_endian {
            raw[..b.len()].reverse();
        }
        let u16s = u16::from_le_bytes([raw[0], raw[1]]);
        let u32s = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let u64s = u64::from_le_bytes(raw);
        let v = match self.kind {
            NpyType::F32 => f64::from(f32::from_bits(u32s)),
            NpyType::F64 => f64::from_bits(u64s),
            NpyType::I8 => f64::from(raw[0] as i8),
            NpyType::U8 => f64::from(raw[0]),
            NpyType::Bool => f64::from(u8::from(raw[0] != 0)),
            NpyType::I16 => f64::from(u16s as i16),
            NpyType::U16 => f64::from(u16s),
            NpyType::I32 => f64::from(u32s as i32),
            NpyType::U32 => f64::from(u32s),
            NpyType::I64 => u64s as i64 as f64,
            NpyType::U64 => u64s as f64,
        };
        (v, (v as f32).is_finite())
    }
}

/// What a `.npy` header says.
pub(super) struct NpyHeader {
    /// The element type.
    pub(super) dtype: Elem,
    /// Whether the data is stored column by column.
    pub(super) fortran_order: bool,
    /// The dimensions.
    pub(super) shape: Vec<u64>,
    /// Offset of the `shape` value in the file.
    pub(super) shape_offset: u64,
    /// Offset of the first element.
    pub(super) data_start: usize,
}

/// A fault of a `.npy` header, before the file's name is attached.
pub(super) enum NpyFault {
    NotNpy(Option<&'static str>),
    Version(u8, u8),
    Header(u64, String),
    Dtype(u64, String),
    Truncated(u64, u64),
}

impl NpyFault {
    pub(super) fn with_file(self, file: PathBuf) -> TableError {
        match self {
            NpyFault::NotNpy(looks_like) => TableError::NotNpy { file, looks_like },
            NpyFault::Version(major, minor) => TableError::Version { file, major, minor },
            NpyFault::Header(offset, fault) => TableError::NpyHeader {
                file,
                offset,
                fault,
            },
            NpyFault::Dtype(offset, descr) => TableError::Dtype {
                file,
                offset,
                descr,
            },
            NpyFault::Truncated(expected, found) => TableError::Truncated {
                file,
                expected,
                found,
            },
        }
    }
}

/// Reads the magic, version, header length and header dict of a `.npy` file.
pub(super) fn parse_npy_header(bytes: &[u8]) -> Result<NpyHeader, NpyFault> {
    if !bytes.starts_with(NPY_MAGIC) {
        // A prefix of the magic is a file cut short, not another format.
        if !bytes.is_empty() && NPY_MAGIC.starts_with(bytes) {
            return Err(NpyFault::Truncated(10, bytes.len() as u64));
        }
        return Err(NpyFault::NotNpy(sniff(bytes)));
    }
    let truncated = |expected: usize| NpyFault::Truncated(expected as u64, bytes.len() as u64);
    let (major, minor) = match bytes.get(6..8) {
        Some(&[major, minor]) => (major, minor),
        _ => return Err(truncated(10)),
    };
    let (len, start) = match major {
        1 => {
            let b = bytes.get(8..10).ok_or(truncated(10))?;
            (usize::from(u16::from_le_bytes([b[0], b[1]])), 10usize)
        }
        2 | 3 => {
            let b = bytes.get(8..12).ok_or(truncated(12))?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        _ => return Err(NpyFault::Version(major, minor)),
    };
    if minor != 0 {
        return Err(NpyFault::Version(major, minor));
    }
    let end = start.checked_add(len).ok_or(truncated(usize::MAX))?;
    let text = bytes.get(start..end).ok_or(truncated(end))?;
    let mut p = DictParser {
        s: text,
        pos: 0,
        base: start as u64,
    };
    let dict = p.dict()?;
    let get = |key: &str| {
        dict.iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, offset, v)| (*offset, v))
            .ok_or_else(|| NpyFault::Header(start as u64, format!("it has no '{key}' entry")))
    };
    let (offset, descr) = get("descr")?;
    let dtype = match descr {
        PyValue::Str(s) => {
            NpyType::from_descr(s).map(|(kind, big_endian)| Elem { kind, big_endian })
        }
        _ => None,
    }
    .ok_or_else(|| NpyFault::Dtype(offset, descr.to_string()))?;
    let (offset, order) = get("fortran_order")?;
    let PyValue::Bool(fortran_order) = *order else {
        return Err(NpyFault::Header(
            offset,
            format!("'fortran_order' is {order}, not True or False"),
        ));
    };
    let (shape_offset, shape) = get("shape")?;
    let PyValue::Tuple(shape) = shape else {
        return Err(NpyFault::Header(
            shape_offset,
            format!("'shape' is {shape}, not a tuple of integers"),
        ));
    };
    Ok(NpyHeader {
        dtype,
        fortran_order,
        shape: shape.clone(),
        shape_offset,
        data_start: end,
    })
}

/// A value of the header dict.
#[derive(Debug)]
enum PyValue {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
    /// Anything else (a list, a number…), as written.
    Other(String),
}

impl fmt::Display for PyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PyValue::Str(s) => write!(f, "'{s}'"),
            PyValue::Bool(b) => write!(f, "{}", if *b { "True" } else { "False" }),
            PyValue::Tuple(t) => write!(f, "{t:?}"),
            PyValue::Other(s) => write!(f, "{s}"),
        }
    }
}

/// A reader of the Python dict literal of a `.npy` header: string keys; values that are
/// strings, `True`/`False`, tuples of integers, or anything else kept as text.
struct DictParser<'a> {
    s: &'a [u8],
    pos: usize,
    /// Offset of `s` in the file.
    base: u64,
}

impl DictParser<'_> {
    fn fault(&self, what: String) -> NpyFault {
        NpyFault::Header(self.base + self.pos as u64, what)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), NpyFault> {
        self.skip_space();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.fault(format!("expected `{}`, found {}", c as char, self.found())))
        }
    }

    fn found(&self) -> String {
        match self.peek() {
            Some(c) if c.is_ascii_graphic() => format!("`{}`", c as char),
            Some(c) => format!("byte {c:#04x}"),
            None => "the end of the header".into(),
        }
    }

    /// `{key: value, …}`, with the offset of each value.
    fn dict(&mut self) -> Result<Vec<(String, u64, PyValue)>, NpyFault> {
        self.expect(b'{')?;
        let mut entries = Vec::new();
        loop {
            self.skip_space();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                break;
            }
            let key = self.string()?;
            self.expect(b':')?;
            self.skip_space();
            let offset = self.base + self.pos as u64;
            let value = self.value()?;
            entries.push((key, offset, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => {
                    return Err(self.fault(format!("expected `,` or `}}`, found {}", self.found())));
                }
            }
        }
        self.skip_space();
        if self.pos < self.s.len() {
            return Err(self.fault(format!("{} after the dict", self.found())));
        }
        Ok(entries)
    }

    fn string(&mut self) -> Result<String, NpyFault> {
        self.skip_space();
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(self.fault(format!("expected a quoted string, found {}", self.found())));
            }
        };
        let start = self.pos + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == quote)
            .ok_or_else(|| self.fault("a string is not closed".into()))?;
        self.pos = start + len + 1;
        // Latin-1 (versions 1 and 2) and UTF-8 (version 3) agree on ASCII, all numpy writes.
        Ok(self.s[start..start + len]
            .iter()
            .map(|&c| c as char)
            .collect())
    }

    fn value(&mut self) -> Result<PyValue, NpyFault> {
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(PyValue::Str),
            Some(b'(') => self.tuple(),
            _ => {
                for (word, value) in [("True", true), ("False", false)] {
                    if self.s[self.pos..].starts_with(word.as_bytes()) {
                        self.pos += word.len();
                        return Ok(PyValue::Bool(value));
                    }
                }
                self.other()
            }
        }
    }

    /// `(3, 4)`, `(3,)`, `()`; Python 2's `3L` accepted.
    fn tuple(&mut self) -> Result<PyValue, NpyFault> {
        let start = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                Some(b')') => {
                    self.pos += 1;
                    return Ok(PyValue::Tuple(items));
                }
                Some(c) if c.is_ascii_digit() => {
                    let digits = self.s[self.pos..]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                    let text = &self.s[self.pos..self.pos + digits];
                    let n = std::str::from_utf8(text)
                        .ok()
                        .and_then(|t| t.parse::<u64>().ok())
                        .ok_or_else(|| self.fault("a dimension beyond 2⁶⁴".into()))?;
                    items.push(n);
                    self.pos += digits;
                    if self.peek() == Some(b'L') {
                        self.pos += 1;
                    }
                    self.skip_space();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b')') => {}
                        _ => {
                            return Err(self.fault(format!(
                                "expected `,` or `)` in the shape, found {}",
                                self.found()
                            )));
                        }
                    }
                }
                _ => {
                    self.pos = start;
                    return self.other();
                }
            }
        }
    }

    /// Any other value, kept as text up to the `,` or `}` that ends it at depth 0.
    fn other(&mut self) -> Result<PyValue, NpyFault> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote = None;
        while let Some(c) = self.peek() {
            match (quote, c) {
                (Some(q), _) if c == q => quote = None,
                (Some(_), _) => {}
                (None, b'\'' | b'"') => quote = Some(c),
                (None, b'(' | b'[' | b'{') => depth += 1,
                (None, b')' | b']' | b'}') if depth > 0 => depth -= 1,
                (None, b',' | b'}') if depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        let text: String = self.s[start..self.pos].iter().map(|&c| c as char).collect();
        let text = text.trim_end().to_owned();
        if text.is_empty() {
            return Err(self.fault(format!("expected a value, found {}", self.found())));
        }
        Ok(PyValue::Other(text))
    }
}
