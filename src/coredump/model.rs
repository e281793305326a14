//! What a core file says, as plain values: the process, each thread, the mapped files and the
//! memory segments. The notes and the ELF writer turn this into bytes; nothing here reads
//! /proc or the process.

use crate::procinfo::core_facts::CpuTimes;
use crate::regs::Registers;

/// Everything except the memory contents, which are too big to carry here (see `copy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreImage {
    pub process: ProcessNote,
    /// In note order. The first is the thread a debugger selects when it opens the core: the
    /// one holding a signal if any, else the leader.
    pub threads: Vec<ThreadNote>,
    /// /proc/PID/auxv verbatim.
    pub auxv: Vec<u8>,
    /// Every file-backed mapping, for NT_FILE.
    pub files: Vec<FileNote>,
    /// One PT_LOAD each, in address order.
    pub segments: Vec<Segment>,
}

/// NT_PRPSINFO's facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessNote {
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub sid: i32,
    pub uid: u32,
    pub gid: u32,
    /// The stat state letter before the stop.
    pub state: char,
    pub nice: i64,
    pub flags: u64,
    /// comm (at most 15 bytes are kept, as the kernel keeps).
    pub comm: Vec<u8>,
    /// The NUL-separated command line (the first 79 bytes are kept, NULs turned to spaces).
    pub cmdline: Vec<u8>,
}

/// NT_PRSTATUS (plus the register sets that follow it) of one thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadNote {
    pub tid: i32,
    pub regs: Registers,
    /// The signal the thread holds and will receive when it resumes (0 for none).
    pub cursig: i32,
    /// SigPnd and SigBlk, bit `sig - 1` per signal.
    pub sigpend: u64,
    pub sighold: u64,
    pub times: CpuTimes,
    pub sets: RegisterSets,
}

/// What only PTRACE_GETREGSET / PTRACE_GETSIGINFO on the tracer thread can read
/// (`Command::ReadRegisterSets`); defined by the tracer, which reads them.
pub use crate::tracer::regsets::{RegisterSets, FPREGS_SIZE, SIGINFO_SIZE};

/// One NT_FILE entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileNote {
    pub start: u64,
    pub end: u64,
    /// The mapping's offset in the file, in pages.
    pub page_offset: u64,
    /// As /proc/PID/maps names it (with " (deleted)" when the file was removed).
    pub path: Vec<u8>,
}

/// PF_X, PF_W, PF_R as ELF spells them.
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

/// One mapping, as a PT_LOAD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub start: u64,
    pub end: u64,
    pub flags: u32,
    /// How many bytes from `start` the file holds (p_filesz): the whole mapping, its first
    /// page, or nothing.
    pub dump_len: u64,
}

impl Segment {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// PF_* bits from a maps permission string such as `r-xp`.
    pub fn flags_from_perms(perms: &[u8; 4]) -> u32 {
        let mut f = 0;
        if perms[0] == b'r' {
            f |= PF_R;
        }
        if perms[1] == b'w' {
            f |= PF_W;
        }
        if perms[2] == b'x' {
            f |= PF_X;
        }
        f
    }
}

/// A range of memory the file holds, and where: `at` counts from the start of the data area
/// (the first PT_LOAD's p_offset). What no extent covers in a segment's `dump_len` is a hole
/// in the file and reads as zeros: never-written anonymous pages, as in the kernel's cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub addr: u64,
    pub len: u64,
    pub at: u64,
}
