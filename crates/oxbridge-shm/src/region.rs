//! One region a peer passed: its descriptor checked, then mapped.

use std::ffi::c_void;
use std::fmt;
use std::os::fd::OwnedFd;
use std::ptr::NonNull;

use rustix::fs::{FileType, SealFlags};
use rustix::mm::{MapFlags, ProtFlags};

/// Why a descriptor cannot serve as a region.
#[derive(Debug, PartialEq, Eq)]
pub enum RegionError {
    /// The region is larger than the limit (both in bytes).
    TooLarge {
        /// The region's size.
        size: u64,
        /// The most the caller allows.
        limit: usize,
    },
    /// Not a usable region: why, in words.
    Unusable(String),
    /// The peer has this many regions attached already, the most it may.
    Full(usize),
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionError::TooLarge { size, limit } => write!(
                f,
                "the shared-memory region has {size} bytes, more than the {limit} allowed"
            ),
            RegionError::Unusable(why) => write!(f, "unusable shared-memory region: {why}"),
            RegionError::Full(most) => write!(
                f,
                "server busy: this connection has {most} shared-memory regions attached, \
                 the most it may; detach one"
            ),
        }
    }
}

impl std::error::Error for RegionError {}

/// A peer's memory, mapped read-write and shared, unmapped on drop.
pub struct Region {
    pub(crate) ptr: NonNull<u8>,
    pub(crate) len: usize,
    file: (u64, u64),
}

// SAFETY: the mapping belongs to this value alone in this process (nothing
// else holds its address), and every access goes through `&self`/`&mut self`.
unsafe impl Send for Region {}
// SAFETY: shared references only ever read, through slices borrowed from `&self`.
unsafe impl Sync for Region {}

/// A descriptor that passed [`Region::check`], not mapped yet: its size is
/// known, so the caller can account for it before a page is touched.
#[derive(Debug)]
pub struct Checked {
    fd: OwnedFd,
    len: usize,
    file: (u64, u64),
}

impl Checked {
    /// The region's size in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty (never: [`Region::check`] refuses empty files).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file: its device and inode (see [`Region::file`]).
    #[must_use]
    pub fn file(&self) -> (u64, u64) {
        self.file
    }

    /// Maps all of it; the descriptor is closed, the mapping stays.
    ///
    /// The pages are faulted in at once (`MAP_POPULATE`): the region's
    /// bytes are resident and charged to this process from here on, which
    /// is why the server holds them in its memory budget before mapping.
    ///
    /// # Errors
    /// [`RegionError::Unusable`] when the kernel will not map it read-write
    /// (out of mappings or address space among others).
    pub fn map(self) -> Result<Region, RegionError> {
        let Checked { fd, len, file } = self;
        // SAFETY: a fresh mapping at an address of the kernel's choosing
        // aliases nothing of ours; `len` is the file's whole size, which the
        // seal keeps from shrinking, so every page of it stays backed.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED | MapFlags::POPULATE,
                &fd,
                0,
            )
        }
        .map_err(|e| {
            RegionError::Unusable(format!(
                "cannot map it read-write: {}",
                std::io::Error::from(e)
            ))
        })?;
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| RegionError::Unusable("mapped at address 0".into()))?;
        Ok(Region { ptr, len, file })
    }
}

impl Region {
    /// Checks `fd` (see the crate's docs) and maps all of it; the descriptor
    /// is closed, the mapping stays.
    ///
    /// # Errors
    /// As [`Region::check`] and [`Checked::map`].
    pub fn map(fd: OwnedFd, limit: usize) -> Result<Region, RegionError> {
        Region::check(fd, limit)?.map()
    }

    /// Checks `fd` (see the crate's docs) without mapping it.
    ///
    /// # Errors
    /// [`RegionError::TooLarge`] above `limit` bytes; [`RegionError::Unusable`]
    /// for anything but a non-empty regular file sealed against shrinking.
    pub fn check(fd: OwnedFd, limit: usize) -> Result<Checked, RegionError> {
        let unusable = |what: &str, e: rustix::io::Errno| {
            RegionError::Unusable(format!("{what}: {}", std::io::Error::from(e)))
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| unusable("cannot stat it", e))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(RegionError::Unusable("not a memfd".into()));
        }
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        if size == 0 {
            return Err(RegionError::Unusable("it is empty".into()));
        }
        let len = match usize::try_from(size) {
            Ok(len) if len <= limit => len,
            _ => return Err(RegionError::TooLarge { size, limit }),
        };
        let seals = rustix::fs::fcntl_get_seals(&fd)
            .map_err(|_| RegionError::Unusable("not a memfd that can be sealed".into()))?;
        if !seals.contains(SealFlags::SHRINK) {
            return Err(RegionError::Unusable(
                "it is not sealed against shrinking (F_SEAL_SHRINK)".into(),
            ));
        }
        #[allow(clippy::useless_conversion)] // `dev_t` and `ino_t` vary by platform
        let file = (u64::from(stat.st_dev), u64::from(stat.st_ino));
        Ok(Checked { fd, len, file })
    }

    /// The region's size in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty (never, once mapped).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file mapped: its device and inode, the same for every
    /// descriptor of one `memfd`.
    #[must_use]
    pub fn file(&self) -> (u64, u64) {
        self.file
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in `map`, and no borrow of it can
        // outlive `self`.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast::<c_void>(), self.len) };
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Region").field("len", &self.len).finish()
    }
}
