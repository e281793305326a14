//! Changing the process: a register of one stopped thread, or bytes of memory. Only at rest,
//! so that the old value reported is the one the program had; each write is announced with it
//! (`EventKind::Wrote`), and one that cannot be done whole is not done at all.

use super::Engine;
use crate::regs::{Registers, REGISTER_NAMES};
use crate::tracer::error::{Result, TraceError};
use crate::tracer::event::{EventKind, Reply, WriteRecord};
use crate::tracer::ptrace as pt;
use crate::tracer::thread::Tid;

/// Registers ptscope will not write. In 64-bit mode the kernel accepts any user-mode selector
/// for cs and ss, and 0x23 in cs would switch the thread to 32-bit code under the program's
/// feet; there is no debugging reason to go there.
const READ_ONLY: [&str; 2] = ["cs", "ss"];

impl Engine {
    pub(super) fn set_register(&mut self, tid: Tid, name: &str, value: u64) -> Result<Reply> {
        self.require_world_stopped("write a register")?;
        self.stopped_thread(tid)?;
        let i = Registers::index_of(name)
            .ok_or_else(|| TraceError::UnknownRegister(name.to_string()))?;
        let name = REGISTER_NAMES[i];
        if READ_ONLY.contains(&name) {
            return Err(TraceError::ReadOnlyRegister(name.to_string()));
        }
        let before = pt::getregs(tid)?;
        let mut regs = before;
        regs.0[i] = value;
        if let Err(e) = pt::setregs(tid, &regs) {
            // PTRACE_SETREGS stores the registers one by one and stops at the first it refuses
            // (a segment selector that is neither 0 nor user-mode, a base outside user space):
            // the ones before it were rewritten with their own values, but make sure.
            if pt::getregs(tid).is_ok_and(|now| now != before) {
                let _ = pt::setregs(tid, &before);
            }
            return Err(match e {
                TraceError::Os { op, errno } => TraceError::RegisterRefused {
                    name: name.to_string(),
                    value,
                    op,
                    errno,
                },
                other => other,
            });
        }
        // Read back: the kernel keeps what a tracer may not change (in eflags: IF, IOPL, the
        // reserved bits; cs/ss/ds.. are 16 bits).
        let now = pt::getregs(tid)?;
        if let Some(t) = self.tracees.get_mut(tid) {
            t.regs = Some(now);
        }
        self.emit(EventKind::Wrote(WriteRecord::Register {
            tid,
            name: name.to_string(),
            old: before.0[i],
            asked: value,
            now: now.0[i],
        }));
        Ok(Reply::Registers(Box::new(now)))
    }

    pub(super) fn write_memory(&mut self, addr: u64, bytes: Vec<u8>) -> Result<Reply> {
        self.require_world_stopped("write memory")?;
        if bytes.is_empty() {
            return Err(TraceError::Unwritable {
                addr,
                reason: "nothing to write".into(),
            });
        }
        // At rest no int3 of ours is in memory: this is the program's own.
        let mut old = self.mem.read(addr, bytes.len());
        if old.len() < bytes.len() {
            return Err(TraceError::Unwritable {
                addr,
                reason: format!("only {} of the {} bytes are mapped", old.len(), bytes.len()),
            });
        }
        self.bps.mask_read(addr, &mut old);
        // A byte under one of our breakpoints becomes the breakpoint's saved original, so the
        // int3 that goes back in at the next continue sits over the new instruction byte.
        let mut out = bytes.clone();
        self.bps.overlay_write(addr, &mut out);
        if let Err(e) = self.mem.write(addr, &out) {
            // Part of it may have gone in (a write stops at the first page it cannot write):
            // put the old bytes back, and the saved originals with them.
            let mut back = old.clone();
            self.bps.overlay_write(addr, &mut back);
            let _ = self.mem.write(addr, &back);
            return Err(e);
        }
        self.emit(EventKind::Wrote(WriteRecord::Memory {
            addr,
            old,
            new: bytes,
        }));
        Ok(Reply::Done)
    }
}
