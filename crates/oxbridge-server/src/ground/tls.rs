//! TLS for the TCP bridges: the certificate and key loaded once, and one
//! crypto provider for rustls.

use std::io;
use std::path::PathBuf;

use crate::ground::config::TlsFiles;
use crate::ground::error::StartError;

/// Reads the certificate and key, so that a bad file stops the start.
pub fn load_tls(files: &TlsFiles) -> Result<(Vec<u8>, Vec<u8>), StartError> {
    let read = |path: &PathBuf, what: &str| {
        std::fs::read(path).map_err(|e| {
            StartError::Io(
                format!("cannot read the TLS {what} {}: {e}", path.display()),
                e.kind(),
            )
        })
    };
    // One crypto provider for rustls, chosen here rather than by features.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok((read(&files.cert, "certificate")?, read(&files.key, "key")?))
}

/// A certificate or key that TLS refuses, as a reason not to start.
pub fn tls_error(e: impl std::fmt::Display) -> StartError {
    StartError::Io(
        format!("invalid TLS certificate or key: {e}"),
        io::ErrorKind::InvalidData,
    )
}
