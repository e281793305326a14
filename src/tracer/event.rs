//! What crosses the channel between the tracer thread and its front ends: commands in, owned
//! events and snapshots out. Nothing here is shared or locked.

use super::error::TraceError;
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
    SetSignalPolicy {
        sig: i32,
        policy: Policy,
    },
    /// Restore every byte, pass on pending signals, detach every thread.
    Detach,
    /// Only for launched programs: kill it.
    Kill,
    /// Like `Step`, but a `call` runs until it returns (a temporary int3 at the return
    /// address, every thread running); replied with `Reply::Stepped` when the thread is back.
    StepOver {
        tid: Tid,
    },
    /// Runs until the frame whose caller resumes at `return_addr` returns: a temporary int3
    /// there, and the hit counts only for `tid` with rsp at or above `cfa` (the frame's
    /// canonical frame address, where rsp is once it has returned), so recursion is told
    /// apart. Replied with `Reply::Stepped`.
    Finish {
        tid: Tid,
        return_addr: u64,
        cfa: u64,
    },
    /// Steps `tid` (over calls, as `StepOver`) until its pc leaves `ranges` ([start, end):
    /// the code of its current source line). Replied with `Reply::Stepped`.
    StepLine {
        tid: Tid,
        ranges: Vec<(u64, u64)>,
    },
}

/// How a stepping command (`StepOver`, `Finish`, `StepLine`) ended. Each ends in an all-stop
/// like any other stop; this says whether it got where it was going.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// The thread is where the command was taking it, at `pc`, after `instructions`
    /// single steps and calls run to their return.
    Arrived { pc: u64, instructions: u64 },
    /// `StepLine` gave up: still on the line after this many instructions (a loop on one
    /// line). The thread is stopped at `pc`.
    StillOnLine { pc: u64, instructions: u64 },
    /// Something else stopped the world first (a breakpoint, a signal, a thread event, a stop
    /// asked for): `by` is the thread whose stop it was, `cause` its cause.
    Interrupted {
        by: Option<Tid>,
        cause: Option<StopCause>,
    },
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
    /// The end of a stepping command.
    Stepped(StepOutcome),
}
