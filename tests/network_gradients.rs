//! The generated backward pass against central finite differences of the mean loss.
//!
//! For small networks covering every activation as a hidden layer and every loss at the head
//! (fused with a sigmoid or softmax, through another activation, or from logits), the gradients
//! `Trainer::compute_gradients` leaves in `Trainer::gradients()` are compared, for every
//! parameter, with central differences of `evaluate(..).loss` while that parameter is perturbed
//! through `Model::for_each_param_mut`.

use dl::prelude::*;
use rand::Rng;

/// Samples per batch.
const BATCH: usize = 8;

#[path = "common/finite_difference.rs"]
mod finite_difference;
use finite_difference::*;

type In = SVector<f32, 5>;

// ---------------------------------------------------------------------------------------------
// Networks: every activation as a hidden layer, every loss (and way of meeting it) at the head.

dl::network! { struct HiddenLinear { input: [5], Dense(7, linear), Dense(3, softmax) } }
dl::network! { struct HiddenRelu { input: [5], Dense(7, relu), Dense(3, linear) } }
dl::network! { struct HiddenSigmoid { input: [5], Dense(7, sigmoid), Dense(1, sigmoid) } }
dl::network! { struct HiddenTanh { input: [5], Dense(7, tanh), Dense(3, softmax) } }
dl::network! { struct HiddenSoftmax { input: [5], Dense(7, softmax), Dense(3, linear) } }
dl::network! { struct HiddenLeakyRelu { input: [5], Dense(7, leaky_relu), Dense(1, linear) } }
dl::network! { struct HiddenElu { input: [5], Dense(7, elu), Dense(3, softplus) } }
dl::network! { struct HiddenGelu { input: [5], Dense(7, gelu), Dense(3, tanh) } }
dl::network! { struct HiddenSoftplus { input: [5], Dense(7, softplus), Dense(1, linear) } }
dl::network! { struct HiddenSwish { input: [5], Dense(7, swish), Dense(3, sigmoid) } }
dl::network! { struct ProbabilityHead { input: [5], Dense(7, tanh), Dense(1, linear) } }
dl::network! { struct LogitsHead { input: [5], Dense(7, sigmoid), Dense(3, linear) } }
dl::network! { struct TanhHead { input: [5], Dense(7, elu), Dense(1, tanh) } }
dl::network! { struct ScalarHead { input: [5], Dense(7, gelu), Dense(1, linear) } }
dl::network! { struct VectorHead { input: [5], Dense(7, silu), Dense(3, linear) } }
dl::network! {
    struct Deep {
        input: [5],
        Dense(6, tanh),
        Dense(5, elu),
        Dense(4, gelu),
        Dense(3, softmax),
    }
}
dl::network! {
    struct DeepRegression {
        input: [5],
        Dense(6, swish),
        Dense(5, softplus),
        Dense(4, sigmoid),
        Dense(1, linear),
    }
}

// ---------------------------------------------------------------------------------------------
// Data.

fn inputs(rng: &mut impl Rng) -> Vec<In> {
    (0..BATCH)
        .map(|_| In::from_fn(|_, _| rng.random_range(-1.5..1.5)))
        .collect()
}

/// Inputs whose first-layer pre-activations all stay clear of relu's kink at 0 while any first
/// layer parameter moves by up to `h` (a weight moves its unit by `h·|xᵢ|`, a bias by `h`).
/// Later layers' parameters do not move the first layer, so one hidden layer needs nothing more.
fn inputs_away_from_kinks<M: Model<Input = In>>(net: &M, rng: &mut impl Rng) -> Vec<In> {
    let first = tensors(net);
    let (kernel, bias) = (&first[0].1, &first[1].1);
    let units = bias.len();
    let mut out = Vec::new();
    while out.len() < BATCH {
        let x = In::from_fn(|_, _| rng.random_range(-1.5..1.5));
        let margin = 2.0 * H as f64 * x.iter().fold(1.0f64, |m, v| m.max(v.abs() as f64));
        let clear = (0..units).all(|o| {
            let z: f64 = bias[o] as f64
                + (0..5)
                    .map(|i| kernel[o + i * units] as f64 * x[i] as f64)
                    .sum::<f64>();
            z.abs() > margin
        });
        if clear {
            out.push(x);
        }
    }
    out
}

