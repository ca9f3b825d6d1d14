//! Generates the gRPC code from `proto/` with a vendored `protoc`, so that a
//! build needs nothing installed by hand.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // prost-build finds protoc through this variable; a build script is
    // single-threaded, so setting it here races with nothing.
    std::env::set_var("PROTOC", protoc);
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let files = [
        proto_root.join("oxbridge/v1/calculator.proto"),
        proto_root.join("greeter_service.proto"),
    ];
    tonic_prost_build::configure()
        .build_client(false)
        .file_descriptor_set_path(out_dir.join("oxbridge_descriptor.bin"))
        .compile_protos(&files, std::slice::from_ref(&proto_root))?;
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    Ok(())
}
