//! Code generation: the struct, its constructors, forward and backward passes, and the
//! `Model` impl. Generated code calls kernels in the runtime and names everything through the
//! `$crate` path it was given, so it stays short, fast to compile and hygienic.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::kinds::lit;
use crate::model::{Fallback, Kind, Layer, Network, Source, TensorShapes};
use crate::options::Limit;
use crate::param_options;
use crate::shape::Shape;
use crate::spec::Activation;

fn activation(k: &TokenStream, a: Activation) -> TokenStream {
    let act = quote!(#k::activation::Activation);
    match a {
        Activation::Linear => quote!(#act::Linear),
        Activation::Relu => quote!(#act::Relu),
        Activation::Sigmoid => quote!(#act::Sigmoid),
        Activation::Tanh => quote!(#act::Tanh),
        Activation::Softmax => quote!(#act::Softmax),
        Activation::LeakyRelu => quote!(#act::LeakyRelu { negative_slope: #k::activation::LEAKY_RELU_SLOPE }),
        Activation::Elu => quote!(#act::Elu { alpha: #k::activation::ELU_ALPHA }),
        Activation::Gelu => quote!(#act::Gelu),
        Activation::Softplus => quote!(#act::Softplus),
        Activation::Swish => quote!(#act::Swish),
        Activation::Relu6 => quote!(#act::Relu6),
        Activation::HardSigmoid => quote!(#act::HardSigmoid),
        Activation::HardSwish => quote!(#act::HardSwish),
        Activation::ReluWith(args) => {
            let (max_value, negative_slope, threshold) = relu_args(args);
            quote!(#act::ReluWith { max_value: #max_value, negative_slope: #negative_slope, threshold: #threshold })
        }
    }
}

/// A `ReLU` layer's arguments as `f32` expressions (no maximum: infinity).
pub fn relu_args(args: crate::spec::ReluArgs) -> (TokenStream, Literal, Literal) {
    let (max_value, negative_slope, threshold) = args.values();
    let max_value = match max_value {
        Some(m) => {
            let m = Literal::f32_suffixed(m);
            quote!(#m)
        }
        None => quote!(f32::INFINITY),
    };
    (
        max_value,
        Literal::f32_suffixed(negative_slope),
        Literal::f32_suffixed(threshold),
    )
}

fn layer_type(k: &TokenStream, layer: &Layer, index: usize) -> TokenStream {
    layer.kind.spec().runtime_type(k, layer, index)
}

/// Columns of the layer's kernel per sample: a Dense layer on a sequence sees every time step of
/// every sample as one column.
fn columns_per_sample(layer: &Layer) -> usize {
    layer.kind.spec().columns_per_sample(layer)
}

/// Samples as the layer's kernel counts them (see [`columns_per_sample`]).
fn batch_of(layer: &Layer) -> TokenStream {
    match columns_per_sample(layer) {
        1 => quote!(batch),
        t => {
            let t = lit(t);
            quote!(batch * #t)
        }
    }
}

fn features(k: &TokenStream, n: usize) -> TokenStream {
    let n = Literal::usize_unsuffixed(n);
    quote!(#k::__private::nalgebra::SVector<f32, #n>)
}

pub fn network(k: &TokenStream, net: &Network, budget: &[Limit]) -> TokenStream {
    let unoptimised = crate::opt_level::unoptimised(k);
    let Network {
        attrs, vis, ident, ..
    } = net;
    let name_str = ident.to_string();
    let last = net.layers.len() - 1;
    let out_units = net.layers[last].output.len();
    let input_ty = match (net.input, net.layers[0].kind.spec().vocabulary()) {
        (Shape::Tokens(l), Some(vocabulary)) => {
            let (l, v) = (lit(l), lit(vocabulary));
            quote!(#k::tokens::Tokens<#l, #v>)
        }
        (input, _) => features(k, input.len()),
    };
    let elem = quote!(<#input_ty as #k::sample::Sample>::Elem);
    let output_ty = features(k, out_units);
    let head = if out_units == 1 {
        quote!(#k::head::OneUnit)
    } else {
        let n = Literal::usize_unsuffixed(out_units);
        quote!(#k::head::Units<#n>)
    };
    let layer_trait = quote!(#k::layers::Layer);

    let fields: Vec<_> = net.layers.iter().map(|l| &l.field).collect();
    let types: Vec<_> = net
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| layer_type(k, l, i))
        .collect();
    // Activation layers a layer before them applies: they run nothing and hold no buffer.
    let fused = crate::fuse::fusions(net);
    let acts: Vec<_> = fused.activation.iter().map(|&a| activation(k, a)).collect();
    let names: Vec<_> = net.layers.iter().map(|l| l.name.as_str()).collect();
    // The workspace is a struct with one field per layer: std implements `Default` for tuples
    // of at most 12, which capped networks at 12 layers when it was one.
    let idx: Vec<syn::Ident> = (0..net.layers.len()).map(|i| format_ident!("n{}", i)).collect();
    let ws_ident = format_ident!("{}Workspace", ident);
    let ws_doc = format!(
        "The training buffers of [`{name_str}`], one set per layer (its `Model::Workspace`): \
         grown to the largest batch seen, then reused."
    );

    let field_defs = net.layers.iter().zip(&types).map(|(l, ty)| {
        let (docs, vis, field) = (&l.attrs, &l.vis, &l.field);
        let default_doc = format!("`{}`: {} layer.", l.name, l.kind_name());
        let doc = if docs.is_empty() {
            quote!(#[doc = #default_doc])
        } else {
            quote!(#(#docs)*)
        };
        quote!(#doc #vis #field: #ty)
    });

    let params_total: usize = net.layers.iter().map(Layer::params).sum();
    let params_lit = Literal::usize_unsuffixed(params_total);
    let param_bytes = lit(crate::footprint::param_bytes(net));
    let activation_bytes = lit(crate::footprint::activation_bytes(net));
    let activations = lit(net.layers.iter().map(|l| l.output.len()).sum());
    // Each layer's own figure, under the conditions the generated passes run it in: its
    // activation, an input gradient for every layer but the first, and its mask.
    let training_terms = net
        .layers
        .iter()
        .enumerate()
        .filter(|&(i, _)| !fused.absorbed[i])
        .map(|(i, l)| {
            let (ty, act, cols) = (&types[i], &acts[i], lit(columns_per_sample(l)));
            let (dx, masked) = (l.inputs[0] != Source::Input, l.masked);
            // Buffers the fused passes leave empty: a normalization's output that its reader
            // computes, a layer's output gradient that the normalization reading it hands over.
            let computed = fused.computes_for[i].is_some() || fused.added_by[i].is_some();
            let pulled = fused.normalized_by[i].is_some();
            let unused = lit(4 * l.output.len() * (usize::from(computed) + usize::from(pulled)));
            quote!((#cols * <#ty as #layer_trait>::TRAINING_BYTES.per_sample(#act, #dx, #masked) - #unused))
        });
    let mut training_terms: Vec<TokenStream> = training_terms.collect();
    // The scratch a fan-out's gradients pass through where a reader cannot add its part as it
    // stores it: the largest such tensor.
    let destinations = gradient_destinations(net, &fused);
    let fanout = (0..net.layers.len())
        .filter(|&i| !matches!(net.layers[i].kind, Kind::Merge(_)))
        .filter(|&i| net.layers[i].masked || !net.layers[i].kind.spec().adds_input_gradient_in_place())
        .flat_map(|i| destinations[i].iter().flatten())
        .filter(|&&(_, adding)| adding)
        .map(|&(p, _)| net.layers[p].output.len())
        .max();
    if let Some(n) = fanout {
        let bytes = lit(4 * n);
        training_terms.push(quote!(#bytes));
    }
    let training_asserts = crate::footprint::training_budget(k, net, budget, &training_terms);
    let non_trainable = lit(net.layers.iter().map(Layer::non_trainable).sum());
    // Every parameter tensor, then every state tensor, as the runtime visits them.
    let shapes_of = |shapes: fn(&Layer) -> TensorShapes| {
        net.layers.iter().flat_map(move |l| {
            let name = l.name.clone();
            shapes(l).into_iter().map(move |(tensor, dims)| {
                let dims = dims.into_iter().map(lit);
                quote!((#name, #tensor, &[#(#dims),*]))
            })
        })
    };
    let param_shapes: Vec<TokenStream> = shapes_of(Layer::param_shapes)
        .chain(shapes_of(Layer::state_shapes))
        .collect();
    let chain = net.is_chain();
    let summaries = net.layers.iter().map(|l| {
        let connected: Vec<&str> = if chain {
            Vec::new()
        } else {
            l.inputs.iter().map(|&s| net.source_name(s)).collect()
        };
        let (name, kind) = (&l.name, l.kind_name());
        let out = l.output.dims().into_iter().map(lit);
        let (params, fixed) = (lit(l.params()), lit(l.non_trainable()));
        quote!(#k::summary::LayerSummary { name: #name, kind: #kind, output_shape: &[#(#out),*], params: #params, non_trainable: #fixed, connected_to: &[#(#connected),*] })
    });

    let single = if net.is_chain() && net.layers.iter().all(|l| l.kind.spec().forwards_on_stack()) {
        // Dense layers only: each output feeds the next on the stack, no heap at all.
        let (f0, a0) = (&fields[0], &acts[0]);
        let rest = fields
            .iter()
            .zip(&acts)
            .skip(1)
            .map(|(f, a)| quote!(let x = self.#f.forward(&x, #a);));
        quote! {
            let x = self.#f0.forward(x, #a0);
            #(#rest)*
            x
        }
    } else {
        // Image activations are too large for the stack (a debug-build test thread has 2 MiB):
        // run the batch path on one sample, in buffers kept per thread after the first call.
        quote! {
            #k::__private::std::thread_local! {
                static WORKSPACE: #k::__private::core::cell::RefCell<<#ident as #k::model::Model>::Workspace> =
                    #k::__private::core::cell::RefCell::new(#k::__private::core::default::Default::default());
            }
            WORKSPACE.with(|ws| {
                let mut ws = ws.borrow_mut();
                <Self as #k::model::Model>::forward_batch(self, #k::sample::Sample::elems(x), 1, &mut ws, false);
                let (head, _) = <Self as #k::model::Model>::head(&mut ws);
                <#output_ty>::from_column_slice(head.y)
            })
        }
    };

    // What each layer reads, as a slice of its batch: the network's input or a layer's output.
    let read = |src: Source| match src {
        Source::Input => quote!(x),
        Source::Node(p) => {
            let p = &idx[fused.holder[p]];
            quote!(ws.#p.y.as_slice())
        }
    };
    let forward_batch = (0..net.layers.len()).filter(|&i| !fused.absorbed[i]).map(|i| {
        let layer = &net.layers[i];
        let (f, ty, a, ix) = (fields[i], &types[i], &acts[i], &idx[i]);
        let batch = batch_of(layer);
        let ins: Vec<TokenStream> = layer.inputs.iter().map(|&s| read(s)).collect();
        match &layer.kind {
            // An `Add` normalizing one input, which the normalization left unstored.
            Kind::Merge(_) if fused.adds_normalized[i].is_some() => {
                let b = fused.adds_normalized[i].expect("checked");
                let (fb, tb, ib) = (fields[b], &types[b], &idx[b]);
                let x_b = read(net.layers[b].inputs[0]);
                let other = &ins[usize::from(layer.inputs[0] == Source::Node(b))];
                quote!(self.#f.forward_add_normalized(<#tb>::normalized(&self.#fb, &ws.#ib), #x_b, #other, batch, &mut ws.#ix, #a);)
            }
            Kind::Merge(merge) => merge.forward_batch(k, layer, (f, ix, a), &ins),
            // The padding mask is the network's input: its token ids.
            _ if layer.masked => {
                let input = &ins[0];
                quote!(<#ty as #k::layers::MaskedLayer>::forward_masked(&self.#f, #input, #batch, &mut ws.#ix, #a, training, x);)
            }
            // A convolution reading a normalization's output as it computes it, or showing its
            // own output to the normalization reading it, or both.
            _ if fused.normalized_by[i].is_some() || fused.computed_input[i].is_some() => {
                let input = match fused.computed_input[i] {
                    Some(b) => {
                        let (fb, tb, ib, ab) = (fields[b], &types[b], &idx[b], &acts[b]);
                        let x_b = read(net.layers[b].inputs[0]);
                        quote!(#k::layers::Input::Computed(&<#tb>::output(&self.#fb, #x_b, &ws.#ib.extra, #ab)))
                    }
                    None => {
                        let input = &ins[0];
                        quote!(#k::layers::Input::Stored(#input))
                    }
                };
                let shown = match fused.normalized_by[i] {
                    Some(b) => {
                        let (tb, ib) = (&types[b], &idx[b]);
                        quote!(#k::__private::core::option::Option::Some(&mut <#tb>::row_sums(&mut ws.#ib)))
                    }
                    None => quote!(#k::__private::core::option::Option::None),
                };
                quote!(<#ty>::forward_batch_fused(&self.#f, #input, #batch, &mut ws.#ix, #a, #shown);)
            }
            _ if fused.normalizes[i].is_some() || fused.added_by[i].is_some() || fused.computes_for[i].is_some() => {
                let input = &ins[0];
                let summed = fused.normalizes[i].is_some();
                if fused.added_by[i].is_some() || fused.computes_for[i].is_some() {
                    quote!(<#ty>::forward_statistics(&self.#f, #input, #batch, &mut ws.#ix, training, #summed);)
                } else {
                    quote!(<#ty>::forward(&self.#f, #input, #batch, &mut ws.#ix, #a, training, #summed);)
                }
            }
            _ => {
                let input = &ins[0];
                quote!(<#ty as #layer_trait>::forward_batch(&self.#f, #input, #batch, &mut ws.#ix, #a, training);)
            }
        }
    });

    // Backward in reverse declaration order. A tensor read by several layers gets the sum of
    // their gradients: the last reader (the first to run backward) writes the tensor's `dy`,
    // each earlier one adds its part to it.
    let mut backward = Vec::new();
    for i in (0..net.layers.len()).rev().filter(|&i| !fused.absorbed[i]) {
        let layer = &net.layers[i];
        let (f, ty, ix) = (fields[i], &types[i], &idx[i]);
        let a = if i == last {
            quote!(last_activation)
        } else {
            acts[i].clone()
        };
        let batch = batch_of(layer);
        let ins: Vec<TokenStream> = layer.inputs.iter().map(|&s| read(s)).collect();
        let dest = |j: usize| destinations[i][j];
        match &layer.kind {
            Kind::Merge(merge) => {
                let to: Vec<(usize, usize, bool)> = (0..layer.inputs.len())
                    .filter_map(|j| dest(j).map(|(p, adding)| (j, p, adding)))
                    .collect();
                let gradient_to = |&(j, p, adding): &(usize, usize, bool)| {
                    let (pi, len) = (&idx[p], lit(net.layers[p].output.len()));
                    quote!(#k::layers::GradientTo { which: #j, dx: &mut ws.#pi.dy[..#len * batch], adding: #adding })
                };
                // One call for all the inputs where each reads its own tensor (their gradients
                // are distinct fields); one per input where a tensor is read twice.
                let distinct = to
                    .iter()
                    .enumerate()
                    .all(|(n, t)| to[..n].iter().all(|u| u.1 != t.1));
                if distinct {
                    let all: Vec<TokenStream> = to.iter().map(gradient_to).collect();
                    backward.push(merge.backward_batch(k, layer, (f, ix, &a), &ins, &all));
                } else {
                    for t in &to {
                        let one = [gradient_to(t)];
                        backward.push(merge.backward_batch(k, layer, (f, ix, &a), &ins, &one));
                    }
                }
            }
            // A normalization sharing passes with the convolutions around it: its sums only
            // where the convolution before it takes the input gradient chunk by chunk; those
            // sums already taken where the convolution after it showed the gradient it wrote.
            _ if fused.normalizes[i].is_some() || fused.read_by[i].is_some() => {
                let input = &ins[0];
                let summed = fused.read_by[i].is_some();
                if fused.normalizes[i].is_some() {
                    let _ = dest(0);
                    backward.push(quote!(<#ty>::backward_statistics(&self.#f, #input, #batch, &mut ws.#ix, #a, &mut grads.#f, #summed);));
                } else {
                    let dx = match dest(0) {
                        None => quote!(#k::__private::core::option::Option::None),
                        Some((p, adding)) => {
                            assert!(!adding, "a normalization read alone writes its input's gradient");
                            let pi = &idx[p];
                            quote!(#k::__private::core::option::Option::Some(&mut ws.#pi.dy))
                        }
                    };
                    backward.push(quote!(<#ty>::backward_batch_summed(&self.#f, #input, #batch, &mut ws.#ix, #a, &mut grads.#f, #dx, true);));
                }
            }
            _ if fused.normalized_by[i].is_some() || fused.reads_normalized[i].is_some() => {
                let input = &ins[0];
                let none = quote!(#k::__private::core::option::Option::None);
                let some = |v: TokenStream| quote!(#k::__private::core::option::Option::Some(#v));
                let upstream = fused.normalized_by[i].map_or(none.clone(), |b| {
                    let (fb, tb, ib, ab) = (fields[b], &types[b], &idx[b], &acts[b]);
                    some(quote!(&<#tb>::input_gradient(&self.#fb, &ws.#ib, #ab)))
                });
                let (dx, adding) = match dest(0) {
                    None => (none.clone(), false),
                    Some((p, adding)) => {
                        let (pi, len) = (&idx[p], lit(net.layers[p].output.len()));
                        (some(quote!(&mut ws.#pi.dy[..#len * batch])), adding)
                    }
                };
                // The normalization it reads, if any: its output computed again as the kernel
                // gradient reads it (where it was left unstored), its sums shown the gradient.
                let call = match fused.reads_normalized[i] {
                    Some(b) => {
                        let (fb, tb, ib, ab) = (fields[b], &types[b], &idx[b], &acts[b]);
                        let x_b = read(net.layers[b].inputs[0]);
                        let x = if fused.computed_input[i].is_some() {
                            quote!(#k::layers::Input::Computed(&output))
                        } else {
                            quote!(#k::layers::Input::Stored(#input))
                        };
                        quote! {{
                            let (output, mut sums) = <#tb>::output_and_gradient_row_sums(&self.#fb, #x_b, &mut ws.#ib.extra, #ab);
                            <#ty>::backward_batch_fused(&self.#f, #x, #batch, &mut ws.#ix, #a, &mut grads.#f, #dx, #adding, #upstream, #k::__private::core::option::Option::Some(&mut sums));
                        }}
                    }
                    None => {
                        quote!(<#ty>::backward_batch_fused(&self.#f, #k::layers::Input::Stored(#input), #batch, &mut ws.#ix, #a, &mut grads.#f, #dx, #adding, #upstream, #none);)
                    }
                };
                backward.push(call);
            }
            _ => {
                let input = &ins[0];
                let call = match dest(0) {
                    None if layer.masked => {
                        quote!(<#ty as #k::layers::MaskedLayer>::backward_masked(&self.#f, #input, #batch, &mut ws.#ix, #a, &mut grads.#f, #k::__private::core::option::Option::None, x);)
                    }
                    None => {
                        quote!(<#ty as #layer_trait>::backward_batch(&self.#f, #input, #batch, &mut ws.#ix, #a, &mut grads.#f, #k::__private::core::option::Option::None);)
                    }
                    Some((p, false)) => {
                        let pi = &idx[p];
                        let dx = quote!(#k::__private::core::option::Option::Some(&mut ws.#pi.dy));
                        if layer.masked {
                            quote!(<#ty as #k::layers::MaskedLayer>::backward_masked(&self.#f, #input, #batch, &mut ws.#ix, #a, &mut grads.#f, #dx, x);)
                        } else {
                            quote!(<#ty as #layer_trait>::backward_batch(&self.#f, #input, #batch, &mut ws.#ix, #a, &mut grads.#f, #dx);)
                        }
                    }
                    Some((p, true)) => {
                        let (pi, len) = (&idx[p], lit(net.layers[p].output.len()));
                        if layer.masked {
                            let part = quote!(#k::layers::gradient_scratch(&mut ws.scratch, #len * batch));
                            quote! {
                                <#ty as #k::layers::MaskedLayer>::backward_masked(&self.#f, #input, #batch, &mut ws.#ix, #a, &mut grads.#f, #k::__private::core::option::Option::Some(#part), x);
                                #k::layers::add_gradient(&mut ws.#pi.dy, &ws.scratch);
                            }
                        } else {
                            quote!(<#ty as #layer_trait>::backward_batch_adding(&self.#f, #input, #batch, &mut ws.#ix, #a, &mut grads.#f, &mut ws.#pi.dy[..#len * batch], &mut ws.scratch);)
                        }
                    }
                };
                backward.push(call);
            }
        }
    }
    // State hooks, for the layers that have state only (the others' are no-ops).
    let stateful: Vec<usize> = (0..net.layers.len())
        .filter(|&i| net.layers[i].non_trainable() > 0)
        .collect();
    let state_methods = if stateful.is_empty() {
        quote!()
    } else {
        let (sf, st, sn, si): (Vec<_>, Vec<_>, Vec<_>, Vec<_>) = (
            stateful.iter().map(|&i| fields[i]).collect(),
            stateful.iter().map(|&i| &types[i]).collect(),
            stateful.iter().map(|&i| names[i]).collect(),
            stateful.iter().map(|&i| &idx[i]).collect(),
        );
        quote! {
            fn for_each_state<'a>(&'a self, mut f: impl FnMut(&'static str, &'static str, &'a [f32])) {
                #(<#st as #layer_trait>::for_each_state(&self.#sf, &mut |p, v| f(#sn, p, v));)*
            }

            fn for_each_state_mut(&mut self, mut f: impl FnMut(&'static str, &'static str, &mut [f32])) {
                #(<#st as #layer_trait>::for_each_state_mut(&mut self.#sf, &mut |p, v| f(#sn, p, v));)*
            }

            fn update_state(&mut self, ws: &Self::Workspace) {
                #(<#st as #layer_trait>::update_state(&mut self.#sf, &ws.#si);)*
            }
        }
    };
    let last_ty = &types[last];
    let last_idx = &idx[last];
    let last_act = &acts[last];

    let new_fields = net.layers.iter().zip(&types).map(|(l, ty)| {
        let f = &l.field;
        if l.param_shapes().is_empty() {
            return quote!(#f: <#ty as #layer_trait>::zeros());
        }
        let initialized = param_options::initialized_tensors(k, l);
        if initialized.is_empty() {
            return quote!(#f: <#ty>::new(rng));
        }
        // Keras's defaults first, then the tensors the declaration initializes otherwise,
        // drawn again: one generator, one order, the same weights from the same seed.
        quote!(#f: {
            let mut layer = <#ty>::new(rng);
            let mut tensor = 0usize;
            <#ty as #layer_trait>::for_each_param_mut(&mut layer, &mut |_, values| {
                match tensor {
                    #(#initialized)*
                    _ => {}
                }
                tensor += 1;
            });
            layer
        })
    });
    let regularizers: Vec<TokenStream> = net
        .layers
        .iter()
        .zip(&types)
        .flat_map(|(l, ty)| param_options::regularized_tensors(k, &layer_trait, l, ty))
        .collect();
    let regularize = (!regularizers.is_empty()).then(|| {
        quote! {
            fn regularize(&self, mut grads: #k::__private::core::option::Option<&mut Self>) -> f32 {
                let mut penalty = 0.0f32;
                #(#regularizers)*
                penalty
            }
        }
    });
    let zero_fields = fields
        .iter()
        .zip(&types)
        .map(|(f, ty)| quote!(#f: <#ty as #layer_trait>::zeros()));
    let clone_fields = fields
        .iter()
        .map(|f| quote!(#f: #k::__private::core::clone::Clone::clone(&self.#f)));

    let vec = quote!(#k::__private::std::vec::Vec);
    let result = quote!(#k::error::Result);
    let samples = samples_trait(k, net, &input_ty);
    let samples_ident = samples_ident(ident);
    let doc_params = format!("Trainable parameters: {params_total}.");
    // `adapt` and the readiness check, for networks with layers adapted from data.
    let adapted: Vec<usize> = (0..net.layers.len())
        .filter(|&i| net.layers[i].kind.spec().adapts())
        .collect();
    let (adapt_method, unadapted_method) = if adapted.is_empty() {
        (quote!(), quote!())
    } else {
        let steps = adapted.iter().map(|&i| {
            let layer = &net.layers[i];
            let (f, name, c) = (fields[i], names[i], lit(layer.channels()));
            let moments = match layer.inputs[0] {
                Source::Input => quote!(#k::layers::input_moments(x, #c)?),
                Source::Node(p) => {
                    let pi = &idx[fused.holder[p]];
                    quote!(#k::layers::layer_moments(&adapted, x, |ws: &#ws_ident, m: &mut #k::layers::Moments| m.add(&ws.#pi.y, #c))?)
                }
            };
            quote! {
                let moments = #moments;
                adapted.#f.adapt(&moments).map_err(|message| #k::error::Error::BadArgument {
                    argument: "x",
                    message: #k::__private::std::format!("layer `{}`: {}", #name, message),
                })?;
            }
        });
        let (af, an): (Vec<_>, Vec<_>) = adapted.iter().map(|&i| (fields[i], names[i])).unzip();
        (
            quote! {
                /// Sets the mean and variance of every `Normalization` layer from the samples `x`
                /// (usually the training part), as Keras's `adapt`: each from the values that
                /// reach it, in declaration order. An `Err` (no samples, a non-finite value, a
                /// variance beyond `f32`) leaves the network unchanged.
                pub fn adapt<X: #samples_ident>(&mut self, x: &[X]) -> #result<()> {
                    let x = X::samples(x);
                    let mut adapted = #k::__private::core::clone::Clone::clone(self);
                    #(#steps)*
                    *self = adapted;
                    #k::__private::core::result::Result::Ok(())
                }
            },
            quote! {
                fn unadapted(&self) -> #k::__private::core::option::Option<&'static str> {
                    #(if !self.#af.is_adapted() {
                        return #k::__private::core::option::Option::Some(#an);
                    })*
                    #k::__private::core::option::Option::None
                }
            },
        )
    };
    let batch_statistics = net.layers.iter().any(|l| l.kind.spec().batch_statistics());

    quote! {
        #(#attrs)*
        #vis struct #ident {
            #(#field_defs,)*
        }

        impl #ident {
            #[doc = #doc_params]
            pub const PARAMS: usize = #params_lit;
            /// Bytes of the parameters as an embedded network (`#[weights]`) holds them: its
            /// struct's size, kernels starting on 64-byte cache lines.
            pub const PARAM_BYTES: usize = #param_bytes;
            /// Bytes of the activations and recurrent state a single-sample forward of the
            /// embedded network needs (its scratch struct).
            pub const ACTIVATION_BYTES: usize = #activation_bytes;
            /// Bytes per sample of the training workspace: what the buffers a training step
            /// keeps grow by for each sample of the batch (a batch of `B` holds
            /// `B · TRAINING_BYTES_PER_SAMPLE` bytes of them).
            ///
            /// Counted, per layer: its output and the gradient of that output; the caches its
            /// backward pass reads (pre-activations, except for `linear` and `relu` layers,
            /// which need only the output; max-pooling argmax indices; dropout masks; recurrent
            /// inputs, gates, states and cell states of every step, and their per-step
            /// gradients; the reversed copies of a `Bidirectional`); an `Embedding`'s list of
            /// touched rows at its worst case, every token distinct. An `Activation('relu')`
            /// that a `BatchNormalization` applies itself (its only reader) holds nothing.
            ///
            /// Not counted, being the same for any batch: parameters, their gradients and the
            /// optimizer's state, transposed kernels, batch-normalization statistics, and a
            /// convolution's im2col patch matrix, which is built a chunk of samples at a time and
            /// so grows with the batch only up to a fixed size (see `Conv2D`). Nor the copy of
            /// the batch's inputs and targets the trainer gathers. Data-parallel training splits
            /// the batch between workspaces, so the total per sample is the same.
            pub const TRAINING_BYTES_PER_SAMPLE: usize = 0 #(+ #training_terms)*;

            /// A network initialised with Keras's defaults (glorot-uniform kernels, zero biases);
            /// the same generator state gives bit-identical weights.
            pub fn new<R: #k::__private::rand::Rng + ?Sized>(rng: &mut R) -> Self {
                Self { #(#new_fields,)* }
            }

            /// A network initialised as [`new`](Self::new) does, from a ChaCha8 generator seeded
            /// with `seed`: the same seed gives bit-identical weights, with no `rand` dependency
            /// in the caller.
            pub fn seeded(seed: u64) -> Self {
                Self::new(&mut <#k::__private::rand_chacha::ChaCha8Rng as #k::__private::rand::SeedableRng>::seed_from_u64(seed))
            }

            /// One sample through the network, without touching the heap.
            #[inline]
            pub fn forward<X: #samples_ident>(&self, x: &X) -> #output_ty {
                let x = X::sample(x);
                #single
            }

            /// Outputs for every sample of `x`, computed in batches.
            pub fn predict<X: #samples_ident>(&self, x: &[X]) -> #vec<#output_ty> {
                #k::train::predict(self, X::samples(x))
            }

            /// Trains the network as Keras's `fit` does; see [`Fit`](#k::train::Fit).
            pub fn fit<X, T, L, O>(&mut self, x: &[X], y: &[T], cfg: #k::train::Fit<'_, X, T, L, O>) -> #result<#k::train::History>
            where
                X: #samples_ident,
                L: #k::loss::Labels<#head, T>,
                O: #k::optim::Optimizer,
            {
                #k::train::fit(self, X::samples(x), L::labels(y), X::fit_config(L::fit_config(cfg)))
            }

            /// Loss, accuracy and confusion matrix on `x`, `y`.
            pub fn evaluate<X, T, L>(&self, x: &[X], y: &[T], loss: &L) -> #result<#k::train::Evaluation>
            where
                X: #samples_ident,
                L: #k::loss::Labels<#head, T>,
            {
                #k::train::evaluate(self, X::samples(x), L::labels(y), loss)
            }

            /// Trains the network on the samples a [`Source`](#k::data::stream::Source) yields,
            /// for data larger than memory; see [`fit_stream`](#k::train::fit_stream).
            pub fn fit_stream<T, L, O>(
                &mut self,
                source: &mut dyn #k::data::stream::Source<#input_ty, T>,
                cfg: #k::train::Fit<'_, #input_ty, T, L, O>,
            ) -> #result<#k::train::History>
            where
                L: #k::loss::Loss<#head, Target = T>,
                O: #k::optim::Optimizer,
            {
                #k::train::fit_stream(self, source, cfg)
            }

            /// Loss, accuracy and confusion matrix on the samples a
            /// [`Source`](#k::data::stream::Source) yields; see
            /// [`evaluate_stream`](#k::train::evaluate_stream).
            pub fn evaluate_stream<T, L>(
                &self,
                source: &mut dyn #k::data::stream::Source<#input_ty, T>,
                loss: &L,
            ) -> #result<#k::train::Evaluation>
            where
                L: #k::loss::Loss<#head, Target = T>,
            {
                #k::train::evaluate_stream(self, source, loss)
            }

            #adapt_method

            /// Saves every parameter to a safetensors file (atomically), named as Keras names them.
            pub fn save(&self, path: impl #k::__private::core::convert::AsRef<#k::__private::std::path::Path>) -> #result<()> {
                #k::weights::save(self, path)
            }

            /// Loads every parameter from a safetensors file, checking names, shapes and values;
            /// on any error the network is unchanged.
            pub fn load(&mut self, path: impl #k::__private::core::convert::AsRef<#k::__private::std::path::Path>) -> #result<()> {
                #k::weights::load(self, path)
            }

            /// Keras's summary table (print it with `{}`).
            pub fn summary(&self) -> #k::summary::Summary {
                #k::summary::Summary {
                    name: #name_str,
                    layers: <Self as #k::model::Model>::LAYERS,
                    activation_bytes: Self::ACTIVATION_BYTES,
                    training_bytes_per_sample: Self::TRAINING_BYTES_PER_SAMPLE,
                }
            }
        }

        #training_asserts

        #samples

        impl #k::__private::core::clone::Clone for #ident {
            fn clone(&self) -> Self {
                Self { #(#clone_fields,)* }
            }
        }

        #[doc = #ws_doc]
        #[allow(missing_debug_implementations)]
        #vis struct #ws_ident {
            #(#idx: #k::layers::Buffers<<#types as #layer_trait>::Extra>,)*
            /// Where a tensor read by several layers receives all but the first of its gradients.
            scratch: #k::floats::Floats,
        }

        impl #k::__private::core::default::Default for #ws_ident {
            fn default() -> Self {
                Self {
                    #(#idx: #k::__private::core::default::Default::default(),)*
                    scratch: #k::floats::Floats::new(),
                }
            }
        }

        impl #k::model::Model for #ident {
            type Input = #input_ty;
            type Output = #output_ty;
            type Head = #head;
            type Workspace = #ws_ident;

            const NAME: &'static str = #name_str;
            const PARAMS: usize = #params_lit;
            const NON_TRAINABLE: usize = #non_trainable;
            const BATCH_STATISTICS: bool = #batch_statistics;
            const UNOPTIMISED: bool = #unoptimised;
            const ACTIVATIONS: usize = #activations;
            const TRAINING_BYTES_PER_SAMPLE: usize = #ident::TRAINING_BYTES_PER_SAMPLE;
            const PARAM_SHAPES: &'static [(&'static str, &'static str, &'static [usize])] = &[#(#param_shapes),*];
            const LAYERS: &'static [#k::summary::LayerSummary] = &[#(#summaries),*];

            fn zeros() -> Self {
                Self { #(#zero_fields,)* }
            }

            #[inline]
            fn forward(&self, x: &#input_ty) -> #output_ty {
                #ident::forward(self, x)
            }

            fn forward_batch(&self, x: &[#elem], batch: usize, ws: &mut Self::Workspace, training: bool) {
                #(#forward_batch)*
            }

            fn head(ws: &mut Self::Workspace) -> (#k::loss::HeadOutput<'_>, &mut [f32]) {
                #k::__private::head_of::<#last_ty>(&mut ws.#last_idx, #last_act)
            }

            fn backward_batch(
                &self,
                x: &[#elem],
                batch: usize,
                ws: &mut Self::Workspace,
                grad_of: #k::loss::GradOf,
                grads: &mut Self,
            ) {
                // A loss fused with the last activation has already produced ∂L/∂z.
                #[allow(unused_variables)]
                let last_activation = match grad_of {
                    #k::loss::GradOf::PreActivation => #k::activation::Activation::Linear,
                    #k::loss::GradOf::Output => #last_act,
                };
                #(#backward)*
            }

            fn set_stream(ws: &mut Self::Workspace, stream: u64) {
                #(<#types as #layer_trait>::set_stream(&mut ws.#idx.extra, stream);)*
            }

            fn for_each_param<'a>(&'a self, mut f: impl FnMut(&'static str, &'static str, &'a [f32])) {
                #(<#types as #layer_trait>::for_each_param(&self.#fields, &mut |p, v| f(#names, p, v));)*
            }

            fn for_each_param_mut(&mut self, mut f: impl FnMut(&'static str, &'static str, &mut [f32])) {
                #(<#types as #layer_trait>::for_each_param_mut(&mut self.#fields, &mut |p, v| f(#names, p, v));)*
            }

            fn zip_params_mut(&mut self, other: &Self, mut f: impl FnMut(&mut [f32], &[f32])) {
                #(<#types as #layer_trait>::zip_params_mut(&mut self.#fields, &other.#fields, &mut f);)*
            }

            #state_methods

            #unadapted_method

            #regularize
        }
    }
}

/// The name of the trait a network's samples satisfy.
fn samples_ident(net: &syn::Ident) -> syn::Ident {
    format_ident!("__{}Samples", net)
}

/// A trait with one impl, the network's input type, bounding the samples its `forward`,
/// `predict`, `fit` and `evaluate` take: data of another type is then one error that says what
/// the network takes and from which declaration, rather than a mismatch between nalgebra types.
/// It is per network because the message names the network's own input.
fn samples_trait(k: &TokenStream, net: &Network, input_ty: &TokenStream) -> TokenStream {
    let (vis, ident) = (&net.vis, &net.ident);
    let trait_ident = samples_ident(ident);
    let dims = net
        .input
        .dims()
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let vocabulary = net.layers[0].kind.spec().vocabulary();
    let (expected, build) = match (net.input, vocabulary) {
        (Shape::Tokens(l), Some(v)) => (
            format!("`Tokens<{l}, {v}>` ({l} token ids below {v})"),
            "build a sample with `Tokens::new` or a `TextVectorizer`".to_string(),
        ),
        (Shape::Tokens(l), None) => (
            format!("`Tokens<{l}, _>`"),
            "build a sample with `Tokens::new`".to_string(),
        ),
        (Shape::Flat(n), _) => (
            format!("`SVector<f32, {n}>`"),
            format!(
                "build a sample with `SVector::from([..])` or `SVector::from_column_slice(&v)` from {n} values"
            ),
        ),
        (shape, _) => (
            format!(
                "`SVector<f32, {}>` ({shape} flattened in row-major, channels-last order)",
                shape.len()
            ),
            format!(
                "build a sample with `SVector::from_column_slice(&v)` from {} values",
                shape.len()
            ),
        ),
    };
    // The type found is left to rustc's own `help` line: `{Self}` here would spell it as the
    // full nalgebra path.
    let declared = match net.input {
        Shape::Tokens(l) => format!("tokens[{l}]"),
        _ => format!("[{dims}]"),
    };
    let message = format!("`{ident}` takes samples of type {expected}, declared `input: {declared}`");
    let label = format!("not a sample of `{ident}`");
    let note = format!("{build}; `fit`, `predict` and `evaluate` take a slice of samples, `forward` one");
    quote! {
        #[doc(hidden)]
        #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
        #vis trait #trait_ident {
            fn sample(x: &Self) -> &#input_ty;
            fn samples(x: &[Self]) -> &[#input_ty]
            where
                Self: Sized;
            fn fit_config<'v, T, L, O>(cfg: #k::train::Fit<'v, Self, T, L, O>) -> #k::train::Fit<'v, #input_ty, T, L, O>
            where
                Self: Sized;
        }

        impl #trait_ident for #input_ty {
            #[inline(always)]
            fn sample(x: &Self) -> &#input_ty {
                x
            }
            fn samples(x: &[Self]) -> &[#input_ty] {
                x
            }
            fn fit_config<'v, T, L, O>(cfg: #k::train::Fit<'v, Self, T, L, O>) -> #k::train::Fit<'v, #input_ty, T, L, O> {
                cfg
            }
        }
    }
}

/// A stand-in emitted beside the errors of a broken declaration, so that code using the network
/// reports nothing more: every item the real network has, with its real types where the macro
/// still knows them (the input as declared, the output when the last layer resolved), and
/// otherwise generic arguments and an output of `dl_core::Unknown`, which supports what
/// callers do with an output.
pub fn fallback(k: &TokenStream, fb: &Fallback) -> TokenStream {
    let Fallback { vis, ident, .. } = fb;
    let unreachable = quote!(#k::__private::core::unreachable!());
    let input_ty = match fb.input {
        Some((Shape::Tokens(l), Some(v))) => {
            let (l, v) = (lit(l), lit(v));
            Some(quote!(#k::tokens::Tokens<#l, #v>))
        }
        Some((Shape::Tokens(_), None)) | None => None,
        Some((shape, _)) => Some(features(k, shape.len())),
    };
    let output_ty = match fb.output {
        Some(n) => features(k, n),
        None => quote!(#k::__private::dl_core::Unknown),
    };
    // The input type, or a generic parameter `X` where it is unknown.
    let (x_param, x_ty) = match input_ty {
        Some(ty) => (quote!(), ty),
        None => (quote!(X,), quote!(X)),
    };
    let path = quote!(impl #k::__private::core::convert::AsRef<#k::__private::std::path::Path>);
    quote! {
        #vis struct #ident;
        #[allow(dead_code, unused_variables, clippy::all)]
        impl #ident {
            pub const PARAMS: usize = 0;
            pub const PARAM_BYTES: usize = 0;
            pub const ACTIVATION_BYTES: usize = 0;
            pub const TRAINING_BYTES_PER_SAMPLE: usize = 0;
            pub fn new<R: ?Sized>(_: &mut R) -> Self { #ident }
            pub fn seeded(_: u64) -> Self { #ident }
            pub fn forward<#x_param>(&self, _: &#x_ty) -> #output_ty { #unreachable }
            pub fn predict<#x_param>(&self, _: &[#x_ty]) -> #k::__private::std::vec::Vec<#output_ty> { #unreachable }
            pub fn fit<#x_param T, L, O>(&mut self, _: &[#x_ty], _: &[T], _: #k::train::Fit<'_, #x_ty, T, L, O>) -> #k::error::Result<#k::train::History> { #unreachable }
            pub fn evaluate<#x_param T, L>(&self, _: &[#x_ty], _: &[T], _: &L) -> #k::error::Result<#k::train::Evaluation> { #unreachable }
            pub fn fit_stream<#x_param T, L, O>(&mut self, _: &mut dyn #k::data::stream::Source<#x_ty, T>, _: #k::train::Fit<'_, #x_ty, T, L, O>) -> #k::error::Result<#k::train::History> { #unreachable }
            pub fn evaluate_stream<#x_param T, L>(&self, _: &mut dyn #k::data::stream::Source<#x_ty, T>, _: &L) -> #k::error::Result<#k::train::Evaluation> { #unreachable }
            pub fn adapt<#x_param>(&mut self, _: &[#x_ty]) -> #k::error::Result<()> { #unreachable }
            pub fn save(&self, _: #path) -> #k::error::Result<()> { #unreachable }
            pub fn load(&mut self, _: #path) -> #k::error::Result<()> { #unreachable }
            pub fn summary(&self) -> #k::summary::Summary { #unreachable }
        }
    }
}

/// Where each layer's backward pass sends the gradient of each of its inputs: the layer holding
/// the tensor (`None` for the network's input), and whether the gradient is added to another
/// reader's already there. Backward runs in reverse declaration order, so a tensor's last
/// reader writes its gradient and each earlier one adds its part.
fn gradient_destinations(net: &Network, fused: &crate::fuse::Fusions) -> Vec<Vec<Option<(usize, bool)>>> {
    let mut started = vec![false; net.layers.len()];
    let mut out = vec![Vec::new(); net.layers.len()];
    for i in (0..net.layers.len()).rev().filter(|&i| !fused.absorbed[i]) {
        out[i] = net.layers[i]
            .inputs
            .iter()
            .map(|&s| {
                let Source::Node(p) = s else { return None };
                let p = fused.holder[p];
                Some((p, std::mem::replace(&mut started[p], true)))
            })
            .collect();
    }
    out
}
