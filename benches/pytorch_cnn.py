"""PyTorch baseline for `benches/train_cnn.rs`: the same network, optimizer and batch, one thread.

Measures, for the small CNN of `benches/train_cnn.rs` (Conv2d 1->16 3x3 same, BatchNorm2d,
ReLU, MaxPool2d 2; Conv2d 16->32 3x3 same, BatchNorm2d, ReLU, MaxPool2d 2; flatten;
Linear 1568->48, ReLU, Linear 48->10; 80,698 parameters), Adam at lr 1e-3,
cross-entropy, batch 64 of 1x28x28 float32 random images, torch.manual_seed(0):

  * one full training step (zero_grad, forward, loss, backward, optimizer.step), in ms,
    and the training throughput, 64 samples / step time;
  * optimizer.step() alone (the Adam update), in ms;
  * forward + backward alone (zero_grad, forward, loss, backward), in ms;
  * batch-1 inference in eval mode under torch.inference_mode(), in us per sample.

The three training figures are taken for Adam as torch configures it by default
(variant "default") and, where this build offers them on the CPU, with foreach=True
("foreach"), foreach=False ("no_foreach") and fused=True ("fused").
Each figure is the median, with the interquartile range, of many timed repetitions after
a warm-up, timed by the thread's CPU clock (`time.thread_time`, as `benches/train_cnn.rs`
times its thread; with one intra-op thread the work runs on the calling thread) or, with
`--clock wall`, by the wall clock. Gradients are zeroed in place (set_to_none=False), as firmnet's optimizers
leave zeroed gradients behind. PyTorch's tensors are NCHW, firmnet's HWC: the flattened
features come in another order, which changes nothing in the arithmetic.

Output: a table, then one machine-readable line per measurement, e.g.

    MEASURE name=train_step variant=default median_ms=2.021 q1_ms=2.010 q3_ms=2.035

firmnet itself never depends on PyTorch; this script only measures the baseline:

    python3 -m venv venv && venv/bin/pip install torch && venv/bin/python benches/pytorch_cnn.py
"""

import argparse
import statistics
import time

import torch
from torch import nn

BATCH = 64


def model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding="same"), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding="same"), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(1568, 48), nn.ReLU(),
        nn.Linear(48, 10),
    )


CLOCKS = {"thread": time.thread_time, "wall": time.perf_counter}
clock = CLOCKS["thread"]


def timed(fn, repeats, warmup):
    """Median, first and third quartile of `repeats` timings of `fn`, in seconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t = clock()
        fn()
        samples.append(clock() - t)
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return statistics.median(samples), q1, q3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000, help="timed repetitions")
    parser.add_argument("--warmup", type=int, default=200, help="untimed repetitions first")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="thread",
                        help="the thread's CPU time (default) or wall time")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]

    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = model()
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(BATCH, 1, 28, 28)
    y = torch.randint(0, 10, (BATCH,))

    print(f"torch {torch.__version__}, intra-op threads {torch.get_num_threads()}, "
          f"inter-op threads {torch.get_num_interop_threads()}")
    print(f"parameters {sum(p.numel() for p in net.parameters())}, batch {BATCH}, "
          f"{args.repeats} repetitions after {args.warmup} warm-up")

    rows = []

    def record(name, variant, unit, scale, result):
        median, q1, q3 = (v * scale for v in result)
        rows.append((name, variant, unit, median, q1, q3))
        return median

    variants = [("default", {}), ("foreach", {"foreach": True}),
                ("no_foreach", {"foreach": False}), ("fused", {"fused": True})]
    net.train()
    for label, kwargs in variants:
        try:
            opt = torch.optim.Adam(net.parameters(), lr=1e-3, **kwargs)
            opt.zero_grad(set_to_none=False)
            loss_fn(net(x), y).backward()
            opt.step()
        except (RuntimeError, TypeError, ValueError) as e:
            print(f"Adam({label}) is not available here: {e}")
            continue

        def step():
            opt.zero_grad(set_to_none=False)
            loss_fn(net(x), y).backward()
            opt.step()

        def forward_backward():
            opt.zero_grad(set_to_none=False)
            loss_fn(net(x), y).backward()

        step_ms = record("train_step", label, "ms", 1e3, timed(step, args.repeats, args.warmup))
        rows.append(("train_samples_per_s", label, "samples/s", BATCH / (step_ms / 1e3), None, None))
        record("adam_step", label, "ms", 1e3, timed(opt.step, args.repeats, args.warmup))
        record("forward_backward", label, "ms", 1e3,
               timed(forward_backward, args.repeats, args.warmup))

    net.eval()
    one = torch.randn(1, 1, 28, 28)

    def infer():
        with torch.inference_mode():
            net(one)

    record("inference_batch1", "eval", "us", 1e6, timed(infer, args.repeats * 5, args.warmup))

    print()
    print(f"{'measurement':<22} {'variant':<14} {'median':>8} {'unit':<9} interquartile range")
    for name, variant, unit, median, q1, q3 in rows:
        iqr = f"{q1:.3f} - {q3:.3f}" if q1 is not None else ""
        shown = f"{median:.0f}" if q1 is None else f"{median:.3f}"
        print(f"{name:<22} {variant:<14} {shown:>8} {unit:<9} {iqr}")
    print()
    for name, variant, unit, median, q1, q3 in rows:
        key = "samples_per_s" if unit == "samples/s" else unit
        line = f"MEASURE name={name} variant={variant} median_{key}={median:.3f}"
        if q1 is not None:
            line += f" q1_{key}={q1:.3f} q3_{key}={q3:.3f}"
        print(line)


if __name__ == "__main__":
    main()
