//! What the analysis reads, as plain data: per thread, the kernel view taken before the stop,
//! the stack walked during it and how long it had been off the CPU; per process, the memory
//! read while every thread held still and what /proc said about descriptors and sockets.

use crate::procinfo::fds::{FdEntry, FdInfo, Holder};
use crate::procinfo::net::SocketTable;
use crate::procinfo::ThreadKernelView;
use crate::regs::Registers;
use crate::symbols::Frame;
use crate::tracer::Tid;
use std::collections::BTreeMap;

/// One thread, as the analysis sees it.
#[derive(Clone, Copy, Debug)]
pub struct ThreadInput<'a> {
    pub tid: Tid,
    /// Untrusted text: sanitise before a terminal.
    pub name: &'a str,
    /// Read before the stop; None when the thread appeared after that read.
    pub kernel: Option<&'a ThreadKernelView>,
    /// Innermost first; empty when the stack was not walked.
    pub frames: &'a [Frame],
    /// At the stop.
    pub regs: Option<&'a Registers>,
    pub off_cpu_ms: Option<u64>,
    /// /proc/.../stack, read before the stop for threads in D state.
    pub kstack: Option<&'a [String]>,
}

/// Target memory read while the process was stopped: a few words per waiting thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemWords {
    ranges: BTreeMap<u64, Vec<u8>>,
}

impl MemWords {
    pub fn insert(&mut self, addr: u64, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.ranges.insert(addr, bytes);
        }
    }

    /// `len` bytes at `addr`, when one read covered them all.
    pub fn bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let (start, b) = self.ranges.range(..=addr).rev().find(|(s, b)| {
            addr.checked_sub(**s)
                .is_some_and(|off| off as usize + len <= b.len())
        })?;
        let off = (addr - start) as usize;
        b.get(off..off + len)
    }

    pub fn u32(&self, addr: u64) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(addr, 4)?.try_into().ok()?))
    }

    pub fn i32(&self, addr: u64) -> Option<i32> {
        self.u32(addr).map(|v| v as i32)
    }

    pub fn u64(&self, addr: u64) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(addr, 8)?.try_into().ok()?))
    }
}

/// A data symbol an address falls in: `queue_cv`, or `queue+0x28`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSymbol {
    pub name: String,
    pub offset: u64,
}

/// Who a recorded owner tid is, when it is not a live thread of the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Elsewhere {
    /// No task has that id any more.
    Gone,
    /// A thread of another process (a process-shared lock, or the id was reused).
    Process { pid: i32, comm: String },
}

/// What /proc and the symbols said after the detach, for the waits found.
#[derive(Clone, Debug, Default)]
pub struct ProcessFacts {
    pub pid: i32,
    /// Every thread in the dump.
    pub live: std::collections::BTreeSet<Tid>,
    pub names: BTreeMap<Tid, String>,
    pub fds: BTreeMap<i32, FdEntry>,
    pub fdinfo: BTreeMap<i32, FdInfo>,
    pub sockets: SocketTable,
    /// Holders of the pipes and sockets waited on (and of local TCP peers), by inode.
    pub holders: BTreeMap<u64, Vec<Holder>>,
    /// Whether the search for holders went over every process.
    pub holders_complete: bool,
    pub symbols: BTreeMap<u64, DataSymbol>,
    pub elsewhere: BTreeMap<Tid, Elsewhere>,
    pub children: BTreeMap<Tid, Vec<i32>>,
}
