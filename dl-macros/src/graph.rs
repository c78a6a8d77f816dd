//! From the declaration's syntax to the graph of layers (`model::Network`): names, the tensors
//! each layer reads, shapes in declaration order, and the `Residual` shorthand expanded into the
//! layers it stands for. All mistakes are collected; a layer whose arguments are wrong poisons
//! only its own output, so one mistake does not cascade into others.
//!
//! Declaration order is a topological order: a layer reads the entry above it, or the tensors it
//! names (`Conv2D(…)(x)`, `Add(x, y)`), which must be declared above it, so no cycle can be
//! written.

use std::collections::{HashMap, HashSet};

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident};

use crate::errors::Errors;
use crate::kinds::{self, Kind, Resolve};
use crate::mask;
use crate::model::{Fallback, Layer, Network, Source};
use crate::parse::{Arg, Entry, EntryValue, LayerCall, Network as Syntax};
use crate::shape::Shape;
use crate::spec;
use crate::suggest;

/// A tensor that a later layer may read: where it comes from, its shape (`None` when a mistake
/// upstream left it unknown) and the padding mask it carries, if any.
#[derive(Clone)]
struct Tensor {
    source: Source,
    shape: Option<Shape>,
    mask: Option<String>,
}

/// A tensor as a layer reads it: how errors name it, and where it is written.
type Read = (Tensor, String, Span);

/// A layer as it is resolved, before the whole declaration is known to be correct.
struct Draft<'a> {
    entry: &'a Entry,
    /// Doc comments (those of the entry; none for the layers inside a `Residual`).
    docs: Vec<Attribute>,
    name: String,
    field: Ident,
    kind: Kind,
    inputs: Vec<(Source, Shape)>,
    output: Shape,
    masked: bool,
    /// Where its declaration starts, for "never used".
    span: Span,
}

struct Builder<'a> {
    errors: Errors,
    /// Names given explicitly anywhere in the declaration (automatic names avoid them).
    explicit: HashSet<String>,
    /// Every tensor a layer may read, by name: the input and each layer declared so far.
    tensors: HashMap<String, Tensor>,
    /// Layer names taken so far.
    names: HashMap<String, Span>,
    auto_counts: HashMap<&'static str, usize>,
    /// Index = position among the layers; `None` where a layer's own arguments were wrong.
    drafts: Vec<Option<Draft<'a>>>,
    /// How many layers read each layer's output.
    uses: Vec<usize>,
    /// What an entry without `(inputs)` reads: the entry above it.
    previous: Read,
    /// A name that could not be read, or a `Residual` block that could not be joined: the
    /// layers it meant may look unused, but that is the same mistake, already reported.
    unread_name: bool,
}

pub fn build(syntax: &Syntax) -> Result<Network, Box<(Errors, Fallback)>> {
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
    let input_tensor = Tensor {
        source: Source::Input,
        shape: input,
        mask: None,
    };
    let mut b = Builder {
        errors,
        explicit: syntax
            .entries
            .iter()
            .skip(1)
            .filter_map(|e| e.name.as_ref().map(|n| n.to_string()))
            .collect(),
        tensors: HashMap::from([("input".to_string(), input_tensor.clone())]),
        names: HashMap::new(),
        auto_counts: HashMap::new(),
        drafts: Vec::new(),
        uses: Vec::new(),
        previous: (input_tensor, "the input".to_string(), syntax.ident.span()),
        unread_name: false,
    };
    for entry in entries {
        b.entry(entry);
    }
    b.finish(syntax, input)
}

