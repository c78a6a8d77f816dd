//! What the examples compared with Keras print after `fit`.

use dl::prelude::*;

/// Prints the history, each epoch's learning rate and the training time, in which `samples`
/// samples (epochs × training samples) went through the network.
pub fn print(history: &History, time: std::time::Duration, samples: usize) {
    let seconds = time.as_secs_f64();
    println!("{history}");
    let rates: Vec<String> = history
        .epochs
        .iter()
        .map(|e| e.learning_rate.map_or("-".into(), |r| format!("{r}")))
        .collect();
    println!("learning rate by epoch: {}", rates.join(", "));
    println!(
        "training: {seconds:.1} s ({:.0} samples/s)",
        samples as f64 / seconds
    );
}
