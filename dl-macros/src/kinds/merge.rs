//! Keras's merge layers: `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`
//! (element-wise, over inputs of one shape) and `Concatenate` (along the last axis). They read
//! the tensors their positional arguments name; the pipeline wires those inputs itself.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;

use super::{Inputs, Kind, KindSpec, Registered, Resolve, Resolved, Step, lit};
use crate::errors::Errors;
use crate::model::Layer;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec;
use crate::spec::Activation;

/// Each merge, by its Keras name.
macro_rules! merges {
    ($($op:ident $auto:literal,)*) => {
        pub const KINDS: &[Registered] = &[$(Registered {
            name: stringify!($op),
            auto_name: $auto,
            resolve: Resolve::Merge(resolve),
        },)*];

        /// Keras's merge layers.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum MergeOp {
            $($op,)*
        }

        impl MergeOp {
            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $(stringify!($op) => Some(MergeOp::$op),)*
                    _ => None,
                }
            }

            pub fn name(self) -> &'static str {
                match self {
                    $(MergeOp::$op => stringify!($op),)*
                }
            }
        }
    };
}

merges! {
    Add "add",
    Subtract "subtract",
    Multiply "multiply",
    Average "average",
    Maximum "maximum",
    Minimum "minimum",
    Concatenate "concatenate",
}

pub struct Merge {
    pub op: MergeOp,
}

/// A merge of `inputs`: Keras's rules for the element-wise merges (two or more inputs of one
/// shape; `Subtract` exactly two) and for `Concatenate` (every dimension but the last alike).
fn resolve(call: &LayerCall, inputs: &Inputs<'_>, errors: &mut Errors) -> Resolved {
    let op = MergeOp::from_name(&call.kind.to_string()).expect("registered as a merge");
    let name = op.name();
    let span = call.kind.span();
    let params: &[&str] = if op == MergeOp::Concatenate {
        &["axis"]
    } else {
        &[]
    };
    let bound = spec::bind(call, params, errors);
    if let (MergeOp::Concatenate, Some(Some(axis))) = (op, bound.values.first()) {
        let ok = match axis {
            syn::Expr::Unary(syn::ExprUnary {
                op: syn::UnOp::Neg(_),
                expr,
                ..
            }) => {
                matches!(&**expr, syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) if i.base10_digits() == "1")
            }
            _ => false,
        };
        let last = inputs.first().and_then(|(s, _, _)| *s).map(|s| s.dims().len());
        let positive = match axis {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(i),
                ..
            }) => i.base10_parse::<usize>().ok(),
            _ => None,
        };
        // Keras counts the batch as axis 0, so the last axis of an image is 3.
        if !ok && (positive.is_none() || positive != last) {
            errors.push(
                axis.span(),
                "`Concatenate` joins along the last axis (channels) only: write `axis = -1`",
            );
            return None;
        }
    }
    let wanted = if op == MergeOp::Subtract {
        "exactly two"
    } else {
        "two or more"
    };
    if inputs.len() < 2 || (op == MergeOp::Subtract && inputs.len() != 2) {
        errors.push(
            span,
            format!(
                "`{name}` merges {wanted} tensors, found {}: name them, e.g. `{name}(x, y)`",
                inputs.len()
            ),
        );
        return None;
    }
    let mut shapes = Vec::new();
    for (shape, from, at) in inputs {
        match shape {
            Some(Shape::Tokens(_)) => {
                errors.push(
                    *at,
                    format!(
                        "`{name}` merges features, but {from} is token ids; put an `Embedding` before it"
                    ),
                );
                return None;
            }
            Some(s) => shapes.push((*s, *from, *at)),
            // Unknown after an earlier mistake: that mistake was reported.
            None => return None,
        }
    }
    let (first, first_name, _) = shapes[0];
    let mut channels = first.dims().last().copied().unwrap_or(0);
    for &(shape, from, at) in &shapes[1..] {
        let agrees = if op == MergeOp::Concatenate {
            let (a, b) = (first.dims(), shape.dims());
            std::mem::discriminant(&first) == std::mem::discriminant(&shape)
                && a[..a.len() - 1] == b[..b.len() - 1]
        } else {
            shape == first
        };
        if !agrees {
            let rule = if op == MergeOp::Concatenate {
                "inputs that agree in every dimension but the last (the channels it joins)"
            } else {
                "inputs of one shape"
            };
            errors.push(
                at,
                format!("`{name}` needs {rule}, but {first_name} is {first} and {from} is {shape}"),
            );
            return None;
        }
        channels += shape.dims().last().copied().unwrap_or(0);
    }
    let output = match (op, first) {
        (MergeOp::Concatenate, Shape::Flat(_)) => Shape::Flat(channels),
        (MergeOp::Concatenate, Shape::Image(h, w, _)) => Shape::Image(h, w, channels),
        (MergeOp::Concatenate, Shape::Sequence(t, _)) => Shape::Sequence(t, channels),
        (_, shape) => shape,
    };
    Some((Kind::Merge(Merge { op }), output))
}

