//! What front ends ask for: stop, continue (with step-over), step, breakpoints, registers,
//! memory, snapshots. Watchpoints are in `watch.rs`, register and memory writes in
//! `writes.rs`.

use super::phase::{AfterStop, Phase, Waiter};
use super::stepping::{JobKind, Return};
use super::Engine;
use crate::procinfo::maps;
use crate::tracer::error::{Result, TraceError};
use crate::tracer::event::{Command, EventKind, MemoryRead, Reply};
use crate::tracer::ptrace as pt;
use crate::tracer::signals::signal_name;
use crate::tracer::thread::{StopCause, ThreadState, Tid, TraceeState};
use crate::tracer::tracee::Tracee;
use crate::tracer::Request;

impl Engine {
    pub(super) fn handle_request(&mut self, req: Request) {
        if self.phase.is_over() {
            let err = self.phase.over_error();
            return self.reply(req.reply, Err(err));
        }
        let to = req.reply;
        // The program is being killed: nothing will stop, run or detach any more.
        if matches!(self.phase, Phase::Killing)
            && matches!(
                req.cmd,
                Command::Stop
                    | Command::Continue
                    | Command::Step { .. }
                    | Command::Detach
                    | Command::StepOver { .. }
                    | Command::Finish { .. }
                    | Command::StepLine { .. }
            )
        {
            return self.reply(to, Err(TraceError::ProcessExited));
        }
        let result = match req.cmd {
            Command::Stop => {
                if matches!(self.phase, Phase::Stopped { .. }) {
                    Ok(Reply::Done)
                } else {
                    self.begin_all_stop(None, AfterStop::Rest);
                    self.waiters.push(Waiter::AllStopped(to));
                    return;
                }
            }
            Command::Continue => match self.start_continue() {
                Ok(()) => {
                    self.waiters.push(Waiter::Resumed(to));
                    return;
                }
                Err(e) => Err(e),
            },
            Command::Step { tid } => match self.start_step(tid) {
                Ok(()) => {
                    self.waiters.push(Waiter::StepDone(tid, to));
                    return;
                }
                Err(e) => Err(e),
            },
            Command::AddBreakpoint { addr } => self.add_breakpoint(addr).map(|_| Reply::Done),
            Command::RemoveBreakpoint { addr } => self.bps.remove(&self.mem, addr).map(|_| {
                self.forget_rule(addr);
                Reply::Done
            }),
            Command::GetRegisters { tid } => self.stopped_thread(tid).and_then(|_| {
                let regs = pt::getregs(tid)?;
                Ok(Reply::Registers(Box::new(regs)))
            }),
            Command::SetRegister { tid, name, value } => self.set_register(tid, &name, value),
            Command::ReadMemory { addr, len } => self.read_memory(addr, len),
            Command::WriteMemory { addr, bytes } => self.write_memory(addr, bytes),
            Command::AddWatchpoint { addr, kind, len } => self.add_watchpoint(addr, kind, len),
            Command::RemoveWatchpoint { addr } => self.remove_watchpoint(addr),
            Command::Snapshot => {
                self.refresh_names(true);
                Ok(Reply::Snapshot(Box::new(self.snapshot())))
            }
            Command::ReadRegisterSets => self.read_register_sets(),
            Command::SetSignalPolicy { sig, policy } => {
                self.policy.set(sig, policy);
                Ok(Reply::Done)
            }
            Command::Detach => {
                self.waiters.push(Waiter::Detached(to));
                if matches!(self.phase, Phase::Stopped { .. }) {
                    // Already at rest: let go now.
                    self.detach_all();
                } else {
                    self.begin_all_stop(None, AfterStop::Detach);
                }
                return;
            }
            Command::AddBreakpointWith { addr, rule } => self.add_breakpoint_with(addr, *rule),
            Command::StepOver { tid } => return self.start_job(tid, JobKind::Over, to),
            Command::Finish {
                tid,
                return_addr,
                cfa,
            } => {
                let ret = Return {
                    addr: return_addr,
                    cfa,
                };
                return self.start_job(tid, JobKind::Finish(ret), to);
            }
            Command::StepLine { tid, ranges } => {
                return self.start_job(tid, JobKind::Line { ranges }, to)
            }
            Command::Kill => {
                if !self.launched {
                    Err(TraceError::WrongState(
                        "ptscope only kills programs it launched; use detach".into(),
                    ))
                } else {
                    self.waiters.push(Waiter::Killed(to));
                    self.kill();
                    return;
                }
            }
        };
        self.reply(to, result);
    }

