//! The output type of a network whose declaration has errors.

use core::fmt;
use core::ops::{Index, IndexMut};

/// What `forward` of a network whose declaration did not compile returns when the macro could
/// not work out its output shape. It supports what callers do with an output (indexing,
/// printing, iterating, comparing, `argmax`) so that the only errors a user sees are the
/// macro's own, on the declaration. No value of it is ever made: the stand-in network's methods
/// are never run, because the program does not compile. (It is not an empty enum, whose values
/// rustc knows cannot exist, so that the code after a call is not reported as unreachable.)
#[derive(Clone, Copy, PartialEq, PartialOrd)]
pub struct Unknown(());

impl Unknown {
    /// The values, as a slice.
    pub fn as_slice(&self) -> &[f32] {
        core::unreachable!("a network whose declaration did not compile")
    }

    /// The values, one by one.
    pub fn iter(&self) -> core::slice::Iter<'_, f32> {
        core::unreachable!("a network whose declaration did not compile")
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        core::unreachable!("a network whose declaration did not compile")
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        core::unreachable!("a network whose declaration did not compile")
    }

    /// The sum of the values.
    pub fn sum(&self) -> f32 {
        core::unreachable!("a network whose declaration did not compile")
    }

    /// The largest value.
    pub fn max(&self) -> f32 {
        core::unreachable!("a network whose declaration did not compile")
    }

    /// The smallest value.
    pub fn min(&self) -> f32 {
        core::unreachable!("a network whose declaration did not compile")
    }

    /// The index of the largest value, and the value.
    pub fn argmax(&self) -> (usize, f32) {
        core::unreachable!("a network whose declaration did not compile")
    }
}

impl Index<usize> for Unknown {
    type Output = f32;
    fn index(&self, _: usize) -> &f32 {
        core::unreachable!("a network whose declaration did not compile")
    }
}

impl IndexMut<usize> for Unknown {
    fn index_mut(&mut self, _: usize) -> &mut f32 {
        core::unreachable!("a network whose declaration did not compile")
    }
}

impl<'a> IntoIterator for &'a Unknown {
    type Item = &'a f32;
    type IntoIter = core::slice::Iter<'a, f32>;
    fn into_iter(self) -> Self::IntoIter {
        core::unreachable!("a network whose declaration did not compile")
    }
}

impl fmt::Display for Unknown {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        core::unreachable!("a network whose declaration did not compile")
    }
}

impl fmt::Debug for Unknown {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        core::unreachable!("a network whose declaration did not compile")
    }
}
