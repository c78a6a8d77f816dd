//! `Conv2D(filters, kernel_size, strides = 1, padding = valid, activation = None, use_bias =
//! true)` over a channels-last image.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::spanned::Spanned;

use super::shared::{
    KERNEL_OPTIONS, Window, embedded_window, fit_window, image_dims, image_input, param_options,
    params_init_with_bias, params_type_with_bias, required, use_bias, width_mismatch,
};
use super::{Kind, KindSpec, Mask, Registered, Resolved, Step, WrongShape, lit};
use crate::errors::Errors;
use crate::model::{Layer, TensorShapes};
use crate::param_options::ParamOption;
use crate::parse::LayerCall;
use crate::shape::{Padding, Shape};
use crate::spec::{self, Activation};

pub const KINDS: &[Registered] = &[Registered::one("Conv2D", "conv2d", resolve)];

pub struct Conv2D {
    pub filters: usize,
    pub window: Window,
    pub activation: Activation,
    /// `use_bias`: without it the layer has no `bias` tensor, as in Keras.
    pub use_bias: bool,
    /// `kernel_initializer`, `kernel_regularizer`.
    pub options: Vec<ParamOption>,
}

fn resolve(call: &LayerCall, input: Option<Shape>, previous: &str, errors: &mut Errors) -> Resolved {
    let span = call.kind.span();
    let bound = spec::bind_with(
        call,
        &[
            "filters",
            "kernel_size",
            "strides",
            "padding",
            "activation",
            "use_bias",
        ],
        KERNEL_OPTIONS,
        errors,
    );
    let filters = required(
        bound.get(0),
        (
            span,
            "`Conv2D` is missing `filters`, e.g. `Conv2D(32, (3, 3), relu)`",
        ),
        errors,
        |e, errors| spec::positive(e, "filters", "Conv2D", errors),
    );
    let kernel = required(
        bound.get(1),
        (
            span,
            "`Conv2D` is missing `kernel_size`, e.g. `Conv2D(32, (3, 3), relu)`",
        ),
        errors,
        |e, errors| spec::pair(e, "kernel_size", "Conv2D", errors),
    );
    let strides = bound
        .get(2)
        .map_or(Some((1, 1)), |e| spec::pair(e, "strides", "Conv2D", errors));
    let padding = bound
        .get(3)
        .map_or(Some(Padding::Valid), |e| spec::padding(e, errors));
    let activation = bound
        .get(4)
        .map_or(Some(Activation::Linear), |e| spec::activation(e, errors));
    let bias = use_bias(bound.get(5), errors);
    let options = param_options(&bound, 6, ("kernel", "kernel"), "Conv2D", errors);
    let (h, w, _) = image_input("Conv2D", input?, previous, span, errors)?;
    let options = options.ok()?;
    let (filters, kernel, strides, padding, activation, use_bias) =
        (filters?, kernel?, strides?, padding?, activation?, bias?);
    let (oh, ow, pad) = fit_window(
        "kernel",
        (h, w),
        kernel,
        strides,
        padding,
        previous,
        bound.get(1).map_or(span, |e| e.span()),
        errors,
    )?;
    let window = Window {
        size: kernel,
        strides,
        pad,
    };
    Some((
        Kind::Conv2D(Conv2D {
            filters,
            window,
            activation,
            use_bias,
            options: options.into_iter().collect(),
        }),
        Shape::Image(oh, ow, filters),
    ))
}

