//! The stepping commands that take more than one instruction: step over (`o`), finish (`f`)
//! and line step (`l`).
//!
//! Each is a job made of legs the engine already has: a single step of one thread
//! (`Phase::Stepping`, the others holding still), or a continue of every thread with a
//! temporary int3 at a return address. Between two legs the world is stopped and no int3 of
//! ours is in memory, as after any stop; `job_goes_on` decides there whether the job has
//! arrived, takes another leg, or was cut short by a stop of another kind (a breakpoint, a
//! signal, a thread event, a stop asked for), which is then published like any other.
//!
//! The temporary int3 is for one thread in one frame. The return address is where the callee's
//! `ret` lands, with rsp back where it was before the `call` (the callee's CFA). Other threads
//! run through the same code, and a recursive call returns to the same address from deeper
//! down, with a lower rsp: those hits do not count. Such a thread is rewound onto the int3,
//! the world is stopped, and the continue that follows steps it past the original instruction
//! (`AfterStop::Resume`), so no thread ever runs through the return address unwatched.

use super::phase::{AfterStop, Phase, Waiter};
use super::{Engine, ReplyTo};
use crate::disasm::{self, Flow};
use crate::procinfo::maps;
use crate::tracer::error::{Result, TraceError};
use crate::tracer::event::StepOutcome;
use crate::tracer::thread::{StopCause, Tid};

/// At most this many instructions in one line step: a loop on one line ends the step.
pub const LINE_STEP_LIMIT: u64 = 10_000;

/// What a job is after.
pub(super) enum JobKind {
    /// One instruction; a call runs to its return.
    Over,
    /// Back in the caller of the frame that returns to `Return`.
    Finish(Return),
    /// Off the source line whose code is `ranges`, calls run to their return.
    Line { ranges: Vec<(u64, u64)> },
}

/// A return a continue leg runs to: `addr` reached by the job's thread with rsp >= `cfa`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Return {
    pub addr: u64,
    pub cfa: u64,
}

pub(super) struct StepJob {
    tid: Tid,
    kind: JobKind,
    reply: ReplyTo,
    /// The continue leg on its way, whose temporary int3 is at `addr`.
    running_to: Option<Return>,
    /// The job's thread reached `running_to` in the right frame.
    arrived: bool,
    /// Single steps and calls run to their return so far.
    instructions: u64,
}

/// What a breakpoint trap means for the job's temporary int3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TempHit {
    /// Not the temporary int3.
    No,
    /// The job's thread, in the right frame: the leg has arrived.
    Arrived,
    /// Another thread, or a deeper frame: not a stop; stepped past once the world is stopped.
    PassBy,
}

impl JobKind {
    fn cause(&self) -> StopCause {
        match self {
            JobKind::Over => StopCause::SteppedOver,
            JobKind::Finish(_) => StopCause::Finished,
            JobKind::Line { .. } => StopCause::SteppedLine,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            JobKind::Over => "step over",
            JobKind::Finish(_) => "finish",
            JobKind::Line { .. } => "line step",
        }
    }
}

impl Engine {
    /// `StepOver`, `Finish`, `StepLine`: the first leg starts now; the reply comes when the
    /// job ends.
    pub(super) fn start_job(&mut self, tid: Tid, kind: JobKind, to: ReplyTo) {
        if let Err(e) = self.steppable(tid) {
            return self.reply(to, Err(e));
        }
        if let JobKind::Line { ranges } = &kind {
            let pc = self.tracees.get(tid).and_then(|t| t.regs).map(|r| r.rip());
            if !pc.is_some_and(|pc| in_ranges(ranges, pc)) {
                let err = TraceError::WrongState(format!(
                    "thread {tid} is not on that source line any more"
                ));
                return self.reply(to, Err(err));
            }
        }
        let mut job = StepJob {
            tid,
            kind,
            reply: to,
            running_to: None,
            arrived: false,
            instructions: 0,
        };
        match self.next_leg(&mut job) {
            Ok(()) => self.job = Some(job),
            Err(e) => self.reply(job.reply, Err(e)),
        }
    }

