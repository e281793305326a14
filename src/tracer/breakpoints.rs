//! The breakpoint table and the int3 bytes it puts into the target.
//!
//! int3 bytes are in memory only while the process runs. Every all-stop takes them out again,
//! so that at rest the target's text is exactly its own: memory reads need no masking and a
//! `kill -9` of ptscope leaves no trap behind.

use super::error::{Result, TraceError};
use super::event::BreakpointInfo;
use super::memory::Memory;
use std::collections::BTreeMap;

pub const INT3: u8 = 0xcc;

#[derive(Clone, Debug)]
struct Breakpoint {
    original: u8,
    hits: u64,
}

#[derive(Default)]
pub struct Breakpoints {
    table: BTreeMap<u64, Breakpoint>,
    inserted: bool,
}

impl Breakpoints {
    pub fn contains(&self, addr: u64) -> bool {
        self.table.contains_key(&addr)
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn inserted(&self) -> bool {
        self.inserted
    }

    pub fn addresses(&self) -> impl Iterator<Item = u64> + '_ {
        self.table.keys().copied()
    }

    /// Records a breakpoint; the caller has checked the address is executable and the process
    /// is stopped (so memory holds the original byte).
    pub fn add(&mut self, mem: &Memory, addr: u64) -> Result<()> {
        if self.table.contains_key(&addr) {
            return Err(TraceError::BreakpointExists(addr));
        }
        let original = *mem
            .read(addr, 1)
            .first()
            .ok_or(TraceError::NotMapped(addr))?;
        if self.inserted {
            mem.write(addr, &[INT3])?;
        }
        self.table.insert(addr, Breakpoint { original, hits: 0 });
        Ok(())
    }

    pub fn remove(&mut self, mem: &Memory, addr: u64) -> Result<()> {
        let bp = self
            .table
            .remove(&addr)
            .ok_or(TraceError::NoBreakpoint(addr))?;
        if self.inserted {
            mem.write(addr, &[bp.original])?;
        }
        Ok(())
    }

    pub fn hit(&mut self, addr: u64) {
        if let Some(bp) = self.table.get_mut(&addr) {
            bp.hits += 1;
        }
    }

    pub fn insert_all(&mut self, mem: &Memory) -> Result<()> {
        if self.inserted {
            return Ok(());
        }
        for addr in self.table.keys() {
            mem.write(*addr, &[INT3])?;
        }
        self.inserted = true;
        Ok(())
    }

    /// Puts back every original byte. Keeps going past a failed write so that as many bytes as
    /// possible are restored, and reports the first failure.
    pub fn remove_all(&mut self, mem: &Memory) -> Result<()> {
        if !self.inserted {
            return Ok(());
        }
        let mut first_err = None;
        for (addr, bp) in &self.table {
            if let Err(e) = mem.write(*addr, &[bp.original]) {
                first_err.get_or_insert(e);
            }
        }
        self.inserted = false;
        first_err.map_or(Ok(()), Err)
    }

    /// Restores the original bytes in another address space: a child forked while our int3
    /// bytes were in memory.
    pub fn restore_into(&self, child: &Memory) -> Result<()> {
        for (addr, bp) in &self.table {
            child.write(*addr, &[bp.original])?;
        }
        Ok(())
    }

    /// Forgets that int3 bytes are in memory without writing (after exec the image is new).
    pub fn clear(&mut self) {
        self.table.clear();
        self.inserted = false;
    }

    /// Marks the bytes as not inserted: a vfork child sharing our memory got them restored.
    pub fn mark_removed(&mut self) {
        self.inserted = false;
    }

    pub fn info(&self) -> Vec<BreakpointInfo> {
        self.table
            .iter()
            .map(|(addr, bp)| BreakpointInfo {
                addr: *addr,
                hits: bp.hits,
                rule: None,
            })
            .collect()
    }

    /// Keeps a memory write coherent with the table: while int3 bytes are in, a write over a
    /// breakpoint changes the saved original byte and the int3 stays.
    pub fn overlay_write(&mut self, addr: u64, bytes: &mut [u8]) {
        for (bp_addr, bp) in self
            .table
            .range_mut(addr..addr.saturating_add(bytes.len() as u64))
        {
            let i = (bp_addr - addr) as usize;
            bp.original = bytes[i];
            if self.inserted {
                bytes[i] = INT3;
            }
        }
    }

    /// Hides our int3 bytes from a read made while they are in memory.
    pub fn mask_read(&self, addr: u64, bytes: &mut [u8]) {
        if !self.inserted {
            return;
        }
        for (bp_addr, bp) in self
            .table
            .range(addr..addr.saturating_add(bytes.len() as u64))
        {
            bytes[(bp_addr - addr) as usize] = bp.original;
        }
    }
}
