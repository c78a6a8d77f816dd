//! dl's callbacks against Keras's on the scripted sequences of
//! `tests/fixtures/make_callback_fixtures.py`.

use std::path::Path;

use super::*;
use crate::optim::Sgd;

const FIXTURE: &str = include_str!("../../../../tests/fixtures/keras_callbacks/callbacks.json");

/// A stand-in network whose one weight is the index of the epoch that produced it.
struct Marker(f32);

impl Network for Marker {
    fn get_weights(&self) -> Vec<f32> {
        vec![self.0]
    }
    fn set_weights(&mut self, weights: &[f32]) -> Result<()> {
        self.0 = weights[0];
        Ok(())
    }
    fn save(&self, _: &Path) -> Result<()> {
        unreachable!()
    }
    fn save_checkpoint(&self, _: &dyn Optimizer, _: usize, _: &Path) -> Result<()> {
        unreachable!()
    }
}

/// What Keras's run recorded, from dl's: epochs run, the epoch index stopped at (0 for none,
/// as Keras), the restored marker, the learning rate after each epoch.
struct Run {
    epochs_run: usize,
    rates: Vec<f64>,
    restored: f32,
}

fn run(callback: &mut dyn Callback, key: &'static str, values: &[f64]) -> Run {
    let (mut network, mut optimizer, mut stop) = (Marker(-1.0), Sgd::new(0.1), false);
    let keys = ["loss", key, "learning_rate"].map(LogKey::plain);
    let mut ctx = Context {
        network: &mut network,
        optimizer: &mut optimizer,
        stop: &mut stop,
        keys: &keys,
        epochs: values.len(),
    };
    callback.on_train_begin(&mut ctx).unwrap();
    let (mut epochs_run, mut rates) = (0, Vec::new());
    for (i, &v) in values.iter().enumerate() {
        callback.on_epoch_begin(i + 1, &mut ctx).unwrap();
        ctx.network.set_weights(&[i as f32]).unwrap();
        epochs_run += 1;
        let mut log = EpochLog {
            epoch: i + 1,
            loss: 1.0,
            accuracy: None,
            val_loss: None,
            val_accuracy: None,
            learning_rate: ctx.optimizer.learning_rate(),
            seconds: 0.0,
            metrics: Vec::new(),
        };
        match key {
            "val_loss" => log.val_loss = Some(v as f32),
            _ => log.val_accuracy = Some(v as f32),
        }
        callback.on_epoch_end(&log, &mut ctx).unwrap();
        rates.push(f64::from(ctx.optimizer.learning_rate().unwrap()));
        if ctx.stopping() {
            break;
        }
    }
    callback.on_train_end(&mut ctx).unwrap();
    let restored = ctx.get_weights()[0];
    Run {
        epochs_run,
        rates,
        restored,
    }
}

fn mode(options: &serde_json::Value) -> Mode {
    match options["mode"].as_str() {
        Some("max") => Mode::Max,
        Some("min") => Mode::Min,
        _ => Mode::Auto,
    }
}

#[test]
fn early_stopping_and_reduce_lr_count_epochs_as_keras() {
    let fixture: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 13);
    for case in cases {
        let name = case["case"].as_str().unwrap();
        let o = &case["options"];
        let key = match case["monitor"].as_str().unwrap() {
            "val_loss" => "val_loss",
            _ => "val_accuracy",
        };
        let values: Vec<f64> = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let int = |k: &str, default: u64| o[k].as_u64().unwrap_or(default) as usize;
        let float = |k: &str, default: f64| o[k].as_f64().unwrap_or(default);
        match case["callback"].as_str().unwrap() {
            "EarlyStopping" => {
                let mut es = EarlyStopping::new(key)
                    .with_patience(int("patience", 0))
                    .with_min_delta(float("min_delta", 0.0))
                    .with_mode(mode(o))
                    .with_restore_best_weights(o["restore_best_weights"].as_bool().unwrap_or(false))
                    .with_start_from_epoch(int("start_from_epoch", 0));
                if let Some(b) = o["baseline"].as_f64() {
                    es = es.with_baseline(b);
                }
                let r = run(&mut es, key, &values);
                assert_eq!(
                    r.epochs_run as u64,
                    case["epochs_run"].as_u64().unwrap(),
                    "{name}"
                );
                let stopped = case["stopped_epoch"].as_u64().unwrap() as usize;
                assert_eq!(es.stopped_epoch(), (stopped > 0).then_some(stopped + 1), "{name}");
                if let Some(epoch) = case["restored_epoch"].as_f64() {
                    assert_eq!(f64::from(r.restored), epoch, "{name}");
                }
            }
            _ => {
                let mut reduce = ReduceLROnPlateau::new(key)
                    .with_patience(int("patience", 10))
                    .with_factor(float("factor", 0.1))
                    .with_min_delta(float("min_delta", 1e-4))
                    .with_cooldown(int("cooldown", 0))
                    .with_min_lr(float("min_lr", 0.0))
                    .with_mode(mode(o));
                let r = run(&mut reduce, key, &values);
                let keras: Vec<f64> = case["learning_rates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                // As float32 (serde_json may read the last digit of a float64 one unit off).
                let f32s = |v: &[f64]| v.iter().map(|&x| (x as f32).to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    f32s(&r.rates),
                    f32s(&keras),
                    "{name}: bit for bit as Keras's float32 rates"
                );
            }
        }
    }
}

