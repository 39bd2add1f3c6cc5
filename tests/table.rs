//! Feature tables (`host::Table`) from CSV and NumPy `.npy` files, and the standardization
//! of float features (`host::Normalizer::fit_features`).
//!
//! `.npy` files are built here byte by byte from the format's specification, checked
//! against the files numpy itself writes (tests/data/npy_*.npy, from
//! tests/data/make_npy.py), whose values the tests compute again from the same formulas.
//! Every error names the file and the line and column (CSV) or byte offset (`.npy`).

use std::path::{Path, PathBuf};

use firmnet::host::{At, Column, CsvHeader, DataError, Normalizer, Table, TableError};
use firmnet::prelude::*;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A new, empty folder of its own under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("firmnet-table-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An `.npy` file as the format's specification lays it out: `\x93NUMPY`, the version,
/// the header length (`u16` in version 1, `u32` in 2 and 3, little-endian), the dict
/// padded with spaces and ended by `\n` so that the data starts at a multiple of 64 (numpy
/// pads a full 64 bytes when it would be 0), then the data.
fn npy(version: u8, descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    let dict = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    npy_raw(version, &dict, data)
}

/// An `.npy` file with the given header dict, padded as numpy pads it.
fn npy_raw(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
    let prefix = if version == 1 { 10 } else { 12 };
    let pad = 64 - (prefix + dict.len() + 1) % 64;
    let header = format!("{dict}{}\n", " ".repeat(pad));
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The float32 fixture's values: `a[i][j] = (4i + j)/4 − 1`, 3 × 4.
fn f4_values() -> Vec<f32> {
    (0..12).map(|k| k as f32 / 4.0 - 1.0).collect()
}

fn err_text(r: Result<Table, TableError>) -> String {
    r.unwrap_err().to_string()
}

// ---------------------------------------------------------------------------------------
// .npy

#[test]
fn npy_bytes_built_from_the_spec_are_what_numpy_writes() {
    let ours = npy(1, "<f4", false, "(3, 4)", &le_f32(&f4_values()));
    assert_eq!(ours, std::fs::read(data("npy_f4.npy")).unwrap());
    let v2 = npy(2, "<f4", false, "(3, 4)", &le_f32(&f4_values()));
    assert_eq!(v2, std::fs::read(data("npy_f4_v2.npy")).unwrap());
    let v3 = npy(3, "<f4", false, "(3, 4)", &le_f32(&f4_values()));
    assert_eq!(v3, std::fs::read(data("npy_f4_v3.npy")).unwrap());
    let t = Table::parse_npy(&ours, "ours.npy").unwrap();
    assert_eq!((t.rows(), t.cols()), (3, 4));
    assert_eq!(t.values(), &f4_values()[..]);
    assert_eq!(t.row(2).unwrap(), &[1.0, 1.25, 1.5, 1.75]);
    assert_eq!((t.names(), t.line(0)), (None, None));
}

#[test]
fn numpy_written_files_of_every_type_and_order() {
    for name in ["npy_f4.npy", "npy_f4_v2.npy", "npy_f4_v3.npy"] {
        let t = Table::read_npy(data(name)).unwrap();
        assert_eq!(
            (t.rows(), t.cols(), t.values()),
            (3, 4, &f4_values()[..]),
            "{name}"
        );
        assert_eq!(t.file(), data(name));
    }
    let read = |name: &str| {
        let t = Table::read_npy(data(name)).unwrap();
        (t.rows(), t.cols(), t.values().to_vec())
    };
    // >f8: 1/(1 + 3i + j), rounded to nearest f32.
    let f8: Vec<f32> = (0..6).map(|k| (1.0 / (1.0 + k as f64)) as f32).collect();
    assert_eq!(read("npy_f8_be.npy"), (2, 3, f8));
    // Fortran order: stored column by column, read as rows.
    let i2: Vec<f32> = (0..3)
        .flat_map(|i| (0..2).map(move |j| (1000 * (i - 1) + 7 * j - 300) as f32))
        .collect();
    assert_eq!(read("npy_i2_fortran.npy"), (3, 2, i2));
    // 1-D: one column.
    assert_eq!(
        read("npy_u1.npy"),
        (5, 1, vec![0.0, 1.0, 127.0, 128.0, 255.0])
    );
    assert_eq!(read("npy_bool.npy"), (2, 2, vec![1.0, 0.0, 0.0, 1.0]));
    let p40 = -(2f32.powi(40));
    assert_eq!(
        read("npy_i8.npy"),
        (2, 2, vec![p40, 3.0, 2f32.powi(62), -1.0])
    );
    // 2^64 − 1 and 2^24 + 1 round to 2^64 and 2^24.
    assert_eq!(
        read("npy_u8_be.npy"),
        (2, 1, vec![2f32.powi(64), 2f32.powi(24)])
    );
    let signed = |scale: i32| -> Vec<f32> {
        (0..2)
            .flat_map(|i: i32| {
                (0..2).map(move |j: i32| ((-1i32).pow((i + j) as u32) * (i + 2 * j) * scale) as f32)
            })
            .collect()
    };
    assert_eq!(read("npy_i1.npy"), (2, 2, signed(1)));
    assert_eq!(read("npy_i4_be.npy"), (2, 2, signed(100_000)));
    assert_eq!(read("npy_u2.npy"), (1, 2, vec![65535.0, 0.0]));
    assert_eq!(
        read("npy_u4.npy"),
        (2, 1, vec![4_294_967_295u32 as f32, 16_777_216.0])
    );
    // `Table::read` tells `.npy` from CSV by the magic.
    assert_eq!(
        Table::read(data("npy_f4.npy")).unwrap(),
        Table::read_npy(data("npy_f4.npy")).unwrap()
    );
}

#[test]
fn npy_byte_orders_and_fortran_order_built_by_hand() {
    // Big-endian f4, and each integer type, against values written by hand.
    let be: Vec<u8> = [1.5f32, -2.0]
        .iter()
        .flat_map(|x| x.to_be_bytes())
        .collect();
    let t = Table::parse_npy(&npy(1, ">f4", false, "(2,)", &be), "be.npy").unwrap();
    assert_eq!(t.values(), &[1.5, -2.0]);
    let cases: [(&str, Vec<u8>, f32); 9] = [
        ("|i1", vec![0x80], -128.0),
        ("|u1", vec![0xff], 255.0),
        ("<i2", (-300i16).to_le_bytes().to_vec(), -300.0),
        (">u2", 65_000u16.to_be_bytes().to_vec(), 65_000.0),
        ("<i4", (-70_000i32).to_le_bytes().to_vec(), -70_000.0),
        (">u4", 3_000_000_000u32.to_be_bytes().to_vec(), 3e9),
        (">i8", (-5i64).to_be_bytes().to_vec(), -5.0),
        ("<u8", 7u64.to_le_bytes().to_vec(), 7.0),
        ("|b1", vec![1], 1.0),
    ];
    for (descr, bytes, want) in cases {
        let t = Table::parse_npy(&npy(1, descr, false, "(1, 1)", &bytes), "x.npy").unwrap();
        assert_eq!(t.values(), &[want], "{descr}");
    }
    let f8: Vec<u8> = [0.1f64, 1e-50]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let t = Table::parse_npy(&npy(1, "<f8", false, "(2,)", &f8), "x.npy").unwrap();
    assert_eq!(t.values(), &[0.1f32, 0.0]);
    // Fortran order: the column-major bytes of [[1, 2, 3], [4, 5, 6]].
    let bytes = le_f32(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    let t = Table::parse_npy(&npy(1, "<f4", true, "(2, 3)", &bytes), "f.npy").unwrap();
    assert_eq!((t.rows(), t.cols()), (2, 3));
    assert_eq!(t.values(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // Python 2's long integers and double quotes, keys in another order.
    let dict = "{\"shape\": (2L, 1L), \"fortran_order\": False, \"descr\": \"<f4\"}";
    let t = Table::parse_npy(&npy_raw(1, dict, &le_f32(&[3.0, 4.0])), "p2.npy").unwrap();
    assert_eq!((t.rows(), t.cols(), t.values()), (2, 1, &[3.0, 4.0][..]));
}

#[test]
fn npy_errors_name_the_file_and_the_byte() {
    let good = npy(1, "<f4", false, "(3, 4)", &le_f32(&f4_values()));
    // Every truncation is refused as such, at the byte where the file ends.
    for len in 1..good.len() {
        let err = Table::parse_npy(&good[..len], "cut.npy").unwrap_err();
        assert!(
            matches!(err, TableError::Truncated { found, .. } if found == len as u64),
            "{len}: {err}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("cut.npy, byte {len}: truncated: ")),
            "{err}"
        );
    }
    assert_eq!(
        err_text(Table::parse_npy(&good[..100], "cut.npy")),
        "cut.npy, byte 100: truncated: the header announces 128 bytes, the file ends after 100"
    );
    assert_eq!(
        err_text(Table::parse_npy(&good[..130], "cut.npy")),
        "cut.npy, byte 130: truncated: the header announces 176 bytes, the file ends after 130"
    );
    let mut long = good.clone();
    long.extend_from_slice(&[0; 3]);
    assert_eq!(
        err_text(Table::parse_npy(&long, "long.npy")),
        "long.npy, byte 176: 3 bytes after the array's data (several arrays saved into one \
         file? save each with its own `numpy.save`)"
    );

    // Another file given by mistake.
    let save = ": write the array with `numpy.save(path, array)` (for a PyTorch tensor, \
                `numpy.save(path, tensor.numpy())`)";
    let not_npy = "byte 0: not a NumPy .npy file (no magic \\x93NUMPY)";
    assert_eq!(
        err_text(Table::parse_npy(b"1,2,3\n", "t.npy")),
        format!("t.npy, {not_npy}{save}")
    );
    let npz = std::fs::read(data("npy_archive.npz")).unwrap();
    assert_eq!(
        err_text(Table::parse_npy(&npz, "a.npz")),
        format!("a.npz, {not_npy}; it is a NumPy `.npz` archive (`numpy.savez`){save}")
    );
    let mut torch = b"PK\x03\x04".to_vec();
    torch.extend_from_slice(&[0; 22]);
    torch.extend_from_slice(&16u16.to_le_bytes());
    torch.extend_from_slice(&[0, 0]);
    torch.extend_from_slice(b"archive/data.pkl");
    assert_eq!(
        err_text(Table::parse_npy(&torch, "model.pt")),
        format!(
            "model.pt, {not_npy}; it is a PyTorch `torch.save` archive (a zip of pickles){save}"
        )
    );
    assert!(err_text(Table::parse_npy(b"\x80\x04\x95", "x.pkl")).contains("it is a Python pickle"),);

    // Version 4.0.
    let mut v4 = good.clone();
    v4[6] = 4;
    assert_eq!(
        err_text(Table::parse_npy(&v4, "v4.npy")),
        "v4.npy, byte 6: .npy format version 4.0; this reader knows 1.0, 2.0 and 3.0"
    );

    // The byte offset of a header value is where it stands in the file.
    let at = |bytes: &[u8], needle: &str| {
        bytes
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .unwrap()
    };
    let c8 = npy(1, "<c8", false, "(2,)", &[0; 16]);
    assert_eq!(
        err_text(Table::parse_npy(&c8, "c.npy")),
        format!(
            "c.npy, byte {}: element type '<c8' is not supported (f4, f8, i1, u1, i2, u2, i4, \
             u4, i8, u8 and b1 are)",
            at(&c8, "'<c8'")
        )
    );
    let structured = std::fs::read(data("npy_structured.npy")).unwrap();
    let err = Table::parse_npy(&structured, "s.npy").unwrap_err();
    assert!(
        matches!(&err, TableError::Dtype { offset, descr, .. }
            if *offset == at(&structured, "[(") as u64 && descr == "[('a', '<f4'), ('b', '<i4')]"),
        "{err}"
    );
    let strings = std::fs::read(data("npy_str.npy")).unwrap();
    assert!(err_text(Table::parse_npy(&strings, "u.npy")).contains("element type '<U2'"));
    let cube = std::fs::read(data("npy_3d.npy")).unwrap();
    assert_eq!(
        err_text(Table::parse_npy(&cube, "cube.npy")),
        format!(
            "cube.npy, byte {}: an array of shape [2, 2, 2] (3 dimensions); a table is 1-D \
             (one column) or 2-D (rows × columns)",
            at(&cube, "(2, 2, 2)")
        )
    );
    let scalar = npy(1, "<f4", false, "()", &le_f32(&[1.0]));
    assert!(err_text(Table::parse_npy(&scalar, "s.npy")).contains("shape [] (0 dimensions)"));
    let empty = npy(1, "<f4", false, "(0,)", &[]);
    assert_eq!(
        err_text(Table::parse_npy(&empty, "e.npy")),
        "e.npy: no rows of data"
    );

    // A header that is not numpy's dict.
    let no_shape = npy_raw(1, "{'descr': '<f4', 'fortran_order': False, }", &[]);
    assert_eq!(
        err_text(Table::parse_npy(&no_shape, "h.npy")),
        "h.npy, byte 10: the .npy header is not numpy's dict: it has no 'shape' entry"
    );
    let bad_order = npy_raw(
        1,
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}",
        &[0; 4],
    );
    assert_eq!(
        err_text(Table::parse_npy(&bad_order, "h.npy")),
        format!(
            "h.npy, byte {}: the .npy header is not numpy's dict: 'fortran_order' is 0, not \
             True or False",
            at(&bad_order, "0, 'shape'")
        )
    );
    let unclosed = npy_raw(1, "{'descr': '<f4' 'shape': (1,)}", &[0; 4]);
    assert_eq!(
        err_text(Table::parse_npy(&unclosed, "h.npy")),
        format!(
            "h.npy, byte {}: the .npy header is not numpy's dict: expected `,` or `}}`, found `'`",
            at(&unclosed, "'shape'")
        )
    );

    // Non-finite elements, at their byte, row and column.
    for (value, text) in [(f32::NAN, "NaN"), (f32::NEG_INFINITY, "-inf")] {
        let mut v = f4_values();
        v[6] = value;
        let bytes = npy(1, "<f4", false, "(3, 4)", &le_f32(&v));
        let err = Table::parse_npy(&bytes, "nan.npy").unwrap_err();
        assert!(
            matches!(
                err,
                TableError::NonFinite {
                    at: At::Element {
                        offset: 152,
                        row: 1,
                        column: 2
                    },
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "nan.npy, byte 152 (row 1, column 2): {text} is not a finite f32 value (NaN, \
                 infinity and magnitudes beyond 3.4e38 are refused)"
            )
        );
    }
    let big: Vec<u8> = [1.0f64, 1e39]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    assert!(
        err_text(Table::parse_npy(
            &npy(1, "<f8", false, "(2,)", &big),
            "b.npy"
        ))
        .starts_with("b.npy, byte 136 (row 1, column 0): 1e39 is not a finite f32 value")
    );

    // A missing file names its path.
    let missing = data("absent.npy");
    let err = Table::read_npy(&missing).unwrap_err();
    assert!(matches!(err, TableError::Io { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("reading {}: ", missing.display())),
        "{err}"
    );
}

/// Random bytes after a valid magic and version never panic.
#[test]
fn npy_damage_never_panics() {
    let good = npy(1, "<f4", false, "(3, 4)", &le_f32(&f4_values()));
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut bytes = good.clone();
        let i = 6 + (state % (good.len() as u64 - 6)) as usize;
        bytes[i] = (state >> 32) as u8;
        let _ = Table::parse_npy(&bytes, "damaged.npy");
    }
}

// ---------------------------------------------------------------------------------------
// CSV

#[test]
fn csv_with_and_without_a_header() {
    // numpy.savetxt's output: a header line, then %.18e numbers.
    let t = Table::read_csv(data("table.csv")).unwrap();
    assert_eq!(
        t.names().unwrap(),
        ["a", "b", "c", "label"].map(String::from)
    );
    assert_eq!((t.rows(), t.cols()), (3, 4));
    let want: Vec<f32> = (0..3)
        .flat_map(|i| {
            (0..4).map(move |j| {
                if j < 3 {
                    (4 * i + j) as f32 / 4.0 - 1.0
                } else {
                    i as f32
                }
            })
        })
        .collect();
    assert_eq!(t.values(), &want[..]);
    assert_eq!((t.line(0), t.line(2)), (Some(2), Some(4)));
    assert_eq!(Table::read(data("table.csv")).unwrap(), t);

    // No header; CRLF, spaces, a BOM, blank lines (a trailing one too); correctly rounded.
    let text = "\u{feff}1, 2.5 ,-3e-2\r\n\r\n0.1,+4,.5\r\n\n";
    let t = Table::parse_csv(text, "n.csv").unwrap();
    assert_eq!(t.names(), None);
    assert_eq!(t.values(), &[1.0, 2.5, -0.03, 0.1, 4.0, 0.5]);
    assert_eq!((t.line(0), t.line(1)), (Some(1), Some(3)));
    // Quoted names and numbers without commas inside.
    let t = Table::parse_csv("\"x 1\",\"y\"\n\"1\",2\n", "q.csv").unwrap();
    assert_eq!(t.names().unwrap(), ["x 1", "y"].map(String::from));
    assert_eq!(t.values(), &[1.0, 2.0]);
    // A header of numbers (pandas' default names) is data unless the header is requested.
    let text = "0,1\n5,6\n";
    assert_eq!(Table::parse_csv(text, "p.csv").unwrap().rows(), 2);
    let t = Table::parse_csv_with(text, "p.csv", CsvHeader::Present).unwrap();
    assert_eq!(
        (t.rows(), t.names().unwrap()),
        (1, &["0", "1"].map(String::from)[..])
    );
    let t = Table::parse_csv_with("a,b\n", "h.csv", CsvHeader::Absent);
    assert_eq!(
        err_text(t),
        "h.csv, line 1, column 1: cannot read `a` as a number"
    );
}

#[test]
fn csv_errors_name_the_file_line_and_column() {
    let cases = [
        ("a,b\n1,2\n3\n", "t.csv, line 3: 1 field, but line 1 has 2"),
        ("1,2\n3,4,5\n", "t.csv, line 2: 3 fields, but line 1 has 2"),
        (
            "a,b\n1,2\n3,abc\n",
            "t.csv, line 3, column 2: cannot read `abc` as a number",
        ),
        (
            "a,b,c\n1,,3\n",
            "t.csv, line 2, column 2: an empty field (a missing value?), not a number",
        ),
        (
            "a,b\n1,\"2,5\"\n",
            "t.csv, line 2, column 2: cannot read \"2 as a number (quoted fields that hold \
             commas or quotes are not supported)",
        ),
        (
            "a,b\n1,2\n\n3,nan\n",
            "t.csv, line 4, column 2: nan is not a finite f32 value (NaN, infinity and \
             magnitudes beyond 3.4e38 are refused)",
        ),
        (
            "-inf,1\n",
            "t.csv, line 1, column 1: -inf is not a finite f32 value (NaN, infinity and \
             magnitudes beyond 3.4e38 are refused)",
        ),
        (
            "1,1e39\n",
            "t.csv, line 1, column 2: 1e39 is not a finite f32 value (NaN, infinity and \
             magnitudes beyond 3.4e38 are refused)",
        ),
        ("a,b\n", "t.csv: no rows of data"),
        ("\n\n", "t.csv: no rows of data"),
    ];
    for (text, want) in cases {
        assert_eq!(err_text(Table::parse_csv(text, "t.csv")), want, "{text:?}");
    }
    let err = Table::parse_csv("1,2\n3,x\n", "t.csv").unwrap_err();
    assert!(
        matches!(&err, TableError::Number { line: 2, column: 2, text, .. } if text == "x"),
        "{err}"
    );
    let err = Table::parse_csv("1,2\n3,inf\n", "t.csv").unwrap_err();
    assert!(
        matches!(
            err,
            TableError::NonFinite {
                at: At::Cell { line: 2, column: 2 },
                ..
            }
        ),
        "{err}"
    );

    // Files: not UTF-8, a binary file of a known kind, absent.
    let dir = temp_dir("csv");
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let latin1 = write("l.csv", b"a,b\n1,2\n3,\xb5\n");
    assert_eq!(
        err_text(Table::read_csv(&latin1)),
        format!(
            "{}, line 3: byte 10 is not UTF-8 text (a CSV file must be)",
            latin1.display()
        )
    );
    assert_eq!(
        err_text(Table::read_csv(data("npy_f4.npy"))),
        format!(
            "{}: not a CSV file: it is a NumPy `.npy` array (`numpy.save`); read it with \
             `Table::read_npy` (or `Table::read`)",
            data("npy_f4.npy").display()
        )
    );
    let pickle = write("p.csv", b"\x80\x04\x95\x00");
    assert!(err_text(Table::read_csv(&pickle)).ends_with(
        "not a CSV file: it is a Python pickle (`pickle.dump`, or `torch.save` before \
             PyTorch 1.6); write the data as CSV, or as an array with `numpy.save`"
    ));
    let ragged = write("r.csv", b"x,y\n1,2\n3\n");
    assert_eq!(
        err_text(Table::read(&ragged)),
        format!("{}, line 3: 1 field, but line 1 has 2", ragged.display())
    );
    let absent = dir.join("absent.csv");
    let err = Table::read_csv(&absent).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("reading {}: ", absent.display())),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------
// Columns out

const IRIS: &str = "length,width,petal,species\n\
                    5.1,3.5,1.4,0\n\
                    7.0,3.2,4.7,1\n\
                    6.3,3.3,6.0,2\n\
                    4.9,3.0,1.4,0\n";

#[test]
fn features_labels_and_targets_by_name_or_index() {
    let t = Table::parse_csv(IRIS, "iris.csv").unwrap();
    let x: Vec<[f32; 3]> = t.without(&["species"]).unwrap().features().unwrap();
    assert_eq!(x[1], [7.0, 3.2, 4.7]);
    assert_eq!(x.len(), 4);
    assert_eq!(t.labels("species").unwrap(), [0, 1, 2, 0]);
    assert_eq!(t.labels(3).unwrap(), [0, 1, 2, 0]);
    let y: Vec<[f32; 2]> = t.targets(&["petal", "length"]).unwrap();
    assert_eq!(y[2], [6.0, 6.3]);
    let y: Vec<[f32; 1]> = t.targets(&[1]).unwrap();
    assert_eq!(y[3], [3.0]);
    let s = t
        .select(&[Column::Name("width"), Column::Index(0)])
        .unwrap();
    assert_eq!(s.names().unwrap(), ["width", "length"].map(String::from));
    assert_eq!(s.row(0).unwrap(), &[3.5, 5.1]);
    assert_eq!(s.line(3), Some(5));
    assert_eq!(t.column_index("petal").unwrap(), 2);

    // Widths.
    assert_eq!(
        t.features::<3>().unwrap_err().to_string(),
        "iris.csv: 3 feature columns expected ([f32; 3]), 4 given"
    );
    let err = t.targets::<2, _>(&["petal"]).unwrap_err();
    assert!(
        matches!(
            err,
            TableError::Width {
                what: "target",
                expected: 2,
                found: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "iris.csv: 2 target columns expected ([f32; 2]), 1 given"
    );

    // Columns that are not there.
    assert_eq!(
        t.labels("class").unwrap_err().to_string(),
        "iris.csv: no column `class`: the header names `length`, `width`, `petal`, `species`"
    );
    assert_eq!(
        t.select(&[4]).unwrap_err().to_string(),
        "iris.csv: no column 4: the table has 4 columns, 0 to 3"
    );
    let bare = Table::parse_csv("1,2\n", "bare.csv").unwrap();
    assert_eq!(
        bare.labels("y").unwrap_err().to_string(),
        "bare.csv: no column `y`: the table has no header line; choose columns by index, 0 to 1"
    );

    // Labels that are not class indices, with their row and line.
    for (value, shown) in [("2.5", "2.5"), ("-1", "-1"), ("70000", "70000")] {
        let text = format!("x,y\n1,0\n2,{value}\n");
        let t = Table::parse_csv(&text, "l.csv").unwrap();
        let err = t.labels("y").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "l.csv: row 1 (line 3), column `y`: label {shown} is not a class index (a whole \
                 number from 0 to 65535)"
            )
        );
    }
    let t = Table::parse_npy(&npy(1, "<f4", false, "(2,)", &le_f32(&[1.0, 0.5])), "l.npy").unwrap();
    assert_eq!(
        t.labels(0).unwrap_err().to_string(),
        "l.npy: row 1, column 0: label 0.5 is not a class index (a whole number from 0 to \
         65535)"
    );
    assert_eq!(
        Table::parse_csv("0\n65535\n", "m.csv")
            .unwrap()
            .labels(0)
            .unwrap(),
        [0, 65535]
    );
}

#[test]
fn split_off_is_seeded_disjoint_and_whole() {
    let text: String = (0..50).map(|i| format!("{i},{}\n", i % 3)).collect();
    let t = Table::parse_csv(&text, "s.csv").unwrap();
    let (rest, held) = t.split_off(0.2, 7);
    assert_eq!((rest.rows(), held.rows()), (40, 10));
    let mut seen: Vec<f32> = rest
        .values()
        .chunks(2)
        .chain(held.values().chunks(2))
        .map(|r| r[0])
        .collect();
    seen.sort_by(f32::total_cmp);
    assert_eq!(seen, (0..50).map(|i| i as f32).collect::<Vec<_>>());
    // Each row keeps its line and its label.
    for i in 0..held.rows() {
        let row = held.row(i).unwrap();
        assert_eq!(held.line(i), Some(row[0] as usize + 1));
        assert_eq!(row[1], (row[0] as usize % 3) as f32);
    }
    assert_eq!(t.split_off(0.2, 7), (rest, held.clone()));
    assert_ne!(t.split_off(0.2, 8).1, held);
}

// ---------------------------------------------------------------------------------------
// Standardization of float features

#[test]
fn feature_statistics_are_the_hand_computed_ones() {
    // Feature 0: 1, 2, 3, 6 → μ = 3, σ² = (4 + 1 + 0 + 9)/4 = 3.5.
    // Feature 1: constant 1000.25 → centred only, scale 1.
    // Feature 2: 1e-6 · (1, −1, 1, −1) → μ = 0, σ = 1e-6.
    let rows = [
        [1.0, 1000.25, 1e-6],
        [2.0, 1000.25, -1e-6],
        [3.0, 1000.25, 1e-6],
        [6.0, 1000.25, -1e-6],
    ];
    let n = Normalizer::fit_features(&rows).unwrap();
    assert_eq!(n.divisor, 1.0);
    assert_eq!(n.features(), 3);
    assert_eq!(n.mean, [3.0, 1000.25, 0.0]);
    assert_eq!(n.inv_std[0], (1.0 / 3.5f64.sqrt()) as f32);
    assert_eq!(n.inv_std[1], 1.0);
    assert_eq!(n.inv_std[2], (1.0 / 1e-6f32 as f64) as f32);
    let mut x = rows;
    n.apply_rows(&mut x).unwrap();
    for (xi, ri) in x.iter().zip(&rows) {
        let want0 = ((ri[0] as f64 - 3.0) / 3.5f64.sqrt()) as f32;
        assert!((xi[0] - want0).abs() <= 1e-6, "{xi:?}");
        assert_eq!(xi[1], 0.0);
        assert!((xi[2].abs() - 1.0).abs() <= 1e-6, "{xi:?}");
    }
    // The normalized training rows have mean 0 and variance 1 (the non-constant ones).
    for j in [0, 2] {
        let mean: f64 = x.iter().map(|r| r[j] as f64).sum::<f64>() / 4.0;
        let var: f64 = x.iter().map(|r| (r[j] as f64 - mean).powi(2)).sum::<f64>() / 4.0;
        assert!(
            mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5,
            "{j}: {mean} {var}"
        );
    }
    // A constant feature off the training value stays finite: its offset, unscaled.
    let mut test = [[0.0, 1001.25, 0.0]];
    n.apply_rows(&mut test).unwrap();
    assert_eq!(test[0][1], 1.0);

    // Faults.
    assert_eq!(
        Normalizer::fit_features::<3>(&[]).unwrap_err().to_string(),
        "no rows to fit the normalizer on"
    );
    let err = Normalizer::fit_features(&[[1.0, 2.0], [f32::NAN, 0.0]]).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::NonFiniteFeature {
                row: 1,
                feature: 0,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "row 1, feature 0: NaN is not finite; the normalizer cannot be fitted on it"
    );
    let mut wrong = [[0.0; 2]];
    let err = n.apply_rows(&mut wrong).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the normalizer was fitted on 3 features; the rows have 2"
    );
    assert_eq!(wrong, [[0.0; 2]]);
}

#[test]
fn folded_network_on_raw_features_computes_the_normalized_one() {
    // Three features on very different scales, one of them constant.
    let mut rng = Rng::new(31);
    let rows: Vec<[f32; 3]> = (0..64)
        .map(|_| {
            [
                1000.0 + 50.0 * rng.normal(),
                1e-3 + 2e-4 * rng.normal(),
                7.0,
            ]
        })
        .collect();
    let (train, test) = rows.split_at(48);
    let n = Normalizer::fit_features(train).unwrap();
    let mut layer = Dense::<3, 2>::ZERO;
    layer.init(Init::GlorotNormal, &mut rng);
    layer.bias = [0.1, -0.2];
    let mut folded = layer.clone();
    n.fold_into(&mut folded).unwrap();
    let mut normalized = test.to_vec();
    n.apply_rows(&mut normalized).unwrap();
    for (xn, xr) in normalized.iter().zip(test) {
        let (mut a, mut b) = ([0.0; 2], [0.0; 2]);
        layer.forward_with(xn, &mut a, &mut []);
        folded.forward_with(xr, &mut b, &mut []);
        // f64 reference of the unfolded layer on the normalized inputs.
        for o in 0..2 {
            let reference: f64 = layer.bias[o] as f64
                + (0..3)
                    .map(|j| layer.weight[o][j] as f64 * xn[j] as f64)
                    .sum::<f64>();
            // Rounding: the raw inputs are ~1000, so the folded sum loses about 1000 ulp of
            // its terms' size.
            let tol = 1e-4 * (1.0 + reference.abs());
            assert!(
                (a[o] as f64 - reference).abs() <= tol,
                "{a:?} vs {reference}"
            );
            assert!(
                (b[o] as f64 - reference).abs() <= tol,
                "{b:?} vs {reference}"
            );
        }
    }
    // A layer of another width is refused and left alone.
    let mut other = Dense::<4, 2>::ZERO;
    let err = n.fold_into(&mut other).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::FeatureCount {
                fitted: 3,
                found: 4,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "the normalizer was fitted on 3 features; the layer's input has 4"
    );
    assert_eq!(other, Dense::<4, 2>::ZERO);
}

#[test]
fn pixel_normalizer_on_float_rows_is_its_byte_version() {
    let pixels: Vec<u8> = (0..=255).collect();
    let split = firmnet::host::Split {
        pixels: pixels.clone(),
        labels: vec![0, 1, 0, 1],
        dim: 64,
        rows: 8,
        cols: 8,
    };
    let n = Normalizer::fit(&split);
    assert_eq!(n.divisor, 255.0);
    let mut rows: Vec<[f32; 64]> = pixels
        .chunks(64)
        .map(|c| std::array::from_fn(|j| f32::from(c[j])))
        .collect();
    n.apply_rows(&mut rows).unwrap();
    for (i, row) in rows.iter().enumerate() {
        let mut want = [0.0; 64];
        n.apply(split.image(i), &mut want);
        assert_eq!(row.map(f32::to_bits), want.map(f32::to_bits));
    }
}
