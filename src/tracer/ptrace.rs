//! Thin wrappers over the ptrace requests the engine uses, each turning errno into a typed
//! error. Only the tracer thread may call these: the kernel answers only the thread that
//! attached.

use super::error::{Result, TraceError};
use super::thread::Tid;
use crate::regs::Registers;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

fn pid(tid: Tid) -> Pid {
    Pid::from_raw(tid)
}

fn sig_arg(sig: i32) -> Option<Signal> {
    if sig == 0 {
        None
    } else {
        Signal::try_from(sig).ok()
    }
}

pub fn options(launched: bool) -> ptrace::Options {
    use ptrace::Options as O;
    let base = O::PTRACE_O_TRACECLONE
        | O::PTRACE_O_TRACEEXIT
        | O::PTRACE_O_TRACEEXEC
        | O::PTRACE_O_TRACEFORK
        | O::PTRACE_O_TRACEVFORK
        | O::PTRACE_O_TRACEVFORKDONE;
    // EXITKILL only for a program we started: a process we attached to must outlive us.
    if launched {
        base | O::PTRACE_O_EXITKILL
    } else {
        base
    }
}

/// The options of one thread: `options`, less PTRACE_O_TRACEEXIT without `exit_stops`. A
/// thread whose end stops nothing (thread events only logged) then reports once, with its
/// exit status, instead of first stopping at PTRACE_EVENT_EXIT to be resumed (a third of the
/// reports in a storm of thread births). Options are per tracee, and a clone inherits its
/// parent's, so the leader keeps the exit stop the process's end is read at.
pub fn thread_options(launched: bool, exit_stops: bool) -> ptrace::Options {
    let all = options(launched);
    if exit_stops {
        all
    } else {
        all - ptrace::Options::PTRACE_O_TRACEEXIT
    }
}

/// PTRACE_SETOPTIONS; the tracee must be in a ptrace-stop.
pub fn set_options(tid: Tid, opts: ptrace::Options) -> Result<()> {
    ptrace::setoptions(pid(tid), opts)
        .map_err(|e| TraceError::from_thread_errno("PTRACE_SETOPTIONS", tid, e))
}

/// PTRACE_SEIZE rather than PTRACE_ATTACH: it does not send SIGSTOP (which the target would
/// see, and which races with real job control), and only seized tracees support
/// PTRACE_INTERRUPT and PTRACE_LISTEN.
pub fn seize(tid: Tid, opts: ptrace::Options) -> std::result::Result<(), nix::errno::Errno> {
    ptrace::seize(pid(tid), opts)
}

/// Stops a running tracee without a signal; it reports SIGTRAP | PTRACE_EVENT_STOP<<8.
pub fn interrupt(tid: Tid) -> Result<()> {
    ptrace::interrupt(pid(tid))
        .map_err(|e| TraceError::from_thread_errno("PTRACE_INTERRUPT", tid, e))
}

pub fn cont(tid: Tid, sig: i32) -> Result<()> {
    ptrace::cont(pid(tid), sig_arg(sig))
        .map_err(|e| TraceError::from_thread_errno("PTRACE_CONT", tid, e))
}

pub fn step(tid: Tid, sig: i32) -> Result<()> {
    ptrace::step(pid(tid), sig_arg(sig))
        .map_err(|e| TraceError::from_thread_errno("PTRACE_SINGLESTEP", tid, e))
}

/// Keeps a tracee in its group-stop while letting the tracer hear of SIGCONT. nix does not
/// wrap PTRACE_LISTEN.
pub fn listen(tid: Tid) -> Result<()> {
    // SAFETY: PTRACE_LISTEN takes no addr or data (both 0) and touches no memory of ours.
    let r = unsafe { libc::ptrace(libc::PTRACE_LISTEN, tid, 0usize, 0usize) };
    if r < 0 {
        Err(TraceError::from_thread_errno(
            "PTRACE_LISTEN",
            tid,
            nix::errno::Errno::last(),
        ))
    } else {
        Ok(())
    }
}

pub fn detach(tid: Tid, sig: i32) -> Result<()> {
    ptrace::detach(pid(tid), sig_arg(sig))
        .map_err(|e| TraceError::from_thread_errno("PTRACE_DETACH", tid, e))
}

