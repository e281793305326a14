//! Typed errors of the tracer. Kernel errno values are turned into what they mean for the user
//! here, at the one place that knows which call failed.

use super::thread::Tid;
use thiserror::Error;

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum TraceError {
    #[error("no such process: {0}")]
    NoSuchProcess(i32),
    #[error("permission denied for process {pid}: {reason}")]
    PermissionDenied { pid: i32, reason: String },
    #[error("process {pid} is already traced by PID {tracer} ({tracer_name})")]
    AlreadyTraced {
        pid: i32,
        tracer: i32,
        tracer_name: String,
    },
    #[error("process {0} is not a user process (kernel thread)")]
    NotUserProcess(i32),
    #[error("refusing to trace ptscope itself ({0})")]
    IsSelf(i32),
    #[error("thread {0} exited")]
    ThreadExited(Tid),
    #[error("no thread {0} in the traced process")]
    NoSuchThread(Tid),
    #[error("{0}")]
    WrongState(String),
    #[error("a breakpoint already exists at {0:#x}")]
    BreakpointExists(u64),
    #[error("no breakpoint at {0:#x}")]
    NoBreakpoint(u64),
    #[error("address {0:#x} is not mapped in the process")]
    NotMapped(u64),
    #[error("address {0:#x} is not in an executable mapping")]
    NotExecutable(u64),
    #[error("cannot read memory at {addr:#x} ({read} of {len} bytes readable)")]
    Unreadable { addr: u64, len: usize, read: usize },
    #[error("cannot write memory at {addr:#x}: {reason}")]
    Unwritable { addr: u64, reason: String },
    #[error("unknown register {0:?}")]
    UnknownRegister(String),
    #[error("{0} is read-only here: a 64-bit thread's code and stack selectors are the kernel's")]
    ReadOnlyRegister(String),
    #[error("the kernel refused {name} = {value:#x} ({op}: {errno})")]
    RegisterRefused {
        name: String,
        value: u64,
        op: &'static str,
        errno: nix::errno::Errno,
    },
    #[error("a watchpoint covers 1, 2, 4 or 8 bytes, not {0}")]
    WatchLength(u8),
    #[error("cannot watch {len} bytes at {addr:#x}: the address must be a multiple of {len} (x86 debug registers)")]
    WatchMisaligned { addr: u64, len: u8 },
    #[error("all 4 debug registers (DR0-DR3) are in use: delete a watchpoint first")]
    WatchpointsFull,
    #[error("a watchpoint already exists at {0:#x}")]
    WatchpointExists(u64),
    #[error("no watchpoint at {0:#x}")]
    NoWatchpoint(u64),
    #[error("the process has exited")]
    ProcessExited,
    #[error("the tracer has detached")]
    Detached,
    #[error("cannot launch {program}: {reason}")]
    Launch { program: String, reason: String },
    #[error("{op} failed: {errno}")]
    Os {
        op: &'static str,
        errno: nix::errno::Errno,
    },
    #[error("the tracer thread is gone")]
    TracerGone,
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

impl TraceError {
    /// ESRCH from a ptrace call on a thread means it exited (or is exiting) under us.
    pub fn from_thread_errno(op: &'static str, tid: Tid, e: nix::errno::Errno) -> Self {
        if e == nix::errno::Errno::ESRCH {
            TraceError::ThreadExited(tid)
        } else {
            TraceError::Os { op, errno: e }
        }
    }
}

impl TraceError {
    /// Something the user can act on (a wrong pid, a process that may not be traced or is
    /// traced already, a program that will not start, one that exited): said in one line.
    /// Everything else is ptscope's own machinery failing.
    pub fn is_expected(&self) -> bool {
        matches!(
            self,
            TraceError::NoSuchProcess(_)
                | TraceError::PermissionDenied { .. }
                | TraceError::AlreadyTraced { .. }
                | TraceError::NotUserProcess(_)
                | TraceError::IsSelf(_)
                | TraceError::Launch { .. }
                | TraceError::ProcessExited
        )
    }
}

pub type Result<T, E = TraceError> = std::result::Result<T, E>;
