//! What crosses the channel between the tracer thread and its front ends: commands in, owned
//! events and snapshots out. Nothing here is shared or locked.

use super::error::TraceError;
use super::regsets::RegisterSets;
use super::signals::Policy;
use super::status::{ExitKind, RawStatus};
use super::thread::{StopCause, ThreadState, Tid};
use crate::regs::Registers;
use serde::Serialize;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ThreadInfo {
    pub tid: Tid,
    /// /proc comm: untrusted text from the target, sanitise before display.
    pub name: String,
    pub state: ThreadState,
    pub cause: Option<StopCause>,
    /// Registers as of the last stop; None while running or when unreadable.
    pub regs: Option<Registers>,
    /// A signal the thread holds and will receive when continued.
    pub pending_signal: Option<i32>,
    /// A zombie leader (the main thread called pthread_exit): shown, never stopped or waited for.
    pub zombie: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BreakpointInfo {
    pub addr: u64,
    pub hits: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProcessState {
    Running,
    /// Some threads are still on their way to a stop.
    Stopping,
    Stopped,
    /// Every thread is in a job-control stop sent from outside.
    GroupStopped {
        sig: i32,
    },
    Exited {
        status: ExitKind,
    },
    Detached,
}

/// A whole, consistent picture of the process, taken by the tracer thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub pid: i32,
    pub state: ProcessState,
    pub threads: Vec<ThreadInfo>,
    pub breakpoints: Vec<BreakpointInfo>,
    /// The thread whose own stop made every other thread stop.
    pub stopped_by: Option<Tid>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub tid: Tid,
    pub old: ThreadState,
    pub new: ThreadState,
    pub cause: Option<StopCause>,
    /// The wait status that caused it; None when the tracer itself moved the thread
    /// (continue, step, interrupt sent, detach).
    pub status: Option<RawStatus>,
    /// Why, in a few words, for the teaching log.
    pub note: &'static str,
}

#[derive(Clone, Debug)]
pub enum EventKind {
    /// A thread changed state (or reported a stop that left its state as it was).
    Transition(Transition),
    /// Every thread is stopped; the snapshot is the picture to show.
    AllStopped(Box<Snapshot>),
    /// Threads were resumed by a continue.
    Resumed,
    /// Something worth a log line that is no transition: a signal passed on, a forked child
    /// cleaned and released, breakpoints dropped at exec.
    Note { tid: Option<Tid>, text: String },
    /// The answer to a command sent with `TracerHandle::send`.
    Reply {
        id: u64,
        result: Result<Reply, TraceError>,
    },
    /// The whole process is gone; the tracer thread ends.
    ProcessExited(ExitKind),
    /// Every thread was detached; the tracer thread ends.
    Detached,
}

#[derive(Clone, Debug)]
pub struct Event {
    /// Monotonic order, as the kernel reported things.
    pub seq: u64,
    /// Time since the tracer started.
    pub at: Duration,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Interrupt every running thread; replied when all have stopped.
    Stop,
    /// Resume every stopped thread, stepping over breakpoints first; replied once running.
    Continue,
    /// One instruction on one thread; replied when the step has finished.
    Step {
        tid: Tid,
    },
    AddBreakpoint {
        addr: u64,
    },
    RemoveBreakpoint {
        addr: u64,
    },
    GetRegisters {
        tid: Tid,
    },
    SetRegister {
        tid: Tid,
        name: String,
        value: u64,
    },
    ReadMemory {
        addr: u64,
        len: usize,
    },
    WriteMemory {
        addr: u64,
        bytes: Vec<u8>,
    },
    Snapshot,
    /// Every stopped thread's FP/SSE state, XSAVE area and held signal's siginfo (for a core
    /// file); only while every thread is stopped.
    ReadRegisterSets,
    SetSignalPolicy {
        sig: i32,
        policy: Policy,
    },
    /// Restore every byte, pass on pending signals, detach every thread.
    Detach,
    /// Only for launched programs: kill it.
    Kill,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryRead {
    pub addr: u64,
    /// Fewer bytes than asked when the range runs into an unreadable page.
    pub bytes: Vec<u8>,
    pub requested: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Done,
    Registers(Box<Registers>),
    Memory(MemoryRead),
    Snapshot(Box<Snapshot>),
    /// Per stopped thread, in tid order.
    RegisterSets(Vec<(Tid, RegisterSets)>),
}
