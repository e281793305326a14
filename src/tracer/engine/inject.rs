//! A system call made by the target on our behalf: how the scratch page for out-of-line steps
//! gets into its address space.
//!
//! Only while every thread is at rest: the two bytes of a `syscall` instruction are written
//! over text of the target (the breakpoint's own address), one stopped thread is pointed at
//! them with the call's number and arguments in its registers, single-stepped through the
//! call, and then everything is put back as it was: the bytes, every register, and the kind of
//! stop the thread rests in.

use super::Engine;
use crate::tracer::error::{Result, TraceError};
use crate::tracer::ptrace as pt;
use crate::tracer::thread::{StopCause, ThreadState, Tid, TraceeState};
use nix::errno::Errno;

const SYSCALL: [u8; 2] = [0x0f, 0x05];
const RAX: usize = 0;
const RDX: usize = 3;
const RSI: usize = 4;
const RDI: usize = 5;
const R8: usize = 8;
const R9: usize = 9;
const R10: usize = 10;
const ORIG_RAX: usize = 26;

/// How a waited-for stop of the injecting thread turned out.
enum Report {
    Trap,
    EventStop,
    Signal(i32),
    Gone,
}

impl Engine {
    /// A thread that can lend itself to a system call: at rest in a plain stop, holding no
    /// signal, not in a job-control stop, not exiting.
    pub(super) fn injection_thread(&self) -> Option<Tid> {
        self.tracees
            .iter()
            .find(|(_, t)| {
                t.state == TraceeState::Stopped
                    && t.held_signal.is_none()
                    && !matches!(t.cause, Some(StopCause::GroupStop { .. }))
                    && t.state.view() == ThreadState::Stopped
            })
            .map(|(tid, _)| tid)
    }

    /// Has the stopped thread `tid` run `syscall(nr, args...)` at `at` (executable text of
    /// the target that no other thread runs now: the world is at rest) and returns rax.
    pub(super) fn inject_syscall(
        &mut self,
        tid: Tid,
        at: u64,
        nr: u64,
        args: [u64; 6],
    ) -> Result<u64> {
        let saved = pt::getregs(tid)?;
        let original = self.mem.read(at, SYSCALL.len());
        if original.len() != SYSCALL.len() {
            return Err(TraceError::Unreadable {
                addr: at,
                len: SYSCALL.len(),
                read: original.len(),
            });
        }
        self.mem.write(at, &SYSCALL)?;
        let mut regs = saved;
        regs.0[RAX] = nr;
        for (reg, value) in [RDI, RSI, RDX, R10, R8, R9].into_iter().zip(args) {
            regs.0[reg] = value;
        }
        // orig_rax -1: a thread stopped inside an interrupted system call must not have that
        // call restarted ("rip -= 2, rax = orig_rax" on the way out) instead of running ours.
        regs.0[ORIG_RAX] = u64::MAX;
        regs.set_rip(at);
        let ran = pt::setregs(tid, &regs)
            .and_then(|()| pt::step(tid, 0))
            .and_then(|()| self.wait_injected(tid));
        let result = ran.and_then(|()| pt::getregs(tid)).map(|r| r.0[RAX]);
        // Back as it was, whatever happened: bytes, then registers (the kernel restarts an
        // interrupted call from the restored orig_rax and rax when the thread next runs).
        let bytes_back = self.mem.write(at, &original);
        let regs_back = pt::setregs(tid, &saved);
        let result = result?;
        bytes_back?;
        regs_back?;
        // The step ended in a SIGTRAP signal-delivery-stop; at rest a thread must hold no trap
        // of ours: back into an event-stop, before it runs an instruction.
        pt::interrupt(tid)?;
        pt::cont(tid, 0)?;
        loop {
            match self.wait_one(tid)? {
                Report::EventStop => break,
                // A signal that came meanwhile stays held in its own stop, to be delivered
                // at the continue; the interrupt left queued is absorbed then.
                Report::Signal(sig) => {
                    if let Some(t) = self.tracees.get_mut(tid) {
                        t.held_signal = Some(sig);
                    }
                    break;
                }
                Report::Trap => pt::cont(tid, 0)?,
                Report::Gone => return Err(TraceError::ThreadExited(tid)),
            }
        }
        if let Some(t) = self.tracees.get_mut(tid) {
            t.regs = Some(saved);
        }
        // The kernel's -errno convention for system calls.
        if result > -4096i64 as u64 {
            return Err(TraceError::Os {
                op: "mmap in the target",
                errno: Errno::from_raw(-(result as i64) as i32),
            });
        }
        Ok(result)
    }

    /// Waits for the single step through the injected call.
    fn wait_injected(&mut self, tid: Tid) -> Result<()> {
        loop {
            match self.wait_one(tid)? {
                Report::Trap => return Ok(()),
                // The interrupt of an earlier stop, left queued: step on.
                Report::EventStop => pt::step(tid, 0)?,
                Report::Signal(sig) => {
                    // Not ours to drop: keep it for the continue, and give up on the call
                    // (the thread has not run it).
                    if let Some(t) = self.tracees.get_mut(tid) {
                        t.held_signal = Some(sig);
                    }
                    return Err(TraceError::WrongState(format!(
                        "thread {tid} received a signal while lending itself to a system call"
                    )));
                }
                Report::Gone => return Err(TraceError::ThreadExited(tid)),
            }
        }
    }

    fn wait_one(&mut self, tid: Tid) -> Result<Report> {
        loop {
            let mut raw = 0;
            // SAFETY: `raw` is a valid out-pointer for the status; waitpid writes only it.
            let r = unsafe { libc::waitpid(tid, &mut raw, libc::__WALL) };
            if r < 0 {
                if Errno::last() == Errno::EINTR {
                    continue;
                }
                return Ok(Report::Gone);
            }
            if libc::WIFEXITED(raw) || libc::WIFSIGNALED(raw) {
                if let Some(t) = self.tracees.get_mut(tid) {
                    t.state = TraceeState::Exited;
                }
                return Ok(Report::Gone);
            }
            let sig = libc::WSTOPSIG(raw);
            let event = raw >> 16;
            return Ok(match (sig, event) {
                (libc::SIGTRAP, 0) => Report::Trap,
                (_, 0) => Report::Signal(sig),
                _ => Report::EventStop,
            });
        }
    }
}
