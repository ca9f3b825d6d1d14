//! One memory budget for every bridge: the bytes held for requests and
//! replies in flight.
//!
//! A request holds its share (its size, twice: the request and its reply)
//! before its body is read, and gives it back only when its reply has been
//! handed to the socket; a reply goes out in slices, so a client that does
//! not read keeps its share, not more. Beyond the budget a request waits
//! briefly, then gets a retryable "busy" error: the server's memory never
//! grows with the number or the size of the requests, only with the budget.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ground::error::CallError;
use crate::ground::progress::Progress;

/// The budget's unit: shares are rounded up to whole KiB.
const UNIT: usize = 1024;
/// The largest slice of a reply handed to the socket at once.
const SLICE: usize = 64 * 1024;

/// The most shared-memory regions attached across the server's connections:
/// each is one mapping, and the kernel gives a process `vm.max_map_count`
/// (65,530 by default) for everything, threads' stacks and the heap
/// included. A peer that attached one-page regions by the thousand ran the
/// server out of mappings, and then out of threads and memory.
pub const MAX_REGIONS: usize = 4096;

/// How long the budget stays quiet before the heap is trimmed.
const QUIET: Duration = Duration::from_secs(1);
/// The quiet ticks (a [`QUIET`] each) on which the heap is trimmed: the
/// first few, since a load's connections free their buffers some time
/// after its last request; and once more after the runtime's idle blocking
/// threads have exited (tokio keeps one idle for 10 s), which hand what
/// they cached back to the heap as they exit. The more threads a load
/// needed (a slow or busy machine), the more that last trim gives back.
const TRIM_AT: [u32; 4] = [1, 2, 3, 12];

/// The server's memory budget (cheap to clone: all clones share it).
#[derive(Clone, Debug)]
pub struct Budget {
    units: Arc<Semaphore>,
    total: u32,
    wait: Duration,
    /// The part of the budget shared-memory regions may hold together, in units.
    shared: Arc<Semaphore>,
    /// Mappings left for regions (of [`MAX_REGIONS`]).
    regions: Arc<Semaphore>,
    /// How many shares were ever held: a quiet budget's count stands still.
    holds: Arc<AtomicU64>,
}

/// The units of a budget of `total` that shared-memory regions may hold
/// together: half, so that requests always have the other half.
fn regions_part(total: u32) -> u32 {
    (total / 2).max(1)
}

/// What an attached shared-memory region holds while it is mapped: its
/// bytes in the budget and in the regions' part of it, and one mapping.
#[derive(Debug)]
pub struct HeldRegion {
    _bytes: OwnedSemaphorePermit,
    _part: OwnedSemaphorePermit,
    _mapping: OwnedSemaphorePermit,
}

/// A share of the budget, given back when dropped.
#[derive(Debug)]
pub struct Held {
    _share: OwnedSemaphorePermit,
    /// The place the request's connection gave it, if it has a limit of its own.
    _place: Option<OwnedSemaphorePermit>,
}

