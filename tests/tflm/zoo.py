"""Small int8 models of every operator variant the importer takes, with TensorFlow Lite
Micro's outputs for them.

The four MLPerf Tiny models exercise what their converter made of them; these models
exercise the rest: VALID convolutions and pools, strides 2 and 3, SAME pools whose border
windows hold fewer taps, max pools, ReLU6 and ReLU-1..1, FULLY_CONNECTED with per-tensor and
per-channel weights and on a feature map without a RESHAPE, float inputs and outputs through
QUANTIZE and DEQUANTIZE, residual blocks with identity and convolution shortcuts and fused
activations, a channel whose rescale TensorFlow Lite flushes to zero, weights of -128, and a
softmax with beta != 1. Weights, biases and inputs come from a seeded generator, and the
scales are chosen so that activations spread over the int8 range.

Writes tests/tflm/zoo/NAME.tflite for each model and tests/tflm/zoo.txt with, per model, a
line `model NAME INPUTS INPUT_LEN OUTPUT_LEN`, then one line per input: `x... | y...`, both
int8 (a float input is fed as the values its QUANTIZE maps to these integers exactly, and a
float output is read back to the integers its DEQUANTIZE was given).

Usage: python tests/tflm/zoo.py [--check]
(the interpreter: `pip install -r tests/mlperf_tiny/requirements.txt` in a virtual environment)
"""
import os
import sys

import flatbuffers
import numpy as np
from tflite_micro.python.tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTS = 32
OP = fb.BuiltinOperator
ACT = fb.ActivationFunctionType


class Act:
    """An activation tensor: its index, shape, quantization and the spread of its values."""

    def __init__(self, index, shape, scale, zero_point, std):
        self.index, self.shape = index, list(shape)
        self.scale, self.zero_point, self.std = scale, zero_point, std


