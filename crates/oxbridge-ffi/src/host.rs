//! The runtime's side of the library ABI: loads a library's shared object,
//! checks its ABI version and its catalogue's checksum, and describes it as
//! a [`Library`] whose functions call across the ABI.
//!
//! A loaded library is never unloaded: the [`Library`] refers to its text
//! and code for the rest of the process, as every bridge's tables do.

use std::ffi::{CStr, CString};
use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use oxbridge_core::export::{Arg, CallFn, Function, Library, ManyFn, OutArray, Param, Type, Value};
use oxbridge_core::{Complex, CoreError, ErrorKind};

use crate::library::{
    OxbCall, OxbCallMany, OxbError, OxbFree, OxbFunction, OxbLibrary, OxbValue,
    OXB_LIBRARY_ABI_VERSION,
};
use crate::values::OxbStr;
use crate::OXB_OK;

/// Why a library could not be loaded. Its message names the file and what
/// to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError(String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// The libraries loaded so far, by their descriptor, with their handles:
/// loading one twice gives the same [`Library`].
static LOADED: Mutex<Vec<Loaded>> = Mutex::new(Vec::new());

/// A library loaded: its descriptor's address, the library, its handle.
struct Loaded {
    descriptor: usize,
    library: &'static Library,
    handle: usize,
}

/// Loads the library in the shared object at `path` (made with
/// [`library!`](crate::library!)).
///
/// # Errors
/// When the file cannot be loaded, exports no `oxb_library`, was built for
/// another version of the library ABI, or describes its catalogue in a way
/// this runtime does not read (a type it does not know, a checksum that
/// does not match).
pub fn load(path: &Path) -> Result<&'static Library, LoadError> {
    let shown = path.display();
    let cpath = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| {
        LoadError(format!(
            "cannot load the library {shown}: a NUL in its path"
        ))
    })?;
    // SAFETY: `cpath` is a NUL-terminated path; loading runs the object's
    // initializers, which a Rust cdylib keeps to the standard library's.
    let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return Err(LoadError(format!(
            "cannot load the library {shown}: {}",
            dl_error()
        )));
    }
    // SAFETY: a live handle and a NUL-terminated name.
    let entry = unsafe { libc::dlsym(handle, c"oxb_library".as_ptr()) };
    if entry.is_null() {
        return Err(LoadError(format!(
            "{shown} is not an oxbridge library: it exports no `oxb_library` (write `oxbridge_ffi::library!` in its crate)"
        )));
    }
    // SAFETY: `oxb_library` has this signature in every version of the ABI.
    let entry: extern "C" fn() -> *const OxbLibrary = unsafe { std::mem::transmute(entry) };
    let described = entry();
    let mut loaded = LOADED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = loaded.iter().find(|l| l.descriptor == described as usize) {
        return Ok(known.library);
    }
    // SAFETY: the object stays loaded for the process (never closed), and
    // its descriptor is never written once made.
    let described: &'static OxbLibrary = unsafe { described.as_ref() }
        .ok_or_else(|| LoadError(format!("{shown}: `oxb_library` returned null")))?;
    let library = from_descriptor(described).map_err(|e| LoadError(format!("{shown}: {e}")))?;
    loaded.push(Loaded {
        descriptor: described as *const OxbLibrary as usize,
        library,
        handle: handle as usize,
    });
    Ok(library)
}

/// The address of the symbol `name` in the shared object `library` was
/// loaded from ([`load`]), or `None` (no such symbol, or a library this
/// module did not load). The caller knows its type: a C symbol the library
/// exports (`oxb_<function>`, `oxb_string_free`...).
#[must_use]
pub fn symbol(library: &'static Library, name: &str) -> Option<*mut std::ffi::c_void> {
    let name = CString::new(name).ok()?;
    let handle = LOADED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .find(|l| std::ptr::eq(l.library, library))?
        .handle;
    // SAFETY: a handle of a loaded object, never closed; a NUL-terminated name.
    let found = unsafe { libc::dlsym(handle as *mut std::ffi::c_void, name.as_ptr()) };
    (!found.is_null()).then_some(found)
}

