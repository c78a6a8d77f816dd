//! The generated backward pass of networks that branch, against central finite differences of
//! the mean loss: every merge layer, a tensor read by several layers (its gradients summed),
//! residual blocks with an identity and with a projection shortcut, a `Concatenate` of two
//! branches, a long skip, and a merge as the network's output.

use dl::prelude::*;
use rand::Rng;

#[path = "common/finite_difference.rs"]
mod finite_difference;
use finite_difference::*;

const BATCH: usize = 6;

dl::network! {
    /// A residual block with an identity shortcut: `stem` is read by the block and by `Add`.
    struct ResidualIdentity {
        input: [5],
        stem: Dense(6, tanh),
        Dense(6, elu),
        branch: Dense(6, linear),
        Add(stem, branch),
        Dense(3, softmax),
    }
}

dl::network! {
    /// ResNet's downsampling block: a strided main path and a strided 1×1 projection shortcut.
    struct ResidualProjection {
        input: [6, 6, 2],
        stem: Conv2D(3, (3, 3), tanh, padding = same),
        Conv2D(4, (3, 3), strides = (2, 2), padding = same, activation = elu),
        main: Conv2D(4, (3, 3), padding = same),
        shortcut: Conv2D(4, (1, 1), strides = (2, 2))(stem),
        Add(main, shortcut),
        Flatten,
        Dense(3, softmax),
    }
}

dl::network! {
    /// `ResidualProjection` with the shorthand: the same layers, in the same order.
    struct ShorthandProjection {
        input: [6, 6, 2],
        stem: Conv2D(3, (3, 3), tanh, padding = same),
        Residual(
            [
                Conv2D(4, (3, 3), strides = (2, 2), padding = same, activation = elu),
                Conv2D(4, (3, 3), padding = same),
            ],
            shortcut = [Conv2D(4, (1, 1), strides = (2, 2))],
        ),
        Flatten,
        Dense(3, softmax),
    }
}

dl::network! {
    /// Two identity blocks with the shorthand, an activation after each, as in ResNet.
    struct ShorthandIdentity {
        input: [5],
        Dense(4, tanh),
        Residual([Dense(4, elu), Dense(4)]),
        Activation(tanh),
        Residual([Dense(4, gelu), Dense(4)]),
        Activation(softplus),
        Dense(3, softmax),
    }
}

