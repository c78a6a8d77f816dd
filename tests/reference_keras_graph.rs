//! Reference test against Keras 3 (TensorFlow backend) for branching networks: `dl` reproduces,
//! within 1e-5 relative, the outputs, mean loss, gradients and the weights after three Adam steps
//! that Keras computed for the same functional models (layers reading named tensors, merges),
//! weights and batch; with batch normalization, also the moving statistics after the steps and
//! the inference outputs that use them.
//!
//! The branching counterpart of `tests/reference_keras_cnn.rs`, with the same measure (see
//! `FLOOR` in `common/keras_reference.rs`). The fixtures under `tests/fixtures/keras_graph/` were
//! written by `tests/fixtures/make_graph_fixtures.py` (see `tests/fixtures/keras_graph/README.md`);
//! Python is not needed to run this test. Each network below mirrors one fixture's `layers`: the
//! same names, kinds, Keras output shapes and the tensors each layer reads (Keras's "Connected
//! to"), all checked.

use serde_json::Value;

mod common;
use common::keras_reference::check_sparse_fixture;

dl::network! {
    /// ResNet's downsampling block. Keras:
    ///
    /// ```python
    /// x = keras.Input((6, 6, 2), name="input")
    /// stem = BatchNormalization(name="stem")(Conv2D(3, 3, activation="relu", padding="same")(x))
    /// h = Conv2D(4, 3, strides=2, padding="same", activation="relu")(stem)
    /// h = BatchNormalization(momentum=0.9)(h)
    /// main = Conv2D(4, 3, padding="same", name="main")(h)
    /// shortcut = Conv2D(4, 1, strides=2, name="shortcut")(stem)
    /// h = Add()([main, shortcut])
    /// out = Dense(3, activation="softmax")(GlobalAveragePooling2D()(h))
    /// ```
    struct ResidualProjection {
        input: [6, 6, 2],
        Conv2D(3, (3, 3), relu, padding = same),
        stem: BatchNormalization(),
        Conv2D(4, (3, 3), strides = (2, 2), padding = same, activation = relu),
        BatchNormalization(momentum = 0.9),
        main: Conv2D(4, (3, 3), padding = same),
        shortcut: Conv2D(4, (1, 1), strides = (2, 2))(stem),
        Add(main, shortcut),
        GlobalAveragePooling2D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// Two branches of the input joined along the channels (3 + 4), then batch normalization of
    /// the joined tensor.
    struct TwoBranchConcat {
        input: [7, 7, 2],
        left: Conv2D(3, (3, 3), tanh),
        Conv2D(2, (1, 1), elu)(input),
        right: Conv2D(4, (3, 3), relu),
        Concatenate(left, right, axis = -1),
        BatchNormalization(),
        MaxPooling2D((2, 2)),
        Flatten,
        Dense(4, softmax),
    }
}

dl::network! {
    /// U-Net-like: the first convolution's output skips four layers and is concatenated with the
    /// last one's.
    struct LongSkip {
        input: [6, 6, 2],
        early: Conv2D(4, (3, 3), tanh, padding = same),
        Conv2D(5, (3, 3), relu, padding = same),
        MaxPooling2D((3, 3), strides = (1, 1), padding = same),
        Conv2D(4, (1, 1), elu),
        late: Conv2D(3, (3, 3), swish, padding = same),
        Concatenate(early, late),
        Conv2D(3, (2, 2), tanh, strides = (2, 2)),
        Flatten,
        Dense(4, softmax),
    }
}

dl::network! {
    /// Every other merge: three branches of the input, each read by several merges.
    struct EveryMerge {
        input: [6],
        a: Dense(5, tanh),
        b: Dense(5, sigmoid)(input),
        c: Dense(5, elu)(input),
        total: Add(a, b, c),
        difference: Subtract(a, b),
        product: Multiply(a, b, c),
        mean: Average(total, difference, product),
        high: Maximum(a, b, c),
        low: Minimum(b, c),
        Concatenate(mean, high, low, a),
        Dense(3, softmax),
    }
}

dl::network! {
    /// An identity shortcut added across three layers, and a merge as the output: the mean of
    /// two softmax heads, one of them reading the stem.
    struct IdentitySkipAverageHead {
        input: [5],
        stem: Dense(6, tanh),
        Dense(6, elu),
        Dense(6, gelu),
        skip: Dense(6, swish),
        joined: Add(stem, skip),
        p: Dense(3, softmax),
        q: Dense(3, softmax)(stem),
        Average(p, q),
    }
}

dl::network! {
    /// Weight regularizers, whose penalty Keras adds to the loss. Keras:
    ///
    /// ```python
    /// x = keras.Input((6, 6, 2), name="input")
    /// c = Conv2D(3, 3, activation="relu", padding="same", kernel_regularizer=L2(0.01))(x)
    /// d = DepthwiseConv2D(3, padding="same", activation="tanh", depthwise_regularizer=L1(0.005))(c)
    /// h = Flatten()(Add()([c, d]))
    /// out = Dense(3, activation="softmax", kernel_regularizer=L1L2(l1=0.01, l2=0.02))(h)
    /// ```
    struct Regularized {
        input: [6, 6, 2],
        Conv2D(3, (3, 3), relu, padding = same, kernel_regularizer = l2(0.01)),
        DepthwiseConv2D((3, 3), padding = same, activation = tanh, depthwise_regularizer = l1(0.005)),
        Add(conv2d, depthwise_conv2d),
        Flatten,
        Dense(3, softmax, kernel_regularizer = l1_l2(l1 = 0.01, l2 = 0.02)),
    }
}

dl::network! {
    /// Conv1D's `kernel_regularizer`. Keras:
    ///
    /// ```python
    /// x = keras.Input((10, 3), name="input")
    /// a = Conv1D(4, 3, activation="relu", padding="causal", kernel_regularizer=L2(0.01))(x)
    /// b = Conv1D(4, 2, activation="tanh", padding="same", use_bias=False,
    ///            kernel_regularizer=L1L2(l1=0.005, l2=0.02))(a)
    /// out = Dense(3, activation="softmax", kernel_regularizer=L1(0.003))(Flatten()(Add()([a, b])))
    /// ```
    struct Conv1DRegularized {
        input: [10, 3],
        Conv1D(4, 3, relu, padding = causal, kernel_regularizer = l2(0.01)),
        Conv1D(4, 2, tanh, padding = same, use_bias = false, kernel_regularizer = l1_l2(0.005, 0.02)),
        Add(conv1d, conv1d_1),
        Flatten,
        Dense(3, softmax, kernel_regularizer = l1(0.003)),
    }
}

dl::network! {
    /// Recurrent layers without biases, with kernel and recurrent regularizers. Keras:
    ///
    /// ```python
    /// x = keras.Input((6, 3), name="input")
    /// seq = LSTM(4, return_sequences=True, use_bias=False, kernel_regularizer=L2(0.01))(x)
    /// g = GRU(3, return_sequences=True, use_bias=False,
    ///         recurrent_regularizer=L1L2(l1=0.005, l2=0.01))(seq)
    /// last = SimpleRNN(3, use_bias=False, recurrent_regularizer=L2(0.02))(g)
    /// pooled = GlobalAveragePooling1D()(seq)
    /// out = Dense(3, activation="softmax")(Concatenate()([last, pooled]))
    /// ```
    struct RecurrentNoBias {
        input: [6, 3],
        seq: LSTM(4, return_sequences = true, use_bias = false, kernel_regularizer = l2(0.01)),
        GRU(3, return_sequences = true, use_bias = false, recurrent_regularizer = l1_l2(0.005, 0.01)),
        last: SimpleRNN(3, use_bias = false, recurrent_regularizer = l2(0.02)),
        pooled: GlobalAveragePooling1D()(seq),
        Concatenate(last, pooled),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Batch normalization without beta, without gamma, and without either. Keras:
    ///
    /// ```python
    /// h = Conv2D(3, 3, activation="tanh", padding="same")(keras.Input((5, 5, 2), name="input"))
    /// h = BatchNormalization(center=False)(h)
    /// h = BatchNormalization(scale=False, momentum=0.9)(Conv2D(4, 2, activation="relu")(h))
    /// h = BatchNormalization(center=False, scale=False)(Dense(5, activation="elu")(Flatten()(h)))
    /// out = Dense(3, activation="softmax")(h)
    /// ```
    struct BatchNormCenterScale {
        input: [5, 5, 2],
        Conv2D(3, (3, 3), tanh, padding = same),
        BatchNormalization(center = false),
        Conv2D(4, (2, 2), relu),
        BatchNormalization(scale = false, momentum = 0.9),
        Flatten,
        Dense(5, elu),
        BatchNormalization(center = false, scale = false),
        Dense(3, softmax),
    }
}

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!("fixtures/keras_graph/", $name, ".json")))
            .expect(concat!("fixture ", $name, " is valid JSON"))
    };
}

