//! `fit_stream` and `evaluate_stream` on data read one sample at a time, as a user streams a file
//! too large for memory: the same bits as slices in the same order, a shuffle buffer that
//! resumes exactly, and errors that name the option or the place in the stream.

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;

use dl::data::stream::{self, BoxError, Source};
use dl::metrics::Metric;
use dl::prelude::*;
use dl::train::{evaluate_stream, fit_stream};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct Net {
        input: [4],
        Dense(16, relu),
        Dropout(0.2),
        Dense(3, softmax),
    }
}

type X = SVector<f32, 4>;

/// Three classes: which of the first three features is largest.
fn data(n: usize, seed: u64) -> (Vec<X>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let x = X::from_fn(|_, _| rng.random_range(-1.0..1.0));
            let class = (0..3).max_by(|&a, &b| x[a].total_cmp(&x[b])).unwrap();
            (x, class)
        })
        .unzip()
}

fn bits<M: Model>(m: &M) -> Vec<u32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend(v.iter().map(|x| x.to_bits())));
    w
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dl-streams-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

type Cfg<'v> = Fit<'v, X, usize, SparseCategoricalCrossEntropy, Adam>;

fn cfg<'v>() -> Cfg<'v> {
    Fit {
        epochs: 3,
        batch_size: 16,
        verbose: false,
        ..Fit::default()
    }
}

/// A source over `x`, `y` in stored order.
fn over<'a>(x: &'a [X], y: &'a [usize]) -> impl Source<X, usize> + 'a {
    stream::iter("the vectors", || x.iter().copied().zip(y.iter().copied()))
}

#[test]
fn a_stream_in_stored_order_trains_to_the_bits_of_slices_without_shuffle() {
    let (x, y) = data(203, 1);
    let (vx, vy) = data(50, 2);
    let class_weight = [1.0, 2.0, 0.5];
    let mut by_slices = Net::seeded(3);
    let slices = by_slices
        .fit(
            &x,
            &y,
            Fit {
                shuffle: false,
                validation_data: Some((&vx, &vy)),
                class_weight: Some(&class_weight),
                metrics: vec![Metric::precision(), Metric::auc()],
                ..cfg()
            },
        )
        .unwrap();
    let mut by_stream = Net::seeded(3);
    let mut val = over(&vx, &vy);
    let streamed = fit_stream(
        &mut by_stream,
        &mut over(&x, &y),
        Fit {
            shuffle: false,
            validation_stream: Some(&mut val),
            class_weight: Some(&class_weight),
            metrics: vec![Metric::precision(), Metric::auc()],
            ..cfg()
        },
    )
    .unwrap();
    assert_eq!(bits(&by_stream), bits(&by_slices));
    assert_eq!(streamed.epochs.len(), 3);
    for (s, t) in streamed.epochs.iter().zip(&slices.epochs) {
        assert_eq!(
            (s.loss, s.accuracy, s.val_loss, s.val_accuracy),
            (t.loss, t.accuracy, t.val_loss, t.val_accuracy)
        );
        // The metrics too, training and validation, as the stream's labels are read.
        assert_eq!(s.metrics, t.metrics);
        let keys: Vec<&str> = s.metrics.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["precision", "auc", "val_precision", "val_auc"]);
    }
    // And evaluation reads the stream as evaluate reads the slices.
    let loss = SparseCategoricalCrossEntropy::default();
    assert_eq!(
        evaluate_stream(&by_stream, &mut over(&vx, &vy), &loss).unwrap(),
        by_slices.evaluate(&vx, &vy, &loss).unwrap()
    );
}

#[test]
fn sharded_steps_over_a_stream_equal_sharded_steps_over_slices() {
    let (x, y) = data(100, 4);
    let parallel = Parallel::new(2).with_threads(1);
    let mut by_slices = Net::seeded(5);
    by_slices
        .fit(
            &x,
            &y,
            Fit {
                shuffle: false,
                parallel,
                ..cfg()
            },
        )
        .unwrap();
    let mut by_stream = Net::seeded(5);
    by_stream
        .fit_stream(
            &mut over(&x, &y),
            Fit {
                shuffle: false,
                parallel,
                ..cfg()
            },
        )
        .unwrap();
    assert_eq!(bits(&by_stream), bits(&by_slices));
}

