//! Where the traced process as a whole is, and the one place that moves it on.
//!
//! Each thread has its own `TraceeState`; the `Phase` says what the engine is doing with all
//! of them together, with the data that belongs to that alone. `progress` runs after every
//! report and every command: it ends a continue's step-overs, completes an all-stop, tells the
//! front ends once the process is gone, and answers whoever waits.

use super::{Engine, ReplyTo};
use crate::tracer::error::TraceError;
use crate::tracer::event::{EventKind, Reply};
use crate::tracer::status::ExitKind;
use crate::tracer::thread::{StopCause, ThreadState, Tid, TraceeState};

pub(super) enum Phase {
    /// Every live thread is being brought to a stop. `by`: the thread whose own stop began it
    /// (None when a front end asked); `then`: what to do once the last one has reported.
    AllStopping { by: Option<Tid>, then: AfterStop },
    /// Every thread is at rest and the picture was published (`AllStopped`); nothing has run
    /// since. No int3 of ours is in memory.
    Stopped { by: Option<Tid> },
    /// The first half of a continue: the threads in `over` sat on a breakpoint and are single-
    /// stepping its original instruction (no int3 is in memory yet); the others wait. `by` is
    /// the stop being left, still shown until the process runs.
    SteppingOver { over: Vec<Tid>, by: Option<Tid> },
    /// One thread runs one instruction (`Command::Step`); every other holds still. Ends in an
    /// all-stop like any other, with `tid` as the stopper.
    Stepping { tid: Tid },
    /// Breakpoints in, every thread resumed.
    Running,
    /// SIGKILL sent to a program we launched; the leader's exit status ends it.
    Killing,
    /// The leader's exit status was reaped: waiters and the event stream are told at the next
    /// `progress`, after the reports of this round.
    Exited { status: ExitKind },
    /// Nothing is traced any more: the process is gone, detached, or let go. `exit` tells
    /// late commands why.
    Finished { exit: Option<ExitKind> },
}

/// What an all-stop leads to once every thread has reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AfterStop {
    /// Publish the picture and stay stopped.
    Rest,
    /// Publish the picture, then detach every thread.
    Detach,
    /// Publish nothing and continue again: only threads whose breakpoint hits do not stop
    /// (`conditions.rs`), or that a stepping command's temporary int3 is not meant for
    /// (`stepping.rs`), ran into int3 bytes, and they are stepped past them on the way.
    Resume,
}

impl AfterStop {
    /// Two reasons for one all-stop: a detach asked for stands, and any real stop outweighs
    /// a resume.
    pub(super) fn merge(self, other: AfterStop) -> AfterStop {
        use AfterStop::*;
        match (self, other) {
            (Detach, _) | (_, Detach) => Detach,
            (Rest, _) | (_, Rest) => Rest,
            (Resume, Resume) => Resume,
        }
    }
}

/// A command answered once the process has got somewhere.
pub(super) enum Waiter {
    AllStopped(ReplyTo),
    StepDone(Tid, ReplyTo),
    Resumed(ReplyTo),
    /// Answered when every thread is detached (or with the reason it never will be).
    Detached(ReplyTo),
    /// Answered when the killed program is gone.
    Killed(ReplyTo),
    /// A stepping command that has ended, answered with how once its stop is published.
    Stepped(ReplyTo, crate::tracer::event::StepOutcome),
}

impl Waiter {
    fn reply_to(self) -> ReplyTo {
        match self {
            Waiter::AllStopped(to)
            | Waiter::StepDone(_, to)
            | Waiter::Resumed(to)
            | Waiter::Detached(to)
            | Waiter::Killed(to)
            | Waiter::Stepped(to, _) => to,
        }
    }
}

impl Phase {
    /// Nothing more will be traced: the tracer thread ends.
    pub(super) fn is_over(&self) -> bool {
        matches!(self, Phase::Exited { .. } | Phase::Finished { .. })
    }

