#!/usr/bin/env python3
"""dl's embedded forward against TensorFlow Lite Micro and LiteRT on the four MLPerf Tiny models,
side by side on this machine, one thread, float32, same weights.

For each model (`tests/common/mlperf_tiny_nets.rs`; Keras builders in
`tests/fixtures/make_mlperf_tiny_fixtures.py`): the Keras model gets the committed weights
(`tests/fixtures/mlperf_tiny/<model>.safetensors`, which `#[weights]` embeds in dl) and is converted
with `tf.lite.TFLiteConverter` (float32, no quantization); then

- latency of one sample, median of many calls: TFLM's `invoke` (the `tflite-micro` package,
  reference kernels) and LiteRT's (`ai-edge-litert`, `num_threads=1`), through their Python
  interpreters, and dl's embedded `forward_in` (criterion, `cargo bench --bench embedded --
  embedded_tiny`, built with `RUSTFLAGS` from `DL_RUSTFLAGS`, default `-C target-cpu=native`:
  a device binary is compiled for its CPU), all pinned to one core;
- memory: TFLM's arena (`print_allocations`' total) against dl's `ACTIVATION_BYTES` (its whole
  scratch), the `.tflite` file against dl's `PARAM_BYTES`;
- the size of a no_std, allocator-free program embedding the model alone
  (`tests/no_std/examples/tiny_<model>.rs`, release, `-C panic=abort`).

The outputs of TFLM and LiteRT on the benchmark's input are checked against Keras's first.
Prints a Markdown table. Run through `benches/peers/embedded_tiny.sh`, which sets up the venv.
"""

import ctypes
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter as LiteRT  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
import tflite_micro  # noqa: E402
from tflite_micro import runtime as tflm  # noqa: E402

import make_mlperf_tiny_fixtures as tiny  # noqa: E402

CPU = os.environ.get("PEERS_CPU", "0")
# A device binary is compiled for its CPU (embedded code has no run-time CPU detection), so dl's
# side is built for this one unless told otherwise; the table's header says which flags.
RUSTFLAGS = os.environ.get("DL_RUSTFLAGS", "-C target-cpu=native")
OUT = ROOT / "target" / "embedded_tiny"
CALLS = {"ds_cnn": 300, "mobilenet_v1": 40, "resnet8": 100, "autoencoder": 2000}


def keras_model(name, make):
    model = tiny.build(make, "float32")
    weights = load_file(str(ROOT / "tests/fixtures/mlperf_tiny" / f"{name}.safetensors"))
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([weights[f"{layer.name}.{v.name}"] for v in layer.weights])
    return model


def median_seconds(call, n):
    call()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def tflm_arena_bytes(interpreter):
    """The arena TFLM allocated, from `print_allocations` (which TFLM's logging writes to the
    C library's standard error)."""
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+") as f:
        saved = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            interpreter.print_allocations()
            # The C library may buffer what it printed; flush it into the file before restoring.
            ctypes.CDLL(None).fflush(None)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        text = f.read()
    return int(re.search(r"Arena allocation total (\d+) bytes", text).group(1))


def peers(name, make):
    model = keras_model(name, make)
    tflite = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.tflite").write_bytes(tflite)
    x = np.random.default_rng(2).uniform(-1.0, 1.0, size=(1, *model.input_shape[1:])).astype(np.float32)
    want = model(x, training=False).numpy()

    micro = tflm.Interpreter.from_bytes(tflite, arena_size=8 << 20)
    micro.set_input(x, 0)
    micro.invoke()
    assert np.allclose(micro.get_output(0), want, rtol=1e-4, atol=1e-5), f"{name}: TFLM's output"
    micro_s = median_seconds(micro.invoke, CALLS[name])
    arena = tflm_arena_bytes(micro)

    lite = LiteRT(model_content=tflite, num_threads=1)
    lite.allocate_tensors()
    inp, out = lite.get_input_details()[0]["index"], lite.get_output_details()[0]["index"]
    lite.set_tensor(inp, x)
    lite.invoke()
    assert np.allclose(lite.get_tensor(out), want, rtol=1e-4, atol=1e-5), f"{name}: LiteRT's output"
    lite_s = median_seconds(lite.invoke, CALLS[name] * 5)
    return dict(tflm_s=micro_s, litert_s=lite_s, arena=arena, tflite_bytes=len(tflite))


def dl_figures():
    """dl's embedded latency (criterion's median) and footprint constants, from one bench run."""
    run = subprocess.run(
        ["taskset", "-c", CPU, "cargo", "bench", "--bench", "embedded", "--", "embedded_tiny"],
        cwd=ROOT, env=dict(os.environ, RUSTFLAGS=RUSTFLAGS), check=True, capture_output=True, text=True,
    )
    figures = {}
    for m in re.finditer(r"footprint (\w+) param_bytes (\d+) activation_bytes (\d+)", run.stdout):
        figures[m.group(1)] = dict(param_bytes=int(m.group(2)), activation_bytes=int(m.group(3)))
    for name in figures:
        est = json.loads((ROOT / "target/criterion/embedded_tiny" / name / "new/estimates.json").read_text())
        figures[name]["dl_s"] = est["median"]["point_estimate"] * 1e-9
    return figures


def binary_sizes():
    """Bytes of each no_std program embedding one model."""
    env = dict(os.environ, CARGO_TARGET_DIR=str(ROOT / "target/no-std"), RUSTFLAGS="-C panic=abort")
    sizes = {}
    for name, _, _ in tiny.MODELS:
        subprocess.run(
            ["cargo", "build", "-q", "-p", "dl-no-std-check", "--example", f"tiny_{name}", "--features",
             "bare", "--release", "--target", "x86_64-unknown-linux-gnu"],
            cwd=ROOT, env=env, check=True,
        )
        path = ROOT / "target/no-std/x86_64-unknown-linux-gnu/release/examples" / f"tiny_{name}"
        sizes[name] = path.stat().st_size
    return sizes


def kib(b):
    return f"{b / 1024:,.1f} KiB"


def us(s):
    return f"{s * 1e6:,.1f} µs" if s < 1e-2 else f"{s * 1e3:,.2f} ms"


def main():
    os.sched_setaffinity(0, {int(CPU)})
    sizes = binary_sizes()
    ours = dl_figures()
    rows = []
    for name, make, _ in tiny.MODELS:
        theirs = peers(name, make)
        d = ours[name]
        rows.append(
            f"| {name} | {us(d['dl_s'])} | {us(theirs['tflm_s'])} ({theirs['tflm_s'] / d['dl_s']:.1f}×) "
            f"| {us(theirs['litert_s'])} ({theirs['litert_s'] / d['dl_s']:.2f}×) "
            f"| {kib(d['activation_bytes'])} | {kib(theirs['arena'])} "
            f"({theirs['arena'] / d['activation_bytes']:.2f}×) "
            f"| {kib(d['param_bytes'])} | {kib(theirs['tflite_bytes'])} | {kib(sizes[name])} |"
        )
    print(
        f"TensorFlow {tf.__version__}, tflite-micro {tflite_micro.__version__}, "
        f"load average {os.getloadavg()[0]:.1f}, dl built with RUSTFLAGS=\"{RUSTFLAGS}\"\n"
    )
    print("| model | dl embedded `forward_in` | TFLM `invoke` (÷ dl) | LiteRT `invoke`, 1 thread (÷ dl) "
          "| dl `ACTIVATION_BYTES` | TFLM arena (÷ dl) | dl `PARAM_BYTES` | `.tflite` | no_std program |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