dl::network! {
    /// A residual block ending in a relu, as ResNet's do: the `Add` applies it in training
    /// (`network!` fuses them) and masks the gradient both inputs receive.
    struct ResidualRelu {
        input: [5],
        Dense(4, tanh),
        Residual([Dense(4, elu), Dense(4)]),
        Activation(relu),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Two branches of the input, joined along the features.
    struct TwoBranches {
        input: [5],
        a: Dense(4, tanh),
        b: Dense(3, sigmoid)(input),
        Concatenate(a, b),
        Dense(2, linear),
    }
}

dl::network! {
    /// Channels of two convolutions joined per pixel.
    struct ImageConcat {
        input: [6, 6, 2],
        left: Conv2D(2, (3, 3), tanh),
        right: Conv2D(3, (3, 3), gelu)(input),
        Concatenate(left, right, axis = -1),
        GlobalAveragePooling2D,
        Dense(2, linear),
    }
}

dl::network! {
    /// A long skip over four layers, U-Net-like.
    struct LongSkip {
        input: [5],
        early: Dense(6, tanh),
        Dense(6, elu),
        Dense(6, gelu),
        Dense(6, softplus),
        late: Dense(6, swish),
        Concatenate(early, late),
        Dense(1, linear),
    }
}

dl::network! {
    /// The smooth element-wise merges, each over tensors read more than once.
    struct EveryMerge {
        input: [5],
        a: Dense(4, tanh),
        b: Dense(4, sigmoid)(input),
        c: Dense(4, elu)(input),
        sum: Add(a, b, c),
        difference: Subtract(b, c),
        product: Multiply(a, b, c),
        mean: Average(sum, difference),
        Concatenate(mean, product, a),
        Dense(2, linear),
    }
}

dl::network! {
    /// `Maximum` and `Minimum`, whose gradient follows whichever input wins.
    struct MaxMin {
        input: [5],
        a: Dense(4, linear),
        b: Dense(4, linear)(input),
        c: Dense(4, linear)(input),
        high: Maximum(a, b, c),
        low: Minimum(a, b, c),
        Concatenate(high, low),
        Dense(2, tanh),
    }
}

dl::network! {
    /// `Activation` layers, as Keras's ResNet code writes them after a merge, and a softmax
    /// `Activation` as the head, fused with the cross-entropy.
    struct ActivationLayers {
        input: [5],
        Dense(6),
        a: Activation(tanh),
        Dense(6),
        b: Activation(swish),
        Add(a, b),
        Activation(softplus),
        Dense(3),
        Activation(softmax),
    }
}

dl::network! {
    /// A merge as the output.
    struct MergedHead {
        input: [5],
        a: Dense(3, tanh),
        b: Dense(3, linear)(input),
        Average(a, b),
    }
}

dl::network! {
    /// Recurrent layers without biases, with kernel and recurrent regularizers (l2 only: l1's
    /// kink at 0 would cross the finite differences' steps).
    struct RecurrentNoBias {
        input: [5, 3],
        seq: LSTM(4, return_sequences = true, use_bias = false, recurrent_regularizer = l2(0.02)),
        GRU(3, return_sequences = true, use_bias = false, kernel_regularizer = l2(0.01)),
        last: SimpleRNN(3, use_bias = false, recurrent_regularizer = l2(0.03)),
        both: Bidirectional(GRU(2, use_bias = false, recurrent_regularizer = l2(0.02)))(seq),
        Concatenate(last, both),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Batch normalization without beta, without gamma, and without either.
    struct BatchNormCenterScale {
        input: [4, 4, 2],
        Conv2D(3, (2, 2), tanh),
        BatchNormalization(center = false),
        Conv2D(3, (2, 2), elu),
        BatchNormalization(scale = false),
        Flatten,
        Dense(4, tanh),
        BatchNormalization(center = false, scale = false),
        Dense(3, softmax),
    }
}

fn inputs<const N: usize>(rng: &mut impl Rng) -> Vec<SVector<f32, N>> {
    (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.5..1.5)))
        .collect()
}

fn classes(rng: &mut impl Rng) -> Vec<usize> {
    (0..BATCH).map(|_| rng.random_range(0..3)).collect()
}

