//! The runtime of the gRPC client's channels: one per process, a tokio
//! current-thread runtime driven by the thread that waits for a call.
//!
//! A call's request is written, and its reply read, on the thread that waits
//! for it, as a blocking socket call would be: no hand-off to another thread
//! and back, which cost a local call more than the call itself on these
//! machines. While no call waits, a thread of its own drives the runtime, so
//! that the connections still answer keep-alive pings and reconnect, the
//! health watches follow their servers, and the asyncio bridge's calls run.
//! That thread lets go as soon as a call wants the runtime, and takes it back
//! only after [`IDLE`] without one (or at once for asyncio calls).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::errors;

/// How long the runtime's own thread waits after the last call, before it
/// drives the runtime again: calls made one after another find it free.
const IDLE: Duration = Duration::from_millis(2);

/// How long a waiting call keeps the thread running before it may sleep
/// until its reply: a local server answers sooner than a sleeping thread is
/// woken on these machines (as the socket bridges' `SPINS`).
const SPIN: Duration = Duration::from_micros(100);

/// The runtime, and who drives it.
pub(crate) struct Driver {
    runtime: Runtime,
    /// Calls waiting now (each in [`Driver::run`]).
    waiting: AtomicUsize,
    /// Calls begun so far: the runtime's thread sees whether one came while it slept.
    begun: AtomicU64,
    /// Set for work that needs driving now (a spawned task): the runtime's thread wakes.
    kicked: AtomicBool,
    sleep: Mutex<()>,
    woken: Condvar,
    /// Tells the runtime's thread to let go of the runtime.
    wanted: Notify,
}

/// How many drivers a process may have: the lanes a channel can be made on
/// (see [`driver`]).
pub(crate) const LANES: usize = 2;

/// The drivers of this process's channels, one per lane, and the process
/// they were made in: a child of `fork` has none of their threads and makes
/// its own.
static DRIVERS: Mutex<[Option<(u32, &'static Driver)>; LANES]> = Mutex::new([None; LANES]);

/// This process's driver of `lane` (below [`LANES`]), made (with its thread)
/// on first use. Channels on different lanes move their bytes on different
/// threads at once: a batch's frames cross two connections in parallel.
pub(crate) fn driver(py: Python<'_>, lane: usize) -> PyResult<&'static Driver> {
    let pid = std::process::id();
    let mut slots = DRIVERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(slot) = slots.get_mut(lane) else {
        let message = format!("no gRPC client lane {lane}: there are {LANES}");
        return Err(errors::error(py, "invalid_argument", message));
    };
    if let Some((made_in, driver)) = *slot {
        if made_in == pid {
            return Ok(driver);
        }
    }
    let driver = Driver::start().map_err(|e| {
        let message = format!("cannot start the gRPC client's runtime: {e}");
        errors::error(py, "transport", message)
    })?;
    *slot = Some((pid, driver));
    Ok(driver)
}

impl Driver {
    /// A new runtime and its thread, for the life of the process (channels
    /// hold handles to it).
    fn start() -> std::io::Result<&'static Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let driver: &'static Self = Box::leak(Box::new(Self {
            runtime,
            waiting: AtomicUsize::new(0),
            begun: AtomicU64::new(0),
            kicked: AtomicBool::new(false),
            sleep: Mutex::new(()),
            woken: Condvar::new(),
            wanted: Notify::new(),
        }));
        std::thread::Builder::new()
            .name("oxbridge-grpc-client".to_owned())
            .spawn(move || driver.idle_loop())?;
        Ok(driver)
    }

    /// Enters the runtime's context (where tonic's endpoints spawn their tasks).
    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.runtime.enter()
    }

    /// Spawns `task`, and has the runtime's thread drive it now if no call does.
    pub(crate) fn spawn<F>(&self, task: F) -> AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = self.runtime.spawn(task).abort_handle();
        self.kick();
        handle
    }

    /// Wakes the runtime's thread, to drive the runtime unless a call does.
    pub(crate) fn kick(&self) {
        self.kicked.store(true, Ordering::Release);
        let _sleeping = self.sleep.lock();
        self.woken.notify_one();
    }

    /// Drives the runtime on this thread until `future` is ready (`Some`)
    /// or `slice` has passed (`None`). Call it with the GIL released.
    pub(crate) fn run<F: Future>(&self, future: Pin<&mut F>, slice: Duration) -> Option<F::Output> {
        if tokio::runtime::Handle::try_current().is_ok() {
            // A thread of some runtime cannot drive another one.
            return self.poll_here(future, slice);
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        self.begun.fetch_add(1, Ordering::Release);
        let _done = Waiting(self);
        self.wanted.notify_one();
        // The timer made inside: it needs the runtime's context.
        self.runtime
            .block_on(async { tokio::time::timeout(slice, spinning(future)).await })
            .ok()
    }

    /// Polls `future` here, the runtime's own thread driving the runtime.
    fn poll_here<F: Future>(&self, mut future: Pin<&mut F>, slice: Duration) -> Option<F::Output> {
        self.kick();
        let started = Instant::now();
        let me = Arc::new(ThreadWaker {
            woken: AtomicBool::new(true),
            thread: std::thread::current(),
        });
        let waker = Waker::from(me.clone());
        let mut cx = Context::from_waker(&waker);
        loop {
            if me.woken.swap(false, Ordering::Acquire) {
                let _context = self.runtime.enter();
                if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                    return Some(out);
                }
                continue;
            }
            let left = slice.saturating_sub(started.elapsed());
            if left.is_zero() {
                return None;
            }
            std::thread::park_timeout(left);
        }
    }

    /// The runtime's own thread: drives the runtime whenever no call has
    /// wanted it for [`IDLE`], or at once when kicked, until a call wants it.
    fn idle_loop(&self) {
        loop {
            self.wait_until_idle();
            self.runtime.block_on(async {
                loop {
                    let wanted = self.wanted.notified();
                    if self.waiting.load(Ordering::Acquire) > 0 {
                        return;
                    }
                    wanted.await;
                }
            });
        }
    }

    fn wait_until_idle(&self) {
        let mut sleeping = self
            .sleep
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            let idle = self.waiting.load(Ordering::Acquire) == 0;
            if idle && self.kicked.swap(false, Ordering::AcqRel) {
                return;
            }
            let begun = self.begun.load(Ordering::Acquire);
            sleeping = self
                .woken
                .wait_timeout(sleeping, IDLE)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
            let quiet = self.begun.load(Ordering::Acquire) == begun;
            if quiet && self.waiting.load(Ordering::Acquire) == 0 {
                return;
            }
        }
    }
}

