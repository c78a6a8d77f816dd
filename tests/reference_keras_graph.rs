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

use dl::Sample;
use dl::prelude::*;
use dl::train::predict;
use serde_json::Value;

mod common;
use common::keras_reference::{Checker, check_outputs_and_training, floats, max_abs, reference};

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

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!("fixtures/keras_graph/", $name, ".json")))
            .expect(concat!("fixture ", $name, " is valid JSON"))
    };
}

fn dims(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("a shape")
        .iter()
        .map(|d| d.as_u64().expect("a dimension") as usize)
        .collect()
}

/// Reproduces one fixture with the network `M` (sparse categorical cross-entropy of probabilities).
fn check<M>(case: &'static str, fx: Value)
where
    M: Model,
    M::Input: Sample<Elem = f32>,
    SparseCategoricalCrossEntropy: Loss<M::Head, Target = usize>,
{
    let loss = SparseCategoricalCrossEntropy::default();
    assert_eq!(fx["name"], case);
    assert_eq!(fx["loss"], loss.name(), "{case}: fixture loss");
    let mut c = Checker::new(case);

    // The layers as declared here against the fixture's: names, kinds, the tensors each reads
    // and Keras's output shapes.
    let layers = fx["layers"].as_array().expect("layers");
    assert_eq!(M::LAYERS.len(), layers.len(), "{case}: number of layers");
    for (ours, theirs) in M::LAYERS.iter().zip(layers) {
        assert_eq!(theirs["name"], ours.name, "{case}: layer name");
        assert_eq!(theirs["kind"], ours.kind, "{case}: kind of {}", ours.name);
        let reads: Vec<&str> = theirs["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|n| n.as_str().expect("a tensor name"))
            .collect();
        assert_eq!(reads, ours.connected_to, "{case}: inputs of {}", ours.name);
        assert_eq!(
            dims(&theirs["output_shape"]),
            ours.output_shape,
            "{case}: output shape of {}",
            ours.name
        );
    }

    // Initial weights, layer by layer in declaration order: Keras's `(KH, KW, C, F)` conv
    // kernels and `(inputs, units)` dense kernels, flattened row-major, are `dl`'s parameter
    // memory, so values are copied as they are.
    let mut net = M::zeros();
    let params = fx["params"].as_array().expect("params");
    let mut i = 0;
    net.for_each_param_mut(|layer, tensor, values| {
        let p = &params[i];
        assert_eq!(p["layer"], layer, "{case}: param #{i}");
        assert_eq!(p["tensor"], tensor, "{case}: param #{i}");
        assert_eq!(
            dims(&p["shape"]).iter().product::<usize>(),
            values.len(),
            "{case}: {layer}.{tensor} shape"
        );
        values.copy_from_slice(&floats(&p["values"]));
        i += 1;
    });
    assert_eq!(i, params.len(), "{case}: number of parameter tensors");
    // Batch normalization's moving statistics, when the fixture has any.
    let empty = Vec::new();
    let state = fx["state"].as_array().unwrap_or(&empty);
    let mut i = 0;
    net.for_each_state_mut(|layer, tensor, values| {
        let s = &state[i];
        assert_eq!(
            (&s["layer"], &s["tensor"]),
            (&layer.into(), &tensor.into()),
            "{case}: state #{i}"
        );
        values.copy_from_slice(&floats(&s["values"]));
        i += 1;
    });
    assert_eq!(i, state.len(), "{case}: number of state tensors");

    // Inputs: each sample flattened row-major (NHWC images), which is `dl`'s sample order.
    let batch = fx["batch"].as_u64().unwrap() as usize;
    assert_eq!(
        dims(&fx["input"]).iter().product::<usize>(),
        M::Input::LEN,
        "{case}: input shape"
    );
    let x_flat = floats(&fx["x"]);
    assert_eq!(x_flat.len(), batch * M::Input::LEN, "{case}: inputs");
    let x: Vec<M::Input> = x_flat
        .chunks_exact(M::Input::LEN)
        .map(M::Input::from_elems)
        .collect();
    let y: Vec<usize> = fx["y"]
        .as_array()
        .expect("a list of class indices")
        .iter()
        .map(|v| v.as_u64().expect("a class index") as usize)
        .collect();
    assert_eq!(y.len(), batch, "{case}: one label per sample");
    let want_out = reference(&fx["outputs"]);

    check_outputs_and_training(&mut c, &mut net, &x, &y, &want_out, loss, &fx);
    let steps = fx["adam_steps"].as_u64().unwrap() as usize;
    if !state.is_empty() {
        check_state(
            &mut c,
            &format!("state after {steps} Adam steps"),
            &net,
            &fx["state_after"],
        );
        // Inference now normalizes with the moved statistics.
        let after: Vec<f32> = predict(&net, &x)
            .iter()
            .flat_map(|o| o.elems().to_vec())
            .collect();
        c.close_all(
            "predict after the steps",
            &after,
            &reference(&fx["outputs_after"]),
        );
    }
    c.finish();
}

/// The state tensors of `net` against a fixture list of `{layer, tensor, values}`; the floor of
/// each value scales with its layer's moving mean and variance.
fn check_state<M: Model>(c: &mut Checker, what: &str, net: &M, want: &Value) {
    let want = want.as_array().expect("a list of tensors");
    let mut got = Vec::new();
    net.for_each_state(|layer, tensor, values| got.push((layer, tensor, values.to_vec())));
    assert_eq!(got.len(), want.len(), "{what}: number of tensors");
    for ((layer, tensor, values), w) in got.iter().zip(want) {
        assert_eq!(
            (&w["layer"], &w["tensor"]),
            (&(*layer).into(), &(*tensor).into()),
            "{what}"
        );
        let scale = want
            .iter()
            .filter(|t| t["layer"] == *layer)
            .map(|t| max_abs(&reference(&t["values"])))
            .fold(0.0, f64::max);
        c.close(
            &format!("{what} {layer}.{tensor}"),
            values,
            &reference(&w["values"]),
            scale,
        );
    }
}

#[test]
fn residual_block_with_projection_shortcut_and_batch_normalization() {
    check::<ResidualProjection>("graph_residual_projection", fixture!("graph_residual_projection"));
}

#[test]
fn concatenate_of_two_branches() {
    check::<TwoBranchConcat>("graph_concatenate", fixture!("graph_concatenate"));
}

#[test]
fn long_skip_concatenated_across_four_layers() {
    check::<LongSkip>("graph_long_skip", fixture!("graph_long_skip"));
}

#[test]
fn add_subtract_multiply_average_maximum_minimum() {
    check::<EveryMerge>("graph_merges", fixture!("graph_merges"));
}

#[test]
fn identity_skip_and_an_average_of_two_softmax_heads() {
    check::<IdentitySkipAverageHead>(
        "graph_identity_skip_average_head",
        fixture!("graph_identity_skip_average_head"),
    );
}
