//! Opening files to read without trusting them. Only regular files are read: opening a FIFO for
//! reading blocks until a writer appears (forever, if none does), and a device such as
//! `/dev/zero` never ends. Reads stop at a cap, so a file cannot exhaust memory by its size.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Opens `path` for reading if it is a regular file (symbolic links are followed), and errs
/// with [`io::ErrorKind::InvalidInput`] naming what it is otherwise.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    // Checked before opening, so that a FIFO is never opened and a device never touched
    // (opening some devices has effects of its own).
    check_regular(&std::fs::metadata(path)?)?;
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // If the path is swapped for a FIFO after the check, the open still returns at once
        // instead of waiting for a writer; on a regular file the flag changes nothing.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    // What was opened is what counts: the path may have changed since the check.
    check_regular(&file.metadata()?)?;
    Ok(file)
}

/// Opens `path` for locking and removal only if it is a regular file itself, not a link to one,
/// and without blocking.
pub(crate) fn open_regular_no_follow(path: &Path) -> io::Result<File> {
    check_regular(&std::fs::symlink_metadata(path)?)?;
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    let file = options.open(path)?;
    check_regular(&file.metadata()?)?;
    Ok(file)
}

fn check_regular(meta: &Metadata) -> io::Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    let kind = file_kind(meta);
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{kind}, not a regular file; refusing to read it"),
    ))
}

fn file_kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    if t.is_symlink() {
        return "a symbolic link";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
    }
    "a special file"
}

/// Reads all of `reader` if it yields at most `limit` bytes, without trusting any size it
/// reports: `Ok(None)` when there is more. Memory is bounded by `limit` (plus the growth of
/// one `Vec`), whatever the source.
pub(crate) fn read_capped(reader: impl Read, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}
