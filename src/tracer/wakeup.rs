//! How the tracer thread sleeps without polling and still hears every tracee stop at once.
//!
//! The tracer must serve two sources: wait statuses of its tracees and commands from the UI.
//! A blocking waitpid cannot also wait on a channel, and waitpid(-1) would steal the statuses of
//! another tracer thread in the same process (the kernel lets any thread of the group reap).
//! So, as gdb does with its self-pipe: the kernel sends SIGCHLD to our process for every tracee
//! stop; a process-wide handler writes to the eventfd of every live tracer; each tracer thread
//! polls its own eventfd plus a command eventfd, then reaps with
//! waitpid(-1, __WALL | __WNOTHREAD | WNOHANG), which only sees the tracees of the calling
//! thread. An idle tracer sleeps in poll and costs nothing. (While the process runs the tracer
//! sleeps in a blocking wait4 instead, which needs none of this: `doorbell.rs`.)

use nix::sys::eventfd::{EfdFlags, EventFd};
use std::os::fd::{AsFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Once;

const SLOTS: usize = 256;
/// Each slot's eventfd, -1 until a tracer first takes the slot. An eventfd, once made, is never
/// closed: a handler on another thread may have loaded the number just before its tracer
/// ended, and a closed number can be reused at once by any file of ours (a core being written),
/// which its 8-byte write would then corrupt. A freed slot keeps its eventfd for the next
/// tracer, so at most one eventfd per tracer alive at a time is ever open.
static SLOTS_FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
/// Whether a live tracer holds the slot.
static SLOTS_TAKEN: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
static INSTALL: Once = Once::new();
static mut PREVIOUS: Option<libc::sigaction> = None;

/// Writes the eventfd of every live tracer but `except`: from the handler (every one), or from a
/// tracer thread that took SIGCHLD from its signalfd (and is awake already).
fn notify_all(except: i32) {
    let one: u64 = 1;
    for slot in &SLOTS_FDS {
        let fd = slot.load(Ordering::Acquire);
        if fd >= 0 && fd != except {
            // write(2) is async-signal-safe; an eventfd write only fails when the counter would
            // overflow, which still leaves it readable.
            // SAFETY: `one` is a live 8-byte value, the length an eventfd write requires, and
            // `fd` came from a slot, whose eventfd is never closed (see SLOTS_FDS). Writing
            // one of a slot no tracer holds only wakes nobody: the next holder drains it.
            unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
        }
    }
}

extern "C" fn on_sigchld(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let saved_errno = nix::errno::Errno::last_raw();
    notify_all(-1);
    // Chain to a handler that was there before ours (not SIG_DFL / SIG_IGN).
    // SAFETY: PREVIOUS is written once inside INSTALL before the handler is installed.
    #[allow(static_mut_refs)]
    if let Some(prev) = unsafe { PREVIOUS } {
        let h = prev.sa_sigaction;
        if h != libc::SIG_DFL && h != libc::SIG_IGN {
            if prev.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: with SA_SIGINFO the kernel calls sa_sigaction with exactly this
                // three-argument signature, so that is the type the previous owner stored.
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(h) };
                f(sig, info, ctx);
            } else {
                // SAFETY: without SA_SIGINFO the stored handler is a plain sa_handler taking
                // the signal number only.
                let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
                f(sig);
            }
        }
    }
    nix::errno::Errno::set_raw(saved_errno);
}

fn install() {
    // SAFETY: runs once (Once), before any ChildWakeup exists: PREVIOUS is written here and
    // only read by the handler installed after it; both sigaction structs are zeroed locals
    // filled in before use, and the handler only does async-signal-safe work.
    INSTALL.call_once(|| unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut old);
        PREVIOUS = Some(old);
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigchld as *const () as usize;
        // No SA_NOCLDSTOP: tracee stops are exactly what we need to hear about.
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGCHLD, &sa, std::ptr::null_mut());
    });
}

/// The eventfd one tracer thread sleeps on for tracee stops: a slot's, held while it lives.
pub struct ChildWakeup {
    fd: RawFd,
    slot: usize,
}

impl ChildWakeup {
    pub fn new() -> std::io::Result<Self> {
        install();
        for (slot, taken) in SLOTS_TAKEN.iter().enumerate() {
            if taken
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                continue;
            }
            let mut fd = SLOTS_FDS[slot].load(Ordering::Acquire);
            if fd < 0 {
                let made = match EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
                {
                    Ok(made) => made,
                    Err(e) => {
                        taken.store(false, Ordering::Release);
                        return Err(e.into());
                    }
                };
                // Kept open for the life of the process (see SLOTS_FDS).
                fd = OwnedFd::from(made).into_raw_fd();
                SLOTS_FDS[slot].store(fd, Ordering::Release);
            }
            let w = ChildWakeup { fd, slot };
            // A previous holder's leftovers (or handler writes meanwhile) wake nobody now.
            w.drain();
            return Ok(w);
        }
        Err(std::io::Error::other("too many tracers in one process"))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the slot's eventfd is never closed (SLOTS_FDS), so it outlives any borrow.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }

    /// Resets the counter; call before reaping so a SIGCHLD arriving during the reap is kept.
    pub fn drain(&self) {
        let mut buf = [0u8; 8];
        // SAFETY: reading 8 bytes into a live 8-byte buffer from our own eventfd (never
        // closed); EAGAIN when the counter is zero, which is fine.
        unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), 8) };
    }
}

impl Drop for ChildWakeup {
    fn drop(&mut self) {
        // The eventfd stays open and in its slot for the next tracer.
        SLOTS_TAKEN[self.slot].store(false, Ordering::Release);
    }
}

