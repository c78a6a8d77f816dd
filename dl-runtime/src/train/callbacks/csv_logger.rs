use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use super::{Callback, Context};
use crate::error::{Error, Result};
use crate::train::EpochLog;

/// Keras's `CSVLogger`: one row per epoch with every log value, written as the epoch ends.
///
/// As Keras writes it: a header `epoch` then the log keys in alphabetical order (with a `val_`
/// column for each key, `NA` in every row, when there is no validation), the `epoch` column
/// holding Keras's 0-based index, values in full double precision. With `append`, rows go
/// after an existing file's, without a second header.
///
/// ```
/// # use dl_runtime::train::CSVLogger;
/// let log = CSVLogger::new("training.csv").with_separator(';');
/// ```
#[derive(Debug)]
pub struct CSVLogger {
    filename: PathBuf,
    separator: char,
    append: bool,
    file: Option<BufWriter<File>>,
    keys: Vec<String>,
}

impl CSVLogger {
    /// Writes to `filename`, replacing it, with `,` between values.
    pub fn new(filename: impl Into<PathBuf>) -> Self {
        CSVLogger {
            filename: filename.into(),
            separator: ',',
            append: false,
            file: None,
            keys: Vec::new(),
        }
    }

    /// The character between values.
    pub fn with_separator(mut self, separator: char) -> Self {
        self.separator = separator;
        self
    }

    /// Add rows to an existing file rather than replacing it.
    pub fn with_append(mut self, append: bool) -> Self {
        self.append = append;
        self
    }

    fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.filename.display().to_string(),
            source,
        }
    }
}

impl Callback for CSVLogger {
    fn on_train_begin(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        if matches!(self.separator, '"' | '\n' | '\r') || self.separator.is_ascii_alphanumeric() {
            return Err(Error::BadCallback(format!(
                "CSVLogger: `separator` {:?} would not read back; use a punctuation character",
                self.separator
            )));
        }
        let header = !(self.append && self.filename.metadata().is_ok_and(|m| m.len() > 0));
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(self.append)
            .truncate(!self.append)
            .open(&self.filename)
            .map_err(|e| self.io(e))?;
        let mut keys: Vec<String> = ctx.keys().iter().map(|k| k.to_string()).collect();
        keys.sort();
        if !keys.iter().any(|k| k.starts_with("val_")) {
            let val: Vec<String> = keys.iter().map(|k| format!("val_{k}")).collect();
            keys.extend(val);
        }
        let mut file = BufWriter::new(file);
        if header {
            let sep = self.separator.to_string();
            writeln!(file, "epoch{sep}{}", keys.join(&sep)).map_err(|e| self.io(e))?;
        }
        (self.file, self.keys) = (Some(file), keys);
        Ok(())
    }

    fn on_epoch_end(&mut self, log: &EpochLog, _ctx: &mut Context<'_>) -> Result<()> {
        let mut row = (log.epoch - 1).to_string();
        for key in &self.keys {
            row.push(self.separator);
            match log.get(key) {
                // The float64 of each float32, as Keras writes it, in the shortest decimal that
                // reads back.
                Some(v) => row.push_str(&f64::from(v).to_string()),
                None => row.push_str("NA"),
            }
        }
        let Some(file) = self.file.as_mut() else {
            return Err(Error::BadCallback(
                "CSVLogger: on_epoch_end before on_train_begin".into(),
            ));
        };
        let written = writeln!(file, "{row}").and_then(|()| file.flush());
        written.map_err(|e| self.io(e))
    }

    fn on_train_end(&mut self, _ctx: &mut Context<'_>) -> Result<()> {
        self.file = None;
        Ok(())
    }

    fn name(&self) -> &str {
        "CSVLogger"
    }
}
