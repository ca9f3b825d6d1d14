//! The gRPC bridge (tonic): each library's functions derived as methods, the
//! articles' `oxbridge.v1.Calculator` and `greeter_service.GreeterService`,
//! health and reflection, served with a budget, an idle timeout and a drain.

pub mod article;
pub mod budget;
mod conn;
pub mod functions;
pub mod many;
pub mod message;
pub mod names;
mod observe;
pub mod routes;
pub mod serve;
pub mod status;

pub use article::{greeter_service, v1, Calculator, Greeter, FILE_DESCRIPTOR_SET};
pub use names::{many_method, method_name, package, CATALOGUE_PATH};
pub use routes::routes;
pub use status::{status, ERROR_KIND_KEY};