class Graph:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.tensors, self.operators, self.codes = [], [], []
        self.buffers = [fb.BufferT()]
        self.inputs, self.outputs = [], []

    def tensor(self, shape, ttype, scales=None, zero_points=None, axis=0, data=None):
        t = fb.TensorT()
        t.shape = list(shape)
        t.type = ttype
        t.name = f"t{len(self.tensors)}"
        t.buffer = 0
        if data is not None:
            b = fb.BufferT()
            b.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            t.buffer = len(self.buffers)
            self.buffers.append(b)
        if scales is not None:
            q = fb.QuantizationParametersT()
            q.scale = [float(np.float32(s)) for s in scales]
            q.zeroPoint = [int(z) for z in zero_points]
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def act(self, shape, scale, zero_point, std):
        scale = float(np.float32(scale))
        i = self.tensor(shape, fb.TensorType.INT8, [scale], [zero_point])
        return Act(i, shape, scale, zero_point, std)

    def op(self, code, inputs, outputs, options_type=None, options=None):
        if code not in self.codes:
            self.codes.append(code)
        o = fb.OperatorT()
        o.opcodeIndex = self.codes.index(code)
        o.inputs, o.outputs = list(inputs), list(outputs)
        if options is not None:
            o.builtinOptionsType, o.builtinOptions = options_type, options
        self.operators.append(o)

    def input(self, shape, scale, zero_point):
        a = self.act(shape, scale, zero_point, 74.0 * scale)
        self.inputs = [a.index]
        return a

    def output_params(self, act, sigma):
        """The scale and zero point of an output of spread `sigma` after `act`."""
        if act == ACT.RELU:
            return 3.0 * sigma / 255.0, -128
        if act == ACT.RELU6:
            return 7.0 / 255.0, -128
        if act == ACT.RELU_N1_TO_1:
            return 1.25 / 127.0, 0
        return 6.0 * sigma / 255.0, int(self.rng.integers(-20, 21))

    def weights(self, shape, taps, x, sigma, channels, per_channel=True, dead=False):
        """Int8 weights (a few -128) and their scales, so that the sum over `taps` inputs of
        spread x.std has spread about `sigma`."""
        w = self.rng.integers(-127, 128, shape).astype(np.int8)
        flat = w.reshape(-1)
        flat[self.rng.integers(0, flat.size, max(1, flat.size // 200))] = -128
        n = channels if per_channel else 1
        scales = self.rng.uniform(0.5, 1.5, n) * sigma / (x.std * 73.0 * np.sqrt(taps))
        if dead:
            scales[0] = 1e-30
        return w, scales

    def bias(self, x, scales, channels, sigma, dead=False):
        real = self.rng.normal(0.0, 0.3 * sigma, channels)
        full = np.broadcast_to(scales, (channels,)) if len(scales) == 1 else scales
        with np.errstate(over="ignore", invalid="ignore"):
            b = np.round(real / (x.scale * full)).astype(np.int32)
        if dead:
            b[0] = 12345
        t = self.tensor([channels], fb.TensorType.INT32, list(x.scale * np.asarray(scales)),
                        [0] * len(scales), data=b)
        return t

    def conv(self, x, k, kh, kw, stride, padding, act, depthwise=False, sigma=None, dead=False,
             stride_w=None):
        n, h, w, c = x.shape
        stride_w = stride if stride_w is None else stride_w
        sigma = x.std if sigma is None else sigma
        out_c = c if depthwise else k
        taps = kh * kw * (1 if depthwise else c)
        shape = [1, kh, kw, c] if depthwise else [k, kh, kw, c]
        wq, scales = self.weights(shape, taps, x, sigma, out_c, dead=dead)
        if dead:
            if depthwise:
                wq[..., 0] = 0
            else:
                wq[0] = 0
        wt = self.tensor(shape, fb.TensorType.INT8, scales, [0] * out_c,
                         axis=3 if depthwise else 0, data=wq)
        bt = self.bias(x, scales, out_c, sigma, dead)
        if padding == fb.Padding.SAME:
            oh, ow = -(-h // stride), -(-w // stride_w)
        else:
            oh, ow = (h - kh) // stride + 1, (w - kw) // stride_w + 1
        scale, zp = self.output_params(act, sigma)
        y = self.act([1, oh, ow, out_c], scale, zp, sigma)
        if depthwise:
            o = fb.DepthwiseConv2DOptionsT()
            o.depthMultiplier = 1
            kind, otype = OP.DEPTHWISE_CONV_2D, fb.BuiltinOptions.DepthwiseConv2DOptions
        else:
            o = fb.Conv2DOptionsT()
            kind, otype = OP.CONV_2D, fb.BuiltinOptions.Conv2DOptions
        o.padding, o.strideH, o.strideW = padding, stride, stride_w
        o.fusedActivationFunction = act
        o.dilationHFactor = o.dilationWFactor = 1
        self.op(kind, [x.index, wt, bt], [y.index], otype, o)
        return y

    def dense(self, x, units, act, per_channel, sigma=None):
        depth = int(np.prod(x.shape)) // x.shape[0]
        sigma = x.std if sigma is None else sigma
        wq, scales = self.weights([units, depth], depth, x, sigma, units, per_channel)
        wt = self.tensor([units, depth], fb.TensorType.INT8, scales, [0] * len(scales), data=wq)
        bt = self.bias(x, scales, units, sigma)
        scale, zp = self.output_params(act, sigma)
        y = self.act([1, units], scale, zp, sigma)
        o = fb.FullyConnectedOptionsT()
        o.fusedActivationFunction = act
        self.op(OP.FULLY_CONNECTED, [x.index, wt, bt], [y.index],
                fb.BuiltinOptions.FullyConnectedOptions, o)
        return y

    def pool(self, x, kind, kh, kw, stride, padding, act=ACT.NONE):
        n, h, w, c = x.shape
        if padding == fb.Padding.SAME:
            oh, ow = -(-h // stride), -(-w // stride)
        else:
            oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
        y = self.act([1, oh, ow, c], x.scale, x.zero_point, x.std)
        o = fb.Pool2DOptionsT()
        o.padding, o.strideH, o.strideW = padding, stride, stride
        o.filterHeight, o.filterWidth = kh, kw
        o.fusedActivationFunction = act
        self.op(kind, [x.index], [y.index], fb.BuiltinOptions.Pool2DOptions, o)
        return y

    def reshape(self, x, shape):
        s = self.tensor([len(shape)], fb.TensorType.INT32, data=np.array(shape, np.int32))
        y = self.act(shape, x.scale, x.zero_point, x.std)
        o = fb.ReshapeOptionsT()
        o.newShape = list(shape)
        self.op(OP.RESHAPE, [x.index, s], [y.index], fb.BuiltinOptions.ReshapeOptions, o)
        return y

    def add(self, a, b, act):
        sigma = float(np.hypot(a.std, b.std))
        scale, zp = self.output_params(act, sigma)
        y = self.act(a.shape, scale, zp, sigma)
        o = fb.AddOptionsT()
        o.fusedActivationFunction = act
        self.op(OP.ADD, [a.index, b.index], [y.index], fb.BuiltinOptions.AddOptions, o)
        return y

    def softmax(self, x, beta):
        y = self.act(x.shape, 1.0 / 256.0, -128, 0.1)
        o = fb.SoftmaxOptionsT()
        o.beta = beta
        self.op(OP.SOFTMAX, [x.index], [y.index], fb.BuiltinOptions.SoftmaxOptions, o)
        return y

    def float_input(self, shape, scale, zero_point):
        f = self.tensor(shape, fb.TensorType.FLOAT32)
        self.inputs = [f]
        y = self.act(shape, scale, zero_point, 74.0 * scale)
        self.op(OP.QUANTIZE, [f], [y.index], fb.BuiltinOptions.QuantizeOptions,
                fb.QuantizeOptionsT())
        return y

    def float_output(self, x):
        f = self.tensor(x.shape, fb.TensorType.FLOAT32)
        self.op(OP.DEQUANTIZE, [x.index], [f], fb.BuiltinOptions.DequantizeOptions,
                fb.DequantizeOptionsT())
        self.outputs = [f]

    def finish(self, y=None):
        if y is not None:
            self.outputs = [y.index]
        sg = fb.SubGraphT()
        sg.tensors, sg.operators = self.tensors, self.operators
        sg.inputs, sg.outputs = self.inputs, self.outputs
        m = fb.ModelT()
        m.version = 3
        m.description = "firmnet operator zoo"
        m.subgraphs = [sg]
        m.buffers = self.buffers
        m.operatorCodes = []
        for code in self.codes:
            c = fb.OperatorCodeT()
            c.builtinCode = code
            c.deprecatedBuiltinCode = min(code, 127)
            c.version = 1
            m.operatorCodes.append(c)
        b = flatbuffers.Builder(4096)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def conv_pools():
    """SAME convolution with ReLU6, a SAME max pool of stride 2 (partial border windows), a
    VALID average pool with a fused ReLU, a flattening RESHAPE, per-tensor weights."""
    g = Graph(1)
    x = g.input([1, 10, 9, 3], 0.05, 5)
    x = g.conv(x, 6, 3, 3, 1, fb.Padding.SAME, ACT.RELU6, sigma=4.0)
    x = g.pool(x, OP.MAX_POOL_2D, 3, 3, 2, fb.Padding.SAME)
    x = g.pool(x, OP.AVERAGE_POOL_2D, 2, 2, 1, fb.Padding.VALID, ACT.RELU)
    x = g.reshape(x, [1, int(np.prod(x.shape))])
    x = g.dense(x, 7, ACT.NONE, per_channel=False)
    return g.finish(x)


def depthwise_valid():
    """VALID depthwise of stride 2 with ReLU-1..1, a 1×1 convolution with a dead channel,
    a VALID 2×3 convolution of stride 3, FULLY_CONNECTED straight on the feature map."""
    g = Graph(2)
    x = g.input([1, 11, 8, 4], 0.1, -7)
    x = g.conv(x, 0, 3, 3, 2, fb.Padding.VALID, ACT.RELU_N1_TO_1, depthwise=True, sigma=1.0)
    x = g.conv(x, 8, 1, 1, 1, fb.Padding.SAME, ACT.RELU, dead=True)
    x = g.conv(x, 5, 2, 3, 3, fb.Padding.VALID, ACT.NONE)
    x = g.dense(x, 6, ACT.RELU, per_channel=True)
    return g.finish(x)


def residual_float():
    """A float input and output (QUANTIZE, DEQUANTIZE), a block with an identity shortcut
    and ReLU6 on its ADD, a block whose shortcut is a 1×1 convolution of stride 2 (the ADD
    reads the body first), a whole-map average pool, a per-channel dense layer."""
    g = Graph(3)
    x = g.float_input([1, 8, 8, 4], 0.03, 10)
    x = g.conv(x, 8, 3, 3, 1, fb.Padding.SAME, ACT.RELU)
    b = g.conv(x, 8, 3, 3, 1, fb.Padding.SAME, ACT.RELU)
    b = g.conv(b, 8, 3, 3, 1, fb.Padding.SAME, ACT.NONE)
    x = g.add(x, b, ACT.RELU6)
    b = g.conv(x, 12, 3, 3, 2, fb.Padding.SAME, ACT.RELU)
    b = g.conv(b, 12, 3, 3, 1, fb.Padding.SAME, ACT.NONE)
    s = g.conv(x, 12, 1, 1, 2, fb.Padding.SAME, ACT.NONE)
    x = g.add(b, s, ACT.NONE)
    x = g.pool(x, OP.AVERAGE_POOL_2D, 4, 4, 1, fb.Padding.VALID)
    x = g.reshape(x, [1, 12])
    x = g.dense(x, 5, ACT.NONE, per_channel=True)
    g.float_output(x)
    return g.finish()


def dense_softmax():
    """Dense layers, per-channel then per-tensor, and a softmax with beta 0.7."""
    g = Graph(4)
    x = g.input([1, 20], 0.2, 0)
    x = g.dense(x, 16, ACT.RELU, per_channel=True)
    x = g.dense(x, 9, ACT.NONE, per_channel=False, sigma=3.0)
    x = g.softmax(x, 0.7)
    return g.finish(x)


def pools_same():
    """A SAME average pool of stride 2 (border windows average fewer taps), a VALID max
    pool, a SAME depthwise convolution of stride 2 on an odd map, a whole-map average."""
    g = Graph(5)
    x = g.input([1, 7, 7, 8], 0.08, -3)
    x = g.pool(x, OP.AVERAGE_POOL_2D, 3, 3, 2, fb.Padding.SAME)
    x = g.pool(x, OP.MAX_POOL_2D, 2, 2, 1, fb.Padding.VALID, ACT.RELU)
    x = g.conv(x, 0, 3, 3, 2, fb.Padding.SAME, ACT.RELU, depthwise=True)
    x = g.pool(x, OP.AVERAGE_POOL_2D, 2, 2, 1, fb.Padding.VALID)
    x = g.reshape(x, [1, 8])
    x = g.dense(x, 4, ACT.NONE, per_channel=False)
    return g.finish(x)


MODELS = [conv_pools, depthwise_valid, residual_float, dense_softmax, pools_same]


def inputs(n, rng):
    xs = [np.zeros(n), np.full(n, -128), np.full(n, 127), np.arange(n) % 256 - 128,
          127 - np.arange(n) % 256, np.where(np.arange(n) % 2 == 0, -128, 127)]
    xs += [rng.integers(-128, 128, n) for _ in range(INPUTS - len(xs))]
    return [x.astype(np.int8) for x in xs]


def run(name, model):
    interp = runtime.Interpreter.from_bytes(model)
    fb_model = fb.ModelT.InitFromPackedBuf(model, 0)
    sg = fb_model.subgraphs[0]
    tin, tout = sg.tensors[sg.inputs[0]], sg.tensors[sg.outputs[0]]
    if tin.type == fb.TensorType.FLOAT32:
        # The QUANTIZE's output quantization.
        q = sg.tensors[sg.operators[0].outputs[0]].quantization
    else:
        q = tin.quantization
    n = int(np.prod(tin.shape))
    out_n = int(np.prod(tout.shape))
    rng = np.random.default_rng(1000 + MODELS.index(globals()[name]))
    lines = [f"model {name} {INPUTS} {n} {out_n}"]
    for x in inputs(n, rng):
        if tin.type == fb.TensorType.FLOAT32:
            scale, zp = np.float32(q.scale[0]), q.zeroPoint[0]
            feed = ((x.astype(np.float32) - np.float32(zp)) * scale).reshape(tin.shape)
        else:
            feed = x.reshape(tin.shape)
        interp.set_input(feed, 0)
        interp.invoke()
        y = interp.get_output(0).reshape(-1)
        if tout.type == fb.TensorType.FLOAT32:
            # The DEQUANTIZE's input quantization.
            dq = sg.tensors[sg.operators[-1].inputs[0]].quantization
            scale, zp = np.float32(dq.scale[0]), dq.zeroPoint[0]
            y = np.round(y / scale).astype(np.int64) + zp
        lines.append(" ".join(map(str, x)) + " | " + " ".join(map(str, y)))
    return lines


def main():
    check = sys.argv[1:2] == ["--check"]
    os.makedirs(os.path.join(HERE, "zoo"), exist_ok=True)
    text = []
    differs = []
    for build in MODELS:
        name = build.__name__
        model = build()
        path = os.path.join(HERE, "zoo", f"{name}.tflite")
        if check:
            if open(path, "rb").read() != model:
                differs.append(path)
        else:
            open(path, "wb").write(model)
        text += run(name, model)
    text = "\n".join(text) + "\n"
    path = os.path.join(HERE, "zoo.txt")
    if check:
        if open(path).read() != text:
            differs.append(path)
        if differs:
            sys.exit("differs from what the interpreter gives now: " + ", ".join(differs))
        print(f"{len(MODELS)} models and {path}: identical")
    else:
        open(path, "w").write(text)


if __name__ == "__main__":
    main()
