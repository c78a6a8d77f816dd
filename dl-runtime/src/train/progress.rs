use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::epoch_metrics::EpochMetrics;
use super::history::EpochLog;

/// Keras's per-epoch progress bar: batch count, running loss and metric, ETA. Drawn only when
/// stderr is a terminal; the epoch's summary line is printed whenever `verbose`.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    verbose: bool,
    prefix: String,
    last_message: Instant,
}

/// Formatting the running loss costs more than a small network's step, so refresh it at most
/// this often.
const REFRESH: Duration = Duration::from_millis(100);

impl Progress {
    /// A bar of `batches` steps, or of an unknown number (a stream that does not declare its
    /// length).
    pub(crate) fn new(epoch: usize, epochs: usize, batches: Option<usize>, verbose: bool) -> Self {
        let prefix = format!("Epoch {epoch}/{epochs}");
        let bar = (verbose && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(batches.map(|b| b as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{prefix} {pos:>5}/{len} [{bar:30}] {msg} - ETA {eta}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(prefix.clone());
            bar
        });
        Progress {
            bar,
            verbose,
            prefix,
            last_message: Instant::now(),
        }
    }

    pub(crate) fn batch_done(
        &mut self,
        batch: usize,
        loss: f32,
        accuracy: Option<f32>,
        metrics: &EpochMetrics,
    ) {
        let Some(bar) = &self.bar else { return };
        bar.set_position(batch as u64);
        if self.last_message.elapsed() >= REFRESH {
            self.last_message = Instant::now();
            let mut message = format!("loss: {loss:.4}");
            if let Some(a) = accuracy {
                message += &format!(" - accuracy: {a:.4}");
            }
            for (key, value) in metrics.entries("") {
                message += &format!(" - {key}: {value:.4}");
            }
            bar.set_message(message);
        }
    }

    pub(crate) fn finish(&mut self, log: &EpochLog) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.verbose {
            eprintln!(
                "{} - {} - {log}",
                self.prefix,
                super::history::duration(log.seconds)
            );
        }
    }

    pub(crate) fn abandon(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}
