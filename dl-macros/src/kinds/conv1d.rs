//! `Conv1D(filters, kernel_size, strides = 1, padding = valid, dilation_rate = 1, activation =
//! None, use_bias = true, kernel_initializer = glorot_uniform, kernel_regularizer = None)` over a
//! `[steps, channels]` sequence; `padding` is `valid`, `same` or `causal`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::quote;
use syn::Expr;
use syn::spanned::Spanned;

use super::shared::{
    KERNEL_OPTIONS, param_options, params_init_with_bias, params_type_with_bias, required, sequence_input,
    use_bias, width_mismatch,
};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, WrongShape, lit};
use crate::errors::Errors;
use crate::model::{Layer, TensorShapes};
use crate::param_options::ParamOption;
use crate::parse::LayerCall;
use crate::shape::Shape;
use crate::spec::{self, Activation};
use crate::suggest;

pub const KINDS: &[Registered] = &[Registered::one("Conv1D", "conv1d", resolve)];

/// Keras's `padding` of a 1-D convolution.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SequencePadding {
    Valid,
    Same,
    Causal,
}

/// A window over steps: taps, stride, dilation and the leading zeros the macro computed.
#[derive(Clone, Copy)]
pub struct SequenceWindow {
    pub size: usize,
    pub stride: usize,
    pub dilation: usize,
    pub pad: usize,
}

pub struct Conv1D {
    pub filters: usize,
    pub window: SequenceWindow,
    pub activation: Activation,
    pub use_bias: bool,
    /// `kernel_initializer`, `kernel_regularizer`.
    pub options: Vec<ParamOption>,
}

/// A positive size written `n` or as Keras's one-element tuple `(n,)`.
pub fn single(e: &Expr, what: &str, layer: &str, errors: &mut Errors) -> Option<usize> {
    match e {
        Expr::Paren(p) => single(&p.expr, what, layer, errors),
        Expr::Tuple(t) if t.elems.len() == 1 => single(&t.elems[0], what, layer, errors),
        Expr::Lit(_) | Expr::Unary(_) => spec::positive(e, what, layer, errors),
        _ => {
            errors.push(
                e.span(),
                format!("`{what}` must be an integer or a one-element tuple `(n,)`"),
            );
            None
        }
    }
}

/// `valid`, `same` or, when `causal` allows it, `causal`.
pub fn sequence_padding(e: &Expr, causal: bool, errors: &mut Errors) -> Option<SequencePadding> {
    let name = match e {
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    };
    let options: &[&str] = if causal {
        &["valid", "same", "causal"]
    } else {
        &["valid", "same"]
    };
    match name.as_deref() {
        Some("valid") => Some(SequencePadding::Valid),
        Some("same") => Some(SequencePadding::Same),
        Some("causal") if causal => Some(SequencePadding::Causal),
        Some(other) => {
            errors.push(e.span(), suggest::unknown("padding", other, options));
            None
        }
        None => {
            errors.push(
                e.span(),
                format!("`padding` must be one of {}", options.join(", ")),
            );
            None
        }
    }
}

/// Output steps and leading zeros of `size` taps `dilation` apart moved by `stride` over `n`
/// steps, as Keras computes them; `None` when a `valid` window does not fit.
pub fn sequence_window(
    n: usize,
    (size, stride, dilation): (usize, usize, usize),
    padding: SequencePadding,
) -> Option<(usize, usize)> {
    let span = dilation * (size - 1) + 1;
    match padding {
        SequencePadding::Valid => (n >= span).then(|| ((n - span) / stride + 1, 0)),
        SequencePadding::Same => {
            let out = n.div_ceil(stride);
            Some((out, ((out - 1) * stride + span).saturating_sub(n) / 2))
        }
        SequencePadding::Causal => Some(((n - 1) / stride + 1, span - 1)),
    }
}

/// The error of a `valid` window longer than its input.
pub fn too_long(
    what: &str,
    (size, span): (usize, usize),
    n: usize,
    previous: &str,
    at: Span,
    errors: &mut Errors,
) {
    let dilated = if span == size {
        String::new()
    } else {
        format!(" (dilated to {span} steps)")
    };
    errors.push(
        at,
        format!(
            "{what} of {size}{dilated} does not fit the {n} steps from {previous} with `valid` padding; use a smaller {what} or `padding = same`"
        ),
    );
}

