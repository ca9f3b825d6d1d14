//! A server's stages: serving; draining (a stop was asked: readiness says
//! so, calls are still served); stopping (the listeners close, in-flight
//! calls finish). Balancers read readiness (`GET /healthz`,
//! `grpc.health.v1.Health`) to stop sending before the listeners close.

use tokio_util::sync::CancellationToken;

/// Where a server is in its stop; clones share one state.
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    draining: CancellationToken,
    stopping: CancellationToken,
}

impl Readiness {
    /// A server that is serving.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// True until a stop is asked.
    #[must_use]
    pub fn is_serving(&self) -> bool {
        !self.draining.is_cancelled()
    }

    /// Cancelled when a stop is asked: the server drains.
    #[must_use]
    pub fn draining_token(&self) -> CancellationToken {
        self.draining.clone()
    }

    /// Cancelled when the listeners close.
    #[must_use]
    pub fn stopping_token(&self) -> CancellationToken {
        self.stopping.clone()
    }

    /// Asks for a stop: from now on, not ready.
    pub fn drain(&self) {
        self.draining.cancel();
    }

    /// Resolves once a stop has been asked.
    pub async fn draining(&self) {
        self.draining.cancelled().await;
    }

    /// Resolves once the listeners close.
    pub async fn stopping(&self) {
        self.stopping.cancelled().await;
    }

    /// Closes the listeners (a stop is then asked too, if it was not).
    pub fn stop(&self) {
        self.draining.cancel();
        self.stopping.cancel();
    }
}
