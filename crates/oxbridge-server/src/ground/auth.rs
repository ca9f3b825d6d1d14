//! The bearer token, checked in one place for every bridge that carries
//! headers (HTTP and gRPC; IPC checks the peer's uid instead).

use crate::ground::config::Access;
use crate::ground::error::CallError;

/// What a caller without the token is told, on every bridge.
pub const DENIED: &str = "missing or wrong bearer token";

/// Lets a call through when `authorization` (the `Authorization` header's
/// value) carries `access`'s token, or when no token is set. Compared in
/// constant time.
///
/// # Errors
/// [`CallError::PermissionDenied`] naming what is missing.
pub fn check(access: &Access, authorization: Option<&[u8]>) -> Result<(), CallError> {
    let Some(token) = &access.token else {
        return Ok(());
    };
    let given = authorization
        .and_then(|h| h.strip_prefix(b"Bearer "))
        .unwrap_or_default();
    if constant_time_eq(given, token.as_bytes()) {
        Ok(())
    } else {
        Err(CallError::PermissionDenied(DENIED.into()))
    }
}

/// Equality whose time depends only on the lengths, not on where the bytes
/// differ, so a token cannot be guessed byte by byte from response times.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_check() {
        let open = Access::default();
        assert!(check(&open, None).is_ok());
        let guarded = Access {
            token: Some("s3cret".into()),
            ..Access::default()
        };
        assert!(check(&guarded, Some(b"Bearer s3cret")).is_ok());
        for wrong in [
            None,
            Some(&b"Bearer s3cre"[..]),
            Some(b"Bearer s3cretX"),
            Some(b"s3cret"),
            Some(b"Bearer "),
        ] {
            assert!(
                matches!(check(&guarded, wrong), Err(CallError::PermissionDenied(m)) if m == DENIED),
                "{wrong:?}"
            );
        }
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"a", b""));
    }
}