fn resolve(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    const LAYER: &str = "Conv1D";
    let span = call.kind.span();
    let bound = spec::bind_with(
        call,
        &[
            "filters",
            "kernel_size",
            "strides",
            "padding",
            "dilation_rate",
            "activation",
            "use_bias",
        ],
        KERNEL_OPTIONS,
        errors,
    );
    let example = "e.g. `Conv1D(32, 3, relu)`";
    let filters = required(
        bound.get(0),
        (span, &format!("`Conv1D` is missing `filters`, {example}")),
        errors,
        |e, errors| spec::positive(e, "filters", LAYER, errors),
    );
    let size = required(
        bound.get(1),
        (span, &format!("`Conv1D` is missing `kernel_size`, {example}")),
        errors,
        |e, errors| single(e, "kernel_size", LAYER, errors),
    );
    let stride = bound
        .get(2)
        .map_or(Some(1), |e| single(e, "strides", LAYER, errors));
    let padding = bound.get(3).map_or(Some(SequencePadding::Valid), |e| {
        sequence_padding(e, true, errors)
    });
    let dilation = bound
        .get(4)
        .map_or(Some(1), |e| single(e, "dilation_rate", LAYER, errors));
    let activation = bound
        .get(5)
        .map_or(Some(Activation::Linear), |e| spec::activation(e, errors));
    let bias = use_bias(bound.get(6), errors);
    let options = param_options(&bound, 7, ("kernel", "kernel"), LAYER, errors);
    if let (Some(s), Some(d)) = (stride, dilation)
        && s > 1
        && d > 1
    {
        // Keras refuses the combination too.
        let at = bound.get(4).map_or(span, |e| e.span());
        errors.push(
            at,
            format!("`Conv1D` cannot combine `strides` = {s} with `dilation_rate` = {d}; one of them must be 1, as in Keras"),
        );
        return None;
    }
    let (t, _) = sequence_input(LAYER, input?, previous, span, errors)?;
    let options = options.ok()?;
    let (filters, size, stride, padding, dilation, activation, use_bias) =
        (filters?, size?, stride?, padding?, dilation?, activation?, bias?);
    let Some((ot, pad)) = sequence_window(t, (size, stride, dilation), padding) else {
        let at = bound.get(1).map_or(span, |e| e.span());
        too_long(
            "kernel",
            (size, dilation * (size - 1) + 1),
            t,
            previous,
            at,
            errors,
        );
        return None;
    };
    Some((
        Kind::Conv1D(Conv1D {
            filters,
            window: SequenceWindow {
                size,
                stride,
                dilation,
                pad,
            },
            activation,
            use_bias,
            options: options.into_iter().collect(),
        }),
        Shape::Sequence(ot, filters),
    ))
}

/// A sequence's steps and channels.
fn steps(shape: Shape) -> (usize, usize) {
    match shape {
        Shape::Sequence(t, c) => (t, c),
        other => (1, other.len()),
    }
}

/// `dl_core`'s description of a window over a sequence.
pub fn embedded_window(core: &TokenStream, input: Shape, output: Shape, w: &SequenceWindow) -> TokenStream {
    let ((t, c), (ot, _)) = (steps(input), steps(output));
    let [t, c, ks, s, d, pl, ot] = [t, c, w.size, w.stride, w.dilation, w.pad, ot].map(lit);
    quote!(#core::conv1d::Window1D { t: #t, c: #c, ks: #ks, s: #s, d: #d, pl: #pl, ot: #ot })
}

impl KindSpec for Conv1D {
    fn keras_name(&self) -> &'static str {
        "Conv1D"
    }

    fn param_shapes(&self, layer: &Layer) -> TensorShapes {
        let (_, c) = steps(layer.input);
        let mut shapes = vec![("kernel", vec![self.window.size, c, self.filters])];
        if self.use_bias {
            shapes.push(("bias", vec![self.filters]));
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
        let ((t, c), (ot, _)) = (steps(layer.input), steps(layer.output));
        let w = self.window;
        let [t, c, f, ks, s, d, ot, pl, kk] = [
            t,
            c,
            self.filters,
            w.size,
            w.stride,
            w.dilation,
            ot,
            w.pad,
            w.size * c,
        ]
        .map(lit);
        let bias = (!self.use_bias).then(|| quote!(, false));
        quote!(#k::layers::Conv1D<#t, #c, #f, #ks, #s, #d, #ot, #pl, #kk #bias>)
    }

    fn mask(&self) -> Mask {
        Mask::Refuses("Conv1D")
    }

    fn embedded_line_aligned(&self) -> bool {
        true
    }

    fn params_struct(&self, core: &TokenStream) -> Option<TokenStream> {
        Some(quote!(#core::params::Conv1D))
    }

    /// Without a bias, an empty one in the struct's place.
    fn params_init(&self, core: &TokenStream, decoded: Vec<TokenStream>) -> TokenStream {
        let path = self.params_struct(core).expect("the struct is named above");
        params_init_with_bias(path, self.use_bias, decoded)
    }

    fn params_type(&self, core: &TokenStream, _layer: &Layer, sizes: &[Literal]) -> TokenStream {
        params_type_with_bias(quote!(#core::params::Conv1D), self.use_bias, sizes)
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, layer, f, act) = (cx.core, cx.layer, cx.field, cx.act);
        let win = embedded_window(core, layer.input, layer.output, &self.window);
        let filters = lit(self.filters);
        let softmax = (self.activation == Activation::Softmax)
            .then(|| quote!(for step in out.chunks_exact_mut(#filters) { #act.apply(step); }));
        Some(quote! {
            #core::conv1d::conv1d(&#win, x0, &self.#f.kernel, &self.#f.bias, out, #act);
            #softmax
        })
    }

    /// The kernel size first, then the filters.
    fn weight_file_mismatch(&self, layer: &Layer, wrong: &[WrongShape], shown: &str) -> Option<String> {
        let size = self.window.size;
        if let Some((name, file, _)) = wrong.iter().find(|(n, _, _)| n.ends_with(".kernel"))
            && file.len() == 3
            && file[0] != size
        {
            return Some(format!(
                "layer `{}` (Conv1D) declares `kernel_size` = {size}, but the weight file `{shown}` has {} \
                 (its `{name}` is {file:?}): declare `Conv1D(…, {}, …)`, or save the weights again",
                layer.name, file[0], file[0]
            ));
        }
        width_mismatch(layer, ("filters", self.filters, 1), wrong, shown)
    }
}
