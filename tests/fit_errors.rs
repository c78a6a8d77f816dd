//! Bad input to `fit`, `evaluate` and `train_on_batch` is an `Err` whose message names the
//! problem, and the weights are left as they were.

use dl::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct Binary {
        input: [3],
        Dense(4, relu),
        Dense(1, sigmoid),
    }
}

dl::network! {
    struct Classes {
        input: [3],
        Dense(4, tanh),
        Dense(5, softmax),
    }
}

fn xs(n: usize) -> Vec<SVector<f32, 3>> {
    (0..n)
        .map(|i| SVector::from([i as f32 * 0.1, 1.0, -0.5]))
        .collect()
}

fn quiet<L: Default + LossTarget, O: Default>() -> Fit<'static, SVector<f32, 3>, <L as LossTarget>::T, L, O> {
    Fit {
        verbose: false,
        ..Fit::default()
    }
}

/// Names the label type of the losses used here, to keep the helper above generic.
trait LossTarget {
    type T: 'static;
}
impl LossTarget for BinaryCrossEntropy {
    type T = f32;
}
impl LossTarget for SparseCategoricalCrossEntropy {
    type T = usize;
}

fn weights<M: Model>(m: &M) -> Vec<f32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend_from_slice(v));
    w
}

fn binary() -> Binary {
    Binary::new(&mut ChaCha8Rng::seed_from_u64(0))
}

#[test]
fn mismatched_lengths() {
    let mut net = binary();
    let before = weights(&net);
    let err = net
        .fit(&xs(4), &[0.0; 3], quiet::<BinaryCrossEntropy, Adam>())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "x has 4 samples but y has 3 labels; they must be the same length"
    );
    assert_eq!(weights(&net), before);
}

#[test]
fn empty_data() {
    let mut net = binary();
    let err = net
        .fit(&[], &[], quiet::<BinaryCrossEntropy, Adam>())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the training data is empty; at least one sample is needed"
    );
}

#[test]
fn label_out_of_range_for_sparse_categorical() {
    let mut net = Classes::new(&mut ChaCha8Rng::seed_from_u64(0));
    let err = net
        .fit(&xs(3), &[0, 4, 5], quiet::<SparseCategoricalCrossEntropy, Adam>())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad label at index 2 of the training data: label 5 is out of range for sparse categorical \
         cross-entropy over 5 classes (expected 0..=4)"
    );
    let err = net
        .evaluate(&xs(2), &[7, 0], &SparseCategoricalCrossEntropy::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("bad label at index 0 of the evaluation data: label 7"),
        "{err}"
    );
}

#[test]
fn binary_label_outside_unit_interval() {
    let mut net = binary();
    let err = net
        .fit(&xs(2), &[1.0, 2.0], quiet::<BinaryCrossEntropy, Adam>())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "bad label at index 1 of the training data: label 2 is outside [0, 1], which binary cross-entropy needs"
    );
}

#[test]
fn zero_batch_size() {
    let mut net = binary();
    let cfg = Fit {
        batch_size: 0,
        ..quiet::<BinaryCrossEntropy, Adam>()
    };
    assert_eq!(
        net.fit(&xs(2), &[0.0; 2], cfg).unwrap_err().to_string(),
        "batch_size must be at least 1"
    );
}

#[test]
fn validation_split_outside_range() {
    let mut net = binary();
    for split in [1.0, -0.1, 1.5] {
        let cfg = Fit {
            validation_split: split,
            ..quiet::<BinaryCrossEntropy, Adam>()
        };
        let err = net.fit(&xs(10), &[0.0; 10], cfg).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "validation_split must be in [0, 1) and leave samples on both sides; got {split} for 10 samples"
            )
        );
    }
}

#[test]
fn non_finite_input() {
    let mut net = binary();
    let mut x = xs(3);
    x[1][2] = f32::NAN;
    let err = net
        .fit(&x, &[0.0; 3], quiet::<BinaryCrossEntropy, Adam>())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "input sample 1 of the training data contains a non-finite value (NaN)"
    );
}

