//! The debug registers of every thread of a process, read the way an outsider would: a second,
//! short-lived ptrace attach from the test itself (PTRACE_SEIZE + PTRACE_INTERRUPT, one
//! PTRACE_PEEKUSER per register, PTRACE_DETACH), independent of ptscope's engine. Only once
//! nobody else traces the process.

use super::{task_ids, TIMEOUT};
use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::time::Instant;

/// DR0-DR3 and DR7 of one thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadDebugRegs {
    pub tid: i32,
    pub addrs: [u64; 4],
    pub dr7: u64,
}

fn offset(n: usize) -> ptrace::AddressType {
    (std::mem::offset_of!(libc::user, u_debugreg) + 8 * n) as ptrace::AddressType
}

/// Every live thread's debug registers; each thread is stopped only for the reads and let go
/// as it was (a signal it reported meanwhile is handed back at detach).
pub fn read_all(pid: i32) -> Vec<ThreadDebugRegs> {
    let mut out = Vec::new();
    for tid in task_ids(pid) {
        let p = Pid::from_raw(tid);
        match ptrace::seize(p, ptrace::Options::empty()) {
            Ok(()) => {}
            Err(Errno::ESRCH) => continue, // exited since the listing
            Err(e) => panic!("PTRACE_SEIZE of {tid}: {e}"),
        }
        ptrace::interrupt(p).expect("PTRACE_INTERRUPT");
        let held = wait_stop(tid);
        let peek = |n: usize| {
            ptrace::read_user(p, offset(n))
                .map(|v| v as u64)
                .unwrap_or_else(|e| panic!("PTRACE_PEEKUSER DR{n} of {tid}: {e}"))
        };
        let regs = ThreadDebugRegs {
            tid,
            addrs: [peek(0), peek(1), peek(2), peek(3)],
            dr7: peek(7),
        };
        ptrace::detach(p, held).expect("PTRACE_DETACH");
        out.push(regs);
    }
    out
}

/// Waits (bounded) for the thread's stop; returns the signal to hand back, if it reported one
/// of its own instead of our interrupt.
fn wait_stop(tid: i32) -> Option<Signal> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match waitpid(
            Pid::from_raw(tid),
            Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG),
        ) {
            Ok(WaitStatus::PtraceEvent(..)) => return None,
            Ok(WaitStatus::Stopped(_, sig)) => return Some(sig),
            Ok(WaitStatus::StillAlive) => {}
            Ok(other) => panic!("thread {tid}: unexpected {other:?}"),
            Err(Errno::EINTR) => {}
            Err(e) => panic!("waitpid {tid}: {e}"),
        }
        assert!(Instant::now() < deadline, "thread {tid} did not stop");
        std::thread::yield_now();
    }
}

/// Every thread's DR7 is 0: nothing can fire (an address left in DR0-DR3 is inert).
pub fn assert_all_disarmed(pid: i32) {
    let regs = read_all(pid);
    assert!(!regs.is_empty(), "process {pid} has no threads");
    for r in regs {
        assert_eq!(r.dr7, 0, "thread {} has DR7 = {:#x} ({r:?})", r.tid, r.dr7);
    }
}

/// Every thread's DR7 is 0 and DR0-DR3 hold no address: what a detach leaves in a process no
/// debugger had touched before.
pub fn assert_all_clear(pid: i32) {
    let regs = read_all(pid);
    assert!(!regs.is_empty(), "process {pid} has no threads");
    for r in regs {
        assert_eq!(r.dr7, 0, "thread {} has DR7 = {:#x} ({r:?})", r.tid, r.dr7);
        assert_eq!(r.addrs, [0; 4], "thread {} keeps addresses ({r:?})", r.tid);
    }
}
