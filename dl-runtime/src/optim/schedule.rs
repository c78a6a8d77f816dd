//! Keras's learning-rate schedules (`keras.optimizers.schedules`): the learning rate of a step as
//! a function of the steps taken before it.

use serde::{Deserialize, Serialize};

/// A learning-rate schedule, given to an optimizer with `with_schedule` (for example
/// `Adam::default().with_schedule(ExponentialDecay::new(0.1, 1000, 0.96))`), as Keras's
/// `Adam(learning_rate=ExponentialDecay(…))`.
///
/// Step `t` (1-based) learns at the schedule's value for `t − 1`, the optimizer's
/// `iterations` before the step, as in Keras. Values follow Keras's formulas, computed in double
/// precision and rounded to `f32` (Keras computes in `float32`: the two agree to a few units in
/// the last place; `tests/fixtures/make_schedule_fixtures.py` checks them against Keras).
/// Checkpoints record the schedule, in Keras's `{"class_name": …, "config": …}` form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class_name", content = "config")]
pub enum Schedule {
    /// See [`ExponentialDecay`].
    ExponentialDecay(ExponentialDecay),
    /// See [`PiecewiseConstantDecay`].
    PiecewiseConstantDecay(PiecewiseConstantDecay),
    /// See [`InverseTimeDecay`].
    InverseTimeDecay(InverseTimeDecay),
    /// See [`CosineDecay`].
    CosineDecay(CosineDecay),
    /// See [`CosineDecayRestarts`].
    CosineDecayRestarts(CosineDecayRestarts),
}

/// `initial_learning_rate · decay_rate ^ (step / decay_steps)`, the exponent rounded down with
/// `staircase`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExponentialDecay {
    /// The rate at step 0, finite and above 0.
    pub initial_learning_rate: f32,
    /// Steps over which the rate is multiplied by `decay_rate`, at least 1.
    pub decay_steps: u64,
    /// Finite and above 0.
    pub decay_rate: f64,
    /// Decay in whole intervals of `decay_steps` (default false).
    pub staircase: bool,
}

/// `values[i]` for steps in `(boundaries[i − 1], boundaries[i]]`: `values[0]` up to and
/// including `boundaries[0]`, the last value after the last boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiecewiseConstantDecay {
    /// Strictly increasing steps.
    pub boundaries: Vec<u64>,
    /// One more than the boundaries, each finite and above 0.
    pub values: Vec<f32>,
}

/// `initial_learning_rate / (1 + decay_rate · step / decay_steps)`, the quotient rounded down
/// with `staircase`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InverseTimeDecay {
    /// The rate at step 0, finite and above 0.
    pub initial_learning_rate: f32,
    /// At least 1.
    pub decay_steps: u64,
    /// Finite and at least 0.
    pub decay_rate: f64,
    /// Decay in whole intervals of `decay_steps` (default false).
    pub staircase: bool,
}

/// Half a cosine from the rate to `alpha` times it over `decay_steps`, then constant; with a
/// `warmup_target`, first a linear rise from `initial_learning_rate` to it over `warmup_steps`,
/// then the cosine from `warmup_target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosineDecay {
    /// The rate at step 0, finite and at least 0 (0 is usual with a warm-up), above 0 without.
    pub initial_learning_rate: f32,
    /// At least 1.
    pub decay_steps: u64,
    /// The fraction of the rate left at the end, in [0, 1] (default 0).
    pub alpha: f64,
    /// The rate the warm-up rises to, finite and above 0 (default none: no warm-up).
    pub warmup_target: Option<f32>,
    /// The warm-up's length (default 0).
    pub warmup_steps: u64,
}

/// Cosine decay with warm restarts (SGDR): a cosine over `first_decay_steps`, then again over
/// periods `t_mul` times as long, each starting `m_mul` times as high.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosineDecayRestarts {
    /// The rate at step 0, finite and above 0.
    pub initial_learning_rate: f32,
    /// The first period, at least 1.
    pub first_decay_steps: u64,
    /// Each period's length over the one before, finite and above 0 (default 2).
    pub t_mul: f64,
    /// Each restart's rate over the one before, finite and at least 0 (default 1).
    pub m_mul: f64,
    /// The fraction of the rate left at the end of a period, in [0, 1] (default 0).
    pub alpha: f64,
}

impl ExponentialDecay {
    /// Keras's `ExponentialDecay(initial_learning_rate, decay_steps, decay_rate)`.
    pub fn new(initial_learning_rate: f32, decay_steps: u64, decay_rate: f64) -> Self {
        ExponentialDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase: false,
        }
    }

    /// The same, decaying in whole intervals of `decay_steps`.
    pub fn with_staircase(self, staircase: bool) -> Self {
        ExponentialDecay { staircase, ..self }
    }
}

