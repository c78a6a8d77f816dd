//! Classification metrics.

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

    /// Records one sample.
    pub fn record(&mut self, truth: usize, predicted: usize) {
        self.counts[truth * self.classes + predicted] += 1;
    }

    /// Samples of class `truth` predicted as `predicted`.
    pub fn get(&self, truth: usize, predicted: usize) -> usize {
        self.counts[truth * self.classes + predicted]
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
