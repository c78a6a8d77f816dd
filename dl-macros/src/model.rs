//! The declaration as a graph of resolved layers: kinds, arguments, names, inputs and shapes as
//! plain numbers (`graph` builds it from the syntax).

use syn::{Attribute, Ident, Visibility};

pub use crate::kinds::Kind;
use crate::shape::Shape;
use crate::spec::Activation;

pub use crate::graph::build;

pub struct Network {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// One input sample.
    pub input: Shape,
    pub layers: Vec<Layer>,
}

impl Network {
    /// Whether every layer reads the one above it (the first, the input): a plain stack.
    pub fn is_chain(&self) -> bool {
        self.layers.iter().enumerate().all(|(i, l)| {
            let previous = if i == 0 {
                Source::Input
            } else {
                Source::Node(i - 1)
            };
            l.inputs == [previous]
        })
    }

    /// The layers that read each layer's output, in declaration order.
    #[cfg(test)]
    pub fn consumers(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.layers.len()];
        for (i, l) in self.layers.iter().enumerate() {
            for s in &l.inputs {
                if let Source::Node(p) = s {
                    out[*p].push(i);
                }
            }
        }
        out
    }

    /// The one layer reading layer `p`'s output, if exactly one does (and `p` is not the
    /// network's output).
    pub fn only_reader(&self, p: usize) -> Option<usize> {
        if p + 1 == self.layers.len() {
            return None;
        }
        let mut readers = self
            .layers
            .iter()
            .enumerate()
            .filter(|(_, l)| l.inputs.contains(&Source::Node(p)));
        let (r, _) = readers.next()?;
        readers.next().is_none().then_some(r)
    }

    /// The `Activation` layer that is the only reader of layer `p`'s output and reads nothing
    /// else, if there is one: the layer both the embedded expansion (`embed::fold`) and the
    /// training passes (`fuse`) can apply in `p`'s step.
    pub fn activation_after(&self, p: usize) -> Option<usize> {
        let a = self.only_reader(p)?;
        let layer = &self.layers[a];
        (matches!(layer.kind, Kind::Activation(_)) && layer.inputs == [Source::Node(p)]).then_some(a)
    }

    /// The name of a tensor, as `summary()` shows it.
    pub fn source_name(&self, s: Source) -> &str {
        match s {
            Source::Input => "input",
            Source::Node(i) => &self.layers[i].name,
        }
    }
}

/// The network a declaration builds, for the macro's unit tests.
#[cfg(test)]
pub fn built(tokens: proc_macro2::TokenStream) -> Network {
    let syntax: crate::parse::Network = syn::parse2(tokens).expect("valid syntax");
    match build(&syntax) {
        Ok(net) => net,
        Err(_) => panic!("the declaration has errors"),
    }
}

/// Tensor names with Keras's shapes.
pub type TensorShapes = Vec<(&'static str, Vec<usize>)>;

/// Where a layer's input comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The network's input.
    Input,
    /// The output of the layer at this index of [`Network::layers`].
    Node(usize),
}

pub struct Layer {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    /// The struct field (the declared name, or Keras's automatic one).
    pub field: Ident,
    pub name: String,
    pub kind: Kind,
    /// The tensors the layer reads, in order: one for every kind but the merges.
    pub inputs: Vec<Source>,
    /// The shape of its first input (every input's, but `Concatenate`'s last axis).
    pub input: Shape,
    /// The shapes of all its inputs.
    pub input_shapes: Vec<Shape>,
    pub output: Shape,
    /// Whether the layer consumes the padding mask of an `Embedding(mask_zero = true)` upstream
    /// (see `mask`).
    pub masked: bool,
}

impl Layer {
    /// Keras's name of the layer's kind.
    pub fn kind_name(&self) -> &'static str {
        self.kind.spec().keras_name()
    }

    /// Trainable values: every parameter tensor's.
    pub fn params(&self) -> usize {
        self.param_shapes()
            .iter()
            .map(|(_, dims)| dims.iter().product::<usize>())
            .sum()
    }

    /// Non-trainable values: every state tensor's (a batch normalization's moving mean and
    /// variance).
    pub fn non_trainable(&self) -> usize {
        self.state_shapes()
            .iter()
            .map(|(_, dims)| dims.iter().product::<usize>())
            .sum()
    }

    /// The size of the input's last axis.
    pub fn channels(&self) -> usize {
        self.input.dims().last().copied().unwrap_or(0)
    }

    /// Keras's shape of each state tensor, in the runtime's visiting order.
    pub fn state_shapes(&self) -> TensorShapes {
        self.kind.spec().state_shapes(self)
    }

    /// Keras's shape of each parameter tensor, in the runtime's visiting order.
    pub fn param_shapes(&self) -> TensorShapes {
        self.kind.spec().param_shapes(self)
    }

    pub fn activation(&self) -> Activation {
        self.kind.spec().activation()
    }

    /// Floats of scratch the layer's single-sample forward needs besides its output.
    pub fn scratch_floats(&self) -> usize {
        self.kind.spec().scratch_floats()
    }

    /// Whether the layer writes a new buffer in a single-sample forward.
    pub fn writes_output(&self) -> bool {
        self.kind.spec().writes_output()
    }
}

/// What generation needs when the declaration has errors: enough for a stub that keeps the
/// user's other code from erroring too.
pub struct Fallback {
    pub vis: Visibility,
    pub ident: Ident,
    /// The input, when its entry was right: its shape and, for token ids, the vocabulary of the
    /// `Embedding` that reads them (`None` when that is unknown too).
    pub input: Option<(Shape, Option<usize>)>,
    /// Features of the output, when the last layer's shape is known.
    pub output: Option<usize>,
}

impl Fallback {
    /// A stand-in that knows only the name.
    pub fn unknown(vis: Visibility, ident: Ident) -> Self {
        Fallback {
            vis,
            ident,
            input: None,
            output: None,
        }
    }

    /// A stand-in for a network that was built but cannot be emitted (a later check failed):
    /// its input and output are known.
    pub fn of(net: &Network) -> Self {
        let vocabulary = net.layers.iter().find_map(|l| {
            (l.inputs[0] == Source::Input)
                .then(|| l.kind.spec().vocabulary())
                .flatten()
        });
        Fallback {
            vis: net.vis.clone(),
            ident: net.ident.clone(),
            input: Some((net.input, vocabulary)),
            output: net.layers.last().map(|l| l.output.len()),
        }
    }
}
