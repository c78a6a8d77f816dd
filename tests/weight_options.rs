//! `kernel_initializer` and `kernel_regularizer` (and a depthwise or separable convolution's
//! `depthwise_…`/`pointwise_…`): the initializers draw Keras's distributions with Keras's fans;
//! the regularizers' penalty and gradient are what they say, reach the loss and the gradient of
//! a training step, and are the same under any number of shards. Keras's own numbers for a
//! regularized network are checked in `reference_keras_graph.rs`.

use dl::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn tensors<M: Model>(m: &M) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    m.for_each_param(|layer, tensor, v| out.push((format!("{layer}.{tensor}"), v.to_vec())));
    out
}

fn tensor<M: Model>(m: &M, name: &str) -> Vec<f32> {
    tensors(m)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no tensor {name}"))
        .1
}

/// Mean, standard deviation and largest magnitude.
fn moments(v: &[f32]) -> (f64, f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    let max = v.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
    (mean, var.sqrt(), max)
}

macro_rules! dense_with {
    ($name:ident, $init:tt) => {
        dl::network! {
            struct $name {
                input: [300],
                Dense(200, kernel_initializer = $init),
                Dense(1, sigmoid),
            }
        }
    };
}

dense_with!(HeNormal, he_normal);
dense_with!(HeUniform, he_uniform);
dense_with!(GlorotNormal, glorot_normal);
dense_with!(GlorotUniform, "glorot_uniform");
dense_with!(LecunNormal, LecunNormal);
dense_with!(LecunUniform, lecun_uniform);
dense_with!(RandomNormal, random_normal);
dense_with!(RandomUniform, random_uniform);
dense_with!(TruncatedNormal, truncated_normal);

/// The expected distribution of a `[300, 200]` kernel: normal with this standard deviation (and
/// truncated at two of the underlying one when `truncated`), or uniform on ±limit.
enum Expected {
    Normal { stddev: f64, truncated: bool },
    Uniform { limit: f64 },
}

fn check(kernel: &[f32], expected: Expected, what: &str) {
    let (mean, sd, max) = moments(kernel);
    let n = kernel.len() as f64;
    let (want_sd, bound) = match expected {
        // A normal truncated at ±2σ' has standard deviation 0.8796σ'; Keras picks σ' so that it
        // is the variance asked for.
        Expected::Normal {
            stddev,
            truncated: true,
        } => (stddev, 2.0 * stddev / 0.879_625_661),
        Expected::Normal {
            stddev,
            truncated: false,
        } => (stddev, 6.0 * stddev),
        Expected::Uniform { limit } => (limit / 3f64.sqrt(), limit),
    };
    assert!(mean.abs() < 5.0 * want_sd / n.sqrt(), "{what}: mean {mean}");
    // The sample's standard deviation is within 1/sqrt(2n) relative of the true one (one
    // standard error for normal draws, more than that for uniform ones); four of them.
    let tolerance = 4.0 / (2.0 * n).sqrt();
    assert!(
        (sd / want_sd - 1.0).abs() < tolerance,
        "{what}: standard deviation {sd}, expected {want_sd}"
    );
    assert!(
        max <= bound * (1.0 + 1e-6),
        "{what}: largest magnitude {max} beyond {bound}"
    );
    if let Expected::Uniform { limit } = expected {
        assert!(
            max > 0.99 * limit,
            "{what}: largest magnitude {max} well inside ±{limit}"
        );
    }
}

