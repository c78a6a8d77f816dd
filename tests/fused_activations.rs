//! Activation layers that the layer before them applies in training (`network!` fuses them,
//! `dl-macros/src/fuse.rs`): `Activation('relu')` after a `BatchNormalization` or an `Add` that
//! it alone reads. `Rescaling(1.0)` between the two, an exact identity, keeps them apart: both
//! networks must train to the same bits, and the fused relu holds no buffer.

use dl::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

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

macro_rules! fused_and_apart {
    ($fused:ident, $apart:ident, [$($head:tt)*], [$($tail:tt)*]) => {
        dl::network! {
            struct $fused {
                input: [6, 6, 2],
                $($head)*
                Activation(relu),
                $($tail)*
            }
        }
        dl::network! {
            struct $apart {
                input: [6, 6, 2],
                $($head)*
                Rescaling(1.0),
                Activation(relu),
                $($tail)*
            }
        }
    };
}

fused_and_apart!(
    ChainFused,
    ChainApart,
    [Conv2D(4, (3, 3)), BatchNormalization(momentum = 0.8),],
    [
        Flatten,
        Dense(6),
        BatchNormalization(),
        Activation(relu),
        Dense(3, softmax),
    ]
);
fused_and_apart!(
    SumFused,
    SumApart,
    [c: Conv2D(4, (3, 3), padding = same), BatchNormalization(), r: Conv2D(4, (3, 3), padding = same), Add(c, r),],
    [Conv2D(2, (3, 3)), Flatten, Dense(3, softmax),]
);
fused_and_apart!(
    ResidualFused,
    ResidualApart,
    [c: Conv2D(4, (3, 3), padding = same), b: BatchNormalization(),],
    [r: Conv2D(4, (3, 3), padding = same), Add(c, r), Flatten, Dense(3, softmax),]
);

/// Three Adam steps on the same batch from the same weights: every parameter and every moving
/// statistic of the two networks, bit for bit.
fn trains_alike<
    F: Model<Input = SVector<f32, 72>, Head = dl::head::Units<3>>,
    A: Model<Input = SVector<f32, 72>, Head = dl::head::Units<3>>,
>(
    mut fused: F,
    mut apart: A,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x: Vec<SVector<f32, 72>> = (0..16)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let y: Vec<usize> = (0..16).map(|i| i % 3).collect();
    let loss = SparseCategoricalCrossEntropy::default();
    let mut tf = Trainer::<F, _, _>::new(loss, Adam::default(), None);
    let mut ta = Trainer::<A, _, _>::new(loss, Adam::default(), None);
    let bits = |v: Vec<Vec<f32>>| -> Vec<Vec<u32>> {
        v.into_iter()
            .map(|t| t.into_iter().map(f32::to_bits).collect())
            .collect()
    };
    for step in 0..3 {
        let lf = tf.train_on_batch(&mut fused, &x, &y).unwrap();
        let la = ta.train_on_batch(&mut apart, &x, &y).unwrap();
        assert_eq!(lf.loss().to_bits(), la.loss().to_bits(), "loss of step {step}");
        assert_eq!(
            bits(params(&fused)),
            bits(params(&apart)),
            "weights after step {step}"
        );
        let stats = |s: Vec<(String, Vec<f32>)>| bits(s.into_iter().map(|(_, v)| v).collect());
        assert_eq!(
            stats(state(&fused)),
            stats(state(&apart)),
            "moving statistics after step {step}"
        );
    }
}

#[test]
fn a_relu_applied_by_the_normalization_trains_to_the_bits_of_a_separate_one() {
    trains_alike(ChainFused::seeded(9), ChainApart::seeded(9));
    trains_alike(ResidualFused::seeded(9), ResidualApart::seeded(9));
    // The fused relu holds no buffers of its own: the apart chain has two more layers holding
    // an output and its gradient of 4×4×4 floats each.
    const {
        assert!(
            ChainApart::TRAINING_BYTES_PER_SAMPLE - ChainFused::TRAINING_BYTES_PER_SAMPLE == 2 * 2 * 64 * 4
        )
    };
}

#[test]
fn a_relu_applied_by_an_add_trains_to_the_bits_of_a_separate_one() {
    trains_alike(SumFused::seeded(9), SumApart::seeded(9));
    // Here too: two layers of 6×6×4 floats more, each an output and its gradient.
    const { assert!(SumApart::TRAINING_BYTES_PER_SAMPLE - SumFused::TRAINING_BYTES_PER_SAMPLE == 2 * 2 * 144 * 4) };
}
