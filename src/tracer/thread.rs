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
    /// come. `join`: born while the process ran, so it runs on once that stop is reported.
    Newborn {
        join: bool,
    },
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
            T::Stopping | T::Newborn { .. } => ThreadState::Stopping,
            T::Stopped | T::Listening => ThreadState::Stopped,
            T::Exiting | T::Released | T::Zombie => ThreadState::Exiting,
            T::Exited => ThreadState::Exited,
            T::Detached => ThreadState::Detached,
            T::CannotStop { .. } => ThreadState::CannotStop,
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
            ThreadState::Stopping if matches!(self, T::Newborn { .. }) => self,
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
mod tests {
    use super::*;
    use ThreadState as S;

    fn facts() -> StopFacts {
        StopFacts {
            stop_on_thread_events: true,
            ..Default::default()
        }
    }

    #[test]
    fn breakpoint_hit_rewinds_settles_and_stops_the_world() {
        let f = StopFacts {
            si_code: Some(SI_KERNEL),
            our_breakpoint: Some(0x401136),
            ..facts()
        };
        let d = decide(
            S::Running,
            WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
            &f,
        );
        assert_eq!(d.state, S::Stopping);
        assert_eq!(d.cause, Some(StopCause::Breakpoint { addr: 0x401136 }));
        assert_eq!(d.action, Action::RewindAndSettle { addr: 0x401136 });
        assert!(d.stops_world);
        assert_eq!(d.holds_signal, None, "our SIGTRAP must never be delivered");
    }

    #[test]
    fn programs_own_int3_is_a_signal() {
        let f = StopFacts {
            si_code: Some(SI_KERNEL),
            policy: Some(Policy::Stop),
            ..facts()
        };
        let d = decide(
            S::Running,
            WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
            &f,
        );
        assert_eq!(d.cause, Some(StopCause::Signal { sig: libc::SIGTRAP }));
        assert_eq!(d.action, Action::Rest);
        assert_eq!(d.holds_signal, Some(libc::SIGTRAP));
    }

    #[test]
    fn stale_trap_of_a_removed_breakpoint_is_swallowed() {
        let f = StopFacts {
            si_code: Some(SI_KERNEL),
            stale_breakpoint: Some(0x1000),
            ..facts()
        };
        let d = decide(
            S::Stopping,
            WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
            &f,
        );
        assert_eq!(d.action, Action::RewindAndSettle { addr: 0x1000 });
        assert_eq!(d.cause, None);
        let d = decide(
            S::Running,
            WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
            &f,
        );
        assert_eq!(d.action, Action::RewindAndResume { addr: 0x1000 });
        assert!(!d.stops_world);
    }

    #[test]
    fn step_completion_settles_without_stopping_others() {
        let f = StopFacts {
            si_code: Some(TRAP_TRACE),
            ..facts()
        };
        let d = decide(
            S::Stepping,
            WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
            &f,
        );
        assert_eq!(d.cause, Some(StopCause::Stepped));
        assert_eq!(d.action, Action::Settle);
        assert!(!d.stops_world);
    }

