//! A flatbuffer verifier driven by a schema description, and the views that read a verified
//! buffer.
//!
//! The verifier applies the rules of the reference verifier of the `flatbuffers` library
//! (`flatbuffers/verifier.h`): every offset (`uoffset`, 4 bytes, unsigned, non-zero, below
//! 2³¹) is itself 4-aligned and lands inside the buffer; a table's `soffset` to its vtable is
//! 4-aligned and inside; the vtable is 2-aligned, of even size, wholly inside; every field the
//! schema knows lies inside the buffer and is aligned to its size; a vector's length is
//! 4-aligned, its elements fit, and a string also has its terminating zero. Tables nest at
//! most [`MAX_DEPTH`] deep and at most [`MAX_TABLES`] are visited (shared tables count each
//! time), so verification takes time bounded by the buffer and these limits. Fields the
//! schema description does not list are not verified and are never read.
//!
//! After [`verify`] accepted a buffer, the [`Table`] and [`Vector`] views read the fields
//! that were verified without failing. Their reads still go through checked slice access
//! (returning the schema default if a read ever fell outside), so a reading mistake in this
//! module cannot become a panic.

use std::prelude::rust_2024::*;

/// Deepest nesting of tables the verifier follows (the `flatbuffers` default).
pub const MAX_DEPTH: usize = 64;
/// Most tables the verifier visits in one buffer (the `flatbuffers` default).
pub const MAX_TABLES: usize = 1_000_000;
/// Largest buffer a flatbuffer can be (`FLATBUFFERS_MAX_BUFFER_SIZE`, 2³¹ − 1 bytes).
pub const MAX_BUFFER: usize = 0x7FFF_FFFF;

/// Why a buffer is not a valid flatbuffer of the schema: the byte offset where it fails and
/// what is wrong there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed {
    /// Byte offset in the buffer of the offending item.
    pub at: usize,
    /// What is wrong there.
    pub what: &'static str,
}

/// How one field of a table is verified.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// An inline scalar of this many bytes (1, 2, 4 or 8), aligned to its size.
    Scalar(usize),
    /// An offset to a string.
    Str,
    /// An offset to a vector of scalars of this many bytes each.
    Vector(usize),
    /// An offset to a table.
    Table(&'static Schema),
    /// An offset to a vector of offsets to tables.
    Tables(&'static Schema),
    /// The value half of a union: an offset to a table whose schema the type field (the
    /// one-byte field at `type_slot`) selects; a type not listed is not verified.
    Union {
        /// vtable offset of the union's type field.
        type_slot: u16,
        /// The union's members that are verified, by type.
        members: &'static [(u8, &'static Schema)],
    },
}

/// One field of a table: its vtable offset (4 + 2 × field index) and how it is verified.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The field's vtable offset.
    pub slot: u16,
    /// How the field is verified.
    pub kind: Kind,
}

/// A table type: the fields verified.
#[derive(Debug)]
pub struct Schema {
    /// The fields verified.
    pub fields: &'static [Field],
}

/// Verifies `buf` as a flatbuffer whose root table has the schema `root` and whose file
/// identifier (bytes 4..8) is `identifier`; returns the root table.
pub fn verify<'a>(
    buf: &'a [u8],
    identifier: &[u8; 4],
    root: &'static Schema,
) -> Result<Table<'a>, Malformed> {
    if buf.len() >= MAX_BUFFER {
        return Err(Malformed {
            at: 0,
            what: "buffer of 2 GiB or more",
        });
    }
    if buf.len() < 8 {
        return Err(Malformed {
            at: 0,
            what: "buffer shorter than its header (8 bytes)",
        });
    }
    if &buf[4..8] != identifier {
        return Err(Malformed {
            at: 4,
            what: "file identifier is not \"TFL3\"",
        });
    }
    let mut v = Verifier {
        buf,
        depth: 0,
        tables: 0,
    };
    let table = v.offset(0)?;
    v.table(table, root)?;
    Ok(Table { buf, pos: table })
}

struct Verifier<'a> {
    buf: &'a [u8],
    depth: usize,
    tables: usize,
}

