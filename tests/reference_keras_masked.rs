//! Reference test against Keras 3 (TensorFlow backend) for `Embedding(mask_zero = true)`: `dl`
//! reproduces, within 1e-5 relative (the measure of `tests/common/keras_reference.rs`), the
//! outputs, mean loss, gradients and the weights after three Adam steps that Keras computed for
//! the same text networks, weights and padded batch.
//!
//! The fixtures are `dl-runtime/tests/fixtures/keras_recurrent/masked_*.json`, written by
//! `make_fixtures.py` there; Python is not needed to run this test. The padding sits at the
//! start, in the middle and at the end of samples, and the LSTM case holds an all-padding
//! sample. Two more wrap the recurrent layer in `Bidirectional`, one of them without a mask.

use dl::Sample;
use dl::prelude::*;
use serde_json::Value;

mod common;
use common::keras_reference::{Checker, check_outputs_and_training, floats, reference};

dl::network! {
    /// A masked LSTM read at its last unpadded step.
    struct MaskedLstm {
        input: tokens[7],
        Embedding(20, 6, mask_zero = true),
        LSTM(5),
        Dense(3, softmax),
    }
}

dl::network! {
    /// A masked GRU's states averaged over the unpadded steps.
    struct MaskedGruPool {
        input: tokens[7],
        Embedding(20, 6, mask_zero = true),
        GRU(5, return_sequences = true),
        GlobalAveragePooling1D,
        Dense(3, softmax),
    }
}

dl::network! {
    /// Both directions of an LSTM over an unmasked batch (its zeros are ordinary ids).
    struct BidirectionalLstm {
        input: tokens[7],
        Embedding(20, 6),
        Bidirectional(LSTM(5)),
        Dense(3, softmax),
    }
}

dl::network! {
    /// Both directions of a masked GRU, averaged over the unpadded steps.
    struct MaskedBidirectionalGruPool {
        input: tokens[7],
        Embedding(20, 6, mask_zero = true),
        Bidirectional(GRU(5, return_sequences = true)),
        GlobalAveragePooling1D,
        Dense(3, softmax),
    }
}

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!(
            "../dl-runtime/tests/fixtures/keras_recurrent/",
            $name,
            ".json"
        )))
        .expect(concat!("fixture ", $name, " is valid JSON"))
    };
}

