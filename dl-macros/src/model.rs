//! The declaration with every layer resolved: kinds, arguments, names and shapes as plain
//! numbers. All mistakes are collected; a layer whose arguments are wrong poisons only its own
//! output shape, so one mistake does not cascade into others.

use std::collections::HashSet;

use proc_macro2::Span;
use syn::{Attribute, Ident, Visibility};

use crate::errors::Errors;
use crate::parse::{Entry, EntryValue, LayerCall, Network as Syntax};
use crate::spec::{self, Activation};
use crate::suggest;

pub struct Network {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    /// Input features per sample.
    pub input: usize,
    pub layers: Vec<Layer>,
}

pub struct Layer {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    /// The struct field (the declared name, or Keras's automatic one).
    pub field: Ident,
    pub name: String,
    pub kind: Kind,
    pub input: usize,
    pub output: usize,
}

pub enum Kind {
    Dense { units: usize, activation: Activation },
}

impl Layer {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Dense { .. } => "Dense",
        }
    }

    pub fn params(&self) -> usize {
        match self.kind {
            Kind::Dense { units, .. } => self.input * units + units,
        }
    }

    pub fn activation(&self) -> Activation {
        match self.kind {
            Kind::Dense { activation, .. } => activation,
        }
    }
}

/// What generation needs when the declaration has errors: enough for a stub that keeps the
/// user's other code from erroring too.
pub struct Fallback {
    pub vis: Visibility,
    pub ident: Ident,
}

pub fn build(syntax: &Syntax) -> Result<Network, (Errors, Fallback)> {
    let mut errors = Errors::default();
    let mut entries = syntax.entries.iter();

    let input = match entries.next() {
        Some(first) => input(first, &mut errors),
        None => {
            errors.push(
                syntax.ident.span(),
                "a network needs an input and at least one layer, e.g. `input: [10], Dense(1, sigmoid)`",
            );
            None
        }
    };

    let explicit: HashSet<String> = syntax
        .entries
        .iter()
        .skip(1)
        .filter_map(|e| e.name.as_ref().map(|n| n.to_string()))
        .collect();
    let mut names = HashSet::new();
    let mut auto_counts = std::collections::HashMap::<&str, usize>::new();
    let mut layers = Vec::new();
    // `None` once a layer's output is unknown: later shape checks are skipped, not reported.
    let mut shape = input;

    for entry in entries {
        let call = match &entry.value {
            EntryValue::Layer(call) => call,
            EntryValue::Dims { span, .. } => {
                errors.push(
                    *span,
                    "only the first entry, `input`, is a shape; layers are written `Dense(64, relu)`",
                );
                shape = None;
                continue;
            }
        };
        let kind_name = call.kind.to_string();
        if !spec::LAYER_KINDS.contains(&kind_name.as_str()) {
            errors.push(
                call.kind.span(),
                suggest::unknown("layer", &kind_name, spec::LAYER_KINDS),
            );
            shape = None;
            continue;
        }
        let (name, field) = match &entry.name {
            Some(n) => {
                let s = n.to_string();
                if s == "input" {
                    errors.push(
                        n.span(),
                        "`input` names the network's input, which must come first",
                    );
                } else if !names.insert(s.clone()) {
                    errors.push(n.span(), format!("duplicate layer name `{s}`"));
                }
                (s, n.clone())
            }
            None => {
                let base = keras_name(&kind_name);
                let count = auto_counts.entry(base).or_insert(0);
                let name = loop {
                    let candidate = if *count == 0 {
                        base.to_string()
                    } else {
                        format!("{base}_{count}")
                    };
                    *count += 1;
                    if !explicit.contains(&candidate) && !names.contains(&candidate) {
                        break candidate;
                    }
                };
                names.insert(name.clone());
                let field = Ident::new(&name, call.kind.span());
                (name, field)
            }
        };
        let built = layer(call, shape, &mut errors);
        shape = built.as_ref().map(|(_, out)| *out);
        if let Some((kind, output)) = built {
            layers.push((entry, name, field, kind, output));
        }
    }

    if layers.is_empty() && errors.is_empty() {
        errors.push(
            syntax.ident.span(),
            "a network needs at least one layer after its input",
        );
    }
    let fallback = || Fallback {
        vis: syntax.vis.clone(),
        ident: syntax.ident.clone(),
    };
    let Some(input) = input else {
        return Err((errors, fallback()));
    };
    if !errors.is_empty() {
        return Err((errors, fallback()));
    }

    let mut prev = input;
    let layers = layers
        .into_iter()
        .map(|(entry, name, field, kind, output)| {
            let layer = Layer {
                attrs: docs(entry),
                vis: entry.vis.clone(),
                field,
                name,
                kind,
                input: prev,
                output,
            };
            prev = output;
            layer
        })
        .collect();
    Ok(Network {
        attrs: syntax.attrs.clone(),
        vis: syntax.vis.clone(),
        ident: syntax.ident.clone(),
        input,
        layers,
    })
}

fn docs(entry: &Entry) -> Vec<Attribute> {
    entry
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect()
}

/// Keras's automatic layer name: the kind in snake case.
fn keras_name(kind: &str) -> &'static str {
    match kind {
        "Dense" => "dense",
        _ => "layer",
    }
}

fn input(entry: &Entry, errors: &mut Errors) -> Option<usize> {
    let named_input = entry.name.as_ref().is_some_and(|n| n == "input");
    let span = entry.name.as_ref().map_or_else(Span::call_site, Ident::span);
    match (&entry.value, named_input) {
        (EntryValue::Dims { dims, span }, true) => {
            if dims.len() != 1 {
                errors.push(
                    *span,
                    format!(
                        "expected a flat input `[features]`; found {} dimensions",
                        dims.len()
                    ),
                );
                return None;
            }
            match dims[0].base10_parse::<usize>() {
                Ok(0) => {
                    errors.push(dims[0].span(), "the input needs at least 1 feature");
                    None
                }
                Ok(n) => Some(n),
                Err(e) => {
                    errors.push(dims[0].span(), e);
                    None
                }
            }
        }
        (EntryValue::Layer(call), _) => {
            errors.push(
                entry.name.as_ref().map_or(call.kind.span(), Ident::span),
                "a network starts with its input shape, e.g. `input: [10],`",
            );
            None
        }
        (EntryValue::Dims { .. }, false) => {
            errors.push(span, "the first entry must be named `input`, e.g. `input: [10],`");
            None
        }
    }
}

/// Resolves one layer: its kind and output size, or `None` after reporting why not.
fn layer(call: &LayerCall, _input: Option<usize>, errors: &mut Errors) -> Option<(Kind, usize)> {
    let kind = call.kind.to_string();
    match kind.as_str() {
        "Dense" => {
            let bound = spec::bind(call, &["units", "activation"], errors);
            let units = match bound.get(0) {
                Some(e) => spec::positive(e, "units", "Dense", errors),
                None => {
                    errors.push(
                        call.kind.span(),
                        "`Dense` is missing `units`, its number of outputs, e.g. `Dense(64, relu)`",
                    );
                    None
                }
            };
            let activation = match bound.get(1) {
                Some(e) => spec::activation(e, errors),
                None => Some(Activation::Linear),
            };
            let units = units?;
            Some((
                Kind::Dense {
                    units,
                    activation: activation?,
                },
                units,
            ))
        }
        _ => None,
    }
}
