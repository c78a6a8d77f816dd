//! Syntax only: the declaration as written, every node with its span.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, LitInt, Token, Visibility, bracketed, parenthesized};

/// `$crate, std|no_std; <network>`, as the shim in `dl` calls the macro (`no_std` when `dl`
/// is built without its `std` feature).
pub struct Invocation {
    pub krate: TokenStream,
    pub std: bool,
    pub network: Network,
}

impl Parse for Invocation {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut krate = TokenStream::new();
        while !input.peek(Token![,]) {
            krate.extend([input.parse::<proc_macro2::TokenTree>()?]);
        }
        input.parse::<Token![,]>()?;
        let mode: Ident = input.parse()?;
        input.parse::<Token![;]>()?;
        Ok(Invocation {
            krate,
            std: mode == "std",
            network: input.parse()?,
        })
    }
}

/// `#[attrs] vis struct Name { entries }`.
pub struct Network {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    pub entries: Vec<Entry>,
}

impl Parse for Network {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        input.parse::<Token![struct]>()?;
        let ident = input.parse()?;
        let body;
        syn::braced!(body in input);
        let entries = Punctuated::<Entry, Token![,]>::parse_terminated(&body)?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the network's `{ … }`"));
        }
        Ok(Network {
            attrs,
            vis,
            ident,
            entries: entries.into_iter().collect(),
        })
    }
}

/// One line of the body: `#[doc] vis name: Layer(args)`, `Layer(args)`, or `input: [dims]`.
pub struct Entry {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Option<Ident>,
    pub value: EntryValue,
}

pub enum EntryValue {
    /// `[10]`, `[28, 28, 1]`.
    Dims {
        span: proc_macro2::Span,
        dims: Vec<LitInt>,
        /// `tokens[100]`: integer token ids rather than features.
        tokens: Option<Ident>,
        /// Written in parentheses, as a Python tuple: `(28, 28, 1)`. Read as meant, and reported.
        parenthesized: bool,
    },
    /// `Dense(64, relu)`, `Flatten`.
    Layer(LayerCall),
}

pub struct LayerCall {
    pub kind: Ident,
    pub args: Vec<Arg>,
    /// `(x)` or `(a, b)` after the arguments, as in Keras's functional `Conv2D(…)(x)`: the
    /// tensors the layer reads, by name. `None`: the previous entry's output.
    pub inputs: Option<Inputs>,
}

/// The tensor names of a layer's `(…)` inputs (Keras's list brackets, `([a, b])`, allowed).
pub struct Inputs {
    pub span: proc_macro2::Span,
    pub names: Vec<Ident>,
}

impl Parse for Inputs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let content;
        let paren = parenthesized!(content in input);
        let names = if content.peek(syn::token::Bracket) {
            let list;
            bracketed!(list in content);
            Punctuated::<Ident, Token![,]>::parse_terminated(&list)?
        } else {
            Punctuated::<Ident, Token![,]>::parse_terminated(&content)?
        };
        Ok(Inputs {
            span: paren.span.join(),
            names: names.into_iter().collect(),
        })
    }
}

/// `value` or `name = value`.
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let name = if input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
            let name = input.parse()?;
            input.parse::<Token![:]>()?;
            Some(name)
        } else {
            None
        };
        let value = if input.peek(syn::token::Bracket) {
            let content;
            let bracket = bracketed!(content in input);
            let dims = Punctuated::<LitInt, Token![,]>::parse_terminated(&content)?;
            EntryValue::Dims {
                span: bracket.span.join(),
                dims: dims.into_iter().collect(),
                tokens: None,
                parenthesized: false,
            }
        } else if input.peek(syn::token::Paren) && name.is_some() {
            // `input: (28, 28, 1)`, Keras's tuple.
            let content;
            let paren = parenthesized!(content in input);
            let dims = Punctuated::<LitInt, Token![,]>::parse_terminated(&content)?;
            EntryValue::Dims {
                span: paren.span.join(),
                dims: dims.into_iter().collect(),
                tokens: None,
                parenthesized: true,
            }
        } else if input.peek(Ident) && input.peek2(syn::token::Bracket) {
            let tokens: Ident = input.parse()?;
            if tokens != "tokens" {
                return Err(syn::Error::new(
                    tokens.span(),
                    "expected `tokens[length]` or `[dims]`",
                ));
            }
            let content;
            let bracket = bracketed!(content in input);
            let dims = Punctuated::<LitInt, Token![,]>::parse_terminated(&content)?;
            EntryValue::Dims {
                span: bracket.span.join(),
                dims: dims.into_iter().collect(),
                tokens: Some(tokens),
                parenthesized: false,
            }
        } else {
            let kind: Ident = input.parse()?;
            let args = if input.peek(syn::token::Paren) {
                let content;
                parenthesized!(content in input);
                Punctuated::<Arg, Token![,]>::parse_terminated(&content)?
                    .into_iter()
                    .collect()
            } else {
                Vec::new()
            };
            let inputs = if input.peek(syn::token::Paren) {
                Some(input.parse()?)
            } else {
                None
            };
            EntryValue::Layer(LayerCall { kind, args, inputs })
        };
        Ok(Entry {
            attrs,
            vis,
            name,
            value,
        })
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) && !input.peek2(Token![==]) {
            let name = input.parse()?;
            input.parse::<Token![=]>()?;
            Ok(Arg {
                name: Some(name),
                value: input.parse()?,
            })
        } else {
            Ok(Arg {
                name: None,
                value: input.parse()?,
            })
        }
    }
}

/// After a syntax error: the `$crate` path, and the visibility and name of the declared struct,
/// found by scanning the tokens for `struct Name`.
pub fn salvage(tokens: TokenStream) -> Option<(TokenStream, Visibility, Ident)> {
    use proc_macro2::TokenTree;
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let comma = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))?;
    let krate: TokenStream = tokens[..comma].iter().cloned().collect();
    let at = tokens
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i == "struct"))?;
    let TokenTree::Ident(ident) = tokens.get(at + 1)? else {
        return None;
    };
    let public = at > 0 && matches!(&tokens[at - 1], TokenTree::Ident(i) if i == "pub");
    let vis = if public {
        Visibility::Public(Token![pub](ident.span()))
    } else {
        Visibility::Inherited
    };
    Some((krate, vis, ident.clone()))
}