/// The [`Library`] a descriptor describes, once its ABI version (read
/// first) and its checksum are checked: its functions call across the ABI.
///
/// # Errors
/// Another ABI version, a type or error kind this runtime does not know,
/// text that is not UTF-8, a checksum that does not match.
pub fn from_descriptor(described: &'static OxbLibrary) -> Result<&'static Library, String> {
    if described.abi_version != OXB_LIBRARY_ABI_VERSION {
        return Err(format!(
            "built for version {} of oxbridge's library ABI, and this oxbridge {} loads version {OXB_LIBRARY_ABI_VERSION}: rebuild the library against oxbridge {}",
            described.abi_version,
            oxbridge_core::VERSION,
            oxbridge_core::VERSION,
        ));
    }
    describe(described)
}

fn dl_error() -> String {
    // SAFETY: `dlerror` returns null or a NUL-terminated message owned by
    // the C library, read at once.
    let message = unsafe { libc::dlerror() };
    if message.is_null() {
        return "unknown error".to_owned();
    }
    // SAFETY: non-null and NUL-terminated, as above.
    unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned()
}

/// Text of the descriptor, which lives as long as the process.
fn text(s: OxbStr, what: &str) -> Result<&'static str, String> {
    // SAFETY: the descriptor's text is static data of an object never unloaded.
    unsafe { s.text() }.ok_or_else(|| format!("{what} is not UTF-8"))
}

/// `len` items at `ptr`, which live as long as the process.
fn items<T>(ptr: *const T, len: usize) -> &'static [T] {
    // SAFETY: the descriptor's arrays live in the library, never unloaded
    // nor written once built.
    unsafe { crate::slice(ptr, len) }.unwrap_or(&[])
}

fn type_named(name: &str, what: &str) -> Result<Type, String> {
    Type::from_name(name).ok_or_else(|| {
        format!(
            "{what} has the type {name:?}, which oxbridge {} does not know: upgrade oxbridge, or rebuild the library against this one",
            oxbridge_core::VERSION
        )
    })
}

/// The [`Library`] a descriptor of this ABI version describes.
fn describe(described: &'static OxbLibrary) -> Result<&'static Library, String> {
    let name = text(described.name, "the library's name")?;
    let version = text(described.version, "the library's version")?;
    let mut functions = Vec::with_capacity(described.n_functions);
    for (index, f) in items(described.functions, described.n_functions)
        .iter()
        .enumerate()
    {
        functions.push(function(described, index, f)?);
    }
    let library: &'static Library = Box::leak(Box::new(Library {
        name,
        version,
        functions: Box::leak(functions.into_boxed_slice()),
    }));
    if library.checksum() != described.checksum {
        return Err(format!(
            "the catalogue of the library {name:?} does not match its checksum (built with oxbridge-core {}, loaded by {}): rebuild it",
            text(described.core_version, "the core version").unwrap_or("?"),
            oxbridge_core::VERSION,
        ));
    }
    Ok(library)
}

