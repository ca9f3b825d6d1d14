//! The IPC client's half of a batch over shared memory (the protocol is
//! `oxbridge_server::codec::frames::shared`; the regions and the replies are
//! `python/oxbridge/bridges/_shared.py`'s): each piece of the operands copied
//! into the call's region, then its call message sent, piece after piece
//! with the GIL released, so that the server computes one piece while this
//! thread copies the next; then the replies read. An operand that already
//! lies in another region the server has (an array made in shared memory,
//! an earlier result) is named where it is, and not copied.
//!
//! The copied pieces go round a *ring* of a few slots, each piece's slot
//! written again only once the server has answered the piece before it
//! there. The slots stay in the cache the two cores share: the server reads
//! the operands from it rather than from memory, and the copy's writes do
//! not go out to memory and back. A batch over shared memory is bound by
//! memory bandwidth, so the bytes it does not move are the time it saves.
//!
//! In Python this loop cost about 20 µs a piece in interpreter and numpy
//! overhead, on the thread that is a large batch's critical path.

use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use oxbridge_server::codec::frames::shared::{call_message, Head};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// The bytes of a reply's header: magic, status, 3 zeros, length (u64).
const REPLY: usize = 16;

/// How long a wait for a reply keeps the GIL released before Python's
/// signal handlers get their turn.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// One argument: where its bytes are here, and where they go in the region
/// (or are already, in region `home`).
#[derive(Clone, Copy)]
struct Column {
    /// The address of its first byte, held in place by its buffer export.
    from: usize,
    /// Its bytes.
    len: usize,
    /// Bytes of one value.
    size: usize,
    /// One value for every element, copied once.
    one_for_all: bool,
    /// The region it is in: the call's own (then it is copied there first)
    /// or another the server has.
    home: u8,
    /// Its first byte's place in that region; for one copied a piece at a
    /// time, its place in the ring's first slot.
    place: usize,
}

impl Column {
    /// Whether its pieces are copied round the ring.
    fn ringed(&self, region_id: u8) -> bool {
        !self.one_for_all && self.home == region_id
    }
}