#[test]
fn options_out_of_range_are_named_before_training() {
    let begin_with = |callback: &mut dyn Callback, keys: &[&'static str], mut optimizer: Sgd| {
        let (mut network, mut stop) = (Marker(0.0), false);
        let keys: Vec<LogKey> = keys.iter().map(|k| LogKey::plain(k)).collect();
        let mut ctx = Context {
            network: &mut network,
            optimizer: &mut optimizer,
            stop: &mut stop,
            keys: &keys,
            epochs: 3,
        };
        callback.on_train_begin(&mut ctx).unwrap_err().to_string()
    };
    let begin =
        |callback: &mut dyn Callback, keys: &[&'static str]| begin_with(callback, keys, Sgd::new(0.1));
    let keys: &[&str] = &["loss", "learning_rate"];
    assert_eq!(
        begin(&mut EarlyStopping::default(), keys),
        "EarlyStopping: `monitor` is `val_loss`, which the logs do not hold (they hold loss, learning_rate)"
    );
    assert_eq!(
        begin(&mut EarlyStopping::new("learning_rate"), keys),
        "EarlyStopping: cannot tell whether `learning_rate` should fall or rise; set `mode` to Mode::Min or \
         Mode::Max"
    );
    assert_eq!(
        begin(&mut EarlyStopping::new("loss").with_min_delta(f64::NAN), keys),
        "EarlyStopping: `min_delta` must be finite; got NaN"
    );
    assert_eq!(
        begin(&mut ReduceLROnPlateau::new("loss").with_factor(1.0), keys),
        "ReduceLROnPlateau: `factor` must be in (0, 1); got 1"
    );
    assert_eq!(
        begin(&mut ReduceLROnPlateau::new("loss").with_min_lr(-1.0), keys),
        "ReduceLROnPlateau: `min_lr` must be finite and at least 0; got -1"
    );
    assert_eq!(
        begin(&mut ModelCheckpoint::new("m-{val_loss}.st"), keys),
        "ModelCheckpoint: `filepath` is bad: `{val_loss}` in `m-{val_loss}.st` names no log entry (there are \
         epoch, loss, learning_rate)"
    );
    assert_eq!(
        begin(&mut CSVLogger::new("x.csv").with_separator('"'), keys),
        "CSVLogger: `separator` '\"' would not read back; use a punctuation character"
    );
    let scheduled = || Sgd::new(0.1).with_schedule(crate::optim::ExponentialDecay::new(0.1, 10, 0.5));
    let owned = "the optimizer's learning rate follows a ExponentialDecay schedule, which owns it (remove one of \
                 the two)";
    assert_eq!(
        begin_with(&mut LearningRateScheduler::new(|_, lr| lr), keys, scheduled()),
        format!("LearningRateScheduler: {owned}")
    );
    assert_eq!(
        begin_with(&mut ReduceLROnPlateau::new("loss"), keys, scheduled()),
        format!("ReduceLROnPlateau: {owned}")
    );
}

/// Begins `m` with a context whose logs hold `keys`.
fn begin(m: &mut monitor::Monitor, keys: &[LogKey]) -> Result<()> {
    let (mut network, mut optimizer, mut stop) = (Marker(0.0), Sgd::new(0.1), false);
    let ctx = Context {
        network: &mut network,
        optimizer: &mut optimizer,
        stop: &mut stop,
        keys,
        epochs: 1,
    };
    m.begin("t", &ctx)
}

#[test]
fn accuracy_rises_and_loss_falls_in_auto_mode() {
    let mut m = monitor::Monitor::new("val_accuracy", Mode::Auto, 0.0);
    begin(&mut m, &[LogKey::plain("val_accuracy")]).unwrap();
    assert!(m.improves(0.6, Some(0.5)) && !m.improves(0.4, Some(0.5)));
    let mut m = monitor::Monitor::new("loss", Mode::Auto, 0.1);
    begin(&mut m, &[LogKey::plain("loss")]).unwrap();
    assert!(m.improves(0.35, Some(0.5)) && !m.improves(0.45, Some(0.5)));
}

#[test]
fn metrics_go_their_own_way_in_auto_mode() {
    let key = |name: &str, higher| LogKey {
        name: name.into(),
        higher_is_better: Some(higher),
    };
    let mut m = monitor::Monitor::new("val_auc", Mode::Auto, 0.0);
    begin(&mut m, &[key("auc", true), key("val_auc", true)]).unwrap();
    assert!(m.improves(0.6, Some(0.5)));
    let mut m = monitor::Monitor::new("val_mean_absolute_error", Mode::Auto, 0.0);
    begin(&mut m, &[key("val_mean_absolute_error", false)]).unwrap();
    assert!(m.improves(0.4, Some(0.5)) && !m.improves(0.6, Some(0.5)));
    let mut m = monitor::Monitor::new("learning_rate", Mode::Auto, 0.0);
    assert_eq!(
        begin(&mut m, &[LogKey::plain("learning_rate")])
            .unwrap_err()
            .to_string(),
        "t: cannot tell whether `learning_rate` should fall or rise; set `mode` to Mode::Min or Mode::Max"
    );
}