impl PiecewiseConstantDecay {
    /// Keras's `PiecewiseConstantDecay(boundaries, values)`.
    pub fn new(boundaries: impl Into<Vec<u64>>, values: impl Into<Vec<f32>>) -> Self {
        PiecewiseConstantDecay {
            boundaries: boundaries.into(),
            values: values.into(),
        }
    }
}

impl InverseTimeDecay {
    /// Keras's `InverseTimeDecay(initial_learning_rate, decay_steps, decay_rate)`.
    pub fn new(initial_learning_rate: f32, decay_steps: u64, decay_rate: f64) -> Self {
        InverseTimeDecay {
            initial_learning_rate,
            decay_steps,
            decay_rate,
            staircase: false,
        }
    }

    /// The same, decaying in whole intervals of `decay_steps`.
    pub fn with_staircase(self, staircase: bool) -> Self {
        InverseTimeDecay { staircase, ..self }
    }
}

impl CosineDecay {
    /// Keras's `CosineDecay(initial_learning_rate, decay_steps)`.
    pub fn new(initial_learning_rate: f32, decay_steps: u64) -> Self {
        CosineDecay {
            initial_learning_rate,
            decay_steps,
            alpha: 0.0,
            warmup_target: None,
            warmup_steps: 0,
        }
    }

    /// The same, ending at `alpha` times the rate.
    pub fn with_alpha(self, alpha: f64) -> Self {
        CosineDecay { alpha, ..self }
    }

    /// The same, rising linearly to `target` over `steps` first.
    pub fn with_warmup(self, target: f32, steps: u64) -> Self {
        CosineDecay {
            warmup_target: Some(target),
            warmup_steps: steps,
            ..self
        }
    }
}

impl CosineDecayRestarts {
    /// Keras's `CosineDecayRestarts(initial_learning_rate, first_decay_steps)`.
    pub fn new(initial_learning_rate: f32, first_decay_steps: u64) -> Self {
        CosineDecayRestarts {
            initial_learning_rate,
            first_decay_steps,
            t_mul: 2.0,
            m_mul: 1.0,
            alpha: 0.0,
        }
    }

    /// The same with other period and height factors.
    pub fn with_multipliers(self, t_mul: f64, m_mul: f64) -> Self {
        CosineDecayRestarts { t_mul, m_mul, ..self }
    }

    /// The same, each period ending at `alpha` times its rate.
    pub fn with_alpha(self, alpha: f64) -> Self {
        CosineDecayRestarts { alpha, ..self }
    }
}

macro_rules! into_schedule {
    ($($kind:ident),*) => {$(
        impl From<$kind> for Schedule {
            fn from(s: $kind) -> Schedule {
                Schedule::$kind(s)
            }
        }
    )*};
}
into_schedule!(
    ExponentialDecay,
    PiecewiseConstantDecay,
    InverseTimeDecay,
    CosineDecay,
    CosineDecayRestarts
);

/// `initial · ((1 − alpha) · ½(1 + cos(π · fraction)) + alpha)`, Keras's cosine.
fn cosine(initial: f64, fraction: f64, alpha: f64, height: f64) -> f64 {
    let decayed = 0.5 * height * (1.0 + (std::f64::consts::PI * fraction).cos());
    initial * ((1.0 - alpha) * decayed + alpha)
}

impl Schedule {
    /// The learning rate after `step` steps (the rate of step `step + 1`).
    pub fn at(&self, step: u64) -> f32 {
        let t = step as f64;
        let value = match self {
            Schedule::ExponentialDecay(s) => {
                let p = t / s.decay_steps as f64;
                let p = if s.staircase { p.floor() } else { p };
                f64::from(s.initial_learning_rate) * s.decay_rate.powf(p)
            }
            Schedule::PiecewiseConstantDecay(s) => {
                // Unchecked values may be too few: NaN, which `validate` refuses first.
                let i = s.boundaries.partition_point(|&b| b < step);
                let value = s.values.get(i).or(s.values.last());
                value.map_or(f64::NAN, |&v| f64::from(v))
            }
            Schedule::InverseTimeDecay(s) => {
                let p = t / s.decay_steps as f64;
                let p = if s.staircase { p.floor() } else { p };
                f64::from(s.initial_learning_rate) / (1.0 + s.decay_rate * p)
            }
            Schedule::CosineDecay(s) => {
                let (initial, decay) = (f64::from(s.initial_learning_rate), s.decay_steps as f64);
                match s.warmup_target {
                    None => cosine(initial, t.min(decay) / decay, s.alpha, 1.0),
                    Some(target) => {
                        let (target, warmup) = (f64::from(target), s.warmup_steps as f64);
                        let t = t.min(decay + warmup);
                        if t < warmup {
                            (target - initial) * (t / warmup) + initial
                        } else {
                            cosine(target, (t - warmup) / decay, s.alpha, 1.0)
                        }
                    }
                }
            }
            Schedule::CosineDecayRestarts(s) => {
                let fraction = t / s.first_decay_steps as f64;
                let (restart, fraction) = if s.t_mul == 1.0 {
                    (fraction.floor(), fraction - fraction.floor())
                } else {
                    let i = ((1.0 - fraction * (1.0 - s.t_mul)).ln() / s.t_mul.ln()).floor();
                    let done = (1.0 - s.t_mul.powf(i)) / (1.0 - s.t_mul);
                    (i, (fraction - done) / s.t_mul.powf(i))
                };
                let initial = f64::from(s.initial_learning_rate);
                cosine(initial, fraction, s.alpha, s.m_mul.powf(restart))
            }
        };
        value as f32
    }

