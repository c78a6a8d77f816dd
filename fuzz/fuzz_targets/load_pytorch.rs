//! Feeds arbitrary bytes to the PyTorch `state_dict` loader: it must never panic, and a refused
//! file must leave the network unchanged; an accepted one exports back to a file that loads the
//! same.

#![no_main]

use dl::{Model, weights::pytorch};
use dl_fuzz::{Net, bits};
use libfuzzer_sys::fuzz_target;

const MODULES: [&str; 3] = ["fc1", "fc2", "fc3"];

fuzz_target!(|data: &[u8]| {
    let mut net = Net::zeros();
    net.for_each_param_mut(|_, _, v| v.iter_mut().enumerate().for_each(|(i, w)| *w = i as f32 * 0.5));
    let before = bits(&net);
    match pytorch::from_pytorch_bytes(&mut net, data, &MODULES) {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert_eq!(bits(&net), before, "a refused file changed the network");
        }
        Ok(()) => {
            let again = pytorch::to_pytorch_bytes(&net, &MODULES).expect("loaded weights are finite");
            let mut copy = Net::zeros();
            pytorch::from_pytorch_bytes(&mut copy, &again, &MODULES).expect("what dl writes, dl reads");
            assert_eq!(bits(&copy), bits(&net));
        }
    }
});
