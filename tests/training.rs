//! End-to-end behaviour of generated networks: initialisation, summary, fit, evaluate, predict.

use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    /// The Keras tutorial's binary classifier.
    pub struct Tutorial {
        input: [10],
        Dense(64, relu),
        Dense(64, relu),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Rings {
        input: [2],
        hidden: Dense(32, tanh),
        Dense(3, softmax),
    }
}

fn weights<M: Model>(m: &M) -> Vec<f32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend_from_slice(v));
    w
}

#[test]
fn same_seed_gives_bit_identical_weights_and_glorot_bounds() {
    let a = Tutorial::new(&mut ChaCha8Rng::seed_from_u64(9));
    let b = Tutorial::new(&mut ChaCha8Rng::seed_from_u64(9));
    let c = Tutorial::new(&mut ChaCha8Rng::seed_from_u64(10));
    assert_eq!(
        weights(&a).iter().map(|w| w.to_bits()).collect::<Vec<_>>(),
        weights(&b).iter().map(|w| w.to_bits()).collect::<Vec<_>>()
    );
    assert_ne!(weights(&a), weights(&c));
    let mut names = Vec::new();
    a.for_each_param(|layer, tensor, v| {
        names.push(format!("{layer}.{tensor}"));
        match tensor {
            "bias" => assert!(v.iter().all(|&b| b == 0.0)),
            _ => {
                let limit = if layer == "dense" {
                    (6.0f32 / 74.0).sqrt()
                } else if layer == "dense_1" {
                    (6.0f32 / 128.0).sqrt()
                } else {
                    (6.0f32 / 65.0).sqrt()
                };
                assert!(v.iter().all(|w| w.abs() <= limit), "{layer}");
                assert!(
                    v.iter().any(|w| w.abs() > 0.5 * limit),
                    "{layer} not spread over its range"
                );
            }
        }
    });
    assert_eq!(
        names,
        [
            "dense.kernel",
            "dense.bias",
            "dense_1.kernel",
            "dense_1.bias",
            "dense_2.kernel",
            "dense_2.bias"
        ]
    );
}

#[test]
fn summary_and_param_count() {
    assert_eq!(Tutorial::PARAMS, 4929);
    assert_eq!(<Tutorial as Model>::PARAMS, 4929);
    let net = Tutorial::new(&mut ChaCha8Rng::seed_from_u64(0));
    let text = net.summary().to_string();
    assert!(text.starts_with("Model: \"Tutorial\""), "{text}");
    assert!(
        text.contains(" dense_1 (Dense)             (None, 64)                4,160\n"),
        "{text}"
    );
    assert!(text.contains("Total params: 4,929 (19.25 KB)"), "{text}");
}

/// Three classes: points inside radius 1, between 1 and 2, and beyond.
fn rings(n: usize, rng: &mut impl Rng) -> (Vec<SVector<f32, 2>>, Vec<usize>) {
    (0..n)
        .map(|_| {
            let x = SVector::from([rng.random_range(-3.0..3.0f32), rng.random_range(-3.0..3.0f32)]);
            let r = x.norm();
            (
                x,
                if r < 1.0 {
                    0
                } else if r < 2.0 {
                    1
                } else {
                    2
                },
            )
        })
        .unzip()
}

#[test]
fn learns_a_non_linear_problem_and_reports_history() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (x, y) = rings(3000, &mut rng);
    let (vx, vy) = rings(500, &mut rng);
    let mut net = Rings::new(&mut rng);
    let history = net
        .fit(
            &x,
            &y,
            Fit {
                loss: SparseCategoricalCrossEntropy::default(),
                optimizer: Adam::new(0.01),
                epochs: 30,
                batch_size: 32,
                validation_data: Some((&vx, &vy)),
                verbose: false,
                ..Fit::default()
            },
        )
        .unwrap();
    assert_eq!(history.epochs.len(), 30);
    let first = &history.epochs[0];
    let last = history.last().unwrap();
    assert!(last.loss < 0.5 * first.loss, "{history}");
    assert!(last.val_accuracy.unwrap() > 0.93, "{history}");
    assert_eq!(history.accuracy().len(), 30);
    assert_eq!(history.val_accuracy().last(), last.val_accuracy.as_ref());
    let eval = net
        .evaluate(&vx, &vy, &SparseCategoricalCrossEntropy::default())
        .unwrap();
    assert_eq!(eval.accuracy, last.val_accuracy);
    let cm = eval.confusion.unwrap();
    assert_eq!(cm.total(), 500);
    // predict agrees with forward, and with the confusion matrix's notion of the predicted class.
    let p = net.predict(&vx);
    for (xi, pi) in vx.iter().zip(&p) {
        let f = net.forward(xi);
        assert!((f - pi).abs().max() < 1e-5);
    }
}