/// The channels (last axis) of each input, which `Concatenate` joins.
fn channels(layer: &Layer) -> impl Iterator<Item = proc_macro2::Literal> + '_ {
    layer
        .input_shapes
        .iter()
        .map(|s| lit(s.dims().last().copied().unwrap_or(0)))
}

impl Merge {
    /// The runtime's name of an element-wise merge.
    fn runtime_op(op: MergeOp) -> TokenStream {
        match op {
            MergeOp::Add => quote!(Add),
            MergeOp::Subtract => quote!(Subtract),
            MergeOp::Multiply => quote!(Multiply),
            MergeOp::Average => quote!(Average),
            MergeOp::Maximum => quote!(Maximum),
            MergeOp::Minimum => quote!(Minimum),
            MergeOp::Concatenate => unreachable!("Concatenate has its own kernel"),
        }
    }

    /// The training forward of the layer in field `f`, reading `ins` into workspace `ix`.
    pub fn forward_batch(
        &self,
        k: &TokenStream,
        layer: &Layer,
        (f, ix, a): (&syn::Ident, &syn::Ident, &TokenStream),
        ins: &[TokenStream],
    ) -> TokenStream {
        if self.op == MergeOp::Concatenate {
            let channels = channels(layer);
            quote!(self.#f.forward_concat(&[#(#ins),*], &[#(#channels),*], batch, &mut ws.#ix);)
        } else {
            let op = Self::runtime_op(self.op);
            quote!(self.#f.forward_merge(#k::layers::MergeOp::#op, &[#(#ins),*], batch, &mut ws.#ix, #a);)
        }
    }

    /// The backward pass into the inputs' gradients `to` (`GradientTo` values): one call for
    /// all of them, or one per input for `Concatenate`.
    pub fn backward_batch(
        &self,
        k: &TokenStream,
        layer: &Layer,
        (f, ix, a): (&syn::Ident, &syn::Ident, &TokenStream),
        ins: &[TokenStream],
        to: &[TokenStream],
    ) -> TokenStream {
        if self.op == MergeOp::Concatenate {
            let channels: Vec<_> = channels(layer).collect();
            let calls = to
                .iter()
                .map(|to| quote!(self.#f.backward_concat(&[#(#channels),*], batch, &ws.#ix, #to);));
            quote!(#(#calls)*)
        } else {
            let op = Self::runtime_op(self.op);
            quote!(self.#f.backward_merge(#k::layers::MergeOp::#op, &[#(#ins),*], batch, &ws.#ix, #a, &mut [#(#to),*]);)
        }
    }
}

impl KindSpec for Merge {
    fn keras_name(&self) -> &'static str {
        self.op.name()
    }

    /// A relu after an `Add` (a residual block's end) is applied as the sum is stored, its mask
    /// read from the output in the backward pass (`dl_runtime::layers::merge`).
    fn applies_in_training(&self, activation: Activation) -> bool {
        self.op == MergeOp::Add && activation == Activation::Relu
    }

    /// `Merge::forward_add_normalized`: a residual block's `Add` of its last normalization.
    fn sums_normalized_input(&self) -> bool {
        self.op == MergeOp::Add
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let n = lit(layer.output.len());
        match self.op {
            MergeOp::Concatenate => quote!(#k::layers::Concatenate<#n>),
            _ => quote!(#k::layers::Merge<#n>),
        }
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, layer) = (cx.core, cx.layer);
        let xs = (0..layer.inputs.len()).map(|k| format_ident!("x{}", k));
        Some(if self.op == MergeOp::Concatenate {
            let channels = channels(layer);
            quote!(#core::merge::concatenate(&[#(#xs),*], &[#(#channels),*], out);)
        } else {
            let op = Self::runtime_op(self.op);
            quote!(#core::merge::merge(#core::merge::Merge::#op, &[#(#xs),*], out);)
        })
    }
}
