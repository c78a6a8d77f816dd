//! Reference test against Keras 3 (TensorFlow backend) for image networks: `dl` reproduces,
//! within 1e-5 relative, the outputs, mean loss, gradients and the weights after three Adam steps
//! that Keras computed for the same channels-last convolutional networks, weights and batch; with
//! batch normalization, also the moving statistics after the steps and the inference outputs
//! that use them.
//!
//! The convolutional counterpart of `tests/reference_keras.rs`, with the same measure (see
//! `FLOOR` there). The fixtures under `tests/fixtures/keras_cnn/` were written by
//! `tests/fixtures/make_cnn_fixtures.py` (see `tests/fixtures/keras_cnn/README.md`); Python is not
//! needed to run this test. Each network below mirrors one fixture's `layers`.

use dl::prelude::*;
use serde_json::Value;

mod common;
use common::keras_reference::check_sparse_fixture;

dl::network! {
    /// Same-padded conv + relu, valid max pooling that drops a row and column (13 → 6), strided
    /// valid conv + tanh, overlapping valid average pooling, Flatten, softmax head.
    struct AvgFlatten {
        input: [13, 13, 2],
        Conv2D(4, (3, 3), relu, padding = same),
        MaxPooling2D((2, 2)),
        Conv2D(5, (2, 2), tanh, strides = (2, 2)),
        AveragePooling2D((2, 2), strides = (1, 1)),
        Flatten,
        Dense(3, softmax),
    }
}

