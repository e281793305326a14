//! Breakpoints that decide at each hit, on the tracer thread: conditions, ignore counts,
//! logpoints and trace points (`tracer/rules`). A hit that does not stop lets the thread go on
//! out of line (`step_out_of_line.rs`) while every other thread keeps running; where that
//! cannot be done, every thread is stopped briefly, the thread steps over the instruction in
//! place and all are resumed, with nothing published (`AfterStop::Resume`).

use super::phase::AfterStop;
use super::phase::Phase;
use super::Engine;
use crate::expr::{Env, ExprError, Width};
use crate::regs::Registers;
use crate::tracer::breakpoints::Breakpoints;
use crate::tracer::error::Result;
use crate::tracer::event::{BreakpointInfo, EventKind, LogLine, Reply, TraceHit};
use crate::tracer::memory::Memory;
use crate::tracer::rules::{HitRule, Verdict};
use crate::tracer::thread::{ThreadState, Tid};

/// What the hit path does with a breakpoint hit after its rule was consulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HitOutcome {
    /// A stop, as for a plain breakpoint.
    Stop,
    /// Not a stop: the thread went on through the breakpoint's slot and runs.
    Passed,
    /// Not a stop of its own: the thread rests at the breakpoint like any stopped thread and
    /// is stepped over it at the continue. `resume_world`: it was running, so the world is
    /// stopped for the step and resumed at once.
    Quiet { resume_world: bool },
}

/// What a condition or log text sees: the hitting thread's registers and the process's memory
/// (our int3 bytes hidden).
struct HitEnv<'a> {
    regs: &'a Registers,
    mem: &'a Memory,
    bps: &'a Breakpoints,
}

impl Env for HitEnv<'_> {
    fn register(&self, name: &str) -> Option<std::result::Result<u64, ExprError>> {
        Registers::index_of(name).map(|i| Ok(self.regs.0[i]))
    }

    fn symbol(&self, _module: Option<&str>, name: &str) -> std::result::Result<u64, ExprError> {
        // Symbols were bound to numbers when the breakpoint was set.
        Err(ExprError::UnknownSymbol(name.to_string()))
    }

    fn read(&self, addr: u64, width: Width) -> std::result::Result<u64, ExprError> {
        let n = width.bytes();
        let mut bytes = self.mem.read(addr, n);
        if bytes.len() < n {
            return Err(ExprError::Memory {
                addr,
                size: n as u8,
                reason: "unreadable".into(),
            });
        }
        self.bps.mask_read(addr, &mut bytes);
        let mut buf = [0u8; 8];
        buf[..n].copy_from_slice(&bytes);
        Ok(u64::from_le_bytes(buf))
    }
}

impl Engine {
    pub(super) fn add_breakpoint_with(&mut self, addr: u64, rule: HitRule) -> Result<Reply> {
        self.add_breakpoint(addr)?;
        self.rules.set(addr, rule);
        // At rest the slot is made now; while running, the first hit that passes stops the
        // world once, and the slot is made before it resumes.
        if matches!(self.phase, Phase::Stopped { .. }) {
            self.prepare_out_of_line();
        }
        Ok(Reply::Done)
    }

    /// A breakpoint and its rule go together.
    pub(super) fn forget_rule(&mut self, addr: u64) {
        self.rules.remove(addr);
        self.ool.forget(addr);
    }

    /// The breakpoints as front ends see them, with their rules.
    pub(super) fn breakpoint_info(&self) -> Vec<BreakpointInfo> {
        let mut list = self.bps.info();
        for b in &mut list {
            b.rule = self.rules.info(b.addr);
        }
        list
    }

    /// `tid` reported a hit of our breakpoint at `addr` (its registers are those of this
    /// stop). Consults the breakpoint's rule and, for a hit that does not stop while the
    /// process runs, sends the thread on at once.
    pub(super) fn judge_hit(&mut self, tid: Tid, addr: u64, prev: ThreadState) -> HitOutcome {
        if !self.rules.has(addr) {
            return HitOutcome::Stop;
        }
        let Some(regs) = self.tracees.get(tid).and_then(|t| t.regs) else {
            return HitOutcome::Stop;
        };
        let env = HitEnv {
            regs: &regs,
            mem: &self.mem,
            bps: &self.bps,
        };
        let Some(verdict) = self.rules.judge(addr, &env) else {
            return HitOutcome::Stop;
        };
        if verdict.counts() {
            self.bps.hit(addr);
        }
        match verdict {
            Verdict::Stop => return HitOutcome::Stop,
            Verdict::Error(why) => {
                self.note(Some(tid), format!("breakpoint {addr:#x}: {why}; stopped"));
                return HitOutcome::Stop;
            }
            Verdict::False | Verdict::Ignored => {}
            Verdict::Log(text) => self.emit(EventKind::Logged(LogLine { tid, addr, text })),
            Verdict::Trace => {
                let hit = self.trace_hit(tid, addr, &regs);
                self.emit(EventKind::TraceHit(hit));
            }
        }
        let running = prev == ThreadState::Running && matches!(self.phase, Phase::Running);
        if !running {
            return HitOutcome::Quiet {
                resume_world: false,
            };
        }
        if self.divert(tid, addr, &regs) {
            return HitOutcome::Passed;
        }
        HitOutcome::Quiet { resume_world: true }
    }

    fn trace_hit(&mut self, tid: Tid, addr: u64, regs: &Registers) -> TraceHit {
        // A thread's first hit: its name as it is now (born, it had its parent's), read while
        // the thread surely exists.
        let pid = self.pid;
        if let Some(t) = self.tracees.get_mut(tid) {
            if !t.name_read && !t.name_final {
                let name = crate::procinfo::tasks::thread_name(pid, tid);
                if !name.is_empty() {
                    t.name = name;
                }
                t.name_read = true;
            }
        }
        let r = &regs.0;
        // rdi, rsi, rdx, rcx, r8, r9 in the register file's order (regs.rs).
        let args = [r[5], r[4], r[3], r[2], r[8], r[9]];
        let top = self.mem.read(regs.rsp(), 8);
        let stack_top = <[u8; 8]>::try_from(top.as_slice())
            .ok()
            .map(u64::from_le_bytes);
        TraceHit {
            tid,
            name: self
                .tracees
                .get(tid)
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            addr,
            args,
            stack_top,
        }
    }

    /// An all-stop made only so that threads could step past breakpoints whose hits do not
    /// stop: nothing is published, the slots that were missing are made, and every thread
    /// continues. False when it cannot continue (the stop is then published).
    pub(super) fn resume_passed(&mut self) -> bool {
        self.phase = Phase::Stopped { by: None };
        self.prepare_out_of_line();
        match self.start_continue() {
            Ok(()) => true,
            Err(e) => {
                self.note(None, format!("cannot resume after passing hits: {e}"));
                false
            }
        }
    }

    /// After a hit that did not stop while the process ran and could not go out of line.
    pub(super) fn stop_to_pass(&mut self) {
        self.begin_all_stop(None, AfterStop::Resume);
    }
}