    /// Starts the job's next leg from a stopped world.
    fn next_leg(&mut self, job: &mut StepJob) -> Result<()> {
        if let JobKind::Finish(ret) = job.kind {
            let note = format!(
                "finish: temporary int3 at {:#x} (return address; counts once rsp >= CFA {:#x}), continue",
                ret.addr, ret.cfa
            );
            return self.run_to(job, ret, note);
        }
        let regs = match self.tracees.get(job.tid).and_then(|t| t.regs) {
            Some(r) => r,
            None => crate::tracer::ptrace::getregs(job.tid)?,
        };
        let pc = regs.rip();
        let mut code = self.mem.read(pc, 16);
        self.bps.mask_read(pc, &mut code);
        match disasm::decode_one(&code, pc) {
            Some((len, Flow::Call)) => {
                let ret = Return {
                    addr: pc.wrapping_add(len as u64),
                    cfa: regs.rsp(),
                };
                let note = format!(
                    "{}: temporary int3 at {:#x} (return address), continue",
                    job.kind.name(),
                    ret.addr
                );
                self.run_to(job, ret, note)
            }
            _ => self.start_step(job.tid),
        }
    }

    /// A continue leg: a temporary int3 at the return address, every thread running.
    fn run_to(&mut self, job: &mut StepJob, ret: Return, note: String) -> Result<()> {
        match maps::mapping_at(self.pid, ret.addr) {
            Some(m) if m.executable() => {}
            Some(_) => return Err(TraceError::NotExecutable(ret.addr)),
            None => return Err(TraceError::NotMapped(ret.addr)),
        }
        self.bps.add_temporary(&self.mem, ret.addr)?;
        self.note(Some(job.tid), note);
        if let Err(e) = self.start_continue() {
            let _ = self.bps.remove_temporary(&self.mem, ret.addr);
            return Err(e);
        }
        job.running_to = Some(ret);
        job.arrived = false;
        Ok(())
    }

    /// Whose trap at `addr` (one of our int3 bytes) this is, as far as the job goes. `rsp` is
    /// the trapping thread's.
    pub(super) fn temp_hit(&mut self, tid: Tid, addr: u64, rsp: Option<u64>) -> TempHit {
        let Some(job) = self.job.as_mut() else {
            return TempHit::No;
        };
        let Some(ret) = job.running_to.filter(|r| r.addr == addr) else {
            return TempHit::No;
        };
        // After the `ret`, rsp is back at the CFA; a deeper frame returning here is below it.
        if tid == job.tid && rsp.is_some_and(|sp| sp >= ret.cfa) {
            job.arrived = true;
            TempHit::Arrived
        } else {
            TempHit::PassBy
        }
    }

    /// The cause the job's thread shows once it has arrived.
    pub(super) fn job_cause(&self) -> Option<StopCause> {
        self.job.as_ref().map(|j| j.kind.cause())
    }

    /// The world is stopped, the picture ready, a job perhaps on its way. True when the job
    /// goes on with another leg (nothing is published); false when the stop is to be published
    /// (the job, if any, has ended and is answered after the picture).
    pub(super) fn job_goes_on(&mut self, then: AfterStop) -> bool {
        let Some(mut job) = self.job.take() else {
            return false;
        };
        let by = self.phase.stopped_by();
        if let Some(ret) = job.running_to {
            if job.arrived {
                let _ = self.bps.remove_temporary(&self.mem, ret.addr);
                job.running_to = None;
                job.arrived = false;
                job.instructions += 1;
                return self.after_leg(job, by);
            }
            if then == AfterStop::Resume && by.is_none() {
                // Only threads the int3 is not for ran into it: step them past, run on.
                self.phase = Phase::Stopped { by: None };
                return match self.start_continue() {
                    Ok(()) => {
                        self.job = Some(job);
                        true
                    }
                    Err(e) => {
                        let _ = self.bps.remove_temporary(&self.mem, ret.addr);
                        self.fail_job(job, e);
                        false
                    }
                };
            }
            let _ = self.bps.remove_temporary(&self.mem, ret.addr);
            self.interrupted(job, by);
            return false;
        }
        let stepped = by == Some(job.tid)
            && self.tracees.get(job.tid).and_then(|t| t.cause) == Some(StopCause::Stepped);
        if stepped {
            job.instructions += 1;
            return self.after_leg(job, by);
        }
        self.interrupted(job, by);
        false
    }

