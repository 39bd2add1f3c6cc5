"""Softmax references from TensorFlow Lite Micro's own interpreter.

Builds one-operator models (int8 SOFTMAX, output scale 1/256 and zero point -128) for a
set of logit quantizations, lengths and betas, runs random and structured logits through
`tflite-micro`'s interpreter, and writes one line per case:

    scale zero_point beta n | logits... | outputs...

Usage: python tests/tflm/softmax.py [--check] tests/tflm/softmax.txt
(the interpreter: `pip install -r tests/mlperf_tiny/requirements.txt` in a virtual environment)
"""
import sys

import flatbuffers
import numpy as np
from tflite_micro.python.tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb


def model(n, scale, zero_point, beta):
    def tensor(name, s, z):
        t = fb.TensorT()
        t.shape = [1, n]
        t.type = fb.TensorType.INT8
        t.buffer = 0
        t.name = name
        q = fb.QuantizationParametersT()
        q.scale = [s]
        q.zeroPoint = [z]
        t.quantization = q
        return t

    op = fb.OperatorT()
    op.opcodeIndex = 0
    op.inputs = [0]
    op.outputs = [1]
    op.builtinOptionsType = fb.BuiltinOptions.SoftmaxOptions
    op.builtinOptions = fb.SoftmaxOptionsT()
    op.builtinOptions.beta = beta
    sg = fb.SubGraphT()
    sg.tensors = [tensor("logits", scale, zero_point), tensor("probs", 1.0 / 256, -128)]
    sg.inputs = [0]
    sg.outputs = [1]
    sg.operators = [op]
    code = fb.OperatorCodeT()
    code.builtinCode = fb.BuiltinOperator.SOFTMAX
    code.deprecatedBuiltinCode = fb.BuiltinOperator.SOFTMAX
    code.version = 1
    m = fb.ModelT()
    m.version = 3
    m.operatorCodes = [code]
    m.subgraphs = [sg]
    m.buffers = [fb.BufferT()]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def cases():
    rng = np.random.default_rng(20261207)
    for scale, zero_point, beta in [
        (0.1, 0, 1.0), (0.0625, -12, 1.0), (0.2137, 5, 1.0), (0.5, -128, 1.0),
        (1.7, 3, 1.0), (0.00390625, -128, 1.0), (0.03, 0, 2.5), (0.11, 7, 0.3),
        (12.0, 0, 1.0), (0.012345, -20, 1.0),
    ]:
        for n in [1, 2, 3, 10, 12, 64, 100]:
            inputs = [np.full(n, 0), np.full(n, 127), np.full(n, -128),
                      np.arange(n) % 256 - 128]
            inputs += [rng.integers(-128, 128, n) for _ in range(6)]
            inputs += [np.clip(rng.normal(0, 20, n), -128, 127).astype(int) for _ in range(4)]
            interp = runtime.Interpreter.from_bytes(model(n, scale, zero_point, beta))
            for x in inputs:
                x = x.astype(np.int8).reshape(1, n)
                interp.set_input(x, 0)
                interp.invoke()
                y = interp.get_output(0).reshape(-1)
                yield f"{float(np.float32(scale))!r} {zero_point} {float(np.float32(beta))!r} {n} | " + \
                    " ".join(map(str, x.reshape(-1))) + " | " + " ".join(map(str, y))


def main():
    args = sys.argv[1:]
    check = args[:1] == ["--check"]
    path = args[-1]
    text = "\n".join(cases()) + "\n"
    if check:
        if open(path).read() != text:
            sys.exit(f"{path} differs from what the interpreter gives now")
        print(f"{path}: identical")
    else:
        open(path, "w").write(text)


if __name__ == "__main__":
    main()
