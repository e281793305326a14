//! How a front end wakes the tracer thread, in either of the tracer's two ways of sleeping.
//!
//! - In epoll (`wakeup.rs`: SIGCHLD through an eventfd or a signalfd, the bell's eventfd, a
//!   timeout): while an all-stop gathers its reports and while the process rests.
//! - In a blocking wait4 while the process runs. There the tracer's most frequent work is a
//!   report it only passes on (a signal, a breakpoint hit that does not stop): woken by epoll
//!   it costs epoll_wait, a signalfd read, the wait4 that finds the report and one that finds
//!   nothing more, where a blocking wait4 is the one call that finds it (the raw loop of the
//!   benchmark makes two calls per passed-on signal: wait4 and PTRACE_CONT).
//!
//! A blocking wait4 cannot also wait on a channel or a clock, so the bell and the timer
//! interrupt it with a signal of their own (`wake_signal`) aimed at the tracer thread. A
//! signal that arrives after the tracer last looked at its channel but before the thread is
//! inside wait4 would be lost, and the tracer would sleep with a command queued. So the call
//! is made through a small cancellation point: `ptscope_cp` looks at the bell's `woken` flag
//! and then enters the kernel; the signal handler, when it finds the thread between that look
//! and the `syscall` instruction, moves it to code that returns EINTR without entering the
//! kernel. A ring that comes before the look is seen by the look; one that comes while the
//! thread is in the kernel interrupts the call (SA_RESTART rewinds it to the `syscall`
//! instruction, which the handler then redirects the same way).

use nix::sys::eventfd::{EfdFlags, EventFd};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering::SeqCst};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The signal that interrupts a tracer's blocking wait4. Real-time, so that it never means
/// anything else to ptscope or to the Rust runtime; glibc keeps the first two for itself
/// (SIGRTMIN() already skips them).
pub fn wake_signal() -> libc::c_int {
    libc::SIGRTMIN() + 5
}

// `ptscope_cp(woken, nr, a1, a2, a3, a4)`: the system call `nr` with four arguments, unless
// `*woken` is nonzero when it is about to be made: then -EINTR, as if it had been interrupted.
// The argument registers are moved into the system call's (rdi, rsi, rdx, r10) before the
// look, so that nothing remains to be done between the look and the `syscall` instruction.
std::arch::global_asm!(
    ".pushsection .text.ptscope_cp,\"ax\",@progbits",
    ".globl ptscope_cp",
    ".hidden ptscope_cp",
    ".type ptscope_cp,@function",
    ".globl ptscope_cp_look",
    ".hidden ptscope_cp_look",
    ".globl ptscope_cp_syscall",
    ".hidden ptscope_cp_syscall",
    ".globl ptscope_cp_cancelled",
    ".hidden ptscope_cp_cancelled",
    "ptscope_cp:",
    "mov r11, rdi",
    "mov rax, rsi",
    "mov rdi, rdx",
    "mov rsi, rcx",
    "mov rdx, r8",
    "mov r10, r9",
    "ptscope_cp_look:",
    "cmp byte ptr [r11], 0",
    "jne ptscope_cp_cancelled",
    "ptscope_cp_syscall:",
    "syscall",
    "ret",
    "ptscope_cp_cancelled:",
    "mov rax, -4",
    "ret",
    ".size ptscope_cp, .-ptscope_cp",
    ".popsection",
);

extern "C" {
    fn ptscope_cp(woken: *const AtomicBool, nr: i64, a1: i64, a2: i64, a3: i64, a4: i64) -> i64;
    fn ptscope_cp_look();
    fn ptscope_cp_syscall();
    fn ptscope_cp_cancelled();
}

/// Where an interrupted thread resumes: the cancelled return if it was at or after the look
/// and had not yet entered the kernel, else where it was.
fn resume_at(pc: u64) -> u64 {
    let look = ptscope_cp_look as *const () as u64;
    let syscall = ptscope_cp_syscall as *const () as u64;
    if (look..=syscall).contains(&pc) {
        ptscope_cp_cancelled as *const () as u64
    } else {
        pc
    }
}

