"""Keras on exactly the digits the MLPerf Tiny examples on MNIST train and test on.

Issue 12 asks for dl's median over seeds 1-3 to be at least Keras's for the same model, data
and training; this script measures Keras's side for `examples/mnist_ds_cnn.rs` (`ds_cnn`),
`examples/mnist_mobilenet.rs` (`mobilenet`) and `examples/mnist_autoencoder.rs`
(`autoencoder`, whose figure is the test reconstruction MSE, lower is better), on the arrays
the examples export (all three export the same digits):

    cargo run --release --example mnist_ds_cnn -- 1 --export-digits target/mnist-digits
    benches/peers/.venv/bin/python benches/peers/mnist_tiny_accuracy.py MODEL target/mnist-digits

(The venv is the one `benches/peers/run.sh` creates.)

Each model is its example's, layer for layer, with Keras's defaults wherever the example keeps
dl's (which are Keras's): glorot-uniform kernels unless the example says he_normal, zero
biases, BatchNormalization epsilon 1e-3. The examples' doc comments say how each model was
adapted from the MLPerf reference. Adam (Keras's defaults), batch 32, shuffled every epoch, one
thread; the classifiers with BatchNormalization momentum 0.9 and a rate of 1e-4 for the last
epochs, as their examples.
"""

import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from mnist_resnet_accuracy import load  # noqa: E402

BATCH = 32
SEEDS = (1, 2, 3)
LEARNING_RATE, LOW_RATE = 1e-3, 1e-4
MOMENTUM = 0.9


def conv(filters, kernel, strides=1, **initializer):
    """Conv2D as both MLPerf classifiers have it: same padding, l2(1e-4) on the kernel."""
    from keras import layers, regularizers

    return layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        kernel_regularizer=regularizers.l2(1e-4),
        **initializer,
    )


def norm_relu(x):
    from keras import layers

    x = layers.BatchNormalization(momentum=MOMENTUM)(x)
    return layers.Activation("relu")(x)


def ds_cnn(keras):
    from keras import layers

    inputs = keras.Input((28, 28, 1))
    x = norm_relu(conv(64, (5, 5), 2)(inputs))
    x = layers.Dropout(0.2)(x)
    for _ in range(4):
        x = norm_relu(layers.DepthwiseConv2D((3, 3), padding="same", depth_multiplier=1)(x))
        x = norm_relu(conv(64, (1, 1))(x))
    x = layers.Dropout(0.4)(x)
    x = layers.AveragePooling2D(pool_size=(14, 14))(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def mobilenet(keras):
    from keras import layers

    he_normal = {"kernel_initializer": "he_normal"}
    inputs = keras.Input((28, 28, 1))
    x = norm_relu(conv(8, 3, 2, **he_normal)(inputs))
    # (stride of the depthwise convolution, filters of the pointwise one): the reference's
    # blocks, with the strides into 128 and 256 filters 1 instead of 2.
    blocks = [(1, 16), (2, 32), (1, 32), (2, 64), (1, 64)] + [(1, 128)] * 6 + [(1, 256)] * 2
    for strides, filters in blocks:
        x = norm_relu(layers.DepthwiseConv2D(3, strides=strides, padding="same")(x))
        x = norm_relu(conv(filters, 1, **he_normal)(x))
    x = layers.AveragePooling2D(pool_size=(4, 4))(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def autoencoder(keras):
    from keras import layers

    inputs = keras.Input((784,))
    x = inputs
    for units in [128] * 4 + [8] + [128] * 4:
        x = layers.Dense(units)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
    outputs = layers.Dense(784)(x)
    return keras.Model(inputs, outputs)


# name: (builder, epochs, epochs at LOW_RATE at the end, classifier?) as in the examples.
MODELS = {
    "ds_cnn": (ds_cnn, 6, 2, True),
    "mobilenet": (mobilenet, 10, 2, True),
    "autoencoder": (autoencoder, 10, 0, False),
}


def keras_result(name, data, seed):
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(seed)
    build, epochs, low_epochs, classifier = MODELS[name]
    train_x, train_y, test_x, test_y = data
    model = build(keras)
    if seed == 1:
        print(f"{model.count_params()} parameters", flush=True)
    schedule = keras.callbacks.LearningRateScheduler(
        lambda epoch: LEARNING_RATE if epoch < epochs - low_epochs else LOW_RATE
    )
    if classifier:
        model.compile(
            keras.optimizers.Adam(LEARNING_RATE),
            "sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(train_x, train_y, epochs=epochs, batch_size=BATCH, callbacks=[schedule], verbose=0)
        return model.evaluate(test_x, test_y, verbose=0)[1]
    train_x, test_x = train_x.reshape(-1, 784), test_x.reshape(-1, 784)
    model.compile(keras.optimizers.Adam(LEARNING_RATE), "mean_squared_error")
    model.fit(train_x, train_x, epochs=epochs, batch_size=BATCH, callbacks=[schedule], verbose=0)
    return model.evaluate(test_x, test_x, verbose=0)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in MODELS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(MODELS)}}} [digits directory [seed ...]]")
    name = sys.argv[1]
    directory = sys.argv[2] if len(sys.argv) > 2 else "target/mnist-digits"
    seeds = tuple(int(s) for s in sys.argv[3:]) or SEEDS
    data = load(directory)
    print(f"{len(data[0])} training digits, {len(data[2])} test digits", flush=True)
    what = "test accuracy" if MODELS[name][3] else "test mse"
    results = []
    for seed in seeds:
        results.append(keras_result(name, data, seed))
        print(f"seed {seed}: {what} {results[-1]:.5f}", flush=True)
    listed = " / ".join(f"{r:.5f}" for r in results)
    print(f"Keras {name}: {what} {listed} (seeds {seeds}); median {statistics.median(results):.5f}")


if __name__ == "__main__":
    main()
