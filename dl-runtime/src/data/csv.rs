//! Tabular data from CSV files: one sample per row, a label column and feature columns, into the
//! samples a network takes (`SVector<f32, N>`) and class indices or regression targets.
//!
//! ```no_run
//! use dl::data::csv::{self, Column, Options, Table};
//!
//! // Penguins: the species is the label, four measurements the features; rows with a missing
//! // measurement (`NA`) are skipped, and reported.
//! let table: Table<4, usize> = csv::read(
//!     "penguins.csv",
//!     &Options {
//!         label: Column::Name("species"),
//!         features: Some(&[
//!             Column::Name("bill_length_mm"),
//!             Column::Name("bill_depth_mm"),
//!             Column::Name("flipper_length_mm"),
//!             Column::Name("body_mass_g"),
//!         ]),
//!         missing: csv::Missing::SkipRow,
//!         ..Options::default()
//!     },
//! )?;
//! println!("classes {:?}, {} rows skipped", table.classes, table.skipped.len());
//! # Ok::<(), dl::Error>(())
//! ```
//!
//! # What is read, and what is refused
//!
//! Fields are separated by [`Options::delimiter`] and may be quoted (RFC 4180, the `csv`
//! crate's parser); spaces around a field are trimmed. A feature is a decimal number finite in
//! `f32` (`1.5`, `-2e3`); a cell that is one of [`Options::na_values`] (by default empty, `NA`,
//! `N/A`, `NaN`, `nan`, `null`, `NULL`, as pandas reads them) is missing, and a row with a
//! missing feature or label is an error or skipped, as [`Options::missing`] says. Every error is
//! an [`Error::Format`] whose message names the file's line and the column (by its header name
//! where there is a header): a cell that is not a number (or is infinite), a missing cell, a row
//! with another number of fields than the first (a ragged row), a class not in
//! [`Options::classes`], invalid UTF-8. The number of feature columns must be the `N` of the
//! samples asked for: otherwise the error says both. Nothing panics.
//!
//! Only regular files are read (not FIFOs or devices), of at most [`Options::max_bytes`]; time
//! and memory are linear in the file's size.

use std::collections::BTreeSet;
use std::path::Path;

use nalgebra::SVector;

use crate::error::{Error, Result};

/// The largest file [`read`] accepts by default (256 MiB: tens of millions of cells).
pub const MAX_BYTES: u64 = 256 << 20;

/// The cells read as missing by default: pandas's most common spellings of "not available".
pub const NA_VALUES: &[&str] = &["", "NA", "N/A", "NaN", "nan", "null", "NULL"];

/// A column: by its header name, by its 0-based position, or the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column<'a> {
    /// The column whose header cell is this name (needs [`Options::header`]).
    Name(&'a str),
    /// The column at this 0-based position.
    Index(usize),
    /// The last column of the file.
    Last,
}

impl<'a> From<&'a str> for Column<'a> {
    fn from(name: &'a str) -> Self {
        Column::Name(name)
    }
}

impl From<usize> for Column<'_> {
    fn from(index: usize) -> Self {
        Column::Index(index)
    }
}

/// What a row with a missing cell (one of [`Options::na_values`]) among the label and features
/// does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missing {
    /// Reading fails, naming the line and column.
    #[default]
    Error,
    /// The row is left out; its line is listed in [`Table::skipped`].
    SkipRow,
}

/// How [`read`] reads a file.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    /// The label's column (the last one by default).
    pub label: Column<'a>,
    /// The feature columns, in the order the samples hold them; `None` (the default): every
    /// column but the label, in file order.
    pub features: Option<&'a [Column<'a>]>,
    /// Whether the first row holds the columns' names (default `true`).
    pub header: bool,
    /// The field separator (default `b','`; `b'\t'` for TSV, `b';'` for European CSV).
    pub delimiter: u8,
    /// The cells that mean "missing" (default [`NA_VALUES`]).
    pub na_values: &'a [&'a str],
    /// What a row with a missing cell does (default [`Missing::Error`]).
    pub missing: Missing,
    /// For class labels: the classes in index order. `None` (the default): the distinct labels
    /// of the file, sorted (as scikit-learn's `LabelEncoder`); `Some`: a label outside the list
    /// is an error naming its line (read a test file with the training file's classes).
    pub classes: Option<&'a [&'a str]>,
    /// The largest file read, in bytes (default [`MAX_BYTES`]).
    pub max_bytes: u64,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            label: Column::Last,
            features: None,
            header: true,
            delimiter: b',',
            na_values: NA_VALUES,
            missing: Missing::Error,
            classes: None,
            max_bytes: MAX_BYTES,
        }
    }
}

