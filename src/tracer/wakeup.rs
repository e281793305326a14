//! How the tracer thread sleeps without polling and still hears every tracee stop at once.
//!
//! The tracer must serve two sources: wait statuses of its tracees and commands from the UI.
//! A blocking waitpid cannot also wait on a channel, and waitpid(-1) would steal the statuses of
//! another tracer thread in the same process (the kernel lets any thread of the group reap).
//! So, as gdb does with its self-pipe: the kernel sends SIGCHLD to our process for every tracee
//! stop; a process-wide handler writes to the eventfd of every live tracer; each tracer thread
//! polls its own eventfd plus a command eventfd, then reaps with
//! waitpid(-1, __WALL | __WNOTHREAD | WNOHANG), which only sees the tracees of the calling
//! thread. An idle tracer sleeps in poll and costs nothing.

use nix::sys::eventfd::{EfdFlags, EventFd};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

const SLOTS: usize = 256;
static SLOTS_FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
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
            // `fd` came from a slot, which `ChildWakeup::drop` clears before it closes the fd.
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

/// The eventfd one tracer thread sleeps on for tracee stops.
pub struct ChildWakeup {
    fd: EventFd,
    slot: usize,
}

impl ChildWakeup {
    pub fn new() -> std::io::Result<Self> {
        install();
        let fd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        let raw = fd.as_raw_fd();
        for (slot, cell) in SLOTS_FDS.iter().enumerate() {
            if cell
                .compare_exchange(-1, raw, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Ok(ChildWakeup { fd, slot });
            }
        }
        Err(std::io::Error::other("too many tracers in one process"))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Resets the counter; call before reaping so a SIGCHLD arriving during the reap is kept.
    pub fn drain(&self) {
        let _ = self.fd.read();
    }
}

impl Drop for ChildWakeup {
    fn drop(&mut self) {
        SLOTS_FDS[self.slot].store(-1, Ordering::Release);
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
        use nix::sys::signal::{SigSet, SigmaskHow, Signal};
        use nix::sys::signalfd::{SfdFlags, SignalFd};
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
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
            notify_all(own.fd.as_raw_fd());
        }
    }
}

/// The eventfd that tells the tracer thread a command is waiting in its channel.
pub struct CommandBell {
    fd: EventFd,
}

impl CommandBell {
    pub fn new() -> std::io::Result<Self> {
        Ok(CommandBell {
            fd: EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
        })
    }
    pub fn ring(&self) {
        let _ = self.fd.write(1);
    }
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
    pub fn drain(&self) {
        let _ = self.fd.read();
    }
}
