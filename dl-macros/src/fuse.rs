//! What a trainable network's generated passes fuse: an `Activation` layer whose activation the
//! layer before it applies as it stores its output (`Activation('relu')` after a
//! `BatchNormalization`, as every block of ResNet, MobileNet and DS-CNN writes it, and after the
//! `Add` that ends a ResNet block; the kinds say which via `KindSpec::applies_in_training`). The fused
//! activation layer then runs no pass of its own and holds no buffer: its readers read the
//! absorbing layer's output and send their gradients to it, and the absorbing layer masks them
//! in its backward pass. Its name, summary line and (empty) parameters stay as declared.
//!
//! A `BatchNormalization` and a `Conv2D` or `DepthwiseConv2D` next to each other share passes
//! (`KindSpec::normalizes_by_chunks`, `fuses_with_normalization`). Where the normalization is
//! the only reader of a linear convolution, the convolution shows it each chunk of samples of
//! its output as it stores it (the normalization sums the rows while they are in cache instead of
//! reading the batch back), and in the backward pass takes the normalization's input gradient a
//! chunk at a time (the tensor is never stored whole; each chunk is in cache for the products
//! that read it). Where a convolution is the only reader of a normalization's output, it shows
//! the normalization each chunk of the gradient it writes, for the sums of its backward pass.
//! Where an `Add` of two inputs is the only reader of a normalization, it normalizes that input
//! as it sums it, and the normalization does not store its output; so does a convolution that
//! alone reads one (computing a chunk of samples at a time, again in its backward pass). Every sum still runs over the
//! rows in order and every value is computed by the same expression, so the bits are those of
//! the separate passes.
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
    /// For a convolution, the normalization reading its output alone.
    pub normalized_by: Vec<Option<usize>>,
    /// For a normalization, the convolution whose output it alone reads.
    pub normalizes: Vec<Option<usize>>,
    /// For a convolution, the normalization whose output it alone reads.
    pub reads_normalized: Vec<Option<usize>>,
    /// For a normalization, the convolution reading its output alone.
    pub read_by: Vec<Option<usize>>,
    /// For a normalization, the convolution reading its output alone that computes it as it
    /// reads it: the normalization's output is never stored.
    pub computes_for: Vec<Option<usize>>,
    /// For a convolution, the normalization whose output it computes as it reads it.
    pub computed_input: Vec<Option<usize>>,
    /// For a normalization, the `Add` reading its output alone, which normalizes the input as
    /// it sums it: the normalization's output is never stored.
    pub added_by: Vec<Option<usize>>,
    /// For an `Add`, the normalization whose output it normalizes as it sums.
    pub adds_normalized: Vec<Option<usize>>,
}

