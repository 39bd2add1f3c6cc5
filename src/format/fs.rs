//! Files on disk (feature `std`): atomic writes, and errors that name the path.

use std::boxed::Box;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::vec::Vec;

use super::error::FormatError;
use super::state::{OptimizerState, RunState};
use super::{Value, load_params, load_training, save_params, save_training};
use crate::layers::Layer;

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

/// Writes `bytes` to `path` so that the path holds either its old contents or all of the
/// new ones, never a part: the bytes go to a temporary file in the same directory, are
/// flushed to the disk, and the temporary file is renamed over `path`.
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
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(std::format!(
        ".{}-{}.tmp",
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

/// Saves the parameters and buffers of `net` to `path` ([`save_params`], [`write_atomic`]).
///
/// # Errors
/// [`FileError::Io`], or [`FileError::Format`] if the network cannot be encoded.
pub fn save_params_file<L: Layer>(path: impl AsRef<Path>, net: &L) -> Result<(), FileError> {
    let path = path.as_ref();
    let bytes = save_params(net).map_err(format_error(path))?;
    write_atomic(path, &bytes)
}

/// Loads the parameters and buffers stored at `path` into `net` ([`load_params`]); on
/// error `net` is unchanged.
///
/// # Errors
/// [`FileError::Io`], or [`FileError::Format`] with the reason the file was refused.
pub fn load_params_file<L: Layer>(path: impl AsRef<Path>, net: &mut L) -> Result<(), FileError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    load_params(&bytes, net).map_err(format_error(path))
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
    extra: &[(&str, Value)],
) -> Result<(), FileError> {
    let path = path.as_ref();
    let bytes = save_training(net, opt, run, extra).map_err(format_error(path))?;
    write_atomic(path, &bytes)
}

/// Loads the training checkpoint at `path` into `net` and `opt` ([`load_training`]); on
/// error both are unchanged. To read the free-form scalars too, [`read`] the bytes and
/// use [`File`](super::File).
///
/// # Errors
/// [`FileError::Io`], or [`FileError::Format`] with the reason the file was refused.
pub fn load_training_file<L: Layer, O: OptimizerState<L::Grad>>(
    path: impl AsRef<Path>,
    net: &mut L,
    opt: &mut O,
) -> Result<RunState, FileError> {
    let path = path.as_ref();
    let bytes = read(path)?;
    load_training(&bytes, net, opt).map_err(format_error(path))
}
