//! The regions one peer attached to its connection, each under the small
//! number the peer gave it, so that one call may read its operands from
//! several of them (an array the peer keeps in shared memory, a result of
//! an earlier call) and write its results into another.

use std::ops::Range;
use std::os::fd::OwnedFd;

use crate::region::{Checked, Region, RegionError};

/// The most regions one peer may have attached at once: each is a mapping
/// of the server's, and the kernel allows a process some 65,000 in all.
pub const MAX_PER_PEER: usize = 32;

/// A peer's regions by id, at most `limit` bytes in all. No file is
/// attached twice, so no two regions share memory: the one writable slice
/// a call gets is apart from all it reads.
#[derive(Debug)]
pub struct Regions {
    slots: Vec<Slot>,
    limit: usize,
}

/// What a region holds while it is attached (the server's share of its
/// memory budget, say), dropped with the region: whatever the caller gives
/// [`Regions::attach_checked`].
pub type Lease = Box<dyn Send>;

/// One attached region, its id and its lease.
struct Slot {
    id: u8,
    region: Region,
    _lease: Lease,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Slot")
            .field(&self.id)
            .field(&self.region)
            .finish()
    }
}

impl Regions {
    /// No regions yet, and room for `limit` bytes of them.
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Regions {
            slots: Vec::new(),
            limit,
        }
    }

    /// Checks `fd` (see [`Region::check`]) for region `id`, in place of the
    /// region that had that id (unmapped now, if any), without mapping it:
    /// the caller accounts for its size, then [`Regions::attach`]es it.
    ///
    /// # Errors
    /// [`RegionError::TooLarge`] when it does not fit in what the other
    /// regions leave of the limit; [`RegionError::Unusable`] as for
    /// [`Region::check`], when its file is already attached under another
    /// id, or when [`MAX_PER_PEER`] regions are attached already.
    pub fn check(&mut self, id: u8, fd: OwnedFd) -> Result<Checked, RegionError> {
        self.detach(id);
        if self.slots.len() >= MAX_PER_PEER {
            return Err(RegionError::Full(MAX_PER_PEER));
        }
        let used: usize = self.slots.iter().map(|s| s.region.len()).sum();
        let checked = Region::check(fd, self.limit.saturating_sub(used))?;
        if let Some(other) = self
            .slots
            .iter()
            .find(|s| s.region.file() == checked.file())
        {
            return Err(RegionError::Unusable(format!(
                "its file is already attached as region {}",
                other.id
            )));
        }
        Ok(checked)
    }

    /// Checks `fd` and maps it as region `id` ([`Regions::check`], then
    /// [`Regions::attach_checked`]).
    ///
    /// # Errors
    /// As those two.
    pub fn attach(&mut self, id: u8, fd: OwnedFd) -> Result<(), RegionError> {
        let checked = self.check(id, fd)?;
        self.attach_checked(id, checked, Box::new(()))
    }

    /// Maps `checked` (from [`Regions::check`] of the same `id`) as region
    /// `id`, keeping `lease` until the region is detached or replaced, or
    /// the regions are dropped.
    ///
    /// # Errors
    /// As [`Checked::map`].
    pub fn attach_checked(
        &mut self,
        id: u8,
        checked: Checked,
        lease: Lease,
    ) -> Result<(), RegionError> {
        self.detach(id);
        let region = checked.map()?;
        self.slots.push(Slot {
            id,
            region,
            _lease: lease,
        });
        Ok(())
    }

    /// Unmaps region `id`; whether there was one.
    pub fn detach(&mut self, id: u8) -> bool {
        let before = self.slots.len();
        self.slots.retain(|s| s.id != id);
        self.slots.len() != before
    }

    /// How many regions are attached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Whether region `id` is attached.
    #[must_use]
    pub fn has(&self, id: u8) -> bool {
        self.get(id).is_some()
    }

    fn get(&self, id: u8) -> Option<&Region> {
        self.slots.iter().find(|s| s.id == id).map(|s| &s.region)
    }

    /// The bytes of `inputs` (each a range of a region), read-only, and of
    /// `out`, writable, all at once: `None` unless every range lies inside
    /// an attached region and `out` overlaps none of the inputs (inputs may
    /// overlap each other).
    #[must_use]
    pub fn split(
        &mut self,
        inputs: &[(u8, Range<usize>)],
        out: (u8, Range<usize>),
    ) -> Option<(Vec<&[u8]>, &mut [u8])> {
        let inside = |(id, r): &(u8, Range<usize>)| {
            let region = self.get(*id)?;
            (r.start <= r.end && r.end <= region.len).then_some(region.ptr.as_ptr())
        };
        let apart = |(id, r): &(u8, Range<usize>)| {
            *id != out.0
                || r.is_empty()
                || out.1.is_empty()
                || r.end <= out.1.start
                || out.1.end <= r.start
        };
        let out_base = inside(&out)?;
        let mut bases = Vec::with_capacity(inputs.len());
        for input in inputs {
            bases.push(inside(input).filter(|_| apart(input))?);
        }
        let ins = inputs
            .iter()
            .zip(bases)
            // SAFETY: in bounds of a live mapping (checked above); shared,
            // read-only borrows of `self`, disjoint from the one writable
            // borrow below (the same region: checked; another region: other
            // memory, as no file is attached twice).
            .map(|((_, r), base)| unsafe { std::slice::from_raw_parts(base.add(r.start), r.len()) })
            .collect();
        // SAFETY: in bounds and disjoint from every input (above); `&mut
        // self` makes it the only writable borrow of any region.
        let out = unsafe { std::slice::from_raw_parts_mut(out_base.add(out.1.start), out.1.len()) };
        Some((ins, out))
    }
}
