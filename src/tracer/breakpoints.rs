//! The breakpoint table and the int3 bytes it puts into the target.
//!
//! int3 bytes are in memory only while the process runs. Every all-stop takes them out again,
//! so that at rest the target's text is exactly its own: memory reads need no masking and a
//! `kill -9` of ptscope leaves no trap behind.
//!
//! A temporary breakpoint (the return address a step over or a finish runs to) lives in the
//! same table under the same rules; it is not the user's, so it is not listed and its hits are
//! not counted. One address can be both.

use super::error::{Result, TraceError};
use super::event::BreakpointInfo;
use super::memory::Memory;
use std::collections::BTreeMap;

pub const INT3: u8 = 0xcc;

/// Who wants an int3 at an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    User,
    /// A stepping command's, until that command ends.
    Temporary,
    Both,
}

#[derive(Clone, Debug)]
struct Breakpoint {
    original: u8,
    hits: u64,
    owner: Owner,
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
        match self.table.get_mut(&addr) {
            Some(bp) if bp.owner == Owner::Temporary => {
                bp.owner = Owner::Both;
                Ok(())
            }
            Some(_) => Err(TraceError::BreakpointExists(addr)),
            None => self.insert_new(mem, addr, Owner::User),
        }
    }

    pub fn remove(&mut self, mem: &Memory, addr: u64) -> Result<()> {
        match self.table.get(&addr).map(|b| b.owner) {
            None | Some(Owner::Temporary) => Err(TraceError::NoBreakpoint(addr)),
            Some(Owner::Both) => {
                if let Some(bp) = self.table.get_mut(&addr) {
                    bp.owner = Owner::Temporary;
                }
                Ok(())
            }
            Some(Owner::User) => self.take_out(mem, addr),
        }
    }

    /// A stepping command's breakpoint, under the same rules as the user's.
    pub fn add_temporary(&mut self, mem: &Memory, addr: u64) -> Result<()> {
        match self.table.get_mut(&addr) {
            Some(bp) => {
                if bp.owner == Owner::User {
                    bp.owner = Owner::Both;
                }
                Ok(())
            }
            None => self.insert_new(mem, addr, Owner::Temporary),
        }
    }

    /// The stepping command has ended: its breakpoint goes, unless the user has one there.
    pub fn remove_temporary(&mut self, mem: &Memory, addr: u64) -> Result<()> {
        match self.table.get(&addr).map(|b| b.owner) {
            Some(Owner::Temporary) => self.take_out(mem, addr),
            Some(Owner::Both) => {
                if let Some(bp) = self.table.get_mut(&addr) {
                    bp.owner = Owner::User;
                }
                Ok(())
            }
            // Gone already (an exec dropped the table).
            Some(Owner::User) | None => Ok(()),
        }
    }

    /// Whether the user has a breakpoint at `addr` (not only a stepping command).
    pub fn is_users(&self, addr: u64) -> bool {
        self.table
            .get(&addr)
            .is_some_and(|b| b.owner != Owner::Temporary)
    }

    fn insert_new(&mut self, mem: &Memory, addr: u64, owner: Owner) -> Result<()> {
        let original = *mem
            .read(addr, 1)
            .first()
            .ok_or(TraceError::NotMapped(addr))?;
        if self.inserted {
            mem.write(addr, &[INT3])?;
        }
        self.table.insert(
            addr,
            Breakpoint {
                original,
                hits: 0,
                owner,
            },
        );
        Ok(())
    }

    fn take_out(&mut self, mem: &Memory, addr: u64) -> Result<()> {
        let bp = self
            .table
            .remove(&addr)
            .ok_or(TraceError::NoBreakpoint(addr))?;
        if self.inserted {
            mem.write(addr, &[bp.original])?;
        }
        Ok(())
    }

    /// A user's breakpoint was hit (a temporary one's hits are not counted).
    pub fn hit(&mut self, addr: u64) {
        if let Some(bp) = self.table.get_mut(&addr) {
            if bp.owner != Owner::Temporary {
                bp.hits += 1;
            }
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

    /// The user's breakpoints.
    pub fn info(&self) -> Vec<BreakpointInfo> {
        self.table
            .iter()
            .filter(|(_, bp)| bp.owner != Owner::Temporary)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A table over a buffer of this very process: /proc/self/mem writes like a tracee's.
    fn setup() -> (Memory, Box<[u8; 4]>, u64) {
        let buf = Box::new([0x55u8, 0x48, 0x89, 0xe5]);
        let addr = buf.as_ptr() as u64;
        let mem = Memory::open(std::process::id() as i32).expect("own memory");
        (mem, buf, addr)
    }

    fn byte(buf: &[u8; 4], i: usize) -> u8 {
        // SAFETY: a live buffer written behind the compiler's back through /proc/self/mem.
        unsafe { std::ptr::read_volatile(&buf[i]) }
    }

    #[test]
    fn a_temporary_breakpoint_is_in_memory_like_any_but_never_listed_or_counted() {
        let (mem, buf, addr) = setup();
        let mut b = Breakpoints::default();
        b.add_temporary(&mem, addr + 1).unwrap();
        assert!(b.contains(addr + 1) && !b.is_users(addr + 1));
        assert!(b.info().is_empty(), "not the user's");
        b.insert_all(&mem).unwrap();
        assert_eq!(byte(&buf, 1), INT3);
        let mut read = mem.read(addr, 4);
        b.mask_read(addr, &mut read);
        assert_eq!(read, [0x55, 0x48, 0x89, 0xe5], "hidden from reads");
        b.hit(addr + 1);
        b.remove_temporary(&mem, addr + 1).unwrap();
        assert_eq!(byte(&buf, 1), 0x48, "original byte back");
        assert!(!b.contains(addr + 1));
        b.remove_all(&mem).unwrap();
    }

    #[test]
    fn a_user_and_a_temporary_breakpoint_share_an_address() {
        let (mem, buf, addr) = setup();
        let mut b = Breakpoints::default();
        b.add(&mem, addr).unwrap();
        b.add_temporary(&mem, addr).unwrap();
        b.insert_all(&mem).unwrap();
        // The step ends: the user's stays, in memory.
        b.remove_temporary(&mem, addr).unwrap();
        assert_eq!(byte(&buf, 0), INT3);
        assert_eq!(b.info().len(), 1);
        // The other way round: the user deletes theirs while a step still needs it.
        b.add_temporary(&mem, addr).unwrap();
        b.remove(&mem, addr).unwrap();
        assert!(b.info().is_empty() && b.contains(addr));
        assert_eq!(byte(&buf, 0), INT3, "the step still needs it");
        assert_eq!(b.remove(&mem, addr), Err(TraceError::NoBreakpoint(addr)));
        b.add(&mem, addr).unwrap();
        b.hit(addr);
        assert_eq!(b.info()[0].hits, 1);
        b.remove_all(&mem).unwrap();
        assert_eq!(byte(&buf, 0), 0x55);
    }
}