/// Hard and soft binary labels.
fn binary_targets(rng: &mut impl Rng) -> Vec<f32> {
    (0..BATCH)
        .map(|s| {
            if s % 2 == 0 {
                (s / 2 % 2) as f32
            } else {
                rng.random_range(0.0..1.0)
            }
        })
        .collect()
}

/// One-hot and soft labels.
fn categorical_targets(rng: &mut impl Rng) -> Vec<SVector<f32, 3>> {
    (0..BATCH)
        .map(|s| {
            if s % 2 == 0 {
                SVector::from_fn(|i, _| f32::from(u8::from(i == s % 3)))
            } else {
                let v = SVector::<f32, 3>::from_fn(|_, _| rng.random_range(0.05..1.0));
                v / v.sum()
            }
        })
        .collect()
}

fn sparse_targets(rng: &mut impl Rng) -> Vec<usize> {
    (0..BATCH).map(|_| rng.random_range(0..3)).collect()
}

/// A random offset of magnitude in `[0.3, 1.5)`, away from MAE's kink (the output moves by far
/// less than 0.3 when one parameter moves by `h`) and on both sides of Huber's `delta = 1`.
fn offset(rng: &mut impl Rng) -> f32 {
    let e = rng.random_range(0.3..1.5);
    if rng.random() { e } else { -e }
}

// ---------------------------------------------------------------------------------------------
// Hidden activations.