/// SIGCHLD as a tracer thread takes it: blocked in the thread (so that a tracee stop never
/// costs the tracer a signal frame: saving and restoring the FPU state for a handler was a
/// third of its CPU per passed-on signal, measured with perf), and read from a signalfd in its
/// poll set when no other thread of the process took it first. Either way every tracer's
/// eventfd is written. A SIGCHLD taken here does not reach a handler that was installed
/// before ptscope's.
pub struct ChildSignals {
    fd: nix::sys::signalfd::SignalFd,
}

impl ChildSignals {
    /// For the calling thread, which is the tracer thread.
    pub fn new() -> std::io::Result<Self> {
        use nix::sys::signal::{SigSet, Signal};
        use nix::sys::signalfd::{SfdFlags, SignalFd};
        keep_child_signals_for_tracers()?;
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(ChildSignals { fd })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Takes the SIGCHLD pending (a standard signal: at most one is) and wakes every other
    /// tracer, as the handler would have; `own` is the caller's, awake already.
    pub fn take(&self, own: &ChildWakeup) {
        if let Ok(Some(_)) = self.fd.read_signal() {
            notify_all(own.fd);
        }
    }
}

/// Blocks SIGCHLD in the calling thread and every thread it starts later (they inherit the
/// mask). A program that traces should call it first thing in `main`: the kernel hands a
/// process-wide signal to the first thread that does not block it, the main thread before
/// others, so without this every tracee stop interrupts the program's own threads (a signal
/// frame each, and a `sleep` interrupted more often than its timer slack never ends: seen in
/// the benchmark at 24,000 stops a second). With every thread blocking it, SIGCHLD stays
/// pending until a tracer thread reads it from its signalfd. Children started through
/// `std::process::Command` or our launcher begin with an empty mask.
pub fn keep_child_signals_for_tracers() -> std::io::Result<()> {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
    Ok(())
}

/// Makes `cmd` start its program with no signal blocked. A child inherits the blocked mask
/// across fork and exec, and `std::process::Command` keeps it, so a program started from a
/// thread that called [`keep_child_signals_for_tracers`] would begin with SIGCHLD blocked
/// (gdb then never hears of its own tracees' stops).
pub fn with_empty_signal_mask(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls
    // `unblock_all_signals`, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            unblock_all_signals();
            Ok(())
        })
    }
}

/// Empties the calling thread's blocked mask: what a program should start with, whatever mask
/// the thread that forked it had. Async-signal-safe (sigemptyset and sigprocmask on a local
/// set), so a forked child may call it before exec.
pub fn unblock_all_signals() {
    // SAFETY: a zeroed sigset_t is a valid argument to sigemptyset, which fills it in; the
    // set is a live local and the old mask is not asked for (NULL).
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fd number a wakeup holds.
    fn raw(w: &ChildWakeup) -> RawFd {
        use std::os::fd::AsRawFd;
        w.fd().as_raw_fd()
    }

    #[test]
    fn a_freed_slot_keeps_its_eventfd_open_and_the_next_tracer_gets_it_drained() {
        let first = ChildWakeup::new().expect("a wakeup");
        let (fd, slot) = (raw(&first), first.slot);
        notify_all(-1);
        drop(first);
        // Still open: a handler that loaded the number just now writes to our eventfd, not
        // to whatever file would have been given the number next.
        // SAFETY: F_GETFD on a number only reads its flags.
        assert!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0,
            "fd {fd} closed"
        );
        assert_eq!(SLOTS_FDS[slot].load(Ordering::Acquire), fd);
        // Taken again (other tests' tracers may hold other slots meanwhile): some slot's
        // eventfd, with nothing left in its counter.
        let again = ChildWakeup::new().expect("a wakeup");
        let mut buf = [0u8; 8];
        // SAFETY: an 8-byte read into a live 8-byte buffer from our own eventfd.
        let n = unsafe { libc::read(raw(&again), buf.as_mut_ptr().cast(), 8) };
        assert_eq!(n, -1, "drained: a read finds the counter at zero (EAGAIN)");
    }

    /// What the kernel says the first thread of a child started from a thread that blocks
    /// SIGCHLD has blocked, with and without `with_empty_signal_mask`.
    fn child_blocks_sigchld(empty_mask: bool) -> bool {
        std::thread::spawn(move || {
            keep_child_signals_for_tracers().expect("block SIGCHLD");
            let mut cmd = std::process::Command::new("sleep");
            cmd.arg("30");
            if empty_mask {
                with_empty_signal_mask(&mut cmd);
            }
            let mut child = cmd.spawn().expect("start sleep");
            let pid = child.id() as i32;
            // Read once sleep runs (its comm says so), not in the moment between fork and exec.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while crate::procinfo::tasks::thread_name(pid, pid) != "sleep" {
                assert!(std::time::Instant::now() < deadline, "sleep did not start");
                std::thread::yield_now();
            }
            let facts = crate::procinfo::core_facts::thread_facts(pid, &[pid]);
            let _ = child.kill();
            let _ = child.wait();
            let blocked = facts.expect("facts of the child")[0].blocked;
            blocked & (1 << (libc::SIGCHLD - 1)) != 0
        })
        .join()
        .expect("the spawning thread")
    }

    #[test]
    fn a_child_inherits_the_blocked_sigchld_unless_its_mask_is_emptied() {
        assert!(child_blocks_sigchld(false), "the kernel passes the mask on");
        assert!(
            !child_blocks_sigchld(true),
            "the mask is emptied before exec"
        );
    }
}
