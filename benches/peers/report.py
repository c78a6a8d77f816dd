"""Collects dl's criterion estimates and the peers' JSON results and prints one table per model.

dl:      <criterion>/<model>/{forward_1,train_batch32,predict_1024}/new/estimates.json,
         median.point_estimate in ns per iteration (train_batch32: one Adam step on 32 samples;
         predict_1024: net.predict on 1024 samples).
Peers:   <results>/keras.json and <results>/torch.json, written by keras_bench.py / torch_bench.py;
         <results>/dfdx.json (run.sh --dfdx, the MLPs only) when it exists.

"dl speedup" is how many times faster dl is than that peer: dl's samples/s over the peer's for
training and batch-1024 inference, the peer's µs over dl's for the single-sample forward pass
(> 1: dl is faster). Missing numbers are
printed as n/a. The table is also written to <results>/report.md, the numbers to summary.json.
"""

import argparse
import json
import os
import sys

MODELS = {
    "tutorial_mlp": "Dense(64, relu) → Dense(64, relu) → Dense(1, sigmoid), input 10; Adam; binary CE",
    "mnist_mlp": "Dense(128, relu) → Dense(10, softmax), input 784; Adam; sparse categorical CE",
    "mnist_cnn": "Conv2D(32, 3×3, relu) → MaxPool(2×2) → Conv2D(64, 3×3, relu) → MaxPool(2×2) → Flatten"
    " → Dense(64, relu) → Dense(10, softmax), input 28×28×1; Adam; sparse categorical CE",
    "text_lstm": "Embedding(10000, 64) → LSTM(64) → Dense(64, relu) → Dense(10, softmax), input 100 token"
    " ids; Adam; sparse categorical CE",
    "resnet8": "MLPerf Tiny ResNet-8: Conv2D(16, 3×3, same) → BN → relu → 3 residual stacks (16, 32, 64"
    " filters; 2× conv 3×3 + BN; strided 1×1 projection in stacks 2 and 3) → AveragePooling2D(8) → Flatten"
    " → Dense(10, softmax), input 32×32×3; no weight decay; Adam; sparse categorical CE",
    "ds_cnn": "MLPerf Tiny DS-CNN (keyword spotting): Conv2D(64, 10×4, stride 2, same) → BN → relu →"
    " Dropout(0.2) → 4× [DepthwiseConv2D(3×3) → BN → relu → Conv2D(64, 1×1) → BN → relu] → Dropout(0.4)"
    " → AveragePooling2D(24×5) → Flatten → Dense(12, softmax), input 49×10×1; l2(1e-4) on the Conv2D"
    " kernels; Adam; sparse categorical CE",
    "mobilenet_v1": "MLPerf Tiny MobileNetV1 α=0.25 (visual wake words): Conv2D(8, 3×3, stride 2) → BN"
    " → relu → 13× [DepthwiseConv2D(3×3) → BN → relu → Conv2D(1×1) → BN → relu] (8 → 256 filters) →"
    " AveragePooling2D(3) → Flatten → Dense(2, softmax), input 96×96×3; he_normal and l2(1e-4) on the"
    " Conv2D kernels; Adam; sparse categorical CE",
}
PEERS = [("keras", "keras.json"), ("pytorch", "torch.json")]
# Shown only when its JSON exists (run.sh --dfdx), and only for the models it times.
OPTIONAL_PEERS = [("dfdx", "dfdx.json")]
BATCH = 32
PREDICT = 1024


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def dl_version(root):
    try:
        with open(os.path.join(root, "Cargo.toml")) as f:
            in_ws = False
            for line in f:
                line = line.strip()
                if line.startswith("["):
                    in_ws = line == "[workspace.package]"
                elif in_ws and line.startswith("version"):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "?"


def criterion_ns(criterion, group, bench, since):
    """Median ns per iteration, or (None, reason)."""
    path = os.path.join(criterion, group, bench, "new", "estimates.json")
    est = load_json(path)
    if est is None:
        return None, "missing"
    if since is not None and os.path.getmtime(path) < since:
        return None, "stale (not refreshed by this run)"
    return est["median"]["point_estimate"], None


def fmt(value, digits=0, suffix=""):
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{suffix}"


