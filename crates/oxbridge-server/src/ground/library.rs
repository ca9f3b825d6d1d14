//! The libraries a process serves, chosen once by the first server it starts,
//! and how a call's name finds its function among them.

use oxbridge_core::export::{Function, Library};
use oxbridge_core::{CoreError, ErrorKind};

use crate::ground::error::StartError;

/// A call's arguments, decoded: inline up to four, without an allocation.
pub type Args = smallvec::SmallVec<[oxbridge_core::export::Value; 4]>;

/// The libraries this process serves, chosen by the first [`start`].
static SERVED: std::sync::OnceLock<&'static [&'static Library]> = std::sync::OnceLock::new();

/// The calculator alone: what a process serves until a server starts.
static CALCULATOR_ONLY: [&Library; 1] = [&oxbridge_core::CALCULATOR];

/// The libraries this process serves on every bridge, the first one's
/// functions also under their bare names (see [`Config::libraries`]).
#[must_use]
pub fn libraries() -> &'static [&'static Library] {
    SERVED.get().copied().unwrap_or(&CALCULATOR_ONLY)
}

/// The first library served: its functions answer to their bare names
/// (`/add`, the IPC command `add`), as a server of one library always did.
#[must_use]
pub fn library() -> &'static Library {
    libraries()[0]
}

/// The served library called `name`.
#[must_use]
pub fn hosted(name: &str) -> Option<&'static Library> {
    libraries().iter().copied().find(|l| l.name == name)
}

/// The error for a library this server does not serve, naming those it does.
#[must_use]
pub fn not_hosted(name: &str) -> CoreError {
    let names: Vec<&str> = libraries().iter().map(|l| l.name).collect();
    CoreError::new(
        ErrorKind::NotFound,
        format!(
            "this server does not host the library {name:?} (it hosts {})",
            names.join(", ")
        ),
    )
}

/// The function a call names: `library.function`, or a bare name of the
/// first library's.
///
/// # Errors
/// A library this server does not host ([`not_hosted`]), or a function its
/// library does not export ([`CoreError::UnknownOperation`]).
pub fn resolve(name: &str) -> Result<(&'static Library, &'static Function), CoreError> {
    match name.split_once('.') {
        Some((library, function)) => resolve_in(Some(library), function),
        None => resolve_in(None, name),
    }
}

/// The function `function` of the served library `library`, or of the
/// first library without one.
///
/// # Errors
/// As [`resolve`].
pub fn resolve_in(
    library: Option<&str>,
    function: &str,
) -> Result<(&'static Library, &'static Function), CoreError> {
    let library = match library {
        Some(name) => hosted(name).ok_or_else(|| not_hosted(name))?,
        None => self::library(),
    };
    Ok((library, library.lookup(function)?))
}

/// Chooses the libraries this process serves: one set for the process.
pub(crate) fn serve_libraries(chosen: &[&'static Library]) -> Result<(), StartError> {
    let served = *SERVED.get_or_init(|| Box::leak(chosen.to_vec().into_boxed_slice()));
    let same = served.len() == chosen.len()
        && served.iter().zip(chosen).all(|(a, b)| std::ptr::eq(*a, *b));
    if same {
        Ok(())
    } else {
        let names = |set: &[&Library]| set.iter().map(|l| l.name).collect::<Vec<_>>().join(", ");
        Err(StartError::Io(
            format!(
                "cannot serve {}: this process already serves {}",
                names(chosen),
                names(served)
            ),
            std::io::ErrorKind::AlreadyExists,
        ))
    }
}
