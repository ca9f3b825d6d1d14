//! The codecs more than one bridge speaks: the JSON forms of values and calls
//! (HTTP and IPC), and the binary frames of `_many` calls (IPC, HTTP and
//! gRPC). They stand on the ground floor and know no bridge.

pub mod frames;
pub mod json_call;
pub mod wire;
