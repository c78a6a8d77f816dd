//! `sample_weight` and `class_weight` in `fit` and `evaluate`, against Keras 3
//! (`tests/fixtures/make_sample_weight_fixtures.py`).

use dl::prelude::*;
use dl::train::evaluate_weighted;
use serde_json::Value;

const FIXTURE: &str = include_str!("fixtures/keras_weights_per_sample/sample_weights.json");

dl::network! {
    struct Net {
        input: [4],
        Dense(3, softmax),
    }
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn setup() -> (Value, Net, Vec<SVector<f32, 4>>, Vec<usize>) {
    let f: Value = serde_json::from_str(FIXTURE).unwrap();
    let mut net = Net::zeros();
    let (kernel, bias) = (floats(&f["kernel"]), floats(&f["bias"]));
    net.for_each_param_mut(|_, tensor, v| {
        v.copy_from_slice(if tensor == "kernel" { &kernel } else { &bias })
    });
    let x = floats(&f["x"])
        .chunks(4)
        .map(SVector::<f32, 4>::from_column_slice)
        .collect();
    let y = f["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    (f, net, x, y)
}

fn close(ours: f32, keras: &Value, what: &str) {
    let keras = keras.as_f64().unwrap() as f32;
    assert!(
        (ours - keras).abs() <= 1e-5 * keras.abs().max(1.0),
        "{what}: {ours} vs Keras's {keras}"
    );
}

#[test]
fn weighted_evaluate_gives_keras_loss_and_unweighted_accuracy() {
    let (f, net, x, y) = setup();
    let w = floats(&f["sample_weight"]);
    let e = evaluate_weighted(&net, &x, &y, &SparseCategoricalCrossEntropy::default(), &w).unwrap();
    close(e.loss, &f["evaluate"]["loss"], "loss");
    close(e.accuracy.unwrap(), &f["evaluate"]["accuracy"], "accuracy");
    let plain = net
        .evaluate(&x, &y, &SparseCategoricalCrossEntropy::default())
        .unwrap();
    assert_ne!(plain.loss, e.loss, "the weights matter");
}

#[test]
fn a_weighted_epoch_gives_keras_loss_and_weights() {
    // Two shards weigh each half of a batch with its own samples' weights.
    let cases = ["fit_class_weight", "fit_sample_weight"].map(|c| [(c, 1), (c, 2)]);
    for (case, shards) in cases.into_iter().flatten() {
        let (f, mut net, x, y) = setup();
        let (cw, sw) = (floats(&f["class_weight"]), floats(&f["sample_weight"]));
        let mut cfg = Fit {
            loss: SparseCategoricalCrossEntropy::default(),
            optimizer: Sgd::new(0.1),
            batch_size: 4,
            shuffle: false,
            verbose: false,
            parallel: Parallel::new(shards),
            ..Fit::default()
        };
        match case {
            "fit_class_weight" => cfg.class_weight = Some(&cw),
            _ => cfg.sample_weight = Some(&sw),
        }
        let history = net.fit(&x, &y, cfg).unwrap();
        let k = &f[case];
        close(history.epochs[0].loss, &k["loss"], case);
        close(history.epochs[0].accuracy.unwrap(), &k["accuracy"], case);
        let (kernel, bias) = (floats(&k["kernel"]), floats(&k["bias"]));
        net.for_each_param(|_, tensor, v| {
            let keras = if tensor == "kernel" { &kernel } else { &bias };
            for (a, b) in v.iter().zip(keras) {
                assert!(
                    (a - b).abs() <= 1e-6,
                    "{case} {tensor}: {v:?} vs Keras's {keras:?}"
                );
            }
        });
    }
}

#[test]
fn bad_weights_are_named_before_training() {
    let (f, mut net, x, y) = setup();
    let sw = floats(&f["sample_weight"]);
    let fit = |net: &mut Net, sample_weight, class_weight| {
        net.fit(
            &x,
            &y,
            Fit {
                loss: SparseCategoricalCrossEntropy::default(),
                optimizer: Sgd::new(0.1),
                verbose: false,
                sample_weight,
                class_weight,
                ..Fit::default()
            },
        )
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        fit(&mut net, Some(&sw[..5]), None),
        "sample_weight: 5 weights for 12 samples"
    );
    let mut neg = sw.clone();
    neg[2] = -1.0;
    assert_eq!(
        fit(&mut net, Some(&neg), None),
        "sample_weight: weight 2 is -1; weights must be finite and at least 0"
    );
    assert_eq!(
        fit(&mut net, Some(&[0.0; 12]), None),
        "sample_weight: every weight is 0, which leaves nothing to learn or measure"
    );
    assert_eq!(
        fit(&mut net, None, Some(&[1.0, 2.0])),
        "class_weight: 2 weights for 3 classes"
    );
    assert_eq!(
        fit(&mut net, None, Some(&[1.0, f32::NAN, 1.0])),
        "class_weight: class 1 weighs NaN; weights must be finite and at least 0"
    );
    assert!(fit(&mut net, Some(&sw), Some(&[1.0; 3])).starts_with("class_weight: cannot be given together"));
}