#[test]
fn each_initializer_draws_keras_distribution_with_keras_fans() {
    let (fan_in, fan_out) = (300.0f64, 200.0f64);
    let avg = (fan_in + fan_out) / 2.0;
    let rng = || ChaCha8Rng::seed_from_u64(7);
    let normal = |v: f64| Expected::Normal {
        stddev: v.sqrt(),
        truncated: true,
    };
    let cases: Vec<(&str, Vec<f32>, Expected)> = vec![
        (
            "he_normal",
            tensor(&HeNormal::new(&mut rng()), "dense.kernel"),
            normal(2.0 / fan_in),
        ),
        (
            "he_uniform",
            tensor(&HeUniform::new(&mut rng()), "dense.kernel"),
            Expected::Uniform {
                limit: (6.0 / fan_in).sqrt(),
            },
        ),
        (
            "glorot_normal",
            tensor(&GlorotNormal::new(&mut rng()), "dense.kernel"),
            normal(1.0 / avg),
        ),
        (
            "glorot_uniform",
            tensor(&GlorotUniform::new(&mut rng()), "dense.kernel"),
            Expected::Uniform {
                limit: (3.0 / avg).sqrt(),
            },
        ),
        (
            "lecun_normal",
            tensor(&LecunNormal::new(&mut rng()), "dense.kernel"),
            normal(1.0 / fan_in),
        ),
        (
            "lecun_uniform",
            tensor(&LecunUniform::new(&mut rng()), "dense.kernel"),
            Expected::Uniform {
                limit: (3.0 / fan_in).sqrt(),
            },
        ),
        (
            "random_normal",
            tensor(&RandomNormal::new(&mut rng()), "dense.kernel"),
            Expected::Normal {
                stddev: 0.05,
                truncated: false,
            },
        ),
        (
            "random_uniform",
            tensor(&RandomUniform::new(&mut rng()), "dense.kernel"),
            Expected::Uniform { limit: 0.05 },
        ),
        (
            "truncated_normal",
            tensor(&TruncatedNormal::new(&mut rng()), "dense.kernel"),
            Expected::Normal {
                stddev: 0.05 * 0.879_625_661,
                truncated: true,
            },
        ),
    ];
    for (what, kernel, expected) in cases {
        check(&kernel, expected, what);
    }
    // Only the kernel: the bias keeps Keras's zeros, the next layer its glorot_uniform.
    let net = HeNormal::new(&mut rng());
    assert!(tensor(&net, "dense.bias").iter().all(|&b| b == 0.0));
    let next = tensor(&net, "dense_1.kernel");
    check(
        &next,
        Expected::Uniform {
            limit: (6.0f64 / 201.0).sqrt(),
        },
        "default glorot_uniform",
    );
}

dl::network! {
    struct Convolutions {
        input: [10, 10, 4],
        Conv2D(16, (3, 3), kernel_initializer = he_uniform),
        DepthwiseConv2D((3, 3), depthwise_initializer = ones),
        SeparableConv2D(8, (3, 3), depthwise_initializer = zeros, pointwise_initializer = HeNormal()),
        Flatten,
        Dense(1, sigmoid),
    }
}

#[test]
fn convolution_kernels_use_keras_fans_and_their_own_option_names() {
    let net = Convolutions::new(&mut ChaCha8Rng::seed_from_u64(3));
    // A 3×3 kernel over 4 channels: fan_in = 36.
    check(
        &tensor(&net, "conv2d.kernel"),
        Expected::Uniform {
            limit: (6.0f64 / 36.0).sqrt(),
        },
        "Conv2D he_uniform",
    );
    assert!(tensor(&net, "depthwise_conv2d.kernel").iter().all(|&w| w == 1.0));
    assert!(
        tensor(&net, "separable_conv2d.depthwise_kernel")
            .iter()
            .all(|&w| w == 0.0)
    );
    // A 1×1 pointwise kernel over 16 channels: fan_in = 16.
    check(
        &tensor(&net, "separable_conv2d.pointwise_kernel"),
        Expected::Normal {
            stddev: (2.0f64 / 16.0).sqrt(),
            truncated: true,
        },
        "SeparableConv2D pointwise he_normal",
    );
}

dl::network! {
    struct Sequence {
        input: [12, 4],
        Conv1D(64, 3, kernel_initializer = he_uniform, kernel_regularizer = l2(0.03)),
        Flatten,
        Dense(1, sigmoid),
    }
}

#[test]
fn conv1d_kernel_uses_keras_fans_and_its_regularizer() {
    let net = Sequence::new(&mut ChaCha8Rng::seed_from_u64(4));
    let kernel = tensor(&net, "conv1d.kernel");
    // A kernel of 3 steps over 4 channels: fan_in = 12.
    check(
        &kernel,
        Expected::Uniform {
            limit: (6.0f64 / 12.0).sqrt(),
        },
        "Conv1D he_uniform",
    );
    let keras: f64 = 0.03 * kernel.iter().map(|&w| (w as f64).powi(2)).sum::<f64>();
    let penalty = net.regularize(None) as f64;
    assert!(
        (penalty / keras - 1.0).abs() < 1e-5,
        "penalty {penalty}, Keras {keras}"
    );
}

