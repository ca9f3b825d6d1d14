//! The ground floor: the services every bridge uses and none of them owns.
//! The libraries served and how a call finds its function, the options and
//! limits, the one error type, the memory budget, the bearer check, logging
//! and metrics, the accept loop and its helpers. Nothing here imports a
//! bridge.

pub mod accept;
pub mod auth;
pub mod budget;
pub mod catalogue;
pub mod config;
pub mod error;
pub mod fair;
pub mod library;
pub mod linger;
pub mod log;
pub mod metrics;
pub mod offload;
pub mod options;
pub mod pieces;
pub mod progress;
pub mod rate_limit;
pub mod readiness;
pub mod tasks;
pub mod tls;
pub mod write_timeout;
