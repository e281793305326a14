//! Thread states, stop causes, and the pure decision the engine takes for each wait status.
//!
//! `decide` performs no system call: the engine gathers the facts (siginfo, whether the trap
//! address is one of our breakpoints, the signal policy) and carries out the returned action.
//! That keeps the whole state machine testable from plain values. `ThreadState` is what front
//! ends see; `TraceeState` is the engine's own finer view of the same thread (listening,
//! newborn, released, zombie), moved by `TraceeState::after` from each decision.

use super::cannot_stop::Unstoppable;
use super::signals::{signal_name, Policy};
use super::status::{ExitKind, PtraceEvent, WaitStatus};
use serde::Serialize;
use std::fmt;

pub type Tid = i32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThreadState {
    Running,
    /// One instruction under PTRACE_SINGLESTEP.
    Stepping,
    /// Interrupted (or settling after a trap); its stop has not been reported yet.
    Stopping,
    Stopped,
    /// At PTRACE_EVENT_EXIT: registers still readable, the thread is about to die.
    Exiting,
    Exited,
    Detached,
    /// Interrupted, but in a wait no interrupt ends (a vfork parent, a D-state sleep): the
    /// all-stop went on without it. It stops, before running any user instruction, once that
    /// wait ends.
    CannotStop,
}

impl ThreadState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Stepping => "stepping",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Exiting => "exiting",
            Self::Exited => "exited",
            Self::Detached => "detached",
            Self::CannotStop => "cannot stop",
        }
    }

    /// A thread in one of these states will not run user code until the tracer resumes it
    /// (one that cannot stop is inside the kernel, with our interrupt queued for its return).
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            Self::Stopped | Self::Exiting | Self::Exited | Self::Detached | Self::CannotStop
        )
    }
}

impl fmt::Display for ThreadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a traced thread is, as the engine drives it: the `ThreadState` front ends see
/// (`view`), plus what the engine must remember about how the thread got there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TraceeState {
    Running,
    /// Under PTRACE_SINGLESTEP (why it steps is the engine's phase).
    Stepping,
    /// Interrupted, or settling after a trap; its report has not come yet.
    Stopping,
    /// Born traced (PTRACE_O_TRACECLONE); its first stop, a PTRACE_EVENT_STOP, is still to
    /// come. Once it is reported the thread runs on if the process runs then, and is held with
    /// the others if they are held: what counts is where the process is at that stop, not at
    /// the birth (a birth seen during an all-stop whose first stop came after the continue
    /// was left stopped while the process ran, and a group exit then could never finish).
    Newborn,
    /// In a ptrace-stop, held there by us.
    Stopped,
    /// In a job-control stop, parked with PTRACE_LISTEN: stopped as the sender wanted, and
    /// the tracer still hears of the SIGCONT that ends it.
    Listening,
    /// At PTRACE_EVENT_EXIT: registers still readable, the thread is about to die.
    Exiting,
    /// Let go from its exit stop: it dies on its own and is never stopped or resumed again.
    Released,
    /// A leader that exited before the other threads: the kernel reports nothing for it until
    /// the last thread is gone.
    Zombie,
    Exited,
    Detached,
    /// Interrupted, but it did not stop in time and /proc says why (see `cannot_stop`). Our
    /// interrupt is still queued: its report, whenever it comes, is that of a thread stopping.
    CannotStop {
        why: Unstoppable,
    },
}

impl TraceeState {
    /// What front ends are shown.
    pub(crate) fn view(self) -> ThreadState {
        use TraceeState as T;
        match self {
            T::Running => ThreadState::Running,
            T::Stepping => ThreadState::Stepping,
            T::Stopping | T::Newborn => ThreadState::Stopping,
            T::Stopped | T::Listening => ThreadState::Stopped,
            T::Exiting | T::Released | T::Zombie => ThreadState::Exiting,
            T::Exited => ThreadState::Exited,
            T::Detached => ThreadState::Detached,
            T::CannotStop { .. } => ThreadState::CannotStop,
        }
    }

    /// A thread resumed from its exit stop: it dies on its own. The leader's exit is not
    /// reported until the last thread is gone, so it waits as a zombie.
    pub(crate) fn let_go(leader: bool) -> Self {
        if leader {
            Self::Zombie
        } else {
            Self::Released
        }
    }

