"""Keras and PyTorch on exactly the windows `examples/brown_lstm.rs` trains and tests on.

The issue compares dl's Brown-corpus accuracy with Keras's and PyTorch's medians over three
seeds; this script measures those medians on the same split, vocabulary and windows, so the
comparison does not mix model quality with split luck (81 test documents: one document moves
the accuracy by about one point).

    cargo run --release --example brown_lstm -- 1 --export-windows target/brown-windows
    benches/peers/.venv/bin/python benches/peers/brown_accuracy.py target/brown-windows [keras|torch]

(The venv is the one `benches/peers/run.sh` creates.)

Both frameworks train the tutorial's model with their own defaults (Keras: uniform ±0.05
embeddings, glorot/orthogonal LSTM, Adam eps 1e-7; PyTorch: N(0, 1) embeddings, uniform
±1/sqrt(64) LSTM, Adam eps 1e-8), 10 epochs of batch 32, shuffled every epoch, one thread.
"""

import os
import statistics
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

WINDOW, VOCAB, GENRES, EPOCHS, BATCH = 100, 10_000, 10, 10, 32
SEEDS = (1, 2, 3)


def load(directory):
    def read(name):
        return np.fromfile(os.path.join(directory, name), dtype="<u4").astype(np.int64)

    train_x, test_x = read("train_x.u32"), read("test_x.u32")
    return (
        train_x.reshape(-1, WINDOW),
        read("train_y.u32"),
        test_x.reshape(-1, WINDOW),
        read("test_y.u32"),
    )


def keras_accuracy(data, seed):
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(seed)
    train_x, train_y, test_x, test_y = data
    model = keras.Sequential(
        [
            keras.Input((WINDOW,), dtype="int32"),
            keras.layers.Embedding(VOCAB, 64),
            keras.layers.LSTM(64),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(GENRES, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_x, train_y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    return model.evaluate(test_x, test_y, verbose=0)[1]


def torch_accuracy(data, seed):
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(seed)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, 64)
            self.lstm = nn.LSTM(64, 64, batch_first=True)
            self.dense = nn.Linear(64, 64)
            self.out = nn.Linear(64, GENRES)

        def forward(self, x):
            _, (h, _) = self.lstm(self.embedding(x))
            return self.out(torch.relu(self.dense(h[-1])))

    train_x, train_y, test_x, test_y = (torch.from_numpy(a) for a in data)
    model = Classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = nn.CrossEntropyLoss()
    for _ in range(EPOCHS):
        order = torch.randperm(len(train_x))
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            optimizer.zero_grad()
            loss(model(train_x[batch]), train_y[batch]).backward()
            optimizer.step()
    with torch.no_grad():
        return (model(test_x).argmax(1) == test_y).double().mean().item()


FRAMEWORKS = {"keras": ("Keras", keras_accuracy), "torch": ("PyTorch", torch_accuracy)}


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "target/brown-windows"
    if len(sys.argv) <= 2:
        # One process per framework: TensorFlow and PyTorch each register LLVM options, and
        # importing both into one process aborts.
        data = load(directory)
        print(f"{len(data[0])} training windows, {len(data[2])} test windows", flush=True)
        for framework in FRAMEWORKS:
            subprocess.run([sys.executable, __file__, directory, framework], check=True)
        return
    name, accuracy = FRAMEWORKS[sys.argv[2]]
    data = load(directory)
    results = [accuracy(data, seed) for seed in SEEDS]
    listed = " / ".join(f"{a:.4f}" for a in results)
    print(f"{name}: test accuracy {listed} (seeds {SEEDS}); median {statistics.median(results):.4f}")


if __name__ == "__main__":
    main()