/// Reproduces one fixture with the network `M` (sparse categorical cross-entropy on a softmax).
fn check<M>(case: &'static str, fx: Value)
where
    M: Model,
    M::Input: Sample<Elem = u32>,
    SparseCategoricalCrossEntropy: Loss<M::Head, Target = usize>,
{
    assert_eq!(fx["name"], case);
    let mut c = Checker::new(case);
    let mut net = M::zeros();
    let params = fx["params"].as_array().expect("params");
    let mut i = 0;
    net.for_each_param_mut(|layer, tensor, values| {
        let p = &params[i];
        assert_eq!(
            (p["layer"].as_str(), p["tensor"].as_str()),
            (Some(layer), Some(tensor))
        );
        values.copy_from_slice(&floats(&p["values"]));
        i += 1;
    });
    assert_eq!(i, params.len(), "{case}: number of parameter tensors");

    let ids: Vec<u32> = fx["tokens"]
        .as_array()
        .expect("token ids")
        .iter()
        .map(|v| v.as_u64().expect("an id") as u32)
        .collect();
    let x: Vec<M::Input> = ids
        .chunks_exact(M::Input::LEN)
        .map(M::Input::from_elems)
        .collect();
    assert_eq!(x.len(), fx["batch"].as_u64().unwrap() as usize);
    let y: Vec<usize> = fx["y"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|v| v.as_u64().expect("a class") as usize)
        .collect();
    let want_out = reference(&fx["outputs"]);

    // The gradients include the padding id's embedding row, which receives none.
    let loss = SparseCategoricalCrossEntropy::default();
    check_outputs_and_training(&mut c, &mut net, &x, &y, &want_out, loss, &fx);
    c.finish();
}

#[test]
fn masked_lstm_last_step() {
    check::<MaskedLstm>("masked_lstm", fixture!("masked_lstm"));
}

#[test]
fn masked_gru_sequences_average_pooled() {
    check::<MaskedGruPool>("masked_gru_pool", fixture!("masked_gru_pool"));
}

#[test]
fn bidirectional_lstm() {
    check::<BidirectionalLstm>("bidirectional_lstm", fixture!("bidirectional_lstm"));
}

#[test]
fn masked_bidirectional_gru_sequences_average_pooled() {
    check::<MaskedBidirectionalGruPool>(
        "masked_bidirectional_gru_pool",
        fixture!("masked_bidirectional_gru_pool"),
    );
}

// ---------------------------------------------------------------------------------------------
// The mask through `Dense` per time step and `Dropout` (no Keras fixture: properties that hold
// exactly).

dl::network! {
    /// The mask passes through a per-step Dense and a Dropout before the GRU consumes it with
    /// `return_sequences`, and the pooling consumes it again.
    struct MaskThroughDense {
        input: tokens[6],
        Embedding(12, 4, mask_zero = true),
        Dense(5, tanh),
        Dropout(0.25),
        GRU(3, return_sequences = true),
        GlobalAveragePooling1D,
        Dense(2, softmax),
    }
}

/// Padded steps do not matter: the padding id's embedding row can be anything without changing
/// an output or a loss, it receives no gradient, and an all-padding sample gives finite outputs
/// (the pooling's zeros through the head).
#[test]
fn padding_does_not_reach_the_outputs() {
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let mut net = MaskThroughDense::new(&mut rng);
    let ids: [[u32; 6]; 4] = [
        [0, 0, 3, 4, 5, 1],
        [2, 0, 7, 0, 11, 0],
        [0; 6],
        [1, 2, 3, 4, 5, 6],
    ];
    let x: Vec<Tokens<6, 12>> = ids.iter().map(|s| Tokens::new(*s).unwrap()).collect();
    let y = [0usize, 1, 0, 1];
    let run = |net: &MaskThroughDense| {
        let out: Vec<f32> = x.iter().flat_map(|s| net.forward(s).elems().to_vec()).collect();
        let mut trainer = Trainer::<MaskThroughDense, _, Adam>::new(
            SparseCategoricalCrossEntropy::default(),
            Adam::default(),
            None,
        );
        let loss = trainer.compute_gradients(net, &x, &y).unwrap().loss();
        let mut padding_row = Vec::new();
        trainer.gradients().for_each_param(|layer, _, g| {
            if layer == "embedding" {
                padding_row = g[..4].to_vec();
            }
        });
        (out, loss, padding_row)
    };
    let (out, loss, padding_row) = run(&net);
    assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
    assert_eq!(padding_row, [0.0; 4], "the padding row's gradient");
    net.for_each_param_mut(|layer, _, p| {
        if layer == "embedding" {
            p[..4].copy_from_slice(&[5.0, -3.0, 0.5, 2.0]);
        }
    });
    let (out2, loss2, padding_row2) = run(&net);
    assert_eq!(out2, out, "outputs depend on the padding row");
    assert_eq!(loss2, loss, "the loss depends on the padding row");
    assert_eq!(padding_row2, [0.0; 4]);
}

// ---------------------------------------------------------------------------------------------
// `Bidirectional` in the summary and in weight files.

/// Keras's `summary()` of the same network (Keras 3.15), its shapes of the tensors named
/// `bidirectional.forward_lstm.kernel`, …, and a weight file round trip under those names.
#[test]
fn bidirectional_summary_shapes_and_weight_file() {
    let text = BidirectionalLstm::zeros().summary().to_string();
    for line in [
        " bidirectional (Bidirectional)",
        "(None, 10)",
        "Total params: 633 (2.47 KB)\n",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    let rows: Vec<usize> = BidirectionalLstm::LAYERS.iter().map(|l| l.params).collect();
    assert_eq!(rows, [120, 480, 33]);
    let rows: Vec<usize> = MaskedBidirectionalGruPool::LAYERS
        .iter()
        .map(|l| l.params)
        .collect();
    assert_eq!(rows, [120, 390, 0, 33]);
    let shapes: Vec<(&str, &str, &[usize])> = BidirectionalLstm::PARAM_SHAPES.to_vec();
    assert_eq!(
        shapes[1..7],
        [
            ("bidirectional", "forward_lstm.kernel", &[6, 20][..]),
            ("bidirectional", "forward_lstm.recurrent_kernel", &[5, 20]),
            ("bidirectional", "forward_lstm.bias", &[20]),
            ("bidirectional", "backward_lstm.kernel", &[6, 20]),
            ("bidirectional", "backward_lstm.recurrent_kernel", &[5, 20]),
            ("bidirectional", "backward_lstm.bias", &[20]),
        ]
    );

    use rand::SeedableRng;
    let net = BidirectionalLstm::new(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3));
    let path = std::env::temp_dir().join(format!("dl-bidirectional-{}.safetensors", std::process::id()));
    dl::weights::save(&net, &path).unwrap();
    let mut copy = BidirectionalLstm::zeros();
    dl::weights::load(&mut copy, &path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let x = Tokens::new([3, 1, 4, 1, 5, 9, 2]).unwrap();
    assert_eq!(copy.forward(&x).elems(), net.forward(&x).elems());
}