extern "C" fn on_wake(_: libc::c_int, _: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    if ctx.is_null() {
        return;
    }
    // SAFETY: with SA_SIGINFO the kernel passes the interrupted thread's ucontext_t, which
    // the thread resumes from when the handler returns; only its saved rip is read and
    // written, to an address inside `ptscope_cp`, whose code returns with the registers the
    // interrupted code expected (rax is its return value, r11 and rcx are clobbered by
    // `syscall` in any case).
    unsafe {
        let uc = &mut *(ctx as *mut libc::ucontext_t);
        let rip = &mut uc.uc_mcontext.gregs[libc::REG_RIP as usize];
        *rip = resume_at(*rip as u64) as i64;
    }
}

static INSTALL: Once = Once::new();

fn install() {
    // SAFETY: a zeroed sigaction filled in as its C signature wants; the handler only reads
    // and writes the ucontext it is given (async-signal-safe). SA_RESTART: any other system
    // call the tracer thread is in when the signal comes goes on as if nothing had happened.
    INSTALL.call_once(|| unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_wake as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(wake_signal(), &sa, std::ptr::null_mut());
    });
}

const AWAKE: u8 = 0;
const IN_EPOLL: u8 = 1;
const IN_WAIT: u8 = 2;

/// What the blocking wait ended with.
pub enum Woke {
    /// A tracee's wait status: its tid and the raw status.
    Report(i32, i32),
    /// The bell, the timer or another signal: look at the channel and the clock.
    Interrupted,
    /// The thread has no tracee left to wait for; sleep some other way.
    NoChildren,
}

/// The bell a front end rings after queueing a command for the tracer thread.
pub struct CommandBell {
    /// For the epoll sleep.
    fd: EventFd,
    /// A command may be waiting: set by `ring`, cleared by the tracer when it wakes (before
    /// it looks at its channel), looked at last thing before either sleep.
    woken: AtomicBool,
    /// How the tracer sleeps now (AWAKE, IN_EPOLL, IN_WAIT): a ring only does what wakes it.
    sleep: AtomicU8,
    /// The tracer thread's tid once it serves; 0 before.
    tid: AtomicI32,
}

impl CommandBell {
    pub fn new() -> std::io::Result<Self> {
        install();
        Ok(CommandBell {
            fd: EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?,
            woken: AtomicBool::new(false),
            sleep: AtomicU8::new(AWAKE),
            tid: AtomicI32::new(0),
        })
    }

    /// Wakes the tracer, however it sleeps. `woken` is written before `sleep` is read, and the
    /// tracer writes `sleep` before it reads `woken` (all SeqCst): either this sees how the
    /// tracer sleeps, or the tracer sees the ring before it sleeps.
    pub fn ring(&self) {
        self.woken.store(true, SeqCst);
        match self.sleep.load(SeqCst) {
            IN_EPOLL => {
                let _ = self.fd.write(1);
            }
            IN_WAIT => {
                let tid = self.tid.load(SeqCst);
                if tid > 0 {
                    // SAFETY: tgkill with plain integers; aimed at a thread of our own process
                    // (a tid reused by another of our threads only runs the handler, which
                    // changes nothing outside `ptscope_cp`).
                    unsafe {
                        libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, wake_signal());
                    }
                }
            }
            _ => {}
        }
    }

    /// Called on the tracer thread before it first sleeps.
    pub fn serve_on_this_thread(&self) {
        self.tid.store(super::ptrace::gettid(), SeqCst);
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    pub fn drain(&self) {
        let _ = self.fd.read();
    }

    /// Before the epoll sleep: false when a ring came meanwhile (do not sleep).
    pub fn going_to_epoll(&self) -> bool {
        self.sleep.store(IN_EPOLL, SeqCst);
        !self.woken.load(SeqCst)
    }

    /// After either sleep, before the channel is looked at.
    pub fn awake(&self) {
        self.sleep.store(AWAKE, SeqCst);
        self.woken.swap(false, SeqCst);
    }

    /// Blocks in waitpid(-1, `options`) until a tracee of this thread reports, the bell rings or
    /// the timer fires. Call `awake` after it.
    pub fn wait(&self, options: libc::c_int) -> Woke {
        let mut raw: libc::c_int = 0;
        self.sleep.store(IN_WAIT, SeqCst);
        // SAFETY: wait4(-1, &raw, options, NULL) through the cancellation point: `raw` is a
        // live out-pointer for the status, the rusage pointer is NULL, and `woken` lives as
        // long as `self`.
        let r = unsafe {
            ptscope_cp(
                &self.woken,
                libc::SYS_wait4,
                -1,
                &mut raw as *mut libc::c_int as i64,
                options as i64,
                0,
            )
        };
        if r > 0 {
            Woke::Report(r as i32, raw)
        } else if r == -(libc::ECHILD as i64) {
            Woke::NoChildren
        } else {
            Woke::Interrupted
        }
    }
}

