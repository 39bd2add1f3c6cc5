//! Feature tables: rows of `f32` read from a CSV file or a NumPy `.npy` array.
//!
//! A [`Table`] is `rows × columns` of finite `f32` values, with the column names of a CSV
//! header line when there is one. From it come the arrays a network trains on, as plain
//! `Vec`s: the features ([`Table::features`], `Vec<[f32; D]>`, refused unless the table
//! has exactly `D` columns), class labels from one column ([`Table::labels`], `Vec<u16>`)
//! and float targets from chosen columns ([`Table::targets`], `Vec<[f32; N]>`). Columns are
//! chosen by index or by header name ([`Column`]); [`Table::select`] and
//! [`Table::without`] cut a table down, [`Table::split_off`] holds out a seeded random
//! part of its rows (a validation split). [`Table::classification`] and
//! [`Table::regression`] make the trainer's [`Samples`] in one call.
//!
//! ```
//! # fn main() -> Result<(), firmnet::host::TableError> {
//! use firmnet::host::Table;
//!
//! let csv = "length,width,species\n5.1,3.5,0\n7.0,3.2,1\n6.3,3.3,2\n";
//! let table = Table::parse_csv(csv, "iris.csv")?;
//! let x: Vec<[f32; 2]> = table.without(&["species"])?.features()?;
//! let y: Vec<u16> = table.labels("species")?;
//! assert_eq!((x[1], y[1]), ([7.0, 3.2], 1));
//! # Ok(())
//! # }
//! ```
//!
//! # CSV
//! Fields are separated by commas; spaces around a field are ignored; lines end with `\n`
//! or `\r\n`; blank lines (a trailing one included) are skipped; a UTF-8 byte-order mark is
//! skipped. Every field is a number as Rust's `f32` parser reads it (`1`, `-0.5`, `2.5e-3`),
//! correctly rounded. **Quoted fields are not supported**, except that a field wholly
//! enclosed in double quotes with no comma or quote inside (`"sepal length"`) is read
//! without its quotes. An empty field (a missing value) is refused, and so are `nan`,
//! `inf` and numbers beyond the range of `f32`.
//!
//! The first line is a header of column names when [`CsvHeader::Auto`] finds a field in it
//! that is not a number; [`CsvHeader::Present`] and [`CsvHeader::Absent`] decide it instead. A
//! header made only of numbers — pandas' default column names `0,1,2,…` — is taken for data
//! by `Auto`: read such a file with `CsvHeader::Present`.
//!
//! # NumPy `.npy`
//! The format of `numpy.save` (versions 1.0, 2.0 and 3.0): the magic `\x93NUMPY`, the
//! version, the header length, a Python dict literal
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (150, 4), }` — parsed here, without
//! a Python or pickle reader — and the raw elements. Element types: `f4`, `f8`, `i1`, `u1`,
//! `i2`, `u2`, `i4`, `u4`, `i8`, `u8` in either byte order, and `b1` (bool, as 0 or 1).
//! Integers of more than 24 bits are rounded to the nearest `f32`. A 1-D array is one
//! column; a 2-D array is rows × columns, in C order or in Fortran order
//! (`fortran_order: True`, read column by column); other ranks, structured types, objects
//! and the rest are refused by name. A file that is not a `.npy` array but a `torch.save`
//! archive, a pickle or an `.npz` archive is recognized and named.
//!
//! # Errors
//! Every fault is a [`TableError`] naming the file, and where in it: the 1-based line and
//! column of a CSV file, the byte offset in a `.npy` file. Nothing panics on bad input.

use std::prelude::rust_2024::*;
use std::{format, vec};

use std::fmt;
use std::path::{Path, PathBuf};

use super::data::split_indices;
use super::trainer::Samples;
use crate::format::sniff::sniff;
use npy::{NPY_MAGIC, parse_npy_header};

mod npy;

/// Whether the first line of a CSV file names the columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CsvHeader {
    /// A header if any field of the first line is not a number.
    #[default]
    Auto,
    /// The first line is a header.
    Present,
    /// Every line is data.
    Absent,
}

/// A column, by 0-based index or by its name in the CSV header. `usize` and `&str` convert
/// into it, so `table.labels(4)` and `table.labels("species")` both work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column<'a> {
    /// The 0-based position.
    Index(usize),
    /// The name in the header line.
    Name(&'a str),
}

impl From<usize> for Column<'_> {
    fn from(i: usize) -> Self {
        Column::Index(i)
    }
}

impl<'a> From<&'a str> for Column<'a> {
    fn from(name: &'a str) -> Self {
        Column::Name(name)
    }
}

impl fmt::Display for Column<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Index(i) => write!(f, "column {i}"),
            Column::Name(n) => write!(f, "column `{n}`"),
        }
    }
}

/// Where a non-finite value stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// In a CSV file: the 1-based line and column (field).
    Cell {
        /// Line, from 1.
        line: usize,
        /// Field of the line, from 1.
        column: usize,
    },
    /// In a `.npy` file: the element's byte offset, and its 0-based row and column.
    Element {
        /// Offset of the element's first byte from the start of the file.
        offset: u64,
        /// Row of the array, from 0.
        row: usize,
        /// Column of the array, from 0.
        column: usize,
    },
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Cell { line, column } => write!(f, "line {line}, column {column}"),
            At::Element {
                offset,
                row,
                column,
            } => write!(f, "byte {offset} (row {row}, column {column})"),
        }
    }
}

/// Everything that can go wrong reading a table or taking columns out of it. Every
/// variant names the file.
#[derive(Debug)]
#[non_exhaustive]
pub enum TableError {
    /// The file cannot be read (absent, unreadable).
    Io {
        /// The file.
        file: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A CSV file is not UTF-8 text.
    NotText {
        /// The file.
        file: PathBuf,
        /// The line of the first byte that is not UTF-8, from 1.
        line: usize,
        /// That byte's offset in the file.
        offset: usize,
    },
    /// A file read as CSV is a binary file of a known kind.
    NotCsv {
        /// The file.
        file: PathBuf,
        /// What it is (`"a NumPy `.npy` array (`numpy.save`)"`, …).
        looks_like: &'static str,
    },
    /// A CSV line has another number of fields than the first.
    Ragged {
        /// The file.
        file: PathBuf,
        /// The line, from 1.
        line: usize,
        /// Its number of fields.
        found: usize,
        /// The number of fields of the first line (the header, if any).
        expected: usize,
        /// That first line, from 1.
        first_line: usize,
    },
    /// A CSV field is not a number.
    Number {
        /// The file.
        file: PathBuf,
        /// The line, from 1.
        line: usize,
        /// The field, from 1.
        column: usize,
        /// The field's text, spaces trimmed.
        text: String,
    },
    /// A value is NaN, infinite, or beyond the range of `f32`.
    NonFinite {
        /// The file.
        file: PathBuf,
        /// Where it stands.
        at: At,
        /// The value as written in the file.
        value: String,
    },
    /// The file holds no rows of data (or a `.npy` array with no columns).
    Empty {
        /// The file.
        file: PathBuf,
    },
    /// The file does not start with the `.npy` magic `\x93NUMPY`.
    NotNpy {
        /// The file.
        file: PathBuf,
        /// What the file looks like instead, when its first bytes say
        /// (`"a PyTorch `torch.save` archive (a zip of pickles)"`, …).
        looks_like: Option<&'static str>,
    },
    /// A `.npy` format version other than 1.0, 2.0 and 3.0.
    Version {
        /// The file.
        file: PathBuf,
        /// Major version (byte 6).
        major: u8,
        /// Minor version (byte 7).
        minor: u8,
    },
    /// The `.npy` header is not the dict `numpy.save` writes.
    NpyHeader {
        /// The file.
        file: PathBuf,
        /// Byte offset of the fault in the file.
        offset: u64,
        /// What is wrong, in words.
        fault: String,
    },
    /// A `.npy` element type this reader does not convert.
    Dtype {
        /// The file.
        file: PathBuf,
        /// Byte offset of the `descr` value in the file.
        offset: u64,
        /// The type as the header writes it (`'<c8'`, `'<U5'`, `[('a', '<f4')]`…).
        descr: String,
    },
    /// A `.npy` array of a rank other than 1 or 2.
    Shape {
        /// The file.
        file: PathBuf,
        /// Byte offset of the `shape` value in the file.
        offset: u64,
        /// The shape.
        shape: Vec<u64>,
    },
    /// The file ends before the data its header announces.
    Truncated {
        /// The file.
        file: PathBuf,
        /// Bytes the header announces, header included.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// Bytes follow the data of a `.npy` array.
    Trailing {
        /// The file.
        file: PathBuf,
        /// Offset of the first byte after the data.
        offset: u64,
        /// How many bytes follow.
        extra: u64,
    },
    /// A column asked for is not in the table.
    NoColumn {
        /// The file.
        file: PathBuf,
        /// The column, as asked for (`column 7`, ``column `age` ``).
        column: String,
        /// The columns there are, in words.
        available: String,
    },
    /// The table has another number of columns than the array asked for.
    Width {
        /// The file.
        file: PathBuf,
        /// What the columns are for: `"feature"`, `"target"`.
        what: &'static str,
        /// The array's width (`D` of `[f32; D]`).
        expected: usize,
        /// The number of columns.
        found: usize,
    },
    /// A label is not a class index (a whole number from 0 to 65,535).
    Label {
        /// The file.
        file: PathBuf,
        /// The column, as asked for.
        column: String,
        /// The row, from 0.
        row: usize,
        /// The row's line in a CSV file, from 1.
        line: Option<usize>,
        /// The value.
        value: f32,
    },
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Io { file, source } => write!(f, "reading {}: {source}", file.display()),
            TableError::NotText { file, line, offset } => write!(
                f,
                "{}, line {line}: byte {offset} is not UTF-8 text (a CSV file must be)",
                file.display()
            ),
            TableError::NotCsv { file, looks_like } => {
                write!(f, "{}: not a CSV file: it is {looks_like}", file.display())?;
                if looks_like.contains(".npy") {
                    write!(f, "; read it with `Table::read_npy` (or `Table::read`)")
                } else {
                    write!(
                        f,
                        "; write the data as CSV, or as an array with `numpy.save`"
                    )
                }
            }
            TableError::Ragged {
                file,
                line,
                found,
                expected,
                first_line,
            } => write!(
                f,
                "{}, line {line}: {found} field{}, but line {first_line} has {expected}",
                file.display(),
                if *found == 1 { "" } else { "s" }
            ),
            TableError::Number {
                file,
                line,
                column,
                text,
            } => {
                write!(f, "{}, line {line}, column {column}: ", file.display())?;
                if text.is_empty() {
                    write!(f, "an empty field (a missing value?), not a number")
                } else if text.contains('"') {
                    write!(
                        f,
                        "cannot read {text} as a number (quoted fields that hold commas or \
                         quotes are not supported)"
                    )
                } else {
                    write!(f, "cannot read `{text}` as a number")
                }
            }
            TableError::NonFinite { file, at, value } => write!(
                f,
                "{}, {at}: {value} is not a finite f32 value (NaN, infinity and magnitudes \
                 beyond 3.4e38 are refused)",
                file.display()
            ),
            TableError::Empty { file } => write!(f, "{}: no rows of data", file.display()),
            TableError::NotNpy { file, looks_like } => {
                write!(
                    f,
                    "{}, byte 0: not a NumPy .npy file (no magic \\x93NUMPY)",
                    file.display()
                )?;
                if let Some(kind) = looks_like {
                    write!(f, "; it is {kind}")?;
                }
                write!(
                    f,
                    ": write the array with `numpy.save(path, array)` (for a PyTorch tensor, \
                     `numpy.save(path, tensor.numpy())`)"
                )
            }
            TableError::Version { file, major, minor } => write!(
                f,
                "{}, byte 6: .npy format version {major}.{minor}; this reader knows 1.0, 2.0 \
                 and 3.0",
                file.display()
            ),
            TableError::NpyHeader {
                file,
                offset,
                fault,
            } => write!(
                f,
                "{}, byte {offset}: the .npy header is not numpy's dict: {fault}",
                file.display()
            ),
            TableError::Dtype {
                file,
                offset,
                descr,
            } => write!(
                f,
                "{}, byte {offset}: element type {descr} is not supported (f4, f8, i1, u1, i2, \
                 u2, i4, u4, i8, u8 and b1 are)",
                file.display()
            ),
            TableError::Shape {
                file,
                offset,
                shape,
            } => write!(
                f,
                "{}, byte {offset}: an array of shape {shape:?} ({} dimensions); a table is \
                 1-D (one column) or 2-D (rows × columns)",
                file.display(),
                shape.len()
            ),
            TableError::Truncated {
                file,
                expected,
                found,
            } => write!(
                f,
                "{}, byte {found}: truncated: the header announces {expected} bytes, the \
                 file ends after {found}",
                file.display()
            ),
            TableError::Trailing {
                file,
                offset,
                extra,
            } => write!(
                f,
                "{}, byte {offset}: {extra} bytes after the array's data (several arrays \
                 saved into one file? save each with its own `numpy.save`)",
                file.display()
            ),
            TableError::NoColumn {
                file,
                column,
                available,
            } => write!(f, "{}: no {column}: {available}", file.display()),
            TableError::Width {
                file,
                what,
                expected,
                found,
            } => write!(
                f,
                "{}: {expected} {what} columns expected ([f32; {expected}]), {found} given",
                file.display()
            ),
            TableError::Label {
                file,
                column,
                row,
                line,
                value,
            } => {
                write!(f, "{}: row {row}", file.display())?;
                if let Some(line) = line {
                    write!(f, " (line {line})")?;
                }
                write!(
                    f,
                    ", {column}: label {value} is not a class index (a whole number from 0 \
                     to 65535)"
                )
            }
        }
    }
}

impl std::error::Error for TableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TableError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A table of finite `f32` values, `rows × cols`, row-major, read from a CSV or `.npy` file
/// (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    file: PathBuf,
    cols: usize,
    values: Vec<f32>,
    names: Option<Vec<String>>,
    /// The CSV line of each row, from 1; empty for a `.npy` array.
    lines: Vec<usize>,
}

impl Table {
    /// Reads a CSV file or a `.npy` array, told apart by the `.npy` magic at its start.
    ///
    /// # Errors
    /// As [`Table::read_csv`] or [`Table::read_npy`].
    pub fn read(path: impl AsRef<Path>) -> Result<Table, TableError> {
        let path = path.as_ref();
        let bytes = read_bytes(path)?;
        if bytes.starts_with(NPY_MAGIC) {
            Table::parse_npy(&bytes, path)
        } else {
            csv_from_bytes(&bytes, path, CsvHeader::Auto)
        }
    }

    /// Reads a CSV file, detecting a header line ([`CsvHeader::Auto`]).
    ///
    /// # Errors
    /// [`TableError::Io`] if the file cannot be read; [`TableError::NotCsv`] for a `.npy`,
    /// zip, pickle or other binary file of a known kind; [`TableError::NotText`] for other
    /// bytes that are not UTF-8; else as
    /// [`Table::parse_csv`].
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Table, TableError> {
        Table::read_csv_with(path, CsvHeader::Auto)
    }

    /// Reads a CSV file whose header line is as `header` says.
    ///
    /// # Errors
    /// As [`Table::read_csv`].
    pub fn read_csv_with(path: impl AsRef<Path>, header: CsvHeader) -> Result<Table, TableError> {
        let path = path.as_ref();
        csv_from_bytes(&read_bytes(path)?, path, header)
    }

    /// Parses CSV text, detecting a header line ([`CsvHeader::Auto`]); `name` names the text
    /// in errors.
    ///
    /// # Errors
    /// [`TableError::Ragged`], [`TableError::Number`], [`TableError::NonFinite`] naming
    /// the line and column, or [`TableError::Empty`] if there is no row of data.
    pub fn parse_csv(text: &str, name: impl AsRef<Path>) -> Result<Table, TableError> {
        Table::parse_csv_with(text, name, CsvHeader::Auto)
    }

    /// Parses CSV text whose header line is as `header` says.
    ///
    /// # Errors
    /// As [`Table::parse_csv`].
    pub fn parse_csv_with(
        text: &str,
        name: impl AsRef<Path>,
        header: CsvHeader,
    ) -> Result<Table, TableError> {
        let file = name.as_ref().to_path_buf();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut table = Table {
            file,
            cols: 0,
            values: Vec::new(),
            names: None,
            lines: Vec::new(),
        };
        let mut first_line = 0;
        for (i, line) in text.split('\n').enumerate() {
            let number = i + 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if first_line == 0 {
                first_line = number;
                table.cols = fields.len();
                let is_header = match header {
                    CsvHeader::Auto => fields.iter().any(|f| unquote(f).parse::<f32>().is_err()),
                    CsvHeader::Present => true,
                    CsvHeader::Absent => false,
                };
                if is_header {
                    table.names = Some(fields.iter().map(|f| unquote(f).to_owned()).collect());
                    continue;
                }
            }
            let found = fields.len();
            for (c, field) in fields.into_iter().enumerate() {
                let value = unquote(field)
                    .parse::<f32>()
                    .map_err(|_| TableError::Number {
                        file: table.file.clone(),
                        line: number,
                        column: c + 1,
                        text: field.to_owned(),
                    })?;
                if !value.is_finite() {
                    return Err(TableError::NonFinite {
                        file: table.file,
                        at: At::Cell {
                            line: number,
                            column: c + 1,
                        },
                        value: field.to_owned(),
                    });
                }
                table.values.push(value);
            }
            if found != table.cols {
                return Err(TableError::Ragged {
                    file: table.file,
                    line: number,
                    found,
                    expected: table.cols,
                    first_line,
                });
            }
            table.lines.push(number);
        }
        if table.lines.is_empty() {
            return Err(TableError::Empty { file: table.file });
        }
        Ok(table)
    }

    /// Reads a NumPy `.npy` file.
    ///
    /// # Errors
    /// [`TableError::Io`] if the file cannot be read, else as [`Table::parse_npy`].
    pub fn read_npy(path: impl AsRef<Path>) -> Result<Table, TableError> {
        let path = path.as_ref();
        Table::parse_npy(&read_bytes(path)?, path)
    }

    /// Parses the bytes of a NumPy `.npy` file; `name` names them in errors.
    ///
    /// # Errors
    /// [`TableError::NotNpy`] (naming a `torch.save` archive, a pickle or an `.npz` for
    /// what it is), [`TableError::Version`], [`TableError::NpyHeader`],
    /// [`TableError::Dtype`], [`TableError::Shape`], [`TableError::Truncated`],
    /// [`TableError::Trailing`], [`TableError::NonFinite`] or [`TableError::Empty`], each
    /// with the byte offset of the fault.
    pub fn parse_npy(bytes: &[u8], name: impl AsRef<Path>) -> Result<Table, TableError> {
        let file = name.as_ref().to_path_buf();
        let npy = match parse_npy_header(bytes) {
            Ok(npy) => npy,
            Err(fault) => return Err(fault.with_file(file)),
        };
        let (rows, cols) = match npy.shape[..] {
            [n] => (n, 1),
            [r, c] => (r, c),
            _ => {
                return Err(TableError::Shape {
                    file,
                    offset: npy.shape_offset,
                    shape: npy.shape,
                });
            }
        };
        let size = npy.dtype.size();
        let nbytes = rows
            .checked_mul(cols)
            .and_then(|n| n.checked_mul(size as u64));
        let end = nbytes.and_then(|n| n.checked_add(npy.data_start as u64));
        let Some(end) = end.filter(|&e| e <= bytes.len() as u64) else {
            return Err(TableError::Truncated {
                file,
                expected: end.unwrap_or(u64::MAX),
                found: bytes.len() as u64,
            });
        };
        if end < bytes.len() as u64 {
            return Err(TableError::Trailing {
                file,
                offset: end,
                extra: bytes.len() as u64 - end,
            });
        }
        if rows == 0 || cols == 0 {
            return Err(TableError::Empty { file });
        }
        // Both fit in memory: the data is there.
        let (rows, cols) = (rows as usize, cols as usize);
        let data = &bytes[npy.data_start..end as usize];
        let mut values = vec![0f32; rows * cols];
        for (k, element) in data.chunks_exact(size).enumerate() {
            let (row, column) = if npy.fortran_order {
                (k % rows, k / rows)
            } else {
                (k / cols, k % cols)
            };
            let (value, finite) = npy.dtype.decode(element);
            if !finite {
                return Err(TableError::NonFinite {
                    file,
                    at: At::Element {
                        offset: (npy.data_start + k * size) as u64,
                        row,
                        column,
                    },
                    value: if value.is_finite() && value.abs() >= 1e16 {
                        format!("{value:e}")
                    } else {
                        format!("{value}")
                    },
                });
            }
            values[row * cols + column] = value as f32;
        }
        Ok(Table {
            file,
            cols,
            values,
            names: None,
            lines: Vec::new(),
        })
    }

    /// The file the table was read from (or the name it was parsed under).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.values.len().checked_div(self.cols).unwrap_or(0)
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The column names of the CSV header line, if there was one.
    pub fn names(&self) -> Option<&[String]> {
        self.names.as_deref()
    }

    /// Row `i`, or `None` past the end.
    pub fn row(&self, i: usize) -> Option<&[f32]> {
        self.values.get(i * self.cols..(i + 1) * self.cols)
    }

    /// Every value, row after row.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The CSV line of row `i`, from 1 (`None` for a `.npy` array or past the end).
    pub fn line(&self, i: usize) -> Option<usize> {
        self.lines.get(i).copied()
    }

    /// The 0-based index of `column`.
    ///
    /// # Errors
    /// [`TableError::NoColumn`], listing the columns there are.
    pub fn column_index<'a>(&self, column: impl Into<Column<'a>>) -> Result<usize, TableError> {
        let column = column.into();
        let found = match column {
            Column::Index(i) => Some(i).filter(|&i| i < self.cols),
            Column::Name(n) => self
                .names
                .as_ref()
                .and_then(|names| names.iter().position(|m| m == n)),
        };
        found.ok_or_else(|| TableError::NoColumn {
            file: self.file.clone(),
            column: column.to_string(),
            available: match (&self.names, column) {
                (Some(names), Column::Name(_)) => format!(
                    "the header names {}",
                    names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                (None, Column::Name(_)) => format!(
                    "the table has no header line; choose columns by index, 0 to {}",
                    self.cols - 1
                ),
                _ => format!(
                    "the table has {} columns, 0 to {}",
                    self.cols,
                    self.cols - 1
                ),
            },
        })
    }

    /// A table of the given columns, in the order given (names and lines kept).
    ///
    /// # Errors
    /// [`TableError::NoColumn`] for a column not in the table.
    pub fn select<'a, C: Into<Column<'a>> + Copy>(
        &self,
        columns: &[C],
    ) -> Result<Table, TableError> {
        Ok(self.pick(&self.indices(columns)?))
    }

    /// A table of every column but the given ones.
    ///
    /// # Errors
    /// [`TableError::NoColumn`] for a column not in the table.
    pub fn without<'a, C: Into<Column<'a>> + Copy>(
        &self,
        columns: &[C],
    ) -> Result<Table, TableError> {
        let dropped = self.indices(columns)?;
        let kept: Vec<usize> = (0..self.cols).filter(|c| !dropped.contains(c)).collect();
        Ok(self.pick(&kept))
    }

    /// The indices of `columns`.
    fn indices<'a, C: Into<Column<'a>> + Copy>(
        &self,
        columns: &[C],
    ) -> Result<Vec<usize>, TableError> {
        columns.iter().map(|&c| self.column_index(c)).collect()
    }

    /// The columns at `picked` (valid indices).
    fn pick(&self, picked: &[usize]) -> Table {
        Table {
            file: self.file.clone(),
            cols: picked.len(),
            values: self
                .values
                .chunks_exact(self.cols)
                .flat_map(|row| picked.iter().map(|&c| row[c]))
                .collect(),
            names: self
                .names
                .as_ref()
                .map(|names| picked.iter().map(|&c| names[c].clone()).collect()),
            lines: self.lines.clone(),
        }
    }

    /// Every row as an array of `D` features.
    ///
    /// # Errors
    /// [`TableError::Width`] unless the table has exactly `D` columns (cut it down first
    /// with [`Table::select`] or [`Table::without`]).
    pub fn features<const D: usize>(&self) -> Result<Vec<[f32; D]>, TableError> {
        self.arrays("feature")
    }

    /// The given columns of every row as an array of `N` float targets (regression).
    ///
    /// # Errors
    /// [`TableError::NoColumn`] for a column not in the table; [`TableError::Width`]
    /// unless `columns` names `N` columns.
    pub fn targets<'a, const N: usize, C: Into<Column<'a>> + Copy>(
        &self,
        columns: &[C],
    ) -> Result<Vec<[f32; N]>, TableError> {
        self.select(columns)?.arrays("target")
    }

    fn arrays<const D: usize>(&self, what: &'static str) -> Result<Vec<[f32; D]>, TableError> {
        if self.cols != D {
            return Err(TableError::Width {
                file: self.file.clone(),
                what,
                expected: D,
                found: self.cols,
            });
        }
        Ok(self
            .values
            .chunks_exact(D)
            .map(|row| {
                let mut a = [0.0; D];
                a.copy_from_slice(row);
                a
            })
            .collect())
    }

    /// The class labels in `column`: whole numbers from 0 to 65,535 (`1.0` is read as 1).
    /// The number of classes the labels imply is their maximum + 1.
    ///
    /// # Errors
    /// [`TableError::NoColumn`] for a column not in the table; [`TableError::Label`] for
    /// the first value that is negative, fractional or too large, naming its row (and
    /// CSV line).
    pub fn labels<'a>(&self, column: impl Into<Column<'a>>) -> Result<Vec<u16>, TableError> {
        let column = column.into();
        let c = self.column_index(column)?;
        self.values
            .chunks_exact(self.cols)
            .enumerate()
            .map(|(row, values)| {
                let value = values[c];
                if value.fract() == 0.0 && (0.0..=f32::from(u16::MAX)).contains(&value) {
                    Ok(value as u16)
                } else {
                    Err(TableError::Label {
                        file: self.file.clone(),
                        column: column.to_string(),
                        row,
                        line: self.line(row),
                        value,
                    })
                }
            })
            .collect()
    }

    /// Samples of a classifier: the class labels of column `label`, every other column a
    /// feature (`D` of them).
    ///
    /// # Errors
    /// As [`Table::labels`] and [`Table::features`].
    pub fn classification<'a, const D: usize>(
        &self,
        label: impl Into<Column<'a>> + Copy,
    ) -> Result<Samples<D>, TableError> {
        let y = self.labels(label)?;
        let x = self.without(&[label])?.features()?;
        Ok(Samples { x, y })
    }

    /// Samples of a regression: the `N` columns `targets` as targets, every other column a
    /// feature (`D` of them).
    ///
    /// # Errors
    /// As [`Table::targets`] and [`Table::features`].
    pub fn regression<'a, const D: usize, const N: usize, C: Into<Column<'a>> + Copy>(
        &self,
        targets: &[C],
    ) -> Result<Samples<D, [f32; N]>, TableError> {
        let y = self.targets(targets)?;
        let x = self.without(targets)?.features()?;
        Ok(Samples { x, y })
    }

    /// The rows at `indices`, in that order.
    ///
    /// # Panics
    /// If an index is not below [`Table::rows`].
    pub fn subset(&self, indices: &[usize]) -> Table {
        let mut values = Vec::with_capacity(indices.len() * self.cols);
        for &i in indices {
            values.extend_from_slice(&self.values[i * self.cols..(i + 1) * self.cols]);
        }
        Table {
            file: self.file.clone(),
            cols: self.cols,
            values,
            names: self.names.clone(),
            lines: if self.lines.is_empty() {
                Vec::new()
            } else {
                indices.iter().map(|&i| self.lines[i]).collect()
            },
        }
    }

    /// Splits off a seeded random `fraction` of the rows (a validation split), as
    /// [`Split::split_off`](super::Split::split_off) does: returns `(rest, held_out)`, with
    /// `round(rows · fraction)` rows held out.
    pub fn split_off(&self, fraction: f64, seed: u64) -> (Table, Table) {
        let (rest, held) = split_indices(self.rows(), fraction, seed);
        (self.subset(&rest), self.subset(&held))
    }
}

/// Reads a file, naming it in the error.
fn read_bytes(path: &Path) -> Result<Vec<u8>, TableError> {
    std::fs::read(path).map_err(|source| TableError::Io {
        file: path.to_owned(),
        source,
    })
}

/// CSV from a file's bytes: UTF-8 checked, a binary format of another kind named.
fn csv_from_bytes(bytes: &[u8], path: &Path, header: CsvHeader) -> Result<Table, TableError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        if let Some(kind) = sniff(bytes) {
            return TableError::NotCsv {
                file: path.to_owned(),
                looks_like: kind,
            };
        }
        let offset = e.valid_up_to();
        TableError::NotText {
            file: path.to_owned(),
            line: 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count(),
            offset,
        }
    })?;
    Table::parse_csv_with(text, path, header)
}

/// A field without the double quotes around it, if it has them and no quote inside.
fn unquote(field: &str) -> &str {
    match field.strip_prefix('"').and_then(|f| f.strip_suffix('"')) {
        Some(inner) if !inner.contains('"') => inner.trim(),
        _ => field,
    }
}
