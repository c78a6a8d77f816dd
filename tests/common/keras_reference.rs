//! What the Keras reference tests share: reading fixture numbers, and comparing dl's values
//! with Keras's under one relative-error measure.

#![allow(dead_code)]

use dl::train::predict;
use dl::{Adam, Loss, Model, Sample, SparseCategoricalCrossEntropy, Trainer};
use serde_json::Value;
/// Largest accepted relative error.
pub const TOLERANCE: f64 = 1e-5;

/// The denominator of the relative error is `max(|want|, FLOOR · scale)`, where `scale` is the
/// largest magnitude among the values of the same kind in the same layer (kernel and bias), or
/// among the outputs of the batch.
///
/// Every value compared is a float32 sum of products (matrix products, the batch sums of a
/// gradient, softmax normalisations). The rounding error of such a sum scales with its terms, not
/// its result: an entry that nearly cancels (a gradient of 1e-6 in a layer whose gradients reach
/// 0.1) is only known to about `√n · ε_f32 · |terms|` absolutely, which can be any relative error;
/// on these fixtures Keras's own float32 run misses the float64 values by up to 1e-4 relative. So
/// values within a tenth of their layer's largest must agree to 1e-5 relative, and smaller ones to
/// 1e-6 of that largest value (about 8 float32 ulps of it). A loss is its own scale: 1e-5
/// relative outright.
///
/// The fixtures are also well-conditioned by construction (see the script): Keras's own float32
/// run passes this very check at half the tolerance.
pub const FLOOR: f64 = 0.1;

/// The reference values, computed by Keras in float64.
pub fn reference(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("a list of numbers")
        .iter()
        .map(|n| n.as_f64().expect("a number"))
        .collect()
}

/// Inputs, labels and initial weights, written as float32 values (shortest round-trip decimals).
pub fn floats(v: &Value) -> Vec<f32> {
    reference(v).into_iter().map(|n| n as f32).collect()
}

/// Compares values and keeps the largest errors seen.
pub struct Checker {
    case: &'static str,
    tolerance: f64,
    worst: f64,
    worst_at: String,
    worst_ulps: f64,
    failures: Vec<String>,
}

impl Checker {
    pub fn new(case: &'static str) -> Self {
        Self::with_tolerance(case, TOLERANCE)
    }

    /// A checker accepting relative errors up to `tolerance` rather than [`TOLERANCE`].
    pub fn with_tolerance(case: &'static str, tolerance: f64) -> Self {
        Checker {
            case,
            tolerance,
            worst: 0.0,
            worst_at: String::new(),
            worst_ulps: 0.0,
            failures: Vec::new(),
        }
    }

    /// Checks `got` against `want`, the floor of the relative error scaled by `scale` (the largest
    /// magnitude of the layer or batch the values belong to).
    pub fn close(&mut self, what: &str, got: &[f32], want: &[f64], scale: f64) {
        assert_eq!(
            got.len(),
            want.len(),
            "{}: {what} has the wrong length",
            self.case
        );
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let g = f64::from(g);
            let err = (g - w).abs() / w.abs().max(FLOOR * scale).max(f64::MIN_POSITIVE);
            self.worst_ulps = self
                .worst_ulps
                .max((g - w).abs() / (scale * f64::from(f32::EPSILON)));
            if err > self.worst {
                self.worst = err;
                self.worst_at = format!("{what}[{i}]");
            }
            if err.is_nan() || err > self.tolerance {
                self.failures.push(format!(
                    "{what}[{i}]: dl {g:e}, Keras {w:e}, relative error {err:.2e}"
                ));
            }
        }
    }

    /// Checks values that form one group for the floor (the outputs of the batch, a loss).
    pub fn close_all(&mut self, what: &str, got: &[f32], want: &[f64]) {
        self.close(what, got, want, max_abs(want));
    }

    pub fn finish(self) {
        eprintln!(
            "{}: largest relative error {:.2e} (at {}); largest absolute error {:.1} float32 ulps of \
             the largest value of its layer",
            self.case, self.worst, self.worst_at, self.worst_ulps
        );
        assert!(
            self.failures.is_empty(),
            "{}: {} values differ from Keras by more than {:e} relative:\n{}",
            self.case,
            self.failures.len(),
            self.tolerance,
            self.failures.join("\n")
        );
    }
}

