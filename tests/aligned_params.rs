//! Every parameter and state tensor starts on a 64-byte boundary (a cache line, one AVX-512
//! vector), in new networks, their clones and their zero (gradient) networks, so that the GEMM
//! and matrix–vector kernels never read weights straddling cache lines.

#[path = "common/tutorial_nets.rs"]
mod tutorial_nets;

use dl::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tutorial_nets::{MnistCnn, TextLstm, Tutorial};

dl::network! {
    struct Recurrent {
        input: tokens[12],
        Embedding(50, 7, mask_zero = true),
        Bidirectional(GRU(5, return_sequences = true)),
        SimpleRNN(3, return_sequences = true),
        Bidirectional(LSTM(6)),
        BatchNormalization(),
        Dense(2, softmax),
    }
}

/// The `layer.tensor` names of the tensors of `m` that are not on a 64-byte boundary, and how
/// many tensors were seen.
fn misaligned<M: Model>(m: &M) -> (Vec<String>, usize) {
    let (mut bad, mut seen) = (Vec::new(), 0);
    let mut check = |layer: &str, tensor: &str, v: &[f32]| {
        seen += 1;
        if v.as_ptr().align_offset(64) != 0 {
            bad.push(format!("{layer}.{tensor} at {:p}", v.as_ptr()));
        }
    };
    m.for_each_param(&mut check);
    m.for_each_state(&mut check);
    (bad, seen)
}

fn assert_aligned<M: Model + Clone>(m: &M, tensors: usize) {
    for (what, net) in [("new", m), ("clone", &m.clone()), ("zeros", &M::zeros())] {
        let (bad, seen) = misaligned(net);
        assert_eq!(seen, tensors, "{what}: tensor count");
        assert!(bad.is_empty(), "{what}: misaligned tensors {bad:?}");
    }
}

#[test]
fn tutorial_mlp_parameters_start_on_cache_lines() {
    assert_aligned(&Tutorial::new(&mut ChaCha8Rng::seed_from_u64(1)), 6);
}

#[test]
fn mnist_cnn_parameters_start_on_cache_lines() {
    assert_aligned(&MnistCnn::new(&mut ChaCha8Rng::seed_from_u64(2)), 8);
}

#[test]
fn text_lstm_parameters_start_on_cache_lines() {
    assert_aligned(&TextLstm::new(&mut ChaCha8Rng::seed_from_u64(3)), 8);
}

#[test]
fn gru_rnn_bidirectional_and_batch_norm_parameters_start_on_cache_lines() {
    // Embedding 1, 2 × GRU 3, SimpleRNN 3, 2 × LSTM 3, BatchNormalization 2 + 2 states, Dense 2.
    assert_aligned(
        &Recurrent::new(&mut ChaCha8Rng::seed_from_u64(4)),
        1 + 6 + 3 + 6 + 4 + 2,
    );
}