pub fn getregs(tid: Tid) -> Result<Registers> {
    ptrace::getregs(pid(tid))
        .map(|r| Registers::from_raw(&r))
        .map_err(|e| TraceError::from_thread_errno("PTRACE_GETREGS", tid, e))
}

pub fn setregs(tid: Tid, regs: &Registers) -> Result<()> {
    ptrace::setregs(pid(tid), regs.to_raw())
        .map_err(|e| TraceError::from_thread_errno("PTRACE_SETREGS", tid, e))
}

pub fn event_msg(tid: Tid) -> Result<u64> {
    ptrace::getevent(pid(tid))
        .map(|v| v as u64)
        .map_err(|e| TraceError::from_thread_errno("PTRACE_GETEVENTMSG", tid, e))
}

pub fn si_code(tid: Tid) -> Result<i32> {
    ptrace::getsiginfo(pid(tid))
        .map(|si| si.si_code)
        .map_err(|e| TraceError::from_thread_errno("PTRACE_GETSIGINFO", tid, e))
}

/// PTRACE_PEEKUSER of debug register `n` (`struct user`'s u_debugreg[n]).
pub fn read_debugreg(tid: Tid, n: usize) -> Result<u64> {
    let offset = super::debugregs::user_offset(n) as ptrace::AddressType;
    ptrace::read_user(pid(tid), offset)
        .map(|v| v as u64)
        .map_err(|e| TraceError::from_thread_errno("PTRACE_PEEKUSER", tid, e))
}

/// PTRACE_POKEUSER of debug register `n`. The kernel checks each value: an address outside
/// user space or misaligned for its slot's length, or a DR7 the hardware cannot do, is EINVAL
/// (or EIO) and leaves the register as it was.
pub fn write_debugreg(tid: Tid, n: usize, value: u64) -> Result<()> {
    let offset = super::debugregs::user_offset(n) as ptrace::AddressType;
    ptrace::write_user(pid(tid), offset, value as libc::c_long)
        .map_err(|e| TraceError::from_thread_errno("PTRACE_POKEUSER", tid, e))
}

/// PTRACE_GETREGSET of one note type into `buf`; the kernel says how much it filled (the
/// iovec's length on return).
pub fn getregset(tid: Tid, note: i32, buf: &mut [u8]) -> Result<usize> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: the iovec describes `buf`, live and writable for its whole length; the kernel
    // writes at most iov_len bytes there and updates iov_len.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGSET,
            tid,
            note as usize,
            &mut iov as *mut libc::iovec,
        )
    };
    if r < 0 {
        return Err(TraceError::from_thread_errno(
            "PTRACE_GETREGSET",
            tid,
            nix::errno::Errno::last(),
        ));
    }
    Ok(iov.iov_len.min(buf.len()))
}

/// PTRACE_GETSIGINFO as the kernel's 128 bytes (what a core's NT_SIGINFO holds).
pub fn siginfo_bytes(tid: Tid) -> Result<[u8; 128]> {
    let mut buf = [0u8; 128];
    // SAFETY: siginfo_t is 128 bytes on x86-64; the kernel writes exactly that into `buf`.
    let r = unsafe { libc::ptrace(libc::PTRACE_GETSIGINFO, tid, 0usize, buf.as_mut_ptr()) };
    if r < 0 {
        return Err(TraceError::from_thread_errno(
            "PTRACE_GETSIGINFO",
            tid,
            nix::errno::Errno::last(),
        ));
    }
    Ok(buf)
}

/// Whether `tid` is a thread of process `pid`: tgkill(2) with signal 0 sends nothing and fails
/// with ESRCH unless the thread is in that thread group. Not a ptrace request, but the
/// question the engine asks of a tracee it has not met (a thread, or a forked child).
pub fn is_thread_of(pid: i32, tid: Tid) -> bool {
    // SAFETY: tgkill takes plain integers; signal 0 only checks that the thread exists there.
    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) == 0 }
}

pub fn gettid() -> Tid {
    nix::unistd::gettid().as_raw()
}