#[test]
fn validation_split_takes_the_last_samples_and_shuffling_is_seeded() {
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let (x, y) = rings(400, &mut rng);
    let init = Rings::new(&mut rng);
    let run = |seed| {
        let mut net = init.clone();
        let h = net
            .fit(
                &x,
                &y,
                Fit {
                    loss: SparseCategoricalCrossEntropy::default(),
                    optimizer: Adam::default(),
                    epochs: 2,
                    validation_split: 0.25,
                    seed,
                    verbose: false,
                    ..Fit::default()
                },
            )
            .unwrap();
        (weights(&net), h)
    };
    let (w1, h1) = run(1);
    let (w2, _) = run(1);
    let (w3, _) = run(2);
    assert_eq!(w1, w2);
    assert_ne!(w1, w3);
    // The held-out quarter is the last 100 samples, evaluated with the final weights.
    let mut net = init.clone();
    net.fit(
        &x,
        &y,
        Fit {
            loss: SparseCategoricalCrossEntropy::default(),
            optimizer: Adam::default(),
            epochs: 2,
            validation_split: 0.25,
            seed: 1,
            verbose: false,
            ..Fit::default()
        },
    )
    .unwrap();
    let held_out = net
        .evaluate(&x[300..], &y[300..], &SparseCategoricalCrossEntropy::default())
        .unwrap();
    assert_eq!(h1.last().unwrap().val_loss, Some(held_out.loss));
}

#[test]
fn clipping_bounds_the_first_step() {
    // With SGD at learning rate 1 and value clipping at 1e-3, no weight moves more than 1e-3.
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let (x, y) = rings(64, &mut rng);
    let mut net = Rings::new(&mut rng);
    let before = weights(&net);
    let mut trainer = Trainer::<Rings, _, _>::new(
        SparseCategoricalCrossEntropy::default(),
        Sgd::new(1.0),
        Some(Clip::Value(1e-3)),
    );
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let moved = weights(&net)
        .iter()
        .zip(&before)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(moved <= 1e-3 + 1e-6 && moved > 5e-4, "{moved}");
}

#[test]
fn save_and_load_through_the_generated_methods() {
    let net = Tutorial::new(&mut ChaCha8Rng::seed_from_u64(21));
    let path = std::env::temp_dir().join(format!("dl-tutorial-{}.safetensors", std::process::id()));
    net.save(&path).unwrap();
    let mut other = Tutorial::new(&mut ChaCha8Rng::seed_from_u64(22));
    other.load(&path).unwrap();
    assert_eq!(weights(&other), weights(&net));
    std::fs::remove_file(&path).unwrap();
    let err = other.load(&path).unwrap_err().to_string();
    assert!(err.contains("dl-tutorial-"), "{err}");
}

dl::network! {
    struct RingsWithDropout {
        input: [2],
        Dense(32, tanh),
        Dropout(0.2),
        Dense(3, softmax),
    }
}

#[test]
fn dropout_is_active_in_training_only() {
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let (x, y) = rings(3000, &mut rng);
    let (vx, vy) = rings(500, &mut rng);
    let mut net = RingsWithDropout::new(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    // In training the same weights give a different loss than in inference (masks), ...
    let mut trainer = Trainer::<RingsWithDropout, _, _>::new(loss, Sgd::default(), None);
    let train_loss = trainer
        .compute_gradients(&net, &x[..64], &y[..64])
        .unwrap()
        .loss();
    let eval_loss = net.evaluate(&x[..64], &y[..64], &loss).unwrap().loss;
    assert_ne!(train_loss, eval_loss);
    // ... inference is deterministic and `predict` agrees with `forward`, ...
    let p = net.predict(&vx[..3]);
    assert!((net.forward(&vx[0]) - p[0]).abs().max() < 1e-6);
    // ... and the network still learns: the majority class (beyond radius 2) is ~65% of the
    // square; without dropout this network passes 0.93, with 20% of its 32 units dropped ~0.82.
    let cfg = Fit {
        loss,
        optimizer: Adam::new(0.01),
        epochs: 30,
        verbose: false,
        ..Fit::default()
    };
    net.fit(&x, &y, cfg).unwrap();
    let accuracy = net.evaluate(&vx, &vy, &loss).unwrap().accuracy.unwrap();
    assert!(accuracy > 0.75, "{accuracy}");
}

#[test]
fn dropout_gradients_match_finite_differences_under_a_fixed_mask() {
    // A fresh trainer starts the seeded mask stream afresh, so every evaluation below uses the
    // same mask: the loss is then a smooth function of the weights.
    let mut rng = ChaCha8Rng::seed_from_u64(32);
    let (x, y) = rings(16, &mut rng);
    let mut net = RingsWithDropout::new(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    let masked_loss = |n: &RingsWithDropout| {
        Trainer::<RingsWithDropout, _, _>::new(loss, Sgd::default(), None)
            .compute_gradients(n, &x, &y)
            .unwrap()
            .loss()
    };
    let mut trainer = Trainer::<RingsWithDropout, _, _>::new(loss, Sgd::default(), None);
    trainer.compute_gradients(&net, &x, &y).unwrap();
    let mut grads = Vec::new();
    trainer
        .gradients()
        .for_each_param(|_, _, g| grads.push(g.to_vec()));
    let h = 1.0 / 256.0;
    let mut worst = 0.0f32;
    for (t, g) in grads.iter().enumerate() {
        for i in (0..g.len()).step_by(3) {
            let shift = |n: &mut RingsWithDropout, d: f32| {
                let mut k = 0;
                n.for_each_param_mut(|_, _, v| {
                    if k == t {
                        v[i] += d;
                    }
                    k += 1;
                });
            };
            shift(&mut net, h);
            let up = masked_loss(&net);
            shift(&mut net, -2.0 * h);
            let down = masked_loss(&net);
            shift(&mut net, h);
            let numeric = (up - down) / (2.0 * h);
            worst = worst.max((numeric - g[i]).abs() / (1e-2 + g[i].abs()));
        }
    }
    // f32 central differences with h = 1/256: truncation and rounding stay below 2 % here.
    assert!(worst < 2e-2, "worst relative gradient error {worst}");
}
