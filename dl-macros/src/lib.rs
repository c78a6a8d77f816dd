//! The `network!` procedural macro of [`dl`](https://docs.rs/dl).
//!
//! Users reach it through `dl::network!`, a `macro_rules!` shim that passes `$crate` in so that
//! the generated code names the runtime by absolute path. The pipeline is the one serde_derive
//! and thiserror use: `parse` (syntax only) → `model` (shapes resolved to numbers, every
//! mistake collected with its span) → `generate`.

mod errors;
mod generate;
mod layers;
mod mask;
mod model;
mod parse;
mod shape;
mod spec;
mod suggest;

use proc_macro::TokenStream;

/// Expands a network declaration. Called as `network_impl! { $crate; <declaration> }` by the
/// shim in `dl`; not meant to be called directly.
#[doc(hidden)]
#[proc_macro]
pub fn network_impl(input: TokenStream) -> TokenStream {
    let decl = match syn::parse::<parse::Invocation>(input) {
        Ok(decl) => decl,
        Err(e) => return e.to_compile_error().into(),
    };
    let krate = decl.krate.clone();
    match model::build(&decl.network) {
        Ok(net) => generate::network(&krate, &net).into(),
        Err((errors, fallback)) => {
            let mut out = errors.to_compile_errors();
            out.extend(generate::fallback(&krate, &fallback));
            out.into()
        }
    }
}
