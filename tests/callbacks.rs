//! Keras's callbacks in `fit`, as users pass them.

use std::path::PathBuf;

use dl::prelude::*;
use dl::train::{BatchLog, Context, EpochLog};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct Net {
        input: [4],
        Dense(16, tanh),
        Dense(1),
    }
}

type X = SVector<f32, 4>;

/// `y = w·x` on the training set; the validation set's targets are the opposite, so validation
/// loss rises as training fits (early stopping has something to find).
fn data(n: usize, sign: f32) -> (Vec<X>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    (0..n)
        .map(|_| {
            let x = X::from_fn(|_, _| rng.random_range(-1.0..1.0));
            (x, sign * (x[0] - 0.5 * x[1] + 0.25 * x[2] * x[3]))
        })
        .unzip()
}

fn bits<M: Model>(m: &M) -> Vec<u32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend(v.iter().map(|x| x.to_bits())));
    w
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dl-callbacks-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn net() -> Net {
    Net::new(&mut ChaCha8Rng::seed_from_u64(4))
}

/// A user callback sees Keras's hooks in order, reads the logs, and stops training.
#[derive(Default)]
struct Recorder {
    events: Vec<String>,
    stop_after: usize,
}

impl Callback for Recorder {
    fn on_train_begin(&mut self, ctx: &mut Context<'_>) -> dl::Result<()> {
        self.events.push(format!("train_begin {:?}", ctx.keys()));
        Ok(())
    }
    fn on_epoch_begin(&mut self, epoch: usize, _: &mut Context<'_>) -> dl::Result<()> {
        self.events.push(format!("epoch_begin {epoch}"));
        Ok(())
    }
    fn on_batch_end(&mut self, log: &BatchLog, _: &mut Context<'_>) -> dl::Result<()> {
        assert!(log.loss.is_finite() && !log.refused);
        self.events.push(format!("batch_end {}.{}", log.epoch, log.batch));
        Ok(())
    }
    fn on_epoch_end(&mut self, log: &EpochLog, ctx: &mut Context<'_>) -> dl::Result<()> {
        assert_eq!(log.get("val_loss"), log.val_loss);
        self.events.push(format!("epoch_end {}", log.epoch));
        if log.epoch == self.stop_after {
            ctx.stop_training();
        }
        Ok(())
    }
    fn on_train_end(&mut self, _: &mut Context<'_>) -> dl::Result<()> {
        self.events.push("train_end".into());
        Ok(())
    }
}

#[test]
fn a_user_callback_sees_keras_hooks_and_can_stop_training() {
    let (x, y) = data(40, 1.0);
    let mut recorder = Recorder {
        stop_after: 2,
        ..Recorder::default()
    };
    let history = net()
        .fit(
            &x,
            &y,
            Fit {
                loss: MeanSquaredError,
                optimizer: Adam::default(),
                epochs: 5,
                batch_size: 16,
                validation_split: 0.25,
                verbose: false,
                callbacks: vec![Box::new(&mut recorder)],
                ..Fit::default()
            },
        )
        .unwrap();
    assert_eq!(history.epochs.len(), 2);
    assert_eq!(
        recorder.events,
        [
            r#"train_begin ["loss", "val_loss", "learning_rate"]"#,
            "epoch_begin 1",
            "batch_end 1.1",
            "batch_end 1.2",
            "epoch_end 1",
            "epoch_begin 2",
            "batch_end 2.1",
            "batch_end 2.2",
            "epoch_end 2",
            "train_end",
        ]
    );
}

/// A step whose loss overflows is never applied. Without `TerminateOnNaN` `fit` is an `Err`;
/// with it, `Ok` with the weights of the last good step, as Keras returns.
#[test]
fn terminate_on_nan_turns_a_refused_step_into_a_normal_end() {
    let (x, mut y) = data(32, 1.0);
    y[20] = 1e30;
    let cfg = |callbacks: Vec<Box<dyn Callback>>| Fit {
        loss: MeanSquaredError,
        optimizer: Sgd::new(0.01),
        epochs: 3,
        batch_size: 8,
        shuffle: false,
        verbose: false,
        callbacks,
        ..Fit::default()
    };
    let mut plain = net();
    let err = plain.fit(&x, &y, cfg(Vec::new())).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFiniteLoss {
                epoch: 1,
                batch: 3,
                ..
            }
        ),
        "{err}"
    );

    let mut stopped = net();
    let history = stopped.fit(&x, &y, cfg(vec![Box::new(TerminateOnNaN)])).unwrap();
    assert_eq!(
        history.epochs.len(),
        1,
        "the epoch of the refused batch is logged, then training ends"
    );
    assert!(history.epochs[0].loss.is_infinite());
    // Both stopped before the same batch: the same finite weights.
    assert_eq!(bits(&stopped), bits(&plain));
    assert!(bits(&stopped).iter().all(|&b| f32::from_bits(b).is_finite()));
}

