"""Keras on exactly the windows `examples/brown_conv1d.rs` trains and tests on.

Issue 12 asks for dl's median over seeds 1-3 to be at least Keras's for the same model, data
and training; this script measures Keras's side on the windows the example exports (the same
windows as `brown_lstm`'s):

    cargo run --release --example brown_conv1d -- 1 --export-windows target/brown-windows
    benches/peers/.venv/bin/python benches/peers/brown_conv1d_accuracy.py target/brown-windows

(The venv is the one `benches/peers/run.sh` creates.)

The model is the example's: Embedding(10000, 64) -> Dropout(0.5) -> two Conv1D(64, 7,
strides=3, relu) -> GlobalMaxPooling1D -> Dense(64, relu) -> Dropout(0.5) -> Dense(10,
softmax), with Keras's defaults (uniform +-0.05 embeddings, glorot-uniform kernels, zero
biases); Adam, sparse categorical cross-entropy, 10 epochs of batch 32, shuffled every epoch,
one thread.
"""

import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from brown_accuracy import BATCH, EPOCHS, GENRES, SEEDS, VOCAB, WINDOW, load  # noqa: E402


def keras_accuracy(data, seed):
    import keras
    import tensorflow as tf
    from keras import layers

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(seed)
    train_x, train_y, test_x, test_y = data
    model = keras.Sequential(
        [
            keras.Input((WINDOW,), dtype="int32"),
            layers.Embedding(VOCAB, 64),
            layers.Dropout(0.5),
            layers.Conv1D(64, 7, padding="valid", activation="relu", strides=3),
            layers.Conv1D(64, 7, padding="valid", activation="relu", strides=3),
            layers.GlobalMaxPooling1D(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(GENRES, activation="softmax"),
        ]
    )
    if seed == SEEDS[0]:
        print(f"{model.count_params()} parameters", flush=True)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train_x, train_y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    return model.evaluate(test_x, test_y, verbose=0)[1]


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "target/brown-windows"
    data = load(directory)
    print(f"{len(data[0])} training windows, {len(data[2])} test windows", flush=True)
    results = []
    for seed in SEEDS:
        results.append(keras_accuracy(data, seed))
        print(f"seed {seed}: test accuracy {results[-1]:.4f}", flush=True)
    listed = " / ".join(f"{a:.4f}" for a in results)
    print(f"Keras: test accuracy {listed} (seeds {SEEDS}); median {statistics.median(results):.4f}")


if __name__ == "__main__":
    main()
