#!/usr/bin/env python3
"""Reference outputs of TensorFlow Lite Micro for the four MLPerf Tiny models.

Runs TensorFlow Lite Micro's own interpreter (the `tflite-micro` package) on a fixed set of
int8 inputs per model and writes, into `reference/`:

- `<model>.out`: the outputs for every input (the inputs themselves are not stored; they are
  regenerated, here and in Rust, from the rule below, and the header holds their checksum);
- `<model>.layers`: every operator's output tensor for input 0, from an interpreter that
  preserves all tensors, so an importer can find the first layer where it diverges;
- `arena.txt`: the tensor arena TFLM's recording allocator reports for each model, and the
  versions of the packages that produced the files.

Inputs, per model (model index m: ad 0, kws 1, ic 2, vww 3; input length n):
  0 all 0, 1 all -128, 2 all 127, 3 ramp (i mod 256) - 128, 4 its reverse 127 - (i mod 256),
  5 alternating -128, 127, -128, ...; then input k >= 6 is n bytes of splitmix64 seeded with
  m * 2^32 + k, one output per byte, its low 8 bits read as an int8.

File formats (all integers little-endian):
  .out    magic b"FNTFLMO1", u32 count, u32 input length, u32 output length,
          u64 FNV-1a 64 of all inputs concatenated (as bytes), then count * output length int8.
  .layers magic b"FNTFLML1", u32 input number (0), u32 tensor count, then per tensor:
          u32 tensor index, u32 operator index, u32 byte length, the tensor's int8 bytes.

Usage:
  python reference.py            write reference/ beside this script
  python reference.py --check    regenerate into a temporary directory and compare byte for byte
                                 with reference/; exit status 1 on any difference
  python reference.py --out DIR  write into DIR instead
"""

import argparse
import filecmp
import hashlib
import os
import struct
import sys
import tempfile
import time
from importlib import metadata

import numpy as np
from tflite_micro.python.tflite_micro import runtime

HERE = os.path.dirname(os.path.abspath(__file__))

