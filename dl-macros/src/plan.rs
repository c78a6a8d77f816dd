//! Where a branching network's single-sample forward keeps its tensors: one arena of floats in
//! which a tensor lives from the layer that writes it to its last reader, and tensors whose
//! lifetimes do not overlap share memory. `ACTIVATION_BYTES` of such a network is the arena's
//! size, and the embedded network's scratch struct is that arena.
//!
//! `Flatten` and `Dropout` (at inference) write nothing: their output is their input's memory,
//! which then lives until their own readers are done.

use crate::model::{Network, Source};

/// Where a tensor is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The network's input (through a `Flatten` or `Dropout` of it).
    Input,
    /// `len` floats of the arena from `offset`.
    Arena { offset: usize, len: usize },
}

pub struct Plan {
    /// Floats of the arena.
    pub floats: usize,
    /// The most floats alive at once (at some layer, its inputs, its output and its scratch,
    /// and every tensor a later layer still reads): no layout can take less than this.
    pub peak: usize,
    /// Where each layer's output is.
    pub outputs: Vec<Place>,
    /// Where each layer's own scratch (a recurrent cell's state and gates) is, if it has any.
    pub scratch: Vec<Option<Place>>,
}

/// A run of floats needed from the step `start` to the step `end`, both included.
#[derive(Clone, Copy)]
struct Tensor {
    start: usize,
    end: usize,
    len: usize,
}

impl Tensor {
    fn overlaps(&self, other: &Tensor) -> bool {
        self.start <= other.end && other.start <= self.end
    }
}

pub fn plan(net: &Network) -> Plan {
    plan_with(net, &vec![false; net.layers.len()])
}

/// The plan when, besides the kinds that never write, the layers marked in `passes` write
/// nothing either (an embedded network's folded layers, see `embed::fold`).
pub fn plan_with(net: &Network, passes: &[bool]) -> Plan {
    let n = net.layers.len();
    let writes: Vec<bool> = net
        .layers
        .iter()
        .zip(passes)
        .map(|(l, &passes)| l.writes_output() && !passes)
        .collect();
    // The layer whose buffer holds each layer's output (`None`: the network's input).
    let mut owner: Vec<Option<usize>> = Vec::with_capacity(n);
    for (i, layer) in net.layers.iter().enumerate() {
        let own = if writes[i] {
            Some(i)
        } else {
            match layer.inputs[0] {
                Source::Input => None,
                Source::Node(p) => owner[p],
            }
        };
        owner.push(own);
    }
    // Output buffers live from their layer to the last layer reading them (through aliases);
    // the network's output until the end.
    let mut end: Vec<usize> = (0..n).collect();
    for (i, layer) in net.layers.iter().enumerate() {
        for s in &layer.inputs {
            if let Source::Node(p) = *s
                && let Some(o) = owner[p]
            {
                end[o] = end[o].max(i);
            }
        }
    }
    if let Some(Some(o)) = owner.last() {
        end[*o] = n - 1;
    }
    // Tensors: each writing layer's output, then each layer's scratch, alive only at its step.
    let mut tensors = Vec::new();
    let mut output_tensor = vec![None; n];
    let mut scratch_tensor = vec![None; n];
    for (i, layer) in net.layers.iter().enumerate() {
        if writes[i] {
            output_tensor[i] = Some(tensors.len());
            tensors.push(Tensor {
                start: i,
                end: end[i],
                len: layer.output.len(),
            });
        }
    }
    for (i, layer) in net.layers.iter().enumerate() {
        let len = layer.scratch_floats();
        if len > 0 {
            scratch_tensor[i] = Some(tensors.len());
            tensors.push(Tensor {
                start: i,
                end: i,
                len,
            });
        }
    }

    let peak = (0..n)
        .map(|t| {
            tensors
                .iter()
                .filter(|x| x.start <= t && t <= x.end)
                .map(|x| x.len)
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0);

    let (floats, offsets) = layout(&tensors, peak);
    let at = |k: usize| Place::Arena {
        offset: offsets[k],
        len: tensors[k].len,
    };
    Plan {
        floats,
        peak,
        outputs: owner
            .iter()
            .map(|o| match o {
                None => Place::Input,
                Some(o) => at(output_tensor[*o].expect("a writing layer has an output tensor")),
            })
            .collect(),
        scratch: scratch_tensor.iter().map(|k| k.map(at)).collect(),
    }
}

/// Offsets for the tensors in an arena as small as a few greedy layouts find: the tensors are
/// placed one by one, each at the lowest offset free of the tensors alive at the same time
/// (first fit), in the order of two heuristics (largest first, TensorFlow Lite's "greedy by
/// size"; and in the order they are written), and the better order is then improved by moving
/// single tensors to its front while that shrinks the arena, until it holds no more than the
/// peak of the live tensors, which no layout can beat.
fn layout(tensors: &[Tensor], peak: usize) -> (usize, Vec<usize>) {
    let mut by_size: Vec<usize> = (0..tensors.len()).collect();
    by_size.sort_by_key(|&k| (std::cmp::Reverse(tensors[k].len), tensors[k].start, k));
    let mut by_start: Vec<usize> = (0..tensors.len()).collect();
    by_start.sort_by_key(|&k| (tensors[k].start, std::cmp::Reverse(tensors[k].len), k));
    let (mut order, (mut floats, mut offsets)) = [by_size, by_start]
        .into_iter()
        .map(|order| {
            let placed = place(tensors, &order);
            (order, placed)
        })
        .min_by_key(|(_, (floats, _))| *floats)
        .expect("two layouts");
    // Each pass tries every tensor at the front: a few passes, fewer for large networks, so
    // that the macro stays quick.
    let passes = if tensors.len() > 100 { 1 } else { 4 };
    'passes: for _ in 0..passes {
        let mut improved = false;
        for position in 1..order.len() {
            if floats <= peak {
                break 'passes;
            }
            let mut candidate = order.clone();
            let k = candidate.remove(position);
            candidate.insert(0, k);
            let (f, o) = place(tensors, &candidate);
            if f < floats {
                (order, floats, offsets, improved) = (candidate, f, o, true);
            }
        }
        if !improved {
            break;
        }
    }
    (floats, offsets)
}