def fmt_us(value):
    if value is None:
        return "n/a"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    if r is None:
        return "n/a"
    return f"{r:,.1f}×" if r >= 10 else f"{r:,.2f}×"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, "..", ".."))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", default=os.path.join(here, "results"))
    p.add_argument("--criterion", default=os.path.join(root, "target", "criterion"))
    p.add_argument(
        "--dl-since",
        type=float,
        default=None,
        help="epoch seconds: criterion estimates older than this count as missing",
    )
    args = p.parse_args()

    peers = {key: load_json(os.path.join(args.results, fname)) for key, fname in PEERS}
    for key, fname in OPTIONAL_PEERS:
        res = load_json(os.path.join(args.results, fname))
        if res:
            peers[key] = res
    labels = {"dl": f"dl {dl_version(root)}"}
    for key, res in peers.items():
        labels[key] = res["label"] if res else {"keras": "Keras", "pytorch": "PyTorch"}[key]

    out = []
    summary = {"models": {}, "labels": labels}
    notes = []
    for model, desc in MODELS.items():
        rows = {}
        ns = {}
        model_notes = []
        for bench in ("forward_1", "train_batch32", f"predict_{PREDICT}"):
            ns[bench], why = criterion_ns(args.criterion, model, bench, args.dl_since)
            if why:
                model_notes.append(f"dl {model}/{bench}: {why} in {args.criterion}")
        train_ns, fwd_ns, pred_ns = ns["train_batch32"], ns["forward_1"], ns[f"predict_{PREDICT}"]
        rows["dl"] = {
            "train": BATCH / (train_ns * 1e-9) if train_ns else None,
            "fwd": fwd_ns / 1e3 if fwd_ns else None,
            "pred": PREDICT / (pred_ns * 1e-9) if pred_ns else None,
            "train_path": "Trainer::train_on_batch (criterion median)",
            "fwd_path": "net.forward (criterion median)",
            "pred_path": "net.predict (criterion median)",
        }
        for key, res in peers.items():
            m = (res or {}).get("models", {}).get(model)
            if m is None and key in dict(OPTIONAL_PEERS):
                continue
            if m is None:
                model_notes.append(f"{labels[key]} {model}: no result in {args.results}")
                rows[key] = {"train": None, "fwd": None, "pred": None}
                continue
            rows[key] = {
                "train": m["train_samples_per_s"],
                "fwd": m["forward_us"],
                "pred": m.get("predict_samples_per_s"),
                "train_path": m["train_path"],
                "fwd_path": m["forward_path"],
                "pred_path": m.get("predict_path"),
                "fwd_direct": m.get("forward_direct_us"),
            }
        if all(row.get(k) is None for row in rows.values() for k in ("train", "fwd", "pred")):
            continue  # a model this run did not time (e.g. the --tiny models in a default run)
        notes.extend(model_notes)
        dl = rows["dl"]
        for key, row in rows.items():
            row["speedup_train"] = None if key == "dl" else ratio(dl["train"], row["train"])
            row["speedup_fwd"] = None if key == "dl" else ratio(row["fwd"], dl["fwd"])
            row["speedup_pred"] = None if key == "dl" else ratio(dl["pred"], row["pred"])
        summary["models"][model] = rows

        head = (
            "framework",
            "train samples/s",
            "forward µs",
            f"predict_{PREDICT} samples/s",
            "dl speedup: train",
            "forward",
            "predict",
        )
        table = [head]
        for key, row in rows.items():
            dash = key == "dl"
            table.append(
                (
                    labels[key],
                    fmt(row["train"]),
                    fmt_us(row["fwd"]),
                    fmt(row["pred"]),
                    "—" if dash else fmt_ratio(row["speedup_train"]),
                    "—" if dash else fmt_ratio(row["speedup_fwd"]),
                    "—" if dash else fmt_ratio(row["speedup_pred"]),
                )
            )
        widths = [max(len(r[i]) for r in table) for i in range(len(head))]
        out.append(f"## {model}: {desc}")
        out.append(
            f"batch 32 training (samples/s, higher is better); single-sample forward (µs, lower is better);"
            f" {PREDICT}-sample inference (samples/s, higher is better)"
        )
        out.append("")
        for i, r in enumerate(table):
            cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
            out.append("| " + " | ".join(cells) + " |")
            if i == 0:
                out.append("|" + "|".join("-" * (w + 1) + (":" if j else "-") for j, w in enumerate(widths)) + "|")
        out.append("")
        for key, row in rows.items():
            if key == "dl" or row.get("train") is None:
                continue
            line = f"- {labels[key]}: fastest training path: {row['train_path']}; forward: {row['fwd_path']}"
            if row.get("fwd_direct") is not None and row["fwd_path"] != "direct call model(x, training=False)":
                line += f" (direct model(x) call: {fmt_us(row['fwd_direct'])} µs)"
            if row.get("pred_path"):
                line += f"; predict_{PREDICT}: {row['pred_path']}"
            out.append(line)
        out.append("")

    env = []
    for key, res in peers.items():
        if res:
            env.append(f"{labels[key]}: threads {res['threads']}" + (f", cpu {res['cpu']!r}" if "cpu" in res else ""))
    if os.environ.get("PEERS_LOAD_START"):
        env.append("load average when run.sh started: " + os.environ["PEERS_LOAD_START"])
    try:
        env.append("load average now: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    except OSError:
        pass
    text = "\n".join(out + [f"note: {n}" for n in notes] + env)
    print(text)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "report.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.results, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