fn function(
    described: &'static OxbLibrary,
    index: usize,
    f: &OxbFunction,
) -> Result<Function, String> {
    let name = text(f.name, "a function's name")?;
    let params = items(f.params, f.n_params)
        .iter()
        .map(|p| {
            let param = text(p.name, "a parameter's name")?;
            let ty = text(p.ty, "a parameter's type")?;
            Ok(Param {
                name: param,
                ty: type_named(ty, &format!("parameter '{param}' of {name}()"))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let raises = items(f.raises, f.n_raises)
        .iter()
        .map(|k| {
            let kind = text(*k, "an error kind")?;
            ErrorKind::from_name(kind)
                .ok_or_else(|| format!("{name}() raises the unknown error kind {kind:?}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let returns = type_named(
        text(f.returns, "a result type")?,
        &format!("the result of {name}()"),
    )?;
    let (call, call_many, free) = (described.call, described.call_many, described.free);
    let call: CallFn = Box::leak(Box::new(move |args: &[Arg<'_>]| {
        call_across(call, free, index, returns, args)
    }));
    let many: Option<ManyFn> = if f.many {
        Some(Box::leak(Box::new(
            move |args: &[Arg<'_>], out: &mut OutArray<'_>| {
                many_across(call_many, free, index, args, out)
            },
        )))
    } else {
        None
    };
    Ok(Function {
        name,
        doc: text(f.doc, "a function's documentation")?,
        params: Box::leak(params.into_boxed_slice()),
        returns,
        result_field: text(f.result_field, "a result field")?,
        raises: Box::leak(raises.into_boxed_slice()),
        call,
        many,
    })
}

/// Most functions take few arguments: their crossing forms stay on the stack.
const INLINE: usize = 8;

/// Runs `body` with `args` in their crossing form.
fn crossing<R>(args: &[Arg<'_>], body: impl FnOnce(&[OxbValue]) -> R) -> R {
    if args.len() <= INLINE {
        let mut values = [OxbValue::EMPTY; INLINE];
        for (value, arg) in values.iter_mut().zip(args) {
            *value = OxbValue::of_arg(arg);
        }
        body(&values[..args.len()])
    } else {
        body(&args.iter().map(OxbValue::of_arg).collect::<Vec<_>>())
    }
}

/// The error a failed call handed over, its message freed on its side.
fn failure(status: i32, mut err: OxbError, free: OxbFree) -> CoreError {
    // SAFETY: the library wrote `err` (its message valid until freed).
    let error = unsafe { err.to_core(status) };
    // SAFETY: the message was handed over by this library, freed once.
    unsafe { free(&raw mut err.message) };
    error
}

fn call_across(
    call: OxbCall,
    free: OxbFree,
    index: usize,
    returns: Type,
    args: &[Arg<'_>],
) -> Result<Value, CoreError> {
    let mut out = OxbValue::EMPTY;
    let mut err = OxbError::EMPTY;
    let status = crossing(args, |values| {
        // SAFETY: each value borrows an argument that outlives the call;
        // `out` and `err` are writable.
        unsafe {
            call(
                index,
                values.as_ptr(),
                values.len(),
                &raw mut out,
                &raw mut err,
            )
        }
    });
    if status != OXB_OK {
        return Err(failure(status, err, free));
    }
    let value = owned(&out, returns);
    if out.cap != 0 {
        // SAFETY: handed over by this library, freed once.
        unsafe { free(&raw mut out) };
    }
    value
}

/// The result as a value of this side, copied out of the library's buffer.
fn owned(out: &OxbValue, returns: Type) -> Result<Value, CoreError> {
    // SAFETY: the library handed this result over, valid until freed.
    let arg = unsafe { out.arg(returns, false) }.ok_or_else(|| {
        CoreError::new(
            ErrorKind::Internal,
            format!("a library returned a value that is not {}", returns.name()),
        )
    })?;
    Ok(match arg {
        Arg::Bool(v) => Value::Bool(v),
        Arg::I64(v) => Value::I64(v),
        Arg::F64(v) => Value::F64(v),
        Arg::Complex(v) => Value::Complex(v),
        Arg::Str(v) => Value::Str(v.to_owned()),
        Arg::Bytes(v) => Value::Bytes(v.to_vec()),
        Arg::F64Array(v) => Value::F64Array(v.to_vec()),
        Arg::I64Array(v) => Value::I64Array(v.to_vec()),
        Arg::ComplexArray(v) => Value::ComplexArray(v.to_vec()),
    })
}

fn many_across(
    call_many: OxbCallMany,
    free: OxbFree,
    index: usize,
    args: &[Arg<'_>],
    out: &mut OutArray<'_>,
) -> Result<(), CoreError> {
    let out = match out {
        OutArray::F64(v) => OxbValue::of_out(Type::F64Array, v),
        OutArray::I64(v) => OxbValue::of_out(Type::I64Array, v),
        OutArray::Complex(v) => OxbValue::of_out::<Complex>(Type::ComplexArray, v),
    };
    let mut err = OxbError::EMPTY;
    let status = crossing(args, |values| {
        // SAFETY: the arguments outlive the call; `out` borrows the output
        // array mutably for it; `err` is writable.
        unsafe { call_many(index, values.as_ptr(), values.len(), out, &raw mut err) }
    });
    if status == OXB_OK {
        Ok(())
    } else {
        Err(failure(status, err, free))
    }
}
