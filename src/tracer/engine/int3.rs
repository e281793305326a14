//! Our int3 bytes going into and out of the target's memory, published to direct readers.
//!
//! `TracerHandle::read_memory` reads on the caller's thread without asking us; it trusts a
//! read only between two equal even values of `Shared::text_seq`, which is odd from just before
//! the bytes go in until they are all out again.

use super::Engine;
use crate::tracer::error::Result;
use std::sync::atomic::Ordering;

impl Engine {
    /// int3 bytes go in only through here: the sequence turns odd first, so a direct reader
    /// (`TracerHandle::read_memory`) never trusts a read that may hold one of them.
    pub(super) fn insert_breakpoints(&mut self) -> Result<()> {
        if self
            .shared
            .text_seq
            .load(Ordering::Acquire)
            .is_multiple_of(2)
        {
            self.shared.text_seq.fetch_add(1, Ordering::AcqRel);
        }
        self.bps.insert_all(&self.mem)
    }

    /// After the bytes were taken out (or the image they were in is gone): even again.
    pub(super) fn text_restored(&mut self) {
        if !self.bps.inserted()
            && !self
                .shared
                .text_seq
                .load(Ordering::Acquire)
                .is_multiple_of(2)
        {
            self.shared.text_seq.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub(super) fn remove_breakpoints(&mut self) -> Result<()> {
        let r = self.bps.remove_all(&self.mem);
        self.text_restored();
        r
    }
}