impl Budget {
    /// A budget of `bytes`, for which a request waits at most `wait`.
    #[must_use]
    pub fn new(bytes: usize, wait: Duration) -> Self {
        let total = u32::try_from(bytes.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .max(1);
        Budget {
            units: Arc::new(Semaphore::new(total as usize)),
            total,
            wait,
            shared: Arc::new(Semaphore::new(regions_part(total) as usize)),
            regions: Arc::new(Semaphore::new(MAX_REGIONS)),
            holds: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Gives the heap's free memory back to the system once the budget has
    /// been quiet (nothing held, nothing new) for [`QUIET`] after a load,
    /// until `shutdown`.
    ///
    /// glibc keeps what large requests freed for the next ones (see
    /// [`oxbridge_shm::heap::keep_large_buffers`]), in every arena that
    /// served them: after a burst of large calls on every bridge, hundreds
    /// of MiB stayed allocated to an idle server. A busy server is never
    /// trimmed (its next call would fault the pages in again).
    pub fn give_back_when_quiet(&self, shutdown: tokio_util::sync::CancellationToken) {
        let budget = self.clone();
        tokio::spawn(async move {
            // The quiet ticks since the budget last moved (see `TRIM_AT`);
            // none before the first load.
            let (mut seen, mut quiet) = (0, u32::MAX);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(QUIET) => {}
                }
                let now = budget.holds.load(Ordering::Relaxed);
                if now != seen {
                    (seen, quiet) = (now, 0);
                } else if budget.requests_held() == 0 && quiet < u32::MAX {
                    quiet += 1;
                    if TRIM_AT.contains(&quiet) {
                        let _ = tokio::task::spawn_blocking(oxbridge_shm::heap::give_back).await;
                    }
                }
            }
        });
    }

    /// The units held by requests in flight: the budget's, less what
    /// attached shared-memory regions hold (a region stays attached to an
    /// idle connection, and its pages are not the heap's).
    fn requests_held(&self) -> usize {
        let part = regions_part(self.total) as usize;
        let by_regions = part - self.shared.available_permits();
        (self.total as usize).saturating_sub(self.units.available_permits() + by_regions)
    }

    /// Holds a shared-memory region of `bytes` for as long as it is mapped,
    /// or refuses it at once (the peer then sends its batch on the socket).
    ///
    /// A mapped region's pages are resident in the server (they are faulted
    /// in when mapped), so its bytes count against the budget like a
    /// request's, for its whole life. Regions together may hold at most
    /// half of the budget, so that requests always have the other half,
    /// and at most [`MAX_REGIONS`] mappings.
    ///
    /// # Errors
    /// [`CallError::TooLarge`] for a region larger than the regions' part
    /// of the budget; [`CallError::Unavailable`] when any of the three is
    /// not free now.
    pub fn hold_region(&self, bytes: usize) -> Result<HeldRegion, CallError> {
        let busy = |what: String| CallError::Unavailable(format!("server busy: {what}; try again"));
        let mib = |units: u32| (units as usize * UNIT) >> 20;
        let part = regions_part(self.total);
        let units = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX);
        if units > part {
            // Never fits, however quiet the server: the client's regions
            // for such batches stay smaller from now on.
            return Err(CallError::TooLarge {
                limit: part as usize * UNIT,
            });
        }
        let Ok(mapping) = self.regions.clone().try_acquire_owned() else {
            return Err(busy(format!(
                "{MAX_REGIONS} shared-memory regions are attached across its connections"
            )));
        };
        let Ok(in_part) = self.shared.clone().try_acquire_many_owned(units) else {
            return Err(busy(format!(
                "shared-memory regions hold their part of the memory budget ({} MiB)",
                mib(part)
            )));
        };
        let Ok(bytes) = self.units.clone().try_acquire_many_owned(units) else {
            return Err(busy(format!(
                "its memory budget of {} MiB is in use by other requests",
                mib(self.total)
            )));
        };
        Ok(HeldRegion {
            _bytes: bytes,
            _part: in_part,
            _mapping: mapping,
        })
    }

    /// The units of the share of a request of `bytes` (with its reply).
    fn units(&self, bytes: usize) -> u32 {
        u32::try_from(bytes.saturating_mul(2).div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.total)
    }

    /// The part of the budget one connection may hold at once, in units (for
    /// [`Budget::hold_in`]): a quarter of it.
    #[must_use]
    pub fn connection_part(&self) -> Arc<Semaphore> {
        Arc::new(Semaphore::new((self.total / 4).max(1) as usize))
    }

    /// Holds the share of a request of `bytes` (with its reply), waiting
    /// for it briefly. A request larger than the whole budget waits for all
    /// of it.
    ///
    /// # Errors
    /// [`CallError::Unavailable`] when the share is not free in time.
    pub async fn hold(&self, bytes: usize) -> Result<Held, CallError> {
        self.holds.fetch_add(1, Ordering::Relaxed);
        let units = self.units(bytes);
        let acquired =
            tokio::time::timeout(self.wait, self.units.clone().acquire_many_owned(units));
        match acquired.await {
            Ok(Ok(permit)) => Ok(Held {
                _share: permit,
                _place: None,
            }),
            _ => Err(CallError::Unavailable(format!(
                "server busy: its memory budget of {} MiB is in use by other requests; try again",
                (self.total as usize * UNIT) >> 20
            ))),
        }
    }

    /// Holds the share of a request of `bytes`, as [`Budget::hold`], within
    /// the `part` of its connection (see [`Budget::connection_part`]). A
    /// connection's part is never waited for: a call on the same connection
    /// that waits with its body unread would stop the bodies of those that
    /// hold it (HTTP/2 flow control is shared by a connection's streams).
    ///
    /// # Errors
    /// [`CallError::Unavailable`] when either is not free (in time).
    pub async fn hold_in(&self, part: &Arc<Semaphore>, bytes: usize) -> Result<Held, CallError> {
        let whole_part = (self.total / 4).max(1);
        let units = self.units(bytes).min(whole_part);
        let Ok(place) = part.clone().try_acquire_many_owned(units) else {
            return Err(CallError::Unavailable(format!(
                "server busy: the calls in flight on this connection hold its part of the \
                 memory budget ({} MiB); try again",
                (whole_part as usize * UNIT) >> 20
            )));
        };
        Ok(self.hold(bytes).await?.with_place(place))
    }
}

impl Held {
    /// This share, keeping `place` (in a connection's own limit) as long.
    #[must_use]
    pub fn with_place(self, place: OwnedSemaphorePermit) -> Self {
        Held {
            _place: Some(place),
            ..self
        }
    }
}

/// A reply body that keeps its request's share until the last slice has
/// been taken by the connection, handing the body out `SLICE` bytes at a
/// time (slices of one buffer: no copy).
pub struct HeldBody<B> {
    inner: B,
    rest: Bytes,
    held: Option<Held>,
    progress: Option<Progress>,
}