impl<'a> Builder<'a> {
    fn entry(&mut self, entry: &'a Entry) {
        let call = match &entry.value {
            EntryValue::Layer(call) => call,
            EntryValue::Dims { span, .. } => {
                self.errors.push(
                    *span,
                    "only the first entry, `input`, is a shape; layers are written `Dense(64, relu)`",
                );
                self.previous.0.shape = None;
                return;
            }
        };
        if call.kind == "Residual" {
            return self.residual(entry, call);
        }
        if !self.known_kind(call) {
            return;
        }
        let name = self.name(&call.kind, entry.name.as_ref());
        // The tensors it reads: a merge's positional names, or `(inputs)`, or the entry above.
        let mut read: Vec<&Ident> = Vec::new();
        let merge_call;
        let mut call = call;
        if is_merge(&call.kind) {
            let (names, args): (Vec<&Arg>, Vec<&Arg>) = call.args.iter().partition(|a| {
                a.name.is_none() && matches!(&a.value, Expr::Path(p) if p.path.get_ident().is_some())
            });
            read.extend(names.iter().filter_map(|a| match &a.value {
                Expr::Path(p) => p.path.get_ident(),
                _ => None,
            }));
            merge_call = LayerCall {
                kind: call.kind.clone(),
                args: args
                    .into_iter()
                    .map(|a| Arg {
                        name: a.name.clone(),
                        value: a.value.clone(),
                    })
                    .collect(),
                inputs: None,
            };
            call = &merge_call;
        }
        if let EntryValue::Layer(LayerCall {
            inputs: Some(inputs), ..
        }) = &entry.value
        {
            read.extend(inputs.names.iter());
            if inputs.names.is_empty() {
                self.errors.push(
                    inputs.span,
                    "`()` reads no tensor: name the tensors this layer reads, e.g. `(x)`",
                );
            }
        }
        let reads: Vec<Read> = if read.is_empty() {
            let (t, from, _) = self.previous.clone();
            vec![(t, from, call.kind.span())]
        } else {
            read.iter().map(|ident| self.lookup(ident, &name.0)).collect()
        };
        let span = entry.name.as_ref().map_or(call.kind.span(), Ident::span);
        self.layer(entry, docs(entry), call, name, reads, span);
    }

    /// Whether `call` names a layer kind `network!` knows; reports it when not.
    fn known_kind(&mut self, call: &LayerCall) -> bool {
        let kind = call.kind.to_string();
        if kinds::lookup(&kind).is_some() {
            return true;
        }
        let known: Vec<&str> = kinds::registered().map(|r| r.name).chain(["Residual"]).collect();
        let message = if kinds::KERAS_NOT_YET.contains(&kind.as_str()) {
            format!(
                "`{kind}` is a Keras layer that `network!` does not support yet; the layers it has: {}",
                known.join(", ")
            )
        } else {
            suggest::unknown("layer", &kind, &known)
        };
        self.errors.push(call.kind.span(), message);
        self.previous.0.shape = None;
        false
    }

    /// The layer's name and struct field: the declared name, or Keras's automatic one.
    fn name(&mut self, kind: &Ident, declared: Option<&Ident>) -> (String, Ident) {
        match declared {
            Some(n) => {
                let s = n.to_string();
                if s == "input" {
                    self.errors.push(
                        n.span(),
                        "`input` names the network's input, which must come first",
                    );
                } else if let Some(first) = self.names.get(&s) {
                    let line = first.start().line;
                    let earlier = if line > 0 {
                        format!("the layer on line {line} already has it")
                    } else {
                        "an earlier layer already has it".to_string()
                    };
                    self.errors.push(
                        n.span(),
                        format!("duplicate layer name `{s}`: {earlier}; give this one another name"),
                    );
                } else {
                    self.names.insert(s.clone(), n.span());
                }
                (s, n.clone())
            }
            None => {
                let base = kinds::lookup(&kind.to_string()).map_or("layer", |r| r.auto_name);
                let count = self.auto_counts.entry(base).or_insert(0);
                let name = loop {
                    let candidate = if *count == 0 {
                        base.to_string()
                    } else {
                        format!("{base}_{count}")
                    };
                    *count += 1;
                    if !self.explicit.contains(&candidate) && !self.names.contains_key(&candidate) {
                        break candidate;
                    }
                };
                self.names.insert(name.clone(), kind.span());
                (name.clone(), Ident::new(&name, kind.span()))
            }
        }
    }

    /// The tensor `ident` names, read by the layer named `reader`.
    fn lookup(&mut self, ident: &Ident, reader: &str) -> Read {
        let n = ident.to_string();
        let tensor = match self.tensors.get(&n) {
            Some(t) => t.clone(),
            None => {
                if self.explicit.contains(&n) || self.names.contains_key(&n) {
                    let why = if n == reader {
                        format!("`{n}` is this layer's own output; a layer reads tensors declared above it")
                    } else {
                        format!(
                            "`{n}` is declared below this layer; a layer reads only tensors declared above it"
                        )
                    };
                    self.errors.push(ident.span(), why);
                } else {
                    let mut known: Vec<&str> = self.tensors.keys().map(String::as_str).collect();
                    known.sort_unstable();
                    self.errors
                        .push(ident.span(), suggest::unknown("tensor", &n, &known));
                }
                self.unread_name = true;
                Tensor {
                    source: Source::Input,
                    shape: None,
                    mask: None,
                }
            }
        };
        (tensor, format!("`{n}`"), ident.span())
    }