/// `future`'s output; while it is pending in its first [`SPIN`], the
/// runtime looks at its sockets without putting the thread to sleep.
async fn spinning<F: Future>(mut future: Pin<&mut F>) -> F::Output {
    let started = Instant::now();
    loop {
        let polled = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
        if let Poll::Ready(out) = polled {
            return out;
        }
        if started.elapsed() >= SPIN {
            return future.await;
        }
        // Back at once, after the runtime has polled its sockets.
        tokio::task::yield_now().await;
    }
}

/// Counts a call as waiting for as long as it lives.
struct Waiting<'a>(&'a Driver);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Wakes a thread that polls a future itself: its flag set, the thread unparked.
struct ThreadWaker {
    woken: AtomicBool,
    thread: std::thread::Thread,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    const BOUND: Duration = Duration::from_secs(30);

    /// A future that needs the runtime's timer: ready only if something drives it.
    async fn later(value: u32) -> u32 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        value
    }

    #[test]
    fn a_waiting_thread_drives_its_own_call() {
        let driver = Driver::start().unwrap();
        let future = std::pin::pin!(later(7));
        assert_eq!(driver.run(future, BOUND), Some(7));
    }

    #[test]
    fn a_call_not_ready_within_its_slice_is_none_and_can_go_on() {
        let driver = Driver::start().unwrap();
        let mut future = std::pin::pin!(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            3
        });
        assert_eq!(driver.run(future.as_mut(), Duration::from_millis(1)), None);
        assert_eq!(driver.run(future.as_mut(), BOUND), Some(3));
    }

    #[test]
    fn spawned_tasks_run_while_no_call_waits() {
        let driver = Driver::start().unwrap();
        let (done, finished) = mpsc::channel();
        driver.spawn(async move {
            done.send(later(9).await).unwrap();
        });
        assert_eq!(finished.recv_timeout(BOUND), Ok(9));
    }

    #[test]
    fn a_task_of_another_runtime_waits_while_the_driver_drives() {
        // Where blocking on a runtime would panic: inside another's task.
        let driver = Driver::start().unwrap();
        let other = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let got = other.block_on(async { driver.run(std::pin::pin!(later(5)), BOUND) });
        assert_eq!(got, Some(5));
    }

    #[test]
    fn many_threads_wait_at_once_each_for_its_own_call() {
        let driver = Driver::start().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                std::thread::spawn(move || {
                    (0..50)
                        .map(|j| driver.run(std::pin::pin!(later(i * 100 + j)), BOUND))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for (i, thread) in (0..).zip(threads) {
            let got = thread.join().unwrap();
            let want: Vec<_> = (0..50).map(|j| Some(i * 100 + j)).collect();
            assert_eq!(got, want);
        }
        assert_eq!(driver.waiting.load(Ordering::Acquire), 0);
    }
}