    /// Threads the engine still drives: not dying on their own, not a zombie leader, not gone.
    pub(crate) fn is_live(self) -> bool {
        !matches!(self, Self::Released | Self::Zombie | Self::Exited)
    }

    /// Where the thread is once `d`, taken for a report that came in `self`, is applied.
    /// PTRACE_LISTEN itself is recorded by the engine once the call has succeeded.
    pub(crate) fn after(self, d: &Decision) -> Self {
        use TraceeState as T;
        match d.state {
            ThreadState::Exited => T::Exited,
            // Nothing a report says brings a released thread or a zombie leader back.
            _ if matches!(self, T::Released | T::Zombie) => self,
            ThreadState::Running => T::Running,
            ThreadState::Stepping => T::Stepping,
            // Still waiting for its first stop (a signal passed on before it).
            ThreadState::Stopping if matches!(self, T::Newborn) => self,
            ThreadState::Stopping => T::Stopping,
            ThreadState::Stopped => match (self, d.action) {
                (T::Listening, Action::Rest | Action::Listen) => T::Listening,
                _ => T::Stopped,
            },
            ThreadState::Exiting => T::Exiting,
            ThreadState::Detached => T::Detached,
            // `decide` never answers this: only the engine's straggler look sets it.
            ThreadState::CannotStop => self,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopCause {
    /// Interrupted: by request, at attach, or because another thread stopped.
    Stopped,
    /// Finished one single-step.
    Stepped,
    Breakpoint {
        addr: u64,
    },
    Signal {
        sig: i32,
    },
    ThreadCreated {
        tid: Tid,
    },
    ThreadExiting {
        status: ExitKind,
    },
    Exec,
    /// A job-control stop (SIGSTOP, SIGTSTP, ...) the tracer honours.
    GroupStop {
        sig: i32,
    },
    /// Done with a step over (`o`): one instruction, or a call run to its return.
    SteppedOver,
    /// Done with a finish (`f`): the frame returned to its caller.
    Finished,
    /// Done with a line step (`l`): the pc left the source line.
    SteppedLine,
    /// A hardware watchpoint of ours at this address fired.
    Watchpoint {
        addr: u64,
    },
    /// Not stopped: the all-stop went on without it (see `ThreadState::CannotStop`).
    CannotStop {
        why: Unstoppable,
    },
}

impl fmt::Display for StopCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stopped => write!(f, "stopped"),
            Self::Stepped => write!(f, "stepped"),
            Self::Breakpoint { addr } => write!(f, "breakpoint {addr:#x}"),
            Self::Signal { sig } => write!(f, "signal {}", signal_name(*sig)),
            Self::ThreadCreated { tid } => write!(f, "new thread {tid}"),
            Self::ThreadExiting { status } => write!(f, "exiting {status}"),
            Self::Exec => write!(f, "exec"),
            Self::GroupStop { sig } => write!(f, "group-stop {}", signal_name(*sig)),
            Self::SteppedOver => write!(f, "stepped over"),
            Self::Finished => write!(f, "finished"),
            Self::SteppedLine => write!(f, "line stepped"),
            Self::Watchpoint { addr } => write!(f, "watchpoint {addr:#x}"),
            Self::CannotStop { why } => write!(f, "cannot stop: {why}"),
        }
    }
}

impl StopCause {
    /// The text JSON consumers get in `"cause"`.
    pub fn label(&self) -> String {
        self.to_string()
    }
}

/// si_code values of a SIGTRAP that matter here (from <asm-generic/siginfo.h>).
pub const SI_KERNEL: i32 = 0x80;
pub const TRAP_BRKPT: i32 = 1;
pub const TRAP_TRACE: i32 = 2;
pub const TRAP_HWBKPT: i32 = 4;
pub const TRAP_UNK: i32 = 5;

