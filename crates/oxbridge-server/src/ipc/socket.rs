//! The IPC socket on disk: a private directory, a 0600 socket, a stale file
//! replaced, and the file removed at shutdown.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use crate::ground::error::StartError;

/// Binds the socket: a private directory, a 0600 socket, a stale file from a
/// crashed server replaced, a live server's socket left alone.
///
/// # Errors
/// [`StartError::SocketInUse`] when a server answers on `path`, or the I/O error.
pub fn bind(path: &Path, private_dir: bool) -> Result<UnixListener, StartError> {
    let io_err = |e: io::Error| StartError::Io(format!("{}: {e}", path.display()), e.kind());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if private_dir {
            ensure_private_dir(dir)?;
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(StartError::SocketInUse(path.to_path_buf()));
            }
            tracing::info!(path = %path.display(), "replacing a stale socket");
            std::fs::remove_file(path).map_err(io_err)?;
        }
        Ok(_) => {
            return Err(StartError::Io(
                format!(
                    "{} exists and is not a socket; not touching it",
                    path.display()
                ),
                io::ErrorKind::AlreadyExists,
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    let listener = UnixListener::bind(path).map_err(io_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io_err)?;
    Ok(listener)
}

/// Creates `dir` as 0700, or checks that an existing one is ours and private.
fn ensure_private_dir(dir: &Path) -> Result<(), StartError> {
    let io_err = |e: io::Error| StartError::Io(format!("{}: {e}", dir.display()), e.kind());
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(e)),
    }
    let meta = std::fs::symlink_metadata(dir).map_err(io_err)?;
    let uid = rustix::process::getuid().as_raw();
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(StartError::Io(
            format!(
                "{} must be a directory owned by uid {uid} with mode 0700 (found mode {:o}, uid {})",
                dir.display(),
                meta.mode() & 0o7777,
                meta.uid()
            ),
            io::ErrorKind::PermissionDenied,
        ));
    }
    Ok(())
}

/// Removes the socket file at shutdown, if it is still ours.
pub fn remove_socket(path: &PathBuf) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!(path = %path.display(), error = %e, "could not remove the socket file");
        }
    }
}
