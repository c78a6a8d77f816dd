//! Collects every mistake of a declaration so that one build reports them all.

use proc_macro2::{Span, TokenStream};

#[derive(Default)]
pub struct Errors {
    errors: Vec<syn::Error>,
    /// The layer being resolved, as `(kind, "`dense_1` (Dense)")`: its messages name it.
    layer: Option<(String, String)>,
}

impl Errors {
    /// Reports `message` at `span`. Inside [`Errors::in_layer`], the message names the layer:
    /// one that starts with the layer's kind (`` `Dense` needs … ``) starts with its name and
    /// kind instead, any other is prefixed with them.
    pub fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        let message = message.to_string();
        let message = match &self.layer {
            Some((kind, who)) => match message.strip_prefix(&format!("`{kind}`")) {
                Some(rest) => format!("{who}{rest}"),
                None => format!("{who}: {message}"),
            },
            None => message,
        };
        self.errors.push(syn::Error::new(span, message));
    }

    /// Runs `f` with the messages it reports naming the layer `name` of kind `kind`.
    pub fn in_layer<T>(&mut self, name: &str, kind: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let outer = self
            .layer
            .replace((kind.to_string(), format!("`{name}` ({kind})")));
        let out = f(self);
        self.layer = outer;
        out
    }

    pub fn extend(&mut self, other: Errors) {
        self.errors.extend(other.errors);
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn to_compile_errors(&self) -> TokenStream {
        self.errors.iter().map(syn::Error::to_compile_error).collect()
    }
}
