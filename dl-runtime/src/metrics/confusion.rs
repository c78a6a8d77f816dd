//! The confusion matrix of `evaluate`.

use core::fmt;

/// Counts of (true class, predicted class) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    counts: Vec<usize>,
}

impl ConfusionMatrix {
    /// An empty matrix over `classes` classes.
    pub fn new(classes: usize) -> Self {
        ConfusionMatrix {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Records one sample. A class outside `0..classes` is an `Err` that names it, and records
    /// nothing: the flat index of (1, 5) among 3 classes is that of (2, 2), which would be
    /// counted silently.
    ///
    /// ```
    /// use dl::ConfusionMatrix;
    /// let mut cm = ConfusionMatrix::new(3);
    /// cm.record(1, 2).unwrap();
    /// assert_eq!(
    ///     cm.record(1, 5).unwrap_err().to_string(),
    ///     "predicted class 5 is out of range for a confusion matrix of 3 classes (0..=2)"
    /// );
    /// assert_eq!(cm.total(), 1);
    /// ```
    pub fn record(&mut self, truth: usize, predicted: usize) -> Result<(), ClassOutOfRange> {
        let i = self
            .index("true", truth)
            .and_then(|_| self.index("predicted", predicted))?;
        self.counts[truth * self.classes + i] += 1;
        Ok(())
    }

    /// Samples of class `truth` predicted as `predicted`.
    ///
    /// # Panics
    ///
    /// If either class is outside `0..classes`, as indexing out of bounds does.
    pub fn get(&self, truth: usize, predicted: usize) -> usize {
        if let Err(e) = self
            .index("true", truth)
            .and_then(|_| self.index("predicted", predicted))
        {
            panic!("{e}");
        }
        self.counts[truth * self.classes + predicted]
    }

    /// `class` if it is below the class count.
    fn index(&self, which: &'static str, class: usize) -> Result<usize, ClassOutOfRange> {
        if class < self.classes {
            Ok(class)
        } else {
            Err(ClassOutOfRange {
                which,
                class,
                classes: self.classes,
            })
        }
    }

    /// Samples recorded.
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Fraction on the diagonal.
    pub fn accuracy(&self) -> f32 {
        let right: usize = (0..self.classes).map(|c| self.get(c, c)).sum();
        right as f32 / self.total().max(1) as f32
    }
}

impl fmt::Display for ConfusionMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "true\\pred")?;
        for p in 0..self.classes {
            write!(f, " {p:>5}")?;
        }
        for t in 0..self.classes {
            write!(f, "\n{t:>9}")?;
            for p in 0..self.classes {
                write!(f, " {:>5}", self.get(t, p))?;
            }
        }
        Ok(())
    }
}

/// A class outside a [`ConfusionMatrix`]'s `0..classes`; converts into
/// [`Error`](crate::Error) with `?`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{which} class {class} is out of range for a confusion matrix of {classes} classes{}",
    match classes.checked_sub(1) {
        Some(last) => format!(" (0..={last})"),
        None => String::new(),
    }
)]
pub struct ClassOutOfRange {
    /// `"true"` or `"predicted"`.
    pub which: &'static str,
    /// The class given.
    pub class: usize,
    /// The matrix's class count.
    pub classes: usize,
}

#[cfg(test)]
mod tests {
    use super::ConfusionMatrix;

    #[test]
    fn classes_out_of_range_are_refused_and_change_nothing() {
        let mut cm = ConfusionMatrix::new(3);
        cm.record(2, 2).unwrap();
        let before = cm.clone();
        assert_eq!(
            cm.record(5, 0).unwrap_err().to_string(),
            "true class 5 is out of range for a confusion matrix of 3 classes (0..=2)"
        );
        assert_eq!(
            cm.record(1, 5).unwrap_err().to_string(),
            "predicted class 5 is out of range for a confusion matrix of 3 classes (0..=2)"
        );
        assert_eq!(cm, before);
        assert_eq!(cm.get(2, 2), 1);
        assert!(
            ConfusionMatrix::new(0)
                .record(0, 0)
                .unwrap_err()
                .to_string()
                .ends_with("of 0 classes")
        );
    }

    #[test]
    #[should_panic(expected = "predicted class 5 is out of range")]
    fn get_out_of_range_panics_rather_than_reading_another_cell() {
        ConfusionMatrix::new(3).get(1, 5);
    }
}
