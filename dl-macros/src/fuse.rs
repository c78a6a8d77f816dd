//! What a trainable network's generated passes fuse: an `Activation` layer whose activation the
//! layer before it applies as it stores its output (`Activation('relu')` after a
//! `BatchNormalization`, as every block of ResNet, MobileNet and DS-CNN writes it, and after the
//! `Add` that ends a ResNet block; the kinds say which via `KindSpec::applies_in_training`). The fused
//! activation layer then runs no pass of its own and holds no buffer: its readers read the
//! absorbing layer's output and send their gradients to it, and the absorbing layer masks them
//! in its backward pass. Its name, summary line and (empty) parameters stay as declared.
//!
//! A `BatchNormalization` that is the only reader of a linear `Conv2D` hands its input gradient
//! to the convolution a chunk of samples at a time (`KindSpec::hands_over_input_gradient` and
//! `pulls_output_gradient`): the normalization's backward pass takes its per-channel sums only,
//! and the convolution computes each chunk of its `∂L/∂z` as its backward pass reaches it, so
//! the tensor is never stored whole and each chunk is in cache for the products that read it.
//!
//! The embedded expansion folds more (see `embed::fold`); training cannot fold a normalization
//! into the convolution before it, whose output the normalization's statistics are taken from.

use crate::model::{Network, Source};
use crate::spec::Activation;

/// Per layer of the network.
pub struct Fusions {
    /// The layer whose buffers hold this layer's output: itself, or the layer that absorbed it.
    pub holder: Vec<usize>,
    /// The activation the generated passes give the layer: its own, or the one it absorbed.
    pub activation: Vec<Activation>,
    /// Whether the layer was absorbed by the one before it (and so runs nothing).
    pub absorbed: Vec<bool>,
    /// The layer that hands this layer its output's gradient chunk by chunk, if one does.
    pub pulls_from: Vec<Option<usize>>,
    /// The layer this layer hands its input gradient to chunk by chunk, if it does.
    pub hands_to: Vec<Option<usize>>,
}

pub fn fusions(net: &Network) -> Fusions {
    let n = net.layers.len();
    let mut f = Fusions {
        holder: (0..n).collect(),
        activation: net.layers.iter().map(|l| l.activation()).collect(),
        absorbed: vec![false; n],
        pulls_from: vec![None; n],
        hands_to: vec![None; n],
    };
    for (b, layer) in net.layers.iter().enumerate() {
        // The last layer's activation is the loss's to fuse with.
        let Some(a) = net.activation_after(b).filter(|&a| a + 1 < n) else {
            continue;
        };
        let reader = &net.layers[a];
        if layer.activation() == Activation::Linear
            && !layer.masked
            && layer.kind.spec().applies_in_training(reader.activation())
        {
            f.activation[b] = reader.activation();
            f.holder[a] = b;
            f.absorbed[a] = true;
        }
    }
    for (b, layer) in net.layers.iter().enumerate() {
        // The last layer's backward pass takes the loss's activation, decided at run time.
        let [Source::Node(p)] = layer.inputs[..] else {
            continue;
        };
        let producer = &net.layers[p];
        if b + 1 < n
            && !layer.masked
            && !producer.masked
            && layer.kind.spec().hands_over_input_gradient()
            && producer.kind.spec().pulls_output_gradient()
            && f.activation[p] == Activation::Linear
            && net.only_reader(p) == Some(b)
        {
            f.pulls_from[p] = Some(b);
            f.hands_to[b] = Some(p);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn fusions_of(tokens: proc_macro2::TokenStream) -> Fusions {
        fusions(&crate::model::built(tokens))
    }

    #[test]
    fn a_relu_after_a_batch_normalization_is_applied_by_it() {
        let f = fusions_of(quote!(struct N {
            input: [6, 6, 2],
            Conv2D(4, (3, 3)),
            BatchNormalization(),
            Activation(relu),
            Flatten,
            Dense(3),
            Activation(softmax),
        }));
        assert_eq!(f.absorbed, [false, false, true, false, false, false]);
        assert_eq!(f.holder, [0, 1, 1, 3, 4, 5]);
        assert_eq!(f.activation[1], Activation::Relu);
        // The convolution takes the normalization's input gradient chunk by chunk.
        assert_eq!((f.pulls_from[0], f.hands_to[1]), (Some(1), Some(0)));
        assert_eq!(f.pulls_from.iter().flatten().count(), 1);
    }

    #[test]
    fn a_normalization_hands_its_gradient_only_to_a_linear_convolution_it_alone_reads() {
        let f = fusions_of(quote!(struct N {
            input: [6, 6, 2],
            // Applies its own relu.
            Conv2D(4, (3, 3), activation = relu),
            BatchNormalization(),
            // Read by the normalization and by `Add`.
            c: Conv2D(4, (3, 3), padding = same),
            n: BatchNormalization(),
            Add(c, n),
            // Not a convolution.
            Flatten,
            BatchNormalization(),
            Dense(3),
        }));
        assert!(f.pulls_from.iter().chain(&f.hands_to).all(Option::is_none));
    }

    #[test]
    fn a_relu_after_an_add_is_applied_by_it() {
        let f = fusions_of(quote!(struct N {
            input: [4],
            stem: Dense(4),
            Residual([Dense(4), Dense(4)]),
            Activation(relu),
            Dense(2),
        }));
        assert_eq!(f.absorbed, [false, false, false, false, true, false]);
        assert_eq!(f.holder[4], 3);
        assert_eq!(f.activation[3], Activation::Relu);
    }

    #[test]
    fn nothing_fuses_across_a_second_reader_another_activation_or_the_output() {
        let f = fusions_of(quote!(struct N {
            input: [6, 6, 2],
            // `tanh` is the activation layer's own.
            Conv2D(4, (3, 3)),
            BatchNormalization(),
            Activation(tanh),
            // Read by the activation and by `Add`.
            a: BatchNormalization(),
            b: Activation(relu),
            Add(a, b),
            Flatten,
            Dense(3),
            // The loss's.
            BatchNormalization(),
            Activation(relu),
        }));
        assert!(f.absorbed.iter().all(|&a| !a));
        assert_eq!(f.holder, (0..f.holder.len()).collect::<Vec<_>>());
    }
}
