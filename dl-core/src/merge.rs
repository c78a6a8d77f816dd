//! Keras's merge layers on one sample: `Add`, `Subtract`, `Multiply`, `Average`, `Maximum` and
//! `Minimum` element-wise over inputs of one shape, and `Concatenate` along the last axis.
//! The semantics are the training runtime's: sums and products in input order, `Average` the
//! sum divided by the number of inputs, and ties of `Maximum`/`Minimum` kept by the earlier
//! input.

/// An element-wise merge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// `inputs[0] + inputs[1] + …`, added in order.
    Add,
    /// `inputs[0] - inputs[1]`.
    Subtract,
    /// `inputs[0] · inputs[1] · …`, multiplied in order.
    Multiply,
    /// The sum in order, divided by the number of inputs.
    Average,
    /// The element-wise maximum.
    Maximum,
    /// The element-wise minimum.
    Minimum,
}

/// `y = op(inputs…)` element by element; every input holds at least `y.len()` values.
///
/// # Panics
/// With fewer than two inputs, or an input shorter than `y`.
pub fn merge(op: Merge, inputs: &[&[f32]], y: &mut [f32]) {
    let len = y.len();
    assert!(
        inputs.len() >= 2 && inputs.iter().all(|x| x.len() >= len),
        "a merge reads two or more inputs of its output's size"
    );
    y.copy_from_slice(&inputs[0][..len]);
    for x in &inputs[1..] {
        let x = &x[..len];
        match op {
            Merge::Add | Merge::Average => y.iter_mut().zip(x).for_each(|(y, x)| *y += x),
            Merge::Subtract => y.iter_mut().zip(x).for_each(|(y, x)| *y -= x),
            Merge::Multiply => y.iter_mut().zip(x).for_each(|(y, x)| *y *= x),
            // `x > y` rather than `f32::max`: the earlier input stays on ties.
            Merge::Maximum => y.iter_mut().zip(x).for_each(|(y, &x)| {
                if x > *y {
                    *y = x
                }
            }),
            Merge::Minimum => y.iter_mut().zip(x).for_each(|(y, &x)| {
                if x < *y {
                    *y = x
                }
            }),
        }
    }
    if op == Merge::Average {
        let n = inputs.len() as f32;
        y.iter_mut().for_each(|y| *y /= n);
    }
}

/// `y` = the inputs joined along their last axis: input `i` holds `channels[i]` values at each
/// position (pixel, time step, or the one position of flat features), and `y` holds
/// `Σ channels` at each, input by input.
///
/// # Panics
/// When `channels` does not give one count per input, or the sizes do not add up.
pub fn concatenate(inputs: &[&[f32]], channels: &[usize], y: &mut [f32]) {
    let total: usize = channels.iter().sum();
    assert!(
        inputs.len() == channels.len() && total > 0 && y.len().is_multiple_of(total),
        "Concatenate: one channel count per input, dividing the output"
    );
    let positions = y.len() / total;
    let mut offset = 0;
    for (x, &c) in inputs.iter().zip(channels) {
        assert!(
            x.len() >= positions * c,
            "Concatenate: an input is shorter than its channels say"
        );
        for (row, xs) in y.chunks_exact_mut(total).zip(x.chunks_exact(c.max(1))) {
            row[offset..offset + c].copy_from_slice(&xs[..c]);
        }
        offset += c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_wise_merges_follow_keras() {
        let a = [1.0, -2.0, 3.0, 0.5];
        let b = [2.0, -2.0, -1.0, 0.25];
        let c = [0.5, 4.0, 3.0, -1.0];
        let mut y = [0.0; 4];
        merge(Merge::Add, &[&a, &b, &c], &mut y);
        assert_eq!(y, [3.5, 0.0, 5.0, -0.25]);
        merge(Merge::Subtract, &[&a, &b], &mut y);
        assert_eq!(y, [-1.0, 0.0, 4.0, 0.25]);
        merge(Merge::Multiply, &[&a, &b, &c], &mut y);
        assert_eq!(y, [1.0, 16.0, -9.0, -0.125]);
        merge(Merge::Average, &[&a, &b, &c], &mut y);
        assert_eq!(y, [3.5 / 3.0, 0.0, 5.0 / 3.0, -0.25 / 3.0]);
        merge(Merge::Maximum, &[&a, &b, &c], &mut y);
        assert_eq!(y, [2.0, 4.0, 3.0, 0.5]);
        merge(Merge::Minimum, &[&a, &b, &c], &mut y);
        assert_eq!(y, [0.5, -2.0, -1.0, -1.0]);
    }

    #[test]
    fn ties_keep_the_first_input() {
        // +0 and -0 compare equal: the first input's sign survives, as in the runtime.
        let (a, b) = ([0.0f32], [-0.0f32]);
        let mut y = [1.0];
        merge(Merge::Maximum, &[&a, &b], &mut y);
        assert!(y[0].is_sign_positive());
        merge(Merge::Minimum, &[&b, &a], &mut y);
        assert!(y[0].is_sign_negative());
    }

    #[test]
    fn a_merge_reads_only_the_output_length_and_overwrites_it() {
        let a = [1.0, 2.0, 3.0];
        let b = [10.0, 20.0, 30.0, 40.0];
        let mut y = [f32::NAN; 3];
        merge(Merge::Add, &[&a, &b], &mut y);
        assert_eq!(y, [11.0, 22.0, 33.0]);
    }

    #[test]
    #[should_panic(expected = "two or more inputs")]
    fn a_merge_needs_two_inputs() {
        merge(Merge::Add, &[&[1.0]], &mut [0.0]);
    }

    #[test]
    fn concatenate_joins_the_last_axis_at_every_position() {
        // Two positions (say, pixels): 2 channels, then 1, then 3.
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0];
        let c = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];
        let mut y = [f32::NAN; 12];
        concatenate(&[&a, &b, &c], &[2, 1, 3], &mut y);
        assert_eq!(y, [1.0, 2.0, 5.0, 7.0, 8.0, 9.0, 3.0, 4.0, 6.0, 10.0, 11.0, 12.0]);
        // Flat features: one position.
        let mut y = [0.0; 6];
        concatenate(&[&b, &a], &[2, 4], &mut y);
        assert_eq!(y, [5.0, 6.0, 1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    #[should_panic(expected = "one channel count per input")]
    fn concatenate_refuses_counts_that_do_not_add_up() {
        concatenate(&[&[1.0; 4], &[1.0; 2]], &[2, 2], &mut [0.0; 6]);
    }
}
