//! Element-wise updates cut into disjoint parameter ranges, so that one step's update can be
//! shared between threads without changing a bit.

use crate::finite::all_finite;

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

/// Values per chunk of a checked update: a chunk's weights, state and their copies (up to six
/// arrays of 8 KiB) stay in cache from the copy through the update to the check.
const CHUNK: usize = 2048;

impl Elementwise<'_> {
    /// Which of the two state buffers the rule uses: those a backup must hold besides the
    /// parameters.
    pub(crate) fn used(&self) -> [bool; 2] {
        self.state.each_ref().map(|s| !s.is_empty())
    }

    /// [`Elementwise::apply`], first copying the parameters and the state as they were into
    /// `backup` (`[parameters, state 0, state 1]`, each as long as `param`, or empty for an
    /// unused buffer), and telling whether the parameters and the state all came out finite;
    /// if not, [`Elementwise::restore`] puts them back. Chunk by chunk, so that the copy and the
    /// check read what is in cache; the update is element-wise, so the chunks change no bit.
    pub(crate) fn apply_checked(self, param: &mut [f32], grad: &[f32], backup: [&mut [f32]; 3]) -> bool {
        assert_eq!(param.len(), grad.len(), "a gradient of another length");
        let Elementwise { rule, state } = self;
        let [s0, s1] = state;
        let [b, b0, b1] = backup;
        let n = param.len();
        for (s, b) in [(&*s0, &*b0), (&*s1, &*b1)] {
            assert!(
                s.len() == b.len() && (s.is_empty() || s.len() == n),
                "optimizer state of {} values for {} parameters ({} backed up)",
                s.len(),
                n,
                b.len()
            );
        }
        assert_eq!(b.len(), n, "a backup of another length");
        let mut finite = true;
        let mut start = 0;
        while start < n {
            let end = n.min(start + CHUNK);
            let r = start..end;
            let p = &mut param[r.clone()];
            b[r.clone()].copy_from_slice(p);
            let s0 = piece(s0, start, end - start);
            let s1 = piece(s1, start, end - start);
            piece(b0, start, end - start).copy_from_slice(s0);
            piece(b1, start, end - start).copy_from_slice(s1);
            rule.apply(p, &grad[r], [&mut *s0, &mut *s1]);
            finite &= all_finite(p) && all_finite(s0) && all_finite(s1);
            start = end;
        }
        finite
    }

    /// Puts back the parameters and the state that [`Elementwise::apply_checked`] copied into
    /// `backup`.
    pub(crate) fn restore(self, param: &mut [f32], backup: [&[f32]; 3]) {
        let [s0, s1] = self.state;
        let [b, b0, b1] = backup;
        param.copy_from_slice(b);
        s0.copy_from_slice(b0);
        s1.copy_from_slice(b1);
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