impl Verifier<'_> {
    /// `size` bytes at `at`, aligned to `align`, are inside the buffer.
    fn check(
        &self,
        at: usize,
        size: usize,
        align: usize,
        what: &'static str,
    ) -> Result<(), Malformed> {
        if !at.is_multiple_of(align) {
            return Err(Malformed { at, what });
        }
        match at.checked_add(size) {
            Some(end) if end <= self.buf.len() => Ok(()),
            _ => Err(Malformed { at, what }),
        }
    }

    /// The `uoffset` at `at`: where it points.
    fn offset(&self, at: usize) -> Result<usize, Malformed> {
        self.check(at, 4, 4, "offset misaligned or outside the buffer")?;
        let o = read_u32(self.buf, at) as usize;
        if o == 0 || o > i32::MAX as usize {
            return Err(Malformed {
                at,
                what: "offset zero or negative",
            });
        }
        let target = at + o;
        if target >= self.buf.len() {
            return Err(Malformed {
                at,
                what: "offset points outside the buffer",
            });
        }
        Ok(target)
    }

    fn table(&mut self, table: usize, schema: &'static Schema) -> Result<(), Malformed> {
        self.check(table, 4, 4, "table misaligned or outside the buffer")?;
        self.depth += 1;
        self.tables += 1;
        if self.depth > MAX_DEPTH {
            return Err(Malformed {
                at: table,
                what: "tables nested too deep",
            });
        }
        if self.tables > MAX_TABLES {
            return Err(Malformed {
                at: table,
                what: "too many tables",
            });
        }
        let vtable = (table as i64) - i64::from(read_i32(self.buf, table));
        let vtable = usize::try_from(vtable).map_err(|_| Malformed {
            at: table,
            what: "vtable before the buffer",
        })?;
        self.check(vtable, 2, 2, "vtable misaligned or outside the buffer")?;
        let vsize = usize::from(read_u16(self.buf, vtable));
        if !vsize.is_multiple_of(2) || vsize < 4 {
            return Err(Malformed {
                at: vtable,
                what: "vtable size odd or too small",
            });
        }
        self.check(vtable, vsize, 2, "vtable extends outside the buffer")?;
        let t = Table {
            buf: self.buf,
            pos: table,
        };
        for field in schema.fields {
            let Some(at) = t.field_pos(field.slot) else {
                continue;
            };
            match field.kind {
                Kind::Scalar(size) => {
                    self.check(at, size, size, "scalar field misaligned or outside")?
                }
                Kind::Str => {
                    let s = self.offset(at)?;
                    let len = self.vector(s, 1)?;
                    if self.buf.get(s + 4 + len) != Some(&0) {
                        return Err(Malformed {
                            at: s,
                            what: "string without its terminating zero",
                        });
                    }
                }
                Kind::Vector(size) => {
                    let v = self.offset(at)?;
                    self.vector(v, size)?;
                }
                Kind::Table(inner) => {
                    let target = self.offset(at)?;
                    self.table(target, inner)?;
                }
                Kind::Tables(inner) => {
                    let v = self.offset(at)?;
                    let len = self.vector(v, 4)?;
                    for i in 0..len {
                        let target = self.offset(v + 4 + 4 * i)?;
                        self.table(target, inner)?;
                    }
                }
                Kind::Union { type_slot, members } => {
                    let ty = t.u8(type_slot, 0);
                    if let Some((_, inner)) = members.iter().find(|(m, _)| *m == ty) {
                        let target = self.offset(at)?;
                        self.table(target, inner)?;
                    }
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// The vector at `v` of `elem`-byte elements: its length.
    fn vector(&self, v: usize, elem: usize) -> Result<usize, Malformed> {
        self.check(v, 4, 4, "vector length misaligned or outside the buffer")?;
        let len = read_u32(self.buf, v) as usize;
        if len >= MAX_BUFFER / elem {
            return Err(Malformed {
                at: v,
                what: "vector longer than any buffer",
            });
        }
        self.check(v + 4, len * elem, 1, "vector extends outside the buffer")?;
        Ok(len)
    }
}

/// A verified table: reads its fields, or their schema defaults when absent.
#[derive(Debug, Clone, Copy)]
pub struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Table<'a> {
    /// Byte offset of the table in the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Where the field at vtable offset `slot` is, if present.
    pub fn field_pos(&self, slot: u16) -> Option<usize> {
        let vtable =
            usize::try_from((self.pos as i64) - i64::from(read_i32(self.buf, self.pos))).ok()?;
        let vsize = read_u16(self.buf, vtable);
        if slot >= vsize {
            return None;
        }
        let off = read_u16(self.buf, vtable + usize::from(slot));
        (off != 0).then_some(self.pos + usize::from(off))
    }

    /// Whether the field at `slot` is present.
    pub fn has(&self, slot: u16) -> bool {
        self.field_pos(slot).is_some()
    }

    /// A `ubyte` field.
    pub fn u8(&self, slot: u16, default: u8) -> u8 {
        self.field_pos(slot)
            .and_then(|p| self.buf.get(p).copied())
            .unwrap_or(default)
    }

    /// A `byte` field.
    pub fn i8(&self, slot: u16, default: i8) -> i8 {
        self.u8(slot, default as u8) as i8
    }

    /// A `bool` field.
    pub fn bool(&self, slot: u16, default: bool) -> bool {
        self.u8(slot, u8::from(default)) != 0
    }

    /// A `uint` field.
    pub fn u32(&self, slot: u16, default: u32) -> u32 {
        self.field_pos(slot)
            .map_or(default, |p| read_u32(self.buf, p))
    }

    /// An `int` field.
    pub fn i32(&self, slot: u16, default: i32) -> i32 {
        self.u32(slot, default as u32) as i32
    }

    /// A `float` field.
    pub fn f32(&self, slot: u16, default: f32) -> f32 {
        f32::from_bits(self.u32(slot, default.to_bits()))
    }

    /// A `ulong` field.
    pub fn u64(&self, slot: u16, default: u64) -> u64 {
        self.field_pos(slot)
            .map_or(default, |p| read_u64(self.buf, p))
    }

    fn target(&self, slot: u16) -> Option<usize> {
        let p = self.field_pos(slot)?;
        Some(p.saturating_add(read_u32(self.buf, p) as usize))
    }

    /// A table field.
    pub fn table(&self, slot: u16) -> Option<Table<'a>> {
        self.target(slot).map(|pos| Table { buf: self.buf, pos })
    }

    /// A vector field.
    pub fn vector(&self, slot: u16) -> Option<Vector<'a>> {
        let v = self.target(slot)?;
        Some(Vector {
            buf: self.buf,
            data: v + 4,
            len: read_u32(self.buf, v) as usize,
        })
    }

    /// A string field (its bytes, which need not be UTF-8).
    pub fn string(&self, slot: u16) -> Option<&'a [u8]> {
        self.vector(slot).map(|v| v.bytes())
    }
}