    /// The thread whose own stop made every other thread stop, as snapshots show it.
    pub(super) fn stopped_by(&self) -> Option<Tid> {
        match self {
            Phase::AllStopping { by, .. }
            | Phase::Stopped { by }
            | Phase::SteppingOver { by, .. } => *by,
            Phase::Stepping { tid } => Some(*tid),
            Phase::Running | Phase::Killing | Phase::Exited { .. } | Phase::Finished { .. } => None,
        }
    }

    pub(super) fn exit(&self) -> Option<ExitKind> {
        match self {
            Phase::Exited { status } => Some(*status),
            Phase::Finished { exit } => *exit,
            _ => None,
        }
    }

    /// The error a command gets once nothing is traced any more.
    pub(super) fn over_error(&self) -> TraceError {
        if self.exit().is_some() {
            TraceError::ProcessExited
        } else {
            TraceError::Detached
        }
    }
}

impl Engine {
    /// Moves things on after any status or command: finishes continues, completes all-stops,
    /// answers whoever waits, and detaches once everything is still.
    pub(super) fn progress(&mut self) {
        let detach = match &self.phase {
            Phase::SteppingOver { over, .. } => {
                if !self.steps_in_flight(over.iter().copied()) {
                    // Stopped for a reason of its own while stepping over: the continue ends
                    // here and that stop is reported like any other.
                    match self.interrupted_step_over(over) {
                        Some(tid) => {
                            self.phase = Phase::AllStopping {
                                by: Some(tid),
                                then: AfterStop::Rest,
                            }
                        }
                        None => self.finish_continue(),
                    }
                }
                self.complete_if_settled()
            }
            Phase::AllStopping { .. } | Phase::Stepping { .. } => self.complete_if_settled(),
            Phase::Exited { status } => {
                let status = *status;
                return self.announce_exit(status);
            }
            // Every waiter was answered on the way here, and no command is taken any more.
            Phase::Finished { .. } => return,
            Phase::Stopped { .. } | Phase::Running | Phase::Killing => false,
        };
        self.answer_waiters();
        if detach {
            self.detach_all();
        }
    }

    /// A step-over is still on its way: stepping, or settling after its step.
    pub(super) fn steps_in_flight(&self, mut over: impl Iterator<Item = Tid>) -> bool {
        over.any(|tid| {
            self.tracees.get(tid).is_some_and(|t| {
                matches!(
                    t.state.view(),
                    ThreadState::Stepping | ThreadState::Stopping
                )
            })
        })
    }

    /// The first thread that did not end its step-over with the step itself. One that is
    /// dying or gone (a group exit killed it during its step, or it called exit there: a
    /// thread without exit stops reports its end as its exit status) stops nothing: the others
    /// are let go.
    pub(super) fn interrupted_step_over(&self, over: &[Tid]) -> Option<Tid> {
        over.iter().copied().find(|tid| {
            self.tracees.get(*tid).is_some_and(|t| {
                t.is_live()
                    && t.cause != Some(StopCause::Stepped)
                    && t.state.view() != ThreadState::Exiting
            })
        })
    }

    /// Threads left in their step-over's signal-delivery-stop (`hold_step_trap`) when the
    /// world is coming to rest instead of running on: settled now, so that none rests holding
    /// our SIGTRAP (delivered if ptscope were killed, it would end the program).
    fn settle_held_traps(&mut self) {
        for tid in self.tracees.tids_where(|t| t.trap_held) {
            if let Some(t) = self.tracees.get_mut(tid) {
                t.trap_held = false;
            }
            if self.settle(tid).is_ok() {
                if let Some(t) = self.tracees.get_mut(tid) {
                    t.state = TraceeState::Stopping;
                }
                // Its step-over's SIGTRAP was left for the resume to drop, and no resume comes:
                // the log says why the thread reports once more.
                self.note(
                    Some(tid),
                    "step-over trap kept for a resume that did not come (the world rests): \
                     settled with PTRACE_INTERRUPT and a resume with signal 0"
                        .to_string(),
                );
            }
        }
    }