# (short name, file, input length, output length), in model-index order.
MODELS = [
    ("ad", "ad01_int8.tflite", 640, 640),
    ("kws", "kws_ref_model.tflite", 49 * 10, 12),
    ("ic", "pretrainedResnet_quant.tflite", 32 * 32 * 3, 10),
    ("vww", "vww_96_int8.tflite", 96 * 96 * 3, 2),
]
# md5 of each file as published in mlcommons/tiny (see README.md).
MD5 = {
    "ad01_int8.tflite": "361fa1b1b871e2068b2ab38d9805ef56",
    "kws_ref_model.tflite": "618aeb155673dae92fa6a7f26608add5",
    "pretrainedResnet_quant.tflite": "2d6dd48722471313e4c4528249205ae3",
    "vww_96_int8.tflite": "f0b011416abee0343a5d130cb1f4c18f",
}
COUNT = 256
OUT_MAGIC = b"FNTFLMO1"
LAYERS_MAGIC = b"FNTFLML1"
PACKAGES = ["tflite-micro", "numpy", "flatbuffers"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(seed, n):
    """The first n outputs of splitmix64 from state `seed`, as a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def make_input(model_index, k, n):
    """Input k of model `model_index`, n int8 values (see the module docstring)."""
    i = np.arange(n)
    if k == 0:
        return np.zeros(n, np.int8)
    if k == 1:
        return np.full(n, -128, np.int8)
    if k == 2:
        return np.full(n, 127, np.int8)
    if k == 3:
        return ((i % 256) - 128).astype(np.int8)
    if k == 4:
        return (127 - (i % 256)).astype(np.int8)
    if k == 5:
        return np.where(i % 2 == 0, -128, 127).astype(np.int8)
    seed = (model_index << 32) + k
    return (splitmix64(seed, n) & np.uint64(0xFF)).astype(np.uint8).view(np.int8)


def fnv1a64(chunks):
    """FNV-1a 64 over the concatenated bytes of `chunks`."""
    h = 0xCBF29CE484222325
    for c in chunks:
        for b in bytes(c):
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def arena_bytes(interp):
    """The arena total that `print_allocations` writes to stderr (captured at the fd level)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            interp.print_allocations()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode()
    for line in text.splitlines():
        if "Arena allocation total" in line:
            return int(line.split("total")[1].split()[0])
    raise RuntimeError("no arena total in print_allocations output:\n" + text)


def operator_outputs(model_bytes):
    """(operator index, tensor index) of every operator output, in execution order."""
    model = runtime.convert_bytearray_to_object(model_bytes)
    if len(model.subgraphs) != 1:
        raise RuntimeError("expected one subgraph")
    return [(o, int(t)) for o, op in enumerate(model.subgraphs[0].operators) for t in op.outputs]


def run_model(model_index, out_dir):
    name, file, n_in, n_out = MODELS[model_index]
    path = os.path.join(HERE, file)
    model_bytes = open(path, "rb").read()
    if hashlib.md5(model_bytes).hexdigest() != MD5[file]:
        raise RuntimeError(f"{file}: md5 differs from the MLCommons original")
    interp = runtime.Interpreter.from_file(path)
    shape = interp.get_input_details(0)["shape"]
    if int(np.prod(shape)) != n_in:
        raise RuntimeError(f"{name}: input shape {shape} is not {n_in} values")
    inputs = [make_input(model_index, k, n_in) for k in range(COUNT)]
    outputs = []
    for x in inputs:
        interp.set_input(x.reshape(shape), 0)
        interp.invoke()
        y = interp.get_output(0)
        if y.dtype != np.int8 or y.size != n_out:
            raise RuntimeError(f"{name}: output {y.dtype} {y.shape}, expected {n_out} int8")
        outputs.append(y.reshape(-1).copy())
    arena = arena_bytes(interp)

    header = OUT_MAGIC + struct.pack("<IIIQ", COUNT, n_in, n_out, fnv1a64(inputs))
    with open(os.path.join(out_dir, name + ".out"), "wb") as f:
        f.write(header)
        for y in outputs:
            f.write(y.tobytes())

    # Every intermediate tensor for input 0.
    keep = runtime.Interpreter.from_file(
        path, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors
    )
    keep.set_input(inputs[0].reshape(shape), 0)
    keep.invoke()
    if not np.array_equal(keep.get_output(0).reshape(-1), outputs[0]):
        raise RuntimeError(f"{name}: the tensor-preserving interpreter disagrees on input 0")
    tensors = operator_outputs(model_bytes)
    with open(os.path.join(out_dir, name + ".layers"), "wb") as f:
        f.write(LAYERS_MAGIC + struct.pack("<II", 0, len(tensors)))
        for op, t in tensors:
            data = keep.GetTensor(t, 0)["tensor_data"]
            if data.dtype != np.int8:
                raise RuntimeError(f"{name}: tensor {t} is {data.dtype}, not int8")
            raw = data.tobytes()
            f.write(struct.pack("<III", t, op, len(raw)))
            f.write(raw)
    last = keep.GetTensor(tensors[-1][1], 0)["tensor_data"].reshape(-1)
    if not np.array_equal(last, outputs[0]):
        raise RuntimeError(f"{name}: the last operator's output is not the model's output")
    return arena


def generate(out_dir):
    arenas = []
    for m, (name, file, _, _) in enumerate(MODELS):
        t = time.time()
        arena = run_model(m, out_dir)
        arenas.append((name, file, arena))
        print(f"{name}: {COUNT} inputs, arena {arena} B, {time.time() - t:.1f} s", file=sys.stderr)
    with open(os.path.join(out_dir, "arena.txt"), "w") as f:
        f.write("# TensorFlow Lite Micro tensor arena (RecordingMicroAllocator total, bytes)\n")
        f.write("# model file arena_bytes\n")
        for name, file, arena in arenas:
            f.write(f"{name} {file} {arena}\n")
        f.write("# produced with\n")
        for p in PACKAGES:
            f.write(f"{p}=={metadata.version(p)}\n")


def check():
    ref = os.path.join(HERE, "reference")
    with tempfile.TemporaryDirectory() as tmp:
        generate(tmp)
        names = sorted(set(os.listdir(tmp)) | set(os.listdir(ref)))
        bad = [n for n in names if not (
            os.path.isfile(os.path.join(tmp, n))
            and os.path.isfile(os.path.join(ref, n))
            and filecmp.cmp(os.path.join(tmp, n), os.path.join(ref, n), shallow=False))]
    for n in bad:
        print(f"differs from the committed reference: {n}", file=sys.stderr)
    if bad:
        return 1
    print(f"reference/ matches ({len(names)} files)", file=sys.stderr)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="compare a fresh run with reference/")
    ap.add_argument("--out", help="output directory (default: reference/ beside this script)")
    args = ap.parse_args()
    if args.check:
        return check()
    out = args.out or os.path.join(HERE, "reference")
    os.makedirs(out, exist_ok=True)
    generate(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