#[test]
fn a_shuffled_stream_resumed_from_a_checkpoint_gives_the_bits_of_an_uninterrupted_run() {
    let (x, y) = data(150, 6);
    let d = dir("resume");
    let path = d.join("ckpt.safetensors");
    let mut straight = Net::seeded(7);
    fit_stream(
        &mut straight,
        &mut over(&x, &y).shuffle(20),
        Fit { seed: 9, ..cfg() },
    )
    .unwrap();

    let mut first = Net::seeded(7);
    fit_stream(
        &mut first,
        &mut over(&x, &y).shuffle(20),
        Fit {
            seed: 9,
            epochs: 1,
            checkpoint: Some(path.clone()),
            ..cfg()
        },
    )
    .unwrap();
    let mut resumed = Net::seeded(0);
    let mut optimizer = Adam::default();
    let epoch = dl::weights::load_checkpoint(&mut resumed, &mut optimizer, &path).unwrap();
    assert_eq!(epoch, 1);
    fit_stream(
        &mut resumed,
        &mut over(&x, &y).shuffle(20),
        Fit {
            seed: 9,
            optimizer,
            initial_epoch: epoch,
            ..cfg()
        },
    )
    .unwrap();
    assert_eq!(bits(&resumed), bits(&straight));

    // Another seed reads another order, so the weights differ.
    let mut other = Net::seeded(7);
    fit_stream(
        &mut other,
        &mut over(&x, &y).shuffle(20),
        Fit { seed: 10, ..cfg() },
    )
    .unwrap();
    assert_ne!(bits(&other), bits(&straight));
    std::fs::remove_dir_all(d).unwrap();
}

/// A source over `x`, `y` whose second epoch fails with a read error after `fail_at` samples,
/// or ends there if `end` (what a run that trained up to the failure saw).
fn failing<'a>(x: &'a [X], y: &'a [usize], fail_at: usize, end: bool) -> impl Source<X, usize> + 'a {
    let epoch = Rc::new(Cell::new(0));
    stream::try_iter("flaky.bin", move || {
        epoch.set(epoch.get() + 1);
        let second = epoch.get() == 2;
        let samples = x.iter().copied().zip(y.iter().copied()).enumerate();
        Ok::<_, BoxError>(samples.map_while(move |(i, s)| match i == fail_at && second {
            true if end => None,
            true => Some(Err(BoxError::from("input/output error"))),
            false => Some(Ok(s)),
        }))
    })
}

