"""Keras (TensorFlow backend, CPU, one thread) timings for the models of benches/{mlp,cnn,lstm,resnet}.rs.

Training: steady-state Adam steps of batch 32 on random data, in samples/s, through several
normal Keras paths (``fit`` on a tf.data dataset, with and without XLA and
``steps_per_execution``; ``train_on_batch``; a custom ``tf.function`` step). Forward: one sample,
``model(x, training=False)`` called directly, and wrapped in ``tf.function`` (with and without
XLA; called as a tf.function and as its traced concrete function), in µs. Batch inference: 1024
samples through the same paths plus ``model.predict`` and ``predict_on_batch``, in samples/s.
Every number is the median of several timed repeats after warm-up; the fastest path is the
headline and every path is kept in the JSON. The slow models (CNN, LSTM, ResNet-8) get a smaller
fit dataset and fewer repeats (``SETTINGS``) to keep the run short. ResNet-8 is a functional
model (its residual adds); the others are ``Sequential``.

Run through run.sh, which pins the process to one core with taskset.
"""

# Threads first: TensorFlow fixes its thread pools when its runtime starts.
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

warnings.filterwarnings("ignore")
tf.get_logger().setLevel("ERROR")

BATCH = 32
PREDICT = 1024
CHUNKS = (PREDICT, 256, 64)  # batch sizes tried for the 1024-sample inference
VOCAB, SEQ = 10000, 100  # text_lstm: token ids in [0, VOCAB), sequences of SEQ tokens

# Per model: samples per fit epoch, timed fit epochs, timed repeats per path, seconds per repeat.
FAST = {"dataset": 8192, "epochs": 10, "repeats": 11, "block": 0.2}
SLOW = {"dataset": 1024, "epochs": 3, "repeats": 5, "block": 0.2}
DEEP = {"dataset": 512, "epochs": 3, "repeats": 5, "block": 0.2}
SETTINGS = {
    "tutorial_mlp": FAST, "mnist_mlp": FAST, "mnist_cnn": SLOW, "text_lstm": SLOW, "resnet8": DEEP,
    "ds_cnn": DEEP, "mobilenet_v1": DEEP,
}  # fmt: skip
# What run.sh times by default; `--tiny` times the two MLPerf Tiny models with depthwise layers.
DEFAULT_MODELS = ("tutorial_mlp", "mnist_mlp", "mnist_cnn", "text_lstm", "resnet8")

# MLPerf Tiny's DS-CNN and MobileNetV1 exactly as the reference Keras code builds them (with
# their l2(1e-4) kernel regularizers and he_normal initializers), from the fixture script that
# tests/mlperf_tiny.rs checks dl against, so all three frameworks time the reference models.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures"))
import make_mlperf_tiny_fixtures as tiny  # noqa: E402


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