/// A verified vector.
#[derive(Debug, Clone, Copy)]
pub struct Vector<'a> {
    buf: &'a [u8],
    data: usize,
    len: usize,
}

impl<'a> Vector<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The elements of a vector of bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.buf.get(self.data..self.data + self.len).unwrap_or(&[])
    }

    /// Element `i` of a vector of `int`.
    pub fn i32(&self, i: usize) -> i32 {
        read_u32(self.buf, self.data + 4 * i) as i32
    }

    /// Element `i` of a vector of `float`.
    pub fn f32(&self, i: usize) -> f32 {
        f32::from_bits(read_u32(self.buf, self.data + 4 * i))
    }

    /// Element `i` of a vector of `long`.
    pub fn i64(&self, i: usize) -> i64 {
        read_u64(self.buf, self.data + 8 * i) as i64
    }

    /// Element `i` of a vector of tables.
    pub fn table(&self, i: usize) -> Table<'a> {
        let p = self.data + 4 * i;
        Table {
            buf: self.buf,
            pos: p.saturating_add(read_u32(self.buf, p) as usize),
        }
    }

    /// The elements of a vector of `int`.
    pub fn i32s(&self) -> Vec<i32> {
        (0..self.len).map(|i| self.i32(i)).collect()
    }
}

fn read<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    at.checked_add(N)
        .and_then(|end| buf.get(at..end))
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; N])
}

fn read_u16(buf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(read(buf, at))
}

fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(read(buf, at))
}

fn read_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_le_bytes(read(buf, at))
}

fn read_u64(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(read(buf, at))
}
