//! The IPC client's half of a batch over shared memory (the protocol is
//! `oxbridge_server::frames::shared`; the regions and the replies are
//! `python/oxbridge/bridges/_shared.py`'s): each piece of the operands copied
//! into the call's region, then its call message sent, piece after piece
//! with the GIL released, so that the server computes one piece while this
//! thread copies the next. An operand that already lies in another region
//! the server has (an array made in shared memory, an earlier result) is
//! named where it is, and not copied.
//!
//! In Python this loop cost about 20 µs a piece in interpreter and numpy
//! overhead, on the thread that is a large batch's critical path.

use std::io::{self, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use oxbridge_server::frames::shared::{call_message, Head};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

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
    /// Its first byte's place in that region.
    place: usize,
}

/// Copies the operands of a shared-memory call into `region` (the server's
/// region `region_id`), a piece at a time, and sends each piece's call
/// message on the socket `fd`.
///
/// `columns` holds each argument as `(bytes, value size, one for all,
/// region id, place in that region)`: in region `region_id` it is copied
/// there; in another it is there already, and is not copied. Piece `k`
/// covers elements `bounds[k]..bounds[k + 1]`, its results going to
/// `out_at + bounds[k] * out_size` in the call's region. The whole call
/// must end within `seconds`: each send may block only for what is left.
///
/// # Errors
/// `ValueError` when a buffer is not contiguous bytes, the region is
/// read-only or too small, or the bounds do not fit the operands; the
/// socket's error as `OSError` (`TimeoutError` once `seconds` have passed,
/// `BlockingIOError` when a send waited that long).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn send_shared_call(
    py: Python<'_>,
    fd: i32,
    seconds: f64,
    region: &Bound<'_, PyAny>,
    region_id: u8,
    name: &str,
    columns: Vec<(Bound<'_, PyAny>, usize, bool, u8, usize)>,
    bounds: Vec<usize>,
    out_at: usize,
    out_size: usize,
) -> PyResult<()> {
    let deadline =
        Instant::now() + Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX);
    let region = contiguous(region)?;
    if region.readonly() {
        return Err(PyValueError::new_err("the region must be writable"));
    }
    let (base, room) = (region.buf_ptr() as usize, region.len_bytes());
    let n = bounds.last().copied().unwrap_or(0);
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
        let copied = column.home == region_id;
        let fits = count.checked_mul(column.size) == Some(column.len)
            && (!copied
                || column
                    .place
                    .checked_add(column.len)
                    .is_some_and(|end| end <= room))
            && apart;
        if !fits {
            return Err(PyValueError::new_err(
                "an operand does not fit its place in the region",
            ));
        }
        plan.push(column);
        exports.push(values);
    }
    let in_order = bounds.windows(2).all(|w| w[0] <= w[1]);
    let out_fits = n
        .checked_mul(out_size)
        .and_then(|len| len.checked_add(out_at))
        .is_some_and(|end| end <= room);
    if bounds.first() != Some(&0) || !in_order || !out_fits {
        return Err(PyValueError::new_err(
            "the pieces do not fit the operands and the region",
        ));
    }
    let name = name.as_bytes();
    let sent = py.detach(|| {
        // SAFETY: the caller's socket, open until this call returns (a
        // socket is in one call's hands at a time); never closed here.
        let socket = ManuallyDrop::new(unsafe { UnixStream::from_raw_fd(fd) });
        // SAFETY: `region` is a writable contiguous export of `room` bytes,
        // held until this function returns.
        let region = unsafe { std::slice::from_raw_parts_mut(base as *mut u8, room) };
        send_pieces(
            &socket,
            deadline,
            (region, region_id),
            name,
            &plan,
            &bounds,
            (out_at, out_size),
        )
    });
    drop(exports);
    sent.map_err(PyErr::from)
}

/// The loop of [`send_shared_call`], its inputs checked.
fn send_pieces(
    mut socket: &UnixStream,
    deadline: Instant,
    (region, region_id): (&mut [u8], u8),
    name: &[u8],
    columns: &[Column],
    bounds: &[usize],
    (out_at, out_size): (usize, usize),
) -> io::Result<()> {
    let values = |c: &Column| {
        // SAFETY: a contiguous export of `len` bytes, held by the caller
        // until the loop ends; the checks put none of it in the region.
        unsafe { std::slice::from_raw_parts(c.from as *const u8, c.len) }
    };
    for c in columns.iter().filter(|c| c.one_for_all) {
        region[c.place..c.place + c.len].copy_from_slice(values(c));
    }
    let mut heads = Vec::with_capacity(columns.len());
    let mut message = Vec::new();
    for piece in bounds.windows(2) {
        let (start, stop) = (piece[0], piece[1]);
        if stop == start {
            continue;
        }
        heads.clear();
        for c in columns {
            if c.one_for_all {
                heads.push(Head {
                    one_for_all: true,
                    region: region_id,
                    count: 1,
                    at: c.place as u64,
                });
                continue;
            }
            let (from, to) = (start * c.size, stop * c.size);
            let at = c.place + from;
            if c.home == region_id {
                region[at..c.place + to].copy_from_slice(&values(c)[from..to]);
            }
            heads.push(Head {
                one_for_all: false,
                region: c.home,
                count: (stop - start) as u64,
                at: at as u64,
            });
        }
        call_message(
            &mut message,
            name,
            &heads,
            start as u64,
            (region_id, (out_at + start * out_size) as u64),
        );
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        socket.set_write_timeout(Some(left))?;
        socket.write_all(&message)?;
    }
    Ok(())
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
