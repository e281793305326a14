//! What crosses the channel between the tracer thread and its front ends: commands in, owned
//! events and snapshots out. Nothing here is shared or locked.

use super::debugregs::WatchKind;
use super::error::TraceError;
use super::regsets::RegisterSets;
use super::rules::{HitRule, RuleInfo};
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
    /// Its condition, ignore count, log text or trace mark; None for a plain breakpoint.
    pub rule: Option<RuleInfo>,
}

/// A watchpoint as the tracer holds it: the debug register it takes, what it watches, and
/// what it saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct WatchpointInfo {
    /// 0-3: DR0-DR3.
    pub slot: u8,
    pub addr: u64,
    /// 1, 2, 4 or 8 bytes.
    pub len: u8,
    pub kind: WatchKind,
    pub hits: u64,
    /// The watched bytes (little-endian) when last seen: at arming, or at the last hit.
    pub value: u64,
}

/// One thread tripped a watchpoint: the access has happened (data watchpoints trap after the
/// instruction), the thread stands just past it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchHit {
    pub tid: Tid,
    pub slot: u8,
    pub addr: u64,
    pub len: u8,
    pub kind: WatchKind,
    /// The value before (when armed, or at the previous hit) and now.
    pub old: u64,
    pub new: u64,
    /// Where the thread stopped: the instruction after the one that made the access.
    pub pc: u64,
    /// Hits of this watchpoint so far, this one included.
    pub hits: u64,
}

impl WatchHit {
    /// `written` or `read`: a read-or-write watch that found the value unchanged was read (or
    /// rewritten with the same value, which the hardware cannot tell apart).
    pub fn verb(&self) -> &'static str {
        if self.old == self.new && self.kind == WatchKind::ReadWrite {
            "read"
        } else {
            "written"
        }
    }

    /// "watchpoint 0x.. written by 4242 at <func+0x12>: 0x41 -> 0x42"; `at` is the name of
    /// the PC when known.
    pub fn describe(&self, at: Option<&str>) -> String {
        let at = match at {
            Some(name) => format!("<{name}>"),
            None => format!("{:#x}", self.pc),
        };
        let values = if self.old == self.new {
            format!("{:#x} (unchanged)", self.new)
        } else {
            format!("{:#x} -> {:#x}", self.old, self.new)
        };
        format!(
            "watchpoint {:#x} {} by {} at {at}: {values}",
            self.addr,
            self.verb(),
            self.tid
        )
    }
}

/// A write a front end asked for, with what was there before: every one is logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteRecord {
    Register {
        tid: Tid,
        name: String,
        old: u64,
        /// What was asked, and what the register reads back as: the kernel masks some bits
        /// (eflags) of what a tracer writes.
        asked: u64,
        now: u64,
    },
    Memory {
        addr: u64,
        old: Vec<u8>,
        new: Vec<u8>,
    },
}

impl WriteRecord {
    pub fn tid(&self) -> Option<Tid> {
        match self {
            WriteRecord::Register { tid, .. } => Some(*tid),
            WriteRecord::Memory { .. } => None,
        }
    }
}

/// Bytes as `de ad be ef`, at most 16 of them.
fn hex_bytes(bytes: &[u8]) -> String {
    const SHOWN: usize = 16;
    let mut s: Vec<String> = bytes
        .iter()
        .take(SHOWN)
        .map(|b| format!("{b:02x}"))
        .collect();
    if bytes.len() > SHOWN {
        s.push("...".into());
    }
    s.join(" ")
}

impl std::fmt::Display for WriteRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteRecord::Register {
                name,
                old,
                asked,
                now,
                ..
            } => {
                write!(f, "wrote {name} = {asked:#x} (was {old:#x})")?;
                if now != asked {
                    write!(f, "; the kernel made it {now:#x}")?;
                }
                Ok(())
            }
            WriteRecord::Memory { addr, old, new } => {
                let n = new.len();
                let unit = if n == 1 { "byte" } else { "bytes" };
                write!(
                    f,
                    "wrote {n} {unit} at {addr:#x}: {} (was {})",
                    hex_bytes(new),
                    hex_bytes(old)
                )
            }
        }
    }
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
    pub watchpoints: Vec<WatchpointInfo>,
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
    /// A thread tripped a watchpoint (its stop follows as a transition).
    WatchpointHit(WatchHit),
    /// A register or memory write a front end asked for was done.
    Wrote(WriteRecord),
    /// The answer to a command sent with `TracerHandle::send`.
    Reply {
        id: u64,
        result: Result<Reply, TraceError>,
    },
    /// A logpoint's line: a hit that did not stop anything.
    Logged(LogLine),
    /// A hit of a tracing breakpoint (`ptscope trace`): did not stop anything.
    TraceHit(TraceHit),
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
    /// A hardware watchpoint on every thread; `len` None: chosen by the address's alignment.
    /// Only while every thread is stopped. Replied with `Reply::Watchpoint`.
    AddWatchpoint {
        addr: u64,
        kind: WatchKind,
        len: Option<u8>,
    },
    /// Only while every thread is stopped.
    RemoveWatchpoint {
        addr: u64,
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
    /// A breakpoint that decides at each hit, on the tracer thread, whether to stop, log or
    /// report (a condition, an ignore count, a log text, or tracing); the expressions come
    /// parsed and bound. A hit that does not stop costs the hitting thread one stop and lets
    /// every other thread run on.
    AddBreakpointWith {
        addr: u64,
        rule: Box<HitRule>,
    },
}

/// One logpoint line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub tid: Tid,
    pub addr: u64,
    pub text: String,
}

/// One hit of a tracing breakpoint, as the thread stood at the breakpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceHit {
    pub tid: Tid,
    /// /proc comm as last read: untrusted text from the target.
    pub name: String,
    pub addr: u64,
    /// rdi, rsi, rdx, rcx, r8, r9: the first six integer arguments at a function's entry.
    pub args: [u64; 6],
    /// The word at rsp: at a function's first instruction, the return address into the caller.
    pub stack_top: Option<u64>,
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
    Watchpoint(WatchpointInfo),
    /// Per stopped thread, in tid order.
    RegisterSets(Vec<(Tid, RegisterSets)>),
}
