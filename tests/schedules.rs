//! Learning-rate schedules: Keras's values, the step each value belongs to, validation, and
//! checkpoints that resume a scheduled run bit for bit.

use dl::optim::{BadHyperparameter, Schedule};
use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const FIXTURE: &str = include_str!("fixtures/keras_schedules/schedules.json");

/// Every case of `make_schedule_fixtures.py`: Keras's serialized schedule reads as a
/// `Schedule` as it is, and gives Keras's float32 values to within float32 rounding.
#[test]
fn schedules_give_keras_values_at_every_step() {
    let fixture: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 11);
    let mut kinds = std::collections::BTreeSet::new();
    for case in cases {
        let name = case["case"].as_str().unwrap();
        let schedule =
            Schedule::from_json(&case["schedule"].to_string()).unwrap_or_else(|e| panic!("{name}: {e}"));
        kinds.insert(schedule.name());
        let steps = case["steps"].as_array().unwrap();
        let rates = case["learning_rates"].as_array().unwrap();
        for (step, keras) in steps.iter().zip(rates) {
            let (step, keras) = (step.as_u64().unwrap(), keras.as_f64().unwrap());
            let ours = f64::from(schedule.at(step));
            assert!(
                (ours - keras).abs() <= 2e-6 * keras.abs() + 1e-8,
                "{name} at step {step}: {ours} vs Keras's {keras}"
            );
        }
    }
    assert_eq!(kinds.len(), 5, "every kind of schedule is covered: {kinds:?}");
}

/// Step `t` learns at the schedule's value for `t − 1` (Keras's `iterations` before the step):
/// SGD on a constant gradient of 1 moves the weight by exactly the rates in turn.
#[test]
fn each_step_takes_the_rate_for_the_steps_before_it() {
    let schedule = PiecewiseConstantDecay::new([1, 3], [0.5, 0.25, 0.125]);
    for mut optimizer in [
        Box::new(Sgd::default().with_schedule(schedule.clone())) as Box<dyn Optimizer>,
        Box::new(Sgd::new(7.0).with_momentum(0.0).with_schedule(schedule.clone())),
    ] {
        let mut p = [0.0f32];
        let mut moves = Vec::new();
        for _ in 0..5 {
            assert_eq!(
                optimizer.learning_rate(),
                Some(Schedule::from(schedule.clone()).at(moves.len() as u64))
            );
            let before = p[0];
            optimizer.begin_step();
            optimizer.update(0, &mut p, &[1.0]);
            moves.push(before - p[0]);
        }
        assert_eq!(moves, [0.5, 0.5, 0.25, 0.25, 0.125]);
    }
}

#[test]
fn schedules_are_validated_where_they_enter_and_own_the_rate() {
    let mut adam = Adam::default().with_schedule(ExponentialDecay::new(0.1, 0, 0.9));
    assert_eq!(
        adam.validate(),
        Err(BadHyperparameter(
            "adam: ExponentialDecay: `decay_steps` must be at least 1; got 0".into()
        ))
    );
    // An unchecked schedule gives no rate, and panics nowhere.
    let empty = Sgd::default().with_schedule(PiecewiseConstantDecay::new([], []));
    assert!(empty.learning_rate().unwrap().is_nan());
    assert!(
        empty
            .validate()
            .unwrap_err()
            .0
            .contains("one more than the 0 boundaries")
    );
    assert_eq!(
        adam.set_schedule(Some(CosineDecay::new(0.1, 10).with_alpha(-1.0).into())),
        Err(BadHyperparameter(
            "adam: CosineDecay: `alpha` must be in [0, 1]; got -1".into()
        ))
    );
    adam.set_schedule(Some(CosineDecay::new(0.1, 10).into())).unwrap();
    assert_eq!(
        adam.set_learning_rate(0.5),
        Err(BadHyperparameter(
            "adam: the learning rate follows a CosineDecay schedule and cannot be set".into()
        ))
    );
    // Dropping the schedule keeps the rate the next step would have used.
    adam.set_schedule(None).unwrap();
    assert_eq!(adam.learning_rate(), Some(0.1));
    assert_eq!(adam.set_learning_rate(0.5), Ok(()));
    assert_eq!(
        adam.set_learning_rate(f32::NAN),
        Err(BadHyperparameter(
            "adam: `learning_rate` must be finite and above 0; got NaN".into()
        ))
    );

    // `fit` refuses a bad schedule before the first step.
    let mut net = Net::new(&mut ChaCha8Rng::seed_from_u64(1));
    let (x, y) = data(20);
    let err = net
        .fit(
            &x,
            &y,
            Fit {
                loss: MeanSquaredError,
                optimizer: Sgd::default().with_schedule(PiecewiseConstantDecay::new([5], [0.1])),
                verbose: false,
                ..Fit::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sgd: PiecewiseConstantDecay: `values` must be one more than the 1 \
         boundaries; got 1 values"
    );
}

dl::network! {
    struct Net {
        input: [3],
        Dense(8, tanh),
        Dense(1),
    }
}

fn data(n: usize) -> (Vec<SVector<f32, 3>>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    (0..n)
        .map(|_| {
            let x = SVector::<f32, 3>::from_fn(|_, _| rng.random_range(-1.0..1.0));
            (x, x[0] * x[1] - 0.5 * x[2])
        })
        .unzip()
}

fn bits<M: Model>(m: &M) -> Vec<u32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend(v.iter().map(|x| x.to_bits())));
    w
}

