use std::path::PathBuf;

use super::monitor::{Mode, Monitor};
use super::{Callback, Context};
use crate::error::{Error, Result};
use crate::train::EpochLog;

/// Keras's `ModelCheckpoint`: saves the network at the end of every epoch, or only when
/// `monitor` improves (`save_best_only`), to a path that may name the epoch and log values.
///
/// The path is a pattern in Keras's (Python's) format syntax: `{epoch}` is the 1-based epoch
/// (as in Keras's file names), `{epoch:02d}` pads it with zeros, and `{val_loss}` or
/// `{val_loss:.4f}` writes a log value; `{{` and `}}` are braces. With `save_weights_only` the
/// file holds the weights ([`save`](crate::weights::save)); otherwise it is a checkpoint with
/// the optimizer's state and the epoch ([`save_checkpoint`](crate::weights::save_checkpoint)),
/// from which training resumes, as Keras's full-model files do. Missing directories are created.
///
/// ```
/// # use dl_runtime::train::ModelCheckpoint;
/// let best = ModelCheckpoint::new("runs/best.safetensors").with_save_best_only(true);
/// let every = ModelCheckpoint::new("runs/epoch-{epoch:03d}-{val_loss:.3f}.safetensors");
/// ```
#[derive(Debug, Clone)]
pub struct ModelCheckpoint {
    filepath: String,
    monitor: Monitor,
    save_best_only: bool,
    save_weights_only: bool,
    initial_value_threshold: Option<f64>,
    verbose: bool,
    pattern: Vec<Piece>,
    best: Option<f64>,
}

/// A piece of the file name pattern.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    /// A log key or `epoch`, with a zero-padded width or a number of decimals.
    Field {
        key: String,
        width: usize,
        decimals: Option<usize>,
    },
}

impl ModelCheckpoint {
    /// Saves to `filepath` after every epoch, a full checkpoint, monitoring `val_loss` if
    /// `save_best_only` is set later (Keras's defaults).
    pub fn new(filepath: impl Into<String>) -> Self {
        ModelCheckpoint {
            filepath: filepath.into(),
            monitor: Monitor::new("val_loss", Mode::Auto, 0.0),
            save_best_only: false,
            save_weights_only: false,
            initial_value_threshold: None,
            verbose: false,
            pattern: Vec::new(),
            best: None,
        }
    }

    /// The log entry that decides the best epoch.
    pub fn with_monitor(mut self, monitor: &str) -> Self {
        self.monitor.key = monitor.to_string();
        self
    }

    /// Whether lower or higher values are better.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.monitor.mode = mode;
        self
    }

    /// Save only when the monitored value improves on the best so far.
    pub fn with_save_best_only(mut self, best_only: bool) -> Self {
        self.save_best_only = best_only;
        self
    }

    /// Save the weights alone rather than a checkpoint.
    pub fn with_save_weights_only(mut self, weights_only: bool) -> Self {
        self.save_weights_only = weights_only;
        self
    }

    /// The value to beat before the first save, with `save_best_only`.
    pub fn with_initial_value_threshold(mut self, threshold: f64) -> Self {
        self.initial_value_threshold = Some(threshold);
        self
    }

    /// Print a line at each save.
    pub fn with_verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// The path for the epoch `log` ends.
    fn path(&self, log: &EpochLog) -> PathBuf {
        let mut out = String::new();
        for piece in &self.pattern {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { key, width, decimals } => {
                    let text = match (key.as_str(), decimals) {
                        ("epoch", _) => log.epoch.to_string(),
                        (key, Some(d)) => {
                            format!("{:.d$}", f64::from(log.get(key).unwrap_or(f32::NAN)), d = d)
                        }
                        (key, None) => f64::from(log.get(key).unwrap_or(f32::NAN)).to_string(),
                    };
                    out.push_str(&format!("{text:0>width$}"));
                }
            }
        }
        PathBuf::from(out)
    }
}