/// Why the loop stopped early.
enum Stop {
    Io(io::Error),
    /// A signal handler's exception (`KeyboardInterrupt`).
    Python(PyErr),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Copies the operands of a shared-memory call into `region` (the server's
/// region `region_id`), a piece at a time, sends each piece's call message
/// on the socket `fd`, and returns each piece's reply.
///
/// `columns` holds each argument as `(bytes, value size, one for all,
/// region id, place in that region)`: in region `region_id` it is copied
/// there (an array's pieces round the ring: `place` is in its first slot);
/// in another it is there already, and is not copied. Piece `k` covers
/// elements `bounds[k]..bounds[k + 1]`, its operands copied into slot
/// `k % ring.0` (slots `ring.1` bytes apart), its results going to
/// `out_at + bounds[k] * out_size` in the call's region. A slot is written
/// again only once the piece before in it has its reply. A reply is polled
/// for `spins` times before the wait blocks. The whole call must end within
/// `seconds`.
///
/// Each reply is its 16-byte header, then an error's body (of at most
/// `max_body` bytes). Reading stops after one that is not a shared-memory
/// reply or declares a longer error: the caller tells a bad reply by it.
///
/// # Errors
/// `ValueError` when a buffer is not contiguous bytes, the region is
/// read-only or too small, or the bounds do not fit the operands; the
/// socket's error as `OSError` (`TimeoutError` once `seconds` have passed,
/// `BlockingIOError` when a send waited that long); a signal handler's
/// exception, raised while waiting.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn shared_call<'py>(
    py: Python<'py>,
    fd: i32,
    seconds: f64,
    region: &Bound<'_, PyAny>,
    region_id: u8,
    name: &str,
    columns: Vec<(Bound<'_, PyAny>, usize, bool, u8, usize)>,
    bounds: Vec<usize>,
    ring: (usize, usize),
    out_at: usize,
    out_size: usize,
    spins: usize,
    max_body: usize,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let deadline =
        Instant::now() + Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX);
    let region = contiguous(region)?;
    if region.readonly() {
        return Err(PyValueError::new_err("the region must be writable"));
    }
    let (base, room) = (region.buf_ptr() as usize, region.len_bytes());
    let in_order = bounds.windows(2).all(|w| w[0] <= w[1]);
    let n = bounds.last().copied().unwrap_or(0);
    let widest = bounds.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let (slots, slot_bytes) = ring;
    let out_fits = n
        .checked_mul(out_size)
        .and_then(|len| len.checked_add(out_at))
        .is_some_and(|end| end <= room);
    if bounds.first() != Some(&0) || !in_order || !out_fits || slots == 0 {
        return Err(PyValueError::new_err(
            "the pieces do not fit the operands and the region",
        ));
    }
    let mut exports = Vec::with_capacity(columns.len());
    let mut plan = Vec::with_capacity(columns.len());
    for (values, size, one_for_all, home, place) in &columns {
        let values = contiguous(values)?;
        let column = Column {
            from: values.buf_ptr() as usize,
            len: values.len_bytes(),
            size: *size,
            one_for_all: *one_for_all,
            home: if *one_for_all { region_id } else { *home },
            place: *place,
        };
        let count = if column.one_for_all { 1 } else { n };
        // Apart from the region: a lent result passed back in lies in an
        // older region (a lent region is never written again). One in
        // another region is not copied: the server checks its place.
        let apart = column.from + column.len <= base || base + room <= column.from;
        // The bytes it takes in the region: a value, or the widest piece in
        // the last slot.
        let taken = if column.one_for_all {
            Some(column.place.saturating_add(column.len))
        } else {
            widest.checked_mul(column.size).and_then(|piece| {
                (slots - 1)
                    .checked_mul(slot_bytes)?
                    .checked_add(column.place)?
                    .checked_add(piece)
            })
        };
        let fits = count.checked_mul(column.size) == Some(column.len)
            && (column.home != region_id || taken.is_some_and(|end| end <= room))
            && apart;
        if !fits {
            return Err(PyValueError::new_err(
                "an operand does not fit its place in the region",
            ));
        }
        plan.push(column);
        exports.push(values);
    }
    let call = Call {
        name: name.as_bytes(),
        region_id,
        columns: &plan,
        bounds: &bounds,
        ring,
        out: (out_at, out_size),
        spins,
        max_body,
    };
    let done = py.detach(|| {
        // SAFETY: the caller's socket, open until this call returns (a
        // socket is in one call's hands at a time); never closed here.
        let socket = ManuallyDrop::new(unsafe { UnixStream::from_raw_fd(fd) });
        // SAFETY: `region` is a writable contiguous export of `room` bytes,
        // held until this function returns.
        let region = unsafe { std::slice::from_raw_parts_mut(base as *mut u8, room) };
        call.run(&socket, region, deadline)
    });
    drop(exports);
    match done {
        Ok(replies) => Ok(replies.iter().map(|r| PyBytes::new(py, r)).collect()),
        Err(Stop::Io(e)) => Err(e.into()),
        Err(Stop::Python(e)) => Err(e),
    }
}

/// A checked call of [`shared_call`], to run without the GIL.
struct Call<'a> {
    name: &'a [u8],
    region_id: u8,
    columns: &'a [Column],
    bounds: &'a [usize],
    /// Slots, and the bytes from one slot to the next.
    ring: (usize, usize),
    /// Where the results go, and the bytes of one.
    out: (usize, usize),
    spins: usize,
    max_body: usize,
}

