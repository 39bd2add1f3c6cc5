//! Files on disk (feature `std`): atomic writes, and errors that name the path.

use std::boxed::Box;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::vec::Vec;

use super::error::FormatError;
use super::load::Resumed;
use super::state::{OptimizerState, RunState};
use super::write::EarlyStop;
use super::{Value, load, load_training, save, save_training, save_with_source};
use crate::layers::Layer;
use crate::net::Infer;
use crate::spec::Describe;

/// Why a file could not be read or written: the file system's error, or the contents'.
/// Both name the path.
#[derive(Debug)]
#[non_exhaustive]
pub enum FileError {
    /// The file system refused.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done: `"read"`, `"write"`, `"rename"`….
        action: &'static str,
        /// The error.
        source: io::Error,
    },
    /// The contents are not what was expected (or could not be encoded).
    Format {
        /// The file.
        path: PathBuf,
        /// The error (boxed, to keep `Result<_, FileError>` small).
        source: Box<FormatError>,
    },
}

impl FileError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Io { path, .. } | FileError::Format { path, .. } => path,
        }
    }

    /// The format error, if the error is about the contents.
    pub fn format_error(&self) -> Option<&FormatError> {
        match self {
            FileError::Format { source, .. } => Some(&**source),
            FileError::Io { .. } => None,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io {
                path,
                action,
                source,
            } => write!(f, "{}: cannot {action}: {source}", path.display()),
            FileError::Format { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Io { source, .. } => Some(source),
            FileError::Format { source, .. } => Some(&**source),
        }
    }
}

fn io_error<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> FileError + 'a {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

pub(crate) fn format_error(path: &Path) -> impl FnOnce(FormatError) -> FileError + '_ {
    move |source| FileError::Format {
        path: path.to_path_buf(),
        source: Box::new(source),
    }
}

/// The temporary files [`write_atomic`] makes for `path` are named
/// `.{name}.{pid}-{n}.tmp` beside it.
fn temporary_prefix(name: &std::ffi::OsStr) -> std::ffi::OsString {
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    prefix
}

/// Removes the temporary files that [`write_atomic`] left for `path` in a process that was
/// killed while writing (on Linux, those whose process no longer runs; elsewhere, those
/// older than an hour). Returns how many it removed. `write_atomic` calls it before each
/// write, so stale files do not pile up.
pub fn remove_stale_temporaries(path: impl AsRef<Path>) -> usize {
    let path = path.as_ref();
    let (Some(name), Some(dir)) = (path.file_name(), path.parent()) else {
        return 0;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = temporary_prefix(name);
    let prefix = prefix.to_string_lossy();
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        let Some(rest) = file
            .strip_prefix(&*prefix)
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !running(pid, &entry) {
            removed += usize::from(fs::remove_file(entry.path()).is_ok());
        }
    }
    removed
}

/// Whether process `pid`, which made the temporary file `entry`, may still be writing it.
fn running(pid: u32, entry: &fs::DirEntry) -> bool {
    if cfg!(target_os = "linux") {
        return Path::new("/proc").join(std::format!("{pid}")).exists();
    }
    let age = entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok());
    age.is_none_or(|a| a.as_secs() < 3600)
}

