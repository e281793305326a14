//! Hardware watchpoints: the table (`tracer/watchpoints.rs`) put into each thread's debug
//! registers while the thread may run, and taken out again at rest.
//!
//! The kernel leaves debug registers as they are when the tracer dies (and does not reliably
//! clear them at detach), and a thread that trips one with no tracer left gets a SIGTRAP. So,
//! like our int3 bytes, they are in a thread only while it runs: armed just before the thread
//! is resumed or stepped, DR7 cleared on every thread when the world comes to rest, every value
//! of ours cleared at detach. A clone child starts without them (with only a stale copy of its
//! parent's DR7): it is armed at its first stop.

use super::Engine;
use crate::procinfo::maps;
use crate::tracer::debugregs::{self, DebugState, WatchKind, DR6};
use crate::tracer::error::{Result, TraceError};
use crate::tracer::event::{EventKind, Reply, WatchHit};
use crate::tracer::ptrace as pt;
use crate::tracer::thread::{ThreadState, Tid};
use crate::tracer::watchpoints::value_of;

impl Engine {
    pub(super) fn add_watchpoint(
        &mut self,
        addr: u64,
        kind: WatchKind,
        len: Option<u8>,
    ) -> Result<Reply> {
        self.require_world_stopped("add a watchpoint")?;
        let len = debugregs::choose_len(addr, len)?;
        if maps::mapping_at(self.pid, addr).is_none() {
            return Err(TraceError::NotMapped(addr));
        }
        let value = self.watched_value(addr, len)?;
        let slot = self.watch.add(addr, len, kind, value)?;
        // The kernel checks what goes into debug registers (user-space address, alignment, a
        // free hardware slot): try the new set on one stopped thread now, so that a refusal
        // comes back to this command with its reason instead of at every continue.
        if let Err(e) = self.try_debugregs() {
            let _ = self.watch.remove(addr);
            return Err(e);
        }
        let info = self
            .watch
            .info()
            .into_iter()
            .find(|w| usize::from(w.slot) == slot)
            .ok_or(TraceError::NoWatchpoint(addr))?;
        Ok(Reply::Watchpoint(info))
    }

    pub(super) fn remove_watchpoint(&mut self, addr: u64) -> Result<Reply> {
        // At rest no thread has DR7 set, so the table alone changes; the next arm writes
        // what it says.
        self.require_world_stopped("delete a watchpoint")?;
        self.watch.remove(addr)?;
        Ok(Reply::Done)
    }

    /// The watched bytes now, as a number.
    fn watched_value(&self, addr: u64, len: u8) -> Result<u64> {
        let len = usize::from(len);
        let mut bytes = self.mem.read(addr, len);
        if bytes.len() < len {
            return Err(TraceError::Unreadable {
                addr,
                len,
                read: bytes.len(),
            });
        }
        self.bps.mask_read(addr, &mut bytes);
        Ok(value_of(&bytes))
    }

    /// Arms, then disarms, one stopped thread with the whole table.
    fn try_debugregs(&mut self) -> Result<()> {
        let Some(tid) = self
            .tracees
            .tids_where(|t| t.is_live() && t.state.view() == ThreadState::Stopped)
            .first()
            .copied()
        else {
            return Ok(());
        };
        let plan = self
            .tracee_debug(tid)
            .plan_arm(self.watch.addresses(), self.watch.dr7());
        let armed = self.write_debugregs(tid, &plan);
        let plan = self.tracee_debug(tid).plan_disarm();
        let disarmed = self.write_debugregs(tid, &Vec::from_iter(plan));
        armed.and(disarmed)
    }

    fn tracee_debug(&self, tid: Tid) -> DebugState {
        self.tracees.get(tid).map(|t| t.debug).unwrap_or_default()
    }

    /// Writes the registers in order, recording each write that took.
    fn write_debugregs(&mut self, tid: Tid, plan: &[(usize, u64)]) -> Result<()> {
        for &(reg, value) in plan {
            pt::write_debugreg(tid, reg, value)?;
            if let Some(t) = self.tracees.get_mut(tid) {
                t.debug.wrote(reg, value);
            }
        }
        Ok(())
    }

    /// Before a continue or a step: the value each watch will call "old" at its next hit.
    pub(super) fn note_watched_values(&mut self) {
        let reads: Vec<(usize, Option<u64>)> = self
            .watch
            .info()
            .iter()
            .map(|w| (usize::from(w.slot), self.watched_value(w.addr, w.len).ok()))
            .collect();
        for (slot, w) in self.watch.iter_mut() {
            if let Some((_, Some(v))) = reads.iter().find(|(s, _)| *s == slot) {
                w.value = *v;
            }
        }
    }

