//! The libraries this runtime reaches in process, each in a slot: the
//! extension's own (slot 0, the calculator) and those loaded from their
//! shared objects. A module of a library holds its slot as `_SLOT`, and each
//! of its function objects the slot and the function's index.

use std::sync::{Mutex, OnceLock};

use oxbridge_core::export::{Function, Library};
use pyo3::exceptions::{PyImportError, PyTypeError};
use pyo3::prelude::*;

/// How many libraries a process can reach in process.
pub(crate) const SLOTS: usize = 16;

static LIBRARIES: [OnceLock<&'static Library>; SLOTS] = [const { OnceLock::new() }; SLOTS];

/// Serializes the choice of a slot.
static CHOOSING: Mutex<()> = Mutex::new(());

/// The slot of `library`: the one it has, or the first free one.
///
/// # Errors
/// `ImportError` when every slot is taken by other libraries.
pub(crate) fn slot_of(library: &'static Library) -> PyResult<usize> {
    let _choosing = CHOOSING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for (slot, cell) in LIBRARIES.iter().enumerate() {
        let held = *cell.get_or_init(|| library);
        if std::ptr::eq(held, library) {
            return Ok(slot);
        }
    }
    Err(PyImportError::new_err(format!(
        "cannot load the library {:?}: this process already reaches {SLOTS} libraries",
        library.name
    )))
}

/// The library in `slot`.
#[inline]
pub(crate) fn at(slot: usize) -> Option<&'static Library> {
    LIBRARIES.get(slot)?.get().copied()
}

/// The library of the module `m` (its `_SLOT`).
///
/// # Errors
/// `TypeError` for a module that is no library's.
pub(crate) fn library_of(m: &Bound<'_, PyModule>) -> PyResult<&'static Library> {
    m.getattr("_SLOT")
        .and_then(|slot| slot.extract::<usize>())
        .ok()
        .and_then(at)
        .ok_or_else(|| PyTypeError::new_err("oxbridge: this module holds no library"))
}

/// The number a function object holds: its library's slot and its index.
#[must_use]
pub(crate) fn code(slot: usize, index: usize) -> usize {
    slot << 16 | index
}

/// The function of a [`code`].
#[inline]
pub(crate) fn function(code: usize) -> Option<&'static Function> {
    at(code >> 16)?.functions.get(code & 0xffff)
}