impl<B> HeldBody<B> {
    /// `inner`, keeping `held` until it has been sent.
    pub fn new(inner: B, held: Option<Held>) -> Self {
        HeldBody {
            inner,
            rest: Bytes::new(),
            held,
            progress: None,
        }
    }

    /// This body, telling `progress` of every slice taken.
    #[must_use]
    pub fn watched(self, progress: Progress) -> Self {
        HeldBody {
            progress: Some(progress),
            ..self
        }
    }
}

impl<B> HttpBody for HeldBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        if this.rest.is_empty() {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => this.rest = data,
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                Poll::Ready(None) => {
                    this.held = None;
                    this.progress = None;
                    return Poll::Ready(None);
                }
                other => return other,
            }
        }
        let slice = this.rest.split_to(this.rest.len().min(SLICE));
        if let Some(progress) = &this.progress {
            progress.made();
        }
        Poll::Ready(Some(Ok(Frame::data(slice))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + rest);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + rest);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shares_wait_then_are_refused_and_come_back_when_dropped() {
        let budget = Budget::new(100 * UNIT, Duration::from_millis(20));
        let first = budget.hold(40 * UNIT).await.unwrap(); // 80 units
        let refused = budget.hold(20 * UNIT).await.unwrap_err(); // needs 40 more
        assert_eq!(refused.kind().name(), "unavailable");
        assert!(refused.to_string().contains("memory budget"), "{refused}");
        drop(first);
        let _whole = budget.hold(usize::MAX).await.unwrap(); // clamped to all of it
    }

    #[tokio::test]
    async fn regions_hold_half_the_budget_at_most_and_are_counted_by_requests() {
        let budget = Budget::new(100 * UNIT, Duration::from_millis(20));
        let too_large = budget.hold_region(51 * UNIT).unwrap_err();
        assert_eq!(too_large.kind().name(), "payload_too_large");
        let first = budget.hold_region(30 * UNIT).unwrap();
        let busy = budget.hold_region(30 * UNIT).unwrap_err(); // 60 > the part's 50
        assert_eq!(busy.kind().name(), "unavailable");
        assert!(busy.to_string().starts_with("server busy: "), "{busy}");
        // A region's bytes are the budget's: requests have the other 70.
        assert_eq!(budget.requests_held(), 0);
        let request = budget.hold(35 * UNIT).await.unwrap(); // 70 units
        assert_eq!(budget.requests_held(), 70);
        assert!(budget.hold(UNIT).await.is_err());
        drop((first, request));
        let _whole_part = budget.hold_region(50 * UNIT).unwrap();
    }

    #[test]
    fn regions_are_counted_across_the_server() {
        let budget = Budget::new(1 << 30, Duration::ZERO);
        let held: Vec<_> = (0..MAX_REGIONS)
            .map(|_| budget.hold_region(1).unwrap())
            .collect();
        let busy = budget.hold_region(1).unwrap_err();
        assert!(busy.to_string().contains("regions are attached"), "{busy}");
        drop(held);
        assert!(budget.hold_region(1).is_ok());
    }

    #[tokio::test]
    async fn a_connection_holds_a_quarter_of_the_budget_and_is_refused_at_once_beyond() {
        let budget = Budget::new(400 * UNIT, Duration::from_secs(60));
        let part = budget.connection_part(); // 100 units
        let first = budget.hold_in(&part, 30 * UNIT).await.unwrap(); // 60 units
        let started = std::time::Instant::now();
        let refused = budget.hold_in(&part, 30 * UNIT).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited for the part"
        );
        assert_eq!(refused.kind().name(), "unavailable");
        assert!(refused.to_string().contains("this connection"), "{refused}");
        // Other connections still have the rest of the budget.
        let other = budget.connection_part();
        let _second = budget.hold_in(&other, 30 * UNIT).await.unwrap();
        // A request larger than the part still fits, alone, in a fresh one.
        drop(first);
        let _large = budget.hold_in(&part, 150 * UNIT).await.unwrap();
    }

    #[tokio::test]
    async fn a_body_is_sent_in_slices_and_keeps_its_share_to_the_end() {
        use http_body_util::{BodyExt, Full};
        let budget = Budget::new(UNIT, Duration::from_millis(20));
        let held = budget.hold(1).await.unwrap();
        let data = Bytes::from(vec![7_u8; 3 * SLICE + 5]);
        let mut body = HeldBody::new(Full::new(data.clone()), Some(held));
        assert_eq!(body.size_hint().exact(), Some(data.len() as u64));
        let mut got = Vec::new();
        while let Some(frame) = body.frame().await {
            let chunk = frame.unwrap().into_data().unwrap();
            assert!(chunk.len() <= SLICE);
            got.extend_from_slice(&chunk);
            if got.len() < data.len() {
                assert!(budget.hold(1).await.is_err(), "released before the end");
            }
        }
        assert_eq!(got, data);
        drop(body);
        assert!(budget.hold(1).await.is_ok());
    }
}
