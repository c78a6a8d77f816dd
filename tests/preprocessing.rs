//! Keras's preprocessing layers in generated networks: `Normalization` adapted from data (its
//! statistics as numpy computes them, refused before `adapt`, saved and loaded with the weights,
//! counted as Keras counts them) and `Rescaling`.

use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    /// A tabular classifier that standardises its own input.
    struct Tabular {
        input: [3],
        Normalization(),
        Dense(8, relu),
        Dense(2, softmax),
    }
}

dl::network! {
    /// Normalization after other layers, and as the output (to see what it makes of its input).
    struct Inner {
        input: [2],
        Rescaling(1.0 / 4.0, offset = 1.0),
        Dense(3, tanh),
        Normalization(axis = 1),
    }
}

fn data(seed: u64, n: usize) -> (Vec<SVector<f32, 3>>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Features of very different scales and offsets, as tabular columns are.
    let x: Vec<SVector<f32, 3>> = (0..n)
        .map(|_| {
            SVector::from([
                rng.random_range(3000.0..6000.0),
                rng.random_range(-0.01..0.01),
                rng.random_range(10.0..20.0),
            ])
        })
        .collect();
    let y = x.iter().map(|s| usize::from(s[0] > 4500.0)).collect();
    (x, y)
}

/// `numpy.mean` and `numpy.var` of each feature, in f64.
fn moments(x: &[SVector<f32, 3>]) -> ([f64; 3], [f64; 3]) {
    let n = x.len() as f64;
    let mean: [f64; 3] = std::array::from_fn(|c| x.iter().map(|s| f64::from(s[c])).sum::<f64>() / n);
    let var = std::array::from_fn(|c| x.iter().map(|s| (f64::from(s[c]) - mean[c]).powi(2)).sum::<f64>() / n);
    (mean, var)
}

#[test]
fn adapt_sets_numpys_mean_and_variance_and_the_forward_standardises() {
    let (x, _) = data(1, 300);
    let mut net = Tabular::seeded(1);
    net.adapt(&x).unwrap();
    let (mean, var) = moments(&x);
    for c in 0..3 {
        assert_eq!(net.normalization.mean[c], mean[c] as f32, "mean {c}");
        let v = net.normalization.variance[c];
        assert!(
            (f64::from(v) - var[c]).abs() <= 1e-6 * var[c],
            "variance {c}: {v} vs {}",
            var[c]
        );
    }
    assert_eq!(net.normalization.count[0], 300.0);
    // What the Dense layer sees: (x − mean) / √variance.
    let layer = &net.normalization;
    let mut buf = dl::layers::Buffers::default();
    let flat: Vec<f32> = x.iter().flat_map(|s| s.iter().copied()).collect();
    dl::layers::Layer::forward_batch(layer, &flat, x.len(), &mut buf, dl::Activation::Linear, false);
    for c in 0..3 {
        let col: Vec<f64> = buf.y.iter().skip(c).step_by(3).map(|&v| f64::from(v)).collect();
        let m = col.iter().sum::<f64>() / col.len() as f64;
        let v = col.iter().map(|a| (a - m).powi(2)).sum::<f64>() / col.len() as f64;
        assert!(
            m.abs() < 1e-4 && (v - 1.0).abs() < 1e-4,
            "feature {c}: mean {m}, variance {v}"
        );
    }
}

#[test]
fn a_normalization_inside_the_network_adapts_on_what_reaches_it() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x: Vec<SVector<f32, 2>> = (0..200)
        .map(|_| SVector::from([rng.random_range(0.0..8.0), rng.random_range(-4.0..0.0)]))
        .collect();
    let mut net = Inner::seeded(3);
    net.adapt(&x).unwrap();
    let out = net.predict(&x);
    for c in 0..3 {
        let col: Vec<f64> = out.iter().map(|o| f64::from(o[c])).collect();
        let m = col.iter().sum::<f64>() / col.len() as f64;
        let v = col.iter().map(|a| (a - m).powi(2)).sum::<f64>() / col.len() as f64;
        assert!(
            m.abs() < 1e-4 && (v - 1.0).abs() < 1e-3,
            "feature {c}: mean {m}, variance {v}"
        );
    }
}

