//! The regions one peer attached to its connection, each under the small
//! number the peer gave it, so that one call may read its operands from
//! several of them (an array the peer keeps in shared memory, a result of
//! an earlier call) and write its results into another.

use std::ops::Range;
use std::os::fd::OwnedFd;

use crate::{Region, RegionError};

/// A peer's regions by id, at most `limit` bytes in all. No file is
/// attached twice, so no two regions share memory: the one writable slice
/// a call gets is apart from all it reads.
#[derive(Debug)]
pub struct Regions {
    slots: Vec<(u8, Region)>,
    limit: usize,
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

    /// Maps `fd` (see [`Region::map`]) as region `id`, in place of the region
    /// that had that id, if any.
    ///
    /// # Errors
    /// [`RegionError::TooLarge`] when it does not fit in what the other
    /// regions leave of the limit; [`RegionError::Unusable`] as for
    /// [`Region::map`], or when its file is already attached under another id.
    pub fn attach(&mut self, id: u8, fd: OwnedFd) -> Result<(), RegionError> {
        self.detach(id);
        let used: usize = self.slots.iter().map(|(_, r)| r.len()).sum();
        let region = Region::map(fd, self.limit.saturating_sub(used))?;
        if let Some((other, _)) = self.slots.iter().find(|(_, r)| r.file() == region.file()) {
            return Err(RegionError::Unusable(format!(
                "its file is already attached as region {other}"
            )));
        }
        self.slots.push((id, region));
        Ok(())
    }

    /// Unmaps region `id`; whether there was one.
    pub fn detach(&mut self, id: u8) -> bool {
        let before = self.slots.len();
        self.slots.retain(|(i, _)| *i != id);
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
        self.slots.iter().find(|(i, _)| *i == id).map(|(_, r)| r)
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
