//! Arguments Keras's layers take that `network!` does not have yet, by layer: a declaration that
//! gives one is told so by name, rather than that the layer has no such argument and a guess at
//! another.

/// Keras's arguments of every layer with a kernel and a bias that dl lacks.
const WEIGHTED: &[&str] = &[
    "bias_initializer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "bias_constraint",
];

/// Keras's arguments of a recurrent layer that dl lacks besides [`WEIGHTED`]'s: dl's cells have
/// Keras's default activations, no dropout and no state carried across calls.
const RECURRENT: &[&str] = &[
    "activation",
    "recurrent_activation",
    "recurrent_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
    "return_state",
    "go_backwards",
    "stateful",
    "unroll",
    "use_cudnn",
];

/// Keras's arguments of `kind` that dl does not take.
fn missing(kind: &str) -> &'static [&'static [&'static str]] {
    match kind {
        "Dense" => &[WEIGHTED, &["lora_rank", "lora_alpha"]],
        "Conv1D" => &[WEIGHTED, &["groups", "data_format"]],
        "Conv2D" => &[WEIGHTED, &["groups", "data_format", "dilation_rate"]],
        "LSTM" | "GRU" => &[WEIGHTED, RECURRENT],
        "SimpleRNN" => &[WEIGHTED, RECURRENT],
        "BatchNormalization" => &[&[
            "beta_initializer",
            "gamma_initializer",
            "moving_mean_initializer",
            "moving_variance_initializer",
            "beta_regularizer",
            "gamma_regularizer",
            "beta_constraint",
            "gamma_constraint",
            "synchronized",
        ]],
        _ => &[],
    }
}

/// Whether `argument` is one of Keras's arguments of `kind` that dl does not take.
pub fn not_yet(kind: &str, argument: &str) -> bool {
    missing(kind).iter().any(|list| list.contains(&argument))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_arguments_dl_lacks_are_known_by_layer() {
        assert!(not_yet("LSTM", "recurrent_dropout"));
        assert!(not_yet("GRU", "recurrent_dropout"));
        assert!(!not_yet("SimpleRNN", "reset_after"));
        assert!(not_yet("BatchNormalization", "gamma_initializer"));
        assert!(!not_yet("Dense", "activaton"));
    }
}
