"""Keras on exactly the digits `examples/mnist_resnet.rs` trains and tests on.

The issue asks for dl's ResNet-8 test accuracy (median of seeds 1-3) to be at least Keras's for
the same model and data; this script measures Keras's median on the arrays the example exports,
so the comparison does not mix model quality with data handling.

    cargo run --release --example mnist_resnet -- 1 --export-digits target/mnist-resnet-digits
    benches/peers/.venv/bin/python benches/peers/mnist_resnet_accuracy.py target/mnist-resnet-digits

(The venv is the one `benches/peers/run.sh` creates.)

The model is the example's, layer for layer: MLPerf Tiny's ResNet-8 (`resnet_v1_eembc` in
mlcommons/tiny, benchmark/training/image_classification/keras_model.py) with 16/32/64 filters on
28x28x1, without its `kernel_regularizer=l2(1e-4)` and `kernel_initializer='he_normal'` (dl has
neither yet), so Keras's defaults: glorot-uniform kernels, zero biases, BatchNormalization with
epsilon 1e-3; but BatchNormalization momentum 0.9, not 0.99, as in the example (see its doc
comment). Adam (Keras's defaults) at 1e-3, then 1e-4 for the last 3 epochs (a
LearningRateScheduler, as the example changes its trainer's rate), sparse categorical
cross-entropy, 10 epochs of batch 32 shuffled every epoch, one thread.
"""

import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

EPOCHS, BATCH = 10, 32
# Adam's learning rate: 1e-3, then 1e-4 for the last LOW_EPOCHS epochs (as the example).
LEARNING_RATE, LOW_RATE, LOW_EPOCHS = 1e-3, 1e-4, 3
# BatchNormalization momentum: the example's 0.9 (PyTorch's default), not Keras's 0.99.
MOMENTUM = 0.9
SEEDS = (1, 2, 3)


def load(directory):
    def read(name, dtype):
        return np.fromfile(os.path.join(directory, name), dtype=dtype)

    train_x = read("train_x.f32", "<f4").reshape(-1, 28, 28, 1)
    test_x = read("test_x.f32", "<f4").reshape(-1, 28, 28, 1)
    train_y = read("train_y.u32", "<u4").astype(np.int64)
    test_y = read("test_y.u32", "<u4").astype(np.int64)
    assert len(train_x) == len(train_y) and len(test_x) == len(test_y)
    return train_x, train_y, test_x, test_y


def resnet8(keras):
    from keras import layers

    def conv(filters, kernel, strides=1):
        return layers.Conv2D(filters, kernel, strides=strides, padding="same")

    def stack(x, filters, strides):
        y = conv(filters, 3, strides)(x)
        y = layers.BatchNormalization(momentum=MOMENTUM)(y)
        y = layers.Activation("relu")(y)
        y = conv(filters, 3)(y)
        y = layers.BatchNormalization(momentum=MOMENTUM)(y)
        if strides != 1:
            x = conv(filters, 1, strides)(x)
        x = layers.add([x, y])
        return layers.Activation("relu")(x)

    inputs = keras.Input((28, 28, 1))
    x = conv(16, 3)(inputs)
    x = layers.BatchNormalization(momentum=MOMENTUM)(x)
    x = layers.Activation("relu")(x)
    x = stack(x, 16, 1)
    x = stack(x, 32, 2)
    x = stack(x, 64, 2)
    x = layers.AveragePooling2D(pool_size=int(min(x.shape[1:3])))(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def keras_accuracy(data, seed):
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(seed)
    train_x, train_y, test_x, test_y = data
    model = resnet8(keras)
    if seed == SEEDS[0]:
        print(f"{model.count_params()} parameters", flush=True)
    model.compile(
        keras.optimizers.Adam(LEARNING_RATE), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    schedule = keras.callbacks.LearningRateScheduler(
        lambda epoch: LEARNING_RATE if epoch < EPOCHS - LOW_EPOCHS else LOW_RATE
    )
    model.fit(train_x, train_y, epochs=EPOCHS, batch_size=BATCH, callbacks=[schedule], verbose=0)
    return model.evaluate(test_x, test_y, verbose=0)[1]


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "target/mnist-resnet-digits"
    data = load(directory)
    print(f"{len(data[0])} training digits, {len(data[2])} test digits", flush=True)
    results = []
    for seed in SEEDS:
        results.append(keras_accuracy(data, seed))
        print(f"seed {seed}: test accuracy {results[-1]:.4f}", flush=True)
    listed = " / ".join(f"{a:.4f}" for a in results)
    print(f"Keras: test accuracy {listed} (seeds {SEEDS}); median {statistics.median(results):.4f}")


if __name__ == "__main__":
    main()