    /// A leg got where it went: the job has arrived, or (a line step still on its line) goes
    /// on.
    fn after_leg(&mut self, mut job: StepJob, by: Option<Tid>) -> bool {
        let pc = self
            .tracees
            .get(job.tid)
            .and_then(|t| t.regs)
            .map_or(0, |r| r.rip());
        let instructions = job.instructions;
        let on_line = match &job.kind {
            JobKind::Line { ranges } => in_ranges(ranges, pc),
            JobKind::Over | JobKind::Finish(_) => false,
        };
        if !on_line {
            return self.arrive(job, StepOutcome::Arrived { pc, instructions });
        }
        if instructions >= LINE_STEP_LIMIT {
            return self.arrive(job, StepOutcome::StillOnLine { pc, instructions });
        }
        self.phase = Phase::Stopped { by };
        match self.next_leg(&mut job) {
            Ok(()) => {
                self.job = Some(job);
                true
            }
            Err(e) => {
                self.fail_job(job, e);
                false
            }
        }
    }

    fn arrive(&mut self, job: StepJob, outcome: StepOutcome) -> bool {
        // Arrived while the world was being stopped for a pass-by: this thread's stop is the
        // one shown.
        if let Phase::AllStopping { by, .. } = &mut self.phase {
            by.get_or_insert(job.tid);
        }
        let cause = job.kind.cause();
        let regs = self.tracees.get(job.tid).and_then(|t| t.regs);
        if let Some(t) = self.tracees.get_mut(job.tid) {
            // A user's breakpoint at the same place keeps its name; it was counted.
            if !matches!(t.cause, Some(StopCause::Breakpoint { .. })) {
                t.cause = Some(cause);
            }
        }
        let text = match (&job.kind, outcome) {
            (JobKind::Finish(_), _) => format!(
                "finish: frame returned, rax = {:#x}",
                regs.and_then(|r| r.get("rax")).unwrap_or(0)
            ),
            (_, StepOutcome::StillOnLine { pc, instructions }) => format!(
                "line step: still on the line at {pc:#x} after {instructions} instructions; stopped"
            ),
            (kind, StepOutcome::Arrived { pc, instructions }) => format!(
                "{}: done at {pc:#x} after {instructions} instruction{}",
                kind.name(),
                if instructions == 1 { "" } else { "s" }
            ),
            (kind, StepOutcome::Interrupted { .. }) => format!("{}: ended", kind.name()),
        };
        self.note(Some(job.tid), text);
        self.waiters.push(Waiter::Stepped(job.reply, outcome));
        false
    }

    /// Something else stopped the world: the job ends with that stop's reason.
    fn interrupted(&mut self, job: StepJob, by: Option<Tid>) {
        let cause = by.and_then(|t| self.tracees.get(t)).and_then(|t| t.cause);
        let why = match (by, cause) {
            (Some(t), Some(c)) => format!("thread {t} {c}"),
            (Some(t), None) => format!("thread {t} stopped"),
            (None, _) => "a stop was asked for".to_string(),
        };
        self.note(
            Some(job.tid),
            format!("{} ended before it got there: {why}", job.kind.name()),
        );
        self.waiters.push(Waiter::Stepped(
            job.reply,
            StepOutcome::Interrupted { by, cause },
        ));
    }

    fn fail_job(&mut self, job: StepJob, e: TraceError) {
        self.note(Some(job.tid), format!("{}: {e}", job.kind.name()));
        self.reply(job.reply, Err(e));
    }

    /// Nothing will be traced any more: a job on its way is answered with why.
    pub(super) fn abandon_job(&mut self, why: TraceError) {
        if let Some(job) = self.job.take() {
            self.reply(job.reply, Err(why));
        }
    }
}

fn in_ranges(ranges: &[(u64, u64)], pc: u64) -> bool {
    ranges.iter().any(|(lo, hi)| *lo <= pc && pc < *hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_half_open() {
        let r = [(0x10, 0x20), (0x30, 0x31)];
        assert!(in_ranges(&r, 0x10) && in_ranges(&r, 0x1f) && in_ranges(&r, 0x30));
        assert!(!in_ranges(&r, 0x20) && !in_ranges(&r, 0x31) && !in_ranges(&[], 0));
    }

    #[test]
    fn a_real_stop_outweighs_a_resume_and_a_detach_everything() {
        use AfterStop::*;
        assert_eq!(Resume.merge(Resume), Resume);
        assert_eq!(Resume.merge(Rest), Rest);
        assert_eq!(Rest.merge(Resume), Rest);
        assert_eq!(Resume.merge(Detach), Detach);
        assert_eq!(Detach.merge(Rest), Detach);
    }
}