pub fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, &w| m.max(w.abs()))
}

/// Checks the parameter tensors of `net` (weights or gradients) against a fixture list of
/// `{layer, tensor, values}`; the floor of each value scales with its layer's kernel and bias.
pub fn check_params<M: Model>(c: &mut Checker, what: &str, net: &M, want: &Value) {
    let want = want.as_array().expect("a list of tensors");
    let mut got = Vec::new();
    net.for_each_param(|layer, tensor, values| got.push((layer, tensor, values.to_vec())));
    assert_eq!(
        got.len(),
        want.len(),
        "{}: {what} has a different number of tensors",
        c.case
    );
    for (i, ((layer, tensor, values), w)) in got.iter().zip(want).enumerate() {
        assert_eq!(w["layer"], *layer, "{}: {what} #{i} is not {layer}", c.case);
        assert_eq!(
            w["tensor"], *tensor,
            "{}: {what} #{i} is not {layer}.{tensor}",
            c.case
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

/// What every Keras reference case checks after building its network and batch: the outputs
/// (one sample at a time and batched) against `want_out`; the mean loss and every gradient at
/// the initial weights; then the loss before each of the fixture's Adam steps on the same batch,
/// and the weights after them.
pub fn check_outputs_and_training<M: Model, L: Loss<M::Head>>(
    c: &mut Checker,
    net: &mut M,
    x: &[M::Input],
    y: &[L::Target],
    want_out: &[f64],
    loss: L,
    fx: &Value,
) {
    let single: Vec<f32> = x.iter().flat_map(|s| net.forward(s).elems().to_vec()).collect();
    c.close_all("forward", &single, want_out);
    let batched: Vec<f32> = predict(&*net, x)
        .iter()
        .flat_map(|o| o.elems().to_vec())
        .collect();
    c.close_all("predict", &batched, want_out);

    let lr = fx["learning_rate"].as_f64().unwrap() as f32;
    let mut trainer = Trainer::<M, L, Adam>::new(loss, Adam::new(lr), None);
    let stats = trainer.compute_gradients(net, x, y).expect("valid batch");
    c.close_all("loss", &[stats.loss()], &[fx["mean_loss"].as_f64().unwrap()]);
    check_params(c, "gradient", trainer.gradients(), &fx["gradients"]);

    let steps = fx["adam_steps"].as_u64().unwrap() as usize;
    let step_losses = reference(&fx["adam_step_losses"]);
    assert_eq!(step_losses.len(), steps);
    for (s, &want) in step_losses.iter().enumerate() {
        let stats = trainer.train_on_batch(net, x, y).expect("finite step");
        c.close_all(&format!("loss of Adam step {}", s + 1), &[stats.loss()], &[want]);
    }
    check_params(
        c,
        &format!("weights after {steps} Adam steps"),
        &*net,
        &fx["params_after"],
    );
}

/// Reproduces one fixture of the CNN and graph reference tests with the network `M`: its
/// layers (names, kinds, what each reads, output shapes), weights and inputs loaded from the
/// fixture, then outputs, loss, gradients and three Adam steps compared (sparse categorical
/// cross-entropy on a softmax).
pub fn check_sparse_fixture<M>(case: &'static str, fx: Value)
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
        // Fixtures of branching networks name the tensors each layer reads.
        if let Some(inputs) = theirs.get("inputs") {
            let reads: Vec<&str> = inputs
                .as_array()
                .expect("inputs")
                .iter()
                .map(|n| n.as_str().expect("a tensor name"))
                .collect();
            assert_eq!(reads, ours.connected_to, "{case}: inputs of {}", ours.name);
        }
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
pub fn check_state<M: Model>(c: &mut Checker, what: &str, net: &M, want: &Value) {
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

/// A fixture's shape.
pub fn dims(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("a shape")
        .iter()
        .map(|d| d.as_u64().expect("a dimension") as usize)
        .collect()
}