/// A per-tracer POSIX timer that interrupts the blocking wait at a deadline (the outbox's
/// hold). It fires again every millisecond after the deadline until it is set again: an expiry
/// that lands just before the wait (and so interrupts nothing) is followed by another.
pub struct Alarm {
    timer: Option<libc::timer_t>,
    /// The deadline it is set for, if set.
    set_for: Option<Instant>,
}

const RETRY: Duration = Duration::from_millis(1);

impl Alarm {
    pub fn new() -> Self {
        Alarm {
            timer: None,
            set_for: None,
        }
    }

    /// Makes the timer fire at `deadline`, or not at all (None). A system call only when that
    /// changes what it would do: a deadline later than the one set is left as it is (an early
    /// wake-up only makes the tracer look at the clock and sleep again).
    pub fn want(&mut self, deadline: Option<Instant>) {
        let now = Instant::now();
        match (deadline, self.set_for) {
            (None, None) => {}
            (None, Some(_)) => {
                self.set(None);
                self.set_for = None;
            }
            (Some(d), Some(set)) if set > now && set <= d => {}
            (Some(d), _) => {
                self.set_for = self
                    .set(Some(d.saturating_duration_since(now)))
                    .then_some(d);
            }
        }
    }

    /// Whether the timer is set for a deadline.
    pub fn is_set(&self) -> bool {
        self.set_for.is_some()
    }