/// EarlyStopping with `restore_best_weights` ends with the weights of the best validation epoch:
/// those `ModelCheckpoint(save_best_only)` wrote, whose validation loss is the history's lowest.
#[test]
fn early_stopping_restores_the_weights_model_checkpoint_kept_as_best() {
    let d = dir("best");
    let (x, y) = data(64, 1.0);
    let (vx, vy) = data(32, -1.0);
    let best_path = d.join("best.safetensors");
    let mut stopper = EarlyStopping::new("val_loss")
        .with_patience(2)
        .with_restore_best_weights(true);
    let mut model = net();
    let history = model
        .fit(
            &x,
            &y,
            Fit {
                loss: MeanSquaredError,
                optimizer: Adam::new(0.01),
                epochs: 30,
                batch_size: 16,
                validation_data: Some((&vx, &vy)),
                verbose: false,
                callbacks: vec![
                    Box::new(
                        ModelCheckpoint::new(best_path.to_str().unwrap())
                            .with_save_best_only(true)
                            .with_save_weights_only(true),
                    ),
                    Box::new(&mut stopper),
                ],
                ..Fit::default()
            },
        )
        .unwrap();
    let stopped = stopper
        .stopped_epoch()
        .expect("validation loss rises, so training stops early");
    assert_eq!(history.epochs.len(), stopped);
    let (best_epoch, best) = stopper.best().unwrap();
    let val = history.val_loss();
    let lowest = val.iter().copied().fold(f32::INFINITY, f32::min);
    assert_eq!((val[best_epoch - 1], best), (lowest, f64::from(lowest)));
    assert_eq!(stopped, best_epoch + 2, "patience 2");
    let mut saved = Net::zeros();
    saved.load(&best_path).unwrap();
    assert_eq!(bits(&model), bits(&saved));
    assert_eq!(model.evaluate(&vx, &vy, &MeanSquaredError).unwrap().loss, lowest);
    std::fs::remove_dir_all(&d).unwrap();
}

/// ModelCheckpoint's file name pattern, its full checkpoints (resumable), CSVLogger's rows and
/// LearningRateScheduler's rates, in one run.
#[test]
fn checkpoints_csv_rows_and_scheduled_rates_follow_the_epochs() {
    let d = dir("files");
    let (x, y) = data(48, 1.0);
    let csv = d.join("log.csv");
    let pattern = format!("{}/ck-{{epoch:02d}}-{{loss:.3f}}.safetensors", d.display());
    let history = net()
        .fit(
            &x,
            &y,
            Fit {
                loss: MeanSquaredError,
                optimizer: Adam::new(0.01),
                epochs: 3,
                batch_size: 16,
                verbose: false,
                callbacks: vec![
                    Box::new(LearningRateScheduler::new(
                        |epoch, lr| if epoch == 0 { lr } else { lr / 2.0 },
                    )),
                    Box::new(ModelCheckpoint::new(pattern)),
                    Box::new(CSVLogger::new(&csv)),
                ],
                ..Fit::default()
            },
        )
        .unwrap();
    let rates: Vec<Option<f32>> = history.epochs.iter().map(|e| e.learning_rate).collect();
    assert_eq!(rates, [Some(0.01), Some(0.005), Some(0.0025)]);
    assert_eq!(history.learning_rate(), [0.01, 0.005, 0.0025]);
    assert_eq!(history.get("loss"), history.loss());
    assert!(history.accuracy().is_empty() && history.val_loss().is_empty());

    for log in &history.epochs {
        let path = d.join(format!("ck-{:02}-{:.3}.safetensors", log.epoch, log.loss));
        let (mut resumed, mut adam) = (Net::zeros(), Adam::default());
        let epoch = dl::weights::load_checkpoint(&mut resumed, &mut adam, &path).unwrap();
        assert_eq!(epoch, log.epoch);
        assert_eq!(adam.iterations() as usize, 3 * log.epoch);
        assert_eq!(adam.learning_rate, log.learning_rate.unwrap());
    }

    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "epoch,learning_rate,loss,val_learning_rate,val_loss");
    for (line, log) in lines[1..].iter().zip(&history.epochs) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(
            cells[0],
            (log.epoch - 1).to_string(),
            "Keras's 0-based epoch index"
        );
        assert_eq!(
            cells[1].parse::<f64>().unwrap() as f32,
            log.learning_rate.unwrap()
        );
        assert_eq!(cells[2].parse::<f64>().unwrap() as f32, log.loss);
        assert_eq!(&cells[3..], ["NA", "NA"]);
    }
    assert_eq!(lines.len(), 4);
    std::fs::remove_dir_all(&d).unwrap();
}

/// A bad option is an `Err` before the first step, naming the callback and the option.
#[test]
fn a_callback_that_cannot_work_is_refused_before_training() {
    let (x, y) = data(16, 1.0);
    let mut model = net();
    let before = bits(&model);
    let err = model
        .fit(
            &x,
            &y,
            Fit {
                loss: MeanSquaredError,
                optimizer: Sgd::default(),
                verbose: false,
                callbacks: vec![Box::new(EarlyStopping::default())],
                ..Fit::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "EarlyStopping: `monitor` is `val_loss`, which the logs do not hold (they hold loss, learning_rate)"
    );
    assert_eq!(bits(&model), before);
}
