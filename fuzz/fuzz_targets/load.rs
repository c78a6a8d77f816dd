//! Feeds arbitrary bytes to the weights and checkpoint loaders. They must never panic, read out
//! of bounds or allocate by a size the file claims; a refused file must leave the network and
//! the optimizer unchanged; an accepted one must write back to a file that loads the same.

#![no_main]

use dl::{Adam, Model, Optimizer, weights};
use dl_fuzz::{Net, bits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut net = Net::zeros();
    net.for_each_param_mut(|_, _, v| v.iter_mut().enumerate().for_each(|(i, w)| *w = i as f32 * 0.5));
    let before = bits(&net);

    match weights::from_bytes(&mut net, data) {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert_eq!(bits(&net), before, "a refused file changed the network");
        }
        Ok(()) => {
            let again = weights::to_bytes(&net).expect("loaded weights are finite");
            let mut copy = Net::zeros();
            weights::from_bytes(&mut copy, &again).expect("what dl writes, dl reads");
            assert_eq!(bits(&copy), bits(&net));
        }
    }

    let mut net = Net::zeros();
    let mut adam = Adam::default();
    match weights::checkpoint_from_bytes(&mut net, &mut adam, data) {
        Err(_) => {
            assert_eq!(bits(&net), bits(&Net::zeros()));
            assert_eq!(adam.iterations(), 0);
            assert!(adam.state().iter().all(|(_, v)| v.is_empty()));
        }
        Ok(epoch) => {
            let again = weights::checkpoint_to_bytes(&net, &adam, epoch).expect("finite");
            let (mut copy, mut opt) = (Net::zeros(), Adam::default());
            assert_eq!(
                weights::checkpoint_from_bytes(&mut copy, &mut opt, &again).unwrap(),
                epoch
            );
            assert_eq!(bits(&copy), bits(&net));
            assert_eq!(opt.iterations(), adam.iterations());
        }
    }
});
