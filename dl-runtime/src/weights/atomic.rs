//! Atomic file replacement: write a temporary file beside the target, flush it to disk, rename
//! it over the target, then flush the directory. A crash at any point leaves either the old file
//! or the new one, never a mix; a failed write removes its temporary file.
//!
//! A crash (or `kill -9`) cannot remove its temporary file, so each save first removes the
//! temporary files that crashed saves to the same target left. Every save writes its own
//! temporary file, `.name.<pid>.<n>.tmp` (created exclusively, so never shared), and holds an
//! exclusive lock on it until the rename; a leftover is one that nobody holds locked, which the
//! system guarantees of a crashed process's files. Concurrent saves to one path thus never touch
//! each other's temporary file, and the last rename wins, as with any two writers. Where the
//! file system cannot lock, nothing is removed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Replaces `path` with `bytes` atomically.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Replaces `path` with what `write` writes, atomically. If `write` (or anything after it)
/// fails, the target is untouched and the temporary file is removed.
pub(crate) fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Before the new temporary file, so that a full disk gets the leftovers' space back first.
    remove_stale_temps(dir, name);
    let (tmp, mut file) = create_temp(dir, name)?;
    let result = (|| {
        write(&mut file)?;
        file.flush()?;
        file.sync_all()?;
        // Windows cannot rename a file that is open; elsewhere the file stays open, and locked,
        // through the rename, so that no other save takes it for a leftover before.
        #[cfg(not(unix))]
        drop(file);
        let renamed = fs::rename(&tmp, path);
        #[cfg(unix)]
        drop(file);
        renamed
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// The name of a temporary file of target `name`: `.name.<pid>.<n>.tmp`, recognisable after a
/// crash.
fn temp_name(name: &std::ffi::OsStr, pid: u32, n: u64) -> std::ffi::OsString {
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{pid}.{n}.tmp"));
    tmp_name
}

/// Whether `entry` is a temporary file of target `name`, by its name alone.
fn is_temp_of(entry: &std::ffi::OsStr, name: &std::ffi::OsStr) -> bool {
    let Some(rest) = entry
        .as_encoded_bytes()
        .strip_prefix(b".")
        .and_then(|r| r.strip_prefix(name.as_encoded_bytes()))
        .and_then(|r| r.strip_prefix(b"."))
        .and_then(|r| r.strip_suffix(b".tmp"))
    else {
        return false;
    };
    let mut parts = rest.split(|&b| b == b'.');
    let number = |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    number(parts.next()) && number(parts.next()) && parts.next().is_none()
}

/// Removes the temporary files of target `name` in `dir` that no save holds: those of crashed
/// saves. Best effort: a file that cannot be opened, locked or removed is left.
fn remove_stale_temps(dir: &Path, name: &std::ffi::OsStr) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !is_temp_of(&entry.file_name(), name) {
            continue;
        }
        let path = entry.path();
        // Neither a link nor a FIFO that someone put there under that name is opened.
        let Ok(file) = crate::files::open_regular_no_follow(&path) else {
            continue;
        };
        // A save in progress holds its file locked until it renames it. The lock taken here
        // also stops a save whose file this is from starting to write into it (`create_temp`).
        if file.try_lock().is_ok() {
            let _ = fs::remove_file(&path);
        }
    }
}

/// Creates `.name.<pid>.<n>.tmp` beside the target and locks it.
fn create_temp(dir: &Path, name: &std::ffi::OsStr) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut tries = 0;
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(temp_name(name, std::process::id(), n));
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => {
                // Another save may have taken the file for a leftover between its creation and
                // this lock, and removed it; the name still being there means it did not (a
                // name is created once). Where locks are unsupported, the file is used unlocked
                // and nobody removes it.
                if f.lock().is_err() || fs::symlink_metadata(&tmp).is_ok() {
                    return Ok((tmp, f));
                }
                tries += 1;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 100 => tries += 1,
            Err(e) => return Err(e),
        }
        if tries >= 100 {
            return Err(io::Error::other(
                "could not create a temporary file beside the target",
            ));
        }
    }
}

/// Makes the rename durable: on Unix a directory's entries reach the disk when the directory is
/// synced. Elsewhere there is nothing portable to do.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dl-atomic-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = scratch("fail");
        let target = dir.join("model.safetensors");
        write_atomic(&target, b"old contents").unwrap();
        // A write that puts half of the new file down and then fails, as a full disk would.
        let err = write_atomic_with(&target, |f| {
            f.write_all(b"new conte")?;
            f.flush()?;
            Err(io::Error::other("disk full (simulated)"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full (simulated)");
        assert_eq!(fs::read(&target).unwrap(), b"old contents");
        assert_eq!(entries(&dir), ["model.safetensors"]);
        // A successful write replaces it.
        write_atomic(&target, b"new contents").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new contents");
        assert_eq!(entries(&dir), ["model.safetensors"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn temporary_names_are_recognised_exactly() {
        let name = std::ffi::OsStr::new("model.safetensors");
        assert!(is_temp_of(&temp_name(name, 12, 3), name));
        assert!(is_temp_of(
            std::ffi::OsStr::new(".model.safetensors.12.3.tmp"),
            name
        ));
        for other in [
            ".model.safetensors.12.tmp",
            ".model.safetensors.a.3.tmp",
            ".model.safetensors..3.tmp",
            ".model.safetensors.12.3.4.tmp",
            ".model.safetensors.12.3.tmp.x",
            "model.safetensors.12.3.tmp",
            ".model.safetensors2.12.3.tmp",
            ".other.12.3.tmp",
        ] {
            assert!(!is_temp_of(std::ffi::OsStr::new(other), name), "{other}");
        }
    }

    #[test]
    fn a_stale_temporary_is_removed_and_a_locked_one_kept() {
        let dir = scratch("stale");
        let target = dir.join("model.safetensors");
        let stale = dir.join(".model.safetensors.7.0.tmp");
        let busy = dir.join(".model.safetensors.7.1.tmp");
        fs::write(&stale, b"half").unwrap();
        let held = File::create(&busy).unwrap();
        held.lock().unwrap();
        write_atomic(&target, b"new").unwrap();
        assert_eq!(entries(&dir), [".model.safetensors.7.1.tmp", "model.safetensors"]);
        drop(held);
        write_atomic(&target, b"newer").unwrap();
        assert_eq!(entries(&dir), ["model.safetensors"]);
        assert_eq!(fs::read(&target).unwrap(), b"newer");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_path_without_a_file_name_or_directory_is_an_error() {
        assert!(write_atomic(Path::new("/"), b"x").is_err());
        let dir = scratch("nodir");
        let err = write_atomic(&dir.join("missing/sub/file"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        fs::remove_dir_all(&dir).unwrap();
    }
}