    /// Resolves one layer reading `reads` and records its output as the tensor `name` and as
    /// what the next entry reads by default.
    fn layer(
        &mut self,
        entry: &'a Entry,
        docs: Vec<Attribute>,
        call: &LayerCall,
        (name, field): (String, Ident),
        reads: Vec<Read>,
        span: Span,
    ) -> Tensor {
        let index = self.drafts.len();
        let kind_name = call.kind.to_string();
        for (t, _, _) in &reads {
            if let Source::Node(p) = t.source {
                self.uses[p] += 1;
            }
        }
        self.uses.push(0);
        let resolve = kinds::lookup(&kind_name).expect("a known kind").resolve;
        let built = self.errors.in_layer(&name, &kind_name, |errors| {
            match resolve {
                Resolve::Merge(merge) => {
                    let inputs: Vec<(Option<Shape>, &str, Span)> =
                        reads.iter().map(|(t, n, s)| (t.shape, n.as_str(), *s)).collect();
                    merge(call, &inputs, errors)
                }
                Resolve::One(resolve) => {
                    if reads.len() > 1 {
                        errors.push(
                            reads[1].2,
                            format!(
                                "`{kind_name}` reads one tensor, found {}; to combine tensors use a merge layer (`Add`, `Concatenate`, …)",
                                reads.len()
                            ),
                        );
                    }
                    let (t, from, _) = &reads[0];
                    resolve(call, t.shape, from, errors)
                }
            }
        });
        // The padding mask: a merge may not take one; other layers pass it on as `mask` says.
        let mut mask_state = reads.iter().find_map(|(t, _, _)| t.mask.clone());
        let masked = mask::flow(
            &mut mask_state,
            built.as_ref().map(|(kind, _)| kind),
            &name,
            call.kind.span(),
            &mut self.errors,
        );
        let output = Tensor {
            source: Source::Node(index),
            shape: built.as_ref().map(|(_, out)| *out),
            mask: mask_state,
        };
        self.tensors.insert(name.clone(), output.clone());
        self.previous = (output.clone(), format!("`{name}`"), span);
        let all_known = reads.iter().all(|(t, _, _)| t.shape.is_some());
        self.drafts.push(match built {
            Some((kind, out)) if all_known => Some(Draft {
                entry,
                docs,
                name,
                field,
                kind,
                inputs: reads
                    .iter()
                    .map(|(t, _, _)| (t.source, t.shape.expect("known")))
                    .collect(),
                output: out,
                masked,
                span,
            }),
            _ => None,
        });
        output
    }

    /// `Residual([main…], shortcut = [projection…])`: the main path and the shortcut (the
    /// identity when omitted) both read the block's input, and `Add` joins them, as ResNet's
    /// `add([shortcut, main])`. The block's name, if any, names the `Add`; the layers inside are
    /// named as Keras would name them.
    fn residual(&mut self, entry: &'a Entry, call: &LayerCall) {
        let bound = spec::bind(call, &["main", "shortcut"], &mut self.errors);
        let main = match bound.get(0) {
            Some(e) => self.layer_list(e, "main"),
            None => {
                self.errors.push(
                    call.kind.span(),
                    "`Residual` is missing its main path, e.g. `Residual([Conv2D(16, (3, 3), padding = same), BatchNormalization])`",
                );
                None
            }
        };
        let shortcut = match bound.get(1) {
            Some(e) => self.layer_list(e, "shortcut"),
            None => Some(Vec::new()),
        };
        let start = match &call.inputs {
            Some(inputs) if inputs.names.len() == 1 => self.lookup(&inputs.names[0], ""),
            Some(inputs) => {
                self.errors.push(
                    inputs.span,
                    "`Residual` reads one tensor, e.g. `Residual([…])(x)`",
                );
                // The tensors it named are not read now; that is this mistake, not another.
                self.unread_name = true;
                self.previous.0.shape = None;
                return;
            }
            None => self.previous.clone(),
        };
        let (Some(main), Some(shortcut)) = (main, shortcut) else {
            self.previous.0.shape = None;
            return;
        };
        let branch = |b: &mut Self, calls: &[LayerCall]| {
            let mut at = start.clone();
            for inner in calls {
                if !b.known_kind(inner) {
                    return None;
                }
                let name = b.name(&inner.kind, None);
                let out = b.layer(
                    entry,
                    Vec::new(),
                    inner,
                    name.clone(),
                    vec![at],
                    inner.kind.span(),
                );
                at = (out, format!("`{}`", name.0), inner.kind.span());
            }
            Some(at)
        };
        let (Some(main_end), Some(shortcut_end)) = (branch(self, &main), branch(self, &shortcut)) else {
            // The branch's layers so far are left unread: the mistake was reported.
            self.unread_name = true;
            self.previous.0.shape = None;
            return;
        };
        if let (Some(m), Some(s)) = (main_end.0.shape, shortcut_end.0.shape)
            && m != s
        {
            let (shortcut_name, fix) = if shortcut.is_empty() {
                (
                    "the block's input",
                    "end the main path with the input's shape, or project the input with `shortcut = [Conv2D(…, (1, 1), …)]`",
                )
            } else {
                ("the shortcut", "make both paths end in the same shape")
            };
            self.errors.push(
                main_end.2,
                format!(
                    "`Residual` adds its main path to {shortcut_name}, but the main path ends in {m} ({}) and {shortcut_name} is {s}: {fix}",
                    main_end.1
                ),
            );
            self.unread_name = true;
            self.previous.0.shape = None;
            return;
        }
        let add = LayerCall {
            kind: Ident::new("Add", call.kind.span()),
            args: Vec::new(),
            inputs: None,
        };
        let name = self.name(&add.kind, entry.name.as_ref());
        let span = entry.name.as_ref().map_or(call.kind.span(), Ident::span);
        self.layer(entry, docs(entry), &add, name, vec![shortcut_end, main_end], span);
    }

