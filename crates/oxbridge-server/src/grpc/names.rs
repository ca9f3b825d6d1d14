//! Where each call lives on the gRPC bridge: a library's package, a
//! function's method and its `_many` method, the catalogue's path. One
//! place, read by the routes, the proto text and the metrics alike.

use oxbridge_core::export::{Function, Library};

/// The method a client calls when it connects to read the served catalogue.
pub const CATALOGUE_PATH: &str = "/oxbridge.Catalogue/Get";

/// The protobuf package of a library's functions.
#[must_use]
pub fn package(library: &Library) -> String {
    format!("{}.v1", library.name)
}

/// A function's method name: `greet` → `Greet`, `pow_many` → `PowMany`.
#[must_use]
pub fn method_name(name: &str) -> String {
    name.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The method name of `f`'s vectorized form.
#[must_use]
pub fn many_method(f: &Function) -> String {
    method_name(f.name) + "Many"
}