/// A run with a warm-up cosine schedule, stopped after epoch 2 and resumed from its checkpoint
/// with an optimizer built without the schedule: the checkpoint brings the schedule and the
/// step count, so the weights end bit for bit as the uninterrupted run's.
#[test]
fn a_resumed_scheduled_run_gives_the_bits_of_an_uninterrupted_one() {
    let dir = std::env::temp_dir().join(format!("dl-schedules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.safetensors");
    let (x, y) = data(50);
    let schedule = CosineDecay::new(0.0, 20).with_warmup(0.05, 6).with_alpha(0.1);
    let cfg = |optimizer: Adam, initial_epoch, epochs, checkpoint: Option<std::path::PathBuf>| Fit {
        loss: MeanSquaredError,
        optimizer,
        initial_epoch,
        epochs,
        batch_size: 8,
        verbose: false,
        checkpoint,
        ..Fit::default()
    };
    let start = Net::new(&mut ChaCha8Rng::seed_from_u64(2));
    let mut whole = start.clone();
    whole
        .fit(
            &x,
            &y,
            cfg(Adam::default().with_schedule(schedule.clone()), 0, 5, None),
        )
        .unwrap();

    let mut first = start.clone();
    first
        .fit(
            &x,
            &y,
            cfg(Adam::default().with_schedule(schedule), 0, 2, Some(path.clone())),
        )
        .unwrap();
    let mut resumed = Net::zeros();
    let mut adam = Adam::default();
    let epoch = dl::weights::load_checkpoint(&mut resumed, &mut adam, &path).unwrap();
    assert_eq!((epoch, adam.iterations()), (2, 14));
    assert_eq!(adam.schedule().map(Schedule::name), Some("CosineDecay"));
    resumed.fit(&x, &y, cfg(adam, epoch, 5, None)).unwrap();
    assert_eq!(bits(&resumed), bits(&whole));

    // Without its schedule the resumed run would differ: the test can fail.
    let mut constant = Net::zeros();
    let mut adam = Adam::default();
    dl::weights::load_checkpoint(&mut constant, &mut adam, &path).unwrap();
    adam.set_schedule(None).unwrap();
    constant.fit(&x, &y, cfg(adam, epoch, 5, None)).unwrap();
    assert_ne!(bits(&constant), bits(&whole));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A learning rate changed during training (as `ReduceLROnPlateau` does) is part of the state
/// a checkpoint restores.
#[test]
fn a_checkpoint_restores_a_changed_learning_rate() {
    let dir = std::env::temp_dir().join(format!("dl-schedules-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.safetensors");
    let net = Net::new(&mut ChaCha8Rng::seed_from_u64(2));
    let mut adam = Adam::new(0.01);
    adam.set_learning_rate(0.0025).unwrap();
    dl::weights::save_checkpoint(&net, &adam, 3, &path).unwrap();
    let mut fresh = Adam::new(0.01);
    dl::weights::load_checkpoint(&mut Net::zeros(), &mut fresh, &path).unwrap();
    assert_eq!(fresh.learning_rate, 0.0025);
    // A scheduled optimizer given a checkpoint of a constant rate drops its schedule.
    let mut scheduled = Adam::default().with_schedule(ExponentialDecay::new(0.1, 10, 0.5));
    dl::weights::load_checkpoint(&mut Net::zeros(), &mut scheduled, &path).unwrap();
    assert_eq!(
        (scheduled.schedule(), scheduled.learning_rate()),
        (None, Some(0.0025))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every optimizer with a schedule steps bit for bit as the same optimizer whose constant rate
/// is set to the schedule's value before each step.
#[test]
fn every_optimizer_follows_its_schedule() {
    fn check<O: Optimizer + Clone>(mut manual: O) {
        let schedule: Schedule = CosineDecayRestarts::new(0.05, 3).into();
        let mut scheduled_p = [0.7f32, -1.2, 0.1];
        let mut manual_p = scheduled_p;
        let mut scheduled = {
            let mut o = manual.clone();
            o.set_schedule(Some(schedule.clone())).unwrap();
            o
        };
        for step in 0..10 {
            manual.set_learning_rate(schedule.at(step)).unwrap();
            for (o, p) in [(&mut scheduled, &mut scheduled_p), (&mut manual, &mut manual_p)] {
                let o: &mut O = o;
                let g: Vec<f32> = p.iter().map(|v| 2.0 * v - 0.3).collect();
                o.begin_step();
                o.update(0, p, &g);
            }
            assert_eq!(
                scheduled_p.map(f32::to_bits),
                manual_p.map(f32::to_bits),
                "{}",
                manual.name()
            );
        }
        assert_ne!(schedule.at(8), schedule.at(0), "the rate changes");
    }
    check(Sgd::new(0.1).with_momentum(0.9));
    check(Adam::default());
    check(AdamW::new(0.01, 0.1));
    check(RmsProp::default());
    check(Adagrad::default());
}
