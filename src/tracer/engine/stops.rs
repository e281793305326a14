//! One wait status at a time: the facts gathered for `decide`, the action carried out, and
//! what follows from ptrace events (newborn threads, forked children, exec).

use super::conditions::HitOutcome;
use super::phase::{AfterStop, Phase};
use super::stepping::TempHit;
use super::Engine;
use crate::procinfo::tasks;
use crate::tracer::breakpoints::INT3;
use crate::tracer::debugregs::DebugState;
use crate::tracer::error::{Result, TraceError};
use crate::tracer::memory::Memory;
use crate::tracer::ptrace as pt;
use crate::tracer::status::{ExitKind, PtraceEvent, RawStatus, WaitStatus};
use crate::tracer::thread::{
    decide, Action, StopCause, StopFacts, ThreadState, Tid, TraceeState, SI_KERNEL, TRAP_HWBKPT,
    TRAP_TRACE,
};
use crate::tracer::tracee::Tracee;
use std::sync::atomic::Ordering;

impl Engine {
    /// A thread taken for dying on its own (a ptrace call on it failed with ESRCH while a
    /// group exit's SIGKILL was waking it, so it was marked exiting, or let go at a continue),
    /// or a newborn killed before its first stop, still stops at PTRACE_EVENT_EXIT afterwards
    /// (PTRACE_O_TRACEEXIT). Left there while the process runs, nothing would resume it, and
    /// the process could never finish exiting (seen: `ptscope trace` hung about once in 20
    /// runs at the target's exit). It is resumed at once. While the world stops, an exiting
    /// thread rests as usual; the continue lets it go.
    fn late_exit_stop(&mut self, tid: Tid, state: TraceeState, status: &RawStatus) -> bool {
        let exit_stop = matches!(
            status.decoded,
            WaitStatus::EventStop {
                event: PtraceEvent::Exit
            }
        );
        // A newborn can also meet its end before its first stop (a group exit's SIGKILL):
        // then the exit stop is its first report, and while the process runs nothing else
        // would resume it (seen: the leader a zombie waiting for it, the exit never reported).
        let let_go = state == TraceeState::Released
            || (matches!(state, TraceeState::Exiting | TraceeState::Newborn)
                && matches!(self.phase, Phase::Running));
        if !(exit_stop && let_go) {
            return false;
        }
        let newborn = matches!(state, TraceeState::Newborn);
        let note = match (pt::cont(tid, 0), newborn) {
            (Ok(()), false) => "exit stop of a thread already let go: resumed to finish exiting",
            (Ok(()), true) => "killed before its first stop: resumed to finish exiting",
            (Err(_), _) => "exit stop of a thread already let go: it is gone",
        };
        let leader = tid == self.pid;
        if let Some(t) = self.tracees.get_mut(tid) {
            t.state = TraceeState::let_go(leader);
            t.ran();
        }
        self.transition(
            tid,
            ThreadState::Exiting,
            ThreadState::Exiting,
            Some(*status),
            note,
        );
        true
    }

