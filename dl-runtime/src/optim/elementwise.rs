//! Element-wise updates cut into disjoint parameter ranges, so that one step's update can be
//! shared between threads without changing a bit.

/// One step's update rule for optimizers whose update of each parameter reads only that
/// parameter, its gradient and its own state (every built-in optimizer): the step's constants
/// (learning rate, bias corrections, …) are in `self`.
pub trait ElementRule: Sync {
    /// Updates `param` from `grad` and the matching pieces of the optimizer's state buffers;
    /// an unused buffer is an empty slice, the others are as long as `param`.
    fn apply(&self, param: &mut [f32], grad: &[f32], state: [&mut [f32]; 2]);
}

/// A step's [`ElementRule`] with the optimizer's state for a range of parameters: up to two
/// buffers indexed by parameter, each either empty (unused) or covering the whole range.
///
/// [`Elementwise::split_at`] cuts it into two ranges that can be updated on different threads;
/// since each parameter's update reads only its own values, the result is the same bit for bit
/// however the range is cut.
pub struct Elementwise<'a> {
    rule: &'a dyn ElementRule,
    state: [&'a mut [f32]; 2],
}

impl<'a> Elementwise<'a> {
    /// `rule` over the parameters that `state`'s buffers cover (unused buffers empty).
    pub fn new(rule: &'a dyn ElementRule, state: [&'a mut [f32]; 2]) -> Self {
        Elementwise { rule, state }
    }

    /// The `len` parameters from `offset` on, borrowed from this range.
    pub fn range(&mut self, offset: usize, len: usize) -> Elementwise<'_> {
        let [a, b] = &mut self.state;
        Elementwise {
            rule: self.rule,
            state: [piece(a, offset, len), piece(b, offset, len)],
        }
    }

    /// The first `at` parameters of the range and the rest.
    pub fn split_at(self, at: usize) -> (Self, Self) {
        let [a, b] = self.state;
        let (a0, a1) = halves(a, at);
        let (b0, b1) = halves(b, at);
        (
            Elementwise {
                rule: self.rule,
                state: [a0, b0],
            },
            Elementwise {
                rule: self.rule,
                state: [a1, b1],
            },
        )
    }

    /// Updates the range's parameters, `param`, from their gradient.
    pub fn apply(self, param: &mut [f32], grad: &[f32]) {
        assert_eq!(param.len(), grad.len(), "a gradient of another length");
        for s in &self.state {
            assert!(
                s.is_empty() || s.len() == param.len(),
                "optimizer state of {} values for {} parameters",
                s.len(),
                param.len()
            );
        }
        self.rule.apply(param, grad, self.state);
    }
}

fn piece(s: &mut [f32], offset: usize, len: usize) -> &mut [f32] {
    if s.is_empty() {
        s
    } else {
        &mut s[offset..offset + len]
    }
}

fn halves(s: &mut [f32], at: usize) -> (&mut [f32], &mut [f32]) {
    if s.is_empty() {
        s.split_at_mut(0)
    } else {
        s.split_at_mut(at)
    }
}
