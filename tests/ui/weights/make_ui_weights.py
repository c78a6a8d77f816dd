"""Writes the weight files of the `#[weights]` compile-fail cases (tests/ui/fail/weights_*.rs).

They are for `input: [2], Dense(2, relu), Dense(1, sigmoid)` (`unadapted` adds a
`Normalization()` first): `dense.kernel` [2, 2],
`dense.bias` [2], `dense_1.kernel` [2, 1], `dense_1.bias` [1]. Needs only Python 3.
Run from this directory: `python3 make_ui_weights.py`.
"""
import json
import struct


def write(name, tensors, header_len=None):
    header, data = {}, b""
    for tensor, (dtype, shape, values) in tensors.items():
        fmt = {"F32": "<f", "F64": "<d"}[dtype]
        raw = b"".join(struct.pack(fmt, v) for v in values)
        header[tensor] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    length = len(text) if header_len is None else header_len
    with open(name, "wb") as f:
        f.write(struct.pack("<Q", length) + text + data)


good = {
    "dense.kernel": ("F32", [2, 2], [0.5, -0.25, 0.125, 1.0]),
    "dense.bias": ("F32", [2], [0.1, -0.1]),
    "dense_1.kernel": ("F32", [2, 1], [0.75, -0.5]),
    "dense_1.bias": ("F32", [1], [0.05]),
}
write("good.safetensors", good)
write("missing.safetensors", {k: v for k, v in good.items() if k != "dense_1.bias"})
write("extra.safetensors", {**good, "dense_2.kernel": ("F32", [1, 1], [1.0])})
write("shape.safetensors", {**good, "dense.kernel": ("F32", [1, 4], [0.5, -0.25, 0.125, 1.0])})
write("dtype.safetensors", {**good, "dense.bias": ("F64", [2], [0.1, -0.1])})
write("nan.safetensors", {**good, "dense_1.kernel": ("F32", [2, 1], [0.75, float("nan")])})
write("truncated.safetensors", good, header_len=1 << 40)

# For `input: [2], Normalization(), Dense(2, relu), Dense(1, sigmoid)`: statistics never adapted
# (Keras's initial mean 0, variance 1, count 0).
write("unadapted.safetensors", {
    "normalization.mean": ("F32", [2], [0.0, 0.0]),
    "normalization.variance": ("F32", [2], [1.0, 1.0]),
    "normalization.count": ("F32", [], [0.0]),
    **good,
})