#[test]
fn fit_and_evaluate_refuse_a_network_never_adapted() {
    let (x, y) = data(2, 64);
    let mut net = Tabular::seeded(2);
    let before = net.predict(&x);
    let cfg = || Fit {
        loss: SparseCategoricalCrossEntropy::default(),
        optimizer: Adam::new(0.05),
        epochs: 1,
        ..Fit::default()
    };
    let e = net.fit(&x, &y, cfg()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::NotAdapted {
                network: "Tabular",
                layer: "normalization"
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("call `adapt` with the training samples"),
        "{e}"
    );
    let e = net
        .evaluate(&x, &y, &SparseCategoricalCrossEntropy::default())
        .unwrap_err();
    assert!(matches!(e, Error::NotAdapted { .. }), "{e}");
    assert_eq!(net.predict(&x), before, "nothing changed");
    net.adapt(&x).unwrap();
    let history = net.fit(&x, &y, Fit { epochs: 30, ..cfg() }).unwrap();
    // Standardised, the scales do not matter: the threshold on the first feature is learned.
    let accuracy = net
        .evaluate(&x, &y, &SparseCategoricalCrossEntropy::default())
        .unwrap()
        .accuracy
        .unwrap();
    assert!(accuracy > 0.9, "accuracy {accuracy}, {history}");
    // Training does not move the statistics.
    let (mean, _) = moments(&x);
    assert_eq!(net.normalization.mean[0], mean[0] as f32);
}

#[test]
fn a_refused_adapt_leaves_the_network_as_it_was() {
    let (mut x, _) = data(3, 10);
    let mut net = Tabular::seeded(3);
    net.adapt(&x).unwrap();
    let before = net.clone();
    x[4][1] = f32::NAN;
    let e = net.adapt(&x).unwrap_err();
    assert!(matches!(e, Error::NonFiniteInput { index: 4, .. }), "{e}");
    let e = net.adapt(&x[..0]).unwrap_err();
    assert!(matches!(e, Error::EmptyData { .. }), "{e}");
    let huge = vec![SVector::from([3e38, 0.0, 0.0]), SVector::from([-3e38, 0.0, 0.0])];
    let e = net.adapt(&huge).unwrap_err().to_string();
    assert!(
        e.contains("x: layer `normalization`: feature 0's variance"),
        "{e}"
    );
    assert_eq!(
        net.normalization.mean.as_slice(),
        before.normalization.mean.as_slice()
    );
    assert_eq!(net.normalization.count[0], 10.0);
}

#[test]
fn the_statistics_are_saved_and_loaded_with_the_weights() {
    let (x, _) = data(4, 50);
    let mut net = Tabular::seeded(4);
    net.adapt(&x).unwrap();
    let path = std::env::temp_dir().join(format!("dl-preprocessing-{}.safetensors", std::process::id()));
    net.save(&path).unwrap();
    let mut loaded = Tabular::seeded(99);
    loaded.load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.predict(&x), net.predict(&x));
    assert_eq!(loaded.normalization.count[0], 50.0);
}

#[test]
fn parameters_are_counted_as_keras_counts_them() {
    // Keras's `count_params()` of Normalization on 3 features: mean 3 + variance 3 + count 1,
    // all non-trainable; Rescaling has none.
    assert_eq!(<Tabular as Model>::NON_TRAINABLE, 7);
    assert_eq!(Tabular::PARAMS, 3 * 8 + 8 + 8 * 2 + 2);
    let rows = <Tabular as Model>::LAYERS;
    assert_eq!(
        (rows[0].kind, rows[0].params, rows[0].non_trainable),
        ("Normalization", 0, 7)
    );
    let rows = <Inner as Model>::LAYERS;
    assert_eq!(
        (rows[0].kind, rows[0].params, rows[0].non_trainable),
        ("Rescaling", 0, 0)
    );
    let shapes = <Tabular as Model>::PARAM_SHAPES;
    let state: Vec<_> = shapes.iter().filter(|s| s.0 == "normalization").collect();
    assert_eq!(
        state,
        [
            &("normalization", "mean", &[3usize][..]),
            &("normalization", "variance", &[3][..]),
            &("normalization", "count", &[][..]),
        ]
    );
    let summary = Tabular::seeded(0).summary().to_string();
    assert!(summary.contains("Non-trainable params: 7"), "{summary}");
}

#[test]
fn rescaling_scales_and_shifts_in_training_and_inference() {
    dl::network! {
        struct Pixels {
            input: [2],
            Rescaling(1.0 / 4),
            Rescaling(scale = 2.0, offset = -1.0),
        }
    }
    let net = Pixels::seeded(0);
    assert_eq!(
        net.forward(&SVector::from([0.0, 4.0])),
        SVector::from([-1.0, 1.0])
    );
}