dl::network! {
    /// Strided same conv with asymmetric padding (8 → 4), same max pooling 3×3 stride 2 (4 → 2),
    /// same average pooling 3×3 stride 1 (padding not counted), 1×1 conv + relu,
    /// GlobalMaxPooling2D.
    struct SamePoolGlobalMax {
        input: [8, 8, 3],
        Conv2D(4, (3, 3), tanh, strides = (2, 2), padding = same),
        MaxPooling2D((3, 3), strides = (2, 2), padding = same),
        AveragePooling2D((3, 3), strides = (1, 1), padding = same),
        Conv2D(6, (1, 1), relu),
        GlobalMaxPooling2D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// Non-square input and kernel, valid conv + tanh, GlobalAveragePooling2D.
    struct GlobalAvg {
        input: [6, 7, 2],
        Conv2D(3, (2, 3), tanh),
        GlobalAveragePooling2D,
        Dense(4, softmax),
    }
}

dl::network! {
    /// Conv + relu, batch normalization per channel (Keras's defaults), max pooling, Flatten,
    /// dense + tanh, batch normalization per feature (momentum 0.9, epsilon 0.01), softmax head.
    struct BatchNorm {
        input: [7, 7, 2],
        Conv2D(4, (3, 3), relu),
        BatchNormalization(),
        MaxPooling2D((2, 2)),
        Flatten,
        Dense(6, tanh),
        BatchNormalization(momentum = 0.9, epsilon = 0.01),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Depthwise 3×3 stride 2 same (9 → 5) with depth multiplier 2 + relu (3 → 6 channels,
    /// channel `c·2 + m`), depthwise 2×3 valid + tanh without bias, GlobalAveragePooling2D.
    struct Depthwise {
        input: [9, 9, 3],
        DepthwiseConv2D((3, 3), strides = (2, 2), padding = same, depth_multiplier = 2, activation = relu),
        DepthwiseConv2D((2, 3), activation = tanh, use_bias = false),
        GlobalAveragePooling2D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// `ReLU` layers with Keras's three arguments after hard_swish and relu6 convolutions and a
    /// hard_sigmoid Dense layer: a maximum and a slope below a threshold; `max_value = 6` alone
    /// (Keras's relu6); a slope below a threshold without maximum.
    struct ReluLayers {
        input: [6, 6, 2],
        Conv2D(4, (3, 3), hard_swish, padding = same),
        ReLU(max_value = 1.5, negative_slope = 0.1, threshold = 0.2),
        Conv2D(3, (2, 2), relu6),
        ReLU(max_value = 6.0),
        Flatten,
        Dense(5, hard_sigmoid),
        ReLU(negative_slope = 0.3, threshold = 0.5),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Separable 3×3 same + relu, separable 2×2 stride 2 with depth multiplier 2 + tanh, 1×1
    /// separable without bias, Flatten.
    struct Separable {
        input: [8, 8, 2],
        SeparableConv2D(4, (3, 3), relu, padding = same),
        SeparableConv2D(5, (2, 2), tanh, strides = (2, 2), depth_multiplier = 2),
        SeparableConv2D(3, (1, 1), use_bias = false),
        Flatten,
        Dense(3, softmax),
    }
}

dl::network! {
    /// `ZeroPadding2D` in its three forms: `((top, bottom), (left, right))` between two
    /// convolutions, `(rows, cols)` before average pooling, and the default 1 before Flatten.
    struct ZeroPadding {
        input: [5, 6, 2],
        Conv2D(3, (2, 2), tanh),
        ZeroPadding2D(((1, 2), (0, 1))),
        Conv2D(4, (3, 3), tanh),
        ZeroPadding2D((1, 0)),
        AveragePooling2D((2, 2)),
        ZeroPadding2D(),
        Flatten,
        Dense(3, softmax),
    }
}

dl::network! {
    /// `use_bias = false` on a convolution before batch normalization (as MobileNet writes it),
    /// on a strided tanh convolution and on a tanh Dense layer: no bias tensor anywhere but the
    /// head's.
    struct NoBias {
        input: [7, 7, 2],
        Conv2D(4, (3, 3), padding = same, use_bias = false),
        BatchNormalization(),
        ReLU(max_value = 6.0),
        Conv2D(3, (2, 2), tanh, strides = (2, 2), use_bias = false),
        Flatten,
        Dense(5, tanh, use_bias = false),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Conv1D on [steps, channels]: causal with dilation 2, MaxPooling1D, strided same Conv1D,
    /// same AveragePooling1D with stride 1, valid Conv1D without bias, GlobalMaxPooling1D.
    struct Conv1d {
        input: [12, 3],
        Conv1D(4, 3, tanh, padding = causal, dilation_rate = 2),
        MaxPooling1D(2),
        Conv1D(5, 2, tanh, strides = 2, padding = same),
        AveragePooling1D(2, strides = 1, padding = same),
        Conv1D(4, 2, tanh, use_bias = false),
        GlobalMaxPooling1D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// Conv1D same with dilation 2, valid with dilation 3, same MaxPooling1D 3 stride 2,
    /// GlobalAveragePooling1D.
    struct Conv1dDilated {
        input: [10, 2],
        Conv1D(4, 3, tanh, padding = same, dilation_rate = 2),
        Conv1D(3, 2, tanh, dilation_rate = 3),
        MaxPooling1D(3, strides = 2, padding = same),
        GlobalAveragePooling1D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// LayerNormalization over each pixel's channels (Keras's defaults), without beta
    /// (epsilon 0.01), and over a vector without gamma.
    struct LayerNorm {
        input: [5, 5, 2],
        Conv2D(4, (2, 2), tanh),
        LayerNormalization(),
        Conv2D(3, (2, 2), tanh),
        LayerNormalization(epsilon = 0.01, center = false),
        Flatten,
        Dense(6, tanh),
        LayerNormalization(scale = false),
        Dense(3, softmax),
    }
}

dl::network! {
    /// LayerNormalization over each step's channels of a Conv1D output.
    struct LayerNormSequence {
        input: [6, 3],
        Conv1D(4, 2, relu, padding = causal),
        LayerNormalization(axis = -1, epsilon = 1e-5),
        GlobalAveragePooling1D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// UpSampling2D((2, 1)) between convolutions, Reshape((-1, 2)) of an image into a sequence
    /// for Conv1D, Reshape((9,)) into a vector.
    struct ReshapeUpSampling {
        input: [4, 4, 2],
        Conv2D(3, (2, 2), tanh),
        UpSampling2D((2, 1)),
        Conv2D(2, (3, 3), tanh),
        Reshape((-1, 2)),
        Conv1D(3, 2, tanh),
        Reshape((9,)),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Dense, Reshape((2, 2, 3)) into an image, UpSampling2D() and UpSampling2D((1, 3)).
    struct UpSamplingFromDense {
        input: [6],
        Dense(12, tanh),
        Reshape((2, 2, 3)),
        UpSampling2D(),
        Conv2D(4, (3, 3), tanh, padding = same),
        UpSampling2D(size = (1, 3)),
        GlobalMaxPooling2D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// Keras's preprocessing layers: Rescaling, then Normalization adapted on other data.
    struct Preprocessing {
        input: [4],
        Rescaling(0.5, offset = -1.0),
        Normalization(),
        Dense(6, tanh),
        Dense(3, softmax),
    }
}

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!("fixtures/keras_cnn/", $name, ".json")))
            .expect(concat!("fixture ", $name, " is valid JSON"))
    };
}

#[test]
fn conv_max_pool_average_pool_flatten() {
    check_sparse_fixture::<AvgFlatten>("cnn_avg_flatten", fixture!("cnn_avg_flatten"));
}

#[test]
fn same_padded_pooling_and_global_max_pooling() {
    check_sparse_fixture::<SamePoolGlobalMax>(
        "cnn_same_pool_global_max",
        fixture!("cnn_same_pool_global_max"),
    );
}

#[test]
fn global_average_pooling() {
    check_sparse_fixture::<GlobalAvg>("cnn_global_avg", fixture!("cnn_global_avg"));
}

#[test]
fn batch_normalization_of_images_and_vectors() {
    check_sparse_fixture::<BatchNorm>("cnn_batch_norm", fixture!("cnn_batch_norm"));
}

#[test]
fn depthwise_convolutions_with_a_depth_multiplier_and_without_bias() {
    check_sparse_fixture::<Depthwise>("cnn_depthwise", fixture!("cnn_depthwise"));
}

#[test]
fn separable_convolutions() {
    check_sparse_fixture::<Separable>("cnn_separable", fixture!("cnn_separable"));
}

#[test]
fn relu_layers_and_hard_activations() {
    check_sparse_fixture::<ReluLayers>("cnn_relu_layers", fixture!("cnn_relu_layers"));
}

#[test]
fn zero_padding() {
    check_sparse_fixture::<ZeroPadding>("cnn_zero_padding", fixture!("cnn_zero_padding"));
}

#[test]
fn layers_without_bias() {
    check_sparse_fixture::<NoBias>("cnn_no_bias", fixture!("cnn_no_bias"));
}

#[test]
fn conv1d_causal_strided_and_1d_pooling() {
    check_sparse_fixture::<Conv1d>("cnn_conv1d", fixture!("cnn_conv1d"));
}

#[test]
fn conv1d_dilated_same_and_valid() {
    check_sparse_fixture::<Conv1dDilated>("cnn_conv1d_dilated", fixture!("cnn_conv1d_dilated"));
}

#[test]
fn layer_normalization_with_and_without_center_and_scale() {
    check_sparse_fixture::<LayerNorm>("cnn_layer_norm", fixture!("cnn_layer_norm"));
}

#[test]
fn layer_normalization_of_a_sequence() {
    check_sparse_fixture::<LayerNormSequence>("cnn_layer_norm_sequence", fixture!("cnn_layer_norm_sequence"));
}

#[test]
fn reshape_and_upsampling_between_convolutions() {
    check_sparse_fixture::<ReshapeUpSampling>("cnn_reshape_upsampling", fixture!("cnn_reshape_upsampling"));
}

#[test]
fn upsampling_from_a_reshaped_dense_layer() {
    check_sparse_fixture::<UpSamplingFromDense>(
        "cnn_upsampling_from_dense",
        fixture!("cnn_upsampling_from_dense"),
    );
}

/// Keras's `count_params()` of the networks with the new kinds (3.15), in total and per layer
/// (`summary()`'s `Param #`); their output shapes are checked against Keras's with the fixtures.
#[test]
fn conv1d_layer_normalization_reshape_and_upsampling_count_as_in_keras() {
    fn rows<M: Model>() -> Vec<usize> {
        M::LAYERS.iter().map(|l| l.params).collect()
    }
    assert_eq!(Conv1d::PARAMS, 140);
    assert_eq!(rows::<Conv1d>(), [40, 0, 45, 0, 40, 0, 15]);
    assert_eq!(Conv1dDilated::PARAMS, 67);
    assert_eq!(rows::<Conv1dDilated>(), [28, 27, 0, 0, 12]);
    assert_eq!(LayerNorm::PARAMS, 293);
    assert_eq!(rows::<LayerNorm>(), [36, 8, 51, 3, 0, 168, 6, 21]);
    assert_eq!(LayerNormSequence::PARAMS, 51);
    assert_eq!(ReshapeUpSampling::PARAMS, 128);
    assert_eq!(rows::<ReshapeUpSampling>(), [27, 0, 56, 0, 15, 0, 30]);
    assert_eq!(UpSamplingFromDense::PARAMS, 211);
    let text = LayerNorm::zeros().summary().to_string();
    for line in [
        " layer_normalization (LayerNormalization)(None, 4, 4, 4)",
        " layer_normalization_1 (LayerNormalization)(None, 3, 3, 3)",
        "Total params: 293 (1.14 KB)\n",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    let text = ReshapeUpSampling::zeros().summary().to_string();
    for line in [
        " up_sampling2d (UpSampling2D)(None, 6, 3, 3)",
        " reshape (Reshape)           (None, 4, 2)              0",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
}

/// Keras's `count_params()` of the same network (3.15): 289, of which 281 trainable; the layers
/// without bias have their kernel alone.
#[test]
fn layers_without_bias_count_as_in_keras() {
    assert_eq!(NoBias::PARAMS, 281);
    assert_eq!(NoBias::PARAMS + <NoBias as Model>::NON_TRAINABLE, 289);
    let rows: Vec<usize> = NoBias::LAYERS.iter().map(|l| l.params).collect();
    assert_eq!(rows, [72, 8, 0, 48, 0, 135, 18]);
    let mut tensors = Vec::new();
    NoBias::zeros().for_each_param(|layer, tensor, _| tensors.push(format!("{layer}.{tensor}")));
    assert_eq!(
        tensors,
        [
            "conv2d.kernel",
            "batch_normalization.gamma",
            "batch_normalization.beta",
            "conv2d_1.kernel",
            "dense.kernel",
            "dense_1.kernel",
            "dense_1.bias"
        ]
    );
}

/// Keras's `summary()` of the same network (Keras 3.15): batch normalization counts its moving
/// statistics in `Param #` and as non-trainable; only `gamma` and `beta` are trained.
#[test]
fn batch_normalization_counts_as_in_keras_summary() {
    assert_eq!(BatchNorm::PARAMS, 219);
    assert_eq!(<BatchNorm as Model>::NON_TRAINABLE, 20);
    let text = BatchNorm::zeros().summary().to_string();
    for line in [
        " batch_normalization (BatchNormalization)(None, 5, 5, 4)",
        " batch_normalization_1 (BatchNormalization)(None, 6)",
        "Total params: 239 (956.00 B)\n",
        "Trainable params: 219 (876.00 B)\n",
        "Non-trainable params: 20 (80.00 B)\n",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    let rows: Vec<usize> = BatchNorm::LAYERS
        .iter()
        .map(|l| l.params + l.non_trainable)
        .collect();
    assert_eq!(rows, [76, 16, 0, 0, 102, 24, 21]);
}

#[test]
fn rescaling_and_normalization_with_keras_statistics() {
    check_sparse_fixture::<Preprocessing>("cnn_preprocessing", fixture!("cnn_preprocessing"));
}

/// `adapt` on the fixture's adapt data (through the Rescaling) finds Keras's mean and variance.
#[test]
fn adapt_finds_the_statistics_keras_adapt_found() {
    use common::keras_reference::{Checker, check_state, floats};
    let fx = fixture!("cnn_preprocessing");
    let x: Vec<SVector<f32, 4>> = floats(&fx["adapt_x"])
        .chunks_exact(4)
        .map(SVector::from_column_slice)
        .collect();
    let mut net = Preprocessing::zeros();
    net.adapt(&x).unwrap();
    // Keras 3 leaves `count` at 0 (it keeps the weight only to load old files); `dl` counts the
    // values adapted on, and compares the statistics alone.
    assert_eq!(net.normalization.count[0], x.len() as f32);
    net.normalization.count[0] = 0.0;
    let mut c = Checker::new("cnn_preprocessing adapt");
    check_state(&mut c, "adapted statistics", &net, &fx["state"]);
    c.finish();
}