    pub(super) fn stopped_thread(&self, tid: Tid) -> Result<&Tracee> {
        let t = self.tracees.get(tid).ok_or(TraceError::NoSuchThread(tid))?;
        if !t.is_live() {
            return Err(TraceError::ThreadExited(tid));
        }
        let state = t.state.view();
        if let TraceeState::CannotStop { why } = t.state {
            return Err(TraceError::WrongState(format!(
                "thread {tid} could not be stopped ({why})"
            )));
        }
        if !matches!(state, ThreadState::Stopped | ThreadState::Exiting) {
            return Err(TraceError::WrongState(format!(
                "thread {tid} is {state}: stop it first"
            )));
        }
        Ok(t)
    }

    pub(super) fn require_world_stopped(&self, what: &str) -> Result<()> {
        match self.phase {
            Phase::Stopped { .. } => Ok(()),
            Phase::Running | Phase::SteppingOver { .. } => Err(TraceError::WrongState(format!(
                "cannot {what}: the process is running (stop it first)"
            ))),
            _ => {
                let pending = self
                    .tracees
                    .live()
                    .filter(|(_, t)| !t.state.view().is_settled())
                    .count();
                // Every thread at rest, the stop not published yet (its picture is being
                // read, or a step's leg is ending): a moment, not a thread, is missing.
                Err(TraceError::WrongState(if pending == 0 {
                    format!("cannot {what}: the stop is not complete yet")
                } else {
                    format!("cannot {what}: {pending} thread(s) have not stopped yet")
                }))
            }
        }
    }

    pub(super) fn start_continue(&mut self) -> Result<()> {
        self.require_world_stopped("continue")?;
        self.expect_reports = true;
        self.note_watched_values();
        let by = self.phase.stopped_by();
        // A thread stands on a breakpoint it has already been seen to hit, or the one whose
        // stop the user saw there (a step that landed on it): stepped over, it does not stop
        // there twice. Any other thread found with its rip on a breakpoint was interrupted just
        // before it: it runs into the int3 and reports its hit (seen: one such call in ~16,000
        // went unchecked when the world stopped at each hit to step past in place).
        let mut over = self
            .tracees
            .iter()
            .filter_map(|(tid, t)| {
                let rip = t.regs.map(|r| r.rip())?;
                let handled = t.handled_hit == Some(rip) || by == Some(tid);
                (t.state == TraceeState::Stopped && handled && self.bps.contains(rip))
                    .then_some(tid)
            })
            .collect::<Vec<_>>();
        // No int3 is in memory while stopped, so stepping these runs the original instruction.
        over.retain(|tid| self.step_over(*tid));
        self.phase = Phase::SteppingOver { over, by };
        Ok(())
    }

    /// Starts one thread's step off its breakpoint; false when it could not be stepped.
    fn step_over(&mut self, tid: Tid) -> bool {
        // Armed for the step too: the instruction under the breakpoint may be the write.
        self.arm(tid);
        let Some(t) = self.tracees.get_mut(tid) else {
            return false;
        };
        let sig = t.held_signal.take().unwrap_or(0);
        if pt::step(tid, sig).is_err() {
            return false;
        }
        t.state = TraceeState::Stepping;
        t.step_trap_due = true;
        t.cause = None;
        t.ran();
        self.transition(
            tid,
            ThreadState::Stopped,
            ThreadState::Stepping,
            None,
            "stepping over the breakpoint before continuing",
        );
        true
    }

