"""PyTorch baseline for `benches/train.rs`: the same network, optimizer and batch, one thread.

Measures, for FashionMlp (784-256-128-10 with BatchNorm1d, ReLU and Dropout(0.2), Adam at
lr 1e-3, cross-entropy, batch 64, float32 random inputs):

  * one full training step (zero_grad, forward, loss, backward, optimizer.step);
  * forward + backward alone;
  * optimizer.step() alone (the Adam update);
  * batch-1 inference in eval mode under torch.inference_mode().

Each figure is the median (and interquartile range) of many timed repetitions after a
warm-up. firmnet itself never depends on PyTorch; this script only measures the baseline:

    python3 -m venv venv && venv/bin/pip install torch && venv/bin/python benches/pytorch_mlp.py
"""

import argparse
import statistics
import time

import torch
from torch import nn


def model():
    return nn.Sequential(
        nn.Linear(784, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(256, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(128, 10),
    )


def timed(fn, repeats, warmup):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    q = statistics.quantiles(samples, n=4)
    return statistics.median(samples), q[0], q[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = model()
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(64, 784)
    y = torch.randint(0, 10, (64,))

    def report(name, unit, scale, result):
        median, q1, q3 = result
        print(f"{name:<42} {median * scale:8.3f} {unit}  (IQR {q1 * scale:.3f}-{q3 * scale:.3f})")
        print(f"MEASURE {name.replace(' ', '_')} median_{unit}={median * scale:.2f}")

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    variants = [("default", {})]
    for flag in ("foreach", "fused"):
        variants.append((f"{flag}=True", {flag: True}))
    variants.append(("foreach=False", {"foreach": False}))
    net.train()
    for label, kwargs in variants:
        try:
            opt = torch.optim.Adam(net.parameters(), lr=1e-3, **kwargs)
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()
        except (RuntimeError, TypeError) as e:
            print(f"Adam({label}): not available here ({e})")
            continue

        def step():
            opt.zero_grad(set_to_none=False)
            loss_fn(net(x), y).backward()
            opt.step()

        def forward_backward():
            opt.zero_grad(set_to_none=False)
            loss_fn(net(x), y).backward()

        result = timed(step, args.repeats, args.warmup)
        report(f"train step batch64 Adam({label})", "ms", 1e3, result)
        print(f"{'':<42} {64 / result[0]:8.0f} samples/s")
        report(f"forward+backward batch64 ({label})", "ms", 1e3, timed(forward_backward, args.repeats, args.warmup))
        report(f"adam step only ({label})", "ms", 1e3, timed(opt.step, args.repeats, args.warmup))

    net.eval()
    one = torch.randn(1, 784)

    def infer():
        with torch.inference_mode():
            net(one)

    report("inference batch1 eval", "us", 1e6, timed(infer, args.repeats * 5, args.warmup))


if __name__ == "__main__":
    main()