/// A file's samples and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Table<const N: usize, Y> {
    /// One sample per row read.
    pub x: Vec<SVector<f32, N>>,
    /// The row's label: a class index (`usize`, into [`Table::classes`]) or a value (`f32`).
    pub y: Vec<Y>,
    /// For class labels, each class's name by index; empty for values.
    pub classes: Vec<String>,
    /// The features' names (their header cells, or their 0-based positions without a header), in
    /// sample order.
    pub feature_names: Vec<String>,
    /// The label column's name.
    pub label_name: String,
    /// The 1-based lines of the rows left out for a missing cell ([`Missing::SkipRow`]).
    pub skipped: Vec<u64>,
}

/// A label type [`read`] can produce: class indices (`usize`) or regression targets (`f32`).
pub trait Label: Sized + sealed::Sealed {
    #[doc(hidden)]
    const CLASSES: bool;
    #[doc(hidden)]
    fn from_value(v: f32) -> Self;
    #[doc(hidden)]
    fn from_class(c: usize) -> Self;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for usize {}
    impl Sealed for f32 {}
}

impl Label for usize {
    const CLASSES: bool = true;
    fn from_value(_: f32) -> Self {
        unreachable!("class labels are never parsed as numbers")
    }
    fn from_class(c: usize) -> Self {
        c
    }
}

impl Label for f32 {
    const CLASSES: bool = false;
    fn from_value(v: f32) -> Self {
        v
    }
    fn from_class(_: usize) -> Self {
        unreachable!("values are never classes")
    }
}

/// Reads a CSV file into samples of `N` features and labels, as `options` say: class indices
/// with `Y = usize`, values with `Y = f32`. See the [module docs](self) for what is refused.
pub fn read<const N: usize, Y: Label>(path: impl AsRef<Path>, options: &Options<'_>) -> Result<Table<N, Y>> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let io = |source| Error::Io {
        path: name.clone(),
        source,
    };
    let file = crate::files::open_regular(path).map_err(io)?;
    let bytes = crate::files::read_capped(file, options.max_bytes)
        .map_err(io)?
        .ok_or_else(|| Error::Format {
            path: name.clone(),
            message: format!(
                "larger than {} bytes (Options::max_bytes); raise the cap to read it",
                options.max_bytes
            ),
        })?;
    read_from(&bytes, options).map_err(|message| Error::Format { path: name, message })
}

/// Reads CSV bytes as [`read`] reads a file (errors name the file `<bytes>`).
pub fn read_bytes<const N: usize, Y: Label>(bytes: &[u8], options: &Options<'_>) -> Result<Table<N, Y>> {
    read_from(bytes, options).map_err(|message| Error::Format {
        path: "<bytes>".into(),
        message,
    })
}

/// Where the label and features are, resolved against the first row.
struct Layout {
    label: usize,
    features: Vec<usize>,
    /// Every column's name.
    names: Vec<String>,
    fields: usize,
}

fn read_from<const N: usize, Y: Label>(bytes: &[u8], options: &Options<'_>) -> Result<Table<N, Y>, String> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(options.delimiter)
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(bytes);
    let mut records = reader.records();
    let mut record = ::csv::StringRecord::new();
    let mut next = |record: &mut ::csv::StringRecord| -> Result<bool, String> {
        match records.next() {
            None => Ok(false),
            Some(Ok(r)) => {
                *record = r;
                Ok(true)
            }
            Some(Err(e)) => Err(csv_error(&e)),
        }
    };
    if !next(&mut record)? {
        return Err("the file is empty: no rows".into());
    }
    let first_line = line_of(&record);
    let header = options
        .header
        .then(|| record.iter().map(str::to_string).collect::<Vec<_>>());
    let layout = layout(header, record.len(), options, N)?;
    if options.header && !next(&mut record)? {
        return Err(format!("no rows after the header (line {first_line})"));
    }
    let na: BTreeSet<&str> = options.na_values.iter().copied().collect();
    let mut table = Table {
        x: Vec::new(),
        y: Vec::new(),
        classes: Vec::new(),
        feature_names: layout.features.iter().map(|&c| layout.names[c].clone()).collect(),
        label_name: layout.names[layout.label].clone(),
        skipped: Vec::new(),
    };
    // Class labels as read, mapped to indices once all are known (unless given).
    let mut labels: Vec<String> = Vec::new();
    let mut features = [0.0f32; N];
    loop {
        let line = line_of(&record);
        if record.len() != layout.fields {
            return Err(format!(
                "line {line} has {} fields, but the first row has {}: a ragged row (a missing \
                 delimiter, or an unquoted delimiter inside a field?)",
                record.len(),
                layout.fields
            ));
        }
        let at = |column: usize| match options.header {
            true => format!("line {line}, column `{}`", layout.names[column]),
            false => format!("line {line}, column {column}"),
        };
        let missing = std::iter::once(layout.label)
            .chain(layout.features.iter().copied())
            .find(|&c| na.contains(&record[c]));
        if let Some(c) = missing {
            match options.missing {
                Missing::SkipRow => {
                    table.skipped.push(line);
                    if !next(&mut record)? {
                        break;
                    }
                    continue;
                }
                Missing::Error => {
                    return Err(format!(
                        "{}: missing value `{}` (set Options::missing to Missing::SkipRow to leave \
                         such rows out)",
                        at(c),
                        &record[c]
                    ));
                }
            }
        }
        for (f, &c) in features.iter_mut().zip(&layout.features) {
            *f = number(&record[c]).ok_or_else(|| {
                format!(
                    "{}: `{}` is not a number finite in f32",
                    at(c),
                    shorten(&record[c])
                )
            })?;
        }
        table.x.push(SVector::from(features));
        let label = &record[layout.label];
        if Y::CLASSES {
            if let Some(classes) = options.classes {
                let index = classes.iter().position(|c| *c == label).ok_or_else(|| {
                    format!(
                        "{}: unknown class `{}`; Options::classes has {:?}",
                        at(layout.label),
                        shorten(label),
                        classes
                    )
                })?;
                table.y.push(Y::from_class(index));
            } else {
                labels.push(label.to_string());
            }
        } else {
            let v = number(label).ok_or_else(|| {
                format!(
                    "{}: label `{}` is not a number finite in f32",
                    at(layout.label),
                    shorten(label)
                )
            })?;
            table.y.push(Y::from_value(v));
        }
        if !next(&mut record)? {
            break;
        }
    }
    if table.x.is_empty() {
        return Err(format!(
            "no rows left: all {} rows have a missing value",
            table.skipped.len()
        ));
    }
    if Y::CLASSES {
        table.classes = match options.classes {
            Some(classes) => classes.iter().map(|c| c.to_string()).collect(),
            None => {
                let distinct: BTreeSet<&str> = labels.iter().map(String::as_str).collect();
                distinct.into_iter().map(str::to_string).collect()
            }
        };
        if options.classes.is_none() {
            table.y = labels
                .iter()
                .map(|l| {
                    let i = table.classes.binary_search(l).expect("every label is a class");
                    Y::from_class(i)
                })
                .collect();
        }
    }
    Ok(table)
}

