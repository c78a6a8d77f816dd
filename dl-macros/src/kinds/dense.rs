//! `Dense(units, activation = None, use_bias = true)`: flat features, or each step of a
//! sequence.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::Expr;

use super::shared::{
    KERNEL_OPTIONS, needs_embedding, param_options, params_init_with_bias, params_type_with_bias, required,
    use_bias, width_mismatch,
};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, WrongShape, lit};
use crate::errors::Errors;
use crate::model::{Layer, TensorShapes};
use crate::param_options::ParamOption;
use crate::parse::{Arg, LayerCall};
use crate::shape::Shape;
use crate::spec::{self, Activation};

pub const KINDS: &[Registered] = &[Registered::one("Dense", "dense", resolve)];

pub struct Dense {
    pub units: usize,
    pub activation: Activation,
    /// `use_bias`: without it the layer has no `bias` tensor, as in Keras.
    pub use_bias: bool,
    /// `kernel_initializer`, `kernel_regularizer`.
    pub options: Vec<ParamOption>,
}

fn resolve(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    let span = call.kind.span();
    let bound = spec::bind_with(call, &["units", "activation", "use_bias"], KERNEL_OPTIONS, errors);
    let units = required(
        bound.get(0),
        (
            span,
            "`Dense` is missing `units`, its number of outputs, e.g. `Dense(64, relu)`",
        ),
        errors,
        |e, errors| spec::positive(e, "units", "Dense", errors),
    );
    let activation = bound
        .get(1)
        .map_or(Some(Activation::Linear), |e| spec::activation(e, errors));
    let bias = use_bias(bound.get(2), errors);
    let options = param_options(&bound, 3, ("kernel", "kernel"), "Dense", errors);
    let (units, use_bias, options) = (units?, bias?, options.ok()?);
    let output = match input? {
        Shape::Flat(_) => Shape::Flat(units),
        // Keras applies a Dense layer to each time step of a sequence.
        Shape::Sequence(t, _) => Shape::Sequence(t, units),
        Shape::Tokens(_) => return needs_embedding("Dense", span, errors),
        image @ Shape::Image(..) => {
            errors.push(
                span,
                format!(
                    "`Dense` expects flat features but gets {image} from {previous}; add `Flatten` before it"
                ),
            );
            return None;
        }
    };
    Some((
        Kind::Dense(Dense {
            units,
            activation: activation?,
            use_bias,
            options: options.into_iter().collect(),
        }),
        output,
    ))
}

/// The units of a call that is `Dense(n, …)` with a literal `n`, which fix the network's output
/// width when it is the last layer, even when its input is unknown after a mistake upstream.
pub fn written_units(call: &LayerCall) -> Option<usize> {
    if call.kind != "Dense" {
        return None;
    }
    match call.args.first() {
        Some(Arg {
            name: None,
            value:
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(i),
                    ..
                }),
        }) => i.base10_parse::<usize>().ok().filter(|&u| u > 0),
        _ => None,
    }
}

impl KindSpec for Dense {
    fn keras_name(&self) -> &'static str {
        "Dense"
    }

    fn param_shapes(&self, layer: &Layer) -> TensorShapes {
        let d = layer.input.features();
        let mut shapes = vec![("kernel", vec![d, self.units])];
        if self.use_bias {
            shapes.push(("bias", vec![self.units]));
        }
        shapes
    }

    fn activation(&self) -> Activation {
        self.activation
    }

    fn param_options(&self) -> &[ParamOption] {
        &self.options
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (i, o) = (lit(layer.input.features()), lit(self.units));
        if self.use_bias {
            quote!(#k::layers::Dense<#i, #o>)
        } else {
            quote!(#k::layers::Dense<#i, #o, false>)
        }
    }

    /// A Dense layer on a sequence sees every time step of every sample as one column.
    fn columns_per_sample(&self, layer: &Layer) -> usize {
        match layer.input {
            Shape::Sequence(t, _) => t,
            _ => 1,
        }
    }

    fn forwards_on_stack(&self) -> bool {
        true
    }

    /// Per time step, as Keras does.
    fn mask(&self) -> Mask {
        Mask::Passes
    }

    fn embedded_line_aligned(&self) -> bool {
        true
    }

    fn params_struct(&self, core: &TokenStream) -> Option<TokenStream> {
        Some(quote!(#core::params::Dense))
    }

    /// Without a bias, an empty one in the struct's place.
    fn params_init(&self, core: &TokenStream, decoded: Vec<TokenStream>) -> TokenStream {
        let path = self.params_struct(core).expect("the struct is named above");
        params_init_with_bias(path, self.use_bias, decoded)
    }

    fn params_type(&self, core: &TokenStream, _layer: &Layer, sizes: &[Literal]) -> TokenStream {
        params_type_with_bias(quote!(#core::params::Dense), self.use_bias, sizes)
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, layer, f, act) = (cx.core, cx.layer, cx.field, cx.act);
        let (i_, o_) = (lit(layer.input.features()), lit(self.units));
        if !self.use_bias {
            return Some(
                quote!(#core::dense::dense::<#i_, #o_>(x0, &self.#f.kernel, &[0.0; #o_], out, #act);),
            );
        }
        Some(quote!(#core::dense::dense::<#i_, #o_>(x0, &self.#f.kernel, &self.#f.bias, out, #act);))
    }

    fn weight_file_mismatch(&self, layer: &Layer, wrong: &[WrongShape], shown: &str) -> Option<String> {
        width_mismatch(layer, ("units", self.units, 1), wrong, shown)
    }
}