/// `train_on_batch` and `compute_gradients` check each input as they copy the batch: a NaN or
/// an infinity anywhere (first, middle or last sample; first or last value) is an `Err` naming
/// the first sample that holds one, with the weights and the step count untouched; a finite
/// batch after it trains.
#[test]
fn non_finite_input_to_a_single_batch() {
    let mut net = binary();
    let before = weights(&net);
    let mut trainer = Trainer::<Binary, _, _>::new(BinaryCrossEntropy::default(), Adam::default(), None);
    for (sample, value) in [(0, 0), (2, 1), (4, 2)] {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut x = xs(5);
            x[sample][value] = bad;
            // A later sample with a NaN too: the first one is named.
            x[4][0] = if sample < 4 { f32::NAN } else { x[4][0] };
            let want = format!("input sample {sample} of the batch contains a non-finite value ({bad})");
            let err = trainer.train_on_batch(&mut net, &x, &[1.0; 5]).unwrap_err();
            assert_eq!(err.to_string(), want);
            let err = trainer.compute_gradients(&net, &x, &[1.0; 5]).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
    }
    assert_eq!(weights(&net), before);
    assert_eq!(trainer.steps(), 0);
    trainer
        .train_on_batch(&mut net, &xs(5), &[1.0; 5])
        .expect("a finite batch");
    assert_ne!(weights(&net), before);
}

#[test]
fn loss_that_turns_non_finite_stops_and_keeps_the_last_good_weights() {
    // A huge learning rate on a regression target drives the weights to overflow: the loss goes
    // infinite within a few steps. Training must stop there, name the epoch and batch, and leave
    // weights that are still finite.
    dl::network! {
        struct Regressor {
            input: [3],
            Dense(8, linear),
            Dense(1, linear),
        }
    }
    let mut net = Regressor::new(&mut ChaCha8Rng::seed_from_u64(1));
    let x: Vec<SVector<f32, 3>> = (0..64)
        .map(|i| SVector::from([i as f32, 2.0 * i as f32, 1.0]))
        .collect();
    let y: Vec<f32> = (0..64).map(|i| 1e3 * i as f32).collect();
    let cfg = Fit {
        loss: MeanSquaredError,
        optimizer: Sgd::new(10.0),
        epochs: 50,
        batch_size: 8,
        verbose: false,
        ..Fit::default()
    };
    let err = net.fit(&x, &y, cfg).unwrap_err();
    let Error::NonFiniteLoss { epoch, batch, .. } = err else {
        panic!("unexpected error {err}")
    };
    assert!(err.to_string().starts_with("loss became "), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("at epoch {epoch}, batch {batch};")),
        "{err}"
    );
    assert!(
        weights(&net).iter().all(|w| w.is_finite()),
        "weights were corrupted"
    );
}

#[test]
fn an_update_that_overflows_the_weights_is_undone() {
    // Finite loss and gradients, but a learning rate so large that the step itself overflows.
    let mut net = binary();
    let before = weights(&net);
    let mut trainer = Trainer::<Binary, _, _>::new(BinaryCrossEntropy::default(), Sgd::new(1e38), None);
    let x: Vec<SVector<f32, 3>> = (0..4)
        .map(|i| SVector::from([100.0 * i as f32, 50.0, -80.0]))
        .collect();
    let err = trainer
        .train_on_batch(&mut net, &x, &[0.0, 1.0, 0.0, 1.0])
        .unwrap_err();
    // The loss was finite: the error says it was the update, and which weight it spoiled.
    let Error::NonFiniteStep {
        epoch: 1,
        batch: 1,
        ref reason,
    } = err
    else {
        panic!("unexpected error {err}")
    };
    assert!(
        reason.starts_with("the sgd update would make weight `dense"),
        "{reason}"
    );
    assert_eq!(weights(&net), before);
}