    /// The schedule's Keras class name.
    pub fn name(&self) -> &'static str {
        match self {
            Schedule::ExponentialDecay(_) => "ExponentialDecay",
            Schedule::PiecewiseConstantDecay(_) => "PiecewiseConstantDecay",
            Schedule::InverseTimeDecay(_) => "InverseTimeDecay",
            Schedule::CosineDecay(_) => "CosineDecay",
            Schedule::CosineDecayRestarts(_) => "CosineDecayRestarts",
        }
    }

    /// The highest rate the schedule reaches.
    pub fn peak(&self) -> f32 {
        match self {
            Schedule::PiecewiseConstantDecay(s) => s.values.iter().copied().fold(0.0, f32::max),
            Schedule::CosineDecay(CosineDecay {
                warmup_target: Some(target),
                initial_learning_rate,
                ..
            }) => target.max(*initial_learning_rate),
            Schedule::ExponentialDecay(s) => s.initial_learning_rate,
            Schedule::InverseTimeDecay(s) => s.initial_learning_rate,
            Schedule::CosineDecay(s) => s.initial_learning_rate,
            Schedule::CosineDecayRestarts(s) => {
                // Restarts grow when `m_mul` is above 1; the rate is then unbounded.
                if s.m_mul > 1.0 {
                    f32::INFINITY
                } else {
                    s.initial_learning_rate
                }
            }
        }
    }

    /// Checks every parameter, naming the first out of its range; every value the schedule
    /// gives is then finite and at least 0.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name();
        let err = |field: &str, rule: &str, got: String| {
            Err(format!("{name}: `{field}` must be {rule}; got {got}"))
        };
        let rate = |field: &str, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                err(field, "finite and above 0", v.to_string())
            }
        };
        let steps = |field: &str, v: u64| {
            if v == 0 {
                err(field, "at least 1", "0".into())
            } else {
                Ok(())
            }
        };
        let alpha = |v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                err("alpha", "in [0, 1]", v.to_string())
            }
        };
        match self {
            Schedule::ExponentialDecay(s) => {
                rate("initial_learning_rate", s.initial_learning_rate)?;
                steps("decay_steps", s.decay_steps)?;
                if !(s.decay_rate.is_finite() && s.decay_rate > 0.0) {
                    return err("decay_rate", "finite and above 0", s.decay_rate.to_string());
                }
                Ok(())
            }
            Schedule::PiecewiseConstantDecay(s) => {
                if s.values.len() != s.boundaries.len() + 1 {
                    return err(
                        "values",
                        &format!("one more than the {} boundaries", s.boundaries.len()),
                        format!("{} values", s.values.len()),
                    );
                }
                if let Some(i) = s.boundaries.windows(2).position(|w| w[0] >= w[1]) {
                    let (a, b) = (s.boundaries[i], s.boundaries[i + 1]);
                    return err("boundaries", "strictly increasing", format!("{a} before {b}"));
                }
                s.values.iter().try_for_each(|&v| rate("values", v))
            }
            Schedule::InverseTimeDecay(s) => {
                rate("initial_learning_rate", s.initial_learning_rate)?;
                steps("decay_steps", s.decay_steps)?;
                if !(s.decay_rate.is_finite() && s.decay_rate >= 0.0) {
                    return err("decay_rate", "finite and at least 0", s.decay_rate.to_string());
                }
                Ok(())
            }
            Schedule::CosineDecay(s) => {
                match s.warmup_target {
                    None => rate("initial_learning_rate", s.initial_learning_rate)?,
                    Some(target) => {
                        let initial = s.initial_learning_rate;
                        if !(initial.is_finite() && initial >= 0.0) {
                            return err(
                                "initial_learning_rate",
                                "finite and at least 0",
                                initial.to_string(),
                            );
                        }
                        rate("warmup_target", target)?;
                    }
                }
                steps("decay_steps", s.decay_steps)?;
                alpha(s.alpha)
            }
            Schedule::CosineDecayRestarts(s) => {
                rate("initial_learning_rate", s.initial_learning_rate)?;
                steps("first_decay_steps", s.first_decay_steps)?;
                if !(s.t_mul.is_finite() && s.t_mul > 0.0) {
                    return err("t_mul", "finite and above 0", s.t_mul.to_string());
                }
                if !(s.m_mul.is_finite() && s.m_mul >= 0.0) {
                    return err("m_mul", "finite and at least 0", s.m_mul.to_string());
                }
                alpha(s.alpha)
            }
        }
    }

    /// Keras's `{"class_name": …, "config": …}` form, as checkpoints record it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a schedule is plain data")
    }

    /// Reads [`Schedule::to_json`]'s form back, checking it with [`Schedule::validate`].
    pub fn from_json(json: &str) -> Result<Schedule, String> {
        let s: Schedule = serde_json::from_str(json).map_err(|e| format!("learning-rate schedule: {e}"))?;
        s.validate()?;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_in_keras_form() {
        let s: Schedule = CosineDecay::new(0.0, 100).with_warmup(0.1, 10).into();
        let json = s.to_json();
        assert!(json.starts_with(r#"{"class_name":"CosineDecay","config":{"initial_learning_rate":0.0"#));
        assert_eq!(Schedule::from_json(&json), Ok(s));
        assert!(Schedule::from_json(r#"{"class_name":"Exponential","config":{}}"#).is_err());
        let bad = Schedule::from(ExponentialDecay::new(0.1, 0, 0.5)).to_json();
        assert_eq!(
            Schedule::from_json(&bad),
            Err("ExponentialDecay: `decay_steps` must be at least 1; got 0".into())
        );
    }

    #[test]
    fn every_parameter_out_of_range_is_named() {
        let e = |s: Schedule| s.validate().unwrap_err();
        assert_eq!(
            e(ExponentialDecay::new(f32::NAN, 10, 0.5).into()),
            "ExponentialDecay: `initial_learning_rate` must be finite and above 0; got NaN"
        );
        assert_eq!(
            e(ExponentialDecay::new(0.1, 10, 0.0).into()),
            "ExponentialDecay: `decay_rate` must be finite and above 0; got 0"
        );
        assert_eq!(
            e(PiecewiseConstantDecay::new([10, 20], [0.1, 0.01]).into()),
            "PiecewiseConstantDecay: `values` must be one more than the 2 boundaries; got 2 values"
        );
        assert_eq!(
            e(PiecewiseConstantDecay::new([20, 10], [0.1, 0.01, 0.001]).into()),
            "PiecewiseConstantDecay: `boundaries` must be strictly increasing; got 20 before 10"
        );
        assert_eq!(
            e(PiecewiseConstantDecay::new([10], [0.1, -1.0]).into()),
            "PiecewiseConstantDecay: `values` must be finite and above 0; got -1"
        );
        assert_eq!(
            e(InverseTimeDecay::new(0.1, 10, -0.5).into()),
            "InverseTimeDecay: `decay_rate` must be finite and at least 0; got -0.5"
        );
        assert_eq!(
            e(CosineDecay::new(0.1, 10).with_alpha(1.5).into()),
            "CosineDecay: `alpha` must be in [0, 1]; got 1.5"
        );
        assert_eq!(
            e(CosineDecay::new(0.0, 10).into()),
            "CosineDecay: `initial_learning_rate` must be finite and above 0; got 0"
        );
        assert_eq!(
            e(CosineDecay::new(0.0, 10).with_warmup(f32::INFINITY, 5).into()),
            "CosineDecay: `warmup_target` must be finite and above 0; got inf"
        );
        assert_eq!(
            e(CosineDecayRestarts::new(0.1, 10)
                .with_multipliers(0.0, 1.0)
                .into()),
            "CosineDecayRestarts: `t_mul` must be finite and above 0; got 0"
        );
        assert_eq!(
            e(CosineDecayRestarts::new(0.1, 0).into()),
            "CosineDecayRestarts: `first_decay_steps` must be at least 1; got 0"
        );
    }

    #[test]
    fn piecewise_boundaries_belong_to_the_interval_they_end() {
        let s: Schedule = PiecewiseConstantDecay::new([10, 20], [1.0, 0.5, 0.25]).into();
        let at: Vec<f32> = [0, 10, 11, 20, 21, 1000].iter().map(|&t| s.at(t)).collect();
        assert_eq!(at, [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]);
    }
}