    pub(super) fn handle_status(&mut self, tid: Tid, raw: i32) {
        let status = RawStatus::new(raw);
        if matches!(self.phase, Phase::Killing) {
            return self.handle_while_killing(tid, status);
        }
        let Some(state) = self.tracees.get(tid).map(|t| t.state) else {
            return self.handle_unknown(tid, status);
        };
        if self.late_exit_stop(tid, state, &status) {
            return;
        }
        self.fit_options(tid, &status);
        let Some(thread) = self.tracees.get(tid) else {
            return;
        };
        let before = thread.state;
        let prev = before.view();
        // One that could not stop still has our interrupt queued: it is driven as a thread on
        // its way to a stop (`decide` reads it so too).
        let unstoppable = matches!(before, TraceeState::CannotStop { .. });
        let driven = if unstoppable {
            ThreadState::Stopping
        } else {
            prev
        };
        let mut facts = StopFacts {
            stop_on_thread_events: self.stop_on_thread_events,
            listening: before == TraceeState::Listening,
            stepping: thread.step_trap_due,
            ..Default::default()
        };
        match status.decoded {
            WaitStatus::SignalDeliveryStop { sig } => {
                facts.policy = Some(self.policy.get(sig));
                if sig == libc::SIGTRAP && !self.trap_facts(tid, &mut facts) {
                    return self.killed_while_reporting(tid, prev, &status);
                }
            }
            WaitStatus::EventStop { event } if event != PtraceEvent::Exec => {
                facts.event_msg = pt::event_msg(tid).unwrap_or(0);
            }
            _ => {}
        }
        let mut d = decide(prev, status.decoded, &facts);
        let temp = match d.cause {
            Some(StopCause::Breakpoint { addr }) => {
                let rsp = self.tracees.get(tid).and_then(|t| t.regs).map(|r| r.rsp());
                let hit = self.temp_hit(tid, addr, rsp);
                if hit != TempHit::No && !self.bps.is_users(addr) {
                    match hit {
                        TempHit::Arrived => d.cause = self.job_cause(),
                        // Not a stop of its own: no cause, and no all-stop of the kind that is
                        // shown (one that resumes follows below).
                        _ => {
                            d.cause = None;
                            d.stops_world = false;
                        }
                    }
                }
                hit
            }
            _ => TempHit::No,
        };
        // A breakpoint of the user's with a condition, ignore count, log text or trace decides
        // here, with no round trip to a front end (a stepping command's own arrival aside).
        let mut passing = None;
        if let (Some(StopCause::Breakpoint { addr }), false) = (d.cause, temp == TempHit::Arrived) {
            match self.judge_hit(tid, addr, prev) {
                HitOutcome::Stop => {}
                // Gone on out of line, still running: nothing more to do or to show.
                HitOutcome::Passed => return,
                HitOutcome::Quiet { resume_world } => {
                    d.cause = None;
                    d.stops_world = false;
                    passing = Some(resume_world);
                }
            }
        }
        let forked_child = match status.decoded {
            WaitStatus::EventStop {
                event: PtraceEvent::Fork | PtraceEvent::Vfork,
            } => Some(facts.event_msg as Tid),
            _ => None,
        };

        // Counted and announced while the thread still sits in the stop that reported it.
        if let Some(StopCause::Watchpoint { addr }) = d.cause {
            self.watch_hit(tid, addr);
        }
        let Some(t) = self.tracees.get_mut(tid) else {
            return;
        };
        t.state = before.after(&d);
        if unstoppable {
            t.cause = None;
        }
        if d.cause.is_some() {
            t.cause = d.cause;
        }
        if d.state == ThreadState::Stopped && t.cause.is_none() {
            t.cause = Some(StopCause::Stopped);
        }
        if let Some(sig) = d.holds_signal {
            t.held_signal = Some(sig);
        }
        // Any signal report is the one that could have been our step trap: after it, none is
        // queued any more. Other reports leave a pending step trap where it is.
        if matches!(status.decoded, WaitStatus::SignalDeliveryStop { .. }) {
            t.step_trap_due = matches!(d.action, Action::StepAgain { .. });
        }
        let mut note = self.carry_out(tid, driven, d.action, &status);
        if passing.is_some() && matches!(d.action, Action::RewindAndSettle { .. }) {
            note = "breakpoint hit that does not stop (condition false, ignored or logged): rip \
                    moved back; stepped over it at the continue";
        } else if d.cause.is_none() && temp == TempHit::PassBy {
            note = "temporary int3 of a step, not for this thread or frame: rip moved back; \
                    stepped past once every thread is stopped";
        } else if temp == TempHit::Arrived {
            note = "temporary int3: the stepping thread is back in its frame; settling";
        }
        let shown = match self.tracees.get(tid) {
            Some(t) if t.trap_held => ThreadState::Stopped,
            _ => d.state,
        };
        self.transition(tid, prev, shown, Some(status), note);

        if let WaitStatus::EventStop { event } = status.decoded {
            self.after_event(tid, event, facts.event_msg);
            // A thread was born: its first stop (or its parent's event) follows within
            // microseconds.
            if event == PtraceEvent::Clone {
                self.births = true;
            }
        }
        if let Some(child) = forked_child {
            self.note(
                Some(tid),
                format!("fork/vfork: child {child} (released once it reports)"),
            );
        }
        // While stepping over, every other thread is already at rest: the stop is taken up
        // once the step-overs are done (`progress`).
        if d.stops_world && !matches!(self.phase, Phase::SteppingOver { .. }) {
            self.begin_all_stop(Some(tid), AfterStop::Rest);
        } else if passing == Some(true) || (temp == TempHit::PassBy && d.cause.is_none()) {
            // Hits that are not stops, by a thread that was running: every thread stops so
            // that it can step past in place, and all run on (`conditions.rs`, `stepping.rs`).
            self.stop_to_pass();
        } else if matches!(
            d.cause,
            Some(
                StopCause::Watchpoint { .. }
                    | StopCause::Breakpoint { .. }
                    | StopCause::Signal { .. }
            )
        ) && matches!(
            self.phase,
            Phase::AllStopping {
                then: AfterStop::Resume,
                ..
            }
        ) {
            // News reported on the way to a stop that was only to step threads past a
            // stepping command's int3: a watchpoint hit (the thread interrupted right after
            // the access, or let through by `kick_pending_traps`), a breakpoint of the user's
            // or a signal that stops. It is a stop of its own, and ends the command; resumed,
            // it would be lost.
            self.begin_all_stop(Some(tid), AfterStop::Rest);
        }
        if before == TraceeState::Newborn {
            self.resume_newborn(tid);
        }
        if unstoppable {
            self.stopped_at_last(tid);
        }
    }

