//! Records the compiler that built the extension, for the benchmark's report.

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".into(), |v| v.trim().to_owned());
    println!("cargo:rustc-env=OXBRIDGE_RUSTC_VERSION={version}");
}