impl KindSpec for Conv2D {
    fn keras_name(&self) -> &'static str {
        "Conv2D"
    }

    fn param_shapes(&self, layer: &Layer) -> TensorShapes {
        let c = layer.input.dims().last().copied().unwrap_or(0);
        let size = self.window.size;
        let mut shapes = vec![("kernel", vec![size.0, size.1, c, self.filters])];
        if self.use_bias {
            shapes.push(("bias", vec![self.filters]));
        }
        shapes
    }

    fn activation(&self) -> Activation {
        self.activation
    }

    /// Every input-gradient product of `Conv2D` adds as it stores.
    fn adds_input_gradient_in_place(&self) -> bool {
        true
    }

    /// `Conv2D::forward_batch_fused` and `backward_batch_fused`: its passes work a chunk of
    /// samples at a time.
    fn fuses_with_normalization(&self) -> bool {
        true
    }

    fn param_options(&self) -> &[ParamOption] {
        &self.options
    }

    fn runtime_type(&self, k: &TokenStream, layer: &Layer, _index: usize) -> TokenStream {
        let (h, w, c) = image_dims(layer.input);
        let Shape::Image(oh, ow, _) = layer.output else {
            unreachable!("conv output is an image")
        };
        let window = self.window;
        let kk = window.size.0 * window.size.1 * layer.input.dims()[2];
        let (f, kh, kw, sh, sw) = (
            lit(self.filters),
            lit(window.size.0),
            lit(window.size.1),
            lit(window.strides.0),
            lit(window.strides.1),
        );
        let (oh, ow, pt, pl, kk) = (lit(oh), lit(ow), lit(window.pad.0), lit(window.pad.1), lit(kk));
        let bias = (!self.use_bias).then(|| quote!(, false));
        quote!(#k::layers::Conv2D<#h, #w, #c, #f, #kh, #kw, #sh, #sw, #oh, #ow, #pt, #pl, #kk #bias>)
    }

    fn mask(&self) -> Mask {
        Mask::Refuses("Conv2D")
    }

    fn embedded_line_aligned(&self) -> bool {
        true
    }

    fn params_struct(&self, core: &TokenStream) -> Option<TokenStream> {
        Some(quote!(#core::params::Conv2D))
    }

    /// Without a bias, an empty one in the struct's place.
    fn params_init(&self, core: &TokenStream, decoded: Vec<TokenStream>) -> TokenStream {
        let path = self.params_struct(core).expect("the struct is named above");
        params_init_with_bias(path, self.use_bias, decoded)
    }

    fn params_type(&self, core: &TokenStream, _layer: &Layer, sizes: &[Literal]) -> TokenStream {
        params_type_with_bias(quote!(#core::params::Conv2D), self.use_bias, sizes)
    }

    fn embedded_step(&self, cx: &Step<'_>) -> Option<TokenStream> {
        let (core, layer, f, act) = (cx.core, cx.layer, cx.field, cx.act);
        let win = embedded_window(core, layer.input, layer.output, &self.window);
        let filters = lit(self.filters);
        let softmax = (self.activation == Activation::Softmax)
            .then(|| quote!(for px in out.chunks_exact_mut(#filters) { #act.apply(px); }));
        let bias = if self.use_bias {
            quote!(&self.#f.bias)
        } else {
            quote!(&[0.0f32; #filters])
        };
        Some(quote! {
            #core::conv::conv2d::<#filters>(&#win, x0, &self.#f.kernel, #bias, out, #act);
            #softmax
        })
    }

    /// The kernel size first, then the filters.
    fn weight_file_mismatch(&self, layer: &Layer, wrong: &[WrongShape], shown: &str) -> Option<String> {
        let size = self.window.size;
        if let Some((name, file, _)) = wrong.iter().find(|(n, _, _)| n.ends_with(".kernel"))
            && file.len() == 4
            && (file[0], file[1]) != size
        {
            return Some(format!(
                "layer `{}` (Conv2D) declares `kernel_size` = ({}, {}), but the weight file `{shown}` has ({}, {}) \
                 (its `{name}` is {file:?}): declare `Conv2D(…, ({}, {}), …)`, or save the weights again",
                layer.name, size.0, size.1, file[0], file[1], file[0], file[1]
            ));
        }
        width_mismatch(layer, ("filters", self.filters, 1), wrong, shown)
    }
}
