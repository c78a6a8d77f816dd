//! The `network!` procedural macro of the `dl` crate (package `dl-nn`).
//!
//! Users reach it through `dl::network!`, a `macro_rules!` shim that passes `$crate` in so that
//! the generated code names the runtime by absolute path. The pipeline is the one serde_derive
//! and thiserror use: `parse` (syntax only) → `model` (shapes resolved to numbers, every
//! mistake collected with its span) → `generate`.
//!
//! What the macro knows about each layer kind lives in `kinds`, one module per kind, which the
//! pipeline consults through a trait and a registry.

mod embed;
mod errors;
mod footprint;
mod fuse;
mod generate;
mod graph;
mod keras_args;
mod kinds;
mod mask;
mod model;
mod opt_level;
mod options;
mod param_options;
mod parse;
mod plan;
mod shape;
mod spec;
mod suggest;

use proc_macro::TokenStream;

/// Expands a network declaration. Called as `network_impl! { $crate; <declaration> }` by the
/// shim in `dl`; not meant to be called directly.
#[doc(hidden)]
#[proc_macro]
pub fn network_impl(input: TokenStream) -> TokenStream {
    let tokens = proc_macro2::TokenStream::from(input);
    let mut decl = match syn::parse2::<parse::Invocation>(tokens.clone()) {
        Ok(decl) => decl,
        // The syntax error, and a stand-in under the declared name so that code using the
        // network reports nothing more.
        Err(e) => {
            let mut out = e.to_compile_error();
            if let Some((krate, vis, ident)) = parse::salvage(tokens) {
                out.extend(generate::fallback(&krate, &model::Fallback::unknown(vis, ident)));
            }
            return out.into();
        }
    };
    let krate = decl.krate.clone();
    let mut errors = errors::Errors::default();
    let options = options::take(&mut decl.network.attrs, &mut errors);
    let net = match model::build(&decl.network) {
        Ok(net) => net,
        Err(failed) => {
            let (mut more, fallback) = *failed;
            more.extend(errors);
            let mut out = more.to_compile_errors();
            if options.weights.is_some() || !decl.std {
                out.extend(embed::fallback(&krate, &fallback));
            } else {
                out.extend(generate::fallback(&krate, &fallback));
            }
            return out.into();
        }
    };
    footprint::check_budget(&net, &options, &mut errors);
    let located = match &options.weights {
        Some(path) => embed::check(&net, path, &mut errors),
        None => {
            if !decl.std {
                errors.push(
                    net.ident.span(),
                    "without `dl`'s `std` feature a network cannot be trained, only embedded: \
                     add `#[weights(\"model.safetensors\")]` with the file of a trained network",
                );
            }
            None
        }
    };
    if !errors.is_empty() {
        let mut out = errors.to_compile_errors();
        if options.weights.is_some() || !decl.std {
            out.extend(embed::fallback(&krate, &model::Fallback::of(&net)));
        } else {
            out.extend(generate::fallback(&krate, &model::Fallback::of(&net)));
        }
        return out.into();
    }
    match located {
        Some(located) => embed::generate(&krate, &net, &located).into(),
        None => generate::network(&krate, &net, &options.budget).into(),
    }
}