    /// Just before `tid` runs: our watchpoints in its debug registers.
    pub(super) fn arm(&mut self, tid: Tid) {
        if self.watch.is_empty() {
            return;
        }
        let plan = self
            .tracee_debug(tid)
            .plan_arm(self.watch.addresses(), self.watch.dr7());
        if plan.is_empty() {
            return;
        }
        self.watch.ever_armed = true;
        match self.write_debugregs(tid, &plan) {
            Ok(()) | Err(TraceError::ThreadExited(_)) => {}
            Err(e) => self.note(Some(tid), format!("cannot arm the watchpoints: {e}")),
        }
    }

    /// The world is at rest: DR7 0 on every thread, so that nothing of ours can fire if
    /// ptscope dies now. Returns the threads that were armed: one of them may have tripped a
    /// watchpoint just before our interrupt and still hold the SIGTRAP in its queue.
    pub(super) fn disarm_all(&mut self) -> Vec<Tid> {
        let due = self
            .tracees
            .tids_where(|t| t.is_live() && t.debug.plan_disarm().is_some());
        due.into_iter().filter(|tid| self.disarm(*tid)).collect()
    }

    /// DR7 0 on one thread at rest; says whether it was armed.
    pub(super) fn disarm(&mut self, tid: Tid) -> bool {
        let debug = self.tracee_debug(tid);
        let Some(plan) = debug.plan_disarm() else {
            return false;
        };
        match self.write_debugregs(tid, &[plan]) {
            Ok(()) | Err(TraceError::ThreadExited(_)) => {}
            Err(e) => self.note(Some(tid), format!("cannot clear DR7: {e}")),
        }
        debug.armed()
    }

    /// Letting go of `tid`: DR7 and every address of ours back to 0.
    pub(super) fn clear_debugregs(&mut self, tid: Tid) {
        let plan = self.tracee_debug(tid).plan_clear();
        if let Err(e) = self.write_debugregs(tid, &plan) {
            if !matches!(e, TraceError::ThreadExited(_)) {
                self.note(Some(tid), format!("cannot clear the debug registers: {e}"));
            }
        }
    }

    /// The state a thread born now starts in: a copy of its parent's DR7 if watchpoints were
    /// ever armed, else nothing of ours.
    pub(super) fn newborn_debug(&self) -> DebugState {
        if self.watch.ever_armed {
            DebugState::Inherited
        } else {
            DebugState::Untouched
        }
    }

    /// For a SIGTRAP from the debug exception (TRAP_HWBKPT, or TRAP_TRACE when a step trapped
    /// as well): the address of our watchpoint DR6 says fired. DR6 is cleared after a hit.
    pub(super) fn watch_facts(&mut self, tid: Tid) -> Option<u64> {
        if !self.watch.ever_armed {
            return None;
        }
        let dr6 = pt::read_debugreg(tid, DR6).ok()?;
        let slot = debugregs::fired(dr6).find(|s| self.watch.get(*s).is_some());
        if debugregs::fired(dr6).next().is_some() {
            let _ = pt::write_debugreg(tid, DR6, 0);
        }
        self.watch.get(slot?).map(|w| w.addr)
    }

    /// A watchpoint hit was decided: counted, the new value read, announced. Called while the
    /// thread is still in the stop that reported it, so its registers can be read.
    pub(super) fn watch_hit(&mut self, tid: Tid, addr: u64) {
        let Some(slot) = self.watch.slot_of(addr) else {
            return;
        };
        let Some(w) = self.watch.get(slot).copied() else {
            return;
        };
        let new = self.watched_value(addr, w.len).unwrap_or(w.value);
        let old = self.watch.hit(slot, new).unwrap_or(w.value);
        let pc = self
            .tracees
            .get(tid)
            .and_then(|t| t.regs)
            .map(|r| r.rip())
            .or_else(|| pt::getregs(tid).ok().map(|r| r.rip()))
            .unwrap_or(0);
        self.emit(EventKind::WatchpointHit(WatchHit {
            tid,
            slot: slot as u8,
            addr,
            len: w.len,
            kind: w.kind,
            old,
            new,
            pc,
            hits: w.hits + 1,
        }));
    }

    /// Whether any thread may have a watchpoint of ours enabled.
    pub(super) fn any_armed(&self) -> bool {
        self.tracees.live().any(|(_, t)| t.debug.armed())
    }
}
