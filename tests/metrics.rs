//! Keras's metrics: their values against Keras 3 (`tests/fixtures/make_metrics_fixtures.py`),
//! and as `fit`, `evaluate_with` and callbacks use them.

use dl::metrics::{Average, Metric};
use dl::prelude::*;
use dl::train::evaluate_with;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/keras_metrics/metrics.json");

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

/// The metric a fixture case names, with its options.
fn metric(case: &Value) -> Metric {
    let o = &case["options"];
    let k = || o["k"].as_u64().unwrap() as usize;
    let mut m = match case["metric"].as_str().unwrap() {
        "binary_accuracy" => Metric::binary_accuracy(),
        "top_k_categorical_accuracy" => Metric::top_k_categorical_accuracy(k()),
        "sparse_top_k_categorical_accuracy" => Metric::sparse_top_k_categorical_accuracy(k()),
        "precision" => Metric::precision(),
        "recall" => Metric::recall(),
        "auc" => Metric::auc(),
        "f1_score" => Metric::f1_score(),
        "mean_absolute_error" => Metric::mean_absolute_error(),
        "mean_squared_error" => Metric::mean_squared_error(),
        "root_mean_squared_error" => Metric::root_mean_squared_error(),
        other => panic!("no metric {other}"),
    };
    if let Some(t) = o["threshold"].as_f64() {
        m = m.with_threshold(t as f32);
    }
    if let Some(n) = o["num_thresholds"].as_u64() {
        m = m.with_num_thresholds(n as usize);
    }
    if let Some(a) = o["average"].as_str() {
        m = m.with_average(match a {
            "micro" => Average::Micro,
            "macro" => Average::Macro,
            "weighted" => Average::Weighted,
            other => panic!("no average {other}"),
        });
    }
    m
}

#[test]
fn every_metric_gives_keras_value_over_batches() {
    let f: Value = serde_json::from_str(FIXTURE).unwrap();
    let batches: Vec<usize> = f["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as usize)
        .collect();
    let cases = f["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    for case in cases {
        let head = &f["heads"][case["head"].as_str().unwrap()];
        let units = head["units"].as_u64().unwrap() as usize;
        let (y_true, y_pred) = (floats(&head["y_true"]), floats(&head["y_pred"]));
        let mut m = metric(case);
        let mut start = 0;
        for b in &batches {
            let range = start * units..(start + b) * units;
            m.update_state(&y_true[range.clone()], &y_pred[range], units)
                .unwrap();
            start += b;
        }
        let (ours, keras) = (m.result(), floats(&case["value"]));
        let what = format!("{} {} {}", case["head"], case["metric"], case["options"]);
        assert_eq!(ours.len(), keras.len(), "{what}");
        for (o, k) in ours.iter().zip(&keras) {
            assert!(
                (o - k).abs() <= 1e-5 * k.abs().max(1e-3),
                "{what}: {ours:?} vs Keras's {keras:?}"
            );
        }
    }
}

dl::network! {
    struct Binary {
        input: [3],
        Dense(8, tanh),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Classes {
        input: [3],
        Dense(8, tanh),
        Dense(4, softmax),
    }
}

dl::network! {
    struct Logits {
        input: [3],
        Dense(8, tanh),
        Dense(1),
    }
}

type X = SVector<f32, 3>;

/// Samples whose class is the quadrant of (x0, x1), with some noise in x2.
fn data(n: usize, seed: u64) -> (Vec<X>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let x = X::from_fn(|_, _| rng.random_range(-1.0..1.0));
            (x, usize::from(x[0] > 0.0) * 2 + usize::from(x[1] > 0.0))
        })
        .unzip()
}

fn bits<M: Model>(m: &M) -> Vec<u32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend(v.iter().map(|x| x.to_bits())));
    w
}

/// With weights that do not move (a learning rate far below the weights' precision), an
/// epoch's training metrics are the metrics of the whole training set: the batches' counts add
/// up (AUC over the epoch, not a mean of the batches' AUCs), as Keras accumulates them; and the
/// validation metrics are `evaluate_with`'s on the validation data.
#[test]
fn training_metrics_accumulate_over_the_epoch_and_validation_metrics_are_evaluate_s() {
    training_metrics_of_still_weights(Parallel::default());
}

/// The same with batches cut into shards: the shards' outputs all count, in order.
#[test]
fn sharded_steps_feed_every_shard_s_outputs_to_the_metrics() {
    training_metrics_of_still_weights(Parallel::new(3).with_threads(2));
}