    /// The layers of a `Residual` branch: `[Conv2D(…), BatchNormalization, …]`.
    fn layer_list(&mut self, expr: &Expr, what: &str) -> Option<Vec<LayerCall>> {
        let Expr::Array(list) = expr else {
            self.errors.push(
                expr.span(),
                format!("`Residual`'s {what} path is a list of layers in brackets, e.g. `[Conv2D(16, (3, 3), padding = same), BatchNormalization]`"),
            );
            return None;
        };
        if what == "main" && list.elems.is_empty() {
            self.errors
                .push(expr.span(), "`Residual`'s main path needs at least one layer");
            return None;
        }
        let mut calls = Vec::new();
        for e in &list.elems {
            match layer_call(e) {
                Some(c) if c.kind == "Residual" || is_merge(&c.kind) => {
                    self.errors.push(
                        c.kind.span(),
                        "a `Residual` branch is a straight list of layers; write merges and nested blocks as entries of their own",
                    );
                    return None;
                }
                Some(c) => calls.push(c),
                None => {
                    self.errors.push(
                        e.span(),
                        "expected a layer, e.g. `Conv2D(16, (3, 3))` or `BatchNormalization`",
                    );
                    return None;
                }
            }
        }
        Some(calls)
    }

    fn finish(mut self, syntax: &Syntax, input: Option<Shape>) -> Result<Network, Box<(Errors, Fallback)>> {
        let last = self.drafts.len().checked_sub(1);
        if let (Some(Shape::Sequence(t, d)), Some(Some(draft))) =
            (self.previous.0.shape, last.map(|l| &self.drafts[l]))
        {
            self.errors.push(
                draft.span,
                format!(
                    "the network's output is a sequence of {t} steps × {d} features; losses need one vector per sample: \
                     end with `GlobalAveragePooling1D`, or drop `return_sequences` from the last recurrent layer"
                ),
            );
        }
        // Every layer but the last is read by a later one: an unread output is a branch that
        // was forgotten (Keras would silently drop it from the model).
        if !self.unread_name {
            for (i, draft) in self.drafts.iter().enumerate() {
                if let (Some(d), true) = (draft, Some(i) != last && self.uses[i] == 0) {
                    self.errors.push(
                        d.span,
                        format!(
                            "the output of `{}` ({}) is never used: read it in a later layer, e.g. `Add({}, …)`, or remove the layer",
                            d.name,
                            d.kind.spec().keras_name(),
                            d.name
                        ),
                    );
                }
            }
        }
        if self.drafts.is_empty() && self.errors.is_empty() {
            self.errors.push(
                syntax.ident.span(),
                "a network needs at least one layer after its input",
            );
        }
        let fallback = || Fallback {
            vis: syntax.vis.clone(),
            ident: syntax.ident.clone(),
            input: input.map(|i| (i, vocabulary(syntax))),
            output: match self.previous.0.shape {
                Some(Shape::Flat(n)) => Some(n),
                Some(_) => None,
                None => last_dense_units(syntax),
            },
        };
        let Some(input) = input else {
            return Err(Box::new((self.errors, fallback())));
        };
        if !self.errors.is_empty() || self.drafts.iter().any(Option::is_none) {
            let fallback = fallback();
            return Err(Box::new((self.errors, fallback)));
        }
        let layers = self
            .drafts
            .into_iter()
            .map(|d| {
                let d = d.expect("checked");
                Layer {
                    attrs: d.docs,
                    vis: d.entry.vis.clone(),
                    field: d.field,
                    name: d.name,
                    kind: d.kind,
                    input: d.inputs[0].1,
                    input_shapes: d.inputs.iter().map(|(_, s)| *s).collect(),
                    inputs: d.inputs.iter().map(|(s, _)| *s).collect(),
                    output: d.output,
                    masked: d.masked,
                }
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
}

/// A layer written as an expression inside a `Residual` list: `Conv2D(16, (3, 3), padding =
/// same)` or `BatchNormalization`.
fn layer_call(expr: &Expr) -> Option<LayerCall> {
    let ident = |e: &Expr| match e {
        Expr::Path(p) => p.path.get_ident().cloned(),
        _ => None,
    };
    match expr {
        Expr::Path(_) => Some(LayerCall {
            kind: ident(expr)?,
            args: Vec::new(),
            inputs: None,
        }),
        Expr::Call(c) => Some(LayerCall {
            kind: ident(&c.func)?,
            args: c
                .args
                .iter()
                .map(|a| match a {
                    Expr::Assign(assign) if ident(&assign.left).is_some() => Arg {
                        name: ident(&assign.left),
                        value: (*assign.right).clone(),
                    },
                    other => Arg {
                        name: None,
                        value: other.clone(),
                    },
                })
                .collect(),
            inputs: None,
        }),
        _ => None,
    }
}

/// The vocabulary of the first `Embedding`, when it is written as a literal.
fn vocabulary(syntax: &Syntax) -> Option<usize> {
    syntax.entries.iter().skip(1).find_map(|e| match &e.value {
        EntryValue::Layer(call) => kinds::written_vocabulary(call),
        _ => None,
    })
}

/// The width the last entry fixes for the output (a last `Dense(n, …)`'s units), even when its
/// input is unknown after a mistake upstream.
fn last_dense_units(syntax: &Syntax) -> Option<usize> {
    syntax.entries.last().and_then(|e| match &e.value {
        EntryValue::Layer(call) => kinds::written_units(call),
        _ => None,
    })
}

/// Whether `kind` names a merge, which reads the tensors its positional arguments name.
fn is_merge(kind: &Ident) -> bool {
    kinds::lookup(&kind.to_string()).is_some_and(|r| matches!(r.resolve, Resolve::Merge(_)))
}

fn docs(entry: &Entry) -> Vec<Attribute> {
    entry
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect()
}

fn input(entry: &Entry, errors: &mut Errors) -> Option<Shape> {
    let named_input = entry.name.as_ref().is_some_and(|n| n == "input");
    let span = entry.name.as_ref().map_or_else(Span::call_site, Ident::span);
    match (&entry.value, named_input) {
        (
            EntryValue::Dims {
                dims,
                span,
                tokens,
                parenthesized,
            },
            true,
        ) => {
            if *parenthesized {
                let written: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
                errors.push(
                    *span,
                    format!(
                        "shapes are written in brackets: `input: [{}]` (Keras's tuple `({})`)",
                        written.join(", "),
                        written.join(", ")
                    ),
                );
            }
            let mut values = Vec::new();
            for d in dims {
                match d.base10_parse::<usize>() {
                    Ok(0) => errors.push(d.span(), "every input dimension needs at least 1"),
                    Ok(n) => values.push(n),
                    Err(e) => errors.push(d.span(), e),
                }
            }
            if values.len() != dims.len() {
                return None;
            }
            match values[..] {
                [n] if tokens.is_some() => Some(Shape::Tokens(n)),
                _ if tokens.is_some() => {
                    errors.push(
                        *span,
                        "token input is one sequence length, e.g. `input: tokens[100],`",
                    );
                    None
                }
                [n] => Some(Shape::Flat(n)),
                [t, c] => Some(Shape::Sequence(t, c)),
                [h, w, c] => Some(Shape::Image(h, w, c)),
                _ => {
                    errors.push(
                        *span,
                        format!(
                            "an input is `[features]`, a sequence `[steps, channels]` or a channels-last image `[height, width, channels]`; found {} dimensions",
                            dims.len()
                        ),
                    );
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
        (EntryValue::Dims { span: dims, .. }, false) => {
            // On the name if there is one, else on the shape itself.
            let at = if entry.name.is_some() { span } else { *dims };
            errors.push(at, "the first entry must be named `input`, e.g. `input: [10],`");
            None
        }
    }
}
