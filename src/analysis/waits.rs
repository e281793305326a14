//! What one thread waits on, decided from facts only: the kernel's view from before the stop
//! (the system call and its arguments, wchan, state), the function names of the top frames,
//! and the lock's own memory. A futex becomes a mutex, rwlock or condition variable only when
//! the frames show glibc's code for that kind (`pthread_mutex_lock` under `__lll_lock_wait`,
//! ...) or when the futex operation itself says so (FUTEX_LOCK_PI); otherwise it stays a
//! "futex" with no owner guessed.

use super::facts::{MemWords, ThreadInput};
use super::locks::{self, Mutex};
use crate::procinfo::SyscallState;
use crate::symbols::Frame;
use crate::tracer::Tid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockKind {
    Mutex,
    Rwlock,
    Condvar,
    Semaphore,
    /// pthread_join: the futex is the joined thread's tid word, cleared when it exits.
    Join,
    Futex,
}

impl LockKind {
    pub fn name(self) -> &'static str {
        match self {
            LockKind::Mutex => "mutex",
            LockKind::Rwlock => "rwlock",
            LockKind::Condvar => "condvar",
            LockKind::Semaphore => "semaphore",
            LockKind::Join => "join",
            LockKind::Futex => "futex",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Read,
    Write,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The tid the lock records as its holder (for a join: the thread joined).
    Thread(Tid),
    /// An rwlock held for reading: readers are not recorded anywhere.
    Readers,
    /// This kind of lock keeps no owner (condvar, semaphore, most non-glibc locks).
    NotRecorded,
    /// The lock should record one but its memory reads free or could not be read.
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockWait {
    pub kind: LockKind,
    /// The word the thread sleeps on.
    pub futex: u64,
    /// The lock object: a mutex or rwlock's first byte, a condvar's when it could be told;
    /// else the futex word.
    pub addr: u64,
    pub owner: Owner,
    pub role: Option<Role>,
    /// A priority-inheritance mutex (the kernel keeps the owner in the futex word).
    pub pi: bool,
    /// A robust holder died without unlocking.
    pub owner_died: bool,
    /// The frame whose function told the kind.
    pub by: Option<String>,
    /// glibc parked the thread for ever in `__pthread_mutex_lock_full` after the kernel refused
    /// a PI lock (EDEADLK: taking it would deadlock; or ESRCH: its owner died). `addr` and
    /// `owner` then name the refused mutex when it could be identified (`identified`).
    pub refused: bool,
    pub identified: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FdWait {
    /// The system call (`read`, `recvfrom`, `epoll_wait`, ...).
    pub call: String,
    /// The descriptors it waits on: one for read/recv/accept..., the array's for poll and
    /// select, the epoll descriptor for epoll_wait.
    pub fds: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wait {
    /// On a CPU or runnable.
    Running,
    Lock(LockWait),
    Fd(FdWait),
    Sleep {
        call: String,
    },
    /// pause, sigsuspend, sigtimedwait.
    SignalWait {
        call: String,
    },
    /// wait4 / waitid; `pid` as passed (-1 any child, >0 that one).
    Child {
        call: String,
        pid: i64,
    },
    /// A vfork parent: in D state until the child execs or exits.
    Vfork,
    /// In a job-control stop (state T) before we came.
    SignalStop,
    /// Uninterruptible sleep (D): disk, NFS, FUSE...; with the kernel stack (innermost first)
    /// when /proc let us read it.
    Disk {
        call: Option<String>,
        kstack: Vec<String>,
    },
    /// Blocked in another system call.
    Syscall {
        call: String,
    },
    /// Asleep but not in a system call (a page fault, for one).
    NotInSyscall,
    /// A zombie: exited, not yet reaped.
    Exited,
    /// No kernel view (the thread appeared after it was read, or /proc refused).
    Unknown,
}

impl Wait {
    /// The `"kind"` of the JSON contract.
    pub fn kind(&self) -> &'static str {
        match self {
            Wait::Running => "running",
            Wait::Lock(l) => l.kind.name(),
            Wait::Fd(_) => "fd",
            Wait::Sleep { .. } => "sleep",
            Wait::SignalWait { .. } => "signal-wait",
            Wait::Child { .. } => "child",
            Wait::Vfork => "vfork",
            Wait::SignalStop => "signal-stop",
            Wait::Disk { .. } => "disk",
            Wait::Syscall { .. } => "syscall",
            Wait::NotInSyscall => "not-in-syscall",
            Wait::Exited => "exited",
            Wait::Unknown => "unknown",
        }
    }

    pub fn lock(&self) -> Option<&LockWait> {
        match self {
            Wait::Lock(l) => Some(l),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadWait {
    pub tid: Tid,
    pub wait: Wait,
    /// Off the CPU for this long (None while running, or when the clock was unreadable).
    pub since_ms: Option<u64>,
    /// The first frame in the program's own code (past libc's and Rust std's lock machinery):
    /// "where" the thread waits.
    pub at: Option<usize>,
    /// At the stop the thread was still in the same system call on the same first argument
    /// (its orig_rax and rdi): the wait read before the stop still held when the lock memory
    /// was read. Only confirmed waits make edges in the wait-for graph.
    pub confirmed: bool,
}

/// A function name without the leading underscores glibc's aliases carry
/// (`___pthread_mutex_lock`, `__pthread_mutex_lock_full`).
fn bare(name: &str) -> &str {
    name.trim_start_matches('_')
}

fn is_runtime_module(module: &str) -> bool {
    let file = module.rsplit('/').next().unwrap_or(module);
    [
        "libc.so",
        "libc-",
        "libpthread",
        "ld-linux",
        "ld-musl",
        "libc.musl",
    ]
    .iter()
    .any(|p| file.starts_with(p))
}

fn is_runtime_function(name: &str) -> bool {
    [
        "std::", "core::", "alloc::", "<std::", "<core::", "<alloc::", "__rust",
    ]
    .iter()
    .any(|p| name.starts_with(p))
}

/// Frames of the C library and Rust's std: the lock machinery above the program's own code.
pub fn is_runtime(f: &Frame) -> bool {
    f.location.module.as_deref().is_some_and(is_runtime_module)
        || f.location
            .function
            .as_deref()
            .is_some_and(is_runtime_function)
}

/// The first frame outside the runtime, else the first frame.
pub fn user_frame(frames: &[Frame]) -> Option<usize> {
    if frames.is_empty() {
        return None;
    }
    Some(frames.iter().position(|f| !is_runtime(f)).unwrap_or(0))
}

/// The top frames: the runtime's frames above the program's own code (the lock machinery),
/// at most 12.
fn top_names(frames: &[Frame]) -> Vec<&str> {
    let end = frames
        .iter()
        .position(|f| !is_runtime(f))
        .unwrap_or(frames.len());
    frames[..end.min(12)]
        .iter()
        .filter_map(|f| f.location.function.as_deref())
        .collect()
}

/// glibc's functions, as their bare names: the kind of lock each one waits on.
const GLIBC_MUTEX: &[&str] = &[
    "pthread_mutex_lock",
    "pthread_mutex_lock_full",
    "pthread_mutex_timedlock",
    "pthread_mutex_clocklock",
    "pthread_mutex_clocklock_common",
    "pthread_mutex_cond_lock",
    "pthread_mutex_cond_lock_full",
];
const GLIBC_RWLOCK_READ: &[&str] = &[
    "pthread_rwlock_rdlock",
    "pthread_rwlock_rdlock_full",
    "pthread_rwlock_timedrdlock",
    "pthread_rwlock_clockrdlock",
];
const GLIBC_RWLOCK_WRITE: &[&str] = &[
    "pthread_rwlock_wrlock",
    "pthread_rwlock_wrlock_full",
    "pthread_rwlock_timedwrlock",
    "pthread_rwlock_clockwrlock",
];
const GLIBC_COND: &[&str] = &[
    "pthread_cond_wait",
    "pthread_cond_timedwait",
    "pthread_cond_clockwait",
    "pthread_cond_wait_common",
];
const GLIBC_SEM: &[&str] = &[
    "sem_wait",
    "sem_timedwait",
    "sem_clockwait",
    "new_sem_wait_slow64",
    "new_sem_wait_slow",
];
const GLIBC_JOIN: &[&str] = &[
    "pthread_join",
    "pthread_clockjoin_ex",
    "pthread_timedjoin_np",
    "pthread_clockjoin_np",
];

fn find<'a>(names: &[&'a str], set: &[&str]) -> Option<&'a str> {
    names.iter().copied().find(|n| set.contains(&bare(n)))
}

/// Rust std's futex-based locks keep no owner: what each one is, by the function that waits.
fn rust_std(names: &[&str]) -> Option<(LockKind, Option<Role>, String)> {
    for raw in names {
        // `<std::sys::sync::mutex::futex::Mutex>::lock_contended`: impl paths come bracketed.
        let plain = raw.replace(['<', '>'], "");
        if !plain.starts_with("std::") {
            continue;
        }
        let n = plain.as_str();
        let hit = if n.contains("::Mutex::lock_contended") {
            Some((LockKind::Futex, None))
        } else if n.contains("::Condvar::wait") {
            Some((LockKind::Condvar, None))
        } else if n.contains("::RwLock::read_contended") {
            Some((LockKind::Rwlock, Some(Role::Read)))
        } else if n.contains("::RwLock::write_contended") {
            Some((LockKind::Rwlock, Some(Role::Write)))
        } else {
            None
        };
        if let Some((kind, role)) = hit {
            return Some((kind, role, raw.to_string()));
        }
    }
    None
}

/// How far above the stack pointer a variable of the waiting function's own frame can be:
/// glibc parks a refused PI locker on a local of `__pthread_mutex_lock_full`.
const OWN_STACK_WINDOW: u64 = 16 * 1024;

fn on_own_stack(addr: u64, sp: u64) -> bool {
    addr >= sp && addr - sp < OWN_STACK_WINDOW
}

/// A futex wait taken apart. `sp` is the thread's user stack pointer in the call.
fn futex_wait(args: &[u64; 6], sp: u64, frames: &[Frame], mem: &MemWords) -> Option<LockWait> {
    let futex = args[0];
    let cmd = locks::futex_cmd(args[1]);
    let expected = args[2] as u32;
    let names = top_names(frames);
    let mut w = LockWait {
        kind: LockKind::Futex,
        futex,
        addr: futex,
        owner: Owner::NotRecorded,
        role: None,
        pi: false,
        owner_died: false,
        by: None,
        refused: false,
        identified: false,
    };
    match cmd {
        // The kernel's PI protocol: the futex word is the owner's tid (futex(2)), whoever
        // the caller is.
        locks::FUTEX_LOCK_PI | locks::FUTEX_LOCK_PI2 => {
            w.kind = LockKind::Mutex;
            w.pi = true;
            w.by = find(&names, GLIBC_MUTEX).map(str::to_string);
            match mem.u32(futex).map(locks::pi_word) {
                Some(p) if p.owner > 0 => {
                    w.owner = Owner::Thread(p.owner);
                    w.owner_died = p.owner_died;
                }
                _ => w.owner = Owner::Unknown,
            }
            return Some(w);
        }
        locks::FUTEX_WAIT_REQUEUE_PI => {
            w.kind = LockKind::Condvar;
            w.by = find(&names, GLIBC_COND).map(str::to_string);
            return Some(w);
        }
        locks::FUTEX_WAIT | locks::FUTEX_WAIT_BITSET => {}
        _ => return None,
    }
    if let Some(f) = find(&names, GLIBC_MUTEX) {
        w.by = Some(f.to_string());
        if bare(f) == "pthread_mutex_lock_full" && expected == 0 && on_own_stack(futex, sp) {
            // pthread_mutex_lock.c: on EDEADLK or ESRCH from FUTEX_LOCK_PI, "delay the thread
            // indefinitely" in a futex wait on a zero on its own stack.
            w.kind = LockKind::Mutex;
            w.pi = true;
            w.refused = true;
            w.owner = Owner::Unknown;
            return Some(w);
        }
        w.kind = LockKind::Mutex;
        match mem.bytes(futex, 20).and_then(Mutex::decode) {
            Some(m) if m.plausible() => {
                w.pi = m.pi();
                w.owner_died = m.owner_died();
                w.owner = m.holder().map_or(Owner::Unknown, Owner::Thread);
            }
            _ => w.owner = Owner::Unknown,
        }
        return Some(w);
    }
    let read = find(&names, GLIBC_RWLOCK_READ);
    let write = find(&names, GLIBC_RWLOCK_WRITE);
    if let Some(f) = read.or(write) {
        let writer = write.is_some();
        w.kind = LockKind::Rwlock;
        w.by = Some(f.to_string());
        w.role = Some(if writer { Role::Write } else { Role::Read });
        w.addr = locks::rwlock_base(futex, writer, expected);
        let cur_writer = mem.i32(w.addr + locks::RWLOCK_CUR_WRITER_OFFSET);
        w.owner = match cur_writer {
            Some(t) if t > 0 => Owner::Thread(t),
            // A writer waiting on __wrphase_futex waits for readers to leave.
            Some(0) if writer && expected & 1 == 0 => Owner::Readers,
            _ => Owner::Unknown,
        };
        return Some(w);
    }
    if let Some(f) = find(&names, GLIBC_COND) {
        w.kind = LockKind::Condvar;
        w.by = Some(f.to_string());
        return Some(w);
    }
    if let Some(f) = find(&names, GLIBC_SEM) {
        w.kind = LockKind::Semaphore;
        w.by = Some(f.to_string());
        return Some(w);
    }
    if let Some(f) = find(&names, GLIBC_JOIN) {
        // pthread_join sleeps on the joined thread's tid word until the kernel clears it
        // (CLONE_CHILD_CLEARTID), expecting the tid itself.
        w.kind = LockKind::Join;
        w.by = Some(f.to_string());
        let tid = expected as i32;
        w.owner = if tid > 0 && mem.u32(futex) == Some(expected) {
            Owner::Thread(tid)
        } else {
            Owner::Unknown
        };
        return Some(w);
    }
    if let Some((kind, role, by)) = rust_std(&names) {
        w.kind = kind;
        w.role = role;
        w.by = Some(by);
        return Some(w);
    }
    // Anything else (glibc-internal locks, custom futexes): named by the function that waits.
    w.by = names
        .first()
        .map(|n| n.to_string())
        .or_else(|| frames.first().and_then(|f| f.location.function.clone()));
    Some(w)
}

// libc names system call numbers SYS_read...: matched as constants.
#[allow(non_upper_case_globals)]
fn fd_calls(nr: i64) -> Option<&'static [usize]> {
    use libc::*;
    // Which arguments are descriptors the call waits on.
    Some(match nr {
        SYS_read | SYS_readv | SYS_pread64 | SYS_preadv | SYS_preadv2 | SYS_write | SYS_writev
        | SYS_pwrite64 | SYS_pwritev | SYS_pwritev2 | SYS_recvfrom | SYS_recvmsg | SYS_recvmmsg
        | SYS_sendto | SYS_sendmsg | SYS_sendmmsg | SYS_accept | SYS_accept4 | SYS_connect
        | SYS_flock | SYS_fsync | SYS_fdatasync | SYS_ioctl | SYS_fcntl | SYS_epoll_wait
        | SYS_epoll_pwait | SYS_epoll_pwait2 | SYS_io_uring_enter => &[0],
        SYS_sendfile => &[0, 1],
        SYS_splice | SYS_tee => &[0, 2],
        _ => return None,
    })
}

/// A vfork parent (see `procinfo::blocked::in_vfork`, shared with the engine, which cannot
/// stop such a thread).
pub use crate::procinfo::blocked::in_vfork;

/// A thread's wait, with the lock and poll memory read during the stop in `mem`. A refused PI
/// locker comes out unidentified; `crate::analysis::resolve_refused` may name its mutex.
pub fn classify(t: &ThreadInput, mem: &MemWords) -> ThreadWait {
    let wait = wait_of(t, mem);
    let since_ms = match wait {
        Wait::Running | Wait::Unknown | Wait::Exited => None,
        _ => t.off_cpu_ms,
    };
    ThreadWait {
        tid: t.tid,
        wait,
        since_ms,
        at: user_frame(t.frames),
        confirmed: still_in_call(t),
    }
}

/// A thread stopped inside a system call keeps its number in orig_rax and its arguments in
/// their registers (the kernel restarts the call when it resumes).
fn still_in_call(t: &ThreadInput) -> bool {
    let (Some(SyscallState::InSyscall { nr, args, .. }), Some(r)) =
        (t.kernel.map(|k| &k.syscall), t.regs)
    else {
        return false;
    };
    r.get("orig_rax") == Some(*nr as u64) && r.get("rdi") == Some(args[0])
}

// libc names system call numbers SYS_read...: matched as constants.
#[allow(non_upper_case_globals)]
fn wait_of(t: &ThreadInput, mem: &MemWords) -> Wait {
    use libc::*;
    let Some(k) = t.kernel else {
        return Wait::Unknown;
    };
    let wchan = k.wchan.as_deref().unwrap_or("");
    match k.state {
        'R' => return Wait::Running,
        'T' => return Wait::SignalStop,
        'Z' | 'X' => return Wait::Exited,
        'D' if in_vfork(k, t.kstack) => return Wait::Vfork,
        _ => {}
    }
    let (nr, args, sp) = match &k.syscall {
        SyscallState::Running => return Wait::Running,
        SyscallState::InSyscall { nr, args, sp, .. } => (*nr, args, *sp),
        SyscallState::NotInSyscall { .. } if k.state == 'D' => {
            return Wait::Disk {
                call: None,
                kstack: kstack(t),
            }
        }
        SyscallState::NotInSyscall { .. } => return Wait::NotInSyscall,
        SyscallState::Unknown => return Wait::Unknown,
    };
    let call_text = k.syscall.call().unwrap_or_default();
    if k.state == 'D' {
        return Wait::Disk {
            call: Some(call_text),
            kstack: kstack(t),
        };
    }
    let name = k.syscall.name().unwrap_or_default();
    if nr == SYS_futex {
        return match futex_wait(args, sp, t.frames, mem) {
            Some(l) => Wait::Lock(l),
            None => Wait::Syscall { call: call_text },
        };
    }
    if let Some(which) = fd_calls(nr) {
        return Wait::Fd(FdWait {
            call: name,
            fds: which.iter().map(|&i| args[i] as i32).collect(),
        });
    }
    match nr {
        SYS_poll | SYS_ppoll => Wait::Fd(FdWait {
            call: name,
            fds: poll_fds(args[0], args[1], mem),
        }),
        SYS_select | SYS_pselect6 => Wait::Fd(FdWait {
            call: name,
            fds: select_fds(args, mem),
        }),
        SYS_nanosleep | SYS_clock_nanosleep => Wait::Sleep { call: name },
        SYS_pause | SYS_rt_sigsuspend | SYS_rt_sigtimedwait => Wait::SignalWait { call: name },
        SYS_wait4 | SYS_waitid => Wait::Child {
            pid: if nr == SYS_wait4 {
                args[0] as i32 as i64
            } else {
                // waitid(idtype, id, ...): P_PID (1) names one child.
                if args[0] == 1 {
                    args[1] as i32 as i64
                } else {
                    -1
                }
            },
            call: name,
        },
        // A sleep or wait resumed after a stop continues here; the kernel's wchan still says
        // what it is.
        SYS_restart_syscall if wchan.contains("nanosleep") => Wait::Sleep { call: name },
        _ => Wait::Syscall { call: call_text },
    }
}

/// The kernel functions of a D-state thread's stack, without the system call entry frames.
fn kstack(t: &ThreadInput) -> Vec<String> {
    t.kstack
        .unwrap_or_default()
        .iter()
        .filter(|f| !f.starts_with("entry_SYSCALL") && !f.starts_with("do_syscall"))
        .cloned()
        .collect()
}

/// Most descriptors a poll or select is shown with.
pub const MAX_POLL_FDS: u64 = 256;

/// The descriptors of a poll array (struct pollfd: int fd, short events, short revents).
fn poll_fds(array: u64, nfds: u64, mem: &MemWords) -> Vec<i32> {
    (0..nfds.min(MAX_POLL_FDS))
        .filter_map(|i| mem.i32(array + i * 8))
        .filter(|fd| *fd >= 0)
        .collect()
}

/// The descriptors set in select's read, write and except sets.
fn select_fds(args: &[u64; 6], mem: &MemWords) -> Vec<i32> {
    let nfds = (args[0] as i32).clamp(0, 1024) as u64;
    let bytes = nfds.div_ceil(64) * 8;
    let mut out = Vec::new();
    for set in &args[1..4] {
        if *set == 0 {
            continue;
        }
        let Some(b) = mem.bytes(*set, bytes as usize) else {
            continue;
        };
        for fd in 0..nfds {
            if b[(fd / 8) as usize] & (1 << (fd % 8)) != 0 && !out.contains(&(fd as i32)) {
                out.push(fd as i32);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The memory `classify` will want for this thread, to read while the process is stopped:
/// (address, length) pairs.
// libc names system call numbers SYS_read...: matched as constants.
#[allow(non_upper_case_globals)]
pub fn reads(t: &ThreadInput) -> Vec<(u64, usize)> {
    use libc::*;
    let Some(SyscallState::InSyscall { nr, args, sp, .. }) = t.kernel.map(|k| &k.syscall) else {
        return Vec::new();
    };
    match *nr {
        SYS_futex => {
            let f = args[0];
            let _ = sp;
            let mut v = vec![(f, 32)];
            // An rwlock's __cur_writer sits 12 or 16 bytes past the futex; a mutex's fields
            // follow its word; the bytes before cover an rwlock waiter's base.
            if f >= 16 {
                v.push((f - 16, 16));
            }
            v
        }
        SYS_poll | SYS_ppoll => vec![(args[0], (args[1].min(MAX_POLL_FDS) * 8) as usize)],
        SYS_select | SYS_pselect6 => {
            let nfds = (args[0] as i32).clamp(0, 1024) as u64;
            let len = (nfds.div_ceil(64) * 8) as usize;
            args[1..4]
                .iter()
                .filter(|a| **a != 0)
                .map(|a| (*a, len))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// A thread that may be a refused PI locker, from its kernel view alone: a futex wait for a
/// zero on its own stack. Only such a thread needs its frames (and the candidates they lead
/// to) read while the process is stopped; every other wait is told from the words `reads`
/// names.
pub fn may_be_refused(t: &ThreadInput) -> bool {
    let Some(SyscallState::InSyscall { nr, args, sp, .. }) = t.kernel.map(|k| &k.syscall) else {
        return false;
    };
    *nr == libc::SYS_futex
        && matches!(
            locks::futex_cmd(args[1]),
            locks::FUTEX_WAIT | locks::FUTEX_WAIT_BITSET
        )
        && args[2] as u32 == 0
        && on_own_stack(args[0], *sp)
}

/// The most of a refused PI locker's stack searched for the mutex it was locking.
pub const REFUSED_STACK_SCAN: u64 = 4096;

/// Where a refused PI locker's mutex pointer may survive: from the stack pointer through the
/// frames of `__pthread_mutex_lock_full` and of its caller. Frame k's own slots lie between its
/// sp and the next frame's. Returns the whole region and where `__pthread_mutex_lock_full`'s
/// own frame starts in it.
pub fn refused_scan(t: &ThreadInput) -> Option<(u64, usize, u64)> {
    let Some(SyscallState::InSyscall { sp, .. }) = t.kernel.map(|k| &k.syscall) else {
        return None;
    };
    let i = t.frames.iter().position(|f| {
        f.location
            .function
            .as_deref()
            .is_some_and(|n| bare(n) == "pthread_mutex_lock_full")
    })?;
    let limit = sp + REFUSED_STACK_SCAN;
    let end = t
        .frames
        .get(i + 2)
        .map_or(limit, |f| f.sp)
        .clamp(*sp, limit);
    let own = t.frames[i].sp.clamp(*sp, end);
    Some((*sp, (end - sp) as usize, own))
}

/// The candidates for a refused PI locker's mutex, in two tiers searched in order:
///
/// 1. the values `__pthread_mutex_lock_full` itself held: the callee-saved registers at the
///    stop and the stack below its frame (where the functions it called saved them);
/// 2. the words of its own frame and its caller's (the pointer the caller passed, or kept).
///
/// Each value counts as a pointer to the mutex, and also to its `__kind` field (16 bytes in):
/// glibc 2.36 keeps `&mutex->__data.__kind` in a register across the park (r14 here), and no
/// longer needs the mutex itself.
pub fn refused_candidates(t: &ThreadInput, mem: &MemWords) -> [Vec<u64>; 2] {
    let Some(SyscallState::InSyscall { args, .. }) = t.kernel.map(|k| &k.syscall) else {
        return [Vec::new(), Vec::new()];
    };
    let mut tiers = [Vec::new(), Vec::new()];
    if let Some(r) = t.regs {
        for name in ["rbx", "rbp", "r12", "r13", "r14", "r15"] {
            tiers[0].extend(r.get(name));
        }
    }
    if let Some((start, len, own)) = refused_scan(t) {
        if let Some(stack) = mem.bytes(start, len) {
            for (k, w) in stack.chunks_exact(8).enumerate() {
                let tier = usize::from(start + 8 * k as u64 >= own);
                tiers[tier].push(u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
            }
        }
    }
    tiers.map(|values| {
        let mut out: Vec<u64> = values
            .into_iter()
            .flat_map(|v| [v, v.wrapping_sub(locks::MUTEX_KIND_OFFSET)])
            .filter(|&a| a >= 0x1000 && a % 4 == 0 && a < 0x0000_8000_0000_0000 && a != args[0])
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    })
}

/// Among candidates read into `mem`, those that are PI mutexes with a recorded holder, with
/// that holder. Which of them the thread was locking is decided against the wait-for graph
/// (`crate::analysis::resolve_refused`): the kernel says EDEADLK only when the holder's chain
/// leads back to the locker.
pub fn pi_candidates(candidates: &[u64], mem: &MemWords) -> Vec<(u64, Tid)> {
    candidates
        .iter()
        .filter_map(|&a| {
            let m = mem.bytes(a, 20).and_then(Mutex::decode)?;
            let holder = m.holder()?;
            (m.plausible() && m.pi() && holder == m.owner).then_some((a, holder))
        })
        .collect()
}

#[cfg(test)]
#[path = "waits_tests.rs"]
mod tests;
