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

use dl::Sample;
use dl::prelude::*;
use dl::train::predict;
use serde_json::Value;

mod common;
use common::keras_reference::{Checker, check_outputs_and_training, floats, max_abs, reference};

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

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!("fixtures/keras_cnn/", $name, ".json")))
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

/// Reproduces one fixture with the network `M` (sparse categorical cross-entropy on a softmax).
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

    // The layers as declared here against the fixture's: names, kinds and Keras's output shapes.
    let layers = fx["layers"].as_array().expect("layers");
    assert_eq!(M::LAYERS.len(), layers.len(), "{case}: number of layers");
    for (ours, theirs) in M::LAYERS.iter().zip(layers) {
        assert_eq!(theirs["name"], ours.name, "{case}: layer name");
        assert_eq!(theirs["kind"], ours.kind, "{case}: kind of {}", ours.name);
        assert_eq!(
            dims(&theirs["output_shape"]),
            ours.output_shape,
            "{case}: output shape of {}",
            ours.name
        );
    }

    // Initial weights: Keras's `(KH, KW, C, F)` conv kernels and `(inputs, units)` dense kernels,
    // flattened row-major, are `dl`'s parameter memory, so values are copied as they are.
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

    // Inputs: NHWC, each sample flattened row-major, which is `dl`'s HWC sample order.
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
fn conv_max_pool_average_pool_flatten() {
    check::<AvgFlatten>("cnn_avg_flatten", fixture!("cnn_avg_flatten"));
}

#[test]
fn same_padded_pooling_and_global_max_pooling() {
    check::<SamePoolGlobalMax>("cnn_same_pool_global_max", fixture!("cnn_same_pool_global_max"));
}

#[test]
fn global_average_pooling() {
    check::<GlobalAvg>("cnn_global_avg", fixture!("cnn_global_avg"));
}

#[test]
fn batch_normalization_of_images_and_vectors() {
    check::<BatchNorm>("cnn_batch_norm", fixture!("cnn_batch_norm"));
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
