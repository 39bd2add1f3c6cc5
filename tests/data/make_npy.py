"""Writes the NumPy fixtures of tests/table.rs with numpy itself (numpy.save, savez, savetxt).

Each array is a formula that tests/table.rs computes again in Rust, so the fixtures check
the reader against the files numpy really writes: format versions 1.0, 2.0 and 3.0, both
byte orders, C and Fortran order, every integer width, bool.

Needs only numpy; run from the repository root:

    python3 tests/data/make_npy.py
"""

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


def grid(rows, cols, f):
    return [[f(i, j) for j in range(cols)] for i in range(rows)]


# float32, C order, little-endian, format 1.0: a[i][j] = (4 i + j) / 4 - 1.
np.save(path("npy_f4.npy"), np.array(grid(3, 4, lambda i, j: (4 * i + j) / 4 - 1), dtype="<f4"))
# float64, big-endian: a[i][j] = 1 / (1 + 3 i + j), rounded to f32 by the reader.
np.save(path("npy_f8_be.npy"), np.array(grid(2, 3, lambda i, j: 1 / (1 + 3 * i + j)), dtype=">f8"))
# int16, Fortran order: a[i][j] = 1000 (i - 1) + 7 j - 300.
np.save(
    path("npy_i2_fortran.npy"),
    np.asfortranarray(np.array(grid(3, 2, lambda i, j: 1000 * (i - 1) + 7 * j - 300), dtype="<i2")),
)
# uint8, 1-D.
np.save(path("npy_u1.npy"), np.array([0, 1, 127, 128, 255], dtype="u1"))
# bool, 2-D.
np.save(path("npy_bool.npy"), np.array([[True, False], [False, True]]))
# int64 and uint64, big-endian, beyond 24 bits.
np.save(path("npy_i8.npy"), np.array([[-(2**40), 3], [2**62, -1]], dtype="<i8"))
np.save(path("npy_u8_be.npy"), np.array([2**64 - 1, 2**24 + 1], dtype=">u8"))
# int8, int32, uint16, uint32: a[i][j] = (-1)^(i+j) (i + 2 j) for the signed ones.
np.save(path("npy_i1.npy"), np.array(grid(2, 2, lambda i, j: (-1) ** (i + j) * (i + 2 * j)), dtype="i1"))
np.save(path("npy_i4_be.npy"), np.array(grid(2, 2, lambda i, j: (-1) ** (i + j) * (i + 2 * j) * 100000), dtype=">i4"))
np.save(path("npy_u2.npy"), np.array([[65535, 0]], dtype="<u2"))
np.save(path("npy_u4.npy"), np.array([[4294967295], [16777217]], dtype="<u4"))
# The float32 array again, in format versions 2.0 and 3.0.
for version in [(2, 0), (3, 0)]:
    with open(path(f"npy_f4_v{version[0]}.npy"), "wb") as f:
        np.lib.format.write_array(
            f, np.array(grid(3, 4, lambda i, j: (4 * i + j) / 4 - 1), dtype="<f4"), version=version
        )
# Refused: three dimensions, a structured type, strings.
np.save(path("npy_3d.npy"), np.zeros((2, 2, 2), dtype="<f4"))
np.save(path("npy_structured.npy"), np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
np.save(path("npy_str.npy"), np.array(["ab", "c"]))
# An .npz archive: not an .npy file.
np.savez(path("npy_archive.npz"), x=np.zeros(2, dtype="<f4"))
# A CSV file with a header, as numpy.savetxt writes it: a[i][j] = (4 i + j) / 4 - 1, labels i.
data = np.array(grid(3, 4, lambda i, j: (4 * i + j) / 4 - 1 if j < 3 else i), dtype="<f8")
np.savetxt(path("table.csv"), data, delimiter=",", header="a,b,c,label", comments="")