    /// Second half of a continue: breakpoints in, every thread resumed with what it holds.
    pub(super) fn finish_continue(&mut self) {
        if let Err(e) = self.insert_breakpoints() {
            self.note(None, format!("could not insert every breakpoint: {e}"));
        }
        self.phase = Phase::Running;
        let tids = self.tracees.tids_where(|t| {
            t.is_live() && matches!(t.state.view(), ThreadState::Stopped | ThreadState::Exiting)
        });
        for tid in tids {
            let pid = self.pid;
            if self
                .tracees
                .get(tid)
                .is_some_and(|t| t.state != TraceeState::Exiting)
            {
                self.arm(tid);
            }
            let Some(t) = self.tracees.get_mut(tid) else {
                continue;
            };
            let old = t.state.view();
            // A job-control stop from outside stays in force until its SIGCONT.
            if matches!(t.cause, Some(StopCause::GroupStop { .. })) && t.held_signal.is_none() {
                if pt::listen(tid).is_ok() {
                    t.state = TraceeState::Listening;
                }
                continue;
            }
            let sig = t.held_signal.take().unwrap_or(0);
            let exiting = t.state == TraceeState::Exiting;
            match pt::cont(tid, sig) {
                Ok(()) => {
                    t.state = if exiting {
                        TraceeState::let_go(tid == pid)
                    } else {
                        TraceeState::Running
                    };
                    if !exiting {
                        t.cause = None;
                    }
                    t.ran();
                    let note = match (exiting, sig) {
                        (true, _) => "released to finish exiting",
                        (false, 0) => "PTRACE_CONT",
                        (false, _) => "PTRACE_CONT delivering the held signal",
                    };
                    let new = if exiting {
                        ThreadState::Exiting
                    } else {
                        ThreadState::Running
                    };
                    self.transition(tid, old, new, None, note);
                    if sig != 0 {
                        self.note(Some(tid), format!("delivered {}", signal_name(sig)));
                    }
                }
                Err(_) => t.state = TraceeState::Released,
            }
        }
        self.emit(EventKind::Resumed);
    }

    /// Whether `tid` can be stepped now: the world at rest, the thread stopped, not exiting
    /// and not held by a job-control stop.
    pub(super) fn steppable(&self, tid: Tid) -> Result<()> {
        self.require_world_stopped("step")?;
        let t = self.stopped_thread(tid)?;
        if t.state == TraceeState::Exiting {
            return Err(TraceError::WrongState(format!("thread {tid} is exiting")));
        }
        if t.state == TraceeState::Listening || matches!(t.cause, Some(StopCause::GroupStop { .. }))
        {
            return Err(TraceError::WrongState(format!(
                "thread {tid} is in a job-control stop: it runs again on SIGCONT"
            )));
        }
        Ok(())
    }

    pub(super) fn start_step(&mut self, tid: Tid) -> Result<()> {
        self.steppable(tid)?;
        let sig = self
            .tracees
            .get(tid)
            .and_then(|t| t.held_signal)
            .unwrap_or(0);
        self.note_watched_values();
        self.arm(tid);
        pt::step(tid, sig)?;
        self.expect_reports = true;
        self.phase = Phase::Stepping { tid };
        if let Some(t) = self.tracees.get_mut(tid) {
            t.held_signal = None;
            t.state = TraceeState::Stepping;
            t.step_trap_due = true;
            t.cause = None;
            t.ran();
        }
        let note = if sig != 0 {
            "PTRACE_SINGLESTEP delivering the held signal"
        } else {
            "PTRACE_SINGLESTEP"
        };
        self.transition(tid, ThreadState::Stopped, ThreadState::Stepping, None, note);
        Ok(())
    }

    pub(super) fn add_breakpoint(&mut self, addr: u64) -> Result<()> {
        match maps::mapping_at(self.pid, addr) {
            None => return Err(TraceError::NotMapped(addr)),
            Some(m) if !m.executable() => return Err(TraceError::NotExecutable(addr)),
            Some(_) => {}
        }
        self.bps.add(&self.mem, addr)
    }

    fn read_memory(&mut self, addr: u64, len: usize) -> Result<Reply> {
        let mut bytes = self.mem.read(addr, len);
        if bytes.is_empty() && len > 0 {
            return Err(TraceError::Unreadable { addr, len, read: 0 });
        }
        self.bps.mask_read(addr, &mut bytes);
        Ok(Reply::Memory(MemoryRead {
            addr,
            bytes,
            requested: len,
        }))
    }
}