    #[test]
    fn a_step_over_a_system_call_ends_with_trap_brkpt() {
        let f = StopFacts {
            si_code: Some(TRAP_BRKPT),
            policy: Some(Policy::Stop),
            ..facts()
        };
        let d = decide(
            S::Stepping,
            WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
            &f,
        );
        assert_eq!(
            (d.cause, d.action),
            (Some(StopCause::Stepped), Action::Settle)
        );
        assert_eq!(
            d.holds_signal, None,
            "our step trap must never be delivered"
        );
        // The trap of an interrupted step, reported while stopping or after a resume: dropped.
        let stepping = StopFacts {
            stepping: true,
            ..f
        };
        let trap = WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP };
        let d = decide(S::Stopping, trap, &stepping);
        assert_eq!(
            (d.cause, d.action, d.holds_signal),
            (None, Action::Settle, None)
        );
        let d = decide(S::Running, trap, &stepping);
        assert_eq!(
            (d.state, d.action, d.holds_signal),
            (S::Running, Action::Resume { sig: 0 }, None)
        );
        assert!(!d.stops_world);
        // The same code while running is a SIGTRAP of the program's own.
        let d = decide(
            S::Running,
            WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
            &f,
        );
        assert_eq!(d.holds_signal, Some(libc::SIGTRAP));
    }

    #[test]
    fn a_watchpoint_trap_settles_and_stops_the_world_from_any_state() {
        let trap = WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP };
        let hw = StopFacts {
            si_code: Some(TRAP_HWBKPT),
            watchpoint: Some(0x60_1040),
            policy: Some(Policy::Stop),
            ..facts()
        };
        let d = decide(S::Running, trap, &hw);
        assert_eq!(d.state, S::Stopping);
        assert_eq!(d.cause, Some(StopCause::Watchpoint { addr: 0x60_1040 }));
        assert_eq!(d.action, Action::Settle);
        assert!(d.stops_world);
        assert_eq!(d.holds_signal, None, "our SIGTRAP must never be delivered");
        // With a single step's trap (TRAP_TRACE, DR6 BS and Bn): the watchpoint is the cause.
        let with_step = StopFacts {
            si_code: Some(TRAP_TRACE),
            stepping: true,
            ..hw
        };
        let d = decide(S::Stepping, trap, &with_step);
        assert_eq!(
            (d.cause, d.action, d.stops_world),
            (
                Some(StopCause::Watchpoint { addr: 0x60_1040 }),
                Action::Settle,
                false
            )
        );
        // Reported while we were stopping it (its trap was queued): counted, not delivered.
        let d = decide(S::Stopping, trap, &hw);
        assert_eq!((d.action, d.holds_signal), (Action::Settle, None));
        assert!(!d.stops_world);
        assert_eq!(
            StopCause::Watchpoint { addr: 0x60_1040 }.to_string(),
            "watchpoint 0x601040"
        );
    }

    #[test]
    fn passed_signals_keep_the_thread_going() {
        let f = StopFacts {
            policy: Some(Policy::Pass),
            ..facts()
        };
        let sig = WaitStatus::SignalDeliveryStop { sig: libc::SIGCHLD };
        let d = decide(S::Running, sig, &f);
        assert_eq!(
            (d.state, d.action),
            (S::Running, Action::Resume { sig: libc::SIGCHLD })
        );
        let d = decide(S::Stopping, sig, &f);
        assert_eq!(
            (d.state, d.action),
            (S::Stopping, Action::Resume { sig: libc::SIGCHLD })
        );
        let d = decide(S::Stepping, sig, &f);
        assert_eq!(d.action, Action::StepAgain { sig: libc::SIGCHLD });
    }

    #[test]
    fn stopping_signals_are_held_for_continue() {
        let f = StopFacts {
            policy: Some(Policy::Stop),
            ..facts()
        };
        let d = decide(
            S::Running,
            WaitStatus::SignalDeliveryStop { sig: libc::SIGUSR1 },
            &f,
        );
        assert_eq!(d.state, S::Stopped);
        assert_eq!(d.holds_signal, Some(libc::SIGUSR1));
        assert!(d.stops_world);
        // Arriving while we were already stopping it: held too, but no new all-stop.
        let d = decide(
            S::Stopping,
            WaitStatus::SignalDeliveryStop { sig: libc::SIGUSR1 },
            &f,
        );
        assert_eq!(d.holds_signal, Some(libc::SIGUSR1));
        assert!(!d.stops_world);
    }

    #[test]
    fn interrupt_stop_ends_stopping_and_is_absorbed_otherwise() {
        let d = decide(S::Stopping, WaitStatus::InterruptStop, &facts());
        assert_eq!(
            (d.state, d.action, d.cause),
            (S::Stopped, Action::Rest, None)
        );
        let d = decide(S::Running, WaitStatus::InterruptStop, &facts());
        assert_eq!((d.state, d.action), (S::Running, Action::Resume { sig: 0 }));
        let listening = StopFacts {
            listening: true,
            ..facts()
        };
        let d = decide(S::Stopped, WaitStatus::InterruptStop, &listening);
        assert_eq!((d.state, d.action), (S::Running, Action::Resume { sig: 0 }));
    }

    #[test]
    fn group_stop_is_honoured_with_listen() {
        let g = WaitStatus::GroupStop { sig: libc::SIGSTOP };
        let d = decide(S::Running, g, &facts());
        assert_eq!(d.action, Action::Listen);
        assert_eq!(d.cause, Some(StopCause::GroupStop { sig: libc::SIGSTOP }));
        assert!(!d.stops_world, "the kernel stops the whole group itself");
        let d = decide(S::Stopping, g, &facts());
        assert_eq!((d.state, d.action), (S::Stopped, Action::Rest));
    }

    #[test]
    fn thread_events_stop_or_pass_by_policy() {
        let clone = WaitStatus::EventStop {
            event: PtraceEvent::Clone,
        };
        let f = StopFacts {
            event_msg: 4242,
            ..facts()
        };
        let d = decide(S::Running, clone, &f);
        assert_eq!(d.cause, Some(StopCause::ThreadCreated { tid: 4242 }));
        assert!(d.stops_world);
        assert_eq!(d.state, S::Stopped);
        let quiet = StopFacts {
            stop_on_thread_events: false,
            ..f
        };
        let d = decide(S::Running, clone, &quiet);
        assert_eq!((d.state, d.action), (S::Running, Action::Resume { sig: 0 }));

        let exit = WaitStatus::EventStop {
            event: PtraceEvent::Exit,
        };
        let f = StopFacts {
            event_msg: 7 << 8,
            ..facts()
        };
        let d = decide(S::Running, exit, &f);
        assert_eq!(d.state, S::Exiting);
        assert_eq!(
            d.cause,
            Some(StopCause::ThreadExiting {
                status: ExitKind::Code { code: 7 }
            })
        );
        assert_eq!(d.cause.map(|c| c.to_string()).as_deref(), Some("exiting 7"));
    }

    #[test]
    fn exit_statuses_forget_the_thread() {
        let d = decide(S::Running, WaitStatus::Exited { code: 0 }, &facts());
        assert_eq!((d.state, d.action), (S::Exited, Action::Forget));
    }

    #[test]
    fn fork_events_only_log() {
        let fork = WaitStatus::EventStop {
            event: PtraceEvent::Fork,
        };
        assert_eq!(
            decide(S::Running, fork, &facts()).action,
            Action::Resume { sig: 0 }
        );
        assert_eq!(
            decide(S::Stepping, fork, &facts()).action,
            Action::StepAgain { sig: 0 }
        );
        assert_eq!(decide(S::Stopping, fork, &facts()).action, Action::Rest);
    }

    fn decision(state: ThreadState, action: Action) -> Decision {
        Decision::new(state, None, action)
    }

    #[test]
    fn a_newborn_waits_for_its_first_stop_then_is_an_ordinary_thread() {
        let born = TraceeState::Newborn { join: true };
        assert_eq!(born.view(), S::Stopping);
        // A signal passed on before the first stop: still waiting for it.
        let pass = decision(S::Stopping, Action::Resume { sig: libc::SIGCHLD });
        assert_eq!(born.after(&pass), born);
        let first = decision(S::Stopped, Action::Rest);
        assert_eq!(born.after(&first), TraceeState::Stopped);
    }

    #[test]
    fn listening_is_a_stop_that_lasts_until_the_thread_is_moved() {
        let l = TraceeState::Listening;
        assert_eq!(l.view(), S::Stopped);
        // A signal held while listening, or the group-stop reported again: still listened to.
        assert_eq!(l.after(&decision(S::Stopped, Action::Rest)), l);
        assert_eq!(l.after(&decision(S::Stopped, Action::Listen)), l);
        // SIGCONT ended it.
        let cont = decision(S::Running, Action::Resume { sig: 0 });
        assert_eq!(l.after(&cont), TraceeState::Running);
        // An exit stop is not a job-control stop any more.
        assert_eq!(
            l.after(&decision(S::Exiting, Action::Rest)),
            TraceeState::Exiting
        );
        // Only a successful PTRACE_LISTEN makes a thread listening.
        assert_eq!(
            TraceeState::Running.after(&decision(S::Stopped, Action::Listen)),
            TraceeState::Stopped
        );
    }

    #[test]
    fn released_and_zombie_threads_are_not_driven_and_only_exit() {
        for t in [TraceeState::Released, TraceeState::Zombie] {
            assert!(!t.is_live());
            assert_eq!(t.view(), S::Exiting);
            assert_eq!(t.after(&decision(S::Stopped, Action::Rest)), t);
            assert_eq!(
                t.after(&decision(S::Exited, Action::Forget)),
                TraceeState::Exited
            );
        }
        assert!(!TraceeState::Exited.is_live());
        assert!(TraceeState::Exiting.is_live());
        assert!(TraceeState::Detached.is_live());
    }

    #[test]
    fn a_thread_that_could_not_stop_reports_as_one_stopping() {
        let d = decide(S::CannotStop, WaitStatus::InterruptStop, &facts());
        assert_eq!(
            (d.state, d.action, d.stops_world),
            (S::Stopped, Action::Rest, false)
        );
        // Its vfork ended: PTRACE_EVENT_VFORK_DONE comes first, and holds it too.
        let done = WaitStatus::EventStop {
            event: PtraceEvent::VforkDone,
        };
        assert_eq!(decide(S::CannotStop, done, &facts()).state, S::Stopped);
        let why = Unstoppable::Vfork { child: Some(77) };
        let t = TraceeState::CannotStop { why };
        assert_eq!(t.view(), S::CannotStop);
        assert!(t.is_live() && S::CannotStop.is_settled());
        assert_eq!(
            t.after(&decision(S::Stopped, Action::Rest)),
            TraceeState::Stopped
        );
        assert_eq!(
            StopCause::CannotStop { why }.to_string(),
            "cannot stop: in vfork, child 77"
        );
    }

    #[test]
    fn causes_read_as_the_ui_shows_them() {
        assert_eq!(
            StopCause::Breakpoint { addr: 0x401136 }.to_string(),
            "breakpoint 0x401136"
        );
        assert_eq!(
            StopCause::Signal { sig: libc::SIGUSR1 }.to_string(),
            "signal SIGUSR1"
        );
        assert_eq!(
            StopCause::ThreadCreated { tid: 4242 }.to_string(),
            "new thread 4242"
        );
        assert_eq!(
            StopCause::GroupStop { sig: libc::SIGSTOP }.to_string(),
            "group-stop SIGSTOP"
        );
    }
}