fn training_metrics_of_still_weights(parallel: Parallel) {
    let (x, y) = data(200, 1);
    let (vx, vy) = data(64, 2);
    let mut net = Classes::seeded(3);
    // Biases start at 0, which even a tiny step moves; from 0.1 it cannot.
    net.for_each_param_mut(|_, tensor, v| {
        if tensor == "bias" {
            v.fill(0.1);
        }
    });
    let before = bits(&net);
    let metrics = vec![
        Metric::auc(),
        Metric::precision(),
        Metric::recall().with_threshold(0.3),
        Metric::f1_score().with_average(Average::Macro),
        Metric::f1_score(),
        Metric::sparse_top_k_categorical_accuracy(2),
        Metric::mean_squared_error(),
    ];
    let loss = SparseCategoricalCrossEntropy::default();
    let history = net
        .fit(
            &x,
            &y,
            Fit {
                loss,
                optimizer: Sgd::new(1e-30),
                batch_size: 16,
                epochs: 2,
                metrics: metrics.clone(),
                validation_data: Some((&vx, &vy)),
                verbose: false,
                parallel,
                ..Fit::default()
            },
        )
        .unwrap();
    assert_eq!(bits(&net), before, "the weights did not move");
    let whole = evaluate_with(&net, &x, &y, &loss, &metrics).unwrap();
    let val = evaluate_with(&net, &vx, &vy, &loss, &metrics).unwrap();
    let keys = [
        "auc",
        "precision",
        "recall",
        "f1_score",
        "f1_score_0",
        "f1_score_3",
        "sparse_top_k_categorical_accuracy",
        "mean_squared_error",
    ];
    for key in keys {
        let (train, validation) = (history.metric(key), history.metric(&format!("val_{key}")));
        assert_eq!(train.len(), 2, "{key}");
        for epoch in 0..2 {
            let w = whole.metric(key).unwrap();
            assert!((train[epoch] - w).abs() <= 1e-6, "{key}: {train:?} vs {w}");
            assert_eq!(Some(validation[epoch]), val.metric(key), "val_{key}");
        }
    }
    // The batches' AUCs averaged would not give the epoch's.
    let batch_mean: f32 = x
        .chunks(16)
        .zip(y.chunks(16))
        .map(|(bx, by)| {
            evaluate_with(&net, bx, by, &loss, &[Metric::auc()])
                .unwrap()
                .metric("auc")
                .unwrap()
        })
        .sum::<f32>()
        / x.len().div_ceil(16) as f32;
    assert!((batch_mean - history.metric("auc")[0]).abs() > 1e-4);
    let log = history.last().unwrap();
    assert_eq!(
        log.keys(),
        [
            "loss",
            "accuracy",
            "auc",
            "precision",
            "recall",
            "f1_score",
            "f1_score_0",
            "f1_score_1",
            "f1_score_2",
            "f1_score_3",
            "sparse_top_k_categorical_accuracy",
            "mean_squared_error",
            "val_loss",
            "val_accuracy",
            "val_auc",
            "val_precision",
            "val_recall",
            "val_f1_score",
            "val_f1_score_0",
            "val_f1_score_1",
            "val_f1_score_2",
            "val_f1_score_3",
            "val_sparse_top_k_categorical_accuracy",
            "val_mean_squared_error",
            "learning_rate"
        ]
    );
    assert!(log.to_string().contains(" - auc: 0."), "{log}");
}

/// Metrics on a binary head with logits see probabilities: the same values as the sigmoid
/// network with the same weights.
#[test]
fn metrics_of_logits_are_those_of_their_probabilities() {
    let (x, classes) = data(100, 4);
    let y: Vec<f32> = classes.iter().map(|&c| (c % 2) as f32).collect();
    let probs = Binary::seeded(5);
    let mut logits = Logits::zeros();
    let mut w = Vec::new();
    probs.for_each_param(|_, _, v| w.push(v.to_vec()));
    let mut tensors = w.into_iter();
    logits.for_each_param_mut(|_, _, v| v.copy_from_slice(&tensors.next().unwrap()));
    let metrics = [
        Metric::auc(),
        Metric::precision(),
        Metric::binary_accuracy(),
        Metric::mean_absolute_error(),
    ];
    let a = evaluate_with(&probs, &x, &y, &BinaryCrossEntropy::default(), &metrics).unwrap();
    let b = evaluate_with(
        &logits,
        &x,
        &y,
        &BinaryCrossEntropy { from_logits: true },
        &metrics,
    )
    .unwrap();
    for ((k, va), (_, vb)) in a.metrics.iter().zip(&b.metrics) {
        assert!((va - vb).abs() <= 1e-6, "{k}: {va} vs {vb}");
    }
    assert!(a.metric("auc").unwrap() > 0.0);
}