def spec(name):
    if name == "tutorial_mlp":
        layers = [
            keras.Input((10,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
        return layers, keras.losses.BinaryCrossentropy
    if name == "mnist_mlp":
        layers = [
            keras.Input((784,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
        return layers, keras.losses.SparseCategoricalCrossentropy
    if name == "mnist_cnn":
        layers = [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Conv2D(64, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D((2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
        return layers, keras.losses.SparseCategoricalCrossentropy
    if name == "text_lstm":
        layers = [
            keras.Input((SEQ,), dtype="int32"),
            keras.layers.Embedding(VOCAB, 64),
            keras.layers.LSTM(64),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
        return layers, keras.losses.SparseCategoricalCrossentropy
    if name == "resnet8":
        return resnet8, keras.losses.SparseCategoricalCrossentropy
    if name == "ds_cnn":
        return lambda: tiny.ds_cnn("float32"), keras.losses.SparseCategoricalCrossentropy
    if name == "mobilenet_v1":
        return lambda: tiny.mobilenet_v1("float32"), keras.losses.SparseCategoricalCrossentropy
    raise ValueError(name)


def resnet8():
    """MLPerf Tiny's ResNet-8 (mlcommons/tiny, benchmark/training/image_classification/
    keras_model.py, ``resnet_v1_eembc`` with 16 filters) on 32×32×3, without its
    ``kernel_regularizer=l2(1e-4)`` and ``kernel_initializer='he_normal'`` (dl has neither yet;
    dl and PyTorch time the same model): Keras's default glorot-uniform kernels, no weight decay."""
    L = keras.layers
    inputs = keras.Input((32, 32, 3))
    x = L.Conv2D(16, 3, padding="same")(inputs)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    for filters, strides in ((16, 1), (32, 2), (64, 2)):
        y = L.Conv2D(filters, 3, strides=strides, padding="same")(x)
        y = L.BatchNormalization()(y)
        y = L.Activation("relu")(y)
        y = L.Conv2D(filters, 3, padding="same")(y)
        y = L.BatchNormalization()(y)
        if strides != 1:  # projection shortcut
            x = L.Conv2D(filters, 1, strides=strides, padding="same")(x)
        x = L.add([x, y])
        x = L.Activation("relu")(x)
    x = L.AveragePooling2D(pool_size=8)(x)
    x = L.Flatten()(x)
    outputs = L.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def make_model(name):
    """The model of `name` (seeded) and its loss class."""
    keras.utils.set_random_seed(0)
    layers, loss = spec(name)
    return (layers() if callable(layers) else keras.Sequential(layers)), loss


def data(name, n, seed=0):
    rng = np.random.default_rng(seed)
    if name == "tutorial_mlp":
        x = rng.standard_normal((n, 10), dtype=np.float32)
        y = rng.integers(0, 2, (n, 1)).astype(np.float32)
    elif name == "mnist_mlp":
        x = rng.random((n, 784), dtype=np.float32)
        y = rng.integers(0, 10, (n,)).astype(np.int32)
    elif name == "mnist_cnn":
        x = rng.random((n, 28, 28, 1), dtype=np.float32)
        y = rng.integers(0, 10, (n,)).astype(np.int32)
    elif name == "resnet8":
        x = rng.random((n, 32, 32, 3), dtype=np.float32)
        y = rng.integers(0, 10, (n,)).astype(np.int32)
    elif name == "ds_cnn":
        x = rng.random((n, 49, 10, 1), dtype=np.float32)
        y = rng.integers(0, 12, (n,)).astype(np.int32)
    elif name == "mobilenet_v1":
        x = rng.random((n, 96, 96, 3), dtype=np.float32)
        y = rng.integers(0, 2, (n,)).astype(np.int32)
    else:
        x = rng.integers(0, VOCAB, (n, SEQ)).astype(np.int32)
        y = rng.integers(0, 10, (n,)).astype(np.int32)
    return x, y


def build(name, jit_compile=False, steps_per_execution=1):
    model, loss = make_model(name)
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=loss(),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


def dataset(x, y):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).cache().prefetch(tf.data.AUTOTUNE)
    opts = tf.data.Options()
    opts.threading.private_threadpool_size = 1
    opts.threading.max_intra_op_parallelism = 1
    return ds.with_options(opts)


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t)


def bench_fit(name, x, y, jit, spe, epochs):
    model = build(name, jit_compile=jit, steps_per_execution=spe)
    timer = EpochTimer()
    # The first epoch traces and compiles: warm-up, not counted.
    model.fit(dataset(x, y), epochs=1 + epochs, verbose=0, callbacks=[timer], shuffle=False)
    per_epoch = timer.times[1:]
    return {
        "samples_per_s": len(x) / statistics.median(per_epoch),
        "epoch_s": per_epoch,
        "steps_per_epoch": len(x) // BATCH,
    }


def batches(x, y):
    return [
        (tf.constant(x[i : i + BATCH]), tf.constant(y[i : i + BATCH]))
        for i in range(0, len(x), BATCH)
    ]


def cycle(items):
    state = {"i": 0}

    def nxt():
        item = items[state["i"]]
        state["i"] = (state["i"] + 1) % len(items)
        return item

    return nxt


def bench_train_on_batch(name, bs, jit, repeats, block_s):
    model = build(name, jit_compile=jit)
    nxt = cycle(bs)

    def step():
        bx, by = nxt()
        model.train_on_batch(bx, by)

    med, samples, n = time_calls(step, repeats, block_s)
    return {"samples_per_s": BATCH / med, "step_s": samples, "steps_per_repeat": n}


def bench_custom_step(name, bs, jit, repeats, block_s):
    model, loss_cls = make_model(name)
    loss_fn = loss_cls()
    opt = keras.optimizers.Adam()
    opt.build(model.trainable_variables)

    @tf.function(jit_compile=jit)
    def train_step(bx, by):
        with tf.GradientTape() as tape:
            loss = loss_fn(by, model(bx, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply(grads, model.trainable_variables)
        return loss

    nxt = cycle(bs)
    state = {}

    def step():
        state["loss"] = train_step(*nxt())

    med, samples, n = time_calls(step, repeats, block_s)
    float(state["loss"])  # the steps really ran
    return {"samples_per_s": BATCH / med, "step_s": samples, "steps_per_repeat": n}


def bench_infer(name, n, repeats, block_s):
    """Inference on n samples through each path: µs per call, and samples/s.

    For n > 1 the tf.function paths also run the n samples as chunks of CHUNKS samples (one
    traced concrete function per chunk size), since smaller batches can be faster on one core;
    ``model.predict`` runs with its default batch_size (32) and with batch_size=n.
    """
    model = build(name)
    x = tf.constant(data(name, n, seed=1)[0])
    ref = model(x, training=False).numpy()
    paths = [("direct call model(x, training=False)", lambda: model(x, training=False))]
    if n == 1:
        graph = tf.function(lambda t: model(t, training=False))
        xla = tf.function(lambda t: model(t, training=False), jit_compile=True)
        graph_cf, xla_cf = graph.get_concrete_function(x), xla.get_concrete_function(x)
        paths += [
            ("tf.function", lambda: graph(x)),
            ("tf.function(jit_compile=True)", lambda: xla(x)),
            ("tf.function, concrete function", lambda: graph_cf(x)),
            ("tf.function(jit_compile=True), concrete function", lambda: xla_cf(x)),
        ]
    else:
        paths += [
            ("model.predict(x) (batch_size=32)", lambda: model.predict(x, verbose=0)),
            (f"model.predict(x, batch_size={n})", lambda: model.predict(x, batch_size=n, verbose=0)),
            ("model.predict_on_batch(x)", lambda: model.predict_on_batch(x)),
        ]
        for jit in (False, True):
            for c in CHUNKS:
                fn = tf.function(lambda t: model(t, training=False), jit_compile=jit)
                cf = fn.get_concrete_function(x[:c])
                chunks = [x[i : i + c] for i in range(0, n, c)]
                tag = "tf.function(jit_compile=True)" if jit else "tf.function"
                label = f"{tag}, concrete function, " + ("one call" if c == n else f"chunks of {c}")
                paths.append((label, lambda cf=cf, chunks=chunks: tf.concat([cf(t) for t in chunks], 0)))
    out = {}
    for label, fn in paths:
        y = fn()
        np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-3, atol=1e-5)
        med, samples, calls = time_calls(fn, repeats, block_s)
        out[label] = {
            "us": med * 1e6,
            "samples_per_s": n / med,
            "call_us": [s * 1e6 for s in samples],
            "calls_per_repeat": calls,
        }
    return out


def run_model(name, args):
    cfg = dict(SETTINGS[name])
    for key in cfg:
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    x, y = data(name, cfg["dataset"])
    train = {}
    for jit in (False, True):
        tag = "XLA" if jit else "graph"
        for spe in (1, 32):
            label = f"fit tf.data ({tag}, steps_per_execution={spe})"
            train[label] = bench_fit(name, x, y, jit, spe, cfg["epochs"])
            print(f"  {name} train {label}: {train[label]['samples_per_s']:,.0f} samples/s", flush=True)
    bs = batches(x, y)
    for jit in (False, True):
        tag = "XLA" if jit else "graph"
        for label, fn in [
            (f"train_on_batch ({tag})", bench_train_on_batch),
            (f"custom tf.function step ({tag})", bench_custom_step),
        ]:
            train[label] = fn(name, bs, jit, cfg["repeats"], cfg["block"])
            print(f"  {name} train {label}: {train[label]['samples_per_s']:,.0f} samples/s", flush=True)
    forward = bench_infer(name, 1, cfg["repeats"], cfg["block"])
    for label, r in forward.items():
        print(f"  {name} forward {label}: {r['us']:.1f} µs", flush=True)
    predict = bench_infer(name, PREDICT, cfg["repeats"], cfg["block"])
    for label, r in predict.items():
        print(f"  {name} predict_{PREDICT} {label}: {r['samples_per_s']:,.0f} samples/s", flush=True)
    best_train = max(train, key=lambda k: train[k]["samples_per_s"])
    best_fwd = min(forward, key=lambda k: forward[k]["us"])
    best_pred = max(predict, key=lambda k: predict[k]["samples_per_s"])
    direct = "direct call model(x, training=False)"
    return {
        "train_samples_per_s": train[best_train]["samples_per_s"],
        "train_path": best_train,
        "forward_us": forward[best_fwd]["us"],
        "forward_path": best_fwd,
        "forward_direct_us": forward[direct]["us"],
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
    p.add_argument("--epochs", type=int, help="timed fit epochs after one warm-up epoch; default per model")
    p.add_argument("--block", type=float, help="seconds per timed repeat; default per model")
    p.add_argument("--dataset", type=int, help="samples per fit epoch; default per model")
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
        "framework": "keras",
        "label": f"Keras {keras.__version__} (TF {tf.__version__})",
        "versions": {
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            "affinity": sorted(os.sched_getaffinity(0)),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "devices": [d.device_type for d in tf.config.list_physical_devices()],
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