impl Call<'_> {
    /// Copies and sends every piece, reads every reply.
    fn run(
        &self,
        mut socket: &UnixStream,
        region: &mut [u8],
        deadline: Instant,
    ) -> Result<Vec<Vec<u8>>, Stop> {
        let values = |c: &Column| {
            // SAFETY: a contiguous export of `len` bytes, held by the caller
            // until the loop ends; the checks put none of it in the region.
            unsafe { std::slice::from_raw_parts(c.from as *const u8, c.len) }
        };
        for c in self.columns.iter().filter(|c| c.one_for_all) {
            region[c.place..c.place + c.len].copy_from_slice(values(c));
        }
        let pieces: Vec<(usize, usize)> = self
            .bounds
            .windows(2)
            .map(|w| (w[0], w[1]))
            .filter(|(start, stop)| stop > start)
            .collect();
        let (slots, slot_bytes) = self.ring;
        let (out_at, out_size) = self.out;
        let mut replies = Vec::with_capacity(pieces.len());
        let mut heads = Vec::with_capacity(self.columns.len());
        let mut message = Vec::new();
        for (k, &(start, stop)) in pieces.iter().enumerate() {
            // The slot this piece goes to is free once the piece before in
            // it has its reply.
            if k >= slots && !self.read_reply(socket, deadline, &mut replies)? {
                return Ok(replies);
            }
            let slot = (k % slots) * slot_bytes;
            heads.clear();
            for c in self.columns {
                if c.one_for_all {
                    heads.push(Head {
                        one_for_all: true,
                        region: self.region_id,
                        count: 1,
                        at: c.place as u64,
                    });
                    continue;
                }
                let (from, to) = (start * c.size, stop * c.size);
                let at = if c.ringed(self.region_id) {
                    let at = c.place + slot;
                    region[at..at + (to - from)].copy_from_slice(&values(c)[from..to]);
                    at
                } else {
                    c.place + from
                };
                heads.push(Head {
                    one_for_all: false,
                    region: c.home,
                    count: (stop - start) as u64,
                    at: at as u64,
                });
            }
            call_message(
                &mut message,
                self.name,
                &heads,
                start as u64,
                (self.region_id, (out_at + start * out_size) as u64),
            );
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::from(io::ErrorKind::TimedOut).into());
            }
            socket.set_write_timeout(Some(left))?;
            socket.write_all(&message)?;
        }
        while replies.len() < pieces.len() {
            if !self.read_reply(socket, deadline, &mut replies)? {
                break;
            }
        }
        Ok(replies)
    }

    /// Reads the next reply into `replies`; `false` when it is one after
    /// which nothing more is read (see [`shared_call`]).
    fn read_reply(
        &self,
        socket: &UnixStream,
        deadline: Instant,
        replies: &mut Vec<Vec<u8>>,
    ) -> Result<bool, Stop> {
        let mut reply = vec![0; REPLY];
        receive(socket, &mut reply, deadline, self.spins)?;
        let shared_memory = reply[..4] == *b"OXB\x03";
        let status = reply[4];
        let length = u64::from_le_bytes(reply[8..16].try_into().expect("8 bytes"));
        let body = usize::try_from(length).ok().filter(|&b| b <= self.max_body);
        let go_on = shared_memory && (status == 0 || body.is_some());
        if go_on && status != 0 {
            let body = body.expect("checked");
            reply.resize(REPLY + body, 0);
            receive(socket, &mut reply[REPLY..], deadline, 0)?;
        }
        replies.push(reply);
        Ok(go_on)
    }
}

/// Fills `buf` from `socket`: `spins` polls first, then waits, Python's
/// signal handlers running every [`SIGNAL_CHECK`] of the wait.
fn receive(
    socket: &UnixStream,
    buf: &mut [u8],
    deadline: Instant,
    spins: usize,
) -> Result<(), Stop> {
    let fd = socket.as_raw_fd();
    let (mut got, mut spins) = (0, spins);
    while got < buf.len() {
        let rest = &mut buf[got..];
        // SAFETY: `rest` is writable for its length; `fd` is open.
        let n = unsafe { libc::recv(fd, rest.as_mut_ptr().cast(), rest.len(), libc::MSG_DONTWAIT) };
        if n > 0 {
            got += n.unsigned_abs();
            continue;
        }
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock if spins > 0 => {
                spins -= 1;
                std::hint::spin_loop();
            }
            io::ErrorKind::WouldBlock => wait(fd, deadline)?,
            io::ErrorKind::Interrupted => signals()?,
            _ => return Err(e.into()),
        }
    }
    Ok(())
}

/// Waits until `fd` has something to read (or an error, or the end), for
/// at most [`SIGNAL_CHECK`]: then Python's signal handlers run.
fn wait(fd: i32, deadline: Instant) -> Result<(), Stop> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::Error::from(io::ErrorKind::TimedOut).into());
    }
    let slice = left.min(SIGNAL_CHECK);
    // Rounded up: a wait of 0 ms would spin.
    let ms = i32::try_from(slice.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
    let mut poll = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&raw mut poll, 1, ms) };
    match ready {
        0 => signals(),
        n if n > 0 => Ok(()),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                signals()
            } else {
                Err(e.into())
            }
        }
    }
}

/// Runs Python's signal handlers (in the main thread); their exception
/// stops the call.
fn signals() -> Result<(), Stop> {
    Python::attach(|py| py.check_signals()).map_err(Stop::Python)
}

/// `object`'s buffer as contiguous bytes.
fn contiguous(object: &Bound<'_, PyAny>) -> PyResult<PyBuffer<u8>> {
    let buffer = PyBuffer::<u8>::get(object)?;
    if !buffer.is_c_contiguous() {
        return Err(PyValueError::new_err(
            "a shared-memory operand must be contiguous",
        ));
    }
    Ok(buffer)
}