dl::network! {
    struct RecurrentOptions {
        input: [10, 40],
        LSTM(30, return_sequences = true, kernel_initializer = he_normal, recurrent_initializer = glorot_uniform),
        GRU(20, kernel_initializer = orthogonal),
        Dense(1, sigmoid),
    }
}

#[test]
fn recurrent_kernels_take_their_own_initializers() {
    let net = RecurrentOptions::new(&mut ChaCha8Rng::seed_from_u64(8));
    // Keras's `(40, 120)` kernel and `(30, 120)` recurrent kernel.
    check(
        &tensor(&net, "lstm.kernel"),
        Expected::Normal {
            stddev: (2.0f64 / 40.0).sqrt(),
            truncated: true,
        },
        "LSTM kernel he_normal",
    );
    check(
        &tensor(&net, "lstm.recurrent_kernel"),
        Expected::Uniform {
            limit: (6.0f64 / 150.0).sqrt(),
        },
        "LSTM recurrent_kernel glorot_uniform",
    );
    // An orthogonal `(30, 60)` kernel: orthonormal rows, stored row-major.
    let (rows, cols) = (30, 60);
    let k = tensor(&net, "gru.kernel");
    for i in 0..rows {
        for j in 0..rows {
            let dot: f64 = (0..cols)
                .map(|c| k[i * cols + c] as f64 * k[j * cols + c] as f64)
                .sum();
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((dot - want).abs() < 1e-5, "rows {i}, {j}: {dot}");
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_weights() {
    let a = Convolutions::new(&mut ChaCha8Rng::seed_from_u64(11));
    let b = Convolutions::new(&mut ChaCha8Rng::seed_from_u64(11));
    let c = Convolutions::new(&mut ChaCha8Rng::seed_from_u64(12));
    assert_eq!(tensors(&a), tensors(&b));
    assert_ne!(tensors(&a), tensors(&c));
}

dl::network! {
    struct Regularized {
        input: [6, 6, 2],
        Conv2D(3, (3, 3), relu, kernel_regularizer = l2(0.03)),
        SeparableConv2D(4, (3, 3), tanh, depthwise_regularizer = l1(0.02), pointwise_regularizer = L1L2(l1 = 0.01, l2 = 0.05)),
        Flatten,
        Dense(3, softmax, kernel_regularizer = l1_l2(0.004, 0.1)),
    }
}

dl::network! {
    /// `Regularized` without its regularizers.
    struct Plain {
        input: [6, 6, 2],
        Conv2D(3, (3, 3), relu),
        SeparableConv2D(4, (3, 3), tanh),
        Flatten,
        Dense(3, softmax),
    }
}

fn plain_copy(net: &Regularized) -> Plain {
    let mut plain = Plain::zeros();
    let mut values = tensors(net).into_iter();
    plain.for_each_param_mut(|_, _, v| v.copy_from_slice(&values.next().unwrap().1));
    plain
}

/// Keras's penalty, written out from the declaration above.
fn keras_penalty(net: &Regularized) -> f64 {
    let sum =
        |name: &str, f: &dyn Fn(f64) -> f64| tensor(net, name).iter().map(|&w| f(w as f64)).sum::<f64>();
    0.03 * sum("conv2d.kernel", &|w| w * w)
        + 0.02 * sum("separable_conv2d.depthwise_kernel", &f64::abs)
        + sum("separable_conv2d.pointwise_kernel", &|w| {
            0.01 * w.abs() + 0.05 * w * w
        })
        + sum("dense.kernel", &|w| 0.004 * w.abs() + 0.1 * w * w)
}

#[test]
fn the_penalty_is_keras_and_its_gradient_matches_finite_differences() {
    let net = Regularized::new(&mut ChaCha8Rng::seed_from_u64(5));
    let penalty = net.regularize(None);
    assert!(
        (penalty as f64 / keras_penalty(&net) - 1.0).abs() < 1e-5,
        "penalty {penalty}"
    );

    let mut grads = Regularized::zeros();
    assert_eq!(net.regularize(Some(&mut grads)), penalty);
    let analytic: Vec<f32> = tensors(&grads).into_iter().flat_map(|(_, v)| v).collect();
    // Central differences in f64 of Keras's penalty, weight by weight, except where l1's kink
    // at 0 lies within the step.
    let h = 1e-3f64;
    let mut i = 0;
    let mut probe = net.clone();
    let count = analytic.len();
    while i < count {
        let mut at = 0;
        let mut original = 0.0f32;
        probe.for_each_param_mut(|_, _, v| {
            if (at..at + v.len()).contains(&i) {
                original = v[i - at];
            }
            at += v.len();
        });
        if (original as f64).abs() <= 2.0 * h {
            i += 7;
            continue;
        }
        let at_value = |probe: &mut Regularized, value: f32| {
            let mut at = 0;
            probe.for_each_param_mut(|_, _, v| {
                if (at..at + v.len()).contains(&i) {
                    v[i - at] = value;
                }
                at += v.len();
            });
            keras_penalty(probe)
        };
        let up = at_value(&mut probe, (original as f64 + h) as f32);
        let down = at_value(&mut probe, (original as f64 - h) as f32);
        at_value(&mut probe, original);
        let numeric = (up - down) / (2.0 * h);
        let a = analytic[i] as f64;
        assert!(
            (a - numeric).abs() <= 1e-3 * (1.0 + numeric.abs()),
            "weight {i}: gradient {a}, finite difference {numeric}"
        );
        // Every 7th weight keeps the test quick; the tensors' sizes are not multiples of 7.
        i += 7;
    }
}

fn batch() -> (Vec<SVector<f32, 72>>, Vec<usize>) {
    let x = (0..10)
        .map(|s| SVector::from_fn(|i, _| ((i * 7 + s * 13) % 17) as f32 / 8.5 - 1.0))
        .collect();
    let y = (0..10).map(|s| s % 3).collect();
    (x, y)
}

#[test]
fn a_training_step_adds_the_penalty_to_the_loss_and_its_gradient_once_under_any_sharding() {
    let net = Regularized::new(&mut ChaCha8Rng::seed_from_u64(9));
    let plain = plain_copy(&net);
    let (x, y) = batch();
    let loss = SparseCategoricalCrossEntropy::default();

    let mut base = Trainer::<Plain, _, _>::new(loss, Sgd::default(), None);
    let base_stats = base.compute_gradients(&plain, &x, &y).unwrap();
    let mut penalty_grads = Regularized::zeros();
    let penalty = net.regularize(Some(&mut penalty_grads));
    let expected: Vec<f32> = tensors(base.gradients())
        .into_iter()
        .zip(tensors(&penalty_grads))
        .flat_map(|((_, g), (_, p))| g.into_iter().zip(p).map(|(g, p)| g + p).collect::<Vec<_>>())
        .collect();

    for shards in [1, 2, 3, 4, 7] {
        let mut trainer = Trainer::<Regularized, _, _>::new(loss, Sgd::default(), None)
            .with_parallel(Parallel::new(shards))
            .unwrap();
        let stats = trainer.compute_gradients(&net, &x, &y).unwrap();
        assert!(
            (stats.loss() - (base_stats.loss() + penalty)).abs() <= 1e-6 * stats.loss(),
            "{shards} shards: loss {} = {} + {penalty}?",
            stats.loss(),
            base_stats.loss()
        );
        let got: Vec<f32> = tensors(trainer.gradients())
            .into_iter()
            .flat_map(|(_, v)| v)
            .collect();
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert!(
                (g - e).abs() <= 1e-5 * (1.0 + e.abs()),
                "{shards} shards, gradient {i}: {g} vs {e}"
            );
        }
    }

    // `evaluate` reports the penalty too, as Keras's does.
    let with = net.evaluate(&x, &y, &loss).unwrap().loss;
    let without = plain.evaluate(&x, &y, &loss).unwrap().loss;
    assert!((with - (without + penalty)).abs() <= 1e-6 * with);
}

dl::network! {
    /// Keras's positional order, `Dense(units, activation, use_bias)`, with the activation by
    /// name in its own place.
    struct Positional {
        input: [8],
        Dense(4, relu, false, kernel_initializer = ones),
        Dense(1, sigmoid),
    }
}

#[test]
fn arguments_bind_in_keras_positional_order_before_the_keyword_only_options() {
    assert_eq!(Positional::PARAMS, 8 * 4 + 4 + 1);
    let net = Positional::new(&mut ChaCha8Rng::seed_from_u64(1));
    assert!(tensor(&net, "dense.kernel").iter().all(|&w| w == 1.0));
}
