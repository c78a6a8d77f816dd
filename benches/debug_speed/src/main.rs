//! Training speed of a user's crate in each profile (`run.sh` builds and runs the four): the
//! tutorial MLP and CNN, `Trainer::train_on_batch` at batch 32 with Adam, for the seconds given.
use dl::prelude::*;
use std::time::Instant;

dl::network! {
    pub struct Mlp { input: [10], Dense(64, relu), Dense(64, relu), Dense(1, sigmoid) }
}

dl::network! {
    pub struct Cnn {
        input: [28, 28, 1],
        Conv2D(32, (3, 3), relu), MaxPooling2D((2, 2)),
        Conv2D(64, (3, 3), relu), MaxPooling2D((2, 2)),
        Flatten, Dense(64, relu), Dense(10, softmax),
    }
}

fn rate<M: Model, L: Loss<M::Head>>(net: &mut M, x: &[M::Input], y: &[L::Target], loss: L, secs: f64) -> f64 {
    let mut t = Trainer::<M, L, Adam>::new(loss, Adam::default(), None);
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed().as_secs_f64() < secs {
        for (xb, yb) in x.chunks(32).zip(y.chunks(32)) {
            t.train_on_batch(net, xb, yb).unwrap();
            n += xb.len();
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let secs: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let x: Vec<SVector<f32, 10>> = (0..1024).map(|i| SVector::from_fn(|j, _| ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5)).collect();
    let y: Vec<f32> = (0..1024).map(|i| (i % 2) as f32).collect();
    let mut mlp = Mlp::seeded(1);
    println!("tutorial MLP: {:.0} samples/s", rate(&mut mlp, &x, &y, BinaryCrossEntropy::default(), secs));
    let x: Vec<SVector<f32, 784>> = (0..64).map(|i| SVector::from_fn(|j, _| ((i * 13 + j * 5) % 17) as f32 / 17.0)).collect();
    let y: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let mut cnn = Cnn::seeded(1);
    println!("tutorial CNN: {:.1} samples/s", rate(&mut cnn, &x, &y, SparseCategoricalCrossEntropy::default(), secs));
}