pub fn fusions(net: &Network) -> Fusions {
    let n = net.layers.len();
    let mut f = Fusions {
        holder: (0..n).collect(),
        activation: net.layers.iter().map(|l| l.activation()).collect(),
        absorbed: vec![false; n],
        normalized_by: vec![None; n],
        normalizes: vec![None; n],
        reads_normalized: vec![None; n],
        read_by: vec![None; n],
        computes_for: vec![None; n],
        computed_input: vec![None; n],
        added_by: vec![None; n],
        adds_normalized: vec![None; n],
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
    let fuses = |l: usize| !net.layers[l].masked && net.layers[l].kind.spec().fuses_with_normalization();
    for (b, layer) in net.layers.iter().enumerate() {
        // The last layer's backward pass takes the loss's activation, decided at run time.
        let [Source::Node(p)] = layer.inputs[..] else {
            continue;
        };
        if b + 1 == n || layer.masked || !layer.kind.spec().normalizes_by_chunks() || f.absorbed[b] {
            continue;
        }
        if fuses(p) && f.activation[p] == Activation::Linear && net.only_reader(p) == Some(b) {
            f.normalized_by[p] = Some(b);
            f.normalizes[b] = Some(p);
        }
        // The reader of the normalization's output (through the relu it absorbed, if any), if it
        // is the only one and the normalization's own input has no other reader: the
        // normalization then writes its input's gradient, and the convolution its own.
        let mut readers = Vec::new();
        for (r, reader) in net.layers.iter().enumerate().filter(|&(r, _)| !f.absorbed[r]) {
            for &s in &reader.inputs {
                if matches!(s, Source::Node(l) if f.holder[l] == b) {
                    readers.push(r);
                }
            }
        }
        if let [q] = readers[..]
            && fuses(q)
            && net.only_reader(p) == Some(b)
        {
            f.reads_normalized[q] = Some(b);
            f.read_by[b] = Some(q);
            // A convolution keeping no pre-activations computes the normalized input it reads.
            if matches!(f.activation[q], Activation::Linear | Activation::Relu) {
                f.computes_for[b] = Some(q);
                f.computed_input[q] = Some(b);
            }
        }
        // An `Add` of two inputs reading the normalization's output alone, and once.
        if let Some(m) = net.only_reader(b)
            && f.activation[b] == Activation::Linear
            && net.layers[m].inputs.len() == 2
            && net.layers[m]
                .inputs
                .iter()
                .filter(|&&s| s == Source::Node(b))
                .count()
                == 1
            && net.layers[m].kind.spec().sums_normalized_input()
            && f.adds_normalized[m].is_none()
        {
            f.added_by[b] = Some(m);
            f.adds_normalized[m] = Some(b);
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
        // The convolution and the normalization it alone feeds share their passes; the dense
        // layer reading the normalization does not.
        assert_eq!((f.normalized_by[0], f.normalizes[1]), (Some(1), Some(0)));
        assert_eq!(f.normalized_by.iter().flatten().count(), 1);
        assert!(f.read_by.iter().chain(&f.reads_normalized).all(Option::is_none));
    }

    #[test]
    fn a_normalization_shares_passes_only_with_convolutions_it_alone_reads_or_feeds() {
        let f = fusions_of(quote!(struct N {
            input: [6, 6, 2],
            // Applies its own relu: not normalized in its passes.
            Conv2D(4, (3, 3), activation = relu),
            // Read by the convolution alone, through the relu it applies.
            BatchNormalization(),
            Activation(relu),
            // Read by the normalization and by `Add`.
            c: Conv2D(4, (3, 3), padding = same),
            n: BatchNormalization(),
            Add(c, n),
            // Not a convolution.
            Flatten,
            BatchNormalization(),
            Dense(3),
        }));
        assert!(f.normalized_by.iter().chain(&f.normalizes).all(Option::is_none));
        let expect = |at: usize, of: usize| (0..f.read_by.len()).map(move |i| (i == at).then_some(of));
        assert!(f.read_by.iter().copied().eq(expect(1, 3)));
        assert!(f.reads_normalized.iter().copied().eq(expect(3, 1)));
        assert!(f.computes_for.iter().copied().eq(expect(1, 3)));
        assert!(f.computed_input.iter().copied().eq(expect(3, 1)));
        // `Add` normalizes the input it alone reads as it sums.
        assert!(f.added_by.iter().copied().eq(expect(4, 5)));
        assert!(f.adds_normalized.iter().copied().eq(expect(5, 4)));
    }

    #[test]
    fn a_depthwise_convolution_shares_passes_with_the_normalizations_on_both_sides() {
        // A MobileNet block: the depthwise convolution reads one normalization alone and is
        // read by another alone; a separable convolution shares nothing.
        let f = fusions_of(quote!(struct N {
            input: [6, 6, 2],
            Conv2D(8, (3, 3), padding = same, use_bias = false),
            BatchNormalization(),
            Activation(relu),
            DepthwiseConv2D((3, 3), padding = same, use_bias = false),
            BatchNormalization(),
            Activation(relu),
            SeparableConv2D(8, (3, 3), padding = same),
            BatchNormalization(),
            Activation(relu),
            Flatten,
            Dense(3),
        }));
        let expect = |at: usize, of: usize| (0..f.read_by.len()).map(move |i| (i == at).then_some(of));
        assert!(f.reads_normalized.iter().copied().eq(expect(3, 1)));
        assert!(f.computed_input.iter().copied().eq(expect(3, 1)));
        assert!(f.normalized_by.iter().copied().eq((0..11).map(|i| match i {
            0 => Some(1),
            3 => Some(4),
            _ => None,
        })));
        assert!(f.read_by.iter().copied().eq(expect(1, 3)));
        assert!(f.computes_for.iter().copied().eq(expect(1, 3)));
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