/// Places the tensors in `order`, each at the lowest offset where it overlaps no tensor placed
/// before it that is alive at the same time; returns the arena's size and the offsets.
fn place(tensors: &[Tensor], order: &[usize]) -> (usize, Vec<usize>) {
    let mut offsets = vec![0; tensors.len()];
    let mut placed: Vec<usize> = Vec::new();
    let mut floats = 0;
    for &k in order {
        let t = tensors[k];
        let mut taken: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&p| tensors[p].overlaps(&t) && tensors[p].len > 0)
            .map(|&p| (offsets[p], offsets[p] + tensors[p].len))
            .collect();
        taken.sort_unstable();
        let mut offset = 0;
        for (begin, end) in taken {
            if begin >= offset + t.len {
                break;
            }
            offset = offset.max(end);
        }
        offsets[k] = offset;
        floats = floats.max(offset + t.len);
        placed.push(k);
    }
    (floats, offsets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model;

    fn net(tokens: proc_macro2::TokenStream) -> Network {
        model::built(tokens)
    }

    /// At every step, the distinct places of the tensors still needed (and the step's scratch)
    /// do not overlap.
    fn assert_sound(net: &Network, plan: &Plan) {
        let n = net.layers.len();
        let consumers = net.consumers();
        // A tensor is still needed at step `i` if it was written at or before `i` and a layer at
        // or after `i` reads it, directly or through an alias.
        let mut readers: Vec<Vec<usize>> = consumers.clone();
        for p in (0..n).rev() {
            let more: Vec<usize> = consumers[p]
                .iter()
                .filter(|&&j| !net.layers[j].writes_output())
                .flat_map(|&j| readers[j].clone())
                .collect();
            readers[p].extend(more);
        }
        for i in 0..n {
            let mut live: Vec<(usize, usize)> = (0..=i)
                .filter(|&p| p == i || p == n - 1 || readers[p].iter().any(|&j| j >= i))
                .filter_map(|p| match plan.outputs[p] {
                    Place::Arena { offset, len } => Some((offset, offset + len)),
                    Place::Input => None,
                })
                .collect();
            if let Some(Place::Arena { offset, len }) = plan.scratch[i] {
                live.push((offset, offset + len));
            }
            live.sort_unstable();
            live.dedup();
            for pair in live.windows(2) {
                assert!(pair[0].1 <= pair[1].0, "step {i}: {live:?} overlap");
            }
            assert!(live.iter().all(|&(_, end)| end <= plan.floats));
        }
        assert!(plan.floats >= plan.peak);
    }

    #[test]
    fn a_residual_block_takes_the_peak_of_its_live_tensors() {
        let net = net(quote::quote! {
            struct Residual {
                input: [5],
                stem: Dense(6, tanh),
                Dense(6, elu),
                branch: Dense(6, linear),
                Add(stem, branch),
                Dense(3, softmax),
            }
        });
        let plan = plan(&net);
        assert_sound(&net, &plan);
        // While `branch` is written, and while `Add` is: three tensors of 6.
        assert_eq!((plan.peak, plan.floats), (18, 18));
        // 72 bytes, in a scratch struct of whole 64-byte lines.
        assert_eq!(crate::footprint::activation_bytes(&net), 128);
    }

    #[test]
    fn flatten_and_dropout_share_their_input_s_memory() {
        let net = net(quote::quote! {
            struct Projection {
                input: [6, 6, 2],
                stem: Conv2D(3, (3, 3), tanh, padding = same),
                Conv2D(4, (3, 3), strides = (2, 2), padding = same, activation = elu),
                main: Conv2D(4, (3, 3), padding = same),
                shortcut: Conv2D(4, (1, 1), strides = (2, 2))(stem),
                sum: Add(main, shortcut),
                flat: Flatten,
                Dropout(0.5),
                wide: Dense(36, relu),
                Add(flat, wide),
                Dense(3, softmax),
            }
        });
        let plan = plan(&net);
        assert_sound(&net, &plan);
        assert_eq!(plan.outputs[5], plan.outputs[4]);
        assert_eq!(plan.outputs[6], plan.outputs[4]);
        // `stem` (108) with the strided conv (36) and then `main` (36); `stem` is read last by
        // `shortcut` (36), alongside `main`.
        assert_eq!(plan.peak, 108 + 36 + 36);
        assert_eq!(plan.floats, plan.peak);
    }

    #[test]
    fn a_flatten_of_the_input_reads_the_input() {
        let net = net(quote::quote! {
            struct Flat {
                input: [2, 2, 3],
                flat: Flatten,
                a: Dense(4, tanh),
                b: Dense(4, relu)(flat),
                Add(a, b),
            }
        });
        let plan = plan(&net);
        assert_sound(&net, &plan);
        assert_eq!(plan.outputs[0], Place::Input);
        assert_eq!((plan.peak, plan.floats), (12, 12));
    }

    #[test]
    fn a_long_skip_holds_its_tensor_across_the_span() {
        let net = net(quote::quote! {
            struct LongSkip {
                input: [5],
                early: Dense(6, tanh),
                Dense(7, elu),
                Dense(8, gelu),
                Dense(9, softplus),
                late: Dense(10, swish),
                Concatenate(early, late),
                Dense(1, linear),
            }
        });
        let plan = plan(&net);
        assert_sound(&net, &plan);
        // `early`, `late` and their concatenation.
        assert_eq!(plan.peak, 6 + 10 + 16);
        assert_eq!(plan.floats, plan.peak);
    }

    #[test]
    fn recurrent_scratch_lives_for_its_step() {
        let net = net(quote::quote! {
            struct Branches {
                input: tokens[7],
                e: Embedding(20, 4),
                a: LSTM(3, return_sequences = true),
                b: GRU(5, return_sequences = true)(e),
                Concatenate(a, b),
                GlobalAveragePooling1D,
                Dense(2, softmax),
            }
        });
        let plan = plan(&net);
        assert_sound(&net, &plan);
        assert!(plan.scratch[1].is_some() && plan.scratch[2].is_some());
        // At the GRU: the embedding, the LSTM's output, the GRU's output and state.
        assert_eq!(plan.peak, 28 + 21 + 35 + 7 * 5);
        assert_eq!(plan.floats, plan.peak);
    }

    #[test]
    fn every_merge_reading_tensors_several_times() {
        let net = net(quote::quote! {
            struct EveryMerge {
                input: [5],
                a: Dense(4, tanh),
                b: Dense(4, sigmoid)(input),
                c: Dense(4, elu)(input),
                sum: Add(a, b, c),
                difference: Subtract(b, c),
                product: Multiply(a, b, c),
                mean: Average(sum, difference),
                Concatenate(mean, product, a),
                Dense(2, linear),
            }
        });
        let plan = plan(&net);
        assert_sound(&net, &plan);
        assert_eq!(plan.floats, plan.peak);
    }

    #[test]
    fn a_deep_residual_stack_reuses_three_buffers() {
        let mut body = quote::quote!(input: [8, 8, 4], x0: Conv2D(4, 3, padding = same),);
        for b in 0..40usize {
            let (prev, c, next) = (
                quote::format_ident!("x{}", b),
                quote::format_ident!("c{}", b),
                quote::format_ident!("x{}", b + 1),
            );
            body.extend(quote::quote! {
                Conv2D(4, 3, padding = same)(#prev),
                BatchNormalization(),
                Activation(relu),
                #c: Conv2D(4, 3, padding = same),
                #next: Add(#prev, #c),
            });
        }
        body.extend(quote::quote!(GlobalAveragePooling2D, Dense(2, softmax),));
        let net = net(quote::quote!(struct Deep { #body }));
        let plan = plan(&net);
        assert_sound(&net, &plan);
        // The block's input, the branch and the sum, 8×8×4 each, however deep.
        assert_eq!((plan.peak, plan.floats), (3 * 256, 3 * 256));
    }
}
