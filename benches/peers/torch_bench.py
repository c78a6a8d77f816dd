"""PyTorch (CPU, one thread) timings for the models of benches/mlp.rs.

Training: a plain loop (zero_grad, forward, loss, backward, Adam step) over batches of 32 random
samples, in samples/s, with the default Adam and with ``Adam(fused=True)``, each with denormals as PyTorch
leaves them and with ``torch.set_flush_denormal(True)`` (on random data many Adam moments decay
through the subnormal range, which is slow on x86 unless flushed; TensorFlow and dl flush them
during training by default). The models end in
sigmoid/softmax for inference; training feeds their logits to ``BCEWithLogitsLoss`` /
``CrossEntropyLoss``, PyTorch's normal fused form of "sigmoid/softmax + cross-entropy". Forward:
one sample under ``torch.inference_mode()``, in µs. Every number is the median of several timed
repeats after warm-up; the fastest path is the headline and every path is kept in the JSON.

Run through run.sh, which pins the process to one core with taskset.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import torch  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from torch import nn  # noqa: E402

BATCH = 32
DATASET = 8192


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def time_calls(fn, repeats, block_s, warmup_s=0.3):
    """Median seconds per call of fn over `repeats` blocks of about `block_s` seconds each."""
    t0 = time.perf_counter()
    calls = 0
    while time.perf_counter() - t0 < warmup_s or calls < 3:
        fn()
        calls += 1
    per = (time.perf_counter() - t0) / calls
    n = max(1, int(block_s / per))
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t) / n)
    return statistics.median(samples), samples, n


def build(name):
    """(logits network, output activation, training loss) for a model."""
    torch.manual_seed(0)
    if name == "tutorial_mlp":
        body = nn.Sequential(
            nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)
        )
        return body, nn.Sigmoid(), nn.BCEWithLogitsLoss()
    if name == "mnist_mlp":
        body = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
        return body, nn.Softmax(dim=-1), nn.CrossEntropyLoss()
    raise ValueError(name)


def data(name, n, seed=0):
    rng = np.random.default_rng(seed)
    if name == "tutorial_mlp":
        x = rng.standard_normal((n, 10), dtype=np.float32)
        y = rng.integers(0, 2, (n, 1)).astype(np.float32)
    else:
        x = rng.random((n, 784), dtype=np.float32)
        y = rng.integers(0, 10, (n,)).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def bench_train(name, fused, flush_denormal, repeats, block_s):
    torch.set_flush_denormal(flush_denormal)
    body, _, loss_fn = build(name)
    body.train()
    opt = torch.optim.Adam(body.parameters(), lr=1e-3, fused=fused)
    x, y = data(name, DATASET)
    batches = list(zip(x.split(BATCH), y.split(BATCH)))
    state = {"i": 0}

    def step():
        bx, by = batches[state["i"]]
        state["i"] = (state["i"] + 1) % len(batches)
        opt.zero_grad()
        loss = loss_fn(body(bx), by)
        loss.backward()
        opt.step()
        state["loss"] = loss

    try:
        med, samples, n = time_calls(step, repeats, block_s)
    finally:
        torch.set_flush_denormal(False)
    assert torch.isfinite(state["loss"]).item()
    return {"samples_per_s": BATCH / med, "step_s": samples, "steps_per_repeat": n}


def bench_forward(name, repeats, block_s):
    body, act, _ = build(name)
    model = nn.Sequential(body, act).eval()
    x1 = data(name, 1, seed=1)[0]

    def fwd():
        with torch.inference_mode():
            return model(x1)

    med, samples, n = time_calls(fwd, repeats, block_s)
    return {
        "torch.inference_mode() model(x)": {
            "us": med * 1e6,
            "call_us": [s * 1e6 for s in samples],
            "calls_per_repeat": n,
        }
    }


def run_model(name, args):
    train = {}
    for flush in (False, True):
        for fused in (False, True):
            label = "plain loop, " + ("Adam(fused=True)" if fused else "Adam()")
            if flush:
                label += ", set_flush_denormal(True)"
            train[label] = bench_train(name, fused, flush, args.repeats, args.block)
            print(f"  {name} train {label}: {train[label]['samples_per_s']:,.0f} samples/s", flush=True)
    forward = bench_forward(name, args.repeats, args.block)
    for label, r in forward.items():
        print(f"  {name} forward {label}: {r['us']:.1f} µs", flush=True)
    best_train = max(train, key=lambda k: train[k]["samples_per_s"])
    best_fwd = min(forward, key=lambda k: forward[k]["us"])
    return {
        "train_samples_per_s": train[best_train]["samples_per_s"],
        "train_path": best_train,
        "forward_us": forward[best_fwd]["us"],
        "forward_path": best_fwd,
        "train_variants": train,
        "forward_variants": forward,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--repeats", type=int, default=11, help="timed repeats per path (median)")
    p.add_argument("--block", type=float, default=0.2, help="seconds per timed repeat")
    p.add_argument("--models", default="tutorial_mlp,mnist_mlp")
    args = p.parse_args()

    started = time.time()
    models = {name: run_model(name, args) for name in args.models.split(",")}
    result = {
        "framework": "pytorch",
        "label": f"PyTorch {torch.__version__}",
        "versions": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "threads": {
            "num_threads": torch.get_num_threads(),
            "num_interop_threads": torch.get_num_interop_threads(),
            "affinity": sorted(os.sched_getaffinity(0)),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "backend": torch.__config__.show().splitlines()[:8],
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu": cpu_model(),
        "batch": BATCH,
        "seconds": time.time() - started,
        "models": models,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out} ({result['seconds']:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
