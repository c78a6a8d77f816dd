//! Reference test against Keras 3 (TensorFlow backend): `dl` reproduces, within 1e-5 relative,
//! the outputs, mean loss, gradients and the weights after three Adam steps that Keras computed
//! for the same dense networks, weights and batch.
//!
//! The fixtures under `tests/fixtures/keras_dense/` were written by
//! `tests/fixtures/make_dense_fixtures.py` (see `tests/fixtures/README.md`); Python is not needed
//! to run this test. Each network below mirrors one fixture's `layers`.

use dl::Sample;
use dl::prelude::*;
use serde_json::Value;

mod common;
use common::keras_reference::{Checker, check_outputs_and_training, floats, reference};

dl::network! {
    /// (a) The Keras tutorial MLP.
    struct TutorialBce {
        input: [10],
        Dense(64, relu),
        Dense(64, relu),
        Dense(1, sigmoid),
    }
}

dl::network! {
    /// (b) A softmax classifier, sparse categorical cross-entropy (fused with the softmax).
    struct SoftmaxScce {
        input: [8],
        Dense(12, relu),
        Dense(4, softmax),
    }
}

dl::network! {
    /// (c) A softmax classifier, categorical cross-entropy on one-hot labels.
    struct SoftmaxCce {
        input: [6],
        Dense(10, tanh),
        Dense(5, softmax),
    }
}

dl::network! {
    /// (d) Every other activation, Keras defaults (elu α 1, exact gelu, leaky_relu slope 0.2),
    /// mean squared error on 3 units.
    struct ActivationsMse {
        input: [7],
        Dense(9, tanh),
        Dense(8, swish),
        Dense(8, elu),
        Dense(8, gelu),
        Dense(7, softplus),
        Dense(6, leaky_relu),
        Dense(3, linear),
    }
}

dl::network! {
    /// (d) relu6, hard_sigmoid (Keras 3's `relu6(x + 3) / 6`), hard_silu and its alias
    /// hard_swish, each layer's inputs on both sides of its kinks; mean squared error on 3 units.
    struct HardActivationsMse {
        input: [6],
        Dense(10, relu6),
        Dense(8, hard_sigmoid),
        Dense(8, hard_silu),
        Dense(6, hard_swish),
        Dense(3, linear),
    }
}

dl::network! {
    /// (e) Mean absolute error on 3 units, through an elu head.
    struct Mae {
        input: [5],
        Dense(8, relu),
        Dense(3, elu),
    }
}

dl::network! {
    /// (e) Huber (δ 1) on 1 unit, errors on both sides of δ.
    struct HuberNet {
        input: [5],
        Dense(8, tanh),
        Dense(1, linear),
    }
}

dl::network! {
    /// (f) Binary cross-entropy with `from_logits`, linear output.
    struct BceLogits {
        input: [6],
        Dense(8, relu),
        Dense(1, linear),
    }
}

dl::network! {
    /// (f) Sparse categorical cross-entropy with `from_logits`, linear output; `silu` alias.
    struct ScceLogits {
        input: [6],
        Dense(8, silu),
        Dense(4, linear),
    }
}

dl::network! {
    /// Mean squared error through a softmax: not fused, so the softmax Jacobian is exercised.
    struct SoftmaxMse {
        input: [5],
        Dense(6, relu),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Huber through a 2-unit sigmoid: sigmoid backward without fusion.
    struct SigmoidHuber {
        input: [5],
        Dense(6, leaky_relu),
        Dense(2, sigmoid),
    }
}

dl::network! {
    /// Categorical cross-entropy of positive outputs that are not a softmax: normalised to sum 1,
    /// clipped, cross-entropy of probabilities.
    struct SoftplusCce {
        input: [5],
        Dense(6, tanh),
        Dense(4, softplus),
    }
}

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!("fixtures/keras_dense/", $name, ".json")))
            .expect(concat!("fixture ", $name, " is valid JSON"))
    };
}

/// A label as the loss takes it, read from the fixture's flat `y`.
trait Label: Sized {
    fn parse(y: &Value, batch: usize) -> Vec<Self>;
}

impl Label for f32 {
    fn parse(y: &Value, batch: usize) -> Vec<f32> {
        let y = floats(y);
        assert_eq!(y.len(), batch, "one label per sample");
        y
    }
}

impl Label for usize {
    fn parse(y: &Value, batch: usize) -> Vec<usize> {
        let y: Vec<usize> = y
            .as_array()
            .expect("a list of class indices")
            .iter()
            .map(|v| v.as_u64().expect("a class index") as usize)
            .collect();
        assert_eq!(y.len(), batch, "one label per sample");
        y
    }
}

impl<const N: usize> Label for SVector<f32, N> {
    fn parse(y: &Value, batch: usize) -> Vec<Self> {
        let y = floats(y);
        assert_eq!(y.len(), batch * N, "{N} values per sample");
        y.chunks_exact(N).map(SVector::from_column_slice).collect()
    }
}

