//! The network clients that live in the extension, apart from the PyO3
//! bindings of the in-process bridge: the gRPC client (tonic) and the IPC
//! bridge's shared-memory client, on the client runtime they share.

pub mod grpc;
pub mod runtime;
pub mod shared;