fn targets<const N: usize>(rng: &mut impl Rng) -> Vec<SVector<f32, N>> {
    (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect()
}

#[test]
fn residual_with_identity_shortcut() {
    let (mut net, mut rng) = init(1, ResidualIdentity::new);
    let (x, y) = (inputs(&mut rng), classes(&mut rng));
    let loss = SparseCategoricalCrossEntropy::default();
    check("identity", &mut net, &x, &y, loss, |n: &ResidualIdentity| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn residual_with_projection_shortcut() {
    let (mut net, mut rng) = init(2, ResidualProjection::new);
    let (x, y) = (inputs(&mut rng), classes(&mut rng));
    let loss = SparseCategoricalCrossEntropy::default();
    check("projection", &mut net, &x, &y, loss, |n: &ResidualProjection| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn residual_shorthand_is_the_functional_block() {
    use rand::SeedableRng;
    let seeded = || rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let (long, short) = (
        ResidualProjection::new(&mut seeded()),
        ShorthandProjection::new(&mut seeded()),
    );
    assert_eq!(ResidualProjection::PARAMS, ShorthandProjection::PARAMS);
    let kinds = |l: &[dl::LayerSummary]| l.iter().map(|l| (l.kind, l.output_shape)).collect::<Vec<_>>();
    assert_eq!(
        kinds(<ResidualProjection as Model>::LAYERS),
        kinds(<ShorthandProjection as Model>::LAYERS)
    );
    let names: Vec<&str> = <ShorthandProjection as Model>::LAYERS
        .iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(
        names,
        [
            "stem", "conv2d", "conv2d_1", "conv2d_2", "add", "flatten", "dense"
        ]
    );
    let x: Vec<SVector<f32, 72>> = inputs(&mut seeded());
    assert_eq!(long.predict(&x), short.predict(&x));
    let (mut net, mut rng) = init(12, ShorthandProjection::new);
    let y = classes(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    check(
        "shorthand projection",
        &mut net,
        &x,
        &y,
        loss,
        |n: &ShorthandProjection| n.evaluate(&x, &y, &loss).unwrap().loss,
    );
}

#[test]
fn residual_shorthand_with_identity_shortcuts() {
    let (mut net, mut rng) = init(13, ShorthandIdentity::new);
    let (x, y) = (inputs(&mut rng), classes(&mut rng));
    let loss = SparseCategoricalCrossEntropy::default();
    check(
        "shorthand identity",
        &mut net,
        &x,
        &y,
        loss,
        |n: &ShorthandIdentity| n.evaluate(&x, &y, &loss).unwrap().loss,
    );
}

#[test]
fn concatenate_of_two_branches() {
    let (mut net, mut rng) = init(3, TwoBranches::new);
    let (x, y) = (inputs(&mut rng), targets::<2>(&mut rng));
    let loss = MeanSquaredError;
    check("two branches", &mut net, &x, &y, loss, |n: &TwoBranches| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn concatenate_of_image_channels() {
    let (mut net, mut rng) = init(4, ImageConcat::new);
    let (x, y) = (inputs(&mut rng), targets::<2>(&mut rng));
    let loss = MeanSquaredError;
    check("image concat", &mut net, &x, &y, loss, |n: &ImageConcat| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn residual_block_ending_in_a_relu() {
    let (mut net, mut rng) = init(14, ResidualRelu::new);
    // The block's last layer holds each sum ≥ 1.5 away from the relu's kink (the stem's tanh is
    // within ±1, the scaled branch within ±0.5 of its bias), which no finite-difference step
    // crosses; alternate units are cut, so the mask matters.
    net.for_each_param_mut(|layer, tensor, v| match (layer, tensor) {
        ("dense_2", "bias") => v.copy_from_slice(&[3.0, -3.0, 3.0, -3.0]),
        ("dense_2", "kernel") => v.iter_mut().for_each(|w| *w *= 0.1),
        _ => {}
    });
    let (x, y) = (inputs(&mut rng), classes(&mut rng));
    let loss = SparseCategoricalCrossEntropy::default();
    check("residual relu", &mut net, &x, &y, loss, |n: &ResidualRelu| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn long_skip() {
    let (mut net, mut rng) = init(5, LongSkip::new);
    let (x, y) = (inputs(&mut rng), targets::<1>(&mut rng));
    let y: Vec<f32> = y.iter().map(|v| v[0]).collect();
    let loss = MeanSquaredError;
    check("long skip", &mut net, &x, &y, loss, |n: &LongSkip| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn every_merge() {
    let (mut net, mut rng) = init(6, EveryMerge::new);
    let (x, y) = (inputs(&mut rng), targets::<2>(&mut rng));
    let loss = MeanSquaredError;
    check("every merge", &mut net, &x, &y, loss, |n: &EveryMerge| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn maximum_and_minimum() {
    let (mut net, mut rng) = init(9, MaxMin::new);
    // Each input wins the maximum of some unit and the minimum of another by a margin of ≥ 3,
    // far beyond what a finite-difference step moves them: no step crosses a kink.
    let biases = [
        [5.0, -5.0, 0.0, 0.0],
        [0.0, 0.0, 5.0, -5.0],
        [-5.0, 5.0, -5.0, 5.0],
    ];
    net.for_each_param_mut(|layer, tensor, v| {
        let branch = ["a", "b", "c"].iter().position(|b| *b == layer);
        match (branch, tensor) {
            (Some(i), "bias") => v.copy_from_slice(&biases[i]),
            (Some(_), "kernel") => v.iter_mut().for_each(|w| *w *= 0.1),
            _ => {}
        }
    });
    let (x, y) = (inputs(&mut rng), targets::<2>(&mut rng));
    let loss = MeanSquaredError;
    check("max/min", &mut net, &x, &y, loss, |n: &MaxMin| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn activation_layers() {
    let (mut net, mut rng) = init(10, ActivationLayers::new);
    let (x, y) = (inputs(&mut rng), classes(&mut rng));
    let loss = SparseCategoricalCrossEntropy::default();
    check(
        "activation layers",
        &mut net,
        &x,
        &y,
        loss,
        |n: &ActivationLayers| n.evaluate(&x, &y, &loss).unwrap().loss,
    );
}

#[test]
fn merge_as_the_output() {
    let (mut net, mut rng) = init(7, MergedHead::new);
    let (x, y) = (inputs(&mut rng), targets::<3>(&mut rng));
    let loss = MeanSquaredError;
    check("merged head", &mut net, &x, &y, loss, |n: &MergedHead| {
        n.evaluate(&x, &y, &loss).unwrap().loss
    });
}

#[test]
fn single_sample_forward_matches_the_batch() {
    let (net, mut rng) = init(8, EveryMerge::new);
    let x: Vec<SVector<f32, 5>> = inputs(&mut rng);
    let batch = net.predict(&x);
    for (xi, bi) in x.iter().zip(&batch) {
        // One sample runs the batch kernels at batch 1, whose sums may round differently.
        let one = net.forward(xi);
        assert!(
            (one - bi).amax() <= 1e-6 * (1.0 + bi.amax()),
            "{one} against {bi}"
        );
    }
}

#[test]
fn recurrent_layers_without_biases_and_with_regularizers() {
    // No bias tensors: kernels and recurrent kernels only (the Dense head keeps its bias).
    assert_eq!(
        RecurrentNoBias::PARAMS,
        (3 * 16 + 4 * 16) + (4 * 9 + 3 * 9) + (3 * 3 + 3 * 3) + 2 * (4 * 6 + 2 * 6) + (7 * 3 + 3)
    );
    let (mut net, mut rng) = init(12, RecurrentNoBias::new);
    let (x, y) = (inputs(&mut rng), classes(&mut rng));
    let loss = SparseCategoricalCrossEntropy::default();
    check(
        "recurrent, no bias",
        &mut net,
        &x,
        &y,
        loss,
        |n: &RecurrentNoBias| n.evaluate(&x, &y, &loss).unwrap().loss,
    );
}

#[test]
fn batch_normalization_without_beta_or_gamma() {
    // gamma only, beta only, nothing: 3 + 3 + 0 of Keras's 2·C per layer.
    assert_eq!(
        BatchNormCenterScale::PARAMS,
        (2 * 2 * 2 * 3 + 3) + 3 + (2 * 2 * 3 * 3 + 3) + 3 + (12 * 4 + 4) + (4 * 3 + 3)
    );
    let (mut net, mut rng) = init(13, BatchNormCenterScale::new);
    // Away from Keras's special point gamma = 1, beta = 0.
    net.for_each_param_mut(|_, tensor, v| match tensor {
        "gamma" => v.iter_mut().for_each(|g| *g = rng.random_range(0.5..1.5)),
        "beta" => v.iter_mut().for_each(|b| *b = rng.random_range(-0.5..0.5)),
        _ => {}
    });
    let (x, y) = (inputs(&mut rng), classes(&mut rng));
    let loss = SparseCategoricalCrossEntropy::default();
    // The training pass's loss (batch statistics), the function `compute_gradients`
    // differentiates; `evaluate` would use the moving statistics.
    let training_loss = |n: &BatchNormCenterScale| {
        let mut t = Trainer::<BatchNormCenterScale, _, Sgd>::new(loss, Sgd::default(), None);
        t.compute_gradients(n, &x, &y).unwrap().loss()
    };
    check("batch norm, center/scale", &mut net, &x, &y, loss, training_loss);
}
