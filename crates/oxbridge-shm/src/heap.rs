//! glibc's heap, set up for a server's large buffers.

/// Allocations below this come from the heap, not each from a mapping of its own.
const MMAP_THRESHOLD: i32 = 32 << 20;

/// The free memory an arena keeps at its top before it gives it back.
const TRIM_THRESHOLD: i32 = 64 << 20;

/// The most arenas malloc makes (glibc's default is eight per core). Only
/// the main arena's top can be given back when the server is quiet
/// ([`give_back`]); every other arena that served a large call keeps up to
/// [`TRIM_THRESHOLD`] of free memory at its top for good. Measured here
/// after 48 batches of 2.5e6 elements on every bridge at once: 100 MiB
/// resident after the trim with the default, 46 MiB with two arenas, 25
/// with one (the idle server's own), 1e6 batches as fast with each.
const ARENA_MAX: i32 = 2;

/// Has `malloc` serve a batch's buffers (a request's pieces of up to 1 MiB,
/// a reply of tens of MiB) from its heap, reusing what earlier calls freed.
///
/// By default glibc maps each allocation above a threshold (128 KiB, rising
/// to at most 32 MiB as such blocks are freed) on its own and unmaps it when
/// freed, and it hands back free memory at the top of the heap above 128
/// KiB: every large call then faults in and zeroes fresh pages, 10-15% of
/// the server's CPU on a 1e6-element batch. What an arena keeps stays below
/// [`TRIM_THRESHOLD`], in at most [`ARENA_MAX`] arenas. Elsewhere than
/// glibc, nothing changes.
pub fn keep_large_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets malloc's parameters, under malloc's own lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
        libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX);
    }
}

/// Gives the free memory of every arena back to the system (glibc's
/// `malloc_trim`): what a load left in the heap, once it is over. It walks
/// every arena, so it is for a quiet moment, off any request's path.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory, under malloc's locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Bytes malloc holds in mappings of their own.
    fn mapped() -> usize {
        // SAFETY: mallinfo2 only reads malloc's counters.
        unsafe { libc::mallinfo2() }.hblkhd
    }

    #[test]
    fn a_reply_sized_buffer_comes_from_the_heap() {
        keep_large_buffers();
        let before = mapped();
        let reply = vec![1_u8; 16 << 20];
        assert_eq!(mapped(), before, "16 MiB were mapped on their own");
        drop(reply);
    }
}
