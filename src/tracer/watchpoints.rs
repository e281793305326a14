//! The watchpoint table: at most one watch per debug register (DR0-DR3), each with the value
//! it last saw and its hit count. Which thread holds which register values is the engine's
//! (`DebugState` per tracee); this is only what ptscope wants them to hold.

use super::debugregs::{self, WatchKind, SLOTS};
use super::error::{Result, TraceError};
use super::event::WatchpointInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Watchpoint {
    pub addr: u64,
    pub len: u8,
    pub kind: WatchKind,
    pub hits: u64,
    /// The watched bytes as a little-endian number, as of the last time ptscope looked: when
    /// the watch was armed, or at its last hit.
    pub value: u64,
}

#[derive(Debug, Default)]
pub struct Watchpoints {
    slots: [Option<Watchpoint>; SLOTS],
    /// Debug registers were armed at least once: threads born since may carry a stale copy of
    /// their parent's DR7 (see `DebugState::Inherited`).
    pub ever_armed: bool,
}

impl Watchpoints {
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }

    /// Takes the lowest free debug register; returns its number.
    pub fn add(&mut self, addr: u64, len: u8, kind: WatchKind, value: u64) -> Result<usize> {
        if self.slot_of(addr).is_some() {
            return Err(TraceError::WatchpointExists(addr));
        }
        let slot = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(TraceError::WatchpointsFull)?;
        self.slots[slot] = Some(Watchpoint {
            addr,
            len,
            kind,
            hits: 0,
            value,
        });
        Ok(slot)
    }

    /// Frees the register watching `addr`; returns its number.
    pub fn remove(&mut self, addr: u64) -> Result<usize> {
        let slot = self.slot_of(addr).ok_or(TraceError::NoWatchpoint(addr))?;
        self.slots[slot] = None;
        Ok(slot)
    }

    pub fn slot_of(&self, addr: u64) -> Option<usize> {
        self.slots
            .iter()
            .position(|w| w.is_some_and(|w| w.addr == addr))
    }

    pub fn get(&self, slot: usize) -> Option<&Watchpoint> {
        self.slots.get(slot)?.as_ref()
    }

    /// DR0-DR3 as the table wants them (None: slot free).
    pub fn addresses(&self) -> [Option<u64>; SLOTS] {
        self.slots.map(|w| w.map(|w| w.addr))
    }

    /// DR7 as the table wants it.
    pub fn dr7(&self) -> u64 {
        debugregs::dr7(&self.slots.map(|w| w.map(|w| (w.kind, w.len))))
    }

    /// Every watch with its slot, to refresh the values they last saw.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut Watchpoint)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, w)| w.as_mut().map(|w| (i, w)))
    }

    /// A hit on `slot` that found `new` there: counted; returns the value seen before.
    pub fn hit(&mut self, slot: usize, new: u64) -> Option<u64> {
        let w = self.slots.get_mut(slot)?.as_mut()?;
        w.hits += 1;
        Some(std::mem::replace(&mut w.value, new))
    }

    /// Forgets every watch without touching any thread (after exec the kernel has flushed
    /// them).
    pub fn clear(&mut self) {
        self.slots = [None; SLOTS];
    }

    pub fn info(&self) -> Vec<WatchpointInfo> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                w.map(|w| WatchpointInfo {
                    slot: i as u8,
                    addr: w.addr,
                    len: w.len,
                    kind: w.kind,
                    hits: w.hits,
                    value: w.value,
                })
            })
            .collect()
    }
}

/// The little-endian number in up to 8 bytes.
pub fn value_of(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    buf[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_registers_lowest_free_first() {
        let mut t = Watchpoints::default();
        assert!(t.is_empty());
        for (i, a) in [0x1000u64, 0x2000, 0x3000, 0x4000].iter().enumerate() {
            assert_eq!(t.add(*a, 8, WatchKind::Write, 0), Ok(i));
        }
        assert_eq!(
            t.add(0x5000, 8, WatchKind::Write, 0),
            Err(TraceError::WatchpointsFull)
        );
        assert_eq!(
            t.add(0x1000, 4, WatchKind::ReadWrite, 0),
            Err(TraceError::WatchpointExists(0x1000))
        );
        assert_eq!(t.remove(0x2000), Ok(1));
        assert_eq!(t.remove(0x2000), Err(TraceError::NoWatchpoint(0x2000)));
        assert_eq!(t.add(0x6000, 4, WatchKind::ReadWrite, 0), Ok(1));
        assert_eq!(
            t.addresses(),
            [Some(0x1000), Some(0x6000), Some(0x3000), Some(0x4000)]
        );
        assert_eq!(t.dr7() & 0xff, 0b0101_0101);
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.dr7(), 0);
    }

    #[test]
    fn a_hit_counts_and_hands_back_the_value_seen_before() {
        let mut t = Watchpoints::default();
        let slot = t.add(0x1000, 8, WatchKind::Write, 0x41).unwrap();
        assert_eq!(t.hit(slot, 0x42), Some(0x41));
        assert_eq!(t.hit(slot, 0x43), Some(0x42));
        assert_eq!(t.hit(3, 0), None, "a free slot");
        let info = t.info();
        assert_eq!(info.len(), 1);
        assert_eq!((info[0].hits, info[0].value, info[0].slot), (2, 0x43, 0));
        assert_eq!(value_of(&[0x42, 0x01]), 0x142);
        assert_eq!(value_of(&[]), 0);
    }
}