    /// Completes an all-stop (or a step, which ends in one) once every thread has reported.
    /// A stepping command on its way may take it as the end of one leg and start the next
    /// instead (nothing is published then). True when a detach is due now.
    fn complete_if_settled(&mut self) -> bool {
        let then = match self.phase {
            Phase::AllStopping { then, .. } => then,
            Phase::Stepping { .. } => AfterStop::Rest,
            _ => return false,
        };
        self.settle_held_traps();
        if !self.tracees.all_settled() {
            self.look_at_stragglers();
        }
        if !self.tracees.all_settled() || !self.picture_ready() {
            return false;
        }
        // A stepping command takes the stop first: a leg's end, or hits on the way that are
        // not for it (its temporary int3, a breakpoint whose hit does not stop) to step past.
        // A command the stop interrupted publishes it; without one, only hits that do not
        // stop made it, and the process runs on.
        let had_job = self.job.is_some();
        if then != AfterStop::Detach && self.job_goes_on(then) {
            return false;
        }
        if then == AfterStop::Resume && !had_job && self.resume_passed() {
            return false;
        }
        self.publish_stop();
        then == AfterStop::Detach
    }

    fn answer_waiters(&mut self) {
        let waiters = std::mem::take(&mut self.waiters);
        let stopped = matches!(self.phase, Phase::Stopped { .. });
        let stepping_over = matches!(self.phase, Phase::SteppingOver { .. });
        for w in waiters {
            match w {
                Waiter::AllStopped(to) if stopped => self.reply(to, Ok(Reply::Done)),
                Waiter::StepDone(tid, to)
                    if self.tracees.get(tid).is_none_or(|t| {
                        !matches!(
                            t.state.view(),
                            ThreadState::Stepping | ThreadState::Stopping
                        )
                    }) =>
                {
                    self.reply(to, Ok(Reply::Done))
                }
                Waiter::Resumed(to) if !stepping_over => self.reply(to, Ok(Reply::Done)),
                Waiter::Stepped(to, outcome) => self.reply(to, Ok(Reply::Stepped(outcome))),
                other => self.waiters.push(other),
            }
        }
    }

    /// `tid`'s single step is over (its trap dropped, the thread settling): whoever waits for
    /// it is answered now rather than once the settle is reported.
    pub(super) fn answer_step(&mut self, tid: Tid) {
        let waiters = std::mem::take(&mut self.waiters);
        for w in waiters {
            match w {
                Waiter::StepDone(t, to) if t == tid => self.reply(to, Ok(Reply::Done)),
                other => self.waiters.push(other),
            }
        }
    }

    /// Every thread is detached: the detach asked for is done, nothing else will be.
    pub(super) fn answer_detached(&mut self) {
        self.abandon_job(TraceError::Detached);
        let waiters = std::mem::take(&mut self.waiters);
        let (done, rest): (Vec<_>, Vec<_>) = waiters
            .into_iter()
            .partition(|w| matches!(w, Waiter::Detached(_)));
        for w in done {
            self.reply(w.reply_to(), Ok(Reply::Done));
        }
        for w in rest {
            self.reply(w.reply_to(), Err(TraceError::Detached));
        }
    }

    /// The process is gone: tell every waiter and the event stream, once.
    fn announce_exit(&mut self, status: ExitKind) {
        self.phase = Phase::Finished { exit: Some(status) };
        self.abandon_job(TraceError::ProcessExited);
        let waiters = std::mem::take(&mut self.waiters);
        for w in waiters {
            let result = match w {
                Waiter::Killed(_) => Ok(Reply::Done),
                _ => Err(TraceError::ProcessExited),
            };
            self.reply(w.reply_to(), result);
        }
        self.emit(EventKind::ProcessExited(status));
    }
}
