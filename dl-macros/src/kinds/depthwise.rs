//! `DepthwiseConv2D(kernel_size, strides = 1, padding = valid, depth_multiplier = 1, activation =
//! None, use_bias = true)` and `SeparableConv2D(filters, kernel_size, strides = 1, padding =
//! valid, depth_multiplier = 1, activation = None, use_bias = true)` over a channels-last image.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

use super::shared::{
    Window, embedded_window, fit_window, image_dims, image_input, param_options, params_init_with_bias,
    required,
};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, WrongShape, lit};
use crate::errors::Errors;
use crate::model::{Layer, TensorShapes};
use crate::param_options::ParamOption;
use crate::parse::LayerCall;
use crate::shape::{Padding, Shape};
use crate::spec::{self, Activation};

pub const KINDS: &[Registered] = &[
    Registered::one("DepthwiseConv2D", "depthwise_conv2d", resolve_depthwise),
    Registered::one("SeparableConv2D", "separable_conv2d", resolve_separable),
];

/// Either kind: `filters` is `None` for `DepthwiseConv2D`.
pub struct Depthwise {
    pub filters: Option<usize>,
    pub multiplier: usize,
    pub window: Window,
    pub activation: Activation,
    pub use_bias: bool,
    /// `depthwise_initializer`/`_regularizer`, and a SeparableConv2D's `pointwise_…`.
    pub options: Vec<ParamOption>,
    /// Floats of the depthwise output a separable convolution's embedded step keeps.
    pub mid: usize,
}

fn resolve_depthwise(
    call: &LayerCall,
    input: Option<Shape>,
    previous: &str,
    errors: &mut Errors,
) -> Resolved {
    resolve(call, input, previous, errors, false)
}

fn resolve_separable(
    call: &LayerCall,
    input: Option<Shape>,
    previous: &str,
    errors: &mut Errors,
) -> Resolved {
    resolve(call, input, previous, errors, true)
}

fn resolve(
    call: &LayerCall,
    input: Option<Shape>,
    previous: &str,
    errors: &mut Errors,
    separable: bool,
) -> Resolved {
    let span = call.kind.span();
    let kind = if separable {
        "SeparableConv2D"
    } else {
        "DepthwiseConv2D"
    };
    let mut params = vec![
        "kernel_size",
        "strides",
        "padding",
        "depth_multiplier",
        "activation",
        "use_bias",
    ];
    if separable {
        params.insert(0, "filters");
    }
    // Keras names the depthwise kernel's options `depthwise_…` (tf.keras 2 took and ignored
    // `kernel_initializer` here; Keras 3 refuses it).
    let options: &[&str] = if separable {
        &[
            "depthwise_initializer",
            "depthwise_regularizer",
            "pointwise_initializer",
            "pointwise_regularizer",
        ]
    } else {
        &["depthwise_initializer", "depthwise_regularizer"]
    };
    let bound = spec::bind_with(call, &params, options, errors);
    let at = |i: usize| bound.get(i + usize::from(separable));
    let example = if separable {
        "e.g. `SeparableConv2D(64, (3, 3), relu)`"
    } else {
        "e.g. `DepthwiseConv2D((3, 3), relu)`"
    };
    let filters = if separable {
        required(
            bound.get(0),
            (span, &format!("`{kind}` is missing `filters`, {example}")),
            errors,
            |e, errors| spec::positive(e, "filters", kind, errors),
        )
        .map(Some)
    } else {
        Some(None)
    };
    let kernel = required(
        at(0),
        (span, &format!("`{kind}` is missing `kernel_size`, {example}")),
        errors,
        |e, errors| spec::pair(e, "kernel_size", kind, errors),
    );
    let strides = at(1).map_or(Some((1, 1)), |e| spec::pair(e, "strides", kind, errors));
    let padding = at(2).map_or(Some(Padding::Valid), |e| spec::padding(e, errors));
    let multiplier = at(3).map_or(Some(1), |e| spec::positive(e, "depth_multiplier", kind, errors));
    let activation = at(4).map_or(Some(Activation::Linear), |e| spec::activation(e, errors));
    let use_bias = at(5).map_or(Some(true), |e| spec::boolean(e, "use_bias", errors));
    let first = params.len();
    let depthwise_name = if separable { "depthwise_kernel" } else { "kernel" };
    let depthwise = param_options(&bound, first, (depthwise_name, "depthwise"), kind, errors);
    let pointwise = if separable {
        param_options(&bound, first + 2, ("pointwise_kernel", "pointwise"), kind, errors)
    } else {
        Ok(None)
    };
    let (h, w, c) = image_input(kind, input?, previous, span, errors)?;
    let options: Vec<ParamOption> = depthwise.ok()?.into_iter().chain(pointwise.ok()?).collect();
    let (filters, kernel, strides, padding, multiplier, activation, use_bias) = (
        filters?,
        kernel?,
        strides?,
        padding?,
        multiplier?,
        activation?,
        use_bias?,
    );
    let (oh, ow, pad) = fit_window(
        "kernel",
        (h, w),
        kernel,
        strides,
        padding,
        previous,
        at(0).map_or(span, |e| e.span()),
        errors,
    )?;
    let window = Window {
        size: kernel,
        strides,
        pad,
    };
    let channels = filters.unwrap_or(c * multiplier);
    Some((
        Kind::Depthwise(Depthwise {
            filters,
            multiplier,
            window,
            activation,
            use_bias,
            options,
            mid: if separable { oh * ow * c * multiplier } else { 0 },
        }),
        Shape::Image(oh, ow, channels),
    ))
}

impl Depthwise {
    fn channels(layer: &Layer) -> usize {
        layer.input.dims().last().copied().unwrap_or(0)
    }
}