/// Splits Keras's file name pattern into text and fields, checking each field's key and format.
fn parse(pattern: &str, keys: &[&str]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('{', Some('{')) | ('}', Some('}')) => {
                text.push(c);
                chars.next();
            }
            ('}', _) => return Err(format!("a lone `}}` in `{pattern}` (write `}}}}` for a brace)")),
            ('{', _) => {
                let field: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let (key, spec) = field.split_once(':').unwrap_or((&field, ""));
                if key != "epoch" && !keys.contains(&key) {
                    return Err(format!(
                        "`{{{field}}}` in `{pattern}` names no log entry (there are epoch, {})",
                        keys.join(", ")
                    ));
                }
                let bad_spec =
                    || format!("`{{{field}}}` in `{pattern}`: format `{spec}` is not `0Nd` or `.Nf`");
                let (width, decimals) = if spec.is_empty() {
                    (0, None)
                } else if let Some(d) = spec.strip_prefix('.').and_then(|s| s.strip_suffix('f')) {
                    (0, Some(d.parse().map_err(|_| bad_spec())?))
                } else {
                    let digits = spec.strip_suffix('d').unwrap_or(spec);
                    (digits.parse().map_err(|_| bad_spec())?, None)
                };
                if key == "epoch" && decimals.is_some() {
                    return Err(bad_spec());
                }
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Field {
                    key: key.to_string(),
                    width,
                    decimals,
                });
            }
            _ => text.push(c),
        }
    }
    pieces.push(Piece::Text(text));
    Ok(pieces)
}

impl Callback for ModelCheckpoint {
    fn on_train_begin(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        let bad = |m: String| Error::BadCallback(format!("ModelCheckpoint: `filepath` {m}"));
        if self.filepath.is_empty() {
            return Err(bad("is empty".into()));
        }
        self.pattern = parse(&self.filepath, &ctx.keys()).map_err(|m| bad(format!("is bad: {m}")))?;
        if self.save_best_only {
            self.monitor.begin("ModelCheckpoint", ctx)?;
        }
        if let Some(t) = self.initial_value_threshold.filter(|t| !t.is_finite()) {
            return Err(Error::BadCallback(format!(
                "ModelCheckpoint: `initial_value_threshold` must be finite; got {t}"
            )));
        }
        self.best = self.initial_value_threshold;
        Ok(())
    }

    fn on_epoch_end(&mut self, log: &EpochLog, ctx: &mut Context<'_>) -> Result<()> {
        let path = self.path(log);
        if self.save_best_only {
            let current = log.get(&self.monitor.key).map(f64::from);
            match current {
                Some(c) if self.monitor.improves(c, self.best) => self.best = Some(c),
                _ => return Ok(()),
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        if self.verbose {
            eprintln!("Epoch {}: saving model to {}", log.epoch, path.display());
        }
        if self.save_weights_only {
            ctx.save_weights(&path)
        } else {
            ctx.save_checkpoint(log.epoch, &path)
        }
    }

    fn name(&self) -> &str {
        "ModelCheckpoint"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_read_as_keras_formats_them() {
        let keys = ["loss", "val_loss"];
        let p = parse("m-{epoch:03d}-{val_loss:.2f}{{x}}.st", &keys).unwrap();
        let ck = ModelCheckpoint {
            pattern: p,
            ..ModelCheckpoint::new("")
        };
        let log = EpochLog {
            epoch: 7,
            loss: 1.0,
            accuracy: None,
            val_loss: Some(0.4567),
            val_accuracy: None,
            learning_rate: None,
            seconds: 0.0,
            metrics: Vec::new(),
        };
        assert_eq!(ck.path(&log), PathBuf::from("m-007-0.46{x}.st"));
        let e = |p: &str| parse(p, &keys).unwrap_err();
        assert_eq!(
            e("{val_acc}.st"),
            "`{val_acc}` in `{val_acc}.st` names no log entry (there are epoch, loss, val_loss)"
        );
        assert_eq!(
            e("{epoch:x}"),
            "`{epoch:x}` in `{epoch:x}`: format `x` is not `0Nd` or `.Nf`"
        );
        assert_eq!(
            e("{epoch:.2f}"),
            "`{epoch:.2f}` in `{epoch:.2f}`: format `.2f` is not `0Nd` or `.Nf`"
        );
        assert_eq!(e("a}b"), "a lone `}` in `a}b` (write `}}` for a brace)");
    }
}