#[test]
fn a_read_error_mid_epoch_names_the_source_and_place_and_keeps_the_last_good_weights() {
    let (x, y) = data(100, 8);
    let mut net = Net::seeded(11);
    let e = fit_stream(
        &mut net,
        &mut failing(&x, &y, 50, false),
        Fit {
            shuffle: false,
            ..cfg()
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "reading `flaky.bin` failed after 50 samples of epoch 2: input/output error; training stopped \
         and the weights of the last good step were kept"
    );
    // The batch being read (samples 48 to 63) was never trained on: the weights are those
    // after epoch 1 and the first 3 batches of epoch 2.
    let mut reference = Net::seeded(11);
    fit_stream(
        &mut reference,
        &mut failing(&x, &y, 48, true),
        Fit {
            shuffle: false,
            epochs: 2,
            ..cfg()
        },
    )
    .unwrap();
    assert_eq!(bits(&net), bits(&reference));
}

#[test]
fn bad_samples_in_a_stream_are_errors_naming_the_place() {
    let (mut x, mut y) = data(40, 12);
    y[21] = 3;
    let mut net = Net::seeded(1);
    let before = bits(&net);
    let e = fit_stream(
        &mut net,
        &mut over(&x, &y),
        Fit {
            shuffle: false,
            ..cfg()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("reading `the vectors` failed after 21 samples of epoch 1: bad label"),
        "{e}"
    );
    // The first batch (16 samples) was trained on.
    assert_ne!(bits(&net), before);
    y[21] = 0;
    x[5][2] = f32::NAN;
    let loss = SparseCategoricalCrossEntropy::default();
    let e = net
        .evaluate_stream(&mut over(&x, &y), &loss)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "reading `the vectors` failed after 5 samples: the input holds a non-finite value (NaN)"
    );
}

/// `fit_stream`'s error, checking that the weights were left as they were.
fn refusal(cfg: Cfg<'_>, source: &mut dyn Source<X, usize>) -> String {
    let mut net = Net::seeded(1);
    let before = bits(&net);
    let e = fit_stream(&mut net, source, cfg).unwrap_err().to_string();
    assert_eq!(bits(&net), before, "{e}");
    e
}

#[test]
fn options_a_stream_cannot_honour_are_errors_naming_them() {
    let (x, y) = data(40, 13);
    let e = refusal(cfg(), &mut over(&x, &y));
    assert!(
        e.starts_with("shuffle: `the vectors` has no shuffle buffer"),
        "{e}"
    );
    let e = refusal(
        Fit {
            validation_split: 0.2,
            ..cfg()
        },
        &mut over(&x, &y).shuffle(8),
    );
    assert!(e.starts_with("validation_split: a stream cannot be split"), "{e}");
    let w = vec![1.0; 40];
    let e = refusal(
        Fit {
            sample_weight: Some(&w),
            ..cfg()
        },
        &mut over(&x, &y).shuffle(8),
    );
    assert!(
        e.starts_with("sample_weight: one weight per sample cannot be matched"),
        "{e}"
    );
    let e = refusal(
        Fit {
            class_weight: Some(&[1.0, 2.0]),
            ..cfg()
        },
        &mut over(&x, &y).shuffle(8),
    );
    assert_eq!(e, "class_weight: 2 weights for 3 classes");
    let mut val = over(&x, &y);
    let e = refusal(
        Fit {
            validation_data: Some((&x, &y)),
            validation_stream: Some(&mut val),
            ..cfg()
        },
        &mut over(&x, &y).shuffle(8),
    );
    assert_eq!(
        e,
        "validation_stream: give validation_data or validation_stream, not both"
    );
    let e = refusal(cfg(), &mut over(&x, &y).shuffle(0));
    assert_eq!(
        e,
        "reading `the vectors` failed after 0 samples of epoch 1: the shuffle buffer_size is 0; it must be \
         at least 1; training stopped and the weights of the last good step were kept"
    );
    // Resuming needs the epoch's length, which a filtered iterator does not know.
    let mut unknown = stream::iter("filtered", || {
        x.iter().copied().zip(y.iter().copied()).filter(|_| true)
    });
    let e = refusal(
        Fit {
            initial_epoch: 1,
            shuffle: false,
            ..cfg()
        },
        &mut unknown,
    );
    assert!(e.starts_with("initial_epoch: resuming numbers the steps"), "{e}");
    let mut empty = stream::iter("nothing", std::iter::empty::<(X, usize)>);
    let e = refusal(
        Fit {
            shuffle: false,
            ..cfg()
        },
        &mut empty,
    );
    assert_eq!(e, "the training stream is empty; at least one sample is needed");
}

/// A source that declares a length it does not have.
struct Liar(usize);

impl Source<X, usize> for Liar {
    fn start(&mut self, _: stream::Order) -> Result<(), BoxError> {
        self.0 = 0;
        Ok(())
    }
    fn next(&mut self) -> Option<Result<(X, usize), BoxError>> {
        self.0 += 1;
        (self.0 <= 10).then(|| Ok((X::zeros(), 0)))
    }
    fn name(&self) -> String {
        "liar".into()
    }
    fn epoch_len(&self) -> Option<usize> {
        Some(12)
    }
}

#[test]
fn a_stream_that_yields_another_count_than_it_declares_is_an_error() {
    let mut net = Net::seeded(1);
    let e = fit_stream(
        &mut net,
        &mut Liar(0),
        Fit {
            shuffle: false,
            ..cfg()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with(
            "reading `liar` failed after 10 samples of epoch 1: the source declared 12 samples per epoch"
        ),
        "{e}"
    );
}

#[test]
fn callbacks_and_a_compiled_optimizer_work_on_streams() {
    let (x, y) = data(120, 14);
    let (vx, vy) = data(40, 15);
    let mut stop = EarlyStopping::new("val_loss").with_min_delta(10.0);
    let mut model = Net::seeded(2).compile(SparseCategoricalCrossEntropy::default(), Adam::default());
    let mut source = over(&x, &y).shuffle(32);
    let history = model
        .fit_stream(
            &mut source,
            Fit {
                epochs: 5,
                batch_size: 16,
                verbose: false,
                validation_data: Some((&vx, &vy)),
                callbacks: vec![Box::new(&mut stop)],
                ..Fit::default()
            },
        )
        .unwrap();
    // Nothing improves by 10: EarlyStopping stops after the first epoch.
    assert_eq!(history.epochs.len(), 2);
    assert_eq!(model.optimizer().iterations(), 2 * 8);
    let e = model.evaluate_stream(&mut over(&vx, &vy)).unwrap();
    assert_eq!(Some(e.loss), history.epochs[1].val_loss);
}

#[test]
fn mnist_files_stream_the_digits_that_load_reads() {
    let dir_in = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/mnist");
    let images = format!("{dir_in}/mnist-10k-images-idx3-ubyte.gz");
    let labels = format!("{dir_in}/mnist-10k-labels-idx1-ubyte.gz");
    let (x, y) = dl::data::mnist::load(&images, &labels).unwrap();
    let mut digits = dl::data::mnist::stream(&images, &labels).unwrap();
    digits.start(stream::Order::Stored).unwrap();
    assert_eq!(digits.epoch_len(), Some(10_000));
    for i in 0..300 {
        let (xi, yi) = digits.next().unwrap().unwrap();
        assert!(xi == x[i] && yi == y[i], "digit {i}");
    }

    // A copy cut short inside digit 3: the error names the file and the digit.
    let d = dir("mnist");
    let short = d.join("short-images-idx3-ubyte");
    let short_labels = d.join("short-labels-idx1-ubyte");
    let header = |n: u32, dims: &[u32]| {
        let mut h = vec![0, 0, 8, dims.len() as u8 + 1];
        h.extend(n.to_be_bytes());
        dims.iter().for_each(|d| h.extend(d.to_be_bytes()));
        h
    };
    let mut bytes = header(5, &[28, 28]);
    bytes.extend(std::iter::repeat_n(7u8, 3 * 784 + 100));
    std::fs::write(&short, bytes).unwrap();
    let mut lab = header(5, &[]);
    lab.extend([1, 2, 3, 4, 5]);
    std::fs::write(&short_labels, lab).unwrap();
    let mut net = MnistLinear::seeded(1);
    let e = fit_stream(
        &mut net,
        &mut dl::data::mnist::stream(&short, &short_labels).unwrap(),
        Fit {
            loss: SparseCategoricalCrossEntropy::default(),
            optimizer: Sgd::default(),
            shuffle: false,
            verbose: false,
            ..Fit::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with(&format!(
            "reading `{}` failed after 3 samples of epoch 1: {}: failed to fill whole buffer",
            short.display(),
            short.display()
        )),
        "{e}"
    );
    std::fs::remove_dir_all(d).unwrap();
}

dl::network! {
    struct MnistLinear {
        input: [784],
        Dense(10, softmax),
    }
}
