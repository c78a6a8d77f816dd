//! `#[weights("file.safetensors")]`: a network whose parameters are read from a weight file at
//! compile time and kept as constant data, with a forward pass that needs no heap and no `std`
//! (the kernels are `dl_core`'s). The file is checked against the declaration here; the
//! generated code only decodes bytes at known offsets during constant evaluation, and names the
//! file in `include_bytes!` so that editing it rebuilds the crate.

mod file;
mod fold;

pub use file::check;

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::footprint;
use crate::kinds::{Step, lit};
use crate::model::{Layer, Network, Source};
use crate::plan::{self, Place, Plan};
use crate::shape::Shape;
use crate::spec::Activation;

fn activation(core: &TokenStream, a: Activation) -> TokenStream {
    let name = match a {
        Activation::Linear => quote!(Linear),
        Activation::Relu => quote!(Relu),
        Activation::Sigmoid => quote!(Sigmoid),
        Activation::Tanh => quote!(Tanh),
        Activation::Softmax => quote!(Softmax),
        Activation::LeakyRelu => quote!(LeakyRelu),
        Activation::Elu => quote!(Elu),
        Activation::Gelu => quote!(Gelu),
        Activation::Softplus => quote!(Softplus),
        Activation::Swish => quote!(Swish),
        Activation::Relu6 => quote!(Relu6),
        Activation::HardSigmoid => quote!(HardSigmoid),
        Activation::HardSwish => quote!(HardSwish),
        Activation::ReluWith(args) => {
            let (max_value, negative_slope, threshold) = crate::generate::relu_args(args);
            quote!(ReluWith { max_value: #max_value, negative_slope: #negative_slope, threshold: #threshold })
        }
    };
    quote!(#core::Activation::#name)
}

/// The parameter struct of a layer (`None` for layers without parameters) and its fields' sizes.
fn params_type(core: &TokenStream, layer: &Layer) -> Option<(TokenStream, Vec<(&'static str, usize)>)> {
    let mut shapes = layer.param_shapes();
    shapes.extend(layer.state_shapes());
    if shapes.is_empty() {
        return None;
    }
    let sizes: Vec<(&'static str, usize)> = shapes.iter().map(|(t, d)| (*t, d.iter().product())).collect();
    let n: Vec<Literal> = sizes.iter().map(|&(_, n)| lit(n)).collect();
    Some((layer.kind.spec().params_type(core, layer, &n), sizes))
}

pub fn generate(k: &TokenStream, net: &Network, located: &file::Located) -> TokenStream {
    let core = quote!(#k::__private::dl_core);
    let corelib = quote!(#k::__private::core);
    let Network {
        attrs, vis, ident, ..
    } = net;
    let scratch_ident = format_ident!("{}Scratch", ident);
    let path = located.path.to_string_lossy().into_owned();

    let folds = fold::folds(net);
    // A folded batch normalization's parameters, decoded once into a constant that both its
    // field and the folding of the layer before it read.
    let folded_bn = |b: usize| format_ident!("FOLDED_{}", b);
    let mut fields = Vec::new();
    let mut inits = Vec::new();
    let mut consts = Vec::new();
    for (i, layer) in net.layers.iter().enumerate() {
        let Some((ty, sizes)) = params_type(&core, layer) else {
            continue;
        };
        let (docs, lvis, field) = (&layer.attrs, &layer.vis, &layer.field);
        let default_doc = format!("`{}`: {} layer.", layer.name, layer.kind_name());
        let doc = if docs.is_empty() {
            quote!(#[doc = #default_doc])
        } else {
            quote!(#(#docs)*)
        };
        // Read by nothing once folded, and kept so that the struct holds every tensor of the
        // weight file (`PARAM_BYTES` is its size).
        let unread = folds.passes[i].then(|| quote!(#[allow(dead_code)]));
        fields.push(quote!(#doc #unread #lvis #field: #ty));
        let fold = folds.batch_norm[i];
        let decode = |&(tensor, n): &(&'static str, usize)| {
            // A `Bidirectional` copy's tensors are `forward_lstm.kernel`, …: the field is the
            // part after the copy's name.
            let name = format_ident!("{}", tensor.rsplit('.').next().expect("a name"));
            let offset = lit(located.offsets[&(layer.name.clone(), tensor)]);
            let n = lit(n);
            let value = quote!(#core::decode::<#n>(BYTES, #offset));
            match (fold, tensor) {
                (Some((b, eps)), "kernel") => {
                    let (bn, eps) = (folded_bn(b), Literal::f32_suffixed(eps as f32));
                    quote!(#name: #core::norm::fold_kernel(#value, &#bn, #eps))
                }
                (Some((b, eps)), "bias") => {
                    let (bn, eps) = (folded_bn(b), Literal::f32_suffixed(eps as f32));
                    quote!(#name: #core::norm::fold_bias(#value, &#bn, #eps))
                }
                _ => quote!(#name: #value),
            }
        };
        let init = layer
            .kind
            .spec()
            .params_init(&core, sizes.iter().map(decode).collect());
        if folds.passes[i] {
            let bn = folded_bn(i);
            consts.push(quote!(const #bn: #ty = #init;));
            inits.push(quote!(#field: #bn));
        } else {
            inits.push(quote!(#field: #init));
        }
    }

    // One arena, laid out by liveness (`plan`): tensors whose lifetimes do not overlap share it,
    // so a stack needs about its two largest adjacent outputs, not the sum of all of them.
    // Folded layers write nothing.
    let plan = plan::plan_with(net, &folds.passes);
    let mut steps = Vec::new();
    let tokens = matches!(net.input, Shape::Tokens(_));
    for (i, layer) in net.layers.iter().enumerate() {
        if folds.passes[i] {
            continue;
        }
        let f = &layer.field;
        let act = activation(&core, folds.activation[i].unwrap_or(layer.activation()));
        let cx = Step {
            core: &core,
            corelib: &corelib,
            layer,
            field: f,
            act: &act,
        };
        let Some(step) = layer.kind.spec().embedded_step(&cx) else {
            continue;
        };
        let bindings = arena_bindings(&plan, layer, i);
        steps.push(quote!({ #bindings #step }));
    }
    let floats = lit(plan.floats);
    let scratch_fields = [quote!(arena: [f32; #floats])];
    let scratch_zero = [quote!(arena: [0.0; #floats])];
    let prev = match plan.outputs[net.layers.len() - 1] {
        Place::Input => quote!(x),
        Place::Arena { offset, len } => {
            let (a, b) = (lit(offset), lit(offset + len));
            quote!(&s.arena[#a..#b])
        }
    };

    let input_ty = match net.input {
        Shape::Tokens(l) => {
            let l = lit(l);
            quote!([u32; #l])
        }
        other => {
            let n = lit(other.len());
            quote!([f32; #n])
        }
    };
    let m = lit(net.layers.last().expect("a network has layers").output.len());
    let output_ty = quote!([f32; #m]);
    let (ret_ty, ok, doc_err) = if tokens {
        (
            quote!(#corelib::result::Result<#output_ty, #core::text::TokenOutOfRange>),
            quote!(#corelib::result::Result::Ok(y)),
            "\n\nAn id outside the vocabulary is an error naming its position.",
        )
    } else {
        (output_ty.clone(), quote!(y), "")
    };
    // Under `Embedding(mask_zero = true)`, the padding mask is the token ids themselves.
    let ids = net
        .layers
        .iter()
        .any(|l| l.masked)
        .then(|| quote!(let ids: &[u32] = x;));
    let params = lit(net.layers.iter().map(|l| l.params() + l.non_trainable()).sum());
    let param_bytes = lit(footprint::param_bytes(net));
    let activation_bytes = lit(footprint::scratch_bytes(plan.floats));
    let scratch_doc = format!(
        "Buffers of a single-sample forward: one arena of {} floats, shared by the layers' outputs \
         and recurrent state that are not alive at once (at most {} floats are at any layer), \
         starting on a 64-byte cache line.",
        plan.floats, plan.peak
    );
    let forward_doc = format!("One sample through the network, on the stack.{doc_err}");
    let forward_in_doc =
        format!("One sample through the network, in caller-provided scratch (e.g. a `static`).{doc_err}");
    let embedded_doc = format!(
        "The network with the weights of `{}`, decoded at compile time.",
        located.shown
    );

    quote! {
        #(#attrs)*
        #vis struct #ident {
            #(#fields,)*
        }

        #[doc = #scratch_doc]
        #[repr(C, align(64))]
        #vis struct #scratch_ident {
            #(#scratch_fields,)*
        }

        impl #scratch_ident {
            /// All zero; a `const`, so that scratch can live in a `static`.
            pub const ZERO: Self = Self { #(#scratch_zero,)* };
        }

        impl #ident {
            /// Parameters (trainable and not).
            pub const PARAMS: usize = #params;
            /// Bytes of the parameters: the size of this struct, whose kernels start on 64-byte
            /// cache lines (their layers' structs padded to whole lines).
            pub const PARAM_BYTES: usize = #param_bytes;
            /// Bytes of the activations and state a single-sample forward needs: the size of the
            /// scratch struct.
            pub const ACTIVATION_BYTES: usize = #activation_bytes;

            #[doc = #embedded_doc]
            #[allow(long_running_const_eval)]
            pub const EMBEDDED: Self = {
                const BYTES: &[u8] = include_bytes!(#path);
                #(#consts)*
                Self { #(#inits,)* }
            };

            #[doc = #forward_doc]
            #[inline]
            pub fn forward(&self, x: &#input_ty) -> #ret_ty {
                let mut scratch = #scratch_ident::ZERO;
                self.forward_in(x, &mut scratch)
            }

            #[doc = #forward_in_doc]
            pub fn forward_in(&self, x: &#input_ty, s: &mut #scratch_ident) -> #ret_ty {
                let x = &x[..];
                #ids
                #(#steps)*
                let mut y = [0.0f32; #m];
                y.copy_from_slice(#prev);
                #ok
            }
        }
    }
}

/// The slices a step works on, cut from the arena: `out` (and a
/// recurrent layer's `state`) mutable, and the inputs `x0`, `x1`, … shared. The plan keeps a
/// step's inputs clear of its output and state, so the arena is split at those and every input
/// lies inside one of the pieces between them.
fn arena_bindings(plan: &Plan, layer: &Layer, i: usize) -> TokenStream {
    let Place::Arena { offset, len } = plan.outputs[i] else {
        unreachable!("a layer that writes has its output in the arena")
    };
    let mut writes = vec![(offset, len, format_ident!("out"))];
    if let Some(Place::Arena { offset, len }) = plan.scratch[i] {
        writes.push((offset, len, format_ident!("state")));
    }
    writes.sort_by_key(|w| w.0);
    let mut split = vec![quote!(let rest: &mut [f32] = &mut s.arena[..];)];
    // The shared pieces: where each starts in the arena and its name.
    let mut pieces = Vec::new();
    let mut at = 0;
    for (k, (offset, len, name)) in writes.iter().enumerate() {
        let piece = format_ident!("_piece{}", k);
        let (gap, n) = (lit(offset - at), lit(*len));
        split.push(quote! {
            let (#piece, rest) = rest.split_at_mut(#gap);
            let (#name, rest) = rest.split_at_mut(#n);
        });
        pieces.push((at, offset - at, piece));
        at = offset + len;
    }
    let last = format_ident!("_piece{}", writes.len());
    split.push(quote!(let #last = rest;));
    pieces.push((at, plan.floats - at, last));
    for (k, source) in layer.inputs.iter().enumerate() {
        let x = format_ident!("x{}", k);
        let place = match source {
            Source::Input => Place::Input,
            Source::Node(p) => plan.outputs[*p],
        };
        split.push(match place {
            Place::Input => quote!(let #x = x;),
            Place::Arena { offset, len } => {
                let (base, _, piece) = pieces
                    .iter()
                    .find(|(base, size, _)| *base <= offset && offset + len <= base + size)
                    .expect("the plan keeps a step's inputs clear of what it writes");
                let (a, b) = (lit(offset - base), lit(offset - base + len));
                quote!(let #x: &[f32] = &#piece[#a..#b];)
            }
        });
    }
    quote!(#(#split)*)
}

/// A stand-in emitted beside the errors of an embedded declaration, naming only `core` and
/// `dl_core`: every item the embedded network has (`EMBEDDED`, `forward`, `forward_in`, the
/// scratch struct and its `ZERO`, the consts), with the real input and output types where the
/// macro knows them, so that code using the network reports nothing more.
pub fn fallback(k: &TokenStream, fb: &crate::model::Fallback) -> TokenStream {
    let crate::model::Fallback { vis, ident, .. } = fb;
    let scratch = format_ident!("{}Scratch", ident);
    let core = quote!(#k::__private::dl_core);
    let unreachable = quote!(#k::__private::core::unreachable!());
    let input = match fb.input {
        Some((Shape::Tokens(l), _)) => Some((quote!([u32; #l]), true)),
        Some((shape, _)) => {
            let n = lit(shape.len());
            Some((quote!([f32; #n]), false))
        }
        None => None,
    };
    let output = match fb.output {
        Some(m) => {
            let m = lit(m);
            quote!([f32; #m])
        }
        None => quote!(#core::Unknown),
    };
    let (x_param, x_ty, ret) = match input {
        Some((ty, true)) => (
            quote!(),
            ty,
            quote!(#k::__private::core::result::Result<#output, #core::text::TokenOutOfRange>),
        ),
        Some((ty, false)) => (quote!(), ty, output),
        None => (quote!(<X>), quote!(X), output),
    };
    quote! {
        #vis struct #ident;
        #vis struct #scratch;
        #[allow(dead_code, clippy::all)]
        impl #scratch {
            pub const ZERO: Self = #scratch;
        }
        #[allow(dead_code, unused_variables, clippy::all)]
        impl #ident {
            pub const EMBEDDED: Self = #ident;
            pub const PARAMS: usize = 0;
            pub const PARAM_BYTES: usize = 0;
            pub const ACTIVATION_BYTES: usize = 0;
            pub fn forward #x_param(&self, _: &#x_ty) -> #ret { #unreachable }
            pub fn forward_in #x_param(&self, _: &#x_ty, _: &mut #scratch) -> #ret { #unreachable }
        }
    }
}