#[test]
fn residual_block_with_projection_shortcut_and_batch_normalization() {
    check_sparse_fixture::<ResidualProjection>(
        "graph_residual_projection",
        fixture!("graph_residual_projection"),
    );
}

#[test]
fn concatenate_of_two_branches() {
    check_sparse_fixture::<TwoBranchConcat>("graph_concatenate", fixture!("graph_concatenate"));
}

#[test]
fn long_skip_concatenated_across_four_layers() {
    check_sparse_fixture::<LongSkip>("graph_long_skip", fixture!("graph_long_skip"));
}

#[test]
fn add_subtract_multiply_average_maximum_minimum() {
    check_sparse_fixture::<EveryMerge>("graph_merges", fixture!("graph_merges"));
}

#[test]
fn identity_skip_and_an_average_of_two_softmax_heads() {
    check_sparse_fixture::<IdentitySkipAverageHead>(
        "graph_identity_skip_average_head",
        fixture!("graph_identity_skip_average_head"),
    );
}

#[test]
fn weight_regularizers_add_their_penalty_to_the_loss() {
    check_sparse_fixture::<Regularized>("graph_regularized", fixture!("graph_regularized"));
}

#[test]
fn conv1d_kernel_regularizers_add_their_penalty_to_the_loss() {
    check_sparse_fixture::<Conv1DRegularized>(
        "graph_conv1d_regularized",
        fixture!("graph_conv1d_regularized"),
    );
}

#[test]
fn recurrent_layers_without_biases_with_kernel_and_recurrent_regularizers() {
    check_sparse_fixture::<RecurrentNoBias>("graph_recurrent_no_bias", fixture!("graph_recurrent_no_bias"));
}

#[test]
fn batch_normalization_without_beta_or_gamma() {
    check_sparse_fixture::<BatchNormCenterScale>(
        "graph_batch_norm_center_scale",
        fixture!("graph_batch_norm_center_scale"),
    );
}