impl KindSpec for Depthwise {
    fn keras_name(&self) -> &'static str {
        if self.filters.is_some() {
            "SeparableConv2D"
        } else {
            "DepthwiseConv2D"
        }
    }

    fn param_options(&self) -> &[ParamOption] {
        &self.options
    }

    fn param_shapes(&self, layer: &Layer) -> TensorShapes {
        let c = Self::channels(layer);
        let (size, m) = (self.window.size, self.multiplier);
        // Keras 3 names a DepthwiseConv2D's kernel `kernel`, a SeparableConv2D's
        // `depthwise_kernel`.
        let depthwise = if self.filters.is_some() {
            "depthwise_kernel"
        } else {
            "kernel"
        };
        let mut shapes = vec![(depthwise, vec![size.0, size.1, c, m])];
        if let Some(f) = self.filters {
            shapes.push(("pointwise_kernel", vec![1, 1, c * m, f]));
        }
        if self.use_bias {
            shapes.push(("bias", vec![self.filters.unwrap_or(c * m)]));
        }
        shapes
    }

    fn activation(&self) -> Activation {
        self.activation
    }

    /// `DepthwiseConv2D::backward_batch_adding` adds each sample's input gradient as it is
    /// taken.
    fn adds_input_gradient_in_place(&self) -> bool {
        self.filters.is_none()
    }

    /// `DepthwiseConv2D::forward_batch_fused` and `backward_batch_fused`: its passes work a
    /// sample at a time.
    fn fuses_with_normalization(&self) -> bool {
        self.filters.is_none()
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (h, w, c) = image_dims(layer.input);
        let Shape::Image(oh, ow, _) = layer.output else {
            unreachable!("a depthwise convolution's output is an image")
        };
        let window = self.window;
        let channels = Self::channels(layer);
        let kk = lit(window.size.0 * window.size.1 * channels * self.multiplier);
        let cm = lit(channels * self.multiplier);
        let (m, kh, kw, sh, sw) = (
            lit(self.multiplier),
            lit(window.size.0),
            lit(window.size.1),
            lit(window.strides.0),
            lit(window.strides.1),
        );
        let (oh, ow, pt, pl) = (lit(oh), lit(ow), lit(window.pad.0), lit(window.pad.1));
        let bias = self.use_bias;
        match self.filters {
            None => {
                quote!(#k::layers::DepthwiseConv2D<#h, #w, #c, #m, #kh, #kw, #sh, #sw, #oh, #ow, #pt, #pl, #kk, #cm, #bias>)
            }
            Some(f) => {
                let f = lit(f);
                quote!(#k::layers::SeparableConv2D<#h, #w, #c, #m, #f, #kh, #kw, #sh, #sw, #oh, #ow, #pt, #pl, #kk, #cm, #bias>)
            }
        }
    }

    fn mask(&self) -> Mask {
        Mask::Refuses(self.keras_name())
    }

    fn scratch_floats(&self) -> usize {
        self.mid
    }

    fn embedded_line_aligned(&self) -> bool {
        true
    }

    fn params_struct(&self, core: &TokenStream) -> Option<TokenStream> {
        Some(if self.filters.is_some() {
            quote!(#core::params::SeparableConv2D)
        } else {
            quote!(#core::params::DepthwiseConv2D)
        })
    }

    /// Without `use_bias` the struct's bias is empty.
    fn params_type(&self, core: &TokenStream, _layer: &Layer, sizes: &[Literal]) -> TokenStream {
        let path = self.params_struct(core).expect("parameters");
        let zero = (!self.use_bias).then(|| lit(0));
        let sizes = sizes.iter().chain(zero.as_ref());
        quote!(#path<#(#sizes),*>)
    }

    fn params_init(&self, core: &TokenStream, decoded: Vec<TokenStream>) -> TokenStream {
        let path = self.params_struct(core).expect("parameters");
        params_init_with_bias(path, self.use_bias, decoded)
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, layer, f, act) = (cx.core, cx.layer, cx.field, cx.act);
        let win = embedded_window(core, layer.input, layer.output, &self.window);
        let m = lit(self.multiplier);
        let width = lit(layer.output.dims()[2]);
        let cm = lit(layer.input.dims()[2] * self.multiplier);
        let softmax = (self.activation == Activation::Softmax)
            .then(|| quote!(for px in out.chunks_exact_mut(#width) { #act.apply(px); }));
        let step = match self.filters {
            None => quote! {
                #core::conv::depthwise_conv2d::<#cm>(&#win, #m, x0, &self.#f.kernel, &self.#f.bias, out, #act);
            },
            Some(_) => quote! {
                #core::conv::separable_conv2d::<#cm, #width>(&#win, #m, x0, &self.#f.depthwise_kernel,
                    &self.#f.pointwise_kernel, &self.#f.bias, state, out, #act);
            },
        };
        Some(quote!(#step #softmax))
    }

    /// The kernel size; other widths get the generic error.
    fn weight_file_mismatch(&self, layer: &Layer, wrong: &[WrongShape], shown: &str) -> Option<String> {
        let size = self.window.size;
        let kind = self.keras_name();
        if let Some((name, file, _)) = wrong
            .iter()
            .find(|(n, _, _)| n.ends_with(".depthwise_kernel") || n.ends_with(".kernel"))
            && file.len() == 4
            && (file[0], file[1]) != size
        {
            return Some(format!(
                "layer `{}` ({kind}) declares `kernel_size` = ({}, {}), but the weight file `{shown}` has ({}, {}) \
                 (its `{name}` is {file:?}): declare `kernel_size = ({}, {})`, or save the weights again",
                layer.name, size.0, size.1, file[0], file[1], file[0], file[1]
            ));
        }
        None
    }
}
