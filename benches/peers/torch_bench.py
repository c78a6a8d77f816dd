"""PyTorch (CPU, one thread) timings for the models of benches/{mlp,cnn,lstm,resnet}.rs.

Training: a plain loop (zero_grad, forward, loss, backward, Adam step) over batches of 32 random
samples, in samples/s, with the default Adam and with ``Adam(fused=True)``, each with denormals as PyTorch
leaves them and with ``torch.set_flush_denormal(True)`` (on random data many Adam moments decay
through the subnormal range, which is slow on x86 unless flushed; TensorFlow and dl flush them
during training by default). The models end in
sigmoid/softmax for inference; training feeds their logits to ``BCEWithLogitsLoss`` /
``CrossEntropyLoss``, PyTorch's normal fused form of "sigmoid/softmax + cross-entropy". Forward:
one sample under ``torch.inference_mode()``, in µs; batch inference: 1024 samples under
``torch.inference_mode()`` in one call and in chunks of 256 and 64 (smaller batches can be faster
on one core), in samples/s. The CNN and ResNet-8 (NCHW in PyTorch) are timed with the
default contiguous layout and with ``torch.channels_last`` for every path. Every number is the
median of several timed repeats after warm-up; the fastest path is the headline and every path
is kept in the JSON. The slow models (CNN, LSTM, ResNet-8) get fewer repeats (``SETTINGS``).

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
PREDICT = 1024
CHUNKS = (PREDICT, 256, 64)  # batch sizes tried for the 1024-sample inference
DATASET = 8192  # MLPs; the slow models cycle through 1024 samples
VOCAB, SEQ = 10000, 100  # text_lstm: token ids in [0, VOCAB), sequences of SEQ tokens

FAST = {"repeats": 11, "block": 0.2, "dataset": DATASET}
SLOW = {"repeats": 5, "block": 0.2, "dataset": 1024}
SETTINGS = {
    "tutorial_mlp": FAST, "mnist_mlp": FAST, "mnist_cnn": SLOW, "text_lstm": SLOW, "resnet8": SLOW,
    "ds_cnn": SLOW, "mobilenet_v1": SLOW,
}  # fmt: skip
# What run.sh times by default; `--tiny` times the two MLPerf Tiny models with depthwise layers.
DEFAULT_MODELS = ("tutorial_mlp", "mnist_mlp", "mnist_cnn", "text_lstm", "resnet8")
IMAGE_LAYOUTS = ("contiguous (NCHW)", "channels_last")
LAYOUTS = {name: IMAGE_LAYOUTS for name in ("mnist_cnn", "resnet8", "ds_cnn", "mobilenet_v1")}
# Keras's l2(1e-4) kernel regularizer adds 1e-4·Σw² to the loss, so 2e-4·w to the gradient:
# Adam's (coupled) weight_decay on the same kernels.
L2_DECAY = 2e-4


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
    if name == "mnist_cnn":
        body = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1600, 64), nn.ReLU(), nn.Linear(64, 10),
        )  # fmt: skip
        return body, nn.Softmax(dim=-1), nn.CrossEntropyLoss()
    if name == "text_lstm":
        return TextLstm(), nn.Softmax(dim=-1), nn.CrossEntropyLoss()
    if name == "resnet8":
        return ResNet8(), nn.Softmax(dim=-1), nn.CrossEntropyLoss()
    if name == "ds_cnn":
        return DsCnn(), nn.Softmax(dim=-1), nn.CrossEntropyLoss()
    if name == "mobilenet_v1":
        return MobileNetV1(), nn.Softmax(dim=-1), nn.CrossEntropyLoss()
    raise ValueError(name)


def same(kernel, stride, size):
    """Keras's ``padding='same'`` for one axis: (before, after), the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_same(cin, cout, kernel, stride, size, groups=1):
    """A Conv2d padded as Keras's ``same`` pads an input of ``size`` (height, width)."""
    (kh, kw), (h, w) = kernel, size
    top, bottom = same(kh, stride, h)
    left, right = same(kw, stride, w)
    conv = nn.Conv2d(cin, cout, kernel, stride=stride, groups=groups)
    if top == bottom and left == right:
        conv.padding = (top, left)
        return conv
    return nn.Sequential(nn.ZeroPad2d((left, right, top, bottom)), conv)


def he_normal(conv):
    """Keras's he_normal: a normal truncated at two standard deviations, scaled so that the
    truncated one has standard deviation √(2 / fan_in)."""
    std = (2.0 / conv.weight[0].numel()) ** 0.5 / 0.87962566103423978
    nn.init.trunc_normal_(conv.weight, std=std, a=-2 * std, b=2 * std)
    return conv