/// Finds the label and feature columns in a first row of `fields` fields.
fn layout(
    header: Option<Vec<String>>,
    fields: usize,
    options: &Options<'_>,
    n: usize,
) -> Result<Layout, String> {
    let names = match &header {
        Some(h) => h.clone(),
        None => (0..fields).map(|i| format!("{i}")).collect(),
    };
    let find = |column: &Column<'_>, what: &str| -> Result<usize, String> {
        match *column {
            Column::Last => Ok(fields - 1),
            Column::Index(i) if i < fields => Ok(i),
            Column::Index(i) => Err(format!(
                "{what} column {i} is past the file's {fields} columns (indices start at 0)"
            )),
            Column::Name(name) => {
                let Some(h) = &header else {
                    return Err(format!(
                        "{what} column `{name}` is a name, but Options::header is false: give its index"
                    ));
                };
                h.iter()
                    .position(|c| c == name)
                    .ok_or_else(|| format!("{what} column `{name}` is not in the header, which has {h:?}"))
            }
        }
    };
    let label = find(&options.label, "the label")?;
    let features = match options.features {
        Some(columns) => {
            let mut found = Vec::with_capacity(columns.len());
            for c in columns {
                let i = find(c, "a feature")?;
                if i == label {
                    return Err(format!("column `{}` is both the label and a feature", names[i]));
                }
                if found.contains(&i) {
                    return Err(format!("feature column `{}` is listed twice", names[i]));
                }
                found.push(i);
            }
            found
        }
        None => (0..fields).filter(|&i| i != label).collect(),
    };
    if features.len() != n {
        let listed: Vec<&str> = features.iter().map(|&i| names[i].as_str()).collect();
        return Err(format!(
            "the samples take {n} features (SVector<f32, {n}>), but {} feature columns were \
             chosen: {listed:?}",
            features.len()
        ));
    }
    Ok(Layout {
        label,
        features,
        names,
        fields,
    })
}

/// A decimal number finite in `f32`.
fn number(cell: &str) -> Option<f32> {
    // `f32::from_str` also takes `inf`, `NaN` and `infinity`, which are not data.
    cell.parse::<f32>().ok().filter(|v| v.is_finite())
}

fn line_of(record: &::csv::StringRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

/// A cell as an error quotes it: at most 40 characters.
fn shorten(cell: &str) -> String {
    match cell.char_indices().nth(40) {
        Some((at, _)) => format!("{}…", &cell[..at]),
        None => cell.to_string(),
    }
}

fn csv_error(e: &::csv::Error) -> String {
    let line = e.position().map(|p| p.line());
    match (e.kind(), line) {
        (::csv::ErrorKind::Utf8 { err, .. }, Some(line)) => {
            format!("line {line}, field {}: not valid UTF-8", err.field() + 1)
        }
        (_, Some(line)) => format!("line {line}: {e}"),
        (_, None) => e.to_string(),
    }
}

#[cfg(test)]
mod tests;