/// What the engine knows about a stop besides the wait status.
#[derive(Clone, Copy, Debug, Default)]
pub struct StopFacts {
    /// si_code of a SIGTRAP signal-delivery-stop.
    pub si_code: Option<i32>,
    /// rip - 1 is the address of one of our breakpoints (an int3 of ours just executed).
    pub our_breakpoint: Option<u64>,
    /// rip - 1 holds no int3 now although a SI_KERNEL trap says one ran there: an int3 of ours
    /// that was removed after this thread executed it (another thread's stop removed them).
    pub stale_breakpoint: Option<u64>,
    pub policy: Option<Policy>,
    /// A SIGTRAP from the debug exception whose DR6 names one of our watchpoints: the one at
    /// this address (the lowest slot, when several fired at once).
    pub watchpoint: Option<u64>,
    /// PTRACE_GETEVENTMSG of an event stop.
    pub event_msg: u64,
    pub stop_on_thread_events: bool,
    /// The thread was parked with PTRACE_LISTEN in a group-stop.
    pub listening: bool,
    /// A PTRACE_SINGLESTEP was issued and its trap has not been seen: it may still arrive,
    /// even after an interrupt ended the step and the thread was resumed.
    pub stepping: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Leave the thread in the ptrace-stop it reported.
    Rest,
    /// Move rip back onto the breakpoint, then settle.
    RewindAndSettle { addr: u64 },
    /// PTRACE_INTERRUPT + PTRACE_CONT(0): the SIGTRAP we hold is ours, so drop it and let the
    /// queued interrupt re-stop the thread before it runs a user instruction. A thread resting in
    /// an event-stop is safe if ptscope dies; one in a signal-delivery-stop would get the signal.
    Settle,
    /// Move rip back onto a removed breakpoint and let the thread go on as it was.
    RewindAndResume { addr: u64 },
    /// PTRACE_CONT with this signal (0 for none).
    Resume { sig: i32 },
    /// PTRACE_SINGLESTEP again with this signal: the step was interrupted by an event.
    StepAgain { sig: i32 },
    /// PTRACE_LISTEN: honour the job-control stop but keep hearing of SIGCONT.
    Listen,
    /// The thread is gone.
    Forget,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub state: ThreadState,
    /// None keeps the cause the thread already has.
    pub cause: Option<StopCause>,
    pub action: Action,
    /// This thread stopped for a reason of its own: every other thread must be stopped too.
    pub stops_world: bool,
    /// A signal held in the signal-delivery-stop, to be delivered on resume.
    pub holds_signal: Option<i32>,
}

impl Decision {
    fn new(state: ThreadState, cause: Option<StopCause>, action: Action) -> Self {
        Decision {
            state,
            cause,
            action,
            stops_world: false,
            holds_signal: None,
        }
    }
    fn stopping_world(mut self, yes: bool) -> Self {
        self.stops_world = yes;
        self
    }
}

