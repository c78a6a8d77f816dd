//! Attributes on the network that configure the macro rather than the struct:
//! `#[weights("file.safetensors")]` and `#[budget(max_param_bytes = 32 KiB, …)]`. They are
//! taken out of the attributes the struct gets.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitInt, LitStr, Token};

use crate::errors::Errors;

#[derive(Default)]
pub struct Options {
    /// The weight file to embed, as written.
    pub weights: Option<LitStr>,
    pub budget: Vec<Limit>,
}

/// One `max_…_bytes = N unit` of a budget.
pub struct Limit {
    pub what: Budgeted,
    pub bytes: u64,
    /// As written, e.g. `max_param_bytes = 32 KiB`.
    pub written: String,
    pub span: Span,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Budgeted {
    Params,
    Activations,
    /// Checked by the generated code against the runtime layers' own figure.
    TrainingPerSample,
}

const LIMITS: &[&str] = &[
    "max_param_bytes",
    "max_activation_bytes",
    "max_training_bytes_per_sample",
];
const UNITS: &[(&str, u64)] = &[
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("KB", 1000),
    ("MB", 1_000_000),
];

struct RawLimit {
    name: Ident,
    value: LitInt,
    unit: Option<Ident>,
}

impl Parse for RawLimit {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = input.parse()?;
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        let unit = if input.peek(Ident) {
            Some(input.parse()?)
        } else {
            None
        };
        Ok(RawLimit { name, value, unit })
    }
}

pub fn take(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    attrs.retain(|attr| {
        if attr.path().is_ident("weights") {
            match attr.parse_args::<LitStr>() {
                Ok(path) if options.weights.is_none() => options.weights = Some(path),
                Ok(path) => errors.push(path.span(), "a network embeds one weight file; `#[weights]` is repeated"),
                Err(_) => errors.push(
                    attr.bracket_token.span.join(),
                    "expected the weight file as a string: `#[weights(\"model.safetensors\")]`",
                ),
            }
            false
        } else if attr.path().is_ident("budget") {
            match attr.parse_args_with(Punctuated::<RawLimit, Token![,]>::parse_terminated) {
                Ok(limits) => limits.into_iter().for_each(|l| budget(l, &mut options, errors)),
                Err(e) => errors.push(
                    e.span(),
                    "expected a budget such as `#[budget(max_param_bytes = 32 KiB, max_activation_bytes = 8 KiB)]`",
                ),
            }
            false
        } else {
            true
        }
    });
    options
}

fn budget(raw: RawLimit, options: &mut Options, errors: &mut Errors) {
    let name = raw.name.to_string();
    let what = match name.as_str() {
        "max_param_bytes" => Budgeted::Params,
        "max_activation_bytes" => Budgeted::Activations,
        "max_training_bytes_per_sample" => Budgeted::TrainingPerSample,
        _ => {
            return errors.push(raw.name.span(), crate::suggest::unknown("budget", &name, LIMITS));
        }
    };
    let Ok(value) = raw.value.base10_parse::<u64>() else {
        return errors.push(raw.value.span(), "this budget does not fit in 64 bits of bytes");
    };
    let (unit, scale) = match &raw.unit {
        None => ("", 1),
        Some(u) => match UNITS.iter().find(|(n, _)| u == n) {
            Some(&(n, s)) => (n, s),
            None => {
                let names: Vec<_> = UNITS.iter().map(|(n, _)| *n).collect();
                return errors.push(
                    u.span(),
                    format!("unknown unit `{u}`; use one of {}", names.join(", ")),
                );
            }
        },
    };
    let sep = if unit.is_empty() { "" } else { " " };
    options.budget.push(Limit {
        what,
        bytes: value.saturating_mul(scale),
        written: format!("{name} = {value}{sep}{unit}"),
        span: raw.name.span(),
    });
}
