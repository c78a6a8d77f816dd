//! The IDX format of the MNIST files (optionally gzip-compressed).

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// An IDX file of unsigned bytes: its dimensions and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idx {
    /// Dimensions, outermost first (`[count, rows, cols]` for images).
    pub dims: Vec<usize>,
    /// The bytes, row-major.
    pub data: Vec<u8>,
}

/// The most data bytes [`read`] accepts (1 GiB, twice the largest IDX data set in use,
/// EMNIST ByClass); [`read_with_limit`] takes another cap.
pub const MAX_DATA_BYTES: u64 = 1 << 30;

/// Reads an IDX file of unsigned bytes; a `.gz` name is decompressed. Refuses files whose data
/// is larger than [`MAX_DATA_BYTES`].
pub fn read(path: impl AsRef<Path>) -> Result<Idx> {
    read_with_limit(path, MAX_DATA_BYTES)
}

/// Reads an IDX file as [`read`] does, refusing one whose dimensions declare more than
/// `max_data_bytes` of data. The file must be a regular file, and is read in one pass: the
/// header first, then exactly the data it declares, so that time and memory are linear in that
/// (never more than `max_data_bytes`), whatever a compressed file expands to.
pub fn read_with_limit(path: impl AsRef<Path>, max_data_bytes: u64) -> Result<Idx> {
    let path = path.as_ref();
    let (reader, dims, len) = open(path)?;
    read_data(reader, dims, len, max_data_bytes).map_err(|e| e.named(path.display().to_string()))
}

/// Opens the IDX file at `path` (a regular file; a `.gz` name is decompressed) and reads its
/// header: the reader, at the first data byte, the dimensions and the data length they declare.
pub(crate) fn open(path: &Path) -> Result<(Box<dyn Read + Send>, Vec<usize>, usize)> {
    let name = || path.display().to_string();
    let file = crate::files::open_regular(path).map_err(|source| Error::Io { path: name(), source })?;
    let file = std::io::BufReader::new(file);
    let mut reader: Box<dyn Read + Send> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let (dims, len) = read_header(&mut reader).map_err(|e| e.named(name()))?;
    Ok((reader, dims, len))
}

/// Reads IDX bytes from `reader` as [`read_with_limit`] reads a file (errors name the file
/// `<bytes>`); the entry point for fuzzing the reader that files go through.
pub fn read_from(reader: impl Read, max_data_bytes: u64) -> Result<Idx> {
    from_reader(reader, max_data_bytes).map_err(|e| e.named("<bytes>".to_string()))
}

enum Failure {
    Io(std::io::Error),
    Format(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

impl Failure {
    /// The error, naming the file `path`.
    fn named(self, path: String) -> Error {
        match self {
            Failure::Io(source) => Error::Io { path, source },
            Failure::Format(message) => Error::Format { path, message },
        }
    }
}

/// Reads IDX bytes from `r`: the header, then the data it declares if that is at most `limit`
/// bytes, then checks that nothing follows.
fn from_reader(r: impl Read, limit: u64) -> Result<Idx, Failure> {
    let mut r = r;
    let (dims, len) = read_header(&mut r)?;
    read_data(r, dims, len, limit)
}

/// Reads the header at the start of `r`, leaving `r` at the first data byte.
fn read_header(r: &mut impl Read) -> Result<(Vec<usize>, usize), Failure> {
    let mut head = Vec::with_capacity(4 + 4 * 255);
    r.by_ref().take(4).read_to_end(&mut head)?;
    if head.len() == 4 {
        let rank = head[3] as u64;
        r.by_ref().take(4 * rank).read_to_end(&mut head)?;
    }
    header(&head).map_err(Failure::Format)
}

/// Reads the `len` data bytes of dimensions `dims` from `r` if that is at most `limit` bytes,
/// then checks that nothing follows.
fn read_data(r: impl Read, dims: Vec<usize>, len: usize, limit: u64) -> Result<Idx, Failure> {
    if len as u64 > limit {
        return Err(Failure::Format(format!(
            "IDX dimensions {dims:?} declare {len} bytes of data, more than the {limit} this reader accepts"
        )));
    }
    // Never more than was declared plus one byte, to see whether the data goes on.
    let data = crate::files::read_capped(r, len as u64)?.ok_or_else(|| {
        Failure::Format(format!(
            "IDX dimensions {dims:?} need {len} bytes of data, found more"
        ))
    })?;
    if data.len() != len {
        return Err(Failure::Format(format!(
            "IDX dimensions {dims:?} need {len} bytes of data, found {}",
            data.len()
        )));
    }
    Ok(Idx { dims, data })
}

/// The dimensions and data length that the header at the start of `bytes` declares; errs if
/// `bytes` ends inside it.
fn header(bytes: &[u8]) -> Result<(Vec<usize>, usize), String> {
    let header = bytes
        .get(..4)
        .ok_or("file is shorter than the 4-byte IDX magic")?;
    if header[0] != 0 || header[1] != 0 {
        return Err(format!("bad IDX magic {header:02x?}"));
    }
    if header[2] != 0x08 {
        return Err(format!(
            "IDX element type 0x{:02x} is not unsigned bytes (0x08)",
            header[2]
        ));
    }
    let rank = header[3] as usize;
    let dims_bytes = bytes
        .get(4..4 + 4 * rank)
        .ok_or("file ends inside the IDX dimensions")?;
    let dims: Vec<usize> = dims_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let len = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("IDX dimensions overflow")?;
    Ok((dims, len))
}

/// Parses IDX bytes held in memory (errors name the file `<bytes>`); the entry point for
/// fuzzing.
pub fn parse(bytes: &[u8]) -> Result<Idx> {
    let format = |message| Error::Format {
        path: "<bytes>".to_string(),
        message,
    };
    let (dims, len) = header(bytes).map_err(format)?;
    let data = &bytes[4 + 4 * dims.len()..];
    if data.len() != len {
        return Err(format(format!(
            "IDX dimensions {dims:?} need {len} bytes of data, found {}",
            data.len()
        )));
    }
    Ok(Idx {
        dims,
        data: data.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let ok = [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 1, 7, 9];
        assert_eq!(
            parse(&ok).unwrap(),
            Idx {
                dims: vec![2, 1],
                data: vec![7, 9]
            }
        );
        assert!(
            parse(&ok[..13])
                .unwrap_err()
                .to_string()
                .contains("need 2 bytes of data, found 1")
        );
        assert!(
            parse(&[0, 0, 9, 1])
                .unwrap_err()
                .to_string()
                .contains("not unsigned bytes")
        );
        assert!(parse(&[0, 0]).unwrap_err().to_string().contains("shorter"));
    }
}
