//! A compiled network keeps its optimizer across `fit` calls, as Keras's `fit` does after
//! `compile`.

use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

dl::network! {
    struct Rings {
        input: [2],
        hidden: Dense(16, tanh),
        Dense(3, softmax),
    }
}

fn data(n: usize) -> (Vec<SVector<f32, 2>>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    (0..n)
        .map(|_| {
            let p = SVector::<f32, 2>::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
            let class = ((p.norm() * 3.0) as usize).min(2);
            (p, class)
        })
        .unzip()
}

fn bits<M: Model>(m: &M) -> Vec<u32> {
    let mut w = Vec::new();
    m.for_each_param(|_, _, v| w.extend(v.iter().map(|x| x.to_bits())));
    w
}

fn net() -> Rings {
    Rings::new(&mut ChaCha8Rng::seed_from_u64(7))
}

fn quiet(initial_epoch: usize, epochs: usize) -> Fit<'static, SVector<f32, 2>, usize, (), ()> {
    Fit {
        initial_epoch,
        epochs,
        batch_size: 16,
        verbose: false,
        ..Fit::default()
    }
}

#[test]
fn a_second_fit_continues_adams_moments_and_step_count() {
    let (x, y) = data(100);
    let loss = SparseCategoricalCrossEntropy::default();
    let mut whole = net().compile(loss, Adam::new(0.01));
    whole.fit(&x, &y, quiet(0, 3)).unwrap();

    let mut parts = net().compile(loss, Adam::new(0.01));
    parts.fit(&x, &y, quiet(0, 1)).unwrap();
    assert_eq!(parts.optimizer().iterations(), 7, "100 samples in batches of 16");
    parts.fit(&x, &y, quiet(1, 3)).unwrap();
    assert_eq!(parts.optimizer().iterations(), 21);
    assert_eq!(bits(&*parts), bits(&*whole));

    // The network's own `fit` takes a fresh optimizer each call, so the moments restart: the
    // difference the compiled model makes.
    let mut plain = net();
    let cfg = |initial_epoch, epochs| Fit {
        loss,
        optimizer: Adam::new(0.01),
        initial_epoch,
        epochs,
        batch_size: 16,
        verbose: false,
        ..Fit::default()
    };
    plain.fit(&x, &y, cfg(0, 1)).unwrap();
    plain.fit(&x, &y, cfg(1, 3)).unwrap();
    assert_ne!(bits(&plain), bits(&*whole));
}

#[test]
fn reset_optimizer_trains_as_a_freshly_compiled_network() {
    let (x, y) = data(64);
    let loss = SparseCategoricalCrossEntropy::default();
    let mut model = net().compile(loss, Adam::new(0.01));
    model.fit(&x, &y, quiet(0, 2)).unwrap();
    let trained = Rings::clone(&model);

    model.reset_optimizer().unwrap();
    assert_eq!(model.optimizer().iterations(), 0);
    assert!(model.optimizer().state().iter().all(|(_, v)| v.is_empty()));
    model.fit(&x, &y, quiet(0, 1)).unwrap();

    let mut fresh = trained.compile(loss, Adam::new(0.01));
    fresh.fit(&x, &y, quiet(0, 1)).unwrap();
    assert_eq!(bits(&*model), bits(&*fresh));
}

#[test]
fn a_checkpoint_carries_the_optimizer_into_a_new_compiled_network() {
    let dir = std::env::temp_dir().join(format!("dl-compiled-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.safetensors");
    let (x, y) = data(80);
    let loss = SparseCategoricalCrossEntropy::default();
    let mut whole = net().compile(loss, RmsProp::new(0.01));
    whole.fit(&x, &y, quiet(0, 4)).unwrap();

    let mut first = net().compile(loss, RmsProp::new(0.01));
    first.fit(&x, &y, quiet(0, 2)).unwrap();
    first.save_checkpoint(2, &path).unwrap();
    // Another process: fresh weights and optimizer, both restored from the file.
    let mut resumed = Rings::zeros().compile(loss, RmsProp::new(0.01));
    let epoch = resumed.load_checkpoint(&path).unwrap();
    assert_eq!(epoch, 2);
    assert_eq!(resumed.optimizer().iterations(), 10);
    resumed.fit(&x, &y, quiet(epoch, 4)).unwrap();
    assert_eq!(bits(&*resumed), bits(&*whole));
    std::fs::remove_dir_all(&dir).unwrap();
}
