//! Loads arbitrary bytes as a checkpoint and, when they load, resumes training for one step, as
//! a user resuming a run would. Nothing may panic; a refused file changes nothing; training
//! from a loaded checkpoint either returns `Ok` with finite weights or an `Err` that keeps
//! finite weights (here those loaded, as the one step is the first).

#![no_main]

use dl::prelude::*;
use dl::{Model, weights};
use dl_fuzz::{Net, bits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut net = Net::zeros();
    let mut adam = Adam::default();
    let epoch = match weights::checkpoint_from_bytes(&mut net, &mut adam, data) {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert_eq!(bits(&net), bits(&Net::zeros()));
            return;
        }
        Ok(epoch) => epoch,
    };
    let loaded = bits(&net);
    // Four samples, one batch: one step.
    let x = [
        SVector::<f32, 3>::new(0.5, -1.0, 2.0),
        SVector::<f32, 3>::new(-0.25, 0.75, 0.0),
        SVector::<f32, 3>::new(1.0, 1.0, -1.0),
        SVector::<f32, 3>::new(0.0, -2.0, 0.5),
    ];
    let y = [0usize, 1, 1, 0];
    let result = net.fit(
        &x,
        &y,
        Fit {
            loss: SparseCategoricalCrossEntropy::default(),
            optimizer: adam,
            initial_epoch: epoch,
            epochs: epoch.saturating_add(1),
            batch_size: 4,
            verbose: false,
            ..Fit::default()
        },
    );
    let mut finite = true;
    net.for_each_param(|_, _, v| finite &= v.iter().all(|w| w.is_finite()));
    match result {
        Ok(_) => assert!(finite, "fit returned Ok with non-finite weights"),
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert_eq!(
                bits(&net),
                loaded,
                "a refused first step changed the weights: {e}"
            );
        }
    }
});
