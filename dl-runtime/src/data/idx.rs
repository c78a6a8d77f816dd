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

/// Reads an IDX file of unsigned bytes; a `.gz` name is decompressed.
pub fn read(path: impl AsRef<Path>) -> Result<Idx> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let io = |source| Error::Io {
        path: name.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(file)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    } else {
        std::io::BufReader::new(file)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    }
    parse(&bytes).map_err(|message| Error::Format { path: name, message })
}

/// Parses IDX bytes.
pub fn parse(bytes: &[u8]) -> Result<Idx, String> {
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
    let data = &bytes[4 + 4 * rank..];
    if data.len() != len {
        return Err(format!(
            "IDX dimensions {dims:?} need {len} bytes of data, found {}",
            data.len()
        ));
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
                .contains("need 2 bytes of data, found 1")
        );
        assert!(parse(&[0, 0, 9, 1]).unwrap_err().contains("not unsigned bytes"));
        assert!(parse(&[0, 0]).unwrap_err().contains("shorter"));
    }
}