    /// A thread whose trap could not be looked at because it has moved on: a group exit's
    /// SIGKILL woke it from the stop it had just reported, and it is dying (ptrace calls fail
    /// with ESRCH, or already find it at its exit stop). Seen when the process called
    /// exit_group while hits were being passed: the trap, taken for a signal that stops, rested
    /// the world with every thread at its exit stop, and the process could not finish exiting
    /// until a front end said continue. Its PTRACE_EVENT_EXIT or its exit status follows.
    fn killed_while_reporting(&mut self, tid: Tid, prev: ThreadState, status: &RawStatus) {
        if let Some(t) = self.tracees.get_mut(tid) {
            t.state = TraceeState::Exiting;
            t.cause = None;
            t.ran();
        }
        self.transition(
            tid,
            prev,
            ThreadState::Exiting,
            Some(*status),
            "killed while reporting a trap (group exit): its exit follows",
        );
    }

    /// For a SIGTRAP: was it one of our int3 bytes, or one of our watchpoints? False when the
    /// thread is gone and its trap cannot be looked at.
    fn trap_facts(&mut self, tid: Tid, facts: &mut StopFacts) -> bool {
        match pt::si_code(tid) {
            // The siginfo of an exit stop: a SIGKILL woke the thread from the stop it
            // reported and it went on to PTRACE_EVENT_EXIT (whose report follows) before we
            // looked (seen: si_code 0x605 for an int3 trap during exit_group).
            Ok(code) if code == libc::SIGTRAP | (libc::PTRACE_EVENT_EXIT << 8) => return false,
            Ok(code) => facts.si_code = Some(code),
            Err(TraceError::ThreadExited(_)) => return false,
            Err(_) => {}
        }
        // The debug exception reports a data watchpoint as TRAP_HWBKPT, and as TRAP_TRACE when
        // a single step trapped at the same instruction; DR6 tells.
        if matches!(facts.si_code, Some(TRAP_HWBKPT | TRAP_TRACE)) {
            facts.watchpoint = self.watch_facts(tid);
        }
        if facts.si_code != Some(SI_KERNEL) {
            return true;
        }
        let regs = match pt::getregs(tid) {
            Ok(r) => r,
            Err(TraceError::ThreadExited(_)) => return false,
            Err(_) => return true,
        };
        // Kept: valid for this stop, and a rewind needs them next.
        if let Some(t) = self.tracees.get_mut(tid) {
            t.regs = Some(regs);
        }
        let at = regs.rip().wrapping_sub(1);
        let byte = self.mem.read(at, 1).first().copied();
        if byte == Some(INT3) {
            if self.bps.contains(at) && self.bps.inserted() {
                facts.our_breakpoint = Some(at);
            }
        } else if self.bps.contains(at) {
            // Our int3, run just before an all-stop took the bytes out: a hit all the same
            // (rewound, it would otherwise be stepped over at the continue, and lost).
            facts.our_breakpoint = Some(at);
        } else {
            // The kernel says an int3 ran at `at`, but none is there now: it was ours and was
            // taken out since (all-stop or a removed breakpoint). The program's own int3
            // instructions never leave memory.
            facts.stale_breakpoint = Some(at);
        }
        true
    }

