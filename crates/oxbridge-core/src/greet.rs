//! The articles' greeter.

use crate::calculator::greet;
use crate::error::CoreError;

/// [`greet`] on raw bytes from a caller that cannot promise UTF-8 (the C ABI).
///
/// # Errors
/// [`CoreError::InvalidUtf8`] naming the first argument that is not UTF-8.
pub fn greet_bytes(greeting: &[u8], name: &[u8]) -> Result<String, CoreError> {
    let greeting =
        std::str::from_utf8(greeting).map_err(|_| CoreError::InvalidUtf8 { arg: "greeting" })?;
    let name = std::str::from_utf8(name).map_err(|_| CoreError::InvalidUtf8 { arg: "name" })?;
    Ok(greet(greeting, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_like_python_fstring() {
        assert_eq!(greet("Welcome", "traveler"), "Welcome, traveler");
        assert_eq!(greet("", ""), ", ");
        assert_eq!(greet("a\0b", "😀"), "a\0b, 😀");
    }

    #[test]
    fn rejects_invalid_utf8_naming_the_argument() {
        assert_eq!(
            greet_bytes(b"hi", b"\xff"),
            Err(CoreError::InvalidUtf8 { arg: "name" })
        );
        assert_eq!(
            greet_bytes(b"\xc3", b"ok"),
            Err(CoreError::InvalidUtf8 { arg: "greeting" })
        );
        assert_eq!(greet_bytes(b"hi", b"there").unwrap(), "hi, there");
    }
}
