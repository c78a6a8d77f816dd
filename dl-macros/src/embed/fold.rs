//! What an embedded network does at compile time that its trainable twin does per sample, as
//! TFLite's converter does: a `BatchNormalization` right after the `Conv2D`, `DepthwiseConv2D`
//! or `Dense` it normalizes is folded into that layer's kernel and bias (during constant
//! evaluation, by `dl_core::norm::fold_*`), and an element-wise `Activation` layer right after
//! either is applied by that layer's step as it stores its output. Both then write nothing:
//! their output is their input's memory, so they also leave the arena.

use crate::kinds::Kind;
use crate::model::{Network, Source};
use crate::spec::Activation;

/// Per layer of the network.
pub struct Folds {
    /// The layer writes nothing: its output is its input's.
    pub passes: Vec<bool>,
    /// For a layer that absorbs a batch normalization: that layer's index and its epsilon.
    pub batch_norm: Vec<Option<(usize, f64)>>,
    /// For a layer that applies a following `Activation` layer's activation.
    pub activation: Vec<Option<Activation>>,
}

pub fn folds(net: &Network) -> Folds {
    let n = net.layers.len();
    let mut f = Folds {
        passes: vec![false; n],
        batch_norm: vec![None; n],
        activation: vec![None; n],
    };
    for (p, layer) in net.layers.iter().enumerate() {
        let (linear, use_bias) = match &layer.kind {
            Kind::Conv2D(k) => (k.activation == Activation::Linear, k.use_bias),
            Kind::Dense(k) => (k.activation == Activation::Linear, k.use_bias),
            Kind::Depthwise(k) if k.filters.is_none() => (k.activation == Activation::Linear, k.use_bias),
            _ => continue,
        };
        // A bias to fold the shift into, and no activation between the layer and the norm.
        if !(linear && use_bias) {
            continue;
        }
        let mut last = p;
        if let Some(b) = net.only_reader(p)
            && let Kind::BatchNorm(bn) = &net.layers[b].kind
            && net.layers[b].inputs == [Source::Node(p)]
        {
            f.batch_norm[p] = Some((b, bn.epsilon));
            f.passes[b] = true;
            last = b;
        }
        if let Some(a) = net.activation_after(last)
            && net.layers[a].activation() != Activation::Softmax
        {
            f.activation[p] = Some(net.layers[a].activation());
            f.passes[a] = true;
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn folds_of(tokens: proc_macro2::TokenStream) -> Folds {
        folds(&crate::model::built(tokens))
    }

    #[test]
    fn a_norm_and_an_activation_right_after_a_linear_layer_fold_into_it() {
        let f = folds_of(quote!(struct N {
            input: [6, 6, 2],
            Conv2D(4, (3, 3)),
            BatchNormalization(),
            Activation(relu),
            Flatten,
            Dense(3),
            Activation(tanh),
        }));
        assert_eq!(f.passes, [false, true, true, false, false, true]);
        assert_eq!(f.batch_norm[0], Some((1, 0.001)));
        assert_eq!(f.activation[0], Some(Activation::Relu));
        assert_eq!(f.batch_norm[4], None);
        assert_eq!(f.activation[4], Some(Activation::Tanh));
    }

    #[test]
    fn nothing_folds_past_an_activation_a_second_reader_or_a_softmax() {
        let f = folds_of(quote!(struct N {
            input: [6, 6, 2],
            // Its own activation comes before the norm.
            Conv2D(4, (3, 3), relu),
            BatchNormalization(),
            // Read by the norm and by `Add`.
            a: Conv2D(4, (1, 1)),
            b: BatchNormalization(),
            Add(a, b),
            Flatten,
            Dense(3),
            Activation(softmax),
        }));
        assert!(f.passes.iter().all(|&p| !p));
        assert!(f.batch_norm.iter().all(Option::is_none));
        assert!(f.activation.iter().all(Option::is_none));
    }
}