/// EarlyStopping monitors a metric by its log key, and `Mode::Auto` knows AUC rises.
#[test]
fn early_stopping_monitors_a_validation_metric() {
    let (x, classes) = data(300, 6);
    let y: Vec<f32> = classes.iter().map(|&c| (c % 2) as f32).collect();
    // Validation labels opposite to training's: as training learns, val_auc falls.
    let (vx, vc) = data(60, 7);
    let vy: Vec<f32> = vc.iter().map(|&c| 1.0 - (c % 2) as f32).collect();
    let mut stopper = EarlyStopping::new("val_auc")
        .with_patience(2)
        .with_restore_best_weights(true);
    let mut net = Binary::seeded(8);
    let history = net
        .fit(
            &x,
            &y,
            Fit {
                loss: BinaryCrossEntropy::default(),
                optimizer: Adam::new(0.05),
                epochs: 30,
                metrics: vec![Metric::auc()],
                validation_data: Some((&vx, &vy)),
                callbacks: vec![Box::new(&mut stopper)],
                verbose: false,
                ..Fit::default()
            },
        )
        .unwrap();
    let auc = history.metric("val_auc");
    assert!(auc.len() < 30, "stopped early: {auc:?}");
    let best = auc
        .iter()
        .enumerate()
        .fold(0, |b, (i, &v)| if v > auc[b] { i } else { b });
    assert_eq!(auc.len(), best + 1 + 2, "stops 2 epochs after the best: {auc:?}");
    let restored = evaluate_with(&net, &vx, &vy, &BinaryCrossEntropy::default(), &[Metric::auc()]).unwrap();
    assert_eq!(
        restored.metric("auc"),
        Some(auc[best]),
        "the best epoch's weights are back"
    );
}

fn fit_error(net: &mut Classes, x: &[X], y: &[usize], metrics: Vec<Metric>) -> String {
    let cfg = Fit {
        loss: SparseCategoricalCrossEntropy::default(),
        optimizer: Adam::default(),
        metrics,
        verbose: false,
        ..Fit::default()
    };
    net.fit(x, y, cfg).unwrap_err().to_string()
}

/// A metric that does not fit the loss or the output is an `Err` naming it before the first
/// step, which leaves the weights as they were.
#[test]
fn metrics_that_do_not_fit_are_refused_before_training() {
    let (x, y) = data(20, 9);
    let mut net = Classes::seeded(1);
    let before = bits(&net);
    let cases = [
        (
            vec![Metric::sparse_top_k_categorical_accuracy(5)],
            "metric `sparse_top_k_categorical_accuracy`: k is 5 but the network has 4 classes",
        ),
        (
            vec![Metric::top_k_categorical_accuracy(2)],
            "metric `top_k_categorical_accuracy`: needs one-hot labels, and sparse_categorical_crossentropy takes \
             class indices; use sparse_top_k_categorical_accuracy",
        ),
        (
            vec![Metric::auc(), Metric::auc()],
            "metric `auc`: the log key `auc` is taken by another metric; give one a name with Metric::with_name",
        ),
        (
            vec![Metric::f1_score().with_name("x"), Metric::auc().with_name("x_2")],
            "metric `x_2`: the log key `x_2` is taken by another metric; give one a name with Metric::with_name",
        ),
        (
            vec![Metric::recall().with_name("loss")],
            "metric `loss`: the log key `loss` is a key `fit` writes itself (loss, accuracy, learning_rate, epoch, \
             val_…)",
        ),
        (
            vec![Metric::recall().with_name("val_recall")],
            "metric `val_recall`: the log key `val_recall` is a key `fit` writes itself (loss, accuracy, \
             learning_rate, epoch, val_…)",
        ),
        (
            vec![Metric::precision().with_threshold(-0.5)],
            "metric `precision`: threshold is -0.5; it must be in [0, 1], as Keras requires",
        ),
        (
            vec![Metric::auc().with_threshold(0.5)],
            "metric `auc`: takes no threshold",
        ),
    ];
    for (metrics, message) in cases {
        assert_eq!(fit_error(&mut net, &x, &y, metrics), message);
    }
    assert_eq!(bits(&net), before);

    let regression = Binary::seeded(1).fit(
        &x,
        &vec![0.5; x.len()],
        Fit {
            loss: MeanSquaredError,
            optimizer: Adam::default(),
            metrics: vec![Metric::root_mean_squared_error(), Metric::precision()],
            verbose: false,
            ..Fit::default()
        },
    );
    assert_eq!(
        regression.unwrap_err().to_string(),
        "metric `precision`: needs a classification loss, and mean_squared_error is not one"
    );
    let binary = Binary::seeded(1).fit(
        &x,
        &vec![1.0; x.len()],
        Fit {
            loss: BinaryCrossEntropy::default(),
            optimizer: Adam::default(),
            metrics: vec![Metric::top_k_categorical_accuracy(1)],
            verbose: false,
            ..Fit::default()
        },
    );
    assert_eq!(
        binary.unwrap_err().to_string(),
        "metric `top_k_categorical_accuracy`: needs an output of 2 or more classes"
    );
}
