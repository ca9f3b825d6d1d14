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
    // The exported functions' contract, generated from their definitions
    // (checked for drift by a test): only its descriptors are needed, for
    // reflection; requests are decoded from the definitions themselves.
    let functions = proto_root.join("calculator/v1/functions.proto");
    std::fs::create_dir_all(out_dir.join("functions"))?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(false)
        // Its messages are never used as Rust types: keep them apart.
        .out_dir(out_dir.join("functions"))
        .file_descriptor_set_path(out_dir.join("functions_descriptor.bin"))
        .compile_protos(std::slice::from_ref(&functions), &[proto_root])?;
    for f in files.iter().chain([&functions]) {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    Ok(())
}