/// Reproduces one fixture with the network `M` and the loss `loss`.
fn check<M, L>(case: &'static str, fx: Value, loss: L)
where
    M: Model,
    M::Input: Sample<Elem = f32>,
    L: Loss<M::Head>,
    L::Target: Label,
{
    assert_eq!(fx["name"], case);
    assert_eq!(fx["loss"], loss.name(), "{case}: fixture loss");
    let mut c = Checker::new(case);

    // The layers as declared here against the fixture's.
    let layers = fx["layers"].as_array().expect("layers");
    assert_eq!(M::LAYERS.len(), layers.len(), "{case}: number of layers");
    for (ours, theirs) in M::LAYERS.iter().zip(layers) {
        assert_eq!(theirs["name"], ours.name, "{case}: layer name");
        assert_eq!(
            theirs["units"], ours.output_shape[0],
            "{case}: units of {}",
            ours.name
        );
    }

    // Initial weights: the flat Keras `(inputs, units)` row-major kernel is dl's column-major
    // `units × inputs` matrix, so values are copied as they are.
    let mut net = M::zeros();
    let params = fx["params"].as_array().expect("params");
    let mut i = 0;
    net.for_each_param_mut(|layer, tensor, values| {
        let p = &params[i];
        assert_eq!(p["layer"], layer, "{case}: param #{i}");
        assert_eq!(p["tensor"], tensor, "{case}: param #{i}");
        let shape: Vec<usize> = p["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(
            shape.iter().product::<usize>(),
            values.len(),
            "{case}: {layer}.{tensor} shape"
        );
        values.copy_from_slice(&floats(&p["values"]));
        i += 1;
    });
    assert_eq!(i, params.len(), "{case}: number of parameter tensors");

    let batch = fx["batch"].as_u64().unwrap() as usize;
    let x_flat = floats(&fx["x"]);
    assert_eq!(x_flat.len(), batch * M::Input::LEN, "{case}: inputs");
    let x: Vec<M::Input> = x_flat
        .chunks_exact(M::Input::LEN)
        .map(M::Input::from_elems)
        .collect();
    let y = L::Target::parse(&fx["y"], batch);
    let want_out = reference(&fx["outputs"]);

    // Outputs, one sample at a time and batched.
    check_outputs_and_training(&mut c, &mut net, &x, &y, &want_out, loss, &fx);
    c.finish();
}

#[test]
fn tutorial_mlp_binary_crossentropy() {
    check::<TutorialBce, _>(
        "tutorial_bce",
        fixture!("tutorial_bce"),
        BinaryCrossEntropy::default(),
    );
}

#[test]
fn softmax_sparse_categorical_crossentropy() {
    check::<SoftmaxScce, _>(
        "softmax_scce",
        fixture!("softmax_scce"),
        SparseCategoricalCrossEntropy::default(),
    );
}

#[test]
fn softmax_categorical_crossentropy() {
    check::<SoftmaxCce, _>(
        "softmax_cce",
        fixture!("softmax_cce"),
        CategoricalCrossEntropy::default(),
    );
}

#[test]
fn other_activations_mean_squared_error() {
    check::<ActivationsMse, _>("activations_mse", fixture!("activations_mse"), MeanSquaredError);
}

#[test]
fn hard_activations_mean_squared_error() {
    check::<HardActivationsMse, _>(
        "hard_activations_mse",
        fixture!("hard_activations_mse"),
        MeanSquaredError,
    );
}

#[test]
fn mean_absolute_error() {
    check::<Mae, _>("mae", fixture!("mae"), MeanAbsoluteError);
}

#[test]
fn huber() {
    check::<HuberNet, _>("huber", fixture!("huber"), Huber::default());
}

#[test]
fn binary_crossentropy_from_logits() {
    check::<BceLogits, _>(
        "bce_logits",
        fixture!("bce_logits"),
        BinaryCrossEntropy { from_logits: true },
    );
}

#[test]
fn sparse_categorical_crossentropy_from_logits() {
    check::<ScceLogits, _>(
        "scce_logits",
        fixture!("scce_logits"),
        SparseCategoricalCrossEntropy { from_logits: true },
    );
}

#[test]
fn mean_squared_error_through_softmax() {
    check::<SoftmaxMse, _>("softmax_mse", fixture!("softmax_mse"), MeanSquaredError);
}

#[test]
fn huber_through_sigmoid() {
    check::<SigmoidHuber, _>("sigmoid_huber", fixture!("sigmoid_huber"), Huber::default());
}

#[test]
fn categorical_crossentropy_of_unnormalised_probabilities() {
    check::<SoftplusCce, _>(
        "softplus_cce",
        fixture!("softplus_cce"),
        CategoricalCrossEntropy::default(),
    );
}