    /// Sets the timer to fire `after` from now (and every RETRY after that), or disarms it.
    /// False when there is no timer (timer_create failed: the tracer then wakes only for
    /// reports and commands, and sends held events with the next of those).
    fn set(&mut self, after: Option<Duration>) -> bool {
        let Some(timer) = self.timer.or_else(|| self.create()) else {
            return false;
        };
        let ts = |d: Duration| libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        };
        let spec = libc::itimerspec {
            // A zero it_value disarms; a due deadline fires at once (1 ns).
            it_value: ts(after.map_or(Duration::ZERO, |a| a.max(Duration::from_nanos(1)))),
            it_interval: ts(if after.is_some() {
                RETRY
            } else {
                Duration::ZERO
            }),
        };
        // SAFETY: `timer` came from timer_create and is deleted only in Drop; `spec` is a live
        // itimerspec and the old value is not asked for.
        unsafe { libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()) == 0 }
    }

    fn create(&mut self) -> Option<libc::timer_t> {
        // SAFETY: a zeroed sigevent is valid; the fields set are those SIGEV_THREAD_ID reads.
        // The timer is created for the calling thread, which is the tracer thread (the only
        // caller of `want`), and `timer` is a live out-pointer.
        let timer = unsafe {
            let mut sev: libc::sigevent = std::mem::zeroed();
            sev.sigev_notify = libc::SIGEV_THREAD_ID;
            sev.sigev_signo = wake_signal();
            sev.sigev_notify_thread_id = super::ptrace::gettid();
            let mut timer: libc::timer_t = std::ptr::null_mut();
            (libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut timer) == 0).then_some(timer)
        };
        self.timer = timer;
        timer
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        if let Some(timer) = self.timer {
            // SAFETY: a timer of ours, deleted once.
            unsafe { libc::timer_delete(timer) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Children of the calling thread only: other tests' children are theirs.
    const MINE: libc::c_int = libc::__WALL | libc::__WNOTHREAD;

    #[test]
    fn the_handler_cancels_a_call_caught_between_the_look_and_the_kernel() {
        let look = ptscope_cp_look as *const () as u64;
        let syscall = ptscope_cp_syscall as *const () as u64;
        let cancelled = ptscope_cp_cancelled as *const () as u64;
        assert!(look < syscall && syscall < cancelled);
        assert_eq!(resume_at(look), cancelled);
        assert_eq!(
            resume_at(syscall),
            cancelled,
            "rewound by SA_RESTART, or not entered"
        );
        assert_eq!(
            resume_at(syscall + 2),
            syscall + 2,
            "back from the kernel: left alone"
        );
        assert_eq!(
            resume_at(look - 1),
            look - 1,
            "before the look: the look sees the ring"
        );
    }

    /// A child of the calling thread for wait4 to block on, killed after 10 s unless `end`
    /// comes first, so that a wait nothing interrupts fails its test (with a report) rather
    /// than hanging it.
    // Reaped by the wait4 in `end`, which is what is under test, not by Child::wait.
    #[allow(clippy::zombie_processes)]
    fn sleeper() -> (i32, crossbeam_channel::Sender<()>) {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("start sleep");
        let pid = child.id() as i32;
        let (done, watch) = crossbeam_channel::bounded::<()>(1);
        std::thread::spawn(move || {
            if watch.recv_timeout(Duration::from_secs(10)).is_err() {
                let _ = child.kill();
            }
        });
        (pid, done)
    }

    /// Kills the sleeper and waits for its report; a wake-up too many on the way is allowed (a
    /// ring seen both ways: by the look, then by its signal; a timer tick sent before it was
    /// unset).
    fn end(bell: &CommandBell, (pid, done): (i32, crossbeam_channel::Sender<()>)) {
        // The watchdog lets go of the child before it is reaped (its pid could be reused).
        let _ = done.send(());
        // SAFETY: kill with plain integers, on our own child, not reaped yet.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        loop {
            match bell.wait(MINE) {
                Woke::Report(got, _) => break assert_eq!(got, pid),
                Woke::Interrupted => bell.awake(),
                Woke::NoChildren => panic!("the child is there"),
            }
        }
    }

    #[test]
    fn a_ring_before_the_wait_makes_it_return_at_once_and_one_during_it_interrupts_it() {
        std::thread::spawn(|| {
            let bell = std::sync::Arc::new(CommandBell::new().expect("a bell"));
            bell.serve_on_this_thread();
            let child = sleeper();
            bell.ring();
            assert!(matches!(bell.wait(MINE), Woke::Interrupted));
            bell.awake();
            let ringer = bell.clone();
            let t = std::thread::spawn(move || {
                // Rings once the waiter has said it is going into the wait.
                while ringer.sleep.load(SeqCst) != IN_WAIT {
                    std::thread::yield_now();
                }
                ringer.ring();
            });
            assert!(matches!(bell.wait(MINE), Woke::Interrupted));
            bell.awake();
            t.join().expect("the ringer");
            end(&bell, child);
        })
        .join()
        .expect("the waiting thread");
    }

    #[test]
    fn the_alarm_interrupts_a_wait_and_fires_again_until_it_is_unset() {
        std::thread::spawn(|| {
            let bell = CommandBell::new().expect("a bell");
            let child = sleeper();
            let mut alarm = Alarm::new();
            let start = Instant::now();
            alarm.want(Some(start + Duration::from_millis(20)));
            assert!(alarm.is_set());
            assert!(matches!(bell.wait(MINE), Woke::Interrupted));
            assert!(start.elapsed() >= Duration::from_millis(19));
            // Not set again: it fires again (an expiry just before a wait interrupts nothing).
            assert!(matches!(bell.wait(MINE), Woke::Interrupted));
            alarm.want(None);
            assert!(!alarm.is_set());
            end(&bell, child);
        })
        .join()
        .expect("the waiting thread");
    }
}