/// The state machine: given a thread's state before the report and what the kernel reported,
/// where the thread goes and what the engine does to it.
pub fn decide(prev: ThreadState, status: WaitStatus, facts: &StopFacts) -> Decision {
    use Action::*;
    use ThreadState as S;
    // A thread that could not stop still has our interrupt queued: whatever it reports, it
    // reports as a thread on its way to a stop.
    let prev = match prev {
        S::CannotStop => S::Stopping,
        other => other,
    };
    let was_running = prev == S::Running;
    // A report while stepping, or while we were stopping the thread, ends there; a report while
    // running is a stop of the thread's own.
    match status {
        WaitStatus::Exited { .. } | WaitStatus::Killed { .. } => {
            Decision::new(S::Exited, None, Forget)
        }
        WaitStatus::EventStop {
            event: PtraceEvent::Exit,
        } => {
            let cause = StopCause::ThreadExiting {
                status: ExitKind::from_wait_status(facts.event_msg as i32),
            };
            if was_running && !facts.stop_on_thread_events {
                Decision::new(S::Running, Some(cause), Resume { sig: 0 })
            } else {
                Decision::new(S::Exiting, Some(cause), Rest).stopping_world(was_running)
            }
        }
        WaitStatus::EventStop {
            event: PtraceEvent::Clone,
        } => {
            let cause = StopCause::ThreadCreated {
                tid: facts.event_msg as Tid,
            };
            if was_running && !facts.stop_on_thread_events {
                Decision::new(S::Running, Some(cause), Resume { sig: 0 })
            } else {
                Decision::new(S::Stopped, Some(cause), Rest).stopping_world(was_running)
            }
        }
        WaitStatus::EventStop {
            event: PtraceEvent::Exec,
        } => Decision::new(S::Stopped, Some(StopCause::Exec), Rest).stopping_world(true),
        WaitStatus::EventStop { .. } | WaitStatus::SyscallStop | WaitStatus::Unknown => {
            // Fork, vfork and vfork-done only get logged (the engine deals with the child).
            match prev {
                S::Running => Decision::new(S::Running, None, Resume { sig: 0 }),
                S::Stepping => Decision::new(S::Stepping, None, StepAgain { sig: 0 }),
                _ => Decision::new(S::Stopped, None, Rest),
            }
        }
        WaitStatus::InterruptStop => match prev {
            // Our PTRACE_INTERRUPT landed (or a settle finished): keep the cause we set.
            S::Stopping => Decision::new(S::Stopped, None, Rest),
            // An interrupt left over from an earlier stop, or the SIGCONT that ends a
            // group-stop we were listening to: nothing the user asked for.
            S::Running => Decision::new(S::Running, None, Resume { sig: 0 }),
            S::Stepping => Decision::new(S::Stepping, None, StepAgain { sig: 0 }),
            S::Stopped if facts.listening => Decision::new(S::Running, None, Resume { sig: 0 }),
            other => Decision::new(other, None, Rest),
        },
        WaitStatus::GroupStop { sig } => {
            let cause = Some(StopCause::GroupStop { sig });
            match prev {
                // "The tracee is stopped ... and will not run until SIGCONT": LISTEN keeps it
                // stopped as the sender wanted while we still hear of the SIGCONT.
                S::Running => Decision::new(S::Stopped, cause, Listen),
                S::Stopped if facts.listening => Decision::new(S::Stopped, cause, Listen),
                _ => Decision::new(S::Stopped, cause, Rest),
            }
        }
        WaitStatus::SignalDeliveryStop { sig } => {
            if sig == libc::SIGTRAP && facts.si_code == Some(SI_KERNEL) {
                if let Some(addr) = facts.our_breakpoint {
                    return Decision::new(
                        S::Stopping,
                        Some(StopCause::Breakpoint { addr }),
                        RewindAndSettle { addr },
                    )
                    .stopping_world(was_running);
                }
                if let Some(addr) = facts.stale_breakpoint {
                    return match prev {
                        S::Running => Decision::new(S::Running, None, RewindAndResume { addr }),
                        _ => Decision::new(S::Stopping, None, RewindAndSettle { addr }),
                    };
                }
            }
            // A data watchpoint traps after the access, so nothing is rewound. It may come with
            // the trap of a single step (DR6 then has BS too, and si_code is TRAP_TRACE): the
            // watchpoint is the news, and the step is over as well. Either way the SIGTRAP is
            // ours and is dropped.
            if sig == libc::SIGTRAP {
                if let Some(addr) = facts.watchpoint {
                    return Decision::new(
                        S::Stopping,
                        Some(StopCause::Watchpoint { addr }),
                        Settle,
                    )
                    .stopping_world(was_running);
                }
            }
            // A step normally ends with TRAP_TRACE; a step over a `syscall` instruction (or the
            // restart of an interrupted one) is reported at syscall exit as TRAP_BRKPT.
            if sig == libc::SIGTRAP && matches!(facts.si_code, Some(TRAP_BRKPT..=TRAP_UNK)) {
                if prev == S::Stepping {
                    return Decision::new(S::Stopping, Some(StopCause::Stepped), Settle);
                }
                // The trap of a step we interrupted: an interrupt that ends a blocking system
                // call still lets the step report at syscall exit, and that SIGTRAP waits in the
                // queue for the next resume. It is ours; delivered, it would kill the program.
                if facts.stepping {
                    return match prev {
                        S::Running => Decision::new(S::Running, None, Resume { sig: 0 }),
                        _ => Decision::new(S::Stopping, None, Settle),
                    };
                }
            }
            match facts.policy.unwrap_or(Policy::Stop) {
                Policy::Pass => match prev {
                    S::Stepping => Decision::new(S::Stepping, None, StepAgain { sig }),
                    // A Stopping thread still has our interrupt queued: it stops right after.
                    S::Stopping => Decision::new(S::Stopping, None, Resume { sig }),
                    _ => Decision::new(S::Running, None, Resume { sig }),
                },
                Policy::Stop => {
                    let mut d = Decision::new(S::Stopped, Some(StopCause::Signal { sig }), Rest)
                        .stopping_world(was_running);
                    d.holds_signal = Some(sig);
                    d
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "thread_tests.rs"]
mod tests;