    /// Performs the action and says in a few words why, for the event log.
    fn carry_out(
        &mut self,
        tid: Tid,
        prev: ThreadState,
        action: Action,
        status: &RawStatus,
    ) -> &'static str {
        // Registers read at this stop stay good only while the thread runs no user code: a
        // rewind-and-settle keeps them (the rewind just wrote them), everything else that
        // resumes the thread makes them stale.
        if !matches!(
            action,
            Action::Rest | Action::RewindAndSettle { .. } | Action::Listen
        ) {
            self.ran(tid);
        }
        let result = match action {
            Action::Rest => return rest_note(status),
            Action::RewindAndSettle { addr } => {
                let hit = matches!(
                    self.tracees.get(tid).and_then(|t| t.cause),
                    Some(StopCause::Breakpoint { .. })
                );
                if hit {
                    self.bps.hit(addr);
                }
                let r = self.rewind(tid, addr).and_then(|_| self.settle(tid));
                if let Some(t) = self.tracees.get_mut(tid) {
                    // Settling runs no user instruction: the hit stays handled until it runs.
                    t.handled_hit = Some(addr);
                }
                if r.is_ok() {
                    return if hit {
                        "our int3: rip moved back onto the breakpoint; settling into an event-stop"
                    } else {
                        "trap of an int3 of ours already removed: rip moved back"
                    };
                }
                r
            }
            Action::Settle if self.hold_step_trap(tid) => {
                return "step over the breakpoint done; its SIGTRAP is dropped by the resume \
                        that follows (signal 0)";
            }
            Action::Settle => {
                let watch = matches!(
                    self.tracees.get(tid).and_then(|t| t.cause),
                    Some(StopCause::Watchpoint { .. })
                );
                let r = self.settle(tid);
                if r.is_ok() {
                    return if watch {
                        "debug register trap (DR6 names our watchpoint); our SIGTRAP dropped, settling into an event-stop"
                    } else {
                        "step done; our SIGTRAP dropped, settling into an event-stop"
                    };
                }
                r
            }
            Action::RewindAndResume { addr } => {
                let r = self.rewind(tid, addr).and_then(|_| pt::cont(tid, 0));
                if r.is_ok() {
                    return "trap of a removed int3 of ours: rip moved back, resumed";
                }
                r
            }
            Action::Resume { sig } => {
                // A thread we are stopping must still stop: re-arm the interrupt in case the
                // report we just got consumed it.
                let r = if prev == ThreadState::Stopping {
                    pt::interrupt(tid).and_then(|_| pt::cont(tid, sig))
                } else {
                    pt::cont(tid, sig)
                };
                if r.is_ok() {
                    return match status.decoded {
                        WaitStatus::SignalDeliveryStop { .. } => "signal passed on (policy: pass)",
                        WaitStatus::InterruptStop if prev == ThreadState::Stopped => {
                            "job-control stop ended (SIGCONT): resumed"
                        }
                        WaitStatus::InterruptStop => "leftover interrupt absorbed: resumed",
                        WaitStatus::EventStop { .. } => "event logged: resumed",
                        _ => "resumed",
                    };
                }
                r
            }
            Action::StepAgain { sig } => {
                let r = pt::step(tid, sig);
                if r.is_ok() {
                    return "step interrupted by an event: stepping on";
                }
                r
            }
            Action::Listen => {
                let r = pt::listen(tid);
                if r.is_ok() {
                    if let Some(t) = self.tracees.get_mut(tid) {
                        t.state = TraceeState::Listening;
                    }
                    return "job-control stop honoured with PTRACE_LISTEN";
                }
                r
            }
            Action::Forget => {
                self.forget(tid, status);
                return "thread gone";
            }
        };
        match result {
            Ok(()) => "",
            Err(TraceError::ThreadExited(_)) => {
                // It died under us (SIGKILL from outside): its exit status will follow.
                if let Some(t) = self.tracees.get_mut(tid) {
                    t.state = TraceeState::Exiting;
                }
                "thread vanished while being handled"
            }
            Err(e) => {
                let text = format!("thread {tid}: {e}");
                self.note(Some(tid), text);
                "error while handling the stop"
            }
        }
    }

    pub(super) fn ran(&mut self, tid: Tid) {
        if let Some(t) = self.tracees.get_mut(tid) {
            t.ran();
        }
    }

    fn rewind(&mut self, tid: Tid, addr: u64) -> Result<()> {
        // Registers cached for the current stop (every resume clears the cache) save a GETREGS.
        let cached = self.tracees.get(tid).and_then(|t| t.regs);
        let mut regs = match cached {
            Some(r) => r,
            None => pt::getregs(tid)?,
        };
        regs.set_rip(addr);
        pt::setregs(tid, &regs)?;
        if let Some(t) = self.tracees.get_mut(tid) {
            t.regs = Some(regs);
        }
        Ok(())
    }

    /// The trap of the last step-over in flight: the continue that follows in this round
    /// (`progress`) resumes the thread with signal 0, which drops the SIGTRAP, so it is not
    /// settled into an event-stop first (a PTRACE_INTERRUPT, a resume and one more report per
    /// breakpoint hit stepped over: 5,300 -> 6,300-6,700 hits a second with one hot thread).
    /// Only the last: another step-over may take long (a blocking system call stepped in
    /// place), and a thread waiting for it in a signal-delivery-stop would die of our SIGTRAP
    /// if ptscope were killed meanwhile. Should the world come to rest instead (another
    /// thread's step-over ended in a stop), `settle_held_traps` settles it before the picture
    /// is published.
    fn hold_step_trap(&mut self, tid: Tid) -> bool {
        let Phase::SteppingOver { over, .. } = &self.phase else {
            return false;
        };
        if !over.contains(&tid) {
            return false;
        }
        if self.steps_in_flight(over.iter().copied().filter(|&o| o != tid)) {
            return false;
        }
        let Some(t) = self.tracees.get_mut(tid) else {
            return false;
        };
        if t.cause != Some(StopCause::Stepped) {
            return false;
        }
        t.state = TraceeState::Stopped;
        t.trap_held = true;
        true
    }

    /// Turns a signal-delivery-stop that holds our SIGTRAP into an event-stop: the interrupt is
    /// queued first, so the thread re-stops before running any user instruction, and the SIGTRAP
    /// is dropped by resuming with signal 0. A thread left in a signal-delivery-stop would get
    /// that SIGTRAP (and die of it) if ptscope were killed.
    pub(super) fn settle(&mut self, tid: Tid) -> Result<()> {
        pt::interrupt(tid)?;
        pt::cont(tid, 0)?;
        self.settling.push(tid);
        // The SIGTRAP is dropped now and the thread runs no user instruction before its
        // event-stop: a step is over. Its front end hears so at once and its next command
        // crosses the channel while the thread settles; every command is taken only after the
        // reports being waited for, so it finds the thread stopped.
        if self.tracees.get(tid).and_then(|t| t.cause) == Some(StopCause::Stepped) {
            self.answer_step(tid);
        }
        Ok(())
    }

    fn forget(&mut self, tid: Tid, status: &RawStatus) {
        if tid == self.pid {
            let kind = match status.decoded {
                WaitStatus::Killed { sig, .. } => ExitKind::Signal { sig },
                WaitStatus::Exited { code } => ExitKind::Code { code },
                _ => ExitKind::Code { code: 0 },
            };
            self.process_exited(kind);
        } else if let Some(t) = self.tracees.get_mut(tid) {
            t.state = TraceeState::Exited;
        }
    }

    fn process_exited(&mut self, status: ExitKind) {
        for (_, t) in self.tracees.iter_mut() {
            t.state = TraceeState::Exited;
        }
        self.phase = Phase::Exited { status };
    }

    /// Follow-up of ptrace events once the reporting thread has been handled.
    fn after_event(&mut self, tid: Tid, event: PtraceEvent, msg: u64) {
        match event {
            PtraceEvent::Clone => {
                let new_tid = msg as Tid;
                // A clone starts with its parent's comm, which is what /proc would say now:
                // no read at every birth (the all-stops read a young thread's name again).
                let (name, exit_stops) = self
                    .tracees
                    .get(tid)
                    .map_or((String::new(), true), |t| (t.name.clone(), t.exit_stops));
                if let Some(born) = self.tracees.get_mut(new_tid) {
                    // Its own stop came first and it was named nothing (see handle_unknown):
                    // now its parent is known, and with it the comm it started with.
                    if born.name.is_empty() && !born.name_read {
                        born.name = name;
                    }
                } else if new_tid > 0 && pt::is_thread_of(self.pid, new_tid) {
                    // A group exit's SIGKILL can take the parent from this stop to its exit
                    // stop before PTRACE_GETEVENTMSG, which then gives its exit status instead
                    // (see `killed_while_reporting`): a thread id that is no thread of the
                    // process is no birth. Its own first stop (PTRACE_EVENT_STOP) is still to
                    // come.
                    let mut t = Tracee::new(name, TraceeState::Newborn);
                    // Options are inherited: a parent without the exit stop passes none on.
                    t.exit_stops = exit_stops;
                    t.debug = self.newborn_debug();
                    self.tracees.insert(new_tid, t);
                    self.transition(
                        new_tid,
                        ThreadState::Running,
                        ThreadState::Stopping,
                        None,
                        "born traced (PTRACE_O_TRACECLONE)",
                    );
                }
            }
            PtraceEvent::Exec => {
                // The exec'ing thread took over the leader's id; every other thread is gone,
                // and so is the old image with our breakpoints in it.
                let former = pt::event_msg(tid).unwrap_or(0) as Tid;
                self.tracees.keep_only(tid);
                if former != tid && former > 0 {
                    self.note(
                        Some(tid),
                        format!("thread {former} exec'd and became {tid}"),
                    );
                }
                if !self.bps.is_empty() {
                    self.note(
                        Some(tid),
                        "exec: breakpoints dropped with the old image".into(),
                    );
                }
                self.bps.clear();
                self.rules.clear();
                self.ool.clear();
                // The kernel flushes the debug registers at exec (flush_ptrace_hw_breakpoint).
                if !self.watch.is_empty() {
                    self.note(
                        Some(tid),
                        "exec: watchpoints dropped with the old image".into(),
                    );
                }
                self.watch.clear();
                for (_, t) in self.tracees.iter_mut() {
                    t.debug = DebugState::Untouched;
                }
                self.text_restored();
                self.shared.mm_generation.fetch_add(1, Ordering::AcqRel);
                match Memory::open(self.pid) {
                    Ok(m) => self.mem = m,
                    Err(e) => self.note(Some(tid), format!("exec: {e}")),
                }
                let name = tasks::thread_name(self.pid, tid);
                if let Some(t) = self.tracees.get_mut(tid) {
                    t.name = name;
                }
            }
            PtraceEvent::VforkDone
                if matches!(self.phase, Phase::Running)
                    && !self.bps.is_empty()
                    && !self.bps.inserted() =>
            {
                if let Err(e) = self.insert_breakpoints() {
                    self.note(
                        Some(tid),
                        format!("vfork done: cannot re-insert breakpoints: {e}"),
                    );
                }
            }
            _ => {}
        }
    }

    /// Exit stops only where they stop something (`pt::thread_options`), set while the thread
    /// sits in the stop just reported: a newborn inherited its parent's options, and a thread
    /// that exec'd took over the leader's id (and must report the process's end) with its own.
    fn fit_options(&mut self, tid: Tid, status: &RawStatus) {
        let exit_stops = self.wants_exit_stops(tid);
        let has = || self.tracees.get(tid).is_none_or(|t| t.exit_stops);
        let fits = match status.decoded {
            WaitStatus::EventStop {
                event: PtraceEvent::Exec,
            } => true,
            WaitStatus::Exited { .. }
            | WaitStatus::Killed { .. }
            | WaitStatus::EventStop {
                event: PtraceEvent::Exit,
            } => false,
            // Only a thread that may still have the exit stop needs a call: a newborn whose
            // parent had it (the leader), one whose parent is not known yet, or one cloned
            // while the attach was seizing (auto-attached before its own seize).
            _ => !exit_stops && has(),
        };
        // A failure (the thread was killed meanwhile) leaves the exit stop, which is handled
        // as before.
        if fits && pt::set_options(tid, pt::thread_options(self.launched, exit_stops)).is_ok() {
            if let Some(t) = self.tracees.get_mut(tid) {
                t.exit_stops = exit_stops;
            }
        }
    }

    /// Whether `tid` should stop at PTRACE_EVENT_EXIT: the leader always (the process's end
    /// is read there), the others only when thread events stop the world.
    pub(super) fn wants_exit_stops(&self, tid: Tid) -> bool {
        self.stop_on_thread_events || tid == self.pid
    }

    /// A new thread whose first stop came in while the process runs joins the running.
    fn resume_newborn(&mut self, tid: Tid) {
        if !matches!(self.phase, Phase::Running) {
            return;
        }
        if self
            .tracees
            .get(tid)
            .is_none_or(|t| t.state != TraceeState::Stopped)
        {
            return;
        }
        // A clone child has none of its parent's debug registers: arm it before it runs.
        self.arm_and_run(tid, "new thread joins the running process");
    }

    /// A stopped thread that missed the continue of the others: its debug registers armed, then
    /// it runs too.
    pub(super) fn arm_and_run(&mut self, tid: Tid, note: &'static str) {
        self.arm(tid);
        let Some(t) = self.tracees.get_mut(tid) else {
            return;
        };
        if pt::cont(tid, 0).is_ok() {
            t.state = TraceeState::Running;
            t.cause = None;
            t.ran();
            self.transition(tid, ThreadState::Stopped, ThreadState::Running, None, note);
        }
    }

    fn handle_unknown(&mut self, tid: Tid, status: RawStatus) {
        if matches!(
            status.decoded,
            WaitStatus::Exited { .. } | WaitStatus::Killed { .. }
        ) {
            return;
        }
        // One tgkill(2) with no signal tells a thread of ours from a forked child (the path
        // lookup of a stat of /proc/PID/task/TID was an eighth of the tracer's CPU in a storm of
        // thread births, where the newborn's first stop often beats its parent's event).
        if pt::is_thread_of(self.pid, tid) {
            // A thread whose first stop beat its parent's PTRACE_EVENT_CLONE. Its parent is
            // not known yet, so neither is the comm it inherited; reading it here was a tenth
            // of the tracer's CPU in a storm of births. The name stays empty (name_final is
            // false) until the next all-stop reads it with every young thread's.
            let mut t = Tracee::new(String::new(), TraceeState::Newborn);
            t.debug = self.newborn_debug();
            self.tracees.insert(tid, t);
            self.handle_status(tid, status.raw);
        } else {
            self.release_child(tid);
        }
    }

    /// A child the target forked while our int3 bytes were in its memory: without them put back
    /// it would die of SIGTRAP at the first breakpoint it runs into, far from any tracer.
    fn release_child(&mut self, child: Tid) {
        let mut text = format!("forked child {child}");
        if self.bps.inserted() {
            match Memory::open(child) {
                Ok(cm) => match self.bps.restore_into(&cm) {
                    Ok(()) => {
                        text.push_str(": original bytes restored");
                        // A vfork child shares our memory: restoring its copy restored ours.
                        let probe = self.bps.addresses().next();
                        if let Some(addr) = probe {
                            if self.mem.read(addr, 1).first() != Some(&INT3) {
                                self.bps.mark_removed();
                                self.text_restored();
                                text.push_str(
                                    " (shared memory: breakpoints lifted until vfork ends)",
                                );
                            }
                        }
                    }
                    Err(e) => text.push_str(&format!(": cannot restore bytes: {e}")),
                },
                Err(e) => text.push_str(&format!(": cannot open its memory: {e}")),
            }
        }
        match pt::detach(child, 0) {
            Ok(()) => text.push_str(", detached"),
            Err(e) => text.push_str(&format!(", detach failed: {e}")),
        }
        self.note(None, text);
    }

    fn handle_while_killing(&mut self, tid: Tid, status: RawStatus) {
        match status.decoded {
            WaitStatus::Exited { .. } | WaitStatus::Killed { .. } => {
                if tid == self.pid {
                    self.forget(tid, &status);
                }
            }
            _ => {
                let _ = pt::cont(tid, 0);
            }
        }
    }
}

fn rest_note(status: &RawStatus) -> &'static str {
    match status.decoded {
        WaitStatus::InterruptStop => "interrupt landed: thread stopped",
        WaitStatus::GroupStop { .. } => "job-control stop reported",
        WaitStatus::SignalDeliveryStop { .. } => "signal held (policy: stop)",
        WaitStatus::EventStop {
            event: PtraceEvent::Exit,
        } => "about to exit: registers still readable",
        WaitStatus::EventStop {
            event: PtraceEvent::Clone,
        } => "created a thread",
        WaitStatus::EventStop {
            event: PtraceEvent::Exec,
        } => "new program image",
        WaitStatus::EventStop { .. } => "ptrace event",
        _ => "stopped",
    }
}
