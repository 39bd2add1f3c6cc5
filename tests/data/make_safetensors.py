"""Writes the safetensors fixtures of tests/format.rs.

The fixtures stand for a PyTorch model

    nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))

in evaluation mode: its state_dict under PyTorch's names and shapes (Linear weights are
[out_features, in_features]; BatchNorm1d has weight, bias, running_mean, running_var and an
int64 num_batches_tracked), and the outputs PyTorch computes for a few inputs, evaluated
here in float64 with PyTorch's formulas (BatchNorm1d in eval mode:
(x - running_mean) / sqrt(running_var + 1e-5) * weight + bias).

Needs only numpy and safetensors (pip install numpy safetensors); run from the repository
root:

    python tests/data/make_safetensors.py

Outputs, in tests/data/:
  pytorch_mlp.safetensors       the state_dict in float32
  pytorch_mlp_f16.safetensors   the same weights in float16 (as model.half() saves them)
  pytorch_mlp_io.safetensors    "input" [5, 4] and "output" [5, 3], float64
"""

import os

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240607)


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


state = {
    "0.weight": f32(rng.normal(0.0, 0.5, size=(8, 4))),
    "0.bias": f32(rng.normal(0.0, 0.1, size=(8,))),
    "1.weight": f32(rng.uniform(0.5, 1.5, size=(8,))),
    "1.bias": f32(rng.normal(0.0, 0.2, size=(8,))),
    "1.running_mean": f32(rng.normal(0.0, 0.3, size=(8,))),
    "1.running_var": f32(rng.uniform(0.5, 2.0, size=(8,))),
    "1.num_batches_tracked": np.array(1234, dtype=np.int64),
    "3.weight": f32(rng.normal(0.0, 0.5, size=(3, 8))),
    "3.bias": f32(rng.normal(0.0, 0.1, size=(3,))),
}
half = {
    k: (v.astype(np.float16) if v.dtype == np.float32 else v) for k, v in state.items()
}


def forward(s, x):
    p = {k: v.astype(np.float64) for k, v in s.items()}
    h = x @ p["0.weight"].T + p["0.bias"]
    h = (h - p["1.running_mean"]) / np.sqrt(p["1.running_var"] + 1e-5) * p["1.weight"] + p["1.bias"]
    h = np.maximum(h, 0.0)
    return h @ p["3.weight"].T + p["3.bias"]


x = rng.normal(0.0, 1.0, size=(5, 4)).astype(np.float32).astype(np.float64)
meta = {"format": "pt"}
save_file(state, os.path.join(HERE, "pytorch_mlp.safetensors"), metadata=meta)
save_file(half, os.path.join(HERE, "pytorch_mlp_f16.safetensors"), metadata=meta)
save_file(
    {"input": x, "output": forward(state, x), "output_f16": forward(half, x)},
    os.path.join(HERE, "pytorch_mlp_io.safetensors"),
)