/// Writes `bytes` to `path` so that the path holds either its old contents or all of the
/// new ones, never a part: the bytes go to a temporary file in the same directory, are
/// flushed to the disk, and the temporary file is renamed over `path`. Temporary files
/// that a killed run left for `path` are removed first ([`remove_stale_temporaries`]).
///
/// # Errors
/// [`FileError::Io`]; the temporary file is then removed.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<(), FileError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let path = path.as_ref();
    let name = path.file_name().ok_or_else(|| FileError::Io {
        path: path.to_path_buf(),
        action: "write",
        source: io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
    })?;
    remove_stale_temporaries(path);
    let mut tmp_name = temporary_prefix(name);
    tmp_name.push(std::format!(
        "{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut file = fs::File::create(&tmp).map_err(io_error(&tmp, "create"))?;
        file.write_all(bytes).map_err(io_error(&tmp, "write"))?;
        file.sync_all().map_err(io_error(&tmp, "flush"))?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_error(path, "rename the temporary file to"))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable where the platform allows it; a failure here leaves
    // a complete file either way.
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Reads the whole file at `path`.
///
/// # Errors
/// [`FileError::Io`].
pub fn read(path: impl AsRef<Path>) -> Result<Vec<u8>, FileError> {
    let path = path.as_ref();
    fs::read(path).map_err(io_error(path, "read"))
}

/// Saves the network `net`, float or int8, to `path` ([`save`], [`write_atomic`]).
///
/// # Errors
/// [`FileError::Io`], or [`FileError::Format`] if the network cannot be encoded.
pub fn save_file<N: Infer + Describe>(path: impl AsRef<Path>, net: &N) -> Result<(), FileError> {
    let path = path.as_ref();
    let bytes = save(net).map_err(format_error(path))?;
    write_atomic(path, &bytes)
}

/// Loads the network stored at `path` into `net` ([`load`]); on error `net` is unchanged.
///
/// # Errors
/// [`FileError::Io`], or [`FileError::Format`] with the reason the file was refused.
pub fn load_file<N: Infer + Describe>(
    path: impl AsRef<Path>,
    net: &mut N,
) -> Result<(), FileError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    load(&bytes, net).map_err(format_error(path))
}

/// Saves a float network and the int8 network made from it as a pair that stays together:
/// the int8 file records the float file's checksum
/// ([`save_with_source`](super::save_with_source), checked by
/// [`check_source`](super::check_source)), and the old int8 file is removed before the new
/// float file replaces the old one, so a run killed at any moment leaves either the old
/// pair, or a float file without an int8 file, or the new pair — never a new float file
/// beside an old int8 file. Returns the two files' bytes.
///
/// # Errors
/// [`FileError::Format`] if a network cannot be encoded (nothing is written), or
/// [`FileError::Io`].
pub fn save_pair<F: Infer + Describe, Q: Infer + Describe>(
    float_path: impl AsRef<Path>,
    float: &F,
    int8_path: impl AsRef<Path>,
    int8: &Q,
) -> Result<(Vec<u8>, Vec<u8>), FileError> {
    let (float_path, int8_path) = (float_path.as_ref(), int8_path.as_ref());
    let float_bytes = save(float).map_err(format_error(float_path))?;
    let digest = super::File::parse(&float_bytes)
        .map_err(format_error(float_path))?
        .checksum();
    let int8_bytes = save_with_source(int8, digest).map_err(format_error(int8_path))?;
    match fs::remove_file(int8_path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(int8_path, "remove the old int8 file")(e)),
    }
    write_atomic(float_path, &float_bytes)?;
    write_atomic(int8_path, &int8_bytes)?;
    Ok((float_bytes, int8_bytes))
}

/// Saves a training checkpoint to `path` ([`save_training`], [`write_atomic`]).
///
/// # Errors
/// [`FileError::Io`], or [`FileError::Format`] if the state cannot be encoded.
pub fn save_training_file<L: Layer, O: OptimizerState<L::Grad>>(
    path: impl AsRef<Path>,
    net: &L,
    opt: &O,
    run: &RunState,
    stop: Option<&EarlyStop<'_, L>>,
    extra: &[(&str, Value)],
) -> Result<(), FileError> {
    let path = path.as_ref();
    let bytes = save_training(net, opt, run, stop, extra).map_err(format_error(path))?;
    write_atomic(path, &bytes)
}

/// Loads the training checkpoint at `path` into `net`, `opt` and, if it has the
/// early-stopping best weights, `best` ([`load_training`]); on error nothing changes. To
/// read the free-form scalars too, [`read`] the bytes and use [`File`](super::File).
///
/// # Errors
/// [`FileError::Io`], or [`FileError::Format`] with the reason the file was refused.
pub fn load_training_file<L: Layer, O: OptimizerState<L::Grad>>(
    path: impl AsRef<Path>,
    net: &mut L,
    opt: &mut O,
    best: Option<&mut L>,
) -> Result<Resumed, FileError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    load_training(&bytes, net, opt, best).map_err(format_error(path))
}
