//! Compiles cffi's API-mode module of the C ABI (`cffi/_cffi_api.c`, made by
//! `tools/gen_cffi.py`) into the extension, against the building Python's headers.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=cffi/_cffi_api.c");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=PYTHON_SYS_EXECUTABLE");
    cc::Build::new()
        .file("cffi/_cffi_api.c")
        .include(python_include())
        // Generated code: its warnings are cffi's, not ours.
        .warnings(false)
        .compile("oxbridge_cffi_api");
}

/// The include directory of the Python that maturin (or the Makefile) builds for.
fn python_include() -> PathBuf {
    let python = env::var("PYO3_PYTHON")
        .or_else(|_| env::var("PYTHON_SYS_EXECUTABLE"))
        .unwrap_or_else(|_| "python3".to_owned());
    let found = Command::new(&python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['include'])",
        ])
        .output();
    match found {
        Ok(out) if out.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        _ => panic!(
            "oxbridge-native: cannot ask {python} for its include directory; \
             set PYO3_PYTHON to a Python 3.11+ interpreter"
        ),
    }
}
