//! What a server tells a client about the libraries it serves: their names,
//! versions and catalogue checksums (`/version`), and their whole contracts
//! (`/catalogue`, the IPC command `catalogue`, the gRPC method
//! `/oxbridge.Catalogue/Get`), which a client checks its own against when it
//! connects, so that a stale client fails at once, never with a wrong answer.

use serde_json::{json, Value};

/// The server's name and version and each library's.
#[must_use]
pub fn version() -> Value {
    let libraries: Vec<Value> = crate::ground::library::libraries()
        .iter()
        .map(|l| json!({"name": l.name, "version": l.version, "checksum": checksum(l)}))
        .collect();
    json!({"name": "oxbridge", "version": oxbridge_core::VERSION, "libraries": libraries})
}

/// Each library served, with its contract, as JSON text: made once, since
/// a process serves one set of libraries (every new client connection asks
/// for it).
#[must_use]
pub fn catalogue() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| made().to_string())
}

/// The catalogue, made.
fn made() -> Value {
    let libraries: Vec<Value> = crate::ground::library::libraries()
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "version": l.version,
                "checksum": checksum(l),
                "contract": l.contract().lines().collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({"oxbridge": oxbridge_core::VERSION, "libraries": libraries})
}

/// A library's checksum as the clients show it: 16 hex digits.
fn checksum(library: &oxbridge_core::export::Library) -> String {
    format!("{:016x}", library.checksum())
}