class DsCnn(nn.Module):
    """MLPerf Tiny's DS-CNN (keyword_spotting/keras_model.py) as keras_bench.py builds it from
    the fixture script: 49×10×1 MFCCs, Conv2D(64, 10×4, stride 2) → BN → relu → Dropout(0.2),
    four depthwise-separable blocks of 64, Dropout(0.4), AveragePooling2D(24×5), Dense(12).
    l2(1e-4) on the standard convolutions' kernels (``l2_kernels``)."""

    def __init__(self):
        super().__init__()
        first = conv_same(1, 64, (10, 4), 2, (49, 10))
        layers = [first, bn(64), nn.ReLU(), nn.Dropout(0.2)]
        self.l2_kernels = [first[-1].weight if isinstance(first, nn.Sequential) else first.weight]
        for _ in range(4):
            pointwise = nn.Conv2d(64, 64, 1)
            self.l2_kernels.append(pointwise.weight)
            layers += [conv_same(64, 64, (3, 3), 1, (25, 5), groups=64), bn(64), nn.ReLU(),
                       pointwise, bn(64), nn.ReLU()]  # fmt: skip
        layers += [nn.Dropout(0.4), nn.AvgPool2d((24, 5)), nn.Flatten(), nn.Linear(64, 12)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class MobileNetV1(nn.Module):
    """MLPerf Tiny's MobileNetV1, α = 0.25, on 96×96×3 (visual_wake_words/vww_model.py) as
    keras_bench.py builds it: he_normal and l2(1e-4) on the standard convolutions' kernels."""

    def __init__(self):
        super().__init__()
        filters, size = 8, 48
        first = conv_same(3, filters, (3, 3), 2, (96, 96))
        stem = first[-1] if isinstance(first, nn.Sequential) else first
        self.l2_kernels = [he_normal(stem).weight]
        layers = [first, bn(filters), nn.ReLU()]
        blocks = [(1, True), (2, True), (1, False), (2, True), (1, False), (2, True)]
        blocks += [(1, False)] * 5 + [(2, True), (1, False)]
        for stride, doubles in blocks:
            layers += [conv_same(filters, filters, (3, 3), stride, (size, size), groups=filters),
                       bn(filters), nn.ReLU()]  # fmt: skip
            size = -(-size // stride)
            cout = filters * 2 if doubles else filters
            pointwise = he_normal(nn.Conv2d(filters, cout, 1))
            self.l2_kernels.append(pointwise.weight)
            layers += [pointwise, bn(cout), nn.ReLU()]
            filters = cout
        layers += [nn.AvgPool2d(size), nn.Flatten(), nn.Linear(filters, 2)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


def param_groups(body):
    """Adam's parameter groups: the kernels Keras regularizes get ``L2_DECAY``."""
    decayed = {id(p) for p in getattr(body, "l2_kernels", [])}
    if not decayed:
        return body.parameters()
    return [
        {"params": [p for p in body.parameters() if id(p) not in decayed]},
        {"params": [p for p in body.parameters() if id(p) in decayed], "weight_decay": L2_DECAY},
    ]


def bn(channels):
    """Keras's BatchNormalization defaults: momentum 0.99 (PyTorch counts 1 - 0.99), epsilon 1e-3."""
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class Stack(nn.Module):
    """One ResNet-8 stack: conv-BN-relu-conv-BN added to the input (or to a strided 1×1
    projection of it when the stride is 2), then relu."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1), bn(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1), bn(cout),
        )  # fmt: skip
        self.shortcut = nn.Conv2d(cin, cout, 1, stride=stride) if stride != 1 else nn.Identity()

    def forward(self, x):
        return torch.relu(self.shortcut(x) + self.main(x))


class ResNet8(nn.Module):
    """MLPerf Tiny's ResNet-8 as keras_bench.py builds it (16/32/64 filters, no weight decay).

    Keras's ``padding='same'`` with stride 2 pads only the bottom/right row and column; PyTorch's
    ``padding=1`` pads both sides. The shapes, parameters and multiply-adds are the same; the
    strided windows sit one pixel apart, which does not change the speed."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), bn(16), nn.ReLU(),
            Stack(16, 16, 1), Stack(16, 32, 2), Stack(32, 64, 2),
            nn.AvgPool2d(8), nn.Flatten(), nn.Linear(64, 10),
        )  # fmt: skip

    def forward(self, x):
        return self.body(x)


class TextLstm(nn.Module):
    """Embedding(10000, 64) → LSTM(64) (last hidden state) → Linear(64) → ReLU → Linear(10)."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 64)
        self.lstm = nn.LSTM(64, 64, batch_first=True)
        self.head = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, tokens):
        _, (h, _) = self.lstm(self.emb(tokens))
        return self.head(h[-1])


def to_layout(layout, *tensors_or_modules):
    if layout == "channels_last":
        return [t.to(memory_format=torch.channels_last) for t in tensors_or_modules]
    return list(tensors_or_modules)


def data(name, n, seed=0):
    rng = np.random.default_rng(seed)
    if name == "tutorial_mlp":
        x = rng.standard_normal((n, 10), dtype=np.float32)
        y = rng.integers(0, 2, (n, 1)).astype(np.float32)
    elif name == "mnist_mlp":
        x = rng.random((n, 784), dtype=np.float32)
        y = rng.integers(0, 10, (n,)).astype(np.int64)
    elif name == "mnist_cnn":
        x = rng.random((n, 1, 28, 28), dtype=np.float32)
        y = rng.integers(0, 10, (n,)).astype(np.int64)
    elif name == "resnet8":
        x = rng.random((n, 3, 32, 32), dtype=np.float32)
        y = rng.integers(0, 10, (n,)).astype(np.int64)
    elif name == "ds_cnn":
        x = rng.random((n, 1, 49, 10), dtype=np.float32)
        y = rng.integers(0, 12, (n,)).astype(np.int64)
    elif name == "mobilenet_v1":
        x = rng.random((n, 3, 96, 96), dtype=np.float32)
        y = rng.integers(0, 2, (n,)).astype(np.int64)
    else:
        x = rng.integers(0, VOCAB, (n, SEQ)).astype(np.int64)
        y = rng.integers(0, 10, (n,)).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def bench_train(name, layout, fused, flush_denormal, cfg):
    torch.set_flush_denormal(flush_denormal)
    body, _, loss_fn = build(name)
    x, y = data(name, cfg["dataset"])
    body, x = to_layout(layout, body, x)
    body.train()
    opt = torch.optim.Adam(param_groups(body), lr=1e-3, fused=fused)
    batches = [(bx.contiguous(memory_format=torch.channels_last) if layout == "channels_last" else bx, by)
               for bx, by in zip(x.split(BATCH), y.split(BATCH))]  # fmt: skip
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
        med, samples, n = time_calls(step, cfg["repeats"], cfg["block"])
    finally:
        torch.set_flush_denormal(False)
    assert torch.isfinite(state["loss"]).item()
    return {"samples_per_s": BATCH / med, "step_s": samples, "steps_per_repeat": n}


def bench_infer(name, layout, n, chunk, cfg):
    """n samples under inference_mode, in calls of `chunk` samples: µs per n and samples/s."""
    body, act, _ = build(name)
    x = data(name, n, seed=1)[0]
    model, x = to_layout(layout, nn.Sequential(body, act).eval(), x)
    parts = x.split(chunk)

    def fwd():
        with torch.inference_mode():
            return model(x) if chunk == n else torch.cat([model(p) for p in parts])

    med, samples, calls = time_calls(fwd, cfg["repeats"], cfg["block"])
    return {
        "us": med * 1e6,
        "samples_per_s": n / med,
        "call_us": [s * 1e6 for s in samples],
        "calls_per_repeat": calls,
    }


def run_model(name, args):
    cfg = dict(SETTINGS[name])
    for key in ("repeats", "block"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    layouts = LAYOUTS.get(name, (None,))
    train, forward, predict = {}, {}, {}
    for layout in layouts:
        where = f"{layout}, " if layout else ""
        for flush in (False, True):
            for fused in (False, True):
                label = f"plain loop, {where}" + ("Adam(fused=True)" if fused else "Adam()")
                if flush:
                    label += ", set_flush_denormal(True)"
                train[label] = bench_train(name, layout, fused, flush, cfg)
                print(f"  {name} train {label}: {train[label]['samples_per_s']:,.0f} samples/s", flush=True)
    for layout in layouts:
        where = f", {layout}" if layout else ""
        label = "torch.inference_mode() model(x)" + where
        forward[label] = bench_infer(name, layout, 1, 1, cfg)
        print(f"  {name} forward {label}: {forward[label]['us']:.1f} µs", flush=True)
        for c in CHUNKS:
            label = "torch.inference_mode() model(x)" + where + ("" if c == PREDICT else f", chunks of {c}")
            predict[label] = bench_infer(name, layout, PREDICT, c, cfg)
            print(f"  {name} predict_{PREDICT} {label}: {predict[label]['samples_per_s']:,.0f} samples/s", flush=True)
    best_train = max(train, key=lambda k: train[k]["samples_per_s"])
    best_fwd = min(forward, key=lambda k: forward[k]["us"])
    best_pred = max(predict, key=lambda k: predict[k]["samples_per_s"])
    return {
        "train_samples_per_s": train[best_train]["samples_per_s"],
        "train_path": best_train,
        "forward_us": forward[best_fwd]["us"],
        "forward_path": best_fwd,
        "predict_samples_per_s": predict[best_pred]["samples_per_s"],
        "predict_path": best_pred,
        "settings": cfg,
        "train_variants": train,
        "forward_variants": forward,
        "predict_variants": predict,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--repeats", type=int, help="timed repeats per path (median); default per model")
    p.add_argument("--block", type=float, help="seconds per timed repeat; default per model")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS), help=f"any of {','.join(SETTINGS)}")
    args = p.parse_args()

    started = time.time()
    models = {}
    for name in args.models.split(","):
        t = time.time()
        models[name] = run_model(name, args)
        models[name]["seconds"] = time.time() - t
        print(f"  {name}: {models[name]['seconds']:.0f} s", flush=True)
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
        "predict_batch": PREDICT,
        "seconds": time.time() - started,
        "models": models,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out} ({result['seconds']:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
