//! The one door through which the configuration reads a file: `-f` configuration files,
//! errorfiles and `http-request return` payloads, ACL `-f` pattern files, map files (and, once
//! TLS exists, certificates).
//!
//! Every such file must be a regular file no larger than a bound the caller names. The file is
//! opened non-blocking (so a FIFO without a writer cannot hang the open), checked with `fstat`
//! on the open descriptor (so nothing can be swapped in between a check and the read), and read
//! through `take(limit + 1)`: `/dev/zero`, a growing log or a wrong path never costs more than
//! the bound in memory or time.

use std::fmt;
use std::fs::{File, FileType, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// `-f` configuration files. HAProxy has no bound; the largest configurations seen in practice
/// (thousands of backends) are a few MB, and a file is held in memory with its words while it
/// is checked.
pub const CONFIG_FILE_LIMIT: u64 = 16 << 20;

/// ACL `-f` pattern files and map files. HAProxy has no bound; this one leaves room for a few
/// million addresses or host names (a full GeoIP country map is about 10 MB) while a file named
/// by mistake (a log, a disk image) fails at once instead of filling memory.
pub const LIST_FILE_LIMIT: u64 = 64 << 20;

/// Why a file the configuration names could not be used. `Display` reads after the file's name:
/// "errorfile '/dev/zero' is not a regular file (a character device)".
#[derive(Debug)]
pub enum FileError {
    Missing,
    /// A symbolic link whose target does not exist.
    DanglingLink(PathBuf),
    Directory,
    /// A FIFO, a device or a socket: reading it could block forever or never end.
    NotRegular(&'static str),
    /// Larger than the bound the caller gave, in bytes.
    TooLarge(u64),
    Io(std::io::Error),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Missing => write!(f, "does not exist"),
            FileError::DanglingLink(target) => write!(
                f,
                "is a symbolic link to '{}', which does not exist",
                target.display()
            ),
            FileError::Directory => write!(f, "is a directory"),
            FileError::NotRegular(kind) => write!(f, "is not a regular file ({kind})"),
            FileError::TooLarge(limit) => write!(f, "is larger than {limit} bytes"),
            FileError::Io(e) => write!(f, "cannot be read: {e}"),
        }
    }
}

/// Reads a regular file of at most `limit` bytes.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    let meta = file.metadata().map_err(FileError::Io)?;
    check_type(meta.file_type())?;
    read_at_most(file, meta.len(), limit)
}

/// Reads a regular file of at most `limit` bytes that must be UTF-8 text; `Err` holds the
/// problem, worded to follow the file's name.
pub fn read_text(path: &Path, limit: u64) -> Result<String, String> {
    let bytes = read_bounded(path, limit).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        format!("is not UTF-8 text (line {line})")
    })
}

/// What `path` is when it is not a regular file: `Ok(())` for a regular file (or a link to
/// one), the problem otherwise. For listing a directory without opening its entries.
pub fn check_regular(path: &Path) -> Result<(), FileError> {
    match std::fs::metadata(path) {
        Ok(m) => check_type(m.file_type()),
        Err(e) => Err(open_error(path, e)),
    }
}

fn check_type(t: FileType) -> Result<(), FileError> {
    if t.is_file() {
        Ok(())
    } else if t.is_dir() {
        Err(FileError::Directory)
    } else {
        Err(FileError::NotRegular(kind_name(t)))
    }
}

fn kind_name(t: FileType) -> &'static str {
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "an unusual file type"
    }
}

/// A missing file may be a link pointing nowhere: say so, the link is what the user wrote. A
/// socket cannot be opened at all (ENXIO): say what it is rather than quote the errno.
fn open_error(path: &Path, e: std::io::Error) -> FileError {
    if e.kind() == ErrorKind::NotFound {
        return match std::fs::read_link(path) {
            Ok(target) => FileError::DanglingLink(target),
            Err(_) => FileError::Missing,
        };
    }
    match std::fs::metadata(path).map(|m| check_type(m.file_type())) {
        Ok(Err(kind)) => kind,
        _ => FileError::Io(e),
    }
}

/// `size` is only a capacity hint (files under /proc claim 0, others may grow while read): the
/// bound is enforced on what is actually read.
fn read_at_most(file: File, size: u64, limit: u64) -> Result<Vec<u8>, FileError> {
    let hint = usize::try_from(size.min(limit).saturating_add(1)).unwrap_or(0);
    let mut buf = Vec::with_capacity(hint);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(FileError::Io)?;
    if buf.len() as u64 > limit {
        return Err(FileError::TooLarge(limit));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(path: &str, limit: u64) -> String {
        match read_bounded(Path::new(path), limit) {
            Ok(b) => panic!("{path}: read {} bytes", b.len()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn special_files_are_refused_without_reading() {
        assert_eq!(
            err("/dev/zero", 1 << 30),
            "is not a regular file (a character device)"
        );
        assert_eq!(err("/", 10), "is a directory");
        assert_eq!(err("/nonexistent/x", 10), "does not exist");
    }

    #[test]
    fn the_bound_is_exact() {
        let dir = std::env::temp_dir().join(format!("ringlb-files-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let f = dir.join("ten");
        std::fs::write(&f, b"0123456789").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_bounded(&f, 10).map(|b| b.len()).ok(), Some(10));
        assert!(matches!(read_bounded(&f, 9), Err(FileError::TooLarge(9))));
        let link = dir.join("dangling");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("/nonexistent/target", &link).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            read_bounded(&link, 10).err().map(|e| e.to_string()),
            Some("is a symbolic link to '/nonexistent/target', which does not exist".into())
        );
        std::fs::write(&f, b"ok\n\xff\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_text(&f, 10), Err("is not UTF-8 text (line 2)".into()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
