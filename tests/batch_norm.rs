//! `BatchNormalization` in generated networks: when the moving statistics move (a successful
//! training step, once) and when they do not (inference, `compute_gradients`, a rejected step),
//! and that every inference path (`forward`, `predict`, `evaluate`) uses them.

use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct Vectors {
        input: [5],
        Dense(8, tanh),
        BatchNormalization(momentum = 0.5),
        Dense(3, softmax),
    }
}

dl::network! {
    struct Sequences {
        input: tokens[6],
        Embedding(20, 4),
        BatchNormalization(),
        LSTM(5),
        Dense(2, softmax),
    }
}

fn state<M: Model>(m: &M) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    m.for_each_state(|layer, tensor, v| out.push((format!("{layer}.{tensor}"), v.to_vec())));
    out
}

fn params<M: Model>(m: &M) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    m.for_each_param(|_, _, v| out.push(v.to_vec()));
    out
}

fn data(rng: &mut ChaCha8Rng) -> (Vec<SVector<f32, 5>>, Vec<usize>) {
    let x = (0..16)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y = (0..16).map(|i| i % 3).collect();
    (x, y)
}

#[test]
fn a_training_step_moves_the_state_once_and_nothing_else_does() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut net = Vectors::new(&mut rng);
    let (x, y) = data(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    let initial = state(&net);
    assert_eq!(
        initial,
        [
            ("batch_normalization.moving_mean".to_string(), vec![0.0; 8]),
            ("batch_normalization.moving_variance".to_string(), vec![1.0; 8]),
        ]
    );

    // Inference and gradient computation leave it alone.
    net.predict(&x);
    net.evaluate(&x, &y, &loss).unwrap();
    let mut trainer = Trainer::<Vectors, _, _>::new(loss, Adam::new(0.01), None);
    trainer.compute_gradients(&net, &x, &y).unwrap();
    assert_eq!(state(&net), initial);
    // Gradients have the parameters' structure: `gamma` and `beta`, no state to train.
    let mut names = Vec::new();
    trainer
        .gradients()
        .for_each_param(|l, t, _| names.push(format!("{l}.{t}")));
    assert_eq!(
        names,
        [
            "dense.kernel",
            "dense.bias",
            "batch_normalization.gamma",
            "batch_normalization.beta",
            "dense_1.kernel",
            "dense_1.bias"
        ]
    );

    // One step: momentum 0.5 takes the moving statistics halfway to the batch's, computed
    // here from the first layer's outputs (the step's forward pass ran before the update).
    let hidden: Vec<SVector<f32, 8>> = x
        .iter()
        .map(|s| net.dense.forward(s, dl::Activation::Tanh))
        .collect();
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    let moved = state(&net);
    for c in 0..8 {
        let v: Vec<f64> = hidden.iter().map(|h| f64::from(h[c])).collect();
        let mean = v.iter().sum::<f64>() / 16.0;
        let var = v.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / 16.0;
        assert!(
            (f64::from(moved[0].1[c]) - 0.5 * mean).abs() < 1e-6,
            "moving mean {c}"
        );
        assert!(
            (f64::from(moved[1].1[c]) - (0.5 + 0.5 * var)).abs() < 1e-6,
            "moving variance {c}"
        );
    }

    // A rejected step (an overflowing head makes the loss non-finite) moves neither the
    // weights nor the state.
    net.dense_1
        .kernel
        .iter_mut()
        .enumerate()
        .for_each(|(i, w)| *w = if i % 2 == 0 { 3e38 } else { -3e38 });
    let weights = params(&net);
    let e = trainer.train_on_batch(&mut net, &x, &y).unwrap_err();
    assert!(matches!(e, Error::NonFiniteLoss { .. }), "{e}");
    assert_eq!(params(&net), weights);
    assert_eq!(state(&net), moved);

    // A clone carries the state.
    assert_eq!(state(&net.clone()), moved);
}

#[test]
fn inference_normalizes_with_the_moving_statistics() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut net = Vectors::new(&mut rng);
    let (x, y) = data(&mut rng);
    let loss = SparseCategoricalCrossEntropy::default();
    net.fit(
        &x,
        &y,
        Fit {
            loss,
            optimizer: Adam::new(0.01),
            epochs: 3,
            batch_size: 4,
            verbose: false,
            ..Fit::default()
        },
    )
    .unwrap();
    let moved = state(&net);
    assert!(moved[0].1.iter().all(|&m| m != 0.0));

    // By hand: dense, then gamma·(h − moving_mean)/√(moving_variance + ε) + beta, then dense_1.
    let bn = &net.batch_normalization;
    for s in &x {
        let h = net.dense.forward(s, dl::Activation::Tanh);
        let n = SVector::<f32, 8>::from_fn(|c, _| {
            (h[c] - bn.moving_mean[c]) * (1.0 / (bn.moving_variance[c] + 0.001).sqrt()) * bn.gamma[c]
                + bn.beta[c]
        });
        let want = net.dense_1.forward(&n, dl::Activation::Softmax);
        let got = net.forward(s);
        assert!((got - want).amax() < 1e-6, "{got} vs {want}");
    }
    // `predict` too (batched, so the dense products may round differently).
    for (p, s) in net.predict(&x).iter().zip(&x) {
        assert!((p - net.forward(s)).amax() < 1e-6);
    }

    // The training pass (batch statistics) is another function of the same weights.
    let mut trainer = Trainer::<Vectors, _, _>::new(loss, Adam::new(0.01), None);
    let training = trainer.compute_gradients(&net, &x, &y).unwrap().loss();
    let inference = net.evaluate(&x, &y, &loss).unwrap().loss;
    assert!((training - inference).abs() > 1e-4, "{training} vs {inference}");
    assert_eq!(state(&net), moved);
}

#[test]
fn sequences_are_normalized_per_feature_and_train() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut net = Sequences::new(&mut rng);
    let x: Vec<Tokens<6, 20>> = (0..8)
        .map(|_| Tokens::new(std::array::from_fn(|_| rng.random_range(0..20))).unwrap())
        .collect();
    let y: Vec<usize> = (0..8).map(|i| i % 2).collect();
    let mut trainer =
        Trainer::<Sequences, _, _>::new(SparseCategoricalCrossEntropy::default(), Adam::new(0.01), None);
    trainer.train_on_batch(&mut net, &x, &y).unwrap();
    // The moving mean took 1% of each feature's mean over the 8 × 6 embedded tokens.
    let table = {
        let mut t = Vec::new();
        let mut before = Sequences::new(&mut ChaCha8Rng::seed_from_u64(3));
        before.for_each_param_mut(|l, _, v| {
            if l == "embedding" {
                t = v.to_vec();
            }
        });
        t
    };
    let moved = state(&net);
    assert_eq!(moved[0].1.len(), 4);
    for f in 0..4 {
        let mean: f64 = x
            .iter()
            .flat_map(|s| s.ids().iter().map(|&id| f64::from(table[id as usize * 4 + f])))
            .sum::<f64>()
            / 48.0;
        assert!(
            (f64::from(moved[0].1[f]) - 0.01 * mean).abs() < 1e-7,
            "feature {f}"
        );
    }
}
