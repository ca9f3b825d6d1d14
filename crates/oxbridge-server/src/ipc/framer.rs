//! Where each request in a connection's bytes ends: JSON objects found by
//! scanning (no delimiter needed), binary batch frames by their header.

use crate::codec::frames;
use crate::ground::error::CallError;

/// Where the next request in a connection's buffer ends.
#[derive(Default)]
pub(super) struct Framer {
    /// Bytes of the buffer already scanned for the current request.
    scanned: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
}

/// What the framer found in the buffer.
#[derive(Debug, PartialEq)]
pub(super) enum Scan {
    /// Only whitespace: nothing pending.
    Empty,
    /// A request starts but has not ended yet.
    Partial,
    /// A complete JSON request occupies `buffer[start..end]`.
    Json { start: usize, end: usize },
    /// A complete binary batch frame occupies `buffer[start..end]`.
    Binary { start: usize, end: usize },
    /// A binary frame of `version` has begun; it will be `total` bytes long.
    PartialBinary { total: usize, version: u8 },
    /// A binary frame header that cannot be served (bad magic, too large),
    /// to be answered in `version`.
    BadFrame(CallError, u8),
    /// The buffer does not start with a JSON object or array.
    Garbage,
    /// A complete JSON request, larger than the limit.
    TooLarge,
}

impl Framer {
    /// Scans `buf` for the end of the first request, resuming where the last
    /// call stopped: linear in the bytes received, however they are split.
    pub(super) fn scan(&mut self, buf: &[u8], limit: usize) -> Scan {
        let Some(start) = buf.iter().position(|b| !b.is_ascii_whitespace()) else {
            return Scan::Empty;
        };
        if buf[start] == frames::FIRST_BYTE {
            let Some(header) = buf.get(start..start + frames::REQUEST_HEADER) else {
                return Scan::PartialBinary {
                    total: frames::REQUEST_HEADER,
                    version: 1,
                };
            };
            let version = frames::reply_version(header);
            return match frames::frame_len(header, limit) {
                Ok(total) if buf.len() - start >= total => Scan::Binary {
                    start,
                    end: start + total,
                },
                Ok(total) => Scan::PartialBinary { total, version },
                Err(e) => Scan::BadFrame(e, version),
            };
        }
        if !matches!(buf[start], b'{' | b'[') {
            return Scan::Garbage;
        }
        let from = self.scanned.max(start);
        for (i, &b) in buf.iter().enumerate().skip(from) {
            if self.in_string {
                match (self.escaped, b) {
                    (true, _) => self.escaped = false,
                    (false, b'\\') => self.escaped = true,
                    (false, b'"') => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        *self = Framer::default();
                        return Scan::Json { start, end: i + 1 };
                    }
                }
                _ => {}
            }
        }
        self.scanned = buf.len();
        Scan::Partial
    }
}