#[test]
fn linear_hidden_categorical_crossentropy_fused_with_softmax() {
    let (mut net, mut rng) = init(1, HiddenLinear::new);
    let (x, y) = (inputs(&mut rng), categorical_targets(&mut rng));
    let loss = CategoricalCrossEntropy::default();
    check("linear → softmax", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn relu_hidden_sparse_categorical_crossentropy_from_logits() {
    let (mut net, mut rng) = init(2, HiddenRelu::new);
    let x = inputs_away_from_kinks(&net, &mut rng);
    let y = sparse_targets(&mut rng);
    let loss = SparseCategoricalCrossEntropy { from_logits: true };
    check("relu → logits", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn sigmoid_hidden_binary_crossentropy_fused_with_sigmoid() {
    let (mut net, mut rng) = init(3, HiddenSigmoid::new);
    let (x, y) = (inputs(&mut rng), binary_targets(&mut rng));
    let loss = BinaryCrossEntropy::default();
    check("sigmoid → sigmoid", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn tanh_hidden_sparse_categorical_crossentropy_fused_with_softmax() {
    let (mut net, mut rng) = init(4, HiddenTanh::new);
    let (x, y) = (inputs(&mut rng), sparse_targets(&mut rng));
    let loss = SparseCategoricalCrossEntropy::default();
    check("tanh → softmax", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn softmax_hidden_mean_squared_error() {
    let (mut net, mut rng) = init(5, HiddenSoftmax::new);
    let x = inputs(&mut rng);
    let y: Vec<_> = x
        .iter()
        .map(|x| net.forward(x).map(|v| v + offset(&mut rng)))
        .collect();
    let loss = MeanSquaredError;
    check("softmax → linear", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn leaky_relu_hidden_binary_crossentropy_from_logits() {
    let (mut net, mut rng) = init(6, HiddenLeakyRelu::new);
    let x = inputs_away_from_kinks(&net, &mut rng);
    let y = binary_targets(&mut rng);
    let loss = BinaryCrossEntropy { from_logits: true };
    check("leaky_relu → logit", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn elu_hidden_categorical_crossentropy_through_softplus() {
    let (mut net, mut rng) = init(7, HiddenElu::new);
    let (x, y) = (inputs(&mut rng), categorical_targets(&mut rng));
    let loss = CategoricalCrossEntropy::default();
    check("elu → softplus", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn gelu_hidden_huber_through_tanh() {
    let (mut net, mut rng) = init(8, HiddenGelu::new);
    let x = inputs(&mut rng);
    let y: Vec<_> = x
        .iter()
        .map(|x| net.forward(x).map(|v| v + offset(&mut rng)))
        .collect();
    let loss = Huber::default();
    check("gelu → tanh", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn softplus_hidden_mean_absolute_error() {
    let (mut net, mut rng) = init(9, HiddenSoftplus::new);
    let x = inputs(&mut rng);
    let y: Vec<f32> = x.iter().map(|x| net.forward(x)[0] + offset(&mut rng)).collect();
    let loss = MeanAbsoluteError;
    check("softplus → linear", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn swish_hidden_sparse_categorical_crossentropy_through_sigmoid() {
    let (mut net, mut rng) = init(10, HiddenSwish::new);
    let (x, y) = (inputs(&mut rng), sparse_targets(&mut rng));
    let loss = SparseCategoricalCrossEntropy::default();
    check("swish → sigmoid", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

// ---------------------------------------------------------------------------------------------
// The remaining heads.

#[test]
fn binary_crossentropy_of_probabilities_from_a_linear_head() {
    let (mut net, mut rng) = init(11, ProbabilityHead::new);
    // Outputs near 0.5, inside (0, 1) and far from the clipping: bias 0.5, small weights.
    let mut found = 0;
    net.for_each_param_mut(|layer, tensor, v| {
        if layer == "dense_1" {
            found += 1;
            match tensor {
                "bias" => v[0] = 0.5,
                _ => v.iter_mut().for_each(|w| *w *= 0.2),
            }
        }
    });
    assert_eq!(found, 2);
    let (x, y) = (inputs(&mut rng), binary_targets(&mut rng));
    assert!(x.iter().all(|x| (0.1..0.9).contains(&net.forward(x)[0])));
    let loss = BinaryCrossEntropy::default();
    check("tanh → probability", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn categorical_crossentropy_from_logits() {
    let (mut net, mut rng) = init(12, LogitsHead::new);
    let (x, y) = (inputs(&mut rng), categorical_targets(&mut rng));
    let loss = CategoricalCrossEntropy { from_logits: true };
    check("sigmoid → logits", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn mean_squared_error_through_tanh_on_one_unit() {
    let (mut net, mut rng) = init(13, TanhHead::new);
    let x = inputs(&mut rng);
    let y: Vec<f32> = x.iter().map(|x| net.forward(x)[0] + offset(&mut rng)).collect();
    let loss = MeanSquaredError;
    check("elu → tanh", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn huber_on_one_unit() {
    let (mut net, mut rng) = init(14, ScalarHead::new);
    let x = inputs(&mut rng);
    let y: Vec<f32> = x.iter().map(|x| net.forward(x)[0] + offset(&mut rng)).collect();
    let loss = Huber { delta: 0.5 };
    check("gelu → linear", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn mean_absolute_error_on_three_units() {
    let (mut net, mut rng) = init(15, VectorHead::new);
    let x = inputs(&mut rng);
    let y: Vec<_> = x
        .iter()
        .map(|x| net.forward(x).map(|v| v + offset(&mut rng)))
        .collect();
    let loss = MeanAbsoluteError;
    check("silu → linear", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

// ---------------------------------------------------------------------------------------------
// Deeper networks: the gradient has to flow through several layers' `dx`.

#[test]
fn deep_categorical_crossentropy() {
    let (mut net, mut rng) = init(16, Deep::new);
    let (x, y) = (inputs(&mut rng), categorical_targets(&mut rng));
    let loss = CategoricalCrossEntropy::default();
    check("tanh → elu → gelu → softmax", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn deep_mean_squared_error() {
    let (mut net, mut rng) = init(17, DeepRegression::new);
    let x = inputs(&mut rng);
    let y: Vec<f32> = x.iter().map(|x| net.forward(x)[0] + offset(&mut rng)).collect();
    let loss = MeanSquaredError;
    check(
        "swish → softplus → sigmoid → linear",
        &mut net,
        &x,
        &y,
        loss,
        |n| n.evaluate(&x, &y, &loss).unwrap().loss,
    );
}

// ---------------------------------------------------------------------------------------------
// The checker itself.

/// Wrong gradients must be caught: any one tensor negated, doubled or summed rather than
/// averaged over the batch, and a kernel gradient transposed.
#[test]
fn checker_rejects_wrong_gradients() {
    let (mut net, mut rng) = init(18, Deep::new);
    let (x, y) = (inputs(&mut rng), categorical_targets(&mut rng));
    let loss = CategoricalCrossEntropy::default();
    let mean_loss = |n: &Deep| n.evaluate(&x, &y, &loss).unwrap().loss;
    let (grads, _) = analytic(&net, &x, &y, loss);
    assert!(compare("deep", &mut net, &grads, mean_loss).is_empty());

    let wrong = |net: &mut Deep, f: &dyn Fn(usize, &mut Vec<f32>)| {
        let mut g = grads.clone();
        g.iter_mut().enumerate().for_each(|(t, (_, v))| f(t, v));
        compare("deep", net, &g, mean_loss)
    };
    for t in 0..grads.len() {
        let only = |k: usize, scale: f32| {
            move |u: usize, v: &mut Vec<f32>| {
                if u == k {
                    v.iter_mut().for_each(|g| *g *= scale);
                }
            }
        };
        assert!(!wrong(&mut net, &only(t, -1.0)).is_empty(), "tensor {t} negated");
        assert!(!wrong(&mut net, &only(t, 2.0)).is_empty(), "tensor {t} doubled");
        assert!(
            !wrong(&mut net, &only(t, BATCH as f32)).is_empty(),
            "tensor {t} summed over the batch"
        );
    }
    // The first kernel (6 × 5, column-major) read as 5 × 6.
    let transposed = |t: usize, v: &mut Vec<f32>| {
        if t == 0 {
            let w = v.clone();
            for r in 0..6 {
                for c in 0..5 {
                    v[r + 6 * c] = w[c + 5 * r];
                }
            }
        }
    };
    assert!(!wrong(&mut net, &transposed).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Image and sequence networks: the generated backward through every layer kind in a chain.

dl::network! {
    struct SmallCnn {
        input: [6, 6, 2],
        Conv2D(3, (3, 3), tanh, padding = same),
        AveragePooling2D((2, 2)),
        Conv2D(4, (2, 2), tanh, strides = (1, 1)),
        Flatten,
        Dense(3, softmax),
    }
}

#[test]
fn conv_pool_flatten_dense_chain() {
    let (mut net, mut rng) = init(41, SmallCnn::new);
    let x: Vec<SVector<f32, 72>> = (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y = sparse_targets(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    check("conv chain", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

dl::network! {
    /// Zero padding between convolutions, and layers without bias.
    struct PaddedNoBias {
        input: [6, 6, 2],
        Conv2D(3, (3, 3), tanh, use_bias = false),
        ZeroPadding2D(((1, 0), (0, 2))),
        Conv2D(4, (2, 2), tanh),
        ZeroPadding2D(1),
        Flatten,
        Dense(5, tanh, use_bias = false),
        Dense(3, softmax),
    }
}

#[test]
fn zero_padding_and_layers_without_bias_chain() {
    let (mut net, mut rng) = init(44, PaddedNoBias::new);
    let x: Vec<SVector<f32, 72>> = (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y = sparse_targets(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    check("padded chain without bias", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

dl::network! {
    /// Every `Conv1D` padding (causal, same, valid), dilation and stride, and the 1-D poolings.
    struct SmallConv1d {
        input: [11, 2],
        Conv1D(3, 3, tanh, padding = causal, dilation_rate = 2),
        AveragePooling1D(2, strides = 1, padding = same),
        Conv1D(4, 3, tanh, strides = 2, padding = same),
        MaxPooling1D(2, strides = 1),
        Conv1D(3, 2, tanh, dilation_rate = 2, use_bias = false),
        GlobalAveragePooling1D,
        Dense(3, softmax),
    }
}

#[test]
fn conv1d_pool1d_chain() {
    let (mut net, mut rng) = init(45, SmallConv1d::new);
    let x: Vec<SVector<f32, 22>> = (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y = sparse_targets(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    check("conv1d chain", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

dl::network! {
    /// Layer normalization of each pixel, of a vector, without beta and without gamma.
    struct SmallLayerNorm {
        input: [4, 4, 2],
        Conv2D(3, (2, 2), tanh),
        LayerNormalization(),
        Conv2D(4, (2, 2), tanh),
        LayerNormalization(center = false, epsilon = 0.1),
        Flatten,
        Dense(5, tanh),
        LayerNormalization(scale = false),
        Dense(3, softmax),
    }
}

#[test]
fn layer_normalization_chain() {
    let (mut net, mut rng) = init(46, SmallLayerNorm::new);
    // gamma away from its initial 1, so that a gradient that ignores it shows.
    net.for_each_param_mut(|_, tensor, v| {
        if tensor == "gamma" {
            v.iter_mut().for_each(|g| *g = rng.random_range(0.5..1.5));
        }
    });
    let x: Vec<SVector<f32, 32>> = (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y = sparse_targets(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    check("layer normalization chain", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

dl::network! {
    /// Upsampling in both directions and alone in one, reshapes between images, sequences and
    /// vectors.
    struct SmallUpSampling {
        input: [3, 3, 2],
        Conv2D(3, (2, 2), tanh),
        UpSampling2D(),
        Conv2D(2, (2, 2), tanh),
        UpSampling2D((1, 2)),
        Reshape((-1, 4)),
        Conv1D(3, 2, tanh),
        Reshape((2, 4, 3)),
        Conv2D(2, (2, 2), tanh),
        Reshape((6,)),
        Dense(3, softmax),
    }
}

#[test]
fn upsampling_and_reshape_chain() {
    let (mut net, mut rng) = init(47, SmallUpSampling::new);
    let x: Vec<SVector<f32, 18>> = (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y = sparse_targets(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    check("upsampling chain", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

dl::network! {
    struct SmallText {
        input: tokens[5],
        Embedding(12, 4),
        GRU(6, return_sequences = true),
        Dense(5, tanh),
        LSTM(4, return_sequences = true),
        SimpleRNN(3, return_sequences = true),
        GlobalAveragePooling1D,
        Dense(3, softmax),
    }
}

#[test]
fn embedding_recurrent_per_step_dense_and_pooling_chain() {
    let (mut net, mut rng) = init(42, SmallText::new);
    let x: Vec<Tokens<5, 12>> = (0..BATCH)
        .map(|_| Tokens::new(std::array::from_fn(|_| rng.random_range(0..12))).unwrap())
        .collect();
    let y = sparse_targets(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    check("text chain", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

// ---------------------------------------------------------------------------------------------
// Batch normalization in training mode: the loss is the training pass's (batch statistics), so
// the finite differences perturb the same function `compute_gradients` differentiates.

dl::network! {
    struct BatchNormChain {
        input: [6, 6, 2],
        Conv2D(3, (3, 3), tanh),
        BatchNormalization(),
        AveragePooling2D((2, 2)),
        Flatten,
        Dense(5, tanh),
        BatchNormalization(momentum = 0.9, epsilon = 0.01),
        Dense(3, softmax),
    }
}

#[test]
fn batch_normalization_of_images_and_vectors_in_training_mode() {
    let (mut net, mut rng) = init(43, BatchNormChain::new);
    // Away from Keras's special point gamma = 1, beta = 0.
    net.for_each_param_mut(|_, tensor, v| match tensor {
        "gamma" => v.iter_mut().for_each(|g| *g = rng.random_range(0.5..1.5)),
        "beta" => v.iter_mut().for_each(|b| *b = rng.random_range(-0.5..0.5)),
        _ => {}
    });
    let x: Vec<SVector<f32, 72>> = (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y = sparse_targets(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    let training_loss = |n: &BatchNormChain| {
        let mut t = Trainer::<BatchNormChain, _, Sgd>::new(loss, Sgd::default(), None);
        t.compute_gradients(n, &x, &y).unwrap().loss()
    };
    // The inference loss (moving statistics) is another function: the check must not use it.
    let inference = net.evaluate(&x, &y, &loss).unwrap().loss;
    assert!((inference - training_loss(&net)).abs() > 1e-3);
    check("batch-norm chain", &mut net, &x, &y, loss, training_loss);
}

dl::network! {
    /// Each normalization's only reader is a relu, which the normalization applies itself in
    /// training (`network!` fuses them): its backward pass masks the relu's gradient.
    struct BatchNormReluChain {
        input: [6, 6, 2],
        Conv2D(3, (3, 3)),
        BatchNormalization(),
        Activation(relu),
        AveragePooling2D((2, 2)),
        Flatten,
        Dense(5),
        BatchNormalization(momentum = 0.9, epsilon = 0.01),
        Activation(relu),
        Dense(3, softmax),
    }
}

#[test]
fn batch_normalization_applying_a_relu_in_training_mode() {
    let (mut net, mut rng) = init(44, BatchNormReluChain::new);
    // Away from the relu's kink, which a perturbation must not cross: every normalized value
    // `x̂` lies within ±3 here, so `gamma·x̂ + beta` with gamma below 0.45 and beta ±1.5 keeps
    // 0.15 from zero; alternate channels are cut and passed whole, so the mask matters.
    net.for_each_param_mut(|_, tensor, v| match tensor {
        "gamma" => v.iter_mut().for_each(|g| *g = rng.random_range(0.3..0.45)),
        "beta" => v
            .iter_mut()
            .enumerate()
            .for_each(|(c, b)| *b = if c % 2 == 0 { 1.5 } else { -1.5 }),
        _ => {}
    });
    let x: Vec<SVector<f32, 72>> = (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y = sparse_targets(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    let training_loss = |n: &BatchNormReluChain| {
        let mut t = Trainer::<BatchNormReluChain, _, Sgd>::new(loss, Sgd::default(), None);
        t.compute_gradients(n, &x, &y).unwrap().loss()
    };
    check("batch-norm relu chain", &mut net, &x, &y, loss, training_loss);
}

dl::network! {
    /// Keras's preprocessing layers between two Dense layers: the first Dense's gradient passes
    /// back through both.
    struct SmallPreprocessing {
        input: [3],
        Dense(4, tanh),
        Rescaling(2.5, offset = -0.5),
        Normalization(),
        Dense(3, softmax),
    }
}

#[test]
fn preprocessing_chain() {
    let (mut net, mut rng) = init(47, SmallPreprocessing::new);
    let x: Vec<SVector<f32, 3>> = (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    // Statistics of other data than the batch's, so that the layer is not the identity.
    let other: Vec<SVector<f32, 3>> = (0..50)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-2.0..1.0)))
        .collect();
    net.adapt(&other).unwrap();
    let y = sparse_targets(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    check("preprocessing chain", &mut net, &x, &y, loss, |n| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}
